// Integer arithmetic and logic: ADD..CMP, TEST, INC/DEC/NEG/NOT, MUL/IMUL/DIV/IDIV, sign
// extensions (CBW..CQO) and the BCD adjustments of 32-bit mode.
import type { Instruction } from "../../../decoder/decode.js";
import { AF, CF, OF, PF, SF, ZF } from "../../../decoder/flags.js";
import { TWO_32, type Cpu } from "../../cpu.js";
import { CpuException, VEC_DE } from "../../cpu-exception.js";
import {
  LAZY_ADC, LAZY_ADD, LAZY_DEC, LAZY_INC, LAZY_LOGIC, LAZY_SBB, LAZY_SUB, PARITY,
} from "../../lazy-flags.js";
import { operandSize, readOperand, writeOperand } from "../operand-access.js";
import type { SemanticTable } from "./types.js";

/** Masks a value to `size` bytes (1, 2, 4), unsigned. */
export function maskTo(value: number, size: number): number {
  return size === 1 ? value & 0xff : size === 2 ? value & 0xffff : value >>> 0;
}

const ADD = 0, OR = 1, ADC = 2, SBB = 3, AND = 4, SUB = 5, XOR = 6, CMP = 7, TEST = 8;
/** `alu`'s operations (the interpreter's pre-decoded handlers pass them). */
export const ALU_ADD = ADD, ALU_OR = OR, ALU_ADC = ADC, ALU_SBB = SBB, ALU_AND = AND, ALU_SUB = SUB, ALU_XOR = XOR, ALU_CMP = CMP, ALU_TEST = TEST;

/** Computes a two-operand ALU operation, records its flags and returns the result (hi in cpu.hi). */
export function alu(cpu: Cpu, op: number, size: number, a: number, aHi: number, b: number, bHi: number): number {
  if (size !== 8) {
    let r: number;
    switch (op) {
      case ADD: r = maskTo(a + b, size); cpu.lazy.set(LAZY_ADD, size, a, b, r); break;
      case ADC: {
        const carry = cpu.cf() ? 1 : 0;
        r = maskTo(a + b + carry, size);
        cpu.lazy.set(LAZY_ADC, size, a, b, r);
        cpu.lazy.carryIn = carry;
        break;
      }
      case SUB: case CMP: r = maskTo(a - b, size); cpu.lazy.set(LAZY_SUB, size, a, b, r); break;
      case SBB: {
        const borrow = cpu.cf() ? 1 : 0;
        r = maskTo(a - b - borrow, size);
        cpu.lazy.set(LAZY_SBB, size, a, b, r);
        cpu.lazy.carryIn = borrow;
        break;
      }
      case OR: r = maskTo(a | b, size); cpu.lazy.set(LAZY_LOGIC, size, a, b, r); break;
      case XOR: r = maskTo(a ^ b, size); cpu.lazy.set(LAZY_LOGIC, size, a, b, r); break;
      default: r = maskTo(a & b, size); cpu.lazy.set(LAZY_LOGIC, size, a, b, r); break;
    }
    cpu.hi = 0;
    return r;
  }
  let rLo: number, rHi: number;
  switch (op) {
    case ADD: case ADC: {
      const carry = op === ADC && cpu.cf() ? 1 : 0;
      const sum = (a >>> 0) + (b >>> 0) + carry;
      rLo = sum | 0;
      rHi = (aHi + bHi + (sum >= TWO_32 ? 1 : 0)) | 0;
      cpu.lazy.set64(op === ADD ? LAZY_ADD : LAZY_ADC, a, aHi, b, bHi, rLo, rHi);
      cpu.lazy.carryIn = carry;
      break;
    }
    case SUB: case CMP: case SBB: {
      const borrow = op === SBB && cpu.cf() ? 1 : 0;
      const difference = (a >>> 0) - (b >>> 0) - borrow;
      rLo = difference | 0;
      rHi = (aHi - bHi - (difference < 0 ? 1 : 0)) | 0;
      cpu.lazy.set64(op === SBB ? LAZY_SBB : LAZY_SUB, a, aHi, b, bHi, rLo, rHi);
      cpu.lazy.carryIn = borrow;
      break;
    }
    case OR: rLo = a | b; rHi = aHi | bHi; cpu.lazy.set64(LAZY_LOGIC, a, aHi, b, bHi, rLo, rHi); break;
    case XOR: rLo = a ^ b; rHi = aHi ^ bHi; cpu.lazy.set64(LAZY_LOGIC, a, aHi, b, bHi, rLo, rHi); break;
    default: rLo = a & b; rHi = aHi & bHi; cpu.lazy.set64(LAZY_LOGIC, a, aHi, b, bHi, rLo, rHi); break;
  }
  cpu.hi = rHi;
  return rLo;
}

function binary(op: number) {
  return (cpu: Cpu, ins: Instruction): void => {
    const size = operandSize(ins, 0);
    const a = readOperand(cpu, ins, 0);
    const aHi = cpu.hi;
    const b = readOperand(cpu, ins, 1);
    const r = alu(cpu, op, size, a, aHi, b, cpu.hi);
    if (op !== CMP && op !== TEST) writeOperand(cpu, ins, 0, r, cpu.hi);
  };
}

function incDec(isInc: boolean) {
  return (cpu: Cpu, ins: Instruction): void => {
    const size = operandSize(ins, 0);
    const a = readOperand(cpu, ins, 0);
    const aHi = cpu.hi;
    // INC/DEC keep CF: bring it up to date before the record replaces it.
    cpu.getFlags();
    if (size === 8) {
      const sum = (a >>> 0) + (isInc ? 1 : -1);
      const rLo = sum | 0;
      const rHi = (aHi + (sum >= TWO_32 ? 1 : sum < 0 ? -1 : 0)) | 0;
      cpu.lazy.set64(isInc ? LAZY_INC : LAZY_DEC, a, aHi, 1, 0, rLo, rHi);
      writeOperand(cpu, ins, 0, rLo, rHi);
    } else {
      const r = maskTo(a + (isInc ? 1 : -1), size);
      cpu.lazy.set(isInc ? LAZY_INC : LAZY_DEC, size, a, 1, r);
      writeOperand(cpu, ins, 0, r, 0);
    }
  };
}

function neg(cpu: Cpu, ins: Instruction): void {
  const size = operandSize(ins, 0);
  const b = readOperand(cpu, ins, 0);
  const r = alu(cpu, SUB, size, 0, 0, b, cpu.hi);
  writeOperand(cpu, ins, 0, r, cpu.hi);
}

function not(cpu: Cpu, ins: Instruction): void {
  const size = operandSize(ins, 0);
  const a = readOperand(cpu, ins, 0);
  writeOperand(cpu, ins, 0, size === 8 ? ~a : maskTo(~a, size), ~cpu.hi);
}

// ---- multiplication and division -----------------------------------------------------------------

/** Full 64x64 → 128-bit unsigned multiplication of pairs; `out` gets the four 32-bit words, low first. */
function multiplyUnsigned128(aLo: number, aHi: number, bLo: number, bHi: number, out: Uint32Array): void {
  const a0 = aLo & 0xffff, a1 = aLo >>> 16, a2 = aHi & 0xffff, a3 = aHi >>> 16;
  const b0 = bLo & 0xffff, b1 = bLo >>> 16, b2 = bHi & 0xffff, b3 = bHi >>> 16;
  // Schoolbook on 16-bit limbs; every partial sum stays below 2^53.
  let t = a0 * b0;
  const w0 = t & 0xffff;
  t = Math.floor(t / 65536) + a0 * b1 + a1 * b0;
  const w1 = t % 65536;
  t = Math.floor(t / 65536) + a0 * b2 + a1 * b1 + a2 * b0;
  const w2 = t % 65536;
  t = Math.floor(t / 65536) + a0 * b3 + a1 * b2 + a2 * b1 + a3 * b0;
  const w3 = t % 65536;
  t = Math.floor(t / 65536) + a1 * b3 + a2 * b2 + a3 * b1;
  const w4 = t % 65536;
  t = Math.floor(t / 65536) + a2 * b3 + a3 * b2;
  const w5 = t % 65536;
  t = Math.floor(t / 65536) + a3 * b3;
  const w6 = t % 65536;
  const w7 = Math.floor(t / 65536) % 65536;
  out[0] = w0 | (w1 << 16);
  out[1] = w2 | (w3 << 16);
  out[2] = w4 | (w5 << 16);
  out[3] = w6 | (w7 << 16);
}

const product = new Uint32Array(4);

/** Signed 128-bit product: the unsigned one, minus b<<64 when a < 0 and minus a<<64 when b < 0. */
export function multiplySigned128(aLo: number, aHi: number, bLo: number, bHi: number, out: Uint32Array): void {
  multiplyUnsigned128(aLo, aHi, bLo, bHi, out);
  let lo = out[2], hi = out[3];
  if (aHi < 0) {
    const d = lo - (bLo >>> 0);
    hi = (hi - (bHi >>> 0) - (d < 0 ? 1 : 0)) >>> 0;
    lo = d >>> 0;
  }
  if (bHi < 0) {
    const d = lo - (aLo >>> 0);
    hi = (hi - (aHi >>> 0) - (d < 0 ? 1 : 0)) >>> 0;
    lo = d >>> 0;
  }
  out[2] = lo;
  out[3] = hi;
}

/** 32x32 → 64-bit product as [low, high] in `out[0..1]`, unsigned or signed. */
function multiply32(a: number, b: number, signed: boolean, out: Uint32Array): void {
  multiplyUnsigned128(a, 0, b, 0, out);
  if (signed) {
    let hi = out[1];
    if (a & 0x80000000) hi -= b >>> 0;
    if (b & 0x80000000) hi -= a >>> 0;
    out[1] = hi >>> 0;
  }
}

function setMulFlags(cpu: Cpu, overflow: boolean, lowResult: number, size: number): void {
  const sign = size === 8 ? cpu.hi < 0 : (lowResult & (1 << (size * 8 - 1))) !== 0;
  cpu.setFlags(mulFlags(overflow, lowResult, sign), CF | OF | SF | ZF | AF | PF);
}

/** CF = OF = the upper half is significant; SF, ZF, AF, PF are undefined: computed from the low half as a convention. */
function mulFlags(overflow: boolean, lowResult: number, negative: boolean): number {
  return (overflow ? CF | OF : 0) | (negative ? SF : 0) | (PARITY[lowResult & 0xff] ? PF : 0);
}

/**
 * One-operand MUL/IMUL of 32 or 64 bits: rDX:rAX = rAX * b. Fills `out` with rAX's low and high
 * words, then rDX's (the high words are 0 for 32 bits), and returns the arithmetic flags.
 * The interpreter and the JIT's template both compute it here.
 */
export function multiplyWide(signed: boolean, size: number, aLo: number, aHi: number, bLo: number, bHi: number, out: Int32Array): number {
  if (size === 8) {
    if (signed) multiplySigned128(aLo, aHi, bLo, bHi, product);
    else multiplyUnsigned128(aLo, aHi, bLo, bHi, product);
    const lo = product[0] | 0, hi = product[1] | 0;
    const upperSignificant = signed
      ? !(hi < 0 ? product[2] === 0xffffffff && product[3] === 0xffffffff : product[2] === 0 && product[3] === 0)
      : product[2] !== 0 || product[3] !== 0;
    out[0] = lo;
    out[1] = hi;
    out[2] = product[2] | 0;
    out[3] = product[3] | 0;
    return mulFlags(upperSignificant, lo, hi < 0);
  }
  multiply32(aLo, bLo, signed, product);
  const low = product[0], high = product[1];
  const upperSignificant = signed ? high !== ((low | 0) < 0 ? 0xffffffff : 0) : high !== 0;
  out[0] = low | 0;
  out[1] = 0;
  out[2] = high | 0;
  out[3] = 0;
  return mulFlags(upperSignificant, low, (low | 0) < 0);
}
const wideResult = new Int32Array(4);

/** MUL/IMUL with one operand: rDX:rAX (AX for bytes) = rAX * operand. */
function multiplyAccumulator(signed: boolean) {
  return (cpu: Cpu, ins: Instruction): void => {
    const size = operandSize(ins, 0);
    const b = readOperand(cpu, ins, 0);
    const bHi = cpu.hi;
    if (size === 8 || size === 4) {
      const flags = multiplyWide(signed, size, cpu.regs[0], cpu.regs[1], b, bHi, wideResult);
      if (size === 8) {
        cpu.setReg64(0, wideResult[0], wideResult[1]);
        cpu.setReg64(2, wideResult[2], wideResult[3]);
        cpu.hi = wideResult[1];
      } else {
        cpu.writeReg(0, 4, false, wideResult[0], 0);
        cpu.writeReg(2, 4, false, wideResult[2], 0);
      }
      cpu.setFlags(flags, CF | OF | SF | ZF | AF | PF);
      return;
    }
    // bytes and words: the product is exact in a double
    const a = cpu.readReg(0, size, false);
    const bits = size * 8;
    const full = signed ? signExtend(a, size) * signExtend(b, size) : a * b;
    const low = full & ((1 << bits) - 1);
    const upperSignificant = signed ? full !== signExtend(low, size) : full >>> bits !== 0;
    if (size === 1) cpu.regWords[0] = full & 0xffff;
    else {
      cpu.regWords[0] = low;
      cpu.regWords[8] = (full >> bits) & 0xffff;
    }
    setMulFlags(cpu, upperSignificant, low, size);
  };
}

/** IMUL with two or three operands: dest = src1 * src2, truncated to the operand size. */
function imulTruncating(cpu: Cpu, ins: Instruction): void {
  const size = operandSize(ins, 0);
  const three = ins.row.operands.length === 3;
  const a = readOperand(cpu, ins, three ? 1 : 0);
  const aHi = cpu.hi;
  const b = readOperand(cpu, ins, three ? 2 : 1);
  const lo = imulTruncated(cpu, size, a, aHi, b, cpu.hi);
  writeOperand(cpu, ins, 0, lo, cpu.hi);
}

/**
 * The truncating IMUL of two `size`-byte values (high halves for 8): sets the flags and returns
 * the product's low half, cpu.hi its high half (0 below 8 bytes). The table's IMUL and the
 * interpreter's pre-decoded handlers share it.
 */
export function imulTruncated(cpu: Cpu, size: number, a: number, aHi: number, b: number, bHi: number): number {
  if (size === 8) {
    multiplySigned128(a, aHi, b, bHi, product);
    const lo = product[0] | 0, hi = product[1] | 0;
    const overflow = hi < 0 ? !(product[2] === 0xffffffff && product[3] === 0xffffffff) : !(product[2] === 0 && product[3] === 0);
    cpu.hi = hi;
    setMulFlags(cpu, overflow, lo, 8);
    cpu.hi = hi;
    return lo;
  }
  // The double product is exact whenever the true product fits the destination, and out of range otherwise.
  const full = signExtend(a, size) * signExtend(b, size);
  const low = size === 4 ? Math.imul(a, b) >>> 0 : maskTo(full, size);
  const overflow = full !== signExtend(low, size);
  setMulFlags(cpu, overflow, low, size);
  cpu.hi = 0;
  return low;
}

export function signExtend(value: number, size: number): number {
  switch (size) {
    case 1: return (value << 24) >> 24;
    case 2: return (value << 16) >> 16;
    default: return value | 0;
  }
}

/** Operands up to this magnitude divide as numbers: the truncated float quotient is then exact. */
const NUMBER_DIVIDE_LIMIT = 2 ** 52;

/**
 * DIV/IDIV of 32 or 64 bits: rDX:rAX / b. Fills `out` with the quotient's low and high words, then
 * the remainder's (the high words are 0 for 32 bits); throws #DE for a zero divisor or a quotient
 * that does not fit. The flags are undefined afterwards and left unchanged. The interpreter and the
 * JIT's template both compute it here: plain numbers when both operands fit in 53 bits (gcc's
 * `xor edx, edx; div` and `cqo; idiv` of small values), BigInt otherwise.
 */
export function divideWide(signed: boolean, size: number, aLo: number, aHi: number, dLo: number, dHi: number, bLo: number, bHi: number, out: Int32Array): void {
  const wide = size === 8;
  // the dividend's upper half (rDX) is zero or, for IDIV, the sign extension of its lower half
  const upperZero = wide ? dLo === 0 && dHi === 0 : dLo === 0;
  const upperOnes = wide ? dLo === -1 && dHi === -1 : dLo === -1;
  const lowerNegative = wide ? aHi < 0 : aLo < 0;
  if (upperZero && !(signed && lowerNegative) || signed && upperOnes && lowerNegative) {
    // the dividend is rAX alone (sign-extended): as a number when it and the divisor fit in 53 bits
    const dividend = wide ? (signed ? aHi : aHi >>> 0) * TWO_32 + (aLo >>> 0) : signed ? aLo | 0 : aLo >>> 0;
    const divisor = wide ? (signed ? bHi : bHi >>> 0) * TWO_32 + (bLo >>> 0) : signed ? bLo | 0 : bLo >>> 0;
    if (divisor === 0) throw new CpuException(VEC_DE, null, "divide by zero");
    if (Math.abs(dividend) <= NUMBER_DIVIDE_LIMIT && Math.abs(divisor) <= NUMBER_DIVIDE_LIMIT) {
      // exact: a true quotient x in [2^k, 2^(k+1)) that is not an integer lies at least
      // 1/|divisor| >= 2^k/|dividend| >= 2^(k-52) from the next one, more than the half ulp
      // (2^(k-53)) rounding can move it; and |quotient * divisor| <= |dividend| is exact
      const quotient = Math.trunc(dividend / divisor);
      const remainder = dividend - quotient * divisor;
      // the only quotient that can overflow here: the most negative value divided by -1
      const limit = wide ? 2 ** 63 : 2 ** 31;
      if (signed && quotient === limit) throw new CpuException(VEC_DE, null, "quotient too large");
      splitWords(quotient, out, 0);
      splitWords(remainder, out, 2);
      if (!wide) out[1] = out[3] = 0;
      return;
    }
  }
  divideBig(signed, size, aLo, aHi, dLo, dHi, bLo, bHi, out);
}

/** A safe integer's two's-complement words into out[at], out[at + 1]. */
function splitWords(value: number, out: Int32Array, at: number): void {
  const high = Math.floor(value / TWO_32);
  out[at] = (value - high * TWO_32) | 0;
  out[at + 1] = high | 0;
}

/**
 * DIV/IDIV with BigInt, as the SDM defines them: `dividend` (rDX:rAX) and `divisor` as unsigned bit
 * patterns of twice and once `bits`; the quotient and remainder as unsigned `bits`-bit patterns.
 */
function divideBigInt(signed: boolean, bits: number, dividend: bigint, divisor: bigint): [bigint, bigint] {
  if (divisor === 0n) throw new CpuException(VEC_DE, null, "divide by zero");
  if (signed) {
    dividend = BigInt.asIntN(bits * 2, dividend);
    divisor = BigInt.asIntN(bits, divisor);
  }
  const quotient = dividend / divisor; // truncates toward zero, as IDIV does
  const fits = signed ? quotient === BigInt.asIntN(bits, quotient) : quotient === BigInt.asUintN(bits, quotient);
  if (!fits) throw new CpuException(VEC_DE, null, "quotient too large");
  return [BigInt.asUintN(bits, quotient), BigInt.asUintN(bits, dividend % divisor)];
}

function divideBig(signed: boolean, size: number, aLo: number, aHi: number, dLo: number, dHi: number, bLo: number, bHi: number, out: Int32Array): void {
  const wide = size === 8;
  const divisor = wide ? (BigInt(bHi >>> 0) << 32n) | BigInt(bLo >>> 0) : BigInt(bLo >>> 0);
  const dividend = wide
    ? (BigInt(dHi >>> 0) << 96n) | (BigInt(dLo >>> 0) << 64n) | (BigInt(aHi >>> 0) << 32n) | BigInt(aLo >>> 0)
    : (BigInt(dLo >>> 0) << 32n) | BigInt(aLo >>> 0);
  const [q, r] = divideBigInt(signed, size * 8, dividend, divisor);
  out[0] = Number(q & 0xffffffffn) | 0;
  out[1] = Number(q >> 32n) | 0;
  out[2] = Number(r & 0xffffffffn) | 0;
  out[3] = Number(r >> 32n) | 0;
}

function divide(signed: boolean) {
  return (cpu: Cpu, ins: Instruction): void => {
    const size = operandSize(ins, 0);
    const divisorLo = readOperand(cpu, ins, 0);
    const divisorHi = cpu.hi;
    if (size === 4 || size === 8) {
      divideWide(signed, size, cpu.regs[0], cpu.regs[1], cpu.regs[4], cpu.regs[5], divisorLo, divisorHi, wideResult);
      if (size === 8) {
        cpu.setReg64(0, wideResult[0], wideResult[1]);
        cpu.setReg64(2, wideResult[2], wideResult[3]);
      } else {
        cpu.writeReg(0, 4, false, wideResult[0], 0);
        cpu.writeReg(2, 4, false, wideResult[2], 0);
      }
      return;
    }
    const dividend = size === 1 ? BigInt(cpu.regWords[0]) : (BigInt(cpu.regWords[8]) << 16n) | BigInt(cpu.regWords[0]);
    const [q, r] = divideBigInt(signed, size * 8, dividend, BigInt(divisorLo));
    if (size === 1) cpu.regWords[0] = Number(q) | (Number(r) << 8);
    else {
      cpu.regWords[0] = Number(q);
      cpu.regWords[8] = Number(r);
    }
    // All six arithmetic flags are undefined after DIV/IDIV; they are left unchanged here.
  };
}

// ---- sign extensions -------------------------------------------------------------------------------

/** CBW/CWDE/CDQE: sign-extend the lower half of rAX into all of it. */
function extendAccumulator(cpu: Cpu, ins: Instruction): void {
  switch (ins.opSize) {
    case 2: cpu.regWords[0] = (cpu.regBytes[0] << 24) >> 24; break;
    case 4: cpu.writeReg(0, 4, false, (cpu.regWords[0] << 16) >> 16, 0); break;
    default: cpu.setReg64(0, cpu.regs[0], cpu.regs[0] >> 31);
  }
}

/** CWD/CDQ/CQO: fill rDX with the sign of rAX. */
function extendIntoDx(cpu: Cpu, ins: Instruction): void {
  switch (ins.opSize) {
    case 2: cpu.regWords[8] = cpu.regWords[0] & 0x8000 ? 0xffff : 0; break;
    case 4: cpu.writeReg(2, 4, false, cpu.regs[0] >> 31, 0); break;
    default: cpu.setReg64(2, cpu.regs[1] >> 31, cpu.regs[1] >> 31);
  }
}

// ---- BCD adjustments (32-bit mode only) ----------------------------------------------------------

function setLogicFlags(cpu: Cpu, value: number, extra: number, mask: number): void {
  const flags = (value === 0 ? ZF : 0) | (value & 0x80 ? SF : 0) | (PARITY[value] ? PF : 0) | extra;
  cpu.setFlags(flags, ZF | SF | PF | mask);
}

function daa(cpu: Cpu): void {
  const flags = cpu.getFlags();
  const oldAl = cpu.regBytes[0];
  const oldCf = flags & CF;
  let al = oldAl, cf = 0, af = 0;
  if ((al & 0xf) > 9 || flags & AF) { al = (al + 6) & 0xff; af = AF; cf = oldCf || oldAl > 0xf9 ? CF : 0; }
  if (oldAl > 0x99 || oldCf) { al = (al + 0x60) & 0xff; cf = CF; }
  cpu.regBytes[0] = al;
  setLogicFlags(cpu, al, cf | af, CF | AF | OF);
}

function das(cpu: Cpu): void {
  const flags = cpu.getFlags();
  const oldAl = cpu.regBytes[0];
  const oldCf = flags & CF;
  let al = oldAl, cf = 0, af = 0;
  if ((al & 0xf) > 9 || flags & AF) { al = (al - 6) & 0xff; af = AF; cf = oldCf || oldAl < 6 ? CF : 0; }
  if (oldAl > 0x99 || oldCf) { al = (al - 0x60) & 0xff; cf = CF; }
  cpu.regBytes[0] = al;
  setLogicFlags(cpu, al, cf | af, CF | AF | OF);
}

function asciiAdjust(isAdd: boolean) {
  return (cpu: Cpu): void => {
    const flags = cpu.getFlags();
    if ((cpu.regBytes[0] & 0xf) > 9 || flags & AF) {
      cpu.regWords[0] = (cpu.regWords[0] + (isAdd ? 0x106 : -0x106)) & 0xffff;
      cpu.regBytes[0] &= 0xf;
      cpu.setFlags(AF | CF, AF | CF);
    } else {
      cpu.regBytes[0] &= 0xf;
      cpu.setFlags(0, AF | CF);
    }
  };
}

function aam(cpu: Cpu, ins: Instruction): void {
  const base = ins.imm & 0xff;
  if (base === 0) throw new CpuException(VEC_DE, null, "AAM by zero");
  const al = cpu.regBytes[0];
  cpu.regBytes[1] = Math.floor(al / base);
  cpu.regBytes[0] = al % base;
  setLogicFlags(cpu, cpu.regBytes[0], 0, 0);
}

function aad(cpu: Cpu, ins: Instruction): void {
  const al = (cpu.regBytes[0] + cpu.regBytes[1] * (ins.imm & 0xff)) & 0xff;
  cpu.regWords[0] = al;
  setLogicFlags(cpu, al, 0, 0);
}

/** BOUND (32-bit mode): #BR unless lower <= index <= upper, all signed. */
function bound(cpu: Cpu, ins: Instruction): void {
  const size = ins.opSize;
  const index = signExtend(cpu.readReg(ins.reg, size, false), size);
  const lower = signExtend(cpu.read(cpu.ea, size), size);
  const upper = signExtend(cpu.read(cpu.next(cpu.ea, size), size), size);
  if (index < lower || index > upper) throw new CpuException(5, null, "BOUND range exceeded");
}

export const ARITHMETIC: SemanticTable = {
  bound,
  add: binary(ADD), or: binary(OR), adc: binary(ADC), sbb: binary(SBB), and: binary(AND), sub: binary(SUB),
  xor: binary(XOR), cmp: binary(CMP), test: binary(TEST),
  inc: incDec(true), dec: incDec(false), neg, not,
  mul: multiplyAccumulator(false), div: divide(false), idiv: divide(true),
  imul: (cpu, ins) => (ins.row.operands.length === 1 ? imulOneOperand(cpu, ins) : imulTruncating(cpu, ins)),
  cbw: extendAccumulator, cwde: extendAccumulator, cdqe: extendAccumulator,
  cwd: extendIntoDx, cdq: extendIntoDx, cqo: extendIntoDx,
  daa, das, aaa: asciiAdjust(true), aas: asciiAdjust(false), aam, aad,
};

const imulOneOperand = multiplyAccumulator(true);
