// Shifts by CL in compiled code (a template of their own, not the shared semantics): for every count
// 0..70 (masked to 5 or 6 bits; 0 leaves the flags alone but still zero-extends a 32-bit register)
// and several values, SHL/SHR/SAR of 64- and 32-bit registers must leave the same results and
// RFLAGS as the interpreter.
import { describe } from "vitest";
import { STACK_TOP, assembleLongModeGuest } from "./support/asm-guest.js";
import { flagsProbe, itMatchesTheInterpreter } from "./support/engine-compare.js";

const OUT = 0x500000;
const VALUES = ["0x8000000000000001", "0x0123456789abcdef", "0xfedcba9876543210", "0x00000000ffffffff", "0x7fffffff80000000"];
const OPS = ["shl rax, cl", "shr rax, cl", "sar rax, cl", "shl eax, cl", "shr eax, cl", "sar eax, cl"];

// For each value and operation: counts 0..70, each result and the flags after it stored at rdi.
const GUEST = assembleLongModeGuest(`
  mov rsp, ${STACK_TOP}
  mov rdi, ${OUT}
${VALUES.map((value, v) => OPS.map((op, o) => `
  xor ecx, ecx
loop_${v}_${o}:
  mov rax, ${value}${flagsProbe(op)}
  inc ecx
  cmp ecx, 71
  jne loop_${v}_${o}`).join("")).join("")}
  mov al, 0
  out 0xf4, al
  hlt`);

describe("SHL/SHR/SAR by CL in compiled code", () => {
  itMatchesTheInterpreter(GUEST, OUT, VALUES.length * OPS.length * 71 * 16, "every result and RFLAGS", [], (offset) => `case ${Math.floor(offset / 16)}`);
});
