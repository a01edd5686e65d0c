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

struct tdpsim_replay_options {
	enum tdpsim_check_mode check;
	/* "KEY=VALUE" policy overrides; they win over the trace's `policy`. */
	const char *const *policies;
	size_t nr_policies;
	tdpsim_diag_fn diag;		/* optional */
	void *diag_opaque;
};

/** Fill @opts with the defaults (check each event, no overrides). */
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
