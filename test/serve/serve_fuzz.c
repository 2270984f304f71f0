/*
 * test/serve/serve_fuzz.c: random and mutated conversations through serve_connection.
 *
 * Each case is one connection: 1-4 requests, each either generated from small vocabularies
 * (so branches, merges and conflicts happen), random bytes, a large PUT or a head within a
 * few bytes of the 8 KiB limit, then 0-6 mutations of the whole input (bytes flipped, tokens
 * inserted, ranges deleted, duplicated or cut). The input is read in pieces of random sizes and ends with EOF, a timeout or an error;
 * sometimes writes start failing. The server runs under ASan and UBSan (test/serve/serve.test.ts
 * builds it so); besides not crashing, every case must give:
 *   - a return value the stream explains (0, the stream's error, or the failed write's);
 *   - output that is a sequence of well-formed responses (100 Continue aside), each with
 *     Content-Type and Content-Length, the body present unless HEAD, JSON bodies valid JSON,
 *     one per access-log entry with the same status and length;
 *   - only statuses the server documents, and "Connection: close" only on the last response;
 *   - no connection left open; and every few hundred cases the state is freed, which aborts
 *     if a tree or path leaked, and the store's allocations must then be back to zero.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../irmin/native_env.h"
#include "base/err.h"
#include "harness.h"
#include "serve_native.h"

#define CASE_MAX_BYTES (256 * 1024)
#define CASES_PER_STATE 400
#define MAX_RESPONSES 64

struct bytes {
    uint8_t *data;
    size_t length;
    size_t capacity;
};

static void bytes_reserve(struct bytes *b, size_t more)
{
    if (b->length + more <= b->capacity)
        return;
    size_t capacity = b->capacity > 0 ? b->capacity : 1024;
    while (capacity < b->length + more)
        capacity *= 2;
    b->data = realloc(b->data, capacity);
    if (b->data == NULL)
        abort();
    b->capacity = capacity;
}

static void bytes_insert(struct bytes *b, size_t at, const void *data, size_t length)
{
    if (b->length + length > CASE_MAX_BYTES)
        return;
    bytes_reserve(b, length);
    memmove(b->data + at + length, b->data + at, b->length - at);
    memcpy(b->data + at, data, length);
    b->length += length;
}

static void bytes_add(struct bytes *b, const char *text)
{
    bytes_insert(b, b->length, text, strlen(text));
}

static void bytes_printf(struct bytes *b, const char *format, ...) __attribute__((format(printf, 2, 3)));

static void bytes_printf(struct bytes *b, const char *format, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, format);
    int length = vsnprintf(text, sizeof text, format, ap);
    va_end(ap);
    if (length > 0)
        bytes_insert(b, b->length, text, (size_t)length < sizeof text ? (size_t)length : sizeof text - 1);
}

static uint64_t below(uint64_t *rng, uint64_t n)
{
    return rng_next(rng) % n;
}

static const char *pick(uint64_t *rng, const char *const *list, size_t count)
{
    return list[below(rng, count)];
}

#define PICK(rng, list) pick(rng, list, sizeof list / sizeof list[0])

static const char *const steps[] = {"a", "b", "c", "d", "%00", "%2F", "x%FFy", "%22q%5C", "1", "10", "2"};
static const char *const values[] = {"1", "2", "", "value", "\"quoted\\\"", "\x01\x02\xff", "long value long value"};
static const char *const branches[] = {"main", "dev", "feature%2Fx", "b.1", "bad%20name", "dev"};
static const char *const tokens[] = {
    "\r\n", "\n", "\r", " ", "\t", ":", "/", "%", "%2", "%00", "%2F", "?", "&", "=", "0\r\n\r\n", "\r\n\r\n",
    "Content-Length: ", "Content-Length: 5\r\n", "Content-Length: 18446744073709551616\r\n",
    "Transfer-Encoding: chunked\r\n", "Transfer-Encoding: gzip, chunked\r\n", "Connection: close\r\n",
    "Host: h\r\n", "HTTP/1.1", "HTTP/1.0", "HTTP/2.0", "ffffffffffffffff\r\n", ";ext=1", "\x00", "\xff", "/tree/",
    "/branch/dev/", "/merge?from=dev&into=main", "GET ", "PUT ", "HEAD ", "DELETE ", "POST ", "Expect: 100-continue\r\n",
    " x\r\n", "X-Date: -1\r\n", "X-Author: \xc3\xa9\r\n", "5\r\nabcde\r\n",
};

static void add_path(uint64_t *rng, struct bytes *b)
{
    size_t depth = 1 + below(rng, 3);
    for (size_t i = 0; i < depth; i++)
        bytes_printf(b, "/%s", PICK(rng, steps));
}

/* A well-formed request (mostly) from the vocabularies above. */
static void add_request(uint64_t *rng, struct bytes *b)
{
    static const char *const methods[] = {"GET", "GET", "HEAD", "PUT", "PUT", "PUT", "DELETE", "POST", "PATCH"};
    const char *method = PICK(rng, methods);
    bytes_printf(b, "%s ", method);
    uint64_t route = below(rng, 10);
    if (route < 6) {
        if (below(rng, 3) == 0)
            bytes_printf(b, "/branch/%s", PICK(rng, branches));
        bytes_add(b, "/tree");
        if (below(rng, 8) == 0)
            bytes_add(b, "/");
        else
            add_path(rng, b);
    } else if (route == 6) {
        bytes_printf(b, "/merge?from=%s&into=%s", PICK(rng, branches), PICK(rng, branches));
    } else {
        static const char *const others[] = {"/head", "/history?limit=3", "/history", "/branches", "/stats",
                                             "/branch/dev/head", "/branch/dev/history?limit=x", "/nowhere"};
        bytes_add(b, PICK(rng, others));
    }
    bool old = below(rng, 8) == 0;
    bytes_add(b, old ? " HTTP/1.0\r\n" : " HTTP/1.1\r\nHost: fuzz\r\n");
    if (below(rng, 2) == 0)
        bytes_printf(b, "X-Date: %d\r\n", (int)below(rng, 1000));
    if (below(rng, 4) == 0)
        bytes_printf(b, "X-Author: %s\r\n", below(rng, 2) ? "fuzzer" : "\xc3\xa9\"\\");
    if (below(rng, 4) == 0)
        bytes_add(b, "X-Message: fuzzed\r\n");
    if (below(rng, 12) == 0)
        bytes_add(b, "Connection: close\r\n");
    if (old && below(rng, 2) == 0)
        bytes_add(b, "Connection: keep-alive\r\n");
    if (below(rng, 10) == 0)
        bytes_add(b, "Expect: 100-continue\r\n");
    const char *value = PICK(rng, values);
    bool has_body = strcmp(method, "PUT") == 0 || below(rng, 6) == 0;
    if (!has_body) {
        bytes_add(b, "\r\n");
    } else if (below(rng, 3) == 0) {
        bytes_add(b, "Transfer-Encoding: chunked\r\n\r\n");
        size_t length = strlen(value);
        size_t half = length / 2;
        if (half > 0)
            bytes_printf(b, "%zx;ext=%d\r\n%.*s\r\n", half, (int)below(rng, 9), (int)half, value);
        if (length - half > 0)
            bytes_printf(b, "%zX\r\n%s\r\n", length - half, value + half);
        bytes_add(b, below(rng, 3) == 0 ? "0\r\nTrailer: t\r\n\r\n" : "0\r\n\r\n");
    } else {
        bytes_printf(b, "Content-Length: %zu\r\n\r\n%s", strlen(value), value);
    }
}

static void add_random_bytes(uint64_t *rng, struct bytes *b, size_t length)
{
    bytes_reserve(b, length);
    for (size_t i = 0; i < length && b->length < CASE_MAX_BYTES; i++)
        b->data[b->length++] = (uint8_t)rng_next(rng);
}

static void mutate(uint64_t *rng, struct bytes *b)
{
    size_t at = b->length > 0 ? below(rng, b->length + 1) : 0;
    switch (below(rng, 6)) {
    case 0: /* flip a byte */
        if (b->length > 0)
            b->data[below(rng, b->length)] = (uint8_t)rng_next(rng);
        break;
    case 1: { /* insert a token */
        const char *token = PICK(rng, tokens);
        bytes_insert(b, at, token, token[0] == '\0' ? 1 : strlen(token));
        break;
    }
    case 2: { /* delete a range */
        size_t length = below(rng, 16);
        if (at + length > b->length)
            length = b->length - at;
        memmove(b->data + at, b->data + at + length, b->length - at - length);
        b->length -= length;
        break;
    }
    case 3: { /* duplicate a range */
        size_t length = below(rng, 64);
        if (at + length > b->length)
            length = b->length - at;
        uint8_t copy[64];
        memcpy(copy, b->data + at, length);
        bytes_insert(b, at, copy, length);
        break;
    }
    case 4: /* cut the end */
        b->length = at;
        break;
    default: { /* replace a byte with a line ending or a separator */
        static const char specials[] = "\r\n :/%?&=;\t";
        if (b->length > 0)
            b->data[below(rng, b->length)] = (uint8_t)specials[below(rng, sizeof specials - 1)];
        break;
    }
    }
}

static void make_case(uint64_t *rng, struct bytes *b)
{
    b->length = 0;
    size_t requests = 1 + below(rng, 4);
    for (size_t i = 0; i < requests; i++) {
        uint64_t kind = below(rng, 50);
        if (kind < 3) {
            add_random_bytes(rng, b, below(rng, 300));
        } else if (kind == 3) {
            size_t length = 1 + below(rng, 100000);
            bytes_printf(b, "PUT /tree/big%d HTTP/1.1\r\nHost: h\r\nContent-Length: %zu\r\n\r\n", (int)below(rng, 3),
                         length);
            add_random_bytes(rng, b, length);
        } else if (kind == 4) {
            /* a head within a few bytes of the 8 KiB limit, padded in the target or a header */
            size_t size = 8192 - 6 + below(rng, 12);
            bool in_target = below(rng, 2) == 0;
            bytes_add(b, in_target ? "GET /tree/" : "GET /tree/a HTTP/1.1\r\nHost: h\r\nX-Pad: ");
            size_t fixed = in_target ? strlen("GET /tree/ HTTP/1.1\r\nHost: h\r\n\r\n") : strlen("GET /tree/a HTTP/1.1\r\nHost: h\r\nX-Pad: \r\n\r\n");
            for (size_t pad = fixed; pad < size; pad++)
                bytes_add(b, "p");
            bytes_add(b, in_target ? " HTTP/1.1\r\nHost: h\r\n\r\n" : "\r\n\r\n");
        } else {
            add_request(rng, b);
        }
    }
    if (below(rng, 2) == 0) {
        size_t mutations = 1 + below(rng, 6);
        for (size_t i = 0; i < mutations; i++)
            mutate(rng, b);
    }
}

static bool known_status(int status)
{
    static const int statuses[] = {200, 201, 400, 404, 405, 408, 409, 413, 417, 431, 500, 501, 503, 505, 507};
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++) {
        if (statuses[i] == status)
            return true;
    }
    return false;
}

static uint64_t fixed_clock(void)
{
    return 1700000000;
}

static struct serve_state *new_state(uint64_t *rng, struct log_capture *capture)
{
    static const size_t bodies[] = {0, 0, 1000, 64};
    static const unsigned depths[] = {0, 0, 2};
    static const size_t responses[] = {0, 0, 2000};
    static const uint64_t stores[] = {0, 0, 0, 1 << 20};
    struct serve_config config = {
        .max_body = bodies[below(rng, 4)],
        .max_depth = depths[below(rng, 3)],
        .max_response = responses[below(rng, 3)],
        .max_store_bytes = stores[below(rng, 4)],
        .log = log_capture_entry,
        .log_ctx = capture,
    };
    struct serve_state *state = serve_state_new(&config, fixed_clock);
    if (state == NULL)
        abort();
    return state;
}

struct fuzz_totals {
    uint64_t requests;
    uint64_t statuses[600];
    int failures;
};

static void report(struct fuzz_totals *totals, uint64_t index, uint64_t case_seed, const char *why,
                   const struct bytes *input)
{
    totals->failures++;
    if (totals->failures > 5)
        return;
    printf("FAIL case %llu (case seed %llu): %s\n  input (%zu bytes): ", (unsigned long long)index,
           (unsigned long long)case_seed, why, input->length);
    for (size_t i = 0; i < input->length && i < 400; i++) {
        uint8_t c = input->data[i];
        if (c >= 0x20 && c < 0x7f && c != '\\')
            putchar(c);
        else
            printf("\\x%02x", c);
    }
    printf("\n");
}

/* One case; returns NULL or what went wrong. */
static const char *run_case(struct serve_state *state, struct log_capture *capture, uint64_t *rng,
                            const struct bytes *input, struct fuzz_totals *totals)
{
    static const long ends[] = {0, 0, 0, 0, 0, ERR_TIMEOUT, ERR_TIMEOUT, ERR_CONNRESET, ERR_CANCELLED};
    static struct response responses[MAX_RESPONSES];
    const char *why = NULL;
    struct script script;
    script_init(&script, input->data, input->length);
    script.end = ends[below(rng, sizeof ends / sizeof ends[0])];
    uint64_t split = below(rng, 5);
    if (split == 1 && input->length < 4096) {
        script.split = 1;
    } else if (split >= 2) {
        script.split = split == 2 ? 16 : split == 3 ? 700 : 5000;
        script.random = rng_next(rng) | 1;
    }
    if (below(rng, 20) == 0)
        script.write_limit = 1 + below(rng, 2000);

    capture->count = 0;
    struct http_stream stream = script_stream(&script);
    if (!serve_admit(state))
        return "not admitted";
    int rc = serve_connection(state, &stream);

    bool rc_ok = rc == 0 || (script.end < 0 && script.end != ERR_TIMEOUT && rc == script.end) ||
                 (script.write_limit > 0 && rc == ERR_CONNRESET);
    struct serve_stats stats;
    serve_get_stats(state, &stats);
    bool head_only[MAX_RESPONSES] = {0};
    for (size_t i = 0; i < capture->count && i < MAX_RESPONSES; i++)
        head_only[i] = capture->entries[i].head_only;
    const char *parse_why = NULL;
    int count = parse_responses(script.output, script.output_length, head_only, MAX_RESPONSES, responses, &parse_why);
    if (!rc_ok)
        why = "unexpected return value";
    else if (stats.connections_open != 0)
        why = "the connection is still counted as open";
    else if (capture->count > LOG_CAPTURE_MAX || capture->count > MAX_RESPONSES)
        why = "too many responses for one case";
    else if (count < 0)
        why = parse_why;
    else if ((size_t)count != capture->count)
        why = "the output and the access log disagree on the number of responses";
    for (int i = 0; why == NULL && i < count; i++) {
        const struct response *response = &responses[i];
        char value[128];
        totals->requests++;
        totals->statuses[response->status]++;
        if (!known_status(response->status))
            why = "an undocumented status";
        else if (response->status != capture->entries[i].status)
            why = "the access log has another status";
        else if (response->content_length != capture->entries[i].content_length)
            why = "the access log has another length";
        else if (response_header(response, "Connection", value, sizeof value) && strcmp(value, "close") == 0 &&
                 i != count - 1)
            why = "a response after Connection: close";
        else if (response_header(response, "Content-Type", value, sizeof value) &&
                 strcmp(value, "application/json") == 0 && !head_only[i] &&
                 !json_valid(response->body, response->body_length))
            why = "a JSON body that is not valid JSON";
    }
    script_free(&script);
    return why;
}

int serve_run_fuzz(uint64_t cases, uint64_t seed)
{
    static struct log_capture capture;
    struct fuzz_totals totals;
    memset(&totals, 0, sizeof totals);
    uint64_t rng = seed * 0x9e3779b97f4a7c15ULL + 1;
    struct bytes input = {0};
    struct serve_state *state = NULL;
    for (uint64_t index = 0; index < cases; index++) {
        if (index % CASES_PER_STATE == 0) {
            serve_state_free(state); /* the store aborts if a tree or path leaked */
            if (state != NULL && native_env_bytes_in_use() != 0) {
                printf("FAIL the store holds %llu bytes after being freed\n",
                       (unsigned long long)native_env_bytes_in_use());
                totals.failures++;
            }
            state = new_state(&rng, &capture);
        }
        uint64_t case_seed = rng_next(&rng) | 1;
        uint64_t case_rng = case_seed;
        make_case(&case_rng, &input);
        const char *why = run_case(state, &capture, &case_rng, &input, &totals);
        if (why != NULL)
            report(&totals, index, case_seed, why, &input);
    }
    serve_state_free(state);
    if (native_env_bytes_in_use() != 0) {
        printf("FAIL the store holds %llu bytes after being freed\n", (unsigned long long)native_env_bytes_in_use());
        totals.failures++;
    }
    free(input.data);
    printf("fuzz cases=%llu seed=%llu responses=%llu", (unsigned long long)cases, (unsigned long long)seed,
           (unsigned long long)totals.requests);
    for (int status = 0; status < 600; status++) {
        if (totals.statuses[status] > 0)
            printf(" %d:%llu", status, (unsigned long long)totals.statuses[status]);
    }
    printf(" failures=%d\n", totals.failures);
    return totals.failures;
}
