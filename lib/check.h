/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * check.h - the invariant checker's private interface (layer 6).
 *
 * The checker is an oracle: it reads the model only through the public
 * inspection API (tdpsim/inspect.h) and the observer callbacks
 * (tdpsim/observer.h), decodes SPTEs with its own copy of the kernel's bit
 * layout (below; never lib/spte.h), and recomputes what must hold.
 *
 * Files:
 *   check.c          core: create/destroy, reporting, per-thread state,
 *                    observer glue, check_all/check_touched/check_leak
 *   check_map.c      a small hash map and range lists for the checker
 *   check_spte.c     spte-format, pt-linkage, pfn-stable; the root walks
 *   check_attr.c     attr-root, attr-uniform; attribute-run snapshots
 *   check_lpage.c    lpage (quiescent and at install), lpage-info
 *   check_dirty.c    dirty-log
 *   check_locking.c  lock, no-sleep, rcu, tlb, progress
 *   check_tdx.c      the place for the TDX invariants
 *   check_gmem.c     gmem-backing, boundary (guest_memfd, precise zaps)
 *
 * Locking: observer callbacks run on many threads at once. Each thread has
 * a struct ck_thread of its own (found through a _Thread_local cache); the
 * fields other threads or the quiescent checks read are atomics or are
 * guarded by the thread's own mutex. Checker-wide state shared by the
 * callbacks is guarded by pt_lock (page-table lifecycle) and report_lock
 * (the user's callback). Everything else belongs to the quiescent checks,
 * which run while no model thread does.
 */
#ifndef TDPSIM_CHECK_INTERNAL_H
#define TDPSIM_CHECK_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <tdpsim/check.h>
#include <tdpsim/inspect.h>
#include <tdpsim/observer.h>
#include <tdpsim/stats.h>
#include <tdpsim/vm.h>

/* ---- the SPTE bit layout (kernel-tdp-mmu.md 1.4-1.6), EPT flavour ---- */

#define CK_BIT(n)		(1ULL << (n))
#define CK_SPTE_R		CK_BIT(0)
#define CK_SPTE_W		CK_BIT(1)
#define CK_SPTE_X		CK_BIT(2)
#define CK_SPTE_RWX		(CK_SPTE_R | CK_SPTE_W | CK_SPTE_X)
#define CK_SPTE_HUGE		CK_BIT(7)	/* PT_PAGE_SIZE_MASK */
#define CK_SPTE_ACCESSED	CK_BIT(8)
#define CK_SPTE_DIRTY		CK_BIT(9)
#define CK_SPTE_PRESENT		CK_BIT(11)	/* SPTE_MMU_PRESENT_MASK */
#define CK_SPTE_PFN_MASK	0x000ffffffffff000ULL	/* bits 12..51 */
#define CK_SPTE_AD_SHIFT	52
#define CK_SPTE_AD_MASK		(3ULL << CK_SPTE_AD_SHIFT)
#define CK_SPTE_SAVED_R		CK_BIT(54)	/* access-track saved bits */
#define CK_SPTE_SAVED_X		CK_BIT(56)
#define CK_SPTE_HOST_WRITABLE	CK_BIT(57)
#define CK_SPTE_MMU_WRITABLE	CK_BIT(58)
#define CK_SPTE_SUPPRESS_VE	CK_BIT(63)
#define CK_SPTE_EMPTY		CK_BIT(63)	/* SHADOW_NONPRESENT_VALUE */
#define CK_SPTE_FROZEN		0x80000000000005a0ULL
#define CK_SPTE_MMIO_MASK	(CK_SPTE_RWX | CK_SPTE_SUPPRESS_VE)
#define CK_SPTE_MMIO_VALUE	0x6ULL		/* W|X: EPT misconfig */

/* Bits a lockless writer (fast page fault, aging, the CPU) may change. */
#define CK_SPTE_LOCKLESS_BITS	(CK_SPTE_RWX | CK_SPTE_ACCESSED | CK_SPTE_DIRTY | \
				 CK_SPTE_SAVED_R | CK_SPTE_SAVED_X)

#define CK_MAX_HUGE_LEVEL	TDPSIM_LEVEL_1G

static inline bool ck_present(uint64_t spte)
{
	return spte & CK_SPTE_PRESENT;
}

/* A present SPTE that maps memory at @level (is_last_spte + present). */
static inline bool ck_leaf(uint64_t spte, int level)
{
	return ck_present(spte) && (level == TDPSIM_LEVEL_4K || (spte & CK_SPTE_HUGE));
}

/* A present SPTE that links a page table one level down. */
static inline bool ck_nonleaf(uint64_t spte, int level)
{
	return ck_present(spte) && !ck_leaf(spte, level);
}

static inline bool ck_huge_leaf(uint64_t spte, int level)
{
	return level > TDPSIM_LEVEL_4K && ck_leaf(spte, level);
}

static inline tdpsim_pfn_t ck_pfn(uint64_t spte)
{
	return (spte & CK_SPTE_PFN_MASK) >> 12;
}

/* The page table a non-leaf SPTE links: the model's tables are identified
 * by their address, and a link holds that address (the kernel's __va()). */
static inline const void *ck_child(uint64_t spte)
{
	return (const void *)(uintptr_t)(spte & CK_SPTE_PFN_MASK);
}

static inline bool ck_mmio(uint64_t spte)
{
	return !ck_present(spte) && spte != CK_SPTE_FROZEN &&
	       (spte & CK_SPTE_MMIO_MASK) == CK_SPTE_MMIO_VALUE;
}

static inline const char *ck_role_name(enum tdpsim_root_role role)
{
	return role == TDPSIM_ROOT_MIRROR ? "mirror" : "direct";
}

static inline uint64_t ck_pages(int level)
{
	return tdpsim_pages_per_level(level);
}

/* ---- invariant IDs ---- */

enum ck_inv {
	CK_SPTE_FORMAT,
	CK_PFN_STABLE,
	CK_PT_LINKAGE,
	CK_ATTR_ROOT,
	CK_ATTR_UNIFORM,
	CK_GMEM_BACKING,
	CK_LPAGE,
	CK_LPAGE_INFO,
	CK_BOUNDARY,
	CK_ACCEPT_LEVEL,
	CK_DIRTY_LOG,
	CK_TLB,
	CK_MIRROR_SYNC,
	CK_SEAMCALL,
	CK_PAMT,
	CK_HKID,
	CK_LOCK,
	CK_NO_SLEEP,
	CK_RCU,
	CK_LEAK,
	CK_PROGRESS,
	CK_INV_NR
};

const char *ck_inv_name(enum ck_inv inv);

/* ---- hash map and range lists (check_map.c) ---- */

/* An open-addressing map from a two-word key to two words and a pointer. */
struct ck_map_ent {
	uint64_t k1, k2;
	uint64_t v1, v2;
	void *p;
	bool used;
};

struct ck_map {
	struct ck_map_ent *e;
	size_t cap;			/* a power of two, or 0 */
	size_t nr;
};

struct ck_map_ent *ck_map_find(const struct ck_map *m, uint64_t k1, uint64_t k2);
/* Find or add (zeroed) @k1/@k2. Returns -ENOMEM, else 1 if it was there. */
int ck_map_insert(struct ck_map *m, uint64_t k1, uint64_t k2,
		  struct ck_map_ent **ret_ent);
/* Remove @k1/@k2; true if it was there. Does not free ->p. */
bool ck_map_remove(struct ck_map *m, uint64_t k1, uint64_t k2);
void ck_map_clear(struct ck_map *m);
void ck_map_free(struct ck_map *m);

#define ck_map_for_each(m, ent)						\
	for ((ent) = (m)->e; (m)->e && (ent) < (m)->e + (m)->cap; (ent)++) \
		if ((ent)->used)

/* GFN ranges [start, end) per root. */
struct ck_range {
	tdpsim_gfn_t start, end;
	enum tdpsim_root_role role;
};

#define CK_RANGES_MAX	4096		/* past this, give up and check all */

struct ck_ranges {
	struct ck_range *r;
	size_t nr, cap;
	bool overflow;			/* dropped ranges: the list is not whole */
};

/* Add a range, merging with the last one when they touch. */
void ck_ranges_add(struct ck_ranges *rs, enum tdpsim_root_role role,
		   tdpsim_gfn_t start, tdpsim_gfn_t end);
/* Append every range of @from to @to. */
void ck_ranges_append(struct ck_ranges *to, const struct ck_ranges *from);
/* Sort by root and start and merge overlapping or adjacent ranges. */
void ck_ranges_normalize(struct ck_ranges *rs);
/* Remove [start, end) of every root from @rs (a TLB flush covering it). */
void ck_ranges_subtract(struct ck_ranges *rs, tdpsim_gfn_t start, tdpsim_gfn_t end);
void ck_ranges_reset(struct ck_ranges *rs);
void ck_ranges_free(struct ck_ranges *rs);

/* lpage_info entries written (slot, level, index). */
struct ck_lpent {
	uint32_t slot_id;
	int level;
	uint64_t idx;
};

struct ck_lpents {
	struct ck_lpent *e;
	size_t nr, cap;
	bool overflow;
};

void ck_lpents_add(struct ck_lpents *l, uint32_t slot_id, int level, uint64_t idx);
void ck_lpents_free(struct ck_lpents *l);

/* ---- per-thread state ---- */

struct ck_thread {
	pthread_t self;
	unsigned int nr;		/* registration order, for messages */
	/* Read by other threads (rcu): */
	_Atomic unsigned int rcu_depth;	/* nesting of read-side sections */
	_Atomic uint64_t rcu_seq;	/* outermost sections entered so far */
	/* Owner only: */
	enum tdpsim_lock_mode held;	/* mmu_lock as the observer saw it */
	struct ck_ranges tlb;		/* direct-root GFNs awaiting a flush */
	/* SPTEs this thread froze last (table, index): it may store their
	 * final value without a compare-and-swap. */
	struct {
		const void *table;
		unsigned int index;
	} frozen[8];
	unsigned int nr_frozen;		/* next slot of @frozen to reuse */
	/* Guarded by @lock (the owner adds, the quiescent checks drain): */
	pthread_mutex_t lock;
	struct ck_ranges touched;	/* GFN ranges whose SPTEs changed */
	struct ck_lpents lpage;		/* lpage_info entries written */
	bool write_locked;		/* took mmu_lock for write */
	bool lost;			/* an event could not be recorded */
};

/* ---- the checker ---- */

/* A memslot as the last quiescent check saw it. */
struct ck_slots {
	struct tdpsim_memslot_info *s;	/* sorted by base_gfn */
	unsigned int nr;
};

/* A run of GFNs with one attribute. */
struct ck_attr_run {
	tdpsim_gfn_t start, end;
	bool private_mem;
};

struct ck_attr_runs {
	struct ck_attr_run *r;
	size_t nr, cap;
	bool valid;
};

/* What the eager split of a dirty-logged slot left (note_eager_split). */
struct ck_eager {
	uint32_t slot_id;
	bool completed;
};

/* A guest ACCEPT noted by tdpsim_checker_note_accept(). */
struct ck_accept {
	tdpsim_gfn_t gfn;
	int level;
};

struct tdpsim_checker {
	struct tdpsim_vm *vm;
	uint64_t uid;			/* unique per checker, never reused */
	tdpsim_violation_fn fn;
	void *opaque;
	enum tdpsim_vm_type type;
	int root_level;
	tdpsim_gfn_t gfn_limit;		/* GFNs a root can map: [0, limit) */
	/* TDX: the shared bit as a GFN bit (kvm_gfn_direct_bits()), which
	 * the direct root's table indexes include and its GFNs do not. */
	tdpsim_gfn_t direct_bits;
	bool has_private;		/* sw-protected or TDX */

	/* Reporting. */
	pthread_mutex_t report_lock;
	_Atomic uint64_t nr_total;	/* every violation reported */
	_Atomic uint64_t nr_since;	/* since the last check_*() returned */

	/* Threads seen by the observer. */
	pthread_mutex_t threads_lock;
	struct ck_thread **threads;
	unsigned int nr_threads, cap_threads;

	/* Page-table lifecycle, from the observer (guarded by pt_lock). */
	pthread_mutex_t pt_lock;
	struct ck_map unlinked;		/* table -> readers inside RCU then */
	struct ck_map freed;		/* tables freed, not linked again */
	struct ck_map roots;		/* root tables seen (freed unlinked) */
	_Atomic int64_t nonleaf;	/* present non-leaf SPTEs (transitions) */
	_Atomic bool lost;		/* an observer event was dropped (OOM) */

	/* Quiescent state (only check_*() and note_eager_split()). */
	pthread_mutex_t state_lock;	/* guards eager against the caller */
	struct ck_eager *eager;
	unsigned int nr_eager, cap_eager;
	struct ck_slots slots;		/* the last check's memslots */
	bool slots_valid;
	struct ck_attr_runs attrs;	/* the last check's attribute runs */
	struct ck_map inhibit;		/* lpage entries seen guest-inhibited */
	struct ck_ranges extra;		/* ranges to check next (eager notes) */

	/* TDX invariants (check_tdx.c), guarded by state_lock. */
	uint64_t tdx_failures_seen;	/* the module's failure log, read up
					 * to this seq */
	struct ck_accept *accepts;	/* accepts noted since the last check */
	unsigned int nr_accepts, cap_accepts;

	/* guest_memfd invariants (check_gmem.c), made on first use. */
	_Atomic(struct ck_gmem *) gmem;
};

/* ---- core (check.c) ---- */

/* Where a violation is: whatever applies. */
struct ck_where {
	tdpsim_gfn_t gfn;
	int level;			/* 0: no GFN/level */
	enum tdpsim_root_role role;
	bool has_root;
	uint64_t old_spte;
	uint64_t new_spte;
	bool has_old;			/* transition: print old -> new */
	bool has_spte;			/* print new_spte */
	bool transition;
};

__attribute__((format(printf, 4, 5)))
void ck_report(struct tdpsim_checker *c, enum ck_inv inv,
	       const struct ck_where *w, const char *fmt, ...);

/* The calling thread's state, or NULL (out of memory: the event is lost). */
struct ck_thread *ck_self(struct tdpsim_checker *c);

/*
 * While the checker itself calls into the VM (inspect.h), the observer
 * events that causes on this thread are the checker's, not the model's:
 * ck_enter()/ck_leave() bracket those calls and ck_inside() tells.
 */
void ck_enter(void);
void ck_leave(void);
bool ck_inside(void);

/* The memslot holding @gfn in @slots, or NULL. */
const struct tdpsim_memslot_info *ck_slot_find(const struct ck_slots *slots,
					       tdpsim_gfn_t gfn);
/* The first memslot ending after @gfn (or NULL): iterate overlaps from it. */
const struct tdpsim_memslot_info *ck_slot_from(const struct ck_slots *slots,
					       tdpsim_gfn_t gfn);
/* The memslot holding @gfn now (safe from observer callbacks). */
int ck_slot_now(struct tdpsim_checker *c, tdpsim_gfn_t gfn,
		struct tdpsim_memslot_info *ret_slot);
/* Read the VM's memslots now into @slots. Returns 0 or -ENOMEM. */
int ck_slots_read(struct tdpsim_checker *c, struct ck_slots *slots);
void ck_slots_free(struct ck_slots *slots);

/* ---- the quiescent walk (check_spte.c) ---- */

/* Attribute lookups, cached over one run. */
struct ck_attr_cursor {
	tdpsim_gfn_t start, end;
	bool private_mem;
	bool valid;
};

/* The attribute of @gfn and the end of its run from @gfn. */
bool ck_attr_at(struct tdpsim_checker *c, struct ck_attr_cursor *cur,
		tdpsim_gfn_t gfn, tdpsim_gfn_t *ret_end);
/* True if [start, end) has one attribute. */
bool ck_attr_uniform(struct tdpsim_checker *c, struct ck_attr_cursor *cur,
		     tdpsim_gfn_t start, tdpsim_gfn_t end);

/* One walk of one root, over the whole root or some ranges. */
struct ck_walk {
	struct tdpsim_checker *c;
	enum tdpsim_root_role role;
	const void *root;
	struct ck_map tables;		/* table -> level, first GFN */
	uint64_t nr_tables;		/* distinct tables reached, root too */
	const struct ck_slots *slots;
	struct ck_attr_cursor cur;
	bool full;			/* the whole root: global checks too */
	int err;			/* -ENOMEM met */
};

/* Where a walk of @w's root met entry @e: its GFN, level, root and SPTE. */
static inline struct ck_where ck_where_entry(const struct ck_walk *w,
					     const struct tdpsim_spte_info *e)
{
	return (struct ck_where){
		.gfn = e->gfn,
		.level = e->level,
		.role = w->role,
		.has_root = true,
		.new_spte = e->spte,
		.has_spte = true,
	};
}

/* Where SPTE change @ch happened: its GFN, level, root, old -> new. */
static inline struct ck_where ck_where_change(const struct tdpsim_spte_change *ch)
{
	return (struct ck_where){
		.gfn = ch->gfn,
		.level = ch->level,
		.role = ch->role,
		.has_root = true,
		.old_spte = ch->old_spte,
		.new_spte = ch->new_spte,
		.has_old = true,
		.transition = true,
	};
}

/*
 * ck_walk_root() - walk @role's root over @ranges (NULL: all of it) and
 * check every entry: spte-format, pt-linkage, and through the leaf hooks
 * below attr-root, attr-uniform, lpage and dirty-log.
 * @param ret_tables distinct tables reached (whole-root walks); may be NULL
 * @return 0, -ENOENT if there is no such root, -ENOMEM
 */
int ck_walk_root(struct tdpsim_checker *c, enum tdpsim_root_role role,
		 const struct ck_slots *slots, const struct ck_ranges *ranges,
		 uint64_t *ret_tables);

/* spte-format of one value at @level; @quiescent forbids FROZEN. */
void ck_spte_format(struct tdpsim_checker *c, const struct ck_where *w,
		    uint64_t spte, int level, tdpsim_gfn_t gfn, bool quiescent);

/* Transition checks of check_spte.c: pfn-stable, spte-format, pt-linkage. */
void ck_spte_transition(struct tdpsim_checker *c, const struct tdpsim_spte_change *ch);

/* pt-linkage: the page-table counters against what the walks found. */
void ck_pt_counts(struct tdpsim_checker *c, uint64_t reachable, bool walked);

/* ---- leaf hooks called by the walk ---- */

void ck_attr_leaf(struct ck_walk *w, const struct tdpsim_spte_info *e);
void ck_lpage_leaf(struct ck_walk *w, const struct tdpsim_spte_info *e);
void ck_dirty_leaf(struct ck_walk *w, const struct tdpsim_spte_info *e);

/* ---- attributes (check_attr.c) ---- */

/* Read every attribute run in [0, gfn_limit) into @runs. */
int ck_attr_runs_read(struct tdpsim_checker *c, struct ck_attr_runs *runs);
/* Add to @out every GFN range where @a and @b differ. */
void ck_attr_runs_diff(const struct ck_attr_runs *a, const struct ck_attr_runs *b,
		       struct ck_ranges *out);
void ck_attr_runs_free(struct ck_attr_runs *runs);

/* ---- lpage_info (check_lpage.c) ---- */

/* lpage-info of every entry of @slot at both huge levels. */
void ck_lpage_info_slot(struct tdpsim_checker *c, const struct tdpsim_memslot_info *slot,
			struct ck_attr_cursor *cur);
/* lpage-info of the entries of @slot at @level that cover [start, end). */
void ck_lpage_info_range(struct tdpsim_checker *c,
			 const struct tdpsim_memslot_info *slot, int level,
			 tdpsim_gfn_t start, tdpsim_gfn_t end,
			 struct ck_attr_cursor *cur);
/* lpage_info entries to recheck: [lo, hi] of a slot's entries at a level. */
struct ck_lpreq {
	uint32_t slot_id;
	int level;
	uint64_t lo, hi;
};

struct ck_lpq {
	struct ck_lpreq *r;
	size_t nr, cap;
	bool overflow;			/* out of memory: check everything */
};

/* Queue the entries of @slot at @level that cover [start, end). */
void ck_lpq_add(struct ck_lpq *q, const struct tdpsim_memslot_info *slot, int level,
		tdpsim_gfn_t start, tdpsim_gfn_t end);
/* Check every queued entry once (@slots: the memslots now). */
void ck_lpq_run(struct tdpsim_checker *c, struct ck_lpq *q, const struct ck_slots *slots,
		struct ck_attr_cursor *cur);
void ck_lpq_free(struct ck_lpq *q);
/* lpage at the instant a huge leaf is installed (observer). */
void ck_lpage_install(struct tdpsim_checker *c, const struct tdpsim_spte_change *ch);
/* Forget guest-inhibit records of a slot that went away. */
void ck_lpage_forget_slot(struct tdpsim_checker *c, uint32_t slot_id);

/* ---- dirty logging (check_dirty.c) ---- */

bool ck_eager_completed(struct tdpsim_checker *c, uint32_t slot_id);
void ck_eager_forget(struct tdpsim_checker *c, uint32_t slot_id);
/* dirty-log at a transition: no huge leaf installed or made writable in
 * a dirty-logged slot. */
void ck_dirty_transition(struct tdpsim_checker *c, const struct tdpsim_spte_change *ch);

/* ---- locking, RCU, TLB, progress (check_locking.c): observer entries ---- */

void ck_lock_spte_changed(struct tdpsim_checker *c, struct ck_thread *t,
			  const struct tdpsim_spte_change *ch);
void ck_obs_mmu_lock(void *opaque, enum tdpsim_lock_mode mode, bool acquire);
void ck_obs_tlb_flush(void *opaque, tdpsim_gfn_t gfn, uint64_t npages);
void ck_obs_rcu_read(void *opaque, bool enter);
void ck_obs_pt_unlinked(void *opaque, const void *table, int level);
void ck_obs_pt_freed(void *opaque, const void *table);
void ck_obs_alloc(void *opaque, const struct tdpsim_alloc_event *a);
void ck_obs_lpage_access(void *opaque, uint32_t slot_id, int level, uint64_t idx,
			 bool write, enum tdpsim_lock_mode lock);
void ck_obs_fault_stuck(void *opaque, tdpsim_gfn_t gfn, unsigned int retries);
/* A table the quiescent walk reached: was it unlinked or freed? */
void ck_rcu_reachable(struct tdpsim_checker *c, struct ck_walk *w,
		      const struct tdpsim_spte_info *e);
/* leak: tables unlinked and never freed. */
void ck_rcu_leak(struct tdpsim_checker *c);
/* Remember @table as a root (pt_lock not held). */
void ck_note_root(struct tdpsim_checker *c, const void *table);
/* Drop the per-table records (destroy). */
void ck_rcu_free(struct tdpsim_checker *c);

/* ---- TDX (check_tdx.c): mirror-sync, seamcall, pamt, hkid, accept-level ---- */

void ck_tdx_quiescent(struct tdpsim_checker *c);
void ck_tdx_leak(struct tdpsim_checker *c);
void ck_tdx_transition(struct tdpsim_checker *c, const struct tdpsim_spte_change *ch);
void ck_tdx_leaf(struct ck_walk *w, const struct tdpsim_spte_info *e);

/* ---- guest_memfd (check_gmem.c): gmem-backing, boundary ---- */

struct ck_gmem;

/* gmem-backing of one leaf (and attr-root of the mirror test mode). */
void ck_gmem_leaf(struct ck_walk *w, const struct tdpsim_spte_info *e);
/* boundary: the observer's private_zap event. */
void ck_obs_private_zap(void *opaque, tdpsim_gfn_t start, tdpsim_gfn_t end,
			enum tdpsim_zap_phase phase);
/* Free what check_gmem.c kept (destroy). */
void ck_gmem_free(struct tdpsim_checker *c);

/* The observer ops the checker installs (for the test hooks). */
extern const struct tdpsim_observer ck_observer_ops;

#endif /* TDPSIM_CHECK_INTERNAL_H */
