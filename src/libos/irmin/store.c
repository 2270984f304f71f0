/*
 * irmin/store.c: branches, commits, get_tree/set_tree, history and lowest common ancestors.
 */
#include "irmin_internal.h"

/* ---- Branches ---- */

static irmin_status check_branch_name(struct irmin_repo *repo, const char *name)
{
    if (name == NULL || name[0] == '\0')
        return irmin_fail(repo, IRMIN_INVALID, "a branch name must not be empty");
    for (const char *c = name; *c != '\0'; c++) {
        bool valid = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
                     *c == '-' || *c == '_' || *c == '.' || *c == '/';
        if (!valid)
            return irmin_fail(repo, IRMIN_INVALID,
                              "branch name \"%s\" has the character 0x%02x; use letters, digits, '-', '_', '.', '/'",
                              name, (unsigned)(uint8_t)*c);
    }
    return IRMIN_OK;
}

/* Index of the branch, or -(insertion point) - 1. */
static int64_t branch_search(const struct irmin_repo *repo, const char *name)
{
    size_t length = irmin_strlen(name);
    int64_t low = 0;
    int64_t high = (int64_t)repo->branch_count - 1;
    while (low <= high) {
        int64_t middle = low + (high - low) / 2;
        const struct irmin_branch *branch = &repo->branches[middle];
        int order = irmin_bytes_compare((const uint8_t *)branch->name, branch->name_length, (const uint8_t *)name,
                                        length);
        if (order == 0)
            return middle;
        if (order < 0)
            low = middle + 1;
        else
            high = middle - 1;
    }
    return -low - 1;
}

/* Sets (commit != IRMIN_NONE) or removes a branch; the name is valid. */
static void branch_write(struct irmin_repo *repo, const char *name, uint32_t commit)
{
    int64_t at = branch_search(repo, name);
    if (at >= 0) {
        struct irmin_branch *branch = &repo->branches[at];
        if (commit != IRMIN_NONE) {
            branch->commit = commit;
            return;
        }
        irmin_free(repo, branch->name, branch->name_length + 1);
        irmin_memmove(branch, branch + 1, (repo->branch_count - (uint32_t)at - 1) * sizeof *branch);
        repo->branch_count--;
        return;
    }
    if (commit == IRMIN_NONE)
        return;
    if (repo->branch_count == repo->branch_capacity) {
        uint32_t capacity = repo->branch_capacity ? 2 * repo->branch_capacity : 8;
        repo->branches = irmin_grow(repo, repo->branches, repo->branch_count, capacity, sizeof *repo->branches,
                                    "the branch table");
        repo->branch_capacity = capacity;
    }
    uint32_t index = (uint32_t)(-at - 1);
    struct irmin_branch *branch = &repo->branches[index];
    irmin_memmove(branch + 1, branch, (repo->branch_count - index) * sizeof *branch);
    branch->name_length = irmin_strlen(name);
    branch->name = irmin_alloc(repo, branch->name_length + 1, "a branch name");
    irmin_memcpy(branch->name, name, branch->name_length + 1);
    branch->commit = commit;
    repo->branch_count++;
}

/* The branch's commit id, or IRMIN_NONE. */
static uint32_t branch_head(const struct irmin_repo *repo, const char *name)
{
    int64_t at = branch_search(repo, name);
    return at >= 0 ? repo->branches[at].commit : IRMIN_NONE;
}

irmin_status irmin_branch_set(struct irmin_repo *repo, const char *name, const struct irmin_hash *commit)
{
    irmin_status status = check_branch_name(repo, name);
    if (status != IRMIN_OK)
        return status;
    uint32_t id = irmin_object_expect(repo, commit, IRMIN_KIND_COMMIT, "commit");
    if (id == IRMIN_NONE)
        return IRMIN_NOT_FOUND;
    branch_write(repo, name, id);
    return IRMIN_OK;
}

irmin_status irmin_branch_find(struct irmin_repo *repo, const char *name, struct irmin_hash *commit)
{
    irmin_status status = check_branch_name(repo, name);
    if (status != IRMIN_OK)
        return status;
    uint32_t id = branch_head(repo, name);
    if (id == IRMIN_NONE)
        return irmin_fail(repo, IRMIN_NOT_FOUND, "there is no branch \"%s\"", name);
    *commit = irmin_object_at(repo, id)->hash;
    return IRMIN_OK;
}

irmin_status irmin_branch_remove(struct irmin_repo *repo, const char *name)
{
    irmin_status status = check_branch_name(repo, name);
    if (status != IRMIN_OK)
        return status;
    if (branch_head(repo, name) == IRMIN_NONE)
        return irmin_fail(repo, IRMIN_NOT_FOUND, "there is no branch \"%s\" to remove", name);
    branch_write(repo, name, IRMIN_NONE);
    return IRMIN_OK;
}

irmin_status irmin_branch_test_and_set(struct irmin_repo *repo, const char *name, const struct irmin_hash *expected,
                                       const struct irmin_hash *value)
{
    irmin_status status = check_branch_name(repo, name);
    if (status != IRMIN_OK)
        return status;
    uint32_t new_id = IRMIN_NONE;
    if (value != NULL) {
        new_id = irmin_object_expect(repo, value, IRMIN_KIND_COMMIT, "commit");
        if (new_id == IRMIN_NONE)
            return IRMIN_NOT_FOUND;
    }
    uint32_t current = branch_head(repo, name);
    bool matches = expected == NULL ? current == IRMIN_NONE
                                    : current != IRMIN_NONE &&
                                          irmin_hash_equal(&irmin_object_at(repo, current)->hash, expected);
    if (!matches) {
        char hex[IRMIN_HASH_HEX_BYTES] = "(none)";
        if (current != IRMIN_NONE)
            irmin_hash_to_hex(&irmin_object_at(repo, current)->hash, hex);
        return irmin_fail(repo, IRMIN_CHANGED, "test_and_set: branch \"%s\" is at %.16s%s, not at the expected commit",
                          name, hex, current != IRMIN_NONE ? "..." : "");
    }
    branch_write(repo, name, new_id);
    return IRMIN_OK;
}

void irmin_branch_list(struct irmin_repo *repo, irmin_branch_fn visit, void *context)
{
    for (uint32_t i = 0; i < repo->branch_count; i++) {
        const struct irmin_branch *branch = &repo->branches[i];
        if (visit(context, branch->name, &irmin_object_at(repo, branch->commit)->hash))
            return;
    }
}

/* ---- Commits ---- */

static int compare_by_hash(const struct irmin_repo *repo, uint32_t a, uint32_t b)
{
    return irmin_memcmp(irmin_object_at(repo, a)->hash.bytes, irmin_object_at(repo, b)->hash.bytes,
                        IRMIN_HASH_BYTES);
}

/* Sorts object ids by hash and drops duplicates; returns the new count. */
static size_t sort_unique_by_hash(const struct irmin_repo *repo, uint32_t *ids, size_t count)
{
    for (size_t i = 1; i < count; i++) {
        uint32_t id = ids[i];
        size_t j = i;
        while (j > 0 && compare_by_hash(repo, ids[j - 1], id) > 0) {
            ids[j] = ids[j - 1];
            j--;
        }
        ids[j] = id;
    }
    size_t unique = 0;
    for (size_t i = 0; i < count; i++)
        if (unique == 0 || ids[unique - 1] != ids[i])
            ids[unique++] = ids[i];
    return unique;
}

irmin_status irmin_commit_create(struct irmin_repo *repo, struct irmin_tree *tree, const struct irmin_hash *parents,
                                 size_t parent_count, const struct irmin_info *info, struct irmin_hash *commit)
{
    if (irmin_tree_repo(tree) != repo)
        return irmin_fail(repo, IRMIN_INVALID, "commit: the tree belongs to another repo");
    if (parent_count > UINT32_MAX / 8)
        return irmin_fail(repo, IRMIN_INVALID, "commit: %zu parents is too many", parent_count);
    uint32_t *ids = NULL;
    if (parent_count > 0)
        ids = irmin_alloc(repo, parent_count * sizeof *ids, "commit parents");
    for (size_t i = 0; i < parent_count; i++) {
        ids[i] = irmin_object_expect(repo, &parents[i], IRMIN_KIND_COMMIT, "parent commit");
        if (ids[i] == IRMIN_NONE) {
            irmin_free(repo, ids, parent_count * sizeof *ids);
            return IRMIN_NOT_FOUND;
        }
    }
    size_t unique = sort_unique_by_hash(repo, ids, parent_count);
    uint32_t node = irmin_tree_export_root(tree);
    uint32_t id = irmin_commit_intern(repo, node, ids, (uint32_t)unique, info);
    if (ids != NULL)
        irmin_free(repo, ids, parent_count * sizeof *ids);
    if (commit != NULL)
        *commit = irmin_object_at(repo, id)->hash;
    return IRMIN_OK;
}

irmin_status irmin_commit_read(struct irmin_repo *repo, const struct irmin_hash *commit, struct irmin_commit_view *view)
{
    uint32_t id = irmin_object_expect(repo, commit, IRMIN_KIND_COMMIT, "commit");
    if (id == IRMIN_NONE)
        return IRMIN_NOT_FOUND;
    const struct irmin_stored_commit *stored = irmin_object_at(repo, id)->data.commit;
    view->node = irmin_object_at(repo, stored->node)->hash;
    view->parent_count = stored->parent_count;
    view->parents = stored->parent_hashes;
    view->date = stored->date;
    view->author = stored->author;
    view->message = stored->message;
    return IRMIN_OK;
}

irmin_status irmin_commit_tree(struct irmin_repo *repo, const struct irmin_hash *commit, struct irmin_tree **tree)
{
    *tree = NULL;
    uint32_t id = irmin_object_expect(repo, commit, IRMIN_KIND_COMMIT, "commit");
    if (id == IRMIN_NONE)
        return IRMIN_NOT_FOUND;
    *tree = irmin_tree_of_object(repo, irmin_object_at(repo, id)->data.commit->node);
    return IRMIN_OK;
}

/* ---- The store: trees on branches ---- */

irmin_status irmin_get_tree(struct irmin_repo *repo, const char *branch, struct irmin_tree **tree)
{
    *tree = NULL;
    irmin_status status = check_branch_name(repo, branch);
    if (status != IRMIN_OK)
        return status;
    uint32_t head = branch_head(repo, branch);
    if (head == IRMIN_NONE)
        *tree = irmin_tree_empty(repo);
    else
        *tree = irmin_tree_of_object(repo, irmin_object_at(repo, head)->data.commit->node);
    return IRMIN_OK;
}

irmin_status irmin_set_tree(struct irmin_repo *repo, const char *branch, const struct irmin_path *path,
                            struct irmin_tree *tree, const struct irmin_info *info, bool allow_empty,
                            struct irmin_hash *commit)
{
    irmin_status status = check_branch_name(repo, branch);
    if (status != IRMIN_OK)
        return status;
    if (irmin_tree_repo(tree) != repo)
        return irmin_fail(repo, IRMIN_INVALID, "set_tree: the tree belongs to another repo");
    uint32_t head = branch_head(repo, branch);
    uint32_t node = IRMIN_NONE;
    if (path->length == 0) {
        node = irmin_tree_export_root(tree);
    } else {
        struct irmin_tree *root = head == IRMIN_NONE
                                      ? irmin_tree_empty(repo)
                                      : irmin_tree_of_object(repo, irmin_object_at(repo, head)->data.commit->node);
        status = irmin_tree_add_tree(root, path, tree);
        if (status == IRMIN_OK)
            node = irmin_tree_export_root(root);
        irmin_tree_free(root);
        if (status != IRMIN_OK)
            return status;
    }
    if (head != IRMIN_NONE && !allow_empty && irmin_object_at(repo, head)->data.commit->node == node) {
        if (commit != NULL)
            *commit = irmin_object_at(repo, head)->hash;
        return IRMIN_OK;
    }
    uint32_t id = irmin_commit_intern(repo, node, &head, head == IRMIN_NONE ? 0 : 1, info);
    branch_write(repo, branch, id);
    if (commit != NULL)
        *commit = irmin_object_at(repo, id)->hash;
    return IRMIN_OK;
}

/* ---- Commit graph ---- */

static uint8_t *marks_new(struct irmin_repo *repo, size_t *size)
{
    *size = repo->object_count > 0 ? repo->object_count : 1;
    uint8_t *marks = irmin_alloc(repo, *size, "commit marks");
    irmin_memset(marks, 0, *size);
    return marks;
}

void irmin_mark_ancestors(struct irmin_repo *repo, const uint32_t *starts, size_t start_count, uint8_t *marks,
                          uint8_t bit)
{
    size_t capacity = repo->object_count > 0 ? repo->object_count : 1;
    uint32_t *stack = irmin_alloc(repo, capacity * sizeof *stack, "an ancestor walk");
    size_t depth = 0;
    for (size_t i = 0; i < start_count; i++) {
        if (!(marks[starts[i]] & bit)) {
            marks[starts[i]] |= bit;
            stack[depth++] = starts[i];
        }
    }
    while (depth > 0) {
        const struct irmin_stored_commit *commit = irmin_object_at(repo, stack[--depth])->data.commit;
        for (uint32_t p = 0; p < commit->parent_count; p++) {
            uint32_t parent = commit->parents[p];
            if (!(marks[parent] & bit)) {
                marks[parent] |= bit;
                stack[depth++] = parent;
            }
        }
    }
    irmin_free(repo, stack, capacity * sizeof *stack);
}

irmin_status irmin_history(struct irmin_repo *repo, const struct irmin_hash *head, size_t max_depth,
                           irmin_commit_fn visit, void *context)
{
    uint32_t start = irmin_object_expect(repo, head, IRMIN_KIND_COMMIT, "commit");
    if (start == IRMIN_NONE)
        return IRMIN_NOT_FOUND;
    size_t size;
    uint8_t *seen = marks_new(repo, &size);
    uint32_t *queue = irmin_alloc(repo, size * sizeof *queue, "a history walk");
    size_t *distance = irmin_alloc(repo, size * sizeof *distance, "a history walk");
    size_t front = 0;
    size_t back = 0;
    queue[back] = start;
    distance[back++] = 0;
    seen[start] = 1;
    while (front < back) {
        uint32_t id = queue[front];
        size_t here = distance[front++];
        if (visit(context, &irmin_object_at(repo, id)->hash, here))
            break;
        if (here == max_depth)
            continue;
        const struct irmin_stored_commit *commit = irmin_object_at(repo, id)->data.commit;
        for (uint32_t p = 0; p < commit->parent_count; p++) {
            uint32_t parent = commit->parents[p];
            if (!seen[parent]) {
                seen[parent] = 1;
                queue[back] = parent;
                distance[back++] = here + 1;
            }
        }
    }
    irmin_free(repo, distance, size * sizeof *distance);
    irmin_free(repo, queue, size * sizeof *queue);
    irmin_free(repo, seen, size);
    return IRMIN_OK;
}

irmin_status irmin_is_ancestor(struct irmin_repo *repo, const struct irmin_hash *ancestor,
                               const struct irmin_hash *commit, bool *result)
{
    uint32_t a = irmin_object_expect(repo, ancestor, IRMIN_KIND_COMMIT, "commit");
    if (a == IRMIN_NONE)
        return IRMIN_NOT_FOUND;
    uint32_t c = irmin_object_expect(repo, commit, IRMIN_KIND_COMMIT, "commit");
    if (c == IRMIN_NONE)
        return IRMIN_NOT_FOUND;
    size_t size;
    uint8_t *marks = marks_new(repo, &size);
    irmin_mark_ancestors(repo, &c, 1, marks, 1);
    *result = marks[a] != 0;
    irmin_free(repo, marks, size);
    return IRMIN_OK;
}

#define MARK_A 1
#define MARK_B 2
#define MARK_DOMINATED 4

size_t irmin_lcas_of_sets(struct irmin_repo *repo, const uint32_t *a, size_t a_count, const uint32_t *b,
                          size_t b_count, uint32_t **lcas)
{
    size_t size;
    uint8_t *marks = marks_new(repo, &size);
    irmin_mark_ancestors(repo, a, a_count, marks, MARK_A);
    irmin_mark_ancestors(repo, b, b_count, marks, MARK_B);
    /*
     * Common ancestors form an ancestor-closed set; the lowest are those no common ancestor
     * reaches. Mark everything strictly below a common ancestor, stopping at marked commits.
     */
    uint32_t *stack = irmin_alloc(repo, size * sizeof *stack, "an ancestor walk");
    size_t depth = 0;
    for (uint32_t id = 0; id < repo->object_count && id < size; id++) {
        if ((marks[id] & (MARK_A | MARK_B)) != (MARK_A | MARK_B))
            continue;
        const struct irmin_stored_commit *commit = irmin_object_at(repo, id)->data.commit;
        for (uint32_t p = 0; p < commit->parent_count; p++) {
            uint32_t parent = commit->parents[p];
            if (!(marks[parent] & MARK_DOMINATED)) {
                marks[parent] |= MARK_DOMINATED;
                stack[depth++] = parent;
            }
        }
    }
    while (depth > 0) {
        const struct irmin_stored_commit *commit = irmin_object_at(repo, stack[--depth])->data.commit;
        for (uint32_t p = 0; p < commit->parent_count; p++) {
            uint32_t parent = commit->parents[p];
            if (!(marks[parent] & MARK_DOMINATED)) {
                marks[parent] |= MARK_DOMINATED;
                stack[depth++] = parent;
            }
        }
    }
    size_t count = 0;
    for (uint32_t id = 0; id < size; id++)
        if (marks[id] == (MARK_A | MARK_B))
            stack[count++] = id;
    uint32_t *found = NULL;
    if (count > 0) {
        found = irmin_alloc(repo, count * sizeof *found, "lowest common ancestors");
        irmin_memcpy(found, stack, count * sizeof *found);
        sort_unique_by_hash(repo, found, count);
    }
    irmin_free(repo, stack, size * sizeof *stack);
    irmin_free(repo, marks, size);
    *lcas = found;
    return count;
}

irmin_status irmin_lcas(struct irmin_repo *repo, const struct irmin_hash *a, const struct irmin_hash *b,
                        struct irmin_hash *lcas, size_t capacity, size_t *count)
{
    uint32_t a_id = irmin_object_expect(repo, a, IRMIN_KIND_COMMIT, "commit");
    if (a_id == IRMIN_NONE)
        return IRMIN_NOT_FOUND;
    uint32_t b_id = irmin_object_expect(repo, b, IRMIN_KIND_COMMIT, "commit");
    if (b_id == IRMIN_NONE)
        return IRMIN_NOT_FOUND;
    uint32_t *found;
    size_t found_count = irmin_lcas_of_sets(repo, &a_id, 1, &b_id, 1, &found);
    for (size_t i = 0; i < found_count && i < capacity; i++)
        lcas[i] = irmin_object_at(repo, found[i])->hash;
    *count = found_count;
    if (found_count > 0)
        irmin_free(repo, found, found_count * sizeof *found);
    return IRMIN_OK;
}

/* Sorts two distinct commit ids by hash (merge commit parents). */
void irmin_sort_pair_by_hash(const struct irmin_repo *repo, uint32_t pair[2])
{
    if (compare_by_hash(repo, pair[0], pair[1]) > 0) {
        uint32_t first = pair[1];
        pair[1] = pair[0];
        pair[0] = first;
    }
}
