/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A program built against an installed tdpsim with only
 * `pkg-config --cflags --libs tdpsim`: create a VM, map a 2M page, read it
 * back through the inspection API, tear down. Exit 0 on success.
 */
#include <stdio.h>

#include <tdpsim/tdpsim.h>

int main(void)
{
	struct tdpsim_memslot_config slot;
	struct tdpsim_fault_result res;
	struct tdpsim_spte_info leaf;
	struct tdpsim_vm *vm;
	int ret;

	tdpsim_thread_register();
	ret = tdpsim_vm_create(NULL, &vm);
	if (ret) {
		fprintf(stderr, "vm_create: %s\n", tdpsim_strerror(ret));
		return 1;
	}
	tdpsim_memslot_config_init(&slot);
	slot.npages = 512;
	slot.host_page_level = TDPSIM_LEVEL_2M;
	ret = tdpsim_memslot_create(vm, &slot);
	if (!ret)
		ret = tdpsim_vcpu_fault(tdpsim_vm_get_vcpu(vm, 0), 0x42,
					TDPSIM_FAULT_DEFAULT, TDPSIM_ACCESS_WRITE, &res);
	if (!ret)
		ret = tdpsim_vm_lookup_leaf(vm, TDPSIM_ROOT_DIRECT, 0x42, &leaf);
	if (!ret && leaf.level != TDPSIM_LEVEL_2M)
		ret = -1;
	printf("tdpsim %d.%d.%d: gfn 0x42 mapped at %s\n", TDPSIM_VERSION_MAJOR,
	       TDPSIM_VERSION_MINOR, TDPSIM_VERSION_PATCH,
	       ret ? "?" : tdpsim_level_name(leaf.level));
	tdpsim_vm_destroy(vm);
	tdpsim_thread_unregister();
	return ret ? 1 : 0;
}
