/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * trace_lex.c - numbers, sizes and levels of the trace language.
 */
#include <tdpsim/types.h>

#include "trace_lex.h"

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Scan the digits of a number at the start of @s. Stops at the first byte
 * that is not a digit of the number's base and reports in @ret_end where
 * that is; the caller decides whether what follows is allowed.
 */
static enum lex_status scan_u64(const char *s, size_t len, uint64_t *ret_val,
				size_t *ret_end, size_t *bad_pos)
{
	uint64_t val = 0;
	size_t i;

	if (len == 0) {
		*bad_pos = 0;
		return LEX_EMPTY;
	}
	if (len >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		for (i = 2; i < len; i++) {
			int d = hex_value(s[i]);

			if (d < 0)
				break;
			if (val >> 60) {
				*bad_pos = i;
				return LEX_OVERFLOW;
			}
			val = val << 4 | (uint64_t)d;
		}
		if (i == 2) {
			*bad_pos = 2;
			return LEX_NO_HEX_DIGITS;
		}
	} else {
		if (s[0] < '0' || s[0] > '9') {
			*bad_pos = 0;
			return LEX_BAD_DIGIT;
		}
		for (i = 0; i < len; i++) {
			unsigned int d = (unsigned int)(s[i] - '0');

			if (s[i] < '0' || s[i] > '9')
				break;
			if (i == 1 && s[0] == '0') {
				*bad_pos = 0;
				return LEX_LEADING_ZERO;
			}
			if (val > (UINT64_MAX - d) / 10) {
				*bad_pos = i;
				return LEX_OVERFLOW;
			}
			val = val * 10 + d;
		}
	}
	*ret_val = val;
	*ret_end = i;
	return LEX_OK;
}

enum lex_status lex_u64(const char *s, size_t len, uint64_t *ret_val,
			size_t *bad_pos)
{
	enum lex_status st;
	uint64_t val;
	size_t end;

	st = scan_u64(s, len, &val, &end, bad_pos);
	if (st != LEX_OK)
		return st;
	if (end != len) {
		*bad_pos = end;
		return LEX_BAD_DIGIT;
	}
	*ret_val = val;
	return LEX_OK;
}

static int is_letter(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

enum lex_status lex_size(const char *s, size_t len, uint64_t *ret_val,
			 size_t *bad_pos)
{
	enum lex_status st;
	unsigned int shift;
	uint64_t val;
	size_t end;

	st = scan_u64(s, len, &val, &end, bad_pos);
	if (st != LEX_OK)
		return st;
	if (end == len) {
		*ret_val = val;
		return LEX_OK;
	}
	if (!is_letter(s[end])) {
		*bad_pos = end;
		return LEX_BAD_DIGIT;
	}
	if (end + 1 != len) {
		*bad_pos = end;
		return LEX_BAD_SUFFIX;
	}
	switch (s[end]) {
	case 'K':
		shift = 10;
		break;
	case 'M':
		shift = 20;
		break;
	case 'G':
		shift = 30;
		break;
	case 'T':
		shift = 40;
		break;
	default:
		*bad_pos = end;
		return LEX_BAD_SUFFIX;
	}
	if (val > (UINT64_MAX >> shift)) {
		*bad_pos = 0;
		return LEX_OVERFLOW;
	}
	*ret_val = val << shift;
	return LEX_OK;
}

enum lex_status lex_level(const char *s, size_t len, int *ret_level)
{
	static const struct {
		const char *name;
		int level;
	} levels[] = {
		{ "4K", TDPSIM_LEVEL_4K },
		{ "2M", TDPSIM_LEVEL_2M },
		{ "1G", TDPSIM_LEVEL_1G },
		{ "1", TDPSIM_LEVEL_4K },
		{ "2", TDPSIM_LEVEL_2M },
		{ "3", TDPSIM_LEVEL_1G },
	};

	if (len == 0)
		return LEX_EMPTY;
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		if (lex_eq(s, len, levels[i].name)) {
			*ret_level = levels[i].level;
			return LEX_OK;
		}
	}
	return LEX_BAD_LEVEL;
}
