/*
 * console/uart.c: polled 16550A driver for COM1.
 *
 * 115200 baud 8N1, FIFOs on, interrupts off. Transmission waits for THRE (transmit holding
 * register empty); a machine without a UART (LSR reads all ones) gets no output rather than a hang.
 */
#include "console/console.h"
#include "arch/arch.h"

#define UART_DATA 0        /* THR (write) / RBR (read); divisor low with DLAB */
#define UART_IER 1         /* interrupt enable; divisor high with DLAB */
#define UART_FCR 2         /* FIFO control (write) */
#define UART_LCR 3         /* line control */
#define UART_MCR 4         /* modem control */
#define UART_LSR 5         /* line status */
#define LCR_DLAB 0x80
#define LCR_8N1 0x03
#define FCR_ENABLE_CLEAR 0x07 /* enable FIFOs, clear RX and TX FIFOs, trigger level 1 byte */
#define MCR_DTR_RTS_OUT2 0x0B
#define LSR_DATA_READY 0x01
#define LSR_THR_EMPTY 0x20
#define BAUD_DIVISOR 1 /* 115200 = 1.8432 MHz / 16 / 1 */

static uint64_t bytes_written;
static bool uart_present;

void console_init(void) {
    outb(COM1_PORT + UART_IER, 0x00);
    outb(COM1_PORT + UART_LCR, LCR_DLAB);
    outb(COM1_PORT + UART_DATA, BAUD_DIVISOR & 0xFF);
    outb(COM1_PORT + UART_IER, BAUD_DIVISOR >> 8);
    outb(COM1_PORT + UART_LCR, LCR_8N1);
    outb(COM1_PORT + UART_FCR, FCR_ENABLE_CLEAR);
    outb(COM1_PORT + UART_MCR, MCR_DTR_RTS_OUT2);
    uart_present = inb(COM1_PORT + UART_LSR) != 0xFF;
}

void console_putc(char c) {
    /*
     * Wait for THRE without a bound: a host that drains the serial line slowly (QEMU writing to a
     * busy pipe) holds THRE clear, and writing anyway would lose bytes. An absent UART (LSR reads
     * all ones, seen at init) is skipped instead.
     */
    if (!uart_present) return;
    while (!(inb(COM1_PORT + UART_LSR) & LSR_THR_EMPTY)) cpu_relax();
    outb(COM1_PORT + UART_DATA, (uint8_t)c);
    bytes_written++;
}

void console_write(const char *buf, size_t len) {
    for (size_t i = 0; i < len; i++) console_putc(buf[i]);
}

void console_puts(const char *s) {
    while (*s) console_putc(*s++);
}

int console_getc_nonblock(void) {
    if (!(inb(COM1_PORT + UART_LSR) & LSR_DATA_READY)) return -1;
    return inb(COM1_PORT + UART_DATA);
}

uint64_t console_bytes_written(void) { return bytes_written; }
