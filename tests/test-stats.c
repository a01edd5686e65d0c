/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Counters: names, lookup, snapshots and deltas (lib/stats.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>

#include <tdpsim/tdpsim.h>

#include "counters.h"

static void test_stats_names_roundtrip(void **state)
{
	(void)state;
	for (unsigned int i = 0; i < TDPSIM_STAT_NR; i++) {
		enum tdpsim_stat s;
		const char *name = tdpsim_stat_name((enum tdpsim_stat)i);

		assert_non_null(name);
		assert_int_equal(tdpsim_stat_from_name(name, &s), 0);
		assert_int_equal(s, i);
	}
	assert_null(tdpsim_stat_name(TDPSIM_STAT_NR));
}

/* The names the trace language promises (trace-format.md, Counters). */
static void test_stats_spec_names_exist(void **state)
{
	static const char *const spec[] = {
		"fault", "fault.retry", "fault.exit", "map.4K", "map.2M",
		"map.1G", "zap.4K", "zap.2M", "zap.1G", "split.2M", "split.1G",
		"pt.alloc", "pt.free", "pt.live", "tlb.flush", "lock.read",
		"lock.write", "rcu.free", "seamcall.PAGE.ADD",
		"seamcall.PAGE.AUG", "seamcall.SEPT.ADD",
		"seamcall.RANGE.BLOCK", "seamcall.MEM.TRACK",
		"seamcall.PAGE.REMOVE", "seamcall.PAGE.DEMOTE",
		"seamcall.PAGE.WBINVD", "seamcall.PAGE.RECLAIM",
		"seamcall.SEPT.REMOVE", "seamcall.PAMT.ADD",
		"seamcall.PAMT.REMOVE", "seamcall.MR.FINALIZE",
		"seamcall.busy", "pamt.pairs", "gmem.folios", "lpage.inhibit",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(spec) / sizeof(spec[0]); i++)
		assert_int_equal(tdpsim_stat_from_name(spec[i], NULL), 0);
	assert_int_equal(tdpsim_stat_from_name("map.4k", NULL), -ENOENT);
	assert_int_equal(tdpsim_stat_from_name("", NULL), -ENOENT);
	assert_int_equal(tdpsim_stat_from_name(NULL, NULL), -ENOENT);
}

static void test_stats_snapshot_delta(void **state)
{
	struct tdpsim_counters c;
	struct tdpsim_snapshot mark, now;

	(void)state;
	counters_init(&c);
	counter_add(&c, TDPSIM_STAT_SPLIT_2M, 3);
	counter_add(&c, TDPSIM_STAT_PT_LIVE, 10);
	tdpsim_counters_snapshot(&c, &mark);
	counter_add(&c, TDPSIM_STAT_SPLIT_2M, 512);
	counter_inc(&c, TDPSIM_STAT_SPLIT_1G);
	counter_sub(&c, TDPSIM_STAT_PT_LIVE, 4);
	tdpsim_counters_snapshot(&c, &now);

	assert_int_equal(tdpsim_counters_get(&c, TDPSIM_STAT_SPLIT_2M), 515);
	/* A counter compares what it grew by since the mark ... */
	assert_int_equal(tdpsim_snapshot_delta(&now, &mark, TDPSIM_STAT_SPLIT_2M), 512);
	assert_int_equal(tdpsim_snapshot_delta(&now, &mark, TDPSIM_STAT_SPLIT_1G), 1);
	assert_int_equal(tdpsim_snapshot_delta(&now, &mark, TDPSIM_STAT_FAULT), 0);
	/* ... a gauge its value now. */
	assert_true(tdpsim_stat_is_gauge(TDPSIM_STAT_PT_LIVE));
	assert_false(tdpsim_stat_is_gauge(TDPSIM_STAT_PT_ALLOC));
	assert_int_equal(tdpsim_snapshot_delta(&now, &mark, TDPSIM_STAT_PT_LIVE), 6);
	/* No mark: since the start. */
	assert_int_equal(tdpsim_snapshot_delta(&now, NULL, TDPSIM_STAT_SPLIT_2M), 515);
}

static void test_stats_errno_names(void **state)
{
	(void)state;
	assert_string_equal(tdpsim_errno_name(-EEXIST), "EEXIST");
	assert_int_equal(tdpsim_errno_from_name("EHWPOISON"), -EHWPOISON);
	assert_int_equal(tdpsim_errno_from_name("ENOPE"), 0);
	assert_null(tdpsim_errno_name(-12345));
	assert_string_equal(tdpsim_strerror(0), "success");
	assert_string_equal(tdpsim_strerror(-ENOMEM), "out of memory");
	assert_string_equal(tdpsim_strerror(-12345), "unknown error");
	assert_string_equal(tdpsim_level_name(TDPSIM_LEVEL_2M), "2M");
	assert_string_equal(tdpsim_level_name(7), "?");
}

/* Counts from several threads land in different shards; reads sum them. */
static void *count_thread(void *arg)
{
	struct tdpsim_counters *c = arg;

	for (int i = 0; i < 100000; i++) {
		counter_inc(c, TDPSIM_STAT_FAULT);
		counter_add(c, TDPSIM_STAT_PT_LIVE, 2);
		counter_sub(c, TDPSIM_STAT_PT_LIVE, 1);
	}
	return NULL;
}

static void test_stats_sharded_threads(void **state)
{
	static struct tdpsim_counters c;
	pthread_t t[4];

	(void)state;
	counters_init(&c);
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, count_thread, &c), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(tdpsim_counters_get(&c, TDPSIM_STAT_FAULT), 400000);
	/* A gauge decremented on another shard than it was raised on still sums. */
	counter_sub(&c, TDPSIM_STAT_PT_LIVE, 400000);
	assert_int_equal(tdpsim_counters_get(&c, TDPSIM_STAT_PT_LIVE), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stats_names_roundtrip),
		cmocka_unit_test(test_stats_spec_names_exist),
		cmocka_unit_test(test_stats_snapshot_delta),
		cmocka_unit_test(test_stats_errno_names),
		cmocka_unit_test(test_stats_sharded_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
