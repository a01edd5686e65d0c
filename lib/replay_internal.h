/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * replay_internal.h - what the sequential replay engine (replay.c) shares
 * with the concurrent one (replay_threads.c): the state of a replay, and
 * the pieces that run one event, evaluate one expectation and report.
 *
 * The concurrent engine gives each actor its own struct replay (its own
 * tallies, its own violations, `concurrent` set) over the same trace, VM,
 * checker and per-record results: a struct replay is used by one thread
 * at a time.
 */
#ifndef TDPSIM_REPLAY_INTERNAL_H
#define TDPSIM_REPLAY_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>

#include <tdpsim/tdpsim.h>

#include "policy.h"
#include "trace_parse.h"

/* A violation raised while an event ran or by the check after it. */
struct raised {
	enum trace_invariant id;
	char *what;
};

struct replay {
	const struct trace *t;
	const struct tdpsim_replay_options *opts;
	struct tdpsim_replay_result *res;
	struct tdpsim_vm *vm;
	struct tdpsim_checker *checker;
	struct tdpsim_policy policy;	/* effective policies, for the engine */
	struct tdpsim_snapshot mark;
	bool have_mark;
	bool destroyed;
	struct trace_result *results;	/* per record: results of events */
	struct raised *raised;		/* violations of the current event */
	size_t nr_raised;
	size_t cap_raised;
	bool oom;
	bool internal;			/* an internal error stopped the run */
	bool bad_input;			/* bad options found late (exit 2) */
	bool concurrent;		/* expectations compare with the
					 * previous event of their own actor */
};

/* Hand a located diagnostic to the caller's callback. */
void replay_vdiag(struct replay *r, enum tdpsim_diag_kind kind, unsigned int line,
		  const char *id, bool expected, const char *fmt, va_list ap);
__attribute__((format(printf, 6, 7)))
void replay_diag(struct replay *r, enum tdpsim_diag_kind kind, unsigned int line,
		 const char *id, bool expected, const char *fmt, ...);

/* The checker's violation callback: keep @v in r->raised. */
void replay_on_violation(void *opaque, const struct tdpsim_violation *v);
void replay_clear_raised(struct replay *r);

/*
 * replay_setup_vm() - create the VM of the trace's `vm` record and apply
 * the trace's and the caller's policies (r->vm, r->policy).
 * No checker. 0 or a negative errno (reported).
 */
int replay_setup_vm(struct replay *r);

/*
 * replay_apply_event() - run event record @i through the model and return
 * its result (no check, no tallies). Not for check, barrier and destroy
 * under concurrent replay, which the concurrent engine runs itself.
 */
struct trace_result replay_apply_event(struct replay *r, size_t i);

/* Evaluate expectation record @i (tallied in r->res). */
void replay_run_expect(struct replay *r, size_t i);

/* "ok", "error:ENOMEM" ... */
void replay_result_name(const struct trace_result *res, char *buf, size_t len);

/* replay_threads.c: replay r->t with r->opts->mode THREADS or EXPLORE. */
void replay_concurrent(struct replay *r);

#endif /* TDPSIM_REPLAY_INTERNAL_H */
