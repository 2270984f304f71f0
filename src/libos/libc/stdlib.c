/*
 * libc/stdlib.c: number parsing (strto*, the strict parse_* of <parse.h>), qsort, bsearch.
 */
#include <ctype.h>
#include <errno.h>
#include <parse.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"

int errno;

static int digit_value(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'z') return c - 'a' + 10;
    if (c >= 'A' && c <= 'Z') return c - 'A' + 10;
    return 99;
}

/* The common part of the strto* family: magnitude in *magnitude, sign in *negative; returns
 * false on overflow of 64 bits. *end points after the last digit used (or at s if none). */
static bool parse_magnitude(const char *s, const char **end, int base, unsigned long long *magnitude,
                            bool *negative) {
    const char *p = s;
    while (isspace((unsigned char)*p)) p++;
    *negative = false;
    if (*p == '+' || *p == '-') *negative = *p++ == '-';
    if ((base == 0 || base == 16) && p[0] == '0' && (p[1] == 'x' || p[1] == 'X') && digit_value(p[2]) < 16) {
        p += 2;
        base = 16;
    } else if (base == 0) {
        base = p[0] == '0' ? 8 : 10;
    }
    unsigned long long value = 0;
    bool overflow = false;
    const char *digits_start = p;
    for (;; p++) {
        int d = digit_value((unsigned char)*p);
        if (d >= base) break;
        if (value > (~0ull - (unsigned)d) / (unsigned)base) overflow = true;
        value = value * (unsigned)base + (unsigned)d;
    }
    *end = p == digits_start ? s : p;
    *magnitude = value;
    return !overflow;
}

unsigned long long strtoull(const char *s, char **end, int base) {
    unsigned long long magnitude;
    bool negative;
    const char *stop;
    bool ok = parse_magnitude(s, &stop, base, &magnitude, &negative);
    if (end) *end = (char *)stop;
    if (!ok) {
        errno = ERANGE;
        return ~0ull;
    }
    return negative ? 0ull - magnitude : magnitude;
}

long long strtoll(const char *s, char **end, int base) {
    unsigned long long magnitude;
    bool negative;
    const char *stop;
    bool ok = parse_magnitude(s, &stop, base, &magnitude, &negative);
    if (end) *end = (char *)stop;
    if (!ok || magnitude > (negative ? (unsigned long long)INT64_MAX + 1 : (unsigned long long)INT64_MAX)) {
        errno = ERANGE;
        return negative ? INT64_MIN : INT64_MAX;
    }
    return negative ? (long long)(0ull - magnitude) : (long long)magnitude;
}

unsigned long strtoul(const char *s, char **end, int base) { return strtoull(s, end, base); }
long strtol(const char *s, char **end, int base) { return strtoll(s, end, base); }
int atoi(const char *s) { return (int)strtol(s, NULL, 10); }

static int parse_strict(const char *s, bool allow_sign, unsigned long long *magnitude, bool *negative) {
    if (s == NULL || *s == 0 || isspace((unsigned char)*s)) return ERR_INVAL;
    if (!allow_sign && (*s == '+' || *s == '-')) return ERR_INVAL;
    const char *digits = s + ((*s == '+' || *s == '-') ? 1 : 0);
    int base = (digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X')) ? 16 : 10; /* "010" is ten */
    const char *end;
    bool ok = parse_magnitude(s, &end, base, magnitude, negative);
    if (end == s || *end != 0) return ERR_INVAL;
    return ok ? 0 : ERR_RANGE;
}

int parse_u64(const char *s, uint64_t *out) {
    unsigned long long magnitude;
    bool negative;
    int err = parse_strict(s, false, &magnitude, &negative);
    if (err) return err;
    *out = magnitude;
    return 0;
}

int parse_i64(const char *s, int64_t *out) {
    unsigned long long magnitude;
    bool negative;
    int err = parse_strict(s, true, &magnitude, &negative);
    if (err) return err;
    if (magnitude > (negative ? (unsigned long long)INT64_MAX + 1 : (unsigned long long)INT64_MAX)) return ERR_RANGE;
    *out = negative ? (int64_t)(0ull - magnitude) : (int64_t)magnitude;
    return 0;
}

/* ---- qsort: introsort-free quicksort (median of three, insertion sort below 12 elements,
 * recursing into the smaller half so the depth stays logarithmic) -------------------------- */

static void swap_bytes(char *a, char *b, size_t size) {
    while (size--) {
        char t = *a;
        *a++ = *b;
        *b++ = t;
    }
}

static void insertion_sort(char *base, size_t count, size_t size, int (*compare)(const void *, const void *)) {
    for (size_t i = 1; i < count; i++)
        for (size_t j = i; j > 0 && compare(base + (j - 1) * size, base + j * size) > 0; j--)
            swap_bytes(base + (j - 1) * size, base + j * size, size);
}

static void quicksort(char *base, size_t count, size_t size, int (*compare)(const void *, const void *)) {
    while (count > 12) {
        char *first = base, *middle = base + (count / 2) * size, *last = base + (count - 1) * size;
        /* order first <= middle <= last, then use middle as the pivot, parked at last - 1 */
        if (compare(first, middle) > 0) swap_bytes(first, middle, size);
        if (compare(middle, last) > 0) swap_bytes(middle, last, size);
        if (compare(first, middle) > 0) swap_bytes(first, middle, size);
        char *pivot = last - size;
        swap_bytes(middle, pivot, size);
        char *i = first, *j = pivot;
        for (;;) {
            do i += size; while (compare(i, pivot) < 0);
            do j -= size; while (compare(j, pivot) > 0);
            if (i >= j) break;
            swap_bytes(i, j, size);
        }
        swap_bytes(i, pivot, size);
        size_t left = (size_t)(i - base) / size;
        size_t right = count - left - 1;
        if (left < right) {
            quicksort(base, left, size, compare);
            base = i + size;
            count = right;
        } else {
            quicksort(i + size, right, size, compare);
            count = left;
        }
    }
    insertion_sort(base, count, size, compare);
}

void qsort(void *base, size_t count, size_t size, int (*compare)(const void *, const void *)) {
    if (count > 1 && size > 0) quicksort(base, count, size, compare);
}

void *bsearch(const void *key, const void *base, size_t count, size_t size,
              int (*compare)(const void *, const void *)) {
    const char *lo = base;
    while (count > 0) {
        const char *mid = lo + (count / 2) * size;
        int c = compare(key, mid);
        if (c == 0) return (void *)mid;
        if (c > 0) {
            lo = mid + size;
            count -= count / 2 + 1;
        } else {
            count /= 2;
        }
    }
    return NULL;
}
