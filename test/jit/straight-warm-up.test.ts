// A straight run of code longer than a block (MAX_BLOCK_INSTRUCTIONS) is several units to the JIT.
// While it is cold, the interpreter runs it and hands back to the dispatcher at each block's end,
// so every block's entry warms up from the first call: all of them compile after about the
// threshold's number of calls. (Running through to the next branch instead, a block's entry was
// first seen once the block before it ran compiled: a body of five blocks took five times the
// threshold in the interpreter, and BLAKE2b's unrolled rounds 266,000 interpreted instructions
// of the 20-commit store bench.)
import { describe, expect, it } from "vitest";
import { MAX_BLOCK_INSTRUCTIONS } from "../../src/jit/discover.js";
import { ENGINES, RESULTS, STACK_TOP, assembleLongModeGuest, countInterpreterSteps, guestMachine, qword, symbol, type EngineConfig } from "./support/asm-guest.js";

const THRESHOLD = 16;
const ROUNDS = 100;
const BLOCKS = 5;
const BODY = MAX_BLOCK_INSTRUCTIONS * BLOCKS;

const addends = Array.from({ length: BODY }, (_, i) => (i * 7919 + 13) % 100_000);

const GUEST = assembleLongModeGuest(`
  mov rsp, ${STACK_TOP}
  xor r12, r12
  mov ecx, ${ROUNDS}
1:
  call body
  add r12, rax
  dec ecx
  jnz 1b
  mov [${RESULTS}], r12
  mov al, 0
  out 0xf4, al
  hlt
body:
  xor eax, eax
${addends.slice(1).map((value, i) => `block_${i + 1}:\n  add rax, ${value}`).join("\n")}
  ret`);

describe("a straight run longer than a block", () => {
  const engines: EngineConfig[] = ENGINES.filter((engine) => engine.accel === "jit").map((engine) => ({ ...engine, jit: { ...engine.jit, threshold: THRESHOLD } }));
  const expected = BigInt(ROUNDS) * BigInt(addends.slice(1).reduce((sum, value) => sum + value, 0));

  for (const engine of engines) {
    it(`${engine.name}: every block of it is compiled after about the threshold's number of calls`, () => {
      const { machine } = guestMachine(GUEST, engine);
      const steps = countInterpreterSteps(machine);
      const stop = machine.runSync({ maxInstructions: 1_000_000 });
      expect(stop.kind).toBe("exit");
      expect(qword(machine, RESULTS)).toBe(expected);
      // the body is its XOR and the ADDs labelled block_1...: a block starts every 64 instructions
      for (let block = 1; block < BLOCKS; block++) {
        const entry = symbol(GUEST, `block_${block * MAX_BLOCK_INSTRUCTIONS}`);
        expect(steps.get(entry) ?? 0, `block ${block} at 0x${entry.toString(16)}`).toBeLessThanOrEqual(THRESHOLD + 2);
      }
    });
  }
});
