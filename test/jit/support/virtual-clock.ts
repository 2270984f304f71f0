// Shared by the --clock virtual tests: a guest run summarized, and the comparison of two runs.
import { expect } from "vitest";
import type { JitOptions } from "../../../src/jit/engine.js";
import { describeStop, runGuest, type GuestRun } from "./guest-image.js";

export interface Summary {
  stop: string;
  output: string;
  serial: Buffer;
  retired: number;
  jitShare: number;
  unitsCompiled: number;
}

function summary(run: GuestRun): Summary {
  const stats = run.machine.jit?.stats();
  return {
    stop: describeStop(run.stop),
    output: run.serial.toString("latin1"),
    serial: run.serial,
    retired: run.machine.cpu.retired,
    jitShare: stats ? stats.jitInstructions / run.machine.cpu.retired : 0,
    unitsCompiled: stats?.unitsCompiled ?? 0,
  };
}

export function interpRun(append: string): Summary {
  return summary(runGuest(append, { accel: "interp" }));
}

export function jitRun(append: string, options?: JitOptions): Summary {
  return summary(runGuest(append, { accel: "jit", jit: options }));
}

/** Same stop, byte-identical serial output ("time:" lines included), same instruction count. */
export function expectSameRun(actual: Summary, reference: Summary): void {
  expect(actual.stop).toBe(reference.stop);
  // the text first, for a readable diff; then the bytes
  expect(actual.output).toBe(reference.output);
  expect(actual.serial.equals(reference.serial)).toBe(true);
  expect(actual.retired, "instructions retired").toBe(reference.retired);
}
