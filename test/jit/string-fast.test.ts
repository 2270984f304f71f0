// REP MOVS / REP STOS in compiled code take a chunked fast path straight on RAM (src/jit/string-fast.ts)
// when the TLB allows it, and the interpreter's element loop otherwise. Memory and registers must end
// exactly as under the interpreter: across page boundaries, with every element size, with counts of
// zero, with an element straddling two pages, and with forward-overlapping copies (which repeat a
// pattern element by element).
import { describe, expect, it } from "vitest";
import { ENGINES, STACK_TOP, assembleLongModeGuest, generalRegisters, guestMachine } from "./support/asm-guest.js";

const BUFFER = 0x500000; // three pages of test data (the page tables are at 0x200000)
const LENGTH = 3 * 4096;

// Each round: fill the buffer with a pattern (REP STOSQ), then the string operations under test.
// The whole body runs 6 times so it is compiled before the last rounds.
const GUEST = assembleLongModeGuest(`
  mov rsp, ${STACK_TOP}
  mov r15, 6
round:
  mov rdi, ${BUFFER}
  mov rcx, ${LENGTH / 8}
  mov rax, 0x0706050403020100
  add rax, r15
  cld
  rep stosq
  # movsb across a page boundary
  mov rsi, ${BUFFER + 100}
  mov rdi, ${BUFFER + 4096 - 37}
  mov rcx, 300
  rep movsb
  # movsq with an element straddling the next page boundary (destination)
  mov rsi, ${BUFFER + 8}
  mov rdi, ${BUFFER + 2 * 4096 - 12}
  mov rcx, 5
  rep movsq
  # movsd, count 0: nothing moves
  mov rsi, ${BUFFER}
  mov rdi, ${BUFFER + 64}
  xor ecx, ecx
  rep movsd
  # forward-overlapping movsb: replicates the first 3 bytes
  mov rsi, ${BUFFER + 2 * 4096 + 16}
  mov rdi, ${BUFFER + 2 * 4096 + 19}
  mov rcx, 200
  rep movsb
  # stosb, stosw, stosd across page boundaries
  mov al, 0xa5
  mov rdi, ${BUFFER + 4096 - 3}
  mov rcx, 10
  rep stosb
  mov ax, 0x1234
  mov rdi, ${BUFFER + 2 * 4096 - 5}
  mov rcx, 9
  rep stosw
  mov eax, 0xdeadbeef
  mov rdi, ${BUFFER + 1000}
  mov rcx, 33
  rep stosd
  # movsw within a page, source after destination
  mov rsi, ${BUFFER + 3000}
  mov rdi, ${BUFFER + 2000}
  mov rcx, 400
  rep movsw
  dec r15
  jnz round
  mov al, 0
  out 0xf4, al
  hlt`);

function run(engineIndex: number): { memory: Uint8Array; registers: bigint[]; retired: number; stop: string } {
  const { machine } = guestMachine(GUEST, ENGINES[engineIndex]);
  const stop = machine.runSync({ maxInstructions: 5_000_000 });
  return {
    memory: machine.memory.ram.slice(BUFFER, BUFFER + LENGTH),
    registers: generalRegisters(machine),
    retired: machine.cpu.retired,
    stop: stop.kind === "exit" ? `exit ${stop.status}` : stop.kind,
  };
}

describe("REP MOVS / REP STOS in compiled code", () => {
  const reference = run(0);
  it("the interpreter reference runs to the end", () => {
    expect(reference.stop).toBe("exit 1");
  });
  ENGINES.slice(1).forEach((engine, k) => {
    it(`${engine.name}: the same memory, registers and instruction count as the interpreter`, () => {
      const outcome = run(k + 1);
      expect(outcome.stop).toBe("exit 1");
      expect(outcome.retired).toBe(reference.retired);
      expect(outcome.registers).toEqual(reference.registers);
      const firstDifference = outcome.memory.findIndex((byte, i) => byte !== reference.memory[i]);
      expect(firstDifference, `first differing byte at 0x${(BUFFER + firstDifference).toString(16)}`).toBe(-1);
    });
  });
});
