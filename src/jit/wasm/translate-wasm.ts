// The WebAssembly translator: guest blocks of 64-bit code → one WebAssembly function, for the
// instructions that dominate hot integer code (moves, ALU, LEA, INC/DEC/NEG/NOT, shifts and IMUL
// whose flags nobody reads, the stack, calls, returns and branches, SETcc/CMOVcc). Guest registers
// are i64 locals, so a 64-bit ADD or ROR is one WebAssembly instruction.
//
//   run(budget, readTags, writeTags, fastBase) → exit index, or -1 after a fault
//
// Instructions without a template here (MUL, DIV, BSWAP, BT, REP MOVS/STOS, CLD, the other SSE
// instructions …) run inside the unit through the interpreter's semantics: the JS helper `ex` runs
// the decoded instruction on the CPU state, with the unit's registers stored before the call and
// loaded after it, and the flags handed over both ways (a call costs tens of nanoseconds, where
// leaving the unit for the dispatcher cost a microsecond). Only control transfers without a
// template cut a block, before them: the unit exits there and the dispatcher continues.
//
// Memory: the TLB's fast tags and RAM share the unit's memory (memory.ts); an access whose tag does
// not match, that crosses a page or needs a right the tag does not grant calls the JS helper `rd` or
// `wr`, which runs the MMU's slow path and returns a status instead of throwing: on a fault the unit
// writes back the state of the faulting instruction and returns -1.
//
// Flags: as in the JavaScript units, the last flag producer stays pending (its operands and result
// in locals FA, FB, FR; which operation and size is known statically), readers evaluate their
// condition from it, and the record is written only where it must exist: at exits and faults (into
// the state area, which the wrapper copies into the CPU's lazy-flags record). Across a region's
// blocks the flags travel materialised in one i32 local (FL).
import { BASE_RIP, P_LOCK, P_REP, P_REPNE, P_REX, type Instruction } from "../../decoder/decode.js";
import { AF, CF, OF, ZF } from "../../decoder/flags.js";
import { M_E, M_FIXED_REG, M_G, M_I, M_J, M_M, M_ONE, M_R, M_V, M_W, M_Z } from "../../decoder/operand-spec.js";
import { SS } from "../../machine/cpu.js";
import { memorySegment } from "../../machine/interp/operand-access.js";
import { LAZY_ADD, LAZY_DEC, LAZY_INC, LAZY_LOGIC, LAZY_SUB } from "../../machine/lazy-flags.js";
import { RAM_OFFSET } from "../../machine/memory.js";
import { relativeTarget, type GuestBlock, type GuestInstruction } from "../discover.js";
import { INSTRUCTION_KIND, KIND_PORT_IO, KIND_STRAIGHT } from "../instruction-kinds.js";
import { immediateParts, isGeneralOperand, isMemoryOperand, operandSize } from "../operand-forms.js";
import type { ExitInfo } from "../unit-writer.js";
import { F64, FunctionBody, I32, I64, OP, encodeModule } from "./encoding.js";
import { DIRECTION, ENTRY_FLAGS, EXIT_RETIRED, EXIT_RIP, FLAGS_A, FLAGS_B, FLAGS_OP, FLAGS_R, FLAGS_SIZE, FLAGS_WORD, SCRATCH, SSE_READY } from "./state-layout.js";

/** Imported helpers, by index. */
const IMPORT_READ = 0; // rd(linear f64, size, segment, forWrite) → 0 ok / 1 fault; value at SCRATCH
const IMPORT_WRITE = 1; // wr(linear f64, size, segment, lo, hi) → 0 ok / 1 fault / 2 the unit went stale
const IMPORT_FAULT = 2; // fault(kind, segment) → 1: records the FAULT_* exception (0: SSE is available after all)
const IMPORT_TSC = 4; // tsc(budget left): the time-stamp counter at SCRATCH (i64)
const IMPORT_EXEC = 3; // ex(id, budget left) → 0 ok / 1 fault (or REP unfinished) / 2 the unit went stale; arithmetic flags at SCRATCH

/** What fault() raises. */
export const FAULT_BAD_TARGET = 0; // #GP(0): a branch to a non-canonical address
export const FAULT_NON_CANONICAL = 1; // #GP(0) or #SS(0) by the segment: a non-canonical data address
export const FAULT_SSE = 2; // #UD or #NM: SSE is not available
export const FAULT_MISALIGNED = 3; // #GP(0): a misaligned 16-byte operand

/** wr's size for a 16-byte store of XMM register `lo` (both pages checked first when it crosses one). */
export const STORE_XMM = 16;

export const WASM_IMPORTS = [
  { name: "rd", type: { params: [F64, I32, I32, I32], results: [I32] } },
  { name: "wr", type: { params: [F64, I32, I32, I32, I32], results: [I32] } },
  { name: "fault", type: { params: [I32, I32], results: [I32] } },
  { name: "ex", type: { params: [I32, I32], results: [I32] } },
  { name: "tsc", type: { params: [I32], results: [] } },
];

/** Instructions `ex` runs: registered at translation, by an id the unit passes (wasm-unit.ts). */
export interface SemanticsRegistry {
  register(ins: Instruction, rip: number): number;
}

/** a unit: (budget, readTags, writeTags, fastBase) → exit index, or -1 after a fault */
export const UNIT_TYPE = { params: [I32, I32, I32, I32], results: [I32] };

/** A module of units (function bodies of type UNIT_TYPE), function k exported as "k". */
export function encodeUnitModule(bodies: readonly Uint8Array[], memoryPages: number): Uint8Array {
  return encodeModule({ imports: WASM_IMPORTS, memoryPages, type: UNIT_TYPE, bodies });
}

// parameters
const P_BUDGET = 0, P_READ_TAGS = 1, P_WRITE_TAGS = 2, P_FAST_BASE = 3;


export interface WasmLayout {
  /** byte offset of the register file (cpu.regs) */
  regs: number;
  /** byte offset of XMM0..15 (cpu.xmm) */
  xmm: number;
  /** byte offset of the exit area (state-layout.ts) */
  state: number;
  /** the memory's size in 64 KiB pages */
  memoryPages: number;
}

export interface WasmTranslation {
  /** the unit's function body, for modules holding several units (encodeUnitModule) */
  readonly body: Uint8Array;
  readonly exits: ExitInfo[];
  readonly instructions: Instruction[];
  readonly rips: Float64Array;
  /** instructions of the entry block that were translated (the rest is left to the dispatcher) */
  readonly entryCount: number;
  /** the unit reads the flags it was entered with: the wrapper stores them at ENTRY_FLAGS */
  readonly needsEntryFlags: boolean;
  /** the ids of the instructions it runs through `ex` (released with the unit) */
  readonly semanticsIds: number[];
}

/** The flags at a point of the unit, as known statically. */
type FlagState =
  | { kind: "entry" } // as the unit was entered (unchanged)
  | { kind: "word" } // materialised in FL
  | { kind: "lazy"; op: number; size: number } // FA/FB/FR (and FC for INC/DEC)
  | { kind: "dead" }; // rewritten by an instruction whose flags nobody reads

// ---- what an instruction does to the flags (for liveness and support) ----------------------------

const ALU_OPS: Record<string, number> = { add: LAZY_ADD, sub: LAZY_SUB, cmp: LAZY_SUB, and: LAZY_LOGIC, or: LAZY_LOGIC, xor: LAZY_LOGIC, test: LAZY_LOGIC };
const SHIFTS = new Set(["shl", "sal", "shr", "sar", "rol", "ror"]);
const CONDITIONS = ["o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p", "np", "l", "ge", "le", "g"];
const JCC = new Set(CONDITIONS.map((c) => `j${c}`));
const SETCC = new Set(CONDITIONS.map((c) => `set${c}`));
const CMOVCC = new Set(CONDITIONS.map((c) => `cmov${c}`));
/** 128-bit moves (the aligned ones fault on a misaligned memory operand) */
const MOVE128 = new Map([["movaps", true], ["movapd", true], ["movdqa", true], ["movups", false], ["movupd", false], ["movdqu", false]]);
const SSE_MOVES = new Set([...MOVE128.keys(), "pxor", "movd", "movq", "punpcklqdq"]);

/** XMM operand forms the SSE templates take: 64-bit mode, ModRM memory addressable here. */
function sseSupported(ins: Instruction): boolean {
  if (!addressable(ins)) return false;
  const m = ins.mnemonic;
  const first = ins.row.operands[0]?.method, second = ins.row.operands[1]?.method;
  if (MOVE128.has(m)) return (first === M_V && second === M_W) || (first === M_W && second === M_V);
  if (m === "pxor") return first === M_V && second === M_W;
  if (m === "punpcklqdq") return first === M_V && ins.mod === 3;
  // MOVD/MOVQ: xmm ← r/m, r/m ← xmm, xmm ← xmm/m64, xmm/m64 ← xmm (not the MMX forms)
  return (first === M_V && (second === M_E || second === M_W)) || ((first === M_E || first === M_W) && second === M_V);
}

const NOTHING = new Set(["nop", "endbr64", "pause", "prefetchnta", "prefetcht0", "prefetcht1", "prefetcht2", "lfence", "mfence", "sfence"]);

const FLAGS_NONE = 0, FLAGS_READ = 1, FLAGS_WRITE_ALL = 2, FLAGS_PARTIAL = 3;

/** A shift's count, masked as the instruction masks it. */
function shiftCount(ins: Instruction): number {
  return (ins.row.operands[1].method === M_ONE ? 1 : ins.imm) & (ins.opSize === 8 ? 63 : 31);
}

/** SHLD/SHRD's constant count, masked as the instruction masks it. */
function doubleShiftCount(ins: Instruction): number {
  return ins.imm & (operandSize(ins, 0) === 8 ? 63 : 31);
}

/** REP MOVSB / REP STOSB with 64-bit addresses and no FS/GS source (what the template takes). */
function repeatedString(ins: Instruction): boolean {
  return (ins.prefixes & P_REP) !== 0 && (ins.prefixes & P_REPNE) === 0 && ins.addrSize === 8 && (ins.mnemonic === "stosb" || ins.segment < 4);
}

/**
 * The stack's width for PUSH/POP/CALL/RET: 8 in 64-bit mode; 4 in 32-bit mode, where the engine runs
 * WebAssembly units only while SS is a 32-bit segment and the segment bases are 0 (flat32 in engine.ts).
 */
function stackBytes(ins: Instruction): number {
  return ins.mode === 64 ? 8 : 4;
}

/**
 * Whether `ex` runs instruction `gi` inside the unit: an instruction the JIT may run inline (not a
 * control transfer, nothing INSTRUCTION_KIND leaves to the interpreter) without a template.
 */
function throughSemantics(gi: GuestInstruction): boolean {
  const kind = INSTRUCTION_KIND[gi.ins.row.id];
  return (gi.ins.mode === 64 || gi.ins.mode === 32) && (kind === KIND_STRAIGHT || kind === KIND_PORT_IO) && !templated(gi);
}

function flagEffect(ins: Instruction, semantics: boolean): number {
  // the semantics take the flags from the CPU, all of them (and DIV's template may call them)
  if (semantics) return FLAGS_READ;
  const m = ins.mnemonic;
  if (m in ALU_OPS || m === "neg" || m === "imul" || m === "mul") return FLAGS_WRITE_ALL;
  if ((m === "shld" || m === "shrd") && ins.row.operands[2]?.method === M_I) return doubleShiftCount(ins) === 0 ? FLAGS_NONE : FLAGS_WRITE_ALL;
  // (and REP MOVSB/STOSB's)
  if (m === "div" || m === "idiv" || ((m === "movsb" || m === "stosb") && repeatedString(ins))) return FLAGS_READ;
  // ADC and SBB read CF whatever becomes of their own flags
  if (m === "adc" || m === "sbb") return FLAGS_READ;
  if (m === "inc" || m === "dec") return FLAGS_PARTIAL;
  if (SHIFTS.has(m)) {
    // a masked count of 0 changes no flag; rotates keep all but CF and OF; by CL, either may happen
    const count = ins.row.operands[1];
    if (count?.method === M_FIXED_REG) return FLAGS_PARTIAL;
    if (count?.method !== M_I && count?.method !== M_ONE) return FLAGS_NONE;
    if (shiftCount(ins) === 0) return FLAGS_NONE;
    return m === "rol" || m === "ror" ? FLAGS_PARTIAL : FLAGS_WRITE_ALL;
  }
  if (JCC.has(m) || SETCC.has(m) || CMOVCC.has(m)) return FLAGS_READ;
  return FLAGS_NONE;
}

/** The ModRM memory operand can be addressed here: 64-bit or 32-bit address, no FS/GS base. */
function addressable(ins: Instruction): boolean {
  if (!ins.row.hasModrm || ins.mod === 3) return true;
  if (ins.addrSize === 2 || ins.segment >= 4) return false;
  if (ins.base === BASE_RIP && ins.addrSize !== 8) return false;
  return true;
}

function plain(ins: Instruction): boolean {
  for (let i = 0; i < ins.row.operands.length; i++) if (!isGeneralOperand(ins, i)) return false;
  return addressable(ins);
}

/** Whether instruction `gi` has a template here. */
function templated(gi: GuestInstruction): boolean {
  const ins = gi.ins;
  // (F2/F3 select SSE rows such as MOVDQU, or mean nothing to these instructions; the string
  // instructions they repeat have no template here)
  if ((ins.mode !== 64 && ins.mode !== 32) || (ins.prefixes & P_LOCK) !== 0) return false;
  const m = ins.mnemonic;
  const stack = stackBytes(ins);
  if (NOTHING.has(m)) return true;
  switch (m) {
    case "mov":
      return plain(ins) && ins.row.operands.length === 2;
    case "movzx": case "movsx": case "movsxd": return plain(ins);
    case "lea": return ins.addrSize !== 2 && (ins.base !== BASE_RIP || ins.addrSize === 8) && ins.opSize !== 2;
    case "inc": case "dec": case "neg": case "not": return plain(ins);
    case "push": return ins.opSize === stack && plain(ins);
    case "pop": return ins.opSize === stack && plain(ins) && !isMemoryOperand(ins, 0);
    case "leave": return ins.opSize === stack;
    case "jmp": case "call":
      if (ins.row.operands[0].method === M_E) return ins.opSize === stack && plain(ins); // indirect, through r/m64 (r/m32)
      return (m === "jmp" || ins.opSize === stack) && ins.row.operands[0].method === M_J && relativeTarget(ins, gi.nextRip) !== null;
    case "ret": return ins.opSize === stack;
    // (the byte forms' operand size is 1 whatever ins.opSize says)
    case "imul":
      return plain(ins) && operandSize(ins, 0) >= 4;
    case "mul": case "div": case "idiv": return plain(ins) && operandSize(ins, 0) >= 4;
    case "cqo": case "cdq": case "cdqe": case "rdtsc": return true;
    // by a constant that is not 0, into a register
    case "shld": case "shrd": return ins.mod === 3 && ins.row.operands[2]?.method === M_I && operandSize(ins, 0) >= 4 && doubleShiftCount(ins) !== 0;
    case "movsb": case "stosb": return repeatedString(ins);
    case "bswap": return ins.opSize >= 4;
  }
  if (SSE_MOVES.has(m)) return sseSupported(ins) && (ins.mode === 64 || ins.mod === 3);
  if (m in ALU_OPS || m === "adc" || m === "sbb") return plain(ins) && ins.row.operands.length === 2;
  if (SHIFTS.has(m)) {
    const count = ins.row.operands[1];
    if (count?.method === M_FIXED_REG && count.fixed === 1) return plain(ins) && m !== "rol" && m !== "ror";
    return plain(ins) && (count?.method === M_I || count?.method === M_ONE);
  }
  if (JCC.has(m)) return relativeTarget(ins, gi.nextRip) !== null;
  if (SETCC.has(m) || CMOVCC.has(m)) return plain(ins);
  return false;
}

function mayFault(ins: Instruction, semantics: boolean): boolean {
  if (semantics) return true;
  const m = ins.mnemonic;
  if (m === "div" || m === "idiv") return true; // #DE
  if (m === "movsb" || m === "stosb") return true;
  if (SSE_MOVES.has(m)) return true; // #UD/#NM while SSE is unavailable
  // an indirect branch faults on a non-canonical target too
  const indirect = (m === "jmp" || m === "call") && ins.row.operands[0].method === M_E;
  return (ins.row.hasModrm && ins.mod !== 3 && m !== "lea") || indirect || m === "push" || m === "pop" || m === "call" || m === "ret" || m === "leave";
}

/** Whether the instruction may store to memory (then it may have modified the code after it). */
function mayStore(ins: Instruction, semantics: boolean): boolean {
  if (semantics) return true;
  const m = ins.mnemonic;
  if (SSE_MOVES.has(m)) return ins.mod !== 3 && (ins.row.operands[0].method === M_W || ins.row.operands[0].method === M_E);
  if (m === "push" || m === "call") return true;
  if (m === "cmp" || m === "test" || JCC.has(m) || CMOVCC.has(m) || m === "lea" || m === "movzx" || m === "movsx" || m === "movsxd" || m === "imul" || m === "mul") return false;
  // a division the template leaves to the semantics: they may store nothing, but the path is shared
  if (m === "div" || m === "idiv" || m === "movsb" || m === "stosb") return true;
  return ins.row.hasModrm && ins.mod !== 3 && isMemoryOperand(ins, 0);
}

/**
 * The instructions of `block` that get templates (a prefix of it) and the flags liveness after each:
 * 0 dead, 1 needed only if a later instruction faults, 2 needed. A cut block ends in an exit, where
 * the flags are needed; that can make an earlier shift's flags needed, so the cut is found again.
 */
function planBlock(block: GuestBlock): { length: number; out: Int8Array; liveIn: number; semantics: boolean[] } {
  let length = block.instructions.length;
  const semantics = block.instructions.map(throughSemantics);
  for (;;) {
    const out = new Int8Array(length);
    let live = 2;
    for (let k = length - 1; k >= 0; k--) {
      const ins = block.instructions[k].ins;
      // a store that hits this unit's code leaves right after the instruction: the flags must exist there
      out[k] = mayStore(ins, semantics[k]) ? 2 : live;
      const fault = mayFault(ins, semantics[k]);
      switch (flagEffect(ins, semantics[k])) {
        case FLAGS_READ: live = 2; break;
        case FLAGS_WRITE_ALL: live = fault ? 1 : 0; break;
        case FLAGS_PARTIAL: live = out[k] !== 0 ? 2 : fault ? 1 : 0; break;
        default: live = Math.max(live, fault ? 1 : 0);
      }
    }
    let cut = length;
    for (let k = 0; k < length; k++) {
      if (!semantics[k] && !templated(block.instructions[k])) {
        cut = k;
        break;
      }
    }
    if (cut === length) return { length, out, liveIn: live, semantics };
    length = cut;
  }
}

// ---- the writer ----------------------------------------------------------------------------------

class WasmWriter {
  readonly f = new FunctionBody(4);
  readonly exits: ExitInfo[] = [];
  private readonly regLocals = new Map<number, number>();
  readonly written = new Set<number>();
  /** structured-control nesting: labels opened so far (function level = 0) */
  depth = 0;
  /** depth of the exit block's label, and of the region loop's (-1: not a region) */
  exitLevel = 0;
  loopLevel = -1;
  readonly n: number;
  readonly b: number;
  readonly x: number; // linear address (i64)
  readonly k: number; // TLB index (i32)
  readonly p: number; // RAM offset (i32), -1 after a slow load-for-write
  readonly status: number;
  readonly fa: number;
  readonly fb: number;
  readonly fr: number;
  readonly fc: number;
  readonly fl: number;
  readonly stale: number;
  /** what the exit tail returns (exit index, or -1 after a fault) and the instructions retired */
  readonly result: number;
  readonly retired: number;
  private readonly temps: number[] = [];
  private tempsUsed = 0;
  flags: FlagState = { kind: "entry" };
  gi!: GuestInstruction;
  ins!: Instruction;
  index = 0;
  inBlock = 0;
  flagsOut = 2;
  stores = false;
  /** where the register stores before an `ex` call (false) and the loads after it (true) go, once every register is known */
  readonly registerSyncs: { at: number; load: boolean }[] = [];

  /** the ids of the instructions this unit runs through `ex` */
  readonly semanticsIds: number[] = [];

  constructor(readonly layout: WasmLayout, readonly regionBlocks: Map<number, number>, readonly blockCounts: number[], readonly liveIn: Int8Array, private readonly registry: SemanticsRegistry) {
    const f = this.f;
    this.n = f.local(I32);
    this.b = f.local(I32);
    this.x = f.local(I64);
    this.k = f.local(I32);
    this.p = f.local(I32);
    this.status = f.local(I32);
    this.fa = f.local(I64);
    this.fb = f.local(I64);
    this.fr = f.local(I64);
    this.fc = f.local(I32);
    this.fl = f.local(I32);
    this.stale = f.local(I32);
    this.result = f.local(I32);
    this.retired = f.local(I32);
  }

  reg(r: number): number {
    let local = this.regLocals.get(r);
    if (local === undefined) {
      local = this.f.local(I64);
      this.regLocals.set(r, local);
    }
    return local;
  }

  get registersUsed(): [number, number][] {
    return [...this.regLocals];
  }

  temp(): number {
    if (this.tempsUsed === this.temps.length) this.temps.push(this.f.local(I64));
    return this.temps[this.tempsUsed++];
  }

  releaseTemps(): void {
    this.tempsUsed = 0;
  }

  open(opcode: number): void {
    this.f.open(opcode);
    this.depth++;
  }

  close(): void {
    this.f.op(OP.end);
    this.depth--;
  }

  // ---- registers and operands ----------------------------------------------------------------

  /** Pushes register `reg` at `size` (zero-extended); byte registers 4..7 without REX are AH..BH. */
  readReg(reg: number, size: number, hasRex: boolean): void {
    const f = this.f;
    if (size === 1 && reg >= 4 && reg < 8 && !hasRex) {
      f.get(this.reg(reg - 4)).i64(8n).op(OP.i64ShrU).i64(0xffn).op(OP.i64And);
      return;
    }
    f.get(this.reg(reg));
    if (size < 8) f.i64(size === 4 ? 0xffffffffn : size === 2 ? 0xffffn : 0xffn).op(OP.i64And);
  }

  /** Pops a value and writes it to register `reg` at `size` (32-bit writes zero the upper half). */
  writeReg(reg: number, size: number, hasRex: boolean): void {
    const f = this.f;
    if (size === 8) {
      f.set(this.reg(reg));
      this.written.add(reg);
      return;
    }
    if (size === 4) {
      f.i64(0xffffffffn).op(OP.i64And).set(this.reg(reg));
      this.written.add(reg);
      return;
    }
    const t = this.temp();
    f.set(t);
    let target = reg, shift = 0n, mask = size === 2 ? 0xffffn : 0xffn;
    if (size === 1 && reg >= 4 && reg < 8 && !hasRex) {
      target = reg - 4;
      shift = 8n;
    }
    const local = this.reg(target);
    this.written.add(target);
    f.get(local).i64(~(mask << shift)).op(OP.i64And);
    f.get(t).i64(mask).op(OP.i64And);
    if (shift !== 0n) f.i64(shift).op(OP.i64Shl);
    f.op(OP.i64Or).set(local);
  }

  get hasRex(): boolean {
    return (this.ins.prefixes & P_REX) !== 0;
  }

  /** Pushes operand `index` (memory operands from `memory`, a local filled by load()). */
  read(index: number, memory?: number): void {
    const ins = this.ins;
    const spec = ins.row.operands[index];
    const size = operandSize(ins, index);
    switch (spec.method) {
      case M_E: case M_R: case M_M:
        if (ins.mod === 3) return this.readReg(ins.rm, size, this.hasRex);
        if (memory === undefined) throw new Error("wasm translator: memory operand read before load");
        this.f.get(memory);
        return;
      case M_G: return this.readReg(ins.reg, size, this.hasRex);
      case M_Z: return this.readReg(ins.rm, size, this.hasRex);
      case M_FIXED_REG: return this.readReg(spec.fixed, size, false);
      case M_ONE: this.f.i64(1n); return;
      // Iz and Ibs are sign-extended to the operation's size (operand 0's), not the immediate's own
      case M_I: this.f.i64(this.immediate(index, size, index > 0 ? operandSize(ins, 0) : size)); return;
    }
    throw new Error(`wasm translator: operand ${spec.notation} is not a general operand`);
  }

  /** Immediate operand `index` (of `size` bytes itself), as the interpreter extends it, masked to the operation's `operationSize`. */
  immediate(index: number, size: number, operationSize: number): bigint {
    const { lo, hi } = immediateParts(this.ins, index, size);
    return BigInt.asUintN(operationSize * 8, (BigInt(hi) << 32n) | BigInt(lo >>> 0));
  }

  writeOperand(index: number): void {
    const ins = this.ins;
    const spec = ins.row.operands[index];
    const size = operandSize(ins, index);
    const reg = spec.method === M_G ? ins.reg : spec.method === M_FIXED_REG ? spec.fixed : ins.rm;
    this.writeReg(reg, size, spec.method === M_FIXED_REG ? false : this.hasRex);
  }

  // ---- memory ----------------------------------------------------------------------------------

  /** Pushes the ModRM operand's offset (base + index·scale + displacement, or RIP-relative), wrapped at a 32-bit address size. */
  effectiveAddress(): void {
    const ins = this.ins, f = this.f;
    if (ins.base === BASE_RIP) {
      f.i64(BigInt(this.gi.nextRip + ins.disp));
      return;
    }
    f.i64(BigInt(ins.disp | 0));
    if (ins.base >= 0) f.get(this.reg(ins.base)).op(OP.i64Add);
    if (ins.index >= 0) {
      f.get(this.reg(ins.index));
      if (ins.scale !== 0) f.i64(BigInt(ins.scale)).op(OP.i64Shl);
      f.op(OP.i64Add);
    }
    if (ins.addrSize === 4) f.i64(0xffffffffn).op(OP.i64And);
  }

  /** Computes the ModRM operand's linear address into x (64-bit mode, no FS/GS: the offset). */
  address(): void {
    this.effectiveAddress();
    this.f.set(this.x);
  }

  /**
   * Operand 0 of a read-modify-write instruction in a fresh local: loaded with write access when it
   * is memory (a fault point), read when it is a register.
   */
  modifyDestination(size: number, memory: boolean): number {
    if (memory) {
      this.address();
      return this.load(size, true, memorySegment(this.ins));
    }
    const value = this.temp();
    this.read(0);
    this.f.set(value);
    return value;
  }

  /**
   * Pushes 1 when x's page has a fast tag in `tags` (a parameter) and the access of `size` stays in
   * the page; sets k (TLB index) and p (RAM offset) as a side effect.
   */
  fastCheck(tags: number, size: number): void {
    const f = this.f;
    f.get(this.x).i64(12n).op(OP.i64ShrU).op(OP.i32WrapI64).i32(4095).op(OP.i32And).set(this.k);
    f.get(this.x).op(OP.i32WrapI64).i32(4095).op(OP.i32And).set(this.p);
    f.get(tags).get(this.k).i32(3).op(OP.i32Shl).op(OP.i32Add).mem(OP.f64Load, 3, 0);
    f.get(this.x).i64(-4096n).op(OP.i64And).op(OP.f64ConvertI64S).op(OP.f64Eq);
    f.get(this.p).i32(4096 - size).op(OP.i32LeU).op(OP.i32And);
  }

  /**
   * Sets i32 local `ok` to whether the `count` (i32 local, 1..4096) bytes at x lie in one page the
   * fast tags in `tags` reach; leaves p at the first one's RAM offset when they do.
   */
  fastRange(tags: number, count: number, ok: number): void {
    const f = this.f;
    this.fastCheck(tags, 1);
    f.get(this.p).get(count).op(OP.i32Add).i32(4096).op(OP.i32LeU).op(OP.i32And).set(ok);
    f.get(ok);
    this.open(OP.if);
    this.fastOffset();
    this.close();
  }

  /** p += fastBase[k] */
  private fastOffset(): void {
    const f = this.f;
    f.get(P_FAST_BASE).get(this.k).i32(2).op(OP.i32Shl).op(OP.i32Add).mem(OP.i32Load, 2, 0).get(this.p).op(OP.i32Add).set(this.p);
  }

  private loadOp(size: number): void {
    const f = this.f;
    switch (size) {
      case 1: f.mem(OP.i64Load8U, 0, RAM_OFFSET); break;
      case 2: f.mem(OP.i64Load16U, 1, RAM_OFFSET); break;
      case 4: f.mem(OP.i64Load32U, 2, RAM_OFFSET); break;
      default: f.mem(OP.i64Load, 3, RAM_OFFSET);
    }
  }

  private storeOp(size: number): void {
    const f = this.f;
    switch (size) {
      case 1: f.mem(OP.i64Store8, 0, RAM_OFFSET); break;
      case 2: f.mem(OP.i64Store16, 1, RAM_OFFSET); break;
      case 4: f.mem(OP.i64Store32, 2, RAM_OFFSET); break;
      default: f.mem(OP.i64Store, 3, RAM_OFFSET);
    }
  }

  /** Loads `size` bytes at x into a fresh local. `forWrite`: checks write access too (p stays valid or -1). */
  load(size: number, forWrite: boolean, segment: number): number {
    const f = this.f;
    const value = this.temp();
    this.fastCheck(forWrite ? P_WRITE_TAGS : P_READ_TAGS, size);
    this.open(OP.if);
    this.fastOffset();
    f.get(this.p);
    this.loadOp(size);
    f.set(value);
    f.op(OP.else);
    f.get(this.x).op(OP.f64ConvertI64S).i32(size).i32(segment).i32(forWrite ? 1 : 0).call(IMPORT_READ);
    this.faultIfNonzero();
    f.i32(0).mem(OP.i64Load, 3, this.layout.state + SCRATCH).set(value);
    if (forWrite) f.i32(-1).set(this.p);
    this.close();
    return value;
  }

  /** Stores local `value` (`size` bytes) at x; `afterLoad`: reuses p from load(…, true). */
  store(size: number, value: number, afterLoad: boolean, segment: number): void {
    const f = this.f;
    this.stores = true;
    if (afterLoad) f.get(this.p).i32(0).op(OP.i32GeS);
    else this.fastCheck(P_WRITE_TAGS, size);
    this.open(OP.if);
    if (!afterLoad) this.fastOffset();
    f.get(this.p).get(value);
    this.storeOp(size);
    f.op(OP.else);
    f.get(this.x).op(OP.f64ConvertI64S).i32(size).i32(segment);
    f.get(value).op(OP.i32WrapI64).get(value).i64(32n).op(OP.i64ShrU).op(OP.i32WrapI64);
    f.call(IMPORT_WRITE).tee(this.status).i32(1).op(OP.i32Eq);
    this.open(OP.if);
    this.faultExit();
    this.close();
    // 2: the store hit this unit's own code; finish the instruction, then leave
    f.get(this.status).i32(2).op(OP.i32Eq).get(this.stale).op(OP.i32Or).set(this.stale);
    this.close();
  }

  /** the stack's width: 8, or 4 in 32-bit mode (stackBytes) */
  stack = 8;

  /** Loads [rsp] (the stack's width) into a local. */
  peekStack(): number {
    this.f.get(this.reg(4)).set(this.x);
    return this.load(this.stack, false, SS);
  }

  /** Pushes local `value` (the stack's width) on the stack: memory first, then RSP. */
  pushStack(value: number): void {
    const f = this.f;
    f.get(this.reg(4)).i64(BigInt(this.stack)).op(OP.i64Sub);
    this.wrapStackPointer();
    f.set(this.x);
    this.store(this.stack, value, false, SS);
    f.get(this.x).set(this.reg(4));
    this.written.add(4);
  }

  /** ESP wraps at 4 GiB, and a write of it clears RSP's high half, as a 32-bit register write does. */
  wrapStackPointer(): void {
    if (this.stack === 4) this.f.i64(0xffffffffn).op(OP.i64And);
  }

  /** RSP += `delta` (wrapping at 4 GiB with a 32-bit stack). */
  releaseStack(delta: number): void {
    const f = this.f;
    f.get(this.reg(4)).i64(BigInt(delta)).op(OP.i64Add);
    this.wrapStackPointer();
    f.set(this.reg(4));
    this.written.add(4);
  }

  // ---- faults and exits ------------------------------------------------------------------------

  /** #GP(0) at this instruction unless the branch target in i64 local `target` is canonical (a 32-bit one always is). */
  checkTarget(target: number): void {
    if (this.stack === 8) this.canonicalCheck(target, FAULT_BAD_TARGET, 0);
  }

  /** Raises fault `kind` at this instruction unless i64 local `value` is canonical. */
  canonicalCheck(value: number, kind: number, segment: number): void {
    const f = this.f;
    f.get(value).i64(16n).op(OP.i64Shl).i64(16n).op(OP.i64ShrS).get(value).op(OP.i64Ne);
    this.open(OP.if);
    f.i32(kind).i32(segment).call(IMPORT_FAULT).op(OP.drop);
    this.faultExit();
    this.close();
  }

  /** something read the flags the unit was entered with (the wrapper must store them at ENTRY_FLAGS) */
  entryFlagsRead = false;

  /** #UD/#NM at this instruction unless SSE is available (the wrapper says so in SSE_READY). */
  sseCheck(): void {
    const f = this.f;
    f.i32(0).mem(OP.i32Load, 2, this.layout.state + SSE_READY).op(OP.i32Eqz);
    this.open(OP.if);
    f.i32(FAULT_SSE).i32(0).call(IMPORT_FAULT);
    this.faultIfNonzero();
    this.close();
  }

  /** #GP(0) at this instruction unless x is 16-byte aligned. */
  alignmentCheck(): void {
    const f = this.f;
    f.get(this.x).op(OP.i32WrapI64).i32(15).op(OP.i32And);
    this.open(OP.if);
    f.i32(FAULT_MISALIGNED).i32(0).call(IMPORT_FAULT).op(OP.drop);
    this.faultExit();
    this.close();
  }

  /** Byte offset of the low (0) or high (1) quadword of XMM register `r`. */
  xmm(r: number, half: number): number {
    return this.layout.xmm + 16 * r + 8 * half;
  }

  /** Loads the 16 bytes at x into two fresh i64 locals (low, high). */
  load128(segment: number): [number, number] {
    const f = this.f;
    const lo = this.temp(), hi = this.temp();
    this.fastCheck(P_READ_TAGS, 16);
    this.open(OP.if);
    this.fastOffset();
    f.get(this.p).mem(OP.i64Load, 3, RAM_OFFSET).set(lo);
    f.get(this.p).mem(OP.i64Load, 3, RAM_OFFSET + 8).set(hi);
    f.op(OP.else);
    f.get(this.x).op(OP.f64ConvertI64S).i32(8).i32(segment).i32(0).call(IMPORT_READ);
    this.faultIfNonzero();
    f.i32(0).mem(OP.i64Load, 3, this.layout.state + SCRATCH).set(lo);
    f.get(this.x).i64(8n).op(OP.i64Add).op(OP.f64ConvertI64S).i32(8).i32(segment).i32(0).call(IMPORT_READ);
    this.faultIfNonzero();
    f.i32(0).mem(OP.i64Load, 3, this.layout.state + SCRATCH).set(hi);
    this.close();
    return [lo, hi];
  }

  /** Stores XMM register `r` (16 bytes) at x. */
  store128(r: number, segment: number): void {
    const f = this.f;
    this.stores = true;
    this.fastCheck(P_WRITE_TAGS, 16);
    this.open(OP.if);
    this.fastOffset();
    f.get(this.p).i32(0).mem(OP.i64Load, 3, this.xmm(r, 0)).mem(OP.i64Store, 3, RAM_OFFSET);
    f.get(this.p).i32(0).mem(OP.i64Load, 3, this.xmm(r, 1)).mem(OP.i64Store, 3, RAM_OFFSET + 8);
    f.op(OP.else);
    f.get(this.x).op(OP.f64ConvertI64S).i32(STORE_XMM).i32(segment).i32(r).i32(0);
    f.call(IMPORT_WRITE).tee(this.status).i32(1).op(OP.i32Eq);
    this.open(OP.if);
    this.faultExit();
    this.close();
    f.get(this.status).i32(2).op(OP.i32Eq).get(this.stale).op(OP.i32Or).set(this.stale);
    this.close();
  }

  /** After a helper call that pushed a status: leave through the fault path unless it is 0. */
  private faultIfNonzero(): void {
    this.open(OP.if);
    this.faultExit();
    this.close();
  }

  /**
   * Runs the current instruction through the interpreter's semantics (`ex` with id `id`): the flags
   * record and the registers go to the CPU first, the registers (which the instruction may have
   * changed: REP progress even when it faults) and the flags (materialised) come back after.
   */
  throughSemantics(): void {
    const f = this.f;
    const id = this.registry.register(this.ins, this.gi.rip);
    this.semanticsIds.push(id);
    this.storeFlags();
    this.registerSyncs.push({ at: f.code.length, load: false });
    // the budget left at this instruction tells `ex` how many the call has retired so far (RDTSC reads the count)
    f.i32(id).get(P_BUDGET).get(this.n).op(OP.i32Sub).i32(this.inBlock).op(OP.i32Sub).call(IMPORT_EXEC).set(this.status);
    this.registerSyncs.push({ at: f.code.length, load: true });
    f.i32(0).mem(OP.i32Load, 2, this.layout.state + SCRATCH).set(this.fl);
    this.flags = { kind: "word" };
    f.get(this.status).i32(1).op(OP.i32Eq);
    this.open(OP.if);
    this.faultExit();
    this.close();
    // 2: it stored into this unit's own code; leave after it
    this.stores = true;
    f.get(this.status).i32(2).op(OP.i32Eq).get(this.stale).op(OP.i32Or).set(this.stale);
  }

  /**
   * For a template with a fast path and the semantics as the other: the flags materialised first,
   * so that both paths leave them in FL (`ex` takes them from there and puts them back there).
   */
  flagsInWord(): void {
    if (this.flags.kind === "word") return;
    this.materialize();
    this.setWord();
  }

  /** Ends the fast path's `if` with an `else` that runs the instruction through the semantics. */
  otherwiseThroughSemantics(): void {
    this.f.op(OP.else);
    this.throughSemantics();
    this.close();
  }

  /**
   * Puts in the register stores and loads around `ex` calls: stores of every register the unit
   * writes (the others are as in memory), loads of every register it holds. Each register local is
   * loaded at entry, so each holds the register's value wherever a call is.
   */
  insertRegisterSyncs(): void {
    const f = this.f;
    const written = [...this.written].sort((a, b) => a - b);
    const held = [...this.regLocals].sort((a, b) => a[0] - b[0]);
    const stores = new FunctionBody(0), loads = new FunctionBody(0);
    for (const r of written) stores.i32(0).get(this.reg(r)).mem(OP.i64Store, 3, this.layout.regs + 8 * r);
    for (const [r, local] of held) loads.i32(0).mem(OP.i64Load, 3, this.layout.regs + 8 * r).set(local);
    for (let i = this.registerSyncs.length - 1; i >= 0; i--) {
      const { at, load } = this.registerSyncs[i];
      f.code.splice(at, 0, ...(load ? loads.code : stores.code));
    }
  }

  /** Leaves with the state of the current instruction (its flags record first): the wrapper delivers the fault. */
  faultExit(): void {
    const f = this.f;
    this.storeFlags();
    // RIP and the count of the faulting instruction: the wrapper may not know which unit faulted
    f.i32(0).i64(BigInt(this.gi.rip)).mem(OP.i64Store, 3, this.layout.state + EXIT_RIP);
    f.i32(-1).set(this.result);
    f.get(this.n).i32(this.inBlock).op(OP.i32Add).set(this.retired);
    f.br(OP.br, this.depth - 1 - this.exitLevel);
  }

  /** Writes the flags record for the current static state into the exit area. */
  storeFlags(): void {
    const f = this.f, s = this.layout.state, state = this.flags;
    if (state.kind === "dead") throw new Error(`wasm translator: flags observed after an instruction whose flags were dead (at ${this.gi.rip.toString(16)} ${this.ins.mnemonic})`);
    // flags as the unit was entered: the record stays as the last unit left it (-1 from the wrapper)
    if (state.kind === "entry") return;
    if (state.kind === "word") {
      f.i32(0).i32(0).mem(OP.i32Store, 2, s + FLAGS_OP);
      f.i32(0).get(this.fl).mem(OP.i32Store, 2, s + FLAGS_WORD);
      return;
    }
    f.i32(0).i32(state.op).mem(OP.i32Store, 2, s + FLAGS_OP);
    f.i32(0).i32(state.size).mem(OP.i32Store, 2, s + FLAGS_SIZE);
    f.i32(0).get(this.fa).mem(OP.i64Store, 3, s + FLAGS_A);
    f.i32(0).get(this.fb).mem(OP.i64Store, 3, s + FLAGS_B);
    f.i32(0).get(this.fr).mem(OP.i64Store, 3, s + FLAGS_R);
    if (state.op === LAZY_INC || state.op === LAZY_DEC) f.i32(0).get(this.fc).mem(OP.i32Store, 2, s + FLAGS_WORD);
  }

  /**
   * Every register the unit writes, stored by the one exit tail (emitted last, when the set is
   * known: an exit emitted early can be reached after a later block wrote more registers).
   */
  writeBackRegisters(): void {
    const f = this.f;
    for (const r of [...this.written].sort((a, b) => a - b)) f.i32(0).get(this.reg(r)).mem(OP.i64Store, 3, this.layout.regs + 8 * r);
  }

  /** Leaves the unit with RIP = `target` (a constant) or the i64 in local `dynamic`, through the exit tail. */
  exit(target: number | null, dynamic: number | null, count: number): void {
    const f = this.f, s = this.layout.state;
    const index = this.exits.length;
    this.exits.push({ target });
    this.storeFlags();
    f.i32(0);
    if (dynamic !== null) f.get(dynamic);
    else f.i64(BigInt(target!));
    f.mem(OP.i64Store, 3, s + EXIT_RIP);
    f.i32(index).set(this.result);
    f.get(this.n).i32(count).op(OP.i32Add).set(this.retired);
    f.br(OP.br, this.depth - 1 - this.exitLevel);
  }

  /** Continues at a static target: inside the region when it is a block of it and the budget allows. */
  goto(target: number, count: number): void {
    const f = this.f;
    const block = this.regionBlocks.get(target);
    if (block !== undefined) {
      f.get(this.n).i32(count + this.blockCounts[block]).op(OP.i32Add).get(P_BUDGET).op(OP.i32LeS);
      this.open(OP.if);
      if (this.liveIn[block] !== 0) {
        this.materialize();
        f.set(this.fl);
      }
      f.get(this.n).i32(count).op(OP.i32Add).set(this.n);
      f.i32(block).set(this.b);
      f.br(OP.br, this.depth - 1 - this.loopLevel);
      this.close();
    }
    this.exit(target, null, count);
  }

  // ---- flags -----------------------------------------------------------------------------------

  /** Records a producer: its operands and result (i64 locals, masked to size) become the pending flags. */
  produce(op: number, size: number, a: number, b: number, r: number): void {
    if (this.flagsOut === 0) {
      this.flags = { kind: "dead" };
      return;
    }
    const f = this.f;
    f.get(a).set(this.fa);
    f.get(b).set(this.fb);
    f.get(r).set(this.fr);
    this.flags = { kind: "lazy", op, size };
  }

  /** Pushes bit `index` of i64 local `local` as an i32 0/1. */
  bitOf(local: number, index: number): void {
    this.f.get(local).i64(BigInt(index)).op(OP.i64ShrU).i64(1n).op(OP.i64And).op(OP.i32WrapI64);
  }

  /** Pushes PF | ZF | SF of the result in i64 local `r` (masked to `size`). */
  resultFlags(r: number, size: number): void {
    const f = this.f;
    f.get(r).i64(0xffn).op(OP.i64And).op(OP.i64Popcnt).op(OP.i32WrapI64).i32(1).op(OP.i32And).i32(1).op(OP.i32Xor).i32(2).op(OP.i32Shl);
    f.get(r).op(OP.i64Eqz).i32(6).op(OP.i32Shl).op(OP.i32Or);
    this.bitOf(r, size * 8 - 1);
    f.i32(7).op(OP.i32Shl).op(OP.i32Or);
  }

  /** Pops an i32 arithmetic-flags word into FL: the flags are now materialised. */
  setWord(): void {
    this.f.set(this.fl);
    this.flags = { kind: "word" };
  }

  /** Pushes CF (0/1) of the current state. */
  carry(): void {
    const f = this.f, state = this.flags;
    if (state.kind === "word") {
      f.get(this.fl).i32(CF).op(OP.i32And);
      return;
    }
    if (state.kind === "entry") {
      this.entryFlagsRead = true;
      f.i32(0).mem(OP.i32Load, 2, this.layout.state + ENTRY_FLAGS).i32(CF).op(OP.i32And);
      return;
    }
    if (state.kind !== "lazy") throw new Error("wasm translator: CF read after dead flags");
    switch (state.op) {
      case LAZY_ADD: f.get(this.fr).get(this.fa).op(OP.i64LtU); return;
      case LAZY_SUB: f.get(this.fa).get(this.fb).op(OP.i64LtU); return;
      case LAZY_LOGIC: f.i32(0); return;
      default: f.get(this.fc);
    }
  }

  /** Pushes the six arithmetic flags (i32) of the current state. */
  materialize(): void {
    const f = this.f, state = this.flags;
    if (state.kind === "word") {
      f.get(this.fl);
      return;
    }
    if (state.kind === "entry") {
      this.entryFlagsRead = true;
      f.i32(0).mem(OP.i32Load, 2, this.layout.state + ENTRY_FLAGS);
      return;
    }
    if (state.kind !== "lazy") throw new Error("wasm translator: flags read after dead flags");
    const { op, size } = state;
    this.carry();
    this.resultFlags(this.fr, size);
    f.op(OP.i32Or);
    if (op !== LAZY_LOGIC) {
      f.get(this.fa).get(this.fb).op(OP.i64Xor).get(this.fr).op(OP.i64Xor).op(OP.i32WrapI64).i32(AF).op(OP.i32And).op(OP.i32Or);
      const t = this.temp();
      if (op === LAZY_ADD || op === LAZY_INC) {
        f.get(this.fa).get(this.fr).op(OP.i64Xor).get(this.fb).get(this.fr).op(OP.i64Xor).op(OP.i64And).set(t);
      } else {
        f.get(this.fa).get(this.fb).op(OP.i64Xor).get(this.fa).get(this.fr).op(OP.i64Xor).op(OP.i64And).set(t);
      }
      this.bitOf(t, size * 8 - 1);
      f.i32(11).op(OP.i32Shl).op(OP.i32Or);
    }
  }

  /** Pushes condition `cc` (0/1) of the current flags. */
  condition(cc: number): void {
    const f = this.f, state = this.flags;
    const negate = (cc & 1) !== 0;
    if (state.kind === "lazy" && state.op === LAZY_SUB && cc >= 2 && cc !== 10 && cc !== 11 && cc !== 0 && cc !== 1) {
      const base = cc & ~1;
      const signed = base === 12 || base === 14;
      const extend = (local: number) => {
        f.get(local);
        if (signed && state.size < 8) f.op(state.size === 1 ? OP.i64Extend8S : state.size === 2 ? OP.i64Extend16S : OP.i64Extend32S);
      };
      if (base === 8) { // S
        this.bitOf(this.fr, state.size * 8 - 1);
      } else {
        extend(this.fa);
        extend(this.fb);
        f.op(base === 2 ? OP.i64LtU : base === 4 ? OP.i64Eq : base === 6 ? OP.i64LeU : base === 12 ? OP.i64LtS : OP.i64LeS);
      }
      if (negate) f.i32(1).op(OP.i32Xor);
      return;
    }
    if (state.kind === "lazy" && state.op === LAZY_LOGIC && (cc & ~1) === 4) {
      f.get(this.fr).op(OP.i64Eqz);
      if (negate) f.i32(1).op(OP.i32Xor);
      return;
    }
    const word = this.f.local(I32);
    this.materialize();
    f.set(word);
    const bit = (shift: number) => f.get(word).i32(shift).op(OP.i32ShrU).i32(1).op(OP.i32And);
    switch (cc & ~1) { // CF 0, PF 2, ZF 6, SF 7, OF 11
      case 0: bit(11); break;
      case 2: bit(0); break;
      case 4: bit(6); break;
      case 6: bit(0); bit(6); f.op(OP.i32Or); break;
      case 8: bit(7); break;
      case 10: bit(2); break;
      case 12: bit(7); bit(11); f.op(OP.i32Xor); break;
      default: bit(7); bit(11); f.op(OP.i32Xor); bit(6); f.op(OP.i32Or);
    }
    if (negate) f.i32(1).op(OP.i32Xor);
  }
}

// ---- templates -----------------------------------------------------------------------------------

const MASKS = [0n, 0xffn, 0xffffn, 0n, 0xffffffffn, 0n, 0n, 0n, 0xffffffffffffffffn];

function maskTo(w: WasmWriter, size: number): void {
  if (size < 8) w.f.i64(MASKS[size]).op(OP.i64And);
}

function loadOperand(w: WasmWriter, index: number, forWrite: boolean): number | undefined {
  if (!isMemoryOperand(w.ins, index)) return undefined;
  w.address();
  return w.load(operandSize(w.ins, index), forWrite, memorySegment(w.ins));
}

function emitInstruction(w: WasmWriter): void {
  const ins = w.ins, f = w.f, m = ins.mnemonic;
  if (NOTHING.has(m)) return;
  if (m in ALU_OPS) return alu(w, ALU_OPS[m], m !== "cmp" && m !== "test", m === "sub" || m === "cmp");
  if (m === "adc" || m === "sbb") return addWithCarry(w, m === "sbb");
  if (JCC.has(m)) {
    const target = relativeTarget(ins, w.gi.nextRip)!;
    const count = w.inBlock + 1;
    w.condition(ins.row.opcode & 0xf);
    w.open(OP.if);
    w.goto(target, count);
    w.close();
    w.goto(w.gi.nextRip, count);
    return;
  }
  if (SETCC.has(m)) {
    const value = w.temp();
    w.condition(ins.row.opcode & 0xf);
    f.op(OP.i64ExtendI32U).set(value);
    if (isMemoryOperand(ins, 0)) {
      w.address();
      w.store(1, value, false, memorySegment(ins));
    } else {
      f.get(value);
      w.writeReg(ins.rm, 1, w.hasRex);
    }
    return;
  }
  if (CMOVCC.has(m)) {
    const size = operandSize(ins, 0);
    const src = loadOperand(w, 1, false);
    const value = w.temp();
    w.read(1, src);
    f.set(value);
    const c = f.local(I32);
    w.condition(ins.row.opcode & 0xf);
    f.set(c);
    // a 32-bit CMOV zero-extends its destination even when the condition is false
    f.get(value);
    w.readReg(ins.reg, size, w.hasRex);
    f.get(c).op(OP.select);
    w.writeReg(ins.reg, size, w.hasRex);
    return;
  }
  if (SHIFTS.has(m)) return shift(w, m);
  if (SSE_MOVES.has(m)) return sseMove(w, m);
  switch (m) {
    case "mov": {
      const size = operandSize(ins, 0);
      if (isMemoryOperand(ins, 0)) {
        w.address();
        const value = w.temp();
        w.read(1);
        f.set(value);
        w.store(size, value, false, memorySegment(ins));
        return;
      }
      const src = loadOperand(w, 1, false);
      w.read(1, src);
      w.writeOperand(0);
      return;
    }
    case "movzx": {
      const src = loadOperand(w, 1, false);
      w.read(1, src);
      w.writeOperand(0);
      return;
    }
    case "movsx": case "movsxd": {
      const src = loadOperand(w, 1, false);
      const from = operandSize(ins, 1), to = operandSize(ins, 0);
      w.read(1, src);
      if (from < 8) f.op(from === 1 ? OP.i64Extend8S : from === 2 ? OP.i64Extend16S : OP.i64Extend32S);
      maskTo(w, to);
      w.writeOperand(0);
      return;
    }
    case "lea": {
      // the offset only; a 32-bit destination is zero-extended by its write
      w.effectiveAddress();
      w.writeOperand(0);
      return;
    }
    case "inc": case "dec": {
      const size = operandSize(ins, 0);
      const memory = isMemoryOperand(ins, 0);
      const value = w.modifyDestination(size, memory);
      const one = w.temp(), result = w.temp();
      f.i64(1n).set(one);
      if (w.flagsOut !== 0) {
        // CF is kept: take it from the state before
        w.carry();
        f.set(w.fc);
      }
      f.get(value).get(one).op(m === "inc" ? OP.i64Add : OP.i64Sub);
      maskTo(w, size);
      f.set(result);
      writeDestination(w, size, memory, result);
      w.produce(m === "inc" ? LAZY_INC : LAZY_DEC, size, value, one, result);
      return;
    }
    case "neg": case "not": {
      const size = operandSize(ins, 0);
      const memory = isMemoryOperand(ins, 0);
      const value = w.modifyDestination(size, memory);
      const result = w.temp();
      if (m === "neg") f.i64(0n).get(value).op(OP.i64Sub);
      else f.get(value).i64(-1n).op(OP.i64Xor);
      maskTo(w, size);
      f.set(result);
      writeDestination(w, size, memory, result);
      if (m === "neg") {
        const zero = w.temp();
        f.i64(0n).set(zero);
        w.produce(LAZY_SUB, size, zero, value, result);
      }
      return;
    }
    case "movsb": case "stosb": return repeatedStore(w, m === "movsb");
    case "shld": case "shrd": return doubleShift(w, m === "shld");
    case "rdtsc": {
      // EDX:EAX = the TSC, with this call's instructions so far counted (the virtual clock is the count)
      const t = w.temp();
      f.get(P_BUDGET).get(w.n).op(OP.i32Sub).i32(w.inBlock).op(OP.i32Sub).call(IMPORT_TSC);
      f.i32(0).mem(OP.i64Load, 3, w.layout.state + SCRATCH).set(t);
      f.get(t);
      w.writeReg(0, 4, false);
      f.get(t).i64(32n).op(OP.i64ShrU);
      w.writeReg(2, 4, false);
      return;
    }
    case "mul": return multiplyAccumulator(w, false);
    case "div": return divide(w, false);
    case "idiv": return divide(w, true);
    case "cqo": case "cdq": {
      // rDX = the sign of rAX, repeated
      w.readReg(0, ins.opSize, false);
      if (ins.opSize === 4) f.op(OP.i64Extend32S);
      f.i64(63n).op(OP.i64ShrS);
      w.writeReg(2, ins.opSize, false);
      return;
    }
    case "cdqe":
      w.readReg(0, 4, false);
      f.op(OP.i64Extend32S);
      w.writeReg(0, 8, false);
      return;
    case "bswap": {
      const x = w.temp();
      w.read(0);
      f.set(x);
      if (ins.opSize === 4) {
        f.get(x).i64(32n).op(OP.i64Shl).set(x); // the 32 bits in the upper half: the 64-bit swap leaves them below
      }
      // bytes within 16-bit pairs, pairs within 32-bit halves, then the halves
      f.get(x).i64(0x00ff00ff00ff00ffn).op(OP.i64And).i64(8n).op(OP.i64Shl);
      f.get(x).i64(8n).op(OP.i64ShrU).i64(0x00ff00ff00ff00ffn).op(OP.i64And).op(OP.i64Or).set(x);
      f.get(x).i64(0x0000ffff0000ffffn).op(OP.i64And).i64(16n).op(OP.i64Shl);
      f.get(x).i64(16n).op(OP.i64ShrU).i64(0x0000ffff0000ffffn).op(OP.i64And).op(OP.i64Or).set(x);
      f.get(x).i64(32n).op(OP.i64Rotl);
      w.writeOperand(0);
      return;
    }
    case "imul": {
      if (ins.row.operands.length === 1) return multiplyAccumulator(w, true);
      const size = operandSize(ins, 0);
      const src = loadOperand(w, 1, false);
      const product = w.temp(), a = w.temp(), b = w.temp();
      w.read(1, src);
      if (size === 4) f.op(OP.i64Extend32S);
      f.set(a);
      if (ins.row.operands.length === 3) f.i64(BigInt(ins.imm | 0));
      else {
        w.readReg(ins.reg, size, w.hasRex);
        if (size === 4) f.op(OP.i64Extend32S);
      }
      f.set(b);
      f.get(a).get(b).op(OP.i64Mul).set(product);
      f.get(product);
      w.writeReg(ins.reg, size, w.hasRex);
      if (w.flagsOut === 0) {
        w.flags = { kind: "dead" };
        return;
      }
      if (size === 8) {
        // CF = OF = the signed 128-bit product does not fit 64 bits: with a ≠ 0, exactly when
        // product / a ≠ b (a wrapped product differs from a·b by a multiple of 2^64, more than |a|);
        // a = -1 overflows only for b = -2^63 (and must not divide: that traps)
        const overflow = f.local(I32);
        f.i32(0).set(overflow);
        f.get(a).i64(-1n).op(OP.i64Eq);
        w.open(OP.if);
        f.get(b).i64(-(2n ** 63n)).op(OP.i64Eq).set(overflow);
        f.op(OP.else);
        f.get(a).op(OP.i64Eqz).op(OP.i32Eqz);
        w.open(OP.if);
        f.get(product).get(a).op(OP.i64DivS).get(b).op(OP.i64Ne).set(overflow);
        w.close();
        w.close();
        f.i32(CF | OF).i32(0).get(overflow).op(OP.select);
        w.resultFlags(product, 8);
        // ZF is 0 by the interpreter's convention
        f.i32(~ZF).op(OP.i32And).op(OP.i32Or);
        w.setWord();
        return;
      }
      // 32-bit: CF = OF = the product does not fit; SF and PF of the low half, ZF = AF = 0 (the interpreter's convention)
      const low = w.temp();
      f.get(product).i64(0xffffffffn).op(OP.i64And).set(low);
      f.i32(CF | OF).i32(0).get(product).get(product).op(OP.i64Extend32S).op(OP.i64Ne).op(OP.select);
      w.resultFlags(low, 4);
      f.i32(~ZF).op(OP.i32And).op(OP.i32Or);
      w.setWord();
      return;
    }
    case "push": {
      const value = w.temp();
      const src = loadOperand(w, 0, false);
      if (ins.row.operands[0].method === M_I) f.i64(BigInt(ins.imm | 0));
      else w.read(0, src);
      f.set(value);
      w.pushStack(value);
      return;
    }
    case "pop": {
      const value = w.peekStack();
      w.releaseStack(w.stack);
      f.get(value);
      w.writeOperand(0);
      return;
    }
    case "leave": {
      // RSP ← RBP (ESP ← EBP), then POP RBP (EBP)
      f.get(w.reg(5));
      w.wrapStackPointer();
      f.set(w.x);
      const value = w.load(w.stack, false, SS);
      f.get(w.x).i64(BigInt(w.stack)).op(OP.i64Add);
      w.wrapStackPointer();
      f.set(w.reg(4));
      f.get(value).set(w.reg(5));
      w.written.add(4);
      w.written.add(5);
      return;
    }
    case "jmp": case "call": {
      const indirect = ins.row.operands[0].method === M_E;
      let target: number | null = null;
      let dynamic: number | null = null;
      if (indirect) {
        // the target is read (and must be canonical: #GP at this instruction) before anything moves
        const src = loadOperand(w, 0, false);
        dynamic = w.temp();
        w.read(0, src);
        f.set(dynamic);
        w.checkTarget(dynamic);
      } else target = relativeTarget(ins, w.gi.nextRip)!;
      if (m === "call") {
        const value = w.temp();
        f.i64(BigInt(w.gi.nextRip)).set(value);
        w.pushStack(value);
      } else if (!indirect) {
        w.goto(target!, w.inBlock + 1);
        return;
      }
      w.exit(target, dynamic, w.inBlock + 1);
      return;
    }
    case "ret": {
      const target = w.peekStack();
      // a non-canonical return address faults at the RET, before RSP moves
      w.checkTarget(target);
      const release = ins.row.operands.length > 0 ? ins.imm & 0xffff : 0;
      w.releaseStack(w.stack + release);
      w.exit(null, target, w.inBlock + 1);
      return;
    }
  }
  throw new Error(`wasm translator: no template for ${m}`);
}

/**
 * One-operand MUL/IMUL of 32 or 64 bits: rDX:rAX = rAX · r/m. The 64-bit high half from 32-bit
 * limbs (each partial product fits an i64), signed as the unsigned one minus the other operand for
 * each negative one. Flags as the interpreter's multiplyWide: CF = OF = the high half is
 * significant, SF and PF of the low half, ZF = AF = 0.
 */
function multiplyAccumulator(w: WasmWriter, signed: boolean): void {
  const f = w.f, ins = w.ins, size = operandSize(ins, 0);
  const src = loadOperand(w, 0, false);
  const a = w.temp(), b = w.temp(), lo = w.temp(), hi = w.temp();
  w.readReg(0, size, false);
  if (size === 4 && signed) f.op(OP.i64Extend32S);
  f.set(a);
  w.read(0, src);
  if (size === 4 && signed) f.op(OP.i64Extend32S);
  f.set(b);
  f.get(a).get(b).op(OP.i64Mul).set(lo);
  const overflow = f.local(I32);
  if (size === 4) {
    // the product is exact in 64 bits: EDX is its upper half
    f.get(lo).i64(32n).op(OP.i64ShrU).set(hi);
    if (signed) f.get(lo).get(lo).op(OP.i64Extend32S).op(OP.i64Ne).set(overflow);
    else f.get(hi).i64(0xffffffffn).op(OP.i64And).op(OP.i64Eqz).op(OP.i32Eqz).set(overflow);
    f.get(hi);
    w.writeReg(2, 4, false);
    f.get(lo);
    w.writeReg(0, 4, false);
    f.get(lo).i64(0xffffffffn).op(OP.i64And).set(lo);
  } else {
    const M = 0xffffffffn;
    const a0 = w.temp(), a1 = w.temp(), b0 = w.temp(), b1 = w.temp(), p01 = w.temp(), p10 = w.temp(), mid = w.temp();
    f.get(a).i64(M).op(OP.i64And).set(a0);
    f.get(a).i64(32n).op(OP.i64ShrU).set(a1);
    f.get(b).i64(M).op(OP.i64And).set(b0);
    f.get(b).i64(32n).op(OP.i64ShrU).set(b1);
    f.get(a0).get(b1).op(OP.i64Mul).set(p01);
    f.get(a1).get(b0).op(OP.i64Mul).set(p10);
    // (a0·b0 >> 32) + low halves of the cross products: below 3·2^32
    f.get(a0).get(b0).op(OP.i64Mul).i64(32n).op(OP.i64ShrU);
    f.get(p01).i64(M).op(OP.i64And).op(OP.i64Add);
    f.get(p10).i64(M).op(OP.i64And).op(OP.i64Add).set(mid);
    f.get(a1).get(b1).op(OP.i64Mul);
    f.get(p01).i64(32n).op(OP.i64ShrU).op(OP.i64Add);
    f.get(p10).i64(32n).op(OP.i64ShrU).op(OP.i64Add);
    f.get(mid).i64(32n).op(OP.i64ShrU).op(OP.i64Add).set(hi);
    if (signed) {
      f.get(hi);
      f.get(b).i64(0n).get(a).i64(0n).op(OP.i64LtS).op(OP.select).op(OP.i64Sub);
      f.get(a).i64(0n).get(b).i64(0n).op(OP.i64LtS).op(OP.select).op(OP.i64Sub).set(hi);
    }
    if (signed) f.get(hi).get(lo).i64(63n).op(OP.i64ShrS).op(OP.i64Ne).set(overflow);
    else f.get(hi).op(OP.i64Eqz).op(OP.i32Eqz).set(overflow);
    f.get(lo);
    w.writeReg(0, 8, false);
    f.get(hi);
    w.writeReg(2, 8, false);
  }
  if (w.flagsOut === 0) {
    w.flags = { kind: "dead" };
    return;
  }
  f.i32(CF | OF).i32(0).get(overflow).op(OP.select);
  w.resultFlags(lo, size);
  f.i32(~ZF).op(OP.i32And).op(OP.i32Or);
  w.setWord();
}

/**
 * SHLD/SHRD of a register by a constant (1..size·8 − 1): the destination shifted, filled from the
 * source. Flags as the interpreter's shiftDouble: CF the last bit shifted out, OF whether the sign
 * changed, SF/ZF/PF of the result, AF 0.
 */
function doubleShift(w: WasmWriter, left: boolean): void {
  const f = w.f, ins = w.ins, size = operandSize(ins, 0), bits = size * 8;
  const count = BigInt(doubleShiftCount(ins));
  const a = w.temp(), r = w.temp();
  w.read(0);
  f.set(a);
  f.get(a).i64(count).op(left ? OP.i64Shl : OP.i64ShrU);
  w.read(1);
  f.i64(BigInt(bits) - count).op(left ? OP.i64ShrU : OP.i64Shl).op(OP.i64Or);
  maskTo(w, size);
  f.set(r);
  f.get(r);
  w.writeOperand(0);
  if (w.flagsOut === 0) {
    w.flags = { kind: "dead" };
    return;
  }
  w.bitOf(a, left ? bits - Number(count) : Number(count) - 1); // CF
  w.bitOf(r, bits - 1);
  w.bitOf(a, bits - 1);
  f.op(OP.i32Xor).i32(11).op(OP.i32Shl).op(OP.i32Or); // OF
  w.resultFlags(r, size);
  f.op(OP.i32Or);
  w.setWord();
}

/**
 * REP MOVSB / REP STOSB (memcpy and memset) when DF is clear, RCX is at most a page and the
 * source and destination each lie in one page the TLB's fast tags reach (plain RAM, access
 * allowed, not compiled code): memory.copy or memory.fill, and the registers advanced as the element
 * loop leaves them. A copy whose destination starts inside its source overlaps as memmove would not
 * (the element loop repeats bytes): that, and everything else, goes to the interpreter's semantics
 * (which stop at chunk boundaries, fault, and so on). The flags are untouched: materialised, so
 * that both paths end with them in FL.
 */
function repeatedStore(w: WasmWriter, copy: boolean): void {
  const f = w.f;
  w.flagsInWord();
  const count = f.local(I32), source = f.local(I32), fast = f.local(I32);
  // 0 < RCX <= 4096 and DF = 0
  f.get(w.reg(1)).i64(1n).op(OP.i64Sub).i64(4096n).op(OP.i64LtU);
  f.i32(0).mem(OP.i32Load, 2, w.layout.state + DIRECTION).op(OP.i32Eqz).op(OP.i32And).set(fast);
  f.get(w.reg(1)).op(OP.i32WrapI64).set(count);
  if (copy) {
    f.get(fast);
    w.open(OP.if);
    f.get(w.reg(6)).set(w.x);
    w.fastRange(P_READ_TAGS, count, fast);
    f.get(w.p).set(source);
    w.close();
  }
  f.get(fast);
  w.open(OP.if);
  f.get(w.reg(7)).set(w.x);
  w.fastRange(P_WRITE_TAGS, count, fast);
  if (copy) {
    // not a destination inside the source (as RAM offsets: the same bytes whatever maps them)
    f.get(fast).get(w.p).get(source).op(OP.i32Sub).get(count).op(OP.i32GeU).get(w.p).get(source).op(OP.i32LeU).op(OP.i32Or).op(OP.i32And).set(fast);
  }
  w.close();
  f.get(fast);
  w.open(OP.if);
  f.get(w.p).i32(RAM_OFFSET).op(OP.i32Add);
  if (copy) {
    f.get(source).i32(RAM_OFFSET).op(OP.i32Add).get(count).memoryCopy();
    f.get(w.reg(6)).get(w.reg(1)).op(OP.i64Add);
    w.writeReg(6, 8, false);
  } else {
    w.readReg(0, 1, false);
    f.op(OP.i32WrapI64).get(count).memoryFill();
  }
  f.get(w.reg(7)).get(w.reg(1)).op(OP.i64Add);
  w.writeReg(7, 8, false);
  f.i64(0n);
  w.writeReg(1, 8, false);
  w.stores = true;
  w.otherwiseThroughSemantics();
}

/**
 * DIV/IDIV of 32 or 64 bits when the dividend is rAX alone (rDX zero, or for IDIV rAX's sign) or,
 * for 32 bits, EDX:EAX as one i64, and the quotient fits: WebAssembly's division. A zero divisor,
 * an overflowing quotient and a 128-bit dividend go to the interpreter's semantics (which raise
 * #DE). The flags are left as they were (undefined after a division): materialised, so that both
 * paths end with them in FL.
 */
function divide(w: WasmWriter, signed: boolean): void {
  const f = w.f, ins = w.ins, size = operandSize(ins, 0);
  w.flagsInWord();
  const src = loadOperand(w, 0, false);
  const dividend = w.temp(), divisor = w.temp(), quotient = w.temp(), rdx = w.temp();
  const fast = f.local(I32);
  w.read(0, src);
  if (signed && size === 4) f.op(OP.i64Extend32S);
  f.set(divisor);
  w.readReg(2, size, false);
  f.set(rdx);
  if (size === 4) {
    // EDX:EAX as one i64
    f.get(rdx).i64(32n).op(OP.i64Shl);
    w.readReg(0, 4, false);
    f.op(OP.i64Or).set(dividend);
    // a nonzero divisor, not INT64_MIN / -1 (which traps)
    f.get(divisor).op(OP.i64Eqz).op(OP.i32Eqz);
    if (signed) f.get(dividend).i64(-(2n ** 63n)).op(OP.i64Ne).get(divisor).i64(-1n).op(OP.i64Ne).op(OP.i32Or).op(OP.i32And);
    f.set(fast);
    f.get(fast);
    w.open(OP.if);
    f.get(dividend).get(divisor).op(signed ? OP.i64DivS : OP.i64DivU).set(quotient);
    // the quotient must fit 32 bits
    if (signed) f.get(quotient).get(quotient).op(OP.i64Extend32S).op(OP.i64Eq).set(fast);
    else f.get(quotient).i64(32n).op(OP.i64ShrU).op(OP.i64Eqz).set(fast);
    w.close();
  } else {
    w.readReg(0, 8, false);
    f.set(dividend);
    f.get(divisor).op(OP.i64Eqz).op(OP.i32Eqz);
    if (signed) {
      // rDX is rAX's sign, and not INT64_MIN / -1
      f.get(rdx).get(dividend).i64(63n).op(OP.i64ShrS).op(OP.i64Eq).op(OP.i32And);
      f.get(dividend).i64(-(2n ** 63n)).op(OP.i64Ne).get(divisor).i64(-1n).op(OP.i64Ne).op(OP.i32Or).op(OP.i32And);
    } else {
      f.get(rdx).op(OP.i64Eqz).op(OP.i32And);
    }
    f.set(fast);
    f.get(fast);
    w.open(OP.if);
    f.get(dividend).get(divisor).op(signed ? OP.i64DivS : OP.i64DivU).set(quotient);
    w.close();
  }
  f.get(fast);
  w.open(OP.if);
  f.get(quotient);
  w.writeReg(0, size, false);
  f.get(dividend).get(divisor).op(signed ? OP.i64RemS : OP.i64RemU);
  w.writeReg(2, size, false);
  w.otherwiseThroughSemantics();
}

function writeDestination(w: WasmWriter, size: number, memory: boolean, result: number): void {
  if (memory) w.store(size, result, true, memorySegment(w.ins));
  else {
    w.f.get(result);
    w.writeOperand(0);
  }
}

/**
 * A two-operand instruction's memory operands loaded (the destination's for writing when `writes`):
 * the operation size, whether operand 0 is in memory, and the locals read() takes for each.
 */
function loadBinaryOperands(w: WasmWriter, writes: boolean): { size: number; memDest: boolean; dest: number | undefined; src: number | undefined } {
  const ins = w.ins;
  const size = operandSize(ins, 0);
  const memDest = isMemoryOperand(ins, 0);
  const dest = memDest ? (w.address(), w.load(size, writes, memorySegment(ins))) : undefined;
  return { size, memDest, dest, src: loadOperand(w, 1, false) };
}

/** ADD/SUB/AND/OR/XOR/CMP/TEST: operand 0 op operand 1; `writes`: the result goes to operand 0. */
function alu(w: WasmWriter, op: number, writes: boolean, subtract: boolean): void {
  const ins = w.ins, f = w.f;
  const { size, memDest, dest, src } = loadBinaryOperands(w, writes);
  const a = w.temp(), b = w.temp(), r = w.temp();
  w.read(0, dest);
  f.set(a);
  w.read(1, src);
  if (operandSize(ins, 1) < size && ins.row.operands[1].method !== M_I) maskTo(w, size);
  f.set(b);
  const m = ins.mnemonic;
  f.get(a).get(b);
  f.op(m === "add" ? OP.i64Add : subtract ? OP.i64Sub : m === "or" ? OP.i64Or : m === "xor" ? OP.i64Xor : OP.i64And);
  maskTo(w, size);
  f.set(r);
  if (writes) writeDestination(w, size, memDest, r);
  w.produce(op, size, a, b, r);
}

/**
 * ADC/SBB: operand 0 ± operand 1 ± CF. The flags are computed outright into FL (as LazyFlags
 * computes an ADC/SBB record): CF from the unsigned compare of result and operand, taking the
 * carry-in into account; OF, AF, ZF, SF and PF as for ADD/SUB.
 */
function addWithCarry(w: WasmWriter, subtract: boolean): void {
  const f = w.f;
  const { size, memDest, dest, src } = loadBinaryOperands(w, true);
  const a = w.temp(), b = w.temp(), r = w.temp();
  const carry = f.local(I32);
  w.carry();
  f.set(carry);
  w.read(0, dest);
  f.set(a);
  w.read(1, src);
  f.set(b);
  f.get(a).get(b).op(subtract ? OP.i64Sub : OP.i64Add).get(carry).op(OP.i64ExtendI32U).op(subtract ? OP.i64Sub : OP.i64Add);
  maskTo(w, size);
  f.set(r);
  writeDestination(w, size, memDest, r);
  if (w.flagsOut === 0) {
    w.flags = { kind: "dead" };
    return;
  }
  // CF: ADC: carry-in ? r <= a : r < a; SBB: carry-in ? a <= b : a < b (unsigned, masked values)
  if (subtract) {
    f.get(a).get(b).op(OP.i64LeU).get(a).get(b).op(OP.i64LtU);
  } else {
    f.get(r).get(a).op(OP.i64LeU).get(r).get(a).op(OP.i64LtU);
  }
  f.get(carry).op(OP.select);
  // AF, then OF: ADC (a^r)&(b^r), SBB (a^b)&(a^r), by the sign bit
  f.get(a).get(b).op(OP.i64Xor).get(r).op(OP.i64Xor).op(OP.i32WrapI64).i32(AF).op(OP.i32And).op(OP.i32Or);
  const overflow = w.temp();
  if (subtract) f.get(a).get(b).op(OP.i64Xor).get(a).get(r).op(OP.i64Xor).op(OP.i64And).set(overflow);
  else f.get(a).get(r).op(OP.i64Xor).get(b).get(r).op(OP.i64Xor).op(OP.i64And).set(overflow);
  w.bitOf(overflow, size * 8 - 1);
  f.i32(11).op(OP.i32Shl).op(OP.i32Or);
  w.resultFlags(r, size);
  f.op(OP.i32Or);
  w.setWord();
}

function shift(w: WasmWriter, m: string): void {
  const ins = w.ins, f = w.f;
  const size = operandSize(ins, 0);
  const bits = size * 8;
  const memory = isMemoryOperand(ins, 0);
  if (ins.row.operands[1].method === M_FIXED_REG) return shiftByCl(w, m);
  const count = shiftCount(ins);
  // a memory destination needs write access even when the count is 0 (as on the hardware)
  const value = w.modifyDestination(size, memory);
  if (count === 0) {
    // nothing changes, flags included (memory is not written); a 32-bit register destination is still zero-extended
    if (!memory) writeDestination(w, size, memory, value);
    return;
  }
  const result = w.temp();
  if (m === "shl" || m === "sal") {
    f.get(value).i64(BigInt(count)).op(OP.i64Shl);
  } else if (m === "shr") {
    f.get(value).i64(BigInt(count)).op(OP.i64ShrU);
  } else if (m === "sar") {
    f.get(value);
    if (size < 8) f.op(size === 1 ? OP.i64Extend8S : size === 2 ? OP.i64Extend16S : OP.i64Extend32S);
    f.i64(BigInt(count)).op(OP.i64ShrS);
  } else if (size === 8) {
    f.get(value).i64(BigInt(count)).op(m === "rol" ? OP.i64Rotl : OP.i64Rotr);
  } else {
    // narrow rotates: by count mod width, as two shifts
    const rotation = count % bits;
    const left = m === "rol" ? rotation : (bits - rotation) % bits;
    if (left === 0) f.get(value);
    else f.get(value).i64(BigInt(left)).op(OP.i64Shl).get(value).i64(BigInt(bits - left)).op(OP.i64ShrU).op(OP.i64Or);
  }
  maskTo(w, size);
  f.set(result);
  writeDestination(w, size, memory, result);
  if (w.flagsOut === 0) {
    w.flags = { kind: "dead" };
    return;
  }
  // the flags as the interpreter's shiftOrRotate sets them, for this constant count
  const cfBit = (local: number, index: number) => w.bitOf(local, index);
  switch (m) {
    case "shl": case "sal":
      if (count <= bits) cfBit(value, bits - count); else f.i32(0);
      w.bitOf(result, bits - 1);
      if (count <= bits) { cfBit(value, bits - count); f.op(OP.i32Xor); }
      f.i32(11).op(OP.i32Shl).op(OP.i32Or);
      w.resultFlags(result, size);
      f.op(OP.i32Or);
      break;
    case "shr":
      if (count <= bits) cfBit(value, count - 1); else f.i32(0);
      w.bitOf(value, bits - 1);
      f.i32(11).op(OP.i32Shl).op(OP.i32Or);
      w.resultFlags(result, size);
      f.op(OP.i32Or);
      break;
    case "sar":
      cfBit(value, Math.min(count - 1, bits - 1));
      w.resultFlags(result, size);
      f.op(OP.i32Or);
      break;
    default: { // rol, ror: CF and OF from the result, the rest as before
      w.materialize();
      f.i32(~(CF | OF)).op(OP.i32And);
      if (m === "rol") {
        w.bitOf(result, 0);
        f.op(OP.i32Or);
        w.bitOf(result, bits - 1);
        w.bitOf(result, 0);
      } else {
        w.bitOf(result, bits - 1);
        f.op(OP.i32Or);
        w.bitOf(result, bits - 1);
        w.bitOf(result, bits - 2);
      }
      f.op(OP.i32Xor).i32(11).op(OP.i32Shl).op(OP.i32Or);
    }
  }
  w.setWord();
}

/**
 * SHL/SHR/SAR by CL: the count is known only at run time. A count of 0 changes nothing (a memory
 * operand is still checked for write access, a 32-bit register still zero-extended, the flags
 * kept); otherwise the flags are those of the constant-count case, computed from the count.
 */
function shiftByCl(w: WasmWriter, m: string): void {
  const ins = w.ins, f = w.f;
  const size = operandSize(ins, 0);
  const bits = size * 8;
  const memory = isMemoryOperand(ins, 0);
  const segment = memorySegment(ins);
  const value = w.modifyDestination(size, memory);
  const count = w.temp();
  f.get(w.reg(1)).i64(size === 8 ? 63n : 31n).op(OP.i64And).set(count);
  const result = w.temp();
  if (m === "sar") {
    f.get(value);
    if (size < 8) f.op(size === 1 ? OP.i64Extend8S : size === 2 ? OP.i64Extend16S : OP.i64Extend32S);
    f.get(count).op(OP.i64ShrS);
  } else {
    f.get(value).get(count).op(m === "shr" ? OP.i64ShrU : OP.i64Shl);
  }
  maskTo(w, size);
  f.set(result);
  if (memory) {
    f.get(count).op(OP.i64Eqz).op(OP.i32Eqz);
    w.open(OP.if);
    w.store(size, result, true, segment);
    w.close();
  } else writeDestination(w, size, memory, result);
  if (w.flagsOut === 0) {
    w.flags = { kind: "dead" };
    return;
  }
  const before = f.local(I32);
  w.materialize();
  f.set(before);
  // CF: the last bit shifted out (0 when the count exceeds a narrow operand); OF as the interpreter sets it
  const cf = f.local(I32);
  const inRange = () => f.get(count).i64(BigInt(bits)).op(OP.i64LeU);
  if (m === "shl" || m === "sal") {
    f.get(value).i64(BigInt(bits)).get(count).op(OP.i64Sub).op(OP.i64ShrU).i64(1n).op(OP.i64And).op(OP.i32WrapI64).i32(0);
    inRange();
    f.op(OP.select).set(cf);
    f.get(cf);
    w.bitOf(result, bits - 1);
    f.get(cf).op(OP.i32Xor).i32(11).op(OP.i32Shl).op(OP.i32Or);
  } else if (m === "shr") {
    f.get(value).get(count).i64(1n).op(OP.i64Sub).op(OP.i64ShrU).i64(1n).op(OP.i64And).op(OP.i32WrapI64).i32(0);
    inRange();
    f.op(OP.select).set(cf);
    f.get(cf);
    w.bitOf(value, bits - 1);
    f.i32(11).op(OP.i32Shl).op(OP.i32Or);
  } else {
    f.get(value);
    if (size < 8) f.op(size === 1 ? OP.i64Extend8S : size === 2 ? OP.i64Extend16S : OP.i64Extend32S);
    f.get(count).i64(1n).op(OP.i64Sub).op(OP.i64ShrS).i64(1n).op(OP.i64And).op(OP.i32WrapI64);
  }
  w.resultFlags(result, size);
  f.op(OP.i32Or);
  f.get(before);
  f.get(count).op(OP.i64Eqz).op(OP.i32Eqz);
  f.op(OP.select);
  w.setWord();
}

/**
 * The SSE moves, in the interpreter's order of checks: a memory operand's address (non-canonical:
 * #GP/#SS), then SSE's availability, then a 16-byte operand's alignment, then the access.
 */
function sseMove(w: WasmWriter, m: string): void {
  const ins = w.ins, f = w.f;
  const first = ins.row.operands[0].method, second = ins.row.operands[1].method;
  const memory = ins.mod !== 3;
  const segment = memorySegment(ins);
  if (memory) {
    w.address();
    w.canonicalCheck(w.x, FAULT_NON_CANONICAL, segment);
  }
  w.sseCheck();
  const d = ins.reg, s = ins.rm;
  const zero = (r: number) => f.i32(0).i64(0n).mem(OP.i64Store, 3, w.xmm(r, 1));
  const copyQuad = (to: number, from: number) => f.i32(0).i32(0).mem(OP.i64Load, 3, from).mem(OP.i64Store, 3, to);
  if (MOVE128.has(m) || m === "pxor") {
    if (memory && (MOVE128.get(m) === true || m === "pxor")) w.alignmentCheck();
    if (first === M_W && memory) {
      w.store128(d, segment);
      return;
    }
    const xor = m === "pxor";
    const [to, from] = first === M_V ? [d, s] : [s, d];
    if (!memory) {
      for (const half of [0, 1]) {
        f.i32(0);
        if (xor) f.i32(0).mem(OP.i64Load, 3, w.xmm(to, half));
        f.i32(0).mem(OP.i64Load, 3, w.xmm(from, half));
        if (xor) f.op(OP.i64Xor);
        f.mem(OP.i64Store, 3, w.xmm(to, half));
      }
      return;
    }
    const value = w.load128(segment);
    for (const half of [0, 1]) {
      f.i32(0);
      if (xor) f.i32(0).mem(OP.i64Load, 3, w.xmm(d, half));
      f.get(value[half]);
      if (xor) f.op(OP.i64Xor);
      f.mem(OP.i64Store, 3, w.xmm(d, half));
    }
    return;
  }
  if (m === "punpcklqdq") {
    copyQuad(w.xmm(d, 1), w.xmm(s, 0));
    return;
  }
  // MOVD / MOVQ
  const size = m === "movq" ? 8 : 4;
  if (first === M_V) {
    // xmm ← r/m32/64 or xmm/m64: the low quadword, the high one zeroed
    if (memory) {
      const value = w.load(size, false, segment);
      f.i32(0).get(value).mem(OP.i64Store, 3, w.xmm(d, 0));
    } else if (second === M_E) {
      f.i32(0);
      w.readReg(s, size, true);
      f.mem(OP.i64Store, 3, w.xmm(d, 0));
    } else copyQuad(w.xmm(d, 0), w.xmm(s, 0));
    zero(d);
    return;
  }
  // r/m32/64 ← xmm, or xmm/m64 ← xmm (66 0F D6: a register destination's high quadword zeroed)
  const value = w.temp();
  f.i32(0).mem(OP.i64Load, 3, w.xmm(d, 0));
  if (size === 4) f.i64(0xffffffffn).op(OP.i64And);
  f.set(value);
  if (memory) w.store(size, value, false, segment);
  else if (first === M_E) {
    f.get(value);
    w.writeReg(s, size, true);
  } else {
    f.i32(0).get(value).mem(OP.i64Store, 3, w.xmm(s, 0));
    zero(s);
  }
}

// ---- the unit ------------------------------------------------------------------------------------

/**
 * Translates `blocks` (the entry block first) to a WebAssembly module, or returns null when the
 * entry block's first instruction has no template (the unit is left to the JavaScript translator).
 */
export function translateWasm(blocks: GuestBlock[], mode: 64 | 32, layout: WasmLayout, registry: SemanticsRegistry): WasmTranslation | null {
  const plans = blocks.map(planBlock);
  if (plans[0].length === 0) return null;
  const region = blocks.length > 1 || blocks[0].successors.includes(blocks[0].rip);
  const regionBlocks = new Map<number, number>();
  if (region) blocks.forEach((block, i) => { if (plans[i].length > 0) regionBlocks.set(block.rip, i); });
  const counts = plans.map((plan) => Math.max(plan.length, 1));
  const liveIn = Int8Array.from(plans, (plan) => plan.liveIn);
  const w = new WasmWriter(layout, regionBlocks, counts, liveIn, registry);
  w.stack = mode === 64 ? 8 : 4;
  const f = w.f;
  // whether a jump inside the unit leads back to its entry
  const entryIsTarget = region && blocks.some((block, i) => plans[i].length > 0 && block.successors.includes(blocks[0].rip));
  const instructions: Instruction[] = [];
  const rips: number[] = [];

  // body first (registers are discovered while emitting); the prologue is prepended below
  w.open(OP.block); // the exit block: every exit and fault leaves through its end
  w.exitLevel = w.depth - 1;
  if (region) {
    w.open(OP.loop);
    w.loopLevel = w.depth - 1;
    for (let i = blocks.length - 1; i >= 0; i--) w.open(OP.block);
    f.get(w.b).brTable(blocks.map((_, i) => i), 0);
  }
  blocks.forEach((block, blockNumber) => {
    if (region) w.close(); // the label of this block's case
    const plan = plans[blockNumber];
    if (plan.length === 0) {
      if (region) f.op(OP.unreachable);
      return;
    }
    // block 0 is entered first with the CPU's flags as they are ("entry": an exit before any
    // producer leaves them alone, a reader takes them from ENTRY_FLAGS); when the region also jumps
    // back to it, they travel in FL. A block that rewrites the flags before anything can observe
    // them starts with none known.
    if (blockNumber === 0 && !entryIsTarget) w.flags = { kind: "entry" };
    else w.flags = liveIn[blockNumber] !== 0 ? { kind: "word" } : blockNumber === 0 ? { kind: "entry" } : { kind: "dead" };
    for (let k = 0; k < plan.length; k++) {
      const gi = block.instructions[k];
      w.releaseTemps();
      w.gi = gi;
      w.ins = gi.ins;
      w.index = instructions.length;
      w.inBlock = k;
      w.flagsOut = plan.out[k];
      w.stores = false;
      instructions.push(gi.ins);
      rips.push(gi.rip);
      if (plan.semantics[k]) w.throughSemantics();
      else emitInstruction(w);
      if (w.stores && !(JCC.has(gi.ins.mnemonic) || ["jmp", "call", "ret"].includes(gi.ins.mnemonic))) {
        f.get(w.stale);
        w.open(OP.if);
        w.exit(gi.nextRip, null, k + 1);
        w.close();
      }
    }
    const last = block.instructions[plan.length - 1];
    const ended = plan.length === block.instructions.length && block.endsWithBranch;
    if (!ended) {
      if (plan.length < block.instructions.length) w.exit(last.nextRip, null, plan.length);
      else w.goto(block.endRip, plan.length);
    }
  });
  if (region) w.close(); // the loop
  w.close(); // the exit block
  // the exit tail: registers (a fault's are those of the faulting instruction, whose effects come
  // after its accesses; every register written is also loaded at entry, so each holds a real value)
  w.writeBackRegisters();
  f.i32(0).get(w.retired).mem(OP.i32Store, 2, layout.state + EXIT_RETIRED);
  w.insertRegisterSyncs();
  f.get(w.result);

  const prologue = new FunctionBody(0);
  for (const [r, local] of w.registersUsed) {
    prologue.i32(0).mem(OP.i64Load, 3, layout.regs + 8 * r).set(local);
  }
  const needsEntryFlags = w.entryFlagsRead || (entryIsTarget && liveIn[0] !== 0);
  if (entryIsTarget && liveIn[0] !== 0) prologue.i32(0).mem(OP.i32Load, 2, layout.state + ENTRY_FLAGS).set(w.fl);
  f.code.unshift(...prologue.code);

  const body = Uint8Array.from(f.encode());
  return {
    body,
    exits: w.exits,
    instructions,
    rips: Float64Array.from(rips),
    entryCount: plans[0].length,
    needsEntryFlags,
    semanticsIds: w.semanticsIds,
  };
}
