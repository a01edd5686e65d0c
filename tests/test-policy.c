/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Policies: defaults, every key both ways, bad keys and values (lib/policy.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "policy.h"

static void test_policy_defaults_are_first_values(void **state)
{
	struct tdpsim_policy p;

	(void)state;
	policy_init(&p);
	assert_int_equal(p.split_boundary, SPLIT_BOUNDARY_HEADTAIL);
	assert_false(p.inhibit_lock_read);
	assert_false(p.tdx_huge);
	assert_false(p.tdx_dpamt);
	assert_int_equal(p.split_cache, SPLIT_CACHE_PER_VM);
	assert_true(p.eager_split);
	assert_int_equal(p.fault_retries, 1000);
}

static void test_policy_every_key_both_ways(void **state)
{
	struct tdpsim_policy p;

	(void)state;
	policy_init(&p);
	assert_int_equal(policy_set(&p, "split.boundary", "walk"), 0);
	assert_int_equal(p.split_boundary, SPLIT_BOUNDARY_WALK);
	assert_int_equal(policy_set(&p, "split.boundary", "none"), 0);
	assert_int_equal(p.split_boundary, SPLIT_BOUNDARY_NONE);
	assert_int_equal(policy_set(&p, "split.boundary", "headtail"), 0);
	assert_int_equal(p.split_boundary, SPLIT_BOUNDARY_HEADTAIL);
	assert_int_equal(policy_set(&p, "lpage.inhibit-lock", "read"), 0);
	assert_true(p.inhibit_lock_read);
	assert_int_equal(policy_set(&p, "lpage.inhibit-lock", "write"), 0);
	assert_false(p.inhibit_lock_read);
	assert_int_equal(policy_set(&p, "tdx.huge", "on"), 0);
	assert_true(p.tdx_huge);
	assert_int_equal(policy_set(&p, "tdx.dpamt", "on"), 0);
	assert_true(p.tdx_dpamt);
	assert_int_equal(policy_set(&p, "tdx.split-cache", "per-vcpu"), 0);
	assert_int_equal(p.split_cache, SPLIT_CACHE_PER_VCPU);
	assert_int_equal(policy_set(&p, "mmu.eager-split", "off"), 0);
	assert_false(p.eager_split);
	assert_int_equal(policy_set(&p, "mmu.eager-split", "on"), 0);
	assert_true(p.eager_split);
	assert_int_equal(policy_set(&p, "mmu.fault-retries", "0x10"), 0);
	assert_int_equal(p.fault_retries, 16);
}

static void test_policy_rejects_bad_input(void **state)
{
	struct tdpsim_policy p;

	(void)state;
	policy_init(&p);
	assert_int_equal(policy_set(&p, "split.bondary", "walk"), -ENOENT);
	assert_int_equal(policy_set(&p, "split.boundary", "wal"), -EINVAL);
	assert_int_equal(policy_set(&p, "split.boundary", "walk|none"), -EINVAL);
	assert_int_equal(policy_set(&p, "split.boundary", ""), -EINVAL);
	assert_int_equal(policy_set(&p, "mmu.fault-retries", "0"), -EINVAL);
	assert_int_equal(policy_set(&p, "mmu.fault-retries", "-1"), -EINVAL);
	assert_int_equal(policy_set(&p, "mmu.fault-retries", "12x"), -EINVAL);
	assert_int_equal(policy_set(&p, "mmu.fault-retries", "99999999999999999999"), -EINVAL);
	/* A rejected value leaves the policy as it was. */
	assert_int_equal(p.split_boundary, SPLIT_BOUNDARY_HEADTAIL);
	assert_int_equal(p.fault_retries, 1000);
	assert_string_equal(policy_values("split.boundary"), "headtail|walk|none");
	assert_null(policy_values("nope"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policy_defaults_are_first_values),
		cmocka_unit_test(test_policy_every_key_both_ways),
		cmocka_unit_test(test_policy_rejects_bad_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
