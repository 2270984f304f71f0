// Templates for instructions the network path met on the shared-semantics path: BSWAP of 32- and
// 64-bit registers, MOVD/MOVQ between XMM and general registers, PUNPCKLQDQ xmm, xmm. For a table
// of values, every result (general registers and whole XMM registers) must be what the interpreter
// leaves, and the templates must be the code that ran.
import { describe, expect, it } from "vitest";
import { ENGINES, STACK_TOP, assembleLongModeGuest, guestMachine } from "./support/asm-guest.js";

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
  # SSE on: CR0.EM clear, CR0.MP set, CR4.OSFXSR and OSXMMEXCPT set
  mov rax, cr0
  and eax, ~4
  or eax, 2
  mov cr0, rax
  mov rax, cr4
  or eax, 0x600
  mov cr4, rax
  mov rdi, ${OUT}
  lea r8, [rip + values]
  xor r9d, r9d
outer:
  xor r10d, r10d
inner:
${STEPS.map((step) => `
  mov rcx, [r8 + r9 * 8]
  mov rdx, [r8 + r10 * 8]
  mov rax, 0x1111111111111111
  mov rbx, 0x2222222222222222
  ${step}
  mov [rdi + 16], rax
  mov [rdi + 24], rbx
  add rdi, 32`).join("")}
  inc r10
  cmp r10, ${VALUES.length}
  jne inner
  inc r9
  cmp r9, ${VALUES.length}
  jne outer
  mov al, 0
  out 0xf4, al
  hlt
values:
${VALUES.map((v) => `  .quad ${v}`).join("\n")}`);

function run(engine: number): { out: Uint8Array; stop: string; sources: string } {
  const { machine, units } = guestMachine(GUEST, ENGINES[engine]);
  const stop = machine.runSync({ maxInstructions: 5_000_000 });
  return { out: machine.memory.ram.slice(OUT, OUT + CASES * 32), stop: stop.kind === "exit" ? `exit ${stop.status}` : stop.kind, sources: units.map((unit) => unit.source).join("\n") };
}

describe("BSWAP, MOVD/MOVQ to and from XMM, PUNPCKLQDQ in compiled code", () => {
  const reference = run(0);
  it("the interpreter runs the guest to its end", () => {
    expect(reference.stop).toBe("exit 1");
  });
  for (let e = 1; e < ENGINES.length; e++) {
    it(`${ENGINES[e].name}: every result as under the interpreter for ${CASES} cases`, () => {
      const result = run(e);
      expect(result.stop).toBe("exit 1");
      if (!ENGINES[e].jit?.helperOnly) {
        expect(result.sources, "the BSWAP template").toMatch(/&0xff0000\)\|\(/);
        expect(result.sources, "the MOVQ/PUNPCKLQDQ templates").toMatch(/H\.sseCheck\(\);XM\[\d+\]=/);
      }
      const firstDifference = result.out.findIndex((byte, k) => byte !== reference.out[k]);
      expect(firstDifference, firstDifference < 0 ? "" : `case ${Math.floor(firstDifference / 32)}: ${STEPS[Math.floor(firstDifference / 32) % STEPS.length]}`).toBe(-1);
    });
  }
});
