/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tdpsim/error.h - errors.
 *
 * Every fallible call returns an int: >= 0 on success, a negative errno
 * otherwise (-EINVAL, -ENOMEM, -ENOENT, -EEXIST, -EBUSY ...), as the kernel
 * does. Simulated hardware outcomes (SEAMCALL status, EPT violation exits)
 * are data in out-structures, never errors.
 */
#ifndef TDPSIM_ERROR_H
#define TDPSIM_ERROR_H

#include <tdpsim/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * tdpsim_strerror() - describe a negative errno returned by tdpsim.
 * @param err a value <= 0 returned by a tdpsim call
 * @return a static string; "success" for 0, "unknown error" if not known
 */
TDPSIM_API const char *tdpsim_strerror(int err);

/**
 * tdpsim_errno_name() - the symbolic name of a negative errno, e.g. "EINVAL"
 * for -EINVAL (the trace language's `error:ERRNO` results).
 * @return a static string, or NULL if @err is not one tdpsim uses
 */
TDPSIM_API const char *tdpsim_errno_name(int err);

/**
 * tdpsim_errno_from_name() - the inverse of tdpsim_errno_name().
 * @return the negative errno, or 0 if @name is not known
 */
TDPSIM_API int tdpsim_errno_from_name(const char *name);

#ifdef __cplusplus
}
#endif

#endif /* TDPSIM_ERROR_H */
