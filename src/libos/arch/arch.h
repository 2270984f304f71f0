/*
 * arch/arch.h: the x86-64 machine as the libos sees it.
 *
 * Port I/O, privileged CPU instructions, the exit path (isa-debug-exit), the interrupt
 * descriptor table and trap frames, the 8259 PIC and page-table edits. The boot code
 * (entry.S) leaves the CPU in 64-bit mode with paging on and the first 4 GiB identity-mapped
 * (2 MiB pages; the first 2 MiB in 4 KiB pages with page 0 unmapped so NULL dereferences fault).
 */
#ifndef LIBOS_ARCH_H
#define LIBOS_ARCH_H

#include "base/base.h"

/* ---- exit statuses ---------------------------------------------------------------------------
 * arch_exit(v) writes v to the isa-debug-exit port 0xf4; QEMU (and our emulator) then exit with
 * process status (v << 1) | 1. */
#define EXIT_OK 0x00      /* status 1: success (selftest: every check passed) */
#define EXIT_FAIL 0x01    /* status 3: the workload failed */
#define EXIT_USAGE 0x02   /* status 5: bad command line */
#define EXIT_PANIC 0x7e   /* status 253: libos panic (assertion, allocator misuse, deadlock...) */
#define EXIT_TRAP 0x7f    /* status 255: unexpected CPU exception or interrupt */

#define DEBUG_EXIT_PORT 0xf4

NORETURN void arch_exit(uint8_t value);

/* ---- port I/O ------------------------------------------------------------------------------ */
static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port)); }
static inline void outw(uint16_t port, uint16_t v) { __asm__ volatile("outw %0, %1" ::"a"(v), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" ::"a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port) {
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
static inline uint16_t inw(uint16_t port) {
    uint16_t v;
    __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
static inline uint32_t inl(uint16_t port) {
    uint32_t v;
    __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

/* ---- CPU --------------------------------------------------------------------------------- */
static inline uint64_t rdtsc(void) {
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}
static inline void cpu_relax(void) { __asm__ volatile("pause" ::: "memory"); }
static inline void irq_disable(void) { __asm__ volatile("cli" ::: "memory"); }
static inline void irq_enable(void) { __asm__ volatile("sti" ::: "memory"); }
/* Enables interrupts and halts until the next one (STI's one-instruction shadow makes the pair
 * atomic: an interrupt pending at the STI wakes the HLT rather than being taken before it). */
static inline void cpu_idle(void) { __asm__ volatile("sti; hlt" ::: "memory"); }
static inline uint64_t read_rflags(void) {
    uint64_t f;
    __asm__ volatile("pushfq; popq %0" : "=r"(f));
    return f;
}
static inline bool irqs_enabled(void) { return (read_rflags() & (1u << 9)) != 0; }

static inline uint64_t read_cr0(void) { uint64_t v; __asm__ volatile("mov %%cr0, %0" : "=r"(v)); return v; }
static inline uint64_t read_cr2(void) { uint64_t v; __asm__ volatile("mov %%cr2, %0" : "=r"(v)); return v; }
static inline uint64_t read_cr3(void) { uint64_t v; __asm__ volatile("mov %%cr3, %0" : "=r"(v)); return v; }
static inline uint64_t read_cr4(void) { uint64_t v; __asm__ volatile("mov %%cr4, %0" : "=r"(v)); return v; }
static inline void invlpg(uint64_t addr) { __asm__ volatile("invlpg (%0)" ::"r"(addr) : "memory"); }
static inline uint64_t read_rbp(void) { uint64_t v; __asm__ volatile("mov %%rbp, %0" : "=r"(v)); return v; }

static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d) {
    __asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(sub));
}
static inline uint64_t rdmsr(uint32_t msr) {
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((uint64_t)hi << 32) | lo;
}

/* ---- image layout (symbols from kernel.ld) ---------------------------------------------- */
extern char __image_start[], __text_end[], __load_end[], __bss_start[], __bss_end[];

/* ---- descriptor tables and traps -------------------------------------------------------- */

/* The registers an interrupt or exception saved, as isr.S lays them out on the stack. */
struct trap_frame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error_code;
    /* pushed by the CPU */
    uint64_t rip, cs, rflags, rsp, ss;
};

/* Loads the 64-bit GDT with a TSS (IST stacks for #DF, NMI and #MC) and the IDT. */
void arch_init(void);

/* A handler for one CPU exception vector (0-31); returning resumes at frame->rip. */
typedef void (*trap_handler_fn)(struct trap_frame *frame);
void trap_set_handler(unsigned vector, trap_handler_fn handler);

/* Called while a fatal trap or a panic is being reported, to add what the upper layers know
 * (the running fiber, whether CR2 is a stack guard page...). */
typedef void (*trap_report_hook_fn)(const struct trap_frame *frame /* NULL for a panic */);
void trap_set_report_hook(trap_report_hook_fn hook);
void trap_run_report_hook(const struct trap_frame *frame);

/* Prints the return addresses of the frame-pointer chain starting at `rbp`. */
void arch_backtrace(uint64_t rbp);

/* True while a fatal trap or panic is being reported (nested failures then exit at once). */
bool arch_in_fatal(void);
/* Marks the start of a fatal report; returns false if one was already running. */
bool arch_enter_fatal(void);

/* ---- 8259 PIC: IRQs 0-15 at vectors 0x20-0x2f ------------------------------------------ */
#define IRQ_BASE_VECTOR 0x20
typedef void (*irq_handler_fn)(unsigned irq);
void pic_init(void);                       /* remap, mask everything */
void irq_set_handler(unsigned irq, irq_handler_fn handler); /* and unmask it */
void irq_mask(unsigned irq);
uint64_t irq_count(unsigned irq);          /* interrupts delivered so far on this line */
uint64_t irq_spurious_count(void);

/* ---- paging (4 KiB granularity where needed) -------------------------------------------- */
#define PAGE_SIZE ((uint64_t)4096)
#define IDENTITY_MAP_LIMIT GiB(4) /* everything below is identity-mapped */
/* Marks the 4 KiB page at `addr` present or not (splitting its 2 MiB page on first use; the
 * page-table page comes from the page allocator). Returns 0 or ERR_NOMEM. */
int paging_set_present(uint64_t addr, bool present);
/* True if `addr` is below IDENTITY_MAP_LIMIT and its page is present. */
bool paging_is_present(uint64_t addr);

/* The boot stack (set up by entry.S) and its guard page. */
extern char boot_stack_bottom[], boot_stack_top[], boot_stack_guard[];

#endif
