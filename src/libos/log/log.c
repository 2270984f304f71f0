/*
 * log/log.c: level resolution, configuration specs and the line format.
 */
#include "log/log.h"
#include "base/err.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MAX_OVERRIDES 16
#define NAME_MAX_LEN 24

struct level_override {
    char name[NAME_MAX_LEN];
    int level;
};

unsigned log_generation = 1;
static int default_level = LOG_LEVEL_INFO;
static struct level_override overrides[MAX_OVERRIDES];
static unsigned override_count;

static const char *const level_names[] = {"OFF", "ERROR", "WARN", "INFO", "DEBUG"};

const char *log_level_name(int level) {
    return level >= 0 && level <= LOG_LEVEL_DEBUG ? level_names[level] : "?";
}

int log_source_level(struct log_src *src) {
    int level = default_level;
    for (unsigned i = 0; i < override_count; i++)
        if (strcmp(overrides[i].name, src->name) == 0) level = overrides[i].level;
    src->level = level;
    src->generation = log_generation;
    return level;
}

void log_set_level(const char *source, int level) {
    if (source == NULL) {
        default_level = level;
    } else {
        unsigned i = 0;
        while (i < override_count && strcmp(overrides[i].name, source) != 0) i++;
        if (i == override_count) {
            if (override_count == MAX_OVERRIDES) i = MAX_OVERRIDES - 1; /* keep the last slot current */
            else override_count++;
            strlcpy(overrides[i].name, source, sizeof(overrides[i].name));
        }
        overrides[i].level = level;
    }
    log_generation++;
}

static int parse_level(const char *s, size_t len) {
    static const struct {
        const char *name;
        int level;
    } names[] = {{"off", LOG_LEVEL_OFF},    {"quiet", LOG_LEVEL_OFF}, {"error", LOG_LEVEL_ERROR},
                 {"warn", LOG_LEVEL_WARN},  {"warning", LOG_LEVEL_WARN}, {"info", LOG_LEVEL_INFO},
                 {"debug", LOG_LEVEL_DEBUG}};
    for (size_t i = 0; i < ARRAY_SIZE(names); i++)
        if (strlen(names[i].name) == len && strncmp(names[i].name, s, len) == 0) return names[i].level;
    return -1;
}

int log_configure(const char *spec, char *error, size_t error_size) {
    const char *p = spec;
    while (*p) {
        size_t len = strcspn(p, ",");
        const char *colon = memchr(p, ':', len);
        if (colon) {
            size_t name_len = (size_t)(colon - p);
            int level = parse_level(colon + 1, len - name_len - 1);
            if (name_len == 0 || name_len >= NAME_MAX_LEN || level < 0) {
                snprintf(error, error_size,
                         "bad log spec item '%.*s': expected SOURCE:LEVEL with LEVEL one of off, error, warn, info, debug",
                         (int)len, p);
                return ERR_INVAL;
            }
            char name[NAME_MAX_LEN];
            memcpy(name, p, name_len);
            name[name_len] = 0;
            log_set_level(name, level);
        } else {
            int level = parse_level(p, len);
            if (level < 0) {
                snprintf(error, error_size,
                         "bad log level '%.*s': expected off, error, warn, info or debug (or SOURCE:LEVEL)", (int)len, p);
                return ERR_INVAL;
            }
            log_set_level(NULL, level);
        }
        p += len;
        if (*p == ',') p++;
    }
    return 0;
}

void log_msg(struct log_src *src, int level, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(src, level, fmt, ap);
    va_end(ap);
}

void log_vmsg(struct log_src *src, int level, const char *fmt, va_list ap) {
    printf("[%s] %s: ", log_level_name(level), src->name);
    vprintf(fmt, ap);
    putchar('\n');
}
