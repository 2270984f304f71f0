/*
 * promise/irmin_promise.c: the store's calls as already-settled promises (irmin_promise.h).
 */
#include "promise/irmin_promise.h"

static promise_t *settle(irmin_status status, uintptr_t value) {
    return status == IRMIN_OK ? promise_resolved(value) : promise_rejected((int)status);
}

promise_t *irmin_p_get_tree(struct irmin_repo *repo, const char *branch) {
    struct irmin_tree *tree = NULL;
    irmin_status status = irmin_get_tree(repo, branch, &tree);
    return settle(status, (uintptr_t)tree);
}

promise_t *irmin_p_set_tree(struct irmin_repo *repo, const char *branch, const struct irmin_path *path,
                            struct irmin_tree *tree, const struct irmin_info *info, bool allow_empty,
                            struct irmin_hash *commit) {
    return settle(irmin_set_tree(repo, branch, path, tree, info, allow_empty, commit), 0);
}

const char *irmin_p_error_name(int error) {
    return error > 0 ? irmin_status_name((irmin_status)error) : err_name(error);
}
