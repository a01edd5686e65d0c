/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tdpsim/replay.h - replay a trace (trace format 1) through the model and
 * check invariants and expectations, as tdpsim-replay does.
 *
 * The library never prints: every diagnostic goes to the caller's callback,
 * already located (file, line) and classified, so a tool can print it like a
 * compiler (`FILE:LINE: violation ID: ...`) or collect it as JSON.
 */
#ifndef TDPSIM_REPLAY_H
#define TDPSIM_REPLAY_H

#include <tdpsim/types.h>
#include <tdpsim/stats.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The outcome of replaying one trace; also tdpsim-replay's exit codes. */
enum tdpsim_replay_status {
	TDPSIM_REPLAY_OK = 0,		/* every expectation held, no unexpected violation */
	TDPSIM_REPLAY_FAILED = 1,	/* an unexpected violation or a failed expectation */
	TDPSIM_REPLAY_BAD_INPUT = 2,	/* malformed trace or bad options: nothing ran */
	TDPSIM_REPLAY_INTERNAL = 3,	/* internal error of tdpsim */
};

/** When invariants are checked. */
enum tdpsim_check_mode {
	TDPSIM_CHECK_EACH,		/* after every event (default) */
	TDPSIM_CHECK_END,		/* at `check` records and at the end */
};

enum tdpsim_diag_kind {
	TDPSIM_DIAG_ERROR,		/* "error": bad input or an internal error */
	TDPSIM_DIAG_VIOLATION,		/* "violation ID" */
	TDPSIM_DIAG_EXPECTATION,	/* "expectation failed" */
	TDPSIM_DIAG_NOTE,		/* "note": an expected violation, context */
};

/** One diagnostic. Strings are valid only during the callback. */
struct tdpsim_diag {
	enum tdpsim_diag_kind kind;
	const char *file;		/* the trace's name */
	unsigned int line;		/* 1-based; 0 if it concerns no line */
	unsigned int column;		/* 1-based; 0 if not known */
	const char *id;			/* invariant ID for violations, else NULL */
	const char *message;
	bool expected;			/* a violation the trace expected */
};

typedef void (*tdpsim_diag_fn)(void *opaque, const struct tdpsim_diag *d);

/** How the records of a trace run (docs/concurrency.md). */
enum tdpsim_replay_mode {
	TDPSIM_REPLAY_SEQUENTIAL,	/* in file order on the calling thread (default) */
	TDPSIM_REPLAY_THREADS,		/* each actor on its own thread, really concurrently */
	TDPSIM_REPLAY_EXPLORE,		/* the same threads one at a time, a deterministic
					 * scheduler choosing at every scheduling point */
};

/** How --explore chooses schedules. */
enum tdpsim_explore_strategy {
	TDPSIM_EXPLORE_PCT,		/* random priorities, depth - 1 change points */
	TDPSIM_EXPLORE_RANDOM,		/* a uniformly random thread at every point */
};

/** What an exploration did (TDPSIM_REPLAY_EXPLORE). */
struct tdpsim_explore_stats {
	uint64_t schedules;		/* schedules run (PCT: its probe run included) */
	uint64_t distinct;		/* different interleavings among them */
	uint64_t steps;			/* scheduling decisions, all schedules */
	uint64_t failing;		/* 1-based number of the failing seeded
					 * schedule; 0: none failed, or the
					 * failing one was the probe or a replay */
	uint64_t failing_seed;		/* its seed */
};

struct tdpsim_replay_options {
	enum tdpsim_check_mode check;
	/* "KEY=VALUE" policy overrides; they win over the trace's `policy`. */
	const char *const *policies;
	size_t nr_policies;
	tdpsim_diag_fn diag;		/* optional */
	void *diag_opaque;
	enum tdpsim_replay_mode mode;	/* SEQUENTIAL by default */
	/* TDPSIM_REPLAY_EXPLORE: */
	uint64_t explore_schedules;	/* N seeded schedules (default 100) */
	uint64_t explore_seed;		/* S: schedule i's seed derives from it (default 1) */
	enum tdpsim_explore_strategy explore_strategy; /* PCT by default */
	unsigned int explore_depth;	/* PCT depth d (default 3) */
	uint64_t explore_max_steps;	/* decisions per schedule before `progress`
					 * fires (livelock); default 1000000 */
	const char *explore_schedule;	/* replay exactly this schedule string, once */
	/* Called after each schedule (optional). */
	void (*explore_progress)(void *opaque, const struct tdpsim_explore_stats *s);
	void *explore_progress_opaque;
};

/**
 * Fill @opts with the defaults: check each event, no overrides, sequential;
 * for exploration 100 PCT schedules of depth 3 from seed 1.
 */
TDPSIM_API void tdpsim_replay_options_init(struct tdpsim_replay_options *opts);

/** What a replay did. */
struct tdpsim_replay_result {
	enum tdpsim_replay_status status;
	unsigned int events;		/* event records run */
	unsigned int expectations;	/* expectations evaluated */
	unsigned int expectations_failed;
	unsigned int violations;	/* unexpected violations */
	unsigned int violations_expected;
	struct tdpsim_snapshot counters; /* every counter at the end */
	/* TDPSIM_REPLAY_EXPLORE: the counts above are the failing schedule's
	 * (or the last one's); these are the exploration's. */
	struct tdpsim_explore_stats explore;
};

/**
 * tdpsim_replay_file() - parse @path whole, then replay it.
 * @return 0 when the replay ran to a verdict (see @ret_result->status, which
 *         is also BAD_INPUT for a malformed trace); a negative errno only
 *         for misuse (NULL arguments) or if memory ran out
 */
TDPSIM_API int tdpsim_replay_file(const char *path,
				  const struct tdpsim_replay_options *opts,
				  struct tdpsim_replay_result *ret_result);

/** As tdpsim_replay_file(), for a trace in memory named @name. */
TDPSIM_API int tdpsim_replay_string(const char *name, const char *text, size_t len,
				    const struct tdpsim_replay_options *opts,
				    struct tdpsim_replay_result *ret_result);

#ifdef __cplusplus
}
#endif

#endif /* TDPSIM_REPLAY_H */
