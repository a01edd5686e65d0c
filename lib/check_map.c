/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * check_map.c - the checker's containers: an open-addressing hash map with
 * linear probing and backward-shift deletion, GFN range lists, and lists
 * of lpage_info entries. The checker allocates with malloc, never through
 * the VM's allocator, so its own memory never shows in `leak`.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static uint64_t mix(uint64_t k1, uint64_t k2)
{
	uint64_t x = k1 ^ (k2 * 0x9e3779b97f4a7c15ULL);

	/* splitmix64's finaliser */
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

struct ck_map_ent *ck_map_find(const struct ck_map *m, uint64_t k1, uint64_t k2)
{
	size_t mask, i;

	if (!m->nr)
		return NULL;
	mask = m->cap - 1;
	for (i = mix(k1, k2) & mask; m->e[i].used; i = (i + 1) & mask) {
		if (m->e[i].k1 == k1 && m->e[i].k2 == k2)
			return &m->e[i];
	}
	return NULL;
}

static int grow(struct ck_map *m)
{
	size_t cap = m->cap ? 2 * m->cap : 64;
	struct ck_map_ent *old = m->e, *e;
	size_t old_cap = m->cap;

	e = calloc(cap, sizeof(*e));
	if (!e)
		return -ENOMEM;
	m->e = e;
	m->cap = cap;
	m->nr = 0;
	for (size_t j = 0; j < old_cap; j++) {
		struct ck_map_ent *n;

		if (!old[j].used)
			continue;
		ck_map_insert(m, old[j].k1, old[j].k2, &n);
		*n = old[j];
	}
	free(old);
	return 0;
}

int ck_map_insert(struct ck_map *m, uint64_t k1, uint64_t k2,
		  struct ck_map_ent **ret_ent)
{
	size_t mask, i;

	if ((m->nr + 1) * 4 > m->cap * 3 && grow(m))
		return -ENOMEM;
	mask = m->cap - 1;
	for (i = mix(k1, k2) & mask; m->e[i].used; i = (i + 1) & mask) {
		if (m->e[i].k1 == k1 && m->e[i].k2 == k2) {
			*ret_ent = &m->e[i];
			return 1;
		}
	}
	memset(&m->e[i], 0, sizeof(m->e[i]));
	m->e[i].used = true;
	m->e[i].k1 = k1;
	m->e[i].k2 = k2;
	m->nr++;
	*ret_ent = &m->e[i];
	return 0;
}

bool ck_map_remove(struct ck_map *m, uint64_t k1, uint64_t k2)
{
	struct ck_map_ent *ent = ck_map_find(m, k1, k2);
	size_t mask, i, j;

	if (!ent)
		return false;
	mask = m->cap - 1;
	i = (size_t)(ent - m->e);
	/* Backward-shift: pull later members of the cluster into the hole. */
	for (j = (i + 1) & mask; m->e[j].used; j = (j + 1) & mask) {
		size_t home = mix(m->e[j].k1, m->e[j].k2) & mask;

		/* Move j to i unless its home lies cyclically in (i, j]. */
		if ((j > i && (home <= i || home > j)) ||
		    (j < i && (home <= i && home > j))) {
			m->e[i] = m->e[j];
			i = j;
		}
	}
	memset(&m->e[i], 0, sizeof(m->e[i]));
	m->nr--;
	return true;
}

void ck_map_clear(struct ck_map *m)
{
	if (m->e)
		memset(m->e, 0, m->cap * sizeof(*m->e));
	m->nr = 0;
}

void ck_map_free(struct ck_map *m)
{
	free(m->e);
	m->e = NULL;
	m->cap = 0;
	m->nr = 0;
}

/* ---- range lists ---- */

void ck_ranges_add(struct ck_ranges *rs, enum tdpsim_root_role role,
		   tdpsim_gfn_t start, tdpsim_gfn_t end)
{
	struct ck_range *last = rs->nr ? &rs->r[rs->nr - 1] : NULL;

	if (start >= end)
		return;
	if (last && last->role == role && start <= last->end && end >= last->start) {
		if (start < last->start)
			last->start = start;
		if (end > last->end)
			last->end = end;
		return;
	}
	if (rs->nr == rs->cap) {
		size_t cap = rs->cap ? 2 * rs->cap : 16;
		struct ck_range *r;

		if (cap > CK_RANGES_MAX) {
			rs->overflow = true;
			return;
		}
		r = realloc(rs->r, cap * sizeof(*r));
		if (!r) {
			rs->overflow = true;
			return;
		}
		rs->r = r;
		rs->cap = cap;
	}
	rs->r[rs->nr++] = (struct ck_range){ .start = start, .end = end, .role = role };
}

void ck_ranges_append(struct ck_ranges *to, const struct ck_ranges *from)
{
	for (size_t i = 0; i < from->nr; i++)
		ck_ranges_add(to, from->r[i].role, from->r[i].start, from->r[i].end);
	if (from->overflow)
		to->overflow = true;
}

static int range_cmp(const void *a, const void *b)
{
	const struct ck_range *x = a, *y = b;

	if (x->role != y->role)
		return x->role < y->role ? -1 : 1;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return 0;
}

void ck_ranges_normalize(struct ck_ranges *rs)
{
	size_t n = 0;

	if (rs->nr < 2)
		return;
	qsort(rs->r, rs->nr, sizeof(*rs->r), range_cmp);
	for (size_t i = 1; i < rs->nr; i++) {
		struct ck_range *last = &rs->r[n];

		if (rs->r[i].role == last->role && rs->r[i].start <= last->end) {
			if (rs->r[i].end > last->end)
				last->end = rs->r[i].end;
			continue;
		}
		rs->r[++n] = rs->r[i];
	}
	rs->nr = n + 1;
}

void ck_ranges_subtract(struct ck_ranges *rs, tdpsim_gfn_t start, tdpsim_gfn_t end)
{
	size_t nr = rs->nr, n = 0, nr_tails = 0;
	struct ck_range *tails = NULL;

	for (size_t i = 0; i < nr; i++) {
		struct ck_range r = rs->r[i];

		if (r.end <= start || r.start >= end) {
			rs->r[n++] = r;
			continue;
		}
		if (r.start < start)
			rs->r[n++] = (struct ck_range){ r.start, start, r.role };
		if (r.end > end) {
			struct ck_range *t = realloc(tails, (nr_tails + 1) * sizeof(*t));

			if (!t) {
				/* Keep it whole: pending is the safe side. */
				rs->r[n++] = r;
				continue;
			}
			tails = t;
			tails[nr_tails++] = (struct ck_range){ end, r.end, r.role };
		}
	}
	rs->nr = n;
	for (size_t i = 0; i < nr_tails; i++)
		ck_ranges_add(rs, tails[i].role, tails[i].start, tails[i].end);
	free(tails);
}

void ck_ranges_reset(struct ck_ranges *rs)
{
	rs->nr = 0;
	rs->overflow = false;
}

void ck_ranges_free(struct ck_ranges *rs)
{
	free(rs->r);
	memset(rs, 0, sizeof(*rs));
}

/* ---- lpage_info entry lists ---- */

#define CK_LPENTS_MAX	4096

void ck_lpents_add(struct ck_lpents *l, uint32_t slot_id, int level, uint64_t idx)
{
	struct ck_lpent *last = l->nr ? &l->e[l->nr - 1] : NULL;

	if (last && last->slot_id == slot_id && last->level == level &&
	    last->idx == idx)
		return;
	if (l->nr == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		struct ck_lpent *e;

		if (cap > CK_LPENTS_MAX) {
			l->overflow = true;
			return;
		}
		e = realloc(l->e, cap * sizeof(*e));
		if (!e) {
			l->overflow = true;
			return;
		}
		l->e = e;
		l->cap = cap;
	}
	l->e[l->nr++] = (struct ck_lpent){ .slot_id = slot_id, .level = level, .idx = idx };
}

void ck_lpents_free(struct ck_lpents *l)
{
	free(l->e);
	memset(l, 0, sizeof(*l));
}
