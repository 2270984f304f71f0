/*
 * test/serve/harness.h: what the server's native tests share: a scripted stream (the input
 * handed out in pieces of chosen sizes, then EOF, a timeout or an error; the output captured),
 * a parser that splits the output into responses, a strict JSON checker and an access-log
 * capture.
 */
#ifndef SERVE_HARNESS_H
#define SERVE_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "serve/serve.h"

struct script {
    const uint8_t *input;
    size_t length;
    size_t position;
    size_t split;            /* at most this many bytes per read; 0: as many as asked */
    uint64_t random;         /* nonzero: each read takes a random size in 1..split */
    long end;                /* what reads return once the input is used up: 0 or ERR_* */
    size_t reads;            /* read calls */
    size_t reads_at_end;     /* of those, after the input was used up */
    uint8_t *output;
    size_t output_length;
    size_t output_capacity;
    size_t write_limit;      /* a write that would pass this many output bytes fails; 0: never */
    size_t writes;
};

void script_init(struct script *script, const void *input, size_t length);
void script_free(struct script *script);
struct http_stream script_stream(struct script *script);

uint64_t rng_next(uint64_t *state);

struct response {
    int status;
    char head[8192];           /* status line and headers, NUL-terminated */
    const uint8_t *body;       /* into the parsed output */
    size_t body_length;
    uint64_t content_length;
};

/* The value of a header (case-insensitive name) copied into `value`; false when absent. */
bool response_header(const struct response *response, const char *name, char *value, size_t size);

/*
 * Splits `data` into responses, skipping interim 100 Continue heads. head_only[i] (may be
 * NULL: no HEAD responses) says that response i has no body. Returns how many, or -1 with
 * *why set when the data is not a sequence of well-formed responses with Content-Length and
 * Content-Type.
 */
int parse_responses(const uint8_t *data, size_t length, const bool *head_only, size_t max, struct response *out,
                    const char **why);

/* RFC 8259 JSON (one value, nothing after it but whitespace). */
bool json_valid(const uint8_t *text, size_t length);

#define LOG_CAPTURE_MAX 256

struct log_capture {
    size_t count;              /* entries seen; entry i is kept at [i % LOG_CAPTURE_MAX] */
    struct {
        char method[16];
        char path[256];
        int status;
        uint64_t content_length;
        bool head_only;
    } entries[LOG_CAPTURE_MAX];
};

/* A serve_config.log that appends to the struct log_capture passed as log_ctx. */
void log_capture_entry(void *ctx, const struct serve_log_entry *entry);

#endif
