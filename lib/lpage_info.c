/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * lpage_info.c - sparse per-slot lpage_info and the MIXED bookkeeping.
 */
#include <errno.h>

#include "lpage_info.h"
#include "mem_attrs.h"
#include "scheduler.h"

static struct kvm_lpage_info_level *linfo_level(const struct kvm_memory_slot *slot,
						int level)
{
	return (struct kvm_lpage_info_level *)&slot->lpage_info[level - PG_LEVEL_2M];
}

/* The entry for @gfn, or NULL if its chunk was never allocated. */
static _Atomic uint32_t *lpage_info_slot(const struct kvm_memory_slot *slot,
					 int level, gfn_t gfn)
{
	struct kvm_lpage_info_level *l = linfo_level(slot, level);
	uint64_t idx = gfn_to_index(gfn, slot->base_gfn, level);
	_Atomic uint32_t *chunk;

	if (TDPSIM_WARN_ON_ONCE(idx >= l->nr))
		return NULL;
	chunk = atomic_load_explicit(&l->chunks[idx >> LPAGE_CHUNK_SHIFT],
				     memory_order_acquire);
	return chunk ? &chunk[idx & (LPAGE_CHUNK_ENTRIES - 1)] : NULL;
}

static void observe_lpage(struct kvm *kvm, const struct kvm_memory_slot *slot,
			  int level, gfn_t gfn, bool write)
{
	if (unlikely(kvm->obs.lpage_access))
		kvm->obs.lpage_access(kvm->obs_opaque, slot->id, level,
				      gfn_to_index(gfn, slot->base_gfn, level),
				      write, kvm_lock_mode(kvm));
}

uint32_t lpage_info_peek(const struct kvm_memory_slot *slot, int level, gfn_t gfn)
{
	_Atomic uint32_t *p = lpage_info_slot(slot, level, gfn);

	return p ? atomic_load_explicit(p, memory_order_relaxed) : 0;
}

uint32_t lpage_info_read(struct kvm *kvm, const struct kvm_memory_slot *slot,
			 int level, gfn_t gfn)
{
	sched_point(kvm, SCHED_LPAGE_READ);
	observe_lpage(kvm, slot, level, gfn, false);
	return lpage_info_peek(slot, level, gfn);
}

void lpage_info_write(struct kvm *kvm, struct kvm_memory_slot *slot, int level,
		      gfn_t gfn, uint32_t value)
{
	_Atomic uint32_t *p = lpage_info_slot(slot, level, gfn);

	sched_point(kvm, SCHED_LPAGE_WRITE);
	observe_lpage(kvm, slot, level, gfn, true);
	/* A missing chunk already reads as 0; anything else was prepared. */
	if (TDPSIM_WARN_ON_ONCE(!p && value))
		return;
	if (p)
		atomic_store_explicit(p, value, memory_order_relaxed);
}

int lpage_info_prepare(struct kvm *kvm, struct kvm_memory_slot *slot, int level,
		       gfn_t gfn)
{
	struct kvm_lpage_info_level *l = linfo_level(slot, level);
	uint64_t idx = gfn_to_index(gfn, slot->base_gfn, level);
	_Atomic uint32_t *chunk, *expected = NULL;

	if (TDPSIM_WARN_ON_ONCE(idx >= l->nr))
		return -EINVAL;
	if (atomic_load(&l->chunks[idx >> LPAGE_CHUNK_SHIFT]))
		return 0;
	chunk = alloc_obj(&kvm->alloc, TDPSIM_ALLOC_KIND_LPAGE,
			  LPAGE_CHUNK_ENTRIES * sizeof(*chunk));
	if (!chunk) {
		counter_inc(&kvm->stats, TDPSIM_STAT_ALLOC_FAIL);
		return -ENOMEM;
	}
	if (!atomic_compare_exchange_strong(&l->chunks[idx >> LPAGE_CHUNK_SHIFT],
					    &expected, chunk))
		free_obj(&kvm->alloc, TDPSIM_ALLOC_KIND_LPAGE, chunk,
			 LPAGE_CHUNK_ENTRIES * sizeof(*chunk));
	return 0;
}

int kvm_alloc_memslot_metadata(struct kvm *kvm, struct kvm_memory_slot *slot)
{
	gfn_t last = slot->base_gfn + slot->npages - 1;
	int level, r;

	for (level = PG_LEVEL_2M; level <= KVM_MAX_HUGEPAGE_LEVEL; level++) {
		struct kvm_lpage_info_level *l = linfo_level(slot, level);
		uint64_t mask = KVM_PAGES_PER_HPAGE(level) - 1;

		l->nr = gfn_to_index(last, slot->base_gfn, level) + 1;
		l->nr_chunks = (l->nr + LPAGE_CHUNK_ENTRIES - 1) >> LPAGE_CHUNK_SHIFT;
		l->chunks = alloc_obj(&kvm->alloc, TDPSIM_ALLOC_KIND_LPAGE,
				      l->nr_chunks * sizeof(*l->chunks));
		if (!l->chunks) {
			counter_inc(&kvm->stats, TDPSIM_STAT_ALLOC_FAIL);
			r = -ENOMEM;
			goto err;
		}
		/* Huge pages the slot only partly covers are disallowed. The
		 * host PFNs are congruent with the GFNs modulo 1G, so the
		 * userspace_addr test never disallows a whole slot. */
		if (slot->base_gfn & mask) {
			r = lpage_info_prepare(kvm, slot, level, slot->base_gfn);
			if (r)
				goto err;
			lpage_info_write(kvm, slot, level, slot->base_gfn, 1);
		}
		if ((slot->base_gfn + slot->npages) & mask) {
			r = lpage_info_prepare(kvm, slot, level, last);
			if (r)
				goto err;
			lpage_info_write(kvm, slot, level, last, 1);
		}
	}
	return 0;

err:
	kvm_free_memslot_metadata(kvm, slot);
	return r;
}

void kvm_free_memslot_metadata(struct kvm *kvm, struct kvm_memory_slot *slot)
{
	for (int level = PG_LEVEL_2M; level <= KVM_MAX_HUGEPAGE_LEVEL; level++) {
		struct kvm_lpage_info_level *l = linfo_level(slot, level);

		if (!l->chunks)
			continue;
		for (uint64_t i = 0; i < l->nr_chunks; i++) {
			_Atomic uint32_t *chunk = atomic_load(&l->chunks[i]);

			if (chunk)
				free_obj(&kvm->alloc, TDPSIM_ALLOC_KIND_LPAGE, chunk,
					 LPAGE_CHUNK_ENTRIES * sizeof(*chunk));
		}
		free_obj(&kvm->alloc, TDPSIM_ALLOC_KIND_LPAGE, l->chunks,
			 l->nr_chunks * sizeof(*l->chunks));
		l->chunks = NULL;
	}
}

static void hugepage_set_flag(struct kvm *kvm, struct kvm_memory_slot *slot,
			      gfn_t gfn, int level, uint32_t flag, bool set)
{
	uint32_t v = lpage_info_read(kvm, slot, level, gfn);
	uint32_t nv = set ? v | flag : v & ~flag;

	if (nv != v)
		lpage_info_write(kvm, slot, level, gfn, nv);
}

static bool hugepage_test_mixed(struct kvm *kvm, struct kvm_memory_slot *slot,
				gfn_t gfn, int level)
{
	return lpage_info_read(kvm, slot, level, gfn) & KVM_LPAGE_MIXED_FLAG;
}

void hugepage_set_guest_inhibit(struct kvm *kvm, struct kvm_memory_slot *slot,
				gfn_t gfn, int level)
{
	hugepage_set_flag(kvm, slot, gfn, level, KVM_LPAGE_GUEST_INHIBIT_FLAG, true);
}

/*
 * hugepage_has_attrs() - every GFN of the @level huge page at @gfn is
 * @private: at 2M by the attributes, at 1G by the 512 2M pages' MIXED
 * flags and first GFNs.
 */
static bool hugepage_has_attrs(struct kvm *kvm, struct kvm_memory_slot *slot,
			       gfn_t gfn, int level, bool private_mem)
{
	const uint64_t nr = KVM_PAGES_PER_HPAGE(level);
	gfn_t end = gfn + nr;

	if (level == PG_LEVEL_2M)
		return kvm_range_has_memory_attributes(kvm, gfn, end, private_mem);
	for (gfn_t i = gfn; i < end; i += KVM_PAGES_PER_HPAGE(level - 1)) {
		if (hugepage_test_mixed(kvm, slot, i, level - 1) ||
		    kvm_mem_is_private(kvm, i) != private_mem)
			return false;
	}
	return true;
}

/* Recompute MIXED for the huge page at @gfn, if it lies inside @slot. */
static void hugepage_update_mixed(struct kvm *kvm, struct kvm_memory_slot *slot,
				  gfn_t gfn, int level, bool private_mem)
{
	if (gfn < slot->base_gfn ||
	    gfn + KVM_PAGES_PER_HPAGE(level) > slot->base_gfn + slot->npages)
		return;
	hugepage_set_flag(kvm, slot, gfn, level, KVM_LPAGE_MIXED_FLAG,
			  !hugepage_has_attrs(kvm, slot, gfn, level, private_mem));
}

int kvm_arch_prepare_set_memory_attributes(struct kvm *kvm,
					   struct kvm_memory_slot *slot,
					   gfn_t start, gfn_t end)
{
	for (int level = PG_LEVEL_2M; level <= KVM_MAX_HUGEPAGE_LEVEL; level++) {
		int r = lpage_info_prepare(kvm, slot, level, start);

		if (!r)
			r = lpage_info_prepare(kvm, slot, level, end - 1);
		if (r)
			return r;
	}
	return 0;
}

void kvm_arch_post_set_memory_attributes(struct kvm *kvm,
					 struct kvm_memory_slot *slot,
					 gfn_t start, gfn_t end, bool private_mem)
{
	lockdep_assert_held_write(kvm);

	/* 2M first: the 1G computation reads the 2M flags. */
	for (int level = PG_LEVEL_2M; level <= KVM_MAX_HUGEPAGE_LEVEL; level++) {
		const uint64_t nr = KVM_PAGES_PER_HPAGE(level);
		struct kvm_lpage_info_level *l = linfo_level(slot, level);
		gfn_t gfn = gfn_round_for_level(start, level);

		/* The head page, if the range does not start on it or cover it. */
		if (gfn != start || gfn + nr > end) {
			hugepage_update_mixed(kvm, slot, gfn, level, private_mem);
			gfn += nr;
		}

		/* Pages the range covers have the new attribute throughout.
		 * Chunks never written hold no flag: skip them whole. */
		while (gfn + nr <= end) {
			uint64_t idx = gfn_to_index(gfn, slot->base_gfn, level);

			if (!atomic_load_explicit(&l->chunks[idx >> LPAGE_CHUNK_SHIFT],
						  memory_order_acquire)) {
				uint64_t skip = LPAGE_CHUNK_ENTRIES -
						(idx & (LPAGE_CHUNK_ENTRIES - 1));

				gfn += skip * nr;
				continue;
			}
			hugepage_set_flag(kvm, slot, gfn, level,
					  KVM_LPAGE_MIXED_FLAG, false);
			gfn += nr;
		}

		/* The tail page, if the range ends inside it. */
		if (gfn < end)
			hugepage_update_mixed(kvm, slot, gfn, level, private_mem);
	}
}

/* Huge pages of @slot containing an attribute boundary inside them. */
int kvm_mmu_init_memslot_memory_attributes(struct kvm *kvm,
					   struct kvm_memory_slot *slot)
{
	const gfn_t start = slot->base_gfn, end = start + slot->npages;

	if (!kvm_has_private_mem(kvm))
		return 0;
	for (int level = PG_LEVEL_2M; level <= KVM_MAX_HUGEPAGE_LEVEL; level++) {
		gfn_t b = start;

		/* Every huge page whose attributes are not uniform holds a
		 * boundary b with gfn < b < gfn + nr; walk the boundaries. */
		while ((b = kvm_mem_attr_next_boundary(kvm, b, end)) < end) {
			gfn_t gfn = gfn_round_for_level(b, level);
			int r;

			if (gfn == b)
				continue;
			if (gfn < start ||
			    gfn + KVM_PAGES_PER_HPAGE(level) > end)
				continue;
			r = lpage_info_prepare(kvm, slot, level, gfn);
			if (r)
				return r;
			hugepage_update_mixed(kvm, slot, gfn, level,
					      kvm_mem_is_private(kvm, gfn));
		}
	}
	return 0;
}
