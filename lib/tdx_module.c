/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tdx_module.c - the fake TDX Module object: creation, SEAMCALL dispatch,
 * the model of the module's own locks, status injection, the failed-call
 * log, counters, the typed wrappers KVM's side calls, and inspection.
 *
 * A call runs in three steps. (1) Under the module mutex the leaf checks
 * its operands and the state, takes the module locks the real leaf takes
 * (tdxm_lock(): TDR, S-EPT tree, S-EPT entry, TD epoch, PAMT entries), in
 * the real order, and, if everything holds, commits its effect. (2) The
 * mutex is dropped and the optional hook runs: the call is still "inside
 * the module" and holds its locks. (3) Under the mutex again the locks are
 * released. A call that overlaps another one's step 2 and needs a lock it
 * holds answers TDX_OPERAND_BUSY with the operand id the real module gives,
 * which is how host contention becomes visible.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "tdx.h"

/* ---- leaves ---- */

#define OPS_U (1u << TDPSIM_TD_OP_UNINITIALIZED)
#define OPS_I (1u << TDPSIM_TD_OP_INITIALIZED)
#define OPS_R (1u << TDPSIM_TD_OP_RUNNABLE)

struct leaf_desc {
	uint32_t leaf;
	const char *name;		/* the trace language's and counters' */
	const char *full;		/* the module's */
	uint64_t (*fn)(struct tdxm_call *c);
	int stat;			/* enum tdpsim_stat, or -1 */
	unsigned int op_states;		/* op-states the leaf runs in (MOD15
					 * op_state_lookup), where it checks */
};

static const struct leaf_desc leaves[] = {
	{ TDPSIM_TDH_VP_ENTER, "VP.ENTER", "TDH.VP.ENTER", tdxm_vp_enter, -1, OPS_R },
	{ TDPSIM_TDH_MNG_ADDCX, "MNG.ADDCX", "TDH.MNG.ADDCX", tdxm_mng_addcx, -1, OPS_U },
	{ TDPSIM_TDH_MEM_PAGE_ADD, "PAGE.ADD", "TDH.MEM.PAGE.ADD", tdxm_mem_page_add,
	  TDPSIM_STAT_SEAMCALL_PAGE_ADD, OPS_I },
	{ TDPSIM_TDH_MEM_SEPT_ADD, "SEPT.ADD", "TDH.MEM.SEPT.ADD", tdxm_mem_sept_add,
	  TDPSIM_STAT_SEAMCALL_SEPT_ADD, OPS_I | OPS_R },
	{ TDPSIM_TDH_VP_ADDCX, "VP.ADDCX", "TDH.VP.ADDCX", tdxm_vp_addcx, -1, OPS_I },
	{ TDPSIM_TDH_MEM_PAGE_AUG, "PAGE.AUG", "TDH.MEM.PAGE.AUG", tdxm_mem_page_aug,
	  TDPSIM_STAT_SEAMCALL_PAGE_AUG, OPS_I | OPS_R },
	{ TDPSIM_TDH_MEM_RANGE_BLOCK, "RANGE.BLOCK", "TDH.MEM.RANGE.BLOCK",
	  tdxm_mem_range_block, TDPSIM_STAT_SEAMCALL_RANGE_BLOCK, OPS_I | OPS_R },
	{ TDPSIM_TDH_MNG_KEY_CONFIG, "MNG.KEY.CONFIG", "TDH.MNG.KEY.CONFIG",
	  tdxm_mng_key_config, -1, 0 },
	{ TDPSIM_TDH_MNG_CREATE, "MNG.CREATE", "TDH.MNG.CREATE", tdxm_mng_create, -1, 0 },
	{ TDPSIM_TDH_VP_CREATE, "VP.CREATE", "TDH.VP.CREATE", tdxm_vp_create, -1, OPS_I },
	{ TDPSIM_TDH_MEM_PAGE_DEMOTE, "PAGE.DEMOTE", "TDH.MEM.PAGE.DEMOTE",
	  tdxm_mem_page_demote, TDPSIM_STAT_SEAMCALL_PAGE_DEMOTE, OPS_I | OPS_R },
	{ TDPSIM_TDH_MR_EXTEND, "MR.EXTEND", "TDH.MR.EXTEND", tdxm_mr_extend, -1, OPS_I },
	{ TDPSIM_TDH_MR_FINALIZE, "MR.FINALIZE", "TDH.MR.FINALIZE", tdxm_mr_finalize,
	  TDPSIM_STAT_SEAMCALL_MR_FINALIZE, OPS_I },
	{ TDPSIM_TDH_VP_FLUSH, "VP.FLUSH", "TDH.VP.FLUSH", tdxm_vp_flush, -1,
	  OPS_U | OPS_I | OPS_R },
	{ TDPSIM_TDH_MNG_VPFLUSHDONE, "MNG.VPFLUSHDONE", "TDH.MNG.VPFLUSHDONE",
	  tdxm_mng_vpflushdone, -1, 0 },
	{ TDPSIM_TDH_MNG_KEY_FREEID, "MNG.KEY.FREEID", "TDH.MNG.KEY.FREEID",
	  tdxm_mng_key_freeid, -1, 0 },
	{ TDPSIM_TDH_MNG_INIT, "MNG.INIT", "TDH.MNG.INIT", tdxm_mng_init, -1, OPS_U },
	{ TDPSIM_TDH_VP_INIT, "VP.INIT", "TDH.VP.INIT", tdxm_vp_init, -1, OPS_I },
	{ TDPSIM_TDH_MNG_KEY_RECLAIMID, "MNG.KEY.RECLAIMID", "TDH.MNG.KEY.RECLAIMID",
	  tdxm_mng_key_reclaimid, -1, 0 },
	{ TDPSIM_TDH_PHYMEM_PAGE_RECLAIM, "PAGE.RECLAIM", "TDH.PHYMEM.PAGE.RECLAIM",
	  tdxm_phymem_page_reclaim, TDPSIM_STAT_SEAMCALL_PAGE_RECLAIM, 0 },
	{ TDPSIM_TDH_MEM_PAGE_REMOVE, "PAGE.REMOVE", "TDH.MEM.PAGE.REMOVE",
	  tdxm_mem_page_remove, TDPSIM_STAT_SEAMCALL_PAGE_REMOVE, OPS_I | OPS_R },
	{ TDPSIM_TDH_MEM_SEPT_REMOVE, "SEPT.REMOVE", "TDH.MEM.SEPT.REMOVE",
	  tdxm_mem_sept_remove, TDPSIM_STAT_SEAMCALL_SEPT_REMOVE, OPS_I | OPS_R },
	{ TDPSIM_TDH_MEM_TRACK, "MEM.TRACK", "TDH.MEM.TRACK", tdxm_mem_track,
	  TDPSIM_STAT_SEAMCALL_MEM_TRACK, OPS_I | OPS_R },
	{ TDPSIM_TDH_MEM_RANGE_UNBLOCK, "RANGE.UNBLOCK", "TDH.MEM.RANGE.UNBLOCK",
	  tdxm_mem_range_unblock, TDPSIM_STAT_SEAMCALL_RANGE_UNBLOCK, OPS_I | OPS_R },
	{ TDPSIM_TDH_PHYMEM_CACHE_WB, "CACHE.WB", "TDH.PHYMEM.CACHE.WB",
	  tdxm_phymem_cache_wb, -1, 0 },
	{ TDPSIM_TDH_PHYMEM_PAGE_WBINVD, "PAGE.WBINVD", "TDH.PHYMEM.PAGE.WBINVD",
	  tdxm_phymem_page_wbinvd, TDPSIM_STAT_SEAMCALL_PAGE_WBINVD, 0 },
	{ TDPSIM_TDH_PHYMEM_PAMT_ADD, "PAMT.ADD", "TDH.PHYMEM.PAMT.ADD",
	  tdxm_phymem_pamt_add, TDPSIM_STAT_SEAMCALL_PAMT_ADD, 0 },
	{ TDPSIM_TDH_PHYMEM_PAMT_REMOVE, "PAMT.REMOVE", "TDH.PHYMEM.PAMT.REMOVE",
	  tdxm_phymem_pamt_remove, TDPSIM_STAT_SEAMCALL_PAMT_REMOVE, 0 },
	{ TDPSIM_TDG_MEM_PAGE_ACCEPT, "PAGE.ACCEPT", "TDG.MEM.PAGE.ACCEPT",
	  tdxm_mem_page_accept, -1, 0 },
};

static const struct leaf_desc *leaf_desc_find(uint32_t leaf)
{
	for (size_t i = 0; i < ARRAY_SIZE(leaves); i++)
		if (leaves[i].leaf == leaf)
			return &leaves[i];
	return NULL;
}

/* The slot of @leaf in per-leaf tables, or -1. */
static int leaf_slot(uint32_t leaf)
{
	if (leaf == TDPSIM_TDG_MEM_PAGE_ACCEPT)
		return TDX_NR_LEAF_SLOTS - 1;
	if (leaf < TDX_NR_LEAF_SLOTS - 1)
		return (int)leaf;
	return -1;
}

/* The highest version (RAX bits 23:16) of @leaf: SEPT.ADD v1 adds "allow
 * existing", DEMOTE v1 is accepted (and means the same) for kernels that
 * pass it with the Dynamic-PAMT pair. */
static uint32_t leaf_max_version(uint32_t leaf)
{
	if (leaf == TDPSIM_TDH_MEM_SEPT_ADD || leaf == TDPSIM_TDH_MEM_PAGE_DEMOTE)
		return 1;
	return 0;
}

unsigned int tdxm_leaf_op_states(uint32_t leaf)
{
	const struct leaf_desc *d = leaf_desc_find(leaf);

	return d ? d->op_states : 0;
}

const char *tdpsim_tdx_leaf_name(uint32_t leaf)
{
	const struct leaf_desc *d = leaf_desc_find(leaf);

	return d ? d->name : NULL;
}

int tdpsim_tdx_leaf_from_name(const char *name, uint32_t *ret_leaf)
{
	if (!name || !ret_leaf)
		return -EINVAL;
	for (size_t i = 0; i < ARRAY_SIZE(leaves); i++) {
		const struct leaf_desc *d = &leaves[i];
		/* "TDH.MEM.PAGE.DEMOTE" -> "MEM.PAGE.DEMOTE" -> "PAGE.DEMOTE" */
		const char *quick = d->full + 4;

		if (!strcmp(name, d->name) || !strcmp(name, d->full) ||
		    !strcmp(name, quick) ||
		    (!strncmp(quick, "MEM.", 4) && !strcmp(name, quick + 4))) {
			*ret_leaf = d->leaf;
			return 0;
		}
	}
	return -ENOENT;
}

/* ---- statuses and states ---- */

static const struct {
	const char *name;
	uint64_t code;
} statuses[] = {
	{ "SUCCESS", TDPSIM_TDX_SUCCESS },
	{ "INTERRUPTED_RESUMABLE", TDPSIM_TDX_INTERRUPTED_RESUMABLE },
	{ "INTERRUPTED_RESTARTABLE", TDPSIM_TDX_INTERRUPTED_RESTARTABLE },
	{ "OPERAND_INVALID", TDPSIM_TDX_OPERAND_INVALID },
	{ "OPERAND_ADDR_RANGE_ERROR", TDPSIM_TDX_OPERAND_ADDR_RANGE_ERROR },
	{ "OPERAND_BUSY", TDPSIM_TDX_OPERAND_BUSY },
	{ "PREVIOUS_TLB_EPOCH_BUSY", TDPSIM_TDX_PREVIOUS_TLB_EPOCH_BUSY },
	{ "SYS_BUSY", TDPSIM_TDX_SYS_BUSY },
	{ "RND_NO_ENTROPY", TDPSIM_TDX_RND_NO_ENTROPY },
	{ "OPERAND_BUSY_HOST_PRIORITY", TDPSIM_TDX_OPERAND_BUSY_HOST_PRIORITY },
	{ "PAGE_METADATA_INCORRECT", TDPSIM_TDX_PAGE_METADATA_INCORRECT },
	{ "PAGE_ALREADY_FREE", TDPSIM_TDX_PAGE_ALREADY_FREE },
	{ "PAGE_NOT_OWNED_BY_TD", TDPSIM_TDX_PAGE_NOT_OWNED_BY_TD },
	{ "PAGE_NOT_FREE", TDPSIM_TDX_PAGE_NOT_FREE },
	{ "HPA_RANGE_NOT_FREE", TDPSIM_TDX_HPA_RANGE_NOT_FREE },
	{ "NO_PAMT_PAGE_PAIR", TDPSIM_TDX_NO_PAMT_PAGE_PAIR },
	{ "PAMT_PAGE_NOT_EMPTY", TDPSIM_TDX_PAMT_PAGE_NOT_EMPTY },
	{ "INTERRUPTED_PAMT", TDPSIM_TDX_INTERRUPTED_PAMT },
	{ "MISSING_PAMT_PAGE_PAIR", TDPSIM_TDX_MISSING_PAMT_PAGE_PAIR },
	{ "TD_ASSOCIATED_PAGES_EXIST", TDPSIM_TDX_TD_ASSOCIATED_PAGES_EXIST },
	{ "TD_FATAL", TDPSIM_TDX_TD_FATAL },
	{ "TDCS_NOT_ALLOCATED", TDPSIM_TDX_TDCS_NOT_ALLOCATED },
	{ "LIFECYCLE_STATE_INCORRECT", TDPSIM_TDX_LIFECYCLE_STATE_INCORRECT },
	{ "OP_STATE_INCORRECT", TDPSIM_TDX_OP_STATE_INCORRECT },
	{ "TDCX_NUM_INCORRECT", TDPSIM_TDX_TDCX_NUM_INCORRECT },
	{ "VCPU_STATE_INCORRECT", TDPSIM_TDX_VCPU_STATE_INCORRECT },
	{ "VCPU_NOT_ASSOCIATED", TDPSIM_TDX_VCPU_NOT_ASSOCIATED },
	{ "TD_KEYS_NOT_CONFIGURED", TDPSIM_TDX_TD_KEYS_NOT_CONFIGURED },
	{ "KEY_CONFIGURED", TDPSIM_TDX_KEY_CONFIGURED },
	{ "WBCACHE_NOT_COMPLETE", TDPSIM_TDX_WBCACHE_NOT_COMPLETE },
	{ "HKID_NOT_FREE", TDPSIM_TDX_HKID_NOT_FREE },
	{ "NO_HKID_READY_TO_WBCACHE", TDPSIM_TDX_NO_HKID_READY_TO_WBCACHE },
	{ "FLUSHVP_NOT_DONE", TDPSIM_TDX_FLUSHVP_NOT_DONE },
	{ "EPT_WALK_FAILED", TDPSIM_TDX_EPT_WALK_FAILED },
	{ "EPT_ENTRY_FREE", TDPSIM_TDX_EPT_ENTRY_FREE },
	{ "EPT_ENTRY_NOT_FREE", TDPSIM_TDX_EPT_ENTRY_NOT_FREE },
	{ "GPA_RANGE_NOT_BLOCKED", TDPSIM_TDX_GPA_RANGE_NOT_BLOCKED },
	{ "GPA_RANGE_ALREADY_BLOCKED", TDPSIM_TDX_GPA_RANGE_ALREADY_BLOCKED },
	{ "TLB_TRACKING_NOT_DONE", TDPSIM_TDX_TLB_TRACKING_NOT_DONE },
	{ "EPT_INVALID_PROMOTE_CONDITIONS", TDPSIM_TDX_EPT_INVALID_PROMOTE_CONDITIONS },
	{ "PAGE_ALREADY_ACCEPTED", TDPSIM_TDX_PAGE_ALREADY_ACCEPTED },
	{ "PAGE_SIZE_MISMATCH", TDPSIM_TDX_PAGE_SIZE_MISMATCH },
	{ "GPA_RANGE_BLOCKED", TDPSIM_TDX_GPA_RANGE_BLOCKED },
	{ "EPT_ENTRY_STATE_INCORRECT", TDPSIM_TDX_EPT_ENTRY_STATE_INCORRECT },
	{ "EPT_PAGE_NOT_FREE", TDPSIM_TDX_EPT_PAGE_NOT_FREE },
	{ "SW_ERROR", TDPSIM_TDX_SW_ERROR },
};

const char *tdpsim_tdx_status_name(uint64_t status)
{
	uint64_t code = status & TDPSIM_TDX_STATUS_MASK;

	for (size_t i = 0; i < ARRAY_SIZE(statuses); i++)
		if (statuses[i].code == code)
			return statuses[i].name;
	return NULL;
}

int tdpsim_tdx_status_from_name(const char *name, uint64_t *ret_status)
{
	if (!name || !ret_status)
		return -EINVAL;
	if (!strncmp(name, "TDX_", 4))
		name += 4;
	for (size_t i = 0; i < ARRAY_SIZE(statuses); i++) {
		if (!strcmp(name, statuses[i].name)) {
			*ret_status = statuses[i].code;
			return 0;
		}
	}
	return -ENOENT;
}

static const struct {
	enum tdpsim_sept_state state;
	const char *name;
} sept_states[] = {
	{ TDPSIM_SEPT_FREE, "FREE" },
	{ TDPSIM_SEPT_BLOCKED, "BLOCKED" },
	{ TDPSIM_SEPT_PENDING, "PENDING" },
	{ TDPSIM_SEPT_PENDING_BLOCKED, "PENDING_BLOCKED" },
	{ TDPSIM_SEPT_MAPPED, "MAPPED" },
	{ TDPSIM_SEPT_REMOVED, "REMOVED" },
	{ TDPSIM_SEPT_NL_BLOCKED, "NL_BLOCKED" },
	{ TDPSIM_SEPT_NL_MAPPED, "NL_MAPPED" },
};

const char *tdpsim_sept_state_name(enum tdpsim_sept_state state)
{
	for (size_t i = 0; i < ARRAY_SIZE(sept_states); i++)
		if (sept_states[i].state == state)
			return sept_states[i].name;
	return NULL;
}

int tdpsim_sept_state_from_name(const char *name, enum tdpsim_sept_state *ret_state)
{
	if (!name || !ret_state)
		return -EINVAL;
	for (size_t i = 0; i < ARRAY_SIZE(sept_states); i++) {
		if (!strcmp(name, sept_states[i].name)) {
			*ret_state = sept_states[i].state;
			return 0;
		}
	}
	return -ENOENT;
}

/* ---- the object ---- */

void tdpsim_tdx_module_config_init(struct tdpsim_tdx_module_config *cfg)
{
	if (!cfg)
		return;
	memset(cfg, 0, sizeof(*cfg));
	cfg->nr_packages = 1;
	cfg->tdcs_pages = 4;
	cfg->tdvps_pages = 4;
	cfg->pa_bits = 46;
	cfg->hkid_bits = 6;
	cfg->global_hkid = 1;
	cfg->failure_log = 256;
}

static int check_config(struct tdpsim_tdx_module_config *cfg)
{
	uint64_t pa_limit;

	if (!cfg->nr_packages || cfg->nr_packages > 64 ||
	    !cfg->tdcs_pages || cfg->tdcs_pages > 64 ||
	    !cfg->tdvps_pages || cfg->tdvps_pages > 64)
		return -EINVAL;
	if (cfg->pa_bits < 32 || !cfg->hkid_bits || cfg->hkid_bits > 16 ||
	    cfg->pa_bits + cfg->hkid_bits > 52)
		return -EINVAL;
	if (!cfg->global_hkid || cfg->global_hkid >= (1u << cfg->hkid_bits))
		return -EINVAL;
	if (!cfg->failure_log || cfg->failure_log > (1u << 20))
		return -EINVAL;
	pa_limit = 1ULL << cfg->pa_bits;
	if (!cfg->tdmr_size)
		cfg->tdmr_size = pa_limit - cfg->tdmr_base;
	if ((cfg->tdmr_base | cfg->tdmr_size) & ((1ULL << TDX_2M_SHIFT) - 1) ||
	    cfg->tdmr_base >= pa_limit || cfg->tdmr_size > pa_limit - cfg->tdmr_base)
		return -EINVAL;
	return 0;
}

int tdxm_module_create(const struct tdpsim_tdx_module_config *cfg,
		      struct tdpsim_allocator *alloc,
		      struct tdpsim_tdx_module **ret_module)
{
	struct tdpsim_tdx_module_config c;
	struct tdpsim_tdx_module *m;
	int ret;

	if (!ret_module)
		return -EINVAL;
	if (cfg)
		c = *cfg;
	else
		tdpsim_tdx_module_config_init(&c);
	ret = check_config(&c);
	if (ret)
		return ret;

	/* The object itself is not counted: it holds the allocator. */
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->cfg = c;
	if (alloc) {
		m->alloc = alloc;
	} else {
		ret = allocator_init(&m->own_alloc, TDPSIM_ALLOC_LIBC);
		if (ret)
			goto err_free;
		m->alloc = &m->own_alloc;
	}
	ret = -ENOMEM;
	m->hkid_used = alloc_obj(m->alloc, TDPSIM_ALLOC_KIND_MISC,
				 (size_t)1 << c.hkid_bits);
	if (!m->hkid_used)
		goto err_alloc;
	m->hkid_used[c.global_hkid] = 1;
	m->log = alloc_obj(m->alloc, TDPSIM_ALLOC_KIND_MISC,
			   sizeof(*m->log) * c.failure_log);
	if (!m->log)
		goto err_hkid;
	m->cap_locks = 32;
	m->locks = alloc_obj(m->alloc, TDPSIM_ALLOC_KIND_MISC,
			     sizeof(*m->locks) * m->cap_locks);
	if (!m->locks)
		goto err_log;
	if (pthread_mutex_init(&m->lock, NULL))
		goto err_locks;
	m->hkid_mask = ((1ULL << c.hkid_bits) - 1) << c.pa_bits;
	m->max_pa = 1ULL << (c.pa_bits + c.hkid_bits);
	*ret_module = m;
	return 0;

err_locks:
	free_obj(m->alloc, TDPSIM_ALLOC_KIND_MISC, m->locks,
		 sizeof(*m->locks) * m->cap_locks);
err_log:
	free_obj(m->alloc, TDPSIM_ALLOC_KIND_MISC, m->log,
		 sizeof(*m->log) * c.failure_log);
err_hkid:
	free_obj(m->alloc, TDPSIM_ALLOC_KIND_MISC, m->hkid_used,
		 (size_t)1 << c.hkid_bits);
err_alloc:
	if (m->alloc == &m->own_alloc)
		allocator_finish(&m->own_alloc);
err_free:
	free(m);
	return ret;
}

int tdpsim_tdx_module_create(const struct tdpsim_tdx_module_config *cfg,
			     struct tdpsim_tdx_module **ret_module)
{
	return tdxm_module_create(cfg, NULL, ret_module);
}

void tdpsim_tdx_module_destroy(struct tdpsim_tdx_module *m)
{
	if (!m)
		return;
	/* TDs, vCPUs and S-EPT pages hang off the PAMT records. */
	pamt_free_all(m);
	if (m->pairs)
		tdxm_count(m, TDPSIM_STAT_PAMT_PAIRS, -(int64_t)m->pairs);
	free_obj(m->alloc, TDPSIM_ALLOC_KIND_MISC, m->locks,
		 sizeof(*m->locks) * m->cap_locks);
	free_obj(m->alloc, TDPSIM_ALLOC_KIND_MISC, m->log,
		 sizeof(*m->log) * m->cfg.failure_log);
	free_obj(m->alloc, TDPSIM_ALLOC_KIND_MISC, m->hkid_used,
		 (size_t)1 << m->cfg.hkid_bits);
	pthread_mutex_destroy(&m->lock);
	if (m->alloc == &m->own_alloc)
		allocator_finish(&m->own_alloc);
	free(m);
}

uint64_t tdpsim_tdx_module_alloc_live(struct tdpsim_tdx_module *m,
				      enum tdpsim_alloc_kind kind)
{
	if (!m || (unsigned int)kind >= TDPSIM_ALLOC_KIND_NR)
		return 0;
	return allocator_live(m->alloc, kind);
}

/* ---- the module's locks ---- */

static struct tdxm_lock_rec *lock_find(struct tdpsim_tdx_module *m, uint8_t kind,
				      uint64_t k1, uint64_t k2)
{
	for (unsigned int i = 0; i < m->nr_locks; i++) {
		struct tdxm_lock_rec *r = &m->locks[i];

		if (r->kind == kind && r->k1 == k1 && r->k2 == k2)
			return r;
	}
	return NULL;
}

static struct tdxm_lock_rec *lock_new(struct tdpsim_tdx_module *m, uint8_t kind,
				     uint64_t k1, uint64_t k2)
{
	struct tdxm_lock_rec *r;

	if (m->nr_locks == m->cap_locks) {
		unsigned int cap = m->cap_locks * 2;
		struct tdxm_lock_rec *n;

		n = alloc_obj(m->alloc, TDPSIM_ALLOC_KIND_MISC, sizeof(*n) * cap);
		if (!n)
			return NULL;
		memcpy(n, m->locks, sizeof(*n) * m->nr_locks);
		free_obj(m->alloc, TDPSIM_ALLOC_KIND_MISC, m->locks,
			 sizeof(*n) * m->cap_locks);
		m->locks = n;
		m->cap_locks = cap;
	}
	r = &m->locks[m->nr_locks++];
	memset(r, 0, sizeof(*r));
	r->kind = kind;
	r->k1 = k1;
	r->k2 = k2;
	return r;
}

static void lock_drop_if_idle(struct tdpsim_tdx_module *m, struct tdxm_lock_rec *r)
{
	if (r->excl || r->shared || r->host_prio)
		return;
	*r = m->locks[--m->nr_locks];
}

/*
 * tdxm_lock() - take module lock (@kind, @k1, @k2) shared or exclusive for
 * call @c, until the call ends. Returns 0, or the status the real module
 * answers when it cannot: OPERAND_BUSY on @operand (for a guest-side
 * caller, OPERAND_BUSY_HOST_PRIORITY once a host call has been refused the
 * same lock). A host call refused a lock a guest holds marks it "host
 * priority", as the real S-EPT entry lock does. A call may take a lock it
 * holds again, and upgrade it if it is the only sharer.
 */
uint64_t tdxm_lock(struct tdxm_call *c, enum tdxm_lock_kind kind, uint64_t k1,
		  uint64_t k2, bool excl, uint32_t operand)
{
	struct tdpsim_tdx_module *m = c->m;
	struct tdxm_lock_rec *r = lock_find(m, (uint8_t)kind, k1, k2);
	unsigned int i;

	for (i = 0; i < c->nr_held; i++) {
		if (c->held[i].kind == kind && c->held[i].k1 == k1 &&
		    c->held[i].k2 == k2)
			break;
	}
	if (i < c->nr_held) {
		if (!excl || c->held[i].excl)
			return TDX_SUCCESS;
		if (r->shared != 1 || r->excl)
			goto busy;
		r->shared = 0;
		r->excl = true;
		r->guest = c->guest;
		c->held[i].excl = true;
		return TDX_SUCCESS;
	}
	if (TDPSIM_WARN_ON_ONCE(c->nr_held == TDX_MAX_HELD))
		return TDX_SW_ERROR | ENOSPC;
	if (r) {
		if (r->excl || (excl && r->shared))
			goto busy;
		if (c->guest && r->host_prio)
			return tdxm_err(TDX_OPERAND_BUSY_HOST_PRIORITY, operand);
	} else {
		r = lock_new(m, (uint8_t)kind, k1, k2);
		if (!r)
			return TDX_SW_ERROR | ENOMEM;
	}
	if (excl) {
		r->excl = true;
		r->guest = c->guest;
	} else {
		r->shared++;
	}
	if (!c->guest)
		r->host_prio = false;
	c->held[c->nr_held].kind = (uint8_t)kind;
	c->held[c->nr_held].excl = excl;
	c->held[c->nr_held].k1 = k1;
	c->held[c->nr_held].k2 = k2;
	c->nr_held++;
	return TDX_SUCCESS;

busy:
	if (!c->guest && r->excl && r->guest)
		r->host_prio = true;
	if (c->guest && r->host_prio)
		return tdxm_err(TDX_OPERAND_BUSY_HOST_PRIORITY, operand);
	return tdxm_err(TDX_OPERAND_BUSY, operand);
}

/* Release every lock call @c holds. Module mutex held. */
static void tdxm_unlock_all(struct tdxm_call *c)
{
	struct tdpsim_tdx_module *m = c->m;

	for (unsigned int i = 0; i < c->nr_held; i++) {
		struct tdxm_lock_rec *r = lock_find(m, c->held[i].kind,
						   c->held[i].k1, c->held[i].k2);

		if (TDPSIM_WARN_ON_ONCE(!r))
			continue;
		if (c->held[i].excl) {
			r->excl = false;
			r->guest = false;
		} else if (!TDPSIM_WARN_ON_ONCE(!r->shared)) {
			r->shared--;
		}
		lock_drop_if_idle(m, r);
	}
	c->nr_held = 0;
}

/*
 * tdxm_lock_page() - lock the PAMT entry of host page @hpa as pamt_walk()
 * does: for a 4K page (@size 0) its 2M entry shared and its 4K entry in
 * the mode asked; for a 2M page its 2M entry in the mode asked.
 */
uint64_t tdxm_lock_page(struct tdxm_call *c, tdpsim_hpa_t hpa, int size,
		       bool excl, uint32_t operand)
{
	uint64_t ret;

	if (size)
		return tdxm_lock(c, LK_PAMT_2M, hpa >> TDX_2M_SHIFT, 0, excl, operand);
	ret = tdxm_lock(c, LK_PAMT_2M, hpa >> TDX_2M_SHIFT, 0, false, operand);
	if (ret)
		return ret;
	return tdxm_lock(c, LK_PAMT_4K, hpa >> TDX_PAGE_SHIFT, 0, excl, operand);
}

/* ---- checks every leaf shares ---- */

/*
 * tdxm_check_hpa() - a private HPA operand: aligned to @align, no key-ID
 * bits, below MAX_PA (else OPERAND_INVALID), inside the TDMR (else
 * OPERAND_ADDR_RANGE_ERROR).
 */
uint64_t tdxm_check_hpa(struct tdpsim_tdx_module *m, uint64_t hpa,
		       uint64_t align, uint32_t operand)
{
	if ((hpa & (align - 1)) || (hpa & m->hkid_mask) || hpa >= m->max_pa)
		return tdxm_err(TDX_OPERAND_INVALID, operand);
	if (hpa < m->cfg.tdmr_base || hpa - m->cfg.tdmr_base >= m->cfg.tdmr_size)
		return tdxm_err(TDX_OPERAND_ADDR_RANGE_ERROR, operand);
	return TDX_SUCCESS;
}

/*
 * tdxm_get_td() - the TDR operand (check_lock_and_map_explicit_tdr()): a
 * valid HPA, its PAMT entry locked (@excl or shared), of type PT_TDR.
 */
uint64_t tdxm_get_td(struct tdxm_call *c, uint64_t tdr, uint32_t operand,
		    bool excl, struct tdxm_td **ret_td)
{
	void *obj;
	uint64_t ret;

	ret = tdxm_get_page_obj(c, tdr, PT_TDR, operand, excl, &obj);
	if (!ret)
		*ret_td = obj;
	return ret;
}

uint64_t tdxm_get_page_obj(struct tdxm_call *c, uint64_t hpa,
			   enum tdpsim_tdx_page_type type, uint32_t operand,
			   bool excl, void **ret_obj)
{
	struct pamt_page *p;
	uint64_t ret;

	ret = tdxm_check_hpa(c->m, hpa, 1ULL << TDX_PAGE_SHIFT, operand);
	if (ret)
		return ret;
	ret = tdxm_lock_page(c, hpa, 0, excl, operand);
	if (ret)
		return ret;
	p = pamt_page_find(c->m, hpa >> TDX_PAGE_SHIFT);
	if (!p || p->type != type)
		return tdxm_err(TDX_PAGE_METADATA_INCORRECT, operand);
	*ret_obj = p->obj;
	return TDX_SUCCESS;
}

/*
 * tdxm_check_td_state() - check_state_map_tdcs_and_lock(): keys configured
 * (so neither VPFLUSHDONE nor FREEID has run), every TDCS page added, and
 * an op-state in which the call's leaf runs (for PAGE.AUG, unless
 * config.allow_early_aug, only RUNNABLE).
 */
uint64_t tdxm_check_td_state(struct tdxm_call *c, struct tdxm_td *td)
{
	if (td->lifecycle != TDPSIM_TD_KEYS_CONFIGURED)
		return TDX_TD_KEYS_NOT_CONFIGURED;
	if (td->nr_tdcs < c->m->cfg.tdcs_pages)
		return TDX_TDCS_NOT_ALLOCATED;
	if (!(tdxm_leaf_op_states(c->leaf) & (1u << td->op_state)))
		return tdxm_err(TDX_OP_STATE_INCORRECT, td->op_state);
	/* Policy: the real module allows it, KVM never does it. */
	if (c->leaf == TDPSIM_TDH_MEM_PAGE_AUG && !c->m->cfg.allow_early_aug &&
	    td->op_state != TDPSIM_TD_OP_RUNNABLE)
		return tdxm_err(TDX_OP_STATE_INCORRECT, td->op_state);
	return TDX_SUCCESS;
}

/*
 * tdxm_is_tracked() - is_tlb_tracked(): a TRACK has moved the TD epoch past
 * @bepoch and no vCPU that entered in @bepoch is still in the guest.
 */
bool tdxm_is_tracked(const struct tdxm_td *td, uint64_t bepoch)
{
	if (bepoch + 1 < td->epoch)
		return true;
	if (bepoch + 1 == td->epoch)
		return td->refcount[bepoch & 1] == 0;
	return false;
}

/* ---- dispatch ---- */

static void log_failure(struct tdpsim_tdx_module *m, const struct tdxm_call *c,
			uint64_t status, bool injected)
{
	struct tdpsim_tdx_failure *f;

	m->nr_failures++;
	f = &m->log[(m->nr_failures - 1) % m->cfg.failure_log];
	f->seq = m->nr_failures;
	f->leaf = c->leaf;
	f->version = c->version;
	f->rcx = c->in.rcx;
	f->rdx = c->in.rdx;
	f->r8 = c->in.r8;
	f->r9 = c->in.r9;
	f->r12 = c->in.r12;
	f->r13 = c->in.r13;
	f->status = status;
	f->ext_rcx = c->a->rcx;
	f->ext_rdx = c->a->rdx;
	f->injected = injected;
}

/*
 * run_call() - the three steps of a call (see the top of this file). The
 * caller set c->m, c->a, c->guest (and for a TDCALL c->vcpu's TDVPR in
 * c->in); c->a->rax holds the leaf and version.
 */
static uint64_t run_call(struct tdxm_call *c)
{
	struct tdpsim_tdx_module *m = c->m;
	const struct leaf_desc *d;
	bool injected = false;
	uint64_t status;
	int slot;

	c->in = *c->a;
	c->leaf = (uint32_t)(c->in.rax & 0xffff);
	if (c->guest)
		c->leaf |= TDPSIM_TDX_LEAF_TDCALL;
	c->version = (uint32_t)((c->in.rax >> 16) & 0xff);
	d = leaf_desc_find(c->leaf);
	slot = leaf_slot(c->leaf);

	pthread_mutex_lock(&m->lock);
	if (slot >= 0)
		m->calls[slot]++;
	if (d && d->stat >= 0)
		tdxm_count(m, (enum tdpsim_stat)d->stat, 1);
	/* By default no extended error information is returned. */
	c->a->rcx = 0;
	c->a->rdx = 0;
	if (slot >= 0 && m->inject[slot].left) {
		m->inject[slot].left--;
		status = m->inject[slot].status;
		injected = true;
	} else if (!d || (c->in.rax >> 24) || c->version > leaf_max_version(c->leaf)) {
		/* A leaf or a version of a leaf the module does not have. */
		status = tdxm_err(TDX_OPERAND_INVALID, OPERAND_ID_RAX);
	} else {
		status = d->fn(c);
	}
	c->a->rax = status;
	if ((status & TDPSIM_TDX_STATUS_MASK) == TDX_OPERAND_BUSY && !c->guest)
		tdxm_count(m, TDPSIM_STAT_SEAMCALL_BUSY, 1);
	if (c->guest && c->accept)
		c->accept->status = c->accept->exited ? 0 : status;
	if (status != TDX_SUCCESS && !(c->guest && c->accept && c->accept->exited))
		log_failure(m, c, status, injected);
	pthread_mutex_unlock(&m->lock);

	if (m->cfg.hook)
		m->cfg.hook(m->cfg.hook_opaque, c->leaf, status);
	if (c->nr_held) {
		pthread_mutex_lock(&m->lock);
		tdxm_unlock_all(c);
		pthread_mutex_unlock(&m->lock);
	}
	return status;
}

uint64_t tdpsim_tdx_seamcall(struct tdpsim_tdx_module *m,
			     struct tdpsim_tdx_args *args)
{
	struct tdxm_call c;

	if (!m || !args)
		return TDX_SW_ERROR | EINVAL;
	memset(&c, 0, sizeof(c));
	c.m = m;
	c.a = args;
	return run_call(&c);
}

int tdpsim_tdx_inject(struct tdpsim_tdx_module *m, uint32_t leaf,
		      uint64_t status, uint64_t count)
{
	int slot;

	if (!m || !leaf_desc_find(leaf) || status == TDX_SUCCESS)
		return -EINVAL;
	slot = leaf_slot(leaf);
	if (TDPSIM_WARN_ON_ONCE(slot < 0))
		return -EINVAL;
	pthread_mutex_lock(&m->lock);
	m->inject[slot].status = status;
	m->inject[slot].left = count;
	pthread_mutex_unlock(&m->lock);
	return 0;
}

/* ---- typed wrappers ---- */

/* GPA | TDX level from a pg_level; an invalid level stays invalid. */
static uint64_t page_info(uint64_t gpa, int level)
{
	return gpa | (uint64_t)((unsigned int)(level - 1) & 7);
}

static uint64_t call(struct tdpsim_tdx_module *m, struct tdpsim_tdx_args *a,
		     uint32_t leaf, uint64_t *ext_err1, uint64_t *ext_err2)
{
	uint64_t ret;

	a->rax = leaf;
	ret = tdpsim_tdx_seamcall(m, a);
	if (ext_err1)
		*ext_err1 = a->rcx;
	if (ext_err2)
		*ext_err2 = a->rdx;
	return ret;
}

uint64_t tdpsim_tdh_mng_create(struct tdpsim_tdx_module *m, tdpsim_hpa_t tdr,
			       uint16_t hkid)
{
	struct tdpsim_tdx_args a = { .rcx = tdr, .rdx = hkid };

	return call(m, &a, TDPSIM_TDH_MNG_CREATE, NULL, NULL);
}

uint64_t tdpsim_tdh_mng_key_config(struct tdpsim_tdx_module *m, tdpsim_hpa_t tdr)
{
	struct tdpsim_tdx_args a = { .rcx = tdr };

	return call(m, &a, TDPSIM_TDH_MNG_KEY_CONFIG, NULL, NULL);
}

uint64_t tdpsim_tdh_mng_addcx(struct tdpsim_tdx_module *m, tdpsim_hpa_t tdr,
			      tdpsim_hpa_t tdcs_page)
{
	struct tdpsim_tdx_args a = { .rcx = tdcs_page, .rdx = tdr };

	return call(m, &a, TDPSIM_TDH_MNG_ADDCX, NULL, NULL);
}

uint64_t tdpsim_tdh_mng_init(struct tdpsim_tdx_module *m, tdpsim_hpa_t tdr,
			     unsigned int sept_levels, uint64_t *ext_err)
{
	struct tdpsim_tdx_args a = { .rcx = tdr, .rdx = sept_levels };

	return call(m, &a, TDPSIM_TDH_MNG_INIT, ext_err, NULL);
}

uint64_t tdpsim_tdh_vp_create(struct tdpsim_tdx_module *m, tdpsim_hpa_t tdr,
			      tdpsim_hpa_t tdvpr)
{
	struct tdpsim_tdx_args a = { .rcx = tdvpr, .rdx = tdr };

	return call(m, &a, TDPSIM_TDH_VP_CREATE, NULL, NULL);
}

uint64_t tdpsim_tdh_vp_addcx(struct tdpsim_tdx_module *m, tdpsim_hpa_t tdvpr,
			     tdpsim_hpa_t tdcx_page)
{
	struct tdpsim_tdx_args a = { .rcx = tdcx_page, .rdx = tdvpr };

	return call(m, &a, TDPSIM_TDH_VP_ADDCX, NULL, NULL);
}

uint64_t tdpsim_tdh_vp_init(struct tdpsim_tdx_module *m, tdpsim_hpa_t tdvpr,
			    uint32_t x2apic_id)
{
	struct tdpsim_tdx_args a = { .rcx = tdvpr, .rdx = x2apic_id };

	return call(m, &a, TDPSIM_TDH_VP_INIT, NULL, NULL);
}

uint64_t tdpsim_tdh_mem_sept_add(struct tdpsim_tdx_module *m, tdpsim_hpa_t tdr,
				 uint64_t gpa, int level, tdpsim_hpa_t sept_page,
				 uint64_t *ext_err1, uint64_t *ext_err2)
{
	struct tdpsim_tdx_args a = {
		.rcx = page_info(gpa, level), .rdx = tdr, .r8 = sept_page,
	};

	return call(m, &a, TDPSIM_TDH_MEM_SEPT_ADD, ext_err1, ext_err2);
}

uint64_t tdpsim_tdh_mem_page_add(struct tdpsim_tdx_module *m, tdpsim_hpa_t tdr,
				 uint64_t gpa, tdpsim_pfn_t pfn,
				 tdpsim_hpa_t source, uint64_t *ext_err1,
				 uint64_t *ext_err2)
{
	struct tdpsim_tdx_args a = {
		.rcx = gpa, .rdx = tdr, .r8 = pfn << TDX_PAGE_SHIFT, .r9 = source,
	};

	return call(m, &a, TDPSIM_TDH_MEM_PAGE_ADD, ext_err1, ext_err2);
}

uint64_t tdpsim_tdh_mr_extend(struct tdpsim_tdx_module *m, tdpsim_hpa_t tdr,
			      uint64_t gpa, uint64_t *ext_err1, uint64_t *ext_err2)
{
	struct tdpsim_tdx_args a = { .rcx = gpa, .rdx = tdr };

	return call(m, &a, TDPSIM_TDH_MR_EXTEND, ext_err1, ext_err2);
}

uint64_t tdpsim_tdh_mr_finalize(struct tdpsim_tdx_module *m, tdpsim_hpa_t tdr)
{
	struct tdpsim_tdx_args a = { .rcx = tdr };

	return call(m, &a, TDPSIM_TDH_MR_FINALIZE, NULL, NULL);
}

uint64_t tdpsim_tdh_mem_page_aug(struct tdpsim_tdx_module *m, tdpsim_hpa_t tdr,
				 uint64_t gpa, int level, tdpsim_pfn_t pfn,
				 uint64_t *ext_err1, uint64_t *ext_err2)
{
	struct tdpsim_tdx_args a = {
		.rcx = page_info(gpa, level), .rdx = tdr,
		.r8 = pfn << TDX_PAGE_SHIFT,
	};

	return call(m, &a, TDPSIM_TDH_MEM_PAGE_AUG, ext_err1, ext_err2);
}

uint64_t tdpsim_tdh_mem_range_block(struct tdpsim_tdx_module *m, tdpsim_hpa_t tdr,
				    uint64_t gpa, int level, uint64_t *ext_err1,
				    uint64_t *ext_err2)
{
	struct tdpsim_tdx_args a = { .rcx = page_info(gpa, level), .rdx = tdr };

	return call(m, &a, TDPSIM_TDH_MEM_RANGE_BLOCK, ext_err1, ext_err2);
}

uint64_t tdpsim_tdh_mem_range_unblock(struct tdpsim_tdx_module *m,
				      tdpsim_hpa_t tdr, uint64_t gpa, int level,
				      uint64_t *ext_err1, uint64_t *ext_err2)
{
	struct tdpsim_tdx_args a = { .rcx = page_info(gpa, level), .rdx = tdr };

	return call(m, &a, TDPSIM_TDH_MEM_RANGE_UNBLOCK, ext_err1, ext_err2);
}

uint64_t tdpsim_tdh_mem_track(struct tdpsim_tdx_module *m, tdpsim_hpa_t tdr)
{
	struct tdpsim_tdx_args a = { .rcx = tdr };

	return call(m, &a, TDPSIM_TDH_MEM_TRACK, NULL, NULL);
}

uint64_t tdpsim_tdh_mem_page_remove(struct tdpsim_tdx_module *m, tdpsim_hpa_t tdr,
				    uint64_t gpa, int level, uint64_t *ext_err1,
				    uint64_t *ext_err2)
{
	struct tdpsim_tdx_args a = { .rcx = page_info(gpa, level), .rdx = tdr };

	return call(m, &a, TDPSIM_TDH_MEM_PAGE_REMOVE, ext_err1, ext_err2);
}

uint64_t tdpsim_tdh_mem_sept_remove(struct tdpsim_tdx_module *m, tdpsim_hpa_t tdr,
				    uint64_t gpa, int level, uint64_t *ext_err1,
				    uint64_t *ext_err2)
{
	struct tdpsim_tdx_args a = { .rcx = page_info(gpa, level), .rdx = tdr };

	return call(m, &a, TDPSIM_TDH_MEM_SEPT_REMOVE, ext_err1, ext_err2);
}

uint64_t tdpsim_tdh_mem_page_demote(struct tdpsim_tdx_module *m, tdpsim_hpa_t tdr,
				    uint64_t gpa, int level,
				    tdpsim_hpa_t new_sept_page,
				    const tdpsim_hpa_t *pamt_pair,
				    uint64_t *ext_err1, uint64_t *ext_err2)
{
	struct tdpsim_tdx_args a = {
		.rcx = page_info(gpa, level), .rdx = tdr, .r8 = new_sept_page,
		.r12 = pamt_pair ? pamt_pair[0] : 0,
		.r13 = pamt_pair ? pamt_pair[1] : 0,
	};

	return call(m, &a, TDPSIM_TDH_MEM_PAGE_DEMOTE, ext_err1, ext_err2);
}

uint64_t tdpsim_tdh_vp_enter(struct tdpsim_tdx_module *m, tdpsim_hpa_t tdvpr)
{
	struct tdpsim_tdx_args a = { .rcx = tdvpr };

	return call(m, &a, TDPSIM_TDH_VP_ENTER, NULL, NULL);
}

uint64_t tdpsim_tdh_vp_flush(struct tdpsim_tdx_module *m, tdpsim_hpa_t tdvpr)
{
	struct tdpsim_tdx_args a = { .rcx = tdvpr };

	return call(m, &a, TDPSIM_TDH_VP_FLUSH, NULL, NULL);
}

uint64_t tdpsim_tdh_mng_vpflushdone(struct tdpsim_tdx_module *m, tdpsim_hpa_t tdr)
{
	struct tdpsim_tdx_args a = { .rcx = tdr };

	return call(m, &a, TDPSIM_TDH_MNG_VPFLUSHDONE, NULL, NULL);
}

uint64_t tdpsim_tdh_phymem_cache_wb(struct tdpsim_tdx_module *m, bool resume)
{
	struct tdpsim_tdx_args a = { .rcx = resume ? 1 : 0 };

	return call(m, &a, TDPSIM_TDH_PHYMEM_CACHE_WB, NULL, NULL);
}

uint64_t tdpsim_tdh_mng_key_freeid(struct tdpsim_tdx_module *m, tdpsim_hpa_t tdr)
{
	struct tdpsim_tdx_args a = { .rcx = tdr };

	return call(m, &a, TDPSIM_TDH_MNG_KEY_FREEID, NULL, NULL);
}

uint64_t tdpsim_tdh_mng_key_reclaimid(struct tdpsim_tdx_module *m,
				      tdpsim_hpa_t tdr)
{
	struct tdpsim_tdx_args a = { .rcx = tdr };

	return call(m, &a, TDPSIM_TDH_MNG_KEY_RECLAIMID, NULL, NULL);
}

uint64_t tdpsim_tdh_phymem_page_reclaim(struct tdpsim_tdx_module *m,
					tdpsim_hpa_t page, uint64_t *ret_type,
					uint64_t *ret_owner, uint64_t *ret_size)
{
	struct tdpsim_tdx_args a = { .rcx = page };
	uint64_t ret = call(m, &a, TDPSIM_TDH_PHYMEM_PAGE_RECLAIM, NULL, NULL);

	if (ret_type)
		*ret_type = a.rcx;
	if (ret_owner)
		*ret_owner = a.rdx;
	if (ret_size)
		*ret_size = a.r8;
	return ret;
}

uint64_t tdpsim_tdh_phymem_page_wbinvd_hkid(struct tdpsim_tdx_module *m,
					    uint16_t hkid, tdpsim_hpa_t page)
{
	struct tdpsim_tdx_args a = { .rcx = page };

	if (m)
		a.rcx |= (uint64_t)hkid << m->cfg.pa_bits;
	return call(m, &a, TDPSIM_TDH_PHYMEM_PAGE_WBINVD, NULL, NULL);
}

uint64_t tdpsim_tdh_phymem_page_wbinvd_tdr(struct tdpsim_tdx_module *m,
					   tdpsim_hpa_t tdr)
{
	if (!m)
		return TDX_SW_ERROR | EINVAL;
	return tdpsim_tdh_phymem_page_wbinvd_hkid(m, (uint16_t)m->cfg.global_hkid,
						  tdr);
}

uint64_t tdpsim_tdh_phymem_pamt_add(struct tdpsim_tdx_module *m,
				    tdpsim_hpa_t base, const tdpsim_hpa_t pair[2])
{
	struct tdpsim_tdx_args a = { .rcx = base | 1 };

	if (pair) {
		a.rdx = pair[0];
		a.r8 = pair[1];
	}
	return call(m, &a, TDPSIM_TDH_PHYMEM_PAMT_ADD, NULL, NULL);
}

uint64_t tdpsim_tdh_phymem_pamt_remove(struct tdpsim_tdx_module *m,
				       tdpsim_hpa_t base, tdpsim_hpa_t ret_pair[2])
{
	struct tdpsim_tdx_args a = { .rcx = base | 1 };
	uint64_t ret = call(m, &a, TDPSIM_TDH_PHYMEM_PAMT_REMOVE, NULL, NULL);

	if (ret == TDX_SUCCESS && ret_pair) {
		ret_pair[0] = a.rdx;
		ret_pair[1] = a.r8;
	}
	return ret;
}

/* ---- vCPUs and the guest ---- */

/* The vCPU whose TDVPR is @tdvpr, or NULL. Module mutex held. */
struct tdxm_vcpu *tdxm_vcpu_find(struct tdpsim_tdx_module *m, tdpsim_hpa_t tdvpr)
{
	struct pamt_page *p;

	if (tdvpr & 0xfff)
		return NULL;
	p = pamt_page_find(m, tdvpr >> TDX_PAGE_SHIFT);
	if (!p || p->type != PT_TDVPR)
		return NULL;
	return p->obj;
}

int tdpsim_tdx_vp_exit(struct tdpsim_tdx_module *m, tdpsim_hpa_t tdvpr)
{
	struct tdxm_vcpu *v;
	int ret = -EINVAL;

	if (!m)
		return -EINVAL;
	pthread_mutex_lock(&m->lock);
	v = tdxm_vcpu_find(m, tdvpr);
	if (v && v->in_guest) {
		tdxm_vcpu_exit(v);
		ret = 0;
	}
	pthread_mutex_unlock(&m->lock);
	return ret;
}

int tdpsim_tdg_mem_page_accept(struct tdpsim_tdx_module *m, tdpsim_hpa_t tdvpr,
			       uint64_t gpa, int level,
			       struct tdpsim_tdx_accept_result *ret_result)
{
	struct tdpsim_tdx_accept_result res;
	struct tdpsim_tdx_args a;
	struct tdxm_call c;
	struct tdxm_vcpu *v;
	bool in_guest;

	if (!m || !ret_result)
		return -EINVAL;
	pthread_mutex_lock(&m->lock);
	v = tdxm_vcpu_find(m, tdvpr);
	in_guest = v && v->in_guest;
	pthread_mutex_unlock(&m->lock);
	if (!in_guest)
		return -EINVAL;

	memset(&res, 0, sizeof(res));
	memset(&a, 0, sizeof(a));
	memset(&c, 0, sizeof(c));
	a.rax = TDPSIM_TDG_MEM_PAGE_ACCEPT & 0xffff;
	a.rcx = page_info(gpa, level);
	/* The vCPU, as the TDCALL's implicit context (not a register). */
	a.r10 = tdvpr;
	res.req_level = level;
	c.m = m;
	c.a = &a;
	c.guest = true;
	c.accept = &res;
	run_call(&c);
	*ret_result = res;
	return 0;
}

/* ---- inspection ---- */

/* The TD whose TDR is @tdr, or NULL. Module mutex held. */
struct tdxm_td *tdxm_td_find(struct tdpsim_tdx_module *m, tdpsim_hpa_t tdr)
{
	struct pamt_page *p;

	if (tdr & 0xfff)
		return NULL;
	p = pamt_page_find(m, tdr >> TDX_PAGE_SHIFT);
	if (!p || p->type != PT_TDR)
		return NULL;
	return p->obj;
}

int tdpsim_tdx_td_info(struct tdpsim_tdx_module *m, tdpsim_hpa_t tdr,
		       struct tdpsim_tdx_td_info *ret_info)
{
	struct tdxm_td *td;
	int ret = -ENOENT;

	if (!m || !ret_info)
		return -EINVAL;
	pthread_mutex_lock(&m->lock);
	td = tdxm_td_find(m, tdr);
	if (td) {
		memset(ret_info, 0, sizeof(*ret_info));
		ret_info->lifecycle = td->lifecycle;
		ret_info->op_state = td->op_state;
		ret_info->hkid = td->hkid;
		ret_info->hkid_assigned = td->lifecycle != TDPSIM_TD_TEARDOWN;
		ret_info->epoch = td->epoch;
		ret_info->refcount[0] = td->refcount[0];
		ret_info->refcount[1] = td->refcount[1];
		ret_info->child_count = td->child_count;
		ret_info->nr_tdcs = td->nr_tdcs;
		ret_info->nr_vcpus = td->nr_vcpus;
		ret_info->nr_associated = td->nr_assoc;
		ret_info->sept_levels = td->sept_levels;
		ret_info->nr_sept_pages = td->nr_sept_pages;
		ret = 0;
	}
	pthread_mutex_unlock(&m->lock);
	return ret;
}

bool tdpsim_tdx_hkid_assigned(struct tdpsim_tdx_module *m, tdpsim_hpa_t tdr)
{
	struct tdxm_td *td;
	bool ret;

	if (!m)
		return false;
	pthread_mutex_lock(&m->lock);
	td = tdxm_td_find(m, tdr);
	ret = td && td->lifecycle != TDPSIM_TD_TEARDOWN;
	pthread_mutex_unlock(&m->lock);
	return ret;
}

unsigned int tdpsim_tdx_nr_tds(struct tdpsim_tdx_module *m)
{
	unsigned int n;

	if (!m)
		return 0;
	pthread_mutex_lock(&m->lock);
	n = m->nr_tds;
	pthread_mutex_unlock(&m->lock);
	return n;
}

int tdpsim_tdx_vcpu_info(struct tdpsim_tdx_module *m, tdpsim_hpa_t tdvpr,
			 struct tdpsim_tdx_vcpu_info *ret_info)
{
	struct tdxm_vcpu *v;
	int ret = -ENOENT;

	if (!m || !ret_info)
		return -EINVAL;
	pthread_mutex_lock(&m->lock);
	v = tdxm_vcpu_find(m, tdvpr);
	if (v) {
		memset(ret_info, 0, sizeof(*ret_info));
		ret_info->tdr = v->td->tdr;
		ret_info->nr_tdcx = v->nr_tdcx;
		ret_info->initialized = v->initialized;
		ret_info->associated = v->associated;
		ret_info->in_guest = v->in_guest;
		ret_info->entered_epoch = v->in_guest ? v->entered_epoch : 0;
		ret = 0;
	}
	pthread_mutex_unlock(&m->lock);
	return ret;
}

uint64_t tdpsim_tdx_pamt_pairs(struct tdpsim_tdx_module *m)
{
	uint64_t n;

	if (!m)
		return 0;
	pthread_mutex_lock(&m->lock);
	n = m->pairs;
	pthread_mutex_unlock(&m->lock);
	return n;
}

uint64_t tdpsim_tdx_dirty_pages(struct tdpsim_tdx_module *m)
{
	uint64_t n;

	if (!m)
		return 0;
	pthread_mutex_lock(&m->lock);
	n = m->dirty;
	pthread_mutex_unlock(&m->lock);
	return n;
}

uint64_t tdpsim_tdx_leaf_calls(struct tdpsim_tdx_module *m, uint32_t leaf)
{
	int slot = leaf_slot(leaf);
	uint64_t n;

	if (!m || slot < 0)
		return 0;
	pthread_mutex_lock(&m->lock);
	n = m->calls[slot];
	pthread_mutex_unlock(&m->lock);
	return n;
}

uint64_t tdpsim_tdx_failure_count(struct tdpsim_tdx_module *m)
{
	uint64_t n;

	if (!m)
		return 0;
	pthread_mutex_lock(&m->lock);
	n = m->nr_failures;
	pthread_mutex_unlock(&m->lock);
	return n;
}

int tdpsim_tdx_failure_get(struct tdpsim_tdx_module *m, uint64_t seq,
			   struct tdpsim_tdx_failure *ret_failure)
{
	int ret = -ENOENT;

	if (!m || !ret_failure)
		return -EINVAL;
	pthread_mutex_lock(&m->lock);
	if (seq && seq <= m->nr_failures &&
	    m->nr_failures - seq < m->cfg.failure_log) {
		*ret_failure = m->log[(seq - 1) % m->cfg.failure_log];
		ret = 0;
	}
	pthread_mutex_unlock(&m->lock);
	return ret;
}
