// Small long-mode guests for the JIT tests: assembled with the host's GNU as (Intel syntax), loaded
// into a PcMachine (any engine, --clock virtual) at ORIGIN in the state a multiboot loader leaves
// (32-bit protected mode, flat segments, paging off), with the code after `long_mode:` running in
// 64-bit mode over the identity map of the first 8 MiB (2 MiB pages) that ENTER_LONG_MODE builds.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { enterFlatProtectedMode } from "../../../src/machine/multiboot.js";
import { PcMachine } from "../../../src/machine/pc.js";
import type { JitOptions } from "../../../src/jit/engine.js";
import type { Unit } from "../../../src/jit/code-cache.js";
import { ENTER_LONG_MODE } from "../../machine/support/long-mode.js";
import { writeGate64 } from "../../machine/support/test-machine.js";

export const ORIGIN = 0x100000;
export const IDT = 0x10000;
/** where guests store their results (mapped, outside the code and page tables) */
export const RESULTS = 0x300000;
/** the initial stack pointer guests use */
export const STACK_TOP = 0x380000;
/** the 64-bit code segment selector of ENTER_LONG_MODE's GDT */
export const CODE64 = 0x18;

export interface AssembledGuest {
  bytes: Uint8Array;
  /** label → linear (= physical) address */
  symbols: Map<string, number>;
}

const quiet = { stdio: ["ignore", "pipe", "pipe"] as ["ignore", "pipe", "pipe"] };

/** Assembles Intel-syntax `source` for `origin` (starting in `bits` mode) and returns its bytes and label addresses. */
export function assembleWithSymbols(source: string, origin: number, bits: 32 | 64 = 64): AssembledGuest {
  const dir = mkdtempSync(join(tmpdir(), "x64jit-asm-"));
  try {
    writeFileSync(join(dir, "a.s"), `.intel_syntax noprefix\n.code${bits}\n${source}\n`);
    execFileSync("as", ["--64", "-o", join(dir, "a.o"), join(dir, "a.s")], quiet);
    const ld = (extra: string[]) =>
      execFileSync("ld", ["-m", "elf_x86_64", "-Ttext", `0x${origin.toString(16)}`, "-e", "0", ...extra, join(dir, "a.o")], quiet);
    ld(["--oformat", "binary", "-o", join(dir, "a.bin")]);
    ld(["-o", join(dir, "a.elf")]);
    const symbols = new Map<string, number>();
    const nm = execFileSync("nm", [join(dir, "a.elf")], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    for (const line of nm.split("\n")) {
      const match = /^([0-9a-f]+) [tTdDbBaA] (\S+)$/.exec(line.trim());
      if (match) symbols.set(match[2], parseInt(match[1], 16));
    }
    return { bytes: new Uint8Array(readFileSync(join(dir, "a.bin"))), symbols };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Assembles a guest whose 64-bit part is `longModeCode` (it starts at label `long_mode`). */
export function assembleLongModeGuest(longModeCode: string): AssembledGuest {
  return assembleWithSymbols(`${ENTER_LONG_MODE}\n.code64\nlong_mode:\n${longModeCode}`, ORIGIN, 32);
}

export function symbol(guest: AssembledGuest, name: string): number {
  const value = guest.symbols.get(name);
  if (value === undefined) throw new Error(`no label '${name}' in the test guest`);
  return value;
}

export type Engine = "interp" | "jit" | "check";

export interface EngineConfig {
  name: string;
  accel: Engine;
  jit?: JitOptions;
}

/** The engines every small guest runs on: the interpreter, and the JIT compiling after 2 executions in several configurations. */
export const ENGINES: EngineConfig[] = [
  { name: "interp", accel: "interp" },
  { name: "jit", accel: "jit", jit: { threshold: 2, backend: "js" } },
  { name: "jit (blocks only, no loop regions)", accel: "jit", jit: { threshold: 2, regions: false, backend: "js" } },
  { name: "jit (every instruction through the shared semantics)", accel: "jit", jit: { threshold: 2, helperOnly: true, backend: "js" } },
  { name: "check", accel: "check", jit: { threshold: 2, backend: "js" } },
  // each unit compiled as soon as it is hot, as the suites expect (the batched compiles: wasm-backend.test.ts)
  { name: "jit (WebAssembly backend)", accel: "jit", jit: { threshold: 2, backend: "wasm", compileDelay: 0 } },
];

export interface GuestMachine {
  machine: PcMachine;
  /** units compiled during the run (JIT engines) */
  units: Unit[];
}

/** A PcMachine (16 MiB, virtual clock unless told) holding `guest` at ORIGIN, ready to run from its first instruction. */
export function guestMachine(guest: AssembledGuest, engine: EngineConfig, clock: "virtual" | "realtime" = "virtual"): GuestMachine {
  const units: Unit[] = [];
  const userCompile = engine.jit?.onCompile;
  const machine = new PcMachine({
    memoryMiB: 16,
    clock,
    rtcBase: new Date("2024-01-01T00:00:00Z"),
    accel: engine.accel,
    jit: engine.accel === "interp" ? undefined : { ...engine.jit, onCompile: (unit) => { units.push(unit); userCompile?.(unit); } },
  });
  const cpu = machine.cpu;
  // the multiboot loader's state: 32-bit protected mode, flat 4 GiB segments, paging off
  enterFlatProtectedMode(cpu);
  machine.memory.loadBytes(ORIGIN, guest.bytes);
  cpu.rip = ORIGIN;
  return { machine, units };
}

/** Points IDT vector `vector` (64-bit interrupt gate, CS 0x18) at `handler`. */
export function setGate(machine: PcMachine, vector: number, handler: number): void {
  writeGate64(machine.memory, IDT, vector, handler, CODE64);
}

/** The 16 general registers as unsigned 64-bit values, RAX..R15. */
export function generalRegisters(machine: PcMachine): bigint[] {
  const regs = machine.cpu.regs;
  const out: bigint[] = [];
  for (let r = 0; r < 16; r++) out.push((BigInt(regs[2 * r + 1] >>> 0) << 32n) | BigInt(regs[2 * r] >>> 0));
  return out;
}

export const REGISTER_NAMES = ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"];

export function qword(machine: PcMachine, address: number): bigint {
  return machine.memory.view.getBigUint64(address, true);
}

export function setQword(machine: PcMachine, address: number, value: bigint): void {
  machine.memory.view.setBigUint64(address, BigInt.asUintN(64, value), true);
}

/**
 * Counts, by RIP, the instructions the interpreter runs on its own (Interpreter.step: everything
 * under accel interp; under the JIT, cold code and the instructions it leaves to the interpreter,
 * but not the instructions compiled units run through the shared semantics). Interpreter.run is
 * replaced by the step() loop it stands for, so accel interp counts every instruction too.
 */
export function countInterpreterSteps(machine: PcMachine): Map<number, number> {
  const counts = new Map<number, number>();
  const interpreter = machine.interpreter;
  const cpu = machine.cpu;
  const step = interpreter.step.bind(interpreter);
  interpreter.step = () => {
    const rip = cpu.rip;
    counts.set(rip, (counts.get(rip) ?? 0) + 1);
    return step();
  };
  interpreter.run = (limit, steps) => {
    while (cpu.retired < limit.batchEnd && !cpu.halted && steps-- > 0) interpreter.step();
  };
  return counts;
}
