/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tdpsim/vm.h - the simulated VM: vCPUs, memslots, memory attributes, dirty
 * logging and the fault path, as KVM's ioctls and EPT violations drive them.
 *
 * Locking: the VM's functions take mmu_lock (and the slots lock) themselves,
 * as the kernel's ioctls do. A thread that calls into a VM must have called
 * tdpsim_thread_register() first (RCU read-side sections need it).
 */
#ifndef TDPSIM_VM_H
#define TDPSIM_VM_H

#include <tdpsim/types.h>
#include <tdpsim/stats.h>

#ifdef __cplusplus
extern "C" {
#endif

struct tdpsim_vm;
struct tdpsim_vcpu;

/** KVM's VM types (KVM_X86_DEFAULT_VM, KVM_X86_SW_PROTECTED_VM, KVM_X86_TDX_VM). */
enum tdpsim_vm_type {
	TDPSIM_VM_DEFAULT,
	TDPSIM_VM_SW_PROTECTED,
	TDPSIM_VM_TDX,
};

/** Where memory attributes live: per VM (KVM_SET_MEMORY_ATTRIBUTES) or on
 * the guest_memfd (in-place conversion, KVM_SET_MEMORY_ATTRIBUTES2). */
enum tdpsim_attrs_mode {
	TDPSIM_ATTRS_VM,
	TDPSIM_ATTRS_GMEM,
};

/** The allocation backend. DEFAULT is jemalloc when built with it, else libc. */
enum tdpsim_alloc_backend {
	TDPSIM_ALLOC_DEFAULT,
	TDPSIM_ALLOC_LIBC,
	TDPSIM_ALLOC_JEMALLOC,
};

/** Log levels for the optional log callback (the library never prints). */
enum tdpsim_log_level {
	TDPSIM_LOG_ERROR,
	TDPSIM_LOG_WARN,
	TDPSIM_LOG_INFO,
	TDPSIM_LOG_DEBUG,
};

typedef void (*tdpsim_log_fn)(void *opaque, enum tdpsim_log_level level,
			      const char *msg);

/** What tdpsim_vm_create() builds. Initialise with tdpsim_vm_config_init(). */
struct tdpsim_vm_config {
	enum tdpsim_vm_type type;	/* default TDPSIM_VM_DEFAULT */
	unsigned int levels;		/* TDP root level, 4 or 5; default 4 */
	unsigned int nr_vcpus;		/* 1 .. TDPSIM_MAX_VCPUS; default 1 */
	enum tdpsim_attrs_mode attrs;	/* default TDPSIM_ATTRS_VM */
	enum tdpsim_alloc_backend alloc; /* default TDPSIM_ALLOC_DEFAULT */
	tdpsim_log_fn log;		/* optional */
	void *log_opaque;
};

#define TDPSIM_MAX_VCPUS 64

/** Fill @cfg with the defaults. */
TDPSIM_API void tdpsim_vm_config_init(struct tdpsim_vm_config *cfg);

/**
 * tdpsim_vm_create() - create a VM (KVM_CREATE_VM plus its vCPUs).
 * @param cfg the configuration; NULL for the defaults
 * @param ret_vm written on success
 * @return 0, -EINVAL for a bad configuration (attrs=gmem needs a type with
 *         private memory), -ENOTSUP for an allocation backend that was not
 *         built, -ENOMEM
 */
TDPSIM_API int tdpsim_vm_create(const struct tdpsim_vm_config *cfg,
				struct tdpsim_vm **ret_vm);

/**
 * tdpsim_vm_teardown() - what kvm_destroy_vm() does: zap and free every
 * root and page table, free memslots, attributes and caches, wait for RCU
 * (urcu barrier). What remains is a husk whose counters, configuration and
 * allocation counts (tdpsim_vm_alloc_live()) can still be read, so the
 * `leak` invariant and `expect stat` can look after a `destroy` record.
 * Every other call on a torn-down VM returns -ENODEV. Idempotent.
 */
TDPSIM_API void tdpsim_vm_teardown(struct tdpsim_vm *vm);

/**
 * tdpsim_vm_destroy() - tdpsim_vm_teardown() if not done yet, then free the
 * husk. Accepts NULL.
 */
TDPSIM_API void tdpsim_vm_destroy(struct tdpsim_vm *vm);

/** The VM's counters (valid until tdpsim_vm_destroy()). */
TDPSIM_API struct tdpsim_counters *tdpsim_vm_counters(struct tdpsim_vm *vm);

/** vCPU @idx of @vm, or NULL if out of range. */
TDPSIM_API struct tdpsim_vcpu *tdpsim_vm_get_vcpu(struct tdpsim_vm *vm,
						  unsigned int idx);

/**
 * tdpsim_vm_set_policy() - choose one side of a design debate
 * (../shared/spec/policies.md), e.g. ("mmu.eager-split", "off").
 * @return 0, or -EINVAL for an unknown key or value
 */
TDPSIM_API int tdpsim_vm_set_policy(struct tdpsim_vm *vm, const char *key,
				    const char *value);

/**
 * tdpsim_vm_inject_alloc_fail() - make the allocation @after + 1 from now,
 * and the @count - 1 after it, fail with -ENOMEM (`inject alloc-fail`).
 */
TDPSIM_API void tdpsim_vm_inject_alloc_fail(struct tdpsim_vm *vm,
					    uint64_t after, uint64_t count);

/* ---- memslots (KVM_SET_USER_MEMORY_REGION2) ---- */

/** A memslot to create. */
struct tdpsim_memslot_config {
	uint32_t id;			/* user-chosen id, unique in the VM */
	tdpsim_gfn_t base_gfn;		/* first GFN */
	uint64_t npages;		/* number of 4 KiB pages, > 0 */
	int host_page_level;		/* host mapping size of shared memory:
					 * TDPSIM_LEVEL_4K (default), 2M or 1G */
	bool readonly;			/* KVM_MEM_READONLY */
	int gmem_id;			/* bound guest_memfd, or -1 (default) */
	uint64_t gmem_offset;		/* byte offset into the guest_memfd */
};

/** Fill @cfg with defaults (4K host pages, not readonly, no guest_memfd). */
TDPSIM_API void tdpsim_memslot_config_init(struct tdpsim_memslot_config *cfg);

/**
 * tdpsim_memslot_create() - add a memslot. With a gmem_id it is bound to
 * that guest_memfd at gmem_offset (kvm_gmem_bind, tdpsim/gmem.h): private
 * memory of its GFNs comes from the file.
 * @return 0; -EEXIST if its id or its GFN range overlaps another slot, or
 *         its file range overlaps another slot's binding; -EINVAL for a bad
 *         range, a guest_memfd that does not exist, an offset not page
 *         aligned or a binding past the end of the file, or a read-only
 *         guest_memfd slot; -ENOMEM
 */
TDPSIM_API int tdpsim_memslot_create(struct tdpsim_vm *vm,
				     const struct tdpsim_memslot_config *cfg);

/**
 * tdpsim_memslot_delete() - delete a memslot: zap all its mappings
 * (kvm_arch_flush_shadow_memslot), unbind its guest_memfd.
 * @return 0, or -ENOENT
 */
TDPSIM_API int tdpsim_memslot_delete(struct tdpsim_vm *vm, uint32_t id);

/**
 * tdpsim_memslot_set_dirty_log() - set or clear KVM_MEM_LOG_DIRTY_PAGES.
 * Enabling splits huge pages eagerly (policy mmu.eager-split) unless
 * @manual (manual-protect with initially-set), then write-protects;
 * disabling recovers huge pages.
 * @return 0; -ENOENT; -EINVAL for a guest_memfd slot; -ENOMEM if an eager
 *         split ran out of memory (the slot is still dirty-logged)
 */
TDPSIM_API int tdpsim_memslot_set_dirty_log(struct tdpsim_vm *vm, uint32_t id,
					    bool on, bool manual);

/**
 * tdpsim_memslot_clear_dirty() - KVM_CLEAR_DIRTY_LOG of the 64 pages from
 * slot page @first (a multiple of 64): split that window (manual-protect),
 * then write-protect the pages set in @mask.
 * @return 0; -ENOENT; -EINVAL (not dirty-logged, @first misaligned or past
 *         the slot); -ENOMEM
 */
TDPSIM_API int tdpsim_memslot_clear_dirty(struct tdpsim_vm *vm, uint32_t id,
					  uint64_t first, uint64_t mask);

/* ---- memory attributes and invalidation ---- */

/**
 * tdpsim_vm_set_memory_attributes() - KVM_SET_MEMORY_ATTRIBUTES: make
 * [gfn, gfn + npages) private or shared. Zaps the mappings of the old kind
 * (private ones precisely in a mirror root: policy split.boundary), stores
 * the attribute, recomputes lpage_info. With attrs=gmem the attributes
 * live on the guest_memfd: the range goes to the files bound there
 * (KVM_SET_MEMORY_ATTRIBUTES2, tdpsim_gmem_set_memory_attributes()),
 * which zaps both kinds of mapping.
 * @return 0; -EINVAL (range, a VM type without private memory, or with
 *         attrs=gmem a GFN without a guest_memfd); -ENOMEM (a split of the
 *         precise zap failed: attributes unchanged)
 */
TDPSIM_API int tdpsim_vm_set_memory_attributes(struct tdpsim_vm *vm,
					       tdpsim_gfn_t gfn, uint64_t npages,
					       bool private_mem);

/** True if @gfn's attribute is private (kvm_mem_is_private()). */
TDPSIM_API bool tdpsim_vm_gfn_is_private(struct tdpsim_vm *vm, tdpsim_gfn_t gfn);

/**
 * tdpsim_vm_invalidate_range() - an mmu-notifier invalidation of shared
 * memory [gfn, gfn + npages) (munmap, host THP split): invalidate start,
 * zap the direct root, invalidate end.
 */
TDPSIM_API int tdpsim_vm_invalidate_range(struct tdpsim_vm *vm,
					  tdpsim_gfn_t gfn, uint64_t npages);

/* ---- the fault path ---- */

/** Which view a fault is for. DEFAULT follows the trace language: private
 * on TDX, the GFN's attribute on sw-protected, shared on default VMs. */
enum tdpsim_fault_kind {
	TDPSIM_FAULT_DEFAULT,
	TDPSIM_FAULT_PRIVATE,
	TDPSIM_FAULT_SHARED,
};

enum tdpsim_access {
	TDPSIM_ACCESS_WRITE,		/* the default */
	TDPSIM_ACCESS_READ,
	TDPSIM_ACCESS_EXEC,
};

/** How a fault ended, as the guest or userspace sees it (data, not errors). */
enum tdpsim_fault_outcome {
	TDPSIM_FAULT_OK,		/* RET_PF_FIXED / SPURIOUS: mapped */
	TDPSIM_FAULT_EXIT_MEMORY_FAULT,	/* KVM_EXIT_MEMORY_FAULT to userspace */
	TDPSIM_FAULT_EMULATE,		/* RET_PF_EMULATE: no memslot (MMIO) */
};

/** What a fault did. */
struct tdpsim_fault_result {
	enum tdpsim_fault_outcome outcome;
	int level;			/* level of the leaf that maps the GFN
					 * afterwards, 0 if none */
	unsigned int retries;		/* internal RET_PF_RETRY loops */
	bool spurious;			/* RET_PF_SPURIOUS */
};

/**
 * tdpsim_vcpu_fault() - an EPT violation on @gfn
 * (kvm_mmu_page_fault -> kvm_tdp_page_fault -> kvm_tdp_mmu_map), retried
 * internally on RET_PF_RETRY up to the mmu.fault-retries policy.
 * @param ret_result written on success
 * @return 0; -ENOMEM (caches could not be filled); -EHWPOISON (a private
 *         fault on a poisoned guest_memfd page); -EAGAIN if the retry
 *         bound was hit (invariant `progress`)
 */
TDPSIM_API int tdpsim_vcpu_fault(struct tdpsim_vcpu *vcpu, tdpsim_gfn_t gfn,
				 enum tdpsim_fault_kind kind,
				 enum tdpsim_access access,
				 struct tdpsim_fault_result *ret_result);

/**
 * tdpsim_vcpu_prefault() - KVM_PRE_FAULT_MEMORY over [gfn, gfn + npages):
 * map every page as a fault of its current attribute would.
 * @param ret_result the result of the first page that did not end
 *        TDPSIM_FAULT_OK, else of the last page
 * @return as tdpsim_vcpu_fault(), for the first page that failed
 */
TDPSIM_API int tdpsim_vcpu_prefault(struct tdpsim_vcpu *vcpu, tdpsim_gfn_t gfn,
				    uint64_t npages,
				    struct tdpsim_fault_result *ret_result);

/** The vCPU's index in its VM. */
TDPSIM_API unsigned int tdpsim_vcpu_index(const struct tdpsim_vcpu *vcpu);

/* ---- threads ---- */

/** Register the calling thread with tdpsim's RCU (urcu-memb). Every thread
 * that calls into a VM must do this once, and unregister before exiting. */
TDPSIM_API void tdpsim_thread_register(void);
TDPSIM_API void tdpsim_thread_unregister(void);

#ifdef __cplusplus
}
#endif

#endif /* TDPSIM_VM_H */
