// One-operand MUL and IMUL of 32 and 64 bits in compiled code (a template of their own, not the
// shared semantics): for pairs of values around the sign and width boundaries, with a register
// and a memory operand, rDX:rAX and RFLAGS must be what the interpreter leaves (the hardware
// oracle holds the interpreter to the host CPU for these rows).
import { describe } from "vitest";
import { STACK_TOP, assembleLongModeGuest } from "./support/asm-guest.js";
import { forEveryPair, itMatchesTheInterpreter } from "./support/engine-compare.js";

const OUT = 0x500000;
const SCRATCH = 0x4f0000;
const VALUES = [
  "0x0", "0x1", "0xffffffffffffffff", "0x7fffffffffffffff", "0x8000000000000000", "0x00000000ffffffff",
  "0x0000000080000000", "0x0123456789abcdef", "0xfedcba9876543210", "0x00000001fffffffe", "0xcccccccccccccccd", "0x000000000000000a",
];
const OPS = ["mul rbx", "imul rbx", "mul ebx", "imul ebx", "mul qword ptr [rsi]", "imul qword ptr [rsi]", "mul dword ptr [rsi]", "imul dword ptr [rsi]"];
const CASES = VALUES.length * VALUES.length * OPS.length;

// For every (rAX, operand) pair and operation: rAX, rDX and the flags after it, stored at rdi; a
// loop over the value table, so that the JIT compiles the body.
const GUEST = assembleLongModeGuest(`
  mov rsp, ${STACK_TOP}
  mov rdi, ${OUT}
  mov rsi, ${SCRATCH}
${forEveryPair(VALUES, OPS.map((op) => `
  mov rax, [r8 + r9 * 8]
  mov rbx, [r8 + r10 * 8]
  mov [rsi], rbx
  mov rdx, 0x5555555555555555
  push 0x8d5
  popfq
  ${op}
  pushfq
  pop rcx
  mov [rdi], rax
  mov [rdi + 8], rdx
  mov [rdi + 16], rcx
  add rdi, 24`).join(""))}`);

describe("one-operand MUL/IMUL (32/64-bit) in compiled code", () => {
  itMatchesTheInterpreter(GUEST, OUT, CASES * 24, `rAX, rDX and RFLAGS for ${CASES} cases`, [/H\.multiplyAccumulator\(/],
    (offset) => `case ${Math.floor(offset / 24)}: ${OPS[Math.floor(offset / 24) % OPS.length]}`);
});
