/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The fake TDX Module (lib/tdx_*.c): KVM's call sequences of
 * tdx-module.md section 5 succeed; each module rule refuses a deliberately
 * broken sequence with the status and operand the real module gives;
 * injection, contention, Dynamic PAMT, the failure log, counters,
 * inspection and sparseness. The state x leaf table has its own test
 * (test-tdx-sept-table.c), threads theirs (test-tdx-threads.c).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tdx.h"
#include "tdx-test.h"

#define GPA_A		0x0ULL
#define GPA_B		0x200000ULL
#define GPA_2M		0x40000000ULL	/* 1 GiB: a 2M mapping */

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

/* A runnable TD with one vCPU; @dpamt selects Dynamic PAMT. */
static struct tdx_env *runnable(void **state, bool dpamt)
{
	struct tdpsim_tdx_module_config cfg;
	struct tdx_env *env;

	tdpsim_tdx_module_config_init(&cfg);
	cfg.dynamic_pamt = dpamt;
	env = env_new(&cfg);
	*state = env;
	env_build_td(env);
	env_finalize(env);
	return env;
}

static struct tdx_env *initialized(void **state, bool dpamt)
{
	struct tdpsim_tdx_module_config cfg;
	struct tdx_env *env;

	tdpsim_tdx_module_config_init(&cfg);
	cfg.dynamic_pamt = dpamt;
	env = env_new(&cfg);
	*state = env;
	env_build_td(env);
	return env;
}

/* ---- KVM's sequences (section 5) succeed ---- */

/* 5.1: build, SEPT.ADD top-down, PAGE.ADD, MR.EXTEND, finalize. */
static void test_tdx_build_and_finalize(void **state)
{
	struct tdx_env *env = initialized(state, false);
	struct tdpsim_tdx_td_info info;
	struct tdpsim_sept_entry_info e;
	tdpsim_hpa_t pages[4];

	assert_int_equal(tdpsim_tdx_td_info(env->m, env->tdr, &info), 0);
	assert_int_equal(info.op_state, TDPSIM_TD_OP_INITIALIZED);
	assert_int_equal(info.lifecycle, TDPSIM_TD_KEYS_CONFIGURED);
	assert_true(info.hkid_assigned);
	assert_int_equal(info.hkid, TEST_HKID);
	assert_int_equal(info.epoch, 1);
	assert_int_equal(info.sept_levels, 4);
	/* 4 TDCS + TDVPR + 3 TDCX */
	assert_int_equal(info.child_count, 8);

	env_link(env, GPA_A, TDPSIM_LEVEL_4K);
	assert_int_equal(env->nr_sept, 3);
	assert_int_equal(env_state(env, GPA_A, TDPSIM_LEVEL_512G), TDPSIM_SEPT_NL_MAPPED);
	assert_int_equal(env_state(env, GPA_A, TDPSIM_LEVEL_1G), TDPSIM_SEPT_NL_MAPPED);
	assert_int_equal(env_state(env, GPA_A, TDPSIM_LEVEL_2M), TDPSIM_SEPT_NL_MAPPED);
	for (int i = 0; i < 4; i++) {
		pages[i] = env_page(env);
		assert_ok(tdpsim_tdh_mem_page_add(env->m, env->tdr, GPA_A + i * SZ_4K,
						  pages[i] >> 12, 0x1000, NULL, NULL));
		assert_ok(tdpsim_tdh_mr_extend(env->m, env->tdr,
					       GPA_A + i * SZ_4K + 256, NULL, NULL));
	}
	assert_int_equal(tdpsim_tdx_sept_lookup(env->m, env->tdr, GPA_A + SZ_4K,
						TDPSIM_LEVEL_4K, &e), 0);
	assert_int_equal(e.state, TDPSIM_SEPT_MAPPED);
	assert_int_equal(e.level, TDPSIM_LEVEL_4K);
	assert_int_equal(e.hpa, pages[1]);
	assert_int_equal(e.gpa, GPA_A + SZ_4K);

	env_finalize(env);
	assert_int_equal(tdpsim_tdx_td_info(env->m, env->tdr, &info), 0);
	assert_int_equal(info.op_state, TDPSIM_TD_OP_RUNNABLE);
	assert_int_equal(info.child_count, 8 + 3 + 4);
	assert_int_equal(info.nr_sept_pages, 3);
	assert_int_equal(env_stat(env, TDPSIM_STAT_SEAMCALL_PAGE_ADD), 4);
	assert_int_equal(env_stat(env, TDPSIM_STAT_SEAMCALL_SEPT_ADD), 3);
	assert_int_equal(env_stat(env, TDPSIM_STAT_SEAMCALL_MR_FINALIZE), 1);
	assert_int_equal(tdpsim_tdx_failure_count(env->m), 0);
}

/* 5.2 + 5.8: runtime AUG, guest ACCEPT, then ALREADY_ACCEPTED. */
static void test_tdx_runtime_aug_accept(void **state)
{
	struct tdx_env *env = runnable(state, false);
	struct tdpsim_tdx_accept_result res;
	struct tdpsim_tdx_page_info pi;
	tdpsim_hpa_t page;

	page = env_aug(env, GPA_B, TDPSIM_LEVEL_4K);
	assert_int_equal(env_state(env, GPA_B, TDPSIM_LEVEL_4K), TDPSIM_SEPT_PENDING);
	assert_int_equal(tdpsim_tdx_page_info(env->m, page, &pi), 0);
	assert_int_equal(pi.type, TDPSIM_PT_REG);
	assert_int_equal(pi.owner, env->tdr);
	assert_int_equal(pi.level, TDPSIM_LEVEL_4K);

	res = env_accept(env, GPA_B, TDPSIM_LEVEL_4K);
	assert_false(res.exited);
	assert_ok(res.status);
	assert_int_equal(env_state(env, GPA_B, TDPSIM_LEVEL_4K), TDPSIM_SEPT_MAPPED);

	res = env_accept(env, GPA_B, TDPSIM_LEVEL_4K);
	assert_status(res.status, TDPSIM_TDX_PAGE_ALREADY_ACCEPTED | 0);
	assert_int_equal(env_stat(env, TDPSIM_STAT_SEAMCALL_PAGE_AUG), 1);
	assert_int_equal(env_stat(env, TDPSIM_STAT_SEAMCALL_BUSY), 0);
}

/* 5.5: BLOCK, TRACK, REMOVE, WBINVD; the page is free and clean. */
static void test_tdx_zap_4k(void **state)
{
	struct tdx_env *env = runnable(state, false);
	struct tdpsim_tdx_page_info pi;
	struct tdpsim_tdx_td_info info;
	uint64_t before;
	tdpsim_hpa_t page;

	page = env_aug(env, GPA_B, TDPSIM_LEVEL_4K);
	env_accept(env, GPA_B, TDPSIM_LEVEL_4K);
	assert_int_equal(tdpsim_tdx_td_info(env->m, env->tdr, &info), 0);
	before = info.child_count;

	env_zap(env, GPA_B, TDPSIM_LEVEL_4K, page);
	assert_int_equal(env_state(env, GPA_B, TDPSIM_LEVEL_4K), TDPSIM_SEPT_FREE);
	assert_int_equal(tdpsim_tdx_page_info(env->m, page, &pi), 0);
	assert_int_equal(pi.type, TDPSIM_PT_NDA);
	assert_false(pi.cache_dirty);
	assert_int_equal(tdpsim_tdx_dirty_pages(env->m), 0);
	assert_int_equal(tdpsim_tdx_td_info(env->m, env->tdr, &info), 0);
	assert_int_equal(info.child_count, before - 1);
	assert_int_equal(info.epoch, 2);
	assert_int_equal(env_stat(env, TDPSIM_STAT_SEAMCALL_RANGE_BLOCK), 1);
	assert_int_equal(env_stat(env, TDPSIM_STAT_SEAMCALL_MEM_TRACK), 1);
	assert_int_equal(env_stat(env, TDPSIM_STAT_SEAMCALL_PAGE_REMOVE), 1);
	assert_int_equal(env_stat(env, TDPSIM_STAT_SEAMCALL_PAGE_WBINVD), 1);
	assert_int_equal(tdpsim_tdx_failure_count(env->m), 0);

	/* The freed page can be given to the TD again. */
	assert_ok(tdpsim_tdh_mem_page_aug(env->m, env->tdr, GPA_B, TDPSIM_LEVEL_4K,
					  page >> 12, NULL, NULL));
}

/* 5.7 under static PAMT: BLOCK, TRACK, DEMOTE of an accepted 2M page. */
static void test_tdx_split_2m(void **state)
{
	struct tdx_env *env = runnable(state, false);
	struct tdpsim_sept_entry_info e;
	struct tdpsim_tdx_page_info pi;
	struct tdpsim_tdx_td_info info;
	tdpsim_hpa_t page, sept;
	uint64_t before;

	page = env_aug(env, GPA_2M, TDPSIM_LEVEL_2M);
	assert_int_equal(env_accept(env, GPA_2M, TDPSIM_LEVEL_2M).status, 0);
	assert_int_equal(tdpsim_tdx_page_info(env->m, page + 5 * SZ_4K, &pi), 0);
	assert_int_equal(pi.level, TDPSIM_LEVEL_2M);
	assert_int_equal(tdpsim_tdx_td_info(env->m, env->tdr, &info), 0);
	before = info.child_count;

	sept = env_page(env);
	assert_ok(tdpsim_tdh_mem_range_block(env->m, env->tdr, GPA_2M,
					     TDPSIM_LEVEL_2M, NULL, NULL));
	assert_ok(tdpsim_tdh_mem_track(env->m, env->tdr));
	assert_ok(tdpsim_tdh_mem_page_demote(env->m, env->tdr, GPA_2M,
					     TDPSIM_LEVEL_2M, sept, NULL, NULL,
					     NULL));
	assert_int_equal(env_state(env, GPA_2M, TDPSIM_LEVEL_2M), TDPSIM_SEPT_NL_MAPPED);
	for (int i = 0; i < 512; i += 73) {
		assert_int_equal(tdpsim_tdx_sept_lookup(env->m, env->tdr,
							GPA_2M + i * SZ_4K,
							TDPSIM_LEVEL_4K, &e), 0);
		assert_int_equal(e.level, TDPSIM_LEVEL_4K);
		assert_int_equal(e.state, TDPSIM_SEPT_MAPPED);
		assert_int_equal(e.hpa, page + i * SZ_4K);
	}
	assert_int_equal(tdpsim_tdx_page_info(env->m, page + 5 * SZ_4K, &pi), 0);
	assert_int_equal(pi.level, TDPSIM_LEVEL_4K);
	assert_int_equal(pi.type, TDPSIM_PT_REG);
	assert_int_equal(tdpsim_tdx_page_info(env->m, sept, &pi), 0);
	assert_int_equal(pi.type, TDPSIM_PT_EPT);
	assert_int_equal(tdpsim_tdx_td_info(env->m, env->tdr, &info), 0);
	assert_int_equal(info.child_count, before + 1);
	assert_int_equal(env_stat(env, TDPSIM_STAT_SEAMCALL_PAGE_DEMOTE), 1);

	/* Now 4K pieces can be zapped one by one (section 5.9). */
	env_zap(env, GPA_2M + 7 * SZ_4K, TDPSIM_LEVEL_4K, page + 7 * SZ_4K);
	assert_int_equal(env_state(env, GPA_2M + 8 * SZ_4K, TDPSIM_LEVEL_4K),
			 TDPSIM_SEPT_MAPPED);
	/* No UNBLOCK after DEMOTE: the children are not blocked. */
	assert_status(tdpsim_tdh_mem_range_unblock(env->m, env->tdr,
						   GPA_2M + 8 * SZ_4K,
						   TDPSIM_LEVEL_4K, NULL, NULL),
		      TDPSIM_TDX_EPT_ENTRY_STATE_INCORRECT | 1);
}

/* 5.7 under Dynamic PAMT: DEMOTE installs the pair it is given. */
static void test_tdx_split_2m_dpamt(void **state)
{
	struct tdx_env *env = runnable(state, true);
	struct tdpsim_tdx_pamt_region_info r;
	tdpsim_hpa_t page, sept, pair[2];
	uint64_t pairs;

	page = env_aug(env, GPA_2M, TDPSIM_LEVEL_2M);
	assert_int_equal(tdpsim_tdx_pamt_region(env->m, page, &r), 0);
	assert_true(r.mapped_2m);
	assert_false(r.pair);
	pairs = tdpsim_tdx_pamt_pairs(env->m);
	assert_int_equal(env_stat(env, TDPSIM_STAT_PAMT_PAIRS), pairs);

	sept = env_page(env);
	env_pair(env, pair);
	assert_ok(tdpsim_tdh_mem_range_block(env->m, env->tdr, GPA_2M,
					     TDPSIM_LEVEL_2M, NULL, NULL));
	assert_ok(tdpsim_tdh_mem_track(env->m, env->tdr));
	assert_ok(tdpsim_tdh_mem_page_demote(env->m, env->tdr, GPA_2M,
					     TDPSIM_LEVEL_2M, sept, pair, NULL,
					     NULL));
	assert_int_equal(env_state(env, GPA_2M + SZ_4K, TDPSIM_LEVEL_4K),
			 TDPSIM_SEPT_PENDING);
	assert_int_equal(tdpsim_tdx_pamt_region(env->m, page, &r), 0);
	assert_false(r.mapped_2m);
	assert_true(r.pair);
	assert_int_equal(r.pair_hpa[0], pair[0]);
	assert_int_equal(r.users, 512);
	assert_int_equal(tdpsim_tdx_pamt_pairs(env->m), pairs + 1);
	assert_int_equal(env_stat(env, TDPSIM_STAT_PAMT_PAIRS), pairs + 1);
	/* A pair page's own region has no pair: not for the TD either. */
	assert_status(tdpsim_tdh_mem_sept_add(env->m, env->tdr, 0x80000000ULL,
					      TDPSIM_LEVEL_1G, pair[1], NULL, NULL),
		      TDPSIM_TDX_MISSING_PAMT_PAGE_PAIR | 8);
}

/* 5.10: every page reclaimed, the TD gone, no pair and no object left. */
static void do_teardown(void **state, bool dpamt)
{
	struct tdx_env *env = runnable(state, dpamt);
	tdpsim_hpa_t p4k, p2m;

	p4k = env_aug(env, GPA_B, TDPSIM_LEVEL_4K);
	env_accept(env, GPA_B, TDPSIM_LEVEL_4K);
	p2m = env_aug(env, GPA_2M, TDPSIM_LEVEL_2M);
	/* 5.10 step 1: private leaves go while the HKID is assigned. */
	env_zap(env, GPA_B, TDPSIM_LEVEL_4K, p4k);
	env_zap(env, GPA_2M, TDPSIM_LEVEL_2M, p2m);
	assert_int_equal(tdpsim_tdx_dirty_pages(env->m), 0);
	env_teardown(env);
	/* The TDR was WBINVD'ed with the global key: nothing dirty. */
	assert_int_equal(tdpsim_tdx_dirty_pages(env->m), 0);
	if (dpamt)
		env_remove_pairs(env);
	assert_int_equal(env_stat(env, TDPSIM_STAT_PAMT_PAIRS), 0);
	assert_int_equal(tdpsim_tdx_module_alloc_live(env->m, TDPSIM_ALLOC_KIND_SEPT), 0);
	assert_int_equal(tdpsim_tdx_module_alloc_live(env->m, TDPSIM_ALLOC_KIND_PAMT), 0);
	assert_int_equal(tdpsim_tdx_failure_count(env->m), 0);
	/* 4 TDCS, 3 TDCX, TDVPR, 4 S-EPT pages, TDR */
	assert_int_equal(env_stat(env, TDPSIM_STAT_SEAMCALL_PAGE_RECLAIM), 13);
}

static void test_tdx_teardown(void **state)
{
	do_teardown(state, false);
}

static void test_tdx_teardown_dpamt(void **state)
{
	do_teardown(state, true);
}

/* 5.10 in TEARDOWN: pages still mapped may be reclaimed in any order. */
static void test_tdx_teardown_any_order(void **state)
{
	struct tdx_env *env = runnable(state, false);
	struct tdpsim_tdx_module_config cfg;
	tdpsim_hpa_t p4k, p2m;
	unsigned int i;

	tdpsim_tdx_module_config_init(&cfg);
	p4k = env_aug(env, GPA_B, TDPSIM_LEVEL_4K);
	p2m = env_aug(env, GPA_2M, TDPSIM_LEVEL_2M);
	assert_ok(tdpsim_tdh_vp_flush(env->m, env->tdvpr));
	assert_ok(tdpsim_tdh_mng_vpflushdone(env->m, env->tdr));
	assert_ok(tdpsim_tdh_phymem_cache_wb(env->m, false));
	assert_ok(tdpsim_tdh_mng_key_freeid(env->m, env->tdr));
	/* The S-EPT root (in TDCS page 0) and the S-EPT pages first. */
	for (i = 0; i < cfg.tdcs_pages; i++)
		assert_ok(tdpsim_tdh_phymem_page_reclaim(env->m, env->tdcs[i],
							 NULL, NULL, NULL));
	for (i = 0; i < env->nr_sept; i++)
		assert_ok(tdpsim_tdh_phymem_page_reclaim(env->m, env->sept[i].hpa,
							 NULL, NULL, NULL));
	assert_ok(tdpsim_tdh_phymem_page_reclaim(env->m, p4k, NULL, NULL, NULL));
	/* A 2M page is reclaimed whole, by its first page only. */
	assert_status(tdpsim_tdh_phymem_page_reclaim(env->m, p2m + SZ_4K, NULL,
						     NULL, NULL),
		      TDPSIM_TDX_OPERAND_INVALID | 1);
	assert_ok(tdpsim_tdh_phymem_page_reclaim(env->m, p2m, NULL, NULL, NULL));
	assert_status(tdpsim_tdh_phymem_page_reclaim(env->m, env->tdr, NULL,
						     NULL, NULL),
		      TDPSIM_TDX_TD_ASSOCIATED_PAGES_EXIST);
	for (i = 0; i + 1 < cfg.tdvps_pages; i++)
		assert_ok(tdpsim_tdh_phymem_page_reclaim(env->m, env->tdcx[i],
							 NULL, NULL, NULL));
	assert_ok(tdpsim_tdh_phymem_page_reclaim(env->m, env->tdvpr, NULL,
						 NULL, NULL));
	assert_ok(tdpsim_tdh_phymem_page_reclaim(env->m, env->tdr, NULL, NULL,
						 NULL));
	assert_ok(tdpsim_tdh_phymem_page_wbinvd_tdr(env->m, env->tdr));
	assert_int_equal(tdpsim_tdx_module_alloc_live(env->m, TDPSIM_ALLOC_KIND_SEPT), 0);
	assert_int_equal(tdpsim_tdx_module_alloc_live(env->m, TDPSIM_ALLOC_KIND_PAMT), 0);
	/* Reclaiming a free page: PAGE_METADATA_INCORRECT. */
	assert_status(tdpsim_tdh_phymem_page_reclaim(env->m, p4k, NULL, NULL, NULL),
		      TDPSIM_TDX_PAGE_METADATA_INCORRECT | 1);
}

/* ---- broken sequences: each module rule refuses ---- */

/* Rule 6: REMOVE after BLOCK but without TRACK. */
static void test_tdx_remove_without_track(void **state)
{
	struct tdx_env *env = runnable(state, false);
	uint64_t ext1, ext2;

	env_aug(env, GPA_B, TDPSIM_LEVEL_4K);
	assert_ok(tdpsim_tdh_mem_range_block(env->m, env->tdr, GPA_B,
					     TDPSIM_LEVEL_4K, NULL, NULL));
	assert_status(tdpsim_tdh_mem_page_remove(env->m, env->tdr, GPA_B,
						 TDPSIM_LEVEL_4K, &ext1, &ext2),
		      TDPSIM_TDX_TLB_TRACKING_NOT_DONE | 1);
	assert_int_equal(env_state(env, GPA_B, TDPSIM_LEVEL_4K),
			 TDPSIM_SEPT_PENDING_BLOCKED);
	assert_ok(tdpsim_tdh_mem_track(env->m, env->tdr));
	assert_ok(tdpsim_tdh_mem_page_remove(env->m, env->tdr, GPA_B,
					     TDPSIM_LEVEL_4K, NULL, NULL));
}

/* Rule 5: REMOVE without BLOCK in RUNNABLE; allowed before finalize. */
static void test_tdx_remove_without_block(void **state)
{
	struct tdx_env *env = runnable(state, false);
	uint64_t ext1, ext2;
	tdpsim_hpa_t page;

	page = env_aug(env, GPA_B, TDPSIM_LEVEL_4K);
	assert_status(tdpsim_tdh_mem_page_remove(env->m, env->tdr, GPA_B,
						 TDPSIM_LEVEL_4K, &ext1, &ext2),
		      TDPSIM_TDX_GPA_RANGE_NOT_BLOCKED | 1);
	/* Extended information: the entry and level | state << 8. */
	assert_int_equal(ext1 & ~0xfffULL, page);
	assert_int_equal(ext2, 0 | (TDPSIM_SEPT_PENDING << 8));
}

static void test_tdx_remove_initialized_needs_no_block(void **state)
{
	struct tdx_env *env = initialized(state, false);
	tdpsim_hpa_t page = env_page(env);

	env_link(env, GPA_A, TDPSIM_LEVEL_4K);
	assert_ok(tdpsim_tdh_mem_page_add(env->m, env->tdr, GPA_A, page >> 12,
					  0x2000, NULL, NULL));
	assert_ok(tdpsim_tdh_mem_page_remove(env->m, env->tdr, GPA_A,
					     TDPSIM_LEVEL_4K, NULL, NULL));
	assert_int_equal(env_state(env, GPA_A, TDPSIM_LEVEL_4K), TDPSIM_SEPT_FREE);
}

/* Rule 8: an S-EPT page removed before its children. */
static void test_tdx_sept_remove_parent_first(void **state)
{
	struct tdx_env *env = runnable(state, false);
	tdpsim_hpa_t page;

	page = env_aug(env, GPA_B, TDPSIM_LEVEL_4K);
	assert_ok(tdpsim_tdh_mem_range_block(env->m, env->tdr, GPA_B,
					     TDPSIM_LEVEL_2M, NULL, NULL));
	assert_ok(tdpsim_tdh_mem_track(env->m, env->tdr));
	assert_status(tdpsim_tdh_mem_sept_remove(env->m, env->tdr, GPA_B,
						 TDPSIM_LEVEL_2M, NULL, NULL),
		      TDPSIM_TDX_EPT_PAGE_NOT_FREE | 1);
	/* Below an NL_BLOCKED entry nothing can be reached (walk rule). */
	assert_status(tdpsim_tdh_mem_range_block(env->m, env->tdr, GPA_B,
						 TDPSIM_LEVEL_4K, NULL, NULL),
		      TDPSIM_TDX_EPT_WALK_FAILED | 1);
	/* Leaf first: unblock, zap the leaf, then the S-EPT page goes. */
	assert_ok(tdpsim_tdh_mem_range_unblock(env->m, env->tdr, GPA_B,
					       TDPSIM_LEVEL_2M, NULL, NULL));
	env_zap(env, GPA_B, TDPSIM_LEVEL_4K, page);
	assert_ok(tdpsim_tdh_mem_range_block(env->m, env->tdr, GPA_B,
					     TDPSIM_LEVEL_2M, NULL, NULL));
	assert_ok(tdpsim_tdh_mem_track(env->m, env->tdr));
	assert_ok(tdpsim_tdh_mem_sept_remove(env->m, env->tdr, GPA_B,
					     TDPSIM_LEVEL_2M, NULL, NULL));
	assert_int_equal(env_state(env, GPA_B, TDPSIM_LEVEL_2M), TDPSIM_SEPT_FREE);
	assert_int_equal(env_stat(env, TDPSIM_STAT_SEAMCALL_SEPT_REMOVE), 2);
}

/* Rule 11: an S-EPT page reclaimed while the HKID is still assigned. */
static void test_tdx_reclaim_sept_with_hkid(void **state)
{
	struct tdx_env *env = runnable(state, false);
	uint64_t type;

	env_link(env, GPA_B, TDPSIM_LEVEL_4K);
	assert_true(tdpsim_tdx_hkid_assigned(env->m, env->tdr));
	assert_status(tdpsim_tdh_phymem_page_reclaim(env->m, env->sept[2].hpa,
						     &type, NULL, NULL),
		      TDPSIM_TDX_LIFECYCLE_STATE_INCORRECT);
	assert_int_equal(type, TDPSIM_PT_EPT);
	/* Still so after VPFLUSHDONE: the HKID goes with KEY.FREEID. */
	assert_ok(tdpsim_tdh_vp_flush(env->m, env->tdvpr));
	assert_ok(tdpsim_tdh_mng_vpflushdone(env->m, env->tdr));
	assert_status(tdpsim_tdh_phymem_page_reclaim(env->m, env->sept[2].hpa,
						     NULL, NULL, NULL),
		      TDPSIM_TDX_LIFECYCLE_STATE_INCORRECT);
}

/* Rule 1: one host page AUGed twice. */
static void test_tdx_aug_same_page_twice(void **state)
{
	struct tdx_env *env = runnable(state, false);
	tdpsim_hpa_t page;

	page = env_aug(env, GPA_B, TDPSIM_LEVEL_4K);
	env_link(env, GPA_B + SZ_4K, TDPSIM_LEVEL_4K);
	assert_status(tdpsim_tdh_mem_page_aug(env->m, env->tdr, GPA_B + SZ_4K,
					      TDPSIM_LEVEL_4K, page >> 12, NULL,
					      NULL),
		      TDPSIM_TDX_PAGE_METADATA_INCORRECT | 8);
	assert_int_equal(env_state(env, GPA_B + SZ_4K, TDPSIM_LEVEL_4K),
			 TDPSIM_SEPT_FREE);
	/* And the same GPA twice: the entry is not FREE. */
	assert_status(tdpsim_tdh_mem_page_aug(env->m, env->tdr, GPA_B,
					      TDPSIM_LEVEL_4K, env_page(env) >> 12,
					      NULL, NULL),
		      TDPSIM_TDX_EPT_ENTRY_STATE_INCORRECT | 1);
}

/* Rule 1: one host page as two types (S-EPT page and guest page). */
static void test_tdx_page_as_two_types(void **state)
{
	struct tdx_env *env = runnable(state, false);
	tdpsim_hpa_t page;

	env_link(env, GPA_B, TDPSIM_LEVEL_4K);
	page = env->sept[2].hpa;
	assert_status(tdpsim_tdh_mem_page_aug(env->m, env->tdr, GPA_B,
					      TDPSIM_LEVEL_4K, page >> 12, NULL,
					      NULL),
		      TDPSIM_TDX_PAGE_METADATA_INCORRECT | 8);
	page = env_aug(env, GPA_B, TDPSIM_LEVEL_4K);
	assert_status(tdpsim_tdh_mem_sept_add(env->m, env->tdr, GPA_2M,
					      TDPSIM_LEVEL_1G, page, NULL, NULL),
		      TDPSIM_TDX_PAGE_METADATA_INCORRECT | 8);
	/* The TDR itself is not a page either. */
	assert_status(tdpsim_tdh_mem_sept_add(env->m, env->tdr, GPA_2M,
					      TDPSIM_LEVEL_1G, env->tdr, NULL, NULL),
		      TDPSIM_TDX_PAGE_METADATA_INCORRECT | 8);
	/* A 4K page inside a 2M private page. */
	page = env_aug(env, GPA_2M, TDPSIM_LEVEL_2M);
	assert_status(tdpsim_tdh_mem_page_aug(env->m, env->tdr, GPA_B + SZ_4K,
					      TDPSIM_LEVEL_4K,
					      (page + 3 * SZ_4K) >> 12, NULL, NULL),
		      TDPSIM_TDX_PAGE_METADATA_INCORRECT | 8);
}

/* Rule 10: AUG before MR.FINALIZE (policy), PAGE.ADD after. */
static void test_tdx_aug_before_finalize(void **state)
{
	struct tdx_env *env = initialized(state, false);

	env_link(env, GPA_B, TDPSIM_LEVEL_4K);
	assert_status(tdpsim_tdh_mem_page_aug(env->m, env->tdr, GPA_B,
					      TDPSIM_LEVEL_4K, env_page(env) >> 12,
					      NULL, NULL),
		      TDPSIM_TDX_OP_STATE_INCORRECT | TDPSIM_TD_OP_INITIALIZED);
	env_finalize(env);
	assert_status(tdpsim_tdh_mem_page_add(env->m, env->tdr, GPA_B,
					      env_page(env) >> 12, 0x3000, NULL,
					      NULL),
		      TDPSIM_TDX_OP_STATE_INCORRECT | TDPSIM_TD_OP_RUNNABLE);
	assert_status(tdpsim_tdh_mr_finalize(env->m, env->tdr),
		      TDPSIM_TDX_OP_STATE_INCORRECT | TDPSIM_TD_OP_RUNNABLE);
}

static void test_tdx_early_aug_allowed_by_config(void **state)
{
	struct tdpsim_tdx_module_config cfg;
	struct tdx_env *env;

	tdpsim_tdx_module_config_init(&cfg);
	cfg.allow_early_aug = true;
	env = env_new(&cfg);
	*state = env;
	env_build_td(env);
	env_aug(env, GPA_B, TDPSIM_LEVEL_4K);
	assert_int_equal(env_state(env, GPA_B, TDPSIM_LEVEL_4K), TDPSIM_SEPT_PENDING);
}

/* Rule 5 for DEMOTE: without BLOCK; rule 6: without TRACK. */
static void test_tdx_demote_without_block(void **state)
{
	struct tdx_env *env = runnable(state, false);
	tdpsim_hpa_t sept = env_page(env);

	env_aug(env, GPA_2M, TDPSIM_LEVEL_2M);
	assert_status(tdpsim_tdh_mem_page_demote(env->m, env->tdr, GPA_2M,
						 TDPSIM_LEVEL_2M, sept, NULL, NULL,
						 NULL),
		      TDPSIM_TDX_GPA_RANGE_NOT_BLOCKED | 1);
	assert_ok(tdpsim_tdh_mem_range_block(env->m, env->tdr, GPA_2M,
					     TDPSIM_LEVEL_2M, NULL, NULL));
	assert_status(tdpsim_tdh_mem_page_demote(env->m, env->tdr, GPA_2M,
						 TDPSIM_LEVEL_2M, sept, NULL, NULL,
						 NULL),
		      TDPSIM_TDX_TLB_TRACKING_NOT_DONE | 1);
	/* The S-EPT page offered was not consumed. */
	assert_ok(tdpsim_tdh_mem_sept_add(env->m, env->tdr, 0x80000000ULL,
					  TDPSIM_LEVEL_1G, sept, NULL, NULL));
}

/* Rule 15: ACCEPT at 2M where the host mapped 4K: PAGE_SIZE_MISMATCH. */
static void test_tdx_accept_size_mismatch(void **state)
{
	struct tdx_env *env = runnable(state, false);
	struct tdpsim_tdx_accept_result res;

	env_aug(env, GPA_B, TDPSIM_LEVEL_4K);
	res = env_accept(env, GPA_B, TDPSIM_LEVEL_2M);
	assert_false(res.exited);
	assert_status(res.status, TDPSIM_TDX_PAGE_SIZE_MISMATCH | 1);
	/* The guest falls back to 4K. */
	assert_ok(env_accept(env, GPA_B, TDPSIM_LEVEL_4K).status);
}

/* 5.8: ACCEPT at 4K of a PENDING 2M page: an accept-level EPT violation. */
static void test_tdx_accept_level_violation(void **state)
{
	struct tdx_env *env = runnable(state, false);
	struct tdpsim_tdx_accept_result res;
	struct tdpsim_tdx_vcpu_info vi;

	env_aug(env, GPA_2M, TDPSIM_LEVEL_2M);
	res = env_accept(env, GPA_2M + 3 * SZ_4K, TDPSIM_LEVEL_4K);
	assert_true(res.exited);
	assert_int_equal(res.status, 0);
	assert_int_equal(res.req_level, TDPSIM_LEVEL_4K);
	assert_int_equal(res.walk_level, TDPSIM_LEVEL_2M);
	assert_int_equal(res.walk_state, TDPSIM_SEPT_PENDING);
	assert_true(res.walk_leaf);
	assert_int_equal(res.eeq & 0xf, TDPSIM_TDX_EEQ_TYPE_ACCEPT);
	assert_int_equal((res.eeq >> 32) & 7, 0);
	assert_int_equal((res.eeq >> 35) & 7, 1);
	assert_int_equal((res.eeq >> 38) & 0xff, TDPSIM_SEPT_PENDING);
	assert_int_equal((res.eeq >> 46) & 1, 1);
	/* The vCPU took a TD exit. */
	assert_int_equal(tdpsim_tdx_vcpu_info(env->m, env->tdvpr, &vi), 0);
	assert_false(vi.in_guest);
	/* Once MAPPED at 2M, a 4K ACCEPT inside is already accepted. */
	assert_ok(env_accept(env, GPA_2M, TDPSIM_LEVEL_2M).status);
	res = env_accept(env, GPA_2M + 3 * SZ_4K, TDPSIM_LEVEL_4K);
	assert_status(res.status, TDPSIM_TDX_PAGE_ALREADY_ACCEPTED | 1);
	/* Nothing mapped: a violation where the walk stopped. */
	res = env_accept(env, 0x8000000000ULL, TDPSIM_LEVEL_4K);
	assert_true(res.exited);
	assert_int_equal(res.walk_level, TDPSIM_LEVEL_512G);
	assert_int_equal(res.walk_state, TDPSIM_SEPT_FREE);
	/* ACCEPT only from a vCPU in the guest. */
	assert_int_equal(tdpsim_tdg_mem_page_accept(env->m, env->tdvpr, GPA_2M,
						    TDPSIM_LEVEL_2M, &res), -EINVAL);
	/* A bad operand is the guest's error. */
	res = env_accept(env, GPA_2M + SZ_4K, TDPSIM_LEVEL_2M);
	assert_status(res.status, TDPSIM_TDX_OPERAND_INVALID | 1);
}

/* Rule 2: top-down construction; rule 9: granularity. */
static void test_tdx_walk_failed(void **state)
{
	struct tdx_env *env = runnable(state, false);
	uint64_t ext1, ext2;

	assert_status(tdpsim_tdh_mem_page_aug(env->m, env->tdr, GPA_B,
					      TDPSIM_LEVEL_4K, env_page(env) >> 12,
					      &ext1, &ext2),
		      TDPSIM_TDX_EPT_WALK_FAILED | 1);
	/* Stopped at the FREE PML4 entry (TDX level 3). */
	assert_int_equal(ext2, 3 | (TDPSIM_SEPT_FREE << 8));
	assert_status(tdpsim_tdh_mem_sept_add(env->m, env->tdr, GPA_B,
					      TDPSIM_LEVEL_2M, env_page(env),
					      &ext1, &ext2),
		      TDPSIM_TDX_EPT_WALK_FAILED | 1);
	/* 4K operations inside a 2M leaf. */
	env_aug(env, GPA_2M, TDPSIM_LEVEL_2M);
	assert_status(tdpsim_tdh_mem_range_block(env->m, env->tdr, GPA_2M + SZ_4K,
						 TDPSIM_LEVEL_4K, &ext1, &ext2),
		      TDPSIM_TDX_EPT_WALK_FAILED | 1);
	assert_int_equal(ext2, 1 | (TDPSIM_SEPT_PENDING << 8));
	assert_int_equal(ext1 & (1 << 7), 1 << 7);
	/* 2M operations on a 2M entry that holds an S-EPT page. */
	env_aug(env, GPA_B, TDPSIM_LEVEL_4K);
	assert_ok(tdpsim_tdh_mem_range_block(env->m, env->tdr, GPA_B,
					     TDPSIM_LEVEL_2M, NULL, NULL));
	assert_ok(tdpsim_tdh_mem_track(env->m, env->tdr));
	assert_status(tdpsim_tdh_mem_page_remove(env->m, env->tdr, GPA_B,
						 TDPSIM_LEVEL_2M, &ext1, &ext2),
		      TDPSIM_TDX_EPT_ENTRY_STATE_INCORRECT | 1);
	assert_int_equal(ext2, 1 | (TDPSIM_SEPT_NL_BLOCKED << 8));
}

/* SEPT.ADD on an occupied entry, and the v1 "allow existing" flag. */
static void test_tdx_sept_add_occupied(void **state)
{
	struct tdx_env *env = runnable(state, false);
	struct tdpsim_tdx_args a = { 0 };
	tdpsim_hpa_t page = env_page(env);

	env_link(env, GPA_B, TDPSIM_LEVEL_4K);
	assert_status(tdpsim_tdh_mem_sept_add(env->m, env->tdr, GPA_B,
					      TDPSIM_LEVEL_2M, page, NULL, NULL),
		      TDPSIM_TDX_EPT_ENTRY_NOT_FREE | 1);
	a.rax = TDPSIM_TDH_MEM_SEPT_ADD | (1 << 16);
	a.rcx = GPA_B | 1;
	a.rdx = env->tdr | 1;
	a.r8 = page;
	assert_ok(tdpsim_tdx_seamcall(env->m, &a));
	assert_int_equal(a.r8, page | (1ULL << 63));
	/* Version 0 has no flag; version 2 does not exist. */
	a.rax = TDPSIM_TDH_MEM_SEPT_ADD;
	a.rcx = GPA_B | 1;
	a.rdx = env->tdr | 1;
	assert_status(tdpsim_tdx_seamcall(env->m, &a),
		      TDPSIM_TDX_OPERAND_INVALID | 2);
	a.rax = TDPSIM_TDH_MEM_SEPT_ADD | (2 << 16);
	assert_status(tdpsim_tdx_seamcall(env->m, &a),
		      TDPSIM_TDX_OPERAND_INVALID | 0);
	/* The page was never used: it is still free. */
	assert_ok(tdpsim_tdh_mem_sept_add(env->m, env->tdr, GPA_2M,
					  TDPSIM_LEVEL_1G, page, NULL, NULL));
}

/* Rule 7 and section 3: TRACK and vCPUs in the previous epoch. */
static void test_tdx_tlb_tracking(void **state)
{
	struct tdx_env *env = runnable(state, false);
	struct tdpsim_tdx_td_info info;

	env_aug(env, GPA_B, TDPSIM_LEVEL_4K);
	/* The vCPU runs in epoch 1. */
	assert_ok(tdpsim_tdh_vp_enter(env->m, env->tdvpr));
	assert_ok(tdpsim_tdh_mem_range_block(env->m, env->tdr, GPA_B,
					     TDPSIM_LEVEL_4K, NULL, NULL));
	/* Epoch 1 -> 2: nobody in epoch 0. */
	assert_ok(tdpsim_tdh_mem_track(env->m, env->tdr));
	/* Blocked in 1, vCPU still counted in 1: not tracked. */
	assert_status(tdpsim_tdh_mem_page_remove(env->m, env->tdr, GPA_B,
						 TDPSIM_LEVEL_4K, NULL, NULL),
		      TDPSIM_TDX_TLB_TRACKING_NOT_DONE | 1);
	/* TRACK without kicking vCPUs: PREVIOUS_TLB_EPOCH_BUSY. */
	assert_status(tdpsim_tdh_mem_track(env->m, env->tdr),
		      TDPSIM_TDX_PREVIOUS_TLB_EPOCH_BUSY);
	assert_int_equal(tdpsim_tdx_td_info(env->m, env->tdr, &info), 0);
	assert_int_equal(info.epoch, 2);
	assert_int_equal(info.refcount[1], 1);
	/* The kick: the vCPU exits, tracking completes. */
	assert_int_equal(tdpsim_tdx_vp_exit(env->m, env->tdvpr), 0);
	assert_int_equal(tdpsim_tdx_vp_exit(env->m, env->tdvpr), -EINVAL);
	assert_ok(tdpsim_tdh_mem_page_remove(env->m, env->tdr, GPA_B,
					     TDPSIM_LEVEL_4K, NULL, NULL));
	/* A vCPU entering after the TRACK is in epoch 2: no obstacle. */
	assert_ok(tdpsim_tdh_vp_enter(env->m, env->tdvpr));
	assert_status(tdpsim_tdh_vp_enter(env->m, env->tdvpr),
		      TDPSIM_TDX_OPERAND_BUSY | 1);
	assert_ok(tdpsim_tdh_mem_track(env->m, env->tdr));
	assert_status(tdpsim_tdh_mem_track(env->m, env->tdr),
		      TDPSIM_TDX_PREVIOUS_TLB_EPOCH_BUSY);
	/* VP.FLUSH of a running vCPU: its TDVPR is busy. */
	assert_status(tdpsim_tdh_vp_flush(env->m, env->tdvpr),
		      TDPSIM_TDX_OPERAND_BUSY | 1);
	/* VPFLUSHDONE with a vCPU in the guest. */
	assert_status(tdpsim_tdh_mng_vpflushdone(env->m, env->tdr),
		      TDPSIM_TDX_FLUSHVP_NOT_DONE);
}

/* Rule 11: the lifecycle gates. */
static void test_tdx_lifecycle_gates(void **state)
{
	struct tdx_env *env = runnable(state, false);
	tdpsim_hpa_t page;

	page = env_aug(env, GPA_B, TDPSIM_LEVEL_4K);
	assert_status(tdpsim_tdh_mng_vpflushdone(env->m, env->tdr),
		      TDPSIM_TDX_FLUSHVP_NOT_DONE);
	assert_status(tdpsim_tdh_mng_key_freeid(env->m, env->tdr),
		      TDPSIM_TDX_LIFECYCLE_STATE_INCORRECT);
	assert_ok(tdpsim_tdh_vp_flush(env->m, env->tdvpr));
	assert_status(tdpsim_tdh_vp_flush(env->m, env->tdvpr),
		      TDPSIM_TDX_VCPU_NOT_ASSOCIATED);
	assert_status(tdpsim_tdh_phymem_cache_wb(env->m, false),
		      TDPSIM_TDX_NO_HKID_READY_TO_WBCACHE);
	assert_ok(tdpsim_tdh_mng_vpflushdone(env->m, env->tdr));
	/* No TDH.MEM.* once blocked: a private page left behind stays. */
	assert_status(tdpsim_tdh_mem_range_block(env->m, env->tdr, GPA_B,
						 TDPSIM_LEVEL_4K, NULL, NULL),
		      TDPSIM_TDX_TD_KEYS_NOT_CONFIGURED);
	assert_status(tdpsim_tdh_vp_enter(env->m, env->tdvpr),
		      TDPSIM_TDX_TD_KEYS_NOT_CONFIGURED);
	assert_status(tdpsim_tdh_mng_key_freeid(env->m, env->tdr),
		      TDPSIM_TDX_WBCACHE_NOT_COMPLETE);
	assert_ok(tdpsim_tdh_phymem_cache_wb(env->m, false));
	assert_ok(tdpsim_tdh_mng_key_freeid(env->m, env->tdr));
	assert_false(tdpsim_tdx_hkid_assigned(env->m, env->tdr));
	/* The HKID can serve another TD now. */
	assert_ok(tdpsim_tdh_mng_create(env->m, env_page(env), TEST_HKID));
	assert_int_equal(tdpsim_tdx_nr_tds(env->m), 2);
	/* The private page left mapped can be reclaimed in TEARDOWN. */
	assert_ok(tdpsim_tdh_phymem_page_reclaim(env->m, page, NULL, NULL, NULL));
}

/* MNG.CREATE and friends refuse bad HKIDs, orders and counts. */
static void test_tdx_create_checks(void **state)
{
	struct tdx_env *env = env_new(NULL);
	tdpsim_hpa_t tdr, tdr2;

	*state = env;
	tdr = env_page(env);
	tdr2 = env_page(env);
	assert_status(tdpsim_tdh_mng_create(env->m, tdr, 0),
		      TDPSIM_TDX_OPERAND_INVALID | 2);
	assert_status(tdpsim_tdh_mng_create(env->m, tdr, 64),
		      TDPSIM_TDX_OPERAND_INVALID | 2);
	/* The module's global key is never a TD's. */
	assert_status(tdpsim_tdh_mng_create(env->m, tdr, 1),
		      TDPSIM_TDX_HKID_NOT_FREE | 2);
	assert_ok(tdpsim_tdh_mng_create(env->m, tdr, 7));
	assert_status(tdpsim_tdh_mng_create(env->m, tdr2, 7),
		      TDPSIM_TDX_HKID_NOT_FREE | 2);
	assert_status(tdpsim_tdh_mng_create(env->m, tdr, 8),
		      TDPSIM_TDX_PAGE_METADATA_INCORRECT | 1);
	/* ADDCX before KEY.CONFIG; MNG.INIT before the TDCS pages. */
	assert_status(tdpsim_tdh_mng_addcx(env->m, tdr, env_page(env)),
		      TDPSIM_TDX_TD_KEYS_NOT_CONFIGURED);
	assert_ok(tdpsim_tdh_mng_key_config(env->m, tdr));
	assert_status(tdpsim_tdh_mng_key_config(env->m, tdr),
		      TDPSIM_TDX_KEY_CONFIGURED);
	assert_status(tdpsim_tdh_mng_init(env->m, tdr, 4, NULL),
		      TDPSIM_TDX_TDCS_NOT_ALLOCATED);
	for (int i = 0; i < 4; i++)
		assert_ok(tdpsim_tdh_mng_addcx(env->m, tdr, env_page(env)));
	assert_status(tdpsim_tdh_mng_addcx(env->m, tdr, env_page(env)),
		      TDPSIM_TDX_TDCX_NUM_INCORRECT | 1);
	/* TDH.MEM.* before MNG.INIT. */
	assert_status(tdpsim_tdh_mem_track(env->m, tdr),
		      TDPSIM_TDX_OP_STATE_INCORRECT | 0);
	assert_status(tdpsim_tdh_mng_init(env->m, tdr, 3, NULL),
		      TDPSIM_TDX_OPERAND_INVALID | 2);
	assert_ok(tdpsim_tdh_mng_init(env->m, tdr, 5, NULL));
	assert_status(tdpsim_tdh_mng_init(env->m, tdr, 5, NULL),
		      TDPSIM_TDX_OP_STATE_INCORRECT | 1);
	/* A TDR operand that is not a TDR. */
	assert_status(tdpsim_tdh_mem_track(env->m, tdr2),
		      TDPSIM_TDX_PAGE_METADATA_INCORRECT | 1);
	/* VP.INIT before every TDCX; VP.ADDCX after VP.INIT. */
	env->tdvpr = env_page(env);
	assert_ok(tdpsim_tdh_vp_create(env->m, tdr, env->tdvpr));
	assert_status(tdpsim_tdh_vp_init(env->m, env->tdvpr, 0),
		      TDPSIM_TDX_TDCX_NUM_INCORRECT | 1);
	for (int i = 0; i < 3; i++)
		assert_ok(tdpsim_tdh_vp_addcx(env->m, env->tdvpr, env_page(env)));
	assert_status(tdpsim_tdh_vp_addcx(env->m, env->tdvpr, env_page(env)),
		      TDPSIM_TDX_TDCX_NUM_INCORRECT | 1);
	assert_ok(tdpsim_tdh_vp_init(env->m, env->tdvpr, 0));
	assert_status(tdpsim_tdh_vp_init(env->m, env->tdvpr, 0),
		      TDPSIM_TDX_VCPU_STATE_INCORRECT);
	/* VP.ENTER before finalize. */
	assert_status(tdpsim_tdh_vp_enter(env->m, env->tdvpr),
		      TDPSIM_TDX_OP_STATE_INCORRECT | 1);
	/* A 5-level TD has GPAW 52: a GPA above 2^48 is fine. */
	assert_ok(tdpsim_tdh_mem_sept_add(env->m, tdr, 1ULL << 50,
					  TDPSIM_LEVEL_256T, env_page(env), NULL,
					  NULL));
}

/* Rule 3: operand encoding and HPA checks. */
static void test_tdx_operand_checks(void **state)
{
	struct tdx_env *env = runnable(state, false);
	struct tdpsim_tdx_args a = { 0 };
	tdpsim_hpa_t page = env_page(env);

	env_link(env, GPA_B, TDPSIM_LEVEL_4K);
	/* Misaligned GPA for the level. */
	assert_status(tdpsim_tdh_mem_page_aug(env->m, env->tdr, GPA_B + SZ_4K,
					      TDPSIM_LEVEL_2M, page >> 12, NULL,
					      NULL),
		      TDPSIM_TDX_OPERAND_INVALID | 1);
	/* Levels out of range per leaf. */
	assert_status(tdpsim_tdh_mem_page_aug(env->m, env->tdr, 0, TDPSIM_LEVEL_1G,
					      page >> 12, NULL, NULL),
		      TDPSIM_TDX_OPERAND_INVALID | 1);
	assert_status(tdpsim_tdh_mem_sept_add(env->m, env->tdr, GPA_B,
					      TDPSIM_LEVEL_4K, page, NULL, NULL),
		      TDPSIM_TDX_OPERAND_INVALID | 1);
	assert_status(tdpsim_tdh_mem_sept_add(env->m, env->tdr, 0,
					      TDPSIM_LEVEL_256T, page, NULL, NULL),
		      TDPSIM_TDX_OPERAND_INVALID | 1);
	assert_status(tdpsim_tdh_mem_page_demote(env->m, env->tdr, GPA_B,
						 TDPSIM_LEVEL_4K, page, NULL,
						 NULL, NULL),
		      TDPSIM_TDX_OPERAND_INVALID | 1);
	/* Reserved bits 11:3. */
	a.rax = TDPSIM_TDH_MEM_PAGE_AUG;
	a.rcx = GPA_B | 0x10;
	a.rdx = env->tdr;
	a.r8 = page;
	assert_status(tdpsim_tdx_seamcall(env->m, &a), TDPSIM_TDX_OPERAND_INVALID | 1);
	/* The shared bit (47 with GPAW 48), and beyond GPAW. */
	assert_status(tdpsim_tdh_mem_page_aug(env->m, env->tdr, 1ULL << 47,
					      TDPSIM_LEVEL_4K, page >> 12, NULL,
					      NULL),
		      TDPSIM_TDX_OPERAND_INVALID | 1);
	assert_status(tdpsim_tdh_mem_page_aug(env->m, env->tdr, 1ULL << 48,
					      TDPSIM_LEVEL_4K, page >> 12, NULL,
					      NULL),
		      TDPSIM_TDX_OPERAND_INVALID | 1);
	/* HPA with key-ID bits, misaligned, outside the TDMR. */
	assert_status(tdpsim_tdh_mem_page_aug(env->m, env->tdr, GPA_B,
					      TDPSIM_LEVEL_4K,
					      (page | (5ULL << 46)) >> 12, NULL,
					      NULL),
		      TDPSIM_TDX_OPERAND_INVALID | 8);
	assert_status(tdpsim_tdh_mem_sept_add(env->m, env->tdr, GPA_2M,
					      TDPSIM_LEVEL_1G, page + 8, NULL, NULL),
		      TDPSIM_TDX_OPERAND_INVALID | 8);
	assert_status(tdpsim_tdh_mem_page_aug(env->m, env->tdr, 0x400000,
					      TDPSIM_LEVEL_2M, (page + SZ_4K) >> 12,
					      NULL, NULL),
		      TDPSIM_TDX_OPERAND_INVALID | 8);
	assert_status(tdpsim_tdh_mem_track(env->m, env->tdr | (1ULL << 46)),
		      TDPSIM_TDX_OPERAND_INVALID | 1);
	assert_status(tdpsim_tdh_mem_track(env->m, env->tdr + 0x10),
		      TDPSIM_TDX_OPERAND_INVALID | 1);
	/* A TDR handle with flag bits where BLOCK has none. */
	assert_status(tdpsim_tdh_mem_range_block(env->m, env->tdr | 0x800, GPA_B,
						 TDPSIM_LEVEL_2M, NULL, NULL),
		      TDPSIM_TDX_OPERAND_INVALID | 2);
	/* An unknown leaf, an unknown version, and a leaf the fake does not
	 * model (PROMOTE). */
	memset(&a, 0, sizeof(a));
	a.rax = 200;
	assert_status(tdpsim_tdx_seamcall(env->m, &a), TDPSIM_TDX_OPERAND_INVALID | 0);
	a.rax = TDPSIM_TDH_MEM_TRACK | (1 << 16);
	a.rcx = env->tdr;
	assert_status(tdpsim_tdx_seamcall(env->m, &a), TDPSIM_TDX_OPERAND_INVALID | 0);
	a.rax = 23;
	assert_status(tdpsim_tdx_seamcall(env->m, &a), TDPSIM_TDX_OPERAND_INVALID | 0);
	/* API misuse. */
	assert_int_equal(tdpsim_tdx_seamcall(NULL, &a), TDPSIM_TDX_SW_ERROR | EINVAL);
	assert_int_equal(tdpsim_tdx_seamcall(env->m, NULL),
			 TDPSIM_TDX_SW_ERROR | EINVAL);
}

static void test_tdx_tdmr_range(void **state)
{
	struct tdpsim_tdx_module_config cfg;
	struct tdx_env *env;

	tdpsim_tdx_module_config_init(&cfg);
	cfg.tdmr_base = POOL_4K;
	cfg.tdmr_size = SZ_1G;
	env = env_new(&cfg);
	*state = env;
	assert_status(tdpsim_tdh_mng_create(env->m, POOL_4K - SZ_4K, 5),
		      TDPSIM_TDX_OPERAND_ADDR_RANGE_ERROR | 1);
	assert_status(tdpsim_tdh_mng_create(env->m, POOL_4K + SZ_1G, 5),
		      TDPSIM_TDX_OPERAND_ADDR_RANGE_ERROR | 1);
	assert_ok(tdpsim_tdh_mng_create(env->m, POOL_4K, 5));
	cfg.tdmr_base = 0x1000;
	assert_int_equal(tdpsim_tdx_module_create(&cfg, &(struct tdpsim_tdx_module *){ NULL }),
			 -EINVAL);
}

/* RANGE.UNBLOCK reverses RANGE.BLOCK once tracked. */
static void test_tdx_unblock(void **state)
{
	struct tdx_env *env = runnable(state, false);

	env_aug(env, GPA_B, TDPSIM_LEVEL_4K);
	env_accept(env, GPA_B, TDPSIM_LEVEL_4K);
	assert_ok(tdpsim_tdh_mem_range_block(env->m, env->tdr, GPA_B,
					     TDPSIM_LEVEL_4K, NULL, NULL));
	assert_status(tdpsim_tdh_mem_range_block(env->m, env->tdr, GPA_B,
						 TDPSIM_LEVEL_4K, NULL, NULL),
		      TDPSIM_TDX_GPA_RANGE_ALREADY_BLOCKED | 1);
	assert_status(tdpsim_tdh_mem_range_unblock(env->m, env->tdr, GPA_B,
						   TDPSIM_LEVEL_4K, NULL, NULL),
		      TDPSIM_TDX_TLB_TRACKING_NOT_DONE | 0x92);
	assert_ok(tdpsim_tdh_mem_track(env->m, env->tdr));
	assert_ok(tdpsim_tdh_mem_range_unblock(env->m, env->tdr, GPA_B,
					       TDPSIM_LEVEL_4K, NULL, NULL));
	assert_int_equal(env_state(env, GPA_B, TDPSIM_LEVEL_4K), TDPSIM_SEPT_MAPPED);
	assert_int_equal(env_stat(env, TDPSIM_STAT_SEAMCALL_RANGE_UNBLOCK), 2);
}

/* ---- BUSY: injection and contention ---- */

static void test_tdx_inject_busy_aug(void **state)
{
	struct tdx_env *env = runnable(state, false);
	struct tdpsim_tdx_failure f;
	tdpsim_hpa_t page = env_page(env);
	uint64_t base = tdpsim_tdx_failure_count(env->m);

	env_link(env, GPA_B, TDPSIM_LEVEL_4K);
	assert_int_equal(tdpsim_tdx_inject(env->m, TDPSIM_TDH_MEM_PAGE_AUG,
					   TDPSIM_TDX_OPERAND_BUSY | 0x92, 2), 0);
	for (int i = 0; i < 2; i++) {
		assert_status(tdpsim_tdh_mem_page_aug(env->m, env->tdr, GPA_B,
						      TDPSIM_LEVEL_4K, page >> 12,
						      NULL, NULL),
			      TDPSIM_TDX_OPERAND_BUSY | 0x92);
		/* Nothing happened. */
		assert_int_equal(env_state(env, GPA_B, TDPSIM_LEVEL_4K),
				 TDPSIM_SEPT_FREE);
	}
	/* KVM retries the fault: the third call goes through. */
	assert_ok(tdpsim_tdh_mem_page_aug(env->m, env->tdr, GPA_B, TDPSIM_LEVEL_4K,
					  page >> 12, NULL, NULL));
	assert_int_equal(env_stat(env, TDPSIM_STAT_SEAMCALL_BUSY), 2);
	assert_int_equal(env_stat(env, TDPSIM_STAT_SEAMCALL_PAGE_AUG), 3);
	assert_int_equal(tdpsim_tdx_leaf_calls(env->m, TDPSIM_TDH_MEM_PAGE_AUG), 3);
	assert_int_equal(tdpsim_tdx_failure_count(env->m), base + 2);
	assert_int_equal(tdpsim_tdx_failure_get(env->m, base + 1, &f), 0);
	assert_true(f.injected);
	assert_int_equal(f.leaf, TDPSIM_TDH_MEM_PAGE_AUG);
	assert_int_equal(f.rcx, GPA_B);
	assert_int_equal(f.r8, page);
	/* Injection rules. */
	assert_int_equal(tdpsim_tdx_inject(env->m, 77, TDPSIM_TDX_OPERAND_BUSY, 1),
			 -EINVAL);
	assert_int_equal(tdpsim_tdx_inject(env->m, TDPSIM_TDH_MEM_PAGE_AUG, 0, 1),
			 -EINVAL);
}

static void test_tdx_inject_busy_block(void **state)
{
	struct tdx_env *env = runnable(state, false);

	env_aug(env, GPA_B, TDPSIM_LEVEL_4K);
	assert_int_equal(tdpsim_tdx_inject(env->m, TDPSIM_TDH_MEM_RANGE_BLOCK,
					   TDPSIM_TDX_OPERAND_BUSY | 1, 1), 0);
	/* tdh_do_no_vcpus(): BUSY, kick, retry once. */
	assert_status(tdpsim_tdh_mem_range_block(env->m, env->tdr, GPA_B,
						 TDPSIM_LEVEL_4K, NULL, NULL),
		      TDPSIM_TDX_OPERAND_BUSY | 1);
	assert_int_equal(env_state(env, GPA_B, TDPSIM_LEVEL_4K), TDPSIM_SEPT_PENDING);
	assert_ok(tdpsim_tdh_mem_range_block(env->m, env->tdr, GPA_B,
					     TDPSIM_LEVEL_4K, NULL, NULL));
	assert_int_equal(env_stat(env, TDPSIM_STAT_SEAMCALL_BUSY), 1);
	/* Any status on any leaf, e.g. DEMOTE's INTERRUPTED_RESTARTABLE,
	 * and cancelling with count 0. */
	assert_int_equal(tdpsim_tdx_inject(env->m, TDPSIM_TDH_MEM_TRACK,
					   TDPSIM_TDX_INTERRUPTED_RESTARTABLE, 5), 0);
	assert_int_equal(tdpsim_tdx_inject(env->m, TDPSIM_TDH_MEM_TRACK,
					   TDPSIM_TDX_INTERRUPTED_RESTARTABLE, 0), 0);
	assert_ok(tdpsim_tdh_mem_track(env->m, env->tdr));
	/* The guest's ACCEPT too. */
	assert_int_equal(tdpsim_tdx_inject(env->m, TDPSIM_TDG_MEM_PAGE_ACCEPT,
					   TDPSIM_TDX_OPERAND_BUSY | 1, 1), 0);
	env_aug(env, GPA_A, TDPSIM_LEVEL_4K);
	assert_status(env_accept(env, GPA_A, TDPSIM_LEVEL_4K).status,
		      TDPSIM_TDX_OPERAND_BUSY | 1);
	assert_ok(env_accept(env, GPA_A, TDPSIM_LEVEL_4K).status);
	/* Guest BUSY is not a SEAMCALL's. */
	assert_int_equal(env_stat(env, TDPSIM_STAT_SEAMCALL_BUSY), 1);
}

/* A hook that makes one nested call while the outer call holds its locks. */
struct nested {
	struct tdx_env *env;
	uint32_t when;			/* outer leaf */
	int fired;
	uint64_t (*fn)(struct nested *n);
	uint64_t status;
	uint64_t gpa;
	tdpsim_hpa_t page;
};

static void nested_hook(void *opaque, uint32_t leaf, uint64_t status)
{
	struct nested *n = opaque;

	(void)status;
	if (!n->fn || leaf != n->when || n->fired)
		return;
	n->fired = 1;
	n->status = n->fn(n);
}

static uint64_t nested_block(struct nested *n)
{
	return tdpsim_tdh_mem_range_block(n->env->m, n->env->tdr, n->gpa,
					  TDPSIM_LEVEL_4K, NULL, NULL);
}

static uint64_t nested_aug(struct nested *n)
{
	return tdpsim_tdh_mem_page_aug(n->env->m, n->env->tdr, n->gpa,
				       TDPSIM_LEVEL_4K, n->page >> 12, NULL, NULL);
}

static uint64_t nested_enter(struct nested *n)
{
	return tdpsim_tdh_vp_enter(n->env->m, n->env->tdvpr);
}

static uint64_t nested_pamt_add(struct nested *n)
{
	tdpsim_hpa_t pair[2];

	env_pair(n->env, pair);
	return tdpsim_tdh_phymem_pamt_add(n->env->m, n->page & ~(SZ_2M - 1), pair);
}

static struct tdx_env *hooked(void **state, struct nested *n, bool dpamt)
{
	struct tdpsim_tdx_module_config cfg;
	struct tdx_env *env;

	memset(n, 0, sizeof(*n));
	tdpsim_tdx_module_config_init(&cfg);
	cfg.dynamic_pamt = dpamt;
	cfg.hook = nested_hook;
	cfg.hook_opaque = n;
	env = env_new(&cfg);
	*state = env;
	n->env = env;
	env_build_td(env);
	env_finalize(env);
	return env;
}

/* Section 6.1: the S-EPT tree lock, shared by AUG, exclusive for BLOCK. */
static void test_tdx_contention_tree_lock(void **state)
{
	struct nested n;
	struct tdx_env *env = hooked(state, &n, false);
	tdpsim_hpa_t page = env_page(env);

	env_aug(env, GPA_A, TDPSIM_LEVEL_4K);
	env_link(env, GPA_B, TDPSIM_LEVEL_4K);
	/* A BLOCK (write mmu_lock) racing with an AUG (read mmu_lock). */
	n.when = TDPSIM_TDH_MEM_PAGE_AUG;
	n.fn = nested_block;
	n.gpa = GPA_A;
	assert_ok(tdpsim_tdh_mem_page_aug(env->m, env->tdr, GPA_B, TDPSIM_LEVEL_4K,
					  page >> 12, NULL, NULL));
	assert_int_equal(n.fired, 1);
	assert_status(n.status, TDPSIM_TDX_OPERAND_BUSY | 0x92);
	/* And the other way round. */
	memset(&n, 0, sizeof(n));
	n.env = env;
	n.when = TDPSIM_TDH_MEM_RANGE_BLOCK;
	n.fn = nested_aug;
	n.gpa = GPA_B + SZ_4K;
	n.page = env_page(env);
	assert_ok(tdpsim_tdh_mem_range_block(env->m, env->tdr, GPA_A,
					     TDPSIM_LEVEL_4K, NULL, NULL));
	assert_status(n.status, TDPSIM_TDX_OPERAND_BUSY | 0x92);
	assert_int_equal(env_state(env, GPA_B + SZ_4K, TDPSIM_LEVEL_4K),
			 TDPSIM_SEPT_FREE);
	assert_int_equal(env_stat(env, TDPSIM_STAT_SEAMCALL_BUSY), 2);
	/* Two AUGs on different entries share the tree. */
	memset(&n, 0, sizeof(n));
	n.env = env;
	n.when = TDPSIM_TDH_MEM_PAGE_AUG;
	n.fn = nested_aug;
	n.gpa = GPA_B + 2 * SZ_4K;
	n.page = env_page(env);
	assert_ok(tdpsim_tdh_mem_page_aug(env->m, env->tdr, GPA_B + SZ_4K,
					  TDPSIM_LEVEL_4K, env_page(env) >> 12,
					  NULL, NULL));
	assert_ok(n.status);
	/* Locks are released: a BLOCK now goes through. */
	assert_ok(tdpsim_tdh_mem_range_block(env->m, env->tdr, GPA_B,
					     TDPSIM_LEVEL_4K, NULL, NULL));
}

/* The S-EPT entry lock: two AUGs of the same GPA. */
static void test_tdx_contention_entry_lock(void **state)
{
	struct nested n;
	struct tdx_env *env = hooked(state, &n, false);

	env_link(env, GPA_B, TDPSIM_LEVEL_4K);
	n.when = TDPSIM_TDH_MEM_PAGE_AUG;
	n.fn = nested_aug;
	n.gpa = GPA_B;
	n.page = env_page(env);
	assert_ok(tdpsim_tdh_mem_page_aug(env->m, env->tdr, GPA_B, TDPSIM_LEVEL_4K,
					  env_page(env) >> 12, NULL, NULL));
	assert_status(n.status, TDPSIM_TDX_OPERAND_BUSY | 1);
}

/* The TD epoch lock: VP.ENTER during TRACK. */
static void test_tdx_contention_epoch_lock(void **state)
{
	struct nested n;
	struct tdx_env *env = hooked(state, &n, false);

	n.when = TDPSIM_TDH_MEM_TRACK;
	n.fn = nested_enter;
	assert_ok(tdpsim_tdh_mem_track(env->m, env->tdr));
	assert_status(n.status, TDPSIM_TDX_OPERAND_BUSY | 0xA9);
	/* KVM re-enters: fine once TRACK is over. */
	assert_ok(tdpsim_tdh_vp_enter(env->m, env->tdvpr));
}

/* PAMT entry locks: PAMT.ADD on the region of a page being AUGed. */
static void test_tdx_contention_pamt_lock(void **state)
{
	struct nested n;
	struct tdx_env *env = hooked(state, &n, true);
	tdpsim_hpa_t page = env_page_nopair(env);

	env_link(env, GPA_B, TDPSIM_LEVEL_4K);
	/* The AUG of a page whose region PAMT.ADD is racing to back. */
	n.when = TDPSIM_TDH_PHYMEM_PAMT_ADD;
	n.fn = nested_aug;
	n.gpa = GPA_B;
	n.page = page;
	{
		tdpsim_hpa_t pair[2];

		env_pair(env, pair);
		assert_ok(tdpsim_tdh_phymem_pamt_add(env->m, page, pair));
	}
	assert_status(n.status, TDPSIM_TDX_OPERAND_BUSY | 8);
	/* And a PAMT.ADD racing with an AUG in the same region. */
	memset(&n, 0, sizeof(n));
	n.env = env;
	n.when = TDPSIM_TDH_MEM_PAGE_AUG;
	n.fn = nested_pamt_add;
	n.page = page;
	assert_ok(tdpsim_tdh_mem_page_aug(env->m, env->tdr, GPA_B, TDPSIM_LEVEL_4K,
					  page >> 12, NULL, NULL));
	assert_status(n.status, TDPSIM_TDX_OPERAND_BUSY | 1);
}

/* The guest's ACCEPT holds the entry lock: host BUSY, then host priority. */
static void test_tdx_contention_host_priority(void **state)
{
	struct nested n;
	struct tdx_env *env = hooked(state, &n, false);
	struct tdpsim_tdx_accept_result res;

	env_aug(env, GPA_B, TDPSIM_LEVEL_4K);
	env_aug(env, GPA_B + SZ_4K, TDPSIM_LEVEL_4K);
	assert_ok(tdpsim_tdh_vp_enter(env->m, env->tdvpr));
	n.when = TDPSIM_TDG_MEM_PAGE_ACCEPT;
	n.fn = nested_block;
	n.gpa = GPA_B;
	assert_int_equal(tdpsim_tdg_mem_page_accept(env->m, env->tdvpr, GPA_B,
						    TDPSIM_LEVEL_4K, &res), 0);
	assert_ok(res.status);
	assert_status(n.status, TDPSIM_TDX_OPERAND_BUSY | 1);
	/* The host asked first: the guest now backs off... */
	memset(&n, 0, sizeof(n));
	assert_int_equal(tdpsim_tdg_mem_page_accept(env->m, env->tdvpr, GPA_B,
						    TDPSIM_LEVEL_4K, &res), 0);
	assert_status(res.status, TDPSIM_TDX_OPERAND_BUSY_HOST_PRIORITY | 1);
	/* ...but not on other entries... */
	assert_int_equal(tdpsim_tdg_mem_page_accept(env->m, env->tdvpr,
						    GPA_B + SZ_4K,
						    TDPSIM_LEVEL_4K, &res), 0);
	assert_ok(res.status);
	/* ...until the host got its lock. */
	assert_ok(tdpsim_tdh_mem_range_block(env->m, env->tdr, GPA_B,
					     TDPSIM_LEVEL_4K, NULL, NULL));
	assert_int_equal(tdpsim_tdg_mem_page_accept(env->m, env->tdvpr, GPA_B,
						    TDPSIM_LEVEL_4K, &res), 0);
	/* BLOCKED at that level now: an EPT violation. */
	assert_true(res.exited);
	assert_int_equal(res.walk_state, TDPSIM_SEPT_BLOCKED);
}

/* ---- Dynamic PAMT ---- */

static void test_tdx_dpamt_rules(void **state)
{
	struct tdx_env *env = runnable(state, true);
	struct tdpsim_tdx_pamt_region_info r;
	tdpsim_hpa_t page = env_page_nopair(env), base = page, pair[2], out[2];
	uint64_t ext1, pairs = tdpsim_tdx_pamt_pairs(env->m);

	env_link(env, GPA_B, TDPSIM_LEVEL_4K);
	/* A 4K consumer without a pair. */
	assert_status(tdpsim_tdh_mem_page_aug(env->m, env->tdr, GPA_B,
					      TDPSIM_LEVEL_4K, page >> 12, NULL,
					      NULL),
		      TDPSIM_TDX_MISSING_PAMT_PAGE_PAIR | 8);
	assert_status(tdpsim_tdh_mem_sept_add(env->m, env->tdr, GPA_2M,
					      TDPSIM_LEVEL_1G, page, NULL, NULL),
		      TDPSIM_TDX_MISSING_PAMT_PAGE_PAIR | 8);
	assert_status(tdpsim_tdh_phymem_pamt_remove(env->m, base, NULL),
		      TDPSIM_TDX_NO_PAMT_PAGE_PAIR | 1);
	env_pair(env, pair);
	assert_status(tdpsim_tdh_phymem_pamt_add(env->m, base + SZ_4K, pair),
		      TDPSIM_TDX_OPERAND_INVALID | 1);
	assert_ok(tdpsim_tdh_phymem_pamt_add(env->m, base, pair));
	assert_int_equal(tdpsim_tdx_pamt_pairs(env->m), pairs + 1);
	assert_int_equal(env_stat(env, TDPSIM_STAT_PAMT_PAIRS), pairs + 1);
	/* Twice: HPA_RANGE_NOT_FREE; a pair page twice: PAGE_NOT_FREE. */
	{
		tdpsim_hpa_t other[2];

		env_pair(env, other);
		assert_status(tdpsim_tdh_phymem_pamt_add(env->m, base, other),
			      TDPSIM_TDX_HPA_RANGE_NOT_FREE | 1);
		other[1] = pair[0];
		assert_status(tdpsim_tdh_phymem_pamt_add(env->m, base + SZ_2M,
							 other),
			      TDPSIM_TDX_PAGE_NOT_FREE | 8);
		other[1] = other[0];
		assert_status(tdpsim_tdh_phymem_pamt_add(env->m, base + SZ_2M,
							 other),
			      TDPSIM_TDX_PAGE_NOT_FREE | 8);
	}
	/* 2M AUG of a region that has a pair. */
	env_link(env, GPA_2M, TDPSIM_LEVEL_2M);
	assert_status(tdpsim_tdh_mem_page_aug(env->m, env->tdr, GPA_2M,
					      TDPSIM_LEVEL_2M, base >> 12, NULL,
					      NULL),
		      TDPSIM_TDX_PAGE_METADATA_INCORRECT | 8);
	/* Pair pages are not for the TD, even in a region with a pair:
	 * here a region that holds its own pair. */
	{
		tdpsim_hpa_t self = env_page_nopair(env), own[2];

		own[0] = self + 510 * SZ_4K;
		own[1] = self + 511 * SZ_4K;
		assert_ok(tdpsim_tdh_phymem_pamt_add(env->m, self, own));
		assert_status(tdpsim_tdh_mem_page_aug(env->m, env->tdr, GPA_B,
						      TDPSIM_LEVEL_4K,
						      own[1] >> 12, NULL, NULL),
			      TDPSIM_TDX_PAGE_METADATA_INCORRECT | 8);
		assert_ok(tdpsim_tdh_phymem_pamt_remove(env->m, self, NULL));
		pairs = tdpsim_tdx_pamt_pairs(env->m) - 1;
	}

	/* Refcount = 4K users of the region. */
	for (int i = 0; i < 3; i++)
		assert_ok(tdpsim_tdh_mem_page_aug(env->m, env->tdr,
						  GPA_B + i * SZ_4K, TDPSIM_LEVEL_4K,
						  (base + i * SZ_4K) >> 12, NULL,
						  NULL));
	assert_int_equal(tdpsim_tdx_pamt_region(env->m, base, &r), 0);
	assert_true(r.pair);
	assert_int_equal(r.users, 3);
	assert_status(tdpsim_tdh_phymem_pamt_remove(env->m, base, NULL),
		      TDPSIM_TDX_PAMT_PAGE_NOT_EMPTY | 0);
	for (int i = 0; i < 3; i++) {
		assert_ok(tdpsim_tdh_mem_range_block(env->m, env->tdr,
						     GPA_B + i * SZ_4K,
						     TDPSIM_LEVEL_4K, NULL, NULL));
		assert_ok(tdpsim_tdh_mem_track(env->m, env->tdr));
		assert_ok(tdpsim_tdh_mem_page_remove(env->m, env->tdr,
						     GPA_B + i * SZ_4K,
						     TDPSIM_LEVEL_4K, &ext1, NULL));
		/* The last user gets the "pair can be removed" hint. */
		assert_int_equal(!!(ext1 & (1ULL << 62)), i == 2);
		assert_int_equal(ext1 & ~(1ULL << 62), base + i * SZ_4K);
	}
	assert_int_equal(tdpsim_tdx_pamt_region(env->m, base, &r), 0);
	assert_int_equal(r.users, 0);
	assert_ok(tdpsim_tdh_phymem_pamt_remove(env->m, base, out));
	assert_int_equal(out[0], pair[0]);
	assert_int_equal(out[1], pair[1]);
	assert_int_equal(tdpsim_tdx_pamt_pairs(env->m), pairs);
	assert_int_equal(env_stat(env, TDPSIM_STAT_PAMT_PAIRS), pairs);
	/* The pair pages are ordinary pages again. */
	assert_ok(tdpsim_tdh_phymem_pamt_add(env->m, base, out));
	assert_int_equal(env_stat(env, TDPSIM_STAT_SEAMCALL_PAMT_REMOVE), 4);
}

static void test_tdx_dpamt_disabled(void **state)
{
	struct tdx_env *env = runnable(state, false);
	tdpsim_hpa_t pair[2];

	env_pair(env, pair);
	assert_status(tdpsim_tdh_phymem_pamt_add(env->m, env_page_2m(env), pair),
		      TDPSIM_TDX_OPERAND_INVALID | 0);
	assert_status(tdpsim_tdh_phymem_pamt_remove(env->m, env_page_2m(env), NULL),
		      TDPSIM_TDX_OPERAND_INVALID | 0);
}

/* DEMOTE with DPAMT: the pair must be free. */
static void test_tdx_dpamt_demote_pair_checks(void **state)
{
	struct tdx_env *env = runnable(state, true);
	tdpsim_hpa_t page, sept = env_page(env), pair[2];

	page = env_aug(env, GPA_2M, TDPSIM_LEVEL_2M);
	assert_ok(tdpsim_tdh_mem_range_block(env->m, env->tdr, GPA_2M,
					     TDPSIM_LEVEL_2M, NULL, NULL));
	assert_ok(tdpsim_tdh_mem_track(env->m, env->tdr));
	/* A pair inside the 2M page being demoted. */
	pair[0] = page;
	pair[1] = page + SZ_4K;
	assert_status(tdpsim_tdh_mem_page_demote(env->m, env->tdr, GPA_2M,
						 TDPSIM_LEVEL_2M, sept, pair, NULL,
						 NULL),
		      TDPSIM_TDX_PAGE_NOT_FREE | 12);
	/* A pair page that is the TD's S-EPT page. */
	env_pair(env, pair);
	pair[1] = env->sept[0].hpa;
	assert_status(tdpsim_tdh_mem_page_demote(env->m, env->tdr, GPA_2M,
						 TDPSIM_LEVEL_2M, sept, pair, NULL,
						 NULL),
		      TDPSIM_TDX_PAGE_NOT_FREE | 13);
	pair[1] = pair[0] | (1ULL << 47);
	assert_status(tdpsim_tdh_mem_page_demote(env->m, env->tdr, GPA_2M,
						 TDPSIM_LEVEL_2M, sept, pair, NULL,
						 NULL),
		      TDPSIM_TDX_OPERAND_INVALID | 13);
	/* The new S-EPT page needs a pair for its own region. */
	env_pair(env, pair);
	assert_status(tdpsim_tdh_mem_page_demote(env->m, env->tdr, GPA_2M,
						 TDPSIM_LEVEL_2M,
						 env_page_nopair(env), pair, NULL,
						 NULL),
		      TDPSIM_TDX_MISSING_PAMT_PAGE_PAIR | 8);
	assert_ok(tdpsim_tdh_mem_page_demote(env->m, env->tdr, GPA_2M,
					     TDPSIM_LEVEL_2M, sept, pair, NULL,
					     NULL));
}

/* Destroying the module with pairs, TDs and pages live frees it all. */
static void test_tdx_destroy_live(void **state)
{
	struct tdx_env *env = runnable(state, true);

	env_aug(env, GPA_B, TDPSIM_LEVEL_4K);
	env_aug(env, GPA_2M, TDPSIM_LEVEL_2M);
	assert_true(tdpsim_tdx_pamt_pairs(env->m) > 0);
	assert_true(env_stat(env, TDPSIM_STAT_PAMT_PAIRS) > 0);
	/* teardown(): env_free() checks the gauge is back to 0. */
}

/* ---- the module from KVM's allocator ---- */

static void test_tdx_shared_allocator(void **state)
{
	struct tdpsim_allocator a;
	struct tdpsim_tdx_module *m;

	(void)state;
	assert_int_equal(allocator_init(&a, TDPSIM_ALLOC_LIBC), 0);
	assert_int_equal(tdxm_module_create(NULL, &a, &m), 0);
	assert_ok(tdpsim_tdh_mng_create(m, POOL_4K, 9));
	/* Two maps of two arrays each, a page and a region record. */
	assert_int_equal(allocator_live(&a, TDPSIM_ALLOC_KIND_PAMT), 6);
	assert_true(allocator_live(&a, TDPSIM_ALLOC_KIND_MISC) > 0);
	tdpsim_tdx_module_destroy(m);
	for (int k = 0; k < TDPSIM_ALLOC_KIND_NR; k++)
		assert_int_equal(allocator_live(&a, (enum tdpsim_alloc_kind)k), 0);
	allocator_finish(&a);
}

/* Injected allocation failures leave the module unchanged. */
static void test_tdx_alloc_failure(void **state)
{
	struct tdpsim_allocator a;
	struct tdpsim_tdx_module *m;
	tdpsim_hpa_t tdr = POOL_4K;
	uint64_t st;
	int failed = 0;

	(void)state;
	assert_int_equal(allocator_init(&a, TDPSIM_ALLOC_LIBC), 0);
	assert_int_equal(tdxm_module_create(NULL, &a, &m), 0);
	for (int i = 0; i < 8; i++) {
		allocator_inject_fail(&a, (uint64_t)i, 1);
		st = tdpsim_tdh_mng_create(m, tdr, 9);
		if (st == (TDPSIM_TDX_SW_ERROR | ENOMEM)) {
			failed++;
			assert_int_equal(tdpsim_tdx_nr_tds(m), 0);
			continue;
		}
		assert_ok(st);
		break;
	}
	assert_true(failed > 0);
	allocator_inject_fail(&a, 0, 0);
	assert_int_equal(tdpsim_tdx_nr_tds(m), 1);
	tdpsim_tdx_module_destroy(m);
	for (int k = 0; k < TDPSIM_ALLOC_KIND_NR; k++)
		assert_int_equal(allocator_live(&a, (enum tdpsim_alloc_kind)k), 0);
	allocator_finish(&a);
}

/* ---- inspection, sparseness, log, names ---- */

struct collect {
	unsigned int n;
	struct tdpsim_sept_entry_info e[64];
};

static int collect_entry(void *opaque, const struct tdpsim_sept_entry_info *e)
{
	struct collect *c = opaque;

	if (c->n < 64)
		c->e[c->n] = *e;
	c->n++;
	return 0;
}

/* A 16 TiB GPA space costs what is mapped. */
static void test_tdx_sparse_16t(void **state)
{
	struct tdx_env *env = runnable(state, false);
	uint64_t top = (16ULL << 40) - SZ_4K;
	struct collect c = { 0 };
	tdpsim_hpa_t lo, hi;

	lo = env_aug(env, 0, TDPSIM_LEVEL_4K);
	hi = env_aug(env, top, TDPSIM_LEVEL_4K);
	/* The root and 2 x 3 S-EPT pages. */
	assert_int_equal(tdpsim_tdx_module_alloc_live(env->m, TDPSIM_ALLOC_KIND_SEPT), 7);
	assert_true(tdpsim_tdx_module_alloc_live(env->m, TDPSIM_ALLOC_KIND_PAMT) < 64);
	assert_int_equal(tdpsim_tdx_sept_for_each(env->m, env->tdr, 0, UINT64_MAX,
						  collect_entry, &c), 0);
	assert_int_equal(c.n, 8);
	/* Pre-order, GPA order. */
	assert_int_equal(c.e[0].level, TDPSIM_LEVEL_512G);
	assert_int_equal(c.e[3].gpa, 0);
	assert_int_equal(c.e[3].level, TDPSIM_LEVEL_4K);
	assert_int_equal(c.e[3].hpa, lo);
	assert_int_equal(c.e[3].state, TDPSIM_SEPT_PENDING);
	assert_int_equal(c.e[7].gpa, top);
	assert_int_equal(c.e[7].hpa, hi);
	/* A range: only what overlaps it. */
	memset(&c, 0, sizeof(c));
	assert_int_equal(tdpsim_tdx_sept_for_each(env->m, env->tdr, 1ULL << 40,
						  16ULL << 40, collect_entry, &c), 0);
	assert_int_equal(c.n, 4);
	assert_int_equal(c.e[3].gpa, top);
	/* Lookups report where the walk stops. */
	{
		struct tdpsim_sept_entry_info e;

		assert_int_equal(tdpsim_tdx_sept_lookup(env->m, env->tdr,
							1ULL << 41, TDPSIM_LEVEL_4K,
							&e), 0);
		assert_int_equal(e.level, TDPSIM_LEVEL_512G);
		assert_int_equal(e.state, TDPSIM_SEPT_FREE);
		assert_int_equal(tdpsim_tdx_sept_lookup(env->m, env->tdr, 0, 6, &e),
				 -EINVAL);
		assert_int_equal(tdpsim_tdx_sept_lookup(env->m, env->tdvpr, 0, 1, &e),
				 -ENOENT);
	}
}

static void test_tdx_failure_log(void **state)
{
	struct tdpsim_tdx_module_config cfg;
	struct tdpsim_tdx_failure f;
	struct tdx_env *env;

	tdpsim_tdx_module_config_init(&cfg);
	cfg.failure_log = 4;
	env = env_new(&cfg);
	*state = env;
	env_build_td(env);
	env_finalize(env);
	assert_int_equal(tdpsim_tdx_failure_count(env->m), 0);
	assert_int_equal(tdpsim_tdx_failure_get(env->m, 1, &f), -ENOENT);
	for (int i = 0; i < 6; i++)
		assert_status(tdpsim_tdh_mem_page_aug(env->m, env->tdr, i * SZ_4K,
						      TDPSIM_LEVEL_4K, 0x123, NULL,
						      NULL),
			      TDPSIM_TDX_EPT_WALK_FAILED | 1);
	assert_int_equal(tdpsim_tdx_failure_count(env->m), 6);
	assert_int_equal(tdpsim_tdx_failure_get(env->m, 2, &f), -ENOENT);
	assert_int_equal(tdpsim_tdx_failure_get(env->m, 7, &f), -ENOENT);
	assert_int_equal(tdpsim_tdx_failure_get(env->m, 5, &f), 0);
	assert_int_equal(f.seq, 5);
	assert_int_equal(f.leaf, TDPSIM_TDH_MEM_PAGE_AUG);
	assert_int_equal(f.rcx, 4 * SZ_4K);
	assert_int_equal(f.rdx, env->tdr);
	assert_int_equal(f.r8, 0x123000);
	assert_int_equal(f.status, TDPSIM_TDX_EPT_WALK_FAILED | 1);
	assert_int_equal(f.ext_rdx, 3 | (TDPSIM_SEPT_FREE << 8));
	assert_false(f.injected);
}

static void test_tdx_names(void **state)
{
	static const uint32_t all[] = {
		TDPSIM_TDH_VP_ENTER, TDPSIM_TDH_MNG_ADDCX, TDPSIM_TDH_MEM_PAGE_ADD,
		TDPSIM_TDH_MEM_SEPT_ADD, TDPSIM_TDH_VP_ADDCX, TDPSIM_TDH_MEM_PAGE_AUG,
		TDPSIM_TDH_MEM_RANGE_BLOCK, TDPSIM_TDH_MNG_KEY_CONFIG,
		TDPSIM_TDH_MNG_CREATE, TDPSIM_TDH_VP_CREATE,
		TDPSIM_TDH_MEM_PAGE_DEMOTE, TDPSIM_TDH_MR_EXTEND,
		TDPSIM_TDH_MR_FINALIZE, TDPSIM_TDH_VP_FLUSH,
		TDPSIM_TDH_MNG_VPFLUSHDONE, TDPSIM_TDH_MNG_KEY_FREEID,
		TDPSIM_TDH_MNG_INIT, TDPSIM_TDH_VP_INIT,
		TDPSIM_TDH_MNG_KEY_RECLAIMID, TDPSIM_TDH_PHYMEM_PAGE_RECLAIM,
		TDPSIM_TDH_MEM_PAGE_REMOVE, TDPSIM_TDH_MEM_SEPT_REMOVE,
		TDPSIM_TDH_MEM_TRACK, TDPSIM_TDH_MEM_RANGE_UNBLOCK,
		TDPSIM_TDH_PHYMEM_CACHE_WB, TDPSIM_TDH_PHYMEM_PAGE_WBINVD,
		TDPSIM_TDH_PHYMEM_PAMT_ADD, TDPSIM_TDH_PHYMEM_PAMT_REMOVE,
		TDPSIM_TDG_MEM_PAGE_ACCEPT,
	};
	enum tdpsim_sept_state st;
	uint64_t status;
	uint32_t leaf;

	(void)state;
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		const char *name = tdpsim_tdx_leaf_name(all[i]);

		assert_non_null(name);
		assert_int_equal(tdpsim_tdx_leaf_from_name(name, &leaf), 0);
		assert_int_equal(leaf, all[i]);
	}
	assert_string_equal(tdpsim_tdx_leaf_name(TDPSIM_TDH_MEM_PAGE_DEMOTE),
			    "PAGE.DEMOTE");
	assert_int_equal(tdpsim_tdx_leaf_from_name("TDH.MEM.PAGE.DEMOTE", &leaf), 0);
	assert_int_equal(leaf, 15);
	assert_int_equal(tdpsim_tdx_leaf_from_name("MEM.TRACK", &leaf), 0);
	assert_int_equal(leaf, 38);
	assert_int_equal(tdpsim_tdx_leaf_from_name("PHYMEM.PAGE.RECLAIM", &leaf), 0);
	assert_int_equal(leaf, 28);
	assert_int_equal(tdpsim_tdx_leaf_from_name("PAGE.ACCEPT", &leaf), 0);
	assert_int_equal(leaf, TDPSIM_TDG_MEM_PAGE_ACCEPT);
	assert_int_equal(tdpsim_tdx_leaf_from_name("PAGE.PROMOTE", &leaf), -ENOENT);
	assert_null(tdpsim_tdx_leaf_name(23));

	assert_string_equal(tdpsim_tdx_status_name(TDPSIM_TDX_OPERAND_BUSY | 0x92),
			    "OPERAND_BUSY");
	assert_int_equal(tdpsim_tdx_status_from_name("TDX_EPT_PAGE_NOT_FREE", &status), 0);
	assert_int_equal(status, TDPSIM_TDX_EPT_PAGE_NOT_FREE);
	assert_int_equal(tdpsim_tdx_status_from_name("GPA_RANGE_ALREADY_BLOCKED",
						     &status), 0);
	assert_false(tdpsim_tdx_status_is_error(status));
	assert_true(tdpsim_tdx_status_is_error(TDPSIM_TDX_OPERAND_BUSY));
	assert_int_equal(tdpsim_tdx_status_operand(TDPSIM_TDX_OPERAND_BUSY | 0xA9), 0xA9);
	assert_int_equal(tdpsim_tdx_status_code(TDPSIM_TDX_OPERAND_BUSY | 0xA9),
			 TDPSIM_TDX_OPERAND_BUSY);
	assert_int_equal(tdpsim_tdx_status_from_name("NOPE", &status), -ENOENT);
	assert_null(tdpsim_tdx_status_name(0xC0000B7700000000ULL));

	assert_string_equal(tdpsim_sept_state_name(TDPSIM_SEPT_PENDING_BLOCKED),
			    "PENDING_BLOCKED");
	assert_int_equal(tdpsim_sept_state_from_name("NL_BLOCKED", &st), 0);
	assert_int_equal(st, TDPSIM_SEPT_NL_BLOCKED);
	assert_int_equal(tdpsim_sept_state_from_name("nope", &st), -ENOENT);
}

/* Policy: removed pages stay dirty with the TD's key until written back. */
static void test_tdx_dirty_pages(void **state)
{
	struct tdx_env *env = runnable(state, false);
	struct tdpsim_tdx_page_info pi;
	tdpsim_hpa_t page, p2m;

	page = env_aug(env, GPA_B, TDPSIM_LEVEL_4K);
	assert_ok(tdpsim_tdh_mem_range_block(env->m, env->tdr, GPA_B,
					     TDPSIM_LEVEL_4K, NULL, NULL));
	assert_ok(tdpsim_tdh_mem_track(env->m, env->tdr));
	/* WBINVD of a page the TD still has. */
	assert_status(tdpsim_tdh_phymem_page_wbinvd_hkid(env->m, TEST_HKID, page),
		      TDPSIM_TDX_PAGE_METADATA_INCORRECT | 1);
	assert_ok(tdpsim_tdh_mem_page_remove(env->m, env->tdr, GPA_B,
					     TDPSIM_LEVEL_4K, NULL, NULL));
	assert_int_equal(tdpsim_tdx_dirty_pages(env->m), 1);
	assert_int_equal(tdpsim_tdx_page_info(env->m, page, &pi), 0);
	assert_true(pi.cache_dirty);
	assert_int_equal(pi.dirty_hkid, TEST_HKID);
	/* With another key: still dirty. */
	assert_ok(tdpsim_tdh_phymem_page_wbinvd_hkid(env->m, TEST_HKID + 1, page));
	assert_int_equal(tdpsim_tdx_dirty_pages(env->m), 1);
	assert_ok(tdpsim_tdh_phymem_page_wbinvd_hkid(env->m, TEST_HKID, page));
	assert_int_equal(tdpsim_tdx_dirty_pages(env->m), 0);
	/* A 2M page: 512 pages to write back, or CACHE.WB at teardown. */
	p2m = env_aug(env, GPA_2M, TDPSIM_LEVEL_2M);
	assert_ok(tdpsim_tdh_mem_range_block(env->m, env->tdr, GPA_2M,
					     TDPSIM_LEVEL_2M, NULL, NULL));
	assert_ok(tdpsim_tdh_mem_track(env->m, env->tdr));
	assert_ok(tdpsim_tdh_mem_page_remove(env->m, env->tdr, GPA_2M,
					     TDPSIM_LEVEL_2M, NULL, NULL));
	assert_int_equal(tdpsim_tdx_dirty_pages(env->m), 512);
	assert_ok(tdpsim_tdh_phymem_page_wbinvd_hkid(env->m, TEST_HKID, p2m));
	assert_int_equal(tdpsim_tdx_dirty_pages(env->m), 511);
	assert_ok(tdpsim_tdh_vp_flush(env->m, env->tdvpr));
	assert_ok(tdpsim_tdh_mng_vpflushdone(env->m, env->tdr));
	assert_ok(tdpsim_tdh_phymem_cache_wb(env->m, true));
	assert_int_equal(tdpsim_tdx_dirty_pages(env->m), 0);
	assert_status(tdpsim_tdh_phymem_cache_wb(env->m, false),
		      TDPSIM_TDX_NO_HKID_READY_TO_WBCACHE);
}

/* Two packages: KEY.CONFIG and CACHE.WB once on each. */
static void test_tdx_packages(void **state)
{
	struct tdpsim_tdx_module_config cfg;
	struct tdx_env *env;
	tdpsim_hpa_t tdr;

	tdpsim_tdx_module_config_init(&cfg);
	cfg.nr_packages = 2;
	env = env_new(&cfg);
	*state = env;
	tdr = env_page(env);
	assert_ok(tdpsim_tdh_mng_create(env->m, tdr, 3));
	assert_ok(tdpsim_tdh_mng_key_config(env->m, tdr));
	assert_status(tdpsim_tdh_mng_addcx(env->m, tdr, env_page(env)),
		      TDPSIM_TDX_TD_KEYS_NOT_CONFIGURED);
	assert_ok(tdpsim_tdh_mng_key_config(env->m, tdr));
	assert_ok(tdpsim_tdh_mng_addcx(env->m, tdr, env_page(env)));
	/* VPFLUSHDONE with no vCPU (and no MNG.INIT). */
	assert_ok(tdpsim_tdh_mng_vpflushdone(env->m, tdr));
	assert_ok(tdpsim_tdh_phymem_cache_wb(env->m, false));
	assert_status(tdpsim_tdh_mng_key_freeid(env->m, tdr),
		      TDPSIM_TDX_WBCACHE_NOT_COMPLETE);
	assert_ok(tdpsim_tdh_phymem_cache_wb(env->m, false));
	assert_ok(tdpsim_tdh_mng_key_freeid(env->m, tdr));
	assert_ok(tdpsim_tdh_mng_key_reclaimid(env->m, tdr));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_tdx_build_and_finalize),
		T(test_tdx_runtime_aug_accept),
		T(test_tdx_zap_4k),
		T(test_tdx_split_2m),
		T(test_tdx_split_2m_dpamt),
		T(test_tdx_teardown),
		T(test_tdx_teardown_dpamt),
		T(test_tdx_teardown_any_order),
		T(test_tdx_remove_without_track),
		T(test_tdx_remove_without_block),
		T(test_tdx_remove_initialized_needs_no_block),
		T(test_tdx_sept_remove_parent_first),
		T(test_tdx_reclaim_sept_with_hkid),
		T(test_tdx_aug_same_page_twice),
		T(test_tdx_page_as_two_types),
		T(test_tdx_aug_before_finalize),
		T(test_tdx_early_aug_allowed_by_config),
		T(test_tdx_demote_without_block),
		T(test_tdx_accept_size_mismatch),
		T(test_tdx_accept_level_violation),
		T(test_tdx_walk_failed),
		T(test_tdx_sept_add_occupied),
		T(test_tdx_tlb_tracking),
		T(test_tdx_lifecycle_gates),
		T(test_tdx_create_checks),
		T(test_tdx_operand_checks),
		T(test_tdx_tdmr_range),
		T(test_tdx_unblock),
		T(test_tdx_inject_busy_aug),
		T(test_tdx_inject_busy_block),
		T(test_tdx_contention_tree_lock),
		T(test_tdx_contention_entry_lock),
		T(test_tdx_contention_epoch_lock),
		T(test_tdx_contention_pamt_lock),
		T(test_tdx_contention_host_priority),
		T(test_tdx_dpamt_rules),
		T(test_tdx_dpamt_disabled),
		T(test_tdx_dpamt_demote_pair_checks),
		T(test_tdx_destroy_live),
		T(test_tdx_shared_allocator),
		T(test_tdx_alloc_failure),
		T(test_tdx_sparse_16t),
		T(test_tdx_failure_log),
		T(test_tdx_names),
		T(test_tdx_dirty_pages),
		T(test_tdx_packages),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
