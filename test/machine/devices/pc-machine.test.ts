// The machine's run loop on its own (no CLI): virtual time makes runs reproducible to the
// instruction, timer interrupts land on the same instruction every time, HLT jumps virtual time
// to the next event, and the run ends for the reasons it should.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseMultibootKernel } from "../../../src/machine/multiboot.js";
import { PcMachine } from "../../../src/machine/pc.js";
import { guestKernels } from "../support/guest-kernels.js";

function ticksMachine(): { machine: PcMachine; output: () => string } {
  const chunks: Uint8Array[] = [];
  const machine = new PcMachine({ memoryMiB: 16, clock: "virtual", rtcBase: new Date("2024-02-29T23:59:58Z"), onSerialOutput: (bytes) => void chunks.push(bytes) });
  const path = guestKernels().ticksElf;
  machine.boot(parseMultibootKernel(readFileSync(path)), path, "");
  return { machine, output: () => Buffer.concat(chunks).toString("latin1") };
}

describe("PcMachine run loop (virtual clock)", () => {
  it("runs the ticks kernel to isa-debug-exit; two runs retire the same instructions and print the same", () => {
    const first = ticksMachine();
    const second = ticksMachine();
    expect(first.machine.runSync()).toEqual({ kind: "exit", value: 0x21, status: 67 });
    expect(second.machine.runSync()).toEqual({ kind: "exit", value: 0x21, status: 67 });
    expect(first.machine.cpu.retired).toBe(second.machine.cpu.retired);
    expect(first.output()).toBe(second.output());
    expect(first.output()).toContain("ticks=10\n");
    // Ten 100 Hz ticks spent mostly in HLT: virtual time jumped well past the instructions retired.
    expect(first.machine.clock.now()).toBeGreaterThan(100_000_000);
    expect(first.machine.cpu.retired).toBeLessThan(5_000_000);
  });

  it("stops at an instruction limit and resumes to the same end", () => {
    const { machine } = ticksMachine();
    expect(machine.runSync({ maxInstructions: 1000 })).toEqual({ kind: "instruction-limit", limit: 1000 });
    expect(machine.cpu.retired).toBe(1000);
    // Resuming after the limit ends where a run straight through ends.
    expect(machine.runSync()).toEqual({ kind: "exit", value: 0x21, status: 67 });
    const whole = ticksMachine();
    whole.machine.runSync();
    expect(machine.cpu.retired).toBe(whole.machine.cpu.retired);
  });

  it("delivers every timer interrupt at the same instruction count in every run", () => {
    const counts: number[][] = [];
    for (let run = 0; run < 2; run++) {
      const { machine } = ticksMachine();
      const seen: number[] = [];
      const acknowledge = machine.pic.acknowledge.bind(machine.pic);
      machine.pic.acknowledge = () => {
        seen.push(machine.cpu.retired);
        return acknowledge();
      };
      machine.runSync();
      counts.push(seen);
    }
    expect(counts[0]!.length).toBeGreaterThanOrEqual(11);
    expect(counts[0]).toEqual(counts[1]);
  });
});
