/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tdx_api.c - the public face of KVM's TDX side (tdpsim/tdx.h): argument
 * checks, then lib/tdx.c, as KVM's ioctl handlers check and call down.
 */
#include <errno.h>

#include <tdpsim/tdx.h>

#include "kvm.h"
#include "kvm_tdx.h"

static bool kvm_is_tdx(struct kvm *kvm)
{
	return !kvm->dead && kvm->tdx;
}

static bool is_tdx(struct tdpsim_vm *vm)
{
	return vm && kvm_is_tdx(to_kvm(vm));
}

int tdpsim_vm_tdx_populate(struct tdpsim_vm *vm, tdpsim_gfn_t gfn, uint64_t npages)
{
	if (!is_tdx(vm) || !npages || gfn + npages < gfn)
		return -EINVAL;
	return tdx_gmem_post_populate(to_kvm(vm), gfn, npages);
}

int tdpsim_vm_tdx_finalize(struct tdpsim_vm *vm)
{
	if (!is_tdx(vm))
		return -EINVAL;
	return tdx_td_finalize(to_kvm(vm));
}

int tdpsim_vcpu_accept(struct tdpsim_vcpu *vcpu, tdpsim_gfn_t gfn, int level,
		       enum tdpsim_accept_result *ret_result)
{
	enum tdx_accept_result ar;
	int ret;

	if (!vcpu || !ret_result || !kvm_is_tdx(vcpu->vcpu.kvm) ||
	    (level != TDPSIM_LEVEL_4K && level != TDPSIM_LEVEL_2M) ||
	    gfn & (tdpsim_pages_per_level(level) - 1))
		return -EINVAL;
	ret = tdx_accept(&vcpu->vcpu, gfn, level, &ar);
	if (ret)
		return ret;
	switch (ar) {
	case TDX_ACCEPT_OK:
		*ret_result = TDPSIM_ACCEPT_OK;
		break;
	case TDX_ACCEPT_ALREADY_ACCEPTED:
		*ret_result = TDPSIM_ACCEPT_ALREADY_ACCEPTED;
		break;
	case TDX_ACCEPT_SIZE_MISMATCH:
		*ret_result = TDPSIM_ACCEPT_SIZE_MISMATCH;
		break;
	case TDX_ACCEPT_EXIT_MEMORY_FAULT:
		*ret_result = TDPSIM_ACCEPT_EXIT_MEMORY_FAULT;
		break;
	}
	return 0;
}

int tdpsim_vm_tdx_inject_seamcall(struct tdpsim_vm *vm, uint32_t leaf,
				  uint64_t status, uint64_t count)
{
	if (!is_tdx(vm) || !count)
		return -EINVAL;
	return tdx_inject_seamcall(to_kvm(vm), leaf, status, count);
}

struct tdpsim_tdx_module *tdpsim_vm_tdx_module(struct tdpsim_vm *vm)
{
	if (!is_tdx(vm))
		return NULL;
	return kvm_tdx_module(to_kvm(vm));
}

int tdpsim_vm_tdx_tdr(struct tdpsim_vm *vm, tdpsim_hpa_t *ret_tdr)
{
	tdpsim_hpa_t tdr;

	if (!is_tdx(vm) || !ret_tdr)
		return -EINVAL;
	tdr = kvm_tdx_tdr(to_kvm(vm));
	if (!tdr)
		return -ENOENT;
	*ret_tdr = tdr;
	return 0;
}
