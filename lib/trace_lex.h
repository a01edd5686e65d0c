/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * trace_lex.h - the trace language's scalar tokens: numbers, sizes, levels.
 *
 * Tokens are (pointer, length) slices of the input and need not be
 * NUL-terminated. Each lexer returns LEX_OK or the class of problem, and on
 * a problem the byte offset in the token where it was found, so the parser
 * can word a precise message.
 */
#ifndef TDPSIM_TRACE_LEX_H
#define TDPSIM_TRACE_LEX_H

#include <stddef.h>
#include <stdint.h>

enum lex_status {
	LEX_OK,
	LEX_EMPTY,		/* nothing where a number was expected */
	LEX_BAD_DIGIT,		/* a character that is not a digit */
	LEX_NO_HEX_DIGITS,	/* "0x" with nothing after it */
	LEX_LEADING_ZERO,	/* "012": decimals do not start with 0 */
	LEX_OVERFLOW,		/* does not fit in 64 bits */
	LEX_BAD_SUFFIX,		/* a size suffix other than K, M, G, T */
	LEX_BAD_LEVEL,		/* not 4K, 2M, 1G, 1, 2, 3 */
};

/**
 * lex_u64() - an unsigned 64-bit number: decimal ("123", no leading zero
 * unless it is "0") or hex ("0x7b", "0X7B", any case of digits).
 * @param bad_pos on failure, the offset of the offending byte
 */
enum lex_status lex_u64(const char *s, size_t len, uint64_t *ret_val,
			size_t *bad_pos);

/**
 * lex_size() - a byte count: a number with an optional suffix K, M, G or T
 * (powers of 1024), e.g. "2M", "0x10K".
 */
enum lex_status lex_size(const char *s, size_t len, uint64_t *ret_val,
			 size_t *bad_pos);

/**
 * lex_level() - "4K", "2M", "1G", or the kernel's PG_LEVEL values "1",
 * "2", "3". @ret_level is TDPSIM_LEVEL_4K .. TDPSIM_LEVEL_1G.
 */
enum lex_status lex_level(const char *s, size_t len, int *ret_level);

/** True if the slice equals the NUL-terminated @word. */
static inline int lex_eq(const char *s, size_t len, const char *word)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (word[i] == '\0' || word[i] != s[i])
			return 0;
	return word[i] == '\0';
}

#endif /* TDPSIM_TRACE_LEX_H */
