/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mmu_lock.h - kvm->mmu_lock, an rwlock as on x86, that knows per thread
 * whether the calling thread holds it and how (lockdep's view).
 *
 * A pthread rwlock with a distributed read side in front, so faults on
 * two CPUs do not bounce one cache line (the kernel's qrwlock does bounce
 * it, but its faults cost microseconds, not 100 ns). A reader announces
 * itself in its own slot and proceeds if no writer is there; a writer
 * takes the pthread lock for write, raises @writer and waits for the slots
 * to drain; readers that find a writer fall back to the pthread lock's read
 * side and so queue behind it. Both announcements are sequentially
 * consistent (Dekker), so one side always sees the other.
 *
 * Every acquisition and release goes through the six functions below: they
 * count lock.read/lock.write, call the observer, and are where a
 * deterministic scheduler will hook.
 */
#ifndef TDPSIM_MMU_LOCK_H
#define TDPSIM_MMU_LOCK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include <tdpsim/observer.h>

struct kvm;

#define MMU_LOCK_READER_SLOTS	32

/* A reader slot: readers inside through the fast path, on its own line. */
struct mmu_lock_slot {
	_Alignas(64) _Atomic long readers;	/* fast-path readers inside */
};

struct mmu_lock {
	pthread_rwlock_t rw;		/* writers, and readers that met one */
	_Atomic int writer;		/* a writer holds @rw or drains slots */
	_Atomic int waiters;		/* threads about to block on @rw */
	struct mmu_lock_slot slot[MMU_LOCK_READER_SLOTS]; /* by thread */
};

/* What the calling thread holds (one mmu_lock at a time). */
extern _Thread_local const struct mmu_lock *mmu_lock_held_lock;
extern _Thread_local enum tdpsim_lock_mode mmu_lock_held_mode;
extern _Thread_local bool mmu_lock_held_slow;	/* read side via @rw */

int mmu_lock_init(struct mmu_lock *lock);
void mmu_lock_destroy(struct mmu_lock *lock);

void mmu_read_lock(struct kvm *kvm);
void mmu_read_unlock(struct kvm *kvm);
void mmu_write_lock(struct kvm *kvm);
void mmu_write_unlock(struct kvm *kvm);

/*
 * cond_resched_rwlock_read()/_write() - drop and retake the lock if another
 * thread waits for it (the caller has left its RCU section). Returns true if
 * the lock was dropped.
 */
bool cond_resched_rwlock_read(struct kvm *kvm);
bool cond_resched_rwlock_write(struct kvm *kvm);

/* How the calling thread holds @lock: NONE, READ or WRITE. */
static inline enum tdpsim_lock_mode mmu_lock_mode(const struct mmu_lock *lock)
{
	return mmu_lock_held_lock == lock ? mmu_lock_held_mode : TDPSIM_LOCK_NONE;
}

/* rwlock_needbreak(): another thread is waiting for the lock. */
static inline bool mmu_lock_needbreak(const struct mmu_lock *lock)
{
	if (atomic_load_explicit(&lock->waiters, memory_order_relaxed) > 0)
		return true;
	/* A writer draining the slots waits for this reader. */
	return mmu_lock_mode(lock) == TDPSIM_LOCK_READ &&
	       atomic_load_explicit(&lock->writer, memory_order_relaxed);
}

#endif /* TDPSIM_MMU_LOCK_H */
