// Linear -> physical translation (Intel SDM vol. 3, ch. 4) with a software TLB (tlb.ts).
//
// Paging modes, from CR0.PG, CR4.PAE and EFER.LMA: off (linear = physical), 32-bit 2-level (4 KiB
// pages, 4 MiB with CR4.PSE, PSE-36 address bits), PAE 3-level (4 KiB, 2 MiB; the four PDPTEs are
// loaded at CR3 writes, as the hardware does), 4-level (4 KiB, 2 MiB, 1 GiB). MAXPHYADDR is 40.
// Checked: P, R/W (supervisor writes only with CR0.WP), U/S (CPL 3 accesses), XD with EFER.NXE,
// SMEP, reserved bits (#PF with RSVD). Accessed bits are set on every entry walked and the dirty
// bit on the final entry of a write, when the translation succeeds; entries are written back only
// when they change. Not modelled: SMAP, protection keys, PCIDs, 5-level paging, PAT/caching types.
//
// Linear addresses are JS numbers: signed canonical in [-2^47, 2^47) in long mode, unsigned
// 32-bit otherwise. The hot-path accessors (read8..write32, fetch8, translateFetch) look the page
// up in the current TLB set's fast tags and touch `ram`/`view` directly; everything else (a miss,
// a permission the fast tag lacks, MMIO, code pages for writes, page-crossing accesses) goes to a
// slow path that uses the full entry or walks the tables, then accesses PhysicalMemory.
//
// Faults throw CpuException(#PF, errorCode) after storing the faulting linear address in
// `faultAddress` (the CPU copies it to CR2). Accesses spanning two pages translate both pages
// before touching memory, so a write that faults on its second page leaves the first untouched.
//
// The JIT may inline the hot path: `readTag[index] === linear - (linear & 0xfff)` with
// index = (linear >>> 12) & TLB_MASK, then `view.getUint32(fastBase[index] + (linear & 0xfff), true)`.
// readTag/writeTag/execTag/fastBase are swapped when `cpl` crosses between 3 and 0..2, so generated
// code must reload them after anything that can change CPL.

import { startAsDoubles } from "../util/representation.js";
import { PF_FETCH, PF_PRESENT, PF_RSVD, PF_USER, PF_WRITE, generalProtection, pageFault } from "./cpu-exception.js";
import type { PhysicalMemory, PhysicalMemoryObserver } from "./memory.js";
import { INVALID_TAG, PERM_EXEC, PERM_GLOBAL, PERM_READ, PERM_WRITE, TLB_BITS, TlbSet } from "./tlb.js";

export { TLB_BITS, TLB_MASK, TLB_SIZE } from "./tlb.js";

/** `access` argument of translate(). */
export const ACCESS_READ = 0;
export const ACCESS_WRITE = 1;
export const ACCESS_EXECUTE = 2;
export type Access = 0 | 1 | 2;

export const PAGING_OFF = 0;
export const PAGING_32 = 1;
export const PAGING_PAE = 2;
export const PAGING_4LEVEL = 3;
export type PagingMode = 0 | 1 | 2 | 3;

// Control bits this module reads.
const CR0_WP = 1 << 16;
const CR0_PG = 1 << 31;
const CR4_PSE = 1 << 4;
const CR4_PAE = 1 << 5;
const CR4_PGE = 1 << 7;
const CR4_SMEP = 1 << 20;
const EFER_LMA = 1 << 10;
const EFER_NXE = 1 << 11;

// Paging-structure entry bits (low dword).
const PTE_P = 1 << 0;
const PTE_RW = 1 << 1;
const PTE_US = 1 << 2;
const PTE_A = 1 << 5;
const PTE_D = 1 << 6;
const PTE_PS = 1 << 7;
const PTE_G = 1 << 8;
/** walk-internal: "no XD bit on any level" (bit 9 is software-available in entries, never copied) */
const RIGHT_EXEC = 1 << 9;

const TWO_32 = 2 ** 32;
/** MAXPHYADDR = 40: bits 51:40 of a 64-bit entry (high dword bits 19:8) are reserved. */
const HIGH_ADDRESS_MASK = 0xff;
const HIGH_RESERVED = 0x000fff00;
/** bit 63 (XD) of a 64-bit entry, in the high dword */
const HIGH_XD = 0x80000000 | 0;
/** the 4 KiB frame address bits of a low dword */
const LOW_FRAME = 0xfffff000 | 0;

/**
 * A local copy of tlb.ts's TLB_MASK: the hot path must see a constant, and an imported binding is
 * a module-variable load (or, under CJS interop, a getter call) on every access.
 */
const TLB_MASK = (1 << 12) - 1;
if (TLB_MASK !== (1 << TLB_BITS) - 1) throw new Error("paging.ts: TLB_MASK out of sync with tlb.ts");

/** Offset bits of a page mapped at each 4-level level (PT 4K, PD 2M, PDPT 1G); PML4 maps none. */
const LEVEL_PAGE_MASK = Int32Array.of(0xfff, 0x1fffff, 0x3fffffff, 0);

/** translate()'s `access` argument as a PERM_* bit */
const ACCESS_PERM = [PERM_READ, PERM_WRITE, PERM_EXEC] as const;

export class Mmu implements PhysicalMemoryObserver {
  // ---- hot-path state (the current privilege level's TLB set) --------------------------------
  // `declare`: assigned first in the constructor, so V8 sees one type per field from the start
  // (an emitted `field;` declaration would store undefined first and make every load check the map).
  declare readTag: Float64Array;
  declare writeTag: Float64Array;
  declare execTag: Float64Array;
  declare fastBase: Int32Array;
  /**
   * Byte offsets of readTag, writeTag and fastBase in the memory's buffer, for WebAssembly units
   * (reading a typed array's byteOffset costs far more than a field: these follow every swap).
   */
  declare readTagAddress: number;
  declare writeTagAddress: number;
  declare fastBaseAddress: number;
  declare readonly ram: Uint8Array;
  declare readonly view: DataView;

  /** linear address of the last page fault (CR2) */
  faultAddress = 0;
  /** high dword of the last read64 */
  hi = 0;

  // ---- control state -------------------------------------------------------------------------
  cr0 = 0;
  cr3 = 0;
  cr4 = 0;
  efer = 0;
  /** PAGING_OFF / PAGING_32 / PAGING_PAE / PAGING_4LEVEL */
  pagingMode: PagingMode = PAGING_OFF;
  private writeProtect = false;
  private noExecute = false;
  private pse = false;
  private pge = false;
  private smep = false;
  /** physical base of the top-level table (PML4, PD, or the PAE PDPT) */
  private tableBase = 0;
  /** PAE: the four PDPTEs, loaded at CR3 writes */
  private readonly pdpteLo = new Int32Array(4);
  private readonly pdpteHi = new Int32Array(4);
  /** reserved bits of the high dword of 64-bit entries (XD is reserved while NXE = 0) */
  private highReserved = HIGH_RESERVED | HIGH_XD;

  private privilege = 0;
  private declare readonly supervisorTlb: TlbSet;
  private declare readonly userTlb: TlbSet;
  private declare tlb: TlbSet;

  // ---- walk results and scratch (no allocation per walk) -------------------------------------
  private walkPhys = 0;
  private walkPerms = 0;
  private walkShift = 12;
  private walkError = 0;
  private readonly walkEntries = new Float64Array(4);
  private walkDepth = 0;

  /** page walks done (TLB misses), for statistics */
  walks = 0;
  /** when set, the linear page of every walk is appended (the JIT's check mode undoes what a run's walks set) */
  walkLog: number[] | null = null;

  declare readonly memory: PhysicalMemory;

  constructor(memory: PhysicalMemory) {
    startAsDoubles(this, ["hi", "faultAddress"]);
    this.memory = memory;
    this.ram = memory.ram;
    this.view = memory.view;
    this.supervisorTlb = new TlbSet(memory);
    this.userTlb = new TlbSet(memory);
    this.tlb = this.supervisorTlb;
    this.readTag = this.tlb.readTag;
    this.writeTag = this.tlb.writeTag;
    this.readTagAddress = this.readTag.byteOffset;
    this.writeTagAddress = this.writeTag.byteOffset;
    this.execTag = this.tlb.execTag;
    this.fastBase = this.tlb.fastBase;
    this.fastBaseAddress = this.fastBase.byteOffset;
    memory.addObserver(this);
  }

  /**
   * Bumped whenever cached translations may change (flushes, INVLPG, a switch between the user and
   * supervisor sets): whoever caches linear → physical answers of its own (the JIT's links between
   * compiled blocks) compares it.
   */
  generation = 0;

  /** Current privilege level 0..3: 3 makes accesses user-mode accesses. */
  get cpl(): number {
    return this.privilege;
  }

  set cpl(value: number) {
    this.privilege = value;
    const tlb = value === 3 ? this.userTlb : this.supervisorTlb;
    if (tlb !== this.tlb) {
      this.generation++;
      this.tlb = tlb;
      this.readTag = tlb.readTag;
      this.writeTag = tlb.writeTag;
      this.readTagAddress = tlb.readTag.byteOffset;
      this.writeTagAddress = tlb.writeTag.byteOffset;
      this.execTag = tlb.execTag;
      this.fastBase = tlb.fastBase;
      this.fastBaseAddress = tlb.fastBase.byteOffset;
    }
  }

  // ---- control registers ---------------------------------------------------------------------

  /**
   * Takes the current CR0, CR3, CR4 and EFER (EFER.LMA already derived). Cheap when nothing that
   * affects translation changed (the CPU may call it on every mode change). Changing CR3 flushes the
   * non-global entries; changing PG, WP, PAE, PSE, PGE, SMEP, NXE or LMA flushes everything. In PAE
   * mode it (re)loads the PDPTEs and throws #GP(0), changing nothing, when a present one has
   * reserved bits set: call it before committing the new register values.
   */
  setControl(cr0: number, cr3: number, cr4: number, efer: number): void {
    const mode = this.modeOf(cr0, cr4, efer);
    const relevant0 = cr0 & (CR0_PG | CR0_WP);
    const relevant4 = cr4 & (CR4_PSE | CR4_PAE | CR4_PGE | CR4_SMEP);
    const relevantEfer = efer & (EFER_NXE | EFER_LMA);
    const modeChanged =
      mode !== this.pagingMode ||
      relevant0 !== (this.cr0 & (CR0_PG | CR0_WP)) ||
      relevant4 !== (this.cr4 & (CR4_PSE | CR4_PAE | CR4_PGE | CR4_SMEP)) ||
      relevantEfer !== (this.efer & (EFER_NXE | EFER_LMA));
    const cr3Changed = cr3 !== this.cr3;
    if (mode === PAGING_PAE && (modeChanged || cr3Changed)) this.loadPdptes(cr3);
    this.cr0 = cr0;
    this.cr3 = cr3;
    this.cr4 = cr4;
    this.efer = efer;
    if (!modeChanged && !cr3Changed) return;
    this.pagingMode = mode;
    this.writeProtect = (cr0 & CR0_WP) !== 0;
    this.noExecute = (efer & EFER_NXE) !== 0;
    this.pse = (cr4 & CR4_PSE) !== 0;
    this.pge = (cr4 & CR4_PGE) !== 0;
    this.smep = (cr4 & CR4_SMEP) !== 0;
    this.highReserved = HIGH_RESERVED | (this.noExecute ? 0 : HIGH_XD);
    this.tableBase = this.tableBaseOf(cr3, mode);
    if (modeChanged) this.flush();
    else this.flushNonGlobal();
  }

  /**
   * MOV to CR3: always flushes the non-global translations (even when the value is unchanged) and,
   * in PAE mode, reloads the PDPTEs (#GP(0), changing nothing, on reserved bits).
   */
  writeCr3(cr3: number): void {
    if (this.pagingMode === PAGING_PAE) this.loadPdptes(cr3);
    this.cr3 = cr3;
    this.tableBase = this.tableBaseOf(cr3, this.pagingMode);
    this.flushNonGlobal();
  }

  /** INVLPG: drops the translation of the page holding `linear` (the whole page if it is large). */
  invalidatePage(linear: number): void {
    this.generation++;
    this.forgetTranslation(linear);
  }

  /**
   * Drops the cached translation of `linear`'s page (as INVLPG does) without telling the caches of
   * linear → physical answers: for when the mapping is the same but the TLB must walk again (the
   * accessed/dirty bits a walk set were undone).
   */
  forgetTranslation(linear: number): void {
    this.supervisorTlb.invalidateLinear(linear);
    this.userTlb.invalidateLinear(linear);
  }

  /** Drops every cached translation, global ones included. */
  flush(): void {
    this.generation++;
    this.supervisorTlb.flush(false);
    this.userTlb.flush(false);
  }

  /** Drops every non-global translation (what a CR3 load does). */
  flushNonGlobal(): void {
    this.generation++;
    this.supervisorTlb.flush(true);
    this.userTlb.flush(true);
  }

  /** Translations cached for the current privilege level (tests, statistics). */
  get tlbEntries(): number {
    return this.tlb.size;
  }

  // ---- PhysicalMemoryObserver ----------------------------------------------------------------

  codePageMarked(ppn: number): void {
    this.supervisorTlb.dropFastWrites(ppn);
    this.userTlb.dropFastWrites(ppn);
  }

  layoutChanged(): void {
    this.supervisorTlb.refreshFast();
    this.userTlb.refreshFast();
  }

  // ---- hot-path accessors --------------------------------------------------------------------

  read8(linear: number): number {
    const offset = linear & 0xfff;
    const index = (linear >>> 12) & TLB_MASK;
    if (this.readTag[index] === linear - offset) return this.ram[this.fastBase[index]! + offset]!;
    return this.memory.read8(this.translate(linear, ACCESS_READ));
  }

  read16(linear: number): number {
    const offset = linear & 0xfff;
    const index = (linear >>> 12) & TLB_MASK;
    if (this.readTag[index] === linear - offset && offset !== 0xfff) {
      return this.view.getUint16(this.fastBase[index]! + offset, true);
    }
    return this.readSlow(linear, 2);
  }

  read32(linear: number): number {
    const offset = linear & 0xfff;
    const index = (linear >>> 12) & TLB_MASK;
    if (this.readTag[index] === linear - offset && offset <= 0xffc) {
      return this.view.getUint32(this.fastBase[index]! + offset, true);
    }
    return this.readSlow(linear, 4);
  }

  /** Reads 8 bytes: returns the low dword (unsigned), leaves the high dword (unsigned) in `hi`. */
  read64(linear: number): number {
    const offset = linear & 0xfff;
    const index = (linear >>> 12) & TLB_MASK;
    if (this.readTag[index] === linear - offset && offset <= 0xff8) {
      const at = this.fastBase[index]! + offset;
      this.hi = this.view.getUint32(at + 4, true);
      return this.view.getUint32(at, true);
    }
    const lo = this.readSlow(linear, 4);
    this.hi = this.read32(this.nextLinear(linear, 4));
    return lo;
  }

  write8(linear: number, value: number): void {
    const offset = linear & 0xfff;
    const index = (linear >>> 12) & TLB_MASK;
    if (this.writeTag[index] === linear - offset) {
      this.ram[this.fastBase[index]! + offset] = value;
      return;
    }
    this.memory.write8(this.translate(linear, ACCESS_WRITE), value);
  }

  write16(linear: number, value: number): void {
    const offset = linear & 0xfff;
    const index = (linear >>> 12) & TLB_MASK;
    if (this.writeTag[index] === linear - offset && offset !== 0xfff) {
      this.view.setUint16(this.fastBase[index]! + offset, value, true);
      return;
    }
    this.writeSlow(linear, 2, value);
  }

  write32(linear: number, value: number): void {
    const offset = linear & 0xfff;
    const index = (linear >>> 12) & TLB_MASK;
    if (this.writeTag[index] === linear - offset && offset <= 0xffc) {
      this.view.setUint32(this.fastBase[index]! + offset, value, true);
      return;
    }
    this.writeSlow(linear, 4, value);
  }

  /** Writes 8 bytes given as two dwords (low first); both pages are checked before anything is written. */
  write64(linear: number, lo: number, hi: number): void {
    const offset = linear & 0xfff;
    const index = (linear >>> 12) & TLB_MASK;
    if (this.writeTag[index] === linear - offset && offset <= 0xff8) {
      const at = this.fastBase[index]! + offset;
      this.view.setUint32(at, lo, true);
      this.view.setUint32(at + 4, hi, true);
      return;
    }
    if (offset > 0xff8) {
      this.translate(linear, ACCESS_WRITE);
      this.translate(this.nextPage(linear - offset), ACCESS_WRITE);
    }
    this.writeSlow(linear, 4, lo);
    this.writeSlow(this.nextLinear(linear, 4), 4, hi);
  }

  /** Instruction fetch of one byte (execute permission). */
  fetch8(linear: number): number {
    const offset = linear & 0xfff;
    const index = (linear >>> 12) & TLB_MASK;
    if (this.execTag[index] === linear - offset) return this.ram[this.fastBase[index]! + offset]!;
    return this.memory.read8(this.translate(linear, ACCESS_EXECUTE));
  }

  /** Physical address of the code byte at `linear` (execute permission; #PF like a fetch). */
  translateFetch(linear: number): number {
    const offset = linear & 0xfff;
    const index = (linear >>> 12) & TLB_MASK;
    if (this.execTag[index] === linear - offset) return this.fastBase[index]! + offset;
    return this.translate(linear, ACCESS_EXECUTE);
  }

  /**
   * Physical address of `linear` for an access of type `access` (0 read, 1 write, 2 execute) at the
   * current CPL: through the TLB, walking the tables on a miss (setting A, and D for writes).
   * Throws #PF (faultAddress = linear).
   */
  translate(linear: number, access: Access): number {
    const tlb = this.tlb;
    const offset = linear & 0xfff;
    const pageBase = linear - offset;
    const index = (linear >>> 12) & TLB_MASK;
    if (tlb.pageTag[index] === pageBase && (tlb.perms[index]! & ACCESS_PERM[access]) !== 0) {
      tlb.installFast(index);
      return tlb.physBase[index]! + offset;
    }
    this.walks++;
    if (this.walkLog !== null) this.walkLog.push(pageBase);
    if (this.pagingMode === PAGING_OFF) {
      tlb.fill(index, pageBase, pageBase, PERM_READ | PERM_WRITE | PERM_EXEC, 12);
      return linear;
    }
    if (!this.walk(linear, access, this.privilege === 3, true)) {
      if (tlb.pageTag[index] === pageBase) tlb.invalidateIndex(index);
      this.faultAddress = linear;
      throw pageFault(this.walkError);
    }
    tlb.fill(index, pageBase, this.walkPhys, this.walkPerms, this.walkShift);
    return this.walkPhys + offset;
  }

  /**
   * Physical address of `linear` if it is mapped (present at every level, no reserved bits), else
   * -1. No permission checks, no A/D updates, no TLB use: for debuggers and error reports.
   */
  probe(linear: number): number {
    if (this.pagingMode === PAGING_OFF) return linear;
    if (!this.walk(linear, ACCESS_READ, false, false)) return -1;
    return this.walkPhys + (linear & 0xfff);
  }

  // ---- slow paths ----------------------------------------------------------------------------

  /** Read of 2 or 4 bytes that missed the fast path (maybe crossing a page). */
  private readSlow(linear: number, size: 2 | 4): number {
    const offset = linear & 0xfff;
    if (offset + size <= 0x1000) {
      const paddr = this.translate(linear, ACCESS_READ);
      return size === 2 ? this.memory.read16(paddr) : this.memory.read32(paddr);
    }
    const first = this.translate(linear, ACCESS_READ);
    const second = this.translate(this.nextPage(linear - offset), ACCESS_READ);
    const inFirst = 0x1000 - offset;
    let value = 0;
    for (let i = 0; i < size; i++) {
      value |= this.memory.read8(i < inFirst ? first + i : second + (i - inFirst)) << (8 * i);
    }
    return value >>> 0;
  }

  /** Write of 2 or 4 bytes that missed the fast path; a page-crossing write checks both pages first. */
  private writeSlow(linear: number, size: 2 | 4, value: number): void {
    const offset = linear & 0xfff;
    if (offset + size <= 0x1000) {
      const paddr = this.translate(linear, ACCESS_WRITE);
      if (size === 2) this.memory.write16(paddr, value);
      else this.memory.write32(paddr, value);
      return;
    }
    const first = this.translate(linear, ACCESS_WRITE);
    const second = this.translate(this.nextPage(linear - offset), ACCESS_WRITE);
    const inFirst = 0x1000 - offset;
    for (let i = 0; i < size; i++) {
      this.memory.write8(i < inFirst ? first + i : second + (i - inFirst), value >>> (8 * i));
    }
  }

  /** The page after `pageBase` (wrapping at 2^32 outside long mode). */
  private nextPage(pageBase: number): number {
    const next = pageBase + 0x1000;
    return this.pagingMode !== PAGING_4LEVEL && next >= TWO_32 ? next - TWO_32 : next;
  }

  private nextLinear(linear: number, delta: number): number {
    const next = linear + delta;
    return this.pagingMode !== PAGING_4LEVEL && next >= TWO_32 ? next - TWO_32 : next;
  }

  // ---- mode bookkeeping ----------------------------------------------------------------------

  private modeOf(cr0: number, cr4: number, efer: number): PagingMode {
    if ((cr0 & CR0_PG) === 0) return PAGING_OFF;
    if ((efer & EFER_LMA) !== 0) return PAGING_4LEVEL;
    return (cr4 & CR4_PAE) !== 0 ? PAGING_PAE : PAGING_32;
  }

  private tableBaseOf(cr3: number, mode: PagingMode): number {
    switch (mode) {
      case PAGING_4LEVEL:
        return (Math.floor(cr3 / TWO_32) & HIGH_ADDRESS_MASK) * TWO_32 + ((cr3 & LOW_FRAME) >>> 0);
      case PAGING_PAE:
        return (cr3 & ~0x1f) >>> 0;
      default:
        return (cr3 & LOW_FRAME) >>> 0;
    }
  }

  /**
   * PAE: loads the four PDPTEs from the 32-byte table at CR3[31:5]. A present PDPTE with reserved
   * bits (2:1, 8:5, 63:MAXPHYADDR; PAE PDPTEs have no XD bit) makes the load #GP(0) and changes nothing.
   */
  private loadPdptes(cr3: number): void {
    const base = (cr3 & ~0x1f) >>> 0;
    const lo = [0, 0, 0, 0];
    const hi = [0, 0, 0, 0];
    for (let i = 0; i < 4; i++) {
      lo[i] = this.memory.read32(base + 8 * i) | 0;
      hi[i] = this.memory.read32(base + 8 * i + 4) | 0;
      if (lo[i]! & PTE_P && (lo[i]! & 0x1e6 || hi[i]! & ~HIGH_ADDRESS_MASK)) {
        throw generalProtection(0, `PAE PDPTE ${i} at ${base + 8 * i} has reserved bits set`);
      }
    }
    for (let i = 0; i < 4; i++) {
      this.pdpteLo[i] = lo[i]!;
      this.pdpteHi[i] = hi[i]!;
    }
  }

  // ---- the page walk -------------------------------------------------------------------------

  /**
   * Walks the tables for `linear`. On success sets walkPhys (the 4 KiB frame), walkPerms (the rights
   * at this privilege level, PERM_WRITE only once D is set) and walkShift, sets A/D bits when
   * `update`, and returns true. On a fault returns false with the #PF error code in walkError.
   */
  private walk(linear: number, access: Access, user: boolean, update: boolean): boolean {
    this.walkDepth = 0;
    let error: number;
    switch (this.pagingMode) {
      case PAGING_4LEVEL:
        error = this.walk4Level(linear);
        break;
      case PAGING_PAE:
        error = this.walkPae(linear);
        break;
      default:
        error = this.walk32(linear);
        break;
    }
    // walk* leave: walkPhys, walkShift, and in walkPerms the AND of R/W and U/S over all levels
    // (as PTE_RW | PTE_US), the OR of XD (as RIGHT_EXEC cleared), PTE_D/PTE_G of the final entry.
    const rights = this.walkPerms;
    if (error < 0) {
      const userPage = (rights & PTE_US) !== 0;
      const writable = (rights & PTE_RW) !== 0;
      const executable = (rights & RIGHT_EXEC) !== 0;
      if (user && !userPage) error = PF_PRESENT;
      else if (access === ACCESS_WRITE && !writable && (user || this.writeProtect)) error = PF_PRESENT;
      else if (access === ACCESS_EXECUTE && (!executable || (!user && this.smep && userPage))) error = PF_PRESENT;
    }
    if (error >= 0) {
      if (access === ACCESS_WRITE) error |= PF_WRITE;
      if (user) error |= PF_USER;
      if (access === ACCESS_EXECUTE && (this.smep || (this.noExecute && this.pagingMode !== PAGING_32))) error |= PF_FETCH;
      this.walkError = error;
      return false;
    }

    const dirty = (rights & PTE_D) !== 0 || access === ACCESS_WRITE;
    let perms = PERM_READ;
    if (dirty && ((rights & PTE_RW) !== 0 || (!user && !this.writeProtect))) perms |= PERM_WRITE;
    if (rights & RIGHT_EXEC && (user || !this.smep || (rights & PTE_US) === 0)) perms |= PERM_EXEC;
    if (rights & PTE_G && this.pge) perms |= PERM_GLOBAL;
    this.walkPerms = perms;

    if (update) {
      // A on every entry used, D on the final one for writes; read-modify-write so an entry used at
      // two levels (recursive mappings) keeps both updates.
      const memory = this.memory;
      const last = this.walkDepth - 1;
      for (let level = 0; level <= last; level++) {
        const address = this.walkEntries[level]!;
        const entry = memory.read32(address) | 0;
        const wanted = entry | PTE_A | (level === last && access === ACCESS_WRITE ? PTE_D : 0);
        if (wanted !== entry) memory.write32(address, wanted);
      }
    }
    return true;
  }

  /** Records an entry address for the A/D update. */
  private used(address: number): void {
    this.walkEntries[this.walkDepth++] = address;
  }

  /**
   * 4-level paging. Returns -1 on success, else a #PF error code (P/RSVD part only). On success
   * walkPerms holds PTE_RW|PTE_US (ANDed over levels), RIGHT_EXEC (no XD on any level), and
   * PTE_D/PTE_G of the final entry.
   */
  private walk4Level(linear: number): number {
    const memory = this.memory;
    let table = this.tableBase;
    let rights = PTE_RW | PTE_US | RIGHT_EXEC;
    const xdActive = this.noExecute;
    const highReserved = this.highReserved;
    for (let level = 3; ; level--) {
      // Level 3 = PML4 (bits 47:39), 2 = PDPT (38:30), 1 = PD (29:21), 0 = PT (20:12). The upper two
      // indices lie above bit 31: divide (floor keeps negative addresses right); constants only, as
      // a variable `2 ** shift` costs a pow() call.
      const index =
        level === 3
          ? Math.floor(linear / 2 ** 39) & 0x1ff
          : level === 2
            ? Math.floor(linear / 2 ** 30) & 0x1ff
            : (linear >>> (level === 1 ? 21 : 12)) & 0x1ff;
      const address = table + index * 8;
      const lo = memory.read32(address) | 0;
      const hi = memory.read32(address + 4) | 0;
      if ((lo & PTE_P) === 0) return 0;
      if (hi & highReserved) return PF_PRESENT | PF_RSVD;
      this.used(address);
      rights &= lo | ~(PTE_RW | PTE_US);
      if (xdActive && hi & HIGH_XD) rights &= ~RIGHT_EXEC;
      const frameHigh = (hi & HIGH_ADDRESS_MASK) * TWO_32;
      if (level === 0 || (lo & PTE_PS) !== 0) {
        // Large pages: the address bits below the page size (but above PAT, bit 12) are reserved.
        // PS itself is reserved in a PML4E.
        const pageMask = LEVEL_PAGE_MASK[level]!;
        if (level === 3 || lo & pageMask & ~0x1fff) return PF_PRESENT | PF_RSVD;
        this.walkShift = 12 + 9 * level;
        // The 4 KiB frame inside the (possibly large) page.
        const frameLow = (lo & ~pageMask) >>> 0;
        const within = linear & pageMask & LOW_FRAME;
        this.walkPhys = frameHigh + frameLow + within;
        this.walkPerms = rights | (lo & (PTE_D | PTE_G));
        return -1;
      }
      table = frameHigh + ((lo & LOW_FRAME) >>> 0);
    }
  }

  /** PAE paging (PDPTE registers, then PD and PT). Same contract as walk4Level. */
  private walkPae(linear: number): number {
    const memory = this.memory;
    const pdpte = (linear >>> 30) & 3;
    const pdpteLo = this.pdpteLo[pdpte]!;
    if ((pdpteLo & PTE_P) === 0) return 0;
    let table = (this.pdpteHi[pdpte]! & HIGH_ADDRESS_MASK) * TWO_32 + ((pdpteLo & LOW_FRAME) >>> 0);
    let rights = PTE_RW | PTE_US | RIGHT_EXEC;
    const xdActive = this.noExecute;
    const highReserved = this.highReserved;
    for (let shift = 21; ; shift -= 9) {
      const address = table + ((linear >>> shift) & 0x1ff) * 8;
      const lo = memory.read32(address) | 0;
      const hi = memory.read32(address + 4) | 0;
      if ((lo & PTE_P) === 0) return 0;
      if (hi & highReserved) return PF_PRESENT | PF_RSVD;
      this.used(address);
      rights &= lo | ~(PTE_RW | PTE_US);
      if (xdActive && hi & HIGH_XD) rights &= ~RIGHT_EXEC;
      const frameHigh = (hi & HIGH_ADDRESS_MASK) * TWO_32;
      if (shift === 12 || (lo & PTE_PS) !== 0) {
        if (shift === 21 && lo & 0x001fe000) return PF_PRESENT | PF_RSVD;
        this.walkShift = shift;
        const frameLow = shift === 12 ? lo & LOW_FRAME : lo & ~0x1fffff;
        const within = shift === 12 ? 0 : linear & 0x1ff000;
        this.walkPhys = frameHigh + (frameLow >>> 0) + within;
        this.walkPerms = rights | (lo & (PTE_D | PTE_G));
        return -1;
      }
      table = frameHigh + ((lo & LOW_FRAME) >>> 0);
    }
  }

  /** 32-bit paging (PD, then PT; 4 MiB pages with CR4.PSE, PSE-36 address bits). */
  private walk32(linear: number): number {
    const memory = this.memory;
    const pdeAddress = this.tableBase + (linear >>> 22) * 4;
    const pde = memory.read32(pdeAddress) | 0;
    if ((pde & PTE_P) === 0) return 0;
    this.used(pdeAddress);
    if ((pde & PTE_PS) !== 0 && this.pse) {
      if (pde & (1 << 21)) return PF_PRESENT | PF_RSVD; // bits 20:13 are physical 39:32; bit 21 is reserved
      this.walkShift = 22;
      this.walkPhys = ((pde >>> 13) & 0xff) * TWO_32 + ((pde & 0xffc00000) >>> 0) + (linear & 0x3ff000);
      this.walkPerms = (pde & (PTE_RW | PTE_US | PTE_D | PTE_G)) | RIGHT_EXEC;
      return -1;
    }
    const pteAddress = ((pde & LOW_FRAME) >>> 0) + ((linear >>> 12) & 0x3ff) * 4;
    const pte = memory.read32(pteAddress) | 0;
    if ((pte & PTE_P) === 0) return 0;
    this.used(pteAddress);
    this.walkShift = 12;
    this.walkPhys = (pte & LOW_FRAME) >>> 0;
    this.walkPerms = (pde & pte & (PTE_RW | PTE_US)) | (pte & (PTE_D | PTE_G)) | RIGHT_EXEC;
    return -1;
  }
}

export { INVALID_TAG };
