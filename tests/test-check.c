/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The invariant checker (lib/check*.c): realistic sequences are clean, and
 * every invariant the model can reach is shown to fire, by breaking model
 * state on purpose (testhooks.h) or by driving the checker's observer with
 * a synthetic bad transition.
 */
#include "check-test.h"

/*
 * The fixture: a sw-protected VM with two vCPUs and
 *   slot 0: GFNs [0, 0x80000) (2 GiB), 2M host pages;
 *   slot 1: GFNs [S1, S1 + 0x1000), 4K host pages.
 */
#define S1 0x100000ULL

static int setup(void **state)
{
	struct ct *x = ct_new(TDPSIM_VM_SW_PROTECTED, 4, 2);

	ct_slot(x, 0, 0, 0x80000, TDPSIM_LEVEL_2M);
	ct_slot(x, 1, S1, 0x1000, TDPSIM_LEVEL_4K);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	ct_free(*state);
	return 0;
}

/* ---- clean runs ---- */

static void check_each(struct ct *x)
{
	assert_check_touched_clean(x);
}

/* Everything a trace can do to this model, checked after every step. */
static void run_sequence(struct ct *x, bool private_mem)
{
	struct tdpsim_fault_result res;
	struct tdpsim_vcpu *v1 = tdpsim_vm_get_vcpu(x->vm, 1);

	assert_check_all_clean(x);
	/* Faults: 2M leaves in slot 0, 4K in slot 1, every access kind. */
	assert_int_equal(ct_fault(x, 0x200), TDPSIM_LEVEL_2M);
	check_each(x);
	assert_int_equal(ct_fault_on(x, 1, 0x401, TDPSIM_ACCESS_READ), TDPSIM_LEVEL_2M);
	check_each(x);
	ct_fault_on(x, 0, 0x402, TDPSIM_ACCESS_WRITE);
	ct_fault_on(x, 0, 0x603, TDPSIM_ACCESS_EXEC);
	check_each(x);
	for (tdpsim_gfn_t g = S1; g < S1 + 0x40; g += 3)
		assert_int_equal(ct_fault(x, g), TDPSIM_LEVEL_4K);
	check_each(x);
	assert_tdp_ok(tdpsim_vcpu_prefault(v1, S1 + 0x800, 0x20, &res));
	check_each(x);

	if (private_mem) {
		/* A 4K page inside a mapped 2M page turns private: the 2M
		 * leaf goes, lpage_info says MIXED, the refault is 4K. */
		assert_tdp_ok(tdpsim_vm_set_memory_attributes(x->vm, 0x210, 1, true));
		check_each(x);
		assert_int_equal(ct_fault(x, 0x200), TDPSIM_LEVEL_4K);
		check_each(x);
		/* No guest_memfd: a private fault exits to userspace. */
		assert_int_equal(ct_fault(x, 0x210), 0);
		check_each(x);
		assert_tdp_ok(tdpsim_vm_set_memory_attributes(x->vm, 0x10000, 0x40000,
							      true));
		check_each(x);
		assert_tdp_ok(tdpsim_vm_set_memory_attributes(x->vm, 0x210, 1, false));
		check_each(x);
		assert_tdp_ok(tdpsim_vm_set_memory_attributes(x->vm, 0x10000, 0x40000,
							      false));
		check_each(x);
		assert_check_all_clean(x);
	}

	/* mmu-notifier invalidation. */
	assert_tdp_ok(tdpsim_vm_invalidate_range(x->vm, 0x300, 0x200));
	check_each(x);
	assert_tdp_ok(tdpsim_vm_invalidate_range(x->vm, S1 + 3, 1));
	check_each(x);

	/* Dirty logging with eager split; faults while logging; clears. */
	assert_int_equal(ct_fault(x, 0x1000), TDPSIM_LEVEL_2M);
	assert_tdp_ok(tdpsim_memslot_set_dirty_log(x->vm, 0, true, false));
	tdpsim_checker_note_eager_split(x->c, 0, true);
	check_each(x);
	assert_int_equal(ct_fault(x, 0x1400), TDPSIM_LEVEL_4K);
	assert_tdp_ok(tdpsim_memslot_clear_dirty(x->vm, 0, 0x1000, 0xffULL));
	check_each(x);
	assert_check_all_clean(x);
	assert_tdp_ok(tdpsim_memslot_set_dirty_log(x->vm, 0, false, false));
	check_each(x);
	assert_int_equal(ct_fault(x, 0x1600), TDPSIM_LEVEL_2M);
	check_each(x);

	/* Manual protect: no eager split, clears split and protect. */
	assert_tdp_ok(tdpsim_memslot_set_dirty_log(x->vm, 0, true, true));
	check_each(x);
	assert_tdp_ok(tdpsim_memslot_clear_dirty(x->vm, 0, 0x1600, 0x5ULL));
	check_each(x);
	assert_tdp_ok(tdpsim_memslot_set_dirty_log(x->vm, 0, false, false));
	check_each(x);

	/* A slot made over mixed attributes gets MIXED from the start. */
	if (private_mem) {
		assert_tdp_ok(tdpsim_vm_set_memory_attributes(x->vm, 0x90010, 0x300,
							      true));
		check_each(x);
		ct_slot(x, 5, 0x90000, 0x40000, TDPSIM_LEVEL_2M);
		check_each(x);
		assert_int_equal(ct_fault(x, 0x90000), TDPSIM_LEVEL_4K);
		assert_int_equal(ct_fault(x, 0x90400), TDPSIM_LEVEL_2M);
		check_each(x);
		assert_tdp_ok(tdpsim_memslot_delete(x->vm, 5));
		check_each(x);
	}

	/* Slots: delete one with mappings, add a misaligned one. */
	assert_tdp_ok(tdpsim_memslot_delete(x->vm, 1));
	check_each(x);
	ct_slot(x, 2, S1 + 0x123, 0x20345, TDPSIM_LEVEL_1G);
	check_each(x);
	assert_int_equal(ct_fault(x, S1 + 0x123), TDPSIM_LEVEL_4K);
	assert_int_equal(ct_fault(x, S1 + 0x10000), TDPSIM_LEVEL_2M);
	assert_int_equal(ct_fault(x, S1 + 0x123 + 0x20345 - 1), TDPSIM_LEVEL_4K);
	check_each(x);
	assert_check_all_clean(x);
}

static void test_check_clean_sequence(void **state)
{
	struct ct *x = *state;

	run_sequence(x, true);
	tdpsim_vm_teardown(x->vm);
	assert_int_equal(tdpsim_checker_check_leak(x->c, NULL), 0);
	/* Checks after teardown have nothing to look at. */
	assert_int_equal(tdpsim_checker_check_all(x->c), 0);
	assert_int_equal(tdpsim_checker_check_touched(x->c), 0);
	assert_clean(x);
}

static void test_check_clean_default_5level(void **state)
{
	struct ct *x = ct_new(TDPSIM_VM_DEFAULT, 5, 2);

	(void)state;
	ct_slot(x, 0, 0, 0x80000, TDPSIM_LEVEL_2M);
	ct_slot(x, 1, S1, 0x1000, TDPSIM_LEVEL_4K);
	run_sequence(x, false);
	/* A 1G leaf, and a huge slot far up. */
	ct_slot(x, 7, 0x40000000ULL, 0x100000, TDPSIM_LEVEL_1G);
	assert_int_equal(ct_fault(x, 0x40000000ULL + 5), TDPSIM_LEVEL_1G);
	assert_check_touched_clean(x);
	assert_check_all_clean(x);
	tdpsim_vm_teardown(x->vm);
	assert_int_equal(tdpsim_checker_check_leak(x->c, NULL), 0);
	assert_clean(x);
	ct_free(x);
}

/* Eager split that runs out of memory: huge leaves may stay (read-only). */
static void test_check_clean_eager_split_enomem(void **state)
{
	struct ct *x = *state;
	int r;

	assert_int_equal(ct_fault(x, 0x200), TDPSIM_LEVEL_2M);
	assert_int_equal(ct_fault(x, 0x400), TDPSIM_LEVEL_2M);
	tdpsim_vm_inject_alloc_fail(x->vm, 0, 1);
	r = tdpsim_memslot_set_dirty_log(x->vm, 0, true, false);
	assert_int_equal(r, -ENOMEM);
	tdpsim_checker_note_eager_split(x->c, 0, false);
	assert_check_touched_clean(x);
	assert_check_all_clean(x);
}

/* ---- spte-format ---- */

static void test_check_spte_format_writable_bits(void **state)
{
	struct ct *x = *state;
	struct tdpsim_spte_info e;

	ct_fault(x, S1 + 5);
	assert_check_all_clean(x);
	e = ct_leaf(x, S1 + 5);
	/* W without MMU-writable is not a legal triple. */
	ct_poke(x, e.table, e.index, e.spte & ~CT_SPTE_MMU_WRITABLE);
	assert_true(tdpsim_checker_check_all(x->c) > 0);
	assert_reported(x, "spte-format");
	assert_reported_text(x, "spte-format", "writable");
	ct_unpoke(x);
	ct_reset(x);
	assert_check_all_clean(x);
}

static void test_check_spte_format_frozen_and_garbage(void **state)
{
	struct ct *x = *state;
	struct tdpsim_spte_info e;
	uint64_t old;

	ct_fault(x, S1 + 5);
	e = ct_leaf(x, S1 + 5);
	old = ct_poke(x, e.table, e.index, CT_SPTE_FROZEN);
	assert_true(tdpsim_checker_check_all(x->c) > 0);
	assert_reported(x, "spte-format");
	assert_reported_text(x, "spte-format", "FROZEN");
	ct_reset(x);
	/* Not present, not empty, not MMIO, not FROZEN. */
	ct_poke(x, e.table, e.index, CT_SPTE_EMPTY | 0x10);
	assert_true(tdpsim_checker_check_all(x->c) > 0);
	assert_reported(x, "spte-format");
	ct_reset(x);
	/* A 4K leaf with the huge bit. */
	ct_poke(x, e.table, e.index, old | CT_SPTE_HUGE);
	assert_true(tdpsim_checker_check_all(x->c) > 0);
	assert_reported(x, "spte-format");
	ct_unpoke(x);
	ct_reset(x);
	assert_check_all_clean(x);
}

/* A transition to a bad value is caught as it happens. */
static void test_check_spte_format_transition(void **state)
{
	struct ct *x = *state;
	struct tdpsim_spte_info e;

	ct_fault(x, 0x200);
	e = ct_leaf(x, 0x200);
	ct_lock(x, TDPSIM_LOCK_WRITE, true);
	/* A 2M leaf whose PFN is not 2M aligned. */
	ct_change(x, &e, CT_SPTE_EMPTY, e.spte + CT_SPTE_PFN(1), false,
		  TDPSIM_LOCK_WRITE);
	ct_lock(x, TDPSIM_LOCK_WRITE, false);
	assert_reported(x, "spte-format");
	assert_true(x->v[0].transition);
}

/* ---- pfn-stable ---- */

static void test_check_pfn_stable(void **state)
{
	struct ct *x = *state;
	struct tdpsim_spte_info e;

	ct_fault(x, S1 + 5);
	e = ct_leaf(x, S1 + 5);
	assert_check_all_clean(x);
	ct_lock(x, TDPSIM_LOCK_WRITE, true);
	ct_change(x, &e, e.spte, e.spte + CT_SPTE_PFN(1), false, TDPSIM_LOCK_WRITE);
	ct_lock(x, TDPSIM_LOCK_WRITE, false);
	assert_reported(x, "pfn-stable");
	assert_true(x->v[0].transition);
	assert_int_equal(tdpsim_checker_check_touched(x->c), (int)x->total);

	/* The same PFN with fewer permissions is fine (with a flush). */
	ct_reset(x);
	ct_lock(x, TDPSIM_LOCK_WRITE, true);
	ct_change(x, &e, e.spte, e.spte & ~CT_SPTE_W, false, TDPSIM_LOCK_WRITE);
	ct_lock(x, TDPSIM_LOCK_WRITE, false);
	assert_clean(x);
}

/* ---- pt-linkage ---- */

struct find_parent {
	const void *child;
	struct tdpsim_spte_info parent;
	bool found;
};

static int find_parent_fn(void *opaque, const struct tdpsim_spte_info *e)
{
	struct find_parent *f = opaque;

	if (e->child == f->child) {
		f->parent = *e;
		f->found = true;
		return 1;
	}
	return 0;
}

static struct tdpsim_spte_info parent_of(struct ct *x, const void *table)
{
	struct find_parent f = { .child = table };

	tdpsim_vm_walk_sptes(x->vm, TDPSIM_ROOT_DIRECT, 0, UINT64_MAX,
			     find_parent_fn, &f);
	assert_true(f.found);
	return f.parent;
}

static void test_check_pt_linkage_second_parent(void **state)
{
	struct ct *x = *state;
	struct tdpsim_spte_info e, p;

	ct_fault(x, S1 + 5);
	e = ct_leaf(x, S1 + 5);
	p = parent_of(x, e.table);
	assert_int_equal(p.level, 2);
	/* Link the same 4K table from the next (empty) 2M entry too. */
	assert_int_equal(ct_poke(x, p.table, p.index + 1, p.spte),
			 CT_SPTE_EMPTY);
	assert_true(tdpsim_checker_check_all(x->c) > 0);
	assert_reported(x, "pt-linkage");
	assert_reported_text(x, "pt-linkage", "second parent");
	ct_unpoke(x);
	ct_reset(x);
	assert_check_all_clean(x);
}

static void test_check_pt_linkage_unlinked_reachable(void **state)
{
	struct ct *x = *state;
	struct tdpsim_spte_info e;
	const struct tdpsim_observer *o;
	void *op;

	ct_fault(x, S1 + 5);
	e = ct_leaf(x, S1 + 5);
	assert_check_all_clean(x);
	/* The model says it unlinked a table that is still linked. */
	o = ct_obs(x, &op);
	o->pt_unlinked(op, e.table, 1);
	assert_true(tdpsim_checker_check_all(x->c) > 0);
	assert_reported(x, "pt-linkage");
	assert_reported_text(x, "pt-linkage", "unlinked");
}

static void test_check_pt_linkage_counts(void **state)
{
	struct ct *x = *state;
	void *p;

	ct_fault(x, S1 + 5);
	assert_check_all_clean(x);
	/* A page-table page allocated behind pt.live's back. */
	p = testhook_alloc(x->vm, TDPSIM_ALLOC_KIND_PT);
	assert_non_null(p);
	assert_true(tdpsim_checker_check_touched(x->c) > 0);
	assert_reported(x, "pt-linkage");
	testhook_free(x->vm, TDPSIM_ALLOC_KIND_PT, p);
	ct_reset(x);
	assert_check_all_clean(x);
}

/* A link written behind the observer's back. */
static void test_check_pt_linkage_unobserved_link(void **state)
{
	struct ct *x = *state;
	struct tdpsim_spte_info e, p;

	ct_fault(x, S1 + 5);
	e = ct_leaf(x, S1 + 5);
	p = parent_of(x, e.table);
	assert_check_all_clean(x);
	ct_poke(x, p.table, p.index, CT_SPTE_EMPTY);
	assert_true(tdpsim_checker_check_all(x->c) > 0);
	/* The walk finds one table less than pt.live and than the links
	 * the observer saw being made. */
	assert_reported_text(x, "pt-linkage", "pt.live");
	assert_reported_text(x, "pt-linkage", "bypassed the observer");
	ct_unpoke(x);
	ct_reset(x);
	/* Put back, the counts agree again. */
	assert_check_all_clean(x);
}

/* ---- attr-root ---- */

static void test_check_attr_root_wrong_pfn(void **state)
{
	struct ct *x = *state;
	struct tdpsim_spte_info e;

	ct_fault(x, S1 + 5);
	e = ct_leaf(x, S1 + 5);
	ct_poke(x, e.table, e.index, e.spte + CT_SPTE_PFN(7));
	assert_true(tdpsim_checker_check_all(x->c) > 0);
	assert_reported(x, "attr-root");
	assert_reported_text(x, "attr-root", "host PFN");
	ct_unpoke(x);
	ct_reset(x);
	assert_check_all_clean(x);
}

static void test_check_attr_root_private_host_pfn(void **state)
{
	struct ct *x = *state;
	struct tdpsim_spte_info e;

	ct_fault(x, S1 + 6);
	e = ct_leaf(x, S1 + 6);
	assert_tdp_ok(tdpsim_vm_set_memory_attributes(x->vm, S1 + 6, 1, true));
	assert_check_touched_clean(x);
	/* The shared mapping comes back after the conversion. */
	assert_int_equal(ct_poke(x, e.table, e.index, e.spte), CT_SPTE_EMPTY);
	assert_true(tdpsim_checker_check_all(x->c) > 0);
	assert_reported(x, "attr-root");
	assert_reported_text(x, "attr-root", "no guest_memfd");
	ct_unpoke(x);
	ct_reset(x);
	assert_check_all_clean(x);
}

/* ---- attr-uniform ---- */

static void test_check_attr_uniform(void **state)
{
	struct ct *x = *state;
	struct tdpsim_spte_info e;

	assert_int_equal(ct_fault(x, 0x200), TDPSIM_LEVEL_2M);
	e = ct_leaf(x, 0x200);
	assert_tdp_ok(tdpsim_vm_set_memory_attributes(x->vm, 0x10, 1, true));
	assert_check_touched_clean(x);
	/* A 2M leaf over [0, 0x200), where 0x10 is private. */
	e.index -= 1;
	assert_int_equal(ct_poke(x, e.table, e.index,
				    e.spte - CT_SPTE_PFN(0x200)),
			 CT_SPTE_EMPTY);
	assert_true(tdpsim_checker_check_all(x->c) > 0);
	assert_reported(x, "attr-uniform");
	/* lpage_info says MIXED there, so lpage fires too. */
	assert_reported(x, "lpage");
	ct_unpoke(x);
	ct_reset(x);
	assert_check_all_clean(x);
}

/* ---- lpage ---- */

static void test_check_lpage_quiescent(void **state)
{
	struct ct *x = *state;
	uint32_t old;

	assert_int_equal(ct_fault(x, 0x200), TDPSIM_LEVEL_2M);
	assert_check_touched_clean(x);
	assert_tdp_ok(testhook_lpage_poke(x->vm, 0, TDPSIM_LEVEL_2M, 0x200, 1, &old));
	assert_int_equal(old, 0);
	assert_true(tdpsim_checker_check_all(x->c) > 0);
	assert_reported(x, "lpage");
	assert_reported(x, "lpage-info");
	assert_tdp_ok(testhook_lpage_poke(x->vm, 0, TDPSIM_LEVEL_2M, 0x200, 0, NULL));
	ct_reset(x);
	assert_check_all_clean(x);
}

/* A huge leaf installed while lpage_info disallows it at that instant (a
 * fault that read lpage_info before a racing update). */
static void test_check_lpage_at_install(void **state)
{
	struct ct *x = *state;
	struct tdpsim_spte_info e;

	assert_int_equal(ct_fault(x, 0x200), TDPSIM_LEVEL_2M);
	e = ct_leaf(x, 0x200);
	assert_tdp_ok(testhook_lpage_poke(x->vm, 0, TDPSIM_LEVEL_2M, 0x400, 1, NULL));
	e.index += 1;
	e.gfn = 0x400;
	ct_lock(x, TDPSIM_LOCK_READ, true);
	ct_change(x, &e, CT_SPTE_EMPTY, e.spte + CT_SPTE_PFN(0x200), true,
		  TDPSIM_LOCK_READ);
	ct_lock(x, TDPSIM_LOCK_READ, false);
	assert_int_equal(x->total, 1);
	assert_reported(x, "lpage");
	assert_true(x->v[0].transition);
	assert_tdp_ok(testhook_lpage_poke(x->vm, 0, TDPSIM_LEVEL_2M, 0x400, 0, NULL));

	/* Allowed there: installing is fine. */
	ct_reset(x);
	ct_lock(x, TDPSIM_LOCK_READ, true);
	ct_change(x, &e, CT_SPTE_EMPTY, e.spte + CT_SPTE_PFN(0x200), true,
		  TDPSIM_LOCK_READ);
	ct_lock(x, TDPSIM_LOCK_READ, false);
	assert_clean(x);
}

/* A shared huge leaf above the slot's host page size. */
static void test_check_lpage_host_level(void **state)
{
	struct ct *x = *state;
	struct tdpsim_spte_info e, p;

	ct_slot(x, 3, 0x200000, 0x40000, TDPSIM_LEVEL_2M);
	assert_int_equal(ct_fault(x, 0x200000), TDPSIM_LEVEL_2M);
	e = ct_leaf(x, 0x200000);
	p = parent_of(x, e.table);
	assert_int_equal(p.level, TDPSIM_LEVEL_1G);
	assert_check_all_clean(x);
	/* A 1G leaf where the host maps 2M. Unlink the 2M table first, as
	 * a collapse would (the poke bypasses the observer: pt-linkage). */
	ct_poke(x, p.table, p.index, e.spte | CT_SPTE_HUGE);
	assert_true(tdpsim_checker_check_all(x->c) > 0);
	assert_reported(x, "lpage");
	assert_reported_text(x, "lpage", "host page");
	ct_unpoke(x);
	ct_reset(x);
	assert_check_all_clean(x);
}

/* ---- lpage-info ---- */

static void test_check_lpage_info_mixed(void **state)
{
	struct ct *x = *state;

	/* Uniform, yet MIXED. */
	assert_tdp_ok(testhook_lpage_poke(x->vm, 0, TDPSIM_LEVEL_2M, 0x600,
					  TDPSIM_LPAGE_MIXED_FLAG, NULL));
	assert_true(tdpsim_checker_check_all(x->c) > 0);
	assert_reported(x, "lpage-info");
	assert_reported_text(x, "lpage-info", "MIXED");
	assert_tdp_ok(testhook_lpage_poke(x->vm, 0, TDPSIM_LEVEL_2M, 0x600, 0, NULL));
	ct_reset(x);
	assert_check_all_clean(x);

	/* Mixed (after a conversion), yet not MIXED, at 2M and at 1G. */
	assert_tdp_ok(tdpsim_vm_set_memory_attributes(x->vm, 0x610, 1, true));
	assert_check_touched_clean(x);
	assert_tdp_ok(testhook_lpage_poke(x->vm, 0, TDPSIM_LEVEL_2M, 0x600, 0, NULL));
	assert_tdp_ok(testhook_lpage_poke(x->vm, 0, TDPSIM_LEVEL_1G, 0x600, 0, NULL));
	assert_int_equal(tdpsim_checker_check_all(x->c), 2);
	assert_int_equal(ct_count(x, "lpage-info"), 2);
}

static void test_check_lpage_info_count(void **state)
{
	struct ct *x = *state;
	uint32_t old;

	/* Slot 1 ends inside a 1G page: its only 1G entry counts 1. */
	assert_tdp_ok(testhook_lpage_poke(x->vm, 1, TDPSIM_LEVEL_1G, S1, 0, &old));
	assert_int_equal(old, 1);
	assert_true(tdpsim_checker_check_all(x->c) > 0);
	assert_reported(x, "lpage-info");
	assert_reported_text(x, "lpage-info", "count");
	assert_tdp_ok(testhook_lpage_poke(x->vm, 1, TDPSIM_LEVEL_1G, S1, 1, NULL));
	ct_reset(x);
	assert_check_all_clean(x);
}

static void test_check_lpage_info_inhibit(void **state)
{
	struct ct *x = *state;

	/* Guest-inhibit outside TDX. */
	assert_tdp_ok(testhook_lpage_poke(x->vm, 0, TDPSIM_LEVEL_2M, 0x800,
					  TDPSIM_LPAGE_GUEST_INHIBIT_FLAG, NULL));
	assert_true(tdpsim_checker_check_all(x->c) > 0);
	assert_reported(x, "lpage-info");
	assert_reported_text(x, "lpage-info", "not TDX");
	ct_reset(x);
	/* ... and cleared again: never allowed. */
	assert_tdp_ok(testhook_lpage_poke(x->vm, 0, TDPSIM_LEVEL_2M, 0x800, 0, NULL));
	assert_int_equal(tdpsim_checker_check_all(x->c), 1);
	assert_reported(x, "lpage-info");
	assert_reported_text(x, "lpage-info", "cleared");
	ct_reset(x);
	assert_check_all_clean(x);
}

/* The touched check looks at the lpage_info a conversion wrote. */
static void test_check_lpage_info_touched(void **state)
{
	struct ct *x = *state;

	assert_check_all_clean(x);
	/* Corrupt an entry the next conversion will not touch... */
	assert_tdp_ok(testhook_lpage_poke(x->vm, 0, TDPSIM_LEVEL_2M, 0x6000,
					  TDPSIM_LPAGE_MIXED_FLAG, NULL));
	assert_tdp_ok(tdpsim_vm_set_memory_attributes(x->vm, 0x210, 1, true));
	/* ...the touched check does not see it, the full one does. */
	assert_check_touched_clean(x);
	assert_int_equal(tdpsim_checker_check_all(x->c), 1);
	assert_reported(x, "lpage-info");
	assert_tdp_ok(testhook_lpage_poke(x->vm, 0, TDPSIM_LEVEL_2M, 0x6000, 0, NULL));
	ct_reset(x);
	/* A conversion the model would get wrong: corrupt what it wrote. */
	assert_tdp_ok(tdpsim_vm_set_memory_attributes(x->vm, 0x7010, 1, true));
	assert_tdp_ok(testhook_lpage_poke(x->vm, 0, TDPSIM_LEVEL_2M, 0x7000, 0, NULL));
	assert_int_equal(tdpsim_checker_check_touched(x->c), 1);
	assert_reported(x, "lpage-info");
	ct_reset(x);
	assert_tdp_ok(testhook_lpage_poke(x->vm, 0, TDPSIM_LEVEL_2M, 0x7000,
					  TDPSIM_LPAGE_MIXED_FLAG, NULL));
	assert_check_touched_clean(x);

	/* Entries the model does not write (already clear) but whose
	 * attributes changed are looked at too. */
	assert_tdp_ok(tdpsim_vm_set_memory_attributes(x->vm, 0x8000, 0x400, true));
	assert_tdp_ok(testhook_lpage_poke(x->vm, 0, TDPSIM_LEVEL_2M, 0x8200,
					  TDPSIM_LPAGE_MIXED_FLAG, NULL));
	assert_int_equal(tdpsim_checker_check_touched(x->c), 1);
	assert_reported(x, "lpage-info");
	assert_tdp_ok(testhook_lpage_poke(x->vm, 0, TDPSIM_LEVEL_2M, 0x8200, 0, NULL));
	ct_reset(x);
	assert_check_all_clean(x);
}

/* An lpage_info write the observer saw is looked at, wherever it is. */
static void test_check_lpage_info_touched_write(void **state)
{
	struct ct *x = *state;
	void *op;
	const struct tdpsim_observer *o = ct_obs(x, &op);

	assert_check_all_clean(x);
	assert_tdp_ok(testhook_lpage_poke(x->vm, 0, TDPSIM_LEVEL_2M, 0x9000,
					  TDPSIM_LPAGE_MIXED_FLAG, NULL));
	ct_lock(x, TDPSIM_LOCK_WRITE, true);
	o->lpage_access(op, 0, TDPSIM_LEVEL_2M, 0x9000 >> 9, true, TDPSIM_LOCK_WRITE);
	ct_lock(x, TDPSIM_LOCK_WRITE, false);
	assert_clean(x);
	assert_int_equal(tdpsim_checker_check_touched(x->c), 1);
	assert_reported(x, "lpage-info");
	assert_tdp_ok(testhook_lpage_poke(x->vm, 0, TDPSIM_LEVEL_2M, 0x9000, 0, NULL));
	ct_reset(x);
	assert_check_all_clean(x);
}

/* ---- dirty-log ---- */

static void test_check_dirty_log_writable(void **state)
{
	struct ct *x = *state;

	assert_int_equal(ct_fault(x, 0x200), TDPSIM_LEVEL_2M);
	assert_check_all_clean(x);
	/* Logging on, but nothing split or write-protected. */
	assert_tdp_ok(testhook_slot_poke_dirty_log(x->vm, 0, true));
	assert_true(tdpsim_checker_check_touched(x->c) > 0);
	assert_reported(x, "dirty-log");
	assert_reported_text(x, "dirty-log", "writable");
	assert_tdp_ok(testhook_slot_poke_dirty_log(x->vm, 0, false));
	ct_reset(x);
	assert_check_all_clean(x);
}

static void test_check_dirty_log_eager(void **state)
{
	struct ct *x = *state;

	assert_tdp_ok(tdpsim_vm_set_policy(x->vm, "mmu.eager-split", "off"));
	assert_int_equal(ct_fault(x, 0x200), TDPSIM_LEVEL_2M);
	assert_tdp_ok(tdpsim_memslot_set_dirty_log(x->vm, 0, true, false));
	/* Without eager split the 2M leaf stays, write-protected: fine. */
	assert_check_touched_clean(x);
	assert_check_all_clean(x);
	/* Told the eager split completed, the leaf must not be there. */
	tdpsim_checker_note_eager_split(x->c, 0, true);
	assert_true(tdpsim_checker_check_touched(x->c) > 0);
	assert_reported(x, "dirty-log");
	assert_reported_text(x, "dirty-log", "eager");
	/* A stopped split allows it. */
	ct_reset(x);
	tdpsim_checker_note_eager_split(x->c, 0, false);
	assert_check_all_clean(x);
}

/* ---- tlb ---- */

static void test_check_tlb(void **state)
{
	struct ct *x = *state;
	struct tdpsim_spte_info e;

	ct_fault(x, S1 + 5);
	e = ct_leaf(x, S1 + 5);
	assert_check_all_clean(x);

	/* Zapped, no flush before the unlock. */
	ct_lock(x, TDPSIM_LOCK_WRITE, true);
	ct_change(x, &e, e.spte, CT_SPTE_EMPTY, false, TDPSIM_LOCK_WRITE);
	ct_lock(x, TDPSIM_LOCK_WRITE, false);
	assert_int_equal(x->total, 1);
	assert_reported(x, "tlb");

	/* Flushed elsewhere only: still stale. */
	ct_reset(x);
	ct_lock(x, TDPSIM_LOCK_WRITE, true);
	ct_change(x, &e, e.spte, e.spte & ~(CT_SPTE_W | CT_SPTE_MMU_WRITABLE), false,
		  TDPSIM_LOCK_WRITE);
	ct_obs(x, NULL)->tlb_flush(x->c, e.gfn + 1, 10);
	ct_lock(x, TDPSIM_LOCK_WRITE, false);
	assert_reported(x, "tlb");

	/* Flushed: fine; a W-only clear needs no flush now. */
	ct_reset(x);
	ct_lock(x, TDPSIM_LOCK_WRITE, true);
	ct_change(x, &e, e.spte, CT_SPTE_EMPTY, false, TDPSIM_LOCK_WRITE);
	ct_obs(x, NULL)->tlb_flush(x->c, e.gfn, 1);
	ct_change(x, &e, e.spte, e.spte & ~CT_SPTE_W, false, TDPSIM_LOCK_WRITE);
	ct_lock(x, TDPSIM_LOCK_WRITE, false);
	assert_clean(x);
}

/* ---- lock ---- */

static void test_check_lock(void **state)
{
	struct ct *x = *state;
	struct tdpsim_spte_info e;
	void *op;
	const struct tdpsim_observer *o = ct_obs(x, &op);

	ct_fault(x, S1 + 5);
	e = ct_leaf(x, S1 + 5);

	/* No mmu_lock at all. */
	ct_change(x, &e, e.spte, e.spte & ~CT_SPTE_W, true, TDPSIM_LOCK_NONE);
	assert_reported(x, "lock");
	assert_reported_text(x, "lock", "without mmu_lock");

	/* A plain store under the read lock. */
	ct_reset(x);
	ct_lock(x, TDPSIM_LOCK_READ, true);
	ct_change(x, &e, e.spte, e.spte & ~CT_SPTE_W, false, TDPSIM_LOCK_READ);
	ct_lock(x, TDPSIM_LOCK_READ, false);
	assert_int_equal(x->total, 1);
	assert_reported(x, "lock");

	/* The model's own idea of the lock disagrees with what it did. */
	ct_reset(x);
	ct_lock(x, TDPSIM_LOCK_READ, true);
	ct_change(x, &e, e.spte, e.spte & ~CT_SPTE_W, true, TDPSIM_LOCK_WRITE);
	ct_lock(x, TDPSIM_LOCK_READ, false);
	assert_reported(x, "lock");

	/* lpage_info read without mmu_lock, written under the read lock. */
	ct_reset(x);
	o->lpage_access(op, 0, TDPSIM_LEVEL_2M, 0, false, TDPSIM_LOCK_NONE);
	assert_int_equal(x->total, 1);
	assert_reported_text(x, "lock", "read without mmu_lock");
	ct_reset(x);
	ct_lock(x, TDPSIM_LOCK_READ, true);
	o->lpage_access(op, 0, TDPSIM_LEVEL_2M, 0, false, TDPSIM_LOCK_READ);
	assert_clean(x);
	o->lpage_access(op, 0, TDPSIM_LEVEL_2M, 0, true, TDPSIM_LOCK_READ);
	ct_lock(x, TDPSIM_LOCK_READ, false);
	assert_int_equal(x->total, 1);
	assert_reported_text(x, "lock", "written");
	/* A slot nobody can see yet (being created) needs no lock. */
	ct_reset(x);
	o->lpage_access(op, 42, TDPSIM_LEVEL_2M, 0, true, TDPSIM_LOCK_NONE);
	o->lpage_access(op, 42, TDPSIM_LEVEL_2M, 0, false, TDPSIM_LOCK_NONE);
	assert_clean(x);

	/* Lockless, atomic, inside RCU, only W: the fast page fault. */
	ct_reset(x);
	o->rcu_read(op, true);
	ct_change(x, &e, e.spte & ~CT_SPTE_W, e.spte, true, TDPSIM_LOCK_NONE);
	o->rcu_read(op, false);
	/* Freeze then unfreeze by the owner under the read lock. */
	ct_lock(x, TDPSIM_LOCK_READ, true);
	ct_change(x, &e, CT_SPTE_EMPTY, CT_SPTE_FROZEN, true, TDPSIM_LOCK_READ);
	ct_change(x, &e, CT_SPTE_FROZEN, e.spte, false, TDPSIM_LOCK_READ);
	ct_lock(x, TDPSIM_LOCK_READ, false);
	assert_clean(x);
}

/* ---- no-sleep ---- */

static void test_check_no_sleep(void **state)
{
	struct ct *x = *state;
	struct tdpsim_alloc_event a = {
		.kind = TDPSIM_ALLOC_KIND_PT,
		.size = 4096,
		.from_cache = false,
		.lock = TDPSIM_LOCK_READ,
		.may_sleep = false,
	};
	void *op;
	const struct tdpsim_observer *o = ct_obs(x, &op);

	ct_lock(x, TDPSIM_LOCK_READ, true);
	o->alloc(op, &a);
	assert_int_equal(x->total, 1);
	assert_reported(x, "no-sleep");
	/* From the caches is what the fault path does. */
	ct_reset(x);
	a.from_cache = true;
	o->alloc(op, &a);
	ct_lock(x, TDPSIM_LOCK_READ, false);
	assert_clean(x);
	/* Without mmu_lock, the system allocator is fine. */
	a.from_cache = false;
	a.lock = TDPSIM_LOCK_NONE;
	a.may_sleep = true;
	o->alloc(op, &a);
	assert_clean(x);
}

/* ---- rcu ---- */

static _Alignas(4096) uint64_t fake_table[512];
static _Alignas(4096) uint64_t fake_table2[512];

static void test_check_rcu(void **state)
{
	struct ct *x = *state;
	void *op;
	const struct tdpsim_observer *o = ct_obs(x, &op);

	/* Freed while the reader that saw it unlinked is still inside. */
	o->rcu_read(op, true);
	o->pt_unlinked(op, fake_table, 1);
	o->pt_freed(op, fake_table);
	o->rcu_read(op, false);
	assert_int_equal(x->total, 1);
	assert_reported(x, "rcu");

	/* After the reader left (and a new section began): fine. */
	ct_reset(x);
	o->rcu_read(op, true);
	o->pt_unlinked(op, fake_table, 1);
	o->rcu_read(op, false);
	o->rcu_read(op, true);
	o->pt_freed(op, fake_table);
	o->rcu_read(op, false);
	assert_clean(x);

	/* Freed without ever being unlinked. */
	o->pt_freed(op, fake_table2);
	assert_reported(x, "rcu");
	/* Leaving a section one is not in. */
	ct_reset(x);
	o->rcu_read(op, false);
	assert_reported(x, "rcu");
}

/* ---- leak ---- */

static void test_check_leak(void **state)
{
	struct ct *x = *state;
	void *p;

	ct_fault(x, 0x200);
	p = testhook_alloc(x->vm, TDPSIM_ALLOC_KIND_MEMSLOT);
	assert_non_null(p);
	tdpsim_vm_teardown(x->vm);
	assert_int_equal(tdpsim_checker_check_leak(x->c, NULL), 1);
	assert_reported(x, "leak");
	testhook_free(x->vm, TDPSIM_ALLOC_KIND_MEMSLOT, p);
	ct_reset(x);
	assert_int_equal(tdpsim_checker_check_leak(x->c, NULL), 0);

	/* An explicit baseline below what is live. */
	{
		uint64_t baseline[TDPSIM_ALLOC_KIND_NR] = { 0 };

		p = testhook_alloc(x->vm, TDPSIM_ALLOC_KIND_MISC);
		assert_int_equal(tdpsim_checker_check_leak(x->c, baseline), 1);
		baseline[TDPSIM_ALLOC_KIND_MISC] = 1;
		ct_reset(x);
		assert_int_equal(tdpsim_checker_check_leak(x->c, baseline), 0);
		testhook_free(x->vm, TDPSIM_ALLOC_KIND_MISC, p);
	}
}

static void test_check_leak_unlinked_table(void **state)
{
	struct ct *x = *state;
	void *op;
	const struct tdpsim_observer *o = ct_obs(x, &op);

	o->pt_unlinked(op, fake_table, 1);
	tdpsim_vm_teardown(x->vm);
	assert_int_equal(tdpsim_checker_check_leak(x->c, NULL), 1);
	assert_reported(x, "leak");
	assert_reported_text(x, "leak", "never freed");
}

/* ---- progress ---- */

static void test_check_progress(void **state)
{
	struct ct *x = *state;
	struct tdpsim_fault_result res;
	struct tdpsim_spte_info e, p;
	int r;

	ct_fault(x, S1 + 5);
	e = ct_leaf(x, S1 + 5);
	p = parent_of(x, e.table);
	assert_tdp_ok(tdpsim_vm_set_policy(x->vm, "mmu.fault-retries", "1"));
	/* A FROZEN entry that nobody will ever finish: the fault retries. */
	ct_poke(x, p.table, p.index + 1, CT_SPTE_FROZEN);
	r = tdpsim_vcpu_fault(tdpsim_vm_get_vcpu(x->vm, 0), S1 + 0x205,
			      TDPSIM_FAULT_DEFAULT, TDPSIM_ACCESS_WRITE, &res);
	assert_int_equal(r, -EAGAIN);
	assert_reported(x, "progress");
	assert_true(x->v[0].transition);
	ct_unpoke(x);
	/* The next check counts the transition's report too. */
	assert_int_equal(tdpsim_checker_check_all(x->c), 1);
	ct_reset(x);
	assert_check_all_clean(x);
}

/* ---- the IDs ---- */

static void test_check_invariant_ids(void **state)
{
	static const char *const active[] = {
		"spte-format", "pfn-stable", "pt-linkage", "attr-root",
		"attr-uniform", "lpage", "lpage-info", "dirty-log", "tlb",
		"lock", "no-sleep", "rcu", "leak", "progress",
		"gmem-backing", "boundary", "accept-level", "mirror-sync",
		"seamcall", "pamt", "hkid",
	};
	unsigned int n = 0;
	bool on;

	(void)state;
	for (size_t i = 0; i < sizeof(active) / sizeof(active[0]); i++) {
		assert_int_equal(tdpsim_invariant_lookup(active[i], &on), 0);
		assert_true(on);
	}
	assert_int_equal(tdpsim_invariant_lookup("nope", NULL), -ENOENT);
	while (tdpsim_invariant_name(n))
		n++;
	assert_int_equal(n, 21);
	assert_string_equal(tdpsim_invariant_name(0), "spte-format");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_check_clean_sequence, setup, teardown),
		cmocka_unit_test(test_check_clean_default_5level),
		cmocka_unit_test_setup_teardown(test_check_clean_eager_split_enomem,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_spte_format_writable_bits,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_spte_format_frozen_and_garbage,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_spte_format_transition,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_pfn_stable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_pt_linkage_second_parent,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_pt_linkage_unlinked_reachable,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_pt_linkage_counts,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_pt_linkage_unobserved_link,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_attr_root_wrong_pfn,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_attr_root_private_host_pfn,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_attr_uniform, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_lpage_quiescent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_lpage_at_install, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_lpage_host_level, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_lpage_info_mixed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_lpage_info_count, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_lpage_info_inhibit,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_lpage_info_touched,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_lpage_info_touched_write,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_dirty_log_writable,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_dirty_log_eager, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_tlb, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_lock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_no_sleep, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_rcu, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_leak, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_leak_unlinked_table,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_progress, setup, teardown),
		cmocka_unit_test(test_check_invariant_ids),
	};
	int r;

	/* TEST_FILTER=pattern runs only the matching tests. */
	if (getenv("TEST_FILTER"))
		cmocka_set_test_filter(getenv("TEST_FILTER"));
	tdpsim_thread_register();
	r = cmocka_run_group_tests_name("check", tests, NULL, NULL);
	tdpsim_thread_unregister();
	return r;
}
