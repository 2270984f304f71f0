// Register names as the disassembler and the canonical operand form spell them.

const GPR64 = ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"];
const GPR32 = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi", "r8d", "r9d", "r10d", "r11d", "r12d", "r13d", "r14d", "r15d"];
const GPR16 = ["ax", "cx", "dx", "bx", "sp", "bp", "si", "di", "r8w", "r9w", "r10w", "r11w", "r12w", "r13w", "r14w", "r15w"];
const GPR8_REX = ["al", "cl", "dl", "bl", "spl", "bpl", "sil", "dil", "r8b", "r9b", "r10b", "r11b", "r12b", "r13b", "r14b", "r15b"];
const GPR8_LEGACY = ["al", "cl", "dl", "bl", "ah", "ch", "dh", "bh"];

export const SEGMENT_NAMES = ["es", "cs", "ss", "ds", "fs", "gs"];

/** A general register by number and size in bytes; without REX, byte registers 4-7 are AH..BH. */
export function gprName(number: number, size: number, hasRex: boolean): string {
  switch (size) {
    case 1: return hasRex ? GPR8_REX[number] : GPR8_LEGACY[number];
    case 2: return GPR16[number];
    case 4: return GPR32[number];
    default: return GPR64[number];
  }
}

export const xmmName = (number: number) => `xmm${number}`;
export const mmxName = (number: number) => `mm${number & 7}`;
export const controlRegisterName = (number: number) => `cr${number}`;
export const debugRegisterName = (number: number) => `dr${number}`;
