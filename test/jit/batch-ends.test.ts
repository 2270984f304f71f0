// Where a batch ends (docs/machine.md, "The run loop"): with the virtual clock exactly, so the
// instructions of a block that would cross the end run in the interpreter; with the realtime clock
// a unit may finish its block past the end (BatchLimit.batchSlack), so a hot loop leaves nothing to
// the interpreter after warm-up. Either way the guest computes the interpreter's results with the
// interpreter's instruction count. The loop body is one 40-instruction block, so a batch end left
// to the interpreter would cost it about 20 instructions every 4096.
import { describe, expect, it } from "vitest";
import { ENGINES, RESULTS, STACK_TOP, assembleLongModeGuest, generalRegisters, guestMachine } from "./support/asm-guest.js";

const PASSES = 50_000;
const BODY = Array.from({ length: 9 }, (_, k) => `
  add rax, rcx
  xor rbx, rax
  rol rbx, ${k + 1}
  lea rdx, [rbx + rax*2 + ${k}]`).join("");
const GUEST = assembleLongModeGuest(`
  mov rsp, ${STACK_TOP}
  mov ecx, ${PASSES}
  xor eax, eax
  mov rbx, 0x9e3779b97f4a7c15
top:${BODY}
  dec ecx
  jnz top
  mov [${RESULTS}], rax
  mov [${RESULTS + 8}], rbx
  mov al, 0
  out 0xf4, al
  hlt`);

function run(engine: number, clock: "virtual" | "realtime") {
  const { machine } = guestMachine(GUEST, ENGINES[engine], clock);
  const stop = machine.runSync();
  return {
    stop: stop.kind === "exit" ? `exit ${stop.status}` : stop.kind,
    retired: machine.cpu.retired,
    registers: generalRegisters(machine),
    interpreterSteps: machine.jit?.stats().interpreterSteps ?? 0,
  };
}

describe("batch ends under the JIT", () => {
  const reference = run(0, "virtual");

  it("the interpreter runs the loop to its end", () => {
    expect(reference.stop).toBe("exit 1");
    expect(reference.retired).toBeGreaterThan(PASSES * (9 * 4 + 2));
  });

  for (const clock of ["realtime", "virtual"] as const) {
    it(`${clock} clock: the interpreter's registers and instruction count`, () => {
      const outcome = run(1, clock);
      expect(outcome.stop).toBe("exit 1");
      expect(outcome.retired).toBe(reference.retired);
      expect(outcome.registers).toEqual(reference.registers);
    });
  }

  it("realtime clock: after warm-up no block is left to the interpreter at a batch end", () => {
    const batches = Math.ceil(reference.retired / 4096);
    const outcome = run(1, "realtime");
    // warm-up: the loop body twice (threshold 2) and the code around it
    expect(outcome.interpreterSteps).toBeLessThan(3 * 40 + 20);
    // what exact batch ends would have cost: the virtual clock's fewer, longer batches still show it
    const virtual = run(1, "virtual");
    expect(virtual.interpreterSteps).toBeGreaterThan(outcome.interpreterSteps);
    expect(batches).toBeGreaterThan(400);
  });
});
