// Compiles the textual rows of opcode-table.ts into OpcodeRow records and the decoder's dispatch
// structure: for every (opcode map, opcode byte) the candidate rows, most specific first.
import { parseFlagLetters } from "./flags.js";
import { OPCODE_ROWS } from "./opcode-table.js";
import {
  M_C, M_D, M_M, M_N, M_R, M_U, isRmMethod, parseOperandSpec, usesModrm, type OperandSpec,
} from "./operand-spec.js";

export const MAP_PRIMARY = 0;
export const MAP_0F = 1;
export const MAP_0F38 = 2;
export const MAP_0F3A = 3;

/** Mandatory-prefix classes; a row with PREFIX_ANY ignores them. */
export const PREFIX_ANY = -1;
export const PREFIX_NONE = 0;
export const PREFIX_66 = 1;
export const PREFIX_F3 = 2;
export const PREFIX_F2 = 3;

export const MOD_ANY = -1;
export const MOD_MEM = 0;
export const MOD_REG = 1;

// Row attribute bits.
export const A_LOCK = 1 << 0;
export const A_D64 = 1 << 1;
export const A_F64 = 1 << 2;
export const A_I64 = 1 << 3;
export const A_O64 = 1 << 4;
export const A_REP = 1 << 5;
export const A_REPE = 1 << 6;
export const A_ANYMOD = 1 << 7;
export const A_UNSUPPORTED = 1 << 8;
export const A_MNEMONIC_BY_ADDRESS_SIZE = 1 << 9;

const ATTRIBUTE_WORDS: Record<string, number> = {
  lock: A_LOCK, d64: A_D64, f64: A_F64, i64: A_I64, o64: A_O64, rep: A_REP, repe: A_REPE,
  anymod: A_ANYMOD, unsup: A_UNSUPPORTED, asz: A_MNEMONIC_BY_ADDRESS_SIZE,
};

export interface OpcodeRow {
  /** index in OPCODE_TABLE */
  readonly id: number;
  /** the row as written in opcode-table.ts */
  readonly source: string;
  readonly map: number;
  readonly opcode: number;
  /** the register is in the opcode's low three bits (50+r) */
  readonly plusRegister: boolean;
  readonly prefix: number;
  /** a mandatory prefix under which the row does not exist ("!F3"), or -2 */
  readonly excludedPrefix: number;
  readonly modrmReg: number;
  readonly mod: number;
  readonly modrmRm: number;
  readonly rexW: number;
  readonly rexB: number;
  readonly hasModrm: boolean;
  /** one mnemonic, or three chosen by operand (or address) size 16/32/64 */
  readonly mnemonics: readonly string[];
  readonly operands: readonly OperandSpec[];
  readonly attributes: number;
  readonly flagsRead: number;
  readonly flagsWritten: number;
  readonly flagsUndefined: number;
  /** which ModRM.reg register file must be checked for reserved numbers: 0 none, 1 control, 2 debug */
  readonly registerCheck: number;
}

const MANDATORY_PREFIXES: Record<string, number> = { NP: PREFIX_NONE, "66": PREFIX_66, F3: PREFIX_F3, F2: PREFIX_F2 };

function parseRow(source: string, id: number): OpcodeRow {
  const [encoding, mnemonicText, operandText, attributeText = ""] = source.split("|").map((part) => part.trim());
  if (mnemonicText === undefined || operandText === undefined) throw new Error(`opcode row '${source}': expected 'ENCODING | MNEMONIC | OPERANDS | ATTRIBUTES'`);
  let map = MAP_PRIMARY, opcode = -1, plusRegister = false, prefix = PREFIX_ANY, excludedPrefix = -2;
  let modrmReg = -1, mod = MOD_ANY, modrmRm = -1, rexW = -1, rexB = -1, hasModrm = false;
  const tokens = encoding.split(/\s+/);
  tokens.forEach((token, index) => {
    if (index === 0 && tokens.length > 1 && MANDATORY_PREFIXES[token] !== undefined) prefix = MANDATORY_PREFIXES[token];
    else if (opcode < 0 && token === "0F" && map === MAP_PRIMARY) map = MAP_0F;
    else if (opcode < 0 && map === MAP_0F && token === "38") map = MAP_0F38;
    else if (opcode < 0 && map === MAP_0F && token === "3A") map = MAP_0F3A;
    else if (opcode < 0 && /^[0-9A-F]{2}(\+r)?$/.test(token)) {
      opcode = parseInt(token.slice(0, 2), 16);
      plusRegister = token.endsWith("+r");
    } else if (token === "/r") hasModrm = true;
    else if (/^\/[0-7]$/.test(token)) { hasModrm = true; modrmReg = Number(token[1]); }
    else if (token === "mem") mod = MOD_MEM;
    else if (token === "reg") mod = MOD_REG;
    else if (/^rm[0-7]$/.test(token)) { mod = MOD_REG; modrmRm = Number(token[2]); }
    else if (token === "W0" || token === "W1") rexW = Number(token[1]);
    else if (token === "B0") rexB = 0;
    else if (token[0] === "!" && MANDATORY_PREFIXES[token.slice(1)] !== undefined) excludedPrefix = MANDATORY_PREFIXES[token.slice(1)];
    else throw new Error(`opcode row '${source}': unexpected encoding token '${token}'`);
  });
  if (opcode < 0) throw new Error(`opcode row '${source}': no opcode byte`);
  const operands = operandText === "" ? [] : operandText.split(",").map(parseOperandSpec);
  if (operands.some((operand) => usesModrm(operand.method))) hasModrm = true;
  let attributes = 0, flagsRead = 0, flagsWritten = 0, flagsUndefined = 0;
  for (const word of attributeText.split(/\s+/).filter(Boolean)) {
    if (word.startsWith("r:")) flagsRead = parseFlagLetters(word.slice(2));
    else if (word.startsWith("w:")) flagsWritten = parseFlagLetters(word.slice(2));
    else if (word.startsWith("u:")) flagsUndefined = parseFlagLetters(word.slice(2));
    else if (ATTRIBUTE_WORDS[word] !== undefined) attributes |= ATTRIBUTE_WORDS[word];
    else throw new Error(`opcode row '${source}': unknown attribute '${word}'`);
  }
  // Memory-only and register-only operand kinds restrict ModRM.mod.
  if (!(attributes & A_ANYMOD)) {
    for (const operand of operands) {
      if (!isRmMethod(operand.method)) continue;
      if (operand.method === M_M && mod === MOD_ANY) mod = MOD_MEM;
      if ((operand.method === M_R || operand.method === M_U || operand.method === M_N) && mod === MOD_ANY) mod = MOD_REG;
    }
  }
  const mnemonics = mnemonicText.split("/");
  return {
    id, source, map, opcode, plusRegister, prefix, excludedPrefix, modrmReg, mod, modrmRm, rexW, rexB, hasModrm,
    mnemonics, operands, attributes, flagsRead, flagsWritten, flagsUndefined,
    registerCheck: operands.some((o) => o.method === M_C) ? 1 : operands.some((o) => o.method === M_D) ? 2 : 0,
  };
}

function specificity(row: OpcodeRow): number {
  return (row.prefix !== PREFIX_ANY ? 16 : 0) + (row.modrmRm >= 0 ? 8 : 0) + (row.modrmReg >= 0 ? 4 : 0)
    + (row.mod !== MOD_ANY ? 2 : 0) + (row.rexW >= 0 ? 1 : 0) + (row.rexB >= 0 ? 1 : 0);
}

export const OPCODE_TABLE: readonly OpcodeRow[] = OPCODE_ROWS.map(parseRow);

/** candidates[map * 256 + opcode]: the rows that may match, most specific first. */
export const CANDIDATES: ReadonlyArray<readonly OpcodeRow[] | undefined> = (() => {
  const table: OpcodeRow[][] = [];
  for (const row of OPCODE_TABLE) {
    const count = row.plusRegister ? 8 : 1;
    for (let offset = 0; offset < count; offset++) (table[row.map * 256 + row.opcode + offset] ??= []).push(row);
  }
  for (const [key, list] of table.entries()) {
    if (!list) continue;
    list.sort((a, b) => specificity(b) - specificity(a));
    if (list.some((row) => row.hasModrm !== list[0].hasModrm)) throw new Error(`opcode table: rows of opcode ${key} disagree about ModRM`);
  }
  return table;
})();

/** The placeholder row of an instruction decoded for its length only (VEX, EVEX, XOP, 3DNow!, unknown 0F38/0F3A). */
export const OPAQUE_ROW: OpcodeRow = {
  id: -1, source: "(opaque)", map: MAP_PRIMARY, opcode: 0, plusRegister: false, prefix: PREFIX_ANY, excludedPrefix: -2, modrmReg: -1,
  mod: MOD_ANY, modrmRm: -1, rexW: -1, rexB: -1, hasModrm: false, mnemonics: ["(unsupported)"], operands: [],
  attributes: A_UNSUPPORTED, flagsRead: 0, flagsWritten: 0, flagsUndefined: 0, registerCheck: 0,
};
