/*
 * irmin/repo.c: the repo object: memory accounting, error messages, the object table with its
 * hash index, and interned steps.
 */
#include "irmin_internal.h"

/* ---- Memory ---- */

void *irmin_alloc(struct irmin_repo *repo, size_t size, const char *what)
{
    if (size == 0)
        irmin_panic("irmin: internal error: zero-byte allocation for %s", what);
    void *block = irmin_env_alloc(size);
    if (block == NULL) {
        char message[IRMIN_ERROR_BYTES];
        irmin_format(message, sizeof message,
                     "irmin: out of memory allocating %zu bytes for %s (the store holds %llu bytes in %u objects); "
                     "give the machine more memory or run a smaller bench",
                     size, what, (unsigned long long)repo->heap_bytes, repo->object_count);
        irmin_env_abort(message);
    }
    repo->heap_bytes += size;
    if (repo->heap_bytes > repo->heap_peak)
        repo->heap_peak = repo->heap_bytes;
    return block;
}

void irmin_free(struct irmin_repo *repo, void *block, size_t size)
{
    if (block == NULL)
        return;
    if (size > repo->heap_bytes)
        irmin_panic("irmin: internal error: freeing %zu bytes but the store accounts for only %llu", size,
                    (unsigned long long)repo->heap_bytes);
    repo->heap_bytes -= size;
    irmin_env_free(block, size);
}

void *irmin_grow(struct irmin_repo *repo, void *array, size_t old_count, size_t new_count, size_t element_size,
                 const char *what)
{
    if (new_count > SIZE_MAX / element_size)
        irmin_panic("irmin: %s cannot grow to %zu elements (size overflow)", what, new_count);
    void *grown = irmin_alloc(repo, new_count * element_size, what);
    if (array != NULL) {
        irmin_memcpy(grown, array, old_count * element_size);
        irmin_free(repo, array, old_count * element_size);
    }
    return grown;
}

/* ---- Errors ---- */

irmin_status irmin_fail(struct irmin_repo *repo, irmin_status status, const char *format, ...)
{
    va_list arguments;
    va_start(arguments, format);
    irmin_vformat(repo->error, sizeof repo->error, format, arguments);
    va_end(arguments);
    return status;
}

void irmin_panic(const char *format, ...)
{
    char message[IRMIN_ERROR_BYTES];
    va_list arguments;
    va_start(arguments, format);
    irmin_vformat(message, sizeof message, format, arguments);
    va_end(arguments);
    irmin_env_abort(message);
}

const char *irmin_status_name(irmin_status status)
{
    switch (status) {
    case IRMIN_OK:
        return "ok";
    case IRMIN_NOT_FOUND:
        return "not found";
    case IRMIN_INVALID:
        return "invalid argument";
    case IRMIN_CHANGED:
        return "changed concurrently";
    case IRMIN_CONFLICT:
        return "merge conflict";
    }
    return "unknown status";
}

const char *irmin_repo_error(const struct irmin_repo *repo)
{
    return repo->error;
}

/* ---- Hashes ---- */

void irmin_hash_to_hex(const struct irmin_hash *hash, char hex[IRMIN_HASH_HEX_BYTES])
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < IRMIN_HASH_BYTES; i++) {
        hex[2 * i] = digits[hash->bytes[i] >> 4];
        hex[2 * i + 1] = digits[hash->bytes[i] & 15];
    }
    hex[2 * IRMIN_HASH_BYTES] = '\0';
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool irmin_hash_of_hex(const char *hex, struct irmin_hash *hash)
{
    for (size_t i = 0; i < IRMIN_HASH_BYTES; i++) {
        int high = hex_digit(hex[2 * i]);
        if (high < 0)
            return false;
        int low = hex_digit(hex[2 * i + 1]);
        if (low < 0)
            return false;
        hash->bytes[i] = (uint8_t)(high << 4 | low);
    }
    return hex[2 * IRMIN_HASH_BYTES] == '\0';
}

bool irmin_hash_equal(const struct irmin_hash *a, const struct irmin_hash *b)
{
    return irmin_memcmp(a->bytes, b->bytes, IRMIN_HASH_BYTES) == 0;
}

/* ---- Repo ---- */

struct irmin_repo *irmin_repo_create(void)
{
    struct irmin_repo *repo = irmin_env_alloc(sizeof *repo);
    if (repo == NULL)
        irmin_env_abort("irmin: out of memory allocating the repo; give the machine more memory");
    irmin_memset(repo, 0, sizeof *repo);
    repo->heap_bytes = sizeof *repo;
    repo->heap_peak = repo->heap_bytes;
    repo->empty_node = IRMIN_NONE;
    return repo;
}

static void free_object_data(struct irmin_repo *repo, struct irmin_object *object)
{
    switch (object->kind) {
    case IRMIN_KIND_CONTENTS:
        if (object->length > 0)
            irmin_free(repo, object->data.bytes, object->length);
        break;
    case IRMIN_KIND_NODE:
        if (object->count > 0)
            irmin_free(repo, object->data.entries, object->count * sizeof(struct irmin_stored_entry));
        break;
    case IRMIN_KIND_COMMIT: {
        struct irmin_stored_commit *commit = object->data.commit;
        if (commit->parent_count > 0) {
            irmin_free(repo, commit->parents, commit->parent_count * sizeof(uint32_t));
            irmin_free(repo, commit->parent_hashes, commit->parent_count * sizeof(struct irmin_hash));
        }
        irmin_free(repo, commit->author, commit->author_length + 1);
        irmin_free(repo, commit->message, commit->message_length + 1);
        irmin_free(repo, commit, sizeof *commit);
        break;
    }
    default:
        irmin_panic("irmin: internal error: object of unknown kind %u", object->kind);
    }
}

void irmin_repo_free(struct irmin_repo *repo)
{
    if (repo == NULL)
        return;
    for (uint32_t id = 0; id < repo->object_count; id++)
        free_object_data(repo, irmin_object_at(repo, id));
    for (uint32_t chunk = 0; chunk < repo->chunk_count; chunk++)
        irmin_free(repo, repo->chunks[chunk], IRMIN_CHUNK_OBJECTS * sizeof(struct irmin_object));
    irmin_free(repo, repo->chunks, repo->chunk_capacity * sizeof *repo->chunks);
    irmin_free(repo, repo->object_index, repo->object_index_capacity * sizeof(uint32_t));
    for (uint32_t step = 0; step < repo->step_count; step++)
        irmin_free(repo, repo->steps[step].bytes, repo->steps[step].length);
    irmin_free(repo, repo->steps, repo->step_capacity * sizeof *repo->steps);
    irmin_free(repo, repo->step_index, repo->step_index_capacity * sizeof(uint32_t));
    for (uint32_t branch = 0; branch < repo->branch_count; branch++)
        irmin_free(repo, repo->branches[branch].name, repo->branches[branch].name_length + 1);
    irmin_free(repo, repo->branches, repo->branch_capacity * sizeof *repo->branches);
    if (repo->heap_bytes != sizeof *repo)
        irmin_panic("irmin: %llu bytes still allocated when freeing the repo: free its trees and paths first",
                    (unsigned long long)(repo->heap_bytes - sizeof *repo));
    irmin_env_free(repo, sizeof *repo);
}

void irmin_repo_stats(const struct irmin_repo *repo, struct irmin_repo_stats *stats)
{
    stats->contents = repo->kind_counts[IRMIN_KIND_CONTENTS];
    stats->nodes = repo->kind_counts[IRMIN_KIND_NODE];
    stats->commits = repo->kind_counts[IRMIN_KIND_COMMIT];
    stats->branches = repo->branch_count;
    stats->steps = repo->step_count;
    stats->heap_bytes = repo->heap_bytes;
    stats->heap_peak = repo->heap_peak;
}

/* ---- Object table ---- */

static uint64_t hash_key(const struct irmin_hash *hash)
{
    uint64_t key = 0;
    for (int i = 0; i < 8; i++)
        key |= (uint64_t)hash->bytes[i] << (8 * i);
    return key;
}

uint32_t irmin_object_lookup(const struct irmin_repo *repo, const struct irmin_hash *hash)
{
    if (repo->object_index_capacity == 0)
        return IRMIN_NONE;
    uint32_t mask = repo->object_index_capacity - 1;
    for (uint32_t slot = (uint32_t)hash_key(hash) & mask;; slot = (slot + 1) & mask) {
        uint32_t entry = repo->object_index[slot];
        if (entry == 0)
            return IRMIN_NONE;
        if (irmin_hash_equal(&irmin_object_at(repo, entry - 1)->hash, hash))
            return entry - 1;
    }
}

static void index_insert(uint32_t *index, uint32_t capacity, const struct irmin_hash *hash, uint32_t id)
{
    uint32_t mask = capacity - 1;
    uint32_t slot = (uint32_t)hash_key(hash) & mask;
    while (index[slot] != 0)
        slot = (slot + 1) & mask;
    index[slot] = id + 1;
}

/* Appends an object slot with this hash and kind (its data is filled by the caller). */
static struct irmin_object *object_append(struct irmin_repo *repo, const struct irmin_hash *hash, enum irmin_kind kind,
                                          uint32_t *id_out)
{
    if (repo->object_count == IRMIN_NONE - 1)
        irmin_panic("irmin: the store is full (%u objects)", repo->object_count);
    uint32_t id = repo->object_count;
    if ((id & (IRMIN_CHUNK_OBJECTS - 1)) == 0) {
        if (repo->chunk_count == repo->chunk_capacity) {
            uint32_t capacity = repo->chunk_capacity ? 2 * repo->chunk_capacity : 16;
            repo->chunks = irmin_grow(repo, repo->chunks, repo->chunk_capacity, capacity, sizeof *repo->chunks,
                                      "the object chunk table");
            repo->chunk_capacity = capacity;
        }
        repo->chunks[repo->chunk_count++] =
            irmin_alloc(repo, IRMIN_CHUNK_OBJECTS * sizeof(struct irmin_object), "a chunk of objects");
    }
    if (2 * (uint64_t)(id + 1) > repo->object_index_capacity) {
        uint32_t capacity = repo->object_index_capacity ? 2 * repo->object_index_capacity : 1024;
        uint32_t *index = irmin_alloc(repo, capacity * sizeof(uint32_t), "the object hash index");
        irmin_memset(index, 0, capacity * sizeof(uint32_t));
        for (uint32_t other = 0; other < id; other++)
            index_insert(index, capacity, &irmin_object_at(repo, other)->hash, other);
        irmin_free(repo, repo->object_index, repo->object_index_capacity * sizeof(uint32_t));
        repo->object_index = index;
        repo->object_index_capacity = capacity;
    }
    struct irmin_object *object = irmin_object_at(repo, id);
    irmin_memset(object, 0, sizeof *object);
    object->hash = *hash;
    object->kind = (uint8_t)kind;
    index_insert(repo->object_index, repo->object_index_capacity, hash, id);
    repo->object_count++;
    repo->kind_counts[kind]++;
    *id_out = id;
    return object;
}

static const char *kind_name(unsigned kind)
{
    switch (kind) {
    case IRMIN_KIND_CONTENTS:
        return "contents";
    case IRMIN_KIND_NODE:
        return "node";
    case IRMIN_KIND_COMMIT:
        return "commit";
    }
    return "unknown";
}

uint32_t irmin_object_expect(struct irmin_repo *repo, const struct irmin_hash *hash, enum irmin_kind kind,
                             const char *role)
{
    char hex[IRMIN_HASH_HEX_BYTES];
    uint32_t id = irmin_object_lookup(repo, hash);
    if (id == IRMIN_NONE) {
        irmin_hash_to_hex(hash, hex);
        irmin_fail(repo, IRMIN_NOT_FOUND, "%s %.16s... is not in the store", role, hex);
        return IRMIN_NONE;
    }
    struct irmin_object *object = irmin_object_at(repo, id);
    if (object->kind != kind) {
        irmin_hash_to_hex(hash, hex);
        irmin_fail(repo, IRMIN_NOT_FOUND, "%s %.16s... is a %s object, not a %s", role, hex, kind_name(object->kind),
                   kind_name(kind));
        return IRMIN_NONE;
    }
    return id;
}

static void check_kind(const struct irmin_object *object, enum irmin_kind kind)
{
    if (object->kind != kind) {
        char hex[IRMIN_HASH_HEX_BYTES];
        irmin_hash_to_hex(&object->hash, hex);
        irmin_panic("irmin: hash collision or corrupted store: object %.16s... is a %s and a %s", hex,
                    kind_name(object->kind), kind_name(kind));
    }
}

uint32_t irmin_contents_intern(struct irmin_repo *repo, const void *bytes, size_t length,
                               const struct irmin_hash *known_hash)
{
    struct irmin_hash hash;
    if (known_hash != NULL)
        hash = *known_hash;
    else
        irmin_hash_contents(bytes, length, &hash);
    uint32_t id = irmin_object_lookup(repo, &hash);
    if (id != IRMIN_NONE) {
        check_kind(irmin_object_at(repo, id), IRMIN_KIND_CONTENTS);
        return id;
    }
    uint8_t *copy = NULL;
    if (length > 0) {
        copy = irmin_alloc(repo, length, "contents");
        irmin_memcpy(copy, bytes, length);
    }
    struct irmin_object *object = object_append(repo, &hash, IRMIN_KIND_CONTENTS, &id);
    object->length = length;
    object->data.bytes = copy;
    return id;
}

uint32_t irmin_node_intern(struct irmin_repo *repo, struct irmin_stored_entry *entries, uint32_t count,
                           const struct irmin_hash *known_hash)
{
    struct irmin_hash hash;
    if (known_hash != NULL)
        hash = *known_hash;
    else
        irmin_hash_stored_node(repo, entries, count, &hash);
    uint32_t id = irmin_object_lookup(repo, &hash);
    if (id != IRMIN_NONE) {
        check_kind(irmin_object_at(repo, id), IRMIN_KIND_NODE);
        if (count > 0)
            irmin_free(repo, entries, count * sizeof *entries);
        return id;
    }
    struct irmin_object *object = object_append(repo, &hash, IRMIN_KIND_NODE, &id);
    object->count = count;
    object->data.entries = count > 0 ? entries : NULL;
    if (count == 0)
        repo->empty_node = id;
    return id;
}

uint32_t irmin_empty_node(struct irmin_repo *repo)
{
    if (repo->empty_node == IRMIN_NONE)
        irmin_node_intern(repo, NULL, 0, NULL);
    return repo->empty_node;
}

static char *copy_string(struct irmin_repo *repo, const char *text, size_t *length, const char *what)
{
    if (text == NULL)
        text = "";
    *length = irmin_strlen(text);
    char *copy = irmin_alloc(repo, *length + 1, what);
    irmin_memcpy(copy, text, *length + 1);
    return copy;
}

uint32_t irmin_commit_intern(struct irmin_repo *repo, uint32_t node, const uint32_t *parents, uint32_t parent_count,
                             const struct irmin_info *info)
{
    const char *author = info->author ? info->author : "";
    const char *message = info->message ? info->message : "";
    struct irmin_hash parent_hashes_stack[4];
    struct irmin_hash *parent_hashes = parent_hashes_stack;
    if (parent_count > 4)
        parent_hashes = irmin_alloc(repo, parent_count * sizeof(struct irmin_hash), "commit parents");
    for (uint32_t i = 0; i < parent_count; i++)
        parent_hashes[i] = irmin_object_at(repo, parents[i])->hash;

    struct blake2b_state state;
    blake2b_init512(&state);
    struct irmin_sink sink = {.hash = &state};
    irmin_encode_commit(&sink, &irmin_object_at(repo, node)->hash, parent_hashes, parent_count, info->date, author,
                        irmin_strlen(author), message, irmin_strlen(message));
    struct irmin_hash hash;
    blake2b_final(&state, hash.bytes);

    uint32_t id = irmin_object_lookup(repo, &hash);
    if (id != IRMIN_NONE) {
        check_kind(irmin_object_at(repo, id), IRMIN_KIND_COMMIT);
    } else {
        struct irmin_stored_commit *commit = irmin_alloc(repo, sizeof *commit, "a commit");
        commit->node = node;
        commit->parent_count = parent_count;
        commit->parents = NULL;
        commit->parent_hashes = NULL;
        if (parent_count > 0) {
            commit->parents = irmin_alloc(repo, parent_count * sizeof(uint32_t), "commit parents");
            irmin_memcpy(commit->parents, parents, parent_count * sizeof(uint32_t));
            commit->parent_hashes = irmin_alloc(repo, parent_count * sizeof(struct irmin_hash), "commit parents");
            irmin_memcpy(commit->parent_hashes, parent_hashes, parent_count * sizeof(struct irmin_hash));
        }
        commit->date = info->date;
        commit->author = copy_string(repo, author, &commit->author_length, "a commit author");
        commit->message = copy_string(repo, message, &commit->message_length, "a commit message");
        struct irmin_object *object = object_append(repo, &hash, IRMIN_KIND_COMMIT, &id);
        object->data.commit = commit;
    }
    if (parent_hashes != parent_hashes_stack)
        irmin_free(repo, parent_hashes, parent_count * sizeof(struct irmin_hash));
    return id;
}

void irmin_contents_add(struct irmin_repo *repo, const void *bytes, size_t length, struct irmin_hash *hash)
{
    uint32_t id = irmin_contents_intern(repo, bytes, length, NULL);
    if (hash != NULL)
        *hash = irmin_object_at(repo, id)->hash;
}

irmin_status irmin_contents_find(struct irmin_repo *repo, const struct irmin_hash *hash, const uint8_t **bytes,
                                 size_t *length)
{
    uint32_t id = irmin_object_expect(repo, hash, IRMIN_KIND_CONTENTS, "contents");
    if (id == IRMIN_NONE)
        return IRMIN_NOT_FOUND;
    struct irmin_object *object = irmin_object_at(repo, id);
    *bytes = object->length > 0 ? object->data.bytes : (const uint8_t *)"";
    *length = object->length;
    return IRMIN_OK;
}

enum irmin_kind irmin_object_kind(const struct irmin_repo *repo, const struct irmin_hash *hash)
{
    uint32_t id = irmin_object_lookup(repo, hash);
    return id == IRMIN_NONE ? 0 : (enum irmin_kind)irmin_object_at(repo, id)->kind;
}

/* ---- Steps ---- */

static uint32_t fnv1a(const uint8_t *bytes, size_t length)
{
    uint32_t hash = 2166136261u;
    for (size_t i = 0; i < length; i++)
        hash = (hash ^ bytes[i]) * 16777619u;
    return hash;
}

static uint32_t step_find(const struct irmin_repo *repo, const uint8_t *bytes, size_t length, uint32_t hash)
{
    if (repo->step_index_capacity == 0)
        return IRMIN_NONE;
    uint32_t mask = repo->step_index_capacity - 1;
    for (uint32_t slot = hash & mask;; slot = (slot + 1) & mask) {
        uint32_t entry = repo->step_index[slot];
        if (entry == 0)
            return IRMIN_NONE;
        const struct irmin_step *step = &repo->steps[entry - 1];
        if (step->hash == hash && step->length == length && irmin_memcmp(step->bytes, bytes, length) == 0)
            return entry - 1;
    }
}

uint32_t irmin_step_lookup(const struct irmin_repo *repo, const void *bytes, size_t length)
{
    return step_find(repo, bytes, length, fnv1a(bytes, length));
}

uint32_t irmin_step_intern(struct irmin_repo *repo, const void *bytes, size_t length)
{
    if (length == 0 || length > UINT32_MAX)
        irmin_panic("irmin: internal error: interning a step of %zu bytes", length);
    uint32_t hash = fnv1a(bytes, length);
    uint32_t id = step_find(repo, bytes, length, hash);
    if (id != IRMIN_NONE)
        return id;
    if (repo->step_count == repo->step_capacity) {
        uint32_t capacity = repo->step_capacity ? 2 * repo->step_capacity : 256;
        repo->steps = irmin_grow(repo, repo->steps, repo->step_count, capacity, sizeof *repo->steps, "the step table");
        repo->step_capacity = capacity;
    }
    if (2 * (uint64_t)(repo->step_count + 1) > repo->step_index_capacity) {
        uint32_t capacity = repo->step_index_capacity ? 2 * repo->step_index_capacity : 512;
        uint32_t *index = irmin_alloc(repo, capacity * sizeof(uint32_t), "the step index");
        irmin_memset(index, 0, capacity * sizeof(uint32_t));
        for (uint32_t other = 0; other < repo->step_count; other++) {
            uint32_t slot = repo->steps[other].hash & (capacity - 1);
            while (index[slot] != 0)
                slot = (slot + 1) & (capacity - 1);
            index[slot] = other + 1;
        }
        irmin_free(repo, repo->step_index, repo->step_index_capacity * sizeof(uint32_t));
        repo->step_index = index;
        repo->step_index_capacity = capacity;
    }
    id = repo->step_count++;
    struct irmin_step *step = &repo->steps[id];
    step->length = (uint32_t)length;
    step->hash = hash;
    step->bytes = irmin_alloc(repo, length, "a step");
    irmin_memcpy(step->bytes, bytes, length);
    uint32_t mask = repo->step_index_capacity - 1;
    uint32_t slot = hash & mask;
    while (repo->step_index[slot] != 0)
        slot = (slot + 1) & mask;
    repo->step_index[slot] = id + 1;
    return id;
}

int irmin_bytes_compare(const uint8_t *a, size_t a_length, const uint8_t *b, size_t b_length)
{
    size_t common = a_length < b_length ? a_length : b_length;
    int order = irmin_memcmp(a, b, common);
    if (order != 0)
        return order;
    return a_length < b_length ? -1 : a_length > b_length ? 1 : 0;
}

int irmin_step_compare(const struct irmin_repo *repo, uint32_t a, uint32_t b)
{
    if (a == b)
        return 0;
    const struct irmin_step *step_a = &repo->steps[a];
    const struct irmin_step *step_b = &repo->steps[b];
    return irmin_bytes_compare(step_a->bytes, step_a->length, step_b->bytes, step_b->length);
}

int64_t irmin_stored_find(const struct irmin_repo *repo, const struct irmin_object *node, uint32_t step)
{
    int64_t low = 0;
    int64_t high = (int64_t)node->count - 1;
    while (low <= high) {
        int64_t middle = low + (high - low) / 2;
        int order = irmin_step_compare(repo, node->data.entries[middle].step, step);
        if (order == 0)
            return middle;
        if (order < 0)
            low = middle + 1;
        else
            high = middle - 1;
    }
    return -low - 1;
}
