/*
 * test/irmin/native_main.c: the store built as a Linux program, driven by the vitest suite
 * (test/irmin/native.ts builds it with gcc -O2 -Wall -Wextra -Werror) and by perf/.
 *
 *   native selftest          RFC 7693 vectors: "selftest ok" or "selftest FAIL <reason>"
 *   native hash              stdin: frames of [u32 little-endian length][bytes]; prints the
 *                            BLAKE2b-512 of each as hex, one per line (one-shot and chunked
 *                            updates must agree, else "mismatch <index>")
 *   native unit              the C unit tests: "ok N name" / "not ok N name: why", then
 *                            "summary passed=P failed=F"; exit status 1 on a failure
 *   native bench [k=v ...]   the bench (irmin_bench.h) on stdout, then "RESULT {json}"
 *   native script            stdin: store operations, one per line (see run_script below);
 *                            one output line per query, compared with test/irmin/model.ts
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../src/libos/irmin/blake2b.h"
#include "../../src/libos/irmin/irmin.h"
#include "../../src/libos/irmin/irmin_bench.h"
#include "native_env.h"

/* ---- selftest and hash ---- */

static int command_selftest(void)
{
    const char *failure = NULL;
    if (!blake2b_selftest(&failure)) {
        printf("selftest FAIL %s\n", failure);
        return 1;
    }
    printf("selftest ok\n");
    return 0;
}

static void print_hex(const uint8_t *bytes, size_t length)
{
    for (size_t i = 0; i < length; i++)
        printf("%02x", bytes[i]);
}

static int command_hash(void)
{
    uint8_t header[4];
    size_t index = 0;
    while (fread(header, 1, 4, stdin) == 4) {
        uint32_t length = (uint32_t)header[0] | (uint32_t)header[1] << 8 | (uint32_t)header[2] << 16 |
                          (uint32_t)header[3] << 24;
        uint8_t *data = malloc(length ? length : 1);
        if (data == NULL || fread(data, 1, length, stdin) != length) {
            fprintf(stderr, "native hash: input frame %zu is truncated (wanted %u bytes)\n", index, length);
            return 2;
        }
        uint8_t one_shot[64];
        blake2b(one_shot, 64, NULL, 0, data, length);
        /* The same input fed in pieces of 1, 2, 3, ... bytes (crossing block boundaries). */
        struct blake2b_state state;
        blake2b_init512(&state);
        size_t offset = 0;
        for (size_t piece = 1; offset < length; piece++) {
            size_t take = length - offset < piece ? length - offset : piece;
            blake2b_update(&state, data + offset, take);
            offset += take;
        }
        uint8_t chunked[64];
        blake2b_final(&state, chunked);
        if (memcmp(one_shot, chunked, 64) != 0) {
            printf("mismatch %zu\n", index);
        } else {
            print_hex(one_shot, 64);
            printf("\n");
        }
        free(data);
        index++;
    }
    return 0;
}

/* ---- bench ---- */

static void print_stdout(void *context, const char *text, size_t length)
{
    (void)context;
    fwrite(text, 1, length, stdout);
}

static uint64_t monotonic_ns(void *context)
{
    (void)context;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

static uint64_t heap_in_use(void *context)
{
    (void)context;
    return native_env_bytes_in_use();
}

static int command_bench(int argc, char **argv)
{
    struct irmin_bench_config config;
    irmin_bench_defaults(&config);
    for (int i = 0; i < argc; i++) {
        const char *error;
        if (!irmin_bench_set(&config, argv[i], &error)) {
            fprintf(stderr, "native bench: %s: %s\n", argv[i], error);
            return 2;
        }
    }
    struct irmin_bench_io io = {.print = print_stdout, .now_ns = monotonic_ns, .heap_in_use = heap_in_use};
    struct irmin_bench_result result;
    irmin_status status = irmin_bench_run(&config, NULL, &io, &result);
    if (status != IRMIN_OK)
        return 1;
    printf("RESULT {\"head\":\"%s\",\"contents\":%u,\"nodes\":%u,\"commits\":%u,\"heapPeak\":%llu,"
           "\"initNs\":%llu,\"runNs\":%llu}\n",
           result.head_hex, result.stats.contents, result.stats.nodes, result.stats.commits,
           (unsigned long long)result.stats.heap_peak, (unsigned long long)result.init_ns,
           (unsigned long long)result.run_ns);
    return 0;
}

/* ---- script ---- */

#define MAX_TREES 64
#define MAX_TOKENS 8

struct script {
    struct irmin_repo *repo;
    char *tree_names[MAX_TREES];
    struct irmin_tree *trees[MAX_TREES];
    int tree_count;
    int line_number;
};

static __attribute__((noreturn)) void script_fail(struct script *script, const char *what)
{
    fprintf(stderr, "native script: line %d: %s (%s)\n", script->line_number, what, irmin_repo_error(script->repo));
    exit(2);
}

static int tree_slot(struct script *script, const char *name, int create)
{
    for (int i = 0; i < script->tree_count; i++)
        if (strcmp(script->tree_names[i], name) == 0)
            return i;
    if (!create)
        script_fail(script, "unknown tree name");
    if (script->tree_count == MAX_TREES)
        script_fail(script, "too many trees");
    script->tree_names[script->tree_count] = strdup(name);
    script->trees[script->tree_count] = NULL;
    return script->tree_count++;
}

static struct irmin_tree *tree_named(struct script *script, const char *name)
{
    return script->trees[tree_slot(script, name, 0)];
}

static void tree_set(struct script *script, const char *name, struct irmin_tree *tree)
{
    int slot = tree_slot(script, name, 1);
    irmin_tree_free(script->trees[slot]);
    script->trees[slot] = tree;
}

static struct irmin_path *path_of(struct script *script, const char *text)
{
    struct irmin_path *path;
    if (irmin_path_parse(script->repo, text, &path) != IRMIN_OK)
        script_fail(script, "bad path");
    return path;
}

/* "~" stands for the empty value. */
static const char *value_of(const char *token, size_t *length)
{
    if (strcmp(token, "~") == 0) {
        *length = 0;
        return "";
    }
    *length = strlen(token);
    return token;
}

static void print_value(const uint8_t *value, size_t length)
{
    if (length == 0)
        printf("~");
    else
        fwrite(value, 1, length, stdout);
}

static void print_hash(const struct irmin_hash *hash)
{
    char hex[IRMIN_HASH_HEX_BYTES];
    irmin_hash_to_hex(hash, hex);
    printf("%s", hex);
}

static int list_one(void *context, const uint8_t *step, size_t step_length, enum irmin_kind kind)
{
    int *first = context;
    printf("%s", *first ? " " : ",");
    *first = 0;
    fwrite(step, 1, step_length, stdout);
    printf(":%c", kind == IRMIN_KIND_NODE ? 'n' : 'c');
    return 0;
}

static void print_fold_path(const struct irmin_step_view *path, size_t depth)
{
    printf(" ");
    if (depth == 0)
        printf("/");
    for (size_t i = 0; i < depth; i++) {
        if (i > 0)
            printf("/");
        fwrite(path[i].bytes, 1, path[i].length, stdout);
    }
}

static int fold_node(void *context, const struct irmin_step_view *path, size_t depth)
{
    (void)context;
    print_fold_path(path, depth);
    printf("%s", depth == 0 ? "" : "/");
    return 0;
}

static int fold_contents(void *context, const struct irmin_step_view *path, size_t depth, const uint8_t *value,
                         size_t length)
{
    (void)context;
    print_fold_path(path, depth);
    printf("=");
    print_value(value, length);
    return 0;
}

static int history_one(void *context, const struct irmin_hash *commit, size_t distance)
{
    (void)context;
    char hex[IRMIN_HASH_HEX_BYTES];
    irmin_hash_to_hex(commit, hex);
    printf(" %.16s@%zu", hex, distance);
    return 0;
}

static const struct irmin_info script_info = {.date = 0, .author = "author", .message = "commit message"};
static const struct irmin_info merge_info = {.date = 1, .author = "merger", .message = "merge"};

/*
 * Operations (T, U: tree names; PATH: "a/b/c" or "/"; VALUE: a token, "~" for empty; B: branch):
 *   empty T | copy T U (T := copy of U) | add T PATH VALUE | remove T PATH | add_tree T PATH U
 *   find T PATH -> "found VALUE" | "none"      mem T PATH -> "mem true|false"
 *   mem_tree T PATH -> "mem_tree true|false"  find_tree T PATH U -> "find_tree ok|none"
 *   list T PATH -> "list a:c,b:n" | "list none"  fold T -> "fold / a/ a/b=VALUE ..."
 *   hash T -> "hash HEX"   clear T   checkout T B (T := get_tree B)
 *   commit T B -> "commit HEX" (set_tree at the root)   set_tree B PATH T -> "commit HEX"
 *   head B -> "head HEX" | "head none"   branch B C (B := head of C)
 *   merge B C -> "merged HEX" | "conflict MESSAGE" (merges C's head into B)
 *   lcas B C -> "lcas h1 h2 ..." (16-digit prefixes)   history B -> "history h@d ..."
 *   stats -> "stats contents=N nodes=N commits=N"
 */
static void script_step(struct script *script, char **token, int count)
{
    struct irmin_repo *repo = script->repo;
    const char *op = token[0];
    if (strcmp(op, "empty") == 0 && count == 2) {
        tree_set(script, token[1], irmin_tree_empty(repo));
    } else if (strcmp(op, "copy") == 0 && count == 3) {
        tree_set(script, token[1], irmin_tree_copy(tree_named(script, token[2])));
    } else if (strcmp(op, "add") == 0 && count == 4) {
        struct irmin_path *path = path_of(script, token[2]);
        size_t length;
        const char *value = value_of(token[3], &length);
        if (irmin_tree_add(tree_named(script, token[1]), path, value, length) != IRMIN_OK)
            script_fail(script, "add failed");
        irmin_path_free(repo, path);
    } else if (strcmp(op, "remove") == 0 && count == 3) {
        struct irmin_path *path = path_of(script, token[2]);
        irmin_tree_remove(tree_named(script, token[1]), path);
        irmin_path_free(repo, path);
    } else if (strcmp(op, "add_tree") == 0 && count == 4) {
        struct irmin_path *path = path_of(script, token[2]);
        if (irmin_tree_add_tree(tree_named(script, token[1]), path, tree_named(script, token[3])) != IRMIN_OK)
            script_fail(script, "add_tree failed");
        irmin_path_free(repo, path);
    } else if (strcmp(op, "find") == 0 && count == 3) {
        struct irmin_path *path = path_of(script, token[2]);
        const uint8_t *value;
        size_t length;
        if (irmin_tree_find(tree_named(script, token[1]), path, &value, &length) == IRMIN_OK) {
            printf("found ");
            print_value(value, length);
            printf("\n");
        } else {
            printf("none\n");
        }
        irmin_path_free(repo, path);
    } else if ((strcmp(op, "mem") == 0 || strcmp(op, "mem_tree") == 0) && count == 3) {
        struct irmin_path *path = path_of(script, token[2]);
        struct irmin_tree *tree = tree_named(script, token[1]);
        bool found = strcmp(op, "mem") == 0 ? irmin_tree_mem(tree, path) : irmin_tree_mem_tree(tree, path);
        printf("%s %s\n", op, found ? "true" : "false");
        irmin_path_free(repo, path);
    } else if (strcmp(op, "find_tree") == 0 && count == 4) {
        struct irmin_path *path = path_of(script, token[2]);
        struct irmin_tree *subtree;
        if (irmin_tree_find_tree(tree_named(script, token[1]), path, &subtree) == IRMIN_OK) {
            tree_set(script, token[3], subtree);
            printf("find_tree ok\n");
        } else {
            printf("find_tree none\n");
        }
        irmin_path_free(repo, path);
    } else if (strcmp(op, "list") == 0 && count == 3) {
        struct irmin_path *path = path_of(script, token[2]);
        int first = 1;
        printf("list");
        if (irmin_tree_list(tree_named(script, token[1]), path, list_one, &first) != IRMIN_OK)
            printf(" none");
        printf("\n");
        irmin_path_free(repo, path);
    } else if (strcmp(op, "fold") == 0 && count == 2) {
        struct irmin_path *path = path_of(script, "/");
        struct irmin_fold_visitor visitor = {.node = fold_node, .contents = fold_contents};
        printf("fold");
        irmin_tree_fold(tree_named(script, token[1]), path, &visitor, NULL);
        printf("\n");
        irmin_path_free(repo, path);
    } else if (strcmp(op, "hash") == 0 && count == 2) {
        struct irmin_hash hash;
        irmin_tree_hash(tree_named(script, token[1]), &hash);
        printf("hash ");
        print_hash(&hash);
        printf("\n");
    } else if (strcmp(op, "clear") == 0 && count == 2) {
        irmin_tree_clear(tree_named(script, token[1]));
    } else if (strcmp(op, "checkout") == 0 && count == 3) {
        struct irmin_tree *tree;
        if (irmin_get_tree(repo, token[2], &tree) != IRMIN_OK)
            script_fail(script, "get_tree failed");
        tree_set(script, token[1], tree);
    } else if ((strcmp(op, "commit") == 0 && count == 3) || (strcmp(op, "set_tree") == 0 && count == 4)) {
        bool at_root = strcmp(op, "commit") == 0;
        struct irmin_path *path = path_of(script, at_root ? "/" : token[2]);
        const char *branch = at_root ? token[2] : token[1];
        struct irmin_tree *tree = tree_named(script, at_root ? token[1] : token[3]);
        struct irmin_hash commit;
        if (irmin_set_tree(repo, branch, path, tree, &script_info, false, &commit) != IRMIN_OK)
            script_fail(script, "set_tree failed");
        printf("commit ");
        print_hash(&commit);
        printf("\n");
        irmin_path_free(repo, path);
    } else if (strcmp(op, "head") == 0 && count == 2) {
        struct irmin_hash head;
        printf("head ");
        if (irmin_branch_find(repo, token[1], &head) == IRMIN_OK)
            print_hash(&head);
        else
            printf("none");
        printf("\n");
    } else if (strcmp(op, "branch") == 0 && count == 3) {
        struct irmin_hash head;
        if (irmin_branch_find(repo, token[2], &head) != IRMIN_OK || irmin_branch_set(repo, token[1], &head) != IRMIN_OK)
            script_fail(script, "branch failed");
    } else if (strcmp(op, "merge") == 0 && count == 3) {
        struct irmin_hash head;
        if (irmin_branch_find(repo, token[2], &head) != IRMIN_OK)
            script_fail(script, "merge: no such branch");
        struct irmin_hash merged;
        irmin_status status = irmin_merge_into_branch(repo, token[1], &head, &merge_info, &merged);
        if (status == IRMIN_OK) {
            printf("merged ");
            print_hash(&merged);
            printf("\n");
        } else if (status == IRMIN_CONFLICT) {
            printf("conflict %s\n", irmin_repo_error(repo));
        } else {
            script_fail(script, "merge failed");
        }
    } else if (strcmp(op, "lcas") == 0 && count == 3) {
        struct irmin_hash a, b, found[16];
        size_t found_count;
        if (irmin_branch_find(repo, token[1], &a) != IRMIN_OK || irmin_branch_find(repo, token[2], &b) != IRMIN_OK ||
            irmin_lcas(repo, &a, &b, found, 16, &found_count) != IRMIN_OK)
            script_fail(script, "lcas failed");
        printf("lcas");
        for (size_t i = 0; i < found_count && i < 16; i++) {
            char hex[IRMIN_HASH_HEX_BYTES];
            irmin_hash_to_hex(&found[i], hex);
            printf(" %.16s", hex);
        }
        printf("\n");
    } else if (strcmp(op, "history") == 0 && count == 2) {
        struct irmin_hash head;
        if (irmin_branch_find(repo, token[1], &head) != IRMIN_OK)
            script_fail(script, "history: no such branch");
        printf("history");
        irmin_history(repo, &head, SIZE_MAX, history_one, NULL);
        printf("\n");
    } else if (strcmp(op, "stats") == 0 && count == 1) {
        struct irmin_repo_stats stats;
        irmin_repo_stats(repo, &stats);
        printf("stats contents=%u nodes=%u commits=%u\n", stats.contents, stats.nodes, stats.commits);
    } else {
        script_fail(script, "unknown operation or wrong number of arguments");
    }
}

static int command_script(void)
{
    struct script script = {.repo = irmin_repo_create()};
    char line[4096];
    while (fgets(line, sizeof line, stdin) != NULL) {
        script.line_number++;
        char *token[MAX_TOKENS];
        int count = 0;
        for (char *word = strtok(line, " \t\r\n"); word != NULL && count < MAX_TOKENS; word = strtok(NULL, " \t\r\n"))
            token[count++] = word;
        if (count == 0 || token[0][0] == '#')
            continue;
        script_step(&script, token, count);
    }
    for (int i = 0; i < script.tree_count; i++) {
        irmin_tree_free(script.trees[i]);
        free(script.tree_names[i]);
    }
    irmin_repo_free(script.repo);
    return 0;
}

int main(int argc, char **argv)
{
    const char *usage = "usage: native selftest | hash | unit | bench [key=value ...] | script\n";
    if (argc < 2) {
        fputs(usage, stderr);
        return 2;
    }
    const char *command = argv[1];
    int status;
    if (strcmp(command, "selftest") == 0)
        status = command_selftest();
    else if (strcmp(command, "hash") == 0)
        status = command_hash();
    else if (strcmp(command, "unit") == 0)
        status = native_run_unit_tests() == 0 ? 0 : 1;
    else if (strcmp(command, "bench") == 0)
        status = command_bench(argc - 2, argv + 2);
    else if (strcmp(command, "script") == 0)
        status = command_script();
    else {
        fprintf(stderr, "native: unknown command \"%s\"\n%s", command, usage);
        return 2;
    }
    fflush(stdout);
    return status;
}
