/*
 * log/panic.c: panic(), and the libc entry points that end in one (abort, failed assert).
 */
#include "log/log.h"
#include "arch/arch.h"
#include "console/console.h"
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

NORETURN void panic(const char *fmt, ...) {
    if (!arch_enter_fatal()) {
        console_puts("\n[PANIC] (nested panic while reporting a fatal error; exiting)\n");
        arch_exit(EXIT_PANIC);
    }
    printf("\n[PANIC] ");
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    trap_run_report_hook(NULL);
    printf("  ");
    arch_backtrace(read_rbp());
    arch_exit(EXIT_PANIC);
}

NORETURN void __assert_fail(const char *expr, const char *file, unsigned line, const char *func) {
    panic("assertion failed: %s, in %s() at %s:%u", expr, func, file, line);
}

NORETURN void abort(void) { panic("abort() called"); }
