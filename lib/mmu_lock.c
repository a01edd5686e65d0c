/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mmu_lock.c - kvm->mmu_lock: a writer-preferring pthread rwlock behind a
 * distributed read side (mmu_lock.h), with the holder's mode recorded per
 * thread, lock.read/lock.write counted and the observer told of every
 * acquisition and release.
 */
#include <errno.h>
#include <sched.h>

#include "kvm.h"
#include "mmu_lock.h"
#include "observe.h"
#include "scheduler.h"

_Thread_local const struct mmu_lock *mmu_lock_held_lock;
_Thread_local enum tdpsim_lock_mode mmu_lock_held_mode;
_Thread_local bool mmu_lock_held_slow;

/* This thread's reader slot: threads are spread over the slots. */
static _Thread_local int reader_slot = -1;
static _Atomic unsigned int next_reader_slot;

static _Atomic long *my_slot(struct mmu_lock *lock)
{
	if (unlikely(reader_slot < 0))
		reader_slot = (int)(atomic_fetch_add(&next_reader_slot, 1) %
				    MMU_LOCK_READER_SLOTS);
	return &lock->slot[reader_slot].readers;
}

int mmu_lock_init(struct mmu_lock *lock)
{
	pthread_rwlockattr_t attr;
	int r;

	atomic_init(&lock->waiters, 0);
	atomic_init(&lock->writer, 0);
	for (int i = 0; i < MMU_LOCK_READER_SLOTS; i++)
		atomic_init(&lock->slot[i].readers, 0);
	r = pthread_rwlockattr_init(&attr);
	if (r)
		return -r;
	/* The kernel's queued rwlock does not let readers starve a writer. */
	pthread_rwlockattr_setkind_np(&attr,
				      PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	r = pthread_rwlock_init(&lock->rw, &attr);
	pthread_rwlockattr_destroy(&attr);
	return -r;
}

void mmu_lock_destroy(struct mmu_lock *lock)
{
	pthread_rwlock_destroy(&lock->rw);
}

static void mmu_lock_acquired(struct kvm *kvm, enum tdpsim_lock_mode mode)
{
	mmu_lock_held_lock = &kvm->mmu_lock;
	mmu_lock_held_mode = mode;
	counter_inc(&kvm->stats, mode == TDPSIM_LOCK_READ ? TDPSIM_STAT_LOCK_READ :
							    TDPSIM_STAT_LOCK_WRITE);
	if (unlikely(kvm->obs.mmu_lock))
		kvm->obs.mmu_lock(kvm->obs_opaque, mode, true);
}

static void mmu_lock_releasing(struct kvm *kvm, enum tdpsim_lock_mode mode)
{
	TDPSIM_WARN_ON_ONCE(kvm_lock_mode(kvm) != mode);
	if (unlikely(kvm->obs.mmu_lock))
		kvm->obs.mmu_lock(kvm->obs_opaque, mode, false);
	mmu_lock_held_lock = NULL;
	mmu_lock_held_mode = TDPSIM_LOCK_NONE;
}

/*
 * Under a deterministic scheduler no thread may really block while another
 * is chosen to run: the pthread side is then taken by a try-lock loop that
 * waits in the scheduler, woken by every release (scheduler.h).
 */
static void rw_rdlock(struct kvm *kvm, pthread_rwlock_t *rw)
{
	if (likely(!kvm->sched)) {
		pthread_rwlock_rdlock(rw);
		return;
	}
	while (pthread_rwlock_tryrdlock(rw))
		sched_wait(kvm, SCHED_WAIT_LOCK);
}

static void rw_wrlock(struct kvm *kvm, pthread_rwlock_t *rw)
{
	if (likely(!kvm->sched)) {
		pthread_rwlock_wrlock(rw);
		return;
	}
	while (pthread_rwlock_trywrlock(rw))
		sched_wait(kvm, SCHED_WAIT_LOCK);
}

void mmu_read_lock(struct kvm *kvm)
{
	struct mmu_lock *lock = &kvm->mmu_lock;
	_Atomic long *slot = my_slot(lock);

	TDPSIM_WARN_ON_ONCE(mmu_lock_held_lock);
	sched_point(kvm, SCHED_LOCK_ACQUIRE);
	/* Fast path: announce, then look for a writer (seq_cst both). */
	atomic_fetch_add(slot, 1);
	if (likely(!atomic_load(&lock->writer))) {
		mmu_lock_held_slow = false;
	} else {
		/* Back off and queue behind the writer on the pthread lock. */
		atomic_fetch_sub(slot, 1);
		atomic_fetch_add_explicit(&lock->waiters, 1, memory_order_relaxed);
		rw_rdlock(kvm, &lock->rw);
		atomic_fetch_sub_explicit(&lock->waiters, 1, memory_order_relaxed);
		mmu_lock_held_slow = true;
	}
	mmu_lock_acquired(kvm, TDPSIM_LOCK_READ);
}

void mmu_read_unlock(struct kvm *kvm)
{
	struct mmu_lock *lock = &kvm->mmu_lock;

	mmu_lock_releasing(kvm, TDPSIM_LOCK_READ);
	if (mmu_lock_held_slow)
		pthread_rwlock_unlock(&lock->rw);
	else
		atomic_fetch_sub_explicit(my_slot(lock), 1, memory_order_release);
	sched_point(kvm, SCHED_LOCK_RELEASE);
}

void mmu_write_lock(struct kvm *kvm)
{
	struct mmu_lock *lock = &kvm->mmu_lock;

	TDPSIM_WARN_ON_ONCE(mmu_lock_held_lock);
	sched_point(kvm, SCHED_LOCK_ACQUIRE);
	if (pthread_rwlock_trywrlock(&lock->rw)) {
		atomic_fetch_add_explicit(&lock->waiters, 1, memory_order_relaxed);
		rw_wrlock(kvm, &lock->rw);
		atomic_fetch_sub_explicit(&lock->waiters, 1, memory_order_relaxed);
	}
	/* Raise the flag, then wait for the fast-path readers to leave. */
	atomic_store(&lock->writer, 1);
	for (int i = 0; i < MMU_LOCK_READER_SLOTS; i++) {
		while (atomic_load(&lock->slot[i].readers)) {
			if (kvm->sched)
				sched_wait(kvm, SCHED_WAIT_LOCK);
			else
				sched_yield();
		}
	}
	mmu_lock_acquired(kvm, TDPSIM_LOCK_WRITE);
}

void mmu_write_unlock(struct kvm *kvm)
{
	struct mmu_lock *lock = &kvm->mmu_lock;

	mmu_lock_releasing(kvm, TDPSIM_LOCK_WRITE);
	atomic_store_explicit(&lock->writer, 0, memory_order_release);
	pthread_rwlock_unlock(&lock->rw);
	sched_point(kvm, SCHED_LOCK_RELEASE);
}

bool cond_resched_rwlock_read(struct kvm *kvm)
{
	if (!mmu_lock_needbreak(&kvm->mmu_lock))
		return false;
	mmu_read_unlock(kvm);
	sched_yield();
	mmu_read_lock(kvm);
	return true;
}

bool cond_resched_rwlock_write(struct kvm *kvm)
{
	if (!mmu_lock_needbreak(&kvm->mmu_lock))
		return false;
	mmu_write_unlock(kvm);
	sched_yield();
	mmu_write_lock(kvm);
	return true;
}
