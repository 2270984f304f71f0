// One-operand MUL and IMUL of 32 and 64 bits in compiled code (a template of their own, not the
// shared semantics): for pairs of values around the sign and width boundaries, with a register
// and a memory operand, rDX:rAX and RFLAGS must be what the interpreter leaves (the hardware
// oracle holds the interpreter to the host CPU for these rows).
import { describe, expect, it } from "vitest";
import { ENGINES, STACK_TOP, assembleLongModeGuest, guestMachine } from "./support/asm-guest.js";

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
  lea r8, [rip + values]
  xor r9d, r9d
outer:
  xor r10d, r10d
inner:
${OPS.map((op) => `
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
  add rdi, 24`).join("")}
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

function run(engine: number): { out: Uint8Array; stop: string; templateUnits: number } {
  const { machine, units } = guestMachine(GUEST, ENGINES[engine]);
  const stop = machine.runSync({ maxInstructions: 5_000_000 });
  const templateUnits = units.filter((unit) => unit.source.includes("H.multiplyAccumulator(")).length;
  return { out: machine.memory.ram.slice(OUT, OUT + CASES * 24), stop: stop.kind === "exit" ? `exit ${stop.status}` : stop.kind, templateUnits };
}

describe("one-operand MUL/IMUL (32/64-bit) in compiled code", () => {
  const reference = run(0);
  it("the interpreter runs the guest to its end", () => {
    expect(reference.stop).toBe("exit 1");
  });
  for (let e = 1; e < ENGINES.length; e++) {
    it(`${ENGINES[e].name}: rAX, rDX and RFLAGS as under the interpreter for ${CASES} cases`, () => {
      const result = run(e);
      expect(result.stop).toBe("exit 1");
      // the template ran, unless this engine sends everything through the shared semantics
      if (!ENGINES[e].jit?.helperOnly) expect(result.templateUnits).toBeGreaterThan(0);
      const firstDifference = result.out.findIndex((byte, k) => byte !== reference.out[k]);
      expect(firstDifference, firstDifference < 0 ? "" : `case ${Math.floor(firstDifference / 24)}: ${OPS[Math.floor(firstDifference / 24) % OPS.length]}`).toBe(-1);
    });
  }
});
