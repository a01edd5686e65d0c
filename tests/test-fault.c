/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The fault path (lib/mmu.c, kvm_tdp_mmu_map): levels, spurious faults,
 * emulation, read-only slots, 5-level roots, -ENOMEM from cache top-up,
 * the retry bound, KVM_PRE_FAULT_MEMORY, page-table accounting.
 */
#include <errno.h>

#include "mmu-test.h"
#include "mmu.h"
#include "spte.h"

static void test_fault_4k_builds_tables(void **state)
{
	struct tdpsim_vm *vm = test_vm(TDPSIM_VM_DEFAULT, 4, 1);
	struct tdpsim_spte_info info;
	struct tdpsim_memslot_info slot;
	struct walk_sum s;

	(void)state;
	test_slot(vm, 0, 0x100000, 4096, TDPSIM_LEVEL_4K);
	assert_int_equal(test_fault(vm, 0x100005), 1);
	assert_int_equal(stat(vm, MAP_4K), 1);
	assert_int_equal(stat(vm, FAULT), 1);
	/* Root plus a 1G, 2M and 4K table. */
	assert_int_equal(stat(vm, PT_ALLOC), 4);
	assert_int_equal(stat(vm, PT_LIVE), 4);
	assert_int_equal(tdpsim_vm_alloc_live(vm, TDPSIM_ALLOC_KIND_PT), 4);
	assert_int_equal(tdpsim_vm_alloc_live(vm, TDPSIM_ALLOC_KIND_SP), 4);

	assert_tdp_ok(tdpsim_vm_lookup_leaf(vm, TDPSIM_ROOT_DIRECT, 0x100005, &info));
	assert_tdp_ok(tdpsim_vm_memslot_at(vm, 0, &slot));
	assert_int_equal(info.level, 1);
	assert_int_equal(info.gfn, 0x100005);
	assert_int_equal(info.index, 5);
	assert_int_equal(spte_to_pfn(info.spte), slot.host_pfn + 5);
	/* Host PFNs are congruent with GFNs modulo 1G. */
	assert_int_equal(slot.host_pfn & 0x3ffff, 0x100000 & 0x3ffff);
	assert_true(info.spte & PT_WRITABLE_MASK);

	s = test_walk(vm);
	assert_int_equal(s.entries, 4);
	assert_int_equal(s.tables, 3);
	assert_int_equal(s.leaves[1], 1);
	tdpsim_vm_destroy(vm);
}

static void test_fault_huge_levels(void **state)
{
	struct tdpsim_vm *vm = test_vm(TDPSIM_VM_DEFAULT, 4, 1);

	(void)state;
	test_slot(vm, 0, 0, 1 << 19, TDPSIM_LEVEL_1G);		/* 2 GiB */
	test_slot(vm, 1, 1 << 19, 1 << 18, TDPSIM_LEVEL_2M);	/* 1 GiB */
	test_slot(vm, 2, 3 << 18, 1 << 18, TDPSIM_LEVEL_4K);	/* 1 GiB */
	assert_int_equal(test_fault(vm, 0x12345), 3);
	assert_int_equal(test_fault(vm, (1 << 19) + 0x777), 2);
	assert_int_equal(test_fault(vm, (3 << 18) + 0x777), 1);
	assert_int_equal(stat(vm, MAP_1G), 1);
	assert_int_equal(stat(vm, MAP_2M), 1);
	assert_int_equal(stat(vm, MAP_4K), 1);
	/* Every GFN of the 1G page is mapped by the same leaf. */
	assert_int_equal(test_mapped_level(vm, 0x3ffff), 3);
	assert_int_equal(test_mapped_level(vm, 0x40000), 0);
	tdpsim_vm_destroy(vm);
}

static void test_fault_spurious_and_upgrade(void **state)
{
	struct tdpsim_vm *vm = test_vm(TDPSIM_VM_DEFAULT, 4, 1);
	struct tdpsim_vcpu *vcpu = tdpsim_vm_get_vcpu(vm, 0);
	struct tdpsim_fault_result res;

	(void)state;
	test_slot(vm, 0, 0, 512, TDPSIM_LEVEL_4K);
	test_fault(vm, 7);
	assert_tdp_ok(tdpsim_vcpu_fault(vcpu, 7, TDPSIM_FAULT_DEFAULT,
					TDPSIM_ACCESS_READ, &res));
	assert_true(res.spurious);
	assert_int_equal(res.level, 1);
	assert_int_equal(stat(vm, FAULT_SPURIOUS), 1);
	assert_int_equal(stat(vm, MAP_4K), 1);
	tdpsim_vm_destroy(vm);
}

static void test_fault_emulate_and_readonly(void **state)
{
	struct tdpsim_vm *vm = test_vm(TDPSIM_VM_DEFAULT, 4, 1);
	struct tdpsim_vcpu *vcpu = tdpsim_vm_get_vcpu(vm, 0);
	struct tdpsim_memslot_config cfg;
	struct tdpsim_fault_result res;
	struct tdpsim_spte_info info;

	(void)state;
	/* No memslot: MMIO, emulated. */
	assert_tdp_ok(tdpsim_vcpu_fault(vcpu, 0x999, TDPSIM_FAULT_DEFAULT,
					TDPSIM_ACCESS_WRITE, &res));
	assert_int_equal(res.outcome, TDPSIM_FAULT_EMULATE);
	assert_int_equal(res.level, 0);

	tdpsim_memslot_config_init(&cfg);
	cfg.npages = 512;
	cfg.readonly = true;
	assert_tdp_ok(tdpsim_memslot_create(vm, &cfg));
	assert_tdp_ok(tdpsim_vcpu_fault(vcpu, 3, TDPSIM_FAULT_DEFAULT,
					TDPSIM_ACCESS_WRITE, &res));
	assert_int_equal(res.outcome, TDPSIM_FAULT_EMULATE);
	assert_tdp_ok(tdpsim_vcpu_fault(vcpu, 3, TDPSIM_FAULT_DEFAULT,
					TDPSIM_ACCESS_READ, &res));
	assert_int_equal(res.outcome, TDPSIM_FAULT_OK);
	assert_tdp_ok(tdpsim_vm_lookup_leaf(vm, TDPSIM_ROOT_DIRECT, 3, &info));
	assert_false(info.spte & (PT_WRITABLE_MASK | shadow_mmu_writable_mask));
	/* Private faults on a default VM exit to userspace. */
	assert_tdp_ok(tdpsim_vcpu_fault(vcpu, 3, TDPSIM_FAULT_PRIVATE,
					TDPSIM_ACCESS_READ, &res));
	assert_int_equal(res.outcome, TDPSIM_FAULT_EXIT_MEMORY_FAULT);
	assert_int_equal(stat(vm, FAULT_EXIT), 3);
	tdpsim_vm_destroy(vm);
}

static void test_fault_5level_root(void **state)
{
	struct tdpsim_vm *vm = test_vm(TDPSIM_VM_DEFAULT, 5, 1);
	const tdpsim_gfn_t gfn = (1ULL << 37) + 0x234;
	struct tdpsim_memslot_config cfg;
	int level;

	(void)state;
	assert_tdp_ok(tdpsim_vm_root(vm, TDPSIM_ROOT_DIRECT, &level, NULL));
	assert_int_equal(level, 5);
	test_slot(vm, 0, 1ULL << 37, 4096, TDPSIM_LEVEL_4K);
	assert_int_equal(test_fault(vm, gfn), 1);
	assert_int_equal(test_mapped_level(vm, gfn), 1);
	assert_int_equal(stat(vm, PT_LIVE), 5);
	tdpsim_vm_destroy(vm);

	/* A 4-level VM cannot hold that GFN. */
	vm = test_vm(TDPSIM_VM_DEFAULT, 4, 1);
	tdpsim_memslot_config_init(&cfg);
	cfg.base_gfn = 1ULL << 37;
	cfg.npages = 1;
	assert_int_equal(tdpsim_memslot_create(vm, &cfg), -EINVAL);
	tdpsim_vm_destroy(vm);
}

static void test_fault_enomem_topup(void **state)
{
	struct tdpsim_vm *vm = test_vm(TDPSIM_VM_DEFAULT, 4, 1);
	struct tdpsim_vcpu *vcpu = tdpsim_vm_get_vcpu(vm, 0);
	struct tdpsim_fault_result res;
	struct walk_sum s;

	(void)state;
	test_slot(vm, 0, 0, 4096, TDPSIM_LEVEL_4K);
	/* The very next allocation fails: the empty caches cannot reach
	 * their minimum, nothing is mapped, nothing leaks. */
	tdpsim_vm_inject_alloc_fail(vm, 0, 1);
	assert_int_equal(tdpsim_vcpu_fault(vcpu, 9, TDPSIM_FAULT_DEFAULT,
					   TDPSIM_ACCESS_WRITE, &res), -ENOMEM);
	assert_int_equal(stat(vm, ALLOC_FAIL), 1);
	s = test_walk(vm);
	assert_int_equal(s.entries, 0);
	assert_int_equal(stat(vm, PT_LIVE), 1);
	/* A failure after the minimum was reached is harmless. */
	tdpsim_vm_inject_alloc_fail(vm, 8, 1);
	assert_int_equal(test_fault(vm, 9), 1);
	assert_int_equal(test_walk(vm).leaves[1], 1);
	tdpsim_vm_teardown(vm);
	for (int k = 0; k < TDPSIM_ALLOC_KIND_NR; k++)
		assert_int_equal(tdpsim_vm_alloc_live(vm, k), 0);
	tdpsim_vm_destroy(vm);
}

static void test_fault_retry_bound(void **state)
{
	struct tdpsim_vm *vm = test_vm(TDPSIM_VM_DEFAULT, 4, 1);
	struct tdpsim_vcpu *vcpu = tdpsim_vm_get_vcpu(vm, 0);
	struct kvm *kvm = to_kvm(vm);
	struct tdpsim_fault_result res;

	(void)state;
	test_slot(vm, 0, 0, 4096, TDPSIM_LEVEL_4K);
	assert_tdp_ok(tdpsim_vm_set_policy(vm, "mmu.fault-retries", "5"));
	/* An invalidation of [0, 16) that never ends. */
	mmu_write_lock(kvm);
	kvm_mmu_invalidate_begin(kvm);
	kvm_mmu_invalidate_range_add(kvm, 0, 16);
	mmu_write_unlock(kvm);

	assert_int_equal(tdpsim_vcpu_fault(vcpu, 3, TDPSIM_FAULT_DEFAULT,
					   TDPSIM_ACCESS_WRITE, &res), -EAGAIN);
	assert_int_equal(stat(vm, FAULT_RETRY), 5);
	/* Outside the range the fault goes through. */
	assert_int_equal(test_fault(vm, 16), 1);

	mmu_write_lock(kvm);
	kvm_mmu_invalidate_end(kvm);
	mmu_write_unlock(kvm);
	assert_int_equal(test_fault(vm, 3), 1);
	tdpsim_vm_destroy(vm);
}

static void test_fault_prefault(void **state)
{
	struct tdpsim_vm *vm = test_vm(TDPSIM_VM_DEFAULT, 4, 1);
	struct tdpsim_vcpu *vcpu = tdpsim_vm_get_vcpu(vm, 0);
	struct tdpsim_fault_result res;
	struct tdpsim_spte_info info;

	(void)state;
	test_slot(vm, 0, 0, 2048, TDPSIM_LEVEL_2M);
	/* [0x100, 0x500) touches three 2M pages, one leaf each. */
	assert_tdp_ok(tdpsim_vcpu_prefault(vcpu, 0x100, 0x400, &res));
	assert_int_equal(res.outcome, TDPSIM_FAULT_OK);
	assert_int_equal(stat(vm, MAP_2M), 3);
	assert_tdp_ok(tdpsim_vm_lookup_leaf(vm, TDPSIM_ROOT_DIRECT, 0x4ff, &info));
	assert_int_equal(info.level, 2);
	/* Prefetched: not accessed. */
	assert_false(info.spte & shadow_accessed_mask);
	/* Past the slot the first failure is reported. */
	assert_tdp_ok(tdpsim_vcpu_prefault(vcpu, 0x600, 0x400, &res));
	assert_int_equal(res.outcome, TDPSIM_FAULT_EMULATE);
	tdpsim_vm_destroy(vm);
}

static void test_fault_create_errors(void **state)
{
	struct tdpsim_vm_config cfg;
	struct tdpsim_vm *vm = (void *)1;

	(void)state;
	tdpsim_vm_config_init(&cfg);
	cfg.type = TDPSIM_VM_TDX;
	assert_int_equal(tdpsim_vm_create(&cfg, &vm), 0);
	tdpsim_vm_destroy(vm);
	vm = (void *)1;
	tdpsim_vm_config_init(&cfg);
	cfg.levels = 3;
	assert_int_equal(tdpsim_vm_create(&cfg, &vm), -EINVAL);
	cfg.levels = 4;
	cfg.nr_vcpus = 0;
	assert_int_equal(tdpsim_vm_create(&cfg, &vm), -EINVAL);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_fault_4k_builds_tables),
	cmocka_unit_test(test_fault_huge_levels),
	cmocka_unit_test(test_fault_spurious_and_upgrade),
	cmocka_unit_test(test_fault_emulate_and_readonly),
	cmocka_unit_test(test_fault_5level_root),
	cmocka_unit_test(test_fault_enomem_topup),
	cmocka_unit_test(test_fault_retry_bound),
	cmocka_unit_test(test_fault_prefault),
	cmocka_unit_test(test_fault_create_errors),
};

TEST_MAIN(tests)
