/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * guest_inhibit.h - what TDX's handler of an accept-level EPT violation
 * does to lpage_info and the mappings (tdx-module.md 5.8, seeds/004): mark
 * the huge pages above the accepted level guest-inhibited, for good, and
 * split any mapping above that level down to it.
 *
 * This is the part that touches the TDP MMU: TDX's accept handler
 * (tdx_handle_ept_violation() in lib/tdx.c) calls it, and C tests call it
 * directly, so the race policy `lpage.inhibit-lock` governs can be
 * explored without a guest.
 */
#ifndef TDPSIM_GUEST_INHIBIT_H
#define TDPSIM_GUEST_INHIBIT_H

#include "kvm.h"

/**
 * kvm_mmu_guest_inhibit() - the guest accepted @gfn at @accept_level (4K
 * or 2M): set guest-inhibit (hugepage_set_guest_inhibit(), never cleared;
 * counted as lpage.inhibit) on every lpage_info entry above @accept_level
 * that covers @gfn, then split every leaf above @accept_level that maps
 * @gfn down to it, in every valid root.
 *
 * With policy lpage.inhibit-lock=write (the kernel's choice) both steps
 * run under mmu_lock held for write. With =read (the unsafe alternative of
 * seeds/004) the flags are set under the read lock, which is dropped, and
 * only then is the write lock taken to split: a fault that read lpage_info
 * before the flag was set can still install a huge leaf in between.
 *
 * Runs inside an RCU read-side section (the kernel's kvm->srcu), like a
 * fault. Allocates lpage_info chunks before taking mmu_lock and page
 * tables with it dropped.
 * @return 0, -EINVAL (bad level), -ENOENT (no memslot holds @gfn),
 *         -ENOMEM
 */
int kvm_mmu_guest_inhibit(struct kvm *kvm, gfn_t gfn, int accept_level);

#endif /* TDPSIM_GUEST_INHIBIT_H */
