// Segment descriptors: loading segment registers from the GDT/LDT, in protected and long mode.
import { CS, EFER_LMA, SEG_DB, SEG_L, SS, TWO_32, type Cpu } from "../../cpu.js";
import { CpuException, VEC_GP, VEC_NP, VEC_SS } from "../../cpu-exception.js";
import { LAZY_NONE } from "../../lazy-flags.js";

export interface Descriptor {
  lo: number;
  hi: number;
}

const scratch: Descriptor = { lo: 0, hi: 0 };

/** Reads the 8-byte descriptor a selector names (GDT or LDT); #GP(selector) past the table limit. */
export function readDescriptor(cpu: Cpu, selector: number, out: Descriptor = scratch): Descriptor {
  const local = (selector & 4) !== 0;
  const tableBase = local ? cpu.ldtrBase : cpu.gdtrBase;
  const tableLimit = local ? cpu.ldtrLimit : cpu.gdtrLimit;
  const offset = selector & ~7;
  if (offset + 7 > tableLimit) throw new CpuException(VEC_GP, selector & 0xfffc, `selector ${hex(selector)} beyond the descriptor table`);
  const address = cpu.mode === 64 ? tableBase + offset : (tableBase + offset) % TWO_32;
  out.lo = cpu.systemRead(address, 4);
  out.hi = cpu.systemRead(cpu.next(address, 4), 4);
  return out;
}

export function descriptorBase(d: Descriptor): number {
  return ((d.lo >>> 16) | ((d.hi & 0xff) << 16) | (d.hi & 0xff000000)) >>> 0;
}

export function descriptorLimit(d: Descriptor): number {
  const raw = (d.lo & 0xffff) | (d.hi & 0xf0000);
  return d.hi & (1 << 23) ? raw * 4096 + 0xfff : raw;
}

/** Descriptor bits 40..55 (type, S, DPL, P, AVL, L, D/B, G) as Cpu.segAttributes stores them. */
export function descriptorAttributes(d: Descriptor): number {
  return (d.hi >>> 8) & 0xf0ff;
}

const hex = (value: number) => "0x" + value.toString(16);

/**
 * MOV/POP to DS, ES, SS, FS or GS. A null selector is allowed except for SS outside 64-bit mode
 * (and at CPL 3); the descriptor must be present data (or readable code), and for SS writable data
 * at CPL == RPL == DPL.
 */
export function loadSegmentRegister(cpu: Cpu, segment: number, selector: number): void {
  if (segment === CS) throw new CpuException(6, null, "MOV to CS");
  if ((selector & 0xfffc) === 0) {
    if (segment === SS && (cpu.mode !== 64 || cpu.cpl === 3)) throw new CpuException(VEC_GP, 0, "null SS");
    cpu.segSelector[segment] = selector;
    cpu.segBase[segment] = 0;
    cpu.segLimit[segment] = 0;
    cpu.segAttributes[segment] = 0;
    if (segment === SS) cpu.interruptShadow = true;
    return;
  }
  const d = readDescriptor(cpu, selector);
  const attributes = descriptorAttributes(d);
  const isCode = (attributes & 0x8) !== 0;
  const isSystem = (attributes & 0x10) === 0;
  const dpl = (attributes >> 5) & 3;
  if (isSystem) throw new CpuException(VEC_GP, selector & 0xfffc, `selector ${hex(selector)} is a system descriptor`);
  if (segment === SS) {
    const writable = !isCode && (attributes & 0x2) !== 0;
    if (!writable || dpl !== cpu.cpl || (selector & 3) !== cpu.cpl) throw new CpuException(VEC_GP, selector & 0xfffc, `selector ${hex(selector)} is not a usable stack segment`);
  } else if (isCode && (attributes & 0x2) === 0) {
    throw new CpuException(VEC_GP, selector & 0xfffc, `selector ${hex(selector)} is an execute-only code segment`);
  }
  if ((attributes & 0x80) === 0) throw new CpuException(segment === SS ? VEC_SS : VEC_NP, selector & 0xfffc, `segment ${hex(selector)} not present`);
  cpu.segSelector[segment] = selector;
  cpu.segBase[segment] = descriptorBase(d);
  cpu.segLimit[segment] = descriptorLimit(d);
  cpu.segAttributes[segment] = attributes;
  if (segment === SS) cpu.interruptShadow = true;
}

/**
 * Loads CS for a far transfer to code at privilege `cpl` (after the caller's privilege checks) and
 * re-derives the CPU mode: a 64-bit code segment (L=1) under EFER.LMA switches to 64-bit mode.
 */
export function loadCodeSegment(cpu: Cpu, selector: number, cpl: number): void {
  if ((selector & 0xfffc) === 0) throw new CpuException(VEC_GP, 0, "null code segment");
  const d = readDescriptor(cpu, selector);
  const attributes = descriptorAttributes(d);
  if ((attributes & 0x18) !== 0x18) throw new CpuException(VEC_GP, selector & 0xfffc, `selector ${hex(selector)} is not a code segment`);
  if ((attributes & 0x80) === 0) throw new CpuException(VEC_NP, selector & 0xfffc, `code segment ${hex(selector)} not present`);
  const longMode = (cpu.efer & EFER_LMA) !== 0;
  if (longMode && (attributes & SEG_L) !== 0 && (attributes & SEG_DB) !== 0) throw new CpuException(VEC_GP, selector & 0xfffc, "code segment with both L and D set");
  // Checked before anything is loaded: a fault leaves CS as it was.
  if ((!longMode || (attributes & SEG_L) === 0) && (attributes & SEG_DB) === 0) {
    throw new CpuException(VEC_GP, selector & 0xfffc, "16-bit code segments are not supported");
  }
  cpu.segSelector[CS] = (selector & 0xfffc) | cpl;
  cpu.segBase[CS] = descriptorBase(d);
  cpu.segLimit[CS] = descriptorLimit(d);
  cpu.segAttributes[CS] = attributes;
  cpu.cpl = cpl;
  cpu.updateMode();
}

/**
 * What a far transfer (far JMP/CALL, RETF, IRET) may change before a later check of it faults:
 * CS, SS, CPL, the mode, RSP and RFLAGS. Saved first and put back on a fault, so the fault is
 * precise: the instruction restarts from the state it started in.
 */
export class FarTransferState {
  private readonly selectors = new Uint16Array(2);
  private readonly bases = new Float64Array(2);
  private readonly limits = new Float64Array(2);
  private readonly attributes = new Uint16Array(2);
  private cpl = 0;
  private rspLo = 0;
  private rspHi = 0;
  private flags = 0;

  save(cpu: Cpu): void {
    for (const [i, s] of [[0, CS], [1, SS]] as const) {
      this.selectors[i] = cpu.segSelector[s];
      this.bases[i] = cpu.segBase[s];
      this.limits[i] = cpu.segLimit[s];
      this.attributes[i] = cpu.segAttributes[s];
    }
    this.cpl = cpu.cpl;
    this.rspLo = cpu.regs[8];
    this.rspHi = cpu.regs[9];
    this.flags = cpu.getFlags();
  }

  restore(cpu: Cpu): void {
    for (const [i, s] of [[0, CS], [1, SS]] as const) {
      cpu.segSelector[s] = this.selectors[i];
      cpu.segBase[s] = this.bases[i];
      cpu.segLimit[s] = this.limits[i];
      cpu.segAttributes[s] = this.attributes[i];
    }
    cpu.cpl = this.cpl;
    cpu.regs[8] = this.rspLo;
    cpu.regs[9] = this.rspHi;
    cpu.flags = this.flags;
    cpu.lazy.op = LAZY_NONE;
    cpu.updateMode();
  }
}

const farTransferState = new FarTransferState();

/** Runs `transfer`; if it faults, the CPU's CS, SS, CPL, mode, RSP and RFLAGS are as before it. */
export function preciseFarTransfer(cpu: Cpu, transfer: () => void): void {
  farTransferState.save(cpu);
  try {
    transfer();
  } catch (fault) {
    farTransferState.restore(cpu);
    throw fault;
  }
}
