/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tdpsim/types.h - scalar units shared by every public header.
 *
 * GFNs and PFNs are 4 KiB frame numbers, as in KVM (gfn_t, kvm_pfn_t);
 * levels use the kernel's enum pg_level values.
 */
#ifndef TDPSIM_TYPES_H
#define TDPSIM_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define TDPSIM_API
#else
#define TDPSIM_API __attribute__((visibility("default")))
#endif

/** A guest frame number: guest physical address >> 12 (KVM's gfn_t). */
typedef uint64_t tdpsim_gfn_t;
/** A host frame number: host physical address >> 12 (KVM's kvm_pfn_t). */
typedef uint64_t tdpsim_pfn_t;
/** A host physical address (KVM's hpa_t). */
typedef uint64_t tdpsim_hpa_t;

/** Page-table levels, with the values of the kernel's enum pg_level. */
enum tdpsim_level {
	TDPSIM_LEVEL_NONE = 0,
	TDPSIM_LEVEL_4K = 1,
	TDPSIM_LEVEL_2M = 2,
	TDPSIM_LEVEL_1G = 3,
	TDPSIM_LEVEL_512G = 4,
	TDPSIM_LEVEL_256T = 5,
};

/** GFNs covered by one entry at @level: KVM_PAGES_PER_HPAGE(level). */
static inline uint64_t tdpsim_pages_per_level(int level)
{
	return (uint64_t)1 << (9 * (level - 1));
}

/** "4K", "2M", "1G", "512G", "256T", or "?" for anything else. */
TDPSIM_API const char *tdpsim_level_name(int level);

#ifdef __cplusplus
}
#endif

#endif /* TDPSIM_TYPES_H */
