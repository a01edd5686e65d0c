/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mmu_cache.c - kvm_mmu_memory_cache (kvm_main.c: __kvm_mmu_topup_memory_cache,
 * kvm_mmu_memory_cache_alloc, kvm_mmu_free_memory_cache).
 *
 * Objects waiting in a cache are counted as TDPSIM_ALLOC_KIND_CACHE; taking
 * one moves it to the kind it becomes (page table, header), so the
 * allocator's live counts say what the memory is used for right now.
 */
#include <errno.h>

#include "mmu_cache.h"
#include "observe.h"

void kvm_mmu_memory_cache_init(struct kvm_mmu_memory_cache *mc,
			       enum tdpsim_alloc_kind kind, bool is_page,
			       size_t size, u64 init_value)
{
	mc->nobjs = 0;
	mc->capacity = KVM_ARCH_NR_OBJS_PER_MEMORY_CACHE;
	mc->is_page = is_page;
	mc->size = is_page ? TDPSIM_PAGE_SIZE : size;
	mc->kind = kind;
	mc->init_value = init_value;
}

/* Move one live object's accounting from kind @from to kind @to. */
static void alloc_retag(struct tdpsim_allocator *a, enum tdpsim_alloc_kind from,
			enum tdpsim_alloc_kind to, size_t size)
{
	atomic_fetch_sub_explicit(&a->live[from], 1, memory_order_relaxed);
	atomic_fetch_sub_explicit(&a->bytes[from], size, memory_order_relaxed);
	atomic_fetch_add_explicit(&a->live[to], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&a->bytes[to], size, memory_order_relaxed);
}

/* mmu_memory_cache_alloc_obj(): one object for the cache. */
static void *mmu_memory_cache_alloc_obj(struct kvm *kvm,
					struct kvm_mmu_memory_cache *mc)
{
	void *obj;

	if (mc->is_page)
		obj = alloc_page(&kvm->alloc, TDPSIM_ALLOC_KIND_CACHE);
	else
		obj = alloc_obj(&kvm->alloc, TDPSIM_ALLOC_KIND_CACHE, mc->size);
	if (!obj) {
		counter_inc(&kvm->stats, TDPSIM_STAT_ALLOC_FAIL);
		return NULL;
	}
	if (mc->is_page) {
		tdp_ptep_t pt = obj;

		/* A page table's header is found through page->private. */
		if (kvm_memmap_prepare(kvm, obj)) {
			free_page(&kvm->alloc, TDPSIM_ALLOC_KIND_CACHE, obj);
			return NULL;
		}
		if (mc->init_value)
			for (int i = 0; i < SPTE_ENT_PER_PAGE; i++)
				spte_write(&pt[i], mc->init_value);
	}
	return obj;
}

int kvm_mmu_topup_memory_cache(struct kvm *kvm, struct kvm_mmu_memory_cache *mc,
			       int min)
{
	TDPSIM_WARN_ON_ONCE(kvm_lock_mode(kvm) != TDPSIM_LOCK_NONE);
	sched_point(kvm, SCHED_CACHE_TOPUP);
	if (mc->nobjs >= min)
		return 0;
	while (mc->nobjs < mc->capacity) {
		void *obj = mmu_memory_cache_alloc_obj(kvm, mc);

		if (!obj)
			return mc->nobjs >= min ? 0 : -ENOMEM;
		mc->objects[mc->nobjs++] = obj;
	}
	return 0;
}

void *kvm_mmu_memory_cache_alloc(struct kvm *kvm, struct kvm_mmu_memory_cache *mc)
{
	void *obj;

	if (TDPSIM_WARN_ON_ONCE(!mc->nobjs))
		return NULL;
	obj = mc->objects[--mc->nobjs];
	alloc_retag(&kvm->alloc, TDPSIM_ALLOC_KIND_CACHE, mc->kind, mc->size);
	observe_alloc(kvm, mc->kind, mc->size, true);
	return obj;
}

void kvm_mmu_free_memory_cache(struct kvm *kvm, struct kvm_mmu_memory_cache *mc)
{
	while (mc->nobjs) {
		void *obj = mc->objects[--mc->nobjs];

		if (mc->is_page)
			free_page(&kvm->alloc, TDPSIM_ALLOC_KIND_CACHE, obj);
		else
			free_obj(&kvm->alloc, TDPSIM_ALLOC_KIND_CACHE, obj, mc->size);
	}
}
