/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Huge-page splitting (tdp_mmu_split_huge_pages_root) and recovery: eager
 * split on dirty-log enable, recovery on disable, -ENOMEM mid-split.
 */
#include <errno.h>

#include "mmu-test.h"
#include "spte.h"

#define P1G (512ULL * 512)

static struct tdpsim_vm *vm_with_1g_page(void)
{
	struct tdpsim_vm *vm = test_vm(TDPSIM_VM_DEFAULT, 4, 1);

	test_slot(vm, 0, P1G, P1G, TDPSIM_LEVEL_1G);
	assert_int_equal(test_fault(vm, P1G + 0x123), 3);
	return vm;
}

/* Every GFN of the slot is mapped at @level with the right PFN. */
static void assert_all_mapped(struct tdpsim_vm *vm, int level)
{
	struct tdpsim_memslot_info slot;
	struct walk_sum s = test_walk(vm);

	assert_tdp_ok(tdpsim_vm_memslot_at(vm, 0, &slot));
	assert_int_equal(s.leaves[level], P1G / tdpsim_pages_per_level(level));
	for (tdpsim_gfn_t g = 0; g < P1G; g += 4099) {
		struct tdpsim_spte_info info;

		assert_tdp_ok(tdpsim_vm_lookup_leaf(vm, TDPSIM_ROOT_DIRECT, P1G + g, &info));
		assert_int_equal(info.level, level);
		assert_int_equal(spte_to_pfn(info.spte),
				 (slot.host_pfn + g) & ~(tdpsim_pages_per_level(level) - 1));
	}
}

static void test_split_dirty_log_1g(void **state)
{
	struct tdpsim_vm *vm = vm_with_1g_page();

	(void)state;
	assert_tdp_ok(tdpsim_memslot_set_dirty_log(vm, 0, true, false));
	assert_int_equal(stat(vm, SPLIT_1G), 1);
	assert_int_equal(stat(vm, SPLIT_2M), 512);
	assert_int_equal(stat(vm, PT_LIVE), 1 + 1 + 1 + 512);
	assert_all_mapped(vm, 1);
	/* Write-protected, only W cleared. */
	struct tdpsim_spte_info info;
	assert_tdp_ok(tdpsim_vm_lookup_leaf(vm, TDPSIM_ROOT_DIRECT, P1G + 77, &info));
	assert_false(info.spte & PT_WRITABLE_MASK);
	assert_true(info.spte & shadow_mmu_writable_mask);
	/* While logging, faults map 4K. */
	assert_int_equal(tdpsim_vm_max_mapping_level(vm, P1G, TDPSIM_FAULT_SHARED), 1);

	assert_tdp_ok(tdpsim_memslot_set_dirty_log(vm, 0, false, false));
	assert_int_equal(stat(vm, RECOVER_1G), 1);
	assert_int_equal(stat(vm, RECOVER_2M), 0);
	assert_int_equal(test_mapped_level(vm, P1G + 0x34321), 3);
	assert_all_mapped(vm, 3);
	/* The 513 tables go after a grace period. */
	tdpsim_vm_teardown(vm);
	assert_int_equal(stat(vm, PT_LIVE), 0);
	assert_int_equal(stat(vm, PT_ALLOC), stat(vm, PT_FREE));
	assert_int_equal(stat(vm, RCU_FREE), stat(vm, PT_FREE));
	tdpsim_vm_destroy(vm);
}

static void test_split_eager_off(void **state)
{
	struct tdpsim_vm *vm = vm_with_1g_page();
	struct tdpsim_spte_info info;

	(void)state;
	assert_tdp_ok(tdpsim_vm_set_policy(vm, "mmu.eager-split", "off"));
	assert_tdp_ok(tdpsim_memslot_set_dirty_log(vm, 0, true, false));
	assert_int_equal(stat(vm, SPLIT_1G), 0);
	/* Still huge, but no longer writable. */
	assert_tdp_ok(tdpsim_vm_lookup_leaf(vm, TDPSIM_ROOT_DIRECT, P1G, &info));
	assert_int_equal(info.level, 3);
	assert_false(info.spte & PT_WRITABLE_MASK);
	/* A write fault splits it on the fault path (read lock) to 4K. */
	assert_int_equal(test_fault(vm, P1G + 0x401), 1);
	assert_int_equal(stat(vm, SPLIT_1G), 1);
	assert_int_equal(stat(vm, SPLIT_2M), 1);
	assert_int_equal(test_mapped_level(vm, P1G + 0x1000), 2);
	tdpsim_vm_destroy(vm);
}

static void test_split_enomem_mid_split(void **state)
{
	struct tdpsim_vm *vm = vm_with_1g_page();
	uint64_t live_before;
	struct walk_sum s;

	(void)state;
	/* The 1G split and 99 of the 2M splits get their tables (each takes
	 * a header, a page and perhaps a memmap node: fail well inside). */
	tdpsim_vm_inject_alloc_fail(vm, 200, 1);
	assert_int_equal(tdpsim_memslot_set_dirty_log(vm, 0, true, false), -ENOMEM);
	assert_int_equal(stat(vm, ALLOC_FAIL), 1);
	assert_int_equal(stat(vm, SPLIT_1G), 1);
	assert_true(stat(vm, SPLIT_2M) > 0 && stat(vm, SPLIT_2M) < 512);

	/* Consistent: every GFN still mapped, 2M pages either whole or split
	 * into exactly 512 4K leaves; nothing writable above 4K. */
	s = test_walk(vm);
	assert_int_equal(s.leaves[1] + s.leaves[2] * 512, P1G);
	assert_int_equal(s.leaves[1], stat(vm, SPLIT_2M) * 512);
	assert_int_equal(s.leaves[2], 512 - stat(vm, SPLIT_2M));
	assert_int_equal(stat(vm, PT_LIVE), 3 + stat(vm, SPLIT_2M));
	live_before = tdpsim_vm_alloc_live(vm, TDPSIM_ALLOC_KIND_PT);
	assert_int_equal(live_before, stat(vm, PT_LIVE));

	/* Retrying completes the split. */
	assert_tdp_ok(tdpsim_memslot_set_dirty_log(vm, 0, false, false));
	assert_tdp_ok(tdpsim_memslot_set_dirty_log(vm, 0, true, false));
	assert_all_mapped(vm, 1);
	tdpsim_vm_destroy(vm);
}

static void test_split_recover_partial(void **state)
{
	struct tdpsim_vm *vm = test_vm(TDPSIM_VM_DEFAULT, 4, 1);

	(void)state;
	/* Host 2M pages: recovery goes back to 2M, never 1G. */
	test_slot(vm, 0, 0, P1G, TDPSIM_LEVEL_2M);
	assert_tdp_ok(tdpsim_memslot_set_dirty_log(vm, 0, true, false));
	assert_int_equal(test_fault(vm, 0x3), 1);
	assert_int_equal(test_fault(vm, 0x205), 1);
	assert_tdp_ok(tdpsim_memslot_set_dirty_log(vm, 0, false, false));
	assert_int_equal(stat(vm, RECOVER_2M), 2);
	assert_int_equal(stat(vm, RECOVER_1G), 0);
	assert_int_equal(test_mapped_level(vm, 0x1ff), 2);
	assert_int_equal(test_mapped_level(vm, 0x3ff), 2);
	assert_int_equal(test_mapped_level(vm, 0x400), 0);
	tdpsim_vm_destroy(vm);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_split_dirty_log_1g),
	cmocka_unit_test(test_split_eager_off),
	cmocka_unit_test(test_split_enomem_mid_split),
	cmocka_unit_test(test_split_recover_partial),
};

TEST_MAIN(tests)
