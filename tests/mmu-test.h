/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mmu-test.h - helpers shared by the TDP MMU tests: VM set-up, assertions
 * that print tdpsim_strerror(), and walk summaries.
 */
#ifndef TDPSIM_MMU_TEST_H
#define TDPSIM_MMU_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <tdpsim/tdpsim.h>

#include "kvm.h"

#define assert_tdp_ok(expr)						\
	do {								\
		int __r = (expr);					\
		if (__r)						\
			fail_msg("%s = %d (%s)", #expr, __r,		\
				 tdpsim_strerror(__r));			\
	} while (0)

#define stat(vm, name) tdpsim_counters_get(tdpsim_vm_counters(vm), TDPSIM_STAT_##name)

static inline struct tdpsim_vm *test_vm(enum tdpsim_vm_type type, unsigned int levels,
					unsigned int vcpus)
{
	struct tdpsim_vm_config cfg;
	struct tdpsim_vm *vm = NULL;

	tdpsim_vm_config_init(&cfg);
	cfg.type = type;
	cfg.levels = levels;
	cfg.nr_vcpus = vcpus;
	assert_tdp_ok(tdpsim_vm_create(&cfg, &vm));
	return vm;
}

static inline void test_slot(struct tdpsim_vm *vm, uint32_t id, tdpsim_gfn_t gfn,
			     uint64_t npages, int host_level)
{
	struct tdpsim_memslot_config cfg;

	tdpsim_memslot_config_init(&cfg);
	cfg.id = id;
	cfg.base_gfn = gfn;
	cfg.npages = npages;
	cfg.host_page_level = host_level;
	assert_tdp_ok(tdpsim_memslot_create(vm, &cfg));
}

/* Fault @gfn (write, default kind) on vCPU 0; return the mapped level. */
static inline int test_fault(struct tdpsim_vm *vm, tdpsim_gfn_t gfn)
{
	struct tdpsim_fault_result res;

	assert_tdp_ok(tdpsim_vcpu_fault(tdpsim_vm_get_vcpu(vm, 0), gfn,
					TDPSIM_FAULT_DEFAULT, TDPSIM_ACCESS_WRITE,
					&res));
	assert_int_equal(res.outcome, TDPSIM_FAULT_OK);
	return res.level;
}

/* Level of the leaf mapping @gfn in the direct root, 0 if none. */
static inline int test_mapped_level(struct tdpsim_vm *vm, tdpsim_gfn_t gfn)
{
	struct tdpsim_spte_info info;

	if (tdpsim_vm_lookup_leaf(vm, TDPSIM_ROOT_DIRECT, gfn, &info))
		return 0;
	return info.level;
}

/* A walk summary: a hash of (gfn, level, spte-without-table-address). */
struct walk_sum {
	uint64_t entries;		/* non-empty entries */
	uint64_t leaves[4];		/* present leaves per level */
	uint64_t tables;		/* present non-leaf entries */
	uint64_t hash;			/* order-sensitive hash */
};

static inline int walk_sum_fn(void *opaque, const struct tdpsim_spte_info *e)
{
	struct walk_sum *s = opaque;
	uint64_t v = e->spte;
	bool present = v & (1ULL << 11);
	bool leaf = present && (e->level == 1 || (v & (1ULL << 7)));

	s->entries++;
	if (leaf)
		s->leaves[e->level]++;
	else if (present)
		s->tables++;
	/* Non-leaf SPTEs hold table addresses, which differ between runs. */
	if (present && !leaf)
		v &= ~0x000ffffffffff000ULL;
	s->hash = (s->hash ^ e->gfn ^ ((uint64_t)e->level << 56)) * 0x100000001b3ULL;
	s->hash = (s->hash ^ v) * 0x100000001b3ULL;
	return 0;
}

static inline struct walk_sum test_walk(struct tdpsim_vm *vm)
{
	struct walk_sum s = { 0 };

	assert_tdp_ok(tdpsim_vm_walk_sptes(vm, TDPSIM_ROOT_DIRECT, 0, ~0ULL,
					   walk_sum_fn, &s));
	return s;
}

#ifdef TDPSIM_TSAN
/*
 * liburcu is not built with ThreadSanitizer: its own futex/membarrier
 * synchronization (call_rcu worker, rcu_barrier completion) is invisible
 * to TSan. tdpsim's uses of it are annotated in lib/rcu.h.
 */
const char *__tsan_default_suppressions(void);
const char *__tsan_default_suppressions(void)
{
	return "called_from_lib:liburcu-memb.so\n"
	       "called_from_lib:liburcu-common.so\n"
	       "race:liburcu-memb.so\n";
}
#endif

/* Each test binary registers its main thread with RCU. */
#define TEST_MAIN(tests)						\
	int main(void)							\
	{								\
		int r;							\
		tdpsim_thread_register();				\
		r = cmocka_run_group_tests(tests, NULL, NULL);		\
		tdpsim_thread_unregister();				\
		return r;						\
	}

#endif /* TDPSIM_MMU_TEST_H */
