/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The S-EPT state x leaf table of tdx-module.md section 2.2, one CMocka
 * test per reachable cell: an entry at 2M (GPA 1 GiB) is put in the row's
 * state (blocked and tracked variants where the cell depends on TLB
 * tracking), the column's leaf runs, and the status, its operand id, the
 * extended error information and the entry's state afterwards are checked.
 * The REMOVED row is not reachable (only migration import creates it).
 * A few cells in op-state INITIALIZED show that tracking is not enforced
 * before MR.FINALIZE.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tdx-test.h"

#define G	0x40000000ULL	/* the entry under test: 2M at 1 GiB */

#define SI	TDPSIM_TDX_EPT_ENTRY_STATE_INCORRECT
#define NB	TDPSIM_TDX_GPA_RANGE_NOT_BLOCKED
#define TN	TDPSIM_TDX_TLB_TRACKING_NOT_DONE
#define AB	TDPSIM_TDX_GPA_RANGE_ALREADY_BLOCKED
#define EXIT	UINT64_MAX	/* ACCEPT: an EPT-violation TD exit */

enum row {
	R_FREE,
	R_NL_MAPPED,			/* an S-EPT page, empty */
	R_NL_MAPPED_CHILD,		/* an S-EPT page with a PENDING 4K */
	R_NL_BLOCKED,
	R_NL_BLOCKED_CHILD,
	R_MAPPED,
	R_BLOCKED,
	R_PENDING,
	R_PENDING_BLOCKED,
	R_MAPPED_4K,			/* INITIALIZED: PAGE.ADDed at 4K */
	R_BLOCKED_4K,			/* INITIALIZED: that, blocked */
};

enum col {
	C_SEPT_ADD,
	C_SEPT_ADD_EXISTING,		/* version 1, allow existing */
	C_AUG,
	C_BLOCK,
	C_UNBLOCK,
	C_REMOVE,
	C_SEPT_REMOVE,
	C_DEMOTE,
	C_ACCEPT,
	C_PAGE_ADD,			/* at 4K */
	C_REMOVE_4K,
};

struct cell {
	const char *name;
	enum row row;
	bool tracked;			/* TRACK after the setup */
	bool initialized;		/* TD not finalized */
	enum col col;
	uint64_t want;			/* full status, or EXIT */
	bool ext;			/* RDX out = level | state << 8 */
	enum tdpsim_sept_state after;	/* the entry at G, 2M, afterwards */
	enum tdpsim_sept_state child;	/* DEMOTE: the state of its children */
};

#define ST(s) TDPSIM_SEPT_##s

static const struct cell cells[] = {
	/* FREE */
	{ "FREE x SEPT.ADD -> NL_MAPPED", R_FREE, 0, 0, C_SEPT_ADD, 0, 0, ST(NL_MAPPED) },
	{ "FREE x PAGE.AUG -> PENDING", R_FREE, 0, 0, C_AUG, 0, 0, ST(PENDING) },
	{ "FREE x RANGE.BLOCK -> SI", R_FREE, 0, 0, C_BLOCK, SI | 1, 1, ST(FREE) },
	{ "FREE x RANGE.UNBLOCK -> SI", R_FREE, 0, 0, C_UNBLOCK, SI | 1, 1, ST(FREE) },
	{ "FREE x PAGE.REMOVE -> SI", R_FREE, 0, 0, C_REMOVE, SI | 1, 1, ST(FREE) },
	{ "FREE x SEPT.REMOVE -> SI", R_FREE, 0, 0, C_SEPT_REMOVE, SI | 1, 1, ST(FREE) },
	{ "FREE x PAGE.DEMOTE -> SI", R_FREE, 0, 0, C_DEMOTE, SI | 1, 1, ST(FREE) },
	{ "FREE x ACCEPT -> EPT violation", R_FREE, 0, 0, C_ACCEPT, EXIT, 0, ST(FREE) },
	/* NL_MAPPED */
	{ "NL_MAPPED x SEPT.ADD -> EPT_ENTRY_NOT_FREE", R_NL_MAPPED, 0, 0, C_SEPT_ADD,
	  TDPSIM_TDX_EPT_ENTRY_NOT_FREE | 1, 1, ST(NL_MAPPED) },
	{ "NL_MAPPED x SEPT.ADD(allow existing) -> ok", R_NL_MAPPED, 0, 0,
	  C_SEPT_ADD_EXISTING, 0, 0, ST(NL_MAPPED) },
	{ "NL_MAPPED x PAGE.AUG -> SI", R_NL_MAPPED, 0, 0, C_AUG, SI | 1, 1, ST(NL_MAPPED) },
	{ "NL_MAPPED x RANGE.BLOCK -> NL_BLOCKED", R_NL_MAPPED, 0, 0, C_BLOCK, 0, 0,
	  ST(NL_BLOCKED) },
	{ "NL_MAPPED x RANGE.UNBLOCK -> SI", R_NL_MAPPED, 0, 0, C_UNBLOCK, SI | 1, 1,
	  ST(NL_MAPPED) },
	{ "NL_MAPPED x PAGE.REMOVE -> SI", R_NL_MAPPED, 0, 0, C_REMOVE, SI | 1, 1,
	  ST(NL_MAPPED) },
	{ "NL_MAPPED x SEPT.REMOVE -> NB", R_NL_MAPPED, 0, 0, C_SEPT_REMOVE, NB | 1, 1,
	  ST(NL_MAPPED) },
	{ "NL_MAPPED x PAGE.DEMOTE -> SI", R_NL_MAPPED, 0, 0, C_DEMOTE, SI | 1, 1,
	  ST(NL_MAPPED) },
	{ "NL_MAPPED x ACCEPT -> PAGE_SIZE_MISMATCH", R_NL_MAPPED, 0, 0, C_ACCEPT,
	  TDPSIM_TDX_PAGE_SIZE_MISMATCH | 1, 0, ST(NL_MAPPED) },
	/* NL_BLOCKED */
	{ "NL_BLOCKED x SEPT.ADD -> SI", R_NL_BLOCKED, 0, 0, C_SEPT_ADD, SI | 1, 1,
	  ST(NL_BLOCKED) },
	{ "NL_BLOCKED x PAGE.AUG -> SI", R_NL_BLOCKED, 0, 0, C_AUG, SI | 1, 1,
	  ST(NL_BLOCKED) },
	{ "NL_BLOCKED x RANGE.BLOCK -> ALREADY_BLOCKED", R_NL_BLOCKED, 0, 0, C_BLOCK,
	  AB | 1, 1, ST(NL_BLOCKED) },
	{ "NL_BLOCKED x RANGE.UNBLOCK untracked -> TN", R_NL_BLOCKED, 0, 0, C_UNBLOCK,
	  TN | 0x92, 0, ST(NL_BLOCKED) },
	{ "NL_BLOCKED x RANGE.UNBLOCK tracked -> NL_MAPPED", R_NL_BLOCKED, 1, 0,
	  C_UNBLOCK, 0, 0, ST(NL_MAPPED) },
	{ "NL_BLOCKED x PAGE.REMOVE -> SI", R_NL_BLOCKED, 1, 0, C_REMOVE, SI | 1, 1,
	  ST(NL_BLOCKED) },
	{ "NL_BLOCKED x SEPT.REMOVE untracked -> TN", R_NL_BLOCKED, 0, 0,
	  C_SEPT_REMOVE, TN | 1, 0, ST(NL_BLOCKED) },
	{ "NL_BLOCKED x SEPT.REMOVE tracked, child -> EPT_PAGE_NOT_FREE",
	  R_NL_BLOCKED_CHILD, 1, 0, C_SEPT_REMOVE, TDPSIM_TDX_EPT_PAGE_NOT_FREE | 1, 1,
	  ST(NL_BLOCKED) },
	{ "NL_BLOCKED x SEPT.REMOVE tracked, empty -> FREE", R_NL_BLOCKED, 1, 0,
	  C_SEPT_REMOVE, 0, 0, ST(FREE) },
	{ "NL_BLOCKED x PAGE.DEMOTE -> SI", R_NL_BLOCKED, 1, 0, C_DEMOTE, SI | 1, 1,
	  ST(NL_BLOCKED) },
	{ "NL_BLOCKED x ACCEPT -> EPT violation", R_NL_BLOCKED, 0, 0, C_ACCEPT, EXIT, 0,
	  ST(NL_BLOCKED) },
	/* MAPPED */
	{ "MAPPED x SEPT.ADD -> SI", R_MAPPED, 0, 0, C_SEPT_ADD, SI | 1, 1, ST(MAPPED) },
	{ "MAPPED x PAGE.AUG -> SI", R_MAPPED, 0, 0, C_AUG, SI | 1, 1, ST(MAPPED) },
	{ "MAPPED x RANGE.BLOCK -> BLOCKED", R_MAPPED, 0, 0, C_BLOCK, 0, 0, ST(BLOCKED) },
	{ "MAPPED x RANGE.UNBLOCK -> SI", R_MAPPED, 0, 0, C_UNBLOCK, SI | 1, 1,
	  ST(MAPPED) },
	{ "MAPPED x PAGE.REMOVE -> NB", R_MAPPED, 0, 0, C_REMOVE, NB | 1, 1, ST(MAPPED) },
	{ "MAPPED x SEPT.REMOVE -> SI", R_MAPPED, 0, 0, C_SEPT_REMOVE, SI | 1, 1,
	  ST(MAPPED) },
	{ "MAPPED x PAGE.DEMOTE -> NB", R_MAPPED, 0, 0, C_DEMOTE, NB | 1, 1, ST(MAPPED) },
	{ "MAPPED x ACCEPT -> PAGE_ALREADY_ACCEPTED", R_MAPPED, 0, 0, C_ACCEPT,
	  TDPSIM_TDX_PAGE_ALREADY_ACCEPTED | 1, 0, ST(MAPPED) },
	/* BLOCKED */
	{ "BLOCKED x SEPT.ADD -> SI", R_BLOCKED, 0, 0, C_SEPT_ADD, SI | 1, 1, ST(BLOCKED) },
	{ "BLOCKED x PAGE.AUG -> SI", R_BLOCKED, 0, 0, C_AUG, SI | 1, 1, ST(BLOCKED) },
	{ "BLOCKED x RANGE.BLOCK -> ALREADY_BLOCKED", R_BLOCKED, 0, 0, C_BLOCK, AB | 1, 1,
	  ST(BLOCKED) },
	{ "BLOCKED x RANGE.UNBLOCK untracked -> TN", R_BLOCKED, 0, 0, C_UNBLOCK,
	  TN | 0x92, 0, ST(BLOCKED) },
	{ "BLOCKED x RANGE.UNBLOCK tracked -> MAPPED", R_BLOCKED, 1, 0, C_UNBLOCK, 0, 0,
	  ST(MAPPED) },
	{ "BLOCKED x PAGE.REMOVE untracked -> TN", R_BLOCKED, 0, 0, C_REMOVE, TN | 1, 0,
	  ST(BLOCKED) },
	{ "BLOCKED x PAGE.REMOVE tracked -> FREE", R_BLOCKED, 1, 0, C_REMOVE, 0, 0,
	  ST(FREE) },
	{ "BLOCKED x SEPT.REMOVE -> SI", R_BLOCKED, 1, 0, C_SEPT_REMOVE, SI | 1, 1,
	  ST(BLOCKED) },
	{ "BLOCKED x PAGE.DEMOTE untracked -> TN", R_BLOCKED, 0, 0, C_DEMOTE, TN | 1, 0,
	  ST(BLOCKED) },
	{ "BLOCKED x PAGE.DEMOTE tracked -> NL_MAPPED + 512 MAPPED", R_BLOCKED, 1, 0,
	  C_DEMOTE, 0, 0, ST(NL_MAPPED), ST(MAPPED) },
	{ "BLOCKED x ACCEPT -> EPT violation", R_BLOCKED, 0, 0, C_ACCEPT, EXIT, 0,
	  ST(BLOCKED) },
	/* PENDING */
	{ "PENDING x SEPT.ADD -> SI", R_PENDING, 0, 0, C_SEPT_ADD, SI | 1, 1, ST(PENDING) },
	{ "PENDING x PAGE.AUG -> SI", R_PENDING, 0, 0, C_AUG, SI | 1, 1, ST(PENDING) },
	{ "PENDING x RANGE.BLOCK -> PENDING_BLOCKED", R_PENDING, 0, 0, C_BLOCK, 0, 0,
	  ST(PENDING_BLOCKED) },
	{ "PENDING x RANGE.UNBLOCK -> SI", R_PENDING, 0, 0, C_UNBLOCK, SI | 1, 1,
	  ST(PENDING) },
	{ "PENDING x PAGE.REMOVE -> NB", R_PENDING, 0, 0, C_REMOVE, NB | 1, 1,
	  ST(PENDING) },
	{ "PENDING x SEPT.REMOVE -> SI", R_PENDING, 0, 0, C_SEPT_REMOVE, SI | 1, 1,
	  ST(PENDING) },
	{ "PENDING x PAGE.DEMOTE -> NB", R_PENDING, 0, 0, C_DEMOTE, NB | 1, 1,
	  ST(PENDING) },
	{ "PENDING x ACCEPT -> MAPPED", R_PENDING, 0, 0, C_ACCEPT, 0, 0, ST(MAPPED) },
	/* PENDING_BLOCKED */
	{ "PENDING_BLOCKED x SEPT.ADD -> SI", R_PENDING_BLOCKED, 0, 0, C_SEPT_ADD, SI | 1,
	  1, ST(PENDING_BLOCKED) },
	{ "PENDING_BLOCKED x PAGE.AUG -> SI", R_PENDING_BLOCKED, 0, 0, C_AUG, SI | 1, 1,
	  ST(PENDING_BLOCKED) },
	{ "PENDING_BLOCKED x RANGE.BLOCK -> ALREADY_BLOCKED", R_PENDING_BLOCKED, 0, 0,
	  C_BLOCK, AB | 1, 1, ST(PENDING_BLOCKED) },
	{ "PENDING_BLOCKED x RANGE.UNBLOCK untracked -> TN", R_PENDING_BLOCKED, 0, 0,
	  C_UNBLOCK, TN | 0x92, 0, ST(PENDING_BLOCKED) },
	{ "PENDING_BLOCKED x RANGE.UNBLOCK tracked -> PENDING", R_PENDING_BLOCKED, 1, 0,
	  C_UNBLOCK, 0, 0, ST(PENDING) },
	{ "PENDING_BLOCKED x PAGE.REMOVE untracked -> TN", R_PENDING_BLOCKED, 0, 0,
	  C_REMOVE, TN | 1, 0, ST(PENDING_BLOCKED) },
	{ "PENDING_BLOCKED x PAGE.REMOVE tracked -> FREE", R_PENDING_BLOCKED, 1, 0,
	  C_REMOVE, 0, 0, ST(FREE) },
	{ "PENDING_BLOCKED x SEPT.REMOVE -> SI", R_PENDING_BLOCKED, 1, 0, C_SEPT_REMOVE,
	  SI | 1, 1, ST(PENDING_BLOCKED) },
	{ "PENDING_BLOCKED x PAGE.DEMOTE untracked -> TN", R_PENDING_BLOCKED, 0, 0,
	  C_DEMOTE, TN | 1, 0, ST(PENDING_BLOCKED) },
	{ "PENDING_BLOCKED x PAGE.DEMOTE tracked -> NL_MAPPED + 512 PENDING",
	  R_PENDING_BLOCKED, 1, 0, C_DEMOTE, 0, 0, ST(NL_MAPPED), ST(PENDING) },
	{ "PENDING_BLOCKED x ACCEPT -> EPT violation", R_PENDING_BLOCKED, 0, 0, C_ACCEPT,
	  EXIT, 0, ST(PENDING_BLOCKED) },
	/* Op-state INITIALIZED: PAGE.ADD; no blocking or tracking needed. */
	{ "INITIALIZED FREE x PAGE.ADD -> MAPPED", R_FREE, 0, 1, C_PAGE_ADD, 0, 0,
	  ST(NL_MAPPED), ST(MAPPED) },
	{ "INITIALIZED MAPPED x PAGE.ADD -> SI", R_MAPPED_4K, 0, 1, C_PAGE_ADD, SI | 1, 1,
	  ST(NL_MAPPED), ST(MAPPED) },
	{ "INITIALIZED MAPPED x PAGE.REMOVE (no BLOCK) -> FREE", R_MAPPED_4K, 0, 1,
	  C_REMOVE_4K, 0, 0, ST(NL_MAPPED), ST(FREE) },
	{ "INITIALIZED BLOCKED x PAGE.REMOVE (no TRACK) -> FREE", R_BLOCKED_4K, 0, 1,
	  C_REMOVE_4K, 0, 0, ST(NL_MAPPED), ST(FREE) },
	{ "INITIALIZED NL_MAPPED x SEPT.REMOVE (no BLOCK) -> FREE", R_NL_MAPPED, 0, 1,
	  C_SEPT_REMOVE, 0, 0, ST(FREE) },
	{ "INITIALIZED NL_MAPPED x SEPT.REMOVE, child -> EPT_PAGE_NOT_FREE",
	  R_MAPPED_4K, 0, 1, C_SEPT_REMOVE, TDPSIM_TDX_EPT_PAGE_NOT_FREE | 1, 1,
	  ST(NL_MAPPED) },
	{ "INITIALIZED PENDING x PAGE.DEMOTE (no BLOCK) -> NL_MAPPED + 512 PENDING",
	  R_PENDING, 0, 1, C_DEMOTE, 0, 0, ST(NL_MAPPED), ST(PENDING) },
	{ "INITIALIZED NL_BLOCKED x RANGE.UNBLOCK (no TRACK) -> NL_MAPPED",
	  R_NL_BLOCKED, 0, 1, C_UNBLOCK, 0, 0, ST(NL_MAPPED) },
	/* Op-state RUNNABLE: no PAGE.ADD. */
	{ "RUNNABLE FREE x PAGE.ADD -> OP_STATE_INCORRECT", R_FREE, 0, 0, C_PAGE_ADD,
	  TDPSIM_TDX_OP_STATE_INCORRECT | TDPSIM_TD_OP_RUNNABLE, 0, ST(NL_MAPPED),
	  ST(FREE) },
};

static void block_g(struct tdx_env *env, int level)
{
	assert_ok(tdpsim_tdh_mem_range_block(env->m, env->tdr, G, level, NULL, NULL));
}

/* Put the entry at G in @c->row. */
static void setup_row(struct tdx_env *env, const struct cell *c)
{
	tdpsim_hpa_t page;

	env_link(env, G, TDPSIM_LEVEL_2M);
	switch (c->row) {
	case R_FREE:
		break;
	case R_NL_MAPPED:
	case R_NL_BLOCKED:
		env_link(env, G, TDPSIM_LEVEL_4K);
		if (c->row == R_NL_BLOCKED)
			block_g(env, TDPSIM_LEVEL_2M);
		break;
	case R_NL_MAPPED_CHILD:
	case R_NL_BLOCKED_CHILD:
		env_aug(env, G, TDPSIM_LEVEL_4K);
		if (c->row == R_NL_BLOCKED_CHILD)
			block_g(env, TDPSIM_LEVEL_2M);
		break;
	case R_PENDING:
	case R_PENDING_BLOCKED:
		env_aug(env, G, TDPSIM_LEVEL_2M);
		if (c->row == R_PENDING_BLOCKED)
			block_g(env, TDPSIM_LEVEL_2M);
		break;
	case R_MAPPED:
	case R_BLOCKED:
		env_aug(env, G, TDPSIM_LEVEL_2M);
		assert_ok(env_accept(env, G, TDPSIM_LEVEL_2M).status);
		if (c->row == R_BLOCKED)
			block_g(env, TDPSIM_LEVEL_2M);
		break;
	case R_MAPPED_4K:
	case R_BLOCKED_4K:
		env_link(env, G, TDPSIM_LEVEL_4K);
		page = env_page(env);
		assert_ok(tdpsim_tdh_mem_page_add(env->m, env->tdr, G, page >> 12,
						  0x5000, NULL, NULL));
		if (c->row == R_BLOCKED_4K)
			block_g(env, TDPSIM_LEVEL_4K);
		break;
	}
	/* PAGE.ADD works at 4K: it needs the S-EPT page below G. */
	if (c->col == C_PAGE_ADD)
		env_link(env, G, TDPSIM_LEVEL_4K);
	if (c->tracked)
		assert_ok(tdpsim_tdh_mem_track(env->m, env->tdr));
}

static uint64_t run_col(struct tdx_env *env, const struct cell *c,
			uint64_t *ext2, struct tdpsim_tdx_accept_result *res)
{
	struct tdpsim_tdx_args a = { 0 };
	tdpsim_hpa_t page;
	uint64_t st;

	switch (c->col) {
	case C_SEPT_ADD:
		return tdpsim_tdh_mem_sept_add(env->m, env->tdr, G, TDPSIM_LEVEL_2M,
					       env_page(env), NULL, ext2);
	case C_SEPT_ADD_EXISTING:
		page = env_page(env);
		a.rax = TDPSIM_TDH_MEM_SEPT_ADD | (1 << 16);
		a.rcx = G | 1;
		a.rdx = env->tdr | 1;
		a.r8 = page;
		st = tdpsim_tdx_seamcall(env->m, &a);
		*ext2 = a.rdx;
		return st;
	case C_AUG:
		return tdpsim_tdh_mem_page_aug(env->m, env->tdr, G, TDPSIM_LEVEL_2M,
					       env_page_2m(env) >> 12, NULL, ext2);
	case C_BLOCK:
		return tdpsim_tdh_mem_range_block(env->m, env->tdr, G,
						  TDPSIM_LEVEL_2M, NULL, ext2);
	case C_UNBLOCK:
		return tdpsim_tdh_mem_range_unblock(env->m, env->tdr, G,
						    TDPSIM_LEVEL_2M, NULL, ext2);
	case C_REMOVE:
		return tdpsim_tdh_mem_page_remove(env->m, env->tdr, G,
						  TDPSIM_LEVEL_2M, NULL, ext2);
	case C_REMOVE_4K:
		return tdpsim_tdh_mem_page_remove(env->m, env->tdr, G,
						  TDPSIM_LEVEL_4K, NULL, ext2);
	case C_SEPT_REMOVE:
		return tdpsim_tdh_mem_sept_remove(env->m, env->tdr, G,
						  TDPSIM_LEVEL_2M, NULL, ext2);
	case C_DEMOTE:
		return tdpsim_tdh_mem_page_demote(env->m, env->tdr, G,
						  TDPSIM_LEVEL_2M, env_page(env),
						  NULL, NULL, ext2);
	case C_ACCEPT:
		*res = env_accept(env, G, TDPSIM_LEVEL_2M);
		return res->exited ? EXIT : res->status;
	case C_PAGE_ADD:
		return tdpsim_tdh_mem_page_add(env->m, env->tdr, G,
					       env_page(env) >> 12, 0x6000, NULL,
					       ext2);
	}
	fail();
	return 0;
}

static void test_cell(void **state)
{
	const struct cell *c = *state;
	struct tdpsim_tdx_module_config cfg;
	struct tdpsim_tdx_accept_result res = { 0 };
	enum tdpsim_sept_state before;
	struct tdx_env *env;
	uint64_t ext2 = 0, st;

	tdpsim_tdx_module_config_init(&cfg);
	/* Only to build a PENDING 2M page before finalize. */
	cfg.allow_early_aug = c->initialized;
	env = env_new(&cfg);
	env_build_td(env);
	if (!c->initialized)
		env_finalize(env);
	setup_row(env, c);
	before = env_state(env, G, TDPSIM_LEVEL_2M);

	st = run_col(env, c, &ext2, &res);
	assert_status(st, c->want);
	if (c->ext) {
		int level = (c->col == C_PAGE_ADD || c->col == C_REMOVE_4K) ? 0 : 1;
		enum tdpsim_sept_state s = level ? before :
				env_state(env, G, TDPSIM_LEVEL_4K);

		assert_int_equal(ext2, (uint64_t)level | (uint64_t)s << 8);
	}
	if (c->want == EXIT) {
		assert_true(res.exited);
		assert_int_equal(res.walk_level, TDPSIM_LEVEL_2M);
		assert_int_equal(res.walk_state, before);
		assert_int_equal((res.eeq >> 38) & 0xff, before);
	}
	assert_int_equal(env_state(env, G, TDPSIM_LEVEL_2M), c->after);
	if (c->child) {
		/* Every child in that state, at contiguous HPAs. */
		struct tdpsim_sept_entry_info e0, e;

		assert_int_equal(tdpsim_tdx_sept_lookup(env->m, env->tdr, G,
							TDPSIM_LEVEL_4K, &e0), 0);
		if (c->col == C_PAGE_ADD || c->col == C_REMOVE_4K) {
			assert_int_equal(e0.level, TDPSIM_LEVEL_4K);
			assert_int_equal(e0.state, c->child);
		} else {
			for (unsigned int i = 0; i < 512; i++) {
				assert_int_equal(tdpsim_tdx_sept_lookup(env->m,
						env->tdr, G + i * SZ_4K,
						TDPSIM_LEVEL_4K, &e), 0);
				assert_int_equal(e.level, TDPSIM_LEVEL_4K);
				assert_int_equal(e.state, c->child);
				assert_int_equal(e.hpa, e0.hpa + i * SZ_4K);
			}
		}
	}
	/* A refused call changes nothing. */
	if (tdpsim_tdx_status_is_error(st))
		assert_int_equal(before, env_state(env, G, TDPSIM_LEVEL_2M));
	env_free(env);
}

int main(void)
{
	struct CMUnitTest tests[sizeof(cells) / sizeof(cells[0])];

	for (size_t i = 0; i < sizeof(cells) / sizeof(cells[0]); i++) {
		memset(&tests[i], 0, sizeof(tests[i]));
		tests[i].name = cells[i].name;
		tests[i].test_func = test_cell;
		tests[i].initial_state = (void *)&cells[i];
	}
	return _cmocka_run_group_tests("tdx-sept-table", tests,
				       sizeof(tests) / sizeof(tests[0]), NULL,
				       NULL);
}
