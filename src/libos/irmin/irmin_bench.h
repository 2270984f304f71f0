/*
 * irmin/irmin_bench.h: the seed's bench.ml (DESIGN.md section 4, "The bench") over the store.
 *
 * Output goes through a print callback (the kernel routes it to its console; the native build
 * to stdout). The store calls go through struct irmin_store_ops so that the kernel can route
 * them through its promise library and the fiber<->promise bridge, as bench.ml does with
 * Lwt_eio.run_lwt; irmin_store_sync_ops calls the synchronous API directly.
 */
#ifndef IRMIN_BENCH_H
#define IRMIN_BENCH_H

#include "irmin.h"

struct irmin_bench_config {
    int ncommits;     /* commits in the run phase (default 1000) */
    int depth;        /* levels of the tree (default 16) */
    int tree_add;     /* files added per level at init and per commit in the run (default 150) */
    int display;      /* print progress every `display` commits (default 10; >= 1) */
    bool clear;       /* drop the tree's caches after each commit (default true) */
    int gc;           /* collection/stat point every `gc` commits (default 100; >= 1) */
};

/* The defaults above. */
void irmin_bench_defaults(struct irmin_bench_config *config);

/*
 * Sets one parameter from a "key=value" argument (the cmdline's form, e.g. "commits=100",
 * "depth=8", "clear=false"). Keys: ncommits (alias commits), depth, tree_add, display, clear,
 * gc. Returns false and points *error at a reason when the key or value is not understood.
 */
bool irmin_bench_set(struct irmin_bench_config *config, const char *argument, const char **error);

/* The store operations the bench uses (each as in irmin.h). */
struct irmin_store_ops {
    irmin_status (*get_tree)(void *context, struct irmin_repo *repo, const char *branch, struct irmin_tree **tree);
    irmin_status (*set_tree)(void *context, struct irmin_repo *repo, const char *branch,
                             const struct irmin_path *path, struct irmin_tree *tree, const struct irmin_info *info);
    void *context;
};

/* Calls irmin_get_tree / irmin_set_tree (allow_empty = false) directly. */
extern const struct irmin_store_ops irmin_store_sync_ops;

struct irmin_bench_io {
    /* Required: writes `length` bytes of text (no NUL inside, "\r" and "\n" as is). */
    void (*print)(void *context, const char *text, size_t length);
    /* Optional: a monotonic clock in nanoseconds, for the "time:" line. */
    uint64_t (*now_ns)(void *context);
    /* Optional: bytes in use in the whole heap, printed at gc points after the store's own. */
    uint64_t (*heap_in_use)(void *context);
    void *context;
};

struct irmin_bench_result {
    struct irmin_hash head;
    char head_hex[IRMIN_HASH_HEX_BYTES];
    struct irmin_repo_stats stats;   /* at the end of the run, before the repo is freed */
    uint64_t init_ns;                /* 0 without a clock */
    uint64_t run_ns;
};

/*
 * Runs the bench on a fresh repo and frees it. Prints, in order: "[init done]\n"; in the run,
 * "[gc] commit I: store heap N bytes[, heap in use M bytes]\n" at gc points (preceded by "\n"
 * when a progress line is open) and "\rcommits: %4d/%d" every `display` commits; then
 * "\n[run done]\n", "head: <128 hex digits>\n", "objects: contents=C nodes=N commits=K\n" and,
 * with a clock, "time: init=I ms run=R ms\n". `ops` may be NULL (irmin_store_sync_ops);
 * `result` may be NULL. Returns IRMIN_INVALID (with a printed "error: ..." line) for bad
 * parameters, or the first failing store call's status.
 */
irmin_status irmin_bench_run(const struct irmin_bench_config *config, const struct irmin_store_ops *ops,
                             const struct irmin_bench_io *io, struct irmin_bench_result *result);

#endif
