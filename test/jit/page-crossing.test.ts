// Instructions that cross a page boundary. A unit may hold one when the next linear page maps to
// the next physical page (its bytes are then one run of RAM, watched for stores like the rest of
// the unit), and runs only while that mapping holds (src/jit/engine.ts, nextPageHolds); otherwise
// the interpreter runs the instruction, and hands back to the dispatcher as soon as it is on the
// next page, so what follows still runs compiled. Results and instruction counts are the
// interpreter's on every engine. (test/jit/self-modifying-code.test.ts patches, remaps and unmaps
// such a tail.)
import { describe, expect, it } from "vitest";
import { ENGINES, RESULTS, STACK_TOP, assembleLongModeGuest, countInterpreterSteps, guestMachine, qword, symbol, type AssembledGuest } from "./support/asm-guest.js";

const ROUNDS = 300;
const IMMEDIATE = 0x1122334455667788n;

/** A loop calling `work` at linear `entry`, whose first instruction is 10 bytes, 4 of them before a page boundary. */
function guest(entry: string, mapping: string, layout: string): AssembledGuest {
  return assembleLongModeGuest(`
  mov rsp, ${STACK_TOP}
${mapping}
  xor r12, r12
  mov ecx, ${ROUNDS}
1:
  mov rdi, rcx
  mov rax, ${entry}
  call rax
  add r12, rax
  dec ecx
  jnz 1b
  mov [${RESULTS}], r12
  mov al, 0
  out 0xf4, al
  hlt
${layout}`);
}

const WORK_HEAD = `
  movabs rax, 0x${IMMEDIATE.toString(16)}`;
const WORK_TAIL = `
  xor rax, rdi
  lea rax, [rax + rdi*4]
  add rax, 7
  imul rax, rax, 3
  ret`;

// identity-mapped: the next linear page is the next physical page
const CONTIGUOUS = guest("offset work", "", `
  .p2align 12
  .fill 0xffc, 1, 0xcc
work:${WORK_HEAD}
after_crossing:${WORK_TAIL}`);

// 0x800000 -> head, 0x801000 -> a physical page two pages further on: not contiguous
const SPLIT = guest("0x800ffc", `
  mov qword ptr [0x202020], 0x204003
  lea rax, [rip + head]
  or rax, 3
  mov [0x204000], rax
  lea rax, [rip + tail]
  or rax, 3
  mov [0x204008], rax`, `
  .p2align 12
head:
  .fill 0xffc, 1, 0xcc
  .byte 0x48, 0xb8, 0x${(IMMEDIATE & 0xffn).toString(16)}, 0x${((IMMEDIATE >> 8n) & 0xffn).toString(16)}
  .p2align 12
  .fill 0x1000, 1, 0xcc
tail:
  .byte ${[2n, 3n, 4n, 5n, 6n, 7n].map((k) => `0x${((IMMEDIATE >> (8n * k)) & 0xffn).toString(16)}`).join(", ")}
${WORK_TAIL}
  .p2align 12`);

const model = (): bigint => {
  let sum = 0n;
  for (let rcx = ROUNDS; rcx >= 1; rcx--) {
    const rdi = BigInt(rcx);
    sum = (sum + (((IMMEDIATE ^ rdi) + rdi * 4n + 7n) * 3n)) & 0xffff_ffff_ffff_ffffn;
  }
  return sum;
};

function runAll(g: AssembledGuest) {
  return ENGINES.filter((engine) => engine.accel !== "check").map((engine) => {
    const { machine } = guestMachine(g, engine);
    const steps = countInterpreterSteps(machine);
    const stop = machine.runSync({ maxInstructions: 1_000_000 });
    return { engine: engine.name, accel: engine.accel, stop: stop.kind, retired: machine.cpu.retired, result: qword(machine, RESULTS), steps };
  });
}

describe("an instruction crossing a page boundary", () => {
  const contiguous = runAll(CONTIGUOUS);
  const split = runAll(SPLIT);

  it("computes what the model computes, with the interpreter's instruction count, on every engine", () => {
    for (const runs of [contiguous, split]) {
      for (const run of runs) {
        expect(run.stop, run.engine).toBe("exit");
        expect(run.result, run.engine).toBe(model());
        expect(run.retired, run.engine).toBe(runs[0].retired);
      }
    }
  });

  it("runs compiled when the next linear page is the next physical page", () => {
    const crossing = symbol(CONTIGUOUS, "work"), after = symbol(CONTIGUOUS, "after_crossing");
    expect(crossing % 4096).toBe(0xffc);
    for (const run of contiguous.filter((r) => r.accel !== "interp")) {
      expect(run.steps.get(crossing) ?? 0, run.engine).toBeLessThan(10);
      expect(run.steps.get(after) ?? 0, run.engine).toBeLessThan(10);
    }
  });

  it("is interpreted at each call when the next page maps elsewhere, and the code after it runs compiled", () => {
    for (const run of split.filter((r) => r.accel !== "interp")) {
      expect(run.steps.get(0x800ffc), run.engine).toBe(ROUNDS);
      expect(run.steps.get(0x801006) ?? 0, run.engine).toBeLessThan(10);
    }
  });
});
