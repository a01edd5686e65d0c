/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The trace-format-1 parser (lib/trace_parse.c, lib/trace_lex.c): valid
 * traces decode to the right fields and defaults, and every class of bad
 * input is reported at the right line with the right message. The
 * malformed corpus in tests/malformed/ is replayed here too: each file
 * starts with "# expect-error: LINE: substring".
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <tdpsim/error.h>
#include <tdpsim/stats.h>

#include "trace_lex.h"
#include "trace_parse.h"

#ifndef TDPSIM_SRCDIR
#define TDPSIM_SRCDIR "."
#endif

/* Parse @text, which must be valid; print the error if it is not. */
static struct trace *parse_ok(const char *text)
{
	struct trace_error err;
	struct trace *t = NULL;
	int ret;

	ret = trace_parse_string("test.trace", text, strlen(text), &t, &err);
	if (ret)
		print_error("%s:%u:%u: %s\n", err.file, err.line, err.column,
			    err.msg);
	assert_int_equal(ret, 0);
	assert_non_null(t);
	return t;
}

/* Parse @text, which must fail at @line with a message containing @sub. */
static void parse_bad(const char *text, unsigned int line, const char *sub)
{
	struct trace_error err;
	struct trace *t = NULL;
	int ret;

	ret = trace_parse_string("bad.trace", text, strlen(text), &t, &err);
	assert_int_equal(ret, -EINVAL);
	assert_null(t);
	if (err.line != line || !strstr(err.msg, sub))
		print_error("want %u: %s\n got %u: %s\n", line, sub, err.line,
			    err.msg);
	assert_int_equal(err.line, line);
	assert_non_null(strstr(err.msg, sub));
	assert_string_equal(err.file, "bad.trace");
}

#define HDR "tdpsim-trace 1\n"

/* trace-format.md, "Example", verbatim. */
static const char spec_example[] =
	"tdpsim-trace 1\n"
	"vm type=tdx vcpus=2\n"
	"policy tdx.huge=on\n"
	"gmem 0 size=1G huge=2M\n"
	"slot 0 gfn=0x0 pages=262144 gmem=0\n"
	"convert gfn=0x0 pages=262144 private\n"
	"finalize\n"
	"vcpu0 fault gfn=0x200 private        # maps the 2M page at 0x200 PENDING\n"
	"expect mapped gfn=0x3ff level=2M\n"
	"vcpu1 accept gfn=0x201 level=4K      # guest accepts 4K: KVM splits, inhibits\n"
	"expect result=ok\n"
	"expect mapped gfn=0x3ff level=4K\n"
	"expect stat seamcall.PAGE.DEMOTE == 1\n"
	"convert gfn=0x300 pages=1 shared     # precise zap of one private 4K page\n"
	"expect unmapped gfn=0x300 private\n"
	"expect mapped gfn=0x301 level=4K\n"
	"destroy\n";

static void test_trace_parse_spec_example(void **state)
{
	struct trace *t = parse_ok(spec_example);
	const struct trace_record *r = t->records;
	enum tdpsim_stat demote;

	(void)state;
	assert_string_equal(t->name, "test.trace");
	assert_int_equal(t->vm.type, TDPSIM_VM_TDX);
	assert_int_equal(t->vm.vcpus, 2);
	assert_int_equal(t->vm.levels, 4);
	assert_int_equal(t->vm.attrs, TDPSIM_ATTRS_VM);
	assert_int_equal(t->vm.line, 2);
	assert_int_equal(t->nr_policies, 1);
	assert_string_equal(t->policies[0].key, "tdx.huge");
	assert_string_equal(t->policies[0].value, "on");
	assert_int_equal(t->policies[0].line, 3);
	assert_int_equal(t->nr_records, 14);

	assert_int_equal(r[0].verb, TRACE_GMEM);
	assert_int_equal(r[0].line, 4);
	assert_int_equal(r[0].actor.kind, TRACE_ACTOR_VMM);
	assert_false(r[0].actor.explicit_);
	assert_int_equal(r[0].u.gmem.id, 0);
	assert_true(r[0].u.gmem.size == 1ull << 30);
	assert_int_equal(r[0].u.gmem.huge, TDPSIM_LEVEL_2M);
	assert_false(r[0].u.gmem.init_shared);
	assert_true(r[0].prev_event == TRACE_NO_EVENT);

	assert_int_equal(r[1].verb, TRACE_SLOT);
	assert_int_equal(r[1].u.slot.gfn, 0);
	assert_int_equal(r[1].u.slot.pages, 262144);
	assert_int_equal(r[1].u.slot.gmem_id, 0);
	assert_int_equal(r[1].u.slot.offset, 0);
	assert_int_equal(r[1].u.slot.host_page, TDPSIM_LEVEL_4K);
	assert_false(r[1].u.slot.readonly);

	assert_int_equal(r[2].verb, TRACE_CONVERT);
	assert_true(r[2].u.range.private_mem);
	assert_int_equal(r[2].u.range.pages, 262144);
	assert_int_equal(r[3].verb, TRACE_FINALIZE);

	assert_int_equal(r[4].verb, TRACE_FAULT);
	assert_int_equal(r[4].line, 8);
	assert_int_equal(r[4].actor.kind, TRACE_ACTOR_VCPU);
	assert_int_equal(r[4].actor.index, 0);
	assert_true(r[4].actor.explicit_);
	assert_int_equal(r[4].u.fault.gfn, 0x200);
	assert_int_equal(r[4].u.fault.kind, TDPSIM_FAULT_PRIVATE);
	assert_int_equal(r[4].u.fault.access, TDPSIM_ACCESS_WRITE);

	/* expect mapped: view defaults to private on tdx. */
	assert_int_equal(r[5].verb, TRACE_EXPECT_MAPPED);
	assert_int_equal(r[5].u.map.gfn, 0x3ff);
	assert_int_equal(r[5].u.map.level, TDPSIM_LEVEL_2M);
	assert_int_equal(r[5].u.map.kind, TDPSIM_FAULT_PRIVATE);

	assert_int_equal(r[6].verb, TRACE_ACCEPT);
	assert_int_equal(r[6].actor.index, 1);
	assert_int_equal(r[6].u.accept.gfn, 0x201);
	assert_int_equal(r[6].u.accept.level, TDPSIM_LEVEL_4K);

	/*
	 * expect result=ok (vmm): sequentially it checks vcpu1's accept;
	 * concurrently, vmm's own previous event, finalize.
	 */
	assert_int_equal(r[7].verb, TRACE_EXPECT_RESULT);
	assert_int_equal(r[7].u.result.kind, TRACE_RESULT_OK);
	assert_int_equal(r[7].prev_event, 6);
	assert_int_equal(r[7].prev_actor_event, 3);

	assert_int_equal(r[9].verb, TRACE_EXPECT_STAT);
	assert_int_equal(tdpsim_stat_from_name("seamcall.PAGE.DEMOTE", &demote),
			 0);
	assert_int_equal(r[9].u.stat.stat, demote);
	assert_int_equal(r[9].u.stat.op, TRACE_CMP_EQ);
	assert_int_equal(r[9].u.stat.value, 1);

	assert_int_equal(r[10].verb, TRACE_CONVERT);
	assert_false(r[10].u.range.private_mem);
	assert_int_equal(r[11].verb, TRACE_EXPECT_UNMAPPED);
	assert_int_equal(r[11].u.map.kind, TDPSIM_FAULT_PRIVATE);
	assert_int_equal(r[11].u.map.level, 0);
	assert_int_equal(r[13].verb, TRACE_DESTROY);
	assert_int_equal(r[13].line, 17);

	assert_true(t->vcpus_used == 3);
	assert_true(t->vmms_used == 1);
	assert_false(t->host_used);
	trace_free(t);
}

/* The example as it stands in the spec itself, when shared/ is beside us. */
static void test_trace_parse_spec_file_example(void **state)
{
	const char *path = TDPSIM_SRCDIR "/../shared/spec/trace-format.md";
	char *buf, *start, *end;
	struct trace *t;
	FILE *f;
	long n;

	(void)state;
	f = fopen(path, "rb");
	if (!f)
		return;		/* not beside a checkout of shared/ */
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	buf = calloc(1, (size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	start = strstr(buf, "## Example");
	assert_non_null(start);
	start = strstr(start, "```\n");
	assert_non_null(start);
	start += 4;
	end = strstr(start, "```");
	assert_non_null(end);
	*end = '\0';
	t = parse_ok(start);
	assert_int_equal(t->nr_records, 14);
	trace_free(t);
	free(buf);
}

/* Every example in docs/trace-format.md that is a whole trace parses. */
static void test_trace_parse_docs_examples(void **state)
{
	const char *path = TDPSIM_SRCDIR "/docs/trace-format.md";
	char *buf, *p;
	unsigned int found = 0;
	FILE *f;
	long n;

	(void)state;
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	rewind(f);
	buf = calloc(1, (size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	for (p = buf; (p = strstr(p, "```\ntdpsim-trace 1\n"));) {
		char *end;
		struct trace *t;

		p += 4;
		end = strstr(p, "```");
		assert_non_null(end);
		*end = '\0';
		t = parse_ok(p);
		trace_free(t);
		p = end + 1;
		found++;
	}
	assert_true(found >= 3);
	free(buf);
}

static void test_trace_parse_defaults(void **state)
{
	struct trace *t;
	const struct trace_record *r;

	(void)state;
	t = parse_ok(HDR
		     "vm type=sw-protected\n"
		     "gmem 3 size=8K\n"
		     "slot 1 gfn=16 pages=2\n"
		     "vcpu0 fault gfn=16\n"
		     "poison gmem=3 offset=4K\n"
		     "invalidate gfn=0 pages=1\n"
		     "inject alloc-fail\n"
		     "expect max-level gfn=16 level=1\n"
		     "dirty-log slot=1 on\n");
	assert_int_equal(t->vm.type, TDPSIM_VM_SW_PROTECTED);
	assert_int_equal(t->vm.levels, 4);
	assert_int_equal(t->vm.vcpus, 1);
	assert_int_equal(t->vm.attrs, TDPSIM_ATTRS_VM);
	assert_int_equal(t->nr_policies, 0);
	r = t->records;
	assert_int_equal(r[0].u.gmem.id, 3);
	assert_int_equal(r[0].u.gmem.size, 8192);
	assert_int_equal(r[0].u.gmem.huge, TDPSIM_LEVEL_4K);
	assert_int_equal(r[1].u.slot.gmem_id, -1);
	assert_int_equal(r[1].u.slot.host_page, TDPSIM_LEVEL_4K);
	/* sw-protected: the GFN's attribute decides when the fault runs. */
	assert_int_equal(r[2].u.fault.kind, TDPSIM_FAULT_DEFAULT);
	assert_int_equal(r[2].u.fault.access, TDPSIM_ACCESS_WRITE);
	assert_int_equal(r[3].verb, TRACE_POISON);
	assert_int_equal(r[3].actor.kind, TRACE_ACTOR_HOST);
	assert_false(r[3].actor.explicit_);
	assert_int_equal(r[3].u.gmem_range.gmem_id, 3);
	assert_int_equal(r[3].u.gmem_range.offset, 4096);
	assert_int_equal(r[3].u.gmem_range.len, 4096);
	assert_int_equal(r[4].actor.kind, TRACE_ACTOR_HOST);
	assert_int_equal(r[5].actor.kind, TRACE_ACTOR_VMM);
	assert_int_equal(r[5].u.alloc_fail.after, 0);
	assert_int_equal(r[5].u.alloc_fail.count, 1);
	assert_int_equal(r[6].u.map.kind, TDPSIM_FAULT_DEFAULT);
	assert_int_equal(r[6].u.map.level, TDPSIM_LEVEL_4K);
	assert_true(r[7].u.dirty_log.on);
	assert_false(r[7].u.dirty_log.manual);
	assert_true(t->host_used);
	trace_free(t);

	/* default VMs fault shared; tdx private (see the spec example). */
	t = parse_ok(HDR "vm type=default\nvcpu0 fault gfn=1 read\n"
		     "expect unmapped gfn=1\n");
	assert_int_equal(t->records[0].u.fault.kind, TDPSIM_FAULT_SHARED);
	assert_int_equal(t->records[0].u.fault.access, TDPSIM_ACCESS_READ);
	assert_int_equal(t->records[1].u.map.kind, TDPSIM_FAULT_SHARED);
	trace_free(t);
}

/* Every record, every argument, none left at its default. */
static void test_trace_parse_every_record(void **state)
{
	struct trace *t;
	const struct trace_record *r;
	enum tdpsim_stat st;

	(void)state;
	t = parse_ok(HDR
		     "policy split.boundary=walk mmu.eager-split=off\n"
		     "vm type=tdx levels=5 vcpus=4 attrs=gmem\n"
		     "policy tdx.dpamt=on\n"
		     "gmem 7 size=0x2M huge=1G init-shared\n"
		     "slot 2 gfn=0x100 pages=0x200 gmem=7 offset=1M host-page=2 readonly\n"
		     "allocate gmem=7 offset=0 len=2M\n"
		     "punch gmem=7 offset=4K len=8K\n"
		     "convert gfn=0x100 pages=512 private\n"
		     "populate gfn=0x100 pages=1\n"
		     "finalize\n"
		     "vcpu3 fault gfn=0x101 shared exec\n"
		     "vcpu2 prefault gfn=0x100 pages=16\n"
		     "vcpu1 accept gfn=0x200 level=2M\n"
		     "dirty-log slot=2 on manual\n"
		     "clear-dirty slot=2 first=128 mask=0xffff0000ffff0000\n"
		     "dirty-log slot=2 off\n"
		     "vmm1 invalidate gfn=0x100 pages=4\n"
		     "inject alloc-fail after=2 count=3\n"
		     "host inject seamcall=TDH.MEM.PAGE.DEMOTE status=TDX_OPERAND_BUSY count=2\n"
		     "inject seamcall=PAGE.RECLAIM status=0x800002000000000c\n"
		     "vmm2 poison gmem=7 offset=0x3000\n"
		     "check\n"
		     "vcpu1 mark\n"
		     "barrier\n"
		     "expect result=error:EHWPOISON\n"
		     "expect result=exit-memory-fault\n"
		     "expect result=emulate\n"
		     "expect result=already-accepted\n"
		     "expect result=size-mismatch\n"
		     "expect mapped gfn=0x200 level=1G shared\n"
		     "expect max-level gfn=0x200 level=3 private\n"
		     "expect sept gfn=0x200 level=2M state=PENDING_BLOCKED\n"
		     "expect stat pt.live >= 0x10\n"
		     "vcpu3 expect violation boundary\n"
		     "slot-delete 2\n"
		     "destroy\n"
		     "expect violation leak\n"
		     "check\n"
		     "mark\n");
	assert_int_equal(t->vm.type, TDPSIM_VM_TDX);
	assert_int_equal(t->vm.levels, 5);
	assert_int_equal(t->vm.vcpus, 4);
	assert_int_equal(t->vm.attrs, TDPSIM_ATTRS_GMEM);
	assert_int_equal(t->vm.line, 3);
	assert_int_equal(t->nr_policies, 3);
	assert_string_equal(t->policies[1].key, "mmu.eager-split");
	assert_string_equal(t->policies[1].value, "off");
	assert_int_equal(t->policies[1].line, 2);
	assert_string_equal(t->policies[2].key, "tdx.dpamt");
	assert_int_equal(t->policies[2].line, 4);
	assert_int_equal(t->nr_records, 36);
	r = t->records;

	assert_int_equal(r[0].u.gmem.id, 7);
	assert_int_equal(r[0].u.gmem.size, 2 << 20);
	assert_int_equal(r[0].u.gmem.huge, TDPSIM_LEVEL_1G);
	assert_true(r[0].u.gmem.init_shared);

	assert_int_equal(r[1].u.slot.id, 2);
	assert_int_equal(r[1].u.slot.gfn, 0x100);
	assert_int_equal(r[1].u.slot.pages, 0x200);
	assert_int_equal(r[1].u.slot.gmem_id, 7);
	assert_int_equal(r[1].u.slot.offset, 1 << 20);
	assert_int_equal(r[1].u.slot.host_page, TDPSIM_LEVEL_2M);
	assert_true(r[1].u.slot.readonly);

	assert_int_equal(r[2].verb, TRACE_ALLOCATE);
	assert_int_equal(r[2].u.gmem_range.len, 2 << 20);
	assert_int_equal(r[3].verb, TRACE_PUNCH);
	assert_int_equal(r[3].u.gmem_range.offset, 4096);
	assert_int_equal(r[3].u.gmem_range.len, 8192);
	assert_int_equal(r[5].verb, TRACE_POPULATE);
	assert_int_equal(r[5].u.range.gfn, 0x100);
	assert_int_equal(r[5].u.range.pages, 1);

	assert_int_equal(r[7].u.fault.gfn, 0x101);
	assert_int_equal(r[7].u.fault.kind, TDPSIM_FAULT_SHARED);
	assert_int_equal(r[7].u.fault.access, TDPSIM_ACCESS_EXEC);
	assert_int_equal(r[7].actor.index, 3);
	assert_int_equal(r[8].verb, TRACE_PREFAULT);
	assert_int_equal(r[8].u.range.pages, 16);
	assert_int_equal(r[9].u.accept.level, TDPSIM_LEVEL_2M);

	assert_true(r[10].u.dirty_log.on);
	assert_true(r[10].u.dirty_log.manual);
	assert_int_equal(r[10].u.dirty_log.slot_id, 2);
	assert_int_equal(r[11].u.clear_dirty.first, 128);
	assert_true(r[11].u.clear_dirty.mask == 0xffff0000ffff0000ull);
	assert_false(r[12].u.dirty_log.on);

	assert_int_equal(r[13].verb, TRACE_INVALIDATE);
	assert_int_equal(r[13].actor.kind, TRACE_ACTOR_VMM);
	assert_int_equal(r[13].actor.index, 1);
	assert_true(r[13].actor.explicit_);
	assert_int_equal(r[14].u.alloc_fail.after, 2);
	assert_int_equal(r[14].u.alloc_fail.count, 3);

	assert_int_equal(r[15].verb, TRACE_INJECT_SEAMCALL);
	assert_int_equal(r[15].actor.kind, TRACE_ACTOR_HOST);
	assert_string_equal(r[15].u.seamcall.leaf->name, "PAGE.DEMOTE");
	assert_int_equal(r[15].u.seamcall.leaf->nr, 15);
	assert_string_equal(r[15].u.seamcall.status->name, "OPERAND_BUSY");
	assert_true(r[15].u.seamcall.status_code == 0x8000020000000000ull);
	assert_int_equal(r[15].u.seamcall.count, 2);
	assert_string_equal(r[16].u.seamcall.leaf->full_name,
			    "TDH.PHYMEM.PAGE.RECLAIM");
	assert_int_equal(r[16].u.seamcall.leaf->nr, 28);
	assert_string_equal(r[16].u.seamcall.status->name, "OPERAND_BUSY");
	assert_true(r[16].u.seamcall.status_code == 0x800002000000000cull);
	assert_int_equal(r[16].u.seamcall.count, 1);

	assert_int_equal(r[17].actor.index, 2);
	assert_int_equal(r[17].u.gmem_range.offset, 0x3000);
	assert_int_equal(r[18].verb, TRACE_CHECK);
	assert_int_equal(r[19].verb, TRACE_MARK);
	assert_int_equal(r[19].actor.kind, TRACE_ACTOR_VCPU);
	assert_int_equal(r[20].verb, TRACE_BARRIER);

	assert_int_equal(r[21].u.result.kind, TRACE_RESULT_ERROR);
	assert_int_equal(r[21].u.result.err, -EHWPOISON);
	assert_int_equal(r[22].u.result.kind, TRACE_RESULT_EXIT_MEMORY_FAULT);
	assert_int_equal(r[23].u.result.kind, TRACE_RESULT_EMULATE);
	assert_int_equal(r[24].u.result.kind, TRACE_RESULT_ALREADY_ACCEPTED);
	assert_int_equal(r[25].u.result.kind, TRACE_RESULT_SIZE_MISMATCH);
	assert_int_equal(r[25].u.result.err, 0);

	assert_int_equal(r[26].u.map.level, TDPSIM_LEVEL_1G);
	assert_int_equal(r[26].u.map.kind, TDPSIM_FAULT_SHARED);
	assert_int_equal(r[27].verb, TRACE_EXPECT_MAX_LEVEL);
	assert_int_equal(r[27].u.map.level, TDPSIM_LEVEL_1G);
	assert_int_equal(r[27].u.map.kind, TDPSIM_FAULT_PRIVATE);
	assert_int_equal(r[28].u.sept.gfn, 0x200);
	assert_int_equal(r[28].u.sept.level, TDPSIM_LEVEL_2M);
	assert_int_equal(r[28].u.sept.state, TRACE_SEPT_PENDING_BLOCKED);
	assert_int_equal(tdpsim_stat_from_name("pt.live", &st), 0);
	assert_int_equal(r[29].u.stat.stat, st);
	assert_int_equal(r[29].u.stat.op, TRACE_CMP_GE);
	assert_int_equal(r[29].u.stat.value, 16);
	assert_int_equal(r[30].u.violation, TRACE_INV_BOUNDARY);
	assert_int_equal(r[30].actor.index, 3);
	/* vcpu3's own previous event is its fault. */
	assert_int_equal(r[30].prev_event, 20);
	assert_int_equal(r[30].prev_actor_event, 7);
	assert_int_equal(r[31].verb, TRACE_SLOT_DELETE);
	assert_int_equal(r[31].u.slot_delete_id, 2);
	assert_int_equal(r[33].u.violation, TRACE_INV_LEAK);
	assert_int_equal(r[33].prev_event, 32);
	assert_int_equal(r[34].verb, TRACE_CHECK);
	assert_int_equal(r[35].verb, TRACE_MARK);

	assert_true(t->vcpus_used == 0xe);
	assert_true(t->vmms_used == 0x7);
	assert_true(t->host_used);
	trace_free(t);
}

/* Previous events: in file order, and per actor; expectations are not. */
static void test_trace_parse_previous_events(void **state)
{
	struct trace *t;
	const struct trace_record *r;

	(void)state;
	t = parse_ok(HDR "vm type=default vcpus=2\n"
		     "vcpu0 fault gfn=1\n"		/* 0 */
		     "vcpu1 fault gfn=2\n"		/* 1 */
		     "vcpu0 expect result=ok\n"		/* 2 */
		     "expect result=emulate\n"		/* 3 */
		     "vmm1 check\n"			/* 4 */
		     "vcpu1 expect violation lock\n"	/* 5 */
		     "expect stat fault == 2\n");	/* 6 */
	r = t->records;
	assert_int_equal(r[0].prev_event, TRACE_NO_EVENT);
	assert_int_equal(r[1].prev_event, 0);
	assert_int_equal(r[1].prev_actor_event, TRACE_NO_EVENT);
	assert_int_equal(r[2].prev_event, 1);
	assert_int_equal(r[2].prev_actor_event, 0);
	assert_int_equal(r[3].prev_event, 1);
	/* vmm0 has run no event: the engine decides what that means. */
	assert_int_equal(r[3].prev_actor_event, TRACE_NO_EVENT);
	assert_int_equal(r[4].prev_event, 1);
	assert_int_equal(r[5].prev_event, 4);
	assert_int_equal(r[5].prev_actor_event, 1);
	assert_int_equal(r[6].prev_event, 4);
	assert_true(trace_verb_is_event(TRACE_CHECK));
	assert_false(trace_verb_is_event(TRACE_EXPECT_STAT));
	trace_free(t);
}

static void test_trace_parse_lexer(void **state)
{
	uint64_t v;
	size_t bad;
	int level;

	(void)state;
	assert_int_equal(lex_u64("0", 1, &v, &bad), LEX_OK);
	assert_int_equal(v, 0);
	assert_int_equal(lex_u64("123", 3, &v, &bad), LEX_OK);
	assert_int_equal(v, 123);
	assert_int_equal(lex_u64("0x7b", 4, &v, &bad), LEX_OK);
	assert_int_equal(v, 123);
	assert_int_equal(lex_u64("0X7B", 4, &v, &bad), LEX_OK);
	assert_int_equal(v, 123);
	assert_int_equal(lex_u64("0xaBc", 5, &v, &bad), LEX_OK);
	assert_int_equal(v, 0xabc);
	assert_int_equal(lex_u64("18446744073709551615", 20, &v, &bad),
			 LEX_OK);
	assert_true(v == UINT64_MAX);
	assert_int_equal(lex_u64("0xffffffffffffffff", 18, &v, &bad), LEX_OK);
	assert_true(v == UINT64_MAX);
	assert_int_equal(lex_u64("0x0000000000000000001", 21, &v, &bad),
			 LEX_OK);
	assert_int_equal(v, 1);
	assert_int_equal(lex_u64("18446744073709551616", 20, &v, &bad),
			 LEX_OVERFLOW);
	assert_int_equal(lex_u64("99999999999999999999", 20, &v, &bad),
			 LEX_OVERFLOW);
	assert_int_equal(lex_u64("0x10000000000000000", 19, &v, &bad),
			 LEX_OVERFLOW);
	assert_int_equal(lex_u64("", 0, &v, &bad), LEX_EMPTY);
	assert_int_equal(lex_u64("0x", 2, &v, &bad), LEX_NO_HEX_DIGITS);
	assert_int_equal(lex_u64("0xg", 3, &v, &bad), LEX_NO_HEX_DIGITS);
	assert_int_equal(lex_u64("00", 2, &v, &bad), LEX_LEADING_ZERO);
	assert_int_equal(lex_u64("12a", 3, &v, &bad), LEX_BAD_DIGIT);
	assert_int_equal(bad, 2);
	assert_int_equal(lex_u64("+1", 2, &v, &bad), LEX_BAD_DIGIT);
	assert_int_equal(bad, 0);
	assert_int_equal(lex_u64("1K", 2, &v, &bad), LEX_BAD_DIGIT);
	/* The length bounds the token: "12" of "123". */
	assert_int_equal(lex_u64("123", 2, &v, &bad), LEX_OK);
	assert_int_equal(v, 12);

	assert_int_equal(lex_size("2M", 2, &v, &bad), LEX_OK);
	assert_int_equal(v, 2097152);
	assert_int_equal(lex_size("4096", 4, &v, &bad), LEX_OK);
	assert_int_equal(v, 4096);
	assert_int_equal(lex_size("1K", 2, &v, &bad), LEX_OK);
	assert_int_equal(v, 1024);
	assert_int_equal(lex_size("3G", 2, &v, &bad), LEX_OK);
	assert_true(v == 3ull << 30);
	assert_int_equal(lex_size("1T", 2, &v, &bad), LEX_OK);
	assert_true(v == 1ull << 40);
	assert_int_equal(lex_size("0x10K", 5, &v, &bad), LEX_OK);
	assert_int_equal(v, 16384);
	assert_int_equal(lex_size("16777215T", 9, &v, &bad), LEX_OK);
	assert_true(v == 16777215ull << 40);
	assert_int_equal(lex_size("16777216T", 9, &v, &bad), LEX_OVERFLOW);
	assert_int_equal(lex_size("2k", 2, &v, &bad), LEX_BAD_SUFFIX);
	assert_int_equal(lex_size("2P", 2, &v, &bad), LEX_BAD_SUFFIX);
	assert_int_equal(lex_size("2MB", 3, &v, &bad), LEX_BAD_SUFFIX);
	assert_int_equal(bad, 1);
	assert_int_equal(lex_size("2.5M", 4, &v, &bad), LEX_BAD_DIGIT);
	assert_int_equal(lex_size("M", 1, &v, &bad), LEX_BAD_DIGIT);
	assert_int_equal(lex_size("0xM", 3, &v, &bad), LEX_NO_HEX_DIGITS);

	assert_int_equal(lex_level("4K", 2, &level), LEX_OK);
	assert_int_equal(level, TDPSIM_LEVEL_4K);
	assert_int_equal(lex_level("2M", 2, &level), LEX_OK);
	assert_int_equal(level, TDPSIM_LEVEL_2M);
	assert_int_equal(lex_level("1G", 2, &level), LEX_OK);
	assert_int_equal(level, TDPSIM_LEVEL_1G);
	assert_int_equal(lex_level("1", 1, &level), LEX_OK);
	assert_int_equal(level, TDPSIM_LEVEL_4K);
	assert_int_equal(lex_level("2", 1, &level), LEX_OK);
	assert_int_equal(level, TDPSIM_LEVEL_2M);
	assert_int_equal(lex_level("3", 1, &level), LEX_OK);
	assert_int_equal(level, TDPSIM_LEVEL_1G);
	assert_int_equal(lex_level("4", 1, &level), LEX_BAD_LEVEL);
	assert_int_equal(lex_level("0", 1, &level), LEX_BAD_LEVEL);
	assert_int_equal(lex_level("512G", 4, &level), LEX_BAD_LEVEL);
	assert_int_equal(lex_level("4k", 2, &level), LEX_BAD_LEVEL);
	assert_int_equal(lex_level("4KK", 3, &level), LEX_BAD_LEVEL);
	assert_int_equal(lex_level("", 0, &level), LEX_EMPTY);
}

/* Lines: \r\n, comments, blanks, tabs, no final newline, 4096 bytes. */
static void test_trace_parse_lines(void **state)
{
	char *text;
	struct trace *t;
	size_t n;

	(void)state;
	t = parse_ok("# leading comment\r\n"
		     "\r\n"
		     "\t tdpsim-trace\t1   # header\r\n"
		     "   \t\r\n"
		     "vm type=default#no space before the comment\r\n"
		     "vcpu0\tfault\tgfn=5\t\twrite\r\n"
		     "# trailing\r\n"
		     "check");
	assert_int_equal(t->vm.line, 5);
	assert_int_equal(t->nr_records, 2);
	assert_int_equal(t->records[0].line, 6);
	assert_int_equal(t->records[0].u.fault.gfn, 5);
	assert_int_equal(t->records[1].line, 8);
	trace_free(t);

	/* A line of exactly TRACE_MAX_LINE bytes, then one byte more. */
	text = malloc(3 * TRACE_MAX_LINE);
	assert_non_null(text);
	n = (size_t)sprintf(text, HDR "vm type=default\ncheck ");
	memset(text + n, ' ', TRACE_MAX_LINE - 6 - 1);
	n += TRACE_MAX_LINE - 6 - 1;
	text[n++] = '#';
	strcpy(text + n, "\r\ncheck\n");
	t = parse_ok(text);
	assert_int_equal(t->nr_records, 2);
	trace_free(t);
	strcpy(text + n, "x\r\ncheck\n");
	parse_bad(text, 3, "line is 4097 bytes long; the limit is 4096");
	free(text);

	parse_bad("", 1, "empty file: expected the header 'tdpsim-trace 1'");
	parse_bad("\n\n# only a comment\n", 1, "no records");
	parse_bad(HDR, 1, "missing 'vm' record");
	parse_bad(HDR "\n\n", 3, "missing 'vm' record");
	/* A lone \r is not a line end. */
	parse_bad(HDR "vm type=default\r", 2, "control character 0x0d");
	parse_bad(HDR "vm type=default\x0c\n", 2, "control character 0x0c");
	parse_bad(HDR "vm type=default\x7f\n", 2, "control character 0x7f");
	parse_bad(HDR "vm type=default # \xff\n", 2, "non-ASCII byte 0xff");
}

/* NUL bytes anywhere, even in comments; the text need not end in NUL. */
static void test_trace_parse_nul_and_length(void **state)
{
	static const char text[] = HDR "vm type=default # a\0b\ncheck\n";
	struct trace_error err;
	struct trace *t;

	(void)state;
	assert_int_equal(trace_parse_string("n.trace", text, sizeof(text) - 1,
					    &t, &err),
			 -EINVAL);
	assert_int_equal(err.line, 2);
	assert_int_equal(err.column, 20);
	assert_non_null(strstr(err.msg, "NUL byte in column 20"));

	/* Only the first len bytes count: the "check" is cut off. */
	assert_int_equal(trace_parse_string("n.trace", text, 31, &t, &err), 0);
	assert_int_equal(t->nr_records, 0);
	trace_free(t);
}

static void test_trace_parse_actors(void **state)
{
	struct trace *t;

	(void)state;
	t = parse_ok(HDR "vm type=default vcpus=64\n"
		     "vcpu63 fault gfn=0\n"
		     "vmm check\n"
		     "vmm0 mark\n"
		     "vmm63 barrier\n"
		     "host invalidate gfn=0 pages=1\n"
		     "vmm7 invalidate gfn=0 pages=1\n"
		     "host expect result=ok\n"
		     "vcpu5 check\n");
	assert_int_equal(t->records[0].actor.kind, TRACE_ACTOR_VCPU);
	assert_int_equal(t->records[0].actor.index, 63);
	assert_int_equal(t->records[1].actor.kind, TRACE_ACTOR_VMM);
	assert_int_equal(t->records[1].actor.index, 0);
	assert_true(t->records[1].actor.explicit_);
	assert_int_equal(t->records[2].actor.index, 0);
	assert_int_equal(t->records[3].actor.index, 63);
	assert_int_equal(t->records[4].actor.kind, TRACE_ACTOR_HOST);
	assert_int_equal(t->records[5].actor.kind, TRACE_ACTOR_VMM);
	assert_int_equal(t->records[5].actor.index, 7);
	assert_int_equal(t->records[6].prev_actor_event, 4);
	assert_true(t->vcpus_used == (1ull << 63 | 1ull << 5));
	assert_true(t->vmms_used == (1ull << 63 | 1ull << 7 | 1));
	trace_free(t);

	parse_bad(HDR "vm type=default\nvcpu1 fault gfn=0\n", 3,
		  "the VM has 1 vCPU (vcpu0 to vcpu0");
	parse_bad(HDR "vm type=default\nvcpu99999999999999999999 check\n", 3,
		  "bad actor");
	parse_bad(HDR "vm type=default\nvcpu check\n", 3, "bad actor 'vcpu'");
	parse_bad(HDR "vm type=default\nvmm01 check\n", 3, "bad actor 'vmm01'");
	parse_bad(HDR "vm type=default\nhost gmem 0 size=4K\n", 3,
		  "'gmem' is run by the VMM (vmm or vmmN), not by 'host'");
	parse_bad(HDR "vm type=default\nhost accept gfn=0 level=4K\n", 3,
		  "'accept' needs a tdx VM");
	parse_bad(HDR "host policy tdx.huge=on\n", 2,
		  "'policy' is a set-up record and takes no actor");
	parse_bad(HDR "vm type=default\nvcpu0 destroy\n", 3,
		  "'destroy' is run by the VMM");
	parse_bad(HDR "vm type=default\nvcpu0 inject alloc-fail\n", 3,
		  "'inject alloc-fail' is run by host or the VMM");
}

/* Set-up and lifecycle order. */
static void test_trace_parse_sections(void **state)
{
	struct trace *t;

	(void)state;
	/* policy may come before vm; a trace may have no events. */
	t = parse_ok(HDR "policy tdx.huge=on\nvm type=tdx\n"
		     "policy mmu.fault-retries=5\n");
	assert_int_equal(t->nr_policies, 2);
	assert_int_equal(t->nr_records, 0);
	trace_free(t);

	/* After destroy: expect, check and mark only. */
	t = parse_ok(HDR "vm type=default\ndestroy\nexpect result=ok\n"
		     "check\nmark\nexpect stat pt.live == 0\n"
		     "expect violation leak\n");
	assert_int_equal(t->nr_records, 6);
	trace_free(t);

	/* populate before finalize on tdx; vCPU records after. */
	t = parse_ok(HDR "vm type=tdx\ngmem 0 size=4K\n"
		     "slot 0 gfn=0 pages=1 gmem=0\npopulate gfn=0 pages=1\n"
		     "finalize\nvcpu0 prefault gfn=0 pages=1\n");
	assert_int_equal(t->nr_records, 5);
	trace_free(t);

	parse_bad(HDR "vm type=default\ncheck\nvm type=default\n", 4,
		  "'vm' is a set-up record: it must come before the first event (line 3)");
	parse_bad(HDR "vm type=default\ndestroy\nvcpu0 fault gfn=0\n", 4,
		  "'fault' after 'destroy' (line 3)");
	parse_bad(HDR "vm type=tdx\nvcpu0 accept gfn=0 level=4K\n", 3,
		  "before 'finalize'");
	parse_bad(HDR "vm type=tdx\nfinalize\ndestroy\nfinalize\n", 5,
		  "'finalize' after 'destroy'");
	parse_bad(HDR "vm type=sw-protected\nexpect sept gfn=0 level=4K state=FREE\n",
		  3, "'expect sept' needs a tdx VM");
}

/* IDs: references must follow a creation; re-creation is the model's. */
static void test_trace_parse_ids(void **state)
{
	struct trace *t;

	(void)state;
	t = parse_ok(HDR "vm type=sw-protected\n"
		     "gmem 0x10 size=4K\ngmem 16 size=4K\n"
		     "slot 2147483647 gfn=0 pages=1 gmem=16\n"
		     "slot-delete 2147483647\nslot-delete 2147483647\n"
		     "slot 2147483647 gfn=0 pages=1\n");
	assert_int_equal(t->records[0].u.gmem.id, 16);
	assert_int_equal(t->records[2].u.slot.id, 2147483647u);
	assert_int_equal(t->nr_records, 6);
	trace_free(t);

	parse_bad(HDR "vm type=default\nslot 0 gfn=0 pages=1\n"
		  "dirty-log slot=00 on\n", 4, "leading zero");
	parse_bad(HDR "vm type=default\nslot 0 gfn=0 pages=1\n"
		  "dirty-log slot=1 on\n", 4, "slot 1 was never created");
	parse_bad(HDR "vm type=default\ngmem 1 size=4K\n"
		  "punch gmem=0 offset=0 len=4K\n", 4,
		  "gmem 0 was never created");
}

/* Many IDs, sparse and dense: the ID sets grow and still find them all. */
static void test_trace_parse_many_ids(void **state)
{
	size_t cap = 200000, n;
	struct trace *t;
	char *text;
	unsigned int i;

	(void)state;
	text = malloc(cap);
	assert_non_null(text);
	n = (size_t)snprintf(text, cap, HDR "vm type=sw-protected\n");
	for (i = 0; i < 1000; i++)
		n += (size_t)snprintf(text + n, cap - n,
				      "gmem %u size=4K\nslot %u gfn=%u pages=1 gmem=%u\n",
				      i * 2654435u % 2147483647u, i, i,
				      i * 2654435u % 2147483647u);
	for (i = 0; i < 1000; i++)
		n += (size_t)snprintf(text + n, cap - n,
				      "poison gmem=%u offset=0\ndirty-log slot=%u on\n",
				      i * 2654435u % 2147483647u, 999 - i);
	t = parse_ok(text);
	assert_int_equal(t->nr_records, 4000);
	assert_int_equal(t->records[3999].u.dirty_log.slot_id, 0);
	trace_free(t);
	snprintf(text + n, cap - n, "slot-delete 1000\n");
	parse_bad(text, 4003, "slot 1000 was never created");
	snprintf(text + n, cap - n, "punch gmem=1 offset=0 len=4K\n");
	parse_bad(text, 4003, "gmem 1 was never created");
	free(text);
}

/* The GPA space ends at GFN 2^40; ranges may touch it, not cross it. */
static void test_trace_parse_ranges(void **state)
{
	struct trace *t;

	(void)state;
	t = parse_ok(HDR "vm type=sw-protected\n"
		     "vcpu0 fault gfn=0xffffffffff\n"
		     "convert gfn=0xfffffffe00 pages=0x200 private\n"
		     "convert gfn=0 pages=0x10000000000 shared\n"
		     "invalidate gfn=5 pages=0\n"
		     "gmem 0 size=0\n"
		     "allocate gmem=0 offset=0xffffffffffffe000 len=4K\n");
	assert_true(t->records[0].u.fault.gfn == 0xffffffffffull);
	assert_true(t->records[2].u.range.pages == 1ull << 40);
	trace_free(t);

	parse_bad(HDR "vm type=default\nexpect mapped gfn=0x10000000000 level=4K\n",
		  3, "beyond the 52-bit guest physical address space");
	parse_bad(HDR "vm type=default\nconvert gfn=1 pages=0x10000000000 shared\n",
		  3, "ends beyond the 52-bit");
	/* offset + len must itself fit in 64 bits. */
	parse_bad(HDR "vm type=default\ngmem 0 size=4K\n"
		  "allocate gmem=0 offset=0xfffffffffffff000 len=4K\n", 4,
		  "overflows 64 bits");
	parse_bad(HDR "vm type=tdx\nfinalize\nvcpu0 accept gfn=0x3 level=2\n",
		  4, "gfn=0x3 is not aligned to level 2M");
	parse_bad(HDR "vm type=default\nslot 0 gfn=0 pages=64\n"
		  "clear-dirty slot=0 first=100 mask=1\n", 4,
		  "first=100 is not a multiple of 64");
}

/* Every counter stats.h names, every invariant and every result. */
static void test_trace_parse_names(void **state)
{
	char buf[256];
	struct trace *t;
	unsigned int i;

	(void)state;
	for (i = 0; i < TDPSIM_STAT_NR; i++) {
		snprintf(buf, sizeof(buf),
			 HDR "vm type=default\nexpect stat %s != 7\n",
			 tdpsim_stat_name((enum tdpsim_stat)i));
		t = parse_ok(buf);
		assert_int_equal(t->records[0].u.stat.stat, i);
		assert_int_equal(t->records[0].u.stat.op, TRACE_CMP_NE);
		trace_free(t);
	}
	for (i = 0; i < TRACE_INV_NR; i++) {
		enum trace_invariant id;
		const char *name;

		snprintf(buf, sizeof(buf),
			 HDR "vm type=default\ncheck\nexpect violation %s\n",
			 trace_invariant_name((enum trace_invariant)i));
		t = parse_ok(buf);
		assert_int_equal(t->records[1].u.violation, i);
		trace_free(t);
		name = trace_invariant_name((enum trace_invariant)i);
		assert_int_equal(trace_invariant_from_name(name, &id), 0);
		assert_int_equal(id, i);
	}
	assert_null(trace_invariant_name(TRACE_INV_NR));
	assert_int_equal(trace_invariant_from_name("Leak", NULL), -ENOENT);
	for (i = 0; i < TRACE_CMP_NR; i++) {
		snprintf(buf, sizeof(buf),
			 HDR "vm type=default\nexpect stat fault %s 0x10\n",
			 trace_cmp_name((enum trace_cmp)i));
		t = parse_ok(buf);
		assert_int_equal(t->records[0].u.stat.op, i);
		trace_free(t);
	}
	for (i = 0; i < TRACE_SEPT_STATE_NR; i++) {
		snprintf(buf, sizeof(buf),
			 HDR "vm type=tdx\nexpect sept gfn=0 level=1G state=%s\n",
			 trace_sept_state_name((enum trace_sept_state)i));
		t = parse_ok(buf);
		assert_int_equal(t->records[0].u.sept.state, i);
		trace_free(t);
	}
	for (i = 0; i < TRACE_VERB_NR; i++) {
		const char *name = trace_verb_name((enum trace_verb)i);

		assert_non_null(name);
		for (enum trace_verb j = 0; j < i; j++)
			assert_string_not_equal(name, trace_verb_name(j));
	}
	assert_string_equal(trace_verb_name(TRACE_EXPECT_MAX_LEVEL),
			    "expect max-level");
	assert_string_equal(trace_verb_name(TRACE_VERB_NR), "?");
	assert_string_equal(trace_result_kind_name(TRACE_RESULT_ERROR), "error");

	assert_true(trace_cmp_eval(TRACE_CMP_EQ, 1, 1));
	assert_false(trace_cmp_eval(TRACE_CMP_NE, 1, 1));
	assert_true(trace_cmp_eval(TRACE_CMP_LT, 1, 2));
	assert_true(trace_cmp_eval(TRACE_CMP_LE, 2, 2));
	assert_false(trace_cmp_eval(TRACE_CMP_GT, 2, 2));
	assert_true(trace_cmp_eval(TRACE_CMP_GE, 3, 2));
}

static void test_trace_parse_tdx_tables(void **state)
{
	const struct trace_tdx_leaf *l;
	const struct trace_tdx_status *s;

	(void)state;
	l = trace_tdx_leaf_lookup("PAGE.DEMOTE");
	assert_non_null(l);
	assert_int_equal(l->nr, 15);
	assert_false(l->guest);
	assert_ptr_equal(trace_tdx_leaf_lookup("TDH.MEM.PAGE.DEMOTE"), l);
	assert_ptr_equal(trace_tdx_leaf_lookup("MEM.PAGE.DEMOTE"), l);
	l = trace_tdx_leaf_lookup("PHYMEM.PAGE.RECLAIM");
	assert_non_null(l);
	assert_string_equal(l->name, "PAGE.RECLAIM");
	assert_ptr_equal(trace_tdx_leaf_lookup("PAGE.RECLAIM"), l);
	l = trace_tdx_leaf_lookup("MEM.TRACK");
	assert_non_null(l);
	assert_int_equal(l->nr, 38);
	assert_ptr_equal(trace_tdx_leaf_lookup("TDH.MEM.TRACK"), l);
	l = trace_tdx_leaf_lookup("PHYMEM.PAMT.ADD");
	assert_non_null(l);
	assert_int_equal(l->nr, 58);
	assert_string_equal(l->name, "PAMT.ADD");
	l = trace_tdx_leaf_lookup("TDG.MEM.PAGE.ACCEPT");
	assert_non_null(l);
	assert_true(l->guest);
	assert_int_equal(l->nr, 6);
	assert_null(trace_tdx_leaf_lookup("page.demote"));
	assert_null(trace_tdx_leaf_lookup("DEMOTE"));
	assert_null(trace_tdx_leaf_lookup(NULL));

	/* Every leaf the counters name is a leaf that can be injected. */
	for (unsigned int i = 0; i < TDPSIM_STAT_NR; i++) {
		const char *name = tdpsim_stat_name((enum tdpsim_stat)i);

		if (strncmp(name, "seamcall.", 9) || !strcmp(name,
							     "seamcall.busy"))
			continue;
		l = trace_tdx_leaf_lookup(name + 9);
		assert_non_null(l);
		assert_string_equal(l->name, name + 9);
	}

	s = trace_tdx_status_lookup("OPERAND_BUSY");
	assert_non_null(s);
	assert_true(s->code == 0x8000020000000000ull);
	assert_ptr_equal(trace_tdx_status_lookup("TDX_OPERAND_BUSY"), s);
	assert_ptr_equal(trace_tdx_status_by_code(0x8000020000000093ull), s);
	s = trace_tdx_status_lookup("GPA_RANGE_ALREADY_BLOCKED");
	assert_non_null(s);
	assert_true(s->code == 0x00000B0700000000ull);
	assert_null(trace_tdx_status_lookup("operand_busy"));
	assert_null(trace_tdx_status_by_code(0x1234567800000000ull));
}

static void test_trace_parse_file_errors(void **state)
{
	struct trace_error err;
	struct trace *t = NULL;

	(void)state;
	assert_int_equal(trace_parse_file(TDPSIM_SRCDIR "/tests/no-such.trace",
					  &t, &err),
			 -ENOENT);
	assert_null(t);
	assert_int_equal(err.line, 0);
	assert_non_null(strstr(err.file, "no-such.trace"));
	assert_non_null(strstr(err.msg, "cannot open"));
	assert_int_equal(trace_parse_file(TDPSIM_SRCDIR "/tests", &t, &err),
			 -EIO);
	assert_null(t);
	assert_int_equal(trace_parse_file(NULL, &t, &err), -EINVAL);
	assert_int_equal(trace_parse_file(TDPSIM_SRCDIR
					  "/tests/fuzz/corpus/spec-example.trace",
					  NULL, &err),
			 -EINVAL);
	assert_int_equal(trace_parse_string("x", HDR, 15, NULL, &err),
			 -EINVAL);
	assert_non_null(strstr(err.msg, "invalid arguments"));
	/* A NULL error pointer is fine. */
	assert_int_equal(trace_parse_string(NULL, "x", 1, &t, NULL), -EINVAL);
	assert_int_equal(trace_parse_string("x", NULL, 0, &t, &err), -EINVAL);
	assert_string_equal(err.file, "x");
	assert_non_null(strstr(err.msg, "empty file"));
	trace_free(NULL);

	t = NULL;
	assert_int_equal(trace_parse_file(TDPSIM_SRCDIR
					  "/tests/fuzz/corpus/spec-example.trace",
					  &t, &err),
			 0);
	assert_non_null(t);
	assert_non_null(strstr(t->name, "spec-example.trace"));
	assert_int_equal(t->nr_records, 14);
	trace_free(t);
}

/* Messages point at the offending token's column. */
static void test_trace_parse_columns(void **state)
{
	struct trace_error err;
	struct trace *t;
	const char *text = HDR "vm type=default\nvcpu0 fault  gfn=0x1q\n";

	(void)state;
	assert_int_equal(trace_parse_string("c", text, strlen(text), &t, &err),
			 -EINVAL);
	assert_int_equal(err.line, 3);
	assert_int_equal(err.column, 21);	/* the 'q' */
	text = HDR "vm type=default\n\tgmem 0 size=4K huge=3K\n";
	assert_int_equal(trace_parse_string("c", text, strlen(text), &t, &err),
			 -EINVAL);
	assert_int_equal(err.column, 22);	/* the value of huge= */
	text = HDR "vm type=default\nfrob\n";
	assert_int_equal(trace_parse_string("c", text, strlen(text), &t, &err),
			 -EINVAL);
	assert_int_equal(err.column, 1);
}

/*
 * Every file in tests/malformed/ fails with the line and message its first
 * line promises: "# expect-error: LINE: substring".
 */
static void test_trace_parse_malformed_corpus(void **state)
{
	const char *dir = TDPSIM_SRCDIR "/tests/malformed";
	unsigned int nr = 0;
	struct dirent *de;
	DIR *d;

	(void)state;
	d = opendir(dir);
	assert_non_null(d);
	while ((de = readdir(d))) {
		char path[1024], first[512], *sub, *nl;
		struct trace_error err;
		struct trace *t = NULL;
		size_t len = strlen(de->d_name);
		unsigned int line;
		FILE *f;
		int ret;

		if (len < 7 || strcmp(de->d_name + len - 6, ".trace"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		f = fopen(path, "rb");
		assert_non_null(f);
		assert_non_null(fgets(first, sizeof(first), f));
		fclose(f);
		nl = strchr(first, '\n');
		if (nl)
			*nl = '\0';
		if (sscanf(first, "# expect-error: %u:", &line) != 1) {
			print_error("%s: no '# expect-error: LINE: text'\n",
				    de->d_name);
			fail();
		}
		sub = strchr(first + strlen("# expect-error: "), ':');
		assert_non_null(sub);
		sub += 2;
		ret = trace_parse_file(path, &t, &err);
		if (ret != -EINVAL || err.line != line ||
		    !strstr(err.msg, sub)) {
			print_error("%s: want %u: %s\n%s: got %d at %u: %s\n",
				    de->d_name, line, sub, de->d_name, ret,
				    err.line, err.msg);
			fail();
		}
		assert_null(t);
		assert_string_equal(err.file, path);
		nr++;
	}
	closedir(d);
	assert_true(nr >= 100);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_trace_parse_spec_example),
		cmocka_unit_test(test_trace_parse_spec_file_example),
		cmocka_unit_test(test_trace_parse_docs_examples),
		cmocka_unit_test(test_trace_parse_defaults),
		cmocka_unit_test(test_trace_parse_every_record),
		cmocka_unit_test(test_trace_parse_previous_events),
		cmocka_unit_test(test_trace_parse_lexer),
		cmocka_unit_test(test_trace_parse_lines),
		cmocka_unit_test(test_trace_parse_nul_and_length),
		cmocka_unit_test(test_trace_parse_actors),
		cmocka_unit_test(test_trace_parse_sections),
		cmocka_unit_test(test_trace_parse_ids),
		cmocka_unit_test(test_trace_parse_many_ids),
		cmocka_unit_test(test_trace_parse_ranges),
		cmocka_unit_test(test_trace_parse_names),
		cmocka_unit_test(test_trace_parse_tdx_tables),
		cmocka_unit_test(test_trace_parse_file_errors),
		cmocka_unit_test(test_trace_parse_columns),
		cmocka_unit_test(test_trace_parse_malformed_corpus),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
