/*
 * workload/selftest_promise.c: promises, combinators, callbacks from the scheduler, and the
 * bridge between promises and fibers.
 */
#include "selftest.h"
#include "promise/promise.h"
#include "sched/sched.h"
#include "time/time.h"
#include <stdio.h>
#include <string.h>

static char trace[128];

static void trace_add(const char *text) {
    size_t used = strlen(trace);
    snprintf(trace + used, sizeof(trace) - used, "%s ", text);
}

static void record(promise_t *p, void *ctx) {
    (void)p;
    trace_add(ctx);
}

/* Lets queued callbacks run: a scheduling point with nothing else to do. */
static void settle_callbacks(void) {
    int err = fiber_yield();
    (void)err;
}

static void callbacks_deferred(void) {
    trace[0] = 0;
    promise_t *p = promise_new();
    promise_on_settle(p, record, "first");
    promise_on_settle(p, record, "second");
    promise_resolve(p, 5);
    promise_on_settle(p, record, "third"); /* attached after resolution: also deferred */
    bool ran_early = trace[0] != 0;
    settle_callbacks();
    check(!ran_early && strcmp(trace, "first second third ") == 0 && promise_state(p) == PROMISE_RESOLVED,
          "promise.callbacks-from-scheduler", "%s; order \"%s\"",
          ran_early ? "a callback ran inside promise_resolve" : "deferred", trace);
    promise_unref(p);
}

static uintptr_t add_one(uintptr_t v, void *ctx) {
    (void)ctx;
    return v + 1;
}

static promise_t *times_ten_later(uintptr_t v, void *ctx) {
    (void)ctx;
    promise_t *sleep = promise_sleep(2 * NS_PER_MS);
    promise_unref(sleep); /* only to exercise a timer alongside */
    return promise_resolved(v * 10);
}

static promise_t *recover(int error, void *ctx) {
    (void)ctx;
    return promise_resolved((uintptr_t)(1000 - error));
}

static bool map_called;

static uintptr_t must_not_run(uintptr_t v, void *ctx) {
    (void)ctx;
    map_called = true;
    return v;
}

static void chains(void) {
    promise_t *p = promise_new();
    promise_t *mapped = promise_map(p, add_one, NULL);
    promise_t *bound = promise_bind(mapped, times_ten_later, NULL);
    promise_t *final = promise_map(bound, add_one, NULL);
    promise_resolve(p, 5);
    uintptr_t value = 0;
    int err = promise_await(final, &value);
    check(err == 0 && value == 61, "promise.map-bind", "((5 + 1) * 10) + 1: got %lu, error %d", value, err);
    promise_unref(p);
    promise_unref(mapped);
    promise_unref(bound);
    promise_unref(final);

    map_called = false;
    promise_t *failed = promise_rejected(ERR_NOENT);
    promise_t *skipped = promise_map(failed, must_not_run, NULL);
    promise_t *caught = promise_catch(skipped, recover, NULL);
    err = promise_await(skipped, &value);
    int caught_err = promise_await(caught, &value);
    check(err == ERR_NOENT && !map_called && caught_err == 0 && value == (uintptr_t)(1000 - ERR_NOENT),
          "promise.reject-and-catch", "map over a rejection %s, await gave %s, catch gave %lu (error %d)",
          map_called ? "ran" : "was skipped", err_name(err), value, caught_err);
    promise_unref(failed);
    promise_unref(skipped);
    promise_unref(caught);
}

static uintptr_t stamp(uintptr_t v, void *ctx) {
    trace_add(ctx);
    return v;
}

static void join_and_sleep(void) {
    trace[0] = 0;
    promise_t *sleeps[3] = {promise_sleep(15 * NS_PER_MS), promise_sleep(5 * NS_PER_MS), promise_sleep(10 * NS_PER_MS)};
    promise_t *stamped[3] = {promise_map(sleeps[0], stamp, "15ms"), promise_map(sleeps[1], stamp, "5ms"),
                             promise_map(sleeps[2], stamp, "10ms")};
    promise_t *all = promise_join(stamped, 3);
    int err = promise_await(all, NULL);
    check(err == 0 && strcmp(trace, "5ms 10ms 15ms ") == 0, "promise.sleep-join",
          "join returned %s, sleeps ended as \"%s\"", err_name(err), trace);
    promise_unref(all);
    for (int i = 0; i < 3; i++) {
        promise_unref(sleeps[i]);
        promise_unref(stamped[i]);
    }

    promise_t *mixed[3] = {promise_resolved(1), promise_new(), promise_rejected(ERR_RANGE)};
    promise_t *joined = promise_join(mixed, 3);
    settle_callbacks();
    bool waited = promise_state(joined) == PROMISE_PENDING; /* mixed[1] is still pending */
    promise_reject(mixed[1], ERR_EXIST);
    err = promise_await(joined, NULL);
    check(waited && err == ERR_RANGE, "promise.join-rejection",
          "join %s for every promise, then failed with %s (expected the first rejection, out of range)",
          waited ? "waited" : "did not wait", err_name(err));
    promise_unref(joined);
    for (int i = 0; i < 3; i++) promise_unref(mixed[i]);
}

/* ---- the bridge --------------------------------------------------------------------------- */

struct handoff {
    promise_t *promise;
    uintptr_t received;
    int await_result;
};

static int waiter(void *arg) {
    struct handoff *h = arg;
    h->await_result = promise_await(h->promise, &h->received);
    return h->await_result == ERR_CANCELLED ? ERR_CANCELLED : 0;
}

static int resolver(void *arg) {
    struct handoff *h = arg;
    int err = fiber_sleep_ns(3 * NS_PER_MS);
    if (err) return err;
    promise_resolve(h->promise, 99);
    return 0;
}

static int waiter_and_resolver(struct sw *sw, void *arg) {
    int err;
    if ((err = fiber_fork(sw, "waiter", waiter, arg))) return err;
    return fiber_fork(sw, "resolver", resolver, arg);
}

static int fail_soon(void *arg) {
    (void)arg;
    int err = fiber_sleep_ns(2 * NS_PER_MS);
    return err ? err : ERR_TIMEOUT;
}

static int waiter_and_failure(struct sw *sw, void *arg) {
    int err;
    if ((err = fiber_fork(sw, "waiter", waiter, arg))) return err;
    return fiber_fork(sw, "fail-soon", fail_soon, NULL);
}

static void await_between_fibers(void) {
    struct handoff h = {.promise = promise_new()};
    int err = sw_run("handoff", waiter_and_resolver, &h);
    check(err == 0 && h.await_result == 0 && h.received == 99, "promise.await-across-fibers",
          "sw_run %s, await returned %s with %lu (expected 99)", err_name(err), err_name(h.await_result), h.received);
    promise_unref(h.promise);

    promise_t *rejected = promise_rejected(ERR_INVAL);
    uintptr_t value = 123;
    err = promise_await(rejected, &value);
    check(err == ERR_INVAL && value == 123, "promise.await-rejected", "await of a rejected promise returned %s",
          err_name(err));
    promise_unref(rejected);

    struct handoff never = {.promise = promise_new()};
    err = sw_run("cancel-await", waiter_and_failure, &never);
    check(err == ERR_TIMEOUT && never.await_result == ERR_CANCELLED && promise_state(never.promise) == PROMISE_PENDING,
          "promise.await-cancelled", "sw_run returned %s (expected timed out), await returned %s (expected cancelled)",
          err_name(err), err_name(never.await_result));
    promise_unref(never.promise);
}

static int compute(void *arg, uintptr_t *value) {
    int err = fiber_yield();
    if (err) return err;
    uintptr_t n = (uintptr_t)arg;
    if (n == 0) return ERR_RANGE;
    *value = n * n;
    return 0;
}

static int promises_of_fibers(struct sw *sw, void *arg) {
    (void)arg;
    promise_t *ok = promise_of_fiber(sw, "square", compute, (void *)12);
    promise_t *bad = promise_of_fiber(sw, "square-zero", compute, (void *)0);
    uintptr_t value = 0;
    int ok_err = promise_await(ok, &value);
    int bad_err = promise_await(bad, NULL);
    check(ok_err == 0 && value == 144 && bad_err == ERR_RANGE, "promise.of-fiber",
          "12 squared gave %lu (%s), 0 gave %s (expected out of range)", value, err_name(ok_err), err_name(bad_err));
    promise_unref(ok);
    promise_unref(bad);
    return 0;
}

static void fiber_to_promise(void) {
    int err = sw_run("of-fiber", promises_of_fibers, NULL);
    if (err) check_fail("promise.of-fiber-switch", "sw_run returned %s", err_name(err));
}

void selftest_promise(void) {
    uint64_t live = promise_live_count();
    callbacks_deferred();
    chains();
    join_and_sleep();
    await_between_fibers();
    fiber_to_promise();
    check(promise_live_count() == live, "promise.no-leaks", "%lu promises alive, expected %lu", promise_live_count(), live);
}
