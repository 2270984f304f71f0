/*
 * console/console.h: the serial console (16550A UART on COM1, I/O 0x3f8-0x3ff).
 *
 * Output is polled (no TX interrupt) and byte exact: "\n" is sent as is, the terminal side
 * (QEMU's -serial stdio, our emulator's stdout) decides how to show it. Input is optional and
 * polled too.
 */
#ifndef LIBOS_CONSOLE_H
#define LIBOS_CONSOLE_H

#include "base/base.h"

#define COM1_PORT 0x3F8

void console_init(void);
void console_putc(char c);
void console_write(const char *buf, size_t len);
void console_puts(const char *s); /* no newline added */
/* The next received byte, or -1 if none is waiting. */
int console_getc_nonblock(void);
/* Bytes written since boot. */
uint64_t console_bytes_written(void);

#endif
