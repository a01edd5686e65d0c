/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * check-test.h - helpers for the checker's tests: a VM with a checker whose
 * violations are recorded, assertions on what was reported, and shortcuts
 * for driving the checker's observer with synthetic transitions.
 */
#ifndef TDPSIM_CHECK_TEST_H
#define TDPSIM_CHECK_TEST_H

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

#include <tdpsim/tdpsim.h>

#include "testhooks.h"

#define CT_MAX 256

/* A VM, its checker and what the checker reported. */
struct ct {
	struct tdpsim_vm *vm;
	struct tdpsim_checker *c;
	pthread_mutex_t lock;		/* reports may come from any thread */
	unsigned int nr;		/* violations recorded (capped) */
	unsigned int total;		/* violations reported */
	struct {
		char id[32];
		char what[384];
		bool transition;
	} v[CT_MAX];
	/* SPTEs poked by ct_poke(), restored by ct_unpoke()/ct_free() so a
	 * failed assertion does not leave the model broken at teardown. */
	struct {
		const void *table;
		unsigned int index;
		uint64_t old;
	} pokes[16];
	unsigned int nr_pokes;
};

#define assert_tdp_ok(expr)						\
	do {								\
		int __r = (expr);					\
		if (__r)						\
			fail_msg("%s = %d (%s)", #expr, __r,		\
				 tdpsim_strerror(__r));			\
	} while (0)

static inline void ct_on_violation(void *opaque, const struct tdpsim_violation *v)
{
	struct ct *x = opaque;

	pthread_mutex_lock(&x->lock);
	if (x->nr < CT_MAX) {
		snprintf(x->v[x->nr].id, sizeof(x->v[x->nr].id), "%s", v->id);
		snprintf(x->v[x->nr].what, sizeof(x->v[x->nr].what), "%s", v->what);
		x->v[x->nr].transition = v->transition;
		x->nr++;
	}
	x->total++;
	pthread_mutex_unlock(&x->lock);
}

static inline void ct_reset(struct ct *x)
{
	pthread_mutex_lock(&x->lock);
	x->nr = 0;
	x->total = 0;
	pthread_mutex_unlock(&x->lock);
}

static inline void ct_dump(const struct ct *x)
{
	for (unsigned int i = 0; i < x->nr; i++)
		print_message("  violation %s%s: %s\n", x->v[i].id,
			      x->v[i].transition ? " (transition)" : "", x->v[i].what);
}

/* A report of @id whose text contains @text, or NULL. */
static inline const char *ct_find(const struct ct *x, const char *id, const char *text)
{
	for (unsigned int i = 0; i < x->nr; i++) {
		if (!strcmp(x->v[i].id, id) && strstr(x->v[i].what, text))
			return x->v[i].what;
	}
	return NULL;
}

#define assert_reported_text(x, id, text)				\
	do {								\
		if (!ct_find((x), (id), (text))) {			\
			ct_dump(x);					\
			fail_msg("no '%s' report saying '%s'", (id), (text)); \
		}							\
	} while (0)

/* How many times @id was reported since the last reset. */
static inline unsigned int ct_count(const struct ct *x, const char *id)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < x->nr; i++)
		n += !strcmp(x->v[i].id, id);
	return n;
}

/* The first report of @id, or NULL. */
static inline const char *ct_what(const struct ct *x, const char *id)
{
	for (unsigned int i = 0; i < x->nr; i++) {
		if (!strcmp(x->v[i].id, id))
			return x->v[i].what;
	}
	return NULL;
}

#define assert_reported(x, id)						\
	do {								\
		if (!ct_count((x), (id))) {				\
			ct_dump(x);					\
			fail_msg("invariant '%s' was not reported", (id)); \
		}							\
	} while (0)

#define assert_not_reported(x, id)					\
	do {								\
		if (ct_count((x), (id))) {				\
			ct_dump(x);					\
			fail_msg("invariant '%s' was reported", (id));	\
		}							\
	} while (0)

#define assert_clean(x)							\
	do {								\
		if ((x)->total) {					\
			ct_dump(x);					\
			fail_msg("%u unexpected violations", (x)->total); \
		}							\
	} while (0)

/* Run a full check; it must find nothing, and nothing may be pending. */
#define assert_check_all_clean(x)					\
	do {								\
		int __n = tdpsim_checker_check_all((x)->c);		\
		assert_clean(x);					\
		assert_int_equal(__n, 0);				\
	} while (0)

#define assert_check_touched_clean(x)					\
	do {								\
		int __n = tdpsim_checker_check_touched((x)->c);		\
		assert_clean(x);					\
		assert_int_equal(__n, 0);				\
	} while (0)

static inline struct ct *ct_new(enum tdpsim_vm_type type, unsigned int levels,
				unsigned int vcpus)
{
	struct tdpsim_vm_config cfg;
	struct ct *x = calloc(1, sizeof(*x));

	assert_non_null(x);
	pthread_mutex_init(&x->lock, NULL);
	tdpsim_vm_config_init(&cfg);
	cfg.type = type;
	cfg.levels = levels;
	cfg.nr_vcpus = vcpus;
	assert_tdp_ok(tdpsim_vm_create(&cfg, &x->vm));
	assert_tdp_ok(tdpsim_checker_create(x->vm, ct_on_violation, x, &x->c));
	return x;
}

/* Poke an SPTE (testhook_spte_poke()), remembering what to put back. */
static inline uint64_t ct_poke(struct ct *x, const void *table, unsigned int index,
			       uint64_t value)
{
	uint64_t old = testhook_spte_poke(table, index, value);

	assert_true(x->nr_pokes < 16);
	x->pokes[x->nr_pokes].table = table;
	x->pokes[x->nr_pokes].index = index;
	x->pokes[x->nr_pokes].old = old;
	x->nr_pokes++;
	return old;
}

/* Put back every poked SPTE, newest first. */
static inline void ct_unpoke(struct ct *x)
{
	while (x->nr_pokes) {
		x->nr_pokes--;
		testhook_spte_poke(x->pokes[x->nr_pokes].table,
				   x->pokes[x->nr_pokes].index,
				   x->pokes[x->nr_pokes].old);
	}
}

static inline void ct_free(struct ct *x)
{
	if (!x)
		return;
	ct_unpoke(x);
	tdpsim_checker_destroy(x->c);
	tdpsim_vm_destroy(x->vm);
	pthread_mutex_destroy(&x->lock);
	free(x);
}

static inline void ct_slot(struct ct *x, uint32_t id, tdpsim_gfn_t gfn,
			   uint64_t npages, int host_level)
{
	struct tdpsim_memslot_config cfg;

	tdpsim_memslot_config_init(&cfg);
	cfg.id = id;
	cfg.base_gfn = gfn;
	cfg.npages = npages;
	cfg.host_page_level = host_level;
	assert_tdp_ok(tdpsim_memslot_create(x->vm, &cfg));
}

/* A fault on vCPU @vcpu; returns the level mapped (0 if none). */
static inline int ct_fault_on(struct ct *x, unsigned int vcpu, tdpsim_gfn_t gfn,
			      enum tdpsim_access access)
{
	struct tdpsim_fault_result res;

	assert_tdp_ok(tdpsim_vcpu_fault(tdpsim_vm_get_vcpu(x->vm, vcpu), gfn,
					TDPSIM_FAULT_DEFAULT, access, &res));
	return res.outcome == TDPSIM_FAULT_OK ? res.level : 0;
}

static inline int ct_fault(struct ct *x, tdpsim_gfn_t gfn)
{
	return ct_fault_on(x, 0, gfn, TDPSIM_ACCESS_WRITE);
}

/* The leaf mapping @gfn in the direct root. */
static inline struct tdpsim_spte_info ct_leaf(struct ct *x, tdpsim_gfn_t gfn)
{
	struct tdpsim_spte_info e;

	assert_tdp_ok(tdpsim_vm_lookup_leaf(x->vm, TDPSIM_ROOT_DIRECT, gfn, &e));
	return e;
}

/* ---- synthetic transitions through the checker's own observer ---- */

static inline const struct tdpsim_observer *ct_obs(struct ct *x, void **ret_op)
{
	return testhook_checker_observer(x->c, ret_op);
}

static inline void ct_lock(struct ct *x, enum tdpsim_lock_mode mode, bool acquire)
{
	void *op;
	const struct tdpsim_observer *o = ct_obs(x, &op);

	o->mmu_lock(op, mode, acquire);
}

static inline void ct_change(struct ct *x, const struct tdpsim_spte_info *e,
			     uint64_t old_spte, uint64_t new_spte, bool atomic,
			     enum tdpsim_lock_mode lock)
{
	struct tdpsim_spte_change ch = {
		.role = e->role,
		.gfn = e->gfn,
		.level = e->level,
		.old_spte = old_spte,
		.new_spte = new_spte,
		.table = e->table,
		.index = e->index,
		.atomic = atomic,
		.lock = lock,
	};
	void *op;
	const struct tdpsim_observer *o = ct_obs(x, &op);

	o->spte_changed(op, &ch);
}

/* SPTE bits, written out here so the tests do not share the checker's. */
#define CT_SPTE_EMPTY		(1ULL << 63)
#define CT_SPTE_FROZEN		0x80000000000005a0ULL
#define CT_SPTE_W		(1ULL << 1)
#define CT_SPTE_HUGE		(1ULL << 7)
#define CT_SPTE_MMU_WRITABLE	(1ULL << 58)
#define CT_SPTE_PFN(pfn)	((uint64_t)(pfn) << 12)

#endif /* TDPSIM_CHECK_TEST_H */
