/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mmu_cache.h - kvm_mmu_memory_cache: objects allocated before mmu_lock is
 * taken, so the fault path never allocates under it (virt/kvm/kvm_main.c).
 */
#ifndef TDPSIM_MMU_CACHE_H
#define TDPSIM_MMU_CACHE_H

#include "kvm.h"

/* Set up an empty cache of @kind objects (pages if @is_page). */
void kvm_mmu_memory_cache_init(struct kvm_mmu_memory_cache *mc,
			       enum tdpsim_alloc_kind kind, bool is_page,
			       size_t size, u64 init_value);

/*
 * kvm_mmu_topup_memory_cache() - fill @mc up to its capacity if it holds
 * fewer than @min objects. Returns 0, or -ENOMEM if it could not reach @min.
 * Allocates: never call with mmu_lock held.
 */
int kvm_mmu_topup_memory_cache(struct kvm *kvm, struct kvm_mmu_memory_cache *mc,
			       int min);

/*
 * kvm_mmu_memory_cache_alloc() - take one object. An empty cache is a model
 * bug (the caller did not top up): WARN and return NULL, never allocate.
 */
void *kvm_mmu_memory_cache_alloc(struct kvm *kvm, struct kvm_mmu_memory_cache *mc);

/* Free every object @mc holds. */
void kvm_mmu_free_memory_cache(struct kvm *kvm, struct kvm_mmu_memory_cache *mc);

#endif /* TDPSIM_MMU_CACHE_H */
