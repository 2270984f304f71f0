// Reading and writing the operands of a decoded instruction, by the operand kinds of its table row.
// The interpreter computes the memory operand's linear address once per instruction (cpu.ea), so a
// read-modify-write touches the same location twice without recomputing it.
import { BASE_RIP, P_REX, type Instruction } from "../../decoder/decode.js";
import {
  M_E, M_FIXED_REG, M_FIXED_SEG, M_G, M_I, M_M, M_N, M_O, M_ONE, M_Q, M_R, M_S, M_U, M_W, M_X,
  M_XLAT, M_Y, M_Z, S_B, S_BS, S_V, S_W, S_Z, resolveSize, type OperandSpec,
} from "../../decoder/operand-spec.js";
import { DS, ES, SS, TWO_32, type Cpu } from "../cpu.js";
import { TLB_MASK } from "../paging.js";

/** The size in bytes of operand `index` of `ins`. */
export function operandSize(ins: Instruction, index: number): number {
  const spec = ins.row.operands[index];
  return resolveSize(spec.size, ins.opSize, ins.mode === 64, ins.mod !== 3);
}

/**
 * The segment a ModRM memory operand uses: the override, else SS for rSP/rBP bases, else DS. Long
 * mode ignores ES/CS/SS/DS overrides (it matters for which fault a bad address raises: #SS or #GP).
 */
export function memorySegment(ins: Instruction): number {
  return segmentOverride(ins, ins.base === 4 || ins.base === 5 ? SS : DS);
}

/** The instruction's segment override if it has one that counts in this mode, else `fallback`. */
export function segmentOverride(ins: Instruction, fallback: number): number {
  return ins.segment >= 0 && (ins.mode !== 64 || ins.segment >= 4) ? ins.segment : fallback;
}

/**
 * The offset (effective address before segmentation) of the ModRM memory operand: returns the low
 * half, cpu.hi gets the high half. `nextRip` is the address of the following instruction
 * (RIP-relative operands are relative to it). Wraps at the address size.
 */
export function modrmOffset(cpu: Cpu, ins: Instruction, nextRip: number): number {
  const addrSize = ins.addrSize;
  let lo = ins.disp;
  let hi = lo >> 31;
  if (addrSize === 2) {
    if (ins.base >= 0) lo += cpu.regWords[ins.base << 2];
    if (ins.index >= 0) lo += cpu.regWords[ins.index << 2];
    cpu.hi = 0;
    return lo & 0xffff;
  }
  if (ins.base === BASE_RIP) {
    const ripHi = Math.floor(nextRip / TWO_32);
    const sum = (nextRip - ripHi * TWO_32) + (lo >>> 0);
    lo = sum | 0;
    hi = (ripHi + hi + (sum >= TWO_32 ? 1 : 0)) | 0;
  } else if (ins.base >= 0) {
    const sum = (lo >>> 0) + (cpu.regs[ins.base << 1] >>> 0);
    lo = sum | 0;
    hi = (hi + cpu.regs[(ins.base << 1) + 1] + (sum >= TWO_32 ? 1 : 0)) | 0;
  }
  if (ins.index >= 0) {
    const scale = ins.scale;
    const indexLo = cpu.regs[ins.index << 1];
    const indexHi = cpu.regs[(ins.index << 1) + 1];
    const scaledLo = indexLo << scale;
    const scaledHi = scale === 0 ? indexHi : (indexHi << scale) | (indexLo >>> (32 - scale));
    const sum = (lo >>> 0) + (scaledLo >>> 0);
    lo = sum | 0;
    hi = (hi + scaledHi + (sum >= TWO_32 ? 1 : 0)) | 0;
  }
  // 32-bit addressing (also addr32 in long mode) wraps at 4 GiB and zero-extends.
  cpu.hi = addrSize === 4 ? 0 : hi;
  return addrSize === 4 ? lo >>> 0 : lo;
}

/** The linear address of the ModRM memory operand. */
export function modrmAddress(cpu: Cpu, ins: Instruction, nextRip: number): number {
  const lo = modrmOffset(cpu, ins, nextRip);
  return cpu.linear(memorySegment(ins), lo, cpu.hi);
}

/** The linear address of a moffs operand (A0-A3). */
export function moffsAddress(cpu: Cpu, ins: Instruction): number {
  const segment = segmentOverride(ins, DS);
  if (ins.addrSize === 8) return cpu.linear(segment, ins.imm, ins.immHi);
  return cpu.linear(segment, ins.addrSize === 2 ? ins.imm & 0xffff : ins.imm, 0);
}

/** The linear address of a string operand: DS:rSI (or its override) for X, ES:rDI for Y. */
export function stringAddress(cpu: Cpu, ins: Instruction, isDestination: boolean): number {
  const reg = isDestination ? 7 : 6;
  const segment = isDestination ? ES : segmentOverride(ins, DS);
  switch (ins.addrSize) {
    case 2: return cpu.linear(segment, cpu.regWords[reg << 2], 0);
    case 4: return cpu.linear(segment, cpu.regs[reg << 1], 0);
    default: return cpu.linear(segment, cpu.regs[reg << 1], cpu.regs[(reg << 1) + 1]);
  }
}

/** Reads operand `index` (the low half; `cpu.hi` gets the high half of 64-bit values). */
export function readOperand(cpu: Cpu, ins: Instruction, index: number): number {
  const spec = ins.row.operands[index];
  const size = resolveSize(spec.size, ins.opSize, ins.mode === 64, ins.mod !== 3 && isRm(spec));
  const hasRex = (ins.prefixes & P_REX) !== 0;
  switch (spec.method) {
    case M_E: case M_R: case M_M:
      if (ins.mod === 3) return cpu.readReg(ins.rm, size, hasRex);
      return cpu.read(cpu.ea, size);
    case M_G: return cpu.readReg(ins.reg, size, hasRex);
    case M_Z: return cpu.readReg(ins.rm, size, hasRex);
    case M_FIXED_REG: return cpu.readReg(spec.fixed, size, false);
    case M_I: return immediate(cpu, ins, spec, size, index);
    case M_ONE: cpu.hi = 0; return 1;
    case M_O: return cpu.read(cpu.ea, size);
    case M_S: cpu.hi = 0; return cpu.segSelector[ins.reg & 7];
    case M_FIXED_SEG: cpu.hi = 0; return cpu.segSelector[spec.fixed];
    case M_X: return cpu.read(stringAddress(cpu, ins, false), size);
    case M_Y: return cpu.read(stringAddress(cpu, ins, true), size);
    case M_XLAT: return cpu.read(cpu.ea, 1);
  }
  throw new Error(`readOperand: operand kind ${spec.notation} of '${ins.row.source}' is not a general operand`);
}

/** Writes operand `index`. */
export function writeOperand(cpu: Cpu, ins: Instruction, index: number, lo: number, hi: number): void {
  const spec = ins.row.operands[index];
  const size = resolveSize(spec.size, ins.opSize, ins.mode === 64, ins.mod !== 3 && isRm(spec));
  const hasRex = (ins.prefixes & P_REX) !== 0;
  switch (spec.method) {
    case M_E: case M_R: case M_M:
      if (ins.mod === 3) cpu.writeReg(ins.rm, size, hasRex, lo, hi);
      else cpu.write(cpu.ea, size, lo, hi);
      return;
    case M_G: cpu.writeReg(ins.reg, size, hasRex, lo, hi); return;
    case M_Z: cpu.writeReg(ins.rm, size, hasRex, lo, hi); return;
    case M_FIXED_REG: cpu.writeReg(spec.fixed, size, false, lo, hi); return;
    case M_O: cpu.write(cpu.ea, size, lo, hi); return;
    case M_Y: cpu.write(stringAddress(cpu, ins, true), size, lo, hi); return;
  }
  throw new Error(`writeOperand: operand kind ${spec.notation} of '${ins.row.source}' is not writable`);
}

function isRm(spec: OperandSpec): boolean {
  const method = spec.method;
  return method === M_E || method === M_M || method === M_R || method === M_W || method === M_U || method === M_Q || method === M_N;
}

/** The value of an immediate operand at `size` (sign-extended where the notation says so). */
function immediate(cpu: Cpu, ins: Instruction, spec: OperandSpec, size: number, index: number): number {
  // ENTER's second immediate lives in imm2.
  if (index > 0 && ins.row.operands[index - 1].method === M_I) {
    cpu.hi = 0;
    return ins.imm2 & 0xff;
  }
  switch (spec.size) {
    case S_B: cpu.hi = 0; return ins.imm & 0xff;
    case S_W: cpu.hi = 0; return ins.imm & 0xffff;
    case S_BS: case S_Z:
      cpu.hi = ins.imm >> 31;
      return size === 1 ? ins.imm & 0xff : size === 2 ? ins.imm & 0xffff : size === 4 ? ins.imm >>> 0 : ins.imm;
    case S_V:
      if (size === 8) {
        cpu.hi = ins.immHi;
        return ins.imm;
      }
      cpu.hi = 0;
      return size === 2 ? ins.imm & 0xffff : ins.imm >>> 0;
  }
  cpu.hi = 0;
  return ins.imm >>> 0;
}

/** Checks that [address, address + size) is writable (both pages when it crosses one), as a read-modify-write does before reading. */
export function probeWrite(cpu: Cpu, address: number, size: number): void {
  const offset = address & 0xfff;
  // A page the TLB holds as writable (what the store's own fast path checks) cannot fault.
  if (offset + size <= 4096 && cpu.mmu.writeTag[(address >>> 12) & TLB_MASK] === address - offset) return;
  cpu.mmu.translate(address, 1);
  // The second page is reported (CR2) by its first byte, as hardware does.
  if (offset + size > 4096) cpu.mmu.translate(cpu.next(address, 4096 - offset), 1);
}
