/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Concurrent replay and deterministic schedule exploration (issue 7):
 * the scheduler (lib/scheduler.c) over scenarios built in C, and the
 * replay engine's THREADS and EXPLORE modes over traces.
 *
 * - two vCPUs on the same SPTE: compare-and-swap settles it in every
 *   schedule (traces/race-same-spte.trace, both modes, both strategies);
 * - a zap under the write lock against a lockless RCU walker: the tables
 *   it unlinks stay readable until the walker leaves its section;
 * - lpage.inhibit-lock: with `read` exploration finds a 2M leaf installed
 *   after guest-inhibit was set (`lpage` at install time), and the
 *   schedule it prints replays to the same failure; with `write` the same
 *   budget explores clean;
 * - a conversion racing a fault on a neighbouring GFN (docs/mmu.md's
 *   window), found by exploration;
 * - determinism: one seed, the same schedules and counters, twice;
 * - `progress`: a deadlock and a livelock are reported, not hung.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>

#include "mmu-test.h"
#include "guest_inhibit.h"
#include "mmu_lock.h"
#include "observe.h"
#include "scheduler.h"
#include "spte.h"
#include "tdp_mmu.h"

#define TRACE_DIR TDPSIM_SRCDIR "/traces/"

/* ---- a scenario helper: a VM, a checker counting violations by ID ---- */

#define MAX_IDS 32

struct scenario {
	const char *policy;		/* lpage.inhibit-lock value, or NULL */
	int host_level;			/* the slot's host page size */
	struct tdpsim_vm *vm;
	struct tdpsim_checker *checker;
	char ids[MAX_IDS][24];		/* violations raised, by ID */
	unsigned int counts[MAX_IDS];
	unsigned int nr_ids;
	char what[384];			/* the first violation of @fail_id */
	const char *fail_id;		/* the run failed if this was raised;
					 * NULL: if anything was */
	/* walker scenario */
	bool walker_saw_dead;		/* the walker read a freed table */
	bool walker_saw_change;		/* it saw the zap under way */
	unsigned int overlaps;		/* schedules where it did */
	uint64_t rcu_freed;		/* rcu.free at the end of the last run */
	/* the whole exploration */
	unsigned int failed_runs;
	struct tdpsim_snapshot last_counters;
	char **schedules;		/* every schedule string, in order */
	unsigned int nr_schedules;
	struct tdpsim_snapshot *counters; /* every run's counters */
};

static void on_violation(void *opaque, const struct tdpsim_violation *v)
{
	struct scenario *sc = opaque;

	if (sc->fail_id && !strcmp(v->id, sc->fail_id) && !sc->what[0])
		snprintf(sc->what, sizeof(sc->what), "%s", v->what);
	for (unsigned int i = 0; i < sc->nr_ids; i++) {
		if (!strcmp(sc->ids[i], v->id)) {
			sc->counts[i]++;
			return;
		}
	}
	if (sc->nr_ids < MAX_IDS) {
		snprintf(sc->ids[sc->nr_ids], sizeof(sc->ids[0]), "%s", v->id);
		sc->counts[sc->nr_ids++] = 1;
	}
}

static unsigned int raised(const struct scenario *sc, const char *id)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < sc->nr_ids; i++)
		if (!id || !strcmp(sc->ids[i], id))
			n += sc->counts[i];
	return n;
}

static struct tdpsim_vm *scenario_vm(struct scenario *sc, unsigned int vcpus)
{
	struct tdpsim_vm *vm = test_vm(TDPSIM_VM_DEFAULT, 4, vcpus);

	if (sc->policy)
		assert_tdp_ok(tdpsim_vm_set_policy(vm, "lpage.inhibit-lock", sc->policy));
	test_slot(vm, 0, 0, 1024, sc->host_level ? sc->host_level : TDPSIM_LEVEL_4K);
	return vm;
}

static void scenario_attach(struct scenario *sc, struct sched *s)
{
	sc->nr_ids = 0;
	sc->what[0] = '\0';
	assert_tdp_ok(tdpsim_checker_create(sc->vm, on_violation, sc, &sc->checker));
	sched_attach(s, to_kvm(sc->vm));
}

static bool scenario_finish(void *opaque, struct sched *s, int ret)
{
	struct scenario *sc = opaque;
	bool failed;

	(void)s;
	if (ret == -EDEADLK || ret == -ELOOP || ret == -ETIMEDOUT)
		return true;	/* parked for good: leave the VM alone */
	tdpsim_counters_snapshot(tdpsim_vm_counters(sc->vm), &sc->last_counters);
	sc->rcu_freed = tdpsim_counters_get(tdpsim_vm_counters(sc->vm),
					    TDPSIM_STAT_RCU_FREE);
	tdpsim_checker_destroy(sc->checker);
	tdpsim_vm_destroy(sc->vm);
	sc->checker = NULL;
	sc->vm = NULL;
	failed = sc->fail_id ? raised(sc, sc->fail_id) > 0 : raised(sc, NULL) > 0;
	if (failed)
		sc->failed_runs++;
	return failed;
}

/* Keep every schedule string and counter snapshot (determinism). */
static void keep_progress(void *opaque, const struct sched_explore_stats *st,
			  const struct sched *s)
{
	struct scenario *sc = opaque;

	(void)st;
	sc->schedules = realloc(sc->schedules, (sc->nr_schedules + 1) * sizeof(char *));
	sc->counters = realloc(sc->counters, (sc->nr_schedules + 1) * sizeof(*sc->counters));
	assert_non_null(sc->schedules);
	assert_non_null(sc->counters);
	sc->schedules[sc->nr_schedules] = sched_schedule_string(s);
	assert_non_null(sc->schedules[sc->nr_schedules]);
	sc->counters[sc->nr_schedules] = sc->last_counters;
	sc->nr_schedules++;
}

static void scenario_free(struct scenario *sc)
{
	for (unsigned int i = 0; i < sc->nr_schedules; i++)
		free(sc->schedules[i]);
	free(sc->schedules);
	free(sc->counters);
	sc->schedules = NULL;
	sc->counters = NULL;
	sc->nr_schedules = 0;
}

/* ---- guest-inhibit against a 2M fault (lpage.inhibit-lock) ---- */

#define INHIBIT_FAULT_GFN	0x200	/* faults the 2M page 0x200..0x3ff */
#define INHIBIT_ACCEPT_GFN	0x201	/* accepted at 4K inside it */

static int inhibit_setup(void *opaque, struct sched *s)
{
	struct scenario *sc = opaque;

	sc->vm = scenario_vm(sc, 1);
	scenario_attach(sc, s);
	return 0;
}

static void inhibit_thread(void *opaque, unsigned int id)
{
	struct scenario *sc = opaque;
	struct tdpsim_fault_result res;

	if (id == 0) {
		/* vcpu0: a shared fault that may map 2M (host pages are 2M). */
		assert_tdp_ok(tdpsim_vcpu_fault(tdpsim_vm_get_vcpu(sc->vm, 0),
						INHIBIT_FAULT_GFN, TDPSIM_FAULT_SHARED,
						TDPSIM_ACCESS_WRITE, &res));
		assert_int_equal(res.outcome, TDPSIM_FAULT_OK);
	} else {
		/* The TDX accept-level handler: the guest accepted at 4K. */
		assert_tdp_ok(kvm_mmu_guest_inhibit(to_kvm(sc->vm), INHIBIT_ACCEPT_GFN,
						    PG_LEVEL_4K));
	}
}

static struct sched_scenario inhibit_scenario(struct scenario *sc)
{
	return (struct sched_scenario){
		.nr_threads = 2,
		.setup = inhibit_setup,
		.thread = inhibit_thread,
		.finish = scenario_finish,
		.opaque = sc,
	};
}

static void explore_inhibit(const char *policy, enum sched_strategy strategy,
			    uint64_t seed, unsigned int budget,
			    struct sched_explore_result *res, struct scenario *sc)
{
	struct sched_scenario scn;
	struct sched_explore_opts o = {
		.strategy = strategy,
		.seed = seed,
		.schedules = budget,
	};

	memset(sc, 0, sizeof(*sc));
	sc->policy = policy;
	sc->host_level = TDPSIM_LEVEL_2M;
	sc->fail_id = "lpage";
	scn = inhibit_scenario(sc);
	assert_tdp_ok(sched_explore(&scn, &o, res));
}

static void test_explore_inhibit_read_races(void **state)
{
	static const enum sched_strategy strategies[] = { SCHED_PCT, SCHED_RANDOM };

	(void)state;
	for (unsigned int k = 0; k < 2; k++) {
		struct sched_explore_result res, again;
		struct sched_schedule *sch;
		struct sched_explore_opts o = { 0 };
		struct sched_scenario scn;
		struct scenario sc;

		explore_inhibit("read", strategies[k], 1, 500, &res, &sc);
		assert_true(res.failed);
		assert_false(res.probe);
		assert_non_null(res.schedule);
		assert_true(raised(&sc, "lpage") > 0);
		print_message("lpage.inhibit-lock=read, %s: 2M leaf over an inhibited page in schedule %llu (seed %llu): %s\n",
			      k ? "random" : "pct", (unsigned long long)res.index + 1,
			      (unsigned long long)res.seed, res.schedule);

		/* The printed schedule replays to the same failure. */
		assert_tdp_ok(sched_schedule_parse(res.schedule, &sch, NULL));
		o.replay = sch;
		memset(&sc, 0, sizeof(sc));
		sc.policy = "read";
		sc.host_level = TDPSIM_LEVEL_2M;
		sc.fail_id = "lpage";
		scn = inhibit_scenario(&sc);
		assert_tdp_ok(sched_explore(&scn, &o, &again));
		assert_true(again.failed);
		assert_int_equal(again.diverged, 0);
		assert_true(raised(&sc, "lpage") > 0);
		assert_string_equal(again.schedule, res.schedule);
		for (unsigned int i = 0; i < sc.nr_ids; i++)
			print_message("  replayed: %u x %s\n", sc.counts[i], sc.ids[i]);
		print_message("  lpage: %s\n", sc.what);
		/* And so does the seed: --explore=1 --seed=S. */
		if (strategies[k] == SCHED_PCT) {
			struct sched_explore_opts by_seed = {
				.strategy = SCHED_PCT,
				.seed = res.seed,
				.schedules = 1,
			};
			struct sched_explore_result third;

			memset(&sc, 0, sizeof(sc));
			sc.policy = "read";
			sc.host_level = TDPSIM_LEVEL_2M;
			sc.fail_id = "lpage";
			scn = inhibit_scenario(&sc);
			assert_tdp_ok(sched_explore(&scn, &by_seed, &third));
			assert_true(third.failed);
			assert_string_equal(third.schedule, res.schedule);
			free(third.schedule);
		}
		sched_schedule_free(sch);
		free(again.schedule);
		free(res.schedule);
	}
}

static void test_explore_inhibit_write_clean(void **state)
{
	static const enum sched_strategy strategies[] = { SCHED_PCT, SCHED_RANDOM };

	(void)state;
	for (unsigned int k = 0; k < 2; k++) {
		struct sched_explore_result res;
		struct scenario sc;

		explore_inhibit("write", strategies[k], 1, 500, &res, &sc);
		/* Not only no `lpage`: no violation at all. */
		sc.fail_id = NULL;
		assert_false(res.failed);
		assert_int_equal(sc.failed_runs, 0);
		assert_true(res.stats.schedules >= 500);
		assert_true(res.stats.distinct > 20);
		free(res.schedule);
	}
}

/* How many schedules until the inhibit race shows, over @n seeds. */
static void test_explore_inhibit_budget(void **state)
{
	static const enum sched_strategy strategies[] = { SCHED_PCT, SCHED_RANDOM };

	(void)state;
	for (unsigned int k = 0; k < 2; k++) {
		uint64_t need[15];
		const unsigned int n = 15;

		for (unsigned int i = 0; i < n; i++) {
			struct sched_explore_result res;
			struct scenario sc;

			explore_inhibit("read", strategies[k], 1000 + i, 2000, &res, &sc);
			assert_true(res.failed);
			need[i] = res.index + 1;
			free(res.schedule);
		}
		for (unsigned int i = 0; i < n; i++)
			for (unsigned int j = i + 1; j < n; j++)
				if (need[j] < need[i]) {
					uint64_t x = need[i];

					need[i] = need[j];
					need[j] = x;
				}
		print_message("inhibit race, %s: median %llu schedules to find (min %llu, max %llu, %u seeds)\n",
			      k ? "random" : "pct", (unsigned long long)need[n / 2],
			      (unsigned long long)need[0], (unsigned long long)need[n - 1], n);
	}
}

/* ---- a zap under the write lock against a lockless RCU walker ---- */

static int walker_setup(void *opaque, struct sched *s)
{
	struct scenario *sc = opaque;

	sc->vm = scenario_vm(sc, 1);
	/* Tables down to 4K for two GFNs (before the scheduler runs). */
	assert_int_equal(test_fault(sc->vm, 0x10), TDPSIM_LEVEL_4K);
	assert_int_equal(test_fault(sc->vm, 0x210), TDPSIM_LEVEL_4K);
	scenario_attach(sc, s);
	sc->walker_saw_change = false;
	return 0;
}

/*
 * The walker reads, without mmu_lock, inside one RCU read-side section,
 * the path to GFN 0x10, one SPTE per scheduling point (fast page fault's
 * walk_shadow_page_lockless). The zapper invalidates the root and zaps it
 * under the write lock, unlinking every table. Whatever it unlinked while
 * the walker was inside must stay allocated until the walker leaves.
 */
static void walker_thread(void *opaque, unsigned int id)
{
	struct scenario *sc = opaque;
	struct kvm *kvm = to_kvm(sc->vm);

	if (id == 0) {
		struct kvm_mmu_page *root = kvm->vcpus[0]->root;
		tdp_ptep_t pt = root->spt;
		int level = root->role.level;

		kvm_rcu_read_lock(kvm);
		for (; level >= PG_LEVEL_4K; level--) {
			u64 spte;

			sched_point(kvm, SCHED_TEST);
			if (!page_private(kvm, pt))
				sc->walker_saw_dead = true;
			spte = spte_read(&pt[SPTE_INDEX(0x10ULL << 12, level)]);
			if (!is_shadow_present_pte(spte) || is_frozen_spte(spte)) {
				sc->walker_saw_change = true;
				break;
			}
			if (level == PG_LEVEL_4K)
				break;
			pt = spte_to_child_pt(spte, level);
		}
		sched_point(kvm, SCHED_TEST);
		if (!page_private(kvm, pt))
			sc->walker_saw_dead = true;
		kvm_rcu_read_unlock(kvm);
	} else {
		mmu_write_lock(kvm);
		kvm_tdp_mmu_invalidate_roots(kvm, KVM_DIRECT_ROOTS);
		mmu_write_unlock(kvm);
		kvm_tdp_mmu_zap_invalidated_roots(kvm, false);
	}
}

static bool walker_finish(void *opaque, struct sched *s, int ret)
{
	struct scenario *sc = opaque;
	bool failed = scenario_finish(opaque, s, ret);

	if (sc->walker_saw_change)
		sc->overlaps++;
	return failed || sc->walker_saw_dead || sc->rcu_freed == 0;
}

static void test_explore_zap_vs_rcu_walker(void **state)
{
	static const enum sched_strategy strategies[] = { SCHED_PCT, SCHED_RANDOM };

	(void)state;
	for (unsigned int k = 0; k < 2; k++) {
		struct scenario sc = { 0 };
		struct sched_scenario scn = {
			.nr_threads = 2,
			.setup = walker_setup,
			.thread = walker_thread,
			.finish = walker_finish,
			.opaque = &sc,
		};
		struct sched_explore_opts o = {
			.strategy = strategies[k],
			.seed = 7,
			.schedules = 300,
		};
		struct sched_explore_result res;

		assert_tdp_ok(sched_explore(&scn, &o, &res));
		if (res.failed)
			fail_msg("schedule %s: walker read a freed table %d, violations %u, rcu.free %llu",
				 res.schedule, sc.walker_saw_dead, raised(&sc, NULL),
				 (unsigned long long)sc.rcu_freed);
		assert_false(sc.walker_saw_dead);
		/* The zap did run while the walker was inside, often. */
		assert_true(sc.overlaps > 10);
		print_message("zap vs RCU walker, %s: %llu schedules (%llu distinct), the zap overlapped the walk in %u\n",
			      k ? "random" : "pct", (unsigned long long)res.stats.schedules,
			      (unsigned long long)res.stats.distinct, sc.overlaps);
		free(res.schedule);
	}
}

/* ---- determinism ---- */

static void test_explore_deterministic(void **state)
{
	static const enum sched_strategy strategies[] = { SCHED_PCT, SCHED_RANDOM };

	(void)state;
	for (unsigned int k = 0; k < 2; k++) {
		struct sched_explore_result res[2];
		struct scenario sc[2];

		for (int i = 0; i < 2; i++) {
			struct sched_scenario scn;
			struct sched_explore_opts o = {
				.strategy = strategies[k],
				.seed = 42,
				.schedules = 60,
				.progress = keep_progress,
				.progress_opaque = &sc[i],
			};

			memset(&sc[i], 0, sizeof(sc[i]));
			sc[i].policy = "write";
			sc[i].host_level = TDPSIM_LEVEL_2M;
			scn = inhibit_scenario(&sc[i]);
			assert_tdp_ok(sched_explore(&scn, &o, &res[i]));
			assert_false(res[i].failed);
		}
		assert_int_equal(res[0].stats.schedules, res[1].stats.schedules);
		assert_int_equal(res[0].stats.distinct, res[1].stats.distinct);
		assert_int_equal(res[0].stats.steps, res[1].stats.steps);
		assert_int_equal(sc[0].nr_schedules, sc[1].nr_schedules);
		for (unsigned int i = 0; i < sc[0].nr_schedules; i++) {
			assert_string_equal(sc[0].schedules[i], sc[1].schedules[i]);
			assert_memory_equal(&sc[0].counters[i], &sc[1].counters[i],
					    sizeof(sc[0].counters[i]));
		}
		/* A different seed gives other schedules. */
		assert_true(res[0].stats.distinct > 10);
		scenario_free(&sc[0]);
		scenario_free(&sc[1]);
	}
}

/* The same for a trace: the same result, counters and failing schedule. */
struct diag_capture {
	char schedule[4096];
	char first[512];
	unsigned int first_line;
};

static void capture_diag(void *opaque, const struct tdpsim_diag *d)
{
	struct diag_capture *c = opaque;
	const char *p;

	if (d->kind == TDPSIM_DIAG_NOTE && (p = strstr(d->message, "--schedule=")))
		snprintf(c->schedule, sizeof(c->schedule), "%s", p + strlen("--schedule="));
	if ((d->kind == TDPSIM_DIAG_VIOLATION && !d->expected) ||
	    d->kind == TDPSIM_DIAG_EXPECTATION) {
		if (!c->first_line) {
			c->first_line = d->line;
			snprintf(c->first, sizeof(c->first), "%s", d->id ? d->id : "expectation");
		}
	}
}

static void replay_trace_text(const char *text, enum tdpsim_replay_mode mode,
			      enum tdpsim_explore_strategy strategy, uint64_t seed,
			      uint64_t n, const char *schedule,
			      struct tdpsim_replay_result *res, struct diag_capture *c)
{
	struct tdpsim_replay_options o;

	tdpsim_replay_options_init(&o);
	o.mode = mode;
	o.explore_strategy = strategy;
	o.explore_seed = seed;
	o.explore_schedules = n;
	o.explore_schedule = schedule;
	o.diag = capture_diag;
	o.diag_opaque = c;
	memset(c, 0, sizeof(*c));
	assert_tdp_ok(tdpsim_replay_string("t.trace", text, strlen(text), &o, res));
}

static void test_explore_trace_deterministic(void **state)
{
	/* Fails when the two faults race on one compare-and-swap. */
	static const char text[] =
		"tdpsim-trace 1\n"
		"vm type=default vcpus=2\n"
		"slot 0 gfn=0 pages=1024\n"
		"barrier\n"
		"vcpu0 fault gfn=0x10\n"
		"vcpu1 fault gfn=0x10\n"
		"barrier\n"
		"expect stat fault.retry == 0\n";
	struct tdpsim_replay_result a, b, r;
	struct diag_capture ca, cb, cr;

	(void)state;
	replay_trace_text(text, TDPSIM_REPLAY_EXPLORE, TDPSIM_EXPLORE_PCT, 5, 200,
			  NULL, &a, &ca);
	replay_trace_text(text, TDPSIM_REPLAY_EXPLORE, TDPSIM_EXPLORE_PCT, 5, 200,
			  NULL, &b, &cb);
	assert_int_equal(a.status, TDPSIM_REPLAY_FAILED);
	assert_int_equal(a.status, b.status);
	assert_int_equal(a.events, b.events);
	assert_int_equal(a.expectations, b.expectations);
	assert_int_equal(a.expectations_failed, b.expectations_failed);
	assert_int_equal(a.violations, b.violations);
	assert_memory_equal(&a.counters, &b.counters, sizeof(a.counters));
	assert_int_equal(a.explore.schedules, b.explore.schedules);
	assert_int_equal(a.explore.distinct, b.explore.distinct);
	assert_int_equal(a.explore.steps, b.explore.steps);
	assert_int_equal(a.explore.failing, b.explore.failing);
	assert_int_equal(a.explore.failing_seed, b.explore.failing_seed);
	assert_true(ca.schedule[0]);
	assert_string_equal(ca.schedule, cb.schedule);
	assert_int_equal(ca.first_line, 8);
	/* --schedule replays it: same failure, same line. */
	replay_trace_text(text, TDPSIM_REPLAY_EXPLORE, TDPSIM_EXPLORE_PCT, 0, 1,
			  ca.schedule, &r, &cr);
	assert_int_equal(r.status, TDPSIM_REPLAY_FAILED);
	assert_int_equal(cr.first_line, ca.first_line);
	assert_string_equal(cr.first, ca.first);
	assert_memory_equal(&r.counters, &a.counters, sizeof(r.counters));
	/* A schedule that does not fit is bad input. */
	replay_trace_text(text, TDPSIM_REPLAY_EXPLORE, TDPSIM_EXPLORE_PCT, 0, 1,
			  "0x3", &r, &cr);
	assert_int_equal(r.status, TDPSIM_REPLAY_BAD_INPUT);
}

/* ---- traces: the same SPTE, THREADS and EXPLORE ---- */

static void replay_file(const char *name, enum tdpsim_replay_mode mode,
			enum tdpsim_explore_strategy strategy, uint64_t n,
			struct tdpsim_replay_result *res)
{
	struct tdpsim_replay_options o;

	tdpsim_replay_options_init(&o);
	o.mode = mode;
	o.explore_strategy = strategy;
	o.explore_schedules = n;
	assert_tdp_ok(tdpsim_replay_file(name, &o, res));
}

static void test_race_same_spte(void **state)
{
	struct tdpsim_replay_result res;

	(void)state;
	for (int i = 0; i < 20; i++) {
		replay_file(TRACE_DIR "race-same-spte.trace", TDPSIM_REPLAY_THREADS,
			    TDPSIM_EXPLORE_PCT, 0, &res);
		assert_int_equal(res.status, TDPSIM_REPLAY_OK);
		assert_int_equal(res.counters.value[TDPSIM_STAT_MAP_4K], 1);
	}
	replay_file(TRACE_DIR "race-same-spte.trace", TDPSIM_REPLAY_EXPLORE,
		    TDPSIM_EXPLORE_PCT, 200, &res);
	assert_int_equal(res.status, TDPSIM_REPLAY_OK);
	assert_int_equal(res.explore.schedules, 201);
	assert_true(res.explore.distinct > 50);
	replay_file(TRACE_DIR "race-same-spte.trace", TDPSIM_REPLAY_EXPLORE,
		    TDPSIM_EXPLORE_RANDOM, 200, &res);
	assert_int_equal(res.status, TDPSIM_REPLAY_OK);
	assert_int_equal(res.explore.schedules, 200);
	assert_true(res.explore.distinct > 100);
}

/* ---- the conversion window of docs/mmu.md ---- */

static void test_explore_convert_vs_fault(void **state)
{
	/*
	 * A shared fault at 0x200 (2M host pages: it may map the whole
	 * 0x200..0x3ff) races a conversion of 0x300 to private. The
	 * invalidation covers only 0x300, so a fault that passes its retry
	 * check between the conversion's zap and its MIXED update installs
	 * a 2M shared leaf over the private 0x300.
	 */
	static const char text[] =
		"tdpsim-trace 1\n"
		"vm type=sw-protected vcpus=1\n"
		"slot 0 gfn=0 pages=1024 host-page=2M\n"
		"barrier\n"
		"vcpu0 fault gfn=0x200 shared\n"
		"convert gfn=0x300 pages=1 private\n"
		"barrier\n";
	static const enum tdpsim_explore_strategy strategies[] = {
		TDPSIM_EXPLORE_PCT, TDPSIM_EXPLORE_RANDOM
	};
	struct tdpsim_replay_result res;
	struct diag_capture c;

	(void)state;
	/* Sequentially, either order is fine. */
	replay_trace_text(text, TDPSIM_REPLAY_SEQUENTIAL, 0, 0, 0, NULL, &res, &c);
	assert_int_equal(res.status, TDPSIM_REPLAY_OK);
	for (unsigned int k = 0; k < 2; k++) {
		replay_trace_text(text, TDPSIM_REPLAY_EXPLORE, strategies[k], 1, 1000,
				  NULL, &res, &c);
		print_message("convert vs neighbouring fault, %s: %s after %llu schedules; first: %s at line %u\n",
			      k ? "random" : "pct",
			      res.status == TDPSIM_REPLAY_FAILED ? "window found" : "clean",
			      (unsigned long long)res.explore.schedules, c.first,
			      c.first_line);
		assert_int_equal(res.status, TDPSIM_REPLAY_FAILED);
		assert_true(c.schedule[0]);
	}
}

/* ---- progress: deadlock and livelock ---- */

static int deadlock_setup(void *opaque, struct sched *s)
{
	struct scenario *sc = opaque;

	sc->vm = scenario_vm(sc, 1);
	scenario_attach(sc, s);
	return 0;
}

/*
 * Thread 0 takes the write lock and then waits for something nobody will
 * ever do; thread 1 wants the read lock (or already had it and ended).
 * Every schedule ends with no thread able to run.
 */
static void deadlock_thread(void *opaque, unsigned int id)
{
	struct scenario *sc = opaque;
	struct kvm *kvm = to_kvm(sc->vm);

	if (id == 0) {
		mmu_write_lock(kvm);
		sched_wait(kvm, SCHED_WAIT_BARRIER);
		fail_msg("woken from a wait nobody ends");
	} else {
		sched_point(kvm, SCHED_TEST);
		sched_point(kvm, SCHED_TEST);
		mmu_read_lock(kvm);
		mmu_read_unlock(kvm);
	}
}

/*
 * A model lock taken with plain pthread calls and held across a scheduling
 * point (what kvm_mutex_lock() is for): the other thread really blocks
 * on it, so no decision is made any more. The watchdog gives up.
 */
static pthread_mutex_t plain = PTHREAD_MUTEX_INITIALIZER;

static void plain_lock_thread(void *opaque, unsigned int id)
{
	struct scenario *sc = opaque;
	struct kvm *kvm = to_kvm(sc->vm);

	(void)id;
	pthread_mutex_lock(&plain);
	sched_point(kvm, SCHED_TEST);
	pthread_mutex_unlock(&plain);
}

static void test_explore_watchdog(void **state)
{
	struct scenario sc = { 0 };
	struct sched_scenario scn = {
		.nr_threads = 2,
		.setup = deadlock_setup,
		.thread = plain_lock_thread,
		.finish = scenario_finish,
		.opaque = &sc,
	};
	struct sched_explore_opts o = {
		.strategy = SCHED_RANDOM,
		.seed = 1,
		.schedules = 20,
		.watchdog = 2,
	};
	struct sched_explore_result res;

	(void)state;
	assert_tdp_ok(sched_explore(&scn, &o, &res));
	assert_true(res.failed);
	assert_int_equal(res.run_ret, -ETIMEDOUT);
	free(res.schedule);
}

static void test_explore_progress(void **state)
{
	struct scenario sc = { 0 };
	struct sched_scenario scn = {
		.nr_threads = 2,
		.setup = deadlock_setup,
		.thread = deadlock_thread,
		.finish = scenario_finish,
		.opaque = &sc,
	};
	struct sched_explore_opts o = {
		.strategy = SCHED_RANDOM,
		.seed = 3,
		.schedules = 50,
	};
	struct sched_explore_result res;
	struct tdpsim_replay_result r;
	struct diag_capture c;

	(void)state;
	assert_tdp_ok(sched_explore(&scn, &o, &res));
	assert_true(res.failed);
	assert_int_equal(res.run_ret, -EDEADLK);
	free(res.schedule);

	/* A step bound a trace cannot meet: a livelock, reported. */
	{
		struct tdpsim_replay_options opts;
		static const char text[] =
			"tdpsim-trace 1\n"
			"vm type=default vcpus=2\n"
			"slot 0 gfn=0 pages=1024\n"
			"vcpu0 fault gfn=0x10\n"
			"vcpu1 fault gfn=0x10\n";

		tdpsim_replay_options_init(&opts);
		opts.mode = TDPSIM_REPLAY_EXPLORE;
		opts.explore_max_steps = 8;
		opts.diag = capture_diag;
		opts.diag_opaque = &c;
		memset(&c, 0, sizeof(c));
		assert_tdp_ok(tdpsim_replay_string("p.trace", text, strlen(text), &opts, &r));
		assert_int_equal(r.status, TDPSIM_REPLAY_FAILED);
		assert_string_equal(c.first, "progress");
		assert_true(c.first_line >= 3);
	}
}

/* ---- schedule strings ---- */

static void test_schedule_strings(void **state)
{
	static const char *const good[] = { "0", "0x3,1x2,r,0x40" };
	static const char *const bad[] = { "", "x3", "0x0", "0,", ",0", "01", "0x", "a",
					   "0x3,,1", "4294967295", "12,r x3" };
	struct sched_schedule *sch;

	(void)state;
	assert_tdp_ok(sched_schedule_parse(good[0], &sch, NULL));
	assert_int_equal(sched_schedule_max_id(sch), 0);
	sched_schedule_free(sch);
	assert_tdp_ok(sched_schedule_parse(good[1], &sch, NULL));
	assert_int_equal(sched_schedule_max_id(sch), 1);
	sched_schedule_free(sch);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *why = NULL;

		assert_int_equal(sched_schedule_parse(bad[i], &sch, &why), -EINVAL);
		assert_non_null(why);
	}
	assert_int_equal(sched_schedule_seed(9, 0), 9);
	assert_true(sched_schedule_seed(9, 1) != sched_schedule_seed(9, 2));
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_schedule_strings),
	cmocka_unit_test(test_race_same_spte),
	cmocka_unit_test(test_explore_trace_deterministic),
	cmocka_unit_test(test_explore_deterministic),
	cmocka_unit_test(test_explore_inhibit_read_races),
	cmocka_unit_test(test_explore_inhibit_write_clean),
	cmocka_unit_test(test_explore_inhibit_budget),
	cmocka_unit_test(test_explore_zap_vs_rcu_walker),
	cmocka_unit_test(test_explore_convert_vs_fault),
	cmocka_unit_test(test_explore_progress),
	cmocka_unit_test(test_explore_watchdog),
};

TEST_MAIN(tests)
