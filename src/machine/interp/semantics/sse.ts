// SSE and SSE2: the semantics of every row of the decoder's SSE section that the machine executes
// (status Ok), keyed by mnemonic. Floating point is in sse-fp.ts (fast paths) and softfloat.ts (the
// exact reference), packed integers in sse-int.ts; values are staged through sse-lanes.ts so that a
// faulting or trapping instruction leaves its destination untouched and nothing allocates.
//
// Common rules implemented here:
// - Availability: CR0.EM or !CR4.OSFXSR -> #UD, CR0.TS -> #NM (before any memory access).
// - Alignment: a 16-byte memory operand must be 16-byte aligned (#GP(0)), except for MOVUPS,
//   MOVUPD and MOVDQU; 4- and 8-byte operands (scalar forms, MOVLPS, CVTPS2PD, ...) need none.
//   (AMD's misaligned-SSE mode, MXCSR.MM, is not implemented: MXCSR_MASK is 0xFFFF.)
// - Scalar operations write element 0 and keep the rest of the destination; MOVSS/MOVSD from memory
//   zero the upper part, register to register they do not; MOVD/MOVQ to a register zero the rest.
// - SIMD floating-point exceptions: the flags raised are ORed into MXCSR; if one of them is unmasked
//   the instruction raises #XM (CR4.OSXMMEXCPT set) or #UD, without writing its destination (nor
//   RFLAGS for COMISS, nor the GPR for CVTSS2SI). With several elements, all elements' flags are
//   set first (a simplification of the SDM's pre-/post-computation ordering; only observable with
//   unmasked exceptions).
import type { Instruction } from "../../../decoder/decode.js";
import { AF, CF, OF, PF, SF, ZF } from "../../../decoder/flags.js";
import { M_E, M_I, M_V } from "../../../decoder/operand-spec.js";
import { CR0_EM, CR0_TS, CR4_OSFXSR, CR4_OSXMMEXCPT, DS, type Cpu } from "../../cpu.js";
import { CpuException, VEC_NM, VEC_XM, generalProtection, invalidOpcode } from "../../cpu-exception.js";
import { ACCESS_WRITE } from "../../paging.js";
import { operandSize, probeWrite, readOperand, segmentOverride, writeOperand } from "../operand-access.js";
import { A, B, F64, I16, I32, R, U16 } from "./sse-lanes.js";
import {
  EQUAL, LESS, UNORDERED, addSub32, addSub64, beginFp, compare32, compare64, div32, div64, float32To64, float32Value,
  float64To32, float64Value, int32ToFloat32, int64High, int64ToFloat32, int64ToFloat64, minMax32, minMax64, mul32, mul64,
  predicate, predicateSignals, reciprocal32, sqrt32, sqrt64, toInt32, toInt64,
} from "./sse-fp.js";
import { LANE_OPS, SHIFT_OPS, countFromB, pand, pandn, por, pslldq, psrldq, punpckhdq, punpckhqdq, punpckldq, punpcklqdq, pxor, type LaneOp } from "./sse-int.js";
import { fpEnv } from "./softfloat.js";
import type { Semantic, SemanticTable } from "./types.js";

/** MXCSR bits software may set: everything below bit 16 (DAZ is supported). FXSAVE stores it. */
export const MXCSR_MASK = 0xffff;
export const MXCSR_DEFAULT = 0x1f80;

// ---- availability and exceptions ---------------------------------------------------------------

export function sseCheck(cpu: Cpu): void {
  if ((cpu.cr0 & (CR0_EM | CR0_TS)) !== 0 || (cpu.cr4 & CR4_OSFXSR) === 0) sseUnavailable(cpu);
}

function sseUnavailable(cpu: Cpu): never {
  if ((cpu.cr0 & CR0_EM) !== 0 || (cpu.cr4 & CR4_OSFXSR) === 0) throw invalidOpcode("SSE disabled (CR0.EM or !CR4.OSFXSR)");
  throw new CpuException(VEC_NM, null);
}

/** Merges the flags the instruction raised into MXCSR; raises #XM/#UD for an unmasked one. */
function endFp(cpu: Cpu): void {
  const flags = fpEnv.flags;
  if (flags === 0) return;
  const mxcsr = cpu.mxcsr;
  cpu.mxcsr = mxcsr | flags;
  if ((flags & ~(mxcsr >> 7) & 0x3f) !== 0) {
    if ((cpu.cr4 & CR4_OSXMMEXCPT) !== 0) throw new CpuException(VEC_XM, null);
    throw invalidOpcode("unmasked SIMD floating-point exception with CR4.OSXMMEXCPT clear");
  }
}

function alignmentFault(): never {
  throw generalProtection(0, "misaligned 16-byte SSE memory operand");
}

// ---- staging -----------------------------------------------------------------------------------

/** A = XMM[reg] */
function loadA(cpu: Cpu, reg: number): void {
  const x = cpu.xmm, o = reg << 2;
  I32[A] = x[o]; I32[A + 1] = x[o + 1]; I32[A + 2] = x[o + 2]; I32[A + 3] = x[o + 3];
}

/**
 * B = the r/m operand: XMM[rm] whole, or `size` bytes of memory (upper part zeroed), a 16-byte
 * memory operand checked for alignment when `aligned`.
 */
function loadB(cpu: Cpu, ins: Instruction, size: number, aligned: boolean): void {
  if (ins.mod === 3) {
    const x = cpu.xmm, o = ins.rm << 2;
    I32[B] = x[o]; I32[B + 1] = x[o + 1]; I32[B + 2] = x[o + 2]; I32[B + 3] = x[o + 3];
    return;
  }
  const ea = cpu.ea;
  if (size === 16) {
    if (aligned && (ea & 15) !== 0) alignmentFault();
    I32[B] = cpu.read(ea, 8);
    I32[B + 1] = cpu.hi;
    I32[B + 2] = cpu.read(cpu.next(ea, 8), 8);
    I32[B + 3] = cpu.hi;
    return;
  }
  if (size === 8) {
    I32[B] = cpu.read(ea, 8);
    I32[B + 1] = cpu.hi;
  } else {
    I32[B] = cpu.read(ea, 4);
    I32[B + 1] = 0;
  }
  I32[B + 2] = 0;
  I32[B + 3] = 0;
}

/** XMM[reg] = R */
function storeR(cpu: Cpu, reg: number): void {
  const x = cpu.xmm, o = reg << 2;
  x[o] = I32[R]; x[o + 1] = I32[R + 1]; x[o + 2] = I32[R + 2]; x[o + 3] = I32[R + 3];
}

/** R = A (scalar operations keep the destination's upper elements). */
function copyAtoR(): void {
  I32[R] = I32[A]; I32[R + 1] = I32[A + 1]; I32[R + 2] = I32[A + 2]; I32[R + 3] = I32[A + 3];
}

/** Writes 16 bytes (dwords[o..o+3]) at `ea`; a page-crossing store checks both pages first. The JIT's stores of XMM registers use it too. */
export function store16(cpu: Cpu, ea: number, dwords: Int32Array, o: number): void {
  if ((ea & 0xfff) > 0xff0) probeWrite(cpu, ea, 16);
  cpu.write(ea, 8, dwords[o], dwords[o + 1]);
  cpu.write(cpu.next(ea, 8), 8, dwords[o + 2], dwords[o + 3]);
}

function immediate8(ins: Instruction): number {
  return ins.imm & 0xff;
}

// ---- moves -------------------------------------------------------------------------------------

/** MOVAPS/MOVAPD/MOVDQA (aligned) and MOVUPS/MOVUPD/MOVDQU, both directions. */
function move128(aligned: boolean): Semantic {
  return (cpu, ins) => {
    sseCheck(cpu);
    const x = cpu.xmm;
    if (ins.row.operands[0].method === M_V) {
      const d = ins.reg << 2;
      if (ins.mod === 3) {
        const s = ins.rm << 2;
        x[d] = x[s]; x[d + 1] = x[s + 1]; x[d + 2] = x[s + 2]; x[d + 3] = x[s + 3];
        return;
      }
      const ea = cpu.ea;
      if (aligned && (ea & 15) !== 0) alignmentFault();
      const lo = cpu.read(ea, 8), hi = cpu.hi;
      const lo2 = cpu.read(cpu.next(ea, 8), 8), hi2 = cpu.hi;
      x[d] = lo; x[d + 1] = hi; x[d + 2] = lo2; x[d + 3] = hi2;
      return;
    }
    const s = ins.reg << 2;
    if (ins.mod === 3) {
      const d = ins.rm << 2;
      x[d] = x[s]; x[d + 1] = x[s + 1]; x[d + 2] = x[s + 2]; x[d + 3] = x[s + 3];
      return;
    }
    const ea = cpu.ea;
    if (aligned && (ea & 15) !== 0) alignmentFault();
    store16(cpu, ea, x, s);
  };
}

/** MOVNTPS/MOVNTPD/MOVNTDQ: aligned 16-byte stores (the non-temporal hint has no effect). */
function moveNonTemporal(cpu: Cpu, ins: Instruction): void {
  sseCheck(cpu);
  const ea = cpu.ea;
  if ((ea & 15) !== 0) alignmentFault();
  store16(cpu, ea, cpu.xmm, ins.reg << 2);
}

/** MOVSS (4 bytes) / MOVSD (8 bytes), SSE forms. */
function moveScalar(size: number): Semantic {
  const dwords = size >> 2;
  return (cpu, ins) => {
    sseCheck(cpu);
    const x = cpu.xmm;
    const load = ins.row.operands[0].method === M_V;
    if (ins.mod === 3) {
      const d = (load ? ins.reg : ins.rm) << 2, s = (load ? ins.rm : ins.reg) << 2;
      x[d] = x[s];
      if (dwords === 2) x[d + 1] = x[s + 1];
      return;
    }
    const ea = cpu.ea;
    if (load) {
      const d = ins.reg << 2;
      const lo = cpu.read(ea, size), hi = dwords === 2 ? cpu.hi : 0;
      x[d] = lo; x[d + 1] = hi; x[d + 2] = 0; x[d + 3] = 0;
    } else {
      const s = ins.reg << 2;
      cpu.write(ea, size, x[s], dwords === 2 ? x[s + 1] : 0);
    }
  };
}

/** MOVLPS/MOVLPD (half 0) and MOVHPS/MOVHPD (half 1): a quadword between memory and a register half. */
function moveHalf(half: number): Semantic {
  return (cpu, ins) => {
    sseCheck(cpu);
    const x = cpu.xmm, o = (ins.reg << 2) + 2 * half;
    if (ins.row.operands[0].method === M_V) {
      const lo = cpu.read(cpu.ea, 8);
      x[o] = lo;
      x[o + 1] = cpu.hi;
    } else {
      cpu.write(cpu.ea, 8, x[o], x[o + 1]);
    }
  };
}

/** MOVHLPS (high quadword of the source to the low one of the destination) and MOVLHPS. */
function moveHalves(fromHalf: number, toHalf: number): Semantic {
  return (cpu, ins) => {
    sseCheck(cpu);
    const x = cpu.xmm, d = (ins.reg << 2) + 2 * toHalf, s = (ins.rm << 2) + 2 * fromHalf;
    x[d] = x[s];
    x[d + 1] = x[s + 1];
  };
}

/** MOVD (4 bytes) / MOVQ (8 bytes): every SSE2 form. */
function moveToFromGeneral(size: number): Semantic {
  return (cpu, ins) => {
    sseCheck(cpu);
    const x = cpu.xmm;
    const operands = ins.row.operands;
    const first = operands[0].method, second = operands[1].method;
    if (first === M_V) {
      let lo: number, hi: number;
      if (second === M_E) {
        // 66 0F 6E: MOVD/MOVQ xmm, r/m32/64
        lo = readOperand(cpu, ins, 1);
        hi = size === 8 ? cpu.hi : 0;
      } else if (ins.mod === 3) {
        // F3 0F 7E: MOVQ xmm, xmm/m64
        lo = x[ins.rm << 2];
        hi = x[(ins.rm << 2) + 1];
      } else {
        lo = cpu.read(cpu.ea, 8);
        hi = cpu.hi;
      }
      const d = ins.reg << 2;
      x[d] = lo; x[d + 1] = hi; x[d + 2] = 0; x[d + 3] = 0;
      return;
    }
    const s = ins.reg << 2;
    if (first === M_E) {
      // 66 0F 7E: MOVD/MOVQ r/m32/64, xmm
      writeOperand(cpu, ins, 0, x[s], size === 8 ? x[s + 1] : 0);
      return;
    }
    // 66 0F D6: MOVQ xmm/m64, xmm
    if (ins.mod === 3) {
      const d = ins.rm << 2;
      const lo = x[s], hi = x[s + 1];
      x[d] = lo; x[d + 1] = hi; x[d + 2] = 0; x[d + 3] = 0;
    } else {
      cpu.write(cpu.ea, 8, x[s], x[s + 1]);
    }
  };
}

// ---- generic two-operand forms -----------------------------------------------------------------

/** R = op(A, B) with a 16-byte B, written back to XMM[reg]. For bitwise, integer and shuffle ops. */
function laneOp(op: LaneOp): Semantic {
  return (cpu, ins) => {
    sseCheck(cpu);
    loadB(cpu, ins, 16, true);
    loadA(cpu, ins.reg);
    op(0);
    storeR(cpu, ins.reg);
  };
}

/** Shifts: by XMM/m128 (the low quadword) or, in the Ux,Ib forms, by imm8 on XMM[rm]. */
function shiftOp(op: LaneOp): Semantic {
  return (cpu, ins) => {
    sseCheck(cpu);
    if (ins.row.operands[1].method === M_I) {
      // 66 0F 71-73 /n ib: Ux,Ib
      loadA(cpu, ins.rm);
      op(immediate8(ins));
      storeR(cpu, ins.rm);
      return;
    }
    loadB(cpu, ins, 16, true);
    loadA(cpu, ins.reg);
    op(countFromB());
    storeR(cpu, ins.reg);
  };
}

/** Element-wise floating point: `count` elements, `size`-byte memory operand (16: aligned). */
function floatOp(element: (i: number) => void, count: number, size: number): Semantic {
  const scalar = size !== 16;
  return (cpu, ins) => {
    sseCheck(cpu);
    loadB(cpu, ins, size, true);
    loadA(cpu, ins.reg);
    if (scalar) copyAtoR();
    beginFp(cpu.mxcsr);
    for (let i = 0; i < count; i++) element(i);
    endFp(cpu);
    storeR(cpu, ins.reg);
  };
}

const add32 = (i: number) => addSub32(i, false);
const sub32 = (i: number) => addSub32(i, true);
const add64 = (i: number) => addSub64(i, false);
const sub64 = (i: number) => addSub64(i, true);
const min32 = (i: number) => minMax32(i, false);
const max32 = (i: number) => minMax32(i, true);
const min64 = (i: number) => minMax64(i, false);
const max64 = (i: number) => minMax64(i, true);

/** The four forms ps/pd/ss/sd of an arithmetic stem. */
function arithmetic(stem: string, single: (i: number) => void, double: (i: number) => void): SemanticTable {
  return {
    [`${stem}ps`]: floatOp(single, 4, 16),
    [`${stem}pd`]: floatOp(double, 2, 16),
    [`${stem}ss`]: floatOp(single, 1, 4),
    [`${stem}sd`]: floatOp(double, 1, 8),
  };
}

// ---- compares ----------------------------------------------------------------------------------

/** CMPPS/CMPPD/CMPSS/CMPSD: the legacy encodings use imm8[2:0]. */
function compareOp(double: boolean, count: number, size: number): Semantic {
  const scalar = size !== 16;
  return (cpu, ins) => {
    sseCheck(cpu);
    loadB(cpu, ins, size, true);
    loadA(cpu, ins.reg);
    if (scalar) copyAtoR();
    const imm = ins.imm & 7;
    const signaling = predicateSignals(imm);
    beginFp(cpu.mxcsr);
    for (let i = 0; i < count; i++) {
      if (double) {
        const value = predicate(compare64(i, signaling), imm);
        I32[R + 2 * i] = value;
        I32[R + 2 * i + 1] = value;
      } else {
        I32[R + i] = predicate(compare32(i, signaling), imm);
      }
    }
    endFp(cpu);
    storeR(cpu, ins.reg);
  };
}

const ARITHMETIC_FLAGS = OF | SF | ZF | AF | PF | CF;

/** COMISS/COMISD (signaling: IE on QNaN too) and UCOMISS/UCOMISD: ZF, PF, CF; OF, SF, AF cleared. */
function compareFlags(double: boolean, signaling: boolean): Semantic {
  return (cpu, ins) => {
    sseCheck(cpu);
    loadB(cpu, ins, double ? 8 : 4, false);
    loadA(cpu, ins.reg);
    beginFp(cpu.mxcsr);
    const relation = double ? compare64(0, signaling) : compare32(0, signaling);
    endFp(cpu);
    const flags = relation === UNORDERED ? ZF | PF | CF : relation === LESS ? CF : relation === EQUAL ? ZF : 0;
    cpu.setFlags(flags, ARITHMETIC_FLAGS);
  };
}

// ---- conversions -------------------------------------------------------------------------------

/** CVTSI2SS/CVTSI2SD: a 32- or 64-bit signed integer (register or memory) to element 0. */
function convertFromInteger(double: boolean): Semantic {
  return (cpu, ins) => {
    sseCheck(cpu);
    const lo = readOperand(cpu, ins, 1);
    const hi = cpu.hi;
    const wide = operandSize(ins, 1) === 8;
    loadA(cpu, ins.reg);
    copyAtoR();
    beginFp(cpu.mxcsr);
    if (double) {
      if (wide) int64ToFloat64(0, lo, hi);
      else F64[R / 2] = lo | 0;
    } else if (wide) {
      int64ToFloat32(0, lo, hi);
    } else {
      int32ToFloat32(0, lo | 0);
    }
    endFp(cpu);
    storeR(cpu, ins.reg);
  };
}

/** CVTSS2SI/CVTSD2SI (by MXCSR.RC) and CVTTSS2SI/CVTTSD2SI (truncating) to a 32/64-bit register. */
function convertToInteger(double: boolean, truncate: boolean): Semantic {
  return (cpu, ins) => {
    sseCheck(cpu);
    loadB(cpu, ins, double ? 8 : 4, false);
    beginFp(cpu.mxcsr);
    const value = double ? float64Value(B) : float32Value(B);
    let lo: number, hi = 0;
    if (ins.opSize === 8) {
      lo = toInt64(value, truncate);
      hi = int64High;
    } else {
      lo = toInt32(value, truncate);
    }
    endFp(cpu);
    writeOperand(cpu, ins, 0, lo, hi);
  };
}

function cvtps2pd(cpu: Cpu, ins: Instruction): void {
  sseCheck(cpu);
  loadB(cpu, ins, 8, false);
  beginFp(cpu.mxcsr);
  float32To64(1, 1);
  float32To64(0, 0);
  endFp(cpu);
  storeR(cpu, ins.reg);
}

function cvtpd2ps(cpu: Cpu, ins: Instruction): void {
  sseCheck(cpu);
  loadB(cpu, ins, 16, true);
  beginFp(cpu.mxcsr);
  float64To32(0, 0);
  float64To32(1, 1);
  I32[R + 2] = 0;
  I32[R + 3] = 0;
  endFp(cpu);
  storeR(cpu, ins.reg);
}

function cvtss2sd(cpu: Cpu, ins: Instruction): void {
  sseCheck(cpu);
  loadB(cpu, ins, 4, false);
  loadA(cpu, ins.reg);
  copyAtoR();
  beginFp(cpu.mxcsr);
  float32To64(0, 0);
  endFp(cpu);
  storeR(cpu, ins.reg);
}

function cvtsd2ss(cpu: Cpu, ins: Instruction): void {
  sseCheck(cpu);
  loadB(cpu, ins, 8, false);
  loadA(cpu, ins.reg);
  copyAtoR();
  beginFp(cpu.mxcsr);
  float64To32(0, 0);
  endFp(cpu);
  storeR(cpu, ins.reg);
}

function cvtdq2ps(cpu: Cpu, ins: Instruction): void {
  sseCheck(cpu);
  loadB(cpu, ins, 16, true);
  beginFp(cpu.mxcsr);
  for (let i = 0; i < 4; i++) int32ToFloat32(i, I32[B + i]);
  endFp(cpu);
  storeR(cpu, ins.reg);
}

function cvtdq2pd(cpu: Cpu, ins: Instruction): void {
  sseCheck(cpu);
  loadB(cpu, ins, 8, false);
  const second = I32[B + 1];
  F64[R / 2] = I32[B];
  F64[R / 2 + 1] = second;
  storeR(cpu, ins.reg);
}

/** CVTPS2DQ / CVTTPS2DQ */
function packedSingleToInt(truncate: boolean): Semantic {
  return (cpu, ins) => {
    sseCheck(cpu);
    loadB(cpu, ins, 16, true);
    beginFp(cpu.mxcsr);
    for (let i = 0; i < 4; i++) I32[R + i] = toInt32(float32Value(B + i), truncate);
    endFp(cpu);
    storeR(cpu, ins.reg);
  };
}

/** CVTPD2DQ / CVTTPD2DQ: two results in the low quadword, the high one zeroed. */
function packedDoubleToInt(truncate: boolean): Semantic {
  return (cpu, ins) => {
    sseCheck(cpu);
    loadB(cpu, ins, 16, true);
    beginFp(cpu.mxcsr);
    I32[R] = toInt32(float64Value(B), truncate);
    I32[R + 1] = toInt32(float64Value(B + 2), truncate);
    I32[R + 2] = 0;
    I32[R + 3] = 0;
    endFp(cpu);
    storeR(cpu, ins.reg);
  };
}

/** RCPPS/RSQRTPS (4 elements) and RCPSS/RSQRTSS: approximations, no exceptions (see sse-fp.ts). */
function reciprocal(squareRoot: boolean, scalar: boolean): Semantic {
  return (cpu, ins) => {
    sseCheck(cpu);
    loadB(cpu, ins, scalar ? 4 : 16, true);
    if (scalar) {
      loadA(cpu, ins.reg);
      copyAtoR();
      I32[R] = reciprocal32(I32[B], squareRoot);
    } else {
      for (let i = 0; i < 4; i++) I32[R + i] = reciprocal32(I32[B + i], squareRoot);
    }
    storeR(cpu, ins.reg);
  };
}

// ---- shuffles, inserts, extracts, masks -------------------------------------------------------

function shufps(cpu: Cpu, ins: Instruction): void {
  sseCheck(cpu);
  loadB(cpu, ins, 16, true);
  loadA(cpu, ins.reg);
  const imm = immediate8(ins);
  I32[R] = I32[A + (imm & 3)];
  I32[R + 1] = I32[A + ((imm >> 2) & 3)];
  I32[R + 2] = I32[B + ((imm >> 4) & 3)];
  I32[R + 3] = I32[B + ((imm >> 6) & 3)];
  storeR(cpu, ins.reg);
}

function shufpd(cpu: Cpu, ins: Instruction): void {
  sseCheck(cpu);
  loadB(cpu, ins, 16, true);
  loadA(cpu, ins.reg);
  const imm = immediate8(ins);
  const low = A + 2 * (imm & 1), high = B + 2 * ((imm >> 1) & 1);
  I32[R] = I32[low];
  I32[R + 1] = I32[low + 1];
  I32[R + 2] = I32[high];
  I32[R + 3] = I32[high + 1];
  storeR(cpu, ins.reg);
}

function pshufd(cpu: Cpu, ins: Instruction): void {
  sseCheck(cpu);
  loadB(cpu, ins, 16, true);
  const imm = immediate8(ins);
  for (let i = 0; i < 4; i++) I32[R + i] = I32[B + ((imm >> (2 * i)) & 3)];
  storeR(cpu, ins.reg);
}

/** PSHUFLW (half 0) / PSHUFHW (half 1): shuffles the words of one half, copies the other. */
function shuffleWords(half: number): Semantic {
  return (cpu, ins) => {
    sseCheck(cpu);
    loadB(cpu, ins, 16, true);
    const imm = immediate8(ins);
    const shuffled = 4 * half, kept = 4 - shuffled;
    for (let i = 0; i < 4; i++) {
      U16[2 * R + shuffled + i] = U16[2 * B + shuffled + ((imm >> (2 * i)) & 3)];
      U16[2 * R + kept + i] = U16[2 * B + kept + i];
    }
    storeR(cpu, ins.reg);
  };
}

function pinsrw(cpu: Cpu, ins: Instruction): void {
  sseCheck(cpu);
  const value = readOperand(cpu, ins, 1);
  loadA(cpu, ins.reg);
  copyAtoR();
  I16[2 * R + (immediate8(ins) & 7)] = value;
  storeR(cpu, ins.reg);
}

function pextrw(cpu: Cpu, ins: Instruction): void {
  sseCheck(cpu);
  const value = cpu.xmmView.getUint16((ins.rm << 4) + 2 * (immediate8(ins) & 7), true);
  writeOperand(cpu, ins, 0, value, 0);
}

function pmovmskb(cpu: Cpu, ins: Instruction): void {
  sseCheck(cpu);
  const bytes = cpu.xmmBytes, o = ins.rm << 4;
  let mask = 0;
  for (let i = 0; i < 16; i++) mask |= (bytes[o + i] >> 7) << i;
  writeOperand(cpu, ins, 0, mask, 0);
}

function movmskps(cpu: Cpu, ins: Instruction): void {
  sseCheck(cpu);
  const x = cpu.xmm, o = ins.rm << 2;
  writeOperand(cpu, ins, 0, (x[o] >>> 31) | ((x[o + 1] >>> 31) << 1) | ((x[o + 2] >>> 31) << 2) | ((x[o + 3] >>> 31) << 3), 0);
}

function movmskpd(cpu: Cpu, ins: Instruction): void {
  sseCheck(cpu);
  const x = cpu.xmm, o = ins.rm << 2;
  writeOperand(cpu, ins, 0, (x[o + 1] >>> 31) | ((x[o + 3] >>> 31) << 1), 0);
}

/** Byte shifts of XMM[rm] by imm8. */
function byteShift(op: LaneOp): Semantic {
  return (cpu, ins) => {
    sseCheck(cpu);
    loadA(cpu, ins.rm);
    op(Math.min(immediate8(ins), 16));
    storeR(cpu, ins.rm);
  };
}

/** MASKMOVDQU: the bytes of XMM[reg] whose mask byte (XMM[rm]) has its top bit set go to DS:rDI. */
function maskmovdqu(cpu: Cpu, ins: Instruction): void {
  sseCheck(cpu);
  const segment = segmentOverride(ins, DS);
  let base: number;
  switch (ins.addrSize) {
    case 2: base = cpu.linear(segment, cpu.regWords[7 << 2], 0); break;
    case 4: base = cpu.linear(segment, cpu.regs[14] >>> 0, 0); break;
    default: base = cpu.linear(segment, cpu.regs[14], cpu.regs[15]);
  }
  const bytes = cpu.xmmBytes, data = ins.reg << 4, mask = ins.rm << 4;
  // The whole 16-byte destination is checked for writability before any byte is stored.
  probeWrite(cpu, base, 16);
  for (let i = 0; i < 16; i++) {
    if (bytes[mask + i] & 0x80) cpu.write(cpu.next(base, i), 1, bytes[data + i], 0);
  }
}

/** MOVNTI: a general register store (SSE2, but no SSE state involved). */
function movnti(cpu: Cpu, ins: Instruction): void {
  const lo = readOperand(cpu, ins, 1);
  writeOperand(cpu, ins, 0, lo, cpu.hi);
}

// ---- MXCSR and FXSAVE/FXRSTOR ------------------------------------------------------------------

function ldmxcsr(cpu: Cpu): void {
  sseCheck(cpu);
  const value = cpu.read(cpu.ea, 4) >>> 0;
  if ((value & ~MXCSR_MASK) !== 0) throw generalProtection(0, "reserved MXCSR bits set");
  cpu.mxcsr = value;
}

function stmxcsr(cpu: Cpu): void {
  sseCheck(cpu);
  cpu.write(cpu.ea, 4, cpu.mxcsr, 0);
}

function fxCheck(cpu: Cpu): number {
  if ((cpu.cr0 & (CR0_EM | CR0_TS)) !== 0) throw new CpuException(VEC_NM, null);
  const base = cpu.ea;
  if ((base & 15) !== 0) throw generalProtection(0, "misaligned FXSAVE area");
  return base;
}

/**
 * FXSAVE/FXSAVE64: the 512-byte legacy area. This machine has no x87/MMX unit, so the x87 part is
 * that of a freshly initialized FPU: FCW 0x037F, FSW 0, abridged FTW 0 (all empty), FOP/FIP/FDP 0,
 * ST0-7 zero. Then MXCSR, MXCSR_MASK (0xFFFF), XMM0-15 (XMM0-7 outside 64-bit mode). Bytes 416-511
 * (reserved and software-available) and, outside 64-bit mode, the XMM8-15 slots are not written.
 */
function fxsave(cpu: Cpu): void {
  const base = fxCheck(cpu);
  cpu.write(base, 4, 0x037f, 0);
  for (let offset = 4; offset < 24; offset += 4) cpu.write(cpu.next(base, offset), 4, 0, 0);
  cpu.write(cpu.next(base, 24), 4, cpu.mxcsr, 0);
  cpu.write(cpu.next(base, 28), 4, MXCSR_MASK, 0);
  for (let offset = 32; offset < 160; offset += 8) cpu.write(cpu.next(base, offset), 8, 0, 0);
  const registers = cpu.mode === 64 ? 16 : 8;
  const x = cpu.xmm;
  for (let reg = 0; reg < registers; reg++) {
    const at = cpu.next(base, 160 + 16 * reg), o = reg << 2;
    cpu.write(at, 8, x[o], x[o + 1]);
    cpu.write(cpu.next(at, 8), 8, x[o + 2], x[o + 3]);
  }
}

/** FXRSTOR/FXRSTOR64: MXCSR (reserved bits set: #GP(0), nothing loaded) and the XMM registers. */
function fxrstor(cpu: Cpu): void {
  const base = fxCheck(cpu);
  // The whole image is read (and may page-fault) before its MXCSR is validated.
  cpu.mmu.translate(base, 0);
  cpu.mmu.translate(cpu.next(base, 511), 0);
  const mxcsr = cpu.read(cpu.next(base, 24), 4) >>> 0;
  if ((mxcsr & ~MXCSR_MASK) !== 0) throw generalProtection(0, "reserved MXCSR bits in FXRSTOR image");
  const registers = cpu.mode === 64 ? 16 : 8;
  // Read everything before changing any state, so a page fault leaves the registers untouched.
  const values = fxImage;
  for (let reg = 0; reg < registers; reg++) {
    const at = cpu.next(base, 160 + 16 * reg), o = reg << 2;
    values[o] = cpu.read(at, 8);
    values[o + 1] = cpu.hi;
    values[o + 2] = cpu.read(cpu.next(at, 8), 8);
    values[o + 3] = cpu.hi;
  }
  const x = cpu.xmm;
  for (let i = 0; i < registers * 4; i++) x[i] = values[i];
  cpu.mxcsr = mxcsr;
}
const fxImage = new Int32Array(64);

// ---- the table ---------------------------------------------------------------------------------

const laneOps: SemanticTable = {};
for (const [mnemonic, op] of Object.entries(LANE_OPS)) laneOps[mnemonic] = laneOp(op);
const shiftOps: SemanticTable = {};
for (const [mnemonic, op] of Object.entries(SHIFT_OPS)) shiftOps[mnemonic] = shiftOp(op);

export const SSE: SemanticTable = {
  ...laneOps,
  ...shiftOps,
  psrldq: byteShift(psrldq),
  pslldq: byteShift(pslldq),

  movups: move128(false), movupd: move128(false), movdqu: move128(false),
  movaps: move128(true), movapd: move128(true), movdqa: move128(true),
  movntps: moveNonTemporal, movntpd: moveNonTemporal, movntdq: moveNonTemporal,
  movss: moveScalar(4), movsd: moveScalar(8),
  movlps: moveHalf(0), movlpd: moveHalf(0), movhps: moveHalf(1), movhpd: moveHalf(1),
  movhlps: moveHalves(1, 0), movlhps: moveHalves(0, 1),
  movd: moveToFromGeneral(4), movq: moveToFromGeneral(8),

  unpcklps: laneOp(punpckldq), unpckhps: laneOp(punpckhdq), unpcklpd: laneOp(punpcklqdq), unpckhpd: laneOp(punpckhqdq),
  andps: laneOp(pand), andpd: laneOp(pand), andnps: laneOp(pandn), andnpd: laneOp(pandn),
  orps: laneOp(por), orpd: laneOp(por), xorps: laneOp(pxor), xorpd: laneOp(pxor),

  ...arithmetic("add", add32, add64),
  ...arithmetic("sub", sub32, sub64),
  ...arithmetic("mul", mul32, mul64),
  ...arithmetic("div", div32, div64),
  ...arithmetic("min", min32, min64),
  ...arithmetic("max", max32, max64),
  sqrtps: floatOp(sqrt32, 4, 16), sqrtpd: floatOp(sqrt64, 2, 16), sqrtss: floatOp(sqrt32, 1, 4), sqrtsd: floatOp(sqrt64, 1, 8),
  rcpps: reciprocal(false, false), rcpss: reciprocal(false, true),
  rsqrtps: reciprocal(true, false), rsqrtss: reciprocal(true, true),

  cmpps: compareOp(false, 4, 16), cmppd: compareOp(true, 2, 16), cmpss: compareOp(false, 1, 4), cmpsd: compareOp(true, 1, 8),
  comiss: compareFlags(false, true), ucomiss: compareFlags(false, false),
  comisd: compareFlags(true, true), ucomisd: compareFlags(true, false),

  cvtsi2ss: convertFromInteger(false), cvtsi2sd: convertFromInteger(true),
  cvtss2si: convertToInteger(false, false), cvttss2si: convertToInteger(false, true),
  cvtsd2si: convertToInteger(true, false), cvttsd2si: convertToInteger(true, true),
  cvtps2pd, cvtpd2ps, cvtss2sd, cvtsd2ss, cvtdq2ps, cvtdq2pd,
  cvtps2dq: packedSingleToInt(false), cvttps2dq: packedSingleToInt(true),
  cvtpd2dq: packedDoubleToInt(false), cvttpd2dq: packedDoubleToInt(true),

  shufps, shufpd, pshufd, pshuflw: shuffleWords(0), pshufhw: shuffleWords(1),
  pinsrw, pextrw, pmovmskb, movmskps, movmskpd,
  maskmovdqu, movnti,
  ldmxcsr, stmxcsr,
  fxsave, fxsave64: fxsave, fxrstor, fxrstor64: fxrstor,
};

