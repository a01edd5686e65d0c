/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * check_attr.c - attr-root and attr-uniform, and the attribute runs the
 * other checks recompute from (tdpsim_vm_attr_range()).
 *
 * attr-root, as far as the model goes now:
 * - TDX: a private GFN is mapped only in the mirror root, a shared one only
 *   in the direct root;
 * - every leaf lies in a memslot; a shared GFN maps its host PFN
 *   (the slot's host_pfn plus the GFN's offset in the slot);
 * - sw-protected: a private GFN maps guest_memfd memory, so never its host
 *   PFN, and not at all in a slot without a guest_memfd. Which guest_memfd
 *   page it must be is `gmem-backing`, checked with the guest_memfd model.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

bool ck_attr_at(struct tdpsim_checker *c, struct ck_attr_cursor *cur,
		tdpsim_gfn_t gfn, tdpsim_gfn_t *ret_end)
{
	tdpsim_gfn_t end = 0;
	bool priv = false;

	if (!cur->valid || gfn < cur->start || gfn >= cur->end) {
		ck_enter();
		if (tdpsim_vm_attr_range(c->vm, gfn, &end, &priv) || end <= gfn) {
			/* Nothing to say past the end: one GFN, shared. */
			end = gfn + 1;
			priv = false;
		}
		ck_leave();
		cur->start = gfn;
		cur->end = end;
		cur->private_mem = priv;
		cur->valid = true;
	}
	if (ret_end)
		*ret_end = cur->end;
	return cur->private_mem;
}

bool ck_attr_uniform(struct tdpsim_checker *c, struct ck_attr_cursor *cur,
		     tdpsim_gfn_t start, tdpsim_gfn_t end)
{
	tdpsim_gfn_t run_end;

	ck_attr_at(c, cur, start, &run_end);
	return run_end >= end;
}

/* ---- attribute runs, to see what a conversion changed ---- */

int ck_attr_runs_read(struct tdpsim_checker *c, struct ck_attr_runs *runs)
{
	tdpsim_gfn_t gfn = 0, end;
	bool priv;
	int ret = 0;

	runs->nr = 0;
	runs->valid = false;
	ck_enter();
	while (gfn < c->gfn_limit) {
		if (tdpsim_vm_attr_range(c->vm, gfn, &end, &priv) || end <= gfn) {
			end = c->gfn_limit;
			priv = false;
		}
		if (end > c->gfn_limit)
			end = c->gfn_limit;
		if (runs->nr && runs->r[runs->nr - 1].private_mem == priv) {
			runs->r[runs->nr - 1].end = end;
		} else {
			if (runs->nr == runs->cap) {
				size_t cap = runs->cap ? 2 * runs->cap : 16;
				struct ck_attr_run *r = realloc(runs->r, cap * sizeof(*r));

				if (!r) {
					ret = -ENOMEM;
					break;
				}
				runs->r = r;
				runs->cap = cap;
			}
			runs->r[runs->nr++] = (struct ck_attr_run){ gfn, end, priv };
		}
		gfn = end;
	}
	ck_leave();
	if (!ret)
		runs->valid = true;
	return ret;
}

void ck_attr_runs_diff(const struct ck_attr_runs *a, const struct ck_attr_runs *b,
		       struct ck_ranges *out)
{
	size_t i = 0, j = 0;
	tdpsim_gfn_t g = 0;

	while (i < a->nr && j < b->nr) {
		tdpsim_gfn_t end = a->r[i].end < b->r[j].end ? a->r[i].end : b->r[j].end;

		if (a->r[i].private_mem != b->r[j].private_mem)
			ck_ranges_add(out, TDPSIM_ROOT_DIRECT, g, end);
		g = end;
		if (a->r[i].end == end)
			i++;
		if (b->r[j].end == end)
			j++;
	}
}

void ck_attr_runs_free(struct ck_attr_runs *runs)
{
	free(runs->r);
	memset(runs, 0, sizeof(*runs));
}

/* ---- leaves ---- */

void ck_attr_leaf(struct ck_walk *w, const struct tdpsim_spte_info *e)
{
	struct tdpsim_checker *c = w->c;
	tdpsim_gfn_t gfn = e->gfn, end = gfn + ck_pages(e->level), run_end;
	const struct tdpsim_memslot_info *slot;
	struct ck_where where = ck_where_entry(w, e);
	tdpsim_pfn_t host;
	bool priv;

	priv = ck_attr_at(c, &w->cur, gfn, &run_end);
	if (e->level > TDPSIM_LEVEL_4K && run_end < end)
		ck_report(c, CK_ATTR_UNIFORM, &where,
			  "huge leaf over mixed attributes: %s up to gfn 0x%" PRIx64
			  ", not beyond", priv ? "private" : "shared", run_end);

	if (c->type == TDPSIM_VM_TDX) {
		if (w->role == TDPSIM_ROOT_MIRROR && !priv)
			ck_report(c, CK_ATTR_ROOT, &where,
				  "shared GFN mapped in the mirror root");
		if (w->role == TDPSIM_ROOT_DIRECT && priv)
			ck_report(c, CK_ATTR_ROOT, &where,
				  "private GFN mapped in the direct root");
	}

	slot = ck_slot_find(w->slots, gfn);
	if (!slot) {
		ck_report(c, CK_ATTR_ROOT, &where,
			  "leaf maps a GFN that no memslot holds");
		return;
	}
	host = slot->host_pfn + (gfn - slot->base_gfn);
	if (!priv) {
		if (ck_pfn(e->spte) != host)
			ck_report(c, CK_ATTR_ROOT, &where,
				  "shared GFN maps PFN 0x%" PRIx64 ", its host PFN is 0x%"
				  PRIx64 " (slot %u)", ck_pfn(e->spte), host, slot->id);
		return;
	}
	if (c->type == TDPSIM_VM_SW_PROTECTED) {
		if (slot->gmem_id < 0)
			ck_report(c, CK_ATTR_ROOT, &where,
				  "private GFN mapped, but slot %u has no guest_memfd",
				  slot->id);
		else if (ck_pfn(e->spte) == host)
			ck_report(c, CK_ATTR_ROOT, &where,
				  "private GFN maps its shared host PFN 0x%" PRIx64, host);
	}
}
