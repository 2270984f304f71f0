/*
 * arch/trap.c: the C side of every interrupt and exception.
 *
 * trap_dispatch() sends IRQ vectors (0x20-0x2f) to the PIC layer and CPU exceptions to a
 * registered handler; any exception without one is fatal: we print the vector with its name,
 * the error code decoded, RIP, CR2, every register, the running fiber (through the report
 * hook) and a frame-pointer backtrace, then exit with EXIT_TRAP (process status 255).
 */
#include "arch/arch_internal.h"
#include "console/console.h"
#include <stdio.h>


static trap_handler_fn handlers[32];
static trap_report_hook_fn report_hook;
static volatile bool in_fatal;

static const char *const exception_names[32] = {
    [0] = "#DE divide error",
    [1] = "#DB debug",
    [2] = "NMI",
    [3] = "#BP breakpoint",
    [4] = "#OF overflow",
    [5] = "#BR bound range exceeded",
    [6] = "#UD invalid opcode",
    [7] = "#NM device not available",
    [8] = "#DF double fault",
    [9] = "coprocessor segment overrun",
    [10] = "#TS invalid TSS",
    [11] = "#NP segment not present",
    [12] = "#SS stack-segment fault",
    [13] = "#GP general protection",
    [14] = "#PF page fault",
    [16] = "#MF x87 floating-point error",
    [17] = "#AC alignment check",
    [18] = "#MC machine check",
    [19] = "#XM SIMD floating-point exception",
    [20] = "#VE virtualization exception",
    [21] = "#CP control protection",
};

void trap_set_handler(unsigned vector, trap_handler_fn handler) {
    if (vector < 32) handlers[vector] = handler;
}

void trap_set_report_hook(trap_report_hook_fn hook) { report_hook = hook; }

void trap_run_report_hook(const struct trap_frame *frame) {
    if (report_hook) report_hook(frame);
}

bool arch_in_fatal(void) { return in_fatal; }

bool arch_enter_fatal(void) {
    irq_disable();
    if (in_fatal) return false;
    in_fatal = true;
    return true;
}

/* A plausible saved frame pointer: 8-aligned, mapped, inside the identity map. */
static bool frame_pointer_ok(uint64_t rbp) {
    return rbp != 0 && (rbp & 7) == 0 && rbp >= 0x1000 && rbp + 16 <= IDENTITY_MAP_LIMIT &&
           paging_is_present(rbp) && paging_is_present(rbp + 8);
}

void arch_backtrace(uint64_t rbp) {
    printf("backtrace (addr2line -f -e build/kernel.elf ADDR):");
    int frames = 0;
    while (frame_pointer_ok(rbp) && frames < 24) {
        uint64_t *frame = (uint64_t *)rbp;
        uint64_t return_address = frame[1];
        if (return_address == 0) break;
        printf(" %#lx", return_address);
        uint64_t next = frame[0];
        if (next <= rbp) break; /* the chain only goes up the stack */
        rbp = next;
        frames++;
    }
    printf("%s\n", frames == 0 ? " (none)" : "");
}

static void print_page_fault_cause(uint64_t error_code, uint64_t cr2) {
    const char *access = (error_code & 16) ? "instruction fetch" : (error_code & 2) ? "write" : "read";
    printf("  cause: %s at %#lx: %s%s%s\n", access, cr2,
           (error_code & 1) ? "protection violation on a present page" : "page not present",
           (error_code & 4) ? ", user mode" : "", (error_code & 8) ? ", reserved bit set in a page-table entry" : "");
    if (cr2 < PAGE_SIZE)
        printf("  hint: CR2 is in page 0: a NULL pointer dereference\n");
    else if (cr2 >= IDENTITY_MAP_LIMIT)
        printf("  hint: CR2 is above the 4 GiB identity map: a wild or corrupted pointer\n");
}

static NORETURN void fatal_trap(struct trap_frame *frame) {
    if (!arch_enter_fatal()) {
        console_puts("\ntrap: another fault while reporting a fatal trap; exiting\n");
        arch_exit(EXIT_TRAP);
    }
    uint64_t cr2 = read_cr2();
    unsigned vector = (unsigned)frame->vector;
    const char *name = vector < 32 && exception_names[vector] ? exception_names[vector]
                       : vector < 32                          ? "reserved exception"
                                                              : "unexpected interrupt";
    printf("\n[FATAL] trap: %s (vector %u), error code %#lx, at RIP %#lx\n", name, vector,
           frame->error_code, frame->rip);
    if (vector == 14) print_page_fault_cause(frame->error_code, cr2);
    if ((vector == 13 || vector == 10 || vector == 11 || vector == 12) && frame->error_code != 0)
        printf("  selector error: index %#lx%s%s\n", frame->error_code >> 3,
               (frame->error_code & 2) ? " in the IDT" : ((frame->error_code & 4) ? " in the LDT" : " in the GDT"),
               (frame->error_code & 1) ? ", external event" : "");
    if (vector == 13 && frame->error_code == 0)
        printf("  hint: a #GP with error code 0 is often a non-canonical address or a privileged instruction\n");
    printf("  RIP %016lx  RSP %016lx  RFLAGS %016lx\n", frame->rip, frame->rsp, frame->rflags);
    printf("  CS  %04lx  SS %04lx  CR0 %08lx  CR2 %016lx  CR3 %08lx  CR4 %08lx\n", frame->cs,
           frame->ss, read_cr0(), cr2, read_cr3(), read_cr4());
    printf("  RAX %016lx  RBX %016lx  RCX %016lx  RDX %016lx\n", frame->rax, frame->rbx, frame->rcx, frame->rdx);
    printf("  RSI %016lx  RDI %016lx  RBP %016lx  R8  %016lx\n", frame->rsi, frame->rdi, frame->rbp, frame->r8);
    printf("  R9  %016lx  R10 %016lx  R11 %016lx  R12 %016lx\n", frame->r9, frame->r10, frame->r11, frame->r12);
    printf("  R13 %016lx  R14 %016lx  R15 %016lx\n", frame->r13, frame->r14, frame->r15);
    if (paging_is_present(frame->rip) && paging_is_present(frame->rip + 15)) {
        const uint8_t *code = (const uint8_t *)frame->rip;
        printf("  code: npx tsx src/cli.ts disasm --start %#lx --hex \"", frame->rip);
        for (int i = 0; i < 16; i++) printf(i ? " %02x" : "%02x", code[i]);
        printf("\"\n");
    }
    trap_run_report_hook(frame);
    printf("  ");
    arch_backtrace(frame->rbp);
    printf("  symbols: addr2line -f -e build/kernel.elf %#lx   or   objdump -d build/kernel.elf --start-address=%#lx\n",
           frame->rip, frame->rip);
    arch_exit(EXIT_TRAP);
}

void trap_dispatch(struct trap_frame *frame) {
    unsigned vector = (unsigned)frame->vector;
    if (vector >= IRQ_BASE_VECTOR && vector < IRQ_BASE_VECTOR + 16) {
        pic_dispatch(vector - IRQ_BASE_VECTOR);
        return;
    }
    if (vector < 32 && handlers[vector] && !in_fatal) {
        handlers[vector](frame);
        return;
    }
    fatal_trap(frame);
}
