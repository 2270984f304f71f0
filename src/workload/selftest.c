/*
 * workload/selftest.c: checks every libos layer and exits 0 (status 1) only if all pass.
 *
 *   selftest                 run every group
 *   selftest only=alloc,sched   run the named groups (format string cmdline alloc trap time
 *                               sched promise irmin)
 */
#include "selftest.h"
#include "alloc/alloc.h"
#include "arch/arch.h"
#include "cmdline/cmdline.h"
#include "irmin/blake2b.h"
#include "promise/promise.h"
#include "time/time.h"
#include "workload.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static unsigned passed, failed;

void check_pass(const char *name) {
    passed++;
    printf("PASS %s\n", name);
}

void check_fail(const char *name, const char *fmt, ...) {
    failed++;
    printf("FAIL %s: ", name);
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
}

bool check(bool ok, const char *name, const char *fmt, ...) {
    if (ok) {
        check_pass(name);
        return true;
    }
    failed++;
    printf("FAIL %s: ", name);
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    return false;
}

void case_fail(struct case_log *log, const char *fmt, ...) {
    if (log->failures++ == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(log->first, sizeof(log->first), fmt, ap);
        va_end(ap);
    }
}

void case_report(const struct case_log *log, const char *name) {
    if (log->failures == 0)
        check_pass(name);
    else
        check_fail(name, "%u of %u cases failed; first: %s", log->failures, log->cases, log->first);
}

uint64_t test_random(uint64_t *state) {
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1Dull;
}

/* The store's hash: BLAKE2b-512 against RFC 7693 (appendix A and the appendix E self-test). */
static void selftest_irmin(void) {
    const char *failure = "";
    bool ok = blake2b_selftest(&failure);
    check(ok, "irmin.blake2b-rfc7693", "%s", failure ? failure : "");
}

static const struct {
    const char *name;
    void (*run)(void);
} groups[] = {
    {"format", selftest_format}, {"string", selftest_string}, {"cmdline", selftest_cmdline},
    {"alloc", selftest_alloc},   {"trap", selftest_trap},     {"time", selftest_time},
    {"sched", selftest_sched},   {"promise", selftest_promise}, {"irmin", selftest_irmin},
};

static bool selected(const char *only, const char *group) {
    if (only == NULL) return true;
    size_t len = strlen(group);
    for (const char *p = only; *p;) {
        size_t item = strcspn(p, ",");
        if (item == len && strncmp(p, group, len) == 0) return true;
        p += item;
        if (*p == ',') p++;
    }
    return false;
}

int selftest_main(void) {
    const char *only = arg_str("only", NULL);
    args_done();
    if (only) {
        for (const char *p = only; *p;) {
            size_t item = strcspn(p, ",");
            bool known = false;
            for (size_t g = 0; g < ARRAY_SIZE(groups); g++)
                known |= strlen(groups[g].name) == item && strncmp(p, groups[g].name, item) == 0;
            if (!known)
                cmdline_usage_error("selftest: only=%s: unknown group '%.*s' (format, string, cmdline, alloc, trap, "
                                    "time, sched, promise, irmin)", only, (int)item, p);
            p += item;
            if (*p == ',') p++;
        }
    }

    struct alloc_stats before, after;
    alloc_get_stats(&before);
    uint64_t promises_before = promise_live_count();
    uint64_t start = time_now_ns();
    for (size_t g = 0; g < ARRAY_SIZE(groups); g++)
        if (selected(only, groups[g].name)) groups[g].run();

    alloc_get_stats(&after);
    check(after.heap_bytes_in_use == before.heap_bytes_in_use && after.heap_objects_in_use == before.heap_objects_in_use &&
              after.pages_free + after.pages_pagetable == before.pages_free + before.pages_pagetable &&
              promise_live_count() == promises_before,
          "selftest.no-leaks", "heap %lu -> %lu bytes, %lu -> %lu objects, free pages %lu -> %lu, promises %lu -> %lu",
          before.heap_bytes_in_use, after.heap_bytes_in_use, before.heap_objects_in_use, after.heap_objects_in_use,
          before.pages_free + before.pages_pagetable, after.pages_free + after.pages_pagetable, promises_before,
          promise_live_count());

    char duration[32];
    time_format_duration(duration, sizeof(duration), time_now_ns() - start);
    printf("time: selftest ran in %s\n", duration);
    printf("selftest: %u passed, %u failed\n", passed, failed);
    return failed == 0 ? EXIT_OK : EXIT_FAIL;
}
