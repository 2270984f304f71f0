// The JIT side of the oracle: the same user-mode run as src/machine/user-mode.ts (CPL 3, flat
// segments, 4-level paging mapping only the code and the scratch region, the same initial state),
// but executed by the JIT engine (src/jit/engine.ts) instead of the interpreter loop.
//
// The address space, user-mode entry and state come from user-mode.ts; added here is what the engine
// needs and runUserMode does not: the engine delivers exceptions through the IDT itself, so the
// machine has a GDT (a 64-bit ring-0 code segment), a TSS (RSP0), an IDT whose 32 gates lead to
// `hlt` stubs in a supervisor page, and a kernel stack. The exception, and the state at the
// faulting instruction, are read back from the interrupt frame (RIP, RFLAGS, RSP; the other
// registers are untouched by delivery) and the stub the CPU landed in (the vector). A `hlt` placed
// right after the case's code is the end marker: at CPL 3 it raises #GP(0) with the frame's RIP at
// the end of the code (and it ends the JIT's blocks there: HLT is left to the interpreter).
//
// Configurations (JitRunConfig.mode; `slices` is not in the default suite):
//   blocks  the engine as --accel jit runs it, threshold 1: every block is compiled on its first
//           execution, with loop regions (sequences become multi-instruction blocks, LOOP self-loops
//           become regions).
//   single  one instruction per compiled unit. JitEngine has no option for this; the runner
//           compiles every unit itself through engine.compile(), with a `hlt` written for the
//           duration of the compile (straight into RAM, bypassing the code-write hooks, then
//           restored) over the first byte of the next instruction: HLT is left to the interpreter,
//           so the decoded block ends after one instruction. Each dispatch gets a one-instruction
//           budget (engine.run with batchEnd = retired + 1), so instructions after an interpreted
//           one are dispatched to compiled code too, instead of the interpreter's straight-line run.
//   slices  blocks and regions, run in batches of 1-8 instructions (the budget paths).
//
// Coverage: every compiled unit is inspected (onCompile): per opcode row, whether an instruction
// was translated by a template or runs through the shared semantics (the `e=X(i)` call in the
// unit's source). Rows of instructions never compiled ran in the interpreter.
import { Cpu, TWO_32 } from "../../src/machine/cpu.js";
import { CpuException } from "../../src/machine/cpu-exception.js";
import { PortBus } from "../../src/machine/io-bus.js";
import { Interpreter } from "../../src/machine/interp/interpreter.js";
import { PhysicalMemory } from "../../src/machine/memory.js";
import {
  UserAddressSpace, copyLinear, enterUserMode, loadUserState, readUserState, type UserModeOptions, type UserModeResult,
} from "../../src/machine/user-mode.js";
import { DecodeStatus, Instruction, decodeInto } from "../../src/decoder/decode.js";
import { JitEngine, type JitStats } from "../../src/jit/engine.js";
import type { Unit } from "../../src/jit/code-cache.js";

export type JitRunMode = "blocks" | "single" | "slices";

export interface JitRunConfig {
  mode: JitRunMode;
  /** every instruction through the shared semantics (JitOptions.helperOnly) */
  helperOnly?: boolean;
  /** a name for a separate machine (its own statistics and coverage) */
  instance?: string;
}

const PAGE = 4096;
const HLT = 0xf4;

/** Supervisor pages, far from anything the cases address: descriptor tables and stubs, then the stack. */
export const SYSTEM_ADDRESS = 0x7ffe_0000_0000;
const GDT_OFFSET = 0x000, TSS_OFFSET = 0x100, IDT_OFFSET = 0x200, STUB_OFFSET = 0x800;
const VECTORS = 32;
const STUB_SPACING = 16;
const KERNEL_CS = 0x08;
const STACK_TOP = SYSTEM_ADDRESS + 2 * PAGE;

/** Opcode rows seen in compiled code, by how they were translated. */
export class JitCoverage {
  /** row id → instructions compiled by a template */
  readonly templated = new Map<number, number>();
  /** row id → instructions compiled as a call into the shared semantics */
  readonly helper = new Map<number, number>();

  noteUnit(unit: Unit): void {
    for (let i = 0; i < unit.instructions.length; i++) {
      const id = unit.instructions[i].row.id;
      const map = unit.source.includes(`e=X(${i});`) ? this.helper : this.templated;
      map.set(id, (map.get(id) ?? 0) + 1);
    }
  }
}

class JitMachine {
  /** instructions of the cases retired, and how many of them in compiled code */
  caseInstructions = 0;
  jitCaseInstructions = 0;
  readonly memory = new PhysicalMemory(8 * 1024 * 1024);
  readonly cpu = new Cpu(this.memory, new PortBus());
  readonly interpreter = new Interpreter(this.cpu);
  readonly coverage = new JitCoverage();
  readonly engine: JitEngine;
  readonly space = new UserAddressSpace(this.memory);
  private readonly decodeScratch = new Instruction();

  constructor(readonly config: JitRunConfig) {
    this.engine = new JitEngine(this.cpu, this.interpreter, {
      threshold: 1,
      // every unit compiled as soon as it is hot (not batched with the units that follow it)
      compileDelay: 0,
      regions: config.mode !== "single",
      helperOnly: config.helperOnly,
      onCompile: (unit) => this.coverage.noteUnit(unit),
    });
  }

  /** GDT, TSS, IDT and stubs in the system page at physical `frame`; the CPU's registers for them. */
  writeSystemPage(frame: number): void {
    const view = this.memory.view;
    // GDT: null, 64-bit ring-0 code (P, DPL 0, code exec/read, L, G)
    view.setUint32(frame + GDT_OFFSET + 8, 0x0000ffff, true);
    view.setUint32(frame + GDT_OFFSET + 12, 0x00af9b00, true);
    // TSS: RSP0
    view.setUint32(frame + TSS_OFFSET + 4, STACK_TOP % TWO_32, true);
    view.setUint32(frame + TSS_OFFSET + 8, Math.floor(STACK_TOP / TWO_32), true);
    for (let vector = 0; vector < VECTORS; vector++) {
      const stub = SYSTEM_ADDRESS + STUB_OFFSET + vector * STUB_SPACING;
      const low = stub % TWO_32;
      const gate = frame + IDT_OFFSET + vector * 16;
      // 64-bit interrupt gate, present, DPL 3 (INT3 from CPL 3 passes the gate check)
      view.setUint32(gate, (KERNEL_CS << 16) | (low & 0xffff), true);
      view.setUint32(gate + 4, ((low & 0xffff0000) | 0xee00) >>> 0, true);
      view.setUint32(gate + 8, Math.floor(stub / TWO_32), true);
      view.setUint32(gate + 12, 0, true);
      this.memory.ram[frame + STUB_OFFSET + vector * STUB_SPACING] = HLT;
    }
    const cpu = this.cpu;
    cpu.gdtrBase = SYSTEM_ADDRESS + GDT_OFFSET;
    cpu.gdtrLimit = 15;
    cpu.idtrBase = SYSTEM_ADDRESS + IDT_OFFSET;
    cpu.idtrLimit = VECTORS * 16 - 1;
    cpu.trSelector = 0;
    cpu.trBase = SYSTEM_ADDRESS + TSS_OFFSET;
    cpu.trLimit = 0x67;
    cpu.trAttributes = 0x8b;
  }

  /**
   * Single-instruction mode: makes sure the unit cached for cpu.rip covers one instruction. The
   * byte after the instruction is replaced by HLT (which the JIT leaves to the interpreter) while
   * engine.compile() decodes the block, then restored; the write goes straight to RAM, so neither
   * the interpreter's decode cache nor the JIT's code cache sees it.
   */
  ensureSingleInstructionUnit(): void {
    const cpu = this.cpu, engine = this.engine;
    const rip = cpu.rip;
    let physical: number;
    try {
      physical = cpu.mmu.translateFetch(rip);
    } catch (error) {
      if (error instanceof CpuException) return; // the interpreter delivers the fetch fault
      throw error;
    }
    const cached = engine.cache.get(physical);
    if (cached !== undefined && cached.rip === rip && cached.mode === cpu.mode) return;
    const ram = this.memory.ram;
    const pageStart = physical - (physical % PAGE);
    const ins = this.decodeScratch;
    decodeInto(ins, ram.subarray(pageStart, pageStart + PAGE), physical - pageStart, cpu.mode);
    const next = physical + ins.length;
    if (ins.status !== DecodeStatus.Ok || next >= pageStart + PAGE) {
      engine.compile(rip, physical);
      return;
    }
    const saved = ram[next];
    ram[next] = HLT;
    let unit: Unit;
    try {
      unit = engine.compile(rip, physical);
    } finally {
      ram[next] = saved;
    }
    if (unit.fn !== null && unit.instructions.length !== 1) {
      throw new Error(`JIT runner: a single-instruction unit at 0x${rip.toString(16)} has ${unit.instructions.length} instructions (is HLT still left to the interpreter?)`);
    }
  }
}

const machines = new Map<string, JitMachine>();

const machineKey = (config: JitRunConfig) => `${config.mode}${config.helperOnly ? "-helpers" : ""}/${config.instance ?? ""}`;

function machineFor(config: JitRunConfig): JitMachine {
  const key = machineKey(config);
  let machine = machines.get(key);
  if (machine === undefined) machines.set(key, (machine = new JitMachine(config)));
  return machine;
}

export interface JitReport {
  stats: JitStats;
  coverage: JitCoverage;
  /** instructions of the cases retired (the end marker and the exception stubs are not counted) */
  caseInstructions: number;
  /** ... of which in compiled code */
  jitCaseInstructions: number;
}

/** What the machine of `config` accumulated since it was created: engine statistics, translation coverage. */
export function jitReport(config: JitRunConfig): JitReport | null {
  const machine = machines.get(machineKey(config));
  if (machine === undefined) return null;
  return { stats: machine.engine.stats(), coverage: machine.coverage, caseInstructions: machine.caseInstructions, jitCaseInstructions: machine.jitCaseInstructions };
}

function read64(memory: PhysicalMemory, physical: number): bigint {
  return (BigInt(memory.view.getUint32(physical + 4, true)) << 32n) | BigInt(memory.view.getUint32(physical, true));
}

/** runUserMode's contract, run by the JIT engine in the configuration given. */
export function runJitUserMode(options: UserModeOptions, config: JitRunConfig): UserModeResult {
  const machine = machineFor(config);
  const { cpu, interpreter, memory, engine } = machine;
  const end = options.codeAddress + options.code.length;
  if (Math.floor(end / PAGE) !== Math.floor(options.codeAddress / PAGE)) throw new Error("JIT runner: the code and its end marker must share one page");
  const physicalOf = machine.space.map([
    { address: options.codeAddress, length: options.code.length + 1, executable: true, user: true },
    ...options.regions.map((region) => ({ address: region.address, length: region.bytes.length, executable: false, user: true })),
    { address: SYSTEM_ADDRESS, length: PAGE, executable: true, user: false },
    { address: SYSTEM_ADDRESS + PAGE, length: PAGE, executable: false, user: false },
  ]);
  const systemFrame = physicalOf.get(SYSTEM_ADDRESS / PAGE)!;
  const stackFrame = physicalOf.get(SYSTEM_ADDRESS / PAGE + 1)!;
  interpreter.invalidateAll();
  engine.invalidateAll();
  copyLinear(options.code, options.codeAddress, physicalOf, memory, true);
  copyLinear(Uint8Array.of(HLT), end, physicalOf, memory, true);
  for (const region of options.regions) copyLinear(region.bytes, region.address, physicalOf, memory, true);
  machine.writeSystemPage(systemFrame);
  enterUserMode(cpu, machine.space.pml4);

  const state = options.state;
  loadUserState(cpu, state, options.codeAddress);

  const max = options.maxInstructions;
  const jitBefore = engine.jitInstructions;
  if (config.mode === "blocks") {
    engine.run({ batchEnd: max, batchSlack: 0 }, 4 * max + 16);
  } else if (config.mode === "slices") {
    // batches of 1-8 instructions: units that would overrun a batch are interpreted instead, and
    // regions leave at their budget checks
    let x = Number(BigInt.asUintN(32, state.gpr[0] ^ state.gpr[3])) | 1;
    for (let guard = 4 * max + 16; cpu.cpl === 3 && !cpu.halted && cpu.retired < max && guard > 0; guard--) {
      x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
      engine.run({ batchEnd: Math.min(max, cpu.retired + 1 + ((x >>> 0) % 8)), batchSlack: 0 }, 4 * max + 16);
    }
  } else {
    for (let guard = 4 * max + 16; cpu.cpl === 3 && !cpu.halted && cpu.retired < max && guard > 0; guard--) {
      machine.ensureSingleInstructionUnit();
      engine.run({ batchEnd: cpu.retired + 1, batchSlack: 0 }, 1);
    }
  }

  // the exception stub's HLT (blocks mode runs it) is not the case's
  machine.caseInstructions += cpu.retired - (cpu.cpl === 0 && cpu.halted ? 1 : 0);
  machine.jitCaseInstructions += engine.jitInstructions - jitBefore;

  for (const region of options.regions) copyLinear(region.bytes, region.address, physicalOf, memory, false);
  const final = readUserState(cpu);
  const { gpr, xmm } = final;
  let rip = final.rip;
  let rflags = final.rflags;
  let exception: UserModeResult["exception"] = null;

  if (cpu.cpl === 0) {
    // An exception was delivered: the stub says which, the frame holds the interrupted state.
    const stubs = SYSTEM_ADDRESS + STUB_OFFSET;
    const vector = Math.floor((cpu.rip - stubs) / STUB_SPACING);
    if (!(vector >= 0 && vector < VECTORS)) throw new Error(`JIT runner: CPL 0 outside the exception stubs (rip 0x${cpu.rip.toString(16)})`);
    const rsp = cpu.regNumber(4);
    const withErrorCode = rsp === STACK_TOP - 48;
    if (!withErrorCode && rsp !== STACK_TOP - 40) throw new Error(`JIT runner: unexpected interrupt frame (rsp 0x${rsp.toString(16)})`);
    const frame = stackFrame + (rsp - (SYSTEM_ADDRESS + PAGE));
    const fields = withErrorCode ? 1 : 0;
    const errorCode = withErrorCode ? Number(read64(memory, frame)) : null;
    rip = read64(memory, frame + 8 * fields);
    rflags = Number(read64(memory, frame + 8 * (fields + 2)) & 0xffffffffn);
    gpr[4] = read64(memory, frame + 8 * (fields + 3));
    const atEnd = rip === BigInt(end);
    if (!(vector === 13 && errorCode === 0 && atEnd)) {
      exception = { vector, errorCode };
      if (vector === 14) exception.address = cpu.cr2;
    }
  }
  return { state: { gpr, rip, rflags, xmm, mxcsr: cpu.mxcsr }, exception, retired: cpu.retired };
}

/**
 * The translation coverage of the rows the oracle's cases reached (`caseRows`: row ids): rows with
 * an instruction translated by a template; rows compiled only as calls into the shared semantics;
 * rows never compiled (left to the interpreter, or only ever after an interpreted instruction).
 */
export function jitCoverageText(report: JitReport, caseRows: Iterable<number>, rowName: (id: number) => string): string {
  let templated = 0;
  const helperOnly: string[] = [], interpreted: string[] = [];
  for (const id of caseRows) {
    if (report.coverage.templated.has(id)) templated++;
    else if (report.coverage.helper.has(id)) helperOnly.push(rowName(id));
    else interpreted.push(rowName(id));
  }
  const s = report.stats;
  const share = report.caseInstructions > 0 ? (100 * report.jitCaseInstructions) / report.caseInstructions : 0;
  const names = (list: string[]) => [...new Set(list)].sort().join(" ");
  return [
    `JIT: ${s.unitsCompiled} units compiled (${s.regionsCompiled} loop regions) in ${(s.compileMs / 1000).toFixed(1)} s; ` +
      `${report.jitCaseInstructions} of ${report.caseInstructions} case instructions retired in compiled code (${share.toFixed(1)} %)`,
    `JIT rows: ${templated} translated by templates, ${helperOnly.length} only through the shared semantics, ${interpreted.length} never compiled ` +
      `(of ${templated + helperOnly.length + interpreted.length} rows the cases reached)`,
    `  never compiled: ${names(interpreted)}`,
  ].join("\n");
}
