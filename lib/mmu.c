/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mmu.c - around the TDP MMU (arch/x86/kvm/mmu/mmu.c, kvm_main.c): the
 * page-fault entry (kvm_mmu_page_fault, kvm_tdp_mmu_page_fault,
 * kvm_mmu_faultin_pfn, is_page_fault_stale), kvm_mmu_hugepage_adjust, the
 * max mapping level, the invalidation sequence, TLB flushes, range zaps.
 */
#include <errno.h>
#include <sched.h>

#include "kvm_tdx.h"
#include "lpage_info.h"
#include "mem_attrs.h"
#include "memslot.h"
#include "mmu.h"
#include "mmu_cache.h"
#include "observe.h"
#include "tdp_mmu.h"
#include "vm_gmem.h"

/* ---- TLB flushes ---- */

void kvm_flush_remote_tlbs(struct kvm *kvm)
{
	counter_inc(&kvm->stats, TDPSIM_STAT_TLB_FLUSH);
	observe_tlb_flush(kvm, 0, 0);
}

void kvm_flush_remote_tlbs_range(struct kvm *kvm, gfn_t gfn, uint64_t npages)
{
	counter_inc(&kvm->stats, TDPSIM_STAT_TLB_FLUSH);
	observe_tlb_flush(kvm, gfn, npages);
}

/* ---- the mmu invalidation sequence ---- */

void kvm_mmu_invalidate_begin(struct kvm *kvm)
{
	lockdep_assert_held_write(kvm);
	if (atomic_fetch_add(&kvm->mmu_invalidate_in_progress, 1) == 0) {
		/* No range yet: INVALID_GPA, as the kernel. */
		atomic_store(&kvm->mmu_invalidate_range_start, (gfn_t)-1);
		atomic_store(&kvm->mmu_invalidate_range_end, (gfn_t)-1);
	}
}

void kvm_mmu_invalidate_range_add(struct kvm *kvm, gfn_t start, gfn_t end)
{
	lockdep_assert_held_write(kvm);
	TDPSIM_WARN_ON_ONCE(!atomic_load(&kvm->mmu_invalidate_in_progress));
	if (atomic_load(&kvm->mmu_invalidate_range_start) == (gfn_t)-1) {
		atomic_store(&kvm->mmu_invalidate_range_start, start);
		atomic_store(&kvm->mmu_invalidate_range_end, end);
	} else {
		if (start < atomic_load(&kvm->mmu_invalidate_range_start))
			atomic_store(&kvm->mmu_invalidate_range_start, start);
		if (end > atomic_load(&kvm->mmu_invalidate_range_end))
			atomic_store(&kvm->mmu_invalidate_range_end, end);
	}
}

void kvm_mmu_invalidate_end(struct kvm *kvm)
{
	lockdep_assert_held_write(kvm);
	/* A retry check must see the new sequence before in_progress drops. */
	atomic_fetch_add(&kvm->mmu_invalidate_seq, 1);
	KVM_BUG_ON(atomic_fetch_sub(&kvm->mmu_invalidate_in_progress, 1) <= 0, kvm);
	TDPSIM_WARN_ON_ONCE(atomic_load(&kvm->mmu_invalidate_range_start) == (gfn_t)-1);
}

static bool __mmu_invalidate_retry_gfn(struct kvm *kvm, unsigned long mmu_seq,
				       gfn_t gfn)
{
	if (unlikely(atomic_load_explicit(&kvm->mmu_invalidate_in_progress,
					  memory_order_acquire))) {
		gfn_t start = atomic_load(&kvm->mmu_invalidate_range_start);
		gfn_t end = atomic_load(&kvm->mmu_invalidate_range_end);

		/* In progress without a range: retry (the kernel WARNs). */
		if (start == (gfn_t)-1 || (gfn >= start && gfn < end))
			return true;
	}
	return atomic_load_explicit(&kvm->mmu_invalidate_seq,
				    memory_order_acquire) != mmu_seq;
}

/* mmu_invalidate_retry_gfn(): the exact check, mmu_lock held. */
bool mmu_invalidate_retry_gfn(struct kvm *kvm, unsigned long mmu_seq, gfn_t gfn)
{
	lockdep_assert_held(kvm);
	return __mmu_invalidate_retry_gfn(kvm, mmu_seq, gfn);
}

/* mmu_invalidate_retry_gfn_unsafe(): the lock-free pre-check. */
bool mmu_invalidate_retry_gfn_unsafe(struct kvm *kvm, unsigned long mmu_seq,
				     gfn_t gfn)
{
	return __mmu_invalidate_retry_gfn(kvm, mmu_seq, gfn);
}

/* ---- range zaps ---- */

bool kvm_unmap_gfn_range(struct kvm *kvm, struct kvm_gfn_range *range)
{
	lockdep_assert_held_write(kvm);
	return kvm_tdp_mmu_unmap_gfn_range(kvm, range, false);
}

void kvm_mmu_zap_gfn_range(struct kvm *kvm, gfn_t start, gfn_t end,
			   unsigned int types)
{
	mmu_write_lock(kvm);
	kvm_mmu_invalidate_begin(kvm);
	kvm_mmu_invalidate_range_add(kvm, start, end);
	if (kvm_tdp_mmu_zap_leafs_in_roots(kvm, types, start, end, true, false))
		kvm_flush_remote_tlbs_range(kvm, start, end - start);
	kvm_mmu_invalidate_end(kvm);
	mmu_write_unlock(kvm);
}

int kvm_mmu_get_external_cache(struct kvm *kvm, struct kvm_vcpu *vcpu)
{
	if (!kvm->x86_ops.get_external_cache)
		return 0;
	return kvm->x86_ops.get_external_cache(kvm, vcpu);
}

void kvm_mmu_put_external_cache(struct kvm *kvm)
{
	if (kvm->x86_ops.put_external_cache)
		kvm->x86_ops.put_external_cache(kvm);
}

int kvm_mmu_topup_external_cache(struct kvm *kvm)
{
	if (!kvm->x86_ops.topup_external_cache)
		return 0;
	return kvm->x86_ops.topup_external_cache(kvm);
}

bool kvm_gfn_range_is_precise(struct kvm *kvm, const struct kvm_gfn_range *range)
{
	return kvm_has_mirrored_tdp(kvm) && (range->attr_filter & KVM_FILTER_PRIVATE);
}

int kvm_split_cross_boundary_leafs(struct kvm *kvm, struct kvm_gfn_range *range)
{
	lockdep_assert_held_write(kvm);
	if (!kvm_gfn_range_is_precise(kvm, range))
		return 0;
	return kvm_tdp_mmu_split_cross_boundary(kvm, range->start, range->end,
						kvm->policy.split_boundary);
}

int kvm_unmap_gfn_range_precise(struct kvm *kvm, struct kvm_gfn_range *range,
				bool must_zap, bool *flush)
{
	bool precise = kvm_gfn_range_is_precise(kvm, range);
	int r;

	if (precise)
		observe_private_zap(kvm, range->start, range->end, TDPSIM_ZAP_BEGIN);
	r = kvm_split_cross_boundary_leafs(kvm, range);
	if (r && !must_zap) {
		if (precise)
			observe_private_zap(kvm, range->start, range->end,
					    TDPSIM_ZAP_ABORTED);
		return r;
	}
	*flush |= kvm_unmap_gfn_range(kvm, range);
	if (precise)
		observe_private_zap(kvm, range->start, range->end, TDPSIM_ZAP_DONE);
	return r;
}

void kvm_mmu_zap_memslot(struct kvm *kvm, struct kvm_memory_slot *slot)
{
	struct kvm_gfn_range range = {
		.slot = slot,
		.start = slot->base_gfn,
		.end = slot->base_gfn + slot->npages,
		.attr_filter = KVM_FILTER_PRIVATE | KVM_FILTER_SHARED,
		.may_block = true,
	};
	bool flush = false, cache;

	/* No leaf crosses a memslot's edge, so nothing needs splitting;
	 * deletion cannot fail, so zap even if a split could not be done
	 * (or its cache not be filled: it then runs dry, -ENOMEM). */
	cache = !kvm_mmu_get_external_cache(kvm, NULL);
	mmu_write_lock(kvm);
	(void)kvm_unmap_gfn_range_precise(kvm, &range, true, &flush);
	if (flush)
		kvm_flush_remote_tlbs_range(kvm, range.start, slot->npages);
	mmu_write_unlock(kvm);
	if (cache)
		kvm_mmu_put_external_cache(kvm);
}

/* ---- mapping level ---- */

/* host_pfn_mapping_level(): the host page size of the slot's memory. */
static int host_pfn_mapping_level(const struct kvm_memory_slot *slot)
{
	return slot->host_page_level;
}

static int max_mapping_level(struct kvm *kvm, struct kvm_memory_slot *slot,
			     gfn_t gfn, int max_level, bool is_private, bool peek)
{
	int host_level;

	if (max_level > KVM_MAX_HUGEPAGE_LEVEL)
		max_level = KVM_MAX_HUGEPAGE_LEVEL;
	for (; max_level > PG_LEVEL_4K; max_level--) {
		uint32_t disallow = peek ? lpage_info_peek(slot, max_level, gfn) :
				    lpage_info_read(kvm, slot, max_level, gfn);

		if (!disallow)
			break;
	}
	if (is_private)
		return max_level;
	if (max_level == PG_LEVEL_4K)
		return PG_LEVEL_4K;
	host_level = host_pfn_mapping_level(slot);
	return host_level < max_level ? host_level : max_level;
}

int __kvm_mmu_max_mapping_level(struct kvm *kvm, struct kvm_memory_slot *slot,
				gfn_t gfn, int max_level, bool is_private)
{
	return max_mapping_level(kvm, slot, gfn, max_level, is_private, false);
}

int kvm_mmu_max_mapping_level_peek(struct kvm *kvm, struct kvm_memory_slot *slot,
				   gfn_t gfn, int max_level, bool is_private)
{
	return max_mapping_level(kvm, slot, gfn, max_level, is_private, true);
}

int kvm_mmu_max_mapping_level(struct kvm *kvm, struct kvm_memory_slot *slot,
			      gfn_t gfn)
{
	bool is_private = kvm_slot_can_be_private(slot) && kvm_mem_is_private(kvm, gfn);

	return __kvm_mmu_max_mapping_level(kvm, slot, gfn, PG_LEVEL_NUM, is_private);
}

void kvm_mmu_hugepage_adjust(struct kvm_vcpu *vcpu, struct kvm_page_fault *fault)
{
	struct kvm_memory_slot *slot = fault->slot;

	fault->huge_page_disallowed = false;	/* no NX huge pages */
	if (unlikely(fault->max_level == PG_LEVEL_4K))
		return;
	if (kvm_slot_dirty_track_enabled(slot))
		return;

	fault->req_level = __kvm_mmu_max_mapping_level(vcpu->kvm, slot, fault->gfn,
						       fault->max_level,
						       fault->is_private);
	if (fault->req_level == PG_LEVEL_4K || fault->huge_page_disallowed)
		return;

	fault->goal_level = fault->req_level;
	TDPSIM_WARN_ON_ONCE((fault->gfn ^ fault->pfn) &
			    (KVM_PAGES_PER_HPAGE(fault->goal_level) - 1));
	fault->pfn &= ~(KVM_PAGES_PER_HPAGE(fault->goal_level) - 1);
}

/* ---- the fault path ---- */

int mmu_topup_memory_caches(struct kvm_vcpu *vcpu)
{
	struct kvm *kvm = vcpu->kvm;
	int r;

	/* One table per level is the most a walk can need. */
	r = kvm_mmu_topup_memory_cache(kvm, &vcpu->mmu_shadow_page_cache,
				       PT64_ROOT_MAX_LEVEL);
	if (r)
		return r;
	r = kvm_mmu_topup_memory_cache(kvm, &vcpu->mmu_page_header_cache,
				       PT64_ROOT_MAX_LEVEL);
	if (r)
		return r;
	/* The vendor's caches (the kernel's topup_external_cache op). */
	if (kvm->x86_ops.topup_fault_cache)
		return kvm->x86_ops.topup_fault_cache(vcpu);
	return 0;
}

/* kvm_mmu_prepare_memory_fault_exit(): userspace must convert. */
static int kvm_mmu_memory_fault_exit(struct kvm_page_fault *fault)
{
	fault->memory_fault_exit = true;
	return -EFAULT;
}

/*
 * kvm_mmu_faultin_pfn() - snapshot the invalidation sequence, then find
 * what backs the GFN. Returns RET_PF_CONTINUE with fault->pfn set, another
 * RET_PF_* or -EFAULT for a memory-fault exit.
 */
static int kvm_mmu_faultin_pfn(struct kvm_vcpu *vcpu, struct kvm_page_fault *fault)
{
	struct kvm *kvm = vcpu->kvm;
	struct kvm_memory_slot *slot;

	fault->mmu_seq = atomic_load_explicit(&kvm->mmu_invalidate_seq,
					      memory_order_acquire);

	if (kvm_has_private_mem(kvm) &&
	    fault->is_private != kvm_mem_is_private(kvm, fault->gfn))
		return kvm_mmu_memory_fault_exit(fault);

	slot = search_memslots(kvm_memslots(kvm), fault->gfn, &vcpu->last_used_slot);
	fault->slot = slot;
	if (!slot) {
		/* kvm_handle_noslot_fault(): MMIO caching is off in this
		 * model, so no MMIO SPTE: emulate. */
		if (fault->is_private)
			return kvm_mmu_memory_fault_exit(fault);
		return RET_PF_EMULATE;
	}
	if (slot_flags(slot) & KVM_MEMSLOT_INVALID)
		return RET_PF_RETRY;

	if (mmu_invalidate_retry_gfn_unsafe(kvm, fault->mmu_seq, fault->gfn))
		return RET_PF_RETRY;

	/* kvm_mmu_faultin_pfn_private(): guest_memfd backs private memory
	 * (lib/vm_gmem.c); a slot without one cannot. */
	if (fault->is_private) {
		int r = kvm_mmu_faultin_pfn_private(vcpu, fault);

		if (r == -EFAULT)
			return kvm_mmu_memory_fault_exit(fault);
		if (r != RET_PF_CONTINUE)
			return r;
		/* tdx_gmem_private_max_mapping_level() */
		if (kvm->config.type == TDPSIM_VM_TDX) {
			int tdx_level = tdx_gmem_private_max_mapping_level(kvm);

			if (fault->max_level > tdx_level)
				fault->max_level = tdx_level;
		}
		if (mmu_invalidate_retry_gfn_unsafe(kvm, fault->mmu_seq, fault->gfn))
			return RET_PF_RETRY;
		return RET_PF_CONTINUE;
	}

	/* __kvm_faultin_pfn(): the slot's host memory. A write to a
	 * read-only slot is emulated (KVM_PFN_ERR_RO_FAULT). */
	if ((slot_flags(slot) & KVM_MEM_READONLY) && fault->write)
		return RET_PF_EMULATE;
	fault->map_writable = !(slot_flags(slot) & KVM_MEM_READONLY);
	fault->pfn = gfn_to_host_pfn(slot, fault->gfn);
	return RET_PF_CONTINUE;
}

/* is_page_fault_stale(): mmu_lock held. */
static bool is_page_fault_stale(struct kvm_vcpu *vcpu, struct kvm_page_fault *fault)
{
	struct kvm_mmu_page *root = vcpu->root;

	if (root && atomic_load_explicit(&root->role.invalid, memory_order_relaxed))
		return true;
	return fault->slot &&
	       mmu_invalidate_retry_gfn(vcpu->kvm, fault->mmu_seq, fault->gfn);
}

/*
 * kvm_tdp_mmu_page_fault() - one attempt: top up the caches, fault the pfn
 * in, then map under the read lock. The whole attempt stays inside one RCU
 * read-side section (the kernel's kvm->srcu), which is what lets memslot
 * deletion wait for faults that already looked the slot up.
 */
static int kvm_tdp_mmu_page_fault(struct kvm_vcpu *vcpu, struct kvm_page_fault *fault)
{
	struct kvm *kvm = vcpu->kvm;
	int r;

	r = mmu_topup_memory_caches(vcpu);
	if (r)
		return r;

	fault->goal_level = PG_LEVEL_4K;
	fault->req_level = PG_LEVEL_4K;
	fault->max_level = KVM_MAX_HUGEPAGE_LEVEL;
	fault->mapped_level = 0;

	kvm_rcu_read_lock(kvm);
	r = kvm_mmu_faultin_pfn(vcpu, fault);
	if (r != RET_PF_CONTINUE)
		goto out_rcu;

	mmu_read_lock(kvm);
	if (is_page_fault_stale(vcpu, fault))
		r = RET_PF_RETRY;
	else
		r = kvm_tdp_mmu_map(vcpu, fault);
	mmu_read_unlock(kvm);
out_rcu:
	kvm_rcu_read_unlock(kvm);
	return r;
}

int kvm_mmu_page_fault(struct kvm_vcpu *vcpu, struct kvm_page_fault *fault,
		       unsigned int *ret_retries)
{
	struct kvm *kvm = vcpu->kvm;
	unsigned int retries = 0;
	int r;

	counter_inc(&kvm->stats, TDPSIM_STAT_FAULT);
	for (;;) {
		r = kvm_tdp_mmu_page_fault(vcpu, fault);
		if (r != RET_PF_RETRY)
			break;
		/* A bugged VM is dead: its vCPUs do not run again. */
		if (atomic_load(&kvm->vm_bugged)) {
			r = -EIO;
			break;
		}
		counter_inc(&kvm->stats, TDPSIM_STAT_FAULT_RETRY);
		if (++retries >= kvm->policy.fault_retries) {
			observe_fault_stuck(kvm, fault->gfn, retries);
			r = -EAGAIN;
			break;
		}
		/* Let whoever made us retry (an invalidation) finish. */
		kvm_sched_yield(kvm);
	}
	KVM_BUG_ON(r == RET_PF_INVALID || r == RET_PF_CONTINUE, kvm);
	if (r == -EFAULT || r == RET_PF_EMULATE)
		counter_inc(&kvm->stats, TDPSIM_STAT_FAULT_EXIT);
	else if (r == RET_PF_SPURIOUS)
		counter_inc(&kvm->stats, TDPSIM_STAT_FAULT_SPURIOUS);
	*ret_retries = retries;
	return r;
}
