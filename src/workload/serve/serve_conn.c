/*
 * serve/serve_conn.c: one connection: the keep-alive loop over an abstract stream (serve.h).
 *
 * Per request: read the head (up to HTTP_MAX_HEAD bytes, leading empty lines skipped), parse
 * it, read the body (Content-Length or chunked, at most max_body), route it, write the
 * response, and go on unless the request or the response closes the connection.
 *
 * Input goes through `in`, a fixed buffer: the unread bytes are in[start..end). Bytes after
 * the current request (pipelining) stay there for the next round. A head is copied out to
 * `head` before parsing (the parser writes NULs into it); body bytes are copied from `in`,
 * and the rest of a body is read straight into the body buffer, never past its end, so the
 * next request's bytes are never consumed early. Searches resume where the previous one
 * stopped, so a head arriving one byte per read costs linear time.
 *
 * Errors in the request framing (a bad head, a bad chunk, a body over max_body, the peer
 * closing or timing out in the middle of a request) are answered and end the connection: the
 * rest of the stream cannot be trusted to start at a request. A read error or the idle
 * timeout between requests ends it quietly.
 */
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "serve_internal.h"

#define INPUT_BYTES (16 * 1024)   /* > HTTP_MAX_HEAD: room for a full head plus what follows it */
#define CHUNK_LINE_MAX 4096       /* a chunk-size line with its extensions */
#define BODY_INITIAL (16 * 1024)  /* the body buffer's first size; it doubles as bytes arrive */
#define COALESCE_MAX (64 * 1024)  /* responses up to this size go out in one write */

/* Internal results: 0 done, STEP_QUIET the stream ended or failed (stream_error says how),
 * > 0 an HTTP status to answer with before closing (message in conn.error). */
#define STEP_QUIET (-1)

struct conn {
    struct serve_state *state;
    struct http_stream *stream;
    size_t start;                 /* unread input: in[start..end) */
    size_t end;
    int stream_error;             /* a read error that ended the connection (0: none) */
    const char *error;            /* the message of an error status */
    uint8_t *body;
    size_t body_length;
    size_t body_capacity;
    char head[HTTP_MAX_HEAD + 1];
    uint8_t in[INPUT_BYTES];
};

/* ---- input ---- */

/* Reads more input after `end`, first moving the unread bytes to the front if the buffer is
 * full. Callers keep the unread part below INPUT_BYTES, so there is always room. */
static long fill(struct conn *c)
{
    if (c->start == c->end) {
        c->start = 0;
        c->end = 0;
    } else if (c->end == sizeof c->in) {
        memmove(c->in, c->in + c->start, c->end - c->start);
        c->end -= c->start;
        c->start = 0;
    }
    size_t room = sizeof c->in - c->end;
    long n = c->stream->read(c->stream->ctx, c->in + c->end, room);
    if (n > 0)
        c->end += (size_t)n > room ? room : (size_t)n;
    return n;
}

/* A read returned n <= 0 in the middle of a request: what to answer. */
static int interrupted(struct conn *c, long n)
{
    if (n == 0) {
        c->error = "the connection closed in the middle of a request";
        return 400;
    }
    if (n == ERR_TIMEOUT) {
        c->error = "timed out in the middle of a request";
        return 408;
    }
    c->stream_error = (int)n;
    return STEP_QUIET;
}

/* The end of a head in bytes[0..length): just past "\n\n" or "\n\r\n"; 0 when not there yet.
 * *scanned is where the next search resumes. */
static size_t find_head_end(const uint8_t *bytes, size_t length, size_t *scanned)
{
    for (size_t i = *scanned; i < length; i++) {
        if (bytes[i] != '\n')
            continue;
        if (i + 1 < length && bytes[i + 1] == '\n')
            return i + 2;
        if (i + 2 < length && bytes[i + 1] == '\r' && bytes[i + 2] == '\n')
            return i + 3;
        if (i + 2 >= length && (i + 1 == length || bytes[i + 1] == '\r')) {
            *scanned = i; /* the rest of a possible end has not arrived */
            return 0;
        }
    }
    *scanned = length;
    return 0;
}

/*
 * The next request head, copied to c->head (NUL-terminated): 0 and its length, STEP_QUIET
 * when the stream ended or timed out before a request started, or an error status.
 */
static int read_head(struct conn *c, size_t *head_length)
{
    bool started = false;
    size_t scanned = 0;
    for (;;) {
        /* empty lines before a request line are skipped (RFC 9112 2.2) */
        while (!started && c->start < c->end) {
            uint8_t byte = c->in[c->start];
            if (byte == '\n') {
                c->start++;
            } else if (byte == '\r' && c->end - c->start >= 2 && c->in[c->start + 1] == '\n') {
                c->start += 2;
            } else if (byte == '\r' && c->end - c->start == 1) {
                break; /* wait for what follows the CR */
            } else {
                started = true;
            }
        }
        if (started) {
            size_t unread = c->end - c->start;
            size_t window = unread < HTTP_MAX_HEAD ? unread : HTTP_MAX_HEAD;
            size_t length = find_head_end(c->in + c->start, window, &scanned);
            if (length > 0) {
                memcpy(c->head, c->in + c->start, length);
                c->head[length] = '\0';
                c->start += length;
                *head_length = length;
                return 0;
            }
            if (unread >= HTTP_MAX_HEAD) {
                c->error = "the request head is larger than 8192 bytes";
                return 431;
            }
        }
        long n = fill(c);
        if (n > 0)
            continue;
        if (started || c->start < c->end)
            return interrupted(c, n);
        c->stream_error = n == ERR_TIMEOUT ? 0 : (int)n; /* idle, or gone, between requests */
        return STEP_QUIET;
    }
}

/*
 * The next line of the chunked framing, without its line ending, pointing into `in` (valid
 * until the next read). A line of `max` bytes or more without its end is `too_long`.
 */
static int read_line(struct conn *c, size_t max, int too_long, const char **line, size_t *length)
{
    size_t scanned = 0;
    for (;;) {
        const uint8_t *from = c->in + c->start;
        const uint8_t *newline = memchr(from + scanned, '\n', c->end - c->start - scanned);
        if (newline != NULL) {
            size_t count = (size_t)(newline - from);
            c->start += count + 1;
            if (count > 0 && from[count - 1] == '\r')
                count--;
            *line = (const char *)from;
            *length = count;
            return 0;
        }
        scanned = c->end - c->start;
        if (scanned >= max) {
            c->error = too_long == 431 ? "the trailers are larger than 8192 bytes" : "malformed chunked body";
            return too_long;
        }
        long n = fill(c);
        if (n <= 0)
            return interrupted(c, n);
    }
}

/* ---- bodies ---- */

static bool body_reserve(struct conn *c, size_t total)
{
    if (total <= c->body_capacity)
        return true;
    size_t capacity = c->body_capacity > 0 ? c->body_capacity : BODY_INITIAL;
    while (capacity < total)
        capacity = capacity > SIZE_MAX / 2 ? total : capacity * 2;
    if (capacity > c->state->config.max_body)
        capacity = total > c->state->config.max_body ? total : c->state->config.max_body;
    uint8_t *body = realloc(c->body, capacity);
    if (body == NULL)
        return false;
    c->body = body;
    c->body_capacity = capacity;
    return true;
}

static int out_of_memory(struct conn *c)
{
    c->error = "out of memory for the request body";
    return 503;
}

/* Appends `size` body bytes: first those already in `in`, then straight from the stream. */
static int read_body_bytes(struct conn *c, uint64_t size)
{
    while (size > 0) {
        size_t unread = c->end - c->start;
        if (unread > 0) {
            size_t take = unread < size ? unread : (size_t)size;
            if (!body_reserve(c, c->body_length + take))
                return out_of_memory(c);
            memcpy(c->body + c->body_length, c->in + c->start, take);
            c->body_length += take;
            c->start += take;
            size -= take;
            continue;
        }
        if (c->body_length == c->body_capacity) {
            size_t more = c->body_capacity > 0 ? c->body_capacity : BODY_INITIAL;
            if (more > size)
                more = (size_t)size;
            if (!body_reserve(c, c->body_length + more))
                return out_of_memory(c);
        }
        size_t room = c->body_capacity - c->body_length;
        size_t want = room < size ? room : (size_t)size;
        long n = c->stream->read(c->stream->ctx, c->body + c->body_length, want);
        if (n <= 0)
            return interrupted(c, n);
        size_t got = (size_t)n > want ? want : (size_t)n;
        c->body_length += got;
        size -= got;
    }
    return 0;
}

static int too_large(struct conn *c)
{
    c->error = "the request body is larger than max_body";
    return 413;
}

static int read_chunked_body(struct conn *c)
{
    const char *line;
    size_t length;
    int status;
    for (;;) {
        uint64_t size;
        status = read_line(c, CHUNK_LINE_MAX, 400, &line, &length);
        if (status != 0)
            return status;
        if (!http_parse_chunk_line(line, length, &size)) {
            c->error = "malformed chunk size";
            return 400;
        }
        if (size == 0)
            break;
        if (size > c->state->config.max_body - c->body_length)
            return too_large(c);
        status = read_body_bytes(c, size);
        if (status != 0)
            return status;
        status = read_line(c, 64, 400, &line, &length);
        if (status != 0)
            return status;
        if (length != 0) {
            c->error = "chunk data is not followed by a line ending";
            return 400;
        }
    }
    /* the trailer section: skipped, at most HTTP_MAX_HEAD bytes */
    size_t trailers = 0;
    do {
        status = read_line(c, HTTP_MAX_HEAD - trailers, 431, &line, &length);
        if (status != 0)
            return status;
        trailers += length + 2;
        if (trailers > HTTP_MAX_HEAD) {
            c->error = "the trailers are larger than 8192 bytes";
            return 431;
        }
    } while (length > 0);
    return 0;
}

static int write_bytes(struct conn *c, const void *data, size_t length)
{
    return length == 0 ? 0 : c->stream->write(c->stream->ctx, data, length);
}

/* The request's body into c->body; 0, STEP_QUIET or an error status. */
static int read_body(struct conn *c, const struct http_request *request)
{
    c->body_length = 0;
    bool has_body = request->chunked || (request->has_length && request->content_length > 0);
    if (request->has_length && request->content_length > c->state->config.max_body)
        return too_large(c); /* answered before reading any of it */
    if (has_body && request->expect_continue && request->version_minor >= 1) {
        static const char go_on[] = "HTTP/1.1 100 Continue\r\n\r\n";
        int err = write_bytes(c, go_on, sizeof go_on - 1);
        if (err != 0) {
            c->stream_error = err;
            return STEP_QUIET;
        }
    }
    if (request->chunked)
        return read_chunked_body(c);
    if (request->has_length)
        return read_body_bytes(c, request->content_length);
    return 0;
}

/* Keeps a small body buffer for the next request; a large one goes back to the heap. */
static void body_done(struct conn *c)
{
    c->body_length = 0;
    if (c->body_capacity > BODY_INITIAL) {
        free(c->body);
        c->body = NULL;
        c->body_capacity = 0;
    }
}

/* ---- output ---- */

static void count_response(struct serve_state *state, int status)
{
    state->stats.requests_served++;
    if (status >= 200 && status < 600)
        state->stats.responses[status / 100]++;
}

/* Writes the response; HEAD gets the same headers (Content-Length included) and no body.
 * `request` (for the access log) is NULL when the head did not parse. */
static int send_response(struct conn *c, const struct http_request *request, const struct serve_response *response,
                         bool head_only, bool close, bool keep_alive_header)
{
    const uint8_t *body = response->contents != NULL ? response->contents : response->body.data;
    size_t body_length = response->contents != NULL ? response->contents_length : response->body.length;
    struct http_response_head head = {
        .status = response->status,
        .content_type = response->content_type != NULL ? response->content_type : SERVE_JSON,
        .content_length = body_length,
        .allow = response->allow,
        .close = close,
        .keep_alive_header = keep_alive_header,
        .has_date = c->state->wall_clock_s != NULL,
        .date = c->state->wall_clock_s != NULL ? c->state->wall_clock_s() : 0,
    };
    struct sbuf out;
    sbuf_init(&out, 1024 + COALESCE_MAX);
    http_format_head(&out, &head);
    bool separate = head_only || body_length > COALESCE_MAX;
    if (!separate)
        sbuf_append(&out, body, body_length);
    int err = out.failed ? ERR_NOMEM : write_bytes(c, out.data, out.length);
    sbuf_free(&out);
    if (err == 0 && separate && !head_only)
        err = write_bytes(c, body, body_length);
    if (err == 0) {
        count_response(c->state, response->status);
        const struct serve_config *config = &c->state->config;
        if (config->log != NULL) {
            struct serve_log_entry entry = {
                .method = request != NULL ? request->method_name : "-",
                .path = request != NULL ? request->path : "-",
                .status = response->status,
                .content_length = body_length,
                .head_only = head_only,
            };
            config->log(config->log_ctx, &entry);
        }
    }
    return err;
}

/* Answers a framing error and ends the connection: 0 or the write's error. */
static int fail_request(struct conn *c, const struct http_request *request, int status)
{
    struct serve_response response;
    serve_response_init(&response, 4096);
    serve_response_error(&response, status, c->error != NULL ? c->error : "bad request");
    bool head_only = request != NULL && request->method == HTTP_HEAD;
    int err = send_response(c, request, &response, head_only, true, false);
    serve_response_free(&response);
    return err;
}

/* ---- the loop ---- */

static int serve_requests(struct conn *c)
{
    for (;;) {
        size_t head_length;
        c->error = NULL;
        int status = read_head(c, &head_length);
        if (status == STEP_QUIET)
            return c->stream_error;
        if (status != 0)
            return fail_request(c, NULL, status);

        struct http_request request;
        status = http_parse_head(c->head, head_length, &request, &c->error);
        if (status != 0)
            return fail_request(c, NULL, status);
        status = read_body(c, &request);
        if (status == STEP_QUIET)
            return c->stream_error;
        if (status != 0)
            return fail_request(c, &request, status);

        struct serve_response response;
        serve_response_init(&response, c->state->config.max_response);
        routes_handle(c->state, &request, c->body, c->body_length, &response);
        bool close = !request.keep_alive || response.close;
        bool head_only = request.method == HTTP_HEAD;
        int err = send_response(c, &request, &response, head_only, close, !close && request.version_minor == 0);
        serve_response_free(&response);
        body_done(c);
        if (err != 0 || close)
            return err;
    }
}

int serve_connection(struct serve_state *state, struct http_stream *stream)
{
    int result = ERR_NOMEM;
    struct conn *c = malloc(sizeof *c);
    if (c != NULL) {
        c->state = state;
        c->stream = stream;
        c->start = 0;
        c->end = 0;
        c->stream_error = 0;
        c->error = NULL;
        c->body = NULL;
        c->body_length = 0;
        c->body_capacity = 0;
        result = serve_requests(c);
        free(c->body);
        free(c);
    }
    serve_release(state);
    state->stats.connections_served++;
    return result;
}

int serve_refuse(struct serve_state *state, struct http_stream *stream)
{
    struct sbuf body;
    sbuf_init(&body, 256);
    json_error_body(&body, "too many connections");
    struct http_response_head head = {
        .status = 503,
        .content_type = SERVE_JSON,
        .content_length = body.length,
        .close = true,
        .has_date = state->wall_clock_s != NULL,
        .date = state->wall_clock_s != NULL ? state->wall_clock_s() : 0,
    };
    struct sbuf out;
    sbuf_init(&out, 1024);
    http_format_head(&out, &head);
    sbuf_append(&out, body.data, body.length);
    int err = out.failed ? ERR_NOMEM : stream->write(stream->ctx, out.data, out.length);
    sbuf_free(&out);
    sbuf_free(&body);
    return err;
}
