/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-tdx-vm.c - KVM's side of TDX (lib/tdx.c) against the fake module,
 * and the TDX invariants (lib/check_tdx.c) each driven into a violation:
 * KVM skipping TRACK, mapping a page twice, reclaiming an S-EPT page with
 * the HKID assigned, a parent S-EPT page removed before its children, a
 * PAMT pair left behind, an accept the mapping does not respect.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <tdpsim/tdpsim.h>

#include "kvm_tdx.h"
#include "tdp_mmu.h"
#include "vm_gmem.h"

struct tv {
	struct tdpsim_vm *vm;
	struct tdpsim_checker *c;
	unsigned int total;
	unsigned int seamcall, hkid, mirror_sync, pamt, accept_level, leak;
	char last[512];
};

static void tv_on_violation(void *opaque, const struct tdpsim_violation *v)
{
	struct tv *t = opaque;

	t->total++;
	snprintf(t->last, sizeof(t->last), "%s: %s", v->id, v->what);
	if (!strcmp(v->id, "seamcall"))
		t->seamcall++;
	else if (!strcmp(v->id, "hkid"))
		t->hkid++;
	else if (!strcmp(v->id, "mirror-sync"))
		t->mirror_sync++;
	else if (!strcmp(v->id, "pamt"))
		t->pamt++;
	else if (!strcmp(v->id, "accept-level"))
		t->accept_level++;
	else if (!strcmp(v->id, "leak"))
		t->leak++;
}

/* A TDX VM with 8 MiB of private memory at GFN 0, finalized. */
static void tv_setup(struct tv *t, bool huge, bool dpamt)
{
	struct tdpsim_vm_config cfg;
	struct tdpsim_memslot_config slot;

	memset(t, 0, sizeof(*t));
	tdpsim_vm_config_init(&cfg);
	cfg.type = TDPSIM_VM_TDX;
	cfg.nr_vcpus = 2;
	assert_int_equal(tdpsim_vm_create(&cfg, &t->vm), 0);
	assert_int_equal(tdpsim_checker_create(t->vm, tv_on_violation, t, &t->c), 0);
	if (huge)
		assert_int_equal(tdpsim_vm_set_policy(t->vm, "tdx.huge", "on"), 0);
	if (dpamt)
		assert_int_equal(tdpsim_vm_set_policy(t->vm, "tdx.dpamt", "on"), 0);
	assert_int_equal(tdpsim_gmem_create(t->vm, 0, 8ULL << 20,
					    huge ? TDPSIM_LEVEL_2M : TDPSIM_LEVEL_4K,
					    false), 0);
	tdpsim_memslot_config_init(&slot);
	slot.id = 0;
	slot.base_gfn = 0;
	slot.npages = 2048;
	slot.gmem_id = 0;
	assert_int_equal(tdpsim_memslot_create(t->vm, &slot), 0);
	assert_int_equal(tdpsim_vm_set_memory_attributes(t->vm, 0, 2048, true), 0);
	assert_int_equal(tdx_gmem_post_populate(&t->vm->kvm, 0, 2), 0);
	assert_int_equal(tdx_td_finalize(&t->vm->kvm), 0);
}

static void tv_teardown(struct tv *t)
{
	tdpsim_checker_destroy(t->c);
	tdpsim_vm_destroy(t->vm);
}

static void tv_fault(struct tv *t, tdpsim_gfn_t gfn)
{
	struct tdpsim_fault_result res;

	assert_int_equal(tdpsim_vcpu_fault(tdpsim_vm_get_vcpu(t->vm, 0), gfn,
					   TDPSIM_FAULT_PRIVATE, TDPSIM_ACCESS_WRITE,
					   &res), 0);
	assert_int_equal(res.outcome, TDPSIM_FAULT_OK);
}

static struct tdpsim_tdx_module *tv_module(struct tv *t)
{
	return kvm_tdx_module(&t->vm->kvm);
}

/* The clean life of a TD: no violation, nothing left after teardown. */
static void test_tdx_vm_clean(void **state)
{
	struct tv t;

	(void)state;
	tv_setup(&t, true, true);
	tv_fault(&t, 0x10);
	tv_fault(&t, 0x200);
	assert_int_equal(tdpsim_checker_check_all(t.c), 0);
	assert_int_equal(tdpsim_vm_set_memory_attributes(t.vm, 0x10, 1, false), 0);
	assert_int_equal(tdpsim_checker_check_all(t.c), 0);
	tdpsim_vm_teardown(t.vm);
	assert_int_equal(tdpsim_checker_check_leak(t.c, NULL), 0);
	assert_int_equal(kvm_tdx_live_pages(&t.vm->kvm), 0);
	assert_int_equal(tdpsim_tdx_nr_tds(tv_module(&t)), 0);
	assert_int_equal(tdpsim_tdx_pamt_pairs(tv_module(&t)), 0);
	assert_int_equal(t.total, 0);
	tv_teardown(&t);
}

/* KVM forgets MEM.TRACK before PAGE.REMOVE: TLB_TRACKING_NOT_DONE. */
static void test_tdx_vm_skip_track(void **state)
{
	struct tv t;

	(void)state;
	tv_setup(&t, false, false);
	tv_fault(&t, 0x10);
	kvm_tdx_set_test_flags(&t.vm->kvm, TDX_TEST_SKIP_TRACK);
	(void)tdpsim_vm_set_memory_attributes(t.vm, 0x10, 1, false);
	tdpsim_checker_check_all(t.c);
	assert_true(t.seamcall >= 1);
	kvm_tdx_set_test_flags(&t.vm->kvm, 0);
	tv_teardown(&t);
}

/* KVM maps a page twice: the second PAGE.AUG finds the entry PENDING. */
static void test_tdx_vm_map_twice(void **state)
{
	struct tv t;

	(void)state;
	tv_setup(&t, false, false);
	kvm_tdx_set_test_flags(&t.vm->kvm, TDX_TEST_MAP_TWICE);
	tv_fault(&t, 0x20);
	kvm_tdx_set_test_flags(&t.vm->kvm, 0);
	tdpsim_checker_check_all(t.c);
	assert_int_equal(t.seamcall, 1);
	assert_int_equal(t.total, 1);
	tv_teardown(&t);
}

/* An S-EPT page reclaimed while the HKID is assigned. */
static void test_tdx_vm_reclaim_with_hkid(void **state)
{
	struct tdpsim_sept_entry_info info;
	struct kvm_mmu_page sp;
	struct kvm *kvm;
	struct tv t;

	(void)state;
	tv_setup(&t, false, false);
	kvm = &t.vm->kvm;
	tv_fault(&t, 0x30);
	/* The S-EPT page of the level-1 table mapping 0x30. */
	assert_int_equal(tdpsim_tdx_sept_lookup(tv_module(&t), kvm_tdx_tdr(kvm),
						0x30ULL << 12, TDPSIM_LEVEL_2M, &info), 0);
	assert_int_equal(info.state, TDPSIM_SEPT_NL_MAPPED);
	memset(&sp, 0, sizeof(sp));
	sp.role.is_mirror = true;
	sp.role.level = TDPSIM_LEVEL_4K;
	sp.external_spt = info.hpa;
	kvm_tdx_set_test_flags(kvm, TDX_TEST_RECLAIM_WITH_HKID);
	kvm->x86_ops.reclaim_external_sp(kvm, &sp);
	kvm_tdx_set_test_flags(kvm, 0);
	atomic_store(&kvm->vm_bugged, false);
	tdpsim_checker_check_all(t.c);
	assert_int_equal(t.hkid, 1);
	tv_teardown(&t);
}

/* A parent S-EPT page removed before its children: EPT_PAGE_NOT_FREE,
 * and the S-EPT entry left NL_BLOCKED (mirror-sync). */
static void test_tdx_vm_parent_first(void **state)
{
	struct tdpsim_tdx_module *m;
	tdpsim_hpa_t tdr;
	uint64_t e1, e2;
	struct tv t;

	(void)state;
	tv_setup(&t, false, false);
	tv_fault(&t, 0x40);
	m = tv_module(&t);
	tdr = kvm_tdx_tdr(&t.vm->kvm);
	assert_int_equal(tdpsim_tdh_mem_range_block(m, tdr, 0, TDPSIM_LEVEL_2M, &e1, &e2),
			 TDPSIM_TDX_SUCCESS);
	assert_int_equal(tdpsim_tdh_mem_track(m, tdr), TDPSIM_TDX_SUCCESS);
	assert_int_equal(tdpsim_tdx_status_code(tdpsim_tdh_mem_sept_remove(m, tdr, 0,
									   TDPSIM_LEVEL_2M,
									   &e1, &e2)),
			 TDPSIM_TDX_EPT_PAGE_NOT_FREE);
	tdpsim_checker_check_all(t.c);
	assert_int_equal(t.seamcall, 1);
	assert_true(t.mirror_sync >= 1);
	/* Unblock, so teardown can go on. */
	assert_int_equal(tdpsim_tdh_mem_track(m, tdr), TDPSIM_TDX_SUCCESS);
	assert_int_equal(tdpsim_tdh_mem_range_unblock(m, tdr, 0, TDPSIM_LEVEL_2M,
						      &e1, &e2), TDPSIM_TDX_SUCCESS);
	tv_teardown(&t);
}

/* A Dynamic-PAMT pair left after the TD is gone. */
static void test_tdx_vm_pamt_left(void **state)
{
	tdpsim_hpa_t pair[2] = { 0x7000000, 0x7001000 };
	struct tv t;

	(void)state;
	tv_setup(&t, false, true);
	tv_fault(&t, 0x50);
	tdpsim_vm_teardown(t.vm);
	assert_int_equal(tdpsim_tdh_phymem_pamt_add(tv_module(&t), 0x6000000, pair),
			 TDPSIM_TDX_SUCCESS);
	tdpsim_checker_check_leak(t.c, NULL);
	assert_true(t.pamt >= 1);
	assert_true(t.leak >= 1);
	tv_teardown(&t);
}

/* A guest accept at 4K the mapping does not respect (a 2M leaf, no
 * guest-inhibit): accept-level. */
static void test_tdx_vm_accept_level(void **state)
{
	struct tv t;

	(void)state;
	tv_setup(&t, true, false);
	tv_fault(&t, 0x400);
	tdpsim_checker_note_accept(t.c, 0x401, TDPSIM_LEVEL_4K, true);
	tdpsim_checker_check_all(t.c);
	assert_int_equal(t.accept_level, 2);
	tv_teardown(&t);
}

/* The real accept keeps it: split, inhibit, no violation. */
static void test_tdx_vm_accept_split(void **state)
{
	enum tdx_accept_result ar;
	struct tdpsim_spte_info leaf;
	struct tv t;

	(void)state;
	tv_setup(&t, true, false);
	tv_fault(&t, 0x400);
	assert_int_equal(tdx_accept(t.vm->kvm.vcpus[1], 0x401, TDPSIM_LEVEL_4K, &ar), 0);
	assert_int_equal(ar, TDX_ACCEPT_OK);
	tdpsim_checker_note_accept(t.c, 0x401, TDPSIM_LEVEL_4K, true);
	tdpsim_checker_check_all(t.c);
	assert_int_equal(tdpsim_vm_lookup_leaf(t.vm, TDPSIM_ROOT_MIRROR, 0x5ff, &leaf), 0);
	assert_int_equal(leaf.level, TDPSIM_LEVEL_4K);
	assert_int_equal(t.total, 0);
	tv_teardown(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tdx_vm_clean),
		cmocka_unit_test(test_tdx_vm_skip_track),
		cmocka_unit_test(test_tdx_vm_map_twice),
		cmocka_unit_test(test_tdx_vm_reclaim_with_hkid),
		cmocka_unit_test(test_tdx_vm_parent_first),
		cmocka_unit_test(test_tdx_vm_pamt_left),
		cmocka_unit_test(test_tdx_vm_accept_level),
		cmocka_unit_test(test_tdx_vm_accept_split),
	};

	return cmocka_run_group_tests_name("tdx-vm", tests, NULL, NULL);
}
