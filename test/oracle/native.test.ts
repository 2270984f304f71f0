// The oracle's native half on its own: the harness runs code on the host CPU, round-trips the whole
// register state, reports faults with the right vector, error code and state, survives a case that
// kills it, and is deterministic on generated cases (docs/oracle.md).

import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { nativeOutcome } from "./emulator.js";
import { generateCase } from "./generate.js";
import { CODE_ADDRESS, SCRATCH_ADDRESS, SCRATCH_SIZE, initialScratch, newState, type MachineState, type Patch } from "./layout.js";
import { buildHarness, runNative, type NativeCase } from "./native.js";
import { generateBatch, runOracle } from "./run.js";
import { hostHas } from "../support/host-tools.js";

const hasGcc = hostHas("gcc");
const onX64Linux = process.platform === "linux" && process.arch === "x64";

function state(setup: (s: MachineState) => void = () => {}): MachineState {
  const s = newState();
  s.gpr[4] = BigInt(SCRATCH_ADDRESS + 0x1000);
  setup(s);
  return s;
}

let nextId = 1;
function nativeCase(codeHex: string, s: MachineState = state(), patches: Patch[] = [], scratchSeed = 7): NativeCase {
  return { id: nextId++, code: Uint8Array.from(Buffer.from(codeHex.replace(/\s+/g, ""), "hex")), state: s, scratchSeed, patches };
}

describe.runIf(hasGcc && onX64Linux)("oracle harness (host CPU)", () => {
  it("builds", () => {
    expect(buildHarness()).toMatch(/harness-[0-9a-f]{16}$/);
  });

  it("round-trips the whole register state through an empty case and a NOP", () => {
    const s = state((s) => {
      for (let i = 0; i < 16; i++) if (i !== 4) s.gpr[i] = 0x0123_4567_89ab_cdefn * BigInt(i + 1) & 0xffff_ffff_ffff_ffffn;
      for (let i = 0; i < 32; i++) s.xmm[i] = 0xfedc_ba98_7654_3210n ^ BigInt(i * 0x1111);
      s.rflags = 0x202 | 0x8d5 | 0x400; // all arithmetic flags and DF
      s.mxcsr = 0x1f80 | 0x6000 | 0x8000 | 0x40 | 0x3f; // round toward zero, FTZ, DAZ, sticky flags
    });
    for (const code of ["", "90"]) {
      const [result] = runNative([nativeCase(code, s)]);
      expect(result.outcome).toBe("done");
      expect(result.exception).toBeNull();
      expect(result.state.rip).toBe(BigInt(CODE_ADDRESS + code.length / 2));
      expect(Array.from(result.state.gpr)).toEqual(Array.from(s.gpr));
      expect(Array.from(result.state.xmm)).toEqual(Array.from(s.xmm));
      expect(result.state.rflags).toBe(s.rflags);
      expect(result.state.mxcsr).toBe(s.mxcsr);
      expect(result.changes).toEqual([]);
    }
  });

  it("runs add rax, rbx", () => {
    const [result] = runNative([nativeCase("48 01 d8", state((s) => { s.gpr[0] = 0x7fff_ffff_ffff_ffffn; s.gpr[3] = 1n; }))]);
    expect(result.outcome).toBe("done");
    expect(result.state.gpr[0]).toBe(0x8000_0000_0000_0000n);
    expect(result.state.rflags & 0x8d5).toBe(0x800 | 0x80 | 0x10 | 0x4); // OF SF AF PF
  });

  it("reports mov rax, [0] as #PF(U, read, not present) at the instruction with the state intact", () => {
    const s = state((s) => { s.gpr[0] = 0x1234n; s.rflags = 0x202 | 0x1; });
    const [result] = runNative([nativeCase("48 8b 04 25 00 00 00 00", s)]);
    expect(result.outcome).toBe("exception");
    expect(result.exception).toEqual({ vector: 14, errorCode: 4 });
    expect(result.faultAddress).toBe(0n);
    expect(result.state.rip).toBe(BigInt(CODE_ADDRESS));
    expect(Array.from(result.state.gpr)).toEqual(Array.from(s.gpr));
    expect(result.state.rflags & ~0x1_0000).toBe(s.rflags); // RF may be set in the fault frame
  });

  it("reports a store that runs off the scratch region as #PF(U, write) without writing its first part", () => {
    const s = state((s) => { s.gpr[0] = BigInt(SCRATCH_ADDRESS + SCRATCH_SIZE - 2); s.gpr[3] = 0x1122_3344n; });
    const [result] = runNative([nativeCase("89 18", s)]);
    expect(result.exception).toEqual({ vector: 14, errorCode: 6 });
    expect(result.faultAddress).toBe(BigInt(SCRATCH_ADDRESS + SCRATCH_SIZE));
    expect(result.changes).toEqual([]);
  });

  it("reports #UD, #DE, #GP(0), #SS(0) and #BP", () => {
    const cases = [
      nativeCase("0f 0b"), // ud2
      nativeCase("48 f7 f1", state((s) => { s.gpr[1] = 0n; })), // div rcx by zero
      nativeCase("8b 00", state((s) => { s.gpr[0] = 0x8000_0000_0000_0000n; })), // non-canonical
      nativeCase("8b 45 00", state((s) => { s.gpr[5] = 0x8000_0000_0000_0000n; })), // non-canonical through rbp: stack segment
      nativeCase("0f 28 00", state((s) => { s.gpr[0] = BigInt(SCRATCH_ADDRESS + 8); })), // misaligned movaps
      nativeCase("90 cc"), // int3: a trap, reported after the instruction
    ];
    const results = runNative(cases);
    expect(results.map((r) => r.exception)).toEqual([
      { vector: 6, errorCode: null }, { vector: 0, errorCode: null }, { vector: 13, errorCode: 0 },
      { vector: 12, errorCode: 0 }, { vector: 13, errorCode: 0 }, { vector: 3, errorCode: null },
    ]);
    expect(results.slice(0, 5).map((r) => r.state.rip)).toEqual(Array(5).fill(BigInt(CODE_ADDRESS)));
    expect(results[5].state.rip).toBe(BigInt(CODE_ADDRESS + 2));
  });

  it("fills the scratch region from the seed, applies patches and reports the changed bytes", () => {
    const patch = { offset: 0x10, bytes: Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8) };
    // mov rax, [rbx]; mov [rbx+0x1000], rax; push rax (rsp = scratch + 0x1000)
    const s = state((s) => { s.gpr[3] = BigInt(SCRATCH_ADDRESS + 0x10); });
    const [result] = runNative([nativeCase("48 8b 03 48 89 83 00 10 00 00 50", s, [patch], 99)]);
    expect(result.outcome).toBe("done");
    expect(result.state.gpr[0]).toBe(0x0807_0605_0403_0201n);
    const memory = initialScratch(99, [patch]);
    for (const change of result.changes) memory.set(change.bytes, change.offset);
    const expected = initialScratch(99, [patch]);
    expected.set(patch.bytes, 0x1010);
    expected.set(patch.bytes, 0x0ff8);
    expect(Buffer.from(memory).equals(Buffer.from(expected))).toBe(true);
    expect(result.state.gpr[4]).toBe(BigInt(SCRATCH_ADDRESS + 0xff8));
  });

  it("reports a case that never ends as a timeout and goes on", () => {
    const results = runNative([nativeCase("eb fe"), nativeCase("90")]);
    expect(results.map((r) => r.outcome)).toEqual(["timeout", "done"]);
  });

  it("restarts after a case that kills the harness and marks that case", () => {
    // exit_group(7) through syscall: the harness process ends in the middle of the batch.
    const exit = nativeCase("b8 e7 00 00 00 bf 07 00 00 00 0f 05");
    const cases = [nativeCase("90"), exit, nativeCase("90")];
    const results = runNative(cases);
    expect(results.map((r) => r.outcome)).toEqual(["done", "crash", "done"]);
    expect(results.map((r) => r.id)).toEqual(cases.map((c) => c.id));
  });

  it("runs generated cases fast and deterministically (native against native: no differences)", () => {
    const count = 5000;
    const cases = generateBatch(0x1234, 0, count, true);
    const started = performance.now();
    const first = runNative(cases);
    const seconds = (performance.now() - started) / 1000;
    console.log(`oracle harness: ${count} generated cases in ${seconds.toFixed(2)} s (${Math.round(count / seconds)} cases/s)`);
    expect(first.filter((r) => r.outcome === "timeout" || r.outcome === "crash").map((r) => r.id)).toEqual([]);
    const selfCheck = runOracle({ name: "native", run: (batch) => runNative(batch).map((r, i) => nativeOutcome(batch[i], r)) }, { seed: 0x1234, cases: count, privileged: true });
    expect(selfCheck.failureCount).toBe(0);
    // Most cases run to their end; the rest fault on purpose (page ends, alignment, #UD encodings ...).
    const done = first.filter((r) => r.outcome === "done").length;
    expect(done / count).toBeGreaterThan(0.75);
    expect(generateCase(0x1234, 17).code).toEqual(cases[17].code);
  });
});
