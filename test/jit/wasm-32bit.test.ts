// 32-bit protected-mode code in the WebAssembly backend: the stack instructions at 4 bytes (PUSH,
// POP, CALL, RET, RET imm16, LEAVE, indirect CALL/JMP through r/m32), ESP wrapping at 4 GiB, 64-bit
// arithmetic as 32-bit code computes it (ADC, SHLD/SHRD, MUL), and the guard that keeps such units
// off while the segments are not flat (a data segment based elsewhere, a 16-bit stack segment):
// then the interpreter's answer is the one that counts. Every case runs on the interpreter and on
// the WebAssembly backend and must give the same registers, results and instruction count; the
// cases that should compile check that WebAssembly units covered the loop.
import { describe, expect, it } from "vitest";
import { ORIGIN, RESULTS, assembleWithSymbols, guestMachine, symbol, type AssembledGuest, type EngineConfig } from "./support/asm-guest.js";

const INTERP: EngineConfig = { name: "interp", accel: "interp" };
const WASM: EngineConfig = { name: "jit (WebAssembly backend)", accel: "jit", jit: { threshold: 2, backend: "wasm", compileDelay: 0 } };
const STACK32 = 0x380000;

/** A GDT: flat code (0x08) and data (0x10), data based at 0x1000 (0x18), a 16-bit data/stack segment (0x20). */
function prologue(data: number, stack: number): string {
  return `
  lgdt [gdtr]
  mov ax, ${data}
  mov ds, ax
  mov es, ax
  mov ax, ${stack}
  mov ss, ax
  mov esp, ${STACK32}
`;
}
const TABLES = `
  .p2align 3
gdt:
  .quad 0
  .quad 0x00cf9a000000ffff
  .quad 0x00cf92000000ffff
  .quad 0x00cf92001000ffff
  .quad 0x008f92000000ffff
gdtr:
  .word 39
  .long gdt
`;
const EXIT = `
  mov al, 0
  out 0xf4, al
  hlt
`;

interface Outcome {
  stop: string;
  registers: bigint[];
  results: number[];
  retired: number;
  /** WebAssembly units compiled whose code includes `loop` */
  wasmUnitsAtLoop: number;
}

function run(guest: AssembledGuest, engine: EngineConfig): Outcome {
  const { machine, units } = guestMachine(guest, engine);
  const stop = machine.runSync({ maxInstructions: 2_000_000 });
  const regs = machine.cpu.regs;
  const loop = guest.symbols.get("loop") ?? -1;
  return {
    stop: stop.kind === "exit" ? `exit ${stop.status}` : stop.kind,
    registers: Array.from({ length: 8 }, (_, r) => (BigInt(regs[2 * r + 1] >>> 0) << 32n) | BigInt(regs[2 * r] >>> 0)),
    results: Array.from({ length: 8 }, (_, k) => machine.memory.view.getUint32(RESULTS + 4 * k, true)),
    retired: machine.cpu.retired,
    wasmUnitsAtLoop: units.filter((unit) => unit.wasmSlot >= 0 && Array.from(unit.rips).includes(loop)).length,
  };
}

function same(guest: AssembledGuest): { interp: Outcome; wasm: Outcome } {
  const interp = run(guest, INTERP);
  const wasm = run(guest, WASM);
  expect(interp.stop).toBe("exit 1");
  expect(wasm.stop).toBe(interp.stop);
  expect(wasm.registers).toEqual(interp.registers);
  expect(wasm.results).toEqual(interp.results);
  expect(wasm.retired).toBe(interp.retired);
  return { interp, wasm };
}

describe("32-bit code in the WebAssembly backend", () => {
  it("calls and returns with 4-byte stack slots: PUSH imm/reg/mem, POP, CALL rel and through r/m32, RET imm16, LEAVE", () => {
    const guest = assembleWithSymbols(`
  ${prologue(0x10, 0x10)}
  xor esi, esi
  xor edi, edi
  mov ecx, 40
  mov dword ptr [${RESULTS + 28}], offset callee2
loop:
  push ecx
  push 7
  push dword ptr [${RESULTS + 28}]
  call callee1
  add esi, eax
  mov edx, offset callee2
  call edx
  add edi, eax
  call dword ptr [${RESULTS + 28}]
  add edi, eax
  pop ecx
  pop ecx
  dec ecx
  jnz loop
  mov [${RESULTS}], esi
  mov [${RESULTS + 4}], edi
  mov [${RESULTS + 8}], esp
  ${EXIT}
callee1:
  push ebp
  mov ebp, esp
  sub esp, 16
  mov eax, [ebp + 8]
  add eax, [ebp + 12]
  mov [ebp - 4], eax
  mov eax, [ebp - 4]
  leave
  ret 4
callee2:
  mov eax, esp
  and eax, 0xff
  ret
  ${TABLES}`, ORIGIN, 32);
    const { interp, wasm } = same(guest);
    expect(interp.results[2]).toBe(STACK32);
    expect(wasm.wasmUnitsAtLoop).toBeGreaterThan(0);
  });

  it("an indirect JMP through a register and a table in memory", () => {
    const guest = assembleWithSymbols(`
  ${prologue(0x10, 0x10)}
  xor esi, esi
  mov ecx, 60
  mov dword ptr [${RESULTS + 24}], offset even
  mov dword ptr [${RESULTS + 28}], offset odd
loop:
  mov eax, ecx
  and eax, 1
  jmp dword ptr [${RESULTS + 24} + eax * 4]
even:
  add esi, 3
  mov edx, offset next
  jmp edx
odd:
  add esi, 5
next:
  dec ecx
  jnz loop
  mov [${RESULTS}], esi
  ${EXIT}
  ${TABLES}`, ORIGIN, 32);
    const { interp, wasm } = same(guest);
    expect(interp.results[0]).toBe(30 * 3 + 30 * 5);
    expect(wasm.wasmUnitsAtLoop).toBeGreaterThan(0);
  });

  it("64-bit arithmetic as 32-bit code does it: xorshift64 with SHLD/SHRD, a 64-bit add with ADC, MUL", () => {
    const guest = assembleWithSymbols(`
  ${prologue(0x10, 0x10)}
  mov esi, 0x9e3779b9
  mov edi, 0x7f4a7c15
  xor ebx, ebx
  mov ebp, 1
  mov ecx, 200
loop:
  push ecx
  mov eax, esi
  mov edx, edi
  shld edx, eax, 13
  shl eax, 13
  xor esi, eax
  xor edi, edx
  mov eax, esi
  mov edx, edi
  shrd eax, edx, 7
  shr edx, 7
  xor esi, eax
  xor edi, edx
  mov eax, esi
  mov edx, edi
  shld edx, eax, 17
  shl eax, 17
  xor esi, eax
  xor edi, edx
  add ebx, esi
  adc ebp, edi
  mov eax, esi
  mov ecx, 0x01000193
  mul ecx
  xor ebx, eax
  add ebp, edx
  pop ecx
  dec ecx
  jnz loop
  mov [${RESULTS}], esi
  mov [${RESULTS + 4}], edi
  mov [${RESULTS + 8}], ebx
  mov [${RESULTS + 12}], ebp
  ${EXIT}
  ${TABLES}`, ORIGIN, 32);
    const { interp, wasm } = same(guest);
    // the xorshift64 state, computed independently
    let x = 0x7f4a7c159e3779b9n;
    for (let i = 0; i < 200; i++) {
      x ^= (x << 13n) & 0xffffffffffffffffn;
      x ^= x >> 7n;
      x ^= (x << 17n) & 0xffffffffffffffffn;
    }
    expect(interp.results[0]).toBe(Number(x & 0xffffffffn));
    expect(interp.results[1]).toBe(Number(x >> 32n));
    expect(wasm.wasmUnitsAtLoop).toBeGreaterThan(0);
  });

  it("ESP wraps at 4 GiB: a PUSH at ESP = 0 stores at 0xfffffffc and leaves ESP's high half clear", () => {
    const guest = assembleWithSymbols(`
  ${prologue(0x10, 0x10)}
  mov ecx, 30
  xor esi, esi
loop:
  mov ebx, esp
  xor esp, esp
  push ecx
  mov edx, esp
  pop eax
  mov esp, ebx
  add esi, edx
  dec ecx
  jnz loop
  mov [${RESULTS}], esi
  mov [${RESULTS + 4}], edx
  ${EXIT}
  ${TABLES}`, ORIGIN, 32);
    const { interp, wasm } = same(guest);
    expect(interp.results[1]).toBe(0xfffffffc);
    expect(wasm.wasmUnitsAtLoop).toBeGreaterThan(0);
  });

  it("a data segment based at 0x1000: the units stay off and the base is applied (the interpreter's answer)", () => {
    const guest = assembleWithSymbols(`
  ${prologue(0x10, 0x10)}
  mov dword ptr [${RESULTS + 0x1000}], 11
  mov dword ptr [${RESULTS}], 22
  xor esi, esi
  mov ecx, 40
loop:
  add esi, [${RESULTS}]
  dec ecx
  jnz loop
  mov ax, 0x18
  mov ds, ax
  mov ecx, 40
again:
  add esi, [${RESULTS}]
  call nothing
  dec ecx
  jnz loop_based
loop_based:
  cmp ecx, 0
  jnz again
  mov ax, 0x10
  mov ds, ax
  mov [${RESULTS + 16}], esi
  ${EXIT}
nothing:
  ret
  ${TABLES}`, ORIGIN, 32);
    const { interp } = same(guest);
    expect(interp.results[4]).toBe(40 * 22 + 40 * 11);
  });

  it("a 16-bit stack segment: PUSH and POP move SP only, as the interpreter does", () => {
    const guest = assembleWithSymbols(`
  ${prologue(0x10, 0x10)}
  mov ecx, 30
  xor esi, esi
loop:
  push ecx
  pop eax
  add esi, eax
  dec ecx
  jnz loop
  mov ax, 0x20
  mov ss, ax
  mov esp, 0x12348000
  mov ecx, 30
again:
  push ecx
  call nothing
  pop eax
  add esi, eax
  dec ecx
  jnz again
  mov [${RESULTS}], esi
  mov [${RESULTS + 4}], esp
  mov ax, 0x10
  mov ss, ax
  mov esp, ${STACK32}
  ${EXIT}
nothing:
  ret
  ${TABLES}`, ORIGIN, 32);
    const { interp } = same(guest);
    expect(interp.results[0]).toBe(2 * (30 * 31) / 2);
    expect(interp.results[1]).toBe(0x12348000);
    expect(symbol(guest, "again")).toBeGreaterThan(ORIGIN);
  });
});
