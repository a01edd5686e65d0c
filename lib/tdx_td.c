/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tdx_td.c - the fake TDX Module's TD and vCPU lifecycle: MNG.CREATE,
 * KEY.CONFIG, MNG.ADDCX, MNG.INIT, VP.CREATE/ADDCX/INIT, VP.ENTER (with the
 * TD epoch refcounts of TLB tracking), VP.FLUSH, MR.FINALIZE, MEM.TRACK,
 * MNG.VPFLUSHDONE, PHYMEM.CACHE.WB, KEY.FREEID and KEY.RECLAIMID
 * (tdx-module.md sections 1.4, 3 and 5.1, 5.10).
 *
 * Lifecycle: MNG.CREATE assigns the HKID (HKID_ASSIGNED), KEY.CONFIG on
 * every package configures it (KEYS_CONFIGURED: the only state the TDH.MEM
 * leaves run in), VPFLUSHDONE blocks the TD once no vCPU is associated
 * (BLOCKED), KEY.FREEID after CACHE.WB releases the HKID (TEARDOWN: the
 * only state pages can be reclaimed in). Op-state: MNG.INIT -> INITIALIZED,
 * MR.FINALIZE -> RUNNABLE. Everything runs under the module mutex.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"
#include "tdx.h"

void tdxm_td_free(struct tdpsim_tdx_module *m, struct tdxm_td *td)
{
	struct tdxm_td **pp;

	for (pp = &m->tds; *pp; pp = &(*pp)->next) {
		if (*pp == td) {
			*pp = td->next;
			m->nr_tds--;
			break;
		}
	}
	free_obj(m->alloc, TDPSIM_ALLOC_KIND_MISC, td, sizeof(*td));
}

void tdxm_vcpu_free(struct tdpsim_tdx_module *m, struct tdxm_vcpu *vcpu)
{
	struct tdxm_td *td = vcpu->td;

	td->nr_vcpus--;
	if (vcpu->associated)
		td->nr_assoc--;
	free_obj(m->alloc, TDPSIM_ALLOC_KIND_MISC, vcpu, sizeof(*vcpu));
}

/* The TD exit of @vcpu: it leaves the epoch it entered in. */
void tdxm_vcpu_exit(struct tdxm_vcpu *vcpu)
{
	struct tdxm_td *td = vcpu->td;

	if (TDPSIM_WARN_ON_ONCE(!vcpu->in_guest))
		return;
	if (!TDPSIM_WARN_ON_ONCE(!td->refcount[vcpu->entered_epoch & 1]))
		td->refcount[vcpu->entered_epoch & 1]--;
	vcpu->in_guest = false;
}

/*
 * get_vcpu() - the TDVPR operand: a valid HPA, its PAMT entry locked, of
 * type PT_TDVPR, and not held by a vCPU running in the TD (VP.ENTER holds
 * the TDVPR until the TD exits): OPERAND_BUSY then.
 */
static uint64_t get_vcpu(struct tdxm_call *c, uint64_t tdvpr, uint32_t operand,
			 struct tdxm_vcpu **ret_vcpu)
{
	void *obj;
	uint64_t ret;

	ret = tdxm_get_page_obj(c, tdvpr, PT_TDVPR, operand, true, &obj);
	if (ret)
		return ret;
	if (((struct tdxm_vcpu *)obj)->in_guest)
		return tdxm_err(TDX_OPERAND_BUSY, operand);
	*ret_vcpu = obj;
	return TDX_SUCCESS;
}

static void vcpu_associate(struct tdxm_vcpu *v)
{
	if (!v->associated) {
		v->associated = true;
		v->td->nr_assoc++;
	}
}

/*
 * TDH.MNG.CREATE: RCX = the TDR page (PT_NDA; with Dynamic PAMT its region
 * needs a pair), RDX = the HKID (a private key ID, OPERAND_INVALID; free,
 * HKID_NOT_FREE).
 */
uint64_t tdxm_mng_create(struct tdxm_call *c)
{
	struct tdpsim_tdx_module *m = c->m;
	uint64_t tdr = c->in.rcx, hkid = c->in.rdx, ret;
	struct tdxm_td *td;

	ret = pamt_check_free(c, tdr, 0, OPERAND_ID_RCX);
	if (ret)
		return ret;
	if (!hkid || hkid >= (1ULL << m->cfg.hkid_bits))
		return tdxm_err(TDX_OPERAND_INVALID, OPERAND_ID_RDX);
	if (m->hkid_used[hkid])
		return tdxm_err(TDX_HKID_NOT_FREE, OPERAND_ID_RDX);

	td = alloc_obj(m->alloc, TDPSIM_ALLOC_KIND_MISC, sizeof(*td));
	if (!td)
		return TDX_SW_ERROR | ENOMEM;
	if (pamt_assign_4k(m, tdr, PT_TDR, td, td, NULL)) {
		free_obj(m->alloc, TDPSIM_ALLOC_KIND_MISC, td, sizeof(*td));
		return TDX_SW_ERROR | ENOMEM;
	}
	td->tdr = tdr;
	td->hkid = (uint16_t)hkid;
	td->lifecycle = TDPSIM_TD_HKID_ASSIGNED;
	td->op_state = TDPSIM_TD_OP_UNINITIALIZED;
	td->keys_left = m->cfg.nr_packages;
	td->epoch = 1;
	td->next = m->tds;
	m->tds = td;
	m->nr_tds++;
	m->hkid_used[hkid] = 1;
	return TDX_SUCCESS;
}

/*
 * TDH.MNG.KEY.CONFIG: RCX = TDR. Programs the key on one more package; on
 * the last the TD is KEYS_CONFIGURED. Again afterwards: KEY_CONFIGURED.
 */
uint64_t tdxm_mng_key_config(struct tdxm_call *c)
{
	struct tdxm_td *td;
	uint64_t ret;

	ret = tdxm_get_td(c, c->in.rcx, OPERAND_ID_RCX, true, &td);
	if (ret)
		return ret;
	if (td->lifecycle == TDPSIM_TD_KEYS_CONFIGURED)
		return TDX_KEY_CONFIGURED;
	if (td->lifecycle != TDPSIM_TD_HKID_ASSIGNED)
		return TDX_LIFECYCLE_STATE_INCORRECT;
	if (!--td->keys_left)
		td->lifecycle = TDPSIM_TD_KEYS_CONFIGURED;
	return TDX_SUCCESS;
}

/*
 * TDH.MNG.ADDCX: RCX = a TDCS page, RDX = TDR (exclusive). Keys configured;
 * no more than config.tdcs_pages (TDCX_NUM_INCORRECT). The first one holds
 * the S-EPT root from MNG.INIT on.
 */
uint64_t tdxm_mng_addcx(struct tdxm_call *c)
{
	struct tdpsim_tdx_module *m = c->m;
	uint64_t page = c->in.rcx, ret;
	struct tdxm_td *td;

	ret = tdxm_get_td(c, c->in.rdx, OPERAND_ID_RDX, true, &td);
	if (ret)
		return ret;
	if (td->lifecycle != TDPSIM_TD_KEYS_CONFIGURED)
		return TDX_TD_KEYS_NOT_CONFIGURED;
	if (td->nr_tdcs >= m->cfg.tdcs_pages)
		return tdxm_err(TDX_TDCX_NUM_INCORRECT, OPERAND_ID_RCX);
	ret = pamt_check_free(c, page, 0, OPERAND_ID_RCX);
	if (ret)
		return ret;
	if (pamt_assign_4k(m, page, PT_TDCX, td, NULL, NULL))
		return TDX_SW_ERROR | ENOMEM;
	if (!td->nr_tdcs)
		td->tdcs0 = page;
	td->nr_tdcs++;
	td->child_count++;
	return TDX_SUCCESS;
}

/*
 * TDH.MNG.INIT: RCX = TDR (exclusive), RDX = the S-EPT levels (4 or 5; the
 * fake's stand-in for TD_PARAMS: GPAW 48 or 52). UNINITIALIZED ->
 * INITIALIZED, TD epoch 1, an empty S-EPT root.
 */
uint64_t tdxm_mng_init(struct tdxm_call *c)
{
	struct tdpsim_tdx_module *m = c->m;
	struct sept_page *root;
	struct pamt_page *p;
	struct tdxm_td *td;
	uint64_t levels = c->in.rdx, ret;
	unsigned int gpaw;

	ret = tdxm_get_td(c, c->in.rcx, OPERAND_ID_RCX, true, &td);
	if (ret)
		return ret;
	ret = tdxm_check_td_state(c, td);
	if (ret)
		return ret;
	if (levels != 4 && levels != 5)
		return tdxm_err(TDX_OPERAND_INVALID, OPERAND_ID_RDX);
	root = sept_page_alloc(m, td, (int)levels - 1, 0, td->tdcs0);
	if (!root)
		return TDX_SW_ERROR | ENOMEM;
	p = pamt_page_find(m, td->tdcs0 >> TDX_PAGE_SHIFT);
	p->obj = root;
	gpaw = levels == 5 ? 52 : 48;
	td->root = root;
	td->sept_levels = (unsigned int)levels;
	td->root_level = (int)levels - 1;
	td->gpaw_limit = 1ULL << gpaw;
	td->shared_bit = 1ULL << (gpaw - 1);
	td->epoch = 1;
	td->refcount[0] = td->refcount[1] = 0;
	td->op_state = TDPSIM_TD_OP_INITIALIZED;
	return TDX_SUCCESS;
}

/* TDH.VP.CREATE: RCX = the TDVPR page, RDX = TDR. Before MR.FINALIZE. */
uint64_t tdxm_vp_create(struct tdxm_call *c)
{
	struct tdpsim_tdx_module *m = c->m;
	uint64_t tdvpr = c->in.rcx, ret;
	struct tdxm_vcpu *v;
	struct tdxm_td *td;

	ret = tdxm_get_td(c, c->in.rdx, OPERAND_ID_RDX, false, &td);
	if (ret)
		return ret;
	ret = tdxm_check_td_state(c, td);
	if (ret)
		return ret;
	ret = pamt_check_free(c, tdvpr, 0, OPERAND_ID_RCX);
	if (ret)
		return ret;
	v = alloc_obj(m->alloc, TDPSIM_ALLOC_KIND_MISC, sizeof(*v));
	if (!v)
		return TDX_SW_ERROR | ENOMEM;
	if (pamt_assign_4k(m, tdvpr, PT_TDVPR, td, v, NULL)) {
		free_obj(m->alloc, TDPSIM_ALLOC_KIND_MISC, v, sizeof(*v));
		return TDX_SW_ERROR | ENOMEM;
	}
	v->tdvpr = tdvpr;
	v->td = td;
	td->nr_vcpus++;
	td->child_count++;
	return TDX_SUCCESS;
}

/*
 * TDH.VP.ADDCX: RCX = a TDCX page, RDX = TDVPR. Before VP.INIT
 * (VCPU_STATE_INCORRECT), at most config.tdvps_pages - 1 of them.
 */
uint64_t tdxm_vp_addcx(struct tdxm_call *c)
{
	struct tdpsim_tdx_module *m = c->m;
	struct tdxm_vcpu *v;
	uint64_t ret;

	ret = get_vcpu(c, c->in.rdx, OPERAND_ID_RDX, &v);
	if (ret)
		return ret;
	ret = tdxm_check_td_state(c, v->td);
	if (ret)
		return ret;
	if (v->initialized)
		return TDX_VCPU_STATE_INCORRECT;
	if (v->nr_tdcx + 1 >= m->cfg.tdvps_pages)
		return tdxm_err(TDX_TDCX_NUM_INCORRECT, OPERAND_ID_RCX);
	ret = pamt_check_free(c, c->in.rcx, 0, OPERAND_ID_RCX);
	if (ret)
		return ret;
	if (pamt_assign_4k(m, c->in.rcx, PT_TDCX, v->td, NULL, NULL))
		return TDX_SW_ERROR | ENOMEM;
	v->nr_tdcx++;
	v->td->child_count++;
	return TDX_SUCCESS;
}

/* TDH.VP.INIT: RCX = TDVPR, RDX = x2APIC ID. Every TDCX page added. */
uint64_t tdxm_vp_init(struct tdxm_call *c)
{
	struct tdxm_vcpu *v;
	uint64_t ret;

	ret = get_vcpu(c, c->in.rcx, OPERAND_ID_RCX, &v);
	if (ret)
		return ret;
	ret = tdxm_check_td_state(c, v->td);
	if (ret)
		return ret;
	if (v->initialized)
		return TDX_VCPU_STATE_INCORRECT;
	if (v->nr_tdcx + 1 < c->m->cfg.tdvps_pages)
		return tdxm_err(TDX_TDCX_NUM_INCORRECT, OPERAND_ID_RCX);
	v->initialized = true;
	vcpu_associate(v);
	return TDX_SUCCESS;
}

/*
 * TDH.VP.ENTER: RCX = TDVPR. RUNNABLE only; takes the TD epoch lock shared
 * (OPERAND_BUSY on TD_EPOCH while a TRACK runs), counts the vCPU in the
 * current epoch and leaves it in guest mode until its TD exit.
 */
uint64_t tdxm_vp_enter(struct tdxm_call *c)
{
	struct tdxm_vcpu *v;
	struct tdxm_td *td;
	uint64_t ret;

	ret = get_vcpu(c, c->in.rcx, OPERAND_ID_RCX, &v);
	if (ret)
		return ret;
	td = v->td;
	ret = tdxm_check_td_state(c, td);
	if (ret)
		return ret;
	if (!v->initialized)
		return TDX_VCPU_STATE_INCORRECT;
	ret = tdxm_lock(c, LK_EPOCH, td->tdr, 0, false, OPERAND_ID_TD_EPOCH);
	if (ret)
		return ret;
	vcpu_associate(v);
	v->in_guest = true;
	v->entered_epoch = td->epoch;
	td->refcount[td->epoch & 1]++;
	return TDX_SUCCESS;
}

/* TDH.VP.FLUSH: RCX = TDVPR of a vCPU not in the guest; dissociates it. */
uint64_t tdxm_vp_flush(struct tdxm_call *c)
{
	struct tdxm_vcpu *v;
	uint64_t ret;

	ret = get_vcpu(c, c->in.rcx, OPERAND_ID_RCX, &v);
	if (ret)
		return ret;
	ret = tdxm_check_td_state(c, v->td);
	if (ret)
		return ret;
	if (!v->associated)
		return TDX_VCPU_NOT_ASSOCIATED;
	v->associated = false;
	v->td->nr_assoc--;
	return TDX_SUCCESS;
}

/* TDH.MR.FINALIZE: RCX = TDR (exclusive). INITIALIZED -> RUNNABLE. */
uint64_t tdxm_mr_finalize(struct tdxm_call *c)
{
	struct tdxm_td *td;
	uint64_t ret;

	ret = tdxm_get_td(c, c->in.rcx, OPERAND_ID_RCX, true, &td);
	if (ret)
		return ret;
	ret = tdxm_check_td_state(c, td);
	if (ret)
		return ret;
	td->op_state = TDPSIM_TD_OP_RUNNABLE;
	return TDX_SUCCESS;
}

/*
 * TDH.MEM.TRACK: RCX = TDR. Takes the TD epoch lock exclusive (OPERAND_BUSY
 * on TD_EPOCH) and refuses while a vCPU that entered in the previous epoch
 * is still in the guest (PREVIOUS_TLB_EPOCH_BUSY); else TD epoch += 1.
 */
uint64_t tdxm_mem_track(struct tdxm_call *c)
{
	struct tdxm_td *td;
	uint64_t ret;

	ret = tdxm_get_td(c, c->in.rcx, OPERAND_ID_RCX, false, &td);
	if (ret)
		return ret;
	ret = tdxm_check_td_state(c, td);
	if (ret)
		return ret;
	ret = tdxm_lock(c, LK_EPOCH, td->tdr, 0, true, OPERAND_ID_TD_EPOCH);
	if (ret)
		return ret;
	if (td->refcount[(td->epoch - 1) & 1])
		return TDX_PREVIOUS_TLB_EPOCH_BUSY;
	td->epoch++;
	return TDX_SUCCESS;
}

/*
 * TDH.MNG.VPFLUSHDONE: RCX = TDR (exclusive). Every vCPU flushed
 * (FLUSHVP_NOT_DONE); the TD is BLOCKED, its caches await CACHE.WB.
 */
uint64_t tdxm_mng_vpflushdone(struct tdxm_call *c)
{
	struct tdxm_td *td;
	uint64_t ret;

	ret = tdxm_get_td(c, c->in.rcx, OPERAND_ID_RCX, true, &td);
	if (ret)
		return ret;
	if (td->lifecycle != TDPSIM_TD_KEYS_CONFIGURED &&
	    td->lifecycle != TDPSIM_TD_HKID_ASSIGNED)
		return TDX_LIFECYCLE_STATE_INCORRECT;
	if (td->nr_tdcs >= c->m->cfg.tdcs_pages &&
	    td->op_state != TDPSIM_TD_OP_UNINITIALIZED && td->nr_assoc)
		return TDX_FLUSHVP_NOT_DONE;
	td->lifecycle = TDPSIM_TD_BLOCKED;
	td->wb_left = c->m->cfg.nr_packages;
	return TDX_SUCCESS;
}

/*
 * TDH.PHYMEM.CACHE.WB: RCX = resume flag. Writes back the caches of one
 * more package for every BLOCKED TD; once all are done nothing is dirty
 * with its key any more. NO_HKID_READY_TO_WBCACHE (a warning) if no TD
 * waits for it.
 */
uint64_t tdxm_phymem_cache_wb(struct tdxm_call *c)
{
	struct tdpsim_tdx_module *m = c->m;
	bool any = false;

	if (c->in.rcx & ~1ULL)
		return tdxm_err(TDX_OPERAND_INVALID, OPERAND_ID_RCX);
	for (struct tdxm_td *td = m->tds; td; td = td->next) {
		if (td->lifecycle != TDPSIM_TD_BLOCKED || !td->wb_left)
			continue;
		any = true;
		if (!--td->wb_left)
			pamt_clear_dirty_hkid(m, td->hkid);
	}
	return any ? TDX_SUCCESS : TDX_NO_HKID_READY_TO_WBCACHE;
}

/*
 * TDH.MNG.KEY.FREEID: RCX = TDR (exclusive). BLOCKED and written back on
 * every package (WBCACHE_NOT_COMPLETE); releases the HKID: TEARDOWN.
 */
uint64_t tdxm_mng_key_freeid(struct tdxm_call *c)
{
	struct tdxm_td *td;
	uint64_t ret;

	ret = tdxm_get_td(c, c->in.rcx, OPERAND_ID_RCX, true, &td);
	if (ret)
		return ret;
	if (td->lifecycle != TDPSIM_TD_BLOCKED)
		return TDX_LIFECYCLE_STATE_INCORRECT;
	if (td->wb_left)
		return TDX_WBCACHE_NOT_COMPLETE;
	td->lifecycle = TDPSIM_TD_TEARDOWN;
	c->m->hkid_used[td->hkid] = 0;
	return TDX_SUCCESS;
}

/* TDH.MNG.KEY.RECLAIMID: obsolete since TDX 1.5; checks the TDR only. */
uint64_t tdxm_mng_key_reclaimid(struct tdxm_call *c)
{
	struct tdxm_td *td;

	return tdxm_get_td(c, c->in.rcx, OPERAND_ID_RCX, true, &td);
}
