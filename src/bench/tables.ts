// The text tables of the reports: `x64emu bench`'s engines table and the perf/ suites' summary.

import { contextLines, formatSummary, formatTable, groupDigits, shortNumber, summarize, type BenchReport, type BenchRow } from "./report.js";

const ratio = (value: number) => `${value >= 10 ? value.toFixed(1) : value.toFixed(2)}x`;

/** Guest instructions of the run: the median count of the engines that report one (ours, via --stats). */
export function guestInstructions(report: BenchReport): number | undefined {
  const counts = report.rows.map((row) => summarize(row, "instructions")?.median).filter((count): count is number => count !== undefined);
  return counts.length === 0 ? undefined : counts.sort((a, b) => a - b)[Math.floor(counts.length / 2)];
}

/** MIPS of a row: measured (--stats) for ours, estimated for QEMU (our instruction count over its wall time). */
export function rowMips(report: BenchReport, row: BenchRow): { value: number; estimated: boolean } | undefined {
  const measured = summarize(row, "mips");
  if (measured !== null) return { value: measured.median, estimated: false };
  const instructions = guestInstructions(report);
  const wall = summarize(row, "wallSeconds");
  if (row.name === "qemu" && instructions !== undefined && wall !== null) return { value: instructions / wall.median / 1e6, estimated: true };
  return undefined;
}

/** `x64emu bench`'s table: a header and one row of cells per engine. */
export function engineTable(report: BenchReport): { header: string[]; rows: string[][] } {
  const wall = (name: string) => {
    const row = report.rows.find((r) => r.name === name);
    return row === undefined ? undefined : summarize(row, "wallSeconds")?.median;
  };
  const interp = wall("interp");
  const qemu = wall("qemu");
  const native = wall("native");
  const header = ["engine", "wall s: median (min–max)", "runs", "guest instr", "MIPS", "speedup vs interp", "time / QEMU", "time / native", "JIT units", "compile ms", "dispatches", "in JIT code"];
  const cells: string[][] = [];
  for (const row of report.rows) {
    const time = summarize(row, "wallSeconds");
    if (time === null) {
      cells.push([row.label, row.status === "skipped" ? "skipped" : "failed", "0", ...header.slice(3).map(() => "-")]);
      continue;
    }
    const instructions = summarize(row, "instructions");
    const mips = rowMips(report, row);
    const figure = (name: string, format: (value: number) => string) => {
      const summary = summarize(row, name);
      return summary === null ? "-" : format(summary.median);
    };
    const okRuns = row.runs.filter((run) => run.ok).length;
    cells.push([
      row.label,
      formatSummary(time, (value) => value.toFixed(value >= 100 ? 1 : value >= 1 ? 2 : 3)),
      okRuns === row.runs.length ? String(okRuns) : `${okRuns}/${row.runs.length}`,
      instructions === null ? "-" : groupDigits(instructions.median),
      mips === undefined ? "-" : `${mips.estimated ? "~" : ""}${shortNumber(mips.value)}`,
      interp === undefined ? "-" : ratio(interp / time.median),
      qemu === undefined ? "-" : ratio(time.median / qemu),
      native === undefined ? "-" : ratio(time.median / native),
      figure("jitUnits", groupDigits),
      figure("jitCompileMs", (value) => value.toFixed(1)),
      figure("jitDispatches", groupDigits),
      figure("jitShare", (value) => `${value.toFixed(1)}%`),
    ]);
  }
  // Columns nobody has (no QEMU run, no JIT) are left out.
  const keep = header.map((_, i) => i < 3 || cells.some((row) => row[i] !== "-"));
  return { header: header.filter((_, i) => keep[i]), rows: cells.map((row) => row.filter((_, i) => keep[i])) };
}

export const ENGINE_TABLE_LEGEND = [
  "wall s: the whole process, start-up included (ours: the built entry point with --stats); ratios: of median wall times;",
  "MIPS: guest instructions over the machine's run time from --stats (~ for QEMU: our instruction count over its wall time).",
];

/** The report's heading: what ran, how often. */
export function engineHeading(report: BenchReport): string {
  return `${report.title}, ${report.settings.repeats} run(s) per engine, interleaved; clock ${report.settings.clock}`;
}

/** The lines under the table: engines skipped or failed, and the result every engine printed. */
export function engineNotes(report: BenchReport): string[] {
  const lines: string[] = [];
  for (const row of report.rows) {
    if (row.status !== "ok") lines.push(`${row.label}: ${row.status}: ${row.reason ?? ""}`);
  }
  if (report.check !== undefined) {
    const entries = Object.entries(report.check.values);
    if (report.check.agree) {
      const [result, engines] = entries[0];
      const shown = result.startsWith("head ") ? `head ${result.slice(5, 5 + 16)}…` : result;
      lines.push(`${shown} on every engine that ran (${engines.join(", ")})`);
    } else {
      lines.push(`RESULTS DIFFER: ${entries.map(([result, engines]) => `${result} on ${engines.join(", ")}`).join("; ")}`);
    }
  }
  return lines;
}

/** `x64emu bench`'s report as text: context, the table, and what was checked. */
export function formatEngineReport(report: BenchReport): string[] {
  const { header, rows } = engineTable(report);
  return [engineHeading(report), ...contextLines(report), "", ...formatTable(header, rows), "", ...ENGINE_TABLE_LEGEND, ...engineNotes(report)];
}

/** One summary table over several suites' reports (npm run bench). */
export function formatSuiteSummary(reports: BenchReport[]): string[] {
  const header = ["suite", "case", "figure", "median (min–max)", "unit", "samples"];
  const cells: string[][] = [];
  for (const report of reports) {
    for (const row of report.rows) {
      const [name, spec] = Object.entries(report.figures).find(([figure]) => summarize(row, figure) !== null) ?? [];
      if (name === undefined || spec === undefined) {
        cells.push([report.suite, row.label, "-", row.status, "", "0"]);
        continue;
      }
      const summary = summarize(row, name)!;
      cells.push([report.suite, row.label, spec.label, formatSummary(summary), spec.unit, String(summary.count)]);
    }
  }
  return formatTable(header, cells, ["l", "l", "l", "r", "l", "r"]);
}
