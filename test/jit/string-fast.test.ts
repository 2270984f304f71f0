// REP MOVS / REP STOS in compiled code take a chunked fast path straight on RAM (src/jit/string-fast.ts)
// when the TLB allows it, and the interpreter's element loop otherwise. Memory and registers must end
// exactly as under the interpreter: across page boundaries, with every element size, with counts of
// zero, with an element straddling two pages, and with forward-overlapping copies (which repeat a
// pattern element by element).
import { describe, expect, it } from "vitest";
import { VEC_PF } from "../../src/machine/cpu-exception.js";
import { ENGINES, IDT, STACK_TOP, assembleLongModeGuest, generalRegisters, guestMachine, setGate, symbol } from "./support/asm-guest.js";

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

// Code run fewer times than the JIT's threshold stays in the interpreter, which the JIT engine
// gives the same fast path: one memset over a fresh heap (every page new to the TLB) must not
// crawl element by element. Run once here: 4 MiB of REP STOSB (several 64 KiB chunks, each a
// separate execution of the instruction), 1 MiB of REP MOVSQ, then a REP STOSB that runs into the
// unmapped page at 8 MiB, whose #PF handler (a HLT) must see the same registers as under the
// interpreter: RDI = CR2 = the first unmapped byte, RCX the bytes left.
const HEAP = 0x400000;
const MAPPED_END = 0x800000;
const COLD = assembleLongModeGuest(`
  lidt [idtr]
  mov rsp, ${STACK_TOP}
  cld
  mov rdi, ${HEAP}
  mov rcx, 0x400000 - 0x1000
  mov al, 0x5a
  rep stosb
  mov rsi, ${HEAP + 0x1000}
  mov rdi, ${HEAP + 0x200000}
  mov rcx, 0x100000 / 8
  rep movsq
  mov rdi, ${MAPPED_END - 0x3000 + 5}
  mov rcx, 0x5000
  mov al, 0xc3
faulting:
  rep stosb
  mov al, 0
  out 0xf4, al
idtr:
  .word 0xfff
  .quad ${IDT}
  .p2align 6
handler:
  hlt`);

function runCold(engineIndex: number): { memory: Uint8Array; registers: bigint[]; retired: number; cr2: number; stop: string; largestStep: number } {
  // a threshold no entry reaches: every chunk's restart counts as another execution of its address
  const engine = ENGINES[engineIndex];
  const { machine, units } = guestMachine(COLD, { ...engine, jit: engine.jit && { ...engine.jit, threshold: 1000 } });
  setGate(machine, VEC_PF, symbol(COLD, "handler"));
  // the most elements one call of the interpreter's fast path took
  let largestStep = 0;
  const interpreter = machine.interpreter;
  const fastPath = interpreter.stringFastPath;
  if (fastPath !== null) {
    interpreter.stringFastPath = (cpu, ins) => {
      const before = cpu.regs[2] >>> 0;
      const stopped = fastPath(cpu, ins);
      largestStep = Math.max(largestStep, before - (cpu.regs[2] >>> 0));
      return stopped;
    };
  }
  const stop = machine.runSync({ maxInstructions: 50_000_000 });
  expect(units.filter((unit) => unit.fn !== null).map((unit) => unit.name)).toEqual([]);
  return {
    memory: machine.memory.ram.slice(HEAP, MAPPED_END),
    registers: generalRegisters(machine),
    retired: machine.cpu.retired,
    cr2: machine.cpu.cr2,
    stop: stop.kind,
    largestStep,
  };
}

describe("REP MOVS / REP STOS in code too cold to compile", () => {
  const reference = runCold(0);
  it("the interpreter reference stops in the #PF handler with RDI = CR2 = the first unmapped byte", () => {
    expect(reference.stop).toBe("halted");
    expect(reference.cr2).toBe(MAPPED_END);
    expect(reference.registers[7]).toBe(BigInt(MAPPED_END));
    expect(reference.registers[1]).toBe(BigInt(0x5000 - (0x3000 - 5)));
  });
  ENGINES.slice(1).forEach((engine, k) => {
    it(`${engine.name}: the same memory, registers, CR2 and instruction count as the interpreter`, () => {
      const outcome = runCold(k + 1);
      expect(outcome.stop).toBe("halted");
      expect(outcome.retired).toBe(reference.retired);
      expect(outcome.cr2).toBe(reference.cr2);
      expect(outcome.registers).toEqual(reference.registers);
      const firstDifference = outcome.memory.findIndex((byte, i) => byte !== reference.memory[i]);
      expect(firstDifference, `first differing byte at 0x${(HEAP + firstDifference).toString(16)}`).toBe(-1);
      // the JIT engines (not check mode, whose interpreter is the reference) take whole chunks at once
      if (engine.accel === "jit") expect(outcome.largestStep).toBe(0x10000);
      else expect(outcome.largestStep).toBe(0);
    });
  });
});
