// Instructions that cross a page boundary: units end before them (their bytes come from two pages
// whose mapping may change), so the interpreter runs them. What follows such an instruction must
// still run as compiled code: the interpreter hands back to the dispatcher as soon as it is on
// the next page (src/jit/engine.ts, interpretStraight), not at the next branch, so a function
// whose first instruction straddles a page costs one interpreted instruction per call. Results
// and instruction counts are the interpreter's on every engine.
import { describe, expect, it } from "vitest";
import { ENGINES, RESULTS, STACK_TOP, assembleLongModeGuest, countInterpreterSteps, guestMachine, qword, symbol } from "./support/asm-guest.js";

const ROUNDS = 300;
const GUEST = assembleLongModeGuest(`
  mov rsp, ${STACK_TOP}
  xor r12, r12
  mov ecx, ${ROUNDS}
1:
  mov rdi, rcx
  call work
  add r12, rax
  dec ecx
  jnz 1b
  mov [${RESULTS}], r12
  mov al, 0
  out 0xf4, al
  hlt
  .p2align 12
  .fill 0xffc, 1, 0xcc
work:
  movabs rax, 0x1122334455667788        # 10 bytes: 4 in this page, 6 in the next
after_crossing:
  xor rax, rdi
  lea rax, [rax + rdi*4]
  add rax, 7
  imul rax, rax, 3
  ret`);

const model = (): bigint => {
  let sum = 0n;
  for (let rcx = ROUNDS; rcx >= 1; rcx--) {
    const rdi = BigInt(rcx);
    const rax = ((((0x1122334455667788n ^ rdi) + rdi * 4n + 7n) * 3n) & 0xffff_ffff_ffff_ffffn);
    sum = (sum + rax) & 0xffff_ffff_ffff_ffffn;
  }
  return sum;
};

describe("an instruction crossing a page boundary", () => {
  const runs = ENGINES.filter((engine) => engine.accel !== "check").map((engine) => {
    const { machine } = guestMachine(GUEST, engine);
    const steps = countInterpreterSteps(machine);
    const stop = machine.runSync({ maxInstructions: 1_000_000 });
    return { engine: engine.name, accel: engine.accel, stop: stop.kind, retired: machine.cpu.retired, result: qword(machine, RESULTS), steps };
  });

  it("computes what the model computes, with the interpreter's instruction count, on every engine", () => {
    for (const run of runs) {
      expect(run.stop, run.engine).toBe("exit");
      expect(run.result, run.engine).toBe(model());
      expect(run.retired, run.engine).toBe(runs[0].retired);
    }
  });

  it("is interpreted at each call, and the code after it runs compiled", () => {
    const crossing = symbol(GUEST, "work"), after = symbol(GUEST, "after_crossing");
    expect(crossing % 4096).toBe(0xffc);
    for (const run of runs.filter((r) => r.accel !== "interp")) {
      expect(run.steps.get(crossing), run.engine).toBe(ROUNDS);
      expect(run.steps.get(after) ?? 0, run.engine).toBeLessThan(10);
    }
  });
});
