/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Scale: a 16 TiB guest with a few hundred mappings costs memory in
 * proportion to what is mapped, and a 12 TiB conversion costs what it
 * touches, not its size.
 */
#include <time.h>

#include "mmu-test.h"

#define SLOT_PAGES	(1ULL << 32)	/* 16 TiB */
#define NR_MAPS		300

static uint64_t bytes_live(struct tdpsim_vm *vm)
{
	struct tdpsim_allocator *a = &to_kvm(vm)->alloc;
	uint64_t sum = 0;

	for (int k = 0; k < TDPSIM_ALLOC_KIND_NR; k++)
		sum += atomic_load(&a->bytes[k]);
	return sum;
}

/* Distinct values of gfn >> shift over the mapped GFNs. */
static uint64_t distinct(const tdpsim_gfn_t *g, int n, int shift)
{
	uint64_t count = 0;

	for (int i = 0; i < n; i++) {
		bool seen = false;

		for (int j = 0; j < i && !seen; j++)
			seen = (g[j] >> shift) == (g[i] >> shift);
		count += !seen;
	}
	return count;
}

static void test_scale_16t_sparse(void **state)
{
	struct tdpsim_vm *vm = test_vm(TDPSIM_VM_SW_PROTECTED, 4, 1);
	tdpsim_gfn_t gfns[NR_MAPS];
	uint64_t want_pt, bytes, pt_bytes;
	struct timespec t0, t1;

	(void)state;
	test_slot(vm, 0, 0, SLOT_PAGES, TDPSIM_LEVEL_4K);
	for (int i = 0; i < NR_MAPS; i++) {
		gfns[i] = (SLOT_PAGES / NR_MAPS) * i + (uint64_t)i * 4099;
		assert_int_equal(test_fault(vm, gfns[i]), 1);
	}
	/* Root, then one table per distinct 512G, 1G and 2M region. */
	want_pt = 1 + distinct(gfns, NR_MAPS, 27) + distinct(gfns, NR_MAPS, 18) +
		  distinct(gfns, NR_MAPS, 9);
	assert_int_equal(stat(vm, PT_LIVE), want_pt);
	assert_int_equal(tdpsim_vm_alloc_live(vm, TDPSIM_ALLOC_KIND_PT), want_pt);

	bytes = bytes_live(vm);
	pt_bytes = want_pt * 4096;
	print_message("16 TiB slot, %d mappings: %llu page tables, %.2f MiB live "
		      "(%.2f MiB page tables)\n", NR_MAPS,
		      (unsigned long long)want_pt, bytes / 1048576.0,
		      pt_bytes / 1048576.0);
	assert_true(bytes < 64ULL << 20);
	/* Beyond the tables: caches, memmap, lpage_info, slots: < 4 MiB. */
	assert_true(bytes - pt_bytes < 4ULL << 20);

	/* A 12 TiB conversion: zaps what is mapped there, touches only the
	 * lpage_info at its ends. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_tdp_ok(tdpsim_vm_set_memory_attributes(vm, 1ULL << 30, 3ULL << 30, true));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_int_equal(stat(vm, ZAP_4K), (uint64_t)NR_MAPS * 3 / 4);
	assert_true(bytes_live(vm) < 64ULL << 20);
	print_message("12 TiB conversion: %.3f ms\n",
		      (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
	assert_true(t1.tv_sec - t0.tv_sec < 2);

	tdpsim_vm_teardown(vm);
	for (int k = 0; k < TDPSIM_ALLOC_KIND_NR; k++)
		assert_int_equal(tdpsim_vm_alloc_live(vm, k), 0);
	tdpsim_vm_destroy(vm);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_scale_16t_sparse),
};

TEST_MAIN(tests)
