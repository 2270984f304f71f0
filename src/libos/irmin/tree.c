/*
 * irmin/tree.c: mutable in-memory trees over the repo, and paths.
 *
 * A tree node (struct tnode) is either a reference to a stored node that has not been loaded
 * (loaded == false, object set), or a loaded copy of its entries. An entry's child is either a
 * reference to a stored object (entry.loaded == 0: u.object) or an in-memory child (u.node, or
 * u.blob for contents not written yet).
 *
 * Invariant: a tnode with object != IRMIN_NONE equals that stored node, and so does everything
 * loaded below it. Any change goes through touch(), which clears `object` (and the cached hash)
 * on every node from the root down to the change, because every change walks from the root.
 */
#include "irmin_internal.h"

struct tnode;
struct tblob;

struct tentry {
    uint32_t step;
    uint8_t kind;       /* IRMIN_KIND_CONTENTS or IRMIN_KIND_NODE */
    uint8_t loaded;     /* 1: u.node / u.blob; 0: u.object */
    union {
        uint32_t object;
        struct tnode *node;
        struct tblob *blob;
    } u;
};

struct tnode {
    uint32_t object;          /* the stored node this equals, or IRMIN_NONE once changed */
    bool loaded;              /* entries are valid (always true when object == IRMIN_NONE) */
    bool hash_valid;          /* `hash` is this (changed) node's hash */
    uint32_t count;
    uint32_t capacity;
    struct tentry *entries;   /* sorted by step bytes */
    struct irmin_hash hash;
};

struct tblob {
    uint32_t object;          /* the stored contents, or IRMIN_NONE until exported */
    bool hash_valid;
    struct irmin_hash hash;
    size_t length;
    uint8_t bytes[];
};

struct irmin_tree {
    struct irmin_repo *repo;
    struct tnode *root;
};

/* A read-only reference to a value in a tree: what an entry holds, without the step. */
struct tref {
    uint8_t kind;
    bool loaded;
    union {
        uint32_t object;
        struct tnode *node;
        struct tblob *blob;
    } u;
};

/* ---- Tree nodes and blobs ---- */

static struct tnode *tnode_new_empty(struct irmin_repo *repo)
{
    struct tnode *node = irmin_alloc(repo, sizeof *node, "a tree node");
    irmin_memset(node, 0, sizeof *node);
    node->object = IRMIN_NONE;
    node->loaded = true;
    return node;
}

static struct tnode *tnode_new_stored(struct irmin_repo *repo, uint32_t object)
{
    struct tnode *node = irmin_alloc(repo, sizeof *node, "a tree node");
    irmin_memset(node, 0, sizeof *node);
    node->object = object;
    return node;
}

static struct tblob *tblob_new(struct irmin_repo *repo, const void *bytes, size_t length)
{
    struct tblob *blob = irmin_alloc(repo, sizeof *blob + length, "tree contents");
    blob->object = IRMIN_NONE;
    blob->hash_valid = false;
    blob->length = length;
    if (length > 0)
        irmin_memcpy(blob->bytes, bytes, length);
    return blob;
}

static void tblob_free(struct irmin_repo *repo, struct tblob *blob)
{
    irmin_free(repo, blob, sizeof *blob + blob->length);
}

static void tnode_free(struct irmin_repo *repo, struct tnode *node);

static void tentry_free_child(struct irmin_repo *repo, struct tentry *entry)
{
    if (!entry->loaded)
        return;
    if (entry->kind == IRMIN_KIND_NODE)
        tnode_free(repo, entry->u.node);
    else
        tblob_free(repo, entry->u.blob);
}

static void tnode_free_entries(struct irmin_repo *repo, struct tnode *node)
{
    for (uint32_t i = 0; i < node->count; i++)
        tentry_free_child(repo, &node->entries[i]);
    if (node->capacity > 0)
        irmin_free(repo, node->entries, node->capacity * sizeof *node->entries);
    node->entries = NULL;
    node->count = 0;
    node->capacity = 0;
}

static void tnode_free(struct irmin_repo *repo, struct tnode *node)
{
    tnode_free_entries(repo, node);
    irmin_free(repo, node, sizeof *node);
}

/* Loads a stored node's entries into `node` (children stay references). */
static void tnode_load(struct irmin_repo *repo, struct tnode *node)
{
    if (node->loaded)
        return;
    const struct irmin_object *object = irmin_object_at(repo, node->object);
    node->count = object->count;
    node->capacity = object->count;
    node->entries = NULL;
    if (object->count > 0)
        node->entries = irmin_alloc(repo, object->count * sizeof *node->entries, "tree node entries");
    for (uint32_t i = 0; i < object->count; i++) {
        const struct irmin_stored_entry *stored = &object->data.entries[i];
        struct tentry *entry = &node->entries[i];
        entry->step = stored->step;
        entry->kind = irmin_object_at(repo, stored->object)->kind;
        entry->loaded = 0;
        entry->u.object = stored->object;
    }
    node->loaded = true;
}

/* Prepares `node` for a change: loaded, and no longer equal to any stored node. */
static void tnode_touch(struct irmin_repo *repo, struct tnode *node)
{
    tnode_load(repo, node);
    node->object = IRMIN_NONE;
    node->hash_valid = false;
}

/* The in-memory child node of a node entry (created from the stored node on first use). */
static struct tnode *tentry_node(struct irmin_repo *repo, struct tentry *entry)
{
    if (!entry->loaded) {
        entry->u.node = tnode_new_stored(repo, entry->u.object);
        entry->loaded = 1;
    }
    return entry->u.node;
}

/* Index of `step` in a loaded node, or -(insertion point) - 1. */
static int64_t tnode_search(const struct irmin_repo *repo, const struct tnode *node, uint32_t step)
{
    int64_t low = 0;
    int64_t high = (int64_t)node->count - 1;
    while (low <= high) {
        int64_t middle = low + (high - low) / 2;
        int order = irmin_step_compare(repo, node->entries[middle].step, step);
        if (order == 0)
            return middle;
        if (order < 0)
            low = middle + 1;
        else
            high = middle - 1;
    }
    return -low - 1;
}

static struct tentry *tnode_insert(struct irmin_repo *repo, struct tnode *node, uint32_t index,
                                   const struct tentry *entry)
{
    if (node->count == node->capacity) {
        uint32_t capacity = node->capacity < 4 ? 4 : 2 * node->capacity;
        node->entries = irmin_grow(repo, node->entries, node->capacity, capacity, sizeof *node->entries,
                                   "tree node entries");
        node->capacity = capacity;
    }
    irmin_memmove(&node->entries[index + 1], &node->entries[index], (node->count - index) * sizeof *node->entries);
    node->entries[index] = *entry;
    node->count++;
    return &node->entries[index];
}

static void tnode_delete(struct tnode *node, uint32_t index)
{
    irmin_memmove(&node->entries[index], &node->entries[index + 1],
                  (node->count - index - 1) * sizeof *node->entries);
    node->count--;
}

static struct tblob *tblob_copy(struct irmin_repo *repo, const struct tblob *blob)
{
    struct tblob *copy = tblob_new(repo, blob->bytes, blob->length);
    copy->object = blob->object;
    copy->hash_valid = blob->hash_valid;
    copy->hash = blob->hash;
    return copy;
}

static struct tnode *tnode_copy(struct irmin_repo *repo, const struct tnode *node)
{
    struct tnode *copy = irmin_alloc(repo, sizeof *copy, "a tree node");
    *copy = *node;
    copy->entries = NULL;
    copy->capacity = node->count;
    if (node->count > 0) {
        copy->entries = irmin_alloc(repo, node->count * sizeof *copy->entries, "tree node entries");
        for (uint32_t i = 0; i < node->count; i++) {
            struct tentry entry = node->entries[i];
            if (entry.loaded) {
                if (entry.kind == IRMIN_KIND_NODE)
                    entry.u.node = tnode_copy(repo, entry.u.node);
                else
                    entry.u.blob = tblob_copy(repo, entry.u.blob);
            }
            copy->entries[i] = entry;
        }
    }
    return copy;
}

static bool tnode_is_empty(const struct irmin_repo *repo, const struct tnode *node)
{
    if (node->loaded)
        return node->count == 0;
    return irmin_object_at(repo, node->object)->count == 0;
}

/* ---- Hashing and export ---- */

static void tblob_hash(struct tblob *blob, const struct irmin_repo *repo, struct irmin_hash *hash)
{
    if (blob->object != IRMIN_NONE) {
        *hash = irmin_object_at(repo, blob->object)->hash;
        return;
    }
    if (!blob->hash_valid) {
        irmin_hash_contents(blob->bytes, blob->length, &blob->hash);
        blob->hash_valid = true;
    }
    *hash = blob->hash;
}

static const struct irmin_hash *tnode_hash_ref(struct irmin_repo *repo, struct tnode *node);

/* The hash of an entry's child; in-memory children get their hash cached. */
static const struct irmin_hash *tentry_hash_ref(struct irmin_repo *repo, struct tentry *entry)
{
    if (!entry->loaded)
        return &irmin_object_at(repo, entry->u.object)->hash;
    if (entry->kind == IRMIN_KIND_NODE)
        return tnode_hash_ref(repo, entry->u.node);
    struct tblob *blob = entry->u.blob;
    if (blob->object != IRMIN_NONE)
        return &irmin_object_at(repo, blob->object)->hash;
    if (!blob->hash_valid) {
        irmin_hash_contents(blob->bytes, blob->length, &blob->hash);
        blob->hash_valid = true;
    }
    return &blob->hash;
}

/* A pointer to the node's hash: the stored object's, or the cache (computed when invalid). */
static const struct irmin_hash *tnode_hash_ref(struct irmin_repo *repo, struct tnode *node)
{
    if (node->object != IRMIN_NONE)
        return &irmin_object_at(repo, node->object)->hash;
    if (node->hash_valid)
        return &node->hash;
    /* Children first (each caches its hash), then one pass over the serialization. */
    for (uint32_t i = 0; i < node->count; i++)
        if (node->entries[i].loaded)
            tentry_hash_ref(repo, &node->entries[i]);
    struct blake2b_state state;
    blake2b_init512(&state);
    struct irmin_sink sink = {.hash = &state};
    irmin_encode_node_header(&sink, node->count);
    for (uint32_t i = 0; i < node->count; i++) {
        struct tentry *entry = &node->entries[i];
        const struct irmin_step *step = &repo->steps[entry->step];
        irmin_encode_node_entry(&sink, (enum irmin_kind)entry->kind, step->bytes, step->length,
                                tentry_hash_ref(repo, entry));
    }
    blake2b_final(&state, node->hash.bytes);
    node->hash_valid = true;
    return &node->hash;
}

static uint32_t tblob_export(struct irmin_repo *repo, struct tblob *blob)
{
    if (blob->object == IRMIN_NONE) {
        struct irmin_hash hash;
        tblob_hash(blob, repo, &hash);
        blob->object = irmin_contents_intern(repo, blob->bytes, blob->length, &hash);
    }
    return blob->object;
}

static uint32_t tnode_export(struct irmin_repo *repo, struct tnode *node)
{
    if (node->object != IRMIN_NONE)
        return node->object;
    struct irmin_hash hash = *tnode_hash_ref(repo, node);
    struct irmin_stored_entry *stored = NULL;
    if (node->count > 0)
        stored = irmin_alloc(repo, node->count * sizeof *stored, "node entries");
    for (uint32_t i = 0; i < node->count; i++) {
        struct tentry *entry = &node->entries[i];
        stored[i].step = entry->step;
        if (!entry->loaded)
            stored[i].object = entry->u.object;
        else if (entry->kind == IRMIN_KIND_NODE)
            stored[i].object = tnode_export(repo, entry->u.node);
        else
            stored[i].object = tblob_export(repo, entry->u.blob);
    }
    node->object = irmin_node_intern(repo, stored, node->count, &hash);
    return node->object;
}

uint32_t irmin_tree_export_root(struct irmin_tree *tree)
{
    return tnode_export(tree->repo, tree->root);
}

void irmin_tree_export(struct irmin_tree *tree, struct irmin_hash *node)
{
    uint32_t id = irmin_tree_export_root(tree);
    if (node != NULL)
        *node = irmin_object_at(tree->repo, id)->hash;
}

void irmin_tree_hash(struct irmin_tree *tree, struct irmin_hash *hash)
{
    *hash = *tnode_hash_ref(tree->repo, tree->root);
}

/* ---- Clearing caches ---- */

static void tnode_clear(struct irmin_repo *repo, struct tnode *node)
{
    if (!node->loaded)
        return;
    if (node->object != IRMIN_NONE) {
        /* Equal to a stored node: everything below can be reloaded from the repo. */
        tnode_free_entries(repo, node);
        node->loaded = false;
        return;
    }
    node->hash_valid = false;
    for (uint32_t i = 0; i < node->count; i++) {
        struct tentry *entry = &node->entries[i];
        if (!entry->loaded)
            continue;
        if (entry->kind == IRMIN_KIND_NODE) {
            struct tnode *child = entry->u.node;
            if (child->object != IRMIN_NONE) {
                uint32_t object = child->object;
                tnode_free(repo, child);
                entry->loaded = 0;
                entry->u.object = object;
            } else {
                tnode_clear(repo, child);
            }
        } else {
            struct tblob *blob = entry->u.blob;
            if (blob->object != IRMIN_NONE) {
                uint32_t object = blob->object;
                tblob_free(repo, blob);
                entry->loaded = 0;
                entry->u.object = object;
            } else {
                blob->hash_valid = false;
            }
        }
    }
}

void irmin_tree_clear(struct irmin_tree *tree)
{
    tnode_clear(tree->repo, tree->root);
}

/* ---- Trees ---- */

static struct irmin_tree *tree_new(struct irmin_repo *repo, struct tnode *root)
{
    struct irmin_tree *tree = irmin_alloc(repo, sizeof *tree, "a tree");
    tree->repo = repo;
    tree->root = root;
    return tree;
}

struct irmin_tree *irmin_tree_empty(struct irmin_repo *repo)
{
    return tree_new(repo, tnode_new_empty(repo));
}

struct irmin_tree *irmin_tree_of_object(struct irmin_repo *repo, uint32_t node)
{
    return tree_new(repo, tnode_new_stored(repo, node));
}

irmin_status irmin_tree_of_node(struct irmin_repo *repo, const struct irmin_hash *node, struct irmin_tree **tree)
{
    *tree = NULL;
    uint32_t id = irmin_object_expect(repo, node, IRMIN_KIND_NODE, "node");
    if (id == IRMIN_NONE)
        return IRMIN_NOT_FOUND;
    *tree = irmin_tree_of_object(repo, id);
    return IRMIN_OK;
}

struct irmin_tree *irmin_tree_copy(const struct irmin_tree *tree)
{
    return tree_new(tree->repo, tnode_copy(tree->repo, tree->root));
}

void irmin_tree_free(struct irmin_tree *tree)
{
    if (tree == NULL)
        return;
    struct irmin_repo *repo = tree->repo;
    tnode_free(repo, tree->root);
    irmin_free(repo, tree, sizeof *tree);
}

struct irmin_repo *irmin_tree_repo(const struct irmin_tree *tree)
{
    return tree->repo;
}

/* ---- Reading ---- */

/* Follows `count` steps of `steps` from the root without loading anything. */
static bool tree_lookup(const struct irmin_tree *tree, const uint32_t *steps, size_t count, struct tref *found)
{
    const struct irmin_repo *repo = tree->repo;
    struct tref current = {.kind = IRMIN_KIND_NODE, .loaded = true, .u.node = tree->root};
    for (size_t i = 0; i < count; i++) {
        if (current.kind != IRMIN_KIND_NODE)
            return false;
        if (current.loaded && current.u.node->loaded) {
            const struct tnode *node = current.u.node;
            int64_t at = tnode_search(repo, node, steps[i]);
            if (at < 0)
                return false;
            const struct tentry *entry = &node->entries[at];
            current.kind = entry->kind;
            current.loaded = entry->loaded;
            current.u = (__typeof__(current.u)){.object = 0};
            if (entry->loaded && entry->kind == IRMIN_KIND_NODE)
                current.u.node = entry->u.node;
            else if (entry->loaded)
                current.u.blob = entry->u.blob;
            else
                current.u.object = entry->u.object;
        } else {
            uint32_t object_id = current.loaded ? current.u.node->object : current.u.object;
            const struct irmin_object *object = irmin_object_at(repo, object_id);
            int64_t at = irmin_stored_find(repo, object, steps[i]);
            if (at < 0)
                return false;
            uint32_t child = object->data.entries[at].object;
            current.kind = irmin_object_at(repo, child)->kind;
            current.loaded = false;
            current.u.object = child;
        }
    }
    *found = current;
    return true;
}

static bool path_lookup(const struct irmin_tree *tree, const struct irmin_path *path, struct tref *found)
{
    return tree_lookup(tree, path->steps, path->length, found);
}

static void tref_contents(const struct irmin_repo *repo, const struct tref *ref, const uint8_t **value,
                          size_t *length)
{
    if (ref->loaded) {
        *value = ref->u.blob->bytes;
        *length = ref->u.blob->length;
    } else {
        const struct irmin_object *object = irmin_object_at(repo, ref->u.object);
        *value = object->length > 0 ? object->data.bytes : (const uint8_t *)"";
        *length = object->length;
    }
}

static irmin_status path_error(struct irmin_repo *repo, irmin_status status, const struct irmin_path *path,
                               const char *what)
{
    char text[IRMIN_ERROR_BYTES / 2];
    size_t used = 0;
    irmin_format_steps(repo, path->steps, path->length, text, sizeof text, &used);
    return irmin_fail(repo, status, "path %s %s", text, what);
}

irmin_status irmin_tree_find(const struct irmin_tree *tree, const struct irmin_path *path, const uint8_t **value,
                             size_t *length)
{
    struct tref ref;
    if (!path_lookup(tree, path, &ref))
        return path_error(tree->repo, IRMIN_NOT_FOUND, path, "is not in the tree");
    if (ref.kind != IRMIN_KIND_CONTENTS)
        return path_error(tree->repo, IRMIN_NOT_FOUND, path, "holds a node, not contents");
    tref_contents(tree->repo, &ref, value, length);
    return IRMIN_OK;
}

bool irmin_tree_mem(const struct irmin_tree *tree, const struct irmin_path *path)
{
    struct tref ref;
    return path_lookup(tree, path, &ref) && ref.kind == IRMIN_KIND_CONTENTS;
}

bool irmin_tree_mem_tree(const struct irmin_tree *tree, const struct irmin_path *path)
{
    struct tref ref;
    return path_lookup(tree, path, &ref);
}

irmin_status irmin_tree_find_tree(const struct irmin_tree *tree, const struct irmin_path *path,
                                  struct irmin_tree **subtree)
{
    *subtree = NULL;
    struct tref ref;
    if (!path_lookup(tree, path, &ref))
        return path_error(tree->repo, IRMIN_NOT_FOUND, path, "is not in the tree");
    if (ref.kind != IRMIN_KIND_NODE)
        return path_error(tree->repo, IRMIN_NOT_FOUND, path, "holds contents, not a node");
    struct tnode *root = ref.loaded ? tnode_copy(tree->repo, ref.u.node) : tnode_new_stored(tree->repo, ref.u.object);
    *subtree = tree_new(tree->repo, root);
    return IRMIN_OK;
}

/* Calls visit(step, child) for each entry of a node reference, in order; stops on nonzero. */
typedef int (*entry_fn)(void *context, uint32_t step, const struct tref *child);

static int tref_entries(const struct irmin_repo *repo, const struct tref *node_ref, entry_fn visit, void *context)
{
    const struct tnode *node = node_ref->loaded ? node_ref->u.node : NULL;
    if (node != NULL && node->loaded) {
        for (uint32_t i = 0; i < node->count; i++) {
            const struct tentry *entry = &node->entries[i];
            struct tref child = {.kind = entry->kind, .loaded = entry->loaded};
            if (entry->loaded && entry->kind == IRMIN_KIND_NODE)
                child.u.node = entry->u.node;
            else if (entry->loaded)
                child.u.blob = entry->u.blob;
            else
                child.u.object = entry->u.object;
            int stop = visit(context, entry->step, &child);
            if (stop)
                return stop;
        }
        return 0;
    }
    const struct irmin_object *object = irmin_object_at(repo, node != NULL ? node->object : node_ref->u.object);
    for (uint32_t i = 0; i < object->count; i++) {
        uint32_t child_id = object->data.entries[i].object;
        struct tref child = {.kind = irmin_object_at(repo, child_id)->kind, .loaded = false, .u.object = child_id};
        int stop = visit(context, object->data.entries[i].step, &child);
        if (stop)
            return stop;
    }
    return 0;
}

struct list_walk {
    const struct irmin_repo *repo;
    irmin_list_fn visit;
    void *context;
};

static int list_entry(void *context, uint32_t step_id, const struct tref *child)
{
    struct list_walk *walk = context;
    const struct irmin_step *step = &walk->repo->steps[step_id];
    return walk->visit(walk->context, step->bytes, step->length, (enum irmin_kind)child->kind);
}

irmin_status irmin_tree_list(const struct irmin_tree *tree, const struct irmin_path *path, irmin_list_fn visit,
                             void *context)
{
    struct tref ref;
    if (!path_lookup(tree, path, &ref))
        return path_error(tree->repo, IRMIN_NOT_FOUND, path, "is not in the tree");
    if (ref.kind != IRMIN_KIND_NODE)
        return path_error(tree->repo, IRMIN_NOT_FOUND, path, "holds contents, not a node");
    struct list_walk walk = {.repo = tree->repo, .visit = visit, .context = context};
    tref_entries(tree->repo, &ref, list_entry, &walk);
    return IRMIN_OK;
}

struct fold_walk {
    struct irmin_repo *repo;
    const struct irmin_fold_visitor *visitor;
    void *context;
    struct irmin_step_view *path;
    size_t capacity;
    size_t depth;
};

static int fold_ref(struct fold_walk *walk, const struct tref *ref);

static int fold_entry(void *context, uint32_t step_id, const struct tref *child)
{
    struct fold_walk *walk = context;
    if (walk->depth == walk->capacity) {
        size_t capacity = walk->capacity < 8 ? 8 : 2 * walk->capacity;
        walk->path = irmin_grow(walk->repo, walk->path, walk->capacity, capacity, sizeof *walk->path, "a fold path");
        walk->capacity = capacity;
    }
    const struct irmin_step *step = &walk->repo->steps[step_id];
    walk->path[walk->depth].bytes = step->bytes;
    walk->path[walk->depth].length = step->length;
    walk->depth++;
    int stop = fold_ref(walk, child);
    walk->depth--;
    return stop;
}

static int fold_ref(struct fold_walk *walk, const struct tref *ref)
{
    if (ref->kind == IRMIN_KIND_CONTENTS) {
        if (walk->visitor->contents == NULL)
            return 0;
        const uint8_t *value;
        size_t length;
        tref_contents(walk->repo, ref, &value, &length);
        return walk->visitor->contents(walk->context, walk->path, walk->depth, value, length);
    }
    if (walk->visitor->node != NULL) {
        int stop = walk->visitor->node(walk->context, walk->path, walk->depth);
        if (stop)
            return stop;
    }
    return tref_entries(walk->repo, ref, fold_entry, walk);
}

irmin_status irmin_tree_fold(const struct irmin_tree *tree, const struct irmin_path *path,
                             const struct irmin_fold_visitor *visitor, void *context)
{
    struct tref ref;
    if (!path_lookup(tree, path, &ref))
        return path_error(tree->repo, IRMIN_NOT_FOUND, path, "is not in the tree");
    struct fold_walk walk = {.repo = tree->repo, .visitor = visitor, .context = context};
    fold_ref(&walk, &ref);
    if (walk.capacity > 0)
        irmin_free(tree->repo, walk.path, walk.capacity * sizeof *walk.path);
    return IRMIN_OK;
}

/* ---- Changing ---- */

/*
 * Walks down `count` steps from the root, touching each node and creating missing nodes (a
 * step that holds contents is replaced by an empty node). Returns the node reached, touched.
 */
static struct tnode *descend_creating(struct irmin_repo *repo, struct tnode *node, const uint32_t *steps, size_t count)
{
    tnode_touch(repo, node);
    for (size_t i = 0; i < count; i++) {
        int64_t at = tnode_search(repo, node, steps[i]);
        struct tnode *child;
        if (at >= 0) {
            struct tentry *entry = &node->entries[at];
            if (entry->kind == IRMIN_KIND_NODE) {
                child = tentry_node(repo, entry);
            } else {
                tentry_free_child(repo, entry);
                child = tnode_new_empty(repo);
                entry->kind = IRMIN_KIND_NODE;
                entry->loaded = 1;
                entry->u.node = child;
            }
        } else {
            child = tnode_new_empty(repo);
            struct tentry entry = {.step = steps[i], .kind = IRMIN_KIND_NODE, .loaded = 1, .u.node = child};
            tnode_insert(repo, node, (uint32_t)(-at - 1), &entry);
        }
        tnode_touch(repo, child);
        node = child;
    }
    return node;
}

/* Binds the last step of `path` (in a touched node) to an in-memory child, freeing what was there. */
static void bind_last(struct irmin_repo *repo, struct tnode *parent, uint32_t step, const struct tentry *value)
{
    int64_t at = tnode_search(repo, parent, step);
    if (at >= 0) {
        tentry_free_child(repo, &parent->entries[at]);
        parent->entries[at] = *value;
        parent->entries[at].step = step;
    } else {
        struct tentry entry = *value;
        entry.step = step;
        tnode_insert(repo, parent, (uint32_t)(-at - 1), &entry);
    }
}

irmin_status irmin_tree_add(struct irmin_tree *tree, const struct irmin_path *path, const void *value, size_t length)
{
    struct irmin_repo *repo = tree->repo;
    if (path->length == 0)
        return irmin_fail(repo, IRMIN_INVALID, "cannot add contents at the root path: a tree's root is a node");
    struct tnode *parent = descend_creating(repo, tree->root, path->steps, path->length - 1);
    struct tentry entry = {.kind = IRMIN_KIND_CONTENTS, .loaded = 1, .u.blob = tblob_new(repo, value, length)};
    bind_last(repo, parent, path->steps[path->length - 1], &entry);
    return IRMIN_OK;
}

/* Removes steps[depth..] below `node`; returns true when `node` is left empty. */
static bool remove_below(struct irmin_repo *repo, struct tnode *node, const uint32_t *steps, size_t count,
                         size_t depth)
{
    tnode_touch(repo, node);
    int64_t at = tnode_search(repo, node, steps[depth]);
    if (at < 0)
        irmin_panic("irmin: internal error: removing a path that the lookup found");
    struct tentry *entry = &node->entries[at];
    bool drop = depth + 1 == count;
    if (!drop) {
        struct tnode *child = tentry_node(repo, entry);
        drop = remove_below(repo, child, steps, count, depth + 1);
    }
    if (drop) {
        tentry_free_child(repo, entry);
        tnode_delete(node, (uint32_t)at);
    }
    return node->count == 0;
}

static void tree_remove(struct irmin_tree *tree, const uint32_t *steps, size_t count)
{
    struct irmin_repo *repo = tree->repo;
    if (count == 0) {
        tnode_free(repo, tree->root);
        tree->root = tnode_new_empty(repo);
        return;
    }
    struct tref ref;
    if (!tree_lookup(tree, steps, count, &ref))
        return;
    remove_below(repo, tree->root, steps, count, 0);
}

irmin_status irmin_tree_remove(struct irmin_tree *tree, const struct irmin_path *path)
{
    tree_remove(tree, path->steps, path->length);
    return IRMIN_OK;
}

irmin_status irmin_tree_add_tree(struct irmin_tree *tree, const struct irmin_path *path,
                                 const struct irmin_tree *subtree)
{
    struct irmin_repo *repo = tree->repo;
    if (subtree->repo != repo)
        return irmin_fail(repo, IRMIN_INVALID, "add_tree: the subtree belongs to another repo");
    if (tnode_is_empty(repo, subtree->root)) {
        /* Binding a path to the empty tree removes it (Irmin). */
        tree_remove(tree, path->steps, path->length);
        return IRMIN_OK;
    }
    struct tnode *copy = tnode_copy(repo, subtree->root);
    if (path->length == 0) {
        tnode_free(repo, tree->root);
        tree->root = copy;
        return IRMIN_OK;
    }
    struct tnode *parent = descend_creating(repo, tree->root, path->steps, path->length - 1);
    struct tentry entry = {.kind = IRMIN_KIND_NODE, .loaded = 1, .u.node = copy};
    bind_last(repo, parent, path->steps[path->length - 1], &entry);
    return IRMIN_OK;
}

/* ---- Paths ---- */

static struct irmin_path *path_alloc(struct irmin_repo *repo, size_t count)
{
    struct irmin_path *path = irmin_alloc(repo, sizeof *path + count * sizeof(uint32_t), "a path");
    path->length = (uint32_t)count;
    return path;
}

void irmin_path_free(struct irmin_repo *repo, struct irmin_path *path)
{
    if (path != NULL)
        irmin_free(repo, path, sizeof *path + path->length * sizeof(uint32_t));
}

size_t irmin_path_length(const struct irmin_path *path)
{
    return path->length;
}

irmin_status irmin_path_make(struct irmin_repo *repo, size_t count, const char *const *steps, const size_t *lengths,
                             struct irmin_path **path)
{
    *path = NULL;
    if (count > UINT32_MAX / 2)
        return irmin_fail(repo, IRMIN_INVALID, "a path of %zu steps is too long", count);
    for (size_t i = 0; i < count; i++) {
        size_t length = lengths != NULL ? lengths[i] : irmin_strlen(steps[i]);
        if (length == 0)
            return irmin_fail(repo, IRMIN_INVALID, "step %zu of the path is empty; steps are non-empty", i);
        if (length > UINT32_MAX)
            return irmin_fail(repo, IRMIN_INVALID, "step %zu of the path is too long (%zu bytes)", i, length);
    }
    struct irmin_path *made = path_alloc(repo, count);
    for (size_t i = 0; i < count; i++) {
        size_t length = lengths != NULL ? lengths[i] : irmin_strlen(steps[i]);
        made->steps[i] = irmin_step_intern(repo, steps[i], length);
    }
    *path = made;
    return IRMIN_OK;
}

irmin_status irmin_path_parse(struct irmin_repo *repo, const char *text, struct irmin_path **path)
{
    *path = NULL;
    size_t length = irmin_strlen(text);
    size_t start = 0;
    size_t end = length;
    if (start < end && text[start] == '/')
        start++;
    if (start < end && text[end - 1] == '/')
        end--;
    size_t count = 0;
    if (start < end) {
        count = 1;
        for (size_t i = start; i < end; i++) {
            if (text[i] != '/')
                continue;
            if (i == start || text[i - 1] == '/' || i + 1 == end)
                return irmin_fail(repo, IRMIN_INVALID, "path \"%s\" has an empty step (\"//\")", text);
            count++;
        }
    }
    struct irmin_path *made = path_alloc(repo, count);
    size_t step_start = start;
    size_t index = 0;
    for (size_t i = start; i <= end && count > 0; i++) {
        if (i == end || text[i] == '/') {
            made->steps[index++] = irmin_step_intern(repo, text + step_start, i - step_start);
            step_start = i + 1;
        }
    }
    *path = made;
    return IRMIN_OK;
}
