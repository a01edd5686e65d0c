/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * check_spte.c - the page-table invariants: spte-format, pt-linkage and
 * pfn-stable, and the quiescent walk of a root that drives the per-leaf
 * checks of the other files.
 *
 * The walk goes through tdpsim_vm_walk_sptes(), which reports each entry
 * with the identity of its table, its index, and for a link the child
 * table and what that table records about itself. The checker decodes the
 * raw SPTE itself and holds every reported fact against the structure it
 * rebuilds from the root down: which table it reached through which entry,
 * at what level and GFN.
 */
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdlib.h>

#include "check.h"

void ck_spte_format(struct tdpsim_checker *c, const struct ck_where *w,
		    uint64_t spte, int level, tdpsim_gfn_t gfn, bool quiescent)
{
	bool leaf;

	if (level < TDPSIM_LEVEL_4K || level > c->root_level) {
		ck_report(c, CK_SPTE_FORMAT, w, "entry at level %d, outside 1..%d",
			  level, c->root_level);
		return;
	}
	if (gfn & (ck_pages(level) - 1))
		ck_report(c, CK_SPTE_FORMAT, w, "GFN not aligned to the entry's level");
	if (!ck_present(spte)) {
		if (spte == CK_SPTE_EMPTY)
			return;
		if (spte == CK_SPTE_FROZEN) {
			if (quiescent)
				ck_report(c, CK_SPTE_FORMAT, w,
					  "FROZEN entry at a quiescent point");
			return;
		}
		if (ck_mmio(spte)) {
			if (level != TDPSIM_LEVEL_4K)
				ck_report(c, CK_SPTE_FORMAT, w, "MMIO SPTE above 4K");
			return;
		}
		ck_report(c, CK_SPTE_FORMAT, w,
			  "non-present entry is not the empty value, MMIO or FROZEN");
		return;
	}
	if (!(spte & CK_SPTE_SUPPRESS_VE))
		ck_report(c, CK_SPTE_FORMAT, w,
			  "present entry without suppress-#VE (bit 63)");
	if ((spte & CK_SPTE_AD_MASK) == CK_SPTE_AD_MASK)
		ck_report(c, CK_SPTE_FORMAT, w, "A/D mode field holds 3, not a mode");

	leaf = ck_leaf(spte, level);
	if (!leaf) {
		/* make_nonleaf_spte(): links always carry full permissions. */
		if ((spte & CK_SPTE_RWX) != CK_SPTE_RWX)
			ck_report(c, CK_SPTE_FORMAT, w,
				  "non-leaf entry without full RWX permissions");
		if (!ck_child(spte))
			ck_report(c, CK_SPTE_FORMAT, w, "non-leaf entry links address 0");
		return;
	}
	if (level == TDPSIM_LEVEL_4K && (spte & CK_SPTE_HUGE))
		ck_report(c, CK_SPTE_FORMAT, w, "4K leaf with the huge bit (7) set");
	if (level > CK_MAX_HUGE_LEVEL)
		ck_report(c, CK_SPTE_FORMAT, w, "leaf above the largest huge level 1G");
	else if (level > TDPSIM_LEVEL_4K && (ck_pfn(spte) & (ck_pages(level) - 1)))
		ck_report(c, CK_SPTE_FORMAT, w,
			  "huge leaf's PFN 0x%" PRIx64 " not aligned to its level",
			  ck_pfn(spte));
	/* (host-writable, MMU-writable, W): 111, 110, 100 or 000. */
	if (((spte & CK_SPTE_MMU_WRITABLE) && !(spte & CK_SPTE_HOST_WRITABLE)) ||
	    ((spte & CK_SPTE_W) && !(spte & CK_SPTE_MMU_WRITABLE)))
		ck_report(c, CK_SPTE_FORMAT, w,
			  "illegal writable bits: host-writable %d, MMU-writable %d, W %d",
			  !!(spte & CK_SPTE_HOST_WRITABLE),
			  !!(spte & CK_SPTE_MMU_WRITABLE), !!(spte & CK_SPTE_W));
}

void ck_spte_transition(struct tdpsim_checker *c, const struct tdpsim_spte_change *ch)
{
	uint64_t old = ch->old_spte, new = ch->new_spte;
	int level = ch->level;
	struct ck_where w = ck_where_change(ch);

	if (old == new)
		return;
	if (level == c->root_level)
		ck_note_root(c, ch->table);
	/* handle_changed_spte()'s BUG(): a PFN change needs zap, flush, refault. */
	if (ck_leaf(old, level) && ck_leaf(new, level) && ck_pfn(old) != ck_pfn(new))
		ck_report(c, CK_PFN_STABLE, &w,
			  "present leaf replaced by a present leaf with another PFN "
			  "(0x%" PRIx64 " -> 0x%" PRIx64 ")", ck_pfn(old), ck_pfn(new));
	ck_spte_format(c, &w, new, level, ch->gfn, false);

	if (ck_nonleaf(old, level) && ck_nonleaf(new, level) &&
	    ck_child(old) != ck_child(new))
		ck_report(c, CK_PT_LINKAGE, &w,
			  "a link's child table changed in place (%p -> %p)",
			  ck_child(old), ck_child(new));

	if (ck_nonleaf(new, level) && !ck_nonleaf(old, level)) {
		const void *child = ck_child(new);
		bool unlinked;

		atomic_fetch_add(&c->nonleaf, 1);
		pthread_mutex_lock(&c->pt_lock);
		/* A freed table's address may come back for a new table. */
		ck_map_remove(&c->freed, (uintptr_t)child, 0);
		unlinked = ck_map_find(&c->unlinked, (uintptr_t)child, 0);
		pthread_mutex_unlock(&c->pt_lock);
		if (unlinked)
			ck_report(c, CK_PT_LINKAGE, &w,
				  "links table %p, which was unlinked and waits "
				  "to be freed", child);
	} else if (ck_nonleaf(old, level) && !ck_nonleaf(new, level)) {
		atomic_fetch_sub(&c->nonleaf, 1);
	}
}

/* ---- the walk ---- */


/*
 * A table the walk reached through @e: it must be the table the SPTE
 * encodes, one level down, recording the parent's GFN; it must have no
 * other parent; it must not be one the observer saw unlinked or freed.
 */
static void link_check(struct ck_walk *w, const struct tdpsim_spte_info *e,
		       const struct ck_where *where)
{
	struct tdpsim_checker *c = w->c;
	const void *child = ck_child(e->spte);
	uint64_t parent_key = (uint64_t)e->index << 8 | (uint64_t)e->level;
	struct ck_map_ent *ent;
	int ret;

	if (e->child != child)
		ck_report(c, CK_PT_LINKAGE, where,
			  "SPTE links table %p but the model walks into %p",
			  child, e->child);
	if (!child)
		return;
	if (e->child_level != e->level - 1 || e->child_gfn != e->gfn)
		ck_report(c, CK_PT_LINKAGE, where,
			  "child table %p records level %s gfn 0x%" PRIx64
			  ", its parent entry says level %s gfn 0x%" PRIx64,
			  child, tdpsim_level_name(e->child_level), e->child_gfn,
			  tdpsim_level_name(e->level - 1), e->gfn);
	ret = ck_map_insert(&w->tables, (uintptr_t)child, 0, &ent);
	if (ret < 0) {
		w->err = ret;
		return;
	}
	if (ret == 1) {
		/* Reached before: fine if through this very entry (another
		 * range of a ranged walk), a second parent otherwise. */
		if (ent->p != e->table || ent->v1 != parent_key)
			ck_report(c, CK_PT_LINKAGE, where,
				  "table %p has a second parent (table %p entry %u; "
				  "first seen from table %p entry %u)",
				  child, e->table, e->index, ent->p,
				  (unsigned int)(ent->v1 >> 8));
		return;
	}
	ent->p = (void *)(uintptr_t)e->table;
	ent->v1 = parent_key;
	ent->v2 = e->gfn;
	w->nr_tables++;
	ck_rcu_reachable(c, w, e);
}

static int walk_entry(void *opaque, const struct tdpsim_spte_info *e)
{
	struct ck_walk *w = opaque;
	struct tdpsim_checker *c = w->c;
	struct ck_where where;
	struct ck_map_ent *t;
	int tlevel;
	tdpsim_gfn_t tgfn, igfn;

	where = ck_where_entry(w, e);
	if (e->role != w->role)
		ck_report(c, CK_PT_LINKAGE, &where,
			  "the walk of the %s root reported an entry of the %s root",
			  ck_role_name(w->role), ck_role_name(e->role));
	t = ck_map_find(&w->tables, (uintptr_t)e->table, 0);
	if (!t) {
		ck_report(c, CK_PT_LINKAGE, &where,
			  "entry %u of table %p, which no link from the root reaches",
			  e->index, e->table);
		return 0;
	}
	/* The root is recorded with its own level; children with parent's - 1. */
	if (e->table == w->root) {
		tlevel = (int)t->v1;
		tgfn = 0;
	} else {
		tlevel = (int)(t->v1 & 0xff) - 1;
		tgfn = t->v2;
	}
	/* The direct root of a TDX VM is indexed with gfn | the shared bit
	 * (kvm_gfn_root_bits()); the GFNs reported are plain. */
	igfn = tgfn + (uint64_t)e->index * ck_pages(tlevel);
	if (e->table == w->root && w->role == TDPSIM_ROOT_DIRECT && c->direct_bits) {
		if (!(igfn & c->direct_bits))
			igfn = ~(tdpsim_gfn_t)0;	/* a private index */
		igfn &= ~c->direct_bits;
	}
	if (e->level != tlevel || e->index >= 512 || e->gfn != igfn) {
		ck_report(c, CK_PT_LINKAGE, &where,
			  "entry %u of table %p (level %s, gfn 0x%" PRIx64
			  ") reported at another level or GFN",
			  e->index, e->table, tdpsim_level_name(tlevel), tgfn);
		return 0;
	}
	ck_spte_format(c, &where, e->spte, e->level, e->gfn, true);
	if (ck_nonleaf(e->spte, e->level)) {
		link_check(w, e, &where);
	} else if (ck_leaf(e->spte, e->level)) {
		ck_attr_leaf(w, e);
		ck_lpage_leaf(w, e);
		ck_dirty_leaf(w, e);
		ck_tdx_leaf(w, e);
		ck_gmem_leaf(w, e);
	} else if (e->child) {
		ck_report(c, CK_PT_LINKAGE, &where,
			  "non-present entry, but the model walks into table %p",
			  e->child);
	}
	return w->err ? w->err : 0;
}

int ck_walk_root(struct tdpsim_checker *c, enum tdpsim_root_role role,
		 const struct ck_slots *slots, const struct ck_ranges *ranges,
		 uint64_t *ret_tables)
{
	struct ck_walk w = { .c = c, .role = role, .slots = slots, .full = !ranges };
	struct ck_map_ent *ent;
	int level, ret;

	ck_enter();
	ret = tdpsim_vm_root(c->vm, role, &level, &w.root);
	if (ret)
		goto out;
	if (!w.root) {
		ret = -ENOENT;
		goto out;
	}
	ret = ck_map_insert(&w.tables, (uintptr_t)w.root, 0, &ent);
	if (ret < 0)
		goto out;
	ent->v1 = (uint64_t)level;
	w.nr_tables = 1;
	ck_note_root(c, w.root);
	if (level != c->root_level) {
		struct ck_where where = { .role = role, .has_root = true };

		ck_report(c, CK_PT_LINKAGE, &where, "root level %d, the VM was made with %d",
			  level, c->root_level);
	}
	pthread_mutex_lock(&c->pt_lock);
	if (ck_map_find(&c->freed, (uintptr_t)w.root, 0) ||
	    ck_map_find(&c->unlinked, (uintptr_t)w.root, 0)) {
		struct ck_where where = { .role = role, .has_root = true };

		pthread_mutex_unlock(&c->pt_lock);
		ck_report(c, CK_PT_LINKAGE, &where,
			  "the root table %p was unlinked or freed", w.root);
	} else {
		pthread_mutex_unlock(&c->pt_lock);
	}

	if (!ranges) {
		ret = tdpsim_vm_walk_sptes(c->vm, role, 0, c->gfn_limit, walk_entry, &w);
	} else {
		ret = 0;
		for (size_t i = 0; i < ranges->nr && !ret; i++) {
			if (ranges->r[i].role != role)
				continue;
			w.cur.valid = false;
			ret = tdpsim_vm_walk_sptes(c->vm, role, ranges->r[i].start,
						   ranges->r[i].end, walk_entry, &w);
		}
	}
	if (ret > 0)
		ret = 0;
	if (!ret && w.err)
		ret = w.err;
	if (!ret && ret_tables)
		*ret_tables = w.nr_tables;
out:
	ck_map_free(&w.tables);
	ck_leave();
	return ret;
}

/* ---- page-table counts ---- */

/* How many times to look again at counters an RCU callback may be
 * updating right now. */
#define CK_SETTLE_TRIES	1000

void ck_pt_counts(struct tdpsim_checker *c, uint64_t reachable, bool walked)
{
	struct tdpsim_counters *ctr = tdpsim_vm_counters(c->vm);
	uint64_t roots = 0, derived, live, pending, alloc;
	const void *root;
	int level;

	ck_enter();
	for (int role = TDPSIM_ROOT_DIRECT; role <= TDPSIM_ROOT_MIRROR; role++) {
		if (!tdpsim_vm_root(c->vm, (enum tdpsim_root_role)role, &level, &root) &&
		    root)
			roots++;
	}
	derived = roots + (uint64_t)atomic_load(&c->nonleaf);
	if (walked && reachable != derived) {
		ck_report(c, CK_PT_LINKAGE, NULL,
			  "%" PRIu64 " page tables are reachable, but the SPTE changes "
			  "the observer saw link %" PRIu64 " (a write bypassed the "
			  "observer)", reachable, derived);
	}
	if (!walked)
		reachable = derived;
	/*
	 * RCU callbacks free tables on their own thread even at quiescent
	 * points, one counter at a time: give a mismatch a moment to settle
	 * before calling it one.
	 */
	for (int tries = 0;; tries++) {
		live = ctr ? tdpsim_counters_get(ctr, TDPSIM_STAT_PT_LIVE) : 0;
		pending = tdpsim_vm_rcu_pending(c->vm);
		alloc = tdpsim_vm_alloc_live(c->vm, TDPSIM_ALLOC_KIND_PT);
		if ((live == reachable + pending && alloc == live) ||
		    tries == CK_SETTLE_TRIES)
			break;
		sched_yield();
	}
	if (live != reachable + pending)
		ck_report(c, CK_PT_LINKAGE, NULL,
			  "pt.live is %" PRIu64 ", but %" PRIu64 " page tables are "
			  "reachable and %" PRIu64 " wait for RCU",
			  live, reachable, pending);
	if (alloc != live)
		ck_report(c, CK_PT_LINKAGE, NULL,
			  "%" PRIu64 " page-table pages are allocated, pt.live is %" PRIu64,
			  alloc, live);
	ck_leave();
}
