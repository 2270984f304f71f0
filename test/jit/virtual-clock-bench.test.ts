// The virtual clock (docs/machine.md: "--clock virtual advances one nanosecond per retired
// instruction, so the same image and arguments always give the same output and instruction count")
// holds across engines: the JIT must retire exactly the instructions the interpreter does and take
// every timer interrupt at the same instruction, or the guest's timing-dependent paths (TSC
// calibration, timer ticks, sleeps, the scheduler) and every "time:" line would differ. So the
// guest's serial output — "time:" lines included — and the final instruction count must be
// byte-for-byte identical under --accel interp and --accel jit.
//
// This file: the small bench (virtual-clock-selftest.test.ts: `selftest`).
import { describe, expect, it } from "vitest";
import type { JitOptions } from "../../src/jit/engine.js";
import { STATUS_OK, canBuildGuest } from "./support/guest-image.js";
import { expectSameRun, interpRun, jitRun, type Summary } from "./support/virtual-clock.js";

const SMALL_BENCH = "bench ncommits=5 depth=3 tree_add=4";

describe.runIf(canBuildGuest)(`--clock virtual, ${SMALL_BENCH}: the same serial output and instruction count under interp and jit`, () => {
  let reference: Summary;

  it("interp: the bench completes", () => {
    reference = interpRun(SMALL_BENCH);
    expect(reference.stop).toBe(`exit status ${STATUS_OK}`);
    expect(reference.output).toContain("[run done]\n");
    expect(reference.output).toMatch(/^head: [0-9a-f]{128}$/m);
    expect(reference.output).toMatch(/^time: init=\d+ ms run=\d+ ms$/m);
  });

  const variants: [string, JitOptions | undefined][] = [
    ["jit (default threshold)", undefined],
    ["jit --jit-threshold 1 (everything compiled at first sight), blocks only", { threshold: 1, regions: false }],
  ];
  for (const [name, options] of variants) {
    it(`${name}: byte-identical output, identical instruction count`, () => {
      const run = jitRun(SMALL_BENCH, options);
      expectSameRun(run, reference);
      expect(run.jitShare).toBeGreaterThan(0.5);
    });
  }
});
