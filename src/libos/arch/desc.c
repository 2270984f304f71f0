/*
 * arch/desc.c: the 64-bit GDT (with a TSS for the IST stacks) and the IDT.
 *
 * entry.S loaded a minimal GDT to reach 64-bit mode; arch_init() replaces it with this one,
 * which adds a TSS so that a double fault (e.g. a fiber overflowing into its guard page), an NMI
 * or a machine check run on stacks of their own.
 */
#include "arch/arch.h"
#include <string.h>

#define SEL_CODE 0x08
#define SEL_DATA 0x10
#define SEL_TSS 0x18

#define IST_DOUBLE_FAULT 1
#define IST_NMI_MCE 2

struct PACKED tss64 {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iomap_base;
};

struct PACKED idt_gate {
    uint16_t offset_low;
    uint16_t selector;
    uint8_t ist;
    uint8_t type_attr;
    uint16_t offset_mid;
    uint32_t offset_high;
    uint32_t reserved;
};

struct PACKED table_pointer {
    uint16_t limit;
    uint64_t base;
};

static uint64_t gdt[5] ALIGNED(16);
static struct tss64 tss ALIGNED(16);
static struct idt_gate idt[256] ALIGNED(16);
static uint8_t double_fault_stack[16384] ALIGNED(16);
static uint8_t nmi_stack[8192] ALIGNED(16);

extern char isr_stubs[]; /* isr.S: 256 stubs, 16 bytes apart */

static void gdt_load(void) {
    gdt[0] = 0;
    gdt[1] = 0x00AF9B000000FFFFull; /* 64-bit code, DPL 0, accessed */
    gdt[2] = 0x00CF93000000FFFFull; /* data, DPL 0, accessed */

    uint64_t base = (uint64_t)&tss;
    uint64_t limit = sizeof(tss) - 1;
    /* 16-byte system descriptor: type 9 (available 64-bit TSS), present. */
    gdt[3] = (limit & 0xFFFF) | ((base & 0xFFFFFF) << 16) | (0x89ull << 40) |
             (((limit >> 16) & 0xF) << 48) | (((base >> 24) & 0xFF) << 56);
    gdt[4] = base >> 32;

    memset(&tss, 0, sizeof(tss));
    tss.ist[IST_DOUBLE_FAULT - 1] = (uint64_t)(double_fault_stack + sizeof(double_fault_stack));
    tss.ist[IST_NMI_MCE - 1] = (uint64_t)(nmi_stack + sizeof(nmi_stack));
    tss.iomap_base = sizeof(tss); /* no I/O permission bitmap */

    struct table_pointer pointer = {.limit = sizeof(gdt) - 1, .base = (uint64_t)gdt};
    __asm__ volatile(
        "lgdt %0\n\t"
        "pushq %1\n\t"
        "leaq 1f(%%rip), %%rax\n\t"
        "pushq %%rax\n\t"
        "lretq\n"
        "1:\n\t"
        "mov %2, %%eax\n\t"
        "mov %%eax, %%ds\n\t"
        "mov %%eax, %%es\n\t"
        "mov %%eax, %%ss\n\t"
        "mov %%eax, %%fs\n\t"
        "mov %%eax, %%gs\n\t"
        "mov %3, %%eax\n\t"
        "ltr %%ax\n\t"
        :
        : "m"(pointer), "i"(SEL_CODE), "i"(SEL_DATA), "i"(SEL_TSS)
        : "rax", "memory");
}

static void idt_set(unsigned vector, uint64_t handler, uint8_t ist) {
    struct idt_gate *gate = &idt[vector];
    gate->offset_low = handler & 0xFFFF;
    gate->selector = SEL_CODE;
    gate->ist = ist;
    gate->type_attr = 0x8E; /* present, DPL 0, 64-bit interrupt gate (clears IF) */
    gate->offset_mid = (handler >> 16) & 0xFFFF;
    gate->offset_high = handler >> 32;
    gate->reserved = 0;
}

static void idt_load(void) {
    for (unsigned v = 0; v < 256; v++) idt_set(v, (uint64_t)(isr_stubs + 16 * v), 0);
    idt[8].ist = IST_DOUBLE_FAULT;
    idt[2].ist = IST_NMI_MCE;
    idt[18].ist = IST_NMI_MCE;
    struct table_pointer pointer = {.limit = sizeof(idt) - 1, .base = (uint64_t)idt};
    __asm__ volatile("lidt %0" ::"m"(pointer) : "memory");
}

void arch_init(void) {
    gdt_load();
    idt_load();
}
