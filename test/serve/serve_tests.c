/*
 * test/serve/serve_tests.c: unit tests of the HTTP server in its native build (run by
 * `serve_native unit`, checked one vitest case each by test/serve/serve.test.ts). Each test
 * prints "ok N name" or "not ok N name: line L: what".
 *
 * These cover the message layer and the connection loop: parsing edge cases, split and
 * pipelined input, chunked bodies, limits, keep-alive, timeouts and stream errors. The routes
 * are tested from TypeScript through `serve_native stream` (JSON is easier to check there).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "harness.h"
#include "serve/serve_internal.h"
#include "serve_native.h"

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
            goto out;                                                                            \
        }                                                                                        \
    } while (0)

#define CHECK_INT(actual, expected)                                                              \
    do {                                                                                         \
        long long actual_ = (long long)(actual);                                                 \
        long long expected_ = (long long)(expected);                                             \
        if (actual_ != expected_) {                                                              \
            if (t->failure == NULL) {                                                            \
                t->failure = #actual " == " #expected;                                           \
                t->line = __LINE__;                                                              \
                snprintf(t->detail, sizeof t->detail, "got %lld, expected %lld", actual_,       \
                         expected_);                                                             \
            }                                                                                    \
            goto out;                                                                            \
        }                                                                                        \
    } while (0)

#define CHECK_STR(actual, expected)                                                              \
    do {                                                                                         \
        const char *actual_ = (actual);                                                          \
        const char *expected_ = (expected);                                                      \
        if (actual_ == NULL || strcmp(actual_, expected_) != 0) {                                \
            if (t->failure == NULL) {                                                            \
                t->failure = #actual " == " #expected;                                           \
                t->line = __LINE__;                                                              \
                snprintf(t->detail, sizeof t->detail, "got \"%.200s\", expected \"%.200s\"",    \
                         actual_ != NULL ? actual_ : "(null)", expected_);                       \
            }                                                                                    \
            goto out;                                                                            \
        }                                                                                        \
    } while (0)

/* ---- a server and one connection over a script ---- */

static struct log_capture capture;

static uint64_t fixed_clock(void)
{
    return 1700000000;
}

/* A server with the access log going to `capture`; config may be NULL (defaults). */
static struct serve_state *new_server(const struct serve_config *config)
{
    struct serve_config copy = {0};
    if (config != NULL)
        copy = *config;
    copy.log = log_capture_entry;
    copy.log_ctx = &capture;
    struct serve_state *state = serve_state_new(&copy, fixed_clock);
    if (state == NULL)
        abort();
    return state;
}

#define MAX_RESPONSES 16

struct exchange {
    struct script script;
    int rc;
    int count;                  /* responses parsed, -1 when the output is malformed */
    const char *why;
    struct response responses[MAX_RESPONSES];
};

/* Serves one connection: `input` read `split` bytes at a time (0: all that fits), then `end`. */
static void run_split(struct serve_state *state, struct exchange *x, const void *input, size_t length, size_t split,
                      long end)
{
    memset(x, 0, sizeof *x);
    script_init(&x->script, input, length);
    x->script.split = split;
    x->script.end = end;
    size_t first_log = capture.count;
    struct http_stream stream = script_stream(&x->script);
    if (!serve_admit(state))
        abort();
    x->rc = serve_connection(state, &stream);
    bool head_only[MAX_RESPONSES] = {0};
    for (size_t i = first_log; i < capture.count && i - first_log < MAX_RESPONSES; i++)
        head_only[i - first_log] = capture.entries[i % LOG_CAPTURE_MAX].head_only;
    x->count = parse_responses(x->script.output, x->script.output_length, head_only, MAX_RESPONSES, x->responses,
                               &x->why);
}

static void run(struct serve_state *state, struct exchange *x, const char *input)
{
    run_split(state, x, input, strlen(input), 0, 0);
}

static void exchange_free(struct exchange *x)
{
    script_free(&x->script);
}

/* The body of response i as a NUL-terminated string (static buffer). */
static const char *body_of(const struct exchange *x, int i)
{
    static char text[65536];
    if (i >= x->count)
        return "(no such response)";
    size_t length = x->responses[i].body_length;
    if (length >= sizeof text)
        length = sizeof text - 1;
    memcpy(text, x->responses[i].body, length);
    text[length] = '\0';
    return text;
}

static const char *header_of(const struct exchange *x, int i, const char *name)
{
    static char value[512];
    if (i >= x->count || !response_header(&x->responses[i], name, value, sizeof value))
        return "(absent)";
    return value;
}

#define H "Host: test\r\n"

/* ---- the JSON writer ---- */

static void test_json_escapes_every_byte(struct test_state *t)
{
    uint8_t bytes[256];
    for (int i = 0; i < 256; i++)
        bytes[i] = (uint8_t)i;
    struct sbuf out;
    sbuf_init(&out, 1 << 20);
    struct json json;
    json_init(&json, &out);
    json_string(&json, bytes, sizeof bytes);
    char expected[2048];
    size_t used = 0;
    expected[used++] = '"';
    for (int i = 0; i < 256; i++) {
        const char *named = i == '"' ? "\\\"" : i == '\\' ? "\\\\" : i == '\n' ? "\\n" : i == '\r' ? "\\r"
                          : i == '\t' ? "\\t" : i == '\b' ? "\\b" : i == '\f' ? "\\f" : NULL;
        if (named != NULL)
            used += (size_t)snprintf(expected + used, sizeof expected - used, "%s", named);
        else if (i < 0x20 || i >= 0x7f)
            used += (size_t)snprintf(expected + used, sizeof expected - used, "\\u%04x", i);
        else
            expected[used++] = (char)i;
    }
    expected[used++] = '"';
    CHECK(!out.failed);
    CHECK_INT(out.length, used);
    CHECK(memcmp(out.data, expected, used) == 0);
    CHECK(json_valid(out.data, out.length));
out:
    sbuf_free(&out);
}

static void test_json_structure_and_limits(struct test_state *t)
{
    struct sbuf out;
    sbuf_init(&out, 1024);
    struct json json;
    json_init(&json, &out);
    json_object_begin(&json);
    json_key(&json, "a");
    json_array_begin(&json);
    json_u64(&json, 1);
    json_i64(&json, INT64_MIN);
    json_object_begin(&json);
    json_key(&json, "b");
    json_null(&json);
    json_object_end(&json);
    json_array_end(&json);
    json_key(&json, "c");
    json_bool(&json, true);
    json_key(&json, "d");
    json_u64(&json, UINT64_MAX);
    json_key(&json, "e");
    json_array_begin(&json);
    json_array_end(&json);
    json_object_end(&json);
    sbuf_append(&out, "", 1);
    CHECK(!out.failed);
    CHECK_STR((const char *)out.data,
              "{\"a\":[1,-9223372036854775808,{\"b\":null}],\"c\":true,\"d\":18446744073709551615,\"e\":[]}");
    sbuf_free(&out);

    /* nesting past JSON_MAX_DEPTH fails instead of overflowing */
    sbuf_init(&out, 1024);
    json_init(&json, &out);
    for (int i = 0; i < JSON_MAX_DEPTH + 1; i++)
        json_array_begin(&json);
    CHECK(out.failed);
    sbuf_free(&out);

    /* the limit: an append that does not fit is dropped, and so is everything after it */
    sbuf_init(&out, 10);
    sbuf_append_str(&out, "0123456789");
    CHECK(!out.failed);
    sbuf_append_str(&out, "x");
    CHECK(out.failed);
    CHECK_INT(out.length, 10);
    sbuf_append_str(&out, "");
    CHECK_INT(out.length, 10);

    /* the error body */
    sbuf_free(&out);
    sbuf_init(&out, 1024);
    json_error_body(&out, "a \"quoted\"\n\x01 message");
    sbuf_append(&out, "", 1);
    CHECK_STR((const char *)out.data, "{\"error\":\"a \\\"quoted\\\"\\n\\u0001 message\"}");
out:
    sbuf_free(&out);
}

/* ---- http.c ---- */

/* Parses a head given as a C string; returns the status (0 ok) and fills *request. */
static int parse(const char *text, struct http_request *request, const char **error)
{
    static char head[HTTP_MAX_HEAD + 1];
    size_t length = strlen(text);
    memcpy(head, text, length + 1);
    *error = "";
    return http_parse_head(head, length, request, error);
}

static void test_parse_request_line(struct test_state *t)
{
    static const struct {
        const char *head;
        int status;
        enum http_method method;
        const char *path;
        const char *query;
        unsigned minor;
    } cases[] = {
        {"GET /tree/a HTTP/1.1\r\n" H "\r\n", 0, HTTP_GET, "/tree/a", NULL, 1},
        {"HEAD /x?y=1&z HTTP/1.1\r\n" H "\r\n", 0, HTTP_HEAD, "/x", "y=1&z", 1},
        {"PUT / HTTP/1.0\r\n\r\n", 0, HTTP_PUT, "/", NULL, 0},
        {"DELETE /a HTTP/1.1\n" H "\n", 0, HTTP_DELETE, "/a", NULL, 1},         /* bare LF */
        {"POST /merge? HTTP/1.1\r\n" H "\r\n", 0, HTTP_POST, "/merge", "", 1},
        {"PATCH /a HTTP/1.1\r\n" H "\r\n", 0, HTTP_METHOD_OTHER, "/a", NULL, 1},
        {"GET http://example.com/tree/a?q HTTP/1.1\r\n" H "\r\n", 0, HTTP_GET, "/tree/a", "q", 1},
        {"GET HTTP://example.com HTTP/1.1\r\n" H "\r\n", 0, HTTP_GET, "/", NULL, 1},
        {"OPTIONS * HTTP/1.1\r\n" H "\r\n", 0, HTTP_METHOD_OTHER, "*", NULL, 1},
        {"GET /a HTTP/1.9\r\n" H "\r\n", 0, HTTP_GET, "/a", NULL, 9},
        {"GET /a HTTP/2.0\r\n" H "\r\n", 505, 0, NULL, NULL, 0},
        {"GET /a HTTP/0.9\r\n" H "\r\n", 505, 0, NULL, NULL, 0},
        {"GET /a http/1.1\r\n" H "\r\n", 400, 0, NULL, NULL, 0},
        {"GET /a HTTP/1.1 \r\n" H "\r\n", 400, 0, NULL, NULL, 0},
        {"GET  /a HTTP/1.1\r\n" H "\r\n", 400, 0, NULL, NULL, 0},
        {"GET /a  HTTP/1.1\r\n" H "\r\n", 400, 0, NULL, NULL, 0},
        {"GET /a\r\n" H "\r\n", 400, 0, NULL, NULL, 0},
        {" GET /a HTTP/1.1\r\n" H "\r\n", 400, 0, NULL, NULL, 0},
        {"G(T /a HTTP/1.1\r\n" H "\r\n", 400, 0, NULL, NULL, 0},
        {"GET a HTTP/1.1\r\n" H "\r\n", 400, 0, NULL, NULL, 0},
        {"GET /a#frag HTTP/1.1\r\n" H "\r\n", 400, 0, NULL, NULL, 0},
        {"GET /\x80 HTTP/1.1\r\n" H "\r\n", 400, 0, NULL, NULL, 0},
        {"GET /a\tb HTTP/1.1\r\n" H "\r\n", 400, 0, NULL, NULL, 0},
        {"GET /a HTTP/1.1\rX\r\n" H "\r\n", 400, 0, NULL, NULL, 0},
        {"GET 1http://x/ HTTP/1.1\r\n" H "\r\n", 400, 0, NULL, NULL, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct http_request request;
        const char *error;
        int status = parse(cases[i].head, &request, &error);
        snprintf(t->detail, sizeof t->detail, "case %zu (%s): status %d (%s)", i, cases[i].head, status, error);
        CHECK(status == cases[i].status);
        if (status != 0)
            continue;
        CHECK(request.method == cases[i].method);
        CHECK(strcmp(request.path, cases[i].path) == 0);
        CHECK((request.query == NULL) == (cases[i].query == NULL));
        CHECK(request.query == NULL || strcmp(request.query, cases[i].query) == 0);
        CHECK(request.version_minor == cases[i].minor);
    }
    t->detail[0] = '\0';
out:;
}

static void test_parse_headers(struct test_state *t)
{
    static const struct {
        const char *headers;   /* after "PUT /a HTTP/1.1\r\n" */
        int status;
    } cases[] = {
        {H "X-Other: anything \t goes\r\n\r\n", 0},
        {H "Empty:\r\n\r\n", 0},
        {H "X-Folded: a\r\n continued\r\n\r\n", 400},                /* obsolete folding */
        {H "X-Folded: a\r\n\tcontinued\r\n\r\n", 400},
        {H "X-Space : a\r\n\r\n", 400},                             /* whitespace before the colon */
        {H "X-Ctl: a\x01b\r\n\r\n", 400},
        {H "X-Del: a\x7f\r\n\r\n", 400},
        {H "X-Obs: caf\xc3\xa9\r\n\r\n", 0},                          /* obs-text is fine */
        {H ": no name\r\n\r\n", 400},
        {H "No colon\r\n\r\n", 400},
        {H "Bad(name): x\r\n\r\n", 400},
        {"\r\n", 400},                                                 /* no Host in 1.1 */
        {H H "\r\n", 400},                                             /* two Hosts */
        {H "Content-Length: 5\r\n\r\n", 0},
        {H "Content-Length: 5\r\nContent-Length: 5\r\n\r\n", 0},
        {H "Content-Length: 5, 5\r\n\r\n", 0},
        {H "Content-Length: 5\r\nContent-Length: 6\r\n\r\n", 400},
        {H "Content-Length: 5, 6\r\n\r\n", 400},
        {H "Content-Length: -1\r\n\r\n", 400},
        {H "Content-Length: +1\r\n\r\n", 400},
        {H "Content-Length: 0x10\r\n\r\n", 400},
        {H "Content-Length: 1 2\r\n\r\n", 400},
        {H "Content-Length:\r\n\r\n", 400},
        {H "Content-Length: 5,\r\n\r\n", 400},
        {H "Content-Length: 18446744073709551615\r\n\r\n", 0},
        {H "Content-Length: 18446744073709551616\r\n\r\n", 400},
        {H "Content-Length: 99999999999999999999999\r\n\r\n", 400},
        {H "Transfer-Encoding: chunked\r\n\r\n", 0},
        {H "Transfer-Encoding: Chunked\r\n\r\n", 0},
        {H "Transfer-Encoding: gzip, chunked\r\n\r\n", 501},
        {H "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n", 501},
        {H "Transfer-Encoding: chunked, gzip\r\n\r\n", 400},
        {H "Transfer-Encoding: gzip\r\n\r\n", 400},
        {H "Transfer-Encoding: chunked, chunked\r\n\r\n", 400},
        {H "Transfer-Encoding:\r\n\r\n", 400},
        {H "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 400},
        {H "Expect: 100-continue\r\n\r\n", 0},
        {H "Expect: 100-Continue\r\n\r\n", 0},
        {H "Expect: something\r\n\r\n", 417},
        {H "X-Date: -12\r\n\r\n", 0},
        {H "X-Date: 9223372036854775807\r\n\r\n", 0},
        {H "X-Date: 9223372036854775808\r\n\r\n", 400},
        {H "X-Date: -9223372036854775808\r\n\r\n", 0},
        {H "X-Date: 12a\r\n\r\n", 400},
        {H "X-Date: \r\n\r\n", 400},
        {H "X-Date: 1\r\nX-Date: 1\r\n\r\n", 400},
        {H "X-Author: a\r\nX-Author: b\r\n\r\n", 400},
        {H "X-Message: a\r\nx-message: b\r\n\r\n", 400},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char head[1024];
        snprintf(head, sizeof head, "PUT /a HTTP/1.1\r\n%s", cases[i].headers);
        struct http_request request;
        const char *error;
        int status = parse(head, &request, &error);
        snprintf(t->detail, sizeof t->detail, "case %zu (%s): status %d (%s)", i, cases[i].headers, status, error);
        CHECK(status == cases[i].status);
    }
    t->detail[0] = '\0';

    struct http_request request;
    const char *error;
    CHECK_INT(parse("PUT /a HTTP/1.1\r\n" H "content-length: 0012\r\nX-Author:  me  \r\nX-Message: hi there\r\n"
                    "X-Date: -5\r\n\r\n",
                    &request, &error),
              0);
    CHECK(request.has_length && request.content_length == 12 && !request.chunked);
    CHECK_STR(request.author, "me");
    CHECK_STR(request.message, "hi there");
    CHECK(request.has_date && request.date == -5);
    CHECK_STR(request.method_name, "PUT");
out:;
}

static void test_parse_connection(struct test_state *t)
{
    static const struct {
        const char *head;
        bool keep_alive;
    } cases[] = {
        {"GET / HTTP/1.1\r\n" H "\r\n", true},
        {"GET / HTTP/1.1\r\n" H "Connection: close\r\n\r\n", false},
        {"GET / HTTP/1.1\r\n" H "Connection: Keep-Alive, CLOSE\r\n\r\n", false},
        {"GET / HTTP/1.1\r\n" H "Connection: upgrade\r\n\r\n", true},
        {"GET / HTTP/1.0\r\n\r\n", false},
        {"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true},
        {"GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", false},
        {"PUT / HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct http_request request;
        const char *error;
        snprintf(t->detail, sizeof t->detail, "case %zu", i);
        CHECK_INT(parse(cases[i].head, &request, &error), 0);
        CHECK(request.keep_alive == cases[i].keep_alive);
    }
    t->detail[0] = '\0';
out:;
}

static void test_chunk_lines(struct test_state *t)
{
    static const struct {
        const char *line;
        bool valid;
        uint64_t size;
    } cases[] = {
        {"0", true, 0},
        {"1a", true, 26},
        {"1A", true, 26},
        {"0010", true, 16},
        {"5;name=value", true, 5},
        {"5 ; name = \"quoted\"", true, 5},
        {"5\t;x", true, 5},
        {"ffffffffffffffff", true, UINT64_MAX},
        {"10000000000000000", false, 0},
        {"", false, 0},
        {";x", false, 0},
        {"g", false, 0},
        {"5 x", false, 0},
        {"-5", false, 0},
        {"5;\x01", false, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint64_t size = 12345;
        bool valid = http_parse_chunk_line(cases[i].line, strlen(cases[i].line), &size);
        snprintf(t->detail, sizeof t->detail, "case %zu (%s)", i, cases[i].line);
        CHECK(valid == cases[i].valid);
        CHECK(!valid || size == cases[i].size);
    }
    t->detail[0] = '\0';
out:;
}

static void test_percent_decoding(struct test_state *t)
{
    uint8_t out[64];
    size_t length;
    CHECK(http_percent_decode("a%2Fb%00%ff%C3%A9+", 18, out, &length));
    CHECK_INT(length, 8);
    CHECK(memcmp(out, "a/b\0\xff\xc3\xa9+", 8) == 0);
    CHECK(!http_percent_decode("%", 1, out, &length));
    CHECK(!http_percent_decode("%4", 2, out, &length));
    CHECK(!http_percent_decode("%4g", 3, out, &length));
    CHECK(!http_percent_decode("a%g4", 4, out, &length));
    CHECK(http_percent_decode("", 0, out, &length) && length == 0);

    struct sbuf text;
    sbuf_init(&text, 1024);
    serve_append_step(&text, (const uint8_t *)"a b/%\x00\xff-._~", 11);
    sbuf_append(&text, "", 1);
    CHECK_STR((const char *)text.data, "a%20b%2F%25%00%FF-._~");
out:
    sbuf_free(&text);
}

static void test_date_header(struct test_state *t)
{
    static const struct {
        uint64_t seconds;
        const char *text;
    } cases[] = {
        {0, "Thu, 01 Jan 1970 00:00:00 GMT"},
        {784111777, "Sun, 06 Nov 1994 08:49:37 GMT"},
        {951782400, "Tue, 29 Feb 2000 00:00:00 GMT"},
        {1700000000, "Tue, 14 Nov 2023 22:13:20 GMT"},
        {4102444799, "Thu, 31 Dec 2099 23:59:59 GMT"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct sbuf out;
        sbuf_init(&out, 64);
        http_format_date(&out, cases[i].seconds);
        sbuf_append(&out, "", 1);
        bool same = strcmp((const char *)out.data, cases[i].text) == 0;
        snprintf(t->detail, sizeof t->detail, "%s", (const char *)out.data);
        sbuf_free(&out);
        CHECK(same);
    }
    t->detail[0] = '\0';
out:;
}

/* ---- the connection loop ---- */

static void test_pipelined_requests_in_one_read(struct test_state *t)
{
    struct serve_state *state = new_server(NULL);
    struct exchange x;
    run(state, &x,
        "PUT /tree/a HTTP/1.1\r\n" H "Content-Length: 3\r\nX-Date: 1\r\n\r\nonePUT /tree/b HTTP/1.1\r\n" H
        "Transfer-Encoding: chunked\r\n\r\n3\r\ntwo\r\n0\r\n\r\nGET /tree/a HTTP/1.1\r\n" H
        "\r\nGET /tree/b HTTP/1.1\r\n" H "\r\nGET /tree/c HTTP/1.1\r\n" H "\r\n");
    CHECK_INT(x.count, 5);
    CHECK_INT(x.rc, 0);
    CHECK_INT(x.responses[0].status, 201);
    CHECK_INT(x.responses[1].status, 201);
    CHECK_INT(x.responses[2].status, 200);
    CHECK_STR(body_of(&x, 2), "one");
    CHECK_STR(header_of(&x, 2, "Content-Type"), "application/octet-stream");
    CHECK_STR(body_of(&x, 3), "two");
    CHECK_INT(x.responses[4].status, 404);
    CHECK_STR(body_of(&x, 4), "{\"error\":\"no such path\"}");
    CHECK_STR(header_of(&x, 4, "Content-Type"), "application/json");
    CHECK_STR(header_of(&x, 0, "Date"), "Tue, 14 Nov 2023 22:13:20 GMT");
    CHECK_STR(header_of(&x, 0, "Connection"), "(absent)");
    CHECK(x.script.reads <= 3); /* one read held all five requests */
out:
    exchange_free(&x);
    serve_state_free(state);
}

/* The same conversation gives the same bytes however the input is split. */
static void test_split_reads_give_the_same_output(struct test_state *t)
{
    static const char input[] =
        "\r\n\r\nPUT /tree/dir/file HTTP/1.1\r\n" H "Content-Length: 11\r\nX-Date: 7\r\nX-Author: a\r\n\r\n"
        "hello world"
        "PUT /branch/dev/tree/x%2Fy HTTP/1.1\n" H "Transfer-Encoding: chunked\n\n"
        "4;ext=1\nabcd\n2\r\nef\r\n0\r\nTrailer: x\r\n\r\n"
        "GET /tree/dir HTTP/1.1\r\n" H "\r\n"
        "HEAD /tree/dir/file HTTP/1.1\r\n" H "\r\n"
        "GET /branch/dev/tree/x%2fy HTTP/1.1\r\n" H "\r\n"
        "GET /history HTTP/1.1\r\n" H "Connection: close\r\n\r\n";
    struct exchange reference;
    struct exchange x;
    memset(&x, 0, sizeof x);
    struct serve_state *state = new_server(NULL);
    run_split(state, &reference, input, sizeof input - 1, 0, 0);
    serve_state_free(state);
    state = NULL;
    CHECK_INT(reference.count, 6);
    CHECK_INT(reference.responses[0].status, 201);
    CHECK_INT(reference.responses[1].status, 201);
    CHECK_STR(body_of(&reference, 2), "{\"entries\":[{\"step\":\"file\",\"kind\":\"contents\"}]}");
    CHECK_INT(reference.responses[3].content_length, 11);
    CHECK_INT(reference.responses[3].body_length, 0);
    CHECK_STR(body_of(&reference, 4), "abcdef");
    CHECK_STR(header_of(&reference, 5, "Connection"), "close");

    static const size_t splits[] = {1, 2, 3, 7, 64, 1000};
    for (size_t i = 0; i < sizeof splits / sizeof splits[0] + 3; i++) {
        state = new_server(NULL);
        memset(&x, 0, sizeof x);
        script_init(&x.script, input, sizeof input - 1);
        if (i < sizeof splits / sizeof splits[0]) {
            x.script.split = splits[i];
        } else {
            x.script.split = 20;
            x.script.random = 0x9e3779b97f4a7c15ULL * (i + 1);
        }
        struct http_stream stream = script_stream(&x.script);
        serve_admit(state);
        x.rc = serve_connection(state, &stream);
        snprintf(t->detail, sizeof t->detail, "split variant %zu", i);
        CHECK_INT(x.rc, 0);
        CHECK_INT(x.script.output_length, reference.script.output_length);
        CHECK(memcmp(x.script.output, reference.script.output, x.script.output_length) == 0);
        exchange_free(&x);
        serve_state_free(state);
        state = NULL;
    }
    t->detail[0] = '\0';
out:
    exchange_free(&reference);
    exchange_free(&x);
    serve_state_free(state);
}

static void test_chunked_bodies(struct test_state *t)
{
    struct serve_state *state = new_server(NULL);
    struct exchange x;
    /* extensions, upper-case hex, leading zeros, trailers skipped */
    run(state, &x,
        "PUT /tree/c HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n"
        "3;name=value;other\r\nabc\r\n00A ; q=\"x\"\r\n0123456789\r\n0;last\r\nTrailer-A: 1\r\nTrailer-B: 2\r\n\r\n"
        "GET /tree/c HTTP/1.1\r\n" H "\r\n"
        "PUT /tree/empty HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
        "GET /tree/empty HTTP/1.1\r\n" H "\r\n");
    CHECK_INT(x.count, 4);
    CHECK_INT(x.responses[0].status, 201);
    CHECK_STR(body_of(&x, 1), "abc0123456789");
    CHECK_INT(x.responses[2].status, 201);
    CHECK_INT(x.responses[3].status, 200);
    CHECK_INT(x.responses[3].content_length, 0);
    exchange_free(&x);

    static const struct {
        const char *body;
        int status;
    } bad[] = {
        {"zz\r\nabc\r\n0\r\n\r\n", 400},                 /* bad chunk size */
        {"\r\nabc\r\n0\r\n\r\n", 400},                   /* empty chunk size */
        {"3\r\nabcX\r\n0\r\n\r\n", 400},                 /* data not followed by CRLF */
        {"3\r\nabc", 400},                               /* truncated in the data */
        {"3\r\nab", 400},
        {"3\r\nabc\r\n", 400},                           /* no last chunk */
        {"0\r\nTrailer: 1\r\n", 400},                    /* truncated trailers */
        {"10000000000000000\r\n", 400},                  /* size overflows 64 bits */
        {"ffffffffffffffff\r\n", 413},                   /* over max_body */
        {"5 x\r\nabcde\r\n0\r\n\r\n", 400},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char input[512];
        int length = snprintf(input, sizeof input,
                              "PUT /tree/c HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n%s", bad[i].body);
        run_split(state, &x, input, (size_t)length, 0, 0);
        snprintf(t->detail, sizeof t->detail, "case %zu: %s", i, x.why != NULL ? x.why : "");
        CHECK_INT(x.count, 1);
        CHECK_INT(x.responses[0].status, bad[i].status);
        CHECK_STR(header_of(&x, 0, "Connection"), "close");
        CHECK(json_valid(x.responses[0].body, x.responses[0].body_length));
        exchange_free(&x);
    }
    t->detail[0] = '\0';

    /* a chunk-size line with endless extensions */
    static char long_line[8192];
    int length = snprintf(long_line, sizeof long_line, "PUT /tree/c HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n5;");
    memset(long_line + length, 'x', sizeof long_line - (size_t)length);
    run_split(state, &x, long_line, sizeof long_line, 0, 0);
    CHECK_INT(x.count, 1);
    CHECK_INT(x.responses[0].status, 400);
out:
    exchange_free(&x);
    serve_state_free(state);
}

static void test_header_folding_closes(struct test_state *t)
{
    struct serve_state *state = new_server(NULL);
    struct exchange x;
    run(state, &x, "GET /head HTTP/1.1\r\n" H "X-A: 1\r\n  more\r\n\r\nGET /head HTTP/1.1\r\n" H "\r\n");
    CHECK_INT(x.count, 1);
    CHECK_INT(x.responses[0].status, 400);
    CHECK_STR(body_of(&x, 0), "{\"error\":\"obsolete header line folding is not accepted\"}");
    CHECK_STR(header_of(&x, 0, "Connection"), "close");
out:
    exchange_free(&x);
    serve_state_free(state);
}

/* A request whose head (request line, headers, the empty line) is exactly `size` bytes. */
static char *head_of_size(size_t size, const char *request_line)
{
    char *text = malloc(size + 1);
    int used = snprintf(text, size + 1, "%s\r\n" H "X-Pad: ", request_line);
    size_t pad = size - (size_t)used - 4;
    memset(text + used, 'p', pad);
    memcpy(text + used + pad, "\r\n\r\n", 5);
    return text;
}

static void test_head_limit(struct test_state *t)
{
    struct serve_state *state = new_server(NULL);
    struct exchange x;
    memset(&x, 0, sizeof x);
    char *at = head_of_size(HTTP_MAX_HEAD, "GET /head HTTP/1.1");
    char *over = head_of_size(HTTP_MAX_HEAD + 1, "GET /head HTTP/1.1");
    CHECK_INT(strlen(at), HTTP_MAX_HEAD);

    run(state, &x, at);
    CHECK_INT(x.count, 1);
    CHECK_INT(x.responses[0].status, 404); /* served (main has no commits yet) */
    exchange_free(&x);
    run_split(state, &x, at, HTTP_MAX_HEAD, 1, 0);
    CHECK_INT(x.count, 1);
    CHECK_INT(x.responses[0].status, 404);
    exchange_free(&x);

    run(state, &x, over);
    CHECK_INT(x.count, 1);
    CHECK_INT(x.responses[0].status, 431);
    CHECK_STR(header_of(&x, 0, "Connection"), "close");
    exchange_free(&x);
    run_split(state, &x, over, HTTP_MAX_HEAD + 1, 1, 0);
    CHECK_INT(x.count, 1);
    CHECK_INT(x.responses[0].status, 431);
    CHECK(x.script.position <= HTTP_MAX_HEAD + 1);
    exchange_free(&x);

    /* empty lines before the request line do not count */
    char *leading = malloc(HTTP_MAX_HEAD + 64);
    strcpy(leading, "\r\n\n\r\n");
    strcat(leading, at);
    run(state, &x, leading);
    free(leading);
    CHECK_INT(x.count, 1);
    CHECK_INT(x.responses[0].status, 404);
    exchange_free(&x);

    /* a request line with no end at all */
    char *endless = malloc(20000);
    memset(endless, 'a', 20000);
    memcpy(endless, "GET /", 5);
    run_split(state, &x, endless, 20000, 0, 0);
    free(endless);
    CHECK_INT(x.count, 1);
    CHECK_INT(x.responses[0].status, 431);
out:
    free(at);
    free(over);
    exchange_free(&x);
    serve_state_free(state);
}

static void test_body_limit(struct test_state *t)
{
    struct serve_config config = {.max_body = 100};
    struct serve_state *state = new_server(&config);
    struct exchange x;
    memset(&x, 0, sizeof x);
    size_t big = 1000000;
    char *input = malloc(big + 256);
    int used = snprintf(input, 256, "PUT /tree/a HTTP/1.1\r\n" H "Content-Length: %zu\r\n\r\n", big);
    memset(input + used, 'b', big);
    run_split(state, &x, input, (size_t)used + big, 0, 0);
    CHECK_INT(x.count, 1);
    CHECK_INT(x.responses[0].status, 413);
    CHECK_STR(header_of(&x, 0, "Connection"), "close");
    CHECK(x.script.position < 32 * 1024); /* answered without reading the body */
    exchange_free(&x);

    /* exactly max_body is fine, with Content-Length or chunked */
    used = snprintf(input, 256, "PUT /tree/a HTTP/1.1\r\n" H "Content-Length: 100\r\n\r\n");
    memset(input + used, 'c', 100);
    run_split(state, &x, input, (size_t)used + 100, 0, 0);
    CHECK_INT(x.count, 1);
    CHECK_INT(x.responses[0].status, 201);
    exchange_free(&x);

    used = snprintf(input, 256, "PUT /tree/a HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n32\r\n");
    memset(input + used, 'd', 50);
    used += 50;
    used += snprintf(input + used, 256, "\r\n32\r\n");
    memset(input + used, 'e', 50);
    used += 50;
    used += snprintf(input + used, 256, "\r\n0\r\n\r\n");
    run_split(state, &x, input, (size_t)used, 0, 0);
    CHECK_INT(x.count, 1);
    CHECK_INT(x.responses[0].status, 201);
    exchange_free(&x);

    /* one byte over in chunks: 413 once the total passes max_body */
    used = snprintf(input, 256, "PUT /tree/a HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\n\r\n64\r\n");
    memset(input + used, 'f', 100);
    used += 100;
    used += snprintf(input + used, 256, "\r\n1\r\nx\r\n0\r\n\r\n");
    run_split(state, &x, input, (size_t)used, 0, 0);
    CHECK_INT(x.count, 1);
    CHECK_INT(x.responses[0].status, 413);
out:
    free(input);
    exchange_free(&x);
    serve_state_free(state);
}

static void test_large_body_and_response(struct test_state *t)
{
    struct serve_state *state = new_server(NULL);
    struct exchange x;
    memset(&x, 0, sizeof x);
    size_t big = 300000; /* larger than the input buffer and the coalescing limit */
    char *input = malloc(big + 512);
    int used = snprintf(input, 256, "PUT /tree/big HTTP/1.1\r\n" H "Content-Length: %zu\r\n\r\n", big);
    for (size_t i = 0; i < big; i++)
        input[used + i] = (char)('a' + i % 26);
    used += (int)big;
    used += snprintf(input + used, 256, "GET /tree/big HTTP/1.1\r\n" H "\r\nHEAD /tree/big HTTP/1.1\r\n" H "\r\n");
    run_split(state, &x, input, (size_t)used, 0, 0);
    CHECK_INT(x.count, 3);
    CHECK_INT(x.responses[0].status, 201);
    CHECK_INT(x.responses[1].status, 200);
    CHECK_INT(x.responses[1].content_length, big);
    CHECK(memcmp(x.responses[1].body, input + used - big - (strlen("GET /tree/big HTTP/1.1\r\n" H "\r\nHEAD /tree/big HTTP/1.1\r\n" H "\r\n")), big) == 0);
    CHECK_INT(x.responses[2].content_length, big);
    CHECK_INT(x.responses[2].body_length, 0);
out:
    free(input);
    exchange_free(&x);
    serve_state_free(state);
}

static void test_bad_content_length_closes(struct test_state *t)
{
    static const char *const lengths[] = {"-1", "abc", "1, 2", "5\r\nContent-Length: 6", "", "1e3"};
    struct serve_state *state = new_server(NULL);
    struct exchange x;
    memset(&x, 0, sizeof x);
    for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
        char input[512];
        int length = snprintf(input, sizeof input,
                              "PUT /tree/a HTTP/1.1\r\n" H "Content-Length: %s\r\n\r\nabcdefGET /head HTTP/1.1\r\n" H "\r\n",
                              lengths[i]);
        run_split(state, &x, input, (size_t)length, 0, 0);
        snprintf(t->detail, sizeof t->detail, "Content-Length: %s", lengths[i]);
        CHECK_INT(x.count, 1);
        CHECK_INT(x.responses[0].status, 400);
        CHECK_STR(header_of(&x, 0, "Connection"), "close");
        exchange_free(&x);
    }
    t->detail[0] = '\0';

    /* a body cut short by the end of the stream */
    run(state, &x, "PUT /tree/a HTTP/1.1\r\n" H "Content-Length: 10\r\n\r\nabc");
    CHECK_INT(x.count, 1);
    CHECK_INT(x.responses[0].status, 400);
    CHECK_STR(body_of(&x, 0), "{\"error\":\"the connection closed in the middle of a request\"}");
out:
    exchange_free(&x);
    serve_state_free(state);
}

static void test_keep_alive_and_close(struct test_state *t)
{
    struct serve_state *state = new_server(NULL);
    struct exchange x;
    run(state, &x, "GET /branches HTTP/1.1\r\n" H "\r\nGET /branches HTTP/1.1\r\n" H "\r\n");
    CHECK_INT(x.count, 2);
    CHECK_STR(header_of(&x, 0, "Connection"), "(absent)");
    CHECK_INT(x.script.reads_at_end, 1); /* it read on until the end of the stream */
    exchange_free(&x);

    run(state, &x, "GET /branches HTTP/1.1\r\n" H "Connection: close\r\n\r\nGET /branches HTTP/1.1\r\n" H "\r\n");
    CHECK_INT(x.count, 1);
    CHECK_STR(header_of(&x, 0, "Connection"), "close");
    CHECK_INT(x.script.reads_at_end, 0);
    exchange_free(&x);

    run(state, &x, "GET /branches HTTP/1.0\r\n\r\nGET /branches HTTP/1.0\r\n\r\n");
    CHECK_INT(x.count, 1);
    CHECK_STR(header_of(&x, 0, "Connection"), "close");
    exchange_free(&x);

    run(state, &x,
        "GET /branches HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /branches HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
        "GET /branches HTTP/1.0\r\n\r\nGET /branches HTTP/1.0\r\n\r\n");
    CHECK_INT(x.count, 3);
    CHECK_STR(header_of(&x, 0, "Connection"), "keep-alive");
    CHECK_STR(header_of(&x, 1, "Connection"), "keep-alive");
    CHECK_STR(header_of(&x, 2, "Connection"), "close");
out:
    exchange_free(&x);
    serve_state_free(state);
}

static void test_timeouts_and_stream_errors(struct test_state *t)
{
    struct serve_state *state = new_server(NULL);
    struct exchange x;
    static const char one[] = "GET /branches HTTP/1.1\r\n" H "\r\n";

    /* idle after a request: closed quietly */
    run_split(state, &x, one, sizeof one - 1, 0, ERR_TIMEOUT);
    CHECK_INT(x.rc, 0);
    CHECK_INT(x.count, 1);
    exchange_free(&x);
    /* idle from the start */
    run_split(state, &x, "", 0, 0, ERR_TIMEOUT);
    CHECK_INT(x.rc, 0);
    CHECK_INT(x.script.output_length, 0);
    exchange_free(&x);
    /* empty lines do not start a request */
    run_split(state, &x, "\r\n\r\n", 4, 1, ERR_TIMEOUT);
    CHECK_INT(x.rc, 0);
    CHECK_INT(x.script.output_length, 0);
    exchange_free(&x);
    /* in the middle of a head, or of a body: 408 */
    run_split(state, &x, "GET /branches HTTP/1.1\r\nHo", 26, 0, ERR_TIMEOUT);
    CHECK_INT(x.rc, 0);
    CHECK_INT(x.count, 1);
    CHECK_INT(x.responses[0].status, 408);
    CHECK_STR(header_of(&x, 0, "Connection"), "close");
    exchange_free(&x);
    static const char partial_body[] = "PUT /tree/a HTTP/1.1\r\n" H "Content-Length: 5\r\n\r\nab";
    run_split(state, &x, partial_body, sizeof partial_body - 1, 0, ERR_TIMEOUT);
    CHECK_INT(x.count, 1);
    CHECK_INT(x.responses[0].status, 408);
    exchange_free(&x);

    /* errors: returned, nothing written */
    run_split(state, &x, one, sizeof one - 1, 0, ERR_CONNRESET);
    CHECK_INT(x.rc, ERR_CONNRESET);
    CHECK_INT(x.count, 1);
    exchange_free(&x);
    run_split(state, &x, "GET /bra", 8, 0, ERR_CANCELLED);
    CHECK_INT(x.rc, ERR_CANCELLED);
    CHECK_INT(x.script.output_length, 0);
    exchange_free(&x);
    run_split(state, &x, partial_body, sizeof partial_body - 1, 0, ERR_CONNRESET);
    CHECK_INT(x.rc, ERR_CONNRESET);
    CHECK_INT(x.script.output_length, 0);
    exchange_free(&x);

    /* a failing write ends the connection with its error */
    memset(&x, 0, sizeof x);
    script_init(&x.script, one, sizeof one - 1);
    x.script.write_limit = 10;
    struct http_stream stream = script_stream(&x.script);
    serve_admit(state);
    CHECK_INT(serve_connection(state, &stream), ERR_CONNRESET);

    struct serve_stats stats;
    serve_get_stats(state, &stats);
    CHECK_INT(stats.connections_open, 0);
    CHECK_INT(stats.connections_served, 9);
out:
    exchange_free(&x);
    serve_state_free(state);
}

static void test_expect_continue(struct test_state *t)
{
    struct serve_config config = {.max_body = 10};
    struct serve_state *state = new_server(&config);
    struct exchange x;
    run(state, &x, "PUT /tree/a HTTP/1.1\r\n" H "Expect: 100-continue\r\nContent-Length: 2\r\n\r\nok");
    CHECK(x.script.output_length > 25 && memcmp(x.script.output, "HTTP/1.1 100 Continue\r\n\r\n", 25) == 0);
    CHECK_INT(x.count, 1);
    CHECK_INT(x.responses[0].status, 201);
    exchange_free(&x);

    run(state, &x, "PUT /tree/a HTTP/1.1\r\n" H "Expect: 100-continue\r\nContent-Length: 11\r\n\r\n");
    CHECK(memcmp(x.script.output, "HTTP/1.1 413", 12) == 0); /* no 100 for a body it refuses */
    CHECK_INT(x.count, 1);
    exchange_free(&x);

    run(state, &x, "GET /tree/a HTTP/1.1\r\n" H "Expect: 100-continue\r\n\r\n");
    CHECK(memcmp(x.script.output, "HTTP/1.1 200", 12) == 0); /* no body: no 100 */
    exchange_free(&x);

    run(state, &x, "PUT /tree/a HTTP/1.1\r\n" H "Expect: 200-ok\r\nContent-Length: 2\r\n\r\nok");
    CHECK_INT(x.count, 1);
    CHECK_INT(x.responses[0].status, 417);
out:
    exchange_free(&x);
    serve_state_free(state);
}

static void test_head_matches_get(struct test_state *t)
{
    static const char *const targets[] = {"/tree/d/f", "/tree/d", "/tree/", "/head", "/history", "/branches",
                                          "/tree/missing", "/nowhere", "/branch/nope/head"};
    struct serve_state *state = new_server(NULL);
    struct exchange x;
    run(state, &x, "PUT /tree/d/f HTTP/1.1\r\n" H "Content-Length: 4\r\nX-Date: 3\r\n\r\ndata");
    CHECK_INT(x.responses[0].status, 201);
    exchange_free(&x);
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        char input[512];
        snprintf(input, sizeof input, "GET %s HTTP/1.1\r\n" H "\r\nHEAD %s HTTP/1.1\r\n" H "\r\n", targets[i], targets[i]);
        run(state, &x, input);
        snprintf(t->detail, sizeof t->detail, "%s", targets[i]);
        CHECK_INT(x.count, 2);
        CHECK_STR(x.responses[1].head, x.responses[0].head);
        CHECK_INT(x.responses[1].body_length, 0);
        CHECK_INT(x.responses[0].body_length, x.responses[0].content_length);
        exchange_free(&x);
    }
    t->detail[0] = '\0';
out:
    exchange_free(&x);
    serve_state_free(state);
}

static void test_methods_and_routes(struct test_state *t)
{
    static const struct {
        const char *request_line;
        int status;
        const char *allow;
    } cases[] = {
        {"PATCH /tree/a", 405, "GET, HEAD, PUT, DELETE"},
        {"POST /tree/a", 405, "GET, HEAD, PUT, DELETE"},
        {"PUT /tree/", 405, "GET, HEAD"},
        {"DELETE /tree", 405, "GET, HEAD"},
        {"POST /head", 405, "GET, HEAD"},
        {"PUT /history", 405, "GET, HEAD"},
        {"DELETE /branches", 405, "GET, HEAD"},
        {"PUT /stats", 405, "GET, HEAD"},
        {"GET /merge", 405, "POST"},
        {"PUT /branch/dev/head", 405, "GET, HEAD"},
        {"GET /nowhere", 404, NULL},
        {"GET /", 404, NULL},
        {"GET /head/", 404, NULL},
        {"GET /trees", 404, NULL},
        {"GET /branch/dev", 404, NULL},
        {"GET /branch//head", 404, NULL},
        {"GET /branch/dev/merge", 404, NULL},
        {"OPTIONS *", 404, NULL},
        {"GET /tree//a", 400, NULL},
        {"GET /tree/a/", 400, NULL},
        {"GET /tree/%zz", 400, NULL},
        {"PUT /tree/a//b", 400, NULL},
        {"GET /branch/%00/head", 400, NULL},
        {"GET /branch/a%20b/head", 400, NULL},
        {"GET /branch/a%2Fb/head", 404, NULL},
    };
    struct serve_state *state = new_server(NULL);
    struct exchange x;
    memset(&x, 0, sizeof x);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char input[512];
        snprintf(input, sizeof input, "%s HTTP/1.1\r\n" H "Content-Length: 0\r\n\r\n", cases[i].request_line);
        run(state, &x, input);
        snprintf(t->detail, sizeof t->detail, "%s: %s", cases[i].request_line, body_of(&x, 0));
        CHECK_INT(x.count, 1);
        CHECK_INT(x.responses[0].status, cases[i].status);
        CHECK_STR(header_of(&x, 0, "Allow"), cases[i].allow != NULL ? cases[i].allow : "(absent)");
        CHECK_STR(header_of(&x, 0, "Connection"), "(absent)"); /* routing errors keep the connection */
        CHECK(json_valid(x.responses[0].body, x.responses[0].body_length));
        exchange_free(&x);
    }
    t->detail[0] = '\0';
out:
    exchange_free(&x);
    serve_state_free(state);
}

static void test_path_depth_limit(struct test_state *t)
{
    struct serve_config config = {.max_depth = 4};
    struct serve_state *state = new_server(&config);
    struct exchange x;
    run(state, &x,
        "PUT /tree/1/2/3/4 HTTP/1.1\r\n" H "Content-Length: 1\r\n\r\nx"
        "PUT /tree/1/2/3/4/5 HTTP/1.1\r\n" H "Content-Length: 1\r\n\r\nx"
        "GET /tree/1/2/3/4/5 HTTP/1.1\r\n" H "\r\n");
    CHECK_INT(x.count, 3);
    CHECK_INT(x.responses[0].status, 201);
    CHECK_INT(x.responses[1].status, 400);
    CHECK_INT(x.responses[2].status, 400);
out:
    exchange_free(&x);
    serve_state_free(state);
}

static void test_reads_do_not_grow_the_store(struct test_state *t)
{
    struct serve_state *state = new_server(NULL);
    struct exchange x;
    run(state, &x, "PUT /tree/a/b HTTP/1.1\r\n" H "Content-Length: 1\r\n\r\nx");
    CHECK_INT(x.responses[0].status, 201);
    exchange_free(&x);
    struct irmin_repo_stats before, after;
    irmin_repo_stats(serve_state_repo(state), &before);
    run(state, &x,
        "GET /tree/never/seen HTTP/1.1\r\n" H "\r\nGET /tree/a/b/c HTTP/1.1\r\n" H "\r\n"
        "GET /tree/a/zz HTTP/1.1\r\n" H "\r\nHEAD /tree/unknown HTTP/1.1\r\n" H "\r\n"
        "DELETE /tree/nothing/here HTTP/1.1\r\n" H "\r\nDELETE /branch/other/tree/x HTTP/1.1\r\n" H "\r\n"
        "GET /branch/ghost/tree/a HTTP/1.1\r\n" H "\r\nGET /tree/a HTTP/1.1\r\n" H "\r\n");
    CHECK_INT(x.count, 8);
    for (int i = 0; i < 7; i++)
        CHECK_INT(x.responses[i].status, 404);
    CHECK_INT(x.responses[7].status, 200);
    irmin_repo_stats(serve_state_repo(state), &after);
    CHECK_INT(after.steps, before.steps);
    CHECK_INT(after.heap_bytes, before.heap_bytes);
    CHECK_INT(after.branches, 1);
out:
    exchange_free(&x);
    serve_state_free(state);
}

static void test_store_and_response_limits(struct test_state *t)
{
    struct serve_config config = {.max_store_bytes = 200000, .max_response = 600}; /* ~140 PUTs */
    struct serve_state *state = new_server(&config);
    struct exchange x;
    memset(&x, 0, sizeof x);
    int status = 0;
    for (int i = 0; i < 400 && status != 507; i++) {
        char input[256];
        snprintf(input, sizeof input, "PUT /tree/k%d HTTP/1.1\r\n" H "Content-Length: 5\r\nX-Date: %d\r\n\r\nv%04d", i, i,
                 i);
        run(state, &x, input);
        CHECK_INT(x.count, 1);
        status = x.responses[0].status;
        CHECK(status == 201 || status == 507);
        exchange_free(&x);
    }
    CHECK_INT(status, 507);
    run(state, &x, "GET /tree/ HTTP/1.1\r\n" H "\r\nGET /tree/k0 HTTP/1.1\r\n" H "\r\n");
    CHECK_INT(x.count, 2);
    CHECK_INT(x.responses[0].status, 500); /* the listing is over max_response */
    CHECK_INT(x.responses[1].status, 200); /* contents are not JSON: not limited */
out:
    exchange_free(&x);
    serve_state_free(state);
}

static size_t tcp_text(void *ctx, char *buffer, size_t size)
{
    const char *text = ctx;
    size_t length = strlen(text);
    if (length < size)
        memcpy(buffer, text, length);
    return length;
}

static uint64_t heap_figure(void)
{
    return 123456;
}

static void test_admission_and_stats(struct test_state *t)
{
    struct serve_config config = {.max_conns = 2, .heap_in_use = heap_figure, .tcp_stats = tcp_text,
                                  .tcp_stats_ctx = "{\"segments_in\":5}"};
    struct serve_state *state = new_server(&config);
    struct exchange x;
    memset(&x, 0, sizeof x);
    CHECK(serve_state_config(state)->idle_s == SERVE_DEFAULT_IDLE_S);
    CHECK(serve_state_config(state)->max_body == SERVE_DEFAULT_MAX_BODY);
    CHECK(serve_admit(state));
    CHECK(serve_admit(state));
    CHECK(!serve_admit(state));
    script_init(&x.script, "", 0);
    struct http_stream stream = script_stream(&x.script);
    CHECK_INT(serve_refuse(state, &stream), 0);
    x.count = parse_responses(x.script.output, x.script.output_length, NULL, MAX_RESPONSES, x.responses, &x.why);
    CHECK_INT(x.count, 1);
    CHECK_INT(x.responses[0].status, 503);
    CHECK_STR(header_of(&x, 0, "Connection"), "close");
    CHECK_STR(body_of(&x, 0), "{\"error\":\"too many connections\"}");
    exchange_free(&x);
    serve_release(state);
    serve_release(state);

    run(state, &x, "GET /stats HTTP/1.1\r\n" H "\r\nGET /nope HTTP/1.1\r\n" H "\r\nGET /stats HTTP/1.1\r\n" H "\r\n");
    CHECK_INT(x.count, 3);
    CHECK(json_valid(x.responses[2].body, x.responses[2].body_length));
    struct irmin_repo_stats store;
    irmin_repo_stats(serve_state_repo(state), &store);
    char expected[1024];
    snprintf(expected, sizeof expected,
             "{\"objects\":{\"contents\":0,\"nodes\":0,\"commits\":0},\"branches\":0,\"steps\":0,"
             "\"store_heap_bytes\":%llu,\"heap_in_use\":123456,\"connections\":{\"open\":1,\"served\":0,"
             "\"refused\":1},\"requests\":2,\"responses\":{\"2xx\":1,\"3xx\":0,\"4xx\":1,\"5xx\":0},"
             "\"tcp\":{\"segments_in\":5}}",
             (unsigned long long)store.heap_bytes);
    CHECK_STR(body_of(&x, 2), expected);
    struct serve_stats stats;
    serve_get_stats(state, &stats);
    CHECK_INT(stats.connections_open, 0);
    CHECK_INT(stats.connections_served, 1);
    CHECK_INT(stats.connections_refused, 1);
    CHECK_INT(stats.requests_served, 3);
out:
    exchange_free(&x);
    serve_state_free(state);
}

static void test_access_log(struct test_state *t)
{
    struct serve_state *state = new_server(NULL);
    struct exchange x;
    size_t first = capture.count;
    run(state, &x, "HEAD /tree/x?y HTTP/1.1\r\n" H "\r\nBREW /pot HTTP/1.1\r\n" H "\r\nGET /a HTTP/9.9\r\n\r\n");
    CHECK_INT(capture.count - first, 3);
    CHECK_STR(capture.entries[first % LOG_CAPTURE_MAX].method, "HEAD");
    CHECK_STR(capture.entries[first % LOG_CAPTURE_MAX].path, "/tree/x");
    CHECK(capture.entries[first % LOG_CAPTURE_MAX].head_only);
    CHECK_INT(capture.entries[first % LOG_CAPTURE_MAX].status, 404);
    CHECK_STR(capture.entries[(first + 1) % LOG_CAPTURE_MAX].method, "BREW");
    CHECK_STR(capture.entries[(first + 2) % LOG_CAPTURE_MAX].method, "-");
    CHECK_INT(capture.entries[(first + 2) % LOG_CAPTURE_MAX].status, 505);
out:
    exchange_free(&x);
    serve_state_free(state);
}

/* ---- runner ---- */

struct unit_test {
    const char *name;
    void (*run)(struct test_state *t);
};

static const struct unit_test tests[] = {
    {"json escapes every byte", test_json_escapes_every_byte},
    {"json structure and limits", test_json_structure_and_limits},
    {"request line parsing", test_parse_request_line},
    {"header parsing", test_parse_headers},
    {"keep-alive from the version and Connection", test_parse_connection},
    {"chunk-size lines", test_chunk_lines},
    {"percent decoding and encoding", test_percent_decoding},
    {"Date header", test_date_header},
    {"pipelined requests in one read", test_pipelined_requests_in_one_read},
    {"split reads give the same output", test_split_reads_give_the_same_output},
    {"chunked bodies: extensions, trailers, errors", test_chunked_bodies},
    {"header folding is rejected and closes", test_header_folding_closes},
    {"8 KiB head limit at and over", test_head_limit},
    {"body limit (413 without reading the body)", test_body_limit},
    {"large bodies and responses", test_large_body_and_response},
    {"bad Content-Length closes", test_bad_content_length_closes},
    {"keep-alive and close", test_keep_alive_and_close},
    {"idle timeout and stream errors", test_timeouts_and_stream_errors},
    {"Expect: 100-continue", test_expect_continue},
    {"HEAD matches GET", test_head_matches_get},
    {"405 with Allow, 404, 400 on paths", test_methods_and_routes},
    {"path depth limit", test_path_depth_limit},
    {"reads do not grow the store", test_reads_do_not_grow_the_store},
    {"store and response limits", test_store_and_response_limits},
    {"admission, refusal and /stats", test_admission_and_stats},
    {"access log", test_access_log},
};

int serve_run_unit_tests(void)
{
    int failed = 0;
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        struct test_state state = {0};
        tests[i].run(&state);
        if (state.failure != NULL) {
            printf("not ok %zu %s: line %d: %s%s%s\n", i + 1, tests[i].name, state.line, state.failure,
                   state.detail[0] != '\0' ? ": " : "", state.detail);
            failed++;
        } else {
            printf("ok %zu %s\n", i + 1, tests[i].name);
        }
        fflush(stdout);
    }
    printf("summary passed=%zu failed=%d\n", sizeof tests / sizeof tests[0] - (size_t)failed, failed);
    return failed;
}
