// Two- and three-operand IMUL of 64 bits in compiled code: where nobody reads its flags, an inline
// template computes the low 64 bits (16-bit limbs for the 32x32 high word, no helper call); where
// the flags are read, the helper computes them too. For every pair of values around the sign and
// width boundaries, with a register, a memory and an immediate operand, the product (and RFLAGS
// where read) must be what the interpreter leaves.
import { describe } from "vitest";
import { STACK_TOP, assembleLongModeGuest } from "./support/asm-guest.js";
import { forEveryPair, itMatchesTheInterpreter } from "./support/engine-compare.js";

const OUT = 0x500000;
const SCRATCH = 0x4f0000;
const VALUES = [
  "0x0", "0x1", "0xffffffffffffffff", "0x7fffffffffffffff", "0x8000000000000000", "0x00000000ffffffff",
  "0x0000000080000000", "0x0123456789abcdef", "0xfedcba9876543210", "0x00000001fffffffe", "0xcccccccccccccccd",
  "0x000000000000ffff", "0x00000000ffff0001", "0x9e3779b97f4a7c15",
];
// flags dead: the XOR after the IMUL rewrites them all before anything reads them
const DEAD = ["imul rax, rbx", "imul rax, qword ptr [rsi]", "imul rax, rbx, 0x2d", "imul rax, rbx, -3", "imul rax, qword ptr [rsi], 0x7fffffff", "imul rbx, rbx"];
// flags read: RFLAGS stored after the IMUL
const LIVE = ["imul rax, rbx", "imul rax, rbx, -0x80000000"];
const CASES = VALUES.length * VALUES.length * (DEAD.length + LIVE.length);

const GUEST = assembleLongModeGuest(`
  mov rsp, ${STACK_TOP}
  mov rdi, ${OUT}
  mov rsi, ${SCRATCH}
${forEveryPair(VALUES, [
  ...DEAD.map((op) => `
  mov rax, [r8 + r9 * 8]
  mov rbx, [r8 + r10 * 8]
  mov [rsi], rbx
  ${op}
  xor ecx, ecx
  mov [rdi], rax
  mov [rdi + 8], rbx
  add rdi, 16`),
  ...LIVE.map((op) => `
  mov rax, [r8 + r9 * 8]
  mov rbx, [r8 + r10 * 8]
  ${op}
  pushfq
  pop rcx
  mov [rdi], rax
  mov [rdi + 8], rcx
  add rdi, 16`),
].join(""))}`);

describe("two- and three-operand IMUL (64-bit) in compiled code", () => {
  itMatchesTheInterpreter(
    GUEST,
    OUT,
    CASES * 16,
    `products (and RFLAGS where read) for ${CASES} cases`,
    // the inline form (the high word of the 32x32 product from 16-bit limbs) and the helper
    [/>>>16\)\*\(\w+>>>16\)/, /H\.multiply64\(/],
    (offset) => {
      const record = Math.floor(offset / 16);
      const ops = [...DEAD, ...LIVE];
      const pair = Math.floor(record / ops.length);
      return `${ops[record % ops.length]}, values ${VALUES[Math.floor(pair / VALUES.length)]} and ${VALUES[pair % VALUES.length]}`;
    },
  );
});
