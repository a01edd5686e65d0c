/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * check_gmem.c - the guest_memfd invariants: gmem-backing and boundary,
 * and attr-root for VMs whose private GFNs live in a mirror root without
 * being TDX (the model's test mode; check_attr.c does TDX).
 *
 * gmem-backing (each leaf of a quiescent walk, ck_gmem_leaf()): a private
 * leaf (every leaf of the mirror root; a leaf of the direct root over
 * private GFNs) lies in a slot bound to a guest_memfd, and the folio that
 * holds the file page of its first GFN (index = gfn - base_gfn + offset /
 * 4K) covers all of the leaf (so the leaf is no larger than the folio),
 * is not poisoned, is live host memory, and the leaf's PFN is that page's.
 * Read through tdpsim_gmem_folio().
 *
 * boundary (the private_zap observer event): at BEGIN the checker records
 * what maps the GFNs just outside the range, start - 1 and end: the leaf
 * holding each, with the part of it that lies outside the range and its
 * PFN. At DONE no leaf of the mirror root may map a GFN of [start, end),
 * and every recorded GFN must still be mapped to the same PFN; at ABORTED
 * (a split failed, nothing zapped) only the second. A huge leaf that
 * straddles start or end and was zapped whole (split.boundary=none) loses
 * the outside part and is reported.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <tdpsim/gmem.h>

#include "check.h"

/* A recorded outside part: [start, end) mapped from @pfn on. */
struct ck_zap_part {
	tdpsim_gfn_t start, end;
	tdpsim_pfn_t pfn;
};

/* A private zap between BEGIN and DONE. */
struct ck_zap {
	tdpsim_gfn_t start, end;
	struct ck_zap_part part[2];
	unsigned int nr_parts;
};

/* The state of this file (c->gmem). */
struct ck_gmem {
	pthread_mutex_t lock;		/* guards @zaps (callbacks) */
	struct ck_zap *zaps;		/* zaps begun and not done */
	size_t nr_zaps, cap_zaps;
	int has_mirror;			/* the VM has a mirror root: -1 not
					 * known yet */
};

static struct ck_gmem *gmem_state(struct tdpsim_checker *c)
{
	struct ck_gmem *g = atomic_load(&c->gmem);

	if (g)
		return g;
	g = calloc(1, sizeof(*g));
	if (!g)
		return NULL;
	pthread_mutex_init(&g->lock, NULL);
	g->has_mirror = -1;
	{
		struct ck_gmem *expected = NULL;

		if (!atomic_compare_exchange_strong(&c->gmem, &expected, g)) {
			pthread_mutex_destroy(&g->lock);
			free(g);
			g = expected;
		}
	}
	return g;
}

void ck_gmem_free(struct tdpsim_checker *c)
{
	struct ck_gmem *g = atomic_load(&c->gmem);

	if (!g)
		return;
	pthread_mutex_destroy(&g->lock);
	free(g->zaps);
	free(g);
	atomic_store(&c->gmem, NULL);
}

/* The VM has a mirror root (TDX, or the test mode). */
static bool has_mirror(struct tdpsim_checker *c, struct ck_gmem *g)
{
	int level;
	const void *root;

	if (g->has_mirror < 0) {
		ck_enter();
		g->has_mirror = !tdpsim_vm_root(c->vm, TDPSIM_ROOT_MIRROR, &level, &root);
		ck_leave();
	}
	return g->has_mirror;
}

/* ---- gmem-backing (and attr-root in the mirror test mode) ---- */

void ck_gmem_leaf(struct ck_walk *w, const struct tdpsim_spte_info *e)
{
	struct tdpsim_checker *c = w->c;
	struct ck_gmem *g = gmem_state(c);
	const struct tdpsim_memslot_info *slot;
	struct tdpsim_gmem_folio f;
	struct ck_where where = ck_where_entry(w, e);
	uint64_t pages = ck_pages(e->level), index;
	tdpsim_pfn_t want;
	bool priv;
	int ret;

	if (!c->has_private || !g)
		return;
	priv = ck_attr_at(c, &w->cur, e->gfn, NULL);
	if (c->type != TDPSIM_VM_TDX && has_mirror(c, g)) {
		/* As check_attr.c does for TDX. */
		if (w->role == TDPSIM_ROOT_MIRROR && !priv)
			ck_report(c, CK_ATTR_ROOT, &where,
				  "shared GFN mapped in the mirror root");
		if (w->role == TDPSIM_ROOT_DIRECT && priv) {
			ck_report(c, CK_ATTR_ROOT, &where,
				  "private GFN mapped in the direct root");
			return;
		}
	}
	if (w->role == TDPSIM_ROOT_DIRECT && !priv)
		return;

	slot = ck_slot_find(w->slots, e->gfn);
	if (!slot)
		return;		/* attr-root reports it */
	if (slot->gmem_id < 0) {
		if (w->role == TDPSIM_ROOT_MIRROR)
			ck_report(c, CK_GMEM_BACKING, &where,
				  "private leaf in slot %u, which has no guest_memfd",
				  slot->id);
		return;		/* direct root: attr-root reports it */
	}
	index = e->gfn - slot->base_gfn + (slot->gmem_offset >> 12);
	ck_enter();
	ret = tdpsim_gmem_folio(c->vm, (uint32_t)slot->gmem_id, index, &f);
	ck_leave();
	if (ret) {
		ck_report(c, CK_GMEM_BACKING, &where,
			  "private leaf maps guest_memfd %d page 0x%" PRIx64
			  ", which has no folio (punched or never allocated)",
			  slot->gmem_id, index);
		return;
	}
	if (f.poisoned) {
		ck_report(c, CK_GMEM_BACKING, &where,
			  "private leaf maps guest_memfd %d page 0x%" PRIx64
			  ", which is poisoned", slot->gmem_id, index);
		return;
	}
	if (!f.live) {
		ck_report(c, CK_GMEM_BACKING, &where,
			  "private leaf maps guest_memfd %d page 0x%" PRIx64
			  " whose host page 0x%" PRIx64 " is freed",
			  slot->gmem_id, index, f.pfn + (index - f.index));
		return;
	}
	if (index + pages > f.index + ck_pages(f.level)) {
		ck_report(c, CK_GMEM_BACKING, &where,
			  "leaf larger than its guest_memfd %d folio (%s at page 0x%"
			  PRIx64 ")", slot->gmem_id, tdpsim_level_name(f.level),
			  f.index);
		return;
	}
	want = f.pfn + (index - f.index);
	if (ck_pfn(e->spte) != want)
		ck_report(c, CK_GMEM_BACKING, &where,
			  "private leaf maps PFN 0x%" PRIx64 ", but guest_memfd %d page 0x%"
			  PRIx64 " is PFN 0x%" PRIx64, ck_pfn(e->spte), slot->gmem_id,
			  index, want);
}

/* ---- boundary ---- */

/* The mirror leaf mapping @gfn, or false. */
static bool mirror_leaf(struct tdpsim_checker *c, tdpsim_gfn_t gfn,
			struct tdpsim_spte_info *ret_info)
{
	int ret;

	ck_enter();
	ret = tdpsim_vm_lookup_leaf(c->vm, TDPSIM_ROOT_MIRROR, gfn, ret_info);
	ck_leave();
	return !ret;
}

/* Record the part of the leaf holding @gfn that lies in [lo, hi). */
static void record_part(struct tdpsim_checker *c, struct ck_zap *z, tdpsim_gfn_t gfn,
			tdpsim_gfn_t lo, tdpsim_gfn_t hi)
{
	struct tdpsim_spte_info info;
	struct ck_zap_part *p;
	tdpsim_gfn_t s, e;

	if (!mirror_leaf(c, gfn, &info))
		return;
	s = info.gfn > lo ? info.gfn : lo;
	e = info.gfn + ck_pages(info.level);
	if (e > hi)
		e = hi;
	if (s >= e)
		return;
	p = &z->part[z->nr_parts++];
	p->start = s;
	p->end = e;
	p->pfn = ck_pfn(info.spte) + (s - info.gfn);
}

static void zap_begin(struct tdpsim_checker *c, struct ck_gmem *g,
		      tdpsim_gfn_t start, tdpsim_gfn_t end)
{
	struct ck_zap *z;

	pthread_mutex_lock(&g->lock);
	if (g->nr_zaps == g->cap_zaps) {
		size_t cap = g->cap_zaps ? 2 * g->cap_zaps : 4;
		struct ck_zap *n = realloc(g->zaps, cap * sizeof(*n));

		if (!n) {
			pthread_mutex_unlock(&g->lock);
			atomic_store(&c->lost, true);
			return;
		}
		g->zaps = n;
		g->cap_zaps = cap;
	}
	z = &g->zaps[g->nr_zaps++];
	memset(z, 0, sizeof(*z));
	z->start = start;
	z->end = end;
	/* What maps start - 1 and end, as far as it lies outside the range
	 * (a huge leaf straddling a boundary: its outside part). */
	if (start > 0)
		record_part(c, z, start - 1, 0, start);
	if (end < c->gfn_limit)
		record_part(c, z, end, end, c->gfn_limit);
	pthread_mutex_unlock(&g->lock);
}

/* Report the first mirror leaf inside [start, end). */
static int inside_leaf_fn(void *opaque, const struct tdpsim_spte_info *e)
{
	struct tdpsim_spte_info *found = opaque;

	if (!ck_leaf(e->spte, e->level))
		return 0;
	*found = *e;
	return 1;
}

static void zap_check(struct tdpsim_checker *c, const struct ck_zap *z, bool zapped)
{
	struct tdpsim_spte_info info;
	struct ck_where where = { .role = TDPSIM_ROOT_MIRROR, .has_root = true };
	int ret;

	if (zapped) {
		ck_enter();
		ret = tdpsim_vm_walk_sptes(c->vm, TDPSIM_ROOT_MIRROR, z->start, z->end,
					   inside_leaf_fn, &info);
		ck_leave();
		if (ret == 1) {
			where.gfn = info.gfn;
			where.level = info.level;
			where.new_spte = info.spte;
			where.has_spte = true;
			ck_report(c, CK_BOUNDARY, &where,
				  "after the private zap of [0x%" PRIx64 ", 0x%" PRIx64
				  ") a private leaf still maps GFNs inside it",
				  z->start, z->end);
		}
	}
	for (unsigned int i = 0; i < z->nr_parts; i++) {
		const struct ck_zap_part *p = &z->part[i];
		tdpsim_gfn_t gfn = p->start;

		while (gfn < p->end) {
			tdpsim_pfn_t want = p->pfn + (gfn - p->start);

			if (!mirror_leaf(c, gfn, &info)) {
				where.gfn = gfn;
				where.level = TDPSIM_LEVEL_4K;
				where.has_spte = false;
				ck_report(c, CK_BOUNDARY, &where,
					  "the private zap of [0x%" PRIx64 ", 0x%" PRIx64
					  ") unmapped GFN 0x%" PRIx64 " outside it (a huge leaf "
					  "over the boundary zapped, not split)",
					  z->start, z->end, gfn);
				break;
			}
			if (ck_pfn(info.spte) + (gfn - info.gfn) != want) {
				where.gfn = info.gfn;
				where.level = info.level;
				where.new_spte = info.spte;
				where.has_spte = true;
				ck_report(c, CK_BOUNDARY, &where,
					  "the private zap of [0x%" PRIx64 ", 0x%" PRIx64
					  ") left GFN 0x%" PRIx64 " mapped to PFN 0x%" PRIx64
					  ", not 0x%" PRIx64, z->start, z->end, gfn,
					  ck_pfn(info.spte) + (gfn - info.gfn), want);
				break;
			}
			gfn = info.gfn + ck_pages(info.level);
		}
	}
}

static void zap_finish(struct tdpsim_checker *c, struct ck_gmem *g,
		       tdpsim_gfn_t start, tdpsim_gfn_t end, bool zapped)
{
	struct ck_zap z;
	bool found = false;

	pthread_mutex_lock(&g->lock);
	for (size_t i = g->nr_zaps; i-- > 0;) {
		if (g->zaps[i].start == start && g->zaps[i].end == end) {
			z = g->zaps[i];
			g->zaps[i] = g->zaps[--g->nr_zaps];
			found = true;
			break;
		}
	}
	pthread_mutex_unlock(&g->lock);
	if (found)
		zap_check(c, &z, zapped);
}

void ck_obs_private_zap(void *opaque, tdpsim_gfn_t start, tdpsim_gfn_t end,
			enum tdpsim_zap_phase phase)
{
	struct tdpsim_checker *c = opaque;
	struct ck_gmem *g;

	if (ck_inside())
		return;
	g = gmem_state(c);
	if (!g) {
		atomic_store(&c->lost, true);
		return;
	}
	ck_enter();
	if (phase == TDPSIM_ZAP_BEGIN)
		zap_begin(c, g, start, end);
	else
		zap_finish(c, g, start, end, phase == TDPSIM_ZAP_DONE);
	ck_leave();
}
