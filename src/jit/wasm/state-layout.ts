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
/** the index of the instruction that faulted (i32) */
export const FAULT_INDEX = 60;
/** 1 while SSE instructions may run (CR0.EM and CR0.TS clear, CR4.OSFXSR set), for units that use them (i32) */
export const SSE_READY = 64;
export const WASM_STATE_BYTES = 72;

/** The exit area of one engine: its base offset and int32 view. */
export class WasmState {
  readonly base: number;
  readonly words: Int32Array;

  constructor(memory: PhysicalMemory) {
    this.base = memory.allocateState(WASM_STATE_BYTES);
    this.words = new Int32Array(memory.buffer, this.base, WASM_STATE_BYTES / 4);
  }
}
