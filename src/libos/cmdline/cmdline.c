/*
 * cmdline/cmdline.c: splitting the command line and typed argument lookup.
 */
#include "cmdline/cmdline.h"
#include "arch/arch.h"
#include "base/err.h"
#include <parse.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int cmdline_parse(struct cmdline *cl, const char *line, char *error, size_t error_size) {
    char dummy[8];
    if (!error) {
        error = dummy;
        error_size = sizeof(dummy);
    }
    memset(cl, 0, sizeof(*cl));
    char *words[CMDLINE_MAX_ARGS + 2];
    unsigned word_count = 0;
    size_t out = 0;
    const char *p = line;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\n') p++;
        if (*p == 0) break;
        if (word_count == ARRAY_SIZE(words)) {
            snprintf(error, error_size, "too many arguments (at most %u)", CMDLINE_MAX_ARGS);
            return ERR_RANGE;
        }
        words[word_count++] = &cl->text[out];
        bool quoted = false;
        while (*p && (quoted || (*p != ' ' && *p != '\t' && *p != '\n'))) {
            if (*p == '"') {
                quoted = !quoted;
                p++;
                continue;
            }
            if (out + 2 >= sizeof(cl->text)) {
                snprintf(error, error_size, "command line too long (at most %u bytes)", CMDLINE_MAX_TEXT - 2);
                return ERR_RANGE;
            }
            cl->text[out++] = *p++;
        }
        if (quoted) {
            snprintf(error, error_size, "unterminated double quote in argument '%s'", words[word_count - 1]);
            return ERR_INVAL;
        }
        cl->text[out++] = 0;
    }
    unsigned next = 0;
    cl->image = next < word_count ? words[next++] : "";
    if (next < word_count && !strchr(words[next], '='))
        cl->workload = words[next++];
    else
        cl->workload = CMDLINE_DEFAULT_WORKLOAD;
    for (; next < word_count; next++) {
        if (cl->arg_count == CMDLINE_MAX_ARGS) {
            snprintf(error, error_size, "too many arguments (at most %u)", CMDLINE_MAX_ARGS);
            return ERR_RANGE;
        }
        struct cmdline_arg *arg = &cl->args[cl->arg_count++];
        char *equals = strchr(words[next], '=');
        arg->key = words[next];
        arg->value = NULL;
        if (equals) {
            *equals = 0;
            arg->value = equals + 1;
        }
    }
    return 0;
}

/* The argument named `key`, marking it used and remembering the key; NULL if absent. */
static struct cmdline_arg *lookup(struct cmdline *cl, const char *key) {
    bool known = false;
    for (unsigned i = 0; i < cl->asked_count; i++) known |= strcmp(cl->asked[i], key) == 0;
    if (!known && cl->asked_count < CMDLINE_MAX_ARGS) cl->asked[cl->asked_count++] = key;
    struct cmdline_arg *found = NULL;
    for (unsigned i = 0; i < cl->arg_count; i++) {
        if (strcmp(cl->args[i].key, key) == 0) {
            cl->args[i].used = true;
            found = &cl->args[i]; /* the last one wins */
        }
    }
    return found;
}

int cmdline_int(struct cmdline *cl, const char *key, int64_t def, int64_t *out, char *error, size_t error_size) {
    struct cmdline_arg *arg = lookup(cl, key);
    if (!arg) {
        *out = def;
        return 0;
    }
    int64_t value;
    int err = arg->value ? parse_i64(arg->value, &value) : ERR_INVAL;
    if (err) {
        snprintf(error, error_size, "argument %s%s%s: expected an integer (decimal or 0x hex)%s", key,
                 arg->value ? "=" : "", arg->value ? arg->value : "", err == ERR_RANGE ? " that fits in 64 bits" : "");
        return ERR_INVAL;
    }
    *out = value;
    return 0;
}

int cmdline_str(struct cmdline *cl, const char *key, const char *def, const char **out, char *error, size_t error_size) {
    struct cmdline_arg *arg = lookup(cl, key);
    if (!arg) {
        *out = def;
        return 0;
    }
    if (!arg->value) {
        snprintf(error, error_size, "argument %s: expected %s=VALUE", key, key);
        return ERR_INVAL;
    }
    *out = arg->value;
    return 0;
}

int cmdline_bool(struct cmdline *cl, const char *key, bool def, bool *out, char *error, size_t error_size) {
    struct cmdline_arg *arg = lookup(cl, key);
    if (!arg) {
        *out = def;
        return 0;
    }
    const char *v = arg->value;
    if (v == NULL || strcmp(v, "true") == 0 || strcmp(v, "1") == 0 || strcmp(v, "yes") == 0 || strcmp(v, "on") == 0) {
        *out = true;
    } else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0 || strcmp(v, "no") == 0 || strcmp(v, "off") == 0) {
        *out = false;
    } else {
        snprintf(error, error_size, "argument %s=%s: expected true or false (also 1/0, yes/no, on/off)", key, v);
        return ERR_INVAL;
    }
    return 0;
}

int cmdline_check_unused(struct cmdline *cl, char *error, size_t error_size) {
    for (unsigned i = 0; i < cl->arg_count; i++) {
        if (cl->args[i].used) continue;
        int n = snprintf(error, error_size, "unknown argument '%s%s%s' for workload '%s' (it accepts:", cl->args[i].key,
                         cl->args[i].value ? "=" : "", cl->args[i].value ? cl->args[i].value : "", cl->workload);
        for (unsigned k = 0; k < cl->asked_count && n > 0 && (size_t)n < error_size; k++)
            n += snprintf(error + n, error_size - (size_t)n, " %s", cl->asked[k]);
        if (n > 0 && (size_t)n < error_size)
            snprintf(error + n, error_size - (size_t)n, "%s)", cl->asked_count ? "" : " no arguments");
        return ERR_INVAL;
    }
    return 0;
}

/* ---- the boot command line ------------------------------------------------------------------ */

static struct cmdline boot_cmdline;

NORETURN void cmdline_usage_error(const char *fmt, ...) {
    printf("cmdline: error: ");
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    arch_exit(EXIT_USAGE);
}

void cmdline_boot_init(const char *line) {
    char error[160];
    if (cmdline_parse(&boot_cmdline, line, error, sizeof(error)) != 0) cmdline_usage_error("%s", error);
}

struct cmdline *cmdline_boot(void) { return &boot_cmdline; }

int64_t arg_int(const char *key, int64_t def) {
    char error[160];
    int64_t value;
    if (cmdline_int(&boot_cmdline, key, def, &value, error, sizeof(error)) != 0) cmdline_usage_error("%s", error);
    return value;
}

const char *arg_str(const char *key, const char *def) {
    char error[160];
    const char *value;
    if (cmdline_str(&boot_cmdline, key, def, &value, error, sizeof(error)) != 0) cmdline_usage_error("%s", error);
    return value;
}

bool arg_bool(const char *key, bool def) {
    char error[160];
    bool value;
    if (cmdline_bool(&boot_cmdline, key, def, &value, error, sizeof(error)) != 0) cmdline_usage_error("%s", error);
    return value;
}

void args_done(void) {
    char error[400];
    if (cmdline_check_unused(&boot_cmdline, error, sizeof(error)) != 0) cmdline_usage_error("%s", error);
}
