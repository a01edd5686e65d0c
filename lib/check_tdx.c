/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * check_tdx.c - the TDX invariants, from the fake TDX Module's own state
 * (its S-EPT, PAMT, TDs and failure log), never from KVM's bookkeeping
 * about it (except the Dynamic-PAMT refcount, which is what `pamt`
 * compares against the module's count of 4K users).
 *
 * ck_tdx_quiescent() (after the walks of check_all/check_touched):
 *   seamcall     every SEAMCALL the module refused since the last check,
 *                read from its failure log, other than OPERAND_BUSY, the
 *                guest's ACCEPT answers, statuses injected by the trace
 *                and the warnings KVM's teardown meets by design;
 *   hkid         the refusals that mean a private leaf was touched after
 *                the HKID was released (TD_KEYS_NOT_CONFIGURED on a
 *                TDH.MEM leaf) or a page was reclaimed before it
 *                (LIFECYCLE_STATE_INCORRECT on PAGE.RECLAIM);
 *   mirror-sync  every S-EPT leaf is a mirror leaf with the same GFN,
 *                level and PFN; no entry left blocked;
 *   pamt         Dynamic PAMT: 4K users only under a pair, KVM's
 *                refcount == the module's users, no pair under a 2M page,
 *                no pair without a TD;
 *   accept-level after a noted ACCEPT at L: the private leaf is at <= L,
 *                and where a fault may now map above L the lpage_info
 *                entries above L carry guest-inhibit.
 *
 * ck_tdx_leaf() (each mirror leaf of a quiescent walk): the other half of
 * mirror-sync: the module maps it at the same level and PFN.
 *
 * ck_tdx_leak() (after destroy): no TD, S-EPT page, PAMT pair or page KVM
 * gave the module is left.
 */
#include <inttypes.h>
#include <stdlib.h>

#include "check.h"
#include "kvm_tdx.h"

#define CK_TDX_MAX_ENTRIES	(1u << 20)

static struct kvm *ck_kvm(struct tdpsim_checker *c)
{
	return &c->vm->kvm;
}

static struct tdpsim_tdx_module *ck_module(struct tdpsim_checker *c)
{
	if (c->type != TDPSIM_VM_TDX)
		return NULL;
	return kvm_tdx_module(ck_kvm(c));
}

static uint64_t ck_spte_pfn(uint64_t spte)
{
	return (spte >> 12) & ((1ULL << 40) - 1);
}

/* ---- seamcall, hkid: the failure log ---- */

static bool ck_status_is(uint64_t status, uint64_t code)
{
	return tdpsim_tdx_status_code(status) == code;
}

static void ck_tdx_failures(struct tdpsim_checker *c, struct tdpsim_tdx_module *m)
{
	uint64_t count = tdpsim_tdx_failure_count(m);

	for (uint64_t seq = c->tdx_failures_seen + 1; seq <= count; seq++) {
		struct tdpsim_tdx_failure f;
		const char *leaf, *status;

		if (tdpsim_tdx_failure_get(m, seq, &f))
			continue;	/* fell out of the log */
		if (f.injected || f.leaf == TDPSIM_TDG_MEM_PAGE_ACCEPT ||
		    ck_status_is(f.status, TDPSIM_TDX_OPERAND_BUSY) ||
		    ck_status_is(f.status, TDPSIM_TDX_OPERAND_BUSY_HOST_PRIORITY) ||
		    ck_status_is(f.status, TDPSIM_TDX_NO_HKID_READY_TO_WBCACHE) ||
		    ck_status_is(f.status, TDPSIM_TDX_GPA_RANGE_ALREADY_BLOCKED) ||
		    ck_status_is(f.status, TDPSIM_TDX_VCPU_NOT_ASSOCIATED))
			continue;
		leaf = tdpsim_tdx_leaf_name(f.leaf);
		status = tdpsim_tdx_status_name(f.status);
		if ((ck_status_is(f.status, TDPSIM_TDX_TD_KEYS_NOT_CONFIGURED) &&
		     (f.leaf == TDPSIM_TDH_MEM_RANGE_BLOCK ||
		      f.leaf == TDPSIM_TDH_MEM_PAGE_REMOVE)) ||
		    (ck_status_is(f.status, TDPSIM_TDX_LIFECYCLE_STATE_INCORRECT) &&
		     f.leaf == TDPSIM_TDH_PHYMEM_PAGE_RECLAIM)) {
			ck_report(c, CK_HKID, NULL,
				  "%s refused with %s (rcx 0x%" PRIx64 "): %s",
				  leaf ? leaf : "?", status ? status : "?", f.rcx,
				  f.leaf == TDPSIM_TDH_PHYMEM_PAGE_RECLAIM ?
				  "a page reclaimed while the HKID is assigned" :
				  "a private leaf removed after the HKID was released");
			continue;
		}
		ck_report(c, CK_SEAMCALL, NULL,
			  "%s refused with %s (0x%016" PRIx64 "; rcx 0x%" PRIx64
			  " rdx 0x%" PRIx64 " r8 0x%" PRIx64 "; entry 0x%" PRIx64
			  " level|state 0x%" PRIx64 ")",
			  leaf ? leaf : "?", status ? status : "?", f.status, f.rcx,
			  f.rdx, f.r8, f.ext_rcx, f.ext_rdx);
	}
	c->tdx_failures_seen = count;
}

/* ---- mirror-sync ---- */

struct ck_sept_list {
	struct tdpsim_sept_entry_info *e;
	size_t nr, cap;
	bool oom;
};

static int ck_sept_collect(void *opaque, const struct tdpsim_sept_entry_info *e)
{
	struct ck_sept_list *l = opaque;

	if (l->nr == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		struct tdpsim_sept_entry_info *n;

		if (cap > CK_TDX_MAX_ENTRIES)
			return 1;
		n = realloc(l->e, cap * sizeof(*n));
		if (!n) {
			l->oom = true;
			return 1;
		}
		l->e = n;
		l->cap = cap;
	}
	l->e[l->nr++] = *e;
	return 0;
}

static void ck_mirror_sync(struct tdpsim_checker *c, struct tdpsim_tdx_module *m,
			   tdpsim_hpa_t tdr)
{
	struct ck_sept_list l = { 0 };

	if (tdpsim_tdx_sept_for_each(m, tdr, 0, UINT64_MAX, ck_sept_collect, &l) < 0 ||
	    l.oom) {
		free(l.e);
		return;
	}
	for (size_t i = 0; i < l.nr; i++) {
		const struct tdpsim_sept_entry_info *e = &l.e[i];
		struct ck_where w = { .gfn = e->gpa >> 12, .level = e->level,
				      .role = TDPSIM_ROOT_MIRROR, .has_root = true };
		struct tdpsim_spte_info leaf;
		const char *name = tdpsim_sept_state_name(e->state);

		if (e->state == TDPSIM_SEPT_BLOCKED || e->state == TDPSIM_SEPT_PENDING_BLOCKED ||
		    e->state == TDPSIM_SEPT_NL_BLOCKED) {
			ck_report(c, CK_MIRROR_SYNC, &w, "S-EPT entry left %s", name);
			continue;
		}
		if (e->state != TDPSIM_SEPT_MAPPED && e->state != TDPSIM_SEPT_PENDING) {
			/* NL_MAPPED: the mirror must not map it with a leaf. */
			if (e->state == TDPSIM_SEPT_NL_MAPPED &&
			    !tdpsim_vm_lookup_leaf(c->vm, TDPSIM_ROOT_MIRROR,
						   e->gpa >> 12, &leaf) &&
			    leaf.level >= e->level)
				ck_report(c, CK_MIRROR_SYNC, &w,
					  "S-EPT has a table here, the mirror a %s leaf",
					  tdpsim_level_name(leaf.level));
			continue;
		}
		if (tdpsim_vm_lookup_leaf(c->vm, TDPSIM_ROOT_MIRROR, e->gpa >> 12, &leaf)) {
			ck_report(c, CK_MIRROR_SYNC, &w,
				  "S-EPT maps HPA 0x%" PRIx64 " (%s), the mirror root nothing",
				  e->hpa, name);
			continue;
		}
		if (leaf.level != e->level || ck_spte_pfn(leaf.spte) != e->hpa >> 12)
			ck_report(c, CK_MIRROR_SYNC, &w,
				  "S-EPT maps PFN 0x%" PRIx64 " at %s, the mirror PFN 0x%"
				  PRIx64 " at %s", e->hpa >> 12, tdpsim_level_name(e->level),
				  ck_spte_pfn(leaf.spte), tdpsim_level_name(leaf.level));
	}
	free(l.e);
}

void ck_tdx_leaf(struct ck_walk *w, const struct tdpsim_spte_info *e)
{
	struct tdpsim_checker *c = w->c;
	struct tdpsim_tdx_module *m;
	struct tdpsim_sept_entry_info info;
	struct ck_where where = { .gfn = e->gfn, .level = e->level, .role = e->role,
				  .has_root = true, .new_spte = e->spte,
				  .has_spte = true };

	if (e->role != TDPSIM_ROOT_MIRROR)
		return;
	m = ck_module(c);
	if (!m)
		return;
	if (tdpsim_tdx_sept_lookup(m, kvm_tdx_tdr(ck_kvm(c)), e->gfn << 12, e->level,
				   &info)) {
		ck_report(c, CK_MIRROR_SYNC, &where, "mirror leaf, but the TD has no S-EPT");
		return;
	}
	if (info.level != e->level ||
	    (info.state != TDPSIM_SEPT_MAPPED && info.state != TDPSIM_SEPT_PENDING) ||
	    info.hpa >> 12 != ck_spte_pfn(e->spte))
		ck_report(c, CK_MIRROR_SYNC, &where,
			  "mirror leaf, but the S-EPT entry is %s at %s (HPA 0x%" PRIx64 ")",
			  tdpsim_sept_state_name(info.state) ?
			  tdpsim_sept_state_name(info.state) : "?",
			  tdpsim_level_name(info.level), info.hpa);
}

/* ---- pamt ---- */

struct ck_pamt_ctx {
	struct tdpsim_tdx_pamt_region_info *r;
	size_t nr, cap;
	bool oom;
};

static int ck_pamt_collect(void *opaque, const struct tdpsim_tdx_pamt_region_info *r)
{
	struct ck_pamt_ctx *p = opaque;

	if (p->nr == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 64;
		struct tdpsim_tdx_pamt_region_info *n = realloc(p->r, cap * sizeof(*n));

		if (!n) {
			p->oom = true;
			return 1;
		}
		p->r = n;
		p->cap = cap;
	}
	p->r[p->nr++] = *r;
	return 0;
}

static void ck_pamt(struct tdpsim_checker *c, struct tdpsim_tdx_module *m)
{
	struct ck_pamt_ctx p = { 0 };
	bool no_td = tdpsim_tdx_nr_tds(m) == 0;

	if (tdpsim_tdx_pamt_for_each_region(m, ck_pamt_collect, &p) < 0 || p.oom) {
		free(p.r);
		return;
	}
	for (size_t i = 0; i < p.nr; i++) {
		const struct tdpsim_tdx_pamt_region_info *r = &p.r[i];
		unsigned int ref = kvm_tdx_pamt_refcount(ck_kvm(c), r->base);

		if (r->users && !r->pair)
			ck_report(c, CK_PAMT, NULL,
				  "2M region 0x%" PRIx64 ": %u 4K TD pages and no PAMT pair",
				  r->base, r->users);
		if (r->pair && r->mapped_2m)
			ck_report(c, CK_PAMT, NULL,
				  "2M region 0x%" PRIx64 " is a 2M private page with a PAMT pair",
				  r->base);
		if (r->pair && no_td)
			ck_report(c, CK_PAMT, NULL,
				  "2M region 0x%" PRIx64 " keeps a PAMT pair with no TD left",
				  r->base);
		if (r->pair && ref != r->users)
			ck_report(c, CK_PAMT, NULL,
				  "2M region 0x%" PRIx64 ": KVM's refcount %u, 4K users %u",
				  r->base, ref, r->users);
	}
	free(p.r);
}

/* ---- accept-level ---- */

void tdpsim_checker_note_accept(struct tdpsim_checker *c, tdpsim_gfn_t gfn, int level,
				bool accepted)
{
	if (!c || !accepted)
		return;
	pthread_mutex_lock(&c->state_lock);
	if (c->nr_accepts == c->cap_accepts) {
		unsigned int cap = c->cap_accepts ? 2 * c->cap_accepts : 8;
		struct ck_accept *n = realloc(c->accepts, cap * sizeof(*n));

		if (!n) {
			pthread_mutex_unlock(&c->state_lock);
			return;
		}
		c->accepts = n;
		c->cap_accepts = cap;
	}
	c->accepts[c->nr_accepts++] = (struct ck_accept){ .gfn = gfn, .level = level };
	pthread_mutex_unlock(&c->state_lock);
}

static void ck_accept_level(struct tdpsim_checker *c)
{
	pthread_mutex_lock(&c->state_lock);
	for (unsigned int i = 0; i < c->nr_accepts; i++) {
		const struct ck_accept *a = &c->accepts[i];
		struct ck_where w = { .gfn = a->gfn, .level = a->level,
				      .role = TDPSIM_ROOT_MIRROR, .has_root = true };
		struct tdpsim_memslot_info slot;
		struct tdpsim_spte_info leaf;
		int max;

		if (!tdpsim_vm_lookup_leaf(c->vm, TDPSIM_ROOT_MIRROR, a->gfn, &leaf) &&
		    leaf.level > a->level)
			ck_report(c, CK_ACCEPT_LEVEL, &w,
				  "accepted at %s, mapped at %s", tdpsim_level_name(a->level),
				  tdpsim_level_name(leaf.level));
		/*
		 * Guest-inhibit exists so that no later fault maps the GFN
		 * above the accepted level: what a fault may map now
		 * (lpage_info with its guest-inhibit flag, the folio,
		 * tdx.huge) must not exceed it where the flag is missing.
		 */
		max = tdpsim_vm_max_mapping_level(c->vm, a->gfn, TDPSIM_FAULT_PRIVATE);
		if (max <= a->level || ck_slot_now(c, a->gfn, &slot))
			continue;
		for (int l = a->level + 1; l <= max; l++) {
			uint32_t disallow;

			if (!tdpsim_vm_lpage_info(c->vm, slot.id, l, a->gfn, &disallow) &&
			    !(disallow & TDPSIM_LPAGE_GUEST_INHIBIT_FLAG))
				ck_report(c, CK_ACCEPT_LEVEL, &w,
					  "accepted at %s, a fault may map %s and the %s page "
					  "is not guest-inhibited", tdpsim_level_name(a->level),
					  tdpsim_level_name(max), tdpsim_level_name(l));
		}
	}
	c->nr_accepts = 0;
	pthread_mutex_unlock(&c->state_lock);
}

void ck_tdx_quiescent(struct tdpsim_checker *c)
{
	struct tdpsim_tdx_module *m = ck_module(c);
	tdpsim_hpa_t tdr;

	if (!m)
		return;
	tdr = kvm_tdx_tdr(ck_kvm(c));
	ck_tdx_failures(c, m);
	if (tdr)
		ck_mirror_sync(c, m, tdr);
	if (ck_kvm(c)->policy.tdx_dpamt)
		ck_pamt(c, m);
	ck_accept_level(c);
}

void ck_tdx_transition(struct tdpsim_checker *c, const struct tdpsim_spte_change *ch)
{
	(void)c;
	(void)ch;
}

void ck_tdx_leak(struct tdpsim_checker *c)
{
	struct tdpsim_tdx_module *m = ck_module(c);
	uint64_t n;

	if (!m)
		return;
	ck_tdx_failures(c, m);
	if (tdpsim_tdx_nr_tds(m))
		ck_report(c, CK_LEAK, NULL, "%u TDs left in the TDX module after teardown",
			  tdpsim_tdx_nr_tds(m));
	n = tdpsim_tdx_pamt_pairs(m);
	if (n)
		ck_report(c, CK_LEAK, NULL, "%" PRIu64 " PAMT pairs left after teardown", n);
	n = tdpsim_tdx_module_alloc_live(m, TDPSIM_ALLOC_KIND_SEPT);
	if (n)
		ck_report(c, CK_LEAK, NULL, "%" PRIu64 " S-EPT pages left in the module",
			  n);
	n = kvm_tdx_live_pages(ck_kvm(c));
	if (n)
		ck_report(c, CK_LEAK, NULL,
			  "%" PRIu64 " pages KVM gave the TD were never given back", n);
	if (ck_kvm(c)->policy.tdx_dpamt)
		ck_pamt(c, m);
}
