/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vm.c - the VM object (KVM_CREATE_VM, kvm_destroy_vm) and the VM-wide
 * entry points of tdpsim/vm.h and tdpsim/observer.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lpage_info.h"
#include "mem_attrs.h"
#include "memslot.h"
#include "mmu.h"
#include "kvm_tdx.h"
#include "mmu_cache.h"
#include "observe.h"
#include "tdp_mmu.h"
#include "vm_gmem.h"

#ifdef TDPSIM_TSAN
char tdp_rcu_tsan_gp;
char tdp_rcu_tsan_cb;
#endif

/* Shared memory of memslots comes from here up; guest_memfd memory from
 * below (lib/vm_gmem.c), so the two never share a PFN. */
#define HOST_PFN_START	(1ULL << 37)

void tdpsim_vm_config_init(struct tdpsim_vm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->type = TDPSIM_VM_DEFAULT;
	cfg->levels = 4;
	cfg->nr_vcpus = 1;
	cfg->attrs = TDPSIM_ATTRS_VM;
	cfg->alloc = TDPSIM_ALLOC_DEFAULT;
}

void tdpsim_thread_register(void)
{
	tdp_rcu_register_thread();
}

void tdpsim_thread_unregister(void)
{
	tdp_rcu_unregister_thread();
}

static int vm_check_config(const struct tdpsim_vm_config *cfg)
{
	if ((unsigned int)cfg->type > TDPSIM_VM_TDX ||
	    (cfg->levels != 4 && cfg->levels != 5) ||
	    cfg->nr_vcpus < 1 || cfg->nr_vcpus > TDPSIM_MAX_VCPUS ||
	    (unsigned int)cfg->attrs > TDPSIM_ATTRS_GMEM ||
	    (unsigned int)cfg->alloc > TDPSIM_ALLOC_JEMALLOC)
		return -EINVAL;
	/* Attributes on the guest_memfd need private memory. */
	if (cfg->attrs == TDPSIM_ATTRS_GMEM && cfg->type == TDPSIM_VM_DEFAULT)
		return -EINVAL;
	return 0;
}

/* The allocator's hook: every system allocation, for the observer. */
static void kvm_alloc_hook(void *opaque, enum tdpsim_alloc_kind kind, size_t size)
{
	observe_alloc(opaque, kind, size, false);
}

static int kvm_vcpu_create(struct kvm *kvm, unsigned int idx, struct kvm_mmu_page *root)
{
	struct tdpsim_vcpu *v = alloc_obj(&kvm->alloc, TDPSIM_ALLOC_KIND_VM, sizeof(*v));
	struct kvm_vcpu *vcpu;

	if (!v)
		return -ENOMEM;
	vcpu = &v->vcpu;
	vcpu->kvm = kvm;
	vcpu->vcpu_idx = idx;
	vcpu->root = root;
	kvm_mmu_memory_cache_init(&vcpu->mmu_shadow_page_cache, TDPSIM_ALLOC_KIND_PT,
				  true, TDPSIM_PAGE_SIZE, SHADOW_NONPRESENT_VALUE);
	kvm_mmu_memory_cache_init(&vcpu->mmu_page_header_cache, TDPSIM_ALLOC_KIND_SP,
				  false, sizeof(struct kvm_mmu_page), 0);
	kvm->vcpus[idx] = vcpu;
	return 0;
}

static void kvm_vcpu_destroy(struct kvm *kvm, struct kvm_vcpu *vcpu)
{
	kvm_mmu_free_memory_cache(kvm, &vcpu->mmu_shadow_page_cache);
	kvm_mmu_free_memory_cache(kvm, &vcpu->mmu_page_header_cache);
	free_obj(&kvm->alloc, TDPSIM_ALLOC_KIND_VM, container_of(vcpu, struct tdpsim_vcpu, vcpu),
		 sizeof(struct tdpsim_vcpu));
}

/* Everything kvm_destroy_vm() frees; leaves the husk. */
static void kvm_destroy_vm(struct kvm *kvm)
{
	/* kvm_gmem_release() of every file: zap what is bound, unbind. */
	if (kvm->arch.tdp_mmu_roots)
		kvm_gmem_table_release(kvm);
	/* kvm_arch_pre_destroy_vm(): TDX releases the HKID once no private
	 * leaf is left, so the S-EPT pages can be reclaimed below. */
	tdx_mmu_release_hkid(kvm);
	if (kvm->arch.tdp_mmu_roots)
		kvm_mmu_uninit_tdp_mmu(kvm);
	/* tdx_vcpu_free(), tdx_vm_destroy(): the TD's control pages. */
	tdx_vm_destroy(kvm);
	for (unsigned int i = 0; i < TDPSIM_MAX_VCPUS; i++) {
		if (kvm->vcpus[i])
			kvm_vcpu_destroy(kvm, kvm->vcpus[i]);
		kvm->vcpus[i] = NULL;
	}
	kvm_memslots_destroy(kvm);
	kvm_mem_attrs_destroy(kvm);
	/* Nothing maps guest_memfd memory any more: free it. */
	kvm_gmem_table_destroy(kvm);
	/* The RCU callbacks that cleared page->private have all run. */
	tdp_rcu_barrier();
	kvm_memmap_destroy(kvm);
	kvm->dead = true;
}

int tdpsim_vm_create(const struct tdpsim_vm_config *cfg, struct tdpsim_vm **ret_vm)
{
	return kvm_create_vm(cfg, 0, ret_vm);
}

int kvm_create_vm(const struct tdpsim_vm_config *cfg, unsigned int flags,
		  struct tdpsim_vm **ret_vm)
{
	struct tdpsim_vm_config defaults;
	struct kvm_memslots *slots;
	struct kvm_mmu_page *root, *mirror_root = NULL;
	struct tdpsim_vm *vm;
	struct kvm *kvm;
	int r;

	if (!ret_vm)
		return -EINVAL;
	if (!cfg) {
		tdpsim_vm_config_init(&defaults);
		cfg = &defaults;
	}
	r = vm_check_config(cfg);
	if (r)
		return r;
	if ((flags & ~KVM_VM_TEST_MIRROR) ||
	    ((flags & KVM_VM_TEST_MIRROR) && cfg->type != TDPSIM_VM_SW_PROTECTED))
		return -EINVAL;

	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return -ENOMEM;
	kvm = to_kvm(vm);
	kvm->config = *cfg;
	r = allocator_init(&kvm->alloc, cfg->alloc);
	if (r)
		goto err_free_vm;
	counters_init(&kvm->stats);
	policy_init(&kvm->policy);
	kvm->log.fn = cfg->log;
	kvm->log.opaque = cfg->log_opaque;
	r = mmu_lock_init(&kvm->mmu_lock);
	if (r)
		goto err_finish_alloc;
	pthread_mutex_init(&kvm->slots_lock, NULL);
	pthread_mutex_init(&kvm->arch.tdp_mmu_pages_lock, NULL);
	kvm->arch.root_level = (int)cfg->levels;
	kvm->next_host_pfn = HOST_PFN_START;
	kvm->alloc.hook = kvm_alloc_hook;
	kvm->alloc.hook_opaque = kvm;

	slots = alloc_obj(&kvm->alloc, TDPSIM_ALLOC_KIND_MEMSLOT, sizeof(*slots));
	if (!slots) {
		r = -ENOMEM;
		goto err_destroy;
	}
	atomic_init(&kvm->memslots, slots);
	r = kvm_gmem_table_init(kvm);
	if (r)
		goto err_destroy;

	r = kvm_tdp_mmu_alloc_root(kvm, false, &root);
	if (r)
		goto err_destroy;
	if (cfg->type == TDPSIM_VM_TDX) {
		r = tdx_vm_init(kvm);
		if (r)
			goto err_destroy;
	}
	if ((flags & KVM_VM_TEST_MIRROR) || cfg->type == TDPSIM_VM_TDX) {
		kvm->arch.mirrored_tdp = true;
		r = kvm_tdp_mmu_alloc_root(kvm, true, &mirror_root);
		if (r)
			goto err_destroy;
	}
	for (unsigned int i = 0; i < cfg->nr_vcpus; i++) {
		r = kvm_vcpu_create(kvm, i, root);
		if (r)
			goto err_destroy;
		kvm->vcpus[i]->mirror_root = mirror_root;
	}
	*ret_vm = vm;
	return 0;

err_destroy:
	kvm_destroy_vm(kvm);
	tdx_vm_free(kvm);
	pthread_mutex_destroy(&kvm->arch.tdp_mmu_pages_lock);
	pthread_mutex_destroy(&kvm->slots_lock);
	mmu_lock_destroy(&kvm->mmu_lock);
err_finish_alloc:
	allocator_finish(&kvm->alloc);
err_free_vm:
	free(vm);
	return r;
}

void tdpsim_vm_teardown(struct tdpsim_vm *vm)
{
	if (!vm || to_kvm(vm)->dead)
		return;
	kvm_destroy_vm(to_kvm(vm));
}

void tdpsim_vm_destroy(struct tdpsim_vm *vm)
{
	struct kvm *kvm;

	if (!vm)
		return;
	kvm = to_kvm(vm);
	tdpsim_vm_teardown(vm);
	tdx_vm_free(kvm);
	pthread_mutex_destroy(&kvm->arch.tdp_mmu_pages_lock);
	pthread_mutex_destroy(&kvm->slots_lock);
	mmu_lock_destroy(&kvm->mmu_lock);
	allocator_finish(&kvm->alloc);
	free(vm);
}

struct tdpsim_counters *tdpsim_vm_counters(struct tdpsim_vm *vm)
{
	return &to_kvm(vm)->stats;
}

struct tdpsim_vcpu *tdpsim_vm_get_vcpu(struct tdpsim_vm *vm, unsigned int idx)
{
	struct kvm *kvm = to_kvm(vm);

	if (kvm->dead || idx >= kvm->config.nr_vcpus)
		return NULL;
	return container_of(kvm->vcpus[idx], struct tdpsim_vcpu, vcpu);
}

int tdpsim_vm_set_policy(struct tdpsim_vm *vm, const char *key, const char *value)
{
	int r;

	if (to_kvm(vm)->dead)
		return -ENODEV;
	r = policy_set(&to_kvm(vm)->policy, key, value);
	return r == -ENOENT ? -EINVAL : r;
}

void tdpsim_vm_inject_alloc_fail(struct tdpsim_vm *vm, uint64_t after,
				 uint64_t count)
{
	allocator_inject_fail(&to_kvm(vm)->alloc, after, count);
}

void tdpsim_vm_set_observer(struct tdpsim_vm *vm, const struct tdpsim_observer *obs,
			    void *opaque)
{
	struct kvm *kvm = to_kvm(vm);

	if (obs) {
		kvm->obs = *obs;
		kvm->obs_opaque = opaque;
	} else {
		memset(&kvm->obs, 0, sizeof(kvm->obs));
		kvm->obs_opaque = NULL;
	}
}

void tdpsim_memslot_config_init(struct tdpsim_memslot_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->host_page_level = TDPSIM_LEVEL_4K;
	cfg->gmem_id = -1;
}

int tdpsim_memslot_create(struct tdpsim_vm *vm, const struct tdpsim_memslot_config *cfg)
{
	if (!cfg)
		return -EINVAL;
	if (to_kvm(vm)->dead)
		return -ENODEV;
	return kvm_memslot_create(to_kvm(vm), cfg);
}

int tdpsim_memslot_delete(struct tdpsim_vm *vm, uint32_t id)
{
	if (to_kvm(vm)->dead)
		return -ENODEV;
	return kvm_memslot_delete(to_kvm(vm), id);
}

int tdpsim_vm_set_memory_attributes(struct tdpsim_vm *vm, tdpsim_gfn_t gfn,
				    uint64_t npages, bool private_mem)
{
	struct kvm *kvm = to_kvm(vm);

	if (kvm->dead)
		return -ENODEV;
	if (!kvm_gfn_range_mappable(kvm, gfn, npages))
		return -EINVAL;
	/* attrs=gmem: KVM_SET_MEMORY_ATTRIBUTES2 on the files bound there. */
	if (kvm->config.attrs == TDPSIM_ATTRS_GMEM)
		return kvm_gmem_vm_set_attributes(kvm, gfn, gfn + npages, private_mem);
	return kvm_vm_set_mem_attributes(kvm, gfn, gfn + npages, private_mem);
}

bool tdpsim_vm_gfn_is_private(struct tdpsim_vm *vm, tdpsim_gfn_t gfn)
{
	struct kvm *kvm = to_kvm(vm);
	bool ret;

	if (kvm->dead)
		return false;
	tdp_rcu_read_lock();
	ret = kvm_mem_is_private(kvm, gfn);
	tdp_rcu_read_unlock();
	return ret;
}

/*
 * The mmu notifier (kvm_mmu_notifier_invalidate_range_start/end): begin,
 * zap the shared mappings of every memslot the range hits, flush, end.
 */
int tdpsim_vm_invalidate_range(struct tdpsim_vm *vm, tdpsim_gfn_t gfn,
			       uint64_t npages)
{
	struct kvm *kvm = to_kvm(vm);
	struct kvm_memslots *slots;
	bool begun = false, flush = false;
	gfn_t end = gfn + npages;

	if (kvm->dead)
		return -ENODEV;
	if (!npages || end < gfn)
		return -EINVAL;

	kvm_mutex_lock(kvm, &kvm->slots_lock);
	slots = kvm_memslots(kvm);
	for (unsigned int i = 0; i < slots->nr; i++) {
		struct kvm_gfn_range range = { .attr_filter = KVM_FILTER_SHARED };

		if (!kvm_gfn_range_in_slot(slots->slots[i], gfn, end, &range))
			continue;
		if (!begun) {
			mmu_write_lock(kvm);
			kvm_mmu_invalidate_begin(kvm);
			begun = true;
		}
		kvm_mmu_invalidate_range_add(kvm, range.start, range.end);
		flush |= kvm_unmap_gfn_range(kvm, &range);
	}
	if (flush)
		kvm_flush_remote_tlbs(kvm);
	if (begun) {
		mmu_write_unlock(kvm);
		/* invalidate_range_end */
		mmu_write_lock(kvm);
		kvm_mmu_invalidate_end(kvm);
		mmu_write_unlock(kvm);
	}
	kvm_mutex_unlock(kvm, &kvm->slots_lock);
	return 0;
}
