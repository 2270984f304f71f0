// Expands a decoded instruction into explicit operands (registers, memory references, immediates,
// branch targets), the form the disassembler prints and the differential tests compare.
import { BASE_RIP, type Instruction } from "./decode.js";
import {
  M_A, M_C, M_D, M_E, M_FIXED_REG, M_FIXED_SEG, M_G, M_I, M_J, M_M, M_MASKMOV, M_N, M_O, M_ONE, M_P, M_Q, M_R,
  M_S, M_U, M_V, M_W, M_X, M_XLAT, M_Y, M_Z, S_B, S_BS, S_V, S_W, S_Z, isRmMethod, resolveSize, type OperandSpec,
} from "./operand-spec.js";
import { SEGMENT_NAMES, controlRegisterName, debugRegisterName, gprName, mmxName, xmmName } from "./registers.js";
import { P_REX } from "./decode.js";

export type Operand =
  | { kind: "reg"; reg: string }
  /** size: bytes the operand reads or writes (0 when it has none, as for LEA) */
  | { kind: "mem"; seg: string; segmentOverride: boolean; base: string | null; index: string | null; scale: number; disp: bigint; size: number; ripRelative: boolean }
  | { kind: "imm"; value: bigint; bits: number }
  | { kind: "branch"; target: bigint }
  | { kind: "far"; selector: number; offset: number };

const mask = (value: bigint, bits: number) => BigInt.asUintN(bits, value);

/** The operands of an instruction decoded at address `ip`. */
export function operandsOf(ins: Instruction, ip: bigint): Operand[] {
  const result: Operand[] = [];
  let immediateIndex = 0;
  for (const spec of ins.row.operands) {
    result.push(expand(ins, spec, ip, spec.method === M_I ? immediateIndex++ : 0));
  }
  return result;
}

function expand(ins: Instruction, spec: OperandSpec, ip: bigint, immediateIndex: number): Operand {
  const hasRex = (ins.prefixes & P_REX) !== 0;
  const mode64 = ins.mode === 64;
  const size = resolveSize(spec.size, ins.opSize, mode64, ins.mod !== 3 && isRmMethod(spec.method));
  switch (spec.method) {
    case M_E: case M_W: case M_Q:
      if (ins.mod !== 3) return memoryOperand(ins, ip, size);
      return { kind: "reg", reg: spec.method === M_E ? gprName(ins.rm, size, hasRex) : spec.method === M_W ? xmmName(ins.rm) : mmxName(ins.rm) };
    case M_M:
      return memoryOperand(ins, ip, size);
    case M_G:
      return { kind: "reg", reg: gprName(ins.reg, size, hasRex) };
    case M_R: case M_Z:
      return { kind: "reg", reg: gprName(ins.rm, size, hasRex) };
    case M_S:
      return { kind: "reg", reg: SEGMENT_NAMES[ins.reg & 7] };
    case M_C:
      return { kind: "reg", reg: controlRegisterName(ins.reg) };
    case M_D:
      return { kind: "reg", reg: debugRegisterName(ins.reg) };
    case M_V:
      return { kind: "reg", reg: xmmName(ins.reg) };
    case M_U:
      return { kind: "reg", reg: xmmName(ins.rm) };
    case M_P:
      return { kind: "reg", reg: mmxName(ins.reg) };
    case M_N:
      return { kind: "reg", reg: mmxName(ins.rm) };
    case M_FIXED_REG:
      return { kind: "reg", reg: gprName(spec.fixed, size, false) };
    case M_FIXED_SEG:
      return { kind: "reg", reg: SEGMENT_NAMES[spec.fixed] };
    case M_ONE:
      return { kind: "imm", value: 1n, bits: 8 };
    case M_I:
      return immediateOperand(ins, spec, immediateIndex);
    case M_J: {
      const bits = ins.opSize * 8;
      return { kind: "branch", target: mask(ip + BigInt(ins.length) + BigInt(ins.imm), bits) };
    }
    case M_O: {
      const moffs = (BigInt(ins.immHi >>> 0) << 32n) | BigInt(ins.imm >>> 0);
      return segmentedMemory(ins, ins.segment >= 0 ? ins.segment : 3, null, mask(moffs, ins.addrSize * 8), size);
    }
    case M_X:
      return segmentedMemory(ins, ins.segment >= 0 ? ins.segment : 3, gprName(6, ins.addrSize, false), 0n, size);
    case M_Y:
      return segmentedMemory(ins, 0, gprName(7, ins.addrSize, false), 0n, size, false);
    case M_MASKMOV:
      return segmentedMemory(ins, ins.segment >= 0 ? ins.segment : 3, gprName(7, ins.addrSize, false), 0n, size);
    case M_XLAT:
      return {
        kind: "mem", seg: SEGMENT_NAMES[ins.segment >= 0 ? ins.segment : 3], segmentOverride: ins.segment >= 0,
        base: gprName(3, ins.addrSize, false), index: "al", scale: 1, disp: 0n, size: 1, ripRelative: false,
      };
    case M_A:
      return { kind: "far", selector: ins.imm2, offset: ins.imm >>> 0 };
  }
  throw new Error(`operand method ${spec.method} (${spec.notation}) has no expansion`);
}

function segmentedMemory(ins: Instruction, segment: number, base: string | null, disp: bigint, size: number, overridable = true): Operand {
  return { kind: "mem", seg: SEGMENT_NAMES[segment], segmentOverride: overridable && ins.segment >= 0, base, index: null, scale: 1, disp, size, ripRelative: false };
}

function immediateOperand(ins: Instruction, spec: OperandSpec, immediateIndex: number): Operand {
  if (immediateIndex > 0) return { kind: "imm", value: BigInt(ins.imm2 & 0xff), bits: 8 };
  switch (spec.size) {
    case S_B: return { kind: "imm", value: BigInt(ins.imm & 0xff), bits: 8 };
    case S_W: return { kind: "imm", value: BigInt(ins.imm & 0xffff), bits: 16 };
    case S_BS: case S_Z: {
      const bits = ins.opSize * 8;
      return { kind: "imm", value: mask(BigInt(ins.imm), bits), bits };
    }
    case S_V:
      if (ins.opSize === 8) return { kind: "imm", value: (BigInt(ins.immHi >>> 0) << 32n) | BigInt(ins.imm >>> 0), bits: 64 };
      return { kind: "imm", value: mask(BigInt(ins.imm), ins.opSize * 8), bits: ins.opSize * 8 };
  }
  return { kind: "imm", value: mask(BigInt(ins.imm), 32), bits: 32 };
}

function memoryOperand(ins: Instruction, ip: bigint, size: number): Operand {
  const addrBits = ins.addrSize * 8;
  let base: string | null = null;
  let disp = BigInt(ins.disp);
  let ripRelative = false;
  if (ins.base === BASE_RIP) {
    base = ins.addrSize === 8 ? "rip" : "eip";
    disp = ip + BigInt(ins.length) + disp;
    ripRelative = true;
  } else if (ins.base >= 0) {
    base = gprName(ins.base, ins.addrSize, false);
  }
  const index = ins.index >= 0 ? gprName(ins.index, ins.addrSize, false) : null;
  // Stack-based addressing defaults to SS: rSP/rBP bases (BP-based pairs with 16-bit addressing).
  const stackBased = ins.base === 4 || ins.base === 5;
  const segment = ins.segment >= 0 ? ins.segment : stackBased ? 2 : 3;
  return {
    kind: "mem", seg: SEGMENT_NAMES[segment], segmentOverride: ins.segment >= 0, base, index,
    // Without an index the SIB scale bits mean nothing.
    scale: ins.index >= 0 ? 1 << ins.scale : 1, disp: mask(disp, addrBits), size, ripRelative,
  };
}
