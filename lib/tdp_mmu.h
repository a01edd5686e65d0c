/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tdp_mmu.h - the TDP MMU (arch/x86/kvm/mmu/tdp_mmu.c): roots, SPTE
 * changes and their bookkeeping, map, zap, split, write-protect, recover.
 *
 * SPTE writes go through exactly four functions, the points a scheduler
 * hooks and the observer sees (spte_changed): __tdp_mmu_set_spte_atomic()
 * (compare-and-swap, read lock), tdp_mmu_set_spte() (store or exchange,
 * write lock), tdp_mmu_freeze_child() (handle_removed_pt's exchange to
 * FROZEN) and tdp_mmu_clear_spte_bits() (dirty-log clear, write lock).
 */
#ifndef TDPSIM_TDP_MMU_H
#define TDPSIM_TDP_MMU_H

#include "kvm.h"
#include "mmu.h"

struct tdp_iter;

/* sptep_to_sp(): the header of the table holding @sptep. */
static inline struct kvm_mmu_page *sptep_to_sp(struct kvm *kvm, const void *sptep)
{
	return page_private(kvm, sptep);
}

/* spte_index(): @sptep's index in its (page-aligned) table. */
static inline unsigned int spte_index(const void *sptep)
{
	return (unsigned int)((uintptr_t)sptep / sizeof(u64)) & (SPTE_ENT_PER_PAGE - 1);
}

static inline bool is_mirror_sptep(struct kvm *kvm, const void *sptep)
{
	struct kvm_mmu_page *sp = sptep_to_sp(kvm, sptep);

	return sp && is_mirror_sp(sp);
}

/* ---- roots ---- */

/* kvm_tdp_mmu_alloc_root(): a new root, refcount 2 (vCPUs + the MMU). */
int kvm_tdp_mmu_alloc_root(struct kvm *kvm, bool mirror,
			   struct kvm_mmu_page **ret_root);
bool kvm_tdp_mmu_get_root(struct kvm_mmu_page *root);
void kvm_tdp_mmu_put_root(struct kvm *kvm, struct kvm_mmu_page *root);
void kvm_tdp_mmu_invalidate_roots(struct kvm *kvm, unsigned int root_types);
void kvm_tdp_mmu_zap_invalidated_roots(struct kvm *kvm, bool shared);
bool tdp_mmu_root_match(struct kvm_mmu_page *root, unsigned int types);
/* The valid root of @types (DIRECT or MIRROR), or NULL. Any lock mode. */
struct kvm_mmu_page *kvm_tdp_mmu_valid_root(struct kvm *kvm, unsigned int types);
/* kvm_gfn_range_filter_to_root_types(). */
unsigned int kvm_gfn_range_filter_to_root_types(struct kvm *kvm,
						unsigned int filter);

/* ---- the SPTE-change points and their bookkeeping ---- */

int tdp_mmu_set_spte_atomic(struct kvm *kvm, struct tdp_iter *iter, u64 new_spte);
u64 tdp_mmu_set_spte(struct kvm *kvm, int as_id, tdp_ptep_t sptep, u64 old_spte,
		     u64 new_spte, gfn_t gfn, int level);
void tdp_mmu_iter_set_spte(struct kvm *kvm, struct tdp_iter *iter, u64 new_spte);
void handle_changed_spte(struct kvm *kvm, bool is_mirror, gfn_t gfn,
			 u64 old_spte, u64 new_spte, int level, bool shared);

/* ---- page tables ---- */

void tdp_mmu_free_sp(struct kvm *kvm, struct kvm_mmu_page *sp);
struct kvm_mmu_page *tdp_mmu_alloc_sp_for_split(struct kvm *kvm);

/* ---- operations ---- */

/* kvm_tdp_mmu_map(): the fault path under the read lock. RET_PF_*. */
int kvm_tdp_mmu_map(struct kvm_vcpu *vcpu, struct kvm_page_fault *fault);

/* kvm_tdp_mmu_unmap_gfn_range(): zap @range in the roots its filter picks
 * (plus invalid roots). Write lock. */
bool kvm_tdp_mmu_unmap_gfn_range(struct kvm *kvm, struct kvm_gfn_range *range,
				 bool flush);
/* Zap [start, end) in the roots of @types only (write lock). */
bool kvm_tdp_mmu_zap_leafs_in_roots(struct kvm *kvm, unsigned int types,
				    gfn_t start, gfn_t end, bool can_yield,
				    bool flush);

/*
 * kvm_tdp_mmu_try_split_huge_pages() - split every huge leaf in
 * [start, end) of the roots of @types down to @target_level; @shared says
 * how the caller holds mmu_lock (the lock is dropped to allocate).
 * Returns 0 or -ENOMEM (what was split stays split; nothing half-done).
 */
int kvm_tdp_mmu_try_split_huge_pages(struct kvm *kvm, unsigned int types,
				     gfn_t start, gfn_t end, int target_level,
				     bool shared);

/*
 * kvm_tdp_mmu_split_cross_boundary() - before a zap of the private range
 * [start, end) in the mirror roots, split the huge leaves that straddle
 * start or end so the zap removes exactly the range
 * (kvm_tdp_mmu_gfn_range_split_cross_boundary_leafs of P-YZ3; the head and
 * tail split of P-SC5), as @policy says: HEADTAIL looks at the one or two
 * leaves holding the boundaries, WALK walks the whole range for crossing
 * leaves, NONE splits nothing. Write lock held; dropped and retaken to
 * allocate page tables. Counts split.visit. Returns 0, or -ENOMEM with the
 * lock held (what was split stays split, nothing is half-split).
 */
int kvm_tdp_mmu_split_cross_boundary(struct kvm *kvm, gfn_t start, gfn_t end,
				     enum split_boundary_policy policy);

/* Clear W on leaves of @slot at or above @min_level (read lock). */
bool kvm_tdp_mmu_wrprot_slot(struct kvm *kvm, const struct kvm_memory_slot *slot,
			     int min_level);
/* Write-protect (W and MMU-writable) the leaves >= @min_level mapping
 * @gfn (write lock). */
bool kvm_tdp_mmu_write_protect_gfn(struct kvm *kvm, gfn_t gfn, int min_level);
/* Clear W (wrprot) or D on the 4K leaves of the 64 pages from @gfn that
 * @mask names (write lock). */
void kvm_tdp_mmu_clear_dirty_pt_masked(struct kvm *kvm, gfn_t gfn,
				       uint64_t mask, bool wrprot);
/* Collapse page tables under @slot into huge leaves where allowed (read
 * lock). */
void kvm_tdp_mmu_recover_huge_pages(struct kvm *kvm, struct kvm_memory_slot *slot);

/* Teardown: invalidate, zap and put every root (kvm_mmu_uninit_tdp_mmu). */
void kvm_mmu_uninit_tdp_mmu(struct kvm *kvm);

#endif /* TDPSIM_TDP_MMU_H */
