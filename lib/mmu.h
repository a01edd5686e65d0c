/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mmu.h - the MMU entry points around the TDP MMU (arch/x86/kvm/mmu/mmu.c):
 * the page-fault descriptor and path, kvm_mmu_hugepage_adjust(), the max
 * mapping level, the mmu invalidation sequence, TLB flushes and range zaps.
 */
#ifndef TDPSIM_MMU_H
#define TDPSIM_MMU_H

#include "kvm.h"

/* Page-fault return codes (mmu_internal.h). */
enum {
	RET_PF_CONTINUE = 0,
	RET_PF_RETRY,
	RET_PF_EMULATE,
	RET_PF_WRITE_PROTECTED,
	RET_PF_INVALID,
	RET_PF_FIXED,
	RET_PF_SPURIOUS,
};

/* struct kvm_page_fault, the fields the TDP MMU model uses. */
struct kvm_page_fault {
	gfn_t gfn;			/* faulting GFN (no alias bits) */
	bool exec;			/* instruction fetch */
	bool write;			/* write access */
	bool prefetch;			/* KVM_PRE_FAULT_MEMORY-style, no A bit */
	bool is_private;		/* PFERR_PRIVATE_ACCESS */
	bool huge_page_disallowed;	/* NX huge pages (always false here) */
	bool memory_fault_exit;		/* ended in KVM_EXIT_MEMORY_FAULT */
	struct kvm_memory_slot *slot;	/* the memslot, NULL if none */
	unsigned long mmu_seq;		/* mmu_invalidate_seq snapshot */
	kvm_pfn_t pfn;			/* host PFN; aligned by hugepage_adjust */
	bool map_writable;		/* the host mapping is writable */
	int max_level;			/* cap from the backing (pfn, gmem) */
	int req_level;			/* what lpage_info and the host allow */
	int goal_level;			/* level to map at */
	int mapped_level;		/* level of the leaf mapping gfn after
					 * RET_PF_FIXED/SPURIOUS */
};

/* A range for the zap/invalidate paths (struct kvm_gfn_range). */
struct kvm_gfn_range {
	struct kvm_memory_slot *slot;	/* the memslot it lies in (may be NULL) */
	gfn_t start;			/* first GFN */
	gfn_t end;			/* one past the last */
	unsigned int attr_filter;	/* KVM_FILTER_* */
	bool may_block;			/* the zap may yield */
};

/*
 * kvm_gfn_range_in_slot() - the part of [start, end) inside @slot, as a
 * range that may block; attr_filter is the caller's. Returns false (and
 * leaves @range alone) if they do not overlap.
 */
static inline bool kvm_gfn_range_in_slot(struct kvm_memory_slot *slot,
					 gfn_t start, gfn_t end,
					 struct kvm_gfn_range *range)
{
	gfn_t s = slot->base_gfn, e = slot->base_gfn + slot->npages;

	if (end <= s || start >= e)
		return false;
	range->slot = slot;
	range->start = start > s ? start : s;
	range->end = end < e ? end : e;
	range->may_block = true;
	return true;
}

/* Highest GFN + 1 the VM's roots can map (tdp_mmu_max_gfn_exclusive()). */
static inline gfn_t tdp_mmu_max_gfn_exclusive(const struct kvm *kvm)
{
	int bits = 9 * kvm->arch.root_level;

	/* GPA width 48 (4-level) or 52 (MAXPHYADDR) for 5-level roots. */
	if (bits > 52 - PAGE_SHIFT)
		bits = 52 - PAGE_SHIFT;
	/* TDX: GFNs stop below the shared bit (kvm_arch_prepare_memory_region()
	 * refuses a memslot that aliases it, kvm_is_gfn_alias()). */
	if (kvm_gfn_direct_bits(kvm))
		return kvm_gfn_direct_bits(kvm);
	return (gfn_t)1 << bits;
}

/* [gfn, gfn + @npages) is non-empty, does not wrap and the roots can map it. */
static inline bool kvm_gfn_range_mappable(const struct kvm *kvm, gfn_t gfn,
					  uint64_t npages)
{
	return npages && gfn + npages > gfn &&
	       gfn + npages <= tdp_mmu_max_gfn_exclusive(kvm);
}

/* TLB flushes (kvm_flush_remote_tlbs*): count tlb.flush, observe. */
void kvm_flush_remote_tlbs(struct kvm *kvm);
void kvm_flush_remote_tlbs_range(struct kvm *kvm, gfn_t gfn, uint64_t npages);
static inline void kvm_flush_remote_tlbs_gfn(struct kvm *kvm, gfn_t gfn, int level)
{
	kvm_flush_remote_tlbs_range(kvm, gfn_round_for_level(gfn, level),
				    KVM_PAGES_PER_HPAGE(level));
}

/* The mmu invalidation sequence (kvm_main.c), all under the write lock. */
void kvm_mmu_invalidate_begin(struct kvm *kvm);
void kvm_mmu_invalidate_range_add(struct kvm *kvm, gfn_t start, gfn_t end);
void kvm_mmu_invalidate_end(struct kvm *kvm);
bool mmu_invalidate_retry_gfn(struct kvm *kvm, unsigned long mmu_seq, gfn_t gfn);
bool mmu_invalidate_retry_gfn_unsafe(struct kvm *kvm, unsigned long mmu_seq,
				     gfn_t gfn);

/* kvm_unmap_gfn_range(): zap @range; an invalidation must be in progress
 * (or slots_lock held). Returns true if a TLB flush is needed. */
bool kvm_unmap_gfn_range(struct kvm *kvm, struct kvm_gfn_range *range);

/* The zap of @range must be precise: a private range of a mirror root. */
bool kvm_gfn_range_is_precise(struct kvm *kvm, const struct kvm_gfn_range *range);

/*
 * kvm_split_cross_boundary_leafs() - P-YZ3: before a private zap of @range
 * in the mirror root, split the huge leaves that straddle its ends, as
 * policy split.boundary says (kvm_tdp_mmu_split_cross_boundary()). Nothing
 * for other ranges and VMs. Write lock held (dropped to allocate). Returns
 * 0 or -ENOMEM. No flush: nothing was zapped.
 */
int kvm_split_cross_boundary_leafs(struct kvm *kvm, struct kvm_gfn_range *range);

/*
 * kvm_mmu_get_external_cache() - before mmu_lock on a path that may split
 * mirror huge pages: fill the cache the external hook takes the new S-EPT
 * page (and PAMT pairs) from, @vcpu's own or the VM's (tdx.split-cache).
 * 0 (also for VMs without mirror roots) or -ENOMEM; after 0 the caller
 * calls kvm_mmu_put_external_cache() after dropping mmu_lock.
 */
int kvm_mmu_get_external_cache(struct kvm *kvm, struct kvm_vcpu *vcpu);
void kvm_mmu_put_external_cache(struct kvm *kvm);

/* Refill the cache selected by kvm_mmu_get_external_cache(), with mmu_lock
 * dropped (the split loop's allocation point). 0 or -ENOMEM. */
int kvm_mmu_topup_external_cache(struct kvm *kvm);

/*
 * kvm_unmap_gfn_range_precise() - kvm_unmap_gfn_range() with the precise
 * private zap: tell the observer (private_zap), split the boundaries, zap.
 * If the split fails the zap is not done and the error returned, unless
 * @must_zap (memory failure, slot deletion, release: nothing can refuse),
 * in which case the range is zapped anyway (over-zapping) and the error
 * still returned. ORs into @flush whether a TLB flush is due. Write lock
 * held.
 */
int kvm_unmap_gfn_range_precise(struct kvm *kvm, struct kvm_gfn_range *range,
				bool must_zap, bool *flush);

/*
 * kvm_mmu_zap_gfn_range() - kvm_zap_gfn_range(): invalidate begin, zap
 * [start, end) in the roots @types (KVM_DIRECT_ROOTS, KVM_MIRROR_ROOTS),
 * flush, invalidate end. Takes mmu_lock for write.
 */
void kvm_mmu_zap_gfn_range(struct kvm *kvm, gfn_t start, gfn_t end,
			   unsigned int types);

/* kvm_mmu_zap_memslot(): zap everything @slot maps (slot deletion). */
void kvm_mmu_zap_memslot(struct kvm *kvm, struct kvm_memory_slot *slot);

/*
 * __kvm_mmu_max_mapping_level() - the largest level at most @max_level that
 * lpage_info and (for shared memory) the host page size allow for @gfn.
 * Reads lpage_info: call with mmu_lock held.
 */
int __kvm_mmu_max_mapping_level(struct kvm *kvm, struct kvm_memory_slot *slot,
				gfn_t gfn, int max_level, bool is_private);
int kvm_mmu_max_mapping_level(struct kvm *kvm, struct kvm_memory_slot *slot,
			      gfn_t gfn);
/* The same from lpage_info as it is, unobserved, without mmu_lock (the
 * inspection API). */
int kvm_mmu_max_mapping_level_peek(struct kvm *kvm, struct kvm_memory_slot *slot,
				   gfn_t gfn, int max_level, bool is_private);
void kvm_mmu_hugepage_adjust(struct kvm_vcpu *vcpu, struct kvm_page_fault *fault);

/* kvm_mem_is_private(): the GFN's attribute (lock-free, RCU). */
bool kvm_mem_is_private(struct kvm *kvm, gfn_t gfn);

/* mmu_topup_memory_caches(): fill the vCPU's caches; no mmu_lock held. */
int mmu_topup_memory_caches(struct kvm_vcpu *vcpu);

/*
 * kvm_mmu_page_fault() - one EPT violation, retried on RET_PF_RETRY up to
 * the mmu.fault-retries policy. Returns RET_PF_FIXED, RET_PF_SPURIOUS,
 * RET_PF_EMULATE, or a negative errno: -EFAULT for a memory-fault exit
 * (fault->memory_fault_exit), -ENOMEM, -EAGAIN (stuck).
 */
int kvm_mmu_page_fault(struct kvm_vcpu *vcpu, struct kvm_page_fault *fault,
		       unsigned int *ret_retries);

#endif /* TDPSIM_MMU_H */
