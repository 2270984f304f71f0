// IN and OUT inside compiled units (src/jit/instruction-kinds.ts). A unit runs them through the
// interpreter's semantics at the exact retired count, and leaves right after one that raised an
// interrupt or moved the batch's end, so every engine sees the same device values, takes each
// interrupt at the same instruction and stops at the same one:
//   - a loop reading port 0x61 (the PIT's channel 2 output follows the virtual clock, so the values
//     read are right only at the exact count) runs compiled;
//   - an OUT that enables the UART's transmit interrupt (IRQ 4 rises at once) is interrupted right
//     after it, every round, also when it sits in the middle of a compiled unit;
//   - an OUT to the debug-exit port ends the run before the store after it.
import { describe, expect, it } from "vitest";
import { initPics } from "../machine/support/long-mode.js";
import { ENGINES, IDT, RESULTS, STACK_TOP, assembleLongModeGuest, countInterpreterSteps, guestMachine, qword, setGate, symbol } from "./support/asm-guest.js";

const ROUNDS = 200;
const IRQ4_VECTOR = 0x24;

const GUEST = assembleLongModeGuest(`
  lidt [idtr]
  mov rsp, ${STACK_TOP}
  xor r12, r12
  xor r14, r14
  xor r15, r15
  # the PICs: vectors 0x20 and 0x28, only IRQ 4 (COM1) unmasked${initPics(0xef)}
  sti
  # port reads in a loop
  mov ecx, ${ROUNDS}
1:
read_port:
  in al, 0x61
  movzx eax, al
  imul r12, r12, 31
  add r12, rax
  dec ecx
  jnz 1b
  mov [${RESULTS}], r12
  # an interrupt raised by an OUT in the middle of a straight run
  mov ebx, ${ROUNDS}
2:
  mov edx, 0x3f9
  mov al, 2
raise:
  out dx, al
after_raise:
  add r14, 1
  dec ebx
  jnz 2b
  mov [${RESULTS + 8}], r14
  mov [${RESULTS + 16}], r15
  # the debug-exit port, reached in the last round of a hot loop
  mov ebx, ${ROUNDS}
3:
  mov edx, 0x80
  cmp ebx, 1
  jne 4f
  mov edx, 0xf4
4:
  xor eax, eax
exit_out:
  out dx, al
  mov [${RESULTS + 24}], rbx
  dec ebx
  jnz 3b
  hlt
idtr:
  .word 0xfff
  .quad ${IDT}
  .p2align 6
handler:
  push rax
  push rdx
  mov rax, [rsp + 16]
  lea rdx, [rip + after_raise]
  cmp rax, rdx
  jne 5f
  inc r15
5:
  mov edx, 0x3f9
  xor eax, eax
  out dx, al
  mov al, 0x20
  out 0x20, al
  pop rdx
  pop rax
  iretq
`);

describe("port I/O in compiled units", () => {
  const runs = ENGINES.map((engine) => {
    const { machine, units } = guestMachine(GUEST, engine);
    setGate(machine, IRQ4_VECTOR, symbol(GUEST, "handler"));
    const steps = countInterpreterSteps(machine);
    const stop = machine.runSync({ maxInstructions: 2_000_000 });
    const compiled = (label: string) => units.some((unit) => Array.from(unit.rips).includes(symbol(GUEST, label)));
    return {
      engine, stop: stop.kind, retired: machine.cpu.retired,
      reads: qword(machine, RESULTS), rounds: qword(machine, RESULTS + 8), exact: qword(machine, RESULTS + 16), lastStored: qword(machine, RESULTS + 24),
      steps, compiled,
    };
  });
  const interp = runs.find((run) => run.engine.accel === "interp")!;

  it("the interpreter: every interrupt right after its OUT, the run ends at the debug-exit OUT", () => {
    expect(interp.stop).toBe("exit");
    expect(interp.rounds).toBe(BigInt(ROUNDS));
    expect(interp.exact).toBe(BigInt(ROUNDS));
    expect(interp.lastStored).toBe(2n);
  });

  for (const run of runs.filter((r) => r.engine.accel !== "interp")) {
    it(`${run.engine.name}: the interpreter's values, interrupts, stop and instruction count`, () => {
      expect(run.stop).toBe("exit");
      expect(run.reads).toBe(interp.reads);
      expect(run.rounds).toBe(interp.rounds);
      expect(run.exact, "interrupts taken right after the OUT that raised them").toBe(interp.exact);
      expect(run.lastStored, "the store after the debug-exit OUT did not run").toBe(2n);
      expect(run.retired).toBe(interp.retired);
      if (run.engine.accel === "check") {
        // check mode leaves port I/O to the interpreter (a device must see each access once)
        expect(run.steps.get(symbol(GUEST, "read_port"))).toBe(ROUNDS);
      } else {
        for (const label of ["read_port", "raise", "exit_out"]) {
          expect(run.compiled(label), `${label} compiled`).toBe(true);
          expect(run.steps.get(symbol(GUEST, label)) ?? 0, `${label} interpreted`).toBeLessThan(10);
        }
      }
    });
  }
});
