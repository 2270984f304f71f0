// Where a WebAssembly unit and its JS wrapper meet in the machine's state area (memory.ts): what a
// unit leaves on exit (next RIP, instructions retired, the flags it produced, the faulting
// instruction) and the value a slow-path read hands back. Offsets are from the area's base.
import type { PhysicalMemory } from "../../machine/memory.js";

/** next RIP (i64) on exits whose target is computed (returns, indirect branches) */
export const EXIT_RIP = 0;
/** instructions retired by this call, before the exit (i32) */
export const EXIT_RETIRED = 8;
/** -1: flags untouched; 0: FLAGS_WORD holds the six arithmetic flags; > 0: a LAZY_* record */
export const FLAGS_OP = 12;
export const FLAGS_SIZE = 16;
/** the arithmetic flags (op 0), or CF as 0/1 for INC/DEC records */
export const FLAGS_WORD = 20;
export const FLAGS_A = 24;
export const FLAGS_B = 32;
export const FLAGS_R = 40;
/** a slow-path read's value (i64) */
export const SCRATCH = 48;
/** the CPU's arithmetic flags at entry, for units whose entry block reads them (i32) */
export const ENTRY_FLAGS = 56;
/** 1 while SSE instructions may run (CR0.EM and CR0.TS clear, CR4.OSFXSR set) (i32) */
export const SSE_READY = 64;
/** the MMU's generation during this call: links made in another are not followed (i32) */
export const CURRENT_GENERATION = 68;
/** set by every slow-path helper: the caller loop returns to JS after the unit that called it (i32) */
export const BREAK_CHAIN = 72;
/** the table slot of the last unit the caller loop ran (i32) */
export const LAST_SLOT = 76;
/** transitions the caller loop made from one unit to the next without returning to JS (i32, JS resets it) */
export const CHAINED = 80;
/** the CPU's DF (i32 0/1): the wrapper writes it for each call, `ex` after each instruction it runs */
export const DIRECTION = 88;
export const WASM_STATE_BYTES = 96;

/** Units whose slot is below this are described in the slot table (and may be chained to). */
export const CHAIN_SLOTS = 8192;
/** per slot: entry RIP (i64), entry block's instruction count (i32), SLOT_* bits (i32) */
export const SLOT_ENTRY_BYTES = 16;
export const SLOT_VALID = 1;
export const SLOT_NEEDS_ENTRY_FLAGS = 2;
/**
 * The entry cache: direct-mapped by a hash of the RIP (entryIndex); per entry: the slot of a unit
 * that starts there, and the MMU generation it was entered in. The dispatcher fills it with every
 * WebAssembly unit it runs; the caller loop checks the slot's RIP.
 */
export const ENTRY_CACHE_ENTRIES = 65536;
export const ENTRY_CACHE_BYTES = 8;

/** The entry cache's index for a RIP (its low 32 bits, `ripLow`, as int32). */
export function entryIndex(ripLow: number): number {
  return (ripLow ^ (ripLow >>> 16)) & (ENTRY_CACHE_ENTRIES - 1);
}

/** The exit area, slot table and link cache of one engine: their offsets and int32 views. */
export class WasmState {
  readonly base: number;
  readonly words: Int32Array;
  readonly slotTable: number;
  readonly slots: Int32Array;
  readonly entryCache: number;
  readonly entries: Int32Array;

  /** One per machine: a new engine takes it over empty (slots name functions in the old engine's table). */
  constructor(memory: PhysicalMemory) {
    this.base = memory.namedState("wasm exit area", WASM_STATE_BYTES);
    this.words = new Int32Array(memory.buffer, this.base, WASM_STATE_BYTES / 4).fill(0);
    this.slotTable = memory.namedState("wasm slot table", CHAIN_SLOTS * SLOT_ENTRY_BYTES);
    this.slots = new Int32Array(memory.buffer, this.slotTable, (CHAIN_SLOTS * SLOT_ENTRY_BYTES) / 4).fill(0);
    this.entryCache = memory.namedState("wasm entry cache", ENTRY_CACHE_ENTRIES * ENTRY_CACHE_BYTES);
    this.entries = new Int32Array(memory.buffer, this.entryCache, (ENTRY_CACHE_ENTRIES * ENTRY_CACHE_BYTES) / 4).fill(0);
  }
}
