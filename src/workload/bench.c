/*
 * workload/bench.c: the Irmin store benchmark (DESIGN.md §4, docs/irmin-store.md "The bench").
 *
 *   bench [commits=1000] [depth=16] [tree_add=150] [display=10] [clear=true] [gc=100]
 *
 * (`ncommits=` is accepted for `commits=`.) The bench driver (irmin/irmin_bench.h) runs in a
 * fiber of its own and reaches the store only through struct irmin_store_ops; the ops here call
 * the promise-based API (promise/irmin_promise.h) and wait through the fiber<->promise bridge
 * (promise_await), as the seed's bench.ml calls Irmin through Lwt_eio.run_lwt.
 *
 * Output (the console, byte for byte what the native bench prints): "[init done]", progress
 * lines "\rcommits: %4d/%d", "[gc] commit I: store heap N bytes, heap in use M bytes" at gc
 * points (M is the kernel allocator's bytes in use, deterministic for a given image and command
 * line), "[run done]", "head: <hex>", "objects: ...", and the guest-measured durations on the
 * "time: init=I ms run=R ms" line. Exit value EXIT_OK (status 1) when the run completes.
 */
#include "alloc/alloc.h"
#include "arch/arch.h"
#include "cmdline/cmdline.h"
#include "console/console.h"
#include "irmin/irmin_bench.h"
#include "promise/irmin_promise.h"
#include "sched/sched.h"
#include "time/time.h"
#include "workload.h"
#include <stdio.h>

#define BENCH_INT_MAX 1000000000 /* the store bench's own bound on every integer parameter */

struct bench_run {
    struct irmin_bench_config config;
    irmin_status status;
    int wait_error; /* a libos error (ERR_*) from promise_await, 0 if none */
};

/* ---- the store operations, through promises ------------------------------------------------ */

/* Waits for p (the caller's reference is dropped) and maps its outcome to an irmin_status. */
static irmin_status await_store(struct bench_run *run, promise_t *p, uintptr_t *value) {
    int err = promise_await(p, value);
    promise_unref(p);
    if (err > 0) return (irmin_status)err; /* the store rejected it */
    if (err < 0) {                         /* the wait itself failed (cancelled) */
        run->wait_error = err;
        return IRMIN_INVALID;
    }
    return IRMIN_OK;
}

static irmin_status lwt_get_tree(void *context, struct irmin_repo *repo, const char *branch,
                                 struct irmin_tree **tree) {
    promise_t *p = irmin_p_get_tree(repo, branch);
    uintptr_t value = 0;
    /* A cancelled wait leaves the tree with the promise: take it back so it is freed. */
    if (promise_state(p) == PROMISE_RESOLVED) value = promise_value(p);
    irmin_status status = await_store(context, p, NULL);
    if (status != IRMIN_OK) {
        if (value) irmin_tree_free((struct irmin_tree *)value);
        return status;
    }
    *tree = (struct irmin_tree *)value;
    return IRMIN_OK;
}

static irmin_status lwt_set_tree(void *context, struct irmin_repo *repo, const char *branch,
                                 const struct irmin_path *path, struct irmin_tree *tree, const struct irmin_info *info) {
    return await_store(context, irmin_p_set_tree(repo, branch, path, tree, info, false, NULL), NULL);
}

/* ---- the bench's io ------------------------------------------------------------------------ */

static void bench_print(void *context, const char *text, size_t length) {
    (void)context;
    console_write(text, length);
}

static uint64_t bench_now_ns(void *context) {
    (void)context;
    return time_now_ns();
}

static uint64_t bench_heap_in_use(void *context) {
    (void)context;
    struct alloc_stats stats;
    alloc_get_stats(&stats);
    return stats.heap_bytes_in_use;
}

static int bench_fiber(void *arg) {
    struct bench_run *run = arg;
    const struct irmin_store_ops ops = {.get_tree = lwt_get_tree, .set_tree = lwt_set_tree, .context = run};
    const struct irmin_bench_io io = {
        .print = bench_print, .now_ns = bench_now_ns, .heap_in_use = bench_heap_in_use, .context = NULL};
    run->status = irmin_bench_run(&run->config, &ops, &io, NULL);
    return run->status == IRMIN_OK ? 0 : ERR_FAILED;
}

static int bench_body(struct sw *sw, void *arg) {
    struct bench_run *run = arg;
    /* About 0.5 KiB of stack per tree level while hashing (docs/irmin-store.md), with room. */
    size_t stack = FIBER_STACK_DEFAULT + (size_t)run->config.depth * 1024;
    return fiber_fork_with_stack(sw, "bench", bench_fiber, run, stack);
}

/* ---- the workload -------------------------------------------------------------------------- */

static int bench_int(const char *key, int64_t def, int64_t min) {
    int64_t value = arg_int(key, def);
    if (value < min || value > BENCH_INT_MAX)
        cmdline_usage_error("bench: %s=%lld: expected an integer from %lld to %d", key, (long long)value,
                            (long long)min, BENCH_INT_MAX);
    return (int)value;
}

int bench_main(void) {
    struct bench_run run = {0};
    irmin_bench_defaults(&run.config);
    struct irmin_bench_config *c = &run.config;
    int ncommits = bench_int("ncommits", c->ncommits, 0);
    c->ncommits = bench_int("commits", ncommits, 0);
    c->depth = bench_int("depth", c->depth, 0);
    c->tree_add = bench_int("tree_add", c->tree_add, 0);
    c->display = bench_int("display", c->display, 1);
    c->clear = arg_bool("clear", c->clear);
    c->gc = bench_int("gc", c->gc, 1);
    args_done();

    int err = sw_run("bench", bench_body, &run);
    if (run.wait_error) printf("error: bench: waiting for the store: %s\n", err_name(run.wait_error));
    if (err) {
        if (run.status == IRMIN_OK && !run.wait_error) printf("error: bench: %s\n", err_name(err));
        return EXIT_FAIL;
    }
    return EXIT_OK;
}
