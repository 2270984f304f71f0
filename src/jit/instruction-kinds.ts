// How the JIT treats each row of the opcode table: translated inline, run inline through the
// interpreter's semantics, a block-ending control transfer, or left to the interpreter altogether
// (instructions that change the CPU mode, privilege, interrupt flag, descriptor tables or paging:
// compiled code assumes none of those change under it). RDTSC and RDTSCP run in compiled code,
// which brings the CPU's retired count up to date for them (the virtual clock is that count).
// IN and OUT run in compiled code too, through the semantics at the exact retired count; the unit
// leaves right after one when a device raised an interrupt or moved the batch's end (a deadline,
// a stop), so interrupts and batch ends fall where the interpreter has them. Check mode, which runs
// every unit twice, leaves them to the interpreter (a device must see each access once).
import { OPCODE_TABLE, A_UNSUPPORTED, type OpcodeRow } from "../decoder/opcode-rows.js";
import { M_A, M_C, M_D, M_FIXED_SEG, M_S, S_P } from "../decoder/operand-spec.js";
import type { Interpreter } from "../machine/interp/interpreter.js";

/** Runs in the interpreter, outside compiled code: ends the block before it. */
export const KIND_INTERPRETED = 0;
/** Translated, or run inline through the shared semantics; execution continues in the block. */
export const KIND_STRAIGHT = 1;
/** A control transfer: ends the block after it. */
export const KIND_BRANCH = 2;
/** Port I/O (IN, OUT): straight-line, run through the semantics, unless the engine interprets it. */
export const KIND_PORT_IO = 3;

const PORT_IO = new Set(["in", "out"]);

const INTERPRETED = new Set([
  "hlt", "insb", "insw", "insd", "outsb", "outsw", "outsd", "cli", "sti",
  "popf", "popfd", "popfq", "iret", "iretd", "iretq", "int", "int1", "int3", "into",
  "syscall", "sysret", "sysretq", "lgdt", "lidt", "lldt", "ltr", "lmsw", "invlpg", "invd", "wbinvd",
  "wrmsr", "rdmsr", "clts", "swapgs", "retf", "lds", "les", "lfs", "lgs", "lss",
  "ud0", "ud1", "ud2",
]);

const BRANCHES = new Set([
  "jmp", "call", "ret", "loop", "loope", "loopne", "jcxz", "jecxz", "jrcxz",
  "jo", "jno", "jb", "jae", "je", "jne", "jbe", "ja", "js", "jns", "jp", "jnp", "jl", "jge", "jle", "jg",
]);

function kindOf(row: OpcodeRow): number {
  if (row.attributes & A_UNSUPPORTED) return KIND_INTERPRETED;
  const mnemonic = row.mnemonics[0];
  if (INTERPRETED.has(mnemonic)) return KIND_INTERPRETED;
  for (const operand of row.operands) {
    const method = operand.method;
    // segment and system registers, far pointers
    if (method === M_S || method === M_FIXED_SEG || method === M_C || method === M_D || method === M_A) return KIND_INTERPRETED;
    if (operand.size === S_P) return KIND_INTERPRETED;
  }
  if (PORT_IO.has(mnemonic)) return KIND_PORT_IO;
  return BRANCHES.has(mnemonic) ? KIND_BRANCH : KIND_STRAIGHT;
}

/** INSTRUCTION_KIND[row.id] */
export const INSTRUCTION_KIND: Uint8Array = Uint8Array.from(OPCODE_TABLE, kindOf);

/**
 * After a port access a unit made: whether the unit must leave right after it, as the interpreter
 * would look at the machine there: a device raised an interrupt, or moved the batch's end (a
 * deadline it set, a stop).
 */
export function portAccessEndsUnit(interpreter: Interpreter, limit: { readonly batchEnd: number }, batchEndBefore: number): boolean {
  return limit.batchEnd !== batchEndBefore || (interpreter.interruptController?.hasPending() ?? false);
}
