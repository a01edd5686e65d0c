/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Zapping (tdp_mmu_zap_leafs) from conversions, mmu-notifier invalidation
 * and slot deletion; TLB flushes; teardown.
 */
#include <errno.h>

#include "mmu-test.h"

#define P2M 512ULL
#define P1G (512ULL * 512)

static void test_zap_convert_to_private(void **state)
{
	struct tdpsim_vm *vm = test_vm(TDPSIM_VM_SW_PROTECTED, 4, 1);
	struct tdpsim_vcpu *vcpu = tdpsim_vm_get_vcpu(vm, 0);
	struct tdpsim_fault_result res;
	uint64_t flushes;

	(void)state;
	test_slot(vm, 0, 0, P1G, TDPSIM_LEVEL_2M);
	assert_int_equal(test_fault(vm, 0x10), 2);		/* [0, 2M) */
	assert_int_equal(test_fault(vm, P2M + 0x10), 2);	/* [2M, 4M) */
	assert_int_equal(test_fault(vm, 8 * P2M), 2);
	flushes = stat(vm, TLB_FLUSH);

	/* Converting one page in the second 2M zaps that 2M leaf whole
	 * (direct roots over-zap) and nothing else. */
	assert_tdp_ok(tdpsim_vm_set_memory_attributes(vm, P2M + 5, 1, true));
	assert_true(tdpsim_vm_gfn_is_private(vm, P2M + 5));
	assert_false(tdpsim_vm_gfn_is_private(vm, P2M + 6));
	assert_int_equal(stat(vm, ZAP_2M), 1);
	assert_int_equal(test_mapped_level(vm, P2M + 0x10), 0);
	assert_int_equal(test_mapped_level(vm, 0x10), 2);
	assert_int_equal(test_mapped_level(vm, 8 * P2M), 2);
	assert_int_equal(stat(vm, TLB_FLUSH), flushes + 1);

	/* Shared faults next to it map 4K now (MIXED). */
	assert_int_equal(test_fault(vm, P2M + 6), 1);
	/* The private page: the fault's kind follows the attribute, and
	 * without guest_memfd it exits to userspace. */
	assert_tdp_ok(tdpsim_vcpu_fault(vcpu, P2M + 5, TDPSIM_FAULT_DEFAULT,
					TDPSIM_ACCESS_WRITE, &res));
	assert_int_equal(res.outcome, TDPSIM_FAULT_EXIT_MEMORY_FAULT);
	assert_int_equal(res.level, 0);
	/* A shared fault on a private GFN also exits. */
	assert_tdp_ok(tdpsim_vcpu_fault(vcpu, P2M + 5, TDPSIM_FAULT_SHARED,
					TDPSIM_ACCESS_WRITE, &res));
	assert_int_equal(res.outcome, TDPSIM_FAULT_EXIT_MEMORY_FAULT);

	/* Converting the same range again changes nothing, zaps nothing. */
	flushes = stat(vm, TLB_FLUSH);
	assert_tdp_ok(tdpsim_vm_set_memory_attributes(vm, P2M + 5, 1, true));
	assert_int_equal(stat(vm, TLB_FLUSH), flushes);

	/* Back to shared: the private range had no direct mappings. */
	assert_tdp_ok(tdpsim_vm_set_memory_attributes(vm, P2M + 5, 1, false));
	assert_int_equal(test_mapped_level(vm, P2M + 6), 1);
	assert_int_equal(tdpsim_vm_max_mapping_level(vm, P2M + 6, TDPSIM_FAULT_SHARED), 2);
	tdpsim_vm_destroy(vm);
}

static void test_zap_invalidate_range(void **state)
{
	struct tdpsim_vm *vm = test_vm(TDPSIM_VM_DEFAULT, 4, 1);

	(void)state;
	test_slot(vm, 0, 0, 4096, TDPSIM_LEVEL_4K);
	for (tdpsim_gfn_t g = 0; g < 64; g++)
		test_fault(vm, g);
	assert_tdp_ok(tdpsim_vm_invalidate_range(vm, 10, 20));
	assert_int_equal(stat(vm, ZAP_4K), 20);
	assert_int_equal(test_mapped_level(vm, 9), 1);
	assert_int_equal(test_mapped_level(vm, 10), 0);
	assert_int_equal(test_mapped_level(vm, 29), 0);
	assert_int_equal(test_mapped_level(vm, 30), 1);
	/* Page tables stay linked after a leaf zap. */
	assert_int_equal(stat(vm, PT_LIVE), 4);
	/* Outside any slot: nothing to do, no flush. */
	uint64_t f = stat(vm, TLB_FLUSH);
	assert_tdp_ok(tdpsim_vm_invalidate_range(vm, 1 << 20, 5));
	assert_int_equal(stat(vm, TLB_FLUSH), f);
	tdpsim_vm_destroy(vm);
}

static void test_zap_slot_delete(void **state)
{
	struct tdpsim_vm *vm = test_vm(TDPSIM_VM_DEFAULT, 4, 1);
	struct tdpsim_memslot_config cfg;
	struct tdpsim_memslot_info info;
	struct tdpsim_fault_result res;

	(void)state;
	test_slot(vm, 0, 0, P1G, TDPSIM_LEVEL_1G);
	test_slot(vm, 1, P1G, 512, TDPSIM_LEVEL_4K);
	assert_int_equal(test_fault(vm, 5), 3);
	assert_int_equal(test_fault(vm, P1G + 5), 1);

	/* EEXIST on id or overlap, EINVAL on a bad range. */
	tdpsim_memslot_config_init(&cfg);
	cfg.id = 1;
	cfg.base_gfn = 4 * P1G;
	cfg.npages = 1;
	assert_int_equal(tdpsim_memslot_create(vm, &cfg), -EEXIST);
	cfg.id = 2;
	cfg.base_gfn = P1G + 511;
	assert_int_equal(tdpsim_memslot_create(vm, &cfg), -EEXIST);
	cfg.base_gfn = P1G + 512;
	cfg.npages = 0;
	assert_int_equal(tdpsim_memslot_create(vm, &cfg), -EINVAL);
	cfg.npages = ~0ULL;
	assert_int_equal(tdpsim_memslot_create(vm, &cfg), -EINVAL);

	assert_tdp_ok(tdpsim_memslot_delete(vm, 0));
	assert_int_equal(tdpsim_memslot_delete(vm, 0), -ENOENT);
	assert_int_equal(stat(vm, ZAP_1G), 1);
	assert_int_equal(test_mapped_level(vm, 5), 0);
	assert_int_equal(test_mapped_level(vm, P1G + 5), 1);
	assert_tdp_ok(tdpsim_vm_memslot_at(vm, 0, &info));
	assert_int_equal(info.id, 1);
	assert_int_equal(tdpsim_vm_memslot_at(vm, 1, &info), -ENOENT);
	/* Slot 1's lpage_info: two chunk tables and the chunk holding its
	 * misaligned 1G tail; slot 0's is gone. */
	assert_int_equal(tdpsim_vm_alloc_live(vm, TDPSIM_ALLOC_KIND_LPAGE), 3);
	/* The deleted range is MMIO now. */
	assert_tdp_ok(tdpsim_vcpu_fault(tdpsim_vm_get_vcpu(vm, 0), 5,
					TDPSIM_FAULT_DEFAULT, TDPSIM_ACCESS_READ, &res));
	assert_int_equal(res.outcome, TDPSIM_FAULT_EMULATE);
	/* A recreated slot gets fresh host memory. */
	tdpsim_memslot_config_init(&cfg);
	cfg.npages = P1G;
	cfg.host_page_level = TDPSIM_LEVEL_1G;
	assert_tdp_ok(tdpsim_memslot_create(vm, &cfg));
	struct tdpsim_memslot_info a;
	assert_tdp_ok(tdpsim_vm_memslot_at(vm, 0, &a));
	assert_true(a.host_pfn > info.host_pfn);
	tdpsim_vm_destroy(vm);
}

static void test_zap_teardown_husk(void **state)
{
	struct tdpsim_vm *vm = test_vm(TDPSIM_VM_SW_PROTECTED, 4, 2);
	struct tdpsim_fault_result res;

	(void)state;
	test_slot(vm, 0, 0, 4 * P1G, TDPSIM_LEVEL_4K);
	for (tdpsim_gfn_t g = 0; g < 4 * P1G; g += 77777)
		test_fault(vm, g);
	assert_tdp_ok(tdpsim_vm_set_memory_attributes(vm, 3, 10, true));
	tdpsim_vm_teardown(vm);
	tdpsim_vm_teardown(vm);	/* idempotent */
	for (int k = 0; k < TDPSIM_ALLOC_KIND_NR; k++)
		assert_int_equal(tdpsim_vm_alloc_live(vm, k), 0);
	assert_int_equal(tdpsim_vm_rcu_pending(vm), 0);
	assert_int_equal(stat(vm, PT_LIVE), 0);
	assert_true(stat(vm, ZAP_4K) > 0);
	assert_int_equal(tdpsim_vm_get_config(vm)->nr_vcpus, 2);
	assert_null(tdpsim_vm_get_vcpu(vm, 0));
	assert_int_equal(tdpsim_memslot_delete(vm, 0), -ENODEV);
	assert_int_equal(tdpsim_vm_walk_sptes(vm, TDPSIM_ROOT_DIRECT, 0, 1,
					      walk_sum_fn, &res), -ENODEV);
	tdpsim_vm_destroy(vm);
	tdpsim_vm_destroy(NULL);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_zap_convert_to_private),
	cmocka_unit_test(test_zap_invalidate_range),
	cmocka_unit_test(test_zap_slot_delete),
	cmocka_unit_test(test_zap_teardown_husk),
};

TEST_MAIN(tests)
