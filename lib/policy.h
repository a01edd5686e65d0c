/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * policy.h - the design alternatives of ../shared/spec/policies.md, as one
 * plain struct the model reads. Parsing lives here so the trace parser and
 * tdpsim_vm_set_policy() accept exactly the same keys and values.
 */
#ifndef TDPSIM_POLICY_H
#define TDPSIM_POLICY_H

#include <stdbool.h>

enum split_boundary_policy {
	SPLIT_BOUNDARY_HEADTAIL,	/* split the head and tail huge pages */
	SPLIT_BOUNDARY_WALK,		/* walk the range for crossing leaves */
	SPLIT_BOUNDARY_NONE,		/* zap only: over-zaps */
};

enum split_cache_policy {
	SPLIT_CACHE_PER_VM,
	SPLIT_CACHE_PER_VCPU,
};

struct tdpsim_policy {
	enum split_boundary_policy split_boundary;	/* split.boundary */
	bool inhibit_lock_read;		/* lpage.inhibit-lock=read (unsafe) */
	bool tdx_huge;			/* tdx.huge */
	bool tdx_dpamt;			/* tdx.dpamt */
	enum split_cache_policy split_cache;	/* tdx.split-cache */
	bool eager_split;		/* mmu.eager-split */
	unsigned int fault_retries;	/* mmu.fault-retries */
};

/** The defaults: the first value of every key. */
void policy_init(struct tdpsim_policy *p);

/**
 * policy_set() - set @key to @value.
 * Returns 0, -ENOENT for an unknown key, -EINVAL for a value the key does
 * not take (policy_values() says which it does).
 */
int policy_set(struct tdpsim_policy *p, const char *key, const char *value);

/** The values @key takes, for error messages ("headtail|walk|none"). */
const char *policy_values(const char *key);

#endif /* TDPSIM_POLICY_H */
