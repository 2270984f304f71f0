// --accel check: every compiled unit runs twice from the same state, once as compiled code and once
// in the interpreter for the same number of instructions; the architectural state and every byte of
// memory either run wrote must agree. At the first divergence the run stops with a report: the
// unit's guest disassembly, its generated code (JavaScript, or a WebAssembly unit's summary) and the differences.
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

/** A snapshot to fill with snapshotInto (check mode keeps three and reuses them: allocating typed arrays per unit is slow). */
export function emptySnapshot(): CpuSnapshot {
  return {
    regs: new Int32Array(32), rip: 0, flags: 0, lazy: new Array<number>(9).fill(0), rawFlags: 0,
    segSelector: new Uint16Array(6), segBase: new Float64Array(6), segLimit: new Float64Array(6), segAttributes: new Uint16Array(6),
    control: new Array<number>(8).fill(0), xmm: new Int32Array(64), mxcsr: 0, retired: 0, halted: false, interruptShadow: false,
  };
}

export function snapshotInto(cpu: Cpu, s: CpuSnapshot): CpuSnapshot {
  const l = cpu.lazy, lazy = s.lazy;
  lazy[0] = l.op; lazy[1] = l.size; lazy[2] = l.aLo; lazy[3] = l.aHi; lazy[4] = l.bLo; lazy[5] = l.bHi; lazy[6] = l.rLo; lazy[7] = l.rHi; lazy[8] = l.carryIn;
  s.rawFlags = cpu.flags;
  // the flags as software sees them (computing them changes no architectural state)
  s.flags = cpu.getFlags();
  [l.op, l.size, l.aLo, l.aHi, l.bLo, l.bHi, l.rLo, l.rHi, l.carryIn] = lazy;
  cpu.flags = s.rawFlags;
  s.regs.set(cpu.regs);
  s.rip = cpu.rip;
  s.segSelector.set(cpu.segSelector); s.segBase.set(cpu.segBase); s.segLimit.set(cpu.segLimit); s.segAttributes.set(cpu.segAttributes);
  const c = s.control;
  c[0] = cpu.cr0; c[1] = cpu.cr2; c[2] = cpu.cr3; c[3] = cpu.cr4; c[4] = cpu.cr8; c[5] = cpu.efer; c[6] = cpu.cpl; c[7] = cpu.mode;
  s.xmm.set(cpu.xmm);
  s.mxcsr = cpu.mxcsr;
  s.retired = cpu.retired;
  s.halted = cpu.halted;
  s.interruptShadow = cpu.interruptShadow;
  return s;
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

/**
 * Records every byte physical writes change while active: address and old value, in order, repeats
 * included (arrays, not a map: check mode logs every store of every unit). Undone in reverse order,
 * it puts memory back as it was.
 */
export class WriteLog {
  readonly addresses: number[] = [];
  readonly old: number[] = [];
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
      if (at >= 0 && at < ram.length) {
        this.addresses.push(at);
        this.old.push(ram[at]);
      }
    }
  }

  /** The bytes now at the logged addresses (one per log entry). */
  current(): number[] {
    const ram = this.memory.ram;
    return this.addresses.map((at) => ram[at]);
  }

  /** Puts the logged bytes back. */
  undo(): void {
    const ram = this.memory.ram;
    for (let k = this.addresses.length - 1; k >= 0; k--) ram[this.addresses[k]] = this.old[k];
  }

  /** address → the byte before the first logged write there */
  firstValues(): Map<number, number> {
    const before = new Map<number, number>();
    this.addresses.forEach((at, k) => {
      if (!before.has(at)) before.set(at, this.old[k]);
    });
    return before;
  }

  clear(): void {
    this.addresses.length = 0;
    this.old.length = 0;
  }
}

/** What the compiled run wrote: the log's addresses and the bytes it left there. */
export interface JitWrites {
  addresses: number[];
  after: number[];
}

/**
 * Memory differences between the compiled run (`jit`, already undone) and the interpreter's run
 * (logged in `interp`; memory holds its result): addresses either wrote whose final bytes differ.
 * When both wrote the same addresses in the same order (the usual case) the check is one pass.
 */
export function memoryDifferences(jit: JitWrites, interp: WriteLog, memory: PhysicalMemory): string[] {
  const ram = memory.ram;
  const same = jit.addresses.length === interp.addresses.length && jit.addresses.every((at, k) => at === interp.addresses[k]);
  if (same && jit.addresses.every((at, k) => ram[at] === jit.after[k])) return [];
  const jitAfter = new Map<number, number>();
  jit.addresses.forEach((at, k) => jitAfter.set(at, jit.after[k]));
  const interpBefore = interp.firstValues();
  const out: string[] = [];
  const addresses = new Set([...jitAfter.keys(), ...interpBefore.keys()]);
  for (const at of [...addresses].sort((a, b) => a - b)) {
    const interpValue = ram[at];
    const jitValue = jitAfter.get(at) ?? interpBefore.get(at) ?? interpValue;
    if (jitValue !== interpValue) out.push(`memory 0x${at.toString(16)}: jit 0x${jitValue.toString(16)} interp 0x${interpValue.toString(16)}`);
    if (out.length >= 16) break;
  }
  return out;
}

/** "n bytes in lo..hi" for a list of written addresses. */
export function describeWrites(addresses: number[]): string {
  const distinct = new Set(addresses);
  let low = Infinity, high = -Infinity;
  for (const at of distinct) {
    if (at < low) low = at;
    if (at > high) high = at;
  }
  return distinct.size === 0 ? "none" : `${distinct.size} in 0x${low.toString(16)}..0x${high.toString(16)}`;
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
  lines.push(unit.wasmSlot >= 0 ? "generated WebAssembly:" : "generated JavaScript:");
  lines.push(unit.source);
  return lines.join("\n");
}

/** Thrown by the engine in check mode at the first divergence. */
export class JitDivergence extends Error {
  constructor(readonly report: string) {
    super(report.split("\n")[0]);
  }
}
