/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tdpsim/observer.h - callbacks at the model's transition points.
 *
 * The invariant checker (and later the deterministic scheduler) needs to
 * see single transitions as they happen: an SPTE changing, mmu_lock taken
 * and released, a TLB flush, a page table unlinked or freed, an RCU
 * read-side section, an allocation, an lpage_info access. The model calls
 * the observer at exactly these points; with no observer set each point
 * costs one predictable branch.
 *
 * Callbacks run on the thread that made the transition, with the model's
 * locks as they are at that instant (mmu_lock may be held). They may call
 * the read-only inspect.h functions noted as safe there, and nothing else.
 */
#ifndef TDPSIM_OBSERVER_H
#define TDPSIM_OBSERVER_H

#include <tdpsim/types.h>
#include <tdpsim/inspect.h>

#ifdef __cplusplus
extern "C" {
#endif

/** mmu_lock modes. */
enum tdpsim_lock_mode {
	TDPSIM_LOCK_NONE,
	TDPSIM_LOCK_READ,
	TDPSIM_LOCK_WRITE,
};

/** One SPTE write (handle_changed_spte() sees the same old/new pair). */
struct tdpsim_spte_change {
	enum tdpsim_root_role role;
	tdpsim_gfn_t gfn;		/* first GFN the entry covers */
	int level;
	uint64_t old_spte;		/* the value replaced (the true old) */
	uint64_t new_spte;
	const void *table;		/* page table holding the entry */
	unsigned int index;
	bool atomic;			/* compare-and-swap or exchange */
	enum tdpsim_lock_mode lock;	/* how this thread holds mmu_lock */
};

/** Why the model allocates. */
struct tdpsim_alloc_event {
	enum tdpsim_alloc_kind kind;
	size_t size;
	bool from_cache;		/* taken from a pre-filled memory cache */
	enum tdpsim_lock_mode lock;	/* how this thread holds mmu_lock */
	bool may_sleep;			/* the path is allowed to sleep here */
};

/** Phases of a private zap (private_zap). */
enum tdpsim_zap_phase {
	TDPSIM_ZAP_BEGIN,		/* before anything is split or zapped */
	TDPSIM_ZAP_DONE,		/* split (as the policy says) and zapped */
	TDPSIM_ZAP_ABORTED,		/* a split failed: nothing was zapped */
};

struct tdpsim_observer {
	/** An SPTE changed (every write, atomic or not, in every root). */
	void (*spte_changed)(void *opaque, const struct tdpsim_spte_change *c);
	/** mmu_lock acquired (@acquire) or about to be released. */
	void (*mmu_lock)(void *opaque, enum tdpsim_lock_mode mode, bool acquire);
	/** A remote TLB flush of [gfn, gfn + npages); npages 0 = everything. */
	void (*tlb_flush)(void *opaque, tdpsim_gfn_t gfn, uint64_t npages);
	/** This thread entered (@enter) or left an RCU read-side section. */
	void (*rcu_read)(void *opaque, bool enter);
	/** Page table @table was unlinked from its parent (handle_removed_pt). */
	void (*pt_unlinked)(void *opaque, const void *table, int level);
	/** Page table @table is about to be freed (the RCU callback). */
	void (*pt_freed)(void *opaque, const void *table);
	/** The model allocated memory. */
	void (*alloc)(void *opaque, const struct tdpsim_alloc_event *a);
	/** lpage_info of slot @slot_id at @level, index @idx, was read or
	 * written (@write) with mmu_lock held as @lock. */
	void (*lpage_access)(void *opaque, uint32_t slot_id, int level,
			     uint64_t idx, bool write, enum tdpsim_lock_mode lock);
	/** A fault gave up after @retries RET_PF_RETRY loops without progress. */
	void (*fault_stuck)(void *opaque, tdpsim_gfn_t gfn, unsigned int retries);
	/** A zap of the private GFNs [start, end) in the mirror root (convert
	 * to shared, punch, poison, slot deletion, guest_memfd release), with
	 * mmu_lock held for write: at @phase BEGIN before the precise split
	 * of policy split.boundary, then DONE once the range was zapped or
	 * ABORTED if a split failed and the zap was not done. Invariant
	 * `boundary` compares the mirror root at the two points. */
	void (*private_zap)(void *opaque, tdpsim_gfn_t start, tdpsim_gfn_t end,
			    enum tdpsim_zap_phase phase);
};

/**
 * tdpsim_vm_set_observer() - install @obs (copied) with @opaque, or remove
 * the observer with NULL. Not thread-safe against running model calls:
 * install before the threads start.
 */
TDPSIM_API void tdpsim_vm_set_observer(struct tdpsim_vm *vm,
				       const struct tdpsim_observer *obs,
				       void *opaque);

#ifdef __cplusplus
}
#endif

#endif /* TDPSIM_OBSERVER_H */
