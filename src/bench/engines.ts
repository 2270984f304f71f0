// One guest workload on several engines, side by side (DESIGN.md §6): this emulator's JIT,
// interpreter and lockstep checker started as users start them (child processes of the built entry
// point dist/x64emu.mjs, with --stats), QEMU TCG with DESIGN.md §3's reference command line, and
// the native Linux build of the store bench. The runs are interleaved, engine after engine, so a
// change of load on the machine hits every engine alike. Every engine must print the same head hash
// (or, for workloads without one, exit with the same status). Used by `x64emu bench` (src/cli/bench.ts)
// and perf/bench-engines.bench.ts.

import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { basename, join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { buildNativeStore, nativeBenchArgs, nativeStoreProblem, parseNativeResult } from "./native.js";
import { imageInfo, newReport, packageRoot, type BenchReport, type BenchRow, type BenchRun, type FigureSpec } from "./report.js";

export const ENGINE_NAMES = ["jit", "interp", "check", "qemu", "native"] as const;
export type EngineName = (typeof ENGINE_NAMES)[number];

export const ENGINE_LABELS: Record<EngineName, string> = {
  jit: "JIT",
  interp: "interpreter",
  check: "check (JIT+interp)",
  qemu: "QEMU TCG",
  native: "native (gcc -O2)",
};

export const QEMU_COMMAND = "qemu-system-x86_64";

/** The figures of an engines report, in table order. */
export const ENGINE_FIGURES: Record<string, FigureSpec> = {
  wallSeconds: { label: "wall time", unit: "s", better: "lower" },
  runSeconds: { label: "machine run time", unit: "s", better: "lower" },
  instructions: { label: "guest instructions", unit: "", better: "lower" },
  mips: { label: "guest MIPS", unit: "MIPS", better: "higher" },
  guestInitMs: { label: "guest-measured init", unit: "ms", better: "lower" },
  guestRunMs: { label: "guest-measured run", unit: "ms", better: "lower" },
  jitUnits: { label: "JIT units compiled", unit: "", better: "lower" },
  jitCompileMs: { label: "JIT compile time", unit: "ms", better: "lower" },
  jitDispatches: { label: "JIT dispatches", unit: "", better: "lower" },
  jitShare: { label: "instructions in JIT code", unit: "%", better: "higher" },
};

/** Parses a comma list of engine names (`--engines`, BENCH_ENGINES); throws an Error naming the bad one. */
export function parseEngineList(text: string): EngineName[] {
  const names = text.split(",").map((name) => name.trim()).filter((name) => name !== "");
  if (names.length === 0) throw new Error(`expected a comma list of ${ENGINE_NAMES.join(",")}`);
  const engines: EngineName[] = [];
  for (const name of names) {
    if (!(ENGINE_NAMES as readonly string[]).includes(name)) throw new Error(`unknown engine '${name}' (engines: ${ENGINE_NAMES.join(", ")})`);
    if (!engines.includes(name as EngineName)) engines.push(name as EngineName);
  }
  return engines;
}

/** True when qemu-system-x86_64 runs (on this PATH). */
export function qemuInstalled(): boolean {
  return spawnSync(QEMU_COMMAND, ["--version"], { stdio: "ignore" }).status === 0;
}

/** jit and interp, and qemu when it is installed. */
export function defaultEngines(): EngineName[] {
  return qemuInstalled() ? ["jit", "interp", "qemu"] : ["jit", "interp"];
}

/**
 * The command that starts this emulator's built entry point: this very file when running from the
 * bundle (dist/x64emu.mjs), else the repository's dist/x64emu.mjs; null when it is not built.
 */
export function builtEntry(): [string, string[]] | null {
  const self = fileURLToPath(import.meta.url);
  if (basename(self) === "x64emu.mjs") return [process.execPath, [self]];
  const root = packageRoot();
  const entry = root === null ? null : join(root, "dist/x64emu.mjs");
  return entry !== null && existsSync(entry) ? [process.execPath, [entry]] : null;
}

// ---- parsing what the engines print ---------------------------------------------------------------

export interface EngineStats {
  instructions: number;
  runSeconds: number;
  mips: number;
  jit?: { units: number; regions: number; compileMs: number; dispatches: number; share: number };
}

/** The `stats:` lines of --stats (src/cli/boot.ts, src/jit/stats.ts); null when there are none. */
export function parseStats(stderr: string): EngineStats | null {
  const main = /^stats: (\d+) guest instructions in ([0-9.]+) s wall time, ([0-9.]+) MIPS/m.exec(stderr);
  if (main === null) return null;
  const stats: EngineStats = { instructions: Number(main[1]), runSeconds: Number(main[2]), mips: Number(main[3]) };
  const line = /^stats: jit: .*$/m.exec(stderr)?.[0];
  if (line !== undefined) {
    const units = /(\d+) units compiled \((\d+) loop regions\) in ([0-9.]+) ms/.exec(line);
    const dispatches = /(\d+) dispatches/.exec(line);
    const share = /([0-9.]+)% of instructions in JIT code/.exec(line);
    if (units !== null && dispatches !== null && share !== null) {
      stats.jit = { units: Number(units[1]), regions: Number(units[2]), compileMs: Number(units[3]), dispatches: Number(dispatches[1]), share: Number(share[1]) };
    }
  }
  return stats;
}

/** The store bench's head hash (`head: <128 hex digits>`), if the output has one. */
export function headOf(output: string): string | undefined {
  return /^head: ([0-9a-f]{128})\s*$/m.exec(output)?.[1];
}

/** The bench's own durations: `time: init=I ms run=R ms`. */
function guestTimes(output: string): { initMs: number; runMs: number } | undefined {
  const match = /^time: init=(\d+) ms run=(\d+) ms/m.exec(output);
  return match === null ? undefined : { initMs: Number(match[1]), runMs: Number(match[2]) };
}

/** The first line that looks like an error message in `text` ("...error: ..." or "...: error ..."). */
function errorLine(text: string): string | undefined {
  return text
    .split(/[\r\n]+/)
    .map((line) => line.trim())
    .find((line) => /\berror\b/i.test(line) && !line.startsWith("stats:"));
}

// ---- running ----------------------------------------------------------------------------------------

export interface BenchOptions {
  engines: EngineName[];
  image: string;
  append: string;
  clock: "realtime" | "virtual";
  repeats: number;
  /** command and leading arguments of the built entry point (default builtEntry()) */
  entry?: [string, string[]] | null;
}

/** What the progress display hears about. */
export interface BenchProgress {
  /** every run about to start, engine after engine, repeat after repeat */
  plan(runs: { engine: EngineName; repeat: number }[]): void;
  /** a line about preparation (building the native bench) */
  note(text: string): void;
  start(engine: EngineName, repeat: number): void;
  /** the guest's output as it comes (serial port or the native bench's stdout) */
  output(text: string): void;
  finish(engine: EngineName, run: BenchRun): void;
  /** an engine will run no more: skipped before it ran, or failed */
  drop(engine: EngineName, reason: string): void;
}

interface Child {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  seconds: number;
  spawnError?: Error;
}

const MAX_KEPT = 16 << 20;

/** Runs `command args`, timing it from spawn to exit, passing stdout to `onOutput` as it comes. */
function runChild(command: string, args: string[], onOutput: (text: string) => void): Promise<Child> {
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let spawnError: Error | undefined;
    child.stdout.setEncoding("latin1");
    child.stderr.setEncoding("latin1");
    child.stdout.on("data", (text: string) => {
      stdout += text;
      if (stdout.length > MAX_KEPT) stdout = stdout.slice(-MAX_KEPT / 2);
      onOutput(text);
    });
    child.stderr.on("data", (text: string) => {
      stderr += text;
      if (stderr.length > MAX_KEPT) stderr = stderr.slice(-MAX_KEPT / 2);
    });
    child.on("error", (error) => {
      spawnError = error;
    });
    child.on("close", (status, signal) => {
      resolve({ status, signal, stdout, stderr, seconds: (performance.now() - started) / 1000, spawnError });
    });
  });
}

/** Why the child failed, in one line; undefined when it exited with `okStatus`. */
function childFailure(child: Child, okStatus: number, command: string): string | undefined {
  if (child.spawnError !== undefined) return `cannot start ${command}: ${child.spawnError.message}`;
  if (child.signal !== null) return `killed by ${child.signal}`;
  if (child.status === okStatus) return undefined;
  const why = errorLine(child.stderr) ?? errorLine(child.stdout) ?? child.stderr.trim().split("\n")[0];
  return `exit status ${child.status}${why ? `: ${why}` : ""}`;
}

/** The emulator's and QEMU's status for a workload that completed: isa-debug-exit 0, i.e. (0 << 1) | 1. */
const GUEST_OK = 1;

async function runOurs(engine: "jit" | "interp" | "check", entry: [string, string[]], options: BenchOptions, repeat: number, onOutput: (text: string) => void): Promise<BenchRun> {
  const [command, leading] = entry;
  const args = [...leading, options.image, "--accel", engine, "--clock", options.clock, "--stats", "--append", options.append];
  const child = await runChild(command, args, onOutput);
  const run = guestRun(child, repeat, child.stdout, childFailure(child, GUEST_OK, "the emulator"));
  run.stats = child.stderr.split("\n").filter((line) => line.startsWith("stats:"));
  const stats = parseStats(child.stderr);
  if (stats !== null) {
    Object.assign(run.figures, { runSeconds: stats.runSeconds, instructions: stats.instructions, mips: stats.mips });
    if (stats.jit !== undefined) {
      Object.assign(run.figures, { jitUnits: stats.jit.units, jitCompileMs: stats.jit.compileMs, jitDispatches: stats.jit.dispatches, jitShare: stats.jit.share });
    }
  } else if (run.ok) {
    run.ok = false;
    run.error = "no --stats line on stderr";
  }
  return run;
}

async function runQemu(options: BenchOptions, repeat: number, onOutput: (text: string) => void): Promise<BenchRun> {
  const args = ["-accel", "tcg", "-machine", "q35", "-m", "512", "-nodefaults", "-display", "none", "-serial", "stdio", "-no-reboot",
    "-kernel", options.image, "-append", options.append, "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"];
  const child = await runChild(QEMU_COMMAND, args, onOutput);
  return guestRun(child, repeat, child.stdout, childFailure(child, GUEST_OK, QEMU_COMMAND));
}

async function runNative(binary: string, args: string[], repeat: number, onOutput: (text: string) => void): Promise<BenchRun> {
  const child = await runChild(binary, args, onOutput);
  let failure = childFailure(child, 0, "the native bench");
  const result = failure === undefined ? parseNativeResult(child.stdout) : null;
  if (failure === undefined && result === null) failure = "no RESULT line";
  return guestRun(child, repeat, result?.output ?? child.stdout, failure);
}

function guestRun(child: Child, repeat: number, output: string, failure: string | undefined): BenchRun {
  const run: BenchRun = { repeat, ok: failure === undefined, figures: { wallSeconds: child.seconds }, exitStatus: child.status };
  const head = headOf(output);
  if (head !== undefined) run.head = head;
  const times = guestTimes(output);
  if (times !== undefined) Object.assign(run.figures, { guestInitMs: times.initMs, guestRunMs: times.runMs });
  if (failure !== undefined) run.error = failure;
  else run.result = head !== undefined ? `head ${head}` : `exit status ${child.status}`;
  return run;
}

/**
 * The workload's name and arguments, as the guest reads its command line (src/libos/cmdline): the
 * first word unless it is a key=value, else the default workload, bench.
 */
export function workloadOf(append: string): { name: string; args: string[] } {
  const words = append.split(/\s+/).filter((word) => word !== "");
  if (words.length === 0 || words[0].includes("=")) return { name: "bench", args: words };
  return { name: words[0], args: words.slice(1) };
}

/**
 * Runs `options.append` on every engine, `options.repeats` times, interleaved. An engine that
 * cannot run is skipped, one whose run fails runs no more; the others go on. Returns the report,
 * with one line in `errors` per problem (engines skipped or failed, results that differ).
 */
export async function runBench(options: BenchOptions, progress: BenchProgress): Promise<BenchReport> {
  const entry = options.entry === undefined ? builtEntry() : options.entry;
  const workload = workloadOf(options.append);
  const report = newReport("engines", "engines", `${workload.name === "bench" ? "store bench" : "workload"} '${options.append}'`, {
    workload: options.append,
    clock: options.clock,
    repeats: options.repeats,
    engines: options.engines.join(","),
    entry: entry === null ? null : entry[1].join(" "),
  });
  report.image = imageInfo(options.image);
  report.figures = { ...ENGINE_FIGURES };
  const rows = new Map<EngineName, BenchRow>();
  for (const engine of options.engines) {
    const row: BenchRow = { name: engine, label: ENGINE_LABELS[engine], status: "ok", runs: [] };
    rows.set(engine, row);
    report.rows.push(row);
  }
  const drop = (engine: EngineName, status: "skipped" | "failed", reason: string, error: string) => {
    const row = rows.get(engine)!;
    row.status = status;
    row.reason = reason;
    report.errors.push(`${engine}: ${error}`);
    progress.drop(engine, reason);
  };

  // What can run at all.
  const runners = new Map<EngineName, (repeat: number, onOutput: (text: string) => void) => Promise<BenchRun>>();
  for (const engine of options.engines) {
    if (engine === "qemu") {
      if (qemuInstalled()) runners.set(engine, (repeat, onOutput) => runQemu(options, repeat, onOutput));
      else drop(engine, "skipped", `${QEMU_COMMAND} is not installed`, `skipped: ${QEMU_COMMAND} is not installed (not found on PATH)`);
    } else if (engine === "native") {
      const problem = workload.name !== "bench" ? `the native build runs the store bench only, not '${workload.name}'` : nativeStoreProblem(packageRoot());
      let args: string[] | undefined;
      try {
        if (problem === null) args = nativeBenchArgs(workload.args);
      } catch (error) {
        drop(engine, "skipped", (error as Error).message, `skipped: ${(error as Error).message}`);
        continue;
      }
      if (problem !== null) {
        drop(engine, "skipped", problem, `skipped: ${problem}`);
        continue;
      }
      progress.note("building the native store bench (gcc -O2)");
      try {
        const binary = buildNativeStore(packageRoot()!);
        runners.set(engine, (repeat, onOutput) => runNative(binary, args!, repeat, onOutput));
      } catch (error) {
        const message = (error as Error).message.split("\n")[0];
        drop(engine, "skipped", message, `skipped: ${message}`);
      }
    } else if (entry === null) {
      drop(engine, "skipped", "dist/x64emu.mjs is not built", "skipped: the built entry point dist/x64emu.mjs is missing (npm run build:cli)");
    } else {
      runners.set(engine, (repeat, onOutput) => runOurs(engine, entry, options, repeat, onOutput));
    }
  }

  const plan: { engine: EngineName; repeat: number }[] = [];
  for (let repeat = 1; repeat <= options.repeats; repeat++) {
    for (const engine of options.engines) if (runners.has(engine)) plan.push({ engine, repeat });
  }
  progress.plan(plan);
  for (const { engine, repeat } of plan) {
    const runner = runners.get(engine);
    if (runner === undefined) continue; // failed earlier
    progress.start(engine, repeat);
    const run = await runner(repeat, (text) => progress.output(text));
    rows.get(engine)!.runs.push(run);
    progress.finish(engine, run);
    if (!run.ok) {
      runners.delete(engine);
      drop(engine, "failed", run.error ?? "failed", `run ${repeat} failed: ${run.error ?? "failed"}`);
    }
  }

  // Every engine's result must be the same.
  const ok = report.rows.flatMap((row) => row.runs.filter((run) => run.ok).map((run) => ({ engine: row.name, result: run.result! })));
  if (ok.length > 0) {
    const values: Record<string, string[]> = {};
    for (const { engine, result } of ok) {
      values[result] ??= [];
      if (!values[result].includes(engine)) values[result].push(engine);
    }
    const agree = Object.keys(values).length === 1;
    report.check = { by: ok.some(({ result }) => result.startsWith("head ")) ? "head" : "exit status", agree, values };
    if (!agree) {
      const shorten = (result: string) => (result.startsWith("head ") ? `${result.slice(0, 5 + 16)}…` : result);
      report.errors.push(`results differ: ${Object.entries(values).map(([result, engines]) => `${shorten(result)} on ${engines.join(", ")}`).join("; ")}`);
    }
  }
  return report;
}
