/*
 * base/base.h: compiler helpers shared by every libos layer.
 *
 * Nothing here touches hardware; it is the vocabulary the other headers use.
 */
#ifndef LIBOS_BASE_H
#define LIBOS_BASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

#define NORETURN __attribute__((noreturn))
#define PRINTF_LIKE(fmt_index, first_arg) __attribute__((format(printf, fmt_index, first_arg)))
#define MUST_CHECK __attribute__((warn_unused_result))
#define UNUSED __attribute__((unused))
#define PACKED __attribute__((packed))
#define ALIGNED(n) __attribute__((aligned(n)))

/* The struct that holds `member` at `ptr`. */
#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

/* `n` rounded up/down to a multiple of `a` (a power of two). */
#define ALIGN_UP(n, a) (((n) + ((a) - 1)) & ~((__typeof__(n))(a) - 1))
#define ALIGN_DOWN(n, a) ((n) & ~((__typeof__(n))(a) - 1))
#define IS_ALIGNED(n, a) (((n) & ((__typeof__(n))(a) - 1)) == 0)

#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

#define KiB(n) ((uint64_t)(n) << 10)
#define MiB(n) ((uint64_t)(n) << 20)
#define GiB(n) ((uint64_t)(n) << 30)

/* A compiler barrier: memory accesses are not moved across it. */
#define barrier() __asm__ volatile("" ::: "memory")

#endif
