/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tdx-test.h - helpers for the fake TDX Module's tests: a module with
 * counters, a bump allocator of host pages (with Dynamic PAMT, every region
 * a 4K page comes from gets a pair first, as KVM's tdx_pamt_get() does), a
 * TD built the way KVM builds one (tdx-module.md section 5.1), and the
 * KVM call sequences of section 5.
 *
 * Include after <cmocka.h>.
 */
#ifndef TDPSIM_TESTS_TDX_TEST_H
#define TDPSIM_TESTS_TDX_TEST_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <tdpsim/tdx_module.h>

#include "counters.h"

#define SZ_4K		0x1000ULL
#define SZ_2M		0x200000ULL
#define SZ_1G		0x40000000ULL

/* Host memory the tests hand out, far apart so they never collide. */
#define POOL_4K		0x100000000ULL		/* 4 GiB: control, S-EPT, 4K */
#define POOL_2M		0x4000000000ULL		/* 256 GiB: 2M guest pages */
#define POOL_PAIR	0x8000000000ULL		/* 512 GiB: PAMT pairs */

#define TEST_HKID	5
#define MAX_TRACKED	4096

/* Assert a SEAMCALL status, printing both names on mismatch. */
#define assert_status(got, want)                                              \
	do {                                                                  \
		uint64_t __g = (got), __w = (want);                           \
		if (__g != __w) {                                             \
			const char *__gn = tdpsim_tdx_status_name(__g);       \
			const char *__wn = tdpsim_tdx_status_name(__w);       \
			print_error("status %s|%u (0x%llx), want %s|%u (0x%llx)\n", \
				    __gn ? __gn : "?", (unsigned int)(uint32_t)__g, \
				    (unsigned long long)__g, __wn ? __wn : "?", \
				    (unsigned int)(uint32_t)__w,              \
				    (unsigned long long)__w);                 \
			fail();                                               \
		}                                                             \
	} while (0)

#define assert_ok(got) assert_status((got), TDPSIM_TDX_SUCCESS)

struct tdx_env {
	struct tdpsim_tdx_module *m;
	struct tdpsim_counters counters;
	bool dpamt;
	uint64_t next_4k;
	uint64_t next_2m;
	uint64_t next_pair;
	uint64_t pair_region;		/* last 4K-pool region given a pair */
	tdpsim_hpa_t tdr;
	tdpsim_hpa_t tdcs[8];
	tdpsim_hpa_t tdvpr;
	tdpsim_hpa_t tdcx[8];
	/* S-EPT pages added, with the GPA and pg_level of the entry. */
	unsigned int nr_sept;
	struct {
		tdpsim_hpa_t hpa;
		uint64_t gpa;
		int level;
	} sept[MAX_TRACKED];
};

/* Hand out a fresh 4K page; under Dynamic PAMT its region has a pair. */
static inline tdpsim_hpa_t env_page(struct tdx_env *env)
{
	tdpsim_hpa_t hpa = env->next_4k;

	env->next_4k += SZ_4K;
	if (env->dpamt && hpa / SZ_2M != env->pair_region) {
		tdpsim_hpa_t pair[2] = { env->next_pair, env->next_pair + SZ_4K };

		env->next_pair += 2 * SZ_4K;
		assert_ok(tdpsim_tdh_phymem_pamt_add(env->m, hpa & ~(SZ_2M - 1), pair));
		env->pair_region = hpa / SZ_2M;
	}
	return hpa;
}

/* A fresh 4K page in a region with no pair, whatever the PAMT mode. */
static inline tdpsim_hpa_t env_page_nopair(struct tdx_env *env)
{
	tdpsim_hpa_t hpa = env->next_2m;

	env->next_2m += SZ_2M;
	return hpa;
}

/* A fresh, 2M-aligned, 2M page (its region never gets a pair). */
static inline tdpsim_hpa_t env_page_2m(struct tdx_env *env)
{
	tdpsim_hpa_t hpa = env->next_2m;

	env->next_2m += SZ_2M;
	return hpa;
}

/* Two fresh pages for a Dynamic-PAMT pair. */
static inline void env_pair(struct tdx_env *env, tdpsim_hpa_t pair[2])
{
	pair[0] = env->next_pair;
	pair[1] = env->next_pair + SZ_4K;
	env->next_pair += 2 * SZ_4K;
}

static inline struct tdx_env *env_new(const struct tdpsim_tdx_module_config *base)
{
	struct tdpsim_tdx_module_config cfg;
	struct tdx_env *env = calloc(1, sizeof(*env));

	assert_non_null(env);
	if (base)
		cfg = *base;
	else
		tdpsim_tdx_module_config_init(&cfg);
	counters_init(&env->counters);
	cfg.counters = &env->counters;
	env->dpamt = cfg.dynamic_pamt;
	env->next_4k = POOL_4K;
	env->next_2m = POOL_2M;
	env->next_pair = POOL_PAIR;
	env->pair_region = UINT64_MAX;
	assert_int_equal(tdpsim_tdx_module_create(&cfg, &env->m), 0);
	return env;
}

static inline void env_free(struct tdx_env *env)
{
	if (!env)
		return;
	tdpsim_tdx_module_destroy(env->m);
	/* Destroying the module takes its pairs off the gauge. */
	assert_int_equal(tdpsim_counters_get(&env->counters,
					     TDPSIM_STAT_PAMT_PAIRS), 0);
	free(env);
}

static inline uint64_t env_stat(struct tdx_env *env, enum tdpsim_stat stat)
{
	return tdpsim_counters_get(&env->counters, stat);
}

/*
 * env_build_td() - KVM_TDX_INIT_VM and KVM_TDX_INIT_VCPU (section 5.1
 * steps 1 and 2): MNG.CREATE, KEY.CONFIG, MNG.ADDCX, MNG.INIT, VP.CREATE,
 * VP.ADDCX, VP.INIT. The TD is INITIALIZED with one vCPU.
 */
static inline void env_build_td(struct tdx_env *env)
{
	struct tdpsim_tdx_module_config cfg;
	unsigned int i;

	tdpsim_tdx_module_config_init(&cfg);
	env->tdr = env_page(env);
	assert_ok(tdpsim_tdh_mng_create(env->m, env->tdr, TEST_HKID));
	assert_ok(tdpsim_tdh_mng_key_config(env->m, env->tdr));
	for (i = 0; i < cfg.tdcs_pages; i++) {
		env->tdcs[i] = env_page(env);
		assert_ok(tdpsim_tdh_mng_addcx(env->m, env->tdr, env->tdcs[i]));
	}
	assert_ok(tdpsim_tdh_mng_init(env->m, env->tdr, 4, NULL));
	env->tdvpr = env_page(env);
	assert_ok(tdpsim_tdh_vp_create(env->m, env->tdr, env->tdvpr));
	for (i = 0; i + 1 < cfg.tdvps_pages; i++) {
		env->tdcx[i] = env_page(env);
		assert_ok(tdpsim_tdh_vp_addcx(env->m, env->tdvpr, env->tdcx[i]));
	}
	assert_ok(tdpsim_tdh_vp_init(env->m, env->tdvpr, 0));
}

static inline void env_finalize(struct tdx_env *env)
{
	assert_ok(tdpsim_tdh_mr_finalize(env->m, env->tdr));
}

/* The state of the entry at exactly @level for @gpa; FREE if the walk
 * stops above it. */
static inline enum tdpsim_sept_state env_state(struct tdx_env *env, uint64_t gpa,
					       int level)
{
	struct tdpsim_sept_entry_info info;

	assert_int_equal(tdpsim_tdx_sept_lookup(env->m, env->tdr, gpa, level,
						&info), 0);
	if (info.level != level)
		return TDPSIM_SEPT_FREE;
	return info.state;
}

/*
 * env_link() - section 5.4: SEPT.ADD top-down for every missing level
 * above @level (pg_level) at @gpa, each with its own fresh page.
 */
static inline void env_link(struct tdx_env *env, uint64_t gpa, int level)
{
	for (int l = TDPSIM_LEVEL_512G; l > level; l--) {
		uint64_t g = gpa & ~((SZ_4K << (9 * (l - 1))) - 1);
		tdpsim_hpa_t page;

		if (env_state(env, g, l) != TDPSIM_SEPT_FREE)
			continue;
		page = env_page(env);
		assert_ok(tdpsim_tdh_mem_sept_add(env->m, env->tdr, g, l, page,
						  NULL, NULL));
		assert_true(env->nr_sept < MAX_TRACKED);
		env->sept[env->nr_sept].hpa = page;
		env->sept[env->nr_sept].gpa = g;
		env->sept[env->nr_sept].level = l;
		env->nr_sept++;
	}
}

/* Section 5.2: link, then AUG a fresh page at @level; returns the page. */
static inline tdpsim_hpa_t env_aug(struct tdx_env *env, uint64_t gpa, int level)
{
	tdpsim_hpa_t page;

	env_link(env, gpa, level);
	page = level == TDPSIM_LEVEL_2M ? env_page_2m(env) : env_page(env);
	assert_ok(tdpsim_tdh_mem_page_aug(env->m, env->tdr, gpa, level,
					  page >> 12, NULL, NULL));
	return page;
}

/* The guest accepts [gpa, +level) on the vCPU: enter, ACCEPT, exit. */
static inline struct tdpsim_tdx_accept_result env_accept(struct tdx_env *env,
							 uint64_t gpa, int level)
{
	struct tdpsim_tdx_accept_result res;

	assert_ok(tdpsim_tdh_vp_enter(env->m, env->tdvpr));
	assert_int_equal(tdpsim_tdg_mem_page_accept(env->m, env->tdvpr, gpa,
						    level, &res), 0);
	if (!res.exited)
		assert_int_equal(tdpsim_tdx_vp_exit(env->m, env->tdvpr), 0);
	return res;
}

/*
 * env_zap() - section 5.5 with no vCPU in the guest: BLOCK, TRACK, REMOVE,
 * then WBINVD of every 4K page with the TD's HKID.
 */
static inline void env_zap(struct tdx_env *env, uint64_t gpa, int level,
			   tdpsim_hpa_t page)
{
	uint64_t ext1, ext2;

	assert_ok(tdpsim_tdh_mem_range_block(env->m, env->tdr, gpa, level,
					     &ext1, &ext2));
	assert_ok(tdpsim_tdh_mem_track(env->m, env->tdr));
	assert_ok(tdpsim_tdh_mem_page_remove(env->m, env->tdr, gpa, level,
					     &ext1, &ext2));
	assert_int_equal(ext1 & ~(1ULL << 62), page);
	for (uint64_t off = 0; off < (SZ_4K << (9 * (level - 1))); off += SZ_4K)
		assert_ok(tdpsim_tdh_phymem_page_wbinvd_hkid(env->m, TEST_HKID,
							     page + off));
}

/*
 * env_teardown() - section 5.10 after the private leaves are gone:
 * VP.FLUSH, VPFLUSHDONE, CACHE.WB, KEY.FREEID, RECLAIM of the vCPU's TDCX
 * and TDVPR, of the S-EPT pages (in any order: here the order they were
 * added, parents first), of the TDCS pages, then of the TDR, and WBINVD of
 * the TDR with the global key.
 */
static inline void env_teardown(struct tdx_env *env)
{
	struct tdpsim_tdx_module_config cfg;
	uint64_t type, owner, size;
	struct tdpsim_tdx_vcpu_info vi;
	unsigned int i;

	tdpsim_tdx_module_config_init(&cfg);
	assert_int_equal(tdpsim_tdx_vcpu_info(env->m, env->tdvpr, &vi), 0);
	if (vi.associated)
		assert_ok(tdpsim_tdh_vp_flush(env->m, env->tdvpr));
	assert_ok(tdpsim_tdh_mng_vpflushdone(env->m, env->tdr));
	assert_ok(tdpsim_tdh_phymem_cache_wb(env->m, false));
	assert_ok(tdpsim_tdh_mng_key_freeid(env->m, env->tdr));
	assert_false(tdpsim_tdx_hkid_assigned(env->m, env->tdr));
	for (i = 0; i + 1 < cfg.tdvps_pages; i++) {
		assert_ok(tdpsim_tdh_phymem_page_reclaim(env->m, env->tdcx[i],
							 &type, &owner, &size));
		assert_int_equal(type, TDPSIM_PT_TDCX);
		assert_int_equal(owner, env->tdr);
	}
	assert_ok(tdpsim_tdh_phymem_page_reclaim(env->m, env->tdvpr, &type,
						 NULL, NULL));
	assert_int_equal(type, TDPSIM_PT_TDVPR);
	for (i = 0; i < env->nr_sept; i++) {
		assert_ok(tdpsim_tdh_phymem_page_reclaim(env->m, env->sept[i].hpa,
							 &type, NULL, &size));
		assert_int_equal(type, TDPSIM_PT_EPT);
		assert_int_equal(size, 0);
	}
	env->nr_sept = 0;
	for (i = 0; i < cfg.tdcs_pages; i++)
		assert_ok(tdpsim_tdh_phymem_page_reclaim(env->m, env->tdcs[i],
							 NULL, NULL, NULL));
	assert_ok(tdpsim_tdh_phymem_page_reclaim(env->m, env->tdr, &type, &owner,
						 NULL));
	assert_int_equal(type, TDPSIM_PT_TDR);
	assert_ok(tdpsim_tdh_phymem_page_wbinvd_tdr(env->m, env->tdr));
	assert_int_equal(tdpsim_tdx_nr_tds(env->m), 0);
}

/* Remove every Dynamic-PAMT pair (KVM's tdxm_pamt_put() reaching 0). */
static int env_collect_pair(void *opaque,
			    const struct tdpsim_tdx_pamt_region_info *r)
{
	uint64_t *list = opaque;

	if (r->pair && list[0] < 255)
		list[++list[0]] = r->base;
	return 0;
}

static inline void env_remove_pairs(struct tdx_env *env)
{
	uint64_t list[256];

	do {
		list[0] = 0;
		assert_int_equal(tdpsim_tdx_pamt_for_each_region(env->m,
								 env_collect_pair,
								 list), 0);
		for (uint64_t i = 1; i <= list[0]; i++)
			assert_ok(tdpsim_tdh_phymem_pamt_remove(env->m, list[i],
								NULL));
	} while (list[0]);
	assert_int_equal(tdpsim_tdx_pamt_pairs(env->m), 0);
}

#endif /* TDPSIM_TESTS_TDX_TEST_H */
