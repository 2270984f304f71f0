// Parsing objdump -d style listings (binutils' and ours) into instructions, and the normalization
// that lets our mnemonics be compared with objdump's.

export interface ListedInstruction {
  address: bigint;
  /** lowercase hex, space separated, continuation lines included */
  bytes: string;
  /** the text after the bytes column ("" never: objdump always prints something) */
  text: string;
  /** the listing line, for messages */
  line: string;
}

const INSTRUCTION_LINE = /^ *([0-9a-f]+):\t([0-9a-f]{2}(?: [0-9a-f]{2})*) *(?:\t(.*))?$/;

/** Instruction lines of an objdump -d listing; continuation lines are merged into their instruction. */
export function parseListing(listing: string): ListedInstruction[] {
  const instructions: ListedInstruction[] = [];
  for (const line of listing.split("\n")) {
    const match = INSTRUCTION_LINE.exec(line);
    if (!match) continue;
    const [, address, bytes, text] = match;
    if (text === undefined) {
      const previous = instructions[instructions.length - 1];
      if (!previous) throw new Error(`continuation line before any instruction: ${line}`);
      previous.bytes += " " + bytes!;
      continue;
    }
    instructions.push({ address: BigInt("0x" + address), bytes: bytes!, text: text.trim(), line });
  }
  return instructions;
}

/**
 * Words objdump (and possibly our formatter) prints before the mnemonic that are prefixes, not the
 * operation: dropped from the front of both texts before comparing.
 *  - segment override / branch hint bytes shown as words: cs ds es ss fs gs
 *  - operand/address size prefixes objdump shows when they change nothing: data16 data32 addr16 addr32
 *  - REX bytes that change nothing: rex, rex.W, rex.WRXB...
 *  - CET/MPX/TSX hints: notrack bnd xacquire xrelease
 *  - lock and the rep family: lock rep repz repe repnz repne
 *  - encoding pseudo-prefixes: {vex} {vex3} {evex}
 */
export const PREFIX_WORDS: RegExp =
  /^(?:cs|ds|es|ss|fs|gs|data16|data32|addr16|addr32|rex(?:\.[WRXB]+)?|notrack|bnd|xacquire|xrelease|lock|rep|repz|repe|repnz|repne|\{vex3?\}|\{evex\})$/;

/** Mnemonic spellings that mean the same operation: objdump's alias -> the name we compare. */
export const MNEMONIC_ALIASES: Record<string, string> = {
  movabs: "mov", // objdump's name for mov with a 64-bit immediate or moffs
  pushfq: "pushf", // objdump -M intel prints pushf/popf/iret(d/q) for the 64-bit forms inconsistently
  popfq: "popf",
  pushfd: "pushf",
  popfd: "popf",
  iretq: "iret",
  iretd: "iret",
  retq: "ret",
  retn: "ret",
  jmpq: "jmp",
  callq: "call",
  sal: "shl", // same opcode group slot /4 (/6 is the undocumented alias)
  xlatb: "xlat",
  cwtl: "cwde", // AT&T names, in case a formatter uses them
  cltq: "cdqe",
  cqto: "cqo",
  cltd: "cdq",
  fwait: "wait",
};

/** Condition-code spellings: every alias maps to one canonical suffix (for j*, set*, cmov*). */
export const CONDITION_ALIASES: Record<string, string> = {
  z: "e", nz: "ne", c: "b", nae: "b", nc: "ae", nb: "ae", na: "be", nbe: "a",
  pe: "p", po: "np", nge: "l", nl: "ge", ng: "le", nle: "g",
};

/**
 * String instructions whose operand-size suffix (b/w/d/q) objdump omits in Intel syntax when it prints
 * the operands ("rep stos QWORD PTR es:[rdi],rax" vs "rep stosq"). Not applied when the text names an
 * xmm register: that is SSE movsd/cmpsd.
 */
const STRING_OPS = /^(movs|stos|lods|scas|cmps|ins|outs)[bwdq]$/;

export function normalizeMnemonic(text: string): string {
  const words = text.trim().split(/\s+/);
  while (words.length > 1 && PREFIX_WORDS.test(words[0]!)) words.shift();
  let mnemonic = (words[0] ?? "").toLowerCase();
  mnemonic = MNEMONIC_ALIASES[mnemonic] ?? mnemonic;
  const stringOp = STRING_OPS.exec(mnemonic);
  if (stringOp && !/xmm/.test(text)) mnemonic = stringOp[1]!; // SSE movsd/cmpsd keep their name
  const condition = /^(j|set|cmov)(n?[a-z]{1,3})$/.exec(mnemonic);
  if (condition) {
    const [, family, code] = condition;
    const canonical = CONDITION_ALIASES[code!];
    if (canonical) mnemonic = family! + canonical;
  }
  return mnemonic;
}
