/*
 * workload/fault.c: faults on purpose, to see (and test) the reports.
 *
 *   fault kind=null       read through a NULL pointer         -> #PF report, status 255
 *   fault kind=pagefault  write above the 4 GiB identity map  -> #PF report, status 255
 *   fault kind=gp         load a non-canonical address        -> #GP report, status 255
 *   fault kind=ud         execute UD2                          -> #UD report, status 255
 *   fault kind=divide     divide by zero                       -> #DE report, status 255
 *   fault kind=stack      unbounded recursion in a fiber       -> #DF report naming the fiber
 *   fault kind=panic      call panic()                         -> panic report, status 253
 *   fault kind=assert     fail an assert()                     -> panic report, status 253
 *   fault kind=doublefree free a kmalloc object twice          -> panic report, status 253
 *   fault kind=deadlock   await a promise nobody resolves      -> panic report, status 253
 */
#include "arch/arch.h"
#include "alloc/alloc.h"
#include "cmdline/cmdline.h"
#include "log/log.h"
#include "promise/promise.h"
#include "sched/sched.h"
#include "workload.h"
#include <assert.h>
#include <stdio.h>
#include <string.h>

static volatile uint64_t sink;

static volatile int keep_going = 1;

/* Recurses until the stack runs out (keep_going is never cleared). */
static int recurse(int depth) {
    volatile char frame[256];
    frame[0] = (char)depth;
    if (!keep_going) return depth;
    return recurse(depth + 1) + frame[0];
}

static int overflow_fiber(void *arg) {
    (void)arg;
    return recurse(0);
}

static int overflow_body(struct sw *sw, void *arg) {
    (void)arg;
    return fiber_fork(sw, "deep-recursion", overflow_fiber, NULL);
}

int fault_main(void) {
    const char *kind = arg_str("kind", "null");
    args_done();
    printf("fault: raising '%s' on purpose\n", kind);
    if (strcmp(kind, "null") == 0) {
        sink = *(volatile uint64_t *)0;
    } else if (strcmp(kind, "pagefault") == 0) {
        *(volatile uint64_t *)(uintptr_t)0x100000000ull = 1;
    } else if (strcmp(kind, "gp") == 0) {
        sink = *(volatile uint64_t *)(uintptr_t)0x8000000000000000ull;
    } else if (strcmp(kind, "ud") == 0) {
        __asm__ volatile("ud2");
    } else if (strcmp(kind, "divide") == 0) {
        uint64_t quotient = 1, high = 0, zero = 0;
        __asm__ volatile("divq %2" : "+a"(quotient), "+d"(high) : "r"(zero)); /* C's x/0 is undefined, DIV is not */
        sink = quotient;
    } else if (strcmp(kind, "stack") == 0) {
        return sw_run("overflow", overflow_body, NULL);
    } else if (strcmp(kind, "panic") == 0) {
        panic("fault: panic requested on the command line");
    } else if (strcmp(kind, "assert") == 0) {
        volatile int two = 2;
        assert(two + two == 5);
    } else if (strcmp(kind, "doublefree") == 0) {
        void *p = kmalloc(40);
        kfree(p);
        kfree(p);
    } else if (strcmp(kind, "deadlock") == 0) {
        promise_t *p = promise_new();
        int err = promise_await(p, NULL);
        (void)err;
    } else {
        cmdline_usage_error("fault: unknown kind '%s' (null, pagefault, gp, ud, divide, stack, panic, assert, doublefree, deadlock)", kind);
    }
    printf("fault: '%s' did not fault\n", kind);
    return EXIT_FAIL;
}
