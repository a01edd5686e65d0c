/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tdpsim/stats.h - named counters, snapshots and differences.
 *
 * Every VM owns one set of counters (struct tdpsim_counters). The trace
 * language's `mark` takes a snapshot and `expect stat NAME OP N` compares
 * the difference since that snapshot. Most counters only grow; a few are
 * gauges (live counts such as pt.live) whose current value is what a user
 * wants to compare, so tdpsim_snapshot_delta() returns a gauge's value as it
 * is now rather than a difference.
 */
#ifndef TDPSIM_STATS_H
#define TDPSIM_STATS_H

#include <tdpsim/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Counter ids. The names (tdpsim_stat_name()) are the trace language's. */
enum tdpsim_stat {
	TDPSIM_STAT_FAULT,		/* "fault": fault events handled */
	TDPSIM_STAT_FAULT_RETRY,	/* "fault.retry": internal RET_PF_RETRY loops */
	TDPSIM_STAT_FAULT_EXIT,		/* "fault.exit": exits to userspace */
	TDPSIM_STAT_FAULT_SPURIOUS,	/* "fault.spurious": RET_PF_SPURIOUS */
	TDPSIM_STAT_MAP_4K,		/* "map.4K": leaf SPTEs installed */
	TDPSIM_STAT_MAP_2M,		/* "map.2M" */
	TDPSIM_STAT_MAP_1G,		/* "map.1G" */
	TDPSIM_STAT_ZAP_4K,		/* "zap.4K": present leaf SPTEs removed */
	TDPSIM_STAT_ZAP_2M,		/* "zap.2M" */
	TDPSIM_STAT_ZAP_1G,		/* "zap.1G" */
	TDPSIM_STAT_SPLIT_2M,		/* "split.2M": 2M leaves split */
	TDPSIM_STAT_SPLIT_1G,		/* "split.1G": 1G leaves split */
	TDPSIM_STAT_RECOVER_2M,		/* "recover.2M": tables collapsed to a 2M leaf */
	TDPSIM_STAT_RECOVER_1G,		/* "recover.1G" */
	TDPSIM_STAT_PT_ALLOC,		/* "pt.alloc": page-table pages allocated */
	TDPSIM_STAT_PT_FREE,		/* "pt.free": page-table pages freed */
	TDPSIM_STAT_PT_LIVE,		/* "pt.live" (gauge): allocated, not yet freed */
	TDPSIM_STAT_TLB_FLUSH,		/* "tlb.flush": remote TLB flushes */
	TDPSIM_STAT_LOCK_READ,		/* "lock.read": mmu_lock read acquisitions */
	TDPSIM_STAT_LOCK_WRITE,		/* "lock.write": mmu_lock write acquisitions */
	TDPSIM_STAT_RCU_FREE,		/* "rcu.free": tables freed by an RCU callback */
	TDPSIM_STAT_ALLOC_FAIL,		/* "alloc.fail": injected allocation failures */
	TDPSIM_STAT_SEAMCALL_PAGE_ADD,	/* "seamcall.PAGE.ADD" */
	TDPSIM_STAT_SEAMCALL_PAGE_AUG,	/* "seamcall.PAGE.AUG" */
	TDPSIM_STAT_SEAMCALL_SEPT_ADD,	/* "seamcall.SEPT.ADD" */
	TDPSIM_STAT_SEAMCALL_RANGE_BLOCK, /* "seamcall.RANGE.BLOCK" */
	TDPSIM_STAT_SEAMCALL_RANGE_UNBLOCK, /* "seamcall.RANGE.UNBLOCK" */
	TDPSIM_STAT_SEAMCALL_MEM_TRACK,	/* "seamcall.MEM.TRACK" */
	TDPSIM_STAT_SEAMCALL_PAGE_REMOVE, /* "seamcall.PAGE.REMOVE" */
	TDPSIM_STAT_SEAMCALL_PAGE_DEMOTE, /* "seamcall.PAGE.DEMOTE" */
	TDPSIM_STAT_SEAMCALL_PAGE_WBINVD, /* "seamcall.PAGE.WBINVD" */
	TDPSIM_STAT_SEAMCALL_PAGE_RECLAIM, /* "seamcall.PAGE.RECLAIM" */
	TDPSIM_STAT_SEAMCALL_SEPT_REMOVE, /* "seamcall.SEPT.REMOVE" */
	TDPSIM_STAT_SEAMCALL_PAMT_ADD,	/* "seamcall.PAMT.ADD" */
	TDPSIM_STAT_SEAMCALL_PAMT_REMOVE, /* "seamcall.PAMT.REMOVE" */
	TDPSIM_STAT_SEAMCALL_MR_FINALIZE, /* "seamcall.MR.FINALIZE" */
	TDPSIM_STAT_SEAMCALL_BUSY,	/* "seamcall.busy": TDX_OPERAND_BUSY answers */
	TDPSIM_STAT_PAMT_PAIRS,		/* "pamt.pairs" (gauge): live Dynamic-PAMT pairs */
	TDPSIM_STAT_GMEM_FOLIOS,	/* "gmem.folios" (gauge): live guest_memfd folios */
	TDPSIM_STAT_LPAGE_INHIBIT,	/* "lpage.inhibit": guest-inhibit flags set */
	TDPSIM_STAT_SPLIT_VISIT,	/* "split.visit": SPTEs a precise
					 * (split.boundary) split looked at */
	TDPSIM_STAT_NR
};

/** The trace-language name of @stat, or NULL if out of range. */
TDPSIM_API const char *tdpsim_stat_name(enum tdpsim_stat stat);

/**
 * tdpsim_stat_from_name() - look a counter up by its trace-language name.
 * @param name e.g. "split.2M"
 * @param ret_stat written on success
 * @return 0, or -ENOENT if there is no such counter
 */
TDPSIM_API int tdpsim_stat_from_name(const char *name, enum tdpsim_stat *ret_stat);

/** True if @stat is a gauge (a live count) rather than an ever-growing count. */
TDPSIM_API bool tdpsim_stat_is_gauge(enum tdpsim_stat stat);

/** A set of counters, owned by a VM (tdpsim_vm_counters()). Opaque. */
struct tdpsim_counters;

/** A point-in-time copy of every counter. Plain data, owned by the caller. */
struct tdpsim_snapshot {
	uint64_t value[TDPSIM_STAT_NR];
};

/** The current value of one counter. */
TDPSIM_API uint64_t tdpsim_counters_get(const struct tdpsim_counters *counters,
					enum tdpsim_stat stat);

/** Copy every counter into @ret_snapshot. */
TDPSIM_API void tdpsim_counters_snapshot(const struct tdpsim_counters *counters,
					 struct tdpsim_snapshot *ret_snapshot);

/**
 * tdpsim_snapshot_delta() - what `expect stat` compares: for a counter, how
 * much it grew from @then to @now; for a gauge, its value in @now.
 */
TDPSIM_API uint64_t tdpsim_snapshot_delta(const struct tdpsim_snapshot *now,
					  const struct tdpsim_snapshot *then,
					  enum tdpsim_stat stat);

#ifdef __cplusplus
}
#endif

#endif /* TDPSIM_STATS_H */
