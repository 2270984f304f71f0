// Pre-decoded handlers: the interpreter's fast path for the operand forms compilers emit most.
//
// When an instruction enters the decoded-instruction cache, `fastHandlerFor` picks a handler for
// its form once (register slots, operand size and ALU operation fixed then), so executing it skips
// the generic path: the semantic-table lookup, the addressing-kind switch and the operand accessors
// that resolve each operand's kind and size on every access. A handler is the table's semantics
// specialised, not new semantics: the ALU forms call the table's own `alu`, shifts its
// `shiftOrRotateValue`, SHLD/SHRD `shiftDouble`, IMUL `imulTruncated`, MUL `multiplyWide`; every
// other form whose semantics need no precomputed memory address (register forms, branches,
// CALL/RET, port I/O...) runs the table's semantic function itself.
//
// The contract with Interpreter.runHandler: on entry cpu.nextRip is the next instruction's address;
// a handler either completes the instruction or throws a CpuException having changed nothing
// (read-modify-write forms probe the write before anything is recorded, so the store cannot fault
// after the flags are set). test/machine/interp-fast-forms.test.ts runs every form through both
// paths from random states; the hardware oracle runs the interpreter as it is.
import { BASE_RIP, DecodeStatus, P_REX, type Instruction } from "../../decoder/decode.js";
import { AF, CF, OF, PF, SF, ZF } from "../../decoder/flags.js";
import { OPCODE_TABLE } from "../../decoder/opcode-rows.js";
import { M_O, M_X, M_XLAT, M_Y } from "../../decoder/operand-spec.js";
import { TWO_32, type Cpu } from "../cpu.js";
import { modrmAddress, modrmOffset, probeWrite } from "./operand-access.js";
import { ALU_ADD, ALU_ADC, ALU_AND, ALU_CMP, ALU_OR, ALU_SBB, ALU_SUB, ALU_TEST, ALU_XOR, alu, imulTruncated, multiplyWide } from "./semantics/arithmetic.js";
import { SEMANTICS } from "./semantics/index.js";
import { SHIFT_KINDS, doubleResult, shiftDouble, shiftOrRotateValue } from "./semantics/shift.js";
import type { Semantic } from "./semantics/types.js";

export type FastHandler = (cpu: Cpu, ins: Instruction) => void;

const ALU_OPS: Record<string, number> = {
  add: ALU_ADD, or: ALU_OR, adc: ALU_ADC, sbb: ALU_SBB, and: ALU_AND, sub: ALU_SUB, xor: ALU_XOR, cmp: ALU_CMP, test: ALU_TEST,
};

/** CMP and TEST only read their first operand. */
function writesResult(op: number): boolean {
  return op !== ALU_CMP && op !== ALU_TEST;
}

/** The offset in cpu.regBytes of byte register `reg` (AH..BH without REX, SPL..DIL and R8B.. with it). */
function byteRegister(reg: number, hasRex: boolean): number {
  return reg < 4 || hasRex ? reg << 3 : ((reg - 4) << 3) + 1;
}

// ---- memory operands ------------------------------------------------------------------------------

/** Instruction.fastAddress for RIP-relative operands (0..15 name a base register, -1 the generic path). */
const ADDRESS_RIP = 16;
const CANONICAL_LIMIT = 0x800000000000;

/**
 * The linear address of the memory operand. In 64-bit mode, [base + disp] and [rip + disp] without
 * an index or an FS/GS base (fastAddress) are one sum, exact in a double while the base's high half
 * is within the canonical range, and canonical exactly when the sum lies in [-2^47, 2^47); every
 * other operand, and any sum outside that range (which then faults there), takes modrmAddress.
 */
function address(cpu: Cpu, ins: Instruction): number {
  const base = ins.fastAddress;
  if (base === ADDRESS_RIP) {
    const linear = cpu.nextRip + ins.disp;
    if (linear >= -CANONICAL_LIMIT && linear < CANONICAL_LIMIT) return linear;
  } else if (base >= 0) {
    const regs = cpu.regs, hi = regs[(base << 1) + 1];
    if (hi >= -0x8000 && hi < 0x8000) {
      const linear = hi * TWO_32 + (regs[base << 1] >>> 0) + ins.disp;
      if (linear >= -CANONICAL_LIMIT && linear < CANONICAL_LIMIT) return linear;
    }
  }
  return modrmAddress(cpu, ins, cpu.nextRip);
}

/** What fastAddress should be for `ins` (see address()). */
function addressForm(ins: Instruction): number {
  if (ins.mode !== 64 || ins.addrSize !== 8 || ins.mod === 3 || ins.index >= 0 || ins.segment >= 4) return -1;
  return ins.base === BASE_RIP ? ADDRESS_RIP : ins.base;
}

// ---- ALU: register, memory and immediate forms --------------------------------------------------
// fastOp is the ALU operation; fastA the destination (first operand) register, fastB the source.

function aluRegReg64(cpu: Cpu, ins: Instruction): void {
  const regs = cpu.regs, a = ins.fastA << 1, b = ins.fastB << 1, op = ins.fastOp;
  const r = alu(cpu, op, 8, regs[a], regs[a + 1], regs[b], regs[b + 1]);
  if (writesResult(op)) { regs[a] = r; regs[a + 1] = cpu.hi; }
}

function aluRegReg32(cpu: Cpu, ins: Instruction): void {
  const regs = cpu.regs, a = ins.fastA << 1, op = ins.fastOp;
  const r = alu(cpu, op, 4, regs[a] >>> 0, 0, regs[ins.fastB << 1] >>> 0, 0);
  if (writesResult(op)) { regs[a] = r; regs[a + 1] = 0; }
}

function aluRegReg8(cpu: Cpu, ins: Instruction): void {
  const bytes = cpu.regBytes, op = ins.fastOp;
  const r = alu(cpu, op, 1, bytes[ins.fastA], 0, bytes[ins.fastB], 0);
  if (writesResult(op)) bytes[ins.fastA] = r;
}

function aluRegImm64(cpu: Cpu, ins: Instruction): void {
  const regs = cpu.regs, a = ins.fastA << 1, op = ins.fastOp;
  const r = alu(cpu, op, 8, regs[a], regs[a + 1], ins.imm, ins.imm >> 31);
  if (writesResult(op)) { regs[a] = r; regs[a + 1] = cpu.hi; }
}

function aluRegImm32(cpu: Cpu, ins: Instruction): void {
  const regs = cpu.regs, a = ins.fastA << 1, op = ins.fastOp;
  const r = alu(cpu, op, 4, regs[a] >>> 0, 0, ins.imm >>> 0, 0);
  if (writesResult(op)) { regs[a] = r; regs[a + 1] = 0; }
}

function aluRegImm8(cpu: Cpu, ins: Instruction): void {
  const bytes = cpu.regBytes, op = ins.fastOp;
  const r = alu(cpu, op, 1, bytes[ins.fastA], 0, ins.imm & 0xff, 0);
  if (writesResult(op)) bytes[ins.fastA] = r;
}

/** OP reg, [mem] (Gv,Ev / Gb,Eb with a memory operand): the register is the destination. */
function aluRegMem64(cpu: Cpu, ins: Instruction): void {
  const regs = cpu.regs, a = ins.fastA << 1, op = ins.fastOp;
  const lo = cpu.read(address(cpu, ins), 8);
  const r = alu(cpu, op, 8, regs[a], regs[a + 1], lo, cpu.hi);
  if (writesResult(op)) { regs[a] = r; regs[a + 1] = cpu.hi; }
}

function aluRegMem32(cpu: Cpu, ins: Instruction): void {
  const regs = cpu.regs, a = ins.fastA << 1, op = ins.fastOp;
  const value = cpu.read(address(cpu, ins), 4);
  const r = alu(cpu, op, 4, regs[a] >>> 0, 0, value, 0);
  if (writesResult(op)) { regs[a] = r; regs[a + 1] = 0; }
}

function aluRegMem8(cpu: Cpu, ins: Instruction): void {
  const bytes = cpu.regBytes, op = ins.fastOp;
  const value = cpu.read(address(cpu, ins), 1);
  const r = alu(cpu, op, 1, bytes[ins.fastA], 0, value, 0);
  if (writesResult(op)) bytes[ins.fastA] = r;
}

/**
 * OP [mem], src: `size` bytes at the memory operand against (lo, hi). A read-modify-write probes
 * the store first, as the generic path does, so nothing is recorded before a fault.
 */
function aluMemory(cpu: Cpu, ins: Instruction, size: number, lo: number, hi: number): void {
  const op = ins.fastOp;
  const ea = address(cpu, ins);
  const write = writesResult(op);
  if (write) probeWrite(cpu, ea, size);
  const a = cpu.read(ea, size);
  const r = alu(cpu, op, size, a, size === 8 ? cpu.hi : 0, lo, hi);
  if (write) cpu.write(ea, size, r, cpu.hi);
}

function aluMemReg64(cpu: Cpu, ins: Instruction): void {
  const regs = cpu.regs, b = ins.fastB << 1;
  aluMemory(cpu, ins, 8, regs[b], regs[b + 1]);
}

function aluMemReg32(cpu: Cpu, ins: Instruction): void {
  aluMemory(cpu, ins, 4, cpu.regs[ins.fastB << 1] >>> 0, 0);
}

function aluMemReg8(cpu: Cpu, ins: Instruction): void {
  aluMemory(cpu, ins, 1, cpu.regBytes[ins.fastB], 0);
}

function aluMemImm64(cpu: Cpu, ins: Instruction): void {
  aluMemory(cpu, ins, 8, ins.imm, ins.imm >> 31);
}

function aluMemImm32(cpu: Cpu, ins: Instruction): void {
  aluMemory(cpu, ins, 4, ins.imm >>> 0, 0);
}

function aluMemImm8(cpu: Cpu, ins: Instruction): void {
  aluMemory(cpu, ins, 1, ins.imm & 0xff, 0);
}

// ---- MOV, MOVZX, LEA, PUSH, POP -------------------------------------------------------------------

function movRegReg64(cpu: Cpu, ins: Instruction): void {
  const regs = cpu.regs, a = ins.fastA << 1, b = ins.fastB << 1;
  regs[a] = regs[b];
  regs[a + 1] = regs[b + 1];
}

function movRegReg32(cpu: Cpu, ins: Instruction): void {
  const regs = cpu.regs, a = ins.fastA << 1;
  regs[a] = regs[ins.fastB << 1];
  regs[a + 1] = 0;
}

function movRegReg8(cpu: Cpu, ins: Instruction): void {
  cpu.regBytes[ins.fastA] = cpu.regBytes[ins.fastB];
}

function movLoad64(cpu: Cpu, ins: Instruction): void {
  const regs = cpu.regs, a = ins.fastA << 1;
  const lo = cpu.read(address(cpu, ins), 8);
  regs[a] = lo;
  regs[a + 1] = cpu.hi;
}

function movLoad32(cpu: Cpu, ins: Instruction): void {
  const regs = cpu.regs, a = ins.fastA << 1;
  regs[a] = cpu.read(address(cpu, ins), 4);
  regs[a + 1] = 0;
}

function movLoad8(cpu: Cpu, ins: Instruction): void {
  cpu.regBytes[ins.fastA] = cpu.read(address(cpu, ins), 1);
}

function movStore64(cpu: Cpu, ins: Instruction): void {
  const regs = cpu.regs, b = ins.fastB << 1;
  cpu.write(address(cpu, ins), 8, regs[b], regs[b + 1]);
}

function movStore32(cpu: Cpu, ins: Instruction): void {
  cpu.write(address(cpu, ins), 4, cpu.regs[ins.fastB << 1] >>> 0, 0);
}

function movStore8(cpu: Cpu, ins: Instruction): void {
  cpu.write(address(cpu, ins), 1, cpu.regBytes[ins.fastB], 0);
}

/** MOV reg, imm: fastB is the immediate's high half (a 64-bit immediate's, or the sign of an imm32). */
function movRegImm64(cpu: Cpu, ins: Instruction): void {
  const regs = cpu.regs, a = ins.fastA << 1;
  regs[a] = ins.imm;
  regs[a + 1] = ins.fastB;
}

function movRegImm32(cpu: Cpu, ins: Instruction): void {
  const regs = cpu.regs, a = ins.fastA << 1;
  regs[a] = ins.imm;
  regs[a + 1] = 0;
}

function movMemImm(cpu: Cpu, ins: Instruction): void {
  const size = ins.fastOp;
  cpu.write(address(cpu, ins), size, size === 1 ? ins.imm & 0xff : size === 4 ? ins.imm >>> 0 : ins.imm, ins.imm >> 31);
}

/** MOVZX reg, r8/r16 (fastOp: the source size; fastB: its byte offset in regBytes, or word register). */
function movzxRegReg(cpu: Cpu, ins: Instruction): void {
  const regs = cpu.regs, a = ins.fastA << 1;
  regs[a] = ins.fastOp === 1 ? cpu.regBytes[ins.fastB] : cpu.regWords[ins.fastB << 2];
  regs[a + 1] = 0;
}

function movzxLoad(cpu: Cpu, ins: Instruction): void {
  const regs = cpu.regs, a = ins.fastA << 1;
  regs[a] = cpu.read(address(cpu, ins), ins.fastOp);
  regs[a + 1] = 0;
}

function lea64(cpu: Cpu, ins: Instruction): void {
  const regs = cpu.regs, a = ins.fastA << 1;
  regs[a] = modrmOffset(cpu, ins, cpu.nextRip);
  regs[a + 1] = cpu.hi;
}

function lea32(cpu: Cpu, ins: Instruction): void {
  const regs = cpu.regs, a = ins.fastA << 1;
  regs[a] = modrmOffset(cpu, ins, cpu.nextRip);
  regs[a + 1] = 0;
}

function push64(cpu: Cpu, ins: Instruction): void {
  const regs = cpu.regs, a = ins.fastA << 1;
  cpu.push(8, regs[a], regs[a + 1]);
}

function pop64(cpu: Cpu, ins: Instruction): void {
  const lo = cpu.peek(8, 0);
  const hi = cpu.hi;
  cpu.adjustStack(8);
  // POP RSP: the loaded value replaces the incremented pointer
  const regs = cpu.regs, a = ins.fastA << 1;
  regs[a] = lo;
  regs[a + 1] = hi;
}

// ---- shifts and rotates of a register -------------------------------------------------------------
// fastOp is the kind (shift.ts), fastA the register, fastB the count (an immediate or 1), or -1 for CL.

function shiftReg64(cpu: Cpu, ins: Instruction): void {
  const count = (ins.fastB < 0 ? cpu.regBytes[8] : ins.fastB) & 0x3f;
  if (count === 0) return;
  const regs = cpu.regs, a = ins.fastA << 1;
  regs[a] = shiftOrRotateValue(cpu, ins.fastOp, 8, regs[a], regs[a + 1], count);
  regs[a + 1] = cpu.hi;
}

function shiftReg32(cpu: Cpu, ins: Instruction): void {
  const count = (ins.fastB < 0 ? cpu.regBytes[8] : ins.fastB) & 0x1f;
  const regs = cpu.regs, a = ins.fastA << 1;
  // a 32-bit destination is written, so zero-extended, even by a count of 0
  if (count !== 0) regs[a] = shiftOrRotateValue(cpu, ins.fastOp, 4, regs[a] >>> 0, 0, count);
  regs[a + 1] = 0;
}

/** Every handler written for one form (the rest run a semantic function of the table as it is). */
export const SPECIALISED_HANDLERS: readonly FastHandler[] = [
  aluRegReg64, aluRegReg32, aluRegReg8, aluRegImm64, aluRegImm32, aluRegImm8, aluRegMem64, aluRegMem32, aluRegMem8,
  aluMemReg64, aluMemReg32, aluMemReg8, aluMemImm64, aluMemImm32, aluMemImm8,
  movRegReg64, movRegReg32, movRegReg8, movLoad64, movLoad32, movLoad8, movStore64, movStore32, movStore8,
  movRegImm64, movRegImm32, movMemImm, movzxRegReg, movzxLoad, lea64, lea32, push64, pop64, shiftReg64, shiftReg32,
  shiftDoubleReg64, shiftDoubleReg32, multiplyAccumulator64, multiplyAccumulator32, imulReg64, imulReg32,
];

// ---- SHLD/SHRD of registers ------------------------------------------------------------------------
// fastOp: DOUBLE_LEFT for SHLD, plus DOUBLE_BY_CL when the count is CL rather than the immediate;
// fastA the destination, fastB the source register.

const DOUBLE_LEFT = 1, DOUBLE_BY_CL = 2;

const DOUBLE_SHIFT_FLAGS = CF | OF | SF | ZF | PF | AF;

function shiftDoubleReg64(cpu: Cpu, ins: Instruction): void {
  const count = ((ins.fastOp & DOUBLE_BY_CL) !== 0 ? cpu.regBytes[8] : ins.imm) & 0x3f;
  if (count === 0) return;
  const regs = cpu.regs, a = ins.fastA << 1, b = ins.fastB << 1;
  const flags = shiftDouble((ins.fastOp & DOUBLE_LEFT) !== 0, 8, regs[a], regs[a + 1], regs[b], regs[b + 1], count, doubleResult);
  cpu.setFlags(flags, DOUBLE_SHIFT_FLAGS);
  regs[a] = doubleResult[0];
  regs[a + 1] = doubleResult[1];
}

function shiftDoubleReg32(cpu: Cpu, ins: Instruction): void {
  const count = ((ins.fastOp & DOUBLE_BY_CL) !== 0 ? cpu.regBytes[8] : ins.imm) & 0x1f;
  const regs = cpu.regs, a = ins.fastA << 1;
  if (count !== 0) {
    const flags = shiftDouble((ins.fastOp & DOUBLE_LEFT) !== 0, 4, regs[a] >>> 0, 0, regs[ins.fastB << 1] >>> 0, 0, count, doubleResult);
    cpu.setFlags(flags, DOUBLE_SHIFT_FLAGS);
    regs[a] = doubleResult[0];
  }
  regs[a + 1] = 0;
}

// ---- multiplication of registers --------------------------------------------------------------------

const MULTIPLY_FLAGS = CF | OF | SF | ZF | AF | PF;
const wide = new Int32Array(4);

/** One-operand MUL (fastOp 0) or IMUL (1) of rAX by register fastA: rDX:rAX. */
function multiplyAccumulator64(cpu: Cpu, ins: Instruction): void {
  const regs = cpu.regs, b = ins.fastA << 1;
  const flags = multiplyWide(ins.fastOp === 1, 8, regs[0], regs[1], regs[b], regs[b + 1], wide);
  regs[0] = wide[0]; regs[1] = wide[1];
  regs[4] = wide[2]; regs[5] = wide[3];
  cpu.setFlags(flags, MULTIPLY_FLAGS);
}

function multiplyAccumulator32(cpu: Cpu, ins: Instruction): void {
  const regs = cpu.regs;
  const flags = multiplyWide(ins.fastOp === 1, 4, regs[0], 0, regs[ins.fastA << 1] >>> 0, 0, wide);
  regs[0] = wide[0]; regs[1] = 0;
  regs[4] = wide[2]; regs[5] = 0;
  cpu.setFlags(flags, MULTIPLY_FLAGS);
}

/** IMUL reg, reg (fastOp 0) or IMUL reg, reg, imm (fastOp 1): fastA = fastB × (the immediate or fastA). */
function imulReg64(cpu: Cpu, ins: Instruction): void {
  const regs = cpu.regs, a = ins.fastA << 1, b = ins.fastB << 1;
  const lo = ins.fastOp === 1
    ? imulTruncated(cpu, 8, regs[b], regs[b + 1], ins.imm, ins.imm >> 31)
    : imulTruncated(cpu, 8, regs[a], regs[a + 1], regs[b], regs[b + 1]);
  regs[a] = lo;
  regs[a + 1] = cpu.hi;
}

function imulReg32(cpu: Cpu, ins: Instruction): void {
  const regs = cpu.regs, a = ins.fastA << 1, b = ins.fastB << 1;
  regs[a] = ins.fastOp === 1
    ? imulTruncated(cpu, 4, regs[b] >>> 0, 0, ins.imm >>> 0, 0)
    : imulTruncated(cpu, 4, regs[a] >>> 0, 0, regs[b] >>> 0, 0);
  regs[a + 1] = 0;
}

// ---- selection -------------------------------------------------------------------------------------

function withOperands(ins: Instruction, handler: FastHandler, a: number, b: number, op: number): FastHandler {
  ins.fastAddress = addressForm(ins);
  ins.fastA = a;
  ins.fastB = b;
  ins.fastOp = op;
  return handler;
}

/** FORM[row.id]: the row's operands in the SDM's notation: "Ev,Gv", "Zv,Iv", "Gv,M"... */
const FORM: readonly string[] = OPCODE_TABLE.map((row) => row.operands.map((operand) => operand.notation).join(","));

/**
 * Rows only the generic path runs whatever their ModRM: string instructions (MOVS and STOS take the
 * REP fast path there), and moffs and XLAT operands, whose address the generic path computes.
 */
const GENERIC_ONLY: Uint8Array = Uint8Array.from(OPCODE_TABLE, (row) =>
  row.operands.some((operand) => operand.method === M_X || operand.method === M_Y || operand.method === M_O || operand.method === M_XLAT) ? 1 : 0);

/**
 * The pre-decoded handler for `ins`, or null when only the generic path runs it. Sets the
 * instruction's fastA/fastB/fastOp/fastAddress for the handler it returns. `notAccessed` and
 * `inSemantics`: its memory operand is never accessed (LEA, NOPs) or addressed by the semantics.
 */
export function fastHandlerFor(ins: Instruction, notAccessed: boolean, inSemantics: boolean): FastHandler | null {
  if (ins.status !== DecodeStatus.Ok) return null;
  const row = ins.row;
  const semantic = SEMANTICS[row.id] as Semantic | undefined;
  if (semantic === undefined || GENERIC_ONLY[row.id] !== 0) return null;
  const size = ins.opSize;
  const form = FORM[row.id];
  const mnemonic = row.mnemonics[0];
  const memory = row.hasModrm && ins.mod !== 3;
  const hasRex = (ins.prefixes & P_REX) !== 0;
  const wide = size === 8 || size === 4;
  const op = ALU_OPS[mnemonic];
  if (op !== undefined && ins.addrSize !== 2) {
    switch (form) {
      case "Ev,Gv":
        if (size === 8) return withOperands(ins, memory ? aluMemReg64 : aluRegReg64, ins.rm, ins.reg, op);
        if (size === 4) return withOperands(ins, memory ? aluMemReg32 : aluRegReg32, ins.rm, ins.reg, op);
        break;
      case "Gv,Ev":
        if (size === 8) return withOperands(ins, memory ? aluRegMem64 : aluRegReg64, ins.reg, ins.rm, op);
        if (size === 4) return withOperands(ins, memory ? aluRegMem32 : aluRegReg32, ins.reg, ins.rm, op);
        break;
      case "Eb,Gb":
        return withOperands(ins, memory ? aluMemReg8 : aluRegReg8, byteRegister(ins.rm, hasRex), byteRegister(ins.reg, hasRex), op);
      case "Gb,Eb":
        return withOperands(ins, memory ? aluRegMem8 : aluRegReg8, byteRegister(ins.reg, hasRex), byteRegister(ins.rm, hasRex), op);
      case "Ev,Ibs": case "Ev,Iz":
        if (size === 8) return withOperands(ins, memory ? aluMemImm64 : aluRegImm64, ins.rm, 0, op);
        if (size === 4) return withOperands(ins, memory ? aluMemImm32 : aluRegImm32, ins.rm, 0, op);
        break;
      case "Eb,Ib":
        return withOperands(ins, memory ? aluMemImm8 : aluRegImm8, byteRegister(ins.rm, hasRex), 0, op);
    }
  }
  if (mnemonic === "mov" && ins.addrSize !== 2) {
    switch (form) {
      case "Ev,Gv":
        if (size === 8) return withOperands(ins, memory ? movStore64 : movRegReg64, ins.rm, ins.reg, 0);
        if (size === 4) return withOperands(ins, memory ? movStore32 : movRegReg32, ins.rm, ins.reg, 0);
        break;
      case "Gv,Ev":
        if (size === 8) return withOperands(ins, memory ? movLoad64 : movRegReg64, ins.reg, ins.rm, 0);
        if (size === 4) return withOperands(ins, memory ? movLoad32 : movRegReg32, ins.reg, ins.rm, 0);
        break;
      case "Eb,Gb":
        return withOperands(ins, memory ? movStore8 : movRegReg8, byteRegister(ins.rm, hasRex), byteRegister(ins.reg, hasRex), 0);
      case "Gb,Eb":
        return withOperands(ins, memory ? movLoad8 : movRegReg8, byteRegister(ins.reg, hasRex), byteRegister(ins.rm, hasRex), 0);
      case "Zv,Iv":
        if (size === 8) return withOperands(ins, movRegImm64, ins.rm, ins.immHi, 0);
        if (size === 4) return withOperands(ins, movRegImm32, ins.rm, 0, 0);
        break;
      case "Ev,Iz":
        if (!memory && size === 8) return withOperands(ins, movRegImm64, ins.rm, ins.imm >> 31, 0);
        if (!memory && size === 4) return withOperands(ins, movRegImm32, ins.rm, 0, 0);
        if (memory && wide) return withOperands(ins, movMemImm, 0, 0, size);
        break;
      case "Eb,Ib":
        if (memory) return withOperands(ins, movMemImm, 0, 0, 1);
        break;
    }
  }
  if (mnemonic === "movzx" && wide && ins.addrSize !== 2 && (form === "Gv,Eb" || form === "Gv,Ew")) {
    const sourceSize = form === "Gv,Eb" ? 1 : 2;
    if (memory) return withOperands(ins, movzxLoad, ins.reg, 0, sourceSize);
    return withOperands(ins, movzxRegReg, ins.reg, sourceSize === 1 ? byteRegister(ins.rm, hasRex) : ins.rm, sourceSize);
  }
  if (mnemonic === "lea" && form === "Gv,M" && ins.addrSize !== 2) {
    if (size === 8) return withOperands(ins, lea64, ins.reg, 0, 0);
    if (size === 4) return withOperands(ins, lea32, ins.reg, 0, 0);
  }
  if (ins.mode === 64 && size === 8 && form === "Zv") {
    if (mnemonic === "push") return withOperands(ins, push64, ins.rm, 0, 0);
    if (mnemonic === "pop") return withOperands(ins, pop64, ins.rm, 0, 0);
  }
  const shift = SHIFT_KINDS[mnemonic];
  if (shift !== undefined && !memory && (form === "Ev,Ib" || form === "Ev,1" || form === "Ev,CL")) {
    const count = form === "Ev,Ib" ? ins.imm & 0xff : form === "Ev,1" ? 1 : -1;
    if (size === 8) return withOperands(ins, shiftReg64, ins.rm, count, shift);
    if (size === 4) return withOperands(ins, shiftReg32, ins.rm, count, shift);
  }
  if ((mnemonic === "shld" || mnemonic === "shrd") && !memory && (form === "Ev,Gv,Ib" || form === "Ev,Gv,CL")) {
    const kind = (mnemonic === "shld" ? DOUBLE_LEFT : 0) | (form === "Ev,Gv,CL" ? DOUBLE_BY_CL : 0);
    if (size === 8) return withOperands(ins, shiftDoubleReg64, ins.rm, ins.reg, kind);
    if (size === 4) return withOperands(ins, shiftDoubleReg32, ins.rm, ins.reg, kind);
  }
  if ((mnemonic === "mul" || mnemonic === "imul") && !memory && form === "Ev") {
    if (size === 8) return withOperands(ins, multiplyAccumulator64, ins.rm, 0, mnemonic === "imul" ? 1 : 0);
    if (size === 4) return withOperands(ins, multiplyAccumulator32, ins.rm, 0, mnemonic === "imul" ? 1 : 0);
  }
  if (mnemonic === "imul" && !memory && (form === "Gv,Ev" || form === "Gv,Ev,Iz" || form === "Gv,Ev,Ibs")) {
    const immediate = form === "Gv,Ev" ? 0 : 1;
    if (size === 8) return withOperands(ins, imulReg64, ins.reg, ins.rm, immediate);
    if (size === 4) return withOperands(ins, imulReg32, ins.reg, ins.rm, immediate);
  }
  // Everything else whose semantics never read cpu.ea runs its semantic function as it is.
  if (!memory || notAccessed || inSemantics || !row.hasModrm) return semantic;
  return null;
}
