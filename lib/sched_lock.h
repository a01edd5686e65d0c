/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sched_lock.h - locks that may be held across a scheduling point, for
 * code below the VM layer (guest_memfd) that has no struct kvm at hand.
 *
 * Under the deterministic scheduler (scheduler.h) no thread may really
 * block while another is chosen to run: these take the lock with a
 * try-lock loop that waits in the calling thread's scheduler, and their
 * releases wake the waiters. On a thread no scheduler runs, each is the
 * pthread call plus one thread-local load. Code with a struct kvm uses
 * kvm_mutex_lock() (scheduler.h) the same way.
 */
#ifndef TDPSIM_SCHED_LOCK_H
#define TDPSIM_SCHED_LOCK_H

#include <pthread.h>

void sched_mutex_lock(pthread_mutex_t *m);
void sched_mutex_unlock(pthread_mutex_t *m);
void sched_rwlock_rdlock(pthread_rwlock_t *l);
void sched_rwlock_wrlock(pthread_rwlock_t *l);
void sched_rwlock_unlock(pthread_rwlock_t *l);

#endif /* TDPSIM_SCHED_LOCK_H */
