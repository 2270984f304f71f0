/*
 * irmin/merge.c: three-way merges of trees and commits (docs/irmin-store.md, "Merge").
 *
 * Merging works on stored objects: equal subtrees are equal object ids, so unchanged parts are
 * never walked. Merged nodes are written to the repo as they are built.
 */
#include "irmin_internal.h"

#define MERGE_MAX_RECURSION 16

struct merge_walk {
    struct irmin_repo *repo;
    uint32_t *path;       /* step ids from the root to the value being merged */
    size_t depth;
    size_t capacity;
};

static unsigned kind_of(const struct irmin_repo *repo, uint32_t id)
{
    return id == IRMIN_NONE ? 0 : irmin_object_at(repo, id)->kind;
}

static irmin_status conflict(struct merge_walk *walk, const char *why)
{
    char path[IRMIN_ERROR_BYTES / 2];
    size_t used = 0;
    irmin_format_steps(walk->repo, walk->path, walk->depth, path, sizeof path, &used);
    return irmin_fail(walk->repo, IRMIN_CONFLICT, "merge conflict at %s: %s", path, why);
}

static irmin_status merge_node(struct merge_walk *walk, uint32_t base, uint32_t ours, uint32_t theirs,
                               uint32_t *merged);

/* Merges one binding (IRMIN_NONE = absent) of the three versions. */
static irmin_status merge_value(struct merge_walk *walk, uint32_t base, uint32_t ours, uint32_t theirs,
                                uint32_t *merged)
{
    if (ours == theirs || base == theirs) {
        *merged = ours;
        return IRMIN_OK;
    }
    if (base == ours) {
        *merged = theirs;
        return IRMIN_OK;
    }
    struct irmin_repo *repo = walk->repo;
    unsigned ours_kind = kind_of(repo, ours);
    unsigned theirs_kind = kind_of(repo, theirs);
    if (ours_kind != IRMIN_KIND_CONTENTS && theirs_kind != IRMIN_KIND_CONTENTS) {
        /*
         * Nodes on both sides, or a node on one side and nothing on the other: merge entry by
         * entry, an absent node counting as the empty node (so conflicts are reported at the
         * contents that conflict, and a directory emptied on one side keeps the other side's
         * additions).
         */
        uint32_t node_base = kind_of(repo, base) == IRMIN_KIND_NODE ? base : irmin_empty_node(repo);
        uint32_t node_ours = ours == IRMIN_NONE ? irmin_empty_node(repo) : ours;
        uint32_t node_theirs = theirs == IRMIN_NONE ? irmin_empty_node(repo) : theirs;
        irmin_status status = merge_node(walk, node_base, node_ours, node_theirs, merged);
        if (status == IRMIN_OK && irmin_object_at(repo, *merged)->count == 0)
            *merged = IRMIN_NONE; /* a node left empty disappears */
        return status;
    }
    if (ours_kind == IRMIN_KIND_CONTENTS && theirs_kind == IRMIN_KIND_CONTENTS)
        return conflict(walk, base == IRMIN_NONE ? "both sides added different contents"
                                                 : "both sides changed the contents differently");
    if (ours == IRMIN_NONE || theirs == IRMIN_NONE)
        return conflict(walk, "one side removed it, the other changed it");
    return conflict(walk, "contents on one side, a node on the other");
}

static void push_step(struct merge_walk *walk, uint32_t step)
{
    if (walk->depth == walk->capacity) {
        size_t capacity = walk->capacity < 8 ? 8 : 2 * walk->capacity;
        walk->path = irmin_grow(walk->repo, walk->path, walk->capacity, capacity, sizeof *walk->path, "a merge path");
        walk->capacity = capacity;
    }
    walk->path[walk->depth++] = step;
}

/* Merges three stored nodes entry by entry (a merge join over their sorted steps). */
static irmin_status merge_node(struct merge_walk *walk, uint32_t base, uint32_t ours, uint32_t theirs,
                               uint32_t *merged)
{
    struct irmin_repo *repo = walk->repo;
    const struct irmin_object *nodes[3] = {
        irmin_object_at(repo, base),
        irmin_object_at(repo, ours),
        irmin_object_at(repo, theirs),
    };
    size_t capacity = (size_t)nodes[0]->count + nodes[1]->count + nodes[2]->count;
    struct irmin_stored_entry *entries = NULL;
    if (capacity > 0)
        entries = irmin_alloc(repo, capacity * sizeof *entries, "merged node entries");
    uint32_t count = 0;
    uint32_t next[3] = {0, 0, 0};
    irmin_status status = IRMIN_OK;
    for (;;) {
        uint32_t step = IRMIN_NONE;
        for (int v = 0; v < 3; v++) {
            if (next[v] == nodes[v]->count)
                continue;
            uint32_t candidate = nodes[v]->data.entries[next[v]].step;
            if (step == IRMIN_NONE || irmin_step_compare(repo, candidate, step) < 0)
                step = candidate;
        }
        if (step == IRMIN_NONE)
            break;
        uint32_t values[3];
        for (int v = 0; v < 3; v++) {
            values[v] = IRMIN_NONE;
            if (next[v] < nodes[v]->count && nodes[v]->data.entries[next[v]].step == step)
                values[v] = nodes[v]->data.entries[next[v]++].object;
        }
        uint32_t value;
        push_step(walk, step);
        status = merge_value(walk, values[0], values[1], values[2], &value);
        walk->depth--;
        if (status != IRMIN_OK)
            break;
        if (value != IRMIN_NONE) {
            entries[count].step = step;
            entries[count].object = value;
            count++;
        }
    }
    if (status == IRMIN_OK) {
        struct irmin_stored_entry *exact = NULL;
        if (count > 0) {
            exact = irmin_alloc(repo, count * sizeof *exact, "node entries");
            irmin_memcpy(exact, entries, count * sizeof *exact);
        }
        *merged = irmin_node_intern(repo, exact, count, NULL);
    }
    if (capacity > 0)
        irmin_free(repo, entries, capacity * sizeof *entries);
    return status;
}

irmin_status irmin_merge_nodes(struct irmin_repo *repo, uint32_t base, uint32_t ours, uint32_t theirs,
                               uint32_t *merged)
{
    struct merge_walk walk = {.repo = repo};
    irmin_status status = merge_value(&walk, base, ours, theirs, merged);
    if (status == IRMIN_OK && *merged == IRMIN_NONE)
        *merged = irmin_empty_node(repo);
    if (walk.capacity > 0)
        irmin_free(repo, walk.path, walk.capacity * sizeof *walk.path);
    return status;
}

irmin_status irmin_tree_merge(struct irmin_tree *base, struct irmin_tree *ours, struct irmin_tree *theirs,
                              struct irmin_tree **merged)
{
    struct irmin_repo *repo = irmin_tree_repo(ours);
    *merged = NULL;
    if (irmin_tree_repo(base) != repo || irmin_tree_repo(theirs) != repo)
        return irmin_fail(repo, IRMIN_INVALID, "tree_merge: the trees belong to different repos");
    uint32_t base_node = irmin_tree_export_root(base);
    uint32_t ours_node = irmin_tree_export_root(ours);
    uint32_t theirs_node = irmin_tree_export_root(theirs);
    uint32_t node;
    irmin_status status = irmin_merge_nodes(repo, base_node, ours_node, theirs_node, &node);
    if (status == IRMIN_OK)
        *merged = irmin_tree_of_object(repo, node);
    return status;
}

static uint32_t commit_node(const struct irmin_repo *repo, uint32_t commit)
{
    return irmin_object_at(repo, commit)->data.commit->node;
}

/*
 * Merges the trees a_node and b_node of two sets of commits (one commit, or the LCAs a virtual
 * base was made of) against the merged trees of their lowest common ancestors.
 */
static irmin_status merge_sets(struct irmin_repo *repo, const uint32_t *a, size_t a_count, uint32_t a_node,
                               const uint32_t *b, size_t b_count, uint32_t b_node, unsigned recursion,
                               uint32_t *merged)
{
    if (recursion > MERGE_MAX_RECURSION)
        return irmin_fail(repo, IRMIN_CONFLICT,
                          "merge conflict: the histories criss-cross more than %d levels deep (too many lowest "
                          "common ancestors); merge intermediate commits first",
                          MERGE_MAX_RECURSION);
    uint32_t *lcas;
    size_t lca_count = irmin_lcas_of_sets(repo, a, a_count, b, b_count, &lcas);
    irmin_status status = IRMIN_OK;
    uint32_t base;
    if (lca_count == 0) {
        base = irmin_empty_node(repo);
    } else {
        base = commit_node(repo, lcas[0]);
        if (lca_count > 1) {
            /* A virtual base: the LCAs merged with each other, recursively (like git). */
            uint32_t *set = irmin_alloc(repo, lca_count * sizeof *set, "a virtual merge base");
            size_t set_count = 0;
            set[set_count++] = lcas[0];
            for (size_t i = 1; i < lca_count && status == IRMIN_OK; i++) {
                status = merge_sets(repo, set, set_count, base, &lcas[i], 1, commit_node(repo, lcas[i]),
                                    recursion + 1, &base);
                set[set_count++] = lcas[i];
            }
            irmin_free(repo, set, lca_count * sizeof *set);
            if (status == IRMIN_CONFLICT && recursion == 0) {
                char detail[IRMIN_ERROR_BYTES];
                irmin_memcpy(detail, repo->error, sizeof detail);
                irmin_fail(repo, status, "the %zu lowest common ancestors do not merge cleanly: %s", lca_count,
                           detail);
            }
        }
        irmin_free(repo, lcas, lca_count * sizeof *lcas);
    }
    if (status == IRMIN_OK)
        status = irmin_merge_nodes(repo, base, a_node, b_node, merged);
    return status;
}

irmin_status irmin_merge_commits(struct irmin_repo *repo, const struct irmin_hash *a, const struct irmin_hash *b,
                                 const struct irmin_info *info, struct irmin_hash *merged)
{
    uint32_t pair[2];
    pair[0] = irmin_object_expect(repo, a, IRMIN_KIND_COMMIT, "commit");
    if (pair[0] == IRMIN_NONE)
        return IRMIN_NOT_FOUND;
    pair[1] = irmin_object_expect(repo, b, IRMIN_KIND_COMMIT, "commit");
    if (pair[1] == IRMIN_NONE)
        return IRMIN_NOT_FOUND;
    uint32_t result = IRMIN_NONE;
    if (pair[0] == pair[1]) {
        result = pair[0];
    } else {
        uint32_t *lcas;
        size_t lca_count = irmin_lcas_of_sets(repo, &pair[0], 1, &pair[1], 1, &lcas);
        if (lca_count == 1 && lcas[0] == pair[0])
            result = pair[1]; /* a is an ancestor of b: fast-forward */
        else if (lca_count == 1 && lcas[0] == pair[1])
            result = pair[0];
        if (lca_count > 0)
            irmin_free(repo, lcas, lca_count * sizeof *lcas);
    }
    if (result == IRMIN_NONE) {
        uint32_t node;
        irmin_status status = merge_sets(repo, &pair[0], 1, commit_node(repo, pair[0]), &pair[1], 1,
                                         commit_node(repo, pair[1]), 0, &node);
        if (status != IRMIN_OK)
            return status;
        irmin_sort_pair_by_hash(repo, pair);
        result = irmin_commit_intern(repo, node, pair, 2, info);
    }
    if (merged != NULL)
        *merged = irmin_object_at(repo, result)->hash;
    return IRMIN_OK;
}

irmin_status irmin_merge_into_branch(struct irmin_repo *repo, const char *branch, const struct irmin_hash *commit,
                                     const struct irmin_info *info, struct irmin_hash *merged)
{
    struct irmin_hash head;
    irmin_status status = irmin_branch_find(repo, branch, &head);
    if (status == IRMIN_INVALID)
        return status;
    if (status == IRMIN_NOT_FOUND) {
        status = irmin_branch_test_and_set(repo, branch, NULL, commit);
        if (status == IRMIN_OK && merged != NULL)
            *merged = *commit;
        return status;
    }
    struct irmin_hash result;
    status = irmin_merge_commits(repo, &head, commit, info, &result);
    if (status != IRMIN_OK)
        return status;
    status = irmin_branch_test_and_set(repo, branch, &head, &result);
    if (status == IRMIN_OK && merged != NULL)
        *merged = result;
    return status;
}
