/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tdpsim.h - the umbrella header: include this, not the parts.
 *
 * tdpsim is a userspace reference model of Linux KVM's x86 TDP MMU and TDX
 * Secure-EPT. See README.md and docs/ for what each part models.
 */
#ifndef TDPSIM_TDPSIM_H
#define TDPSIM_TDPSIM_H

#include <tdpsim/version.h>
#include <tdpsim/types.h>
#include <tdpsim/error.h>
#include <tdpsim/stats.h>
#include <tdpsim/vm.h>
#include <tdpsim/gmem.h>
#include <tdpsim/inspect.h>
#include <tdpsim/observer.h>
#include <tdpsim/check.h>
#include <tdpsim/replay.h>
#include <tdpsim/tdx.h>
#include <tdpsim/tdx_module.h>

#endif /* TDPSIM_TDPSIM_H */
