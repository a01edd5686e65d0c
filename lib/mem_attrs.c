/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mem_attrs.c - memory attributes as ranges, and the conversion flow
 * (kvm_vm_set_mem_attributes, kvm_pre_set_memory_attributes,
 * kvm_arch_pre_set_memory_attributes, kvm_arch_post_set_memory_attributes).
 */
#include <errno.h>
#include <stdlib.h>

#include "lpage_info.h"
#include "mem_attrs.h"
#include "memslot.h"
#include "mmu.h"
#include "scheduler.h"
#include "vm_gmem.h"

static struct kvm_mem_attrs *mem_attrs(struct kvm *kvm)
{
	return atomic_load_explicit(&kvm->mem_attrs, memory_order_acquire);
}

/* Index of the last range starting at or before @gfn, or -1. */
static int64_t attr_find(const struct kvm_mem_attrs *a, gfn_t gfn)
{
	int64_t lo = 0, hi = (int64_t)a->nr - 1, found = -1;

	while (lo <= hi) {
		int64_t mid = lo + (hi - lo) / 2;

		if (a->ranges[mid].start <= gfn) {
			found = mid;
			lo = mid + 1;
		} else {
			hi = mid - 1;
		}
	}
	return found;
}

bool kvm_mem_is_private(struct kvm *kvm, gfn_t gfn)
{
	struct kvm_mem_attrs *a = mem_attrs(kvm);
	int64_t i;

	/* attrs=gmem: the attribute lives on the guest_memfd. */
	if (kvm->config.attrs == TDPSIM_ATTRS_GMEM)
		return kvm_gmem_mem_is_private(kvm, gfn);
	if (!a)
		return false;
	i = attr_find(a, gfn);
	return i >= 0 && gfn < a->ranges[i].end;
}

bool kvm_range_has_memory_attributes(struct kvm *kvm, gfn_t start, gfn_t end,
				     bool private_mem)
{
	struct kvm_mem_attrs *a = mem_attrs(kvm);
	int64_t i;

	if (kvm->config.attrs == TDPSIM_ATTRS_GMEM)
		return kvm_gmem_range_has_attributes(kvm, start, end, private_mem);
	if (!a)
		return !private_mem;
	i = attr_find(a, start);
	if (private_mem)
		return i >= 0 && end <= a->ranges[i].end;
	/* Shared: no range overlaps [start, end). */
	if (i >= 0 && start < a->ranges[i].end)
		return false;
	return (uint64_t)(i + 1) >= a->nr || a->ranges[i + 1].start >= end;
}

gfn_t kvm_mem_attr_next_boundary(struct kvm *kvm, gfn_t gfn, gfn_t limit)
{
	struct kvm_mem_attrs *a = mem_attrs(kvm);
	int64_t i;

	if (kvm->config.attrs == TDPSIM_ATTRS_GMEM)
		return kvm_gmem_attr_next_boundary(kvm, gfn, limit);
	if (!a)
		return limit;
	i = attr_find(a, gfn);
	if (i >= 0 && gfn < a->ranges[i].end)
		return a->ranges[i].end < limit ? a->ranges[i].end : limit;
	if ((uint64_t)(i + 1) < a->nr && a->ranges[i + 1].start < limit)
		return a->ranges[i + 1].start;
	return limit;
}

static void mem_attrs_free(struct kvm *kvm, struct kvm_mem_attrs *a)
{
	if (a)
		free_obj(&kvm->alloc, TDPSIM_ALLOC_KIND_ATTR, a, a->alloc_size);
}

/* The set @old with [start, end) made @private, merged. */
static int mem_attrs_build(struct kvm *kvm, const struct kvm_mem_attrs *old,
			   gfn_t start, gfn_t end, bool private_mem,
			   struct kvm_mem_attrs **ret_new)
{
	uint64_t old_nr = old ? old->nr : 0, n = 0;
	size_t size = sizeof(struct kvm_mem_attrs) +
		      (old_nr + 2) * sizeof(struct kvm_mem_attr_range);
	struct kvm_mem_attrs *a = alloc_obj(&kvm->alloc, TDPSIM_ALLOC_KIND_ATTR, size);
	bool inserted = !private_mem;

	if (!a) {
		counter_inc(&kvm->stats, TDPSIM_STAT_ALLOC_FAIL);
		return -ENOMEM;
	}
	a->alloc_size = size;

	/* Append @r, merging with the previous range if they touch. */
#define APPEND(s, e)							\
	do {								\
		if (n && a->ranges[n - 1].end >= (s)) {			\
			if (a->ranges[n - 1].end < (e))			\
				a->ranges[n - 1].end = (e);		\
		} else {						\
			a->ranges[n].start = (s);			\
			a->ranges[n].end = (e);				\
			n++;						\
		}							\
	} while (0)

	for (uint64_t i = 0; i < old_nr; i++) {
		const struct kvm_mem_attr_range *r = &old->ranges[i];

		if (!inserted && r->start >= start) {
			APPEND(start, end);
			inserted = true;
		}
		if (r->start < start)
			APPEND(r->start, r->end < start ? r->end : start);
		if (r->end > end)
			APPEND(r->start > end ? r->start : end, r->end);
	}
	if (!inserted)
		APPEND(start, end);
#undef APPEND

	a->nr = n;
	*ret_new = a;
	return 0;
}

void kvm_mem_attrs_destroy(struct kvm *kvm)
{
	mem_attrs_free(kvm, atomic_exchange(&kvm->mem_attrs, NULL));
}

int kvm_vm_set_mem_attributes(struct kvm *kvm, gfn_t start, gfn_t end,
			      bool private_mem)
{
	struct kvm_mem_attrs *old, *new;
	struct kvm_memslots *slots;
	struct kvm_gfn_range range;
	bool begun = false, flush = false, cache = false;
	int r = 0;

	if (!kvm_has_private_mem(kvm))
		return -EINVAL;

	kvm_mutex_lock(kvm, &kvm->slots_lock);
	if (kvm_range_has_memory_attributes(kvm, start, end, private_mem))
		goto out_unlock;

	old = mem_attrs(kvm);
	r = mem_attrs_build(kvm, old, start, end, private_mem, &new);
	if (r)
		goto out_unlock;

	/* Everything the post phase writes is allocated before any change,
	 * as the kernel reserves its xarray entries first. */
	slots = kvm_memslots(kvm);
	for (unsigned int i = 0; i < slots->nr; i++) {
		if (!kvm_gfn_range_in_slot(slots->slots[i], start, end, &range))
			continue;
		r = kvm_arch_prepare_set_memory_attributes(kvm, slots->slots[i],
							   range.start, range.end);
		if (r) {
			mem_attrs_free(kvm, new);
			goto out_unlock;
		}
	}
	/* Private -> shared may split mirror huge pages under mmu_lock: their
	 * pages are taken now (the VM's cache, no vCPU here). */
	if (!private_mem) {
		r = kvm_mmu_get_external_cache(kvm, NULL);
		if (r) {
			mem_attrs_free(kvm, new);
			goto out_unlock;
		}
		cache = true;
	}

	/* Pre: begin the invalidation and zap the mappings of the old kind. */
	for (unsigned int i = 0; i < slots->nr; i++) {
		if (!kvm_gfn_range_in_slot(slots->slots[i], start, end, &range))
			continue;
		if (!begun) {
			mmu_write_lock(kvm);
			kvm_mmu_invalidate_begin(kvm);
			begun = true;
		}
		kvm_mmu_invalidate_range_add(kvm, range.start, range.end);
		range.attr_filter = private_mem ? KVM_FILTER_SHARED : KVM_FILTER_PRIVATE;
		/* P-YZ3: private -> shared in a mirror root splits the
		 * boundaries first; if that fails the conversion stops (slots
		 * done so far stay zapped, attributes unchanged). */
		r = kvm_unmap_gfn_range_precise(kvm, &range, false, &flush);
		if (r)
			break;
	}
	if (flush)
		kvm_flush_remote_tlbs(kvm);
	if (r) {
		kvm_mmu_invalidate_end(kvm);
		mmu_write_unlock(kvm);
		if (cache)
			kvm_mmu_put_external_cache(kvm);
		mem_attrs_free(kvm, new);
		goto out_unlock;
	}
	if (begun)
		mmu_write_unlock(kvm);
	if (cache)
		kvm_mmu_put_external_cache(kvm);

	/* Store. The invalidation stays in progress until the end below. */
	atomic_store_explicit(&kvm->mem_attrs, new, memory_order_release);

	/* Post: end the invalidation, recompute lpage_info. */
	if (begun) {
		mmu_write_lock(kvm);
		kvm_mmu_invalidate_end(kvm);
		for (unsigned int i = 0; i < slots->nr; i++)
			if (kvm_gfn_range_in_slot(slots->slots[i], start, end, &range))
				kvm_arch_post_set_memory_attributes(kvm, slots->slots[i],
								    range.start,
								    range.end,
								    private_mem);
		mmu_write_unlock(kvm);
	}
	kvm_mutex_unlock(kvm, &kvm->slots_lock);

	/* Readers of the old set are gone after a grace period. */
	tdp_synchronize_rcu();
	mem_attrs_free(kvm, old);
	return 0;

out_unlock:
	kvm_mutex_unlock(kvm, &kvm->slots_lock);
	return r;
}
