// Compiled units by physical address, and by the physical pages their code lies in so a write to
// guest code drops exactly the units it overlaps.
import type { CpuMode, Instruction } from "../decoder/decode.js";
import type { ExitInfo } from "./unit-writer.js";

export type UnitFunction = (budget: number) => number;

export class Unit {
  valid = true;
  /** the unit each exit led to last time, and the MMU generation that link was made in */
  readonly links: Array<Unit | undefined>;
  linkGeneration = -1;
  /** a WebAssembly unit's slot in its engine's function table, or -1 */
  wasmSlot = -1;
  /** a 32-bit WebAssembly unit: runs only while the segments are flat (engine.ts, flat32) */
  needsFlat = false;
  /**
   * The linear page its code reaches into past its own (an instruction that crosses the page
   * boundary), or -1: the unit runs only while that page still maps to the physical page after its
   * own, as when it was decoded (engine.ts, nextPageHolds).
   */
  nextPage = -1;
  /** a WebAssembly unit's module, kept for --jit-dump (null otherwise) */
  wasmModule: Uint8Array | null = null;

  constructor(
    /** null: the entry instruction is left to the interpreter */
    readonly fn: UnitFunction | null,
    readonly rip: number,
    readonly physical: number,
    readonly mode: CpuMode,
    /** instructions of the entry block: a call needs at least this much budget */
    readonly entryCount: number,
    /** physical [start, end) of every block */
    readonly ranges: number[],
    readonly exits: ExitInfo[],
    readonly instructions: Instruction[],
    /** linear address of each instruction */
    readonly rips: Float64Array,
    readonly blockCount: number,
    readonly source: string,
    readonly name: string,
    /** the source map (JSON) from generated lines to guest instructions */
    readonly map: string,
  ) {
    this.links = new Array<Unit | undefined>(exits.length).fill(undefined);
  }
}

export class CodeCache {
  private readonly units = new Map<number, Unit>();
  private readonly pages = new Map<number, Set<Unit>>();
  /** total generated source, bytes */
  sourceBytes = 0;
  invalidations = 0;

  get size(): number {
    return this.units.size;
  }

  all(): IterableIterator<Unit> {
    return this.units.values();
  }

  get(physical: number): Unit | undefined {
    return this.units.get(physical);
  }

  add(unit: Unit): void {
    const old = this.units.get(unit.physical);
    if (old !== undefined) this.remove(old);
    this.units.set(unit.physical, unit);
    this.sourceBytes += unit.source.length;
    for (let k = 0; k < unit.ranges.length; k += 2) {
      const first = Math.floor(unit.ranges[k] / 4096), last = Math.floor((unit.ranges[k + 1] - 1) / 4096);
      for (let page = first; page <= last; page++) {
        let set = this.pages.get(page);
        if (set === undefined) this.pages.set(page, (set = new Set()));
        set.add(unit);
      }
    }
  }

  private remove(unit: Unit): void {
    unit.valid = false;
    if (this.units.get(unit.physical) === unit) this.units.delete(unit.physical);
    this.sourceBytes -= unit.source.length;
    for (let k = 0; k < unit.ranges.length; k += 2) {
      const first = Math.floor(unit.ranges[k] / 4096), last = Math.floor((unit.ranges[k + 1] - 1) / 4096);
      for (let page = first; page <= last; page++) this.pages.get(page)?.delete(unit);
    }
  }

  /** Drops the units whose code overlaps [physical, physical + size); returns them. */
  invalidate(physical: number, size: number): Unit[] {
    const dropped: Unit[] = [];
    const end = physical + size;
    for (let page = Math.floor(physical / 4096); page * 4096 < end; page++) {
      const set = this.pages.get(page);
      if (set === undefined) continue;
      for (const unit of set) {
        for (let k = 0; k < unit.ranges.length; k += 2) {
          if (unit.ranges[k] < end && physical < unit.ranges[k + 1]) {
            dropped.push(unit);
            break;
          }
        }
      }
    }
    for (const unit of dropped) {
      if (unit.valid) this.invalidations++;
      this.remove(unit);
    }
    return dropped;
  }

  clear(): void {
    for (const unit of this.units.values()) unit.valid = false;
    this.units.clear();
    this.pages.clear();
    this.sourceBytes = 0;
  }
}
