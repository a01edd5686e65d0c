/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vm_gmem.c - guest_memfd wired into the VM (virt/kvm/guest_memfd.c's KVM
 * side, arch/x86/kvm/mmu/mmu.c's private fault): the files of a VM and
 * their host memory, kvm_gmem_bind()/kvm_gmem_unbind() for memslots, the
 * invalidation callbacks (__kvm_gmem_invalidate_start/end ->
 * kvm_mmu_invalidate_start, kvm_mmu_unmap_gfn_range, kvm_mmu_invalidate_end),
 * kvm_mmu_faultin_pfn_private(), and the memory attributes of attrs=gmem
 * VMs (in-place conversion, KVM_SET_MEMORY_ATTRIBUTES2), plus the public
 * tdpsim/gmem.h calls.
 *
 * The data model (files, folios, bindings, punch, poison, attributes) is
 * lib/gmem.c; this file only connects it to the MMU.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <tdpsim/gmem.h>

#include "gmem.h"
#include "lpage_info.h"
#include "memslot.h"
#include "mmu.h"
#include "observe.h"
#include "vm_gmem.h"

/*
 * guest_memfd memory comes from [HOST_MEM_BASE_PFN, GMEM_HOST_LIMIT_PFN);
 * shared memory of memslots is handed out above it (lib/vm.c), so a PFN
 * says which kind of memory it is.
 */
#define GMEM_HOST_LIMIT_PFN	(1ULL << 37)

/* One file of the VM. */
struct gmem_entry {
	uint32_t id;			/* the caller's name for it */
	struct kvm_gmem *gmem;		/* the file */
};

/* The VM's files (kvm->gmems). */
struct kvm_gmem_table {
	pthread_mutex_t lock;		/* guards @e and @nr; a leaf lock */
	struct host_mem host;		/* the PFNs behind every file */
	struct gmem_entry *e;		/* @nr files, in creation order */
	unsigned int nr;
	unsigned int cap;		/* entries allocated */
};

/* ---- the table ---- */

int kvm_gmem_table_init(struct kvm *kvm)
{
	struct kvm_gmem_table *t;

	t = alloc_obj(&kvm->alloc, TDPSIM_ALLOC_KIND_GMEM, sizeof(*t));
	if (!t)
		return -ENOMEM;
	if (pthread_mutex_init(&t->lock, NULL)) {
		free_obj(&kvm->alloc, TDPSIM_ALLOC_KIND_GMEM, t, sizeof(*t));
		return -ENOMEM;
	}
	if (host_mem_init(&t->host, &kvm->alloc, TDPSIM_ALLOC_KIND_GMEM)) {
		pthread_mutex_destroy(&t->lock);
		free_obj(&kvm->alloc, TDPSIM_ALLOC_KIND_GMEM, t, sizeof(*t));
		return -ENOMEM;
	}
	t->host.limit = GMEM_HOST_LIMIT_PFN;
	kvm->gmems = t;
	return 0;
}

struct kvm_gmem *kvm_gmem_lookup(struct kvm *kvm, uint32_t id)
{
	struct kvm_gmem_table *t = kvm->gmems;
	struct kvm_gmem *gmem = NULL;

	if (!t)
		return NULL;
	pthread_mutex_lock(&t->lock);
	for (unsigned int i = 0; i < t->nr; i++) {
		if (t->e[i].id == id) {
			gmem = t->e[i].gmem;
			break;
		}
	}
	pthread_mutex_unlock(&t->lock);
	return gmem;
}

void kvm_gmem_table_release(struct kvm *kvm)
{
	struct kvm_gmem_table *t = kvm->gmems;

	if (!t)
		return;
	/* No file is created during teardown: the array is stable. */
	for (unsigned int i = 0; i < t->nr; i++)
		kvm_gmem_release(t->e[i].gmem);
}

void kvm_gmem_table_destroy(struct kvm *kvm)
{
	struct kvm_gmem_table *t = kvm->gmems;

	if (!t)
		return;
	for (unsigned int i = 0; i < t->nr; i++)
		kvm_gmem_destroy(t->e[i].gmem);
	if (t->e)
		free_obj(&kvm->alloc, TDPSIM_ALLOC_KIND_GMEM, t->e,
			 t->cap * sizeof(*t->e));
	host_mem_finish(&t->host);
	pthread_mutex_destroy(&t->lock);
	free_obj(&kvm->alloc, TDPSIM_ALLOC_KIND_GMEM, t, sizeof(*t));
	kvm->gmems = NULL;
}

/* ---- the invalidation callbacks ---- */

/* A bound range of an invalidation as a zap range with its filter
 * (GMEM_FILTER_* are KVM_FILTER_*). */
static struct kvm_gfn_range inv_range(const struct gmem_gfn_range *r,
				      const struct gmem_invalidation *inv)
{
	return (struct kvm_gfn_range){
		.start = r->start,
		.end = r->end,
		.attr_filter = inv->filter,
		.may_block = true,
	};
}

/*
 * vm_gmem_begin() - __kvm_gmem_invalidate_start() for this VM: mmu_lock
 * for write once, kvm_mmu_invalidate_start(), every bound range added to
 * the invalidation, then zapped in the roots the filter selects
 * (kvm_mmu_unmap_gfn_range; GMEM_FILTER_* are KVM_FILTER_*), a flush, and
 * the lock dropped. The invalidation stays in progress until end().
 *
 * Choice: the range added to the invalidation is widened to whole 1G
 * pages. The file splits the folios straddling the range only after this
 * returns, so until end() a fault just outside the range could still get
 * the whole huge folio (max_order) and map a huge leaf over pages being
 * freed or converted; mmu_invalidate_retry_gfn() on the widened range
 * makes it retry instead, as if the whole folios being split had been
 * invalidated. Only the range itself is zapped.
 *
 * In a mirror root the private zap is precise: every range's boundaries
 * are split first (kvm_gmem_split_private of P-YZ3), and only if all
 * splits succeed is anything zapped, so a failed split (-ENOMEM) leaves
 * the mappings as they were and aborts a punch or conversion. A memory
 * failure or release cannot be refused: it zaps anyway.
 */
static int vm_gmem_begin(void *opaque, const struct gmem_invalidation *inv)
{
	struct kvm *kvm = opaque;
	bool must = inv->reason == GMEM_INVALIDATE_ERROR ||
		    inv->reason == GMEM_INVALIDATE_RELEASE;
	struct gmem_range_iter it;
	struct gmem_gfn_range r;
	struct kvm_gfn_range range;
	bool flush = false, precise = false;
	int ret, cache_ret;

	/*
	 * The pages a split of a mirror huge page needs are taken before
	 * mmu_lock (no vCPU here: the VM's cache, tdx.split-cache). If that
	 * fails, a precise zap that may refuse stops as a failed split would;
	 * one that may not goes on (its splits run dry).
	 */
	cache_ret = kvm_mmu_get_external_cache(kvm, NULL);
	ret = 0;
	mmu_write_lock(kvm);
	kvm_mmu_invalidate_begin(kvm);
	gmem_invalidation_for_each_range(&it, &r, inv) {
		const int top = KVM_MAX_HUGEPAGE_LEVEL;

		range = inv_range(&r, inv);
		kvm_mmu_invalidate_range_add(kvm, gfn_round_for_level(range.start, top),
					     gfn_round_for_level(range.end - 1, top) +
					     KVM_PAGES_PER_HPAGE(top));
		precise = kvm_gfn_range_is_precise(kvm, &range);
	}

	if (precise) {
		gmem_invalidation_for_each_range(&it, &r, inv)
			observe_private_zap(kvm, r.start, r.end, TDPSIM_ZAP_BEGIN);
		ret = cache_ret;
		gmem_invalidation_for_each_range(&it, &r, inv) {
			if (ret)
				break;
			range = inv_range(&r, inv);
			ret = kvm_split_cross_boundary_leafs(kvm, &range);
		}
		if (ret && !must) {
			gmem_invalidation_for_each_range(&it, &r, inv)
				observe_private_zap(kvm, r.start, r.end,
						    TDPSIM_ZAP_ABORTED);
			mmu_write_unlock(kvm);
			if (!cache_ret)
				kvm_mmu_put_external_cache(kvm);
			return ret;
		}
	}
	gmem_invalidation_for_each_range(&it, &r, inv) {
		range = inv_range(&r, inv);
		flush |= kvm_unmap_gfn_range(kvm, &range);
	}
	if (flush)
		kvm_flush_remote_tlbs(kvm);
	if (precise) {
		gmem_invalidation_for_each_range(&it, &r, inv)
			observe_private_zap(kvm, r.start, r.end, TDPSIM_ZAP_DONE);
	}
	mmu_write_unlock(kvm);
	if (!cache_ret)
		kvm_mmu_put_external_cache(kvm);
	return ret;
}

/*
 * vm_gmem_end() - kvm_gmem_invalidate_end(): kvm_mmu_invalidate_end(). A
 * conversion has stored its attribute by now, so lpage_info's MIXED flags
 * of the bound ranges are recomputed from the file
 * (kvm_arch_post_set_memory_attributes), under the same lock. The caller
 * of a conversion prepared the lpage_info chunks this writes.
 */
static void vm_gmem_end(void *opaque, const struct gmem_invalidation *inv)
{
	struct kvm *kvm = opaque;
	struct gmem_range_iter it;
	struct gmem_gfn_range r;

	mmu_write_lock(kvm);
	kvm_mmu_invalidate_end(kvm);
	if (inv->reason == GMEM_INVALIDATE_CONVERT) {
		tdp_rcu_read_lock();
		gmem_invalidation_for_each_range(&it, &r, inv) {
			struct kvm_memory_slot *slot = id_to_memslot(kvm, r.slot_id);

			if (slot)
				kvm_arch_post_set_memory_attributes(kvm, slot, r.start,
								    r.end,
								    inv->to_private);
		}
		tdp_rcu_read_unlock();
	}
	mmu_write_unlock(kvm);
}

static const struct gmem_invalidate_ops vm_gmem_ops = {
	.begin = vm_gmem_begin,
	.end = vm_gmem_end,
};

/* ---- memslots ---- */

int kvm_gmem_slot_bind(struct kvm *kvm, struct kvm_memory_slot *slot)
{
	struct kvm_gmem *gmem;
	int r;

	gmem = kvm_gmem_lookup(kvm, (uint32_t)slot->gmem_id);
	if (!gmem)
		return -EINVAL;
	r = kvm_gmem_bind(gmem, slot->id, slot->base_gfn, slot->npages,
			  slot->gmem_offset);
	if (r)
		return r;
	slot->gmem = gmem;
	slot->gmem_pgoff = slot->gmem_offset >> PAGE_SHIFT;
	return 0;
}

void kvm_gmem_slot_unbind(struct kvm *kvm, struct kvm_memory_slot *slot)
{
	(void)kvm;
	/* -ENOENT after a release, which dropped every binding already. */
	if (slot->gmem)
		(void)kvm_gmem_unbind(slot->gmem, slot->id, slot->gmem_pgoff);
}

/* ---- faults ---- */

static int order_to_level(int order)
{
	if (order >= GMEM_ORDER_1G)
		return PG_LEVEL_1G;
	if (order >= GMEM_ORDER_2M)
		return PG_LEVEL_2M;
	return PG_LEVEL_4K;
}

/*
 * A mapping at @level needs the GFN and the file index congruent modulo
 * the level (then GFN and PFN are, as folios are aligned in both): lower
 * @level until they are. Binding at an offset not congruent with the base
 * GFN gives 4K mappings.
 */
static int gmem_align_level(gfn_t gfn, uint64_t index, int level)
{
	while (level > PG_LEVEL_4K &&
	       ((gfn ^ index) & (KVM_PAGES_PER_HPAGE(level) - 1)))
		level--;
	return level;
}

int kvm_mmu_faultin_pfn_private(struct kvm_vcpu *vcpu, struct kvm_page_fault *fault)
{
	struct kvm_memory_slot *slot = fault->slot;
	uint64_t index;
	kvm_pfn_t pfn;
	int order, r;

	(void)vcpu;
	if (!kvm_slot_can_be_private(slot) || !slot->gmem)
		return -EFAULT;
	index = kvm_gmem_get_index(slot->base_gfn, slot->gmem_pgoff, fault->gfn);
	r = kvm_gmem_get_pfn(slot->gmem, slot->id, index, &pfn, &order);
	switch (r) {
	case 0:
		break;
	case -EAGAIN:
		/* Inside a punch or conversion in progress. */
		return RET_PF_RETRY;
	case -EIO:
	case -EHWPOISON:
	case -ENOMEM:
		return r;
	default:
		/* -EFAULT: the file is closed. */
		return -EFAULT;
	}
	fault->pfn = pfn;
	fault->map_writable = true;
	/* kvm_max_private_mapping_level(): the folio, no vendor limit. */
	fault->max_level = gmem_align_level(fault->gfn, index, order_to_level(order));
	return RET_PF_CONTINUE;
}

int kvm_gmem_max_private_level(struct kvm_memory_slot *slot, gfn_t gfn)
{
	uint64_t index;
	int order;

	if (!slot->gmem)
		return PG_LEVEL_4K;
	index = kvm_gmem_get_index(slot->base_gfn, slot->gmem_pgoff, gfn);
	if (kvm_gmem_max_mapping_order(slot->gmem, index, &order))
		return PG_LEVEL_4K;
	return gmem_align_level(gfn, index, order_to_level(order));
}

/* ---- attributes on the guest_memfd (attrs=gmem) ---- */

/* The slot being created on this thread, not yet published. */
static _Thread_local struct kvm_memory_slot *attr_new_slot;

void kvm_gmem_attr_slot_begin(struct kvm_memory_slot *slot)
{
	attr_new_slot = slot;
}

void kvm_gmem_attr_slot_end(void)
{
	attr_new_slot = NULL;
}

/*
 * The slot holding @gfn, else NULL and in *@ret_next the first GFN after
 * @gfn where a slot starts (or ~0). Slots are sorted by GFN.
 */
static struct kvm_memory_slot *attr_slot(struct kvm *kvm, gfn_t gfn, gfn_t *ret_next)
{
	struct kvm_memslots *slots = kvm_memslots(kvm);
	struct kvm_memory_slot *s = attr_new_slot;
	gfn_t next = ~(gfn_t)0;

	if (kvm_memslot_has_gfn(s, gfn))
		return s;
	if (s && s->base_gfn > gfn)
		next = s->base_gfn;
	s = search_memslots(slots, gfn, NULL);
	if (s)
		return s;
	for (unsigned int i = 0; i < slots->nr; i++) {
		if (slots->slots[i]->base_gfn > gfn) {
			if (slots->slots[i]->base_gfn < next)
				next = slots->slots[i]->base_gfn;
			break;
		}
	}
	*ret_next = next;
	return NULL;
}

/*
 * attr_run() - the attribute of @gfn and the end of the run from @gfn with
 * it, as far as one slot or one gap between slots goes.
 */
static gfn_t attr_run(struct kvm *kvm, gfn_t gfn, bool *ret_private)
{
	struct kvm_memory_slot *slot;
	gfn_t next = ~(gfn_t)0;
	uint64_t index, end;

	slot = attr_slot(kvm, gfn, &next);
	*ret_private = false;
	if (!slot)
		return next;
	if (!slot->gmem)
		return slot->base_gfn + slot->npages;
	index = kvm_gmem_get_index(slot->base_gfn, slot->gmem_pgoff, gfn);
	if (kvm_gmem_get_attributes(slot->gmem, index, &end, ret_private))
		return slot->base_gfn + slot->npages;
	if (end > slot->gmem_pgoff + slot->npages)
		end = slot->gmem_pgoff + slot->npages;
	return slot->base_gfn + (end - slot->gmem_pgoff);
}

bool kvm_gmem_mem_is_private(struct kvm *kvm, gfn_t gfn)
{
	struct kvm_memory_slot *slot;
	gfn_t next;

	slot = attr_slot(kvm, gfn, &next);
	if (!slot || !slot->gmem)
		return false;
	return kvm_gmem_is_private_mem(slot->gmem,
				       kvm_gmem_get_index(slot->base_gfn,
							  slot->gmem_pgoff, gfn));
}

bool kvm_gmem_range_has_attributes(struct kvm *kvm, gfn_t start, gfn_t end,
				   bool private_mem)
{
	while (start < end) {
		bool priv;
		gfn_t run_end = attr_run(kvm, start, &priv);

		if (priv != private_mem)
			return false;
		if (run_end <= start)
			break;
		start = run_end;
	}
	return true;
}

gfn_t kvm_gmem_attr_next_boundary(struct kvm *kvm, gfn_t gfn, gfn_t limit)
{
	bool first, priv;
	gfn_t end = attr_run(kvm, gfn, &first);

	while (end < limit && end > gfn) {
		gfn = end;
		end = attr_run(kvm, gfn, &priv);
		if (priv != first)
			return gfn;
	}
	return end < limit ? end : limit;
}

/*
 * gmem_convert_locked() - KVM_SET_MEMORY_ATTRIBUTES2 on @gmem, slots_lock
 * held: prepare the lpage_info chunks of every bound range (the end()
 * callback writes them under mmu_lock), then kvm_gmem_set_attributes().
 */
static int gmem_convert_locked(struct kvm *kvm, struct kvm_gmem *gmem,
			       uint64_t offset, uint64_t len, bool private_mem)
{
	uint64_t s = offset >> PAGE_SHIFT, e = (offset + len) >> PAGE_SHIFT;
	struct gmem_range_iter it;
	struct gmem_gfn_range r;
	int ret;

	if ((offset | len) & (PAGE_SIZE - 1) || !len || offset + len < offset)
		return -EINVAL;
	/* slots_lock keeps the bindings as they are. */
	gmem_for_each_bound_range(&it, &r, gmem, s, e) {
		struct kvm_memory_slot *slot = id_to_memslot(kvm, r.slot_id);

		if (!slot)
			continue;
		ret = kvm_arch_prepare_set_memory_attributes(kvm, slot, r.start, r.end);
		if (ret)
			return ret;
	}
	return kvm_gmem_set_attributes(gmem, offset, len, private_mem);
}

int kvm_gmem_vm_set_attributes(struct kvm *kvm, gfn_t start, gfn_t end,
			       bool private_mem)
{
	struct kvm_memslots *slots;
	gfn_t gfn = start;
	int r = 0;

	kvm_mutex_lock(kvm, &kvm->slots_lock);
	slots = kvm_memslots(kvm);
	/* Every GFN must be backed by a guest_memfd. */
	while (gfn < end) {
		struct kvm_memory_slot *slot = search_memslots(slots, gfn, NULL);

		if (!slot || !slot->gmem) {
			r = -EINVAL;
			goto out;
		}
		gfn = slot->base_gfn + slot->npages;
	}
	for (gfn = start; gfn < end && !r;) {
		struct kvm_memory_slot *slot = search_memslots(slots, gfn, NULL);
		gfn_t e = slot->base_gfn + slot->npages;

		if (e > end)
			e = end;
		r = gmem_convert_locked(kvm, slot->gmem,
					kvm_gmem_get_index(slot->base_gfn,
							   slot->gmem_pgoff, gfn) << PAGE_SHIFT,
					(e - gfn) << PAGE_SHIFT, private_mem);
		gfn = e;
	}
out:
	kvm_mutex_unlock(kvm, &kvm->slots_lock);
	return r;
}

/* ---- the public API (tdpsim/gmem.h) ---- */

/* The live VM behind @vm and file @id: 0, -ENODEV or -ENOENT. */
static int gmem_get(struct tdpsim_vm *vm, uint32_t id, struct kvm **ret_kvm,
		    struct kvm_gmem **ret_gmem)
{
	struct kvm *kvm;

	if (!vm)
		return -EINVAL;
	kvm = to_kvm(vm);
	if (kvm->dead)
		return -ENODEV;
	*ret_gmem = kvm_gmem_lookup(kvm, id);
	if (!*ret_gmem)
		return -ENOENT;
	*ret_kvm = kvm;
	return 0;
}

int tdpsim_gmem_create(struct tdpsim_vm *vm, uint32_t id, uint64_t size,
		       int huge_level, bool init_shared)
{
	struct kvm_gmem_config cfg = {
		.size = size,
		.huge_level = huge_level,
		.init_shared = init_shared,
		.ops = &vm_gmem_ops,
	};
	struct kvm_gmem_table *t;
	struct kvm_gmem *gmem;
	struct kvm *kvm;
	int r = 0;

	if (!vm)
		return -EINVAL;
	kvm = to_kvm(vm);
	if (kvm->dead)
		return -ENODEV;
	t = kvm->gmems;
	cfg.in_place = kvm->config.attrs == TDPSIM_ATTRS_GMEM;
	cfg.ops_opaque = kvm;

	pthread_mutex_lock(&t->lock);
	for (unsigned int i = 0; i < t->nr; i++) {
		if (t->e[i].id == id) {
			r = -EEXIST;
			goto out;
		}
	}
	if (t->nr == t->cap) {
		unsigned int cap = t->cap ? 2 * t->cap : 4;
		struct gmem_entry *e = alloc_obj(&kvm->alloc, TDPSIM_ALLOC_KIND_GMEM,
						 cap * sizeof(*e));

		if (!e) {
			r = -ENOMEM;
			goto out;
		}
		if (t->e) {
			memcpy(e, t->e, t->nr * sizeof(*e));
			free_obj(&kvm->alloc, TDPSIM_ALLOC_KIND_GMEM, t->e,
				 t->cap * sizeof(*e));
		}
		t->e = e;
		t->cap = cap;
	}
	r = kvm_gmem_create(&kvm->alloc, &t->host, &kvm->stats, &cfg, &gmem);
	if (r)
		goto out;
	t->e[t->nr].id = id;
	t->e[t->nr].gmem = gmem;
	t->nr++;
out:
	pthread_mutex_unlock(&t->lock);
	if (r == -ENOMEM)
		counter_inc(&kvm->stats, TDPSIM_STAT_ALLOC_FAIL);
	return r;
}

int tdpsim_gmem_allocate(struct tdpsim_vm *vm, uint32_t id, uint64_t offset,
			 uint64_t len)
{
	struct kvm_gmem *gmem;
	struct kvm *kvm;
	int r = gmem_get(vm, id, &kvm, &gmem);

	return r ? r : kvm_gmem_allocate(gmem, offset, len);
}

int tdpsim_gmem_punch_hole(struct tdpsim_vm *vm, uint32_t id, uint64_t offset,
			   uint64_t len)
{
	struct kvm_gmem *gmem;
	struct kvm *kvm;
	int r = gmem_get(vm, id, &kvm, &gmem);

	return r ? r : kvm_gmem_punch_hole(gmem, offset, len);
}

int tdpsim_gmem_poison(struct tdpsim_vm *vm, uint32_t id, uint64_t offset)
{
	struct kvm_gmem *gmem;
	struct kvm *kvm;
	int r = gmem_get(vm, id, &kvm, &gmem);

	if (r)
		return r;
	if (offset & (PAGE_SIZE - 1))
		return -EINVAL;
	return kvm_gmem_error_folio(gmem, offset >> PAGE_SHIFT);
}

int tdpsim_gmem_set_memory_attributes(struct tdpsim_vm *vm, uint32_t id,
				      uint64_t offset, uint64_t len, bool private_mem)
{
	struct kvm_gmem *gmem;
	struct kvm *kvm;
	int r = gmem_get(vm, id, &kvm, &gmem);

	if (r)
		return r;
	if (kvm->config.attrs != TDPSIM_ATTRS_GMEM)
		return -EINVAL;
	kvm_mutex_lock(kvm, &kvm->slots_lock);
	r = gmem_convert_locked(kvm, gmem, offset, len, private_mem);
	kvm_mutex_unlock(kvm, &kvm->slots_lock);
	return r;
}

int tdpsim_gmem_folio(struct tdpsim_vm *vm, uint32_t id, uint64_t index,
		      struct tdpsim_gmem_folio *ret_folio)
{
	struct gmem_folio_info info;
	struct kvm_gmem *gmem;
	struct kvm *kvm;
	int r = gmem_get(vm, id, &kvm, &gmem);

	if (r)
		return r;
	if (index >= kvm_gmem_npages(gmem) || kvm_gmem_folio_lookup(gmem, index, &info))
		return -ENOENT;
	ret_folio->index = info.index;
	ret_folio->level = order_to_level((int)info.order);
	ret_folio->pfn = info.pfn;
	ret_folio->poisoned = info.flags & GMEM_FOLIO_HWPOISON;
	ret_folio->uptodate = info.flags & GMEM_FOLIO_UPTODATE;
	ret_folio->live = host_mem_is_live(&kvm->gmems->host,
					   info.pfn + (index - info.index));
	return 0;
}
