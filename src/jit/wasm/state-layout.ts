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
/** the MMU's generation and CPU mode during this call (wasm-unit.ts, entryKey): entries made under others are not followed (i32) */
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

/**
 * The entry cache: direct-mapped by a hash of the RIP (entryIndex). An entry is one 16-byte record
 * (the cache starts at a cache line), so the caller loop's lookup touches one line: a separate slot
 * table cost a second cache miss per transition (both tables are larger than the host's caches,
 * and the request path's lookups scatter over them). Per entry:
 *   +0  the RIP (i64) a unit starts at
 *   +8  its table slot + 1 (i32; 0: empty)
 *   +12 its entry block's instruction count (bits 0–7), ENTRY_NEEDS_FLAGS, and the MMU generation
 *       the entry was made in with the CPU mode (bits 9–31: wasm-unit.ts, entryKey)
 * The dispatcher fills it with every WebAssembly unit it runs; dropping a unit clears its entry, and
 * the whole cache is emptied when the generation leaves the window the field can tell apart.
 */
export const ENTRY_CACHE_ENTRIES = 32768;
export const ENTRY_CACHE_BYTES = 16;
export const ENTRY_SLOT = 8;
export const ENTRY_META = 12;
export const ENTRY_COUNT_MASK = 0xff;
export const ENTRY_NEEDS_FLAGS = 0x100;
export const ENTRY_GENERATION_SHIFT = 9;
export const ENTRY_GENERATION_BITS = 23;

/** The entry cache's index for a RIP (its low 32 bits, `ripLow`, as int32). */
export function entryIndex(ripLow: number): number {
  return (ripLow ^ (ripLow >>> 16)) & (ENTRY_CACHE_ENTRIES - 1);
}

/** The exit area and entry cache of one engine: their offsets and int32 views. */
export class WasmState {
  readonly base: number;
  readonly words: Int32Array;
  readonly entryCache: number;
  readonly entries: Int32Array;

  /** One per machine: a new engine takes it over empty (slots name functions in the old engine's table). */
  constructor(memory: PhysicalMemory) {
    this.base = memory.namedState("wasm exit area", WASM_STATE_BYTES);
    this.words = new Int32Array(memory.buffer, this.base, WASM_STATE_BYTES / 4).fill(0);
    this.entryCache = memory.namedState("wasm entry cache", ENTRY_CACHE_ENTRIES * ENTRY_CACHE_BYTES, 64);
    this.entries = new Int32Array(memory.buffer, this.entryCache, (ENTRY_CACHE_ENTRIES * ENTRY_CACHE_BYTES) / 4).fill(0);
  }
}
