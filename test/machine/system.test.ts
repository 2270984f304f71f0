// System behaviour that cannot run natively on the host, with expectations from the Intel SDM
// vol. 3: the switch from protected mode to long mode (§9.8.5), exception and interrupt delivery
// through 64-bit IDT gates (§6.14), IRETQ, the STI shadow and HLT (§6.8.3), and the double/triple
// fault rules (§6.15, table 6-5).
import { describe, expect, it } from "vitest";
import { IF } from "../../src/decoder/flags.js";
import { CS, EFER_LMA } from "../../src/machine/cpu.js";
import { TripleFault } from "../../src/machine/interrupts.js";
import { describeFatal, registerDump } from "../../src/machine/cpu-dump.js";
import { rowsWithoutSemantics } from "../../src/machine/interp/semantics/index.js";
import { assemble } from "./support/assemble.js";
import { ENTER_LONG_MODE } from "./support/long-mode.js";
import { protectedModeMachine, runUntilHalt, writeGate64, type TestMachine } from "./support/test-machine.js";

const ORIGIN = 0x100000;
const IDT = 0x10000;
const RESULTS = 0x300000;

function boot(longModeCode: string): TestMachine {
  const machine = protectedModeMachine();
  const image = assemble(`${ENTER_LONG_MODE}\n.code64\nlong_mode:\n${longModeCode}`, ORIGIN, 32);
  machine.memory.loadBytes(ORIGIN, image);
  machine.cpu.rip = ORIGIN;
  return machine;
}

function readQword(machine: TestMachine, address: number): bigint {
  return machine.memory.view.getBigUint64(address, true);
}

describe("protected mode to long mode", () => {
  it("enables paging with PAE and LME, then a far jump to an L=1 code segment enters 64-bit mode", () => {
    const machine = boot(`
      mov rax, 0x123456789abcdef0
      mov [${RESULTS}], rax
      hlt`);
    expect(machine.cpu.mode).toBe(32);
    runUntilHalt(machine);
    expect(machine.cpu.mode).toBe(64);
    expect(machine.cpu.efer & EFER_LMA).toBe(EFER_LMA);
    expect(machine.cpu.segSelector[CS]).toBe(0x18);
    expect(readQword(machine, RESULTS)).toBe(0x123456789abcdef0n);
  });

  it("refuses to enable paging in long mode without PAE (#GP)", () => {
    const machine = protectedModeMachine();
    machine.memory.loadBytes(ORIGIN, assemble(`
      mov ecx, 0xc0000080
      rdmsr
      or eax, 0x100
      wrmsr
      mov eax, cr0
      or eax, 0x80000001
      mov cr0, eax
      hlt`, ORIGIN, 32));
    machine.cpu.rip = ORIGIN;
    for (let i = 0; i < 6; i++) machine.interpreter.step();
    const fault = machine.interpreter.execute();
    expect(fault?.vector).toBe(13);
    expect(machine.cpu.rip).toBe(ORIGIN + 22); // still at the MOV CR0
  });
});

describe("exception delivery through 64-bit IDT gates", () => {
  function machineWithHandlers(body: string, handlers: string): TestMachine {
    // Handlers start at fixed offsets so the test can point gates at them.
    const machine = boot(`
      lidt [idtr]
      mov rsp, 0x380000
      ${body}
      hlt
    idtr:
      .word 0xfff
      .quad ${IDT}
    .org 0x800
    ${handlers}`);
    return machine;
  }
  const handler = (index: number) => ORIGIN + 0x800 + index * 0x100;

  it("#DE pushes SS, RSP, RFLAGS, CS, RIP (no error code) on a 16-byte aligned stack; IRETQ re-runs the faulting DIV", () => {
    const machine = machineWithHandlers(`
      mov rsp, 0x380008
      xor edx, edx
      mov eax, 7
      xor ecx, ecx
      div ecx
      mov [${RESULTS + 0x10}], rax`, `
      mov rax, [rsp]
      mov [${RESULTS}], rax
      mov [${RESULTS + 8}], rsp
      mov rax, [rsp + 8]
      mov [${RESULTS + 0x18}], rax
      mov rax, [rsp + 24]
      mov [${RESULTS + 0x20}], rax
      mov rax, [rsp + 32]
      mov [${RESULTS + 0x28}], rax
      mov ecx, 1
      xor eax, eax
      mov eax, 7
      iretq`);
    writeGate64(machine.memory, IDT, 0, handler(0), 0x18);
    runUntilHalt(machine);
    const divAddress = Number(readQword(machine, RESULTS));
    expect(machine.memory.ram.subarray(divAddress, divAddress + 2)).toEqual(new Uint8Array([0xf7, 0xf1])); // the pushed RIP is the DIV
    expect(readQword(machine, RESULTS + 8)).toBe(0x380000n - 40n); // aligned down from 0x380008, five qwords pushed
    expect(readQword(machine, RESULTS + 0x18)).toBe(0x18n); // CS
    expect(readQword(machine, RESULTS + 0x20)).toBe(0x380008n); // the interrupted RSP
    expect(readQword(machine, RESULTS + 0x28)).toBe(0x10n); // SS
    expect(readQword(machine, RESULTS + 0x10)).toBe(7n); // DIV retried with ECX = 1
  });

  it("#PF pushes an error code, loads CR2 with the faulting address, and the handler can skip the instruction", () => {
    const machine = machineWithHandlers(`
      mov rax, 0x55
      mov qword ptr [0x40000000], rax
      mov [${RESULTS + 0x10}], rax`, `
      mov rcx, [rsp]
      mov [${RESULTS}], rcx
      mov rcx, cr2
      mov [${RESULTS + 8}], rcx
      add qword ptr [rsp + 8], 8
      add rsp, 8
      iretq`);
    writeGate64(machine.memory, IDT, 14, handler(0), 0x18);
    runUntilHalt(machine);
    expect(readQword(machine, RESULTS)).toBe(0x2n); // not present, write, supervisor
    expect(readQword(machine, RESULTS + 8)).toBe(0x40000000n);
    expect(readQword(machine, RESULTS + 0x10)).toBe(0x55n);
  });

  it("INT n is delivered with the return address after the instruction, and an interrupt gate clears IF", () => {
    const machine = machineWithHandlers(`
      sti
      int 0x40
      mov [${RESULTS + 0x10}], rax`, `
      pushfq
      pop rax
      mov [${RESULTS}], rax
      mov rax, [rsp]
      mov [${RESULTS + 8}], rax
      mov eax, 0x99
      iretq`);
    writeGate64(machine.memory, IDT, 0x40, handler(0), 0x18);
    runUntilHalt(machine);
    expect(Number(readQword(machine, RESULTS)) & IF).toBe(0);
    const returnAddress = Number(readQword(machine, RESULTS + 8));
    expect(machine.memory.ram[returnAddress - 2]).toBe(0xcd); // right after INT 0x40
    expect(readQword(machine, RESULTS + 0x10)).toBe(0x99n);
    expect(machine.cpu.getFlags() & IF).toBe(IF); // IRETQ restored IF
  });

  it("a fault while delivering a #GP becomes #DF, and a fault while delivering #DF is a triple fault", () => {
    const machine = machineWithHandlers(`ud2`, `hlt`);
    // The #UD gate points at a non-present code segment descriptor: #NP during delivery → #DF;
    // the #DF gate is missing: not present → triple fault.
    writeGate64(machine.memory, IDT, 6, handler(0), 0x20);
    expect(() => runUntilHalt(machine)).toThrow(TripleFault);
  });

  it("escalates a contributory fault during delivery of another to #DF with error code 0", () => {
    const machine = machineWithHandlers(`ud2`, `
      mov rax, [rsp]
      mov [${RESULTS}], rax
      hlt`);
    writeGate64(machine.memory, IDT, 6, handler(0), 0x20); // #UD: bad code segment → #GP during delivery
    writeGate64(machine.memory, IDT, 13, handler(0), 0x28); // #GP: also bad → #DF
    writeGate64(machine.memory, IDT, 8, handler(0), 0x18);
    runUntilHalt(machine);
    expect(readQword(machine, RESULTS)).toBe(0n);
  });
});

describe("privilege levels, single-step and alignment checks", () => {
  it("IRETQ drops to CPL 3; a misaligned access with CR0.AM and RFLAGS.AC raises #AC(0), delivered on the TSS's RSP0 stack", () => {
    const machine = boot(`
      mov rsp, 0x380000
      mov ax, 0x30
      ltr ax
      lidt [idtr]
      mov qword ptr [0x6004], 0x390000
      mov rax, cr0
      or rax, 0x40000
      mov cr0, rax
      push 0x23
      push 0x3a0000
      push 0x40002
      push 0x2b
      lea rax, [rip + user]
      push rax
      iretq
    user:
      mov eax, [${RESULTS + 0x101}]
      hlt
    idtr:
      .word 0xfff
      .quad ${IDT}
    .org 0x800
      mov rax, [rsp]
      mov [${RESULTS}], rax
      mov rax, [rsp + 16]
      mov [${RESULTS + 8}], rax
      mov [${RESULTS + 0x10}], rsp
      mov rax, [rsp + 40]
      mov [${RESULTS + 0x18}], rax
      hlt`);
    writeGate64(machine.memory, IDT, 17, ORIGIN + 0x800, 0x18);
    runUntilHalt(machine);
    expect(readQword(machine, RESULTS)).toBe(0n); // #AC error code
    expect(readQword(machine, RESULTS + 8)).toBe(0x2bn); // interrupted CS: user code, RPL 3
    expect(readQword(machine, RESULTS + 0x10)).toBe(0x390000n - 48n); // RSP0 stack: SS RSP RFLAGS CS RIP error
    expect(readQword(machine, RESULTS + 0x18)).toBe(0x23n); // interrupted SS
    expect(machine.cpu.cpl).toBe(0);
  });

  it("RFLAGS.TF traps with #DB after the next instruction retires, with the following RIP as return address", () => {
    const machine = boot(`
      lidt [idtr]
      mov rsp, 0x380000
      pushfq
      or qword ptr [rsp], 0x100
      popfq
    first:
      inc ebx
    second:
      lea rax, [rip + second]
      mov [${RESULTS + 8}], rax
      hlt
    idtr:
      .word 0xfff
      .quad ${IDT}
    .org 0x800
      mov rax, [rsp]
      mov [${RESULTS}], rax
      and qword ptr [rsp + 16], ~0x100
      iretq`);
    writeGate64(machine.memory, IDT, 1, ORIGIN + 0x800, 0x18);
    runUntilHalt(machine);
    expect(readQword(machine, RESULTS)).toBe(readQword(machine, RESULTS + 8));
    expect(machine.cpu.regs[6]).toBe(1); // the single-stepped INC ran once
  });
});

describe("external interrupts", () => {
  it("are held off by IF=0 and by the STI shadow, taken after the instruction following STI, and wake HLT", () => {
    const machine = protectedModeMachine();
    const code = assemble(`
      ${ENTER_LONG_MODE}
      .code64
      long_mode:
      lidt [idtr]
      mov rsp, 0x380000
      xor ebx, ebx
      sti
      inc ebx
      inc ebx
      hlt
      mov [${RESULTS + 8}], rbx
      hlt
    idtr:
      .word 0xfff
      .quad ${IDT}
    .org 0x800
      mov [${RESULTS}], rbx
      add ebx, 100
      iretq`, ORIGIN, 32);
    machine.memory.loadBytes(ORIGIN, code);
    machine.cpu.rip = ORIGIN;
    writeGate64(machine.memory, IDT, 0x20, ORIGIN + 0x800, 0x18);
    let pending = true;
    machine.interpreter.interruptController = { hasPending: () => pending, acknowledge: () => { pending = false; return 0x20; } };
    runUntilHalt(machine); // interrupts pending from the start but IF=0 until STI; taken after the first INC
    expect(readQword(machine, RESULTS)).toBe(1n);
    // Now halted with IF=1 and nothing pending: stays halted until an interrupt arrives.
    machine.interpreter.step();
    expect(machine.cpu.halted).toBe(true);
    pending = true;
    machine.interpreter.step(); // delivery wakes the CPU
    expect(machine.cpu.halted).toBe(false);
    runUntilHalt(machine);
    expect(readQword(machine, RESULTS + 8)).toBe(202n);
  });
});

describe("the interpreter", () => {
  it("re-decodes code that the program overwrites (self-modifying code) and counts retired instructions exactly", () => {
    const machine = boot(`
      mov ecx, 3
    again:
      mov eax, 1
    patch_point:
      add ebx, eax
      mov byte ptr [rip + again + 1], 5
    after:
      dec ecx
      jnz again
      hlt`);
    runUntilHalt(machine);
    // First pass adds 1, then the immediate of "mov eax, 1" has become 5: 1 + 5 + 5.
    expect(machine.cpu.regs[6]).toBe(11);
    // Long-mode entry (22 instructions, the far jump included), MOV ECX, three passes of 5, and the HLT itself.
    expect(machine.cpu.retired).toBe(22 + 1 + 3 * 5 + 1);
  });

  it("names the cause, RIP and instruction of a fatal error in one line, with a register dump", () => {
    const machine = boot("ud2");
    expect(() => runUntilHalt(machine)).toThrow(TripleFault);
    const line = describeFatal(machine.cpu, "triple fault");
    expect(line).toMatch(/^triple fault at rip 0x0000000000100[0-9a-f]{3} \(64-bit mode\): ud2 \[0f 0b\]$/);
    expect(registerDump(machine.cpu)).toMatch(/rax=[0-9a-f]{16} .*\nrip=0000000000100/s);
  });
});

describe("the semantic table", () => {
  it("has semantics for every instruction form the decoder reports as supported", () => {
    expect(rowsWithoutSemantics().map((row) => row.source)).toEqual([]);
  });
});
