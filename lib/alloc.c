/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * alloc.c - the allocation layer: a private jemalloc arena per VM, or libc.
 *
 * Debian's jemalloc has no symbol prefix, so linking it replaces malloc for
 * the whole process; that is why it is an optional feature. AddressSanitizer
 * and valgrind cannot see mallocx() allocations: sanitizer builds use
 * -Djemalloc=disabled.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "internal.h"

#ifdef HAVE_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif

static const char *const kind_names[TDPSIM_ALLOC_KIND_NR] = {
	[TDPSIM_ALLOC_KIND_VM] = "vm",
	[TDPSIM_ALLOC_KIND_PT] = "pt",
	[TDPSIM_ALLOC_KIND_SP] = "sp",
	[TDPSIM_ALLOC_KIND_MEMSLOT] = "memslot",
	[TDPSIM_ALLOC_KIND_LPAGE] = "lpage",
	[TDPSIM_ALLOC_KIND_ATTR] = "attr",
	[TDPSIM_ALLOC_KIND_CACHE] = "cache",
	[TDPSIM_ALLOC_KIND_GMEM] = "gmem",
	[TDPSIM_ALLOC_KIND_SEPT] = "sept",
	[TDPSIM_ALLOC_KIND_PAMT] = "pamt",
	[TDPSIM_ALLOC_KIND_MISC] = "misc",
};

const char *tdpsim_alloc_kind_name(enum tdpsim_alloc_kind kind)
{
	if ((unsigned int)kind >= TDPSIM_ALLOC_KIND_NR)
		return "?";
	return kind_names[kind];
}

bool allocator_has_jemalloc(void)
{
#ifdef HAVE_JEMALLOC
	return true;
#else
	return false;
#endif
}

int allocator_init(struct tdpsim_allocator *a, enum tdpsim_alloc_backend backend)
{
	memset(a, 0, sizeof(*a));
	if (backend == TDPSIM_ALLOC_DEFAULT)
		backend = allocator_has_jemalloc() ? TDPSIM_ALLOC_JEMALLOC :
						     TDPSIM_ALLOC_LIBC;
	if (backend != TDPSIM_ALLOC_LIBC && backend != TDPSIM_ALLOC_JEMALLOC)
		return -EINVAL;
	if (backend == TDPSIM_ALLOC_JEMALLOC) {
#ifdef HAVE_JEMALLOC
		unsigned int arena;
		size_t sz = sizeof(arena);

		if (mallctl("arenas.create", &arena, &sz, NULL, 0))
			return -ENOMEM;
		a->arena = arena;
#else
		return -ENOTSUP;
#endif
	}
	a->backend = backend;
	return 0;
}

void allocator_finish(struct tdpsim_allocator *a)
{
#ifdef HAVE_JEMALLOC
	if (a->backend == TDPSIM_ALLOC_JEMALLOC) {
		char name[64];

		/* Destroying an arena frees whatever it still holds. */
		snprintf(name, sizeof(name), "arena.%u.destroy", a->arena);
		mallctl(name, NULL, NULL, NULL, 0);
	}
#else
	(void)a;
#endif
}

void allocator_inject_fail(struct tdpsim_allocator *a, uint64_t after,
			   uint64_t count)
{
	atomic_store(&a->fail_skip, after);
	atomic_store(&a->fail_left, count);
}

/*
 * Decide whether this allocation is one the test asked to fail: first use
 * up the allocations to skip, then the ones to fail. Both counters only go
 * down, with compare-and-swap loops so concurrent allocators each consume
 * exactly one step.
 */
static bool should_fail(struct tdpsim_allocator *a)
{
	uint64_t v;

	if (likely(atomic_load_explicit(&a->fail_left, memory_order_relaxed) == 0))
		return false;
	v = atomic_load(&a->fail_skip);
	while (v) {
		if (atomic_compare_exchange_weak(&a->fail_skip, &v, v - 1))
			return false;
	}
	v = atomic_load(&a->fail_left);
	while (v) {
		if (atomic_compare_exchange_weak(&a->fail_left, &v, v - 1)) {
			atomic_fetch_add(&a->failed, 1);
			return true;
		}
	}
	return false;
}

static void *backend_alloc(struct tdpsim_allocator *a, size_t size, size_t align)
{
#ifdef HAVE_JEMALLOC
	if (a->backend == TDPSIM_ALLOC_JEMALLOC) {
		int flags = MALLOCX_ARENA(a->arena) | MALLOCX_TCACHE_NONE | MALLOCX_ZERO;

		if (align)
			flags |= MALLOCX_ALIGN(align);
		return mallocx(size, flags);
	}
#endif
	(void)a;
	if (align) {
		void *p = aligned_alloc(align, size);

		if (p)
			memset(p, 0, size);
		return p;
	}
	return calloc(1, size);
}

static void backend_free(struct tdpsim_allocator *a, void *p, size_t size,
			 size_t align)
{
#ifdef HAVE_JEMALLOC
	if (a->backend == TDPSIM_ALLOC_JEMALLOC) {
		int flags = MALLOCX_TCACHE_NONE;

		if (align)
			flags |= MALLOCX_ALIGN(align);
		sdallocx(p, size, flags);
		return;
	}
#endif
	(void)a;
	(void)size;
	(void)align;
	free(p);
}

static void *do_alloc(struct tdpsim_allocator *a, enum tdpsim_alloc_kind kind,
		      size_t size, size_t align)
{
	void *p;

	if ((unsigned int)kind >= TDPSIM_ALLOC_KIND_NR || !size)
		return NULL;
	if (a->hook)
		a->hook(a->hook_opaque, kind, size);
	atomic_fetch_add_explicit(&a->total, 1, memory_order_relaxed);
	if (should_fail(a))
		return NULL;
	p = backend_alloc(a, size, align);
	if (!p)
		return NULL;
	atomic_fetch_add_explicit(&a->live[kind], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&a->bytes[kind], size, memory_order_relaxed);
	return p;
}

static void do_free(struct tdpsim_allocator *a, enum tdpsim_alloc_kind kind,
		    void *p, size_t size, size_t align)
{
	if (!p)
		return;
	TDPSIM_WARN_ON_ONCE(!atomic_load(&a->live[kind]));
	atomic_fetch_sub_explicit(&a->live[kind], 1, memory_order_relaxed);
	atomic_fetch_sub_explicit(&a->bytes[kind], size, memory_order_relaxed);
	backend_free(a, p, size, align);
}

void *alloc_obj(struct tdpsim_allocator *a, enum tdpsim_alloc_kind kind, size_t size)
{
	return do_alloc(a, kind, size, 0);
}

void free_obj(struct tdpsim_allocator *a, enum tdpsim_alloc_kind kind, void *p,
	      size_t size)
{
	do_free(a, kind, p, size, 0);
}

void *alloc_page(struct tdpsim_allocator *a, enum tdpsim_alloc_kind kind)
{
	return do_alloc(a, kind, TDPSIM_PAGE_SIZE, TDPSIM_PAGE_SIZE);
}

void free_page(struct tdpsim_allocator *a, enum tdpsim_alloc_kind kind, void *p)
{
	do_free(a, kind, p, TDPSIM_PAGE_SIZE, TDPSIM_PAGE_SIZE);
}
