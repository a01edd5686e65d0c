/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * rcu.h - the only place liburcu is included. Uses the urcu-memb flavour
 * with its explicit urcu_memb_* names (the short names are undefined again
 * by urcu/map/clear.h in Debian's 0.13).
 */
#ifndef TDPSIM_RCU_H
#define TDPSIM_RCU_H

#include <urcu/urcu-memb.h>
#include <urcu/compiler.h>

struct rcu_head;

static inline void tdp_rcu_read_lock(void)
{
	urcu_memb_read_lock();
}

static inline void tdp_rcu_read_unlock(void)
{
	urcu_memb_read_unlock();
}

static inline void tdp_call_rcu(struct rcu_head *head,
				void (*func)(struct rcu_head *head))
{
	urcu_memb_call_rcu(head, func);
}

/* kvm_mmu_uninit_tdp_mmu() ends with rcu_barrier(); so does VM teardown. */
static inline void tdp_rcu_barrier(void)
{
	urcu_memb_barrier();
}

static inline void tdp_synchronize_rcu(void)
{
	urcu_memb_synchronize_rcu();
}

#endif /* TDPSIM_RCU_H */
