// The JIT in 32-bit protected mode (paging off), where the multiboot entry code of every guest
// runs: a store patching a later instruction of the executing block, and precise faults in the
// middle of compiled blocks — #DE from DIV and #PF under 32-bit paging (SDM vol. 3 §4.3, 4 MiB
// pages with CR4.PSE). Exceptions go through a 32-bit interrupt gate at the same privilege: EFLAGS,
// CS, EIP and the error code are pushed (SDM vol. 3 §6.12.1, figure 6-4), with EIP = the faulting
// instruction. (Segment limits are not modelled: docs/cpu.md.)
import { describe, expect, it } from "vitest";
import {
  ENGINES, ORIGIN, RESULTS, assembleWithSymbols, countInterpreterSteps, guestMachine, symbol, type AssembledGuest, type EngineConfig,
} from "./support/asm-guest.js";

const IDT32 = 0x10000;
const STACK32 = 0x380000;
const N = 12;

/** A GDT with flat code (0x08) and data (0x10) segments; the IDT at IDT32. */
const PROLOGUE = `
  lgdt [gdtr]
  lidt [idtr]
  mov ax, 0x10
  mov ds, ax
  mov es, ax
  mov ss, ax
  mov esp, ${STACK32}
`;
const TABLES = `
  .p2align 3
gdt:
  .quad 0
  .quad 0x00cf9a000000ffff
  .quad 0x00cf92000000ffff
gdtr:
  .word 23
  .long gdt
idtr:
  .word 0x7ff
  .long ${IDT32}
  .p2align 6
handler:
  hlt
`;

function writeGate32(machine: GuestRun["machine"], vector: number, handler: number): void {
  const view = machine.memory.view;
  const entry = IDT32 + vector * 8;
  view.setUint16(entry, handler & 0xffff, true);
  view.setUint16(entry + 2, 0x08, true);
  view.setUint8(entry + 4, 0);
  view.setUint8(entry + 5, 0x8e); // present, DPL 0, 32-bit interrupt gate
  view.setUint16(entry + 6, handler >>> 16, true);
}

interface GuestRun {
  machine: ReturnType<typeof guestMachine>["machine"];
  stop: string;
  registers: number[];
  frame: number[];
  retired: number;
  results: number[];
  interpretedFaultingRuns: number;
  compiledFaulting: boolean;
}

function run(guest: AssembledGuest, engine: EngineConfig, vector: number | null): GuestRun {
  const { machine, units } = guestMachine(guest, engine);
  if (vector !== null) writeGate32(machine, vector, symbol(guest, "handler"));
  const steps = countInterpreterSteps(machine);
  const stop = machine.runSync({ maxInstructions: 100_000 });
  const regs = machine.cpu.regs;
  const registers = Array.from({ length: 8 }, (_, r) => regs[2 * r] >>> 0);
  const esp = registers[4];
  const view = machine.memory.view;
  const faulting = guest.symbols.get("faulting") ?? -1;
  return {
    machine,
    stop: stop.kind === "exit" ? `exit ${stop.status}` : stop.kind,
    registers,
    frame: Array.from({ length: 4 }, (_, k) => view.getUint32(esp + 4 * k, true)),
    retired: machine.cpu.retired,
    results: Array.from({ length: 4 }, (_, k) => view.getUint32(RESULTS + 4 * k, true)),
    interpretedFaultingRuns: steps.get(faulting) ?? 0,
    compiledFaulting: units.some((unit) => Array.from(unit.rips).includes(faulting)),
  };
}

const EAX = 0, ECX = 1, EDX = 2, EBX = 3, ESP = 4;

describe("the JIT in 32-bit protected mode", () => {
  describe("a store patching an instruction later in the executing block", () => {
    const guest = assembleWithSymbols(`
  ${PROLOGUE}
  xor ebx, ebx
  xor esi, esi
loop:
  mov [site + 1], ebx
  add edi, 1
site:
  mov eax, 0x12345678
  add esi, eax
  inc ebx
  cmp ebx, 20
  jb loop
  mov [${RESULTS}], esi
  mov al, 0
  out 0xf4, al
  hlt
  ${TABLES}`, ORIGIN, 32);
    for (const engine of ENGINES) {
      it(`${engine.name}: the new immediate is used in the same pass`, () => {
        const outcome = run(guest, engine, null);
        expect(outcome.stop).toBe("exit 1");
        expect(outcome.results[0]).toBe((19 * 20) / 2);
        if (engine.accel !== "interp") expect(outcome.machine.jit!.stats().invalidations).toBeGreaterThanOrEqual(1);
      });
    }
  });

  const faults: { name: string; vector: number; errorCode: number | null; source: string; check: (o: GuestRun) => void }[] = [
    {
      name: "#DE: DIV by zero in the middle of a block",
      vector: 0,
      errorCode: null,
      source: `
  ${PROLOGUE}
  xor ebx, ebx
  mov edi, ${N}
top:
  lea eax, [ebx + 1000]
  xor edx, edx
  mov ecx, edi
  sub ecx, ebx
  mov [${RESULTS}], ecx
faulting:
  div ecx
  add esi, eax
  mov [${RESULTS + 4}], ebx
  inc ebx
  jmp top
  ${TABLES}`,
      check: (o) => {
        expect(o.registers[EAX]).toBe(N + 1000);
        expect(o.registers[ECX]).toBe(0);
        expect(o.registers[EDX]).toBe(0);
        expect(o.registers[EBX]).toBe(N);
        expect(o.results[1]).toBe(N - 1); // the store after the DIV did not run
      },
    },
    {
      // 32-bit paging with one 4 MiB page (CR4.PSE): the walk off its end faults, CR2 = 0x400000.
      name: "#PF: a load from an unmapped page in the middle of a block (32-bit paging)",
      vector: 14,
      errorCode: 0,
      source: `
  ${PROLOGUE}
  mov dword ptr [0x200000], 0x83
  mov eax, cr4
  or eax, 0x10
  mov cr4, eax
  mov eax, 0x200000
  mov cr3, eax
  mov eax, cr0
  or eax, 0x80000000
  mov cr0, eax
  xor ebx, ebx
  mov ebp, ${0x400000 - 4 * N}
top:
  add edx, 5
  mov [ebp + ebx*4 - 4], ebx
  lea ecx, [ebx + 7]
faulting:
  mov eax, [ebp + ebx*4]
  add esi, eax
  mov [${RESULTS + 4}], ebx
  inc ebx
  jmp top
  ${TABLES}`,
      check: (o) => {
        expect(o.machine.cpu.cr2).toBe(0x400000);
        expect(o.registers[ECX]).toBe(N + 7);
        expect(o.registers[EDX]).toBe(5 * (N + 1));
        expect(o.registers[EBX]).toBe(N);
        expect(o.machine.memory.view.getUint32(0x400000 - 4, true)).toBe(N); // the store before the fault
        expect(o.results[1]).toBe(N - 1); // the store after it did not run
      },
    },
  ];

  for (const f of faults) {
    describe(f.name, () => {
      const guest = assembleWithSymbols(f.source, ORIGIN, 32);
      let reference: GuestRun | undefined;
      const interp = () => (reference ??= run(guest, ENGINES[0], f.vector));
      for (const engine of ENGINES) {
        it(`${engine.name}: EIP of the faulting instruction, earlier writes visible, later ones not`, () => {
          const outcome = engine === ENGINES[0] ? interp() : run(guest, engine, f.vector);
          expect(outcome.stop).toBe("halted");
          const words = f.errorCode === null ? 0 : 1;
          expect(outcome.registers[ESP]).toBe(STACK32 - 4 * (3 + words));
          const frame = outcome.frame.slice(0, 3 + words);
          expect(frame.slice(0, 3 + words - 1).map((v) => v.toString(16))).toEqual(
            [...(f.errorCode === null ? [] : [f.errorCode]), symbol(guest, "faulting"), 0x08].map((v) => v.toString(16)),
          );
          f.check(outcome);
          // everything, EFLAGS included, as the interpreter has it
          expect(outcome.registers).toEqual(interp().registers);
          expect(outcome.frame).toEqual(interp().frame);
          expect(outcome.results).toEqual(interp().results);
          expect(outcome.retired).toBe(interp().retired);
          if (engine.accel !== "interp") {
            expect(outcome.compiledFaulting).toBe(true);
            expect(outcome.interpretedFaultingRuns).toBeLessThanOrEqual(2);
          }
        });
      }
    });
  }
});

