/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * internal.h - small helpers every file of libtdpsim may use.
 */
#ifndef TDPSIM_INTERNAL_H
#define TDPSIM_INTERNAL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "config.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

#define BIT_ULL(n) (1ULL << (n))

/*
 * TDPSIM_WARN_ON_ONCE() - the kernel's WARN_ON_ONCE(): evaluates to @cond.
 * A model bug (not a bad input) trips it; debug builds abort so tests see it
 * at once, release builds carry on and let the caller leave the object
 * invalid, as the kernel does.
 */
void tdpsim_warn(const char *file, int line, const char *cond);
#define TDPSIM_WARN_ON_ONCE(cond)                                        \
	({                                                               \
		static int __warned;                                     \
		int __ret = !!(cond);                                    \
		if (unlikely(__ret) && !__warned) {                      \
			__warned = 1;                                    \
			tdpsim_warn(__FILE__, __LINE__, #cond);          \
		}                                                        \
		__ret;                                                   \
	})

#endif /* TDPSIM_INTERNAL_H */
