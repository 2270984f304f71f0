// System instructions: control/debug registers, descriptor tables, MSRs, CPUID, time stamp counter,
// port I/O, interrupt flag, segment loads, and the protection checks that guard them.
import type { Instruction } from "../../../decoder/decode.js";
import { IF, ZF } from "../../../decoder/flags.js";
import { M_C, M_D } from "../../../decoder/operand-spec.js";
import {
  CR0_PE, CR0_PG, CR0_TS, CR4_PAE, DS, EFER_LMA, EFER_LME, ES, FS, GS, SS, TWO_32, type Cpu,
} from "../../cpu.js";
import { CpuException, VEC_GP, generalProtection } from "../../cpu-exception.js";
import { cpuid } from "../../cpuid.js";
import { splitHi, splitLo } from "../../interrupts.js";
import { modrmAddress, operandSize, readOperand, writeOperand } from "../operand-access.js";
import {
  descriptorAttributes, descriptorBase, descriptorLimit, loadSegmentRegister, readDescriptor,
} from "./segments.js";
import type { SemanticTable } from "./types.js";

function requireRing0(cpu: Cpu): void {
  if (cpu.cpl !== 0) throw new CpuException(VEC_GP, 0, "privileged instruction at CPL > 0");
}

/** Privileged instructions with a memory operand compute its address only after the CPL check. */
function requireRing0ThenAddress(cpu: Cpu, ins: Instruction): void {
  requireRing0(cpu);
  if (ins.mod !== 3) cpu.ea = modrmAddress(cpu, ins, cpu.nextRip);
}

function requireIoPrivilege(cpu: Cpu): void {
  if (cpu.cpl > ((cpu.getFlags() >> 12) & 3)) throw new CpuException(VEC_GP, 0, "I/O or IF change at CPL > IOPL");
}

// ---- control and debug registers ---------------------------------------------------------------

const CR4_SUPPORTED = 0x1 | 0x2 | 0x8 | 0x10 | 0x20 | 0x80 | 0x100 | 0x200 | 0x400; // VME PVI DE PSE PAE PGE PCE OSFXSR OSXMMEXCPT

function readControlRegister(cpu: Cpu, number: number): number {
  switch (number) {
    case 0: return cpu.cr0 >>> 0;
    case 2: return cpu.cr2;
    case 3: return cpu.cr3;
    case 4: return cpu.cr4 >>> 0;
    default: return cpu.cr8;
  }
}

export function writeControlRegister(cpu: Cpu, number: number, lo: number, hi: number): void {
  const value = hi * TWO_32 + (lo >>> 0);
  switch (number) {
    case 0: {
      if (hi !== 0 && cpu.mode === 64) throw generalProtection(0);
      const cr0 = (lo | 0x10) >>> 0; // ET is hard-wired to 1
      if (cr0 & CR0_PG && !(cr0 & CR0_PE)) throw generalProtection(0);
      if (cr0 & CR0_PG && !(cpu.cr0 & CR0_PG) && cpu.efer & EFER_LME && !(cpu.cr4 & CR4_PAE)) throw generalProtection(0);
      if (!(cr0 & CR0_PG) && cpu.mode === 64) throw generalProtection(0);
      cpu.cr0 = cr0;
      break;
    }
    case 2: cpu.cr2 = value; return;
    case 3:
      // Every CR3 write flushes the (non-global) TLB, even with an unchanged value.
      cpu.mmu.writeCr3(value);
      cpu.cr3 = value;
      return;
    case 4: {
      if (hi !== 0 || (lo & ~CR4_SUPPORTED) !== 0) throw generalProtection(0);
      if (!(lo & CR4_PAE) && cpu.efer & EFER_LMA) throw generalProtection(0);
      cpu.cr4 = lo;
      break;
    }
    default:
      if (hi !== 0 || lo >>> 4 !== 0) throw generalProtection(0);
      cpu.cr8 = lo;
      return;
  }
  cpu.updateMode();
}

function movControl(cpu: Cpu, ins: Instruction): void {
  requireRing0(cpu);
  const size = cpu.mode === 64 ? 8 : 4;
  if (ins.row.operands[0].method === M_C) {
    const lo = cpu.readReg(ins.rm, size, false);
    writeControlRegister(cpu, ins.reg, lo, size === 8 ? cpu.hi : 0);
  } else {
    const value = readControlRegister(cpu, ins.reg);
    cpu.writeReg(ins.rm, size, false, splitLo(value), size === 8 ? splitHi(value) : 0);
  }
}

function movDebug(cpu: Cpu, ins: Instruction): void {
  requireRing0(cpu);
  const size = cpu.mode === 64 ? 8 : 4;
  const number = ins.reg;
  if (ins.row.operands[0].method === M_D) {
    const lo = cpu.readReg(ins.rm, size, false);
    cpu.dr[number] = (size === 8 ? cpu.hi : 0) * TWO_32 + (lo >>> 0);
  } else {
    const value = number === 4 || number === 6 ? cpu.dr[6] || 0xffff0ff0 : number === 5 || number === 7 ? cpu.dr[7] || 0x400 : cpu.dr[number];
    cpu.writeReg(ins.rm, size, false, splitLo(value), size === 8 ? splitHi(value) : 0);
  }
}

function clts(cpu: Cpu): void {
  requireRing0(cpu);
  cpu.cr0 &= ~CR0_TS;
}

function lmsw(cpu: Cpu, ins: Instruction): void {
  requireRing0ThenAddress(cpu, ins);
  const value = readOperand(cpu, ins, 0) & 0xf;
  // LMSW can set PE but not clear it.
  cpu.cr0 = (cpu.cr0 & ~0xe) | value | (cpu.cr0 & CR0_PE);
  cpu.updateMode();
}

function smsw(cpu: Cpu, ins: Instruction): void {
  writeOperand(cpu, ins, 0, ins.mod === 3 ? cpu.cr0 >>> 0 : cpu.cr0 & 0xffff, 0);
}

// ---- descriptor tables ---------------------------------------------------------------------------

function loadTableRegister(isGdt: boolean) {
  return (cpu: Cpu, ins: Instruction): void => {
    requireRing0ThenAddress(cpu, ins);
    const limit = cpu.read(cpu.ea, 2);
    let base: number;
    if (cpu.mode === 64) {
      const lo = cpu.read(cpu.next(cpu.ea, 2), 4);
      const hi = cpu.read(cpu.next(cpu.ea, 6), 4) | 0;
      if ((hi << 16) >> 16 !== hi) throw generalProtection(0);
      base = hi * TWO_32 + lo;
    } else {
      base = cpu.read(cpu.next(cpu.ea, 2), 4);
      if (ins.opSize === 2) base &= 0xffffff;
    }
    if (isGdt) { cpu.gdtrBase = base; cpu.gdtrLimit = limit; }
    else { cpu.idtrBase = base; cpu.idtrLimit = limit; }
  };
}

function storeTableRegister(isGdt: boolean) {
  return (cpu: Cpu): void => {
    const base = isGdt ? cpu.gdtrBase : cpu.idtrBase;
    cpu.write(cpu.ea, 2, isGdt ? cpu.gdtrLimit : cpu.idtrLimit, 0);
    if (cpu.mode === 64) cpu.write(cpu.next(cpu.ea, 2), 8, splitLo(base), splitHi(base));
    else cpu.write(cpu.next(cpu.ea, 2), 4, base >>> 0, 0);
  };
}

function ltr(cpu: Cpu, ins: Instruction): void {
  requireRing0ThenAddress(cpu, ins);
  const selector = readOperand(cpu, ins, 0) & 0xffff;
  if ((selector & 0xfffc) === 0 || selector & 4) throw generalProtection(selector & 0xfffc);
  const d = readDescriptor(cpu, selector, { lo: 0, hi: 0 });
  const type = (d.hi >>> 8) & 0x1f;
  if (type !== 0x09 && type !== 0x01) throw generalProtection(selector & 0xfffc); // an available TSS
  if (!(d.hi & 0x8000)) throw new CpuException(11, selector & 0xfffc, "TSS not present");
  let base = descriptorBase(d);
  if (cpu.efer & EFER_LMA) {
    const upper = cpu.systemRead(cpu.gdtrBase + (selector & ~7) + 8, 4) | 0;
    base = upper * TWO_32 + base;
  }
  cpu.trSelector = selector;
  cpu.trBase = base;
  cpu.trLimit = descriptorLimit(d);
  cpu.trAttributes = descriptorAttributes(d) | 0x2;
  // Mark the descriptor busy.
  const address = cpu.gdtrBase + (selector & ~7) + 4;
  cpu.systemWrite(address, 4, d.hi | 0x200);
}

function lldt(cpu: Cpu, ins: Instruction): void {
  requireRing0ThenAddress(cpu, ins);
  const selector = readOperand(cpu, ins, 0) & 0xffff;
  if ((selector & 0xfffc) === 0) {
    cpu.ldtrSelector = selector;
    cpu.ldtrBase = 0;
    cpu.ldtrLimit = 0;
    return;
  }
  const d = readDescriptor(cpu, selector, { lo: 0, hi: 0 });
  if (((d.hi >>> 8) & 0x1f) !== 0x02) throw generalProtection(selector & 0xfffc);
  let base = descriptorBase(d);
  if (cpu.efer & EFER_LMA) base = (cpu.systemRead(cpu.gdtrBase + (selector & ~7) + 8, 4) | 0) * TWO_32 + base;
  cpu.ldtrSelector = selector;
  cpu.ldtrBase = base;
  cpu.ldtrLimit = descriptorLimit(d);
}

function sldt(cpu: Cpu, ins: Instruction): void {
  writeOperand(cpu, ins, 0, cpu.ldtrSelector, 0);
}

function str(cpu: Cpu, ins: Instruction): void {
  writeOperand(cpu, ins, 0, cpu.trSelector, 0);
}

/** LAR/LSL/VERR/VERW: probe a selector; ZF says whether it is usable. */
function probeSelector(kind: "lar" | "lsl" | "verr" | "verw") {
  return (cpu: Cpu, ins: Instruction): void => {
    const selector = readOperand(cpu, ins, kind === "lar" || kind === "lsl" ? 1 : 0) & 0xffff;
    let ok = (selector & 0xfffc) !== 0;
    let d = { lo: 0, hi: 0 };
    if (ok) {
      try {
        d = readDescriptor(cpu, selector, d);
      } catch {
        ok = false;
      }
    }
    const attributes = descriptorAttributes(d);
    const dpl = (attributes >> 5) & 3;
    const isCode = (attributes & 0x18) === 0x18;
    const conforming = isCode && (attributes & 0x4) !== 0;
    if (ok && !conforming && (dpl < cpu.cpl || dpl < (selector & 3))) ok = false;
    if (ok && kind === "verr") ok = (attributes & 0x10) !== 0 && (!isCode || (attributes & 0x2) !== 0);
    if (ok && kind === "verw") ok = (attributes & 0x18) === 0x10 && (attributes & 0x2) !== 0;
    cpu.setFlags(ok ? ZF : 0, ZF);
    if (!ok) return;
    if (kind === "lar") writeOperand(cpu, ins, 0, d.hi & 0x00f0ff00, 0);
    else if (kind === "lsl") writeOperand(cpu, ins, 0, descriptorLimit(d) >>> 0, 0);
  };
}

function arpl(cpu: Cpu, ins: Instruction): void {
  const destination = readOperand(cpu, ins, 0) & 0xffff;
  const source = readOperand(cpu, ins, 1) & 0xffff;
  if ((destination & 3) < (source & 3)) {
    writeOperand(cpu, ins, 0, (destination & ~3) | (source & 3), 0);
    cpu.setFlags(ZF, ZF);
  } else {
    cpu.setFlags(0, ZF);
  }
}

/** LDS/LES/LFS/LGS/LSS: a far pointer from memory into a segment register and a general register. */
function loadFarPointer(segment: number) {
  return (cpu: Cpu, ins: Instruction): void => {
    const size = ins.opSize;
    const offset = cpu.read(cpu.ea, size);
    const offsetHi = cpu.hi;
    const selector = cpu.read(cpu.next(cpu.ea, size), 2);
    loadSegmentRegister(cpu, segment, selector);
    cpu.writeReg(ins.reg, size, false, offset, offsetHi);
  };
}

// ---- MSRs, CPUID, TSC ----------------------------------------------------------------------------

export const MSR_TSC = 0x10;
export const MSR_APIC_BASE = 0x1b;
export const MSR_PAT = 0x277;
export const MSR_EFER = 0xc0000080;
export const MSR_STAR = 0xc0000081;
export const MSR_LSTAR = 0xc0000082;
export const MSR_CSTAR = 0xc0000083;
export const MSR_SFMASK = 0xc0000084;
export const MSR_FS_BASE = 0xc0000100;
export const MSR_GS_BASE = 0xc0000101;
export const MSR_KERNEL_GS_BASE = 0xc0000102;
export const MSR_TSC_AUX = 0xc0000103;

function canonicalNumber(lo: number, hi: number): number {
  if ((hi << 16) >> 16 !== hi) throw generalProtection(0);
  return hi * TWO_32 + (lo >>> 0);
}

function rdmsr(cpu: Cpu): void {
  requireRing0(cpu);
  const msr = cpu.regs[2] >>> 0;
  let lo: number, hi: number;
  const fromNumber = (value: number) => { lo = splitLo(value); hi = splitHi(value); };
  switch (msr) {
    case MSR_TSC: fromNumber(cpu.readTsc()); break;
    case MSR_APIC_BASE: fromNumber(cpu.apicBase); break;
    case MSR_PAT: lo = cpu.patLo; hi = cpu.patHi; break;
    case MSR_EFER: lo = cpu.efer; hi = 0; break;
    case MSR_STAR: lo = cpu.starLo; hi = cpu.starHi; break;
    case MSR_LSTAR: fromNumber(cpu.lstar); break;
    case MSR_CSTAR: fromNumber(cpu.cstar); break;
    case MSR_SFMASK: lo = cpu.sfmask; hi = 0; break;
    case MSR_FS_BASE: fromNumber(cpu.segBase[FS]); break;
    case MSR_GS_BASE: fromNumber(cpu.segBase[GS]); break;
    case MSR_KERNEL_GS_BASE: fromNumber(cpu.kernelGsBase); break;
    case MSR_TSC_AUX: lo = cpu.tscAux; hi = 0; break;
    default: throw new CpuException(VEC_GP, 0, `RDMSR of unknown MSR 0x${msr.toString(16)}`);
  }
  cpu.writeReg(0, 4, false, lo! >>> 0, 0);
  cpu.writeReg(2, 4, false, hi! >>> 0, 0);
}

function wrmsr(cpu: Cpu): void {
  requireRing0(cpu);
  const msr = cpu.regs[2] >>> 0;
  const lo = cpu.regs[0], hi = cpu.regs[4];
  switch (msr) {
    case MSR_TSC: cpu.setTsc(hi * TWO_32 + (lo >>> 0)); break;
    case MSR_APIC_BASE: cpu.apicBase = hi * TWO_32 + (lo >>> 0); break;
    case MSR_PAT: cpu.patLo = lo; cpu.patHi = hi; break;
    case MSR_EFER: {
      if (hi !== 0 || (lo & ~(0x1 | 0x100 | 0x400 | 0x800)) !== 0) throw generalProtection(0);
      // LME cannot change while paging is on; LMA is read-only.
      if ((lo ^ cpu.efer) & EFER_LME && cpu.cr0 & CR0_PG) throw generalProtection(0);
      cpu.efer = (lo & ~EFER_LMA) | (cpu.efer & EFER_LMA);
      cpu.updateMode();
      break;
    }
    case MSR_STAR: cpu.starLo = lo; cpu.starHi = hi; break;
    case MSR_LSTAR: cpu.lstar = canonicalNumber(lo, hi); break;
    case MSR_CSTAR: cpu.cstar = canonicalNumber(lo, hi); break;
    case MSR_SFMASK: cpu.sfmask = lo; break;
    case MSR_FS_BASE: cpu.segBase[FS] = canonicalNumber(lo, hi); break;
    case MSR_GS_BASE: cpu.segBase[GS] = canonicalNumber(lo, hi); break;
    case MSR_KERNEL_GS_BASE: cpu.kernelGsBase = canonicalNumber(lo, hi); break;
    case MSR_TSC_AUX: cpu.tscAux = lo >>> 0; break;
    default: throw new CpuException(VEC_GP, 0, `WRMSR of unknown MSR 0x${msr.toString(16)}`);
  }
}

function cpuidInstruction(cpu: Cpu): void {
  const result = cpuid(cpu.regs[0] >>> 0, cpu.regs[2] >>> 0);
  cpu.writeReg(0, 4, false, result[0], 0);
  cpu.writeReg(3, 4, false, result[1], 0);
  cpu.writeReg(1, 4, false, result[2], 0);
  cpu.writeReg(2, 4, false, result[3], 0);
}

function rdtsc(cpu: Cpu): void {
  const tsc = cpu.readTsc();
  cpu.writeReg(0, 4, false, splitLo(tsc), 0);
  cpu.writeReg(2, 4, false, splitHi(tsc), 0);
}

function rdtscp(cpu: Cpu): void {
  rdtsc(cpu);
  cpu.writeReg(1, 4, false, cpu.tscAux, 0);
}

// ---- I/O and interrupts ------------------------------------------------------------------------

function portOf(cpu: Cpu, ins: Instruction): number {
  // The port is the immediate (E4-E7) or DX (EC-EF).
  return ins.row.opcode <= 0xe7 ? ins.imm & 0xff : cpu.regWords[8];
}

function inInstruction(cpu: Cpu, ins: Instruction): void {
  requireIoPrivilege(cpu);
  const size = operandSize(ins, 0) as 1 | 2 | 4;
  cpu.writeReg(0, size, false, cpu.ports.in(portOf(cpu, ins), size), 0);
}

function outInstruction(cpu: Cpu, ins: Instruction): void {
  requireIoPrivilege(cpu);
  const size = operandSize(ins, 1) as 1 | 2 | 4;
  cpu.ports.out(portOf(cpu, ins), size, cpu.readReg(0, size, false));
}

function cli(cpu: Cpu): void {
  requireIoPrivilege(cpu);
  cpu.setFlags(0, IF);
}

function sti(cpu: Cpu): void {
  requireIoPrivilege(cpu);
  // Interrupts stay blocked until after the next instruction (the STI shadow).
  if (!(cpu.getFlags() & IF)) cpu.interruptShadow = true;
  cpu.setFlags(IF, IF);
}

function swapgs(cpu: Cpu): void {
  requireRing0(cpu);
  const base = cpu.segBase[GS];
  cpu.segBase[GS] = cpu.kernelGsBase;
  cpu.kernelGsBase = base;
}

function invlpg(cpu: Cpu, ins: Instruction): void {
  requireRing0ThenAddress(cpu, ins);
  cpu.mmu.invalidatePage(cpu.ea);
}

function cacheControl(cpu: Cpu): void {
  requireRing0(cpu);
}

export const SYSTEM: SemanticTable = {
  lgdt: loadTableRegister(true), lidt: loadTableRegister(false),
  sgdt: storeTableRegister(true), sidt: storeTableRegister(false),
  ltr, lldt, sldt, str,
  lar: probeSelector("lar"), lsl: probeSelector("lsl"), verr: probeSelector("verr"), verw: probeSelector("verw"),
  arpl, lmsw, smsw, clts,
  lds: loadFarPointer(DS), les: loadFarPointer(ES), lfs: loadFarPointer(FS), lgs: loadFarPointer(GS), lss: loadFarPointer(SS),
  rdmsr, wrmsr, cpuid: cpuidInstruction, rdtsc, rdtscp,
  in: inInstruction, out: outInstruction, cli, sti, swapgs, invlpg,
  invd: cacheControl, wbinvd: cacheControl,
};

export { movControl, movDebug };
