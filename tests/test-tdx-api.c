/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The public TDX API (tdpsim/tdx.h) as a C test would use it: build a TD,
 * populate, finalize, fault, accept, and read the fake module's S-EPT back;
 * every call refuses a VM that is not TDX. Only public headers are used.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <tdpsim/tdpsim.h>

static struct tdpsim_vm *tdx_vm(void)
{
	struct tdpsim_memslot_config slot;
	struct tdpsim_vm_config cfg;
	struct tdpsim_vm *vm;

	tdpsim_vm_config_init(&cfg);
	cfg.type = TDPSIM_VM_TDX;
	cfg.nr_vcpus = 2;
	assert_int_equal(tdpsim_vm_create(&cfg, &vm), 0);
	assert_int_equal(tdpsim_gmem_create(vm, 0, 4 << 20, TDPSIM_LEVEL_4K, false), 0);
	tdpsim_memslot_config_init(&slot);
	slot.npages = 1024;
	slot.gmem_id = 0;
	assert_int_equal(tdpsim_memslot_create(vm, &slot), 0);
	assert_int_equal(tdpsim_vm_set_memory_attributes(vm, 0, 1024, true), 0);
	return vm;
}

static enum tdpsim_sept_state sept_state(struct tdpsim_vm *vm, tdpsim_gfn_t gfn)
{
	struct tdpsim_sept_entry_info e;
	tdpsim_hpa_t tdr;

	assert_int_equal(tdpsim_vm_tdx_tdr(vm, &tdr), 0);
	assert_int_equal(tdpsim_tdx_sept_lookup(tdpsim_vm_tdx_module(vm), tdr,
						gfn << 12, TDPSIM_LEVEL_4K, &e), 0);
	assert_int_equal(e.level, TDPSIM_LEVEL_4K);
	return e.state;
}

static void test_tdx_api_build_accept(void **state)
{
	struct tdpsim_vm *vm = tdx_vm();
	struct tdpsim_vcpu *vcpu = tdpsim_vm_get_vcpu(vm, 1);
	struct tdpsim_fault_result fr;
	enum tdpsim_accept_result ar;
	struct tdpsim_counters *c = tdpsim_vm_counters(vm);

	(void)state;
	/* Before finalize: PAGE.ADD only; the guest cannot run. */
	assert_int_equal(tdpsim_vm_tdx_populate(vm, 0x10, 2), 0);
	assert_int_equal(tdpsim_counters_get(c, TDPSIM_STAT_SEAMCALL_PAGE_ADD), 2);
	assert_int_equal(sept_state(vm, 0x10), TDPSIM_SEPT_MAPPED);
	assert_int_equal(tdpsim_vcpu_accept(vcpu, 0x20, TDPSIM_LEVEL_4K, &ar), -EINVAL);

	assert_int_equal(tdpsim_vm_tdx_finalize(vm), 0);
	assert_int_equal(tdpsim_counters_get(c, TDPSIM_STAT_SEAMCALL_MR_FINALIZE), 1);
	assert_int_not_equal(tdpsim_vm_tdx_finalize(vm), 0);
	assert_int_not_equal(tdpsim_vm_tdx_populate(vm, 0x30, 1), 0);

	/* A private fault AUGs a PENDING page; the guest's ACCEPT maps it. */
	assert_int_equal(tdpsim_vcpu_fault(vcpu, 0x20, TDPSIM_FAULT_PRIVATE,
					   TDPSIM_ACCESS_WRITE, &fr), 0);
	assert_int_equal(fr.outcome, TDPSIM_FAULT_OK);
	assert_int_equal(sept_state(vm, 0x20), TDPSIM_SEPT_PENDING);
	assert_int_equal(tdpsim_vcpu_accept(vcpu, 0x20, TDPSIM_LEVEL_4K, &ar), 0);
	assert_int_equal(ar, TDPSIM_ACCEPT_OK);
	assert_int_equal(sept_state(vm, 0x20), TDPSIM_SEPT_MAPPED);
	assert_int_equal(tdpsim_vcpu_accept(vcpu, 0x20, TDPSIM_LEVEL_4K, &ar), 0);
	assert_int_equal(ar, TDPSIM_ACCEPT_ALREADY_ACCEPTED);
	/* Misaligned 2M accepts are refused before anything runs. */
	assert_int_equal(tdpsim_vcpu_accept(vcpu, 0x201, TDPSIM_LEVEL_2M, &ar), -EINVAL);

	/* An injected BUSY on AUG is retried inside the fault. */
	assert_int_equal(tdpsim_vm_tdx_inject_seamcall(vm, TDPSIM_TDH_MEM_PAGE_AUG,
						       0x8000020000000000ull, 2), 0);
	assert_int_equal(tdpsim_vcpu_fault(vcpu, 0x21, TDPSIM_FAULT_PRIVATE,
					   TDPSIM_ACCESS_WRITE, &fr), 0);
	assert_int_equal(fr.outcome, TDPSIM_FAULT_OK);
	assert_true(tdpsim_counters_get(c, TDPSIM_STAT_SEAMCALL_BUSY) >= 2);
	assert_int_equal(sept_state(vm, 0x21), TDPSIM_SEPT_PENDING);

	tdpsim_vm_teardown(vm);
	assert_null(tdpsim_vm_tdx_module(vm));
	assert_int_equal(tdpsim_vm_tdx_finalize(vm), -EINVAL);
	tdpsim_vm_destroy(vm);
}

static void test_tdx_api_refuses_non_tdx(void **state)
{
	struct tdpsim_vm *vm;
	enum tdpsim_accept_result ar;
	tdpsim_hpa_t tdr;

	(void)state;
	assert_int_equal(tdpsim_vm_create(NULL, &vm), 0);
	assert_int_equal(tdpsim_vm_tdx_populate(vm, 0, 1), -EINVAL);
	assert_int_equal(tdpsim_vm_tdx_finalize(vm), -EINVAL);
	assert_int_equal(tdpsim_vcpu_accept(tdpsim_vm_get_vcpu(vm, 0), 0,
					    TDPSIM_LEVEL_4K, &ar), -EINVAL);
	assert_int_equal(tdpsim_vm_tdx_inject_seamcall(vm, TDPSIM_TDH_MEM_PAGE_AUG,
						       0x8000020000000000ull, 1), -EINVAL);
	assert_null(tdpsim_vm_tdx_module(vm));
	assert_int_equal(tdpsim_vm_tdx_tdr(vm, &tdr), -EINVAL);
	tdpsim_vm_destroy(vm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tdx_api_build_accept),
		cmocka_unit_test(test_tdx_api_refuses_non_tdx),
	};
	int ret;

	tdpsim_thread_register();
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	tdpsim_thread_unregister();
	return ret;
}
