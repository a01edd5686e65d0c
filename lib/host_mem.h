/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * host_mem.h - simulated host physical memory: a PFN allocator.
 *
 * Hands out naturally aligned blocks of 2^order 4 KiB pages (order 0, 9
 * and 18 are 4K, 2M and 1G), never the same page twice while it is live.
 * It is a buddy allocator over PFNs: host memory is carved from the top
 * in 1 GiB chunks as needed, free blocks are kept per order and merged with
 * their buddies when freed, and nothing is ever stored per page, so the
 * cost is in proportion to the number of live and free blocks, never to the
 * size of the host or of what is allocated.
 *
 * A live block can be cut (host_mem_cut()) so that part of it can be freed
 * on its own, as when a huge folio is split and part of it punched. Cutting
 * may allocate bookkeeping and fail; freeing never allocates and never
 * fails on valid input, as freeing memory in the kernel cannot fail.
 * Poisoned pages are retired: they stop being live and are never handed
 * out again (a hardware-poisoned page never returns to the buddy).
 *
 * Thread-safe: one mutex per host_mem, never held while calling out.
 * Lock order: callers' locks, then this one.
 */
#ifndef TDPSIM_HOST_MEM_H
#define TDPSIM_HOST_MEM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <tdpsim/types.h>

#include "alloc.h"
#include "avl.h"

/* The largest block: 1 GiB, the unit host memory is carved in. */
#define HOST_MEM_MAX_ORDER	18

/* The first PFN handed out (4 GiB): PFN 0 is never a valid answer. */
#define HOST_MEM_BASE_PFN	0x100000ULL

/* One past the last PFN: 52-bit host physical addresses, as the SPTE's
 * PFN field (bits 51:12) can hold. */
#define HOST_MEM_LIMIT_PFN	(1ULL << 40)

struct host_mem {
	struct tdpsim_allocator *alloc;	/* where bookkeeping comes from */
	enum tdpsim_alloc_kind kind;	/* its allocation kind */
	pthread_mutex_t lock;		/* protects everything below */
	struct avl_root used;		/* live blocks, by first PFN */
	struct avl_root free[HOST_MEM_MAX_ORDER + 1]; /* free blocks by order */
	struct avl_root retired;	/* poisoned blocks, never reused */
	tdpsim_pfn_t top;		/* next PFN to carve a chunk from */
	tdpsim_pfn_t limit;		/* carve nothing at or above this */
	uint64_t live_pages;		/* pages in live blocks */
	uint64_t retired_pages;		/* pages retired */
	uint64_t nr_nodes;		/* bookkeeping objects allocated */
};

/**
 * host_mem_init() - set up @hm, empty, allocating its bookkeeping from @a
 * with @kind. The memory of @hm is the caller's.
 * Returns 0, or -EINVAL for a bad kind.
 */
int host_mem_init(struct host_mem *hm, struct tdpsim_allocator *a,
		  enum tdpsim_alloc_kind kind);

/**
 * host_mem_finish() - free the bookkeeping. Live blocks are the caller's
 * leak (host_mem_live_pages() tells); they are forgotten, not checked.
 */
void host_mem_finish(struct host_mem *hm);

/**
 * host_mem_alloc() - a block of 2^@order pages aligned to its size, the
 * lowest-addressed free one (deterministic).
 * Returns 0 and @ret_pfn; -EINVAL for @order > HOST_MEM_MAX_ORDER;
 * -ENOMEM if bookkeeping cannot be allocated or the PFN space is used up.
 */
int host_mem_alloc(struct host_mem *hm, unsigned int order,
		   tdpsim_pfn_t *ret_pfn);

/**
 * host_mem_cut() - make @pfn the first page of a live block, splitting the
 * live block that contains it (buddy-style, into the fewest aligned
 * blocks) if @pfn lies strictly inside one. Nothing changes for @pfn that
 * already starts a block or is not live.
 * Returns 0, or -ENOMEM with nothing changed.
 */
int host_mem_cut(struct host_mem *hm, tdpsim_pfn_t pfn);

/**
 * host_mem_free() - free [pfn, pfn + npages), which must be exactly a run
 * of whole live blocks (cut first to free part of a block). Never
 * allocates. Returns 0, or -EINVAL (with a WARN: a caller bug) if the
 * range is not whole live blocks; nothing is freed then.
 */
int host_mem_free(struct host_mem *hm, tdpsim_pfn_t pfn, uint64_t npages);

/**
 * host_mem_retire() - as host_mem_free(), but the pages are poisoned and
 * never handed out again.
 */
int host_mem_retire(struct host_mem *hm, tdpsim_pfn_t pfn, uint64_t npages);

/** True if @pfn is in a live block now. */
bool host_mem_is_live(struct host_mem *hm, tdpsim_pfn_t pfn);

/** Pages in live blocks now. */
uint64_t host_mem_live_pages(struct host_mem *hm);

/** Pages retired (poisoned) so far. */
uint64_t host_mem_retired_pages(struct host_mem *hm);

/** Bookkeeping objects (live, free and retired blocks) allocated now. */
uint64_t host_mem_nr_nodes(struct host_mem *hm);

/**
 * host_mem_check() - for tests: the trees are consistent, blocks are
 * aligned, disjoint and below the top, the page counts add up, and no free
 * block has a free buddy of the same order left unmerged.
 * Returns 0 or -EINVAL.
 */
int host_mem_check(struct host_mem *hm);

#endif /* TDPSIM_HOST_MEM_H */
