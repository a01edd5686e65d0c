/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-gmem - what the precise private zap costs (split.boundary), in the
 * mirror test mode, measured and printed from one run, never asserted:
 *
 * A 16 TiB guest_memfd bound to a 16 TiB slot, all private, 2M leaves over
 * both ends of a hole and N more inside it. For each policy, range (12 TiB,
 * and 4 KiB inside the head leaf) and N, the boundary split alone
 * (kvm_tdp_mmu_split_cross_boundary() under the write lock, as a punch
 * does it) is timed, with the SPTEs it looked at (split.visit), and then
 * the whole punch. Figures are printed as ratios to headtail over 4 KiB:
 * headtail stays at ~1 whatever the range and N, walk grows with the
 * mapped entries in the range.
 *
 * Run: meson test -C build --benchmark gmem-precise-zap --verbose
 *  or: build/tests/bench-gmem
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <tdpsim/tdpsim.h>

#include "kvm.h"
#include "tdp_mmu.h"
#include "vm_gmem.h"

#define P2M		512ULL
#define SZ_16T		(16ULL << 40)
#define HOLE_OFF	((2ULL << 40) + (1ULL << 20))	/* 2 TiB + 1 MiB */
#define HOLE_LEN	(12ULL << 40)

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static void check(const char *what, int r)
{
	if (r) {
		fprintf(stderr, "bench-gmem: %s: %s\n", what, tdpsim_strerror(r));
		exit(1);
	}
}

static void fault(struct tdpsim_vm *vm, tdpsim_gfn_t gfn)
{
	struct tdpsim_fault_result res;

	check("fault", tdpsim_vcpu_fault(tdpsim_vm_get_vcpu(vm, 0), gfn,
					 TDPSIM_FAULT_DEFAULT, TDPSIM_ACCESS_WRITE, &res));
	if (res.outcome != TDPSIM_FAULT_OK || res.level != TDPSIM_LEVEL_2M)
		check("fault level", -EIO);
}

/* A mirror-mode VM: 16 TiB file and slot, private, 2M leaves at both ends
 * of the 12 TiB hole and @inside more spread through it. */
static struct tdpsim_vm *setup(const char *policy, unsigned int inside)
{
	const tdpsim_gfn_t s = HOLE_OFF >> 12, e = (HOLE_OFF + HOLE_LEN) >> 12;
	struct tdpsim_memslot_config slot;
	struct tdpsim_vm_config cfg;
	struct tdpsim_vm *vm;

	tdpsim_vm_config_init(&cfg);
	cfg.type = TDPSIM_VM_SW_PROTECTED;
	cfg.alloc = TDPSIM_ALLOC_LIBC;
	check("vm", kvm_create_vm(&cfg, KVM_VM_TEST_MIRROR, &vm));
	check("policy", tdpsim_vm_set_policy(vm, "split.boundary", policy));
	check("gmem", tdpsim_gmem_create(vm, 0, SZ_16T, TDPSIM_LEVEL_2M, false));
	tdpsim_memslot_config_init(&slot);
	slot.npages = SZ_16T >> 12;
	slot.gmem_id = 0;
	check("slot", tdpsim_memslot_create(vm, &slot));
	check("convert", tdpsim_vm_set_memory_attributes(vm, 0, SZ_16T >> 12, true));
	fault(vm, s);
	fault(vm, e - 1);
	for (unsigned int i = 0; i < inside; i++)
		fault(vm, s + P2M + ((e - s - 2 * P2M) / inside) * i);
	return vm;
}

struct figure {
	uint64_t visit;			/* SPTEs the split looked at */
	uint64_t splits;		/* huge leaves it split */
	double split_ns;		/* the boundary split alone */
	double punch_ns;		/* the whole punch after it */
};

/* One measurement: the best of @rounds fresh set-ups. */
static struct figure measure(const char *policy, uint64_t len, unsigned int inside,
			     int rounds)
{
	struct figure best = { .split_ns = 1e30, .punch_ns = 1e30 };

	for (int round = 0; round < rounds; round++) {
		struct tdpsim_vm *vm = setup(policy, inside);
		struct kvm *kvm = to_kvm(vm);
		struct tdpsim_counters *ctr = tdpsim_vm_counters(vm);
		tdpsim_gfn_t s = HOLE_OFF >> 12, e = (HOLE_OFF + len) >> 12;
		uint64_t v0 = tdpsim_counters_get(ctr, TDPSIM_STAT_SPLIT_VISIT);
		uint64_t s0 = tdpsim_counters_get(ctr, TDPSIM_STAT_SPLIT_2M) +
			      tdpsim_counters_get(ctr, TDPSIM_STAT_SPLIT_1G);
		double t0, t1, t2;
		int r;

		t0 = now();
		mmu_write_lock(kvm);
		r = kvm_tdp_mmu_split_cross_boundary(kvm, s, e, kvm->policy.split_boundary);
		mmu_write_unlock(kvm);
		t1 = now();
		check("split", r);
		check("punch", tdpsim_gmem_punch_hole(vm, 0, HOLE_OFF, len));
		t2 = now();
		best.visit = tdpsim_counters_get(ctr, TDPSIM_STAT_SPLIT_VISIT) - v0;
		best.splits = tdpsim_counters_get(ctr, TDPSIM_STAT_SPLIT_2M) +
			      tdpsim_counters_get(ctr, TDPSIM_STAT_SPLIT_1G) - s0;
		if ((t1 - t0) * 1e9 < best.split_ns)
			best.split_ns = (t1 - t0) * 1e9;
		if ((t2 - t1) * 1e9 < best.punch_ns)
			best.punch_ns = (t2 - t1) * 1e9;
		tdpsim_vm_destroy(vm);
	}
	return best;
}

static void row(const char *policy, const char *range, unsigned int leaves,
		const struct figure *f, const struct figure *base)
{
	printf("%-9s %-7s %6u %6llu | %11llu %9.2f | %10.0f %9.2f %9.2f | %10.0f %7.2f\n",
	       policy, range, leaves, (unsigned long long)f->splits,
	       (unsigned long long)f->visit, (double)f->visit / (double)base->visit,
	       f->split_ns, f->split_ns / base->split_ns,
	       (f->split_ns / (double)(f->splits ? f->splits : 1)) /
	       (base->split_ns / (double)(base->splits ? base->splits : 1)),
	       f->punch_ns, f->punch_ns / base->punch_ns);
}

int main(void)
{
	static const unsigned int insides[] = { 0, 64, 4096, 32768 };
	struct figure base, f;

	tdpsim_thread_register();
	/* The reference: headtail over 4 KiB inside the head leaf. */
	(void)measure("headtail", 4096, 0, 3);	/* warm up */
	base = measure("headtail", 4096, 0, 9);
	printf("precise private zap of a 16 TiB file, mirror root; ratios to "
	       "headtail over 4 KiB (%llu SPTEs, %.0f ns split, %.0f ns punch)\n",
	       (unsigned long long)base.visit, base.split_ns, base.punch_ns);
	printf("%-9s %-7s %6s %6s | %11s %9s | %10s %9s %9s | %10s %7s\n",
	       "policy", "range", "leaves", "splits", "split.visit", "ratio",
	       "split ns", "ratio", "per split", "punch ns", "ratio");
	for (int p = 0; p < 2; p++) {
		const char *policy = p ? "walk" : "headtail";

		for (size_t i = 0; i < sizeof(insides) / sizeof(insides[0]); i++) {
			f = measure(policy, HOLE_LEN, insides[i], 5);
			row(policy, "12 TiB", insides[i] + 2, &f, &base);
		}
		f = measure(policy, 4096, 0, 9);
		row(policy, "4 KiB", 2, &f, &base);
	}
	tdpsim_thread_unregister();
	return 0;
}
