/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * counters.h - the VM's named counters (tdpsim/stats.h), incremented with
 * relaxed atomics so concurrent faults can count without a lock.
 */
#ifndef TDPSIM_COUNTERS_H
#define TDPSIM_COUNTERS_H

#include <stdatomic.h>

#include <tdpsim/stats.h>

#include "internal.h"

/*
 * Counters are sharded: each thread adds to its own shard (picked once per
 * thread, round-robin), and a read sums the shards. Faults on two CPUs
 * would otherwise bounce the same cache lines on every increment, which
 * costs more than the fault path itself. Shards are padded to whole 64-byte
 * lines so neighbours share at most the line at their edges.
 */
#define COUNTER_SHARDS 16
#define COUNTER_SHARD_WORDS ((TDPSIM_STAT_NR + 7) & ~7)

struct counter_shard {
	_Atomic uint64_t value[COUNTER_SHARD_WORDS];
};

struct tdpsim_counters {
	struct counter_shard shard[COUNTER_SHARDS];
};

/* This thread's shard, or COUNTER_SHARDS before its first count. */
extern _Thread_local unsigned int counter_shard_id;
unsigned int counter_shard_assign(void);

static inline struct counter_shard *counter_shard(struct tdpsim_counters *c)
{
	unsigned int id = counter_shard_id;

	if (unlikely(id >= COUNTER_SHARDS))
		id = counter_shard_assign();
	return &c->shard[id];
}

static inline void counter_add(struct tdpsim_counters *c, enum tdpsim_stat stat,
			       uint64_t n)
{
	atomic_fetch_add_explicit(&counter_shard(c)->value[stat], n,
				  memory_order_relaxed);
}

static inline void counter_inc(struct tdpsim_counters *c, enum tdpsim_stat stat)
{
	counter_add(c, stat, 1);
}

/* Gauges go down as well as up; a shard may wrap, the sum does not. */
static inline void counter_sub(struct tdpsim_counters *c, enum tdpsim_stat stat,
			       uint64_t n)
{
	atomic_fetch_sub_explicit(&counter_shard(c)->value[stat], n,
				  memory_order_relaxed);
}

void counters_init(struct tdpsim_counters *c);

#endif /* TDPSIM_COUNTERS_H */
