/*
 * test/serve/serve_main.c: the HTTP server built as a Linux program with the store
 * (test/serve/serve_native.ts builds it with ASan and UBSan), driven by test/serve/serve.test.ts.
 *
 *   serve_native unit                 the C unit tests: "ok N name" / "not ok N name: why", then
 *                                     "summary passed=P failed=F"; exit status 1 on a failure
 *   serve_native fuzz CASES SEED      the fuzzer; "fuzz cases=... failures=F", status 1 on a failure
 *   serve_native stream [k=v ...]     one server; stdin holds connections, each a frame
 *                                     [u32 little-endian length][the client's bytes]. For each,
 *                                     prints "CONN i rc=R bytes=N\n", the N bytes the server wrote
 *                                     and "\n"; at the end "END store_bytes_after_free=B\n".
 *                                     Keys: split=N (bytes per read; 0 = as many as asked),
 *                                     random=SEED (random read sizes 1..split), end=eof|timeout|
 *                                     reset|cancel, clock=SECONDS (wall clock; none when absent),
 *                                     max_body, max_depth, max_response, max_store, max_conns
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../irmin/native_env.h"
#include "base/err.h"
#include "harness.h"
#include "serve_native.h"

static uint64_t clock_value;

static uint64_t fixed_clock(void)
{
    return clock_value;
}

static int usage(const char *why)
{
    fprintf(stderr, "serve_native: %s\nusage: serve_native unit | fuzz CASES SEED | stream [key=value ...]\n", why);
    return 2;
}

static int command_stream(int argc, char **argv)
{
    struct serve_config config = {0};
    size_t split = 0;
    uint64_t random = 0;
    long end = 0;
    bool has_clock = false;
    for (int i = 0; i < argc; i++) {
        const char *equals = strchr(argv[i], '=');
        if (equals == NULL)
            return usage("stream arguments are key=value");
        size_t key_length = (size_t)(equals - argv[i]);
        const char *value = equals + 1;
        unsigned long long number = strtoull(value, NULL, 10);
#define KEY(name) (key_length == strlen(name) && strncmp(argv[i], name, key_length) == 0)
        if (KEY("split"))
            split = number;
        else if (KEY("random"))
            random = number | 1;
        else if (KEY("clock"))
            has_clock = true, clock_value = number;
        else if (KEY("max_body"))
            config.max_body = number;
        else if (KEY("max_depth"))
            config.max_depth = (unsigned)number;
        else if (KEY("max_response"))
            config.max_response = number;
        else if (KEY("max_store"))
            config.max_store_bytes = number;
        else if (KEY("max_conns"))
            config.max_conns = (unsigned)number;
        else if (KEY("end"))
            end = strcmp(value, "timeout") == 0 ? ERR_TIMEOUT : strcmp(value, "reset") == 0 ? ERR_CONNRESET
                : strcmp(value, "cancel") == 0  ? ERR_CANCELLED : 0;
        else
            return usage("unknown stream key");
#undef KEY
    }
    struct serve_state *state = serve_state_new(&config, has_clock ? fixed_clock : NULL);
    if (state == NULL)
        return usage("out of memory");
    uint8_t header[4];
    for (unsigned index = 0; fread(header, 1, 4, stdin) == 4; index++) {
        uint32_t length = (uint32_t)header[0] | (uint32_t)header[1] << 8 | (uint32_t)header[2] << 16 |
                          (uint32_t)header[3] << 24;
        uint8_t *input = malloc(length > 0 ? length : 1);
        if (input == NULL || fread(input, 1, length, stdin) != length)
            return usage("a connection frame is truncated");
        struct script script;
        script_init(&script, input, length);
        script.split = split;
        script.random = random;
        script.end = end;
        struct http_stream stream = script_stream(&script);
        int rc;
        if (serve_admit(state)) {
            rc = serve_connection(state, &stream);
        } else {
            rc = serve_refuse(state, &stream);
        }
        printf("CONN %u rc=%d bytes=%zu\n", index, rc, script.output_length);
        fwrite(script.output, 1, script.output_length, stdout);
        printf("\n");
        script_free(&script);
        free(input);
    }
    serve_state_free(state);
    printf("END store_bytes_after_free=%llu\n", (unsigned long long)native_env_bytes_in_use());
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage("no command");
    if (strcmp(argv[1], "unit") == 0)
        return serve_run_unit_tests() == 0 ? 0 : 1;
    if (strcmp(argv[1], "fuzz") == 0) {
        if (argc != 4)
            return usage("fuzz CASES SEED");
        return serve_run_fuzz(strtoull(argv[2], NULL, 10), strtoull(argv[3], NULL, 10)) == 0 ? 0 : 1;
    }
    if (strcmp(argv[1], "stream") == 0)
        return command_stream(argc - 2, argv + 2);
    return usage("unknown command");
}
