/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * stats.c - counter names, snapshots and differences.
 */
#include <errno.h>
#include <string.h>

#include <tdpsim/stats.h>

#include "counters.h"
#include "internal.h"

static const struct {
	const char *name;
	bool gauge;
} stats[TDPSIM_STAT_NR] = {
	[TDPSIM_STAT_FAULT] = { "fault", false },
	[TDPSIM_STAT_FAULT_RETRY] = { "fault.retry", false },
	[TDPSIM_STAT_FAULT_EXIT] = { "fault.exit", false },
	[TDPSIM_STAT_FAULT_SPURIOUS] = { "fault.spurious", false },
	[TDPSIM_STAT_MAP_4K] = { "map.4K", false },
	[TDPSIM_STAT_MAP_2M] = { "map.2M", false },
	[TDPSIM_STAT_MAP_1G] = { "map.1G", false },
	[TDPSIM_STAT_ZAP_4K] = { "zap.4K", false },
	[TDPSIM_STAT_ZAP_2M] = { "zap.2M", false },
	[TDPSIM_STAT_ZAP_1G] = { "zap.1G", false },
	[TDPSIM_STAT_SPLIT_2M] = { "split.2M", false },
	[TDPSIM_STAT_SPLIT_1G] = { "split.1G", false },
	[TDPSIM_STAT_RECOVER_2M] = { "recover.2M", false },
	[TDPSIM_STAT_RECOVER_1G] = { "recover.1G", false },
	[TDPSIM_STAT_PT_ALLOC] = { "pt.alloc", false },
	[TDPSIM_STAT_PT_FREE] = { "pt.free", false },
	[TDPSIM_STAT_PT_LIVE] = { "pt.live", true },
	[TDPSIM_STAT_TLB_FLUSH] = { "tlb.flush", false },
	[TDPSIM_STAT_LOCK_READ] = { "lock.read", false },
	[TDPSIM_STAT_LOCK_WRITE] = { "lock.write", false },
	[TDPSIM_STAT_RCU_FREE] = { "rcu.free", false },
	[TDPSIM_STAT_ALLOC_FAIL] = { "alloc.fail", false },
	[TDPSIM_STAT_SEAMCALL_PAGE_ADD] = { "seamcall.PAGE.ADD", false },
	[TDPSIM_STAT_SEAMCALL_PAGE_AUG] = { "seamcall.PAGE.AUG", false },
	[TDPSIM_STAT_SEAMCALL_SEPT_ADD] = { "seamcall.SEPT.ADD", false },
	[TDPSIM_STAT_SEAMCALL_RANGE_BLOCK] = { "seamcall.RANGE.BLOCK", false },
	[TDPSIM_STAT_SEAMCALL_RANGE_UNBLOCK] = { "seamcall.RANGE.UNBLOCK", false },
	[TDPSIM_STAT_SEAMCALL_MEM_TRACK] = { "seamcall.MEM.TRACK", false },
	[TDPSIM_STAT_SEAMCALL_PAGE_REMOVE] = { "seamcall.PAGE.REMOVE", false },
	[TDPSIM_STAT_SEAMCALL_PAGE_DEMOTE] = { "seamcall.PAGE.DEMOTE", false },
	[TDPSIM_STAT_SEAMCALL_PAGE_WBINVD] = { "seamcall.PAGE.WBINVD", false },
	[TDPSIM_STAT_SEAMCALL_PAGE_RECLAIM] = { "seamcall.PAGE.RECLAIM", false },
	[TDPSIM_STAT_SEAMCALL_SEPT_REMOVE] = { "seamcall.SEPT.REMOVE", false },
	[TDPSIM_STAT_SEAMCALL_PAMT_ADD] = { "seamcall.PAMT.ADD", false },
	[TDPSIM_STAT_SEAMCALL_PAMT_REMOVE] = { "seamcall.PAMT.REMOVE", false },
	[TDPSIM_STAT_SEAMCALL_MR_FINALIZE] = { "seamcall.MR.FINALIZE", false },
	[TDPSIM_STAT_SEAMCALL_BUSY] = { "seamcall.busy", false },
	[TDPSIM_STAT_PAMT_PAIRS] = { "pamt.pairs", true },
	[TDPSIM_STAT_GMEM_FOLIOS] = { "gmem.folios", true },
	[TDPSIM_STAT_LPAGE_INHIBIT] = { "lpage.inhibit", false },
	[TDPSIM_STAT_SPLIT_VISIT] = { "split.visit", false },
};

const char *tdpsim_stat_name(enum tdpsim_stat stat)
{
	if ((unsigned int)stat >= TDPSIM_STAT_NR)
		return NULL;
	return stats[stat].name;
}

int tdpsim_stat_from_name(const char *name, enum tdpsim_stat *ret_stat)
{
	if (!name)
		return -ENOENT;
	for (unsigned int i = 0; i < TDPSIM_STAT_NR; i++) {
		if (!strcmp(stats[i].name, name)) {
			if (ret_stat)
				*ret_stat = (enum tdpsim_stat)i;
			return 0;
		}
	}
	return -ENOENT;
}

bool tdpsim_stat_is_gauge(enum tdpsim_stat stat)
{
	return (unsigned int)stat < TDPSIM_STAT_NR && stats[stat].gauge;
}

_Thread_local unsigned int counter_shard_id = COUNTER_SHARDS;

unsigned int counter_shard_assign(void)
{
	static _Atomic unsigned int next;

	counter_shard_id = atomic_fetch_add_explicit(&next, 1, memory_order_relaxed) %
			   COUNTER_SHARDS;
	return counter_shard_id;
}

void counters_init(struct tdpsim_counters *c)
{
	for (unsigned int s = 0; s < COUNTER_SHARDS; s++)
		for (unsigned int i = 0; i < COUNTER_SHARD_WORDS; i++)
			atomic_init(&c->shard[s].value[i], 0);
}

uint64_t tdpsim_counters_get(const struct tdpsim_counters *counters,
			     enum tdpsim_stat stat)
{
	if (!counters || (unsigned int)stat >= TDPSIM_STAT_NR)
		return 0;
	uint64_t sum = 0;

	for (unsigned int s = 0; s < COUNTER_SHARDS; s++)
		sum += atomic_load_explicit(&counters->shard[s].value[stat],
					    memory_order_relaxed);
	return sum;
}

void tdpsim_counters_snapshot(const struct tdpsim_counters *counters,
			      struct tdpsim_snapshot *ret_snapshot)
{
	for (unsigned int i = 0; i < TDPSIM_STAT_NR; i++)
		ret_snapshot->value[i] = tdpsim_counters_get(counters, (enum tdpsim_stat)i);
}

uint64_t tdpsim_snapshot_delta(const struct tdpsim_snapshot *now,
			       const struct tdpsim_snapshot *then,
			       enum tdpsim_stat stat)
{
	if ((unsigned int)stat >= TDPSIM_STAT_NR)
		return 0;
	if (stats[stat].gauge || !then)
		return now->value[stat];
	return now->value[stat] - then->value[stat];
}
