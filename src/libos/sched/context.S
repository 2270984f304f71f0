/*
 * sched/context.S: switching between fiber stacks.
 *
 * sched_context_switch(uint64_t *save_rsp, uint64_t new_rsp) pushes the callee-saved registers
 * (SysV ABI: RBX, RBP, R12-R15) on the current stack, stores RSP in *save_rsp, loads new_rsp and
 * pops the other fiber's registers: returning there resumes that fiber where it called this.
 * The caller-saved registers (including every XMM register) need no saving: the C caller
 * assumes they are clobbered by the call.
 *
 * A new fiber's stack is prepared (fiber.c) to "return" into fiber_trampoline with R12 = its
 * struct fiber, which calls fiber_start(fiber) on a 16-byte-aligned stack.
 */
    .text
    .globl sched_context_switch
    .type sched_context_switch, @function
sched_context_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size sched_context_switch, . - sched_context_switch

    .globl fiber_trampoline
    .type fiber_trampoline, @function
fiber_trampoline:
    movq %r12, %rdi
    xorl %ebp, %ebp             /* the backtrace of a fiber ends here */
    call fiber_start
    ud2                         /* fiber_start does not return */
    .size fiber_trampoline, . - fiber_trampoline

    .section .note.GNU-stack, "", @progbits
