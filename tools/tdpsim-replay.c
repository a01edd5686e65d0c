/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tdpsim-replay - replay trace files through the tdpsim model and report,
 * like a compiler, where an invariant broke or an expectation failed.
 *
 * The tool is thin: parsing, replay and checking live in libtdpsim
 * (tdpsim_replay_file()); this file parses options, prints diagnostics,
 * writes the JSON report and picks the exit code.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <tdpsim/tdpsim.h>

#if defined(__SANITIZE_THREAD__)
#define TOOL_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TOOL_TSAN 1
#endif
#endif

#ifdef TOOL_TSAN
/*
 * liburcu is not built with ThreadSanitizer: its own synchronisation
 * (the call_rcu worker, rcu_barrier()) is invisible to it. libtdpsim's
 * uses of it are annotated (lib/rcu.h); --threads runs liburcu.
 */
const char *__tsan_default_suppressions(void);
const char *__tsan_default_suppressions(void)
{
	return "called_from_lib:liburcu-memb.so\n"
	       "called_from_lib:liburcu-common.so\n"
	       "race:liburcu-memb.so\n";
}
#endif

/* Every invariant ID of ../shared/spec/invariants.md, for the report. */
static const char *const invariant_ids[] = {
	"spte-format", "pfn-stable", "pt-linkage", "attr-root", "attr-uniform",
	"gmem-backing", "lpage", "lpage-info", "boundary", "accept-level",
	"dirty-log", "tlb", "mirror-sync", "seamcall", "pamt", "hkid", "lock",
	"no-sleep", "rcu", "leak", "progress",
};
#define NR_IDS (sizeof(invariant_ids) / sizeof(invariant_ids[0]))

/* A diagnostic kept for the JSON report. */
struct kept_diag {
	enum tdpsim_diag_kind kind;
	unsigned int line;
	char *id;
	char *message;
	bool expected;
};

struct trace_report {
	const char *file;
	struct tdpsim_replay_result result;
	struct kept_diag *diags;
	size_t nr_diags;
};

struct tool {
	bool quiet;
	bool report;
	bool progress;			/* stderr is a terminal: progress lines */
	const char *progress_file;	/* the trace being explored */
	double progress_at;		/* when the last progress line was written */
	struct trace_report *cur;
	unsigned int fired[NR_IDS][2];	/* [id][expected] */
	bool oom;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: tdpsim-replay [OPTIONS] TRACE...\n"
		"Replay each trace (trace format 1) through the tdpsim model of KVM's\n"
		"TDP MMU, checking every invariant and expectation.\n"
		"\n"
		"Options:\n"
		"  --check=each|end     check invariants after every event (default)\n"
		"                       or only at `check` records and at the end\n"
		"  --policy KEY=VALUE   override a policy (repeatable; wins over the trace)\n"
		"  --json FILE          write counters, violations and results as JSON\n"
		"  --threads            run each actor (vcpuN, vmm, vmmN, host) on its own\n"
		"                       thread, really concurrently\n"
		"  --explore[=N]        run the actors' threads one at a time under a\n"
		"                       deterministic scheduler, N schedules (default 100);\n"
		"                       stop at the first failing one and print its schedule\n"
		"  --strategy=pct|random  how --explore picks schedules (default pct)\n"
		"  --seed=S             seed of the exploration (default 1)\n"
		"  --depth=D            PCT bug depth: D - 1 priority change points (default 3)\n"
		"  --max-steps=N        scheduling decisions per schedule before it counts\n"
		"                       as a livelock, violation progress (default 1000000)\n"
		"  --schedule=STRING    replay exactly this schedule (implies --explore)\n"
		"  --report             print the invariant report after the run\n"
		"  --quiet              print only errors, violations and failures\n"
		"  --help               show this help\n"
		"\n"
		"Exit: 0 all green, 1 a violation or failed expectation, 2 bad input\n"
		"or options, 3 internal error. With several traces, the worst wins\n"
		"(3, then 2, then 1).\n");
}

static const char *kind_label(enum tdpsim_diag_kind kind)
{
	switch (kind) {
	case TDPSIM_DIAG_ERROR:
		return "error";
	case TDPSIM_DIAG_VIOLATION:
		return "violation";
	case TDPSIM_DIAG_EXPECTATION:
		return "expectation failed";
	case TDPSIM_DIAG_NOTE:
		return "note";
	}
	return "?";
}

static char *xstrdup(struct tool *t, const char *s)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		t->oom = true;
	return d;
}

static void on_diag(void *opaque, const struct tdpsim_diag *d)
{
	struct tool *t = opaque;
	struct trace_report *r = t->cur;
	struct kept_diag *nd;

	/* Print like a compiler: FILE:LINE: kind[ ID]: message */
	if (!(t->quiet && (d->kind == TDPSIM_DIAG_NOTE || d->expected))) {
		if (d->line)
			fprintf(stderr, "%s:%u: ", d->file, d->line);
		else
			fprintf(stderr, "%s: ", d->file);
		if (d->kind == TDPSIM_DIAG_VIOLATION)
			fprintf(stderr, "%s %s%s: %s\n", kind_label(d->kind), d->id,
				d->expected ? " (expected)" : "", d->message);
		else
			fprintf(stderr, "%s: %s\n", kind_label(d->kind), d->message);
	}
	if (d->kind == TDPSIM_DIAG_VIOLATION && d->id) {
		for (size_t i = 0; i < NR_IDS; i++)
			if (!strcmp(invariant_ids[i], d->id))
				t->fired[i][d->expected]++;
	}
	nd = realloc(r->diags, (r->nr_diags + 1) * sizeof(*nd));
	if (!nd) {
		t->oom = true;
		return;
	}
	r->diags = nd;
	nd = &r->diags[r->nr_diags++];
	nd->kind = d->kind;
	nd->line = d->line;
	nd->id = xstrdup(t, d->id);
	nd->message = xstrdup(t, d->message);
	nd->expected = d->expected;
}

static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static const char *status_name(enum tdpsim_replay_status s)
{
	switch (s) {
	case TDPSIM_REPLAY_OK:
		return "ok";
	case TDPSIM_REPLAY_FAILED:
		return "failed";
	case TDPSIM_REPLAY_BAD_INPUT:
		return "bad-input";
	case TDPSIM_REPLAY_INTERNAL:
		return "internal-error";
	}
	return "?";
}

static const char *mode_name(enum tdpsim_replay_mode m)
{
	switch (m) {
	case TDPSIM_REPLAY_THREADS:
		return "threads";
	case TDPSIM_REPLAY_EXPLORE:
		return "explore";
	default:
		return "sequential";
	}
}

static int write_json(const char *path, const struct trace_report *reps,
		      size_t n, int exit_code, const struct tdpsim_replay_options *o)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -errno;
	fprintf(f, "{\n  \"tdpsim_version\": \"%d.%d.%d\",\n  \"exit\": %d,\n  \"traces\": [",
		TDPSIM_VERSION_MAJOR, TDPSIM_VERSION_MINOR, TDPSIM_VERSION_PATCH,
		exit_code);
	for (size_t i = 0; i < n; i++) {
		const struct trace_report *r = &reps[i];

		fprintf(f, "%s\n    {\n      \"file\": ", i ? "," : "");
		json_string(f, r->file);
		fprintf(f, ",\n      \"result\": \"%s\",\n      \"exit\": %d,\n",
			status_name(r->result.status), (int)r->result.status);
		fprintf(f, "      \"events\": %u,\n      \"expectations\": %u,\n"
			   "      \"expectations_failed\": %u,\n"
			   "      \"violations\": %u,\n      \"violations_expected\": %u,\n",
			r->result.events, r->result.expectations,
			r->result.expectations_failed, r->result.violations,
			r->result.violations_expected);
		if (o->mode != TDPSIM_REPLAY_SEQUENTIAL)
			fprintf(f, "      \"mode\": \"%s\",\n", mode_name(o->mode));
		if (o->mode == TDPSIM_REPLAY_EXPLORE) {
			const struct tdpsim_explore_stats *x = &r->result.explore;

			fprintf(f, "      \"explore\": {\"strategy\": \"%s\", \"seed\": %llu, "
				   "\"depth\": %u, \"schedules\": %llu, \"distinct\": %llu, "
				   "\"steps\": %llu, \"failing_schedule\": ",
				o->explore_strategy == TDPSIM_EXPLORE_RANDOM ? "random" : "pct",
				(unsigned long long)o->explore_seed, o->explore_depth,
				(unsigned long long)x->schedules,
				(unsigned long long)x->distinct,
				(unsigned long long)x->steps);
			if (x->failing)
				fprintf(f, "%llu, \"failing_seed\": %llu},\n",
					(unsigned long long)x->failing,
					(unsigned long long)x->failing_seed);
			else
				fputs("null, \"failing_seed\": null},\n", f);
		}
		fputs("      \"counters\": {", f);
		for (unsigned int s = 0; s < TDPSIM_STAT_NR; s++) {
			fprintf(f, "%s\n        ", s ? "," : "");
			json_string(f, tdpsim_stat_name((enum tdpsim_stat)s));
			fprintf(f, ": %llu", (unsigned long long)r->result.counters.value[s]);
		}
		fputs("\n      },\n      \"diagnostics\": [", f);
		for (size_t d = 0; d < r->nr_diags; d++) {
			const struct kept_diag *k = &r->diags[d];

			fprintf(f, "%s\n        {\"kind\": ", d ? "," : "");
			json_string(f, kind_label(k->kind));
			fprintf(f, ", \"line\": %u, \"id\": ", k->line);
			if (k->id)
				json_string(f, k->id);
			else
				fputs("null", f);
			fprintf(f, ", \"expected\": %s, \"message\": ",
				k->expected ? "true" : "false");
			json_string(f, k->message);
			fputc('}', f);
		}
		fputs(r->nr_diags ? "\n      ]\n    }" : "]\n    }", f);
	}
	fputs(n ? "\n  ]\n}\n" : "]\n}\n", f);
	if (fclose(f))
		return -errno;
	return 0;
}

static void print_report(const struct tool *t, const struct trace_report *reps,
			 size_t n)
{
	unsigned int by_status[4] = { 0 };

	printf("tdpsim invariant report\n\n");
	for (size_t i = 0; i < n; i++) {
		const struct tdpsim_replay_result *r = &reps[i].result;

		by_status[r->status]++;
		printf("  %-14s %s: %u events, %u expectations",
		       status_name(r->status), reps[i].file, r->events,
		       r->expectations);
		if (r->expectations_failed)
			printf(" (%u failed)", r->expectations_failed);
		if (r->violations)
			printf(", %u violations", r->violations);
		if (r->violations_expected)
			printf(", %u expected violations", r->violations_expected);
		printf("\n");
	}
	printf("\n  %-14s %10s %10s\n", "invariant", "unexpected", "expected");
	for (size_t i = 0; i < NR_IDS; i++)
		printf("  %-14s %10u %10u\n", invariant_ids[i], t->fired[i][0],
		       t->fired[i][1]);
	printf("\n%zu traces: %u ok, %u failed, %u bad input, %u internal error\n",
	       n, by_status[0], by_status[1], by_status[2], by_status[3]);
}

/* A number option: decimal or 0x hex, the whole argument. */
static bool parse_number(const char *opt, const char *arg, uint64_t min,
			 uint64_t *ret)
{
	char *end;
	unsigned long long v;

	errno = 0;
	if (!arg || !*arg || *arg == '-' || *arg == '+')
		goto bad;
	v = strtoull(arg, &end, 0);
	if (errno || *end || v < min)
		goto bad;
	*ret = v;
	return true;
bad:
	fprintf(stderr, "tdpsim-replay: error: --%s takes a number of at least %llu, not '%s'\n",
		opt, (unsigned long long)min, arg ? arg : "");
	return false;
}

/* Exploration progress, on one line of a terminal. */
static void on_explore_progress(void *opaque, const struct tdpsim_explore_stats *st)
{
	struct tool *t = opaque;
	struct timespec now;
	double at;

	if (!t->progress)
		return;
	/* Ten lines a second at most. */
	clock_gettime(CLOCK_MONOTONIC, &now);
	at = (double)now.tv_sec + (double)now.tv_nsec / 1e9;
	if (st->schedules > 1 && at - t->progress_at < 0.1)
		return;
	t->progress_at = at;
	fprintf(stderr, "\r\033[K%s: %llu schedules (%llu distinct, %llu steps)",
		t->progress_file, (unsigned long long)st->schedules,
		(unsigned long long)st->distinct, (unsigned long long)st->steps);
	fflush(stderr);
}

int main(int argc, char **argv)
{
	enum { OPT_CHECK = 256, OPT_POLICY, OPT_JSON, OPT_QUIET, OPT_HELP, OPT_REPORT,
	       OPT_THREADS, OPT_EXPLORE, OPT_STRATEGY, OPT_SEED, OPT_DEPTH,
	       OPT_MAX_STEPS, OPT_SCHEDULE };
	static const struct option longopts[] = {
		{ "check", required_argument, NULL, OPT_CHECK },
		{ "policy", required_argument, NULL, OPT_POLICY },
		{ "json", required_argument, NULL, OPT_JSON },
		{ "quiet", no_argument, NULL, OPT_QUIET },
		{ "report", no_argument, NULL, OPT_REPORT },
		{ "help", no_argument, NULL, OPT_HELP },
		{ "threads", no_argument, NULL, OPT_THREADS },
		{ "explore", optional_argument, NULL, OPT_EXPLORE },
		{ "strategy", required_argument, NULL, OPT_STRATEGY },
		{ "seed", required_argument, NULL, OPT_SEED },
		{ "depth", required_argument, NULL, OPT_DEPTH },
		{ "max-steps", required_argument, NULL, OPT_MAX_STEPS },
		{ "schedule", required_argument, NULL, OPT_SCHEDULE },
		{ NULL, 0, NULL, 0 },
	};
	struct tdpsim_replay_options opts;
	struct trace_report *reps = NULL;
	const char **policies = NULL;
	size_t nr_policies = 0, nr_traces;
	const char *json = NULL;
	struct tool t = { 0 };
	bool threads = false, explore = false;
	uint64_t num = 0;
	int opt, worst = 0;

	tdpsim_replay_options_init(&opts);
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case OPT_CHECK:
			if (!strcmp(optarg, "each")) {
				opts.check = TDPSIM_CHECK_EACH;
			} else if (!strcmp(optarg, "end")) {
				opts.check = TDPSIM_CHECK_END;
			} else {
				fprintf(stderr, "tdpsim-replay: error: --check takes 'each' or 'end', not '%s'\n",
					optarg);
				return 2;
			}
			break;
		case OPT_POLICY: {
			const char **np = realloc(policies, (nr_policies + 1) * sizeof(*np));

			if (!np) {
				fprintf(stderr, "tdpsim-replay: error: out of memory\n");
				return 3;
			}
			policies = np;
			policies[nr_policies++] = optarg;
			break;
		}
		case OPT_JSON:
			json = optarg;
			break;
		case OPT_QUIET:
			t.quiet = true;
			break;
		case OPT_REPORT:
			t.report = true;
			break;
		case OPT_HELP:
			usage(stdout);
			free(policies);
			return 0;
		case OPT_THREADS:
			threads = true;
			break;
		case OPT_EXPLORE:
			explore = true;
			if (optarg) {
				if (!parse_number("explore", optarg, 1, &num))
					goto bad_option;
				opts.explore_schedules = num;
			}
			break;
		case OPT_STRATEGY:
			if (!strcmp(optarg, "pct")) {
				opts.explore_strategy = TDPSIM_EXPLORE_PCT;
			} else if (!strcmp(optarg, "random")) {
				opts.explore_strategy = TDPSIM_EXPLORE_RANDOM;
			} else {
				fprintf(stderr, "tdpsim-replay: error: --strategy takes 'pct' or 'random', not '%s'\n",
					optarg);
				goto bad_option;
			}
			break;
		case OPT_SEED:
			if (!parse_number("seed", optarg, 0, &num))
				goto bad_option;
			opts.explore_seed = num;
			break;
		case OPT_DEPTH:
			if (!parse_number("depth", optarg, 1, &num) || num > 64) {
				if (num > 64)
					fprintf(stderr, "tdpsim-replay: error: --depth is at most 64\n");
				goto bad_option;
			}
			opts.explore_depth = (unsigned int)num;
			break;
		case OPT_MAX_STEPS:
			if (!parse_number("max-steps", optarg, 1, &num))
				goto bad_option;
			opts.explore_max_steps = num;
			break;
		case OPT_SCHEDULE:
			explore = true;
			opts.explore_schedule = optarg;
			break;
		default:
			fprintf(stderr, "tdpsim-replay: error: unknown or incomplete option '%s'\n",
				argv[optind - 1]);
			usage(stderr);
			free(policies);
			return 2;
		}
	}
	if (threads && explore) {
		fprintf(stderr, "tdpsim-replay: error: --threads and --explore (or --schedule) exclude each other\n");
		goto bad_option;
	}
	if (threads)
		opts.mode = TDPSIM_REPLAY_THREADS;
	if (explore)
		opts.mode = TDPSIM_REPLAY_EXPLORE;
	opts.explore_progress = on_explore_progress;
	opts.explore_progress_opaque = &t;
	t.progress = explore && isatty(STDERR_FILENO);
	nr_traces = (size_t)(argc - optind);
	if (!nr_traces) {
		fprintf(stderr, "tdpsim-replay: error: no trace given\n");
		usage(stderr);
		free(policies);
		return 2;
	}
	opts.policies = policies;
	opts.nr_policies = nr_policies;
	opts.diag = on_diag;
	opts.diag_opaque = &t;

	reps = calloc(nr_traces, sizeof(*reps));
	if (!reps) {
		fprintf(stderr, "tdpsim-replay: error: out of memory\n");
		free(policies);
		return 3;
	}
	tdpsim_thread_register();
	for (size_t i = 0; i < nr_traces; i++) {
		struct trace_report *r = &reps[i];
		int ret;

		r->file = argv[optind + (int)i];
		t.cur = r;
		t.progress_file = r->file;
		ret = tdpsim_replay_file(r->file, &opts, &r->result);
		if (t.progress && r->result.explore.schedules)
			fputs("\r\033[K", stderr);
		if (ret < 0) {
			fprintf(stderr, "%s: error: %s\n", r->file, tdpsim_strerror(ret));
			r->result.status = TDPSIM_REPLAY_INTERNAL;
		}
		if (!t.quiet && !t.report && opts.mode == TDPSIM_REPLAY_EXPLORE &&
		    r->result.explore.schedules)
			fprintf(stderr, "%s: %s (%llu schedules, %llu distinct, %llu steps; %u events, %u expectations)\n",
				r->file, status_name(r->result.status),
				(unsigned long long)r->result.explore.schedules,
				(unsigned long long)r->result.explore.distinct,
				(unsigned long long)r->result.explore.steps,
				r->result.events, r->result.expectations);
		else if (!t.quiet && !t.report)
			fprintf(stderr, "%s: %s (%u events, %u expectations)\n",
				r->file, status_name(r->result.status),
				r->result.events, r->result.expectations);
		/* Worst first: internal error, bad input, failure. */
		if (r->result.status == TDPSIM_REPLAY_INTERNAL)
			worst = 3;
		else if (r->result.status == TDPSIM_REPLAY_BAD_INPUT && worst != 3)
			worst = 2;
		else if (r->result.status == TDPSIM_REPLAY_FAILED && worst == 0)
			worst = 1;
	}
	tdpsim_thread_unregister();
	if (t.oom)
		worst = 3;
	if (t.report)
		print_report(&t, reps, nr_traces);
	if (json) {
		int ret = write_json(json, reps, nr_traces, worst, &opts);

		if (ret < 0) {
			fprintf(stderr, "tdpsim-replay: error: cannot write %s: %s\n",
				json, strerror(-ret));
			worst = worst > 2 ? worst : 2;
		}
	}
	for (size_t i = 0; i < nr_traces; i++) {
		for (size_t d = 0; d < reps[i].nr_diags; d++) {
			free(reps[i].diags[d].id);
			free(reps[i].diags[d].message);
		}
		free(reps[i].diags);
	}
	free(reps);
	free(policies);
	return worst;

bad_option:
	free(policies);
	return 2;
}
