/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * lpage_info and the max mapping level (lib/lpage_info.c, lib/mmu.c):
 * every reason a huge page is disallowed, and that faults obey it.
 */
#include <errno.h>

#include "mmu-test.h"

#define P2M	512ULL
#define P1G	(512ULL * 512)

static int max_level(struct tdpsim_vm *vm, tdpsim_gfn_t gfn)
{
	return tdpsim_vm_max_mapping_level(vm, gfn, TDPSIM_FAULT_SHARED);
}

static uint32_t linfo(struct tdpsim_vm *vm, uint32_t id, int level, tdpsim_gfn_t gfn)
{
	uint32_t v = ~0u;

	assert_tdp_ok(tdpsim_vm_lpage_info(vm, id, level, gfn, &v));
	return v;
}

static void test_lpage_misaligned_start(void **state)
{
	struct tdpsim_vm *vm = test_vm(TDPSIM_VM_DEFAULT, 4, 1);

	(void)state;
	/* Starts 1 page into a 1G page, runs to 2 GiB: the head 2M and the
	 * head 1G are disallowed, the rest is fine. */
	test_slot(vm, 0, 1, 2 * P1G - 1, TDPSIM_LEVEL_1G);
	assert_int_equal(linfo(vm, 0, 2, 1), 1);
	assert_int_equal(linfo(vm, 0, 3, 1), 1);
	assert_int_equal(linfo(vm, 0, 2, P2M), 0);
	assert_int_equal(linfo(vm, 0, 3, P1G), 0);
	assert_int_equal(max_level(vm, 5), 1);
	assert_int_equal(max_level(vm, P2M + 5), 2);
	assert_int_equal(max_level(vm, P1G + 5), 3);
	assert_int_equal(test_fault(vm, 5), 1);
	assert_int_equal(test_fault(vm, P2M + 5), 2);
	assert_int_equal(test_fault(vm, P1G + 5), 3);
	assert_int_equal(tdpsim_vm_max_mapping_level(vm, 0, TDPSIM_FAULT_SHARED), -ENOENT);
	tdpsim_vm_destroy(vm);
}

static void test_lpage_misaligned_end(void **state)
{
	struct tdpsim_vm *vm = test_vm(TDPSIM_VM_DEFAULT, 4, 1);

	(void)state;
	/* [0, 1G + 2M + 1): the tail 2M (one page of it) and the tail 1G
	 * are disallowed; the 2M before the tail is fine. */
	test_slot(vm, 0, 0, P1G + P2M + 1, TDPSIM_LEVEL_1G);
	assert_int_equal(linfo(vm, 0, 2, P1G + P2M), 1);
	assert_int_equal(linfo(vm, 0, 3, P1G + P2M), 1);
	assert_int_equal(linfo(vm, 0, 2, P1G), 0);
	assert_int_equal(max_level(vm, 3), 3);
	assert_int_equal(max_level(vm, P1G + 3), 2);
	assert_int_equal(max_level(vm, P1G + P2M), 1);
	assert_int_equal(test_fault(vm, P1G + 3), 2);
	assert_int_equal(test_fault(vm, P1G + P2M), 1);
	tdpsim_vm_destroy(vm);
}

static void test_lpage_host_page_size(void **state)
{
	struct tdpsim_vm *vm = test_vm(TDPSIM_VM_DEFAULT, 4, 1);

	(void)state;
	test_slot(vm, 0, 0, P1G, TDPSIM_LEVEL_4K);
	test_slot(vm, 1, P1G, P1G, TDPSIM_LEVEL_2M);
	test_slot(vm, 2, 2 * P1G, P1G, TDPSIM_LEVEL_1G);
	assert_int_equal(max_level(vm, 7), 1);
	assert_int_equal(max_level(vm, P1G + 7), 2);
	assert_int_equal(max_level(vm, 2 * P1G + 7), 3);
	/* lpage_info itself allows 1G everywhere: the cap is the host's. */
	assert_int_equal(linfo(vm, 0, 3, 7), 0);
	assert_int_equal(test_fault(vm, 7), 1);
	assert_int_equal(test_fault(vm, P1G + 7), 2);
	assert_int_equal(test_fault(vm, 2 * P1G + 7), 3);
	tdpsim_vm_destroy(vm);
}

static void test_lpage_mixed_attributes(void **state)
{
	struct tdpsim_vm *vm = test_vm(TDPSIM_VM_SW_PROTECTED, 4, 1);
	const uint32_t mixed = TDPSIM_LPAGE_MIXED_FLAG;
	tdpsim_gfn_t end;
	bool priv;

	(void)state;
	test_slot(vm, 0, 0, 2 * P1G, TDPSIM_LEVEL_1G);
	assert_int_equal(max_level(vm, 0x10), 3);

	/* One private page in the second 2M: that 2M and its 1G are MIXED. */
	assert_tdp_ok(tdpsim_vm_set_memory_attributes(vm, P2M + 3, 1, true));
	assert_int_equal(linfo(vm, 0, 2, P2M), mixed);
	assert_int_equal(linfo(vm, 0, 2, 0), 0);
	assert_int_equal(linfo(vm, 0, 3, 0), mixed);
	assert_int_equal(linfo(vm, 0, 3, P1G), 0);
	assert_int_equal(max_level(vm, 0x10), 2);
	assert_int_equal(max_level(vm, P2M + 0x10), 1);
	assert_int_equal(max_level(vm, P1G + 0x10), 3);
	assert_int_equal(test_fault(vm, 0x10), 2);
	assert_int_equal(test_fault(vm, P2M + 0x10), 1);
	assert_tdp_ok(tdpsim_vm_attr_range(vm, 0, &end, &priv));
	assert_false(priv);
	assert_int_equal(end, P2M + 3);
	assert_tdp_ok(tdpsim_vm_attr_range(vm, end, &end, &priv));
	assert_true(priv);
	assert_int_equal(end, P2M + 4);

	/* The whole 2M private: 2M no longer mixed, the 1G still is. */
	assert_tdp_ok(tdpsim_vm_set_memory_attributes(vm, P2M, P2M, true));
	assert_int_equal(linfo(vm, 0, 2, P2M), 0);
	assert_int_equal(linfo(vm, 0, 3, 0), mixed);
	assert_int_equal(tdpsim_vm_max_mapping_level(vm, P2M + 1, TDPSIM_FAULT_SHARED), 2);

	/* The whole first 1G private: nothing mixed there any more. */
	assert_tdp_ok(tdpsim_vm_set_memory_attributes(vm, 0, P1G, true));
	assert_int_equal(linfo(vm, 0, 3, 0), 0);
	assert_int_equal(linfo(vm, 0, 2, P2M), 0);
	/* Back to shared in one 2M in the middle of the 1G. */
	assert_tdp_ok(tdpsim_vm_set_memory_attributes(vm, 5 * P2M, P2M, false));
	assert_int_equal(linfo(vm, 0, 2, 5 * P2M), 0);
	assert_int_equal(linfo(vm, 0, 3, 0), mixed);
	assert_int_equal(max_level(vm, 5 * P2M), 2);

	/* A slot created over mixed attributes starts with MIXED set. */
	assert_tdp_ok(tdpsim_vm_set_memory_attributes(vm, 4 * P1G + 7, 1, true));
	test_slot(vm, 1, 4 * P1G, P1G, TDPSIM_LEVEL_1G);
	assert_int_equal(linfo(vm, 1, 2, 4 * P1G), mixed);
	assert_int_equal(linfo(vm, 1, 3, 4 * P1G), mixed);
	assert_int_equal(linfo(vm, 1, 2, 4 * P1G + P2M), 0);
	tdpsim_vm_destroy(vm);
}

static void test_lpage_default_vm_has_no_attributes(void **state)
{
	struct tdpsim_vm *vm = test_vm(TDPSIM_VM_DEFAULT, 4, 1);

	(void)state;
	assert_int_equal(tdpsim_vm_set_memory_attributes(vm, 0, 1, true), -EINVAL);
	assert_false(tdpsim_vm_gfn_is_private(vm, 0));
	tdpsim_vm_destroy(vm);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_lpage_misaligned_start),
	cmocka_unit_test(test_lpage_misaligned_end),
	cmocka_unit_test(test_lpage_host_page_size),
	cmocka_unit_test(test_lpage_mixed_attributes),
	cmocka_unit_test(test_lpage_default_vm_has_no_attributes),
};

TEST_MAIN(tests)
