/*
 * irmin/bench.c: the bench (DESIGN.md section 4), step for step the seed's bench.ml:
 *
 *   init: from the empty tree, for d = 1..depth, for k = 1..tree_add, add path(d, k) = "0"/"1"/
 *         .../"d-1"/"k" with the value "init"; commit it at the root of branch main.
 *   run:  for i = 1..ncommits: get main's tree; at gc points report the heap; every `display`
 *         commits print progress; for k = 1..tree_add add path(depth, k) with the value "i";
 *         commit it at the root of main (parent: the previous head); if clear, drop the tree's
 *         caches.
 */
#include "irmin_bench.h"
#include "irmin_internal.h"

#define BENCH_BRANCH "main"
#define BENCH_NUMBER_BYTES 12 /* "-2147483648" and a NUL */

void irmin_bench_defaults(struct irmin_bench_config *config)
{
    config->ncommits = 1000;
    config->depth = 16;
    config->tree_add = 150;
    config->display = 10;
    config->clear = true;
    config->gc = 100;
}

static bool text_equal(const char *a, size_t a_length, const char *b)
{
    return a_length == irmin_strlen(b) && irmin_memcmp(a, b, a_length) == 0;
}

static bool parse_int(const char *text, int *value)
{
    if (*text == '\0')
        return false;
    int64_t parsed = 0;
    for (const char *c = text; *c != '\0'; c++) {
        if (*c < '0' || *c > '9')
            return false;
        parsed = 10 * parsed + (*c - '0');
        if (parsed > 1000000000)
            return false;
    }
    *value = (int)parsed;
    return true;
}

bool irmin_bench_set(struct irmin_bench_config *config, const char *argument, const char **error)
{
    const char *equals = argument;
    while (*equals != '\0' && *equals != '=')
        equals++;
    if (*equals != '=') {
        *error = "expected key=value (keys: ncommits, depth, tree_add, display, clear, gc)";
        return false;
    }
    size_t key_length = (size_t)(equals - argument);
    const char *value = equals + 1;
    if (text_equal(argument, key_length, "clear")) {
        if (text_equal(value, irmin_strlen(value), "true") || text_equal(value, irmin_strlen(value), "1"))
            config->clear = true;
        else if (text_equal(value, irmin_strlen(value), "false") || text_equal(value, irmin_strlen(value), "0"))
            config->clear = false;
        else {
            *error = "clear takes true or false";
            return false;
        }
        return true;
    }
    int *field = NULL;
    if (text_equal(argument, key_length, "ncommits") || text_equal(argument, key_length, "commits"))
        field = &config->ncommits;
    else if (text_equal(argument, key_length, "depth"))
        field = &config->depth;
    else if (text_equal(argument, key_length, "tree_add"))
        field = &config->tree_add;
    else if (text_equal(argument, key_length, "display"))
        field = &config->display;
    else if (text_equal(argument, key_length, "gc"))
        field = &config->gc;
    if (field == NULL) {
        *error = "unknown key (keys: ncommits, depth, tree_add, display, clear, gc)";
        return false;
    }
    if (!parse_int(value, field)) {
        *error = "the value must be a decimal integer between 0 and 1000000000";
        return false;
    }
    return true;
}

static irmin_status sync_get_tree(void *context, struct irmin_repo *repo, const char *branch,
                                  struct irmin_tree **tree)
{
    (void)context;
    return irmin_get_tree(repo, branch, tree);
}

static irmin_status sync_set_tree(void *context, struct irmin_repo *repo, const char *branch,
                                  const struct irmin_path *path, struct irmin_tree *tree, const struct irmin_info *info)
{
    (void)context;
    return irmin_set_tree(repo, branch, path, tree, info, false, NULL);
}

const struct irmin_store_ops irmin_store_sync_ops = {
    .get_tree = sync_get_tree,
    .set_tree = sync_set_tree,
    .context = NULL,
};

static void say(const struct irmin_bench_io *io, const char *format, ...) IRMIN_PRINTF(2, 3);

static void say(const struct irmin_bench_io *io, const char *format, ...)
{
    char line[IRMIN_ERROR_BYTES];
    va_list arguments;
    va_start(arguments, format);
    size_t length = irmin_vformat(line, sizeof line, format, arguments);
    va_end(arguments);
    io->print(io->context, line, length);
}

static irmin_status check_config(const struct irmin_bench_config *config, const struct irmin_bench_io *io)
{
    const char *problem = NULL;
    if (config->ncommits < 0)
        problem = "ncommits must not be negative";
    else if (config->depth < 0)
        problem = "depth must not be negative";
    else if (config->tree_add < 0)
        problem = "tree_add must not be negative";
    else if (config->display < 1)
        problem = "display must be at least 1";
    else if (config->gc < 1)
        problem = "gc must be at least 1";
    if (problem == NULL)
        return IRMIN_OK;
    say(io, "error: bench: %s (ncommits=%d depth=%d tree_add=%d display=%d gc=%d)\n", problem, config->ncommits,
        config->depth, config->tree_add, config->display, config->gc);
    return IRMIN_INVALID;
}

static irmin_status store_failed(struct irmin_repo *repo, const struct irmin_bench_io *io, const char *call,
                                 irmin_status status)
{
    say(io, "\nerror: bench: %s failed: %s: %s\n", call, irmin_status_name(status), irmin_repo_error(repo));
    return status;
}

/* The steps "0", "1", ..., as strings: numbers + BENCH_NUMBER_BYTES * n. */
static const char *number_text(const char *numbers, int n)
{
    return numbers + (size_t)n * BENCH_NUMBER_BYTES;
}

/* paths[k] = path(depth, k) for k = 1..tree_add (paths[0] unused, as in bench.ml). */
static void make_level_paths(struct irmin_repo *repo, const char *numbers, int depth, int tree_add,
                             const char **steps, struct irmin_path **paths)
{
    for (int d = 0; d < depth; d++)
        steps[d] = number_text(numbers, d);
    paths[0] = NULL;
    for (int k = 1; k <= tree_add; k++) {
        steps[depth] = number_text(numbers, k);
        if (irmin_path_make(repo, (size_t)depth + 1, steps, NULL, &paths[k]) != IRMIN_OK)
            irmin_panic("irmin: bench: cannot build path(%d, %d): %s", depth, k, irmin_repo_error(repo));
    }
}

static void free_level_paths(struct irmin_repo *repo, int tree_add, struct irmin_path **paths)
{
    for (int k = 1; k <= tree_add; k++)
        irmin_path_free(repo, paths[k]);
}

irmin_status irmin_bench_run(const struct irmin_bench_config *config, const struct irmin_store_ops *ops,
                             const struct irmin_bench_io *io, struct irmin_bench_result *result)
{
    irmin_status status = check_config(config, io);
    if (status != IRMIN_OK)
        return status;
    if (ops == NULL)
        ops = &irmin_store_sync_ops;
    const struct irmin_info info = {.date = 0, .author = "author", .message = "commit message"};
    int depth = config->depth;
    int tree_add = config->tree_add;
    int ncommits = config->ncommits;

    struct irmin_repo *repo = irmin_repo_create();
    int largest = depth > tree_add ? depth : tree_add;
    size_t numbers_size = ((size_t)largest + 1) * BENCH_NUMBER_BYTES;
    char *numbers = irmin_alloc(repo, numbers_size, "bench step names");
    for (int n = 0; n <= largest; n++)
        irmin_format(numbers + (size_t)n * BENCH_NUMBER_BYTES, BENCH_NUMBER_BYTES, "%d", n);
    size_t steps_size = ((size_t)depth + 1) * sizeof(const char *);
    const char **steps = irmin_alloc(repo, steps_size, "bench path steps");
    size_t paths_size = ((size_t)tree_add + 1) * sizeof(struct irmin_path *);
    struct irmin_path **paths = irmin_alloc(repo, paths_size, "bench paths");
    struct irmin_path *root;
    irmin_path_parse(repo, "", &root);
    uint64_t start = io->now_ns ? io->now_ns(io->context) : 0;

    /* Init. */
    struct irmin_tree *tree = irmin_tree_empty(repo);
    for (int d = 1; d <= depth && status == IRMIN_OK; d++) {
        make_level_paths(repo, numbers, d, tree_add, steps, paths);
        for (int k = 1; k <= tree_add && status == IRMIN_OK; k++)
            status = irmin_tree_add(tree, paths[k], "init", 4);
        free_level_paths(repo, tree_add, paths);
    }
    if (status != IRMIN_OK)
        status = store_failed(repo, io, "Tree.add", status);
    if (status == IRMIN_OK) {
        status = ops->set_tree(ops->context, repo, BENCH_BRANCH, root, tree, &info);
        if (status != IRMIN_OK)
            status = store_failed(repo, io, "set_tree", status);
    }
    irmin_tree_free(tree);
    if (status == IRMIN_OK)
        say(io, "[init done]\n");
    uint64_t init_done = io->now_ns ? io->now_ns(io->context) : 0;

    /* Run. */
    make_level_paths(repo, numbers, depth, tree_add, steps, paths);
    bool progress_open = false;
    for (int i = 1; i <= ncommits && status == IRMIN_OK; i++) {
        status = ops->get_tree(ops->context, repo, BENCH_BRANCH, &tree);
        if (status != IRMIN_OK) {
            status = store_failed(repo, io, "get_tree", status);
            break;
        }
        if (i % config->gc == 0) {
            struct irmin_repo_stats stats;
            irmin_repo_stats(repo, &stats);
            say(io, "%s[gc] commit %d: store heap %llu bytes", progress_open ? "\n" : "", i,
                (unsigned long long)stats.heap_bytes);
            if (io->heap_in_use)
                say(io, ", heap in use %llu bytes", (unsigned long long)io->heap_in_use(io->context));
            say(io, "\n");
            progress_open = false;
        }
        if (i % config->display == 0) {
            say(io, "\rcommits: %4d/%d", i, ncommits);
            progress_open = true;
        }
        char value[BENCH_NUMBER_BYTES];
        size_t value_length = irmin_format(value, sizeof value, "%d", i);
        for (int k = 1; k <= tree_add && status == IRMIN_OK; k++)
            status = irmin_tree_add(tree, paths[k], value, value_length);
        if (status != IRMIN_OK) {
            status = store_failed(repo, io, "Tree.add", status);
        } else {
            status = ops->set_tree(ops->context, repo, BENCH_BRANCH, root, tree, &info);
            if (status != IRMIN_OK)
                status = store_failed(repo, io, "set_tree", status);
        }
        if (config->clear)
            irmin_tree_clear(tree);
        irmin_tree_free(tree);
    }
    free_level_paths(repo, tree_add, paths);

    if (status == IRMIN_OK) {
        say(io, "\n[run done]\n");
        uint64_t run_done = io->now_ns ? io->now_ns(io->context) : 0;
        struct irmin_hash head;
        status = irmin_branch_find(repo, BENCH_BRANCH, &head);
        if (status != IRMIN_OK)
            irmin_panic("irmin: bench: branch main vanished: %s", irmin_repo_error(repo));
        char hex[IRMIN_HASH_HEX_BYTES];
        irmin_hash_to_hex(&head, hex);
        say(io, "head: %s\n", hex);
        struct irmin_repo_stats stats;
        irmin_repo_stats(repo, &stats);
        say(io, "objects: contents=%u nodes=%u commits=%u\n", stats.contents, stats.nodes, stats.commits);
        if (io->now_ns)
            say(io, "time: init=%llu ms run=%llu ms\n", (unsigned long long)((init_done - start) / 1000000),
                (unsigned long long)((run_done - init_done) / 1000000));
        if (result != NULL) {
            result->head = head;
            irmin_memcpy(result->head_hex, hex, sizeof hex);
            result->stats = stats;
            result->init_ns = init_done - start;
            result->run_ns = run_done - init_done;
        }
    }

    irmin_path_free(repo, root);
    irmin_free(repo, paths, paths_size);
    irmin_free(repo, steps, steps_size);
    irmin_free(repo, numbers, numbers_size);
    irmin_repo_free(repo);
    return status;
}
