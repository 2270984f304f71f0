/*
 * libc/format.c: the printf family.
 *
 * vformat() walks the format once and hands each piece (literal text, padding, a converted
 * argument) to an emit callback: printf's emits to the console, snprintf's into a buffer
 * (truncating, always NUL-terminated, returning the untruncated length as C requires).
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "console/console.h"

enum length { LEN_INT, LEN_CHAR, LEN_SHORT, LEN_LONG, LEN_LONG_LONG, LEN_SIZE, LEN_MAX, LEN_PTRDIFF };

struct spec {
    bool left;      /* '-' */
    bool zero;      /* '0' */
    bool plus;      /* '+' */
    bool space;     /* ' ' */
    bool alternate; /* '#' */
    int width;      /* -1: none */
    int precision;  /* -1: none */
    enum length length;
};

struct out {
    format_emit_fn emit;
    void *ctx;
    int total;
};

static void emit(struct out *out, const char *s, size_t n) {
    if (n == 0) return;
    out->emit(out->ctx, s, n);
    out->total += (int)n;
}

static void emit_repeat(struct out *out, char c, int count) {
    char chunk[32];
    memset(chunk, c, sizeof(chunk));
    while (count > 0) {
        int n = count < (int)sizeof(chunk) ? count : (int)sizeof(chunk);
        emit(out, chunk, (size_t)n);
        count -= n;
    }
}

/* Emits `body` (len bytes) after `prefix`, padded to the spec's width. `zero_ok`: the '0' flag
 * may pad with zeros between the prefix and the body (numbers without a precision). */
static void emit_padded(struct out *out, const struct spec *spec, const char *prefix, const char *body,
                        size_t len, bool zero_ok) {
    int prefix_len = (int)strlen(prefix);
    int pad = spec->width - prefix_len - (int)len;
    if (pad < 0) pad = 0;
    if (spec->left) {
        emit(out, prefix, (size_t)prefix_len);
        emit(out, body, len);
        emit_repeat(out, ' ', pad);
    } else if (spec->zero && zero_ok) {
        emit(out, prefix, (size_t)prefix_len);
        emit_repeat(out, '0', pad);
        emit(out, body, len);
    } else {
        emit_repeat(out, ' ', pad);
        emit(out, prefix, (size_t)prefix_len);
        emit(out, body, len);
    }
}

/* `prefix`: the sign or the '#' form's "0x"/"0X"/"0" (octal's "0" is dropped when the digits
 * already start with 0). */
static void format_integer(struct out *out, const struct spec *spec, unsigned long long value,
                           unsigned base, bool upper, const char *prefix) {
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char buf[72]; /* digits of a 64-bit value in octal, plus precision zeros up to 64 */
    int len = 0;
    char *end = buf + sizeof(buf);
    while (value != 0) {
        *--end = digits[value % base];
        value /= base;
        len++;
    }
    int min_digits = spec->precision >= 0 ? spec->precision : 1;
    if (min_digits > 64) min_digits = 64;
    while (len < min_digits) {
        *--end = '0';
        len++;
    }
    if (prefix == NULL || (base == 8 && end[0] == '0')) prefix = "";
    emit_padded(out, spec, prefix, end, (size_t)len, spec->precision < 0);
}

static unsigned long long unsigned_arg(va_list *ap, enum length length) {
    switch (length) {
    case LEN_CHAR: return (unsigned char)va_arg(*ap, unsigned int);
    case LEN_SHORT: return (unsigned short)va_arg(*ap, unsigned int);
    case LEN_LONG: return va_arg(*ap, unsigned long);
    case LEN_LONG_LONG: return va_arg(*ap, unsigned long long);
    case LEN_SIZE: return va_arg(*ap, size_t);
    case LEN_MAX: return va_arg(*ap, uintmax_t);
    case LEN_PTRDIFF: return (unsigned long long)va_arg(*ap, ptrdiff_t);
    default: return va_arg(*ap, unsigned int);
    }
}

static long long signed_arg(va_list *ap, enum length length) {
    switch (length) {
    case LEN_CHAR: return (signed char)va_arg(*ap, int);
    case LEN_SHORT: return (short)va_arg(*ap, int);
    case LEN_LONG: return va_arg(*ap, long);
    case LEN_LONG_LONG: return va_arg(*ap, long long);
    case LEN_SIZE: return (long long)va_arg(*ap, size_t);
    case LEN_MAX: return va_arg(*ap, intmax_t);
    case LEN_PTRDIFF: return va_arg(*ap, ptrdiff_t);
    default: return va_arg(*ap, int);
    }
}

int vformat(format_emit_fn emit_fn, void *ctx, const char *fmt, va_list ap_in) {
    struct out out = {.emit = emit_fn, .ctx = ctx, .total = 0};
    va_list ap;
    va_copy(ap, ap_in);
    while (*fmt) {
        if (*fmt != '%') {
            const char *start = fmt;
            while (*fmt && *fmt != '%') fmt++;
            emit(&out, start, (size_t)(fmt - start));
            continue;
        }
        const char *conversion_start = fmt;
        fmt++;
        struct spec spec = {.width = -1, .precision = -1, .length = LEN_INT};
        for (;; fmt++) {
            if (*fmt == '-') spec.left = true;
            else if (*fmt == '0') spec.zero = true;
            else if (*fmt == '+') spec.plus = true;
            else if (*fmt == ' ') spec.space = true;
            else if (*fmt == '#') spec.alternate = true;
            else break;
        }
        if (*fmt == '*') {
            spec.width = va_arg(ap, int);
            if (spec.width < 0) {
                spec.left = true;
                spec.width = -spec.width;
            }
            fmt++;
        } else {
            while (*fmt >= '0' && *fmt <= '9') {
                spec.width = (spec.width < 0 ? 0 : spec.width) * 10 + (*fmt - '0');
                fmt++;
            }
        }
        if (*fmt == '.') {
            fmt++;
            if (*fmt == '*') {
                spec.precision = va_arg(ap, int);
                if (spec.precision < 0) spec.precision = -1;
                fmt++;
            } else {
                spec.precision = 0;
                while (*fmt >= '0' && *fmt <= '9') spec.precision = spec.precision * 10 + (*fmt++ - '0');
            }
        }
        switch (*fmt) {
        case 'h':
            fmt++;
            if (*fmt == 'h') { spec.length = LEN_CHAR; fmt++; } else spec.length = LEN_SHORT;
            break;
        case 'l':
            fmt++;
            if (*fmt == 'l') { spec.length = LEN_LONG_LONG; fmt++; } else spec.length = LEN_LONG;
            break;
        case 'z': spec.length = LEN_SIZE; fmt++; break;
        case 'j': spec.length = LEN_MAX; fmt++; break;
        case 't': spec.length = LEN_PTRDIFF; fmt++; break;
        default: break;
        }
        char conversion = *fmt;
        if (conversion == 0) { /* a lone '%' at the end: print it as is */
            emit(&out, conversion_start, (size_t)(fmt - conversion_start));
            break;
        }
        fmt++;
        switch (conversion) {
        case 'd':
        case 'i': {
            long long v = signed_arg(&ap, spec.length);
            unsigned long long magnitude = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
            const char *sign = v < 0 ? "-" : spec.plus ? "+" : spec.space ? " " : "";
            format_integer(&out, &spec, magnitude, 10, false, sign);
            break;
        }
        case 'u': format_integer(&out, &spec, unsigned_arg(&ap, spec.length), 10, false, NULL); break;
        case 'x':
        case 'X': {
            unsigned long long v = unsigned_arg(&ap, spec.length);
            const char *alt = spec.alternate && v != 0 ? (conversion == 'x' ? "0x" : "0X") : NULL;
            format_integer(&out, &spec, v, 16, conversion == 'X', alt);
            break;
        }
        case 'o': format_integer(&out, &spec, unsigned_arg(&ap, spec.length), 8, false, spec.alternate ? "0" : NULL); break;
        case 'p': {
            void *p = va_arg(ap, void *);
            if (p == NULL) {
                emit_padded(&out, &spec, "", "(nil)", 5, false);
            } else {
                format_integer(&out, &spec, (uintptr_t)p, 16, false, "0x");
            }
            break;
        }
        case 'c': {
            char c = (char)va_arg(ap, int);
            emit_padded(&out, &spec, "", &c, 1, false);
            break;
        }
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (s == NULL) s = (spec.precision < 0 || spec.precision >= 6) ? "(null)" : "";
            size_t len = spec.precision >= 0 ? strnlen(s, (size_t)spec.precision) : strlen(s);
            emit_padded(&out, &spec, "", s, len, false);
            break;
        }
        case '%': emit(&out, "%", 1); break;
        default: /* unknown conversion: print it as written, so the mistake is visible */
            emit(&out, conversion_start, (size_t)(fmt - conversion_start));
            break;
        }
    }
    va_end(ap);
    return out.total;
}

/* ---- snprintf ---------------------------------------------------------------------------- */

struct buffer_sink {
    char *buf;
    size_t size; /* capacity including the NUL */
    size_t used; /* bytes stored, excluding the NUL */
};

static void buffer_emit(void *ctx, const char *piece, size_t len) {
    struct buffer_sink *sink = ctx;
    if (sink->size == 0) return;
    size_t room = sink->size - 1 - sink->used;
    size_t n = len < room ? len : room;
    memcpy(sink->buf + sink->used, piece, n);
    sink->used += n;
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap) {
    struct buffer_sink sink = {.buf = buf, .size = size, .used = 0};
    int total = vformat(buffer_emit, &sink, fmt, ap);
    if (size > 0) buf[sink.used] = 0;
    return total;
}

int snprintf(char *buf, size_t size, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

/* ---- console output ------------------------------------------------------------------------ */

static void console_emit(void *ctx, const char *piece, size_t len) {
    (void)ctx;
    console_write(piece, len);
}

int vprintf(const char *fmt, va_list ap) { return vformat(console_emit, NULL, fmt, ap); }

int printf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vprintf(fmt, ap);
    va_end(ap);
    return n;
}

int putchar(int c) {
    console_putc((char)c);
    return (unsigned char)c;
}

int puts(const char *s) {
    console_puts(s);
    console_putc('\n');
    return 0;
}
