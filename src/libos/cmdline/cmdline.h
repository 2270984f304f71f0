/*
 * cmdline/cmdline.h: the kernel command line.
 *
 * The multiboot cmdline is the kernel's file name (QEMU and our emulator put it first), then
 * the workload name, then key=value arguments:
 *     build/kernel.elf bench commits=100 depth=8
 * The workload is the first word after the file name unless that word contains '=' (then the
 * workload is the default, "bench", and the word is an argument). Words are separated by spaces;
 * a value may be double-quoted to hold spaces (msg="hello world"). A word without '=' after the
 * workload is a flag (its value is NULL: true for cmdline_bool).
 *
 * Workloads read their arguments with the arg_* functions, which print a clear error and exit
 * with EXIT_USAGE on a malformed value, then call args_done(), which rejects arguments nobody
 * asked for. The cmdline_* functions are the same operations on any parsed line, returning
 * error codes (the selftest uses them).
 */
#ifndef LIBOS_CMDLINE_H
#define LIBOS_CMDLINE_H

#include "base/base.h"

#define CMDLINE_MAX_ARGS 32
#define CMDLINE_MAX_TEXT 1024
#define CMDLINE_DEFAULT_WORKLOAD "bench"

struct cmdline_arg {
    const char *key;
    const char *value; /* NULL for a bare flag */
    bool used;
};

struct cmdline {
    char text[CMDLINE_MAX_TEXT]; /* the words, NUL-separated */
    const char *image;    /* the kernel file name ("" if the line was empty) */
    const char *workload; /* never NULL */
    struct cmdline_arg args[CMDLINE_MAX_ARGS];
    unsigned arg_count;
    const char *asked[CMDLINE_MAX_ARGS]; /* keys the workload asked for, for the error message */
    unsigned asked_count;
};

/* Splits `line`. ERR_RANGE if it has more than CMDLINE_MAX_ARGS arguments or is too long,
 * ERR_INVAL for an unterminated quote; `error` then says what (may be NULL). */
int cmdline_parse(struct cmdline *cl, const char *line, char *error, size_t error_size);

/* Each returns 0 and stores the value (or the default when the key is absent), or ERR_INVAL
 * with a message in `error` when the value is malformed. */
int cmdline_int(struct cmdline *cl, const char *key, int64_t def, int64_t *out, char *error, size_t error_size);
int cmdline_str(struct cmdline *cl, const char *key, const char *def, const char **out, char *error, size_t error_size);
int cmdline_bool(struct cmdline *cl, const char *key, bool def, bool *out, char *error, size_t error_size);
/* ERR_INVAL if some argument was never asked for; `error` names it and the accepted keys. */
int cmdline_check_unused(struct cmdline *cl, char *error, size_t error_size);

/* The boot command line (cmdline_boot_init parses it; a parse error exits with EXIT_USAGE). */
void cmdline_boot_init(const char *line);
struct cmdline *cmdline_boot(void);
int64_t arg_int(const char *key, int64_t def);
const char *arg_str(const char *key, const char *def);
bool arg_bool(const char *key, bool def);
void args_done(void);
NORETURN void cmdline_usage_error(const char *fmt, ...) PRINTF_LIKE(1, 2);

#endif
