/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * guest_inhibit.c - guest-inhibit and the split of a mismatched accept
 * (guest_inhibit.h), under the lock policy lpage.inhibit-lock names.
 */
#include <errno.h>

#include "guest_inhibit.h"
#include "lpage_info.h"
#include "memslot.h"
#include "observe.h"
#include "tdp_mmu.h"

/* Set guest-inhibit above @accept_level; lpage_info writable (prepared). */
static void set_inhibit(struct kvm *kvm, struct kvm_memory_slot *slot,
			gfn_t gfn, int accept_level)
{
	for (int level = accept_level + 1; level <= KVM_MAX_HUGEPAGE_LEVEL; level++) {
		if (lpage_info_read(kvm, slot, level, gfn) & KVM_LPAGE_GUEST_INHIBIT_FLAG)
			continue;
		hugepage_set_guest_inhibit(kvm, slot, gfn, level);
		counter_inc(&kvm->stats, TDPSIM_STAT_LPAGE_INHIBIT);
	}
}

int kvm_mmu_guest_inhibit(struct kvm *kvm, gfn_t gfn, int accept_level)
{
	gfn_t start = gfn_round_for_level(gfn, accept_level + 1);
	gfn_t end = start + KVM_PAGES_PER_HPAGE(accept_level + 1);
	struct kvm_memory_slot *slot;
	int r = 0;

	if (accept_level != PG_LEVEL_4K && accept_level != PG_LEVEL_2M)
		return -EINVAL;

	kvm_rcu_read_lock(kvm);
	slot = gfn_to_memslot(kvm, gfn);
	if (!slot) {
		r = -ENOENT;
		goto out_rcu;
	}
	/* What the flags are written into must exist before mmu_lock. */
	for (int level = accept_level + 1; level <= KVM_MAX_HUGEPAGE_LEVEL; level++) {
		r = lpage_info_prepare(kvm, slot, level, gfn);
		if (r)
			goto out_rcu;
	}

	if (kvm->policy.inhibit_lock_read) {
		/*
		 * Unsafe: lpage_info is updated under the read lock, so a
		 * fault holding the read lock may have read it just before
		 * and map at the stale huge level; the split below comes
		 * too early to see that leaf, or splits it after it was
		 * installed over an inhibited page.
		 */
		mmu_read_lock(kvm);
		set_inhibit(kvm, slot, gfn, accept_level);
		mmu_read_unlock(kvm);
		mmu_write_lock(kvm);
	} else {
		mmu_write_lock(kvm);
		set_inhibit(kvm, slot, gfn, accept_level);
	}
	/* Drops and retakes the write lock to allocate; -ENOMEM leaves
	 * every huge page whole or fully split. */
	r = kvm_tdp_mmu_try_split_huge_pages(kvm, KVM_VALID_ROOTS, start, end,
					     accept_level, false);
	mmu_write_unlock(kvm);
out_rcu:
	kvm_rcu_read_unlock(kvm);
	return r;
}
