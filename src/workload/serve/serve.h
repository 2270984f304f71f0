/*
 * serve/serve.h: the HTTP/1.1 server over the Irmin-style store, the application half of the
 * `serve` workload (docs/serve.md). Everything above a byte stream lives here: the request
 * parser, the routes over the store, the per-connection keep-alive loop and the /stats counters.
 * The socket layer (listening, accepting, one fiber per connection, timeouts) is the caller's.
 *
 * Portable C like the store: it includes only the compiler's freestanding headers, <string.h>
 * and <stdlib.h> (the mini libc in the kernel, glibc natively), base/err.h and irmin/irmin.h.
 * test/serve/ builds it as a Linux program and drives it with scripted streams.
 *
 * Concurrency: one serve_state is shared by every connection; connections run in cooperative
 * fibers. The only suspension points are the stream's read and write callbacks, and every store
 * operation of a request runs between two of them, so each request sees and changes the store
 * atomically (a PUT reads the branch head and moves it with no suspension in between). The
 * other callbacks (wall clock, heap_in_use, tcp_stats, log) run inside a request and must not
 * suspend.
 *
 * Ownership: serve_connection allocates its buffers (about 24 KiB, plus the body and the
 * response) and frees them before returning; it never closes the stream.
 */
#ifndef SERVE_H
#define SERVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct irmin_repo;

/* A byte stream: a connected socket in the kernel, a scripted buffer in tests. */
struct http_stream {
    /* Up to `length` bytes into `buffer`: > 0 bytes read, 0 at the end of the stream, < 0 an
     * error (ERR_TIMEOUT when the idle timeout passed, ERR_CANCELLED, ERR_CONNRESET...). */
    long (*read)(void *ctx, void *buffer, size_t length);
    /* Writes all `length` bytes or fails: 0 or < 0. */
    int (*write)(void *ctx, const void *data, size_t length);
    void *ctx;
};

#define SERVE_DEFAULT_MAX_BODY (16u << 20)     /* bytes */
#define SERVE_DEFAULT_IDLE_S 10
#define SERVE_DEFAULT_MAX_CONNS 256
#define SERVE_DEFAULT_MAX_RESPONSE (16u << 20) /* bytes of a JSON response */
#define SERVE_DEFAULT_MAX_DEPTH 32             /* steps in a path */

/* One response, for an access log (serve_config.log). */
struct serve_log_entry {
    const char *method;      /* as sent ("GET", ...), or "-" when the request line was unusable */
    const char *path;        /* the target's path as sent (percent-encoded), or "-" */
    int status;
    uint64_t content_length; /* the body's length (HEAD: what a GET would have sent) */
    bool head_only;          /* the body was not sent (HEAD) */
};

/*
 * Limits and the environment's callbacks. A zeroed field means its default, so
 * `struct serve_config config = {0};` is the default configuration.
 */
struct serve_config {
    size_t max_body;           /* a request body above this is 413 (default 16 MiB) */
    unsigned idle_s;           /* for the socket layer: its read timeout (default 10 s) */
    unsigned max_conns;        /* for serve_admit: connections open at once (default 256) */
    size_t max_response;       /* a JSON response above this is 500 (default 16 MiB) */
    unsigned max_depth;        /* steps in a /tree path; more is 400 (default 32). The store
                                  uses about 0.5 KiB of stack per tree level. */
    uint64_t max_store_bytes;  /* writes are 507 once the repo holds this much (0: no limit);
                                  the store aborts when memory runs out, so set it below RAM */
    /* Heap bytes in use, for /stats (the kernel's allocator); NULL reports 0. */
    uint64_t (*heap_in_use)(void);
    /* The TCP counters for /stats: writes one JSON value (an object, usually) into `buffer`
     * and returns its length; 0 or >= size means "none" and /stats says null. May be NULL. */
    size_t (*tcp_stats)(void *ctx, char *buffer, size_t size);
    void *tcp_stats_ctx;
    /* Called after each final response is written (an access log); may be NULL. */
    void (*log)(void *ctx, const struct serve_log_entry *entry);
    void *log_ctx;
};

struct serve_stats {
    uint64_t connections_open;     /* admitted and not finished yet */
    uint64_t connections_served;   /* finished */
    uint64_t connections_refused;  /* turned away by serve_admit */
    uint64_t requests_served;      /* final responses written (errors included) */
    uint64_t responses[6];         /* by class: [2] = 2xx ... [5] = 5xx ([0], [1] unused) */
};

struct serve_state; /* the repo and the counters, shared by all connections */

/*
 * A server over a new empty repo. `wall_clock_s` gives commit dates (unix seconds) when a
 * request has no X-Date, and the Date header; NULL means 0 and no Date header. The config is
 * copied (defaults filled in). NULL when memory is exhausted.
 */
struct serve_state *serve_state_new(const struct serve_config *config, uint64_t (*wall_clock_s)(void));
/* Frees the state and its repo; no connection may be running. */
void serve_state_free(struct serve_state *state);
/* The effective configuration (defaults filled in): the socket layer reads idle_s there. */
const struct serve_config *serve_state_config(const struct serve_state *state);
/* The store, e.g. to log its head at exit. */
struct irmin_repo *serve_state_repo(struct serve_state *state);

/*
 * The acceptor calls this for every new connection before starting its fiber: true means it
 * may be served (it now counts as open, and serve_connection must run for it, or
 * serve_release if the fiber cannot be started); false means max_conns are open (it is counted
 * as refused; answer it with serve_refuse or just close it).
 */
bool serve_admit(struct serve_state *state);
void serve_release(struct serve_state *state);

/*
 * Serves one admitted connection until it closes or fails, with the keep-alive loop inside.
 * Returns 0 when the connection ended normally (the peer closed it, a `Connection: close` or
 * HTTP/1.0 exchange ended, an error response was sent and the connection is to be closed, the
 * idle timeout passed), ERR_CANCELLED when the fiber was cancelled, ERR_NOMEM when the
 * connection's buffers could not be allocated, or the stream's error (ERR_CONNRESET...).
 * Per-connection errors should not fail the server's switch. The caller closes the stream.
 */
int serve_connection(struct serve_state *state, struct http_stream *stream);

/* Writes `503 {"error":"too many connections"}` with `Connection: close` (without reading
 * the request). Returns the write's result. */
int serve_refuse(struct serve_state *state, struct http_stream *stream);

void serve_get_stats(const struct serve_state *state, struct serve_stats *stats);

#endif
