/*
 * promise/promise.c: promises, their combinators, and the fiber bridge.
 *
 * A callback is a struct promise_cb whose sched_callback link sits on the promise's callback
 * list while the promise is pending, then on the scheduler's queue once it has settled: one
 * link, so withdrawing a callback (a cancelled await) is one list_del wherever it is.
 */
#include "promise/promise.h"
#include "alloc/alloc.h"
#include "log/log.h"
#include "sched/sched.h"
#include "time/time.h"

LOG_SOURCE(log_src, "promise");

struct promise {
    enum promise_state state;
    unsigned refs;
    uintptr_t value;
    int error;
    struct list_node callbacks;
};

struct promise_cb {
    struct sched_callback run;
    promise_t *promise; /* the callback holds a reference */
    void (*fn)(promise_t *p, void *ctx);
    void *ctx;
    bool on_heap;
};

static uint64_t live_promises;

static const char *state_name(enum promise_state s) {
    return s == PROMISE_PENDING ? "pending" : s == PROMISE_RESOLVED ? "resolved" : "rejected";
}

static promise_t *promise_alloc(void) {
    promise_t *p = kzalloc(sizeof(*p));
    if (!p) panic("promise: out of memory");
    p->refs = 1;
    p->state = PROMISE_PENDING;
    list_init(&p->callbacks);
    live_promises++;
    return p;
}

promise_t *promise_new(void) { return promise_alloc(); }

promise_t *promise_resolved(uintptr_t value) {
    promise_t *p = promise_alloc();
    p->state = PROMISE_RESOLVED;
    p->value = value;
    return p;
}

promise_t *promise_rejected(int error) {
    promise_t *p = promise_alloc();
    p->state = PROMISE_REJECTED;
    p->error = error ? error : ERR_FAILED;
    return p;
}

promise_t *promise_ref(promise_t *p) {
    p->refs++;
    return p;
}

void promise_unref(promise_t *p) {
    if (p->refs == 0) panic("promise_unref(%p): the promise was already freed (reference count 0)", (void *)p);
    if (--p->refs > 0) return;
    live_promises--;
    kfree(p);
}

enum promise_state promise_state(const promise_t *p) { return p->state; }
uintptr_t promise_value(const promise_t *p) { return p->value; }
int promise_error(const promise_t *p) { return p->error; }
uint64_t promise_live_count(void) { return live_promises; }

static void cb_run(struct sched_callback *run) {
    struct promise_cb *cb = container_of(run, struct promise_cb, run);
    promise_t *p = cb->promise;
    cb->fn(p, cb->ctx);
    if (cb->on_heap) kfree(cb);
    promise_unref(p);
}

static void cb_attach(promise_t *p, struct promise_cb *cb) {
    cb->promise = promise_ref(p);
    if (p->state == PROMISE_PENDING) {
        list_push_back(&p->callbacks, &cb->run.link);
    } else {
        sched_defer(&cb->run, cb_run);
    }
}

static void settle(promise_t *p, enum promise_state state, uintptr_t value, int error) {
    if (p->state != PROMISE_PENDING)
        panic("promise: settling a promise that is already %s (resolve/reject called twice?)", state_name(p->state));
    p->state = state;
    p->value = value;
    p->error = error;
    struct list_node *node;
    while ((node = list_pop_front(&p->callbacks))) {
        struct promise_cb *cb = container_of(node, struct promise_cb, run.link);
        sched_defer(&cb->run, cb_run);
    }
}

void promise_resolve(promise_t *p, uintptr_t value) { settle(p, PROMISE_RESOLVED, value, 0); }
void promise_reject(promise_t *p, int error) { settle(p, PROMISE_REJECTED, 0, error ? error : ERR_FAILED); }

void promise_on_settle(promise_t *p, void (*fn)(promise_t *p, void *ctx), void *ctx) {
    struct promise_cb *cb = kzalloc(sizeof(*cb));
    if (!cb) panic("promise: out of memory");
    list_init(&cb->run.link);
    cb->fn = fn;
    cb->ctx = ctx;
    cb->on_heap = true;
    cb_attach(p, cb);
}

/* Settles `target` like the settled `source`. */
static void copy_outcome(promise_t *target, const promise_t *source) {
    if (source->state == PROMISE_RESOLVED)
        promise_resolve(target, source->value);
    else
        promise_reject(target, source->error);
}

/* on_settle step that makes the result (ctx, one reference) follow the settled promise. */
static void forward_step(promise_t *source, void *ctx) {
    promise_t *result = ctx;
    copy_outcome(result, source);
    promise_unref(result);
}

/* Makes `result` (its reference is given up) follow `next` (its reference is given up). */
static void follow(promise_t *result, promise_t *next) {
    if (next == NULL) {
        LOG_ERROR(log_src, "a bind/catch function returned NULL instead of a promise");
        promise_reject(result, ERR_INVAL);
        promise_unref(result);
        return;
    }
    promise_on_settle(next, forward_step, result);
    promise_unref(next);
}

struct step {
    promise_t *result; /* one reference */
    union {
        promise_bind_fn bind;
        promise_map_fn map;
        promise_catch_fn catch_;
    } f;
    void *ctx;
};

static struct step *step_new(void *ctx, promise_t **result_out) {
    struct step *s = kzalloc(sizeof(*s));
    if (!s) panic("promise: out of memory");
    promise_t *result = promise_alloc();
    s->result = promise_ref(result);
    s->ctx = ctx;
    *result_out = result;
    return s;
}

static void bind_step(promise_t *p, void *ctx) {
    struct step *s = ctx;
    promise_t *result = s->result;
    if (p->state == PROMISE_RESOLVED) {
        follow(result, s->f.bind(p->value, s->ctx));
    } else {
        promise_reject(result, p->error);
        promise_unref(result);
    }
    kfree(s);
}

promise_t *promise_bind(promise_t *p, promise_bind_fn f, void *ctx) {
    promise_t *result;
    struct step *s = step_new(ctx, &result);
    s->f.bind = f;
    promise_on_settle(p, bind_step, s);
    return result;
}

static void map_step(promise_t *p, void *ctx) {
    struct step *s = ctx;
    if (p->state == PROMISE_RESOLVED)
        promise_resolve(s->result, s->f.map(p->value, s->ctx));
    else
        promise_reject(s->result, p->error);
    promise_unref(s->result);
    kfree(s);
}

promise_t *promise_map(promise_t *p, promise_map_fn f, void *ctx) {
    promise_t *result;
    struct step *s = step_new(ctx, &result);
    s->f.map = f;
    promise_on_settle(p, map_step, s);
    return result;
}

static void catch_step(promise_t *p, void *ctx) {
    struct step *s = ctx;
    promise_t *result = s->result;
    if (p->state == PROMISE_REJECTED) {
        follow(result, s->f.catch_(p->error, s->ctx));
    } else {
        promise_resolve(result, p->value);
        promise_unref(result);
    }
    kfree(s);
}

promise_t *promise_catch(promise_t *p, promise_catch_fn f, void *ctx) {
    promise_t *result;
    struct step *s = step_new(ctx, &result);
    s->f.catch_ = f;
    promise_on_settle(p, catch_step, s);
    return result;
}

struct join {
    promise_t *result; /* one reference */
    size_t remaining;
    int first_error;
};

static void join_step(promise_t *p, void *ctx) {
    struct join *j = ctx;
    if (p->state == PROMISE_REJECTED && j->first_error == 0) j->first_error = p->error;
    if (--j->remaining > 0) return;
    if (j->first_error)
        promise_reject(j->result, j->first_error);
    else
        promise_resolve(j->result, 0);
    promise_unref(j->result);
    kfree(j);
}

promise_t *promise_join(promise_t *const *ps, size_t count) {
    if (count == 0) return promise_resolved(0);
    promise_t *result = promise_alloc();
    struct join *j = kzalloc(sizeof(*j));
    if (!j) panic("promise: out of memory");
    j->result = promise_ref(result);
    j->remaining = count;
    for (size_t i = 0; i < count; i++) promise_on_settle(ps[i], join_step, j);
    return result;
}

struct sleep_timer {
    struct sched_timer timer;
    promise_t *promise; /* one reference */
};

static void sleep_fire(struct sched_timer *timer) {
    struct sleep_timer *s = container_of(timer, struct sleep_timer, timer);
    promise_resolve(s->promise, 0);
    promise_unref(s->promise);
    kfree(s);
}

promise_t *promise_sleep(uint64_t ns) {
    promise_t *p = promise_alloc();
    struct sleep_timer *s = kzalloc(sizeof(*s));
    if (!s) panic("promise: out of memory");
    list_init(&s->timer.link);
    s->promise = promise_ref(p);
    sched_timer_start(&s->timer, time_now_ns() + ns, sleep_fire);
    return p;
}

/* ---- the bridge ---------------------------------------------------------------------------- */

struct awaiter {
    struct promise_cb cb; /* on the waiting fiber's stack */
    struct fiber *fiber;
};

static void awaiter_wake(promise_t *p, void *ctx) {
    (void)p;
    fiber_resume(((struct awaiter *)ctx)->fiber);
}

static void awaiter_cancel(struct fiber *f, void *ctx) {
    (void)f;
    struct awaiter *a = ctx;
    list_del(&a->cb.run.link); /* off the promise's list or the scheduler's queue */
    promise_unref(a->cb.promise);
}

int promise_await(promise_t *p, uintptr_t *value) {
    if (p->state == PROMISE_PENDING) {
        struct awaiter a = {.fiber = fiber_self()};
        list_init(&a.cb.run.link);
        a.cb.fn = awaiter_wake;
        a.cb.ctx = &a;
        a.cb.on_heap = false;
        cb_attach(p, &a.cb);
        int err = fiber_suspend("a promise", awaiter_cancel, &a);
        if (err) return err;
    }
    if (p->state == PROMISE_PENDING) panic("promise_await: woken while the promise is still pending");
    if (p->state == PROMISE_REJECTED) return p->error;
    if (value) *value = p->value;
    return 0;
}

struct fiber_job {
    promise_fiber_fn fn;
    void *arg;
    promise_t *promise; /* one reference */
};

static int fiber_job_main(void *arg) {
    struct fiber_job *job = arg;
    uintptr_t value = 0;
    int err = job->fn(job->arg, &value);
    if (err)
        promise_reject(job->promise, err);
    else
        promise_resolve(job->promise, value);
    promise_unref(job->promise);
    kfree(job);
    return 0; /* the outcome goes to the promise, not to the switch */
}

promise_t *promise_of_fiber(struct sw *sw, const char *name, promise_fiber_fn fn, void *arg) {
    promise_t *p = promise_alloc();
    struct fiber_job *job = kzalloc(sizeof(*job));
    if (!job) panic("promise: out of memory");
    job->fn = fn;
    job->arg = arg;
    job->promise = promise_ref(p);
    int err = fiber_fork(sw, name, fiber_job_main, job);
    if (err) {
        promise_unref(job->promise);
        kfree(job);
        promise_reject(p, err);
    }
    return p;
}
