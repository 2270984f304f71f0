// The architectural state of one x86-64 CPU and the primitive operations the instruction
// semantics are written in: register and memory access by size, flags, the stack, segment and
// control-register loads.
//
// 64-bit values are int32 lo/hi pairs (perf/int64-representation.bench.ts has the measurements):
// general registers live in one Int32Array, register i at [2i] (low) and [2i+1] (high), so byte and
// word views over the same buffer give AL, AH, AX... for free. Operations that produce a 64-bit value
// return the low half and leave the high half in `cpu.hi`, so nothing allocates.
import { AC, AF, CF, DF, IF, OF, PF, SF, TF, ZF } from "../decoder/flags.js";
import { CpuException, VEC_AC, VEC_GP } from "./cpu-exception.js";
import { LazyFlags, LAZY_NONE } from "./lazy-flags.js";
import type { PhysicalMemory } from "./memory.js";
import type { PortBus } from "./io-bus.js";
import { Mmu } from "./paging.js";
import { startAsDoubles } from "../util/representation.js";

export const ES = 0, CS = 1, SS = 2, DS = 3, FS = 4, GS = 5;

// Control-register and EFER bits.
export const CR0_PE = 1 << 0;
export const CR0_MP = 1 << 1;
export const CR0_EM = 1 << 2;
export const CR0_TS = 1 << 3;
export const CR0_ET = 1 << 4;
export const CR0_NE = 1 << 5;
export const CR0_WP = 1 << 16;
export const CR0_AM = 1 << 18;
export const CR0_PG = 1 << 31;
export const CR4_PSE = 1 << 4;
export const CR4_PAE = 1 << 5;
export const CR4_PGE = 1 << 7;
export const CR4_OSFXSR = 1 << 9;
export const CR4_OSXMMEXCPT = 1 << 10;
export const EFER_SCE = 1 << 0;
export const EFER_LME = 1 << 8;
export const EFER_LMA = 1 << 10;
export const EFER_NXE = 1 << 11;

/** Bits of RFLAGS software can change (the rest read as fixed values; bit 1 always reads 1). */
export const RFLAGS_WRITABLE = CF | PF | AF | ZF | SF | TF | IF | DF | OF | (3 << 12) | (1 << 14) | (1 << 16) | AC | (1 << 19) | (1 << 20) | (1 << 21);
export const RFLAGS_FIXED = 1 << 1;
export const ID_FLAG = 1 << 21;

/** Segment attribute bits as they sit in descriptor bits 40..55, shifted down by 8 (type, S, DPL, P, AVL, L, D/B, G). */
export const SEG_L = 1 << 13;
export const SEG_DB = 1 << 14;

const TWO_32 = 4294967296;

export class Cpu {
  /** RAX..R15 as int32 pairs (low, high), in the memory's state area (WebAssembly units load them) */
  declare readonly regs: Int32Array;
  declare readonly regBytes: Uint8Array;
  declare readonly regWords: Uint16Array;
  /** the high half of the last 64-bit value an operation produced */
  hi = 0;

  /** RIP as a linear address: a signed canonical value in 64-bit mode, unsigned 32-bit otherwise */
  rip = 0;
  /** RFLAGS; the six arithmetic flags are stale while lazy.op !== LAZY_NONE */
  flags = RFLAGS_FIXED;
  readonly lazy = new LazyFlags();

  readonly segSelector = new Uint16Array(6);
  /** segment bases as numbers (FS/GS bases are canonical signed values in 64-bit mode) */
  readonly segBase = new Float64Array(6);
  readonly segLimit = new Float64Array(6);
  readonly segAttributes = new Uint16Array(6);

  cr0 = CR0_ET;
  cr2 = 0;
  cr3 = 0;
  cr4 = 0;
  cr8 = 0;
  efer = 0;
  readonly dr = new Float64Array(8);

  gdtrBase = 0;
  gdtrLimit = 0xffff;
  idtrBase = 0;
  idtrLimit = 0xffff;
  ldtrSelector = 0;
  ldtrBase = 0;
  ldtrLimit = 0;
  trSelector = 0;
  trBase = 0;
  trLimit = 0xffff;
  trAttributes = 0x8b;

  // MSRs (64-bit values as numbers where they are addresses; STAR as two halves)
  starLo = 0;
  starHi = 0;
  lstar = 0;
  cstar = 0;
  sfmask = 0;
  kernelGsBase = 0;
  apicBase = 0xfee00900;
  patLo = 0x00070406;
  patHi = 0x00070406;
  tscAux = 0;
  /** the time stamp counter's source (instructions retired unless a clock is attached) and its offset */
  tscSource: () => number = () => this.retired;
  tscOffset = 0;

  /** XMM0-15 as 64 dwords (register i at [4i..4i+3], least significant first), in the memory's state area */
  declare readonly xmm: Int32Array;
  declare readonly xmmBytes: Uint8Array;
  declare readonly xmmView: DataView;
  mxcsr = 0x1f80;

  /** 64 when EFER.LMA and CS.L, else 32 */
  mode: 64 | 32 = 32;
  cpl = 0;
  halted = false;
  /** set by STI and MOV SS/POP SS: interrupts stay blocked until after the next instruction */
  interruptShadow = false;
  /** instructions retired */
  retired = 0;

  // Per-instruction scratch of the interpreter: the address of the instruction being executed, the
  // address of the next one (branches change it), and the linear address of its memory operand.
  currentRip = 0;
  nextRip = 0;
  ea = 0;

  readonly mmu: Mmu;

  constructor(readonly memory: PhysicalMemory, readonly ports: PortBus) {
    // (not rip, nextRip, retired: small integers for a low kernel, touched by every instruction; docs/cpu.md)
    startAsDoubles(this, ["hi", "ea", "cr2", "cr3", "tscOffset"]);
    const at = memory.allocateState(128);
    this.regs = new Int32Array(memory.buffer, at, 32);
    this.regBytes = new Uint8Array(memory.buffer, at, 128);
    this.regWords = new Uint16Array(memory.buffer, at, 64);
    const xmmAt = memory.allocateState(256);
    this.xmm = new Int32Array(memory.buffer, xmmAt, 64);
    this.xmmBytes = new Uint8Array(memory.buffer, xmmAt, 256);
    this.xmmView = new DataView(memory.buffer, xmmAt, 256);
    this.mmu = new Mmu(memory);
    for (let s = 0; s < 6; s++) {
      this.segLimit[s] = 0xffffffff;
      this.segAttributes[s] = 0x93 | SEG_DB | (1 << 15);
    }
    this.segAttributes[CS] = 0x9b | SEG_DB | (1 << 15);
  }

  // ---- general registers ---------------------------------------------------------------------

  /** Reads a general register of `size` bytes (1, 2, 4; 8 returns the low half and sets `hi`). */
  readReg(reg: number, size: number, hasRex: boolean): number {
    switch (size) {
      case 1: return reg < 4 || hasRex ? this.regBytes[reg << 3] : this.regBytes[((reg - 4) << 3) + 1];
      case 2: return this.regWords[reg << 2];
      case 4: return this.regs[reg << 1] >>> 0;
      default:
        this.hi = this.regs[(reg << 1) + 1];
        return this.regs[reg << 1];
    }
  }

  /** Writes a general register; 32-bit writes zero the high half, 8/16-bit writes keep the rest. */
  writeReg(reg: number, size: number, hasRex: boolean, lo: number, hi: number): void {
    switch (size) {
      case 1:
        if (reg < 4 || hasRex) this.regBytes[reg << 3] = lo;
        else this.regBytes[((reg - 4) << 3) + 1] = lo;
        return;
      case 2: this.regWords[reg << 2] = lo; return;
      case 4: this.regs[reg << 1] = lo; this.regs[(reg << 1) + 1] = 0; return;
      default: this.regs[reg << 1] = lo; this.regs[(reg << 1) + 1] = hi;
    }
  }

  /** A register's full 64-bit value as a JS number (exact below 2^53); for addresses and counts. */
  regNumber(reg: number): number {
    return this.regs[(reg << 1) + 1] * TWO_32 + (this.regs[reg << 1] >>> 0);
  }

  setReg64(reg: number, lo: number, hi: number): void {
    this.regs[reg << 1] = lo;
    this.regs[(reg << 1) + 1] = hi;
  }

  /** Sets a 64-bit register from a number (two's complement for negatives). */
  setRegNumber(reg: number, value: number): void {
    const hi = Math.floor(value / TWO_32);
    this.regs[reg << 1] = (value - hi * TWO_32) | 0;
    this.regs[(reg << 1) + 1] = hi | 0;
  }

  // ---- flags ---------------------------------------------------------------------------------

  /** RFLAGS with the arithmetic flags brought up to date. */
  getFlags(): number {
    if (this.lazy.op !== LAZY_NONE) {
      this.flags = this.lazy.materialize(this.flags);
      this.lazy.op = LAZY_NONE;
    }
    return this.flags;
  }

  /** Replaces the arithmetic flags (or more, by `mask`) and drops any lazy record. */
  setFlags(value: number, mask: number): void {
    const current = this.getFlags();
    this.flags = (current & ~mask) | (value & mask) | RFLAGS_FIXED;
    if (mask & AC) this.refreshAlignmentChecks();
  }

  /** #AC applies to data accesses at CPL 3 with CR0.AM and RFLAGS.AC set. */
  alignmentChecks = false;

  refreshAlignmentChecks(): void {
    this.alignmentChecks = this.cpl === 3 && (this.cr0 & CR0_AM) !== 0 && (this.flags & AC) !== 0;
  }

  private checkAlignment(linear: number, size: number): void {
    if (this.alignmentChecks && (linear & (size - 1)) !== 0) throw new CpuException(VEC_AC, 0, "misaligned access with alignment checking on");
  }

  cf(): number {
    return this.lazy.op === LAZY_NONE ? this.flags & CF : this.lazy.cf(this.flags);
  }
  zf(): boolean {
    return this.lazy.op === LAZY_NONE ? (this.flags & ZF) !== 0 : this.lazy.zf() !== 0;
  }
  sf(): boolean {
    return this.lazy.op === LAZY_NONE ? (this.flags & SF) !== 0 : this.lazy.sf() !== 0;
  }
  of(): boolean {
    return this.lazy.op === LAZY_NONE ? (this.flags & OF) !== 0 : this.lazy.of() !== 0;
  }
  pf(): boolean {
    return this.lazy.op === LAZY_NONE ? (this.flags & PF) !== 0 : this.lazy.pf() !== 0;
  }

  /** Evaluates condition code cc (the low nibble of Jcc/SETcc/CMOVcc). */
  condition(cc: number): boolean {
    let result: boolean;
    switch (cc >> 1) {
      case 0: result = this.of(); break;
      case 1: result = this.cf() !== 0; break;
      case 2: result = this.zf(); break;
      case 3: result = this.cf() !== 0 || this.zf(); break;
      case 4: result = this.sf(); break;
      case 5: result = this.pf(); break;
      case 6: result = this.sf() !== this.of(); break;
      default: result = this.zf() || this.sf() !== this.of(); break;
    }
    return (cc & 1) === 0 ? result : !result;
  }

  // ---- linear addresses ----------------------------------------------------------------------

  /**
   * Turns a 64-bit offset (lo/hi pair) plus a segment into a linear address: in 64-bit mode adds
   * the FS/GS base and checks that the result is canonical (#GP, or #SS for stack accesses, if not);
   * in 32-bit mode adds the segment base modulo 2^32.
   */
  linear(segment: number, lo: number, hi: number): number {
    if (this.mode === 64) {
      if (segment >= FS) {
        const base = this.segBase[segment];
        const baseHi = Math.floor(base / TWO_32);
        const sumLo = (lo >>> 0) + (base - baseHi * TWO_32);
        lo = sumLo | 0;
        hi = (hi + baseHi + (sumLo >= TWO_32 ? 1 : 0)) | 0;
      }
      // Canonical: bits 63..47 all equal.
      if ((hi << 16) >> 16 !== hi) throw new CpuException(segment === SS ? 12 : VEC_GP, 0, "non-canonical address");
      return hi * TWO_32 + (lo >>> 0);
    }
    // With a 32-bit base one subtraction wraps the sum (a double % is a call out of line).
    const sum = (lo >>> 0) + this.segBase[segment];
    if (sum >= 0 && sum < 2 * TWO_32) return sum >= TWO_32 ? sum - TWO_32 : sum;
    return sum % TWO_32;
  }

  // ---- memory by size (linear addresses) -----------------------------------------------------

  read(linear: number, size: number): number {
    if (this.alignmentChecks) this.checkAlignment(linear, size);
    switch (size) {
      case 1: return this.mmu.read8(linear);
      case 2: return this.mmu.read16(linear);
      case 4: return this.mmu.read32(linear);
      default: {
        const lo = this.mmu.read64(linear);
        this.hi = this.mmu.hi | 0;
        return lo | 0;
      }
    }
  }

  write(linear: number, size: number, lo: number, hi: number): void {
    if (this.alignmentChecks) this.checkAlignment(linear, size);
    switch (size) {
      case 1: this.mmu.write8(linear, lo); return;
      case 2: this.mmu.write16(linear, lo); return;
      case 4: this.mmu.write32(linear, lo); return;
      default: this.mmu.write64(linear, lo, hi);
    }
  }

  /**
   * A supervisor-mode ("implicit") access whatever the CPL: descriptor-table, IDT and TSS accesses
   * are made as CPL 0 even when user code causes them.
   */
  systemRead(linear: number, size: number): number {
    const cpl = this.mmu.cpl;
    this.mmu.cpl = 0;
    try {
      return this.read(linear, size);
    } finally {
      this.mmu.cpl = cpl;
    }
  }

  systemWrite(linear: number, size: number, lo: number): void {
    const cpl = this.mmu.cpl;
    this.mmu.cpl = 0;
    try {
      this.write(linear, size, lo, 0);
    } finally {
      this.mmu.cpl = cpl;
    }
  }

  /** linear + offset in the current address space (wrapping at 2^32 outside 64-bit mode). */
  next(linear: number, offset: number): number {
    const sum = linear + offset;
    return this.mode === 64 ? sum : sum % TWO_32;
  }

  // ---- stack ---------------------------------------------------------------------------------

  /** Stack pointer width in bytes: 8 in 64-bit mode, else by SS.B. */
  stackSize(): number {
    return this.mode === 64 ? 8 : this.segAttributes[SS] & SEG_DB ? 4 : 2;
  }

  push(size: number, lo: number, hi: number): void {
    const stackSize = this.stackSize();
    const rspLo = this.regs[8], rspHi = this.regs[9];
    let newLo = (rspLo - size) | 0;
    let newHi = rspHi;
    if (stackSize === 8) newHi = (rspHi - ((newLo >>> 0) > (rspLo >>> 0) ? 1 : 0)) | 0;
    else if (stackSize === 2) newLo = (rspLo & ~0xffff) | (newLo & 0xffff);
    const address = stackSize === 2 ? this.linear(SS, newLo & 0xffff, 0) : this.linear(SS, newLo, stackSize === 8 ? newHi : 0);
    this.write(address, size, lo, hi);
    this.regs[8] = newLo;
    if (stackSize === 8) this.regs[9] = newHi;
    else if (stackSize === 4) this.regs[9] = 0;
  }

  /** Pops `size` bytes: returns the low half, `hi` gets the high half for 8. */
  pop(size: number): number {
    const value = this.peek(size, 0);
    const savedHi = this.hi;
    this.adjustStack(size);
    this.hi = savedHi;
    return value;
  }

  /** Reads `size` bytes at RSP + offset without moving RSP. */
  peek(size: number, offset: number): number {
    const stackSize = this.stackSize();
    const rspLo = this.regs[8];
    if (stackSize === 8) {
      const sumLo = (rspLo >>> 0) + offset;
      return this.read(this.linear(SS, sumLo | 0, (this.regs[9] + (sumLo >= TWO_32 ? 1 : 0)) | 0), size);
    }
    const pointer = stackSize === 4 ? (rspLo + offset) | 0 : (rspLo + offset) & 0xffff;
    return this.read(this.linear(SS, pointer, 0), size);
  }

  /** RSP += delta (by the stack width). */
  adjustStack(delta: number): void {
    const stackSize = this.stackSize();
    const rspLo = this.regs[8];
    if (stackSize === 8) {
      const sumLo = (rspLo >>> 0) + delta;
      this.regs[8] = sumLo | 0;
      this.regs[9] = (this.regs[9] + Math.floor(sumLo / TWO_32)) | 0;
    } else if (stackSize === 4) {
      this.regs[8] = (rspLo + delta) | 0;
      this.regs[9] = 0;
    } else {
      this.regs[8] = (rspLo & ~0xffff) | ((rspLo + delta) & 0xffff);
    }
  }

  readTsc(): number {
    return this.tscSource() + this.tscOffset;
  }

  setTsc(value: number): void {
    this.tscOffset = value - this.tscSource();
  }

  // ---- control registers and modes -------------------------------------------------------------

  /** Re-derives the mode and tells the MMU after CR0/CR3/CR4/EFER or CS change. */
  updateMode(): void {
    const longActive = (this.cr0 & CR0_PG) !== 0 && (this.efer & EFER_LME) !== 0;
    this.efer = longActive ? this.efer | EFER_LMA : this.efer & ~EFER_LMA;
    this.mode = longActive && (this.segAttributes[CS] & SEG_L) !== 0 ? 64 : 32;
    this.mmu.setControl(this.cr0, this.cr3, this.cr4, this.efer);
    this.mmu.cpl = this.cpl;
    this.refreshAlignmentChecks();
  }
}

export { TWO_32 };
