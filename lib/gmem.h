/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * gmem.h - guest_memfd (virt/kvm/guest_memfd.c), layer 4.
 *
 * A struct kvm_gmem is one guest_memfd: its size, its folios (4K, 2M or 1G,
 * kept sparse in an ordered map from page index to folio), its bindings to
 * memslots (kvm_gmem_bind), and for in-place conversion
 * (KVM_SET_MEMORY_ATTRIBUTES2) its private/shared attribute as ranges. The
 * kernel splits this between a gmem_inode (memory) and a gmem_file per VM
 * (bindings); tdpsim has one VM per file, so one object holds both.
 *
 * Operations that take memory away from the guest (punch hole, memory
 * failure, conversion, release) tell the VM through struct
 * gmem_invalidate_ops: begin() once before anything changes, with every
 * bound GFN range the operation touches, and end() once after, as
 * kvm_gmem_invalidate_start()/kvm_gmem_invalidate_end() call
 * kvm_mmu_invalidate_start()/kvm_mmu_unmap_gfn_range()/kvm_mmu_invalidate_end()
 * for each file of the inode.
 *
 * Locking (see docs/gmem.md): each file has an invalidate lock
 * (filemap_invalidate_lock), held exclusively by bind, unbind, punch,
 * poison, conversion and release across their callbacks, and shared by
 * allocate; and an inner lock over folios, bindings and attributes that is
 * never held while calling out. kvm_gmem_get_pfn() and the queries take only
 * the inner lock, so they may be called with mmu_lock held, and callbacks may
 * take mmu_lock. Lock order: invalidate lock -> (callbacks: mmu_lock) ->
 * inner lock -> host_mem lock.
 */
#ifndef TDPSIM_GMEM_H
#define TDPSIM_GMEM_H

#include <stdbool.h>
#include <stdint.h>

#include <tdpsim/types.h>

#include "alloc.h"
#include "counters.h"
#include "host_mem.h"

struct kvm_gmem;

/* Folio orders: a folio is 4K, 2M or 1G, never in between. */
#define GMEM_ORDER_4K	0
#define GMEM_ORDER_2M	9
#define GMEM_ORDER_1G	18

/* Which mappings an invalidation is for, as enum kvm_gfn_range_filter:
 * KVM_FILTER_SHARED (direct roots) and KVM_FILTER_PRIVATE (mirror roots
 * on TDX; on other VM types every filter means the direct root). */
#define GMEM_FILTER_SHARED	(1u << 0)
#define GMEM_FILTER_PRIVATE	(1u << 1)

/** Why a guest_memfd invalidates. */
enum gmem_invalidate_reason {
	GMEM_INVALIDATE_PUNCH_HOLE,	/* kvm_gmem_punch_hole() */
	GMEM_INVALIDATE_ERROR,		/* kvm_gmem_error_folio(): memory failure */
	GMEM_INVALIDATE_CONVERT,	/* kvm_gmem_set_attributes() */
	GMEM_INVALIDATE_RELEASE,	/* kvm_gmem_release(): the file is closed */
};

/** One bound GFN range: what one memslot maps of a file range (section
 * 5.4 of the kernel notes: [base + max(pgoff, s) - pgoff,
 * base + min(pgoff + npages, e) - pgoff)). */
struct gmem_gfn_range {
	uint32_t slot_id;		/* the memslot */
	tdpsim_gfn_t start;		/* first GFN */
	tdpsim_gfn_t end;		/* one past the last GFN */
	uint64_t index;			/* file page index of @start */
};

/** What the callbacks are told: one kvm_gmem_invalidate_start/end pair. */
struct gmem_invalidation {
	struct kvm_gmem *gmem;
	uint64_t start;			/* file page range [start, end) */
	uint64_t end;
	unsigned int filter;		/* GMEM_FILTER_* */
	enum gmem_invalidate_reason reason;
	bool to_private;		/* CONVERT: the attribute being set */
	unsigned int nr_ranges;		/* bound GFN ranges, >= 1 */
};

/**
 * struct gmem_invalidate_ops - what the VM implements by zapping its MMU.
 *
 * @begin: kvm_gmem_invalidate_start() for this VM: called once, before the
 *	operation changes anything, when at least one binding overlaps the
 *	range. Walk the bound GFN ranges with gmem_invalidation_for_each_range()
 *	(the bindings cannot change until end()): take mmu_lock,
 *	kvm_mmu_invalidate_start(), kvm_mmu_unmap_gfn_range() each range with
 *	inv->filter, flush, unlock. A non-zero (negative errno) return, e.g. a
 *	precise split that ran out of memory (kvm_split_cross_boundary_leafs),
 *	aborts a punch or conversion: nothing is freed or converted, end() is
 *	still called, and the operation returns the error. For a memory
 *	failure the return is ignored: hardware does not take no for an
 *	answer, so the VM must zap what it must even if it cannot split.
 * @end: kvm_gmem_invalidate_end(): always called after begin(), with the
 *	same @inv, once the folios and attributes have changed.
 *
 * Both are called with the file's invalidate lock held and its inner lock
 * not held: they may call kvm_gmem_get_pfn() and the queries, not the
 * operations that invalidate. Inside the range kvm_gmem_get_pfn() answers
 * -EAGAIN during a punch or conversion, -EHWPOISON for the poisoned page,
 * and -EFAULT everywhere during a release.
 */
struct gmem_invalidate_ops {
	int (*begin)(void *opaque, const struct gmem_invalidation *inv);
	void (*end)(void *opaque, const struct gmem_invalidation *inv);
};

/** A guest_memfd to create (KVM_CREATE_GUEST_MEMFD). */
struct kvm_gmem_config {
	uint64_t size;			/* bytes: > 0, 4 KiB aligned */
	int huge_level;			/* largest folio: TDPSIM_LEVEL_4K (or 0),
					 * TDPSIM_LEVEL_2M or TDPSIM_LEVEL_1G */
	bool init_shared;		/* GUEST_MEMFD_FLAG_INIT_SHARED */
	bool in_place;			/* attributes live in the file
					 * (KVM_SET_MEMORY_ATTRIBUTES2) */
	const struct gmem_invalidate_ops *ops;	/* NULL: nobody to tell */
	void *ops_opaque;
};

/** A binding as it is. */
struct gmem_binding_info {
	uint32_t slot_id;
	tdpsim_gfn_t base_gfn;		/* slot->base_gfn */
	uint64_t pgoff;			/* slot->gmem.pgoff: first file index */
	uint64_t npages;		/* slot->npages */
};

/* Folio flags. */
#define GMEM_FOLIO_UPTODATE	(1u << 0)	/* cleared and handed out once */
#define GMEM_FOLIO_HWPOISON	(1u << 1)	/* folio_test_hwpoison() */

/** A folio as it is. */
struct gmem_folio_info {
	uint64_t index;			/* first file page index */
	unsigned int order;		/* GMEM_ORDER_* */
	tdpsim_pfn_t pfn;		/* first PFN, aligned to 1 << order */
	unsigned int flags;		/* GMEM_FOLIO_* */
};

/* ---- lifecycle ---- */

/**
 * kvm_gmem_create() - a guest_memfd of @cfg->size bytes (kvm_gmem_create,
 * __kvm_gmem_create). Its objects come from @alloc (kind GMEM), its memory
 * from @host; @counters (may be NULL) keeps the gauge gmem.folios.
 * Returns 0 and @ret_gmem; -EINVAL for a bad size or level; -ENOMEM.
 */
int kvm_gmem_create(struct tdpsim_allocator *alloc, struct host_mem *host,
		    struct tdpsim_counters *counters,
		    const struct kvm_gmem_config *cfg, struct kvm_gmem **ret_gmem);

/**
 * kvm_gmem_release() - the file is closed (kvm_gmem_release): zap
 * everything bound (one invalidation of [0, size), reason RELEASE, the
 * file's filter), then drop every binding. Memory stays with the file
 * until kvm_gmem_destroy(). Afterwards kvm_gmem_get_pfn() answers -EFAULT
 * and bind -EINVAL. Idempotent.
 */
void kvm_gmem_release(struct kvm_gmem *gmem);

/**
 * kvm_gmem_destroy() - the inode goes away: free every folio (poisoned
 * pages are retired, not freed) and the file, without callbacks. The
 * caller has released the file or knows nothing maps it. NULL ok.
 */
void kvm_gmem_destroy(struct kvm_gmem *gmem);

/* ---- bindings ---- */

/**
 * kvm_gmem_bind() - bind memslot @slot_id ([base_gfn, base_gfn + npages))
 * to the file at byte @offset (kvm_gmem_bind). The binding is immutable
 * until kvm_gmem_unbind().
 * Returns 0; -EINVAL (@offset not page aligned, @npages 0, the range past
 * the end of the file, GFN overflow, file released); -EEXIST if the file
 * range overlaps another binding; -ENOMEM.
 */
int kvm_gmem_bind(struct kvm_gmem *gmem, uint32_t slot_id,
		  tdpsim_gfn_t base_gfn, uint64_t npages, uint64_t offset);

/**
 * kvm_gmem_unbind() - drop the binding of @slot_id at file index @pgoff
 * (kvm_gmem_unbind). No invalidation: deleting the slot zaps it.
 * Returns 0, or -ENOENT (a released file has no bindings left).
 */
int kvm_gmem_unbind(struct kvm_gmem *gmem, uint32_t slot_id, uint64_t pgoff);

/**
 * kvm_gmem_binding_lookup() - the binding that covers file page @index.
 * Returns 0 and @ret_info, or -ENOENT.
 */
int kvm_gmem_binding_lookup(struct kvm_gmem *gmem, uint64_t index,
			    struct gmem_binding_info *ret_info);

/** kvm_gmem_get_index(): the file index of @gfn in a slot bound at @pgoff. */
static inline uint64_t kvm_gmem_get_index(tdpsim_gfn_t base_gfn, uint64_t pgoff,
					  tdpsim_gfn_t gfn)
{
	return gfn - base_gfn + pgoff;
}

/** The GFN of file page @index in binding @b (the inverse). */
static inline tdpsim_gfn_t kvm_gmem_index_to_gfn(const struct gmem_binding_info *b,
						 uint64_t index)
{
	return b->base_gfn + index - b->pgoff;
}

/**
 * gmem_binding_gfn_range() - the GFNs binding @b maps of file range
 * [start, end), clipped to the binding. Returns false if they do not meet.
 */
static inline bool gmem_binding_gfn_range(const struct gmem_binding_info *b,
					  uint64_t start, uint64_t end,
					  struct gmem_gfn_range *ret_range)
{
	uint64_t s = start > b->pgoff ? start : b->pgoff;
	uint64_t e = end < b->pgoff + b->npages ? end : b->pgoff + b->npages;

	if (s >= e)
		return false;
	ret_range->slot_id = b->slot_id;
	ret_range->start = b->base_gfn + s - b->pgoff;
	ret_range->end = b->base_gfn + e - b->pgoff;
	ret_range->index = s;
	return true;
}

/*
 * Iterating the bindings that overlap a file range, each as its GFN range.
 * The caller holds the file's invalidate lock (as inside the callbacks) or
 * uses kvm_gmem_for_each_bound_range(), which takes the inner lock. Costs
 * O(log bindings) plus one step per binding found, whatever the range.
 */
struct gmem_range_iter {
	const struct kvm_gmem *gmem;
	const void *next;		/* next binding to look at */
	uint64_t start;
	uint64_t end;
};

void gmem_range_iter_start(struct gmem_range_iter *it, const struct kvm_gmem *gmem,
			   uint64_t start, uint64_t end);
bool gmem_range_iter_next(struct gmem_range_iter *it, struct gmem_gfn_range *ret_range);

#define gmem_for_each_bound_range(it, range, gmem, start, end)		\
	for (gmem_range_iter_start(it, gmem, start, end);		\
	     gmem_range_iter_next(it, range);)

/* Inside gmem_invalidate_ops: every bound GFN range of @inv. */
#define gmem_invalidation_for_each_range(it, range, inv)		\
	gmem_for_each_bound_range(it, range, (inv)->gmem, (inv)->start, (inv)->end)

/**
 * kvm_gmem_for_each_bound_range() - call @fn for each binding overlapping
 * file range [start, end), as its GFN range, with the inner lock held
 * (shared): @fn may only query. Stops at @fn's first non-zero return,
 * which it returns; else 0.
 */
int kvm_gmem_for_each_bound_range(struct kvm_gmem *gmem, uint64_t start,
				  uint64_t end,
				  int (*fn)(void *opaque, const struct gmem_gfn_range *r),
				  void *opaque);

/* ---- memory ---- */

/**
 * kvm_gmem_allocate() - fallocate(FALLOC_FL_KEEP_SIZE): make sure every
 * page of [offset, offset + len) has a folio (kvm_gmem_allocate). A new
 * folio is as large as the file allows where its whole naturally aligned
 * range lies inside the file, meets no other folio and has one attribute,
 * so it may reach outside [offset, offset + len), as a huge page would.
 * Returns 0; -EINVAL (unaligned, @len 0, past the end of the file);
 * -ENOMEM (what was allocated before stays).
 */
int kvm_gmem_allocate(struct kvm_gmem *gmem, uint64_t offset, uint64_t len);

/**
 * kvm_gmem_punch_hole() - fallocate(PUNCH_HOLE | KEEP_SIZE)
 * (kvm_gmem_punch_hole): begin() with every bound GFN range of the hole
 * (filter: see kvm_gmem_get_invalidate_filter()), then free the folios in
 * the hole; a folio only partly inside is split first and only its pages
 * in the hole are freed, the others keep their PFNs. Then end(). The part
 * of the range past the end of the file is ignored, as truncation does.
 * Costs O(log n) plus the folios and bindings in the hole, whatever its
 * size.
 * Returns 0; -EINVAL (unaligned, @len 0, overflow); -ENOMEM before any
 * callback if a split cannot get its objects; begin()'s error.
 */
int kvm_gmem_punch_hole(struct kvm_gmem *gmem, uint64_t offset, uint64_t len);

/**
 * kvm_gmem_get_pfn() - the PFN backing file page @index for memslot
 * @slot_id (kvm_gmem_get_pfn, __kvm_gmem_get_pfn), allocating its folio on
 * first use (marked uptodate: cleared) as kvm_gmem_allocate() would.
 * @ret_max_order is the folio's order as kvm_gmem_max_mapping_order()
 * limits it. The kernel's mainline answers 0 here; tdpsim answers the
 * folio's order and the MMU caps it (lpage_info, host level, vendor).
 * No reference is taken: a racing punch can free the page at once, and the
 * caller relies on the MMU's invalidation sequence, as the kernel does.
 * Returns 0; -EFAULT (file released); -EIO (@index not bound to @slot_id);
 * -EHWPOISON (the page is poisoned); -EAGAIN (@index is inside a punch or
 * conversion in progress: the fault retries, as mmu_invalidate_retry_gfn
 * would make it); -ENOMEM.
 */
int kvm_gmem_get_pfn(struct kvm_gmem *gmem, uint32_t slot_id, uint64_t index,
		     tdpsim_pfn_t *ret_pfn, int *ret_max_order);

/**
 * kvm_gmem_error_folio() - memory failure of the page at file @index
 * (memory_failure() -> split -> kvm_gmem_error_folio): mark it poisoned,
 * split its folio so it is a 4K folio of its own (the others keep their
 * PFNs), then invalidate that page's GFNs only (reason ERROR), without
 * freeing anything. Later kvm_gmem_get_pfn() on it answers -EHWPOISON;
 * punching it retires the page for good.
 * Returns 0; -EINVAL (@index past the end); -ENOENT (no page there: no
 * memory to fail); -EHWPOISON (already poisoned, as memory_failure()
 * answers); -ENOMEM (the split could not get its objects: nothing done).
 */
int kvm_gmem_error_folio(struct kvm_gmem *gmem, uint64_t index);

/* ---- in-place conversion ---- */

/**
 * kvm_gmem_set_attributes() - KVM_SET_MEMORY_ATTRIBUTES2 on the file
 * (kvm_gmem_set_attributes, in-place conversion): make [offset, offset +
 * len) private or shared. Nothing happens if it already is. Else begin()
 * with the bound GFN ranges (filter SHARED | PRIVATE), split folios that
 * straddle the range's ends so no folio holds both attributes, store the
 * attribute, and for private merge the range's 4K and 2M folios back into
 * huge ones where a whole aligned block is private again with contiguous
 * PFNs; end().
 * Returns 0; -EINVAL (not an in-place file, unaligned, @len 0, past the
 * end of the file); -ENOMEM before any callback; begin()'s error.
 */
int kvm_gmem_set_attributes(struct kvm_gmem *gmem, uint64_t offset, uint64_t len,
			    bool private_mem);

/**
 * kvm_gmem_get_attributes() - the attribute of file page @index and the
 * end of its run: [index, *ret_end) all have @ret_private.
 * Returns 0, or -EINVAL for @index past the end.
 */
int kvm_gmem_get_attributes(struct kvm_gmem *gmem, uint64_t index,
			    uint64_t *ret_end, bool *ret_private);

/** kvm_gmem_is_private_mem(): true if @index is private. */
bool kvm_gmem_is_private_mem(struct kvm_gmem *gmem, uint64_t index);

/* ---- queries ---- */

/**
 * kvm_gmem_max_mapping_order() - the largest order a mapping of @index may
 * have as far as the file goes (kvm_gmem_max_mapping_level): its folio's
 * order, lowered until the naturally aligned block holds one attribute and
 * no poisoned page; with no folio yet, the order kvm_gmem_get_pfn() would
 * allocate now. Never allocates, so it may run under mmu_lock.
 * Returns 0 and @ret_order; -EINVAL (past the end); -EHWPOISON.
 */
int kvm_gmem_max_mapping_order(struct kvm_gmem *gmem, uint64_t index,
			       int *ret_order);

/**
 * kvm_gmem_folio_lookup() - the folio holding @index, if any (no
 * allocation). Returns 0 and @ret_info, or -ENOENT.
 */
int kvm_gmem_folio_lookup(struct kvm_gmem *gmem, uint64_t index,
			  struct gmem_folio_info *ret_info);

/**
 * kvm_gmem_for_each_folio() - call @fn for each folio meeting [start, end)
 * in index order, with the inner lock held: @fn may only look. Stops at
 * @fn's first non-zero return, which it returns; else 0.
 */
int kvm_gmem_for_each_folio(struct kvm_gmem *gmem, uint64_t start, uint64_t end,
			    int (*fn)(void *opaque, const struct gmem_folio_info *f),
			    void *opaque);

/**
 * kvm_gmem_get_invalidate_filter() - the filter of punch, memory failure
 * and release: SHARED | PRIVATE for in-place files (the attribute may be
 * either), else SHARED for init-shared files and PRIVATE for others.
 */
unsigned int kvm_gmem_get_invalidate_filter(const struct kvm_gmem *gmem);

/** Live folios of this file (its share of the gmem.folios gauge). */
uint64_t kvm_gmem_nr_folios(struct kvm_gmem *gmem);

/** The file's size in pages. */
uint64_t kvm_gmem_npages(const struct kvm_gmem *gmem);

/**
 * kvm_gmem_work() - steps taken so far: tree nodes visited, folios, bindings
 * and attribute ranges created, split, freed or walked. Tests use it to
 * show an operation's cost follows what it touches, not its range.
 */
uint64_t kvm_gmem_work(struct kvm_gmem *gmem);

/**
 * kvm_gmem_check() - for tests and the checker's self-test: the folio map
 * is ordered and disjoint, folios are aligned in index and PFN, inside the
 * file, of an allowed order, never span two attributes, and their pages are
 * live in host memory; attribute ranges tile the file with neighbours
 * merged; bindings are disjoint; the folio count is right.
 * Returns 0 or -EINVAL.
 */
int kvm_gmem_check(struct kvm_gmem *gmem);

#endif /* TDPSIM_GMEM_H */
