/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * memmap.c - page->private for page-table pages, as a radix tree over PFNs.
 */
#include <errno.h>

#include "kvm.h"
#include "memmap.h"

#define MEMMAP_BITS	9
#define MEMMAP_FANOUT	(1u << MEMMAP_BITS)

typedef _Atomic(void *) memmap_node_t;

static unsigned int memmap_index(uint64_t pfn, int depth)
{
	return (pfn >> (MEMMAP_BITS * (MEMMAP_LEVELS - 1 - depth))) &
	       (MEMMAP_FANOUT - 1);
}

/* The leaf slot of @p, allocating missing nodes if @alloc. */
static memmap_node_t *memmap_slot(struct kvm *kvm, const void *p, bool alloc)
{
	uint64_t pfn = (uintptr_t)p >> PAGE_SHIFT;
	memmap_node_t *slot = &kvm->memmap.root;

	for (int depth = 0; depth < MEMMAP_LEVELS; depth++) {
		memmap_node_t *node = atomic_load_explicit(slot, memory_order_acquire);

		if (!node) {
			void *expected = NULL;

			if (!alloc)
				return NULL;
			node = alloc_page(&kvm->alloc, TDPSIM_ALLOC_KIND_MISC);
			if (!node) {
				counter_inc(&kvm->stats, TDPSIM_STAT_ALLOC_FAIL);
				return NULL;
			}
			if (!atomic_compare_exchange_strong(slot, &expected, node)) {
				free_page(&kvm->alloc, TDPSIM_ALLOC_KIND_MISC, node);
				node = expected;
			}
		}
		slot = &node[memmap_index(pfn, depth)];
	}
	return slot;
}

int kvm_memmap_prepare(struct kvm *kvm, const void *page)
{
	return memmap_slot(kvm, page, true) ? 0 : -ENOMEM;
}

void set_page_private(struct kvm *kvm, const void *page, struct kvm_mmu_page *sp)
{
	memmap_node_t *slot = memmap_slot(kvm, page, false);

	if (TDPSIM_WARN_ON_ONCE(!slot))
		return;
	atomic_store_explicit(slot, sp, memory_order_release);
}

struct kvm_mmu_page *page_private(struct kvm *kvm, const void *p)
{
	memmap_node_t *slot = memmap_slot(kvm, p, false);

	return slot ? atomic_load_explicit(slot, memory_order_acquire) : NULL;
}

static void memmap_free(struct kvm *kvm, memmap_node_t *node, int depth)
{
	if (depth < MEMMAP_LEVELS - 1) {
		for (unsigned int i = 0; i < MEMMAP_FANOUT; i++) {
			memmap_node_t *child = atomic_load(&node[i]);

			if (child)
				memmap_free(kvm, child, depth + 1);
		}
	}
	free_page(&kvm->alloc, TDPSIM_ALLOC_KIND_MISC, node);
}

void kvm_memmap_destroy(struct kvm *kvm)
{
	memmap_node_t *root = atomic_exchange(&kvm->memmap.root, NULL);

	if (root)
		memmap_free(kvm, root, 0);
}
