/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * rcu.h - the only place liburcu is included. Uses the urcu-memb flavour
 * with its explicit urcu_memb_* names (the short names are undefined again
 * by urcu/map/clear.h in Debian's 0.13).
 *
 * Pointers published to RCU readers (memslots, attribute ranges) use C11
 * release stores and acquire loads rather than urcu's rcu_dereference(),
 * which ThreadSanitizer cannot see. For the same reason a read-side
 * section's end and the start of an RCU callback are annotated for TSan:
 * the grace period (membarrier) is a happens-before edge TSan cannot see.
 */
#ifndef TDPSIM_RCU_H
#define TDPSIM_RCU_H

#include <urcu/urcu-memb.h>
#include <urcu/compiler.h>

#if defined(__SANITIZE_THREAD__)
#define TDPSIM_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TDPSIM_TSAN 1
#endif
#endif

#ifdef TDPSIM_TSAN
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
/* One sync object stands for "every read-side section that has ended". */
extern char tdp_rcu_tsan_gp;
extern char tdp_rcu_tsan_cb;
#define tdp_tsan_acquire(p) __tsan_acquire(p)
#define tdp_tsan_release(p) __tsan_release(p)
#else
#define tdp_tsan_acquire(p) ((void)(p))
#define tdp_tsan_release(p) ((void)(p))
#endif

/*
 * Deterministic RCU (scheduler.h): on a thread a scheduler runs, call_rcu(),
 * synchronize_rcu() and rcu_barrier() go to the scheduler, which queues
 * callbacks and runs them at points it chooses once their grace period is
 * over, instead of liburcu's worker thread.
 */
struct sched_thread;
extern _Thread_local struct sched_thread *sched_self;
void sched_call_rcu(struct rcu_head *head, void (*func)(struct rcu_head *head));
void sched_synchronize_rcu(void);
void sched_rcu_barrier(void);

static inline void tdp_rcu_register_thread(void)
{
	urcu_memb_register_thread();
}

static inline void tdp_rcu_unregister_thread(void)
{
	urcu_memb_unregister_thread();
}

static inline void tdp_rcu_read_lock(void)
{
	urcu_memb_read_lock();
}

static inline void tdp_rcu_read_unlock(void)
{
#ifdef TDPSIM_TSAN
	tdp_tsan_release(&tdp_rcu_tsan_gp);
#endif
	urcu_memb_read_unlock();
}

static inline void tdp_call_rcu(struct rcu_head *head,
				void (*func)(struct rcu_head *head))
{
	tdp_tsan_release(head);
	if (caa_unlikely(sched_self)) {
		sched_call_rcu(head, func);
		return;
	}
	urcu_memb_call_rcu(head, func);
}

/* First thing an RCU callback does: see what its queuer and readers did. */
static inline void tdp_rcu_callback_begin(struct rcu_head *head)
{
	tdp_tsan_acquire(head);
#ifdef TDPSIM_TSAN
	tdp_tsan_acquire(&tdp_rcu_tsan_gp);
#endif
}

/*
 * Last thing an RCU callback does: publish what it wrote to whoever waits
 * in tdp_rcu_barrier() (liburcu is not TSan-instrumented, so TSan cannot
 * see that the barrier waits for the callback).
 */
static inline void tdp_rcu_callback_end(void)
{
#ifdef TDPSIM_TSAN
	tdp_tsan_release(&tdp_rcu_tsan_cb);
#endif
}

/* kvm_mmu_uninit_tdp_mmu() ends with rcu_barrier(); so does VM teardown. */
static inline void tdp_rcu_barrier(void)
{
	if (caa_unlikely(sched_self)) {
		sched_rcu_barrier();
		return;
	}
	urcu_memb_barrier();
#ifdef TDPSIM_TSAN
	tdp_tsan_acquire(&tdp_rcu_tsan_cb);
#endif
}

static inline void tdp_synchronize_rcu(void)
{
	if (caa_unlikely(sched_self)) {
		sched_synchronize_rcu();
		return;
	}
	urcu_memb_synchronize_rcu();
#ifdef TDPSIM_TSAN
	tdp_tsan_acquire(&tdp_rcu_tsan_gp);
#endif
}

#endif /* TDPSIM_RCU_H */
