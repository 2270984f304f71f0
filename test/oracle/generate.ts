// The hardware oracle's case generator. Every case is built from rows of the decoder's OPCODE_TABLE:
// a small encoder turns a row into bytes (prefixes, REX, opcode, ModRM/SIB, displacement, immediates)
// with random registers, operand sizes, addressing forms and immediates; the initial state is random
// and biased to edge cases; memory operands, the stack, string pointers and branch targets are steered
// into the scratch region and the code. Every generated instruction is decoded back and must be the
// row it was generated from.
//
// Kinds of case: a single instruction (most), a 2-4 instruction sequence mixing flag producers and
// consumers (lazy-flags bugs), an invalid encoding (#UD), and - with ORACLE_PRIVILEGED=1 - privileged
// instructions (#GP(0) at CPL 3). Case `index` of seed `seed` is always the same case (its RNG is
// derived from both), so one case can be regenerated alone.

import { Rng } from "../decoder/generate.js";
import { decode, DecodeStatus, formatIntel, type Instruction, type OpcodeRow } from "../../src/decoder/index.js";
import { flagsOf } from "../../src/decoder/flags-of.js";
import {
  A_D64, A_F64, A_LOCK, A_MNEMONIC_BY_ADDRESS_SIZE, A_REP, A_REPE, MAP_0F, MAP_0F38, MAP_0F3A, MOD_MEM, MOD_REG,
  PREFIX_66, PREFIX_ANY, PREFIX_F2, PREFIX_F3,
} from "../../src/decoder/opcode-rows.js";
import {
  M_C, M_D, M_E, M_G, M_I, M_J, M_M, M_MASKMOV, M_O, M_R, M_U, M_V, M_W, M_X, M_XLAT, M_Y, M_Z,
  S_B, S_BS, S_NONE, S_P, S_V, S_W, S_WR, S_WV, S_Y, S_Z, resolveSize, type OperandSpec,
} from "../../src/decoder/operand-spec.js";
import {
  ARITHMETIC_FLAGS, CODE_ADDRESS, FLAG_CF, FLAG_DF, FLAG_OF, MAX_CODE_LENGTH, PAGE_SIZE, RAX, RBP, RBX, RCX, RDI, RDX, RSI, RSP,
  SCRATCH_ADDRESS, SCRATCH_SIZE, initialScratch, newState, type MachineState, type Patch,
} from "./layout.js";
import type { NativeCase } from "./native.js";
import { rowInventory } from "./rows.js";
import {
  gprValue, mxcsrValue, operandValue, popfImage, rflagsValue, shiftCount, withUpperNoise, xmmValue, type LaneFlavor,
} from "./values.js";

/** The seed used when ORACLE_SEED is not set (CI runs this one). */
export const DEFAULT_SEED = 0x0ac1_e5ed;
const R14 = 14;

export type CaseKind = "single" | "sequence" | "invalid" | "privileged";

/** A result the SDM leaves undefined, excluded from the comparison when the case runs to its end. */
export type ResultMask =
  | { kind: "gpr"; reg: number; bits: bigint; why: string }
  | { kind: "flags"; bits: number; why: string }
  | { kind: "memory"; offset: number; length: number; why: string }
  | { kind: "approx"; xmm: number; lanes: number; fn: "rcp" | "rsqrt"; source: number[]; why: string };

export interface CaseInstruction {
  offset: number;
  length: number;
  row: OpcodeRow;
  /** the form, for the worklist: "adc Ev,Gv 64-bit mem" */
  form: string;
  /** flags undefined when execution stops in front of this instruction */
  undefinedBefore: number;
  branch: boolean;
  /** the flagless lea a taken branch skips (not one of the generated forms) */
  filler: boolean;
}

export interface OracleCase extends NativeCase {
  seed: number;
  index: number;
  kind: CaseKind;
  instructions: CaseInstruction[];
  /** flags undefined when the code runs to its end (over every path through its forward branches) */
  undefinedAtEnd: number;
  masks: ResultMask[];
  /** the worklist group */
  group: string;
}

export interface GenerateOptions {
  privileged?: boolean;
}

// ---------------------------------------------------------------------------------------------------
// Row facts

const SHIFTS = new Set(["rol", "ror", "rcl", "rcr", "shl", "shr", "sal", "sar"]);
const LOOPS = new Set(["loop", "loope", "loopne", "jcxz"]);
const SSE_COMPARES = new Set(["cmpps", "cmppd", "cmpss", "cmpsd"]);
const NO_ACCESS = new Set(["lea", "nop", "reservednop", "prefetchnta", "prefetcht0", "prefetcht1", "prefetcht2"]);
const APPROXIMATE = new Set(["rcpps", "rcpss", "rsqrtps", "rsqrtss"]);
/** Instructions whose 16-byte memory operand need not be aligned. */
const UNALIGNED_OK = new Set(["movups", "movupd", "movdqu", "maskmovdqu"]);

/** The row's first mnemonic ("movsw" for movsw/movsd/movsq): the key of every special case below. */
export const baseName = (row: OpcodeRow) => row.mnemonics[0] || row.mnemonics[1];

function isBranchRow(row: OpcodeRow): boolean {
  const name = baseName(row);
  return row.operands.some((o) => o.method === M_J) || ((name === "call" || name === "jmp") && !!(row.attributes & A_F64)) || name === "ret";
}

/** Operand-size dependent rows: the size is chosen per instruction. */
function sizeDependent(row: OpcodeRow): boolean {
  if (row.mnemonics.length > 1 && !(row.attributes & A_MNEMONIC_BY_ADDRESS_SIZE)) return true;
  return row.operands.some((o) => o.size === S_V || o.size === S_Z || o.size === S_Y || o.size === S_BS || o.size === S_P || o.size === S_WV || o.size === S_WR);
}

function laneFlavor(row: OpcodeRow): LaneFlavor | null {
  for (const o of row.operands) {
    if (o.method !== M_V && o.method !== M_W && o.method !== M_U) continue;
    if (/ps$|ss$/.test(o.notation)) return "f32";
    if (/pd$|sd$/.test(o.notation)) return "f64";
    return "int";
  }
  return null;
}

// ---------------------------------------------------------------------------------------------------
// The builder: state, scratch image and emitted instructions of one case

interface Fixup {
  at: number;
  size: 1 | 4 | 8;
  kind: "branch-end" | "branch-self" | "rip" | "absolute-end";
  /** for "rip": the scratch offset the operand must reach */
  target?: number;
}

interface MemoryRef {
  /** effective address minus SCRATCH_ADDRESS (may be outside the region) */
  offset: number;
  size: number;
  nonCanonical: boolean;
}

interface Emitted {
  row: OpcodeRow;
  bytes: number[];
  fixups: Fixup[];
  opSize: number;
  addr32: boolean;
  hasRex: boolean;
  /** ModRM.reg (with REX.R) and ModRM.rm / opcode register (with REX.B) */
  reg: number;
  rm: number;
  memForm: boolean;
  memory: MemoryRef | null;
  /** registers the addressing needs, with their values (set after the operand values) */
  addressRegs: Array<{ reg: number; value: bigint }>;
  immediates: number[];
  rep: number;
  /** the lea a taken branch skips */
  filler?: boolean;
}

class CaseBuilder {
  readonly state: MachineState = newState();
  /** the scratch region's initial image, built on the first read (most cases never read it) */
  private image: Uint8Array | undefined;
  readonly patches: Patch[] = [];
  readonly emitted: Emitted[] = [];
  readonly deferred: Array<(end: bigint) => void> = [];
  readonly masks: ResultMask[] = [];
  /** RSP's displacement from its initial value so far (sequences: PUSHF/POPF) */
  stackDelta = 0;

  constructor(readonly rng: Rng, readonly scratchSeed: number, readonly sequence: boolean) {
    for (let i = 0; i < 16; i++) this.state.gpr[i] = gprValue(rng);
    this.state.rflags = rflagsValue(rng);
    this.state.mxcsr = mxcsrValue(rng);
    // The stack: the upper page for sequences (their memory operands use the lower one), anywhere otherwise.
    let stack: number;
    if (sequence) stack = 0x1400 + rng.below(0x800);
    else {
      const r = rng.below(20);
      stack = r === 0 ? rng.below(24) : r === 1 ? SCRATCH_SIZE - rng.below(24) : 0x80 + rng.below(SCRATCH_SIZE - 0x100);
    }
    if (rng.chance(0.92)) stack &= ~7;
    this.state.gpr[RSP] = BigInt(SCRATCH_ADDRESS + stack);
    if (sequence) {
      this.state.gpr[R14] = BigInt(SCRATCH_ADDRESS + 0x700 + (rng.below(0x200) & ~7));
      this.state.gpr[RCX] = (this.state.gpr[RCX] & ~0xffn) | BigInt(shiftCount(rng));
    }
  }

  flavorXmm(flavor: LaneFlavor | null): void {
    const flavors: LaneFlavor[] = ["f32", "f64", "int"];
    for (let i = 0; i < 16; i++) {
      const f = flavor && this.rng.chance(0.75) ? flavor : this.rng.pick(flavors);
      const [low, high] = xmmValue(this.rng, f);
      this.state.xmm[2 * i] = low;
      this.state.xmm[2 * i + 1] = high;
    }
  }

  poke(offset: number, bytes: Uint8Array): void {
    let start = offset, data = bytes;
    if (start < 0) {
      data = data.subarray(-start);
      start = 0;
    }
    if (start + data.length > SCRATCH_SIZE) data = data.subarray(0, Math.max(0, SCRATCH_SIZE - start));
    if (data.length === 0) return;
    this.image?.set(data, start);
    this.patches.push({ offset: start, bytes: data.slice() });
  }

  pokeValue(offset: number, value: bigint, size: number): void {
    const bytes = new Uint8Array(size);
    for (let i = 0; i < size; i++) bytes[i] = Number((value >> BigInt(8 * i)) & 0xffn);
    this.poke(offset, bytes);
  }

  /** Little-endian value at a scratch offset, or undefined outside the region. */
  peek(offset: number, size: number): bigint | undefined {
    if (offset < 0 || offset + size > SCRATCH_SIZE) return undefined;
    this.image ??= initialScratch(this.scratchSeed, this.patches);
    let value = 0n;
    for (let i = size - 1; i >= 0; i--) value = (value << 8n) | BigInt(this.image[offset + i]);
    return value;
  }

  setGpr(reg: number, value: bigint): void {
    this.state.gpr[reg] = BigInt.asUintN(64, value);
  }
}

// ---------------------------------------------------------------------------------------------------
// Operand access on the builder's state

/** Reads a general register operand of `bytes` bytes; byte registers 4-7 without REX are AH..BH. */
function readReg(b: CaseBuilder, e: Emitted, reg: number, bytes: number): bigint {
  if (bytes === 1 && !e.hasRex && reg >= 4 && reg < 8) return (b.state.gpr[reg - 4] >> 8n) & 0xffn;
  return b.state.gpr[reg] & ((1n << BigInt(bytes * 8)) - 1n);
}

function writeReg(b: CaseBuilder, e: Emitted, reg: number, value: bigint, bytes: number): void {
  if (bytes === 1 && !e.hasRex && reg >= 4 && reg < 8) {
    const full = b.state.gpr[reg - 4];
    b.setGpr(reg - 4, (full & ~0xff00n) | ((value & 0xffn) << 8n));
    return;
  }
  const m = (1n << BigInt(bytes * 8)) - 1n;
  b.setGpr(reg, (b.state.gpr[reg] & ~m) | (value & m));
}

/** The r/m operand's value (register or scratch memory; undefined when the memory is outside). */
function readRm(b: CaseBuilder, e: Emitted, bytes: number): bigint | undefined {
  if (e.memForm) return e.memory && !e.memory.nonCanonical ? b.peek(e.memory.offset, bytes) : undefined;
  return readReg(b, e, e.rm, bytes);
}

function writeRm(b: CaseBuilder, e: Emitted, value: bigint, bytes: number): void {
  if (e.memForm) {
    if (e.memory && !e.memory.nonCanonical) b.pokeValue(e.memory.offset, value, bytes);
  } else writeReg(b, e, e.rm, value, bytes);
}

// ---------------------------------------------------------------------------------------------------
// The encoder

const LEGACY_SEGMENTS = [0x26, 0x2e, 0x36, 0x3e];

/** Picks where a memory operand of `size` bytes lands, as an offset from SCRATCH_ADDRESS. */
function pickOffset(rng: Rng, size: number, align: number, sequence: boolean): { offset: number; nonCanonical: boolean } {
  const span = Math.max(size, 1);
  const r = rng.below(100);
  const alignDown = (offset: number) => (align > 1 && rng.chance(0.85) ? offset & ~(align - 1) : offset);
  if (sequence) {
    if (r < 90) return { offset: alignDown(rng.below(PAGE_SIZE - span + 1)), nonCanonical: false };
    if (r < 95) return { offset: PAGE_SIZE - span + 1 + rng.below(span), nonCanonical: false }; // crosses into the upper page
    return { offset: -1 - rng.below(span), nonCanonical: false }; // the unmapped page below
  }
  // Operands that must be aligned (16-byte SSE, FXSAVE, CMPXCHG16B) are mostly aligned and inside.
  if (r < (align >= 16 ? 75 : 60)) return { offset: alignDown(rng.below(SCRATCH_SIZE - span + 1)), nonCanonical: false };
  if (r < 72) return { offset: PAGE_SIZE - 1 - rng.below(Math.max(1, span - 1)), nonCanonical: false }; // crosses the middle
  if (r < 79) return { offset: SCRATCH_SIZE - span, nonCanonical: false }; // ends at the region's end
  if (r < 87) return { offset: SCRATCH_SIZE - span + 1 + rng.below(span), nonCanonical: false }; // runs off the end
  if (r < 93) return { offset: -1 - rng.below(span), nonCanonical: false }; // starts below the region
  if (r < 97) return { offset: rng.below(SCRATCH_SIZE), nonCanonical: true };
  return { offset: alignDown(rng.below(SCRATCH_SIZE - span + 1)), nonCanonical: false };
}

/** A non-canonical address (bits 63..47 not all equal). */
function nonCanonicalAddress(rng: Rng): bigint {
  const high = rng.pick([0x8000n, 0x0001n, 0x7fffn, 0xfffen, 0x0800n]);
  return (high << 48n) | (rng.u64() & 0xffff_ffff_ffffn);
}

interface EncodeState {
  b: CaseBuilder;
  row: OpcodeRow;
  forceLock?: boolean;
}

function operandBytesOf(spec: OperandSpec, opSize: number, isMemory: boolean): number {
  if (spec.size === S_NONE) return 1;
  return resolveSize(spec.size, opSize, true, isMemory);
}

/** One attempt at encoding `row`; the caller decodes the result to check it. */
function tryEncode({ b, row, forceLock }: EncodeState): Emitted | null {
  const rng = b.rng;
  const name = baseName(row);
  const ops = row.operands;
  const branch = isBranchRow(row);

  // Operand size and the prefixes/REX.W that select it.
  let opSize = 4, use66 = false, rexW = false;
  const mandatory66 = row.prefix === PREFIX_66;
  const may66 = !mandatory66 && (row.prefix === PREFIX_ANY || ((row.prefix === PREFIX_F3 || row.prefix === PREFIX_F2) && ops.some((o) => o.size === S_V)));
  if (row.attributes & A_F64) {
    opSize = 8;
    rexW = rng.chance(0.1);
  } else if (row.rexW === 1) {
    opSize = 8;
    rexW = true;
  } else if (row.rexW === 0) {
    opSize = 4;
  } else if (sizeDependent(row)) {
    if (row.attributes & A_D64) {
      if (may66 && rng.chance(0.3)) { opSize = 2; use66 = true; } else { opSize = 8; rexW = rng.chance(0.15); }
    } else {
      const choices = may66 ? [2, 4, 4, 8, 8] : [4, 8];
      opSize = rng.pick(choices);
      if (opSize === 2) use66 = true;
      if (opSize === 8) rexW = true;
      // A redundant 66 under REX.W: REX.W wins.
      if (opSize === 8 && may66 && rng.chance(0.05)) use66 = true;
    }
  }

  // ModRM form.
  let memForm = false;
  if (row.hasModrm) {
    if (row.mod === MOD_MEM) memForm = true;
    else if (row.mod === MOD_REG || row.modrmRm >= 0 || ops.some((o) => o.method === M_C || o.method === M_D)) memForm = false;
    else memForm = rng.chance(b.sequence ? 0.3 : 0.5);
    // A register bit offset reaches anywhere; in a sequence an earlier instruction may have changed it.
    if (b.sequence && /^bt/.test(name) && ops[1]?.method === M_G) memForm = false;
  }
  const implicitMemory = ops.some((o) => o.method === M_X || o.method === M_Y || o.method === M_XLAT || o.method === M_MASKMOV || o.method === M_O);
  const addressSizeMatters = memForm || implicitMemory || LOOPS.has(name) || !!(row.attributes & A_MNEMONIC_BY_ADDRESS_SIZE);
  const addr32 = addressSizeMatters && rng.chance(LOOPS.has(name) ? 0.3 : 0.12);

  // Legacy prefixes: LOCK, a no-op segment override, 66, 67, REP, then the mandatory prefix.
  const prefixes: number[] = [];
  const lockable = (row.attributes & A_LOCK) !== 0 && memForm;
  if (forceLock || (lockable && rng.chance(0.25))) prefixes.push(0xf0);
  if ((memForm || implicitMemory) && !branch && rng.chance(0.06)) prefixes.push(rng.pick(LEGACY_SEGMENTS));
  if (use66) prefixes.push(0x66);
  if (addr32) prefixes.push(0x67);
  let rep = 0;
  if (row.attributes & A_REP && rng.chance(0.6)) rep = 0xf3;
  if (row.attributes & A_REPE && rng.chance(0.65)) rep = rng.chance(0.5) ? 0xf3 : 0xf2;
  if (rep) prefixes.push(rep);
  if (row.prefix === PREFIX_66) prefixes.push(0x66);
  else if (row.prefix === PREFIX_F3) prefixes.push(0xf3);
  else if (row.prefix === PREFIX_F2) prefixes.push(0xf2);

  // REX presence decides which registers exist (and whether byte registers 4-7 are AH..BH or SPL..DIL).
  let hasRex = rexW || rng.chance(0.5);
  if (b.sequence && memForm) hasRex = true; // the sequence base register is r14
  const limit = hasRex ? 16 : 8;
  const allowedGpr = (n: number, bytes: number): boolean => {
    if (!b.sequence) return true;
    if (bytes === 1 && !hasRex) return (n & 3) !== RCX; // CL and CH belong to the shift count
    return n !== RSP && n !== RCX && n !== R14;
  };
  const pickGpr = (bytes: number): number => {
    for (;;) {
      const n = rng.below(limit);
      if (allowedGpr(n, bytes)) return n;
    }
  };

  let reg = 0, rm = 0, rexR = 0, rexX = 0, rexB = 0;
  let modrm = -1, sib = -1;
  const disp: number[] = [];
  const fixups: Fixup[] = [];
  let memory: MemoryRef | null = null;
  const addressRegs: Array<{ reg: number; value: bigint }> = [];

  // ModRM.reg
  const regSpec = ops.find((o) => o.method === M_G || o.method === M_V || o.method === M_C || o.method === M_D);
  if (row.modrmReg >= 0) reg = row.modrmReg;
  else if (regSpec?.method === M_G) reg = pickGpr(operandBytesOf(regSpec, opSize, false));
  else if (regSpec?.method === M_V) reg = rng.below(limit);
  else if (regSpec?.method === M_C) reg = rng.pick([0, 2, 3, 4, 8].filter((n) => n < limit));
  else if (regSpec?.method === M_D) reg = rng.below(8);
  else if (row.hasModrm) reg = rng.below(8);
  rexR = reg >> 3;

  // ModRM.rm, register form
  const rmSpec = ops.find((o) => o.method === M_E || o.method === M_M || o.method === M_R || o.method === M_W || o.method === M_U);
  const zSpec = ops.find((o) => o.method === M_Z);
  if (row.hasModrm && !memForm) {
    if (row.modrmRm >= 0) rm = row.modrmRm;
    else if (rmSpec && (rmSpec.method === M_W || rmSpec.method === M_U)) rm = rng.below(limit);
    else if (rmSpec) rm = pickGpr(operandBytesOf(rmSpec, opSize, false));
    else rm = rng.below(8);
    // call/jmp through RSP would point the stack at the code.
    if ((name === "call" || name === "jmp") && rm === RSP) return null;
    rexB = rm >> 3;
    modrm = 0xc0 | ((reg & 7) << 3) | (rm & 7);
  } else if (row.plusRegister && zSpec) {
    rm = pickGpr(operandBytesOf(zSpec, opSize, false));
    if (row.rexB === 0 && rm >= 8) return null;
    rexB = rm >> 3;
  }

  // ModRM.rm, memory form: choose where the operand lands, then an addressing form that reaches it.
  if (row.hasModrm && memForm) {
    const spec = rmSpec ?? ops[0];
    const size = name === "fxsave" || name === "fxrstor" || name === "fxsave64" || name === "fxrstor64" ? 512 : operandBytesOf(spec, opSize, true);
    const needsAlignment = size === 16 && !UNALIGNED_OK.has(name) || size === 512 || name === "cmpxchg16b";
    const align = needsAlignment || size === 512 ? 16 : size >= 2 && size <= 8 ? size : 1;
    const target = pickOffset(rng, size, align, b.sequence);
    let address = target.nonCanonical ? nonCanonicalAddress(rng) : BigInt(SCRATCH_ADDRESS + target.offset);
    // A misaligned non-canonical operand could raise #GP (alignment) or #SS/#GP (canonical): the
    // priority between them is not architectural, so such operands stay aligned.
    if (target.nonCanonical && align >= 16) address &= ~15n;
    if (addr32 && target.nonCanonical) address = BigInt(0x10_0000 + (rng.below(0x700_0000) & ~0xfff)); // low unmapped memory instead
    memory = { offset: Number(address - BigInt(SCRATCH_ADDRESS)), size, nonCanonical: target.nonCanonical && !addr32 };
    if (addr32 && target.nonCanonical) memory.offset = -0x1000_0000; // far outside: never peeked or poked
    const addrMask = addr32 ? 0xffff_ffffn : 0xffff_ffff_ffff_ffffn;
    const form = rng.below(100);
    if (!b.sequence && form < 8 || b.sequence && form < 15) {
      // RIP-relative: disp32 fixed up once the code layout is known (32-bit EA with 67).
      modrm = ((reg & 7) << 3) | 5;
      disp.push(0, 0, 0, 0);
      fixups.push({ at: -1, size: 4, kind: "rip", target: memory.offset });
      if (target.nonCanonical) return null;
    } else if (!b.sequence && form < 13 || b.sequence && form < 22) {
      // [disp32] through a SIB byte without base or index.
      if (target.nonCanonical) return null;
      modrm = ((reg & 7) << 3) | 4;
      sib = (rng.below(4) << 6) | (4 << 3) | 5;
      const value = Number(address & 0xffff_ffffn);
      if (value >= 0x8000_0000 && !addr32) return null;
      disp.push(value & 0xff, (value >> 8) & 0xff, (value >> 16) & 0xff, (value >>> 24) & 0xff);
    } else {
      const base = b.sequence ? R14 : rng.below(limit);
      const index = !b.sequence && rng.chance(0.35) ? (() => { for (;;) { const n = rng.below(limit); if (n !== RSP) return n; } })() : -1;
      const scale = index >= 0 ? rng.below(4) : 0;
      let mod = rng.pick([0, 1, 1, 2]);
      if ((base & 7) === 5 && mod === 0) mod = 1;
      let displacement = 0;
      if (mod === 1) displacement = rng.below(256) - 128;
      if (mod === 2) displacement = rng.chance(0.5) ? rng.below(0x2000) - 0x1000 : (rng.u32() | 0);
      if (index >= 0 || (base & 7) === 4) {
        modrm = (mod << 6) | ((reg & 7) << 3) | 4;
        sib = (scale << 6) | (((index >= 0 ? index : 4) & 7) << 3) | (base & 7);
        if (index >= 0) rexX = index >> 3;
      } else {
        modrm = (mod << 6) | ((reg & 7) << 3) | (base & 7);
      }
      rexB = base >> 3;
      if (mod === 1) disp.push(displacement & 0xff);
      if (mod === 2) disp.push(displacement & 0xff, (displacement >> 8) & 0xff, (displacement >> 16) & 0xff, (displacement >>> 24) & 0xff);
      if (b.sequence) {
        // r14 is fixed for the whole sequence: the displacement has to reach the target.
        const need = address - b.state.gpr[R14];
        if (mod === 1 && (need < -128n || need > 127n)) mod = 2;
        if (mod === 0 && need !== 0n) mod = 2;
        if (need < -0x8000_0000n || need > 0x7fff_ffffn) return null;
        const d = Number(need);
        modrm = (mod << 6) | ((reg & 7) << 3) | (R14 & 7);
        disp.length = 0;
        if (mod === 1) disp.push(d & 0xff);
        if (mod === 2) disp.push(d & 0xff, (d >> 8) & 0xff, (d >> 16) & 0xff, (d >>> 24) & 0xff);
      } else {
        const scaleFactor = 1n << BigInt(scale);
        const d = BigInt(displacement);
        let indexValue = 0n;
        if (index >= 0 && index !== base) {
          indexValue = rng.chance(0.6) ? BigInt.asUintN(64, BigInt(rng.below(129) - 64)) : rng.chance(0.5) ? gprValue(rng) & 0xffn : BigInt(rng.below(0x400));
          if (addr32) indexValue = (rng.u64() & 0xffff_ffff_0000_0000n) | (indexValue & 0xffff_ffffn);
          addressRegs.push({ reg: index, value: indexValue });
        }
        let baseValue: bigint;
        if (index === base) {
          // [r + r*s + d]: solve for r; the address may land up to 8 bytes lower.
          const divisor = 1n + scaleFactor;
          const wanted = (address - d) & addrMask;
          baseValue = wanted / divisor;
          const actual = (baseValue * divisor + d) & addrMask;
          if (target.nonCanonical && align >= 16 && (actual & 15n) !== 0n) return null;
          memory.offset = Number(actual - BigInt(SCRATCH_ADDRESS));
          if (memory.nonCanonical) memory.offset = Number(BigInt.asIntN(64, actual) % 0x1_0000n);
        } else {
          baseValue = (address - d - ((addr32 ? indexValue & 0xffff_ffffn : indexValue) * scaleFactor)) & addrMask;
        }
        if (addr32) baseValue = (rng.chance(0.5) ? rng.u64() & 0xffff_ffff_0000_0000n : 0n) | (baseValue & 0xffff_ffffn);
        // RSP as a base stays near the region: pushes and calls must never reach the code page.
        if (base === RSP && (baseValue < BigInt(SCRATCH_ADDRESS - PAGE_SIZE) || baseValue > BigInt(SCRATCH_ADDRESS + SCRATCH_SIZE + PAGE_SIZE))) return null;
        addressRegs.unshift({ reg: base, value: baseValue });
        if (NO_ACCESS.has(name) && rng.chance(0.5)) {
          // No memory access: any address arithmetic, including wrap-around.
          for (const a of addressRegs) a.value = gprValue(rng);
          memory = null;
        }
      }
    }
  }

  // MOVSXD r16, m: Intel reads a word, AMD a dword; keep the two from differing at the region's end.
  if (name === "movsxd" && opSize === 2 && memory && !memory.nonCanonical && memory.offset + 4 > SCRATCH_SIZE && memory.offset + 2 <= SCRATCH_SIZE) return null;

  // Immediates, branch displacements and moffs.
  const immediates: number[] = [];
  const immBytes: number[] = [];
  let immediateIndex = 0;
  for (const spec of ops) {
    if (spec.method === M_I) {
      const bytes = spec.size === S_B || spec.size === S_BS ? 1 : spec.size === S_W ? 2 : spec.size === S_Z ? (opSize === 2 ? 2 : 4) : spec.size === S_V ? opSize : 4;
      const value = immediateFor(rng, name, immediateIndex++, bytes, opSize);
      immediates.push(Number(value & 0xffff_ffffn));
      for (let i = 0; i < bytes; i++) immBytes.push(Number((value >> BigInt(8 * i)) & 0xffn));
    } else if (spec.method === M_J) {
      const bytes = spec.size === S_B ? 1 : 4;
      const self = LOOPS.has(name) && name !== "jcxz" && rng.chance(0.5);
      fixups.push({ at: -2 - immBytes.length, size: bytes as 1 | 4, kind: self ? "branch-self" : "branch-end" });
      for (let i = 0; i < bytes; i++) immBytes.push(0);
    } else if (spec.method === M_O) {
      const bytes = addr32 ? 4 : 8;
      const size = operandBytesOf(spec, opSize, true);
      const target = pickOffset(rng, size, size, false);
      const address = target.nonCanonical ? (addr32 ? BigInt(rng.below(0x1000_0000)) : nonCanonicalAddress(rng)) : BigInt(SCRATCH_ADDRESS + target.offset);
      memory = { offset: Number(address - BigInt(SCRATCH_ADDRESS)), size, nonCanonical: target.nonCanonical && !addr32 };
      if (target.nonCanonical) memory.offset = -0x1000_0000;
      for (let i = 0; i < bytes; i++) immBytes.push(Number((address >> BigInt(8 * i)) & 0xffn));
    }
  }

  // Assemble.
  const bytes: number[] = [...prefixes];
  if (hasRex) bytes.push(0x40 | (rexW ? 8 : 0) | (rexR << 2) | (rexX << 1) | rexB);
  if (row.map === MAP_0F) bytes.push(0x0f);
  if (row.map === MAP_0F38) bytes.push(0x0f, 0x38);
  if (row.map === MAP_0F3A) bytes.push(0x0f, 0x3a);
  bytes.push(row.plusRegister ? row.opcode | (rm & 7) : row.opcode);
  if (modrm >= 0) bytes.push(modrm);
  if (sib >= 0) bytes.push(sib);
  const dispAt = bytes.length;
  bytes.push(...disp);
  const immAt = bytes.length;
  bytes.push(...immBytes);
  for (const f of fixups) {
    if (f.kind === "rip") f.at = dispAt;
    else f.at = immAt + (-2 - f.at);
  }
  // RIP-relative with an immediate after the displacement: fine, the fixup uses the instruction's end.
  return {
    row, bytes, fixups, opSize, addr32, hasRex, reg, rm, memForm, memory, addressRegs, immediates, rep,
  };
}

function immediateFor(rng: Rng, name: string, index: number, bytes: number, opSize: number): bigint {
  if (SHIFTS.has(name) || name === "shld" || name === "shrd") return BigInt(shiftCount(rng));
  if (name === "enter") {
    if (index === 0) return BigInt(rng.pick([0, 8, 16, 24, 32, rng.below(0x100), rng.below(0x100) & ~7, 0x1000 + rng.below(0x800)]));
    return BigInt(rng.chance(0.4) ? 0 : rng.chance(0.6) ? 1 + rng.below(4) : rng.below(256));
  }
  if (name === "ret") return BigInt(rng.pick([0, 8, 16, 0x18, rng.below(0x100), rng.below(0x40) & ~7, 0xfff8, 1]));
  if (SSE_COMPARES.has(name)) return BigInt(rng.below(8));
  if (name === "psrlw" || name === "psrld" || name === "psrlq" || name === "psraw" || name === "psrad" || name === "psllw" || name === "pslld" || name === "psllq" || name === "psrldq" || name === "pslldq") {
    return BigInt(rng.chance(0.7) ? rng.pick([0, 1, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 255]) : rng.byte());
  }
  if (bytes === 1) return operandValue(rng, 1);
  if (bytes === 8 || opSize === 8 && bytes === 8) return operandValue(rng, 8);
  return operandValue(rng, bytes);
}

/** Encodes `row` (several attempts) so that it decodes back to exactly that row; null if it cannot. */
function encodeRow(b: CaseBuilder, row: OpcodeRow, forceLock = false): Emitted | null {
  for (let attempt = 0; attempt < 16; attempt++) {
    const e = tryEncode({ b, row, forceLock });
    if (!e) continue;
    const ins = decode(Uint8Array.from(e.bytes), 0, 64);
    if (forceLock) {
      if (ins.status === DecodeStatus.Invalid) return e;
      continue;
    }
    if (ins.status === DecodeStatus.Ok && ins.row === row && ins.length === e.bytes.length) return e;
  }
  return null;
}

// ---------------------------------------------------------------------------------------------------
// Operand values, per instruction

const STRING_ELEMENT: Record<string, number> = { movsb: 1, cmpsb: 1, stosb: 1, lodsb: 1, scasb: 1, insb: 1, outsb: 1 };

function accumulatorBytes(e: Emitted): number {
  return STRING_ELEMENT[baseName(e.row)] ?? e.opSize;
}

/** Sets the operand values an instruction needs to do something interesting (and not just fault). */
function shapeValues(b: CaseBuilder, e: Emitted): void {
  const rng = b.rng;
  const row = e.row;
  const name = baseName(row);
  const ops = row.operands;
  const rmSpec = ops.find((o) => o.method === M_E || o.method === M_M || o.method === M_W);
  const rmBytes = rmSpec ? operandBytesOf(rmSpec, e.opSize, e.memForm) : e.opSize;
  const flavor = laneFlavor(row);

  // Memory operands get edge values (integers) or flavored lanes (SSE).
  if (e.memForm && e.memory && !e.memory.nonCanonical && !NO_ACCESS.has(name) && e.memory.size <= 16 && rng.chance(0.6)) {
    if (flavor && rmSpec?.method === M_W) {
      const [low, high] = xmmValue(rng, flavor);
      b.pokeValue(e.memory.offset, low, Math.min(8, e.memory.size));
      if (e.memory.size > 8) b.pokeValue(e.memory.offset + 8, high, e.memory.size - 8);
    } else {
      b.pokeValue(e.memory.offset, operandValue(rng, Math.min(8, e.memory.size)), Math.min(8, e.memory.size));
    }
  }

  if (SHIFTS.has(name) || name === "shld" || name === "shrd") {
    if (ops[ops.length - 1].notation === "CL" && !b.sequence) b.setGpr(RCX, (b.state.gpr[RCX] & ~0xffn) | BigInt(shiftCount(rng)));
  }

  switch (name) {
    case "div": case "idiv": shapeDivision(b, e, name === "idiv", rmBytes); break;
    case "bsf": case "bsr": case "tzcnt": case "lzcnt": case "popcnt":
      if (rng.chance(0.2)) writeRm(b, e, 0n, rmBytes);
      break;
    case "cmpxchg":
      if (rng.chance(0.5)) {
        const value = readRm(b, e, rmBytes);
        if (value !== undefined) writeReg(b, { ...e, hasRex: true }, RAX, value, rmBytes);
      }
      break;
    case "cmpxchg8b": case "cmpxchg16b": {
      const half = name === "cmpxchg8b" ? 4 : 8;
      if (e.memory && rng.chance(0.5)) {
        const low = b.peek(e.memory.offset, half), high = b.peek(e.memory.offset + half, half);
        if (low !== undefined && high !== undefined) {
          b.setGpr(RAX, half === 4 ? withUpperNoise(rng, low, 4) : low);
          b.setGpr(RDX, half === 4 ? withUpperNoise(rng, high, 4) : high);
        }
      }
      break;
    }
    case "bt": case "bts": case "btr": case "btc":
      if (e.memForm && e.memory && ops[1].method === M_G) {
        // A bit offset that keeps the access inside the region most of the time.
        const low = -e.memory.offset * 8, high = (SCRATCH_SIZE - e.memory.offset - e.opSize) * 8;
        let offset = rng.chance(0.6) ? rng.below(512) - 128 : low + rng.below(Math.max(1, high - low));
        if (rng.chance(0.1)) offset = Number(BigInt.asIntN(32, operandValue(rng, 4)));
        b.setGpr(e.reg, withUpperNoise(rng, BigInt.asUintN(64, BigInt(offset)), e.opSize));
      }
      break;
    case "loop": case "loope": case "loopne": case "jcxz": {
      const self = e.fixups.some((f) => f.kind === "branch-self");
      let count = self ? BigInt(1 + rng.below(300)) : BigInt(rng.pick([0, 1, 2, 3, rng.below(100)]));
      if (!self && name === "jcxz" && rng.chance(0.4)) count = 0n;
      b.setGpr(RCX, e.addr32 ? (rng.u64() & 0xffff_ffff_0000_0000n) | count : count);
      break;
    }
    case "movsb": case "movsw": case "cmpsb": case "cmpsw": case "stosb": case "stosw": case "lodsb": case "lodsw": case "scasb": case "scasw":
    case "insb": case "insw": case "outsb": case "outsw":
      shapeString(b, e);
      break;
    case "xlatb": {
      const table = rng.below(SCRATCH_SIZE - 0x100 + 0x40);
      b.setGpr(RBX, e.addr32 ? (rng.u64() & 0xffff_ffff_0000_0000n) | BigInt(SCRATCH_ADDRESS + table) : BigInt(SCRATCH_ADDRESS + table));
      break;
    }
    case "maskmovdqu": {
      const at = rng.chance(0.9) ? rng.below(SCRATCH_SIZE - 15) : SCRATCH_SIZE - 15 + rng.below(15);
      b.setGpr(RDI, e.addr32 ? (rng.u64() & 0xffff_ffff_0000_0000n) | BigInt(SCRATCH_ADDRESS + at) : BigInt(SCRATCH_ADDRESS + at));
      break;
    }
    case "enter": case "leave":
      b.setGpr(RBP, BigInt(SCRATCH_ADDRESS + ((0x100 + rng.below(SCRATCH_SIZE - 0x200)) & (rng.chance(0.9) ? ~7 : ~0))));
      break;
    case "popf": {
      const rsp = Number(b.state.gpr[RSP] - BigInt(SCRATCH_ADDRESS)) + b.stackDelta;
      b.pokeValue(rsp, popfImage(rng), e.opSize === 2 ? 2 : 8);
      b.stackDelta += e.opSize === 2 ? 2 : 8;
      break;
    }
    case "pushf":
      b.stackDelta -= e.opSize === 2 ? 2 : 8;
      break;
    case "ret":
      b.deferred.push((end) => b.pokeValue(Number(b.state.gpr[RSP] - BigInt(SCRATCH_ADDRESS)), end, 8));
      break;
    case "call": case "jmp":
      if (ops[0].method === M_E) {
        if (e.memForm) {
          const memory = e.memory;
          if (memory && !memory.nonCanonical) b.deferred.push((end) => b.pokeValue(memory.offset, end, 8));
        } else {
          const target = e.rm;
          b.deferred.push((end) => b.setGpr(target, end));
        }
      }
      break;
    case "ldmxcsr":
      if (e.memory) {
        let value = mxcsrValue(rng);
        if (rng.chance(0.05)) value |= rng.pick([1 << 16, 1 << 20, 1 << 31]) >>> 0; // reserved bit: #GP(0)
        b.pokeValue(e.memory.offset, BigInt(value >>> 0), 4);
      }
      break;
    case "fxrstor": case "fxrstor64":
      if (e.memory) {
        let value = mxcsrValue(rng);
        if (rng.chance(0.05)) value |= 1 << 20;
        b.pokeValue(e.memory.offset + 24, BigInt(value), 4);
        for (let i = 0; i < 16; i++) {
          const [low, high] = xmmValue(rng, rng.pick(["f32", "f64", "int"] as const));
          b.pokeValue(e.memory.offset + 160 + 16 * i, low, 8);
          b.pokeValue(e.memory.offset + 168 + 16 * i, high, 8);
        }
      }
      break;
  }
}

/** Division operands that mostly do not fault: dividend = quotient * divisor + remainder. */
function shapeDivision(b: CaseBuilder, e: Emitted, signed: boolean, bytes: number): void {
  const rng = b.rng;
  if (rng.chance(0.1)) return; // random operands: mostly #DE
  if (!e.memForm && (e.rm === RAX || e.rm === RDX || (bytes === 1 && !e.hasRex && e.rm === 4))) return;
  const bits = BigInt(bytes * 8);
  const limit = 1n << bits;
  let divisor = operandValue(rng, bytes);
  if (divisor === 0n && rng.chance(0.8)) divisor = 1n + BigInt(rng.below(255));
  let dividend: bigint;
  if (signed) {
    const d = BigInt.asIntN(Number(bits), divisor);
    if (rng.chance(0.03)) {
      divisor = limit - 1n; // -1
      dividend = BigInt.asUintN(Number(bits) * 2, -(1n << (bits * 2n - 1n))); // most negative: #DE
    } else {
      const half = limit / 2n;
      const q = BigInt.asIntN(Number(bits), operandValue(rng, bytes)) % half;
      const magnitude = d < 0n ? -d : d;
      let r = magnitude === 0n ? 0n : BigInt(rng.u32()) % magnitude;
      const product = q * d;
      if (product < 0n || (product === 0n && rng.chance(0.5))) r = -r;
      dividend = BigInt.asUintN(Number(bits) * 2, product + r);
    }
  } else {
    const q = operandValue(rng, bytes);
    const r = divisor === 0n ? 0n : (rng.u64() & (limit - 1n)) % divisor;
    dividend = q * divisor + r;
  }
  writeRm(b, e, divisor, bytes);
  const eWithRex = { ...e, hasRex: true };
  if (bytes === 1) {
    writeReg(b, eWithRex, RAX, dividend & 0xffffn, 2);
  } else {
    writeReg(b, eWithRex, RAX, dividend & (limit - 1n), bytes);
    writeReg(b, eWithRex, RDX, (dividend >> bits) & (limit - 1n), bytes);
  }
}

/** String instructions: RSI/RDI inside the region with room for RCX elements in the DF direction. */
function shapeString(b: CaseBuilder, e: Emitted): void {
  const rng = b.rng;
  const name = baseName(e.row);
  const element = accumulatorBytes(e);
  const count = e.rep ? rng.pick([0, 1, 2, 3, 1 + rng.below(16), 1 + rng.below(64)]) : rng.below(4);
  const down = (b.state.rflags & FLAG_DF) !== 0;
  const span = Math.max(1, count) * element;
  const place = (): number => {
    if (rng.chance(0.1)) return down ? rng.below(span) : SCRATCH_SIZE - rng.below(span) - element; // runs off an edge
    const start = down ? span - element + rng.below(Math.max(1, SCRATCH_SIZE - span)) : rng.below(Math.max(1, SCRATCH_SIZE - span));
    return rng.chance(0.8) ? start & ~(element - 1) : start;
  };
  const source = place(), destination = place();
  const pointer = (offset: number) => {
    const address = BigInt(SCRATCH_ADDRESS + offset);
    return e.addr32 ? (rng.chance(0.5) ? rng.u64() & 0xffff_ffff_0000_0000n : 0n) | address : address;
  };
  b.setGpr(RSI, pointer(source));
  b.setGpr(RDI, pointer(destination));
  if (e.rep || rng.chance(0.3)) b.setGpr(RCX, e.addr32 ? (rng.u64() & 0xffff_ffff_0000_0000n) | BigInt(count) : BigInt(count));
  // Make REPE/REPNE comparisons run for a while: equal elements up to a random point.
  if ((name === "cmpsb" || name === "cmpsw" || name === "scasb" || name === "scasw") && rng.chance(0.6)) {
    const equal = rng.below(count + 1);
    const accumulator = b.state.gpr[RAX] & ((1n << BigInt(element * 8)) - 1n);
    for (let i = 0; i < equal; i++) {
      const at = destination + (down ? -i : i) * element;
      if (name.startsWith("cmps")) {
        const value = b.peek(source + (down ? -i : i) * element, element);
        if (value !== undefined) b.pokeValue(at, value, element);
      } else b.pokeValue(at, accumulator, element);
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Flags: flagsOf plus the documented refinements (docs/oracle.md, "What is masked")

export interface FlagEffect {
  read: number;
  written: number;
  undefined: number;
}

/**
 * The flags one instruction reads, writes and leaves undefined: flagsOf(), with the count refinement
 * flagsOf applies to immediate counts also applied to CL counts (the count is known here), and
 * SDM-documented undefined CF of SHL/SHR by >= the operand width (byte and word operands) and flags of
 * SHLD/SHRD by more than 16 bits on a word operand.
 */
export function instructionFlags(ins: Instruction, cl: number): FlagEffect {
  const effect = flagsOf(ins);
  const row = ins.row;
  const name = baseName(row);
  const last = row.operands[row.operands.length - 1];
  const shift = SHIFTS.has(name) || name === "shld" || name === "shrd";
  if (!shift) return effect;
  const width = row.operands[0].size === S_B ? 8 : ins.opSize * 8;
  const raw = last?.method === M_I ? ins.imm & 0xff : last?.notation === "CL" ? cl : 1;
  const masked = raw & (width === 64 ? 0x3f : 0x1f);
  if ((name === "rcl" || name === "rcr") && masked !== 0 && masked !== 1 && width < 32 && masked % (width + 1) === 0) {
    // A nonzero count that is a multiple of 9 (byte) or 17 (word) rotates nothing: CF keeps its value,
    // but OF is only defined when (COUNT & countMASK) = 1 (SDM vol. 2B, RCL/RCR/ROL/ROR pseudocode).
    return { read: FLAG_CF, written: FLAG_CF, undefined: FLAG_OF };
  }
  if (last?.notation === "CL") {
    let count = masked;
    if (name === "rcl" || name === "rcr") count = width === 8 ? count % 9 : width === 16 ? count % 17 : count;
    if (count === 0) return { read: 0, written: 0, undefined: 0 };
    if (count === 1) {
      effect.written |= FLAG_OF;
      effect.undefined &= ~FLAG_OF;
    }
  }

  if ((name === "shl" || name === "shr" || name === "sal") && width < 32 && masked >= width) {
    effect.undefined |= FLAG_CF;
    effect.written &= ~FLAG_CF;
  }
  if ((name === "shld" || name === "shrd") && width === 16 && masked > 16) {
    effect.undefined |= ARITHMETIC_FLAGS;
    effect.written &= ~ARITHMETIC_FLAGS;
  }
  return effect;
}

// ---------------------------------------------------------------------------------------------------
// Cases

function formOf(ins: Instruction): string {
  const row = ins.row;
  const notation = row.operands.map((o) => o.notation).join(",");
  const size = sizeDependent(row) && !(row.attributes & A_F64) ? ` ${ins.opSize * 8}-bit` : "";
  const hasRm = row.hasModrm && row.operands.some((o) => o.method === M_E || o.method === M_W || o.method === M_M || o.method === M_R || o.method === M_U);
  const where = hasRm ? (ins.mod === 3 ? " reg" : " mem") : "";
  const prefixes = (ins.prefixes & 0x10 ? " a32" : "") + (ins.prefixes & 1 ? " lock" : "") + (ins.lastRepPrefix && (row.attributes & (A_REP | A_REPE)) ? (ins.lastRepPrefix === 0xf3 ? " rep" : " repne") : "");
  return `${ins.mnemonic}${notation ? " " + notation : ""}${size}${where}${prefixes}`;
}

/** Lays out the code, resolves branch/RIP fixups and deferred values, computes the flag masks. */
function finishCase(b: CaseBuilder, seed: number, index: number, kind: CaseKind, extraInstructions: Emitted[] = []): OracleCase | null {
  const all = [...b.emitted, ...extraInstructions];
  let offset = 0;
  const offsets: number[] = [];
  for (const e of all) {
    offsets.push(offset);
    offset += e.bytes.length;
  }
  const length = offset;
  if (length > MAX_CODE_LENGTH) return null;
  const end = BigInt(CODE_ADDRESS + length);
  const code = new Uint8Array(length);
  for (let i = 0; i < all.length; i++) {
    const e = all[i];
    const start = offsets[i];
    const next = BigInt(CODE_ADDRESS + start + e.bytes.length);
    for (const f of e.fixups) {
      let value: bigint;
      if (f.kind === "branch-end") value = end - next;
      else if (f.kind === "branch-self") value = BigInt(CODE_ADDRESS + start) - next;
      else if (f.kind === "rip") value = BigInt(SCRATCH_ADDRESS + (f.target ?? 0)) - next;
      else value = end;
      if (f.size === 1 && (value < -128n || value > 127n)) return null;
      if (f.size === 4 && (value < -0x8000_0000n || value > 0x7fff_ffffn)) return null;
      for (let k = 0; k < f.size; k++) e.bytes[f.at + k] = Number((value >> BigInt(8 * k)) & 0xffn);
    }
    code.set(e.bytes, start);
  }
  for (const action of b.deferred) action(end);

  // Flags: undefined in front of each instruction, and at the end over every path (forward branches end the code).
  const cl = Number(b.state.gpr[RCX] & 0xffn);
  const instructions: CaseInstruction[] = [];
  let undefinedFlags = 0, atEnd = 0;
  for (let i = 0; i < all.length; i++) {
    const ins = decode(code, offsets[i], 64);
    const e = all[i];
    const branch = isBranchRow(e.row);
    instructions.push({ offset: offsets[i], length: e.bytes.length, row: e.row, form: ins.status === DecodeStatus.Ok ? formOf(ins) : "(invalid)", undefinedBefore: undefinedFlags, branch, filler: !!e.filler });
    if (ins.status !== DecodeStatus.Ok) break;
    const effect = instructionFlags(ins, cl);
    undefinedFlags = (undefinedFlags & ~effect.written) | effect.undefined;
    if (branch) atEnd |= undefinedFlags;
  }
  atEnd |= undefinedFlags;

  if (kind === "single") addResultMasks(b, all[0], code);
  const group = kind === "sequence"
    ? "sequence: " + instructions.map((x) => x.form.split(" ")[0]).join(" ; ")
    : kind === "invalid" ? `invalid: ${instructions[0]?.form === "(invalid)" ? describeInvalid(code) : instructions[0]?.form}` : instructions[0]?.form ?? "(empty)";
  return {
    id: index >>> 0, seed, index, kind, code, state: b.state, scratchSeed: b.scratchSeed, patches: b.patches,
    instructions, undefinedAtEnd: atEnd, masks: b.masks, group,
  };
}

function describeInvalid(code: Uint8Array): string {
  let i = 0;
  const prefixes: string[] = [];
  while (i < code.length && [0xf0, 0x66, 0x67, 0xf2, 0xf3, 0x26, 0x2e, 0x36, 0x3e].includes(code[i])) prefixes.push(code[i++].toString(16));
  if (i < code.length && (code[i] & 0xf0) === 0x40) i++;
  const opcode = code[i] === 0x0f ? `0f ${code[i + 1]?.toString(16).padStart(2, "0")}` : code[i]?.toString(16).padStart(2, "0");
  return `${prefixes.includes("f0") ? "lock " : ""}opcode ${opcode}`;
}

/** The documented undefined results (docs/oracle.md): masks applied when a single instruction completes. */
function addResultMasks(b: CaseBuilder, e: Emitted, code: Uint8Array): void {
  const name = baseName(e.row);
  const ins = decode(code, 0, 64);
  const rmBytes = e.opSize;
  switch (name) {
    case "bsf": case "bsr": {
      const source = readRm(b, e, rmBytes);
      if (source === 0n || source === undefined) {
        b.masks.push({ kind: "gpr", reg: e.reg, bits: 0xffff_ffff_ffff_ffffn, why: "BSF/BSR with a zero source: destination undefined (SDM vol. 2A, BSF/BSR)" });
      }
      break;
    }
    case "bswap":
      if (e.opSize === 2) b.masks.push({ kind: "gpr", reg: e.rm, bits: 0xffffn, why: "BSWAP of a 16-bit register: result undefined (SDM vol. 2A, BSWAP)" });
      break;
    case "shld": case "shrd": {
      const last = e.row.operands[2];
      const count = (last.method === M_I ? ins.imm & 0xff : Number(b.state.gpr[RCX] & 0xffn)) & 0x1f;
      if (e.opSize === 2 && count > 16) {
        if (e.memForm) {
          if (e.memory) b.masks.push({ kind: "memory", offset: e.memory.offset, length: 2, why: "SHLD/SHRD of a word by more than 16: result undefined (SDM vol. 2B, SHLD/SHRD)" });
        } else b.masks.push({ kind: "gpr", reg: e.rm, bits: 0xffffn, why: "SHLD/SHRD of a word by more than 16: result undefined (SDM vol. 2B, SHLD/SHRD)" });
      }
      break;
    }
    case "fxsave": case "fxsave64":
      if (e.memory) {
        const why = "FXSAVE: only the MXCSR and XMM fields are compared (the x87 part is not modelled; MXCSR_MASK is host-specific)";
        b.masks.push({ kind: "memory", offset: e.memory.offset, length: 24, why });
        b.masks.push({ kind: "memory", offset: e.memory.offset + 28, length: 160 - 28, why });
        b.masks.push({ kind: "memory", offset: e.memory.offset + 416, length: 48, why });
      }
      break;
  }
  if (APPROXIMATE.has(name)) {
    const lanes = name.endsWith("ps") ? 0b1111 : 0b0001;
    const source: number[] = [];
    for (let lane = 0; lane < 4; lane++) {
      let value: bigint | undefined;
      if (e.memForm) value = e.memory ? b.peek(e.memory.offset + lane * 4, 4) : undefined;
      else value = (b.state.xmm[2 * e.rm + (lane >> 1)] >> BigInt((lane & 1) * 32)) & 0xffff_ffffn;
      source.push(value === undefined ? 0 : Number(value));
    }
    b.masks.push({
      kind: "approx", xmm: e.reg, lanes, fn: name.startsWith("rcp") ? "rcp" : "rsqrt", source,
      why: `${name.toUpperCase()}: an approximation, checked against the SDM's bound |relative error| <= 1.5*2^-12 (SDM vol. 2B, ${name.toUpperCase()})`,
    });
  }
}

/** Accepts an encoded instruction into the case: operand values, then the addressing registers. */
function accept(b: CaseBuilder, e: Emitted): void {
  shapeValues(b, e);
  for (const { reg, value } of e.addressRegs) b.setGpr(reg, value);
  b.emitted.push(e);
}

/** lea r11, [r11+1]: a flagless filler a taken branch skips, so taken and not taken differ. */
function fillerInstruction(): Emitted {
  const row = decode(Uint8Array.of(0x4d, 0x8d, 0x5b, 0x01), 0, 64).row;
  return {
    row, bytes: [0x4d, 0x8d, 0x5b, 0x01], fixups: [], opSize: 8, addr32: false, hasRex: true, reg: 11, rm: 11,
    memForm: true, memory: null, addressRegs: [], immediates: [], rep: 0, filler: true,
  };
}

// ---------------------------------------------------------------------------------------------------
// Row pools

export interface RowPools {
  single: OpcodeRow[];
  privileged: OpcodeRow[];
  producers: OpcodeRow[];
  consumers: OpcodeRow[];
  lockable: OpcodeRow[];
}

const PRODUCER_NAMES = new Set([
  "add", "or", "adc", "sbb", "and", "sub", "xor", "cmp", "test", "inc", "dec", "neg", "rol", "ror", "rcl", "rcr", "shl", "shr", "sal", "sar",
  "imul", "mul", "bt", "bts", "btr", "btc", "popcnt", "lzcnt", "tzcnt", "cmpxchg", "xadd", "comiss", "ucomiss", "comisd", "ucomisd",
  "sahf", "popf", "clc", "stc", "cmc",
]);
const CONSUMER_NAMES = new Set(["adc", "sbb", "pushf", "lahf", "rcl", "rcr", "cmc", "jmp"]);

let pools: RowPools | undefined;

export function rowPools(): RowPools {
  if (pools) return pools;
  const inventory = rowInventory();
  const single = inventory.eligible;
  const isConsumer = (row: OpcodeRow) => {
    const name = baseName(row);
    if (name === "jmp") return row.operands[0].method === M_J;
    return CONSUMER_NAMES.has(name) || /^(j(?!mp|cxz)|set|cmov)/.test(name);
  };
  pools = {
    single,
    privileged: inventory.privileged,
    producers: single.filter((row) => PRODUCER_NAMES.has(baseName(row))),
    consumers: single.filter(isConsumer),
    lockable: single.filter((row) => (row.attributes & A_LOCK) !== 0),
  };
  return pools;
}

// ---------------------------------------------------------------------------------------------------
// Public entry points

/** The per-case RNG: splitmix-like mixing of the run seed and the case index. */
function caseRng(seed: number, index: number): Rng {
  let h = Math.imul(seed ^ 0x9e37_79b9, 0x85eb_ca6b) ^ index;
  h = Math.imul(h ^ (h >>> 16), 0x7feb_352d);
  h = Math.imul(h ^ (h >>> 15), 0x846c_a68b);
  return new Rng((h ^ (h >>> 16)) >>> 0);
}

export function generateCase(seed: number, index: number, options: GenerateOptions = {}): OracleCase {
  const rng = caseRng(seed, index);
  for (let attempt = 0; ; attempt++) {
    const r = rng.below(100);
    const scratchSeed = rng.u32();
    let made: OracleCase | null;
    if (options.privileged && r < 4) made = privilegedCase(rng, scratchSeed, seed, index);
    else if (r < 70) made = singleCase(rng, scratchSeed, seed, index);
    else if (r < 96) made = sequenceCase(rng, scratchSeed, seed, index);
    else made = invalidCase(rng, scratchSeed, seed, index);
    if (made) return made;
    if (attempt > 100) throw new Error(`oracle generator: cannot build case ${index} of seed ${seed}`);
  }
}

/** A single instruction of the given row (used by the coverage test to reach every row). */
export function singleCaseOf(row: OpcodeRow, seed: number, index: number): OracleCase | null {
  const rng = caseRng(seed, index);
  const b = new CaseBuilder(rng, rng.u32(), false);
  return buildSingle(b, row, seed, index, "single");
}

function buildSingle(b: CaseBuilder, row: OpcodeRow, seed: number, index: number, kind: CaseKind): OracleCase | null {
  b.flavorXmm(laneFlavor(row));
  const e = encodeRow(b, row);
  if (!e) return null;
  accept(b, e);
  const extra = isBranchRow(row) && baseName(row) !== "ret" ? [fillerInstruction()] : [];
  return finishCase(b, seed, index, kind, extra);
}

function singleCase(rng: Rng, scratchSeed: number, seed: number, index: number): OracleCase | null {
  const { single } = rowPools();
  const b = new CaseBuilder(rng, scratchSeed, false);
  return buildSingle(b, rng.pick(single), seed, index, "single");
}

function privilegedCase(rng: Rng, scratchSeed: number, seed: number, index: number): OracleCase | null {
  const { privileged } = rowPools();
  const b = new CaseBuilder(rng, scratchSeed, false);
  return buildSingle(b, rng.pick(privileged), seed, index, "privileged");
}

function sequenceCase(rng: Rng, scratchSeed: number, seed: number, index: number): OracleCase | null {
  const { producers, consumers } = rowPools();
  const b = new CaseBuilder(rng, scratchSeed, true);
  const length = 2 + rng.below(3);
  const cl = () => Number(b.state.gpr[RCX] & 0xffn);
  let undefinedFlags = 0;
  b.flavorXmm("f32");
  for (let i = 0; i < length; i++) {
    let placed = false;
    for (let attempt = 0; attempt < 12 && !placed; attempt++) {
      const pool = i === 0 || (i < length - 1 && rng.chance(0.35)) || attempt >= 8 ? producers : consumers;
      const row = rng.pick(pool);
      const e = encodeRow(b, row);
      if (!e) continue;
      const ins = decode(Uint8Array.from(e.bytes), 0, 64);
      const effect = instructionFlags(ins, cl());
      if (effect.read & undefinedFlags) continue; // would read an undefined flag: the result would be undefined too
      accept(b, e);
      undefinedFlags = (undefinedFlags & ~effect.written) | effect.undefined;
      placed = true;
    }
    if (!placed) return null;
  }
  const extra = b.emitted.some((e) => isBranchRow(e.row)) ? [fillerInstruction()] : [];
  return finishCase(b, seed, index, "sequence", extra);
}

const I64_OPCODES = [0x06, 0x07, 0x0e, 0x16, 0x17, 0x1e, 0x1f, 0x27, 0x2f, 0x37, 0x3f, 0x60, 0x61, 0x82, 0x9a, 0xce, 0xd4, 0xd5, 0xd6, 0xea];

/** An invalid encoding: an opcode that does not exist in 64-bit mode, or LOCK where it is not allowed. */
function invalidCase(rng: Rng, scratchSeed: number, seed: number, index: number): OracleCase | null {
  const b = new CaseBuilder(rng, scratchSeed, false);
  b.flavorXmm(null);
  if (rng.chance(0.4)) {
    const opcode = rng.pick(I64_OPCODES);
    const bytes = [opcode, rng.byte(), rng.byte(), rng.byte(), rng.byte(), rng.byte(), rng.byte()];
    const ins = decode(Uint8Array.from(bytes), 0, 64);
    if (ins.status !== DecodeStatus.Invalid) return null;
    b.emitted.push({ ...fillerInstruction(), row: ins.row, bytes: bytes.slice(0, Math.max(1, ins.length)), filler: false });
    return finishCase(b, seed, index, "invalid");
  }
  // LOCK on a register destination, or on an instruction that does not take LOCK.
  const { single, lockable } = rowPools();
  const row = rng.chance(0.5) ? rng.pick(lockable) : rng.pick(single);
  if (isBranchRow(row)) return null;
  const e = encodeRow(b, row, true);
  if (!e) return null;
  if (e.bytes[0] !== 0xf0) e.bytes.unshift(0xf0);
  if (decode(Uint8Array.from(e.bytes), 0, 64).status !== DecodeStatus.Invalid) return null;
  accept(b, e);
  return finishCase(b, seed, index, "invalid");
}

/** Coverage bookkeeping: which eligible rows a run generated. */
export class Coverage {
  readonly rowCases = new Map<number, number>();
  readonly kinds: Record<CaseKind, number> = { single: 0, sequence: 0, invalid: 0, privileged: 0 };

  add(c: OracleCase): void {
    this.kinds[c.kind]++;
    if (c.kind === "invalid") return;
    for (const ins of c.instructions) if (!ins.filler) this.rowCases.set(ins.row.id, (this.rowCases.get(ins.row.id) ?? 0) + 1);
  }

  report(): { eligible: number; covered: number; uncovered: OpcodeRow[]; text: string } {
    const inventory = rowInventory();
    const uncovered = inventory.eligible.filter((row) => !this.rowCases.has(row.id));
    const covered = inventory.eligible.length - uncovered.length;
    const privilegedCovered = inventory.privileged.filter((row) => this.rowCases.has(row.id)).length;
    const lines = [
      `forms covered: ${covered} / ${inventory.eligible.length} eligible rows of OPCODE_TABLE` +
        ` (cases: ${this.kinds.single} single, ${this.kinds.sequence} sequences, ${this.kinds.invalid} invalid encodings, ${this.kinds.privileged} privileged)`,
      `privileged rows (#GP(0) at CPL 3): ${privilegedCovered} / ${inventory.privileged.length} covered${privilegedCovered ? "" : " (set ORACLE_PRIVILEGED=1)"}`,
      `outside (unsupported or invalid in 64-bit mode): ${inventory.outside.length} rows`,
    ];
    if (uncovered.length) lines.push(`uncovered eligible rows:`, ...uncovered.map((row) => `  ${row.source}`));
    lines.push(`skipped rows (${inventory.skipped.length}):`, ...inventory.skipped.map(({ row, reason }) => `  ${row.source.padEnd(40)} ${reason}`));
    return { eligible: inventory.eligible.length, covered, uncovered, text: lines.join("\n") };
  }
}

/** Disassembly of a case's code, one instruction per line. */
export function disassemble(c: Pick<OracleCase, "code">): string[] {
  const lines: string[] = [];
  let offset = 0;
  while (offset < c.code.length) {
    const ins = decode(c.code, offset, 64);
    const length = Math.max(1, ins.length);
    const bytes = Array.from(c.code.subarray(offset, offset + length), (x) => x.toString(16).padStart(2, "0")).join(" ");
    lines.push(`${(CODE_ADDRESS + offset).toString(16)}: ${bytes.padEnd(30)} ${formatIntel(ins, BigInt(CODE_ADDRESS + offset))}`);
    if (ins.status !== DecodeStatus.Ok && ins.status !== DecodeStatus.Unsupported) break;
    offset += length;
  }
  return lines;
}


