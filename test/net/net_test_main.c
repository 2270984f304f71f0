/*
 * test/net/net_test_main.c: the network stack's native test program (built by test/net/native.ts
 * with ASan and UBSan).
 *
 *   net_tests GROUP [FILTER]   GROUP: wire, script, link, fuzz (TCP), stack (ARP, IPv4, ICMP,
 *                              UDP), dhcp, frames (the frame fuzzer), addr (IP address
 *                              text forms), ipv6 (IPv6, ICMPv6, NDP, SLAAC) or all;
 *                              FILTER: a
 *                              substring of the test names to run
 *
 * Prints "ok N GROUP/NAME" / "not ok N GROUP/NAME: why" per test, "# ..." progress lines, and
 * "summary passed=P failed=F"; exits 1 if a test failed.
 * Environment: NET_LINK_SEEDS (lossy-link seeds per scenario), NET_FUZZ_SEGMENTS (TCP fuzzer
 * segments), NET_FUZZ_FRAMES (frame fuzzer frames), NET_FUZZ_SEED (both fuzzers' seed), NET_LOG
 * (stack log level to stderr).
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "net_test.h"

static jmp_buf test_jump;
static char test_message[4096];
static int passed_total, failed_total;

void test_fail(const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    vsnprintf(test_message, sizeof test_message, fmt, args);
    va_end(args);
    longjmp(test_jump, 1);
}

void test_note(const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    fputs("# ", stdout);
    vfprintf(stdout, fmt, args);
    fputc('\n', stdout);
    va_end(args);
    fflush(stdout);
}

uint64_t test_env_number(const char *name, uint64_t fallback) {
    const char *value = getenv(name);
    if (value == NULL || *value == 0) return fallback;
    return strtoull(value, NULL, 0);
}

/* One test; true if it passed. (Its own function, so nothing the test changes lives across
 * the longjmp.) */
static bool run_one(const char *group, const struct test_case *test, int number) {
    if (setjmp(test_jump) == 0) {
        test->fn();
        printf("ok %d %s/%s\n", number, group, test->name);
        fflush(stdout);
        return true;
    }
    /* one line: newlines in the message become '|' */
    for (char *p = test_message; *p; p++)
        if (*p == '\n') *p = '|';
    printf("not ok %d %s/%s: %s\n", number, group, test->name, test_message);
    fflush(stdout);
    return false;
}

int net_tests_run_group(const char *group, const struct test_case *cases, size_t count, const char *filter) {
    int failed = 0;
    for (size_t i = 0; i < count; i++) {
        if (filter != NULL && strstr(cases[i].name, filter) == NULL) continue;
        int number = passed_total + failed_total + 1;
        net_native_seed(0x1234 + i);
        net_native_fail_allocations(0);
        if (run_one(group, &cases[i], number)) {
            passed_total++;
        } else {
            failed_total++;
            failed++;
        }
    }
    return failed;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: net_tests wire|script|link|fuzz|stack|dhcp|frames|addr|ipv6|all [FILTER]\n");
        return 2;
    }
    const char *group = argv[1];
    const char *filter = argc > 2 ? argv[2] : NULL;
    bool all = strcmp(group, "all") == 0;
    bool known = false;
    if (all || strcmp(group, "wire") == 0) {
        known = true;
        net_tests_run_group("wire", wire_tests, wire_test_count, filter);
    }
    if (all || strcmp(group, "script") == 0) {
        known = true;
        net_tests_run_group("script", script_tests, script_test_count, filter);
    }
    if (all || strcmp(group, "link") == 0) {
        known = true;
        net_tests_run_group("link", link_tests, link_test_count, filter);
    }
    if (all || strcmp(group, "fuzz") == 0) {
        known = true;
        net_tests_run_group("fuzz", fuzz_tests, fuzz_test_count, filter);
    }
    if (all || strcmp(group, "stack") == 0) {
        known = true;
        net_tests_run_group("stack", stack_tests, stack_test_count, filter);
    }
    if (all || strcmp(group, "dhcp") == 0) {
        known = true;
        net_tests_run_group("dhcp", dhcp_tests, dhcp_test_count, filter);
    }
    if (all || strcmp(group, "frames") == 0) {
        known = true;
        net_tests_run_group("frames", frame_fuzz_tests, frame_fuzz_test_count, filter);
    }
    if (all || strcmp(group, "ipv6") == 0) {
        known = true;
        net_tests_run_group("ipv6", ipv6_tests, ipv6_test_count, filter);
    }
    if (all || strcmp(group, "addr") == 0) {
        known = true;
        net_tests_run_group("addr", addr_tests, addr_test_count, filter);
    }
    if (!known) {
        fprintf(stderr, "net_tests: unknown group %s\n", group);
        return 2;
    }
    printf("summary passed=%d failed=%d\n", passed_total, failed_total);
    return failed_total == 0 ? 0 : 1;
}
