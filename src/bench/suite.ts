// The perf/ microbenchmark suites' JSON: each suite (decoder, interpreter, memory, jit, int64) fills a
// SuiteReport with its cases' samples, and writes it to $BENCH_JSON_DIR/<suite>.json when that
// variable is set (npm run bench sets it), in the shape of `x64emu bench --json`, so that
// `x64emu bench compare OLD.json NEW.json` compares two runs of a suite.

import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { newReport, type BenchReport, type FigureSpec } from "./report.js";

/** Where the suites write their reports, if anywhere (BENCH_JSON_DIR). */
export function suiteJsonDir(): string | undefined {
  const dir = process.env.BENCH_JSON_DIR;
  return dir === undefined || dir === "" ? undefined : dir;
}

/** Writes `report` to $BENCH_JSON_DIR/<suite>.json when BENCH_JSON_DIR is set; returns the path. */
export function writeSuiteJson(report: BenchReport): string | undefined {
  const dir = suiteJsonDir();
  if (dir === undefined) return undefined;
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${report.suite}.json`);
  writeFileSync(path, JSON.stringify(report, null, 2) + "\n");
  return path;
}

/**
 * benchmark.js's `maxTime` (seconds per case) for the suites that use its default of 5 s:
 * BENCH_MAX_TIME shortens (or lengthens) a whole `npm run bench`; undefined when unset.
 */
export function suiteMaxTime(): number | undefined {
  const text = process.env.BENCH_MAX_TIME;
  if (text === undefined || text === "") return undefined;
  const seconds = Number(text);
  if (!Number.isFinite(seconds) || seconds <= 0) throw new Error(`BENCH_MAX_TIME: expected a positive number of seconds, got '${text}'`);
  return seconds;
}

/** A suite's report under construction. */
export class SuiteReport {
  readonly report: BenchReport;

  constructor(suite: string, title: string, settings: BenchReport["settings"] = {}, figures: Record<string, FigureSpec> = {}) {
    const maxTime = suiteMaxTime();
    this.report = newReport("suite", suite, title, maxTime === undefined ? settings : { ...settings, BENCH_MAX_TIME: maxTime });
    this.report.figures = { ...figures };
  }

  /**
   * Adds `values` of `figure` to the case `name` (created on first use), one run each: benchmark.js
   * samples, or the medians of interleaved rounds.
   */
  add(name: string, figure: string, values: readonly number[]): this {
    if (this.report.figures[figure] === undefined) throw new Error(`suite ${this.report.suite}: figure '${figure}' is not declared`);
    let row = this.report.rows.find((r) => r.name === name);
    if (row === undefined) {
      row = { name, label: name, status: "ok", runs: [] };
      this.report.rows.push(row);
    }
    values.forEach((value, index) => {
      const run = row.runs[index];
      if (run === undefined) row.runs.push({ repeat: index + 1, ok: true, figures: { [figure]: value } });
      else run.figures[figure] = value;
    });
    return this;
  }

  /** Writes the report if BENCH_JSON_DIR is set (and says where, on stderr). */
  write(): void {
    const path = writeSuiteJson(this.report);
    if (path !== undefined) process.stderr.write(`report: ${path}\n`);
  }
}
