// The virtual clock (docs/machine.md: "--clock virtual advances one nanosecond per retired
// instruction, so the same image and arguments always give the same output and instruction count")
// holds across engines: the JIT must retire exactly the instructions the interpreter does and take
// every timer interrupt at the same instruction, or the guest's timing-dependent paths (TSC
// calibration, timer ticks, sleeps, the scheduler) and every "time:" line would differ. So the
// guest's serial output — "time:" lines included — and the final instruction count must be
// byte-for-byte identical under --accel interp and --accel jit.
//
// This file: `selftest` (virtual-clock-bench.test.ts: the small bench).
import { describe, expect, it } from "vitest";
import { STATUS_OK, canBuildGuest } from "./support/guest-image.js";
import { expectSameRun, interpRun, jitRun, type Summary } from "./support/virtual-clock.js";

describe.runIf(canBuildGuest)("--clock virtual, selftest: the same serial output and instruction count under interp and jit", () => {
  let reference: Summary;

  it("interp: every check passes", () => {
    reference = interpRun("selftest");
    expect(reference.stop).toBe(`exit status ${STATUS_OK}`);
    expect(reference.output).toMatch(/^selftest: \d+ passed, 0 failed$/m);
    expect(reference.output).toMatch(/^time: sleep 50 ms took [\d.]+ ms, \d+ timer ticks$/m);
  });

  it("jit: byte-identical output, identical instruction count, most instructions in compiled code", () => {
    const run = jitRun("selftest");
    expectSameRun(run, reference);
    expect(run.unitsCompiled).toBeGreaterThan(100);
    expect(run.jitShare).toBeGreaterThan(0.5);
  });
});
