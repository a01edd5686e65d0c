/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * memslot.h - memslots (KVM_SET_USER_MEMORY_REGION2, kvm_main.c) and the
 * simulated host memory behind their shared pages.
 *
 * The slot set is an array sorted by GFN, replaced on every change under
 * slots_lock and published with a release store: the fault path looks a
 * GFN up lock-free inside its RCU section (the kernel's SRCU), before it
 * takes mmu_lock. A replaced set is freed after a grace period.
 */
#ifndef TDPSIM_MEMSLOT_H
#define TDPSIM_MEMSLOT_H

#include "kvm.h"

static inline struct kvm_memslots *kvm_memslots(struct kvm *kvm)
{
	return atomic_load_explicit(&kvm->memslots, memory_order_acquire);
}

/* @slot (may be NULL) holds @gfn; written so base_gfn + npages cannot wrap. */
static inline bool kvm_memslot_has_gfn(const struct kvm_memory_slot *slot, gfn_t gfn)
{
	return slot && gfn >= slot->base_gfn && gfn - slot->base_gfn < slot->npages;
}

/* The slot holding @gfn in @slots, or NULL. @hint: index to try first. */
struct kvm_memory_slot *search_memslots(struct kvm_memslots *slots, gfn_t gfn,
					unsigned int *hint);

/* gfn_to_memslot(): RCU read side or slots_lock. */
static inline struct kvm_memory_slot *gfn_to_memslot(struct kvm *kvm, gfn_t gfn)
{
	return search_memslots(kvm_memslots(kvm), gfn, NULL);
}

/* id_to_memslot(): RCU read side or slots_lock. */
struct kvm_memory_slot *id_to_memslot(struct kvm *kvm, uint32_t id);

/* Host PFN of @gfn's shared memory in @slot. */
static inline kvm_pfn_t gfn_to_host_pfn(const struct kvm_memory_slot *slot, gfn_t gfn)
{
	return slot->host_pfn + (gfn - slot->base_gfn);
}

int kvm_memslot_create(struct kvm *kvm, const struct tdpsim_memslot_config *cfg);
int kvm_memslot_delete(struct kvm *kvm, uint32_t id);

/* Teardown: free every slot and the set (no readers left). */
void kvm_memslots_destroy(struct kvm *kvm);

#endif /* TDPSIM_MEMSLOT_H */
