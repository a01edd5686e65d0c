/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * guest_memfd operations racing with private faults on other threads: two
 * vCPUs fault all over a 2M-huge file while a VMM thread punches holes,
 * poisons pages, allocates and converts (attributes on the VM, and in
 * place on the file), in the direct root and in the mirror test mode. The
 * checker watches every transition, and at the end every quiescent
 * invariant (gmem-backing: no leaf on a freed or poisoned page, boundary,
 * attr-*) must hold and teardown must leave nothing behind. Fixed seeds.
 */
#include <pthread.h>

#include "gmem-vm-test.h"

#define FILE_PAGES	(16 * P2M)		/* 32 MiB */
#define ROUNDS		300
#define MIN_FAULTS	20000

/* What the threads share. */
struct shared {
	struct gv *g;
	pthread_barrier_t barrier;	/* everyone starts together */
	_Atomic bool stop;		/* the VMM thread is done */
	_Atomic uint64_t faults;	/* faults the vCPU threads made */
};

/* One thread's part. */
struct race {
	struct shared *sh;
	unsigned int vcpu;
	uint64_t seed;
	unsigned int errors;
};

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void *vcpu_thread(void *arg)
{
	struct race *r = arg;
	struct tdpsim_vcpu *vcpu = tdpsim_vm_get_vcpu(r->sh->g->vm, r->vcpu);
	uint64_t s = r->seed;

	tdpsim_thread_register();
	pthread_barrier_wait(&r->sh->barrier);
	while (!atomic_load(&r->sh->stop)) {
		struct tdpsim_fault_result res;
		int ret = tdpsim_vcpu_fault(vcpu, rnd(&s) % FILE_PAGES,
					    TDPSIM_FAULT_DEFAULT, TDPSIM_ACCESS_WRITE,
					    &res);

		/* A poisoned page, or an attribute that changed under us. */
		if (ret && ret != -EHWPOISON)
			r->errors++;
		atomic_fetch_add(&r->sh->faults, 1);
	}
	tdpsim_thread_unregister();
	return NULL;
}

static void vmm_ops(struct race *r)
{
	struct tdpsim_vm *vm = r->sh->g->vm;
	uint64_t s = r->seed * 7 + 1;

	/* At least ROUNDS operations, and until the vCPUs made MIN_FAULTS. */
	for (int i = 0; i < ROUNDS || atomic_load(&r->sh->faults) < MIN_FAULTS; i++) {
		uint64_t page = rnd(&s) % FILE_PAGES;
		uint64_t len = 1 + rnd(&s) % (2 * P2M);
		int ret = 0;

		if (page + len > FILE_PAGES)
			len = FILE_PAGES - page;
		switch (rnd(&s) % 5) {
		case 0:
			ret = tdpsim_gmem_punch_hole(vm, 0, page << 12, len << 12);
			break;
		case 1:
			ret = tdpsim_gmem_poison(vm, 0, page << 12);
			if (ret == -ENOENT || ret == -EHWPOISON)
				ret = 0;
			break;
		case 2:
			ret = tdpsim_gmem_allocate(vm, 0, page << 12, len << 12);
			break;
		case 3:
			/* Whole 2M pages, so no fault next to the range can map
			 * a huge page across the change (docs/mmu.md). */
			page &= ~(P2M - 1);
			ret = tdpsim_vm_set_memory_attributes(vm, page, P2M, false);
			break;
		case 4:
			page &= ~(P2M - 1);
			ret = tdpsim_vm_set_memory_attributes(vm, page, P2M, true);
			break;
		}
		if (ret)
			r->errors++;
	}
}

static void race(bool mirror, enum tdpsim_attrs_mode attrs, uint64_t seed)
{
	struct shared sh = { .g = gv_new(attrs, mirror) };
	struct race r[3] = { 0 };
	struct gv *g = sh.g;
	pthread_t t[2];

	/* A fault may wait out a whole punch, a thread preempted in it
	 * included: do not call that a livelock. */
	assert_tdp_ok(tdpsim_vm_set_policy(g->vm, "mmu.fault-retries", "1000000"));
	assert_tdp_ok(tdpsim_gmem_create(g->vm, 0, FILE_PAGES << 12, TDPSIM_LEVEL_2M,
					 false));
	assert_tdp_ok(gv_slot(g, 0, 0, FILE_PAGES, 0, 0));
	if (attrs == TDPSIM_ATTRS_VM)
		assert_tdp_ok(tdpsim_vm_set_memory_attributes(g->vm, 0, FILE_PAGES, true));
	pthread_barrier_init(&sh.barrier, NULL, 3);
	for (int i = 0; i < 3; i++) {
		r[i].sh = &sh;
		r[i].vcpu = (unsigned int)i;
		r[i].seed = seed + (uint64_t)i * 0x9e3779b97f4a7c15ULL;
	}
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, vcpu_thread, &r[i]), 0);
	pthread_barrier_wait(&sh.barrier);
	vmm_ops(&r[2]);
	atomic_store(&sh.stop, true);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&sh.barrier);
	for (int i = 0; i < 3; i++)
		assert_int_equal(r[i].errors, 0);
	print_message("%s, attrs=%s: %llu faults, %llu retries, %llu splits\n",
		      mirror ? "mirror" : "direct",
		      attrs == TDPSIM_ATTRS_GMEM ? "gmem" : "vm",
		      (unsigned long long)stat(g->vm, FAULT),
		      (unsigned long long)stat(g->vm, FAULT_RETRY),
		      (unsigned long long)(stat(g->vm, SPLIT_2M) + stat(g->vm, SPLIT_1G)));
	gv_free(g);
}

static void test_gmem_threads_direct(void **state)
{
	(void)state;
	race(false, TDPSIM_ATTRS_VM, 1);
	race(false, TDPSIM_ATTRS_GMEM, 2);
}

static void test_gmem_threads_mirror(void **state)
{
	(void)state;
	race(true, TDPSIM_ATTRS_VM, 3);
	race(true, TDPSIM_ATTRS_GMEM, 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gmem_threads_direct),
		cmocka_unit_test(test_gmem_threads_mirror),
	};
	int r;

	tdpsim_thread_register();
	r = cmocka_run_group_tests(tests, NULL, NULL);
	tdpsim_thread_unregister();
	return r;
}
