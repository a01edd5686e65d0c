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
#include <unistd.h>

#include <tdpsim/tdpsim.h>

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

static int write_json(const char *path, const struct trace_report *reps,
		      size_t n, int exit_code)
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

int main(int argc, char **argv)
{
	enum { OPT_CHECK = 256, OPT_POLICY, OPT_JSON, OPT_QUIET, OPT_HELP, OPT_REPORT };
	static const struct option longopts[] = {
		{ "check", required_argument, NULL, OPT_CHECK },
		{ "policy", required_argument, NULL, OPT_POLICY },
		{ "json", required_argument, NULL, OPT_JSON },
		{ "quiet", no_argument, NULL, OPT_QUIET },
		{ "report", no_argument, NULL, OPT_REPORT },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	struct tdpsim_replay_options opts;
	struct trace_report *reps = NULL;
	const char **policies = NULL;
	size_t nr_policies = 0, nr_traces;
	const char *json = NULL;
	struct tool t = { 0 };
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
		default:
			fprintf(stderr, "tdpsim-replay: error: unknown or incomplete option '%s'\n",
				argv[optind - 1]);
			usage(stderr);
			free(policies);
			return 2;
		}
	}
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
		ret = tdpsim_replay_file(r->file, &opts, &r->result);
		if (ret < 0) {
			fprintf(stderr, "%s: error: %s\n", r->file, tdpsim_strerror(ret));
			r->result.status = TDPSIM_REPLAY_INTERNAL;
		}
		if (!t.quiet && !t.report)
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
		int ret = write_json(json, reps, nr_traces, worst);

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
}
