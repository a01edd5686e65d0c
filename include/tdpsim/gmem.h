/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tdpsim/gmem.h - guest_memfd files of a VM (KVM_CREATE_GUEST_MEMFD),
 * fallocate, memory failure and in-place attributes, and what the checker
 * reads of them.
 *
 * A file is named by a small ID chosen by the caller (the trace language's
 * `gmem ID`). Memslots bind to it with tdpsim_memslot_config.gmem_id and
 * gmem_offset (kvm_gmem_bind). Private faults on a bound GFN map the file's
 * folios; punching a hole, poisoning a page or converting attributes zaps
 * what maps the range first (precisely in a mirror root: policy
 * split.boundary). Files live until tdpsim_vm_teardown(), which closes
 * them (zapping everything bound) and frees their memory.
 *
 * Every call takes the locks it needs; see tdpsim/vm.h.
 */
#ifndef TDPSIM_GMEM_API_H
#define TDPSIM_GMEM_API_H

#include <tdpsim/types.h>
#include <tdpsim/vm.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * tdpsim_gmem_create() - KVM_CREATE_GUEST_MEMFD: a file of @size bytes.
 * With the VM's attrs=gmem its attributes live in it (in-place conversion).
 * @param id the caller's name for it, unique in the VM
 * @param size bytes, > 0, 4 KiB aligned
 * @param huge_level the largest folio: TDPSIM_LEVEL_4K (or 0), 2M or 1G;
 *        a folio that size is used wherever the file range is aligned
 * @param init_shared GUEST_MEMFD_FLAG_INIT_SHARED: memory starts shared
 * @return 0; -EEXIST (@id taken); -EINVAL (size, level); -ENOMEM; -ENODEV
 */
TDPSIM_API int tdpsim_gmem_create(struct tdpsim_vm *vm, uint32_t id, uint64_t size,
				  int huge_level, bool init_shared);

/**
 * tdpsim_gmem_allocate() - fallocate(KEEP_SIZE) of [offset, offset + len):
 * allocate folios, mapping nothing.
 * @return 0; -ENOENT (no file @id); -EINVAL (unaligned, empty, past the
 *         end); -ENOMEM (what was allocated stays)
 */
TDPSIM_API int tdpsim_gmem_allocate(struct tdpsim_vm *vm, uint32_t id,
				    uint64_t offset, uint64_t len);

/**
 * tdpsim_gmem_punch_hole() - fallocate(PUNCH_HOLE | KEEP_SIZE): zap what
 * maps the range (in a mirror root: split the huge leaves straddling its
 * ends first, as policy split.boundary says), then free its folios,
 * splitting a folio only partly inside. The part past the end of the file
 * is ignored.
 * @return 0; -ENOENT; -EINVAL (unaligned, empty); -ENOMEM (a split could
 *         not get memory: nothing was zapped or freed)
 */
TDPSIM_API int tdpsim_gmem_punch_hole(struct tdpsim_vm *vm, uint32_t id,
				      uint64_t offset, uint64_t len);

/**
 * tdpsim_gmem_poison() - memory failure of the 4 KiB page at @offset:
 * isolate it (split its folio), zap only what maps it (precisely in a
 * mirror root), free nothing. A later private fault on it fails with
 * -EHWPOISON; punching it retires it.
 * @return 0; -ENOENT (no file, or no page allocated there); -EINVAL
 *         (unaligned, past the end); -EHWPOISON (already poisoned);
 *         -ENOMEM (nothing done)
 */
TDPSIM_API int tdpsim_gmem_poison(struct tdpsim_vm *vm, uint32_t id,
				  uint64_t offset);

/**
 * tdpsim_gmem_set_memory_attributes() - KVM_SET_MEMORY_ATTRIBUTES2 on the
 * file (attrs=gmem VMs only): make [offset, offset + len) private or
 * shared. Zaps both kinds of mapping of the bound GFNs (the private ones
 * precisely in a mirror root), splits folios straddling the ends, stores
 * the attribute, merges folios back on conversion to private, recomputes
 * lpage_info. tdpsim_vm_set_memory_attributes() routes GFNs here.
 * @return 0; -ENOENT; -EINVAL (not attrs=gmem, unaligned, empty, past the
 *         end); -ENOMEM (nothing changed)
 */
TDPSIM_API int tdpsim_gmem_set_memory_attributes(struct tdpsim_vm *vm, uint32_t id,
						 uint64_t offset, uint64_t len,
						 bool private_mem);

/** A folio of a guest_memfd, as the checker sees it. */
struct tdpsim_gmem_folio {
	uint64_t index;			/* its first file page */
	int level;			/* its size: TDPSIM_LEVEL_4K, 2M or 1G */
	tdpsim_pfn_t pfn;		/* its first PFN, aligned to its size */
	bool poisoned;			/* memory failure: never map it */
	bool uptodate;			/* handed out (cleared) at least once */
	bool live;			/* the host page at the asked index is
					 * allocated host memory */
};

/**
 * tdpsim_gmem_folio() - the folio of file @id holding page @index.
 * Safe from an observer callback.
 * @return 0 and @ret_folio; -ENOENT (no such file, or a hole there);
 *         -ENODEV
 */
TDPSIM_API int tdpsim_gmem_folio(struct tdpsim_vm *vm, uint32_t id, uint64_t index,
				 struct tdpsim_gmem_folio *ret_folio);

#ifdef __cplusplus
}
#endif

#endif /* TDPSIM_GMEM_API_H */
