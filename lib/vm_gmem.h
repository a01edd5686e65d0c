/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vm_gmem.h - guest_memfd wired into the VM (layer 3 over layer 4): the
 * VM's guest_memfd files by ID and the host memory behind them, memslot
 * binding, the invalidation callbacks (kvm_gmem_invalidate_begin/end ->
 * the MMU), private faults (kvm_mmu_faultin_pfn_private), and memory
 * attributes kept on the guest_memfd (attrs=gmem, in-place conversion).
 *
 * Lock order: slots_lock -> a file's invalidate lock -> mmu_lock -> the
 * file's inner lock -> host memory; the ID table's mutex is a leaf.
 */
#ifndef TDPSIM_VM_GMEM_H
#define TDPSIM_VM_GMEM_H

#include "kvm.h"
#include "mmu.h"

/* kvm_create_vm() flags. */
#define KVM_VM_TEST_MIRROR	(1u << 0)	/* TEST ONLY: a sw-protected VM
						 * whose private GFNs are mapped
						 * in a mirror root, with no TDX
						 * Module behind it, so the
						 * precise private zap can be
						 * exercised before TDX lands */

/*
 * kvm_create_vm() - tdpsim_vm_create() with internal @flags (tests and the
 * replay engine's test mode). KVM_VM_TEST_MIRROR needs type sw-protected.
 */
int kvm_create_vm(const struct tdpsim_vm_config *cfg, unsigned int flags,
		  struct tdpsim_vm **ret_vm);

/* ---- the table of files (VM creation and teardown) ---- */

/* Set up the VM's (empty) table of files and its host memory. 0/-ENOMEM. */
int kvm_gmem_table_init(struct kvm *kvm);
/*
 * kvm_gmem_table_release() - the VM's files are closed (kvm_gmem_release
 * for each): everything bound is zapped and every binding dropped. Call
 * before the MMU is torn down.
 */
void kvm_gmem_table_release(struct kvm *kvm);
/* Free every file, their memory and the table (after the MMU is gone). */
void kvm_gmem_table_destroy(struct kvm *kvm);
/* The file with @id, or NULL. Files live until teardown. */
struct kvm_gmem *kvm_gmem_lookup(struct kvm *kvm, uint32_t id);

/* ---- memslots (slots_lock held) ---- */

/*
 * kvm_gmem_slot_bind() - kvm_gmem_bind() for a new slot with a gmem_id:
 * the file must exist (-EINVAL); then the binding rules of kvm_gmem_bind
 * (-EINVAL, -EEXIST). Sets slot->gmem and slot->gmem_pgoff.
 */
int kvm_gmem_slot_bind(struct kvm *kvm, struct kvm_memory_slot *slot);
/* kvm_gmem_unbind() for a slot being deleted (after its zap). */
void kvm_gmem_slot_unbind(struct kvm *kvm, struct kvm_memory_slot *slot);

/* ---- faults ---- */

/*
 * kvm_mmu_faultin_pfn_private() - the PFN of a private fault from the
 * guest_memfd bound to fault->slot (kvm_gmem_get_pfn), and the largest
 * level its folio allows (kvm_max_private_mapping_level). Returns
 * RET_PF_CONTINUE with fault->pfn, ->max_level and ->map_writable set;
 * RET_PF_RETRY (an invalidation is in progress there); -EFAULT for a
 * memory-fault exit (no guest_memfd, file closed); -EHWPOISON; -EIO;
 * -ENOMEM.
 */
int kvm_mmu_faultin_pfn_private(struct kvm_vcpu *vcpu, struct kvm_page_fault *fault);

/*
 * kvm_gmem_max_private_level() - the largest level the guest_memfd folio
 * behind @gfn of @slot allows (kvm_gmem_max_mapping_level), without
 * allocating: PG_LEVEL_4K for a slot without guest_memfd or a poisoned
 * page.
 */
int kvm_gmem_max_private_level(struct kvm_memory_slot *slot, gfn_t gfn);

/* ---- attributes on the guest_memfd (attrs=gmem) ---- */

/*
 * Lock-free readers (RCU read side or slots_lock): a GFN is private if a
 * slot with a guest_memfd holds it and the file says so; anything else is
 * shared. The same answers kvm_mem_is_private() and friends give.
 */
bool kvm_gmem_mem_is_private(struct kvm *kvm, gfn_t gfn);
bool kvm_gmem_range_has_attributes(struct kvm *kvm, gfn_t start, gfn_t end,
				   bool private_mem);
gfn_t kvm_gmem_attr_next_boundary(struct kvm *kvm, gfn_t gfn, gfn_t limit);

/*
 * kvm_gmem_attr_slot_begin()/_end() - while a new slot is set up, before
 * it is published, let this thread's attribute queries see it (its MIXED
 * flags are computed from its file's attributes).
 */
void kvm_gmem_attr_slot_begin(struct kvm_memory_slot *slot);
void kvm_gmem_attr_slot_end(void);

/*
 * kvm_gmem_vm_set_attributes() - `convert` with attrs=gmem: route
 * [start, end) to the files bound there (KVM_SET_MEMORY_ATTRIBUTES2 per
 * file). Every GFN must lie in a slot with a guest_memfd (-EINVAL).
 * Returns 0, -EINVAL, -ENOMEM (pieces converted before stay converted).
 */
int kvm_gmem_vm_set_attributes(struct kvm *kvm, gfn_t start, gfn_t end,
			       bool private_mem);

#endif /* TDPSIM_VM_GMEM_H */
