/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tdpsim/tdx_module.h - the fake TDX Module: Secure-EPT, PAMT and Dynamic
 * PAMT, TD epochs and TLB tracking, TD lifecycle, behind SEAMCALLs with the
 * real leaf numbers, operand encoding and completion statuses
 * (reference/tdx-module.md; docs/tdx-module.md says what is modelled).
 *
 * The module never reads KVM's tables: it knows only what SEAMCALLs told it.
 * Every SEAMCALL returns the 64-bit completion status the module would put
 * in RAX: the status class and code in bits 63:32 and, for most errors, the
 * operand id in bits 31:0. A refusal is data, not an error. Negative errno
 * values are used only where the caller misused this C API; a SEAMCALL made
 * through a NULL module or argument block answers TDPSIM_TDX_SW_ERROR |
 * errno, like the kernel's own software-synthesized TDX_SW_ERROR.
 *
 * Levels: the typed wrappers (tdpsim_tdh_*) take the kernel's enum pg_level
 * (TDPSIM_LEVEL_4K = 1), as the kvm-x86 wrappers do, and encode the module's
 * level (pg_level - 1) into the GPA operand. The raw interface
 * (tdpsim_tdx_seamcall()) takes registers exactly as the module does:
 * RCX = GPA | TDX level (0 = 4K, 1 = 2M, 2 = 1G ...).
 *
 * Thread safety: every call may be made from any thread. The module takes
 * its own internal lock, and models the real module's locks (TDR, S-EPT
 * tree, S-EPT entry, TD epoch, PAMT entries) as state held for the duration
 * of a call: a call that needs a lock another call is holding answers
 * TDX_OPERAND_BUSY with the operand id the real module reports.
 */
#ifndef TDPSIM_TDX_MODULE_H
#define TDPSIM_TDX_MODULE_H

#include <tdpsim/types.h>
#include <tdpsim/stats.h>
#include <tdpsim/inspect.h>

#ifdef __cplusplus
extern "C" {
#endif

struct tdpsim_tdx_module;

/* ---- completion statuses (bits 63:32; tdx-module.md section 1.3) ---- */

#define TDPSIM_TDX_SUCCESS			0x0000000000000000ULL
#define TDPSIM_TDX_INTERRUPTED_RESUMABLE	0x8000000300000000ULL
#define TDPSIM_TDX_INTERRUPTED_RESTARTABLE	0x8000000400000000ULL
#define TDPSIM_TDX_OPERAND_INVALID		0xC000010000000000ULL
#define TDPSIM_TDX_OPERAND_ADDR_RANGE_ERROR	0xC000010100000000ULL
#define TDPSIM_TDX_OPERAND_BUSY			0x8000020000000000ULL
#define TDPSIM_TDX_PREVIOUS_TLB_EPOCH_BUSY	0x8000020100000000ULL
#define TDPSIM_TDX_SYS_BUSY			0x8000020200000000ULL
#define TDPSIM_TDX_RND_NO_ENTROPY		0x8000020300000000ULL
#define TDPSIM_TDX_OPERAND_BUSY_HOST_PRIORITY	0x8000020400000000ULL
#define TDPSIM_TDX_PAGE_METADATA_INCORRECT	0xC000030000000000ULL
#define TDPSIM_TDX_PAGE_ALREADY_FREE		0x0000030100000000ULL
#define TDPSIM_TDX_PAGE_NOT_OWNED_BY_TD		0xC000030200000000ULL
#define TDPSIM_TDX_PAGE_NOT_FREE		0xC000030300000000ULL
#define TDPSIM_TDX_HPA_RANGE_NOT_FREE		0xC000030400000000ULL
#define TDPSIM_TDX_NO_PAMT_PAGE_PAIR		0xC000030500000000ULL
#define TDPSIM_TDX_PAMT_PAGE_NOT_EMPTY		0xC000030600000000ULL
#define TDPSIM_TDX_INTERRUPTED_PAMT		0x8000030700000000ULL
#define TDPSIM_TDX_MISSING_PAMT_PAGE_PAIR	0x8000030800000000ULL
#define TDPSIM_TDX_TD_ASSOCIATED_PAGES_EXIST	0xC000040000000000ULL
#define TDPSIM_TDX_TD_FATAL			0xE000060400000000ULL
#define TDPSIM_TDX_TDCS_NOT_ALLOCATED		0xC000060600000000ULL
#define TDPSIM_TDX_LIFECYCLE_STATE_INCORRECT	0xC000060700000000ULL
#define TDPSIM_TDX_OP_STATE_INCORRECT		0xC000060800000000ULL
#define TDPSIM_TDX_TDCX_NUM_INCORRECT		0xC000061000000000ULL
#define TDPSIM_TDX_VCPU_STATE_INCORRECT		0xC000070000000000ULL
#define TDPSIM_TDX_VCPU_NOT_ASSOCIATED		0x8000070200000000ULL
#define TDPSIM_TDX_TD_KEYS_NOT_CONFIGURED	0x8000081000000000ULL
#define TDPSIM_TDX_KEY_CONFIGURED		0x0000081500000000ULL
#define TDPSIM_TDX_WBCACHE_NOT_COMPLETE		0x8000081700000000ULL
#define TDPSIM_TDX_HKID_NOT_FREE		0xC000082000000000ULL
#define TDPSIM_TDX_NO_HKID_READY_TO_WBCACHE	0x0000082100000000ULL
#define TDPSIM_TDX_FLUSHVP_NOT_DONE		0x8000082400000000ULL
#define TDPSIM_TDX_EPT_WALK_FAILED		0xC0000B0000000000ULL
#define TDPSIM_TDX_EPT_ENTRY_FREE		0xC0000B0100000000ULL
#define TDPSIM_TDX_EPT_ENTRY_NOT_FREE		0xC0000B0200000000ULL
#define TDPSIM_TDX_GPA_RANGE_NOT_BLOCKED	0xC0000B0600000000ULL
#define TDPSIM_TDX_GPA_RANGE_ALREADY_BLOCKED	0x00000B0700000000ULL
#define TDPSIM_TDX_TLB_TRACKING_NOT_DONE	0xC0000B0800000000ULL
#define TDPSIM_TDX_EPT_INVALID_PROMOTE_CONDITIONS 0xC0000B0900000000ULL
#define TDPSIM_TDX_PAGE_ALREADY_ACCEPTED	0x00000B0A00000000ULL
#define TDPSIM_TDX_PAGE_SIZE_MISMATCH		0xC0000B0B00000000ULL
#define TDPSIM_TDX_GPA_RANGE_BLOCKED		0xC0000B0C00000000ULL
#define TDPSIM_TDX_EPT_ENTRY_STATE_INCORRECT	0xC0000B0D00000000ULL
#define TDPSIM_TDX_EPT_PAGE_NOT_FREE		0xC0000B0E00000000ULL

/* Linux's TDX_SW_ERROR: a status no module returns. tdpsim answers
 * TDPSIM_TDX_SW_ERROR | errno for a misused call (NULL module or argument
 * block, -ENOMEM in the model's own bookkeeping). */
#define TDPSIM_TDX_SW_ERROR			0x8000FF0000000000ULL

/* The status half of a completion status (Linux TDX_SEAMCALL_STATUS_MASK). */
#define TDPSIM_TDX_STATUS_MASK			0xFFFFFFFF00000000ULL
/* Bit 63: an error; clear: success or a warning such as ALREADY_BLOCKED. */
#define TDPSIM_TDX_ERROR_BIT			0x8000000000000000ULL

/* Operand ids in bits 31:0 (tdx-module.md section 1.2). */
#define TDPSIM_TDX_OPERAND_RAX		0u
#define TDPSIM_TDX_OPERAND_RCX		1u
#define TDPSIM_TDX_OPERAND_RDX		2u
#define TDPSIM_TDX_OPERAND_R8		8u
#define TDPSIM_TDX_OPERAND_R9		9u
#define TDPSIM_TDX_OPERAND_R12		12u
#define TDPSIM_TDX_OPERAND_R13		13u
#define TDPSIM_TDX_OPERAND_TDR		0x80u
#define TDPSIM_TDX_OPERAND_SEPT_TREE	0x92u
#define TDPSIM_TDX_OPERAND_SEPT_ENTRY	0x93u
#define TDPSIM_TDX_OPERAND_TD_EPOCH	0xA9u
#define TDPSIM_TDX_OPERAND_OP_STATE	0xACu

/** The status half of @status (bits 63:32, low half zero). */
static inline uint64_t tdpsim_tdx_status_code(uint64_t status)
{
	return status & TDPSIM_TDX_STATUS_MASK;
}

/** The operand id (or detail) in bits 31:0 of @status. */
static inline uint32_t tdpsim_tdx_status_operand(uint64_t status)
{
	return (uint32_t)status;
}

/** True if @status is an error (bit 63); warnings and success are not. */
static inline bool tdpsim_tdx_status_is_error(uint64_t status)
{
	return (status & TDPSIM_TDX_ERROR_BIT) != 0;
}

/**
 * tdpsim_tdx_status_name() - the name of @status's status half without the
 * "TDX_" prefix ("OPERAND_BUSY"), as the trace language writes it.
 * @return a static string; "SW_ERROR" for TDPSIM_TDX_SW_ERROR; NULL if unknown
 */
TDPSIM_API const char *tdpsim_tdx_status_name(uint64_t status);

/**
 * tdpsim_tdx_status_from_name() - the inverse, with or without "TDX_".
 * @return 0 and @ret_status (low half zero), or -ENOENT
 */
TDPSIM_API int tdpsim_tdx_status_from_name(const char *name, uint64_t *ret_status);

/* ---- leaves ---- */

/* A TDCALL (guest-side) leaf; leaf numbers of TDCALLs and SEAMCALLs overlap. */
#define TDPSIM_TDX_LEAF_TDCALL 0x40000000

/** Leaf numbers as in RAX bits 15:0 (tdx-module.md appendix). */
enum tdpsim_tdx_leaf {
	TDPSIM_TDH_VP_ENTER = 0,
	TDPSIM_TDH_MNG_ADDCX = 1,
	TDPSIM_TDH_MEM_PAGE_ADD = 2,
	TDPSIM_TDH_MEM_SEPT_ADD = 3,
	TDPSIM_TDH_VP_ADDCX = 4,
	TDPSIM_TDH_MEM_PAGE_AUG = 6,
	TDPSIM_TDH_MEM_RANGE_BLOCK = 7,
	TDPSIM_TDH_MNG_KEY_CONFIG = 8,
	TDPSIM_TDH_MNG_CREATE = 9,
	TDPSIM_TDH_VP_CREATE = 10,
	TDPSIM_TDH_MEM_PAGE_DEMOTE = 15,
	TDPSIM_TDH_MR_EXTEND = 16,
	TDPSIM_TDH_MR_FINALIZE = 17,
	TDPSIM_TDH_VP_FLUSH = 18,
	TDPSIM_TDH_MNG_VPFLUSHDONE = 19,
	TDPSIM_TDH_MNG_KEY_FREEID = 20,
	TDPSIM_TDH_MNG_INIT = 21,
	TDPSIM_TDH_VP_INIT = 22,
	TDPSIM_TDH_MNG_KEY_RECLAIMID = 27,
	TDPSIM_TDH_PHYMEM_PAGE_RECLAIM = 28,
	TDPSIM_TDH_MEM_PAGE_REMOVE = 29,
	TDPSIM_TDH_MEM_SEPT_REMOVE = 30,
	TDPSIM_TDH_MEM_TRACK = 38,
	TDPSIM_TDH_MEM_RANGE_UNBLOCK = 39,
	TDPSIM_TDH_PHYMEM_CACHE_WB = 40,
	TDPSIM_TDH_PHYMEM_PAGE_WBINVD = 41,
	TDPSIM_TDH_PHYMEM_PAMT_ADD = 58,
	TDPSIM_TDH_PHYMEM_PAMT_REMOVE = 59,
	TDPSIM_TDG_MEM_PAGE_ACCEPT = TDPSIM_TDX_LEAF_TDCALL | 6,
};

/**
 * tdpsim_tdx_leaf_name() - the short name the trace language and the
 * counters use ("PAGE.AUG", "PAGE.RECLAIM", "PAGE.ACCEPT").
 * @return a static string, or NULL for a leaf the module does not model
 */
TDPSIM_API const char *tdpsim_tdx_leaf_name(uint32_t leaf);

/**
 * tdpsim_tdx_leaf_from_name() - a leaf by its short name ("PAGE.DEMOTE"),
 * its full name ("TDH.MEM.PAGE.DEMOTE") or without "TDH." ("MEM.TRACK").
 * @return 0 and @ret_leaf, or -ENOENT
 */
TDPSIM_API int tdpsim_tdx_leaf_from_name(const char *name, uint32_t *ret_leaf);

/* ---- the module ---- */

/**
 * Called after a SEAMCALL or TDCALL has taken its effect but while it still
 * holds the module locks it took (as the real module holds them until it
 * returns). No internal lock of the module is held: the hook may make other
 * calls into the module, which then see those locks held and answer
 * TDX_OPERAND_BUSY where the real module would. Deterministic schedulers
 * use it as a scheduling point inside a SEAMCALL.
 */
typedef void (*tdpsim_tdx_call_hook)(void *opaque, uint32_t leaf,
				     uint64_t status);

/** What tdpsim_tdx_module_create() builds. Fill with ..._config_init(). */
struct tdpsim_tdx_module_config {
	bool dynamic_pamt;		/* Dynamic PAMT enabled (TDH.SYS.CONFIG
					 * opted in); default false */
	bool allow_early_aug;		/* let PAGE.AUG run before MR.FINALIZE,
					 * as the real module does; default
					 * false: KVM never does it, so the fake
					 * refuses it (OP_STATE_INCORRECT) */
	unsigned int nr_packages;	/* KEY.CONFIG and CACHE.WB calls needed
					 * per TD, one per package; default 1 */
	unsigned int tdcs_pages;	/* MNG.ADDCX pages per TD; default 4 */
	unsigned int tdvps_pages;	/* TDVPR + VP.ADDCX pages per vCPU;
					 * default 4 */
	unsigned int pa_bits;		/* host physical address bits below the
					 * key-ID bits; default 46 */
	unsigned int hkid_bits;		/* key-ID bits above them; default 6 */
	unsigned int global_hkid;	/* the module's own private key (TDR
					 * encryption): never a TD's; default 1 */
	tdpsim_hpa_t tdmr_base;		/* TDX-usable memory [base, base+size):  */
	uint64_t tdmr_size;		/* default all of [0, 2^pa_bits) */
	unsigned int failure_log;	/* failed calls remembered; default 256 */
	struct tdpsim_counters *counters; /* optional: seamcall.*, pamt.pairs */
	tdpsim_tdx_call_hook hook;	/* optional */
	void *hook_opaque;
};

/** Fill @cfg with the defaults. */
TDPSIM_API void tdpsim_tdx_module_config_init(struct tdpsim_tdx_module_config *cfg);

/**
 * tdpsim_tdx_module_create() - a TDX Module with no TDs, all memory PT_NDA.
 * It allocates from a private allocator (tdpsim_tdx_module_alloc_live()).
 * @param cfg NULL for the defaults
 * @return 0; -EINVAL for a bad configuration; -ENOMEM
 */
TDPSIM_API int tdpsim_tdx_module_create(const struct tdpsim_tdx_module_config *cfg,
					struct tdpsim_tdx_module **ret_module);

/**
 * tdpsim_tdx_module_destroy() - free the module and everything it tracks
 * (TDs not torn down included; live pairs leave the pamt.pairs gauge).
 * Accepts NULL. No call may be in progress.
 */
TDPSIM_API void tdpsim_tdx_module_destroy(struct tdpsim_tdx_module *m);

/* ---- SEAMCALLs ---- */

/** Registers of a SEAMCALL, in and out (Linux struct tdx_module_args). */
struct tdpsim_tdx_args {
	uint64_t rax;	/* in: leaf | version << 16; out: the status */
	uint64_t rcx;
	uint64_t rdx;
	uint64_t r8;
	uint64_t r9;
	uint64_t r10;
	uint64_t r11;
	uint64_t r12;
	uint64_t r13;
};

/**
 * tdpsim_tdx_seamcall() - execute a SEAMCALL with the registers in @args,
 * exactly as the module sees them, and write the output registers back.
 * Leaves the fake does not model answer OPERAND_INVALID on RAX.
 * @return the completion status (also left in @args->rax)
 */
TDPSIM_API uint64_t tdpsim_tdx_seamcall(struct tdpsim_tdx_module *m,
					struct tdpsim_tdx_args *args);

/**
 * tdpsim_tdx_inject() - the next @count calls of @leaf (a SEAMCALL leaf or
 * TDPSIM_TDG_MEM_PAGE_ACCEPT) return @status without doing anything
 * (`inject seamcall=LEAF status=STATUS count=N`). A later injection on the
 * same leaf replaces this one; @count 0 cancels it.
 * @return 0, or -EINVAL (unknown leaf, or @status is TDX_SUCCESS)
 */
TDPSIM_API int tdpsim_tdx_inject(struct tdpsim_tdx_module *m, uint32_t leaf,
				 uint64_t status, uint64_t count);

/*
 * Typed wrappers, named and shaped after the kernel's
 * (arch/x86/virt/vmx/tdx/tdx.c), with the TD and vCPU identified by the
 * host physical addresses of their TDR and TDVPR pages. @level is a
 * pg_level. Extended error information (ext_err1 = RCX, ext_err2 = RDX out)
 * is written whatever the status, like the kernel's; NULL is allowed.
 */
TDPSIM_API uint64_t tdpsim_tdh_mng_create(struct tdpsim_tdx_module *m,
					  tdpsim_hpa_t tdr, uint16_t hkid);
TDPSIM_API uint64_t tdpsim_tdh_mng_key_config(struct tdpsim_tdx_module *m,
					      tdpsim_hpa_t tdr);
TDPSIM_API uint64_t tdpsim_tdh_mng_addcx(struct tdpsim_tdx_module *m,
					 tdpsim_hpa_t tdr, tdpsim_hpa_t tdcs_page);
/* @sept_levels: the TD's S-EPT levels, 4 or 5 (the fake's stand-in for the
 * TD_PARAMS structure the real leaf reads from memory, passed in RDX). */
TDPSIM_API uint64_t tdpsim_tdh_mng_init(struct tdpsim_tdx_module *m,
					tdpsim_hpa_t tdr, unsigned int sept_levels,
					uint64_t *ext_err);
TDPSIM_API uint64_t tdpsim_tdh_vp_create(struct tdpsim_tdx_module *m,
					 tdpsim_hpa_t tdr, tdpsim_hpa_t tdvpr);
TDPSIM_API uint64_t tdpsim_tdh_vp_addcx(struct tdpsim_tdx_module *m,
					tdpsim_hpa_t tdvpr, tdpsim_hpa_t tdcx_page);
TDPSIM_API uint64_t tdpsim_tdh_vp_init(struct tdpsim_tdx_module *m,
				       tdpsim_hpa_t tdvpr, uint32_t x2apic_id);
TDPSIM_API uint64_t tdpsim_tdh_mem_sept_add(struct tdpsim_tdx_module *m,
					    tdpsim_hpa_t tdr, uint64_t gpa,
					    int level, tdpsim_hpa_t sept_page,
					    uint64_t *ext_err1, uint64_t *ext_err2);
TDPSIM_API uint64_t tdpsim_tdh_mem_page_add(struct tdpsim_tdx_module *m,
					    tdpsim_hpa_t tdr, uint64_t gpa,
					    tdpsim_pfn_t pfn, tdpsim_hpa_t source,
					    uint64_t *ext_err1, uint64_t *ext_err2);
TDPSIM_API uint64_t tdpsim_tdh_mr_extend(struct tdpsim_tdx_module *m,
					 tdpsim_hpa_t tdr, uint64_t gpa,
					 uint64_t *ext_err1, uint64_t *ext_err2);
TDPSIM_API uint64_t tdpsim_tdh_mr_finalize(struct tdpsim_tdx_module *m,
					   tdpsim_hpa_t tdr);
TDPSIM_API uint64_t tdpsim_tdh_mem_page_aug(struct tdpsim_tdx_module *m,
					    tdpsim_hpa_t tdr, uint64_t gpa,
					    int level, tdpsim_pfn_t pfn,
					    uint64_t *ext_err1, uint64_t *ext_err2);
TDPSIM_API uint64_t tdpsim_tdh_mem_range_block(struct tdpsim_tdx_module *m,
					       tdpsim_hpa_t tdr, uint64_t gpa,
					       int level, uint64_t *ext_err1,
					       uint64_t *ext_err2);
TDPSIM_API uint64_t tdpsim_tdh_mem_range_unblock(struct tdpsim_tdx_module *m,
						 tdpsim_hpa_t tdr, uint64_t gpa,
						 int level, uint64_t *ext_err1,
						 uint64_t *ext_err2);
TDPSIM_API uint64_t tdpsim_tdh_mem_track(struct tdpsim_tdx_module *m,
					 tdpsim_hpa_t tdr);
/* RCX out (the removed page's HPA, bit 62 = "the PAMT pair of its 2M region
 * can now be removed") goes to @ext_err1 on success. */
TDPSIM_API uint64_t tdpsim_tdh_mem_page_remove(struct tdpsim_tdx_module *m,
					       tdpsim_hpa_t tdr, uint64_t gpa,
					       int level, uint64_t *ext_err1,
					       uint64_t *ext_err2);
TDPSIM_API uint64_t tdpsim_tdh_mem_sept_remove(struct tdpsim_tdx_module *m,
					       tdpsim_hpa_t tdr, uint64_t gpa,
					       int level, uint64_t *ext_err1,
					       uint64_t *ext_err2);
/* @pamt_pair: the two 4K pages that become the 4K PAMT of the demoted 2M
 * range under Dynamic PAMT (R12, R13); ignored otherwise, may be NULL. */
TDPSIM_API uint64_t tdpsim_tdh_mem_page_demote(struct tdpsim_tdx_module *m,
					       tdpsim_hpa_t tdr, uint64_t gpa,
					       int level, tdpsim_hpa_t new_sept_page,
					       const tdpsim_hpa_t *pamt_pair,
					       uint64_t *ext_err1, uint64_t *ext_err2);
/* VP.ENTER as "the vCPU is now running in the TD": it returns at once with
 * the vCPU in guest mode, counted in the TD epoch it entered; the TD exit
 * is tdpsim_tdx_vp_exit() (or an EPT-violation exit from ACCEPT). */
TDPSIM_API uint64_t tdpsim_tdh_vp_enter(struct tdpsim_tdx_module *m,
					tdpsim_hpa_t tdvpr);
TDPSIM_API uint64_t tdpsim_tdh_vp_flush(struct tdpsim_tdx_module *m,
					tdpsim_hpa_t tdvpr);
TDPSIM_API uint64_t tdpsim_tdh_mng_vpflushdone(struct tdpsim_tdx_module *m,
					       tdpsim_hpa_t tdr);
/* One call per package, as KVM's smp_func_do_phymem_cache_wb(). */
TDPSIM_API uint64_t tdpsim_tdh_phymem_cache_wb(struct tdpsim_tdx_module *m,
					       bool resume);
TDPSIM_API uint64_t tdpsim_tdh_mng_key_freeid(struct tdpsim_tdx_module *m,
					      tdpsim_hpa_t tdr);
TDPSIM_API uint64_t tdpsim_tdh_mng_key_reclaimid(struct tdpsim_tdx_module *m,
						 tdpsim_hpa_t tdr);
/* Out: @ret_type (page type), @ret_owner (TDR), @ret_size (0 = 4K, 1 = 2M);
 * each may be NULL, written whatever the status. */
TDPSIM_API uint64_t tdpsim_tdh_phymem_page_reclaim(struct tdpsim_tdx_module *m,
						   tdpsim_hpa_t page,
						   uint64_t *ret_type,
						   uint64_t *ret_owner,
						   uint64_t *ret_size);
TDPSIM_API uint64_t tdpsim_tdh_phymem_page_wbinvd_hkid(struct tdpsim_tdx_module *m,
						       uint16_t hkid, tdpsim_hpa_t page);
/* The TDR with the module's global key (tdh_phymem_page_wbinvd_tdr()). */
TDPSIM_API uint64_t tdpsim_tdh_phymem_page_wbinvd_tdr(struct tdpsim_tdx_module *m,
						      tdpsim_hpa_t tdr);
/* @base: the 2M-aligned region; @pair: its two 4K PAMT pages. */
TDPSIM_API uint64_t tdpsim_tdh_phymem_pamt_add(struct tdpsim_tdx_module *m,
					       tdpsim_hpa_t base,
					       const tdpsim_hpa_t pair[2]);
/* On success @ret_pair (may be NULL) receives the pair (RDX, R8 out). */
TDPSIM_API uint64_t tdpsim_tdh_phymem_pamt_remove(struct tdpsim_tdx_module *m,
						  tdpsim_hpa_t base,
						  tdpsim_hpa_t ret_pair[2]);

/**
 * tdpsim_tdx_vp_exit() - the TD exit of a vCPU that is in guest mode
 * (an IPI, a kick, any exit): VP.ENTER returns, the vCPU leaves the TD
 * epoch it entered with.
 * @return 0, or -EINVAL if @tdvpr is not a vCPU in guest mode
 */
TDPSIM_API int tdpsim_tdx_vp_exit(struct tdpsim_tdx_module *m, tdpsim_hpa_t tdvpr);

/* ---- the guest: TDG.MEM.PAGE.ACCEPT ---- */

/** What a guest ACCEPT did. */
struct tdpsim_tdx_accept_result {
	uint64_t status;		/* what TDCALL returned to the guest:
					 * SUCCESS, PAGE_ALREADY_ACCEPTED,
					 * PAGE_SIZE_MISMATCH (operand = level
					 * where the walk ended), OPERAND_BUSY
					 * ...; 0 when @exited */
	bool exited;			/* the TDCALL did not return: the vCPU
					 * took an EPT-violation TD exit (and is
					 * no longer in guest mode) */
	uint64_t eeq;			/* the extended exit qualification
					 * reported to KVM: type ACCEPT (1) in
					 * bits 3:0, requested TDX level in
					 * 34:32, level where the walk stopped
					 * in 37:35, its state in 45:38, leaf
					 * in bit 46 */
	int req_level;			/* pg_level the guest asked for */
	int walk_level;			/* pg_level of the entry found */
	uint8_t walk_state;		/* enum tdpsim_sept_state found there */
	bool walk_leaf;
};

/* The EEQ type of an ACCEPT EPT violation (tdx-module.md section 5.8). */
#define TDPSIM_TDX_EEQ_TYPE_ACCEPT 1

/**
 * tdpsim_tdg_mem_page_accept() - the guest running on vCPU @tdvpr (which
 * must be in guest mode: tdpsim_tdh_vp_enter()) accepts [gpa, gpa + size of
 * @level) (pg_level 4K or 2M).
 * @return 0 and @ret_result; -EINVAL if @tdvpr is not a vCPU in guest mode
 */
TDPSIM_API int tdpsim_tdg_mem_page_accept(struct tdpsim_tdx_module *m,
					  tdpsim_hpa_t tdvpr, uint64_t gpa,
					  int level,
					  struct tdpsim_tdx_accept_result *ret_result);

/* ---- inspection (for the checker, `expect sept` and tests) ---- */

/** S-EPT entry states, with the module's public codes (RDX bits 15:8). */
enum tdpsim_sept_state {
	TDPSIM_SEPT_FREE = 0x00,
	TDPSIM_SEPT_BLOCKED = 0x01,
	TDPSIM_SEPT_PENDING = 0x02,
	TDPSIM_SEPT_PENDING_BLOCKED = 0x03,
	TDPSIM_SEPT_MAPPED = 0x04,
	TDPSIM_SEPT_REMOVED = 0x05,
	TDPSIM_SEPT_NL_BLOCKED = 0x81,
	TDPSIM_SEPT_NL_MAPPED = 0x84,
};

/** "FREE", "NL_MAPPED" ... (the trace language's names), or NULL. */
TDPSIM_API const char *tdpsim_sept_state_name(enum tdpsim_sept_state state);

/** The inverse of tdpsim_sept_state_name(): 0 and @ret_state, or -ENOENT. */
TDPSIM_API int tdpsim_sept_state_from_name(const char *name,
					   enum tdpsim_sept_state *ret_state);

/** One S-EPT entry. */
struct tdpsim_sept_entry_info {
	uint64_t gpa;			/* first GPA the entry covers */
	int level;			/* pg_level of the entry (1 = 4K) */
	enum tdpsim_sept_state state;
	tdpsim_hpa_t hpa;		/* leaf: the page; non-leaf: the child
					 * S-EPT page; 0 when FREE */
};

/**
 * tdpsim_tdx_sept_lookup() - walk TD @tdr's S-EPT towards the entry at
 * @level covering @gpa, as the module walks: the result is that entry, or
 * the entry above it where the walk stopped (a leaf, a blocked or a FREE
 * entry), in which case @ret_info->level > @level.
 * @return 0; -ENOENT if there is no such TD or its S-EPT has no root;
 *         -EINVAL for a bad level
 */
TDPSIM_API int tdpsim_tdx_sept_lookup(struct tdpsim_tdx_module *m,
				      tdpsim_hpa_t tdr, uint64_t gpa, int level,
				      struct tdpsim_sept_entry_info *ret_info);

/** Return non-zero to stop an iteration; the iteration returns it. */
typedef int (*tdpsim_sept_entry_fn)(void *opaque,
				    const struct tdpsim_sept_entry_info *e);

/**
 * tdpsim_tdx_sept_for_each() - visit, in pre-order and GPA order, every
 * entry of TD @tdr's S-EPT that is not FREE and overlaps [start, end)
 * (GPAs). @fn runs under the module's lock: it must not call the module.
 * @return 0, @fn's non-zero value, or -ENOENT (no such TD or no root)
 */
TDPSIM_API int tdpsim_tdx_sept_for_each(struct tdpsim_tdx_module *m,
					tdpsim_hpa_t tdr, uint64_t start,
					uint64_t end, tdpsim_sept_entry_fn fn,
					void *opaque);

/** TD lifecycle states (TDR.LIFECYCLE_STATE). */
enum tdpsim_td_lifecycle {
	TDPSIM_TD_HKID_ASSIGNED,	/* after MNG.CREATE */
	TDPSIM_TD_KEYS_CONFIGURED,	/* after KEY.CONFIG on every package */
	TDPSIM_TD_BLOCKED,		/* after MNG.VPFLUSHDONE */
	TDPSIM_TD_TEARDOWN,		/* after MNG.KEY.FREEID: HKID released */
};

/** TD operation states (TDCS.OP_STATE), with the module's values. */
enum tdpsim_td_op_state {
	TDPSIM_TD_OP_UNINITIALIZED = 0,
	TDPSIM_TD_OP_INITIALIZED = 1,	/* after MNG.INIT */
	TDPSIM_TD_OP_RUNNABLE = 2,	/* after MR.FINALIZE */
};

/** A TD as the module sees it. */
struct tdpsim_tdx_td_info {
	enum tdpsim_td_lifecycle lifecycle;
	enum tdpsim_td_op_state op_state;
	uint16_t hkid;
	bool hkid_assigned;		/* lifecycle before TEARDOWN */
	uint64_t epoch;			/* TD epoch (starts at 1) */
	uint32_t refcount[2];		/* vCPUs in guest, by epoch parity */
	uint64_t child_count;		/* TDR.CHLDCNT: 4K pages it owns
					 * (TDCS, TDVPR, TDCX, S-EPT, private) */
	unsigned int nr_tdcs;		/* MNG.ADDCX pages */
	unsigned int nr_vcpus;
	unsigned int nr_associated;	/* vCPUs not flushed */
	unsigned int sept_levels;	/* 4 or 5; 0 before MNG.INIT */
	uint64_t nr_sept_pages;		/* S-EPT pages added (root excluded) */
};

/**
 * tdpsim_tdx_td_info() - read TD @tdr.
 * @return 0, or -ENOENT if @tdr is not a live TDR page
 */
TDPSIM_API int tdpsim_tdx_td_info(struct tdpsim_tdx_module *m, tdpsim_hpa_t tdr,
				  struct tdpsim_tdx_td_info *ret_info);

/** True if @tdr is a TD whose HKID is still assigned (before KEY.FREEID). */
TDPSIM_API bool tdpsim_tdx_hkid_assigned(struct tdpsim_tdx_module *m,
					 tdpsim_hpa_t tdr);

/** TDs the module tracks (TDR pages not yet reclaimed). */
TDPSIM_API unsigned int tdpsim_tdx_nr_tds(struct tdpsim_tdx_module *m);

/** A vCPU as the module sees it. */
struct tdpsim_tdx_vcpu_info {
	tdpsim_hpa_t tdr;
	unsigned int nr_tdcx;
	bool initialized;		/* VP.INIT done */
	bool associated;		/* entered or initialized, not flushed */
	bool in_guest;			/* between VP.ENTER and its exit */
	uint64_t entered_epoch;		/* TD epoch at VP.ENTER, if in guest */
};

/** tdpsim_tdx_vcpu_info() - 0 and @ret_info, or -ENOENT (not a TDVPR). */
TDPSIM_API int tdpsim_tdx_vcpu_info(struct tdpsim_tdx_module *m,
				    tdpsim_hpa_t tdvpr,
				    struct tdpsim_tdx_vcpu_info *ret_info);

/** PAMT page types (tdx-module.md section 4.1). */
enum tdpsim_tdx_page_type {
	TDPSIM_PT_NDA = 0,
	TDPSIM_PT_RSVD = 1,
	TDPSIM_PT_REG = 3,
	TDPSIM_PT_TDR = 4,
	TDPSIM_PT_TDCX = 5,
	TDPSIM_PT_TDVPR = 6,
	TDPSIM_PT_EPT = 8,
	TDPSIM_PT_PAMT = 15,		/* a Dynamic-PAMT pair page */
};

/** One host page's PAMT metadata. */
struct tdpsim_tdx_page_info {
	enum tdpsim_tdx_page_type type;
	tdpsim_hpa_t owner;		/* the owning TD's TDR, 0 if none */
	int level;			/* pg_level of the PAMT entry that
					 * describes it: 2M for a 2M private
					 * page, else 4K */
	bool cache_dirty;		/* released by the TD with its key and
					 * not written back yet (PAGE.WBINVD or
					 * CACHE.WB): policy, not a module rule */
	uint16_t dirty_hkid;		/* the key it is dirty with */
};

/** tdpsim_tdx_page_info() - 0 and @ret_info (PT_NDA for untracked pages);
 * -EINVAL if @hpa is outside the TDMR. */
TDPSIM_API int tdpsim_tdx_page_info(struct tdpsim_tdx_module *m, tdpsim_hpa_t hpa,
				    struct tdpsim_tdx_page_info *ret_info);

/** A 2 MiB host region's PAMT state. */
struct tdpsim_tdx_pamt_region_info {
	tdpsim_hpa_t base;		/* 2M-aligned */
	bool pair;			/* Dynamic PAMT: a 4K PAMT pair installed */
	tdpsim_hpa_t pair_hpa[2];
	unsigned int users;		/* 4K pages of the region assigned to a
					 * TD (the refcount KVM must keep) */
	unsigned int pamt_pages;	/* pages of the region used as some
					 * region's PAMT pair */
	bool mapped_2m;			/* the region is one 2M private page */
};

/** tdpsim_tdx_pamt_region() - the region holding @hpa; 0 and @ret_info
 * (all zero but @base for a region with nothing in it). */
TDPSIM_API int tdpsim_tdx_pamt_region(struct tdpsim_tdx_module *m,
				      tdpsim_hpa_t hpa,
				      struct tdpsim_tdx_pamt_region_info *ret_info);

typedef int (*tdpsim_tdx_region_fn)(void *opaque,
				    const struct tdpsim_tdx_pamt_region_info *r);

/** Visit every region with a pair, users, pair pages or a 2M page, in no
 * particular order, under the module's lock (@fn must not call it). */
TDPSIM_API int tdpsim_tdx_pamt_for_each_region(struct tdpsim_tdx_module *m,
					       tdpsim_tdx_region_fn fn,
					       void *opaque);

/** Live Dynamic-PAMT pairs. */
TDPSIM_API uint64_t tdpsim_tdx_pamt_pairs(struct tdpsim_tdx_module *m);

/** Host pages released with a TD key and not written back since. */
TDPSIM_API uint64_t tdpsim_tdx_dirty_pages(struct tdpsim_tdx_module *m);

/** Calls of @leaf since the module was created (all outcomes). */
TDPSIM_API uint64_t tdpsim_tdx_leaf_calls(struct tdpsim_tdx_module *m, uint32_t leaf);

/** A call that did not return TDX_SUCCESS (errors and warnings). */
struct tdpsim_tdx_failure {
	uint64_t seq;			/* 1, 2, ...: position in the log */
	uint32_t leaf;			/* RAX leaf number (TDCALL flagged) */
	uint32_t version;		/* RAX bits 23:16 */
	uint64_t rcx, rdx, r8, r9, r12, r13;	/* the operands it was given */
	uint64_t status;
	uint64_t ext_rcx, ext_rdx;	/* RCX, RDX out: the entry and
					 * level | state << 8 on S-EPT errors */
	bool injected;			/* by tdpsim_tdx_inject() */
};

/** Failed calls so far: the newest has this seq. */
TDPSIM_API uint64_t tdpsim_tdx_failure_count(struct tdpsim_tdx_module *m);

/**
 * tdpsim_tdx_failure_get() - the failed call number @seq (1-based).
 * @return 0; -ENOENT if there is none yet or it left the log (which keeps
 *         the newest config.failure_log)
 */
TDPSIM_API int tdpsim_tdx_failure_get(struct tdpsim_tdx_module *m, uint64_t seq,
				      struct tdpsim_tdx_failure *ret_failure);

/** Objects of allocation kind @kind the module holds (SEPT: S-EPT pages,
 * PAMT: PAMT bookkeeping, MISC: TDs, vCPUs, logs). */
TDPSIM_API uint64_t tdpsim_tdx_module_alloc_live(struct tdpsim_tdx_module *m,
						 enum tdpsim_alloc_kind kind);

#ifdef __cplusplus
}
#endif

#endif /* TDPSIM_TDX_MODULE_H */
