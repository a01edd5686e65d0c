/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * log.h - the optional log callback. The library never prints.
 */
#ifndef TDPSIM_LOG_H
#define TDPSIM_LOG_H

#include <tdpsim/vm.h>

struct tdpsim_log {
	tdpsim_log_fn fn;
	void *opaque;
};

/** Format and pass a message to @log's callback, if any. */
__attribute__((format(printf, 3, 4)))
void tdpsim_logf(const struct tdpsim_log *log, enum tdpsim_log_level level,
		 const char *fmt, ...);

#endif /* TDPSIM_LOG_H */
