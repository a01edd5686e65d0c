/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tdx_sept.c - the fake TDX Module's Secure-EPT: S-EPT pages and entries,
 * the walk, the state machine of tdx-module.md section 2, the TDH.MEM.*
 * leaves that change it, MR.EXTEND, and the guest's TDG.MEM.PAGE.ACCEPT.
 *
 * The S-EPT is a real tree of 512-entry pages, allocated when KVM hands the
 * module an S-EPT page, so a TD costs what it maps whatever its GPA space.
 * Each leaf checks in the order of the real one: TDR, TD state, the GPA |
 * level operand, the S-EPT tree lock and walk, the entry lock, the entry
 * state, then leaf-specific conditions (blocking, TLB tracking, the page
 * operand), and only then commits. Everything runs under the module mutex.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"
#include "tdx.h"

/* ---- pages ---- */

struct sept_page *sept_page_alloc(struct tdpsim_tdx_module *m, struct tdxm_td *td,
				  int level, uint64_t gpa, tdpsim_hpa_t hpa)
{
	struct sept_page *sp;

	sp = alloc_obj(m->alloc, TDPSIM_ALLOC_KIND_SEPT, sizeof(*sp));
	if (!sp)
		return NULL;
	sp->td = td;
	sp->level = (uint8_t)level;
	sp->gpa = gpa;
	sp->hpa = hpa;
	return sp;
}

void sept_page_free(struct tdpsim_tdx_module *m, struct sept_page *sp)
{
	free_obj(m->alloc, TDPSIM_ALLOC_KIND_SEPT, sp, sizeof(*sp));
}

/* Link @sp below entry @idx of @parent, which becomes NL_MAPPED. */
static void sept_link(struct sept_page *parent, unsigned int idx,
		      struct sept_page *sp)
{
	parent->e[idx].raw = sp->hpa | TDPSIM_SEPT_NL_MAPPED;
	parent->e[idx].child = sp;
	sp->parent = parent;
	sp->parent_idx = (uint16_t)idx;
}

void sept_page_detach_free(struct tdpsim_tdx_module *m, struct sept_page *sp)
{
	if (sp->parent) {
		struct sept_entry *e = &sp->parent->e[sp->parent_idx];

		e->raw = 0;
		e->child = NULL;
		sp->parent->nr_present--;
	}
	if (sp->td->root == sp)
		sp->td->root = NULL;
	for (unsigned int i = 0; i < SEPT_ENTRIES; i++) {
		struct sept_entry *e = &sp->e[i];
		uint8_t st = sept_state(e);

		if (st == TDPSIM_SEPT_FREE)
			continue;
		if (e->child) {
			e->child->parent = NULL;
		} else if (sept_state_is_leaf(st)) {
			uint64_t hpa = sept_hpa(e);
			struct pamt_page *p = NULL;

			if (sp->level) {
				struct pamt_region *r =
					pamt_region_find(m, hpa >> TDX_2M_SHIFT);

				if (r)
					p = &r->big;
			} else {
				p = pamt_page_find(m, hpa >> TDX_PAGE_SHIFT);
			}
			if (p && p->map_sp == sp)
				p->map_sp = NULL;
		}
	}
	sept_page_free(m, sp);
}

/* ---- the walk and extended error information ---- */

/*
 * sept_walk() - from the root towards the entry at TDX level @level that
 * covers @gpa, continuing only through NL_MAPPED entries (the walk stops at
 * a leaf or at an entry with RWX clear: FREE, PENDING, any blocked state).
 * Returns the entry it stopped at; *@ret_level is that entry's level.
 */
static struct sept_entry *sept_walk(struct tdxm_td *td, uint64_t gpa, int level,
				    int *ret_level, struct sept_page **ret_sp)
{
	struct sept_page *sp = td->root;
	int l = td->root_level;

	for (;;) {
		unsigned int idx = (gpa >> (TDX_PAGE_SHIFT + 9 * l)) & 511;
		struct sept_entry *e = &sp->e[idx];

		if (l == level || sept_state(e) != TDPSIM_SEPT_NL_MAPPED) {
			*ret_level = l;
			*ret_sp = sp;
			return e;
		}
		sp = e->child;
		l--;
	}
}

/*
 * sept_ext() - the extended error information of an S-EPT failure: RCX =
 * the entry found, as an architectural-looking EPT entry (HPA, RWX for the
 * guest-accessible states, bit 7 for a huge leaf); RDX = level | state << 8.
 */
static void sept_ext(struct tdxm_call *c, const struct sept_entry *e, int level)
{
	uint8_t st = sept_state(e);
	uint64_t arch = sept_hpa(e);

	if (st == TDPSIM_SEPT_MAPPED || st == TDPSIM_SEPT_NL_MAPPED)
		arch |= 7;
	if (sept_state_is_leaf(st) && level > 0)
		arch |= 1ULL << 7;
	c->a->rcx = arch;
	c->a->rdx = (uint64_t)level | (uint64_t)st << 8;
}

/* The state a blocked entry returns to (and the children of DEMOTE get). */
static uint8_t sept_unblocked(uint8_t st)
{
	switch (st) {
	case TDPSIM_SEPT_BLOCKED:
		return TDPSIM_SEPT_MAPPED;
	case TDPSIM_SEPT_PENDING_BLOCKED:
		return TDPSIM_SEPT_PENDING;
	case TDPSIM_SEPT_NL_BLOCKED:
		return TDPSIM_SEPT_NL_MAPPED;
	}
	return st;
}

static void sept_set_state(struct sept_entry *e, uint8_t st)
{
	e->raw = sept_hpa(e) | st;
}

/* ---- the common start of a TDH.MEM.* leaf ---- */

enum tree_lock { TREE_NONE, TREE_SHARED, TREE_EXCL };

struct mem_op {
	struct tdxm_td *td;
	uint64_t gpa;
	int level;			/* TDX level asked for */
	struct sept_page *sp;		/* the page holding the entry */
	unsigned int idx;
	struct sept_entry *e;
};

/*
 * check_page_info() - the GPA | level operand in RCX (verify_page_info_input
 * and check_gpa_validity): reserved bits 11:3 and 63:52 clear, a level in
 * [@min, @max], the GPA aligned to it, below GPAW, shared bit clear.
 */
static uint64_t check_page_info(const struct tdxm_td *td, uint64_t rcx, int min,
				int max, uint64_t *ret_gpa, int *ret_level)
{
	int level = (int)(rcx & 7);
	uint64_t gpa = rcx & ~0xfffULL;

	if ((rcx & 0xff8) || (rcx >> 52) || level < min || level > max ||
	    (gpa & (tdxm_level_size(level) - 1)))
		return tdxm_err(TDX_OPERAND_INVALID, OPERAND_ID_RCX);
	if (gpa >= td->gpaw_limit || (gpa & td->shared_bit))
		return tdxm_err(TDX_OPERAND_INVALID, OPERAND_ID_RCX);
	*ret_gpa = gpa;
	*ret_level = level;
	return TDX_SUCCESS;
}

/*
 * mem_prologue() - what every S-EPT leaf does first: the TDR in @tdr
 * (locked exclusive if @tdr_excl), the TD state for the call's leaf, RCX
 * with a level in [@min, @max] (@max < 0: the root level), the S-EPT tree
 * lock (@tree), the walk to that level (EPT_WALK_FAILED if it stops above),
 * and, if @lock_entry, the entry's lock. Fills @op.
 */
static uint64_t mem_prologue(struct tdxm_call *c, uint64_t tdr, bool tdr_excl,
			     int min, int max, enum tree_lock tree,
			     bool lock_entry, struct mem_op *op)
{
	struct tdxm_td *td;
	int walk_level;
	uint64_t ret;

	ret = tdxm_get_td(c, tdr, OPERAND_ID_RDX, tdr_excl, &td);
	if (ret)
		return ret;
	ret = tdxm_check_td_state(c, td);
	if (ret)
		return ret;
	if (TDPSIM_WARN_ON_ONCE(!td->root))
		return tdxm_err(TDX_OP_STATE_INCORRECT, td->op_state);
	ret = check_page_info(td, c->in.rcx, min, max < 0 ? td->root_level : max,
			      &op->gpa, &op->level);
	if (ret)
		return ret;
	if (tree != TREE_NONE) {
		ret = tdxm_lock(c, LK_TREE, td->tdr, 0, tree == TREE_EXCL,
			       OPERAND_ID_SEPT_TREE);
		if (ret)
			return ret;
	}
	op->td = td;
	op->e = sept_walk(td, op->gpa, op->level, &walk_level, &op->sp);
	op->idx = (unsigned int)(op->e - op->sp->e);
	if (walk_level != op->level) {
		sept_ext(c, op->e, walk_level);
		return tdxm_err(TDX_EPT_WALK_FAILED, OPERAND_ID_RCX);
	}
	if (lock_entry) {
		ret = tdxm_lock(c, LK_SEPTE, td->tdr, op->gpa | (uint64_t)op->level,
			       true, OPERAND_ID_RCX);
		if (ret) {
			sept_ext(c, op->e, op->level);
			return ret;
		}
	}
	return TDX_SUCCESS;
}

/* Refuse @op's entry with @code on RCX and the extended information. */
static uint64_t refuse(struct tdxm_call *c, const struct mem_op *op, uint64_t code)
{
	sept_ext(c, op->e, op->level);
	return tdxm_err(code, OPERAND_ID_RCX);
}

/* TLB tracking is enforced in RUNNABLE only (op_state_is_tlb_tracking_required). */
static bool tracking_required(const struct tdxm_td *td)
{
	return td->op_state == TDPSIM_TD_OP_RUNNABLE;
}

/* The blocking epoch of the leaf or non-leaf entry @op names. */
static uint64_t *entry_bepoch(struct tdpsim_tdx_module *m, const struct mem_op *op)
{
	uint8_t st = sept_state(op->e);

	if (sept_state_is_leaf(st))
		return pamt_bepoch(m, sept_hpa(op->e), op->level);
	return pamt_bepoch(m, sept_hpa(op->e), 0);
}

/*
 * check_blocked_tracked() - in RUNNABLE a leaf that removes or rewrites a
 * mapping needs it blocked (GPA_RANGE_NOT_BLOCKED) and the block tracked
 * (TLB_TRACKING_NOT_DONE on @tn_operand).
 */
static uint64_t check_blocked_tracked(struct tdxm_call *c, const struct mem_op *op,
				      uint32_t tn_operand)
{
	uint64_t *bepoch;

	if (!tracking_required(op->td))
		return TDX_SUCCESS;
	if (!sept_state_is_blocked(sept_state(op->e)))
		return refuse(c, op, TDX_GPA_RANGE_NOT_BLOCKED);
	bepoch = entry_bepoch(c->m, op);
	if (TDPSIM_WARN_ON_ONCE(!bepoch))
		return tdxm_err(TDX_TLB_TRACKING_NOT_DONE, tn_operand);
	if (!tdxm_is_tracked(op->td, *bepoch))
		return tdxm_err(TDX_TLB_TRACKING_NOT_DONE, tn_operand);
	return TDX_SUCCESS;
}

/* ---- the leaves ---- */

/*
 * TDH.MEM.SEPT.ADD: RCX = GPA | level (1 .. root level), RDX = TDR (v1: bit 0
 * = allow existing), R8 = the new S-EPT page. FREE -> NL_MAPPED.
 */
uint64_t tdxm_mem_sept_add(struct tdxm_call *c)
{
	struct tdpsim_tdx_module *m = c->m;
	uint64_t rdx = c->in.rdx, hpa = c->in.r8, ret;
	struct sept_page *sp;
	struct mem_op op;
	uint8_t st;

	if ((rdx & 0xffe) || (!c->version && (rdx & 1)))
		return tdxm_err(TDX_OPERAND_INVALID, OPERAND_ID_RDX);
	ret = mem_prologue(c, rdx & ~0xfffULL, false, 1, -1, TREE_SHARED, true, &op);
	if (ret)
		return ret;
	st = sept_state(op.e);
	if (st == TDPSIM_SEPT_NL_MAPPED) {
		if (rdx & 1) {
			/* Allowed to exist: the page in R8 is not used. */
			c->a->r8 = hpa | (1ULL << 63);
			return TDX_SUCCESS;
		}
		return refuse(c, &op, TDX_EPT_ENTRY_NOT_FREE);
	}
	if (st != TDPSIM_SEPT_FREE)
		return refuse(c, &op, TDX_EPT_ENTRY_STATE_INCORRECT);
	ret = pamt_check_free(c, hpa, 0, OPERAND_ID_R8);
	if (ret)
		return ret;

	sp = sept_page_alloc(m, op.td, op.level - 1, op.gpa, hpa);
	if (!sp)
		return TDX_SW_ERROR | ENOMEM;
	if (pamt_assign_4k(m, hpa, PT_EPT, op.td, sp, NULL)) {
		sept_page_free(m, sp);
		return TDX_SW_ERROR | ENOMEM;
	}
	sept_link(op.sp, op.idx, sp);
	op.sp->nr_present++;
	op.td->child_count++;
	op.td->nr_sept_pages++;
	return TDX_SUCCESS;
}

/*
 * TDH.MEM.PAGE.ADD: RCX = GPA (4K only), RDX = TDR (exclusive: the tree is
 * implicitly locked), R8 = the page, R9 = the source (shared) page. Only
 * before MR.FINALIZE. FREE -> MAPPED.
 */
uint64_t tdxm_mem_page_add(struct tdxm_call *c)
{
	struct tdpsim_tdx_module *m = c->m;
	uint64_t hpa = c->in.r8, src = c->in.r9, ret;
	struct mem_op op;

	ret = mem_prologue(c, c->in.rdx, true, 0, 0, TREE_NONE, false, &op);
	if (ret)
		return ret;
	if (sept_state(op.e) != TDPSIM_SEPT_FREE)
		return refuse(c, &op, TDX_EPT_ENTRY_STATE_INCORRECT);
	if ((src & 0xfff) || (src & m->hkid_mask) || src >= m->max_pa)
		return tdxm_err(TDX_OPERAND_INVALID, OPERAND_ID_R9);
	ret = pamt_check_free(c, hpa, 0, OPERAND_ID_R8);
	if (ret)
		return ret;

	if (pamt_map_private(m, hpa, 0, op.td, op.sp, op.idx))
		return TDX_SW_ERROR | ENOMEM;
	op.e->raw = hpa | TDPSIM_SEPT_MAPPED;
	op.sp->nr_present++;
	op.td->child_count++;
	return TDX_SUCCESS;
}

/*
 * TDH.MEM.PAGE.AUG: RCX = GPA | level (4K or 2M), RDX = TDR, R8 = the page
 * (2M-aligned for 2M). FREE -> PENDING.
 */
uint64_t tdxm_mem_page_aug(struct tdxm_call *c)
{
	struct tdpsim_tdx_module *m = c->m;
	uint64_t hpa = c->in.r8, ret;
	struct mem_op op;
	uint8_t st;

	ret = mem_prologue(c, c->in.rdx, false, 0, 1, TREE_SHARED, true, &op);
	if (ret)
		return ret;
	st = sept_state(op.e);
	if (st != TDPSIM_SEPT_FREE && st != TDPSIM_SEPT_REMOVED)
		return refuse(c, &op, TDX_EPT_ENTRY_STATE_INCORRECT);
	ret = pamt_check_free(c, hpa, op.level, OPERAND_ID_R8);
	if (ret)
		return ret;

	if (pamt_map_private(m, hpa, op.level, op.td, op.sp, op.idx))
		return TDX_SW_ERROR | ENOMEM;
	op.e->raw = hpa | TDPSIM_SEPT_PENDING;
	op.sp->nr_present++;
	op.td->child_count += tdxm_level_pages(op.level);
	return TDX_SUCCESS;
}

/*
 * TDH.MEM.RANGE.BLOCK: RCX = GPA | level (0 .. root), RDX = TDR; S-EPT tree
 * exclusive. NL_MAPPED, MAPPED, PENDING -> their blocked states, recording
 * the TD epoch as the blocking epoch; a blocked entry gives the warning
 * GPA_RANGE_ALREADY_BLOCKED.
 */
uint64_t tdxm_mem_range_block(struct tdxm_call *c)
{
	uint64_t *bepoch, ret;
	struct mem_op op;
	uint8_t st;

	ret = mem_prologue(c, c->in.rdx, false, 0, -1, TREE_EXCL, true, &op);
	if (ret)
		return ret;
	st = sept_state(op.e);
	switch (st) {
	case TDPSIM_SEPT_NL_MAPPED:
		st = TDPSIM_SEPT_NL_BLOCKED;
		break;
	case TDPSIM_SEPT_MAPPED:
		st = TDPSIM_SEPT_BLOCKED;
		break;
	case TDPSIM_SEPT_PENDING:
		st = TDPSIM_SEPT_PENDING_BLOCKED;
		break;
	case TDPSIM_SEPT_BLOCKED:
	case TDPSIM_SEPT_PENDING_BLOCKED:
	case TDPSIM_SEPT_NL_BLOCKED:
		return refuse(c, &op, TDX_GPA_RANGE_ALREADY_BLOCKED);
	default:
		return refuse(c, &op, TDX_EPT_ENTRY_STATE_INCORRECT);
	}
	sept_set_state(op.e, st);
	bepoch = entry_bepoch(c->m, &op);
	if (!TDPSIM_WARN_ON_ONCE(!bepoch))
		*bepoch = op.td->epoch;
	return TDX_SUCCESS;
}

/*
 * TDH.MEM.RANGE.UNBLOCK: the reverse of BLOCK, in RUNNABLE only once the
 * block is tracked (TLB_TRACKING_NOT_DONE on the S-EPT tree operand).
 */
uint64_t tdxm_mem_range_unblock(struct tdxm_call *c)
{
	uint64_t *bepoch, ret;
	struct mem_op op;

	ret = mem_prologue(c, c->in.rdx, false, 0, -1, TREE_EXCL, true, &op);
	if (ret)
		return ret;
	if (!sept_state_is_blocked(sept_state(op.e)))
		return refuse(c, &op, TDX_EPT_ENTRY_STATE_INCORRECT);
	if (tracking_required(op.td)) {
		bepoch = entry_bepoch(c->m, &op);
		if (!bepoch || !tdxm_is_tracked(op.td, *bepoch))
			return tdxm_err(TDX_TLB_TRACKING_NOT_DONE, OPERAND_ID_SEPT_TREE);
	}
	sept_set_state(op.e, sept_unblocked(sept_state(op.e)));
	return TDX_SUCCESS;
}

/*
 * TDH.MEM.PAGE.REMOVE: RCX = GPA | level (0 .. 2), RDX = TDR. A leaf (in
 * RUNNABLE blocked and tracked) -> FREE; the page -> PT_NDA, dirty with the
 * TD's key until PAGE.WBINVD. RCX out = the page | the PAMT removal hint.
 */
uint64_t tdxm_mem_page_remove(struct tdxm_call *c)
{
	struct tdpsim_tdx_module *m = c->m;
	uint64_t hpa, ret;
	struct mem_op op;
	bool hint;

	ret = mem_prologue(c, c->in.rdx, false, 0, 2, TREE_SHARED, true, &op);
	if (ret)
		return ret;
	if (!sept_state_is_leaf(sept_state(op.e)))
		return refuse(c, &op, TDX_EPT_ENTRY_STATE_INCORRECT);
	hpa = sept_hpa(op.e);
	ret = tdxm_lock_page(c, hpa, op.level, true, OPERAND_ID_RCX);
	if (ret)
		return ret;
	ret = check_blocked_tracked(c, &op, OPERAND_ID_RCX);
	if (ret)
		return ret;

	op.e->raw = 0;
	op.sp->nr_present--;
	op.td->child_count -= tdxm_level_pages(op.level);
	hint = pamt_unmap_private(m, hpa, op.level, op.td->hkid);
	c->a->rcx = hpa | (hint ? TDX_PAMT_REMOVAL_HINT : 0);
	return TDX_SUCCESS;
}

/*
 * TDH.MEM.SEPT.REMOVE: RCX = GPA | level (1 .. root), RDX = TDR; tree
 * exclusive. NL_MAPPED / NL_BLOCKED (in RUNNABLE blocked and tracked) whose
 * S-EPT page has no entry left (EPT_PAGE_NOT_FREE) -> FREE; the S-EPT page
 * -> PT_NDA. RCX out = the S-EPT page.
 */
uint64_t tdxm_mem_sept_remove(struct tdxm_call *c)
{
	struct tdpsim_tdx_module *m = c->m;
	struct sept_page *child;
	struct mem_op op;
	uint64_t ret;
	uint8_t st;

	ret = mem_prologue(c, c->in.rdx, false, 1, -1, TREE_EXCL, true, &op);
	if (ret)
		return ret;
	st = sept_state(op.e);
	if (st != TDPSIM_SEPT_NL_MAPPED && st != TDPSIM_SEPT_NL_BLOCKED)
		return refuse(c, &op, TDX_EPT_ENTRY_STATE_INCORRECT);
	child = op.e->child;
	ret = tdxm_lock_page(c, child->hpa, 0, true, OPERAND_ID_RCX);
	if (ret)
		return ret;
	ret = check_blocked_tracked(c, &op, OPERAND_ID_RCX);
	if (ret)
		return ret;
	if (child->nr_present)
		return refuse(c, &op, TDX_EPT_PAGE_NOT_FREE);

	op.e->raw = 0;
	op.e->child = NULL;
	op.sp->nr_present--;
	op.td->child_count--;
	op.td->nr_sept_pages--;
	c->a->rcx = child->hpa;
	pamt_release_4k(m, child->hpa, op.td->hkid);
	sept_page_free(m, child);
	return TDX_SUCCESS;
}

/*
 * TDH.MEM.PAGE.DEMOTE: RCX = GPA | level (1 or 2), RDX = TDR, R8 = the new
 * S-EPT page; with Dynamic PAMT and a 2M page, R12/R13 = the PAMT pair for
 * the range. A leaf (in RUNNABLE blocked and tracked) -> NL_MAPPED over 512
 * leaves in its unblocked state, physically contiguous.
 */
uint64_t tdxm_mem_page_demote(struct tdxm_call *c)
{
	struct tdpsim_tdx_module *m = c->m;
	uint64_t base, new_hpa = c->in.r8, idx, ret;
	struct pamt_page *pages[SEPT_ENTRIES];
	struct pamt_region *r;
	struct sept_page *sp;
	struct mem_op op;
	bool dpamt;
	uint8_t st;
	unsigned int i;

	if (c->in.rdx & 0xfff)
		return tdxm_err(TDX_OPERAND_INVALID, OPERAND_ID_RDX);
	ret = mem_prologue(c, c->in.rdx, false, 1, 2, TREE_SHARED, true, &op);
	if (ret)
		return ret;
	st = sept_state(op.e);
	if (!sept_state_is_leaf(st))
		return refuse(c, &op, TDX_EPT_ENTRY_STATE_INCORRECT);
	/* Nothing creates a 1G leaf (AUG stops at 2M, PROMOTE is not modelled). */
	if (TDPSIM_WARN_ON_ONCE(op.level != 1))
		return TDX_SW_ERROR | ENOTSUP;
	ret = check_blocked_tracked(c, &op, OPERAND_ID_RCX);
	if (ret)
		return ret;
	ret = pamt_check_free(c, new_hpa, 0, OPERAND_ID_R8);
	if (ret)
		return ret;
	base = sept_hpa(op.e);
	idx = base >> TDX_2M_SHIFT;
	ret = tdxm_lock_page(c, base, 1, true, OPERAND_ID_RCX);
	if (ret)
		return ret;
	dpamt = m->cfg.dynamic_pamt;
	if (dpamt) {
		ret = pamt_demote_check_pair(c, idx);
		if (ret)
			return ret;
	}

	/* Everything that can fail to allocate, before anything changes. */
	sp = sept_page_alloc(m, op.td, 0, op.gpa, new_hpa);
	if (!sp)
		return TDX_SW_ERROR | ENOMEM;
	for (i = 0; i < SEPT_ENTRIES; i++)
		if (pamt_prepare(m, base + ((uint64_t)i << TDX_PAGE_SHIFT),
				 &pages[i], NULL))
			goto err_pages;
	if (pamt_prepare(m, new_hpa, NULL, NULL))
		goto err_pages;
	if (dpamt && pamt_demote_prepare_pair(c, idx))
		goto err_new;

	r = pamt_region_find(m, idx);
	st = sept_unblocked(st);
	memset(&r->big, 0, sizeof(r->big));
	for (i = 0; i < SEPT_ENTRIES; i++) {
		uint64_t hpa = base + ((uint64_t)i << TDX_PAGE_SHIFT);

		memset(pages[i], 0, sizeof(*pages[i]));
		pages[i]->type = PT_REG;
		pages[i]->owner = op.td;
		pages[i]->map_sp = sp;
		pages[i]->map_idx = (uint16_t)i;
		sp->e[i].raw = hpa | st;
	}
	r->users += SEPT_ENTRIES;
	sp->nr_present = SEPT_ENTRIES;
	if (dpamt)
		pamt_demote_install_pair(c, idx);
	/* Prepared above: cannot fail. */
	pamt_assign_4k(m, new_hpa, PT_EPT, op.td, sp, NULL);
	sept_link(op.sp, op.idx, sp);
	op.td->child_count++;
	op.td->nr_sept_pages++;
	return TDX_SUCCESS;

err_new:
	pamt_tidy(m, new_hpa);
err_pages:
	while (i--)
		pamt_tidy(m, base + ((uint64_t)i << TDX_PAGE_SHIFT));
	sept_page_free(m, sp);
	return TDX_SW_ERROR | ENOMEM;
}

/*
 * TDH.MR.EXTEND: RCX = GPA of a 256-byte chunk of a MAPPED page, RDX = TDR
 * (exclusive); before MR.FINALIZE. Counted, not measured.
 */
uint64_t tdxm_mr_extend(struct tdxm_call *c)
{
	uint64_t gpa = c->in.rcx, ret;
	struct sept_page *sp;
	struct sept_entry *e;
	struct tdxm_td *td;
	int level;
	uint8_t st;

	ret = tdxm_get_td(c, c->in.rdx, OPERAND_ID_RDX, true, &td);
	if (ret)
		return ret;
	ret = tdxm_check_td_state(c, td);
	if (ret)
		return ret;
	if ((gpa & 0xff) || gpa >= td->gpaw_limit || (gpa & td->shared_bit))
		return tdxm_err(TDX_OPERAND_INVALID, OPERAND_ID_RCX);
	e = sept_walk(td, gpa & ~0xfffULL, 0, &level, &sp);
	st = sept_state(e);
	if (st == TDPSIM_SEPT_MAPPED) {
		td->mr_extends++;
		return TDX_SUCCESS;
	}
	sept_ext(c, e, level);
	if (level && !sept_state_is_leaf(st))
		return tdxm_err(TDX_EPT_WALK_FAILED, OPERAND_ID_RCX);
	return tdxm_err(TDX_EPT_ENTRY_STATE_INCORRECT, OPERAND_ID_RCX);
}

/*
 * TDG.MEM.PAGE.ACCEPT, from the guest on the vCPU whose TDVPR is in the
 * call's R10: RCX = GPA | level (4K or 2M). PENDING at that level ->
 * MAPPED. MAPPED at or above it: PAGE_ALREADY_ACCEPTED (operand: the level
 * where the walk ended). NL_MAPPED at that level: PAGE_SIZE_MISMATCH.
 * Anything else (FREE, blocked, a PENDING or blocked leaf above, a missing
 * S-EPT page): an EPT-violation TD exit with an ACCEPT extended exit
 * qualification, which KVM sees; the guest sees nothing.
 */
uint64_t tdxm_mem_page_accept(struct tdxm_call *c)
{
	struct tdpsim_tdx_accept_result *res = c->accept;
	struct tdxm_vcpu *v = tdxm_vcpu_find(c->m, c->in.r10);
	struct sept_page *sp;
	struct sept_entry *e;
	struct tdxm_td *td;
	int level, wl;
	uint64_t gpa, ret;
	uint8_t st;

	if (!v || !v->in_guest) {
		/* The vCPU was kicked out before the TDCALL ran. */
		res->exited = true;
		return TDX_SUCCESS;
	}
	td = v->td;
	ret = check_page_info(td, c->in.rcx, 0, 1, &gpa, &level);
	if (ret)
		return ret;
	e = sept_walk(td, gpa, level, &wl, &sp);
	st = sept_state(e);
	if (wl != level) {
		if (st == TDPSIM_SEPT_MAPPED)
			return TDX_PAGE_ALREADY_ACCEPTED | (uint32_t)wl;
		goto violation;
	}
	ret = tdxm_lock(c, LK_SEPTE, td->tdr, gpa | (uint64_t)level, true,
		       OPERAND_ID_RCX);
	if (ret)
		return ret;
	/*
	 * tdx-module.md section 2.2: a blocked non-leaf exits like every
	 * blocked entry (the module source answers PAGE_SIZE_MISMATCH for any
	 * non-leaf; docs/tdx-module.md).
	 */
	if (st == TDPSIM_SEPT_NL_MAPPED)
		return TDX_PAGE_SIZE_MISMATCH | (uint32_t)level;
	if (st == TDPSIM_SEPT_MAPPED)
		return TDX_PAGE_ALREADY_ACCEPTED | (uint32_t)level;
	if (st != TDPSIM_SEPT_PENDING)
		goto violation;
	sept_set_state(e, TDPSIM_SEPT_MAPPED);
	return TDX_SUCCESS;

violation:
	res->exited = true;
	res->walk_level = wl + 1;
	res->walk_state = st;
	res->walk_leaf = sept_state_is_leaf(st);
	res->eeq = TDPSIM_TDX_EEQ_TYPE_ACCEPT | (uint64_t)level << 32 |
		   (uint64_t)wl << 35 | (uint64_t)st << 38 |
		   (uint64_t)res->walk_leaf << 46;
	tdxm_vcpu_exit(v);
	return TDX_SUCCESS;
}

/* ---- inspection ---- */

int tdpsim_tdx_sept_lookup(struct tdpsim_tdx_module *m, tdpsim_hpa_t tdr,
			   uint64_t gpa, int level,
			   struct tdpsim_sept_entry_info *ret_info)
{
	struct sept_page *sp;
	struct sept_entry *e;
	struct tdxm_td *td;
	int ret = -ENOENT, wl;

	if (!m || !ret_info)
		return -EINVAL;
	pthread_mutex_lock(&m->lock);
	td = tdxm_td_find(m, tdr);
	if (!td || !td->root)
		goto out;
	ret = -EINVAL;
	if (level < TDPSIM_LEVEL_4K || level - 1 > td->root_level)
		goto out;
	e = sept_walk(td, gpa, level - 1, &wl, &sp);
	memset(ret_info, 0, sizeof(*ret_info));
	ret_info->gpa = gpa & ~(tdxm_level_size(wl) - 1);
	ret_info->level = wl + 1;
	ret_info->state = (enum tdpsim_sept_state)sept_state(e);
	ret_info->hpa = sept_hpa(e);
	ret = 0;
out:
	pthread_mutex_unlock(&m->lock);
	return ret;
}

static int sept_visit(const struct sept_page *sp, uint64_t start, uint64_t end,
		      tdpsim_sept_entry_fn fn, void *opaque)
{
	uint64_t size = tdxm_level_size(sp->level);

	for (unsigned int i = 0; i < SEPT_ENTRIES; i++) {
		const struct sept_entry *e = &sp->e[i];
		struct tdpsim_sept_entry_info info;
		uint64_t gpa = sp->gpa + i * size;
		int ret;

		if (sept_state(e) == TDPSIM_SEPT_FREE || gpa + size <= start ||
		    gpa >= end)
			continue;
		info.gpa = gpa;
		info.level = sp->level + 1;
		info.state = (enum tdpsim_sept_state)sept_state(e);
		info.hpa = sept_hpa(e);
		ret = fn(opaque, &info);
		if (ret)
			return ret;
		if (e->child) {
			ret = sept_visit(e->child, start, end, fn, opaque);
			if (ret)
				return ret;
		}
	}
	return 0;
}

int tdpsim_tdx_sept_for_each(struct tdpsim_tdx_module *m, tdpsim_hpa_t tdr,
			     uint64_t start, uint64_t end,
			     tdpsim_sept_entry_fn fn, void *opaque)
{
	struct tdxm_td *td;
	int ret = -ENOENT;

	if (!m || !fn)
		return -EINVAL;
	pthread_mutex_lock(&m->lock);
	td = tdxm_td_find(m, tdr);
	if (td && td->root)
		ret = sept_visit(td->root, start, end, fn, opaque);
	pthread_mutex_unlock(&m->lock);
	return ret;
}
