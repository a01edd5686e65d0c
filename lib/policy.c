/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * policy.c - parse and hold the policies of ../shared/spec/policies.md.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "policy.h"

void policy_init(struct tdpsim_policy *p)
{
	memset(p, 0, sizeof(*p));
	p->split_boundary = SPLIT_BOUNDARY_HEADTAIL;
	p->inhibit_lock_read = false;
	p->tdx_huge = false;
	p->tdx_dpamt = false;
	p->split_cache = SPLIT_CACHE_PER_VM;
	p->eager_split = true;
	p->fault_retries = 1000;
}

/* Index of @value in the '|'-separated list @values, or -1. */
static int pick(const char *values, const char *value)
{
	size_t len = strlen(value);
	int idx = 0;

	for (const char *s = values; *s; idx++) {
		const char *bar = strchr(s, '|');
		size_t n = bar ? (size_t)(bar - s) : strlen(s);

		if (n == len && !strncmp(s, value, n))
			return idx;
		if (!bar)
			break;
		s = bar + 1;
	}
	return -1;
}

static const struct {
	const char *key;
	const char *values;
} keys[] = {
	{ "split.boundary", "headtail|walk|none" },
	{ "lpage.inhibit-lock", "write|read" },
	{ "tdx.huge", "off|on" },
	{ "tdx.dpamt", "off|on" },
	{ "tdx.split-cache", "per-vm|per-vcpu" },
	{ "mmu.eager-split", "on|off" },
	{ "mmu.fault-retries", "a number from 1 to 1000000" },
};

const char *policy_values(const char *key)
{
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		if (!strcmp(keys[i].key, key))
			return keys[i].values;
	return NULL;
}

static int parse_retries(const char *value, unsigned int *ret)
{
	char *end;
	unsigned long v;

	if (!*value || *value < '0' || *value > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(value, &end, 0);
	if (errno || *end || v < 1 || v > 1000000)
		return -EINVAL;
	*ret = (unsigned int)v;
	return 0;
}

int policy_set(struct tdpsim_policy *p, const char *key, const char *value)
{
	const char *values;
	int v;

	if (!key || !value)
		return -EINVAL;
	values = policy_values(key);
	if (!values)
		return -ENOENT;
	if (!strcmp(key, "mmu.fault-retries"))
		return parse_retries(value, &p->fault_retries);
	v = pick(values, value);
	if (v < 0)
		return -EINVAL;
	if (!strcmp(key, "split.boundary"))
		p->split_boundary = (enum split_boundary_policy)v;
	else if (!strcmp(key, "lpage.inhibit-lock"))
		p->inhibit_lock_read = v == 1;
	else if (!strcmp(key, "tdx.huge"))
		p->tdx_huge = v == 1;
	else if (!strcmp(key, "tdx.dpamt"))
		p->tdx_dpamt = v == 1;
	else if (!strcmp(key, "tdx.split-cache"))
		p->split_cache = (enum split_cache_policy)v;
	else if (!strcmp(key, "mmu.eager-split"))
		p->eager_split = v == 0;
	return 0;
}
