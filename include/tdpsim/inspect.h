/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tdpsim/inspect.h - read-only views of a VM's state for the invariant
 * checker, the trace language's `expect` records and tests.
 *
 * These calls report state as it is; they do not recompute it. The checker
 * decodes SPTEs and recomputes lpage_info itself from what they report.
 * Call them at quiescent points, or from an observer callback (observer.h)
 * where noted.
 */
#ifndef TDPSIM_INSPECT_H
#define TDPSIM_INSPECT_H

#include <tdpsim/types.h>
#include <tdpsim/vm.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The roots of a VM: the direct root (shared GFNs) and, on TDX, the mirror
 * root (private GFNs), as KVM_DIRECT_ROOTS / KVM_MIRROR_ROOTS. */
enum tdpsim_root_role {
	TDPSIM_ROOT_DIRECT,
	TDPSIM_ROOT_MIRROR,
};

/** One SPTE as the walk finds it. */
struct tdpsim_spte_info {
	enum tdpsim_root_role role;	/* the root it belongs to */
	tdpsim_gfn_t gfn;		/* first GFN the entry covers */
	int level;			/* level of the entry (1 = 4K) */
	uint64_t spte;			/* its raw value */
	const void *table;		/* identity of the page table holding it */
	unsigned int index;		/* its index in that table */
	const void *child;		/* for an entry that links a table: the
					 * table it links, else NULL */
	int child_level;		/* the child table's own recorded level */
	tdpsim_gfn_t child_gfn;		/* the child table's own recorded gfn */
};

/** Return non-zero to stop a walk; that value is returned by the walk. */
typedef int (*tdpsim_spte_fn)(void *opaque, const struct tdpsim_spte_info *e);

/**
 * tdpsim_vm_walk_sptes() - visit, in pre-order, every entry of @role's
 * valid root that is not the empty value (BIT(63)) and covers a GFN in
 * [start, end).
 * @return 0 after a full walk, the callback's non-zero value, or -ENOENT if
 *         the VM has no such root
 */
TDPSIM_API int tdpsim_vm_walk_sptes(struct tdpsim_vm *vm,
				    enum tdpsim_root_role role,
				    tdpsim_gfn_t start, tdpsim_gfn_t end,
				    tdpsim_spte_fn fn, void *opaque);

/**
 * tdpsim_vm_lookup_leaf() - the present leaf mapping @gfn in @role's root.
 * @return 0 and @ret_info; -ENOENT if no present leaf maps it
 */
TDPSIM_API int tdpsim_vm_lookup_leaf(struct tdpsim_vm *vm,
				     enum tdpsim_root_role role,
				     tdpsim_gfn_t gfn,
				     struct tdpsim_spte_info *ret_info);

/** The root level (4 or 5) and the identity of @role's root table. */
TDPSIM_API int tdpsim_vm_root(struct tdpsim_vm *vm, enum tdpsim_root_role role,
			      int *ret_level, const void **ret_table);

/** The VM's type and configuration as created. */
TDPSIM_API const struct tdpsim_vm_config *tdpsim_vm_get_config(struct tdpsim_vm *vm);

/**
 * tdpsim_vm_max_mapping_level() - the largest level a fault of @kind on
 * @gfn may map now: lpage_info, host page size, guest_memfd folio and
 * policies (the trace language's `expect max-level`).
 * @return the level (>= 1), or -ENOENT if no memslot holds @gfn
 */
TDPSIM_API int tdpsim_vm_max_mapping_level(struct tdpsim_vm *vm, tdpsim_gfn_t gfn,
					   enum tdpsim_fault_kind kind);

/** A memslot as it is. */
struct tdpsim_memslot_info {
	uint32_t id;
	tdpsim_gfn_t base_gfn;
	uint64_t npages;
	int host_page_level;
	bool readonly;
	bool dirty_logging;		/* KVM_MEM_LOG_DIRTY_PAGES */
	bool manual_protect;		/* manual-protect, initially set */
	int gmem_id;			/* -1 if none */
	uint64_t gmem_offset;
	tdpsim_pfn_t host_pfn;		/* host PFN of base_gfn's shared memory */
};

/**
 * tdpsim_vm_memslot_at() - the @idx-th memslot in GFN order.
 * @return 0, or -ENOENT past the last
 */
TDPSIM_API int tdpsim_vm_memslot_at(struct tdpsim_vm *vm, unsigned int idx,
				    struct tdpsim_memslot_info *ret_info);

/* Bits of an lpage_info disallow_lpage value, as the kernel's. */
#define TDPSIM_LPAGE_MIXED_FLAG		(1u << 31)	/* KVM_LPAGE_MIXED_FLAG */
#define TDPSIM_LPAGE_GUEST_INHIBIT_FLAG	(1u << 30)	/* KVM_LPAGE_GUEST_INHIBIT_FLAG */

/**
 * tdpsim_vm_lpage_info() - read slot @slot_id's lpage_info disallow_lpage
 * value for the @level (2M or 1G) huge page holding @gfn
 * (lpage_info_slot()). Safe from an observer callback.
 * @return 0; -ENOENT (no such slot, @gfn outside it); -EINVAL (level)
 */
TDPSIM_API int tdpsim_vm_lpage_info(struct tdpsim_vm *vm, uint32_t slot_id,
				    int level, tdpsim_gfn_t gfn,
				    uint32_t *ret_disallow);

/**
 * tdpsim_vm_attr_range() - the maximal run of GFNs with one attribute
 * starting at @gfn: [gfn, *ret_end) is all private or all shared.
 * Iterate a whole guest by restarting at *ret_end.
 */
TDPSIM_API int tdpsim_vm_attr_range(struct tdpsim_vm *vm, tdpsim_gfn_t gfn,
				    tdpsim_gfn_t *ret_end, bool *ret_private);

/** Kinds of allocation, counted live per VM (invariant `leak`). */
enum tdpsim_alloc_kind {
	TDPSIM_ALLOC_KIND_VM,		/* the VM and vCPU objects */
	TDPSIM_ALLOC_KIND_PT,		/* page-table pages (4 KiB, aligned) */
	TDPSIM_ALLOC_KIND_SP,		/* shadow-page headers (kvm_mmu_page) */
	TDPSIM_ALLOC_KIND_MEMSLOT,	/* memslots */
	TDPSIM_ALLOC_KIND_LPAGE,	/* lpage_info arrays */
	TDPSIM_ALLOC_KIND_ATTR,		/* memory-attribute ranges */
	TDPSIM_ALLOC_KIND_CACHE,	/* objects held in memory caches */
	TDPSIM_ALLOC_KIND_GMEM,		/* guest_memfd files and folios */
	TDPSIM_ALLOC_KIND_SEPT,		/* the fake TDX module's S-EPT pages */
	TDPSIM_ALLOC_KIND_PAMT,		/* Dynamic-PAMT pages */
	TDPSIM_ALLOC_KIND_MISC,		/* everything else */
	TDPSIM_ALLOC_KIND_NR
};

/** Name of an allocation kind ("pt", "sp", ...). */
TDPSIM_API const char *tdpsim_alloc_kind_name(enum tdpsim_alloc_kind kind);

/** Live objects of @kind allocated by @vm's allocator and not yet freed. */
TDPSIM_API uint64_t tdpsim_vm_alloc_live(struct tdpsim_vm *vm,
					 enum tdpsim_alloc_kind kind);

/** Page tables unlinked and waiting for an RCU grace period to be freed. */
TDPSIM_API uint64_t tdpsim_vm_rcu_pending(struct tdpsim_vm *vm);

#ifdef __cplusplus
}
#endif

#endif /* TDPSIM_INSPECT_H */
