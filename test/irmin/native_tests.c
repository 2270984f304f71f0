/*
 * test/irmin/native_tests.c: unit tests of the store in its native build (run by
 * `native unit`, checked by test/irmin/native.test.ts). Each test prints "ok N name" or
 * "not ok N name: file:line: what".
 */
#include <stdio.h>
#include <string.h>

#include "../../src/libos/irmin/irmin_bench.h"
#include "../../src/libos/irmin/irmin_internal.h"
#include "native_env.h"

struct test_state {
    const char *failure;
    int line;
    char detail[512];
};

#define CHECK(condition)                                                                         \
    do {                                                                                         \
        if (!(condition)) {                                                                      \
            if (t->failure == NULL) {                                                            \
                t->failure = #condition;                                                         \
                t->line = __LINE__;                                                              \
            }                                                                                    \
            return;                                                                              \
        }                                                                                        \
    } while (0)

#define CHECK_OK(call)                                                                           \
    do {                                                                                         \
        irmin_status status_ = (call);                                                           \
        if (status_ != IRMIN_OK) {                                                               \
            t->failure = #call;                                                                  \
            t->line = __LINE__;                                                                  \
            snprintf(t->detail, sizeof t->detail, "%s: %s", irmin_status_name(status_),          \
                     irmin_repo_error(repo));                                                    \
            return;                                                                              \
        }                                                                                        \
    } while (0)

static const struct irmin_info info = {.date = 0, .author = "author", .message = "commit message"};
static const struct irmin_info merge_info = {.date = 1, .author = "merger", .message = "merge"};

/* ---- helpers: trees from "path=value" lists ---- */

static struct irmin_path *P(struct irmin_repo *repo, const char *text)
{
    struct irmin_path *path;
    if (irmin_path_parse(repo, text, &path) != IRMIN_OK)
        irmin_env_abort("test: bad path");
    return path;
}

static void add(struct irmin_tree *tree, const char *path_text, const char *value)
{
    struct irmin_repo *repo = irmin_tree_repo(tree);
    struct irmin_path *path = P(repo, path_text);
    if (irmin_tree_add(tree, path, value, strlen(value)) != IRMIN_OK)
        irmin_env_abort("test: add failed");
    irmin_path_free(repo, path);
}

static void remove_path(struct irmin_tree *tree, const char *path_text)
{
    struct irmin_repo *repo = irmin_tree_repo(tree);
    struct irmin_path *path = P(repo, path_text);
    irmin_tree_remove(tree, path);
    irmin_path_free(repo, path);
}

/* The value at a path as a static string, "<none>" when there is no contents. */
static const char *find(const struct irmin_tree *tree, const char *path_text)
{
    static char buffer[256];
    struct irmin_repo *repo = irmin_tree_repo(tree);
    struct irmin_path *path = P(repo, path_text);
    const uint8_t *value;
    size_t length;
    irmin_status status = irmin_tree_find(tree, path, &value, &length);
    irmin_path_free(repo, path);
    if (status != IRMIN_OK)
        return "<none>";
    snprintf(buffer, sizeof buffer, "%.*s", (int)length, (const char *)value);
    return buffer;
}

static bool mem(const struct irmin_tree *tree, const char *path_text, bool any)
{
    struct irmin_repo *repo = irmin_tree_repo(tree);
    struct irmin_path *path = P(repo, path_text);
    bool found = any ? irmin_tree_mem_tree(tree, path) : irmin_tree_mem(tree, path);
    irmin_path_free(repo, path);
    return found;
}

static void tree_hash(struct irmin_tree *tree, struct irmin_hash *hash)
{
    irmin_tree_hash(tree, hash);
}

static bool same_tree(struct irmin_tree *a, struct irmin_tree *b)
{
    struct irmin_hash ha, hb;
    tree_hash(a, &ha);
    tree_hash(b, &hb);
    return irmin_hash_equal(&ha, &hb);
}

/* Commits `tree` on `branch` at the root; returns the commit. */
static struct irmin_hash commit_on(struct irmin_repo *repo, const char *branch, struct irmin_tree *tree)
{
    struct irmin_path *root = P(repo, "/");
    struct irmin_hash commit;
    if (irmin_set_tree(repo, branch, root, tree, &info, true, &commit) != IRMIN_OK)
        irmin_env_abort("test: set_tree failed");
    irmin_path_free(repo, root);
    return commit;
}

/* Adds path=value on top of the branch's head and commits it. */
static struct irmin_hash commit_add(struct irmin_repo *repo, const char *branch, const char *path, const char *value)
{
    struct irmin_tree *tree;
    irmin_get_tree(repo, branch, &tree);
    add(tree, path, value);
    struct irmin_hash commit = commit_on(repo, branch, tree);
    irmin_tree_free(tree);
    return commit;
}

static struct irmin_hash commit_remove(struct irmin_repo *repo, const char *branch, const char *path)
{
    struct irmin_tree *tree;
    irmin_get_tree(repo, branch, &tree);
    remove_path(tree, path);
    struct irmin_hash commit = commit_on(repo, branch, tree);
    irmin_tree_free(tree);
    return commit;
}

static const char *branch_find(struct irmin_repo *repo, const char *branch, const char *path)
{
    struct irmin_tree *tree;
    irmin_get_tree(repo, branch, &tree);
    const char *value = find(tree, path);
    irmin_tree_free(tree);
    return value;
}

/* ---- BLAKE2b, format, codec ---- */

static void test_blake2b_rfc7693(struct test_state *t)
{
    const char *failure = NULL;
    CHECK(blake2b_selftest(&failure));
    CHECK(failure == NULL);
}

static void test_blake2b_incremental(struct test_state *t)
{
    uint8_t data[600];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 7 + 3);
    for (size_t length = 0; length <= sizeof data; length += (length < 300 ? 1 : 37)) {
        uint8_t one_shot[64], bytewise[64];
        blake2b(one_shot, 64, NULL, 0, data, length);
        struct blake2b_state state;
        blake2b_init512(&state);
        for (size_t i = 0; i < length; i++)
            blake2b_update(&state, data + i, 1);
        blake2b_final(&state, bytewise);
        CHECK(memcmp(one_shot, bytewise, 64) == 0);
    }
}

static void test_blake2b_rejects_bad_lengths(struct test_state *t)
{
    struct blake2b_state state;
    CHECK(!blake2b_init(&state, 0, NULL, 0));
    CHECK(!blake2b_init(&state, 65, NULL, 0));
    uint8_t key[65] = {0};
    CHECK(!blake2b_init(&state, 64, key, 65));
    CHECK(blake2b_init(&state, 1, key, 64));
}

static void test_format(struct test_state *t)
{
    char buffer[64];
    irmin_format(buffer, sizeof buffer, "\rcommits: %4d/%d", 10, 1000);
    CHECK(strcmp(buffer, "\rcommits:   10/1000") == 0);
    irmin_format(buffer, sizeof buffer, "%4d|%-4d|%04d|%d", 12345, 7, -7, -2147483647 - 1);
    CHECK(strcmp(buffer, "12345|7   |-007|-2147483648") == 0);
    irmin_format(buffer, sizeof buffer, "%llu %zu %x %lu", 18446744073709551615ULL, (size_t)42, 0xbeefu, 7ul);
    CHECK(strcmp(buffer, "18446744073709551615 42 beef 7") == 0);
    irmin_format(buffer, sizeof buffer, "%.3s|%.*s|%5s|%c%%", "abcdef", 2, "xyz", "ab", 'q');
    CHECK(strcmp(buffer, "abc|xy|   ab|q%") == 0);
    size_t length = irmin_format(buffer, 5, "%s", "truncated");
    CHECK(length == 4 && strcmp(buffer, "trun") == 0);
}

static void test_uleb128(struct test_state *t)
{
    static const struct {
        uint64_t value;
        const char *bytes;
        size_t length;
    } cases[] = {
        {0, "\x00", 1},
        {1, "\x01", 1},
        {127, "\x7f", 1},
        {128, "\x80\x01", 2},
        {300, "\xac\x02", 2},
        {16384, "\x80\x80\x01", 3},
        {UINT64_MAX, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 10},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t buffer[16];
        struct irmin_sink sink = {.buffer = buffer, .capacity = sizeof buffer};
        irmin_encode_uleb128(&sink, cases[i].value);
        CHECK(sink.length == cases[i].length);
        CHECK(memcmp(buffer, cases[i].bytes, cases[i].length) == 0);
    }
}

static void test_serialization_bytes(struct test_state *t)
{
    /* The contents "ab": 01 02 'a' 'b'. */
    uint8_t buffer[256];
    struct irmin_sink sink = {.buffer = buffer, .capacity = sizeof buffer};
    irmin_encode_contents(&sink, (const uint8_t *)"ab", 2);
    CHECK(sink.length == 4 && memcmp(buffer, "\x01\x02" "ab", 4) == 0);
    /* A commit: 03 | node | 01 | parent | date (LE) | 01 'a' | 00. */
    struct irmin_hash node, parent;
    memset(node.bytes, 0x11, 64);
    memset(parent.bytes, 0x22, 64);
    sink.length = 0;
    irmin_encode_commit(&sink, &node, &parent, 1, -2, "a", 1, "", 0);
    CHECK(sink.length == 1 + 64 + 1 + 64 + 8 + 2 + 1);
    CHECK(buffer[0] == 3 && buffer[1] == 0x11 && buffer[65] == 1 && buffer[66] == 0x22);
    CHECK(memcmp(buffer + 130, "\xfe\xff\xff\xff\xff\xff\xff\xff", 8) == 0);
    CHECK(buffer[138] == 1 && buffer[139] == 'a' && buffer[140] == 0);
}

static void test_hash_hex(struct test_state *t)
{
    struct irmin_hash hash, parsed;
    for (int i = 0; i < 64; i++)
        hash.bytes[i] = (uint8_t)(i * 37);
    char hex[IRMIN_HASH_HEX_BYTES];
    irmin_hash_to_hex(&hash, hex);
    CHECK(strlen(hex) == 128);
    CHECK(irmin_hash_of_hex(hex, &parsed) && irmin_hash_equal(&hash, &parsed));
    hex[5] = 'g';
    CHECK(!irmin_hash_of_hex(hex, &parsed));
    CHECK(!irmin_hash_of_hex("abc", &parsed));
}

/* ---- objects and paths ---- */

static void test_contents_dedup(struct test_state *t)
{
    struct irmin_repo *repo = irmin_repo_create();
    struct irmin_hash a, b, c;
    irmin_contents_add(repo, "hello", 5, &a);
    irmin_contents_add(repo, "hello", 5, &b);
    irmin_contents_add(repo, "", 0, &c);
    struct irmin_repo_stats stats;
    irmin_repo_stats(repo, &stats);
    CHECK(stats.contents == 2 && stats.nodes == 0 && stats.commits == 0);
    CHECK(irmin_hash_equal(&a, &b) && !irmin_hash_equal(&a, &c));
    const uint8_t *bytes;
    size_t length;
    CHECK_OK(irmin_contents_find(repo, &a, &bytes, &length));
    CHECK(length == 5 && memcmp(bytes, "hello", 5) == 0);
    CHECK(irmin_object_kind(repo, &a) == IRMIN_KIND_CONTENTS);
    struct irmin_hash missing;
    memset(missing.bytes, 0xab, 64);
    CHECK(irmin_contents_find(repo, &missing, &bytes, &length) == IRMIN_NOT_FOUND);
    CHECK(strstr(irmin_repo_error(repo), "is not in the store") != NULL);
    CHECK(irmin_object_kind(repo, &missing) == 0);
    irmin_repo_free(repo);
}

static void test_many_objects(struct test_state *t)
{
    /* Crosses several chunk and index growths; every object stays findable. */
    struct irmin_repo *repo = irmin_repo_create();
    struct irmin_hash hashes[5000];
    char text[16];
    for (int i = 0; i < 5000; i++) {
        int length = snprintf(text, sizeof text, "v%d", i);
        irmin_contents_add(repo, text, (size_t)length, &hashes[i]);
    }
    for (int i = 0; i < 5000; i++) {
        const uint8_t *bytes;
        size_t length;
        CHECK_OK(irmin_contents_find(repo, &hashes[i], &bytes, &length));
        snprintf(text, sizeof text, "v%d", i);
        CHECK(length == strlen(text) && memcmp(bytes, text, length) == 0);
    }
    irmin_repo_free(repo);
}

static void test_path_parse(struct test_state *t)
{
    struct irmin_repo *repo = irmin_repo_create();
    struct irmin_path *path;
    CHECK_OK(irmin_path_parse(repo, "a/b/c", &path));
    CHECK(irmin_path_length(path) == 3);
    irmin_path_free(repo, path);
    CHECK_OK(irmin_path_parse(repo, "/a/b/", &path));
    CHECK(irmin_path_length(path) == 2);
    irmin_path_free(repo, path);
    CHECK_OK(irmin_path_parse(repo, "", &path));
    CHECK(irmin_path_length(path) == 0);
    irmin_path_free(repo, path);
    CHECK_OK(irmin_path_parse(repo, "/", &path));
    CHECK(irmin_path_length(path) == 0);
    irmin_path_free(repo, path);
    CHECK(irmin_path_parse(repo, "a//b", &path) == IRMIN_INVALID && path == NULL);
    CHECK(strstr(irmin_repo_error(repo), "empty step") != NULL);
    const char *steps[] = {"x", ""};
    CHECK(irmin_path_make(repo, 2, steps, NULL, &path) == IRMIN_INVALID);
    const char *binary[] = {"a/b", "c\0d"};
    size_t lengths[] = {3, 3};
    CHECK_OK(irmin_path_make(repo, 2, binary, lengths, &path));
    CHECK(irmin_path_length(path) == 2);
    irmin_path_free(repo, path);
    irmin_repo_free(repo);
}

/* ---- trees ---- */

static void test_tree_add_find(struct test_state *t)
{
    struct irmin_repo *repo = irmin_repo_create();
    struct irmin_tree *tree = irmin_tree_empty(repo);
    add(tree, "a/b", "x");
    add(tree, "a/c", "y");
    add(tree, "d", "z");
    CHECK(strcmp(find(tree, "a/b"), "x") == 0);
    CHECK(strcmp(find(tree, "a/c"), "y") == 0);
    CHECK(strcmp(find(tree, "d"), "z") == 0);
    CHECK(strcmp(find(tree, "a"), "<none>") == 0);
    CHECK(strcmp(find(tree, "a/b/c"), "<none>") == 0);
    CHECK(strcmp(find(tree, "q"), "<none>") == 0);
    CHECK(mem(tree, "a/b", false) && !mem(tree, "a", false) && mem(tree, "a", true) && mem(tree, "/", true));
    CHECK(!mem(tree, "a/x", true));
    add(tree, "a/b", "x2");
    CHECK(strcmp(find(tree, "a/b"), "x2") == 0);
    struct irmin_path *root = P(repo, "/");
    CHECK(irmin_tree_add(tree, root, "v", 1) == IRMIN_INVALID);
    CHECK(strstr(irmin_repo_error(repo), "root") != NULL);
    irmin_path_free(repo, root);
    irmin_tree_free(tree);
    irmin_repo_free(repo);
}

static void test_tree_contents_become_node(struct test_state *t)
{
    struct irmin_repo *repo = irmin_repo_create();
    struct irmin_tree *tree = irmin_tree_empty(repo);
    add(tree, "a", "file");
    add(tree, "a/b", "inner");
    CHECK(strcmp(find(tree, "a"), "<none>") == 0);
    CHECK(strcmp(find(tree, "a/b"), "inner") == 0);
    CHECK(!mem(tree, "a", false) && mem(tree, "a", true));
    /* And the other way: contents replace a whole node. */
    add(tree, "a", "file again");
    CHECK(strcmp(find(tree, "a"), "file again") == 0);
    CHECK(!mem(tree, "a/b", true));
    /* The same through a stored tree (lazy loading). */
    struct irmin_tree *other = irmin_tree_empty(repo);
    add(other, "p/q", "1");
    commit_on(repo, "main", other);
    struct irmin_tree *loaded;
    CHECK_OK(irmin_get_tree(repo, "main", &loaded));
    add(loaded, "p/q/r", "2");
    CHECK(strcmp(find(loaded, "p/q/r"), "2") == 0 && !mem(loaded, "p/q", false));
    struct irmin_tree *fresh = irmin_tree_empty(repo);
    add(fresh, "p/q/r", "2");
    CHECK(same_tree(loaded, fresh));
    irmin_tree_free(fresh);
    irmin_tree_free(loaded);
    irmin_tree_free(other);
    irmin_tree_free(tree);
    irmin_repo_free(repo);
}

static void test_tree_remove_prunes(struct test_state *t)
{
    struct irmin_repo *repo = irmin_repo_create();
    struct irmin_tree *tree = irmin_tree_empty(repo);
    struct irmin_tree *empty = irmin_tree_empty(repo);
    add(tree, "a/b/c", "x");
    add(tree, "a/d", "y");
    remove_path(tree, "a/b/c");
    CHECK(!mem(tree, "a/b", true) && mem(tree, "a/d", false));
    remove_path(tree, "a/d");
    CHECK(!mem(tree, "a", true));
    CHECK(same_tree(tree, empty));
    /* Removing a whole subtree, then the root. */
    add(tree, "x/y/z", "1");
    add(tree, "x/w", "2");
    remove_path(tree, "x/y");
    CHECK(mem(tree, "x/w", false) && !mem(tree, "x/y/z", true));
    remove_path(tree, "/");
    CHECK(same_tree(tree, empty));
    irmin_tree_free(empty);
    irmin_tree_free(tree);
    irmin_repo_free(repo);
}

static void test_tree_remove_missing_is_noop(struct test_state *t)
{
    struct irmin_repo *repo = irmin_repo_create();
    struct irmin_tree *tree = irmin_tree_empty(repo);
    add(tree, "a/b", "x");
    struct irmin_hash before, after;
    tree_hash(tree, &before);
    remove_path(tree, "a/c");
    remove_path(tree, "a/b/c");
    remove_path(tree, "z");
    tree_hash(tree, &after);
    CHECK(irmin_hash_equal(&before, &after));
    CHECK(strcmp(find(tree, "a/b"), "x") == 0);
    irmin_tree_free(tree);
    irmin_repo_free(repo);
}

static void test_tree_hash_is_canonical(struct test_state *t)
{
    struct irmin_repo *repo = irmin_repo_create();
    struct irmin_tree *a = irmin_tree_empty(repo);
    struct irmin_tree *b = irmin_tree_empty(repo);
    add(a, "10", "x");
    add(a, "2", "y");
    add(a, "1/z", "w");
    add(b, "1/z", "w");
    add(b, "2", "y");
    add(b, "tmp", "t");
    add(b, "10", "x");
    remove_path(b, "tmp");
    CHECK(same_tree(a, b));
    add(b, "2", "changed");
    CHECK(!same_tree(a, b));
    irmin_tree_free(a);
    irmin_tree_free(b);
    irmin_repo_free(repo);
}

struct collected {
    char text[1024];
    size_t used;
};

static int collect_list(void *context, const uint8_t *step, size_t step_length, enum irmin_kind kind)
{
    struct collected *out = context;
    out->used += (size_t)snprintf(out->text + out->used, sizeof out->text - out->used, "%s%.*s:%c",
                                  out->used ? "," : "", (int)step_length, (const char *)step,
                                  kind == IRMIN_KIND_NODE ? 'n' : 'c');
    return 0;
}

static void test_tree_list(struct test_state *t)
{
    struct irmin_repo *repo = irmin_repo_create();
    struct irmin_tree *tree = irmin_tree_empty(repo);
    add(tree, "2", "y");
    add(tree, "10", "x");
    add(tree, "1/z", "w");
    struct irmin_path *root = P(repo, "/");
    struct collected out = {.used = 0};
    CHECK_OK(irmin_tree_list(tree, root, collect_list, &out));
    CHECK(strcmp(out.text, "1:n,10:c,2:c") == 0);
    /* The same listing from the stored tree. */
    commit_on(repo, "main", tree);
    struct irmin_tree *stored;
    irmin_get_tree(repo, "main", &stored);
    struct collected again = {.used = 0};
    CHECK_OK(irmin_tree_list(stored, root, collect_list, &again));
    CHECK(strcmp(again.text, out.text) == 0);
    struct irmin_path *file = P(repo, "2");
    CHECK(irmin_tree_list(stored, file, collect_list, &again) == IRMIN_NOT_FOUND);
    irmin_path_free(repo, file);
    irmin_path_free(repo, root);
    irmin_tree_free(stored);
    irmin_tree_free(tree);
    irmin_repo_free(repo);
}

static int fold_node(void *context, const struct irmin_step_view *path, size_t depth)
{
    struct collected *out = context;
    out->used += (size_t)snprintf(out->text + out->used, sizeof out->text - out->used, " [");
    for (size_t i = 0; i < depth; i++)
        out->used += (size_t)snprintf(out->text + out->used, sizeof out->text - out->used, "%s%.*s", i ? "/" : "",
                                      (int)path[i].length, (const char *)path[i].bytes);
    out->used += (size_t)snprintf(out->text + out->used, sizeof out->text - out->used, "]");
    return 0;
}

static int fold_contents(void *context, const struct irmin_step_view *path, size_t depth, const uint8_t *value,
                         size_t length)
{
    struct collected *out = context;
    out->used += (size_t)snprintf(out->text + out->used, sizeof out->text - out->used, " ");
    for (size_t i = 0; i < depth; i++)
        out->used += (size_t)snprintf(out->text + out->used, sizeof out->text - out->used, "%s%.*s", i ? "/" : "",
                                      (int)path[i].length, (const char *)path[i].bytes);
    out->used += (size_t)snprintf(out->text + out->used, sizeof out->text - out->used, "=%.*s", (int)length,
                                  (const char *)value);
    return 0;
}

static int fold_stop_after_two(void *context, const struct irmin_step_view *path, size_t depth,
                               const uint8_t *value, size_t length)
{
    (void)path, (void)depth, (void)value, (void)length;
    int *count = context;
    return ++*count == 2;
}

static void test_tree_fold(struct test_state *t)
{
    struct irmin_repo *repo = irmin_repo_create();
    struct irmin_tree *tree = irmin_tree_empty(repo);
    add(tree, "b/y", "2");
    add(tree, "a", "1");
    add(tree, "b/x/deep", "3");
    struct irmin_path *root = P(repo, "/");
    struct irmin_fold_visitor visitor = {.node = fold_node, .contents = fold_contents};
    struct collected out = {.used = 0};
    CHECK_OK(irmin_tree_fold(tree, root, &visitor, &out));
    CHECK(strcmp(out.text, " [] a=1 [b] [b/x] b/x/deep=3 b/y=2") == 0);
    /* From a stored tree and from a subpath. */
    commit_on(repo, "main", tree);
    struct irmin_tree *stored;
    irmin_get_tree(repo, "main", &stored);
    struct collected again = {.used = 0};
    CHECK_OK(irmin_tree_fold(stored, root, &visitor, &again));
    CHECK(strcmp(again.text, out.text) == 0);
    struct irmin_path *b = P(repo, "b");
    struct collected sub = {.used = 0};
    CHECK_OK(irmin_tree_fold(stored, b, &visitor, &sub));
    CHECK(strcmp(sub.text, " [] [x] x/deep=3 y=2") == 0);
    int count = 0;
    struct irmin_fold_visitor stopper = {.contents = fold_stop_after_two};
    CHECK_OK(irmin_tree_fold(stored, root, &stopper, &count));
    CHECK(count == 2);
    irmin_path_free(repo, b);
    irmin_path_free(repo, root);
    irmin_tree_free(stored);
    irmin_tree_free(tree);
    irmin_repo_free(repo);
}

static void test_tree_lazy_and_clear(struct test_state *t)
{
    struct irmin_repo *repo = irmin_repo_create();
    struct irmin_tree *tree = irmin_tree_empty(repo);
    char path[64];
    for (int d = 0; d < 6; d++)
        for (int k = 0; k < 20; k++) {
            snprintf(path, sizeof path, "%d/%d/f%d", d, d + 1, k);
            add(tree, path, "v");
        }
    commit_on(repo, "main", tree);
    irmin_tree_free(tree);

    struct irmin_repo_stats before, loaded, cleared;
    irmin_get_tree(repo, "main", &tree);
    irmin_repo_stats(repo, &before);
    add(tree, "3/4/f7", "changed");
    irmin_repo_stats(repo, &loaded);
    CHECK(loaded.heap_bytes > before.heap_bytes); /* the path's nodes were loaded */
    struct irmin_hash changed;
    tree_hash(tree, &changed);
    irmin_tree_clear(tree); /* changed nodes stay, their caches go */
    struct irmin_hash again;
    tree_hash(tree, &again);
    CHECK(irmin_hash_equal(&changed, &again));
    CHECK(strcmp(find(tree, "3/4/f7"), "changed") == 0 && strcmp(find(tree, "2/3/f7"), "v") == 0);
    commit_on(repo, "main", tree);
    irmin_tree_clear(tree); /* now everything is stored: back to one reference */
    irmin_repo_stats(repo, &cleared);
    CHECK(cleared.heap_bytes < loaded.heap_bytes + 4096);
    tree_hash(tree, &again);
    CHECK(irmin_hash_equal(&changed, &again));
    CHECK(strcmp(find(tree, "3/4/f7"), "changed") == 0);
    irmin_tree_free(tree);
    irmin_repo_free(repo);
}

static void test_tree_copy_is_independent(struct test_state *t)
{
    struct irmin_repo *repo = irmin_repo_create();
    struct irmin_tree *tree = irmin_tree_empty(repo);
    add(tree, "a/b", "1");
    struct irmin_tree *copy = irmin_tree_copy(tree);
    add(copy, "a/b", "2");
    add(tree, "a/c", "3");
    CHECK(strcmp(find(tree, "a/b"), "1") == 0 && strcmp(find(copy, "a/b"), "2") == 0);
    CHECK(!mem(copy, "a/c", true));
    irmin_tree_free(copy);
    irmin_tree_free(tree);
    irmin_repo_free(repo);
}

static void test_tree_add_tree_find_tree(struct test_state *t)
{
    struct irmin_repo *repo = irmin_repo_create();
    struct irmin_tree *tree = irmin_tree_empty(repo);
    struct irmin_tree *sub = irmin_tree_empty(repo);
    add(sub, "x", "1");
    add(sub, "y/z", "2");
    struct irmin_path *at = P(repo, "mount/here");
    CHECK_OK(irmin_tree_add_tree(tree, at, sub));
    CHECK(strcmp(find(tree, "mount/here/y/z"), "2") == 0);
    struct irmin_tree *found;
    CHECK_OK(irmin_tree_find_tree(tree, at, &found));
    CHECK(same_tree(found, sub));
    irmin_tree_free(found);
    struct irmin_path *file = P(repo, "mount/here/x");
    CHECK(irmin_tree_find_tree(tree, file, &found) == IRMIN_NOT_FOUND && found == NULL);
    /* add_tree of the empty tree removes the path. */
    struct irmin_tree *empty = irmin_tree_empty(repo);
    CHECK_OK(irmin_tree_add_tree(tree, at, empty));
    CHECK(!mem(tree, "mount", true));
    /* A tree added into itself is copied first. */
    add(tree, "k", "v");
    struct irmin_path *self = P(repo, "k2");
    CHECK_OK(irmin_tree_add_tree(tree, self, tree));
    CHECK(strcmp(find(tree, "k2/k"), "v") == 0 && !mem(tree, "k2/k2", true));
    irmin_path_free(repo, self);
    irmin_path_free(repo, file);
    irmin_path_free(repo, at);
    irmin_tree_free(found);
    irmin_tree_free(empty);
    irmin_tree_free(sub);
    irmin_tree_free(tree);
    irmin_repo_free(repo);
}

/* ---- branches ---- */

static int collect_branch(void *context, const char *name, const struct irmin_hash *commit)
{
    (void)commit;
    struct collected *out = context;
    out->used += (size_t)snprintf(out->text + out->used, sizeof out->text - out->used, "%s%s", out->used ? "," : "",
                                  name);
    return 0;
}

static void test_branches(struct test_state *t)
{
    struct irmin_repo *repo = irmin_repo_create();
    struct irmin_tree *tree = irmin_tree_empty(repo);
    add(tree, "f", "1");
    struct irmin_hash c1 = commit_on(repo, "main", tree);
    add(tree, "f", "2");
    struct irmin_hash c2 = commit_on(repo, "main", tree);
    CHECK_OK(irmin_branch_set(repo, "zeta", &c1));
    CHECK_OK(irmin_branch_set(repo, "dev/feature-1.x_y", &c1));
    struct collected names = {.used = 0};
    irmin_branch_list(repo, collect_branch, &names);
    CHECK(strcmp(names.text, "dev/feature-1.x_y,main,zeta") == 0);
    struct irmin_hash head;
    CHECK_OK(irmin_branch_find(repo, "main", &head));
    CHECK(irmin_hash_equal(&head, &c2));
    /* test_and_set: succeeds only from the expected value. */
    CHECK(irmin_branch_test_and_set(repo, "main", &c1, &c1) == IRMIN_CHANGED);
    CHECK(strstr(irmin_repo_error(repo), "not at the expected commit") != NULL);
    CHECK_OK(irmin_branch_test_and_set(repo, "main", &c2, &c1));
    CHECK_OK(irmin_branch_find(repo, "main", &head));
    CHECK(irmin_hash_equal(&head, &c1));
    CHECK(irmin_branch_test_and_set(repo, "new", &c1, &c2) == IRMIN_CHANGED);
    CHECK_OK(irmin_branch_test_and_set(repo, "new", NULL, &c2));
    CHECK(irmin_branch_test_and_set(repo, "new", NULL, &c2) == IRMIN_CHANGED);
    CHECK_OK(irmin_branch_test_and_set(repo, "new", &c2, NULL));
    CHECK(irmin_branch_find(repo, "new", &head) == IRMIN_NOT_FOUND);
    CHECK_OK(irmin_branch_remove(repo, "zeta"));
    CHECK(irmin_branch_remove(repo, "zeta") == IRMIN_NOT_FOUND);
    /* Validation. */
    CHECK(irmin_branch_set(repo, "bad name", &c1) == IRMIN_INVALID);
    CHECK(strstr(irmin_repo_error(repo), "0x20") != NULL);
    CHECK(irmin_branch_set(repo, "", &c1) == IRMIN_INVALID);
    struct irmin_hash node;
    irmin_tree_hash(tree, &node);
    CHECK(irmin_branch_set(repo, "x", &node) == IRMIN_NOT_FOUND);
    CHECK(strstr(irmin_repo_error(repo), "node object, not a commit") != NULL);
    irmin_tree_free(tree);
    irmin_repo_free(repo);
}

/* ---- store ---- */

struct history_out {
    struct irmin_hash commits[16];
    size_t distances[16];
    size_t count;
};

static int collect_history(void *context, const struct irmin_hash *commit, size_t distance)
{
    struct history_out *out = context;
    if (out->count < 16) {
        out->commits[out->count] = *commit;
        out->distances[out->count] = distance;
    }
    out->count++;
    return 0;
}

static void test_store_commits_and_history(struct test_state *t)
{
    struct irmin_repo *repo = irmin_repo_create();
    struct irmin_tree *missing;
    CHECK_OK(irmin_get_tree(repo, "main", &missing)); /* no branch: the empty tree */
    struct irmin_tree *empty = irmin_tree_empty(repo);
    CHECK(same_tree(missing, empty));
    irmin_tree_free(missing);
    irmin_tree_free(empty);

    struct irmin_hash c1 = commit_add(repo, "main", "a", "1");
    struct irmin_hash c2 = commit_add(repo, "main", "b", "2");
    struct irmin_hash c3 = commit_add(repo, "main", "a", "3");
    struct irmin_commit_view view;
    CHECK_OK(irmin_commit_read(repo, &c3, &view));
    CHECK(view.parent_count == 1 && irmin_hash_equal(&view.parents[0], &c2));
    CHECK(view.date == 0 && strcmp(view.author, "author") == 0 && strcmp(view.message, "commit message") == 0);
    CHECK_OK(irmin_commit_read(repo, &c1, &view));
    CHECK(view.parent_count == 0);
    CHECK(strcmp(branch_find(repo, "main", "a"), "3") == 0 && strcmp(branch_find(repo, "main", "b"), "2") == 0);
    struct irmin_tree *old;
    CHECK_OK(irmin_commit_tree(repo, &c1, &old));
    CHECK(strcmp(find(old, "a"), "1") == 0 && !mem(old, "b", true));
    irmin_tree_free(old);

    struct history_out history = {.count = 0};
    CHECK_OK(irmin_history(repo, &c3, SIZE_MAX, collect_history, &history));
    CHECK(history.count == 3);
    CHECK(irmin_hash_equal(&history.commits[0], &c3) && irmin_hash_equal(&history.commits[2], &c1));
    CHECK(history.distances[0] == 0 && history.distances[2] == 2);
    history.count = 0;
    CHECK_OK(irmin_history(repo, &c3, 1, collect_history, &history));
    CHECK(history.count == 2);
    bool is_ancestor;
    CHECK_OK(irmin_is_ancestor(repo, &c1, &c3, &is_ancestor));
    CHECK(is_ancestor);
    CHECK_OK(irmin_is_ancestor(repo, &c3, &c1, &is_ancestor));
    CHECK(!is_ancestor);

    /* set_tree with an unchanged tree commits nothing unless allow_empty. */
    struct irmin_tree *tree;
    irmin_get_tree(repo, "main", &tree);
    struct irmin_path *root = P(repo, "/");
    struct irmin_hash same, forced;
    CHECK_OK(irmin_set_tree(repo, "main", root, tree, &info, false, &same));
    CHECK(irmin_hash_equal(&same, &c3));
    CHECK_OK(irmin_set_tree(repo, "main", root, tree, &info, true, &forced));
    CHECK(!irmin_hash_equal(&forced, &c3));
    CHECK_OK(irmin_commit_read(repo, &forced, &view));
    CHECK(view.parent_count == 1 && irmin_hash_equal(&view.parents[0], &c3));
    irmin_path_free(repo, root);
    irmin_tree_free(tree);

    /* set_tree below the root keeps the rest of the head's tree. */
    struct irmin_tree *sub = irmin_tree_empty(repo);
    add(sub, "leaf", "L");
    struct irmin_path *at = P(repo, "dir/sub");
    CHECK_OK(irmin_set_tree(repo, "main", at, sub, &info, false, NULL));
    CHECK(strcmp(branch_find(repo, "main", "dir/sub/leaf"), "L") == 0);
    CHECK(strcmp(branch_find(repo, "main", "a"), "3") == 0);
    irmin_path_free(repo, at);
    irmin_tree_free(sub);

    /* Commits with explicit parents: sorted and deduplicated. */
    struct irmin_tree *any = irmin_tree_empty(repo);
    struct irmin_hash parents[3] = {c2, c1, c2};
    struct irmin_hash multi;
    CHECK_OK(irmin_commit_create(repo, any, parents, 3, &info, &multi));
    CHECK_OK(irmin_commit_read(repo, &multi, &view));
    CHECK(view.parent_count == 2);
    CHECK(memcmp(view.parents[0].bytes, view.parents[1].bytes, 64) < 0);
    struct irmin_hash bogus;
    memset(bogus.bytes, 7, 64);
    CHECK(irmin_commit_create(repo, any, &bogus, 1, &info, &multi) == IRMIN_NOT_FOUND);
    CHECK(strstr(irmin_repo_error(repo), "parent commit") != NULL);
    irmin_tree_free(any);
    irmin_repo_free(repo);
}

static void test_lcas(struct test_state *t)
{
    struct irmin_repo *repo = irmin_repo_create();
    struct irmin_hash base = commit_add(repo, "main", "f", "0");
    irmin_branch_set(repo, "dev", &base);
    struct irmin_hash m1 = commit_add(repo, "main", "m", "1");
    struct irmin_hash d1 = commit_add(repo, "dev", "d", "1");
    struct irmin_hash found[4];
    size_t count;
    CHECK_OK(irmin_lcas(repo, &m1, &d1, found, 4, &count));
    CHECK(count == 1 && irmin_hash_equal(&found[0], &base));
    CHECK_OK(irmin_lcas(repo, &base, &m1, found, 4, &count));
    CHECK(count == 1 && irmin_hash_equal(&found[0], &base));
    /* Criss-cross: each side merges the other's tip; the new tips have two LCAs (m1, d1). */
    struct irmin_tree *tree;
    struct irmin_hash x1, x2;
    CHECK_OK(irmin_merge_commits(repo, &m1, &d1, &merge_info, &x1));
    irmin_commit_tree(repo, &x1, &tree);
    add(tree, "side", "main");
    struct irmin_hash parents_a[2] = {m1, d1};
    CHECK_OK(irmin_commit_create(repo, tree, parents_a, 2, &info, &x1));
    irmin_tree_free(tree);
    irmin_commit_tree(repo, &d1, &tree);
    add(tree, "m", "1");
    add(tree, "other", "dev");
    CHECK_OK(irmin_commit_create(repo, tree, parents_a, 2, &merge_info, &x2));
    irmin_tree_free(tree);
    CHECK_OK(irmin_lcas(repo, &x1, &x2, found, 4, &count));
    CHECK(count == 2);
    CHECK(memcmp(found[0].bytes, found[1].bytes, 64) < 0);
    CHECK((irmin_hash_equal(&found[0], &m1) && irmin_hash_equal(&found[1], &d1)) ||
          (irmin_hash_equal(&found[0], &d1) && irmin_hash_equal(&found[1], &m1)));
    /* Unrelated histories have no common ancestor. */
    struct irmin_hash lone = commit_add(repo, "lone", "z", "z");
    CHECK_OK(irmin_lcas(repo, &lone, &m1, found, 4, &count));
    CHECK(count == 0);
    irmin_repo_free(repo);
}

static void test_merge_clean(struct test_state *t)
{
    struct irmin_repo *repo = irmin_repo_create();
    commit_add(repo, "main", "shared/a", "0");
    struct irmin_hash base = commit_add(repo, "main", "shared/b", "0");
    irmin_branch_set(repo, "dev", &base);
    commit_add(repo, "main", "shared/a", "main");
    struct irmin_hash m = commit_add(repo, "main", "only-main", "m");
    commit_add(repo, "dev", "shared/b", "dev");
    struct irmin_hash d = commit_add(repo, "dev", "only-dev/x", "d");
    struct irmin_hash merged;
    CHECK_OK(irmin_merge_into_branch(repo, "main", &d, &merge_info, &merged));
    CHECK(strcmp(branch_find(repo, "main", "shared/a"), "main") == 0);
    CHECK(strcmp(branch_find(repo, "main", "shared/b"), "dev") == 0);
    CHECK(strcmp(branch_find(repo, "main", "only-main"), "m") == 0);
    CHECK(strcmp(branch_find(repo, "main", "only-dev/x"), "d") == 0);
    struct irmin_commit_view view;
    CHECK_OK(irmin_commit_read(repo, &merged, &view));
    CHECK(view.parent_count == 2 && strcmp(view.author, "merger") == 0);
    CHECK((irmin_hash_equal(&view.parents[0], &m) && irmin_hash_equal(&view.parents[1], &d)) ||
          (irmin_hash_equal(&view.parents[0], &d) && irmin_hash_equal(&view.parents[1], &m)));
    CHECK(memcmp(view.parents[0].bytes, view.parents[1].bytes, 64) < 0);
    /* Merging is symmetric in content. */
    struct irmin_hash other;
    CHECK_OK(irmin_merge_commits(repo, &d, &m, &merge_info, &other));
    CHECK(irmin_hash_equal(&other, &merged));
    irmin_repo_free(repo);
}

static void test_merge_fast_forward_and_same(struct test_state *t)
{
    struct irmin_repo *repo = irmin_repo_create();
    struct irmin_hash c1 = commit_add(repo, "main", "a", "1");
    struct irmin_hash c2 = commit_add(repo, "main", "a", "2");
    struct irmin_hash merged;
    CHECK_OK(irmin_merge_commits(repo, &c1, &c2, &merge_info, &merged));
    CHECK(irmin_hash_equal(&merged, &c2));
    CHECK_OK(irmin_merge_commits(repo, &c2, &c1, &merge_info, &merged));
    CHECK(irmin_hash_equal(&merged, &c2));
    CHECK_OK(irmin_merge_commits(repo, &c2, &c2, &merge_info, &merged));
    CHECK(irmin_hash_equal(&merged, &c2));
    /* Into a branch that is behind: the branch fast-forwards. */
    irmin_branch_set(repo, "old", &c1);
    CHECK_OK(irmin_merge_into_branch(repo, "old", &c2, &merge_info, &merged));
    struct irmin_hash head;
    irmin_branch_find(repo, "old", &head);
    CHECK(irmin_hash_equal(&head, &c2));
    /* Into a missing branch: it is created. */
    CHECK_OK(irmin_merge_into_branch(repo, "fresh", &c1, &merge_info, &merged));
    irmin_branch_find(repo, "fresh", &head);
    CHECK(irmin_hash_equal(&head, &c1));
    irmin_repo_free(repo);
}

static void test_merge_conflicts(struct test_state *t)
{
    struct irmin_repo *repo = irmin_repo_create();
    commit_add(repo, "main", "dir/file", "base");
    struct irmin_hash base = commit_add(repo, "main", "dir/gone", "g");
    irmin_branch_set(repo, "dev", &base);
    struct irmin_hash m = commit_add(repo, "main", "dir/file", "main");
    struct irmin_hash d = commit_add(repo, "dev", "dir/file", "dev");
    struct irmin_hash merged;
    CHECK(irmin_merge_into_branch(repo, "main", &d, &merge_info, &merged) == IRMIN_CONFLICT);
    CHECK(strstr(irmin_repo_error(repo), "merge conflict at dir/file") != NULL);
    CHECK(strstr(irmin_repo_error(repo), "both sides changed the contents") != NULL);
    struct irmin_hash head;
    irmin_branch_find(repo, "main", &head);
    CHECK(irmin_hash_equal(&head, &m)); /* the branch did not move */

    /* Removed on one side, changed on the other. */
    irmin_branch_set(repo, "r1", &base);
    irmin_branch_set(repo, "r2", &base);
    commit_remove(repo, "r1", "dir/gone");
    struct irmin_hash r2 = commit_add(repo, "r2", "dir/gone", "changed");
    CHECK(irmin_merge_into_branch(repo, "r1", &r2, &merge_info, &merged) == IRMIN_CONFLICT);
    CHECK(strstr(irmin_repo_error(repo), "at dir/gone: one side removed it") != NULL);

    /* Contents on one side, a node on the other. */
    irmin_branch_set(repo, "k1", &base);
    irmin_branch_set(repo, "k2", &base);
    commit_add(repo, "k1", "new", "file");
    struct irmin_hash k2 = commit_add(repo, "k2", "new/inner", "node");
    CHECK(irmin_merge_into_branch(repo, "k1", &k2, &merge_info, &merged) == IRMIN_CONFLICT);
    CHECK(strstr(irmin_repo_error(repo), "at new: contents on one side, a node on the other") != NULL);

    /* Both added different contents at the same new path. */
    irmin_branch_set(repo, "a1", &base);
    irmin_branch_set(repo, "a2", &base);
    commit_add(repo, "a1", "dir/added", "one");
    struct irmin_hash a2 = commit_add(repo, "a2", "dir/added", "two");
    CHECK(irmin_merge_into_branch(repo, "a1", &a2, &merge_info, &merged) == IRMIN_CONFLICT);
    CHECK(strstr(irmin_repo_error(repo), "at dir/added: both sides added different contents") != NULL);
    (void)d;
    irmin_repo_free(repo);
}

static void test_merge_same_change_and_removals(struct test_state *t)
{
    struct irmin_repo *repo = irmin_repo_create();
    commit_add(repo, "main", "x/keep", "k");
    commit_add(repo, "main", "y/only", "o");
    struct irmin_hash base = commit_add(repo, "main", "z", "z");
    irmin_branch_set(repo, "dev", &base);
    /* Both make the same change: no conflict. */
    commit_add(repo, "main", "z", "same");
    commit_add(repo, "dev", "z", "same");
    /* One side removes y/only (and so y); the other leaves y alone. */
    commit_remove(repo, "main", "y/only");
    /* Both remove x/keep. */
    commit_remove(repo, "main", "x/keep");
    struct irmin_hash d = commit_remove(repo, "dev", "x/keep");
    struct irmin_hash merged;
    CHECK_OK(irmin_merge_into_branch(repo, "main", &d, &merge_info, &merged));
    CHECK(strcmp(branch_find(repo, "main", "z"), "same") == 0);
    struct irmin_tree *tree;
    irmin_get_tree(repo, "main", &tree);
    CHECK(!mem(tree, "y", true) && !mem(tree, "x", true));
    irmin_tree_free(tree);
    /* A side that empties a directory the other changed below: the merge keeps the change. */
    irmin_branch_set(repo, "p1", &base);
    irmin_branch_set(repo, "p2", &base);
    commit_remove(repo, "p1", "x/keep");
    struct irmin_hash p2 = commit_add(repo, "p2", "x/new", "n");
    CHECK_OK(irmin_merge_into_branch(repo, "p1", &p2, &merge_info, &merged));
    irmin_get_tree(repo, "p1", &tree);
    CHECK(!mem(tree, "x/keep", true) && strcmp(find(tree, "x/new"), "n") == 0);
    irmin_tree_free(tree);
    irmin_repo_free(repo);
}

static void test_merge_criss_cross(struct test_state *t)
{
    struct irmin_repo *repo = irmin_repo_create();
    struct irmin_hash base = commit_add(repo, "main", "f", "0");
    irmin_branch_set(repo, "dev", &base);
    struct irmin_hash m1 = commit_add(repo, "main", "m", "1");
    struct irmin_hash d1 = commit_add(repo, "dev", "d", "1");
    /* main merges dev and dev merges main (old tips): two LCAs m1 and d1. */
    struct irmin_hash merged;
    CHECK_OK(irmin_merge_into_branch(repo, "main", &d1, &merge_info, &merged));
    struct irmin_info other_info = {.date = 2, .author = "other", .message = "other merge"};
    CHECK_OK(irmin_merge_into_branch(repo, "dev", &m1, &other_info, &merged));
    commit_add(repo, "main", "m", "2");
    struct irmin_hash d2 = commit_add(repo, "dev", "d", "2");
    CHECK_OK(irmin_merge_into_branch(repo, "main", &d2, &merge_info, &merged));
    CHECK(strcmp(branch_find(repo, "main", "m"), "2") == 0 && strcmp(branch_find(repo, "main", "d"), "2") == 0);
    CHECK(strcmp(branch_find(repo, "main", "f"), "0") == 0);
    irmin_repo_free(repo);
}

static void test_merge_criss_cross_conflicting_ancestors(struct test_state *t)
{
    /*
     * m1 and d1 conflict on f. Two hand-made merge commits x1 and x2 (both with parents m1 and
     * d1, resolving f differently) then have two LCAs whose virtual base cannot be built.
     */
    struct irmin_repo *repo = irmin_repo_create();
    struct irmin_hash base = commit_add(repo, "main", "f", "0");
    irmin_branch_set(repo, "dev", &base);
    struct irmin_hash m1 = commit_add(repo, "main", "f", "main");
    struct irmin_hash d1 = commit_add(repo, "dev", "f", "dev");
    struct irmin_hash parents[2] = {m1, d1};
    struct irmin_tree *tree = irmin_tree_empty(repo);
    add(tree, "f", "resolved one way");
    struct irmin_hash x1, x2, merged;
    CHECK_OK(irmin_commit_create(repo, tree, parents, 2, &info, &x1));
    add(tree, "g", "more");
    CHECK_OK(irmin_commit_create(repo, tree, parents, 2, &info, &x2));
    irmin_tree_free(tree);
    CHECK(irmin_merge_commits(repo, &x1, &x2, &merge_info, &merged) == IRMIN_CONFLICT);
    CHECK(strstr(irmin_repo_error(repo), "the 2 lowest common ancestors do not merge cleanly: merge conflict at f") !=
          NULL);
    irmin_repo_free(repo);
}

static void test_merge_unrelated(struct test_state *t)
{
    struct irmin_repo *repo = irmin_repo_create();
    struct irmin_hash a = commit_add(repo, "a", "left", "l");
    struct irmin_hash b = commit_add(repo, "b", "right", "r");
    struct irmin_hash merged;
    CHECK_OK(irmin_merge_commits(repo, &a, &b, &merge_info, &merged));
    struct irmin_tree *tree;
    irmin_commit_tree(repo, &merged, &tree);
    CHECK(strcmp(find(tree, "left"), "l") == 0 && strcmp(find(tree, "right"), "r") == 0);
    irmin_tree_free(tree);
    struct irmin_hash c = commit_add(repo, "c", "left", "other");
    CHECK(irmin_merge_commits(repo, &a, &c, &merge_info, &merged) == IRMIN_CONFLICT);
    CHECK(strstr(irmin_repo_error(repo), "at left: both sides added") != NULL);
    irmin_repo_free(repo);
}

static void test_tree_merge(struct test_state *t)
{
    struct irmin_repo *repo = irmin_repo_create();
    struct irmin_tree *base = irmin_tree_empty(repo);
    add(base, "a", "1");
    add(base, "b/c", "2");
    struct irmin_tree *ours = irmin_tree_copy(base);
    struct irmin_tree *theirs = irmin_tree_copy(base);
    add(ours, "a", "ours");
    add(theirs, "b/d", "theirs");
    struct irmin_tree *merged;
    CHECK_OK(irmin_tree_merge(base, ours, theirs, &merged));
    CHECK(strcmp(find(merged, "a"), "ours") == 0 && strcmp(find(merged, "b/d"), "theirs") == 0);
    CHECK(strcmp(find(merged, "b/c"), "2") == 0);
    irmin_tree_free(merged);
    add(theirs, "a", "theirs");
    CHECK(irmin_tree_merge(base, ours, theirs, &merged) == IRMIN_CONFLICT && merged == NULL);
    irmin_tree_free(base);
    irmin_tree_free(ours);
    irmin_tree_free(theirs);
    irmin_repo_free(repo);
}

/* ---- memory and the bench ---- */

static void test_memory_is_returned(struct test_state *t)
{
    uint64_t before = native_env_bytes_in_use();
    struct irmin_repo *repo = irmin_repo_create();
    struct irmin_repo_stats empty_stats;
    irmin_repo_stats(repo, &empty_stats);
    struct irmin_tree *tree = irmin_tree_empty(repo);
    add(tree, "a/b/c", "1");
    struct irmin_tree *copy = irmin_tree_copy(tree);
    commit_on(repo, "main", tree);
    irmin_tree_clear(tree);
    irmin_tree_free(copy);
    irmin_tree_free(tree);
    struct irmin_repo_stats stats;
    irmin_repo_stats(repo, &stats);
    CHECK(stats.heap_bytes > empty_stats.heap_bytes); /* the objects */
    CHECK(native_env_bytes_in_use() - before == stats.heap_bytes);
    irmin_repo_free(repo);
    CHECK(native_env_bytes_in_use() == before);
}

static void discard_output(void *context, const char *text, size_t length)
{
    struct collected *out = context;
    size_t room = sizeof out->text - 1 - out->used;
    size_t take = length < room ? length : room;
    memcpy(out->text + out->used, text, take);
    out->used += take;
    out->text[out->used] = '\0';
}

static void test_bench_small(struct test_state *t)
{
    struct irmin_bench_config config;
    irmin_bench_defaults(&config);
    CHECK(config.ncommits == 1000 && config.depth == 16 && config.tree_add == 150 && config.display == 10 &&
          config.clear && config.gc == 100);
    const char *error;
    CHECK(irmin_bench_set(&config, "commits=7", &error) && irmin_bench_set(&config, "depth=3", &error));
    CHECK(irmin_bench_set(&config, "tree_add=5", &error) && irmin_bench_set(&config, "display=2", &error));
    CHECK(irmin_bench_set(&config, "gc=3", &error) && irmin_bench_set(&config, "clear=false", &error));
    CHECK(!irmin_bench_set(&config, "colour=blue", &error) && strstr(error, "unknown key") != NULL);
    CHECK(!irmin_bench_set(&config, "depth=-1", &error));
    CHECK(!irmin_bench_set(&config, "depth", &error));
    CHECK(config.ncommits == 7 && config.depth == 3 && !config.clear);
    struct collected out = {.used = 0};
    struct irmin_bench_io io = {.print = discard_output, .context = &out};
    struct irmin_bench_result with_clear, without_clear;
    CHECK(irmin_bench_run(&config, NULL, &io, &without_clear) == IRMIN_OK);
    CHECK(strstr(out.text, "[init done]\n") == out.text);
    CHECK(strstr(out.text, " bytes\n\rcommits:    4/7") != NULL);
    CHECK(strstr(out.text, "\rcommits:    2/7\n[gc] commit 3: store heap ") != NULL);
    CHECK(strstr(out.text, "\n[gc] commit 6: store heap ") != NULL);
    CHECK(strstr(out.text, "\rcommits:    6/7\n[run done]\nhead: ") != NULL);
    CHECK(strstr(out.text, "objects: contents=8 nodes=32 commits=8\n") != NULL);
    CHECK(strstr(out.text, "time:") == NULL);
    config.clear = true;
    out.used = 0;
    CHECK(irmin_bench_run(&config, NULL, &io, &with_clear) == IRMIN_OK);
    CHECK(irmin_hash_equal(&with_clear.head, &without_clear.head));
    CHECK(with_clear.stats.contents == 8 && with_clear.stats.nodes == 4 * 8 && with_clear.stats.commits == 8);
    config.display = 0;
    out.used = 0;
    CHECK(irmin_bench_run(&config, NULL, &io, NULL) == IRMIN_INVALID);
    CHECK(strstr(out.text, "error: bench: display must be at least 1") != NULL);
}

/* ---- runner ---- */

struct test_case {
    const char *name;
    void (*run)(struct test_state *t);
};

static const struct test_case tests[] = {
    {"blake2b RFC 7693 vectors", test_blake2b_rfc7693},
    {"blake2b incremental updates", test_blake2b_incremental},
    {"blake2b rejects bad lengths", test_blake2b_rejects_bad_lengths},
    {"format", test_format},
    {"uleb128", test_uleb128},
    {"serialization bytes", test_serialization_bytes},
    {"hash hex", test_hash_hex},
    {"contents dedup", test_contents_dedup},
    {"many objects", test_many_objects},
    {"path parse", test_path_parse},
    {"tree add/find/mem", test_tree_add_find},
    {"tree contents become a node", test_tree_contents_become_node},
    {"tree remove prunes empty nodes", test_tree_remove_prunes},
    {"tree remove of a missing path", test_tree_remove_missing_is_noop},
    {"tree hash is canonical", test_tree_hash_is_canonical},
    {"tree list", test_tree_list},
    {"tree fold", test_tree_fold},
    {"tree lazy loading and clear", test_tree_lazy_and_clear},
    {"tree copy", test_tree_copy_is_independent},
    {"tree add_tree/find_tree", test_tree_add_tree_find_tree},
    {"branches", test_branches},
    {"store commits and history", test_store_commits_and_history},
    {"lcas", test_lcas},
    {"merge clean", test_merge_clean},
    {"merge fast-forward", test_merge_fast_forward_and_same},
    {"merge conflicts", test_merge_conflicts},
    {"merge same change and removals", test_merge_same_change_and_removals},
    {"merge criss-cross", test_merge_criss_cross},
    {"merge criss-cross with conflicting ancestors", test_merge_criss_cross_conflicting_ancestors},
    {"merge unrelated histories", test_merge_unrelated},
    {"tree merge", test_tree_merge},
    {"memory is returned", test_memory_is_returned},
    {"bench small", test_bench_small},
};

int native_run_unit_tests(void)
{
    int failed = 0;
    int count = (int)(sizeof tests / sizeof tests[0]);
    for (int i = 0; i < count; i++) {
        struct test_state state = {.failure = NULL};
        tests[i].run(&state);
        if (state.failure == NULL) {
            printf("ok %d %s\n", i + 1, tests[i].name);
        } else {
            failed++;
            printf("not ok %d %s: test/irmin/native_tests.c:%d: %s%s%s\n", i + 1, tests[i].name, state.line,
                   state.failure, state.detail[0] ? ": " : "", state.detail);
        }
        fflush(stdout);
    }
    printf("summary passed=%d failed=%d\n", count - failed, failed);
    return failed;
}
