/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-mmu - the TDP MMU's performance targets, measured (not asserted):
 *   fault   4K faults per second on one thread      (target >= 10M/s)
 *   split   eager split, ns per 4K SPTE created     (target <= 60 ns)
 *   scale   two threads on disjoint ranges vs one   (target >= 1.7x)
 * Each prints its figure and its ratio to the target from one run.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <tdpsim/tdpsim.h>

#include "kvm.h"
#include "mmu.h"
#include "tdp_mmu.h"

#define P1G (512ULL * 512)

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static void die(const char *what, int r)
{
	fprintf(stderr, "bench-mmu: %s: %s\n", what, tdpsim_strerror(r));
	exit(1);
}

static struct tdpsim_vm *bench_vm(unsigned int vcpus, uint64_t pages, int host_level)
{
	struct tdpsim_vm_config cfg;
	struct tdpsim_memslot_config slot;
	struct tdpsim_vm *vm;
	int r;

	tdpsim_vm_config_init(&cfg);
	cfg.nr_vcpus = vcpus;
	r = tdpsim_vm_create(&cfg, &vm);
	if (r)
		die("vm", r);
	tdpsim_memslot_config_init(&slot);
	slot.npages = pages;
	slot.host_page_level = host_level;
	r = tdpsim_memslot_create(vm, &slot);
	if (r)
		die("slot", r);
	return vm;
}

static void fault_range(struct tdpsim_vcpu *vcpu, tdpsim_gfn_t start, uint64_t n)
{
	struct tdpsim_fault_result res;

	for (uint64_t g = start; g < start + n; g++) {
		int r = tdpsim_vcpu_fault(vcpu, g, TDPSIM_FAULT_DEFAULT,
					  TDPSIM_ACCESS_WRITE, &res);

		if (r || res.outcome != TDPSIM_FAULT_OK)
			die("fault", r ? r : -EIO);
	}
}

/* 4K faults that install a new leaf each: a fresh VM per round so table
 * allocation (one per 512 faults, from the caches) is included. */
static void bench_fault(void)
{
	const uint64_t n = 1 << 21;	/* 8 GiB of 4K mappings */
	double best = 0;

	for (int round = 0; round < 3; round++) {
		struct tdpsim_vm *vm = bench_vm(1, n, TDPSIM_LEVEL_4K);
		double t0 = now(), rate;

		fault_range(tdpsim_vm_get_vcpu(vm, 0), 0, n);
		rate = n / (now() - t0);
		if (rate > best)
			best = rate;
		tdpsim_vm_destroy(vm);
	}
	printf("fault-4k: %.2f M faults/s on one thread (target 10 M/s: %.2fx)\n",
	       best / 1e6, best / 10e6);
}

/* Eager split of 1G pages down to 4K, under the read lock, timed alone. */
static void bench_split(void)
{
	const uint64_t gigs = 4;
	double best = 1e9;

	for (int round = 0; round < 3; round++) {
		struct tdpsim_vm *vm = bench_vm(1, gigs * P1G, TDPSIM_LEVEL_1G);
		struct kvm *kvm = to_kvm(vm);
		uint64_t sptes;
		double t0, ns;
		int r;

		for (uint64_t i = 0; i < gigs; i++)
			fault_range(tdpsim_vm_get_vcpu(vm, 0), i * P1G, 1);
		t0 = now();
		mmu_read_lock(kvm);
		r = kvm_tdp_mmu_try_split_huge_pages(kvm, KVM_VALID_ROOTS, 0,
						     gigs * P1G, PG_LEVEL_4K, true);
		mmu_read_unlock(kvm);
		if (r)
			die("split", r);
		/* Every 4K SPTE created, plus the 2M ones made on the way. */
		sptes = gigs * P1G + gigs * 512;
		ns = (now() - t0) * 1e9 / sptes;
		if (ns < best)
			best = ns;
		tdpsim_vm_destroy(vm);
	}
	printf("eager-split: %.1f ns per SPTE created (target 60 ns: %.2fx)\n",
	       best, 60 / best);
}

struct job {
	struct tdpsim_vcpu *vcpu;
	tdpsim_gfn_t start;
	uint64_t n;
	pthread_barrier_t *barrier;
};

static void *job_run(void *arg)
{
	struct job *j = arg;

	tdpsim_thread_register();
	pthread_barrier_wait(j->barrier);
	fault_range(j->vcpu, j->start, j->n);
	tdpsim_thread_unregister();
	return NULL;
}

/* Seconds to fault 2 * @n pages: one thread, or two on disjoint halves. */
static double run_scale(uint64_t n, int threads)
{
	struct tdpsim_vm *vm = bench_vm(2, 2 * n, TDPSIM_LEVEL_4K);
	pthread_barrier_t barrier;
	struct job jobs[2];
	pthread_t t[2];
	double t0, secs;

	pthread_barrier_init(&barrier, NULL, threads + 1);
	for (int i = 0; i < threads; i++) {
		jobs[i].vcpu = tdpsim_vm_get_vcpu(vm, i);
		jobs[i].start = threads == 2 ? i * n : 0;
		jobs[i].n = threads == 2 ? n : 2 * n;
		jobs[i].barrier = &barrier;
		pthread_create(&t[i], NULL, job_run, &jobs[i]);
	}
	t0 = now();
	pthread_barrier_wait(&barrier);
	for (int i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	secs = now() - t0;
	pthread_barrier_destroy(&barrier);
	tdpsim_vm_destroy(vm);
	return secs;
}

static void bench_scale(void)
{
	const uint64_t n = 1 << 20;
	double one = 1e9, two = 1e9;

	for (int round = 0; round < 3; round++) {
		double a = run_scale(n, 1), b = run_scale(n, 2);

		if (a < one)
			one = a;
		if (b < two)
			two = b;
	}
	printf("fault-2-threads: 1 thread %.2f M/s, 2 threads %.2f M/s: "
	       "%.2fx (target 1.7x)\n", 2 * n / one / 1e6, 2 * n / two / 1e6,
	       one / two);
}

int main(int argc, char **argv)
{
	const char *which = argc > 1 ? argv[1] : "all";

	tdpsim_thread_register();
	if (!strcmp(which, "fault") || !strcmp(which, "all"))
		bench_fault();
	if (!strcmp(which, "split") || !strcmp(which, "all"))
		bench_split();
	if (!strcmp(which, "scale") || !strcmp(which, "all"))
		bench_scale();
	tdpsim_thread_unregister();
	return 0;
}
