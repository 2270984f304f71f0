// Templates for instructions the network path met on the shared-semantics path: BSWAP of 32- and
// 64-bit registers, MOVD/MOVQ between XMM and general registers, PUNPCKLQDQ xmm, xmm. For a table
// of values, every result (general registers and whole XMM registers) must be what the interpreter
// leaves, and the templates must be the code that ran.
import { describe } from "vitest";
import { ENABLE_SSE } from "../machine/support/long-mode.js";
import { STACK_TOP, assembleLongModeGuest } from "./support/asm-guest.js";
import { forEveryPair, itMatchesTheInterpreter } from "./support/engine-compare.js";

const OUT = 0x500000;
const VALUES = ["0x0", "0x0123456789abcdef", "0xfedcba9876543210", "0x80000000000000ff", "0x00000000ffffffff", "0x7f00ff00aa5500cc"];
// each step stores 16 bytes at rdi (rax and rbx, or xmm1)
const STEPS = [
  "mov rax, rcx\n  bswap rax\n  mov rbx, rcx\n  bswap ebx",
  "mov rbx, rcx\n  bswap rbx\n  bswap rbx\n  mov eax, ecx\n  bswap eax",
  "movq xmm1, rcx\n  movq rax, xmm1\n  movd ebx, xmm1",
  "movd xmm1, ecx\n  movq rax, xmm1\n  mov rbx, rdx\n  movd ebx, xmm1",
  "movq xmm1, rcx\n  movq xmm2, rdx\n  punpcklqdq xmm1, xmm2\n  movdqu [rdi], xmm1\n  movq rax, xmm1\n  mov rbx, rdx",
  "movq xmm1, rcx\n  pcmpeqd xmm3, xmm3\n  movq xmm3, rdx\n  punpcklqdq xmm1, xmm1\n  punpcklqdq xmm3, xmm1\n  movdqu [rdi], xmm3\n  movq rax, xmm3\n  movq rbx, xmm1",
];
const CASES = VALUES.length * VALUES.length * STEPS.length;

const GUEST = assembleLongModeGuest(`
  mov rsp, ${STACK_TOP}
${ENABLE_SSE}
  mov rdi, ${OUT}
${forEveryPair(VALUES, STEPS.map((step) => `
  mov rcx, [r8 + r9 * 8]
  mov rdx, [r8 + r10 * 8]
  mov rax, 0x1111111111111111
  mov rbx, 0x2222222222222222
  ${step}
  mov [rdi + 16], rax
  mov [rdi + 24], rbx
  add rdi, 32`).join(""))}`);

describe("BSWAP, MOVD/MOVQ to and from XMM, PUNPCKLQDQ in compiled code", () => {
  itMatchesTheInterpreter(GUEST, OUT, CASES * 32, `every result for ${CASES} cases`, [/&0xff0000\)\|\(/, /H\.sseCheck\(\);XM\[\d+\]=/],
    (offset) => `case ${Math.floor(offset / 32)}: ${STEPS[Math.floor(offset / 32) % STEPS.length]}`);
});
