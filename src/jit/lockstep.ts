// --accel check: every compiled unit runs twice from the same state, once as compiled code and once
// in the interpreter for the same number of instructions; the architectural state and every byte of
// memory either run wrote must agree. At the first divergence the run stops with a report: the
// unit's guest disassembly, its generated JavaScript and the differences.
import { formatIntel } from "../decoder/format.js";
import type { Cpu } from "../machine/cpu.js";
import type { CpuException } from "../machine/cpu-exception.js";
import type { PhysicalMemory } from "../machine/memory.js";
import type { Unit } from "./code-cache.js";

const REGISTER_NAMES = ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"];
const SEGMENT_NAMES = ["es", "cs", "ss", "ds", "fs", "gs"];

/** The architectural state compared (and restored) around a unit. */
export interface CpuSnapshot {
  regs: Int32Array;
  rip: number;
  flags: number;
  lazy: number[];
  rawFlags: number;
  segSelector: Uint16Array;
  segBase: Float64Array;
  segLimit: Float64Array;
  segAttributes: Uint16Array;
  control: number[];
  xmm: Int32Array;
  mxcsr: number;
  retired: number;
  halted: boolean;
  interruptShadow: boolean;
}

export function snapshot(cpu: Cpu): CpuSnapshot {
  const l = cpu.lazy;
  const lazy = [l.op, l.size, l.aLo, l.aHi, l.bLo, l.bHi, l.rLo, l.rHi, l.carryIn];
  const rawFlags = cpu.flags;
  // the flags as software sees them (computing them changes no architectural state)
  const flags = cpu.getFlags();
  [l.op, l.size, l.aLo, l.aHi, l.bLo, l.bHi, l.rLo, l.rHi, l.carryIn] = lazy;
  cpu.flags = rawFlags;
  return {
    regs: cpu.regs.slice(), rip: cpu.rip, flags, lazy, rawFlags,
    segSelector: cpu.segSelector.slice(), segBase: cpu.segBase.slice(), segLimit: cpu.segLimit.slice(), segAttributes: cpu.segAttributes.slice(),
    control: [cpu.cr0, cpu.cr2, cpu.cr3, cpu.cr4, cpu.cr8, cpu.efer, cpu.cpl, cpu.mode],
    xmm: cpu.xmm.slice(), mxcsr: cpu.mxcsr, retired: cpu.retired, halted: cpu.halted, interruptShadow: cpu.interruptShadow,
  };
}

export function restore(cpu: Cpu, s: CpuSnapshot): void {
  cpu.regs.set(s.regs);
  cpu.rip = s.rip;
  const l = cpu.lazy;
  [l.op, l.size, l.aLo, l.aHi, l.bLo, l.bHi, l.rLo, l.rHi, l.carryIn] = s.lazy;
  cpu.flags = s.rawFlags;
  cpu.segSelector.set(s.segSelector);
  cpu.segBase.set(s.segBase);
  cpu.segLimit.set(s.segLimit);
  cpu.segAttributes.set(s.segAttributes);
  cpu.cr2 = s.control[1];
  cpu.xmm.set(s.xmm);
  cpu.mxcsr = s.mxcsr;
  cpu.retired = s.retired;
  cpu.halted = s.halted;
  cpu.interruptShadow = s.interruptShadow;
}

function hex(value: number): string {
  return value < 0 ? `-0x${(-value).toString(16)}` : `0x${value.toString(16)}`;
}

/** Differences between two snapshots, one line each. */
export function differences(jit: CpuSnapshot, interp: CpuSnapshot): string[] {
  const out: string[] = [];
  for (let r = 0; r < 16; r++) {
    if (jit.regs[2 * r] !== interp.regs[2 * r] || jit.regs[2 * r + 1] !== interp.regs[2 * r + 1]) {
      out.push(`${REGISTER_NAMES[r]}: jit ${hexPair(jit.regs, r)} interp ${hexPair(interp.regs, r)}`);
    }
  }
  if (jit.rip !== interp.rip) out.push(`rip: jit ${hex(jit.rip)} interp ${hex(interp.rip)}`);
  if (jit.flags !== interp.flags) out.push(`rflags: jit 0x${jit.flags.toString(16)} interp 0x${interp.flags.toString(16)}`);
  for (let s = 0; s < 6; s++) {
    if (jit.segSelector[s] !== interp.segSelector[s] || jit.segBase[s] !== interp.segBase[s]) out.push(`${SEGMENT_NAMES[s]}: differs`);
  }
  const names = ["cr0", "cr2", "cr3", "cr4", "cr8", "efer", "cpl", "mode"];
  for (let k = 0; k < names.length; k++) {
    if (jit.control[k] !== interp.control[k]) out.push(`${names[k]}: jit ${hex(jit.control[k])} interp ${hex(interp.control[k])}`);
  }
  for (let k = 0; k < 64; k++) {
    if (jit.xmm[k] !== interp.xmm[k]) {
      out.push(`xmm${k >> 2}: differs`);
      k |= 3;
    }
  }
  if (jit.mxcsr !== interp.mxcsr) out.push(`mxcsr: jit 0x${jit.mxcsr.toString(16)} interp 0x${interp.mxcsr.toString(16)}`);
  if (jit.retired !== interp.retired) out.push(`instructions retired: jit ${jit.retired} interp ${interp.retired}`);
  if (jit.halted !== interp.halted) out.push(`halted: jit ${jit.halted} interp ${interp.halted}`);
  return out;
}

function hexPair(regs: Int32Array, r: number): string {
  return `0x${(regs[2 * r + 1] >>> 0).toString(16).padStart(8, "0")}${(regs[2 * r] >>> 0).toString(16).padStart(8, "0")}`;
}

/** Records the old bytes of every physical write while active, so a run can be undone and compared. */
export class WriteLog {
  /** paddr → byte before the first logged write */
  readonly before = new Map<number, number>();
  active = false;

  constructor(private readonly memory: PhysicalMemory) {
    const m = memory as unknown as Record<string, (...args: number[]) => void>;
    for (const [name, size] of [["write8", 1], ["write16", 2], ["write32", 4], ["write64", 8]] as const) {
      const original = m[name].bind(memory);
      m[name] = (paddr: number, ...rest: number[]) => {
        if (this.active) this.note(paddr, size);
        original(paddr, ...rest);
      };
    }
  }

  private note(paddr: number, size: number): void {
    const ram = this.memory.ram;
    for (let k = 0; k < size; k++) {
      const at = paddr + k;
      if (at >= 0 && at < ram.length && !this.before.has(at)) this.before.set(at, ram[at]);
    }
  }

  /** Current bytes at the logged addresses. */
  current(): Map<number, number> {
    const ram = this.memory.ram;
    const now = new Map<number, number>();
    for (const at of this.before.keys()) now.set(at, ram[at]);
    return now;
  }

  /** Puts the logged bytes back. */
  undo(): void {
    const ram = this.memory.ram;
    for (const [at, value] of this.before) ram[at] = value;
  }

  clear(): void {
    this.before.clear();
  }
}

/**
 * Memory differences: addresses either run wrote whose final bytes differ. `jitAfter`: bytes the
 * compiled run left at the addresses it wrote; `interpBefore`: the original bytes at the addresses
 * the interpreter wrote; memory holds the interpreter's result.
 */
export function memoryDifferences(jitAfter: Map<number, number>, interpBefore: Map<number, number>, memory: PhysicalMemory): string[] {
  const out: string[] = [];
  const addresses = new Set([...jitAfter.keys(), ...interpBefore.keys()]);
  for (const at of [...addresses].sort((a, b) => a - b)) {
    const interpValue = memory.ram[at];
    const jitValue = jitAfter.get(at) ?? interpBefore.get(at) ?? interpValue;
    if (jitValue !== interpValue) out.push(`memory 0x${at.toString(16)}: jit 0x${jitValue.toString(16)} interp 0x${interpValue.toString(16)}`);
    if (out.length >= 16) break;
  }
  return out;
}

/** The report printed at the first divergence. */
export function divergenceReport(unit: Unit, entry: CpuSnapshot, problems: string[], jitFault: CpuException | null, interpFault: CpuException | null): string {
  const lines: string[] = [];
  lines.push(`jit check: divergence in unit ${unit.name} at rip ${hex(entry.rip)} (after ${entry.retired} instructions)`);
  for (const p of problems) lines.push(`  ${p}`);
  if (jitFault !== null || interpFault !== null) lines.push(`  fault: jit ${jitFault?.message ?? "none"}, interp ${interpFault?.message ?? "none"}`);
  lines.push("guest code:");
  unit.instructions.forEach((ins, k) => {
    const rip = unit.rips[k];
    lines.push(`  ${hex(rip)}: ${formatIntel(ins, BigInt.asUintN(64, BigInt(rip)))}`);
  });
  lines.push("generated JavaScript:");
  lines.push(unit.source);
  return lines.join("\n");
}

/** Thrown by the engine in check mode at the first divergence. */
export class JitDivergence extends Error {
  constructor(readonly report: string) {
    super(report.split("\n")[0]);
  }
}
