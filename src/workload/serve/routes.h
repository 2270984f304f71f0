/*
 * serve/routes.h: the store's HTTP routes (docs/serve.md has the full table).
 *
 *   GET|HEAD   /tree/<path>                 contents (octet-stream) or a node's entries (JSON)
 *   PUT        /tree/<path>                 store the body, commit       201 / 200 unchanged
 *   DELETE     /tree/<path>                 remove, commit               200 / 404
 *   GET|HEAD   /head, /history?limit=N, /branches, /stats
 *   POST       /merge?from=<a>&into=<b>     three-way merge              200 / 409
 *   the tree, head and history routes also under /branch/<name>/
 *
 * routes_handle (serve_internal.h) is the entry point; this header only names the pieces
 * tests may want to call directly.
 */
#ifndef SERVE_ROUTES_H
#define SERVE_ROUTES_H

#include "serve_internal.h"

/* The branch the plain routes use. */
#define SERVE_MAIN_BRANCH "main"

/* The Allow header of each route. */
#define SERVE_ALLOW_READ "GET, HEAD"
#define SERVE_ALLOW_TREE "GET, HEAD, PUT, DELETE"
#define SERVE_ALLOW_MERGE "POST"

#endif
