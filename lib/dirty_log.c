/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * dirty_log.c - KVM_MEM_LOG_DIRTY_PAGES and KVM_CLEAR_DIRTY_LOG
 * (x86.c kvm_mmu_slot_apply_flags; mmu.c kvm_mmu_slot_try_split_huge_pages,
 * kvm_mmu_slot_remove_write_access, kvm_arch_mmu_enable_log_dirty_pt_masked,
 * kvm_mmu_recover_huge_pages). No PML: write-protection does the logging.
 */
#include <errno.h>

#include "memslot.h"
#include "mmu.h"
#include "scheduler.h"
#include "tdp_mmu.h"

/* kvm_mmu_slot_apply_flags() for a slot that just started logging. */
static int kvm_mmu_slot_enable_logging(struct kvm *kvm, struct kvm_memory_slot *slot)
{
	gfn_t start = slot->base_gfn, end = start + slot->npages;
	int r = 0;

	/* Read-only slots have nothing writable; manual-protect with
	 * initially-set assumes everything dirty and protects per clear. */
	if (slot_flags(slot) & (KVM_MEM_READONLY | KVM_MEMSLOT_MANUAL_PROTECT))
		return 0;

	if (kvm->policy.eager_split) {
		/* kvm_mmu_slot_try_split_huge_pages(): shared. */
		mmu_read_lock(kvm);
		r = kvm_tdp_mmu_try_split_huge_pages(kvm, KVM_VALID_ROOTS, start, end,
						     PG_LEVEL_4K, true);
		mmu_read_unlock(kvm);
	}

	/* kvm_mmu_slot_remove_write_access(slot, PG_LEVEL_4K), even after a
	 * failed split: what stayed huge must not stay writable. The flush
	 * the kernel does after unlocking is done before, so no vCPU holds a
	 * writable translation once mmu_lock is released. */
	mmu_read_lock(kvm);
	if (kvm_tdp_mmu_wrprot_slot(kvm, slot, PG_LEVEL_4K))
		kvm_flush_remote_tlbs_range(kvm, start, slot->npages);
	mmu_read_unlock(kvm);
	return r;
}

int tdpsim_memslot_set_dirty_log(struct tdpsim_vm *vm, uint32_t id, bool on,
				 bool manual)
{
	struct kvm *kvm = to_kvm(vm);
	struct kvm_memory_slot *slot;
	int r = 0;

	if (kvm->dead)
		return -ENODEV;
	kvm_mutex_lock(kvm, &kvm->slots_lock);
	slot = id_to_memslot(kvm, id);
	if (!slot) {
		r = -ENOENT;
		goto out;
	}
	if (kvm_slot_can_be_private(slot)) {
		r = -EINVAL;
		goto out;
	}
	if (on == kvm_slot_dirty_track_enabled(slot))
		goto out;

	if (on) {
		atomic_fetch_or(&slot->flags, KVM_MEM_LOG_DIRTY_PAGES |
				(manual ? KVM_MEMSLOT_MANUAL_PROTECT : 0));
		r = kvm_mmu_slot_enable_logging(kvm, slot);
	} else {
		atomic_fetch_and(&slot->flags, ~(KVM_MEM_LOG_DIRTY_PAGES |
						 KVM_MEMSLOT_MANUAL_PROTECT));
		/* kvm_mmu_recover_huge_pages() */
		mmu_read_lock(kvm);
		kvm_tdp_mmu_recover_huge_pages(kvm, slot);
		mmu_read_unlock(kvm);
	}
out:
	kvm_mutex_unlock(kvm, &kvm->slots_lock);
	return r;
}

/*
 * kvm_arch_mmu_enable_log_dirty_pt_masked() - write-protect the 4K pages
 * @mask names in the 64 from slot page @offset; with manual-protect
 * (initially set), split the window's huge pages first.
 */
static int kvm_arch_mmu_enable_log_dirty_pt_masked(struct kvm *kvm,
						   struct kvm_memory_slot *slot,
						   uint64_t offset, uint64_t mask)
{
	gfn_t base = slot->base_gfn + offset;
	int r = 0;

	if (slot_flags(slot) & KVM_MEMSLOT_MANUAL_PROTECT) {
		gfn_t start = base + __builtin_ctzll(mask);
		gfn_t end = base + 63 - __builtin_clzll(mask);

		if (kvm->policy.eager_split)
			r = kvm_tdp_mmu_try_split_huge_pages(kvm, KVM_VALID_ROOTS,
							     start, end + 1,
							     PG_LEVEL_4K, false);
		/* Huge mappings that remain at either end lose W. */
		kvm_tdp_mmu_write_protect_gfn(kvm, start, PG_LEVEL_2M);
		if (gfn_round_for_level(start, PG_LEVEL_2M) !=
		    gfn_round_for_level(end, PG_LEVEL_2M))
			kvm_tdp_mmu_write_protect_gfn(kvm, end, PG_LEVEL_2M);
	}
	kvm_tdp_mmu_clear_dirty_pt_masked(kvm, base, mask, true);
	return r;
}

int tdpsim_memslot_clear_dirty(struct tdpsim_vm *vm, uint32_t id, uint64_t first,
			       uint64_t mask)
{
	struct kvm *kvm = to_kvm(vm);
	struct kvm_memory_slot *slot;
	int r = 0;

	if (kvm->dead)
		return -ENODEV;
	kvm_mutex_lock(kvm, &kvm->slots_lock);
	slot = id_to_memslot(kvm, id);
	if (!slot) {
		r = -ENOENT;
		goto out;
	}
	if (!kvm_slot_dirty_track_enabled(slot) || first % 64 ||
	    first >= slot->npages) {
		r = -EINVAL;
		goto out;
	}
	if (slot->npages - first < 64)
		mask &= (1ULL << (slot->npages - first)) - 1;
	if (!mask)
		goto out;

	mmu_write_lock(kvm);
	r = kvm_arch_mmu_enable_log_dirty_pt_masked(kvm, slot, first, mask);
	/*
	 * The bitmap bits were cleared: flush the whole memslot, as
	 * kvm_clear_dirty_log_protect() does (kvm_flush_remote_tlbs_memslot):
	 * write-protecting a huge mapping at either end of the window also
	 * cleared MMU-writable on GFNs outside the window. The kernel flushes
	 * right after dropping mmu_lock; the model does it just before, which
	 * is what the `tlb` invariant asks.
	 */
	kvm_flush_remote_tlbs_range(kvm, slot->base_gfn, slot->npages);
	mmu_write_unlock(kvm);
out:
	kvm_mutex_unlock(kvm, &kvm->slots_lock);
	return r;
}
