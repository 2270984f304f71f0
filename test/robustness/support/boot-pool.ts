// CLI boots in boot-runner.ts children with child-pool.ts's watchdog: a boot still running a margin
// past its --timeout is killed and reported as a hang.
import { join } from "node:path";
import { repoRoot } from "../../cli/run-cli.js";
import type { BootJob, BootResult } from "./boot-runner.js";
import { runInChildren } from "./child-pool.js";

export type { BootJob };

export interface BootOutcome {
  id: number;
  /** the exit status; null when the boot was killed at its deadline */
  status: number | null;
  stderr: string;
  serialTail: string;
  /** wall time of the boot (to its end, or to the kill) */
  ms: number;
  /** killed at the deadline */
  hung: boolean;
  /** the process running the CLI died during this boot (status is its exit code) */
  crashed: boolean;
}

const runner = join(repoRoot, "test/robustness/support/boot-runner.ts");

/** Runs `jobs` on `workers` children; each boot must end within `deadlineMs` of its start. */
export async function runBoots(jobs: BootJob[], options: { workers: number; deadlineMs: number }): Promise<Map<number, BootOutcome>> {
  const outcomes = await runInChildren<BootJob, BootResult>(runner, jobs, options);
  const boots = new Map<number, BootOutcome>();
  for (const [id, outcome] of outcomes) {
    const result = outcome.result;
    boots.set(id, {
      id,
      status: result?.status ?? (outcome.crashed ? (outcome.exitCode ?? null) : null),
      // the CLI's stderr, then the child's own (a warning, an escaped exception, the kill)
      stderr: (result?.stderr ?? "") + outcome.stderr,
      serialTail: result?.serialTail ?? "",
      ms: result?.ms ?? outcome.ms,
      hung: outcome.hung,
      crashed: outcome.crashed,
    });
  }
  return boots;
}
