/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * check_lpage.c - lpage and lpage-info (kernel-tdp-mmu.md 1.9 and 4).
 *
 * lpage-info recomputes every disallow_lpage value from the memslot and
 * the attribute runs, as kvm_alloc_memslot_metadata(),
 * kvm_mmu_init_memslot_memory_attributes() and
 * kvm_arch_post_set_memory_attributes() would leave it:
 * - the count (bits 0..29) is 1 for the first entry of a slot whose base
 *   is not aligned to the level and for the last entry of a slot whose end
 *   is not, 0 otherwise (the TDP MMU has no write tracking to add to it);
 * - MIXED (bit 31), in VMs with private memory, is set exactly on the huge
 *   pages that lie wholly inside the slot and whose GFNs do not all have
 *   one attribute. At 1G the kernel's hugepage_has_attrs() asks that each
 *   2M part be uniform and have the attribute of the first GFN, which is
 *   the same as the whole 1G range being uniform. Huge pages that stick
 *   out of the slot are disallowed by the count; their MIXED bit is not
 *   looked at (the kernel leaves it alone). VMs without private memory
 *   never set MIXED;
 * - GUEST_INHIBIT (bit 30) is history, not recomputable: once seen set it
 *   must stay set, and it is set only on TDX VMs.
 *
 * lpage holds every huge leaf against the slot it lies in, lpage_info as
 * the model has it, the recomputed value, and (for shared memory) the
 * slot's host page size. At install time (observer) it reads lpage_info
 * as it is at that instant.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

#define LP_FLAGS	(TDPSIM_LPAGE_MIXED_FLAG | TDPSIM_LPAGE_GUEST_INHIBIT_FLAG)

struct lp_expect {
	uint32_t count;			/* bits 0..29 */
	const char *why;		/* what sets the count */
	bool mixed_known;		/* MIXED is determined here */
	bool mixed;
};

static unsigned int lp_shift(int level)
{
	return 9 * (unsigned int)(level - 1);
}

/* Number of lpage_info entries @slot has at @level (gfn_to_index + 1). */
static uint64_t lp_count(const struct tdpsim_memslot_info *slot, int level)
{
	unsigned int shift = lp_shift(level);

	return ((slot->base_gfn + slot->npages - 1) >> shift) -
	       (slot->base_gfn >> shift) + 1;
}

static void lp_expected(struct tdpsim_checker *c, const struct tdpsim_memslot_info *slot,
			int level, uint64_t idx, struct ck_attr_cursor *cur,
			struct lp_expect *exp)
{
	unsigned int shift = lp_shift(level);
	uint64_t pages = ck_pages(level);
	tdpsim_gfn_t base = slot->base_gfn, end = base + slot->npages;
	tdpsim_gfn_t hs = ((base >> shift) + idx) << shift, he = hs + pages;

	exp->count = 0;
	exp->why = NULL;
	if (idx == 0 && (base & (pages - 1))) {
		exp->count = 1;
		exp->why = "slot base not aligned";
	}
	if (idx == lp_count(slot, level) - 1 && (end & (pages - 1))) {
		exp->count = 1;
		exp->why = "slot end not aligned";
	}
	/* The host mapping not congruent with the GFNs: the whole slot. */
	if ((base ^ slot->host_pfn) & (pages - 1)) {
		exp->count = 1;
		exp->why = "host memory not aligned with the GFNs";
	}
	if (!c->has_private) {
		exp->mixed_known = true;
		exp->mixed = false;
	} else if (hs >= base && he <= end) {
		exp->mixed_known = true;
		exp->mixed = !ck_attr_uniform(c, cur, hs, he);
	} else {
		exp->mixed_known = false;
		exp->mixed = false;
	}
}

/* Read the model's value; 0 on success. */
static int lp_read(struct tdpsim_checker *c, uint32_t slot_id, int level,
		   tdpsim_gfn_t gfn, uint32_t *ret_v)
{
	int ret;

	ck_enter();
	ret = tdpsim_vm_lpage_info(c->vm, slot_id, level, gfn, ret_v);
	ck_leave();
	return ret;
}

/* ---- lpage-info ---- */

static void lp_check_entry(struct tdpsim_checker *c, const struct tdpsim_memslot_info *slot,
			   int level, uint64_t idx, struct ck_attr_cursor *cur)
{
	unsigned int shift = lp_shift(level);
	tdpsim_gfn_t hs = ((slot->base_gfn >> shift) + idx) << shift;
	tdpsim_gfn_t g = hs < slot->base_gfn ? slot->base_gfn : hs;
	struct ck_where where = { .gfn = hs, .level = level };
	uint64_t key2 = (uint64_t)level << 56 | idx;
	struct lp_expect exp;
	struct ck_map_ent *ent;
	uint32_t v;
	int ret;

	ret = lp_read(c, slot->id, level, g, &v);
	if (ret) {
		ck_report(c, CK_LPAGE_INFO, &where,
			  "slot %u has no lpage_info entry %" PRIu64 " (error %d)",
			  slot->id, idx, ret);
		return;
	}
	lp_expected(c, slot, level, idx, cur, &exp);
	if ((v & ~LP_FLAGS) != exp.count)
		ck_report(c, CK_LPAGE_INFO, &where,
			  "slot %u entry %" PRIu64 ": disallow count %u, recomputed %u%s%s",
			  slot->id, idx, v & ~LP_FLAGS, exp.count,
			  exp.why ? ": " : "", exp.why ? exp.why : "");
	if (exp.mixed_known && !!(v & TDPSIM_LPAGE_MIXED_FLAG) != exp.mixed)
		ck_report(c, CK_LPAGE_INFO, &where,
			  "slot %u entry %" PRIu64 ": MIXED is %s, but the attributes "
			  "are %s", slot->id, idx,
			  (v & TDPSIM_LPAGE_MIXED_FLAG) ? "set" : "clear",
			  exp.mixed ? "mixed" : "uniform");

	if (v & TDPSIM_LPAGE_GUEST_INHIBIT_FLAG) {
		if (c->type != TDPSIM_VM_TDX)
			ck_report(c, CK_LPAGE_INFO, &where,
				  "slot %u entry %" PRIu64 ": guest-inhibit set in a "
				  "VM that is not TDX", slot->id, idx);
		if (ck_map_insert(&c->inhibit, slot->id, key2, &ent) < 0)
			atomic_store(&c->lost, true);
	} else if (ck_map_find(&c->inhibit, slot->id, key2)) {
		ck_report(c, CK_LPAGE_INFO, &where,
			  "slot %u entry %" PRIu64 ": guest-inhibit was cleared",
			  slot->id, idx);
		ck_map_remove(&c->inhibit, slot->id, key2);
	}
}

void ck_lpage_info_range(struct tdpsim_checker *c,
			 const struct tdpsim_memslot_info *slot, int level,
			 tdpsim_gfn_t start, tdpsim_gfn_t end,
			 struct ck_attr_cursor *cur)
{
	unsigned int shift = lp_shift(level);
	tdpsim_gfn_t send = slot->base_gfn + slot->npages;
	uint64_t first, last;

	if (start < slot->base_gfn)
		start = slot->base_gfn;
	if (end > send)
		end = send;
	if (start >= end)
		return;
	first = (start >> shift) - (slot->base_gfn >> shift);
	last = ((end - 1) >> shift) - (slot->base_gfn >> shift);
	for (uint64_t idx = first; idx <= last; idx++)
		lp_check_entry(c, slot, level, idx, cur);
}

/* ---- lpage-info of what changed (check_touched) ---- */

void ck_lpq_add(struct ck_lpq *q, const struct tdpsim_memslot_info *slot, int level,
		tdpsim_gfn_t start, tdpsim_gfn_t end)
{
	unsigned int shift = lp_shift(level);
	tdpsim_gfn_t send = slot->base_gfn + slot->npages;
	struct ck_lpreq *r;

	if (start < slot->base_gfn)
		start = slot->base_gfn;
	if (end > send)
		end = send;
	if (start >= end)
		return;
	if (q->nr == q->cap) {
		size_t cap = q->cap ? 2 * q->cap : 16;

		r = realloc(q->r, cap * sizeof(*r));
		if (!r) {
			q->overflow = true;
			return;
		}
		q->r = r;
		q->cap = cap;
	}
	q->r[q->nr++] = (struct ck_lpreq){
		.slot_id = slot->id,
		.level = level,
		.lo = (start >> shift) - (slot->base_gfn >> shift),
		.hi = ((end - 1) >> shift) - (slot->base_gfn >> shift),
	};
}

static int lpreq_cmp(const void *a, const void *b)
{
	const struct ck_lpreq *x = a, *y = b;

	if (x->slot_id != y->slot_id)
		return x->slot_id < y->slot_id ? -1 : 1;
	if (x->level != y->level)
		return x->level < y->level ? -1 : 1;
	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return 0;
}

void ck_lpq_run(struct tdpsim_checker *c, struct ck_lpq *q, const struct ck_slots *slots,
		struct ck_attr_cursor *cur)
{
	const struct tdpsim_memslot_info *slot = NULL;
	size_t i = 0;

	if (q->nr > 1)
		qsort(q->r, q->nr, sizeof(*q->r), lpreq_cmp);
	while (i < q->nr) {
		struct ck_lpreq r = q->r[i++];

		/* Merge what overlaps, so each entry is checked once. */
		while (i < q->nr && q->r[i].slot_id == r.slot_id &&
		       q->r[i].level == r.level && q->r[i].lo <= r.hi + 1) {
			if (q->r[i].hi > r.hi)
				r.hi = q->r[i].hi;
			i++;
		}
		if (!slot || slot->id != r.slot_id) {
			slot = NULL;
			for (unsigned int j = 0; j < slots->nr; j++) {
				if (slots->s[j].id == r.slot_id)
					slot = &slots->s[j];
			}
			if (!slot)
				continue;
		}
		for (uint64_t idx = r.lo; idx <= r.hi && idx < lp_count(slot, r.level); idx++)
			lp_check_entry(c, slot, r.level, idx, cur);
	}
}

void ck_lpq_free(struct ck_lpq *q)
{
	free(q->r);
	memset(q, 0, sizeof(*q));
}

void ck_lpage_info_slot(struct tdpsim_checker *c, const struct tdpsim_memslot_info *slot,
			struct ck_attr_cursor *cur)
{
	for (int level = TDPSIM_LEVEL_2M; level <= CK_MAX_HUGE_LEVEL; level++)
		ck_lpage_info_range(c, slot, level, slot->base_gfn,
				    slot->base_gfn + slot->npages, cur);
}

void ck_lpage_forget_slot(struct tdpsim_checker *c, uint32_t slot_id)
{
	struct ck_map_ent *ent;
	uint64_t *keys = NULL;
	size_t n = 0;

	if (!c->inhibit.nr)
		return;
	keys = malloc(c->inhibit.nr * sizeof(*keys));
	if (!keys) {
		ck_map_clear(&c->inhibit);
		return;
	}
	ck_map_for_each(&c->inhibit, ent) {
		if (ent->k1 == slot_id)
			keys[n++] = ent->k2;
	}
	for (size_t i = 0; i < n; i++)
		ck_map_remove(&c->inhibit, slot_id, keys[i]);
	free(keys);
}

/* ---- lpage ---- */

void ck_lpage_leaf(struct ck_walk *w, const struct tdpsim_spte_info *e)
{
	struct tdpsim_checker *c = w->c;
	int level = e->level;
	tdpsim_gfn_t gfn = e->gfn, end = gfn + ck_pages(level), run_end;
	const struct tdpsim_memslot_info *slot;
	struct ck_where where = ck_where_entry(w, e);
	struct lp_expect exp;
	uint64_t idx;
	uint32_t v;
	bool priv;

	if (level <= TDPSIM_LEVEL_4K || level > CK_MAX_HUGE_LEVEL)
		return;
	slot = ck_slot_find(w->slots, gfn);
	if (!slot) {
		ck_report(c, CK_LPAGE, &where, "huge leaf starts outside every memslot");
		return;
	}
	if (end > slot->base_gfn + slot->npages) {
		ck_report(c, CK_LPAGE, &where,
			  "huge leaf runs past the end of slot %u [0x%" PRIx64
			  ", 0x%" PRIx64 ")", slot->id, slot->base_gfn,
			  slot->base_gfn + slot->npages);
		return;
	}
	idx = (gfn >> lp_shift(level)) - (slot->base_gfn >> lp_shift(level));
	if (lp_read(c, slot->id, level, gfn, &v)) {
		ck_report(c, CK_LPAGE, &where,
			  "huge leaf, but slot %u has no lpage_info for it", slot->id);
		return;
	}
	lp_expected(c, slot, level, idx, &w->cur, &exp);
	if (v || exp.count || (exp.mixed_known && exp.mixed))
		ck_report(c, CK_LPAGE, &where,
			  "huge leaf where lpage_info disallows the level: slot %u "
			  "entry %" PRIu64 " is 0x%x, recomputed count %u%s",
			  slot->id, idx, v, exp.count,
			  exp.mixed ? " and mixed attributes" : "");

	/* Shared memory: never above the host mapping (host_pfn_mapping_level). */
	priv = ck_attr_at(c, &w->cur, gfn, &run_end);
	if (!priv && level > slot->host_page_level)
		ck_report(c, CK_LPAGE, &where,
			  "shared huge leaf above slot %u's host page size %s",
			  slot->id, tdpsim_level_name(slot->host_page_level));
}

void ck_lpage_install(struct tdpsim_checker *c, const struct tdpsim_spte_change *ch)
{
	uint64_t old = ch->old_spte, new = ch->new_spte;
	int level = ch->level;
	struct tdpsim_memslot_info slot;
	struct ck_where where = ck_where_change(ch);
	uint32_t v;

	if (!ck_huge_leaf(new, level) || level > CK_MAX_HUGE_LEVEL)
		return;
	/* The same mapping with other permissions is not an install. */
	if (ck_huge_leaf(old, level) && ck_pfn(old) == ck_pfn(new))
		return;
	ck_enter();
	if (ck_slot_now(c, ch->gfn, &slot)) {
		ck_leave();
		ck_report(c, CK_LPAGE, &where,
			  "huge leaf installed outside every memslot");
		return;
	}
	if (ch->gfn + ck_pages(level) > slot.base_gfn + slot.npages) {
		ck_leave();
		ck_report(c, CK_LPAGE, &where,
			  "huge leaf installed past the end of slot %u", slot.id);
		return;
	}
	if (tdpsim_vm_lpage_info(c->vm, slot.id, level, ch->gfn, &v)) {
		ck_leave();
		ck_report(c, CK_LPAGE, &where,
			  "huge leaf installed, but slot %u has no lpage_info for it",
			  slot.id);
		return;
	}
	ck_leave();
	if (v)
		ck_report(c, CK_LPAGE, &where,
			  "huge leaf installed while slot %u's lpage_info disallows "
			  "the level (0x%x)", slot.id, v);
}
