/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Dirty logging (lib/dirty_log.c): write-protection clears only W, faults
 * map 4K while logging, manual-protect clears a 64-page window.
 */
#include <errno.h>

#include "mmu-test.h"
#include "spte.h"

#define P2M 512ULL

static uint64_t leaf_spte(struct tdpsim_vm *vm, tdpsim_gfn_t gfn, int *level)
{
	struct tdpsim_spte_info info;

	assert_tdp_ok(tdpsim_vm_lookup_leaf(vm, TDPSIM_ROOT_DIRECT, gfn, &info));
	if (level)
		*level = info.level;
	return info.spte;
}

static void test_dirty_log_wrprot_and_refault(void **state)
{
	struct tdpsim_vm *vm = test_vm(TDPSIM_VM_DEFAULT, 4, 1);
	uint64_t before, after;

	(void)state;
	test_slot(vm, 0, 0, 4 * P2M, TDPSIM_LEVEL_4K);
	test_fault(vm, 1);
	before = leaf_spte(vm, 1, NULL);
	assert_tdp_ok(tdpsim_memslot_set_dirty_log(vm, 0, true, false));
	after = leaf_spte(vm, 1, NULL);
	assert_int_equal(after, before & ~PT_WRITABLE_MASK);
	/* A write makes it writable again, same PFN, counted as a map. */
	test_fault(vm, 1);
	assert_int_equal(leaf_spte(vm, 1, NULL), before);
	assert_int_equal(stat(vm, MAP_4K), 2);
	/* Enabling twice is a no-op; errors. */
	assert_tdp_ok(tdpsim_memslot_set_dirty_log(vm, 0, true, false));
	assert_int_equal(tdpsim_memslot_set_dirty_log(vm, 9, true, false), -ENOENT);
	assert_int_equal(tdpsim_memslot_clear_dirty(vm, 0, 3, 1), -EINVAL);
	assert_int_equal(tdpsim_memslot_clear_dirty(vm, 0, 4 * P2M, 1), -EINVAL);
	tdpsim_vm_destroy(vm);
}

static void test_dirty_log_4k_while_on(void **state)
{
	struct tdpsim_vm *vm = test_vm(TDPSIM_VM_DEFAULT, 4, 1);
	int level;

	(void)state;
	test_slot(vm, 0, 0, 4 * P2M, TDPSIM_LEVEL_2M);
	assert_tdp_ok(tdpsim_memslot_set_dirty_log(vm, 0, true, false));
	assert_int_equal(test_fault(vm, 0x3), 1);
	assert_tdp_ok(tdpsim_memslot_set_dirty_log(vm, 0, false, false));
	assert_int_equal(test_fault(vm, P2M + 3), 2);
	leaf_spte(vm, 3, &level);
	assert_int_equal(level, 2);	/* recovered */
	assert_int_equal(tdpsim_memslot_clear_dirty(vm, 0, 0, 1), -EINVAL);
	tdpsim_vm_destroy(vm);
}

static void test_dirty_log_manual_clear_window(void **state)
{
	struct tdpsim_vm *vm = test_vm(TDPSIM_VM_DEFAULT, 4, 1);
	struct tdpsim_memslot_info info;
	int level;

	(void)state;
	test_slot(vm, 0, 0, 4 * P2M, TDPSIM_LEVEL_2M);
	assert_int_equal(test_fault(vm, P2M + 1), 2);
	assert_int_equal(test_fault(vm, 2 * P2M + 1), 2);

	/* Manual protect: nothing split or protected at enable. */
	assert_tdp_ok(tdpsim_memslot_set_dirty_log(vm, 0, true, true));
	assert_tdp_ok(tdpsim_vm_memslot_at(vm, 0, &info));
	assert_true(info.dirty_logging && info.manual_protect);
	assert_int_equal(stat(vm, SPLIT_2M), 0);
	assert_true(leaf_spte(vm, P2M, &level) & PT_WRITABLE_MASK);

	/* Clear pages 64+2 and 64+5 of the second 2M: the window is split
	 * under the write lock, then exactly those 4K leaves lose W. */
	assert_tdp_ok(tdpsim_memslot_clear_dirty(vm, 0, P2M + 64, (1 << 2) | (1 << 5)));
	assert_int_equal(stat(vm, SPLIT_2M), 1);
	assert_false(leaf_spte(vm, P2M + 66, &level) & PT_WRITABLE_MASK);
	assert_int_equal(level, 1);
	assert_false(leaf_spte(vm, P2M + 69, NULL) & PT_WRITABLE_MASK);
	assert_true(leaf_spte(vm, P2M + 67, NULL) & PT_WRITABLE_MASK);
	assert_true(leaf_spte(vm, P2M + 65, NULL) & PT_WRITABLE_MASK);
	assert_true(leaf_spte(vm, P2M + 66, NULL) & shadow_mmu_writable_mask);
	/* The other 2M page is untouched. */
	assert_true(leaf_spte(vm, 2 * P2M, &level) & PT_WRITABLE_MASK);
	assert_int_equal(level, 2);

	/* Without eager split the 2M leaf stays, write-protected whole. */
	assert_tdp_ok(tdpsim_vm_set_policy(vm, "mmu.eager-split", "off"));
	assert_tdp_ok(tdpsim_memslot_clear_dirty(vm, 0, 2 * P2M, 1));
	assert_false(leaf_spte(vm, 2 * P2M + 100, &level) & PT_WRITABLE_MASK);
	assert_int_equal(level, 2);
	assert_false(leaf_spte(vm, 2 * P2M + 100, NULL) & shadow_mmu_writable_mask);
	tdpsim_vm_destroy(vm);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_dirty_log_wrprot_and_refault),
	cmocka_unit_test(test_dirty_log_4k_while_on),
	cmocka_unit_test(test_dirty_log_manual_clear_window),
};

TEST_MAIN(tests)
