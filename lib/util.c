/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * util.c - level names, the WARN_ON_ONCE sink and the log callback.
 */
#include <stdarg.h>
#include <stdio.h>

#include <tdpsim/types.h>

#include "internal.h"
#include "log.h"

const char *tdpsim_level_name(int level)
{
	static const char *const names[] = { "?", "4K", "2M", "1G", "512G", "256T" };

	if (level < 1 || level > 5)
		return "?";
	return names[level];
}

/*
 * A WARN is a model bug, never bad input. Debug builds (NDEBUG unset) abort
 * so a test fails at the line that found it; release builds go on.
 */
void tdpsim_warn(const char *file, int line, const char *cond)
{
#ifndef NDEBUG
	fprintf(stderr, "tdpsim: WARN_ON_ONCE(%s) at %s:%d\n", cond, file, line);
	abort();
#else
	(void)file;
	(void)line;
	(void)cond;
#endif
}

void tdpsim_logf(const struct tdpsim_log *log, enum tdpsim_log_level level,
		 const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	if (!log || !log->fn)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log->fn(log->opaque, level, buf);
}
