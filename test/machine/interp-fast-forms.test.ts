// The interpreter's pre-decoded handlers (src/machine/interp/fast-forms.ts) against its generic
// path: random instructions of every form the handlers take, from random states, run once with the
// handlers and once without, on two machines that start identical. Registers, RIP, the
// materialised flags, all of memory, CR2, the retired count and the fault (vector and error code)
// must agree, in 64-bit mode with paging (a read-only page and unmapped addresses for faults, an
// FS base) and in 32-bit protected mode. Every specialised handler must have been exercised.
// FAST_FORMS_CASES sets the number of cases per mode (default 20000, fixed seed).
import { describe, expect, it } from "vitest";
import { DecodeStatus, decode } from "../../src/decoder/decode.js";
import { CR0_PE, CR0_PG, CR0_WP, CR4_PAE, CS, Cpu, DS, EFER_LME, ES, FS, GS, SEG_L, SS } from "../../src/machine/cpu.js";
import { CpuException } from "../../src/machine/cpu-exception.js";
import { PortBus } from "../../src/machine/io-bus.js";
import { fastHandlerFor, SPECIALISED_HANDLERS } from "../../src/machine/interp/fast-forms.js";
import { Interpreter } from "../../src/machine/interp/interpreter.js";
import { LAZY_ADC, LAZY_ADD, LAZY_DEC, LAZY_INC, LAZY_LOGIC, LAZY_NONE, LAZY_SBB, LAZY_SUB } from "../../src/machine/lazy-flags.js";
import { PhysicalMemory } from "../../src/machine/memory.js";
import { xorshift32 } from "../support/random.js";

const RAM = 4 * 1024 * 1024;
const CODE = 0x10000;
const DATA = 0x100000; // pointers in registers aim around here
const READ_ONLY = 0x200000; // the second 2 MiB page is mapped read-only in 64-bit mode
const CASES = Number(process.env.FAST_FORMS_CASES ?? 20000);

interface Machine { cpu: Cpu; interpreter: Interpreter; memory: PhysicalMemory }

function machine(mode: 64 | 32, fastForms: boolean): Machine {
  const memory = new PhysicalMemory(RAM);
  const cpu = new Cpu(memory, new PortBus());
  const interpreter = new Interpreter(cpu);
  interpreter.fastForms = fastForms;
  for (const segment of [ES, SS, DS, FS, GS]) {
    cpu.segSelector[segment] = 0x10;
    cpu.segAttributes[segment] = 0x93 | (1 << 14) | (1 << 15);
  }
  cpu.segSelector[CS] = 0x08;
  cpu.segAttributes[CS] = 0x9b | (1 << 14) | (1 << 15);
  cpu.cr0 = CR0_PE;
  if (mode === 64) {
    // PML4 at 0x1000 → PDPT at 0x2000 → PD at 0x3000: 2 MiB pages, the second read-only
    const entry = (value: number) => [value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, value >>> 24];
    memory.loadBytes(0x1000, entry(0x2007));
    memory.loadBytes(0x2000, entry(0x3007));
    memory.loadBytes(0x3000, entry(0x000087));
    memory.loadBytes(0x3008, entry(READ_ONLY | 0x85));
    cpu.cr4 = CR4_PAE;
    cpu.cr3 = 0x1000;
    cpu.efer = EFER_LME;
    cpu.cr0 = CR0_PE | CR0_PG | CR0_WP;
    cpu.segAttributes[CS] = 0x9b | SEG_L | (1 << 15);
  }
  cpu.updateMode();
  expect(cpu.mode).toBe(mode);
  return { cpu, interpreter, memory };
}

const LAZY_OPS = [LAZY_NONE, LAZY_ADD, LAZY_ADC, LAZY_SUB, LAZY_SBB, LAZY_LOGIC, LAZY_INC, LAZY_DEC];

/** Opcode bytes of the forms the handlers take, and neighbours they must leave to the generic path. */
const OPCODES: number[][] = [
  ...[0x00, 0x08, 0x10, 0x18, 0x20, 0x28, 0x30, 0x38].flatMap((base) => [[base], [base + 1], [base + 2], [base + 3], [base + 4], [base + 5]]),
  [0x80], [0x81], [0x83], [0x84], [0x85], [0x88], [0x89], [0x8a], [0x8b], [0x8d], [0xc6], [0xc7],
  [0xb0], [0xb3], [0xb8], [0xbb], [0xbf], [0x50], [0x53], [0x54], [0x58], [0x5c], [0x5d],
  [0xc0], [0xc1], [0xd0], [0xd1], [0xd2], [0xd3], [0xf6], [0xf7], [0xfe], [0xff], [0x63], [0x86], [0x87],
  [0x0f, 0xb6], [0x0f, 0xb7], [0x0f, 0xbe], [0x0f, 0xbf], [0x0f, 0x44], [0x0f, 0x94], [0x0f, 0xaf],
  [0x74], [0x75], [0xeb], [0xe8], [0xc3], [0xa8], [0xa9], [0x0f, 0xa4], [0x0f, 0xa5], [0x0f, 0xac], [0x0f, 0xad], [0x69], [0x6b], [0xf7, 0xe0], [0xf7, 0xe3], [0xf7, 0xe9], [0xf7, 0xef],
];

/** Random instruction bytes: optional prefixes, one of OPCODES, then random ModRM/SIB/displacement/immediate bytes. */
function instructionBytes(next: () => number, mode: 64 | 32): Uint8Array {
  const bytes: number[] = [];
  const roll = next() % 16;
  if (roll === 0) bytes.push(0x66);
  else if (roll === 1) bytes.push(0x67);
  else if (roll === 2) bytes.push(0x64); // FS
  else if (roll === 3) bytes.push(0xf0); // LOCK
  if (mode === 64 && next() % 3 !== 0) bytes.push(0x40 | (next() % 16));
  bytes.push(...OPCODES[next() % OPCODES.length]!);
  for (let i = 0; i < 12; i++) bytes.push(next() & 0xff);
  // Keep most displacements small so accesses land near the registers' pointers.
  return Uint8Array.from(bytes);
}

function randomValue(next: () => number): [number, number] {
  switch (next() % 5) {
    case 0: return [DATA + (next() % 0x8000), 0]; // a pointer into the data area
    case 1: return [READ_ONLY + (next() % 0x1000), 0]; // into the read-only page
    case 2: return [next() % 0x100, 0]; // small (scaled indices, counts)
    case 3: return [next() | 0, next() % 2 === 0 ? 0x7fff : -0x8000]; // at either edge of the canonical range
    default: return [next() | 0, next() % 4 === 0 ? next() | 0 : 0];
  }
}

/** [RBX + 8] with RBX just below either end of the canonical range: the sum lands on each side of it. */
const CANONICAL_EDGES: Array<{ code: number[]; rbx: [number, number] }> = [
  { code: [0x48, 0x8b, 0x43, 0x08], rbx: [-8, 0x7fff] }, // 0x0000_7fff_ffff_fff8 + 8 = 2^47: #GP
  { code: [0x48, 0x8b, 0x43, 0x08], rbx: [-16, 0x7fff] }, // 2^47 - 8: canonical, not mapped: #PF
  { code: [0x48, 0x8b, 0x43, 0x08], rbx: [-8, -0x8001] }, // -2^47 - 8 + 8 = -2^47: canonical, #PF
  { code: [0x48, 0x8b, 0x43, 0x08], rbx: [-16, -0x8001] }, // -2^47 - 8: #GP
  { code: [0x48, 0x8b, 0x43, 0xf8], rbx: [0, -0x8000] }, // -2^47 - 8 from a canonical base: #GP
  { code: [0x48, 0x89, 0x43, 0x08], rbx: [-8, 0x7fff] }, // a store to 2^47: #GP
];

interface Outcome { fault: string; regs: number[]; rip: number; flags: number; cr2: number; retired: number }

function runOnce(m: Machine, setup: (cpu: Cpu, memory: PhysicalMemory) => void): Outcome {
  setup(m.cpu, m.memory);
  const fault = m.interpreter.execute();
  return {
    fault: fault === null ? "none" : fault instanceof CpuException ? `vector ${fault.vector} code ${fault.errorCode}` : String(fault),
    regs: Array.from(m.cpu.regs),
    rip: m.cpu.rip,
    flags: m.cpu.getFlags(),
    cr2: m.cpu.cr2,
    retired: m.cpu.retired,
  };
}

function compareMode(mode: 64 | 32, seed: number): Map<string, number> {
  const fast = machine(mode, true);
  const generic = machine(mode, false);
  const next = xorshift32(seed);
  const exercised = new Map<string, number>();
  // memory starts random and then evolves by the cases' own stores, identically on both machines
  const data = Uint8Array.from({ length: 0x20000 }, () => next() & 0xff);
  for (const m of [fast, generic]) {
    m.memory.loadBytes(DATA, data);
    m.memory.loadBytes(READ_ONLY, data.subarray(0, 0x1000));
  }
  for (let n = 0; n < CASES; n++) {
    const code = instructionBytes(next, mode);
    const regs: Array<[number, number]> = [];
    for (let r = 0; r < 16; r++) regs.push(randomValue(next));
    regs[4] = [DATA + 0x10000 + (next() % 0x100) * 8, 0]; // RSP: a usable stack most of the time
    if (next() % 8 === 0) regs[4] = randomValue(next);
    if (mode === 64 && n < CANONICAL_EDGES.length) {
      // MOV RAX, [RBX + 8] and ADD [RIP - 8]... at the edges of the canonical range, exactly
      code.set(CANONICAL_EDGES[n]!.code);
      regs[3] = CANONICAL_EDGES[n]!.rbx;
    }
    const probe = decode(code, 0, mode);
    if (probe.status === DecodeStatus.Ok) {
      const handler = fastHandlerFor(probe, false, false);
      if (handler !== null) exercised.set(handler.name, (exercised.get(handler.name) ?? 0) + 1);
    }
    const lazyOp = LAZY_OPS[next() % LAZY_OPS.length]!;
    const lazy = [next() % 4 === 0 ? 8 : [1, 2, 4][next() % 3]!, next() | 0, next() | 0, next() | 0, next() | 0, next() | 0, next() | 0, next() & 1];
    const flags = (next() & 0x8d5) | 2 | (1 << 9);
    const fsBase = mode === 64 ? next() % 0x10000 : 0;
    const setup = (cpu: Cpu, memory: PhysicalMemory): void => {
      // the code page is rewritten every case: the interpreter must forget what it decoded there
      memory.loadBytes(CODE, new Uint8Array(32));
      memory.loadBytes(CODE, code);
      for (let r = 0; r < 16; r++) cpu.setReg64(r, regs[r]![0], regs[r]![1]);
      cpu.flags = flags;
      cpu.lazy.op = lazyOp;
      if (lazyOp !== LAZY_NONE) {
        cpu.lazy.size = lazy[0]!;
        const mask = lazy[0] === 8 ? -1 : lazy[0] === 4 ? -1 : (1 << (lazy[0]! * 8)) - 1;
        cpu.lazy.aLo = lazy[0] === 4 ? lazy[1]! >>> 0 : lazy[1]! & mask;
        cpu.lazy.bLo = lazy[0] === 4 ? lazy[2]! >>> 0 : lazy[2]! & mask;
        cpu.lazy.rLo = lazy[0] === 4 ? lazy[3]! >>> 0 : lazy[3]! & mask;
        cpu.lazy.aHi = lazy[0] === 8 ? lazy[4]! : 0;
        cpu.lazy.bHi = lazy[0] === 8 ? lazy[5]! : 0;
        cpu.lazy.rHi = lazy[0] === 8 ? lazy[6]! : 0;
        cpu.lazy.carryIn = lazy[7]!;
      }
      cpu.segBase[FS] = fsBase;
      cpu.cr2 = 0;
      cpu.rip = CODE;
    };
    const a = runOnce(fast, setup);
    const b = runOnce(generic, setup);
    const where = `case ${n}: ${Buffer.from(code.subarray(0, probe.length || 15)).toString("hex")} (${probe.mnemonic})`;
    expect(a, where).toEqual(b);
    if (Buffer.compare(fast.memory.ram, generic.memory.ram) !== 0) {
      const index = fast.memory.ram.findIndex((byte, i) => byte !== generic.memory.ram[i]);
      expect.fail(`${where}: memory differs at 0x${index.toString(16)}`);
    }
  }
  return exercised;
}

describe("the interpreter's pre-decoded handlers", () => {
  for (const mode of [64, 32] as const) {
    it(`give the generic path's registers, flags, memory and faults in ${mode}-bit mode`, () => {
      const exercised = compareMode(mode, mode === 64 ? 0x5eed64 : 0x5eed32);
      // a form the selection never picks, or a test that never reaches it, would hide a wrong handler
      const expected = SPECIALISED_HANDLERS.filter((handler) => mode === 64 || !/64$/.test(handler.name)).map((handler) => handler.name);
      if (process.env.FAST_FORMS_SHOW) console.log(mode, [...exercised].sort((x, y) => x[1] - y[1]).map(([k, v]) => `${k} ${v}`).join(", "));
      for (const name of expected) expect(exercised.get(name) ?? 0, `${name} in ${mode}-bit mode`).toBeGreaterThanOrEqual(Math.min(20, CASES / 300));
    }, 120_000);
  }
});
