// Data movement: MOV and its extending forms, LEA, XCHG, CMOVcc/SETcc, BSWAP/MOVBE, XLAT, the
// atomic read-modify-writes (CMPXCHG, XADD, CMPXCHG8B/16B), the stack (PUSH/POP, PUSHF/POPF,
// ENTER/LEAVE, PUSHA/POPA), flag instructions, and the instructions that do nothing here.
import type { Instruction } from "../../../decoder/decode.js";
import { AC, AF, CF, DF, IF, OF, PF, SF, ZF } from "../../../decoder/flags.js";
import { M_E, M_FIXED_SEG, M_M, M_S } from "../../../decoder/operand-spec.js";
import { ID_FLAG, RFLAGS_FIXED, type Cpu } from "../../cpu.js";
import { generalProtection } from "../../cpu-exception.js";
import { modrmAddress, modrmOffset, operandSize, probeWrite, readOperand, writeOperand } from "../operand-access.js";
import { alu, maskTo, signExtend } from "./arithmetic.js";
import { loadSegmentRegister } from "./segments.js";
import type { SemanticTable } from "./types.js";

function mov(cpu: Cpu, ins: Instruction): void {
  const value = readOperand(cpu, ins, 1);
  const hi = cpu.hi;
  if (ins.row.operands[0].method === M_S) {
    loadSegmentRegister(cpu, ins.reg & 7, value & 0xffff);
    return;
  }
  // MOV r32/r64, Sreg zero-extends the selector; to memory it writes 16 bits (the operand is Mw).
  writeOperand(cpu, ins, 0, value, ins.row.operands[1].method === M_S ? 0 : hi);
}

function movzx(cpu: Cpu, ins: Instruction): void {
  writeOperand(cpu, ins, 0, readOperand(cpu, ins, 1), 0);
}

function movsx(cpu: Cpu, ins: Instruction): void {
  const value = signExtend(readOperand(cpu, ins, 1), operandSize(ins, 1));
  writeOperand(cpu, ins, 0, maskTo(value, Math.min(operandSize(ins, 0), 4)), value >> 31);
}

function lea(cpu: Cpu, ins: Instruction): void {
  const lo = modrmOffset(cpu, ins, cpu.nextRip);
  const size = ins.opSize;
  writeOperand(cpu, ins, 0, size === 8 ? lo : maskTo(lo, size), cpu.hi);
}

function xchg(cpu: Cpu, ins: Instruction): void {
  const a = readOperand(cpu, ins, 0);
  const aHi = cpu.hi;
  const b = readOperand(cpu, ins, 1);
  const bHi = cpu.hi;
  // The memory operand (if any) is operand 0: write it first so a fault leaves the register alone.
  writeOperand(cpu, ins, 0, b, bHi);
  writeOperand(cpu, ins, 1, a, aHi);
}

function cmov(cpu: Cpu, ins: Instruction): void {
  const value = readOperand(cpu, ins, 1);
  const hi = cpu.hi;
  if (cpu.condition(ins.row.opcode & 0xf)) writeOperand(cpu, ins, 0, value, hi);
  else if (ins.opSize === 4) cpu.writeReg(ins.reg, 4, false, cpu.readReg(ins.reg, 4, false), 0); // a 32-bit destination is zero-extended even when not moved
}

function setcc(cpu: Cpu, ins: Instruction): void {
  writeOperand(cpu, ins, 0, cpu.condition(ins.row.opcode & 0xf) ? 1 : 0, 0);
}

function swapBytes32(value: number): number {
  return ((value >>> 24) | ((value >>> 8) & 0xff00) | ((value << 8) & 0xff0000) | (value << 24)) >>> 0;
}

function bswap(cpu: Cpu, ins: Instruction): void {
  const size = ins.opSize;
  const value = cpu.readReg(ins.rm, size, false);
  if (size === 8) cpu.setReg64(ins.rm, swapBytes32(cpu.hi) | 0, swapBytes32(value) | 0);
  else if (size === 4) cpu.writeReg(ins.rm, 4, false, swapBytes32(value), 0);
  else cpu.regWords[ins.rm << 2] = 0; // BSWAP r16 is undefined; this matches current Intel and AMD parts
}

function movbe(cpu: Cpu, ins: Instruction): void {
  const size = ins.opSize;
  const value = readOperand(cpu, ins, 1);
  const hi = cpu.hi;
  if (size === 8) writeOperand(cpu, ins, 0, swapBytes32(hi) | 0, swapBytes32(value) | 0);
  else if (size === 4) writeOperand(cpu, ins, 0, swapBytes32(value), 0);
  else writeOperand(cpu, ins, 0, ((value >>> 8) | (value << 8)) & 0xffff, 0);
}

function xlat(cpu: Cpu, ins: Instruction): void {
  cpu.regBytes[0] = readOperand(cpu, ins, 0);
}

function cmpxchg(cpu: Cpu, ins: Instruction): void {
  const size = operandSize(ins, 0);
  const destination = readOperand(cpu, ins, 0);
  const destinationHi = cpu.hi;
  const accumulator = cpu.readReg(0, size, false);
  const accumulatorHi = cpu.hi;
  alu(cpu, 7 /* CMP */, size, accumulator, accumulatorHi, destination, destinationHi);
  if (cpu.zf()) {
    const source = readOperand(cpu, ins, 1);
    writeOperand(cpu, ins, 0, source, cpu.hi);
  } else {
    // A memory destination is written back unchanged (a locked cycle always writes); a register one is left alone.
    if (ins.mod !== 3) writeOperand(cpu, ins, 0, destination, destinationHi);
    cpu.writeReg(0, size, false, destination, destinationHi);
  }
}

function xadd(cpu: Cpu, ins: Instruction): void {
  const size = operandSize(ins, 0);
  const destination = readOperand(cpu, ins, 0);
  const destinationHi = cpu.hi;
  const source = readOperand(cpu, ins, 1);
  const sum = alu(cpu, 0 /* ADD */, size, destination, destinationHi, source, cpu.hi);
  const sumHi = cpu.hi;
  writeOperand(cpu, ins, 1, destination, destinationHi);
  writeOperand(cpu, ins, 0, sum, sumHi);
}

function cmpxchg8b(cpu: Cpu): void {
  const address = cpu.ea;
  const lo = cpu.read(address, 4);
  const hi = cpu.read(cpu.next(address, 4), 4);
  cpu.getFlags();
  if (lo === cpu.regs[0] >>> 0 && hi === cpu.regs[4] >>> 0) {
    cpu.write(address, 8, cpu.regs[6], cpu.regs[2]);
    cpu.setFlags(ZF, ZF);
  } else {
    cpu.write(address, 8, lo, hi);
    cpu.writeReg(0, 4, false, lo, 0);
    cpu.writeReg(2, 4, false, hi, 0);
    cpu.setFlags(0, ZF);
  }
}

function cmpxchg16b(cpu: Cpu): void {
  const address = cpu.ea;
  if (address % 16 !== 0) throw generalProtection(0);
  probeWrite(cpu, address, 16);
  const lo = cpu.read(address, 8), loHi = cpu.hi;
  const hi = cpu.read(cpu.next(address, 8), 8), hiHi = cpu.hi;
  cpu.getFlags();
  if (lo === cpu.regs[0] && loHi === cpu.regs[1] && hi === cpu.regs[4] && hiHi === cpu.regs[5]) {
    cpu.write(address, 8, cpu.regs[6], cpu.regs[7]);
    cpu.write(cpu.next(address, 8), 8, cpu.regs[2], cpu.regs[3]);
    cpu.setFlags(ZF, ZF);
  } else {
    cpu.write(address, 8, lo, loHi);
    cpu.write(cpu.next(address, 8), 8, hi, hiHi);
    cpu.setReg64(0, lo, loHi);
    cpu.setReg64(2, hi, hiHi);
    cpu.setFlags(0, ZF);
  }
}

// ---- stack -----------------------------------------------------------------------------------------

/** PUSH: immediates arrive sign-extended to the operand size; segment selectors zero-extended. */
function push(cpu: Cpu, ins: Instruction): void {
  const value = readOperand(cpu, ins, 0);
  cpu.push(ins.opSize, value, ins.opSize === 8 ? cpu.hi : 0);
}

function pop(cpu: Cpu, ins: Instruction): void {
  const size = ins.opSize;
  const spec = ins.row.operands[0];
  if (spec.method === M_FIXED_SEG) {
    const selector = cpu.peek(size, 0) & 0xffff;
    loadSegmentRegister(cpu, spec.fixed, selector);
    cpu.adjustStack(size);
    return;
  }
  const value = cpu.peek(size, 0);
  const hi = cpu.hi;
  if ((spec.method === M_E || spec.method === M_M) && ins.mod !== 3) {
    // POP to memory computes its address after incrementing rSP; undo the increment if the write faults.
    const savedLo = cpu.regs[8], savedHi = cpu.regs[9];
    cpu.adjustStack(size);
    try {
      cpu.ea = modrmAddress(cpu, ins, cpu.nextRip);
      writeOperand(cpu, ins, 0, value, hi);
    } catch (fault) {
      cpu.regs[8] = savedLo;
      cpu.regs[9] = savedHi;
      throw fault;
    }
    return;
  }
  cpu.adjustStack(size);
  writeOperand(cpu, ins, 0, value, hi);
}

function pushf(cpu: Cpu, ins: Instruction): void {
  // VM and RF read as zero in the pushed image.
  const image = cpu.getFlags() & ~((1 << 16) | (1 << 17));
  cpu.push(ins.opSize, ins.opSize === 2 ? image & 0xffff : image, 0);
}

function popf(cpu: Cpu, ins: Instruction): void {
  const size = ins.opSize;
  const image = cpu.peek(size, 0);
  const iopl = (cpu.getFlags() >> 12) & 3;
  let writable = CF | PF | AF | ZF | SF | (1 << 8) | DF | OF | (1 << 14) | AC | ID_FLAG;
  if (cpu.cpl === 0) writable |= 3 << 12;
  if (cpu.cpl <= iopl) writable |= IF;
  if (size === 2) writable &= 0xffff;
  cpu.adjustStack(size);
  cpu.setFlags(image, writable);
}

/** ENTER; the final stack pointer is checked for writability before anything is committed. */
function enter(cpu: Cpu, ins: Instruction): void {
  const savedRsp = [cpu.regs[8], cpu.regs[9]], savedRbp = [cpu.regs[10], cpu.regs[11]];
  try {
    enterFrame(cpu, ins);
    const stackSize = cpu.stackSize();
    const top = cpu.linear(2, stackSize === 2 ? cpu.regWords[16] : cpu.regs[8], stackSize === 8 ? cpu.regs[9] : 0);
    cpu.mmu.translate(top, 1);
  } catch (fault) {
    cpu.setReg64(4, savedRsp[0], savedRsp[1]);
    cpu.setReg64(5, savedRbp[0], savedRbp[1]);
    throw fault;
  }
}

function enterFrame(cpu: Cpu, ins: Instruction): void {
  const size = ins.opSize;
  const frameSize = ins.imm & 0xffff;
  const level = ins.imm2 & 31;
  cpu.push(size, cpu.readReg(5, size, false), cpu.hi);
  const frameLo = cpu.regs[8], frameHi = cpu.regs[9];
  if (level > 0) {
    let pointerLo = cpu.regs[10], pointerHi = cpu.regs[11];
    for (let i = 1; i < level; i++) {
      const sum = (pointerLo >>> 0) - size;
      pointerHi = (pointerHi + (sum < 0 ? -1 : 0)) | 0;
      pointerLo = sum | 0;
      const stackSize = cpu.stackSize();
      const address = cpu.linear(2, stackSize === 8 ? pointerLo : stackSize === 4 ? pointerLo : pointerLo & 0xffff, stackSize === 8 ? pointerHi : 0);
      const value = cpu.read(address, size);
      cpu.push(size, value, cpu.hi);
    }
    cpu.push(size, frameLo, frameHi);
  }
  cpu.writeReg(5, cpu.stackSize() === 8 ? 8 : size, false, frameLo, frameHi);
  cpu.adjustStack(-frameSize);
}

function leave(cpu: Cpu, ins: Instruction): void {
  const stackSize = cpu.stackSize();
  const savedLo = cpu.regs[8], savedHi = cpu.regs[9];
  if (stackSize === 8) cpu.setReg64(4, cpu.regs[10], cpu.regs[11]);
  else if (stackSize === 4) cpu.writeReg(4, 4, false, cpu.regs[10], 0);
  else cpu.regWords[16] = cpu.regWords[20];
  try {
    const value = cpu.pop(ins.opSize);
    cpu.writeReg(5, ins.opSize, false, value, cpu.hi);
  } catch (fault) {
    cpu.regs[8] = savedLo;
    cpu.regs[9] = savedHi;
    throw fault;
  }
}

function pusha(cpu: Cpu, ins: Instruction): void {
  const size = ins.opSize;
  const originalSp = cpu.readReg(4, size, false);
  for (let reg = 0; reg < 8; reg++) cpu.push(size, reg === 4 ? originalSp : cpu.readReg(reg, size, false), 0);
}

function popa(cpu: Cpu, ins: Instruction): void {
  const size = ins.opSize;
  for (let reg = 7; reg >= 0; reg--) {
    const value = cpu.pop(size);
    if (reg !== 4) cpu.writeReg(reg, size, false, value, 0);
  }
}

// ---- flags -------------------------------------------------------------------------------------

function lahf(cpu: Cpu): void {
  cpu.regBytes[1] = (cpu.getFlags() & (SF | ZF | AF | PF | CF)) | RFLAGS_FIXED;
}

function sahf(cpu: Cpu): void {
  cpu.setFlags(cpu.regBytes[1], SF | ZF | AF | PF | CF);
}

const setFlag = (bit: number, value: number) => (cpu: Cpu): void => cpu.setFlags(value, bit);

function cmc(cpu: Cpu): void {
  cpu.setFlags(cpu.getFlags() ^ CF, CF);
}

function salc(cpu: Cpu): void {
  cpu.regBytes[0] = cpu.cf() ? 0xff : 0;
}

function nothing(): void {}

/** CLFLUSH accesses its line like a read: it faults where a read would. */
function clflush(cpu: Cpu): void {
  cpu.mmu.translate(cpu.ea, 0);
}

export const DATA: SemanticTable = {
  mov, movzx, movsx, movsxd: movsx, lea, xchg, bswap, movbe, xlatb: xlat,
  cmpxchg, xadd, cmpxchg8b, cmpxchg16b,
  push, pop, pushf, pushfd: pushf, pushfq: pushf, popf, popfd: popf, popfq: popf,
  enter, leave, pusha, pushad: pusha, popa, popad: popa,
  lahf, sahf, cmc, salc,
  clc: setFlag(CF, 0), stc: setFlag(CF, CF), cld: setFlag(DF, 0), std: setFlag(DF, DF),
  nop: nothing, reservednop: nothing, pause: nothing, endbr64: nothing, endbr32: nothing,
  prefetchnta: nothing, prefetcht0: nothing, prefetcht1: nothing, prefetcht2: nothing,
  lfence: nothing, mfence: nothing, sfence: nothing, clflush,
};
for (const suffix of ["o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p", "np", "l", "ge", "le", "g"]) {
  DATA[`cmov${suffix}`] = cmov;
  DATA[`set${suffix}`] = setcc;
}
