/*
 * arch/isr.S: interrupt entry stubs.
 *
 * 256 stubs, 16 bytes apart from isr_stubs, one per vector: each pushes a zero error code
 * (unless the CPU pushed one) and its vector, then jumps to isr_common, which saves the general
 * registers in the order of struct trap_frame (arch.h), saves XMM0-15 (C code may use SSE2 and
 * every XMM register is caller-saved), calls trap_dispatch(frame) and returns with IRETQ.
 */

    .text
    .align 16
    .globl isr_stubs
isr_stubs:
    .set vector, 0
    .rept 256
    .align 16
    .if (vector == 8) || (vector >= 10 && vector <= 14) || (vector == 17) || (vector == 21) || (vector == 29) || (vector == 30)
    /* the CPU pushed an error code */
    .else
    pushq $0
    .endif
    pushq $vector
    jmp isr_common
    .set vector, vector + 1
    .endr

    .align 16
    .type isr_common, @function
isr_common:
    cld
    pushq %rax
    pushq %rbx
    pushq %rcx
    pushq %rdx
    pushq %rsi
    pushq %rdi
    pushq %rbp
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    mov %rsp, %rbx              /* the trap frame; RBX is callee-saved */
    sub $256, %rsp
    and $-16, %rsp
    movdqa %xmm0, 0x00(%rsp)
    movdqa %xmm1, 0x10(%rsp)
    movdqa %xmm2, 0x20(%rsp)
    movdqa %xmm3, 0x30(%rsp)
    movdqa %xmm4, 0x40(%rsp)
    movdqa %xmm5, 0x50(%rsp)
    movdqa %xmm6, 0x60(%rsp)
    movdqa %xmm7, 0x70(%rsp)
    movdqa %xmm8, 0x80(%rsp)
    movdqa %xmm9, 0x90(%rsp)
    movdqa %xmm10, 0xa0(%rsp)
    movdqa %xmm11, 0xb0(%rsp)
    movdqa %xmm12, 0xc0(%rsp)
    movdqa %xmm13, 0xd0(%rsp)
    movdqa %xmm14, 0xe0(%rsp)
    movdqa %xmm15, 0xf0(%rsp)
    mov %rbx, %rdi
    call trap_dispatch
    movdqa 0x00(%rsp), %xmm0
    movdqa 0x10(%rsp), %xmm1
    movdqa 0x20(%rsp), %xmm2
    movdqa 0x30(%rsp), %xmm3
    movdqa 0x40(%rsp), %xmm4
    movdqa 0x50(%rsp), %xmm5
    movdqa 0x60(%rsp), %xmm6
    movdqa 0x70(%rsp), %xmm7
    movdqa 0x80(%rsp), %xmm8
    movdqa 0x90(%rsp), %xmm9
    movdqa 0xa0(%rsp), %xmm10
    movdqa 0xb0(%rsp), %xmm11
    movdqa 0xc0(%rsp), %xmm12
    movdqa 0xd0(%rsp), %xmm13
    movdqa 0xe0(%rsp), %xmm14
    movdqa 0xf0(%rsp), %xmm15
    mov %rbx, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %r11
    popq %r10
    popq %r9
    popq %r8
    popq %rbp
    popq %rdi
    popq %rsi
    popq %rdx
    popq %rcx
    popq %rbx
    popq %rax
    add $16, %rsp               /* vector and error code */
    iretq
    .size isr_common, . - isr_common

    .section .note.GNU-stack, "", @progbits
