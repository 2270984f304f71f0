// Random instruction streams on a booted machine: every decodable-but-odd instruction meets the
// CPU with long mode, an IDT, a TSS and the PC's devices in place, not only in the oracle harness.
//
// Each stream (support/stream-kernel.ts) runs at the entry of a minimal long-mode kernel whose 256
// vectors all log the event (vector, error code, RIP) and resume the stream; its end or its 64th
// event ends the run through isa-debug-exit. Every stream runs under the interpreter and under the
// JIT (threshold 1: streams mostly run once, and every block should run as compiled code), with
// --clock virtual and at most 5000 instructions (support/stream-runner.ts). Checked:
//   - each run ends with a StopReason a booted guest can reach (exit, reset, halted, triple fault,
//     the instruction limit): never an internal error, never the wall-clock guard, never a hang;
//   - the interpreter and the JIT end the same way: the same stop, the same events logged, the same
//     registers, control registers, XMM registers, instruction count and memory (the virtual clock
//     makes both runs deterministic, so any difference is a defect in one of them).
// The streams run in child processes with a deadline per stream (support/child-pool.ts): a run stuck
// in one synchronous loop is killed and reported as a hang instead of stopping the test. A failing
// stream is reported with its seed and index, its instructions, and a minimized stream.
//
// Knobs: FUZZ_STREAMS (default 300; thousands for a long run), FUZZ_STREAM_SEED (default 0x57ea5eed).
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "../cli/run-cli.js";
import { hostHas } from "../support/host-tools.js";
import { runInChildren, type JobOutcome } from "./support/child-pool.js";
import { envCount, envSeed, hex } from "./support/fuzz-env.js";
import { generateStream, listing } from "./support/stream-kernel.js";
import type { StreamJob, StreamResult } from "./support/stream-runner.js";

const COUNT = envCount("FUZZ_STREAMS", 300);
const SEED = envSeed("FUZZ_STREAM_SEED", 0x57ea_5eed);
const WORKERS = 2;
/** a stream takes milliseconds (its run has a 3 s wall-clock guard); past this it counts as a hang */
const DEADLINE_MS = 6_000;
/** failures reported in full (the rest are listed) */
const REPORTED = 5;
const runner = join(repoRoot, "test/robustness/support/stream-runner.ts");

const canAssemble = hostHas("as") && hostHas("ld");

type Outcome = JobOutcome<StreamResult>;

function label(outcome: Outcome): string {
  if (outcome.hung) return "hang";
  if (outcome.crashed) return "the runner died";
  const [interp, jit] = outcome.result!.kinds;
  return interp === jit ? interp : `${interp} (interp) / ${jit} (jit)`;
}

/** Failing streams in full (minimized by the runner) up to REPORTED, then their indexes. */
async function reports(failing: Outcome[], problem: (outcome: Outcome) => string): Promise<string> {
  // (a stream that hung would hang again: only the others are rerun)
  const jobs: StreamJob[] = failing.slice(0, REPORTED).filter((outcome) => outcome.result !== null).map((outcome) => ({ id: outcome.id, seed: SEED, index: outcome.id, report: true }));
  const detailed = await runInChildren<StreamJob, StreamResult>(runner, jobs, { workers: WORKERS, deadlineMs: 2 * DEADLINE_MS });
  const out = failing.slice(0, REPORTED).map((outcome) => {
    const detail = detailed.get(outcome.id);
    return (
      `stream #${outcome.id} (FUZZ_STREAM_SEED=${hex(SEED)}): ${problem(outcome)}\n` +
      `  its instructions:\n${listing(generateStream(SEED, outcome.id), 60)}\n` +
      (detail?.result?.report ?? "  (not minimized)")
    );
  });
  if (failing.length > REPORTED) out.push(`... and ${failing.length - REPORTED} more: ${failing.slice(REPORTED).map((outcome) => `#${outcome.id}`).join(" ")}`);
  return out.join("\n\n");
}

// without GNU as/ld there is no kernel to run the streams on: skipped on a developer machine only (hostHas throws in CI)
describe.skipIf(!canAssemble)(`${COUNT} random instruction streams (seed ${hex(SEED)}) on a booted long-mode kernel`, () => {
  let outcomes: Outcome[] = [];

  beforeAll(async () => {
    const jobs = Array.from({ length: COUNT }, (_, index): StreamJob => ({ id: index, seed: SEED, index }));
    const byId = await runInChildren<StreamJob, StreamResult>(runner, jobs, { workers: WORKERS, deadlineMs: DEADLINE_MS });
    outcomes = jobs.map((job) => byId.get(job.id)!);
    const stops = new Map<string, number>();
    for (const outcome of outcomes) stops.set(label(outcome), (stops.get(label(outcome)) ?? 0) + 1);
    console.log(`${COUNT} streams: ${[...stops].map(([kind, count]) => `${kind}: ${count}`).join(", ")}`);
  }, Math.max(120_000, COUNT * 1000));

  it("each ends with a documented stop under the interpreter and the JIT: never an internal error, never a hang", async () => {
    const failing = outcomes.filter((outcome) => outcome.hung || outcome.crashed || outcome.result!.undocumented);
    const problem = (outcome: Outcome) =>
      outcome.hung || outcome.crashed
        ? `${outcome.hung ? "hang" : "the runner died"}: ${outcome.stderr.trim()}`
        : `stopped with ${outcome.result!.kinds[0]} (interp), ${outcome.result!.kinds[1]} (jit)`;
    expect(await reports(failing, problem)).toBe("");
  }, 600_000);

  it("the interpreter and the JIT end each the same way: stop, events, registers, memory", async () => {
    const failing = outcomes.filter((outcome) => outcome.result !== null && outcome.result.differences.length > 0);
    const problem = (outcome: Outcome) => `the interpreter and the JIT disagree:\n${outcome.result!.differences.map((text) => `  ${text}`).join("\n")}`;
    expect(await reports(failing, problem)).toBe("");
  }, 600_000);
});
