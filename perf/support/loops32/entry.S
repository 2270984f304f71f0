# Multiboot entry of the loops32 guest (loops32.c): a multiboot 1 header (flags: page-align,
# memory information; no a.out kludge, so loaders take the ELF32 program headers), its own stack,
# then loops32_main(magic, info). loops32_main ends with a write to isa-debug-exit (port 0xf4); if
# nothing listens there, the CPU stops here with interrupts off.
.intel_syntax noprefix
.code32

.set MB_MAGIC, 0x1BADB002
.set MB_FLAGS, 0x00000003

.section .multiboot, "a"
.align 4
  .long MB_MAGIC
  .long MB_FLAGS
  .long -(MB_MAGIC + MB_FLAGS)

.section .text
.global _start
_start:
  cli
  cld
  mov esp, offset stack_top
  push ebx                    # multiboot information
  push eax                    # the loader's magic
  call loops32_main
1: cli
  hlt
  jmp 1b

.section .bss
.align 16
stack: .skip 16384
stack_top:
