/*
 * workload/selftest_libc.c: printf formatting, string and memory functions, number parsing,
 * qsort/bsearch. The expected strings are what glibc's printf produces for the same calls.
 */
#include "selftest.h"
#include <errno.h>
#include <parse.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"

static struct case_log *current_log;

/* Formats with snprintf and compares with `expected`. */
static void expect_format(const char *expected, const char *fmt, ...) PRINTF_LIKE(2, 3);
static void expect_format(const char *expected, const char *fmt, ...) {
    char buf[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    current_log->cases++;
    if (strcmp(buf, expected) != 0 || n != (int)strlen(expected))
        case_fail(current_log, "format \"%s\": got \"%s\" (length %d), expected \"%s\"", fmt, buf, n, expected);
}

static void format_integers(void) {
    struct case_log log = {0};
    current_log = &log;
    expect_format("42", "%d", 42);
    expect_format("-7", "%i", -7);
    expect_format("0", "%d", 0);
    expect_format("4294967295", "%u", 4294967295u);
    expect_format("-2147483648", "%d", INT32_MIN);
    expect_format("   42", "%5d", 42);
    expect_format("42   |", "%-5d|", 42);
    expect_format("-0042", "%05d", -42);
    expect_format("+5", "%+d", 5);
    expect_format(" 5", "% d", 5);
    expect_format("007", "%.3d", 7);
    expect_format("  007", "%5.3d", 7);
    expect_format("", "%.0d", 0);
    expect_format("-9223372036854775808", "%ld", INT64_MIN);
    expect_format("18446744073709551615", "%lu", UINT64_MAX);
    expect_format("18446744073709551615", "%llu", 18446744073709551615ull);
    expect_format("-1", "%lld", -1ll);
    expect_format("123", "%zu", (size_t)123);
    expect_format("44", "%hhd", 300);
    expect_format("4464", "%hd", 70000);
    expect_format("12345678901", "%ld", 12345678901l);
    expect_format("5 items", "%d items", 5);
    case_report(&log, "format.integers");
}

static void format_hex(void) {
    struct case_log log = {0};
    current_log = &log;
    expect_format("ff", "%x", 255);
    expect_format("FF", "%X", 255);
    expect_format("0xff", "%#x", 255);
    expect_format("0XFF", "%#X", 255);
    expect_format("0", "%#x", 0);
    expect_format("000000ff", "%08x", 255);
    expect_format("0x000000ff", "%#010x", 255);
    expect_format("deadbeefcafe", "%lx", 0xdeadbeefcafeul);
    expect_format("ffffffffffffffff", "%lx", UINT64_MAX);
    expect_format("0x1234", "%p", (void *)0x1234);
    expect_format("(nil)", "%p", (void *)0);
    expect_format("    0x10", "%8p", (void *)0x10);
    expect_format("17", "%o", 15);
    expect_format("017", "%#o", 15);
    expect_format("0", "%#o", 0);
    expect_format("00ab", "%.4x", 0xab);
    case_report(&log, "format.hex");
}

static void format_strings(void) {
    struct case_log log = {0};
    current_log = &log;
    expect_format("hello", "%s", "hello");
    expect_format("     hello", "%10s", "hello");
    expect_format("hello     |", "%-10s|", "hello");
    expect_format("hel", "%.3s", "hello");
    expect_format("       hel", "%10.3s", "hello");
    const char *volatile null_string = NULL; /* volatile: gcc warns about a literal NULL for %s */
    expect_format("(null)", "%s", null_string);
    expect_format("x", "%c", 'x');
    expect_format("    x", "%5c", 'x');
    expect_format("x  |", "%-3c|", 'x');
    expect_format("100%", "%d%%", 100);
    expect_format("a b c", "%s %c %s", "a", 'b', "c");
    expect_format("", "%s", "");
    case_report(&log, "format.strings");
}

static void format_star(void) {
    struct case_log log = {0};
    current_log = &log;
    expect_format("   42", "%*d", 5, 42);
    expect_format("42   |", "%-*d|", 5, 42);
    expect_format("42   |", "%*d|", -5, 42);
    expect_format("ab", "%.*s", 2, "abcdef");
    expect_format("abcdef", "%.*s", -1, "abcdef");
    expect_format("  00042", "%*.*d", 7, 5, 42);
    case_report(&log, "format.star");
}

static void format_truncation(void) {
    struct case_log log = {0};
    char buf[8];
    memset(buf, 'X', sizeof(buf));
    int n = snprintf(buf, sizeof(buf), "%s", "0123456789");
    log.cases++;
    if (n != 10 || strcmp(buf, "0123456") != 0)
        case_fail(&log, "snprintf into 8 bytes: returned %d, buffer \"%s\" (expected 10, \"0123456\")", n, buf);
    buf[0] = 'Z';
    n = snprintf(buf, 0, "%d", 12345);
    log.cases++;
    if (n != 5 || buf[0] != 'Z') case_fail(&log, "snprintf with size 0: returned %d, wrote %c", n, buf[0]);
    n = snprintf(buf, 1, "abc");
    log.cases++;
    if (n != 3 || buf[0] != 0) case_fail(&log, "snprintf with size 1: returned %d, buffer not empty", n);
    case_report(&log, "format.truncation");
}

void selftest_format(void) {
    format_integers();
    format_hex();
    format_strings();
    format_star();
    format_truncation();
}

/* ---- strings and memory -------------------------------------------------------------------- */

static int sign(int v) { return v < 0 ? -1 : v > 0 ? 1 : 0; }

static void string_memory(void) {
    struct case_log log = {0};
    char buf[64];
    memset(buf, 0, sizeof(buf));
    memcpy(buf, "0123456789", 10);
    memmove(buf + 2, buf, 8); /* overlapping, forwards destination */
    log.cases++;
    if (memcmp(buf, "0101234567", 10) != 0) case_fail(&log, "memmove right: \"%.10s\"", buf);
    memcpy(buf, "0123456789", 10);
    memmove(buf, buf + 3, 7); /* overlapping, backwards destination */
    log.cases++;
    if (memcmp(buf, "3456789789", 10) != 0) case_fail(&log, "memmove left: \"%.10s\"", buf);
    memset(buf, 0xAB, 33);
    log.cases++;
    bool ok = true;
    for (int i = 0; i < 33; i++) ok &= (unsigned char)buf[i] == 0xAB;
    if (!ok || buf[33] != 0) case_fail(&log, "memset of 33 bytes");
    log.cases++;
    if (sign(memcmp("abc", "abd", 3)) != -1 || sign(memcmp("abd", "abc", 3)) != 1 || memcmp("abc", "abc", 3) != 0 ||
        sign(memcmp("\x80", "\x01", 1)) != 1)
        case_fail(&log, "memcmp signs (bytes compare as unsigned)");
    log.cases++;
    const char *hello = "hello";
    if (memchr(hello, 'l', 5) != hello + 2 || memchr(hello, 'z', 5) != NULL || memchr(hello, 'o', 4) != NULL)
        case_fail(&log, "memchr");
    case_report(&log, "string.memory");
}

static void string_functions(void) {
    struct case_log log = {0};
    const char *s = "hello, world";
    log.cases++;
    if (strlen(s) != 12 || strlen("") != 0 || strnlen(s, 5) != 5) case_fail(&log, "strlen/strnlen");
    log.cases++;
    if (strcmp("abc", "abc") != 0 || sign(strcmp("abc", "abd")) != -1 || sign(strcmp("abcd", "abc")) != 1 ||
        sign(strcmp("a", "\xff")) != -1)
        case_fail(&log, "strcmp");
    log.cases++;
    if (strncmp("abcdef", "abcxyz", 3) != 0 || sign(strncmp("abcdef", "abcxyz", 4)) != -1 || strncmp("a", "b", 0) != 0)
        case_fail(&log, "strncmp");
    log.cases++;
    if (strchr(s, 'o') != s + 4 || strrchr(s, 'o') != s + 8 || strchr(s, 'z') != NULL || strchr(s, 0) != s + 12)
        case_fail(&log, "strchr/strrchr");
    log.cases++;
    if (strstr(s, "world") != s + 7 || strstr(s, "") != s || strstr(s, "worlds") != NULL) case_fail(&log, "strstr");
    char small[6];
    log.cases++;
    if (strlcpy(small, "truncated", sizeof(small)) != 9 || strcmp(small, "trunc") != 0) case_fail(&log, "strlcpy truncation");
    log.cases++;
    if (strspn("aabbcx", "ab") != 4 || strcspn("hello world", " ") != 5) case_fail(&log, "strspn/strcspn");
    char *copy = strdup(s);
    log.cases++;
    if (!copy || strcmp(copy, s) != 0 || copy == s) case_fail(&log, "strdup");
    free(copy);
    char joined[32] = "foo";
    strcat(joined, "bar");
    log.cases++;
    if (strcmp(joined, "foobar") != 0) case_fail(&log, "strcat");
    case_report(&log, "string.functions");
}

static void parse_strto(void) {
    struct case_log log = {0};
    char *end;
    log.cases++;
    if (strtoul("1234xyz", &end, 10) != 1234 || strcmp(end, "xyz") != 0) case_fail(&log, "strtoul decimal with tail");
    log.cases++;
    if (strtoul("0x1F", NULL, 16) != 31 || strtoul("0x1F", NULL, 0) != 31 || strtoul("017", NULL, 0) != 15 ||
        strtoul("z", NULL, 36) != 35)
        case_fail(&log, "strtoul bases");
    log.cases++;
    if (strtol("  -42", &end, 10) != -42 || *end != 0) case_fail(&log, "strtol negative with leading spaces");
    errno = 0;
    log.cases++;
    if (strtoull("18446744073709551616", NULL, 10) != UINT64_MAX || errno != ERANGE) case_fail(&log, "strtoull overflow");
    errno = 0;
    log.cases++;
    if (strtoll("-9223372036854775809", NULL, 10) != INT64_MIN || errno != ERANGE) case_fail(&log, "strtoll underflow");
    log.cases++;
    if (strtoul("abc", &end, 10) != 0 || strcmp(end, "abc") != 0) case_fail(&log, "strtoul without digits");
    log.cases++;
    if (atoi("123") != 123) case_fail(&log, "atoi");
    case_report(&log, "parse.strto");
}

static void parse_strict(void) {
    struct case_log log = {0};
    uint64_t u = 0;
    int64_t i = 0;
    log.cases++;
    if (parse_u64("0", &u) != 0 || u != 0 || parse_u64("18446744073709551615", &u) != 0 || u != UINT64_MAX)
        case_fail(&log, "parse_u64 bounds");
    log.cases++;
    if (parse_u64("0x1f", &u) != 0 || u != 31 || parse_u64("010", &u) != 0 || u != 10)
        case_fail(&log, "parse_u64 hex and leading zero (decimal)");
    log.cases++;
    if (parse_u64("", &u) != ERR_INVAL || parse_u64("12x", &u) != ERR_INVAL || parse_u64("-1", &u) != ERR_INVAL ||
        parse_u64(" 1", &u) != ERR_INVAL || parse_u64("0x", &u) != ERR_INVAL)
        case_fail(&log, "parse_u64 rejects malformed input");
    log.cases++;
    if (parse_u64("18446744073709551616", &u) != ERR_RANGE) case_fail(&log, "parse_u64 overflow");
    log.cases++;
    if (parse_i64("-9223372036854775808", &i) != 0 || i != INT64_MIN || parse_i64("+7", &i) != 0 || i != 7 ||
        parse_i64("-0x10", &i) != 0 || i != -16)
        case_fail(&log, "parse_i64 values");
    log.cases++;
    if (parse_i64("9223372036854775808", &i) != ERR_RANGE || parse_i64("--1", &i) != ERR_INVAL)
        case_fail(&log, "parse_i64 errors");
    case_report(&log, "parse.strict");
}

static int compare_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static void sort_search(void) {
    struct case_log log = {0};
    static uint32_t values[500];
    uint64_t seed = 0x1234567;
    for (unsigned i = 0; i < ARRAY_SIZE(values); i++) values[i] = (uint32_t)(test_random(&seed) % 1000);
    qsort(values, ARRAY_SIZE(values), sizeof(values[0]), compare_u32);
    log.cases++;
    for (unsigned i = 1; i < ARRAY_SIZE(values); i++)
        if (values[i - 1] > values[i]) {
            case_fail(&log, "qsort: values[%u]=%u > values[%u]=%u", i - 1, values[i - 1], i, values[i]);
            break;
        }
    log.cases++;
    for (unsigned i = 0; i < ARRAY_SIZE(values); i++) {
        const uint32_t *found = bsearch(&values[i], values, ARRAY_SIZE(values), sizeof(values[0]), compare_u32);
        if (!found || *found != values[i]) {
            case_fail(&log, "bsearch did not find %u", values[i]);
            break;
        }
    }
    uint32_t missing = 1000;
    log.cases++;
    if (bsearch(&missing, values, ARRAY_SIZE(values), sizeof(values[0]), compare_u32) != NULL)
        case_fail(&log, "bsearch found a missing value");
    case_report(&log, "libc.qsort-bsearch");
}

void selftest_string(void) {
    string_memory();
    string_functions();
    parse_strto();
    parse_strict();
    sort_search();
}
