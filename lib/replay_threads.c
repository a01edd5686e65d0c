/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * replay_threads.c - concurrent replay (docs/concurrency.md): every actor
 * of a trace (vcpuN, vmm, vmmN, host) runs its own records in file order
 * on its own thread, really concurrently (TDPSIM_REPLAY_THREADS) or one at
 * a time under the deterministic scheduler, schedule after schedule
 * (TDPSIM_REPLAY_EXPLORE, scheduler.h).
 *
 * Synchronisation records: `barrier`, `check` and `destroy` are met by
 * every actor (a `check` or a `destroy` running while other actors are
 * half-way through an event would see, or free, state in flight). The
 * actor that owns the record waits until all have arrived, runs it (the
 * quiescent check, the full check, the teardown) and lets them go.
 *
 * Each actor has its own struct replay (replay_internal.h) over the shared
 * trace, VM, checker and per-record results, so events, expectations and
 * their tallies need no lock. Violations go to the actor whose thread
 * raised them, for its current event (a thread-local says who that is);
 * ones raised elsewhere (liburcu's callback thread) wait in @orphans for
 * the next synchronisation record or the end. An actor settles its event's
 * violations against the `expect violation` records of its own that follow
 * it, before its next event. The end is quiescent: a full check, owned by
 * the last event of the file, then every actor's last event is settled.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvm.h"
#include "replay_internal.h"
#include "scheduler.h"

struct run;

/* One actor: a thread, and its own view of the replay. */
struct actor {
	struct run *run;
	unsigned int id;		/* thread id, index in run->actors */
	struct replay r;		/* its tallies, its violations */
	struct tdpsim_replay_result res; /* r.res */
	size_t last;			/* its last event so far, or TRACE_NO_EVENT */
	unsigned int line;		/* line of the record it is at */
	pthread_t thread;		/* THREADS */
};

/* One run of the trace: a fresh VM, its checker, a thread per actor. */
struct run {
	struct engine *e;
	struct replay base;		/* vm, checker, policy, results */
	struct tdpsim_replay_result tally; /* base.res */
	struct actor *actors;		/* [e->nr] */
	struct sched *sched;		/* EXPLORE: this run's scheduler */
	pthread_mutex_t lock;		/* orphans, mark, the THREADS barrier */
	pthread_cond_t cond;		/* THREADS barrier */
	unsigned int arrived;		/* actors at the current sync record */
	uint64_t gen;			/* sync records passed */
	struct tdpsim_snapshot mark;	/* the last `mark` */
	bool have_mark;
	bool destroyed;			/* `destroy` ran */
	int go;				/* THREADS: 0 wait, 1 run, -1 give up */
	struct replay orphans;		/* violations raised off actor threads */
};

/* A diagnostic of the schedule being explored, kept until its verdict. */
struct kept_diag {
	enum tdpsim_diag_kind kind;
	unsigned int line;
	unsigned int column;
	char *id;
	char *message;
	bool expected;
};

struct engine {
	struct replay *r;		/* the caller's: trace, options, result */
	const struct trace *t;
	unsigned int nr;		/* actors */
	char (*name)[8];		/* [nr]: "vcpu0", "vmm3", "host" */
	unsigned int *rec_actor;	/* [t->nr_records]: owner's thread id */
	struct tdpsim_replay_options opts; /* r->opts, diagnostics through us */
	pthread_mutex_t diag_lock;	/* serialises diagnostics */
	bool keep;			/* EXPLORE: keep them per schedule */
	struct kept_diag *kept;
	size_t nr_kept;
	size_t cap_kept;
	bool kept_oom;
	struct run *cur;		/* EXPLORE: the schedule being run */
	struct tdpsim_replay_result last; /* the latest run's result */
	bool last_internal;
	bool last_oom;
	bool setup_failed;		/* a run could not be set up */
};

/* The actor this thread runs (NULL off the actor threads). */
static _Thread_local struct actor *tl_actor;

static bool is_sync(enum trace_verb v)
{
	return v == TRACE_BARRIER || v == TRACE_CHECK || v == TRACE_DESTROY;
}

/* ---- diagnostics ---- */

static void kept_free(struct engine *e)
{
	for (size_t i = 0; i < e->nr_kept; i++) {
		free(e->kept[i].id);
		free(e->kept[i].message);
	}
	e->nr_kept = 0;
}

static void engine_diag(void *opaque, const struct tdpsim_diag *d)
{
	struct engine *e = opaque;
	const struct tdpsim_replay_options *user = e->r->opts;
	struct kept_diag *k;

	pthread_mutex_lock(&e->diag_lock);
	if (!e->keep) {
		if (user->diag)
			user->diag(user->diag_opaque, d);
		goto out;
	}
	if (e->nr_kept == e->cap_kept) {
		size_t cap = e->cap_kept ? 2 * e->cap_kept : 16;
		struct kept_diag *n = realloc(e->kept, cap * sizeof(*n));

		if (!n) {
			e->kept_oom = true;
			goto out;
		}
		e->kept = n;
		e->cap_kept = cap;
	}
	k = &e->kept[e->nr_kept];
	k->kind = d->kind;
	k->line = d->line;
	k->column = d->column;
	k->expected = d->expected;
	k->id = d->id ? strdup(d->id) : NULL;
	k->message = strdup(d->message ? d->message : "");
	if ((d->id && !k->id) || !k->message) {
		free(k->id);
		free(k->message);
		e->kept_oom = true;
		goto out;
	}
	e->nr_kept++;
out:
	pthread_mutex_unlock(&e->diag_lock);
}

/* Hand the kept diagnostics to the caller. */
static void kept_flush(struct engine *e)
{
	const struct tdpsim_replay_options *user = e->r->opts;

	for (size_t i = 0; i < e->nr_kept && user->diag; i++) {
		const struct kept_diag *k = &e->kept[i];
		struct tdpsim_diag d = {
			.kind = k->kind,
			.file = e->t->name,
			.line = k->line,
			.column = k->column,
			.id = k->id,
			.message = k->message,
			.expected = k->expected,
		};

		user->diag(user->diag_opaque, &d);
	}
	kept_free(e);
}

/* A note of any length, straight to the caller. */
static void note(struct engine *e, const char *msg)
{
	const struct tdpsim_replay_options *user = e->r->opts;
	struct tdpsim_diag d = {
		.kind = TDPSIM_DIAG_NOTE,
		.file = e->t->name,
		.message = msg,
	};

	if (user->diag)
		user->diag(user->diag_opaque, &d);
}

/* ---- violations ---- */

static void run_on_violation(void *opaque, const struct tdpsim_violation *v)
{
	struct run *run = opaque;
	struct actor *a = tl_actor;

	if (a && a->run == run) {
		replay_on_violation(&a->r, v);
		return;
	}
	pthread_mutex_lock(&run->lock);
	replay_on_violation(&run->orphans, v);
	pthread_mutex_unlock(&run->lock);
}

/* Move the violations raised off the actor threads to @to. */
static void take_orphans(struct run *run, struct replay *to)
{
	pthread_mutex_lock(&run->lock);
	for (size_t i = 0; i < run->orphans.nr_raised; i++) {
		struct raised *n;

		if (to->nr_raised == to->cap_raised) {
			size_t cap = to->cap_raised ? 2 * to->cap_raised : 8;

			n = realloc(to->raised, cap * sizeof(*n));
			if (!n) {
				to->oom = true;
				free(run->orphans.raised[i].what);
				continue;
			}
			to->raised = n;
			to->cap_raised = cap;
		}
		to->raised[to->nr_raised++] = run->orphans.raised[i];
	}
	run->orphans.nr_raised = 0;
	pthread_mutex_unlock(&run->lock);
}

/*
 * settle() - the violations @a raised during its event @ev: expected if
 * an `expect violation` of @a's names the ID with @ev as its previous
 * event; and every such expectation must find its ID raised.
 */
static void settle(struct actor *a, size_t ev)
{
	struct engine *e = a->run->e;
	const struct trace *t = e->t;
	struct replay *r = &a->r;
	bool expected[TRACE_INV_NR] = { false };
	bool seen[TRACE_INV_NR] = { false };
	unsigned int line = t->records[ev].line;
	size_t end;

	/* Its expectations lie between @ev and its next event. */
	for (end = ev + 1; end < t->nr_records; end++) {
		const struct trace_record *rec = &t->records[end];

		if (e->rec_actor[end] != a->id)
			continue;
		if (trace_verb_is_event(rec->verb))
			break;
		if (rec->verb == TRACE_EXPECT_VIOLATION && rec->prev_actor_event == ev)
			expected[rec->u.violation] = true;
	}

	for (size_t i = 0; i < r->nr_raised; i++) {
		const struct raised *v = &r->raised[i];
		const char *name = trace_invariant_name(v->id);

		seen[v->id] = true;
		if (expected[v->id])
			r->res->violations_expected++;
		else
			r->res->violations++;
		replay_diag(r, TDPSIM_DIAG_VIOLATION, line, name, expected[v->id],
			    "%s", v->what);
	}
	replay_clear_raised(r);

	for (size_t j = ev + 1; j < end; j++) {
		const struct trace_record *rec = &t->records[j];

		if (e->rec_actor[j] != a->id || rec->verb != TRACE_EXPECT_VIOLATION ||
		    rec->prev_actor_event != ev || seen[rec->u.violation])
			continue;
		r->res->expectations_failed++;
		replay_diag(r, TDPSIM_DIAG_EXPECTATION, rec->line, NULL, false,
			    "expect violation %s: line %u (%s's previous event) raised no %s violation",
			    trace_invariant_name(rec->u.violation), line, e->name[a->id],
			    trace_invariant_name(rec->u.violation));
	}
}

/* ---- the actors ---- */

/* @a starts its event @i: settle the one before. */
static void begin_event(struct actor *a, size_t i)
{
	if (a->last != TRACE_NO_EVENT)
		settle(a, a->last);
	a->last = i;
	a->line = a->run->e->t->records[i].line;
}

static void run_event(struct actor *a, size_t i)
{
	struct run *run = a->run;
	const struct trace_record *rec = &run->e->t->records[i];
	struct trace_result res = { .kind = TRACE_RESULT_OK };

	if (rec->verb == TRACE_MARK) {
		pthread_mutex_lock(&run->lock);
		tdpsim_counters_snapshot(tdpsim_vm_counters(run->base.vm), &run->mark);
		run->have_mark = true;
		pthread_mutex_unlock(&run->lock);
	} else {
		res = replay_apply_event(&a->r, i);
	}
	run->base.results[i] = res;
	a->res.events++;
}

static void run_expect(struct actor *a, size_t i)
{
	struct run *run = a->run;

	if (run->e->t->records[i].verb == TRACE_EXPECT_STAT) {
		pthread_mutex_lock(&run->lock);
		a->r.mark = run->mark;
		a->r.have_mark = run->have_mark;
		pthread_mutex_unlock(&run->lock);
	}
	/* Set by a `destroy` every actor met: ordered by that meeting. */
	a->r.destroyed = run->destroyed;
	replay_run_expect(&a->r, i);
}

/* Sync record @i, run by its owner @a while every other actor waits. */
static void sync_action(struct actor *a, size_t i)
{
	struct run *run = a->run;
	struct replay *b = &run->base;

	take_orphans(run, &a->r);
	switch (run->e->t->records[i].verb) {
	case TRACE_BARRIER:
		if (run->e->opts.check == TDPSIM_CHECK_EACH && !run->destroyed)
			tdpsim_checker_check_touched(b->checker);
		break;
	case TRACE_CHECK:
		if (!run->destroyed)
			tdpsim_checker_check_all(b->checker);
		break;
	case TRACE_DESTROY:
		tdpsim_vm_teardown(b->vm);
		run->destroyed = true;
		/* Strict, as replay.c: nothing but the husk remains. */
		tdpsim_checker_check_leak(b->checker, NULL);
		break;
	default:
		break;
	}
	b->results[i].kind = TRACE_RESULT_OK;
	a->res.events++;
}

/*
 * meet() - every actor meets at sync record @i; its owner runs it once all
 * have arrived, then all go on. Under the scheduler, waiting is the
 * scheduler's (SCHED_WAIT_BARRIER); otherwise a mutex and a condition.
 */
static void meet(struct actor *a, size_t i, bool own)
{
	struct run *run = a->run;
	unsigned int nr = run->e->nr;
	struct sched *s = run->sched;
	uint64_t gen;

	if (s) {
		/* One thread runs at a time: plain fields, ordered by the
		 * scheduler's handovers. */
		gen = run->gen;
		run->arrived++;
		if (own) {
			while (run->arrived < nr)
				__sched_wait(s, SCHED_WAIT_BARRIER);
			sync_action(a, i);
			run->arrived = 0;
			run->gen++;
			sched_wake(s, SCHED_WAIT_BARRIER);
			__sched_point(s, SCHED_EVENT);
		} else {
			if (run->arrived == nr)
				sched_wake(s, SCHED_WAIT_BARRIER);
			while (run->gen == gen)
				__sched_wait(s, SCHED_WAIT_BARRIER);
		}
		return;
	}

	pthread_mutex_lock(&run->lock);
	gen = run->gen;
	run->arrived++;
	if (own) {
		while (run->arrived < nr)
			pthread_cond_wait(&run->cond, &run->lock);
		/* Everyone else waits for @gen to move: run it unlocked (the
		 * diagnostics and the orphans take locks of their own). */
		pthread_mutex_unlock(&run->lock);
		sync_action(a, i);
		pthread_mutex_lock(&run->lock);
		run->arrived = 0;
		run->gen++;
		pthread_cond_broadcast(&run->cond);
	} else {
		if (run->arrived == nr)
			pthread_cond_broadcast(&run->cond);
		while (run->gen == gen)
			pthread_cond_wait(&run->cond, &run->lock);
	}
	pthread_mutex_unlock(&run->lock);
}

/* The body of actor @a's thread: its records in file order. */
static void actor_main(struct actor *a)
{
	struct run *run = a->run;
	const struct trace *t = run->e->t;

	tl_actor = a;
	for (size_t i = 0; i < t->nr_records; i++) {
		const struct trace_record *rec = &t->records[i];
		bool own = run->e->rec_actor[i] == a->id;
		bool stopped = a->r.internal || a->r.oom;

		if (is_sync(rec->verb)) {
			if (own)
				begin_event(a, i);
			a->line = rec->line;
			meet(a, i, own);
			continue;
		}
		if (!own || stopped)
			continue;
		if (trace_verb_is_event(rec->verb)) {
			begin_event(a, i);
			if (run->sched)
				__sched_point(run->sched, SCHED_EVENT);
			run_event(a, i);
		} else {
			a->line = rec->line;
			run_expect(a, i);
		}
	}
	tl_actor = NULL;
}

/* ---- runs ---- */

static void replay_init(struct replay *r, const struct replay *base,
			struct tdpsim_replay_result *res)
{
	*r = *base;
	r->res = res;
	r->raised = NULL;
	r->nr_raised = 0;
	r->cap_raised = 0;
	r->oom = false;
	r->internal = false;
	r->concurrent = true;
}

static void replay_fini(struct replay *r)
{
	replay_clear_raised(r);
	free(r->raised);
	r->raised = NULL;
	r->cap_raised = 0;
}

static void run_free(struct run *run)
{
	if (!run)
		return;
	for (unsigned int i = 0; run->actors && i < run->e->nr; i++)
		replay_fini(&run->actors[i].r);
	replay_fini(&run->orphans);
	replay_fini(&run->base);
	tdpsim_checker_destroy(run->base.checker);
	tdpsim_vm_destroy(run->base.vm);
	free(run->base.results);
	free(run->actors);
	pthread_cond_destroy(&run->cond);
	pthread_mutex_destroy(&run->lock);
	free(run);
}

/* A fresh VM and checker for one run. 0, or -errno with the run freed. */
static int run_create(struct engine *e, struct run **ret_run)
{
	const struct trace *t = e->t;
	struct run *run = calloc(1, sizeof(*run));
	int ret = -ENOMEM;

	if (!run)
		return -ENOMEM;
	run->e = e;
	pthread_mutex_init(&run->lock, NULL);
	pthread_cond_init(&run->cond, NULL);
	run->base.t = t;
	run->base.opts = &e->opts;
	run->base.res = &run->tally;
	run->base.concurrent = true;
	policy_init(&run->base.policy);
	run->base.results = calloc(t->nr_records ? t->nr_records : 1,
				   sizeof(*run->base.results));
	run->actors = calloc(e->nr ? e->nr : 1, sizeof(*run->actors));
	if (!run->base.results || !run->actors)
		goto err;
	ret = replay_setup_vm(&run->base);
	if (ret)
		goto err;
	ret = tdpsim_checker_create(run->base.vm, run_on_violation, run,
				    &run->base.checker);
	if (ret)
		goto err;
	replay_init(&run->orphans, &run->base, &run->tally);
	for (unsigned int i = 0; i < e->nr; i++) {
		struct actor *a = &run->actors[i];

		a->run = run;
		a->id = i;
		a->last = TRACE_NO_EVENT;
		replay_init(&a->r, &run->base, &a->res);
	}
	/* Callbacks queued while the VM was built run now, not during the
	 * run (where the scheduler keeps its own RCU). */
	tdp_rcu_barrier();
	*ret_run = run;
	return 0;

err:
	run_free(run);
	return ret;
}

/*
 * run_finish() - the end of a run whose threads all ended: the full
 * check, owned by the last event of the file, then every actor's last
 * event settled; the tallies into @res; the run freed.
 */
static void run_finish(struct run *run, struct tdpsim_replay_result *res,
		       bool *ret_internal, bool *ret_oom)
{
	struct engine *e = run->e;
	const struct trace *t = e->t;
	struct actor *owner = NULL;
	bool internal = false, oom = false;

	for (size_t i = t->nr_records; i-- > 0;) {
		if (trace_verb_is_event(t->records[i].verb)) {
			owner = &run->actors[e->rec_actor[i]];
			break;
		}
	}
	if (owner) {
		tl_actor = owner;
		take_orphans(run, &owner->r);
		if (!run->destroyed)
			tdpsim_checker_check_all(run->base.checker);
		tl_actor = NULL;
		for (unsigned int i = 0; i < e->nr; i++)
			if (run->actors[i].last != TRACE_NO_EVENT)
				settle(&run->actors[i], run->actors[i].last);
	} else {
		/* No event at all: the final check belongs to the vm line. */
		if (!run->destroyed)
			tdpsim_checker_check_all(run->base.checker);
		take_orphans(run, &run->base);
		for (size_t i = 0; i < run->base.nr_raised; i++) {
			run->tally.violations++;
			replay_diag(&run->base, TDPSIM_DIAG_VIOLATION, t->vm.line,
				    trace_invariant_name(run->base.raised[i].id), false,
				    "%s", run->base.raised[i].what);
		}
		replay_clear_raised(&run->base);
	}

	memset(res, 0, sizeof(*res));
	for (unsigned int i = 0; i <= e->nr; i++) {
		const struct replay *r = i < e->nr ? &run->actors[i].r : &run->base;
		const struct tdpsim_replay_result *x = r->res;

		res->events += x->events;
		res->expectations += x->expectations;
		res->expectations_failed += x->expectations_failed;
		res->violations += x->violations;
		res->violations_expected += x->violations_expected;
		internal |= r->internal;
		oom |= r->oom;
	}
	internal |= run->orphans.internal;
	oom |= run->orphans.oom;
	tdpsim_counters_snapshot(tdpsim_vm_counters(run->base.vm), &res->counters);
	*ret_internal = internal;
	*ret_oom = oom;
	run_free(run);
}

static const char *wait_name(enum sched_wait w)
{
	switch (w) {
	case SCHED_WAIT_LOCK:
		return "waits for a lock";
	case SCHED_WAIT_RCU:
		return "waits for an RCU grace period";
	case SCHED_WAIT_BARRIER:
		return "waits at a synchronisation record";
	default:
		return "runnable";
	}
}

/*
 * run_abandon() - a schedule that deadlocked (@ret -EDEADLK) or passed the
 * step bound (-ELOOP): report `progress` at the line of the actor that ran
 * last (livelock) or of the first blocked one (deadlock), with where every
 * actor was, and what was raised so far. The threads are parked in the
 * run's VM for good: nothing of the run is freed.
 */
static void run_abandon(struct run *run, int ret, struct tdpsim_replay_result *res)
{
	struct engine *e = run->e;
	struct sched *s = run->sched;
	struct actor *at = NULL;
	char where[1024];
	size_t len = 0;

	where[0] = '\0';
	for (unsigned int i = 0; i < e->nr; i++) {
		struct actor *a = &run->actors[i];
		enum sched_wait w;
		bool waiting = sched_thread_waiting(s, i, &w);

		if (!at && ret == -EDEADLK && waiting && w != SCHED_WAIT_NONE)
			at = a;
		if (len < sizeof(where))
			len += (size_t)snprintf(where + len, sizeof(where) - len,
						"%s%s %s", i ? "; " : "", e->name[i],
						!waiting ? "finished" : "");
		if (waiting && len < sizeof(where))
			len += (size_t)snprintf(where + len, sizeof(where) - len,
						"at line %u, %s", a->line,
						wait_name(w));
	}
	if ((ret == -ELOOP || ret == -ETIMEDOUT) && sched_current(s) >= 0)
		at = &run->actors[sched_current(s)];
	if (!at)
		at = &run->actors[0];

	memset(res, 0, sizeof(*res));
	for (unsigned int i = 0; i < e->nr; i++) {
		struct actor *a = &run->actors[i];

		if (a->last != TRACE_NO_EVENT)
			settle(a, a->last);
		res->events += a->res.events;
		res->expectations += a->res.expectations;
		res->expectations_failed += a->res.expectations_failed;
		res->violations += a->res.violations;
		res->violations_expected += a->res.violations_expected;
	}
	res->violations++;
	if (ret == -ELOOP)
		replay_diag(&at->r, TDPSIM_DIAG_VIOLATION, at->line, "progress", false,
			    "the schedule took more than %" PRIu64 " scheduling decisions (a livelock, or raise --max-steps): %s",
			    e->r->opts->explore_max_steps, where);
	else if (ret == -ETIMEDOUT)
		replay_diag(&at->r, TDPSIM_DIAG_VIOLATION, at->line, "progress", false,
			    "the schedule made no scheduling decision for %d s: a thread is blocked outside the scheduler (a lock held across a scheduling point and not taken through kvm_mutex_lock() or sched_*lock()): %s",
			    SCHED_WATCHDOG_SECONDS, where);
	else
		replay_diag(&at->r, TDPSIM_DIAG_VIOLATION, at->line, "progress", false,
			    "the schedule deadlocked: no thread can run: %s", where);
}

/* ---- TDPSIM_REPLAY_THREADS ---- */

static void *thread_main(void *arg)
{
	struct actor *a = arg;
	struct run *run = a->run;
	int go;

	/* Start together, or not at all: one missing actor would keep the
	 * others at the first barrier for ever. */
	pthread_mutex_lock(&run->lock);
	while (!run->go)
		pthread_cond_wait(&run->cond, &run->lock);
	go = run->go;
	pthread_mutex_unlock(&run->lock);
	if (go < 0)
		return NULL;
	tdpsim_thread_register();
	actor_main(a);
	tdpsim_thread_unregister();
	return NULL;
}

static void replay_threads(struct engine *e)
{
	struct replay *r = e->r;
	struct run *run;
	unsigned int started;

	if (run_create(e, &run)) {
		r->internal = true;
		return;
	}
	for (started = 0; started < e->nr; started++) {
		struct actor *a = &run->actors[started];

		if (pthread_create(&a->thread, NULL, thread_main, a))
			break;
	}
	pthread_mutex_lock(&run->lock);
	run->go = started < e->nr ? -1 : 1;
	pthread_cond_broadcast(&run->cond);
	pthread_mutex_unlock(&run->lock);
	for (unsigned int i = 0; i < started; i++)
		pthread_join(run->actors[i].thread, NULL);
	if (started < e->nr) {
		replay_diag(r, TDPSIM_DIAG_ERROR, 0, NULL, false,
			    "internal: cannot start a thread for actor %s",
			    e->name[started]);
		r->internal = true;
	}
	run_finish(run, &e->last, &e->last_internal, &e->last_oom);
}

/* ---- TDPSIM_REPLAY_EXPLORE ---- */

static int explore_setup(void *opaque, struct sched *s)
{
	struct engine *e = opaque;
	int ret;

	kept_free(e);
	ret = run_create(e, &e->cur);
	if (ret) {
		e->setup_failed = true;
		return ret;
	}
	e->cur->sched = s;
	sched_attach(s, to_kvm(e->cur->base.vm));
	return 0;
}

static void explore_thread(void *opaque, unsigned int id)
{
	struct engine *e = opaque;

	actor_main(&e->cur->actors[id]);
}

static bool explore_finish(void *opaque, struct sched *s, int ret)
{
	struct engine *e = opaque;
	struct run *run = e->cur;

	(void)s;
	e->cur = NULL;
	if (ret == -EDEADLK || ret == -ELOOP || ret == -ETIMEDOUT) {
		run_abandon(run, ret, &e->last);
		e->last_internal = false;
		e->last_oom = false;
		return true;
	}
	run_finish(run, &e->last, &e->last_internal, &e->last_oom);
	if (ret)
		e->last_internal = true;
	return e->last_internal || e->last_oom || e->last.violations ||
	       e->last.expectations_failed;
}

static void explore_progress(void *opaque, const struct sched_explore_stats *st,
			     const struct sched *s)
{
	struct engine *e = opaque;
	const struct tdpsim_replay_options *user = e->r->opts;
	struct tdpsim_explore_stats x = {
		.schedules = st->schedules,
		.distinct = st->distinct,
		.steps = st->steps,
	};

	(void)s;
	if (user->explore_progress)
		user->explore_progress(user->explore_progress_opaque, &x);
}

/* "0=vcpu0 1=vcpu1 2=vmm": what the ids of a schedule string stand for. */
static void actor_legend(struct engine *e, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (unsigned int i = 0; i < e->nr && n < len; i++)
		n += (size_t)snprintf(buf + n, len - n, "%s%u=%s", i ? " " : "", i,
				      e->name[i]);
	if (n < len)
		snprintf(buf + n, len - n, " r=RCU callbacks");
}

static void replay_explore(struct engine *e)
{
	const struct tdpsim_replay_options *o = e->r->opts;
	struct replay *r = e->r;
	struct sched_schedule *sch = NULL;
	struct sched_explore_result res;
	struct sched_explore_opts xo = {
		.strategy = o->explore_strategy == TDPSIM_EXPLORE_RANDOM ? SCHED_RANDOM :
									   SCHED_PCT,
		.seed = o->explore_seed,
		.schedules = o->explore_schedules,
		.depth = o->explore_depth,
		.max_steps = o->explore_max_steps,
		.progress = explore_progress,
		.progress_opaque = e,
	};
	struct sched_scenario sc = {
		.nr_threads = e->nr,
		.setup = explore_setup,
		.thread = explore_thread,
		.finish = explore_finish,
		.opaque = e,
	};
	char legend[512];
	char *msg;
	size_t len;
	int ret;

	if (o->explore_schedule) {
		const char *why = "?";

		ret = sched_schedule_parse(o->explore_schedule, &sch, &why);
		if (ret == -ENOMEM) {
			r->oom = true;
			return;
		}
		if (ret) {
			replay_diag(r, TDPSIM_DIAG_ERROR, 0, NULL, false,
				    "--schedule: not a schedule string: %s", why);
			r->bad_input = true;
			return;
		}
		if (sched_schedule_max_id(sch) >= (int)e->nr) {
			replay_diag(r, TDPSIM_DIAG_ERROR, 0, NULL, false,
				    "--schedule names thread %d, but this trace has %u actors (ids 0 to %u)",
				    sched_schedule_max_id(sch), e->nr, e->nr - 1);
			r->bad_input = true;
			sched_schedule_free(sch);
			return;
		}
		xo.replay = sch;
	} else if (!o->explore_schedules) {
		replay_diag(r, TDPSIM_DIAG_ERROR, 0, NULL, false,
			    "exploration needs at least one schedule");
		r->bad_input = true;
		return;
	}

	e->keep = true;
	ret = sched_explore(&sc, &xo, &res);
	e->keep = false;
	sched_schedule_free(sch);
	kept_flush(e);
	if (e->kept_oom)
		r->oom = true;
	if (ret) {
		if (!e->setup_failed)
			replay_diag(r, TDPSIM_DIAG_ERROR, 0, NULL, false,
				    "internal: cannot run a schedule: %s", tdpsim_strerror(ret));
		r->internal = true;
		free(res.schedule);
		return;
	}
	*r->res = e->last;
	r->internal |= e->last_internal;
	r->oom |= e->last_oom;
	r->res->explore.schedules = res.stats.schedules;
	r->res->explore.distinct = res.stats.distinct;
	r->res->explore.steps = res.stats.steps;
	if (res.failed && !res.probe && !o->explore_schedule) {
		r->res->explore.failing = res.index + 1;
		r->res->explore.failing_seed = res.seed;
	}

	actor_legend(e, legend, sizeof(legend));
	if (o->explore_schedule && res.diverged) {
		replay_diag(r, TDPSIM_DIAG_ERROR, 0, NULL, false,
			    "--schedule does not fit this trace (threads %s): at decision %" PRIu64 " it names a thread that cannot run, or it ends while threads still run, or it goes on after they ended; the trace, the policies or the model differ from the run that printed it",
			    legend, res.diverged);
		r->bad_input = true;
	}
	if (res.failed && !o->explore_schedule) {
		len = strlen(legend) + (res.schedule ? strlen(res.schedule) : 0) + 256;
		msg = malloc(len);
		if (!msg) {
			r->oom = true;
		} else {
			if (res.probe)
				snprintf(msg, len, "the non-preemptive probe schedule (PCT's first run, no seed) failed; threads %s; replay it with --explore --schedule=%s",
					 legend, res.schedule ? res.schedule : "(out of memory)");
			else
				snprintf(msg, len, "schedule %" PRIu64 " of %" PRIu64 " failed (%s, seed %" PRIu64 "); threads %s; replay it with --explore --schedule=%s",
					 res.index + 1, (uint64_t)o->explore_schedules,
					 o->explore_strategy == TDPSIM_EXPLORE_RANDOM ? "random" : "pct",
					 res.seed, legend,
					 res.schedule ? res.schedule : "(out of memory)");
			note(e, msg);
			free(msg);
		}
	}
	free(res.schedule);
}

/* ---- the entry point ---- */

static int engine_init(struct engine *e, struct replay *r)
{
	const struct trace *t = r->t;
	int vcpu_id[TDPSIM_MAX_VCPUS], vmm_id[TRACE_MAX_VMM], host_id = -1;
	unsigned int n = 0;

	memset(e, 0, sizeof(*e));
	e->r = r;
	e->t = t;
	e->opts = *r->opts;
	e->opts.diag = engine_diag;
	e->opts.diag_opaque = e;
	pthread_mutex_init(&e->diag_lock, NULL);

	/* Thread ids: vcpu0.., then vmm0.., then host. */
	for (unsigned int i = 0; i < TDPSIM_MAX_VCPUS; i++)
		vcpu_id[i] = i < 64 && (t->vcpus_used >> i & 1) ? (int)n++ : -1;
	for (unsigned int i = 0; i < TRACE_MAX_VMM; i++)
		vmm_id[i] = i < 64 && (t->vmms_used >> i & 1) ? (int)n++ : -1;
	if (t->host_used)
		host_id = (int)n++;
	e->nr = n;
	e->name = calloc(n ? n : 1, sizeof(*e->name));
	e->rec_actor = calloc(t->nr_records ? t->nr_records : 1, sizeof(*e->rec_actor));
	if (!e->name || !e->rec_actor)
		return -ENOMEM;
	for (unsigned int i = 0; i < TDPSIM_MAX_VCPUS; i++)
		if (vcpu_id[i] >= 0)
			snprintf(e->name[vcpu_id[i]], sizeof(e->name[0]), "vcpu%u", i);
	for (unsigned int i = 0; i < TRACE_MAX_VMM; i++)
		if (vmm_id[i] >= 0)
			snprintf(e->name[vmm_id[i]], sizeof(e->name[0]),
				 i ? "vmm%u" : "vmm", i);
	if (host_id >= 0)
		snprintf(e->name[host_id], sizeof(e->name[0]), "host");
	for (size_t i = 0; i < t->nr_records; i++) {
		const struct trace_actor *who = &t->records[i].actor;
		int id = -1;

		switch (who->kind) {
		case TRACE_ACTOR_VCPU:
			id = who->index < TDPSIM_MAX_VCPUS ? vcpu_id[who->index] : -1;
			break;
		case TRACE_ACTOR_VMM:
			id = who->index < TRACE_MAX_VMM ? vmm_id[who->index] : -1;
			break;
		case TRACE_ACTOR_HOST:
			id = host_id;
			break;
		}
		if (id < 0)
			return -EINVAL;	/* the parser's bitmaps say otherwise */
		e->rec_actor[i] = (unsigned int)id;
	}
	return 0;
}

static void engine_fini(struct engine *e)
{
	kept_free(e);
	free(e->kept);
	free(e->name);
	free(e->rec_actor);
	pthread_mutex_destroy(&e->diag_lock);
}

void replay_concurrent(struct replay *r)
{
	struct engine e;
	int ret;

	ret = engine_init(&e, r);
	if (ret == -ENOMEM) {
		r->oom = true;
	} else if (ret) {
		replay_diag(r, TDPSIM_DIAG_ERROR, 0, NULL, false,
			    "internal: a record's actor is not among the trace's actors");
		r->internal = true;
	} else if (r->opts->mode == TDPSIM_REPLAY_EXPLORE && e.nr) {
		replay_explore(&e);
	} else {
		/* THREADS, or a trace without actors (nothing to schedule). */
		replay_threads(&e);
		*r->res = e.last;
		r->internal |= e.last_internal;
		r->oom |= e.last_oom;
	}
	engine_fini(&e);
}
