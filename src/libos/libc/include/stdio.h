/*
 * <stdio.h> for the libos: formatted output to the serial console and to buffers.
 *
 * Conversions: %d %i %u %x %X %o %c %s %p %%, flags - 0 + space #, width and precision (also
 * as *), length modifiers hh h l ll z j t. No floating point (the kernel has none). %p prints
 * 0x... or (nil), %s of NULL prints (null), as glibc does.
 */
#ifndef LIBOS_STDIO_H
#define LIBOS_STDIO_H

#include <stdarg.h>
#include <stddef.h>

#define EOF (-1)

int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
int snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));
int putchar(int c);
int puts(const char *s); /* appends "\n" */

/* The formatting engine: sends the output in pieces to `emit`; returns the total length. */
typedef void (*format_emit_fn)(void *ctx, const char *piece, size_t len);
int vformat(format_emit_fn emit, void *ctx, const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));

#endif
