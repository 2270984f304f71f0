/*
 * serve/routes.c: the routes over the store (routes.h, docs/serve.md).
 *
 * Every handler runs without suspending (serve_internal.h), so "read the head, change the
 * tree, move the branch" cannot interleave with another connection's write.
 *
 * Reads never add to the store: the store interns every step it is given in a path for good,
 * so a GET or DELETE first finds each step in its parent's listing (find_path) and only builds
 * a path out of steps that already exist. Only writes (PUT, a DELETE that removes something,
 * a merge) add objects, steps, commits or branches.
 *
 * Branches: "main" is the branch of the plain routes and reads as an empty tree before its
 * first commit. Any other branch that does not exist yet is 404 to reads, and a write to it
 * first creates it at main's head (so its first commit has main's head as parent).
 */
#include <stdlib.h>
#include <string.h>

#include "routes.h"

enum route_kind {
    ROUTE_NONE,
    ROUTE_TREE,
    ROUTE_HEAD,
    ROUTE_HISTORY,
    ROUTE_BRANCHES,
    ROUTE_MERGE,
    ROUTE_STATS,
};

/* One request being routed; request_done frees what it holds. */
struct request_context {
    struct serve_state *state;
    struct irmin_repo *repo;
    const struct http_request *request;
    struct serve_response *response;
    enum route_kind kind;
    const char *branch;            /* NUL-terminated: SERVE_MAIN_BRANCH or branch_name */
    const char *branch_segment;    /* /branch/<segment>/..., still encoded */
    size_t branch_segment_length;
    char *branch_name;
    const char *tree_path;         /* after "/tree": "" or "/a/b", still encoded */
    size_t step_count;
    const char **steps;            /* decoded steps (bytes, not NUL-terminated) */
    size_t *lengths;
    uint8_t *decoded;              /* the steps' bytes */
    struct sbuf message;           /* a default commit message, NUL-terminated */
};

static const uint8_t no_bytes[1];

void serve_response_init(struct serve_response *response, size_t limit)
{
    memset(response, 0, sizeof *response);
    sbuf_init(&response->body, limit);
}

void serve_response_free(struct serve_response *response)
{
    sbuf_free(&response->body);
    if (response->hold != NULL)
        irmin_tree_free(response->hold);
    response->hold = NULL;
    response->contents = NULL;
}

void serve_response_error(struct serve_response *response, int status, const char *message)
{
    bool close = response->close;
    serve_response_free(response);
    serve_response_init(response, 4096);
    response->status = status;
    response->content_type = SERVE_JSON;
    response->close = close;
    json_error_body(&response->body, message);
    if (response->body.failed) { /* a message too long to escape into 4 KiB: say less */
        sbuf_free(&response->body);
        json_error_body(&response->body, http_reason(status));
    }
}

void serve_append_step(struct sbuf *out, const uint8_t *step, size_t length)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < length; i++) {
        uint8_t c = step[i];
        bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     (c != 0 && strchr("-._~!$&'()*+,;=:@", c) != NULL);
        if (plain) {
            sbuf_append(out, &step[i], 1);
        } else {
            char escape[3] = {'%', hex[c >> 4], hex[c & 15]};
            sbuf_append(out, escape, 3);
        }
    }
}

/* ---- responses ---- */

static void respond_error(struct request_context *c, int status, const char *message)
{
    serve_response_error(c->response, status, message);
}

/* The store's message for the last failure. */
static void respond_store_error(struct request_context *c, int status)
{
    respond_error(c, status, irmin_repo_error(c->repo));
}

static void respond_json(struct request_context *c, int status, struct json *json)
{
    c->response->status = status;
    c->response->content_type = SERVE_JSON;
    json_init(json, &c->response->body);
}

static void json_hash(struct json *json, const struct irmin_hash *hash)
{
    char hex[IRMIN_HASH_HEX_BYTES];
    irmin_hash_to_hex(hash, hex);
    json_string(json, hex, IRMIN_HASH_HEX_BYTES - 1);
}

static void respond_commit(struct request_context *c, int status, const struct irmin_hash *commit)
{
    struct json json;
    respond_json(c, status, &json);
    json_object_begin(&json);
    json_key(&json, "commit");
    json_hash(&json, commit);
    json_object_end(&json);
}

/* ---- request pieces: route, steps, query, commit info ---- */

static bool starts_with(const char *text, const char *prefix, const char **rest)
{
    size_t length = strlen(prefix);
    if (strncmp(text, prefix, length) != 0)
        return false;
    *rest = text + length;
    return true;
}

/* "/tree" or "/tree/...": the part after "/tree". */
static bool tree_suffix(const char *path, const char **rest)
{
    return starts_with(path, "/tree", rest) && ((*rest)[0] == '\0' || (*rest)[0] == '/');
}

static enum route_kind match_route(struct request_context *c, const char *path)
{
    const char *rest;
    c->branch = SERVE_MAIN_BRANCH;
    if (strcmp(path, "/head") == 0)
        return ROUTE_HEAD;
    if (strcmp(path, "/history") == 0)
        return ROUTE_HISTORY;
    if (strcmp(path, "/branches") == 0)
        return ROUTE_BRANCHES;
    if (strcmp(path, "/merge") == 0)
        return ROUTE_MERGE;
    if (strcmp(path, "/stats") == 0)
        return ROUTE_STATS;
    if (tree_suffix(path, &rest)) {
        c->tree_path = rest;
        return ROUTE_TREE;
    }
    if (!starts_with(path, "/branch/", &rest))
        return ROUTE_NONE;
    const char *slash = strchr(rest, '/');
    if (slash == NULL || slash == rest)
        return ROUTE_NONE;
    c->branch_segment = rest;
    c->branch_segment_length = (size_t)(slash - rest);
    if (strcmp(slash, "/head") == 0)
        return ROUTE_HEAD;
    if (strcmp(slash, "/history") == 0)
        return ROUTE_HISTORY;
    if (tree_suffix(slash, &rest)) {
        c->tree_path = rest;
        return ROUTE_TREE;
    }
    return ROUTE_NONE;
}

/* Percent-decodes text[0..length) into a new NUL-terminated string; NULL (and a 400) when the
 * escapes are malformed or decode to a NUL. */
static char *decode_text(struct request_context *c, const char *text, size_t length, const char *what)
{
    char *out = malloc(length + 1);
    if (out == NULL) {
        respond_error(c, 503, "out of memory");
        return NULL;
    }
    size_t out_length;
    if (!http_percent_decode(text, length, (uint8_t *)out, &out_length) || memchr(out, '\0', out_length) != NULL) {
        free(out);
        respond_error(c, 400, what);
        return NULL;
    }
    out[out_length] = '\0';
    return out;
}

static bool decode_branch(struct request_context *c)
{
    if (c->branch_segment == NULL)
        return true;
    c->branch_name = decode_text(c, c->branch_segment, c->branch_segment_length, "malformed branch name");
    if (c->branch_name == NULL)
        return false;
    c->branch = c->branch_name;
    return true;
}

/* Splits and decodes the tree path: "" and "/" are the root; an empty step is 400. */
static bool decode_steps(struct request_context *c)
{
    const char *path = c->tree_path;
    if (path[0] == '\0' || strcmp(path, "/") == 0)
        return true;
    path++; /* the '/' after "tree" */
    size_t count = 1;
    for (const char *p = path; *p != '\0'; p++)
        count += *p == '/';
    if (count > c->state->config.max_depth) {
        respond_error(c, 400, "the path has more steps than max_depth allows");
        return false;
    }
    size_t length = strlen(path);
    c->steps = malloc(count * sizeof *c->steps);
    c->lengths = malloc(count * sizeof *c->lengths);
    c->decoded = malloc(length + 1);
    if (c->steps == NULL || c->lengths == NULL || c->decoded == NULL) {
        respond_error(c, 503, "out of memory");
        return false;
    }
    size_t used = 0;
    const char *start = path;
    for (size_t i = 0; i < count; i++) {
        const char *end = strchr(start, '/');
        size_t encoded = end != NULL ? (size_t)(end - start) : strlen(start);
        size_t step_length;
        if (encoded == 0) {
            respond_error(c, 400, "the path has an empty step");
            return false;
        }
        if (!http_percent_decode(start, encoded, c->decoded + used, &step_length)) {
            respond_error(c, 400, "malformed percent-escape in the path");
            return false;
        }
        c->steps[i] = (const char *)c->decoded + used;
        c->lengths[i] = step_length;
        used += step_length;
        start += encoded + 1;
    }
    c->step_count = count;
    return true;
}

/*
 * The value of `key` in the query, percent-decoded into a new string (*value, freed by the
 * caller): 1 when present once, 0 when absent, -1 (a 400 is set) when malformed or repeated.
 */
static int query_get(struct request_context *c, const char *key, char **value)
{
    const char *query = c->request->query;
    *value = NULL;
    if (query == NULL)
        return 0;
    size_t key_length = strlen(key);
    const char *piece = query;
    for (;;) {
        const char *end = strchr(piece, '&');
        size_t length = end != NULL ? (size_t)(end - piece) : strlen(piece);
        const char *equals = memchr(piece, '=', length);
        size_t name_length = equals != NULL ? (size_t)(equals - piece) : length;
        if (name_length == key_length && memcmp(piece, key, key_length) == 0) {
            if (*value != NULL) {
                free(*value);
                *value = NULL;
                respond_error(c, 400, "a query parameter is repeated");
                return -1;
            }
            const char *text = equals != NULL ? equals + 1 : piece + length;
            *value = decode_text(c, text, (size_t)(piece + length - text), "malformed query parameter");
            if (*value == NULL)
                return -1;
        }
        if (end == NULL)
            break;
        piece = end + 1;
    }
    return *value != NULL ? 1 : 0;
}

/* Commit info from X-Author, X-Message and X-Date, or the defaults. */
static void commit_info(struct request_context *c, struct irmin_info *info, const char *default_message)
{
    const struct http_request *request = c->request;
    uint64_t (*clock)(void) = c->state->wall_clock_s;
    info->date = request->has_date ? request->date : clock != NULL ? (int64_t)clock() : 0;
    info->author = request->author != NULL ? request->author : "http";
    info->message = request->message != NULL ? request->message : default_message;
}

/* "<METHOD> <path>" (the path as sent, without the query). */
static const char *default_message(struct request_context *c, const char *method)
{
    sbuf_append_str(&c->message, method);
    sbuf_append_str(&c->message, " ");
    sbuf_append_str(&c->message, c->request->path);
    sbuf_append(&c->message, "", 1);
    return c->message.failed ? "" : (const char *)c->message.data;
}

static bool store_has_room(struct request_context *c)
{
    uint64_t limit = c->state->config.max_store_bytes;
    if (limit == 0)
        return true;
    struct irmin_repo_stats stats;
    irmin_repo_stats(c->repo, &stats);
    if (stats.heap_bytes < limit)
        return true;
    respond_error(c, 507, "the store is full (max_store_bytes)");
    return false;
}

/* ---- finding paths without growing the store ---- */

static int compare_bytes(const uint8_t *a, size_t a_length, const uint8_t *b, size_t b_length)
{
    int order = memcmp(a, b, a_length < b_length ? a_length : b_length);
    if (order != 0)
        return order;
    return a_length < b_length ? -1 : a_length > b_length;
}

struct step_search {
    const uint8_t *bytes;
    size_t length;
    bool found;
    enum irmin_kind kind;
};

static int search_step(void *context, const uint8_t *step, size_t step_length, enum irmin_kind kind)
{
    struct step_search *search = context;
    int order = compare_bytes(step, step_length, search->bytes, search->length);
    if (order == 0) {
        search->found = true;
        search->kind = kind;
    }
    return order >= 0; /* entries come in step order: stop once at or past it */
}

/*
 * The path of the request's steps in `tree` and what it holds, building paths only out of
 * steps found in the tree (see the top of the file). IRMIN_NOT_FOUND when it is absent.
 */
static irmin_status find_path(struct request_context *c, const struct irmin_tree *tree, struct irmin_path **path,
                              enum irmin_kind *kind)
{
    *path = NULL;
    *kind = IRMIN_KIND_NODE;
    for (size_t depth = 0; depth < c->step_count; depth++) {
        struct irmin_path *prefix;
        irmin_status status = irmin_path_make(c->repo, depth, c->steps, c->lengths, &prefix);
        if (status != IRMIN_OK)
            return status;
        struct step_search search = {(const uint8_t *)c->steps[depth], c->lengths[depth], false, 0};
        status = irmin_tree_list(tree, prefix, search_step, &search);
        irmin_path_free(c->repo, prefix);
        if (status != IRMIN_OK || !search.found)
            return IRMIN_NOT_FOUND;
        if (search.kind == IRMIN_KIND_CONTENTS && depth + 1 < c->step_count)
            return IRMIN_NOT_FOUND;
        *kind = search.kind;
    }
    return irmin_path_make(c->repo, c->step_count, c->steps, c->lengths, path);
}

/* ---- reading and writing branches ---- */

static bool is_main(const struct request_context *c)
{
    return strcmp(c->branch, SERVE_MAIN_BRANCH) == 0;
}

/* The branch's head: IRMIN_OK, or IRMIN_NOT_FOUND; an invalid name is a 400 (returns it). */
static irmin_status branch_head(struct request_context *c, const char *branch, struct irmin_hash *head)
{
    irmin_status status = irmin_branch_find(c->repo, branch, head);
    if (status != IRMIN_OK && status != IRMIN_NOT_FOUND)
        respond_store_error(c, 400);
    return status;
}

/* The tree a read sees: the head's; main before its first commit is empty; another branch
 * that does not exist is 404. */
static bool read_tree(struct request_context *c, struct irmin_tree **tree)
{
    struct irmin_hash head;
    irmin_status status = branch_head(c, c->branch, &head);
    if (status == IRMIN_NOT_FOUND && !is_main(c))
        respond_store_error(c, 404);
    if (status != IRMIN_OK && !(status == IRMIN_NOT_FOUND && is_main(c)))
        return false;
    if (irmin_get_tree(c->repo, c->branch, tree) != IRMIN_OK) {
        respond_store_error(c, 500);
        return false;
    }
    return true;
}

/* Where a write starts: the branch's head and tree, or main's for a branch not created yet. */
struct write_base {
    bool has_head;
    struct irmin_hash head;        /* the branch's */
    bool from_main;                /* the branch does not exist; it starts at main_head */
    struct irmin_hash main_head;
    struct irmin_tree *tree;
};

static bool write_base(struct request_context *c, struct write_base *base)
{
    memset(base, 0, sizeof *base);
    irmin_status status = branch_head(c, c->branch, &base->head);
    if (status != IRMIN_OK && status != IRMIN_NOT_FOUND)
        return false;
    base->has_head = status == IRMIN_OK;
    if (!base->has_head && !is_main(c))
        base->from_main = irmin_branch_find(c->repo, SERVE_MAIN_BRANCH, &base->main_head) == IRMIN_OK;
    if (base->from_main)
        status = irmin_commit_tree(c->repo, &base->main_head, &base->tree);
    else
        status = irmin_get_tree(c->repo, c->branch, &base->tree);
    if (status != IRMIN_OK) {
        respond_store_error(c, 500);
        return false;
    }
    return true;
}

/* The write goes ahead: a new branch is created at main's head first. */
static bool write_begin(struct request_context *c, const struct write_base *base)
{
    if (base->from_main && irmin_branch_test_and_set(c->repo, c->branch, NULL, &base->main_head) != IRMIN_OK) {
        respond_store_error(c, 500);
        return false;
    }
    return true;
}

/* Commits the changed tree at the root of the branch and answers with the commit. */
static void write_commit(struct request_context *c, struct write_base *base, const char *method)
{
    struct irmin_info info;
    commit_info(c, &info, default_message(c, method));
    struct irmin_hash commit;
    if (irmin_set_tree(c->repo, c->branch, c->state->root, base->tree, &info, false, &commit) != IRMIN_OK) {
        respond_store_error(c, 500);
        return;
    }
    bool unchanged = (base->has_head && irmin_hash_equal(&commit, &base->head)) ||
                     (base->from_main && irmin_hash_equal(&commit, &base->main_head));
    int status = c->request->method == HTTP_PUT && !unchanged ? 201 : 200;
    respond_commit(c, status, &commit);
}

/* ---- /tree ---- */

static int list_entry(void *context, const uint8_t *step, size_t step_length, enum irmin_kind kind)
{
    struct json *json = context;
    json_object_begin(json);
    json_key(json, "step");
    json_string(json, step, step_length);
    json_key(json, "kind");
    json_cstring(json, kind == IRMIN_KIND_NODE ? "node" : "contents");
    json_object_end(json);
    return json->out->failed; /* stop once the response is over its limit */
}

static void tree_get(struct request_context *c)
{
    struct irmin_tree *tree;
    if (!read_tree(c, &tree))
        return;
    struct irmin_path *path;
    enum irmin_kind kind;
    if (find_path(c, tree, &path, &kind) != IRMIN_OK) {
        irmin_tree_free(tree);
        respond_error(c, 404, "no such path");
        return;
    }
    if (kind == IRMIN_KIND_CONTENTS) {
        const uint8_t *value;
        size_t length;
        if (irmin_tree_find(tree, path, &value, &length) != IRMIN_OK) {
            respond_store_error(c, 500);
            irmin_tree_free(tree);
        } else {
            c->response->status = 200;
            c->response->content_type = SERVE_BYTES;
            c->response->contents = length > 0 ? value : no_bytes;
            c->response->contents_length = length;
            c->response->hold = tree; /* `value` points into it until the response is written */
        }
    } else {
        struct json json;
        respond_json(c, 200, &json);
        json_object_begin(&json);
        json_key(&json, "entries");
        json_array_begin(&json);
        irmin_tree_list(tree, path, list_entry, &json);
        json_array_end(&json);
        json_object_end(&json);
        irmin_tree_free(tree);
    }
    irmin_path_free(c->repo, path);
}

static void tree_put(struct request_context *c, const uint8_t *body, size_t body_length)
{
    struct write_base base;
    if (!store_has_room(c) || !write_base(c, &base))
        return;
    struct irmin_path *path;
    if (irmin_path_make(c->repo, c->step_count, c->steps, c->lengths, &path) != IRMIN_OK) {
        respond_store_error(c, 400);
        irmin_tree_free(base.tree);
        return;
    }
    irmin_status status = irmin_tree_add(base.tree, path, body_length > 0 ? body : no_bytes, body_length);
    irmin_path_free(c->repo, path);
    if (status != IRMIN_OK)
        respond_store_error(c, 400);
    else if (write_begin(c, &base))
        write_commit(c, &base, "PUT");
    irmin_tree_free(base.tree);
}

static void tree_delete(struct request_context *c)
{
    struct write_base base;
    if (!store_has_room(c) || !write_base(c, &base))
        return;
    struct irmin_path *path;
    enum irmin_kind kind;
    if (find_path(c, base.tree, &path, &kind) != IRMIN_OK) {
        respond_error(c, 404, "no such path");
    } else {
        irmin_status status = irmin_tree_remove(base.tree, path);
        irmin_path_free(c->repo, path);
        if (status != IRMIN_OK)
            respond_store_error(c, 500);
        else if (write_begin(c, &base))
            write_commit(c, &base, "DELETE");
    }
    irmin_tree_free(base.tree);
}

/* ---- /head, /history, /branches ---- */

/* The head of the request's branch, or a 404 (400 for an invalid name). */
static bool existing_head(struct request_context *c, struct irmin_hash *head)
{
    irmin_status status = branch_head(c, c->branch, head);
    if (status == IRMIN_NOT_FOUND)
        respond_error(c, 404, is_main(c) ? "the branch has no commits yet" : irmin_repo_error(c->repo));
    return status == IRMIN_OK;
}

static void head_get(struct request_context *c)
{
    struct irmin_hash head;
    struct irmin_commit_view view;
    if (!existing_head(c, &head))
        return;
    if (irmin_commit_read(c->repo, &head, &view) != IRMIN_OK) {
        respond_store_error(c, 500);
        return;
    }
    struct json json;
    respond_json(c, 200, &json);
    json_object_begin(&json);
    json_key(&json, "commit");
    json_hash(&json, &head);
    json_key(&json, "tree");
    json_hash(&json, &view.node);
    json_object_end(&json);
}

struct history_walk {
    struct irmin_repo *repo;
    struct json *json;
    uint64_t remaining;
};

static int history_visit(void *context, const struct irmin_hash *commit, size_t distance)
{
    struct history_walk *walk = context;
    struct irmin_commit_view view;
    (void)distance;
    if (walk->remaining == 0 || irmin_commit_read(walk->repo, commit, &view) != IRMIN_OK)
        return 1;
    walk->remaining--;
    struct json *json = walk->json;
    json_object_begin(json);
    json_key(json, "commit");
    json_hash(json, commit);
    json_key(json, "parents");
    json_array_begin(json);
    for (size_t i = 0; i < view.parent_count; i++)
        json_hash(json, &view.parents[i]);
    json_array_end(json);
    json_key(json, "date");
    json_i64(json, view.date);
    json_key(json, "author");
    json_cstring(json, view.author);
    json_key(json, "message");
    json_cstring(json, view.message);
    json_object_end(json);
    return json->out->failed;
}

static bool parse_limit(const char *text, uint64_t *limit)
{
    uint64_t value = 0;
    if (text[0] == '\0')
        return false;
    for (const char *p = text; *p != '\0'; p++) {
        if (*p < '0' || *p > '9' || value > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
            return false;
        value = value * 10 + (uint64_t)(*p - '0');
    }
    *limit = value;
    return true;
}

static void history_get(struct request_context *c)
{
    char *limit_text;
    uint64_t limit = UINT64_MAX;
    int found = query_get(c, "limit", &limit_text);
    if (found < 0)
        return;
    if (found > 0) {
        bool valid = parse_limit(limit_text, &limit);
        free(limit_text);
        if (!valid) {
            respond_error(c, 400, "limit must be a non-negative decimal integer");
            return;
        }
    }
    struct irmin_hash head;
    irmin_status status = branch_head(c, c->branch, &head);
    if (status == IRMIN_NOT_FOUND && !is_main(c))
        respond_store_error(c, 404);
    if (status != IRMIN_OK && !(status == IRMIN_NOT_FOUND && is_main(c)))
        return;
    struct json json;
    respond_json(c, 200, &json);
    json_array_begin(&json);
    if (status == IRMIN_OK) {
        struct history_walk walk = {c->repo, &json, limit};
        irmin_history(c->repo, &head, SIZE_MAX, history_visit, &walk);
    }
    json_array_end(&json);
}

static int branch_visit(void *context, const char *name, const struct irmin_hash *commit)
{
    struct json *json = context;
    json_object_begin(json);
    json_key(json, "name");
    json_cstring(json, name);
    json_key(json, "commit");
    json_hash(json, commit);
    json_object_end(json);
    return json->out->failed;
}

static void branches_get(struct request_context *c)
{
    struct json json;
    respond_json(c, 200, &json);
    json_array_begin(&json);
    irmin_branch_list(c->repo, branch_visit, &json);
    json_array_end(&json);
}

/* ---- /merge ---- */

static void merge_conflict(struct request_context *c, const struct irmin_hash *ours, const struct irmin_hash *theirs)
{
    const char *message = irmin_repo_error(c->repo);
    struct json json;
    respond_json(c, 409, &json);
    json_object_begin(&json);
    json_key(&json, "error");
    json_cstring(&json, "merge conflict");
    json_key(&json, "message");
    json_cstring(&json, message);
    merge_report_conflicts(c->repo, ours, theirs, message, 100, &json);
    json_object_end(&json);
}

/* Merges branch `from` into branch `into` (created from main's head if it does not exist). */
static void merge_branches(struct request_context *c, const char *from, const char *into)
{
    struct irmin_hash theirs;
    irmin_status status = branch_head(c, from, &theirs);
    if (status == IRMIN_NOT_FOUND)
        respond_store_error(c, 404);
    if (status != IRMIN_OK)
        return;
    struct irmin_hash into_head;
    status = branch_head(c, into, &into_head);
    if (status != IRMIN_OK && status != IRMIN_NOT_FOUND)
        return;
    bool into_exists = status == IRMIN_OK;
    /* ours: into's head, or main's for a branch not created yet, or nothing (then into = from) */
    struct irmin_hash ours;
    bool has_ours = false;
    if (into_exists) {
        ours = into_head;
        has_ours = true;
    } else if (strcmp(into, SERVE_MAIN_BRANCH) != 0) {
        has_ours = irmin_branch_find(c->repo, SERVE_MAIN_BRANCH, &ours) == IRMIN_OK;
    }
    if (!store_has_room(c))
        return;

    struct irmin_hash merged = theirs;
    if (has_ours) {
        sbuf_append_str(&c->message, "merge ");
        sbuf_append_str(&c->message, from);
        sbuf_append_str(&c->message, " into ");
        sbuf_append_str(&c->message, into);
        sbuf_append(&c->message, "", 1);
        struct irmin_info info;
        commit_info(c, &info, c->message.failed ? "merge" : (const char *)c->message.data);
        status = irmin_merge_commits(c->repo, &ours, &theirs, &info, &merged);
        if (status == IRMIN_CONFLICT) {
            merge_conflict(c, &ours, &theirs);
            return;
        }
        if (status != IRMIN_OK) {
            respond_store_error(c, 500);
            return;
        }
    }
    if (irmin_branch_test_and_set(c->repo, into, into_exists ? &into_head : NULL, &merged) != IRMIN_OK)
        respond_store_error(c, 500);
    else
        respond_commit(c, 200, &merged);
}

static void merge_post(struct request_context *c)
{
    char *from = NULL;
    char *into = NULL;
    int found_from = query_get(c, "from", &from);
    int found_into = found_from < 0 ? 0 : query_get(c, "into", &into);
    if (found_from == 0 || (found_from > 0 && found_into == 0))
        respond_error(c, 400, "merge needs ?from=<branch>&into=<branch>");
    else if (found_from > 0 && found_into > 0)
        merge_branches(c, from, into);
    free(from);
    free(into);
}

/* ---- /stats ---- */

static void stats_get(struct request_context *c)
{
    const struct serve_config *config = &c->state->config;
    const struct serve_stats *counters = &c->state->stats;
    struct irmin_repo_stats store;
    irmin_repo_stats(c->repo, &store);
    struct json json;
    respond_json(c, 200, &json);
    json_object_begin(&json);
    json_key(&json, "objects");
    json_object_begin(&json);
    json_key(&json, "contents");
    json_u64(&json, store.contents);
    json_key(&json, "nodes");
    json_u64(&json, store.nodes);
    json_key(&json, "commits");
    json_u64(&json, store.commits);
    json_object_end(&json);
    json_key(&json, "branches");
    json_u64(&json, store.branches);
    json_key(&json, "steps");
    json_u64(&json, store.steps);
    json_key(&json, "store_heap_bytes");
    json_u64(&json, store.heap_bytes);
    json_key(&json, "heap_in_use");
    json_u64(&json, config->heap_in_use != NULL ? config->heap_in_use() : 0);
    json_key(&json, "connections");
    json_object_begin(&json);
    json_key(&json, "open");
    json_u64(&json, counters->connections_open);
    json_key(&json, "served");
    json_u64(&json, counters->connections_served);
    json_key(&json, "refused");
    json_u64(&json, counters->connections_refused);
    json_object_end(&json);
    json_key(&json, "requests");
    json_u64(&json, counters->requests_served);
    json_key(&json, "responses");
    json_object_begin(&json);
    static const char *const classes[] = {"2xx", "3xx", "4xx", "5xx"};
    for (unsigned i = 0; i < 4; i++) {
        json_key(&json, classes[i]);
        json_u64(&json, counters->responses[i + 2]);
    }
    json_object_end(&json);
    json_key(&json, "tcp");
    char tcp[2048];
    size_t tcp_length = 0;
    if (config->tcp_stats != NULL)
        tcp_length = config->tcp_stats(config->tcp_stats_ctx, tcp, sizeof tcp);
    if (tcp_length > 0 && tcp_length < sizeof tcp)
        json_raw(&json, tcp, tcp_length);
    else
        json_null(&json);
    json_object_end(&json);
}

/* ---- dispatch ---- */

static void request_done(struct request_context *c)
{
    free(c->branch_name);
    free(c->steps);
    free(c->lengths);
    free(c->decoded);
    sbuf_free(&c->message);
}

void routes_handle(struct serve_state *state, const struct http_request *request, const uint8_t *body,
                   size_t body_length, struct serve_response *response)
{
    struct request_context context;
    struct request_context *c = &context;
    memset(c, 0, sizeof *c);
    c->state = state;
    c->repo = state->repo;
    c->request = request;
    c->response = response;
    sbuf_init(&c->message, HTTP_MAX_HEAD + 64);
    enum http_method method = request->method;
    bool read = method == HTTP_GET || method == HTTP_HEAD;

    c->kind = match_route(c, request->path);
    const char *allow = SERVE_ALLOW_READ;
    bool allowed = read;
    if (c->kind == ROUTE_TREE && !(c->tree_path[0] == '\0' || strcmp(c->tree_path, "/") == 0)) {
        allow = SERVE_ALLOW_TREE;
        allowed = read || method == HTTP_PUT || method == HTTP_DELETE;
    } else if (c->kind == ROUTE_MERGE) {
        allow = SERVE_ALLOW_MERGE;
        allowed = method == HTTP_POST;
    }

    if (c->kind == ROUTE_NONE) {
        respond_error(c, 404, "no such route");
    } else if (!allowed) {
        respond_error(c, 405, "method not allowed");
        response->allow = allow;
    } else if (decode_branch(c) && (c->kind != ROUTE_TREE || decode_steps(c))) {
        switch (c->kind) {
        case ROUTE_TREE:
            if (read)
                tree_get(c);
            else if (method == HTTP_PUT)
                tree_put(c, body, body_length);
            else
                tree_delete(c);
            break;
        case ROUTE_HEAD: head_get(c); break;
        case ROUTE_HISTORY: history_get(c); break;
        case ROUTE_BRANCHES: branches_get(c); break;
        case ROUTE_MERGE: merge_post(c); break;
        case ROUTE_STATS: stats_get(c); break;
        case ROUTE_NONE: break;
        }
    }
    if (response->body.failed) /* a JSON response over max_response, or out of memory */
        respond_error(c, 500, "the response is larger than max_response or memory ran out");
    request_done(c);
}
