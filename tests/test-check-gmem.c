/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The guest_memfd invariants of lib/check_gmem.c can fire: gmem-backing
 * (a private leaf on the wrong page, on a punched page, above its folio's
 * size), boundary (split.boundary=none over-zaps a straddling leaf),
 * attr-root and attr-uniform with attributes on the file (attrs=gmem), and
 * attr-root in the mirror test mode. Each breaks the state on purpose
 * (test hooks) or runs the unsafe policy and sees the ID reported.
 */
#include "check-test.h"
#include "vm_gmem.h"

#define P2M	512ULL
#define SZ_2M	(2ULL << 20)

/* A checked sw-protected VM (@mirror: the test mode), file 0 of 8 MiB
 * (@huge) bound to slot 0 at GFN 0, private (attrs @attrs). */
static struct ct *ct_gmem(bool mirror, enum tdpsim_attrs_mode attrs, int huge)
{
	struct tdpsim_memslot_config scfg;
	struct tdpsim_vm_config cfg;
	struct ct *x = calloc(1, sizeof(*x));

	assert_non_null(x);
	pthread_mutex_init(&x->lock, NULL);
	tdpsim_vm_config_init(&cfg);
	cfg.type = TDPSIM_VM_SW_PROTECTED;
	cfg.attrs = attrs;
	assert_tdp_ok(kvm_create_vm(&cfg, mirror ? KVM_VM_TEST_MIRROR : 0, &x->vm));
	assert_tdp_ok(tdpsim_checker_create(x->vm, ct_on_violation, x, &x->c));
	assert_tdp_ok(tdpsim_gmem_create(x->vm, 0, 4 * SZ_2M, huge, false));
	tdpsim_memslot_config_init(&scfg);
	scfg.id = 0;
	scfg.npages = 4 * P2M;
	scfg.gmem_id = 0;
	scfg.host_page_level = TDPSIM_LEVEL_2M;
	assert_tdp_ok(tdpsim_memslot_create(x->vm, &scfg));
	if (attrs == TDPSIM_ATTRS_VM)
		assert_tdp_ok(tdpsim_vm_set_memory_attributes(x->vm, 0, 4 * P2M, true));
	return x;
}

#define PFN_MASK 0x000ffffffffff000ULL

/* A private leaf that maps another page than its file page. */
static void test_check_gmem_backing_wrong_page(void **state)
{
	struct ct *x = ct_gmem(false, TDPSIM_ATTRS_VM, TDPSIM_LEVEL_4K);
	struct tdpsim_spte_info info;

	(void)state;
	assert_int_equal(ct_fault(x, 5), 1);
	assert_int_equal(ct_fault(x, 6), 1);
	assert_check_all_clean(x);
	assert_tdp_ok(tdpsim_vm_lookup_leaf(x->vm, TDPSIM_ROOT_DIRECT, 5, &info));
	/* GFN 5 now maps the page of GFN 6. */
	ct_poke(x, info.table, info.index,
		(info.spte & ~PFN_MASK) | ((info.spte + 0x1000) & PFN_MASK));
	tdpsim_checker_check_all(x->c);
	assert_reported_text(x, "gmem-backing", "is PFN");
	ct_unpoke(x);
	ct_reset(x);
	assert_check_all_clean(x);
	ct_free(x);
}

/* A private leaf left over a punched hole. */
static void test_check_gmem_backing_punched(void **state)
{
	struct ct *x = ct_gmem(true, TDPSIM_ATTRS_VM, TDPSIM_LEVEL_2M);
	struct tdpsim_spte_info info;

	(void)state;
	assert_int_equal(ct_fault(x, P2M), 2);
	assert_tdp_ok(tdpsim_vm_lookup_leaf(x->vm, TDPSIM_ROOT_MIRROR, P2M, &info));
	assert_tdp_ok(tdpsim_gmem_punch_hole(x->vm, 0, SZ_2M, SZ_2M));
	assert_check_all_clean(x);
	/* Put the 2M leaf back after its folio was freed. */
	ct_poke(x, info.table, info.index, info.spte);
	tdpsim_checker_check_all(x->c);
	assert_reported_text(x, "gmem-backing", "no folio");
	ct_free(x);
}

/* A leaf larger than its folio, and a leaf on a poisoned page. */
static void test_check_gmem_backing_level_and_poison(void **state)
{
	struct ct *x = ct_gmem(false, TDPSIM_ATTRS_VM, TDPSIM_LEVEL_2M);
	struct tdpsim_spte_info info;

	(void)state;
	assert_int_equal(ct_fault(x, P2M), 2);
	assert_tdp_ok(tdpsim_vm_lookup_leaf(x->vm, TDPSIM_ROOT_DIRECT, P2M, &info));
	/* Split the folio (its first page punched) and restore the 2M leaf
	 * the punch zapped: above the folio's size now. */
	assert_tdp_ok(tdpsim_gmem_punch_hole(x->vm, 0, (P2M + 511) << 12, 4096));
	assert_check_all_clean(x);
	ct_poke(x, info.table, info.index, info.spte);
	tdpsim_checker_check_all(x->c);
	assert_reported_text(x, "gmem-backing", "larger than its guest_memfd");
	ct_unpoke(x);
	ct_reset(x);

	/* A 4K leaf put back over a page poisoned meanwhile. */
	assert_int_equal(ct_fault(x, P2M + 3), 1);
	assert_tdp_ok(tdpsim_vm_lookup_leaf(x->vm, TDPSIM_ROOT_DIRECT, P2M + 3, &info));
	assert_tdp_ok(tdpsim_gmem_poison(x->vm, 0, (P2M + 3) << 12));
	assert_check_all_clean(x);
	ct_poke(x, info.table, info.index, info.spte);
	tdpsim_checker_check_all(x->c);
	assert_reported_text(x, "gmem-backing", "poisoned");
	ct_free(x);
}

/* split.boundary=none over-zaps a straddling huge leaf: `boundary`. */
static void test_check_gmem_boundary_none(void **state)
{
	struct ct *x = ct_gmem(true, TDPSIM_ATTRS_VM, TDPSIM_LEVEL_2M);

	(void)state;
	assert_tdp_ok(tdpsim_vm_set_policy(x->vm, "split.boundary", "none"));
	assert_int_equal(ct_fault(x, P2M), 2);
	assert_tdp_ok(tdpsim_gmem_punch_hole(x->vm, 0, (P2M + 8) << 12, 4096));
	/* Found at the zap itself (the observer), not later. */
	assert_reported_text(x, "boundary", "outside it");
	assert_int_equal(ct_count(x, "boundary"), 2);
	assert_int_equal(tdpsim_checker_check_all(x->c), 2);
	ct_reset(x);
	/* headtail on the next one: clean. */
	assert_tdp_ok(tdpsim_vm_set_policy(x->vm, "split.boundary", "headtail"));
	assert_int_equal(ct_fault(x, 2 * P2M), 2);
	assert_tdp_ok(tdpsim_gmem_punch_hole(x->vm, 0, (2 * P2M + 8) << 12, 4096));
	assert_check_all_clean(x);
	ct_free(x);
}

/* A private leaf left inside a zapped range: `boundary` at DONE. */
static void test_check_gmem_boundary_left_inside(void **state)
{
	struct ct *x = ct_gmem(true, TDPSIM_ATTRS_VM, TDPSIM_LEVEL_4K);
	const struct tdpsim_observer *obs;
	struct tdpsim_spte_info info;
	void *opaque;

	(void)state;
	assert_int_equal(ct_fault(x, 9), 1);
	assert_tdp_ok(tdpsim_vm_lookup_leaf(x->vm, TDPSIM_ROOT_MIRROR, 9, &info));
	/* Tell the checker of a zap of [8, 16) that zapped nothing. */
	obs = testhook_checker_observer(x->c, &opaque);
	obs->private_zap(opaque, 8, 16, TDPSIM_ZAP_BEGIN);
	obs->private_zap(opaque, 8, 16, TDPSIM_ZAP_DONE);
	assert_reported_text(x, "boundary", "still maps GFNs inside");
	ct_reset(x);
	/* Aborted: nothing had to go. */
	obs->private_zap(opaque, 8, 16, TDPSIM_ZAP_BEGIN);
	obs->private_zap(opaque, 8, 16, TDPSIM_ZAP_ABORTED);
	assert_clean(x);
	ct_free(x);
}

/* attrs=gmem: a shared leaf over GFNs the file made private. */
static void test_check_gmem_attr_uniform_in_place(void **state)
{
	struct ct *x = ct_gmem(false, TDPSIM_ATTRS_GMEM, TDPSIM_LEVEL_2M);
	struct tdpsim_spte_info info;

	(void)state;
	/* The file starts private; make its second 2M shared and map it. */
	assert_tdp_ok(tdpsim_vm_set_memory_attributes(x->vm, P2M, P2M, false));
	assert_int_equal(ct_fault(x, P2M + 1), 2);
	assert_tdp_ok(tdpsim_vm_lookup_leaf(x->vm, TDPSIM_ROOT_DIRECT, P2M, &info));
	assert_check_all_clean(x);
	/* In-place conversion of one page zaps the leaf; put it back. */
	assert_tdp_ok(tdpsim_gmem_set_memory_attributes(x->vm, 0, (P2M + 7) << 12,
							4096, true));
	assert_check_all_clean(x);
	ct_poke(x, info.table, info.index, info.spte);
	tdpsim_checker_check_all(x->c);
	assert_reported(x, "attr-uniform");
	ct_free(x);
}

/* The mirror test mode: a private GFN mapped in the direct root. */
static void test_check_gmem_attr_root_mirror(void **state)
{
	struct ct *x = ct_gmem(true, TDPSIM_ATTRS_VM, TDPSIM_LEVEL_4K);
	struct tdpsim_spte_info info;

	(void)state;
	assert_int_equal(ct_fault(x, 5), 1);
	assert_tdp_ok(tdpsim_vm_set_memory_attributes(x->vm, 0x100, 1, false));
	assert_int_equal(ct_fault(x, 0x100), 1);
	assert_tdp_ok(tdpsim_vm_lookup_leaf(x->vm, TDPSIM_ROOT_DIRECT, 0x100, &info));
	assert_check_all_clean(x);
	/* Back to private: the shared leaf goes; put it back. */
	assert_tdp_ok(tdpsim_vm_set_memory_attributes(x->vm, 0x100, 1, true));
	assert_check_all_clean(x);
	ct_poke(x, info.table, info.index, info.spte);
	tdpsim_checker_check_all(x->c);
	assert_reported_text(x, "attr-root", "private GFN mapped in the direct root");
	ct_free(x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_gmem_backing_wrong_page),
		cmocka_unit_test(test_check_gmem_backing_punched),
		cmocka_unit_test(test_check_gmem_backing_level_and_poison),
		cmocka_unit_test(test_check_gmem_boundary_none),
		cmocka_unit_test(test_check_gmem_boundary_left_inside),
		cmocka_unit_test(test_check_gmem_attr_uniform_in_place),
		cmocka_unit_test(test_check_gmem_attr_root_mirror),
	};
	int r;

	tdpsim_thread_register();
	r = cmocka_run_group_tests(tests, NULL, NULL);
	tdpsim_thread_unregister();
	return r;
}
