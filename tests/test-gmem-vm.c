/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * guest_memfd wired into the VM (lib/vm_gmem.c): binding rules, private
 * faults from folios, punch and poison with the MMU mapped, conversions
 * both ways with attributes on the VM and on the file, and the precise
 * private zap of a mirror root under the three split.boundary policies
 * (identical mappings, different work), at 16 TiB, and running out of
 * memory half-way. Every test runs the checker and ends with a clean
 * teardown (no leak, gmem.folios 0).
 */
#include "gmem-vm-test.h"

/* ---- binding ---- */

static void test_gmem_vm_binding_errors(void **state)
{
	struct gv *g = gv_new(TDPSIM_ATTRS_VM, false);
	struct tdpsim_memslot_config cfg;
	struct tdpsim_vm_config vcfg;
	struct tdpsim_vm *vm;

	(void)state;
	/* KVM_CREATE_GUEST_MEMFD */
	assert_tdp_ok(tdpsim_gmem_create(g->vm, 0, 4 * SZ_2M, TDPSIM_LEVEL_2M, false));
	assert_int_equal(tdpsim_gmem_create(g->vm, 0, SZ_2M, 0, false), -EEXIST);
	assert_int_equal(tdpsim_gmem_create(g->vm, 1, 0, 0, false), -EINVAL);
	assert_int_equal(tdpsim_gmem_create(g->vm, 1, 4095, 0, false), -EINVAL);
	assert_int_equal(tdpsim_gmem_create(g->vm, 1, SZ_2M, 4, false), -EINVAL);
	assert_tdp_ok(tdpsim_gmem_create(g->vm, 1, SZ_2M, 0, true));

	/* kvm_gmem_bind(): the file must exist, offset aligned, inside. */
	assert_int_equal(gv_slot(g, 0, 0, 512, 7, 0), -EINVAL);
	assert_int_equal(gv_slot(g, 0, 0, 512, 0, 4096 + 1), -EINVAL);
	assert_int_equal(gv_slot(g, 0, 0, 4 * 512 + 1, 0, 0), -EINVAL);
	assert_int_equal(gv_slot(g, 0, 0, 512, 0, 4 * SZ_2M - 4096 * 511), -EINVAL);
	assert_tdp_ok(gv_slot(g, 0, 0, 1024, 0, SZ_2M));
	/* Overlapping bindings of one file, whatever the GFNs: EEXIST. */
	assert_int_equal(gv_slot(g, 1, 0x10000, 512, 0, 2 * SZ_2M), -EEXIST);
	assert_int_equal(gv_slot(g, 1, 0x10000, 1, 0, SZ_2M), -EEXIST);
	assert_tdp_ok(gv_slot(g, 1, 0x10000, 512, 0, 3 * SZ_2M));
	assert_tdp_ok(gv_slot(g, 2, 0x20000, 512, 0, 0));
	/* Overlapping GFNs: EEXIST before the binding is tried. */
	assert_int_equal(gv_slot(g, 3, 0x100, 512, 1, 0), -EEXIST);
	/* check_memory_region_flags(): no read-only guest_memfd slot ... */
	tdpsim_memslot_config_init(&cfg);
	cfg.id = 3;
	cfg.base_gfn = 0x30000;
	cfg.npages = 512;
	cfg.gmem_id = 1;
	cfg.readonly = true;
	assert_int_equal(tdpsim_memslot_create(g->vm, &cfg), -EINVAL);
	/* ... and no dirty logging on one. */
	assert_int_equal(tdpsim_memslot_set_dirty_log(g->vm, 0, true, false), -EINVAL);

	/* Deleting a slot unbinds it: its range can be bound again. */
	assert_tdp_ok(tdpsim_memslot_delete(g->vm, 2));
	assert_tdp_ok(gv_slot(g, 2, 0x40000, 512, 0, 0));

	/* Attributes on the file need private memory. */
	tdpsim_vm_config_init(&vcfg);
	vcfg.attrs = TDPSIM_ATTRS_GMEM;
	assert_int_equal(tdpsim_vm_create(&vcfg, &vm), -EINVAL);
	/* And in-place conversion needs them on the file. */
	assert_int_equal(tdpsim_gmem_set_memory_attributes(g->vm, 0, 0, SZ_2M, true),
			 -EINVAL);
	assert_int_equal(tdpsim_gmem_punch_hole(g->vm, 9, 0, SZ_2M), -ENOENT);
	gv_free(g);
}

/* ---- private faults ---- */

static void test_gmem_vm_private_fault(void **state)
{
	struct gv *g = gv_new(TDPSIM_ATTRS_VM, false);
	struct tdpsim_fault_result res;

	(void)state;
	assert_tdp_ok(tdpsim_gmem_create(g->vm, 0, 4 * SZ_2M, TDPSIM_LEVEL_2M, false));
	/* Bound at 2M into the file: GFN 0x1000 is page 512. */
	assert_tdp_ok(gv_slot(g, 0, 0x1000, 1024, 0, SZ_2M));
	assert_tdp_ok(gv_slot(g, 1, 0x8000, 512, -1, 0));
	assert_tdp_ok(tdpsim_vm_set_memory_attributes(g->vm, 0x1000, 1024, true));
	assert_tdp_ok(tdpsim_vm_set_memory_attributes(g->vm, 0x8000, 512, true));

	/* Before any folio exists, the file would allocate a 2M one. */
	assert_int_equal(tdpsim_vm_max_mapping_level(g->vm, 0x1005, TDPSIM_FAULT_DEFAULT), 2);
	assert_int_equal(gv_fault(g, 0x1005), 2);
	assert_int_equal(gv_folio_level(g, 0, 512), 2);
	assert_int_equal(gv_pfn(g, 0x1005, true), gv_file_pfn(g, 0, 512 + 5));
	/* The shared view of a private GFN exits to userspace. */
	assert_tdp_ok(tdpsim_vcpu_fault(tdpsim_vm_get_vcpu(g->vm, 0), 0x1005,
					TDPSIM_FAULT_SHARED, TDPSIM_ACCESS_WRITE, &res));
	assert_int_equal(res.outcome, TDPSIM_FAULT_EXIT_MEMORY_FAULT);
	/* No guest_memfd behind the slot: exit-memory-fault. */
	assert_int_equal(gv_fault(g, 0x8000), -1000);
	assert_int_equal(stat(g->vm, GMEM_FOLIOS), 1);

	/* A file bound at an offset not congruent with the GFN mod 2M can only
	 * map 4K. */
	assert_tdp_ok(tdpsim_gmem_create(g->vm, 1, 4 * SZ_2M, TDPSIM_LEVEL_2M, false));
	assert_tdp_ok(gv_slot(g, 2, 0x10000, 512, 1, 4096));
	assert_tdp_ok(tdpsim_vm_set_memory_attributes(g->vm, 0x10000, 512, true));
	assert_int_equal(tdpsim_vm_max_mapping_level(g->vm, 0x10000, TDPSIM_FAULT_DEFAULT), 1);
	assert_int_equal(gv_fault(g, 0x10000), 1);
	assert_int_equal(gv_pfn(g, 0x10000, true), gv_file_pfn(g, 1, 1));
	gv_free(g);
}

/* ---- punch ---- */

/* A VM with file 0 (@size, @huge) bound to slot 0 at GFN 0, all private. */
static struct gv *gv_private(bool mirror, enum tdpsim_attrs_mode attrs,
			     uint64_t size, int huge)
{
	struct gv *g = gv_new(attrs, mirror);

	assert_tdp_ok(tdpsim_gmem_create(g->vm, 0, size, huge, false));
	assert_tdp_ok(gv_slot(g, 0, 0, size >> 12, 0, 0));
	if (attrs == TDPSIM_ATTRS_VM)
		assert_tdp_ok(tdpsim_vm_set_memory_attributes(g->vm, 0, size >> 12, true));
	return g;
}

static void punch_whole(bool mirror)
{
	struct gv *g = gv_private(mirror, TDPSIM_ATTRS_VM, 4 * SZ_2M, TDPSIM_LEVEL_2M);
	tdpsim_pfn_t old;

	assert_int_equal(gv_fault(g, P2M + 7), 2);
	assert_int_equal(gv_fault(g, 2 * P2M), 2);
	old = gv_pfn(g, P2M, true);
	assert_int_equal(stat(g->vm, GMEM_FOLIOS), 2);

	/* The whole 2M folio: its leaf is zapped, the folio freed. */
	assert_tdp_ok(tdpsim_gmem_punch_hole(g->vm, 0, SZ_2M, SZ_2M));
	assert_int_equal(gv_level(g, P2M + 7, true), 0);
	assert_int_equal(gv_level(g, 2 * P2M, true), 2);
	assert_int_equal(stat(g->vm, GMEM_FOLIOS), 1);
	assert_int_equal(stat(g->vm, ZAP_2M), 1);
	assert_int_equal(stat(g->vm, SPLIT_2M), 0);
	gv_check(g);
	/* A fault brings a fresh folio back (host memory may hand the same
	 * block out again). */
	assert_int_equal(gv_fault(g, P2M + 7), 2);
	assert_int_equal(gv_pfn(g, P2M, true), gv_file_pfn(g, 0, P2M));
	assert_int_equal(gv_folio_level(g, 0, P2M), 2);
	(void)old;
	gv_free(g);
}

static void test_gmem_vm_punch_whole_huge(void **state)
{
	(void)state;
	punch_whole(false);
	punch_whole(true);
}

static void punch_partial(bool mirror)
{
	struct gv *g = gv_private(mirror, TDPSIM_ATTRS_VM, 4 * SZ_2M, TDPSIM_LEVEL_2M);
	tdpsim_pfn_t p8, p9;

	assert_int_equal(gv_fault(g, P2M), 2);
	p8 = gv_pfn(g, P2M + 8, true);
	p9 = gv_pfn(g, P2M + 9, true);

	/* One page inside the 2M folio: the folio splits, only it is freed. */
	assert_tdp_ok(tdpsim_gmem_punch_hole(g->vm, 0, (P2M + 8) << 12, 4096));
	assert_int_equal(gv_folio_level(g, 0, P2M + 9), 1);
	assert_int_equal(gv_folio_level(g, 0, P2M + 8), 0);
	assert_int_equal(gv_file_pfn(g, 0, P2M + 9), p9);
	assert_int_equal(stat(g->vm, GMEM_FOLIOS), 511);
	assert_int_equal(gv_level(g, P2M + 8, true), 0);
	if (mirror) {
		/* Precise: the 2M leaf split, one 4K leaf zapped. */
		assert_int_equal(stat(g->vm, SPLIT_2M), 1);
		assert_int_equal(stat(g->vm, ZAP_4K), 1);
		assert_int_equal(gv_level(g, P2M + 9, true), 1);
		assert_int_equal(gv_pfn(g, P2M + 9, true), p9);
	} else {
		/* The direct root zaps the huge leaf whole, as the kernel. */
		assert_int_equal(stat(g->vm, ZAP_2M), 1);
		assert_int_equal(gv_level(g, P2M + 9, true), 0);
		assert_int_equal(gv_fault(g, P2M + 9), 1);
		assert_int_equal(gv_pfn(g, P2M + 9, true), p9);
	}
	gv_check(g);
	/* The punched page comes back as a new 4K folio. */
	assert_int_equal(tdpsim_vm_max_mapping_level(g->vm, P2M + 8, TDPSIM_FAULT_DEFAULT), 1);
	assert_int_equal(gv_fault(g, P2M + 8), 1);
	assert_int_equal(gv_pfn(g, P2M + 8, true), gv_file_pfn(g, 0, P2M + 8));
	(void)p8;
	gv_free(g);
}

static void test_gmem_vm_punch_partial_huge(void **state)
{
	(void)state;
	punch_partial(false);
	punch_partial(true);
}

/* A 1G leaf punched in the middle: 1G -> 2M -> 4K at each boundary. */
static void test_gmem_vm_punch_1g_mirror(void **state)
{
	struct gv *g = gv_private(true, TDPSIM_ATTRS_VM, 2 * SZ_1G, TDPSIM_LEVEL_1G);
	tdpsim_gfn_t s = 0x12345, e = s + 0x1000;	/* 16 MiB, unaligned */
	tdpsim_pfn_t pfn;
	struct walk_sum w;

	(void)state;
	assert_int_equal(gv_fault(g, 7), 3);
	pfn = gv_pfn(g, 0, true);
	assert_tdp_ok(tdpsim_gmem_punch_hole(g->vm, 0, s << 12, (e - s) << 12));
	assert_int_equal(stat(g->vm, SPLIT_1G), 1);
	assert_int_equal(stat(g->vm, SPLIT_2M), 2);
	w = gv_walk(g, TDPSIM_ROOT_MIRROR);
	/* 512 2M leaves less the 8 the hole covers in part or whole (two
	 * split, six zapped), plus what is left of the two split ones. */
	assert_int_equal(w.leaves[2], 512 - 9);
	assert_int_equal(w.leaves[1], (s & 511) + (512 - (e & 511)));
	assert_int_equal(stat(g->vm, ZAP_2M), 7);
	for (tdpsim_gfn_t gfn = 0; gfn < P1G; gfn += 0x777) {
		bool inside = gfn >= s && gfn < e;

		assert_int_equal(gv_pfn(g, gfn, true), inside ? 0 : pfn + gfn);
	}
	assert_int_equal(gv_pfn(g, s - 1, true), pfn + s - 1);
	assert_int_equal(gv_pfn(g, e, true), pfn + e);
	gv_free(g);
}

/* ---- poison ---- */

static void poison(bool mirror)
{
	struct gv *g = gv_private(mirror, TDPSIM_ATTRS_VM, 4 * SZ_2M, TDPSIM_LEVEL_2M);
	tdpsim_pfn_t p;

	assert_int_equal(gv_fault(g, 0x42), 2);
	p = gv_pfn(g, 0x43, true);
	assert_tdp_ok(tdpsim_gmem_poison(g->vm, 0, 0x42 << 12));
	assert_int_equal(gv_level(g, 0x42, true), 0);
	assert_int_equal(gv_level(g, 0x43, true), mirror ? 1 : 0);
	gv_check(g);
	/* The poisoned page: -EHWPOISON; its neighbours keep their PFNs. */
	assert_int_equal(gv_fault(g, 0x42), -EHWPOISON);
	assert_int_equal(gv_fault(g, 0x43), 1);
	assert_int_equal(gv_pfn(g, 0x43, true), p);
	assert_int_equal(tdpsim_vm_max_mapping_level(g->vm, 0x42, TDPSIM_FAULT_DEFAULT), 1);
	/* memory_failure() again: -EHWPOISON; no page there: -ENOENT. */
	assert_int_equal(tdpsim_gmem_poison(g->vm, 0, 0x42 << 12), -EHWPOISON);
	assert_int_equal(tdpsim_gmem_poison(g->vm, 0, 3 * SZ_2M), -ENOENT);
	assert_int_equal(tdpsim_gmem_poison(g->vm, 0, 1), -EINVAL);
	/* Punching the poisoned page retires it; a fault gets a new one. */
	assert_tdp_ok(tdpsim_gmem_punch_hole(g->vm, 0, 0x42 << 12, 4096));
	assert_int_equal(gv_fault(g, 0x42), 1);
	assert_int_not_equal(gv_pfn(g, 0x42, true), p - 1);
	gv_free(g);
}

static void test_gmem_vm_poison(void **state)
{
	(void)state;
	poison(false);
	poison(true);
}

/* ---- conversions ---- */

/* attrs=vm (KVM_SET_MEMORY_ATTRIBUTES): private <-> shared. */
static void convert_vm_attrs(bool mirror)
{
	struct gv *g = gv_private(mirror, TDPSIM_ATTRS_VM, 4 * SZ_2M, TDPSIM_LEVEL_2M);
	struct tdpsim_memslot_info slot;
	tdpsim_pfn_t p;

	assert_tdp_ok(tdpsim_vm_memslot_at(g->vm, 0, &slot));
	assert_int_equal(gv_fault(g, 0x10), 2);
	p = gv_pfn(g, 0x11, true);

	/* Private -> shared of one page: only that page's private mapping
	 * goes in a mirror root; the direct root zaps the 2M leaf. */
	assert_tdp_ok(tdpsim_vm_set_memory_attributes(g->vm, 0x10, 1, false));
	assert_int_equal(gv_level(g, 0x10, true), 0);
	assert_int_equal(gv_level(g, 0x11, true), mirror ? 1 : 0);
	assert_int_equal(stat(g->vm, SPLIT_2M), mirror ? 1 : 0);
	/* The shared page maps host memory at 4K (MIXED). */
	assert_int_equal(gv_fault(g, 0x10), 1);
	assert_int_equal(gv_pfn(g, 0x10, false), slot.host_pfn + 0x10);
	assert_int_equal(tdpsim_vm_max_mapping_level(g->vm, 0x11, TDPSIM_FAULT_DEFAULT), 1);
	gv_check(g);

	/* Shared -> private: the shared mapping goes, the file page (which
	 * the VM never gave back) is mapped again. */
	assert_tdp_ok(tdpsim_vm_set_memory_attributes(g->vm, 0x10, 1, true));
	assert_int_equal(gv_level(g, 0x10, false), mirror ? 0 : 0);
	assert_int_equal(tdpsim_vm_max_mapping_level(g->vm, 0x11, TDPSIM_FAULT_DEFAULT), 2);
	assert_int_equal(gv_fault(g, 0x10) > 0, true);
	assert_int_equal(gv_pfn(g, 0x11, true), p);
	assert_int_equal(gv_pfn(g, 0x10, true), p - 1);
	gv_free(g);
}

static void test_gmem_vm_convert_vm_attrs(void **state)
{
	(void)state;
	convert_vm_attrs(false);
	convert_vm_attrs(true);
}

/* attrs=gmem (KVM_SET_MEMORY_ATTRIBUTES2): in-place conversion. */
static void convert_gmem_attrs(bool mirror)
{
	struct gv *g = gv_private(mirror, TDPSIM_ATTRS_GMEM, 4 * SZ_2M, TDPSIM_LEVEL_2M);
	struct tdpsim_memslot_info slot;
	tdpsim_pfn_t p;
	tdpsim_gfn_t end;
	bool priv;

	assert_tdp_ok(tdpsim_vm_memslot_at(g->vm, 0, &slot));
	/* The file starts private. */
	assert_true(tdpsim_vm_gfn_is_private(g->vm, 0x10));
	assert_tdp_ok(tdpsim_vm_attr_range(g->vm, 0, &end, &priv));
	assert_true(priv);
	assert_int_equal(end, 4 * P2M);
	assert_int_equal(gv_fault(g, 0x10), 2);
	p = gv_pfn(g, 0, true);

	/* Private -> shared in place: the folio splits, the attribute is the
	 * file's, lpage_info says MIXED, both kinds of mapping go. */
	assert_tdp_ok(tdpsim_vm_set_memory_attributes(g->vm, 0x10, 16, false));
	assert_false(tdpsim_vm_gfn_is_private(g->vm, 0x10));
	assert_true(tdpsim_vm_gfn_is_private(g->vm, 0x20));
	assert_int_equal(gv_folio_level(g, 0, 0x20), 1);
	assert_int_equal(gv_level(g, 0x10, true), 0);
	assert_int_equal(gv_level(g, 0x20, true), mirror ? 1 : 0);
	assert_int_equal(tdpsim_vm_max_mapping_level(g->vm, 0x20, TDPSIM_FAULT_DEFAULT), 1);
	assert_int_equal(gv_fault(g, 0x10), 1);
	assert_int_equal(gv_pfn(g, 0x10, false), slot.host_pfn + 0x10);
	assert_int_equal(gv_fault(g, 0x20), 1);
	gv_check(g);

	/* Shared -> private: both kinds zapped again, the folios merge back
	 * into the 2M folio (same PFNs), MIXED is cleared, 2M again. */
	assert_tdp_ok(tdpsim_vm_set_memory_attributes(g->vm, 0x10, 16, true));
	assert_int_equal(gv_level(g, 0x10, false), 0);
	assert_int_equal(gv_level(g, 0x20, true), 1);
	assert_int_equal(gv_folio_level(g, 0, 0x20), 2);
	assert_int_equal(tdpsim_vm_max_mapping_level(g->vm, 0x10, TDPSIM_FAULT_DEFAULT), 2);
	if (!mirror) {
		assert_int_equal(gv_fault(g, 0x10), 2);
		assert_int_equal(gv_pfn(g, 0x10, true), p + 0x10);
	} else {
		assert_int_equal(gv_fault(g, 0x10) > 0, true);
		assert_int_equal(gv_pfn(g, 0x10, true), p + 0x10);
	}
	/* The same through the file's own call, by offset. */
	assert_tdp_ok(tdpsim_gmem_set_memory_attributes(g->vm, 0, SZ_2M, SZ_2M, false));
	assert_false(tdpsim_vm_gfn_is_private(g->vm, P2M + 3));
	assert_int_equal(tdpsim_vm_max_mapping_level(g->vm, P2M + 3, TDPSIM_FAULT_DEFAULT), 2);
	/* GFNs without a file behind them cannot be converted. */
	assert_int_equal(tdpsim_vm_set_memory_attributes(g->vm, 4 * P2M - 1, 2, true),
			 -EINVAL);
	gv_free(g);
}

static void test_gmem_vm_convert_gmem_attrs(void **state)
{
	(void)state;
	convert_gmem_attrs(false);
	convert_gmem_attrs(true);
}

/* ---- the precise zap under the three policies ---- */

struct policy_run {
	uint64_t leaves;		/* hash of the mirror root's leaves */
	uint64_t visit;			/* split.visit */
	uint64_t split_1g, split_2m, zap_4k, zap_2m;
	unsigned int boundary;		/* boundary violations */
};

/*
 * The same scenario under @policy, in a mirror root: 1G leaves on 1G
 * folios (file 0, slot 0) and 64 2M leaves on 2M folios (file 1, slot 1);
 * a hole punched across a 1G boundary with both ends inside 2M pages, a
 * page converted to shared inside a 1G leaf, and a conversion of almost
 * all of slot 1 to shared.
 */
static struct policy_run policy_scenario(const char *policy)
{
	struct gv *g = gv_private(true, TDPSIM_ATTRS_VM, 4 * SZ_1G, TDPSIM_LEVEL_1G);
	tdpsim_gfn_t s = P1G - 0x100, e = P1G + 0x100, base1 = 4 * P1G;
	struct tdpsim_snapshot a, b;
	struct policy_run run;

	assert_tdp_ok(tdpsim_vm_set_policy(g->vm, "split.boundary", policy));
	assert_tdp_ok(tdpsim_gmem_create(g->vm, 1, SZ_1G, TDPSIM_LEVEL_2M, false));
	assert_tdp_ok(gv_slot(g, 1, base1, P1G, 1, 0));
	assert_tdp_ok(tdpsim_vm_set_memory_attributes(g->vm, base1, P1G, true));
	assert_int_equal(gv_fault(g, 5), 3);
	assert_int_equal(gv_fault(g, P1G + 5), 3);
	assert_int_equal(gv_fault(g, 2 * P1G + 5), 3);
	for (tdpsim_gfn_t gfn = base1; gfn < base1 + 64 * P2M; gfn += P2M)
		assert_int_equal(gv_fault(g, gfn), 2);
	tdpsim_counters_snapshot(tdpsim_vm_counters(g->vm), &a);
	assert_tdp_ok(tdpsim_gmem_punch_hole(g->vm, 0, s << 12, (e - s) << 12));
	assert_tdp_ok(tdpsim_vm_set_memory_attributes(g->vm, 2 * P1G + 0x333, 1, false));
	assert_tdp_ok(tdpsim_vm_set_memory_attributes(g->vm, base1 + 1, P1G - 2, false));
	tdpsim_counters_snapshot(tdpsim_vm_counters(g->vm), &b);
	tdpsim_checker_check_all(g->c);

	run.leaves = gv_leaf_hash(g, TDPSIM_ROOT_MIRROR);
	run.visit = tdpsim_snapshot_delta(&b, &a, TDPSIM_STAT_SPLIT_VISIT);
	run.split_1g = tdpsim_snapshot_delta(&b, &a, TDPSIM_STAT_SPLIT_1G);
	run.split_2m = tdpsim_snapshot_delta(&b, &a, TDPSIM_STAT_SPLIT_2M);
	run.zap_4k = tdpsim_snapshot_delta(&b, &a, TDPSIM_STAT_ZAP_4K);
	run.zap_2m = tdpsim_snapshot_delta(&b, &a, TDPSIM_STAT_ZAP_2M);
	run.boundary = gv_count(g, "boundary");
	gv_reset(g);
	tdpsim_vm_teardown(g->vm);
	assert_int_equal(tdpsim_checker_check_leak(g->c, NULL), 0);
	tdpsim_checker_destroy(g->c);
	tdpsim_vm_destroy(g->vm);
	free(g);
	return run;
}

static void test_gmem_vm_split_policies(void **state)
{
	struct policy_run ht = policy_scenario("headtail");
	struct policy_run walk = policy_scenario("walk");
	struct policy_run none = policy_scenario("none");

	(void)state;
	/* headtail and walk: the same mappings and the same splits ... */
	assert_int_equal(ht.leaves, walk.leaves);
	assert_int_equal(ht.split_1g, 3);
	assert_int_equal(walk.split_1g, 3);
	assert_int_equal(ht.split_2m, 4);
	assert_int_equal(walk.split_2m, 4);
	assert_int_equal(ht.zap_4k, walk.zap_4k);
	assert_int_equal(ht.zap_2m, walk.zap_2m);
	assert_int_equal(ht.boundary + walk.boundary, 0);
	/* ... for different work: the walk looked at the whole ranges. */
	assert_true(ht.visit < 64);
	assert_true(walk.visit > 512);
	print_message("split.visit: headtail %llu, walk %llu\n",
		      (unsigned long long)ht.visit, (unsigned long long)walk.visit);
	/* none: over-zaps the straddling leaves, which `boundary` reports. */
	assert_int_not_equal(none.leaves, ht.leaves);
	assert_int_equal(none.split_1g + none.split_2m + none.visit, 0);
	assert_true(none.boundary >= 2);
}

/* ---- 16 TiB ---- */

#define SZ_16T	(16ULL << 40)

/*
 * A 16 TiB file bound to a 16 TiB slot, 2M mappings at both ends of a
 * hole and @inside more in it; punch the hole under @policy. Returns
 * split.visit of the punch.
 */
static uint64_t punch_16t(const char *policy, uint64_t offset, uint64_t len,
			  unsigned int inside)
{
	struct gv *g = gv_private(true, TDPSIM_ATTRS_VM, SZ_16T, TDPSIM_LEVEL_2M);
	tdpsim_gfn_t s = offset >> 12, e = (offset + len) >> 12;
	uint64_t visit;

	assert_tdp_ok(tdpsim_vm_set_policy(g->vm, "split.boundary", policy));
	assert_int_equal(gv_fault(g, s), 2);
	assert_int_equal(gv_fault(g, e - 1), 2);
	for (unsigned int i = 0; i < inside; i++)
		assert_int_equal(gv_fault(g, s + P2M + ((e - s) / (inside + 1)) * i), 2);
	gv_check(g);
	visit = stat(g->vm, SPLIT_VISIT);
	assert_tdp_ok(tdpsim_gmem_punch_hole(g->vm, 0, offset, len));
	visit = stat(g->vm, SPLIT_VISIT) - visit;
	/* Only the head and the tail 2M leaves were split. */
	assert_int_equal(stat(g->vm, SPLIT_2M), (s & 511 ? 1 : 0) +
			 ((e & 511) && (e & ~511ULL) != (s & ~511ULL) ? 1 : 0));
	assert_int_equal(gv_level(g, s, true), 0);
	assert_int_equal(gv_level(g, e - 1, true), 0);
	if (s & 511)
		assert_int_equal(gv_level(g, s - 1, true), 1);
	if (e & 511)
		assert_int_equal(gv_level(g, e, true), 1);
	gv_free(g);
	return visit;
}

static void test_gmem_vm_16tib(void **state)
{
	const uint64_t off = (2ULL << 40) + (1ULL << 20), len = 12ULL << 40;
	uint64_t ht_12t, ht_4k, walk_8, walk_64;

	(void)state;
	ht_12t = punch_16t("headtail", off, len, 8);
	ht_4k = punch_16t("headtail", off, 4096, 0);
	walk_8 = punch_16t("walk", off, len, 8);
	walk_64 = punch_16t("walk", off, len, 64);
	print_message("split.visit: headtail 12 TiB %llu, 4 KiB %llu; walk 12 TiB "
		      "with 8 leaves inside %llu, with 64 %llu\n",
		      (unsigned long long)ht_12t, (unsigned long long)ht_4k,
		      (unsigned long long)walk_8, (unsigned long long)walk_64);
	/* The head-and-tail split costs what a 4K one does ... */
	assert_true(ht_12t <= ht_4k + 8);
	assert_true(ht_12t < 32);
	/* ... the walk follows what is mapped in the range. */
	assert_true(walk_8 > ht_12t);
	assert_true(walk_64 > walk_8);
}

/* ---- running out of memory in the precise split ---- */

/* The PFNs of GFNs around both 2M leaves of the scenario below. */
static void sample(struct gv *g, tdpsim_pfn_t out[8])
{
	static const tdpsim_gfn_t gfns[8] = {
		P2M, P2M + 0x100, 2 * P2M - 1, 2 * P2M, 2 * P2M + 0xff,
		2 * P2M + 0x100, 3 * P2M - 1, 0x10,
	};

	for (int i = 0; i < 8; i++)
		out[i] = gv_pfn(g, gfns[i], true);
}

/*
 * The scenario of the -ENOMEM test: 2M leaves at [P2M, 2 * P2M) and
 * [2 * P2M, 3 * P2M) of a mirror root (and one at 0). The punch of
 * [P2M + 0x100, 2 * P2M + 0x100) has a boundary inside each.
 */
static struct gv *enomem_scenario(tdpsim_pfn_t before[8])
{
	struct gv *g = gv_private(true, TDPSIM_ATTRS_VM, 4 * SZ_2M, TDPSIM_LEVEL_2M);

	assert_int_equal(gv_fault(g, P2M), 2);
	assert_int_equal(gv_fault(g, 2 * P2M), 2);
	assert_int_equal(gv_fault(g, 0x10), 2);
	sample(g, before);
	return g;
}

static int enomem_punch(struct gv *g)
{
	return tdpsim_gmem_punch_hole(g->vm, 0, (P2M + 0x100) << 12, SZ_2M);
}

static void test_gmem_vm_enomem_precise_split(void **state)
{
	bool split_then_failed = false, failed_first = false;
	tdpsim_pfn_t before[8], now[8];
	uint64_t total, first;
	struct gv *g;

	(void)state;
	/* How many allocations the punch makes: the last ones are the
	 * precise split's page tables (the first ones the folio split's). */
	g = enomem_scenario(before);
	first = atomic_load(&to_kvm(g->vm)->alloc.total);
	assert_tdp_ok(enomem_punch(g));
	total = atomic_load(&to_kvm(g->vm)->alloc.total) - first;
	assert_int_equal(stat(g->vm, SPLIT_2M), 2);
	assert_int_equal(gv_pfn(g, P2M + 0x100, true), 0);
	assert_int_equal(gv_pfn(g, P2M + 0xff, true), before[0] + 0xff);
	gv_free(g);

	for (uint64_t after = total > 16 ? total - 16 : 0; after < total; after++) {
		uint64_t folios, splits;
		int r;

		g = enomem_scenario(before);
		folios = stat(g->vm, GMEM_FOLIOS);
		splits = stat(g->vm, SPLIT_2M);
		tdpsim_vm_inject_alloc_fail(g->vm, after, 1);
		r = enomem_punch(g);
		tdpsim_vm_inject_alloc_fail(g->vm, 0, 0);
		assert_int_equal(r, -ENOMEM);
		/* Nothing zapped, nothing freed, every GFN maps what it did;
		 * a split done before the failure stays (same translations). */
		sample(g, now);
		assert_memory_equal(before, now, sizeof(before));
		assert_int_equal(stat(g->vm, GMEM_FOLIOS), folios);
		if (stat(g->vm, SPLIT_2M) != splits) {
			split_then_failed = true;
			assert_int_equal(gv_level(g, P2M + 0x100, true), 1);
		} else if (stat(g->vm, ALLOC_FAIL)) {
			failed_first = true;
		}
		gv_check(g);
		/* And it works once memory is back. */
		assert_tdp_ok(enomem_punch(g));
		assert_int_equal(gv_pfn(g, P2M + 0x100, true), 0);
		assert_int_equal(gv_pfn(g, 2 * P2M + 0x100, true), before[5]);
		gv_free(g);
	}
	/* Failures hit the first split, and the second after the first. */
	assert_true(split_then_failed);
	assert_true(failed_first);
}

/* The same through KVM_SET_MEMORY_ATTRIBUTES (P-YZ3's error path). */
static void test_gmem_vm_enomem_convert(void **state)
{
	unsigned int failed = 0;

	(void)state;
	for (uint64_t after = 0;; after++) {
		struct gv *g = gv_private(true, TDPSIM_ATTRS_VM, 4 * SZ_2M, TDPSIM_LEVEL_2M);
		tdpsim_pfn_t p;
		int r;

		assert_int_equal(gv_fault(g, P2M), 2);
		p = gv_pfn(g, P2M + 5, true);
		tdpsim_vm_inject_alloc_fail(g->vm, after, 1);
		r = tdpsim_vm_set_memory_attributes(g->vm, P2M + 5, 1, false);
		tdpsim_vm_inject_alloc_fail(g->vm, 0, 0);
		if (!r) {
			assert_false(tdpsim_vm_gfn_is_private(g->vm, P2M + 5));
			assert_int_equal(gv_pfn(g, P2M + 5, true), 0);
			gv_free(g);
			break;
		}
		assert_int_equal(r, -ENOMEM);
		failed++;
		assert_true(tdpsim_vm_gfn_is_private(g->vm, P2M + 5));
		assert_int_equal(gv_pfn(g, P2M + 5, true), p);
		gv_free(g);
		assert_true(after < 64);
	}
	assert_true(failed > 0);
}

/* ---- teardown ---- */

static void test_gmem_vm_teardown_releases(void **state)
{
	struct gv *g = gv_private(true, TDPSIM_ATTRS_GMEM, 8 * SZ_2M, TDPSIM_LEVEL_2M);

	(void)state;
	assert_tdp_ok(tdpsim_gmem_create(g->vm, 1, 4 * SZ_2M, TDPSIM_LEVEL_4K, true));
	assert_tdp_ok(gv_slot(g, 1, 0x100000, 2048, 1, 0));
	for (tdpsim_gfn_t gfn = 0; gfn < 8 * P2M; gfn += 0x101)
		assert_true(gv_fault(g, gfn) > 0);
	assert_true(gv_fault(g, 0x100003) > 0);
	assert_tdp_ok(tdpsim_gmem_allocate(g->vm, 1, 0, SZ_2M));
	assert_true(stat(g->vm, GMEM_FOLIOS) > 512);
	/* gv_free(): teardown zaps every binding, frees every folio, and
	 * leaves nothing allocated. */
	gv_free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gmem_vm_binding_errors),
		cmocka_unit_test(test_gmem_vm_private_fault),
		cmocka_unit_test(test_gmem_vm_punch_whole_huge),
		cmocka_unit_test(test_gmem_vm_punch_partial_huge),
		cmocka_unit_test(test_gmem_vm_punch_1g_mirror),
		cmocka_unit_test(test_gmem_vm_poison),
		cmocka_unit_test(test_gmem_vm_convert_vm_attrs),
		cmocka_unit_test(test_gmem_vm_convert_gmem_attrs),
		cmocka_unit_test(test_gmem_vm_split_policies),
		cmocka_unit_test(test_gmem_vm_16tib),
		cmocka_unit_test(test_gmem_vm_enomem_precise_split),
		cmocka_unit_test(test_gmem_vm_enomem_convert),
		cmocka_unit_test(test_gmem_vm_teardown_releases),
	};
	int r;

	tdpsim_thread_register();
	r = cmocka_run_group_tests(tests, NULL, NULL);
	tdpsim_thread_unregister();
	return r;
}
