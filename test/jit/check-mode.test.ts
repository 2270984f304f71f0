// --accel check runs every compiled unit, undoes it, runs the interpreter over the same instructions
// from the same state and stops at the first difference (stop "divergence", exit status 6 from the
// CLI). It must catch a unit that is wrong (a register, a byte of memory, the instruction count), and
// over the guest's own code it must find none:
//   - the boot from reset, up to and into the TSC calibration loop, under --accel check;
//   - the selftest's groups other than `alloc` and `time`, and the small bench, each booted under
//     --accel jit and then continued to the end with a check-mode JitEngine in place of the
//     machine's JIT (these count the units checked);
//   - `--accel check` through the CLI over the whole selftest (96 M instructions) and the small
//     bench (exit status 1, not 6). Lockstep runs at about 2 M instructions/s: about a minute in all.
import { describe, expect, it } from "vitest";
import type { Unit } from "../../src/jit/code-cache.js";
import { JitEngine } from "../../src/jit/engine.js";
import type { PcMachine } from "../../src/machine/pc.js";
import { runCli } from "../cli/run-cli.js";
import { STACK_TOP, assembleLongModeGuest, guestMachine, symbol } from "./support/asm-guest.js";
import { STATUS_OK, bootGuest, canBuildGuest, describeStop, guestImage, runGuest } from "./support/guest-image.js";

const SMALL_BENCH = "bench ncommits=5 depth=3 tree_add=4";
const EXIT_DIVERGENCE = 6;

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
  const engine = new JitEngine(machine.cpu, machine.interpreter, { check: true, threshold: 16 });
  (machine as unknown as { jit: JitEngine | null }).jit = engine;
  return engine;
}

// A loop that adds to rax and stores it: the checks below break its compiled unit on purpose.
const LOOP_GUEST = assembleLongModeGuest(`
  mov rsp, ${STACK_TOP}
  mov rbx, 0x300000
  xor eax, eax
  mov ecx, 50
loop:
  add rax, 3
  mov [rbx], rax
  dec rcx
  jnz loop
  mov al, 0
  out 0xf4, al
  hlt`);

/** Runs LOOP_GUEST under --accel check with `corrupt` applied after every call of the loop's compiled unit. */
function runCorrupted(corrupt: (unit: Unit, machine: ReturnType<typeof guestMachine>["machine"]) => void, backend: "js" | "wasm" = "js") {
  const loop = symbol(LOOP_GUEST, "loop");
  let machineRef: ReturnType<typeof guestMachine>["machine"] | null = null;
  const onCompile = (unit: Unit) => {
    if (unit.rip !== loop) return;
    const compiled = unit.fn!;
    (unit as { fn: Unit["fn"] }).fn = (budget: number) => {
      const exit = compiled(budget);
      corrupt(unit, machineRef!);
      return exit;
    };
  };
  const { machine } = guestMachine(LOOP_GUEST, { name: "check", accel: "check", jit: { threshold: 2, onCompile, backend, compileDelay: 0 } });
  machineRef = machine;
  return machine.runSync({ maxInstructions: 100_000 });
}

describe("--accel check catches a compiled unit that disagrees with the interpreter", () => {
  it("uncorrupted, the loop runs to its exit", () => {
    expect(describeStop(runCorrupted(() => {}))).toBe("exit status 1");
  });

  for (const [backend, unitName, code] of [["js", "unit", "JavaScript"], ["wasm", "wasm", "WebAssembly"]] as const) {
    it(`a wrong register in a ${code} unit: the report names it, with the guest code and the generated ${code}`, () => {
      const stop = runCorrupted((_, machine) => { machine.cpu.regs[0] ^= 0x10; }, backend);
      expect(stop.kind).toBe("divergence");
      const report = (stop as { report: string }).report;
      expect(report).toMatch(new RegExp(`^jit check: divergence in unit ${unitName}_\\w+ at rip 0x[0-9a-f]+`));
      expect(report).toMatch(/ rax: jit 0x[0-9a-f]{16} interp 0x[0-9a-f]{16}/);
      expect(report).toContain("add rax,0x3");
      expect(report).toContain(`generated ${code}:`);
    });
  }

  it("a wrong byte in memory: the report names the address", () => {
    const stop = runCorrupted((_, machine) => { machine.cpu.mmu.write8(0x300001, 0xee); });
    expect(stop.kind).toBe("divergence");
    expect((stop as { report: string }).report).toMatch(/ memory 0x300001: jit 0xee interp 0x[0-9a-f]+/);
  });

  it("a byte written where the interpreter writes nothing", () => {
    const stop = runCorrupted((_, machine) => { machine.cpu.mmu.write8(0x301000, 0x5a); });
    expect(stop.kind).toBe("divergence");
    expect((stop as { report: string }).report).toMatch(/ memory 0x301000: jit 0x5a interp 0x0/);
  });

  it("one instruction too many counted", () => {
    const stop = runCorrupted((_, machine) => { machine.cpu.retired++; });
    expect(stop.kind).toBe("divergence");
    // the interpreter runs as many instructions as the unit claims: it ends elsewhere
    expect((stop as { report: string }).report).toMatch(/ rip: jit 0x[0-9a-f]+ interp 0x[0-9a-f]+/);
  });
});

describe.runIf(canBuildGuest)("--accel check finds no divergence over the guest", () => {
  it("the boot from reset into the TSC calibration loop (1 M instructions)", () => {
    // the threshold of earlier defaults: many units, each checked
    const run = runGuest("selftest", { accel: "check", jit: { threshold: 16 } }, 1_000_000);
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
    // (units run through the interpreter's semantics inside WebAssembly are longer: fewer, each checked whole)
    expect(engine.checkedUnits).toBeGreaterThan(5_000);
    expect(engine.stats().jitInstructions).toBeGreaterThan(300_000);
  });

  describe("the CLI's --accel check over whole runs", () => {
    for (const append of ["selftest", SMALL_BENCH]) {
      it(`--accel check --append "${append}": the guest's exit status (1), not 6`, async () => {
        const result = await runCli([guestImage(), "--accel", "check", "--clock", "virtual", "--append", append]);
        expect(result.status, result.stderr).not.toBe(EXIT_DIVERGENCE);
        expect(result.status, result.stderr).toBe(STATUS_OK);
        expect(result.stderr).toBe("");
      }, 1_200_000);
    }
    // the WebAssembly backend, in lockstep over the same runs (threshold 16: more and colder units)
    for (const append of ["selftest", SMALL_BENCH]) {
      it(`--accel check --jit-backend wasm --append "${append}": the guest's exit status (1), not 6`, async () => {
        const result = await runCli([guestImage(), "--accel", "check", "--jit-backend", "wasm", "--jit-threshold", "16", "--clock", "virtual", "--append", append]);
        expect(result.status, result.stderr).not.toBe(EXIT_DIVERGENCE);
        expect(result.status, result.stderr).toBe(STATUS_OK);
        expect(result.stderr).toBe("");
      }, 1_200_000);
    }
  });
});
