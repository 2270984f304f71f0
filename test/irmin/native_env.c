/*
 * test/irmin/native_env.c: irmin_env.h on Linux (libc), for the native build of the store.
 * Counts the bytes in use so the bench can report a heap figure like the kernel's allocator.
 */
#include <stdio.h>
#include <stdlib.h>

#include "../../src/libos/irmin/irmin_env.h"
#include "native_env.h"

static uint64_t bytes_in_use;

void *irmin_env_alloc(size_t size)
{
    void *block = malloc(size);
    if (block != NULL)
        bytes_in_use += size;
    return block;
}

void irmin_env_free(void *block, size_t size)
{
    bytes_in_use -= size;
    free(block);
}

void irmin_env_abort(const char *message)
{
    fflush(stdout);
    fprintf(stderr, "irmin abort: %s\n", message);
    exit(70);
}

uint64_t native_env_bytes_in_use(void)
{
    return bytes_in_use;
}
