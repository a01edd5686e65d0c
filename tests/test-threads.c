/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Concurrent faults under the read lock (compare-and-swap, lost races,
 * RET_PF_RETRY) end in the same tables as the same faults run one after
 * the other; conversions racing with faults leave no stale mapping.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>

#include "mmu-test.h"
#include "spte.h"

#define P2M 512ULL
#define P1G (512ULL * 512)

struct worker {
	struct tdpsim_vm *vm;
	unsigned int vcpu;
	tdpsim_gfn_t start;		/* first GFN */
	uint64_t count;			/* GFNs to fault */
	uint64_t stride;		/* step between them */
	pthread_barrier_t *barrier;
	bool thread;			/* runs on its own thread */
	int errors;
};

static void *fault_worker(void *arg)
{
	struct worker *w = arg;
	struct tdpsim_vcpu *vcpu = tdpsim_vm_get_vcpu(w->vm, w->vcpu);
	struct tdpsim_fault_result res;

	if (w->thread)
		tdpsim_thread_register();
	pthread_barrier_wait(w->barrier);
	for (uint64_t i = 0; i < w->count; i++) {
		if (tdpsim_vcpu_fault(vcpu, w->start + i * w->stride,
				      TDPSIM_FAULT_DEFAULT, TDPSIM_ACCESS_WRITE,
				      &res) || res.outcome != TDPSIM_FAULT_OK)
			w->errors++;
	}
	if (w->thread)
		tdpsim_thread_unregister();
	return NULL;
}

static struct tdpsim_vm *make_vm(void)
{
	struct tdpsim_vm *vm = test_vm(TDPSIM_VM_DEFAULT, 4, 2);

	test_slot(vm, 0, 0, 2 * P1G, TDPSIM_LEVEL_4K);
	test_slot(vm, 1, 2 * P1G, 2 * P1G, TDPSIM_LEVEL_2M);
	return vm;
}

static void run(struct tdpsim_vm *vm, struct worker *w, int n, bool threads)
{
	pthread_barrier_t barrier;
	pthread_t t[2];

	pthread_barrier_init(&barrier, NULL, threads ? n : 1);
	for (int i = 0; i < n; i++) {
		w[i].vm = vm;
		w[i].barrier = &barrier;
		w[i].thread = threads;
		if (threads)
			assert_int_equal(pthread_create(&t[i], NULL, fault_worker, &w[i]), 0);
		else
			fault_worker(&w[i]);
	}
	if (threads)
		for (int i = 0; i < n; i++)
			pthread_join(t[i], NULL);
	pthread_barrier_destroy(&barrier);
	for (int i = 0; i < n; i++)
		assert_int_equal(w[i].errors, 0);
}

static void compare(struct worker *spec, int n)
{
	struct tdpsim_vm *seq = make_vm(), *par = make_vm();
	struct worker a[2], b[2];
	struct walk_sum s1, s2;

	memcpy(a, spec, sizeof(a));
	memcpy(b, spec, sizeof(b));
	run(seq, a, n, false);
	run(par, b, n, true);
	s1 = test_walk(seq);
	s2 = test_walk(par);
	assert_int_equal(s1.entries, s2.entries);
	assert_int_equal(s1.tables, s2.tables);
	for (int l = 1; l < 4; l++)
		assert_int_equal(s1.leaves[l], s2.leaves[l]);
	assert_int_equal(s1.hash, s2.hash);
	/* Racing installs may lose a compare-and-swap and free their table,
	 * but no table may be left over. */
	tdpsim_vm_teardown(par);
	for (int k = 0; k < TDPSIM_ALLOC_KIND_NR; k++)
		assert_int_equal(tdpsim_vm_alloc_live(par, k), 0);
	assert_int_equal(stat(par, PT_LIVE), 0);
	tdpsim_vm_destroy(seq);
	tdpsim_vm_destroy(par);
}

static void test_threads_disjoint(void **state)
{
	struct worker w[2] = {
		{ .vcpu = 0, .start = 0, .count = 20000, .stride = 3 },
		{ .vcpu = 1, .start = P1G, .count = 20000, .stride = 3 },
	};

	(void)state;
	compare(w, 2);
}

static void test_threads_overlapping(void **state)
{
	/* Both fault the same GFNs (4K slot) and the same 2M pages (2M
	 * slot): every table and leaf is contended. */
	struct worker w4k[2] = {
		{ .vcpu = 0, .start = 0, .count = 30000, .stride = 1 },
		{ .vcpu = 1, .start = 0, .count = 30000, .stride = 1 },
	};
	struct worker w2m[2] = {
		{ .vcpu = 0, .start = 2 * P1G, .count = 1000, .stride = 511 },
		{ .vcpu = 1, .start = 2 * P1G + 7, .count = 1000, .stride = 511 },
	};

	(void)state;
	for (int i = 0; i < 3; i++) {
		compare(w4k, 2);
		compare(w2m, 2);
	}
}

struct converter {
	struct tdpsim_vm *vm;
	int rounds;
};

static void *convert_worker(void *arg)
{
	struct converter *c = arg;

	tdpsim_thread_register();
	for (int i = 0; i < c->rounds; i++) {
		tdpsim_gfn_t g = (i * 37) % 4096;

		tdpsim_vm_set_memory_attributes(c->vm, g, 64, true);
		tdpsim_vm_invalidate_range(c->vm, (i * 91) % 4096, 16);
		tdpsim_vm_set_memory_attributes(c->vm, g, 64, false);
	}
	tdpsim_thread_unregister();
	return NULL;
}

static int no_private_leaf(void *opaque, const struct tdpsim_spte_info *e)
{
	struct tdpsim_vm *vm = opaque;
	bool leaf = is_shadow_present_pte(e->spte) && is_last_spte(e->spte, e->level);

	if (!leaf)
		return 0;
	for (uint64_t i = 0; i < tdpsim_pages_per_level(e->level); i++)
		if (tdpsim_vm_gfn_is_private(vm, e->gfn + i))
			return 1;
	return 0;
}

/*
 * At the instant a shared leaf is installed (under the read lock, after the
 * invalidation retry check), no GFN it maps may be private: a conversion
 * can only change attributes inside an invalidation, which the write lock
 * starts and the retry check sees.
 */
static _Atomic int stale_installs;
static _Atomic int installs;

static void check_install(void *opaque, const struct tdpsim_spte_change *c)
{
	struct tdpsim_vm *vm = opaque;

	if (c->lock != TDPSIM_LOCK_READ || !is_shadow_present_pte(c->new_spte) ||
	    !is_last_spte(c->new_spte, c->level))
		return;
	atomic_fetch_add(&installs, 1);
	for (uint64_t i = 0; i < tdpsim_pages_per_level(c->level); i++)
		if (tdpsim_vm_gfn_is_private(vm, c->gfn + i))
			atomic_fetch_add(&stale_installs, 1);
}

static void test_threads_convert_vs_fault(void **state)
{
	struct tdpsim_vm *vm = test_vm(TDPSIM_VM_SW_PROTECTED, 4, 1);
	struct converter c = { .vm = vm, .rounds = 200 };
	struct tdpsim_vcpu *vcpu = tdpsim_vm_get_vcpu(vm, 0);
	struct tdpsim_observer obs = { .spte_changed = check_install };
	pthread_t t;

	(void)state;
	/*
	 * 4K host pages, so every leaf maps exactly its faulting GFN. (With
	 * huge pages the check is not one the kernel guarantees either: the
	 * invalidation range is the converted GFNs, not their huge pages, so
	 * between the pre phase's zap and the post phase's MIXED update a
	 * fault on a neighbouring GFN may install a huge leaf that covers
	 * GFNs being converted; see docs/mmu.md.)
	 */
	test_slot(vm, 0, 0, 4096, TDPSIM_LEVEL_4K);
	tdpsim_vm_set_observer(vm, &obs, vm);
	assert_int_equal(pthread_create(&t, NULL, convert_worker, &c), 0);
	for (int i = 0; i < 20000; i++) {
		struct tdpsim_fault_result res;
		int r = tdpsim_vcpu_fault(vcpu, (i * 13) % 4096, TDPSIM_FAULT_SHARED,
					  TDPSIM_ACCESS_WRITE, &res);

		assert_true(r == 0 || r == -EAGAIN);
	}
	pthread_join(t, NULL);
	assert_true(atomic_load(&installs) > 0);
	assert_int_equal(atomic_load(&stale_installs), 0);
	tdpsim_vm_set_observer(vm, NULL, NULL);
	/* Everything ended shared; and while we are at it: make a range
	 * private and check no shared leaf survived over it. */
	assert_tdp_ok(tdpsim_vm_set_memory_attributes(vm, 100, 900, true));
	assert_int_equal(tdpsim_vm_walk_sptes(vm, TDPSIM_ROOT_DIRECT, 0, 4096,
					      no_private_leaf, vm), 0);
	tdpsim_vm_destroy(vm);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_threads_disjoint),
	cmocka_unit_test(test_threads_overlapping),
	cmocka_unit_test(test_threads_convert_vs_fault),
};

TEST_MAIN(tests)
