/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tdp_iter.c - the TDP iterator (arch/x86/kvm/mmu/tdp_iter.c).
 */
#include "tdp_iter.h"

/* Recalculate the SPTE pointer for the current GFN and level; reread it. */
static void tdp_iter_refresh_sptep(struct tdp_iter *iter)
{
	iter->sptep = iter->pt_path[iter->level - 1] +
		SPTE_INDEX((iter->gfn | iter->gfn_bits) << PAGE_SHIFT, iter->level);
	iter->old_spte = kvm_tdp_mmu_read_spte(iter->sptep);
}

/* Return the TDP iterator to the root PT and allow it to continue its
 * traversal over the paging structure from there. */
void tdp_iter_restart(struct tdp_iter *iter)
{
	iter->yielded = false;
	iter->yielded_gfn = iter->next_last_level_gfn;
	iter->level = iter->root_level;

	iter->gfn = gfn_round_for_level(iter->next_last_level_gfn, iter->level);
	tdp_iter_refresh_sptep(iter);

	iter->valid = true;
}

/* Set up a TDP iterator to walk from @root towards the 4K mapping of
 * @next_last_level_gfn, stopping at @min_level. */
void tdp_iter_start(struct tdp_iter *iter, struct kvm_mmu_page *root,
		    int min_level, gfn_t next_last_level_gfn, gfn_t gfn_bits)
{
	if (TDPSIM_WARN_ON_ONCE(!root || root->role.level < 1 ||
				root->role.level > PT64_ROOT_MAX_LEVEL ||
				(gfn_bits && next_last_level_gfn >= gfn_bits))) {
		iter->valid = false;
		return;
	}

	iter->next_last_level_gfn = next_last_level_gfn;
	iter->gfn_bits = gfn_bits;
	iter->root_level = root->role.level;
	iter->min_level = min_level;
	iter->pt_path[iter->root_level - 1] = root->spt;
	iter->as_id = 0;

	tdp_iter_restart(iter);
}

/*
 * Step to the next SPTE one level down. Returns true if the iterator could
 * step down: not at min_level, and the current SPTE (re-read, so an SPTE
 * just unlinked is never followed) points to a lower-level page table.
 */
static bool try_step_down(struct tdp_iter *iter)
{
	tdp_ptep_t child_pt;

	if (iter->level == iter->min_level)
		return false;

	/* Reread the SPTE before stepping down to avoid traversing into
	 * page tables that are no longer linked from this entry. */
	iter->old_spte = kvm_tdp_mmu_read_spte(iter->sptep);

	child_pt = spte_to_child_pt(iter->old_spte, iter->level);
	if (!child_pt)
		return false;

	iter->level--;
	iter->pt_path[iter->level - 1] = child_pt;
	iter->gfn = gfn_round_for_level(iter->next_last_level_gfn, iter->level);
	tdp_iter_refresh_sptep(iter);

	return true;
}

/*
 * Step to the next SPTE in the same page table. Returns true if there was
 * one, i.e. the current SPTE is not the last of its table. Moves
 * next_last_level_gfn forward so a restart resumes here.
 */
static bool try_step_side(struct tdp_iter *iter)
{
	/* Check if the iterator is already at the end of the current page
	 * table. */
	if (SPTE_INDEX((iter->gfn | iter->gfn_bits) << PAGE_SHIFT, iter->level) ==
	    (SPTE_ENT_PER_PAGE - 1))
		return false;

	iter->gfn += KVM_PAGES_PER_HPAGE(iter->level);
	iter->next_last_level_gfn = iter->gfn;
	iter->sptep++;
	iter->old_spte = kvm_tdp_mmu_read_spte(iter->sptep);

	return true;
}

/*
 * Step to the SPTE that points to the current page table, one level up.
 * Returns true unless the iterator is at the root.
 */
static bool try_step_up(struct tdp_iter *iter)
{
	if (iter->level == iter->root_level)
		return false;

	iter->level++;
	iter->gfn = gfn_round_for_level(iter->gfn, iter->level);
	tdp_iter_refresh_sptep(iter);

	return true;
}

/*
 * Step to the next SPTE in a pre-order traversal of the paging structure.
 * To get to the next SPTE, the iterator either steps down towards the goal
 * GFN, if at a present, non-last-level SPTE, or over to a SPTE mapping a
 * higher GFN.
 *
 * The basic algorithm is as follows:
 * 1. If the current SPTE is a non-last-level SPTE, step down into the page
 *    table it points to.
 * 2. If the iterator cannot step down, it will try to step to the next SPTE
 *    in the table.
 * 3. If the iterator cannot step to the next SPTE in the current table, it
 *    will try to step up to the parent paging structure page. In this case,
 *    that SPTE will have already been visited, and so the iterator must
 *    also step to the side again.
 */
void tdp_iter_next(struct tdp_iter *iter)
{
	if (iter->yielded) {
		tdp_iter_restart(iter);
		return;
	}

	if (try_step_down(iter))
		return;

	do {
		if (try_step_side(iter))
			return;
	} while (try_step_up(iter));
	iter->valid = false;
}
