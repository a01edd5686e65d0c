/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tdx.c - KVM's side of TDX, after arch/x86/kvm/vmx/tdx.c (kvm-x86 tree
 * with the huge-page and Dynamic-PAMT series of the reference, sections
 * 5 and 6.2): the TD's life in the fake TDX Module and the one
 * set_external_spte() hook that mirrors every change of the mirror root
 * into the S-EPT.
 *
 * Only SEAMCALLs: this file never reads the module's state. A status KVM
 * does not handle by design is a KVM (or module) bug: the kernel's
 * TDX_BUG_ON() marks the VM bugged (KVM_BUG_ON here); the module's
 * failure log keeps the call for the `seamcall` invariant.
 *
 * Host memory for the TD's own pages (TDR, TDCS, TDVPR, TDCX, S-EPT pages,
 * PAMT pairs, the PAGE.ADD source page) is a range of PFNs below where
 * guest_memfd memory starts, handed out by a bump allocator that needs no
 * system allocation: these pages are hardware memory, and the mirror
 * hooks run under mmu_lock where nothing may sleep.
 *
 * A split of a mirror huge page (DEMOTE) under mmu_lock needs a new S-EPT
 * page and, with Dynamic PAMT, PAMT pair pages: those come from a split
 * cache filled before mmu_lock (tdx.split-cache: the VM's, guarded by
 * tdp_mmu_external_cache_lock, or the accepting vCPU's). The cache holds
 * descriptors allocated through the VM's allocator, each with a PFN from
 * the counter above; running dry under the lock is -ENOMEM.
 *
 * KVM's Dynamic-PAMT refcounts are the kernel's preallocated refcount
 * array, sparse (1 GiB chunks, TDPSIM_ALLOC_KIND_PAMT), allocated through
 * the VM's allocator before mmu_lock only; under the lock a new chunk is
 * a spare taken like a cache object (tdx_pamt_topup(), tdx_pamt_entry()).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "guest_inhibit.h"
#include "kvm_tdx.h"
#include "mmu.h"
#include "mmu_cache.h"
#include "observe.h"
#include "scheduler.h"
#include "tdp_mmu.h"
#include "tdx_status.h"

/* The PFNs of the TD's own pages: [TDX_PAGE_PFN_START, TDX_PAGE_PFN_END),
 * below guest_memfd memory (HOST_MEM_BASE_PFN, 4 GiB). */
#define TDX_PAGE_PFN_START	0x1000ULL
#define TDX_PAGE_PFN_END	0x100000ULL
#define TDX_MAX_TDCS		8
#define TDX_MAX_TDCX		8
/* Dynamic PAMT: 2M regions per refcount chunk (1 GiB), and the spare
 * chunks kept for a region first used under mmu_lock. */
#define TDX_PAMT_CHUNK_SHIFT	30
#define TDX_PAMT_CHUNK_REGIONS	512
#define TDX_PAMT_SPARE_CHUNKS	4
/* Exits one ACCEPT may cause before tdx_accept() gives up. */
#define TDX_ACCEPT_MAX_EXITS	64
/* Splits one fill of a split cache covers: a conversion or punch splits
 * the head and the tail of its range. */
#define TDX_SPLIT_CACHE_SPLITS	2

/*
 * One page waiting in a split cache. The descriptor is what the top-up
 * allocates (through the VM's allocator, so `inject alloc-fail` can make a
 * top-up fail); the page itself is a PFN from the TD's page counter.
 */
struct tdx_cached_page {
	tdpsim_hpa_t hpa;
};

struct tdx_vcpu {
	tdpsim_hpa_t tdvpr;
	tdpsim_hpa_t tdcx[TDX_MAX_TDCX];
	unsigned int nr_tdcx;
	bool created;
	/* tdx.split-cache=per-vcpu: the pages a split for this vCPU's
	 * mismatched accept takes (struct tdx_cached_page). */
	struct kvm_mmu_memory_cache split_cache;
};

/*
 * KVM's Dynamic-PAMT bookkeeping of one 2M region (tdx_pamt_get/put): the
 * kernel's pamt_refcount entry, plus the pair KVM installed.
 */
struct tdx_pamt_entry {
	unsigned int refcount;		/* 4K users KVM gave the module */
	tdpsim_hpa_t pair[2];		/* the pair KVM installed */
};

/*
 * The refcount array of one 1 GiB of host physical memory. The kernel
 * allocates one array over 0 .. max_pfn when TDX is set up; host memory
 * here reaches 2^52 bytes, so the array is sparse: 1 GiB chunks, found
 * through a sorted directory, allocated through the VM's allocator
 * (TDPSIM_ALLOC_KIND_PAMT) before mmu_lock only. Chunks never go away
 * before teardown.
 */
struct tdx_pamt_chunk {
	uint64_t index;			/* hpa >> TDX_PAMT_CHUNK_SHIFT */
	struct tdx_pamt_entry e[TDX_PAMT_CHUNK_REGIONS];
};

struct kvm_tdx {
	struct kvm *kvm;
	struct tdpsim_tdx_module *module;	/* one host per VM */
	pthread_mutex_t lock;			/* set-up, teardown */
	enum kvm_tdx_state state;
	bool td_created;			/* MNG.CREATE done */
	bool hkid_assigned;			/* until KEY.FREEID */
	bool dpamt;				/* tdx.dpamt at init */
	uint16_t hkid;
	tdpsim_hpa_t tdr;
	tdpsim_hpa_t tdcs[TDX_MAX_TDCS];
	unsigned int nr_tdcs;
	tdpsim_hpa_t source;			/* PAGE.ADD source page */
	struct tdx_vcpu vcpus[TDPSIM_MAX_VCPUS];
	unsigned int tdcs_pages, tdvps_pages;

	pthread_mutex_t page_lock;		/* next_pfn, live_pages */
	tdpsim_pfn_t next_pfn;
	uint64_t live_pages;

	/* The kernel's pamt_lock; also guards the refcount chunks, their
	 * directory (sorted by index) and the spare chunks. Always
	 * pamt_nr + pamt_nr_spare <= pamt_cap, so a spare chunk can be
	 * put in the directory under mmu_lock without allocating. */
	pthread_mutex_t pamt_lock;
	struct tdx_pamt_chunk **pamt_dir;
	unsigned int pamt_nr, pamt_cap;
	struct tdx_pamt_chunk *pamt_spare[TDX_PAMT_SPARE_CHUNKS];
	unsigned int pamt_nr_spare;

	/* P-SC5's tdp_mmu_external_cache_lock: guards split_cache; taken
	 * before mmu_lock, held until it is dropped. */
	pthread_mutex_t external_cache_lock;
	struct kvm_mmu_memory_cache split_cache; /* the VM's split cache */

	_Atomic bool wait_for_sept_zap;		/* vCPUs stay out (kicked) */
	unsigned int test_flags;		/* TDX_TEST_* */
};

static inline struct kvm_tdx *to_kvm_tdx(struct kvm *kvm)
{
	return kvm->tdx;
}

/*
 * The split cache this thread's splits take from, selected by
 * tdx_get_split_cache() before mmu_lock: the per-CPU pointer of
 * kvm_get_running_vcpu(), since the hook that takes pages is not told who
 * runs it.
 */
static _Thread_local struct {
	struct kvm *kvm;			/* NULL: none selected */
	struct kvm_mmu_memory_cache *mc;
	bool locked;				/* holds external_cache_lock */
	unsigned int depth;			/* nested get/put */
} tdx_cur;

static inline uint64_t gfn_to_gpa(gfn_t gfn)
{
	return (uint64_t)gfn << PAGE_SHIFT;
}

static inline tdpsim_hpa_t pfn_to_hpa(kvm_pfn_t pfn)
{
	return (tdpsim_hpa_t)pfn << PAGE_SHIFT;
}

static inline bool tdx_busy(uint64_t err)
{
	uint64_t s = tdpsim_tdx_status_code(err);

	return s == TDX_OPERAND_BUSY || s == TDX_OPERAND_BUSY_HOST_PRIORITY;
}

/* TDX_BUG_ON(): a status KVM does not handle by design. */
static bool tdx_bug_on(struct kvm *kvm, uint64_t err)
{
	if (!tdpsim_tdx_status_is_error(err))
		return false;
	atomic_store(&kvm->vm_bugged, true);
	return true;
}

/* ---- the TD's own pages ---- */

static tdpsim_hpa_t tdx_alloc_page(struct kvm_tdx *tdx)
{
	tdpsim_hpa_t hpa = 0;

	pthread_mutex_lock(&tdx->page_lock);
	if (tdx->next_pfn < TDX_PAGE_PFN_END) {
		hpa = pfn_to_hpa(tdx->next_pfn++);
		tdx->live_pages++;
	}
	pthread_mutex_unlock(&tdx->page_lock);
	return hpa;
}

/* The page is back from the module (or was never given): freed. PFNs are
 * not reused, so a stale HPA can never alias a new page. */
static void tdx_free_page(struct kvm_tdx *tdx, tdpsim_hpa_t hpa)
{
	if (!hpa)
		return;
	pthread_mutex_lock(&tdx->page_lock);
	tdx->live_pages--;
	pthread_mutex_unlock(&tdx->page_lock);
}

/* ---- split caches (tdx.split-cache) ---- */

static int tdx_pamt_topup(struct kvm_tdx *tdx, uint64_t first, uint64_t last);

/* tdx_min_split_cache_sz(): pages one 2M -> 4K split may take: the new
 * S-EPT page; with Dynamic PAMT the 2M region's pair and a pair for the
 * S-EPT page's own region. */
static int tdx_min_split_cache_sz(struct kvm_tdx *tdx)
{
	return 1 + (tdx->dpamt ? 4 : 0);
}

/*
 * tdx_split_cache_topup() - fill @mc (kvm_mmu_topup_memory_cache()) and
 * give each new descriptor a page. Allocates: never under mmu_lock.
 * 0 or -ENOMEM (what was filled stays).
 */
static int tdx_split_cache_topup(struct kvm_tdx *tdx, struct kvm_mmu_memory_cache *mc)
{
	int min = TDX_SPLIT_CACHE_SPLITS * tdx_min_split_cache_sz(tdx);
	int r = kvm_mmu_topup_memory_cache(tdx->kvm, mc, min);

	for (int i = mc->nobjs - 1; i >= 0; i--) {
		struct tdx_cached_page *p = mc->objects[i];

		if (p->hpa)
			continue;
		p->hpa = tdx_alloc_page(tdx);
		if (p->hpa)
			continue;
		/* The counter ran out: drop the descriptor. */
		free_obj(&tdx->kvm->alloc, TDPSIM_ALLOC_KIND_CACHE, p, sizeof(*p));
		mc->objects[i] = mc->objects[--mc->nobjs];
	}
	return r ? r : (mc->nobjs < min ? -ENOMEM : 0);
}

/* Give back every page @mc holds and free the descriptors. */
static void tdx_split_cache_free(struct kvm_tdx *tdx, struct kvm_mmu_memory_cache *mc)
{
	for (int i = 0; i < mc->nobjs; i++)
		tdx_free_page(tdx, ((struct tdx_cached_page *)mc->objects[i])->hpa);
	kvm_mmu_free_memory_cache(tdx->kvm, mc);
}

/*
 * tdx_split_cache_take() - a page for a split under mmu_lock, from the
 * cache this thread selected (kvm_mmu_memory_cache_alloc(): reported as
 * from_cache to the no-sleep check). None selected, or dry: 0, an
 * allocation failure, never an allocation.
 */
static tdpsim_hpa_t tdx_split_cache_take(struct kvm_tdx *tdx)
{
	struct kvm_mmu_memory_cache *mc = tdx_cur.kvm == tdx->kvm ? tdx_cur.mc : NULL;
	struct tdx_cached_page *p;
	tdpsim_hpa_t hpa;

	if (!mc || !mc->nobjs) {
		counter_inc(&tdx->kvm->stats, TDPSIM_STAT_ALLOC_FAIL);
		return 0;
	}
	p = kvm_mmu_memory_cache_alloc(tdx->kvm, mc);
	hpa = p->hpa;
	free_obj(&tdx->kvm->alloc, mc->kind, p, sizeof(*p));
	return hpa;
}

/* Splits are possible only with huge private mappings: a runnable TD with
 * tdx.huge. Otherwise a get selects a cache but fills nothing. */
static bool tdx_may_split(struct kvm_tdx *tdx)
{
	return tdx->kvm->policy.tdx_huge &&
	       __atomic_load_n(&tdx->state, __ATOMIC_ACQUIRE) == TD_STATE_RUNNABLE;
}

/*
 * tdx_get_split_cache() - kvm_x86_ops.get_external_cache: before mmu_lock,
 * select and fill the cache this thread's splits take from. per-vcpu with
 * a vCPU (the accept path): that vCPU's own cache, no lock. Otherwise
 * (per-vm, or no vCPU: conversion, punch, poison, slot delete): the VM's
 * cache under tdp_mmu_external_cache_lock, held until the put. Nested
 * gets share the outer selection. 0 or -ENOMEM (nothing held).
 */
static int tdx_get_split_cache(struct kvm *kvm, struct kvm_vcpu *vcpu)
{
	struct kvm_tdx *tdx = to_kvm_tdx(kvm);
	struct kvm_mmu_memory_cache *mc;
	bool locked = false;
	int r = 0;

	if (tdx_cur.kvm == kvm) {
		tdx_cur.depth++;
		return 0;
	}
	if (TDPSIM_WARN_ON_ONCE(tdx_cur.kvm))
		return -EINVAL;
	if (vcpu && kvm->policy.split_cache == SPLIT_CACHE_PER_VCPU) {
		mc = &tdx->vcpus[vcpu->vcpu_idx].split_cache;
	} else {
		kvm_mutex_lock(kvm, &tdx->external_cache_lock);
		mc = &tdx->split_cache;
		locked = true;
	}
	if (tdx_may_split(tdx)) {
		r = tdx_split_cache_topup(tdx, mc);
		/* A split may need a refcount chunk for the demoted region. */
		if (!r)
			r = tdx_pamt_topup(tdx, 1, 0);
	}
	if (r) {
		if (locked)
			kvm_mutex_unlock(kvm, &tdx->external_cache_lock);
		return r;
	}
	tdx_cur.kvm = kvm;
	tdx_cur.mc = mc;
	tdx_cur.locked = locked;
	tdx_cur.depth = 1;
	return 0;
}

/* kvm_x86_ops.put_external_cache: after mmu_lock is dropped. */
static void tdx_put_split_cache(struct kvm *kvm)
{
	if (TDPSIM_WARN_ON_ONCE(tdx_cur.kvm != kvm) || --tdx_cur.depth)
		return;
	if (tdx_cur.locked)
		kvm_mutex_unlock(kvm, &to_kvm_tdx(kvm)->external_cache_lock);
	tdx_cur.kvm = NULL;
	tdx_cur.mc = NULL;
	tdx_cur.locked = false;
}

/* kvm_x86_ops.topup_external_cache: the split loop dropped mmu_lock to
 * allocate a table; refill the selected cache too. None selected: 0, the
 * split will find nothing and fail. */
static int tdx_topup_split_cache(struct kvm *kvm)
{
	struct kvm_tdx *tdx = to_kvm_tdx(kvm);
	int r;

	if (tdx_cur.kvm != kvm || !tdx_may_split(tdx))
		return 0;
	r = tdx_split_cache_topup(tdx, tdx_cur.mc);
	return r ? r : tdx_pamt_topup(tdx, 1, 0);
}

/*
 * kvm_x86_ops.topup_fault_cache, from mmu_topup_memory_caches() before
 * mmu_lock: keep the spare refcount chunks a fault may take when it maps
 * the first page of a new 1 GiB of host memory (the kernel tops up the
 * Dynamic-PAMT cache in the same place).
 */
static int tdx_topup_fault_cache(struct kvm_vcpu *vcpu)
{
	return tdx_pamt_topup(to_kvm_tdx(vcpu->kvm), 1, 0);
}

/* ---- Dynamic PAMT: tdx_pamt_get() / tdx_pamt_put() (DPAMT-v6 09) ---- */

/* The directory slot of chunk @index, or where it would go. pamt_lock. */
static unsigned int tdx_pamt_chunk_pos(struct kvm_tdx *tdx, uint64_t index)
{
	unsigned int lo = 0, hi = tdx->pamt_nr;

	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;

		if (tdx->pamt_dir[mid]->index < index)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Put @chunk in the directory at @pos; there is room. pamt_lock. */
static void tdx_pamt_chunk_insert(struct kvm_tdx *tdx, unsigned int pos,
				  struct tdx_pamt_chunk *chunk)
{
	memmove(&tdx->pamt_dir[pos + 1], &tdx->pamt_dir[pos],
		(tdx->pamt_nr - pos) * sizeof(tdx->pamt_dir[0]));
	tdx->pamt_dir[pos] = chunk;
	tdx->pamt_nr++;
}

/*
 * tdx_pamt_entry() - the refcount entry of 2M region @region, under
 * pamt_lock. A region whose chunk does not exist yet gets one from the
 * spares if @create (the take is reported as from a cache to the no-sleep
 * check: this may run under mmu_lock); none left: NULL, an allocation
 * failure. Never allocates.
 */
static struct tdx_pamt_entry *tdx_pamt_entry(struct kvm_tdx *tdx, uint64_t region,
					     bool create)
{
	uint64_t index = region / TDX_PAMT_CHUNK_REGIONS;
	unsigned int pos = tdx_pamt_chunk_pos(tdx, index);
	struct tdx_pamt_chunk *chunk;

	if (pos < tdx->pamt_nr && tdx->pamt_dir[pos]->index == index)
		return &tdx->pamt_dir[pos]->e[region % TDX_PAMT_CHUNK_REGIONS];
	if (!create)
		return NULL;
	if (!tdx->pamt_nr_spare || tdx->pamt_nr >= tdx->pamt_cap) {
		counter_inc(&tdx->kvm->stats, TDPSIM_STAT_ALLOC_FAIL);
		return NULL;
	}
	chunk = tdx->pamt_spare[--tdx->pamt_nr_spare];
	observe_alloc(tdx->kvm, TDPSIM_ALLOC_KIND_PAMT, sizeof(*chunk), true);
	chunk->index = index;
	tdx_pamt_chunk_insert(tdx, pos, chunk);
	return &chunk->e[region % TDX_PAMT_CHUNK_REGIONS];
}

/*
 * tdx_pamt_topup() - before mmu_lock: make the refcount chunks of the 1 GiB
 * chunks [@first, @last] exist (pass @first > @last for none), keep
 * TDX_PAMT_SPARE_CHUNKS spare chunks for regions first used under
 * mmu_lock, and room for all of them in the directory. Every allocation
 * goes through the VM's allocator (`inject alloc-fail`). 0 or -ENOMEM;
 * what was done stays (the state is consistent either way).
 */
static int tdx_pamt_topup(struct kvm_tdx *tdx, uint64_t first, uint64_t last)
{
	struct tdpsim_allocator *a = &tdx->kvm->alloc;
	const size_t csz = sizeof(struct tdx_pamt_chunk);
	uint64_t want = first <= last ? last - first + 1 : 0;

	if (!tdx->dpamt)
		return 0;
	TDPSIM_WARN_ON_ONCE(kvm_lock_mode(tdx->kvm) != TDPSIM_LOCK_NONE);
again:
	/* The directory: room for what exists, @want more and the spares. */
	for (;;) {
		struct tdx_pamt_chunk **dir, **old;
		unsigned int need, cap, old_cap;

		pthread_mutex_lock(&tdx->pamt_lock);
		need = tdx->pamt_nr + (unsigned int)want + TDX_PAMT_SPARE_CHUNKS;
		old_cap = tdx->pamt_cap;
		pthread_mutex_unlock(&tdx->pamt_lock);
		if (old_cap >= need)
			break;
		cap = old_cap * 2 > need ? old_cap * 2 : need;
		if (cap < 16)
			cap = 16;
		dir = alloc_obj(a, TDPSIM_ALLOC_KIND_PAMT, cap * sizeof(*dir));
		if (!dir) {
			counter_inc(&tdx->kvm->stats, TDPSIM_STAT_ALLOC_FAIL);
			return -ENOMEM;
		}
		pthread_mutex_lock(&tdx->pamt_lock);
		if (tdx->pamt_cap != old_cap) {
			/* Another thread grew it meanwhile: look again. */
			pthread_mutex_unlock(&tdx->pamt_lock);
			free_obj(a, TDPSIM_ALLOC_KIND_PAMT, dir, cap * sizeof(*dir));
			continue;
		}
		old = tdx->pamt_dir;
		if (tdx->pamt_nr)
			memcpy(dir, old, tdx->pamt_nr * sizeof(*dir));
		tdx->pamt_dir = dir;
		tdx->pamt_cap = cap;
		pthread_mutex_unlock(&tdx->pamt_lock);
		free_obj(a, TDPSIM_ALLOC_KIND_PAMT, old, old_cap * sizeof(*old));
	}

	/* The chunks asked for. */
	for (uint64_t index = first; want && index <= last; index++) {
		struct tdx_pamt_chunk *chunk;
		unsigned int pos;
		bool have;

		pthread_mutex_lock(&tdx->pamt_lock);
		pos = tdx_pamt_chunk_pos(tdx, index);
		have = pos < tdx->pamt_nr && tdx->pamt_dir[pos]->index == index;
		pthread_mutex_unlock(&tdx->pamt_lock);
		if (have)
			continue;
		chunk = alloc_obj(a, TDPSIM_ALLOC_KIND_PAMT, csz);
		if (!chunk) {
			counter_inc(&tdx->kvm->stats, TDPSIM_STAT_ALLOC_FAIL);
			return -ENOMEM;
		}
		chunk->index = index;
		pthread_mutex_lock(&tdx->pamt_lock);
		pos = tdx_pamt_chunk_pos(tdx, index);
		have = pos < tdx->pamt_nr && tdx->pamt_dir[pos]->index == index;
		if (have || tdx->pamt_nr + tdx->pamt_nr_spare >= tdx->pamt_cap) {
			/* Raced with another top-up: made meanwhile, or
			 * the directory is full again. */
			pthread_mutex_unlock(&tdx->pamt_lock);
			free_obj(a, TDPSIM_ALLOC_KIND_PAMT, chunk, csz);
			if (have)
				continue;
			goto again;
		}
		tdx_pamt_chunk_insert(tdx, pos, chunk);
		pthread_mutex_unlock(&tdx->pamt_lock);
	}

	/* The spares. */
	for (;;) {
		struct tdx_pamt_chunk *chunk;
		bool full;

		pthread_mutex_lock(&tdx->pamt_lock);
		full = tdx->pamt_nr_spare >= TDX_PAMT_SPARE_CHUNKS;
		pthread_mutex_unlock(&tdx->pamt_lock);
		if (full)
			return 0;
		chunk = alloc_obj(a, TDPSIM_ALLOC_KIND_PAMT, csz);
		if (!chunk) {
			counter_inc(&tdx->kvm->stats, TDPSIM_STAT_ALLOC_FAIL);
			return -ENOMEM;
		}
		pthread_mutex_lock(&tdx->pamt_lock);
		full = tdx->pamt_nr_spare >= TDX_PAMT_SPARE_CHUNKS;
		if (full || tdx->pamt_nr + tdx->pamt_nr_spare >= tdx->pamt_cap) {
			/* Raced with another top-up: full meanwhile, or the
			 * directory must grow first. */
			pthread_mutex_unlock(&tdx->pamt_lock);
			free_obj(a, TDPSIM_ALLOC_KIND_PAMT, chunk, csz);
			if (full)
				return 0;
			goto again;
		}
		tdx->pamt_spare[tdx->pamt_nr_spare++] = chunk;
		pthread_mutex_unlock(&tdx->pamt_lock);
	}
}

/* Teardown: free the chunks, the spares and the directory. */
static void tdx_pamt_free_all(struct kvm_tdx *tdx)
{
	struct tdpsim_allocator *a = &tdx->kvm->alloc;
	const size_t csz = sizeof(struct tdx_pamt_chunk);

	pthread_mutex_lock(&tdx->pamt_lock);
	for (unsigned int i = 0; i < tdx->pamt_nr; i++)
		free_obj(a, TDPSIM_ALLOC_KIND_PAMT, tdx->pamt_dir[i], csz);
	for (unsigned int i = 0; i < tdx->pamt_nr_spare; i++)
		free_obj(a, TDPSIM_ALLOC_KIND_PAMT, tdx->pamt_spare[i], csz);
	free_obj(a, TDPSIM_ALLOC_KIND_PAMT, tdx->pamt_dir,
		 tdx->pamt_cap * sizeof(*tdx->pamt_dir));
	tdx->pamt_dir = NULL;
	tdx->pamt_nr = tdx->pamt_cap = tdx->pamt_nr_spare = 0;
	pthread_mutex_unlock(&tdx->pamt_lock);
}

/*
 * tdx_pamt_get() - a 4K page of the region holding @hpa is about to be
 * given to the TD: on the region's 0 -> 1 transition install a PAMT pair
 * (PAMT.ADD), its pages from the split cache if @from_cache (a split under
 * mmu_lock), else from the counter. Allocates nothing (the refcount chunk
 * exists or is a spare). 0, -ENOMEM, -EIO.
 */
static int __tdx_pamt_get(struct kvm_tdx *tdx, tdpsim_hpa_t hpa, bool from_cache)
{
	uint64_t region = hpa >> 21;
	struct tdx_pamt_entry *e;
	tdpsim_hpa_t pair[2];
	uint64_t err;
	int r = 0;

	if (!tdx->dpamt)
		return 0;
	pthread_mutex_lock(&tdx->pamt_lock);
	e = tdx_pamt_entry(tdx, region, true);
	if (!e) {
		r = -ENOMEM;
		goto out;
	}
	if (e->refcount) {
		e->refcount++;
		goto out;
	}
	for (int i = 0; i < 2; i++)
		pair[i] = from_cache ? tdx_split_cache_take(tdx) : tdx_alloc_page(tdx);
	if (!pair[0] || !pair[1]) {
		r = -ENOMEM;
		goto err_free;
	}
	err = tdpsim_tdh_phymem_pamt_add(tdx->module, region << 21, pair);
	if (tdx_bug_on(tdx->kvm, err)) {
		r = -EIO;
		goto err_free;
	}
	e->refcount = 1;
	e->pair[0] = pair[0];
	e->pair[1] = pair[1];
	goto out;

err_free:
	tdx_free_page(tdx, pair[0]);
	tdx_free_page(tdx, pair[1]);
out:
	pthread_mutex_unlock(&tdx->pamt_lock);
	return r;
}

static int tdx_pamt_get(struct kvm_tdx *tdx, tdpsim_hpa_t hpa)
{
	return __tdx_pamt_get(tdx, hpa, false);
}

/* Drop the region's pair when its last 4K user went (PAMT.REMOVE). */
static void tdx_pamt_put(struct kvm_tdx *tdx, tdpsim_hpa_t hpa)
{
	struct tdx_pamt_entry *e;
	tdpsim_hpa_t pair[2];
	uint64_t err;

	if (!tdx->dpamt)
		return;
	pthread_mutex_lock(&tdx->pamt_lock);
	e = tdx_pamt_entry(tdx, hpa >> 21, false);
	if (KVM_BUG_ON(!e || !e->refcount, tdx->kvm))
		goto out;
	if (--e->refcount)
		goto out;
	err = tdpsim_tdh_phymem_pamt_remove(tdx->module, (hpa >> 21) << 21, pair);
	if (tdx_bug_on(tdx->kvm, err)) {
		e->refcount = 1;	/* leaked with the pair */
		goto out;
	}
	tdx_free_page(tdx, e->pair[0]);
	tdx_free_page(tdx, e->pair[1]);
	e->pair[0] = e->pair[1] = 0;
out:
	pthread_mutex_unlock(&tdx->pamt_lock);
}

/*
 * A 2M guest page is demoted: the module installs the pair KVM passes (from
 * the split cache) and the region has 512 users at once (V5 30). Makes sure
 * the region has a refcount entry (a spare chunk, no allocation) and
 * returns the pair to pass in @pair; -ENOMEM if the cache or the spares
 * are dry.
 */
static int tdx_pamt_demote_prepare(struct kvm_tdx *tdx, tdpsim_hpa_t hpa,
				   tdpsim_hpa_t pair[2])
{
	struct tdx_pamt_entry *e;

	pthread_mutex_lock(&tdx->pamt_lock);
	e = tdx_pamt_entry(tdx, hpa >> 21, true);
	pthread_mutex_unlock(&tdx->pamt_lock);
	if (!e)
		return -ENOMEM;
	pair[0] = tdx_split_cache_take(tdx);
	pair[1] = tdx_split_cache_take(tdx);
	if (!pair[0] || !pair[1]) {
		tdx_free_page(tdx, pair[0]);
		tdx_free_page(tdx, pair[1]);
		return -ENOMEM;
	}
	return 0;
}

static void tdx_pamt_demote_finish(struct kvm_tdx *tdx, tdpsim_hpa_t hpa,
				   const tdpsim_hpa_t pair[2], bool ok)
{
	struct tdx_pamt_entry *e;

	if (!ok) {
		tdx_free_page(tdx, pair[0]);
		tdx_free_page(tdx, pair[1]);
		return;
	}
	pthread_mutex_lock(&tdx->pamt_lock);
	e = tdx_pamt_entry(tdx, hpa >> 21, false);
	if (!KVM_BUG_ON(!e || e->refcount, tdx->kvm)) {
		e->refcount = SPTE_ENT_PER_PAGE;
		e->pair[0] = pair[0];
		e->pair[1] = pair[1];
	}
	pthread_mutex_unlock(&tdx->pamt_lock);
}

/* A page for the TD that needs PAMT backing under Dynamic PAMT. */
static tdpsim_hpa_t tdx_alloc_td_page(struct kvm_tdx *tdx)
{
	tdpsim_hpa_t hpa = tdx_alloc_page(tdx);

	if (hpa && tdx_pamt_get(tdx, hpa)) {
		tdx_free_page(tdx, hpa);
		return 0;
	}
	return hpa;
}

static void tdx_free_td_page(struct kvm_tdx *tdx, tdpsim_hpa_t hpa)
{
	if (!hpa)
		return;
	tdx_pamt_put(tdx, hpa);
	tdx_free_page(tdx, hpa);
}

/* __tdx_reclaim_page(): RECLAIM, no retry; a failure leaks the page. */
static bool tdx_reclaim_page(struct kvm_tdx *tdx, tdpsim_hpa_t hpa)
{
	uint64_t err = tdpsim_tdh_phymem_page_reclaim(tdx->module, hpa, NULL,
						      NULL, NULL);

	if (tdx_bug_on(tdx->kvm, err))
		return false;
	tdx_free_td_page(tdx, hpa);
	return true;
}

static int tdx_sept_set_private_spte(struct kvm *kvm, gfn_t gfn, u64 old_spte,
				     u64 new_spte, int level);
static void tdx_sept_free_private_spt(struct kvm *kvm, struct kvm_mmu_page *sp);

/* ---- VM creation and TD set-up ---- */

int tdx_vm_init(struct kvm *kvm)
{
	struct kvm_tdx *tdx = calloc(1, sizeof(*tdx));

	if (!tdx)
		return -ENOMEM;
	tdx->kvm = kvm;
	pthread_mutex_init(&tdx->lock, NULL);
	pthread_mutex_init(&tdx->page_lock, NULL);
	pthread_mutex_init(&tdx->pamt_lock, NULL);
	pthread_mutex_init(&tdx->external_cache_lock, NULL);
	kvm_mmu_memory_cache_init(&tdx->split_cache, TDPSIM_ALLOC_KIND_MISC, false,
				  sizeof(struct tdx_cached_page), 0);
	for (unsigned int i = 0; i < TDPSIM_MAX_VCPUS; i++)
		kvm_mmu_memory_cache_init(&tdx->vcpus[i].split_cache,
					  TDPSIM_ALLOC_KIND_MISC, false,
					  sizeof(struct tdx_cached_page), 0);
	tdx->next_pfn = TDX_PAGE_PFN_START;
	tdx->state = TD_STATE_UNINITIALIZED;
	kvm->tdx = tdx;
	kvm->x86_ops.set_external_spte = tdx_sept_set_private_spte;
	kvm->x86_ops.reclaim_external_sp = tdx_sept_free_private_spt;
	kvm->x86_ops.get_external_cache = tdx_get_split_cache;
	kvm->x86_ops.put_external_cache = tdx_put_split_cache;
	kvm->x86_ops.topup_external_cache = tdx_topup_split_cache;
	kvm->x86_ops.topup_fault_cache = tdx_topup_fault_cache;
	return 0;
}

/* tdx_vcpu_init(): VP.CREATE, VP.ADDCX, VP.INIT. */
static int tdx_vcpu_init(struct kvm_tdx *tdx, unsigned int idx)
{
	struct tdx_vcpu *v = &tdx->vcpus[idx];
	uint64_t err;

	v->tdvpr = tdx_alloc_td_page(tdx);
	if (!v->tdvpr)
		return -ENOMEM;
	err = tdpsim_tdh_vp_create(tdx->module, tdx->tdr, v->tdvpr);
	if (tdx_bug_on(tdx->kvm, err)) {
		tdx_free_td_page(tdx, v->tdvpr);
		v->tdvpr = 0;
		return -EIO;
	}
	v->created = true;
	for (unsigned int i = 0; i + 1 < tdx->tdvps_pages; i++) {
		tdpsim_hpa_t page = tdx_alloc_td_page(tdx);

		if (!page)
			return -ENOMEM;
		err = tdpsim_tdh_vp_addcx(tdx->module, v->tdvpr, page);
		if (tdx_bug_on(tdx->kvm, err)) {
			tdx_free_td_page(tdx, page);
			return -EIO;
		}
		v->tdcx[v->nr_tdcx++] = page;
	}
	err = tdpsim_tdh_vp_init(tdx->module, v->tdvpr, idx);
	return tdx_bug_on(tdx->kvm, err) ? -EIO : 0;
}

/* tdx_td_init(): KVM_TDX_INIT_VM, then every vCPU's KVM_TDX_INIT_VCPU. */
static int __tdx_td_init(struct kvm_tdx *tdx)
{
	struct kvm *kvm = tdx->kvm;
	struct tdpsim_tdx_module_config cfg;
	uint64_t err;
	int r;

	tdpsim_tdx_module_config_init(&cfg);
	cfg.dynamic_pamt = kvm->policy.tdx_dpamt;
	cfg.counters = &kvm->stats;
	cfg.tdcs_pages = 4;
	cfg.tdvps_pages = 4;
	/*
	 * The module keeps its private allocator: its S-EPT and PAMT
	 * bookkeeping models hardware memory, so `inject alloc-fail` (KVM's
	 * allocations) and the `no-sleep` invariant must not see it. The
	 * `leak` invariant counts it with tdpsim_tdx_module_alloc_live().
	 */
	r = tdpsim_tdx_module_create(&cfg, &tdx->module);
	if (r)
		return r;
	tdx->dpamt = cfg.dynamic_pamt;
	tdx->tdcs_pages = cfg.tdcs_pages;
	tdx->tdvps_pages = cfg.tdvps_pages;
	tdx->hkid = 2;	/* the module's global key is 1 */

	/* Dynamic PAMT: the refcount chunks of every page the TD's own pages
	 * come from (S-EPT pages are given to it under mmu_lock), and the
	 * spares for guest memory. */
	r = tdx_pamt_topup(tdx, pfn_to_hpa(TDX_PAGE_PFN_START) >> TDX_PAMT_CHUNK_SHIFT,
			   (pfn_to_hpa(TDX_PAGE_PFN_END) - 1) >> TDX_PAMT_CHUNK_SHIFT);
	if (r)
		return r;

	tdx->source = tdx_alloc_page(tdx);
	tdx->tdr = tdx_alloc_td_page(tdx);
	if (!tdx->source || !tdx->tdr)
		return -ENOMEM;
	err = tdpsim_tdh_mng_create(tdx->module, tdx->tdr, tdx->hkid);
	if (tdx_bug_on(kvm, err)) {
		tdx_free_td_page(tdx, tdx->tdr);
		tdx->tdr = 0;
		return -EIO;
	}
	tdx->td_created = true;
	tdx->hkid_assigned = true;
	for (unsigned int i = 0; i < cfg.nr_packages; i++) {
		err = tdpsim_tdh_mng_key_config(tdx->module, tdx->tdr);
		if (tdx_bug_on(kvm, err))
			return -EIO;
	}
	for (unsigned int i = 0; i < tdx->tdcs_pages && i < TDX_MAX_TDCS; i++) {
		tdpsim_hpa_t page = tdx_alloc_td_page(tdx);

		if (!page)
			return -ENOMEM;
		err = tdpsim_tdh_mng_addcx(tdx->module, tdx->tdr, page);
		if (tdx_bug_on(kvm, err)) {
			tdx_free_td_page(tdx, page);
			return -EIO;
		}
		tdx->tdcs[tdx->nr_tdcs++] = page;
	}
	err = tdpsim_tdh_mng_init(tdx->module, tdx->tdr, (unsigned int)kvm->arch.root_level,
				  NULL);
	if (tdx_bug_on(kvm, err))
		return -EIO;
	tdx->state = TD_STATE_INITIALIZED;
	for (unsigned int i = 0; i < kvm->config.nr_vcpus; i++) {
		r = tdx_vcpu_init(tdx, i);
		if (r)
			return r;
	}
	return 0;
}

int tdx_td_init(struct kvm *kvm)
{
	struct kvm_tdx *tdx = to_kvm_tdx(kvm);
	int r = 0;

	if (!tdx)
		return -EINVAL;
	pthread_mutex_lock(&tdx->lock);
	if (!tdx->module)
		r = __tdx_td_init(tdx);
	else if (tdx->state == TD_STATE_UNINITIALIZED)
		r = -EIO;	/* a previous init failed half-way */
	pthread_mutex_unlock(&tdx->lock);
	return r;
}

/* ---- vCPUs in and out of the guest ---- */

/* Kick every vCPU out of guest mode (KVM_REQ_OUTSIDE_GUEST_MODE). */
static void tdx_kick_vcpus(struct kvm_tdx *tdx)
{
	for (unsigned int i = 0; i < tdx->kvm->config.nr_vcpus; i++) {
		struct tdpsim_tdx_vcpu_info info;

		if (!tdx->vcpus[i].created ||
		    tdpsim_tdx_vcpu_info(tdx->module, tdx->vcpus[i].tdvpr, &info) ||
		    !info.in_guest)
			continue;
		(void)tdpsim_tdx_vp_exit(tdx->module, tdx->vcpus[i].tdvpr);
	}
}

/* ---- the mirror hooks ---- */

enum tdx_zap_op { TDX_BLOCK, TDX_REMOVE, TDX_DEMOTE };

struct tdx_zap_args {
	uint64_t gpa;
	int level;
	tdpsim_hpa_t new_sept;
	const tdpsim_hpa_t *pair;
};

static uint64_t tdx_zap_call(struct kvm_tdx *tdx, enum tdx_zap_op op,
			     const struct tdx_zap_args *a)
{
	uint64_t e1, e2;

	switch (op) {
	case TDX_BLOCK:
		return tdpsim_tdh_mem_range_block(tdx->module, tdx->tdr, a->gpa,
						  a->level, &e1, &e2);
	case TDX_REMOVE:
		return tdpsim_tdh_mem_page_remove(tdx->module, tdx->tdr, a->gpa,
						  a->level, &e1, &e2);
	case TDX_DEMOTE:
		return tdpsim_tdh_mem_page_demote(tdx->module, tdx->tdr, a->gpa,
						  a->level, a->new_sept, a->pair,
						  &e1, &e2);
	}
	return TDPSIM_TDX_SW_ERROR | EINVAL;
}

/*
 * tdh_do_no_vcpus(): a zap-side SEAMCALL under the write mmu_lock. BUSY
 * means a vCPU in the guest holds what it needs: keep vCPUs out, kick them
 * all, retry exactly once ("the retry is guaranteed to succeed, absent KVM
 * and/or TDX-Module bugs").
 */
static uint64_t tdh_do_no_vcpus(struct kvm_tdx *tdx, enum tdx_zap_op op,
				const struct tdx_zap_args *a)
{
	uint64_t err = tdx_zap_call(tdx, op, a);

	if (tdx_busy(err)) {
		atomic_store(&tdx->wait_for_sept_zap, true);
		tdx_kick_vcpus(tdx);
		err = tdx_zap_call(tdx, op, a);
		atomic_store(&tdx->wait_for_sept_zap, false);
	}
	return err;
}

/* tdx_track(): MEM.TRACK (kick and retry once on BUSY), then kick every
 * vCPU so none keeps a translation of the old epoch. */
static uint64_t tdx_track(struct kvm_tdx *tdx)
{
	uint64_t err;

	if (tdx->test_flags & TDX_TEST_SKIP_TRACK)
		return TDX_SUCCESS;
	err = tdpsim_tdh_mem_track(tdx->module, tdx->tdr);
	if (tdx_busy(err) ||
	    tdpsim_tdx_status_code(err) == TDPSIM_TDX_PREVIOUS_TLB_EPOCH_BUSY) {
		atomic_store(&tdx->wait_for_sept_zap, true);
		tdx_kick_vcpus(tdx);
		err = tdpsim_tdh_mem_track(tdx->module, tdx->tdr);
		atomic_store(&tdx->wait_for_sept_zap, false);
	}
	if (!tdpsim_tdx_status_is_error(err))
		tdx_kick_vcpus(tdx);
	return err;
}

/* The S-EPT page of the mirror table a non-leaf SPTE points to. */
static struct kvm_mmu_page *tdx_child_sp(struct kvm *kvm, u64 spte, int level)
{
	return sptep_to_sp(kvm, spte_to_child_pt(spte, level));
}

/* tdx_sept_link_private_spt(): SEPT.ADD of a new S-EPT page (fault path,
 * read lock). BUSY: -EBUSY, the fault retries. */
static int tdx_sept_link_private_spt(struct kvm *kvm, gfn_t gfn, int level,
				     struct kvm_mmu_page *sp)
{
	struct kvm_tdx *tdx = to_kvm_tdx(kvm);
	uint64_t err, e1, e2;
	tdpsim_hpa_t page;

	if (KVM_BUG_ON(!sp || sp->external_spt, kvm))
		return -EIO;
	page = tdx_alloc_td_page(tdx);
	if (!page)
		return -ENOMEM;
	err = tdpsim_tdh_mem_sept_add(tdx->module, tdx->tdr, gfn_to_gpa(gfn), level,
				      page, &e1, &e2);
	if (err != TDX_SUCCESS) {
		tdx_free_td_page(tdx, page);
		if (tdx_busy(err))
			return -EBUSY;
		tdx_bug_on(kvm, err);
		return -EIO;
	}
	sp->external_spt = page;
	return 0;
}

/* tdx_mem_page_aug() / tdx_mem_page_add(): map a leaf. */
static int tdx_sept_map_leaf_spte(struct kvm *kvm, gfn_t gfn, int level, kvm_pfn_t pfn)
{
	struct kvm_tdx *tdx = to_kvm_tdx(kvm);
	tdpsim_hpa_t hpa = pfn_to_hpa(pfn);
	uint64_t err, e1, e2;
	int r;

	if (tdx->state != TD_STATE_RUNNABLE) {
		/* tdx_gmem_post_populate(): PAGE.ADD is 4K only. */
		if (KVM_BUG_ON(level != PG_LEVEL_4K, kvm))
			return -EIO;
		r = tdx_pamt_get(tdx, hpa);
		if (r)
			return r;
		err = tdpsim_tdh_mem_page_add(tdx->module, tdx->tdr, gfn_to_gpa(gfn), pfn,
					      tdx->source, &e1, &e2);
	} else {
		if (KVM_BUG_ON(level > PG_LEVEL_4K && !kvm->policy.tdx_huge, kvm))
			return -EIO;
		/* A 2M page needs no pair: its region must have none. */
		if (level == PG_LEVEL_4K) {
			r = tdx_pamt_get(tdx, hpa);
			if (r)
				return r;
		}
		err = tdpsim_tdh_mem_page_aug(tdx->module, tdx->tdr, gfn_to_gpa(gfn),
					      level, pfn, &e1, &e2);
		if (err == TDX_SUCCESS && (tdx->test_flags & TDX_TEST_MAP_TWICE))
			(void)tdpsim_tdh_mem_page_aug(tdx->module, tdx->tdr,
						      gfn_to_gpa(gfn), level, pfn,
						      &e1, &e2);
	}
	if (err == TDX_SUCCESS)
		return 0;
	if (level == PG_LEVEL_4K)
		tdx_pamt_put(tdx, hpa);
	if (tdx_busy(err))
		return -EBUSY;
	tdx_bug_on(kvm, err);
	return -EIO;
}

/*
 * tdx_sept_remove_leaf_spte(): BLOCK, TRACK, REMOVE, then write back each
 * 4K page with the TD's key (PAGE.WBINVD) and, for a 4K page under Dynamic
 * PAMT, drop its PAMT reference. Write lock, HKID assigned.
 */
static int tdx_sept_remove_leaf_spte(struct kvm *kvm, gfn_t gfn, int level,
				     kvm_pfn_t pfn)
{
	struct kvm_tdx *tdx = to_kvm_tdx(kvm);
	struct tdx_zap_args a = { .gpa = gfn_to_gpa(gfn), .level = level };
	uint64_t err;

	lockdep_assert_held_write(kvm);
	if (KVM_BUG_ON(!tdx->hkid_assigned, kvm)) {
		/* Nothing can be mapped once the HKID is gone: reclaim the
		 * page so it is at least not lost. */
		for (uint64_t i = 0; i < KVM_PAGES_PER_HPAGE(level); i++)
			(void)tdpsim_tdh_phymem_page_reclaim(tdx->module,
							     pfn_to_hpa(pfn + i),
							     NULL, NULL, NULL);
		return -EIO;
	}
	err = tdh_do_no_vcpus(tdx, TDX_BLOCK, &a);
	if (tdx_bug_on(kvm, err))
		return -EIO;
	err = tdx_track(tdx);
	if (tdx_bug_on(kvm, err))
		return -EIO;
	err = tdh_do_no_vcpus(tdx, TDX_REMOVE, &a);
	if (tdx_bug_on(kvm, err))
		return -EIO;
	for (uint64_t i = 0; i < KVM_PAGES_PER_HPAGE(level); i++) {
		err = tdpsim_tdh_phymem_page_wbinvd_hkid(tdx->module, tdx->hkid,
							 pfn_to_hpa(pfn + i));
		if (tdx_bug_on(kvm, err))
			return -EIO;
	}
	if (level == PG_LEVEL_4K)
		tdx_pamt_put(tdx, pfn_to_hpa(pfn));
	return 0;
}

/*
 * tdx_sept_split_private_spte(): a huge leaf becomes a table of 512
 * smaller leaves (write lock): BLOCK, TRACK, DEMOTE with the new table's
 * S-EPT page (and, under Dynamic PAMT, the 2M region's new PAMT pair).
 * A failure after BLOCK is fatal, as in the series (no UNBLOCK).
 */
static int tdx_sept_split_private_spte(struct kvm *kvm, gfn_t gfn, int level,
				       u64 old_spte, u64 new_spte)
{
	struct kvm_tdx *tdx = to_kvm_tdx(kvm);
	struct kvm_mmu_page *sp = tdx_child_sp(kvm, new_spte, level);
	struct tdx_zap_args a = { .gpa = gfn_to_gpa(gfn), .level = level };
	tdpsim_hpa_t pair[2] = { 0, 0 };
	tdpsim_hpa_t huge_hpa = pfn_to_hpa(spte_to_pfn(old_spte));
	uint64_t err;
	int r;

	lockdep_assert_held_write(kvm);
	if (KVM_BUG_ON(!kvm->policy.tdx_huge || level != PG_LEVEL_2M ||
		       !sp || sp->external_spt, kvm))
		return -EIO;
	/* Every page comes from the split cache filled before mmu_lock. */
	a.new_sept = tdx_split_cache_take(tdx);
	if (!a.new_sept)
		return -ENOMEM;
	r = __tdx_pamt_get(tdx, a.new_sept, true);
	if (r) {
		tdx_free_page(tdx, a.new_sept);
		return r;
	}
	if (tdx->dpamt) {
		r = tdx_pamt_demote_prepare(tdx, huge_hpa, pair);
		if (r) {
			tdx_free_td_page(tdx, a.new_sept);
			return r;
		}
		a.pair = pair;
	}
	/* BLOCK of an entry a failed attempt left blocked answers the
	 * GPA_RANGE_ALREADY_BLOCKED warning: go on. */
	err = tdh_do_no_vcpus(tdx, TDX_BLOCK, &a);
	if (!tdx_busy(err) && !tdx_bug_on(kvm, err)) {
		err = tdx_track(tdx);
		if (!tdx_busy(err) && !tdx_bug_on(kvm, err))
			err = tdh_do_no_vcpus(tdx, TDX_DEMOTE, &a);
	}
	if (tdx->dpamt)
		tdx_pamt_demote_finish(tdx, huge_hpa, pair, err == TDX_SUCCESS);
	if (err != TDX_SUCCESS) {
		tdx_free_td_page(tdx, a.new_sept);
		/* Still busy after the kick: returned, the caller retries
		 * (the entry may stay BLOCKED until then). */
		if (tdx_busy(err))
			return -EBUSY;
		tdx_bug_on(kvm, err);
		return -EIO;
	}
	sp->external_spt = a.new_sept;
	return 0;
}

/*
 * tdx_sept_set_private_spte() - kvm_x86_ops.set_external_spte: dispatch on
 * (old, new) as in seeds/001: non-present -> non-leaf links an S-EPT page,
 * non-present -> leaf maps, present leaf -> non-present removes, present
 * leaf -> non-leaf splits. A leaf whose PFN stays the same (access bits)
 * has nothing to tell the module.
 */
static int tdx_sept_set_private_spte(struct kvm *kvm, gfn_t gfn, u64 old_spte,
				     u64 new_spte, int level)
{
	bool was_present = is_shadow_present_pte(old_spte);
	bool is_present = is_shadow_present_pte(new_spte);

	if (KVM_BUG_ON(!to_kvm_tdx(kvm) || !to_kvm_tdx(kvm)->module, kvm))
		return -EIO;
	if (!was_present && is_present) {
		if (!is_last_spte(new_spte, level))
			return tdx_sept_link_private_spt(kvm, gfn, level,
							 tdx_child_sp(kvm, new_spte, level));
		return tdx_sept_map_leaf_spte(kvm, gfn, level, spte_to_pfn(new_spte));
	}
	if (was_present && is_last_spte(old_spte, level)) {
		if (!is_present)
			return tdx_sept_remove_leaf_spte(kvm, gfn, level,
							 spte_to_pfn(old_spte));
		if (!is_last_spte(new_spte, level))
			return tdx_sept_split_private_spte(kvm, gfn, level,
							   old_spte, new_spte);
	}
	return 0;
}

/*
 * tdx_sept_free_private_spt() - kvm_x86_ops.reclaim_external_sp: the
 * mirror table @sp is gone. Its S-EPT page is reclaimed only in TEARDOWN
 * (after tdx_mmu_release_hkid()); while the HKID is assigned KVM never
 * removes S-EPT pages, so this is a bug and the page is leaked.
 */
static void tdx_sept_free_private_spt(struct kvm *kvm, struct kvm_mmu_page *sp)
{
	struct kvm_tdx *tdx = to_kvm_tdx(kvm);

	if (!sp->external_spt)
		return;
	if (!(tdx->test_flags & TDX_TEST_RECLAIM_WITH_HKID) &&
	    KVM_BUG_ON(tdx->hkid_assigned, kvm))
		return;
	if (tdx_reclaim_page(tdx, sp->external_spt))
		sp->external_spt = 0;
}

/* ---- populate, finalize ---- */

int tdx_gmem_post_populate(struct kvm *kvm, gfn_t gfn, uint64_t npages)
{
	struct kvm_tdx *tdx = to_kvm_tdx(kvm);
	int r = tdx_td_init(kvm);

	if (r)
		return r;
	if (tdx->state != TD_STATE_INITIALIZED)
		return -EINVAL;
	for (uint64_t i = 0; i < npages; i++) {
		struct kvm_page_fault fault;
		unsigned int retries;

		/* The page's region may need a refcount chunk (Dynamic PAMT):
		 * keep the spares full before mmu_lock. */
		r = tdx_pamt_topup(tdx, 1, 0);
		if (r)
			return r;
		/* kvm_tdp_map_page(): a private prefetch fault at 4K. */
		memset(&fault, 0, sizeof(fault));
		fault.gfn = gfn + i;
		fault.prefetch = true;
		fault.write = true;
		fault.is_private = true;
		r = kvm_mmu_page_fault(kvm->vcpus[0], &fault, &retries);
		if (r == RET_PF_FIXED || r == RET_PF_SPURIOUS)
			continue;
		if (r == -EFAULT || r == RET_PF_EMULATE)
			return -EINVAL;
		return r < 0 ? r : -EIO;
	}
	return 0;
}

int tdx_td_finalize(struct kvm *kvm)
{
	struct kvm_tdx *tdx = to_kvm_tdx(kvm);
	uint64_t err;
	int r = tdx_td_init(kvm);

	if (r)
		return r;
	pthread_mutex_lock(&tdx->lock);
	if (tdx->state != TD_STATE_INITIALIZED) {
		r = -EINVAL;
		goto out;
	}
	err = tdpsim_tdh_mr_finalize(tdx->module, tdx->tdr);
	if (tdx_busy(err)) {
		r = -EBUSY;
		goto out;
	}
	if (tdx_bug_on(kvm, err)) {
		r = -EIO;
		goto out;
	}
	/* The smp_wmb() paired with tdx_sept_map_leaf_spte()'s smp_rmb(). */
	__atomic_store_n(&tdx->state, TD_STATE_RUNNABLE, __ATOMIC_RELEASE);
out:
	pthread_mutex_unlock(&tdx->lock);
	return r;
}

int tdx_gmem_private_max_mapping_level(struct kvm *kvm)
{
	struct kvm_tdx *tdx = to_kvm_tdx(kvm);

	if (tdx && kvm->policy.tdx_huge &&
	    __atomic_load_n(&tdx->state, __ATOMIC_ACQUIRE) == TD_STATE_RUNNABLE)
		return PG_LEVEL_2M;
	return PG_LEVEL_4K;
}

bool tdx_pre_fault_allowed(struct kvm *kvm)
{
	struct kvm_tdx *tdx = to_kvm_tdx(kvm);

	return tdx && __atomic_load_n(&tdx->state, __ATOMIC_ACQUIRE) == TD_STATE_RUNNABLE;
}

/* ---- the guest's ACCEPT and tdx_handle_ept_violation() ---- */

/*
 * The accept-level EPT violation: the guest accepts @gfn at
 * @accept_level. A mirror leaf above that level is split down to it and
 * the huge pages above it are guest-inhibited for good
 * (hugepage_set_guest_inhibit, under the lock policy lpage.inhibit-lock
 * says); then the fault maps the GFN (at most at the accept level).
 */
static int tdx_handle_ept_violation(struct kvm_vcpu *vcpu, gfn_t gfn,
				    int accept_level, bool *ret_exit)
{
	struct kvm *kvm = vcpu->kvm;
	struct kvm_page_fault fault;
	unsigned int retries;
	int r;

	*ret_exit = false;
	/* The fault's region may need a refcount chunk (Dynamic PAMT). */
	r = tdx_pamt_topup(to_kvm_tdx(kvm), 1, 0);
	if (r)
		return r;
	if (kvm->policy.tdx_huge && accept_level < PG_LEVEL_2M) {
		/* The split's pages, before mmu_lock: this vCPU's cache
		 * (per-vcpu) or the VM's (per-vm). */
		r = kvm_mmu_get_external_cache(kvm, vcpu);
		if (r)
			return r;
		r = kvm_mmu_guest_inhibit(kvm, gfn, accept_level);
		kvm_mmu_put_external_cache(kvm);
		if (r == -ENOENT) {
			*ret_exit = true;
			return 0;
		}
		if (r)
			return r;
	}
	/* Private GPA EPT violations are write faults. */
	memset(&fault, 0, sizeof(fault));
	fault.gfn = gfn;
	fault.write = true;
	fault.is_private = true;
	r = kvm_mmu_page_fault(vcpu, &fault, &retries);
	if (r == RET_PF_FIXED || r == RET_PF_SPURIOUS)
		return 0;
	if (r == -EFAULT || r == RET_PF_EMULATE) {
		*ret_exit = true;
		return 0;
	}
	return r < 0 ? r : -EIO;
}

int tdx_accept(struct kvm_vcpu *vcpu, gfn_t gfn, int level,
	       enum tdx_accept_result *ret_result)
{
	struct kvm *kvm = vcpu->kvm;
	struct kvm_tdx *tdx = to_kvm_tdx(kvm);
	struct tdx_vcpu *v;
	int r = tdx_td_init(kvm);

	if (r)
		return r;
	if (__atomic_load_n(&tdx->state, __ATOMIC_ACQUIRE) != TD_STATE_RUNNABLE ||
	    (level != PG_LEVEL_4K && level != PG_LEVEL_2M) ||
	    (gfn & (KVM_PAGES_PER_HPAGE(level) - 1)))
		return -EINVAL;
	v = &tdx->vcpus[vcpu->vcpu_idx];
	for (unsigned int exits = 0; exits < TDX_ACCEPT_MAX_EXITS; exits++) {
		struct tdpsim_tdx_accept_result res;
		uint64_t err, s;
		bool exit_mf;

		/* vCPUs do not enter while a zap waits for them to stay out. */
		while (atomic_load(&tdx->wait_for_sept_zap))
			kvm_sched_yield(kvm);
		err = tdpsim_tdh_vp_enter(tdx->module, v->tdvpr);
		if (tdx_busy(err))
			continue;	/* fastpath: "exit handled", re-enter */
		if (tdx_bug_on(kvm, err))
			return -EIO;
		if (tdpsim_tdg_mem_page_accept(tdx->module, v->tdvpr, gfn_to_gpa(gfn),
					       level, &res))
			continue;	/* kicked out before the TDCALL */
		if (!res.exited) {
			(void)tdpsim_tdx_vp_exit(tdx->module, v->tdvpr);
			s = tdpsim_tdx_status_code(res.status);
			if (s == TDX_SUCCESS)
				*ret_result = TDX_ACCEPT_OK;
			else if (s == TDX_PAGE_ALREADY_ACCEPTED)
				*ret_result = TDX_ACCEPT_ALREADY_ACCEPTED;
			else if (s == TDX_PAGE_SIZE_MISMATCH)
				*ret_result = TDX_ACCEPT_SIZE_MISMATCH;
			else if (tdx_busy(res.status))
				continue;	/* the guest retries */
			else
				return -EIO;
			return 0;
		}
		/* The EEQ's requested level (bits 34:32) is the accept level. */
		r = tdx_handle_ept_violation(vcpu, gfn,
					     (int)((res.eeq >> 32) & 7) + 1, &exit_mf);
		/* RET_PF_RETRY: back into the guest, which accepts again. */
		if (r == -EBUSY || r == -ENOMEM)
			continue;
		if (r)
			return r;
		if (exit_mf) {
			*ret_result = TDX_ACCEPT_EXIT_MEMORY_FAULT;
			return 0;
		}
	}
	return -EAGAIN;
}

int tdx_inject_seamcall(struct kvm *kvm, uint32_t leaf, uint64_t status,
			uint64_t count)
{
	int r = tdx_td_init(kvm);

	if (r)
		return r;
	return tdpsim_tdx_inject(to_kvm_tdx(kvm)->module, leaf, status, count);
}

/* ---- teardown ---- */

void tdx_mmu_release_hkid(struct kvm *kvm)
{
	struct kvm_tdx *tdx = to_kvm_tdx(kvm);
	uint64_t err;

	if (!tdx || !tdx->td_created || !tdx->hkid_assigned)
		return;
	tdx_kick_vcpus(tdx);
	for (unsigned int i = 0; i < kvm->config.nr_vcpus; i++) {
		if (!tdx->vcpus[i].created)
			continue;
		err = tdpsim_tdh_vp_flush(tdx->module, tdx->vcpus[i].tdvpr);
		/* Never initialized or entered: nothing to flush. */
		if (tdpsim_tdx_status_code(err) != TDPSIM_TDX_VCPU_NOT_ASSOCIATED)
			tdx_bug_on(kvm, err);
	}
	err = tdpsim_tdh_mng_vpflushdone(tdx->module, tdx->tdr);
	if (tdx_bug_on(kvm, err))
		return;		/* HKID leaked */
	/* One CACHE.WB per package, until nothing waits. */
	for (;;) {
		err = tdpsim_tdh_phymem_cache_wb(tdx->module, false);
		if (tdpsim_tdx_status_code(err) == TDX_NO_HKID_READY_TO_WBCACHE)
			break;
		if (tdx_bug_on(kvm, err))
			return;
		if (tdpsim_tdx_status_code(tdpsim_tdh_mng_key_freeid(tdx->module,
								     tdx->tdr)) ==
		    TDX_SUCCESS) {
			tdx->hkid_assigned = false;
			return;
		}
	}
	err = tdpsim_tdh_mng_key_freeid(tdx->module, tdx->tdr);
	if (!tdx_bug_on(kvm, err))
		tdx->hkid_assigned = false;
}

static void __tdx_vm_destroy(struct kvm_tdx *tdx);

void tdx_vm_destroy(struct kvm *kvm)
{
	struct kvm_tdx *tdx = to_kvm_tdx(kvm);

	if (!tdx)
		return;
	/* The split caches' pages were never given to the TD. */
	tdx_split_cache_free(tdx, &tdx->split_cache);
	for (unsigned int i = 0; i < TDPSIM_MAX_VCPUS; i++)
		tdx_split_cache_free(tdx, &tdx->vcpus[i].split_cache);
	if (!tdx->module)
		return;
	__tdx_vm_destroy(tdx);
	/* Every page is back: the refcount chunks go (the `leak` check
	 * counts them as TDPSIM_ALLOC_KIND_PAMT). */
	tdx_pamt_free_all(tdx);
}

static void __tdx_vm_destroy(struct kvm_tdx *tdx)
{
	struct kvm *kvm = tdx->kvm;
	uint64_t err;

	if (tdx->td_created && !tdx->hkid_assigned) {
		/* tdx_vcpu_free() */
		for (unsigned int i = 0; i < kvm->config.nr_vcpus; i++) {
			struct tdx_vcpu *v = &tdx->vcpus[i];

			for (unsigned int j = 0; j < v->nr_tdcx; j++)
				tdx_reclaim_page(tdx, v->tdcx[j]);
			v->nr_tdcx = 0;
			if (v->tdvpr && tdx_reclaim_page(tdx, v->tdvpr))
				v->tdvpr = 0;
			v->created = false;
		}
		/* tdx_reclaim_td_control_pages(): TDCS, then the TDR last,
		 * written back with the global key. */
		for (unsigned int i = 0; i < tdx->nr_tdcs; i++)
			tdx_reclaim_page(tdx, tdx->tdcs[i]);
		tdx->nr_tdcs = 0;
		err = tdpsim_tdh_phymem_page_reclaim(tdx->module, tdx->tdr, NULL,
						     NULL, NULL);
		if (!tdx_bug_on(kvm, err)) {
			err = tdpsim_tdh_phymem_page_wbinvd_tdr(tdx->module, tdx->tdr);
			tdx_bug_on(kvm, err);
			tdx_free_td_page(tdx, tdx->tdr);
			tdx->tdr = 0;
			tdx->td_created = false;
		}
	}
	if (tdx->source) {
		tdx_free_page(tdx, tdx->source);
		tdx->source = 0;
	}
}

void tdx_vm_free(struct kvm *kvm)
{
	struct kvm_tdx *tdx = to_kvm_tdx(kvm);

	if (!tdx)
		return;
	tdx_split_cache_free(tdx, &tdx->split_cache);
	for (unsigned int i = 0; i < TDPSIM_MAX_VCPUS; i++)
		tdx_split_cache_free(tdx, &tdx->vcpus[i].split_cache);
	tdpsim_tdx_module_destroy(tdx->module);
	tdx_pamt_free_all(tdx);
	pthread_mutex_destroy(&tdx->lock);
	pthread_mutex_destroy(&tdx->page_lock);
	pthread_mutex_destroy(&tdx->pamt_lock);
	pthread_mutex_destroy(&tdx->external_cache_lock);
	free(tdx);
	kvm->tdx = NULL;
}

/* ---- for the checker, `expect sept` and tests ---- */

struct tdpsim_tdx_module *kvm_tdx_module(struct kvm *kvm)
{
	return kvm->tdx ? kvm->tdx->module : NULL;
}

tdpsim_hpa_t kvm_tdx_tdr(struct kvm *kvm)
{
	return kvm->tdx ? kvm->tdx->tdr : 0;
}

uint64_t kvm_tdx_live_pages(struct kvm *kvm)
{
	uint64_t n;

	if (!kvm->tdx)
		return 0;
	pthread_mutex_lock(&kvm->tdx->page_lock);
	n = kvm->tdx->live_pages;
	pthread_mutex_unlock(&kvm->tdx->page_lock);
	return n;
}

unsigned int kvm_tdx_pamt_refcount(struct kvm *kvm, tdpsim_hpa_t hpa)
{
	struct kvm_tdx *tdx = kvm->tdx;
	struct tdx_pamt_entry *e;
	unsigned int n;

	if (!tdx)
		return 0;
	pthread_mutex_lock(&tdx->pamt_lock);
	e = tdx_pamt_entry(tdx, hpa >> 21, false);
	n = e ? e->refcount : 0;
	pthread_mutex_unlock(&tdx->pamt_lock);
	return n;
}

int kvm_tdx_split_cache_nobjs(struct kvm *kvm, int vcpu_idx)
{
	struct kvm_tdx *tdx = kvm->tdx;

	if (!tdx || vcpu_idx >= TDPSIM_MAX_VCPUS)
		return 0;
	return vcpu_idx < 0 ? tdx->split_cache.nobjs :
			      tdx->vcpus[vcpu_idx].split_cache.nobjs;
}

void kvm_tdx_set_test_flags(struct kvm *kvm, unsigned int flags)
{
	if (kvm->tdx)
		kvm->tdx->test_flags = flags;
}
