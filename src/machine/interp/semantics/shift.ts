// Shifts and rotates: ROL ROR RCL RCR SHL/SAL SHR SAR, SHLD SHRD. The count is masked to 5 bits
// (6 for 64-bit operands); a masked count of 0 changes nothing, flags included.
import type { Instruction } from "../../../decoder/decode.js";
import { AF, CF, OF, PF, SF, ZF } from "../../../decoder/flags.js";
import type { Cpu } from "../../cpu.js";
import { PARITY } from "../../lazy-flags.js";
import { operandSize, readOperand, writeOperand } from "../operand-access.js";
import { maskTo } from "./arithmetic.js";
import type { SemanticTable } from "./types.js";

const ROL = 0, ROR = 1, RCL = 2, RCR = 3, SHL = 4, SHR = 5, SAR = 7;
/** The kinds shiftOrRotateValue takes, by mnemonic (the interpreter's pre-decoded handlers pick them). */
export const SHIFT_KINDS: Readonly<Record<string, number>> = { rol: ROL, ror: ROR, rcl: RCL, rcr: RCR, shl: SHL, sal: SHL, shr: SHR, sar: SAR };

/** Pair shifts: return the low half, high half in `pairHi`. */
let pairHi = 0;
function shiftLeft64(lo: number, hi: number, count: number): number {
  if (count === 0) { pairHi = hi; return lo; }
  if (count >= 32) { pairHi = lo << (count - 32); return 0; }
  pairHi = (hi << count) | (lo >>> (32 - count));
  return lo << count;
}
function shiftRight64(lo: number, hi: number, count: number, arithmetic: boolean): number {
  if (count === 0) { pairHi = hi; return lo; }
  if (count >= 32) {
    pairHi = arithmetic ? hi >> 31 : 0;
    return arithmetic ? hi >> (count - 32) : hi >>> (count - 32);
  }
  pairHi = arithmetic ? hi >> count : hi >>> count;
  return (lo >>> count) | (hi << (32 - count));
}

/** Bit `index` (0-based) of a value of `size` bytes held as lo (and hi for 8). */
function bit(lo: number, hi: number, index: number): number {
  return index >= 32 ? (hi >>> (index - 32)) & 1 : (lo >>> index) & 1;
}

function resultFlags(lo: number, hi: number, size: number): number {
  const zero = size === 8 ? (lo | hi) === 0 : lo === 0;
  return (zero ? ZF : 0) | (bit(lo, hi, size * 8 - 1) ? SF : 0) | (PARITY[lo & 0xff] ? PF : 0);
}

/** A 32-bit register destination is written (so zero-extended) even when the count leaves it unchanged. */
function zeroExtendIfDword(cpu: Cpu, ins: Instruction, size: number, value: number): void {
  if (size === 4 && ins.mod === 3) writeOperand(cpu, ins, 0, value, 0);
}

function shiftOrRotate(kind: number) {
  return (cpu: Cpu, ins: Instruction): void => {
    const size = operandSize(ins, 0);
    const a = readOperand(cpu, ins, 0);
    const aHi = size === 8 ? cpu.hi : 0;
    const count = readOperand(cpu, ins, 1) & (size === 8 ? 0x3f : 0x1f);
    // RCL/RCR of a byte or word by a multiple of 9 or 17 rotate nothing: no flags change either
    const rotatesThroughCarry = kind === RCL || kind === RCR;
    if (count === 0 || (rotatesThroughCarry && size < 4 && count % (size === 1 ? 9 : 17) === 0)) return zeroExtendIfDword(cpu, ins, size, a);
    const lo = shiftOrRotateValue(cpu, kind, size, a, aHi, count);
    writeOperand(cpu, ins, 0, lo, cpu.hi);
  };
}

/**
 * The shift or rotate `kind` of (a, aHi) (`size` bytes; aHi 0 below 8) by a masked `count` that
 * changes something (not 0; for RCL/RCR of bytes and words not a multiple of 9 or 17): sets the
 * flags and returns the result's low half, cpu.hi its high half. The table's semantics and the
 * interpreter's pre-decoded handlers share it.
 */
export function shiftOrRotateValue(cpu: Cpu, kind: number, size: number, a: number, aHi: number, count: number): number {
  const bits = size * 8;
  let lo: number, hi = 0, cf: number, of: number;
  const flags = cpu.getFlags();
  switch (kind) {
    case SHL: {
      if (size === 8) { lo = shiftLeft64(a, aHi, count); hi = pairHi; }
      else lo = count >= 32 ? 0 : maskTo(a << count, size);
      cf = count <= bits ? bit(a, aHi, bits - count) : 0;
      of = bit(lo, hi, bits - 1) ^ cf;
      cpu.setFlags(resultFlags(lo, hi, size) | (cf ? CF : 0) | (of ? OF : 0), CF | OF | SF | ZF | PF | AF);
      break;
    }
    case SHR: {
      if (size === 8) { lo = shiftRight64(a, aHi, count, false); hi = pairHi; }
      else lo = count >= 32 ? 0 : a >>> count;
      cf = count <= bits ? bit(a, aHi, count - 1) : 0;
      of = bit(a, aHi, bits - 1);
      cpu.setFlags(resultFlags(lo, hi, size) | (cf ? CF : 0) | (of ? OF : 0), CF | OF | SF | ZF | PF | AF);
      break;
    }
    case SAR: {
      if (size === 8) { lo = shiftRight64(a, aHi, count, true); hi = pairHi; }
      else {
        const signed = size === 1 ? (a << 24) >> 24 : size === 2 ? (a << 16) >> 16 : a | 0;
        lo = maskTo(signed >> Math.min(count, 31), size);
      }
      cf = bit(a, aHi, Math.min(count - 1, bits - 1));
      cpu.setFlags(resultFlags(lo, hi, size) | (cf ? CF : 0), CF | OF | SF | ZF | PF | AF);
      break;
    }
    case ROL: case ROR: {
      const rotation = count % bits;
      if (size === 8) {
        const left = kind === ROL ? rotation : (64 - rotation) % 64;
        const l1 = shiftLeft64(a, aHi, left), h1 = pairHi;
        const l2 = shiftRight64(a, aHi, (64 - left) % 64, false), h2 = pairHi;
        lo = left === 0 ? a : l1 | l2;
        hi = left === 0 ? aHi : h1 | h2;
      } else {
        const left = kind === ROL ? rotation : (bits - rotation) % bits;
        lo = left === 0 ? a : maskTo((a << left) | (a >>> (bits - left)), size);
      }
      if (kind === ROL) {
        cf = lo & 1;
        of = bit(lo, hi, bits - 1) ^ cf;
      } else {
        cf = bit(lo, hi, bits - 1);
        of = cf ^ bit(lo, hi, bits - 2);
      }
      cpu.setFlags((flags & ~(CF | OF)) | (cf ? CF : 0) | (of ? OF : 0), CF | OF);
      break;
    }
    default: { // RCL, RCR: rotate through CF, one position at a time
      const rotation = size === 1 ? count % 9 : size === 2 ? count % 17 : count;
      lo = a;
      hi = aHi;
      cf = flags & CF;
      for (let i = 0; i < rotation; i++) {
        if (kind === RCL) {
          const out = bit(lo, hi, bits - 1);
          if (size === 8) { hi = (hi << 1) | (lo >>> 31); lo = (lo << 1) | cf; }
          else lo = maskTo((lo << 1) | cf, size);
          cf = out;
        } else {
          const out = lo & 1;
          if (size === 8) { lo = (lo >>> 1) | (hi << 31); hi = (hi >>> 1) | (cf << 31); }
          else lo = (lo >>> 1) | (cf << (bits - 1));
          if (size === 4) lo >>>= 0;
          cf = out;
        }
      }
      of = kind === RCL ? bit(lo, hi, bits - 1) ^ cf : bit(lo, hi, bits - 1) ^ bit(lo, hi, bits - 2);
      cpu.setFlags((cf ? CF : 0) | (of ? OF : 0), CF | OF);
    }
  }
  cpu.hi = hi;
  return lo;
}

/** SHLD/SHRD: shift the destination, filling from the source register. */
/**
 * SHLD/SHRD of `size` bytes by a count already masked and non-zero: (a, aHi) shifted, filled from
 * (b, bHi). Leaves the result's low and high words in out[0..1] and returns the arithmetic flags.
 * The interpreter and the JIT's template both compute it here.
 */
export function shiftDouble(left: boolean, size: number, a: number, aHi: number, b: number, bHi: number, count: number, out: Int32Array): number {
  const bits = size * 8;
  let lo: number, hi = 0, cf: number;
  if (size === 8) {
    if (left) {
      const l1 = shiftLeft64(a, aHi, count), h1 = pairHi;
      const l2 = shiftRight64(b, bHi, 64 - count, false), h2 = pairHi;
      lo = l1 | l2; hi = h1 | h2;
      cf = bit(a, aHi, 64 - count);
    } else {
      const l1 = shiftRight64(a, aHi, count, false), h1 = pairHi;
      const l2 = shiftLeft64(b, bHi, 64 - count), h2 = pairHi;
      lo = l1 | l2; hi = h1 | h2;
      cf = bit(a, aHi, count - 1);
    }
  } else if (size === 4) {
    lo = left ? ((a << count) | (b >>> (32 - count))) >>> 0 : ((a >>> count) | (b << (32 - count))) >>> 0;
    cf = left ? bit(a, 0, 32 - count) : bit(a, 0, count - 1);
  } else {
    // 16-bit: shift the 32-bit concatenation (counts above 16 give an undefined result per the SDM).
    const joined = left ? ((a << 16) | b) >>> 0 : ((b << 16) | a) >>> 0;
    if (left) {
      const shifted = count >= 32 ? 0 : joined << count;
      lo = (shifted >>> 16) & 0xffff | (count > 16 ? (b << (count - 16)) & 0xffff : 0);
      cf = count <= 16 ? bit(a, 0, 16 - count) : bit(b, 0, 32 - count);
    } else {
      const extended = count > 16 ? ((a << 16) | b) >>> 0 : joined;
      lo = (count > 16 ? (extended >>> (count - 16)) : (joined >>> count)) & 0xffff;
      cf = count <= 16 ? bit(a, 0, count - 1) : bit(b, 0, count - 17);
    }
  }
  const of = bit(lo, hi, bits - 1) ^ bit(a, aHi, bits - 1);
  out[0] = lo | 0;
  out[1] = hi | 0;
  return resultFlags(lo, hi, size) | (cf ? CF : 0) | (of ? OF : 0);
}
/** shiftDouble's result words (shared: one instruction at a time). */
export const doubleResult = new Int32Array(2);

function doubleShift(left: boolean) {
  return (cpu: Cpu, ins: Instruction): void => {
    const size = operandSize(ins, 0);
    const a = readOperand(cpu, ins, 0);
    const aHi = size === 8 ? cpu.hi : 0;
    const b = readOperand(cpu, ins, 1);
    const bHi = size === 8 ? cpu.hi : 0;
    const count = readOperand(cpu, ins, 2) & (size === 8 ? 0x3f : 0x1f);
    if (count === 0) return zeroExtendIfDword(cpu, ins, size, a);
    const flags = shiftDouble(left, size, a, aHi, b, bHi, count, doubleResult);
    cpu.setFlags(flags, CF | OF | SF | ZF | PF | AF);
    writeOperand(cpu, ins, 0, size === 8 ? doubleResult[0] : doubleResult[0] >>> 0, doubleResult[1]);
  };
}

export const SHIFTS: SemanticTable = {
  rol: shiftOrRotate(ROL), ror: shiftOrRotate(ROR), rcl: shiftOrRotate(RCL), rcr: shiftOrRotate(RCR),
  shl: shiftOrRotate(SHL), sal: shiftOrRotate(SHL), shr: shiftOrRotate(SHR), sar: shiftOrRotate(SAR),
  shld: doubleShift(true), shrd: doubleShift(false),
};
