/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * trace_parse.h - trace format 1 (../shared/spec/trace-format.md): the parser,
 * the validator and the syntax tree the replay engine consumes.
 *
 * A trace is parsed and validated whole before anything runs: either every
 * line is well formed and consistent (set-up before events, actors that
 * exist, IDs that were created, TDX lifecycle order ...) and a struct trace
 * comes back, or the first problem comes back as a struct trace_error with
 * FILE:LINE and a message, and no trace. docs/trace-format.md describes the
 * language as implemented, and every message.
 *
 * Every field of a record is decoded and defaulted here, so the engine never
 * looks at text again. The header, the `vm` record and the `policy` records
 * are decoded into struct trace; records[] holds only the events and the
 * expectations, in file order.
 *
 * Not thread-safe for one struct trace being built; a finished trace is
 * read-only and may be shared by any number of threads.
 */
#ifndef TDPSIM_TRACE_PARSE_H
#define TDPSIM_TRACE_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <tdpsim/stats.h>
#include <tdpsim/types.h>
#include <tdpsim/vm.h>

/* The only trace format version this parser reads. */
#define TRACE_FORMAT_VERSION 1
/* A line longer than this (without its "\n" or "\r\n") is an error. */
#define TRACE_MAX_LINE 4096
/* GFNs are below 2^40: a 52-bit guest physical address space. */
#define TRACE_GFN_LIMIT ((uint64_t)1 << 40)
/* vmmN: N < TRACE_MAX_VMM. */
#define TRACE_MAX_VMM 64
/* gmem and slot IDs are 0 .. TRACE_MAX_ID. */
#define TRACE_MAX_ID 0x7fffffffu
/* prev_event / prev_actor_event when there is none. */
#define TRACE_NO_EVENT SIZE_MAX

/* Who runs a record (trace-format.md, Actors). */
enum trace_actor_kind {
	TRACE_ACTOR_VMM,		/* vmm, vmmN: VMM userspace threads */
	TRACE_ACTOR_VCPU,		/* vcpuN */
	TRACE_ACTOR_HOST,		/* the host kernel: mm notifier, MCE */
};

struct trace_actor {
	enum trace_actor_kind kind;
	unsigned int index;		/* N of vcpuN / vmmN; vmm is vmm0;
					 * 0 for host */
	bool explicit_;			/* written, not defaulted */
};

enum trace_verb {
	TRACE_VM,			/* set-up: in struct trace only */
	TRACE_POLICY,			/* set-up: in struct trace only */
	TRACE_GMEM,
	TRACE_SLOT,
	TRACE_SLOT_DELETE,
	TRACE_ALLOCATE,
	TRACE_PUNCH,
	TRACE_POISON,
	TRACE_CONVERT,
	TRACE_FAULT,
	TRACE_PREFAULT,
	TRACE_ACCEPT,
	TRACE_DIRTY_LOG,
	TRACE_CLEAR_DIRTY,
	TRACE_INVALIDATE,
	TRACE_POPULATE,
	TRACE_FINALIZE,
	TRACE_DESTROY,
	TRACE_INJECT_ALLOC_FAIL,
	TRACE_INJECT_SEAMCALL,
	TRACE_CHECK,
	TRACE_MARK,
	TRACE_BARRIER,
	TRACE_EXPECT_RESULT,
	TRACE_EXPECT_MAPPED,
	TRACE_EXPECT_UNMAPPED,
	TRACE_EXPECT_MAX_LEVEL,
	TRACE_EXPECT_SEPT,
	TRACE_EXPECT_STAT,
	TRACE_EXPECT_VIOLATION,
	TRACE_VERB_NR
};

/* What `expect result=` compares an event's result with. */
enum trace_result_kind {
	TRACE_RESULT_OK,
	TRACE_RESULT_EXIT_MEMORY_FAULT,
	TRACE_RESULT_EMULATE,
	TRACE_RESULT_ALREADY_ACCEPTED,
	TRACE_RESULT_SIZE_MISMATCH,
	TRACE_RESULT_ERROR,		/* error:ERRNO */
	TRACE_RESULT_NR
};

struct trace_result {
	enum trace_result_kind kind;
	int err;			/* TRACE_RESULT_ERROR: the negative
					 * errno (tdpsim_errno_from_name());
					 * else 0 */
};

/* S-EPT entry states (tdx-module.md section 2.1), for `expect sept`. */
enum trace_sept_state {
	TRACE_SEPT_FREE,
	TRACE_SEPT_PENDING,
	TRACE_SEPT_MAPPED,
	TRACE_SEPT_BLOCKED,
	TRACE_SEPT_PENDING_BLOCKED,
	TRACE_SEPT_NL_MAPPED,
	TRACE_SEPT_NL_BLOCKED,
	TRACE_SEPT_STATE_NR
};

/* `expect stat NAME OP N` comparison operators. */
enum trace_cmp {
	TRACE_CMP_EQ,			/* == */
	TRACE_CMP_NE,			/* != */
	TRACE_CMP_LT,			/* <  */
	TRACE_CMP_LE,			/* <= */
	TRACE_CMP_GT,			/* >  */
	TRACE_CMP_GE,			/* >= */
	TRACE_CMP_NR
};

/* Invariant IDs (../shared/spec/invariants.md), for `expect violation`. */
enum trace_invariant {
	TRACE_INV_SPTE_FORMAT,
	TRACE_INV_PFN_STABLE,
	TRACE_INV_PT_LINKAGE,
	TRACE_INV_ATTR_ROOT,
	TRACE_INV_ATTR_UNIFORM,
	TRACE_INV_GMEM_BACKING,
	TRACE_INV_LPAGE,
	TRACE_INV_LPAGE_INFO,
	TRACE_INV_BOUNDARY,
	TRACE_INV_ACCEPT_LEVEL,
	TRACE_INV_DIRTY_LOG,
	TRACE_INV_TLB,
	TRACE_INV_MIRROR_SYNC,
	TRACE_INV_SEAMCALL,
	TRACE_INV_PAMT,
	TRACE_INV_HKID,
	TRACE_INV_LOCK,
	TRACE_INV_NO_SLEEP,
	TRACE_INV_RCU,
	TRACE_INV_LEAK,
	TRACE_INV_PROGRESS,
	TRACE_INV_NR
};

/*
 * A SEAMCALL leaf the fake TDX Module answers (tdx-module.md section 1.4
 * and its appendix). @name is the form the trace and the counters use
 * ("PAGE.DEMOTE", "PAGE.RECLAIM"); @full_name the module's
 * ("TDH.MEM.PAGE.DEMOTE"); @nr the leaf number in RAX bits 15:0.
 */
struct trace_tdx_leaf {
	const char *name;
	const char *full_name;
	unsigned int nr;
	bool guest;			/* a TDCALL (TDG.*), not a SEAMCALL */
};

/* A TDX Module completion status (tdx-module.md section 1.3). */
struct trace_tdx_status {
	const char *name;		/* "OPERAND_BUSY" */
	uint64_t code;			/* 0x8000020000000000: the status half
					 * (bits 63:32); bits 31:0 are 0 */
};

/* gmem ID size=SIZE [huge=4K|2M|1G] [init-shared] */
struct trace_gmem {
	uint32_t id;
	uint64_t size;			/* bytes, 4 KiB aligned */
	int huge;			/* folio level, default 4K */
	bool init_shared;
};

/* slot ID gfn=GFN pages=N [gmem=ID] [offset=SIZE] [host-page=L] [readonly] */
struct trace_slot {
	uint32_t id;
	tdpsim_gfn_t gfn;
	uint64_t pages;			/* gfn + pages <= TRACE_GFN_LIMIT */
	int gmem_id;			/* bound guest_memfd, or -1 */
	uint64_t offset;		/* bytes into the gmem, 4 KiB aligned;
					 * 0 without gmem */
	int host_page;			/* TDPSIM_LEVEL_4K default */
	bool readonly;
};

/* allocate, punch: gmem=ID offset=SIZE len=SIZE; poison: gmem=ID offset= */
struct trace_gmem_range {
	uint32_t gmem_id;
	uint64_t offset;		/* bytes, 4 KiB aligned */
	uint64_t len;			/* bytes, 4 KiB aligned; poison: 4096 */
};

/* convert, invalidate, populate, prefault: gfn=GFN pages=N */
struct trace_gfn_range {
	tdpsim_gfn_t gfn;
	uint64_t pages;			/* gfn + pages <= TRACE_GFN_LIMIT */
	bool private_mem;		/* convert: private, else shared */
};

/* fault gfn=GFN [private|shared] [read|write|exec] */
struct trace_fault {
	tdpsim_gfn_t gfn;
	enum tdpsim_fault_kind kind;	/* PRIVATE or SHARED when written or
					 * on tdx (PRIVATE) and default
					 * (SHARED) VMs; DEFAULT on
					 * sw-protected: the GFN's attribute
					 * when the fault runs */
	enum tdpsim_access access;	/* TDPSIM_ACCESS_WRITE default */
};

/* accept gfn=GFN level=4K|2M */
struct trace_accept {
	tdpsim_gfn_t gfn;		/* aligned to @level */
	int level;			/* TDPSIM_LEVEL_4K or TDPSIM_LEVEL_2M */
};

/* dirty-log slot=ID on [manual] | off */
struct trace_dirty_log {
	uint32_t slot_id;
	bool on;
	bool manual;			/* only with on */
};

/* clear-dirty slot=ID first=N mask=HEX */
struct trace_clear_dirty {
	uint32_t slot_id;
	uint64_t first;			/* a multiple of 64 */
	uint64_t mask;
};

/* inject alloc-fail [after=N] [count=N] */
struct trace_inject_alloc_fail {
	uint64_t after;			/* default 0 */
	uint64_t count;			/* >= 1, default 1 */
};

/* inject seamcall=LEAF status=STATUS [count=N] */
struct trace_inject_seamcall {
	const struct trace_tdx_leaf *leaf;
	const struct trace_tdx_status *status;
	uint64_t status_code;		/* status->code, or the number written
					 * (its bits 31:0: operand id) */
	uint64_t count;			/* >= 1, default 1 */
};

/* expect mapped|unmapped|max-level gfn=GFN [level=L] [private|shared] */
struct trace_expect_map {
	tdpsim_gfn_t gfn;
	int level;			/* 0 for expect unmapped */
	enum tdpsim_fault_kind kind;	/* the view; defaulted as for fault */
};

/* expect sept gfn=GFN level=L state=STATE */
struct trace_expect_sept {
	tdpsim_gfn_t gfn;		/* any GFN the entry covers */
	int level;
	enum trace_sept_state state;
};

/* expect stat NAME OP N */
struct trace_expect_stat {
	enum tdpsim_stat stat;
	enum trace_cmp op;
	uint64_t value;
};

/* One event or expectation. */
struct trace_record {
	enum trace_verb verb;
	unsigned int line;		/* 1-based line in the file */
	struct trace_actor actor;	/* defaulted per the spec if not
					 * written */
	/*
	 * Indices into trace->records of the nearest event record above this
	 * one: in file order (what sequential replay's "previous event" is),
	 * and of the same actor (concurrent replay's); TRACE_NO_EVENT if
	 * none. Events are every record of the spec's event table, including
	 * check, mark and barrier. Set on every record; `expect result` and
	 * `expect violation` are guaranteed a prev_event.
	 */
	size_t prev_event;
	size_t prev_actor_event;
	union {
		struct trace_gmem gmem;			/* TRACE_GMEM */
		struct trace_slot slot;			/* TRACE_SLOT */
		uint32_t slot_delete_id;		/* TRACE_SLOT_DELETE */
		struct trace_gmem_range gmem_range;	/* ALLOCATE, PUNCH,
							 * POISON */
		struct trace_gfn_range range;		/* CONVERT, PREFAULT,
							 * INVALIDATE,
							 * POPULATE */
		struct trace_fault fault;		/* TRACE_FAULT */
		struct trace_accept accept;		/* TRACE_ACCEPT */
		struct trace_dirty_log dirty_log;	/* TRACE_DIRTY_LOG */
		struct trace_clear_dirty clear_dirty;	/* TRACE_CLEAR_DIRTY */
		struct trace_inject_alloc_fail alloc_fail;
		struct trace_inject_seamcall seamcall;
		struct trace_result result;		/* EXPECT_RESULT */
		struct trace_expect_map map;		/* EXPECT_MAPPED,
							 * _UNMAPPED,
							 * _MAX_LEVEL */
		struct trace_expect_sept sept;		/* EXPECT_SEPT */
		struct trace_expect_stat stat;		/* EXPECT_STAT */
		enum trace_invariant violation;		/* EXPECT_VIOLATION */
	} u;
};

/* `policy KEY=VALUE`: one per pair, in file order, already validated. */
struct trace_policy {
	char *key;
	char *value;
	unsigned int line;
};

/* The `vm` record, decoded. */
struct trace_vm {
	enum tdpsim_vm_type type;
	unsigned int levels;		/* 4 (default) or 5 */
	unsigned int vcpus;		/* 1 (default) .. TDPSIM_MAX_VCPUS */
	enum tdpsim_attrs_mode attrs;	/* TDPSIM_ATTRS_VM default */
	bool mirror;			/* `mirror`: tdpsim's test mode, a
					 * sw-protected VM with its private GFNs
					 * in a mirror root (no TDX Module) */
	unsigned int line;
};

struct trace {
	char *name;			/* file name used in diagnostics */
	struct trace_vm vm;
	struct trace_policy *policies;
	size_t nr_policies;
	struct trace_record *records;	/* events and expectations */
	size_t nr_records;
	/* The actors records use, for the engine's threads. */
	uint64_t vcpus_used;		/* bit N: vcpuN runs a record */
	uint64_t vmms_used;		/* bit N: vmmN runs a record */
	bool host_used;			/* host runs a record */
};

/* The first problem found: diagnostics print "file:line:column: msg". */
struct trace_error {
	char file[256];			/* truncated if longer */
	unsigned int line;		/* 1-based; 0 if the file could not be
					 * read */
	unsigned int column;		/* 1-based byte column, 0 if n/a */
	char msg[512];			/* what is wrong and what was expected;
					 * no "file:line:" prefix */
};

/**
 * trace_parse_string() - parse and validate a whole trace held in memory.
 * @param name the file name diagnostics and trace->name use
 * @param text the trace; need not be NUL-terminated
 * @param len its length in bytes
 * @param ret_trace written on success; free with trace_free()
 * @param ret_err written on failure, if not NULL
 * @return 0; -EINVAL for malformed input; -ENOMEM
 */
int trace_parse_string(const char *name, const char *text, size_t len,
		       struct trace **ret_trace, struct trace_error *ret_err);

/**
 * trace_parse_file() - read @path whole and trace_parse_string() it.
 * @return as trace_parse_string(); -ENOENT if @path does not exist, -EIO if
 *         it cannot be read
 */
int trace_parse_file(const char *path, struct trace **ret_trace,
		     struct trace_error *ret_err);

/** Free a trace. NULL ok. */
void trace_free(struct trace *t);

/** "gmem", "slot-delete", "inject seamcall", "expect max-level" ... */
const char *trace_verb_name(enum trace_verb v);

/** True for the event verbs (gmem .. barrier), false for expectations. */
bool trace_verb_is_event(enum trace_verb v);

/** "ok", "exit-memory-fault" ...; "error" for TRACE_RESULT_ERROR. */
const char *trace_result_kind_name(enum trace_result_kind k);

/** "FREE", "PENDING_BLOCKED" ... */
const char *trace_sept_state_name(enum trace_sept_state s);

/** "==", "<=" ... */
const char *trace_cmp_name(enum trace_cmp op);

/** @a OP @b, as `expect stat` compares: the counter first. */
bool trace_cmp_eval(enum trace_cmp op, uint64_t a, uint64_t b);

/** "spte-format", "no-sleep" ...; NULL if out of range. */
const char *trace_invariant_name(enum trace_invariant id);

/**
 * trace_invariant_from_name() - look an invariant ID up.
 * @return 0 and @ret_id, or -ENOENT
 */
int trace_invariant_from_name(const char *name, enum trace_invariant *ret_id);

/**
 * trace_tdx_leaf_lookup() - a leaf by the name a trace may use: the short
 * name ("PAGE.DEMOTE", "PHYMEM.PAGE.RECLAIM"), the counters' alias
 * ("PAGE.RECLAIM") or the full name ("TDH.MEM.PAGE.DEMOTE").
 * @return the static table entry, or NULL
 */
const struct trace_tdx_leaf *trace_tdx_leaf_lookup(const char *name);

/**
 * trace_tdx_status_lookup() - a status by name, with or without "TDX_"
 * ("OPERAND_BUSY", "TDX_OPERAND_BUSY").
 * @return the static table entry, or NULL
 */
const struct trace_tdx_status *trace_tdx_status_lookup(const char *name);

/**
 * trace_tdx_status_by_code() - the status whose code is @code's status half
 * (bits 63:32).
 * @return the static table entry, or NULL
 */
const struct trace_tdx_status *trace_tdx_status_by_code(uint64_t code);

#endif /* TDPSIM_TRACE_PARSE_H */
