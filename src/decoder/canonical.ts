// The common form in which both decoders (ours and iced-x86, the oracle) describe one decoded
// instruction, so the differential tests can compare them field by field.

import { type CpuMode, type Instruction } from "./decode.js";
import { AC, AF, CF, DF, IF, OF, PF, SF, ZF } from "./flags.js";
import { flagsOf } from "./flags-of.js";
import { operandsOf, type Operand } from "./operands.js";

/** iced-x86 RflagsBits layout: OF=1 SF=2 ZF=4 AF=8 CF=0x10 PF=0x20 DF=0x40 IF=0x80 AC=0x100 */
export interface CanonFlags {
  read: number;
  /** flags left undefined (iced: rflagsUndefined) */
  undefined: number;
  /** every flag the instruction may change: written, cleared, set or undefined (iced: rflagsModified) */
  modified: number;
}

export type CanonOperand =
  /** register names are iced-x86's Register enum names in lower case: al, r8l, ax, eax, rax, xmm0, st0, mm0, cr0, dr7, es... */
  | { kind: "reg"; reg: string }
  /**
   * seg: the effective segment (iced's memorySegment: ds by default, ss for rbp/rsp/ebp/esp base, the override if any).
   * disp: the displacement as a 64-bit unsigned value; for RIP/EIP-relative operands base is "rip"/"eip" and disp is the
   * absolute target address. String instruction operands ([rsi], es:[rdi]) are base rsi/esi/rdi/edi with disp 0.
   */
  | { kind: "mem"; seg: string; base: string | null; index: string | null; scale: number; disp: bigint }
  /** value masked to `bits` (8, 16, 32, 64: the immediate's size after sign extension) */
  | { kind: "imm"; value: bigint; bits: number }
  /** near branch target, absolute, masked to the code size */
  | { kind: "branch"; target: bigint }
  | { kind: "far"; selector: number; offset: number };

export interface CanonInstruction {
  length: number;
  /** iced-x86 Mnemonic enum name in lower case ("add", "jne", "reservednop", "movsd"...); "invalid" when invalid */
  mnemonic: string;
  operands: CanonOperand[];
  flags: CanonFlags;
}


/** Architectural RFLAGS bits → iced-x86's RflagsBits layout. */
const ICED_FLAG_BITS: Array<[number, number]> = [
  [OF, 0x1], [SF, 0x2], [ZF, 0x4], [AF, 0x8], [CF, 0x10], [PF, 0x20], [DF, 0x40], [IF, 0x80], [AC, 0x100],
];

function toIcedFlags(flags: number): number {
  let result = 0;
  for (const [architectural, iced] of ICED_FLAG_BITS) if (flags & architectural) result |= iced;
  return result;
}

/** iced-x86 spells the low byte of r8..r15 "r8l".."r15l". */
function canonicalRegister(name: string): string {
  return /^r\d+b$/.test(name) ? name.slice(0, -1) + "l" : name;
}

function canonicalOperand(operand: Operand): CanonOperand {
  switch (operand.kind) {
    case "reg": return { kind: "reg", reg: canonicalRegister(operand.reg) };
    case "mem": return {
      kind: "mem", seg: operand.seg, base: operand.base && canonicalRegister(operand.base),
      index: operand.index && canonicalRegister(operand.index), scale: operand.scale, disp: operand.disp,
    };
    default: return operand;
  }
}

/** The canonical form of a decoded (status Ok) instruction at address `ip`. */
export function canonicalOf(ins: Instruction, ip: bigint, _mode: CpuMode): CanonInstruction {
  const flags = flagsOf(ins);
  return {
    length: ins.length,
    mnemonic: ins.mnemonic,
    operands: operandsOf(ins, ip).map(canonicalOperand),
    flags: {
      read: toIcedFlags(flags.read),
      undefined: toIcedFlags(flags.undefined),
      modified: toIcedFlags(flags.written | flags.undefined),
    },
  };
}
