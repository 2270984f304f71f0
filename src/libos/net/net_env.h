/*
 * net/net_env.h: everything the network stack needs from the world it runs in.
 *
 * The stack (wire formats and protocol state machines under src/libos/net/, but not the drivers
 * or the fiber sockets) is portable C, like the store: the same sources link into the kernel and
 * into Linux programs for unit tests, scripted-peer TCP tests, lossy-link tests and fuzzing
 * (test/net/). It includes only the compiler's freestanding headers, base/base.h, base/err.h and
 * base/list.h, and reaches the environment through this header:
 *
 *   - memory: net_env_alloc/net_env_free;
 *   - unpredictable bytes for initial sequence numbers, ephemeral ports and DHCP transaction ids;
 *   - a log line, at the levels of log/log.h.
 *
 * Time is not read from the environment: every entry point that needs it takes `now_ns` (a
 * monotonic clock in nanoseconds) from its caller, and every timer-driven layer reports its next
 * deadline. The kernel drives the stack from its scheduler; tests drive it with a simulated clock,
 * so a test run is exactly repeatable.
 *
 * Error codes are base/err.h's (ERR_AGAIN, ERR_CONNRESET, ... for the network).
 */
#ifndef NET_ENV_H
#define NET_ENV_H

#include "base/base.h"
#include "base/err.h"
#include "base/list.h"

/* A block of `size` bytes (size > 0), aligned for any object, or NULL when memory is exhausted. */
void *net_env_alloc(size_t size);

/* Releases a block from net_env_alloc; `size` is the size it was allocated with. */
void net_env_free(void *block, size_t size);

/* Fills `out` with `length` unpredictable bytes. */
void net_env_random(void *out, size_t length);

/* One log line from `source` ("tcp", "arp", ...) at `level` (LOG_LEVEL_* of log/log.h: 1 error,
 * 2 warn, 3 info, 4 debug); no newline in `fmt`. */
void net_env_log(int level, const char *source, const char *fmt, ...) PRINTF_LIKE(3, 4);

#define NET_LOG_ERROR 1
#define NET_LOG_WARN 2
#define NET_LOG_INFO 3
#define NET_LOG_DEBUG 4

#endif
