// RDTSC runs inside compiled units (JavaScript and WebAssembly), which count their instructions and
// add them to the CPU's retired count only at their exits: for RDTSC they bring the count up to
// date, so under the virtual clock (1 ns per instruction, the TSC at 1 GHz) every engine reads
// exactly what the interpreter reads, at every point of a unit, of a loop region and of a chain of
// WebAssembly units.
import { describe, expect, it } from "vitest";
import { ENGINES, RESULTS, STACK_TOP, assembleLongModeGuest, countInterpreterSteps, guestMachine, symbol } from "./support/asm-guest.js";

const ROUNDS = 300;
const GUEST = assembleLongModeGuest(`
  mov rsp, ${STACK_TOP}
  mov rdi, ${RESULTS}
  mov ecx, ${ROUNDS}
loop:
  add rbx, rcx
  imul rbx, rbx, 3
  rdtsc
  shl rdx, 32
  or rax, rdx
  mov [rdi], rax
  call stamp
  add rdi, 16
  dec ecx
  jnz loop
  mov al, 0
  out 0xf4, al
  hlt
stamp:
  xor rbx, rcx
  lea rbx, [rbx + rcx*2]
at_rdtsc:
  rdtsc
  mov [rdi + 8], eax
  ret`);

describe("RDTSC in compiled code, under the virtual clock", () => {
  const runs = ENGINES.filter((engine) => engine.accel !== "check").map((engine) => {
    const { machine } = guestMachine(GUEST, engine);
    const steps = countInterpreterSteps(machine);
    const stop = machine.runSync({ maxInstructions: 1_000_000 });
    return { engine: engine.name, stop: stop.kind, retired: machine.cpu.retired, stamps: machine.memory.ram.slice(RESULTS, RESULTS + 16 * ROUNDS), steps };
  });
  const reference = runs[0];

  it("read the same counts as the interpreter under every engine", () => {
    expect(reference.stop).toBe("exit");
    // the stamps move: each round reads a later count
    const view = new DataView(reference.stamps.buffer);
    expect(view.getBigUint64(16, true)).toBeGreaterThan(view.getBigUint64(0, true));
    for (const run of runs.slice(1)) {
      expect(run.stop, run.engine).toBe("exit");
      expect(run.retired, run.engine).toBe(reference.retired);
      expect(Buffer.from(run.stamps).equals(Buffer.from(reference.stamps)), run.engine).toBe(true);
    }
  });

  it("ran them in compiled code, not in the interpreter", () => {
    const second = symbol(GUEST, "at_rdtsc");
    for (const run of runs.slice(1)) {
      expect(run.steps.get(second) ?? 0, run.engine).toBeLessThan(10);
    }
  });
});
