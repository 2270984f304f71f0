// The MMU's software TLB: one direct-mapped set of TLB_SIZE entries, indexed by the low bits of the
// linear page number ((linear >>> 12) & TLB_MASK, which is right for negative canonical addresses
// too) and tagged with the full linear page base (linear - (linear & 0xfff)) in Float64Arrays,
// since 64-bit page bases are neither int32 nor non-negative.
//
// Each entry holds two levels of information:
//  - the translation itself (pageTag, physBase, perms, pageShift): what the slow path and
//    translate() use; perms are the rights of the privilege level the set belongs to;
//  - three fast-path tags (readTag, writeTag, execTag) plus fastBase, the RAM offset of the page.
//    A fast tag equals pageTag only when that access can go straight to `ram`/`view`: the page is
//    plain RAM below PhysicalMemory.fastEnd, the right is granted (write: also D already set), and
//    for writes the page is not a code page. Otherwise it holds INVALID_TAG, so the one comparison
//    `tag[index] === pageBase` is the whole hot-path check.
// The MMU keeps two sets, supervisor and user, and points its hot-path fields at the one for the
// current CPL, so a privilege change costs a few field stores instead of a flush.

import type { PhysicalMemory } from "./memory.js";

export const TLB_BITS = 12;
export const TLB_SIZE = 1 << TLB_BITS;
export const TLB_MASK = TLB_SIZE - 1;
/** Never equal to a page base (those are multiples of 4096). */
export const INVALID_TAG = -1;

export const PERM_READ = 1;
export const PERM_WRITE = 2;
export const PERM_EXEC = 4;
/** a global translation (G bit with CR4.PGE): survives CR3 reloads */
export const PERM_GLOBAL = 8;

const TWO_21 = 2 ** 21;
const TWO_22 = 2 ** 22;
const TWO_30 = 2 ** 30;

/** The fast path addresses RAM through an Int32Array offset: pages must end at or below 2^31. */
const FAST_LIMIT = 2 ** 31;

/** A Float64Array of TLB_SIZE tags in the memory's state area, all invalid. */
export function stateTags(memory: PhysicalMemory): Float64Array {
  return new Float64Array(memory.buffer, memory.allocateState(TLB_SIZE * 8), TLB_SIZE).fill(INVALID_TAG);
}

export class TlbSet {
  // readTag, writeTag and fastBase live in the memory's state area, where WebAssembly units read them
  declare readonly readTag: Float64Array;
  declare readonly writeTag: Float64Array;
  readonly execTag = new Float64Array(TLB_SIZE).fill(INVALID_TAG);
  /** RAM offset (= physical address) of the page, valid where a fast tag is */
  declare readonly fastBase: Int32Array;

  /** linear page base of the cached translation, or INVALID_TAG */
  readonly pageTag = new Float64Array(TLB_SIZE).fill(INVALID_TAG);
  /** physical address of the 4 KiB page */
  readonly physBase = new Float64Array(TLB_SIZE);
  /** PERM_* bits */
  readonly perms = new Uint8Array(TLB_SIZE);
  /** log2 of the size of the page the translation came from: 12, 21 (2M), 22 (4M) or 30 (1G) */
  readonly pageShift = new Uint8Array(TLB_SIZE);

  // Indices that may hold something, so flushes cost O(entries used), not O(TLB_SIZE).
  private readonly listed = new Uint8Array(TLB_SIZE);
  private readonly list = new Int32Array(TLB_SIZE);
  private count = 0;
  /**
   * Large pages some entry was split from, as "maybe cached" flags per large page number modulo the
   * array size (2 MiB, 4 MiB and 1 GiB pages). INVLPG of an address whose large page is flagged
   * drops every 4 KiB piece of that large page. A flag may be stale or shared, which only costs a
   * useless search; it is never missing for a cached piece.
   */
  private readonly large2M = new Uint8Array(4096);
  private readonly large4M = new Uint8Array(1024);
  private readonly large1G = new Uint8Array(512);
  private largeFlagged = false;

  private declare readonly memory: PhysicalMemory;

  constructor(memory: PhysicalMemory) {
    this.memory = memory;
    this.readTag = stateTags(memory);
    this.writeTag = stateTags(memory);
    this.fastBase = new Int32Array(memory.buffer, memory.allocateState(TLB_SIZE * 4), TLB_SIZE);
  }

  /** Installs a translation at `index` and its fast tags. */
  fill(index: number, pageBase: number, physBase: number, perms: number, pageShift: number): void {
    this.pageTag[index] = pageBase;
    this.physBase[index] = physBase;
    this.perms[index] = perms;
    this.pageShift[index] = pageShift;
    if (this.listed[index] === 0) {
      this.listed[index] = 1;
      this.list[this.count++] = index;
    }
    if (pageShift > 12) this.flagLarge(pageBase, pageShift);
    this.installFast(index);
  }

  /** (Re)derives the fast tags of entry `index` from its translation and the memory layout. */
  installFast(index: number): void {
    const tag = this.pageTag[index]!;
    const phys = this.physBase[index]!;
    const perms = this.perms[index]!;
    const memory = this.memory;
    if (tag === INVALID_TAG || phys + 4096 > memory.fastEnd || phys + 4096 > FAST_LIMIT) {
      this.readTag[index] = INVALID_TAG;
      this.writeTag[index] = INVALID_TAG;
      this.execTag[index] = INVALID_TAG;
      return;
    }
    this.fastBase[index] = phys;
    this.readTag[index] = perms & PERM_READ ? tag : INVALID_TAG;
    this.writeTag[index] = perms & PERM_WRITE && memory.codePages[phys >>> 12] === 0 ? tag : INVALID_TAG;
    this.execTag[index] = perms & PERM_EXEC ? tag : INVALID_TAG;
  }

  invalidateIndex(index: number): void {
    this.pageTag[index] = INVALID_TAG;
    this.readTag[index] = INVALID_TAG;
    this.writeTag[index] = INVALID_TAG;
    this.execTag[index] = INVALID_TAG;
    this.perms[index] = 0;
  }

  /** INVLPG: drops the translation of the page holding `linear`, and of the large page holding it. */
  invalidateLinear(linear: number): void {
    const index = (linear >>> 12) & TLB_MASK;
    if (this.pageTag[index] === linear - (linear & 0xfff)) this.invalidateIndex(index);
    if (!this.largeFlagged) return;
    if (this.large2M[Math.floor(linear / TWO_21) & 4095] !== 0) this.invalidateLargePage(linear, 21);
    if (this.large4M[(linear >>> 22) & 1023] !== 0) this.invalidateLargePage(linear, 22);
    if (this.large1G[Math.floor(linear / TWO_30) & 511] !== 0) this.invalidateLargePage(linear, 30);
  }

  /** Flushes every entry, or every non-global one. */
  flush(keepGlobal: boolean): void {
    let kept = 0;
    const flagged = this.largeFlagged;
    this.largeFlagged = false;
    for (let k = 0; k < this.count; k++) {
      const i = this.list[k]!;
      const tag = this.pageTag[i]!;
      const shift = this.pageShift[i]!;
      if (keepGlobal && this.perms[i]! & PERM_GLOBAL && tag !== INVALID_TAG) {
        this.list[kept++] = i;
        if (shift > 12) this.largeFlagged = true;
        continue;
      }
      // Clear the large-page flag of dropped pieces (kept global pieces set theirs again below).
      if (flagged && shift > 12 && tag !== INVALID_TAG) this.setLargeFlag(tag, shift, 0);
      this.invalidateIndex(i);
      this.listed[i] = 0;
    }
    this.count = kept;
    if (this.largeFlagged) {
      for (let k = 0; k < kept; k++) {
        const i = this.list[k]!;
        if (this.pageShift[i]! > 12) this.setLargeFlag(this.pageTag[i]!, this.pageShift[i]!, 1);
      }
    }
  }

  private flagLarge(linear: number, shift: number): void {
    this.setLargeFlag(linear, shift, 1);
    this.largeFlagged = true;
  }

  private setLargeFlag(linear: number, shift: number, value: number): void {
    const slot = this.largeSlot(linear, shift);
    if (shift === 21) this.large2M[slot] = value;
    else if (shift === 22) this.large4M[slot] = value;
    else this.large1G[slot] = value;
  }

  /** Drops every entry split from the large page of size 2^shift holding `linear`. */
  private invalidateLargePage(linear: number, shift: number): void {
    const size = shift === 21 ? TWO_21 : shift === 22 ? TWO_22 : TWO_30;
    const base = Math.floor(linear / size) * size;
    const end = base + size;
    const pieces = size / 4096;
    if (pieces < this.count) {
      // Each 4 KiB piece can only sit at its own index.
      for (let pageBase = base; pageBase < end; pageBase += 4096) {
        const index = (pageBase >>> 12) & TLB_MASK;
        if (this.pageTag[index] === pageBase) this.invalidateIndex(index);
      }
      return;
    }
    // Fewer entries than pieces: scan them. The flag may be cleared when no other piece of a page
    // of this size is cached (a cheap, conservative stand-in for "no other page shares the flag").
    let others = false;
    for (let k = 0; k < this.count; k++) {
      const i = this.list[k]!;
      const tag = this.pageTag[i]!;
      if (tag === INVALID_TAG) continue;
      if (tag >= base && tag < end) this.invalidateIndex(i);
      else if (this.pageShift[i] === shift) others = true;
    }
    if (!others) this.setLargeFlag(linear, shift, 0);
  }

  private largeSlot(linear: number, shift: number): number {
    return shift === 21 ? Math.floor(linear / TWO_21) & 4095 : shift === 22 ? (linear >>> 22) & 1023 : Math.floor(linear / TWO_30) & 511;
  }

  /** Drops the fast write tags of entries mapping physical page `ppn` (it became a code page). */
  dropFastWrites(ppn: number): void {
    for (let k = 0; k < this.count; k++) {
      const i = this.list[k]!;
      if (this.writeTag[i] !== INVALID_TAG && this.fastBase[i]! >>> 12 === ppn) this.writeTag[i] = INVALID_TAG;
    }
  }

  /** Re-derives every fast tag (the MMIO layout changed). */
  refreshFast(): void {
    for (let k = 0; k < this.count; k++) this.installFast(this.list[k]!);
  }

  /** Number of entries holding a translation (for statistics and tests). */
  get size(): number {
    let n = 0;
    for (let k = 0; k < this.count; k++) if (this.pageTag[this.list[k]!] !== INVALID_TAG) n++;
    return n;
  }
}
