/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The TDP iterator (lib/tdp_iter.c): pre-order, [start, end), min_level,
 * restart at next_last_level_gfn after a yield.
 */
#include "mmu-test.h"
#include "tdp_iter.h"
#include "tdp_mmu.h"

struct visit {
	gfn_t gfn;
	int level;
};

static int setup(void **state)
{
	struct tdpsim_vm *vm = test_vm(TDPSIM_VM_DEFAULT, 4, 1);

	/* 4K host pages: everything maps at 4K. */
	test_slot(vm, 0, 0, 1 << 20, TDPSIM_LEVEL_4K);
	test_fault(vm, 0x0);
	test_fault(vm, 0x1);
	test_fault(vm, 0x200);		/* next 2M, same 1G */
	test_fault(vm, 0x40000);	/* next 1G */
	*state = vm;
	return 0;
}

static int teardown(void **state)
{
	tdpsim_vm_destroy(*state);
	return 0;
}

/* Present entries the iterator visits, in order. */
static int collect(struct kvm *kvm, gfn_t start, gfn_t end, int min_level,
		   struct visit *v, int max, gfn_t yield_after)
{
	struct kvm_mmu_page *root = kvm_tdp_mmu_valid_root(kvm, KVM_DIRECT_ROOTS);
	struct tdp_iter iter;
	bool yielded = false;
	int n = 0;

	tdp_rcu_read_lock();
	for_each_tdp_pte_min_level(iter, kvm, root, min_level, start, end) {
		if (!is_shadow_present_pte(iter.old_spte))
			continue;
		assert_true(n < max);
		v[n].gfn = iter.gfn;
		v[n].level = iter.level;
		n++;
		/* Pretend mmu_lock was contended here. */
		if (!yielded && iter.level == 1 && iter.gfn == yield_after) {
			yielded = true;
			iter.yielded = true;
		}
	}
	tdp_rcu_read_unlock();
	return n;
}

static void test_tdp_iter_preorder(void **state)
{
	struct kvm *kvm = to_kvm(*state);
	struct visit v[32];
	static const struct visit want[] = {
		{ 0, 4 }, { 0, 3 }, { 0, 2 }, { 0, 1 }, { 1, 1 },
		{ 0x200, 2 }, { 0x200, 1 }, { 0x40000, 3 }, { 0x40000, 2 },
		{ 0x40000, 1 },
	};
	int n = collect(kvm, 0, 1ULL << 36, 1, v, 32, ~0ULL);

	assert_int_equal(n, ARRAY_SIZE(want));
	for (int i = 0; i < n; i++) {
		assert_int_equal(v[i].gfn, want[i].gfn);
		assert_int_equal(v[i].level, want[i].level);
	}
}

static void test_tdp_iter_range_and_min_level(void **state)
{
	struct kvm *kvm = to_kvm(*state);
	struct visit v[32];
	int n;

	/* [1, 0x201): the upper entries start below 1 (rounded down). */
	n = collect(kvm, 1, 0x201, 1, v, 32, ~0ULL);
	assert_int_equal(n, 6);
	assert_int_equal(v[3].gfn, 1);
	assert_int_equal(v[4].gfn, 0x200);
	assert_int_equal(v[4].level, 2);
	assert_int_equal(v[5].gfn, 0x200);
	assert_int_equal(v[5].level, 1);

	/* min_level 2: no 4K entries. */
	n = collect(kvm, 0, 1ULL << 36, 2, v, 32, ~0ULL);
	assert_int_equal(n, 6);
	for (int i = 0; i < n; i++)
		assert_true(v[i].level >= 2);
}

static void test_tdp_iter_restart_after_yield(void **state)
{
	struct kvm *kvm = to_kvm(*state);
	struct visit v[32];
	int n;

	/*
	 * Yield at the 4K entry for gfn 1: the side step to it set
	 * next_last_level_gfn = 1, so the restart walks from the root down
	 * to gfn 1 again (the path, not gfn 0) and carries on from there.
	 */
	n = collect(kvm, 0, 1ULL << 36, 1, v, 32, 1);
	static const struct visit want[] = {
		{ 0, 4 }, { 0, 3 }, { 0, 2 }, { 0, 1 }, { 1, 1 },
		{ 0, 4 }, { 0, 3 }, { 0, 2 }, { 1, 1 },
		{ 0x200, 2 }, { 0x200, 1 }, { 0x40000, 3 }, { 0x40000, 2 },
		{ 0x40000, 1 },
	};
	assert_int_equal(n, ARRAY_SIZE(want));
	for (int i = 0; i < n; i++) {
		assert_int_equal(v[i].gfn, want[i].gfn);
		assert_int_equal(v[i].level, want[i].level);
	}
}

static void test_tdp_iter_bad_root(void **state)
{
	(void)state;
	/* A NULL root is a model bug: debug builds abort in the WARN, so
	 * only release builds can check that the iterator ends invalid. */
#ifdef NDEBUG
	struct tdp_iter iter = { .valid = true };

	tdp_iter_start(&iter, NULL, 1, 0, 0);
	assert_false(iter.valid);
#endif
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_setup_teardown(test_tdp_iter_preorder, setup, teardown),
	cmocka_unit_test_setup_teardown(test_tdp_iter_range_and_min_level, setup, teardown),
	cmocka_unit_test_setup_teardown(test_tdp_iter_restart_after_yield, setup, teardown),
	cmocka_unit_test(test_tdp_iter_bad_root),
};

TEST_MAIN(tests)
