// Shifts by CL in compiled code (a template of their own, not the shared semantics): for every count
// 0..70 (masked to 5 or 6 bits; 0 leaves the flags alone but still zero-extends a 32-bit register)
// and several values, SHL/SHR/SAR of 64- and 32-bit registers must leave the same results and
// RFLAGS as the interpreter.
import { describe, expect, it } from "vitest";
import { ENGINES, STACK_TOP, assembleLongModeGuest, guestMachine } from "./support/asm-guest.js";

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
  mov rax, ${value}
  # a known flags state before the shift: a count of 0 must keep it
  mov rdx, rcx
  and edx, 0xd5
  push rdx
  popfq
  ${op}
  pushfq
  pop rdx
  mov [rdi], rax
  mov [rdi + 8], rdx
  add rdi, 16
  inc ecx
  cmp ecx, 71
  jne loop_${v}_${o}`).join("")).join("")}
  mov al, 0
  out 0xf4, al
  hlt`);

function run(engine: number): { out: Uint8Array; stop: string } {
  const { machine } = guestMachine(GUEST, ENGINES[engine]);
  const stop = machine.runSync({ maxInstructions: 2_000_000 });
  return { out: machine.memory.ram.slice(OUT, OUT + VALUES.length * OPS.length * 71 * 16), stop: stop.kind === "exit" ? `exit ${stop.status}` : stop.kind };
}

describe("SHL/SHR/SAR by CL in compiled code", () => {
  const reference = run(0);
  it("the interpreter runs the guest to its end", () => {
    expect(reference.stop).toBe("exit 1");
  });
  for (let e = 1; e < ENGINES.length; e++) {
    it(`${ENGINES[e].name}: every result and RFLAGS as under the interpreter`, () => {
      const result = run(e);
      expect(result.stop).toBe("exit 1");
      const firstDifference = result.out.findIndex((byte, k) => byte !== reference.out[k]);
      expect(firstDifference, firstDifference < 0 ? "" : `case ${Math.floor(firstDifference / 16)}`).toBe(-1);
    });
  }
});
