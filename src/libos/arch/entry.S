/*
 * arch/entry.S: the multiboot header and the 32-bit entry point.
 *
 * A multiboot loader (QEMU -kernel, our emulator) enters _start in 32-bit protected mode with
 * paging off, EAX = 0x2BADB002 and EBX = the multiboot information. We zero .bss, check that
 * the CPU has long mode, build identity page tables for the first 4 GiB (2 MiB pages, except
 * the first 2 MiB which use 4 KiB pages so that page 0 can stay unmapped), enable PAE, SSE,
 * EFER.LME and paging, load a 64-bit GDT and far-jump to 64-bit code, which calls
 * kmain(magic, info).
 */

#define MB_MAGIC 0x1BADB002
#define MB_FLAG_PAGE_ALIGN (1 << 0)   /* modules on page boundaries */
#define MB_FLAG_MEMINFO (1 << 1)      /* we want mem_lower/upper and the memory map */
#define MB_FLAG_AOUT_KLUDGE (1 << 16) /* load addresses are in this header (QEMU needs it for ELF64) */
#define MB_FLAGS (MB_FLAG_PAGE_ALIGN | MB_FLAG_MEMINFO | MB_FLAG_AOUT_KLUDGE)

#define CR0_PE (1 << 0)
#define CR0_MP (1 << 1)
#define CR0_EM (1 << 2)
#define CR0_WP (1 << 16)
#define CR0_PG (1 << 31)
#define CR4_PAE (1 << 5)
#define CR4_OSFXSR (1 << 9)
#define CR4_OSXMMEXCPT (1 << 10)
#define MSR_EFER 0xC0000080
#define EFER_LME (1 << 8)

#define PTE_PRESENT 0x1
#define PTE_WRITE 0x2
#define PTE_LARGE 0x80

#define COM1 0x3F8
#define DEBUG_EXIT_PORT 0xF4
#define EXIT_PANIC 0x7E

    .section .multiboot, "a"
    .align 4
multiboot_header:
    .long MB_MAGIC
    .long MB_FLAGS
    .long -(MB_MAGIC + MB_FLAGS)
    .long multiboot_header      /* header_addr */
    .long __image_start         /* load_addr: the image is loaded from here... */
    .long __load_end            /* load_end_addr: ...to here (text, rodata, data) */
    .long __bss_end             /* bss_end_addr: zero-filled up to here */
    .long _start                /* entry_addr */

    .section .text.boot, "ax"
    .code32
    .globl _start
    .type _start, @function
_start:
    cli
    cld
    mov %eax, %ebp              /* multiboot magic, checked in C */
    mov %ebx, %esi              /* multiboot information */

    /* Zero .bss (QEMU already does; other loaders need not). */
    mov $__bss_start, %edi
    mov $__bss_end, %ecx
    sub %edi, %ecx
    shr $2, %ecx
    xor %eax, %eax
    rep stosl

    mov $boot_stack_top, %esp

    /* Long mode? CPUID 0x80000001 EDX bit 29. */
    mov $0x80000000, %eax
    cpuid
    cmp $0x80000001, %eax
    jb no_long_mode
    mov $0x80000001, %eax
    cpuid
    test $(1 << 29), %edx
    jz no_long_mode

    /* PML4[0] -> PDPT; PDPT[0..3] -> the four page directories. */
    mov $boot_pdpt, %eax
    or $(PTE_PRESENT | PTE_WRITE), %eax
    mov %eax, boot_pml4
    mov $boot_pd, %eax
    or $(PTE_PRESENT | PTE_WRITE), %eax
    mov $boot_pdpt, %edi
    mov $4, %ecx
1:  mov %eax, (%edi)
    add $4096, %eax
    add $8, %edi
    loop 1b

    /* 2048 2 MiB pages: 0 - 4 GiB. */
    mov $boot_pd, %edi
    mov $(PTE_PRESENT | PTE_WRITE | PTE_LARGE), %eax
    mov $2048, %ecx
2:  mov %eax, (%edi)
    add $0x200000, %eax
    add $8, %edi
    loop 2b

    /* ...except the first 2 MiB: 4 KiB pages, page 0 left not-present (NULL faults). */
    mov $boot_pt_low, %eax
    or $(PTE_PRESENT | PTE_WRITE), %eax
    mov %eax, boot_pd
    mov $(boot_pt_low + 8), %edi
    mov $(4096 | PTE_PRESENT | PTE_WRITE), %eax
    mov $511, %ecx
3:  mov %eax, (%edi)
    add $4096, %eax
    add $8, %edi
    loop 3b

    mov $boot_pml4, %eax
    mov %eax, %cr3
    mov %cr4, %eax
    or $(CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT), %eax
    mov %eax, %cr4
    mov $MSR_EFER, %ecx
    rdmsr
    or $EFER_LME, %eax
    wrmsr
    mov %cr0, %eax
    and $~CR0_EM, %eax
    or $(CR0_PE | CR0_MP | CR0_WP | CR0_PG), %eax
    mov %eax, %cr0

    lgdt boot_gdt_pointer
    ljmp $0x08, $long_mode_entry

no_long_mode:
    mov $no_long_mode_message, %ebx
4:  movb (%ebx), %al
    test %al, %al
    jz 5f
    mov $COM1, %dx
    outb %al, %dx
    inc %ebx
    jmp 4b
5:  mov $EXIT_PANIC, %al
    mov $DEBUG_EXIT_PORT, %dx
    outb %al, %dx
6:  hlt
    jmp 6b
    .size _start, . - _start

    .code64
    .type long_mode_entry, @function
long_mode_entry:
    mov $0x10, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    mov %eax, %fs
    mov %eax, %gs
    mov $boot_stack_top, %esp   /* zero-extends into RSP */
    mov %ebp, %edi              /* kmain(magic, info): zero-extended 32-bit values */
    mov %esi, %esi
    xor %ebp, %ebp              /* ends the frame-pointer chain for backtraces */
    call kmain
7:  cli
    hlt
    jmp 7b
    .size long_mode_entry, . - long_mode_entry

    .section .rodata.boot, "a"
    .align 16
boot_gdt:
    .quad 0
    .quad 0x00AF9B000000FFFF    /* 0x08: 64-bit code, DPL 0 */
    .quad 0x00CF93000000FFFF    /* 0x10: data, DPL 0 */
boot_gdt_end:
    .align 4
boot_gdt_pointer:
    .word boot_gdt_end - boot_gdt - 1
    .long boot_gdt
no_long_mode_message:
    .asciz "boot: this CPU has no 64-bit long mode (CPUID 0x80000001 EDX bit 29); use qemu-system-x86_64\n"

    .section .bss.boot, "aw", @nobits
    .align 4096
    .globl boot_pml4, boot_pt_low, boot_stack_guard, boot_stack_bottom, boot_stack_top
boot_pml4:
    .skip 4096
boot_pdpt:
    .skip 4096
boot_pd:
    .skip 4 * 4096
boot_pt_low:
    .skip 4096
boot_stack_guard:               /* unmapped by arch_init: a boot-stack overflow faults */
    .skip 4096
boot_stack_bottom:
    .skip 64 * 1024
boot_stack_top:

    .section .note.GNU-stack, "", @progbits
