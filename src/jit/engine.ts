// The JIT engine: the dispatcher that runs compiled units, follows the direct links between them,
// counts how often cold code is entered (tiering), compiles hot entries, and hands everything it
// does not compile to the interpreter: cold code, instructions left to the interpreter, pending
// interrupts, single-stepping, alignment checking, and the last few instructions of a batch that a
// whole unit would overrun (so interrupts arrive at exactly the same instruction as in the
// interpreter, and --clock virtual gives the same run under both engines).
import { IF, TF } from "../decoder/flags.js";
import { formatIntel } from "../decoder/format.js";
import { CS, DS, ES, SEG_DB, SS, TWO_32, type Cpu } from "../machine/cpu.js";
import { CpuException, REP_UNFINISHED, VEC_GP, VEC_SS, generalProtection } from "../machine/cpu-exception.js";
import { sseCheck, store16 } from "../machine/interp/semantics/sse.js";
import { shiftDouble } from "../machine/interp/semantics/shift.js";
import { deliverException } from "../machine/interrupts.js";
import { PARITY } from "../machine/lazy-flags.js";
import { divideWide, multiplySigned128, multiplyWide } from "../machine/interp/semantics/arithmetic.js";
import type { Interpreter } from "../machine/interp/interpreter.js";
import { probeWrite } from "../machine/interp/operand-access.js";
import { CodeCache, Unit, type UnitFunction } from "./code-cache.js";
import { MAX_BLOCK_INSTRUCTIONS, decodeBlock, discoverRegion, type GuestBlock } from "./discover.js";
import { INSTRUCTION_KIND, KIND_PORT_IO, KIND_STRAIGHT, portAccessEndsUnit } from "./instruction-kinds.js";
import { translateUnit, type TranslateOptions } from "./translate.js";
import { finishSource, unmappedSource } from "./source-map.js";
import { interpreterStringFastPath } from "./string-fast.js";
import { JitDivergence, WriteLog, describeWrites, differences, divergenceReport, emptySnapshot, memoryDifferences, restore, snapshotInto, type JitWrites } from "./lockstep.js";
import { INVALID_TAG, TLB_MASK, TLB_SIZE } from "../machine/tlb.js";
import { WasmState } from "./wasm/state-layout.js";
import { encodeUnitModule, translateWasm, type WasmLayout, type WasmTranslation } from "./wasm/translate-wasm.js";
import { WasmRuntime, makeWasmImports, type WasmUnitEnvironment } from "./wasm/wasm-unit.js";

export interface JitOptions {
  /** executions of an entry point before it is compiled */
  threshold?: number;
  /** compile the blocks of a loop into one function */
  regions?: boolean;
  /** every instruction through the shared semantics (testing the helper path) */
  helperOnly?: boolean;
  /** called with each compiled unit (--jit-dump, tests) */
  onCompile?: (unit: Unit) => void;
  /** --accel check: run every unit in lockstep with the interpreter and stop at the first divergence */
  check?: boolean;
  /**
   * give every unit an inline source map to the guest disassembly (--jit-source-maps, --jit-dump,
   * X64EMU_DEBUG=1); off by default, as the map costs about a fifth of the compile time
   */
  sourceMaps?: boolean;
  /**
   * what units are compiled to: "wasm" (the default: WebAssembly for the 64-bit code the WebAssembly
   * translator covers, JavaScript for the rest; src/jit/wasm) or "js" (JavaScript only, new Function)
   */
  backend?: JitBackend;
  /**
   * guest instructions a WebAssembly unit that became hot waits, translated, for others to be
   * compiled with it in one module at the end of a batch (default WASM_COMPILE_DELAY; 0: each is
   * compiled at once, as a JavaScript unit is)
   */
  compileDelay?: number;
}

export type JitBackend = "js" | "wasm";

/**
 * Executions of an entry point before it is compiled. Translating a unit (~0.3 ms) and V8's first
 * runs of it cost as much as interpreting a few thousand instructions, so code run fewer than a few
 * hundred times is cheaper left to the interpreter: measured on this machine (bench:boot, the short
 * store bench), 256 took selftest from 1.31 s to 1.08 s and the 20-commit bench from 1.63 s to about
 * 1.45 s, and left a 100-commit run where it was (docs/jit.md, "Tiering").
 */
export const DEFAULT_THRESHOLD = 256;
const JUMP_CACHE_SIZE = 4096;
const JUMP_CACHE_MASK = JUMP_CACHE_SIZE - 1;

/** What the batch loop reads: the retired-instruction count at which the current batch ends. */
export interface BatchLimit {
  batchEnd: number;
  /**
   * Instructions compiled code may run past batchEnd to finish the block it is in (0: stop exactly
   * there). With the realtime clock a batch end is only a point to look at devices and the host,
   * so a unit may overrun it by up to one block instead of leaving the batch's last instructions
   * to the interpreter; the virtual clock (and an instruction limit) needs the exact end.
   */
  batchSlack: number;
}

export interface JitStats {
  unitsCompiled: number;
  regionsCompiled: number;
  compileMs: number;
  cacheUnits: number;
  cacheSourceBytes: number;
  dispatches: number;
  linkHits: number;
  jumpCacheHits: number;
  cacheHits: number;
  cacheMisses: number;
  invalidations: number;
  interpreterSteps: number;
  jitInstructions: number;
  chainedDispatches: number;
  /** WebAssembly modules compiled (new units, in batches, and packs: wasm/wasm-unit.ts) */
  wasmModules: number;
  /** WebAssembly modules compiled to pack units compiled alone into one (wasm/wasm-unit.ts), and the units they held */
  packsCompiled: number;
  unitsPacked: number;
}

/** A translated WebAssembly unit, to be compiled. */
interface TranslatedWasmUnit {
  translation: WasmTranslation;
  blocks: GuestBlock[];
  rip: number;
  physical: number;
  mode: 64 | 32;
}

/** One waiting for the end of the batch, with a copy of the guest code it was translated from. */
interface PendingWasmUnit extends TranslatedWasmUnit {
  code: Uint8Array[];
}

/** WebAssembly units translated but not compiled before the batch ends early (one module compiles them all). */
const MAX_PENDING_WASM_UNITS = 256;
/**
 * Guest instructions a translated WebAssembly unit waits for others before a batch's end compiles
 * them together. A module costs ~0.5 ms to compile whatever it holds and a unit in it ~0.05 ms: on
 * the 20-commit store bench this took the compile time from ~250 ms (a module per unit) and ~170 ms
 * (one per batch) to ~115 ms, for about as much more interpreting.
 */
export const WASM_COMPILE_DELAY = 50_000;

/** Shared with generated code (E.jit): the unit running, whether it was invalidated, its fault. */
class JitState {
  current: Unit | null = null;
  /** set by a store into the running unit's code, or a port access after which it must leave */
  stale = false;
  /** the batch JitEngine.run is in: port I/O inside a unit sees whether a device moved its end */
  limit: { readonly batchEnd: number } = { batchEnd: 0 };
  fault: CpuException | null = null;
  /** bumped whenever a write drops compiled units (a WebAssembly unit then leaves after the store) */
  invalidations = 0;
}

export class JitEngine {
  readonly cache = new CodeCache();
  private readonly heat = new Map<number, number>();
  private readonly state = new JitState();
  private readonly helpers: Record<string, unknown>;
  readonly threshold: number;
  readonly compileDelay: number;
  private readonly regions: boolean;
  private readonly sourceMaps: boolean;
  private readonly translateOptions: TranslateOptions;
  private readonly onCompile: ((unit: Unit) => void) | undefined;
  private unitCounter = 0;
  private readonly jumpCache = new Array<Unit | undefined>(JUMP_CACHE_SIZE).fill(undefined);
  private jumpCacheGeneration = -1;
  jumpCacheHits = 0;
  private readonly writeLog: WriteLog | null;
  /** whether units run IN and OUT (instruction-kinds.ts) */
  private readonly portIoInUnits: boolean;
  /** check mode: write tags that never match, so every store reaches the write log (in the state area, where WebAssembly units read tags) */
  private readonly noWrites: Float64Array | null;
  /** the WebAssembly backend: what its units share, or null */
  private readonly wasm: { layout: WasmLayout; runtime: WasmRuntime } | null = null;
  wasmUnits = 0;
  /** WebAssembly units translated during this batch, compiled together at its end (flushWasm), and their entries */
  private pendingWasm: PendingWasmUnit[] = [];
  private readonly pendingAt = new Set<number>();
  /** cpu.retired when the first of them was translated */
  private pendingSince = 0;
  /** translations dropped unused: the guest code changed before they were compiled */
  staleTranslations = 0;
  /** check mode: units compared */
  checkedUnits = 0;
  /** check mode: the state on entry, after the compiled run, after the interpreter's */
  private readonly snapshots = [emptySnapshot(), emptySnapshot(), emptySnapshot()];
  /** check mode: the pages a checked run walked */
  private readonly walked: number[] = [];

  // statistics
  unitsCompiled = 0;
  regionsCompiled = 0;
  compileMs = 0;
  dispatches = 0;
  linkHits = 0;
  cacheHits = 0;
  cacheMisses = 0;
  interpreterSteps = 0;
  jitInstructions = 0;
  /** dispatches WebAssembly units made among themselves (wasm/chain.ts), included in `dispatches` */
  chainedDispatches = 0;

  constructor(readonly cpu: Cpu, readonly interpreter: Interpreter, options: JitOptions = {}) {
    this.threshold = options.threshold ?? DEFAULT_THRESHOLD;
    this.compileDelay = options.compileDelay ?? WASM_COMPILE_DELAY;
    this.regions = options.regions ?? true;
    this.sourceMaps = options.sourceMaps ?? false;
    this.translateOptions = { helperOnly: options.helperOnly };
    this.onCompile = options.onCompile;
    const memory = cpu.memory;
    const interpreterInvalidate = memory.onCodeWrite;
    memory.onCodeWrite = (physical, size) => {
      interpreterInvalidate?.(physical, size);
      this.invalidate(physical, size);
    };
    this.helpers = makeHelpers(cpu);
    this.writeLog = options.check ? new WriteLog(memory) : null;
    // check mode runs each unit twice: a device must see each port access once, so the interpreter makes them
    this.portIoInUnits = !options.check;
    this.noWrites = options.check ? new Float64Array(memory.buffer, memory.namedState("check-mode write tags", TLB_SIZE * 8), TLB_SIZE).fill(INVALID_TAG) : null;
    if ((options.backend ?? "wasm") === "wasm" && memory.wasmMemory !== null) {
      const state = new WasmState(memory);
      const env: WasmUnitEnvironment = { cpu, interpreter, state, jit: this.state };
      const layout: WasmLayout = { regs: cpu.regs.byteOffset, xmm: cpu.xmm.byteOffset, state: state.base, memoryPages: memory.buffer.byteLength / 65536 };
      this.wasm = { layout, runtime: new WasmRuntime(env, makeWasmImports(env), memory.wasmMemory, layout.memoryPages) };
    }
    // REP MOVS/STOS straight on RAM, in units and in the code still too cold to compile; check
    // mode compares against the interpreter's own element loop
    if (!options.check) interpreter.stringFastPath = interpreterStringFastPath;
  }

  /** Forgets every compiled unit. */
  invalidateAll(): void {
    for (const unit of this.cache.all()) this.dropped(unit);
    this.cache.clear();
    this.jumpCache.fill(undefined);
    this.heat.clear();
    for (const pending of this.pendingWasm) this.wasm!.runtime.imports.release(pending.translation.semanticsIds);
    this.pendingWasm = [];
    this.pendingAt.clear();
    if (this.state.current !== null) this.state.stale = true;
  }

  private invalidate(physical: number, size: number): void {
    const dropped = this.cache.invalidate(physical, size);
    if (dropped.length > 0) this.state.invalidations++;
    for (const unit of dropped) {
      this.dropped(unit);
      if (unit === this.state.current) this.state.stale = true;
    }
  }

  private addToCache(unit: Unit): void {
    const old = this.cache.get(unit.physical);
    if (old !== undefined) this.dropped(old);
    this.cache.add(unit);
  }

  /** A unit left the cache: WebAssembly units must not be chained to any more. */
  private dropped(unit: Unit): void {
    if (unit.wasmSlot >= 0) this.wasm?.runtime.invalidate(unit.wasmSlot);
  }

  /**
   * Runs until cpu.retired reaches limit.batchEnd (re-read after every unit: devices move it), the
   * CPU halts, or `steps` dispatches. Exceptions are delivered; a TripleFault propagates.
   */
  run(limit: BatchLimit, steps: number): void {
    const cpu = this.cpu;
    const interpreter = this.interpreter;
    const pic = interpreter.interruptController;
    const state = this.state;
    state.limit = limit;
    let previous: Unit | null = null;
    let exit = 0;
    while (cpu.retired < limit.batchEnd && !cpu.halted && steps-- > 0) {
      this.dispatches++;
      if (cpu.interruptShadow || (cpu.flags & TF) !== 0 || cpu.alignmentChecks || (pic !== null && (cpu.flags & IF) !== 0 && pic.hasPending())) {
        interpreter.step();
        this.interpreterSteps++;
        previous = null;
        continue;
      }
      let unit: Unit | undefined;
      if (previous !== null) {
        const link: Unit | undefined = previous.links[exit];
        if (link !== undefined && link.valid && link.rip === cpu.rip && previous.linkGeneration === cpu.mmu.generation) {
          unit = link;
          this.linkHits++;
        }
      }
      if (unit === undefined) {
        // the jump cache: by linear address, valid while the MMU's translations are unchanged
        if (this.jumpCacheGeneration !== cpu.mmu.generation) {
          this.jumpCache.fill(undefined);
          this.jumpCacheGeneration = cpu.mmu.generation;
        }
        const slot: number = cpu.rip & JUMP_CACHE_MASK;
        const cached: Unit | undefined = this.jumpCache[slot];
        if (cached !== undefined && cached.rip === cpu.rip && cached.valid && cached.mode === cpu.mode) {
          unit = cached;
          this.jumpCacheHits++;
        } else {
          unit = this.lookup();
          if (unit !== undefined) this.jumpCache[slot] = unit;
        }
        if (unit !== undefined && previous !== null && unit.fn !== null) {
          if (previous.linkGeneration !== cpu.mmu.generation) {
            previous.links.fill(undefined);
            previous.linkGeneration = cpu.mmu.generation;
          }
          previous.links[exit] = unit;
        }
      }
      if (unit === undefined || unit.fn === null || unit.entryCount > limit.batchEnd + limit.batchSlack - cpu.retired || (unit.needsFlat && !flat32(cpu)) ||
          (unit.nextPage >= 0 && !this.nextPageHolds(unit.nextPage, unit.physical))) {
        this.interpretStraight(limit);
        previous = null;
        continue;
      }
      const before = cpu.retired;
      state.current = unit;
      // WebAssembly units go on to this one without coming back here (wasm/chain.ts)
      if (unit.wasmSlot >= 0) this.wasm!.runtime.remember(unit.rip, unit.wasmSlot, cpu.mmu.generation, cpu.mode);
      const budget = limit.batchEnd + limit.batchSlack - before;
      exit = this.writeLog !== null ? this.runChecked(unit, budget) : unit.fn(budget);
      state.current = null;
      this.jitInstructions += cpu.retired - before;
      let last: Unit = unit;
      if (unit.wasmSlot >= 0) {
        // the caller may have gone on to other units: exit is the last one's
        const chained = this.wasm!.runtime.takeChained();
        if (chained > 0) {
          this.dispatches += chained;
          this.chainedDispatches += chained;
          const found = this.wasm!.runtime.lastUnit() as Unit | undefined;
          if (found === undefined || !found.valid) {
            previous = null;
            if (exit < 0) this.deliver();
            continue;
          }
          last = found;
        }
      }
      if (exit < 0) {
        previous = null;
        this.deliver();
        continue;
      }
      if (state.stale || !last.valid) {
        state.stale = false;
        previous = null;
        continue;
      }
      previous = last;
    }
    if (this.pendingWasm.length > 0 && cpu.retired - this.pendingSince >= this.compileDelay) this.flushWasm();
  }

  /** Delivers the fault the last unit left (or lets the interpreter finish an interrupted REP). */
  private deliver(): void {
    const state = this.state;
    const fault = state.fault!;
    state.fault = null;
    state.stale = false;
    if (fault === REP_UNFINISHED) this.interpreter.onRepUnfinished();
    else deliverException(this.cpu, fault);
  }

  /**
   * Check mode runs each unit twice, compiled and interpreted, from the same state: the time-stamp
   * counter then reads the same in both, the time at the unit's start plus the instructions retired
   * since (what the virtual clock reads anyway; the realtime clock would move between the runs).
   */
  private runChecked(unit: Unit, budget: number): number {
    const cpu = this.cpu, tscSource = cpu.tscSource;
    const startTsc = tscSource(), startRetired = cpu.retired;
    cpu.tscSource = () => startTsc + (cpu.retired - startRetired);
    try {
      return this.runCheckedTwice(unit, budget);
    } finally {
      cpu.tscSource = tscSource;
    }
  }

  /**
   * Check mode: runs `unit`, undoes it, runs the interpreter for as many instructions from the same
   * state, and compares. Continues from the interpreter's state; throws JitDivergence on a difference.
   */
  private runCheckedTwice(unit: Unit, budget: number): number {
    const cpu = this.cpu, mmu = cpu.mmu, log = this.writeLog!, state = this.state;
    const [entry, jitState, interpState] = this.snapshots;
    snapshotInto(cpu, entry);
    const writeTag = mmu.writeTag, writeTagAddress = mmu.writeTagAddress;
    mmu.writeTag = this.noWrites!;
    mmu.writeTagAddress = this.noWrites!.byteOffset;
    log.clear();
    log.active = true;
    let exit: number;
    let jitWrites: JitWrites;
    const walked = this.walked;
    walked.length = 0;
    mmu.walkLog = walked;
    try {
      exit = unit.fn!(budget);
      snapshotInto(cpu, jitState);
      jitWrites = { addresses: log.addresses.slice(), after: log.current() };
      log.undo();
      log.clear();
      restore(cpu, entry);
    } finally {
      mmu.writeTag = writeTag;
      mmu.writeTagAddress = writeTagAddress;
      mmu.walkLog = null;
    }
    // The run's page walks set accessed/dirty bits that were just undone, and filled the TLB as if
    // they were set: those pages must be walked again (a write to a clean page always walks).
    for (const page of walked) mmu.forgetTranslation(page);
    const jitFault = exit < 0 ? state.fault : null;
    const stale = state.stale;
    mmu.writeTag = this.noWrites!;
    mmu.writeTagAddress = this.noWrites!.byteOffset;
    let interpFault: CpuException | null = null;
    try {
      const count = jitState.retired - entry.retired;
      for (let k = 0; k < count && interpFault === null; k++) interpFault = this.interpreter.execute();
      if (jitFault !== null && interpFault === null) interpFault = this.interpreter.execute();
    } finally {
      mmu.writeTag = writeTag;
      mmu.writeTagAddress = writeTagAddress;
      log.active = false;
    }
    snapshotInto(cpu, interpState);
    const problems = differences(jitState, interpState);
    problems.push(...memoryDifferences(jitWrites, log, cpu.memory));
    if ((jitFault === null) !== (interpFault === null) || (jitFault !== null && (jitFault.vector !== interpFault!.vector || jitFault.errorCode !== interpFault!.errorCode))) {
      problems.push(`fault: jit ${jitFault?.message ?? "none"}, interp ${interpFault?.message ?? "none"}`);
    }
    if (problems.length > 0) {
      problems.push(`instructions: jit ${jitState.retired - entry.retired}, interp ${interpState.retired - entry.retired}; bytes written: jit ${describeWrites(jitWrites.addresses)}, interp ${describeWrites(log.addresses)}`);
      throw new JitDivergence(divergenceReport(unit, entry, problems, jitFault, interpFault));
    }
    this.checkedUnits++;
    state.fault = interpFault;
    state.stale = stale;
    return exit;
  }

  /** The compiled unit for cpu.rip, compiling it when it has become hot; undefined while cold. */
  private lookup(): Unit | undefined {
    const cpu = this.cpu;
    const rip = cpu.rip;
    let physical: number;
    try {
      physical = cpu.mmu.translateFetch(rip);
    } catch (error) {
      if (error instanceof CpuException) return undefined; // the interpreter delivers the fault
      throw error;
    }
    const unit = this.cache.get(physical);
    if (unit !== undefined && unit.rip === rip && unit.mode === cpu.mode) {
      this.cacheHits++;
      return unit;
    }
    this.cacheMisses++;
    // translated, waiting for the end of the batch to be compiled
    if (this.pendingAt.has(physical)) return undefined;
    const heat = (this.heat.get(physical) ?? 0) + 1;
    if (heat < this.threshold) {
      this.heat.set(physical, heat);
      return undefined;
    }
    this.heat.delete(physical);
    return this.build(rip, physical, true);
  }

  /**
   * Interprets from cpu.rip through straight-line code, up to and including the next branch, or
   * through as many instructions as a block holds: a longer straight run is several blocks to the
   * JIT, and the dispatcher must see each one's entry to warm them up together. (Run through, the
   * second block's entry was seen only once the first was compiled: a 1,000-instruction loop body
   * of 16 blocks warmed up one block after another, 16 × 256 executions interpreted.)
   */
  private interpretStraight(limit: BatchLimit): void {
    const cpu = this.cpu;
    const interpreter = this.interpreter;
    for (let count = 1; ; count++) {
      const rip = cpu.rip;
      interpreter.step();
      this.interpreterSteps++;
      const kind = INSTRUCTION_KIND[interpreter.lastRowId];
      if (cpu.halted || cpu.retired >= limit.batchEnd || (kind !== KIND_STRAIGHT && (kind !== KIND_PORT_IO || !this.portIoInUnits)) || count >= MAX_BLOCK_INSTRUCTIONS) return;
      const next = rip + interpreter.lastLength;
      if (cpu.rip !== (cpu.mode === 64 ? next : next % TWO_32)) return; // an exception or interrupt
      if (cpu.interruptShadow || (cpu.flags & TF) !== 0) return;
      // On a new page (reached at its start, or through an instruction that crossed into it) a
      // compiled unit may start at the next instruction: cpu.rip is rip + the length here.
      if ((rip & 0xfff) + interpreter.lastLength >= 4096) return;
    }
  }

  /**
   * Whether linear page `nextLinear` maps, in the TLB as it is now (no walk, no fault), to the
   * physical page after the one holding `physical`: what a unit whose code crosses into that page
   * was decoded under.
   */
  private nextPageHolds(nextLinear: number, physical: number): boolean {
    const mmu = this.cpu.mmu;
    const index = (nextLinear >>> 12) & TLB_MASK;
    return mmu.execTag[index] === nextLinear && mmu.fastBase[index] === physical - (physical % 4096) + 4096;
  }

  /** The linear page after the unit's own when one of `blocks` reaches into it, else -1. */
  private static nextPageOf(blocks: GuestBlock[]): number {
    for (const block of blocks) {
      if ((block.physical % 4096) + (block.endRip - block.rip) > 4096) return block.rip - (block.rip % 4096) + 4096;
    }
    return -1;
  }

  /** Compiles the unit at linear `rip` = `physical`, now. */
  compile(rip: number, physical: number): Unit {
    return this.build(rip, physical, false)!;
  }

  /**
   * Compiles the unit at linear `rip` = `physical`, or (`defer`) when it is a WebAssembly unit,
   * translates it and leaves it to be compiled with the others of the batch (flushWasm).
   */
  private build(rip: number, physical: number, defer: boolean): Unit | undefined {
    const started = performance.now();
    const cpu = this.cpu;
    const memory = cpu.memory;
    const mode = cpu.mode;
    const pageStart = physical - (physical % 4096);
    let unit: Unit;
    const linearPage = rip - (rip % 4096);
    const intoNextPage = mode === 64 && pageStart + 4096 + 16 <= memory.fastEnd && this.nextPageHolds(linearPage + 4096, physical);
    const decode = (at: number, phys: number): GuestBlock => decodeBlock(memory.ram, at, phys, mode, intoNextPage, this.portIoInUnits);
    const entry = pageStart + 4096 <= memory.fastEnd ? decode(rip, physical) : null;
    if (entry === null || entry.instructions.length === 0) {
      unit = new Unit(null, rip, physical, mode, 0, [physical, physical + 1], [], [], new Float64Array(0), 0, "", "", "");
    } else {
      const blocks = this.regions ? discoverRegion(entry, decode) : [entry];
      const translation = this.wasm !== null && !this.translateOptions.helperOnly && !this.wasm.runtime.full ? translateWasm(blocks, mode, this.wasm.layout, this.wasm.runtime.imports) : null;
      if (translation !== null) {
        const translated: TranslatedWasmUnit = { translation, blocks, rip, physical, mode };
        if (defer && this.compileDelay > 0) {
          if (this.pendingWasm.length === 0) this.pendingSince = this.cpu.retired;
          const code = blocks.map((block) => memory.ram.slice(block.physical, block.physical + (block.endRip - block.rip)));
          this.pendingWasm.push({ ...translated, code });
          this.pendingAt.add(physical);
          this.compileMs += performance.now() - started;
          if (this.pendingWasm.length >= MAX_PENDING_WASM_UNITS) this.flushWasm();
          return undefined;
        }
        const [wasmUnit] = this.finishWasm([translated]);
        this.compileMs += performance.now() - started;
        return wasmUnit;
      }
      const translated = translateUnit(blocks, mode, this.translateOptions);
      const name = `unit_${(this.unitCounter++).toString(36)}_${hexName(rip)}`;
      const { source, map } = this.sourceMaps ? finishSource(name, translated) : { source: unmappedSource(name, translated.body), map: "" };
      let factory: (env: unknown) => UnitFunction;
      try {
        factory = new Function("E", source) as (env: unknown) => UnitFunction;
      } catch (error) {
        throw new Error(`JIT: generated code for ${name} does not compile (${(error as Error).message}):\n${translated.body}`);
      }
      const ranges: number[] = [];
      for (const block of blocks) {
        ranges.push(block.physical, block.physical + (block.endRip - block.rip));
        memory.markCodePage(Math.floor(block.physical / 4096));
        memory.markCodePage(Math.floor((block.physical + (block.endRip - block.rip) - 1) / 4096));
      }
      const interpreter = this.interpreter;
      const instructions = translated.instructions, rips = translated.rips;
      const state = this.state;
      const exec = (index: number): CpuException | null => {
        cpu.rip = rips[index];
        const ins = instructions[index];
        const batchEnd = state.limit.batchEnd;
        const fault = interpreter.executeInstruction(ins);
        if (fault !== null) return fault;
        // the unit counts its instructions itself
        cpu.retired--;
        if (INSTRUCTION_KIND[ins.row.id] === KIND_PORT_IO && portAccessEndsUnit(interpreter, state.limit, batchEnd)) state.stale = true;
        return null;
      };
      const fn = factory({
        cpu, regs: cpu.regs, xmm: cpu.xmm, lazy: cpu.lazy, mmu: cpu.mmu, view: memory.view, ram: memory.ram,
        helpers: this.helpers, exec, jit: this.state, CpuException, parity: PARITY,
        rips, before: translated.before,
      });
      unit = new Unit(fn, rip, physical, mode, entry.instructions.length, ranges, translated.exits, instructions, rips, blocks.length, source, name, map);
      unit.nextPage = JitEngine.nextPageOf(blocks);
      this.unitsCompiled++;
      if (blocks.length > 1 || entry.successors.includes(entry.rip)) this.regionsCompiled++;
    }
    this.addToCache(unit);
    this.compileMs += performance.now() - started;
    if (unit.fn !== null) this.onCompile?.(unit);
    return unit;
  }

  /**
   * Compiles the WebAssembly units translated during the batch, in one module, and caches them: the
   * ones whose guest code is still what was translated (a store into a page that holds no compiled
   * code yet is not watched).
   */
  flushWasm(): void {
    if (this.pendingWasm.length === 0) return;
    const started = performance.now();
    const ram = this.cpu.memory.ram;
    const ready: PendingWasmUnit[] = [];
    for (const pending of this.pendingWasm) {
      const unchanged = pending.blocks.every((block, k) => {
        const code = pending.code[k];
        for (let i = 0; i < code.length; i++) if (ram[block.physical + i] !== code[i]) return false;
        return true;
      });
      if (unchanged) ready.push(pending);
      else {
        this.staleTranslations++;
        this.wasm!.runtime.imports.release(pending.translation.semanticsIds);
      }
    }
    this.pendingWasm = [];
    this.pendingAt.clear();
    this.finishWasm(ready);
    this.compileMs += performance.now() - started;
  }

  /** Compiles translated WebAssembly units (one module) and caches them. */
  private finishWasm(pending: TranslatedWasmUnit[]): Unit[] {
    const runtime = this.wasm!.runtime;
    const made = runtime.instantiate(pending.map(({ translation, rip }) => ({ translation, rip })));
    return pending.map(({ translation, blocks, rip, physical, mode }, k) => {
      const { fn, slot } = made[k];
      const ranges: number[] = [];
      for (const block of blocks) {
        ranges.push(block.physical, block.physical + (block.endRip - block.rip));
        this.cpu.memory.markCodePage(Math.floor(block.physical / 4096));
        this.cpu.memory.markCodePage(Math.floor((block.physical + (block.endRip - block.rip) - 1) / 4096));
      }
      const name = `wasm_${(this.unitCounter++).toString(36)}_${hexName(rip)}`;
      let listing = `// WebAssembly unit ${name}: ${translation.instructions.length} instructions, ${translation.body.length} bytes of code`;
      // with --jit-source-maps / --jit-dump: the guest instructions it holds (formatting them costs compile time)
      if (this.sourceMaps) listing += "\n" + translation.instructions.map((ins, i) => `// ${hexName(translation.rips[i])}: ${formatIntel(ins, BigInt.asUintN(64, BigInt(translation.rips[i])))}`).join("\n");
      this.unitsCompiled++;
      this.wasmUnits++;
      if (blocks.length > 1 || blocks[0].successors.includes(blocks[0].rip)) this.regionsCompiled++;
      const unit = new Unit(fn, rip, physical, mode, translation.entryCount, ranges, translation.exits, translation.instructions, translation.rips, blocks.length, listing, name, "");
      // its addresses and stack assume flat 32-bit segments (translate-wasm.ts, stackBytes)
      unit.needsFlat = mode === 32;
      unit.nextPage = JitEngine.nextPageOf(blocks);
      unit.wasmSlot = slot;
      // --jit-dump writes it: a module of this unit alone
      if (this.sourceMaps) unit.wasmModule = encodeUnitModule([translation.body], this.wasm!.layout.memoryPages);
      runtime.track(unit, slot);
      this.addToCache(unit);
      this.onCompile?.(unit);
      return unit;
    });
  }

  stats(): JitStats {
    return {
      unitsCompiled: this.unitsCompiled,
      regionsCompiled: this.regionsCompiled,
      compileMs: this.compileMs,
      cacheUnits: this.cache.size,
      cacheSourceBytes: this.cache.sourceBytes,
      dispatches: this.dispatches,
      linkHits: this.linkHits,
      jumpCacheHits: this.jumpCacheHits,
      cacheHits: this.cacheHits,
      cacheMisses: this.cacheMisses,
      invalidations: this.cache.invalidations,
      interpreterSteps: this.interpreterSteps,
      jitInstructions: this.jitInstructions,
      chainedDispatches: this.chainedDispatches,
      wasmModules: this.wasm?.runtime.modulesCompiled ?? 0,
      packsCompiled: this.wasm?.runtime.packsCompiled ?? 0,
      unitsPacked: this.wasm?.runtime.unitsPacked ?? 0,
    };
  }
}


const wide = new Uint32Array(4);
const wideProduct = new Int32Array(4);

function hexName(rip: number): string {
  return rip < 0 ? `n${(-rip).toString(16)}` : rip.toString(16);
}

/** The runtime helpers generated code calls (E.helpers): slow paths and faults. */
function makeHelpers(cpu: Cpu): Record<string, unknown> {
  const mmu = cpu.mmu;
  const helpers = {
    hi: 0,
    read(x: number, size: number): number {
      switch (size) {
        case 1: return mmu.read8(x);
        case 2: return mmu.read16(x);
        case 4: return mmu.read32(x);
        default: return mmu.read64(x);
      }
    },
    readForWrite(x: number, size: number): number {
      probeWrite(cpu, x, size);
      return helpers.read(x, size);
    },
    write(x: number, size: number, lo: number, hi: number): void {
      switch (size) {
        case 1: mmu.write8(x, lo); return;
        case 2: mmu.write16(x, lo); return;
        case 4: mmu.write32(x, lo); return;
        default: mmu.write64(x, lo, hi);
      }
    },
    linear(segment: number, offset: number): number {
      return cpu.linear(segment, offset >>> 0, 0);
    },
    nonCanonical(segment: number): never {
      throw new CpuException(segment === SS ? VEC_SS : VEC_GP, 0, "non-canonical address");
    },
    badTarget(): never {
      throw new CpuException(VEC_GP, 0, "branch to a non-canonical address");
    },
    sseCheck(): void {
      sseCheck(cpu);
    },
    misaligned(): never {
      throw generalProtection(0, "misaligned 16-byte SSE memory operand");
    },
    /** a 16-byte store of XMM dwords [o..o+3] (both pages checked first when it crosses one) */
    store16(x: number, o: number): void {
      store16(cpu, x, cpu.xmm, o);
    },
    condition(cc: number): boolean {
      return cpu.condition(cc);
    },
    carry(): number {
      return cpu.cf() !== 0 ? 1 : 0;
    },
    materialize(): void {
      cpu.getFlags();
    },
    /** IMUL's flags (CF|OF when the signed product does not fit 64 bits; SF, PF of the result), set by multiply64 */
    flags: 0,
    /** rDX's halves after multiplyAccumulator */
    rdxLo: 0,
    rdxHi: 0,
    /**
     * One-operand MUL/IMUL (32/64-bit) by the interpreter's multiplyWide: returns rAX's low half;
     * its high half in helpers.hi, rDX's in rdxLo/rdxHi, the flags in helpers.flags.
     */
    multiplyAccumulator(signed: number, size: number, aLo: number, aHi: number, bLo: number, bHi: number): number {
      helpers.flags = multiplyWide(signed !== 0, size, aLo, aHi, bLo, bHi, wideProduct);
      helpers.hi = wideProduct[1];
      helpers.rdxLo = wideProduct[2];
      helpers.rdxHi = wideProduct[3];
      return wideProduct[0];
    },
    /**
     * DIV/IDIV (32/64-bit) by the interpreter's divideWide: returns the quotient's low half; its high
     * half in helpers.hi, the remainder's in rdxLo/rdxHi. Throws #DE as the instruction does.
     */
    divide(signed: number, size: number, aLo: number, aHi: number, dLo: number, dHi: number, bLo: number, bHi: number): number {
      divideWide(signed !== 0, size, aLo, aHi, dLo, dHi, bLo, bHi, wideProduct);
      helpers.hi = wideProduct[1];
      helpers.rdxLo = wideProduct[2];
      helpers.rdxHi = wideProduct[3];
      return wideProduct[0];
    },
    /**
     * SHLD/SHRD (32/64-bit) by the interpreter's shiftDouble: returns the result's low half, its high
     * half in helpers.hi and the flags in helpers.flags; a count of 0 returns `a` zero-extended.
     */
    shiftDouble(left: number, size: number, a: number, aHi: number, b: number, bHi: number, count: number): number {
      if (count === 0) {
        helpers.hi = size === 8 ? aHi : 0;
        return a;
      }
      helpers.flags = shiftDouble(left !== 0, size, a, aHi, b, bHi, count, wideProduct);
      helpers.hi = wideProduct[1];
      return wideProduct[0];
    },
    /** the low 64 bits of a 64x64-bit IMUL (high half in helpers.hi, flags in helpers.flags), by the interpreter's multiplier */
    multiply64(aLo: number, aHi: number, bLo: number, bHi: number): number {
      multiplySigned128(aLo, aHi, bLo, bHi, wide);
      const lo = wide[0] | 0, hi = wide[1] | 0;
      // the product fits when the upper 64 bits are the sign extension of the lower ones
      const fits = hi < 0 ? wide[2] === 0xffffffff && wide[3] === 0xffffffff : wide[2] === 0 && wide[3] === 0;
      helpers.flags = (fits ? 0 : 0x801) | (hi < 0 ? 0x80 : 0) | (PARITY[lo & 0xff] << 2);
      helpers.hi = hi;
      return lo;
    },
  };
  return helpers;
}

/**
 * Whether 32-bit code may run as WebAssembly units: they add no segment base and keep a 32-bit
 * stack, so CS, DS, ES and SS must be based at 0 and SS a 32-bit segment (what flat protected-mode
 * code has). Units never change segments (every instruction that loads one is left to the
 * interpreter), so the dispatcher's check before each call holds for the units chained from it.
 */
function flat32(cpu: Cpu): boolean {
  const base = cpu.segBase;
  return base[CS] === 0 && base[DS] === 0 && base[ES] === 0 && base[SS] === 0 && (cpu.segAttributes[SS] & SEG_DB) !== 0;
}
