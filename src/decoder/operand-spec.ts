// Operand kinds in the Intel SDM's opcode-map notation (vol. 2, appendix A.2): an addressing-method
// letter followed by an operand-type code ("Ev", "Gb", "Iz", "Wss"), or a fixed operand ("AL", "rAX", "1").

/** Where the operand comes from (SDM A.2.1 addressing methods, plus a few fixed kinds). */
export const M_E = 0; // ModRM r/m: general register or memory
export const M_G = 1; // ModRM reg: general register
export const M_M = 2; // ModRM r/m: memory only
export const M_R = 3; // ModRM r/m: general register only
export const M_I = 4; // immediate
export const M_J = 5; // relative branch offset
export const M_O = 6; // absolute memory offset (moffs), no ModRM
export const M_X = 7; // DS:rSI string source
export const M_Y = 8; // ES:rDI string destination
export const M_Z = 9; // general register from the opcode's low three bits (+REX.B)
export const M_S = 10; // ModRM reg: segment register
export const M_C = 11; // ModRM reg: control register
export const M_D = 12; // ModRM reg: debug register
export const M_V = 13; // ModRM reg: XMM register
export const M_W = 14; // ModRM r/m: XMM register or memory
export const M_U = 15; // ModRM r/m: XMM register only
export const M_P = 16; // ModRM reg: MMX register
export const M_Q = 17; // ModRM r/m: MMX register or memory
export const M_N = 18; // ModRM r/m: MMX register only
export const M_A = 19; // far pointer immediate (seg:offset)
export const M_FIXED_REG = 20; // a named general register (AL, CL, DX, rAX...)
export const M_FIXED_SEG = 21; // a named segment register (push es)
export const M_ONE = 22; // the constant 1 of "shl Ev,1"
export const M_XLAT = 23; // xlat's implicit [rBX+AL]
export const M_MASKMOV = 24; // maskmovdqu's implicit DS:[rDI]

/** Operand size codes (SDM A.2.2). Positive values are fixed sizes in bytes. */
export const S_B = 1;
export const S_W = 2;
export const S_D = 4;
export const S_Q = 8;
export const S_DQ = 16;
export const S_V = -1; // word, doubleword or quadword by operand size
export const S_Z = -2; // word for 16-bit operand size, doubleword otherwise
export const S_Y = -3; // doubleword, or quadword with 64-bit operand size
export const S_P = -4; // far pointer: 32, 48 or 80 bits by operand size
export const S_S = -5; // pseudo-descriptor: 6 bytes, 10 in 64-bit mode
export const S_A = -6; // BOUND's pair of words or doublewords
export const S_NONE = 0; // no memory size (LEA, prefetch-like operands)
export const S_BS = -7; // imm8 sign-extended to the operand size
export const S_FXSAVE = 512; // FXSAVE area
export const S_WV = -8; // a word in memory, the operand size in a register (SLDT, STR, SMSW store the full register)
export const S_WR = -9; // like S_WV, but only the register's low word is read, and it prints as a word (LLDT, LTR, LMSW)

export interface OperandSpec {
  readonly method: number;
  readonly size: number;
  /** register number for fixed registers */
  readonly fixed: number;
  /** the notation it was parsed from, for error messages and docs */
  readonly notation: string;
}

const METHOD_LETTERS: Record<string, number> = {
  E: M_E, G: M_G, M: M_M, R: M_R, I: M_I, J: M_J, O: M_O, X: M_X, Y: M_Y, Z: M_Z, S: M_S,
  C: M_C, D: M_D, V: M_V, W: M_W, U: M_U, P: M_P, Q: M_Q, N: M_N, A: M_A,
};

const SIZE_CODES: Record<string, number> = {
  b: S_B, w: S_W, wv: S_WV, wr: S_WR, d: S_D, q: S_Q, dq: S_DQ, v: S_V, z: S_Z, y: S_Y, p: S_P, s: S_S, a: S_A, bs: S_BS,
  // SSE operand types: packed and scalar single/double, and "x" for a full XMM register
  ps: S_DQ, pd: S_DQ, ss: S_D, sd: S_Q, x: S_DQ, pi: S_Q,
  "": S_NONE, fx: S_FXSAVE,
};

const FIXED_REGISTERS: Record<string, [number, number]> = {
  AL: [0, S_B], CL: [1, S_B], DL: [2, S_B], BL: [3, S_B],
  AX: [0, S_W], CX: [1, S_W], DX: [2, S_W],
  eAX: [0, S_Z], rAX: [0, S_V], EAX: [0, S_D],
};

const FIXED_SEGMENTS: Record<string, number> = { ES: 0, CS: 1, SS: 2, DS: 3, FS: 4, GS: 5 };

export function parseOperandSpec(notation: string): OperandSpec {
  if (notation === "1") return { method: M_ONE, size: S_B, fixed: 0, notation };
  if (notation === "XLAT") return { method: M_XLAT, size: S_B, fixed: 0, notation };
  if (notation === "MASKMOV") return { method: M_MASKMOV, size: S_DQ, fixed: 0, notation };
  const fixedRegister = FIXED_REGISTERS[notation];
  if (fixedRegister) return { method: M_FIXED_REG, size: fixedRegister[1], fixed: fixedRegister[0], notation };
  const fixedSegment = FIXED_SEGMENTS[notation];
  if (fixedSegment !== undefined) return { method: M_FIXED_SEG, size: S_W, fixed: fixedSegment, notation };
  const method = METHOD_LETTERS[notation[0]];
  const size = SIZE_CODES[notation.slice(1)];
  if (method === undefined || size === undefined) throw new Error(`unknown operand notation '${notation}'`);
  return { method, size, fixed: 0, notation };
}

/** Methods whose operand comes from the ModRM byte. */
export function usesModrm(method: number): boolean {
  switch (method) {
    case M_E: case M_G: case M_M: case M_R: case M_S: case M_C: case M_D:
    case M_V: case M_W: case M_U: case M_P: case M_Q: case M_N:
      return true;
  }
  return false;
}

/** Methods that address the ModRM r/m field: the ones whose mod field matters. */
export function isRmMethod(method: number): boolean {
  return method === M_E || method === M_M || method === M_R || method === M_W || method === M_U || method === M_Q || method === M_N;
}

/** Resolves a size code to bytes for a given effective operand size and mode. */
export function resolveSize(size: number, opSize: number, mode64: boolean, isMemory = false): number {
  switch (size) {
    case S_V: return opSize;
    case S_Z: return opSize === 2 ? 2 : 4;
    case S_Y: return opSize === 8 ? 8 : 4;
    case S_P: return opSize + 2;
    case S_S: return mode64 ? 10 : 6;
    case S_A: return opSize * 2;
    case S_BS: return opSize;
    case S_WV: case S_WR: return isMemory ? 2 : opSize;
    default: return size;
  }
}
