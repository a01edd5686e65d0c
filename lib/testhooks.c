/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * testhooks.c - TEST ONLY (see testhooks.h): corrupt a model's state on
 * purpose. Compiled into the test executables, never into libtdpsim.
 */
#include <errno.h>

#include "check.h"
#include "kvm.h"
#include "lpage_info.h"
#include "memslot.h"
#include "testhooks.h"

#define TESTHOOK_OBJ_SIZE 64

uint64_t testhook_spte_poke(const void *table, unsigned int index, uint64_t value)
{
	_Atomic uint64_t *pt = (_Atomic uint64_t *)(uintptr_t)table;

	return atomic_exchange(&pt[index & 511], value);
}

int testhook_lpage_poke(struct tdpsim_vm *vm, uint32_t slot_id, int level,
			tdpsim_gfn_t gfn, uint32_t value, uint32_t *ret_old)
{
	struct kvm *kvm = to_kvm(vm);
	struct kvm_memory_slot *slot;
	struct kvm_lpage_info_level *l;
	_Atomic uint32_t *chunk;
	uint64_t idx;
	uint32_t old;
	int r;

	if (level != PG_LEVEL_2M && level != PG_LEVEL_1G)
		return -EINVAL;
	pthread_mutex_lock(&kvm->slots_lock);
	slot = id_to_memslot(kvm, slot_id);
	if (!kvm_memslot_has_gfn(slot, gfn)) {
		r = -ENOENT;
		goto out;
	}
	r = lpage_info_prepare(kvm, slot, level, gfn);
	if (r)
		goto out;
	l = &slot->lpage_info[level - PG_LEVEL_2M];
	idx = gfn_to_index(gfn, slot->base_gfn, level);
	chunk = atomic_load(&l->chunks[idx >> LPAGE_CHUNK_SHIFT]);
	old = atomic_exchange(&chunk[idx & (LPAGE_CHUNK_ENTRIES - 1)], value);
	if (ret_old)
		*ret_old = old;
out:
	pthread_mutex_unlock(&kvm->slots_lock);
	return r;
}

int testhook_slot_poke_dirty_log(struct tdpsim_vm *vm, uint32_t slot_id, bool on)
{
	struct kvm *kvm = to_kvm(vm);
	struct kvm_memory_slot *slot;
	int r = 0;

	pthread_mutex_lock(&kvm->slots_lock);
	slot = id_to_memslot(kvm, slot_id);
	if (!slot)
		r = -ENOENT;
	else if (on)
		atomic_fetch_or(&slot->flags, KVM_MEM_LOG_DIRTY_PAGES);
	else
		atomic_fetch_and(&slot->flags, ~KVM_MEM_LOG_DIRTY_PAGES);
	pthread_mutex_unlock(&kvm->slots_lock);
	return r;
}

void *testhook_alloc(struct tdpsim_vm *vm, enum tdpsim_alloc_kind kind)
{
	return alloc_obj(&to_kvm(vm)->alloc, kind, TESTHOOK_OBJ_SIZE);
}

void testhook_free(struct tdpsim_vm *vm, enum tdpsim_alloc_kind kind, void *p)
{
	free_obj(&to_kvm(vm)->alloc, kind, p, TESTHOOK_OBJ_SIZE);
}

const struct tdpsim_observer *testhook_checker_observer(struct tdpsim_checker *c,
							void **ret_opaque)
{
	if (ret_opaque)
		*ret_opaque = c;
	return &ck_observer_ops;
}
