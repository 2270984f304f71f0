// Intel-syntax text in the style of `objdump -d -M intel`: lower-case mnemonics and registers,
// "DWORD PTR" size keywords, 0x-prefixed hex, rip-relative displacements as written in the code,
// and the prefixes that change an instruction's meaning. test/decoder/format.test.ts holds it to
// iced-x86's Intel formatter configured the same way.
import { BASE_RIP, DecodeStatus, P_LOCK, P_REP, P_REPNE, type Instruction } from "./decode.js";
import { A_D64, A_F64, A_LOCK, A_MNEMONIC_BY_ADDRESS_SIZE, A_REP, A_REPE } from "./opcode-rows.js";
import {
  M_A, M_E, M_FIXED_REG, M_G, M_I, M_J, M_M, M_MASKMOV, M_O, M_X, M_XLAT, M_Y, S_A, S_NONE, S_P, S_S, S_V, S_WR, S_Y, S_Z, isRmMethod, type OperandSpec,
} from "./operand-spec.js";
import { operandsOf, type Operand } from "./operands.js";
import { gprName } from "./registers.js";

type MemoryOperand = Extract<Operand, { kind: "mem" }>;

const SIZE_KEYWORDS: Record<number, string> = {
  1: "BYTE PTR ", 2: "WORD PTR ", 4: "DWORD PTR ", 6: "FWORD PTR ", 8: "QWORD PTR ", 10: "TBYTE PTR ", 16: "XMMWORD PTR ",
};

/** Mnemonics printed differently from their iced-x86 names. */
const PRINTED_MNEMONICS: Record<string, string> = { reservednop: "nop", retf: "ret far", sal: "shl", xlatb: "xlat" };

/** SSE compare predicates (imm8 0-7), printed as pseudo-ops: cmpltps xmm0,xmm1. */
const COMPARE_PREDICATES = ["eq", "lt", "le", "unord", "neq", "nlt", "nle", "ord"];
const SSE_COMPARES = new Set(["cmpps", "cmppd", "cmpss", "cmpsd"]);

const GPR32_PRINTED = new Set(["movmskps", "movmskpd", "pmovmskb", "pinsrw", "pextrw"]);

const CONDITIONAL_JUMP = /^j(?!mp|cxz|ecxz|rcxz)/;

export function formatIntel(ins: Instruction, ip: bigint): string {
  if (ins.status === DecodeStatus.Invalid || ins.status === DecodeStatus.Truncated) return "(bad)";
  if (ins.row.id < 0) return "(unsupported)";
  // Rows standing for a whole extension space (x87, VMX...) name it in parentheses and have no real operands.
  if (ins.row.mnemonics[0].startsWith("(")) return ins.row.mnemonics[0];
  const specs = ins.row.operands;
  const operands = operandsOf(ins, ip);
  let mnemonic = ins.mnemonic;
  const shown: string[] = [];
  let trailingSegment = "";
  for (let i = 0; i < operands.length; i++) {
    const spec = specs[i];
    // String instructions name their accumulator in the mnemonic (lodsb, stosq, scasd); MASKMOVDQU's [rDI] is implicit.
    if (spec.method === M_FIXED_REG && specs.some((s) => s.method === M_X || s.method === M_Y) && !isPortOperand(spec)) continue;
    if (spec.method === M_MASKMOV) {
      if (overrideShown(ins, 3)) trailingSegment = operands[i].kind === "mem" ? `,${(operands[i] as MemoryOperand).seg}` : "";
      continue;
    }
    shown.push(formatOperand(ins, operands[i], spec));
  }
  if (SSE_COMPARES.has(mnemonic) && ins.row.map !== 0 && (ins.imm & 0xff) < 8) {
    mnemonic = `cmp${COMPARE_PREDICATES[ins.imm & 0xff]}${mnemonic.slice(3)}`;
    shown.pop();
  }
  if (mnemonic === "nop" && ins.row.opcode === 0x90 && ins.opSize !== 4) {
    const accumulator = gprName(0, ins.opSize, false);
    mnemonic = "xchg";
    shown.push(accumulator, accumulator);
  }
  if ((specs[0]?.method === M_M && specs[0].size === S_P) || specs[0]?.method === M_A) mnemonic += " far";
  const printed = prefixText(ins, mnemonic) + (PRINTED_MNEMONICS[mnemonic] ?? mnemonic);
  return shown.length ? `${printed} ${shown.join(",")}${trailingSegment}` : printed;
}

const isPortOperand = (spec: OperandSpec) => spec.notation === "DX";

function prefixText(ins: Instruction, mnemonic: string): string {
  const attributes = ins.row.attributes;
  const prefixes = ins.prefixes;
  let text = "";
  text += sizePrefixText(ins, mnemonic);
  const hasRep = (prefixes & (P_REP | P_REPNE)) !== 0;
  if (CONDITIONAL_JUMP.test(mnemonic) && ins.row.operands[0]?.method === M_J) {
    if (ins.segment === 1) text += "hint-not-taken ";
    else if (ins.segment === 3) text += "hint-taken ";
  }
  if (hasRep && ins.mod !== 3 && isHleCandidate(ins, mnemonic)) {
    text += lastRepIsF2(ins) ? "xacquire " : "xrelease ";
  }
  if (prefixes & P_LOCK) text += "lock ";
  // CET: a DS prefix on an indirect near call/jmp is NOTRACK.
  if (ins.segment === 3 && (mnemonic === "call" || mnemonic === "jmp") && ins.row.operands[0]?.method === M_E) text += "notrack ";
  if (attributes & A_REPE) {
    if (hasRep) text += lastRepIsF2(ins) ? "repne " : "repe ";
  } else if (attributes & A_REP && hasRep) {
    text += lastRepIsF2(ins) ? "repne " : "rep ";
  } else if (hasRep && isNearBranch(ins, mnemonic)) {
    text += lastRepIsF2(ins) ? "bnd " : mnemonic === "ret" && ins.row.operands.length === 0 ? "rep " : "";
  }
  return text;
}

/** When F2 and F3 are both present, the last one is in effect; decode keeps it as the mandatory prefix. */
function lastRepIsF2(ins: Instruction): boolean {
  return ins.lastRepPrefix === 0xf2;
}

/**
 * HLE hints: F2/F3 on a locked read-modify-write (or XCHG, locked by itself) are XACQUIRE/XRELEASE;
 * F3 on a plain MOV store is XRELEASE.
 */
function isHleCandidate(ins: Instruction, mnemonic: string): boolean {
  if (ins.prefixes & P_LOCK || mnemonic === "xchg") return (ins.row.attributes & A_LOCK) !== 0;
  const opcode = ins.row.opcode;
  return ins.row.map === 0 && (opcode === 0x88 || opcode === 0x89 || opcode === 0xc6 || opcode === 0xc7) && !lastRepIsF2(ins);
}

function isNearBranch(ins: Instruction, mnemonic: string): boolean {
  const method = ins.row.operands[0]?.method;
  if (mnemonic === "ret") return true;
  if (mnemonic === "call") return method === M_J || method === M_E;
  if (mnemonic === "jmp") return (method === M_J && ins.row.opcode !== 0xeb) || method === M_E;
  return CONDITIONAL_JUMP.test(mnemonic) && method === M_J;
}

/**
 * "data16"/"data64" and "addr32"/"addr16" mark size prefixes that change an instruction whose
 * operands do not show the size (push fs, ret far, loop, mov al,[moffs]).
 */
function sizePrefixText(ins: Instruction, mnemonic: string): string {
  const row = ins.row;
  let text = "";
  const mnemonicShowsSize = row.mnemonics.length > 1 && !(row.attributes & A_MNEMONIC_BY_ADDRESS_SIZE);
  const sizeVisible = mnemonicShowsSize || row.operands.some(opSizeShows);
  const defaultOpSize = ins.mode === 64 && row.attributes & (A_D64 | A_F64) ? 8 : 4;
  if (!sizeVisible && ins.opSize !== defaultOpSize && opSizeMatters(ins, mnemonic)) text += `data${ins.opSize * 8} `;
  const defaultAddrSize = ins.mode === 64 ? 8 : 4;
  if (ins.addrSize !== defaultAddrSize && addressSizeHidden(ins, mnemonic)) text += `addr${ins.addrSize * 8} `;
  return text;
}

function opSizeShows(spec: OperandSpec): boolean {
  if (spec.method === M_J || spec.method === M_I || spec.method === M_A) return false;
  const size = spec.size;
  if (size === S_V || size === S_Z || size === S_Y || size === S_P || size === S_A) return true;
  return false;
}

/** Rows whose behaviour depends on the operand size even though no operand carries it. */
function opSizeMatters(ins: Instruction, mnemonic: string): boolean {
  switch (mnemonic) {
    case "push": case "pop": case "retf": case "ret": case "enter": case "leave": case "call": case "jmp": case "call far": case "jmp far":
      return true;
  }
  return /^j/.test(mnemonic) || /^loop/.test(mnemonic);
}

function addressSizeHidden(ins: Instruction, mnemonic: string): boolean {
  if (/^loop/.test(mnemonic)) return true;
  return ins.row.operands.some((spec) => spec.method === M_O || spec.method === M_MASKMOV);
}

function hex(value: bigint): string {
  return "0x" + value.toString(16);
}

function formatOperand(ins: Instruction, operand: Operand, spec: OperandSpec): string {
  switch (operand.kind) {
    case "reg":
      // LLDT, LTR, LMSW and MOV Sreg read a word: name the word register.
      if (spec.size === S_WR) return gprName(spec.method === M_G ? ins.reg : ins.rm, 2, false);
      // These use a doubleword of the general register whatever REX.W says.
      if (GPR32_PRINTED.has(ins.mnemonic) && spec.size === S_Y) return gprName(spec.method === M_G ? ins.reg : ins.rm, 4, false);
      return operand.reg;
    case "imm": return hex(operand.value);
    case "branch": return hex(operand.target);
    case "far": return `0x${operand.offset.toString(16)},0x${operand.selector.toString(16)}`;
    case "mem": return formatMemory(ins, operand, spec);
  }
}

function formatMemory(ins: Instruction, operand: MemoryOperand, spec: OperandSpec): string {
  const size = spec.size === S_NONE && spec.method === M_M ? "" : memorySizeKeyword(operand, spec);
  const segment = showsSegment(ins, operand, spec) ? `${operand.seg}:` : "";
  let address: string;
  if (operand.ripRelative) {
    address = `${operand.base}${signedHex(ins.base === BASE_RIP ? ins.disp : 0)}`;
  } else if (spec.method === M_XLAT) {
    address = operand.base!;
  } else {
    // 16-bit addressing has no scale: [bx+si].
    const scaled = operand.index && (ins.addrSize === 2 ? operand.index : `${operand.index}*${operand.scale}`);
    const parts = [operand.base, scaled].filter(Boolean).join("+");
    if (!parts) address = hex(operand.disp);
    else if (operand.disp === 0n && !hasDisplacementBytes(ins, spec)) address = parts;
    else address = parts + displacementText(operand.disp, ins.addrSize);
  }
  return `${size}${segment}[${address}]`;
}

function memorySizeKeyword(operand: MemoryOperand, spec: OperandSpec): string {
  // Descriptor-table operands print as FWORD in every mode.
  if (spec.size === S_S) return "FWORD PTR ";
  return SIZE_KEYWORDS[operand.size] ?? "";
}

function showsSegment(ins: Instruction, operand: MemoryOperand, spec: OperandSpec): boolean {
  // The ES:[rDI] of a string instruction is spelled out when the instruction shows another override.
  if (spec.method === M_Y) return overrideShown(ins, defaultSegment(ins, spec));
  if (!operand.segmentOverride || ins.row.mnemonics[0] === "lea") return false;
  return overrideShown(ins, defaultSegment(ins, spec));
}

/** The segment an operand uses without an override: SS for rSP/rBP-based addresses, else DS. */
function defaultSegment(ins: Instruction, spec: OperandSpec): number {
  if (!isRmMethod(spec.method)) return 3;
  return ins.base === 4 || ins.base === 5 ? 2 : 3;
}

/** An override that changes nothing is not printed; long mode ignores ES/CS/SS/DS overrides altogether. */
function overrideShown(ins: Instruction, defaultSegmentNumber: number): boolean {
  if (ins.segment < 0) return false;
  return ins.mode === 64 ? ins.segment >= 4 : ins.segment !== defaultSegmentNumber;
}

/** An encoded displacement of zero ([rbp+0x0]) is printed; implicit operands have none. */
function hasDisplacementBytes(ins: Instruction, spec: OperandSpec): boolean {
  return isRmMethod(spec.method) && (ins.mod === 1 || ins.mod === 2 || ins.base === -1);
}

function signedHex(value: number): string {
  return value < 0 ? `-0x${(-value).toString(16)}` : `+0x${value.toString(16)}`;
}

/** A displacement after a register: signed, as a two's-complement value of the address size. */
function displacementText(disp: bigint, addrSize: number): string {
  const signed = BigInt.asIntN(addrSize * 8, disp);
  return signed < 0n ? `-0x${(-signed).toString(16)}` : `+0x${signed.toString(16)}`;
}
