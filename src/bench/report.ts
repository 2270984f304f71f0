// The report every benchmark here writes as JSON (`x64emu bench --json`, and the perf/ suites with
// BENCH_JSON_DIR): rows (engines, or a suite's cases), each with every run's raw figures, plus what
// is needed to compare two reports later: the machine, the emulator's commit, the image's hash.
// `x64emu bench compare` (compare.ts) reads two of them.

import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { cpus, platform, release, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const REPORT_FORMAT = "x64emu-bench-report";
export const REPORT_VERSION = 1;

/** What a figure measures and which way is better. */
export interface FigureSpec {
  label: string;
  unit: string;
  better: "lower" | "higher";
}

export interface BenchRun {
  /** 1-based: the round of the interleaved runs (or the sample's index) */
  repeat: number;
  ok: boolean;
  /** the comparable numbers: keys of BenchReport.figures */
  figures: Record<string, number>;
  exitStatus?: number | null;
  /** the store bench's head hash, when the workload printed one */
  head?: string;
  /** what is checked equal across engines: the head hash, or else the exit status */
  result?: string;
  /** why the run failed (one line) */
  error?: string;
  /** the engine's --stats lines, as printed */
  stats?: string[];
}

export interface BenchRow {
  /** "jit", "qemu"..., or a suite's case name */
  name: string;
  label: string;
  status: "ok" | "failed" | "skipped";
  reason?: string;
  runs: BenchRun[];
}

export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
  v8: string;
  qemu: string | null;
}

export interface BenchReport {
  format: typeof REPORT_FORMAT;
  version: typeof REPORT_VERSION;
  /** "engines" (x64emu bench) or "suite" (a perf/ microbenchmark suite) */
  kind: "engines" | "suite";
  /** "engines", or the suite's name ("decoder", "memory"...) */
  suite: string;
  title: string;
  date: string;
  /** the knobs of the run: workload, clock, repeats, environment variables... */
  settings: Record<string, string | number | boolean | null>;
  image?: { path: string; sha256: string; bytes: number };
  emulator: { version: string; commit: string | null; dirty: boolean | null };
  machine: MachineInfo;
  figures: Record<string, FigureSpec>;
  rows: BenchRow[];
  check?: { by: "head" | "exit status"; agree: boolean; values: Record<string, string[]> };
  /** one line each: engines skipped or failed, results that differ */
  errors: string[];
}

// ---- where things are ---------------------------------------------------------------------------

const PACKAGE_NAME = "x64-jit-emulator";

/**
 * The repository (package) root: the nearest directory above this module holding the project's
 * package.json. The same from the sources (src/bench/) and from the bundle (dist/x64emu.mjs).
 */
export function packageRoot(): string | null {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, "package.json");
    if (existsSync(manifest)) {
      try {
        if ((JSON.parse(readFileSync(manifest, "utf8")) as { name?: string }).name === PACKAGE_NAME) return dir;
      } catch {
        // not ours: keep looking
      }
    }
    const parent = dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}

// ---- the context of a run ----------------------------------------------------------------------

let qemuVersionCache: string | null | undefined;

/** `qemu-system-x86_64 --version`'s version ("7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)"), null when not installed. */
export function qemuVersion(): string | null {
  if (qemuVersionCache !== undefined) return qemuVersionCache;
  const run = spawnSync("qemu-system-x86_64", ["--version"], { encoding: "utf8" });
  const first = run.status === 0 ? run.stdout.split("\n")[0] : undefined;
  qemuVersionCache = first === undefined ? null : (/version\s+(.*)$/.exec(first)?.[1] ?? first).trim();
  return qemuVersionCache;
}

export function machineInfo(): MachineInfo {
  const list = cpus();
  return {
    cpu: list[0]?.model.trim() ?? "unknown",
    cores: list.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    os: `${platform()} ${release()}`,
    node: process.version,
    v8: process.versions.v8,
    qemu: qemuVersion(),
  };
}

/** The emulator's version, commit (git rev-parse HEAD) and whether tracked files differ from it. */
export function emulatorVersion(root: string | null): BenchReport["emulator"] {
  let version = "unknown";
  let commit: string | null = null;
  let dirty: boolean | null = null;
  if (root !== null) {
    try {
      version = String((JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version?: unknown }).version ?? "unknown");
    } catch {
      // keep "unknown"
    }
    const head = spawnSync("git", ["rev-parse", "HEAD"], { cwd: root, encoding: "utf8" });
    if (head.status === 0 && /^[0-9a-f]{40}/.test(head.stdout)) {
      commit = head.stdout.trim();
      const status = spawnSync("git", ["status", "--porcelain", "--untracked-files=no"], { cwd: root, encoding: "utf8" });
      if (status.status === 0) dirty = status.stdout.trim() !== "";
    }
  }
  return { version, commit, dirty };
}

export function imageInfo(path: string): NonNullable<BenchReport["image"]> {
  const bytes = readFileSync(path);
  return { path, sha256: createHash("sha256").update(bytes).digest("hex"), bytes: bytes.length };
}

/** A report with the context filled in and no rows yet. */
export function newReport(kind: BenchReport["kind"], suite: string, title: string, settings: BenchReport["settings"]): BenchReport {
  return {
    format: REPORT_FORMAT,
    version: REPORT_VERSION,
    kind,
    suite,
    title,
    date: new Date().toISOString(),
    settings,
    emulator: emulatorVersion(packageRoot()),
    machine: machineInfo(),
    figures: {},
    rows: [],
    errors: [],
  };
}

/** Checks that `value` (parsed JSON) is a report; returns it, or throws an Error saying what is wrong. */
export function asReport(value: unknown): BenchReport {
  const report = value as Partial<BenchReport> | null;
  if (report === null || typeof report !== "object" || report.format !== REPORT_FORMAT) {
    throw new Error(`not a benchmark report (no "format": "${REPORT_FORMAT}")`);
  }
  if (report.version !== REPORT_VERSION) throw new Error(`report version ${String(report.version)}, expected ${REPORT_VERSION}`);
  if (typeof report.figures !== "object" || report.figures === null || !Array.isArray(report.rows)) {
    throw new Error("malformed report (figures or rows missing)");
  }
  for (const row of report.rows) {
    if (typeof row?.name !== "string" || !Array.isArray(row.runs)) throw new Error("malformed report (a row without a name or runs)");
    for (const run of row.runs) {
      if (typeof run?.figures !== "object" || run.figures === null) throw new Error(`malformed report (a run of ${row.name} without figures)`);
    }
  }
  return report as BenchReport;
}

// ---- figures --------------------------------------------------------------------------------------

export interface Summary {
  median: number;
  min: number;
  max: number;
  count: number;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** Median, min and max of `figure` over a row's successful runs; null when no run has it. */
export function summarize(row: BenchRow, figure: string): Summary | null {
  const values = row.runs.filter((run) => run.ok && Number.isFinite(run.figures[figure])).map((run) => run.figures[figure]);
  if (values.length === 0) return null;
  return { median: median(values), min: Math.min(...values), max: Math.max(...values), count: values.length };
}

// ---- text tables ---------------------------------------------------------------------------------

/** Columns padded to their widest cell; `align` per column, "l" or "r" (default "r" but the first). */
export function formatTable(header: string[], rows: string[][], align?: ("l" | "r")[]): string[] {
  const widths = header.map((cell, i) => Math.max(cell.length, ...rows.map((row) => (row[i] ?? "").length)));
  const side = (i: number) => align?.[i] ?? (i === 0 ? "l" : "r");
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (side(i) === "l" ? cell.padEnd(widths[i]) : cell.padStart(widths[i])))
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

/** 1234567 -> "1,234,567" */
export function groupDigits(value: number): string {
  return Math.round(value).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** A number with about three significant digits: 0.0123, 1.23, 12.3, 123, 1234. */
export function shortNumber(value: number): string {
  const size = Math.abs(value);
  if (size >= 100_000) return groupDigits(value);
  if (size >= 100) return value.toFixed(0);
  if (size >= 10) return value.toFixed(1);
  if (size >= 1) return value.toFixed(2);
  if (size >= 0.01) return value.toFixed(3);
  return value.toPrecision(2);
}

/** "1.23 (1.20–1.31)": the median and the range, or just the value for one run. */
export function formatSummary(summary: Summary, format: (value: number) => string = shortNumber): string {
  if (summary.count === 1 || summary.min === summary.max) return format(summary.median);
  return `${format(summary.median)} (${format(summary.min)}–${format(summary.max)})`;
}

/** The lines above a table that say where and what was measured. */
export function contextLines(report: BenchReport): string[] {
  const m = report.machine;
  const e = report.emulator;
  return [
    `machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.os}; Node ${m.node}, V8 ${m.v8}${m.qemu !== null ? `, QEMU ${m.qemu}` : ""}`,
    `emulator: ${e.version}, commit ${e.commit === null ? "unknown" : e.commit.slice(0, 12)}${e.dirty ? " with uncommitted changes" : ""}` +
      (report.image !== undefined ? `; image ${report.image.path} sha256 ${report.image.sha256.slice(0, 16)}…` : "") +
      `; ${report.date}`,
  ];
}
