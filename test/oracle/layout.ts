// The memory layout and state shapes shared by the oracle's native harness (harness.c), the case
// generator and the comparison. The addresses are the same on the host and in the emulator.

/** Where the code of every case is placed (one 4 KiB page on the host). */
export const CODE_ADDRESS = 0x1000_0000;
/** The scratch region: two 4 KiB pages; the page below and the page above are unmapped. */
export const SCRATCH_ADDRESS = 0x2000_0000;
export const SCRATCH_SIZE = 0x2000;
export const PAGE_SIZE = 0x1000;
/** Longest code a case may carry (the harness appends a 14-byte jump to its exit stub). */
export const MAX_CODE_LENGTH = 0x1000 - 64;

/** RFLAGS bits. */
export const FLAG_CF = 0x1;
export const FLAG_PF = 0x4;
export const FLAG_AF = 0x10;
export const FLAG_ZF = 0x40;
export const FLAG_SF = 0x80;
export const FLAG_TF = 0x100;
export const FLAG_IF = 0x200;
export const FLAG_DF = 0x400;
export const FLAG_OF = 0x800;
export const FLAG_NT = 0x4000;
export const FLAG_RF = 0x1_0000;
export const FLAG_AC = 0x4_0000;
export const FLAG_ID = 0x20_0000;
export const ARITHMETIC_FLAGS = FLAG_CF | FLAG_PF | FLAG_AF | FLAG_ZF | FLAG_SF | FLAG_OF;

export const GPR_NAMES = ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"] as const;
export const RAX = 0, RCX = 1, RDX = 2, RBX = 3, RSP = 4, RBP = 5, RSI = 6, RDI = 7;

/** A user-mode register file, in the shape of the emulator's UserModeState. */
export interface MachineState {
  gpr: BigUint64Array; // 16
  rip: bigint;
  rflags: number;
  xmm: BigUint64Array; // 32: xmm i = [2i] low, [2i+1] high
  mxcsr: number;
}

export function newState(): MachineState {
  return { gpr: new BigUint64Array(16), rip: 0n, rflags: 0x202, xmm: new BigUint64Array(32), mxcsr: 0x1f80 };
}

export function cloneState(state: MachineState): MachineState {
  return { gpr: state.gpr.slice(), rip: state.rip, rflags: state.rflags, xmm: state.xmm.slice(), mxcsr: state.mxcsr };
}

/** Bytes written into the scratch region after the seeded fill (offsets relative to SCRATCH_ADDRESS). */
export interface Patch {
  offset: number;
  bytes: Uint8Array;
}

/**
 * The scratch region's initial content: xorshift32 words from the seed (0 stands for 0x9e3779b9),
 * little endian, then the patches in order. harness.c computes the same bytes.
 */
export function initialScratch(seed: number, patches: readonly Patch[]): Uint8Array {
  const words = new Int32Array(SCRATCH_SIZE / 4);
  let x = seed | 0 || 0x9e3779b9 | 0;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x;
  }
  const bytes = new Uint8Array(words.buffer);
  for (const patch of patches) bytes.set(patch.bytes, patch.offset);
  return bytes;
}

export const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(" ");
export const hex64 = (value: bigint) => "0x" + value.toString(16).padStart(16, "0");
