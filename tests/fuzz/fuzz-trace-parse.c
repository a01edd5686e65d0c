/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz-trace-parse.c - libFuzzer target for the trace parser.
 *
 * Any input must come back as a trace or as an error, never as a crash, a
 * leak or a sanitizer report. A parsed trace is walked so every decoded
 * field is read, and its invariants are checked: records in line order,
 * previous-event indices pointing backwards at events, errors with a line
 * and a NUL-terminated message.
 *
 * Built with -fsanitize=fuzzer it is a libFuzzer target. Built with
 * -DTDPSIM_FUZZ_STANDALONE it is a plain program that feeds each file named
 * on its command line to the target once, so the test suite can replay the
 * corpus (tests/fuzz/corpus/) without libFuzzer.
 */
#ifdef TDPSIM_FUZZ_STANDALONE
#include <dirent.h>
#endif
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Abort, so the fuzzer reports it, if @cond is false. */
#define FUZZ_CHECK(cond)                                                \
	do {                                                            \
		if (!(cond)) {                                          \
			fprintf(stderr, "%s:%d: check failed: %s\n",    \
				__FILE__, __LINE__, #cond);             \
			abort();                                        \
		}                                                       \
	} while (0)

static void check_trace(const struct trace *t)
{
	unsigned int line = t->vm.line;

	FUZZ_CHECK(t->name && !strcmp(t->name, "fuzz.trace"));
	FUZZ_CHECK(t->vm.line >= 1);
	FUZZ_CHECK(t->vm.vcpus >= 1 && t->vm.vcpus <= TDPSIM_MAX_VCPUS);
	FUZZ_CHECK(t->vm.levels == 4 || t->vm.levels == 5);
	for (size_t i = 0; i < t->nr_policies; i++)
		FUZZ_CHECK(strlen(t->policies[i].key) +
				   strlen(t->policies[i].value) <
			   TRACE_MAX_LINE);
	for (size_t i = 0; i < t->nr_records; i++) {
		const struct trace_record *r = &t->records[i];
		uint64_t pages;

		FUZZ_CHECK(r->line > line);
		line = r->line;
		FUZZ_CHECK(r->verb > TRACE_POLICY && r->verb < TRACE_VERB_NR);
		FUZZ_CHECK(strcmp(trace_verb_name(r->verb), "?"));
		FUZZ_CHECK(r->prev_event == TRACE_NO_EVENT ||
			   (r->prev_event < i && trace_verb_is_event(
				t->records[r->prev_event].verb)));
		FUZZ_CHECK(r->prev_actor_event == TRACE_NO_EVENT ||
			   (r->prev_actor_event <= r->prev_event &&
			    r->prev_event != TRACE_NO_EVENT));
		if (r->actor.kind == TRACE_ACTOR_VCPU)
			FUZZ_CHECK(r->actor.index < t->vm.vcpus);
		switch (r->verb) {
		case TRACE_FAULT:
			FUZZ_CHECK(r->u.fault.gfn < TRACE_GFN_LIMIT);
			FUZZ_CHECK(r->actor.kind == TRACE_ACTOR_VCPU);
			break;
		case TRACE_CONVERT:
		case TRACE_PREFAULT:
		case TRACE_INVALIDATE:
		case TRACE_POPULATE:
			FUZZ_CHECK(r->u.range.gfn <= TRACE_GFN_LIMIT);
			FUZZ_CHECK(r->u.range.pages <=
				   TRACE_GFN_LIMIT - r->u.range.gfn);
			break;
		case TRACE_SLOT:
			FUZZ_CHECK(r->u.slot.pages <=
				   TRACE_GFN_LIMIT - r->u.slot.gfn);
			FUZZ_CHECK(!(r->u.slot.offset & 4095));
			break;
		case TRACE_ACCEPT:
			pages = tdpsim_pages_per_level(r->u.accept.level);
			FUZZ_CHECK(!(r->u.accept.gfn & (pages - 1)));
			break;
		case TRACE_CLEAR_DIRTY:
			FUZZ_CHECK(r->u.clear_dirty.first % 64 == 0);
			break;
		case TRACE_INJECT_SEAMCALL:
			FUZZ_CHECK(r->u.seamcall.leaf && r->u.seamcall.status);
			FUZZ_CHECK(r->u.seamcall.count >= 1);
			FUZZ_CHECK(strlen(r->u.seamcall.leaf->name) > 0);
			break;
		case TRACE_EXPECT_RESULT:
		case TRACE_EXPECT_VIOLATION:
			FUZZ_CHECK(r->prev_event != TRACE_NO_EVENT);
			break;
		default:
			break;
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct trace_error err;
	struct trace *t = NULL;
	int ret;

	ret = trace_parse_string("fuzz.trace", (const char *)data, size, &t,
				 &err);
	if (ret) {
		FUZZ_CHECK(ret == -EINVAL || ret == -ENOMEM);
		FUZZ_CHECK(!t);
		FUZZ_CHECK(err.line >= 1);
		FUZZ_CHECK(memchr(err.msg, '\0', sizeof(err.msg)));
		FUZZ_CHECK(err.msg[0]);
		FUZZ_CHECK(!strcmp(err.file, "fuzz.trace"));
		return 0;
	}
	check_trace(t);
	trace_free(t);
	return 0;
}

#ifdef TDPSIM_FUZZ_STANDALONE
/* Run the target once on the file @path; 0, or 1 if it cannot be read. */
static int run_file(const char *path)
{
	size_t len = 0, cap = 0;
	uint8_t *buf = NULL;
	FILE *f = fopen(path, "rb");

	if (!f) {
		perror(path);
		return 1;
	}
	for (;;) {
		size_t n;

		if (len == cap) {
			uint8_t *nbuf;

			cap = cap ? cap * 2 : 4096;
			nbuf = realloc(buf, cap);
			if (!nbuf) {
				fclose(f);
				free(buf);
				return 1;
			}
			buf = nbuf;
		}
		n = fread(buf + len, 1, cap - len, f);
		if (!n)
			break;
		len += n;
	}
	if (ferror(f)) {
		perror(path);
		fclose(f);
		free(buf);
		return 1;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(buf, len);
	free(buf);
	return 0;
}

/*
 * Run the target once on each file named on the command line, and on each
 * regular file in each directory named (not recursively), as libFuzzer
 * does with a corpus.
 */
int main(int argc, char **argv)
{
	unsigned int nr = 0;
	int ret = 0;

	for (int i = 1; i < argc; i++) {
		struct dirent *de;
		DIR *d = opendir(argv[i]);

		if (!d) {
			ret |= run_file(argv[i]);
			nr++;
			continue;
		}
		while ((de = readdir(d))) {
			char path[4096];

			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", argv[i],
				 de->d_name);
			ret |= run_file(path);
			nr++;
		}
		closedir(d);
	}
	printf("%u inputs run\n", nr);
	return ret;
}
#endif
