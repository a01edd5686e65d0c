/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kvm_tdx.h - KVM's side of TDX (lib/tdx.c), after arch/x86/kvm/vmx/tdx.c:
 * the TD and its vCPUs in the fake TDX Module, the mirror-root hooks
 * (tdx_sept_set_private_spte(), tdx_sept_free_private_spt()), populate,
 * finalize, the guest's ACCEPT and its EPT violations, teardown.
 *
 * KVM's side never reads the module's state: everything it does is a
 * SEAMCALL, and it keeps its own bookkeeping (pages it gave the module,
 * Dynamic-PAMT refcounts). The module's own state is read only by the
 * checker (lib/check_tdx.c) and by `expect sept` through
 * kvm_tdx_module()/kvm_tdx_tdr().
 *
 * Lock order: slots_lock -> tdx->lock (TD set-up) ->
 * tdx->external_cache_lock (the VM's split cache, tdx.split-cache) ->
 * mmu_lock -> tdx->page_lock / tdx->pamt_lock (leaves).
 */
#ifndef TDPSIM_KVM_TDX_H
#define TDPSIM_KVM_TDX_H

#include <tdpsim/tdx_module.h>

#include "kvm.h"

/* kvm_tdx->state (enum kvm_tdx_state in tdx.h of the kernel). */
enum kvm_tdx_state {
	TD_STATE_UNINITIALIZED,		/* no TD in the module yet */
	TD_STATE_INITIALIZED,		/* KVM_TDX_INIT_VM done: populate */
	TD_STATE_RUNNABLE,		/* KVM_TDX_FINALIZE_VM done */
};

/* What a guest TDG.MEM.PAGE.ACCEPT ended with (the trace's results). */
enum tdx_accept_result {
	TDX_ACCEPT_OK,
	TDX_ACCEPT_ALREADY_ACCEPTED,
	TDX_ACCEPT_SIZE_MISMATCH,
	TDX_ACCEPT_EXIT_MEMORY_FAULT,
};

/*
 * TEST ONLY (kvm_tdx->test_flags): break a KVM rule on purpose so that the
 * fake module refuses and the checker reports it (tests/test-tdx-vm.c).
 */
#define TDX_TEST_SKIP_TRACK		(1u << 0)  /* no MEM.TRACK before
						    * REMOVE or DEMOTE */
#define TDX_TEST_RECLAIM_WITH_HKID	(1u << 1)  /* RECLAIM an S-EPT page
						    * while the HKID is
						    * assigned */
#define TDX_TEST_MAP_TWICE		(1u << 2)  /* AUG every new leaf a
						    * second time */

/* Create KVM's TDX state for a new TDX VM and install the mirror hooks
 * (KVM_CREATE_VM with KVM_X86_TDX_VM). 0 or -ENOMEM. */
int tdx_vm_init(struct kvm *kvm);

/*
 * tdx_td_init() - KVM_TDX_INIT_VM and KVM_TDX_INIT_VCPU of every vCPU, on
 * first use: the fake module, MNG.CREATE, KEY.CONFIG, MNG.ADDCX,
 * MNG.INIT, VP.CREATE, VP.ADDCX, VP.INIT. Idempotent.
 * @return 0, -ENOMEM, -EIO (the module refused)
 */
int tdx_td_init(struct kvm *kvm);

/* tdx_mmu_release_hkid(): VP.FLUSH, VPFLUSHDONE, CACHE.WB, KEY.FREEID.
 * After every private leaf is gone, before the mirror root is freed. */
void tdx_mmu_release_hkid(struct kvm *kvm);

/* tdx_vcpu_free() of every vCPU and tdx_reclaim_td_control_pages(): after
 * the MMU is torn down. The module stays for the husk (checker). */
void tdx_vm_destroy(struct kvm *kvm);

/* Free everything, the module included (tdpsim_vm_destroy()). */
void tdx_vm_free(struct kvm *kvm);

/*
 * tdx_gmem_post_populate() - KVM_TDX_INIT_MEM_REGION of [gfn, gfn +
 * npages): map each page at 4K through the mirror root; the leaf hook
 * issues PAGE.ADD. Only between init and finalize.
 * @return 0, -EINVAL (finalized, not private, no memslot), -EIO, -ENOMEM
 */
int tdx_gmem_post_populate(struct kvm *kvm, gfn_t gfn, uint64_t npages);

/* tdx_td_finalize(): MR.FINALIZE. 0, -EINVAL (not initialized, or already
 * finalized), -EBUSY, -EIO. */
int tdx_td_finalize(struct kvm *kvm);

/*
 * tdx_accept() - the guest on @vcpu runs TDG.MEM.PAGE.ACCEPT(@gfn, @level)
 * with the exits it causes handled (tdx_handle_ept_violation()) until the
 * module answers the guest.
 * @return 0 and @ret_result; -EINVAL (not runnable), -EIO, -ENOMEM,
 *         -EAGAIN (no answer after many exits)
 */
int tdx_accept(struct kvm_vcpu *vcpu, gfn_t gfn, int level,
	       enum tdx_accept_result *ret_result);

/* `inject seamcall=`: 0 or -EINVAL (initializes the TD first). */
int tdx_inject_seamcall(struct kvm *kvm, uint32_t leaf, uint64_t status,
			uint64_t count);

/* The largest level of a private mapping now (tdx_gmem_private_max_mapping_level):
 * 2M with policy tdx.huge once the TD is runnable, else 4K. */
int tdx_gmem_private_max_mapping_level(struct kvm *kvm);

/* kvm->arch.pre_fault_allowed: the TD is runnable (KVM_PRE_FAULT_MEMORY). */
bool tdx_pre_fault_allowed(struct kvm *kvm);

/* For the checker and `expect sept`: the module and the TD (NULL/0 before
 * tdx_td_init()). */
struct tdpsim_tdx_module *kvm_tdx_module(struct kvm *kvm);
tdpsim_hpa_t kvm_tdx_tdr(struct kvm *kvm);

/* Pages KVM handed to the TD and has not got back (control pages, S-EPT
 * pages, PAMT pairs): 0 after a clean teardown. */
uint64_t kvm_tdx_live_pages(struct kvm *kvm);

/* KVM's Dynamic-PAMT refcount of the 2M region holding @hpa. */
unsigned int kvm_tdx_pamt_refcount(struct kvm *kvm, tdpsim_hpa_t hpa);

/* TEST ONLY: pages waiting in vCPU @vcpu_idx's split cache, or in the VM's
 * if @vcpu_idx is negative (tdx.split-cache). */
int kvm_tdx_split_cache_nobjs(struct kvm *kvm, int vcpu_idx);

/* TEST ONLY: set kvm_tdx->test_flags (TDX_TEST_*). */
void kvm_tdx_set_test_flags(struct kvm *kvm, unsigned int flags);

#endif /* TDPSIM_KVM_TDX_H */
