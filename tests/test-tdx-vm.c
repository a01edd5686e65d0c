/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-tdx-vm.c - KVM's side of TDX (lib/tdx.c) against the fake module,
 * and the TDX invariants (lib/check_tdx.c) each driven into a violation:
 * KVM skipping TRACK, mapping a page twice, reclaiming an S-EPT page with
 * the HKID assigned, a parent S-EPT page removed before its children, a
 * PAMT pair left behind, an accept the mapping does not respect. Also the
 * split caches (tdx.split-cache) and the direct root's shared bit.
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

#include "alloc.h"
#include "kvm_tdx.h"
#include "mmu_lock.h"
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

/*
 * tdx.split-cache: the split of a mismatched accept takes its pages from
 * the accepting vCPU's cache (per-vcpu) or the VM's (per-vm); a conversion
 * has no vCPU and takes the VM's either way. The caches' pages go back at
 * teardown.
 */
static void split_cache_check(const char *policy, bool per_vcpu)
{
	enum tdx_accept_result ar;
	struct tv t;

	tv_setup(&t, true, true);
	assert_int_equal(tdpsim_vm_set_policy(t.vm, "tdx.split-cache", policy), 0);
	tv_fault(&t, 0x400);
	assert_int_equal(kvm_tdx_split_cache_nobjs(&t.vm->kvm, -1), 0);
	assert_int_equal(tdx_accept(t.vm->kvm.vcpus[1], 0x401, TDPSIM_LEVEL_4K, &ar), 0);
	assert_int_equal(ar, TDX_ACCEPT_OK);
	assert_int_equal(kvm_tdx_split_cache_nobjs(&t.vm->kvm, 1) > 0, per_vcpu);
	assert_int_equal(kvm_tdx_split_cache_nobjs(&t.vm->kvm, -1) > 0, !per_vcpu);
	assert_int_equal(kvm_tdx_split_cache_nobjs(&t.vm->kvm, 0), 0);

	tv_fault(&t, 0x600);
	assert_int_equal(tdpsim_vm_set_memory_attributes(t.vm, 0x610, 1, false), 0);
	assert_int_equal(kvm_tdx_split_cache_nobjs(&t.vm->kvm, -1) > 0, true);
	tdpsim_checker_note_accept(t.c, 0x401, TDPSIM_LEVEL_4K, true);
	assert_int_equal(tdpsim_checker_check_all(t.c), 0);
	assert_int_equal(t.total, 0);
	tdpsim_vm_teardown(t.vm);
	assert_int_equal(tdpsim_checker_check_leak(t.c, NULL), 0);
	assert_int_equal(kvm_tdx_live_pages(&t.vm->kvm), 0);
	assert_int_equal(t.total, 0);
	tv_teardown(&t);
}

static void test_tdx_vm_split_cache_per_vcpu(void **state)
{
	(void)state;
	split_cache_check("per-vcpu", true);
}

static void test_tdx_vm_split_cache_per_vm(void **state)
{
	(void)state;
	split_cache_check("per-vm", false);
}

/*
 * A split under mmu_lock with no cache filled for it runs dry: -ENOMEM,
 * nothing allocated under the lock (no-sleep), the 2M mapping and its
 * S-EPT entry as they were; the conversion, which fills the cache first,
 * then splits.
 */
static void test_tdx_vm_split_cache_dry(void **state)
{
	struct tdpsim_spte_info leaf;
	struct kvm *kvm;
	struct tv t;
	int r;

	(void)state;
	tv_setup(&t, true, true);
	kvm = &t.vm->kvm;
	tv_fault(&t, 0x400);
	mmu_write_lock(kvm);
	r = kvm_tdp_mmu_split_cross_boundary(kvm, 0x410, 0x411, SPLIT_BOUNDARY_HEADTAIL);
	mmu_write_unlock(kvm);
	assert_int_equal(r, -ENOMEM);
	assert_int_equal(tdpsim_vm_lookup_leaf(t.vm, TDPSIM_ROOT_MIRROR, 0x410, &leaf), 0);
	assert_int_equal(leaf.level, TDPSIM_LEVEL_2M);
	assert_int_equal(tdpsim_checker_check_all(t.c), 0);
	assert_int_equal(t.total, 0);

	assert_int_equal(tdpsim_vm_set_memory_attributes(t.vm, 0x410, 1, false), 0);
	assert_int_equal(tdpsim_vm_lookup_leaf(t.vm, TDPSIM_ROOT_MIRROR, 0x411, &leaf), 0);
	assert_int_equal(leaf.level, TDPSIM_LEVEL_4K);
	assert_int_equal(tdpsim_checker_check_all(t.c), 0);
	assert_int_equal(t.total, 0);
	tv_teardown(&t);
}

/* What the Dynamic-PAMT test's observer saw of the allocations. */
struct pamt_obs {
	unsigned int locked_sys;	/* under mmu_lock, not from a cache */
	unsigned int pamt_locked_cache;	/* PAMT, under mmu_lock, from a cache */
	unsigned int pamt_unlocked;	/* PAMT, before mmu_lock */
	struct tdpsim_alloc_event last;	/* the latest one */
};

static void pamt_obs_alloc(void *opaque, const struct tdpsim_alloc_event *a)
{
	struct pamt_obs *o = opaque;

	o->last = *a;
	if (a->lock != TDPSIM_LOCK_NONE && !a->from_cache)
		o->locked_sys++;
	if (a->kind != TDPSIM_ALLOC_KIND_PAMT)
		return;
	if (a->lock == TDPSIM_LOCK_NONE)
		o->pamt_unlocked++;
	else if (a->from_cache)
		o->pamt_locked_cache++;
}

/*
 * KVM's Dynamic-PAMT refcounts are the kernel's preallocated refcount
 * array: 1 GiB chunks allocated through the VM's allocator (kind PAMT)
 * before mmu_lock, and under mmu_lock only taken from the spares (a
 * cache). So they are in the allocator's counts (and gone after
 * teardown, `leak`), the fault that first maps a page of a new GiB takes a
 * spare under the lock, nothing is allocated under mmu_lock during the
 * populate, the fault or the accept's DEMOTE (`no-sleep`), and `inject
 * alloc-fail` reaches the top-up of the spares: populate fails with
 * -ENOMEM before mmu_lock, leaving everything consistent, and then works.
 * Run twice: with an observer that records every allocation (@o), and
 * with the checker watching every transition instead.
 */
static void dpamt_refcount_alloc(struct pamt_obs *o)
{
	const struct tdpsim_observer obs = { .alloc = pamt_obs_alloc };
	struct tdpsim_memslot_config slot;
	struct tdpsim_vm_config cfg;
	struct tdpsim_spte_info leaf;
	enum tdx_accept_result ar;
	struct kvm *kvm;
	struct tv t;

	memset(&t, 0, sizeof(t));
	tdpsim_vm_config_init(&cfg);
	cfg.type = TDPSIM_VM_TDX;
	cfg.nr_vcpus = 2;
	assert_int_equal(tdpsim_vm_create(&cfg, &t.vm), 0);
	kvm = &t.vm->kvm;
	if (o)
		tdpsim_vm_set_observer(t.vm, &obs, o);
	else
		assert_int_equal(tdpsim_checker_create(t.vm, tv_on_violation, &t,
						       &t.c), 0);
	assert_int_equal(tdpsim_vm_set_policy(t.vm, "tdx.huge", "on"), 0);
	assert_int_equal(tdpsim_vm_set_policy(t.vm, "tdx.dpamt", "on"), 0);
	assert_int_equal(tdpsim_gmem_create(t.vm, 0, 8ULL << 20, TDPSIM_LEVEL_2M,
					    false), 0);
	tdpsim_memslot_config_init(&slot);
	slot.id = 0;
	slot.base_gfn = 0;
	slot.npages = 2048;
	slot.gmem_id = 0;
	assert_int_equal(tdpsim_memslot_create(t.vm, &slot), 0);
	assert_int_equal(tdpsim_vm_set_memory_attributes(t.vm, 0, 2048, true), 0);

	/* TD init allocates the chunks of the TD's own pages and the spares;
	 * the first guest page's GiB takes a spare under the read lock. */
	assert_int_equal(allocator_live(&kvm->alloc, TDPSIM_ALLOC_KIND_PAMT), 0);
	assert_int_equal(tdx_gmem_post_populate(kvm, 0, 1), 0);
	assert_true(allocator_live(&kvm->alloc, TDPSIM_ALLOC_KIND_PAMT) > 0);
	if (o) {
		assert_true(o->pamt_unlocked > 0);
		assert_int_equal(o->pamt_locked_cache, 1);
		assert_int_equal(o->locked_sys, 0);
	}

	/* The next populate first refills the spares: that allocation
	 * fails, before mmu_lock, and nothing changed. */
	tdpsim_vm_inject_alloc_fail(t.vm, 0, 1);
	assert_int_equal(tdx_gmem_post_populate(kvm, 1, 1), -ENOMEM);
	assert_int_equal(atomic_load(&kvm->alloc.failed), 1);
	if (o) {
		assert_int_equal(o->last.kind, TDPSIM_ALLOC_KIND_PAMT);
		assert_int_equal(o->last.lock, TDPSIM_LOCK_NONE);
		assert_false(o->last.from_cache);
	} else {
		assert_int_equal(tdpsim_checker_check_all(t.c), 0);
	}
	assert_int_equal(tdpsim_vm_lookup_leaf(t.vm, TDPSIM_ROOT_MIRROR, 1, &leaf),
			 -ENOENT);
	assert_int_equal(tdx_gmem_post_populate(kvm, 1, 1), 0);
	assert_int_equal(tdx_td_finalize(kvm), 0);

	/* A 2M page, then the accept's split (DEMOTE): the region's
	 * refcount is 512, and still nothing allocated under the lock. */
	tv_fault(&t, 0x400);
	assert_int_equal(tdpsim_vm_lookup_leaf(t.vm, TDPSIM_ROOT_MIRROR, 0x400, &leaf), 0);
	assert_int_equal(leaf.level, TDPSIM_LEVEL_2M);
	assert_int_equal(tdx_accept(kvm->vcpus[1], 0x401, TDPSIM_LEVEL_4K, &ar), 0);
	assert_int_equal(ar, TDX_ACCEPT_OK);
	assert_int_equal(tdpsim_vm_lookup_leaf(t.vm, TDPSIM_ROOT_MIRROR, 0x401, &leaf), 0);
	assert_int_equal(leaf.level, TDPSIM_LEVEL_4K);
	assert_int_equal(kvm_tdx_pamt_refcount(kvm, (uint64_t)spte_to_pfn(leaf.spte) << 12),
			 512);
	if (o) {
		assert_int_equal(o->locked_sys, 0);
		tdpsim_vm_set_observer(t.vm, NULL, NULL);
		tdpsim_vm_teardown(t.vm);
	} else {
		tdpsim_checker_note_accept(t.c, 0x401, TDPSIM_LEVEL_4K, true);
		assert_int_equal(tdpsim_checker_check_all(t.c), 0);
		tdpsim_vm_teardown(t.vm);
		assert_int_equal(tdpsim_checker_check_leak(t.c, NULL), 0);
		assert_int_equal(t.total, 0);
	}
	/* Teardown freed every chunk. */
	assert_int_equal(allocator_live(&kvm->alloc, TDPSIM_ALLOC_KIND_PAMT), 0);
	assert_int_equal(kvm_tdx_live_pages(kvm), 0);
	assert_int_equal(tdpsim_tdx_pamt_pairs(tv_module(&t)), 0);
	if (t.c)
		tdpsim_checker_destroy(t.c);
	tdpsim_vm_destroy(t.vm);
}

static void test_tdx_vm_dpamt_refcount_alloc(void **state)
{
	struct pamt_obs o;

	(void)state;
	memset(&o, 0, sizeof(o));
	dpamt_refcount_alloc(&o);
	dpamt_refcount_alloc(NULL);
}

struct shared_walk {
	const void *root;
	tdpsim_gfn_t gfn;
	int root_level;
	unsigned int root_index;	/* the root entry's index, or 512 */
	bool leaf;			/* the leaf reported the plain GFN */
};

static int shared_walk_fn(void *opaque, const struct tdpsim_spte_info *e)
{
	struct shared_walk *w = opaque;

	if (e->table == w->root && e->level == w->root_level)
		w->root_index = e->index;
	if (e->level == TDPSIM_LEVEL_4K && e->gfn == w->gfn)
		w->leaf = true;
	return 0;
}

/*
 * A shared mapping on a TDX VM sits in the direct root at the index of
 * gfn | shared bit (GPA bit 47 with 4 levels, 51 with 5), the GFN the
 * inspection API reports is plain, and a private mapping's mirror root
 * index has no shared bit.
 */
static void shared_bit_check(unsigned int levels)
{
	const unsigned int shift = levels == 5 ? 51 - 12 : 47 - 12;
	const tdpsim_gfn_t gfn = 0x410;
	struct tdpsim_vm_config cfg;
	struct tdpsim_memslot_config slot;
	struct tdpsim_fault_result res;
	struct tdpsim_spte_info leaf;
	struct shared_walk w = { .gfn = gfn, .root_index = 512 };
	struct tdpsim_vm *vm;
	struct tdpsim_checker *c;
	struct tv t;
	int level;

	memset(&t, 0, sizeof(t));
	tdpsim_vm_config_init(&cfg);
	cfg.type = TDPSIM_VM_TDX;
	cfg.levels = levels;
	assert_int_equal(tdpsim_vm_create(&cfg, &vm), 0);
	assert_int_equal(tdpsim_checker_create(vm, tv_on_violation, &t, &c), 0);
	assert_int_equal(tdpsim_gmem_create(vm, 0, 8ULL << 20, TDPSIM_LEVEL_4K, false), 0);
	tdpsim_memslot_config_init(&slot);
	slot.id = 0;
	slot.base_gfn = 0;
	slot.npages = 2048;
	slot.gmem_id = 0;
	assert_int_equal(tdpsim_memslot_create(vm, &slot), 0);
	/* A memslot over the shared bit would alias: refused. */
	tdpsim_memslot_config_init(&slot);
	slot.id = 1;
	slot.base_gfn = (1ULL << shift) - 1;
	slot.npages = 2;
	assert_int_equal(tdpsim_memslot_create(vm, &slot), -EINVAL);

	assert_int_equal(tdpsim_vcpu_fault(tdpsim_vm_get_vcpu(vm, 0), gfn,
					   TDPSIM_FAULT_SHARED, TDPSIM_ACCESS_WRITE,
					   &res), 0);
	assert_int_equal(res.outcome, TDPSIM_FAULT_OK);

	assert_int_equal(tdpsim_vm_root(vm, TDPSIM_ROOT_DIRECT, &level, &w.root), 0);
	assert_int_equal(level, (int)levels);
	w.root_level = level;
	assert_int_equal(tdpsim_vm_walk_sptes(vm, TDPSIM_ROOT_DIRECT, 0, UINT64_MAX,
					      shared_walk_fn, &w), 0);
	assert_int_equal(w.root_index,
			 ((gfn | 1ULL << shift) >> (9 * (levels - 1))) & 511);
	assert_true(w.root_index >= 1);
	assert_true(w.leaf);
	assert_int_equal(tdpsim_vm_lookup_leaf(vm, TDPSIM_ROOT_DIRECT, gfn, &leaf), 0);
	assert_int_equal(leaf.gfn, gfn);
	assert_int_equal(tdpsim_checker_check_all(c), 0);

	/* A private mapping: the mirror root has no shared bit. */
	assert_int_equal(tdpsim_vm_set_memory_attributes(vm, 0x200, 0x200, true), 0);
	assert_int_equal(tdx_gmem_post_populate(&vm->kvm, 0x300, 1), 0);
	w = (struct shared_walk){ .gfn = 0x300, .root_index = 512, .root_level = level };
	assert_int_equal(tdpsim_vm_root(vm, TDPSIM_ROOT_MIRROR, &level, &w.root), 0);
	assert_int_equal(tdpsim_vm_walk_sptes(vm, TDPSIM_ROOT_MIRROR, 0, UINT64_MAX,
					      shared_walk_fn, &w), 0);
	assert_int_equal(w.root_index, 0);
	assert_true(w.leaf);

	/* Zap the shared range (conversion to private), then teardown. */
	assert_int_equal(tdpsim_vm_set_memory_attributes(vm, 0x400, 0x20, true), 0);
	assert_int_equal(tdpsim_vm_lookup_leaf(vm, TDPSIM_ROOT_DIRECT, gfn, &leaf), -ENOENT);
	assert_int_equal(tdpsim_checker_check_all(c), 0);
	assert_int_equal(t.total, 0);
	tdpsim_vm_teardown(vm);
	assert_int_equal(tdpsim_checker_check_leak(c, NULL), 0);
	assert_int_equal(t.total, 0);
	tdpsim_checker_destroy(c);
	tdpsim_vm_destroy(vm);
}

static void test_tdx_vm_shared_bit_4level(void **state)
{
	(void)state;
	shared_bit_check(4);
}

static void test_tdx_vm_shared_bit_5level(void **state)
{
	(void)state;
	shared_bit_check(5);
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
		cmocka_unit_test(test_tdx_vm_split_cache_per_vcpu),
		cmocka_unit_test(test_tdx_vm_split_cache_per_vm),
		cmocka_unit_test(test_tdx_vm_split_cache_dry),
		cmocka_unit_test(test_tdx_vm_dpamt_refcount_alloc),
		cmocka_unit_test(test_tdx_vm_shared_bit_4level),
		cmocka_unit_test(test_tdx_vm_shared_bit_5level),
	};

	return cmocka_run_group_tests_name("tdx-vm", tests, NULL, NULL);
}
