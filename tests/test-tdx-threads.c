/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The fake TDX Module from several threads (tdx-module.md section 6): AUGs
 * of disjoint GPAs proceed in parallel; a BLOCK overlapping an AUG in
 * another thread is answered TDX_OPERAND_BUSY on the S-EPT tree, as the
 * real module does; every BUSY answered is counted in seamcall.busy and
 * logged, and retried calls leave the S-EPT exactly as a serial run would.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tdx-test.h"

#define NR_THREADS	4
#define PAGES		256

static int setup(void **state)
{
	*state = NULL;
	return 0;
}

static int teardown(void **state)
{
	env_free(*state);
	return 0;
}

/* ---- many threads ---- */

struct worker {
	pthread_t thread;
	struct tdx_env *env;
	uint64_t gpa;			/* first GPA of its range */
	tdpsim_hpa_t pages[PAGES];
	unsigned int busy;		/* BUSY answers it saw */
	unsigned int other;		/* anything else unexpected */
};

static _Atomic int stop_blocker;

static void *aug_worker(void *arg)
{
	struct worker *w = arg;

	for (unsigned int i = 0; i < PAGES; i++) {
		for (;;) {
			uint64_t st = tdpsim_tdh_mem_page_aug(w->env->m, w->env->tdr,
							      w->gpa + i * SZ_4K,
							      TDPSIM_LEVEL_4K,
							      w->pages[i] >> 12,
							      NULL, NULL);

			if (st == TDPSIM_TDX_SUCCESS)
				break;
			/* KVM: -EBUSY, RET_PF_RETRY, retry the fault. */
			if (tdpsim_tdx_status_code(st) == TDPSIM_TDX_OPERAND_BUSY) {
				w->busy++;
				continue;
			}
			w->other++;
			break;
		}
	}
	return NULL;
}

/*
 * The zap side, as KVM's tdh_do_no_vcpus() retries: BLOCK, TRACK and
 * UNBLOCK one 4K page over and over until told to stop.
 */
static void *block_worker(void *arg)
{
	struct worker *w = arg;
	struct tdx_env *env = w->env;

	while (!atomic_load(&stop_blocker)) {
		uint64_t st;

		do {
			st = tdpsim_tdh_mem_range_block(env->m, env->tdr, w->gpa,
							TDPSIM_LEVEL_4K, NULL, NULL);
			if (tdpsim_tdx_status_code(st) == TDPSIM_TDX_OPERAND_BUSY)
				w->busy++;
		} while (tdpsim_tdx_status_code(st) == TDPSIM_TDX_OPERAND_BUSY);
		if (st)
			w->other++;
		do {
			st = tdpsim_tdh_mem_track(env->m, env->tdr);
			if (tdpsim_tdx_status_code(st) == TDPSIM_TDX_OPERAND_BUSY)
				w->busy++;
		} while (tdpsim_tdx_status_code(st) == TDPSIM_TDX_OPERAND_BUSY);
		if (st)
			w->other++;
		do {
			st = tdpsim_tdh_mem_range_unblock(env->m, env->tdr, w->gpa,
							  TDPSIM_LEVEL_4K, NULL, NULL);
			if (tdpsim_tdx_status_code(st) == TDPSIM_TDX_OPERAND_BUSY)
				w->busy++;
		} while (tdpsim_tdx_status_code(st) == TDPSIM_TDX_OPERAND_BUSY);
		if (st)
			w->other++;
	}
	return NULL;
}

/* Widen the window in which a call holds its module locks. */
static void yield_hook(void *opaque, uint32_t leaf, uint64_t status)
{
	(void)opaque;
	(void)leaf;
	(void)status;
	sched_yield();
}

static struct tdx_env *threaded_env(void **state, bool with_hook)
{
	struct tdpsim_tdx_module_config cfg;
	struct tdx_env *env;

	tdpsim_tdx_module_config_init(&cfg);
	if (with_hook)
		cfg.hook = yield_hook;
	env = env_new(&cfg);
	*state = env;
	env_build_td(env);
	env_finalize(env);
	return env;
}

static void prepare(struct tdx_env *env, struct worker *w, uint64_t gpa)
{
	memset(w, 0, sizeof(*w));
	w->env = env;
	w->gpa = gpa;
	env_link(env, gpa, TDPSIM_LEVEL_4K);
	for (unsigned int i = 0; i < PAGES; i++)
		w->pages[i] = env_page(env);
}

static void check_pending(struct tdx_env *env, const struct worker *w)
{
	for (unsigned int i = 0; i < PAGES; i++) {
		struct tdpsim_sept_entry_info e;

		assert_int_equal(tdpsim_tdx_sept_lookup(env->m, env->tdr,
							w->gpa + i * SZ_4K,
							TDPSIM_LEVEL_4K, &e), 0);
		assert_int_equal(e.level, TDPSIM_LEVEL_4K);
		assert_int_equal(e.state, TDPSIM_SEPT_PENDING);
		assert_int_equal(e.hpa, w->pages[i]);
	}
}

/* Faults on disjoint ranges under the read mmu_lock: no contention. */
static void test_tdx_threads_disjoint_aug(void **state)
{
	struct tdx_env *env = threaded_env(state, true);
	static struct worker w[NR_THREADS];
	struct tdpsim_tdx_td_info info;
	uint64_t child;
	int i;

	for (i = 0; i < NR_THREADS; i++)
		prepare(env, &w[i], (uint64_t)i * SZ_2M);
	assert_int_equal(tdpsim_tdx_td_info(env->m, env->tdr, &info), 0);
	child = info.child_count;
	for (i = 0; i < NR_THREADS; i++)
		assert_int_equal(pthread_create(&w[i].thread, NULL, aug_worker,
						&w[i]), 0);
	for (i = 0; i < NR_THREADS; i++)
		assert_int_equal(pthread_join(w[i].thread, NULL), 0);
	for (i = 0; i < NR_THREADS; i++) {
		assert_int_equal(w[i].other, 0);
		/* Shared locks only: the tree, the TDR, PAMT 2M entries. */
		assert_int_equal(w[i].busy, 0);
		check_pending(env, &w[i]);
	}
	assert_int_equal(tdpsim_tdx_td_info(env->m, env->tdr, &info), 0);
	assert_int_equal(info.child_count, child + NR_THREADS * PAGES);
	assert_int_equal(env_stat(env, TDPSIM_STAT_SEAMCALL_PAGE_AUG),
			 NR_THREADS * PAGES);
	assert_int_equal(env_stat(env, TDPSIM_STAT_SEAMCALL_BUSY), 0);
	assert_int_equal(tdpsim_tdx_failure_count(env->m), 0);
}

/*
 * A zap (exclusive tree lock) racing with faults (shared): whoever loses
 * gets OPERAND_BUSY on the S-EPT tree, retries, and in the end the S-EPT
 * is what a serial run gives. Every BUSY is counted and logged.
 */
static void test_tdx_threads_block_vs_aug(void **state)
{
	struct tdx_env *env = threaded_env(state, true);
	static struct worker w[NR_THREADS];
	struct worker *blk = &w[NR_THREADS - 1];
	unsigned int busy = 0;
	uint64_t nr;
	int i;

	for (i = 0; i < NR_THREADS - 1; i++)
		prepare(env, &w[i], (uint64_t)i * SZ_2M);
	prepare(env, blk, 0x40000000ULL);
	/* The blocker's page. */
	env_aug(env, blk->gpa, TDPSIM_LEVEL_4K);
	assert_ok(env_accept(env, blk->gpa, TDPSIM_LEVEL_4K).status);

	atomic_store(&stop_blocker, 0);
	assert_int_equal(pthread_create(&blk->thread, NULL, block_worker, blk), 0);
	for (i = 0; i < NR_THREADS - 1; i++)
		assert_int_equal(pthread_create(&w[i].thread, NULL, aug_worker,
						&w[i]), 0);
	for (i = 0; i < NR_THREADS - 1; i++)
		assert_int_equal(pthread_join(w[i].thread, NULL), 0);
	atomic_store(&stop_blocker, 1);
	assert_int_equal(pthread_join(blk->thread, NULL), 0);

	for (i = 0; i < NR_THREADS; i++) {
		assert_int_equal(w[i].other, 0);
		busy += w[i].busy;
	}
	for (i = 0; i < NR_THREADS - 1; i++)
		check_pending(env, &w[i]);
	assert_int_equal(env_state(env, blk->gpa, TDPSIM_LEVEL_4K),
			 TDPSIM_SEPT_MAPPED);
	assert_int_equal(env_stat(env, TDPSIM_STAT_SEAMCALL_BUSY), busy);
	/* The log holds exactly the BUSY answers. */
	nr = tdpsim_tdx_failure_count(env->m);
	assert_int_equal(nr, busy);
	for (uint64_t s = nr > 256 ? nr - 255 : 1; s <= nr; s++) {
		struct tdpsim_tdx_failure f;

		assert_int_equal(tdpsim_tdx_failure_get(env->m, s, &f), 0);
		assert_int_equal(tdpsim_tdx_status_code(f.status),
				 TDPSIM_TDX_OPERAND_BUSY);
		assert_false(f.injected);
	}
}

/* ---- two threads, one interleaving, forced ---- */

struct rendezvous {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int inside;			/* thread A is inside its AUG */
	int go;				/* thread B is done */
};

static struct rendezvous rv = {
	PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0
};
static _Thread_local int is_thread_a;

/* Thread A's AUG holds its locks until thread B has tried its BLOCK. */
static void rendezvous_hook(void *opaque, uint32_t leaf, uint64_t status)
{
	(void)opaque;
	(void)status;
	if (!is_thread_a || leaf != TDPSIM_TDH_MEM_PAGE_AUG)
		return;
	pthread_mutex_lock(&rv.lock);
	rv.inside = 1;
	pthread_cond_broadcast(&rv.cond);
	while (!rv.go)
		pthread_cond_wait(&rv.cond, &rv.lock);
	pthread_mutex_unlock(&rv.lock);
}

struct pair_args {
	struct tdx_env *env;
	tdpsim_hpa_t page;
	uint64_t status;
};

static void *thread_a(void *arg)
{
	struct pair_args *p = arg;

	is_thread_a = 1;
	p->status = tdpsim_tdh_mem_page_aug(p->env->m, p->env->tdr, SZ_2M,
					    TDPSIM_LEVEL_4K, p->page >> 12, NULL,
					    NULL);
	return NULL;
}

static void *thread_b(void *arg)
{
	struct pair_args *p = arg;

	pthread_mutex_lock(&rv.lock);
	while (!rv.inside)
		pthread_cond_wait(&rv.cond, &rv.lock);
	pthread_mutex_unlock(&rv.lock);
	/* A BLOCK of another page of the TD while A's AUG runs. */
	p->status = tdpsim_tdh_mem_range_block(p->env->m, p->env->tdr, 0,
					       TDPSIM_LEVEL_4K, NULL, NULL);
	pthread_mutex_lock(&rv.lock);
	rv.go = 1;
	pthread_cond_broadcast(&rv.cond);
	pthread_mutex_unlock(&rv.lock);
	return NULL;
}

static void test_tdx_threads_forced_busy(void **state)
{
	struct tdpsim_tdx_module_config cfg;
	struct pair_args a, b;
	struct tdx_env *env;
	pthread_t ta, tb;

	tdpsim_tdx_module_config_init(&cfg);
	cfg.hook = rendezvous_hook;
	env = env_new(&cfg);
	*state = env;
	env_build_td(env);
	env_finalize(env);
	env_aug(env, 0, TDPSIM_LEVEL_4K);
	env_link(env, SZ_2M, TDPSIM_LEVEL_4K);

	a.env = b.env = env;
	a.page = env_page(env);
	assert_int_equal(pthread_create(&ta, NULL, thread_a, &a), 0);
	assert_int_equal(pthread_create(&tb, NULL, thread_b, &b), 0);
	assert_int_equal(pthread_join(ta, NULL), 0);
	assert_int_equal(pthread_join(tb, NULL), 0);
	assert_ok(a.status);
	assert_status(b.status, TDPSIM_TDX_OPERAND_BUSY | 0x92);
	assert_int_equal(env_stat(env, TDPSIM_STAT_SEAMCALL_BUSY), 1);
	/* kvm: retry after the AUG is over. */
	assert_ok(tdpsim_tdh_mem_range_block(env->m, env->tdr, 0, TDPSIM_LEVEL_4K,
					     NULL, NULL));
	assert_int_equal(env_state(env, SZ_2M, TDPSIM_LEVEL_4K), TDPSIM_SEPT_PENDING);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_tdx_threads_disjoint_aug,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_tdx_threads_block_vs_aug,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_tdx_threads_forced_busy,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
