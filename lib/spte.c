/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * spte.c - building SPTEs (arch/x86/kvm/mmu/spte.c), EPT flavour, A/D bits
 * enabled, no NX huge page mitigation, no memory-type bits.
 */
#include "spte.h"

/* spte_needs_atomic_update(): bits that may change without mmu_lock. */
bool spte_needs_atomic_update(u64 spte)
{
	/* The fast page fault path may set W on an MMU-writable SPTE. */
	if (!is_writable_pte(spte) && is_mmu_writable_spte(spte))
		return true;
	/* A/D-disabled SPTEs may be access-tracked by aging. */
	if (!spte_ad_enabled(spte))
		return true;
	/* The CPU may set Dirty; losing Accessed is tolerated. */
	return is_writable_pte(spte) && !(spte & shadow_dirty_mask);
}

/*
 * make_spte() - the leaf SPTE mapping @a->pfn at @a->level.
 * Returns true if the SPTE had to be write-protected (never, with the TDP
 * MMU: there are no shadow pages to unsync).
 */
bool make_spte(const struct make_spte_args *a, u64 old_spte, u64 *new_spte)
{
	unsigned int pte_access = a->pte_access;
	u64 spte = SPTE_MMU_PRESENT_MASK;

	(void)old_spte;
	spte |= SPTE_TDP_AD_ENABLED | shadow_present_mask;
	if (!a->prefetch)
		spte |= shadow_accessed_mask;
	if (pte_access & ACC_EXEC_MASK)
		spte |= shadow_x_mask;
	else
		spte |= shadow_nx_mask;
	if (pte_access & ACC_USER_MASK)
		spte |= shadow_user_mask;
	if (a->level > PG_LEVEL_4K)
		spte |= PT_PAGE_SIZE_MASK;
	if (a->host_writable)
		spte |= shadow_host_writable_mask;
	else
		pte_access &= ~ACC_WRITE_MASK;
	spte |= (a->pfn << PAGE_SHIFT) & SPTE_BASE_ADDR_MASK;
	if (pte_access & ACC_WRITE_MASK)
		spte |= PT_WRITABLE_MASK | shadow_mmu_writable_mask |
			shadow_dirty_mask;
	*new_spte = spte;
	return false;
}

/*
 * make_small_spte() - the SPTE mapping sub-page @index of @huge_spte in a
 * table at @child_level (the kernel passes the child role).
 */
u64 make_small_spte(u64 huge_spte, int child_level, int index)
{
	u64 child_spte = huge_spte;

	TDPSIM_WARN_ON_ONCE(!is_shadow_present_pte(huge_spte) ||
			    !is_large_pte(huge_spte));
	child_spte |= ((u64)index * KVM_PAGES_PER_HPAGE(child_level)) << PAGE_SHIFT;
	if (child_level == PG_LEVEL_4K)
		child_spte &= ~PT_PAGE_SIZE_MASK;
	return child_spte;
}

/* make_huge_spte() - a @level huge SPTE from any small SPTE under it. */
u64 make_huge_spte(u64 small_spte, int level)
{
	u64 huge_spte;

	TDPSIM_WARN_ON_ONCE(!is_shadow_present_pte(small_spte) ||
			    level == PG_LEVEL_4K);
	huge_spte = small_spte | PT_PAGE_SIZE_MASK;
	/* Clear the address bits below the huge page (KVM_HPAGE_MASK). */
	huge_spte &= ~((KVM_PAGES_PER_HPAGE(level) - 1) << PAGE_SHIFT);
	return huge_spte;
}

/* make_nonleaf_spte() - a full-permission link to @child_pt. */
u64 make_nonleaf_spte(tdp_ptep_t child_pt, bool ad_disabled)
{
	u64 spte = SPTE_MMU_PRESENT_MASK;

	spte |= ((u64)(uintptr_t)child_pt & SPTE_BASE_ADDR_MASK) |
		shadow_present_mask | PT_WRITABLE_MASK | shadow_user_mask |
		shadow_x_mask;
	if (ad_disabled)
		spte |= SPTE_TDP_AD_DISABLED;
	else
		spte |= shadow_accessed_mask;
	return spte;
}
