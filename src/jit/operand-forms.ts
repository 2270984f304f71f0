// What both translators (JavaScript, unit-writer.ts; WebAssembly, wasm/translate-wasm.ts) ask of an
// instruction's operands: sizes, which one is ModRM memory, which are general operands the
// templates handle, and an immediate's value as the interpreter extends it.
import type { Instruction } from "../decoder/decode.js";
import { M_E, M_FIXED_REG, M_G, M_I, M_M, M_ONE, M_R, M_Z, S_B, S_BS, S_V, S_W, S_Z, resolveSize } from "../decoder/operand-spec.js";

export function operandSize(ins: Instruction, index: number): number {
  return resolveSize(ins.row.operands[index].size, ins.opSize, ins.mode === 64, ins.mod !== 3);
}

/** Whether operand `index` is the ModRM memory operand. */
export function isMemoryOperand(ins: Instruction, index: number): boolean {
  const method = ins.row.operands[index].method;
  return (method === M_E || method === M_M || method === M_R) && ins.mod !== 3;
}

/** Whether operand `index` is a general register, an immediate or ModRM memory. */
export function isGeneralOperand(ins: Instruction, index: number): boolean {
  const method = ins.row.operands[index]?.method;
  return method === M_E || method === M_G || method === M_Z || method === M_FIXED_REG || method === M_I || method === M_ONE || method === M_M || method === M_R;
}

/**
 * Immediate operand `index` at `size` (its own size) as int32 halves: the low half masked to the
 * size, the high half the sign extension where the notation says so — Iz and Ibs are sign-extended
 * to a 64-bit operation even where the immediate itself is 32 bits.
 */
export function immediateParts(ins: Instruction, index: number, size: number): { lo: number; hi: number } {
  const spec = ins.row.operands[index];
  let lo: number, hi = 0;
  switch (spec.size) {
    case S_B: lo = ins.imm & 0xff; break;
    case S_W: lo = ins.imm & 0xffff; break;
    case S_BS: case S_Z:
      hi = ins.imm >> 31;
      lo = size === 1 ? ins.imm & 0xff : size === 2 ? ins.imm & 0xffff : ins.imm | 0;
      break;
    case S_V:
      if (size === 8) { lo = ins.imm | 0; hi = ins.immHi | 0; } else lo = size === 2 ? ins.imm & 0xffff : ins.imm | 0;
      break;
    default: lo = ins.imm | 0;
  }
  if (size === 1) lo &= 0xff;
  else if (size === 2) lo &= 0xffff;
  return { lo, hi };
}
