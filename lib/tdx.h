/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tdx.h - the fake TDX Module's internal state, shared by tdx_module.c
 * (the object, SEAMCALL dispatch, module locks, injection, log),
 * tdx_td.c (TD and vCPU lifecycle leaves), tdx_sept.c (S-EPT and the
 * TDH.MEM.* leaves, guest ACCEPT) and tdx_pamt.c (PAMT, Dynamic PAMT,
 * RECLAIM, WBINVD).
 *
 * Locking: everything below is protected by tdpsim_tdx_module.lock, a
 * pthread mutex held while a leaf runs. The real module's own locks (TDR,
 * S-EPT tree and entries, TD epoch, PAMT entries) are modelled as records in
 * tdpsim_tdx_module.locks, taken by a leaf as the real one takes them and
 * kept until the call ends, after the mutex has been dropped once, so that
 * overlapping calls see them held (tdxm_lock()).
 *
 * Levels in this layer are the module's: 0 = 4K, 1 = 2M, 2 = 1G ...
 *
 * Names: tdxm_ ("TDX module") for what is shared between these files, so
 * that KVM's side of TDX can use the kernel's tdx_ names (struct tdx_td,
 * tdx_vcpu_free() ...) without clashing. lib/tdx_status.h gives the status
 * codes under the kernel's names (TDX_OPERAND_BUSY ...): KVM's side should
 * include it rather than define them again.
 */
#ifndef TDPSIM_TDX_H
#define TDPSIM_TDX_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <tdpsim/tdx_module.h>

#include "alloc.h"
#include "counters.h"
#include "tdx_status.h"

#define SEPT_ENTRIES		512
#define TDX_PAGE_SHIFT		12
#define TDX_2M_SHIFT		21

/* Bytes mapped by an entry at TDX level @level. */
static inline uint64_t tdxm_level_size(int level)
{
	return 1ULL << (TDX_PAGE_SHIFT + 9 * level);
}

/* 4K pages in an entry at TDX level @level. */
static inline uint64_t tdxm_level_pages(int level)
{
	return 1ULL << (9 * level);
}

struct tdxm_td;
struct sept_page;

/*
 * One S-EPT entry: the HPA it maps (page or child S-EPT page) with its
 * public state code (enum tdpsim_sept_state) in bits 7:0.
 */
struct sept_entry {
	uint64_t raw;
	struct sept_page *child;	/* NL_MAPPED / NL_BLOCKED: the table */
};

static inline uint8_t sept_state(const struct sept_entry *e)
{
	return (uint8_t)(e->raw & 0xff);
}

static inline uint64_t sept_hpa(const struct sept_entry *e)
{
	return e->raw & ~0xfffULL;
}

/* True for the states of a leaf (a page mapped, at any level). */
static inline bool sept_state_is_leaf(uint8_t s)
{
	return s == TDPSIM_SEPT_MAPPED || s == TDPSIM_SEPT_BLOCKED ||
	       s == TDPSIM_SEPT_PENDING || s == TDPSIM_SEPT_PENDING_BLOCKED;
}

static inline bool sept_state_is_blocked(uint8_t s)
{
	return s == TDPSIM_SEPT_BLOCKED || s == TDPSIM_SEPT_PENDING_BLOCKED ||
	       s == TDPSIM_SEPT_NL_BLOCKED;
}

/*
 * One S-EPT page: 512 entries at one level. Allocated (kind SEPT) by
 * SEPT.ADD, DEMOTE and, for the root, MNG.INIT; freed by SEPT.REMOVE or by
 * the RECLAIM of its host page.
 */
struct sept_page {
	struct sept_entry e[SEPT_ENTRIES];
	struct tdxm_td *td;		/* owner */
	struct sept_page *parent;	/* NULL: the root, or orphaned by the
					 * reclaim of its parent in TEARDOWN */
	uint16_t parent_idx;		/* its entry in @parent */
	uint16_t nr_present;		/* entries not FREE */
	uint8_t level;			/* TDX level of its entries */
	uint64_t gpa;			/* first GPA it covers */
	tdpsim_hpa_t hpa;		/* the host page it lives in */
};

/*
 * The PAMT entry of one 4K host page, kept only while its type is not
 * PT_NDA (PT_PAMT: a Dynamic-PAMT pair page). Allocated with kind PAMT.
 */
struct pamt_page {
	uint8_t type;			/* enum tdpsim_tdx_page_type */
	struct tdxm_td *owner;		/* for TD pages */
	uint64_t bepoch;		/* TD epoch at RANGE.BLOCK */
	void *obj;			/* PT_EPT: its sept_page; PT_TDCX: the
					 * root sept_page, if it holds it;
					 * PT_TDR: the td; PT_TDVPR: the vcpu */
	struct sept_page *map_sp;	/* PT_REG at 4K: the entry mapping it */
	uint16_t map_idx;
};

/*
 * One 2 MiB host region: its 2M PAMT entry (@big, typed when the region is
 * one 2M private page), the Dynamic-PAMT pair, counts and dirty pages.
 * Kept only while not empty. Allocated with kind PAMT.
 */
struct pamt_region {
	uint64_t idx;			/* hpa >> 21 */
	uint32_t users;			/* 4K pages of the region assigned
					 * (type not NDA, not PT_PAMT) */
	uint32_t pamt_pages;		/* pages of the region used as pair
					 * pages of some region */
	bool pair;
	tdpsim_hpa_t pair_hpa[2];
	struct pamt_page big;		/* the 2M entry */
	/* Policy: pages released with a TD's key and not written back yet
	 * (PAGE.WBINVD, CACHE.WB). One key per region: the last one wins. */
	uint64_t dirty_map[8];
	uint16_t nr_dirty;
	uint16_t dirty_hkid;
};

/* A map from uint64_t to pointers (open addressing, linear probing). */
struct u64map {
	uint64_t *keys;
	void **vals;			/* NULL: empty slot */
	size_t cap;			/* 0 or a power of two */
	size_t nr;
};

void *u64map_get(const struct u64map *map, uint64_t key);
int u64map_put(struct tdpsim_allocator *a, struct u64map *map, uint64_t key,
	       void *val);
void u64map_del(struct tdpsim_allocator *a, struct u64map *map, uint64_t key);
void u64map_free(struct tdpsim_allocator *a, struct u64map *map);

/* A vCPU (TDVPR page). Allocated with kind MISC. */
struct tdxm_vcpu {
	tdpsim_hpa_t tdvpr;
	struct tdxm_td *td;
	unsigned int nr_tdcx;
	bool initialized;
	bool associated;
	bool in_guest;
	uint64_t entered_epoch;
};

/* A TD (TDR page). Allocated with kind MISC. */
struct tdxm_td {
	struct tdxm_td *next;		/* tdpsim_tdx_module.tds */
	tdpsim_hpa_t tdr;
	uint16_t hkid;
	enum tdpsim_td_lifecycle lifecycle;
	enum tdpsim_td_op_state op_state;
	unsigned int keys_left;		/* packages KEY.CONFIG has not done */
	unsigned int wb_left;		/* packages CACHE.WB has not done */
	unsigned int nr_tdcs;
	tdpsim_hpa_t tdcs0;		/* the TDCS page holding the root */
	struct sept_page *root;		/* from MNG.INIT */
	unsigned int sept_levels;	/* 4 or 5 */
	int root_level;			/* TDX level of the root's entries */
	uint64_t gpaw_limit;		/* 1 << GPAW */
	uint64_t shared_bit;		/* 1 << (GPAW - 1) */
	uint64_t epoch;
	uint32_t refcount[2];
	uint64_t child_count;
	unsigned int nr_vcpus;
	unsigned int nr_assoc;
	uint64_t nr_sept_pages;
	uint64_t mr_extends;
};

/* Kinds of module lock (see tdxm_lock()). */
enum tdxm_lock_kind {
	LK_PAMT_4K,			/* k1 = pfn */
	LK_PAMT_2M,			/* k1 = hpa >> 21 */
	LK_TREE,			/* k1 = tdr */
	LK_EPOCH,			/* k1 = tdr */
	LK_SEPTE,			/* k1 = tdr, k2 = gpa | level */
};

struct tdxm_lock_rec {
	uint8_t kind;
	bool excl;
	bool guest;			/* held by a guest-side TDCALL */
	bool host_prio;			/* a host call found it guest-held */
	uint32_t shared;
	uint64_t k1, k2;
};

#define TDX_MAX_HELD		16

/* One call in progress: its registers and the locks it holds. */
struct tdxm_call {
	struct tdpsim_tdx_module *m;
	struct tdpsim_tdx_args *a;	/* output registers */
	struct tdpsim_tdx_args in;	/* input registers */
	uint32_t leaf;			/* with TDPSIM_TDX_LEAF_TDCALL */
	uint32_t version;
	bool guest;
	struct tdxm_vcpu *vcpu;		/* TDCALL: the vCPU running it */
	struct tdpsim_tdx_accept_result *accept;
	unsigned int nr_held;
	struct {
		uint8_t kind;
		bool excl;
		uint64_t k1, k2;
	} held[TDX_MAX_HELD];
};

/* Index into per-leaf tables: leaf numbers 0..63, then ACCEPT. */
#define TDX_NR_LEAF_SLOTS	65

struct tdxm_inject {
	uint64_t status;
	uint64_t left;
};

struct tdpsim_tdx_module {
	struct tdpsim_tdx_module_config cfg;
	struct tdpsim_allocator own_alloc;	/* when not given one */
	struct tdpsim_allocator *alloc;
	pthread_mutex_t lock;
	uint64_t hkid_mask;		/* key-ID bits of an HPA */
	uint64_t max_pa;		/* 1 << (pa_bits + hkid_bits) */
	struct u64map pages;		/* pfn -> struct pamt_page */
	struct u64map regions;		/* hpa >> 21 -> struct pamt_region */
	struct tdxm_td *tds;
	unsigned int nr_tds;
	uint8_t *hkid_used;		/* one byte per key ID */
	uint64_t pairs;			/* live Dynamic-PAMT pairs */
	uint64_t dirty;			/* dirty pages, all regions */
	struct tdxm_lock_rec *locks;
	unsigned int nr_locks, cap_locks;
	struct tdxm_inject inject[TDX_NR_LEAF_SLOTS];
	uint64_t calls[TDX_NR_LEAF_SLOTS];
	struct tdpsim_tdx_failure *log;	/* ring of cfg.failure_log */
	uint64_t nr_failures;
};

/* ---- tdx_module.c ---- */

int tdxm_module_create(const struct tdpsim_tdx_module_config *cfg,
		      struct tdpsim_allocator *alloc,
		      struct tdpsim_tdx_module **ret_module);

uint64_t tdxm_lock(struct tdxm_call *c, enum tdxm_lock_kind kind, uint64_t k1,
		  uint64_t k2, bool excl, uint32_t operand);
uint64_t tdxm_lock_page(struct tdxm_call *c, tdpsim_hpa_t hpa, int size,
		       bool excl, uint32_t operand);

/* Which op-states (bit per enum tdpsim_td_op_state) allow @leaf. */
unsigned int tdxm_leaf_op_states(uint32_t leaf);

uint64_t tdxm_check_hpa(struct tdpsim_tdx_module *m, uint64_t hpa,
		       uint64_t align, uint32_t operand);
uint64_t tdxm_get_td(struct tdxm_call *c, uint64_t tdr, uint32_t operand,
		    bool excl, struct tdxm_td **ret_td);
/*
 * tdxm_get_page_obj() - the object behind a 4K page operand @hpa: a valid
 * HPA, its PAMT entry locked (@excl or shared), of @type (else
 * PAGE_METADATA_INCORRECT). The TDR and TDVPR operands go through it.
 */
uint64_t tdxm_get_page_obj(struct tdxm_call *c, uint64_t hpa,
			   enum tdpsim_tdx_page_type type, uint32_t operand,
			   bool excl, void **ret_obj);
uint64_t tdxm_check_td_state(struct tdxm_call *c, struct tdxm_td *td);
bool tdxm_is_tracked(const struct tdxm_td *td, uint64_t bepoch);
struct tdxm_td *tdxm_td_find(struct tdpsim_tdx_module *m, tdpsim_hpa_t tdr);
struct tdxm_vcpu *tdxm_vcpu_find(struct tdpsim_tdx_module *m, tdpsim_hpa_t tdvpr);

static inline void tdxm_count(struct tdpsim_tdx_module *m, enum tdpsim_stat stat,
			     int64_t delta)
{
	if (!m->cfg.counters)
		return;
	if (delta >= 0)
		counter_add(m->cfg.counters, stat, (uint64_t)delta);
	else
		counter_sub(m->cfg.counters, stat, (uint64_t)-delta);
}

/* ---- tdx_td.c: lifecycle leaves ---- */

uint64_t tdxm_mng_create(struct tdxm_call *c);
uint64_t tdxm_mng_key_config(struct tdxm_call *c);
uint64_t tdxm_mng_addcx(struct tdxm_call *c);
uint64_t tdxm_mng_init(struct tdxm_call *c);
uint64_t tdxm_vp_create(struct tdxm_call *c);
uint64_t tdxm_vp_addcx(struct tdxm_call *c);
uint64_t tdxm_vp_init(struct tdxm_call *c);
uint64_t tdxm_vp_enter(struct tdxm_call *c);
uint64_t tdxm_vp_flush(struct tdxm_call *c);
uint64_t tdxm_mr_finalize(struct tdxm_call *c);
uint64_t tdxm_mem_track(struct tdxm_call *c);
uint64_t tdxm_mng_vpflushdone(struct tdxm_call *c);
uint64_t tdxm_phymem_cache_wb(struct tdxm_call *c);
uint64_t tdxm_mng_key_freeid(struct tdxm_call *c);
uint64_t tdxm_mng_key_reclaimid(struct tdxm_call *c);
void tdxm_vcpu_exit(struct tdxm_vcpu *vcpu);
void tdxm_vcpu_free(struct tdpsim_tdx_module *m, struct tdxm_vcpu *vcpu);
void tdxm_td_free(struct tdpsim_tdx_module *m, struct tdxm_td *td);

/* ---- tdx_sept.c: S-EPT leaves ---- */

uint64_t tdxm_mem_sept_add(struct tdxm_call *c);
uint64_t tdxm_mem_page_add(struct tdxm_call *c);
uint64_t tdxm_mem_page_aug(struct tdxm_call *c);
uint64_t tdxm_mem_range_block(struct tdxm_call *c);
uint64_t tdxm_mem_range_unblock(struct tdxm_call *c);
uint64_t tdxm_mem_page_remove(struct tdxm_call *c);
uint64_t tdxm_mem_sept_remove(struct tdxm_call *c);
uint64_t tdxm_mem_page_demote(struct tdxm_call *c);
uint64_t tdxm_mr_extend(struct tdxm_call *c);
uint64_t tdxm_mem_page_accept(struct tdxm_call *c);

void sept_page_free(struct tdpsim_tdx_module *m, struct sept_page *sp);
struct sept_page *sept_page_alloc(struct tdpsim_tdx_module *m, struct tdxm_td *td,
				  int level, uint64_t gpa, tdpsim_hpa_t hpa);
/* Free @sp after its host page was reclaimed (or the module is going):
 * unlink it from its parent, orphan its children, forget its mappings. */
void sept_page_detach_free(struct tdpsim_tdx_module *m, struct sept_page *sp);

/* ---- tdx_pamt.c: PAMT ---- */

struct pamt_page *pamt_page_find(struct tdpsim_tdx_module *m, uint64_t pfn);
struct pamt_region *pamt_region_find(struct tdpsim_tdx_module *m, uint64_t idx);
int pamt_prepare(struct tdpsim_tdx_module *m, tdpsim_hpa_t hpa,
		 struct pamt_page **ret_page, struct pamt_region **ret_region);
void pamt_tidy(struct tdpsim_tdx_module *m, tdpsim_hpa_t hpa);
uint64_t pamt_check_free(struct tdxm_call *c, tdpsim_hpa_t hpa, int size,
			 uint32_t operand);
int pamt_assign_4k(struct tdpsim_tdx_module *m, tdpsim_hpa_t hpa, uint8_t type,
		   struct tdxm_td *owner, void *obj, struct pamt_page **ret_page);
bool pamt_release_4k(struct tdpsim_tdx_module *m, tdpsim_hpa_t hpa,
		     uint16_t dirty_hkid);
int pamt_map_private(struct tdpsim_tdx_module *m, tdpsim_hpa_t hpa, int size,
		     struct tdxm_td *owner, struct sept_page *sp, unsigned int idx);
bool pamt_unmap_private(struct tdpsim_tdx_module *m, tdpsim_hpa_t hpa, int size,
			uint16_t dirty_hkid);
uint64_t *pamt_bepoch(struct tdpsim_tdx_module *m, tdpsim_hpa_t hpa, int size);
void pamt_clear_dirty_hkid(struct tdpsim_tdx_module *m, uint16_t hkid);
uint64_t pamt_demote_check_pair(struct tdxm_call *c, uint64_t idx);
int pamt_demote_prepare_pair(struct tdxm_call *c, uint64_t idx);
void pamt_demote_install_pair(struct tdxm_call *c, uint64_t idx);
void pamt_free_all(struct tdpsim_tdx_module *m);

uint64_t tdxm_phymem_page_reclaim(struct tdxm_call *c);
uint64_t tdxm_phymem_page_wbinvd(struct tdxm_call *c);
uint64_t tdxm_phymem_pamt_add(struct tdxm_call *c);
uint64_t tdxm_phymem_pamt_remove(struct tdxm_call *c);

#endif /* TDPSIM_TDX_H */
