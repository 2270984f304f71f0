// Loop cases, for the JIT's loop regions: a generated sequence case whose code is run several times,
// `seq ; loop seq` with RCX = the number of passes. The oracle's own cases have no backward branch
// other than LOOP to itself (one block), so without these no region of two or more blocks is ever
// compiled. Sequences end their forward branches at the end of the code, which becomes the LOOP:
// a taken branch skips the rest of that pass. Each pass starts with the flags the previous one left.
//
// Accepted only where the comparison stays exact: a sequence (no undefined results), without
// anything that reads RCX (CL-count shifts: their flag masks depend on the count, and LOOP changes
// it) or moves RSP (PUSHF/POPF would walk the stack a slot per pass), and where no instruction can
// read a flag a previous pass left undefined. The flag masks become the union over all passes.

import { decode, DecodeStatus, type Instruction } from "../../src/decoder/index.js";
import { instructionFlags, type OracleCase } from "./generate.js";
import { RCX, cloneState } from "./layout.js";

const LOOP_OPCODE = 0xe2;
/** Passes: 2..MAX_PASSES, from the case index. */
const MAX_PASSES = 24;

function readsRcxOrMovesRsp(ins: Instruction): boolean {
  const name = ins.row.mnemonics[0];
  if (name === "pushf" || name === "popf" || name === "push" || name === "pop") return true;
  return ins.row.operands.some((o) => o.notation === "CL");
}

/** The loop version of sequence case `c`, or null when it does not qualify. */
export function loopCaseOf(c: OracleCase): OracleCase | null {
  if (c.kind !== "sequence" || c.masks.length > 0) return null;
  const decoded: Instruction[] = [];
  for (const ins of c.instructions) {
    const d = decode(c.code, ins.offset, 64);
    if (d.status !== DecodeStatus.Ok || readsRcxOrMovesRsp(d)) return null;
    decoded.push(d);
  }
  const loopOffset = c.code.length;
  const displacement = -(loopOffset + 2);
  if (displacement < -128) return null;
  const passes = 2 + (c.index % (MAX_PASSES - 1));

  // Flags undefined at each pass's entry (the previous pass's end), iterated to a fixpoint.
  const undefinedBefore = new Array<number>(decoded.length).fill(0);
  let entry = 0, atEndUnion = 0;
  for (let pass = 0; pass < passes; pass++) {
    let flags = entry, atEnd = 0;
    for (let i = 0; i < decoded.length; i++) {
      const effect = instructionFlags(decoded[i], 0);
      if (effect.read & flags) return null;
      undefinedBefore[i] |= flags;
      flags = (flags & ~effect.written) | effect.undefined;
      if (c.instructions[i].branch) atEnd |= flags;
    }
    atEnd |= flags;
    atEndUnion |= atEnd;
    if (pass > 0 && atEnd === entry) break; // the same from here on
    entry = atEnd;
  }

  const code = new Uint8Array(loopOffset + 2);
  code.set(c.code);
  code[loopOffset] = LOOP_OPCODE;
  code[loopOffset + 1] = displacement & 0xff;
  const state = cloneState(c.state);
  state.gpr[RCX] = BigInt(passes);
  const loopRow = decode(code, loopOffset, 64).row;
  return {
    ...c,
    code,
    state,
    instructions: [
      ...c.instructions.map((ins, i) => ({ ...ins, undefinedBefore: undefinedBefore[i] })),
      { offset: loopOffset, length: 2, row: loopRow, form: "loop Jbs", undefinedBefore: atEndUnion, branch: true, filler: false },
    ],
    undefinedAtEnd: atEndUnion,
    group: `loop: ${c.group.replace(/^sequence: /, "")}`,
  };
}
