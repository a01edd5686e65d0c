/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * host_mem.c - simulated host memory: a buddy allocator over PFNs.
 *
 * Every page in [HOST_MEM_BASE_PFN, top) belongs to exactly one block:
 * live (handed out), free (kept by order, merged with its buddy) or
 * retired (poisoned). Blocks are naturally aligned. When no free block is
 * big enough a new 1 GiB chunk is carved at the top; a free chunk at the
 * top is given back, so the bookkeeping follows what is live.
 */
#include <errno.h>
#include <string.h>

#include "host_mem.h"
#include "internal.h"

struct host_block {
	struct avl_node node;		/* key: first PFN */
	unsigned int order;		/* 2^order pages */
};

/* Most new blocks one operation needs: a cut of a 1 GiB block. */
#define MAX_SPARE (2 * HOST_MEM_MAX_ORDER + 2)

static inline struct host_block *to_block(struct avl_node *n)
{
	return n ? container_of(n, struct host_block, node) : NULL;
}

static inline uint64_t block_pages(const struct host_block *b)
{
	return 1ULL << b->order;
}

static inline tdpsim_pfn_t block_end(const struct host_block *b)
{
	return b->node.key + block_pages(b);
}

static struct host_block *block_alloc(struct host_mem *hm)
{
	struct host_block *b = alloc_obj(hm->alloc, hm->kind, sizeof(*b));

	if (b)
		hm->nr_nodes++;
	return b;
}

static void block_free(struct host_mem *hm, struct host_block *b)
{
	hm->nr_nodes--;
	free_obj(hm->alloc, hm->kind, b, sizeof(*b));
}

/* Spare blocks allocated up front so an operation fails before changing
 * anything. */
struct spares {
	struct host_block *b[MAX_SPARE];
	unsigned int nr;
	unsigned int used;
};

static int spares_fill(struct host_mem *hm, struct spares *s, unsigned int nr)
{
	s->nr = 0;
	s->used = 0;
	if (TDPSIM_WARN_ON_ONCE(nr > MAX_SPARE))
		return -EINVAL;
	while (s->nr < nr) {
		s->b[s->nr] = block_alloc(hm);
		if (!s->b[s->nr]) {
			while (s->nr)
				block_free(hm, s->b[--s->nr]);
			return -ENOMEM;
		}
		s->nr++;
	}
	return 0;
}

static struct host_block *spares_take(struct spares *s)
{
	if (TDPSIM_WARN_ON_ONCE(s->used >= s->nr))
		return NULL;
	return s->b[s->used++];
}

/* The largest order of an aligned block starting at @p inside [p, end). */
static unsigned int piece_order(tdpsim_pfn_t p, tdpsim_pfn_t end)
{
	unsigned int align = p ? (unsigned int)__builtin_ctzll(p) : 63;
	unsigned int fit = 63 - (unsigned int)__builtin_clzll(end - p);
	unsigned int order = align < fit ? align : fit;

	return order < HOST_MEM_MAX_ORDER ? order : HOST_MEM_MAX_ORDER;
}

/* How many aligned blocks [a, b) decomposes into. */
static unsigned int count_pieces(tdpsim_pfn_t a, tdpsim_pfn_t b)
{
	unsigned int nr = 0;

	while (a < b) {
		a += 1ULL << piece_order(a, b);
		nr++;
	}
	return nr;
}

/* Insert the aligned blocks of [a, b) into @tree; @first is used first. */
static void emit_pieces(struct avl_root *tree, struct host_block *first,
			struct spares *s, tdpsim_pfn_t a, tdpsim_pfn_t b)
{
	while (a < b) {
		struct host_block *piece = first ? first : spares_take(s);

		first = NULL;
		piece->order = piece_order(a, b);
		piece->node.key = a;
		avl_insert(tree, &piece->node);
		a += block_pages(piece);
	}
}

int host_mem_init(struct host_mem *hm, struct tdpsim_allocator *a,
		  enum tdpsim_alloc_kind kind)
{
	if ((unsigned int)kind >= TDPSIM_ALLOC_KIND_NR)
		return -EINVAL;
	memset(hm, 0, sizeof(*hm));
	if (pthread_mutex_init(&hm->lock, NULL))
		return -ENOMEM;
	hm->alloc = a;
	hm->kind = kind;
	hm->top = HOST_MEM_BASE_PFN;
	hm->limit = HOST_MEM_LIMIT_PFN;
	return 0;
}

static void free_tree(struct host_mem *hm, struct avl_root *tree)
{
	struct avl_node *n;

	while ((n = avl_first(tree))) {
		avl_erase(tree, n);
		block_free(hm, to_block(n));
	}
}

void host_mem_finish(struct host_mem *hm)
{
	if (!hm || !hm->alloc)
		return;
	free_tree(hm, &hm->used);
	free_tree(hm, &hm->retired);
	for (unsigned int o = 0; o <= HOST_MEM_MAX_ORDER; o++)
		free_tree(hm, &hm->free[o]);
	pthread_mutex_destroy(&hm->lock);
	hm->alloc = NULL;
}

int host_mem_alloc(struct host_mem *hm, unsigned int order,
		   tdpsim_pfn_t *ret_pfn)
{
	struct host_block *b;
	struct spares s;
	unsigned int o;
	bool carve;
	int ret;

	if (order > HOST_MEM_MAX_ORDER)
		return -EINVAL;
	pthread_mutex_lock(&hm->lock);
	for (o = order; o <= HOST_MEM_MAX_ORDER; o++)
		if (!avl_empty(&hm->free[o]))
			break;
	carve = o > HOST_MEM_MAX_ORDER;
	if (carve) {
		if (hm->limit - hm->top < (1ULL << HOST_MEM_MAX_ORDER)) {
			ret = -ENOMEM;
			goto out;
		}
		o = HOST_MEM_MAX_ORDER;
	}
	/* New blocks: the buddies split off, and the chunk if carving. */
	ret = spares_fill(hm, &s, o - order + carve);
	if (ret)
		goto out;
	if (carve) {
		b = spares_take(&s);
		b->node.key = hm->top;
		b->order = HOST_MEM_MAX_ORDER;
		hm->top += 1ULL << HOST_MEM_MAX_ORDER;
	} else {
		b = to_block(avl_first(&hm->free[o]));
		avl_erase(&hm->free[o], &b->node);
	}
	while (b->order > order) {
		struct host_block *buddy = spares_take(&s);

		b->order--;
		buddy->order = b->order;
		buddy->node.key = b->node.key + block_pages(b);
		avl_insert(&hm->free[buddy->order], &buddy->node);
	}
	avl_insert(&hm->used, &b->node);
	hm->live_pages += block_pages(b);
	*ret_pfn = b->node.key;
out:
	pthread_mutex_unlock(&hm->lock);
	return ret;
}

int host_mem_cut(struct host_mem *hm, tdpsim_pfn_t pfn)
{
	struct host_block *b;
	struct spares s;
	tdpsim_pfn_t start, end;
	int ret = 0;

	pthread_mutex_lock(&hm->lock);
	b = to_block(avl_floor(&hm->used, pfn));
	if (!b || pfn == b->node.key || pfn >= block_end(b))
		goto out;
	start = b->node.key;
	end = block_end(b);
	ret = spares_fill(hm, &s, count_pieces(start, pfn) +
				  count_pieces(pfn, end) - 1);
	if (ret)
		goto out;
	avl_erase(&hm->used, &b->node);
	emit_pieces(&hm->used, b, &s, start, pfn);
	emit_pieces(&hm->used, NULL, &s, pfn, end);
out:
	pthread_mutex_unlock(&hm->lock);
	return ret;
}

/* Give a free block of the top chunk back, as many times as possible. */
static void trim_top(struct host_mem *hm)
{
	const uint64_t chunk = 1ULL << HOST_MEM_MAX_ORDER;
	struct avl_node *n;

	while (hm->top > HOST_MEM_BASE_PFN &&
	       (n = avl_find(&hm->free[HOST_MEM_MAX_ORDER], hm->top - chunk))) {
		avl_erase(&hm->free[HOST_MEM_MAX_ORDER], n);
		block_free(hm, to_block(n));
		hm->top -= chunk;
	}
}

/* Put @b on the free lists, merging it with free buddies. */
static void release_block(struct host_mem *hm, struct host_block *b)
{
	while (b->order < HOST_MEM_MAX_ORDER) {
		struct avl_root *tree = &hm->free[b->order];
		struct avl_node *buddy = avl_find(tree, b->node.key ^ block_pages(b));

		if (!buddy)
			break;
		avl_erase(tree, buddy);
		block_free(hm, to_block(buddy));
		b->node.key &= ~block_pages(b);
		b->order++;
	}
	avl_insert(&hm->free[b->order], &b->node);
	if (b->order == HOST_MEM_MAX_ORDER)
		trim_top(hm);
}

/* Is [pfn, pfn + npages) exactly a run of whole live blocks? */
static bool is_block_run(struct host_mem *hm, tdpsim_pfn_t pfn, uint64_t npages)
{
	struct avl_node *n = avl_find(&hm->used, pfn);
	tdpsim_pfn_t p = pfn, end = pfn + npages;

	if (!npages || end < pfn)
		return false;
	while (p < end) {
		if (!n || n->key != p)
			return false;
		p = block_end(to_block(n));
		n = avl_next(n);
	}
	return p == end;
}

static int release_range(struct host_mem *hm, tdpsim_pfn_t pfn, uint64_t npages,
			 bool poisoned)
{
	struct avl_node *n, *next;
	tdpsim_pfn_t end = pfn + npages;
	int ret = 0;

	pthread_mutex_lock(&hm->lock);
	if (TDPSIM_WARN_ON_ONCE(!is_block_run(hm, pfn, npages))) {
		ret = -EINVAL;
		goto out;
	}
	for (n = avl_find(&hm->used, pfn); n && n->key < end; n = next) {
		struct host_block *b = to_block(n);

		next = avl_next(n);
		avl_erase(&hm->used, n);
		hm->live_pages -= block_pages(b);
		if (poisoned) {
			hm->retired_pages += block_pages(b);
			avl_insert(&hm->retired, n);
		} else {
			release_block(hm, b);
		}
	}
out:
	pthread_mutex_unlock(&hm->lock);
	return ret;
}

int host_mem_free(struct host_mem *hm, tdpsim_pfn_t pfn, uint64_t npages)
{
	return release_range(hm, pfn, npages, false);
}

int host_mem_retire(struct host_mem *hm, tdpsim_pfn_t pfn, uint64_t npages)
{
	return release_range(hm, pfn, npages, true);
}

bool host_mem_is_live(struct host_mem *hm, tdpsim_pfn_t pfn)
{
	struct host_block *b;
	bool live;

	pthread_mutex_lock(&hm->lock);
	b = to_block(avl_floor(&hm->used, pfn));
	live = b && pfn < block_end(b);
	pthread_mutex_unlock(&hm->lock);
	return live;
}

uint64_t host_mem_live_pages(struct host_mem *hm)
{
	uint64_t v;

	pthread_mutex_lock(&hm->lock);
	v = hm->live_pages;
	pthread_mutex_unlock(&hm->lock);
	return v;
}

uint64_t host_mem_retired_pages(struct host_mem *hm)
{
	uint64_t v;

	pthread_mutex_lock(&hm->lock);
	v = hm->retired_pages;
	pthread_mutex_unlock(&hm->lock);
	return v;
}

uint64_t host_mem_nr_nodes(struct host_mem *hm)
{
	uint64_t v;

	pthread_mutex_lock(&hm->lock);
	v = hm->nr_nodes;
	pthread_mutex_unlock(&hm->lock);
	return v;
}

/* Does any other block, in any tree, overlap @self? */
static bool overlaps_other(struct host_mem *hm, const struct host_block *self)
{
	struct avl_root *trees[HOST_MEM_MAX_ORDER + 3];
	unsigned int nr = 0;

	trees[nr++] = &hm->used;
	trees[nr++] = &hm->retired;
	for (unsigned int o = 0; o <= HOST_MEM_MAX_ORDER; o++)
		trees[nr++] = &hm->free[o];
	for (unsigned int i = 0; i < nr; i++) {
		struct host_block *b = to_block(avl_floor(trees[i], block_end(self) - 1));

		if (b && b != self && block_end(b) > self->node.key)
			return true;
	}
	return false;
}

static int check_tree(struct host_mem *hm, struct avl_root *tree, int order,
		      uint64_t *pages, uint64_t *nodes)
{
	if (avl_check(tree))
		return -EINVAL;
	for (struct avl_node *n = avl_first(tree); n; n = avl_next(n)) {
		struct host_block *b = to_block(n);

		if (b->order > HOST_MEM_MAX_ORDER ||
		    (order >= 0 && b->order != (unsigned int)order))
			return -EINVAL;
		if (n->key & (block_pages(b) - 1) || n->key < HOST_MEM_BASE_PFN ||
		    block_end(b) > hm->top)
			return -EINVAL;
		if (overlaps_other(hm, b))
			return -EINVAL;
		if (order >= 0 && order < HOST_MEM_MAX_ORDER &&
		    avl_find(tree, n->key ^ block_pages(b)))
			return -EINVAL;
		*pages += block_pages(b);
		(*nodes)++;
	}
	return 0;
}

int host_mem_check(struct host_mem *hm)
{
	uint64_t used = 0, retired = 0, free = 0, nodes = 0;
	int ret = -EINVAL;

	pthread_mutex_lock(&hm->lock);
	if (check_tree(hm, &hm->used, -1, &used, &nodes) ||
	    check_tree(hm, &hm->retired, -1, &retired, &nodes))
		goto out;
	for (int o = 0; o <= HOST_MEM_MAX_ORDER; o++)
		if (check_tree(hm, &hm->free[o], o, &free, &nodes))
			goto out;
	if (used != hm->live_pages || retired != hm->retired_pages ||
	    nodes != hm->nr_nodes || used + retired + free != hm->top - HOST_MEM_BASE_PFN)
		goto out;
	ret = 0;
out:
	pthread_mutex_unlock(&hm->lock);
	return ret;
}
