// `x64emu bench --svg/--html`: a chart of wall time and MIPS per engine, the median with min–max
// whiskers, as a Vega-Lite spec compiled by vega-lite and rendered to SVG in Node by vega (no
// browser, no canvas: renderer "none" + toSVG). Both are loaded on first use, so `--help` and runs
// without a chart do not pay for them. --html puts the chart, the table and every run in one page.

import { contextLines, summarize, type BenchReport } from "./report.js";
import { ENGINE_TABLE_LEGEND, engineHeading, engineNotes, engineTable, rowMips } from "./tables.js";

interface Point {
  engine: string;
  median: number;
  min: number;
  max: number;
  text: string;
}

const number = (value: number) => (value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value >= 1 ? value.toFixed(2) : value.toPrecision(2));

/** The chart's data: per engine that ran, wall time and MIPS as median, min, max. */
export function chartData(report: BenchReport): { wall: Point[]; mips: Point[] } {
  const wall: Point[] = [];
  const mips: Point[] = [];
  for (const row of report.rows) {
    const time = summarize(row, "wallSeconds");
    if (time === null) continue;
    wall.push({ engine: row.label, median: time.median, min: time.min, max: time.max, text: `${number(time.median)} s` });
    const measured = summarize(row, "mips");
    const estimate = rowMips(report, row);
    if (measured !== null) {
      mips.push({ engine: row.label, median: measured.median, min: measured.min, max: measured.max, text: number(measured.median) });
    } else if (estimate !== undefined) {
      // QEMU: our instruction count over each of its wall times (the range follows its wall times)
      const scale = estimate.value * time.median;
      mips.push({ engine: `${row.label} (~)`, median: estimate.value, min: scale / time.max, max: scale / time.min, text: `~${number(estimate.value)}` });
    }
  }
  return { wall, mips };
}

/** The Vega-Lite spec: two panels side by side, wall time (log scale) and MIPS. */
export function chartSpec(report: BenchReport): Record<string, unknown> {
  const { wall, mips } = chartData(report);
  const y = { field: "engine", type: "nominal", sort: null, title: null };
  const panel = (title: string, values: Point[], axisTitle: string, log: boolean) => ({
    title,
    width: 300,
    height: { step: 30 },
    data: { values },
    layer: [
      log
        ? { mark: { type: "point", filled: true, size: 70, color: "#1f5fa8" }, encoding: { y, x: { field: "median", type: "quantitative", title: axisTitle, scale: { type: "log" } } } }
        : { mark: { type: "bar", color: "#7aa6d6", height: 16 }, encoding: { y, x: { field: "median", type: "quantitative", title: axisTitle } } },
      { mark: { type: "rule", color: "#333", strokeWidth: 1.5 }, encoding: { y, x: { field: "min", type: "quantitative" }, x2: { field: "max" } } },
      { mark: { type: "tick", color: "#333", thickness: 1.5, size: 12 }, encoding: { y, x: { field: "min", type: "quantitative" } } },
      { mark: { type: "tick", color: "#333", thickness: 1.5, size: 12 }, encoding: { y, x: { field: "max", type: "quantitative" } } },
      { mark: { type: "text", align: "left", dx: 6, dy: -9, fontSize: 10 }, encoding: { y, x: { field: "max", type: "quantitative" }, text: { field: "text" } } },
    ],
  });
  const panels = [panel("wall time per run (s, log scale)", wall, "seconds (median, min–max whiskers)", true)];
  if (mips.length > 0) panels.push(panel("guest MIPS", mips, "MIPS (median, min–max whiskers)", false));
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: { text: engineHeading(report), subtitle: contextLines(report), anchor: "start", fontSize: 13, subtitleFontSize: 10, offset: 14 },
    hconcat: panels,
    spacing: 40,
    config: { font: "sans-serif", view: { stroke: null } },
  };
}

/** The chart as an SVG document (vega-lite compiles the spec, vega renders it headless). */
export async function renderChartSvg(report: BenchReport): Promise<string> {
  const [vega, vegaLite] = await Promise.all([import("vega"), import("vega-lite")]);
  const compiled = vegaLite.compile(chartSpec(report) as unknown as Parameters<typeof vegaLite.compile>[0]).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

const escapeHtml = (text: string) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** A table's lines: the first column as text, the others right-aligned. */
function htmlTable(header: string[], rows: string[][]): string[] {
  const cell = (tag: "th" | "td", text: string, index: number) => `<${tag}${index > 0 ? ' class="num"' : ""}>${escapeHtml(text)}</${tag}>`;
  return [
    "<table>",
    `<thead><tr>${header.map((text, i) => cell("th", text, i)).join("")}</tr></thead>`,
    "<tbody>",
    ...rows.map((cells) => `<tr>${cells.map((text, i) => cell("td", text, i)).join("")}</tr>`),
    "</tbody>",
    "</table>",
  ];
}

/** One self-contained page: the chart (inline SVG), the table, the notes and every run. */
export async function renderHtml(report: BenchReport): Promise<string> {
  const svg = await renderChartSvg(report);
  const { header, rows } = engineTable(report);
  const runRows = report.rows.flatMap((row) =>
    row.runs.map((run) => [
      row.label,
      String(run.repeat),
      run.figures.wallSeconds?.toFixed(3) ?? "-",
      run.figures.instructions !== undefined ? String(run.figures.instructions) : "-",
      run.figures.mips !== undefined ? run.figures.mips.toFixed(2) : "-",
      run.ok ? (run.result ?? "") : `failed: ${run.error ?? ""}`,
    ]),
  );
  // The SVG's own XML prologue is not allowed inside HTML.
  const inlineSvg = svg.replace(/^<\?xml[^>]*>\s*/, "");
  return [
    "<!DOCTYPE html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    `<title>x64emu bench, ${escapeHtml(report.date.slice(0, 16).replace("T", " "))} UTC</title>`,
    "<style>",
    "body { font-family: sans-serif; margin: 2em; color: #222; }",
    "table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }",
    "th, td { border-bottom: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }",
    "th.num, td.num { text-align: right; }",
    "p.note { font-size: 0.85em; color: #555; }",
    "</style>",
    "</head>",
    "<body>",
    `<h1>${escapeHtml(engineHeading(report))}</h1>`,
    ...contextLines(report).map((line) => `<p class="note">${escapeHtml(line)}</p>`),
    `<figure>${inlineSvg}</figure>`,
    ...htmlTable(header, rows),
    `<p class="note">${escapeHtml(ENGINE_TABLE_LEGEND.join(" "))}</p>`,
    ...engineNotes(report).map((line) => `<p>${escapeHtml(line)}</p>`),
    "<h2>Every run</h2>",
    ...htmlTable(["engine", "run", "wall s", "guest instructions", "MIPS", "result"], runRows),
    "</body>",
    "</html>",
    "",
  ].join("\n");
}
