/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * trace_parse.c - parse and validate trace format 1 into struct trace.
 *
 * One pass over the lines: each line is checked for bytes the format does
 * not allow, cut at '#', split into tokens, and decoded by the record's
 * table entry (rec_defs[]) into a struct trace_record with every default
 * filled in. State carried between lines (the header, the vm record,
 * finalize, destroy, the IDs created so far, each actor's last event)
 * enforces the ordering rules. The first problem stops the parse.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tdpsim/error.h>
#include <tdpsim/stats.h>

#include "policy.h"
#include "trace_lex.h"
#include "trace_parse.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* At most this many tokens fit on a line of TRACE_MAX_LINE bytes. */
#define MAX_TOKENS (TRACE_MAX_LINE / 2 + 1)
/* At most this many keys and flags per record. */
#define MAX_ARGS 8
/* Tokens quoted in messages are cut to this many bytes. */
#define QUOTE_MAX 64

/* Actor slots for "last event of this actor": vcpus, then vmms, then host. */
#define ACTOR_SLOT_VMM TDPSIM_MAX_VCPUS
#define ACTOR_SLOT_HOST (TDPSIM_MAX_VCPUS + TRACE_MAX_VMM)
#define NR_ACTOR_SLOTS (ACTOR_SLOT_HOST + 1)

/* A slice of the input: one token, or the value part of KEY=VALUE. */
struct tok {
	const char *s;
	size_t len;
	unsigned int col;		/* 1-based column of s[0] */
};

/* Quote a token in a message: "%.*s%s" with QUOTE(t). */
#define QFMT "'%.*s%s'"
#define QUOTE(t)                                                        \
	(int)((t)->len > QUOTE_MAX ? QUOTE_MAX : (t)->len), (t)->s,     \
		((t)->len > QUOTE_MAX ? "..." : "")

/* A set of gmem or slot IDs created so far (open addressing, id + 1). */
struct idset {
	uint32_t *slots;
	size_t cap;			/* a power of two, or 0 */
	size_t nr;
};

struct parser {
	struct trace *t;
	struct trace_error *err;
	const char *name;
	unsigned int line;		/* the line being parsed */

	struct tok toks[MAX_TOKENS];
	unsigned int ntok;

	unsigned int header_line;	/* 0 until seen */
	unsigned int vm_line;		/* 0 until seen */
	unsigned int first_event_line;	/* first event or expectation */
	unsigned int finalize_line;
	unsigned int destroy_line;

	size_t cap_records;
	size_t cap_policies;
	size_t last_event;
	size_t last_actor_event[NR_ACTOR_SLOTS];
	struct idset gmems;
	struct idset slots;

	char scratch[TRACE_MAX_LINE + 1];	/* a token as a C string */
	char scratch2[TRACE_MAX_LINE + 1];
};

/* ---- names ---- */

static const char *const verb_names[TRACE_VERB_NR] = {
	[TRACE_VM] = "vm",
	[TRACE_POLICY] = "policy",
	[TRACE_GMEM] = "gmem",
	[TRACE_SLOT] = "slot",
	[TRACE_SLOT_DELETE] = "slot-delete",
	[TRACE_ALLOCATE] = "allocate",
	[TRACE_PUNCH] = "punch",
	[TRACE_POISON] = "poison",
	[TRACE_CONVERT] = "convert",
	[TRACE_FAULT] = "fault",
	[TRACE_PREFAULT] = "prefault",
	[TRACE_ACCEPT] = "accept",
	[TRACE_DIRTY_LOG] = "dirty-log",
	[TRACE_CLEAR_DIRTY] = "clear-dirty",
	[TRACE_INVALIDATE] = "invalidate",
	[TRACE_POPULATE] = "populate",
	[TRACE_FINALIZE] = "finalize",
	[TRACE_DESTROY] = "destroy",
	[TRACE_INJECT_ALLOC_FAIL] = "inject alloc-fail",
	[TRACE_INJECT_SEAMCALL] = "inject seamcall",
	[TRACE_CHECK] = "check",
	[TRACE_MARK] = "mark",
	[TRACE_BARRIER] = "barrier",
	[TRACE_EXPECT_RESULT] = "expect result",
	[TRACE_EXPECT_MAPPED] = "expect mapped",
	[TRACE_EXPECT_UNMAPPED] = "expect unmapped",
	[TRACE_EXPECT_MAX_LEVEL] = "expect max-level",
	[TRACE_EXPECT_SEPT] = "expect sept",
	[TRACE_EXPECT_STAT] = "expect stat",
	[TRACE_EXPECT_VIOLATION] = "expect violation",
};

const char *trace_verb_name(enum trace_verb v)
{
	if ((unsigned int)v >= TRACE_VERB_NR)
		return "?";
	return verb_names[v];
}

bool trace_verb_is_event(enum trace_verb v)
{
	return v >= TRACE_GMEM && v <= TRACE_BARRIER;
}

static const char *const result_names[TRACE_RESULT_NR] = {
	[TRACE_RESULT_OK] = "ok",
	[TRACE_RESULT_EXIT_MEMORY_FAULT] = "exit-memory-fault",
	[TRACE_RESULT_EMULATE] = "emulate",
	[TRACE_RESULT_ALREADY_ACCEPTED] = "already-accepted",
	[TRACE_RESULT_SIZE_MISMATCH] = "size-mismatch",
	[TRACE_RESULT_ERROR] = "error",
};

const char *trace_result_kind_name(enum trace_result_kind k)
{
	if ((unsigned int)k >= TRACE_RESULT_NR)
		return "?";
	return result_names[k];
}

static const char *const sept_names[TRACE_SEPT_STATE_NR] = {
	[TRACE_SEPT_FREE] = "FREE",
	[TRACE_SEPT_PENDING] = "PENDING",
	[TRACE_SEPT_MAPPED] = "MAPPED",
	[TRACE_SEPT_BLOCKED] = "BLOCKED",
	[TRACE_SEPT_PENDING_BLOCKED] = "PENDING_BLOCKED",
	[TRACE_SEPT_NL_MAPPED] = "NL_MAPPED",
	[TRACE_SEPT_NL_BLOCKED] = "NL_BLOCKED",
};

const char *trace_sept_state_name(enum trace_sept_state s)
{
	if ((unsigned int)s >= TRACE_SEPT_STATE_NR)
		return "?";
	return sept_names[s];
}

static const char *const cmp_names[TRACE_CMP_NR] = {
	[TRACE_CMP_EQ] = "==",
	[TRACE_CMP_NE] = "!=",
	[TRACE_CMP_LT] = "<",
	[TRACE_CMP_LE] = "<=",
	[TRACE_CMP_GT] = ">",
	[TRACE_CMP_GE] = ">=",
};

const char *trace_cmp_name(enum trace_cmp op)
{
	if ((unsigned int)op >= TRACE_CMP_NR)
		return "?";
	return cmp_names[op];
}

bool trace_cmp_eval(enum trace_cmp op, uint64_t a, uint64_t b)
{
	switch (op) {
	case TRACE_CMP_EQ:
		return a == b;
	case TRACE_CMP_NE:
		return a != b;
	case TRACE_CMP_LT:
		return a < b;
	case TRACE_CMP_LE:
		return a <= b;
	case TRACE_CMP_GT:
		return a > b;
	case TRACE_CMP_GE:
		return a >= b;
	default:
		return false;
	}
}

static const char *const invariant_names[TRACE_INV_NR] = {
	[TRACE_INV_SPTE_FORMAT] = "spte-format",
	[TRACE_INV_PFN_STABLE] = "pfn-stable",
	[TRACE_INV_PT_LINKAGE] = "pt-linkage",
	[TRACE_INV_ATTR_ROOT] = "attr-root",
	[TRACE_INV_ATTR_UNIFORM] = "attr-uniform",
	[TRACE_INV_GMEM_BACKING] = "gmem-backing",
	[TRACE_INV_LPAGE] = "lpage",
	[TRACE_INV_LPAGE_INFO] = "lpage-info",
	[TRACE_INV_BOUNDARY] = "boundary",
	[TRACE_INV_ACCEPT_LEVEL] = "accept-level",
	[TRACE_INV_DIRTY_LOG] = "dirty-log",
	[TRACE_INV_TLB] = "tlb",
	[TRACE_INV_MIRROR_SYNC] = "mirror-sync",
	[TRACE_INV_SEAMCALL] = "seamcall",
	[TRACE_INV_PAMT] = "pamt",
	[TRACE_INV_HKID] = "hkid",
	[TRACE_INV_LOCK] = "lock",
	[TRACE_INV_NO_SLEEP] = "no-sleep",
	[TRACE_INV_RCU] = "rcu",
	[TRACE_INV_LEAK] = "leak",
	[TRACE_INV_PROGRESS] = "progress",
};

const char *trace_invariant_name(enum trace_invariant id)
{
	if ((unsigned int)id >= TRACE_INV_NR)
		return NULL;
	return invariant_names[id];
}

int trace_invariant_from_name(const char *name, enum trace_invariant *ret_id)
{
	if (!name)
		return -ENOENT;
	for (unsigned int i = 0; i < TRACE_INV_NR; i++) {
		if (!strcmp(invariant_names[i], name)) {
			if (ret_id)
				*ret_id = (enum trace_invariant)i;
			return 0;
		}
	}
	return -ENOENT;
}

/*
 * The leaves of tdx-module.md (section 1.4 and the appendix's quick list).
 * @name is what the counters call the leaf (seamcall.NAME) where they have
 * it, else the quick list's name.
 */
static const struct trace_tdx_leaf tdx_leaves[] = {
	{ "VP.ENTER", "TDH.VP.ENTER", 0, false },
	{ "MNG.ADDCX", "TDH.MNG.ADDCX", 1, false },
	{ "PAGE.ADD", "TDH.MEM.PAGE.ADD", 2, false },
	{ "SEPT.ADD", "TDH.MEM.SEPT.ADD", 3, false },
	{ "VP.ADDCX", "TDH.VP.ADDCX", 4, false },
	{ "PAGE.RELOCATE", "TDH.MEM.PAGE.RELOCATE", 5, false },
	{ "PAGE.AUG", "TDH.MEM.PAGE.AUG", 6, false },
	{ "RANGE.BLOCK", "TDH.MEM.RANGE.BLOCK", 7, false },
	{ "MNG.KEY.CONFIG", "TDH.MNG.KEY.CONFIG", 8, false },
	{ "MNG.CREATE", "TDH.MNG.CREATE", 9, false },
	{ "VP.CREATE", "TDH.VP.CREATE", 10, false },
	{ "PAGE.DEMOTE", "TDH.MEM.PAGE.DEMOTE", 15, false },
	{ "MR.EXTEND", "TDH.MR.EXTEND", 16, false },
	{ "MR.FINALIZE", "TDH.MR.FINALIZE", 17, false },
	{ "VP.FLUSH", "TDH.VP.FLUSH", 18, false },
	{ "MNG.VPFLUSHDONE", "TDH.MNG.VPFLUSHDONE", 19, false },
	{ "MNG.KEY.FREEID", "TDH.MNG.KEY.FREEID", 20, false },
	{ "MNG.INIT", "TDH.MNG.INIT", 21, false },
	{ "VP.INIT", "TDH.VP.INIT", 22, false },
	{ "PAGE.PROMOTE", "TDH.MEM.PAGE.PROMOTE", 23, false },
	{ "PHYMEM.PAGE.RDMD", "TDH.PHYMEM.PAGE.RDMD", 24, false },
	{ "SEPT.RD", "TDH.MEM.SEPT.RD", 25, false },
	{ "PAGE.RECLAIM", "TDH.PHYMEM.PAGE.RECLAIM", 28, false },
	{ "PAGE.REMOVE", "TDH.MEM.PAGE.REMOVE", 29, false },
	{ "SEPT.REMOVE", "TDH.MEM.SEPT.REMOVE", 30, false },
	{ "MEM.TRACK", "TDH.MEM.TRACK", 38, false },
	{ "RANGE.UNBLOCK", "TDH.MEM.RANGE.UNBLOCK", 39, false },
	{ "CACHE.WB", "TDH.PHYMEM.CACHE.WB", 40, false },
	{ "PAGE.WBINVD", "TDH.PHYMEM.PAGE.WBINVD", 41, false },
	{ "SEPT.WR", "TDH.MEM.SEPT.WR", 42, false },
	{ "PAMT.ADD", "TDH.PHYMEM.PAMT.ADD", 58, false },
	{ "PAMT.REMOVE", "TDH.PHYMEM.PAMT.REMOVE", 59, false },
	{ "PAGE.ACCEPT", "TDG.MEM.PAGE.ACCEPT", 6, true },
};

const struct trace_tdx_leaf *trace_tdx_leaf_lookup(const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; i < ARRAY_LEN(tdx_leaves); i++) {
		const struct trace_tdx_leaf *l = &tdx_leaves[i];
		/* "TDH.MEM.PAGE.DEMOTE" -> "MEM.PAGE.DEMOTE" */
		const char *quick = l->full_name + 4;

		if (!strcmp(name, l->name) || !strcmp(name, l->full_name) ||
		    !strcmp(name, quick))
			return l;
		/* The quick list also drops "MEM." from TDH.MEM.*. */
		if (!strncmp(quick, "MEM.", 4) && !strcmp(name, quick + 4))
			return l;
	}
	return NULL;
}

/* tdx-module.md section 1.3; the status half only (bits 63:32). */
static const struct trace_tdx_status tdx_statuses[] = {
	{ "SUCCESS", 0 },
	{ "INTERRUPTED_RESUMABLE", 0x8000000300000000ull },
	{ "INTERRUPTED_RESTARTABLE", 0x8000000400000000ull },
	{ "OPERAND_INVALID", 0xC000010000000000ull },
	{ "OPERAND_ADDR_RANGE_ERROR", 0xC000010100000000ull },
	{ "OPERAND_BUSY", 0x8000020000000000ull },
	{ "PREVIOUS_TLB_EPOCH_BUSY", 0x8000020100000000ull },
	{ "SYS_BUSY", 0x8000020200000000ull },
	{ "RND_NO_ENTROPY", 0x8000020300000000ull },
	{ "OPERAND_BUSY_HOST_PRIORITY", 0x8000020400000000ull },
	{ "PAGE_METADATA_INCORRECT", 0xC000030000000000ull },
	{ "PAGE_ALREADY_FREE", 0x0000030100000000ull },
	{ "PAGE_NOT_OWNED_BY_TD", 0xC000030200000000ull },
	{ "PAGE_NOT_FREE", 0xC000030300000000ull },
	{ "HPA_RANGE_NOT_FREE", 0xC000030400000000ull },
	{ "NO_PAMT_PAGE_PAIR", 0xC000030500000000ull },
	{ "PAMT_PAGE_NOT_EMPTY", 0xC000030600000000ull },
	{ "INTERRUPTED_PAMT", 0x8000030700000000ull },
	{ "MISSING_PAMT_PAGE_PAIR", 0x8000030800000000ull },
	{ "TD_ASSOCIATED_PAGES_EXIST", 0xC000040000000000ull },
	{ "TD_FATAL", 0xE000060400000000ull },
	{ "LIFECYCLE_STATE_INCORRECT", 0xC000060700000000ull },
	{ "OP_STATE_INCORRECT", 0xC000060800000000ull },
	{ "TD_KEYS_NOT_CONFIGURED", 0x8000081000000000ull },
	{ "FLUSHVP_NOT_DONE", 0x8000082400000000ull },
	{ "EPT_WALK_FAILED", 0xC0000B0000000000ull },
	{ "EPT_ENTRY_FREE", 0xC0000B0100000000ull },
	{ "EPT_ENTRY_NOT_FREE", 0xC0000B0200000000ull },
	{ "GPA_RANGE_NOT_BLOCKED", 0xC0000B0600000000ull },
	{ "GPA_RANGE_ALREADY_BLOCKED", 0x00000B0700000000ull },
	{ "TLB_TRACKING_NOT_DONE", 0xC0000B0800000000ull },
	{ "EPT_INVALID_PROMOTE_CONDITIONS", 0xC0000B0900000000ull },
	{ "PAGE_ALREADY_ACCEPTED", 0x00000B0A00000000ull },
	{ "PAGE_SIZE_MISMATCH", 0xC0000B0B00000000ull },
	{ "GPA_RANGE_BLOCKED", 0xC0000B0C00000000ull },
	{ "EPT_ENTRY_STATE_INCORRECT", 0xC0000B0D00000000ull },
	{ "EPT_PAGE_NOT_FREE", 0xC0000B0E00000000ull },
};

const struct trace_tdx_status *trace_tdx_status_lookup(const char *name)
{
	if (!name)
		return NULL;
	if (!strncmp(name, "TDX_", 4))
		name += 4;
	for (size_t i = 0; i < ARRAY_LEN(tdx_statuses); i++)
		if (!strcmp(name, tdx_statuses[i].name))
			return &tdx_statuses[i];
	return NULL;
}

const struct trace_tdx_status *trace_tdx_status_by_code(uint64_t code)
{
	code &= 0xFFFFFFFF00000000ull;
	for (size_t i = 0; i < ARRAY_LEN(tdx_statuses); i++)
		if (tdx_statuses[i].code == code)
			return &tdx_statuses[i];
	return NULL;
}

/* ---- errors ---- */

/* Record the first problem at @col of the current line; returns -EINVAL. */
__attribute__((format(printf, 3, 4)))
static int perr(struct parser *p, unsigned int col, const char *fmt, ...)
{
	va_list ap;

	if (p->err) {
		p->err->line = p->line;
		p->err->column = col;
		va_start(ap, fmt);
		vsnprintf(p->err->msg, sizeof(p->err->msg), fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static int nomem(struct parser *p)
{
	if (p->err) {
		p->err->line = p->line;
		p->err->column = 0;
		snprintf(p->err->msg, sizeof(p->err->msg), "out of memory");
	}
	return -ENOMEM;
}

/* Copy a token into one of the scratch buffers as a C string. */
static const char *cstr(char *buf, const struct tok *t)
{
	memcpy(buf, t->s, t->len);
	buf[t->len] = '\0';
	return buf;
}

/* ---- ID sets ---- */

static size_t idset_hash(uint32_t v, size_t mask)
{
	return (size_t)(v * 2654435761u) & mask;
}

static bool idset_has(const struct idset *set, uint32_t id)
{
	size_t mask = set->cap - 1;

	if (!set->cap)
		return false;
	for (size_t i = idset_hash(id, mask);; i = (i + 1) & mask) {
		if (set->slots[i] == 0)
			return false;
		if (set->slots[i] == id + 1)
			return true;
	}
}

static int idset_add(struct idset *set, uint32_t id)
{
	size_t mask;

	if (idset_has(set, id))
		return 0;
	if ((set->nr + 1) * 2 > set->cap) {
		size_t cap = set->cap ? set->cap * 2 : 16;
		uint32_t *slots = calloc(cap, sizeof(*slots));

		if (!slots)
			return -ENOMEM;
		for (size_t i = 0; i < set->cap; i++) {
			uint32_t v = set->slots[i];
			size_t j;

			if (!v)
				continue;
			for (j = idset_hash(v - 1, cap - 1); slots[j];
			     j = (j + 1) & (cap - 1))
				;
			slots[j] = v;
		}
		free(set->slots);
		set->slots = slots;
		set->cap = cap;
	}
	mask = set->cap - 1;
	for (size_t i = idset_hash(id, mask);; i = (i + 1) & mask) {
		if (set->slots[i] == 0) {
			set->slots[i] = id + 1;
			set->nr++;
			return 0;
		}
	}
}

/* ---- record definitions ---- */

enum rec_class {
	REC_SETUP,
	REC_EVENT,
	REC_EXPECT,
};

/* Which actors may run a record. */
enum actor_rule {
	ACTORS_NONE,			/* set-up: no actor at all */
	ACTORS_VCPU,			/* fault, prefault, accept */
	ACTORS_VMM,			/* VMM ioctls */
	ACTORS_VMM_HOST,		/* host kernel events, injections */
	ACTORS_ANY,			/* expect, check, mark, barrier */
};

enum arg_kind {
	ARG_OPT,			/* KEY=VALUE, may be left out */
	ARG_REQ,			/* KEY=VALUE, must be given */
	ARG_FLAG,			/* a bare word */
};

struct arg_def {
	const char *name;
	enum arg_kind kind;
};

/* What the generic argument scan found, indexed like rec_def.args. */
struct args {
	bool set[MAX_ARGS];
	struct tok val[MAX_ARGS];	/* the VALUE of KEY=VALUE */
	struct tok whole[MAX_ARGS];	/* the whole token */
	struct tok pos;			/* the positional ID, if any */
	bool has_pos;
	unsigned int first, end;	/* raw records: their tokens */
};

struct rec_def;
typedef int (*decode_fn)(struct parser *p, const struct rec_def *d,
			 struct args *a, struct trace_record *r);

struct rec_def {
	const char *name;		/* as messages quote it */
	enum trace_verb verb;
	enum rec_class cls;
	enum actor_rule actors;
	enum trace_actor_kind default_actor;
	bool tdx_only;
	bool positional;		/* takes one ID: gmem, slot ... */
	bool raw;			/* decodes its own tokens */
	const char *usage;
	decode_fn decode;
	struct arg_def args[MAX_ARGS];
};

static int arg_index(const struct rec_def *d, const char *name)
{
	for (int i = 0; i < MAX_ARGS && d->args[i].name; i++)
		if (!strcmp(d->args[i].name, name))
			return i;
	return -1;
}

static int arg_index_tok(const struct rec_def *d, const char *s, size_t len)
{
	for (int i = 0; i < MAX_ARGS && d->args[i].name; i++)
		if (lex_eq(s, len, d->args[i].name))
			return i;
	return -1;
}

static bool has(const struct rec_def *d, const struct args *a,
		const char *name)
{
	int i = arg_index(d, name);

	return i >= 0 && a->set[i];
}

/* The names @d takes of @kind, "a, b or c", for messages. */
static const char *arg_list(const struct rec_def *d, bool flags, char *buf,
			    size_t size)
{
	size_t n = 0, count = 0, k = 0;

	buf[0] = '\0';
	for (int i = 0; i < MAX_ARGS && d->args[i].name; i++)
		if ((d->args[i].kind == ARG_FLAG) == flags)
			count++;
	for (int i = 0; i < MAX_ARGS && d->args[i].name; i++) {
		if ((d->args[i].kind == ARG_FLAG) != flags)
			continue;
		k++;
		n += (size_t)snprintf(buf + n, n < size ? size - n : 0, "%s%s",
				      k == 1 ? "" : (k == count ? " or " :
						     ", "),
				      d->args[i].name);
		if (n >= size)
			break;
	}
	return buf;
}

/*
 * Sort the tokens [first, end) into @a: KEY=VALUE, flags and the
 * positional ID, rejecting unknown, repeated and malformed ones.
 */
static int scan_args(struct parser *p, const struct rec_def *d,
		     unsigned int first, unsigned int end, struct args *a)
{
	char list[256];

	if (!d->args[0].name && !d->positional && first < end)
		return perr(p, p->toks[first].col,
			    "unexpected " QFMT ": '%s' takes no arguments",
			    QUOTE(&p->toks[first]), d->name);
	for (unsigned int i = first; i < end; i++) {
		const struct tok *t = &p->toks[i];
		const char *eq = memchr(t->s, '=', t->len);
		size_t klen = eq ? (size_t)(eq - t->s) : t->len;
		int idx = arg_index_tok(d, t->s, klen);

		if (eq && klen == 0)
			return perr(p, t->col,
				    "missing key before '=' in " QFMT,
				    QUOTE(t));
		if (eq) {
			if (idx < 0)
				return perr(p, t->col,
					    "unknown key '%.*s' for '%s' (it takes %s)",
					    (int)(klen > QUOTE_MAX ? QUOTE_MAX :
						  klen),
					    t->s, d->name,
					    arg_list(d, false, list,
						     sizeof(list)));
			if (d->args[idx].kind == ARG_FLAG)
				return perr(p, t->col,
					    "'%s' is a flag and takes no value",
					    d->args[idx].name);
			if (a->set[idx])
				return perr(p, t->col,
					    "key '%s' given twice (first in column %u)",
					    d->args[idx].name,
					    a->whole[idx].col);
			if (klen + 1 == t->len)
				return perr(p, t->col,
					    "'%s=' has no value (%s)",
					    d->args[idx].name, d->usage);
			a->set[idx] = true;
			a->whole[idx] = *t;
			a->val[idx].s = eq + 1;
			a->val[idx].len = t->len - klen - 1;
			a->val[idx].col = t->col + (unsigned int)klen + 1;
			continue;
		}
		if (idx >= 0 && d->args[idx].kind == ARG_FLAG) {
			if (a->set[idx])
				return perr(p, t->col,
					    "flag '%s' given twice",
					    d->args[idx].name);
			a->set[idx] = true;
			a->whole[idx] = *t;
			continue;
		}
		if (idx >= 0)
			return perr(p, t->col, "'%s' needs a value: %s=... (%s)",
				    d->args[idx].name, d->args[idx].name,
				    d->usage);
		if (d->positional) {
			if (a->has_pos)
				return perr(p, t->col,
					    "unexpected " QFMT ": '%s' takes one ID (%s)",
					    QUOTE(t), d->name, d->usage);
			a->has_pos = true;
			a->pos = *t;
			continue;
		}
		if (arg_list(d, true, list, sizeof(list))[0])
			return perr(p, t->col,
				    "unknown flag " QFMT " for '%s' (it takes %s)",
				    QUOTE(t), d->name, list);
		return perr(p, t->col,
			    "unexpected " QFMT ": '%s' takes no flags (%s)",
			    QUOTE(t), d->name, d->usage);
	}
	for (int i = 0; i < MAX_ARGS && d->args[i].name; i++)
		if (d->args[i].kind == ARG_REQ && !a->set[i])
			return perr(p, 0, "'%s' needs %s= (%s)", d->name,
				    d->args[i].name, d->usage);
	if (d->positional && !a->has_pos)
		return perr(p, 0, "'%s' needs an ID (%s)", d->name, d->usage);
	return 0;
}

/* ---- scalar values ---- */

/* Word a lexer failure on @t, the value of @what ("gfn", "ID" ...). */
static int lex_err(struct parser *p, const struct tok *t, const char *what,
		   enum lex_status st, size_t bad, bool size)
{
	unsigned int col = t->col + (unsigned int)bad;

	switch (st) {
	case LEX_EMPTY:
		return perr(p, t->col, "%s: expected a number", what);
	case LEX_BAD_DIGIT:
		return perr(p, col,
			    "%s: bad digit '%c' in " QFMT " (expected a decimal or 0x-prefixed hex number%s)",
			    what, t->s[bad], QUOTE(t),
			    size ? " with an optional K, M, G or T" : "");
	case LEX_NO_HEX_DIGITS:
		return perr(p, col, "%s: no hex digits after '0x' in " QFMT,
			    what, QUOTE(t));
	case LEX_LEADING_ZERO:
		return perr(p, col,
			    "%s: leading zero in decimal number " QFMT " (write it without the zero; hex needs 0x)",
			    what, QUOTE(t));
	case LEX_OVERFLOW:
		return perr(p, t->col, "%s: " QFMT " overflows 64 bits", what,
			    QUOTE(t));
	case LEX_BAD_SUFFIX:
		return perr(p, col,
			    "%s: bad size suffix '%.*s' in " QFMT " (expected K, M, G or T)",
			    what, (int)(t->len - bad > QUOTE_MAX ? QUOTE_MAX :
					t->len - bad),
			    t->s + bad, QUOTE(t));
	case LEX_BAD_LEVEL:
		return perr(p, t->col,
			    "%s: bad level " QFMT " (expected 4K, 2M or 1G, or 1, 2 or 3)",
			    what, QUOTE(t));
	default:
		return perr(p, t->col, "%s: bad value " QFMT, what, QUOTE(t));
	}
}

static int tok_u64(struct parser *p, const struct tok *t, const char *what,
		   uint64_t *ret_val)
{
	enum lex_status st;
	size_t bad = 0;

	st = lex_u64(t->s, t->len, ret_val, &bad);
	if (st != LEX_OK)
		return lex_err(p, t, what, st, bad, false);
	return 0;
}

/* Number @name of @a, if given; @ret_val keeps its default otherwise. */
static int get_u64(struct parser *p, const struct rec_def *d,
		   const struct args *a, const char *name, uint64_t *ret_val)
{
	int i = arg_index(d, name);

	if (i < 0 || !a->set[i])
		return 0;
	return tok_u64(p, &a->val[i], name, ret_val);
}

/* A size in bytes; @gmem: it must be 4 KiB aligned (guest_memfd). */
static int get_size(struct parser *p, const struct rec_def *d,
		    const struct args *a, const char *name, bool gmem,
		    uint64_t *ret_val)
{
	int i = arg_index(d, name);
	enum lex_status st;
	size_t bad = 0;
	uint64_t v;

	if (i < 0 || !a->set[i])
		return 0;
	st = lex_size(a->val[i].s, a->val[i].len, &v, &bad);
	if (st != LEX_OK)
		return lex_err(p, &a->val[i], name, st, bad, true);
	if (gmem && (v & 4095))
		return perr(p, a->whole[i].col,
			    "'%s=%.*s%s' is not a multiple of 4 KiB (guest_memfd sizes and offsets must be 4 KiB aligned)",
			    name, QUOTE(&a->val[i]));
	*ret_val = v;
	return 0;
}

static int get_level(struct parser *p, const struct rec_def *d,
		     const struct args *a, const char *name, int *ret_level)
{
	int i = arg_index(d, name);
	enum lex_status st;

	if (i < 0 || !a->set[i])
		return 0;
	st = lex_level(a->val[i].s, a->val[i].len, ret_level);
	if (st != LEX_OK)
		return lex_err(p, &a->val[i], name, st, 0, false);
	return 0;
}

/* A GFN: a number below TRACE_GFN_LIMIT. */
static int get_gfn(struct parser *p, const struct rec_def *d,
		   const struct args *a, const char *name,
		   tdpsim_gfn_t *ret_gfn)
{
	int i = arg_index(d, name);
	uint64_t v;
	int ret;

	if (i < 0 || !a->set[i])
		return 0;
	ret = tok_u64(p, &a->val[i], name, &v);
	if (ret)
		return ret;
	if (v >= TRACE_GFN_LIMIT)
		return perr(p, a->whole[i].col,
			    "'%s=%.*s%s' is beyond the 52-bit guest physical address space (GFNs are below 0x%llx)",
			    name, QUOTE(&a->val[i]),
			    (unsigned long long)TRACE_GFN_LIMIT);
	*ret_gfn = v;
	return 0;
}

/* gfn=GFN pages=N: the range must end inside the GPA space. */
static int get_gfn_range(struct parser *p, const struct rec_def *d,
			 const struct args *a, tdpsim_gfn_t *ret_gfn,
			 uint64_t *ret_pages)
{
	uint64_t pages = 0;
	tdpsim_gfn_t gfn = 0;
	int ret;

	ret = get_gfn(p, d, a, "gfn", &gfn);
	if (!ret)
		ret = get_u64(p, d, a, "pages", &pages);
	if (ret)
		return ret;
	if (pages > TRACE_GFN_LIMIT - gfn)
		return perr(p, a->whole[arg_index(d, "pages")].col,
			    "gfn=0x%llx pages=%llu ends beyond the 52-bit guest physical address space (GFN 0x%llx)",
			    (unsigned long long)gfn,
			    (unsigned long long)pages,
			    (unsigned long long)TRACE_GFN_LIMIT);
	*ret_gfn = gfn;
	*ret_pages = pages;
	return 0;
}

/* A gmem or slot ID: @t is the token holding it, @what names it. */
static int tok_id(struct parser *p, const struct tok *t, const char *what,
		  uint32_t *ret_id)
{
	uint64_t v;
	int ret;

	ret = tok_u64(p, t, what, &v);
	if (ret)
		return ret;
	if (v > TRACE_MAX_ID)
		return perr(p, t->col, "%s " QFMT " is too large (IDs are 0 to %u)",
			    what, QUOTE(t), TRACE_MAX_ID);
	*ret_id = (uint32_t)v;
	return 0;
}

/* @id must name a gmem (or slot) created on an earlier line. */
static int ref_id(struct parser *p, const struct idset *set,
		  const char *what, uint32_t id, unsigned int col)
{
	if (idset_has(set, id))
		return 0;
	return perr(p, col,
		    "%s %u was never created: no '%s %u' record above this line",
		    what, id, what, id);
}

static int get_ref(struct parser *p, const struct rec_def *d,
		   const struct args *a, const char *key, bool slot,
		   uint32_t *ret_id)
{
	int i = arg_index(d, key);
	int ret;

	ret = tok_id(p, &a->val[i], key, ret_id);
	if (ret)
		return ret;
	return ref_id(p, slot ? &p->slots : &p->gmems, slot ? "slot" : "gmem",
		      *ret_id, a->whole[i].col);
}

/* At most one of the flags @x and @y. */
static int exclusive(struct parser *p, const struct rec_def *d,
		     const struct args *a, const char *x, const char *y)
{
	int ix = arg_index(d, x), iy = arg_index(d, y);

	if (!a->set[ix] || !a->set[iy])
		return 0;
	return perr(p, a->whole[ix].col > a->whole[iy].col ?
			       a->whole[ix].col : a->whole[iy].col,
		    "'%s' and '%s' exclude each other", x, y);
}

/* The view (private|shared) of a fault or expectation, defaulted. */
static int get_kind(struct parser *p, const struct rec_def *d,
		    const struct args *a, enum tdpsim_fault_kind *ret_kind)
{
	int ret;

	ret = exclusive(p, d, a, "private", "shared");
	if (ret)
		return ret;
	if (has(d, a, "private"))
		*ret_kind = TDPSIM_FAULT_PRIVATE;
	else if (has(d, a, "shared"))
		*ret_kind = TDPSIM_FAULT_SHARED;
	else if (p->t->vm.type == TDPSIM_VM_TDX)
		*ret_kind = TDPSIM_FAULT_PRIVATE;
	else if (p->t->vm.type == TDPSIM_VM_DEFAULT)
		*ret_kind = TDPSIM_FAULT_SHARED;
	else
		*ret_kind = TDPSIM_FAULT_DEFAULT;
	return 0;
}

/* Index of the value of @name in @a among the '|'-separated @choices. */
static int get_choice(struct parser *p, const struct rec_def *d,
		      const struct args *a, const char *name,
		      const char *const *choices, size_t n, const char *what,
		      int *ret_idx)
{
	int i = arg_index(d, name);
	char list[256];
	size_t len = 0;

	if (i < 0 || !a->set[i])
		return 0;
	for (size_t k = 0; k < n; k++) {
		if (lex_eq(a->val[i].s, a->val[i].len, choices[k])) {
			*ret_idx = (int)k;
			return 0;
		}
	}
	list[0] = '\0';
	for (size_t k = 0; k < n && len < sizeof(list); k++)
		len += (size_t)snprintf(list + len, sizeof(list) - len,
					"%s%s",
					k == 0 ? "" : (k + 1 == n ? " or " :
						       ", "),
					choices[k]);
	return perr(p, a->val[i].col, "bad %s " QFMT " (expected %s)", what,
		    QUOTE(&a->val[i]), list);
}

/* ---- decoders, one per record ---- */

static int decode_vm(struct parser *p, const struct rec_def *d,
		     struct args *a, struct trace_record *r)
{
	static const char *const types[] = { "default", "sw-protected",
					     "tdx" };
	static const char *const attrs[] = { "vm", "gmem" };
	struct trace_vm *vm = &p->t->vm;
	uint64_t levels = 4, vcpus = 1;
	int type = 0, attr = 0;
	int ret;

	(void)r;
	ret = get_choice(p, d, a, "type", types, ARRAY_LEN(types), "VM type",
			 &type);
	if (!ret)
		ret = get_choice(p, d, a, "attrs", attrs, ARRAY_LEN(attrs),
				 "attrs", &attr);
	if (!ret)
		ret = get_u64(p, d, a, "levels", &levels);
	if (ret)
		return ret;
	if (levels != 4 && levels != 5)
		return perr(p, a->val[arg_index(d, "levels")].col,
			    "levels=%llu: the TDP root level is 4 or 5",
			    (unsigned long long)levels);
	ret = get_u64(p, d, a, "vcpus", &vcpus);
	if (ret)
		return ret;
	if (vcpus < 1 || vcpus > TDPSIM_MAX_VCPUS)
		return perr(p, a->val[arg_index(d, "vcpus")].col,
			    "vcpus=%llu: a VM has 1 to %d vCPUs",
			    (unsigned long long)vcpus, TDPSIM_MAX_VCPUS);
	vm->mirror = has(d, a, "mirror");
	if (vm->mirror && type != TDPSIM_VM_SW_PROTECTED)
		return perr(p, a->whole[arg_index(d, "mirror")].col,
			    "'mirror' (the test mode with a mirror root) needs type=sw-protected");
	vm->type = (enum tdpsim_vm_type)type;
	vm->attrs = attr ? TDPSIM_ATTRS_GMEM : TDPSIM_ATTRS_VM;
	vm->levels = (unsigned int)levels;
	vm->vcpus = (unsigned int)vcpus;
	vm->line = p->line;
	return 0;
}

static int decode_policy(struct parser *p, const struct rec_def *d,
			 struct args *a, struct trace_record *r)
{
	struct trace *t = p->t;
	struct tdpsim_policy scratch;
	size_t base = t->nr_policies;
	int ret;

	(void)r;
	if (a->first == a->end)
		return perr(p, 0, "'policy' needs at least one KEY=VALUE (%s)",
			    d->usage);
	policy_init(&scratch);
	for (unsigned int i = a->first; i < a->end; i++) {
		const struct tok *tk = &p->toks[i];
		const char *eq = memchr(tk->s, '=', tk->len);
		struct trace_policy *pol;
		struct tok key, val;
		const char *values;

		if (!eq)
			return perr(p, tk->col,
				    "'policy' takes KEY=VALUE pairs, not " QFMT,
				    QUOTE(tk));
		key.s = tk->s;
		key.len = (size_t)(eq - tk->s);
		key.col = tk->col;
		val.s = eq + 1;
		val.len = tk->len - key.len - 1;
		val.col = tk->col + (unsigned int)key.len + 1;
		if (!key.len)
			return perr(p, tk->col,
				    "missing key before '=' in " QFMT,
				    QUOTE(tk));
		if (!val.len)
			return perr(p, tk->col, "policy " QFMT " has no value",
				    QUOTE(&key));
		cstr(p->scratch, &key);
		cstr(p->scratch2, &val);
		for (size_t k = 0; k < t->nr_policies; k++) {
			if (strcmp(t->policies[k].key, p->scratch))
				continue;
			if (k >= base)
				return perr(p, tk->col,
					    "policy " QFMT " given twice",
					    QUOTE(&key));
			return perr(p, tk->col,
				    "policy " QFMT " already set on line %u",
				    QUOTE(&key), t->policies[k].line);
		}
		ret = policy_set(&scratch, p->scratch, p->scratch2);
		if (ret == -ENOENT)
			return perr(p, tk->col,
				    "unknown policy " QFMT " (see policies.md)",
				    QUOTE(&key));
		if (ret) {
			values = policy_values(p->scratch);
			return perr(p, val.col,
				    "bad value " QFMT " for policy " QFMT " (expected %s)",
				    QUOTE(&val), QUOTE(&key),
				    values ? values : "a valid value");
		}
		if (t->nr_policies == p->cap_policies) {
			size_t cap = p->cap_policies ? p->cap_policies * 2 : 8;
			void *n = realloc(t->policies,
					  cap * sizeof(*t->policies));

			if (!n)
				return nomem(p);
			t->policies = n;
			p->cap_policies = cap;
		}
		pol = &t->policies[t->nr_policies];
		pol->key = strdup(p->scratch);
		pol->value = strdup(p->scratch2);
		pol->line = p->line;
		if (!pol->key || !pol->value) {
			free(pol->key);
			free(pol->value);
			return nomem(p);
		}
		t->nr_policies++;
	}
	return 0;
}

static int decode_gmem(struct parser *p, const struct rec_def *d,
		       struct args *a, struct trace_record *r)
{
	struct trace_gmem *g = &r->u.gmem;
	int ret;

	g->huge = TDPSIM_LEVEL_4K;
	ret = tok_id(p, &a->pos, "gmem ID", &g->id);
	if (!ret)
		ret = get_size(p, d, a, "size", true, &g->size);
	if (!ret)
		ret = get_level(p, d, a, "huge", &g->huge);
	if (ret)
		return ret;
	g->init_shared = has(d, a, "init-shared");
	return idset_add(&p->gmems, g->id) ? nomem(p) : 0;
}

static int decode_slot(struct parser *p, const struct rec_def *d,
		       struct args *a, struct trace_record *r)
{
	struct trace_slot *s = &r->u.slot;
	uint32_t gmem;
	int ret;

	s->gmem_id = -1;
	s->host_page = TDPSIM_LEVEL_4K;
	ret = tok_id(p, &a->pos, "slot ID", &s->id);
	if (!ret)
		ret = get_gfn_range(p, d, a, &s->gfn, &s->pages);
	if (!ret)
		ret = get_level(p, d, a, "host-page", &s->host_page);
	if (ret)
		return ret;
	if (has(d, a, "gmem")) {
		ret = get_ref(p, d, a, "gmem", false, &gmem);
		if (ret)
			return ret;
		s->gmem_id = (int)gmem;
	}
	if (has(d, a, "offset")) {
		int i = arg_index(d, "offset");

		if (s->gmem_id < 0)
			return perr(p, a->whole[i].col,
				    "'offset=' needs 'gmem=': it is the offset into the guest_memfd");
		ret = get_size(p, d, a, "offset", true, &s->offset);
		if (ret)
			return ret;
		/* pages < 2^40, so pages * 4096 cannot overflow. */
		if (s->offset > UINT64_MAX - s->pages * 4096)
			return perr(p, a->whole[i].col,
				    "offset=0x%llx plus %llu pages overflows 64 bits",
				    (unsigned long long)s->offset,
				    (unsigned long long)s->pages);
	}
	s->readonly = has(d, a, "readonly");
	return idset_add(&p->slots, s->id) ? nomem(p) : 0;
}

static int decode_slot_delete(struct parser *p, const struct rec_def *d,
			      struct args *a, struct trace_record *r)
{
	int ret;

	(void)d;
	ret = tok_id(p, &a->pos, "slot ID", &r->u.slot_delete_id);
	if (ret)
		return ret;
	return ref_id(p, &p->slots, "slot", r->u.slot_delete_id, a->pos.col);
}

/* allocate, punch, poison */
static int decode_gmem_range(struct parser *p, const struct rec_def *d,
			     struct args *a, struct trace_record *r)
{
	struct trace_gmem_range *g = &r->u.gmem_range;
	int ret;

	g->len = 4096;
	ret = get_ref(p, d, a, "gmem", false, &g->gmem_id);
	if (!ret)
		ret = get_size(p, d, a, "offset", true, &g->offset);
	if (!ret)
		ret = get_size(p, d, a, "len", true, &g->len);
	if (ret)
		return ret;
	if (g->offset > UINT64_MAX - g->len)
		return perr(p, a->whole[arg_index(d, "offset")].col,
			    "offset=0x%llx len=0x%llx overflows 64 bits",
			    (unsigned long long)g->offset,
			    (unsigned long long)g->len);
	return 0;
}

/* convert, prefault, invalidate, populate */
static int decode_range(struct parser *p, const struct rec_def *d,
			struct args *a, struct trace_record *r)
{
	struct trace_gfn_range *g = &r->u.range;
	int ret;

	ret = get_gfn_range(p, d, a, &g->gfn, &g->pages);
	if (ret || d->verb != TRACE_CONVERT)
		return ret;
	ret = exclusive(p, d, a, "private", "shared");
	if (ret)
		return ret;
	if (!has(d, a, "private") && !has(d, a, "shared"))
		return perr(p, 0,
			    "'convert' needs 'private' or 'shared' (%s)",
			    d->usage);
	g->private_mem = has(d, a, "private");
	return 0;
}

static int decode_fault(struct parser *p, const struct rec_def *d,
			struct args *a, struct trace_record *r)
{
	struct trace_fault *f = &r->u.fault;
	int ret;

	ret = get_gfn(p, d, a, "gfn", &f->gfn);
	if (!ret)
		ret = get_kind(p, d, a, &f->kind);
	if (!ret)
		ret = exclusive(p, d, a, "read", "write");
	if (!ret)
		ret = exclusive(p, d, a, "read", "exec");
	if (!ret)
		ret = exclusive(p, d, a, "write", "exec");
	if (ret)
		return ret;
	if (has(d, a, "read"))
		f->access = TDPSIM_ACCESS_READ;
	else if (has(d, a, "exec"))
		f->access = TDPSIM_ACCESS_EXEC;
	else
		f->access = TDPSIM_ACCESS_WRITE;
	return 0;
}

static int decode_accept(struct parser *p, const struct rec_def *d,
			 struct args *a, struct trace_record *r)
{
	struct trace_accept *acc = &r->u.accept;
	uint64_t pages;
	int ret;

	ret = get_gfn(p, d, a, "gfn", &acc->gfn);
	if (!ret)
		ret = get_level(p, d, a, "level", &acc->level);
	if (ret)
		return ret;
	if (acc->level != TDPSIM_LEVEL_4K && acc->level != TDPSIM_LEVEL_2M)
		return perr(p, a->val[arg_index(d, "level")].col,
			    "'accept' takes level=4K or level=2M, not %s",
			    tdpsim_level_name(acc->level));
	pages = tdpsim_pages_per_level(acc->level);
	if (acc->gfn & (pages - 1))
		return perr(p, a->whole[arg_index(d, "gfn")].col,
			    "gfn=0x%llx is not aligned to level %s (accept needs a multiple of 0x%llx)",
			    (unsigned long long)acc->gfn,
			    tdpsim_level_name(acc->level),
			    (unsigned long long)pages);
	return 0;
}

static int decode_dirty_log(struct parser *p, const struct rec_def *d,
			    struct args *a, struct trace_record *r)
{
	struct trace_dirty_log *dl = &r->u.dirty_log;
	int ret;

	ret = exclusive(p, d, a, "on", "off");
	if (ret)
		return ret;
	if (!has(d, a, "on") && !has(d, a, "off"))
		return perr(p, 0, "'dirty-log' needs 'on' or 'off' (%s)",
			    d->usage);
	if (has(d, a, "manual") && has(d, a, "off"))
		return perr(p, a->whole[arg_index(d, "manual")].col,
			    "'manual' only goes with 'on'");
	dl->on = has(d, a, "on");
	dl->manual = has(d, a, "manual");
	return get_ref(p, d, a, "slot", true, &dl->slot_id);
}

static int decode_clear_dirty(struct parser *p, const struct rec_def *d,
			      struct args *a, struct trace_record *r)
{
	struct trace_clear_dirty *c = &r->u.clear_dirty;
	int ret;

	ret = get_ref(p, d, a, "slot", true, &c->slot_id);
	if (!ret)
		ret = get_u64(p, d, a, "first", &c->first);
	if (!ret)
		ret = get_u64(p, d, a, "mask", &c->mask);
	if (ret)
		return ret;
	if (c->first % 64)
		return perr(p, a->whole[arg_index(d, "first")].col,
			    "first=%llu is not a multiple of 64 (KVM_CLEAR_DIRTY_LOG works on 64-page windows)",
			    (unsigned long long)c->first);
	return 0;
}

static int decode_nothing(struct parser *p, const struct rec_def *d,
			  struct args *a, struct trace_record *r)
{
	(void)p;
	(void)d;
	(void)a;
	(void)r;
	return 0;
}

/* count=N, at least 1. */
static int get_count(struct parser *p, const struct rec_def *d,
		     const struct args *a, uint64_t *ret_count)
{
	int ret;

	*ret_count = 1;
	ret = get_u64(p, d, a, "count", ret_count);
	if (ret)
		return ret;
	if (*ret_count == 0)
		return perr(p, a->whole[arg_index(d, "count")].col,
			    "count=0 injects nothing: count is at least 1");
	return 0;
}

static int decode_alloc_fail(struct parser *p, const struct rec_def *d,
			     struct args *a, struct trace_record *r)
{
	int ret;

	r->u.alloc_fail.after = 0;
	ret = get_u64(p, d, a, "after", &r->u.alloc_fail.after);
	if (ret)
		return ret;
	return get_count(p, d, a, &r->u.alloc_fail.count);
}

static int decode_seamcall(struct parser *p, const struct rec_def *d,
			   struct args *a, struct trace_record *r)
{
	struct trace_inject_seamcall *sc = &r->u.seamcall;
	int il = arg_index(d, "seamcall"), is = arg_index(d, "status");
	const struct tok *lv = &a->val[il], *sv = &a->val[is];
	uint64_t code;
	size_t bad;

	sc->leaf = trace_tdx_leaf_lookup(cstr(p->scratch, lv));
	if (!sc->leaf)
		return perr(p, lv->col,
			    "unknown SEAMCALL leaf " QFMT " (expected a name such as PAGE.AUG, PAGE.DEMOTE, SEPT.ADD, RANGE.BLOCK, MEM.TRACK or PAGE.REMOVE)",
			    QUOTE(lv));
	if (sv->s[0] >= '0' && sv->s[0] <= '9') {
		bad = 0;
		if (lex_u64(sv->s, sv->len, &code, &bad) != LEX_OK)
			return tok_u64(p, sv, "status", &code);
		sc->status = trace_tdx_status_by_code(code);
		if (!sc->status)
			return perr(p, sv->col,
				    "'status=%.*s%s' is not a TDX Module status code (bits 63:32 match none)",
				    QUOTE(sv));
	} else {
		sc->status = trace_tdx_status_lookup(cstr(p->scratch, sv));
		if (!sc->status)
			return perr(p, sv->col,
				    "unknown TDX status " QFMT " (expected a name such as OPERAND_BUSY, OPERAND_INVALID, EPT_WALK_FAILED or INTERRUPTED_RESTARTABLE)",
				    QUOTE(sv));
		code = sc->status->code;
	}
	if (!sc->status->code)
		return perr(p, sv->col,
			    "'status=%.*s%s' cannot be injected: inject a failure or a warning",
			    QUOTE(sv));
	sc->status_code = code;
	return get_count(p, d, a, &sc->count);
}

static int decode_expect_result(struct parser *p, const struct rec_def *d,
				struct args *a, struct trace_record *r)
{
	const struct tok *v = &a->val[arg_index(d, "result")];
	struct trace_result *res = &r->u.result;

	for (unsigned int k = 0; k < TRACE_RESULT_ERROR; k++) {
		if (lex_eq(v->s, v->len, result_names[k])) {
			res->kind = (enum trace_result_kind)k;
			res->err = 0;
			return 0;
		}
	}
	if (v->len > 6 && !memcmp(v->s, "error:", 6)) {
		struct tok name = { v->s + 6, v->len - 6, v->col + 6 };

		res->kind = TRACE_RESULT_ERROR;
		res->err = tdpsim_errno_from_name(cstr(p->scratch, &name));
		if (!res->err)
			return perr(p, name.col,
				    "unknown errno " QFMT " in 'result=error:...' (expected a name such as EINVAL, EEXIST, ENOMEM, ENOENT or EHWPOISON)",
				    QUOTE(&name));
		return 0;
	}
	return perr(p, v->col,
		    "bad result " QFMT " (expected ok, exit-memory-fault, emulate, already-accepted, size-mismatch or error:ERRNO)",
		    QUOTE(v));
}

/* expect mapped, unmapped, max-level */
static int decode_expect_map(struct parser *p, const struct rec_def *d,
			     struct args *a, struct trace_record *r)
{
	struct trace_expect_map *m = &r->u.map;
	int ret;

	m->level = 0;
	ret = get_gfn(p, d, a, "gfn", &m->gfn);
	if (!ret)
		ret = get_level(p, d, a, "level", &m->level);
	if (!ret)
		ret = get_kind(p, d, a, &m->kind);
	return ret;
}

static int decode_expect_sept(struct parser *p, const struct rec_def *d,
			      struct args *a, struct trace_record *r)
{
	struct trace_expect_sept *s = &r->u.sept;
	int state = 0;
	int ret;

	ret = get_gfn(p, d, a, "gfn", &s->gfn);
	if (!ret)
		ret = get_level(p, d, a, "level", &s->level);
	if (!ret)
		ret = get_choice(p, d, a, "state", sept_names,
				 ARRAY_LEN(sept_names), "S-EPT state", &state);
	s->state = (enum trace_sept_state)state;
	return ret;
}

static int decode_expect_stat(struct parser *p, const struct rec_def *d,
			      struct args *a, struct trace_record *r)
{
	struct trace_expect_stat *st = &r->u.stat;
	const struct tok *name, *op, *n;
	unsigned int k;

	if (a->end - a->first < 3)
		return perr(p, 0, "'expect stat' needs NAME OP N (%s)",
			    d->usage);
	if (a->end - a->first > 3)
		return perr(p, p->toks[a->first + 3].col,
			    "unexpected " QFMT " after 'expect stat NAME OP N'",
			    QUOTE(&p->toks[a->first + 3]));
	name = &p->toks[a->first];
	op = &p->toks[a->first + 1];
	n = &p->toks[a->first + 2];
	if (tdpsim_stat_from_name(cstr(p->scratch, name), &st->stat))
		return perr(p, name->col,
			    "unknown counter " QFMT " (e.g. fault, map.2M, split.2M, pt.live, seamcall.PAGE.AUG; tdpsim-replay --json lists all)",
			    QUOTE(name));
	for (k = 0; k < TRACE_CMP_NR; k++)
		if (lex_eq(op->s, op->len, cmp_names[k]))
			break;
	if (k == TRACE_CMP_NR)
		return perr(p, op->col,
			    "bad comparison " QFMT " (expected ==, !=, <, <=, > or >=)",
			    QUOTE(op));
	st->op = (enum trace_cmp)k;
	return tok_u64(p, n, "expect stat", &st->value);
}

static int decode_expect_violation(struct parser *p, const struct rec_def *d,
				   struct args *a, struct trace_record *r)
{
	const struct tok *id;
	char list[400];
	size_t len = 0;

	if (a->end == a->first)
		return perr(p, 0, "'expect violation' needs an invariant ID (%s)",
			    d->usage);
	if (a->end - a->first > 1)
		return perr(p, p->toks[a->first + 1].col,
			    "unexpected " QFMT ": 'expect violation' takes one ID",
			    QUOTE(&p->toks[a->first + 1]));
	id = &p->toks[a->first];
	if (!trace_invariant_from_name(cstr(p->scratch, id), &r->u.violation))
		return 0;
	list[0] = '\0';
	for (unsigned int i = 0; i < TRACE_INV_NR && len < sizeof(list); i++)
		len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s",
					i ? ", " : "", invariant_names[i]);
	return perr(p, id->col, "unknown invariant " QFMT " (expected one of %s)",
		    QUOTE(id), list);
}

#define FLAG(n) { n, ARG_FLAG }
#define OPT(n) { n, ARG_OPT }
#define REQ(n) { n, ARG_REQ }

static const struct rec_def rec_defs[] = {
	{ "vm", TRACE_VM, REC_SETUP, ACTORS_NONE, TRACE_ACTOR_VMM, false,
	  false, false,
	  "vm type=default|sw-protected|tdx [levels=4|5] [vcpus=N] [attrs=vm|gmem] [mirror]",
	  decode_vm,
	  { REQ("type"), OPT("levels"), OPT("vcpus"), OPT("attrs"),
	    FLAG("mirror") } },
	{ "policy", TRACE_POLICY, REC_SETUP, ACTORS_NONE, TRACE_ACTOR_VMM,
	  false, false, true, "policy KEY=VALUE ...", decode_policy, { { 0 } } },
	{ "gmem", TRACE_GMEM, REC_EVENT, ACTORS_VMM, TRACE_ACTOR_VMM, false,
	  true, false, "gmem ID size=SIZE [huge=4K|2M|1G] [init-shared]",
	  decode_gmem,
	  { REQ("size"), OPT("huge"), FLAG("init-shared") } },
	{ "slot", TRACE_SLOT, REC_EVENT, ACTORS_VMM, TRACE_ACTOR_VMM, false,
	  true, false,
	  "slot ID gfn=GFN pages=N [gmem=ID] [offset=SIZE] [host-page=4K|2M|1G] [readonly]",
	  decode_slot,
	  { REQ("gfn"), REQ("pages"), OPT("gmem"), OPT("offset"),
	    OPT("host-page"), FLAG("readonly") } },
	{ "slot-delete", TRACE_SLOT_DELETE, REC_EVENT, ACTORS_VMM,
	  TRACE_ACTOR_VMM, false, true, false, "slot-delete ID",
	  decode_slot_delete, { { 0 } } },
	{ "allocate", TRACE_ALLOCATE, REC_EVENT, ACTORS_VMM, TRACE_ACTOR_VMM,
	  false, false, false, "allocate gmem=ID offset=SIZE len=SIZE",
	  decode_gmem_range, { REQ("gmem"), REQ("offset"), REQ("len") } },
	{ "punch", TRACE_PUNCH, REC_EVENT, ACTORS_VMM, TRACE_ACTOR_VMM,
	  false, false, false, "punch gmem=ID offset=SIZE len=SIZE",
	  decode_gmem_range, { REQ("gmem"), REQ("offset"), REQ("len") } },
	{ "poison", TRACE_POISON, REC_EVENT, ACTORS_VMM_HOST, TRACE_ACTOR_HOST,
	  false, false, false, "poison gmem=ID offset=SIZE",
	  decode_gmem_range, { REQ("gmem"), REQ("offset") } },
	{ "convert", TRACE_CONVERT, REC_EVENT, ACTORS_VMM, TRACE_ACTOR_VMM,
	  false, false, false, "convert gfn=GFN pages=N private|shared",
	  decode_range,
	  { REQ("gfn"), REQ("pages"), FLAG("private"), FLAG("shared") } },
	{ "fault", TRACE_FAULT, REC_EVENT, ACTORS_VCPU, TRACE_ACTOR_VCPU,
	  false, false, false,
	  "vcpuN fault gfn=GFN [private|shared] [read|write|exec]",
	  decode_fault,
	  { REQ("gfn"), FLAG("private"), FLAG("shared"), FLAG("read"),
	    FLAG("write"), FLAG("exec") } },
	{ "prefault", TRACE_PREFAULT, REC_EVENT, ACTORS_VCPU, TRACE_ACTOR_VCPU,
	  false, false, false, "vcpuN prefault gfn=GFN pages=N",
	  decode_range, { REQ("gfn"), REQ("pages") } },
	{ "accept", TRACE_ACCEPT, REC_EVENT, ACTORS_VCPU, TRACE_ACTOR_VCPU,
	  true, false, false, "vcpuN accept gfn=GFN level=4K|2M",
	  decode_accept, { REQ("gfn"), REQ("level") } },
	{ "dirty-log", TRACE_DIRTY_LOG, REC_EVENT, ACTORS_VMM, TRACE_ACTOR_VMM,
	  false, false, false, "dirty-log slot=ID on [manual] | off",
	  decode_dirty_log,
	  { REQ("slot"), FLAG("on"), FLAG("off"), FLAG("manual") } },
	{ "clear-dirty", TRACE_CLEAR_DIRTY, REC_EVENT, ACTORS_VMM,
	  TRACE_ACTOR_VMM, false, false, false,
	  "clear-dirty slot=ID first=N mask=HEX", decode_clear_dirty,
	  { REQ("slot"), REQ("first"), REQ("mask") } },
	{ "invalidate", TRACE_INVALIDATE, REC_EVENT, ACTORS_VMM_HOST,
	  TRACE_ACTOR_HOST, false, false, false,
	  "invalidate gfn=GFN pages=N", decode_range,
	  { REQ("gfn"), REQ("pages") } },
	{ "populate", TRACE_POPULATE, REC_EVENT, ACTORS_VMM, TRACE_ACTOR_VMM,
	  true, false, false, "populate gfn=GFN pages=N", decode_range,
	  { REQ("gfn"), REQ("pages") } },
	{ "finalize", TRACE_FINALIZE, REC_EVENT, ACTORS_VMM, TRACE_ACTOR_VMM,
	  true, false, false, "finalize", decode_nothing, { { 0 } } },
	{ "destroy", TRACE_DESTROY, REC_EVENT, ACTORS_VMM, TRACE_ACTOR_VMM,
	  false, false, false, "destroy", decode_nothing, { { 0 } } },
	{ "inject alloc-fail", TRACE_INJECT_ALLOC_FAIL, REC_EVENT,
	  ACTORS_VMM_HOST, TRACE_ACTOR_VMM, false, false, false,
	  "inject alloc-fail [after=N] [count=N]", decode_alloc_fail,
	  { FLAG("alloc-fail"), OPT("after"), OPT("count") } },
	{ "inject seamcall", TRACE_INJECT_SEAMCALL, REC_EVENT,
	  ACTORS_VMM_HOST, TRACE_ACTOR_VMM, true, false, false,
	  "inject seamcall=LEAF status=STATUS [count=N]", decode_seamcall,
	  { REQ("seamcall"), REQ("status"), OPT("count") } },
	{ "check", TRACE_CHECK, REC_EVENT, ACTORS_ANY, TRACE_ACTOR_VMM, false,
	  false, false, "check", decode_nothing, { { 0 } } },
	{ "mark", TRACE_MARK, REC_EVENT, ACTORS_ANY, TRACE_ACTOR_VMM, false,
	  false, false, "mark", decode_nothing, { { 0 } } },
	{ "barrier", TRACE_BARRIER, REC_EVENT, ACTORS_ANY, TRACE_ACTOR_VMM,
	  false, false, false, "barrier", decode_nothing, { { 0 } } },
	{ "expect result", TRACE_EXPECT_RESULT, REC_EXPECT, ACTORS_ANY,
	  TRACE_ACTOR_VMM, false, false, false, "expect result=RESULT",
	  decode_expect_result, { REQ("result") } },
	{ "expect mapped", TRACE_EXPECT_MAPPED, REC_EXPECT, ACTORS_ANY,
	  TRACE_ACTOR_VMM, false, false, false,
	  "expect mapped gfn=GFN level=L [private|shared]", decode_expect_map,
	  { REQ("gfn"), REQ("level"), FLAG("private"), FLAG("shared") } },
	{ "expect unmapped", TRACE_EXPECT_UNMAPPED, REC_EXPECT, ACTORS_ANY,
	  TRACE_ACTOR_VMM, false, false, false,
	  "expect unmapped gfn=GFN [private|shared]", decode_expect_map,
	  { REQ("gfn"), FLAG("private"), FLAG("shared") } },
	{ "expect max-level", TRACE_EXPECT_MAX_LEVEL, REC_EXPECT, ACTORS_ANY,
	  TRACE_ACTOR_VMM, false, false, false,
	  "expect max-level gfn=GFN level=L [private|shared]",
	  decode_expect_map,
	  { REQ("gfn"), REQ("level"), FLAG("private"), FLAG("shared") } },
	{ "expect sept", TRACE_EXPECT_SEPT, REC_EXPECT, ACTORS_ANY,
	  TRACE_ACTOR_VMM, true, false, false,
	  "expect sept gfn=GFN level=L state=STATE", decode_expect_sept,
	  { REQ("gfn"), REQ("level"), REQ("state") } },
	{ "expect stat", TRACE_EXPECT_STAT, REC_EXPECT, ACTORS_ANY,
	  TRACE_ACTOR_VMM, false, false, true, "expect stat NAME OP N",
	  decode_expect_stat, { { 0 } } },
	{ "expect violation", TRACE_EXPECT_VIOLATION, REC_EXPECT, ACTORS_ANY,
	  TRACE_ACTOR_VMM, false, false, true, "expect violation ID",
	  decode_expect_violation, { { 0 } } },
};

static const struct rec_def *find_def(const char *name)
{
	for (size_t i = 0; i < ARRAY_LEN(rec_defs); i++)
		if (!strcmp(rec_defs[i].name, name))
			return &rec_defs[i];
	return NULL;
}

/* ---- actors ---- */

/* True if @t is written like an actor (so not a verb). */
static bool looks_like_actor(const struct tok *t)
{
	return lex_eq(t->s, t->len, "host") ||
	       (t->len >= 4 && !memcmp(t->s, "vcpu", 4)) ||
	       (t->len >= 3 && !memcmp(t->s, "vmm", 3));
}

static int parse_actor(struct parser *p, const struct tok *t,
		       struct trace_actor *ret_actor)
{
	size_t skip = t->s[1] == 'c' ? 4 : 3;
	uint64_t n = 0;
	size_t bad;

	ret_actor->explicit_ = true;
	ret_actor->index = 0;
	if (lex_eq(t->s, t->len, "host")) {
		ret_actor->kind = TRACE_ACTOR_HOST;
		return 0;
	}
	ret_actor->kind = skip == 4 ? TRACE_ACTOR_VCPU : TRACE_ACTOR_VMM;
	if (skip == 3 && t->len == 3)
		return 0;
	/* vcpuN, vmmN: decimal digits only, no leading zero. */
	for (size_t i = skip; i < t->len; i++)
		if (t->s[i] < '0' || t->s[i] > '9')
			goto bad;
	if (lex_u64(t->s + skip, t->len - skip, &n, &bad) != LEX_OK)
		goto bad;
	if (skip == 3 && n >= TRACE_MAX_VMM)
		return perr(p, t->col,
			    "no VMM thread " QFMT ": at most %d (vmm0 to vmm%d)",
			    QUOTE(t), TRACE_MAX_VMM, TRACE_MAX_VMM - 1);
	if (skip == 4 && n >= p->t->vm.vcpus)
		return perr(p, t->col,
			    "no vCPU " QFMT ": the VM has %u vCPU%s (vcpu0 to vcpu%u; set vcpus= on the vm record)",
			    QUOTE(t), p->t->vm.vcpus,
			    p->t->vm.vcpus == 1 ? "" : "s", p->t->vm.vcpus - 1);
	ret_actor->index = (unsigned int)n;
	return 0;
bad:
	return perr(p, t->col,
		    "bad actor " QFMT " (expected vcpuN, vmm, vmmN or host, N in decimal)",
		    QUOTE(t));
}

static const char *actor_rule_text(enum actor_rule rule)
{
	switch (rule) {
	case ACTORS_VCPU:
		return "a vCPU (vcpuN)";
	case ACTORS_VMM:
		return "the VMM (vmm or vmmN)";
	case ACTORS_VMM_HOST:
		return "host or the VMM (vmm or vmmN)";
	default:
		return "any actor";
	}
}

static int check_actor(struct parser *p, const struct rec_def *d,
		       const struct tok *at, struct trace_actor *actor)
{
	bool ok;

	if (!at) {
		if (d->actors == ACTORS_VCPU)
			return perr(p, 1,
				    "'%s' is run by a vCPU: write 'vcpuN %s ...' (%s)",
				    d->name, d->name, d->usage);
		actor->kind = d->default_actor;
		actor->index = 0;
		actor->explicit_ = false;
		return 0;
	}
	switch (d->actors) {
	case ACTORS_VCPU:
		ok = actor->kind == TRACE_ACTOR_VCPU;
		break;
	case ACTORS_VMM:
		ok = actor->kind == TRACE_ACTOR_VMM;
		break;
	case ACTORS_VMM_HOST:
		ok = actor->kind != TRACE_ACTOR_VCPU;
		break;
	default:
		ok = true;
		break;
	}
	if (!ok)
		return perr(p, at->col, "'%s' is run by %s, not by " QFMT,
			    d->name, actor_rule_text(d->actors), QUOTE(at));
	return 0;
}

static size_t actor_slot(const struct trace_actor *a)
{
	switch (a->kind) {
	case TRACE_ACTOR_VCPU:
		return a->index;
	case TRACE_ACTOR_VMM:
		return ACTOR_SLOT_VMM + a->index;
	default:
		return ACTOR_SLOT_HOST;
	}
}

/* ---- records ---- */

/* Pick the definition for the verb at token @vi; @ret_first: its args. */
static int find_record(struct parser *p, unsigned int vi,
		       const struct rec_def **ret_def, unsigned int *ret_first)
{
	const struct tok *v = &p->toks[vi];
	char name[32];

	if (lex_eq(v->s, v->len, "expect")) {
		const struct tok *k;
		const char *eq;
		size_t klen;

		if (vi + 1 >= p->ntok)
			return perr(p, v->col,
				    "'expect' needs what to check: result=, mapped, unmapped, max-level, sept, stat or violation");
		k = &p->toks[vi + 1];
		eq = memchr(k->s, '=', k->len);
		klen = eq ? (size_t)(eq - k->s) : k->len;
		if (lex_eq(k->s, klen, "result")) {
			if (!eq)
				return perr(p, k->col,
					    "'expect result' needs a value: expect result=RESULT");
			*ret_def = find_def("expect result");
			*ret_first = vi + 1;
			return 0;
		}
		if (!eq && klen < 20) {
			snprintf(name, sizeof(name), "expect %.*s", (int)klen,
				 k->s);
			*ret_def = find_def(name);
			if (*ret_def) {
				*ret_first = vi + 2;
				return 0;
			}
		}
		return perr(p, k->col,
			    "unknown expectation " QFMT " (expected result=, mapped, unmapped, max-level, sept, stat or violation)",
			    QUOTE(k));
	}
	if (lex_eq(v->s, v->len, "inject")) {
		bool alloc = false, seam = false;

		for (unsigned int i = vi + 1; i < p->ntok; i++) {
			const struct tok *t = &p->toks[i];

			alloc |= lex_eq(t->s, t->len, "alloc-fail");
			seam |= t->len >= 9 && !memcmp(t->s, "seamcall=", 9);
		}
		if (alloc && seam)
			return perr(p, v->col,
				    "'inject' takes either alloc-fail or seamcall=LEAF, not both");
		if (!alloc && !seam)
			return perr(p, v->col,
				    "'inject' needs alloc-fail or seamcall=LEAF status=STATUS");
		*ret_def = find_def(alloc ? "inject alloc-fail" :
				    "inject seamcall");
		*ret_first = vi + 1;
		return 0;
	}
	if (lex_eq(v->s, v->len, "tdpsim-trace"))
		return perr(p, v->col,
			    "second header 'tdpsim-trace' (the first is on line %u)",
			    p->header_line);
	/* Tokens hold no spaces, so this never finds "expect ..." names. */
	*ret_def = NULL;
	if (v->len < sizeof(name))
		*ret_def = find_def(cstr(name, v));
	if (!*ret_def)
		return perr(p, v->col, "unknown record " QFMT, QUOTE(v));
	*ret_first = vi + 1;
	return 0;
}

/* Where a record may appear: set-up first, lifecycle order, VM type. */
static int check_order(struct parser *p, const struct rec_def *d,
		       const struct tok *vt)
{
	const struct trace_vm *vm = &p->t->vm;

	if (d->cls == REC_SETUP) {
		if (p->first_event_line)
			return perr(p, vt->col,
				    "'%s' is a set-up record: it must come before the first event (line %u)",
				    d->name, p->first_event_line);
		if (d->verb == TRACE_VM && p->vm_line)
			return perr(p, vt->col,
				    "second 'vm' record (the first is on line %u)",
				    p->vm_line);
		return 0;
	}
	if (!p->vm_line)
		return perr(p, vt->col,
			    "'%s' before the 'vm' record: set-up needs one 'vm' record before the first event",
			    d->name);
	if (p->destroy_line && d->cls != REC_EXPECT &&
	    d->verb != TRACE_CHECK && d->verb != TRACE_MARK)
		return perr(p, vt->col,
			    "'%s' after 'destroy' (line %u): only expect, check and mark may follow it",
			    d->name, p->destroy_line);
	if (d->tdx_only && vm->type != TDPSIM_VM_TDX)
		return perr(p, vt->col,
			    "'%s' needs a tdx VM (this one is type=%s, line %u)",
			    d->name,
			    vm->type == TDPSIM_VM_DEFAULT ? "default" :
							    "sw-protected",
			    p->vm_line);
	if (d->verb == TRACE_FINALIZE && p->finalize_line)
		return perr(p, vt->col,
			    "second 'finalize' (the first is on line %u)",
			    p->finalize_line);
	if (d->verb == TRACE_POPULATE && p->finalize_line)
		return perr(p, vt->col,
			    "'populate' after 'finalize' (line %u): KVM_TDX_INIT_MEM_REGION only works before the TD is finalized",
			    p->finalize_line);
	if (d->actors == ACTORS_VCPU && vm->type == TDPSIM_VM_TDX &&
	    !p->finalize_line)
		return perr(p, vt->col,
			    "'%s' on a tdx VM before 'finalize': the TD is not runnable yet",
			    d->name);
	return 0;
}

static int push_record(struct parser *p, const struct trace_record *r)
{
	struct trace *t = p->t;

	if (t->nr_records == p->cap_records) {
		size_t cap = p->cap_records ? p->cap_records * 2 : 64;
		void *n;

		if (cap > SIZE_MAX / sizeof(*t->records))
			return nomem(p);
		n = realloc(t->records, cap * sizeof(*t->records));
		if (!n)
			return nomem(p);
		t->records = n;
		p->cap_records = cap;
	}
	t->records[t->nr_records++] = *r;
	return 0;
}

static int parse_header(struct parser *p)
{
	const struct tok *t = &p->toks[0];
	uint64_t version;
	size_t bad;

	if (!lex_eq(t->s, t->len, "tdpsim-trace"))
		return perr(p, t->col,
			    "expected the header 'tdpsim-trace %d' as the first record, not " QFMT,
			    TRACE_FORMAT_VERSION, QUOTE(t));
	if (p->ntok < 2)
		return perr(p, t->col + (unsigned int)t->len,
			    "the header needs a version: 'tdpsim-trace %d'",
			    TRACE_FORMAT_VERSION);
	t = &p->toks[1];
	if (lex_u64(t->s, t->len, &version, &bad) != LEX_OK)
		return perr(p, t->col,
			    "bad trace format version " QFMT " (expected 'tdpsim-trace %d')",
			    QUOTE(t), TRACE_FORMAT_VERSION);
	if (version != TRACE_FORMAT_VERSION)
		return perr(p, t->col,
			    "unsupported trace format version " QFMT ": this tdpsim reads version %d",
			    QUOTE(t), TRACE_FORMAT_VERSION);
	if (p->ntok > 2)
		return perr(p, p->toks[2].col,
			    "unexpected " QFMT " after the header 'tdpsim-trace %d'",
			    QUOTE(&p->toks[2]), TRACE_FORMAT_VERSION);
	p->header_line = p->line;
	return 0;
}

/* One tokenized, non-empty line. */
static int parse_record(struct parser *p)
{
	const struct tok *at = NULL, *vt;
	const struct rec_def *d;
	struct trace_record r;
	struct args a;
	unsigned int vi = 0, first = 0;
	size_t slot;
	int ret;

	if (!p->header_line)
		return parse_header(p);
	memset(&r, 0, sizeof(r));
	if (looks_like_actor(&p->toks[0])) {
		at = &p->toks[0];
		vi = 1;
		if (p->ntok < 2)
			return perr(p, at->col + (unsigned int)at->len,
				    "expected a record after the actor " QFMT,
				    QUOTE(at));
	}
	vt = &p->toks[vi];
	ret = find_record(p, vi, &d, &first);
	if (ret)
		return ret;
	if (at && d->actors == ACTORS_NONE)
		return perr(p, at->col,
			    "'%s' is a set-up record and takes no actor",
			    d->name);
	ret = check_order(p, d, vt);
	if (ret)
		return ret;
	if (at) {
		ret = parse_actor(p, at, &r.actor);
		if (ret)
			return ret;
	}
	ret = check_actor(p, d, at, &r.actor);
	if (ret)
		return ret;

	memset(&a, 0, sizeof(a));
	a.first = first;
	a.end = p->ntok;
	if (!d->raw) {
		ret = scan_args(p, d, first, p->ntok, &a);
		if (ret)
			return ret;
	}
	r.verb = d->verb;
	r.line = p->line;
	ret = d->decode(p, d, &a, &r);
	if (ret)
		return ret;

	if (d->cls == REC_SETUP) {
		if (d->verb == TRACE_VM)
			p->vm_line = p->line;
		return 0;
	}
	if (!p->first_event_line)
		p->first_event_line = p->line;
	slot = actor_slot(&r.actor);
	r.prev_event = p->last_event;
	r.prev_actor_event = p->last_actor_event[slot];
	if ((d->verb == TRACE_EXPECT_RESULT ||
	     d->verb == TRACE_EXPECT_VIOLATION) &&
	    r.prev_event == TRACE_NO_EVENT)
		return perr(p, vt->col,
			    "'%s' has no previous event to check", d->name);
	ret = push_record(p, &r);
	if (ret)
		return ret;
	if (trace_verb_is_event(d->verb)) {
		p->last_event = p->t->nr_records - 1;
		p->last_actor_event[slot] = p->t->nr_records - 1;
	}
	if (d->verb == TRACE_FINALIZE)
		p->finalize_line = p->line;
	if (d->verb == TRACE_DESTROY)
		p->destroy_line = p->line;
	switch (r.actor.kind) {
	case TRACE_ACTOR_VCPU:
		p->t->vcpus_used |= (uint64_t)1 << r.actor.index;
		break;
	case TRACE_ACTOR_VMM:
		p->t->vmms_used |= (uint64_t)1 << r.actor.index;
		break;
	case TRACE_ACTOR_HOST:
		p->t->host_used = true;
		break;
	}
	return 0;
}

/*
 * Check the bytes of one line [s, s + len) (without its line end), cut the
 * comment and split it into p->toks.
 */
static int tokenize(struct parser *p, const char *s, size_t len)
{
	size_t i, start;

	if (len > TRACE_MAX_LINE)
		return perr(p, TRACE_MAX_LINE + 1,
			    "line is %zu bytes long; the limit is %d",
			    len, TRACE_MAX_LINE);
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\0')
			return perr(p, (unsigned int)i + 1,
				    "NUL byte in column %zu: a trace is ASCII text",
				    i + 1);
		if (c >= 0x80)
			return perr(p, (unsigned int)i + 1,
				    "non-ASCII byte 0x%02x in column %zu: a trace is ASCII text",
				    c, i + 1);
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return perr(p, (unsigned int)i + 1,
				    "control character 0x%02x in column %zu (only tab, space and printable ASCII are allowed; lines end with \\n or \\r\\n)",
				    c, i + 1);
	}
	p->ntok = 0;
	for (i = 0; i < len && s[i] != '#';) {
		if (s[i] == ' ' || s[i] == '\t') {
			i++;
			continue;
		}
		start = i;
		while (i < len && s[i] != ' ' && s[i] != '\t' && s[i] != '#')
			i++;
		p->toks[p->ntok].s = s + start;
		p->toks[p->ntok].len = i - start;
		p->toks[p->ntok].col = (unsigned int)start + 1;
		p->ntok++;
	}
	return 0;
}

static void error_file(struct trace_error *err, const char *name)
{
	if (err)
		snprintf(err->file, sizeof(err->file), "%s", name);
}

int trace_parse_string(const char *name, const char *text, size_t len,
		       struct trace **ret_trace, struct trace_error *ret_err)
{
	struct parser *p;
	struct trace *t;
	size_t pos = 0;
	int ret = 0;

	if (!name)
		name = "<string>";
	if (ret_err) {
		memset(ret_err, 0, sizeof(*ret_err));
		error_file(ret_err, name);
	}
	if (!ret_trace || (!text && len)) {
		if (ret_err)
			snprintf(ret_err->msg, sizeof(ret_err->msg),
				 "invalid arguments");
		return -EINVAL;
	}
	p = calloc(1, sizeof(*p));
	t = calloc(1, sizeof(*t));
	if (!p || !t || !(t->name = strdup(name))) {
		free(p);
		trace_free(t);
		if (ret_err)
			snprintf(ret_err->msg, sizeof(ret_err->msg),
				 "out of memory");
		return -ENOMEM;
	}
	p->t = t;
	p->err = ret_err;
	p->name = name;
	p->last_event = TRACE_NO_EVENT;
	for (size_t i = 0; i < NR_ACTOR_SLOTS; i++)
		p->last_actor_event[i] = TRACE_NO_EVENT;
	t->vm.type = TDPSIM_VM_DEFAULT;
	t->vm.levels = 4;
	t->vm.vcpus = 1;
	t->vm.attrs = TDPSIM_ATTRS_VM;

	while (pos < len) {
		const char *s = text + pos;
		const char *nl = memchr(s, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - s) : len - pos;

		p->line++;
		pos += n + (nl ? 1 : 0);
		if (nl && n && s[n - 1] == '\r')
			n--;
		ret = tokenize(p, s, n);
		if (!ret && p->ntok)
			ret = parse_record(p);
		if (ret)
			goto err;
	}
	if (!p->line)
		p->line = 1;
	if (!p->header_line) {
		/* Point at where the header belongs. */
		p->line = 1;
		ret = perr(p, 0, "%s: expected the header 'tdpsim-trace %d'",
			   len ? "no records" : "empty file",
			   TRACE_FORMAT_VERSION);
		goto err;
	}
	if (!p->vm_line) {
		ret = perr(p, 0,
			   "missing 'vm' record: a trace needs one after the header (vm type=default|sw-protected|tdx ...)");
		goto err;
	}
	free(p->gmems.slots);
	free(p->slots.slots);
	free(p);
	*ret_trace = t;
	return 0;
err:
	free(p->gmems.slots);
	free(p->slots.slots);
	free(p);
	trace_free(t);
	return ret;
}

int trace_parse_file(const char *path, struct trace **ret_trace,
		     struct trace_error *ret_err)
{
	size_t len = 0, cap = 0;
	char *buf = NULL;
	FILE *f;
	int ret;

	if (ret_err) {
		memset(ret_err, 0, sizeof(*ret_err));
		error_file(ret_err, path ? path : "<null>");
	}
	if (!path || !ret_trace)
		return -EINVAL;
	f = fopen(path, "rb");
	if (!f) {
		ret = errno == ENOENT ? -ENOENT : -EIO;
		if (ret_err)
			snprintf(ret_err->msg, sizeof(ret_err->msg),
				 "cannot open: %s", strerror(errno));
		return ret;
	}
	for (;;) {
		size_t n;

		if (len == cap) {
			size_t ncap = cap ? cap * 2 : 65536;
			char *nbuf = ncap > cap ? realloc(buf, ncap) : NULL;

			if (!nbuf) {
				ret = -ENOMEM;
				if (ret_err)
					snprintf(ret_err->msg,
						 sizeof(ret_err->msg),
						 "out of memory");
				goto out;
			}
			buf = nbuf;
			cap = ncap;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		ret = -EIO;
		if (ret_err)
			snprintf(ret_err->msg, sizeof(ret_err->msg),
				 "cannot read: %s", strerror(errno));
		goto out;
	}
	ret = trace_parse_string(path, buf, len, ret_trace, ret_err);
out:
	free(buf);
	fclose(f);
	return ret;
}

void trace_free(struct trace *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nr_policies; i++) {
		free(t->policies[i].key);
		free(t->policies[i].value);
	}
	free(t->policies);
	free(t->records);
	free(t->name);
	free(t);
}
