/*
 * test/serve/harness.c: scripted streams, response parsing, JSON checking (harness.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/err.h"
#include "harness.h"

/* ---- scripted streams ---- */

uint64_t rng_next(uint64_t *state)
{
    /* xorshift64* */
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

void script_init(struct script *script, const void *input, size_t length)
{
    memset(script, 0, sizeof *script);
    script->input = input;
    script->length = length;
}

void script_free(struct script *script)
{
    free(script->output);
    script->output = NULL;
}

static long script_read(void *ctx, void *buffer, size_t length)
{
    struct script *script = ctx;
    script->reads++;
    if (length == 0) {
        fprintf(stderr, "harness: read of 0 bytes\n");
        abort();
    }
    if (script->position == script->length) {
        script->reads_at_end++;
        if (script->reads_at_end > 1000) {
            fprintf(stderr, "harness: the server keeps reading after the end of the stream\n");
            abort();
        }
        return script->end;
    }
    size_t take = script->length - script->position;
    if (take > length)
        take = length;
    if (script->split > 0) {
        size_t most = script->random != 0 ? 1 + rng_next(&script->random) % script->split : script->split;
        if (take > most)
            take = most;
    }
    memcpy(buffer, script->input + script->position, take);
    script->position += take;
    return (long)take;
}

static int script_write(void *ctx, const void *data, size_t length)
{
    struct script *script = ctx;
    script->writes++;
    if (length == 0) {
        fprintf(stderr, "harness: write of 0 bytes\n");
        abort();
    }
    if (script->write_limit > 0 && script->output_length + length > script->write_limit)
        return ERR_CONNRESET;
    if (script->output_length + length > script->output_capacity) {
        size_t capacity = script->output_capacity > 0 ? script->output_capacity : 4096;
        while (capacity < script->output_length + length)
            capacity *= 2;
        uint8_t *output = realloc(script->output, capacity);
        if (output == NULL)
            abort();
        script->output = output;
        script->output_capacity = capacity;
    }
    memcpy(script->output + script->output_length, data, length);
    script->output_length += length;
    return 0;
}

struct http_stream script_stream(struct script *script)
{
    struct http_stream stream = {script_read, script_write, script};
    return stream;
}

/* ---- responses ---- */

bool response_header(const struct response *response, const char *name, char *value, size_t size)
{
    size_t name_length = strlen(name);
    const char *line = strstr(response->head, "\r\n");
    while (line != NULL && line[2] != '\0') {
        line += 2;
        const char *end = strstr(line, "\r\n");
        if (end == NULL)
            end = line + strlen(line);
        if ((size_t)(end - line) > name_length && line[name_length] == ':' && strncasecmp(line, name, name_length) == 0) {
            const char *start = line + name_length + 1;
            while (*start == ' ')
                start++;
            size_t length = (size_t)(end - start);
            if (length >= size)
                length = size - 1;
            memcpy(value, start, length);
            value[length] = '\0';
            return true;
        }
        line = end;
    }
    return false;
}

int parse_responses(const uint8_t *data, size_t length, const bool *head_only, size_t max, struct response *out,
                    const char **why)
{
    size_t position = 0;
    int count = 0;
    while (position < length) {
        const uint8_t *start = data + position;
        size_t rest = length - position;
        const uint8_t *end = NULL;
        for (size_t i = 0; i + 3 < rest; i++) {
            if (memcmp(start + i, "\r\n\r\n", 4) == 0) {
                end = start + i + 4;
                break;
            }
        }
        if (end == NULL) {
            *why = "a response head does not end";
            return -1;
        }
        size_t head_length = (size_t)(end - start);
        if (head_length >= sizeof out[0].head) {
            *why = "a response head is too long";
            return -1;
        }
        if (head_length == 25 && memcmp(start, "HTTP/1.1 100 Continue\r\n\r\n", 25) == 0) {
            position += head_length;
            continue;
        }
        if ((size_t)count == max) {
            *why = "more responses than expected";
            return -1;
        }
        struct response *response = &out[count];
        memcpy(response->head, start, head_length);
        response->head[head_length] = '\0';
        int status = 0;
        if (sscanf(response->head, "HTTP/1.1 %3d ", &status) != 1 || status < 100 || status > 599 ||
            response->head[12] != ' ') {
            *why = "malformed status line";
            return -1;
        }
        response->status = status;
        char value[64];
        if (!response_header(response, "Content-Type", value, sizeof value)) {
            *why = "no Content-Type";
            return -1;
        }
        if (!response_header(response, "Content-Length", value, sizeof value)) {
            *why = "no Content-Length";
            return -1;
        }
        char *number_end;
        response->content_length = strtoull(value, &number_end, 10);
        if (*number_end != '\0' || value[0] == '\0') {
            *why = "malformed Content-Length";
            return -1;
        }
        position += head_length;
        bool no_body = head_only != NULL && head_only[count];
        response->body = data + position;
        response->body_length = no_body ? 0 : response->content_length;
        if (response->body_length > length - position) {
            *why = "a body is shorter than its Content-Length";
            return -1;
        }
        position += response->body_length;
        count++;
    }
    return count;
}

/* ---- JSON ---- */

struct json_reader {
    const uint8_t *text;
    size_t length;
    size_t position;
    int depth;
};

static void skip_space(struct json_reader *r)
{
    while (r->position < r->length && strchr(" \t\r\n", r->text[r->position]) != NULL && r->text[r->position] != 0)
        r->position++;
}

static bool literal(struct json_reader *r, const char *word)
{
    size_t length = strlen(word);
    if (r->length - r->position < length || memcmp(r->text + r->position, word, length) != 0)
        return false;
    r->position += length;
    return true;
}

static bool json_string_valid(struct json_reader *r)
{
    r->position++; /* the opening quote */
    while (r->position < r->length) {
        uint8_t c = r->text[r->position++];
        if (c == '"')
            return true;
        if (c < 0x20)
            return false;
        if (c != '\\')
            continue;
        if (r->position == r->length)
            return false;
        c = r->text[r->position++];
        if (c == 'u') {
            for (int i = 0; i < 4; i++) {
                if (r->position == r->length || strchr("0123456789abcdefABCDEF", r->text[r->position]) == NULL ||
                    r->text[r->position] == 0)
                    return false;
                r->position++;
            }
        } else if (c == 0 || strchr("\"\\/bfnrt", c) == NULL) {
            return false;
        }
    }
    return false;
}

static bool digits(struct json_reader *r)
{
    size_t start = r->position;
    while (r->position < r->length && r->text[r->position] >= '0' && r->text[r->position] <= '9')
        r->position++;
    return r->position > start;
}

static bool json_number_valid(struct json_reader *r)
{
    if (r->text[r->position] == '-')
        r->position++;
    if (r->position < r->length && r->text[r->position] == '0')
        r->position++;
    else if (!digits(r))
        return false;
    if (r->position < r->length && r->text[r->position] == '.') {
        r->position++;
        if (!digits(r))
            return false;
    }
    if (r->position < r->length && (r->text[r->position] == 'e' || r->text[r->position] == 'E')) {
        r->position++;
        if (r->position < r->length && (r->text[r->position] == '+' || r->text[r->position] == '-'))
            r->position++;
        if (!digits(r))
            return false;
    }
    return true;
}

static bool json_value_valid(struct json_reader *r)
{
    skip_space(r);
    if (r->position == r->length || r->depth > 64)
        return false;
    uint8_t c = r->text[r->position];
    if (c == '"')
        return json_string_valid(r);
    if (c == '-' || (c >= '0' && c <= '9'))
        return json_number_valid(r);
    if (c == 't')
        return literal(r, "true");
    if (c == 'f')
        return literal(r, "false");
    if (c == 'n')
        return literal(r, "null");
    if (c != '{' && c != '[')
        return false;
    bool object = c == '{';
    char close = object ? '}' : ']';
    r->position++;
    r->depth++;
    skip_space(r);
    if (r->position < r->length && r->text[r->position] == close) {
        r->position++;
        r->depth--;
        return true;
    }
    for (;;) {
        if (object) {
            skip_space(r);
            if (r->position == r->length || r->text[r->position] != '"' || !json_string_valid(r))
                return false;
            skip_space(r);
            if (r->position == r->length || r->text[r->position] != ':')
                return false;
            r->position++;
        }
        if (!json_value_valid(r))
            return false;
        skip_space(r);
        if (r->position == r->length)
            return false;
        if (r->text[r->position] == ',') {
            r->position++;
            continue;
        }
        if (r->text[r->position] != close)
            return false;
        r->position++;
        r->depth--;
        return true;
    }
}

bool json_valid(const uint8_t *text, size_t length)
{
    struct json_reader reader = {text, length, 0, 0};
    if (!json_value_valid(&reader))
        return false;
    skip_space(&reader);
    return reader.position == length;
}

/* ---- access log ---- */

void log_capture_entry(void *ctx, const struct serve_log_entry *entry)
{
    struct log_capture *capture = ctx;
    typeof(capture->entries[0]) *kept = &capture->entries[capture->count % LOG_CAPTURE_MAX];
    snprintf(kept->method, sizeof kept->method, "%s", entry->method);
    snprintf(kept->path, sizeof kept->path, "%s", entry->path);
    kept->status = entry->status;
    kept->content_length = entry->content_length;
    kept->head_only = entry->head_only;
    capture->count++;
}
