/*
 * workload/selftest_sched.c: fibers, switches, cancellation, sleeping.
 */
#include "selftest.h"
#include "alloc/alloc.h"
#include "sched/sched.h"
#include "time/time.h"
#include <stdio.h>
#include <string.h>

/* ---- yield order ---------------------------------------------------------------------------- */

static char trace[256];

static void trace_add(const char *fmt, const char *name, int n) {
    size_t used = strlen(trace);
    snprintf(trace + used, sizeof(trace) - used, fmt, name, n);
}

static int yielder(void *arg) {
    const char *name = arg;
    for (int i = 1; i <= 3; i++) {
        trace_add("%s%d ", name, i);
        int err = fiber_yield();
        if (err) return err;
    }
    return 0;
}

static int three_yielders(struct sw *sw, void *arg) {
    (void)arg;
    int err;
    if ((err = fiber_fork(sw, "a", yielder, "a"))) return err;
    if ((err = fiber_fork(sw, "b", yielder, "b"))) return err;
    return fiber_fork(sw, "c", yielder, "c");
}

static void yield_order(void) {
    trace[0] = 0;
    int err = sw_run("yield-order", three_yielders, NULL);
    check(err == 0 && strcmp(trace, "a1 b1 c1 a2 b2 c2 a3 b3 c3 ") == 0, "sched.yield-round-robin",
          "sw_run returned %d, order \"%s\"", err, trace);
}

/* ---- a switch waits for all its fibers --------------------------------------------------------- */

static int finished;

static int sleepy_worker(void *arg) {
    int err = fiber_sleep_ns((uint64_t)(uintptr_t)arg * NS_PER_MS);
    if (err) return err;
    finished++;
    return 0;
}

static int fork_workers(struct sw *sw, void *arg) {
    (void)arg;
    for (uintptr_t i = 0; i < 5; i++) {
        int err = fiber_fork(sw, "worker", sleepy_worker, (void *)(i * 2));
        if (err) return err;
    }
    return 0;
}

static void switch_waits(void) {
    finished = 0;
    int err = sw_run("waits", fork_workers, NULL);
    check(err == 0 && finished == 5, "sched.switch-waits-for-all", "sw_run returned %d with %d of 5 fibers finished", err,
          finished);
}

/* ---- sleep order ----------------------------------------------------------------------------- */

static int sleep_and_record(void *arg) {
    uintptr_t ms = (uintptr_t)arg;
    int err = fiber_sleep_ns(ms * NS_PER_MS);
    if (err) return err;
    trace_add("%s%d ", "", (int)ms);
    return 0;
}

static int fork_sleepers(struct sw *sw, void *arg) {
    (void)arg;
    static const uintptr_t delays[] = {30, 10, 20, 5, 25};
    for (unsigned i = 0; i < ARRAY_SIZE(delays); i++) {
        int err = fiber_fork(sw, "sleeper", sleep_and_record, (void *)delays[i]);
        if (err) return err;
    }
    return 0;
}

static void sleep_order(void) {
    trace[0] = 0;
    int err = sw_run("sleep-order", fork_sleepers, NULL);
    check(err == 0 && strcmp(trace, "5 10 20 25 30 ") == 0, "sched.sleep-order", "sw_run returned %d, wake order \"%s\"",
          err, trace);
}

struct stamped_timer {
    struct sched_timer timer;
    int id;
};

static void record_timer(struct sched_timer *t) {
    trace_add("%st%d ", "", container_of(t, struct stamped_timer, timer)->id);
}

static void timer_ties(void) {
    trace[0] = 0;
    struct stamped_timer timers[4];
    uint64_t deadline = time_now_ns() + 2 * NS_PER_MS;
    for (int i = 0; i < 4; i++) {
        timers[i].id = i;
        list_init(&timers[i].timer.link);
        /* t2 is cancelled; t3 has an earlier deadline */
        sched_timer_start(&timers[i].timer, i == 3 ? deadline - NS_PER_MS : deadline, record_timer);
    }
    sched_timer_cancel(&timers[2].timer);
    int err = fiber_sleep_ns(5 * NS_PER_MS);
    check(err == 0 && strcmp(trace, "t3 t0 t1 ") == 0, "sched.timer-order", "timers fired as \"%s\" (expected \"t3 t0 t1 \")",
          trace);
}

/* ---- failure and cancellation ------------------------------------------------------------------ */

static int saw_cancel;

static int long_sleeper(void *arg) {
    (void)arg;
    int err = fiber_sleep_ns(10 * NS_PER_SEC);
    if (err == ERR_CANCELLED) saw_cancel++;
    return err;
}

static int busy_yielder(void *arg) {
    (void)arg;
    for (;;) {
        int err = fiber_yield();
        if (err) {
            if (err == ERR_CANCELLED) saw_cancel++;
            return err;
        }
    }
}

static int failer(void *arg) {
    int err = fiber_yield();
    if (err) return err;
    return (int)(uintptr_t)arg;
}

static int fork_then_fail(struct sw *sw, void *arg) {
    (void)arg;
    int err;
    if ((err = fiber_fork(sw, "long-sleeper", long_sleeper, NULL))) return err;
    if ((err = fiber_fork(sw, "busy-yielder", busy_yielder, NULL))) return err;
    if ((err = fiber_fork(sw, "failer", failer, (void *)42))) return err;
    return 0;
}

static void failure_cancels(void) {
    saw_cancel = 0;
    uint64_t start = time_now_ns();
    int err = sw_run("fails", fork_then_fail, NULL);
    uint64_t elapsed = time_now_ns() - start;
    check(err == 42 && saw_cancel == 2 && elapsed < 5 * NS_PER_SEC, "sched.failure-cancels-siblings",
          "sw_run returned %d (expected 42), %d of 2 siblings saw the cancellation", err, saw_cancel);
}

static int body_fails(struct sw *sw, void *arg) {
    (void)arg;
    int err = fiber_fork(sw, "long-sleeper", long_sleeper, NULL);
    if (err) return err;
    return ERR_TIMEOUT;
}

static void body_failure(void) {
    saw_cancel = 0;
    int err = sw_run("body-fails", body_fails, NULL);
    check(err == ERR_TIMEOUT && saw_cancel == 1, "sched.body-failure-cancels",
          "sw_run returned %s, %d of 1 fibers saw the cancellation", err_name(err), saw_cancel);
}

static int inner_result;

static int inner_body(struct sw *sw, void *arg) {
    (void)arg;
    return fiber_fork(sw, "inner-sleeper", long_sleeper, NULL);
}

static int runs_inner_switch(void *arg) {
    (void)arg;
    inner_result = sw_run("inner", inner_body, NULL);
    return inner_result;
}

static int nested_body(struct sw *sw, void *arg) {
    (void)arg;
    int err;
    if ((err = fiber_fork(sw, "nested", runs_inner_switch, NULL))) return err;
    return fiber_fork(sw, "failer", failer, (void *)7);
}

static void nested_cancel(void) {
    saw_cancel = 0;
    inner_result = 0;
    int err = sw_run("outer", nested_body, NULL);
    check(err == 7 && saw_cancel == 1 && inner_result == ERR_CANCELLED, "sched.nested-cancel",
          "outer returned %d (expected 7), inner returned %s (expected cancelled), %d of 1 saw the cancellation", err,
          err_name(inner_result), saw_cancel);
}

static int fork_after_fail(struct sw *sw, void *arg) {
    int *fork_result = arg;
    sw_fail(sw, ERR_BUSY);
    *fork_result = fiber_fork(sw, "too-late", long_sleeper, NULL);
    return fiber_check() == ERR_CANCELLED ? 0 : ERR_FAILED; /* sw_run reports sw_fail's error */
}

static void fork_into_cancelled(void) {
    int fork_result = 0;
    int err = sw_run("turned-off", fork_after_fail, &fork_result);
    check(err == ERR_BUSY && fork_result == ERR_CANCELLED, "sched.fork-into-cancelled-switch",
          "sw_run returned %s (expected busy), fork returned %s (expected cancelled)", err_name(err), err_name(fork_result));
}

/* ---- many fibers, memory ----------------------------------------------------------------------- */

static int counter;

static int count_and_yield(void *arg) {
    (void)arg;
    for (int i = 0; i < 10; i++) {
        counter++;
        int err = fiber_yield();
        if (err) return err;
    }
    return 0;
}

static int fork_many(struct sw *sw, void *arg) {
    (void)arg;
    for (int i = 0; i < 100; i++) {
        int err = fiber_fork(sw, "counter", count_and_yield, NULL);
        if (err) return err;
    }
    return 0;
}

static void many_fibers(void) {
    struct alloc_stats before, after;
    struct sched_stats sched_before, sched_after;
    alloc_get_stats(&before);
    sched_get_stats(&sched_before);
    counter = 0;
    int err = sw_run("many", fork_many, NULL);
    alloc_get_stats(&after);
    sched_get_stats(&sched_after);
    check(err == 0 && counter == 1000 && sched_after.fibers_live == sched_before.fibers_live &&
              sched_after.fibers_created - sched_before.fibers_created == 100,
          "sched.hundred-fibers", "sw_run returned %d, counter %d of 1000, live fibers %lu -> %lu", err, counter,
          sched_before.fibers_live, sched_after.fibers_live);
    check(after.heap_bytes_in_use == before.heap_bytes_in_use &&
              after.pages_free + after.pages_pagetable == before.pages_free + before.pages_pagetable,
          "sched.stacks-freed", "heap %lu -> %lu bytes, free pages %lu -> %lu", before.heap_bytes_in_use,
          after.heap_bytes_in_use, before.pages_free + before.pages_pagetable, after.pages_free + after.pages_pagetable);
}

void selftest_sched(void) {
    yield_order();
    switch_waits();
    sleep_order();
    timer_ties();
    failure_cancels();
    body_failure();
    nested_cancel();
    fork_into_cancelled();
    many_fibers();
}
