/*
 * serve/merge_report.c: every path where a merge conflicts (serve_internal.h).
 *
 * The store stops at the first conflict; a client fixing a merge wants them all. This walks
 * the three trees (base = the lowest common ancestor's tree, or the empty tree when there is
 * none) with the store's rules for one binding (docs/irmin-store.md, "Merging one binding"),
 * only reading:
 *   1. ours == theirs, base == theirs or base == ours: no conflict below;
 *   2. neither side is contents: the union of the entries' steps, each walked in step order
 *      (a base that is not a node counts as the empty node);
 *   3. otherwise the path conflicts.
 * So the first path found is the one the store names. Values are compared by hash (nodes) or
 * bytes (contents, whose hashes are equal exactly when their bytes are). Every path built here
 * is made of steps listed from the trees, so nothing new is interned.
 *
 * With several lowest common ancestors the store merges against a virtual base this cannot
 * rebuild through the public API, so the report falls back to the path in the store's message.
 */
#include <stdlib.h>
#include <string.h>

#include "serve_internal.h"

#define REPORT_MAX_VALUES 100000 /* values examined before the report gives up (truncated) */

enum { SIDE_BASE, SIDE_OURS, SIDE_THEIRS };

struct value {
    int kind;              /* 0 absent, IRMIN_KIND_CONTENTS, IRMIN_KIND_NODE */
    const uint8_t *bytes;  /* contents */
    size_t length;
    struct irmin_hash hash; /* node */
};

struct step_copy {
    uint8_t *bytes;
    size_t length;
};

struct step_list {
    struct step_copy *items;
    size_t count;
    size_t capacity;
    bool failed;
};

struct report {
    struct irmin_repo *repo;
    struct irmin_tree *trees[3];
    /* the path being examined */
    const char **steps;
    size_t *lengths;
    size_t depth;
    size_t capacity;
    struct json *json;
    size_t count;
    size_t max;
    size_t budget;
    bool truncated;
    bool stop;
};

static void value_at(struct irmin_tree *tree, const struct irmin_path *path, struct value *value)
{
    memset(value, 0, sizeof *value);
    if (irmin_tree_find(tree, path, &value->bytes, &value->length) == IRMIN_OK) {
        value->kind = IRMIN_KIND_CONTENTS;
        return;
    }
    struct irmin_tree *subtree;
    if (irmin_tree_find_tree(tree, path, &subtree) == IRMIN_OK) {
        value->kind = IRMIN_KIND_NODE;
        irmin_tree_hash(subtree, &value->hash);
        irmin_tree_free(subtree);
    }
}

static bool same_value(const struct value *a, const struct value *b)
{
    if (a->kind != b->kind)
        return false;
    if (a->kind == IRMIN_KIND_CONTENTS)
        return a->length == b->length && memcmp(a->bytes, b->bytes, a->length) == 0;
    if (a->kind == IRMIN_KIND_NODE)
        return irmin_hash_equal(&a->hash, &b->hash);
    return true;
}

static int collect_step(void *context, const uint8_t *step, size_t step_length, enum irmin_kind kind)
{
    struct step_list *list = context;
    (void)kind;
    if (list->count == list->capacity) {
        size_t capacity = list->capacity == 0 ? 16 : list->capacity * 2;
        struct step_copy *items = realloc(list->items, capacity * sizeof *items);
        if (items == NULL) {
            list->failed = true;
            return 1;
        }
        list->items = items;
        list->capacity = capacity;
    }
    uint8_t *bytes = malloc(step_length);
    if (bytes == NULL) {
        list->failed = true;
        return 1;
    }
    memcpy(bytes, step, step_length);
    list->items[list->count++] = (struct step_copy){bytes, step_length};
    return 0;
}

static int compare_steps(const void *a, const void *b)
{
    const struct step_copy *x = a;
    const struct step_copy *y = b;
    int order = memcmp(x->bytes, y->bytes, x->length < y->length ? x->length : y->length);
    if (order != 0)
        return order;
    return x->length < y->length ? -1 : x->length > y->length;
}

static void step_list_free(struct step_list *list)
{
    for (size_t i = 0; i < list->count; i++)
        free(list->items[i].bytes);
    free(list->items);
}

static void record(struct report *r)
{
    if (r->count == r->max) {
        r->truncated = true;
        r->stop = true;
        return;
    }
    r->count++;
    struct sbuf text;
    sbuf_init(&text, r->json->out->limit);
    if (r->depth == 0)
        sbuf_append(&text, "/", 1);
    for (size_t i = 0; i < r->depth; i++) {
        if (i > 0)
            sbuf_append(&text, "/", 1);
        serve_append_step(&text, (const uint8_t *)r->steps[i], r->lengths[i]);
    }
    json_string(r->json, text.data, text.length);
    if (text.failed)
        r->json->out->failed = true;
    sbuf_free(&text);
}

static bool push_step(struct report *r, const struct step_copy *step)
{
    if (r->depth == r->capacity) {
        size_t capacity = r->capacity == 0 ? 16 : r->capacity * 2;
        const char **steps = realloc(r->steps, capacity * sizeof *steps);
        if (steps == NULL)
            return false;
        r->steps = steps;
        size_t *lengths = realloc(r->lengths, capacity * sizeof *lengths);
        if (lengths == NULL)
            return false;
        r->lengths = lengths;
        r->capacity = capacity;
    }
    r->steps[r->depth] = (const char *)step->bytes;
    r->lengths[r->depth] = step->length;
    r->depth++;
    return true;
}

/* Rules 1-3 at the current path, recursively. */
static void walk(struct report *r)
{
    if (r->stop)
        return;
    if (r->budget == 0) {
        r->truncated = true;
        r->stop = true;
        return;
    }
    r->budget--;
    struct irmin_path *path;
    if (irmin_path_make(r->repo, r->depth, r->steps, r->lengths, &path) != IRMIN_OK) {
        r->stop = true;
        return;
    }
    /* on the heap: the walk recurses once per tree level on a fiber's stack */
    struct value *values = malloc(3 * sizeof *values);
    if (values == NULL) {
        irmin_path_free(r->repo, path);
        r->stop = true;
        return;
    }
    for (int side = 0; side < 3; side++)
        value_at(r->trees[side], path, &values[side]);
    const struct value *base = &values[SIDE_BASE];
    const struct value *ours = &values[SIDE_OURS];
    const struct value *theirs = &values[SIDE_THEIRS];

    if (same_value(ours, theirs) || same_value(base, theirs) || same_value(base, ours)) {
        /* rule 1: nothing conflicts here */
    } else if (ours->kind != IRMIN_KIND_CONTENTS && theirs->kind != IRMIN_KIND_CONTENTS) {
        struct step_list steps = {0};
        for (int side = 0; side < 3; side++) {
            if (values[side].kind == IRMIN_KIND_NODE)
                irmin_tree_list(r->trees[side], path, collect_step, &steps);
        }
        if (steps.failed) {
            r->stop = true;
        } else {
            qsort(steps.items, steps.count, sizeof *steps.items, compare_steps);
            for (size_t i = 0; i < steps.count && !r->stop; i++) {
                if (i > 0 && compare_steps(&steps.items[i - 1], &steps.items[i]) == 0)
                    continue;
                if (!push_step(r, &steps.items[i])) {
                    r->stop = true;
                    break;
                }
                walk(r);
                r->depth--;
            }
        }
        step_list_free(&steps);
    } else {
        record(r);
    }
    free(values);
    irmin_path_free(r->repo, path);
}

/* The path in "... merge conflict at <path>: <why>", as the store wrote it. */
static void report_from_message(const char *message, struct json *json)
{
    static const char marker[] = "merge conflict at ";
    const char *start = NULL;
    for (const char *found = strstr(message, marker); found != NULL; found = strstr(found + 1, marker))
        start = found + sizeof marker - 1;
    const char *end = NULL;
    for (const char *found = start != NULL ? strstr(start, ": ") : NULL; found != NULL; found = strstr(found + 1, ": "))
        end = found;
    if (start != NULL && end != NULL)
        json_string(json, start, (size_t)(end - start));
}

void merge_report_conflicts(struct irmin_repo *repo, const struct irmin_hash *ours, const struct irmin_hash *theirs,
                            const char *store_message, size_t max_paths, struct json *json)
{
    struct report r;
    memset(&r, 0, sizeof r);
    r.repo = repo;
    r.json = json;
    r.max = max_paths;
    r.budget = REPORT_MAX_VALUES;

    json_key(json, "conflicts");
    json_array_begin(json);
    struct irmin_hash lcas[2];
    size_t lca_count = 0;
    bool walked = false;
    if (irmin_lcas(repo, ours, theirs, lcas, 2, &lca_count) == IRMIN_OK && lca_count <= 1) {
        bool ok = true;
        if (lca_count == 0)
            r.trees[SIDE_BASE] = irmin_tree_empty(repo);
        else
            ok = irmin_commit_tree(repo, &lcas[0], &r.trees[SIDE_BASE]) == IRMIN_OK;
        ok = ok && irmin_commit_tree(repo, ours, &r.trees[SIDE_OURS]) == IRMIN_OK;
        ok = ok && irmin_commit_tree(repo, theirs, &r.trees[SIDE_THEIRS]) == IRMIN_OK;
        if (ok) {
            walk(&r);
            walked = true;
        }
        for (int side = 0; side < 3; side++) {
            if (r.trees[side] != NULL)
                irmin_tree_free(r.trees[side]);
        }
    }
    if (!walked || (r.count == 0 && !r.truncated)) /* should not happen; the store's path then */
        report_from_message(store_message, json);
    json_array_end(json);
    if (r.truncated) {
        json_key(json, "truncated");
        json_bool(json, true);
    }
    free(r.steps);
    free(r.lengths);
}
