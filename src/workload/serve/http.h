/*
 * serve/http.h: HTTP/1.1 message syntax (RFC 9112) for the server: parsing a request head,
 * chunk-size lines and percent-escapes, and writing a response head.
 *
 * These functions only look at bytes handed to them; the connection loop (serve_conn.c) finds
 * the end of the head, enforces the size limits and reads bodies.
 *
 * Strictness (each is 400 unless noted): the request line is exactly `METHOD SP target SP
 * HTTP/d.d`; lines end with CRLF or a bare LF; a header line that starts with whitespace
 * (obsolete folding), whitespace before the colon, a name that is not a token, or a control
 * character other than HTAB in a value is rejected; Content-Length is digits only, and several
 * Content-Length values must agree; Content-Length together with Transfer-Encoding is rejected
 * (request smuggling); a transfer coding other than a final `chunked` is 501 when it ends in
 * chunked and 400 otherwise; an HTTP/1.1 request needs exactly one Host; HTTP/2+ is 505; an
 * Expect other than 100-continue is 417.
 */
#ifndef SERVE_HTTP_H
#define SERVE_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "json.h"

/* The request line, the header lines and the empty line that ends them, line endings
 * included: a larger head is 431. */
#define HTTP_MAX_HEAD 8192

enum http_method {
    HTTP_METHOD_OTHER = 0,
    HTTP_GET,
    HTTP_HEAD,
    HTTP_PUT,
    HTTP_POST,
    HTTP_DELETE,
};

struct http_request {
    enum http_method method;
    const char *method_name;  /* as sent, NUL-terminated */
    const char *path;         /* the target's path, still percent-encoded; NUL-terminated */
    const char *query;        /* after '?', NUL-terminated; NULL when there is none */
    unsigned version_minor;   /* HTTP/1.x */
    bool keep_alive;          /* 1.1 unless "close"; 1.0 only with "keep-alive" */
    bool chunked;             /* Transfer-Encoding: chunked */
    bool has_length;          /* Content-Length given */
    uint64_t content_length;
    bool expect_continue;     /* Expect: 100-continue */
    const char *author;       /* X-Author, X-Message (NUL-terminated) or NULL */
    const char *message;
    bool has_date;            /* X-Date: signed decimal unix seconds */
    int64_t date;
};

/*
 * Parses a complete head in place (it writes NULs into it; the request's strings point into
 * it). `length` includes the final empty line. Returns 0, or an HTTP status (400, 417, 501,
 * 505) with *error set to a short static message.
 */
int http_parse_head(char *head, size_t length, struct http_request *request, const char **error);

/*
 * A chunk-size line without its line ending: hex digits, then optional whitespace and
 * `;extensions` (skipped). False when malformed or when the size does not fit 64 bits.
 */
bool http_parse_chunk_line(const char *line, size_t length, uint64_t *size);

/* Decodes %XX escapes from text[0..length) into `out` (room for `length` bytes). False on a
 * malformed escape. Nothing else is special ('+' stays '+'). */
bool http_percent_decode(const char *text, size_t length, uint8_t *out, size_t *out_length);

/* Case-insensitive ASCII comparison of text[0..length) with a lowercase literal. */
bool http_token_equal(const char *text, size_t length, const char *lowercase);

/* "OK", "Not Found", ... ("Unknown" for codes we never send). */
const char *http_reason(int status);

struct http_response_head {
    int status;
    const char *content_type;   /* NULL: no Content-Type (100 Continue) */
    uint64_t content_length;
    const char *allow;          /* for 405 */
    bool close;                 /* Connection: close */
    bool keep_alive_header;     /* Connection: keep-alive (an HTTP/1.0 client asked for it) */
    bool has_date;
    uint64_t date;              /* unix seconds, for the Date header */
};

/* The status line and headers, then the empty line. */
void http_format_head(struct sbuf *out, const struct http_response_head *head);

/* IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT" (29 bytes). */
void http_format_date(struct sbuf *out, uint64_t unix_seconds);

#endif
