/*
 * serve/json.c: the bounded buffer and the JSON writer (json.h).
 */
#include <stdlib.h>
#include <string.h>

#include "json.h"

void sbuf_init(struct sbuf *buffer, size_t limit)
{
    buffer->data = NULL;
    buffer->length = 0;
    buffer->capacity = 0;
    buffer->limit = limit;
    buffer->failed = false;
}

void sbuf_free(struct sbuf *buffer)
{
    free(buffer->data);
    sbuf_init(buffer, buffer->limit);
}

/* Room for `more` bytes after `length`, growing by doubling (at least 256 bytes). */
static bool sbuf_reserve(struct sbuf *buffer, size_t more)
{
    if (buffer->failed)
        return false;
    if (more > buffer->limit - buffer->length) {
        buffer->failed = true;
        return false;
    }
    size_t needed = buffer->length + more;
    if (needed <= buffer->capacity)
        return true;
    size_t capacity = buffer->capacity < 256 ? 256 : buffer->capacity;
    while (capacity < needed)
        capacity = capacity > SIZE_MAX / 2 ? needed : capacity * 2;
    if (capacity > buffer->limit)
        capacity = buffer->limit;
    uint8_t *data = realloc(buffer->data, capacity);
    if (data == NULL) {
        buffer->failed = true;
        return false;
    }
    buffer->data = data;
    buffer->capacity = capacity;
    return true;
}

void sbuf_append(struct sbuf *buffer, const void *bytes, size_t length)
{
    if (length == 0 || !sbuf_reserve(buffer, length))
        return;
    memcpy(buffer->data + buffer->length, bytes, length);
    buffer->length += length;
}

void sbuf_append_str(struct sbuf *buffer, const char *text)
{
    sbuf_append(buffer, text, strlen(text));
}

void sbuf_append_u64(struct sbuf *buffer, uint64_t value)
{
    char digits[20];
    size_t count = 0;
    do {
        digits[sizeof digits - 1 - count++] = (char)('0' + value % 10);
        value /= 10;
    } while (value != 0);
    sbuf_append(buffer, digits + sizeof digits - count, count);
}

void sbuf_append_i64(struct sbuf *buffer, int64_t value)
{
    if (value < 0) {
        sbuf_append(buffer, "-", 1);
        /* -(INT64_MIN) does not fit; go through uint64_t */
        sbuf_append_u64(buffer, (uint64_t)0 - (uint64_t)value);
    } else {
        sbuf_append_u64(buffer, (uint64_t)value);
    }
}

/* ---- JSON ---- */

void json_init(struct json *json, struct sbuf *out)
{
    memset(json, 0, sizeof *json);
    json->out = out;
}

/* Before any value: the comma after a previous sibling (not after a key). */
static void json_before_value(struct json *json)
{
    if (json->after_key) {
        json->after_key = false;
        return;
    }
    if (json->need_comma[json->depth])
        sbuf_append(json->out, ",", 1);
    json->need_comma[json->depth] = true;
}

static void json_open(struct json *json, char bracket)
{
    json_before_value(json);
    if (json->depth == JSON_MAX_DEPTH) {
        json->out->failed = true;
        return;
    }
    sbuf_append(json->out, &bracket, 1);
    json->depth++;
    json->need_comma[json->depth] = false;
}

static void json_close(struct json *json, char bracket)
{
    if (json->depth == 0) {
        json->out->failed = true;
        return;
    }
    json->depth--;
    sbuf_append(json->out, &bracket, 1);
}

void json_object_begin(struct json *json)
{
    json_open(json, '{');
}

void json_object_end(struct json *json)
{
    json_close(json, '}');
}

void json_array_begin(struct json *json)
{
    json_open(json, '[');
}

void json_array_end(struct json *json)
{
    json_close(json, ']');
}

static void json_escaped(struct sbuf *out, const uint8_t *bytes, size_t length)
{
    static const char hex[] = "0123456789abcdef";
    sbuf_append(out, "\"", 1);
    size_t run = 0; /* bytes[run..i) need no escape: copied in one piece */
    for (size_t i = 0; i < length; i++) {
        uint8_t byte = bytes[i];
        if (byte >= 0x20 && byte < 0x7f && byte != '"' && byte != '\\')
            continue;
        sbuf_append(out, bytes + run, i - run);
        run = i + 1;
        char escape[6] = {'\\', 0, 0, 0, 0, 0};
        size_t escape_length = 2;
        switch (byte) {
        case '"': escape[1] = '"'; break;
        case '\\': escape[1] = '\\'; break;
        case '\n': escape[1] = 'n'; break;
        case '\r': escape[1] = 'r'; break;
        case '\t': escape[1] = 't'; break;
        case '\b': escape[1] = 'b'; break;
        case '\f': escape[1] = 'f'; break;
        default:
            escape[1] = 'u';
            escape[2] = '0';
            escape[3] = '0';
            escape[4] = hex[byte >> 4];
            escape[5] = hex[byte & 15];
            escape_length = 6;
        }
        sbuf_append(out, escape, escape_length);
    }
    sbuf_append(out, bytes + run, length - run);
    sbuf_append(out, "\"", 1);
}

void json_key(struct json *json, const char *key)
{
    json_before_value(json);
    json_escaped(json->out, (const uint8_t *)key, strlen(key));
    sbuf_append(json->out, ":", 1);
    json->after_key = true;
}

void json_string(struct json *json, const void *bytes, size_t length)
{
    json_before_value(json);
    json_escaped(json->out, bytes, length);
}

void json_cstring(struct json *json, const char *text)
{
    json_string(json, text, strlen(text));
}

void json_u64(struct json *json, uint64_t value)
{
    json_before_value(json);
    sbuf_append_u64(json->out, value);
}

void json_i64(struct json *json, int64_t value)
{
    json_before_value(json);
    sbuf_append_i64(json->out, value);
}

void json_bool(struct json *json, bool value)
{
    json_before_value(json);
    sbuf_append_str(json->out, value ? "true" : "false");
}

void json_null(struct json *json)
{
    json_before_value(json);
    sbuf_append(json->out, "null", 4);
}

void json_raw(struct json *json, const char *text, size_t length)
{
    json_before_value(json);
    sbuf_append(json->out, text, length);
}

void json_error_body(struct sbuf *out, const char *message)
{
    struct json json;
    json_init(&json, out);
    json_object_begin(&json);
    json_key(&json, "error");
    json_cstring(&json, message);
    json_object_end(&json);
}
