/*
 * perf/support/blake2b-kernel.c: the BLAKE2b guest kernel of perf/jit.bench.ts. Freestanding, linked
 * with the store's own src/libos/irmin/blake2b.c at a fixed address and entered in 64-bit mode by
 * the bench's long-mode stub. It hashes a 4 KiB buffer once into first_digest (checked by the bench
 * against node:crypto's blake2b512), then forever: hash the buffer, fold the digest into it, count.
 * Almost all of its instructions are in blake2b_compress (32 compressions per hash).
 */
#include "blake2b.h"

void bench_entry(void);

/* What the store needs from its environment (irmin_env.h); never called here. */
void *irmin_env_alloc(size_t size)
{
    (void)size;
    return NULL;
}

void irmin_env_free(void *block, size_t size)
{
    (void)block;
    (void)size;
}

void irmin_env_abort(const char *message)
{
    (void)message;
    for (;;)
        __asm__ volatile("cli; hlt");
}

/* GCC emits calls to these (built with -fno-tree-loop-distribute-patterns so they stay loops). */
void *memcpy(void *to, const void *from, size_t length);
void *memmove(void *to, const void *from, size_t length);
void *memset(void *to, int byte, size_t length);
int memcmp(const void *a, const void *b, size_t length);

void *memcpy(void *to, const void *from, size_t length)
{
    uint8_t *t = to;
    const uint8_t *f = from;
    while (length--)
        *t++ = *f++;
    return to;
}

void *memmove(void *to, const void *from, size_t length)
{
    uint8_t *t = to;
    const uint8_t *f = from;
    if (t < f) {
        while (length--)
            *t++ = *f++;
    } else {
        while (length--)
            t[length] = f[length];
    }
    return to;
}

void *memset(void *to, int byte, size_t length)
{
    uint8_t *t = to;
    while (length--)
        *t++ = (uint8_t)byte;
    return to;
}

int memcmp(const void *a, const void *b, size_t length)
{
    const uint8_t *x = a, *y = b;
    for (size_t i = 0; i < length; i++)
        if (x[i] != y[i])
            return x[i] < y[i] ? -1 : 1;
    return 0;
}

#define DATA_BYTES 4096

uint8_t bench_data[DATA_BYTES];
uint8_t first_digest[BLAKE2B_MAX_DIGEST];
volatile uint64_t hashes;

void bench_entry(void)
{
    static uint8_t digest[BLAKE2B_MAX_DIGEST];
    for (size_t i = 0; i < DATA_BYTES; i++)
        bench_data[i] = (uint8_t)(i * 7 + 1);
    blake2b(first_digest, BLAKE2B_MAX_DIGEST, NULL, 0, bench_data, DATA_BYTES);
    for (;;) {
        blake2b(digest, BLAKE2B_MAX_DIGEST, NULL, 0, bench_data, DATA_BYTES);
        bench_data[0] ^= digest[0];
        hashes++;
    }
}
