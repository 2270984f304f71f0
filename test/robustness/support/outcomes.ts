// What a boot from the command line may end with (README, "Exit status"), checked on the outcome of
// one boot-pool run: a documented exit status, never 70; stderr without a JavaScript stack trace, its
// failure reported as one "error: ..." line (a register dump may follow a guest fault); and no boot
// running past its deadline.
import type { BootOutcome } from "./boot-pool.js";

export const EXIT_RESET = 0;
export const EXIT_BAD_IMAGE = 1;
export const EXIT_GUEST_FAULT = 4;
export const EXIT_DIVERGENCE = 6;
export const EXIT_INTERNAL = 70;
export const EXIT_TIMEOUT = 124;

/** The exit status as a histogram key: "1 (bad image)", "3 (guest exit 1)", "124 (timeout)", "hang"... */
export function statusLabel(outcome: BootOutcome): string {
  const status = outcome.status;
  if (outcome.hung) return "hang (killed at the deadline)";
  if (outcome.crashed) return `runner died (${status})`;
  if (status === EXIT_BAD_IMAGE && outcome.stderr.startsWith("error: ")) return "1 (bad image)";
  if (status !== null && status % 2 === 1) return `${status} (guest exit ${status >> 1})`;
  const names: Record<number, string> = { 0: "reset", 2: "bad command line", 4: "triple fault or halted", 6: "check-mode divergence", 70: "internal error", 124: "timeout" };
  return `${status} (${(status !== null && names[status]) || "undocumented"})`;
}

/** What is wrong with a boot's outcome; empty when it ended as documented. */
export function outcomeProblems(outcome: BootOutcome): string[] {
  const problems: string[] = [];
  const { status, stderr } = outcome;
  if (outcome.hung) return [`hang: ${stderr.trim().split("\n").pop()}`];
  if (outcome.crashed) problems.push(`the CLI process died: ${stderr.trim()}`);
  if (status === EXIT_INTERNAL) problems.push("internal error (status 70)");
  else if (status === EXIT_DIVERGENCE) problems.push("the JIT and the interpreter diverged (status 6)");
  else if (status === null || !(status % 2 === 1 || status === EXIT_RESET || status === EXIT_GUEST_FAULT || status === EXIT_TIMEOUT)) {
    problems.push(`undocumented exit status ${status}`);
  }
  if (/^\s+at /m.test(stderr)) problems.push("a JavaScript stack trace on stderr");
  const lines = stderr.split("\n").filter((line) => line !== "");
  const errorLines = lines.filter((line) => line.startsWith("error:"));
  if (status === EXIT_DIVERGENCE) {
    // the divergence report is several lines: checked above by its status
  } else if (status === EXIT_RESET) {
    if (lines.length !== 1 || !lines[0]!.startsWith("x64emu: the guest reset the machine")) problems.push("a reset must print one 'x64emu: the guest reset...' line");
  } else if (status !== null && status % 2 === 1 && status !== EXIT_BAD_IMAGE) {
    if (lines.length > 0) problems.push("a guest exit must leave stderr empty");
  } else if (lines.length > 0 || status !== EXIT_BAD_IMAGE) {
    // a failure: its one "error:" line first; only a guest fault adds lines (the register dump)
    if (!lines[0]?.startsWith("error: ") || errorLines.length !== 1) problems.push("the failure must be reported by exactly one leading 'error: ...' line");
    else if (status !== EXIT_GUEST_FAULT && lines.length !== 1) problems.push("only a guest fault may add lines after its 'error:' line");
  }
  return problems;
}

/** "3 (guest exit 1): 5, 124 (timeout): 20, ..." */
export function histogram(outcomes: Iterable<BootOutcome>): string {
  const counts = new Map<string, number>();
  for (const outcome of outcomes) counts.set(statusLabel(outcome), (counts.get(statusLabel(outcome)) ?? 0) + 1);
  return [...counts].sort(([a], [b]) => parseInt(a) - parseInt(b) || a.localeCompare(b)).map(([label, count]) => `${label}: ${count}`).join(", ");
}
