/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * check_locking.c - the transition invariants about how the model does
 * things rather than what it builds: lock, no-sleep, rcu, tlb, progress.
 * All of them run inside observer callbacks, on the thread that made the
 * transition, from the checker's own record of that thread:
 *
 * - mmu_lock as the thread took and released it (mmu_lock events);
 * - its RCU read-side nesting and a sequence number of its outermost
 *   sections, which other threads read to snapshot who is inside a
 *   section when a table is unlinked (rcu);
 * - the direct-root GFN ranges it made stale since its last TLB flush
 *   (tlb: checked when it releases mmu_lock).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "internal.h"
#include "kvm.h"

static const char *mode_name(enum tdpsim_lock_mode mode)
{
	switch (mode) {
	case TDPSIM_LOCK_READ:
		return "read";
	case TDPSIM_LOCK_WRITE:
		return "write";
	default:
		return "none";
	}
}

/*
 * What a lockless writer may do (fast page fault, aging, the CPU's A/D
 * updates): with a compare-and-swap inside an RCU read-side section, change
 * only the access, A/D and access-tracking bits of a present leaf.
 */
static bool lockless_ok(const struct ck_thread *t, const struct tdpsim_spte_change *ch)
{
	uint64_t old = ch->old_spte, new = ch->new_spte;

	return ch->atomic && atomic_load(&t->rcu_depth) > 0 &&
	       ck_leaf(old, ch->level) && ck_leaf(new, ch->level) &&
	       !((old ^ new) & ~CK_SPTE_LOCKLESS_BITS);
}

/* Must this change be flushed from the TLBs before mmu_lock is dropped? */
static bool needs_flush(uint64_t old, uint64_t new, int level)
{
	if (ck_nonleaf(old, level))
		/* A table (and every leaf under it) leaves the paging tree. */
		return !ck_nonleaf(new, level) || ck_child(new) != ck_child(old);
	if (!ck_leaf(old, level))
		return false;
	if (ck_nonleaf(new, level))
		return false;	/* a split: the same translations */
	if (!ck_leaf(new, level))
		return true;	/* zapped, or frozen on its way out */
	if (ck_pfn(old) != ck_pfn(new))
		return true;
	/* leaf_spte_change_needs_tlb_flush() */
	return (old & CK_SPTE_MMU_WRITABLE) && !(new & CK_SPTE_MMU_WRITABLE);
}

/* Did this thread freeze (table, index)? Forget it if so. */
static bool unfreeze(struct ck_thread *t, const void *table, unsigned int index)
{
	for (unsigned int i = 0; i < ARRAY_SIZE(t->frozen); i++) {
		if (t->frozen[i].table == table && t->frozen[i].index == index) {
			t->frozen[i].table = NULL;
			return true;
		}
	}
	return false;
}

/*
 * Is there a valid root of @role? Zaps of invalidated roots (teardown)
 * need no flush: no vCPU can use them any more (tdp_mmu_zap_leafs()).
 */
static bool valid_root(struct tdpsim_checker *c, enum tdpsim_root_role role)
{
	const void *root;
	int level;

	return !tdpsim_vm_root(c->vm, role, &level, &root);
}

void ck_lock_spte_changed(struct tdpsim_checker *c, struct ck_thread *t,
			  const struct tdpsim_spte_change *ch)
{
	struct ck_where w = ck_where_change(ch);

	if (ch->lock != t->held)
		ck_report(c, CK_LOCK, &w,
			  "SPTE write says mmu_lock is held for %s, the thread holds "
			  "it for %s", mode_name(ch->lock), mode_name(t->held));
	switch (t->held) {
	case TDPSIM_LOCK_NONE:
		if (!lockless_ok(t, ch))
			ck_report(c, CK_LOCK, &w, "SPTE written without mmu_lock");
		break;
	case TDPSIM_LOCK_READ:
		/* The owner of a FROZEN SPTE stores its final value. */
		if (!ch->atomic && !(ch->old_spte == CK_SPTE_FROZEN &&
				     unfreeze(t, ch->table, ch->index)))
			ck_report(c, CK_LOCK, &w,
				  "plain SPTE write with mmu_lock held for read");
		break;
	case TDPSIM_LOCK_WRITE:
		break;
	}
	if (ch->new_spte == CK_SPTE_FROZEN && ch->atomic) {
		t->frozen[t->nr_frozen].table = ch->table;
		t->frozen[t->nr_frozen].index = ch->index;
		t->nr_frozen = (t->nr_frozen + 1) % ARRAY_SIZE(t->frozen);
	}
	if (ch->role == TDPSIM_ROOT_DIRECT &&
	    needs_flush(ch->old_spte, ch->new_spte, ch->level) &&
	    valid_root(c, ch->role))
		ck_ranges_add(&t->tlb, ch->role, ch->gfn, ch->gfn + ck_pages(ch->level));
}

void ck_obs_mmu_lock(void *opaque, enum tdpsim_lock_mode mode, bool acquire)
{
	struct tdpsim_checker *c = opaque;
	struct ck_thread *t;

	if (ck_inside())
		return;
	ck_enter();
	t = ck_self(c);
	if (!t)
		goto out;
	if (acquire) {
		if (t->held != TDPSIM_LOCK_NONE)
			ck_report(c, CK_LOCK, NULL,
				  "mmu_lock taken for %s by a thread that holds it for %s",
				  mode_name(mode), mode_name(t->held));
		t->held = mode;
		if (mode == TDPSIM_LOCK_WRITE) {
			pthread_mutex_lock(&t->lock);
			t->write_locked = true;
			pthread_mutex_unlock(&t->lock);
		}
		goto out;
	}
	if (t->held != mode)
		ck_report(c, CK_LOCK, NULL,
			  "mmu_lock released for %s by a thread that holds it for %s",
			  mode_name(mode), mode_name(t->held));
	if (t->tlb.nr) {
		struct ck_range *r = &t->tlb.r[0];
		struct ck_where w = {
			.gfn = r->start,
			.level = TDPSIM_LEVEL_4K,
			.role = r->role,
			.has_root = true,
		};

		ck_report(c, CK_TLB, &w,
			  "mmu_lock (%s) released with no TLB flush after leaves were "
			  "removed or made less permissive in [0x%" PRIx64 ", 0x%" PRIx64
			  ")%s", mode_name(mode), r->start, r->end,
			  t->tlb.nr > 1 ? " and more ranges" : "");
	}
	ck_ranges_reset(&t->tlb);
	t->held = TDPSIM_LOCK_NONE;
out:
	ck_leave();
}

void ck_obs_tlb_flush(void *opaque, tdpsim_gfn_t gfn, uint64_t npages)
{
	struct tdpsim_checker *c = opaque;
	struct ck_thread *t;

	if (ck_inside())
		return;
	ck_enter();
	t = ck_self(c);
	if (t) {
		if (!npages || gfn + npages < gfn)
			ck_ranges_reset(&t->tlb);
		else
			ck_ranges_subtract(&t->tlb, gfn, gfn + npages);
	}
	ck_leave();
}

/* ---- RCU ---- */

/* Who was inside a read-side section when a table was unlinked. */
struct rcu_reader {
	struct ck_thread *t;
	uint64_t seq;
};

struct rcu_record {
	size_t nr;
	struct rcu_reader r[];
};

void ck_obs_rcu_read(void *opaque, bool enter)
{
	struct tdpsim_checker *c = opaque;
	struct ck_thread *t;

	if (ck_inside())
		return;
	ck_enter();
	t = ck_self(c);
	if (!t)
		goto out;
	if (enter) {
		/* seq first: a snapshot that sees depth > 0 sees this seq. */
		if (atomic_load(&t->rcu_depth) == 0)
			atomic_fetch_add(&t->rcu_seq, 1);
		atomic_fetch_add(&t->rcu_depth, 1);
	} else if (atomic_load(&t->rcu_depth) == 0) {
		ck_report(c, CK_RCU, NULL,
			  "thread #%u left an RCU read-side section it was not in",
			  t->nr);
	} else {
		atomic_fetch_sub(&t->rcu_depth, 1);
	}
out:
	ck_leave();
}

void ck_obs_pt_unlinked(void *opaque, const void *table, int level)
{
	struct tdpsim_checker *c = opaque;
	struct rcu_record *rec;
	struct ck_map_ent *ent;
	size_t n = 0;
	int ret;

	(void)level;
	if (ck_inside())
		return;
	ck_enter();
	ck_self(c);		/* register the unlinking thread */
	pthread_mutex_lock(&c->threads_lock);
	rec = malloc(sizeof(*rec) + c->nr_threads * sizeof(rec->r[0]));
	if (rec) {
		for (unsigned int i = 0; i < c->nr_threads; i++) {
			struct ck_thread *t = c->threads[i];
			uint64_t seq = atomic_load(&t->rcu_seq);

			if (atomic_load(&t->rcu_depth) > 0)
				rec->r[n++] = (struct rcu_reader){ t, seq };
		}
		rec->nr = n;
	}
	pthread_mutex_unlock(&c->threads_lock);
	if (!rec) {
		atomic_store(&c->lost, true);
		goto out;
	}
	pthread_mutex_lock(&c->pt_lock);
	ret = ck_map_insert(&c->unlinked, (uintptr_t)table, 0, &ent);
	if (ret == 0) {
		ent->p = rec;
		rec = NULL;
	}
	pthread_mutex_unlock(&c->pt_lock);
	if (ret == 1)
		ck_report(c, CK_PT_LINKAGE, NULL,
			  "page table %p unlinked twice without being freed", table);
	else if (ret < 0)
		atomic_store(&c->lost, true);
	free(rec);
out:
	ck_leave();
}

void ck_obs_pt_freed(void *opaque, const void *table)
{
	struct tdpsim_checker *c = opaque;
	struct rcu_record *rec = NULL;
	struct ck_map_ent *ent;
	bool was_unlinked = false;

	if (ck_inside())
		return;
	ck_enter();
	pthread_mutex_lock(&c->pt_lock);
	ent = ck_map_find(&c->unlinked, (uintptr_t)table, 0);
	if (ent) {
		rec = ent->p;
		was_unlinked = true;
		ck_map_remove(&c->unlinked, (uintptr_t)table, 0);
	}
	if (ck_map_insert(&c->freed, (uintptr_t)table, 0, &ent) < 0)
		atomic_store(&c->lost, true);
	if (!was_unlinked && ck_map_remove(&c->roots, (uintptr_t)table, 0))
		was_unlinked = true;	/* a root: it leaves the root list */
	pthread_mutex_unlock(&c->pt_lock);

	if (!was_unlinked)
		ck_report(c, CK_RCU, NULL,
			  "page table %p freed without having been unlinked", table);
	for (size_t i = 0; rec && i < rec->nr; i++) {
		struct ck_thread *t = rec->r[i].t;

		if (atomic_load(&t->rcu_depth) > 0 &&
		    atomic_load(&t->rcu_seq) == rec->r[i].seq)
			ck_report(c, CK_RCU, NULL,
				  "page table %p freed while thread #%u is still in the "
				  "RCU read-side section it was in when the table was "
				  "unlinked", table, t->nr);
	}
	free(rec);
	ck_leave();
}

void ck_rcu_reachable(struct tdpsim_checker *c, struct ck_walk *w,
		      const struct tdpsim_spte_info *e)
{
	const void *child = ck_child(e->spte);
	bool unlinked, freed;
	struct ck_where where = ck_where_entry(w, e);

	pthread_mutex_lock(&c->pt_lock);
	unlinked = ck_map_find(&c->unlinked, (uintptr_t)child, 0);
	freed = ck_map_find(&c->freed, (uintptr_t)child, 0);
	pthread_mutex_unlock(&c->pt_lock);
	if (unlinked)
		ck_report(c, CK_PT_LINKAGE, &where,
			  "table %p is reachable but was unlinked", child);
	if (freed)
		ck_report(c, CK_PT_LINKAGE, &where,
			  "table %p is reachable but was freed", child);
}

void ck_rcu_leak(struct tdpsim_checker *c)
{
	size_t n;

	pthread_mutex_lock(&c->pt_lock);
	n = c->unlinked.nr;
	pthread_mutex_unlock(&c->pt_lock);
	if (n)
		ck_report(c, CK_LEAK, NULL,
			  "%zu page tables were unlinked and never freed", n);
}

void ck_note_root(struct tdpsim_checker *c, const void *table)
{
	struct ck_map_ent *ent;

	pthread_mutex_lock(&c->pt_lock);
	if (ck_map_insert(&c->roots, (uintptr_t)table, 0, &ent) < 0)
		atomic_store(&c->lost, true);
	pthread_mutex_unlock(&c->pt_lock);
}

void ck_rcu_free(struct tdpsim_checker *c)
{
	struct ck_map_ent *ent;

	ck_map_for_each(&c->unlinked, ent)
		free(ent->p);
	ck_map_free(&c->unlinked);
	ck_map_free(&c->roots);
}

/* ---- allocations, lpage_info accesses, stuck faults ---- */

void ck_obs_alloc(void *opaque, const struct tdpsim_alloc_event *a)
{
	struct tdpsim_checker *c = opaque;
	enum tdpsim_lock_mode held;
	struct ck_thread *t;

	if (ck_inside())
		return;
	ck_enter();
	t = ck_self(c);
	held = t ? t->held : TDPSIM_LOCK_NONE;
	if (!a->from_cache && (held != TDPSIM_LOCK_NONE || a->lock != TDPSIM_LOCK_NONE))
		ck_report(c, CK_NO_SLEEP, NULL,
			  "system allocation of a '%s' object (%zu bytes) with mmu_lock "
			  "held for %s%s", tdpsim_alloc_kind_name(a->kind), a->size,
			  mode_name(held != TDPSIM_LOCK_NONE ? held : a->lock),
			  a->may_sleep ? "" : " on a path that may not sleep");
	ck_leave();
}

static bool slot_published(struct tdpsim_checker *c, uint32_t slot_id)
{
	struct tdpsim_memslot_info info;

	for (unsigned int i = 0; !tdpsim_vm_memslot_at(c->vm, i, &info); i++) {
		if (info.id == slot_id)
			return true;
	}
	return false;
}

void ck_obs_lpage_access(void *opaque, uint32_t slot_id, int level, uint64_t idx,
			 bool write, enum tdpsim_lock_mode lock)
{
	struct tdpsim_checker *c = opaque;
	struct ck_thread *t;

	if (ck_inside())
		return;
	ck_enter();
	t = ck_self(c);
	if (!t)
		goto out;
	if (lock != t->held)
		ck_report(c, CK_LOCK, NULL,
			  "lpage_info access says mmu_lock is held for %s, the thread "
			  "holds it for %s", mode_name(lock), mode_name(t->held));
	/*
	 * lpage_info is read under mmu_lock and written under it for write
	 * (kvm_arch_post_set_memory_attributes()), except that policy
	 * lpage.inhibit-lock=read lets TDX's accept handler set guest-inhibit
	 * under the read lock (the unsafe side: `lpage` catches the race). A
	 * slot being built is not published yet and nobody else can see it
	 * (kvm_alloc_memslot_metadata(), ..._init_memslot_memory_attributes()).
	 */
	if (t->held == TDPSIM_LOCK_WRITE ||
	    (t->held == TDPSIM_LOCK_READ &&
	     (!write || c->vm->kvm.policy.inhibit_lock_read)) ||
	    !slot_published(c, slot_id))
		;
	else if (!write)
		ck_report(c, CK_LOCK, NULL,
			  "lpage_info of slot %u (level %s, entry %" PRIu64 ") read "
			  "without mmu_lock", slot_id, tdpsim_level_name(level), idx);
	else
		ck_report(c, CK_LOCK, NULL,
			  "lpage_info of slot %u (level %s, entry %" PRIu64 ") written "
			  "with mmu_lock held for %s, not write", slot_id,
			  tdpsim_level_name(level), idx, mode_name(t->held));
	if (write) {
		pthread_mutex_lock(&t->lock);
		ck_lpents_add(&t->lpage, slot_id, level, idx);
		pthread_mutex_unlock(&t->lock);
	}
out:
	ck_leave();
}

void ck_obs_fault_stuck(void *opaque, tdpsim_gfn_t gfn, unsigned int retries)
{
	struct tdpsim_checker *c = opaque;
	struct ck_where w = { .gfn = gfn, .level = TDPSIM_LEVEL_4K, .transition = true };

	if (ck_inside())
		return;
	ck_enter();
	ck_report(c, CK_PROGRESS, &w,
		  "fault retried %u times without any SPTE changing", retries);
	ck_leave();
}
