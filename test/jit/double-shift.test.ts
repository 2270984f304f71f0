// SHLD/SHRD of 32- and 64-bit registers in compiled code (a template calling the interpreter's
// shiftDouble, not the generic path): for every count 0..70 in CL (masked to 5 or 6 bits; 0 leaves
// the flags alone but still zero-extends a 32-bit register), immediates 0, 1, 13, 31, 32, 63, and
// several value pairs, results and RFLAGS must be what the interpreter leaves.
import { describe } from "vitest";
import { STACK_TOP, assembleLongModeGuest } from "./support/asm-guest.js";
import { flagsProbe, itMatchesTheInterpreter } from "./support/engine-compare.js";

const OUT = 0x500000;
const PAIRS = [["0x8000000000000001", "0x0123456789abcdef"], ["0xfedcba9876543210", "0xffffffffffffffff"], ["0x00000000ffffffff", "0x7fffffff80000000"]];
const BY_CL = ["shld rax, rbx, cl", "shrd rax, rbx, cl", "shld eax, ebx, cl", "shrd eax, ebx, cl"];
const BY_IMM = [0, 1, 13, 31, 32, 63].flatMap((n) => [`shld rax, rbx, ${n}`, `shrd rax, rbx, ${n}`, `shld eax, ebx, ${n}`, `shrd eax, ebx, ${n}`]);

const step = (value: string, other: string, op: string) => `
  mov rax, ${value}
  mov rbx, ${other}${flagsProbe(op)}`;

const GUEST = assembleLongModeGuest(`
  mov rsp, ${STACK_TOP}
  mov rdi, ${OUT}
${PAIRS.map(([value, other], p) => BY_CL.map((op, o) => `
  xor ecx, ecx
loop_${p}_${o}:${step(value, other, op)}
  inc ecx
  cmp ecx, 71
  jne loop_${p}_${o}`).join("")).join("")}
  # the immediate forms, in a loop of 3 so that they are compiled
  xor ecx, ecx
imm_loop:
${PAIRS.map(([value, other]) => BY_IMM.map((op) => step(value, other, op)).join("")).join("")}
  inc ecx
  cmp ecx, 3
  jne imm_loop
  mov al, 0
  out 0xf4, al
  hlt`);
const BYTES = (PAIRS.length * BY_CL.length * 71 + 3 * PAIRS.length * BY_IMM.length) * 16;

describe("SHLD/SHRD in compiled code", () => {
  itMatchesTheInterpreter(GUEST, OUT, BYTES, "every result and RFLAGS", [/H\.shiftDouble\(/], (offset) => `record ${Math.floor(offset / 16)}`);
});
