/*
 * <parse.h>: strict number parsing for the libos (not a C standard header).
 *
 * The whole string must be the number: optional sign (signed only), then decimal digits or
 * 0x/0X and hex digits. Returns 0, ERR_INVAL (empty, stray characters) or ERR_RANGE
 * (does not fit); *out is only written on success.
 */
#ifndef LIBOS_PARSE_H
#define LIBOS_PARSE_H

#include <stdint.h>

int parse_u64(const char *s, uint64_t *out);
int parse_i64(const char *s, int64_t *out);

#endif
