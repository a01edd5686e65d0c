/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * memslot.c - memslot creation and deletion (kvm_set_memslot,
 * kvm_invalidate_memslot, kvm_arch_flush_shadow_memslot), lock-free lookup.
 */
#include <errno.h>
#include <string.h>

#include "lpage_info.h"
#include "memslot.h"
#include "mmu.h"
#include "scheduler.h"
#include "vm_gmem.h"

/* Host PFNs are handed out above this, never reused while the VM lives. */
#define HOST_PFN_BASE		(1ULL << 20)
#define HOST_PFN_LIMIT		(1ULL << 40)	/* 52-bit host physical */

struct kvm_memory_slot *search_memslots(struct kvm_memslots *slots, gfn_t gfn,
					unsigned int *hint)
{
	int lo = 0, hi = (int)slots->nr - 1;

	if (hint && *hint < slots->nr) {
		struct kvm_memory_slot *s = slots->slots[*hint];

		if (kvm_memslot_has_gfn(s, gfn))
			return s;
	}
	while (lo <= hi) {
		int mid = lo + (hi - lo) / 2;
		struct kvm_memory_slot *s = slots->slots[mid];

		if (gfn < s->base_gfn) {
			hi = mid - 1;
		} else if (gfn - s->base_gfn >= s->npages) {
			lo = mid + 1;
		} else {
			if (hint)
				*hint = (unsigned int)mid;
			return s;
		}
	}
	return NULL;
}

struct kvm_memory_slot *id_to_memslot(struct kvm *kvm, uint32_t id)
{
	struct kvm_memslots *slots = kvm_memslots(kvm);

	for (unsigned int i = 0; i < slots->nr; i++)
		if (slots->slots[i]->id == id)
			return slots->slots[i];
	return NULL;
}

static size_t memslots_size(unsigned int nr)
{
	return sizeof(struct kvm_memslots) + nr * sizeof(struct kvm_memory_slot *);
}

/* A copy of the current set with @add inserted (by GFN) or @del removed. */
static struct kvm_memslots *memslots_copy(struct kvm *kvm,
					  struct kvm_memory_slot *add,
					  struct kvm_memory_slot *del)
{
	struct kvm_memslots *old = kvm_memslots(kvm), *new;
	unsigned int nr = old->nr + (add ? 1 : 0) - (del ? 1 : 0), n = 0;

	new = alloc_obj(&kvm->alloc, TDPSIM_ALLOC_KIND_MEMSLOT, memslots_size(nr));
	if (!new) {
		counter_inc(&kvm->stats, TDPSIM_STAT_ALLOC_FAIL);
		return NULL;
	}
	for (unsigned int i = 0; i < old->nr; i++) {
		if (add && add->base_gfn < old->slots[i]->base_gfn) {
			new->slots[n++] = add;
			add = NULL;
		}
		if (old->slots[i] != del)
			new->slots[n++] = old->slots[i];
	}
	if (add)
		new->slots[n++] = add;
	new->nr = n;
	return new;
}

/* Publish @new, wait out readers of the old set, free it. */
static void memslots_swap(struct kvm *kvm, struct kvm_memslots *new)
{
	struct kvm_memslots *old = kvm_memslots(kvm);

	atomic_store_explicit(&kvm->memslots, new, memory_order_release);
	tdp_synchronize_rcu();
	free_obj(&kvm->alloc, TDPSIM_ALLOC_KIND_MEMSLOT, old, memslots_size(old->nr));
}

static void memslot_free(struct kvm *kvm, struct kvm_memory_slot *slot)
{
	kvm_free_memslot_metadata(kvm, slot);
	free_obj(&kvm->alloc, TDPSIM_ALLOC_KIND_MEMSLOT, slot, sizeof(*slot));
}

int kvm_memslot_create(struct kvm *kvm, const struct tdpsim_memslot_config *cfg)
{
	struct kvm_memslots *slots, *new;
	struct kvm_memory_slot *slot;
	gfn_t end = cfg->base_gfn + cfg->npages;
	kvm_pfn_t host_pfn;
	int r;

	if (!cfg->npages || end < cfg->base_gfn ||
	    end > tdp_mmu_max_gfn_exclusive(kvm) ||
	    cfg->host_page_level < PG_LEVEL_4K ||
	    cfg->host_page_level > KVM_MAX_HUGEPAGE_LEVEL)
		return -EINVAL;
	/* check_memory_region_flags(): guest_memfd slots cannot be
	 * read-only (nor dirty-logged: dirty_log.c). */
	if (cfg->gmem_id >= 0 && cfg->readonly)
		return -EINVAL;

	kvm_mutex_lock(kvm, &kvm->slots_lock);
	slots = kvm_memslots(kvm);
	for (unsigned int i = 0; i < slots->nr; i++) {
		struct kvm_memory_slot *s = slots->slots[i];

		if (s->id == cfg->id ||
		    (cfg->base_gfn < s->base_gfn + s->npages && s->base_gfn < end)) {
			r = -EEXIST;
			goto out_unlock;
		}
	}

	/* Host memory congruent with the GFNs modulo 1G, never reused. */
	host_pfn = (kvm->next_host_pfn + KVM_PAGES_PER_HPAGE(PG_LEVEL_1G) - 1) &
		   -KVM_PAGES_PER_HPAGE(PG_LEVEL_1G);
	host_pfn += cfg->base_gfn & (KVM_PAGES_PER_HPAGE(PG_LEVEL_1G) - 1);
	if (host_pfn + cfg->npages > HOST_PFN_LIMIT) {
		r = -ENOMEM;
		goto out_unlock;
	}

	slot = alloc_obj(&kvm->alloc, TDPSIM_ALLOC_KIND_MEMSLOT, sizeof(*slot));
	if (!slot) {
		counter_inc(&kvm->stats, TDPSIM_STAT_ALLOC_FAIL);
		r = -ENOMEM;
		goto out_unlock;
	}
	slot->id = cfg->id;
	slot->base_gfn = cfg->base_gfn;
	slot->npages = cfg->npages;
	atomic_init(&slot->flags, cfg->readonly ? KVM_MEM_READONLY : 0);
	slot->host_page_level = cfg->host_page_level;
	slot->gmem_id = cfg->gmem_id;
	slot->gmem_offset = cfg->gmem_offset;
	slot->host_pfn = host_pfn;

	/* kvm_gmem_bind() (kvm_prepare_memory_region). */
	if (slot->gmem_id >= 0) {
		r = kvm_gmem_slot_bind(kvm, slot);
		if (r)
			goto err_free_slot;
	}
	r = kvm_alloc_memslot_metadata(kvm, slot);
	if (r)
		goto err_unbind;
	/* With attrs=gmem the new slot's attributes come from its file. */
	kvm_gmem_attr_slot_begin(slot);
	r = kvm_mmu_init_memslot_memory_attributes(kvm, slot);
	kvm_gmem_attr_slot_end();
	if (r)
		goto err_free_metadata;
	new = memslots_copy(kvm, slot, NULL);
	if (!new) {
		r = -ENOMEM;
		goto err_free_metadata;
	}
	kvm->next_host_pfn = host_pfn + cfg->npages;
	memslots_swap(kvm, new);
	kvm_mutex_unlock(kvm, &kvm->slots_lock);
	return 0;

err_free_metadata:
	kvm_free_memslot_metadata(kvm, slot);
err_unbind:
	kvm_gmem_slot_unbind(kvm, slot);
err_free_slot:
	free_obj(&kvm->alloc, TDPSIM_ALLOC_KIND_MEMSLOT, slot, sizeof(*slot));
out_unlock:
	kvm_mutex_unlock(kvm, &kvm->slots_lock);
	return r;
}

int kvm_memslot_delete(struct kvm *kvm, uint32_t id)
{
	struct kvm_memory_slot *slot;
	struct kvm_memslots *new;
	int r = 0;

	kvm_mutex_lock(kvm, &kvm->slots_lock);
	slot = id_to_memslot(kvm, id);
	if (!slot) {
		r = -ENOENT;
		goto out_unlock;
	}
	/* Allocate first: nothing can fail once the slot is invalid. */
	new = memslots_copy(kvm, NULL, slot);
	if (!new) {
		r = -ENOMEM;
		goto out_unlock;
	}

	/*
	 * kvm_invalidate_memslot(): faults that see the slot from now on
	 * retry; the grace period waits out the ones already past the check
	 * (a fault stays in its RCU section until it leaves mmu_lock).
	 */
	atomic_fetch_or(&slot->flags, KVM_MEMSLOT_INVALID);
	tdp_synchronize_rcu();

	/* kvm_arch_flush_shadow_memslot() */
	kvm_mmu_zap_memslot(kvm, slot);

	memslots_swap(kvm, new);
	/* kvm_free_memslot() -> kvm_gmem_unbind() */
	kvm_gmem_slot_unbind(kvm, slot);
	memslot_free(kvm, slot);
out_unlock:
	kvm_mutex_unlock(kvm, &kvm->slots_lock);
	return r;
}

void kvm_memslots_destroy(struct kvm *kvm)
{
	struct kvm_memslots *slots = atomic_exchange(&kvm->memslots, NULL);

	if (!slots)
		return;
	for (unsigned int i = 0; i < slots->nr; i++)
		memslot_free(kvm, slots->slots[i]);
	free_obj(&kvm->alloc, TDPSIM_ALLOC_KIND_MEMSLOT, slots, memslots_size(slots->nr));
}
