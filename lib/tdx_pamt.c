/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tdx_pamt.c - the fake TDX Module's PAMT: the type and owner of every host
 * page handed to a TD, 2M entries, Dynamic-PAMT pairs per 2 MiB region,
 * and the leaves that work on host pages rather than on GPAs:
 * TDH.PHYMEM.PAGE.RECLAIM, TDH.PHYMEM.PAGE.WBINVD, TDH.PHYMEM.PAMT.ADD and
 * TDH.PHYMEM.PAMT.REMOVE (tdx-module.md section 4).
 *
 * Only pages and regions that carry information are stored (two hash maps),
 * so the PAMT of a host with terabytes of memory costs what is in use.
 * Everything here runs under the module mutex.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"
#include "tdx.h"

#define REGION_PAGES	512

/* ---- u64map ---- */

static size_t slot_of(uint64_t key, size_t cap)
{
	key ^= key >> 33;
	key *= 0xff51afd7ed558ccdULL;
	key ^= key >> 33;
	return (size_t)key & (cap - 1);
}

void *u64map_get(const struct u64map *map, uint64_t key)
{
	size_t i;

	if (!map->cap)
		return NULL;
	for (i = slot_of(key, map->cap); map->vals[i]; i = (i + 1) & (map->cap - 1))
		if (map->keys[i] == key)
			return map->vals[i];
	return NULL;
}

static void insert_slot(struct u64map *map, uint64_t key, void *val)
{
	size_t i = slot_of(key, map->cap);

	while (map->vals[i])
		i = (i + 1) & (map->cap - 1);
	map->keys[i] = key;
	map->vals[i] = val;
	map->nr++;
}

static int u64map_resize(struct tdpsim_allocator *a, struct u64map *map,
			 size_t cap)
{
	struct u64map n = { .cap = cap };

	n.keys = alloc_obj(a, TDPSIM_ALLOC_KIND_PAMT, sizeof(*n.keys) * cap);
	n.vals = alloc_obj(a, TDPSIM_ALLOC_KIND_PAMT, sizeof(*n.vals) * cap);
	if (!n.keys || !n.vals) {
		free_obj(a, TDPSIM_ALLOC_KIND_PAMT, n.keys, sizeof(*n.keys) * cap);
		free_obj(a, TDPSIM_ALLOC_KIND_PAMT, n.vals, sizeof(*n.vals) * cap);
		return -ENOMEM;
	}
	for (size_t i = 0; i < map->cap; i++)
		if (map->vals[i])
			insert_slot(&n, map->keys[i], map->vals[i]);
	u64map_free(a, map);
	*map = n;
	return 0;
}

/* Insert @key, which must be absent. Returns 0 or -ENOMEM. */
int u64map_put(struct tdpsim_allocator *a, struct u64map *map, uint64_t key,
	       void *val)
{
	if ((map->nr + 1) * 2 > map->cap) {
		int ret = u64map_resize(a, map, map->cap ? map->cap * 2 : 64);

		if (ret)
			return ret;
	}
	insert_slot(map, key, val);
	return 0;
}

/* Remove @key (backward-shift deletion); the arrays go with the last key. */
void u64map_del(struct tdpsim_allocator *a, struct u64map *map, uint64_t key)
{
	size_t mask = map->cap - 1, i, j;

	if (!map->cap)
		return;
	for (i = slot_of(key, map->cap); map->vals[i]; i = (i + 1) & mask)
		if (map->keys[i] == key)
			break;
	if (!map->vals[i])
		return;
	map->vals[i] = NULL;
	map->nr--;
	for (j = (i + 1) & mask; map->vals[j]; j = (j + 1) & mask) {
		size_t home = slot_of(map->keys[j], map->cap);
		/* Does j's entry belong cyclically in (i, j]? Then it stays. */
		bool stays = i <= j ? (home > i && home <= j) :
				      (home > i || home <= j);

		if (stays)
			continue;
		map->keys[i] = map->keys[j];
		map->vals[i] = map->vals[j];
		map->vals[j] = NULL;
		i = j;
	}
	if (!map->nr)
		u64map_free(a, map);
}

void u64map_free(struct tdpsim_allocator *a, struct u64map *map)
{
	free_obj(a, TDPSIM_ALLOC_KIND_PAMT, map->keys, sizeof(*map->keys) * map->cap);
	free_obj(a, TDPSIM_ALLOC_KIND_PAMT, map->vals, sizeof(*map->vals) * map->cap);
	memset(map, 0, sizeof(*map));
}

/* ---- records ---- */

struct pamt_page *pamt_page_find(struct tdpsim_tdx_module *m, uint64_t pfn)
{
	return u64map_get(&m->pages, pfn);
}

struct pamt_region *pamt_region_find(struct tdpsim_tdx_module *m, uint64_t idx)
{
	return u64map_get(&m->regions, idx);
}

static bool region_empty(const struct pamt_region *r)
{
	return !r->users && !r->pamt_pages && !r->pair && !r->nr_dirty &&
	       r->big.type == PT_NDA;
}

/* Drop the records of @hpa's page and region if they say nothing. */
void pamt_tidy(struct tdpsim_tdx_module *m, tdpsim_hpa_t hpa)
{
	uint64_t pfn = hpa >> TDX_PAGE_SHIFT, idx = hpa >> TDX_2M_SHIFT;
	struct pamt_page *p = pamt_page_find(m, pfn);
	struct pamt_region *r = pamt_region_find(m, idx);

	if (p && p->type == PT_NDA) {
		u64map_del(m->alloc, &m->pages, pfn);
		free_obj(m->alloc, TDPSIM_ALLOC_KIND_PAMT, p, sizeof(*p));
	}
	if (r && region_empty(r)) {
		u64map_del(m->alloc, &m->regions, idx);
		free_obj(m->alloc, TDPSIM_ALLOC_KIND_PAMT, r, sizeof(*r));
	}
}

/*
 * pamt_prepare() - make sure records exist for @hpa's region and (if
 * @ret_page is not NULL) page, so that a leaf can commit without failing.
 * Returns 0 or -ENOMEM (nothing left behind).
 */
int pamt_prepare(struct tdpsim_tdx_module *m, tdpsim_hpa_t hpa,
		 struct pamt_page **ret_page, struct pamt_region **ret_region)
{
	uint64_t pfn = hpa >> TDX_PAGE_SHIFT, idx = hpa >> TDX_2M_SHIFT;
	struct pamt_region *r = pamt_region_find(m, idx);
	struct pamt_page *p = NULL;

	if (!r) {
		r = alloc_obj(m->alloc, TDPSIM_ALLOC_KIND_PAMT, sizeof(*r));
		if (!r)
			return -ENOMEM;
		r->idx = idx;
		if (u64map_put(m->alloc, &m->regions, idx, r)) {
			free_obj(m->alloc, TDPSIM_ALLOC_KIND_PAMT, r, sizeof(*r));
			return -ENOMEM;
		}
	}
	if (ret_page) {
		p = pamt_page_find(m, pfn);
		if (!p) {
			p = alloc_obj(m->alloc, TDPSIM_ALLOC_KIND_PAMT, sizeof(*p));
			if (!p || u64map_put(m->alloc, &m->pages, pfn, p)) {
				free_obj(m->alloc, TDPSIM_ALLOC_KIND_PAMT, p,
					 sizeof(*p));
				pamt_tidy(m, hpa);
				return -ENOMEM;
			}
		}
		*ret_page = p;
	}
	if (ret_region)
		*ret_region = r;
	return 0;
}

/*
 * pamt_check_free() - a host page a leaf is about to hand to a TD
 * (check_and_lock_explicit_4k_private_hpa / check_and_lock_free_range_hpa
 * with PT_NDA): a valid HPA aligned to its @size (TDX level 0 or 1), its
 * PAMT entry locked exclusive, free. A 4K page must not lie in a 2M page
 * (PAGE_METADATA_INCORRECT) and, with Dynamic PAMT, its region needs a
 * pair (MISSING_PAMT_PAGE_PAIR); it must be PT_NDA and not a PAMT pair page
 * (PAGE_METADATA_INCORRECT). A 2M range must be entirely free: no 2M page,
 * no pair, no 4K page assigned, no pair page (PAGE_METADATA_INCORRECT).
 */
uint64_t pamt_check_free(struct tdxm_call *c, tdpsim_hpa_t hpa, int size,
			 uint32_t operand)
{
	struct tdpsim_tdx_module *m = c->m;
	struct pamt_region *r;
	struct pamt_page *p;
	uint64_t ret;

	ret = tdxm_check_hpa(m, hpa, tdxm_level_size(size), operand);
	if (ret)
		return ret;
	ret = tdxm_lock_page(c, hpa, size, true, operand);
	if (ret)
		return ret;
	r = pamt_region_find(m, hpa >> TDX_2M_SHIFT);
	if (size) {
		if (r && (r->big.type != PT_NDA || r->pair || r->users ||
			  r->pamt_pages))
			return tdxm_err(TDX_PAGE_METADATA_INCORRECT, operand);
		return TDX_SUCCESS;
	}
	if (r && r->big.type != PT_NDA)
		return tdxm_err(TDX_PAGE_METADATA_INCORRECT, operand);
	if (m->cfg.dynamic_pamt && !(r && r->pair))
		return tdxm_err(TDX_MISSING_PAMT_PAGE_PAIR, operand);
	p = pamt_page_find(m, hpa >> TDX_PAGE_SHIFT);
	if (p && p->type != PT_NDA)
		return tdxm_err(TDX_PAGE_METADATA_INCORRECT, operand);
	return TDX_SUCCESS;
}

/*
 * pamt_assign_4k() - the 4K page @hpa becomes @type, owned by @owner, with
 * @obj attached; one more user of its region. Returns 0 or -ENOMEM.
 */
int pamt_assign_4k(struct tdpsim_tdx_module *m, tdpsim_hpa_t hpa, uint8_t type,
		   struct tdxm_td *owner, void *obj, struct pamt_page **ret_page)
{
	struct pamt_region *r;
	struct pamt_page *p;

	if (pamt_prepare(m, hpa, &p, &r))
		return -ENOMEM;
	memset(p, 0, sizeof(*p));
	p->type = type;
	p->owner = owner;
	p->obj = obj;
	if (type != PT_PAMT)
		r->users++;
	if (ret_page)
		*ret_page = p;
	return 0;
}

static void region_set_dirty(struct tdpsim_tdx_module *m, struct pamt_region *r,
			     unsigned int i, uint16_t hkid)
{
	uint64_t bit = 1ULL << (i % 64);

	if (!(r->dirty_map[i / 64] & bit)) {
		r->dirty_map[i / 64] |= bit;
		r->nr_dirty++;
		m->dirty++;
	}
	r->dirty_hkid = hkid;
}

static void region_clear_dirty(struct tdpsim_tdx_module *m, struct pamt_region *r,
			       unsigned int i)
{
	uint64_t bit = 1ULL << (i % 64);

	if (r->dirty_map[i / 64] & bit) {
		r->dirty_map[i / 64] &= ~bit;
		r->nr_dirty--;
		m->dirty--;
	}
}

/*
 * pamt_release_4k() - the 4K page @hpa goes back to PT_NDA; with a
 * non-zero @dirty_hkid its cache lines are left dirty with that key.
 * Returns true when, under Dynamic PAMT, the region's pair has no user left
 * (the "PAMT pair can be removed" hint).
 */
bool pamt_release_4k(struct tdpsim_tdx_module *m, tdpsim_hpa_t hpa,
		     uint16_t dirty_hkid)
{
	struct pamt_page *p = pamt_page_find(m, hpa >> TDX_PAGE_SHIFT);
	struct pamt_region *r = pamt_region_find(m, hpa >> TDX_2M_SHIFT);
	bool hint;

	if (TDPSIM_WARN_ON_ONCE(!p || !r))
		return false;
	if (p->type != PT_PAMT && !TDPSIM_WARN_ON_ONCE(!r->users))
		r->users--;
	memset(p, 0, sizeof(*p));
	if (dirty_hkid)
		region_set_dirty(m, r, (hpa >> TDX_PAGE_SHIFT) % REGION_PAGES,
				 dirty_hkid);
	hint = m->cfg.dynamic_pamt && r->pair && !r->users;
	pamt_tidy(m, hpa);
	return hint;
}

/* The 2M page at @hpa becomes a private page of @owner mapped by @sp[@idx]. */
static void pamt_assign_2m(struct pamt_region *r, struct tdxm_td *owner,
			   struct sept_page *sp, unsigned int idx)
{
	memset(&r->big, 0, sizeof(r->big));
	r->big.type = PT_REG;
	r->big.owner = owner;
	r->big.map_sp = sp;
	r->big.map_idx = (uint16_t)idx;
}

static void pamt_release_2m(struct tdpsim_tdx_module *m, tdpsim_hpa_t hpa,
			    uint16_t dirty_hkid)
{
	struct pamt_region *r = pamt_region_find(m, hpa >> TDX_2M_SHIFT);

	if (TDPSIM_WARN_ON_ONCE(!r))
		return;
	memset(&r->big, 0, sizeof(r->big));
	if (dirty_hkid)
		for (unsigned int i = 0; i < REGION_PAGES; i++)
			region_set_dirty(m, r, i, dirty_hkid);
	pamt_tidy(m, hpa);
}

/*
 * pamt_map_private() - a private page of @owner at TDX level @size (0 or 1)
 * mapped by @sp->e[@idx]: PT_REG in the PAMT. Returns 0 or -ENOMEM.
 */
int pamt_map_private(struct tdpsim_tdx_module *m, tdpsim_hpa_t hpa, int size,
		     struct tdxm_td *owner, struct sept_page *sp, unsigned int idx)
{
	struct pamt_region *r;
	struct pamt_page *p;

	if (size) {
		if (pamt_prepare(m, hpa, NULL, &r))
			return -ENOMEM;
		pamt_assign_2m(r, owner, sp, idx);
		return 0;
	}
	if (pamt_assign_4k(m, hpa, PT_REG, owner, NULL, &p))
		return -ENOMEM;
	p->map_sp = sp;
	p->map_idx = (uint16_t)idx;
	return 0;
}

/* Release a private page of TDX level @size; returns the removal hint. */
bool pamt_unmap_private(struct tdpsim_tdx_module *m, tdpsim_hpa_t hpa, int size,
			uint16_t dirty_hkid)
{
	if (size) {
		pamt_release_2m(m, hpa, dirty_hkid);
		return false;
	}
	return pamt_release_4k(m, hpa, dirty_hkid);
}

/* Where RANGE.BLOCK records the blocking epoch of the page at @hpa. */
uint64_t *pamt_bepoch(struct tdpsim_tdx_module *m, tdpsim_hpa_t hpa, int size)
{
	struct pamt_region *r;
	struct pamt_page *p;

	if (size) {
		r = pamt_region_find(m, hpa >> TDX_2M_SHIFT);
		return r ? &r->big.bepoch : NULL;
	}
	p = pamt_page_find(m, hpa >> TDX_PAGE_SHIFT);
	return p ? &p->bepoch : NULL;
}

/* CACHE.WB finished for @hkid: nothing is dirty with it any more. */
void pamt_clear_dirty_hkid(struct tdpsim_tdx_module *m, uint16_t hkid)
{
	size_t i = 0;

	while (i < m->regions.cap) {
		struct pamt_region *r = m->regions.vals[i];

		if (r && r->nr_dirty && r->dirty_hkid == hkid) {
			for (unsigned int j = 0; j < REGION_PAGES; j++)
				region_clear_dirty(m, r, j);
			if (region_empty(r)) {
				/* A later entry may shift into slot i. */
				pamt_tidy(m, r->idx << TDX_2M_SHIFT);
				if (!m->regions.cap)
					break;
				continue;
			}
		}
		i++;
	}
}

/* ---- the pair of a region (Dynamic PAMT) ---- */

/* Operand checks of the two pair pages (OPERAND_INVALID, ADDR_RANGE). */
static uint64_t pair_check_valid(struct tdxm_call *c, const uint64_t hpa[2],
				 const uint32_t operand[2])
{
	for (int i = 0; i < 2; i++) {
		uint64_t ret = tdxm_check_hpa(c->m, hpa[i], 1ULL << TDX_PAGE_SHIFT,
					     operand[i]);

		if (ret)
			return ret;
	}
	return TDX_SUCCESS;
}

/*
 * The two pair pages are free (PAGE_NOT_FREE otherwise): PT_NDA, not in a
 * 2M page, not already a pair page, not the same page. Pages inside region
 * @target_idx (PAMT.ADD's own range) are only checked for the last two.
 */
static uint64_t pair_check_free(struct tdxm_call *c, const uint64_t hpa[2],
				const uint32_t operand[2], uint64_t target_idx)
{
	struct tdpsim_tdx_module *m = c->m;

	for (int i = 0; i < 2; i++) {
		struct pamt_region *r = pamt_region_find(m, hpa[i] >> TDX_2M_SHIFT);
		struct pamt_page *p = pamt_page_find(m, hpa[i] >> TDX_PAGE_SHIFT);
		uint64_t ret;

		if (hpa[i] >> TDX_2M_SHIFT == target_idx)
			continue;
		ret = tdxm_lock_page(c, hpa[i], 0, false, operand[i]);
		if (ret)
			return ret;
		if ((r && r->big.type != PT_NDA) ||
		    (p && p->type != PT_NDA && p->type != PT_PAMT))
			return tdxm_err(TDX_PAGE_NOT_FREE, operand[i]);
	}
	for (int i = 0; i < 2; i++) {
		struct pamt_page *p = pamt_page_find(m, hpa[i] >> TDX_PAGE_SHIFT);

		if ((p && p->type == PT_PAMT) || (i && hpa[0] == hpa[1]))
			return tdxm_err(TDX_PAGE_NOT_FREE, operand[i]);
	}
	return TDX_SUCCESS;
}

/* Prepare the records installing a pair needs. Returns 0 or -ENOMEM. */
static int pair_prepare(struct tdpsim_tdx_module *m, uint64_t idx,
			const uint64_t hpa[2])
{
	struct pamt_page *p;

	if (pamt_prepare(m, idx << TDX_2M_SHIFT, NULL, NULL))
		return -ENOMEM;
	for (int i = 0; i < 2; i++) {
		if (pamt_prepare(m, hpa[i], &p, NULL)) {
			pamt_tidy(m, hpa[0]);
			pamt_tidy(m, idx << TDX_2M_SHIFT);
			return -ENOMEM;
		}
	}
	return 0;
}

/* Install @hpa as the pair of region @idx; records prepared. */
static void pair_install(struct tdpsim_tdx_module *m, uint64_t idx,
			 const uint64_t hpa[2])
{
	struct pamt_region *r = pamt_region_find(m, idx);

	for (int i = 0; i < 2; i++) {
		struct pamt_page *p = pamt_page_find(m, hpa[i] >> TDX_PAGE_SHIFT);

		memset(p, 0, sizeof(*p));
		p->type = PT_PAMT;
		pamt_region_find(m, hpa[i] >> TDX_2M_SHIFT)->pamt_pages++;
		r->pair_hpa[i] = hpa[i];
	}
	r->pair = true;
	m->pairs++;
	tdxm_count(m, TDPSIM_STAT_PAMT_PAIRS, 1);
}

/* Checks of DEMOTE's R12/R13 pair for a 2M page at region @idx. */
uint64_t pamt_demote_check_pair(struct tdxm_call *c, uint64_t idx)
{
	const uint64_t hpa[2] = { c->in.r12, c->in.r13 };
	const uint32_t op[2] = { OPERAND_ID_R12, OPERAND_ID_R13 };
	uint64_t ret;

	(void)idx;
	ret = pair_check_valid(c, hpa, op);
	if (ret)
		return ret;
	return pair_check_free(c, hpa, op, UINT64_MAX);
}

int pamt_demote_prepare_pair(struct tdxm_call *c, uint64_t idx)
{
	const uint64_t hpa[2] = { c->in.r12, c->in.r13 };

	return pair_prepare(c->m, idx, hpa);
}

void pamt_demote_install_pair(struct tdxm_call *c, uint64_t idx)
{
	const uint64_t hpa[2] = { c->in.r12, c->in.r13 };

	pair_install(c->m, idx, hpa);
}

/* RCX of PAMT.ADD/REMOVE: a 2M-aligned HPA with size code 1 (2M). */
static uint64_t check_range_operand(struct tdpsim_tdx_module *m, uint64_t rcx,
				    uint64_t *ret_base)
{
	uint64_t base = rcx & ~0xfffULL;

	if ((rcx & 0xfff) != 1 || (base & ((1ULL << TDX_2M_SHIFT) - 1)) ||
	    (base & m->hkid_mask) || base >= m->max_pa)
		return tdxm_err(TDX_OPERAND_INVALID, OPERAND_ID_RCX);
	*ret_base = base;
	return TDX_SUCCESS;
}

/*
 * TDH.PHYMEM.PAMT.ADD: RCX = 2M-aligned HPA | 1, RDX and R8 = the pair.
 * The region must have no 2M page and no pair (HPA_RANGE_NOT_FREE).
 */
uint64_t tdxm_phymem_pamt_add(struct tdxm_call *c)
{
	struct tdpsim_tdx_module *m = c->m;
	const uint64_t hpa[2] = { c->in.rdx, c->in.r8 };
	const uint32_t op[2] = { OPERAND_ID_RDX, OPERAND_ID_R8 };
	struct pamt_region *r;
	uint64_t base, idx, ret;

	if (!m->cfg.dynamic_pamt)
		return tdxm_err(TDX_OPERAND_INVALID, OPERAND_ID_RAX);
	ret = check_range_operand(m, c->in.rcx, &base);
	if (ret)
		return ret;
	ret = pair_check_valid(c, hpa, op);
	if (ret)
		return ret;
	ret = tdxm_check_hpa(m, base, 1ULL << TDX_2M_SHIFT, OPERAND_ID_RCX);
	if (ret)
		return ret;
	idx = base >> TDX_2M_SHIFT;
	ret = tdxm_lock_page(c, base, 1, true, OPERAND_ID_RCX);
	if (ret)
		return ret;
	r = pamt_region_find(m, idx);
	if (r && (r->big.type != PT_NDA || r->pair))
		return tdxm_err(TDX_HPA_RANGE_NOT_FREE, OPERAND_ID_RCX);
	ret = pair_check_free(c, hpa, op, idx);
	if (ret)
		return ret;
	if (pair_prepare(m, idx, hpa))
		return TDX_SW_ERROR | ENOMEM;
	pair_install(m, idx, hpa);
	return TDX_SUCCESS;
}

/*
 * TDH.PHYMEM.PAMT.REMOVE: RCX = 2M-aligned HPA | 1. The region needs a pair
 * (NO_PAMT_PAGE_PAIR) none of whose 512 entries is in use
 * (PAMT_PAGE_NOT_EMPTY, operand = which of the two pair pages holds the
 * first used entry). RDX, R8 out = the pair.
 */
uint64_t tdxm_phymem_pamt_remove(struct tdxm_call *c)
{
	struct tdpsim_tdx_module *m = c->m;
	struct pamt_region *r;
	uint64_t base, idx, ret, pair[2];

	if (!m->cfg.dynamic_pamt)
		return tdxm_err(TDX_OPERAND_INVALID, OPERAND_ID_RAX);
	ret = check_range_operand(m, c->in.rcx, &base);
	if (ret)
		return ret;
	ret = tdxm_check_hpa(m, base, 1ULL << TDX_2M_SHIFT, OPERAND_ID_RCX);
	if (ret)
		return ret;
	idx = base >> TDX_2M_SHIFT;
	ret = tdxm_lock_page(c, base, 1, true, OPERAND_ID_RCX);
	if (ret)
		return ret;
	r = pamt_region_find(m, idx);
	if (!r || !r->pair)
		return tdxm_err(TDX_NO_PAMT_PAGE_PAIR, OPERAND_ID_RCX);
	if (r->users) {
		for (unsigned int i = 0; i < REGION_PAGES; i++) {
			struct pamt_page *p = pamt_page_find(m, (base >> TDX_PAGE_SHIFT) + i);

			if (p && p->type != PT_NDA && p->type != PT_PAMT)
				return tdxm_err(TDX_PAMT_PAGE_NOT_EMPTY, i / 256);
		}
		TDPSIM_WARN_ON_ONCE(1);
		return tdxm_err(TDX_PAMT_PAGE_NOT_EMPTY, 0);
	}
	pair[0] = r->pair_hpa[0];
	pair[1] = r->pair_hpa[1];
	r->pair = false;
	r->pair_hpa[0] = 0;
	r->pair_hpa[1] = 0;
	/* Region records may go away from here on: look them up again. */
	for (int i = 0; i < 2; i++) {
		struct pamt_page *p = pamt_page_find(m, pair[i] >> TDX_PAGE_SHIFT);
		struct pamt_region *pr = pamt_region_find(m, pair[i] >> TDX_2M_SHIFT);

		if (!TDPSIM_WARN_ON_ONCE(!p || !pr || p->type != PT_PAMT)) {
			p->type = PT_NDA;
			pr->pamt_pages--;
		}
		pamt_tidy(m, pair[i]);
	}
	c->a->rdx = pair[0];
	c->a->r8 = pair[1];
	m->pairs--;
	tdxm_count(m, TDPSIM_STAT_PAMT_PAIRS, -1);
	pamt_tidy(m, base);
	return TDX_SUCCESS;
}

/* ---- RECLAIM and WBINVD ---- */

/*
 * TDH.PHYMEM.PAGE.RECLAIM: RCX = a page of a torn-down TD (LIFECYCLE_STATE_
 * INCORRECT before KEY.FREEID). Out: RCX = its type, RDX = its owner's TDR,
 * R8 = its size, R9 bit 62 = the removal hint. A TDR is reclaimed last:
 * TD_ASSOCIATED_PAGES_EXIST while the TD still owns pages.
 */
uint64_t tdxm_phymem_page_reclaim(struct tdxm_call *c)
{
	struct tdpsim_tdx_module *m = c->m;
	uint64_t hpa = c->in.rcx, ret;
	struct pamt_region *r;
	struct pamt_page *e;
	struct tdxm_td *td;
	int size = 0;
	bool hint;

	c->a->r8 = 0;
	c->a->r9 = 0;
	ret = tdxm_check_hpa(m, hpa, 1ULL << TDX_PAGE_SHIFT, OPERAND_ID_RCX);
	if (ret)
		return ret;
	r = pamt_region_find(m, hpa >> TDX_2M_SHIFT);
	if (r && r->big.type != PT_NDA)
		size = 1;
	ret = tdxm_lock_page(c, size ? hpa & ~((1ULL << TDX_2M_SHIFT) - 1) : hpa,
			    size, true, OPERAND_ID_RCX);
	if (ret)
		return ret;
	e = size ? &r->big : pamt_page_find(m, hpa >> TDX_PAGE_SHIFT);
	if (!e || e->type == PT_NDA || e->type == PT_PAMT)
		return tdxm_err(TDX_PAGE_METADATA_INCORRECT, OPERAND_ID_RCX);
	c->a->rcx = e->type;
	c->a->rdx = e->type == PT_TDR ? hpa : e->owner->tdr;
	c->a->r8 = (uint64_t)size;
	if (size && (hpa & ((1ULL << TDX_2M_SHIFT) - 1)))
		return tdxm_err(TDX_OPERAND_INVALID, OPERAND_ID_RCX);

	if (e->type == PT_TDR) {
		td = e->obj;
		if (td->lifecycle != TDPSIM_TD_TEARDOWN)
			return TDX_LIFECYCLE_STATE_INCORRECT;
		if (td->child_count)
			return TDX_TD_ASSOCIATED_PAGES_EXIST;
		/* The TDR is encrypted with the module's global key. */
		hint = pamt_release_4k(m, hpa, (uint16_t)m->cfg.global_hkid);
		tdxm_td_free(m, td);
		goto out;
	}

	td = e->owner;
	ret = tdxm_lock_page(c, td->tdr, 0, false, OPERAND_ID_TDR);
	if (ret)
		return ret;
	if (td->lifecycle != TDPSIM_TD_TEARDOWN)
		return TDX_LIFECYCLE_STATE_INCORRECT;

	td->child_count -= tdxm_level_pages(size);
	switch (e->type) {
	case PT_EPT:
		td->nr_sept_pages--;
		sept_page_detach_free(m, e->obj);
		break;
	case PT_TDCX:
		if (e->obj)
			sept_page_detach_free(m, e->obj);
		break;
	case PT_TDVPR:
		tdxm_vcpu_free(m, e->obj);
		break;
	case PT_REG:
		/* The S-EPT is dead after teardown; forget the mapping. */
		if (e->map_sp) {
			e->map_sp->e[e->map_idx].raw = 0;
			e->map_sp->nr_present--;
		}
		break;
	}
	hint = pamt_unmap_private(m, hpa, size, 0);
out:
	if (hint)
		c->a->r9 |= TDX_PAMT_REMOVAL_HINT;
	return TDX_SUCCESS;
}

/*
 * TDH.PHYMEM.PAGE.WBINVD: RCX = a 4K HPA with a key ID in the key bits.
 * The page must be PT_NDA (PAGE_METADATA_INCORRECT): removed or reclaimed.
 * Writes back the page's lines for that key: if the page is dirty with it,
 * it is clean now.
 */
uint64_t tdxm_phymem_page_wbinvd(struct tdxm_call *c)
{
	struct tdpsim_tdx_module *m = c->m;
	uint64_t hpa = c->in.rcx & ~m->hkid_mask, ret;
	uint16_t hkid = (uint16_t)((c->in.rcx & m->hkid_mask) >> m->cfg.pa_bits);
	struct pamt_region *r;
	struct pamt_page *p;

	ret = tdxm_check_hpa(m, hpa, 1ULL << TDX_PAGE_SHIFT, OPERAND_ID_RCX);
	if (ret)
		return ret;
	ret = tdxm_lock_page(c, hpa, 0, false, OPERAND_ID_RCX);
	if (ret)
		return ret;
	r = pamt_region_find(m, hpa >> TDX_2M_SHIFT);
	p = pamt_page_find(m, hpa >> TDX_PAGE_SHIFT);
	if ((r && r->big.type != PT_NDA) || (p && p->type != PT_NDA))
		return tdxm_err(TDX_PAGE_METADATA_INCORRECT, OPERAND_ID_RCX);
	if (r && r->nr_dirty && r->dirty_hkid == hkid) {
		region_clear_dirty(m, r, (hpa >> TDX_PAGE_SHIFT) % REGION_PAGES);
		pamt_tidy(m, hpa);
	}
	return TDX_SUCCESS;
}

/* ---- inspection and teardown ---- */

int tdpsim_tdx_page_info(struct tdpsim_tdx_module *m, tdpsim_hpa_t hpa,
			 struct tdpsim_tdx_page_info *ret_info)
{
	struct pamt_region *r;
	struct pamt_page *p;

	if (!m || !ret_info)
		return -EINVAL;
	if (hpa < m->cfg.tdmr_base || hpa - m->cfg.tdmr_base >= m->cfg.tdmr_size)
		return -EINVAL;
	pthread_mutex_lock(&m->lock);
	memset(ret_info, 0, sizeof(*ret_info));
	ret_info->level = TDPSIM_LEVEL_4K;
	r = pamt_region_find(m, hpa >> TDX_2M_SHIFT);
	p = pamt_page_find(m, hpa >> TDX_PAGE_SHIFT);
	if (r && r->big.type != PT_NDA) {
		ret_info->type = (enum tdpsim_tdx_page_type)r->big.type;
		ret_info->owner = r->big.owner ? r->big.owner->tdr : 0;
		ret_info->level = TDPSIM_LEVEL_2M;
	} else if (p) {
		ret_info->type = (enum tdpsim_tdx_page_type)p->type;
		if (p->type == PT_TDR)
			ret_info->owner = hpa & ~0xfffULL;
		else if (p->owner)
			ret_info->owner = p->owner->tdr;
	}
	if (r) {
		unsigned int i = (hpa >> TDX_PAGE_SHIFT) % REGION_PAGES;

		ret_info->cache_dirty = r->dirty_map[i / 64] & (1ULL << (i % 64));
		ret_info->dirty_hkid = ret_info->cache_dirty ? r->dirty_hkid : 0;
	}
	pthread_mutex_unlock(&m->lock);
	return 0;
}

static void region_info(const struct pamt_region *r,
			struct tdpsim_tdx_pamt_region_info *info)
{
	memset(info, 0, sizeof(*info));
	info->base = r->idx << TDX_2M_SHIFT;
	info->pair = r->pair;
	info->pair_hpa[0] = r->pair_hpa[0];
	info->pair_hpa[1] = r->pair_hpa[1];
	info->users = r->users;
	info->pamt_pages = r->pamt_pages;
	info->mapped_2m = r->big.type != PT_NDA;
}

int tdpsim_tdx_pamt_region(struct tdpsim_tdx_module *m, tdpsim_hpa_t hpa,
			   struct tdpsim_tdx_pamt_region_info *ret_info)
{
	struct pamt_region *r;

	if (!m || !ret_info)
		return -EINVAL;
	pthread_mutex_lock(&m->lock);
	r = pamt_region_find(m, hpa >> TDX_2M_SHIFT);
	if (r) {
		region_info(r, ret_info);
	} else {
		memset(ret_info, 0, sizeof(*ret_info));
		ret_info->base = hpa & ~((1ULL << TDX_2M_SHIFT) - 1);
	}
	pthread_mutex_unlock(&m->lock);
	return 0;
}

int tdpsim_tdx_pamt_for_each_region(struct tdpsim_tdx_module *m,
				    tdpsim_tdx_region_fn fn, void *opaque)
{
	int ret = 0;

	if (!m || !fn)
		return -EINVAL;
	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < m->regions.cap && !ret; i++) {
		struct pamt_region *r = m->regions.vals[i];
		struct tdpsim_tdx_pamt_region_info info;

		if (!r || (!r->users && !r->pamt_pages && !r->pair &&
			   r->big.type == PT_NDA))
			continue;
		region_info(r, &info);
		ret = fn(opaque, &info);
	}
	pthread_mutex_unlock(&m->lock);
	return ret;
}

/*
 * Free every record and what hangs off them (module destroy). The objects
 * are freed raw: their TDs may already be gone.
 */
void pamt_free_all(struct tdpsim_tdx_module *m)
{
	for (size_t i = 0; i < m->pages.cap; i++) {
		struct pamt_page *p = m->pages.vals[i];

		if (!p)
			continue;
		switch (p->type) {
		case PT_EPT:
			sept_page_free(m, p->obj);
			break;
		case PT_TDCX:
			if (p->obj)
				sept_page_free(m, p->obj);
			break;
		case PT_TDVPR:
			free_obj(m->alloc, TDPSIM_ALLOC_KIND_MISC, p->obj,
				 sizeof(struct tdxm_vcpu));
			break;
		case PT_TDR:
			free_obj(m->alloc, TDPSIM_ALLOC_KIND_MISC, p->obj,
				 sizeof(struct tdxm_td));
			break;
		}
		free_obj(m->alloc, TDPSIM_ALLOC_KIND_PAMT, p, sizeof(*p));
	}
	for (size_t i = 0; i < m->regions.cap; i++)
		free_obj(m->alloc, TDPSIM_ALLOC_KIND_PAMT, m->regions.vals[i],
			 sizeof(struct pamt_region));
	u64map_free(m->alloc, &m->pages);
	u64map_free(m->alloc, &m->regions);
	m->tds = NULL;
	m->nr_tds = 0;
	m->dirty = 0;
}
