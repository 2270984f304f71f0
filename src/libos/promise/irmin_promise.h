/*
 * promise/irmin_promise.h: the store's API (irmin/irmin.h) as promises, like Irmin on Lwt.
 *
 * The store is synchronous C and never blocks, so each call here runs the synchronous operation
 * and returns a promise that is already settled (like Irmin_mem, whose operations return
 * Lwt.return): resolved with the result, or rejected with the irmin_status (IRMIN_NOT_FOUND,
 * IRMIN_INVALID, ...; always positive, so never mistaken for a libos ERR_*, which are negative)
 * when the call fails; irmin_repo_error() then says why. The caller owns one reference to the
 * returned promise (promise_unref). A fiber waits for it with promise_await, the bridge that
 * plays Lwt_eio.run_lwt's part; a settled promise does not suspend the fiber.
 */
#ifndef LIBOS_IRMIN_PROMISE_H
#define LIBOS_IRMIN_PROMISE_H

#include "irmin/irmin.h"
#include "promise/promise.h"

/* Resolves with the branch's head tree (a struct irmin_tree *, owned by whoever takes the
 * value: free it with irmin_tree_free); an empty tree when the branch does not exist. */
promise_t *irmin_p_get_tree(struct irmin_repo *repo, const char *branch);

/* irmin_set_tree: commits `tree` at `path` of `branch`. Resolves with 0; `commit` (may be NULL)
 * receives the new head once the promise has settled. */
promise_t *irmin_p_set_tree(struct irmin_repo *repo, const char *branch, const struct irmin_path *path,
                            struct irmin_tree *tree, const struct irmin_info *info, bool allow_empty,
                            struct irmin_hash *commit);

/* A libos error from promise_await (negative ERR_*) or a rejection by the calls above (a
 * positive irmin_status) as text: "merge conflict", "cancelled", ... */
const char *irmin_p_error_name(int error);

#endif
