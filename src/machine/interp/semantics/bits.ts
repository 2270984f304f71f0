// Bit instructions: BT/BTS/BTR/BTC, BSF/BSR, TZCNT/LZCNT, POPCNT.
import type { Instruction } from "../../../decoder/decode.js";
import { AF, CF, OF, PF, SF, ZF } from "../../../decoder/flags.js";
import { M_I } from "../../../decoder/operand-spec.js";
import { TWO_32, type Cpu } from "../../cpu.js";
import { memorySegment, modrmOffset, operandSize, probeWrite, readOperand, writeOperand } from "../operand-access.js";
import type { SemanticTable } from "./types.js";

const BT = 0, BTS = 1, BTR = 2, BTC = 3;

/**
 * The linear address of the operand a register bit offset selects in memory: the offset is signed
 * and moves the operand by (offset >> 3) bytes, rounded down to the operand size, added to the
 * effective address at the address size (exact 64-bit pair arithmetic).
 */
function bitOperandAddress(cpu: Cpu, ins: Instruction, size: number, offsetLo: number, offsetHi: number): number {
  let shiftedLo: number, shiftedHi: number;
  if (size === 8) {
    shiftedLo = ((offsetLo >>> 3) | (offsetHi << 29)) & ~7;
    shiftedHi = offsetHi >> 3;
  } else {
    const signed = size === 4 ? offsetLo | 0 : (offsetLo << 16) >> 16;
    shiftedLo = (signed >> 3) & ~(size - 1);
    shiftedHi = shiftedLo >> 31;
  }
  const baseLo = modrmOffset(cpu, ins, cpu.nextRip);
  const sum = (baseLo >>> 0) + (shiftedLo >>> 0);
  let lo = sum | 0;
  let hi = (cpu.hi + shiftedHi + (sum >= TWO_32 ? 1 : 0)) | 0;
  if (ins.addrSize === 4) hi = 0;
  else if (ins.addrSize === 2) { lo &= 0xffff; hi = 0; }
  return cpu.linear(memorySegment(ins), lo, hi);
}

/**
 * BT and friends. With a register bit offset and a memory operand the offset reaches outside the
 * operand (see bitOperandAddress); otherwise it is taken modulo the operand size.
 */
function bitTest(kind: number) {
  return (cpu: Cpu, ins: Instruction): void => {
    const size = operandSize(ins, 0);
    const offsetLo = readOperand(cpu, ins, 1);
    const offsetHi = cpu.hi;
    if (ins.mod !== 3) {
      if (ins.row.operands[1].method !== M_I) cpu.ea = bitOperandAddress(cpu, ins, size, offsetLo, offsetHi);
      if (kind !== BT) probeWrite(cpu, cpu.ea, size);
    }
    const bitIndex = offsetLo & (size * 8 - 1);
    let lo = readOperand(cpu, ins, 0);
    let hi = size === 8 ? cpu.hi : 0;
    const inHigh = bitIndex >= 32;
    const mask = 1 << (bitIndex & 31);
    const word = inHigh ? hi : lo;
    cpu.setFlags((word & mask) !== 0 ? CF : 0, CF);
    if (kind === BT) return;
    const updated = kind === BTS ? word | mask : kind === BTR ? word & ~mask : word ^ mask;
    if (inHigh) hi = updated;
    else lo = size === 4 ? updated >>> 0 : updated;
    writeOperand(cpu, ins, 0, lo, hi);
  };
}

/** Index of the lowest set bit of a nonzero pair. */
function lowestSetBit(lo: number, hi: number): number {
  return lo !== 0 ? 31 - Math.clz32(lo & -lo) : 63 - Math.clz32(hi & -hi);
}

/** Index of the highest set bit of a nonzero pair. */
function highestSetBit(lo: number, hi: number): number {
  return hi !== 0 ? 63 - Math.clz32(hi) : 31 - Math.clz32(lo);
}

function bitScan(forward: boolean) {
  return (cpu: Cpu, ins: Instruction): void => {
    const size = operandSize(ins, 0);
    const lo = readOperand(cpu, ins, 1);
    const hi = size === 8 ? cpu.hi : 0;
    const zero = (lo | hi) === 0;
    // With a zero source the destination is left unchanged (the SDM says undefined; Intel and AMD keep it).
    cpu.setFlags(zero ? ZF : 0, ZF | CF | OF | SF | AF | PF);
    if (zero) return;
    writeOperand(cpu, ins, 0, forward ? lowestSetBit(lo, hi) : highestSetBit(lo, hi), 0);
  };
}

function countZeros(trailing: boolean) {
  return (cpu: Cpu, ins: Instruction): void => {
    const size = operandSize(ins, 0);
    const bits = size * 8;
    const lo = readOperand(cpu, ins, 1);
    const hi = size === 8 ? cpu.hi : 0;
    let count: number;
    if ((lo | hi) === 0) count = bits;
    else count = trailing ? lowestSetBit(lo, hi) : bits - 1 - highestSetBit(lo, hi);
    cpu.setFlags((count === bits ? CF : 0) | (count === 0 ? ZF : 0), CF | ZF | OF | SF | AF | PF);
    writeOperand(cpu, ins, 0, count, 0);
  };
}

function popcountWord(value: number): number {
  value -= (value >>> 1) & 0x55555555;
  value = (value & 0x33333333) + ((value >>> 2) & 0x33333333);
  return (Math.imul((value + (value >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24);
}

function popcnt(cpu: Cpu, ins: Instruction): void {
  const size = operandSize(ins, 0);
  const lo = readOperand(cpu, ins, 1);
  const hi = size === 8 ? cpu.hi : 0;
  const count = popcountWord(lo) + popcountWord(hi);
  cpu.setFlags(count === 0 ? ZF : 0, CF | ZF | OF | SF | AF | PF);
  writeOperand(cpu, ins, 0, count, 0);
}

export const BITS: SemanticTable = {
  bt: bitTest(BT), bts: bitTest(BTS), btr: bitTest(BTR), btc: bitTest(BTC),
  bsf: bitScan(true), bsr: bitScan(false), tzcnt: countZeros(true), lzcnt: countZeros(false), popcnt,
};
