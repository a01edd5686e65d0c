/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * SPTE encodings (lib/spte.{c,h}) against the kernel's EPT constants.
 */
#include "mmu-test.h"
#include "spte.h"

static void test_spte_constants(void **state)
{
	(void)state;
	assert_int_equal(SHADOW_NONPRESENT_VALUE, 0x8000000000000000ULL);
	assert_int_equal(FROZEN_SPTE, 0x80000000000005a0ULL);
	assert_int_equal(SPTE_MMU_PRESENT_MASK, 1ULL << 11);
	assert_int_equal(PT_PAGE_SIZE_MASK, 1ULL << 7);
	assert_int_equal(VMX_EPT_RWX_MASK, 0x7);
	assert_int_equal(shadow_accessed_mask, 1ULL << 8);
	assert_int_equal(shadow_dirty_mask, 1ULL << 9);
	assert_int_equal(shadow_host_writable_mask, 1ULL << 57);
	assert_int_equal(shadow_mmu_writable_mask, 1ULL << 58);
	assert_int_equal(SPTE_BASE_ADDR_MASK, 0x000ffffffffff000ULL);
	assert_false(is_shadow_present_pte(FROZEN_SPTE));
	assert_false(is_shadow_present_pte(SHADOW_NONPRESENT_VALUE));
	assert_true(is_frozen_spte(FROZEN_SPTE));
	assert_false(is_frozen_spte(FROZEN_SPTE | 1));
	assert_int_equal(SPTE_INDEX(0x40201000ULL, 1), 1);
	assert_int_equal(SPTE_INDEX(0x40201000ULL, 2), 1);
	assert_int_equal(SPTE_INDEX(0x40201000ULL, 3), 1);
	assert_int_equal(KVM_PAGES_PER_HPAGE(3), 262144);
}

static void test_spte_make_leaf(void **state)
{
	struct make_spte_args a = {
		.level = PG_LEVEL_2M, .pte_access = ACC_ALL,
		.pfn = 0x12345600 >> 0, .host_writable = true,
	};
	u64 spte;

	(void)state;
	a.pfn = 0x40200;	/* 2M aligned */
	make_spte(&a, SHADOW_NONPRESENT_VALUE, &spte);
	assert_true(is_shadow_present_pte(spte));
	assert_true(is_large_pte(spte));
	assert_true(is_last_spte(spte, 2));
	assert_int_equal(spte_to_pfn(spte), 0x40200);
	assert_true(spte & VMX_EPT_SUPPRESS_VE_BIT);
	/* R, W, X, A, D, host- and MMU-writable. */
	assert_int_equal(spte & 0x7, 0x7);
	assert_true(spte & shadow_accessed_mask);
	assert_true(spte & shadow_dirty_mask);
	assert_true(spte & shadow_host_writable_mask);
	assert_true(spte & shadow_mmu_writable_mask);
	assert_true(spte_writable_bits_legal(spte));

	/* Read-only host mapping: none of the writable bits. */
	a.host_writable = false;
	a.level = PG_LEVEL_4K;
	make_spte(&a, SHADOW_NONPRESENT_VALUE, &spte);
	assert_false(is_large_pte(spte));
	assert_false(spte & (PT_WRITABLE_MASK | shadow_mmu_writable_mask |
			     shadow_host_writable_mask));

	/* Prefetch: no Accessed bit. */
	a.prefetch = true;
	make_spte(&a, SHADOW_NONPRESENT_VALUE, &spte);
	assert_false(spte & shadow_accessed_mask);
}

static void test_spte_split_and_collapse(void **state)
{
	struct make_spte_args a = {
		.level = PG_LEVEL_1G, .pte_access = ACC_ALL, .pfn = 0x80000,
		.host_writable = true,
	};
	u64 huge, small, tiny;

	(void)state;
	make_spte(&a, SHADOW_NONPRESENT_VALUE, &huge);
	/* 1G -> 2M: child 3 maps pfn + 3 * 512, still huge. */
	small = make_small_spte(huge, PG_LEVEL_2M, 3);
	assert_int_equal(spte_to_pfn(small), 0x80000 + 3 * 512);
	assert_true(is_large_pte(small));
	/* 2M -> 4K: child 511 maps pfn + 511, no huge bit. */
	tiny = make_small_spte(small, PG_LEVEL_4K, 511);
	assert_int_equal(spte_to_pfn(tiny), 0x80000 + 3 * 512 + 511);
	assert_false(is_large_pte(tiny));
	/* All other bits are inherited. */
	assert_int_equal(tiny & ~SPTE_BASE_ADDR_MASK,
			 huge & ~(SPTE_BASE_ADDR_MASK | PT_PAGE_SIZE_MASK));
	/* Collapse back: alignment restored, huge bit set. */
	assert_int_equal(make_huge_spte(tiny, PG_LEVEL_1G), huge);
	assert_int_equal(spte_to_pfn(make_huge_spte(tiny, PG_LEVEL_2M)),
			 0x80000 + 3 * 512);
}

static void test_spte_nonleaf_and_predicates(void **state)
{
	static _Alignas(4096) tdp_spte_t pt[512];
	u64 spte = make_nonleaf_spte(pt, false);

	(void)state;
	assert_true(is_shadow_present_pte(spte));
	assert_false(is_last_spte(spte, 2));
	assert_true(is_last_spte(spte, 1));	/* level 1 is always last */
	assert_ptr_equal(spte_to_child_pt(spte, 2), pt);
	assert_null(spte_to_child_pt(spte | PT_PAGE_SIZE_MASK, 2));
	assert_null(spte_to_child_pt(SHADOW_NONPRESENT_VALUE, 2));
	assert_int_equal(spte & 0x7, 0x7);

	/* Write-protected for dirty logging: W clear, MMU-writable set:
	 * needs atomic updates (fast PF may restore W), no flush needed. */
	u64 leaf = SPTE_MMU_PRESENT_MASK | shadow_present_mask | 0x6 |
		   shadow_accessed_mask | shadow_host_writable_mask |
		   shadow_mmu_writable_mask;
	assert_true(spte_needs_atomic_update(leaf));
	assert_false(leaf_spte_change_needs_tlb_flush(leaf | PT_WRITABLE_MASK, leaf));
	assert_true(leaf_spte_change_needs_tlb_flush(leaf, leaf & ~shadow_mmu_writable_mask));
	/* Writable and dirty: nothing left for hardware to set. */
	assert_false(spte_needs_atomic_update(leaf | PT_WRITABLE_MASK | shadow_dirty_mask));
	assert_true(spte_needs_atomic_update(leaf | PT_WRITABLE_MASK));
	assert_false(spte_writable_bits_legal((leaf | PT_WRITABLE_MASK) &
					      ~shadow_mmu_writable_mask));
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_spte_constants),
	cmocka_unit_test(test_spte_make_leaf),
	cmocka_unit_test(test_spte_split_and_collapse),
	cmocka_unit_test(test_spte_nonleaf_and_predicates),
};

TEST_MAIN(tests)
