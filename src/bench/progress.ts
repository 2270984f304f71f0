// The progress display of a benchmark run: on a terminal one live line (what runs, the guest's own
// progress such as "commits:  430/1000", elapsed time and an estimate of the time left), rewritten
// in place; otherwise plain lines, one when a run starts and one when it ends.

import { performance } from "node:perf_hooks";
import { ENGINE_LABELS, type BenchProgress, type EngineName } from "./engines.js";
import type { BenchRun } from "./report.js";

export interface ProgressOptions {
  write: (text: string) => void;
  /** a terminal: one line rewritten in place (else plain lines) */
  live: boolean;
  /** the terminal's width */
  columns?: number;
  /** how a task is named: "JIT run 2/3" */
  label: (task: string, repeat: number) => string;
}

/** "1m05s", "12.3s" */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${String(Math.round(seconds - minutes * 60)).padStart(2, "0")}s`;
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, "0")}m`;
}

/** The guest's latest progress text: the last non-empty line or \r-segment of its output. */
export function lastProgress(tail: string): string | undefined {
  const segments = tail.split(/[\r\n]+/).map((segment) => segment.trim()).filter((segment) => segment !== "");
  return segments.at(-1);
}

/** The fraction done in a progress text such as "commits:  430/1000", if it has one. */
export function progressFraction(text: string | undefined): number | undefined {
  const match = text === undefined ? null : /(\d+)\s*\/\s*(\d+)/.exec(text);
  if (match === null) return undefined;
  const total = Number(match[2]);
  return total > 0 ? Math.min(1, Number(match[1]) / total) : undefined;
}

export class ProgressLine {
  private plan: { task: string; repeat: number }[] = [];
  private done = 0;
  private current?: { task: string; repeat: number; started: number };
  private tail = "";
  private readonly durations = new Map<string, number[]>();
  private timer?: NodeJS.Timeout;
  private shown = false;
  private readonly began = performance.now();

  constructor(private readonly options: ProgressOptions) {}

  setPlan(plan: { task: string; repeat: number }[]): void {
    this.plan = plan;
    this.done = 0;
  }

  note(text: string): void {
    this.clear();
    this.options.write(`${text}\n`);
  }

  start(task: string, repeat: number): void {
    this.current = { task, repeat, started: performance.now() };
    this.tail = "";
    if (this.options.live) {
      this.render();
      this.timer ??= setInterval(() => this.refresh(), 250);
      this.timer.unref?.();
    } else {
      this.options.write(`[${this.position()}] ${this.options.label(task, repeat)}...\n`);
    }
  }

  output(text: string): void {
    this.tail = (this.tail + text).slice(-400);
  }

  finish(task: string, repeat: number, run: BenchRun, summary: string): void {
    const seconds = run.figures.wallSeconds;
    if (run.ok && seconds !== undefined) {
      const list = this.durations.get(task) ?? [];
      list.push(seconds);
      this.durations.set(task, list);
    }
    this.done++;
    this.current = undefined;
    if (this.options.live) this.render();
    else this.options.write(`[${this.done}/${this.plan.length}] ${this.options.label(task, repeat)}: ${summary}\n`);
  }

  /** A task that will not run again: its remaining runs leave the plan. */
  drop(task: string): void {
    const past = this.done + (this.current ? 1 : 0);
    this.plan = this.plan.filter((item, index) => index < past || item.task !== task);
  }

  /** Removes the live line (before the report is printed). */
  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.clear();
  }

  /** Seconds left: the current run's rest and the runs still to come, from each task's past runs. */
  estimateLeft(now = performance.now()): number | undefined {
    let left = 0;
    const past = (task: string): number | undefined => {
      const list = this.durations.get(task);
      if (list === undefined || list.length === 0) return undefined;
      return [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)];
    };
    // The current run's total: projected from the guest's progress (n/m) once there is some, else
    // what its engine took before.
    let projected: number | undefined;
    if (this.current !== undefined) {
      const elapsed = (now - this.current.started) / 1000;
      const fraction = progressFraction(lastProgress(this.tail));
      projected = fraction !== undefined && fraction > 0.02 ? elapsed / fraction : past(this.current.task);
      if (projected === undefined) return undefined;
      left += Math.max(0, projected - elapsed);
    }
    for (const item of this.plan.slice(this.done + (this.current ? 1 : 0))) {
      const seconds = past(item.task) ?? (item.task === this.current?.task ? projected : undefined);
      if (seconds === undefined) return undefined;
      left += seconds;
    }
    return left;
  }

  private position(): string {
    return `${this.done + 1}/${this.plan.length}`;
  }

  /** Redraws the live line (every 250 ms while a run goes on). */
  refresh(): void {
    if (this.options.live) this.render();
  }

  private render(): void {
    const now = performance.now();
    const parts: string[] = [];
    if (this.current !== undefined) {
      parts.push(`[${this.position()}] ${this.options.label(this.current.task, this.current.repeat)}`);
      const progress = lastProgress(this.tail);
      if (progress !== undefined) parts.push(progress.replace(/\s+/g, " ").slice(0, 40));
      parts.push(formatDuration((now - this.current.started) / 1000));
    } else {
      parts.push(`[${this.done}/${this.plan.length}] done`);
    }
    const left = this.estimateLeft(now);
    parts.push(left === undefined ? "time left: ?" : `~${formatDuration(left)} left`);
    parts.push(`total ${formatDuration((now - this.began) / 1000)}`);
    const width = Math.max(20, (this.options.columns ?? 100) - 1);
    this.options.write(`\r\x1b[2K${parts.join(" · ").slice(0, width)}`);
    this.shown = true;
  }

  private clear(): void {
    if (this.options.live && this.shown) {
      this.options.write("\r\x1b[2K");
      this.shown = false;
    }
  }
}

/**
 * The progress of runBench (engines.ts) on `write`: "JIT run 2/3" while it runs; for each run the
 * wall time, MIPS and head hash, or why it failed. stop() removes the live line.
 */
export function engineProgress(options: { write: (text: string) => void; live: boolean; columns?: number; repeats: number }): { progress: BenchProgress; stop(): void } {
  const line = new ProgressLine({
    write: options.write,
    live: options.live,
    columns: options.columns,
    label: (engine, repeat) => `${ENGINE_LABELS[engine as EngineName] ?? engine} run ${repeat}/${options.repeats}`,
  });
  const summary = (run: BenchRun) => {
    if (!run.ok) return `failed: ${run.error ?? ""}`;
    const mips = run.figures.mips !== undefined ? `, ${run.figures.mips.toFixed(1)} MIPS` : "";
    return `${run.figures.wallSeconds.toFixed(2)} s${mips}, ${run.head !== undefined ? `head ${run.head.slice(0, 16)}…` : (run.result ?? "")}`;
  };
  return {
    progress: {
      plan: (runs) => line.setPlan(runs.map(({ engine, repeat }) => ({ task: engine, repeat }))),
      note: (text) => line.note(text),
      start: (engine, repeat) => line.start(engine, repeat),
      output: (text) => line.output(text),
      finish: (engine, run) => line.finish(engine, run.repeat, run, summary(run)),
      drop: (engine) => line.drop(engine),
    },
    stop: () => line.stop(),
  };
}
