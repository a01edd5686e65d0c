/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * spte.h - the EPT flavour of KVM's SPTE encoding (arch/x86/kvm/mmu/spte.h,
 * with the masks kvm_mmu_set_ept_masks() selects) and the only accessors
 * that touch an SPTE in memory.
 *
 * SPTEs are _Atomic uint64_t. Every load and store goes through spte_read(),
 * spte_write(), spte_xchg() or spte_cmpxchg(); nothing else dereferences a
 * page table. The TDP MMU wraps them in kvm_tdp_mmu_read_spte() and friends
 * (tdp_iter.h), which is where a later scheduler hooks.
 */
#ifndef TDPSIM_SPTE_H
#define TDPSIM_SPTE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <tdpsim/types.h>

#include "internal.h"

typedef uint64_t u64;
typedef tdpsim_gfn_t gfn_t;
typedef tdpsim_pfn_t kvm_pfn_t;

/* One page-table entry; a page table is 512 of them, 4 KiB aligned. */
typedef _Atomic uint64_t tdp_spte_t;
typedef tdp_spte_t *tdp_ptep_t;

#define PAGE_SHIFT		12
#define PAGE_SIZE		(1ULL << PAGE_SHIFT)
#define PT64_ROOT_MAX_LEVEL	5
#define PT64_ROOT_4LEVEL	4
#define PT64_ROOT_5LEVEL	5
#define KVM_MAX_HUGEPAGE_LEVEL	TDPSIM_LEVEL_1G
#define PG_LEVEL_4K		TDPSIM_LEVEL_4K
#define PG_LEVEL_2M		TDPSIM_LEVEL_2M
#define PG_LEVEL_1G		TDPSIM_LEVEL_1G
#define PG_LEVEL_NUM		(TDPSIM_LEVEL_256T + 1)

#define SPTE_LEVEL_BITS		9
#define SPTE_ENT_PER_PAGE	512
#define SPTE_LEVEL_SHIFT(level)	(PAGE_SHIFT + ((level) - 1) * SPTE_LEVEL_BITS)
#define SPTE_INDEX(address, level) \
	(((address) >> SPTE_LEVEL_SHIFT(level)) & (SPTE_ENT_PER_PAGE - 1))
#define KVM_HPAGE_GFN_SHIFT(level)	(((level) - 1) * 9)
#define KVM_PAGES_PER_HPAGE(level)	(1ULL << KVM_HPAGE_GFN_SHIFT(level))

static inline gfn_t gfn_round_for_level(gfn_t gfn, int level)
{
	return gfn & -KVM_PAGES_PER_HPAGE(level);
}

/* ---- bit layout (spte.h, vmx.h, kvm_mmu_set_ept_masks) ---- */

#define SPTE_MMU_PRESENT_MASK		BIT_ULL(11)
#define PT_WRITABLE_MASK		BIT_ULL(1)
#define PT_PAGE_SIZE_MASK		BIT_ULL(7)
#define VMX_EPT_READABLE_MASK		0x1ULL
#define VMX_EPT_WRITABLE_MASK		0x2ULL
#define VMX_EPT_EXECUTABLE_MASK		0x4ULL
#define VMX_EPT_RWX_MASK		0x7ULL
#define VMX_EPT_ACCESS_BIT		BIT_ULL(8)
#define VMX_EPT_DIRTY_BIT		BIT_ULL(9)
#define VMX_EPT_SUPPRESS_VE_BIT		BIT_ULL(63)
#define EPT_SPTE_HOST_WRITABLE		BIT_ULL(57)
#define EPT_SPTE_MMU_WRITABLE		BIT_ULL(58)
#define SPTE_BASE_ADDR_MASK		0x000ffffffffff000ULL	/* bits 12..51 */

#define SPTE_TDP_AD_SHIFT		52
#define SPTE_TDP_AD_MASK		(3ULL << SPTE_TDP_AD_SHIFT)
#define SPTE_TDP_AD_ENABLED		(0ULL << SPTE_TDP_AD_SHIFT)
#define SPTE_TDP_AD_DISABLED		(1ULL << SPTE_TDP_AD_SHIFT)
#define SPTE_TDP_AD_WRPROT_ONLY		(2ULL << SPTE_TDP_AD_SHIFT)

/* The EPT masks (no exec-only support, so present implies readable). */
#define shadow_present_mask		(VMX_EPT_READABLE_MASK | VMX_EPT_SUPPRESS_VE_BIT)
#define shadow_user_mask		VMX_EPT_READABLE_MASK
#define shadow_x_mask			VMX_EPT_EXECUTABLE_MASK
#define shadow_nx_mask			0ULL
#define shadow_accessed_mask		VMX_EPT_ACCESS_BIT
#define shadow_dirty_mask		VMX_EPT_DIRTY_BIT
#define shadow_acc_track_mask		VMX_EPT_RWX_MASK
#define shadow_host_writable_mask	EPT_SPTE_HOST_WRITABLE
#define shadow_mmu_writable_mask	EPT_SPTE_MMU_WRITABLE

/* The empty SPTE: suppress-#VE set, nothing else (x86-64). */
#define SHADOW_NONPRESENT_VALUE		BIT_ULL(63)

/* An SPTE owned by one thread mid-update; never MMU-present. */
#define FROZEN_SPTE			(SHADOW_NONPRESENT_VALUE | 0x5a0ULL)

_Static_assert(!(FROZEN_SPTE & SPTE_MMU_PRESENT_MASK),
	       "FROZEN_SPTE must not be MMU-present");
_Static_assert(FROZEN_SPTE == 0x80000000000005a0ULL, "FROZEN_SPTE value");

/* ACC_* access bits make_spte() takes (mmu.h). */
#define ACC_EXEC_MASK	1u
#define ACC_WRITE_MASK	2u
#define ACC_USER_MASK	4u
#define ACC_ALL		(ACC_EXEC_MASK | ACC_WRITE_MASK | ACC_USER_MASK)

/* ---- the accessors: the only code that loads or stores an SPTE ---- */

static inline u64 spte_read(tdp_ptep_t sptep)
{
	return atomic_load_explicit(sptep, memory_order_acquire);
}

/* A plain store: only where no other writer can race (write lock, or a
 * table nobody else can reach yet). */
static inline void spte_write(tdp_ptep_t sptep, u64 val)
{
	atomic_store_explicit(sptep, val, memory_order_release);
}

static inline u64 spte_xchg(tdp_ptep_t sptep, u64 val)
{
	return atomic_exchange_explicit(sptep, val, memory_order_acq_rel);
}

/* True if *sptep was *old and is now @new; else *old holds what was there. */
static inline bool spte_cmpxchg(tdp_ptep_t sptep, u64 *old, u64 new)
{
	return atomic_compare_exchange_strong_explicit(sptep, old, new,
						       memory_order_acq_rel,
						       memory_order_acquire);
}

static inline u64 spte_fetch_and(tdp_ptep_t sptep, u64 mask)
{
	return atomic_fetch_and_explicit(sptep, mask, memory_order_acq_rel);
}

/* ---- predicates (spte.h) ---- */

static inline bool is_shadow_present_pte(u64 pte)
{
	return !!(pte & SPTE_MMU_PRESENT_MASK);
}

static inline bool is_large_pte(u64 pte)
{
	return pte & PT_PAGE_SIZE_MASK;
}

/* Does not check presence: callers combine it with is_shadow_present_pte. */
static inline bool is_last_spte(u64 pte, int level)
{
	return level == PG_LEVEL_4K || is_large_pte(pte);
}

static inline bool is_frozen_spte(u64 spte)
{
	return spte == FROZEN_SPTE;
}

static inline kvm_pfn_t spte_to_pfn(u64 pte)
{
	return (pte & SPTE_BASE_ADDR_MASK) >> PAGE_SHIFT;
}

static inline bool is_writable_pte(u64 pte)
{
	return pte & PT_WRITABLE_MASK;
}

static inline bool is_executable_pte(u64 spte)
{
	return (spte & (shadow_x_mask | shadow_nx_mask)) == shadow_x_mask;
}

static inline bool is_mmu_writable_spte(u64 spte)
{
	return spte & shadow_mmu_writable_mask;
}

static inline bool spte_ad_enabled(u64 spte)
{
	return (spte & SPTE_TDP_AD_MASK) != SPTE_TDP_AD_DISABLED;
}

/*
 * The legal (host-writable, MMU-writable, W) triples of a present leaf
 * (check_spte_writable_invariants()).
 */
static inline bool spte_writable_bits_legal(u64 spte)
{
	if ((spte & shadow_mmu_writable_mask) && !(spte & shadow_host_writable_mask))
		return false;
	if (is_writable_pte(spte) && !is_mmu_writable_spte(spte))
		return false;
	return true;
}

/* Only a change that takes away MMU-writable needs a flush now (spte.h). */
static inline bool leaf_spte_change_needs_tlb_flush(u64 old_spte, u64 new_spte)
{
	return is_mmu_writable_spte(old_spte) && !is_mmu_writable_spte(new_spte);
}

/* The child page table a non-leaf SPTE points at (the kernel's __va()). */
static inline tdp_ptep_t spte_to_child_pt(u64 spte, int level)
{
	if (!is_shadow_present_pte(spte) || is_last_spte(spte, level))
		return NULL;
	return (tdp_ptep_t)(uintptr_t)(spte_to_pfn(spte) << PAGE_SHIFT);
}

bool spte_needs_atomic_update(u64 spte);

/* make_spte()'s inputs that the kernel reads from vcpu/sp/slot. */
struct make_spte_args {
	int level;			/* level of the SPTE */
	unsigned int pte_access;	/* ACC_* */
	kvm_pfn_t pfn;			/* first PFN mapped */
	bool prefetch;			/* no Accessed bit */
	bool host_writable;		/* the host mapping is writable */
};

bool make_spte(const struct make_spte_args *a, u64 old_spte, u64 *new_spte);
u64 make_small_spte(u64 huge_spte, int child_level, int index);
u64 make_huge_spte(u64 small_spte, int level);
u64 make_nonleaf_spte(tdp_ptep_t child_pt, bool ad_disabled);

#endif /* TDPSIM_SPTE_H */
