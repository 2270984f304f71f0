// A bare CPU + memory + interpreter for machine tests, started the way a multiboot loader leaves
// it: 32-bit protected mode, flat segments, paging off.
import { CR0_ET, CR0_PE, CS, Cpu, DS, ES, FS, GS, SEG_DB, SS } from "../../../src/machine/cpu.js";
import { PortBus } from "../../../src/machine/io-bus.js";
import { Interpreter } from "../../../src/machine/interp/interpreter.js";
import { PhysicalMemory } from "../../../src/machine/memory.js";

export interface TestMachine {
  memory: PhysicalMemory;
  ports: PortBus;
  cpu: Cpu;
  interpreter: Interpreter;
}

const GRANULAR = 1 << 15;

export function protectedModeMachine(ramMiB = 16): TestMachine {
  const memory = new PhysicalMemory(ramMiB * 1024 * 1024);
  const ports = new PortBus();
  const cpu = new Cpu(memory, ports);
  const interpreter = new Interpreter(cpu);
  cpu.cr0 = CR0_PE | CR0_ET;
  for (const segment of [ES, SS, DS, FS, GS]) {
    cpu.segSelector[segment] = 0x10;
    cpu.segAttributes[segment] = 0x93 | SEG_DB | GRANULAR;
  }
  cpu.segSelector[CS] = 0x08;
  cpu.segAttributes[CS] = 0x9b | SEG_DB | GRANULAR;
  cpu.updateMode();
  return { memory, ports, cpu, interpreter };
}

/** Steps until the CPU halts (with interrupts unable to wake it) or `maxSteps` run out. */
export function runUntilHalt(machine: TestMachine, maxSteps = 100_000): number {
  let steps = 0;
  while (!machine.cpu.halted && steps < maxSteps) {
    machine.interpreter.step();
    steps++;
  }
  if (!machine.cpu.halted) throw new Error(`the CPU did not halt within ${maxSteps} steps (rip 0x${machine.cpu.rip.toString(16)})`);
  return steps;
}

/** Writes a 64-bit interrupt gate (type 0xE, DPL 0, present) for `vector` into the IDT at `idtBase`. */
export function writeGate64(memory: PhysicalMemory, idtBase: number, vector: number, handler: number, selector: number, ist = 0, type = 0xe): void {
  const entry = idtBase + vector * 16;
  memory.view.setUint16(entry, handler & 0xffff, true);
  memory.view.setUint16(entry + 2, selector, true);
  memory.view.setUint8(entry + 4, ist);
  memory.view.setUint8(entry + 5, 0x80 | type);
  memory.view.setUint16(entry + 6, (handler >>> 16) & 0xffff, true);
  memory.view.setUint32(entry + 8, Math.floor(handler / 2 ** 32), true);
  memory.view.setUint32(entry + 12, 0, true);
}
