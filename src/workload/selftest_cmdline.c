/*
 * workload/selftest_cmdline.c: command-line splitting and typed arguments, log specs.
 */
#include "selftest.h"
#include "base/err.h"
#include "cmdline/cmdline.h"
#include "log/log.h"
#include <string.h>

static struct cmdline cl; /* big: keep it off the stack */

static void cmdline_split(void) {
    struct case_log log = {0};
    log.cases++;
    if (cmdline_parse(&cl, "build/kernel.elf selftest a=1 b=hello flag", NULL, 0) != 0 ||
        strcmp(cl.image, "build/kernel.elf") != 0 || strcmp(cl.workload, "selftest") != 0 || cl.arg_count != 3 ||
        strcmp(cl.args[0].key, "a") != 0 || strcmp(cl.args[0].value, "1") != 0 || strcmp(cl.args[1].value, "hello") != 0 ||
        strcmp(cl.args[2].key, "flag") != 0 || cl.args[2].value != NULL)
        case_fail(&log, "image, workload and three arguments");
    log.cases++;
    if (cmdline_parse(&cl, "kernel.elf", NULL, 0) != 0 || strcmp(cl.workload, "bench") != 0 || cl.arg_count != 0)
        case_fail(&log, "no workload: the default is bench");
    log.cases++;
    if (cmdline_parse(&cl, "kernel.elf commits=5", NULL, 0) != 0 || strcmp(cl.workload, "bench") != 0 ||
        cl.arg_count != 1 || strcmp(cl.args[0].key, "commits") != 0)
        case_fail(&log, "a first word with '=' is an argument of the default workload");
    log.cases++;
    if (cmdline_parse(&cl, "  k.elf   selftest \t msg=\"hello world\"  ", NULL, 0) != 0 || cl.arg_count != 1 ||
        strcmp(cl.args[0].value, "hello world") != 0)
        case_fail(&log, "extra spaces and a quoted value");
    char error[128];
    log.cases++;
    if (cmdline_parse(&cl, "k.elf selftest msg=\"oops", error, sizeof(error)) != ERR_INVAL || !strstr(error, "quote"))
        case_fail(&log, "an unterminated quote is an error");
    log.cases++;
    if (cmdline_parse(&cl, "", NULL, 0) != 0 || strcmp(cl.image, "") != 0 || strcmp(cl.workload, "bench") != 0)
        case_fail(&log, "empty command line");
    char many[200] = "k.elf";
    for (int i = 0; i < CMDLINE_MAX_ARGS + 1; i++) strcat(many, " x=1");
    log.cases++;
    if (cmdline_parse(&cl, many, error, sizeof(error)) != ERR_RANGE || !strstr(error, "too many arguments"))
        case_fail(&log, "%d arguments are too many", CMDLINE_MAX_ARGS + 1);
    case_report(&log, "cmdline.split");
}

static void cmdline_values(void) {
    struct case_log log = {0};
    char error[200] = "";
    cmdline_parse(&cl, "k.elf bench commits=100 depth=0x10 neg=-3 name=main clear=false verbose", NULL, 0);
    int64_t i;
    const char *s;
    bool b;
    log.cases++;
    if (cmdline_int(&cl, "commits", 1000, &i, error, sizeof(error)) != 0 || i != 100) case_fail(&log, "commits=100");
    log.cases++;
    if (cmdline_int(&cl, "depth", 16, &i, error, sizeof(error)) != 0 || i != 16) case_fail(&log, "depth=0x10");
    log.cases++;
    if (cmdline_int(&cl, "neg", 0, &i, error, sizeof(error)) != 0 || i != -3) case_fail(&log, "neg=-3");
    log.cases++;
    if (cmdline_int(&cl, "absent", 77, &i, error, sizeof(error)) != 0 || i != 77) case_fail(&log, "default for an absent key");
    log.cases++;
    if (cmdline_str(&cl, "name", "x", &s, error, sizeof(error)) != 0 || strcmp(s, "main") != 0) case_fail(&log, "name=main");
    log.cases++;
    if (cmdline_bool(&cl, "clear", true, &b, error, sizeof(error)) != 0 || b != false) case_fail(&log, "clear=false");
    log.cases++;
    if (cmdline_bool(&cl, "verbose", false, &b, error, sizeof(error)) != 0 || b != true) case_fail(&log, "bare flag is true");
    log.cases++;
    if (cmdline_check_unused(&cl, error, sizeof(error)) != 0) case_fail(&log, "all used, yet: %s", error);
    case_report(&log, "cmdline.values");
}

static void cmdline_errors(void) {
    struct case_log log = {0};
    char error[200] = "";
    int64_t i;
    cmdline_parse(&cl, "k.elf bench commits=lots depth=8 zzz=1", NULL, 0);
    log.cases++;
    if (cmdline_int(&cl, "commits", 1, &i, error, sizeof(error)) != ERR_INVAL || !strstr(error, "commits=lots") ||
        !strstr(error, "integer"))
        case_fail(&log, "malformed integer: \"%s\"", error);
    cmdline_int(&cl, "depth", 16, &i, error, sizeof(error));
    log.cases++;
    if (cmdline_check_unused(&cl, error, sizeof(error)) != ERR_INVAL ||
        strcmp(error, "unknown argument 'zzz=1' for workload 'bench' (it accepts: commits depth)") != 0)
        case_fail(&log, "unknown key message: \"%s\"", error);
    case_report(&log, "cmdline.errors");
}

LOG_SOURCE(test_src, "selftest-log");

static void log_specs(void) {
    struct case_log log = {0};
    char error[200];
    log.cases++;
    if (!log_enabled(&test_src, LOG_LEVEL_INFO) || log_enabled(&test_src, LOG_LEVEL_DEBUG))
        case_fail(&log, "default level is INFO");
    log.cases++;
    if (log_configure("selftest-log:debug", error, sizeof(error)) != 0 || !log_enabled(&test_src, LOG_LEVEL_DEBUG))
        case_fail(&log, "SOURCE:debug enables DEBUG for that source");
    log.cases++;
    if (log_configure("selftest-log:off", error, sizeof(error)) != 0 || log_enabled(&test_src, LOG_LEVEL_ERROR))
        case_fail(&log, "SOURCE:off silences it");
    log.cases++;
    if (log_configure("loud", error, sizeof(error)) != ERR_INVAL || !strstr(error, "loud"))
        case_fail(&log, "bad level rejected: \"%s\"", error);
    log.cases++;
    if (log_configure("x:", error, sizeof(error)) != ERR_INVAL) case_fail(&log, "empty level rejected");
    log_set_level("selftest-log", LOG_LEVEL_INFO);
    log.cases++;
    if (!log_enabled(&test_src, LOG_LEVEL_INFO) || log_enabled(&test_src, LOG_LEVEL_DEBUG))
        case_fail(&log, "back to INFO");
    case_report(&log, "log.levels");
}

void selftest_cmdline(void) {
    cmdline_split();
    cmdline_values();
    cmdline_errors();
    log_specs();
}
