/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * observe.h - calling the observer (tdpsim/observer.h) at the model's
 * transition points. Each helper costs one predictable branch when no
 * observer is installed. The SPTE-change point lives in tdp_mmu.c
 * (tdp_mmu_observe_spte()), the lock points in mmu_lock.c, the lpage_info
 * points in lpage_info.c.
 */
#ifndef TDPSIM_OBSERVE_H
#define TDPSIM_OBSERVE_H

#include "kvm.h"
#include "scheduler.h"

/*
 * rcu_read_lock() for the MMU: an RCU read-side section, observed. Under a
 * deterministic scheduler the section is the scheduler's to track (its
 * grace periods replace liburcu's: scheduler.h), and its start and end are
 * scheduling points.
 */
static inline void kvm_rcu_read_lock(struct kvm *kvm)
{
	if (likely(!kvm->sched))
		tdp_rcu_read_lock();
	if (unlikely(kvm->obs.rcu_read))
		kvm->obs.rcu_read(kvm->obs_opaque, true);
	if (unlikely(kvm->sched))
		__sched_point(kvm->sched, SCHED_RCU_ENTER);
}

static inline void kvm_rcu_read_unlock(struct kvm *kvm)
{
	if (unlikely(kvm->obs.rcu_read))
		kvm->obs.rcu_read(kvm->obs_opaque, false);
	if (likely(!kvm->sched))
		tdp_rcu_read_unlock();
	else
		__sched_point(kvm->sched, SCHED_RCU_EXIT);
}

static inline void observe_tlb_flush(struct kvm *kvm, gfn_t gfn, uint64_t npages)
{
	if (unlikely(kvm->obs.tlb_flush))
		kvm->obs.tlb_flush(kvm->obs_opaque, gfn, npages);
}

static inline void observe_pt_unlinked(struct kvm *kvm, const void *table, int level)
{
	if (unlikely(kvm->obs.pt_unlinked))
		kvm->obs.pt_unlinked(kvm->obs_opaque, table, level);
}

static inline void observe_pt_freed(struct kvm *kvm, const void *table)
{
	if (unlikely(kvm->obs.pt_freed))
		kvm->obs.pt_freed(kvm->obs_opaque, table);
}

static inline void observe_alloc(struct kvm *kvm, enum tdpsim_alloc_kind kind,
				 size_t size, bool from_cache)
{
	if (unlikely(kvm->obs.alloc)) {
		enum tdpsim_lock_mode lock = kvm_lock_mode(kvm);
		struct tdpsim_alloc_event a = {
			.kind = kind,
			.size = size,
			.from_cache = from_cache,
			.lock = lock,
			/* mmu_lock is a spinning rwlock: nothing under it sleeps. */
			.may_sleep = lock == TDPSIM_LOCK_NONE,
		};

		kvm->obs.alloc(kvm->obs_opaque, &a);
	}
}

static inline void observe_fault_stuck(struct kvm *kvm, gfn_t gfn,
				       unsigned int retries)
{
	if (unlikely(kvm->obs.fault_stuck))
		kvm->obs.fault_stuck(kvm->obs_opaque, gfn, retries);
}

static inline void observe_private_zap(struct kvm *kvm, gfn_t start, gfn_t end,
				       enum tdpsim_zap_phase phase)
{
	if (unlikely(kvm->obs.private_zap))
		kvm->obs.private_zap(kvm->obs_opaque, start, end, phase);
}

#endif /* TDPSIM_OBSERVE_H */
