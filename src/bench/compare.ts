// `x64emu bench compare OLD.json NEW.json`: for every row (engine, or a suite's case) and figure in
// both reports, the ratio new/old of the medians, flagged where the min–max ranges of the runs do
// not overlap (a change the noise between runs does not explain).

import { formatSummary, formatTable, summarize, type BenchReport, type Summary } from "./report.js";

export interface FigureComparison {
  row: string;
  figure: string;
  old: Summary;
  new: Summary;
  /** new median / old median */
  ratio: number;
  /** the ranges do not overlap: "better" or "worse" by the figure's direction; undefined when they overlap */
  flag?: "better" | "worse";
}

/** Every figure two reports both have for a row. */
export function compareReports(older: BenchReport, newer: BenchReport): FigureComparison[] {
  const comparisons: FigureComparison[] = [];
  for (const newRow of newer.rows) {
    const oldRow = older.rows.find((row) => row.name === newRow.name);
    if (oldRow === undefined) continue;
    for (const [figure, spec] of Object.entries(newer.figures)) {
      if (older.figures[figure] === undefined) continue;
      const before = summarize(oldRow, figure);
      const after = summarize(newRow, figure);
      if (before === null || after === null) continue;
      const comparison: FigureComparison = { row: newRow.name, figure, old: before, new: after, ratio: after.median / before.median };
      const higher = after.min > before.max;
      const lower = after.max < before.min;
      if (higher || lower) comparison.flag = higher === (spec.better === "higher") ? "better" : "worse";
      comparisons.push(comparison);
    }
  }
  return comparisons;
}

const describe = (report: BenchReport) =>
  `${report.suite} ${report.date}, commit ${report.emulator.commit?.slice(0, 12) ?? "unknown"}${report.emulator.dirty ? "+changes" : ""}` +
  (report.image !== undefined ? `, image ${report.image.sha256.slice(0, 12)}` : "") +
  `, ${report.machine.cpu} x${report.machine.cores}`;

/** The comparison as text: what is compared, the table, and what could not be compared. */
export function formatComparison(older: BenchReport, newer: BenchReport, oldName: string, newName: string): string[] {
  const comparisons = compareReports(older, newer);
  const lines = [`old: ${oldName}: ${describe(older)}`, `new: ${newName}: ${describe(newer)}`];
  if (older.suite !== newer.suite) lines.push(`note: different benchmarks (${older.suite} / ${newer.suite}): only rows with the same name are compared`);
  if (older.image !== undefined && newer.image !== undefined && older.image.sha256 !== newer.image.sha256) lines.push("note: the guest images differ (sha256)");
  if (older.settings.workload !== newer.settings.workload) lines.push(`note: different workloads ('${older.settings.workload ?? ""}' / '${newer.settings.workload ?? ""}')`);
  if (older.machine.cpu !== newer.machine.cpu || older.machine.cores !== newer.machine.cores) lines.push("note: different machines: absolute figures are not comparable");
  const labels = new Map(newer.rows.map((row) => [row.name, row.label]));
  const cells = comparisons.map((c) => {
    const spec = newer.figures[c.figure];
    return [
      labels.get(c.row) ?? c.row,
      `${spec.label}${spec.unit ? ` (${spec.unit})` : ""}`,
      formatSummary(c.old),
      formatSummary(c.new),
      `${c.ratio.toFixed(3)}`,
      c.flag === undefined ? "" : c.flag === "better" ? `** better (${spec.better} is better; ranges apart)` : `** WORSE (${spec.better} is better; ranges apart)`,
    ];
  });
  lines.push("");
  if (cells.length === 0) lines.push("nothing to compare: no row has a figure in both reports");
  else lines.push(...formatTable(["row", "figure", "old: median (min–max)", "new: median (min–max)", "new/old", "flag"], cells, ["l", "l", "r", "r", "r", "l"]));
  const onlyOld = older.rows.filter((row) => !newer.rows.some((other) => other.name === row.name)).map((row) => row.name);
  const onlyNew = newer.rows.filter((row) => !older.rows.some((other) => other.name === row.name)).map((row) => row.name);
  if (onlyOld.length > 0) lines.push(`only in old: ${onlyOld.join(", ")}`);
  if (onlyNew.length > 0) lines.push(`only in new: ${onlyNew.join(", ")}`);
  const flagged = comparisons.filter((c) => c.flag !== undefined).length;
  lines.push(`${comparisons.length} figures compared, ${flagged} with ranges that do not overlap`);
  return lines;
}
