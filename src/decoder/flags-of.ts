// The flags one decoded instruction reads, writes and leaves undefined. Mostly the row's static
// sets; shifts and rotates by an immediate count refine them by the count, as the SDM specifies:
// a masked count of 0 touches no flags, a count of 1 defines OF.
import { type Instruction } from "./decode.js";
import { OF } from "./flags.js";
import { M_I } from "./operand-spec.js";

export interface InstructionFlags {
  read: number;
  written: number;
  undefined: number;
}

const SHIFT_MNEMONICS = new Set(["rol", "ror", "rcl", "rcr", "shl", "shr", "sal", "sar", "shld", "shrd"]);

export function flagsOf(ins: Instruction): InstructionFlags {
  const row = ins.row;
  let read = row.flagsRead, written = row.flagsWritten, undefinedFlags = row.flagsUndefined;
  const countOperand = row.operands[row.operands.length - 1];
  if (countOperand?.method === M_I && SHIFT_MNEMONICS.has(row.mnemonics[0])) {
    const operandBytes = row.operands[0].size === 1 ? 1 : ins.opSize;
    let count = ins.imm & (operandBytes === 8 ? 0x3f : 0x1f);
    // RCL/RCR rotate through CF: 9 and 17 positions for byte and word operands.
    if (row.mnemonics[0] === "rcl" || row.mnemonics[0] === "rcr") count = operandBytes === 1 ? count % 9 : operandBytes === 2 ? count % 17 : count;
    if (count === 0) return { read: 0, written: 0, undefined: 0 };
    if (count === 1) {
      written |= OF;
      undefinedFlags &= ~OF;
    }
  }
  // A 16-bit FLAGS image (PUSHF/POPF/IRET with a 16-bit operand size) cannot reach bits above 15.
  if (row.mnemonics.length > 1 && ins.opSize === 2) {
    read &= 0xffff;
    written &= 0xffff;
    undefinedFlags &= 0xffff;
  }
  return { read, written, undefined: undefinedFlags };
}
