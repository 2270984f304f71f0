/*
 * net/net_env_kernel.c: the network stack's environment (net/net_env.h) on the libos: kmalloc,
 * log sources named after the stack's layers, and unpredictable bytes from BLAKE2b over a boot
 * secret, a counter and the TSC.
 */
#include "alloc/alloc.h"
#include "arch/arch.h"
#include "irmin/blake2b.h"
#include "log/log.h"
#include "net/net_env.h"
#include <string.h>

void *net_env_alloc(size_t size) { return kmalloc(size); }

void net_env_free(void *block, size_t size) {
    (void)size;
    kfree(block);
}

void net_env_random(void *out, size_t length) {
    static uint8_t secret[32];
    static uint64_t counter;
    if (counter == 0) {
        /* the TSC at the first request: unknown to the network */
        uint64_t seed[2] = {rdtsc(), (uint64_t)(uintptr_t)&seed};
        blake2b(secret, sizeof secret, NULL, 0, seed, sizeof seed);
    }
    uint8_t *bytes = out;
    while (length > 0) {
        uint64_t input[2] = {++counter, rdtsc()};
        uint8_t block[64];
        blake2b(block, sizeof block, secret, sizeof secret, input, sizeof input);
        size_t n = MIN(length, sizeof block);
        memcpy(bytes, block, n);
        bytes += n;
        length -= n;
    }
}

static struct log_src sources[] = {
    {.name = "net"}, {.name = "arp"}, {.name = "ipv4"}, {.name = "icmp"}, {.name = "udp"}, {.name = "tcp"}, {.name = "dhcp"},
};

void net_env_log(int level, const char *source, const char *fmt, ...) {
    struct log_src *src = &sources[0];
    for (size_t i = 0; i < ARRAY_SIZE(sources); i++)
        if (strcmp(sources[i].name, source) == 0) src = &sources[i];
    if (!log_enabled(src, level)) return;
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(src, level, fmt, ap);
    va_end(ap);
}
