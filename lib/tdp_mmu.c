/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tdp_mmu.c - the TDP MMU (arch/x86/kvm/mmu/tdp_mmu.c).
 *
 * Locking as in the kernel: the fault path, eager split (shared), wrprot
 * and huge-page recovery run under the read lock and change SPTEs only by
 * compare-and-swap (tdp_mmu_set_spte_atomic()); zaps, manual-protect splits
 * and dirty-log clears run under the write lock (tdp_mmu_set_spte()). Every
 * walk runs inside an RCU read-side section; unlinked page tables are freed
 * by call_rcu().
 */
#include <errno.h>
#include <sched.h>

#include "memslot.h"
#include "mmu_cache.h"
#include "observe.h"
#include "tdp_iter.h"
#include "tdp_mmu.h"

/* mmu_lock for read if @shared, else for write. */
static void tdp_mmu_lock(struct kvm *kvm, bool shared)
{
	if (shared)
		mmu_read_lock(kvm);
	else
		mmu_write_lock(kvm);
}

static void tdp_mmu_unlock(struct kvm *kvm, bool shared)
{
	if (shared)
		mmu_read_unlock(kvm);
	else
		mmu_write_unlock(kvm);
}

/* ---- the observer's SPTE point ---- */

static __attribute__((noinline)) void
__tdp_mmu_observe_spte(struct kvm *kvm, tdp_ptep_t sptep, gfn_t gfn, int level,
		       u64 old_spte, u64 new_spte, bool atomic)
{
	struct kvm_mmu_page *sp = sptep_to_sp(kvm, sptep);
	uintptr_t table = (uintptr_t)sptep & ~(uintptr_t)(PAGE_SIZE - 1);
	struct tdpsim_spte_change c = {
		.role = sp && is_mirror_sp(sp) ? TDPSIM_ROOT_MIRROR : TDPSIM_ROOT_DIRECT,
		.gfn = gfn,
		.level = level,
		.old_spte = old_spte,
		.new_spte = new_spte,
		.table = (const void *)table,
		.index = spte_index(sptep),
		.atomic = atomic,
		.lock = kvm_lock_mode(kvm),
	};

	kvm->obs.spte_changed(kvm->obs_opaque, &c);
}

/* Tell the observer an SPTE changed; one branch when nobody listens. */
static inline void tdp_mmu_observe_spte(struct kvm *kvm, tdp_ptep_t sptep,
					gfn_t gfn, int level, u64 old_spte,
					u64 new_spte, bool atomic)
{
	if (unlikely(kvm->obs.spte_changed))
		__tdp_mmu_observe_spte(kvm, sptep, gfn, level, old_spte,
				       new_spte, atomic);
}

/* ---- page-table pages ---- */

static void tdp_mmu_account_alloc(struct kvm *kvm)
{
	counter_inc(&kvm->stats, TDPSIM_STAT_PT_ALLOC);
	counter_inc(&kvm->stats, TDPSIM_STAT_PT_LIVE);
}

/* tdp_mmu_free_sp(): free a table nobody can reach any more. */
void tdp_mmu_free_sp(struct kvm *kvm, struct kvm_mmu_page *sp)
{
	set_page_private(kvm, sp->spt, NULL);
	free_page(&kvm->alloc, TDPSIM_ALLOC_KIND_PT, (void *)sp->spt);
	free_obj(&kvm->alloc, TDPSIM_ALLOC_KIND_SP, sp, sizeof(*sp));
	counter_inc(&kvm->stats, TDPSIM_STAT_PT_FREE);
	counter_sub(&kvm->stats, TDPSIM_STAT_PT_LIVE, 1);
}

/* tdp_mmu_free_sp_rcu_callback(): the end of a grace period. */
static void tdp_mmu_free_sp_rcu_callback(struct rcu_head *head)
{
	struct kvm_mmu_page *sp = container_of(head, struct kvm_mmu_page, rcu_head);
	struct kvm *kvm = sp->kvm;

	tdp_rcu_callback_begin(head);
	observe_pt_freed(kvm, sp->spt);
	counter_inc(&kvm->stats, TDPSIM_STAT_RCU_FREE);
	atomic_fetch_sub(&kvm->arch.rcu_pending, 1);
	tdp_mmu_free_sp(kvm, sp);
	tdp_rcu_callback_end();
}

static void tdp_mmu_free_sp_rcu(struct kvm *kvm, struct kvm_mmu_page *sp)
{
	atomic_fetch_add(&kvm->arch.rcu_pending, 1);
	tdp_call_rcu(&sp->rcu_head, tdp_mmu_free_sp_rcu_callback);
}

/* tdp_mmu_alloc_sp(): a table for the fault path, from the vCPU's caches. */
static struct kvm_mmu_page *tdp_mmu_alloc_sp(struct kvm_vcpu *vcpu)
{
	struct kvm *kvm = vcpu->kvm;
	struct kvm_mmu_page *sp;

	sp = kvm_mmu_memory_cache_alloc(kvm, &vcpu->mmu_page_header_cache);
	if (!sp)
		return NULL;
	sp->spt = kvm_mmu_memory_cache_alloc(kvm, &vcpu->mmu_shadow_page_cache);
	if (!sp->spt) {
		free_obj(&kvm->alloc, TDPSIM_ALLOC_KIND_SP, sp, sizeof(*sp));
		return NULL;
	}
	sp->kvm = kvm;
	set_page_private(kvm, sp->spt, sp);
	tdp_mmu_account_alloc(kvm);
	return sp;
}

/*
 * tdp_mmu_alloc_sp_for_split(): a zeroed table and header from the system
 * allocator (GFP_KERNEL_ACCOUNT): only with mmu_lock dropped.
 */
struct kvm_mmu_page *tdp_mmu_alloc_sp_for_split(struct kvm *kvm)
{
	struct kvm_mmu_page *sp;

	TDPSIM_WARN_ON_ONCE(kvm_lock_mode(kvm) != TDPSIM_LOCK_NONE);
	sp = alloc_obj(&kvm->alloc, TDPSIM_ALLOC_KIND_SP, sizeof(*sp));
	if (!sp)
		goto err;
	sp->spt = alloc_page(&kvm->alloc, TDPSIM_ALLOC_KIND_PT);
	if (!sp->spt)
		goto err_free_sp;
	if (kvm_memmap_prepare(kvm, sp->spt))
		goto err_free_spt;
	sp->kvm = kvm;
	set_page_private(kvm, sp->spt, sp);
	tdp_mmu_account_alloc(kvm);
	return sp;

err_free_spt:
	free_page(&kvm->alloc, TDPSIM_ALLOC_KIND_PT, (void *)sp->spt);
err_free_sp:
	free_obj(&kvm->alloc, TDPSIM_ALLOC_KIND_SP, sp, sizeof(*sp));
err:
	counter_inc(&kvm->stats, TDPSIM_STAT_ALLOC_FAIL);
	return NULL;
}

static void tdp_mmu_init_sp(struct kvm_mmu_page *sp, tdp_ptep_t sptep, gfn_t gfn,
			    int level, bool is_mirror)
{
	sp->role.level = (uint8_t)level;
	sp->role.is_mirror = is_mirror;
	atomic_init(&sp->role.invalid, false);
	sp->gfn = gfn;
	sp->ptep = sptep;
	sp->external_spt = 0;
}

/* tdp_mmu_init_child_sp(): @child_sp will be linked at @iter. */
static void tdp_mmu_init_child_sp(struct kvm *kvm, struct kvm_mmu_page *child_sp,
				  struct tdp_iter *iter)
{
	bool is_mirror = kvm_has_mirrored_tdp(kvm) && is_mirror_sptep(kvm, iter->sptep);

	tdp_mmu_init_sp(child_sp, iter->sptep, iter->gfn, iter->level - 1, is_mirror);
}

/* ---- roots ---- */

int kvm_tdp_mmu_alloc_root(struct kvm *kvm, bool mirror,
			   struct kvm_mmu_page **ret_root)
{
	struct kvm_mmu_page *root = tdp_mmu_alloc_sp_for_split(kvm);

	if (!root)
		return -ENOMEM;
	for (int i = 0; i < SPTE_ENT_PER_PAGE; i++)
		spte_write(&root->spt[i], SHADOW_NONPRESENT_VALUE);
	tdp_mmu_init_sp(root, NULL, 0, kvm->arch.root_level, mirror);
	/* One reference for the vCPUs, one the TDP MMU holds until the root
	 * is invalidated. */
	atomic_init(&root->tdp_mmu_root_count, 2);
	pthread_mutex_lock(&kvm->arch.tdp_mmu_pages_lock);
	root->next_root = kvm->arch.tdp_mmu_roots;
	kvm->arch.tdp_mmu_roots = root;
	pthread_mutex_unlock(&kvm->arch.tdp_mmu_pages_lock);
	*ret_root = root;
	return 0;
}

bool kvm_tdp_mmu_get_root(struct kvm_mmu_page *root)
{
	int count = atomic_load(&root->tdp_mmu_root_count);

	while (count) {
		if (atomic_compare_exchange_weak(&root->tdp_mmu_root_count,
						 &count, count + 1))
			return true;
	}
	return false;
}

void kvm_tdp_mmu_put_root(struct kvm *kvm, struct kvm_mmu_page *root)
{
	struct kvm_mmu_page **pp;

	if (atomic_fetch_sub(&root->tdp_mmu_root_count, 1) != 1)
		return;
	/* The TDP MMU holds a reference until the root is invalidated. */
	KVM_BUG_ON(!atomic_load(&root->role.invalid), kvm);
	pthread_mutex_lock(&kvm->arch.tdp_mmu_pages_lock);
	for (pp = &kvm->arch.tdp_mmu_roots; *pp; pp = &(*pp)->next_root) {
		if (*pp == root) {
			*pp = root->next_root;
			break;
		}
	}
	pthread_mutex_unlock(&kvm->arch.tdp_mmu_pages_lock);
	tdp_mmu_free_sp_rcu(kvm, root);
}

bool tdp_mmu_root_match(struct kvm_mmu_page *root, unsigned int types)
{
	if (TDPSIM_WARN_ON_ONCE(!(types & KVM_VALID_ROOTS)))
		return false;
	if (atomic_load_explicit(&root->role.invalid, memory_order_relaxed))
		return types & KVM_INVALID_ROOTS;
	if (is_mirror_sp(root))
		return types & KVM_MIRROR_ROOTS;
	return types & KVM_DIRECT_ROOTS;
}

struct kvm_mmu_page *kvm_tdp_mmu_valid_root(struct kvm *kvm, unsigned int types)
{
	for (struct kvm_mmu_page *root = kvm->arch.tdp_mmu_roots; root;
	     root = root->next_root)
		if (tdp_mmu_root_match(root, types & KVM_VALID_ROOTS))
			return root;
	return NULL;
}

unsigned int kvm_gfn_range_filter_to_root_types(struct kvm *kvm,
						unsigned int filter)
{
	unsigned int types = 0;

	if (!kvm_has_mirrored_tdp(kvm))
		return KVM_DIRECT_ROOTS;
	if (filter & KVM_FILTER_PRIVATE)
		types |= KVM_MIRROR_ROOTS;
	if (filter & KVM_FILTER_SHARED)
		types |= KVM_DIRECT_ROOTS;
	TDPSIM_WARN_ON_ONCE(!types);
	return types;
}

/*
 * Walk the root list. The list changes only with mmu_lock held for write
 * (and tdp_mmu_pages_lock), so any holder of mmu_lock may walk it; a walk
 * that drops the lock holds a reference on the root it is in.
 */
#define for_each_tdp_mmu_root(kvm, root, types)				\
	for (root = (kvm)->arch.tdp_mmu_roots; root; root = root->next_root) \
		if (!tdp_mmu_root_match(root, types)) {} else

void kvm_tdp_mmu_invalidate_roots(struct kvm *kvm, unsigned int root_types)
{
	struct kvm_mmu_page *root;

	if (TDPSIM_WARN_ON_ONCE(root_types & KVM_INVALID_ROOTS))
		root_types &= ~KVM_INVALID_ROOTS;
	lockdep_assert_held_write(kvm);
	for_each_tdp_mmu_root(kvm, root, root_types) {
		root->tdp_mmu_scheduled_root_to_zap = true;
		atomic_store(&root->role.invalid, true);
	}
}

/* ---- handle_changed_spte() and handle_removed_pt() ---- */

static int __handle_changed_spte(struct kvm *kvm, bool is_mirror, gfn_t gfn,
				 u64 old_spte, u64 new_spte, int level,
				 bool shared);

/* tdp_mmu_unlink_sp(): the table is leaving the paging structure. */
static void tdp_mmu_unlink_sp(struct kvm *kvm, struct kvm_mmu_page *sp)
{
	observe_pt_unlinked(kvm, sp->spt, sp->role.level);
	atomic_fetch_sub_explicit(&kvm->arch.tdp_mmu_pages, 1, memory_order_relaxed);
}

/*
 * tdp_mmu_freeze_child() - make child @i of a table being removed FROZEN:
 * with the read lock, exchange it (waiting out another thread that froze
 * it and is about to finish), else store it if present. Returns the old
 * value, or SHADOW_NONPRESENT_VALUE for a non-present child left alone.
 */
static u64 tdp_mmu_freeze_child(struct kvm *kvm, tdp_ptep_t sptep, gfn_t gfn,
				int level, bool shared)
{
	u64 old_spte;

	if (shared) {
		for (;;) {
			sched_point(kvm, SCHED_SPTE_XCHG);
			old_spte = spte_xchg(sptep, FROZEN_SPTE);
			if (!is_frozen_spte(old_spte))
				break;
			kvm_sched_yield(kvm);
		}
		tdp_mmu_observe_spte(kvm, sptep, gfn, level, old_spte, FROZEN_SPTE,
				     true);
		return old_spte;
	}
	old_spte = kvm_tdp_mmu_read_spte(sptep);
	if (!is_shadow_present_pte(old_spte))
		return old_spte;
	sched_point(kvm, SCHED_SPTE_XCHG);
	old_spte = kvm_tdp_mmu_write_spte(sptep, old_spte, FROZEN_SPTE, level);
	tdp_mmu_observe_spte(kvm, sptep, gfn, level, old_spte, FROZEN_SPTE, false);
	return old_spte;
}

/*
 * handle_removed_pt() - handle a page table removed from the paging
 * structure: freeze every entry so no other thread can install into it,
 * account the children's removal (recursively), then free the table after
 * an RCU grace period. The caller flushes TLBs before leaving RCU.
 */
static void handle_removed_pt(struct kvm *kvm, tdp_ptep_t pt, bool shared)
{
	struct kvm_mmu_page *sp = sptep_to_sp(kvm, pt);
	int level = sp->role.level;
	gfn_t base_gfn = sp->gfn;

	tdp_mmu_unlink_sp(kvm, sp);
	for (int i = 0; i < SPTE_ENT_PER_PAGE; i++) {
		tdp_ptep_t sptep = pt + i;
		gfn_t gfn = base_gfn + i * KVM_PAGES_PER_HPAGE(level);
		u64 old_spte = tdp_mmu_freeze_child(kvm, sptep, gfn, level, shared);

		if (!shared && !is_shadow_present_pte(old_spte))
			continue;
		(void)__handle_changed_spte(kvm, is_mirror_sp(sp), gfn, old_spte,
					    FROZEN_SPTE, level, shared);
	}
	if (is_mirror_sp(sp) && kvm->x86_ops.reclaim_external_sp)
		kvm->x86_ops.reclaim_external_sp(kvm, sp);
	tdp_mmu_free_sp_rcu(kvm, sp);
}

static void update_zap_stats(struct kvm *kvm, int level)
{
	static const enum tdpsim_stat zap[] = {
		[PG_LEVEL_4K] = TDPSIM_STAT_ZAP_4K,
		[PG_LEVEL_2M] = TDPSIM_STAT_ZAP_2M,
		[PG_LEVEL_1G] = TDPSIM_STAT_ZAP_1G,
	};

	if (level <= PG_LEVEL_1G)
		counter_inc(&kvm->stats, zap[level]);
}

/*
 * __handle_changed_spte() - the bookkeeping after an SPTE at (@gfn, @level)
 * changed from @old_spte to @new_spte: invariants, stats, removal of a
 * subtree, and for mirror SPTEs the external (TDX) hook. Returns the
 * hook's error; 0 otherwise.
 */
static int __handle_changed_spte(struct kvm *kvm, bool is_mirror, gfn_t gfn,
				 u64 old_spte, u64 new_spte, int level,
				 bool shared)
{
	bool was_present = is_shadow_present_pte(old_spte);
	bool is_present = is_shadow_present_pte(new_spte);
	bool was_leaf = was_present && is_last_spte(old_spte, level);
	bool is_leaf = is_present && is_last_spte(new_spte, level);
	bool pfn_changed = spte_to_pfn(old_spte) != spte_to_pfn(new_spte);

	TDPSIM_WARN_ON_ONCE(level > PT64_ROOT_MAX_LEVEL || level < PG_LEVEL_4K);
	TDPSIM_WARN_ON_ONCE(gfn & (KVM_PAGES_PER_HPAGE(level) - 1));

	/* A present leaf never changes PFN in place: zap, flush, refault
	 * (the kernel BUG()s). */
	if (TDPSIM_WARN_ON_ONCE(was_leaf && is_leaf && pfn_changed)) {
		atomic_store(&kvm->vm_bugged, true);
		return -EIO;
	}
	if (old_spte == new_spte)
		return 0;
	if (is_leaf)
		TDPSIM_WARN_ON_ONCE(!spte_writable_bits_legal(new_spte));

	if (!was_present && !is_present) {
		/* Only a FROZEN value may replace a non-present one (no MMIO
		 * SPTEs in this model). */
		TDPSIM_WARN_ON_ONCE(!is_frozen_spte(new_spte) &&
				    !is_frozen_spte(old_spte));
		return 0;
	}

	if (was_leaf && !is_present)
		update_zap_stats(kvm, level);

	/* Recursively handle child PTs if the change removed a subtree. */
	if (was_present && !was_leaf &&
	    (is_leaf || !is_present || TDPSIM_WARN_ON_ONCE(pfn_changed))) {
		handle_removed_pt(kvm, spte_to_child_pt(old_spte, level), shared);
		return 0;
	}

	if (is_mirror && kvm->x86_ops.set_external_spte)
		return kvm->x86_ops.set_external_spte(kvm, gfn, old_spte,
						      new_spte, level);
	return 0;
}

void handle_changed_spte(struct kvm *kvm, bool is_mirror, gfn_t gfn,
			 u64 old_spte, u64 new_spte, int level, bool shared)
{
	/* Only the external hook can fail here (a PFN change WARNs itself):
	 * a SEAMCALL KVM cannot fail, TDX_BUG_ON(). The VM is bugged; the
	 * fake module's failure log has the call for the checker. */
	if (__handle_changed_spte(kvm, is_mirror, gfn, old_spte, new_spte, level,
				  shared))
		atomic_store(&kvm->vm_bugged, true);
}

/* ---- the SPTE writers ---- */

/*
 * __tdp_mmu_set_spte_atomic() - compare-and-swap the SPTE at @iter from
 * iter->old_spte to @new_spte. Returns 0, or -EBUSY with iter->old_spte
 * refreshed if another thread changed it first.
 */
static int __tdp_mmu_set_spte_atomic(struct kvm *kvm, struct tdp_iter *iter,
				     u64 new_spte)
{
	/* The caller must not hold a stale snapshot or a frozen SPTE. */
	TDPSIM_WARN_ON_ONCE(iter->yielded || is_frozen_spte(iter->old_spte));

	sched_point(kvm, SCHED_SPTE_CMPXCHG);
	if (!spte_cmpxchg(iter->sptep, &iter->old_spte, new_spte))
		return -EBUSY;
	tdp_mmu_observe_spte(kvm, iter->sptep, iter->gfn, iter->level,
			     iter->old_spte, new_spte, true);
	return 0;
}

/*
 * tdp_mmu_set_spte_atomic() - set an SPTE under the read lock and handle
 * the change. A mirror SPTE is frozen first, the external hook runs, then
 * the final value (or, if the hook failed, the old one) is written.
 * Returns 0 or -EBUSY (lost the race, or the hook said busy).
 */
int tdp_mmu_set_spte_atomic(struct kvm *kvm, struct tdp_iter *iter, u64 new_spte)
{
	int ret;

	lockdep_assert_held_read(kvm);

	if (unlikely(kvm_has_mirrored_tdp(kvm)) &&
	    is_mirror_sptep(kvm, iter->sptep) && !is_frozen_spte(new_spte)) {
		u64 old_spte = iter->old_spte;

		ret = __tdp_mmu_set_spte_atomic(kvm, iter, FROZEN_SPTE);
		if (ret)
			return ret;
		ret = __handle_changed_spte(kvm, true, iter->gfn, old_spte,
					    new_spte, iter->level, true);
		spte_write(iter->sptep, ret ? old_spte : new_spte);
		tdp_mmu_observe_spte(kvm, iter->sptep, iter->gfn, iter->level,
				     FROZEN_SPTE, ret ? old_spte : new_spte, false);
		return ret;
	}

	ret = __tdp_mmu_set_spte_atomic(kvm, iter, new_spte);
	if (ret)
		return ret;
	handle_changed_spte(kvm, false, iter->gfn, iter->old_spte, new_spte,
			    iter->level, true);
	return 0;
}

/*
 * tdp_mmu_set_spte() - set an SPTE under the write lock (a store, or an
 * exchange where hardware may still set bits) and handle the change.
 * Returns the value actually replaced.
 */
u64 tdp_mmu_set_spte(struct kvm *kvm, int as_id, tdp_ptep_t sptep, u64 old_spte,
		     u64 new_spte, gfn_t gfn, int level)
{
	bool is_mirror;

	(void)as_id;
	lockdep_assert_held_write(kvm);
	/* No thread holding the write lock ever needs to freeze an SPTE. */
	TDPSIM_WARN_ON_ONCE(is_frozen_spte(old_spte) || is_frozen_spte(new_spte));

	sched_point(kvm, SCHED_SPTE_XCHG);
	old_spte = kvm_tdp_mmu_write_spte(sptep, old_spte, new_spte, level);
	tdp_mmu_observe_spte(kvm, sptep, gfn, level, old_spte, new_spte,
			     is_shadow_present_pte(old_spte) &&
			     is_last_spte(old_spte, level) &&
			     spte_needs_atomic_update(old_spte));
	is_mirror = kvm_has_mirrored_tdp(kvm) && is_mirror_sptep(kvm, sptep);
	handle_changed_spte(kvm, is_mirror, gfn, old_spte, new_spte, level, false);
	return old_spte;
}

void tdp_mmu_iter_set_spte(struct kvm *kvm, struct tdp_iter *iter, u64 new_spte)
{
	TDPSIM_WARN_ON_ONCE(iter->yielded);
	iter->old_spte = tdp_mmu_set_spte(kvm, iter->as_id, iter->sptep,
					  iter->old_spte, new_spte, iter->gfn,
					  iter->level);
}

/*
 * tdp_mmu_clear_spte_bits() - clear @mask in a leaf under the write lock
 * (the dirty-log clear path: no handle_changed_spte(), as in the kernel).
 */
static void tdp_mmu_clear_spte_bits(struct kvm *kvm, struct tdp_iter *iter,
				    u64 mask)
{
	u64 old_spte;
	bool atomic = spte_needs_atomic_update(iter->old_spte);

	lockdep_assert_held_write(kvm);
	sched_point(kvm, SCHED_SPTE_XCHG);
	old_spte = kvm_tdp_mmu_clear_spte_bits(iter->sptep, iter->old_spte,
					       mask, iter->level);
	iter->old_spte = old_spte & ~mask;
	tdp_mmu_observe_spte(kvm, iter->sptep, iter->gfn, iter->level, old_spte,
			     iter->old_spte, atomic);
}

/* ---- yielding ---- */

/*
 * tdp_mmu_iter_cond_resched() - if another thread waits for mmu_lock and
 * the walk made progress since it last yielded, flush if asked, leave RCU,
 * drop and retake the lock, and mark @iter to restart from the root.
 * Returns true if it yielded: the caller must `continue`.
 */
static bool tdp_mmu_iter_cond_resched(struct kvm *kvm, struct tdp_iter *iter,
				      bool flush, bool shared)
{
	if (!mmu_lock_needbreak(&kvm->mmu_lock) ||
	    iter->next_last_level_gfn == iter->yielded_gfn)
		return false;

	if (flush)
		kvm_flush_remote_tlbs(kvm);
	kvm_rcu_read_unlock(kvm);
	if (shared)
		cond_resched_rwlock_read(kvm);
	else
		cond_resched_rwlock_write(kvm);
	kvm_rcu_read_lock(kvm);

	TDPSIM_WARN_ON_ONCE(iter->gfn > iter->next_last_level_gfn);
	iter->yielded = true;
	return true;
}

/* ---- zap ---- */

/* __tdp_mmu_zap_root(): zap the entries at exactly @zap_level. */
static void __tdp_mmu_zap_root(struct kvm *kvm, struct kvm_mmu_page *root,
			       bool shared, int zap_level)
{
	struct tdp_iter iter;

	for_each_tdp_pte_min_level(iter, kvm, root, zap_level, 0,
				   tdp_mmu_max_gfn_exclusive(kvm)) {
retry:
		if (tdp_mmu_iter_cond_resched(kvm, &iter, false, shared))
			continue;
		if (!is_shadow_present_pte(iter.old_spte))
			continue;
		if (iter.level > zap_level)
			continue;
		if (!shared)
			tdp_mmu_iter_set_spte(kvm, &iter, SHADOW_NONPRESENT_VALUE);
		else if (tdp_mmu_set_spte_atomic(kvm, &iter, SHADOW_NONPRESENT_VALUE))
			goto retry;
	}
}

/*
 * tdp_mmu_zap_root() - zap everything below @root, leaves first (4K, 2M,
 * 1G passes) so no single removal recurses through a whole 512G subtree.
 */
static void tdp_mmu_zap_root(struct kvm *kvm, struct kvm_mmu_page *root,
			     bool shared)
{
	TDPSIM_WARN_ON_ONCE(!atomic_load(&root->tdp_mmu_root_count));
	kvm_rcu_read_lock(kvm);
	__tdp_mmu_zap_root(kvm, root, shared, PG_LEVEL_4K);
	__tdp_mmu_zap_root(kvm, root, shared, PG_LEVEL_2M);
	__tdp_mmu_zap_root(kvm, root, shared, PG_LEVEL_1G);
	__tdp_mmu_zap_root(kvm, root, shared, root->role.level);
	kvm_rcu_read_unlock(kvm);
}

void kvm_tdp_mmu_zap_invalidated_roots(struct kvm *kvm, bool shared)
{
	struct kvm_mmu_page *root, *next;

	tdp_mmu_lock(kvm, shared);
	for (root = kvm->arch.tdp_mmu_roots; root; root = next) {
		next = root->next_root;
		if (!root->tdp_mmu_scheduled_root_to_zap)
			continue;
		root->tdp_mmu_scheduled_root_to_zap = false;
		KVM_BUG_ON(!atomic_load(&root->role.invalid), kvm);
		tdp_mmu_zap_root(kvm, root, shared);
		/* Drop the TDP MMU's reference, possibly freeing the root. */
		kvm_tdp_mmu_put_root(kvm, root);
	}
	tdp_mmu_unlock(kvm, shared);
}

/*
 * tdp_mmu_zap_leafs() - zap the present leaves of [start, end) in @root,
 * under the write lock. A huge leaf that overlaps the range is zapped
 * whole; page tables stay linked. Returns true if a TLB flush is due.
 */
static bool tdp_mmu_zap_leafs(struct kvm *kvm, struct kvm_mmu_page *root,
			      gfn_t start, gfn_t end, bool can_yield, bool flush)
{
	struct tdp_iter iter;

	if (end > tdp_mmu_max_gfn_exclusive(kvm))
		end = tdp_mmu_max_gfn_exclusive(kvm);
	lockdep_assert_held_write(kvm);

	kvm_rcu_read_lock(kvm);
	for_each_tdp_pte_min_level(iter, kvm, root, PG_LEVEL_4K, start, end) {
		if (can_yield &&
		    tdp_mmu_iter_cond_resched(kvm, &iter, flush, false)) {
			flush = false;
			continue;
		}
		if (!is_shadow_present_pte(iter.old_spte) ||
		    !is_last_spte(iter.old_spte, iter.level))
			continue;
		tdp_mmu_iter_set_spte(kvm, &iter, SHADOW_NONPRESENT_VALUE);
		/* Zapping an invalid root needs no flush: no vCPU uses it. */
		if (!atomic_load_explicit(&root->role.invalid, memory_order_relaxed))
			flush = true;
	}
	kvm_rcu_read_unlock(kvm);
	return flush;
}

bool kvm_tdp_mmu_zap_leafs_in_roots(struct kvm *kvm, unsigned int types,
				    gfn_t start, gfn_t end, bool can_yield,
				    bool flush)
{
	struct kvm_mmu_page *root;

	lockdep_assert_held_write(kvm);
	for_each_tdp_mmu_root(kvm, root, types)
		flush = tdp_mmu_zap_leafs(kvm, root, start, end, can_yield, flush);
	return flush;
}

bool kvm_tdp_mmu_unmap_gfn_range(struct kvm *kvm, struct kvm_gfn_range *range,
				 bool flush)
{
	unsigned int types;

	types = kvm_gfn_range_filter_to_root_types(kvm, range->attr_filter) |
		KVM_INVALID_ROOTS;
	return kvm_tdp_mmu_zap_leafs_in_roots(kvm, types, range->start,
					      range->end, range->may_block, flush);
}

/* ---- linking and splitting ---- */

/*
 * tdp_mmu_split_mirror_spte() - under the write lock, replace the huge
 * mirror leaf at @iter with the link @new_spte. The external hook (TDX:
 * BLOCK, TRACK, DEMOTE) runs first and the SPTE is written only if it
 * succeeded, so a split the module refused (-EBUSY: contention, returned
 * rather than fatal, as in the V5 thread) leaves the mirror unchanged and
 * can be retried.
 */
static int tdp_mmu_split_mirror_spte(struct kvm *kvm, struct tdp_iter *iter,
				     u64 new_spte)
{
	u64 old_spte;
	int ret;

	lockdep_assert_held_write(kvm);
	if (kvm->x86_ops.set_external_spte) {
		ret = kvm->x86_ops.set_external_spte(kvm, iter->gfn, iter->old_spte,
						     new_spte, iter->level);
		if (ret)
			return ret;
	}
	sched_point(kvm, SCHED_SPTE_XCHG);
	old_spte = kvm_tdp_mmu_write_spte(iter->sptep, iter->old_spte, new_spte,
					  iter->level);
	tdp_mmu_observe_spte(kvm, iter->sptep, iter->gfn, iter->level, old_spte,
			     new_spte, false);
	iter->old_spte = old_spte;
	return 0;
}

/*
 * tdp_mmu_link_sp() - install a link to @sp at @iter: compare-and-swap
 * under the read lock (-EBUSY if someone else got there), else a store.
 */
static int tdp_mmu_link_sp(struct kvm *kvm, struct tdp_iter *iter,
			   struct kvm_mmu_page *sp, bool shared)
{
	u64 spte = make_nonleaf_spte(sp->spt, false);
	int ret;

	if (shared) {
		ret = tdp_mmu_set_spte_atomic(kvm, iter, spte);
		if (ret)
			return ret;
	} else if (unlikely(kvm_has_mirrored_tdp(kvm)) &&
		   is_shadow_present_pte(iter->old_spte) &&
		   is_mirror_sptep(kvm, iter->sptep)) {
		ret = tdp_mmu_split_mirror_spte(kvm, iter, spte);
		if (ret)
			return ret;
	} else {
		tdp_mmu_iter_set_spte(kvm, iter, spte);
	}
	/* tdp_account_mmu_page() */
	atomic_fetch_add_explicit(&kvm->arch.tdp_mmu_pages, 1, memory_order_relaxed);
	return 0;
}

/*
 * tdp_mmu_split_huge_page() - replace the huge leaf at @iter with a link to
 * @sp, filled first with the 512 smaller SPTEs that map the same memory.
 * One SPTE transition (huge leaf -> non-leaf); the children are not yet
 * reachable and are not reported one by one. No TLB flush: both
 * translations are the same.
 */
static int tdp_mmu_split_huge_page(struct kvm *kvm, struct tdp_iter *iter,
				   struct kvm_mmu_page *sp, bool shared)
{
	const u64 huge_spte = iter->old_spte;
	const int level = iter->level;
	int ret;

	for (int i = 0; i < SPTE_ENT_PER_PAGE; i++)
		spte_write(&sp->spt[i], make_small_spte(huge_spte, sp->role.level, i));

	ret = tdp_mmu_link_sp(kvm, iter, sp, shared);
	if (ret)
		return ret;
	counter_inc(&kvm->stats, level == PG_LEVEL_2M ? TDPSIM_STAT_SPLIT_2M :
							TDPSIM_STAT_SPLIT_1G);
	return 0;
}

/*
 * What a precise split (split.boundary) splits: only huge leaves that cross
 * a boundary of the zap range [start, end), the only_cross_boundary of
 * P-YZ3's tdp_mmu_split_huge_pages_root(). The walk's own range may be
 * smaller (headtail walks one GFN at each boundary).
 */
struct tdp_split_boundary {
	gfn_t start;			/* the zap range */
	gfn_t end;
	uint64_t visited;		/* SPTEs looked at (split.visit) */
	bool dropped;			/* mmu_lock was dropped (allocation or
					 * yield): leaves may have changed */
};

/*
 * iter_cross_boundary() - the huge SPTE at @iter overlaps [start, end)
 * without lying inside it, so zapping the range would take all of it.
 */
static bool iter_cross_boundary(const struct tdp_iter *iter, gfn_t start, gfn_t end)
{
	gfn_t size = KVM_PAGES_PER_HPAGE(iter->level);

	return iter->gfn < end && iter->gfn + size > start &&
	       !(iter->gfn >= start && iter->gfn + size <= end);
}

/*
 * tdp_mmu_split_huge_pages_root() - split the huge leaves of [start, end)
 * in @root down to @target_level; with @b, only those crossing @b's range
 * (only_cross_boundary). A table is allocated with mmu_lock dropped, then
 * the walk restarts from the root (iter.yielded). Returns 0, -ENOMEM, or
 * the external hook's error (mirror roots: -EBUSY after many retries,
 * -EIO), with mmu_lock held as on entry.
 */
static int tdp_mmu_split_huge_pages_root(struct kvm *kvm, struct kvm_mmu_page *root,
					 gfn_t start, gfn_t end, int target_level,
					 bool shared, struct tdp_split_boundary *b)
{
	struct kvm_mmu_page *sp = NULL;
	struct tdp_iter iter;
	unsigned int busy = 0;
	int r = 0;

	kvm_rcu_read_lock(kvm);

	/* Walk down to the level above the target: a 1G page is split into
	 * 2M children which the pre-order walk then visits and splits. */
	for_each_tdp_pte_min_level(iter, kvm, root, target_level + 1, start, end) {
retry:
		if (tdp_mmu_iter_cond_resched(kvm, &iter, false, shared)) {
			if (b)
				b->dropped = true;
			continue;
		}
		if (b)
			b->visited++;
		if (!is_shadow_present_pte(iter.old_spte) ||
		    !is_large_pte(iter.old_spte))
			continue;
		if (b && !iter_cross_boundary(&iter, b->start, b->end))
			continue;

		if (!sp) {
			if (b)
				b->dropped = true;
			kvm_rcu_read_unlock(kvm);
			tdp_mmu_unlock(kvm, shared);
			sp = tdp_mmu_alloc_sp_for_split(kvm);
			/* A mirror split also takes the external cache's
			 * pages (S-EPT page, PAMT pairs): refill it now,
			 * while nothing is held. */
			if (sp && is_mirror_sp(root) &&
			    kvm_mmu_topup_external_cache(kvm)) {
				tdp_mmu_free_sp(kvm, sp);
				sp = NULL;
			}
			tdp_mmu_lock(kvm, shared);
			if (!sp)
				return -ENOMEM;
			kvm_rcu_read_lock(kvm);
			iter.yielded = true;
			continue;
		}

		tdp_mmu_init_child_sp(kvm, sp, &iter);
		r = tdp_mmu_split_huge_page(kvm, &iter, sp, shared);
		/* Lost a race, or the module was busy (mirror): again, but not
		 * forever. */
		if (r == -EBUSY && ++busy < kvm->policy.fault_retries)
			goto retry;
		if (r)
			break;
		sp = NULL;
	}

	kvm_rcu_read_unlock(kvm);

	/* A table allocated for a huge page someone else split or zapped. */
	if (sp)
		tdp_mmu_free_sp(kvm, sp);
	return r;
}

int kvm_tdp_mmu_try_split_huge_pages(struct kvm *kvm, unsigned int types,
				     gfn_t start, gfn_t end, int target_level,
				     bool shared)
{
	struct kvm_mmu_page *root;
	int r = 0;

	lockdep_assert_held(kvm);
	for_each_tdp_mmu_root(kvm, root, types & KVM_VALID_ROOTS) {
		if (!kvm_tdp_mmu_get_root(root))
			continue;
		r = tdp_mmu_split_huge_pages_root(kvm, root, start, end,
						  target_level, shared, NULL);
		kvm_tdp_mmu_put_root(kvm, root);
		if (r)
			break;
	}
	return r;
}

/*
 * split_boundary_headtail() - split, in @root, the huge leaves holding
 * @b->start and @b->end - 1 that reach outside [start, end): walk the one
 * GFN at each boundary from the root down (1G -> 2M, then the 2M holding
 * the boundary -> 4K), so the cost is a few SPTEs whatever the range's
 * length (P-SC5 45/45 kvm_arch_gmem_convert(), with 1G handled). A
 * boundary aligned to 1G, or at either end of the GFN space, can lie
 * inside no leaf.
 */
static int split_boundary_headtail(struct kvm *kvm, struct kvm_mmu_page *root,
				   struct tdp_split_boundary *b)
{
	const gfn_t align = KVM_PAGES_PER_HPAGE(KVM_MAX_HUGEPAGE_LEVEL) - 1;
	const gfn_t limit = tdp_mmu_max_gfn_exclusive(kvm);
	gfn_t bounds[2] = { b->start, b->end };
	int r = 0;

	for (int i = 0; i < 2 && !r; i++) {
		gfn_t gfn = bounds[i];

		if (!(gfn & align) || gfn >= limit)
			continue;
		r = tdp_mmu_split_huge_pages_root(kvm, root, gfn, gfn + 1,
						  PG_LEVEL_4K, false, b);
	}
	return r;
}

int kvm_tdp_mmu_split_cross_boundary(struct kvm *kvm, gfn_t start, gfn_t end,
				     enum split_boundary_policy policy)
{
	struct tdp_split_boundary b = { .start = start, .end = end };
	struct kvm_mmu_page *root;
	int r = 0;

	lockdep_assert_held_write(kvm);
	if (policy == SPLIT_BOUNDARY_NONE || start >= end)
		return 0;
	for_each_tdp_mmu_root(kvm, root, KVM_MIRROR_ROOTS) {
		if (!kvm_tdp_mmu_get_root(root))
			continue;
		b.dropped = false;
		if (policy == SPLIT_BOUNDARY_WALK)
			r = tdp_mmu_split_huge_pages_root(kvm, root, start, end,
							  PG_LEVEL_4K, false, &b);
		else
			r = split_boundary_headtail(kvm, root, &b);
		/*
		 * While mmu_lock was dropped to allocate, a fault outside the
		 * range may have installed a huge leaf over a boundary again:
		 * look at the two boundaries until a pass keeps the lock, so
		 * the zap that follows under this lock sees none.
		 */
		while (!r && b.dropped) {
			b.dropped = false;
			r = split_boundary_headtail(kvm, root, &b);
		}
		kvm_tdp_mmu_put_root(kvm, root);
		if (r)
			break;
	}
	counter_add(&kvm->stats, TDPSIM_STAT_SPLIT_VISIT, b.visited);
	return r;
}

/* ---- the fault path ---- */

static bool is_access_allowed(const struct kvm_page_fault *fault, u64 spte)
{
	if (fault->exec)
		return is_executable_pte(spte);
	if (fault->write)
		return is_writable_pte(spte);
	/* Present SPTEs are always readable with EPT (no exec-only). */
	return is_shadow_present_pte(spte);
}

static void update_map_stats(struct kvm *kvm, int level)
{
	static const enum tdpsim_stat map[] = {
		[PG_LEVEL_4K] = TDPSIM_STAT_MAP_4K,
		[PG_LEVEL_2M] = TDPSIM_STAT_MAP_2M,
		[PG_LEVEL_1G] = TDPSIM_STAT_MAP_1G,
	};

	counter_inc(&kvm->stats, map[level]);
}

/*
 * tdp_mmu_map_handle_target_level() - install the leaf for @fault at
 * @iter, which is at fault->goal_level. Replacing a page table with a huge
 * leaf removes the subtree (handle_removed_pt) and flushes.
 */
static int tdp_mmu_map_handle_target_level(struct kvm_vcpu *vcpu,
					   struct kvm_page_fault *fault,
					   struct tdp_iter *iter)
{
	struct kvm *kvm = vcpu->kvm;
	struct make_spte_args a = {
		.level = iter->level,
		.pte_access = ACC_ALL,
		.pfn = fault->pfn,
		.prefetch = fault->prefetch,
		.host_writable = fault->map_writable,
	};
	u64 new_spte;

	fault->mapped_level = iter->level;
	if (is_shadow_present_pte(iter->old_spte) &&
	    is_last_spte(iter->old_spte, iter->level) &&
	    (fault->prefetch || is_access_allowed(fault, iter->old_spte))) {
		TDPSIM_WARN_ON_ONCE(fault->pfn != spte_to_pfn(iter->old_spte));
		return RET_PF_SPURIOUS;
	}

	make_spte(&a, iter->old_spte, &new_spte);
	if (new_spte == iter->old_spte)
		return RET_PF_SPURIOUS;
	if (tdp_mmu_set_spte_atomic(kvm, iter, new_spte))
		return RET_PF_RETRY;
	if (is_shadow_present_pte(iter->old_spte) &&
	    (!is_last_spte(iter->old_spte, iter->level) ||
	     TDPSIM_WARN_ON_ONCE(leaf_spte_change_needs_tlb_flush(iter->old_spte,
								  new_spte))))
		kvm_flush_remote_tlbs_gfn(kvm, iter->gfn, iter->level);
	update_map_stats(kvm, iter->level);
	return RET_PF_FIXED;
}

static struct kvm_mmu_page *tdp_mmu_get_root_for_fault(struct kvm_vcpu *vcpu,
						       struct kvm_page_fault *fault)
{
	if (unlikely(fault->is_private && vcpu->mirror_root))
		return vcpu->mirror_root;
	return vcpu->root;
}

/*
 * kvm_tdp_mmu_map() - handle a TDP page fault (NPT/EPT violation/
 * misconfiguration) by installing page tables and SPTEs to map the
 * faulting address. Read lock held.
 */
int kvm_tdp_mmu_map(struct kvm_vcpu *vcpu, struct kvm_page_fault *fault)
{
	struct kvm_mmu_page *root = tdp_mmu_get_root_for_fault(vcpu, fault);
	struct kvm *kvm = vcpu->kvm;
	struct tdp_iter iter;
	struct kvm_mmu_page *sp;
	int ret = RET_PF_RETRY;

	kvm_mmu_hugepage_adjust(vcpu, fault);

	kvm_rcu_read_lock(kvm);

	for_each_tdp_pte(iter, kvm, root, fault->gfn, fault->gfn + 1) {
		int r;

		/* Another thread is mid-update here: let it finish. */
		if (is_frozen_spte(iter.old_spte))
			goto retry;

		/*
		 * P-YZ3 rejects splitting a mirror huge page on the fault path
		 * (it needs the write lock): a huge leaf above the goal level
		 * means its guest_memfd folio was split (memory failure splits
		 * before it invalidates), and the zap of that invalidation is
		 * on its way: retry until it has run.
		 */
		if (is_mirror_sp(root) && iter.level > fault->goal_level &&
		    is_shadow_present_pte(iter.old_spte) &&
		    is_large_pte(iter.old_spte))
			goto retry;

		/*
		 * P-SC5 "Prevent hugepage promotion for mirror roots in fault
		 * path": a page table already linked at the goal level of a
		 * mirror root is kept, and the fault maps one level down, as
		 * disallowed_hugepage_adjust() does.
		 */
		if (is_mirror_sp(root) && iter.level == fault->goal_level &&
		    iter.level > PG_LEVEL_4K &&
		    is_shadow_present_pte(iter.old_spte) &&
		    !is_large_pte(iter.old_spte)) {
			fault->pfn |= fault->gfn & (KVM_PAGES_PER_HPAGE(iter.level) -
						    KVM_PAGES_PER_HPAGE(iter.level - 1));
			fault->goal_level--;
		}

		if (iter.level == fault->goal_level)
			goto map_target_level;

		/* Step down into the lower level page table if it exists. */
		if (is_shadow_present_pte(iter.old_spte) &&
		    !is_large_pte(iter.old_spte))
			continue;

		/* The SPTE is either non-present or points to a huge page
		 * that needs to be split. */
		sp = tdp_mmu_alloc_sp(vcpu);
		if (!sp) {
			ret = -ENOMEM;
			goto retry;
		}
		tdp_mmu_init_child_sp(kvm, sp, &iter);

		if (is_shadow_present_pte(iter.old_spte)) {
			/* Mirror huge pages are not split on the fault path. */
			if (KVM_BUG_ON(is_mirror_sp(sp), kvm))
				r = -EIO;
			else
				r = tdp_mmu_split_huge_page(kvm, &iter, sp, true);
		} else {
			r = tdp_mmu_link_sp(kvm, &iter, sp, true);
		}

		/* Force the guest to retry if installing an upper level SPTE
		 * failed, e.g. because a different task modified the SPTE. */
		if (r) {
			tdp_mmu_free_sp(kvm, sp);
			goto retry;
		}
	}

	/* The walk aborted before reaching the target level, e.g. because
	 * the iterator detected an upper level SPTE was frozen. */
	TDPSIM_WARN_ON_ONCE(iter.level == fault->goal_level);
	goto retry;

map_target_level:
	ret = tdp_mmu_map_handle_target_level(vcpu, fault, &iter);

retry:
	kvm_rcu_read_unlock(kvm);
	return ret;
}

/* ---- dirty logging ---- */

static bool wrprot_gfn_range(struct kvm *kvm, struct kvm_mmu_page *root,
			     gfn_t start, gfn_t end, int min_level)
{
	struct tdp_iter iter;
	bool spte_set = false;

	kvm_rcu_read_lock(kvm);
	for_each_tdp_pte_min_level(iter, kvm, root, min_level, start, end) {
retry:
		if (tdp_mmu_iter_cond_resched(kvm, &iter, false, true))
			continue;
		if (!is_shadow_present_pte(iter.old_spte) ||
		    !is_last_spte(iter.old_spte, iter.level) ||
		    !(iter.old_spte & PT_WRITABLE_MASK))
			continue;
		/* Only W: MMU-writable stays, so a write can restore it. */
		if (tdp_mmu_set_spte_atomic(kvm, &iter,
					    iter.old_spte & ~PT_WRITABLE_MASK))
			goto retry;
		spte_set = true;
	}
	kvm_rcu_read_unlock(kvm);
	return spte_set;
}

bool kvm_tdp_mmu_wrprot_slot(struct kvm *kvm, const struct kvm_memory_slot *slot,
			     int min_level)
{
	struct kvm_mmu_page *root;
	bool spte_set = false;

	lockdep_assert_held_read(kvm);
	for_each_tdp_mmu_root(kvm, root, KVM_VALID_ROOTS)
		spte_set |= wrprot_gfn_range(kvm, root, slot->base_gfn,
					     slot->base_gfn + slot->npages,
					     min_level);
	return spte_set;
}

bool kvm_tdp_mmu_write_protect_gfn(struct kvm *kvm, gfn_t gfn, int min_level)
{
	struct kvm_mmu_page *root;
	struct tdp_iter iter;
	bool spte_set = false;

	lockdep_assert_held_write(kvm);
	kvm_rcu_read_lock(kvm);
	for_each_tdp_mmu_root(kvm, root, KVM_VALID_ROOTS) {
		for_each_tdp_pte_min_level(iter, kvm, root, min_level, gfn, gfn + 1) {
			u64 new_spte;

			if (!is_shadow_present_pte(iter.old_spte) ||
			    !is_last_spte(iter.old_spte, iter.level))
				continue;
			new_spte = iter.old_spte &
				   ~(PT_WRITABLE_MASK | shadow_mmu_writable_mask);
			if (new_spte == iter.old_spte)
				break;
			tdp_mmu_iter_set_spte(kvm, &iter, new_spte);
			spte_set = true;
		}
	}
	kvm_rcu_read_unlock(kvm);
	return spte_set;
}

static void clear_dirty_pt_masked(struct kvm *kvm, struct kvm_mmu_page *root,
				  gfn_t gfn, uint64_t mask, bool wrprot)
{
	const u64 dbit = wrprot ? PT_WRITABLE_MASK : shadow_dirty_mask;
	struct tdp_iter iter;

	kvm_rcu_read_lock(kvm);
	for_each_tdp_pte(iter, kvm, root, gfn + __builtin_ctzll(mask), gfn + 64) {
		if (!mask)
			break;
		if (iter.level > PG_LEVEL_4K ||
		    !(mask & (1ULL << (iter.gfn - gfn))))
			continue;
		mask &= ~(1ULL << (iter.gfn - gfn));
		if (!(iter.old_spte & dbit))
			continue;
		tdp_mmu_clear_spte_bits(kvm, &iter, dbit);
	}
	kvm_rcu_read_unlock(kvm);
}

void kvm_tdp_mmu_clear_dirty_pt_masked(struct kvm *kvm, gfn_t gfn,
				       uint64_t mask, bool wrprot)
{
	struct kvm_mmu_page *root;

	lockdep_assert_held_write(kvm);
	if (!mask)
		return;
	for_each_tdp_mmu_root(kvm, root, KVM_VALID_ROOTS)
		clear_dirty_pt_masked(kvm, root, gfn, mask, wrprot);
}

/*
 * tdp_mmu_make_huge_spte() - a huge SPTE for the table linked at @parent,
 * built from the first present leaf below it. -ENOENT if there is none,
 * -EAGAIN if the caller should yield first.
 */
static int tdp_mmu_make_huge_spte(struct kvm *kvm, struct tdp_iter *parent,
				  u64 *huge_spte)
{
	struct kvm_mmu_page *root = sptep_to_sp(kvm, spte_to_child_pt(parent->old_spte,
								      parent->level));
	gfn_t start = parent->gfn;
	gfn_t end = start + KVM_PAGES_PER_HPAGE(parent->level);
	struct tdp_iter iter;

	for_each_tdp_pte(iter, kvm, root, start, end) {
		if (!is_shadow_present_pte(iter.old_spte) ||
		    !is_last_spte(iter.old_spte, iter.level))
			continue;
		if (mmu_lock_needbreak(&kvm->mmu_lock) &&
		    parent->next_last_level_gfn != parent->yielded_gfn)
			return -EAGAIN;
		*huge_spte = make_huge_spte(iter.old_spte, parent->level);
		return 0;
	}
	return -ENOENT;
}

static void recover_huge_pages_range(struct kvm *kvm, struct kvm_mmu_page *root,
				     struct kvm_memory_slot *slot)
{
	gfn_t start = slot->base_gfn;
	gfn_t end = start + slot->npages;
	struct tdp_iter iter;
	bool flush = false;
	u64 huge_spte;
	int r;

	if (TDPSIM_WARN_ON_ONCE(kvm_slot_dirty_track_enabled(slot)))
		return;

	kvm_rcu_read_lock(kvm);
	for_each_tdp_pte_min_level(iter, kvm, root, PG_LEVEL_2M, start, end) {
retry:
		if (tdp_mmu_iter_cond_resched(kvm, &iter, flush, true)) {
			flush = false;
			continue;
		}
		if (iter.level > KVM_MAX_HUGEPAGE_LEVEL ||
		    !is_shadow_present_pte(iter.old_spte))
			continue;
		/* A leaf that could be huge would have had its parent
		 * collapsed instead of the walk stepping down. */
		if (is_last_spte(iter.old_spte, iter.level))
			continue;
		/* A huge page that is not contained by the slot can't be
		 * huge (and its lpage_info is out of bounds). */
		if (iter.gfn < start || iter.gfn >= end)
			continue;
		if (kvm_mmu_max_mapping_level(kvm, slot, iter.gfn) < iter.level)
			continue;

		r = tdp_mmu_make_huge_spte(kvm, &iter, &huge_spte);
		if (r == -EAGAIN)
			goto retry;
		else if (r)
			continue;
		if (tdp_mmu_set_spte_atomic(kvm, &iter, huge_spte))
			goto retry;
		counter_inc(&kvm->stats, iter.level == PG_LEVEL_2M ?
				 TDPSIM_STAT_RECOVER_2M : TDPSIM_STAT_RECOVER_1G);
		flush = true;
	}
	if (flush)
		kvm_flush_remote_tlbs_range(kvm, start, slot->npages);
	kvm_rcu_read_unlock(kvm);
}

void kvm_tdp_mmu_recover_huge_pages(struct kvm *kvm, struct kvm_memory_slot *slot)
{
	struct kvm_mmu_page *root;

	lockdep_assert_held_read(kvm);
	/* Mirror roots are never promoted. */
	for_each_tdp_mmu_root(kvm, root, KVM_DIRECT_ROOTS)
		recover_huge_pages_range(kvm, root, slot);
}

/* ---- teardown ---- */

void kvm_mmu_uninit_tdp_mmu(struct kvm *kvm)
{
	mmu_write_lock(kvm);
	kvm_tdp_mmu_invalidate_roots(kvm, KVM_VALID_ROOTS);
	mmu_write_unlock(kvm);
	kvm_tdp_mmu_zap_invalidated_roots(kvm, false);
	/* What the vCPUs held (kvm_mmu_unload()). */
	while (kvm->arch.tdp_mmu_roots)
		kvm_tdp_mmu_put_root(kvm, kvm->arch.tdp_mmu_roots);
	TDPSIM_WARN_ON_ONCE(atomic_load(&kvm->arch.tdp_mmu_pages));
	/* Wait for every table freed above to be freed for real. */
	tdp_rcu_barrier();
}
