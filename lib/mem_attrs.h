/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mem_attrs.h - memory attributes (KVM_SET_MEMORY_ATTRIBUTES, kvm_main.c),
 * kept as sorted private ranges. The set is replaced, never changed in
 * place (copy on write under slots_lock), and published with a release
 * store, so the fault path reads it lock-free inside an RCU section.
 */
#ifndef TDPSIM_MEM_ATTRS_H
#define TDPSIM_MEM_ATTRS_H

#include "kvm.h"

/* kvm_mem_is_private(). RCU read side (or slots_lock). */
bool kvm_mem_is_private(struct kvm *kvm, gfn_t gfn);

/* kvm_range_has_memory_attributes(): all of [start, end) is @private. */
bool kvm_range_has_memory_attributes(struct kvm *kvm, gfn_t start, gfn_t end,
				     bool private_mem);

/* The first GFN after @gfn where the attribute changes, or @limit. */
gfn_t kvm_mem_attr_next_boundary(struct kvm *kvm, gfn_t gfn, gfn_t limit);

/*
 * kvm_vm_set_mem_attributes() - the KVM_SET_MEMORY_ATTRIBUTES flow for
 * [start, end): invalidate begin, zap the old kind's mappings, store,
 * invalidate end and recompute lpage_info. Takes slots_lock and mmu_lock.
 */
int kvm_vm_set_mem_attributes(struct kvm *kvm, gfn_t start, gfn_t end,
			      bool private_mem);

/* Free the attribute set (teardown). */
void kvm_mem_attrs_destroy(struct kvm *kvm);

#endif /* TDPSIM_MEM_ATTRS_H */
