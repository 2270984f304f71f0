// Architectural exceptions raised while executing guest code (#PF from the MMU, #GP, #UD, #DE...
// from the instruction semantics). They are thrown as JS exceptions; the CPU loop catches a
// CpuException and delivers it through the IDT, so nothing here ever reaches the user as a stack
// trace. Construction skips V8's stack capture (the expensive part of `new Error`): a guest that
// takes thousands of page faults pays for an object, not for a JS backtrace. Set
// X64EMU_DEBUG=1 to keep the JS stack (useful when a CpuException escapes by mistake).

export const VEC_DE = 0; // divide error
export const VEC_DB = 1; // debug
export const VEC_NMI = 2; // non-maskable interrupt
export const VEC_BP = 3; // breakpoint (INT3)
export const VEC_OF = 4; // overflow (INTO)
export const VEC_BR = 5; // BOUND range exceeded
export const VEC_UD = 6; // invalid opcode
export const VEC_NM = 7; // device not available
export const VEC_DF = 8; // double fault
export const VEC_TS = 10; // invalid TSS
export const VEC_NP = 11; // segment not present
export const VEC_SS = 12; // stack-segment fault
export const VEC_GP = 13; // general protection
export const VEC_PF = 14; // page fault
export const VEC_MF = 16; // x87 floating-point error
export const VEC_AC = 17; // alignment check
export const VEC_XM = 19; // SIMD floating-point exception

/** Page-fault error code bits (Intel SDM vol. 3, 4.7). */
export const PF_PRESENT = 1 << 0; // 0: not-present page; 1: protection violation (or reserved bit)
export const PF_WRITE = 1 << 1; // the access was a write
export const PF_USER = 1 << 2; // the access was a user-mode (CPL 3) access
export const PF_RSVD = 1 << 3; // a reserved bit was set in a paging-structure entry
export const PF_FETCH = 1 << 4; // instruction fetch (only reported with NXE in PAE/4-level paging, or SMEP)

const MNEMONICS: Record<number, string> = {
  0: "#DE", 1: "#DB", 2: "NMI", 3: "#BP", 4: "#OF", 5: "#BR", 6: "#UD", 7: "#NM", 8: "#DF",
  10: "#TS", 11: "#NP", 12: "#SS", 13: "#GP", 14: "#PF", 16: "#MF", 17: "#AC", 19: "#XM",
};

/** "#PF", "#GP"... or "vector N" for the others. */
export function vectorName(vector: number): string {
  return MNEMONICS[vector] ?? `vector ${vector}`;
}

const keepStacks = typeof process !== "undefined" && process.env?.X64EMU_DEBUG === "1";

export class CpuException extends Error {
  /** the vector (VEC_*) */
  readonly vector: number;
  /** the error code pushed on delivery, or null for vectors that push none */
  readonly errorCode: number | null;

  constructor(vector: number, errorCode: number | null, message?: string) {
    const limit = Error.stackTraceLimit;
    if (!keepStacks) Error.stackTraceLimit = 0;
    super(message ?? (errorCode === null ? vectorName(vector) : `${vectorName(vector)}(0x${errorCode.toString(16)})`));
    Error.stackTraceLimit = limit;
    this.vector = vector;
    this.errorCode = errorCode;
  }
}
// On the prototype rather than per instance.
Object.defineProperty(CpuException.prototype, "name", { value: "CpuException", writable: true, configurable: true });

/** #PF with the given error code (the faulting linear address goes to CR2 separately: Mmu.faultAddress). */
export function pageFault(errorCode: number, message?: string): CpuException {
  return new CpuException(VEC_PF, errorCode, message);
}

/** #GP(code); code is a selector error code, 0 for most causes. */
export function generalProtection(code = 0, message?: string): CpuException {
  return new CpuException(VEC_GP, code, message);
}

/** #UD (no error code). */
export function invalidOpcode(message?: string): CpuException {
  return new CpuException(VEC_UD, null, message);
}

/**
 * Not a fault: a REP string instruction stopped between two iterations so that interrupts, devices
 * and the host get a turn (on hardware a REP instruction is interruptible between iterations).
 * RIP stays on the instruction with rCX/rSI/rDI advanced, nothing retires, and executing it again
 * goes on. Returned like a fault by Interpreter.execute(); never delivered.
 */
export const REP_UNFINISHED = new CpuException(-1, null, "REP string instruction stopped between iterations");
