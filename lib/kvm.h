/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kvm.h - struct kvm (the object behind struct tdpsim_vm), struct kvm_vcpu,
 * memslots, shadow-page headers and memory caches: the kernel's structures,
 * cut down to the fields the TDP MMU model reads.
 */
#ifndef TDPSIM_KVM_H
#define TDPSIM_KVM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <tdpsim/inspect.h>
#include <tdpsim/observer.h>
#include <tdpsim/vm.h>

#include "alloc.h"
#include "counters.h"
#include "internal.h"
#include "log.h"
#include "memmap.h"
#include "mmu_lock.h"
#include "policy.h"
#include "rcu.h"
#include "spte.h"

struct kvm;
struct sched;
struct kvm_gmem;
struct kvm_gmem_table;
struct kvm_tdx;

/* KVM_BUG_ON(): a model bug that marks the VM as bugged. */
#define KVM_BUG_ON(cond, kvm)						\
	({								\
		bool __b = TDPSIM_WARN_ON_ONCE(cond);			\
		if (__b)						\
			atomic_store(&(kvm)->vm_bugged, true);		\
		__b;							\
	})

/* ---- shadow pages (mmu_internal.h) ---- */

/* The role bits the TDP MMU uses (union kvm_mmu_page_role). */
struct kvm_mmu_page_role {
	uint8_t level;			/* level of the table's entries */
	bool is_mirror;			/* in the mirror root (TDX private) */
	_Atomic bool invalid;		/* root invalidated: never reused */
};

/* struct kvm_mmu_page: the header of one TDP MMU page table. */
struct kvm_mmu_page {
	tdp_ptep_t spt;			/* the 512-entry page table */
	struct kvm_mmu_page_role role;	/* level, mirror, invalid */
	gfn_t gfn;			/* first GFN this table covers */
	tdp_ptep_t ptep;		/* parent SPTE linking it, NULL for roots */
	_Atomic int tdp_mmu_root_count;	/* roots: references held */
	bool tdp_mmu_scheduled_root_to_zap; /* roots: invalidated, to zap */
	struct kvm_mmu_page *next_root;	/* roots: kvm->arch.tdp_mmu_roots link */
	struct kvm *kvm;		/* owner, for the RCU callback */
	struct rcu_head rcu_head;	/* freed by call_rcu */
	u64 external_spt;		/* mirror tables on TDX: the HPA of the
					 * S-EPT page behind it, 0 if none
					 * (lib/tdx.c) */
};

static inline bool is_mirror_sp(const struct kvm_mmu_page *sp)
{
	return sp->role.is_mirror;
}

/* enum kvm_tdp_mmu_root_types (tdp_mmu.h). */
enum kvm_tdp_mmu_root_types {
	KVM_INVALID_ROOTS = 1 << 0,
	KVM_DIRECT_ROOTS = 1 << 1,
	KVM_MIRROR_ROOTS = 1 << 2,
	KVM_VALID_ROOTS = KVM_DIRECT_ROOTS | KVM_MIRROR_ROOTS,
	KVM_ALL_ROOTS = KVM_VALID_ROOTS | KVM_INVALID_ROOTS,
};

/* KVM_FILTER_* of struct kvm_gfn_range: which kind of mappings to act on. */
enum kvm_gfn_range_filter {
	KVM_FILTER_SHARED = 1 << 0,
	KVM_FILTER_PRIVATE = 1 << 1,
};

/* ---- memory caches (kvm_types.h) ---- */

#define KVM_ARCH_NR_OBJS_PER_MEMORY_CACHE 40

/* struct kvm_mmu_memory_cache: objects allocated before mmu_lock is taken. */
struct kvm_mmu_memory_cache {
	int nobjs;			/* objects held */
	int capacity;			/* fill up to this many */
	bool is_page;			/* 4 KiB pages rather than objects */
	size_t size;			/* object size (pages: 4096) */
	enum tdpsim_alloc_kind kind;	/* what an object becomes when used */
	u64 init_value;			/* pages: every entry starts as this */
	void *objects[KVM_ARCH_NR_OBJS_PER_MEMORY_CACHE]; /* the objects */
};

/* ---- memslots (kvm_host.h) and lpage_info ---- */

#define KVM_NR_PAGE_SIZES_HUGE	(KVM_MAX_HUGEPAGE_LEVEL - 1)	/* 2M, 1G */
#define KVM_LPAGE_MIXED_FLAG		TDPSIM_LPAGE_MIXED_FLAG
#define KVM_LPAGE_GUEST_INHIBIT_FLAG	TDPSIM_LPAGE_GUEST_INHIBIT_FLAG

/*
 * One level's lpage_info (slot->arch.lpage_info[level - 2]): a
 * disallow_lpage int per huge page, kept as lazily allocated chunks so a
 * sparse slot costs what it uses. A missing chunk reads as all zeroes.
 */
#define LPAGE_CHUNK_SHIFT	10
#define LPAGE_CHUNK_ENTRIES	(1u << LPAGE_CHUNK_SHIFT)
struct kvm_lpage_info_level {
	uint64_t nr;			/* huge pages the slot touches */
	uint64_t nr_chunks;		/* entries of @chunks */
	_Atomic(_Atomic uint32_t *) *chunks; /* chunk i: entries i << SHIFT.. */
};

#define KVM_MEM_LOG_DIRTY_PAGES	(1u << 0)
#define KVM_MEM_READONLY	(1u << 1)
#define KVM_MEMSLOT_INVALID	(1u << 16)
#define KVM_MEMSLOT_MANUAL_PROTECT (1u << 17)	/* manual-protect, init-set */

struct kvm_memory_slot {
	uint32_t id;			/* user-chosen id */
	gfn_t base_gfn;			/* first GFN */
	uint64_t npages;		/* 4 KiB pages */
	_Atomic uint32_t flags;		/* KVM_MEM_*, KVM_MEMSLOT_* */
	int host_page_level;		/* host mapping size of shared memory */
	int gmem_id;			/* bound guest_memfd, -1 if none */
	uint64_t gmem_offset;		/* byte offset into it */
	struct kvm_gmem *gmem;		/* slot->gmem.file: the bound file,
					 * NULL if none (immutable while the
					 * slot lives) */
	uint64_t gmem_pgoff;		/* slot->gmem.pgoff: offset >> 12 */
	kvm_pfn_t host_pfn;		/* host PFN backing base_gfn */
	struct kvm_lpage_info_level lpage_info[KVM_NR_PAGE_SIZES_HUGE];
					/* [level - 2]: 2M, 1G */
};

static inline uint32_t slot_flags(const struct kvm_memory_slot *slot)
{
	return atomic_load_explicit(&slot->flags, memory_order_acquire);
}

static inline bool kvm_slot_dirty_track_enabled(const struct kvm_memory_slot *slot)
{
	return slot_flags(slot) & KVM_MEM_LOG_DIRTY_PAGES;
}

static inline bool kvm_slot_can_be_private(const struct kvm_memory_slot *slot)
{
	return slot->gmem_id >= 0;
}

/* The memslot set, published RCU-style: replaced, never changed. */
struct kvm_memslots {
	unsigned int nr;		/* slots, sorted by base_gfn */
	struct kvm_memory_slot *slots[]; /* the slots */
};

/* Private attribute ranges, published RCU-style (copy on write). */
struct kvm_mem_attr_range {
	gfn_t start;			/* first private GFN */
	gfn_t end;			/* one past the last */
};

struct kvm_mem_attrs {
	uint64_t nr;			/* ranges, sorted, disjoint, not adjacent */
	size_t alloc_size;		/* bytes allocated for this object */
	struct kvm_mem_attr_range ranges[]; /* the private ranges */
};

/* ---- the external (mirror) page-table hooks ---- */

/*
 * What the TDX code plugs into the TDP MMU (the design in
 * seeds/001_56736a87da76bd24.txt): one callback for every change of a
 * mirror SPTE, made from the two places SPTEs change (the atomic and the
 * exclusive write, through __handle_changed_spte()), and one to reclaim a
 * non-leaf external page table after handle_removed_pt() pruned it.
 */
struct kvm_vcpu;

struct kvm_x86_ops {
	/* A mirror SPTE at (@gfn, @level) goes from @old_spte to @new_spte.
	 * Nonzero fails the change (-EBUSY: the atomic path retries). */
	int (*set_external_spte)(struct kvm *kvm, gfn_t gfn, u64 old_spte,
				 u64 new_spte, int level);
	/* The mirror page table @sp was unlinked; its children are gone. */
	void (*reclaim_external_sp)(struct kvm *kvm, struct kvm_mmu_page *sp);
	/*
	 * The cache splits of mirror huge pages take their pages from
	 * (tdx.split-cache): select @vcpu's or the VM's and fill it, before
	 * mmu_lock. 0 or -ENOMEM; after 0, put_external_cache() once
	 * mmu_lock is dropped.
	 */
	int (*get_external_cache)(struct kvm *kvm, struct kvm_vcpu *vcpu);
	void (*put_external_cache)(struct kvm *kvm);
	/* Refill the selected cache while mmu_lock is dropped. 0, -ENOMEM. */
	int (*topup_external_cache)(struct kvm *kvm);
	/*
	 * The fault path's share of mmu_topup_memory_caches(): what the vendor
	 * code may need under mmu_lock while mapping (TDX: Dynamic-PAMT
	 * refcount chunks for regions first used by this fault). 0, -ENOMEM.
	 */
	int (*topup_fault_cache)(struct kvm_vcpu *vcpu);
};

/* ---- vCPUs ---- */

struct kvm_vcpu {
	struct kvm *kvm;		/* the VM */
	unsigned int vcpu_idx;		/* index in kvm->vcpus */
	struct kvm_mmu_page *root;	/* mmu->root.hpa: the direct root */
	struct kvm_mmu_page *mirror_root; /* mmu->mirror_root_hpa, TDX only */
	unsigned int last_used_slot;	/* memslot lookup hint (an index) */
	struct kvm_mmu_memory_cache mmu_shadow_page_cache; /* page tables */
	struct kvm_mmu_memory_cache mmu_page_header_cache; /* kvm_mmu_page */
};

struct tdpsim_vcpu {
	struct kvm_vcpu vcpu;		/* the kernel's view */
};

/* ---- the VM ---- */

struct kvm_arch {
	struct kvm_mmu_page *tdp_mmu_roots; /* the root list (newest first);
					 * changed under the write lock and
					 * tdp_mmu_pages_lock */
	pthread_mutex_t tdp_mmu_pages_lock; /* root-list insert and delete */
	int root_level;			/* 4 or 5 */
	_Atomic uint64_t rcu_pending;	/* tables waiting for a grace period */
	_Atomic uint64_t tdp_mmu_pages;	/* linked non-root tables */
	bool mirrored_tdp;		/* private GFNs live in a mirror root:
					 * TDX, or the test-only mirror mode
					 * (kvm_create_vm(), KVM_VM_TEST_MIRROR) */
};

struct kvm {
	struct tdpsim_vm_config config;	/* as created */
	struct tdpsim_allocator alloc;	/* every allocation of this VM */
	struct tdpsim_counters stats;	/* the trace language's counters */
	struct tdpsim_policy policy;	/* design alternatives */
	struct tdpsim_log log;		/* optional log callback */
	struct tdpsim_observer obs;	/* transition callbacks; NULL members
					 * are not called */
	void *obs_opaque;		/* their argument */
	struct sched *sched;		/* deterministic scheduler running the
					 * model's threads (scheduler.h), or NULL */
	struct kvm_x86_ops x86_ops;	/* external page-table hooks, or NULL */
	struct mmu_lock mmu_lock;	/* the MMU's rwlock */
	pthread_mutex_t slots_lock;	/* memslot and attribute updates */
	_Atomic(struct kvm_memslots *) memslots; /* RCU-published */
	_Atomic(struct kvm_mem_attrs *) mem_attrs; /* RCU-published, NULL =
					 * nothing private */
	kvm_pfn_t next_host_pfn;	/* simulated host memory: next free PFN
					 * (slots_lock) */
	_Atomic unsigned long mmu_invalidate_seq; /* bumped by each end */
	_Atomic long mmu_invalidate_in_progress; /* begins minus ends */
	_Atomic gfn_t mmu_invalidate_range_start; /* union of the ranges */
	_Atomic gfn_t mmu_invalidate_range_end;	/* added while in progress */
	struct kvm_arch arch;		/* x86 MMU state */
	struct kvm_memmap memmap;	/* page table -> kvm_mmu_page */
	struct kvm_vcpu *vcpus[TDPSIM_MAX_VCPUS]; /* nr_vcpus of them */
	struct kvm_gmem_table *gmems;	/* guest_memfd files by ID and the
					 * host memory behind them
					 * (lib/vm_gmem.c); NULL until the
					 * first one */
	struct kvm_tdx *tdx;		/* TDX VMs: KVM's TDX side (lib/tdx.c) */
	_Atomic bool vm_bugged;		/* a KVM_BUG_ON fired */
	bool dead;			/* torn down: only a husk remains */
};

struct tdpsim_vm {
	struct kvm kvm;			/* the kernel's view */
};

static inline struct kvm *to_kvm(struct tdpsim_vm *vm)
{
	return &vm->kvm;
}

static inline struct tdpsim_vm *kvm_to_vm(struct kvm *kvm)
{
	return container_of(kvm, struct tdpsim_vm, kvm);
}

static inline bool kvm_has_private_mem(const struct kvm *kvm)
{
	return kvm->config.type != TDPSIM_VM_DEFAULT;
}

static inline bool kvm_has_mirrored_tdp(const struct kvm *kvm)
{
	return kvm->config.type == TDPSIM_VM_TDX || kvm->arch.mirrored_tdp;
}

/*
 * kvm_gfn_direct_bits() - the TDX shared bit as a GFN bit (GPA bit 47 with
 * a 4-level, 51 with a 5-level S-EPT: TDX_SHARED_BIT_PWL_4/5, set by
 * tdx_vm_init() in kvm->arch.gfn_direct_bits); 0 for other VMs. Shared
 * GFNs are mapped in the direct root at gfn | this bit.
 */
static inline gfn_t kvm_gfn_direct_bits(const struct kvm *kvm)
{
	if (kvm->config.type != TDPSIM_VM_TDX)
		return 0;
	return (gfn_t)1 << ((kvm->arch.root_level == 5 ? 51 : 47) - PAGE_SHIFT);
}

static inline enum tdpsim_lock_mode kvm_lock_mode(const struct kvm *kvm)
{
	return mmu_lock_mode(&kvm->mmu_lock);
}

static inline void lockdep_assert_held_read(const struct kvm *kvm)
{
	TDPSIM_WARN_ON_ONCE(kvm_lock_mode(kvm) != TDPSIM_LOCK_READ);
}

static inline void lockdep_assert_held_write(const struct kvm *kvm)
{
	TDPSIM_WARN_ON_ONCE(kvm_lock_mode(kvm) != TDPSIM_LOCK_WRITE);
}

static inline void lockdep_assert_held(const struct kvm *kvm)
{
	TDPSIM_WARN_ON_ONCE(kvm_lock_mode(kvm) == TDPSIM_LOCK_NONE);
}

#endif /* TDPSIM_KVM_H */
