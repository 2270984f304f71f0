/*
 * serve/serve_internal.h: what the server's files share (not an interface for the socket
 * layer; that is serve.h).
 *
 *   serve.c        the state, admission and counters
 *   serve_conn.c   the per-connection loop: heads, bodies, limits, keep-alive, writing
 *   routes.c       the routes over the store: a request in, a serve_response out
 *   merge_report.c the conflicting paths of a failed merge
 *   http.c, json.c message syntax and the bounded JSON writer
 *
 * A route handler never suspends: it runs between two stream calls, so the store operations
 * of one request are atomic with respect to other connections.
 */
#ifndef SERVE_INTERNAL_H
#define SERVE_INTERNAL_H

#include "irmin/irmin.h"

#include "http.h"
#include "json.h"
#include "serve.h"

#define SERVE_JSON "application/json"
#define SERVE_BYTES "application/octet-stream"

struct serve_state {
    struct serve_config config;      /* defaults filled in */
    uint64_t (*wall_clock_s)(void);
    struct irmin_repo *repo;
    struct irmin_path *root;         /* the empty path, made once */
    struct serve_stats stats;
};

/* What a route answers. The body is either `body` (built JSON or an error) or, for a GET of
 * contents, `contents` pointing into the tree `hold`, which is freed after the write. */
struct serve_response {
    int status;
    const char *content_type;
    const char *allow;               /* for 405 */
    bool close;                      /* the connection cannot go on after this response */
    struct sbuf body;
    const uint8_t *contents;
    size_t contents_length;
    struct irmin_tree *hold;
};

void serve_response_init(struct serve_response *response, size_t limit);
void serve_response_free(struct serve_response *response);
/* Replaces whatever the response held with `status` and {"error":"<message>"}. */
void serve_response_error(struct serve_response *response, int status, const char *message);

/* Answers one complete request (body included). */
void routes_handle(struct serve_state *state, const struct http_request *request, const uint8_t *body,
                   size_t body_length, struct serve_response *response);

/*
 * Adds "conflicts":[...] (and "truncated":true when there are more than `max_paths`) to the
 * open JSON object: the paths where merging `theirs` into `ours` conflicts, depth first in
 * step order (the store reports only the first one). Paths are written as in a URL: steps
 * joined by '/', each percent-encoded where needed, so they can be used in /tree/<path>.
 * With several lowest common ancestors it falls back to the path named in `store_message`.
 */
void merge_report_conflicts(struct irmin_repo *repo, const struct irmin_hash *ours, const struct irmin_hash *theirs,
                            const char *store_message, size_t max_paths, struct json *json);

/* Appends a step percent-encoded (bytes outside [A-Za-z0-9-._~!$&'()*+,;=:@] become %XX). */
void serve_append_step(struct sbuf *out, const uint8_t *step, size_t length);

#endif
