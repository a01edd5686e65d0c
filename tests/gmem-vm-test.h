/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * gmem-vm-test.h - helpers for the tests of guest_memfd wired into the VM:
 * a VM (optionally in the mirror test mode) with a checker that counts
 * violations by ID, slots bound to files, faults, leaf lookups and mapping
 * summaries per root.
 *
 * Include after <cmocka.h> (through mmu-test.h).
 */
#ifndef TDPSIM_GMEM_VM_TEST_H
#define TDPSIM_GMEM_VM_TEST_H

#include <errno.h>

#include "mmu-test.h"
#include "vm_gmem.h"

#define P2M	512ULL
#define P1G	(512ULL * 512)
#define SZ_2M	(2ULL << 20)
#define SZ_1G	(1ULL << 30)

/* A VM, its checker, and the violations it reported. */
struct gv {
	struct tdpsim_vm *vm;
	struct tdpsim_checker *c;
	bool mirror;			/* private GFNs in the mirror root */
	unsigned int total;		/* violations reported */
	unsigned int by_id[32];		/* per invariant index */
	char last[512];			/* the text of the last one */
};

static inline void gv_on_violation(void *opaque, const struct tdpsim_violation *v)
{
	struct gv *g = opaque;

	g->total++;
	for (unsigned int i = 0; i < 32 && tdpsim_invariant_name(i); i++)
		if (!strcmp(tdpsim_invariant_name(i), v->id))
			g->by_id[i]++;
	snprintf(g->last, sizeof(g->last), "%s: %s", v->id, v->what);
}

/* Violations of @id reported so far. */
static inline unsigned int gv_count(const struct gv *g, const char *id)
{
	for (unsigned int i = 0; i < 32 && tdpsim_invariant_name(i); i++)
		if (!strcmp(tdpsim_invariant_name(i), id))
			return g->by_id[i];
	fail_msg("unknown invariant %s", id);
	return 0;
}

static inline void gv_reset(struct gv *g)
{
	g->total = 0;
	memset(g->by_id, 0, sizeof(g->by_id));
}

/* A sw-protected VM (@mirror: the test mode) with a checker. */
static inline struct gv *gv_new(enum tdpsim_attrs_mode attrs, bool mirror)
{
	struct tdpsim_vm_config cfg;
	struct gv *g = calloc(1, sizeof(*g));

	assert_non_null(g);
	tdpsim_vm_config_init(&cfg);
	cfg.type = TDPSIM_VM_SW_PROTECTED;
	cfg.attrs = attrs;
	cfg.nr_vcpus = 2;
	assert_tdp_ok(kvm_create_vm(&cfg, mirror ? KVM_VM_TEST_MIRROR : 0, &g->vm));
	assert_tdp_ok(tdpsim_checker_create(g->vm, gv_on_violation, g, &g->c));
	g->mirror = mirror;
	return g;
}

/* Everything must check clean now. */
static inline void gv_check(struct gv *g)
{
	int n = tdpsim_checker_check_all(g->c);

	if (n || g->total)
		fail_msg("%d violations, the last: %s", n ? n : (int)g->total, g->last);
}

/* Tear down: no leak, no folio left, no violation anywhere. */
static inline void gv_free(struct gv *g)
{
	gv_check(g);
	tdpsim_vm_teardown(g->vm);
	assert_int_equal(tdpsim_checker_check_leak(g->c, NULL), 0);
	assert_int_equal(stat(g->vm, GMEM_FOLIOS), 0);
	assert_int_equal(tdpsim_vm_alloc_live(g->vm, TDPSIM_ALLOC_KIND_GMEM), 0);
	tdpsim_checker_destroy(g->c);
	tdpsim_vm_destroy(g->vm);
	free(g);
}

static inline int gv_slot(struct gv *g, uint32_t id, tdpsim_gfn_t gfn, uint64_t npages,
			  int gmem_id, uint64_t offset)
{
	struct tdpsim_memslot_config cfg;

	tdpsim_memslot_config_init(&cfg);
	cfg.id = id;
	cfg.base_gfn = gfn;
	cfg.npages = npages;
	cfg.gmem_id = gmem_id;
	cfg.gmem_offset = offset;
	cfg.host_page_level = TDPSIM_LEVEL_2M;
	return tdpsim_memslot_create(g->vm, &cfg);
}

/* The root private (@priv) GFNs live in. */
static inline enum tdpsim_root_role gv_role(const struct gv *g, bool priv)
{
	return priv && g->mirror ? TDPSIM_ROOT_MIRROR : TDPSIM_ROOT_DIRECT;
}

/* Fault @gfn (its attribute's kind) on vCPU 0: the level mapped, or the
 * negative errno; TDPSIM_FAULT_EXIT_MEMORY_FAULT gives -1000. */
static inline int gv_fault(struct gv *g, tdpsim_gfn_t gfn)
{
	struct tdpsim_fault_result res;
	int r = tdpsim_vcpu_fault(tdpsim_vm_get_vcpu(g->vm, 0), gfn,
				  TDPSIM_FAULT_DEFAULT, TDPSIM_ACCESS_WRITE, &res);

	if (r)
		return r;
	if (res.outcome == TDPSIM_FAULT_EXIT_MEMORY_FAULT)
		return -1000;
	if (res.outcome == TDPSIM_FAULT_EMULATE)
		return -1001;
	return res.level;
}

/* Level of the leaf mapping @gfn in its view (@priv), 0 if none. */
static inline int gv_level(struct gv *g, tdpsim_gfn_t gfn, bool priv)
{
	struct tdpsim_spte_info info;

	if (tdpsim_vm_lookup_leaf(g->vm, gv_role(g, priv), gfn, &info))
		return 0;
	return info.level;
}

/* The PFN @gfn maps in its view, 0 if none. */
static inline tdpsim_pfn_t gv_pfn(struct gv *g, tdpsim_gfn_t gfn, bool priv)
{
	struct tdpsim_spte_info info;

	if (tdpsim_vm_lookup_leaf(g->vm, gv_role(g, priv), gfn, &info))
		return 0;
	return ((info.spte & 0x000ffffffffff000ULL) >> 12) + (gfn - info.gfn);
}

/* The PFN of page @index of file @id, 0 if it has none. */
static inline tdpsim_pfn_t gv_file_pfn(struct gv *g, uint32_t id, uint64_t index)
{
	struct tdpsim_gmem_folio f;

	if (tdpsim_gmem_folio(g->vm, id, index, &f))
		return 0;
	return f.pfn + (index - f.index);
}

/* The level of the folio holding page @index of file @id, 0 if none. */
static inline int gv_folio_level(struct gv *g, uint32_t id, uint64_t index)
{
	struct tdpsim_gmem_folio f;

	if (tdpsim_gmem_folio(g->vm, id, index, &f))
		return 0;
	return f.level;
}

/* A summary of @role's mappings (leaves per level and a hash). */
static inline struct walk_sum gv_walk(struct gv *g, enum tdpsim_root_role role)
{
	struct walk_sum s = { 0 };

	assert_tdp_ok(tdpsim_vm_walk_sptes(g->vm, role, 0, ~0ULL, walk_sum_fn, &s));
	return s;
}

/* The mappings only (leaves: GFN, level, PFN), not the tables. */
static inline int leaf_sum_fn(void *opaque, const struct tdpsim_spte_info *e)
{
	uint64_t *h = opaque;
	bool present = e->spte & (1ULL << 11);

	if (!present || !(e->level == 1 || (e->spte & (1ULL << 7))))
		return 0;
	*h = (*h ^ e->gfn ^ ((uint64_t)e->level << 56)) * 0x100000001b3ULL;
	*h = (*h ^ (e->spte & 0x000ffffffffff000ULL)) * 0x100000001b3ULL;
	return 0;
}

/* Every GFN maps the same PFN (as a hash of leaves expanded to 4K runs is
 * not cheap, callers compare leaf hashes after equal split work). */
static inline uint64_t gv_leaf_hash(struct gv *g, enum tdpsim_root_role role)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	assert_tdp_ok(tdpsim_vm_walk_sptes(g->vm, role, 0, ~0ULL, leaf_sum_fn, &h));
	return h;
}

#endif /* TDPSIM_GMEM_VM_TEST_H */
