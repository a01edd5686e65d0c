/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * replay.c - the sequential replay engine: run a parsed trace through the
 * model, check invariants after events, evaluate expectations, and say
 * exactly which line broke what.
 *
 * The trace is parsed and validated whole before anything runs
 * (trace_parse.c), so a bad line never leaves a half-applied model behind.
 * Policy overrides are validated before the VM is created for the same
 * reason.
 *
 * Violations are attributed to the event that raised them: the transition
 * invariants while the event runs (observer callbacks), the quiescent ones
 * by the check after it. `expect violation ID` records directly below an
 * event (before the next event) mark those IDs as expected for it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tdpsim/tdpsim.h>

#include "internal.h"
#include "kvm_tdx.h"
#include "policy.h"
#include "replay_internal.h"
#include "trace_parse.h"
#include "vm_gmem.h"

void tdpsim_replay_options_init(struct tdpsim_replay_options *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->check = TDPSIM_CHECK_EACH;
	opts->mode = TDPSIM_REPLAY_SEQUENTIAL;
	opts->explore_schedules = 100;
	opts->explore_seed = 1;
	opts->explore_strategy = TDPSIM_EXPLORE_PCT;
	opts->explore_depth = 3;
	opts->explore_max_steps = 1000000;
}

void replay_vdiag(struct replay *r, enum tdpsim_diag_kind kind, unsigned int line,
		  const char *id, bool expected, const char *fmt, va_list ap)
{
	struct tdpsim_diag d = {
		.kind = kind,
		.file = r->t ? r->t->name : "?",
		.line = line,
		.id = id,
		.expected = expected,
	};
	char msg[1024];

	if (!r->opts->diag)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	d.message = msg;
	r->opts->diag(r->opts->diag_opaque, &d);
}

void replay_diag(struct replay *r, enum tdpsim_diag_kind kind, unsigned int line,
		 const char *id, bool expected, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	replay_vdiag(r, kind, line, id, expected, fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 6, 7)))
static void diag(struct replay *r, enum tdpsim_diag_kind kind, unsigned int line,
		 const char *id, bool expected, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	replay_vdiag(r, kind, line, id, expected, fmt, ap);
	va_end(ap);
}

/* The checker's callback: keep the violation for the running event. */
void replay_on_violation(void *opaque, const struct tdpsim_violation *v)
{
	struct replay *r = opaque;
	enum trace_invariant id;
	struct raised *n;

	if (trace_invariant_from_name(v->id, &id)) {
		/* The checker only reports the spec's IDs; anything else is ours. */
		r->internal = true;
		return;
	}
	if (r->nr_raised == r->cap_raised) {
		size_t cap = r->cap_raised ? 2 * r->cap_raised : 8;

		n = realloc(r->raised, cap * sizeof(*n));
		if (!n) {
			r->oom = true;
			return;
		}
		r->raised = n;
		r->cap_raised = cap;
	}
	n = &r->raised[r->nr_raised];
	n->what = strdup(v->what);
	if (!n->what) {
		r->oom = true;
		return;
	}
	n->id = id;
	r->nr_raised++;
}

void replay_clear_raised(struct replay *r)
{
	for (size_t i = 0; i < r->nr_raised; i++)
		free(r->raised[i].what);
	r->nr_raised = 0;
}

/*
 * Settle the violations raised by event @ev: each is expected if an
 * `expect violation` of its ID follows the event before the next event;
 * every such expectation must find its ID raised.
 */
static void settle_violations(struct replay *r, size_t ev)
{
	const struct trace *t = r->t;
	bool expected[TRACE_INV_NR] = { false };
	bool seen[TRACE_INV_NR] = { false };
	unsigned int line = t->records[ev].line;

	for (size_t j = ev + 1; j < t->nr_records && !trace_verb_is_event(t->records[j].verb); j++)
		if (t->records[j].verb == TRACE_EXPECT_VIOLATION)
			expected[t->records[j].u.violation] = true;

	for (size_t i = 0; i < r->nr_raised; i++) {
		const struct raised *v = &r->raised[i];
		const char *name = trace_invariant_name(v->id);

		seen[v->id] = true;
		if (expected[v->id]) {
			r->res->violations_expected++;
			diag(r, TDPSIM_DIAG_VIOLATION, line, name, true, "%s", v->what);
		} else {
			r->res->violations++;
			diag(r, TDPSIM_DIAG_VIOLATION, line, name, false, "%s", v->what);
		}
	}
	replay_clear_raised(r);

	for (size_t j = ev + 1; j < t->nr_records && !trace_verb_is_event(t->records[j].verb); j++) {
		const struct trace_record *rec = &t->records[j];

		if (rec->verb != TRACE_EXPECT_VIOLATION || seen[rec->u.violation])
			continue;
		r->res->expectations_failed++;
		diag(r, TDPSIM_DIAG_EXPECTATION, rec->line, NULL, false,
		     "expect violation %s: line %u raised no %s violation",
		     trace_invariant_name(rec->u.violation), t->records[ev].line,
		     trace_invariant_name(rec->u.violation));
	}
}

static struct trace_result result_ok(void)
{
	return (struct trace_result){ .kind = TRACE_RESULT_OK };
}

static struct trace_result result_err(int err)
{
	if (!err)
		return result_ok();
	return (struct trace_result){ .kind = TRACE_RESULT_ERROR, .err = err };
}

static struct trace_result fault_result(int ret, const struct tdpsim_fault_result *fr)
{
	if (ret)
		return result_err(ret);
	switch (fr->outcome) {
	case TDPSIM_FAULT_OK:
		return result_ok();
	case TDPSIM_FAULT_EXIT_MEMORY_FAULT:
		return (struct trace_result){ .kind = TRACE_RESULT_EXIT_MEMORY_FAULT };
	case TDPSIM_FAULT_EMULATE:
		return (struct trace_result){ .kind = TRACE_RESULT_EMULATE };
	}
	return result_err(-EINVAL);
}

void replay_result_name(const struct trace_result *res, char *buf, size_t len)
{
	if (res->kind == TRACE_RESULT_ERROR) {
		const char *n = tdpsim_errno_name(res->err);

		if (n)
			snprintf(buf, len, "error:%s", n);
		else
			snprintf(buf, len, "error:%d", -res->err);
	} else {
		snprintf(buf, len, "%s", trace_result_kind_name(res->kind));
	}
}

/* `accept`: the guest's TDG.MEM.PAGE.ACCEPT with the exits it causes. */
static struct trace_result replay_accept(struct replay *r, const struct trace_record *rec)
{
	enum tdpsim_accept_result ar;
	struct trace_result res = result_ok();
	int ret;

	ret = tdpsim_vcpu_accept(tdpsim_vm_get_vcpu(r->vm, rec->actor.index),
				 rec->u.accept.gfn, rec->u.accept.level, &ar);
	if (ret)
		return result_err(ret);
	switch (ar) {
	case TDPSIM_ACCEPT_OK:
		break;
	case TDPSIM_ACCEPT_ALREADY_ACCEPTED:
		res.kind = TRACE_RESULT_ALREADY_ACCEPTED;
		break;
	case TDPSIM_ACCEPT_SIZE_MISMATCH:
		res.kind = TRACE_RESULT_SIZE_MISMATCH;
		break;
	case TDPSIM_ACCEPT_EXIT_MEMORY_FAULT:
		res.kind = TRACE_RESULT_EXIT_MEMORY_FAULT;
		break;
	}
	if (r->checker)
		tdpsim_checker_note_accept(r->checker, rec->u.accept.gfn,
					   rec->u.accept.level, ar == TDPSIM_ACCEPT_OK);
	return res;
}

static int run_check(struct replay *r, bool full)
{
	if (r->destroyed || !r->checker)
		return 0;
	return full ? tdpsim_checker_check_all(r->checker) :
		      tdpsim_checker_check_touched(r->checker);
}

struct trace_result replay_apply_event(struct replay *r, size_t i)
{
	const struct trace_record *rec = &r->t->records[i];
	struct tdpsim_fault_result fr;
	struct trace_result res = result_ok();
	int ret;

	switch (rec->verb) {
	case TRACE_SLOT: {
		struct tdpsim_memslot_config cfg;

		tdpsim_memslot_config_init(&cfg);
		cfg.id = rec->u.slot.id;
		cfg.base_gfn = rec->u.slot.gfn;
		cfg.npages = rec->u.slot.pages;
		cfg.host_page_level = rec->u.slot.host_page;
		cfg.readonly = rec->u.slot.readonly;
		cfg.gmem_id = rec->u.slot.gmem_id;
		cfg.gmem_offset = rec->u.slot.offset;
		res = result_err(tdpsim_memslot_create(r->vm, &cfg));
		break;
	}
	case TRACE_SLOT_DELETE:
		res = result_err(tdpsim_memslot_delete(r->vm, rec->u.slot_delete_id));
		break;
	case TRACE_CONVERT:
		res = result_err(tdpsim_vm_set_memory_attributes(r->vm, rec->u.range.gfn,
								 rec->u.range.pages,
								 rec->u.range.private_mem));
		break;
	case TRACE_INVALIDATE:
		res = result_err(tdpsim_vm_invalidate_range(r->vm, rec->u.range.gfn,
							    rec->u.range.pages));
		break;
	case TRACE_FAULT:
		ret = tdpsim_vcpu_fault(tdpsim_vm_get_vcpu(r->vm, rec->actor.index),
					rec->u.fault.gfn, rec->u.fault.kind,
					rec->u.fault.access, &fr);
		res = fault_result(ret, &fr);
		break;
	case TRACE_PREFAULT:
		ret = tdpsim_vcpu_prefault(tdpsim_vm_get_vcpu(r->vm, rec->actor.index),
					   rec->u.range.gfn, rec->u.range.pages, &fr);
		res = fault_result(ret, &fr);
		break;
	case TRACE_DIRTY_LOG:
		ret = tdpsim_memslot_set_dirty_log(r->vm, rec->u.dirty_log.slot_id,
						   rec->u.dirty_log.on,
						   rec->u.dirty_log.manual);
		if (rec->u.dirty_log.on && !rec->u.dirty_log.manual &&
		    r->policy.eager_split && (ret == 0 || ret == -ENOMEM))
			tdpsim_checker_note_eager_split(r->checker,
							rec->u.dirty_log.slot_id,
							ret == 0);
		res = result_err(ret);
		break;
	case TRACE_CLEAR_DIRTY:
		res = result_err(tdpsim_memslot_clear_dirty(r->vm,
							    rec->u.clear_dirty.slot_id,
							    rec->u.clear_dirty.first,
							    rec->u.clear_dirty.mask));
		break;
	case TRACE_INJECT_ALLOC_FAIL:
		tdpsim_vm_inject_alloc_fail(r->vm, rec->u.alloc_fail.after,
					    rec->u.alloc_fail.count);
		break;
	case TRACE_MARK:
		tdpsim_counters_snapshot(tdpsim_vm_counters(r->vm), &r->mark);
		r->have_mark = true;
		break;
	case TRACE_CHECK:
		run_check(r, true);
		break;
	case TRACE_BARRIER:
		/* Sequential replay: every actor is already here. */
		break;
	case TRACE_DESTROY:
		tdpsim_vm_teardown(r->vm);
		r->destroyed = true;
		if (r->checker)
			/* Strict: after teardown nothing but the husk remains. */
			tdpsim_checker_check_leak(r->checker, NULL);
		break;
	case TRACE_GMEM:
		res = result_err(tdpsim_gmem_create(r->vm, rec->u.gmem.id,
						    rec->u.gmem.size, rec->u.gmem.huge,
						    rec->u.gmem.init_shared));
		break;
	case TRACE_ALLOCATE:
		res = result_err(tdpsim_gmem_allocate(r->vm, rec->u.gmem_range.gmem_id,
						      rec->u.gmem_range.offset,
						      rec->u.gmem_range.len));
		break;
	case TRACE_PUNCH:
		res = result_err(tdpsim_gmem_punch_hole(r->vm, rec->u.gmem_range.gmem_id,
							rec->u.gmem_range.offset,
							rec->u.gmem_range.len));
		break;
	case TRACE_POISON:
		res = result_err(tdpsim_gmem_poison(r->vm, rec->u.gmem_range.gmem_id,
						    rec->u.gmem_range.offset));
		break;
	case TRACE_ACCEPT:
		res = replay_accept(r, rec);
		break;
	case TRACE_POPULATE:
		res = result_err(tdpsim_vm_tdx_populate(r->vm, rec->u.range.gfn,
							rec->u.range.pages));
		break;
	case TRACE_FINALIZE:
		res = result_err(tdpsim_vm_tdx_finalize(r->vm));
		break;
	case TRACE_INJECT_SEAMCALL: {
		const struct trace_tdx_leaf *leaf = rec->u.seamcall.leaf;

		ret = tdpsim_vm_tdx_inject_seamcall(r->vm,
						    leaf->nr | (leaf->guest ? TDPSIM_TDX_LEAF_TDCALL : 0),
						    rec->u.seamcall.status_code,
						    rec->u.seamcall.count);
		if (ret) {
			diag(r, TDPSIM_DIAG_ERROR, rec->line, NULL, false,
			     "inject seamcall: %s", tdpsim_strerror(ret));
			r->internal = true;
		}
		break;
	}
	default:
		diag(r, TDPSIM_DIAG_ERROR, rec->line, NULL, false,
		     "internal: '%s' is not an event", trace_verb_name(rec->verb));
		r->internal = true;
		break;
	}
	return res;
}

static void run_event(struct replay *r, size_t i)
{
	r->results[i] = replay_apply_event(r, i);
	r->res->events++;
	if (r->opts->check == TDPSIM_CHECK_EACH && r->t->records[i].verb != TRACE_CHECK)
		run_check(r, false);
}

/* The root a view of @gfn lives in: the mirror root for private GFNs on TDX
 * (and in the `mirror` test mode, where the default view is the GFN's
 * attribute). */
static enum tdpsim_root_role view_root(struct replay *r, enum tdpsim_fault_kind kind,
				       tdpsim_gfn_t gfn)
{
	if (r->t->vm.type == TDPSIM_VM_TDX && kind != TDPSIM_FAULT_SHARED)
		return TDPSIM_ROOT_MIRROR;
	if (r->t->vm.mirror && !r->destroyed &&
	    (kind == TDPSIM_FAULT_PRIVATE ||
	     (kind == TDPSIM_FAULT_DEFAULT && tdpsim_vm_gfn_is_private(r->vm, gfn))))
		return TDPSIM_ROOT_MIRROR;
	return TDPSIM_ROOT_DIRECT;
}

static void expect_failed(struct replay *r, const struct trace_record *rec,
			  const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void expect_failed(struct replay *r, const struct trace_record *rec,
			  const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	r->res->expectations_failed++;
	diag(r, TDPSIM_DIAG_EXPECTATION, rec->line, NULL, false, "%s", msg);
}

void replay_run_expect(struct replay *r, size_t i)
{
	const struct trace_record *rec = &r->t->records[i];
	struct tdpsim_spte_info leaf;
	char want[64], got[64];
	int ret;

	r->res->expectations++;
	switch (rec->verb) {
	case TRACE_EXPECT_RESULT: {
		/* Concurrent replay compares with this actor's previous event. */
		size_t ev = r->concurrent ? rec->prev_actor_event : rec->prev_event;
		const struct trace_result *prev, *exp = &rec->u.result;

		if (ev == TRACE_NO_EVENT) {
			expect_failed(r, rec, "expect result: this actor has no event of its own above it to compare with (concurrent replay compares with the previous event of the expectation's actor; write the actor: 'vcpuN expect result=...')");
			break;
		}
		prev = &r->results[ev];
		if (prev->kind == exp->kind && prev->err == exp->err)
			break;
		replay_result_name(exp, want, sizeof(want));
		replay_result_name(prev, got, sizeof(got));
		expect_failed(r, rec, "expect result=%s: line %u ('%s') gave %s",
			      want, r->t->records[ev].line,
			      trace_verb_name(r->t->records[ev].verb), got);
		break;
	}
	case TRACE_EXPECT_MAPPED:
	case TRACE_EXPECT_UNMAPPED: {
		enum tdpsim_root_role role = view_root(r, rec->u.map.kind,
						       rec->u.map.gfn);
		const char *root = role == TDPSIM_ROOT_MIRROR ? "mirror" : "direct";

		ret = r->destroyed ? -ENOENT :
		      tdpsim_vm_lookup_leaf(r->vm, role, rec->u.map.gfn, &leaf);
		if (rec->verb == TRACE_EXPECT_UNMAPPED) {
			if (ret == -ENOENT)
				break;
			expect_failed(r, rec,
				      "expect unmapped gfn=0x%" PRIx64 ": mapped at %s in the %s root by gfn 0x%" PRIx64 " (spte 0x%016" PRIx64 ")",
				      rec->u.map.gfn, tdpsim_level_name(leaf.level), root,
				      leaf.gfn, leaf.spte);
			break;
		}
		if (ret == -ENOENT) {
			expect_failed(r, rec,
				      "expect mapped gfn=0x%" PRIx64 " level=%s: not mapped in the %s root",
				      rec->u.map.gfn, tdpsim_level_name(rec->u.map.level), root);
		} else if (ret) {
			expect_failed(r, rec, "expect mapped gfn=0x%" PRIx64 ": %s",
				      rec->u.map.gfn, tdpsim_strerror(ret));
		} else if (leaf.level != rec->u.map.level) {
			expect_failed(r, rec,
				      "expect mapped gfn=0x%" PRIx64 " level=%s: mapped at %s in the %s root by gfn 0x%" PRIx64 " (spte 0x%016" PRIx64 ")",
				      rec->u.map.gfn, tdpsim_level_name(rec->u.map.level),
				      tdpsim_level_name(leaf.level), root, leaf.gfn, leaf.spte);
		}
		break;
	}
	case TRACE_EXPECT_MAX_LEVEL:
		ret = r->destroyed ? -ENODEV :
		      tdpsim_vm_max_mapping_level(r->vm, rec->u.map.gfn, rec->u.map.kind);
		if (ret == rec->u.map.level)
			break;
		if (ret < 0)
			expect_failed(r, rec, "expect max-level gfn=0x%" PRIx64 " level=%s: %s",
				      rec->u.map.gfn, tdpsim_level_name(rec->u.map.level),
				      ret == -ENOENT ? "no memslot holds that gfn" :
						       tdpsim_strerror(ret));
		else
			expect_failed(r, rec, "expect max-level gfn=0x%" PRIx64 " level=%s: the largest level a fault may map is %s",
				      rec->u.map.gfn, tdpsim_level_name(rec->u.map.level),
				      tdpsim_level_name(ret));
		break;
	case TRACE_EXPECT_STAT: {
		struct tdpsim_snapshot now;
		uint64_t v;

		tdpsim_counters_snapshot(tdpsim_vm_counters(r->vm), &now);
		v = tdpsim_snapshot_delta(&now, r->have_mark ? &r->mark : NULL,
					  rec->u.stat.stat);
		if (trace_cmp_eval(rec->u.stat.op, v, rec->u.stat.value))
			break;
		expect_failed(r, rec, "expect stat %s %s %" PRIu64 ": it is %" PRIu64 "%s",
			      tdpsim_stat_name(rec->u.stat.stat),
			      trace_cmp_name(rec->u.stat.op), rec->u.stat.value, v,
			      tdpsim_stat_is_gauge(rec->u.stat.stat) ? " (now)" :
			      r->have_mark ? " (since the last mark)" : " (since the start)");
		break;
	}
	case TRACE_EXPECT_VIOLATION:
		/* Settled with the event it follows (settle_violations()). */
		break;
	case TRACE_EXPECT_SEPT: {
		struct tdpsim_sept_entry_info e = { 0 };
		struct tdpsim_tdx_module *m = r->vm ? tdpsim_vm_tdx_module(r->vm) : NULL;
		const char *want_name = trace_sept_state_name(rec->u.sept.state);
		enum tdpsim_sept_state want_state;
		uint64_t gpa = rec->u.sept.gfn << 12;

		if (tdpsim_sept_state_from_name(want_name, &want_state)) {
			r->internal = true;
			break;
		}
		gpa &= ~((1ULL << (12 + 9 * (rec->u.sept.level - 1))) - 1);
		ret = m ? tdpsim_tdx_sept_lookup(m, kvm_tdx_tdr(to_kvm(r->vm)), gpa,
						 rec->u.sept.level, &e) : -ENOENT;
		if (ret == -ENOENT) {
			e.level = rec->u.sept.level;
			e.state = TDPSIM_SEPT_FREE;
			ret = 0;
		}
		if (ret) {
			expect_failed(r, rec, "expect sept gfn=0x%" PRIx64 ": %s",
				      rec->u.sept.gfn, tdpsim_strerror(ret));
			break;
		}
		/* A walk that stopped above the level at a FREE entry: FREE. */
		if (e.level > rec->u.sept.level && e.state == TDPSIM_SEPT_FREE)
			e.level = rec->u.sept.level;
		if (e.level == rec->u.sept.level && e.state == want_state)
			break;
		expect_failed(r, rec,
			      "expect sept gfn=0x%" PRIx64 " level=%s state=%s: the module's entry is %s at %s",
			      rec->u.sept.gfn, tdpsim_level_name(rec->u.sept.level), want_name,
			      tdpsim_sept_state_name(e.state) ? tdpsim_sept_state_name(e.state) : "?",
			      tdpsim_level_name(e.level));
		break;
	}
	default:
		r->internal = true;
		break;
	}
}

int replay_setup_vm(struct replay *r)
{
	const struct trace *t = r->t;
	struct tdpsim_vm_config cfg;
	int ret;

	tdpsim_vm_config_init(&cfg);
	cfg.type = t->vm.type;
	cfg.levels = t->vm.levels;
	cfg.nr_vcpus = t->vm.vcpus;
	cfg.attrs = t->vm.attrs;
	ret = kvm_create_vm(&cfg, t->vm.mirror ? KVM_VM_TEST_MIRROR : 0, &r->vm);
	if (ret) {
		diag(r, TDPSIM_DIAG_ERROR, t->vm.line, NULL, false,
		     "cannot create the VM: %s", tdpsim_strerror(ret));
		return ret;
	}
	/* The trace's policies, then the command line's, which win. */
	for (size_t i = 0; i < t->nr_policies; i++) {
		ret = tdpsim_vm_set_policy(r->vm, t->policies[i].key, t->policies[i].value);
		if (!ret)
			ret = policy_set(&r->policy, t->policies[i].key, t->policies[i].value);
		if (ret) {
			diag(r, TDPSIM_DIAG_ERROR, t->policies[i].line, NULL, false,
			     "internal: policy %s=%s was validated but not accepted",
			     t->policies[i].key, t->policies[i].value);
			return ret;
		}
	}
	for (size_t i = 0; i < r->opts->nr_policies; i++) {
		const char *kv = r->opts->policies[i];
		const char *eq = strchr(kv, '=');
		char key[128];

		snprintf(key, sizeof(key), "%.*s", (int)(eq - kv), kv);
		ret = tdpsim_vm_set_policy(r->vm, key, eq + 1);
		if (!ret)
			ret = policy_set(&r->policy, key, eq + 1);
		if (ret)
			return ret;
	}
	return 0;
}

/* Reject bad --policy overrides before anything runs (exit 2). */
static bool overrides_valid(struct replay *r)
{
	struct tdpsim_policy scratch;

	policy_init(&scratch);
	for (size_t i = 0; i < r->opts->nr_policies; i++) {
		const char *kv = r->opts->policies[i];
		const char *eq = kv ? strchr(kv, '=') : NULL;
		char key[128];
		int ret;

		if (!eq || eq == kv || (size_t)(eq - kv) >= sizeof(key)) {
			diag(r, TDPSIM_DIAG_ERROR, 0, NULL, false,
			     "--policy '%s': expected KEY=VALUE", kv ? kv : "");
			return false;
		}
		snprintf(key, sizeof(key), "%.*s", (int)(eq - kv), kv);
		ret = policy_set(&scratch, key, eq + 1);
		if (ret == -ENOENT) {
			diag(r, TDPSIM_DIAG_ERROR, 0, NULL, false,
			     "--policy '%s': unknown policy key '%s'", kv, key);
			return false;
		}
		if (ret) {
			diag(r, TDPSIM_DIAG_ERROR, 0, NULL, false,
			     "--policy '%s': '%s' takes %s", kv, key, policy_values(key));
			return false;
		}
	}
	return true;
}

static void replay_trace(struct replay *r)
{
	const struct trace *t = r->t;
	size_t last_event = TRACE_NO_EVENT;

	policy_init(&r->policy);
	r->results = calloc(t->nr_records ? t->nr_records : 1, sizeof(*r->results));
	if (!r->results) {
		r->oom = true;
		return;
	}
	if (replay_setup_vm(r) ||
	    tdpsim_checker_create(r->vm, replay_on_violation, r, &r->checker)) {
		r->internal = true;
		return;
	}
	for (size_t i = 0; i < t->nr_records && !r->internal && !r->oom; i++) {
		if (trace_verb_is_event(t->records[i].verb)) {
			if (last_event != TRACE_NO_EVENT)
				settle_violations(r, last_event);
			run_event(r, i);
			last_event = i;
		} else {
			replay_run_expect(r, i);
		}
	}
	if (r->internal || r->oom)
		return;
	/* The end is a quiescent point: a full check, owned by the last event. */
	run_check(r, true);
	if (last_event != TRACE_NO_EVENT) {
		settle_violations(r, last_event);
		return;
	}
	/* No event at all: what the final check found belongs to the vm line. */
	for (size_t i = 0; i < r->nr_raised; i++) {
		r->res->violations++;
		diag(r, TDPSIM_DIAG_VIOLATION, t->vm.line,
		     trace_invariant_name(r->raised[i].id), false, "%s",
		     r->raised[i].what);
	}
	replay_clear_raised(r);
}

static int replay_parsed(struct trace *t, const struct trace_error *perr, int pret,
			 const struct tdpsim_replay_options *opts,
			 struct tdpsim_replay_result *ret_result)
{
	struct tdpsim_replay_options defaults;
	struct replay r = { 0 };

	if (!opts) {
		tdpsim_replay_options_init(&defaults);
		opts = &defaults;
	}
	memset(ret_result, 0, sizeof(*ret_result));
	r.opts = opts;
	r.res = ret_result;
	if (pret == -ENOMEM)
		return -ENOMEM;
	if (pret) {
		struct tdpsim_diag d = {
			.kind = TDPSIM_DIAG_ERROR,
			.file = perr->file,
			.line = perr->line,
			.column = perr->column,
			.message = perr->msg,
		};

		if (opts->diag)
			opts->diag(opts->diag_opaque, &d);
		ret_result->status = TDPSIM_REPLAY_BAD_INPUT;
		return 0;
	}
	r.t = t;
	if (!overrides_valid(&r)) {
		ret_result->status = TDPSIM_REPLAY_BAD_INPUT;
		goto out;
	}
	if (opts->mode == TDPSIM_REPLAY_SEQUENTIAL)
		replay_trace(&r);
	else
		replay_concurrent(&r);
	if (r.vm)
		tdpsim_counters_snapshot(tdpsim_vm_counters(r.vm), &ret_result->counters);
	if (r.oom) {
		diag(&r, TDPSIM_DIAG_ERROR, 0, NULL, false, "internal: out of memory");
		ret_result->status = TDPSIM_REPLAY_INTERNAL;
	} else if (r.internal) {
		ret_result->status = TDPSIM_REPLAY_INTERNAL;
	} else if (r.bad_input) {
		ret_result->status = TDPSIM_REPLAY_BAD_INPUT;
	} else if (ret_result->violations || ret_result->expectations_failed) {
		ret_result->status = TDPSIM_REPLAY_FAILED;
	} else {
		ret_result->status = TDPSIM_REPLAY_OK;
	}
out:
	tdpsim_checker_destroy(r.checker);
	tdpsim_vm_destroy(r.vm);
	replay_clear_raised(&r);
	free(r.raised);
	free(r.results);
	trace_free(t);
	return 0;
}

int tdpsim_replay_string(const char *name, const char *text, size_t len,
			 const struct tdpsim_replay_options *opts,
			 struct tdpsim_replay_result *ret_result)
{
	struct trace_error err;
	struct trace *t = NULL;
	int ret;

	if (!name || (!text && len) || !ret_result)
		return -EINVAL;
	memset(&err, 0, sizeof(err));
	ret = trace_parse_string(name, text ? text : "", len, &t, &err);
	return replay_parsed(t, &err, ret, opts, ret_result);
}

int tdpsim_replay_file(const char *path, const struct tdpsim_replay_options *opts,
		       struct tdpsim_replay_result *ret_result)
{
	struct trace_error err;
	struct trace *t = NULL;
	int ret;

	if (!path || !ret_result)
		return -EINVAL;
	memset(&err, 0, sizeof(err));
	ret = trace_parse_file(path, &t, &err);
	return replay_parsed(t, &err, ret, opts, ret_result);
}
