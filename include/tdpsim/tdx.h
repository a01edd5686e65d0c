/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tdpsim/tdx.h - KVM's TDX ioctls and the guest's ACCEPT on a TDX VM
 * (tdpsim_vm_create() with TDPSIM_VM_TDX), for C tests that build the same
 * scenarios as the trace verbs populate, finalize, accept and
 * `inject seamcall`.
 *
 * What the fake TDX Module answers stays data: an ACCEPT's outcome is an
 * enum, and the module itself can be inspected through tdpsim/tdx_module.h
 * (tdpsim_vm_tdx_module()).
 */
#ifndef TDPSIM_TDX_H
#define TDPSIM_TDX_H

#include <tdpsim/types.h>
#include <tdpsim/vm.h>

#ifdef __cplusplus
extern "C" {
#endif

struct tdpsim_tdx_module;

/** What the guest's TDG.MEM.PAGE.ACCEPT ended with, after KVM's exits. */
enum tdpsim_accept_result {
	TDPSIM_ACCEPT_OK,		/* PENDING -> MAPPED */
	TDPSIM_ACCEPT_ALREADY_ACCEPTED,	/* TDX_PAGE_ALREADY_ACCEPTED */
	TDPSIM_ACCEPT_SIZE_MISMATCH,	/* the host mapped smaller */
	TDPSIM_ACCEPT_EXIT_MEMORY_FAULT, /* KVM exited to userspace */
};

/**
 * tdpsim_vm_tdx_populate() - KVM_TDX_INIT_MEM_REGION over
 * [gfn, gfn + npages): PAGE.ADD at 4K, before finalize
 * (tdx_gmem_post_populate()).
 * @return 0; -EINVAL (not TDX, already finalized, not private); -ENOMEM;
 *         -EIO (the module refused: see invariant `seamcall`)
 */
TDPSIM_API int tdpsim_vm_tdx_populate(struct tdpsim_vm *vm, tdpsim_gfn_t gfn,
				      uint64_t npages);

/**
 * tdpsim_vm_tdx_finalize() - KVM_TDX_FINALIZE_VM: TDH.MR.FINALIZE; the TD
 * becomes runnable (tdx_td_finalize()).
 * @return 0; -EINVAL (not TDX, or finalized already); -EIO; -EBUSY
 */
TDPSIM_API int tdpsim_vm_tdx_finalize(struct tdpsim_vm *vm);

/**
 * tdpsim_vcpu_accept() - the guest on @vcpu accepts @gfn at @level
 * (TDPSIM_LEVEL_4K or 2M), with the EPT violations it causes handled by
 * KVM (tdx_handle_ept_violation(): map, split to the accept level,
 * guest-inhibit) until the module answers the guest.
 * @param ret_result written on success
 * @return 0; -EINVAL (not TDX, not runnable, bad level or alignment);
 *         -ENOMEM; -EIO; -EAGAIN (no answer after many exits)
 */
TDPSIM_API int tdpsim_vcpu_accept(struct tdpsim_vcpu *vcpu, tdpsim_gfn_t gfn,
				  int level, enum tdpsim_accept_result *ret_result);

/**
 * tdpsim_vm_tdx_inject_seamcall() - make the next @count calls of SEAMCALL
 * @leaf (a tdx_module.h leaf id) answer @status (`inject seamcall=`).
 * @return 0, or -EINVAL (not TDX, unknown leaf, @count 0)
 */
TDPSIM_API int tdpsim_vm_tdx_inject_seamcall(struct tdpsim_vm *vm, uint32_t leaf,
					     uint64_t status, uint64_t count);

/**
 * tdpsim_vm_tdx_module() - the fake TDX Module behind a TDX VM, for the
 * inspection calls of tdpsim/tdx_module.h; NULL if @vm is not TDX or is
 * torn down. Valid until tdpsim_vm_teardown().
 */
TDPSIM_API struct tdpsim_tdx_module *tdpsim_vm_tdx_module(struct tdpsim_vm *vm);

/**
 * tdpsim_vm_tdx_tdr() - the physical address of the TD's TDR page, which
 * names the TD in the tdx_module.h calls (tdpsim_tdx_sept_lookup() ...).
 * @return 0 and @ret_tdr; -EINVAL if @vm is not TDX; -ENOENT if the TD has
 *         not been built yet (it is built by the first TDX operation)
 */
TDPSIM_API int tdpsim_vm_tdx_tdr(struct tdpsim_vm *vm, tdpsim_hpa_t *ret_tdr);

#ifdef __cplusplus
}
#endif

#endif /* TDPSIM_TDX_H */
