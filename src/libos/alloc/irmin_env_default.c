/*
 * alloc/irmin_env_default.c: the store's environment (src/libos/irmin/irmin_env.h) on the
 * libos: kmalloc, kfree and panic.
 *
 * The definitions are weak: they only make the image link while the store's own kernel glue is
 * not there; a strong definition anywhere in the image replaces them.
 */
#include "alloc/alloc.h"
#include "log/log.h"

void *irmin_env_alloc(size_t size);
void irmin_env_free(void *block, size_t size);
NORETURN void irmin_env_abort(const char *message);

__attribute__((weak)) void *irmin_env_alloc(size_t size) { return kmalloc(size); }

__attribute__((weak)) void irmin_env_free(void *block, size_t size) {
    (void)size;
    kfree(block);
}

__attribute__((weak)) NORETURN void irmin_env_abort(const char *message) { panic("irmin: %s", message); }
