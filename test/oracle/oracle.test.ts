// The hardware oracle: generated instruction cases run on the host CPU (test/oracle/harness.c) and on
// the emulator's runUserMode; every register, RFLAGS, XMM0-15, MXCSR, the scratch memory and the
// exception must match, except the documented undefined flags and results (docs/oracle.md).
//
// Knobs: ORACLE_CASES (default 100000; 10_000_000 streams in batches), ORACLE_SEED, ORACLE_PRIVILEGED=1
// (also privileged instructions: #GP(0) at CPL 3), ORACLE_REPORT=path (the complete worklist),
// ORACLE_EMULATOR=native (compare the host with itself: a harness self-check).

import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { worklist } from "./compare.js";
import { loadEmulator } from "./emulator.js";
import { parseNumber, privilegedFromEnv, reproArgs, runOracle, seedFromEnv } from "./run.js";
import { hostHas } from "../support/host-tools.js";

const TOTAL = parseNumber("ORACLE_CASES", process.env.ORACLE_CASES, 100_000);
const SEED = seedFromEnv();
const PRIVILEGED = privilegedFromEnv();
const REPORT = process.env.ORACLE_REPORT;
const PROGRESS_EVERY = 1_000_000;

const hasGcc = hostHas("gcc");
const onX64Linux = process.platform === "linux" && process.arch === "x64";
const emulator = await loadEmulator();

describe.runIf(hasGcc && onX64Linux)("hardware oracle", () => {
  it(`the emulator matches the host CPU on ${TOTAL} generated cases`, { timeout: Math.max(120_000, TOTAL * 3) }, () => {
    if (typeof emulator === "string") throw new Error(`hardware oracle: ${emulator}`);
    let nextProgress = PROGRESS_EVERY;
    const result = runOracle(emulator, {
      seed: SEED,
      cases: TOTAL,
      privileged: PRIVILEGED,
      batch: 5000,
      onBatch: (done, failures) => {
        if (done >= nextProgress) {
          console.log(`hardware oracle: ${done} cases, ${failures} differ`);
          nextProgress += PROGRESS_EVERY;
        }
      },
    });
    const args = reproArgs(SEED, PRIVILEGED);
    const coverage = result.coverage.report();
    console.log([
      `hardware oracle: ${result.total} cases against ${emulator.name} (${args}):` +
        ` generate ${result.generateSeconds.toFixed(1)} s, host ${result.nativeSeconds.toFixed(1)} s (${Math.round(result.total / result.nativeSeconds)} cases/s),` +
        ` emulator ${result.emulatorSeconds.toFixed(1)} s`,
      coverage.text,
    ].join("\n"));
    if (REPORT) writeFileSync(REPORT, worklist(result.failures, result.failuresByForm, result.total, args, Infinity, result.failuresBySymptom) + "\n");
    if (result.failureCount > 0) throw new Error(worklist(result.failures, result.failuresByForm, result.total, args, 40, result.failuresBySymptom));
    expect(coverage.uncovered.length === 0 || TOTAL < 20_000).toBe(true);
  });
});
