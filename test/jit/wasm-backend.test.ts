// The WebAssembly backend (--jit-backend wasm) compiles the 64-bit code its templates cover to one
// WebAssembly function per unit. Every template here runs over every ordered pair of awkward values
// (sign and carry boundaries at 8, 16, 32 and 64 bits) with RFLAGS preset from the pair and the case
// (so no two neighbouring cases start from the same flags), and must
// leave the interpreter's results and RFLAGS; each operation must really have run in a WebAssembly
// unit (POPFQ before it and PUSHFQ after it end the unit, so the flags record a unit leaves at its
// exit is what PUSHFQ reads; each case is 128-byte aligned, as an instruction crossing a page is
// always left to the interpreter). The other suites run the backend too (ENGINES in support/asm-guest.ts:
// precise exceptions, self-modifying code, string fast paths …), and check-mode.test.ts runs it in
// lockstep with the interpreter over the selftest.
import { describe, expect, it } from "vitest";
import { ENGINES, STACK_TOP, assembleLongModeGuest, guestMachine, qword, type EngineConfig } from "./support/asm-guest.js";
import { WASM_COMPILE_DELAY } from "../../src/jit/engine.js";
import { flagsProbe, forEveryPair } from "./support/engine-compare.js";
import { ENABLE_SSE } from "../machine/support/long-mode.js";

const OUT = 0x500000;
const SCRATCH = 0x600000;
const VALUES = ["0", "1", "0x7f", "0x80", "0xff", "0x7fff", "0x8000", "0xffff", "0x7fffffff", "0x80000000", "0xffffffff", "0x7fffffffffffffff", "0x8000000000000000", "0xffffffffffffffff", "0x0123456789abcdef"];
const CONDITIONS = ["o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p", "np", "l", "ge", "le", "g"];

/** Each case: the operation (rax = first value, rbx = second, r11 = a scratch qword), and the mnemonic WebAssembly must have run. */
const CASES: [string, string][] = [
  ["add rax, rbx", "add"], ["sub rax, rbx", "sub"], ["and rax, rbx", "and"], ["or rax, rbx", "or"], ["xor rax, rbx", "xor"],
  ["cmp rax, rbx", "cmp"], ["test rax, rbx", "test"], ["add eax, ebx", "add"], ["sub eax, ebx", "sub"], ["cmp eax, ebx", "cmp"],
  ["add ax, bx", "add"], ["sub al, bl", "sub"], ["cmp al, bl", "cmp"], ["add ah, bl", "add"], ["xor bh, al", "xor"],
  ["adc rax, rbx", "adc"], ["sbb rax, rbx", "sbb"], ["adc eax, ebx", "adc"], ["sbb eax, eax", "sbb"], ["adc al, bl", "adc"], ["sbb ax, bx", "sbb"],
  ["sbb rax, -1", "sbb"], ["adc eax, 0x7fffffff", "adc"], ["mov [r11], rax\n  adc [r11], rbx\n  mov rax, [r11]", "adc"],
  ["add rax, -5", "add"], ["cmp rax, 0x7f", "cmp"], ["and eax, 0xfff0", "and"], ["sub ax, 3", "sub"], ["test al, 0x81", "test"],
  ["inc rax", "inc"], ["dec eax", "dec"], ["inc al", "inc"], ["dec ax", "dec"], ["neg rax", "neg"], ["neg eax", "neg"], ["neg al", "neg"], ["not rax", "not"],
  ["shl rax, 1", "shl"], ["shl rax, 63", "shl"], ["shr eax, 31", "shr"], ["shr rax, 1", "shr"], ["sar rax, 7", "sar"], ["sar al, 3", "sar"],
  ["shl al, 9", "shl"], ["shr ax, 17", "shr"], ["shl eax, 0", "shl"], ["rol rax, 13", "rol"], ["ror eax, 1", "ror"], ["rol al, 3", "rol"], ["ror ax, 20", "ror"], ["ror rax, 64", "ror"],
  ["mov ecx, ebx\n  shl rax, cl", "shl"], ["mov ecx, ebx\n  shr eax, cl", "shr"], ["mov ecx, ebx\n  sar al, cl", "sar"],
  ["mov ecx, ebx\n  shl ax, cl", "shl"], ["mov ecx, ebx\n  sar rax, cl", "sar"], ["mov ecx, ebx\n  shr bl, cl", "shr"],
  ["mov [r11], rax\n  mov ecx, ebx\n  shr dword ptr [r11], cl\n  mov rax, [r11]", "shr"],
  ["imul eax, ebx", "imul"], ["imul eax, ebx, -7", "imul"], ["imul rax, rbx\n  mov rdx, 0", "imul"], ["imul rax, rbx, -3", "imul"], ["imul rbx, rax", "imul"],
  ...CONDITIONS.map((cc): [string, string] => [`cmp rax, rbx\n  set${cc} al`, `set${cc}`]),
  ...CONDITIONS.map((cc): [string, string] => [`cmp eax, ebx\n  set${cc} ah`, `set${cc}`]),
  ...CONDITIONS.map((cc): [string, string] => [`sub al, bl\n  cmov${cc} rax, rbx`, `cmov${cc}`]),
  ...["b", "l", "e", "s", "p", "o"].map((cc): [string, string] => [`and rax, rbx\n  set${cc} al`, `set${cc}`]),
  ...["b", "e", "l"].map((cc): [string, string] => [`add rax, rbx\n  j${cc} 1f\n  not rax\n1:`, `j${cc}`]),
  ["mov al, bl", "mov"], ["mov ah, bl", "mov"], ["mov ax, bx", "mov"], ["mov eax, ebx", "mov"], ["mov rax, 0x123456789", "mov"],
  ["mov eax, -1", "mov"], ["mov rax, -4096", "mov"], ["movzx eax, bl", "movzx"], ["movsx rax, bx", "movsx"], ["movsxd rax, ebx", "movsxd"],
  ["lea eax, [rax + rbx*4 - 1]", "lea"], ["lea rax, [rbx + rax*8 + 0x12345678]", "lea"],
  ["mov [r11], rax\n  add [r11], rbx\n  mov rax, [r11]", "add"],
  ["mov [r11], eax\n  sub dword ptr [r11], ebx\n  mov eax, [r11]", "sub"],
  ["mov [r11], rax\n  inc qword ptr [r11]\n  mov rax, [r11]", "inc"],
  ["mov [r11], rax\n  shl dword ptr [r11], 3\n  mov rax, [r11]", "shl"],
  ["mov [r11], rbx\n  cmp rax, [r11]\n  movzx eax, byte ptr [r11 + 1]", "movzx"],
  ["mov [r11], rbx\n  movsx rax, word ptr [r11]", "movsx"],
  ["mov [r11], rbx\n  sete byte ptr [r11]\n  mov rax, [r11]", "sete"],
  ["movq xmm0, rax\n  movq xmm1, rbx\n  pxor xmm0, xmm1\n  movq rax, xmm0", "pxor"],
  ["movq xmm0, rax\n  movq xmm1, rbx\n  punpcklqdq xmm0, xmm1\n  movdqa [r11], xmm0\n  mov rax, [r11 + 8]\n  xor rax, [r11]", "punpcklqdq"],
  ["mov [r11], rax\n  mov [r11 + 8], rbx\n  movdqu xmm2, [r11]\n  movdqa xmm3, xmm2\n  movups [r11 + 3], xmm3\n  mov rax, [r11 + 8]", "movups"],
  ["mov [r11], rbx\n  mov [r11 + 8], rax\n  movaps xmm5, [r11]\n  pxor xmm5, [r11]\n  movq rax, xmm5", "movaps"],
  ["mov [r11], rbx\n  mov [r11 + 8], rax\n  movdqa xmm6, [r11]\n  movd eax, xmm6", "movd"],
  ["movd xmm7, ebx\n  movq [r11], xmm7\n  mov rax, [r11]", "movq"],
  ["mov [r11], rbx\n  movq xmm8, [r11]\n  movq xmm9, xmm8\n  movq rax, xmm9", "movq"],
  ["push rbx\n  pop rax", "pop"], ["push -3\n  pop rax", "push"],
  ["call double_plus\n  add rax, 1", "call"],
  ["lea rdx, [rip + double_plus]\n  call rdx\n  xor rax, rbx", "call"],
  ["lea rdx, [rip + double_plus]\n  mov [r11], rdx\n  call qword ptr [r11]\n  sub rax, rbx", "call"],
  ["lea rdx, [rip + 1f]\n  jmp rdx\n  not rax\n1:\n  add rax, rbx", "jmp"],
  ["push rbp\n  mov rbp, rsp\n  push rax\n  push rbx\n  leave", "leave"],
  // one-operand MUL/IMUL, DIV/IDIV (and the fallback to the semantics when rDX is significant), CQO, BSWAP
  ["mul rbx\n  xor rax, rdx", "mul"], ["imul rbx\n  add rax, rdx", "imul"], ["imul ebx", "imul"], ["mul ebx\n  xor rax, rdx", "mul"],
  ["mov [r11], rbx\n  mul qword ptr [r11]\n  sub rax, rdx", "mul"], ["mov [r11], rbx\n  imul dword ptr [r11]\n  xor rax, rdx", "imul"],
  ["mul bl\n  xor rax, rdx", "mul"], ["imul bl", "imul"], ["mov cl, bl\n  or cl, 1\n  mov ah, 0\n  div cl", "div"], ["mul bx\n  xor rax, rdx", "mul"],
  ["bswap rax", "bswap"], ["bswap ebx\n  mov eax, ebx", "bswap"], ["cdqe", "cdqe"], ["cdq\n  xor rax, rdx", "cdq"],
  ["mov rcx, rbx\n  shr rcx, 1\n  or rcx, 1\n  xor edx, edx\n  div rcx\n  xor rax, rdx", "div"],
  ["mov rcx, rbx\n  shr rcx, 1\n  or rcx, 1\n  cqo\n  idiv rcx\n  add rax, rdx", "idiv"],
  ["mov ecx, ebx\n  or ecx, 1\n  xor edx, edx\n  div ecx\n  xor rax, rdx", "div"],
  ["mov ecx, ebx\n  shr ecx, 1\n  or ecx, 1\n  cdq\n  idiv ecx\n  sub rax, rdx", "idiv"],
  ["mov ecx, ebx\n  bts ecx, 30\n  mov edx, 1\n  div ecx\n  xor rax, rdx", "div"],
  ["mov rcx, rbx\n  bts rcx, 62\n  mov edx, 1\n  div rcx\n  xor rax, rdx", "div"],
  ["mov [r11], rbx\n  shr qword ptr [r11], 1\n  or qword ptr [r11], 1\n  cqo\n  idiv qword ptr [r11]\n  xor rax, rdx", "idiv"],
  // no template: run inside the unit through the interpreter's semantics (ex), flags handed both ways
  ["bt rax, rbx", "bt"], ["bts rax, 13", "bts"], ["cmp rax, rbx\n  cmc", "cmc"], ["sub rax, rbx\n  lahf", "lahf"], ["add eax, ebx\n  rcl rax, 1", "rcl"],
  ["shld rax, rbx, 7", "shld"], ["shrd rax, rbx, 32", "shrd"], ["shrd rax, rbx, 1", "shrd"], ["shld rax, rbx, 63", "shld"],
  ["shrd eax, ebx, 5", "shrd"], ["shld eax, ebx, 31", "shld"], ["shrd eax, ebx, 0", "shrd"], ["mov ecx, ebx\n  shrd rax, rbx, cl", "shrd"],
  ["mov [r11], rax\n  shrd qword ptr [r11], rbx, 3\n  mov rax, [r11]", "shrd"], ["mov ecx, ebx\n  ror rax, cl", "ror"], ["xadd rax, rbx\n  sub rax, rbx", "xadd"], ["bsr rax, rbx", "bsr"], ["popcnt rax, rbx", "popcnt"],
  ["cmp rax, rbx\n  cqo\n  adc rax, rdx", "cqo"], ["mov [r11], rax\n  xchg [r11], rbx\n  mov rax, [r11]", "xchg"],
  ["push rdi\n  mov [r11], rax\n  mov [r11 + 8], rbx\n  lea rsi, [r11]\n  lea rdi, [r11 + 3]\n  mov ecx, 9\n  rep movsb\n  mov rax, [r11 + 8]\n  pop rdi", "movsb"],
  ["push rdi\n  mov [r11 + 8], rbx\n  lea rdi, [r11 + 1]\n  mov ecx, 11\n  rep stosb\n  mov rax, [r11 + 8]\n  pop rdi", "stosb"],
  // REP MOVSB/STOSB's template: within a page (memory.copy/fill), and what it leaves to the semantics
  ["push rdi\n  mov [r11], rax\n  mov [r11 + 8], rbx\n  lea rsi, [r11]\n  lea rdi, [r11 + 20]\n  mov ecx, 16\n  rep movsb\n  mov rax, [r11 + 28]\n  sub rax, rsi\n  pop rdi", "movsb"],
  ["push rdi\n  mov [r11], rax\n  mov [r11 + 8], rbx\n  lea rsi, [r11 + 3]\n  lea rdi, [r11]\n  mov ecx, 12\n  rep movsb\n  mov rax, [r11]\n  xor rax, rcx\n  pop rdi", "movsb"],
  ["push rdi\n  mov [r11 + 4088], rbx\n  lea rdi, [r11 + 4092]\n  mov ecx, 9\n  rep stosb\n  mov rax, [r11 + 4090]\n  add rax, rdi\n  pop rdi", "stosb"],
  ["push rdi\n  mov [r11 + 16], rbx\n  std\n  lea rdi, [r11 + 22]\n  mov ecx, 3\n  rep stosb\n  cld\n  mov rax, [r11 + 16]\n  pop rdi", "stosb"],
  ["push rdi\n  lea rdi, [r11]\n  xor ecx, ecx\n  rep stosb\n  lea rax, [rdi + rax]\n  pop rdi", "stosb"],
];

const GUEST = assembleLongModeGuest(`
${ENABLE_SSE}
  mov rsp, ${STACK_TOP}
  mov rdi, ${OUT}
  mov r11, ${SCRATCH}
${forEveryPair(VALUES, CASES.map(([op], c) => `
  .p2align 7
  mov rax, [r8 + r9*8]
  mov rbx, [r8 + r10*8]
  lea ecx, [r9 + r10*4 + ${c}]
  imul ecx, ecx, 0x2b${flagsProbe(op)}`).join(""))}
double_plus:
  lea rax, [rax + rbx*2 + 5]
  ret`);

const BYTES = VALUES.length * VALUES.length * CASES.length * 16;
const WASM_ENGINE = ENGINES.find((engine) => engine.jit?.backend === "wasm")!;

function run(engine: (typeof ENGINES)[number]) {
  const { machine, units } = guestMachine(GUEST, engine);
  const stop = machine.runSync({ maxInstructions: 50_000_000 });
  return { stop: stop.kind === "exit" ? `exit ${stop.status}` : stop.kind, out: machine.memory.ram.slice(OUT, OUT + BYTES), units };
}

describe("the WebAssembly backend's templates", () => {
  const reference = run(ENGINES[0]);
  const wasm = run(WASM_ENGINE);

  it("runs the guest to its end under both engines", () => {
    expect(reference.stop).toBe("exit 1");
    expect(wasm.stop).toBe("exit 1");
  });

  it("leaves every result and RFLAGS as the interpreter does", () => {
    const first = wasm.out.findIndex((byte, k) => byte !== reference.out[k]);
    const caseIndex = Math.floor(first / 16) % CASES.length;
    const pair = Math.floor(first / 16 / CASES.length);
    const where = first < 0 ? "" : `case '${CASES[caseIndex][0]}' with ${VALUES[Math.floor(pair / VALUES.length)]}, ${VALUES[pair % VALUES.length]} (${first % 16 < 8 ? "rax" : "rflags"})`;
    expect(first, where).toBe(-1);
  });

  it("ran every operation in WebAssembly units", () => {
    const wasmUnits = wasm.units.filter((unit) => unit.name.startsWith("wasm_"));
    expect(wasmUnits.length).toBeGreaterThan(CASES.length / 2);
    const compiled = new Set<string>();
    for (const unit of wasmUnits) for (const ins of unit.instructions) compiled.add(ins.mnemonic);
    const missing = [...new Set(CASES.map(([, mnemonic]) => mnemonic))].filter((m) => !compiled.has(m));
    expect(missing, "mnemonics no WebAssembly unit ran").toEqual([]);
  });
});

// A unit that leaves a flags producer pending and calls a unit starting with flag readers: the
// caller loop goes on to the readers itself, materialising the record as LazyFlags does (every
// operation WebAssembly units record: ADD, SUB, LOGIC, INC/DEC with the CF kept from before, a
// materialised word after shifts and IMUL).
const PRODUCERS = [
  "cmp rax, rbx", "cmp eax, ebx", "cmp al, bl", "cmp ax, bx", "add rax, rbx", "add eax, ebx", "add al, bl", "sub rax, rbx",
  "and rax, rbx", "test eax, ebx", "xor al, bl", "cmp rbx, rax\n  inc rax", "cmp rax, rbx\n  dec eax", "cmp rbx, rax\n  dec al",
  "neg rax", "adc rax, rbx", "sbb eax, ebx", "shl rax, 1", "sar eax, 3", "imul eax, ebx", "imul rax, rbx", "rol rax, 1",
];
const READERS = CONDITIONS.map((cc, k) => `  set${cc} byte ptr [rdi + ${k}]`).join("\n");
const CHAIN_GUEST = assembleLongModeGuest(`
${ENABLE_SSE}
  mov rsp, ${STACK_TOP}
  mov rdi, ${OUT}
${forEveryPair(VALUES, PRODUCERS.map((op) => `
  mov rax, [r8 + r9*8]
  mov rbx, [r8 + r10*8]
  ${op}
  call readers`).join(""))}
readers:
${READERS}
  lea rdi, [rdi + 16]
  ret`);
const CHAIN_BYTES = VALUES.length * VALUES.length * PRODUCERS.length * 16;

describe("the WebAssembly caller loop going on to units that read the flags they are entered with", () => {
  const runChain = (engine: (typeof ENGINES)[number]) => {
    const { machine } = guestMachine(CHAIN_GUEST, engine);
    const stop = machine.runSync({ maxInstructions: 50_000_000 });
    return { stop: stop.kind === "exit" ? `exit ${stop.status}` : stop.kind, out: machine.memory.ram.slice(OUT, OUT + CHAIN_BYTES), chained: machine.jit?.stats().chainedDispatches ?? 0 };
  };
  const reference = runChain(ENGINES[0]);
  const wasm = runChain(WASM_ENGINE);

  it("every condition after every producer as under the interpreter, through chained units", () => {
    expect(reference.stop).toBe("exit 1");
    expect(wasm.stop).toBe("exit 1");
    const first = wasm.out.findIndex((byte, k) => byte !== reference.out[k]);
    const pair = Math.floor(first / 16 / PRODUCERS.length);
    const where = first < 0 ? "" : `'${PRODUCERS[Math.floor(first / 16) % PRODUCERS.length]}' with ${VALUES[Math.floor(pair / VALUES.length)]}, ${VALUES[pair % VALUES.length]}: set${CONDITIONS[first % 16]}`;
    expect(first, where).toBe(-1);
    // most calls of the readers came from the caller loop, not from the dispatcher
    expect(wasm.chained).toBeGreaterThan(VALUES.length * VALUES.length * PRODUCERS.length);
  });
});

// Units start in a module of their own and are then recompiled, 16 at a time and 4 packs into one,
// into shared modules (wasm-unit.ts). 90 functions, each its own unit, called in a loop: the packed
// units must go on computing what the interpreter does, and one overwritten after packing must run
// its new code (its old function stays out of later packs), in a pack as well.
const PACKED_FUNCTIONS = 90;
const CALLS = Array.from({ length: PACKED_FUNCTIONS }, (_, k) => `  call f${k}`).join("\n");
const FUNCTIONS = Array.from({ length: PACKED_FUNCTIONS }, (_, k) => `f${k}:\n  add rax, ${k * 7919 + 1}\n  xor rax, rbx\n  rol rax, ${(k % 63) + 1}\n  ret`).join("\n");
const PACK_GUEST = assembleLongModeGuest(`
  mov rsp, ${STACK_TOP}
  xor eax, eax
  mov rbx, 0x9e3779b97f4a7c15
  mov ecx, 200
1:
${CALLS}
  dec ecx
  jnz 1b
  mov [${OUT}], rax
  lea rdx, [rip + f17]
  mov dword ptr [rdx + 2], 1000003
  mov ecx, 200
2:
${CALLS}
  dec ecx
  jnz 2b
  mov [${OUT + 8}], rax
  mov al, 1
  out 0xf4, al
  hlt
${FUNCTIONS}`);

describe("WebAssembly units packed into shared modules", () => {
  const runPacked = (engine: EngineConfig) => {
    const { machine } = guestMachine(PACK_GUEST, engine);
    const stop = machine.runSync({ maxInstructions: 10_000_000 });
    return { stop: stop.kind === "exit" ? `exit ${stop.status}` : stop.kind, out: [qword(machine, OUT), qword(machine, OUT + 8)], stats: machine.jit?.stats() };
  };
  const reference = runPacked(ENGINES[0]);
  const wasm = runPacked(WASM_ENGINE);

  it("compute what the interpreter does, before and after one of them is overwritten", () => {
    expect(reference.stop).toBe("exit 3");
    expect(wasm.stop).toBe("exit 3");
    expect(wasm.out).toEqual(reference.out);
    // and what the functions compute, with f17's immediate replaced for the second loop
    const mask = (1n << 64n) - 1n;
    let rax = 0n;
    const expected: bigint[] = [];
    for (const overwritten of [false, true]) {
      for (let i = 0; i < 200; i++) {
        for (let k = 0; k < PACKED_FUNCTIONS; k++) {
          const add = overwritten && k === 17 ? 1000003n : BigInt(k * 7919 + 1);
          const x = ((rax + add) & mask) ^ 0x9e3779b97f4a7c15n;
          const r = BigInt((k % 63) + 1);
          rax = ((x << r) | (x >> (64n - r))) & mask;
        }
      }
      expected.push(rax);
    }
    expect(wasm.out).toEqual(expected);
  });

  it("packed every function's unit, in packs of packs too, and ran them chained", () => {
    const stats = wasm.stats!;
    // 90 units and the loops: at least five packs of 16, and one merge of four into a pack of 64
    expect(stats.packsCompiled).toBeGreaterThanOrEqual(6);
    expect(stats.unitsPacked).toBeGreaterThanOrEqual(PACKED_FUNCTIONS + 64);
    expect(stats.invalidations).toBeGreaterThanOrEqual(1);
    expect(stats.chainedDispatches).toBeGreaterThan(2 * 200 * PACKED_FUNCTIONS);
  });

  it("compiled together when the units that become hot meanwhile wait for one module (the default)", () => {
    const batched = runPacked({ ...WASM_ENGINE, jit: { ...WASM_ENGINE.jit, compileDelay: WASM_COMPILE_DELAY } });
    expect(batched.stop).toBe("exit 3");
    expect(batched.out).toEqual(reference.out);
    const stats = batched.stats!;
    expect(stats.unitsCompiled).toBeGreaterThan(PACKED_FUNCTIONS);
    // far fewer modules than units, packs included; and one unit at a time took one module each
    expect(stats.wasmModules).toBeLessThan(stats.unitsCompiled / 4);
    expect(wasm.stats!.wasmModules).toBeGreaterThan(wasm.stats!.unitsCompiled);
  });
});

// A unit translated while it waits to be compiled with others is not watched for stores yet: the
// guest code is compared at compile time, and a translation of code the guest has rewritten since
// is dropped (the new code becomes hot and is translated again).
const PENDING_GUEST = assembleLongModeGuest(`
  mov rsp, ${STACK_TOP}
  xor eax, eax
  mov ecx, 100
1:
  call patched
  dec ecx
  jnz 1b
  lea rdx, [rip + patched]
  mov dword ptr [rdx + 2], 0x777
  mov ecx, 30000
2:
  call patched
  dec ecx
  jnz 2b
  mov [${OUT}], rax
  mov al, 1
  out 0xf4, al
  hlt
patched:
  add rax, 0x101
  rol rax, 5
  ret`);

describe("a WebAssembly unit whose code the guest rewrites before it is compiled", () => {
  const run = (engine: EngineConfig) => {
    const { machine } = guestMachine(PENDING_GUEST, engine);
    const stop = machine.runSync({ maxInstructions: 10_000_000 });
    return { stop: stop.kind === "exit" ? `exit ${stop.status}` : stop.kind, out: qword(machine, OUT), retired: machine.cpu.retired, jit: machine.jit };
  };
  const reference = run(ENGINES[0]);
  const batched = run({ ...WASM_ENGINE, jit: { ...WASM_ENGINE.jit, compileDelay: 1_000 } });

  it("runs the new code, as the interpreter does", () => {
    expect(reference.stop).toBe("exit 3");
    expect(batched.stop).toBe("exit 3");
    let rax = 0n;
    for (let i = 0; i < 30100; i++) {
      rax = (rax + (i < 100 ? 0x101n : 0x777n)) & ((1n << 64n) - 1n);
      rax = ((rax << 5n) | (rax >> 59n)) & ((1n << 64n) - 1n);
    }
    expect(reference.out).toBe(rax);
    expect(batched.out).toBe(rax);
    expect(batched.retired).toBe(reference.retired);
  });

  it("dropped the translation of the old code and compiled the new", () => {
    expect(batched.jit!.staleTranslations).toBeGreaterThanOrEqual(1);
    expect(batched.jit!.stats().chainedDispatches).toBeGreaterThan(20_000);
  });
});
