/*
 * sched/sched.h: cooperative fibers with structured concurrency (in the spirit of OCaml's Eio).
 *
 * A fiber runs until it reaches a suspension point (fiber_yield, fiber_sleep_ns, waiting on a
 * promise, sw_run waiting for its fibers, returning); then the scheduler runs due timers and
 * queued callbacks and switches to the next runnable fiber (FIFO). With nothing runnable the
 * CPU halts (sti; hlt) until the next interrupt.
 *
 * Fibers live in switches. sw_run(name, body, arg) runs body(sw, arg) in the calling fiber;
 * body forks fibers into sw with fiber_fork, and sw_run returns only when all of them have
 * finished. A fiber (or the body) fails by returning a nonzero int; the first failure turns
 * the switch off: every fiber in it (and in switches nested inside it) is cancelled, and
 * sw_run returns that first error. A cancelled fiber notices at its next suspension point,
 * which returns ERR_CANCELLED; it should clean up and return (the usual idiom is
 * `if ((err = fiber_sleep_ns(ns))) return err;`). A switch whose fibers only saw a cancellation
 * from an enclosing switch returns ERR_CANCELLED.
 *
 * fiber_fork queues the new fiber; the caller keeps running until it suspends. Forking into a
 * cancelled switch returns ERR_CANCELLED and starts nothing. The calling context of kmain is
 * the fiber "main".
 *
 * Stacks are page blocks whose lowest page is unmapped: an overflow faults and the trap report
 * names the fiber.
 */
#ifndef LIBOS_SCHED_H
#define LIBOS_SCHED_H

#include "base/base.h"
#include "base/err.h"
#include "base/list.h"

#define FIBER_NAME_MAX 24
#define FIBER_STACK_DEFAULT (64 * 1024) /* bytes, including the 4 KiB guard page */

struct fiber;
struct sw;

typedef int (*fiber_fn)(void *arg);
typedef int (*sw_body_fn)(struct sw *sw, void *arg);

void sched_init(void);

/* ---- structured concurrency ------------------------------------------------------------- */
int sw_run(const char *name, sw_body_fn body, void *arg);
/* 0, ERR_CANCELLED (the switch is off) or ERR_NOMEM. */
int fiber_fork(struct sw *sw, const char *name, fiber_fn fn, void *arg);
int fiber_fork_with_stack(struct sw *sw, const char *name, fiber_fn fn, void *arg, size_t stack_bytes);
/* Turns the switch off with `err` (if it has no error yet), cancelling its fibers. */
void sw_fail(struct sw *sw, int err);
bool sw_is_cancelled(const struct sw *sw); /* this switch or an enclosing one is off */
const char *sw_name(const struct sw *sw);

/* ---- suspension points: 0, or ERR_CANCELLED if the current fiber is cancelled -------------- */
int fiber_yield(void) MUST_CHECK;
int fiber_sleep_ns(uint64_t ns) MUST_CHECK;
int fiber_sleep_until(uint64_t deadline_ns) MUST_CHECK; /* deadline on the time_now_ns clock */
int fiber_check(void) MUST_CHECK;                       /* no suspension, only the check */

struct fiber *fiber_self(void);
const char *fiber_name(const struct fiber *f);
uint64_t fiber_id(const struct fiber *f);

/* ---- building blocks for other layers (the promise bridge) --------------------------------
 * fiber_suspend blocks the current fiber until someone calls fiber_resume on it. With an
 * on_cancel function the wait is cancellable: if the fiber's switch is cancelled meanwhile,
 * on_cancel(fiber, ctx) runs (it must undo whatever would have resumed the fiber) and
 * fiber_suspend returns ERR_CANCELLED. fiber_resume on a fiber that is not suspended does
 * nothing. */
typedef void (*fiber_cancel_fn)(struct fiber *f, void *ctx);
int fiber_suspend(const char *reason, fiber_cancel_fn on_cancel, void *ctx) MUST_CHECK;
void fiber_resume(struct fiber *f);

/* A callback queued to run from the scheduler at its next scheduling point (FIFO order). */
struct sched_callback {
    struct list_node link;
    void (*fn)(struct sched_callback *cb);
};
void sched_defer(struct sched_callback *cb, void (*fn)(struct sched_callback *cb));
/* Removes a queued callback that has not run yet (no effect otherwise). */
void sched_defer_cancel(struct sched_callback *cb);

/* A one-shot timer: fn(timer) runs from the scheduler once time_now_ns() >= deadline_ns.
 * Timers with equal deadlines fire in the order they were started. */
struct sched_timer {
    struct list_node link;
    uint64_t deadline_ns;
    uint64_t sequence;
    void (*fn)(struct sched_timer *timer);
};
void sched_timer_start(struct sched_timer *timer, uint64_t deadline_ns, void (*fn)(struct sched_timer *timer));
void sched_timer_cancel(struct sched_timer *timer); /* no effect if it already fired */

/* A source of work outside the scheduler: a device whose interrupt handler only sets a flag.
 * At every scheduling point the scheduler calls pending(poller) and, when it says yes,
 * run(poller). pending is also called with interrupts off just before the CPU halts, so it must
 * only read state. While a poller is registered, nothing runnable and no timer means "halt until
 * an interrupt", not a deadlock. run must not block (it may resume fibers). Pollers stay
 * registered for good. */
struct sched_poller {
    struct list_node link;
    bool (*pending)(struct sched_poller *poller);
    void (*run)(struct sched_poller *poller);
};
void sched_poller_add(struct sched_poller *poller, bool (*pending)(struct sched_poller *), void (*run)(struct sched_poller *));

struct sched_stats {
    uint64_t fibers_live;    /* including main */
    uint64_t fibers_created; /* since boot, excluding main */
    uint64_t context_switches;
    uint64_t callbacks_run;
    uint64_t timers_fired;
    uint64_t idle_halts;     /* times the scheduler halted the CPU waiting for an interrupt */
};
void sched_get_stats(struct sched_stats *stats);

#endif
