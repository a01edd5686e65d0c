/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vcpu.c - the vCPU entry points: EPT violations (kvm_mmu_page_fault) and
 * KVM_PRE_FAULT_MEMORY (kvm_arch_vcpu_pre_fault_memory, kvm_tdp_map_page).
 */
#include <errno.h>
#include <string.h>

#include "kvm_tdx.h"
#include "mem_attrs.h"
#include "mmu.h"

unsigned int tdpsim_vcpu_index(const struct tdpsim_vcpu *vcpu)
{
	return vcpu->vcpu.vcpu_idx;
}

/* The fault kind the trace language means by DEFAULT. */
static bool fault_is_private(struct kvm *kvm, gfn_t gfn, enum tdpsim_fault_kind kind)
{
	bool ret;

	if (kind != TDPSIM_FAULT_DEFAULT)
		return kind == TDPSIM_FAULT_PRIVATE;
	if (kvm->config.type == TDPSIM_VM_TDX)
		return true;
	if (kvm->config.type == TDPSIM_VM_DEFAULT)
		return false;
	tdp_rcu_read_lock();
	ret = kvm_mem_is_private(kvm, gfn);
	tdp_rcu_read_unlock();
	return ret;
}

/* Level of the present leaf mapping @gfn in the direct root, or 0. */
static int mapped_level(struct kvm *kvm, gfn_t gfn)
{
	struct tdpsim_spte_info info;

	if (tdpsim_vm_lookup_leaf(kvm_to_vm(kvm), TDPSIM_ROOT_DIRECT, gfn, &info))
		return 0;
	return info.level;
}

/* One fault, as tdpsim_vcpu_fault() and the prefault loop see it. */
static int vcpu_fault(struct kvm_vcpu *vcpu, struct kvm_page_fault *fault,
		      struct tdpsim_fault_result *ret_result)
{
	struct kvm *kvm = vcpu->kvm;
	struct tdpsim_fault_result res = { 0 };
	int r;

	r = kvm_mmu_page_fault(vcpu, fault, &res.retries);
	switch (r) {
	case RET_PF_FIXED:
	case RET_PF_SPURIOUS:
		res.outcome = TDPSIM_FAULT_OK;
		res.level = fault->mapped_level;
		res.spurious = r == RET_PF_SPURIOUS;
		break;
	case RET_PF_EMULATE:
		res.outcome = TDPSIM_FAULT_EMULATE;
		res.level = mapped_level(kvm, fault->gfn);
		break;
	case -EFAULT:
		if (fault->memory_fault_exit) {
			res.outcome = TDPSIM_FAULT_EXIT_MEMORY_FAULT;
			res.level = mapped_level(kvm, fault->gfn);
			break;
		}
		return r;
	default:
		return r < 0 ? r : -EIO;
	}
	*ret_result = res;
	return 0;
}

int tdpsim_vcpu_fault(struct tdpsim_vcpu *v, tdpsim_gfn_t gfn,
		      enum tdpsim_fault_kind kind, enum tdpsim_access access,
		      struct tdpsim_fault_result *ret_result)
{
	struct kvm_vcpu *vcpu = &v->vcpu;
	struct kvm *kvm = vcpu->kvm;
	struct kvm_page_fault fault;

	if (kvm->dead)
		return -ENODEV;
	if (!ret_result || (unsigned int)kind > TDPSIM_FAULT_SHARED ||
	    (unsigned int)access > TDPSIM_ACCESS_EXEC ||
	    gfn >= tdp_mmu_max_gfn_exclusive(kvm))
		return -EINVAL;

	memset(&fault, 0, sizeof(fault));
	fault.gfn = gfn;
	fault.write = access == TDPSIM_ACCESS_WRITE;
	fault.exec = access == TDPSIM_ACCESS_EXEC;
	fault.is_private = fault_is_private(kvm, gfn, kind);
	return vcpu_fault(vcpu, &fault, ret_result);
}

int tdpsim_vcpu_prefault(struct tdpsim_vcpu *v, tdpsim_gfn_t gfn, uint64_t npages,
			 struct tdpsim_fault_result *ret_result)
{
	struct kvm_vcpu *vcpu = &v->vcpu;
	struct kvm *kvm = vcpu->kvm;
	struct tdpsim_fault_result res = { 0 };
	gfn_t end = gfn + npages;

	if (kvm->dead)
		return -ENODEV;
	if (!ret_result || !kvm_gfn_range_mappable(kvm, gfn, npages))
		return -EINVAL;
	/* TDX: kvm->arch.pre_fault_allowed only once the TD is finalized. */
	if (kvm->config.type == TDPSIM_VM_TDX && !tdx_pre_fault_allowed(kvm))
		return -EOPNOTSUPP;

	while (gfn < end) {
		struct kvm_page_fault fault;
		int r;

		/* kvm_tdp_map_page(): a prefetch read fault of the GFN's
		 * current kind. */
		memset(&fault, 0, sizeof(fault));
		fault.gfn = gfn;
		fault.prefetch = true;
		if (kvm->config.type == TDPSIM_VM_TDX) {
			/* By the GFN's current attribute, not the TDX
			 * fault default. */
			tdp_rcu_read_lock();
			fault.is_private = kvm_mem_is_private(kvm, gfn);
			tdp_rcu_read_unlock();
		} else {
			fault.is_private = fault_is_private(kvm, gfn,
							    TDPSIM_FAULT_DEFAULT);
		}
		r = vcpu_fault(vcpu, &fault, &res);
		if (r)
			return r;
		if (res.outcome != TDPSIM_FAULT_OK)
			break;
		/* Continue after what the leaf maps. */
		gfn = gfn_round_for_level(gfn, res.level) +
		      KVM_PAGES_PER_HPAGE(res.level);
	}
	*ret_result = res;
	return 0;
}
