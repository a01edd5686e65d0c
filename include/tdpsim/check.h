/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tdpsim/check.h - the invariant checker: an oracle that recomputes what
 * must hold from a VM's state (through inspect.h) and from the transitions
 * it sees (through observer.h), and reports every invariant that does not
 * hold. See docs/invariants.md for what each invariant ID checks.
 *
 * The checker never calls the code paths it checks and never trusts the
 * model's own bookkeeping: it decodes SPTEs itself, recomputes lpage_info
 * from the memslots and the attribute runs, and keeps its own record of
 * locks, RCU read-side sections and TLB flushes per thread.
 *
 * Two kinds of invariant:
 * - transition invariants (pfn-stable, lock, no-sleep, rcu, tlb, progress,
 *   lpage at the moment a huge leaf is installed, boundary around a private
 *   zap) are checked inside the observer callbacks, on the thread that
 *   made the transition, and reported at once;
 * - quiescent invariants (the rest) are checked by tdpsim_checker_check_all()
 *   or tdpsim_checker_check_touched(), which must run while no other thread
 *   calls into the VM (between events, or at a barrier).
 */
#ifndef TDPSIM_CHECK_H
#define TDPSIM_CHECK_H

#include <tdpsim/types.h>
#include <tdpsim/vm.h>
#include <tdpsim/inspect.h>

#ifdef __cplusplus
extern "C" {
#endif

struct tdpsim_checker;

/** One violated invariant. Valid only during the callback. */
struct tdpsim_violation {
	const char *id;			/* invariant ID: "lpage", "spte-format", ... */
	char what[384];			/* what is wrong and where: gfn, level,
					 * root and the values involved */
	tdpsim_gfn_t gfn;		/* first GFN concerned (0 if none) */
	int level;			/* level concerned (0 if none) */
	enum tdpsim_root_role role;	/* root concerned (DIRECT if none) */
	uint64_t old_spte;		/* transition: the value replaced */
	uint64_t new_spte;		/* transition: the value written;
					 * quiescent: the offending SPTE */
	bool transition;		/* found at a transition (observer), not
					 * by a quiescent check */
};

/** Called once per violation, serialised (never twice at once). */
typedef void (*tdpsim_violation_fn)(void *opaque, const struct tdpsim_violation *v);

/**
 * tdpsim_checker_create() - create a checker for @vm and install it as the
 * VM's observer (tdpsim_vm_set_observer()), replacing any other observer.
 * Create it before the VM's threads start.
 * @param vm the VM to check
 * @param fn called for each violation; NULL to only count them
 * @param opaque passed to @fn
 * @param ret_checker written on success
 * @return 0, -EINVAL, -ENOMEM
 */
TDPSIM_API int tdpsim_checker_create(struct tdpsim_vm *vm, tdpsim_violation_fn fn,
				     void *opaque,
				     struct tdpsim_checker **ret_checker);

/**
 * tdpsim_checker_destroy() - remove the observer from the VM (if the VM
 * still exists: destroy the checker before tdpsim_vm_destroy()) and free
 * the checker. Accepts NULL.
 */
TDPSIM_API void tdpsim_checker_destroy(struct tdpsim_checker *c);

/**
 * tdpsim_checker_check_all() - check every quiescent invariant over the
 * whole VM. Call only at a quiescent point. After tdpsim_vm_teardown() it
 * checks nothing (use tdpsim_checker_check_leak()).
 * @return the number of violations reported since the previous
 *         tdpsim_checker_check_*() call returned (including those the
 *         observer reported meanwhile), or -ENOMEM
 */
TDPSIM_API int tdpsim_checker_check_all(struct tdpsim_checker *c);

/**
 * tdpsim_checker_check_touched() - check the quiescent invariants only
 * where something changed since the previous check: the GFN ranges whose
 * SPTEs changed, the lpage_info entries written, the attribute runs and
 * memslots that changed. Falls back to tdpsim_checker_check_all() when it
 * cannot tell (too many changes, a change it cannot place). Call only at a
 * quiescent point.
 * @return as tdpsim_checker_check_all()
 */
TDPSIM_API int tdpsim_checker_check_touched(struct tdpsim_checker *c);

/**
 * tdpsim_checker_check_leak() - invariant `leak`, after tdpsim_vm_teardown():
 * no allocation kind but TDPSIM_ALLOC_KIND_VM has more objects live than
 * @baseline allows, no page-table page is live (allocator and pt.live) or
 * waiting for RCU, and every page table the checker saw unlinked was freed.
 * @param baseline live objects per kind allowed to remain; NULL for none,
 *        which is what teardown must achieve: it frees everything the VM
 *        allocated, including what tdpsim_vm_create() made (the root, the
 *        empty memslot set), so counts taken right after creation hide a
 *        leak of that many objects
 * @return as tdpsim_checker_check_all()
 */
TDPSIM_API int tdpsim_checker_check_leak(struct tdpsim_checker *c,
					 const uint64_t baseline[TDPSIM_ALLOC_KIND_NR]);

/**
 * tdpsim_checker_note_eager_split() - tell the checker that dirty logging
 * was just enabled on slot @slot_id with an eager split, which @completed
 * (false when a reported allocation failure stopped it). While the slot
 * stays dirty-logged, `dirty-log` then also requires that no huge leaf
 * remains in it.
 */
TDPSIM_API void tdpsim_checker_note_eager_split(struct tdpsim_checker *c,
						uint32_t slot_id, bool completed);

/**
 * tdpsim_checker_note_accept() - a TDX guest's ACCEPT of @gfn at @level
 * (pg_level) just ended, @accepted (the module answered SUCCESS: a
 * PAGE_ALREADY_ACCEPTED answer accepted nothing at that level).
 * The next check verifies `accept-level` for it.
 */
TDPSIM_API void tdpsim_checker_note_accept(struct tdpsim_checker *c,
					   tdpsim_gfn_t gfn, int level,
					   bool accepted);

/** Violations reported by @c since it was created. */
TDPSIM_API uint64_t tdpsim_checker_violations(const struct tdpsim_checker *c);

/**
 * tdpsim_invariant_lookup() - is @id an invariant ID (invariants.md), and
 * does this build check it yet (TDX and guest_memfd invariants come with
 * their models)?
 * @param ret_active written on success; may be NULL
 * @return 0, or -ENOENT if @id is not an invariant ID
 */
TDPSIM_API int tdpsim_invariant_lookup(const char *id, bool *ret_active);

/** The @idx-th invariant ID in invariants.md's order, or NULL past the last. */
TDPSIM_API const char *tdpsim_invariant_name(unsigned int idx);

#ifdef __cplusplus
}
#endif

#endif /* TDPSIM_CHECK_H */
