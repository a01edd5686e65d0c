/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * scheduler.h - the deterministic scheduler behind `tdpsim-replay --explore`
 * (docs/concurrency.md).
 *
 * The threads of a concurrent run (one per trace actor, or a test's own)
 * are real pthreads, but a struct sched lets exactly one of them run at a
 * time. At every scheduling point the running thread asks the scheduler
 * which thread goes next, and hands over if it is another: the interleaving
 * is then a function of the decisions alone, which a seed (PCT or random
 * walk) makes and a schedule string records, so any run can be replayed.
 *
 * The model's scheduling points each cost one predictable branch when no
 * scheduler is attached (kvm->sched == NULL):
 *   mmu_lock acquire and release      lib/mmu_lock.c, kvm_mutex_lock()
 *   SPTE compare-and-swap, exchange   lib/tdp_mmu.c (the four SPTE writers)
 *   lpage_info read and write         lib/lpage_info.c
 *   memory cache top-up               lib/mmu_cache.c
 *   RCU read-side enter and exit      kvm_rcu_read_lock/unlock (observe.h)
 *   spin and retry loops (yield)      lib/mmu.c, lib/tdp_mmu.c
 *   SEAMCALL                          sched_seamcall_hook(), for the TDX code
 *
 * Blocking is modelled, never done: a thread that cannot take a lock, or
 * waits for a grace period or a barrier, is marked blocked and another
 * thread runs; a release wakes the waiters, which retry. If no thread can
 * run, the schedule deadlocked; if it takes more than max_steps decisions,
 * it livelocked. Either way the threads are left parked for good (their
 * model is abandoned, never freed) and the caller reports `progress`.
 *
 * RCU is deterministic too: with a scheduler attached, call_rcu() queues
 * the callback here, and the scheduler runs it at a point of its choosing
 * (the RCU pseudo-thread 'r' of the schedule) once every thread that was
 * inside a read-side section when it was queued has left that section.
 * synchronize_rcu() and rcu_barrier() wait for that as a blocked thread and
 * run the queue.
 *
 * Everything here is internal; the public face is tdpsim_replay_options
 * (tdpsim/replay.h) and tdpsim-replay's --explore.
 */
#ifndef TDPSIM_SCHEDULER_H
#define TDPSIM_SCHEDULER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "kvm.h"
#include "sched_lock.h"

/* Where a scheduling point is (counted per kind, see sched_points()). */
enum sched_point_kind {
	SCHED_LOCK_ACQUIRE,		/* mmu_lock or a model mutex, before */
	SCHED_LOCK_RELEASE,		/* after a release: wakes lock waiters */
	SCHED_SPTE_CMPXCHG,		/* before an SPTE compare-and-swap */
	SCHED_SPTE_XCHG,		/* before an SPTE exchange or store */
	SCHED_LPAGE_READ,		/* before an lpage_info read */
	SCHED_LPAGE_WRITE,		/* before an lpage_info write */
	SCHED_CACHE_TOPUP,		/* before a memory cache top-up */
	SCHED_RCU_ENTER,		/* just inside an RCU read-side section */
	SCHED_RCU_EXIT,			/* just after leaving one */
	SCHED_SEAMCALL,			/* SEAMCALL entry (TDX: not wired yet) */
	SCHED_YIELD,			/* a spin or retry loop: others first */
	SCHED_EVENT,			/* a replay engine event starts */
	SCHED_TEST,			/* a test's own point */
	SCHED_POINT_NR
};

/* What a blocked thread waits for. */
enum sched_wait {
	SCHED_WAIT_NONE,
	SCHED_WAIT_LOCK,		/* any lock release */
	SCHED_WAIT_RCU,			/* a read-side section ending, callbacks run */
	SCHED_WAIT_BARRIER,		/* sched_wake(SCHED_WAIT_BARRIER) */
	SCHED_WAIT_NR
};

/* How decisions are made. */
enum sched_strategy {
	SCHED_PCT,			/* priorities, depth - 1 change points */
	SCHED_RANDOM,			/* uniform among the runnable, each step */
	SCHED_PROBE,			/* non-preemptive: keep the current thread,
					 * else the lowest runnable id */
	SCHED_REPLAY,			/* a given schedule string */
};

/* The thread id the RCU pseudo-thread has in schedules ('r' in strings). */
#define SCHED_RCU_ID	UINT32_MAX

struct sched;
struct sched_schedule;

struct sched_config {
	enum sched_strategy strategy;
	uint64_t seed;			/* PCT, RANDOM */
	unsigned int depth;		/* PCT: bug depth d (d - 1 change points) */
	uint64_t pct_steps;		/* PCT: steps a schedule is expected to take
					 * (the change points fall in 1..this) */
	uint64_t max_steps;		/* livelock bound; 0: no bound */
	unsigned int watchdog;		/* seconds; 0: SCHED_WATCHDOG_SECONDS */
	const struct sched_schedule *replay; /* SCHED_REPLAY */
};

/* ---- scheduling points (the model calls these) ---- */

void __sched_point(struct sched *s, enum sched_point_kind kind);
void __sched_wait(struct sched *s, enum sched_wait wait);

/* A scheduling point of @kvm's model: no-op unless a scheduler runs it. */
static inline void sched_point(struct kvm *kvm, enum sched_point_kind kind)
{
	if (unlikely(kvm->sched))
		__sched_point(kvm->sched, kind);
}

/*
 * sched_wait() - the calling thread cannot go on until something happens
 * (@wait): let others run until it is woken and chosen again. Only with a
 * scheduler attached; callers retry what failed afterwards.
 */
static inline void sched_wait(struct kvm *kvm, enum sched_wait wait)
{
	__sched_wait(kvm->sched, wait);
}

/*
 * sched_seamcall_hook() - a tdpsim_tdx_call_hook (tdpsim/tdx_module.h) for
 * the fake TDX Module of VM @opaque (a struct kvm *): the SEAMCALL
 * scheduling point, inside the call while it holds the module's locks, so
 * another thread's SEAMCALL can meet them and answer OPERAND_BUSY. For the
 * KVM-side TDX code to install when it creates the module.
 */
void sched_seamcall_hook(void *opaque, uint32_t leaf, uint64_t status);

/* A spin or retry loop's pause: the scheduler's yield, or the OS's. */
void kvm_sched_yield(struct kvm *kvm);

/*
 * kvm_mutex_lock()/kvm_mutex_unlock() - a model mutex that may be held
 * across a scheduling point (slots_lock): with a scheduler attached it is
 * taken by a try-lock loop that blocks in the scheduler, never in the
 * kernel, and its release wakes waiters. Any mutex held across a
 * scheduling point must go through these.
 */
void kvm_mutex_lock(struct kvm *kvm, pthread_mutex_t *m);
void kvm_mutex_unlock(struct kvm *kvm, pthread_mutex_t *m);
/* sched_mutex_lock(), sched_rwlock_*lock(): the same where no struct kvm
 * is at hand (sched_lock.h). */

/* ---- the scheduler ---- */

/**
 * sched_create() - a scheduler for @nr_threads threads (ids 0..nr-1).
 * @return 0, -EINVAL, -ENOMEM
 */
int sched_create(unsigned int nr_threads, const struct sched_config *cfg,
		 struct sched **ret_sched);

/* Free @s. Only after sched_run() returned 0 and the threads ended. */
void sched_destroy(struct sched *s);

/*
 * sched_enter_main()/sched_leave_main() - the calling thread (not one of
 * the run's) builds or tears down the run's model while none of the run's
 * threads runs: its RCU calls go to @s (callbacks run at its
 * synchronize_rcu()/rcu_barrier()), its scheduling points are no-ops.
 */
void sched_enter_main(struct sched *s);
void sched_leave_main(struct sched *s);

/* Run @kvm's scheduling points through @s (set before the threads start). */
void sched_attach(struct sched *s, struct kvm *kvm);

/*
 * sched_detach() - run the RCU callbacks still queued (every thread has
 * ended, so their grace periods are over) and detach from the VM. On the
 * thread that called sched_run(), after it returned 0.
 */
void sched_detach(struct sched *s);

/*
 * sched_thread_begin() - first thing on thread @id: register with @s and
 * wait for the first turn. sched_thread_end() - last thing: give the turn
 * away for good.
 */
void sched_thread_begin(struct sched *s, unsigned int id);
void sched_thread_end(void);

/* A run that makes no decision for this long is given up (-ETIMEDOUT). */
#define SCHED_WATCHDOG_SECONDS	60

/**
 * sched_run() - once all @nr_threads threads are started: make the first
 * decision and wait until the run is over.
 * @return 0 when every thread ended; -EDEADLK when none could run (the
 *         threads are parked for good); -ELOOP when the run passed
 *         max_steps (likewise); -ETIMEDOUT when it made no decision for
 *         SCHED_WATCHDOG_SECONDS: a thread blocked outside the scheduler
 *         (a model lock not taken through the helpers above)
 */
int sched_run(struct sched *s);

/* Wake every thread waiting for @wait (by the running thread). */
void sched_wake(struct sched *s, enum sched_wait wait);

/* The thread that ran last (the one at the step bound), or -1. */
int sched_current(const struct sched *s);

/* What thread @id was doing when the run ended: false if it finished. */
bool sched_thread_waiting(const struct sched *s, unsigned int id,
			  enum sched_wait *ret_wait);

/* How many points of @kind were met. */
uint64_t sched_points(const struct sched *s, enum sched_point_kind kind);

/* A hash of the decisions: equal schedules, equal hashes. */
uint64_t sched_hash(const struct sched *s);

/*
 * sched_diverged() - SCHED_REPLAY: the step at which the given schedule
 * named a thread that could not run, or ran out while threads still ran
 * (1-based); 0 if it fit.
 */
uint64_t sched_diverged(const struct sched *s);

/**
 * sched_schedule_string() - the decisions as a schedule string: runs of
 * "ID" or "IDxCOUNT" separated by commas, ID a thread id or 'r' for the
 * RCU pseudo-thread ("0x12,1x3,r,0x40").
 * @return a malloc'd string, or NULL if memory ran out
 */
char *sched_schedule_string(const struct sched *s);

/**
 * sched_schedule_parse() - parse a schedule string for SCHED_REPLAY.
 * @return 0, -EINVAL (with a reason in @ret_why if not NULL), -ENOMEM
 */
int sched_schedule_parse(const char *str, struct sched_schedule **ret_schedule,
			 const char **ret_why);
void sched_schedule_free(struct sched_schedule *sch);
/* The highest thread id the schedule names, or -1 if it names none. */
int sched_schedule_max_id(const struct sched_schedule *sch);

/* ---- deterministic RCU (rcu.h calls these when sched_self is set) ---- */

void sched_call_rcu(struct rcu_head *head, void (*func)(struct rcu_head *head));
void sched_synchronize_rcu(void);
void sched_rcu_barrier(void);

/* ---- exploring: many schedules of one scenario ---- */

/*
 * A scenario the explorer runs once per schedule, each time on a fresh
 * model. The callbacks run on the explorer's thread, except @thread.
 */
struct sched_scenario {
	unsigned int nr_threads;
	/* Build a fresh model and sched_attach() @s to it. 0 or -errno. */
	int (*setup)(void *opaque, struct sched *s);
	/* The body of thread @id (registered with RCU and with the scheduler). */
	void (*thread)(void *opaque, unsigned int id);
	/* After the run: @ret as sched_run() returned (after sched_detach()
	 * when 0), or -EAGAIN if the threads could not all be created (none
	 * ran). Tear the model down unless @ret is -EDEADLK, -ELOOP or
	 * -ETIMEDOUT: then the threads are parked (or stuck) in it for good
	 * and it must be left alone (leaked). Return true if this schedule
	 * failed. */
	bool (*finish)(void *opaque, struct sched *s, int ret);
	void *opaque;
};

struct sched_explore_stats {
	uint64_t schedules;		/* runs, the PCT probe included */
	uint64_t distinct;		/* different schedules among them */
	uint64_t steps;			/* decisions, all runs */
};

struct sched_explore_opts {
	enum sched_strategy strategy;	/* PCT or RANDOM */
	uint64_t seed;			/* S: schedule i's seed derives from it */
	unsigned int schedules;		/* N */
	unsigned int depth;		/* PCT depth, default 3 */
	uint64_t max_steps;		/* per schedule; 0: SCHED_DEFAULT_MAX_STEPS */
	unsigned int watchdog;		/* seconds; 0: SCHED_WATCHDOG_SECONDS */
	const struct sched_schedule *replay; /* run exactly this, once */
	/* Called after each schedule, if set, with its scheduler (for
	 * sched_schedule_string(), sched_hash() ...). */
	void (*progress)(void *opaque, const struct sched_explore_stats *st,
			 const struct sched *s);
	void *progress_opaque;
};

#define SCHED_DEFAULT_DEPTH	3
#define SCHED_DEFAULT_MAX_STEPS	1000000

struct sched_explore_result {
	struct sched_explore_stats stats;
	bool failed;			/* a schedule failed */
	bool probe;			/* it was PCT's non-preemptive probe */
	uint64_t index;			/* 0-based index of the failing seeded
					 * schedule (not for the probe) */
	uint64_t seed;			/* its seed */
	char *schedule;			/* its schedule string (malloc'd, or NULL);
					 * free with free() */
	int run_ret;			/* sched_run() of the failing (or last) run */
	uint64_t diverged;		/* replay: sched_diverged() */
};

/* Seed of seeded schedule @i of an exploration with seed @seed. */
uint64_t sched_schedule_seed(uint64_t seed, uint64_t i);

/**
 * sched_explore() - run @sc under @o->schedules schedules (PCT first runs
 * one non-preemptive probe to learn how many steps a run takes), or once
 * under @o->replay; stop at the first schedule that fails.
 * @return 0 (see @ret_result->failed), or a negative errno if a run could
 *         not be set up (setup()'s error, -ENOMEM, -EAGAIN for threads)
 */
int sched_explore(const struct sched_scenario *sc, const struct sched_explore_opts *o,
		  struct sched_explore_result *ret_result);

#endif /* TDPSIM_SCHEDULER_H */
