/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Page tables are freed only after an RCU grace period: a reader inside a
 * read-side section keeps an unlinked table readable, and the free waits.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "mmu-test.h"
#include "rcu.h"
#include "spte.h"

#define P2M 512ULL

struct reader {
	const tdp_spte_t *table;	/* the table to hold on to */
	_Atomic int phase;		/* 1: inside, 2: may leave, 3: left */
	u64 seen[512];			/* what it read after the unlink */
};

struct events {
	_Atomic int unlinked;
	_Atomic int freed;
	const void *table;
	_Atomic int rcu_enter;
};

static void on_unlinked(void *opaque, const void *table, int level)
{
	struct events *ev = opaque;

	if (table == ev->table && level == 1)
		atomic_fetch_add(&ev->unlinked, 1);
}

static void on_freed(void *opaque, const void *table)
{
	struct events *ev = opaque;

	if (table == ev->table)
		atomic_fetch_add(&ev->freed, 1);
}

static void on_rcu(void *opaque, bool enter)
{
	struct events *ev = opaque;

	if (enter)
		atomic_fetch_add(&ev->rcu_enter, 1);
}

static void *reader_thread(void *arg)
{
	struct reader *r = arg;

	tdpsim_thread_register();
	tdp_rcu_read_lock();
	atomic_store(&r->phase, 1);
	while (atomic_load(&r->phase) != 2)
		usleep(1000);
	/* The table is unlinked now but must still be readable. */
	for (int i = 0; i < 512; i++)
		r->seen[i] = spte_read((tdp_ptep_t)&r->table[i]);
	tdp_rcu_read_unlock();
	atomic_store(&r->phase, 3);
	tdpsim_thread_unregister();
	return NULL;
}

static void test_rcu_free_waits_for_reader(void **state)
{
	struct tdpsim_vm *vm = test_vm(TDPSIM_VM_DEFAULT, 4, 1);
	struct tdpsim_observer obs = {
		.pt_unlinked = on_unlinked,
		.pt_freed = on_freed,
		.rcu_read = on_rcu,
	};
	struct events ev = { 0 };
	struct tdpsim_spte_info info;
	struct reader r = { 0 };
	uint64_t freed;
	pthread_t t;

	(void)state;
	/* A 4K table under a 2M page, collapsed by huge-page recovery. */
	test_slot(vm, 0, 0, 4 * P2M, TDPSIM_LEVEL_2M);
	assert_tdp_ok(tdpsim_memslot_set_dirty_log(vm, 0, true, false));
	assert_int_equal(test_fault(vm, 7), 1);
	assert_tdp_ok(tdpsim_vm_lookup_leaf(vm, TDPSIM_ROOT_DIRECT, 7, &info));
	r.table = info.table;
	ev.table = info.table;
	tdpsim_vm_set_observer(vm, &obs, &ev);

	assert_int_equal(pthread_create(&t, NULL, reader_thread, &r), 0);
	while (atomic_load(&r.phase) != 1)
		usleep(1000);

	freed = stat(vm, PT_FREE);
	assert_tdp_ok(tdpsim_memslot_set_dirty_log(vm, 0, false, false));
	assert_int_equal(test_mapped_level(vm, 7), 2);
	assert_int_equal(atomic_load(&ev.unlinked), 1);
	assert_true(atomic_load(&ev.rcu_enter) > 0);

	/* The reader is still inside: nothing may be freed. */
	usleep(50 * 1000);
	assert_int_equal(tdpsim_vm_rcu_pending(vm), 1);
	assert_int_equal(stat(vm, PT_FREE), freed);
	assert_int_equal(atomic_load(&ev.freed), 0);
	assert_int_equal(stat(vm, PT_LIVE), 4);

	atomic_store(&r.phase, 2);
	pthread_join(t, NULL);
	/* Every child it read was frozen by handle_removed_pt. */
	for (int i = 0; i < 512; i++)
		assert_int_equal(r.seen[i], FROZEN_SPTE);

	tdp_rcu_barrier();
	assert_int_equal(tdpsim_vm_rcu_pending(vm), 0);
	assert_int_equal(stat(vm, PT_FREE), freed + 1);
	assert_int_equal(stat(vm, RCU_FREE), freed + 1);
	assert_int_equal(atomic_load(&ev.freed), 1);
	assert_int_equal(stat(vm, PT_LIVE), 3);
	assert_int_equal(tdpsim_vm_alloc_live(vm, TDPSIM_ALLOC_KIND_PT), 3);
	tdpsim_vm_set_observer(vm, NULL, NULL);
	tdpsim_vm_destroy(vm);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_rcu_free_waits_for_reader),
};

TEST_MAIN(tests)
