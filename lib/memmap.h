/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * memmap.h - the kernel's page->private for page-table pages: finding the
 * kvm_mmu_page header of a page table from any pointer into it
 * (sptep_to_sp(), spte_to_child_sp()).
 *
 * A radix tree over the page's PFN (address >> 12), four levels of 512
 * like the page tables themselves. Readers are lock-free (acquire loads);
 * nodes are only added, by kvm_memmap_prepare(), which may allocate and so
 * runs before mmu_lock is taken; set_page_private() then never allocates.
 * Nodes live until the VM is torn down.
 */
#ifndef TDPSIM_MEMMAP_H
#define TDPSIM_MEMMAP_H

#include <stdatomic.h>
#include <stdint.h>

struct kvm;
struct kvm_mmu_page;

#define MEMMAP_LEVELS	4

struct kvm_memmap {
	_Atomic(void *) root;		/* top node: 512 pointers */
};

/* Make sure @page has a slot. 0 or -ENOMEM. May allocate: no mmu_lock. */
int kvm_memmap_prepare(struct kvm *kvm, const void *page);

/* Record (or with NULL clear) @sp as the header of @page (prepared). */
void set_page_private(struct kvm *kvm, const void *page, struct kvm_mmu_page *sp);

/* The header of the page holding @p, or NULL. Lock-free. */
struct kvm_mmu_page *page_private(struct kvm *kvm, const void *p);

/* Free every node (teardown, after the RCU barrier). */
void kvm_memmap_destroy(struct kvm *kvm);

#endif /* TDPSIM_MEMMAP_H */
