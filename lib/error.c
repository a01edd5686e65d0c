/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * error.c - names and descriptions of the negative errnos tdpsim returns.
 */
#include <errno.h>
#include <string.h>

#include <tdpsim/error.h>

#include "internal.h"

static const struct {
	int err;
	const char *name;
	const char *desc;
} errnos[] = {
	{ EPERM, "EPERM", "operation not permitted" },
	{ ENOENT, "ENOENT", "no such object" },
	{ EINTR, "EINTR", "interrupted" },
	{ EIO, "EIO", "I/O error" },
	{ E2BIG, "E2BIG", "argument too large" },
	{ EAGAIN, "EAGAIN", "try again (retry bound reached)" },
	{ ENOMEM, "ENOMEM", "out of memory" },
	{ EFAULT, "EFAULT", "bad address" },
	{ EBUSY, "EBUSY", "busy (lost a compare-and-swap)" },
	{ EEXIST, "EEXIST", "already exists or overlaps" },
	{ ENODEV, "ENODEV", "no such device (VM torn down)" },
	{ EINVAL, "EINVAL", "invalid argument" },
	{ ENOSPC, "ENOSPC", "no space left" },
	{ ERANGE, "ERANGE", "out of range" },
	{ ENOSYS, "ENOSYS", "not implemented" },
	{ EOVERFLOW, "EOVERFLOW", "value too large" },
	{ ENOTSUP, "ENOTSUP", "not supported in this build" },
	{ EHWPOISON, "EHWPOISON", "memory page has hardware error" },
};

const char *tdpsim_strerror(int err)
{
	if (err == 0)
		return "success";
	for (size_t i = 0; i < ARRAY_SIZE(errnos); i++)
		if (-errnos[i].err == err)
			return errnos[i].desc;
	return "unknown error";
}

const char *tdpsim_errno_name(int err)
{
	for (size_t i = 0; i < ARRAY_SIZE(errnos); i++)
		if (-errnos[i].err == err)
			return errnos[i].name;
	return NULL;
}

int tdpsim_errno_from_name(const char *name)
{
	if (!name)
		return 0;
	for (size_t i = 0; i < ARRAY_SIZE(errnos); i++)
		if (!strcmp(errnos[i].name, name))
			return -errnos[i].err;
	return 0;
}
