/*
 * arch/pic.c: the 8259A interrupt controller pair.
 *
 * IRQs 0-7 (master, ports 0x20/0x21) and 8-15 (slave, 0xa0/0xa1, cascaded on IRQ 2) are
 * remapped to vectors 0x20-0x2f, away from the CPU exceptions. Every line starts masked;
 * irq_set_handler() unmasks one. Spurious IRQ 7/15 (no bit in the in-service register) are
 * counted and not acknowledged, as the 8259A datasheet requires.
 */
#include "arch/arch_internal.h"

#define PIC1_CMD 0x20
#define PIC1_DATA 0x21
#define PIC2_CMD 0xA0
#define PIC2_DATA 0xA1
#define PIC_EOI 0x20
#define PIC_READ_ISR 0x0B

static irq_handler_fn irq_handlers[16];
static uint64_t irq_counts[16];
static uint64_t spurious;
static uint16_t mask = 0xFFFF;

static void write_masks(void) {
    outb(PIC1_DATA, mask & 0xFF);
    outb(PIC2_DATA, mask >> 8);
}

void pic_init(void) {
    outb(PIC1_CMD, 0x11); /* ICW1: edge triggered, cascade, ICW4 follows */
    outb(PIC2_CMD, 0x11);
    outb(PIC1_DATA, IRQ_BASE_VECTOR);     /* ICW2: vector base */
    outb(PIC2_DATA, IRQ_BASE_VECTOR + 8);
    outb(PIC1_DATA, 1 << 2); /* ICW3: slave on IRQ 2 */
    outb(PIC2_DATA, 2);      /*       slave identity 2 */
    outb(PIC1_DATA, 0x01);   /* ICW4: 8086 mode, normal EOI */
    outb(PIC2_DATA, 0x01);
    mask = 0xFFFF & ~(1u << 2); /* the cascade line stays open */
    write_masks();
}

void irq_set_handler(unsigned irq, irq_handler_fn handler) {
    if (irq >= 16) return;
    irq_handlers[irq] = handler;
    mask &= ~(1u << irq);
    write_masks();
}

void irq_mask(unsigned irq) {
    if (irq >= 16 || irq == 2) return;
    mask |= 1u << irq;
    write_masks();
}

uint64_t irq_count(unsigned irq) { return irq < 16 ? irq_counts[irq] : 0; }
uint64_t irq_spurious_count(void) { return spurious; }

static bool in_service(unsigned irq) {
    uint16_t port = irq < 8 ? PIC1_CMD : PIC2_CMD;
    outb(port, PIC_READ_ISR);
    return (inb(port) >> (irq & 7)) & 1;
}

/* Called by trap_dispatch with interrupts off. */
void pic_dispatch(unsigned irq) {
    if ((irq == 7 || irq == 15) && !in_service(irq)) {
        spurious++;
        if (irq == 15) outb(PIC1_CMD, PIC_EOI); /* the master did see the cascade */
        return;
    }
    irq_counts[irq]++;
    if (irq_handlers[irq]) irq_handlers[irq](irq);
    if (irq >= 8) outb(PIC2_CMD, PIC_EOI);
    outb(PIC1_CMD, PIC_EOI);
}
