/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * guest_memfd (lib/gmem.c), the host PFN allocator under it
 * (lib/host_mem.c) and the ordered map both use (lib/avl.c): folio sizes,
 * lazy allocation, bindings, punch hole, memory failure, in-place
 * conversion, the invalidation callbacks, and what a 16 TiB file costs.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "alloc.h"
#include "avl.h"
#include "counters.h"
#include "gmem.h"
#include "host_mem.h"

#define SZ_4K	(4096ULL)
#define SZ_2M	(2ULL << 20)
#define SZ_1G	(1ULL << 30)
#define SZ_1T	(1ULL << 40)
#define PAGES_2M 512ULL
#define PAGES_1G (512ULL * 512)

/* ---- recording the invalidation callbacks ---- */

#define MAX_CALLS	16
#define MAX_RANGES	8

struct call {
	bool begin;			/* begin() or end() */
	struct gmem_invalidation inv;
	unsigned int nr_ranges;
	struct gmem_gfn_range ranges[MAX_RANGES];
	uint64_t folios;		/* the file's folios at the call */
};

struct env {
	struct tdpsim_allocator alloc;
	struct host_mem host;
	struct tdpsim_counters counters;
	struct call calls[MAX_CALLS];
	unsigned int nr_calls;
	int begin_ret;			/* what begin() answers */
};

static int record(struct env *env, bool begin, const struct gmem_invalidation *inv)
{
	struct call *c;
	struct gmem_range_iter it;
	struct gmem_gfn_range r;

	assert_true(env->nr_calls < MAX_CALLS);
	c = &env->calls[env->nr_calls++];
	c->begin = begin;
	c->inv = *inv;
	c->nr_ranges = 0;
	gmem_invalidation_for_each_range(&it, &r, inv) {
		assert_true(c->nr_ranges < MAX_RANGES);
		c->ranges[c->nr_ranges++] = r;
	}
	assert_int_equal(c->nr_ranges, inv->nr_ranges);
	/* The inner lock is not held: queries work from the callback. */
	c->folios = kvm_gmem_nr_folios(inv->gmem);
	return begin ? env->begin_ret : 0;
}

static int cb_begin(void *opaque, const struct gmem_invalidation *inv)
{
	return record(opaque, true, inv);
}

static void cb_end(void *opaque, const struct gmem_invalidation *inv)
{
	record(opaque, false, inv);
}

static const struct gmem_invalidate_ops test_ops = {
	.begin = cb_begin,
	.end = cb_end,
};

static int setup(void **state)
{
	struct env *env = calloc(1, sizeof(*env));

	if (!env || allocator_init(&env->alloc, TDPSIM_ALLOC_DEFAULT) ||
	    host_mem_init(&env->host, &env->alloc, TDPSIM_ALLOC_KIND_GMEM))
		return -1;
	counters_init(&env->counters);
	*state = env;
	return 0;
}

static int teardown(void **state)
{
	struct env *env = *state;

	host_mem_finish(&env->host);
	/* Everything given back: no gmem object is left. */
	assert_int_equal(allocator_live(&env->alloc, TDPSIM_ALLOC_KIND_GMEM), 0);
	allocator_finish(&env->alloc);
	free(env);
	return 0;
}

static struct kvm_gmem *make_gmem(struct env *env, uint64_t size, int level,
				  bool init_shared, bool in_place)
{
	struct kvm_gmem_config cfg = {
		.size = size,
		.huge_level = level,
		.init_shared = init_shared,
		.in_place = in_place,
		.ops = &test_ops,
		.ops_opaque = env,
	};
	struct kvm_gmem *gmem = NULL;

	assert_int_equal(kvm_gmem_create(&env->alloc, &env->host, &env->counters,
					 &cfg, &gmem), 0);
	assert_non_null(gmem);
	return gmem;
}

static uint64_t gauge(struct env *env)
{
	return tdpsim_counters_get(&env->counters, TDPSIM_STAT_GMEM_FOLIOS);
}

static struct gmem_folio_info folio(struct kvm_gmem *gmem, uint64_t index)
{
	struct gmem_folio_info info;

	assert_int_equal(kvm_gmem_folio_lookup(gmem, index, &info), 0);
	return info;
}

static tdpsim_pfn_t get_pfn(struct kvm_gmem *gmem, uint32_t slot, uint64_t index,
			    int *ret_order)
{
	tdpsim_pfn_t pfn = 0;
	int order = -1;

	assert_int_equal(kvm_gmem_get_pfn(gmem, slot, index, &pfn, &order), 0);
	if (ret_order)
		*ret_order = order;
	return pfn;
}

static void destroy(struct env *env, struct kvm_gmem *gmem)
{
	assert_int_equal(kvm_gmem_check(gmem), 0);
	kvm_gmem_destroy(gmem);
	assert_int_equal(gauge(env), 0);
	assert_int_equal(host_mem_live_pages(&env->host), 0);
	assert_int_equal(host_mem_check(&env->host), 0);
}

/* ---- the ordered map ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng(void)
{
	/* xorshift64*: a fixed seed, so every run is the same. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static void test_avl_against_reference(void **state)
{
	enum { N = 2000, KEYS = 4096 };
	static struct avl_node nodes[KEYS];
	static bool in[KEYS];
	struct avl_root root = AVL_ROOT_INIT;

	(void)state;
	memset(in, 0, sizeof(in));
	for (int i = 0; i < KEYS; i++)
		nodes[i].key = (uint64_t)i * 3;
	for (int step = 0; step < 20 * N; step++) {
		unsigned int k = rng() % KEYS;

		if (in[k]) {
			avl_erase(&root, &nodes[k]);
			in[k] = false;
		} else {
			assert_int_equal(avl_insert(&root, &nodes[k]), 0);
			in[k] = true;
		}
		if (step % 997 == 0)
			assert_int_equal(avl_check(&root), 0);
	}
	assert_int_equal(avl_check(&root), 0);
	/* A duplicate key is refused. */
	for (int k = 0; k < KEYS; k++) {
		if (in[k]) {
			struct avl_node dup = { .key = nodes[k].key };

			assert_int_equal(avl_insert(&root, &dup), -EEXIST);
			break;
		}
	}
	/* floor, ceil, find, next and prev agree with a linear scan. */
	for (uint64_t key = 0; key < KEYS * 3 + 2; key++) {
		struct avl_node *fl = NULL, *ce = NULL;

		for (int k = 0; k < KEYS; k++) {
			if (!in[k])
				continue;
			if (nodes[k].key <= key)
				fl = &nodes[k];
			if (nodes[k].key >= key && !ce)
				ce = &nodes[k];
		}
		assert_ptr_equal(avl_floor(&root, key), fl);
		assert_ptr_equal(avl_ceil(&root, key), ce);
		assert_ptr_equal(avl_find(&root, key), fl && fl->key == key ? fl : NULL);
		if (fl && fl->key == key) {
			struct avl_node *nx = avl_next(fl), *pv = avl_prev(fl);

			assert_ptr_equal(nx, avl_ceil(&root, key + 1));
			assert_ptr_equal(pv, key ? avl_floor(&root, key - 1) : NULL);
		}
	}
	while (!avl_empty(&root))
		avl_erase(&root, avl_first(&root));
	assert_int_equal(root.count, 0);
}

/* ---- host memory ---- */

struct block {
	tdpsim_pfn_t pfn;
	uint64_t npages;
};

static int cmp_block(const void *a, const void *b)
{
	const struct block *x = a, *y = b;

	return x->pfn < y->pfn ? -1 : x->pfn > y->pfn;
}

static void assert_disjoint(struct block *b, size_t n)
{
	qsort(b, n, sizeof(*b), cmp_block);
	for (size_t i = 1; i < n; i++)
		assert_true(b[i - 1].pfn + b[i - 1].npages <= b[i].pfn);
}

static void test_host_mem_alloc_aligned_unique(void **state)
{
	struct env *env = *state;
	static const unsigned int orders[] = { 0, 9, 0, 18, 0, 0, 9, 18, 9, 0 };
	enum { N = 300 };
	struct block b[N];
	uint64_t live = 0;

	for (int i = 0; i < N; i++) {
		unsigned int o = orders[i % 10];

		assert_int_equal(host_mem_alloc(&env->host, o, &b[i].pfn), 0);
		b[i].npages = 1ULL << o;
		assert_int_equal(b[i].pfn & (b[i].npages - 1), 0);
		assert_true(b[i].pfn >= HOST_MEM_BASE_PFN);
		live += b[i].npages;
	}
	assert_int_equal(host_mem_live_pages(&env->host), live);
	assert_int_equal(host_mem_check(&env->host), 0);
	assert_int_equal(host_mem_alloc(&env->host, 19, &b[0].pfn), -EINVAL);
	/* Free every other block, allocate again: still never a page twice. */
	for (int i = 0; i < N; i += 2) {
		assert_int_equal(host_mem_free(&env->host, b[i].pfn, b[i].npages), 0);
		live -= b[i].npages;
	}
	assert_int_equal(host_mem_check(&env->host), 0);
	for (int i = 0; i < N; i += 2) {
		assert_int_equal(host_mem_alloc(&env->host, 0, &b[i].pfn), 0);
		b[i].npages = 1;
		live++;
	}
	assert_int_equal(host_mem_live_pages(&env->host), live);
	{
		struct block copy[N];

		memcpy(copy, b, sizeof(b));
		assert_disjoint(copy, N);
	}
	assert_int_equal(host_mem_check(&env->host), 0);
	for (int i = 0; i < N; i++)
		assert_int_equal(host_mem_free(&env->host, b[i].pfn, b[i].npages), 0);
	assert_int_equal(host_mem_live_pages(&env->host), 0);
	assert_int_equal(host_mem_check(&env->host), 0);
	/* Everything merged back and the chunks returned: no bookkeeping. */
	assert_int_equal(host_mem_nr_nodes(&env->host), 0);
}

static void test_host_mem_cut_free_retire(void **state)
{
	struct env *env = *state;
	tdpsim_pfn_t p, q;

	assert_int_equal(host_mem_alloc(&env->host, 18, &p), 0);
	/* A part of a block cannot be freed before it is cut out. */
	assert_int_equal(host_mem_cut(&env->host, p + 1000), 0);
	assert_int_equal(host_mem_cut(&env->host, p + 1001), 0);
	assert_int_equal(host_mem_check(&env->host), 0);
	assert_int_equal(host_mem_free(&env->host, p + 1000, 1), 0);
	assert_false(host_mem_is_live(&env->host, p + 1000));
	assert_true(host_mem_is_live(&env->host, p + 999));
	assert_true(host_mem_is_live(&env->host, p + 1001));
	assert_int_equal(host_mem_live_pages(&env->host), PAGES_1G - 1);
	/* The freed page is the lowest free one: handed out again. */
	assert_int_equal(host_mem_alloc(&env->host, 0, &q), 0);
	assert_int_equal(q, p + 1000);
	/* A retired page is never handed out again. */
	assert_int_equal(host_mem_retire(&env->host, q, 1), 0);
	assert_int_equal(host_mem_retired_pages(&env->host), 1);
	assert_int_equal(host_mem_alloc(&env->host, 0, &q), 0);
	assert_true(q != p + 1000);
	assert_int_equal(host_mem_check(&env->host), 0);
	assert_int_equal(host_mem_free(&env->host, q, 1), 0);
	assert_int_equal(host_mem_free(&env->host, p, 1000), 0);
	assert_int_equal(host_mem_free(&env->host, p + 1001, PAGES_1G - 1001), 0);
	assert_int_equal(host_mem_live_pages(&env->host), 0);
	assert_int_equal(host_mem_check(&env->host), 0);
}

static void test_host_mem_alloc_fail(void **state)
{
	struct env *env = *state;
	tdpsim_pfn_t p, q;

	/* A 4K page from nothing needs a chunk and 18 buddies: all or nothing. */
	allocator_inject_fail(&env->alloc, 5, 1);
	assert_int_equal(host_mem_alloc(&env->host, 0, &p), -ENOMEM);
	assert_int_equal(host_mem_nr_nodes(&env->host), 0);
	assert_int_equal(host_mem_check(&env->host), 0);
	assert_int_equal(host_mem_alloc(&env->host, 9, &p), 0);
	allocator_inject_fail(&env->alloc, 0, 1);
	assert_int_equal(host_mem_cut(&env->host, p + 3), -ENOMEM);
	assert_int_equal(host_mem_check(&env->host), 0);
	assert_int_equal(host_mem_alloc(&env->host, 0, &q), 0);
	assert_int_equal(host_mem_free(&env->host, q, 1), 0);
	assert_int_equal(host_mem_free(&env->host, p, PAGES_2M), 0);
	assert_int_equal(host_mem_live_pages(&env->host), 0);
}

struct host_thread {
	struct host_mem *host;
	struct block b[400];
	unsigned int seed;
};

static void *host_thread_fn(void *arg)
{
	struct host_thread *t = arg;

	for (int round = 0; round < 4; round++) {
		for (int i = 0; i < 400; i++) {
			unsigned int o = (t->seed + i) % 7 == 0 ? 9 : 0;

			if (host_mem_alloc(t->host, o, &t->b[i].pfn))
				abort();
			t->b[i].npages = 1ULL << o;
		}
		if (round == 3)
			break;
		for (int i = 0; i < 400; i++)
			if (host_mem_free(t->host, t->b[i].pfn, t->b[i].npages))
				abort();
	}
	return NULL;
}

static void test_host_mem_threads(void **state)
{
	struct env *env = *state;
	static struct host_thread t[4];
	static struct block all[4 * 400];
	pthread_t tid[4];

	for (int i = 0; i < 4; i++) {
		t[i].host = &env->host;
		t[i].seed = i;
		assert_int_equal(pthread_create(&tid[i], NULL, host_thread_fn, &t[i]), 0);
	}
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_join(tid[i], NULL), 0);
	for (int i = 0; i < 4; i++)
		memcpy(&all[i * 400], t[i].b, sizeof(t[i].b));
	assert_disjoint(all, 4 * 400);
	assert_int_equal(host_mem_check(&env->host), 0);
	for (int i = 0; i < 4 * 400; i++)
		assert_int_equal(host_mem_free(&env->host, all[i].pfn, all[i].npages), 0);
	assert_int_equal(host_mem_live_pages(&env->host), 0);
}

/* ---- creation, folio sizes, lazy allocation ---- */

static void test_gmem_create_errors(void **state)
{
	struct env *env = *state;
	struct kvm_gmem_config cfg = { .size = SZ_2M, .huge_level = TDPSIM_LEVEL_4K };
	struct kvm_gmem *gmem = NULL;

	cfg.size = 0;
	assert_int_equal(kvm_gmem_create(&env->alloc, &env->host, NULL, &cfg, &gmem), -EINVAL);
	cfg.size = SZ_2M + 512;
	assert_int_equal(kvm_gmem_create(&env->alloc, &env->host, NULL, &cfg, &gmem), -EINVAL);
	cfg.size = SZ_2M;
	cfg.huge_level = 4;
	assert_int_equal(kvm_gmem_create(&env->alloc, &env->host, NULL, &cfg, &gmem), -EINVAL);
	assert_null(gmem);
	cfg.huge_level = 0;
	allocator_inject_fail(&env->alloc, 1, 1);
	assert_int_equal(kvm_gmem_create(&env->alloc, &env->host, NULL, &cfg, &gmem), -ENOMEM);
	assert_int_equal(allocator_live(&env->alloc, TDPSIM_ALLOC_KIND_GMEM), 0);
	assert_int_equal(kvm_gmem_create(&env->alloc, &env->host, NULL, &cfg, &gmem), 0);
	assert_int_equal(kvm_gmem_npages(gmem), 512);
	assert_int_equal(kvm_gmem_nr_folios(gmem), 0);
	kvm_gmem_destroy(gmem);
	kvm_gmem_destroy(NULL);
}

static void test_gmem_folio_sizes(void **state)
{
	struct env *env = *state;
	/* 2M-huge file of 2M + 1M: the tail is not a whole 2M block. */
	struct kvm_gmem *g2 = make_gmem(env, SZ_2M + SZ_2M / 2, TDPSIM_LEVEL_2M,
					false, false);
	/* 1G-huge file of 1G + 4M: 1G, then 2M folios. */
	struct kvm_gmem *g1 = make_gmem(env, SZ_1G + 2 * SZ_2M, TDPSIM_LEVEL_1G,
					false, false);
	struct gmem_folio_info f;
	tdpsim_pfn_t pfn;
	int order;

	assert_int_equal(kvm_gmem_bind(g2, 1, 0x10000, 768, 0), 0);
	pfn = get_pfn(g2, 1, 7, &order);
	f = folio(g2, 7);
	assert_int_equal(f.index, 0);
	assert_int_equal(f.order, GMEM_ORDER_2M);
	assert_int_equal(order, GMEM_ORDER_2M);
	assert_int_equal(f.pfn & (PAGES_2M - 1), 0);
	assert_int_equal(pfn, f.pfn + 7);
	assert_true(f.flags & GMEM_FOLIO_UPTODATE);
	/* Past the last whole 2M block: 4K folios, one per page. */
	pfn = get_pfn(g2, 1, 600, &order);
	assert_int_equal(order, GMEM_ORDER_4K);
	f = folio(g2, 600);
	assert_int_equal(f.index, 600);
	assert_int_equal(f.order, GMEM_ORDER_4K);
	assert_int_equal(kvm_gmem_nr_folios(g2), 2);

	assert_int_equal(kvm_gmem_allocate(g1, 0, SZ_1G + 2 * SZ_2M), 0);
	assert_int_equal(kvm_gmem_nr_folios(g1), 3);
	assert_int_equal(folio(g1, 12345).order, GMEM_ORDER_1G);
	assert_int_equal(folio(g1, 12345).pfn & (PAGES_1G - 1), 0);
	assert_int_equal(folio(g1, PAGES_1G + 3).order, GMEM_ORDER_2M);
	assert_int_equal(folio(g1, PAGES_1G + 512).index, PAGES_1G + 512);
	assert_int_equal(gauge(env), 5);

	assert_int_equal(kvm_gmem_check(g2), 0);
	kvm_gmem_destroy(g2);
	destroy(env, g1);
}

static void test_gmem_lazy_allocation(void **state)
{
	struct env *env = *state;
	struct kvm_gmem *gmem = make_gmem(env, 64 * SZ_2M, TDPSIM_LEVEL_2M,
					  false, false);
	struct gmem_folio_info f;
	tdpsim_pfn_t a, b;

	assert_int_equal(kvm_gmem_bind(gmem, 3, 0x40000, 64 * PAGES_2M, 0), 0);
	assert_int_equal(kvm_gmem_nr_folios(gmem), 0);
	assert_int_equal(kvm_gmem_folio_lookup(gmem, 1000, &f), -ENOENT);
	assert_int_equal(host_mem_live_pages(&env->host), 0);
	a = get_pfn(gmem, 3, 1000, NULL);
	assert_int_equal(kvm_gmem_nr_folios(gmem), 1);
	assert_int_equal(gauge(env), 1);
	assert_int_equal(host_mem_live_pages(&env->host), PAGES_2M);
	/* Same folio, same PFN, nothing new. */
	b = get_pfn(gmem, 3, 1000, NULL);
	assert_int_equal(a, b);
	assert_int_equal(get_pfn(gmem, 3, 1001, NULL), a + 1);
	assert_int_equal(kvm_gmem_nr_folios(gmem), 1);

	/* fallocate: unaligned, empty and past-the-end ranges are refused. */
	assert_int_equal(kvm_gmem_allocate(gmem, 100, SZ_4K), -EINVAL);
	assert_int_equal(kvm_gmem_allocate(gmem, 0, 0), -EINVAL);
	assert_int_equal(kvm_gmem_allocate(gmem, 63 * SZ_2M, 2 * SZ_2M), -EINVAL);
	assert_int_equal(kvm_gmem_allocate(gmem, UINT64_MAX - SZ_4K + 1, SZ_4K), -EINVAL);
	/* A 4K allocation brings in its whole 2M folio, allocated but not
	 * handed out yet (not uptodate). */
	assert_int_equal(kvm_gmem_allocate(gmem, 10 * SZ_2M + SZ_4K, SZ_4K), 0);
	f = folio(gmem, 10 * PAGES_2M + 1);
	assert_int_equal(f.index, 10 * PAGES_2M);
	assert_int_equal(f.order, GMEM_ORDER_2M);
	assert_false(f.flags & GMEM_FOLIO_UPTODATE);
	assert_int_equal(kvm_gmem_allocate(gmem, 0, 64 * SZ_2M), 0);
	assert_int_equal(kvm_gmem_nr_folios(gmem), 64);
	assert_int_equal(gauge(env), 64);
	assert_int_equal(get_pfn(gmem, 3, 1000, NULL), a);

	/* Injected failure: nothing half made. */
	assert_int_equal(kvm_gmem_punch_hole(gmem, 0, 64 * SZ_2M), 0);
	allocator_inject_fail(&env->alloc, 0, 1);
	assert_int_equal(kvm_gmem_get_pfn(gmem, 3, 5, &a, NULL), -ENOMEM);
	assert_int_equal(kvm_gmem_nr_folios(gmem), 0);
	assert_int_equal(host_mem_live_pages(&env->host), 0);
	destroy(env, gmem);
}

static void test_gmem_pfn_unique_across_files(void **state)
{
	struct env *env = *state;
	struct kvm_gmem *g[3];
	static struct block b[3 * 600];
	size_t n = 0;

	g[0] = make_gmem(env, 8 * SZ_2M, TDPSIM_LEVEL_4K, false, false);
	g[1] = make_gmem(env, 8 * SZ_2M, TDPSIM_LEVEL_2M, false, false);
	g[2] = make_gmem(env, SZ_1G + 8 * SZ_2M, TDPSIM_LEVEL_1G, false, false);
	for (int i = 0; i < 3; i++)
		assert_int_equal(kvm_gmem_bind(g[i], 0, 0, kvm_gmem_npages(g[i]), 0), 0);
	for (uint64_t i = 0; i < 600; i++) {
		for (int k = 0; k < 3; k++) {
			uint64_t index = (i * 7919 + k * 13) % kvm_gmem_npages(g[k]);
			struct gmem_folio_info f;

			get_pfn(g[k], 0, index, NULL);
			f = folio(g[k], index);
			/* Record each folio once: by its first page. */
			if (index == f.index || (i == 0 && k == 2)) {
				b[n].pfn = f.pfn;
				b[n].npages = 1ULL << f.order;
				n++;
			}
		}
	}
	assert_disjoint(b, n);
	/* Every folio of every file, by the files' own reckoning. */
	n = 0;
	for (int k = 0; k < 3; k++) {
		for (uint64_t index = 0; index < kvm_gmem_npages(g[k]); ) {
			struct gmem_folio_info f;

			if (kvm_gmem_folio_lookup(g[k], index, &f)) {
				index++;
				continue;
			}
			b[n].pfn = f.pfn;
			b[n].npages = 1ULL << f.order;
			n++;
			index = f.index + (1ULL << f.order);
		}
	}
	assert_int_equal(n, kvm_gmem_nr_folios(g[0]) + kvm_gmem_nr_folios(g[1]) +
			    kvm_gmem_nr_folios(g[2]));
	assert_disjoint(b, n);
	assert_int_equal(gauge(env), n);
	for (int k = 0; k < 3; k++)
		kvm_gmem_destroy(g[k]);
	assert_int_equal(host_mem_live_pages(&env->host), 0);
}

/* ---- bindings ---- */

static int count_range(void *opaque, const struct gmem_gfn_range *r)
{
	struct gmem_gfn_range *out = opaque;

	out[0] = *r;
	out[1].slot_id++;
	return 0;
}

static void test_gmem_bind_rules(void **state)
{
	struct env *env = *state;
	struct kvm_gmem *gmem = make_gmem(env, 16 * SZ_2M, TDPSIM_LEVEL_2M, false, false);
	struct gmem_binding_info info;
	struct gmem_gfn_range r[2];
	tdpsim_pfn_t pfn;

	/* offset page aligned, offset + size <= file size. */
	assert_int_equal(kvm_gmem_bind(gmem, 1, 0x1000, 16, 100), -EINVAL);
	assert_int_equal(kvm_gmem_bind(gmem, 1, 0x1000, 0, 0), -EINVAL);
	assert_int_equal(kvm_gmem_bind(gmem, 1, 0x1000, 16 * PAGES_2M + 1, 0), -EINVAL);
	assert_int_equal(kvm_gmem_bind(gmem, 1, 0x1000, 2, 16 * SZ_2M - SZ_4K), -EINVAL);
	assert_int_equal(kvm_gmem_bind(gmem, 1, 0x1000, 1, 16 * SZ_2M), -EINVAL);
	assert_int_equal(kvm_gmem_bind(gmem, 1, UINT64_MAX - 3, 8, 0), -EINVAL);
	/* Slot 1: file pages [512, 1536) at GFN 0x1000. */
	assert_int_equal(kvm_gmem_bind(gmem, 1, 0x1000, 1024, SZ_2M), 0);
	/* Overlaps, at either end or inside: EEXIST. */
	assert_int_equal(kvm_gmem_bind(gmem, 2, 0x9000, 513, 0), -EEXIST);
	assert_int_equal(kvm_gmem_bind(gmem, 2, 0x9000, 10, 3 * SZ_2M - SZ_4K), -EEXIST);
	assert_int_equal(kvm_gmem_bind(gmem, 2, 0x9000, 1, 2 * SZ_2M), -EEXIST);
	/* Adjacent is fine. Slot 2: [0, 512) at GFN 0x9000. */
	assert_int_equal(kvm_gmem_bind(gmem, 2, 0x9000, 512, 0), 0);
	assert_int_equal(kvm_gmem_bind(gmem, 3, 0x20000, 16, 3 * SZ_2M), 0);

	assert_int_equal(kvm_gmem_binding_lookup(gmem, 700, &info), 0);
	assert_int_equal(info.slot_id, 1);
	assert_int_equal(info.base_gfn, 0x1000);
	assert_int_equal(info.pgoff, 512);
	assert_int_equal(info.npages, 1024);
	assert_int_equal(kvm_gmem_get_index(info.base_gfn, info.pgoff, 0x1000 + 188), 700);
	assert_int_equal(kvm_gmem_index_to_gfn(&info, 700), 0x1000 + 188);
	assert_int_equal(kvm_gmem_binding_lookup(gmem, 1536 + 16, &info), -ENOENT);
	assert_int_equal(kvm_gmem_binding_lookup(gmem, 1535, &info), 0);
	assert_int_equal(info.slot_id, 1);

	/* The bound GFN ranges of a file range, clipped to each binding. */
	memset(r, 0, sizeof(r));
	assert_int_equal(kvm_gmem_for_each_bound_range(gmem, 1500, 1540, count_range, r), 0);
	assert_int_equal(r[1].slot_id, 2);
	assert_int_equal(r[0].slot_id, 3);
	assert_int_equal(r[0].start, 0x20000);
	assert_int_equal(r[0].end, 0x20000 + 4);
	assert_int_equal(r[0].index, 1536);
	memset(r, 0, sizeof(r));
	assert_int_equal(kvm_gmem_for_each_bound_range(gmem, 1560, 4000, count_range, r), 0);
	assert_int_equal(r[1].slot_id, 0);

	/* get_pfn only through the slot the index is bound to. */
	assert_int_equal(kvm_gmem_get_pfn(gmem, 2, 700, &pfn, NULL), -EIO);
	assert_int_equal(kvm_gmem_get_pfn(gmem, 1, 4000, &pfn, NULL), -EIO);
	get_pfn(gmem, 1, 700, NULL);

	assert_int_equal(kvm_gmem_unbind(gmem, 2, 512), -ENOENT);
	assert_int_equal(kvm_gmem_unbind(gmem, 1, 512), 0);
	assert_int_equal(kvm_gmem_get_pfn(gmem, 1, 700, &pfn, NULL), -EIO);
	assert_int_equal(kvm_gmem_bind(gmem, 4, 0x50000, 1024, SZ_2M), 0);
	get_pfn(gmem, 4, 700, NULL);
	/* Unbinding and binding never invalidate: the slot's deletion does. */
	assert_int_equal(env->nr_calls, 0);
	destroy(env, gmem);
}

/* ---- punch hole ---- */

static void test_gmem_punch_whole_huge(void **state)
{
	struct env *env = *state;
	struct kvm_gmem *gmem = make_gmem(env, 4 * SZ_2M, TDPSIM_LEVEL_2M, false, false);
	struct gmem_folio_info f;
	tdpsim_pfn_t keep;

	assert_int_equal(kvm_gmem_bind(gmem, 7, 0x80000, 4 * PAGES_2M, 0), 0);
	get_pfn(gmem, 7, 600, NULL);
	keep = get_pfn(gmem, 7, 1100, NULL);
	assert_int_equal(kvm_gmem_nr_folios(gmem), 2);
	/* Punch the 2M folio [512, 1024) whole. */
	assert_int_equal(kvm_gmem_punch_hole(gmem, SZ_2M, SZ_2M), 0);
	assert_int_equal(env->nr_calls, 2);
	assert_true(env->calls[0].begin);
	assert_false(env->calls[1].begin);
	assert_int_equal(env->calls[0].inv.reason, GMEM_INVALIDATE_PUNCH_HOLE);
	assert_int_equal(env->calls[0].inv.filter, GMEM_FILTER_PRIVATE);
	assert_int_equal(env->calls[0].inv.start, 512);
	assert_int_equal(env->calls[0].inv.end, 1024);
	assert_int_equal(env->calls[0].nr_ranges, 1);
	assert_int_equal(env->calls[0].ranges[0].slot_id, 7);
	assert_int_equal(env->calls[0].ranges[0].start, 0x80000 + 512);
	assert_int_equal(env->calls[0].ranges[0].end, 0x80000 + 1024);
	/* begin() before the folios go, end() after. */
	assert_int_equal(env->calls[0].folios, 2);
	assert_int_equal(env->calls[1].folios, 1);
	assert_int_equal(kvm_gmem_folio_lookup(gmem, 600, &f), -ENOENT);
	assert_int_equal(host_mem_live_pages(&env->host), PAGES_2M);
	assert_int_equal(gauge(env), 1);
	assert_int_equal(get_pfn(gmem, 7, 1100, NULL), keep);
	/* A hole where nothing is allocated still invalidates. */
	env->nr_calls = 0;
	assert_int_equal(kvm_gmem_punch_hole(gmem, 0, SZ_2M), 0);
	assert_int_equal(env->nr_calls, 2);
	/* Past the end of the file: clipped; entirely past: nothing. */
	env->nr_calls = 0;
	assert_int_equal(kvm_gmem_punch_hole(gmem, 4 * SZ_2M, SZ_2M), 0);
	assert_int_equal(env->nr_calls, 0);
	assert_int_equal(kvm_gmem_punch_hole(gmem, 3 * SZ_2M, 8 * SZ_2M), 0);
	assert_int_equal(env->nr_calls, 2);
	assert_int_equal(env->calls[0].inv.end, 4 * PAGES_2M);
	assert_int_equal(kvm_gmem_punch_hole(gmem, 0, 0), -EINVAL);
	assert_int_equal(kvm_gmem_punch_hole(gmem, 1, SZ_4K), -EINVAL);
	assert_int_equal(kvm_gmem_punch_hole(gmem, SZ_4K, UINT64_MAX - SZ_4K + 1), -EINVAL);
	/* Only the folio at [1024, 1536) is left; a hole over all of it. */
	assert_int_equal(kvm_gmem_nr_folios(gmem), 1);
	assert_int_equal(host_mem_live_pages(&env->host), PAGES_2M);
	assert_int_equal(kvm_gmem_punch_hole(gmem, 0, 4 * SZ_2M), 0);
	assert_int_equal(kvm_gmem_nr_folios(gmem), 0);
	assert_int_equal(host_mem_live_pages(&env->host), 0);
	destroy(env, gmem);
}

static void test_gmem_punch_partial_huge(void **state)
{
	struct env *env = *state;
	struct kvm_gmem *gmem = make_gmem(env, SZ_1G, TDPSIM_LEVEL_1G, false, false);
	const tdpsim_gfn_t base = 0x100000;
	struct gmem_folio_info f;
	tdpsim_pfn_t p0;

	assert_int_equal(kvm_gmem_bind(gmem, 1, base, PAGES_1G, 0), 0);
	p0 = get_pfn(gmem, 1, 0, NULL);
	assert_int_equal(folio(gmem, 0).order, GMEM_ORDER_1G);
	assert_int_equal(host_mem_live_pages(&env->host), PAGES_1G);

	/* One 4K page inside the 1G folio: split, only that page freed. */
	assert_int_equal(kvm_gmem_punch_hole(gmem, 1000 * SZ_4K, SZ_4K), 0);
	assert_int_equal(env->nr_calls, 2);
	assert_int_equal(env->calls[0].nr_ranges, 1);
	assert_int_equal(env->calls[0].ranges[0].start, base + 1000);
	assert_int_equal(env->calls[0].ranges[0].end, base + 1001);
	/* Split after begin(): the folio was whole when the VM heard. */
	assert_int_equal(env->calls[0].folios, 1);
	assert_int_equal(host_mem_live_pages(&env->host), PAGES_1G - 1);
	/* 511 2M folios and the 2M block around the hole as 511 4K ones. */
	assert_int_equal(kvm_gmem_nr_folios(gmem), 511 + 511);
	assert_int_equal(gauge(env), 1022);
	assert_int_equal(kvm_gmem_folio_lookup(gmem, 1000, &f), -ENOENT);
	assert_int_equal(folio(gmem, 999).order, GMEM_ORDER_4K);
	assert_int_equal(folio(gmem, 1001).order, GMEM_ORDER_4K);
	assert_int_equal(folio(gmem, 0).order, GMEM_ORDER_2M);
	assert_int_equal(folio(gmem, 1024).order, GMEM_ORDER_2M);
	/* Every remaining page keeps its PFN. */
	for (uint64_t i = 0; i < PAGES_1G; i += 997) {
		if (i == 1000)
			continue;
		assert_int_equal(get_pfn(gmem, 1, i, NULL), p0 + i);
	}
	assert_int_equal(get_pfn(gmem, 1, 1001, NULL), p0 + 1001);
	assert_int_equal(host_mem_check(&env->host), 0);
	assert_int_equal(kvm_gmem_check(gmem), 0);

	/* A hole across 2M folios and into 4K ones: [1M + 8K, 5M - 4K). */
	env->nr_calls = 0;
	assert_int_equal(kvm_gmem_punch_hole(gmem, 258 * SZ_4K, 1021 * SZ_4K), 0);
	assert_int_equal(env->calls[0].ranges[0].start, base + 258);
	assert_int_equal(env->calls[0].ranges[0].end, base + 1279);
	for (uint64_t i = 258; i < 1279; i++)
		assert_int_equal(kvm_gmem_folio_lookup(gmem, i, &f), -ENOENT);
	assert_int_equal(get_pfn(gmem, 1, 257, NULL), p0 + 257);
	assert_int_equal(get_pfn(gmem, 1, 1279, NULL), p0 + 1279);
	assert_int_equal(folio(gmem, 1279).order, GMEM_ORDER_4K);
	assert_int_equal(folio(gmem, 1536).order, GMEM_ORDER_2M);
	assert_int_equal(host_mem_live_pages(&env->host), PAGES_1G - 1021);
	assert_int_equal(host_mem_check(&env->host), 0);
	assert_int_equal(kvm_gmem_check(gmem), 0);

	/* A fault in the hole: [512, 1024) is empty, so a fresh 2M folio;
	 * [1024, 1536) still has folios, so a fresh 4K one. */
	{
		int order;
		tdpsim_pfn_t p = get_pfn(gmem, 1, 600, &order);

		assert_int_equal(order, GMEM_ORDER_2M);
		assert_int_equal(folio(gmem, 600).index, 512);
		assert_int_equal(folio(gmem, 600).pfn & (PAGES_2M - 1), 0);
		/* Pages freed by the punch may be handed out again. */
		assert_true(host_mem_is_live(&env->host, p));
		get_pfn(gmem, 1, 1100, &order);
		assert_int_equal(order, GMEM_ORDER_4K);
	}
	destroy(env, gmem);
}

static void test_gmem_punch_bindings_and_abort(void **state)
{
	struct env *env = *state;
	struct kvm_gmem *gmem = make_gmem(env, 8 * SZ_2M, TDPSIM_LEVEL_2M, true, false);
	tdpsim_pfn_t p;

	/* Two slots on one file, a hole across both and a gap between. */
	assert_int_equal(kvm_gmem_bind(gmem, 10, 0x1000, 600, 0), 0);
	assert_int_equal(kvm_gmem_bind(gmem, 11, 0x8000, 1000, 700 * SZ_4K), 0);
	assert_int_equal(kvm_gmem_allocate(gmem, 0, 8 * SZ_2M), 0);
	p = get_pfn(gmem, 10, 550, NULL);

	/* begin() fails (a precise split ran out of memory): nothing is
	 * freed, end() still runs, the punch fails. */
	env->begin_ret = -ENOMEM;
	assert_int_equal(kvm_gmem_punch_hole(gmem, 500 * SZ_4K, 500 * SZ_4K), -ENOMEM);
	assert_int_equal(env->nr_calls, 2);
	assert_false(env->calls[1].begin);
	assert_int_equal(kvm_gmem_nr_folios(gmem), 8);
	assert_int_equal(get_pfn(gmem, 10, 550, NULL), p);
	assert_int_equal(host_mem_live_pages(&env->host), 8 * PAGES_2M);

	env->begin_ret = 0;
	env->nr_calls = 0;
	assert_int_equal(kvm_gmem_punch_hole(gmem, 500 * SZ_4K, 500 * SZ_4K), 0);
	assert_int_equal(env->calls[0].inv.filter, GMEM_FILTER_SHARED);
	assert_int_equal(env->calls[0].nr_ranges, 2);
	assert_int_equal(env->calls[0].ranges[0].slot_id, 10);
	assert_int_equal(env->calls[0].ranges[0].start, 0x1000 + 500);
	assert_int_equal(env->calls[0].ranges[0].end, 0x1000 + 600);
	assert_int_equal(env->calls[0].ranges[1].slot_id, 11);
	assert_int_equal(env->calls[0].ranges[1].start, 0x8000);
	assert_int_equal(env->calls[0].ranges[1].end, 0x8000 + 300);
	assert_int_equal(env->calls[0].ranges[1].index, 700);
	/* [500, 1000): the first 2M folio loses 12 pages, the second 488. */
	assert_int_equal(host_mem_live_pages(&env->host), 8 * PAGES_2M - 500);
	assert_int_equal(kvm_gmem_nr_folios(gmem), 6 + 500 + 24);

	/* Injected failure in the split's preparation: nothing happens. */
	env->nr_calls = 0;
	allocator_inject_fail(&env->alloc, 0, 1);
	assert_int_equal(kvm_gmem_punch_hole(gmem, 1100 * SZ_4K, SZ_4K), -ENOMEM);
	assert_int_equal(env->nr_calls, 0);
	assert_int_equal(kvm_gmem_nr_folios(gmem), 530);
	destroy(env, gmem);
}

/* ---- memory failure ---- */

static void test_gmem_poison(void **state)
{
	struct env *env = *state;
	struct kvm_gmem *gmem = make_gmem(env, 4 * SZ_2M, TDPSIM_LEVEL_2M, false, false);
	tdpsim_pfn_t p0, pfn;
	int order;

	assert_int_equal(kvm_gmem_bind(gmem, 2, 0x3000, 4 * PAGES_2M, 0), 0);
	p0 = get_pfn(gmem, 2, 0, NULL);
	assert_int_equal(kvm_gmem_error_folio(gmem, 700), -ENOENT);
	assert_int_equal(kvm_gmem_error_folio(gmem, 4 * PAGES_2M), -EINVAL);

	assert_int_equal(kvm_gmem_error_folio(gmem, 5), 0);
	/* Only that page's GFN is invalidated, after the split. */
	assert_int_equal(env->nr_calls, 2);
	assert_int_equal(env->calls[0].inv.reason, GMEM_INVALIDATE_ERROR);
	assert_int_equal(env->calls[0].inv.start, 5);
	assert_int_equal(env->calls[0].inv.end, 6);
	assert_int_equal(env->calls[0].nr_ranges, 1);
	assert_int_equal(env->calls[0].ranges[0].start, 0x3005);
	assert_int_equal(env->calls[0].ranges[0].end, 0x3006);
	assert_int_equal(env->calls[0].folios, 512);
	/* Isolated in a 4K folio of its own; nothing freed. */
	assert_int_equal(kvm_gmem_nr_folios(gmem), 512);
	assert_int_equal(folio(gmem, 5).order, GMEM_ORDER_4K);
	assert_true(folio(gmem, 5).flags & GMEM_FOLIO_HWPOISON);
	assert_false(folio(gmem, 6).flags & GMEM_FOLIO_HWPOISON);
	assert_int_equal(host_mem_live_pages(&env->host), PAGES_2M);
	assert_int_equal(kvm_gmem_get_pfn(gmem, 2, 5, &pfn, &order), -EHWPOISON);
	assert_int_equal(kvm_gmem_max_mapping_order(gmem, 5, &order), -EHWPOISON);
	assert_int_equal(get_pfn(gmem, 2, 6, &order), p0 + 6);
	assert_int_equal(order, GMEM_ORDER_4K);
	assert_int_equal(get_pfn(gmem, 2, 511, NULL), p0 + 511);
	/* memory_failure() on a page already poisoned. */
	env->nr_calls = 0;
	assert_int_equal(kvm_gmem_error_folio(gmem, 5), -EHWPOISON);
	assert_int_equal(env->nr_calls, 0);
	/* A 2M block with a poisoned page never becomes one folio again. */
	assert_int_equal(kvm_gmem_max_mapping_order(gmem, 6, &order), 0);
	assert_int_equal(order, GMEM_ORDER_4K);

	/* Punching the poisoned page retires it: never handed out again. */
	assert_int_equal(kvm_gmem_punch_hole(gmem, 5 * SZ_4K, SZ_4K), 0);
	assert_int_equal(host_mem_retired_pages(&env->host), 1);
	assert_int_equal(host_mem_live_pages(&env->host), PAGES_2M - 1);
	pfn = get_pfn(gmem, 2, 5, NULL);
	assert_true(pfn != p0 + 5);
	assert_int_equal(host_mem_check(&env->host), 0);

	/* Poisoning the last page of a folio and a 4K folio. */
	get_pfn(gmem, 2, PAGES_2M, NULL);
	assert_int_equal(kvm_gmem_error_folio(gmem, 2 * PAGES_2M - 1), 0);
	assert_int_equal(folio(gmem, 2 * PAGES_2M - 1).order, GMEM_ORDER_4K);
	assert_int_equal(folio(gmem, PAGES_2M).order, GMEM_ORDER_4K);
	assert_int_equal(kvm_gmem_error_folio(gmem, 7), 0);
	assert_int_equal(kvm_gmem_nr_folios(gmem), 1024);
	/* Injected failure while splitting: nothing done. */
	get_pfn(gmem, 2, 3 * PAGES_2M, NULL);
	allocator_inject_fail(&env->alloc, 0, 1);
	env->nr_calls = 0;
	assert_int_equal(kvm_gmem_error_folio(gmem, 3 * PAGES_2M + 9), -ENOMEM);
	assert_int_equal(env->nr_calls, 0);
	assert_int_equal(folio(gmem, 3 * PAGES_2M + 9).order, GMEM_ORDER_2M);
	destroy(env, gmem);
	assert_int_equal(host_mem_retired_pages(&env->host), 3);
}

static void test_gmem_poison_1g(void **state)
{
	struct env *env = *state;
	struct kvm_gmem *gmem = make_gmem(env, SZ_1G, TDPSIM_LEVEL_1G, false, false);
	tdpsim_pfn_t p0;
	int order;

	assert_int_equal(kvm_gmem_bind(gmem, 0, 0x40000, PAGES_1G, 0), 0);
	p0 = get_pfn(gmem, 0, 3, &order) - 3;
	assert_int_equal(order, GMEM_ORDER_1G);
	assert_int_equal(kvm_gmem_error_folio(gmem, 700), 0);
	/* 511 2M folios, the 2M block of the page as 512 4K ones. */
	assert_int_equal(kvm_gmem_nr_folios(gmem), 511 + 512);
	assert_int_equal(folio(gmem, 0).order, GMEM_ORDER_2M);
	assert_int_equal(folio(gmem, 512).order, GMEM_ORDER_4K);
	assert_int_equal(folio(gmem, 1023).order, GMEM_ORDER_4K);
	assert_int_equal(folio(gmem, 1024).order, GMEM_ORDER_2M);
	assert_int_equal(get_pfn(gmem, 0, 5000, &order), p0 + 5000);
	assert_int_equal(order, GMEM_ORDER_2M);
	assert_int_equal(env->calls[0].ranges[0].start, 0x40000 + 700);
	assert_int_equal(env->calls[0].ranges[0].end, 0x40000 + 701);
	destroy(env, gmem);
	assert_int_equal(host_mem_retired_pages(&env->host), 1);
}

/* ---- in-place conversion ---- */

static void assert_attr(struct kvm_gmem *gmem, uint64_t index, bool private_mem,
			uint64_t end)
{
	uint64_t e;
	bool p;

	assert_int_equal(kvm_gmem_get_attributes(gmem, index, &e, &p), 0);
	assert_int_equal(p, private_mem);
	assert_int_equal(e, end);
}

static void test_gmem_convert_private_to_shared(void **state)
{
	struct env *env = *state;
	struct kvm_gmem *gmem = make_gmem(env, 4 * SZ_2M, TDPSIM_LEVEL_2M, false, true);
	struct gmem_folio_info f;
	tdpsim_pfn_t p0, p1;
	int order;

	assert_int_equal(kvm_gmem_bind(gmem, 4, 0x2000, 4 * PAGES_2M, 0), 0);
	assert_attr(gmem, 0, true, 4 * PAGES_2M);
	assert_true(kvm_gmem_is_private_mem(gmem, 77));
	p0 = get_pfn(gmem, 4, 0, NULL);
	p1 = get_pfn(gmem, 4, 512, NULL);

	/* Pages 1..2 to shared: the folio around them is split. */
	assert_int_equal(kvm_gmem_set_attributes(gmem, SZ_4K, 2 * SZ_4K, false), 0);
	assert_int_equal(env->nr_calls, 2);
	assert_int_equal(env->calls[0].inv.reason, GMEM_INVALIDATE_CONVERT);
	assert_int_equal(env->calls[0].inv.filter,
			 GMEM_FILTER_SHARED | GMEM_FILTER_PRIVATE);
	assert_false(env->calls[0].inv.to_private);
	assert_int_equal(env->calls[0].ranges[0].start, 0x2001);
	assert_int_equal(env->calls[0].ranges[0].end, 0x2003);
	assert_int_equal(env->calls[0].folios, 2);
	assert_attr(gmem, 0, true, 1);
	assert_attr(gmem, 1, false, 3);
	assert_attr(gmem, 2, false, 3);
	assert_attr(gmem, 3, true, 4 * PAGES_2M);
	assert_int_equal(kvm_gmem_nr_folios(gmem), 512 + 1);
	assert_int_equal(folio(gmem, 1).order, GMEM_ORDER_4K);
	/* Conversion keeps every PFN. */
	for (uint64_t i = 0; i < PAGES_2M; i++)
		assert_int_equal(folio(gmem, i).pfn, p0 + i);
	assert_int_equal(get_pfn(gmem, 4, 1, NULL), p0 + 1);
	assert_int_equal(kvm_gmem_max_mapping_order(gmem, 300, &order), 0);
	assert_int_equal(order, GMEM_ORDER_4K);
	assert_int_equal(kvm_gmem_max_mapping_order(gmem, 600, &order), 0);
	assert_int_equal(order, GMEM_ORDER_2M);
	/* No folio yet, but the 2M block is mixed: 4K. Not mixed: 2M. */
	assert_int_equal(kvm_gmem_set_attributes(gmem, 3 * SZ_2M, SZ_4K, false), 0);
	assert_int_equal(kvm_gmem_max_mapping_order(gmem, 3 * PAGES_2M + 100, &order), 0);
	assert_int_equal(order, GMEM_ORDER_4K);
	assert_int_equal(kvm_gmem_max_mapping_order(gmem, 2 * PAGES_2M + 100, &order), 0);
	assert_int_equal(order, GMEM_ORDER_2M);
	assert_int_equal(kvm_gmem_nr_folios(gmem), 513);
	assert_int_equal(kvm_gmem_check(gmem), 0);

	/* Already shared: nothing happens, nobody is told. */
	env->nr_calls = 0;
	assert_int_equal(kvm_gmem_set_attributes(gmem, SZ_4K, SZ_4K, false), 0);
	assert_int_equal(env->nr_calls, 0);

	/* Back to private: one range again, and the 2M folio is whole again
	 * with the same PFNs. */
	assert_int_equal(kvm_gmem_set_attributes(gmem, 0, 4 * SZ_2M, true), 0);
	assert_int_equal(env->nr_calls, 2);
	assert_true(env->calls[0].inv.to_private);
	assert_attr(gmem, 0, true, 4 * PAGES_2M);
	assert_int_equal(kvm_gmem_nr_folios(gmem), 2);
	f = folio(gmem, 1);
	assert_int_equal(f.index, 0);
	assert_int_equal(f.order, GMEM_ORDER_2M);
	assert_int_equal(f.pfn, p0);
	assert_int_equal(folio(gmem, 512).pfn, p1);
	assert_int_equal(gauge(env), 2);

	/* Bad ranges. */
	assert_int_equal(kvm_gmem_set_attributes(gmem, 0, 0, false), -EINVAL);
	assert_int_equal(kvm_gmem_set_attributes(gmem, 100, SZ_4K, false), -EINVAL);
	assert_int_equal(kvm_gmem_set_attributes(gmem, 4 * SZ_2M, SZ_4K, false), -EINVAL);
	assert_int_equal(kvm_gmem_set_attributes(gmem, 3 * SZ_2M, 2 * SZ_2M, false), -EINVAL);
	assert_int_equal(kvm_gmem_get_attributes(gmem, 4 * PAGES_2M, &f.index,
						 &(bool){ false }), -EINVAL);
	destroy(env, gmem);
}

static void test_gmem_convert_shared_to_private(void **state)
{
	struct env *env = *state;
	struct kvm_gmem *gmem = make_gmem(env, SZ_1G + SZ_2M, TDPSIM_LEVEL_1G, true, true);
	struct kvm_gmem *plain = make_gmem(env, SZ_2M, TDPSIM_LEVEL_2M, true, false);
	tdpsim_pfn_t p0;

	assert_int_equal(kvm_gmem_set_attributes(plain, 0, SZ_4K, true), -EINVAL);
	assert_attr(plain, 0, false, PAGES_2M);
	kvm_gmem_destroy(plain);

	/* Init-shared: starts shared; a 1G shared folio. */
	assert_attr(gmem, 0, false, PAGES_1G + PAGES_2M);
	assert_int_equal(kvm_gmem_bind(gmem, 0, 0, PAGES_1G + PAGES_2M, 0), 0);
	p0 = get_pfn(gmem, 0, 0, NULL);
	assert_int_equal(folio(gmem, 0).order, GMEM_ORDER_1G);
	/* Partly to private: split so no folio holds both. */
	assert_int_equal(kvm_gmem_set_attributes(gmem, 2 * SZ_2M, SZ_2M + SZ_4K, true), 0);
	assert_attr(gmem, 0, false, 1024);
	assert_attr(gmem, 1024, true, 1024 + 513);
	assert_attr(gmem, 1537, false, PAGES_1G + PAGES_2M);
	assert_int_equal(folio(gmem, 0).order, GMEM_ORDER_2M);
	assert_int_equal(folio(gmem, 1024).order, GMEM_ORDER_2M);
	assert_int_equal(folio(gmem, 1536).order, GMEM_ORDER_4K);
	assert_int_equal(folio(gmem, 1537).order, GMEM_ORDER_4K);
	assert_int_equal(folio(gmem, 2048).order, GMEM_ORDER_2M);
	assert_int_equal(kvm_gmem_nr_folios(gmem), 511 + 512);
	assert_int_equal(folio(gmem, 1537).pfn, p0 + 1537);
	assert_int_equal(kvm_gmem_check(gmem), 0);
	/* Shared again: shared folios are not merged back (only private). */
	assert_int_equal(kvm_gmem_set_attributes(gmem, 0, SZ_1G, false), 0);
	assert_attr(gmem, 0, false, PAGES_1G + PAGES_2M);
	assert_int_equal(kvm_gmem_nr_folios(gmem), 511 + 512);
	/* The whole 1G private: merged back up to 1G. */
	assert_int_equal(kvm_gmem_set_attributes(gmem, 0, SZ_1G, true), 0);
	assert_int_equal(kvm_gmem_nr_folios(gmem), 1);
	assert_int_equal(folio(gmem, 1537).order, GMEM_ORDER_1G);
	assert_int_equal(folio(gmem, 1537).pfn, p0);
	assert_attr(gmem, 5, true, PAGES_1G);
	assert_attr(gmem, PAGES_1G, false, PAGES_1G + PAGES_2M);
	/* Injected failure: nothing converted, nobody told. */
	env->nr_calls = 0;
	allocator_inject_fail(&env->alloc, 0, 1);
	assert_int_equal(kvm_gmem_set_attributes(gmem, 7 * SZ_4K, SZ_4K, false), -ENOMEM);
	assert_int_equal(env->nr_calls, 0);
	assert_attr(gmem, 7, true, PAGES_1G);
	/* begin() refuses: nothing converted, end() still called. */
	env->begin_ret = -ENOMEM;
	assert_int_equal(kvm_gmem_set_attributes(gmem, 7 * SZ_4K, SZ_4K, false), -ENOMEM);
	assert_int_equal(env->nr_calls, 2);
	assert_attr(gmem, 7, true, PAGES_1G);
	assert_int_equal(kvm_gmem_nr_folios(gmem), 1);
	env->begin_ret = 0;
	destroy(env, gmem);
}

/* The attribute ranges stay merged and tiled through random conversions,
 * and agree with a page-by-page reference. */
static void test_gmem_attr_ranges_random(void **state)
{
	struct env *env = *state;
	enum { PAGES = 4 * 512 };
	static bool ref[PAGES];
	struct kvm_gmem *gmem = make_gmem(env, PAGES * SZ_4K, TDPSIM_LEVEL_2M, false, true);

	for (int i = 0; i < PAGES; i++)
		ref[i] = true;
	assert_int_equal(kvm_gmem_allocate(gmem, 0, PAGES * SZ_4K), 0);
	for (int step = 0; step < 300; step++) {
		uint64_t s = rng() % PAGES, n = 1 + rng() % (step % 3 ? 8 : 700);
		bool priv = rng() & 1;

		if (s + n > PAGES)
			n = PAGES - s;
		assert_int_equal(kvm_gmem_set_attributes(gmem, s * SZ_4K, n * SZ_4K, priv), 0);
		for (uint64_t i = s; i < s + n; i++)
			ref[i] = priv;
		assert_int_equal(kvm_gmem_check(gmem), 0);
	}
	for (uint64_t i = 0; i < PAGES; ) {
		uint64_t end;
		bool p;

		assert_int_equal(kvm_gmem_get_attributes(gmem, i, &end, &p), 0);
		for (uint64_t j = i; j < end; j++)
			assert_int_equal(ref[j], p);
		assert_true(end == PAGES || ref[end] != p);
		i = end;
	}
	assert_int_equal(kvm_gmem_set_attributes(gmem, 0, PAGES * SZ_4K, true), 0);
	assert_int_equal(kvm_gmem_nr_folios(gmem), 4);
	destroy(env, gmem);
}

/* ---- release, concurrency ---- */

static void test_gmem_release(void **state)
{
	struct env *env = *state;
	struct kvm_gmem *gmem = make_gmem(env, 4 * SZ_2M, TDPSIM_LEVEL_2M, false, false);
	tdpsim_pfn_t pfn;

	assert_int_equal(kvm_gmem_bind(gmem, 1, 0x1000, 100, 0), 0);
	assert_int_equal(kvm_gmem_bind(gmem, 2, 0x5000, 100, 3 * SZ_2M), 0);
	get_pfn(gmem, 1, 10, NULL);
	kvm_gmem_release(gmem);
	assert_int_equal(env->nr_calls, 2);
	assert_int_equal(env->calls[0].inv.reason, GMEM_INVALIDATE_RELEASE);
	assert_int_equal(env->calls[0].nr_ranges, 2);
	assert_int_equal(kvm_gmem_get_pfn(gmem, 1, 10, &pfn, NULL), -EFAULT);
	assert_int_equal(kvm_gmem_bind(gmem, 3, 0, 1, 0), -EINVAL);
	assert_int_equal(kvm_gmem_unbind(gmem, 1, 0), -ENOENT);
	/* The memory stays with the file until it is destroyed. */
	assert_int_equal(kvm_gmem_nr_folios(gmem), 1);
	kvm_gmem_release(gmem);
	assert_int_equal(env->nr_calls, 2);
	destroy(env, gmem);
}

struct pfn_thread {
	struct kvm_gmem *gmem;
	tdpsim_pfn_t pfn[256];
	int seed;
};

static void *pfn_thread_fn(void *arg)
{
	struct pfn_thread *t = arg;

	for (int i = 0; i < 256; i++) {
		int k = (i * 37 + t->seed * 11) % 256;

		if (kvm_gmem_get_pfn(t->gmem, 0, (uint64_t)k * 300, &t->pfn[k], NULL))
			abort();
	}
	return NULL;
}

static void test_gmem_concurrent_get_pfn(void **state)
{
	struct env *env = *state;
	struct kvm_gmem *gmem = make_gmem(env, 256 * 300 * SZ_4K, TDPSIM_LEVEL_2M,
					  false, false);
	static struct pfn_thread t[4];
	pthread_t tid[4];

	assert_int_equal(kvm_gmem_bind(gmem, 0, 0, 256 * 300, 0), 0);
	for (int i = 0; i < 4; i++) {
		t[i].gmem = gmem;
		t[i].seed = i;
		assert_int_equal(pthread_create(&tid[i], NULL, pfn_thread_fn, &t[i]), 0);
	}
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_join(tid[i], NULL), 0);
	/* Every thread saw the same page for every index. */
	for (int k = 0; k < 256; k++)
		for (int i = 1; i < 4; i++)
			assert_int_equal(t[i].pfn[k], t[0].pfn[k]);
	assert_int_equal(kvm_gmem_nr_folios(gmem), gauge(env));
	assert_int_equal(kvm_gmem_check(gmem), 0);
	destroy(env, gmem);
}

/* A begin() that faults inside the range while the punch is in progress. */
static int racing_begin(void *opaque, const struct gmem_invalidation *inv)
{
	tdpsim_pfn_t pfn;
	int order;

	(void)opaque;
	assert_int_equal(kvm_gmem_get_pfn(inv->gmem, 0, inv->start, &pfn, NULL), -EAGAIN);
	/* Outside the range, a new folio must not reach into it. */
	assert_int_equal(kvm_gmem_get_pfn(inv->gmem, 0, inv->end, &pfn, &order), 0);
	assert_int_equal(order, GMEM_ORDER_4K);
	return 0;
}

static void test_gmem_fault_during_punch(void **state)
{
	struct env *env = *state;
	static const struct gmem_invalidate_ops ops = { .begin = racing_begin };
	struct kvm_gmem_config cfg = {
		.size = 4 * SZ_2M, .huge_level = TDPSIM_LEVEL_2M, .ops = &ops,
	};
	struct kvm_gmem *gmem;

	assert_int_equal(kvm_gmem_create(&env->alloc, &env->host, &env->counters,
					 &cfg, &gmem), 0);
	assert_int_equal(kvm_gmem_bind(gmem, 0, 0, 4 * PAGES_2M, 0), 0);
	assert_int_equal(kvm_gmem_punch_hole(gmem, SZ_2M, 100 * SZ_4K), 0);
	assert_int_equal(folio(gmem, 612).order, GMEM_ORDER_4K);
	/* After the punch the block is still not free of folios. */
	assert_int_equal(kvm_gmem_max_mapping_order(gmem, 512, &(int){ 0 }), 0);
	destroy(env, gmem);
}

/* ---- scale: a 16 TiB file ---- */

static void test_gmem_sparse_cost(void **state)
{
	struct env *env = *state;
	const uint64_t size = 16 * SZ_1T, npages = size / SZ_4K;
	struct kvm_gmem *gmem = make_gmem(env, size, TDPSIM_LEVEL_2M, false, false);
	uint64_t bytes;

	/* 300 2M folios spread over the file, and 2 split down to 4K pieces
	 * by a punched page each: 300 - 2 + 2 * 511 folios. */
	assert_int_equal(kvm_gmem_bind(gmem, 0, 0, npages, 0), 0);
	for (uint64_t i = 0; i < 300; i++) {
		uint64_t index = i * (npages / 300) & ~(PAGES_2M - 1);

		assert_int_equal(kvm_gmem_allocate(gmem, index * SZ_4K, SZ_4K), 0);
		if (i % 150 == 7)
			assert_int_equal(kvm_gmem_punch_hole(gmem, (index + 9) * SZ_4K, SZ_4K), 0);
	}
	assert_int_equal(kvm_gmem_nr_folios(gmem), 298 + 2 * 511);
	assert_int_equal(gauge(env), 298 + 2 * 511);
	bytes = env->alloc.bytes[TDPSIM_ALLOC_KIND_GMEM];
	print_message("16 TiB file, %llu folios (298 2M, 1022 4K): %llu bytes of "
		      "gmem objects and host bookkeeping (%llu host blocks)\n",
		      (unsigned long long)kvm_gmem_nr_folios(gmem),
		      (unsigned long long)bytes,
		      (unsigned long long)host_mem_nr_nodes(&env->host));
	assert_true(bytes < 128 * 1024);
	assert_int_equal(kvm_gmem_check(gmem), 0);
	destroy(env, gmem);
	assert_int_equal(env->alloc.bytes[TDPSIM_ALLOC_KIND_GMEM], 0);
}

struct hole_count {
	uint64_t folios;
};

static int count_folio(void *opaque, const struct gmem_folio_info *f)
{
	(void)f;
	((struct hole_count *)opaque)->folios++;
	return 0;
}

static void test_gmem_16t_punch_12t(void **state)
{
	struct env *env = *state;
	const uint64_t size = 16 * SZ_1T, npages = size / SZ_4K;
	const tdpsim_gfn_t base = 1ULL << 32;
	/* [2 TiB + 512 MiB, 14 TiB + 512 MiB): not 1G aligned at either end. */
	const uint64_t hole_start = 2 * SZ_1T + SZ_1G / 2, hole_len = 12 * SZ_1T;
	struct kvm_gmem *gmem = make_gmem(env, size, TDPSIM_LEVEL_1G, false, false);
	struct hole_count in_hole = { 0 };
	uint64_t w0, w_small, w_empty, w_big, bytes, folios;
	tdpsim_pfn_t head;

	/* A 16 TiB file bound to a 16 TiB slot. */
	assert_int_equal(kvm_gmem_bind(gmem, 9, base, npages, 0), 0);
	/* 400 1G folios spread over [0, 15 TiB); 4 of them split to 2M and
	 * 4K pieces by a memory failure, one of which straddles the hole. */
	for (uint64_t i = 0; i < 400; i++) {
		uint64_t index = i * (15 * SZ_1T / SZ_4K / 400) & ~(PAGES_1G - 1);

		assert_int_equal(kvm_gmem_allocate(gmem, index * SZ_4K, SZ_4K), 0);
		if (i % 100 == 53)
			assert_int_equal(kvm_gmem_error_folio(gmem, index + 700), 0);
	}
	/* A 1G folio across the hole's start: split, half of it freed. */
	assert_int_equal(kvm_gmem_allocate(gmem, hole_start - SZ_2M, SZ_4K), 0);
	head = folio(gmem, 2 * SZ_1T / SZ_4K).pfn;
	assert_int_equal(folio(gmem, 2 * SZ_1T / SZ_4K).order, GMEM_ORDER_1G);
	folios = kvm_gmem_nr_folios(gmem);
	assert_int_equal(kvm_gmem_for_each_folio(gmem, hole_start / SZ_4K,
						 (hole_start + hole_len) / SZ_4K,
						 count_folio, &in_hole), 0);
	bytes = env->alloc.bytes[TDPSIM_ALLOC_KIND_GMEM];
	env->nr_calls = 0;

	/* A 4 KiB hole where nothing is allocated... */
	w0 = kvm_gmem_work(gmem);
	assert_int_equal(kvm_gmem_punch_hole(gmem, 15 * SZ_1T + 5 * SZ_1G, SZ_4K), 0);
	w_small = kvm_gmem_work(gmem) - w0;
	/* ...costs what an almost 1 TiB hole where nothing is costs. */
	w0 = kvm_gmem_work(gmem);
	assert_int_equal(kvm_gmem_punch_hole(gmem, 15 * SZ_1T + SZ_1G,
					     SZ_1T - 2 * SZ_1G), 0);
	w_empty = kvm_gmem_work(gmem) - w0;

	/* The 12 TiB hole. */
	env->nr_calls = 0;
	w0 = kvm_gmem_work(gmem);
	assert_int_equal(kvm_gmem_punch_hole(gmem, hole_start, hole_len), 0);
	w_big = kvm_gmem_work(gmem) - w0;

	/* The callback gets exactly one range: the slot's GFNs of the hole. */
	assert_int_equal(env->nr_calls, 2);
	assert_int_equal(env->calls[0].nr_ranges, 1);
	assert_int_equal(env->calls[0].ranges[0].slot_id, 9);
	assert_int_equal(env->calls[0].ranges[0].start, base + hole_start / SZ_4K);
	assert_int_equal(env->calls[0].ranges[0].end,
			 base + (hole_start + hole_len) / SZ_4K);
	print_message("16 TiB file, %llu folios (%llu bytes); 12 TiB hole over "
		      "%llu folios: work %llu; 4 KiB empty hole: work %llu; "
		      "1 TiB empty hole: work %llu; %llu folios left\n",
		      (unsigned long long)folios, (unsigned long long)bytes,
		      (unsigned long long)in_hole.folios, (unsigned long long)w_big,
		      (unsigned long long)w_small, (unsigned long long)w_empty,
		      (unsigned long long)kvm_gmem_nr_folios(gmem));
	assert_true(in_hole.folios > 1000);
	assert_true(env->calls[0].folios > env->calls[1].folios);
	/* Cost follows the folios freed, not the 3 billion pages of the hole. */
	assert_int_equal(w_empty, w_small);
	assert_true(w_big <= w_small + 2 * 1024 + 4 * in_hole.folios);
	/* The straddling folio's head keeps its pages, as 2M folios. */
	assert_int_equal(folio(gmem, 2 * SZ_1T / SZ_4K).order, GMEM_ORDER_2M);
	assert_int_equal(get_pfn(gmem, 9, hole_start / SZ_4K - 1, NULL),
			 head + PAGES_1G / 2 - 1);
	{
		struct hole_count left = { 0 };

		kvm_gmem_for_each_folio(gmem, hole_start / SZ_4K,
					(hole_start + hole_len) / SZ_4K,
					count_folio, &left);
		assert_int_equal(left.folios, 0);
	}
	assert_true(bytes < 1024 * 1024);
	assert_int_equal(kvm_gmem_check(gmem), 0);
	assert_int_equal(host_mem_check(&env->host), 0);
	destroy(env, gmem);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_avl_against_reference),
		T(test_host_mem_alloc_aligned_unique),
		T(test_host_mem_cut_free_retire),
		T(test_host_mem_alloc_fail),
		T(test_host_mem_threads),
		T(test_gmem_create_errors),
		T(test_gmem_folio_sizes),
		T(test_gmem_lazy_allocation),
		T(test_gmem_pfn_unique_across_files),
		T(test_gmem_bind_rules),
		T(test_gmem_punch_whole_huge),
		T(test_gmem_punch_partial_huge),
		T(test_gmem_punch_bindings_and_abort),
		T(test_gmem_poison),
		T(test_gmem_poison_1g),
		T(test_gmem_convert_private_to_shared),
		T(test_gmem_convert_shared_to_private),
		T(test_gmem_attr_ranges_random),
		T(test_gmem_release),
		T(test_gmem_concurrent_get_pfn),
		T(test_gmem_fault_during_punch),
		T(test_gmem_sparse_cost),
		T(test_gmem_16t_punch_12t),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
