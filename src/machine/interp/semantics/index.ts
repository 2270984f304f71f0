// The semantic table: every supported row of the decoder's opcode table gets its semantics here,
// looked up by mnemonic, with the few mnemonics that name two different instructions (MOVSD and
// CMPSD: string vs. SSE; MOV to/from control and debug registers) told apart by operand kinds.
import { OPCODE_TABLE, type OpcodeRow } from "../../../decoder/opcode-rows.js";
import { A_UNSUPPORTED } from "../../../decoder/opcode-rows.js";
import { M_C, M_D, M_X, M_Y } from "../../../decoder/operand-spec.js";
import { ARITHMETIC } from "./arithmetic.js";
import { BITS } from "./bits.js";
import { CONTROL } from "./control.js";
import { DATA } from "./data.js";
import { SHIFTS } from "./shift.js";
import { SSE } from "./sse.js";
import { STRINGS } from "./string.js";
import { SYSTEM, movControl, movDebug } from "./system.js";
import type { Semantic } from "./types.js";

const GENERAL = { ...ARITHMETIC, ...SHIFTS, ...BITS, ...DATA, ...CONTROL, ...SYSTEM };

function semanticOf(row: OpcodeRow): Semantic | undefined {
  const mnemonic = row.mnemonics[0];
  const methods = row.operands.map((operand) => operand.method);
  if (methods.includes(M_C)) return movControl;
  if (methods.includes(M_D)) return movDebug;
  if (methods.includes(M_X) || methods.includes(M_Y)) {
    return STRINGS[mnemonic] ?? STRINGS[row.mnemonics[1]] ?? GENERAL[mnemonic];
  }
  return GENERAL[mnemonic] ?? SSE[mnemonic];
}

/** SEMANTICS[row.id]: the semantics of each supported row (undefined for unsupported rows). */
export const SEMANTICS: ReadonlyArray<Semantic | undefined> = OPCODE_TABLE.map((row) =>
  row.attributes & A_UNSUPPORTED ? undefined : semanticOf(row),
);

/** Supported rows that have no semantics: must be empty (a test checks it). */
export function rowsWithoutSemantics(): OpcodeRow[] {
  return OPCODE_TABLE.filter((row, id) => !(row.attributes & A_UNSUPPORTED) && SEMANTICS[id] === undefined);
}
