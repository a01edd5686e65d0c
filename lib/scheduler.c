/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * scheduler.c - the deterministic scheduler (scheduler.h): one thread runs
 * at a time and hands over at scheduling points; decisions by PCT, random
 * walk, a non-preemptive probe or a given schedule; deterministic RCU; and
 * the explorer that runs one scenario under many schedules.
 *
 * Every field of struct sched is protected by @mu. A thread runs only
 * while s->current is its id; it waits on its own condition variable until
 * then, so a handover is one signal and the happens-before edge of @mu,
 * which is also what makes the model's plain data safe (and ThreadSanitizer
 * quiet) although it is touched by many threads.
 */
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "scheduler.h"

_Thread_local struct sched_thread *sched_self;

enum thread_state {
	TS_NEW,				/* created, not yet in sched_thread_begin() */
	TS_RUNNABLE,
	TS_BLOCKED,			/* waits for @wait */
	TS_DONE,			/* left through sched_thread_end() */
};

struct sched_thread {
	struct sched *s;
	uint32_t id;
	enum thread_state state;
	enum sched_wait wait;		/* TS_BLOCKED: what for */
	pthread_cond_t cv;		/* signalled when it gets the turn */
	int64_t prio;			/* PCT: higher runs first */
	unsigned int rcu_depth;		/* read-side nesting */
	uint64_t rcu_seq;		/* outermost sections entered so far */
	uint64_t *sync_snap;		/* synchronize_rcu(): sections to outwait */
};

/* A run of one id in a schedule. */
struct sched_run_len {
	uint32_t id;			/* thread id or SCHED_RCU_ID */
	uint32_t count;			/* >= 1 */
};

struct sched_schedule {
	struct sched_run_len *runs;
	size_t nr;
	size_t cap;
};

/* One call_rcu(). */
struct rcu_cb {
	struct rcu_cb *next;
	struct rcu_head *head;
	void (*func)(struct rcu_head *head);
};

/*
 * Callbacks queued while the read-side state stayed the same
 * (s->rcu_version): one grace period serves them all.
 */
struct rcu_batch {
	struct rcu_batch *next;
	struct rcu_cb *cbs;
	struct rcu_cb **cbs_tail;
	uint64_t version;
	uint64_t snap[];		/* per thread: rcu_seq of the section it
					 * was in, 0 if none */
};

struct sched {
	pthread_mutex_t mu;
	pthread_cond_t main_cv;		/* sched_run() waits here */
	struct sched_config cfg;
	const struct sched_scenario *sc; /* the explorer's scenario */
	struct kvm *kvm;		/* attached VM, or NULL */
	unsigned int nr;		/* threads */
	struct sched_thread *th;	/* [nr] */
	struct sched_thread main_th;	/* the explorer's thread, outside the run */
	int64_t *cand;			/* [nr + 1]: pick_random()'s scratch */
	unsigned int nr_begun;		/* threads in or past sched_thread_begin() */
	unsigned int nr_done;
	int64_t current;		/* thread with the turn, -1 none */
	int64_t last;			/* the thread that ran last */
	int ret;			/* -EDEADLK, -ELOOP once stuck */
	bool finished;			/* every thread ended */
	bool aborted;			/* threads could not all be started */
	bool in_callbacks;		/* running RCU callbacks: no decisions */
	uint64_t steps;			/* decisions made */
	uint64_t points[SCHED_POINT_NR];
	uint64_t hash;			/* of the decisions */
	struct sched_schedule rec;	/* the decisions, run-length */
	bool rec_oom;			/* @rec is incomplete */
	uint64_t rng;			/* splitmix64 state */
	/* PCT */
	uint64_t *change;		/* change points (steps), depth - 1 */
	unsigned int nr_change;
	int64_t rcu_prio;		/* the RCU pseudo-thread's priority */
	int64_t low_prio;		/* last priority handed to a yielder */
	/* SCHED_REPLAY */
	size_t rp_run;			/* run of cfg.replay being followed */
	uint32_t rp_used;		/* decisions taken from it */
	uint64_t diverged;		/* step (1-based) it stopped fitting */
	/* RCU */
	struct rcu_batch *rcu_head;	/* oldest first */
	struct rcu_batch **rcu_tail;
	struct rcu_batch *rcu_last;	/* newest, for appending */
	uint64_t rcu_version;		/* bumped when a section starts or ends */
};

#define NONE		((int64_t)-1)
#define RCU		((int64_t)SCHED_RCU_ID)

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t rand_below(struct sched *s, uint64_t n)
{
	return splitmix64(&s->rng) % n;
}

uint64_t sched_schedule_seed(uint64_t seed, uint64_t i)
{
	uint64_t x = seed ^ (i * 0xd1342543de82ef95ULL);

	return i ? splitmix64(&x) : seed;
}

/* ---- creation ---- */

int sched_create(unsigned int nr_threads, const struct sched_config *cfg,
		 struct sched **ret_sched)
{
	struct sched *s;
	unsigned int d;

	if (!nr_threads || nr_threads >= SCHED_RCU_ID || !cfg ||
	    (cfg->strategy == SCHED_REPLAY && !cfg->replay))
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->th = calloc(nr_threads, sizeof(*s->th));
	s->cand = calloc(nr_threads + 1, sizeof(*s->cand));
	if (!s->th || !s->cand)
		goto err;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->main_cv, NULL);
	s->cfg = *cfg;
	s->nr = nr_threads;
	s->current = NONE;
	s->last = NONE;
	s->hash = 0xcbf29ce484222325ULL;
	s->rng = cfg->seed;
	s->rcu_tail = &s->rcu_head;
	s->main_th.s = s;
	s->main_th.id = SCHED_RCU_ID - 1;
	s->main_th.state = TS_DONE;
	pthread_cond_init(&s->main_th.cv, NULL);
	s->main_th.sync_snap = calloc(nr_threads, sizeof(*s->main_th.sync_snap));
	if (!s->main_th.sync_snap) {
		sched_destroy(s);
		return -ENOMEM;
	}
	for (unsigned int i = 0; i < nr_threads; i++) {
		struct sched_thread *t = &s->th[i];

		t->s = s;
		t->id = i;
		t->state = TS_NEW;
		pthread_cond_init(&t->cv, NULL);
		t->sync_snap = calloc(nr_threads, sizeof(*t->sync_snap));
		if (!t->sync_snap) {
			sched_destroy(s);
			return -ENOMEM;
		}
	}
	if (cfg->strategy == SCHED_PCT) {
		/* Priorities d .. d + nr, a random permutation over the threads
		 * and the RCU pseudo-thread (index nr); change point j lowers
		 * the running thread to d - 1 - j, below every initial one. */
		int64_t *perm = calloc(nr_threads + 1, sizeof(*perm));

		d = cfg->depth ? cfg->depth : SCHED_DEFAULT_DEPTH;
		s->change = calloc(d, sizeof(*s->change));
		if (!perm || !s->change) {
			free(perm);
			sched_destroy(s);
			return -ENOMEM;
		}
		for (unsigned int i = 0; i <= nr_threads; i++)
			perm[i] = (int64_t)d + i;
		for (unsigned int i = nr_threads; i > 0; i--) {
			unsigned int j = (unsigned int)rand_below(s, i + 1);
			int64_t x = perm[i];

			perm[i] = perm[j];
			perm[j] = x;
		}
		for (unsigned int i = 0; i < nr_threads; i++)
			s->th[i].prio = perm[i];
		s->rcu_prio = perm[nr_threads];
		free(perm);
		s->nr_change = d - 1;
		for (unsigned int j = 0; j < s->nr_change; j++)
			s->change[j] = 1 + rand_below(s, cfg->pct_steps ? cfg->pct_steps : 1);
	}
	*ret_sched = s;
	return 0;

err:
	free(s->th);
	free(s->cand);
	free(s);
	return -ENOMEM;
}

static void rcu_batch_free(struct rcu_batch *b)
{
	while (b->cbs) {
		struct rcu_cb *cb = b->cbs;

		b->cbs = cb->next;
		free(cb);
	}
	free(b);
}

void sched_destroy(struct sched *s)
{
	if (!s)
		return;
	while (s->rcu_head) {
		struct rcu_batch *b = s->rcu_head;

		s->rcu_head = b->next;
		rcu_batch_free(b);
	}
	for (unsigned int i = 0; i < s->nr; i++) {
		pthread_cond_destroy(&s->th[i].cv);
		free(s->th[i].sync_snap);
	}
	pthread_cond_destroy(&s->main_th.cv);
	free(s->main_th.sync_snap);
	pthread_cond_destroy(&s->main_cv);
	pthread_mutex_destroy(&s->mu);
	free(s->rec.runs);
	free(s->change);
	free(s->th);
	free(s->cand);
	free(s);
}

void sched_attach(struct sched *s, struct kvm *kvm)
{
	s->kvm = kvm;
	kvm->sched = s;
}

/* ---- RCU bookkeeping ---- */

/* Is the grace period of a callback queued with snapshot @snap over? */
static bool snap_elapsed(const struct sched *s, const uint64_t *snap)
{
	for (unsigned int i = 0; i < s->nr; i++) {
		const struct sched_thread *t = &s->th[i];

		if (snap[i] && t->rcu_depth && t->rcu_seq == snap[i])
			return false;
	}
	return true;
}

static void take_snap(const struct sched *s, uint64_t *snap)
{
	for (unsigned int i = 0; i < s->nr; i++)
		snap[i] = s->th[i].rcu_depth ? s->th[i].rcu_seq : 0;
}

static bool rcu_ready(const struct sched *s)
{
	return s->rcu_head && snap_elapsed(s, s->rcu_head->snap);
}

static void wake(struct sched *s, enum sched_wait wait)
{
	for (unsigned int i = 0; i < s->nr; i++) {
		struct sched_thread *t = &s->th[i];

		if (t->state == TS_BLOCKED && t->wait == wait) {
			t->state = TS_RUNNABLE;
			t->wait = SCHED_WAIT_NONE;
		}
	}
}

/*
 * run_rcu() - the RCU pseudo-thread's turn: run, oldest first, the
 * callbacks whose grace period is over, on the calling thread with @mu
 * dropped (nothing else runs meanwhile: the turn stays where it is).
 */
static void run_rcu(struct sched *s)
{
	struct rcu_batch *ready = NULL, **tail = &ready;

	while (rcu_ready(s)) {
		struct rcu_batch *b = s->rcu_head;

		s->rcu_head = b->next;
		if (!s->rcu_head) {
			s->rcu_tail = &s->rcu_head;
			s->rcu_last = NULL;
		}
		b->next = NULL;
		*tail = b;
		tail = &b->next;
	}
	s->in_callbacks = true;
	pthread_mutex_unlock(&s->mu);
	while (ready) {
		struct rcu_batch *b = ready;

		ready = b->next;
		for (struct rcu_cb *cb = b->cbs; cb; cb = cb->next)
			cb->func(cb->head);
		rcu_batch_free(b);
	}
	pthread_mutex_lock(&s->mu);
	s->in_callbacks = false;
	/* rcu_barrier() waits for the queue, not only for sections. */
	wake(s, SCHED_WAIT_RCU);
}

/* ---- decisions ---- */

static bool runnable(const struct sched *s, int64_t id)
{
	return id >= 0 && id < (int64_t)s->nr && s->th[id].state == TS_RUNNABLE;
}

static bool candidate(const struct sched *s, int64_t id, bool rcu)
{
	return id == RCU ? rcu : runnable(s, id);
}

/* The next id of the schedule being replayed, or NONE past its end. */
static int64_t replay_next(struct sched *s)
{
	const struct sched_schedule *r = s->cfg.replay;
	uint32_t id;

	if (s->rp_run >= r->nr)
		return NONE;
	id = r->runs[s->rp_run].id;
	if (++s->rp_used == r->runs[s->rp_run].count) {
		s->rp_run++;
		s->rp_used = 0;
	}
	return id == SCHED_RCU_ID ? RCU : (int64_t)id;
}

/* The probe's choice: the current thread, else the lowest runnable id. */
static int64_t pick_probe(struct sched *s, int64_t me, bool yield, bool rcu)
{
	if (!yield && runnable(s, me))
		return me;
	for (unsigned int i = 0; i < s->nr; i++)
		if (runnable(s, i) && (int64_t)i != me)
			return i;
	if (runnable(s, me))
		return me;
	return rcu ? RCU : NONE;
}

static int64_t pick_random(struct sched *s, int64_t me, bool yield, bool rcu)
{
	int64_t *cand = s->cand;
	unsigned int n = 0;
	bool others = false;

	for (unsigned int i = 0; i < s->nr; i++)
		if (runnable(s, i) && (int64_t)i != me)
			others = true;
	for (unsigned int i = 0; i < s->nr; i++) {
		if (!runnable(s, i))
			continue;
		/* A yielding thread steps aside if anyone else can run. */
		if (yield && (int64_t)i == me && (others || rcu))
			continue;
		cand[n++] = i;
	}
	if (rcu)
		cand[n++] = RCU;
	if (!n)
		return NONE;
	return cand[rand_below(s, n)];
}

static int64_t pick_pct(struct sched *s, bool rcu)
{
	int64_t best = NONE, best_prio = INT64_MIN;

	for (unsigned int i = 0; i < s->nr; i++) {
		if (runnable(s, i) && s->th[i].prio > best_prio) {
			best = i;
			best_prio = s->th[i].prio;
		}
	}
	if (rcu && s->rcu_prio > best_prio)
		best = RCU;
	return best;
}

static void record(struct sched *s, int64_t id)
{
	struct sched_schedule *r = &s->rec;
	uint32_t v = id == RCU ? SCHED_RCU_ID : (uint32_t)id;

	s->hash = (s->hash ^ ((uint64_t)v + 1)) * 0x100000001b3ULL;
	if (r->nr && r->runs[r->nr - 1].id == v && r->runs[r->nr - 1].count < UINT32_MAX) {
		r->runs[r->nr - 1].count++;
		return;
	}
	if (r->nr == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 64;
		struct sched_run_len *n = realloc(r->runs, cap * sizeof(*n));

		if (!n) {
			s->rec_oom = true;
			return;
		}
		r->runs = n;
		r->cap = cap;
	}
	r->runs[r->nr++] = (struct sched_run_len){ .id = v, .count = 1 };
}

/*
 * decide() - make the next decision for thread @me (NONE from sched_run())
 * at a point (@yield: it spins and wants the others to go first). Runs the
 * RCU pseudo-thread's turns itself. Returns the thread to run, NONE if no
 * thread can, or -ELOOP past the step bound.
 */
static int64_t decide(struct sched *s, int64_t me, bool yield)
{
	/* PCT: a spinning thread goes below everyone seen so far. */
	if (s->cfg.strategy == SCHED_PCT && me >= 0 && yield)
		s->th[me].prio = --s->low_prio;
	for (;;) {
		bool rcu = !s->in_callbacks && rcu_ready(s);
		int64_t next = NONE;

		if (s->cfg.max_steps && s->steps >= s->cfg.max_steps)
			return -ELOOP;
		/* PCT: at change point j the running thread drops to
		 * nr_change - j, below every initial priority. */
		if (s->cfg.strategy == SCHED_PCT && me >= 0)
			for (unsigned int j = 0; j < s->nr_change; j++)
				if (s->change[j] == s->steps + 1)
					s->th[me].prio = (int64_t)s->nr_change - j;
		switch (s->cfg.strategy) {
		case SCHED_REPLAY:
			if (!s->diverged) {
				int64_t want;

				if (!rcu && pick_probe(s, me, false, false) == NONE)
					return NONE;	/* the run is over */
				want = replay_next(s);
				if (want != NONE && candidate(s, want, rcu)) {
					next = want;
					break;
				}
				s->diverged = s->steps + 1;
			}
			next = pick_probe(s, me, yield, rcu);
			break;
		case SCHED_PROBE:
			next = pick_probe(s, me, yield, rcu);
			break;
		case SCHED_RANDOM:
			next = pick_random(s, me, yield, rcu);
			break;
		case SCHED_PCT:
			next = pick_pct(s, rcu);
			break;
		}
		if (next == NONE)
			return NONE;
		s->steps++;
		record(s, next);
		if (next != RCU)
			return next;
		run_rcu(s);
	}
}

/*
 * hand_over() - give the turn to @next (unless it is @me) and wait until
 * @me has it again. @mu held.
 */
static void hand_over(struct sched *s, struct sched_thread *me, int64_t next)
{
	if (next != (int64_t)me->id) {
		s->current = next;
		pthread_cond_signal(&s->th[next].cv);
	}
	while (s->current != (int64_t)me->id)
		pthread_cond_wait(&me->cv, &s->mu);
	s->last = me->id;
}

/* No way on: tell sched_run() and park the calling thread for good. */
static __attribute__((noreturn)) void park(struct sched *s, struct sched_thread *me,
					   int err)
{
	if (!s->ret) {
		s->ret = err;
		s->last = me->id;
	}
	s->current = NONE;
	pthread_cond_signal(&s->main_cv);
	for (;;)
		pthread_cond_wait(&me->cv, &s->mu);
}

/* decide() and hand over, or park if the run is stuck. @mu held. */
static void reschedule(struct sched *s, struct sched_thread *me, bool yield)
{
	int64_t next;

	/* The watchdog gave up on this run while we were away. */
	if (s->ret)
		park(s, me, s->ret);
	next = decide(s, me->id, yield);

	if (next < 0)
		park(s, me, next == -ELOOP ? -ELOOP : -EDEADLK);
	hand_over(s, me, next);
}

static struct sched_thread *self_in(struct sched *s)
{
	struct sched_thread *me = sched_self;

	return me && me->s == s ? me : NULL;
}

void __sched_point(struct sched *s, enum sched_point_kind kind)
{
	struct sched_thread *me = self_in(s);

	/* Only the scheduler's threads run the model while it is attached;
	 * the explorer's own thread runs it before and after, alone. */
	if (!me || me == &s->main_th)
		return;
	pthread_mutex_lock(&s->mu);
	s->points[kind]++;
	switch (kind) {
	case SCHED_LOCK_RELEASE:
		wake(s, SCHED_WAIT_LOCK);
		break;
	case SCHED_RCU_ENTER:
		if (me->rcu_depth++ == 0) {
			me->rcu_seq++;
			s->rcu_version++;
		}
		break;
	case SCHED_RCU_EXIT:
		if (TDPSIM_WARN_ON_ONCE(!me->rcu_depth))
			break;
		if (--me->rcu_depth == 0) {
			s->rcu_version++;
			wake(s, SCHED_WAIT_RCU);
		}
		break;
	default:
		break;
	}
	if (!s->in_callbacks)
		reschedule(s, me, kind == SCHED_YIELD);
	pthread_mutex_unlock(&s->mu);
}

/* Block @me until woken for @wait and chosen again. @mu held. */
static void block(struct sched *s, struct sched_thread *me, enum sched_wait wait)
{
	me->state = TS_BLOCKED;
	me->wait = wait;
	reschedule(s, me, false);
}

void __sched_wait(struct sched *s, enum sched_wait wait)
{
	struct sched_thread *me = self_in(s);

	if (!me || me == &s->main_th) {
		sched_yield();
		return;
	}
	pthread_mutex_lock(&s->mu);
	block(s, me, wait);
	pthread_mutex_unlock(&s->mu);
}

void sched_wake(struct sched *s, enum sched_wait wait)
{
	pthread_mutex_lock(&s->mu);
	wake(s, wait);
	pthread_mutex_unlock(&s->mu);
}

void kvm_sched_yield(struct kvm *kvm)
{
	if (kvm->sched)
		__sched_point(kvm->sched, SCHED_YIELD);
	else
		sched_yield();
}

void kvm_mutex_lock(struct kvm *kvm, pthread_mutex_t *m)
{
	if (likely(!kvm->sched)) {
		pthread_mutex_lock(m);
		return;
	}
	__sched_point(kvm->sched, SCHED_LOCK_ACQUIRE);
	while (pthread_mutex_trylock(m))
		__sched_wait(kvm->sched, SCHED_WAIT_LOCK);
}

void kvm_mutex_unlock(struct kvm *kvm, pthread_mutex_t *m)
{
	pthread_mutex_unlock(m);
	sched_point(kvm, SCHED_LOCK_RELEASE);
}

void sched_seamcall_hook(void *opaque, uint32_t leaf, uint64_t status)
{
	(void)leaf;
	(void)status;
	sched_point(opaque, SCHED_SEAMCALL);
}

/* The scheduler running the calling thread, or NULL (also its explorer). */
static struct sched *my_sched(void)
{
	struct sched_thread *me = sched_self;

	return me && me != &me->s->main_th ? me->s : NULL;
}

void sched_mutex_lock(pthread_mutex_t *m)
{
	struct sched *s = my_sched();

	if (likely(!s)) {
		pthread_mutex_lock(m);
		return;
	}
	__sched_point(s, SCHED_LOCK_ACQUIRE);
	while (pthread_mutex_trylock(m))
		__sched_wait(s, SCHED_WAIT_LOCK);
}

void sched_mutex_unlock(pthread_mutex_t *m)
{
	struct sched *s = my_sched();

	pthread_mutex_unlock(m);
	if (s)
		__sched_point(s, SCHED_LOCK_RELEASE);
}

void sched_rwlock_rdlock(pthread_rwlock_t *l)
{
	struct sched *s = my_sched();

	if (likely(!s)) {
		pthread_rwlock_rdlock(l);
		return;
	}
	__sched_point(s, SCHED_LOCK_ACQUIRE);
	while (pthread_rwlock_tryrdlock(l))
		__sched_wait(s, SCHED_WAIT_LOCK);
}

void sched_rwlock_wrlock(pthread_rwlock_t *l)
{
	struct sched *s = my_sched();

	if (likely(!s)) {
		pthread_rwlock_wrlock(l);
		return;
	}
	__sched_point(s, SCHED_LOCK_ACQUIRE);
	while (pthread_rwlock_trywrlock(l))
		__sched_wait(s, SCHED_WAIT_LOCK);
}

void sched_rwlock_unlock(pthread_rwlock_t *l)
{
	struct sched *s = my_sched();

	pthread_rwlock_unlock(l);
	if (s)
		__sched_point(s, SCHED_LOCK_RELEASE);
}

/* ---- threads and the run ---- */

void sched_thread_begin(struct sched *s, unsigned int id)
{
	struct sched_thread *me = &s->th[id];

	sched_self = me;
	pthread_mutex_lock(&s->mu);
	me->state = TS_RUNNABLE;
	s->nr_begun++;
	pthread_cond_signal(&s->main_cv);
	while (s->current != (int64_t)id && !s->aborted)
		pthread_cond_wait(&me->cv, &s->mu);
	pthread_mutex_unlock(&s->mu);
}

void sched_thread_end(void)
{
	struct sched_thread *me = sched_self;
	struct sched *s = me->s;
	int64_t next;

	pthread_mutex_lock(&s->mu);
	TDPSIM_WARN_ON_ONCE(me->rcu_depth);
	me->state = TS_DONE;
	s->nr_done++;
	if (!s->ret)
		s->last = me->id;
	/* Aborted before the start, or given up by the watchdog: the turn
	 * goes nowhere. */
	if (s->aborted || s->ret) {
		pthread_cond_signal(&s->main_cv);
		goto out;
	}
	next = decide(s, me->id, false);
	if (next >= 0) {
		s->current = next;
		pthread_cond_signal(&s->th[next].cv);
		goto out;
	}
	s->current = NONE;
	if (next == -ELOOP)
		s->ret = -ELOOP;
	else if (s->nr_done == s->nr)
		s->finished = true;
	else
		s->ret = -EDEADLK;
	pthread_cond_signal(&s->main_cv);
out:
	pthread_mutex_unlock(&s->mu);
	sched_self = NULL;
}

int sched_run(struct sched *s)
{
	int64_t next;
	int ret;

	pthread_mutex_lock(&s->mu);
	while (s->nr_begun < s->nr)
		pthread_cond_wait(&s->main_cv, &s->mu);
	next = decide(s, NONE, false);
	if (next < 0) {
		s->ret = -EDEADLK;
	} else {
		s->current = next;
		pthread_cond_signal(&s->th[next].cv);
	}
	/*
	 * The watchdog: a run that makes no decision for this long has a
	 * thread blocked outside the scheduler (a lock taken with pthread_*
	 * rather than the sched_* helpers while another holds it across a
	 * scheduling point): give up on it rather than hang.
	 */
	{
		uint64_t seen = s->steps;
		unsigned int idle = 0;

		while (!s->finished && !s->ret) {
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += 1;
			if (pthread_cond_timedwait(&s->main_cv, &s->mu, &ts) != ETIMEDOUT)
				continue;
			if (s->steps != seen || s->in_callbacks) {
				seen = s->steps;
				idle = 0;
			} else if (++idle >= (s->cfg.watchdog ? s->cfg.watchdog :
							 SCHED_WATCHDOG_SECONDS)) {
				s->ret = -ETIMEDOUT;
				s->last = s->current;
			}
		}
	}
	/* A replayed schedule longer than the run does not fit either. */
	if (s->cfg.strategy == SCHED_REPLAY && !s->ret && !s->diverged &&
	    s->rp_run < s->cfg.replay->nr)
		s->diverged = s->steps + 1;
	ret = s->ret;
	pthread_mutex_unlock(&s->mu);
	return ret;
}

/* Threads that could not all be created: let the started ones go. */
static void sched_abort(struct sched *s)
{
	pthread_mutex_lock(&s->mu);
	s->aborted = true;
	for (unsigned int i = 0; i < s->nr; i++)
		pthread_cond_signal(&s->th[i].cv);
	pthread_mutex_unlock(&s->mu);
}

void sched_detach(struct sched *s)
{
	pthread_mutex_lock(&s->mu);
	while (rcu_ready(s))
		run_rcu(s);
	/* Every thread ended: nothing can be left waiting for one. */
	TDPSIM_WARN_ON_ONCE(s->rcu_head);
	if (s->kvm)
		s->kvm->sched = NULL;
	s->kvm = NULL;
	pthread_mutex_unlock(&s->mu);
}

void sched_enter_main(struct sched *s)
{
	sched_self = &s->main_th;
}

void sched_leave_main(struct sched *s)
{
	if (sched_self != &s->main_th)
		return;
	/* What the tear-down queued and did not wait for runs now: no thread
	 * of the run is in a section any more (unless it is parked in one,
	 * and then its callbacks wait for ever, with the rest of its VM). */
	pthread_mutex_lock(&s->mu);
	while (rcu_ready(s))
		run_rcu(s);
	pthread_mutex_unlock(&s->mu);
	sched_self = NULL;
}

int sched_current(const struct sched *s)
{
	return (int)s->last;
}

bool sched_thread_waiting(const struct sched *s, unsigned int id,
			  enum sched_wait *ret_wait)
{
	const struct sched_thread *t = &s->th[id];

	if (t->state == TS_DONE)
		return false;
	*ret_wait = t->state == TS_BLOCKED ? t->wait : SCHED_WAIT_NONE;
	return true;
}

uint64_t sched_points(const struct sched *s, enum sched_point_kind kind)
{
	return s->points[kind];
}

uint64_t sched_hash(const struct sched *s)
{
	return s->hash;
}

uint64_t sched_diverged(const struct sched *s)
{
	return s->diverged;
}

/* ---- deterministic RCU ---- */

void sched_call_rcu(struct rcu_head *head, void (*func)(struct rcu_head *head))
{
	struct sched *s = sched_self->s;
	struct rcu_cb *cb = malloc(sizeof(*cb));
	struct rcu_batch *b;

	if (TDPSIM_WARN_ON_ONCE(!cb))
		return;		/* out of memory: leak the object */
	cb->next = NULL;
	cb->head = head;
	cb->func = func;
	pthread_mutex_lock(&s->mu);
	b = s->rcu_last;
	if (!b || b->version != s->rcu_version) {
		b = malloc(sizeof(*b) + s->nr * sizeof(b->snap[0]));
		if (TDPSIM_WARN_ON_ONCE(!b)) {
			pthread_mutex_unlock(&s->mu);
			free(cb);
			return;
		}
		b->next = NULL;
		b->cbs = NULL;
		b->cbs_tail = &b->cbs;
		b->version = s->rcu_version;
		take_snap(s, b->snap);
		*s->rcu_tail = b;
		s->rcu_tail = &b->next;
		s->rcu_last = b;
	}
	*b->cbs_tail = cb;
	b->cbs_tail = &cb->next;
	pthread_mutex_unlock(&s->mu);
}

void sched_synchronize_rcu(void)
{
	struct sched_thread *me = sched_self;
	struct sched *s = me->s;

	pthread_mutex_lock(&s->mu);
	/* Inside a read-side section this waits for itself: a deadlock,
	 * which the scheduler reports, as the kernel would hang. */
	take_snap(s, me->sync_snap);
	while (!snap_elapsed(s, me->sync_snap)) {
		/* The explorer's thread runs only while the others are
		 * stopped outside any section. */
		if (TDPSIM_WARN_ON_ONCE(me == &s->main_th))
			break;
		block(s, me, SCHED_WAIT_RCU);
	}
	if (rcu_ready(s) && !s->in_callbacks)
		run_rcu(s);
	pthread_mutex_unlock(&s->mu);
}

void sched_rcu_barrier(void)
{
	struct sched_thread *me = sched_self;
	struct sched *s = me->s;

	pthread_mutex_lock(&s->mu);
	while (s->rcu_head && !s->in_callbacks) {
		if (rcu_ready(s))
			run_rcu(s);
		else if (TDPSIM_WARN_ON_ONCE(me == &s->main_th))
			break;
		else
			block(s, me, SCHED_WAIT_RCU);
	}
	pthread_mutex_unlock(&s->mu);
}

/* ---- schedule strings ---- */

char *sched_schedule_string(const struct sched *s)
{
	const struct sched_schedule *r = &s->rec;
	size_t cap = 16 * r->nr + 1, len = 0;
	char *buf;

	if (s->rec_oom)
		return NULL;
	buf = malloc(cap);
	if (!buf)
		return NULL;
	buf[0] = '\0';
	for (size_t i = 0; i < r->nr; i++) {
		const char *sep = i ? "," : "";

		if (r->runs[i].id == SCHED_RCU_ID)
			len += (size_t)snprintf(buf + len, cap - len, "%sr", sep);
		else
			len += (size_t)snprintf(buf + len, cap - len, "%s%" PRIu32, sep,
						r->runs[i].id);
		if (r->runs[i].count > 1)
			len += (size_t)snprintf(buf + len, cap - len, "x%" PRIu32,
						r->runs[i].count);
	}
	return buf;
}

/* A decimal number without sign or leading zeros, < 2^32. */
static int parse_u32(const char **p, uint32_t *ret)
{
	const char *q = *p;
	uint64_t v = 0;

	if (*q < '0' || *q > '9' || (*q == '0' && q[1] >= '0' && q[1] <= '9'))
		return -EINVAL;
	for (; *q >= '0' && *q <= '9'; q++) {
		v = v * 10 + (uint64_t)(*q - '0');
		if (v >= UINT32_MAX)
			return -EINVAL;
	}
	*p = q;
	*ret = (uint32_t)v;
	return 0;
}

int sched_schedule_parse(const char *str, struct sched_schedule **ret_schedule,
			 const char **ret_why)
{
	struct sched_schedule *sch;
	const char *p = str;
	const char *why = NULL;

	if (!str || !*str) {
		why = "it is empty";
		goto bad_nomem;
	}
	sch = calloc(1, sizeof(*sch));
	if (!sch)
		return -ENOMEM;
	for (;;) {
		struct sched_run_len run = { .count = 1 };

		if (*p == 'r') {
			run.id = SCHED_RCU_ID;
			p++;
		} else if (parse_u32(&p, &run.id)) {
			why = "expected a thread id or 'r'";
			goto bad;
		}
		if (*p == 'x') {
			p++;
			if (parse_u32(&p, &run.count) || !run.count) {
				why = "expected a count of at least 1 after 'x'";
				goto bad;
			}
		}
		if (sch->nr == sch->cap) {
			size_t cap = sch->cap ? 2 * sch->cap : 64;
			struct sched_run_len *n = realloc(sch->runs, cap * sizeof(*n));

			if (!n) {
				sched_schedule_free(sch);
				return -ENOMEM;
			}
			sch->runs = n;
			sch->cap = cap;
		}
		sch->runs[sch->nr++] = run;
		if (!*p)
			break;
		if (*p != ',') {
			why = "expected ',' between runs";
			goto bad;
		}
		p++;
	}
	*ret_schedule = sch;
	return 0;

bad:
	sched_schedule_free(sch);
bad_nomem:
	if (ret_why)
		*ret_why = why;
	return -EINVAL;
}

void sched_schedule_free(struct sched_schedule *sch)
{
	if (!sch)
		return;
	free(sch->runs);
	free(sch);
}

int sched_schedule_max_id(const struct sched_schedule *sch)
{
	int max = -1;

	for (size_t i = 0; i < sch->nr; i++)
		if (sch->runs[i].id != SCHED_RCU_ID && (int)sch->runs[i].id > max)
			max = (int)sch->runs[i].id;
	return max;
}

/* ---- the explorer ---- */

static void *trampoline(void *arg)
{
	struct sched_thread *t = arg;
	struct sched *s = t->s;
	bool go;

	tdp_rcu_register_thread();
	sched_thread_begin(s, t->id);
	pthread_mutex_lock(&s->mu);
	go = !s->aborted;
	pthread_mutex_unlock(&s->mu);
	if (go)
		s->sc->thread(s->sc->opaque, t->id);
	sched_thread_end();
	tdp_rcu_unregister_thread();
	return NULL;
}

/* What one run told the explorer. */
struct run_out {
	bool failed;
	int ret;
	uint64_t steps;
	uint64_t hash;
	uint64_t diverged;
	char *schedule;			/* if failed */
};

/* A set of schedule hashes (open addressing, 0 stands for 0's slot). */
struct hash_set {
	uint64_t *v;
	size_t cap;
	size_t nr;
	bool zero;
};

static bool hash_set_add(struct hash_set *h, uint64_t x)
{
	if (!x) {
		bool had = h->zero;

		h->zero = true;
		if (!had)
			h->nr++;
		return !had;
	}
	if (2 * (h->nr + 1) > h->cap) {
		size_t cap = h->cap ? 2 * h->cap : 256;
		uint64_t *v = calloc(cap, sizeof(*v));

		if (!v)
			return false;
		for (size_t i = 0; i < h->cap; i++) {
			size_t j;

			if (!h->v[i])
				continue;
			for (j = h->v[i] & (cap - 1); v[j]; j = (j + 1) & (cap - 1))
				;
			v[j] = h->v[i];
		}
		free(h->v);
		h->v = v;
		h->cap = cap;
	}
	for (size_t j = x & (h->cap - 1);; j = (j + 1) & (h->cap - 1)) {
		if (h->v[j] == x)
			return false;
		if (!h->v[j]) {
			h->v[j] = x;
			h->nr++;
			return true;
		}
	}
}

static int run_one(const struct sched_scenario *sc, const struct sched_config *cfg,
		   const struct sched_explore_opts *o, struct sched_explore_stats *st,
		   struct hash_set *seen, struct run_out *out)
{
	pthread_t *tids;
	struct sched *s;
	unsigned int started = 0;
	int ret;

	memset(out, 0, sizeof(*out));
	tids = calloc(sc->nr_threads, sizeof(*tids));
	if (!tids)
		return -ENOMEM;
	ret = sched_create(sc->nr_threads, cfg, &s);
	if (ret)
		goto out_free;
	s->sc = sc;
	/* Set-up and tear-down use the scheduler's RCU too: no waiting for
	 * liburcu's callback thread, which polls every 10 ms. */
	sched_enter_main(s);
	ret = sc->setup(sc->opaque, s);
	if (ret) {
		sched_leave_main(s);
		sched_destroy(s);
		goto out_free;
	}
	for (; started < sc->nr_threads; started++)
		if (pthread_create(&tids[started], NULL, trampoline, &s->th[started]))
			break;
	if (started < sc->nr_threads) {
		sched_abort(s);
		for (unsigned int i = 0; i < started; i++)
			pthread_join(tids[i], NULL);
		sched_detach(s);
		sc->finish(sc->opaque, s, -EAGAIN);
		sched_leave_main(s);
		sched_destroy(s);
		ret = -EAGAIN;
		goto out_free;
	}
	out->ret = sched_run(s);
	/* -ETIMEDOUT: the thread that held the turn is still out there. */
	if (!out->ret) {
		for (unsigned int i = 0; i < started; i++)
			pthread_join(tids[i], NULL);
		sched_detach(s);
	} else {
		/* Stuck: the threads stay parked in their model for good. */
		for (unsigned int i = 0; i < started; i++)
			pthread_detach(tids[i]);
	}
	out->failed = sc->finish(sc->opaque, s, out->ret);
	sched_leave_main(s);
	out->steps = s->steps;
	out->hash = s->hash;
	out->diverged = s->diverged;
	if (out->failed)
		out->schedule = sched_schedule_string(s);
	st->schedules++;
	st->steps += s->steps;
	if (hash_set_add(seen, s->hash))
		st->distinct = seen->nr;
	if (o->progress)
		o->progress(o->progress_opaque, st, s);
	if (!out->ret)
		sched_destroy(s);
	ret = 0;
out_free:
	free(tids);
	return ret;
}

int sched_explore(const struct sched_scenario *sc, const struct sched_explore_opts *o,
		  struct sched_explore_result *ret_result)
{
	struct sched_explore_result *res = ret_result;
	struct hash_set seen = { 0 };
	struct sched_config cfg = { 0 };
	struct run_out out;
	int ret = 0;

	if (!sc || !o || !res || !sc->nr_threads || !sc->setup || !sc->thread ||
	    !sc->finish)
		return -EINVAL;
	memset(res, 0, sizeof(*res));
	cfg.depth = o->depth ? o->depth : SCHED_DEFAULT_DEPTH;
	cfg.max_steps = o->max_steps ? o->max_steps : SCHED_DEFAULT_MAX_STEPS;
	cfg.watchdog = o->watchdog;

	if (o->replay) {
		cfg.strategy = SCHED_REPLAY;
		cfg.replay = o->replay;
		ret = run_one(sc, &cfg, o, &res->stats, &seen, &out);
		if (ret)
			goto out;
		res->failed = out.failed;
		res->schedule = out.schedule;
		res->run_ret = out.ret;
		res->diverged = out.diverged;
		goto out;
	}

	if (o->strategy == SCHED_PCT) {
		/* The probe: how many steps does a run take? */
		cfg.strategy = SCHED_PROBE;
		ret = run_one(sc, &cfg, o, &res->stats, &seen, &out);
		if (ret)
			goto out;
		res->run_ret = out.ret;
		if (out.failed) {
			res->failed = true;
			res->probe = true;
			res->schedule = out.schedule;
			goto out;
		}
		cfg.pct_steps = out.steps ? out.steps : 1;
	}
	cfg.strategy = o->strategy;
	for (uint64_t i = 0; i < o->schedules; i++) {
		cfg.seed = sched_schedule_seed(o->seed, i);
		ret = run_one(sc, &cfg, o, &res->stats, &seen, &out);
		if (ret)
			goto out;
		res->run_ret = out.ret;
		if (out.failed) {
			res->failed = true;
			res->index = i;
			res->seed = cfg.seed;
			res->schedule = out.schedule;
			break;
		}
	}
out:
	free(seen.v);
	return ret;
}
