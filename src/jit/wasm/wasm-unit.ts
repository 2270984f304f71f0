// A compiled WebAssembly unit behind the same call the dispatcher makes for a JavaScript unit:
// `fn(budget)` runs the unit, and the units the caller loop goes on to (chain.ts), and returns the
// last one's exit index (the dispatcher asks the runtime which unit that was) or -1 after a fault,
// with the CPU's RIP, retired count and flags as the interpreter would leave them. The wrapper hands
// the units the current TLB set and the MMU's generation, copies the flags record they left into
// cpu.lazy, and the runtime's helpers run the MMU's slow paths for them (returning a status, since
// an exception must not unwind through a unit's frame before it has written back the faulting
// instruction's state).
import { INSTRUCTION_KIND, KIND_PORT_IO, portAccessEndsUnit } from "../instruction-kinds.js";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { AF, CF, DF, OF, PF, SF, ZF } from "../../decoder/flags.js";
import { CpuException, VEC_GP, VEC_SS, generalProtection } from "../../machine/cpu-exception.js";
import { probeWrite } from "../../machine/interp/operand-access.js";
import { splitHi, splitLo } from "../../machine/interrupts.js";
import { sseCheck, store16 } from "../../machine/interp/semantics/sse.js";
import { CR0_EM, CR0_TS, CR4_OSFXSR, SS, type Cpu } from "../../machine/cpu.js";
import type { Interpreter } from "../../machine/interp/interpreter.js";
import type { Instruction } from "../../decoder/decode.js";
import { LAZY_DEC, LAZY_INC, LAZY_NONE } from "../../machine/lazy-flags.js";
import type { UnitFunction } from "../code-cache.js";
import {
  BREAK_CHAIN, CHAINED, CURRENT_GENERATION, DIRECTION, ENTRY_FLAGS, EXIT_RETIRED, EXIT_RIP, FLAGS_A, FLAGS_B, FLAGS_OP, FLAGS_R, FLAGS_SIZE, FLAGS_WORD,
  ENTRY_CACHE_BYTES, ENTRY_GENERATION_BITS, ENTRY_GENERATION_SHIFT, ENTRY_NEEDS_FLAGS, LAST_SLOT, SCRATCH, SSE_READY, entryIndex, type WasmState,
} from "./state-layout.js";
import { encodeCaller } from "./chain.js";
import { FAULT_BAD_TARGET, FAULT_MISALIGNED, FAULT_NON_CANONICAL, FAULT_SSE, STORE_XMM, encodeUnitModule, type WasmTranslation } from "./translate-wasm.js";

const ARITHMETIC = CF | PF | AF | ZF | SF | OF;
const I_RIP = EXIT_RIP / 4, I_RETIRED = EXIT_RETIRED / 4, I_OP = FLAGS_OP / 4, I_SIZE = FLAGS_SIZE / 4, I_WORD = FLAGS_WORD / 4;
const I_A = FLAGS_A / 4, I_B = FLAGS_B / 4, I_R = FLAGS_R / 4, I_SCRATCH = SCRATCH / 4, I_ENTRY = ENTRY_FLAGS / 4, I_SSE = SSE_READY / 4;
const I_GENERATION = CURRENT_GENERATION / 4, I_BREAK = BREAK_CHAIN / 4, I_LAST = LAST_SLOT / 4, I_CHAINED = CHAINED / 4, I_DIRECTION = DIRECTION / 4;
/** i32 parameters: a budget beyond 2^31 - 1 would wrap */
const MAX_BUDGET = 0x7fffffff;
/**
 * The span of MMU generations the entry cache's entries tell apart (state-layout.ts): an entry's
 * generation field holds the generation modulo this, times two, plus 1 for a 32-bit unit, so a
 * chain never goes on to a unit of the other mode (the same RIP may hold units of both).
 */
const GENERATION_WINDOW = 2 ** (ENTRY_GENERATION_BITS - 1);

function entryKey(generation: number, mode: number): number {
  return (generation % GENERATION_WINDOW) * 2 + (mode === 32 ? 1 : 0);
}

/** What the units of one engine share: the CPU, the exit area and the engine's per-run state. */
export interface WasmUnitEnvironment {
  readonly cpu: Cpu;
  /** runs the instructions units hand to `ex`; its interrupt controller says when a chain must end */
  readonly interpreter: Interpreter;
  readonly state: WasmState;
  /** the engine's state: `stale` is set when a store hits the running unit's code; the batch running */
  readonly jit: { stale: boolean; fault: CpuException | null; invalidations: number; readonly limit: { readonly batchEnd: number } };
}

function canonical(linear: number): boolean {
  return linear >= -(2 ** 47) && linear < 2 ** 47;
}

function nonCanonical(segment: number): CpuException {
  return new CpuException(segment === SS ? VEC_SS : VEC_GP, 0, "non-canonical address");
}

/**
 * Copies the flags record a unit left in the exit area into the CPU (-1: none, the CPU's flags
 * stand; LAZY_NONE: a materialised word; otherwise a pending operation, as cpu.lazy keeps it).
 */
function takeFlagsRecord(words: Int32Array, cpu: Cpu): void {
  const op = words[I_OP];
  if (op === LAZY_NONE) {
    cpu.flags = (cpu.flags & ~ARITHMETIC) | words[I_WORD];
    cpu.lazy.op = LAZY_NONE;
  } else if (op > 0) {
    const lazy = cpu.lazy;
    // INC/DEC keep CF, which the lazy record takes from cpu.flags
    if (op === LAZY_INC || op === LAZY_DEC) cpu.flags = (cpu.flags & ~CF) | words[I_WORD];
    lazy.op = op;
    lazy.size = words[I_SIZE];
    lazy.aLo = words[I_A];
    lazy.aHi = words[I_A + 1];
    lazy.bLo = words[I_B];
    lazy.bHi = words[I_B + 1];
    lazy.rLo = words[I_R];
    lazy.rHi = words[I_R + 1];
  }
}

/**
 * The helpers every unit of an engine imports ("h"."rd", "h"."wr", "h"."fault", "h"."ex"), and the
 * registry of the instructions `ex` runs (ids are reused once the unit holding them is collected).
 */
export function makeWasmImports(env: WasmUnitEnvironment) {
  const { cpu, state, jit, interpreter } = env;
  const words = state.words;
  let pending: CpuException | null = null;
  const semantics: (Instruction | undefined)[] = [];
  const semanticsRips: number[] = [];
  const freeIds: number[] = [];
  // every slow path ends a chain of units (chain.ts): JS may have something to look at
  const fail = (error: unknown): number => {
    if (!(error instanceof CpuException)) throw error;
    pending = error;
    return 1;
  };
  const imports = {
    /** the budget the wrapper gave the caller loop (the units' budgets count down from it) */
    callBudget: 0,
    rd(linear: number, size: number, segment: number, forWrite: number): number {
      words[I_BREAK] = 1;
      try {
        if (!canonical(linear)) throw nonCanonical(segment);
        if (forWrite !== 0) probeWrite(cpu, linear, size);
        // (compiled code never runs with alignment checks on: the dispatcher interprets then)
        words[I_SCRATCH] = cpu.read(linear, size);
        words[I_SCRATCH + 1] = size === 8 ? cpu.hi : 0;
        return 0;
      } catch (error) {
        return fail(error);
      }
    },
    wr(linear: number, size: number, segment: number, lo: number, hi: number): number {
      words[I_BREAK] = 1;
      const invalidations = jit.invalidations;
      try {
        if (!canonical(linear)) throw nonCanonical(segment);
        switch (size) {
          case STORE_XMM: store16(cpu, linear, cpu.xmm, lo << 2); break; // XMM register `lo`
          default: cpu.write(linear, size, lo, hi);
        }
        // the store overwrote compiled code (maybe the running unit's own): leave after this instruction
        return jit.invalidations !== invalidations ? 2 : 0;
      } catch (error) {
        return fail(error);
      }
    },
    fault(kind: number, segment: number): number {
      words[I_BREAK] = 1;
      try {
        switch (kind) {
          case FAULT_BAD_TARGET: throw new CpuException(VEC_GP, 0, "branch to a non-canonical address");
          case FAULT_NON_CANONICAL: throw nonCanonical(segment);
          case FAULT_SSE: sseCheck(cpu); return 0;
          case FAULT_MISALIGNED: throw generalProtection(0, "misaligned 16-byte SSE memory operand");
        }
        throw new Error(`WebAssembly unit: unknown fault kind ${kind}`);
      } catch (error) {
        return fail(error);
      }
    },
    tsc(budgetLeft: number): void {
      const before = imports.callBudget - budgetLeft;
      cpu.retired += before;
      const tsc = cpu.readTsc();
      cpu.retired -= before;
      words[I_SCRATCH] = splitLo(tsc);
      words[I_SCRATCH + 1] = splitHi(tsc);
    },
    ex(id: number, budgetLeft: number): number {
      takeFlagsRecord(words, cpu);
      cpu.rip = semanticsRips[id];
      const invalidations = jit.invalidations;
      const batchEnd = jit.limit.batchEnd;
      // the instructions this call has retired before this one, which the wrapper adds at the end
      const before = imports.callBudget - budgetLeft;
      cpu.retired += before;
      const ins = semantics[id]!;
      const fault = interpreter.executeInstruction(ins);
      cpu.retired -= before;
      words[I_SCRATCH] = cpu.getFlags() & ARITHMETIC;
      words[I_DIRECTION] = (cpu.flags & DF) !== 0 ? 1 : 0;
      // a fault, or REP MOVS/STOS stopping between elements (the dispatcher lets the interpreter finish it)
      if (fault !== null) {
        words[I_BREAK] = 1;
        pending = fault;
        return 1;
      }
      cpu.retired--; // the unit counts its instructions itself
      // a device the instruction reached through memory may have raised an interrupt: the dispatcher must see it
      if (interpreter.interruptController?.hasPending()) words[I_BREAK] = 1;
      // after a port access that raised an interrupt or moved the batch's end: leave after it (as for a store into the unit)
      if (INSTRUCTION_KIND[ins.row.id] === KIND_PORT_IO && portAccessEndsUnit(interpreter, jit.limit, batchEnd)) {
        words[I_BREAK] = 1;
        return 2;
      }
      return jit.invalidations !== invalidations ? 2 : 0;
    },
    pending(): CpuException | null {
      const fault = pending;
      pending = null;
      return fault;
    },
    register(ins: Instruction, rip: number): number {
      const id = freeIds.pop() ?? semantics.length;
      semantics[id] = ins;
      semanticsRips[id] = rip;
      return id;
    },
    release(ids: readonly number[]): void {
      for (const id of ids) {
        semantics[id] = undefined;
        freeIds.push(id);
      }
    },
  };
  return imports;
}

export type WasmImports = ReturnType<typeof makeWasmImports>;

type UnitCaller = (slot: number, budget: number, readTags: number, writeTags: number, fastBase: number) => number;

/**
 * V8 frees a module's code only when a major GC finds the module unreachable, and commits at least
 * a jump table and a page of code per module whatever it holds: a guest whose code keeps changing
 * (the hardware oracle compiles 30,000 single-instruction units in a row) fills the wasm code space
 * (~1 GB) long before the small JS heap asks for a major GC, and V8 then aborts the process. So the
 * runtime counts the modules still alive, asks for a major GC every LIVE_MODULES_GC new modules
 * while that many are alive, and reports itself full beyond MAX_LIVE_MODULES (the engine then
 * compiles JavaScript units, which the heap accounts for).
 */
const LIVE_MODULES_GC = 4_000;
const MAX_LIVE_MODULES = 20_000;
const collectGarbage = exposeGc();

/** V8's gc() (what --expose-gc gives), or null. */
function exposeGc(): (() => void) | null {
  try {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as unknown;
    return typeof gc === "function" ? (gc as () => void) : null;
  } catch {
    return null;
  }
}

/** units compiled alone (one module each) before they are packed into one module */
const PACK_LOOSE = 16;
/** packs of one level merged into one pack of the next level when there would be this many */
const PACK_MERGE = 4;
/** levels of packs: the largest holds PACK_LOOSE * PACK_MERGE ** (PACK_LEVELS - 1) = 4096 units */
const PACK_LEVELS = 5;

interface Pack {
  readonly id: number;
  readonly slots: number[];
}

/**
 * The units of one engine: each unit's function sits in a slot of one funcref table and runs through
 * one exported caller (chain.ts), so the JS-to-WebAssembly call is the same call site for every unit
 * (a different export per unit would make it megamorphic, through V8's generic wrapper), and the
 * caller can go on from one unit to the next without returning to JS. A slot is reused once its
 * unit has been collected.
 *
 * The engine hands over the units that became hot during a batch together, compiled into one
 * module (a module costs ~0.5 ms whatever it holds, a unit in it ~0.05 ms). V8 gives every module
 * its own code space, and with a thousand of them each call from one unit's module to another's
 * cost ~100 ns against ~5 ns inside one module (perf showed the time at the modules' jump tables:
 * the host's TLB and caches). So units are packed: every PACK_LOOSE units compiled in small groups
 * are recompiled into one module, and PACK_MERGE packs of a level into one of the next, like an LSM
 * tree: each unit is compiled at most PACK_LEVELS + 1 times.
 */
export class WasmRuntime {
  private readonly table: WebAssembly.Table;
  private readonly call: UnitCaller;
  private readonly free: number[] = [];
  /** the unit in each slot, for the dispatcher to learn where a chain ended */
  private readonly units: (WeakRef<object> | undefined)[] = [];
  /** each live unit's function body, by slot (undefined once invalidated or collected) */
  private readonly bodies: (Uint8Array | undefined)[] = [];
  /** the pack whose module holds each slot's current function (0: its own module) */
  private readonly packOf: number[] = [];
  private loose: number[] = [];
  private readonly levels: Pack[][] = [];
  private packCounter = 0;
  /** modules compiled, for new units and packs */
  modulesCompiled = 0;
  /** modules not yet collected, and modules compiled since the last major GC this asked for */
  private liveModules = 0;
  private modulesSinceGc = 0;
  private readonly moduleCollected = new FinalizationRegistry<number>(() => { this.liveModules--; });
  /** modules compiled to pack units, and the units they held */
  packsCompiled = 0;
  unitsPacked = 0;
  /** each valid unit's entry RIP and its entry-cache meta bits (count, ENTRY_NEEDS_FLAGS), by slot */
  private readonly entryRips: (number | undefined)[] = [];
  private readonly entryMeta: number[] = [];
  /** the end of the generation window the entry cache's entries were made in (checkGenerationWindow) */
  private windowEnd = GENERATION_WINDOW;
  /** the ids of the instructions each slot's unit runs through `ex` */
  private readonly semanticsIds: number[][] = [];
  private readonly collected = new FinalizationRegistry<number>((slot) => {
    this.table.set(slot, null);
    this.units[slot] = undefined;
    this.invalidate(slot);
    this.imports.release(this.semanticsIds[slot]);
    this.semanticsIds[slot] = [];
    this.free.push(slot);
  });

  constructor(readonly env: WasmUnitEnvironment, readonly imports: WasmImports, readonly memory: WebAssembly.Memory, private readonly memoryPages: number) {
    const state = env.state;
    const bytes = encodeCaller({ state: state.base, entryCache: state.entryCache, memoryPages });
    const caller = new WebAssembly.Instance(new WebAssembly.Module(bytes), { h: { m: memory } });
    this.table = caller.exports.t as WebAssembly.Table;
    this.call = caller.exports.call as UnitCaller;
  }

  /**
   * Compiles translated units (each starting at its `rip`) into one module; returns, for each, the
   * function the dispatcher calls and its slot. PACK_LOOSE or more of them are a pack of their own;
   * fewer wait among the loose units to be packed.
   */
  instantiate(units: readonly { translation: WasmTranslation; rip: number }[]): { fn: UnitFunction; slot: number }[] {
    if (units.length === 0) return [];
    const exports = this.compile(units.map((unit) => unit.translation.body));
    const slots = units.map(({ translation, rip }, k) => {
      let slot = this.free.pop();
      if (slot === undefined) slot = this.table.grow(1);
      this.table.set(slot, exports[k]);
      this.bodies[slot] = translation.body;
      this.semanticsIds[slot] = translation.semanticsIds;
      this.packOf[slot] = 0;
      this.entryRips[slot] = rip;
      this.entryMeta[slot] = translation.entryCount | (translation.needsEntryFlags ? ENTRY_NEEDS_FLAGS : 0);
      return slot;
    });
    if (slots.length >= PACK_LOOSE) {
      this.file(this.newPack(slots), 0);
    } else {
      this.loose.push(...slots);
      if (this.loose.length >= PACK_LOOSE) {
        this.pack(this.loose, 0);
        this.loose = [];
      }
    }
    return units.map(({ translation }, k) => ({ fn: wrap(translation, this, this.call, slots[k]), slot: slots[k] }));
  }

  /** One module holding `bodies`; its exports, function k as "k". */
  private compile(bodies: Uint8Array[]): Record<string, unknown> {
    this.modulesCompiled++;
    if (++this.modulesSinceGc >= LIVE_MODULES_GC && this.liveModules >= LIVE_MODULES_GC && collectGarbage !== null) {
      this.modulesSinceGc = 0;
      collectGarbage();
    }
    const module = new WebAssembly.Module(encodeUnitModule(bodies, this.memoryPages));
    const imports = this.imports;
    const instance = new WebAssembly.Instance(module, { h: { m: this.memory, rd: imports.rd, wr: imports.wr, fault: imports.fault, ex: imports.ex, tsc: imports.tsc } });
    this.liveModules++;
    this.moduleCollected.register(instance, 0);
    return instance.exports;
  }

  /** Too many modules are alive for another one (see MAX_LIVE_MODULES): compile JavaScript units for now. */
  get full(): boolean {
    return this.liveModules >= MAX_LIVE_MODULES;
  }

  private newPack(slots: number[]): Pack {
    const pack: Pack = { id: ++this.packCounter, slots };
    for (const slot of slots) this.packOf[slot] = pack.id;
    return pack;
  }

  /** Remembers `unit` as the holder of `slot`, and frees the slot when the unit is collected. */
  track(unit: object, slot: number): void {
    this.units[slot] = new WeakRef(unit);
    this.collected.register(unit, slot);
  }

  /** The unit in `slot` must not be chained to any more (its code was overwritten or dropped). */
  invalidate(slot: number): void {
    const rip = this.entryRips[slot];
    if (rip !== undefined) {
      const at = entryIndex(rip | 0) * (ENTRY_CACHE_BYTES / 4), entries = this.env.state.entries;
      if (entries[at + 2] === slot + 1) entries.fill(0, at, at + 4);
      this.entryRips[slot] = undefined;
    }
    // nor called (the dispatcher calls only valid units): its module may go as soon as nothing else holds it
    this.table.set(slot, null);
    // nor packed again (its function stays in the table, and its module alive, until it is collected)
    this.bodies[slot] = undefined;
  }

  /**
   * Packs `slots` (units alone, or the packs of `level` - 1) into a pack of `level`, or with the
   * packs already at that level into one of the next when there would be PACK_MERGE of them.
   */
  private pack(slots: number[], level: number): void {
    const packs = (this.levels[level] ??= []);
    if (packs.length + 1 >= PACK_MERGE && level + 1 < PACK_LEVELS) {
      this.levels[level] = [];
      this.pack([...this.liveSlots(packs), ...slots], level + 1);
      return;
    }
    // only units still alive, each once (a slot freed and reused is among the new units)
    const live = slots.filter((slot) => this.bodies[slot] !== undefined);
    if (live.length === 0) return;
    const exports = this.compile(live.map((slot) => this.bodies[slot]!));
    live.forEach((slot, k) => this.table.set(slot, exports[k]));
    packs.push(this.newPack(live));
    this.packsCompiled++;
    this.unitsPacked += live.length;
  }

  /** Files `pack` (compiled already) at `level`, merging that level into the next when it is full. */
  private file(pack: Pack, level: number): void {
    const packs = (this.levels[level] ??= []);
    packs.push(pack);
    if (packs.length >= PACK_MERGE && level + 1 < PACK_LEVELS) {
      this.levels[level] = [];
      this.pack(this.liveSlots(packs), level + 1);
    }
  }

  /** The slots whose current functions `packs` hold and whose units are alive. */
  private liveSlots(packs: Pack[]): number[] {
    const live: number[] = [];
    for (const pack of packs) for (const slot of pack.slots) if (this.packOf[slot] === pack.id && this.bodies[slot] !== undefined) live.push(slot);
    return live;
  }

  /** The unit in `slot` starts at `rip` (while the MMU is in `generation`): the caller loop may go on to it. */
  remember(rip: number, slot: number, generation: number, mode: number): void {
    if (this.entryRips[slot] !== rip) return; // dropped (its slot's entry must stay clear)
    this.checkGenerationWindow(generation);
    const at = entryIndex(rip | 0) * (ENTRY_CACHE_BYTES / 4);
    const entries = this.env.state.entries;
    const hi = Math.floor(rip / 4294967296);
    entries[at] = rip - hi * 4294967296;
    entries[at + 1] = hi;
    entries[at + 2] = slot + 1;
    entries[at + 3] = this.entryMeta[slot] | (entryKey(generation, mode) << ENTRY_GENERATION_SHIFT);
  }

  /**
   * Entries keep the MMU generation modulo GENERATION_WINDOW: the cache is emptied when the
   * generation enters a new window, so that an old entry can never match a later generation.
   */
  checkGenerationWindow(generation: number): void {
    if (generation >= this.windowEnd || generation < this.windowEnd - GENERATION_WINDOW) {
      this.env.state.entries.fill(0);
      this.windowEnd = (Math.floor(generation / GENERATION_WINDOW) + 1) * GENERATION_WINDOW;
    }
  }

  /** The unit the last call ended in (it may have chained on from the one called), or undefined. */
  lastUnit(): object | undefined {
    return this.units[this.env.state.words[I_LAST]]?.deref();
  }

  /** Unit-to-unit transitions the caller made since the last call of this (then resets the count). */
  takeChained(): number {
    const words = this.env.state.words, n = words[I_CHAINED];
    words[I_CHAINED] = 0;
    return n;
  }
}

function wrap(translation: WasmTranslation, runtime: WasmRuntime, call: UnitCaller, slot: number): UnitFunction {
  const { env, imports } = runtime;
  const { cpu, state, jit } = env;
  const words = state.words, mmu = cpu.mmu;
  const { needsEntryFlags } = translation;
  return function wasmUnit(budget: number): number {
    if (needsEntryFlags) words[I_ENTRY] = cpu.getFlags() & ARITHMETIC;
    // CR0, CR4 and the MMU's generation cannot change while units run (what changes them is left to the interpreter)
    words[I_SSE] = (cpu.cr0 & (CR0_EM | CR0_TS)) === 0 && (cpu.cr4 & CR4_OSFXSR) !== 0 ? 1 : 0;
    runtime.checkGenerationWindow(mmu.generation);
    words[I_GENERATION] = entryKey(mmu.generation, cpu.mode);
    words[I_DIRECTION] = (cpu.flags & DF) !== 0 ? 1 : 0;
    words[I_BREAK] = 0;
    words[I_OP] = -1;
    const callBudget = budget > MAX_BUDGET ? MAX_BUDGET : budget;
    imports.callBudget = callBudget;
    const exit = call(slot, callBudget, mmu.readTagAddress, mmu.writeTagAddress, mmu.fastBaseAddress);
    takeFlagsRecord(words, cpu);
    // an exit and a fault both leave RIP and the count (a fault's: of the faulting instruction)
    cpu.retired += words[I_RETIRED];
    cpu.rip = words[I_RIP + 1] * 4294967296 + (words[I_RIP] >>> 0);
    if (exit < 0) jit.fault = imports.pending();
    return exit;
  };
}
