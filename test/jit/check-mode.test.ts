// --accel check runs every compiled unit, undoes it, runs the interpreter over the same instructions
// from the same state and stops at the first difference (stop "divergence", exit status 6 from the
// CLI). Over the guest's own code it must find none.
//
// Lockstep costs about 5 µs per guest instruction here, and every boot of the guest spends 30 M
// instructions calibrating the TSC against the PIT (--clock virtual: 1 ns per instruction, 3 × 10
// ms), so a whole `selftest` under --accel check takes about 7 minutes and the small bench about 4.5
// on this machine. The default run therefore checks
//   - the boot from reset, up to and into the calibration loop, under --accel check;
//   - the selftest's groups other than `alloc` (61 M instructions of random kmalloc/free) and `time`
//     (a 3 M-instruction busy delay), and the small bench, each booted under --accel jit and then
//     continued to the end with a check-mode JitEngine in place of the machine's JIT.
// JIT_CHECK_FULL=1 adds the literal runs: `--accel check` over the whole selftest and the small bench
// through the CLI (exit status 1, not 6).
import { describe, expect, it } from "vitest";
import { JitEngine } from "../../src/jit/engine.js";
import type { PcMachine } from "../../src/machine/pc.js";
import { runCli } from "../cli/run-cli.js";
import { STATUS_OK, bootGuest, canBuildGuest, describeStop, guestImage, runGuest } from "./support/guest-image.js";

const SMALL_BENCH = "bench ncommits=5 depth=3 tree_add=4";
const EXIT_DIVERGENCE = 6;
const full = process.env.JIT_CHECK_FULL === "1";

/**
 * Boots `append` under --accel jit and stops right after the kernel's "running workload" line
 * (the UART's transmit hook stops the machine there); returns the machine and its output so far.
 */
function bootToWorkload(append: string): { machine: PcMachine; output: () => string } {
  const chunks: Buffer[] = [];
  const machine = bootGuest(append, { accel: "jit" }, (chunk) => chunks.push(chunk));
  const output = () => Buffer.concat(chunks).toString("latin1");
  const uart = machine.uart;
  const transmit = uart.onTransmit;
  let line = "";
  let started = false;
  uart.onTransmit = (byte) => {
    transmit(byte);
    if (byte !== 10) {
      line += String.fromCharCode(byte);
      return;
    }
    if (!started && line.includes("boot: running workload")) {
      started = true;
      machine.stop({ kind: "instruction-limit", limit: machine.cpu.retired });
    }
    line = "";
  };
  const stop = machine.runSync();
  if (!started || stop.kind !== "instruction-limit") throw new Error(`the guest did not reach its workload: ${describeStop(stop)}\n${output()}`);
  uart.onTransmit = transmit;
  return { machine, output };
}

/** Replaces the machine's JIT with a fresh one in check mode (what --accel check builds). */
function attachCheckEngine(machine: PcMachine): JitEngine {
  const engine = new JitEngine(machine.cpu, machine.interpreter, { check: true });
  (machine as unknown as { jit: JitEngine | null }).jit = engine;
  return engine;
}

describe.runIf(canBuildGuest)("--accel check finds no divergence over the guest", () => {
  it("the boot from reset into the TSC calibration loop (1 M instructions)", () => {
    const run = runGuest("selftest", { accel: "check" }, 1_000_000);
    expect(describeStop(run.stop)).toBe("instruction-limit");
    const stats = run.machine.jit!.stats();
    expect(stats.unitsCompiled).toBeGreaterThan(50);
    expect(stats.jitInstructions).toBeGreaterThan(400_000);
    expect(run.machine.jit!.checkedUnits).toBeGreaterThan(50_000);
    expect(run.serial.toString("latin1")).toContain("[INFO] alloc: ");
  });

  it("selftest only=format,string,cmdline,trap,sched,promise,irmin, checked from the workload's start to its exit", () => {
    const { machine, output } = bootToWorkload("selftest only=format,string,cmdline,trap,sched,promise,irmin");
    const engine = attachCheckEngine(machine);
    const stop = machine.runSync();
    expect(describeStop(stop)).toBe(`exit status ${STATUS_OK}`);
    expect(output()).toMatch(/^selftest: \d+ passed, 0 failed$/m);
    expect(output()).toContain("PASS sched.hundred-fibers\n");
    expect(output()).toContain("PASS irmin.blake2b-rfc7693\n");
    expect(engine.stats().unitsCompiled).toBeGreaterThan(100);
    expect(engine.checkedUnits).toBeGreaterThan(10_000);
  });

  it(`${SMALL_BENCH}, checked from the workload's start to its exit`, () => {
    const { machine, output } = bootToWorkload(SMALL_BENCH);
    const engine = attachCheckEngine(machine);
    const stop = machine.runSync();
    expect(describeStop(stop)).toBe(`exit status ${STATUS_OK}`);
    expect(output()).toContain("[run done]\n");
    expect(engine.stats().unitsCompiled).toBeGreaterThan(100);
    expect(engine.checkedUnits).toBeGreaterThan(10_000);
  });

  describe.runIf(full)("JIT_CHECK_FULL=1: the CLI's --accel check over whole runs", () => {
    for (const append of ["selftest", SMALL_BENCH]) {
      it(`--accel check --append "${append}": the guest's exit status (1), not 6`, async () => {
        const result = await runCli([guestImage(), "--accel", "check", "--clock", "virtual", "--append", append]);
        expect(result.status, result.stderr).not.toBe(EXIT_DIVERGENCE);
        expect(result.status, result.stderr).toBe(STATUS_OK);
        expect(result.stderr).toBe("");
      }, 1_200_000);
    }
  });
});
