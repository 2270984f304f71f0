/*
 * irmin/irmin_env.h: everything the store needs from the world it runs in.
 *
 * The store is portable C: the same sources link into the freestanding kernel and into a normal
 * Linux program (test/irmin/native_main.c). It includes only the compiler's freestanding headers
 * and reaches the environment through this header and nothing else:
 *
 *   - three functions the environment defines (the kernel's glue, or test/irmin/native_env.c,
 *     which maps them to libc): allocate, free, and abort on a fatal error;
 *   - memcpy/memmove/memset/memcmp/strlen as compiler builtins. GCC expands them inline or emits
 *     calls to the libc names, which a freestanding kernel must provide anyway (GCC itself
 *     emits calls to memcpy, memmove, memset and memcmp; the kernel's mini libc has strlen).
 *
 * The store keeps no global mutable state: everything lives in a struct irmin_repo.
 */
#ifndef IRMIN_ENV_H
#define IRMIN_ENV_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A block of `size` bytes (size > 0), aligned for any object (16 bytes), or NULL when memory is
 * exhausted. The store never calls this with size 0.
 */
void *irmin_env_alloc(size_t size);

/* Releases a block from irmin_env_alloc; `size` is the size it was allocated with. */
void irmin_env_free(void *block, size_t size);

/*
 * Stops everything: the store found a broken invariant or ran out of memory. `message` is one
 * line that says what failed and what to do about it. Must not return.
 */
__attribute__((noreturn)) void irmin_env_abort(const char *message);

static inline void *irmin_memcpy(void *to, const void *from, size_t length)
{
    return __builtin_memcpy(to, from, length);
}

static inline void *irmin_memmove(void *to, const void *from, size_t length)
{
    return __builtin_memmove(to, from, length);
}

static inline void *irmin_memset(void *to, int byte, size_t length)
{
    return __builtin_memset(to, byte, length);
}

static inline int irmin_memcmp(const void *a, const void *b, size_t length)
{
    return __builtin_memcmp(a, b, length);
}

static inline size_t irmin_strlen(const char *text)
{
    return __builtin_strlen(text);
}

#endif
