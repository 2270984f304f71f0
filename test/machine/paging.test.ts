// The MMU against the Intel SDM vol. 3, chapter 4 (paging): page tables are written into physical
// memory by hand, and each expectation (physical address, #PF error code, CR2, A/D bits, TLB
// behaviour) comes from the SDM's rules, not from the implementation.
import { beforeEach, describe, expect, it } from "vitest";
import { CpuException, VEC_GP, VEC_PF } from "../../src/machine/cpu-exception.js";
import { type AccessSize, type MmioDevice, PhysicalMemory } from "../../src/machine/memory.js";
import {
  ACCESS_EXECUTE,
  ACCESS_READ,
  ACCESS_WRITE,
  Mmu,
  PAGING_32,
  PAGING_4LEVEL,
  PAGING_OFF,
  PAGING_PAE,
} from "../../src/machine/paging.js";

// Entry bits (low dword).
const P = 1 << 0;
const RW = 1 << 1;
const US = 1 << 2;
const A = 1 << 5;
const D = 1 << 6;
const PS = 1 << 7;
const G = 1 << 8;
/** bit 63, in the high dword */
const XD = 0x80000000 | 0;

// Control registers.
const CR0_PE = 1 << 0;
const CR0_WP = 1 << 16;
const CR0_PG = 1 << 31;
const CR4_PSE = 1 << 4;
const CR4_PAE = 1 << 5;
const CR4_PGE = 1 << 7;
const CR4_SMEP = 1 << 20;
const EFER_LME = 1 << 8;
const EFER_LMA = 1 << 10;
const EFER_NXE = 1 << 11;

// #PF error code bits.
const PF_P = 1;
const PF_W = 2;
const PF_U = 4;
const PF_RSVD = 8;
const PF_ID = 16;

const RAM = 8 << 20;
const TWO_47 = 2 ** 47;

/** Page tables in physical memory: a bump allocator of zeroed 4 KiB tables from 0x10000. */
class Tables {
  private nextTable = 0x10000;
  constructor(readonly memory: PhysicalMemory) {}

  alloc(): number {
    const table = this.nextTable;
    this.nextTable += 0x1000;
    this.memory.loadBytes(table, new Uint8Array(0x1000));
    return table;
  }

  set64(table: number, index: number, lo: number, hi = 0): void {
    this.memory.write32(table + index * 8, lo);
    this.memory.write32(table + index * 8 + 4, hi);
  }
  lo64(table: number, index: number): number {
    return this.memory.read32(table + index * 8);
  }
  set32(table: number, index: number, value: number): void {
    this.memory.write32(table + index * 4, value);
  }
  lo32(table: number, index: number): number {
    return this.memory.read32(table + index * 4);
  }
}

/** Table indices of a 4-level linear address (signed canonical number). */
function indices4(linear: number): [number, number, number, number] {
  return [
    Math.floor(linear / 2 ** 39) & 0x1ff,
    Math.floor(linear / 2 ** 30) & 0x1ff,
    Math.floor(linear / 2 ** 21) & 0x1ff,
    Math.floor(linear / 2 ** 12) & 0x1ff,
  ];
}

interface Walk4 {
  pml4e: [number, number];
  pdpte: [number, number];
  pde: [number, number];
  pte: [number, number];
}

/** Runs `fn` and returns the CpuException it throws (failing if it throws nothing or something else). */
function catchFault(fn: () => unknown): CpuException {
  try {
    fn();
  } catch (error) {
    if (error instanceof CpuException) return error;
    throw error;
  }
  throw new Error("expected a CPU exception");
}

function expectPageFault(mmu: Mmu, fn: () => unknown, errorCode: number, address: number): void {
  const fault = catchFault(fn);
  expect(fault.vector).toBe(VEC_PF);
  expect(fault.errorCode!.toString(16)).toBe(errorCode.toString(16));
  expect(mmu.faultAddress).toBe(address);
}

// ---------------------------------------------------------------------------------------------

describe("4-level paging", () => {
  let memory: PhysicalMemory;
  let tables: Tables;
  let mmu: Mmu;
  let pml4: number;

  const CR0 = CR0_PE | CR0_PG | CR0_WP;
  const CR4 = CR4_PAE;
  const EFER = EFER_LME | EFER_LMA | EFER_NXE;

  /**
   * Maps one 4 KiB page at `linear`, reusing present intermediate tables. An entry given in
   * `entries` replaces that level's flags (low bits) and high dword; others get P|RW|US.
   */
  function map4K(linear: number, phys: number, entries: Partial<Walk4> = {}): { pdpt: number; pd: number; pt: number } {
    const [i4, i3, i2, i1] = indices4(linear);
    const upper = P | RW | US;
    const level = (table: number, index: number, entry: [number, number] | undefined): number => {
      const existing = tables.lo64(table, index);
      const next = existing & P ? (existing & ~0xfff) >>> 0 : tables.alloc();
      if (!(existing & P) || entry !== undefined) tables.set64(table, index, next | (entry?.[0] ?? upper), entry?.[1] ?? 0);
      return next;
    };
    const pdpt = level(pml4, i4, entries.pml4e);
    const pd = level(pdpt, i3, entries.pdpte);
    const pt = level(pd, i2, entries.pde);
    tables.set64(pt, i1, phys | (entries.pte?.[0] ?? upper), entries.pte?.[1] ?? 0);
    return { pdpt, pd, pt };
  }

  beforeEach(() => {
    memory = new PhysicalMemory(RAM);
    tables = new Tables(memory);
    pml4 = tables.alloc();
    mmu = new Mmu(memory);
    mmu.setControl(CR0, pml4, CR4, EFER);
  });

  it("is selected by CR0.PG + EFER.LMA", () => {
    expect(mmu.pagingMode).toBe(PAGING_4LEVEL);
  });

  it("translates 4 KiB pages for reads, writes and fetches", () => {
    map4K(0x400000, 0x200000);
    memory.write32(0x200120, 0xcafef00d);
    expect(mmu.translate(0x400123, ACCESS_READ)).toBe(0x200123);
    expect(mmu.read32(0x400120)).toBe(0xcafef00d);
    expect(mmu.read16(0x400122)).toBe(0xcafe);
    expect(mmu.read8(0x400121)).toBe(0xf0);
    mmu.write32(0x400ff0, 0x11223344);
    mmu.write16(0x400ff4, 0x5566);
    mmu.write8(0x400ff6, 0x77);
    expect(memory.read32(0x200ff0)).toBe(0x11223344);
    expect(memory.read32(0x200ff4)).toBe(0x00775566);
    expect(mmu.fetch8(0x400120)).toBe(0x0d);
    expect(mmu.translateFetch(0x400fff)).toBe(0x200fff);
    expect(mmu.translate(0x400001, ACCESS_WRITE)).toBe(0x200001);
    expect(mmu.translate(0x400002, ACCESS_EXECUTE)).toBe(0x200002);
  });

  it("takes each table index from its own address bits (47:39, 38:30, 29:21, 20:12)", () => {
    // 0x0000_01d5_5543_e456: PML4 3, PDPT 0x155, PD 0xaa, PT 0x3e, offset 0x456 (indices written out).
    const linear = 3 * 2 ** 39 + 0x155 * 2 ** 30 + 0xaa * 2 ** 21 + 0x3e * 2 ** 12 + 0x456;
    expect(linear).toBe(0x01d5_5543_e456);
    const pdpt = tables.alloc();
    const pd = tables.alloc();
    const pt = tables.alloc();
    tables.set64(pml4, 3, pdpt | P | RW);
    tables.set64(pdpt, 0x155, pd | P | RW);
    tables.set64(pd, 0xaa, pt | P | RW);
    tables.set64(pt, 0x3e, 0x23f000 | P | RW);
    expect(mmu.translate(linear, ACCESS_READ)).toBe(0x23f456);
    // Same low 32 bits, different PDPT index: not mapped.
    expectPageFault(mmu, () => mmu.read8(linear - 0x100 * 2 ** 30), 0, linear - 0x100 * 2 ** 30);
  });

  it("translates 2 MiB pages (PS in the PDE)", () => {
    const pdpt = tables.alloc();
    const pd = tables.alloc();
    tables.set64(pml4, 0, pdpt | P | RW);
    tables.set64(pdpt, 1, pd | P | RW);
    tables.set64(pd, 3, 0x600000 | P | RW | PS); // linear 0x40600000 -> physical 0x600000
    expect(mmu.translate(0x40612345, ACCESS_READ)).toBe(0x612345);
    expect(mmu.translate(0x407fffff, ACCESS_READ)).toBe(0x7fffff);
    mmu.write32(0x40612345, 0x01020304);
    expect(memory.read32(0x612345)).toBe(0x01020304);
    // Accesses crossing 4 KiB boundaries inside the large page.
    memory.write32(0x600ffe, 0xa1b2c3d4);
    expect(mmu.read32(0x40600ffe)).toBe(0xa1b2c3d4);
  });

  it("translates 1 GiB pages (PS in the PDPTE)", () => {
    const pdpt = tables.alloc();
    tables.set64(pml4, 0, pdpt | P | RW);
    tables.set64(pdpt, 2, 0x00000000 | P | RW | PS); // linear 0x80000000 -> physical 0
    tables.set64(pdpt, 3, 0x40000000 | P | RW | PS, 0x12); // physical 0x12_4000_0000
    expect(mmu.translate(0x80005678, ACCESS_READ)).toBe(0x5678);
    expect(mmu.translate(0x807ff123, ACCESS_READ)).toBe(0x7ff123);
    expect(mmu.translate(0xc0001234, ACCESS_READ)).toBe(0x12_4000_1234);
    expect(mmu.translate(0xffffffff, ACCESS_READ)).toBe(0x12_7fff_ffff);
    memory.write32(0x7ff120, 0xdeadbeef);
    expect(mmu.read32(0x807ff120)).toBe(0xdeadbeef);
    // Physical addresses beyond RAM read as all-ones.
    expect(mmu.read32(0xc0000000)).toBe(0xffffffff);
  });

  it("maps the high canonical half through PML4 entry 256 and up", () => {
    // -2^47 + 0x1000 is 0xffff8000_00001000: PML4 256, PDPT 0, PD 0, PT 1.
    const pdpt = tables.alloc();
    const pd = tables.alloc();
    const pt = tables.alloc();
    tables.set64(pml4, 256, pdpt | P | RW);
    tables.set64(pdpt, 0, pd | P | RW);
    tables.set64(pd, 0, pt | P | RW);
    tables.set64(pt, 1, 0x300000 | P | RW);
    const high = -TWO_47 + 0x1000;
    memory.write32(0x300010, 0x600d600d);
    expect(mmu.read32(high + 0x10)).toBe(0x600d600d);
    expect(mmu.translate(high + 0xabc, ACCESS_READ)).toBe(0x300abc);
    // The top page, 0xffffffff_fffff000 = -4096: every index 511.
    map4K(-0x1000, 0x301000);
    mmu.write32(-4, 0x7e7e7e7e);
    expect(memory.read32(0x301ffc)).toBe(0x7e7e7e7e);
    expect(mmu.read8(-1)).toBe(0x7e);
    // A not-present high page reports the canonical (negative) address.
    expectPageFault(mmu, () => mmu.read8(high + 0x2345), 0, high + 0x2345);
    expectPageFault(mmu, () => mmu.write32(-TWO_47 + 0x7ff000, 1), PF_W, -TWO_47 + 0x7ff000);
  });

  it("faults on a not-present entry at each level, with the access in the error code", () => {
    const linear = 0x12345678;
    const { pdpt, pd, pt } = map4K(linear, 0x200000);
    const [i4, i3, i2, i1] = indices4(linear);
    const levels: [number, number][] = [
      [pt, i1],
      [pd, i2],
      [pdpt, i3],
      [pml4, i4],
    ];
    for (const [table, index] of levels) {
      const saved = tables.lo64(table, index);
      tables.set64(table, index, saved & ~P);
      mmu.flush();
      expectPageFault(mmu, () => mmu.read32(linear), 0, linear);
      expectPageFault(mmu, () => mmu.write8(linear + 1, 0), PF_W, linear + 1);
      expectPageFault(mmu, () => mmu.fetch8(linear + 2), PF_ID, linear + 2);
      mmu.cpl = 3;
      expectPageFault(mmu, () => mmu.read16(linear + 3), PF_U, linear + 3);
      expectPageFault(mmu, () => mmu.write32(linear + 4, 0), PF_U | PF_W, linear + 4);
      mmu.cpl = 0;
      tables.set64(table, index, saved);
    }
    mmu.flush();
    expect(mmu.translate(linear, ACCESS_READ)).toBe(0x200678);
  });

  it("U/S: user (CPL 3) accesses need U/S=1 at every level; supervisor accesses do not", () => {
    map4K(0x1000, 0x201000); // user everywhere
    map4K(0x8000000000, 0x202000, { pml4e: [P | RW, 0] }); // supervisor at the PML4E only
    map4K(0x10000000000, 0x203000, { pte: [P | RW, 0] }); // supervisor at the PTE only
    expect(mmu.read32(0x8000000000)).toBe(0);
    expect(mmu.read32(0x10000000000)).toBe(0);
    mmu.cpl = 3;
    expect(mmu.read32(0x1000)).toBe(0);
    mmu.write32(0x1000, 5);
    expectPageFault(mmu, () => mmu.read32(0x8000000000), PF_P | PF_U, 0x8000000000);
    expectPageFault(mmu, () => mmu.write8(0x10000000010, 1), PF_P | PF_U | PF_W, 0x10000000010);
    expectPageFault(mmu, () => mmu.fetch8(0x10000000020), PF_P | PF_U | PF_ID, 0x10000000020);
    // CPL 1 and 2 are supervisor levels.
    mmu.cpl = 2;
    expect(mmu.read32(0x10000000000)).toBe(0);
  });

  it("a translation cached at CPL 0 grants nothing at CPL 3", () => {
    map4K(0x5000, 0x205000, { pte: [P | RW, 0] });
    mmu.write32(0x5000, 42);
    expect(mmu.read32(0x5000)).toBe(42);
    mmu.cpl = 3;
    expectPageFault(mmu, () => mmu.read32(0x5000), PF_P | PF_U, 0x5000);
    mmu.cpl = 0;
    expect(mmu.read32(0x5000)).toBe(42);
  });

  it("R/W: supervisor writes to read-only pages succeed with WP=0 and fault with WP=1; user writes always fault", () => {
    map4K(0x2000, 0x202000, { pte: [P | US, 0] }); // read-only at the PTE
    map4K(0x8000000000, 0x203000, { pdpte: [P | US, 0] }); // read-only at the PDPTE only
    // WP = 1 (the beforeEach setting).
    expectPageFault(mmu, () => mmu.write32(0x2004, 1), PF_P | PF_W, 0x2004);
    expectPageFault(mmu, () => mmu.write8(0x8000000000, 1), PF_P | PF_W, 0x8000000000);
    expect(mmu.read32(0x2004)).toBe(0);
    mmu.cpl = 3;
    expectPageFault(mmu, () => mmu.write16(0x2006, 1), PF_P | PF_W | PF_U, 0x2006);
    mmu.cpl = 0;
    // WP = 0: supervisor writes go through, user writes still fault.
    mmu.setControl(CR0 & ~CR0_WP, pml4, CR4, EFER);
    mmu.write32(0x2004, 0x1234);
    mmu.write8(0x8000000000, 0x56);
    expect(memory.read32(0x202004)).toBe(0x1234);
    expect(memory.read8(0x203000)).toBe(0x56);
    mmu.cpl = 3;
    expectPageFault(mmu, () => mmu.write32(0x2004, 1), PF_P | PF_W | PF_U, 0x2004);
    expectPageFault(mmu, () => mmu.write32(0x8000000008, 1), PF_P | PF_W | PF_U, 0x8000000008);
    expect(mmu.read32(0x2004)).toBe(0x1234);
    // Turning WP back on drops the write permission cached while it was off.
    mmu.cpl = 0;
    mmu.setControl(CR0, pml4, CR4, EFER);
    expectPageFault(mmu, () => mmu.write32(0x2004, 1), PF_P | PF_W, 0x2004);
  });

  it("NX: with EFER.NXE, XD at any level forbids fetches (I/D set) but not data accesses", () => {
    map4K(0x3000, 0x203000, { pte: [P | RW | US, XD] });
    map4K(0x8000003000, 0x204000, { pml4e: [P | RW | US, XD] });
    map4K(0x10000003000, 0x205000);
    memory.write8(0x205000, 0x90);
    expect(mmu.read32(0x3000)).toBe(0);
    mmu.write32(0x3000, 1);
    expectPageFault(mmu, () => mmu.fetch8(0x3000), PF_P | PF_ID, 0x3000);
    expectPageFault(mmu, () => mmu.translateFetch(0x8000003001), PF_P | PF_ID, 0x8000003001);
    mmu.cpl = 3;
    expectPageFault(mmu, () => mmu.fetch8(0x3002), PF_P | PF_ID | PF_U, 0x3002);
    expect(mmu.fetch8(0x10000003000)).toBe(0x90);
    expect(mmu.translateFetch(0x10000003001)).toBe(0x205001);
  });

  it("bit 63 set while EFER.NXE=0 is a reserved-bit fault, for every access", () => {
    mmu.setControl(CR0, pml4, CR4, EFER & ~EFER_NXE);
    map4K(0x3000, 0x203000, { pde: [P | RW | US, XD] });
    map4K(0x8000000000, 0x204000);
    expectPageFault(mmu, () => mmu.read8(0x3000), PF_P | PF_RSVD, 0x3000);
    expectPageFault(mmu, () => mmu.write8(0x3001, 0), PF_P | PF_RSVD | PF_W, 0x3001);
    // Without NXE (and SMEP) a fetch does not set I/D.
    expectPageFault(mmu, () => mmu.fetch8(0x3002), PF_P | PF_RSVD, 0x3002);
    expectPageFault(mmu, () => mmu.fetch8(0x9000000000), 0, 0x9000000000);
    expect(mmu.fetch8(0x8000000000)).toBe(0);
  });

  it("reserved bits: above MAXPHYADDR (40), PS in a PML4E, large-page address bits below the page size", () => {
    // Bit 40 of the PTE.
    map4K(0x1000, 0x201000, { pte: [P | RW, 0x100] });
    expectPageFault(mmu, () => mmu.read32(0x1000), PF_P | PF_RSVD, 0x1000);
    // Bit 51 of the PML4E; the lower levels are never looked at.
    map4K(0x8000000000, 0x202000, { pml4e: [P | RW, 0x80000] });
    expectPageFault(mmu, () => mmu.write32(0x8000000000, 0), PF_P | PF_RSVD | PF_W, 0x8000000000);
    // Bits 52..62 are ignored (available to software, or protection keys).
    map4K(0x10000000000, 0x203000, { pte: [P | RW, 0x7ff00000] });
    expect(mmu.translate(0x10000000000, ACCESS_READ)).toBe(0x203000);
    // Bit 39 is a valid address bit.
    map4K(0x18000000000, 0x203000, { pte: [P | RW, 0x80] });
    expect(mmu.translate(0x18000000000, ACCESS_READ)).toBe(0x80_0020_3000);

    // PS in a PML4E.
    const pdpt = tables.alloc();
    tables.set64(pml4, 5, pdpt | P | RW | PS);
    expectPageFault(mmu, () => mmu.read8(5 * 2 ** 39), PF_P | PF_RSVD, 5 * 2 ** 39);

    // 2 MiB page with bit 13 set; 1 GiB page with bit 29 set.
    const pdpt6 = tables.alloc();
    const pd6 = tables.alloc();
    tables.set64(pml4, 6, pdpt6 | P | RW);
    tables.set64(pdpt6, 0, pd6 | P | RW);
    tables.set64(pd6, 0, 0x200000 | (1 << 13) | P | RW | PS);
    tables.set64(pdpt6, 1, 0x40000000 | (1 << 29) | P | RW | PS);
    // Bit 12 of a large-page entry is PAT, not reserved.
    tables.set64(pd6, 1, 0x400000 | (1 << 12) | P | RW | PS);
    const base6 = 6 * 2 ** 39;
    expectPageFault(mmu, () => mmu.read8(base6), PF_P | PF_RSVD, base6);
    expectPageFault(mmu, () => mmu.read8(base6 + 2 ** 30), PF_P | PF_RSVD, base6 + 2 ** 30);
    expect(mmu.translate(base6 + 0x200000 + 0x1234, ACCESS_READ)).toBe(0x401234);

    // Reserved bits in a not-present entry are ignored: a plain not-present fault.
    map4K(0x20000000000, 0x203000, { pte: [RW, 0x100] });
    expectPageFault(mmu, () => mmu.read8(0x20000000000), 0, 0x20000000000);
  });

  it("sets A on every level and D on the final entry only for writes, writing back only changes", () => {
    const linear = 0x7000;
    const { pdpt, pd, pt } = map4K(linear, 0x207000);
    const [i4, i3, i2, i1] = indices4(linear);
    const entries = (): number[] => [tables.lo64(pml4, i4), tables.lo64(pdpt, i3), tables.lo64(pd, i2), tables.lo64(pt, i1)];
    expect(entries().map((e) => e & (A | D))).toEqual([0, 0, 0, 0]);
    mmu.read32(linear);
    expect(entries().map((e) => e & (A | D))).toEqual([A, A, A, A]);
    // A read-filled TLB entry does not allow writes before D is set: the write walks and sets D.
    mmu.read32(linear + 4);
    mmu.write32(linear + 8, 1);
    expect(entries().map((e) => e & (A | D))).toEqual([A, A, A, A | D]);
    expect(memory.read32(0x207008)).toBe(1);

    // Nothing is written when A/D are already set: watch the table pages as code pages.
    const writes: number[] = [];
    memory.onCodeWrite = (paddr) => writes.push(paddr);
    for (const table of [pml4, pdpt, pd, pt]) memory.markCodePage(table >>> 12);
    mmu.flush();
    mmu.write32(linear, 2);
    mmu.read32(linear);
    expect(writes).toEqual([]);

    // The guest clears D; after INVLPG the next write sets it again (and only the PTE is written).
    tables.set64(pt, i1, (tables.lo64(pt, i1) & ~D) >>> 0);
    writes.length = 0;
    mmu.invalidatePage(linear);
    mmu.write8(linear, 3);
    expect(writes).toEqual([pt + i1 * 8]);
    expect(tables.lo64(pt, i1) & D).toBe(D);
  });

  it("sets D in the PDE of a 2 MiB page and in the PDPTE of a 1 GiB page", () => {
    const pdpt = tables.alloc();
    const pd = tables.alloc();
    tables.set64(pml4, 0, pdpt | P | RW);
    tables.set64(pdpt, 0, pd | P | RW);
    tables.set64(pd, 1, 0x200000 | P | RW | PS);
    tables.set64(pdpt, 1, 0 | P | RW | PS);
    mmu.read8(0x200000);
    expect(tables.lo64(pd, 1) & (A | D)).toBe(A);
    mmu.write8(0x200000, 1);
    expect(tables.lo64(pd, 1) & (A | D)).toBe(A | D);
    expect(tables.lo64(pdpt, 0) & (A | D)).toBe(A);
    mmu.write8(0x40000000, 1);
    expect(tables.lo64(pdpt, 1) & (A | D)).toBe(A | D);
  });

  it("leaves A and D alone when the translation faults", () => {
    const linear = 0x9000;
    const { pdpt, pd, pt } = map4K(linear, 0x209000, { pte: [P | US, 0] }); // read-only
    const [i4, i3, i2, i1] = indices4(linear);
    expectPageFault(mmu, () => mmu.write32(linear, 1), PF_P | PF_W, linear);
    expect([tables.lo64(pml4, i4), tables.lo64(pdpt, i3), tables.lo64(pd, i2), tables.lo64(pt, i1)].map((e) => e & (A | D))).toEqual([
      0, 0, 0, 0,
    ]);
  });

  it("TLB: a changed PTE takes effect only after INVLPG, a flush or a CR3 reload", () => {
    const linear = 0xa000;
    const { pt } = map4K(linear, 0x20a000);
    const [, , , i1] = indices4(linear);
    memory.write32(0x20a000, 0xaaaa);
    memory.write32(0x20b000, 0xbbbb);
    const remap = (phys: number) => tables.set64(pt, i1, phys | P | RW | US | A | D);

    expect(mmu.read32(linear)).toBe(0xaaaa);
    remap(0x20b000);
    expect(mmu.read32(linear)).toBe(0xaaaa); // stale, architecturally
    mmu.invalidatePage(linear + 0x123);
    expect(mmu.read32(linear)).toBe(0xbbbb);

    remap(0x20a000);
    expect(mmu.read32(linear)).toBe(0xbbbb);
    mmu.flush();
    expect(mmu.read32(linear)).toBe(0xaaaa);

    remap(0x20b000);
    mmu.setControl(CR0, pml4, CR4, EFER); // nothing changed: no flush
    expect(mmu.read32(linear)).toBe(0xaaaa);
    mmu.writeCr3(pml4); // MOV CR3 with the same value flushes
    expect(mmu.read32(linear)).toBe(0xbbbb);

    remap(0x20a000);
    mmu.setControl(CR0, pml4 | 0x8, CR4, EFER); // a different CR3 value (PWT) flushes
    expect(mmu.read32(linear)).toBe(0xaaaa);

    // Removing the mapping: still cached until INVLPG, then #PF.
    tables.set64(pt, i1, 0);
    expect(mmu.read32(linear)).toBe(0xaaaa);
    mmu.invalidatePage(linear);
    expectPageFault(mmu, () => mmu.read32(linear), 0, linear);
  });

  it("TLB: global pages survive CR3 reloads (with CR4.PGE) but not INVLPG or a full flush", () => {
    mmu.setControl(CR0, pml4, CR4 | CR4_PGE, EFER);
    const { pt } = map4K(0xb000, 0x20b000, { pte: [P | RW | G, 0] });
    const [, , , i1] = indices4(0xb000);
    memory.write32(0x20b000, 0x1111);
    memory.write32(0x20c000, 0x2222);
    expect(mmu.read32(0xb000)).toBe(0x1111);
    tables.set64(pt, i1, 0x20c000 | P | RW | G);
    mmu.writeCr3(pml4);
    expect(mmu.read32(0xb000)).toBe(0x1111);
    mmu.invalidatePage(0xb000);
    expect(mmu.read32(0xb000)).toBe(0x2222);
    tables.set64(pt, i1, 0x20b000 | P | RW | G);
    mmu.flush();
    expect(mmu.read32(0xb000)).toBe(0x1111);
    // Toggling CR4.PGE flushes global entries too.
    tables.set64(pt, i1, 0x20c000 | P | RW | G);
    mmu.setControl(CR0, pml4, CR4, EFER);
    expect(mmu.read32(0xb000)).toBe(0x2222);
    // Without PGE the G bit does not protect the entry.
    tables.set64(pt, i1, 0x20b000 | P | RW | G);
    mmu.writeCr3(pml4);
    expect(mmu.read32(0xb000)).toBe(0x1111);
  });

  it("TLB: INVLPG on any address of a large page drops all of it", () => {
    const pdpt = tables.alloc();
    const pd = tables.alloc();
    tables.set64(pml4, 0, pdpt | P | RW);
    tables.set64(pdpt, 0, pd | P | RW);
    tables.set64(pd, 2, 0x200000 | P | RW | PS);
    memory.write32(0x201000, 0x1);
    memory.write32(0x205000, 0x5);
    memory.write32(0x601000, 0x61);
    memory.write32(0x605000, 0x65);
    expect(mmu.read32(0x401000)).toBe(0x1);
    expect(mmu.read32(0x405000)).toBe(0x5);
    tables.set64(pd, 2, 0x600000 | P | RW | PS);
    mmu.invalidatePage(0x5ff000);
    expect(mmu.read32(0x401000)).toBe(0x61);
    expect(mmu.read32(0x405000)).toBe(0x65);
  });

  it("TLB: INVLPG drops large pages with many entries cached, and pages sharing bookkeeping slots", () => {
    // Two 2 MiB pages 8 GiB apart (same slot in the TLB's large-page flags), a 1 GiB page, and
    // 600 pieces of another 2 MiB page so the TLB holds more entries than a 2 MiB page has pieces.
    const pdpt = tables.alloc();
    const pd0 = tables.alloc();
    const pd8 = tables.alloc();
    tables.set64(pml4, 0, pdpt | P | RW);
    tables.set64(pdpt, 0, pd0 | P | RW);
    tables.set64(pdpt, 8, pd8 | P | RW); // linear 8 GiB
    tables.set64(pdpt, 1, 0 | P | RW | PS); // linear 1 GiB -> physical 0, 1 GiB page
    tables.set64(pd0, 1, 0x200000 | P | RW | PS);
    tables.set64(pd8, 1, 0x200000 | P | RW | PS);
    tables.set64(pd0, 2, 0x400000 | P | RW | PS);
    tables.set64(pd0, 3, 0x400000 | P | RW | PS);
    const eight = 8 * 2 ** 30;
    const giga = 2 ** 30;
    // Pieces cached at distinct TLB indices (the TLB is direct-mapped by linear page number).
    for (let i = 0; i < 600; i++) mmu.read8(0x400000 + i * 0x1000);
    for (const linear of [0x203000, 0x207000, eight + 0x205000, eight + 0x209000, giga + 0x1000, giga + 0x2000]) {
      mmu.read8(linear);
    }
    for (const [paddr, value] of [
      [0x203000, 0xa3], [0x207000, 0xa7], [0x205000, 0xb5], [0x209000, 0xb9], [0x1000, 0xc1], [0x2000, 0xc2],
      [0x603000, 0x6a3], [0x607000, 0x6a7], [0x605000, 0x6b5], [0x609000, 0x6b9],
    ]) {
      memory.write32(paddr!, value!);
    }
    tables.set64(pd0, 1, 0x600000 | P | RW | PS);
    tables.set64(pd8, 1, 0x600000 | P | RW | PS);
    tables.set64(pdpt, 1, 0x40000000 | P | RW | PS); // beyond RAM: reads all-ones
    expect(mmu.read32(0x203000)).toBe(0xa3); // stale until INVLPG
    mmu.invalidatePage(0x3ff000);
    expect(mmu.read32(0x203000)).toBe(0x6a3);
    expect(mmu.read32(0x207000)).toBe(0x6a7);
    expect(mmu.read32(eight + 0x205000)).toBe(0xb5); // the other page sharing the slot: still stale
    mmu.invalidatePage(eight + 0x200000);
    expect(mmu.read32(eight + 0x205000)).toBe(0x6b5);
    expect(mmu.read32(eight + 0x209000)).toBe(0x6b9);
    expect(mmu.read32(giga + 0x1000)).toBe(0xc1);
    mmu.invalidatePage(giga + 0x12345678);
    expect(mmu.read32(giga + 0x1000)).toBe(0xffffffff);
    expect(mmu.read32(giga + 0x2000)).toBe(0xffffffff);
  });

  it("page-crossing reads and writes: both pages are checked before anything is written", () => {
    map4K(0xc000, 0x20c000);
    // 0xd000 is not mapped (a fresh PT slot in a different table set is absent).
    expectPageFault(mmu, () => mmu.read32(0xcffe), 0, 0xd000);
    memory.write32(0x20cffc, 0x44332211);
    expectPageFault(mmu, () => mmu.write32(0xcffe, 0xddccbbaa), PF_W, 0xd000);
    expectPageFault(mmu, () => mmu.write16(0xcfff, 0xbbaa), PF_W, 0xd000);
    expectPageFault(mmu, () => mmu.write64(0xcffc, 0x55555555, 0x66666666), PF_W, 0xd000);
    expect(memory.read32(0x20cffc)).toBe(0x44332211); // untouched

    // Second page present but read-only (WP=1): the write still leaves the first page untouched.
    map4K(0xd000, 0x20e000, { pte: [P | US, 0] });
    expectPageFault(mmu, () => mmu.write32(0xcffd, 0), PF_P | PF_W, 0xd000);
    expect(memory.read32(0x20cffc)).toBe(0x44332211);

    // Both present, physically discontiguous: bytes land on both frames.
    memory.write32(0x20e000, 0x88776655);
    expect(mmu.read32(0xcffe)).toBe(0x66554433);
    expect(mmu.read16(0xcfff)).toBe(0x5544);
    expect(mmu.read64(0xcffc)).toBe(0x44332211);
    expect(mmu.hi).toBe(0x88776655);
    expect(mmu.read64(0xcffa)).toBe(0x22110000);
    expect(mmu.hi).toBe(0x66554433);
    map4K(0xd000, 0x20e000); // now writable
    mmu.invalidatePage(0xd000);
    mmu.write32(0xcffe, 0xddccbbaa);
    expect(memory.read32(0x20cffc)).toBe(0xbbaa2211);
    expect(memory.read32(0x20e000)).toBe(0x8877ddcc);
    mmu.write64(0xcffa, 0x04030201, 0x08070605);
    expect([...memory.readBytes(0x20cffa, 6)]).toEqual([1, 2, 3, 4, 5, 6]);
    expect([...memory.readBytes(0x20e000, 2)]).toEqual([7, 8]);
    mmu.write16(0xcfff, 0xf00f);
    expect(memory.read8(0x20cfff)).toBe(0x0f);
    expect(memory.read8(0x20e000)).toBe(0xf0);
  });

  it("unaligned accesses inside a page", () => {
    map4K(0xe000, 0x20e000);
    mmu.write32(0xe001, 0x11223344);
    expect(memory.read32(0x20e001)).toBe(0x11223344);
    expect(mmu.read32(0xe001)).toBe(0x11223344);
    expect(mmu.read16(0xe003)).toBe(0x1122);
    mmu.write16(0xeffd, 0xabcd);
    expect(mmu.read16(0xeffd)).toBe(0xabcd);
    mmu.write32(0xeffb, 0x01020304);
    expect(mmu.read32(0xeffb)).toBe(0x01020304);
    mmu.write64(0xeff1, 0x55667788, 0x11223344);
    expect(mmu.read64(0xeff1)).toBe(0x55667788);
    expect(mmu.hi).toBe(0x11223344);
  });

  it("SMEP: supervisor fetches from user pages fault (with I/D), data accesses do not", () => {
    mmu.setControl(CR0, pml4, CR4 | CR4_SMEP, EFER);
    map4K(0xf000, 0x20f000); // user page
    map4K(0x8000000000, 0x210000, { pte: [P | RW, 0] }); // supervisor page
    expect(mmu.read8(0xf000)).toBe(0);
    expectPageFault(mmu, () => mmu.fetch8(0xf000), PF_P | PF_ID, 0xf000);
    expect(mmu.fetch8(0x8000000000)).toBe(0);
    mmu.cpl = 3;
    expect(mmu.fetch8(0xf000)).toBe(0);
  });

  it("MMIO behind a linear mapping reaches the device on every access", () => {
    const log: string[] = [];
    const device: MmioDevice = {
      read: (offset: number, size: AccessSize) => (log.push(`r${size}@${offset}`), 0x12345678),
      write: (offset: number, size: AccessSize, value: number) => void log.push(`w${size}@${offset}=${value}`),
    };
    memory.registerMmio(0xfee00000, 0x1000, device);
    map4K(0x11000, 0xfee00000);
    expect(mmu.read32(0x11020)).toBe(0x12345678);
    expect(mmu.read32(0x11020)).toBe(0x12345678);
    mmu.write32(0x110b0, 0);
    mmu.write8(0x110b0, 7);
    expect(log).toEqual(["r4@32", "r4@32", "w4@176=0", "w1@176=7"]);
  });

  it("probe translates without checks, A/D updates or TLB fills", () => {
    const linear = 0x12000;
    const { pt } = map4K(linear, 0x212000, { pte: [P, 0] });
    expect(mmu.probe(linear + 5)).toBe(0x212005);
    expect(tables.lo64(pt, indices4(linear)[3]) & A).toBe(0);
    expect(mmu.tlbEntries).toBe(0);
    expect(mmu.probe(0x13000)).toBe(-1);
  });
});

// ---------------------------------------------------------------------------------------------

describe("PAE paging", () => {
  let memory: PhysicalMemory;
  let tables: Tables;
  let mmu: Mmu;
  const CR0 = CR0_PE | CR0_PG | CR0_WP;
  const CR4 = CR4_PAE;
  const PDPT = 0x20020; // 32-byte aligned, not page aligned
  let pd0: number;
  let pd3: number;
  let pt: number;

  beforeEach(() => {
    memory = new PhysicalMemory(RAM);
    tables = new Tables(memory);
    tables.alloc(); // 0x10000 (unused)
    pd0 = tables.alloc();
    pd3 = tables.alloc();
    pt = tables.alloc();
    // PDPTEs: only P (R/W and U/S are reserved in PAE PDPTEs).
    memory.write32(PDPT + 0, pd0 | P);
    memory.write32(PDPT + 24, pd3 | P);
    tables.set64(pd0, 1, pt | P | RW | US); // linear 0x00200000..0x003fffff
    tables.set64(pt, 5, 0x305000 | P | RW | US); // linear 0x00205000
    tables.set64(pd3, 0x1ff, 0x600000 | P | RW | PS); // linear 0xffe00000, 2 MiB
    mmu = new Mmu(memory);
    mmu.setControl(CR0, PDPT, CR4, EFER_NXE);
  });

  it("is selected by CR4.PAE without LMA", () => {
    expect(mmu.pagingMode).toBe(PAGING_PAE);
  });

  it("translates 4 KiB and 2 MiB pages", () => {
    expect(mmu.translate(0x205abc, ACCESS_READ)).toBe(0x305abc);
    expect(mmu.translate(0xffe12345, ACCESS_READ)).toBe(0x612345);
    expect(mmu.translate(0xffffffff, ACCESS_WRITE)).toBe(0x7fffff);
    mmu.write32(0xfffffffc, 0x01020304);
    expect(memory.read32(0x7ffffc)).toBe(0x01020304);
    expect(tables.lo64(pd3, 0x1ff) & (A | D)).toBe(A | D);
    expect(tables.lo64(pd0, 1) & (A | D)).toBe(A); // walked by the translate() above
    expect(tables.lo64(pd0, 2) & A).toBe(0);
    mmu.read8(0x205000);
    expect(tables.lo64(pt, 5) & (A | D)).toBe(A);
    // PDPTEs have no A bit.
    expect(memory.read32(PDPT)).toBe(pd0 | P);
  });

  it("faults on not-present PDPTEs, PDEs and PTEs", () => {
    expectPageFault(mmu, () => mmu.read8(0x40000000), 0, 0x40000000); // PDPTE 1
    expectPageFault(mmu, () => mmu.write8(0x00400000, 0), PF_W, 0x00400000); // PDE 2
    expectPageFault(mmu, () => mmu.fetch8(0x00206000), PF_ID, 0x00206000); // PTE 6 (NXE: I/D)
  });

  it("checks XD with NXE and treats it as reserved without", () => {
    tables.set64(pt, 7, 0x307000 | P | RW | US, XD);
    expect(mmu.read8(0x207000)).toBe(0);
    expectPageFault(mmu, () => mmu.fetch8(0x207000), PF_P | PF_ID, 0x207000);
    mmu.setControl(CR0, PDPT, CR4, 0);
    expectPageFault(mmu, () => mmu.read8(0x207000), PF_P | PF_RSVD, 0x207000);
    expectPageFault(mmu, () => mmu.fetch8(0x207000), PF_P | PF_RSVD, 0x207000);
  });

  it("checks reserved bits in PDEs and PTEs", () => {
    tables.set64(pd0, 2, 0x400000 | (1 << 20) | P | RW | PS); // bit 20 of a 2 MiB PDE
    tables.set64(pt, 8, 0x308000 | P | RW, 0x100); // bit 40
    expectPageFault(mmu, () => mmu.read8(0x400000), PF_P | PF_RSVD, 0x400000);
    expectPageFault(mmu, () => mmu.read8(0x208000), PF_P | PF_RSVD, 0x208000);
  });

  it("loads the PDPTEs at CR3 writes: later changes in memory need a CR3 reload", () => {
    memory.write32(PDPT + 0, 0); // PDPTE 0 not present in memory, but the register still has it
    expect(mmu.translate(0x205000, ACCESS_READ)).toBe(0x305000);
    mmu.flush();
    expect(mmu.translate(0x205000, ACCESS_READ)).toBe(0x305000);
    mmu.writeCr3(PDPT);
    expectPageFault(mmu, () => mmu.read8(0x205000), 0, 0x205000);
  });

  it("a present PDPTE with reserved bits makes the CR3 load #GP(0) and changes nothing", () => {
    for (const [lo, hi] of [
      [pd0 | P | RW, 0], // bit 1
      [pd0 | P | A, 0], // bit 5
      [pd0 | P, XD], // bit 63: PAE PDPTEs have no XD
      [pd0 | P, 0x100], // bit 40
    ] as const) {
      memory.write32(0x30000, lo);
      memory.write32(0x30004, hi);
      const fault = catchFault(() => mmu.writeCr3(0x30000));
      expect(fault.vector).toBe(VEC_GP);
      expect(fault.errorCode).toBe(0);
      expect(catchFault(() => mmu.setControl(CR0, 0x30000, CR4, EFER_NXE)).vector).toBe(VEC_GP);
      expect(mmu.cr3).toBe(PDPT);
      expect(mmu.translate(0x205000, ACCESS_READ)).toBe(0x305000);
    }
    // Reserved bits in a not-present PDPTE are fine.
    memory.write32(0x30000, RW | 0x1e0);
    mmu.writeCr3(0x30000);
    expect(mmu.cr3).toBe(0x30000);
  });
});

// ---------------------------------------------------------------------------------------------

describe("32-bit paging", () => {
  let memory: PhysicalMemory;
  let tables: Tables;
  let mmu: Mmu;
  let pd: number;
  let pt: number;
  const CR0 = CR0_PE | CR0_PG | CR0_WP;

  beforeEach(() => {
    memory = new PhysicalMemory(RAM);
    tables = new Tables(memory);
    pd = tables.alloc();
    pt = tables.alloc();
    tables.set32(pd, 0x300, pt | P | RW | US); // linear 0xc0000000..0xc03fffff
    tables.set32(pt, 0x12, 0x412000 | P | RW | US); // linear 0xc0012000
    tables.set32(pd, 1, 0x400000 | P | RW | PS); // 4 MiB page at linear 0x400000 (with PSE)
    mmu = new Mmu(memory);
    mmu.setControl(CR0, pd, CR4_PSE, 0);
  });

  it("is selected by CR0.PG without CR4.PAE", () => {
    expect(mmu.pagingMode).toBe(PAGING_32);
  });

  it("translates 4 KiB pages through the PD and PT", () => {
    expect(mmu.translate(0xc0012345, ACCESS_READ)).toBe(0x412345);
    mmu.write32(0xc0012ffc, 0xfeedface);
    expect(memory.read32(0x412ffc)).toBe(0xfeedface);
    expect(mmu.read32(0xc0012ffc)).toBe(0xfeedface);
    expect(tables.lo32(pd, 0x300) & (A | D)).toBe(A);
    expect(tables.lo32(pt, 0x12) & (A | D)).toBe(A | D);
  });

  it("translates 4 MiB pages with CR4.PSE, and ignores PS without it", () => {
    expect(mmu.translate(0x7fffff, ACCESS_READ)).toBe(0x7fffff);
    mmu.write8(0x412345, 9);
    expect(memory.read8(0x412345)).toBe(9);
    expect(tables.lo32(pd, 1) & (A | D)).toBe(A | D);
    // Without PSE, the PDE points to a page table (at 0x400000, whose entries are zero here).
    mmu.setControl(CR0, pd, 0, 0);
    memory.write32(0x400000 + 4 * 0x12, 0x123000 | P | RW);
    expect(mmu.translate(0x412abc, ACCESS_READ)).toBe(0x123abc);
    expectPageFault(mmu, () => mmu.read8(0x400000), 0, 0x400000);
  });

  it("PSE-36: PDE bits 20:13 are physical address bits 39:32; bit 21 is reserved", () => {
    tables.set32(pd, 2, 0x00c00000 | (0x12 << 13) | P | RW | PS);
    expect(mmu.translate(0x823456, ACCESS_READ)).toBe(0x12_00c2_3456);
    expect(mmu.read32(0x823456)).toBe(0xffffffff); // beyond RAM
    tables.set32(pd, 3, 0x00c00000 | (1 << 21) | P | RW | PS);
    expectPageFault(mmu, () => mmu.read8(0xc00000), PF_P | PF_RSVD, 0xc00000);
  });

  it("faults with the right codes: not present, U/S, R/W with WP, no I/D bit without NXE", () => {
    expectPageFault(mmu, () => mmu.read8(0xc0013000), 0, 0xc0013000);
    expectPageFault(mmu, () => mmu.fetch8(0xc0013000), 0, 0xc0013000);
    expectPageFault(mmu, () => mmu.write8(0x80000000, 0), PF_W, 0x80000000);
    mmu.cpl = 3;
    expectPageFault(mmu, () => mmu.read8(0x400000), PF_P | PF_U, 0x400000); // supervisor 4 MiB page
    tables.set32(pt, 0x13, 0x413000 | P | US); // read-only user page
    expect(mmu.read8(0xc0013000)).toBe(0);
    expectPageFault(mmu, () => mmu.write8(0xc0013000, 0), PF_P | PF_U | PF_W, 0xc0013000);
    mmu.cpl = 0;
    expectPageFault(mmu, () => mmu.write8(0xc0013000, 0), PF_P | PF_W, 0xc0013000);
    mmu.setControl(CR0 & ~CR0_WP, pd, CR4_PSE, 0);
    mmu.write8(0xc0013000, 1);
    expect(memory.read8(0x413000)).toBe(1);
    // A read-only PDE restricts the whole range for user writes.
    tables.set32(pd, 0x301, pt | P | US);
    mmu.cpl = 3;
    expectPageFault(mmu, () => mmu.write8(0xc0412000, 0), PF_P | PF_U | PF_W, 0xc0412000);
  });

  it("page-crossing at the top of the 32-bit space wraps to page 0", () => {
    tables.set32(pd, 0x3ff, pt | P | RW);
    tables.set32(pt, 0x3ff, 0x500000 | P | RW); // 0xfffff000
    tables.set32(pd, 0, pt | P | RW); // PD 0 shares the PT: linear 0x0 -> PTE 0
    tables.set32(pt, 0, 0x501000 | P | RW);
    mmu.write32(0xfffffffe, 0x44332211);
    expect(memory.read16(0x500ffe)).toBe(0x2211);
    expect(memory.read16(0x501000)).toBe(0x4433);
    expect(mmu.read32(0xfffffffe)).toBe(0x44332211);
  });

  it("global pages with CR4.PGE survive CR3 reloads", () => {
    mmu.setControl(CR0, pd, CR4_PSE | CR4_PGE, 0);
    tables.set32(pt, 0x20, 0x420000 | P | RW | G);
    tables.set32(pt, 0x21, 0x421000 | P | RW);
    expect(mmu.translate(0xc0020000, ACCESS_READ)).toBe(0x420000);
    expect(mmu.translate(0xc0021000, ACCESS_READ)).toBe(0x421000);
    tables.set32(pt, 0x20, 0x430000 | P | RW | G);
    tables.set32(pt, 0x21, 0x431000 | P | RW);
    mmu.writeCr3(pd);
    expect(mmu.translate(0xc0020000, ACCESS_READ)).toBe(0x420000);
    expect(mmu.translate(0xc0021000, ACCESS_READ)).toBe(0x431000);
  });
});

// ---------------------------------------------------------------------------------------------

describe("paging off", () => {
  it("maps linear to physical with no checks, and wraps page crossings at 4 GiB", () => {
    const memory = new PhysicalMemory(RAM);
    const mmu = new Mmu(memory);
    expect(mmu.pagingMode).toBe(PAGING_OFF);
    mmu.write32(0x1234, 0xabcdef01);
    expect(memory.read32(0x1234)).toBe(0xabcdef01);
    expect(mmu.read32(0x1234)).toBe(0xabcdef01);
    expect(mmu.translate(0x7fffff, ACCESS_WRITE)).toBe(0x7fffff);
    expect(mmu.translateFetch(0x100000)).toBe(0x100000);
    expect(mmu.read32(0xfee00000)).toBe(0xffffffff);
    mmu.cpl = 3;
    mmu.write8(0, 0x5a);
    expect(mmu.read16(0xffffffff)).toBe(0x5aff); // 0xffffffff unmapped, then byte 0
    expect(mmu.probe(0x1234)).toBe(0x1234);
  });

  it("enabling paging flushes the identity translations", () => {
    const memory = new PhysicalMemory(RAM);
    const tables = new Tables(memory);
    const pd = tables.alloc();
    const mmu = new Mmu(memory);
    memory.write32(0x400000, 0x1234);
    expect(mmu.read32(0x400000)).toBe(0x1234);
    mmu.setControl(CR0_PE | CR0_PG, pd, 0, 0);
    expectPageFault(mmu, () => mmu.read32(0x400000), 0, 0x400000);
    tables.set32(pd, 1, 0x400000 | P | RW | PS);
    mmu.setControl(CR0_PE | CR0_PG, pd, CR4_PSE, 0);
    expect(mmu.read32(0x400000)).toBe(0x1234);
    mmu.setControl(CR0_PE, pd, CR4_PSE, 0);
    expect(mmu.pagingMode).toBe(PAGING_OFF);
  });
});
