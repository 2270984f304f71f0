/*
 * serve/json.h: a growable byte buffer with a hard limit, and a small JSON writer over it.
 *
 * The buffer never writes past its allocation and never grows past `limit`: an append that
 * does not fit (or whose allocation fails) sets `failed` and is dropped, and so is everything
 * after it. Callers build a whole response, then check `failed` once.
 *
 * The JSON writer inserts commas and colons itself and escapes every string. JSON strings here
 * carry bytes, not text: each byte is one character U+0000..U+00FF, written as itself when it
 * is printable ASCII and as \u00XX otherwise (so "é" in UTF-8 comes out as "\u00c3\u00a9", and
 * a client gets the exact bytes back by encoding the decoded string as Latin-1). Nesting is
 * limited to JSON_MAX_DEPTH; deeper sets `failed`.
 */
#ifndef SERVE_JSON_H
#define SERVE_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sbuf {
    uint8_t *data;      /* malloc'ed, NULL until the first append */
    size_t length;
    size_t capacity;
    size_t limit;       /* length never exceeds this */
    bool failed;        /* an append did not fit or memory ran out */
};

void sbuf_init(struct sbuf *buffer, size_t limit);
void sbuf_free(struct sbuf *buffer);
void sbuf_append(struct sbuf *buffer, const void *bytes, size_t length);
void sbuf_append_str(struct sbuf *buffer, const char *text);
void sbuf_append_u64(struct sbuf *buffer, uint64_t value);
void sbuf_append_i64(struct sbuf *buffer, int64_t value);

#define JSON_MAX_DEPTH 16

struct json {
    struct sbuf *out;
    unsigned depth;
    bool need_comma[JSON_MAX_DEPTH + 1]; /* per open container: a value was written in it */
    bool after_key;                      /* a key was written; its value comes next */
};

void json_init(struct json *json, struct sbuf *out);
void json_object_begin(struct json *json);
void json_object_end(struct json *json);
void json_array_begin(struct json *json);
void json_array_end(struct json *json);
/* A member name inside an object; `key` is a plain ASCII literal of ours (still escaped). */
void json_key(struct json *json, const char *key);
void json_string(struct json *json, const void *bytes, size_t length);
void json_cstring(struct json *json, const char *text);
void json_u64(struct json *json, uint64_t value);
void json_i64(struct json *json, int64_t value);
void json_bool(struct json *json, bool value);
void json_null(struct json *json);
/* A value already in JSON form (the TCP counters' text), copied as it is. */
void json_raw(struct json *json, const char *text, size_t length);

/* {"error":"<message>"} into `out`. */
void json_error_body(struct sbuf *out, const char *message);

#endif
