/*
 * irmin/irmin.h: an Irmin-style content-addressed store (after Irmin_mem.KV with string
 * contents), in portable C. The format and the semantics are specified in docs/irmin-store.md.
 *
 *   repo      the in-memory, append-only object store (contents, nodes, commits keyed by their
 *             BLAKE2b-512 hash) plus the branch store (name -> commit). One repo holds all the
 *             store's state; nothing is global.
 *   path      a sequence of steps (non-empty byte strings), built once and reused.
 *   tree      a mutable in-memory tree over the repo: it loads stored nodes lazily, caches hashes,
 *             and writes nothing to the repo until it is committed (or exported by a merge).
 *   store     get_tree / set_tree on branches, commits, history, lowest common ancestors and the
 *             three-way merge of commits.
 *
 * The API is synchronous. Irmin's is promise-based (Lwt); the kernel wraps these calls in its
 * promise library and the bench reaches them through struct irmin_store_ops (irmin_bench.h).
 *
 * Errors: functions that can fail return an irmin_status; irmin_repo_error() then holds one line
 * that says what failed. Running out of memory and broken internal invariants are not returned:
 * they call irmin_env_abort() with a message (the store cannot continue consistently).
 *
 * Lifetimes: a tree, path or result belongs to the repo it came from and must be freed before
 * the repo. Byte pointers handed out by the repo (contents, branch names, commit info) stay
 * valid until the repo is freed (the store is append-only); pointers into a tree (a value found
 * by irmin_tree_find) stay valid until that tree is next modified, cleared or freed.
 */
#ifndef IRMIN_H
#define IRMIN_H

#include "irmin_env.h"

#define IRMIN_HASH_BYTES 64
#define IRMIN_HASH_HEX_BYTES (2 * IRMIN_HASH_BYTES + 1) /* with the terminating NUL */

typedef enum irmin_status {
    IRMIN_OK = 0,
    IRMIN_NOT_FOUND,   /* no such branch, path, object or commit */
    IRMIN_INVALID,     /* a malformed argument: empty step, bad branch name, bad hex, ... */
    IRMIN_CHANGED,     /* test_and_set: the branch was not at the expected commit */
    IRMIN_CONFLICT,    /* a merge found changes it cannot combine */
} irmin_status;

/* "ok", "not found", "invalid argument", "changed concurrently", "merge conflict". */
const char *irmin_status_name(irmin_status status);

struct irmin_hash {
    uint8_t bytes[IRMIN_HASH_BYTES];
};

/* Lowercase hex, 128 digits and a NUL. */
void irmin_hash_to_hex(const struct irmin_hash *hash, char hex[IRMIN_HASH_HEX_BYTES]);
/* Parses 128 hex digits (either case) followed by the end of the string. */
bool irmin_hash_of_hex(const char *hex, struct irmin_hash *hash);
bool irmin_hash_equal(const struct irmin_hash *a, const struct irmin_hash *b);

enum irmin_kind {
    IRMIN_KIND_CONTENTS = 1,
    IRMIN_KIND_NODE = 2,
    IRMIN_KIND_COMMIT = 3,
};

/* ---- Repository ------------------------------------------------------------------------ */

struct irmin_repo;

/* A new empty repo (no objects, no branches). Aborts when memory is exhausted. */
struct irmin_repo *irmin_repo_create(void);
void irmin_repo_free(struct irmin_repo *repo);

/* The message of the last failure reported by a function of this repo ("" before any). */
const char *irmin_repo_error(const struct irmin_repo *repo);

struct irmin_repo_stats {
    uint32_t contents;      /* objects of each kind */
    uint32_t nodes;
    uint32_t commits;
    uint32_t branches;
    uint32_t steps;         /* distinct steps interned */
    uint64_t heap_bytes;    /* bytes the repo and its trees/paths currently hold */
    uint64_t heap_peak;     /* the largest heap_bytes so far */
};

void irmin_repo_stats(const struct irmin_repo *repo, struct irmin_repo_stats *stats);

/* ---- Objects --------------------------------------------------------------------------- */

/* Adds a contents object (a blob); `hash` (may be NULL) receives its hash. Idempotent. */
void irmin_contents_add(struct irmin_repo *repo, const void *bytes, size_t length, struct irmin_hash *hash);
irmin_status irmin_contents_find(struct irmin_repo *repo, const struct irmin_hash *hash, const uint8_t **bytes,
                                 size_t *length);
/* The kind of the object with this hash, or 0 when the repo does not hold it. */
enum irmin_kind irmin_object_kind(const struct irmin_repo *repo, const struct irmin_hash *hash);

/* ---- Paths ----------------------------------------------------------------------------- */

struct irmin_path;

/*
 * "a/b/c" -> [a; b; c]. "" and "/" are the root (the empty path); a leading or trailing '/' is
 * ignored; an empty step ("a//b") is IRMIN_INVALID.
 */
irmin_status irmin_path_parse(struct irmin_repo *repo, const char *text, struct irmin_path **path);
/* A path of `count` steps; lengths may be NULL (the steps are then NUL-terminated strings). */
irmin_status irmin_path_make(struct irmin_repo *repo, size_t count, const char *const *steps,
                             const size_t *lengths, struct irmin_path **path);
void irmin_path_free(struct irmin_repo *repo, struct irmin_path *path);
size_t irmin_path_length(const struct irmin_path *path);

/* ---- Trees ----------------------------------------------------------------------------- */

struct irmin_tree;

struct irmin_tree *irmin_tree_empty(struct irmin_repo *repo);
/* The tree of a stored node; IRMIN_NOT_FOUND unless `node` is a node object of the repo. */
irmin_status irmin_tree_of_node(struct irmin_repo *repo, const struct irmin_hash *node, struct irmin_tree **tree);
/* An independent copy (modifying one does not change the other). */
struct irmin_tree *irmin_tree_copy(const struct irmin_tree *tree);
void irmin_tree_free(struct irmin_tree *tree);
struct irmin_repo *irmin_tree_repo(const struct irmin_tree *tree);

/*
 * Binds `path` to the contents `value`. Whatever was at the path is replaced; a prefix of the
 * path that holds contents becomes a node (its contents disappear); missing nodes are created.
 * The empty path is IRMIN_INVALID (a tree's root is always a node).
 */
irmin_status irmin_tree_add(struct irmin_tree *tree, const struct irmin_path *path, const void *value,
                            size_t length);
/*
 * Binds `path` to a copy of `subtree` (same rules as add). An empty subtree removes the path;
 * the empty path replaces the whole tree.
 */
irmin_status irmin_tree_add_tree(struct irmin_tree *tree, const struct irmin_path *path,
                                 const struct irmin_tree *subtree);
/*
 * Removes the binding at `path` (contents or a whole subtree); nodes left empty by the removal
 * disappear too, up to (not including) the root. Removing a missing path does nothing and is
 * IRMIN_OK. The empty path empties the tree.
 */
irmin_status irmin_tree_remove(struct irmin_tree *tree, const struct irmin_path *path);
/* The contents at `path`; IRMIN_NOT_FOUND when the path is missing or holds a node. */
irmin_status irmin_tree_find(const struct irmin_tree *tree, const struct irmin_path *path, const uint8_t **value,
                             size_t *length);
/* Whether `path` holds contents (Irmin's mem). */
bool irmin_tree_mem(const struct irmin_tree *tree, const struct irmin_path *path);
/* Whether `path` holds anything, contents or a node (Irmin's mem_tree). The root always does. */
bool irmin_tree_mem_tree(const struct irmin_tree *tree, const struct irmin_path *path);
/* A copy of the node at `path`; IRMIN_NOT_FOUND when missing or when it holds contents. */
irmin_status irmin_tree_find_tree(const struct irmin_tree *tree, const struct irmin_path *path,
                                  struct irmin_tree **subtree);

/* Return 0 to go on, anything else to stop the walk (list/fold/history then return IRMIN_OK). */
typedef int (*irmin_list_fn)(void *context, const uint8_t *step, size_t step_length, enum irmin_kind kind);

/* The entries of the node at `path`, in step order. IRMIN_NOT_FOUND when it is not a node. */
irmin_status irmin_tree_list(const struct irmin_tree *tree, const struct irmin_path *path, irmin_list_fn visit,
                             void *context);

struct irmin_step_view {
    const uint8_t *bytes;
    size_t length;
};

struct irmin_fold_visitor {
    /* Called for every node (the starting node included, with depth 0) before its entries. */
    int (*node)(void *context, const struct irmin_step_view *path, size_t depth);
    /* Called for every contents. */
    int (*contents)(void *context, const struct irmin_step_view *path, size_t depth, const uint8_t *value,
                    size_t length);
};

/*
 * Depth-first walk of the subtree at `path` in step order (paths are relative to it). Either
 * callback may be NULL. IRMIN_NOT_FOUND when `path` is missing. Nothing is loaded into the tree.
 */
irmin_status irmin_tree_fold(const struct irmin_tree *tree, const struct irmin_path *path,
                             const struct irmin_fold_visitor *visitor, void *context);

/* The hash of the tree's root node (computed once, then cached until the tree changes). */
void irmin_tree_hash(struct irmin_tree *tree, struct irmin_hash *hash);

/*
 * Drops the tree's caches: loaded copies of stored nodes and contents go back to being
 * references into the repo, computed hashes of changed nodes are forgotten. The tree's value is
 * unchanged. Irmin's Tree.clear.
 */
void irmin_tree_clear(struct irmin_tree *tree);

/* Writes the tree's new objects to the repo (no commit); `node` (may be NULL) gets the root hash. */
void irmin_tree_export(struct irmin_tree *tree, struct irmin_hash *node);

/* ---- Branches -------------------------------------------------------------------------- */

/*
 * Branch names are non-empty strings of [A-Za-z0-9], '-', '_', '.', '/' (Irmin.Branch.String).
 * A branch points at a commit object of the repo.
 */
irmin_status irmin_branch_set(struct irmin_repo *repo, const char *name, const struct irmin_hash *commit);
irmin_status irmin_branch_find(struct irmin_repo *repo, const char *name, struct irmin_hash *commit);
irmin_status irmin_branch_remove(struct irmin_repo *repo, const char *name);
/*
 * Sets `name` to `value` only if it is currently `expected`. expected == NULL means "the branch
 * does not exist"; value == NULL removes the branch. IRMIN_CHANGED (nothing done) when the test
 * fails.
 */
irmin_status irmin_branch_test_and_set(struct irmin_repo *repo, const char *name, const struct irmin_hash *expected,
                                       const struct irmin_hash *value);

typedef int (*irmin_branch_fn)(void *context, const char *name, const struct irmin_hash *commit);
/* Every branch, in bytewise order of names. */
void irmin_branch_list(struct irmin_repo *repo, irmin_branch_fn visit, void *context);

/* ---- Commits and the store ------------------------------------------------------------- */

struct irmin_info {
    int64_t date;
    const char *author;   /* NUL-terminated; NULL means "" */
    const char *message;  /* NUL-terminated; NULL means "" */
};

/*
 * A commit of `tree` (written to the repo first) with the given parents (commits of the repo;
 * duplicates are dropped and the rest sorted by hash).
 */
irmin_status irmin_commit_create(struct irmin_repo *repo, struct irmin_tree *tree, const struct irmin_hash *parents,
                                 size_t parent_count, const struct irmin_info *info, struct irmin_hash *commit);

struct irmin_commit_view {
    struct irmin_hash node;
    size_t parent_count;
    const struct irmin_hash *parents;   /* parent_count hashes, sorted */
    int64_t date;
    const char *author;        /* NUL-terminated copies owned by the repo */
    const char *message;
};

/* Reads a commit. The view's pointers live as long as the repo. */
irmin_status irmin_commit_read(struct irmin_repo *repo, const struct irmin_hash *commit, struct irmin_commit_view *view);

/* The tree of a commit. */
irmin_status irmin_commit_tree(struct irmin_repo *repo, const struct irmin_hash *commit, struct irmin_tree **tree);

/* The tree at the head of `branch`; an empty tree when the branch does not exist (Irmin). */
irmin_status irmin_get_tree(struct irmin_repo *repo, const char *branch, struct irmin_tree **tree);

/*
 * Makes `tree` the subtree at `path` of the branch's head tree and commits the result on the
 * branch, with the old head (if any) as the only parent. When `allow_empty` is false and the
 * result equals the head's tree, nothing is committed and `commit` gets the old head (Irmin's
 * default). With the root path the tree itself is written to the repo (its caches filled);
 * otherwise a copy is. The tree stays owned by the caller. `commit` may be NULL.
 */
irmin_status irmin_set_tree(struct irmin_repo *repo, const char *branch, const struct irmin_path *path,
                            struct irmin_tree *tree, const struct irmin_info *info, bool allow_empty,
                            struct irmin_hash *commit);

typedef int (*irmin_commit_fn)(void *context, const struct irmin_hash *commit, size_t distance);

/*
 * `head` and its ancestors, each once, breadth first: `distance` is the length of the shortest
 * parent chain from `head` (0 for head); parents are taken in hash order. max_depth limits the
 * distance (SIZE_MAX: no limit).
 */
irmin_status irmin_history(struct irmin_repo *repo, const struct irmin_hash *head, size_t max_depth,
                           irmin_commit_fn visit, void *context);

/* Whether `ancestor` is `commit` or one of its ancestors. */
irmin_status irmin_is_ancestor(struct irmin_repo *repo, const struct irmin_hash *ancestor,
                               const struct irmin_hash *commit, bool *result);

/*
 * The lowest common ancestors of a and b: common ancestors (a commit counts as its own
 * ancestor) that are not ancestors of another common ancestor, in hash order. Up to `capacity`
 * are written; *count gets how many there are.
 */
irmin_status irmin_lcas(struct irmin_repo *repo, const struct irmin_hash *a, const struct irmin_hash *b,
                        struct irmin_hash *lcas, size_t capacity, size_t *count);

/*
 * Three-way merge of trees: the changes from base to theirs applied to ours. Writes the three
 * trees to the repo first. On IRMIN_CONFLICT irmin_repo_error() names the first conflicting
 * path and *merged is NULL.
 */
irmin_status irmin_tree_merge(struct irmin_tree *base, struct irmin_tree *ours, struct irmin_tree *theirs,
                              struct irmin_tree **merged);

/*
 * Merges two commits. If one is an ancestor of the other the result is the descendant (no new
 * commit). Otherwise their trees are merged three-way against the tree of their lowest common
 * ancestor (the empty tree when they have none; with several, the LCAs are first merged into a
 * virtual base, recursively, like git's recursive strategy) and a commit with parents {a, b}
 * and `info` is made. IRMIN_CONFLICT when contents conflict (irmin_repo_error() names the path).
 */
irmin_status irmin_merge_commits(struct irmin_repo *repo, const struct irmin_hash *a, const struct irmin_hash *b,
                                 const struct irmin_info *info, struct irmin_hash *merged);

/*
 * Merges `commit` into `branch` (Irmin's merge_with_commit): the branch moves to the merge
 * result; a missing branch is simply set to `commit`.
 */
irmin_status irmin_merge_into_branch(struct irmin_repo *repo, const char *branch, const struct irmin_hash *commit,
                                     const struct irmin_info *info, struct irmin_hash *merged);

#endif
