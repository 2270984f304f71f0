/*
 * workload/selftest.h: the selftest harness.
 *
 * Every check prints one line, "PASS name" or "FAIL name: detail". Nothing in those lines may
 * depend on timing or addresses (the output is compared across QEMU and our emulator); timing
 * goes on lines starting "time:".
 */
#ifndef SELFTEST_H
#define SELFTEST_H

#include "base/base.h"

void check_pass(const char *name);
void check_fail(const char *name, const char *fmt, ...) PRINTF_LIKE(2, 3);
/* PASS if ok, else FAIL with the formatted detail. Returns ok. */
bool check(bool ok, const char *name, const char *fmt, ...) PRINTF_LIKE(3, 4);

/* Collects the first failure of a multi-case check. */
struct case_log {
    unsigned cases;
    unsigned failures;
    char first[200];
};
void case_fail(struct case_log *log, const char *fmt, ...) PRINTF_LIKE(2, 3);
/* PASS/FAIL line for the whole group of cases. */
void case_report(const struct case_log *log, const char *name);

/* xorshift64*: deterministic pseudo-random numbers for the tests. */
uint64_t test_random(uint64_t *state);

void selftest_format(void);
void selftest_string(void);
void selftest_cmdline(void);
void selftest_alloc(void);
void selftest_trap(void);
void selftest_time(void);
void selftest_sched(void);
void selftest_promise(void);

#endif
