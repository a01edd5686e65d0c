/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The allocation layer (lib/alloc.c): alignment, zeroing, live counts per
 * kind, injected failures, hooks, on every backend this build has.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "alloc.h"

/* Run each test once per backend: state points at the backend to use. */
static enum tdpsim_alloc_backend libc_backend = TDPSIM_ALLOC_LIBC;
static enum tdpsim_alloc_backend je_backend = TDPSIM_ALLOC_JEMALLOC;

static int setup(void **state)
{
	struct tdpsim_allocator *a = calloc(1, sizeof(*a));
	enum tdpsim_alloc_backend b = **(enum tdpsim_alloc_backend **)state;

	if (!a)
		return -1;
	if (b == TDPSIM_ALLOC_JEMALLOC && !allocator_has_jemalloc()) {
		/* Not built: the backend must say so, and the test runs on libc. */
		if (allocator_init(a, b) != -ENOTSUP) {
			free(a);
			return -1;
		}
		b = TDPSIM_ALLOC_LIBC;
	}
	if (allocator_init(a, b)) {
		free(a);
		return -1;
	}
	*state = a;
	return 0;
}

static int teardown(void **state)
{
	struct tdpsim_allocator *a = *state;

	allocator_finish(a);
	free(a);
	return 0;
}

static void test_alloc_pages_aligned_and_zeroed(void **state)
{
	struct tdpsim_allocator *a = *state;
	uint64_t *pages[64];

	for (int i = 0; i < 64; i++) {
		pages[i] = alloc_page(a, TDPSIM_ALLOC_KIND_PT);
		assert_non_null(pages[i]);
		assert_int_equal((uintptr_t)pages[i] & 4095, 0);
		for (int j = 0; j < 512; j++)
			assert_int_equal(pages[i][j], 0);
		/* Dirty it so a reused page would show up as non-zero. */
		memset(pages[i], 0xa5, 4096);
	}
	for (int i = 0; i < 64; i++)
		free_page(a, TDPSIM_ALLOC_KIND_PT, pages[i]);
	for (int i = 0; i < 64; i++) {
		pages[i] = alloc_page(a, TDPSIM_ALLOC_KIND_PT);
		assert_non_null(pages[i]);
		for (int j = 0; j < 512; j++)
			assert_int_equal(pages[i][j], 0);
	}
	for (int i = 0; i < 64; i++)
		free_page(a, TDPSIM_ALLOC_KIND_PT, pages[i]);
}

static void test_alloc_objects_zeroed(void **state)
{
	struct tdpsim_allocator *a = *state;
	unsigned char *p = alloc_obj(a, TDPSIM_ALLOC_KIND_MISC, 1000);

	assert_non_null(p);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(p[i], 0);
	memset(p, 0xff, 1000);
	free_obj(a, TDPSIM_ALLOC_KIND_MISC, p, 1000);
	assert_null(alloc_obj(a, TDPSIM_ALLOC_KIND_MISC, 0));
	assert_null(alloc_obj(a, TDPSIM_ALLOC_KIND_NR, 8));
	free_obj(a, TDPSIM_ALLOC_KIND_MISC, NULL, 8);
}

static void test_alloc_counts_per_kind(void **state)
{
	struct tdpsim_allocator *a = *state;
	void *pt[3], *sp[2];

	for (int i = 0; i < 3; i++)
		pt[i] = alloc_page(a, TDPSIM_ALLOC_KIND_PT);
	for (int i = 0; i < 2; i++)
		sp[i] = alloc_obj(a, TDPSIM_ALLOC_KIND_SP, 96);
	assert_int_equal(allocator_live(a, TDPSIM_ALLOC_KIND_PT), 3);
	assert_int_equal(allocator_live(a, TDPSIM_ALLOC_KIND_SP), 2);
	assert_int_equal(allocator_live(a, TDPSIM_ALLOC_KIND_GMEM), 0);
	assert_int_equal(a->bytes[TDPSIM_ALLOC_KIND_PT], 3 * 4096);
	free_page(a, TDPSIM_ALLOC_KIND_PT, pt[1]);
	free_obj(a, TDPSIM_ALLOC_KIND_SP, sp[0], 96);
	assert_int_equal(allocator_live(a, TDPSIM_ALLOC_KIND_PT), 2);
	assert_int_equal(allocator_live(a, TDPSIM_ALLOC_KIND_SP), 1);
	free_page(a, TDPSIM_ALLOC_KIND_PT, pt[0]);
	free_page(a, TDPSIM_ALLOC_KIND_PT, pt[2]);
	free_obj(a, TDPSIM_ALLOC_KIND_SP, sp[1], 96);
	for (int k = 0; k < TDPSIM_ALLOC_KIND_NR; k++) {
		assert_int_equal(allocator_live(a, k), 0);
		assert_int_equal(a->bytes[k], 0);
	}
	assert_string_equal(tdpsim_alloc_kind_name(TDPSIM_ALLOC_KIND_PT), "pt");
}

/* "fail the Nth allocation from now, count times" */
static void test_alloc_injected_failures(void **state)
{
	struct tdpsim_allocator *a = *state;
	void *p[8];
	bool got[8];

	allocator_inject_fail(a, 2, 3);
	for (int i = 0; i < 8; i++) {
		p[i] = i % 2 ? alloc_page(a, TDPSIM_ALLOC_KIND_PT) :
			       alloc_obj(a, TDPSIM_ALLOC_KIND_SP, 64);
		got[i] = p[i] != NULL;
	}
	/* Allocations 1 and 2 succeed, 3, 4 and 5 fail, the rest succeed. */
	assert_true(got[0]);
	assert_true(got[1]);
	assert_false(got[2]);
	assert_false(got[3]);
	assert_false(got[4]);
	assert_true(got[5]);
	assert_true(got[6]);
	assert_true(got[7]);
	assert_int_equal(a->failed, 3);
	/* A failed allocation is not counted live. */
	assert_int_equal(allocator_live(a, TDPSIM_ALLOC_KIND_SP), 2);
	assert_int_equal(allocator_live(a, TDPSIM_ALLOC_KIND_PT), 3);
	for (int i = 0; i < 8; i++) {
		if (i % 2)
			free_page(a, TDPSIM_ALLOC_KIND_PT, p[i]);
		else
			free_obj(a, TDPSIM_ALLOC_KIND_SP, p[i], 64);
	}
	/* after=0: the very next one fails. */
	allocator_inject_fail(a, 0, 1);
	assert_null(alloc_page(a, TDPSIM_ALLOC_KIND_PT));
	p[0] = alloc_page(a, TDPSIM_ALLOC_KIND_PT);
	assert_non_null(p[0]);
	free_page(a, TDPSIM_ALLOC_KIND_PT, p[0]);
}

static unsigned int hook_calls;
static enum tdpsim_alloc_kind hook_kind;

static void hook(void *opaque, enum tdpsim_alloc_kind kind, size_t size)
{
	(void)opaque;
	assert_int_equal(size, 4096);
	hook_kind = kind;
	hook_calls++;
}

static void test_alloc_hook_sees_every_attempt(void **state)
{
	struct tdpsim_allocator *a = *state;
	void *p;

	hook_calls = 0;
	a->hook = hook;
	allocator_inject_fail(a, 0, 1);
	assert_null(alloc_page(a, TDPSIM_ALLOC_KIND_SEPT));
	p = alloc_page(a, TDPSIM_ALLOC_KIND_SEPT);
	assert_int_equal(hook_calls, 2);
	assert_int_equal(hook_kind, TDPSIM_ALLOC_KIND_SEPT);
	free_page(a, TDPSIM_ALLOC_KIND_SEPT, p);
	a->hook = NULL;
}

static void test_alloc_backend_selection(void **state)
{
	struct tdpsim_allocator b;

	(void)state;
	assert_int_equal(allocator_init(&b, TDPSIM_ALLOC_DEFAULT), 0);
	assert_int_equal(b.backend, allocator_has_jemalloc() ?
			 TDPSIM_ALLOC_JEMALLOC : TDPSIM_ALLOC_LIBC);
	allocator_finish(&b);
	assert_int_equal(allocator_init(&b, (enum tdpsim_alloc_backend)42), -EINVAL);
}

#define BOTH(t)                                                              \
	cmocka_unit_test_prestate_setup_teardown(t, setup, teardown, &libc_backend), \
	cmocka_unit_test_prestate_setup_teardown(t, setup, teardown, &je_backend)

int main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH(test_alloc_pages_aligned_and_zeroed),
		BOTH(test_alloc_objects_zeroed),
		BOTH(test_alloc_counts_per_kind),
		BOTH(test_alloc_injected_failures),
		BOTH(test_alloc_hook_sees_every_attempt),
		cmocka_unit_test(test_alloc_backend_selection),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
