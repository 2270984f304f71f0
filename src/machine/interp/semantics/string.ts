// String instructions: MOVS, CMPS, STOS, LODS, SCAS, INS, OUTS, with REP/REPE/REPNE. Each
// iteration updates rSI/rDI/rCX before the next one starts, so a fault in the middle leaves a
// restartable state (RIP still at the instruction), as on hardware.
//
// A REP instruction with a huge count must not be one uninterruptible step: one execution stops
// (REP_UNFINISHED) before any iteration but its first that starts with the count's low 16 bits
// zero, so an execution runs at most 65536 iterations and the machine services interrupts,
// devices and the host in between. The rule depends only on the registers, so every engine (and
// the JIT's fast path, src/jit/string-fast.ts) stops at the same points. The instruction retires
// (counts as one instruction) only when its last execution completes.
import { P_REP, P_REPNE, type Instruction } from "../../../decoder/decode.js";
import { DF } from "../../../decoder/flags.js";
import { M_X, M_Y } from "../../../decoder/operand-spec.js";
import { OPCODE_TABLE, type OpcodeRow } from "../../../decoder/opcode-rows.js";
import type { Cpu } from "../../cpu.js";
import { CpuException, REP_UNFINISHED, VEC_GP } from "../../cpu-exception.js";
import { stringAddress } from "../operand-access.js";
import { alu } from "./arithmetic.js";
import type { SemanticTable } from "./types.js";

const MOVS = 0, CMPS = 1, STOS = 2, LODS = 3, SCAS = 4, INS = 5, OUTS = 6;

/** Adds `delta` to register `reg` at the address size (the pointer or counter width). */
function step(cpu: Cpu, reg: number, addrSize: number, delta: number): void {
  if (addrSize === 2) cpu.regWords[reg << 2] += delta;
  else if (addrSize === 4) cpu.writeReg(reg, 4, false, (cpu.regs[reg << 1] + delta) >>> 0, 0);
  else {
    const lo = cpu.regs[reg << 1] >>> 0;
    const sum = lo + delta;
    cpu.setReg64(reg, sum | 0, (cpu.regs[(reg << 1) + 1] + (sum >= 4294967296 ? 1 : sum < 0 ? -1 : 0)) | 0);
  }
}

/** A REP execution stops before an iteration (not its first) that starts with these count bits zero. */
export const REP_CHUNK_MASK = 0xffff;

/** The string instruction a row is: MOVS (1), STOS (2) or neither (0; SSE's movsd is not MOVS). */
function moveOrStoreKind(row: OpcodeRow): number {
  const mnemonic = row.mnemonics[0];
  const operands = row.operands;
  if (mnemonic.startsWith("movs") && operands[0]?.method === M_Y && operands[1]?.method === M_X) return 1;
  if (mnemonic.startsWith("stos") && operands[0]?.method === M_Y) return 2;
  return 0;
}

/** MOVS_STOS_ROW[row.id]: the rows a REP fast path may take (src/jit/string-fast.ts), one load to check. */
export const MOVS_STOS_ROW: Uint8Array = Uint8Array.from(OPCODE_TABLE, moveOrStoreKind);

/** The count register (CX/ECX/RCX by address size) is a nonzero multiple of REP_CHUNK_MASK + 1. */
export function atRepChunkBoundary(cpu: Cpu, addrSize: number): boolean {
  if (addrSize === 2) return false; // CX never exceeds one chunk
  return (cpu.regs[2] & REP_CHUNK_MASK) === 0 && !counterIsZero(cpu, addrSize);
}

function counterIsZero(cpu: Cpu, addrSize: number): boolean {
  if (addrSize === 2) return cpu.regWords[4] === 0;
  if (addrSize === 4) return cpu.regs[2] === 0;
  return (cpu.regs[2] | cpu.regs[3]) === 0;
}

/** The element size: the operand size of the row's string operand (byte forms are 1). */
function elementSize(ins: Instruction): number {
  for (const spec of ins.row.operands) {
    if (spec.method === M_X || spec.method === M_Y) return spec.size === 1 ? 1 : ins.opSize;
  }
  return ins.opSize;
}

function checkIoPermission(cpu: Cpu): void {
  if (cpu.cpl > ((cpu.getFlags() >> 12) & 3)) throw new CpuException(VEC_GP, 0, "I/O instruction at CPL > IOPL (no I/O permission bitmap)");
}

/** One iteration of string operation `kind`. */
function once(cpu: Cpu, ins: Instruction, kind: number, size: number, delta: number): void {
  const addrSize = ins.addrSize;
  switch (kind) {
    case MOVS: {
      const value = cpu.read(stringAddress(cpu, ins, false), size);
      cpu.write(stringAddress(cpu, ins, true), size, value, cpu.hi);
      step(cpu, 6, addrSize, delta);
      step(cpu, 7, addrSize, delta);
      return;
    }
    case CMPS: {
      const a = cpu.read(stringAddress(cpu, ins, false), size);
      const aHi = cpu.hi;
      const b = cpu.read(stringAddress(cpu, ins, true), size);
      alu(cpu, 7, size, size === 4 ? a >>> 0 : a, aHi, size === 4 ? b >>> 0 : b, cpu.hi);
      step(cpu, 6, addrSize, delta);
      step(cpu, 7, addrSize, delta);
      return;
    }
    case STOS: {
      const value = cpu.readReg(0, size, false);
      cpu.write(stringAddress(cpu, ins, true), size, value, cpu.hi);
      step(cpu, 7, addrSize, delta);
      return;
    }
    case LODS: {
      const value = cpu.read(stringAddress(cpu, ins, false), size);
      cpu.writeReg(0, size, false, value, cpu.hi);
      step(cpu, 6, addrSize, delta);
      return;
    }
    case SCAS: {
      const a = cpu.readReg(0, size, false);
      const aHi = cpu.hi;
      const b = cpu.read(stringAddress(cpu, ins, true), size);
      alu(cpu, 7, size, a, aHi, size === 4 ? b >>> 0 : b, cpu.hi);
      step(cpu, 7, addrSize, delta);
      return;
    }
    case INS: {
      const address = stringAddress(cpu, ins, true);
      cpu.mmu.translate(address, 1); // the destination must be writable before the port is read
      cpu.write(address, size, cpu.ports.in(cpu.regWords[8], size as 1 | 2 | 4), 0);
      step(cpu, 7, addrSize, delta);
      return;
    }
    default: { // OUTS
      const value = cpu.read(stringAddress(cpu, ins, false), size);
      cpu.ports.out(cpu.regWords[8], size as 1 | 2 | 4, value);
      step(cpu, 6, addrSize, delta);
    }
  }
}

function stringOperation(kind: number) {
  return (cpu: Cpu, ins: Instruction): void => {
    if (kind === INS || kind === OUTS) checkIoPermission(cpu);
    const size = elementSize(ins);
    const delta = cpu.getFlags() & DF ? -size : size;
    const repeated = (ins.prefixes & (P_REP | P_REPNE)) !== 0;
    if (!repeated) {
      once(cpu, ins, kind, size, delta);
      return;
    }
    const addrSize = ins.addrSize;
    const conditional = kind === CMPS || kind === SCAS;
    const stopWhenZero = ins.lastRepPrefix === 0xf2; // REPNE stops on ZF=1, REPE on ZF=0
    let first = true;
    while (!counterIsZero(cpu, addrSize)) {
      if (!first && atRepChunkBoundary(cpu, addrSize)) throw REP_UNFINISHED;
      first = false;
      once(cpu, ins, kind, size, delta);
      step(cpu, 1, addrSize, -1);
      if (conditional && cpu.zf() === stopWhenZero) break;
    }
  };
}

export const STRINGS: SemanticTable = {
  movsb: stringOperation(MOVS), movsw: stringOperation(MOVS), movsd: stringOperation(MOVS), movsq: stringOperation(MOVS),
  cmpsb: stringOperation(CMPS), cmpsw: stringOperation(CMPS), cmpsd: stringOperation(CMPS), cmpsq: stringOperation(CMPS),
  stosb: stringOperation(STOS), stosw: stringOperation(STOS), stosd: stringOperation(STOS), stosq: stringOperation(STOS),
  lodsb: stringOperation(LODS), lodsw: stringOperation(LODS), lodsd: stringOperation(LODS), lodsq: stringOperation(LODS),
  scasb: stringOperation(SCAS), scasw: stringOperation(SCAS), scasd: stringOperation(SCAS), scasq: stringOperation(SCAS),
  insb: stringOperation(INS), insw: stringOperation(INS), insd: stringOperation(INS),
  outsb: stringOperation(OUTS), outsw: stringOperation(OUTS), outsd: stringOperation(OUTS),
};
