/*
 * sched/fiber.c: fibers, switches, the run queue, timers and deferred callbacks.
 */
#include "sched/sched.h"
#include "alloc/alloc.h"
#include "arch/arch.h"
#include "log/log.h"
#include "time/time.h"
#include <stdio.h>
#include <string.h>

LOG_SOURCE(log_src, "sched");

#define STACK_CANARY 0x5afe57ac4ca9a27ull

enum fiber_state { FIBER_RUNNABLE, FIBER_RUNNING, FIBER_BLOCKED, FIBER_DEAD };

struct fiber {
    struct list_node run_link; /* run queue, or the dead list */
    struct list_node all_link; /* every live fiber */
    uint64_t saved_rsp;
    uint8_t *stack;            /* the stack block (its first page is the guard); NULL for main */
    size_t stack_bytes;
    unsigned stack_order;
    uint64_t id;
    char name[FIBER_NAME_MAX];
    enum fiber_state state;
    const char *wait_reason;
    struct sw *sw;             /* innermost switch: where cancellation comes from */
    struct sw *parent_sw;      /* the switch it was forked into (NULL for main) */
    fiber_fn fn;
    void *arg;
    fiber_cancel_fn on_cancel; /* while suspended cancellably */
    void *cancel_ctx;
    bool woken_by_cancel;
};

struct sw {
    const char *name;
    struct sw *parent;
    struct fiber *owner;
    unsigned live;           /* forked fibers not yet finished */
    bool cancelled;          /* turned off (by a failure here) */
    bool saw_cancel;         /* some fiber returned ERR_CANCELLED because of an enclosing switch */
    bool owner_waiting;
    int error;               /* the first failure */
    char failed[FIBER_NAME_MAX];
};

void sched_context_switch(uint64_t *save_rsp, uint64_t new_rsp); /* context.S */
void fiber_trampoline(void);                                     /* context.S */
NORETURN void fiber_start(struct fiber *self);                   /* called by fiber_trampoline */

static struct fiber main_fiber;
static struct fiber *current = &main_fiber;
static struct list_node run_queue = LIST_INIT(run_queue);
static struct list_node all_fibers = LIST_INIT(all_fibers);
static struct list_node dead_fibers = LIST_INIT(dead_fibers);
static struct list_node callbacks = LIST_INIT(callbacks);
static struct list_node timers = LIST_INIT(timers);
static struct list_node pollers = LIST_INIT(pollers);
static uint64_t next_fiber_id = 1;
static uint64_t next_timer_sequence;
static struct sched_stats stats;
static const char *running_callback; /* "a timer" / "a callback" while one runs: they must not block */

/* ---- cancellation contexts ---------------------------------------------------------------- */

static bool context_cancelled(const struct sw *sw) {
    for (; sw; sw = sw->parent)
        if (sw->cancelled) return true;
    return false;
}

bool sw_is_cancelled(const struct sw *sw) { return context_cancelled(sw); }
const char *sw_name(const struct sw *sw) { return sw->name; }

/* Wakes every cancellably suspended fiber whose context is now cancelled. */
static void wake_cancelled_fibers(void) {
    struct list_node *pos;
    list_for_each(pos, &all_fibers) {
        struct fiber *f = list_entry(pos, struct fiber, all_link);
        if (f->state == FIBER_BLOCKED && f->on_cancel && context_cancelled(f->sw)) {
            fiber_cancel_fn on_cancel = f->on_cancel;
            f->on_cancel = NULL;
            on_cancel(f, f->cancel_ctx);
            f->woken_by_cancel = true;
            fiber_resume(f);
        }
    }
}

static void sw_fail_from(struct sw *sw, int err, const char *who) {
    if (sw->error == 0) {
        sw->error = err;
        strlcpy(sw->failed, who, sizeof(sw->failed));
        LOG_DEBUG(log_src, "switch '%s': '%s' failed (%s); cancelling the others", sw->name, who, err_name(err));
    } else {
        LOG_WARN(log_src, "switch '%s': '%s' also failed (%s) after '%s' (%s)", sw->name, who, err_name(err),
                 sw->failed, err_name(sw->error));
    }
    if (!sw->cancelled) {
        sw->cancelled = true;
        wake_cancelled_fibers();
    }
}

void sw_fail(struct sw *sw, int err) { sw_fail_from(sw, err == 0 ? ERR_FAILED : err, current->name); }

/* What a fiber or a switch body returned, as seen by its switch. */
static void record_result(struct sw *sw, int result, const char *who) {
    if (result == 0) return;
    if (result == ERR_CANCELLED && context_cancelled(sw)) {
        if (!sw->cancelled) sw->saw_cancel = true; /* cancelled from outside */
        return;
    }
    sw_fail_from(sw, result, who);
}

/* ---- stacks -------------------------------------------------------------------------------- */

static void check_stack(const struct fiber *f) {
    if (f->stack && *(const uint64_t *)(f->stack + PAGE_SIZE) != STACK_CANARY)
        panic("sched: fiber '%s' overran its %zu-byte stack (canary above the guard page clobbered); "
              "fork it with fiber_fork_with_stack and a bigger size",
              f->name, f->stack_bytes - PAGE_SIZE);
}

static void release_fiber(struct fiber *f) {
    paging_set_present((uint64_t)(uintptr_t)f->stack, true);
    page_free(f->stack, f->stack_order);
    kfree(f);
}

static void reap_dead(void) {
    struct list_node *node;
    while ((node = list_pop_front(&dead_fibers))) release_fiber(list_entry(node, struct fiber, run_link));
}

/* ---- the scheduler ------------------------------------------------------------------------- */

static bool run_due_timers(void) {
    bool any = false;
    if (list_empty(&timers)) return false;
    uint64_t now = time_now_ns();
    while (!list_empty(&timers)) {
        struct sched_timer *t = list_entry(timers.next, struct sched_timer, link);
        if (t->deadline_ns > now) break;
        list_del(&t->link);
        stats.timers_fired++;
        running_callback = "a timer";
        t->fn(t);
        running_callback = NULL;
        any = true;
    }
    return any;
}

static void run_callbacks(void) {
    struct list_node *node;
    while ((node = list_pop_front(&callbacks))) {
        struct sched_callback *cb = list_entry(node, struct sched_callback, link);
        stats.callbacks_run++;
        running_callback = "a promise or scheduler callback";
        cb->fn(cb);
        running_callback = NULL;
    }
}

static NORETURN void deadlock(void) {
    static char fibers[1024];
    size_t used = 0;
    struct list_node *pos;
    list_for_each(pos, &all_fibers) {
        struct fiber *f = list_entry(pos, struct fiber, all_link);
        if (used < sizeof(fibers))
            used += (size_t)snprintf(fibers + used, sizeof(fibers) - used, "\n  fiber '%s' (id %lu) waits for %s%s%s", f->name,
                                     f->id, f->state == FIBER_BLOCKED && f->wait_reason ? f->wait_reason : "?",
                                     f->sw ? " in switch " : "", f->sw ? f->sw->name : "");
    }
    panic("sched: deadlock: no fiber can run and no timer or callback is pending (a promise nobody resolves? "
          "a fiber_suspend without fiber_resume?)%s",
          fibers);
}

static void check_may_block(const char *what) {
    if (running_callback)
        panic("sched: %s called from %s (running on fiber '%s'): callbacks must not block; fork a fiber "
              "for work that waits",
              what, running_callback, current->name);
}

void sched_poller_add(struct sched_poller *poller, bool (*pending)(struct sched_poller *), void (*run)(struct sched_poller *)) {
    poller->pending = pending;
    poller->run = run;
    list_push_back(&pollers, &poller->link);
}

static bool pollers_pending(void) {
    struct list_node *pos;
    list_for_each(pos, &pollers) {
        struct sched_poller *poller = list_entry(pos, struct sched_poller, link);
        if (poller->pending(poller)) return true;
    }
    return false;
}

static void run_pollers(void) {
    struct list_node *pos;
    list_for_each(pos, &pollers) {
        struct sched_poller *poller = list_entry(pos, struct sched_poller, link);
        if (poller->pending(poller)) poller->run(poller);
    }
}

/* Switches away from the current fiber, which has already been queued, blocked or killed. */
static void schedule(void) {
    struct fiber *prev = current;
    check_stack(prev);
    struct list_node *node;
    for (;;) {
        run_due_timers();
        run_pollers();
        run_callbacks();
        if ((node = list_pop_front(&run_queue))) break;
        if (list_empty(&timers) && list_empty(&pollers)) deadlock();
        /* With interrupts off, nothing can become pending between this check and the halt:
         * `sti; hlt` takes the interrupt only once halted. */
        irq_disable();
        if (pollers_pending()) {
            irq_enable();
            continue;
        }
        stats.idle_halts++;
        cpu_idle(); /* sti; hlt: the next timer tick (or any interrupt) wakes us */
    }
    struct fiber *next = list_entry(node, struct fiber, run_link);
    next->state = FIBER_RUNNING;
    if (next == prev) return;
    current = next;
    stats.context_switches++;
    sched_context_switch(&prev->saved_rsp, next->saved_rsp);
    /* back in prev */
    reap_dead();
}

void fiber_resume(struct fiber *f) {
    if (f->state != FIBER_BLOCKED) return;
    f->state = FIBER_RUNNABLE;
    list_push_back(&run_queue, &f->run_link);
}

int fiber_suspend(const char *reason, fiber_cancel_fn on_cancel, void *ctx) {
    check_may_block("a blocking wait");
    struct fiber *self = current;
    if (on_cancel && context_cancelled(self->sw)) {
        on_cancel(self, ctx);
        return ERR_CANCELLED;
    }
    self->state = FIBER_BLOCKED;
    self->wait_reason = reason;
    self->on_cancel = on_cancel;
    self->cancel_ctx = ctx;
    self->woken_by_cancel = false;
    schedule();
    self->on_cancel = NULL;
    self->wait_reason = NULL;
    return self->woken_by_cancel ? ERR_CANCELLED : 0;
}

int fiber_check(void) { return context_cancelled(current->sw) ? ERR_CANCELLED : 0; }

int fiber_yield(void) {
    check_may_block("fiber_yield");
    if (context_cancelled(current->sw)) return ERR_CANCELLED;
    current->state = FIBER_RUNNABLE;
    list_push_back(&run_queue, &current->run_link);
    schedule();
    return context_cancelled(current->sw) ? ERR_CANCELLED : 0;
}

/* ---- timers and callbacks ------------------------------------------------------------------ */

void sched_timer_start(struct sched_timer *timer, uint64_t deadline_ns, void (*fn)(struct sched_timer *timer)) {
    timer->deadline_ns = deadline_ns;
    timer->sequence = next_timer_sequence++;
    timer->fn = fn;
    struct list_node *pos;
    list_for_each(pos, &timers) {
        struct sched_timer *t = list_entry(pos, struct sched_timer, link);
        if (t->deadline_ns > deadline_ns) break;
    }
    list_insert_before(pos, &timer->link);
}

void sched_timer_cancel(struct sched_timer *timer) {
    if (list_linked(&timer->link)) list_del(&timer->link);
}

void sched_defer(struct sched_callback *cb, void (*fn)(struct sched_callback *cb)) {
    cb->fn = fn;
    list_push_back(&callbacks, &cb->link);
}

void sched_defer_cancel(struct sched_callback *cb) {
    if (list_linked(&cb->link)) list_del(&cb->link);
}

struct sleeper {
    struct sched_timer timer;
    struct fiber *fiber;
};

static void sleeper_wake(struct sched_timer *timer) {
    fiber_resume(container_of(timer, struct sleeper, timer)->fiber);
}

static void sleeper_cancel(struct fiber *f, void *ctx) {
    (void)f;
    sched_timer_cancel(&((struct sleeper *)ctx)->timer);
}

int fiber_sleep_until(uint64_t deadline_ns) {
    if (context_cancelled(current->sw)) return ERR_CANCELLED;
    struct sleeper sleeper = {.fiber = current};
    list_init(&sleeper.timer.link);
    sched_timer_start(&sleeper.timer, deadline_ns, sleeper_wake);
    return fiber_suspend("sleep", sleeper_cancel, &sleeper);
}

int fiber_sleep_ns(uint64_t ns) { return fiber_sleep_until(time_now_ns() + ns); }

/* ---- fibers and switches ------------------------------------------------------------------- */

struct fiber *fiber_self(void) { return current; }
const char *fiber_name(const struct fiber *f) { return f->name; }
uint64_t fiber_id(const struct fiber *f) { return f->id; }

NORETURN void fiber_start(struct fiber *self) {
    reap_dead();
    int result = self->fn(self->arg);
    check_stack(self);
    struct sw *sw = self->parent_sw;
    record_result(sw, result, self->name);
    if (--sw->live == 0 && sw->owner_waiting) fiber_resume(sw->owner);
    self->state = FIBER_DEAD;
    list_del(&self->all_link);
    list_push_back(&dead_fibers, &self->run_link);
    stats.fibers_live--;
    schedule();
    panic("sched: dead fiber '%s' was resumed", self->name);
}

int fiber_fork_with_stack(struct sw *sw, const char *name, fiber_fn fn, void *arg, size_t stack_bytes) {
    if (context_cancelled(sw)) return ERR_CANCELLED;
    unsigned order = page_order_for(MAX(stack_bytes, 2 * PAGE_SIZE));
    struct fiber *f = kzalloc(sizeof(*f));
    uint8_t *stack = page_alloc(order);
    if (!f || !stack || paging_set_present((uint64_t)(uintptr_t)stack, false) != 0) {
        if (stack) page_free(stack, order);
        kfree(f);
        LOG_WARN(log_src, "cannot fork '%s': out of memory for a %lu-byte stack", name, PAGE_SIZE << order);
        return ERR_NOMEM;
    }
    f->stack = stack;
    f->stack_order = order;
    f->stack_bytes = PAGE_SIZE << order;
    *(uint64_t *)(stack + PAGE_SIZE) = STACK_CANARY;
    f->id = next_fiber_id++;
    strlcpy(f->name, name, sizeof(f->name));
    f->sw = sw;
    f->parent_sw = sw;
    f->fn = fn;
    f->arg = arg;
    /* what sched_context_switch pops: r15 r14 r13 r12(=f) rbx rbp, then the return address */
    uint64_t *top = (uint64_t *)(stack + f->stack_bytes);
    uint64_t *sp = top - 7;
    sp[0] = sp[1] = sp[2] = 0;
    sp[3] = (uint64_t)(uintptr_t)f;
    sp[4] = sp[5] = 0;
    sp[6] = (uint64_t)(uintptr_t)fiber_trampoline;
    f->saved_rsp = (uint64_t)(uintptr_t)sp;
    sw->live++;
    list_push_back(&all_fibers, &f->all_link);
    f->state = FIBER_RUNNABLE;
    list_push_back(&run_queue, &f->run_link);
    stats.fibers_created++;
    stats.fibers_live++;
    LOG_DEBUG(log_src, "fork '%s' (id %lu) in switch '%s'", f->name, f->id, sw->name);
    return 0;
}

int fiber_fork(struct sw *sw, const char *name, fiber_fn fn, void *arg) {
    return fiber_fork_with_stack(sw, name, fn, arg, FIBER_STACK_DEFAULT);
}

int sw_run(const char *name, sw_body_fn body, void *arg) {
    struct fiber *self = current;
    struct sw sw = {.name = name, .parent = self->sw, .owner = self};
    self->sw = &sw;
    int result = body(&sw, arg);
    record_result(&sw, result, self->name);
    while (sw.live > 0) {
        sw.owner_waiting = true;
        int err = fiber_suspend("its switch's fibers", NULL, NULL); /* not cancellable */
        (void)err;
        sw.owner_waiting = false;
    }
    self->sw = sw.parent;
    if (sw.error) return sw.error;
    return sw.saw_cancel ? ERR_CANCELLED : 0;
}

/* ---- reports ------------------------------------------------------------------------------- */

static const struct fiber *fiber_with_guard_at(uint64_t address) {
    if (address >= (uint64_t)(uintptr_t)boot_stack_guard && address < (uint64_t)(uintptr_t)boot_stack_bottom)
        return &main_fiber;
    struct list_node *pos;
    list_for_each(pos, &all_fibers) {
        const struct fiber *f = list_entry(pos, struct fiber, all_link);
        if (f->stack && address >= (uint64_t)(uintptr_t)f->stack && address < (uint64_t)(uintptr_t)f->stack + PAGE_SIZE)
            return f;
    }
    return NULL;
}

static void report_hook(const struct trap_frame *frame) {
    const struct fiber *f = current;
    uint64_t low = f->stack ? (uint64_t)(uintptr_t)f->stack + PAGE_SIZE : (uint64_t)(uintptr_t)boot_stack_bottom;
    uint64_t high = f->stack ? (uint64_t)(uintptr_t)f->stack + f->stack_bytes : (uint64_t)(uintptr_t)boot_stack_top;
    printf("  fiber: '%s' (id %lu), stack %#lx-%#lx%s%s\n", f->name, f->id, low, high, f->sw ? ", switch " : "",
           f->sw ? f->sw->name : "");
    if (frame && (frame->vector == 14 || frame->vector == 8)) {
        const struct fiber *owner = fiber_with_guard_at(read_cr2());
        if (owner)
            printf("  hint: CR2 is in the guard page below the stack of fiber '%s': its stack overflowed "
                   "(%s)\n",
                   owner->name,
                   owner == &main_fiber ? "the boot stack is 64 KiB, arch/entry.S"
                                        : "fork it with fiber_fork_with_stack and a bigger size");
    }
}

void sched_init(void) {
    main_fiber.id = 0;
    strlcpy(main_fiber.name, "main", sizeof(main_fiber.name));
    main_fiber.state = FIBER_RUNNING;
    list_init(&main_fiber.run_link);
    list_push_back(&all_fibers, &main_fiber.all_link);
    stats.fibers_live = 1;
    current = &main_fiber;
    trap_set_report_hook(report_hook);
}

void sched_get_stats(struct sched_stats *out) { *out = stats; }
