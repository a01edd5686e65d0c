/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * lpage_info.h - per-memslot struct kvm_lpage_info for 2M and 1G
 * (arch/x86/kvm/x86.c kvm_alloc_memslot_metadata, mmu.c lpage_info_slot,
 * hugepage_*_mixed, kvm_arch_post_set_memory_attributes).
 *
 * Each huge page of a slot has a disallow_lpage value: a count of reasons
 * (slot misalignment sets 1), KVM_LPAGE_MIXED_FLAG (bit 31) and the TDX
 * guest-inhibit flag (bit 30, only ever set). The values live in chunks of
 * 1024 allocated on first non-zero write, so a 16 TiB slot costs a pointer
 * per 2 GiB plus what is actually set.
 *
 * All reads and writes of a value go through lpage_info_read() and
 * lpage_info_write() (observed: lpage_access), except lpage_info_peek(),
 * the lock-free inspection read.
 */
#ifndef TDPSIM_LPAGE_INFO_H
#define TDPSIM_LPAGE_INFO_H

#include "kvm.h"

/* gfn_to_index(): @gfn's huge page at @level, counted from the slot's. */
static inline uint64_t gfn_to_index(gfn_t gfn, gfn_t base_gfn, int level)
{
	return (gfn >> KVM_HPAGE_GFN_SHIFT(level)) -
	       (base_gfn >> KVM_HPAGE_GFN_SHIFT(level));
}

/* Set up the slot's lpage_info with the misalignment reasons. 0/-ENOMEM. */
int kvm_alloc_memslot_metadata(struct kvm *kvm, struct kvm_memory_slot *slot);
void kvm_free_memslot_metadata(struct kvm *kvm, struct kvm_memory_slot *slot);

/* Make sure the value for @gfn at @level can be written without
 * allocating (call before taking mmu_lock). 0 or -ENOMEM. */
int lpage_info_prepare(struct kvm *kvm, struct kvm_memory_slot *slot, int level,
		       gfn_t gfn);

uint32_t lpage_info_read(struct kvm *kvm, const struct kvm_memory_slot *slot,
			 int level, gfn_t gfn);
void lpage_info_write(struct kvm *kvm, struct kvm_memory_slot *slot, int level,
		      gfn_t gfn, uint32_t value);
/* The value as it is, lock-free and unobserved (inspection). */
uint32_t lpage_info_peek(const struct kvm_memory_slot *slot, int level, gfn_t gfn);

/* hugepage_set_guest_inhibit(): set bit 30 (write lock); never cleared. */
void hugepage_set_guest_inhibit(struct kvm *kvm, struct kvm_memory_slot *slot,
				gfn_t gfn, int level);

/*
 * kvm_mmu_init_memslot_memory_attributes() - MIXED for every huge page of a
 * new slot of a VM with private memory.
 */
int kvm_mmu_init_memslot_memory_attributes(struct kvm *kvm,
					   struct kvm_memory_slot *slot);

/* Allocate what kvm_arch_post_set_memory_attributes() may write for a
 * change of [start, end) in @slot. 0 or -ENOMEM. */
int kvm_arch_prepare_set_memory_attributes(struct kvm *kvm,
					   struct kvm_memory_slot *slot,
					   gfn_t start, gfn_t end);

/*
 * kvm_arch_post_set_memory_attributes() - recompute MIXED for the huge
 * pages of [start, end) (clipped to @slot) now @private: head and tail
 * recomputed, covered pages cleared, 2M before 1G. Write lock held.
 */
void kvm_arch_post_set_memory_attributes(struct kvm *kvm,
					 struct kvm_memory_slot *slot,
					 gfn_t start, gfn_t end, bool private_mem);

#endif /* TDPSIM_LPAGE_INFO_H */
