/*
 * irmin/irmin_internal.h: the store's representation, shared by its .c files (not an API).
 *
 * Objects are numbered in the order they were added (object ids). They live in fixed-size
 * chunks that never move, so a struct irmin_object pointer stays valid while the repo grows.
 * A node stores its entries as (step id, object id) pairs; steps are interned once per repo.
 */
#ifndef IRMIN_INTERNAL_H
#define IRMIN_INTERNAL_H

#include "blake2b.h"
#include "irmin.h"

#define IRMIN_NONE UINT32_MAX

#define IRMIN_CHUNK_BITS 10
#define IRMIN_CHUNK_OBJECTS (1u << IRMIN_CHUNK_BITS)

#define IRMIN_ERROR_BYTES 320

#define IRMIN_PRINTF(format_index, first_arg) __attribute__((format(printf, format_index, first_arg)))

/* One entry of a stored node: a step and the object (contents or node) it is bound to. */
struct irmin_stored_entry {
    uint32_t step;
    uint32_t object;
};

struct irmin_stored_commit {
    uint32_t node;
    uint32_t parent_count;
    uint32_t *parents;                  /* object ids, in hash order */
    struct irmin_hash *parent_hashes;   /* the same parents' hashes */
    int64_t date;
    char *author;                       /* NUL-terminated */
    size_t author_length;
    char *message;                      /* NUL-terminated */
    size_t message_length;
};

struct irmin_object {
    struct irmin_hash hash;
    uint8_t kind;                       /* enum irmin_kind */
    uint32_t count;                     /* node: number of entries */
    size_t length;                      /* contents: number of bytes */
    union {
        uint8_t *bytes;                         /* contents */
        struct irmin_stored_entry *entries;     /* node, sorted by step bytes */
        struct irmin_stored_commit *commit;     /* commit */
    } data;
};

struct irmin_step {
    uint32_t length;
    uint32_t hash;     /* FNV-1a of the bytes, for the intern table */
    uint8_t *bytes;
};

struct irmin_branch {
    char *name;        /* NUL-terminated */
    size_t name_length;
    uint32_t commit;
};

struct irmin_repo {
    struct irmin_object **chunks;
    uint32_t chunk_count;
    uint32_t chunk_capacity;
    uint32_t object_count;
    uint32_t kind_counts[4];            /* indexed by enum irmin_kind */

    /* Open addressing on the first 8 hash bytes; a slot holds object id + 1, 0 when empty. */
    uint32_t *object_index;
    uint32_t object_index_capacity;     /* a power of two, at least twice object_count */

    struct irmin_step *steps;
    uint32_t step_count;
    uint32_t step_capacity;
    uint32_t *step_index;               /* step id + 1, 0 when empty */
    uint32_t step_index_capacity;

    struct irmin_branch *branches;      /* sorted by name */
    uint32_t branch_count;
    uint32_t branch_capacity;

    uint32_t empty_node;                /* the empty node's object id, IRMIN_NONE until needed */

    uint64_t heap_bytes;
    uint64_t heap_peak;
    char error[IRMIN_ERROR_BYTES];
};

struct irmin_path {
    uint32_t length;
    uint32_t steps[];                   /* step ids */
};

/* ---- repo.c: memory, errors, objects, steps ---- */

/* Allocates or aborts with a message naming `what` and the repo's size. */
void *irmin_alloc(struct irmin_repo *repo, size_t size, const char *what);
void irmin_free(struct irmin_repo *repo, void *block, size_t size);
/* A new array of new_count elements holding the first old_count of `array` (which is freed). */
void *irmin_grow(struct irmin_repo *repo, void *array, size_t old_count, size_t new_count, size_t element_size,
                 const char *what);

/* Records a failure message in repo->error and returns `status`. */
irmin_status irmin_fail(struct irmin_repo *repo, irmin_status status, const char *format, ...) IRMIN_PRINTF(3, 4);
/* Reports a broken invariant through irmin_env_abort. */
__attribute__((noreturn)) void irmin_panic(const char *format, ...) IRMIN_PRINTF(1, 2);

static inline struct irmin_object *irmin_object_at(const struct irmin_repo *repo, uint32_t id)
{
    return &repo->chunks[id >> IRMIN_CHUNK_BITS][id & (IRMIN_CHUNK_OBJECTS - 1)];
}

/* The id of the object with this hash, or IRMIN_NONE. */
uint32_t irmin_object_lookup(const struct irmin_repo *repo, const struct irmin_hash *hash);
/* The id of the object of that hash and kind, or IRMIN_NONE (with a message) when missing or another kind. */
uint32_t irmin_object_expect(struct irmin_repo *repo, const struct irmin_hash *hash, enum irmin_kind kind,
                             const char *role);

/* Contents/node/commit objects: returns the existing id when the hash is already stored. */
uint32_t irmin_contents_intern(struct irmin_repo *repo, const void *bytes, size_t length,
                               const struct irmin_hash *known_hash);
/* Takes ownership of `entries` (count elements, allocated with irmin_alloc; may be NULL when count is 0). */
uint32_t irmin_node_intern(struct irmin_repo *repo, struct irmin_stored_entry *entries, uint32_t count,
                           const struct irmin_hash *known_hash);
uint32_t irmin_empty_node(struct irmin_repo *repo);
/* `parents` are distinct commit ids in hash order. */
uint32_t irmin_commit_intern(struct irmin_repo *repo, uint32_t node, const uint32_t *parents, uint32_t parent_count,
                             const struct irmin_info *info);

uint32_t irmin_step_intern(struct irmin_repo *repo, const void *bytes, size_t length);
/* The id of a step already interned, or IRMIN_NONE. */
uint32_t irmin_step_lookup(const struct irmin_repo *repo, const void *bytes, size_t length);
/* Bytewise order of the steps' bytes (a proper prefix sorts first). */
int irmin_step_compare(const struct irmin_repo *repo, uint32_t a, uint32_t b);
int irmin_bytes_compare(const uint8_t *a, size_t a_length, const uint8_t *b, size_t b_length);

/* Binary search of a stored node's entries: the index of `step`, or -(insertion point) - 1. */
int64_t irmin_stored_find(const struct irmin_repo *repo, const struct irmin_object *node, uint32_t step);

/* ---- codec.c: the serialization of docs/irmin-store.md ---- */

/* Either feeds a hash or appends to a buffer (counting, but not writing, past its capacity). */
struct irmin_sink {
    struct blake2b_state *hash;
    uint8_t *buffer;
    size_t capacity;
    size_t length;
};

void irmin_sink_write(struct irmin_sink *sink, const void *bytes, size_t length);
void irmin_encode_uleb128(struct irmin_sink *sink, uint64_t value);
void irmin_encode_contents(struct irmin_sink *sink, const uint8_t *bytes, size_t length);
void irmin_encode_node_header(struct irmin_sink *sink, uint64_t count);
void irmin_encode_node_entry(struct irmin_sink *sink, enum irmin_kind kind, const uint8_t *step, size_t step_length,
                             const struct irmin_hash *child);
void irmin_encode_commit(struct irmin_sink *sink, const struct irmin_hash *node, const struct irmin_hash *parents,
                         size_t parent_count, int64_t date, const char *author, size_t author_length,
                         const char *message, size_t message_length);

void irmin_hash_contents(const uint8_t *bytes, size_t length, struct irmin_hash *hash);
/* The hash of a node given as stored entries (children must be objects of the repo). */
void irmin_hash_stored_node(const struct irmin_repo *repo, const struct irmin_stored_entry *entries, uint32_t count,
                            struct irmin_hash *hash);

/* ---- format.c: printf-like formatting without libc ---- */

/*
 * Formats into `buffer` (always NUL-terminated when capacity > 0, truncated if needed) and
 * returns the length written. Conversions: %% %c %s %.*s %d %i %u %x with flags '-' '0', a
 * width, and the modifiers l, ll, z.
 */
size_t irmin_format(char *buffer, size_t capacity, const char *format, ...) IRMIN_PRINTF(3, 4);
size_t irmin_vformat(char *buffer, size_t capacity, const char *format, va_list arguments);

/* Appends `path` as "a/b/c" ("/" for the root) to buffer[*used..capacity). */
void irmin_format_steps(const struct irmin_repo *repo, const uint32_t *steps, size_t count, char *buffer,
                        size_t capacity, size_t *used);

/* ---- store.c: commit graph helpers shared with merge.c ---- */

/*
 * Marks the ancestors (inclusive) of each commit id in `starts` by or-ing `bit` into marks[id]
 * (marks has one byte per object).
 */
void irmin_mark_ancestors(struct irmin_repo *repo, const uint32_t *starts, size_t start_count, uint8_t *marks,
                          uint8_t bit);
/*
 * The lowest common ancestors of two sets of commits (the ancestors of a set are the union of
 * its members' ancestors), in hash order: returns the count and, when nonzero, an array in
 * *lcas to free with irmin_free(repo, *lcas, count * sizeof(uint32_t)).
 */
size_t irmin_lcas_of_sets(struct irmin_repo *repo, const uint32_t *a, size_t a_count, const uint32_t *b,
                          size_t b_count, uint32_t **lcas);
/* Orders two commit ids by hash. */
void irmin_sort_pair_by_hash(const struct irmin_repo *repo, uint32_t pair[2]);

/* ---- tree.c: used by store.c and merge.c ---- */

/* Writes the tree's new objects to the repo and returns its root node's id. */
uint32_t irmin_tree_export_root(struct irmin_tree *tree);
/* A tree whose root is the stored node `node`. */
struct irmin_tree *irmin_tree_of_object(struct irmin_repo *repo, uint32_t node);

/* ---- merge.c ---- */

/*
 * Three-way merge of stored nodes (base may be the empty node): *merged gets the merged node
 * (the empty node when everything was removed). On IRMIN_CONFLICT repo->error names the path.
 */
irmin_status irmin_merge_nodes(struct irmin_repo *repo, uint32_t base, uint32_t ours, uint32_t theirs,
                               uint32_t *merged);

#endif
