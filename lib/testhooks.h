/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * testhooks.h - TEST ONLY: break a model's state on purpose, so the tests
 * can show that every invariant the checker knows can fire.
 *
 * Nothing in the library calls these and they are not part of libtdpsim:
 * testhooks.c is compiled into the test executables only (lib/meson.build
 * `testhooks_sources`). Each hook reaches past the model's code into its
 * data, bypassing the model's bookkeeping and the observer; restore what
 * you broke before going on, or the model's own assertions may trip.
 */
#ifndef TDPSIM_TESTHOOKS_H
#define TDPSIM_TESTHOOKS_H

#include <stdbool.h>
#include <stdint.h>

#include <tdpsim/check.h>
#include <tdpsim/inspect.h>
#include <tdpsim/observer.h>
#include <tdpsim/vm.h>

/**
 * testhook_spte_poke() - store @value into entry @index of page table
 * @table, where @table is the identity tdpsim_vm_walk_sptes() reports
 * (the model's tables are arrays of 512 _Atomic uint64_t and the identity
 * is their address). No observer event, no bookkeeping.
 * @return the value replaced
 */
uint64_t testhook_spte_poke(const void *table, unsigned int index, uint64_t value);

/**
 * testhook_lpage_poke() - set slot @slot_id's lpage_info value for the
 * @level huge page holding @gfn to @value, bypassing lpage_info_write()
 * (no observer event).
 * @param ret_old the value replaced; may be NULL
 * @return 0, -ENOENT (slot or gfn), -EINVAL (level), -ENOMEM
 */
int testhook_lpage_poke(struct tdpsim_vm *vm, uint32_t slot_id, int level,
			tdpsim_gfn_t gfn, uint32_t value, uint32_t *ret_old);

/**
 * testhook_slot_poke_dirty_log() - turn slot @slot_id's dirty-logging flag
 * on or off without splitting, write-protecting or recovering anything.
 * @return 0 or -ENOENT
 */
int testhook_slot_poke_dirty_log(struct tdpsim_vm *vm, uint32_t slot_id, bool on);

/** Allocate an object of @kind through @vm's allocator (counted live). */
void *testhook_alloc(struct tdpsim_vm *vm, enum tdpsim_alloc_kind kind);

/** Free what testhook_alloc() returned (also after tdpsim_vm_teardown()). */
void testhook_free(struct tdpsim_vm *vm, enum tdpsim_alloc_kind kind, void *p);

/**
 * testhook_checker_observer() - the callbacks @c installed on its VM and
 * their argument, to drive the checker with synthetic transitions.
 */
const struct tdpsim_observer *testhook_checker_observer(struct tdpsim_checker *c,
							void **ret_opaque);

#endif /* TDPSIM_TESTHOOKS_H */
