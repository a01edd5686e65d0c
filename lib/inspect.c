/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * inspect.c - read-only views for the checker (tdpsim/inspect.h). They take
 * no mmu_lock and emit no observer events, so they may run from observer
 * callbacks; walks run inside an RCU read-side section.
 */
#include <errno.h>

#include "kvm_tdx.h"
#include "lpage_info.h"
#include "mem_attrs.h"
#include "memslot.h"
#include "mmu.h"
#include "tdp_iter.h"
#include "tdp_mmu.h"
#include "vm_gmem.h"

static unsigned int role_root_types(enum tdpsim_root_role role)
{
	return role == TDPSIM_ROOT_MIRROR ? KVM_MIRROR_ROOTS : KVM_DIRECT_ROOTS;
}

static void spte_info_fill(struct kvm *kvm, enum tdpsim_root_role role,
			   const struct tdp_iter *iter,
			   struct tdpsim_spte_info *e)
{
	uintptr_t table = (uintptr_t)iter->sptep & ~(uintptr_t)(PAGE_SIZE - 1);
	tdp_ptep_t child = spte_to_child_pt(iter->old_spte, iter->level);

	e->role = role;
	e->gfn = iter->gfn;
	e->level = iter->level;
	e->spte = iter->old_spte;
	e->table = (const void *)table;
	e->index = spte_index(iter->sptep);
	e->child = child;
	e->child_level = 0;
	e->child_gfn = 0;
	if (child) {
		struct kvm_mmu_page *sp = sptep_to_sp(kvm, child);

		if (sp) {
			e->child_level = sp->role.level;
			e->child_gfn = sp->gfn;
		}
	}
}

int tdpsim_vm_walk_sptes(struct tdpsim_vm *vm, enum tdpsim_root_role role,
			 tdpsim_gfn_t start, tdpsim_gfn_t end, tdpsim_spte_fn fn,
			 void *opaque)
{
	struct kvm *kvm = to_kvm(vm);
	struct kvm_mmu_page *root;
	struct tdp_iter iter;
	int r = 0;

	if (kvm->dead || !fn)
		return kvm->dead ? -ENODEV : -EINVAL;
	root = kvm_tdp_mmu_valid_root(kvm, role_root_types(role));
	if (!root)
		return -ENOENT;
	if (end > tdp_mmu_max_gfn_exclusive(kvm))
		end = tdp_mmu_max_gfn_exclusive(kvm);
	/* Nothing to walk; and a start at or above a TDX VM's shared bit
	 * must not reach tdp_iter_start(). */
	if (start >= end)
		return 0;

	tdp_rcu_read_lock();
	for_each_tdp_pte(iter, kvm, root, start, end) {
		struct tdpsim_spte_info e;

		if (iter.old_spte == SHADOW_NONPRESENT_VALUE)
			continue;
		spte_info_fill(kvm, role, &iter, &e);
		r = fn(opaque, &e);
		if (r)
			break;
	}
	tdp_rcu_read_unlock();
	return r;
}

int tdpsim_vm_lookup_leaf(struct tdpsim_vm *vm, enum tdpsim_root_role role,
			  tdpsim_gfn_t gfn, struct tdpsim_spte_info *ret_info)
{
	struct kvm *kvm = to_kvm(vm);
	struct kvm_mmu_page *root;
	struct tdp_iter iter;
	int r = -ENOENT;

	if (kvm->dead)
		return -ENODEV;
	root = kvm_tdp_mmu_valid_root(kvm, role_root_types(role));
	if (!root || gfn >= tdp_mmu_max_gfn_exclusive(kvm))
		return -ENOENT;

	tdp_rcu_read_lock();
	for_each_tdp_pte(iter, kvm, root, gfn, gfn + 1) {
		if (is_shadow_present_pte(iter.old_spte) &&
		    is_last_spte(iter.old_spte, iter.level)) {
			spte_info_fill(kvm, role, &iter, ret_info);
			r = 0;
			break;
		}
	}
	tdp_rcu_read_unlock();
	return r;
}

int tdpsim_vm_root(struct tdpsim_vm *vm, enum tdpsim_root_role role,
		   int *ret_level, const void **ret_table)
{
	struct kvm *kvm = to_kvm(vm);
	struct kvm_mmu_page *root;

	if (kvm->dead)
		return -ENODEV;
	root = kvm_tdp_mmu_valid_root(kvm, role_root_types(role));
	if (!root)
		return -ENOENT;
	if (ret_level)
		*ret_level = root->role.level;
	if (ret_table)
		*ret_table = root->spt;
	return 0;
}

const struct tdpsim_vm_config *tdpsim_vm_get_config(struct tdpsim_vm *vm)
{
	return &to_kvm(vm)->config;
}

int tdpsim_vm_max_mapping_level(struct tdpsim_vm *vm, tdpsim_gfn_t gfn,
				enum tdpsim_fault_kind kind)
{
	struct kvm *kvm = to_kvm(vm);
	struct kvm_memory_slot *slot;
	bool is_private;
	int level = -ENOENT;

	if (kvm->dead)
		return -ENODEV;
	tdp_rcu_read_lock();
	slot = gfn_to_memslot(kvm, gfn);
	if (!slot)
		goto out;
	if (kind == TDPSIM_FAULT_DEFAULT)
		is_private = kvm->config.type == TDPSIM_VM_TDX ||
			     (kvm_has_private_mem(kvm) && kvm_mem_is_private(kvm, gfn));
	else
		is_private = kind == TDPSIM_FAULT_PRIVATE;

	/* kvm_mmu_hugepage_adjust(): 4K while dirty logging. */
	if (kvm_slot_dirty_track_enabled(slot)) {
		level = PG_LEVEL_4K;
		goto out;
	}
	/* Private memory: no larger than the guest_memfd folio
	 * (kvm_max_private_mapping_level), then lpage_info. */
	level = is_private ? kvm_gmem_max_private_level(slot, gfn) :
			     KVM_MAX_HUGEPAGE_LEVEL;
	/* TDX: tdx_gmem_private_max_mapping_level(). */
	if (is_private && kvm->config.type == TDPSIM_VM_TDX &&
	    level > tdx_gmem_private_max_mapping_level(kvm))
		level = tdx_gmem_private_max_mapping_level(kvm);
	level = kvm_mmu_max_mapping_level_peek(kvm, slot, gfn, level, is_private);
out:
	tdp_rcu_read_unlock();
	return level;
}

static void memslot_info_fill(const struct kvm_memory_slot *slot,
			      struct tdpsim_memslot_info *info)
{
	uint32_t flags = slot_flags(slot);

	info->id = slot->id;
	info->base_gfn = slot->base_gfn;
	info->npages = slot->npages;
	info->host_page_level = slot->host_page_level;
	info->readonly = flags & KVM_MEM_READONLY;
	info->dirty_logging = flags & KVM_MEM_LOG_DIRTY_PAGES;
	info->manual_protect = flags & KVM_MEMSLOT_MANUAL_PROTECT;
	info->gmem_id = slot->gmem_id;
	info->gmem_offset = slot->gmem_offset;
	info->host_pfn = slot->host_pfn;
}

int tdpsim_vm_memslot_at(struct tdpsim_vm *vm, unsigned int idx,
			 struct tdpsim_memslot_info *ret_info)
{
	struct kvm *kvm = to_kvm(vm);
	struct kvm_memslots *slots;
	int r = -ENOENT;

	if (kvm->dead)
		return -ENODEV;
	tdp_rcu_read_lock();
	slots = kvm_memslots(kvm);
	if (idx < slots->nr) {
		memslot_info_fill(slots->slots[idx], ret_info);
		r = 0;
	}
	tdp_rcu_read_unlock();
	return r;
}

int tdpsim_vm_lpage_info(struct tdpsim_vm *vm, uint32_t slot_id, int level,
			 tdpsim_gfn_t gfn, uint32_t *ret_disallow)
{
	struct kvm *kvm = to_kvm(vm);
	struct kvm_memory_slot *slot;
	int r = -ENOENT;

	if (kvm->dead)
		return -ENODEV;
	if (level != PG_LEVEL_2M && level != PG_LEVEL_1G)
		return -EINVAL;
	tdp_rcu_read_lock();
	slot = id_to_memslot(kvm, slot_id);
	if (kvm_memslot_has_gfn(slot, gfn)) {
		*ret_disallow = lpage_info_peek(slot, level, gfn);
		r = 0;
	}
	tdp_rcu_read_unlock();
	return r;
}

int tdpsim_vm_attr_range(struct tdpsim_vm *vm, tdpsim_gfn_t gfn,
			 tdpsim_gfn_t *ret_end, bool *ret_private)
{
	struct kvm *kvm = to_kvm(vm);
	gfn_t limit = tdp_mmu_max_gfn_exclusive(kvm);

	if (kvm->dead)
		return -ENODEV;
	if (gfn >= limit)
		return -ENOENT;
	tdp_rcu_read_lock();
	*ret_private = kvm_mem_is_private(kvm, gfn);
	*ret_end = kvm_mem_attr_next_boundary(kvm, gfn, limit);
	tdp_rcu_read_unlock();
	return 0;
}

uint64_t tdpsim_vm_alloc_live(struct tdpsim_vm *vm, enum tdpsim_alloc_kind kind)
{
	if ((unsigned int)kind >= TDPSIM_ALLOC_KIND_NR)
		return 0;
	return allocator_live(&to_kvm(vm)->alloc, kind);
}

uint64_t tdpsim_vm_rcu_pending(struct tdpsim_vm *vm)
{
	return atomic_load(&to_kvm(vm)->arch.rcu_pending);
}
