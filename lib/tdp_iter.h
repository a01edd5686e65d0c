/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tdp_iter.h - the TDP iterator (arch/x86/kvm/mmu/tdp_iter.h): a pre-order
 * walk of one root's SPTEs over [start, end), with the kernel's fields and
 * names so the two read side by side.
 */
#ifndef TDPSIM_TDP_ITER_H
#define TDPSIM_TDP_ITER_H

#include "kvm.h"

/*
 * SPTEs are read and written only inside RCU read-side sections: a page
 * table unlinked by another thread stays readable until the grace period
 * ends (tdp_mmu_free_sp_rcu_callback()).
 */
static inline u64 kvm_tdp_mmu_read_spte(tdp_ptep_t sptep)
{
	return spte_read(sptep);
}

/*
 * kvm_tdp_mmu_write_spte() - store @new_spte under the write lock. A present
 * leaf whose bits may change without mmu_lock (A/D, fast-PF W) is exchanged
 * so nothing is lost; returns the value actually replaced.
 */
static inline u64 kvm_tdp_mmu_write_spte(tdp_ptep_t sptep, u64 old_spte,
					 u64 new_spte, int level)
{
	if (is_shadow_present_pte(old_spte) && is_last_spte(old_spte, level) &&
	    spte_needs_atomic_update(old_spte))
		return spte_xchg(sptep, new_spte);
	spte_write(sptep, new_spte);
	return old_spte;
}

/* kvm_tdp_mmu_clear_spte_bits(): clear @mask, atomically if it must be. */
static inline u64 kvm_tdp_mmu_clear_spte_bits(tdp_ptep_t sptep, u64 old_spte,
					      u64 mask, int level)
{
	if (is_shadow_present_pte(old_spte) && is_last_spte(old_spte, level) &&
	    spte_needs_atomic_update(old_spte))
		return spte_fetch_and(sptep, ~mask);
	spte_write(sptep, old_spte & ~mask);
	return old_spte;
}

/* A TDP iterator performs a pre-order walk over a TDP paging structure. */
struct tdp_iter {
	/* The iterator will traverse the paging structure towards the
	 * mapping for this GFN. */
	gfn_t next_last_level_gfn;
	/* The next_last_level_gfn at the time when the thread last yielded.
	 * Only yielding when the next GFN is different from this one makes
	 * sure the walk progresses. */
	gfn_t yielded_gfn;
	/* Pointers to the page tables traversed to reach the current SPTE;
	 * index level - 1. */
	tdp_ptep_t pt_path[PT64_ROOT_MAX_LEVEL];
	/* A pointer to the current SPTE. */
	tdp_ptep_t sptep;
	/* The lowest GFN (gfn_bits excluded) the current SPTE maps. */
	gfn_t gfn;
	/* Bits OR-ed into the GFN when computing table indexes (the TDX
	 * shared bit for direct roots of TDX VMs; 0 otherwise). */
	gfn_t gfn_bits;
	/* The level of the root page given to the iterator. */
	int root_level;
	/* The lowest level the iterator should traverse to. */
	int min_level;
	/* The iterator's current level within the paging structure. */
	int level;
	/* The address space ID, i.e. SMM vs. regular. */
	int as_id;
	/* A snapshot of the value at sptep. */
	u64 old_spte;
	/* Whether the iterator has a valid state. False once it walked past
	 * the end of the paging structure. */
	bool valid;
	/* True if KVM dropped mmu_lock and yielded in the middle of a walk;
	 * the next tdp_iter_next() restarts from the root. */
	bool yielded;
};

void tdp_iter_start(struct tdp_iter *iter, struct kvm_mmu_page *root,
		    int min_level, gfn_t next_last_level_gfn, gfn_t gfn_bits);
void tdp_iter_next(struct tdp_iter *iter);
void tdp_iter_restart(struct tdp_iter *iter);

/* kvm_gfn_root_bits(): bits OR-ed into the GFN to index @root's tables:
 * the TDX shared bit for the direct root of a TDX VM, 0 for mirror roots
 * and for every non-TDX VM. */
static inline gfn_t kvm_gfn_root_bits(const struct kvm *kvm,
				      const struct kvm_mmu_page *root)
{
	return is_mirror_sp(root) ? 0 : kvm_gfn_direct_bits(kvm);
}

/*
 * Iterate over all SPTEs of @root's paging structure, down to @min_level,
 * that cover GFNs in [@start, @end). SPTEs above @min_level may start below
 * @start (iter.gfn is rounded down): callers check ranges themselves.
 */
#define for_each_tdp_pte_min_level(iter, kvm, root, min_level, start, end)	\
	for (tdp_iter_start(&iter, root, min_level, start,			\
			    kvm_gfn_root_bits(kvm, root));			\
	     iter.valid && iter.gfn < (end);					\
	     tdp_iter_next(&iter))

#define for_each_tdp_pte(iter, kvm, root, start, end)				\
	for_each_tdp_pte_min_level(iter, kvm, root, PG_LEVEL_4K, start, end)

#endif /* TDPSIM_TDP_ITER_H */
