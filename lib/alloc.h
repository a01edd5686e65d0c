/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * alloc.h - the allocation layer every module allocates through.
 *
 * One allocator per VM. With jemalloc it owns a private arena
 * (arenas.create / arena.<i>.destroy); with libc it uses calloc and
 * aligned_alloc. Every allocation is tagged with a kind and counted live per
 * kind, so the `leak` invariant can compare the counts after destroy. A
 * failure-injection hook makes the Nth allocation from now fail (`inject
 * alloc-fail`), and an optional hook lets the VM see every allocation (the
 * `no-sleep` invariant).
 *
 * Thread-safe: counts and injection state are atomics.
 */
#ifndef TDPSIM_ALLOC_H
#define TDPSIM_ALLOC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include <tdpsim/inspect.h>
#include <tdpsim/vm.h>

#define TDPSIM_PAGE_SIZE 4096

struct tdpsim_allocator {
	enum tdpsim_alloc_backend backend; /* LIBC or JEMALLOC, never DEFAULT */
	unsigned int arena;		/* jemalloc arena index */
	_Atomic uint64_t live[TDPSIM_ALLOC_KIND_NR];	/* objects live now */
	_Atomic uint64_t bytes[TDPSIM_ALLOC_KIND_NR];	/* bytes live now */
	_Atomic uint64_t total;		/* allocations ever attempted */
	/* Injection: skip this many allocations, then fail this many. */
	_Atomic uint64_t fail_skip;
	_Atomic uint64_t fail_left;
	_Atomic uint64_t failed;	/* injected failures so far */
	/* Called before every allocation attempt, if set. */
	void (*hook)(void *opaque, enum tdpsim_alloc_kind kind, size_t size);
	void *hook_opaque;
};

/** True if this build has the jemalloc backend. */
bool allocator_has_jemalloc(void);

/**
 * allocator_init() - set up @a for @backend (DEFAULT picks jemalloc when
 * built with it). Returns 0, -ENOTSUP for jemalloc in a build without it,
 * -ENOMEM if the arena cannot be created.
 */
int allocator_init(struct tdpsim_allocator *a, enum tdpsim_alloc_backend backend);

/** Release the arena. Live objects are the caller's leak, not freed here. */
void allocator_finish(struct tdpsim_allocator *a);

/** Zeroed memory of @size bytes, or NULL (out of memory, or injected). */
void *alloc_obj(struct tdpsim_allocator *a, enum tdpsim_alloc_kind kind, size_t size);

/** Free what alloc_obj() returned; @size must be the size allocated. NULL ok. */
void free_obj(struct tdpsim_allocator *a, enum tdpsim_alloc_kind kind, void *p,
	      size_t size);

/** A zeroed, 4 KiB-aligned 4 KiB page, or NULL. */
void *alloc_page(struct tdpsim_allocator *a, enum tdpsim_alloc_kind kind);

/** Free what alloc_page() returned. NULL ok. */
void free_page(struct tdpsim_allocator *a, enum tdpsim_alloc_kind kind, void *p);

/** Fail the allocation @after + 1 from now and the @count - 1 after it. */
void allocator_inject_fail(struct tdpsim_allocator *a, uint64_t after,
			   uint64_t count);

/** Objects of @kind live now. */
static inline uint64_t allocator_live(const struct tdpsim_allocator *a,
				      enum tdpsim_alloc_kind kind)
{
	return atomic_load_explicit(&a->live[kind], memory_order_relaxed);
}

#endif /* TDPSIM_ALLOC_H */
