/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * gmem.c - guest_memfd: folios, bindings, punch hole, memory failure and
 * in-place conversion, modelled on virt/kvm/guest_memfd.c (mainline) plus
 * the huge-folio and in-place conversion series (KVM_SET_MEMORY_ATTRIBUTES2).
 *
 * Three ordered maps (lib/avl.h) hold the state, each costing what is in it:
 *   folios   page index -> folio {order, pfn, flags}; the page cache.
 *   bindings first file index -> memslot; gmem_file's bindings xarray.
 *   attrs    first file index -> range {end, private}; tiles [0, npages)
 *            with equal neighbours merged, as the maple tree
 *            gi->attributes keeps them.
 *
 * Operations that change what backs the guest run in three steps so that
 * nothing can fail half way and no callback runs under the inner lock:
 *   1. prepare, under both locks: validate, count and allocate every object
 *      the change needs, cut host blocks, and mark the range in progress;
 *   2. begin() callbacks, under the invalidate lock only;
 *   3. apply, under both locks (cannot fail); then end() callbacks.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "gmem.h"
#include "internal.h"
#include "sched_lock.h"

struct gmem_folio {
	struct avl_node node;		/* key: first page index */
	tdpsim_pfn_t pfn;		/* first PFN, aligned to its size */
	unsigned int order;		/* GMEM_ORDER_* */
	unsigned int flags;		/* GMEM_FOLIO_* */
};

struct gmem_binding {
	struct avl_node node;		/* key: slot->gmem.pgoff */
	uint64_t npages;
	tdpsim_gfn_t base_gfn;
	uint32_t slot_id;
};

struct gmem_attr {
	struct avl_node node;		/* key: first page index */
	uint64_t end;			/* one past the last page */
	bool private_mem;
};

struct kvm_gmem {
	struct tdpsim_allocator *alloc;	/* objects: kind GMEM */
	struct host_mem *host;		/* PFNs */
	struct tdpsim_counters *counters; /* gmem.folios, or NULL */
	uint64_t size;			/* bytes */
	uint64_t npages;		/* size >> 12 */
	unsigned int max_order;		/* largest folio order allowed */
	bool init_shared;		/* GUEST_MEMFD_FLAG_INIT_SHARED */
	bool in_place;			/* attributes are the file's */
	const struct gmem_invalidate_ops *ops;
	void *ops_opaque;

	/*
	 * filemap_invalidate_lock: exclusive for bind, unbind, punch, poison,
	 * conversion and release, across their callbacks; shared for
	 * allocate. Keeps the bindings stable while callbacks walk them.
	 * Held across the callbacks, which take mmu_lock (a scheduling
	 * point), so it is taken through sched_rwlock_*() (sched_lock.h).
	 */
	pthread_rwlock_t invalidate_lock;
	/*
	 * The inner lock over everything below (the page cache's lock). Never
	 * held while calling out. Bindings change under both locks.
	 */
	pthread_rwlock_t lock;
	struct avl_root folios;
	struct avl_root bindings;
	struct avl_root attrs;
	bool released;			/* kvm_gmem_release() ran */
	/* A punch or conversion in progress over [inv_start, inv_end): new
	 * folios stay out of it and kvm_gmem_get_pfn() answers -EAGAIN in it. */
	bool inv_active;
	uint64_t inv_start;
	uint64_t inv_end;

	_Atomic uint64_t work;		/* kvm_gmem_work() */
};

static const unsigned int folio_orders[] = {
	GMEM_ORDER_1G, GMEM_ORDER_2M, GMEM_ORDER_4K,
};

static inline void add_work(struct kvm_gmem *gmem, uint64_t n)
{
	atomic_fetch_add_explicit(&gmem->work, n, memory_order_relaxed);
}

/* ---- folios ---- */

static inline struct gmem_folio *to_folio(struct avl_node *n)
{
	return n ? container_of(n, struct gmem_folio, node) : NULL;
}

static inline uint64_t folio_index(const struct gmem_folio *f)
{
	return f->node.key;
}

static inline uint64_t folio_nr_pages(const struct gmem_folio *f)
{
	return 1ULL << f->order;
}

static inline uint64_t folio_end(const struct gmem_folio *f)
{
	return folio_index(f) + folio_nr_pages(f);
}

/* folio_file_pfn(): the PFN of @index inside @f. */
static inline tdpsim_pfn_t folio_file_pfn(const struct gmem_folio *f,
					  uint64_t index)
{
	return f->pfn + (index - folio_index(f));
}

/* The folio holding @index, or NULL (filemap_get_folio). */
static struct gmem_folio *folio_at(struct kvm_gmem *gmem, uint64_t index)
{
	struct gmem_folio *f = to_folio(avl_floor(&gmem->folios, index));

	add_work(gmem, 1);
	return f && index < folio_end(f) ? f : NULL;
}

/* The folio that holds @index with @index not its first page, or NULL. */
static struct gmem_folio *folio_straddling(struct kvm_gmem *gmem, uint64_t index)
{
	struct gmem_folio *f = folio_at(gmem, index);

	return f && folio_index(f) < index ? f : NULL;
}

/* Does any folio meet [start, end)? */
static bool range_has_folio(struct kvm_gmem *gmem, uint64_t start, uint64_t end)
{
	struct gmem_folio *f = to_folio(avl_floor(&gmem->folios, end - 1));

	add_work(gmem, 1);
	return f && folio_end(f) > start;
}

static void folio_insert(struct kvm_gmem *gmem, struct gmem_folio *f)
{
	avl_insert(&gmem->folios, &f->node);
	if (gmem->counters)
		counter_inc(gmem->counters, TDPSIM_STAT_GMEM_FOLIOS);
	add_work(gmem, 1);
}

static void folio_erase(struct kvm_gmem *gmem, struct gmem_folio *f)
{
	avl_erase(&gmem->folios, &f->node);
	if (gmem->counters)
		counter_sub(gmem->counters, TDPSIM_STAT_GMEM_FOLIOS, 1);
	add_work(gmem, 1);
}

static void folio_free_obj(struct kvm_gmem *gmem, struct gmem_folio *f)
{
	free_obj(gmem->alloc, TDPSIM_ALLOC_KIND_GMEM, f, sizeof(*f));
}

static void fill_folio_info(const struct gmem_folio *f, struct gmem_folio_info *info)
{
	info->index = folio_index(f);
	info->order = f->order;
	info->pfn = f->pfn;
	info->flags = f->flags;
}

/* Folio objects allocated before a change, so applying it cannot fail. */
struct folio_pool {
	struct gmem_folio *head;	/* linked through node.left */
	uint64_t nr;
};

static int pool_fill(struct kvm_gmem *gmem, struct folio_pool *pool, uint64_t nr)
{
	while (pool->nr < nr) {
		struct gmem_folio *f = alloc_obj(gmem->alloc, TDPSIM_ALLOC_KIND_GMEM,
						 sizeof(*f));

		if (!f)
			return -ENOMEM;
		f->node.left = pool->head ? &pool->head->node : NULL;
		pool->head = f;
		pool->nr++;
	}
	return 0;
}

static struct gmem_folio *pool_take(struct folio_pool *pool)
{
	struct gmem_folio *f = pool->head;

	if (TDPSIM_WARN_ON_ONCE(!f))
		return NULL;
	pool->head = to_folio(f->node.left);
	pool->nr--;
	memset(f, 0, sizeof(*f));
	return f;
}

static void pool_drain(struct kvm_gmem *gmem, struct folio_pool *pool)
{
	while (pool->head)
		folio_free_obj(gmem, pool_take(pool));
}

/* The largest allowed folio order for a folio at @p inside [p, end). */
static unsigned int piece_order(uint64_t p, uint64_t end, unsigned int max_order)
{
	for (size_t i = 0; i < ARRAY_SIZE(folio_orders); i++) {
		unsigned int o = folio_orders[i];

		if (o <= max_order && !(p & ((1ULL << o) - 1)) &&
		    end - p >= (1ULL << o))
			return o;
	}
	return GMEM_ORDER_4K;
}

/* The next smaller folio order. */
static unsigned int lower_order(unsigned int order)
{
	return order > GMEM_ORDER_2M ? GMEM_ORDER_2M : GMEM_ORDER_4K;
}

/*
 * split_folio() - split @f at @cuts (sorted, strictly inside it) into the
 * fewest folios of allowed orders, each keeping the PFNs of its pages and
 * @f's flags: the "buddy-like" non-uniform split of folio_split(), limited
 * to the sizes a mapping can have. @f stays as the first piece. With @pool
 * NULL only count: returns the number of new folios either way.
 */
static uint64_t split_folio(struct kvm_gmem *gmem, struct gmem_folio *f,
			    const uint64_t *cuts, unsigned int nr_cuts,
			    struct folio_pool *pool)
{
	const uint64_t start = folio_index(f), end = folio_end(f);
	const unsigned int order = f->order;
	uint64_t nr_new = 0, a = start;

	for (unsigned int i = 0; i <= nr_cuts; i++) {
		uint64_t b = i < nr_cuts ? cuts[i] : end;

		while (a < b) {
			unsigned int o = piece_order(a, b, order);

			if (a == start) {
				if (pool)
					f->order = o;
			} else {
				nr_new++;
				if (pool) {
					struct gmem_folio *piece = pool_take(pool);

					piece->node.key = a;
					piece->order = o;
					piece->pfn = f->pfn + (a - start);
					piece->flags = f->flags;
					folio_insert(gmem, piece);
				}
			}
			add_work(gmem, 1);
			a += 1ULL << o;
		}
	}
	return nr_new;
}

/*
 * split_at_bounds() - split the folios that straddle @s or @e so that both
 * are folio boundaries (truncate_inode_partial_folio() splitting the head
 * and tail folios of a hole). With @pool NULL only count; returns the new
 * folios needed.
 */
static uint64_t split_at_bounds(struct kvm_gmem *gmem, uint64_t s, uint64_t e,
				struct folio_pool *pool)
{
	struct gmem_folio *f = folio_straddling(gmem, s);
	uint64_t nr = 0, cuts[2];

	if (f) {
		cuts[0] = s;
		cuts[1] = e;
		if (e < folio_end(f))
			return split_folio(gmem, f, cuts, 2, pool);
		nr += split_folio(gmem, f, cuts, 1, pool);
	}
	f = e < gmem->npages ? folio_straddling(gmem, e) : NULL;
	if (f)
		nr += split_folio(gmem, f, &e, 1, pool);
	return nr;
}

/* Cut host memory at the PFN of @index, so a free can stop there. */
static int host_cut_at(struct kvm_gmem *gmem, uint64_t index)
{
	struct gmem_folio *f = index < gmem->npages ? folio_at(gmem, index) : NULL;

	return f ? host_mem_cut(gmem->host, folio_file_pfn(f, index)) : 0;
}

/*
 * free_folios() - free every folio in [s, e), which no folio straddles
 * (truncate_inode_pages_range). Pages go back to host memory in runs of
 * contiguous PFNs: every host block lies inside one run, because host
 * blocks map linearly onto file indexes and were cut at the range's ends.
 * Poisoned pages are retired. Costs O(folios freed).
 */
static void free_folios(struct kvm_gmem *gmem, uint64_t s, uint64_t e)
{
	struct avl_node *n = avl_ceil(&gmem->folios, s), *next;
	tdpsim_pfn_t run_pfn = 0;
	uint64_t run_len = 0;

	for (; n && n->key < e; n = next) {
		struct gmem_folio *f = to_folio(n);

		next = avl_next(n);
		if (TDPSIM_WARN_ON_ONCE(folio_end(f) > e))
			break;
		folio_erase(gmem, f);
		if (run_len && (f->flags & GMEM_FOLIO_HWPOISON ||
				run_pfn + run_len != f->pfn)) {
			host_mem_free(gmem->host, run_pfn, run_len);
			run_len = 0;
		}
		if (f->flags & GMEM_FOLIO_HWPOISON) {
			host_mem_retire(gmem->host, f->pfn, folio_nr_pages(f));
		} else {
			if (!run_len)
				run_pfn = f->pfn;
			run_len += folio_nr_pages(f);
		}
		folio_free_obj(gmem, f);
	}
	if (run_len)
		host_mem_free(gmem->host, run_pfn, run_len);
}

/* ---- attributes ---- */

static inline struct gmem_attr *to_attr(struct avl_node *n)
{
	return n ? container_of(n, struct gmem_attr, node) : NULL;
}

/* The attribute range holding @index (< npages): there always is one. */
static struct gmem_attr *attr_at(struct kvm_gmem *gmem, uint64_t index)
{
	add_work(gmem, 1);
	return to_attr(avl_floor(&gmem->attrs, index));
}

/* Do all pages of [start, end) have one attribute? */
static bool attr_uniform(struct kvm_gmem *gmem, uint64_t start, uint64_t end)
{
	return attr_at(gmem, start)->end >= end;
}

static struct gmem_attr *attr_alloc(struct kvm_gmem *gmem)
{
	return alloc_obj(gmem->alloc, TDPSIM_ALLOC_KIND_GMEM, sizeof(struct gmem_attr));
}

static void attr_free(struct kvm_gmem *gmem, struct gmem_attr *a)
{
	free_obj(gmem->alloc, TDPSIM_ALLOC_KIND_GMEM, a, sizeof(*a));
}

/* Attribute objects: erased ones are reused, then up to two spares. */
struct attr_pool {
	struct gmem_attr *a[5];
	unsigned int nr;
};

static void attr_pool_put(struct kvm_gmem *gmem, struct attr_pool *pool,
			  struct gmem_attr *a)
{
	if (pool->nr < ARRAY_SIZE(pool->a))
		pool->a[pool->nr++] = a;
	else
		attr_free(gmem, a);
}

static void attr_pool_drain(struct kvm_gmem *gmem, struct attr_pool *pool)
{
	while (pool->nr)
		attr_free(gmem, pool->a[--pool->nr]);
}

static void attr_insert(struct kvm_gmem *gmem, struct attr_pool *pool,
			uint64_t start, uint64_t end, bool private_mem)
{
	struct gmem_attr *a;

	if (TDPSIM_WARN_ON_ONCE(!pool->nr))
		return;
	a = pool->a[--pool->nr];
	a->node.key = start;
	a->end = end;
	a->private_mem = private_mem;
	avl_insert(&gmem->attrs, &a->node);
	add_work(gmem, 1);
}

static void attr_erase(struct kvm_gmem *gmem, struct attr_pool *pool,
		       struct gmem_attr *a)
{
	avl_erase(&gmem->attrs, &a->node);
	attr_pool_put(gmem, pool, a);
	add_work(gmem, 1);
}

/*
 * set_attr_range() - store @private_mem over [s, e): remove the ranges it
 * covers, keep what sticks out on either side, and merge with equal
 * neighbours (a maple-tree store). Needs at most two new objects beyond
 * those it erases; @pool holds them.
 */
static void set_attr_range(struct kvm_gmem *gmem, uint64_t s, uint64_t e,
			   bool private_mem, struct attr_pool *pool)
{
	struct gmem_attr *a = attr_at(gmem, s), *next;
	uint64_t ns = s, ne = e, left_start = 0, right_end = 0;
	bool left = false, right = false, left_priv = false, right_priv = false;
	uint64_t last_end = s;
	bool last_priv = private_mem;

	if (a->node.key < s) {
		if (a->private_mem == private_mem) {
			ns = a->node.key;
		} else {
			left = true;
			left_start = a->node.key;
			left_priv = a->private_mem;
		}
	} else {
		struct gmem_attr *prev = to_attr(avl_prev(&a->node));

		if (prev && prev->private_mem == private_mem) {
			ns = prev->node.key;
			attr_erase(gmem, pool, prev);
		}
	}
	while (a && a->node.key < e) {
		next = to_attr(avl_next(&a->node));
		last_end = a->end;
		last_priv = a->private_mem;
		attr_erase(gmem, pool, a);
		a = next;
	}
	if (last_end > e) {
		if (last_priv == private_mem) {
			ne = last_end;
		} else {
			right = true;
			right_end = last_end;
			right_priv = last_priv;
		}
	} else if (a && a->private_mem == private_mem) {
		ne = a->end;
		attr_erase(gmem, pool, a);
	}
	if (left)
		attr_insert(gmem, pool, left_start, s, left_priv);
	attr_insert(gmem, pool, ns, ne, private_mem);
	if (right)
		attr_insert(gmem, pool, e, right_end, right_priv);
}

/* ---- allocation ---- */

/*
 * choose_order() - the order of a new folio for @index, which has none:
 * the largest allowed order whose aligned block lies inside the file,
 * meets no folio and has one attribute. With @honor_inv, blocks meeting an
 * invalidation in progress are avoided, and -EAGAIN is the answer if
 * @index itself is in it.
 */
static int choose_order(struct kvm_gmem *gmem, uint64_t index, bool honor_inv,
			unsigned int *ret_order)
{
	for (size_t i = 0; i < ARRAY_SIZE(folio_orders); i++) {
		unsigned int o = folio_orders[i];
		uint64_t base = index & ~((1ULL << o) - 1);
		uint64_t end = base + (1ULL << o);

		if (o > gmem->max_order || end > gmem->npages)
			continue;
		if (o && range_has_folio(gmem, base, end))
			continue;
		if (honor_inv && gmem->inv_active && base < gmem->inv_end &&
		    end > gmem->inv_start) {
			if (!o)
				return -EAGAIN;
			continue;
		}
		if (o && !attr_uniform(gmem, base, end))
			continue;
		*ret_order = o;
		return 0;
	}
	return -EINVAL;		/* @index is past the end */
}

/* kvm_gmem_get_folio() creating a folio for @index. Inner lock held. */
static int folio_create(struct kvm_gmem *gmem, uint64_t index,
			struct gmem_folio **ret_folio)
{
	struct gmem_folio *f;
	unsigned int order;
	tdpsim_pfn_t pfn;
	int ret;

	ret = choose_order(gmem, index, true, &order);
	if (ret)
		return ret;
	f = alloc_obj(gmem->alloc, TDPSIM_ALLOC_KIND_GMEM, sizeof(*f));
	if (!f)
		return -ENOMEM;
	ret = host_mem_alloc(gmem->host, order, &pfn);
	if (ret) {
		folio_free_obj(gmem, f);
		return ret;
	}
	f->node.key = index & ~((1ULL << order) - 1);
	f->order = order;
	f->pfn = pfn;
	folio_insert(gmem, f);
	*ret_folio = f;
	return 0;
}

/* The order of @f as a mapping of @index may use it: one attribute. */
static unsigned int limited_order(struct kvm_gmem *gmem, const struct gmem_folio *f,
				  uint64_t index)
{
	unsigned int o = f->order;

	while (o) {
		uint64_t base = index & ~((1ULL << o) - 1);

		if (attr_uniform(gmem, base, base + (1ULL << o)))
			break;
		o = lower_order(o);
	}
	return o;
}

/* ---- bindings ---- */

static inline struct gmem_binding *to_binding(const struct avl_node *n)
{
	return n ? container_of(n, struct gmem_binding, node) : NULL;
}

static void fill_binding_info(const struct gmem_binding *b,
			      struct gmem_binding_info *info)
{
	info->slot_id = b->slot_id;
	info->base_gfn = b->base_gfn;
	info->pgoff = b->node.key;
	info->npages = b->npages;
}

static struct gmem_binding *binding_at(struct kvm_gmem *gmem, uint64_t index)
{
	struct gmem_binding *b = to_binding(avl_floor(&gmem->bindings, index));

	add_work(gmem, 1);
	return b && index < b->node.key + b->npages ? b : NULL;
}

void gmem_range_iter_start(struct gmem_range_iter *it, const struct kvm_gmem *gmem,
			   uint64_t start, uint64_t end)
{
	struct avl_node *n = avl_floor(&gmem->bindings, start);

	if (!n)
		n = avl_first(&gmem->bindings);
	else if (n->key + to_binding(n)->npages <= start)
		n = avl_next(n);
	it->gmem = gmem;
	it->next = n;
	it->start = start;
	it->end = end;
}

bool gmem_range_iter_next(struct gmem_range_iter *it, struct gmem_gfn_range *ret_range)
{
	const struct avl_node *n = it->next;
	struct gmem_binding_info info;

	if (!n || n->key >= it->end)
		return false;
	it->next = avl_next(n);
	fill_binding_info(to_binding(n), &info);
	return gmem_binding_gfn_range(&info, it->start, it->end, ret_range);
}

/* ---- invalidation ---- */

unsigned int kvm_gmem_get_invalidate_filter(const struct kvm_gmem *gmem)
{
	if (gmem->in_place)
		return GMEM_FILTER_SHARED | GMEM_FILTER_PRIVATE;
	return gmem->init_shared ? GMEM_FILTER_SHARED : GMEM_FILTER_PRIVATE;
}

/*
 * invalidate_begin() - kvm_gmem_invalidate_start(): count the bound ranges
 * of @inv and, if there are any, call begin(). Invalidate lock held.
 */
static int invalidate_begin(struct kvm_gmem *gmem, struct gmem_invalidation *inv)
{
	struct gmem_range_iter it;
	struct gmem_gfn_range r;

	inv->gmem = gmem;
	inv->nr_ranges = 0;
	gmem_for_each_bound_range(&it, &r, gmem, inv->start, inv->end)
		inv->nr_ranges++;
	add_work(gmem, inv->nr_ranges + 1);
	if (!inv->nr_ranges || !gmem->ops || !gmem->ops->begin)
		return 0;
	return gmem->ops->begin(gmem->ops_opaque, inv);
}

/* kvm_gmem_invalidate_end(): end() if begin() was due. */
static void invalidate_end(struct kvm_gmem *gmem, const struct gmem_invalidation *inv)
{
	if (inv->nr_ranges && gmem->ops && gmem->ops->end)
		gmem->ops->end(gmem->ops_opaque, inv);
}

static void set_in_progress(struct kvm_gmem *gmem, uint64_t start, uint64_t end)
{
	gmem->inv_active = true;
	gmem->inv_start = start;
	gmem->inv_end = end;
}

/* ---- lifecycle ---- */

static int level_to_order(int level, unsigned int *ret_order)
{
	switch (level) {
	case 0:
	case TDPSIM_LEVEL_4K:
		*ret_order = GMEM_ORDER_4K;
		return 0;
	case TDPSIM_LEVEL_2M:
		*ret_order = GMEM_ORDER_2M;
		return 0;
	case TDPSIM_LEVEL_1G:
		*ret_order = GMEM_ORDER_1G;
		return 0;
	}
	return -EINVAL;
}

int kvm_gmem_create(struct tdpsim_allocator *alloc, struct host_mem *host,
		    struct tdpsim_counters *counters,
		    const struct kvm_gmem_config *cfg, struct kvm_gmem **ret_gmem)
{
	struct kvm_gmem *gmem;
	struct gmem_attr *a;
	unsigned int order;

	if (!alloc || !host || !cfg || !cfg->size ||
	    cfg->size & (TDPSIM_PAGE_SIZE - 1) || cfg->size > INT64_MAX ||
	    level_to_order(cfg->huge_level, &order))
		return -EINVAL;
	gmem = alloc_obj(alloc, TDPSIM_ALLOC_KIND_GMEM, sizeof(*gmem));
	if (!gmem)
		return -ENOMEM;
	gmem->alloc = alloc;
	a = attr_alloc(gmem);
	if (!a)
		goto err_gmem;
	if (pthread_rwlock_init(&gmem->invalidate_lock, NULL))
		goto err_attr;
	if (pthread_rwlock_init(&gmem->lock, NULL))
		goto err_invalidate_lock;
	gmem->host = host;
	gmem->counters = counters;
	gmem->size = cfg->size;
	gmem->npages = cfg->size / TDPSIM_PAGE_SIZE;
	gmem->max_order = order;
	gmem->init_shared = cfg->init_shared;
	gmem->in_place = cfg->in_place;
	gmem->ops = cfg->ops;
	gmem->ops_opaque = cfg->ops_opaque;
	/* kvm_gmem_is_private_mem(): init-shared files start shared. */
	a->node.key = 0;
	a->end = gmem->npages;
	a->private_mem = !cfg->init_shared;
	avl_insert(&gmem->attrs, &a->node);
	*ret_gmem = gmem;
	return 0;

err_invalidate_lock:
	pthread_rwlock_destroy(&gmem->invalidate_lock);
err_attr:
	attr_free(gmem, a);
err_gmem:
	free_obj(alloc, TDPSIM_ALLOC_KIND_GMEM, gmem, sizeof(*gmem));
	return -ENOMEM;
}

void kvm_gmem_release(struct kvm_gmem *gmem)
{
	struct gmem_invalidation inv = {
		.start = 0,
		.reason = GMEM_INVALIDATE_RELEASE,
	};
	struct avl_node *n;

	sched_rwlock_wrlock(&gmem->invalidate_lock);
	if (gmem->released)
		goto out;
	/* slot->gmem.file = NULL first: kvm_gmem_get_pfn() now fails. */
	pthread_rwlock_wrlock(&gmem->lock);
	gmem->released = true;
	pthread_rwlock_unlock(&gmem->lock);

	inv.end = gmem->npages;
	inv.filter = kvm_gmem_get_invalidate_filter(gmem);
	invalidate_begin(gmem, &inv);
	invalidate_end(gmem, &inv);

	pthread_rwlock_wrlock(&gmem->lock);
	while ((n = avl_first(&gmem->bindings))) {
		avl_erase(&gmem->bindings, n);
		free_obj(gmem->alloc, TDPSIM_ALLOC_KIND_GMEM, to_binding(n),
			 sizeof(struct gmem_binding));
	}
	pthread_rwlock_unlock(&gmem->lock);
out:
	sched_rwlock_unlock(&gmem->invalidate_lock);
}

void kvm_gmem_destroy(struct kvm_gmem *gmem)
{
	struct avl_node *n;

	if (!gmem)
		return;
	free_folios(gmem, 0, gmem->npages);
	while ((n = avl_first(&gmem->bindings))) {
		avl_erase(&gmem->bindings, n);
		free_obj(gmem->alloc, TDPSIM_ALLOC_KIND_GMEM, to_binding(n),
			 sizeof(struct gmem_binding));
	}
	while ((n = avl_first(&gmem->attrs))) {
		avl_erase(&gmem->attrs, n);
		attr_free(gmem, to_attr(n));
	}
	pthread_rwlock_destroy(&gmem->lock);
	pthread_rwlock_destroy(&gmem->invalidate_lock);
	free_obj(gmem->alloc, TDPSIM_ALLOC_KIND_GMEM, gmem, sizeof(*gmem));
}

/* ---- bindings ---- */

int kvm_gmem_bind(struct kvm_gmem *gmem, uint32_t slot_id,
		  tdpsim_gfn_t base_gfn, uint64_t npages, uint64_t offset)
{
	struct gmem_binding *b;
	struct avl_node *n;
	uint64_t start, end;
	int ret = 0;

	if (!npages || offset & (TDPSIM_PAGE_SIZE - 1) || offset > gmem->size ||
	    npages > (gmem->size - offset) / TDPSIM_PAGE_SIZE ||
	    base_gfn + npages < base_gfn)
		return -EINVAL;
	start = offset / TDPSIM_PAGE_SIZE;
	end = start + npages;
	b = alloc_obj(gmem->alloc, TDPSIM_ALLOC_KIND_GMEM, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->node.key = start;
	b->npages = npages;
	b->base_gfn = base_gfn;
	b->slot_id = slot_id;

	sched_rwlock_wrlock(&gmem->invalidate_lock);
	pthread_rwlock_wrlock(&gmem->lock);
	if (gmem->released) {
		ret = -EINVAL;
		goto out;
	}
	/* The index range must not meet another binding of this file. */
	n = avl_floor(&gmem->bindings, end - 1);
	add_work(gmem, 1);
	if (n && n->key + to_binding(n)->npages > start) {
		ret = -EEXIST;
		goto out;
	}
	avl_insert(&gmem->bindings, &b->node);
	b = NULL;
out:
	pthread_rwlock_unlock(&gmem->lock);
	sched_rwlock_unlock(&gmem->invalidate_lock);
	if (b)
		free_obj(gmem->alloc, TDPSIM_ALLOC_KIND_GMEM, b, sizeof(*b));
	return ret;
}

int kvm_gmem_unbind(struct kvm_gmem *gmem, uint32_t slot_id, uint64_t pgoff)
{
	struct gmem_binding *b;
	int ret = 0;

	sched_rwlock_wrlock(&gmem->invalidate_lock);
	pthread_rwlock_wrlock(&gmem->lock);
	b = to_binding(avl_find(&gmem->bindings, pgoff));
	if (!b || b->slot_id != slot_id) {
		ret = -ENOENT;
	} else {
		avl_erase(&gmem->bindings, &b->node);
		free_obj(gmem->alloc, TDPSIM_ALLOC_KIND_GMEM, b, sizeof(*b));
	}
	pthread_rwlock_unlock(&gmem->lock);
	sched_rwlock_unlock(&gmem->invalidate_lock);
	return ret;
}

int kvm_gmem_binding_lookup(struct kvm_gmem *gmem, uint64_t index,
			    struct gmem_binding_info *ret_info)
{
	struct gmem_binding *b;
	int ret = -ENOENT;

	pthread_rwlock_rdlock(&gmem->lock);
	b = binding_at(gmem, index);
	if (b) {
		fill_binding_info(b, ret_info);
		ret = 0;
	}
	pthread_rwlock_unlock(&gmem->lock);
	return ret;
}

int kvm_gmem_for_each_bound_range(struct kvm_gmem *gmem, uint64_t start,
				  uint64_t end,
				  int (*fn)(void *opaque, const struct gmem_gfn_range *r),
				  void *opaque)
{
	struct gmem_range_iter it;
	struct gmem_gfn_range r;
	int ret = 0;

	pthread_rwlock_rdlock(&gmem->lock);
	gmem_for_each_bound_range(&it, &r, gmem, start, end) {
		ret = fn(opaque, &r);
		if (ret)
			break;
	}
	pthread_rwlock_unlock(&gmem->lock);
	return ret;
}

/* ---- memory ---- */

/* Validate a byte range given to fallocate; the page range on success. */
static int check_range(const struct kvm_gmem *gmem, uint64_t offset, uint64_t len,
		       bool within_file, uint64_t *ret_start, uint64_t *ret_end)
{
	if (!len || (offset | len) & (TDPSIM_PAGE_SIZE - 1) ||
	    offset + len < offset || offset + len > INT64_MAX)
		return -EINVAL;
	if (within_file && offset + len > gmem->size)
		return -EINVAL;
	*ret_start = offset / TDPSIM_PAGE_SIZE;
	*ret_end = (offset + len) / TDPSIM_PAGE_SIZE;
	return 0;
}

int kvm_gmem_allocate(struct kvm_gmem *gmem, uint64_t offset, uint64_t len)
{
	uint64_t index, end;
	int ret;

	ret = check_range(gmem, offset, len, true, &index, &end);
	if (ret)
		return ret;
	sched_rwlock_rdlock(&gmem->invalidate_lock);
	pthread_rwlock_wrlock(&gmem->lock);
	while (index < end) {
		struct gmem_folio *f = folio_at(gmem, index);

		if (!f) {
			ret = folio_create(gmem, index, &f);
			if (ret)
				break;
		}
		index = folio_end(f);
	}
	pthread_rwlock_unlock(&gmem->lock);
	sched_rwlock_unlock(&gmem->invalidate_lock);
	return ret;
}

int kvm_gmem_punch_hole(struct kvm_gmem *gmem, uint64_t offset, uint64_t len)
{
	struct gmem_invalidation inv = {
		.reason = GMEM_INVALIDATE_PUNCH_HOLE,
	};
	struct folio_pool pool = { 0 };
	uint64_t s, e;
	int ret;

	ret = check_range(gmem, offset, len, false, &s, &e);
	if (ret)
		return ret;
	if (e > gmem->npages)
		e = gmem->npages;
	if (s >= e)
		return 0;

	sched_rwlock_wrlock(&gmem->invalidate_lock);

	/* Prepare: the objects the head and tail splits need, host cuts. */
	pthread_rwlock_wrlock(&gmem->lock);
	ret = pool_fill(gmem, &pool, split_at_bounds(gmem, s, e, NULL));
	if (!ret)
		ret = host_cut_at(gmem, s);
	if (!ret)
		ret = host_cut_at(gmem, e);
	if (ret) {
		pool_drain(gmem, &pool);
		pthread_rwlock_unlock(&gmem->lock);
		goto out;
	}
	set_in_progress(gmem, s, e);
	pthread_rwlock_unlock(&gmem->lock);

	inv.start = s;
	inv.end = e;
	inv.filter = kvm_gmem_get_invalidate_filter(gmem);
	ret = invalidate_begin(gmem, &inv);
	if (!ret) {
		/* truncate_inode_pages_range() */
		pthread_rwlock_wrlock(&gmem->lock);
		split_at_bounds(gmem, s, e, &pool);
		free_folios(gmem, s, e);
		pthread_rwlock_unlock(&gmem->lock);
	}
	invalidate_end(gmem, &inv);

	pthread_rwlock_wrlock(&gmem->lock);
	gmem->inv_active = false;
	pool_drain(gmem, &pool);
	pthread_rwlock_unlock(&gmem->lock);
out:
	sched_rwlock_unlock(&gmem->invalidate_lock);
	return ret;
}

/*
 * __kvm_gmem_get_pfn() under the inner lock. Without @write it answers 1
 * when the folio must be created or marked uptodate.
 */
static int __kvm_gmem_get_pfn(struct kvm_gmem *gmem, uint32_t slot_id,
			      uint64_t index, bool write, tdpsim_pfn_t *ret_pfn,
			      int *ret_max_order)
{
	struct gmem_binding *b;
	struct gmem_folio *f;
	int ret;

	if (gmem->released)
		return -EFAULT;
	b = binding_at(gmem, index);
	if (!b || b->slot_id != slot_id)
		return -EIO;
	if (gmem->inv_active && index >= gmem->inv_start && index < gmem->inv_end)
		return -EAGAIN;
	f = folio_at(gmem, index);
	if (!f) {
		if (!write)
			return 1;
		ret = folio_create(gmem, index, &f);
		if (ret)
			return ret;
	}
	if (f->flags & GMEM_FOLIO_HWPOISON)
		return -EHWPOISON;
	if (!(f->flags & GMEM_FOLIO_UPTODATE)) {
		/* clear_highpage(); folio_mark_uptodate() */
		if (!write)
			return 1;
		f->flags |= GMEM_FOLIO_UPTODATE;
	}
	*ret_pfn = folio_file_pfn(f, index);
	if (ret_max_order)
		*ret_max_order = (int)limited_order(gmem, f, index);
	return 0;
}

int kvm_gmem_get_pfn(struct kvm_gmem *gmem, uint32_t slot_id, uint64_t index,
		     tdpsim_pfn_t *ret_pfn, int *ret_max_order)
{
	int ret;

	pthread_rwlock_rdlock(&gmem->lock);
	ret = __kvm_gmem_get_pfn(gmem, slot_id, index, false, ret_pfn, ret_max_order);
	pthread_rwlock_unlock(&gmem->lock);
	if (ret != 1)
		return ret;
	pthread_rwlock_wrlock(&gmem->lock);
	ret = __kvm_gmem_get_pfn(gmem, slot_id, index, true, ret_pfn, ret_max_order);
	pthread_rwlock_unlock(&gmem->lock);
	return ret;
}

int kvm_gmem_error_folio(struct kvm_gmem *gmem, uint64_t index)
{
	struct gmem_invalidation inv = {
		.reason = GMEM_INVALIDATE_ERROR,
	};
	struct folio_pool pool = { 0 };
	struct gmem_folio *f;
	uint64_t cuts[2] = { index, index + 1 };
	unsigned int nr_cuts = 0;
	int ret;

	if (index >= gmem->npages)
		return -EINVAL;
	sched_rwlock_wrlock(&gmem->invalidate_lock);
	pthread_rwlock_wrlock(&gmem->lock);
	f = folio_at(gmem, index);
	if (!f) {
		ret = -ENOENT;
		goto out_unlock;
	}
	if (f->flags & GMEM_FOLIO_HWPOISON) {
		ret = -EHWPOISON;
		goto out_unlock;
	}
	/*
	 * memory_failure(): isolate the page by splitting its folio
	 * (try_to_split_thp_page) before the mapping hears of it.
	 */
	if (folio_index(f) < index)
		nr_cuts = 1;
	else
		cuts[0] = index + 1;
	if (index + 1 < folio_end(f))
		nr_cuts++;
	ret = pool_fill(gmem, &pool, split_folio(gmem, f, cuts, nr_cuts, NULL));
	if (!ret)
		ret = host_cut_at(gmem, index);
	if (!ret && index + 1 < gmem->npages)
		ret = host_cut_at(gmem, index + 1);
	if (ret)
		goto out_unlock;
	split_folio(gmem, f, cuts, nr_cuts, &pool);
	f = folio_at(gmem, index);
	f->flags |= GMEM_FOLIO_HWPOISON;
	pthread_rwlock_unlock(&gmem->lock);

	/* kvm_gmem_error_folio(): invalidate the page, free nothing. */
	inv.start = index;
	inv.end = index + 1;
	inv.filter = kvm_gmem_get_invalidate_filter(gmem);
	invalidate_begin(gmem, &inv);
	invalidate_end(gmem, &inv);
	sched_rwlock_unlock(&gmem->invalidate_lock);
	return 0;

out_unlock:
	pool_drain(gmem, &pool);
	pthread_rwlock_unlock(&gmem->lock);
	sched_rwlock_unlock(&gmem->invalidate_lock);
	return ret;
}

/* ---- in-place conversion ---- */

/*
 * try_merge() - merge the folios of the aligned block [base, base + 2^order)
 * into one folio of @order if they cover it, have contiguous PFNs from an
 * aligned first PFN, the same uptodate state, no poison, and the block is
 * private and inside the file (the restructuring the huge-folio conversion
 * series does on conversion to private).
 */
static bool try_merge(struct kvm_gmem *gmem, uint64_t base, unsigned int order)
{
	const uint64_t end = base + (1ULL << order);
	struct gmem_folio *first, *f;
	struct avl_node *n, *next;
	uint64_t index = base;

	if (end > gmem->npages)
		return false;
	if (!attr_uniform(gmem, base, end) || !attr_at(gmem, base)->private_mem)
		return false;
	first = to_folio(avl_find(&gmem->folios, base));
	if (!first || first->pfn & ((1ULL << order) - 1))
		return false;
	for (n = &first->node; index < end; n = avl_next(n)) {
		f = to_folio(n);
		add_work(gmem, 1);
		if (!f || folio_index(f) != index || f->order >= order ||
		    f->flags & GMEM_FOLIO_HWPOISON ||
		    f->flags != first->flags ||
		    f->pfn != first->pfn + (index - base))
			return false;
		index = folio_end(f);
	}
	if (index != end)
		return false;
	for (n = avl_next(&first->node); n && n->key < end; n = next) {
		next = avl_next(n);
		f = to_folio(n);
		folio_erase(gmem, f);
		folio_free_obj(gmem, f);
	}
	first->order = order;
	return true;
}

/* Merge what can be merged at @order in the blocks meeting [s, e). */
static void merge_range(struct kvm_gmem *gmem, uint64_t s, uint64_t e,
			unsigned int order)
{
	const uint64_t block = 1ULL << order;
	uint64_t hi = (e + block - 1) & ~(block - 1);
	struct avl_node *n = avl_ceil(&gmem->folios, s & ~(block - 1));

	while (n && n->key < hi) {
		struct gmem_folio *f = to_folio(n);
		uint64_t base = folio_index(f) & ~(block - 1);

		add_work(gmem, 1);
		if (f->order >= order) {
			n = avl_next(n);
			continue;
		}
		try_merge(gmem, base, order);
		n = avl_ceil(&gmem->folios, base + block);
	}
}

int kvm_gmem_set_attributes(struct kvm_gmem *gmem, uint64_t offset, uint64_t len,
			    bool private_mem)
{
	struct gmem_invalidation inv = {
		.reason = GMEM_INVALIDATE_CONVERT,
		.filter = GMEM_FILTER_SHARED | GMEM_FILTER_PRIVATE,
		.to_private = private_mem,
	};
	struct folio_pool pool = { 0 };
	struct attr_pool attrs = { .nr = 0 };
	struct gmem_attr *a;
	uint64_t s, e;
	int ret;

	if (!gmem->in_place)
		return -EINVAL;
	ret = check_range(gmem, offset, len, true, &s, &e);
	if (ret)
		return ret;

	sched_rwlock_wrlock(&gmem->invalidate_lock);
	pthread_rwlock_wrlock(&gmem->lock);
	a = attr_at(gmem, s);
	if (a->private_mem == private_mem && a->end >= e) {
		/* Nothing to do if the range already has the attribute. */
		pthread_rwlock_unlock(&gmem->lock);
		goto out;
	}
	ret = pool_fill(gmem, &pool, split_at_bounds(gmem, s, e, NULL));
	while (!ret && attrs.nr < 2) {
		attrs.a[attrs.nr] = attr_alloc(gmem);
		if (!attrs.a[attrs.nr])
			ret = -ENOMEM;
		else
			attrs.nr++;
	}
	if (ret) {
		pool_drain(gmem, &pool);
		attr_pool_drain(gmem, &attrs);
		pthread_rwlock_unlock(&gmem->lock);
		goto out;
	}
	set_in_progress(gmem, s, e);
	pthread_rwlock_unlock(&gmem->lock);

	inv.start = s;
	inv.end = e;
	ret = invalidate_begin(gmem, &inv);
	if (!ret) {
		pthread_rwlock_wrlock(&gmem->lock);
		split_at_bounds(gmem, s, e, &pool);
		set_attr_range(gmem, s, e, private_mem, &attrs);
		if (private_mem) {
			if (gmem->max_order >= GMEM_ORDER_2M)
				merge_range(gmem, s, e, GMEM_ORDER_2M);
			if (gmem->max_order >= GMEM_ORDER_1G)
				merge_range(gmem, s, e, GMEM_ORDER_1G);
		}
		pthread_rwlock_unlock(&gmem->lock);
	}
	invalidate_end(gmem, &inv);

	pthread_rwlock_wrlock(&gmem->lock);
	gmem->inv_active = false;
	pool_drain(gmem, &pool);
	attr_pool_drain(gmem, &attrs);
	pthread_rwlock_unlock(&gmem->lock);
out:
	sched_rwlock_unlock(&gmem->invalidate_lock);
	return ret;
}

int kvm_gmem_get_attributes(struct kvm_gmem *gmem, uint64_t index,
			    uint64_t *ret_end, bool *ret_private)
{
	struct gmem_attr *a;

	if (index >= gmem->npages)
		return -EINVAL;
	pthread_rwlock_rdlock(&gmem->lock);
	a = attr_at(gmem, index);
	*ret_end = a->end;
	*ret_private = a->private_mem;
	pthread_rwlock_unlock(&gmem->lock);
	return 0;
}

bool kvm_gmem_is_private_mem(struct kvm_gmem *gmem, uint64_t index)
{
	uint64_t end;
	bool private_mem = false;

	kvm_gmem_get_attributes(gmem, index, &end, &private_mem);
	return private_mem;
}

/* ---- queries ---- */

int kvm_gmem_max_mapping_order(struct kvm_gmem *gmem, uint64_t index,
			       int *ret_order)
{
	struct gmem_folio *f;
	unsigned int order;
	int ret = 0;

	if (index >= gmem->npages)
		return -EINVAL;
	pthread_rwlock_rdlock(&gmem->lock);
	f = folio_at(gmem, index);
	if (f && f->flags & GMEM_FOLIO_HWPOISON)
		ret = -EHWPOISON;
	else if (f)
		order = limited_order(gmem, f, index);
	else
		ret = choose_order(gmem, index, false, &order);
	pthread_rwlock_unlock(&gmem->lock);
	if (!ret)
		*ret_order = (int)order;
	return ret;
}

int kvm_gmem_folio_lookup(struct kvm_gmem *gmem, uint64_t index,
			  struct gmem_folio_info *ret_info)
{
	struct gmem_folio *f;
	int ret = -ENOENT;

	pthread_rwlock_rdlock(&gmem->lock);
	f = folio_at(gmem, index);
	if (f) {
		fill_folio_info(f, ret_info);
		ret = 0;
	}
	pthread_rwlock_unlock(&gmem->lock);
	return ret;
}

int kvm_gmem_for_each_folio(struct kvm_gmem *gmem, uint64_t start, uint64_t end,
			    int (*fn)(void *opaque, const struct gmem_folio_info *f),
			    void *opaque)
{
	struct gmem_folio_info info;
	struct gmem_folio *f;
	struct avl_node *n;
	int ret = 0;

	if (start >= end)
		return 0;
	pthread_rwlock_rdlock(&gmem->lock);
	f = folio_at(gmem, start);
	n = f ? &f->node : avl_ceil(&gmem->folios, start);
	for (; n && n->key < end; n = avl_next(n)) {
		fill_folio_info(to_folio(n), &info);
		ret = fn(opaque, &info);
		if (ret)
			break;
	}
	pthread_rwlock_unlock(&gmem->lock);
	return ret;
}

uint64_t kvm_gmem_nr_folios(struct kvm_gmem *gmem)
{
	uint64_t nr;

	pthread_rwlock_rdlock(&gmem->lock);
	nr = gmem->folios.count;
	pthread_rwlock_unlock(&gmem->lock);
	return nr;
}

uint64_t kvm_gmem_npages(const struct kvm_gmem *gmem)
{
	return gmem->npages;
}

uint64_t kvm_gmem_work(struct kvm_gmem *gmem)
{
	return atomic_load_explicit(&gmem->work, memory_order_relaxed);
}

static int check_folios(struct kvm_gmem *gmem)
{
	uint64_t prev_end = 0;

	for (struct avl_node *n = avl_first(&gmem->folios); n; n = avl_next(n)) {
		struct gmem_folio *f = to_folio(n);
		uint64_t mask = folio_nr_pages(f) - 1;

		if (f->order != GMEM_ORDER_4K && f->order != GMEM_ORDER_2M &&
		    f->order != GMEM_ORDER_1G)
			return -EINVAL;
		if (f->order > gmem->max_order || folio_index(f) & mask ||
		    f->pfn & mask || folio_index(f) < prev_end ||
		    folio_end(f) > gmem->npages)
			return -EINVAL;
		if (f->flags & GMEM_FOLIO_HWPOISON && f->order)
			return -EINVAL;
		if (!attr_uniform(gmem, folio_index(f), folio_end(f)))
			return -EINVAL;
		if (!host_mem_is_live(gmem->host, f->pfn) ||
		    !host_mem_is_live(gmem->host, f->pfn + mask))
			return -EINVAL;
		prev_end = folio_end(f);
	}
	return 0;
}

static int check_attrs(struct kvm_gmem *gmem)
{
	uint64_t expect = 0;
	int prev = -1;

	for (struct avl_node *n = avl_first(&gmem->attrs); n; n = avl_next(n)) {
		struct gmem_attr *a = to_attr(n);

		if (n->key != expect || a->end <= n->key || prev == a->private_mem)
			return -EINVAL;
		expect = a->end;
		prev = a->private_mem;
	}
	return expect == gmem->npages ? 0 : -EINVAL;
}

static int check_bindings(struct kvm_gmem *gmem)
{
	uint64_t prev_end = 0;

	for (struct avl_node *n = avl_first(&gmem->bindings); n; n = avl_next(n)) {
		struct gmem_binding *b = to_binding(n);

		if (n->key < prev_end || !b->npages ||
		    n->key + b->npages > gmem->npages)
			return -EINVAL;
		prev_end = n->key + b->npages;
	}
	return 0;
}

int kvm_gmem_check(struct kvm_gmem *gmem)
{
	int ret = -EINVAL;

	pthread_rwlock_rdlock(&gmem->lock);
	if (avl_check(&gmem->folios) || avl_check(&gmem->attrs) ||
	    avl_check(&gmem->bindings))
		goto out;
	if (check_folios(gmem) || check_attrs(gmem) || check_bindings(gmem))
		goto out;
	ret = 0;
out:
	pthread_rwlock_unlock(&gmem->lock);
	return ret;
}
