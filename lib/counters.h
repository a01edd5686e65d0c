/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * counters.h - the VM's named counters (tdpsim/stats.h), incremented with
 * relaxed atomics so concurrent faults can count without a lock.
 */
#ifndef TDPSIM_COUNTERS_H
#define TDPSIM_COUNTERS_H

#include <stdatomic.h>

#include <tdpsim/stats.h>

struct tdpsim_counters {
	_Atomic uint64_t value[TDPSIM_STAT_NR];
};

static inline void counter_add(struct tdpsim_counters *c, enum tdpsim_stat stat,
			       uint64_t n)
{
	atomic_fetch_add_explicit(&c->value[stat], n, memory_order_relaxed);
}

static inline void counter_inc(struct tdpsim_counters *c, enum tdpsim_stat stat)
{
	counter_add(c, stat, 1);
}

/* Gauges go down as well as up. */
static inline void counter_sub(struct tdpsim_counters *c, enum tdpsim_stat stat,
			       uint64_t n)
{
	atomic_fetch_sub_explicit(&c->value[stat], n, memory_order_relaxed);
}

void counters_init(struct tdpsim_counters *c);

#endif /* TDPSIM_COUNTERS_H */
