/*
 * test/net/net_env_native.c: net/net_env.h on Linux, for the native tests of the network stack.
 *
 * Memory comes from malloc with a header that records the size, so a free with the wrong size
 * (or of a block not from here) aborts, and the tests can check that a stack frees everything.
 * Random bytes come from a seeded splitmix64 generator: a test run is exactly repeatable.
 * Allocations can be made to fail (one in N) to exercise the out-of-memory paths. Logging
 * goes to stderr when NET_LOG is set (a level 1..4).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "net/net_env.h"
#include "net_test.h"

#define BLOCK_MAGIC 0x6e657462u /* "netb" */

struct block_header {
    uint64_t size;
    uint32_t magic;
    uint32_t pad;
    uint64_t align[2]; /* keeps the block 16-byte aligned for any object */
};

static uint64_t bytes_in_use;
static uint64_t blocks_in_use;
static uint64_t random_state = 1;
static uint32_t fail_one_in;
static uint64_t fail_state = 7;
static int log_level = -1;

void *net_env_alloc(size_t size) {
    if (size == 0) {
        fprintf(stderr, "net_env_alloc(0)\n");
        abort();
    }
    if (fail_one_in != 0 && splitmix64(&fail_state) % fail_one_in == 0) return NULL;
    struct block_header *header = malloc(sizeof *header + size);
    if (header == NULL) return NULL;
    header->size = size;
    header->magic = BLOCK_MAGIC;
    bytes_in_use += size;
    blocks_in_use++;
    return header + 1;
}

void net_env_free(void *block, size_t size) {
    if (block == NULL) {
        fprintf(stderr, "net_env_free(NULL, %zu)\n", size);
        abort();
    }
    struct block_header *header = (struct block_header *)block - 1;
    if (header->magic != BLOCK_MAGIC || header->size != size) {
        fprintf(stderr, "net_env_free: block %p freed with size %zu (allocated %llu, magic %08x)\n", block, size,
                (unsigned long long)header->size, header->magic);
        abort();
    }
    header->magic = 0;
    bytes_in_use -= size;
    blocks_in_use--;
    free(header);
}

void net_env_random(void *out, size_t length) {
    uint8_t *bytes = out;
    for (size_t i = 0; i < length; i++) bytes[i] = (uint8_t)(splitmix64(&random_state) >> 56);
}

void net_env_log(int level, const char *source, const char *fmt, ...) {
    if (log_level < 0) {
        const char *env = getenv("NET_LOG");
        log_level = env != NULL ? atoi(env) : 0;
    }
    if (level > log_level) return;
    va_list args;
    va_start(args, fmt);
    fprintf(stderr, "[%d] %s: ", level, source);
    vfprintf(stderr, fmt, args);
    fputc('\n', stderr);
    va_end(args);
}

void net_native_seed(uint64_t seed) {
    random_state = seed;
    fail_state = seed ^ 0x5eed;
}

void net_native_fail_allocations(uint32_t one_in) { fail_one_in = one_in; }

uint64_t net_native_bytes_in_use(void) { return bytes_in_use; }

uint64_t net_native_blocks_in_use(void) { return blocks_in_use; }
