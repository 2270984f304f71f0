/*
 * log/log.h: leveled logging with named sources (in the spirit of OCaml's Logs).
 *
 * Each file declares a source:      LOG_SOURCE(log_src, "sched");
 * and logs through it:              LOG_INFO(log_src, "forked %s", name);
 * which prints one line:            [INFO] sched: forked worker
 * A newline is added. Levels: ERROR < WARN < INFO < DEBUG; a message is printed when its level
 * is at or below its source's level. Every source follows the default level (INFO) unless
 * configured by name; the kernel command line's `log=` argument is a spec like
 *     log=debug              every source at DEBUG
 *     log=info,sched:debug   default INFO, the "sched" source at DEBUG
 *     log=alloc:off          silence "alloc"
 */
#ifndef LIBOS_LOG_H
#define LIBOS_LOG_H

#include "base/base.h"
#include <stdarg.h>

enum log_level {
    LOG_LEVEL_OFF = 0,
    LOG_LEVEL_ERROR = 1,
    LOG_LEVEL_WARN = 2,
    LOG_LEVEL_INFO = 3,
    LOG_LEVEL_DEBUG = 4,
};

struct log_src {
    const char *name;
    unsigned generation; /* log configuration generation `level` was computed for (0: never) */
    int level;
};

#define LOG_SOURCE(var, source_name) static struct log_src var = {.name = source_name, .generation = 0, .level = 0}

extern unsigned log_generation;
int log_source_level(struct log_src *src); /* resolves and caches the source's level */

static inline bool log_enabled(struct log_src *src, int level) {
    int current = src->generation == log_generation ? src->level : log_source_level(src);
    return level <= current;
}

void log_msg(struct log_src *src, int level, const char *fmt, ...) PRINTF_LIKE(3, 4);
void log_vmsg(struct log_src *src, int level, const char *fmt, va_list ap) PRINTF_LIKE(3, 0);

#define LOG_AT(src, lvl, fmt, ...)                                                 \
    do {                                                                           \
        if (log_enabled(&(src), (lvl))) log_msg(&(src), (lvl), fmt, ##__VA_ARGS__); \
    } while (0)
#define LOG_ERROR(src, fmt, ...) LOG_AT(src, LOG_LEVEL_ERROR, fmt, ##__VA_ARGS__)
#define LOG_WARN(src, fmt, ...) LOG_AT(src, LOG_LEVEL_WARN, fmt, ##__VA_ARGS__)
#define LOG_INFO(src, fmt, ...) LOG_AT(src, LOG_LEVEL_INFO, fmt, ##__VA_ARGS__)
#define LOG_DEBUG(src, fmt, ...) LOG_AT(src, LOG_LEVEL_DEBUG, fmt, ##__VA_ARGS__)

/* Applies a spec (see above). On error returns ERR_INVAL and describes it in `error`. */
int log_configure(const char *spec, char *error, size_t error_size);
/* Sets one source's level (source NULL: the default level). */
void log_set_level(const char *source, int level);
const char *log_level_name(int level);

/* Prints "[PANIC] message", the running fiber and a backtrace, then exits with EXIT_PANIC
 * (process status 253). For broken invariants and misuse the caller cannot recover from. */
NORETURN void panic(const char *fmt, ...) PRINTF_LIKE(1, 2);

#endif
