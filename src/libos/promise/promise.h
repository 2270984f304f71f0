/*
 * promise/promise.h: Lwt-style promises, and the bridge between promises and fibers
 * (in the spirit of Lwt_eio).
 *
 * A promise is pending, then resolved with a value (a uintptr_t: an integer or a pointer) or
 * rejected with a nonzero error code, once. Callbacks attached with promise_on_settle, and the
 * steps of bind/map/catch, never run inside promise_resolve/reject or at attachment: they are
 * queued, in order, and run from the scheduler at its next scheduling point (a fiber yielding,
 * sleeping, waiting or returning).
 *
 * Memory: promises are reference-counted. Every function returning a promise_t * gives the
 * caller one reference, to drop with promise_unref. bind/map/catch/join and the callbacks keep
 * their own references to what they need, so dropping yours early is fine.
 *
 * The bridge:
 *  - promise_await(p, &value) (Lwt_eio.run_lwt): the calling fiber waits until p settles; the
 *    wait is a suspension point, so it returns ERR_CANCELLED if the fiber is cancelled first.
 *  - promise_of_fiber(sw, ...) (Lwt_eio.run_eio): runs a function in a new fiber of switch sw
 *    and returns a promise of its result.
 */
#ifndef LIBOS_PROMISE_H
#define LIBOS_PROMISE_H

#include "base/base.h"
#include "base/err.h"

struct sw;
typedef struct promise promise_t;

enum promise_state { PROMISE_PENDING, PROMISE_RESOLVED, PROMISE_REJECTED };

promise_t *promise_new(void);              /* pending (Lwt.wait / Lwt.task) */
promise_t *promise_resolved(uintptr_t value); /* Lwt.return */
promise_t *promise_rejected(int error);       /* Lwt.fail */
/* Settling a promise that is not pending is a bug: it panics. */
void promise_resolve(promise_t *p, uintptr_t value);
void promise_reject(promise_t *p, int error);

enum promise_state promise_state(const promise_t *p);
uintptr_t promise_value(const promise_t *p); /* when resolved */
int promise_error(const promise_t *p);       /* when rejected */
promise_t *promise_ref(promise_t *p);
void promise_unref(promise_t *p);

/* Lwt.on_any: fn(p, ctx) runs (from the scheduler) once p has settled. */
void promise_on_settle(promise_t *p, void (*fn)(promise_t *p, void *ctx), void *ctx);

/* Lwt.bind: when p resolves with v, f(v, ctx) returns the next promise (the step gives up the
 * reference f returns), and the result follows it; a rejection of p skips f. */
typedef promise_t *(*promise_bind_fn)(uintptr_t value, void *ctx);
promise_t *promise_bind(promise_t *p, promise_bind_fn f, void *ctx);
/* Lwt.map: the result resolves with f(v, ctx). */
typedef uintptr_t (*promise_map_fn)(uintptr_t value, void *ctx);
promise_t *promise_map(promise_t *p, promise_map_fn f, void *ctx);
/* Lwt.catch: when p is rejected with e, the result follows f(e, ctx); a resolution passes through. */
typedef promise_t *(*promise_catch_fn)(int error, void *ctx);
promise_t *promise_catch(promise_t *p, promise_catch_fn f, void *ctx);
/* Lwt.join: resolves with 0 once all of ps have resolved; if some are rejected, it waits for
 * all to settle and is rejected with the first rejection's error. */
promise_t *promise_join(promise_t *const *ps, size_t count);
/* Lwt_unix.sleep: resolves with 0 after ns nanoseconds (from the scheduler's timers). */
promise_t *promise_sleep(uint64_t ns);

/* The bridge (see above). Returns 0 and stores the value, or the rejection's error, or
 * ERR_CANCELLED. `value` may be NULL. */
int promise_await(promise_t *p, uintptr_t *value) MUST_CHECK;
/* fn runs in a new fiber of sw; the promise resolves with the *value it stores if fn returns 0,
 * and is rejected with fn's result otherwise (the switch itself does not fail). A promise that
 * could not start its fiber is rejected with the fork's error. */
typedef int (*promise_fiber_fn)(void *arg, uintptr_t *value);
promise_t *promise_of_fiber(struct sw *sw, const char *name, promise_fiber_fn fn, void *arg);

/* Promises alive now (to check for leaks). */
uint64_t promise_live_count(void);

#endif
