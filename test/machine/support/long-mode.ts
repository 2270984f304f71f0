// Assembly that takes a machine from the multiboot state (32-bit protected mode, paging off) to
// 64-bit long mode; shared by machine tests and benchmarks.

/**
 * 32-bit entry code that identity-maps the first 8 MiB with 2 MiB pages, enables PAE, EFER.LME and
 * paging, then far-jumps into the 64-bit code segment at `long_mode` (which the caller provides).
 */
export const ENTER_LONG_MODE = `
  lgdt [gdtr]
  mov dword ptr [0x200000], 0x201007
  mov dword ptr [0x200004], 0
  mov dword ptr [0x201000], 0x202007
  mov dword ptr [0x201004], 0
  mov dword ptr [0x202000], 0x000087
  mov dword ptr [0x202008], 0x200087
  mov dword ptr [0x202010], 0x400087
  mov dword ptr [0x202018], 0x600087
  mov eax, cr4
  or eax, 0x20
  mov cr4, eax
  mov eax, 0x200000
  mov cr3, eax
  mov ecx, 0xc0000080
  rdmsr
  or eax, 0x100
  wrmsr
  mov eax, cr0
  or eax, 0x80000001
  mov cr0, eax
  .byte 0xea
  .long long_mode
  .word 0x18
gdt:
  .quad 0
  .quad 0x00cf9a000000ffff
  .quad 0x00cf92000000ffff
  .quad 0x00af9a000000ffff
  .quad 0x00cff2000000ffff
  .quad 0x00affa000000ffff
  .quad 0x0000890060000067
  .quad 0
gdtr:
  .word 63
  .long gdt
`;

/** 64-bit code that lets SSE instructions run (gcc's output uses SSE2): CR0.MP on, CR0.EM off, CR4.OSFXSR and OSXMMEXCPT on. */
export const ENABLE_SSE = `
  mov rax, cr0
  and eax, ~4
  or eax, 2
  mov cr0, rax
  mov rax, cr4
  or eax, 0x600
  mov cr4, rax`;

/**
 * Initialises both 8259 PICs as a PC's firmware does (edge-triggered, cascaded on IRQ 2, vectors
 * 0x20 and 0x28) and masks every IRQ but those clear in `masterMask` (the slave's all masked).
 */
export function initPics(masterMask: number): string {
  return `
  mov al, 0x11
  out 0x20, al
  out 0xa0, al
  mov al, 0x20
  out 0x21, al
  mov al, 0x28
  out 0xa1, al
  mov al, 4
  out 0x21, al
  mov al, 2
  out 0xa1, al
  mov al, 1
  out 0x21, al
  out 0xa1, al
  mov al, 0x${masterMask.toString(16)}
  out 0x21, al
  mov al, 0xff
  out 0xa1, al`;
}
