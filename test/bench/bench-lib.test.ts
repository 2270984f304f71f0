// src/bench's pieces on their own: parsing --stats and the head hash, the native bench's arguments,
// the engines table's ratios, the progress line and its estimate of the time left, the perf/ suites'
// JSON writer and `npm run bench` (perf/suites.ts) on one short suite, compared by `bench compare`.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { afterAll, describe, expect, it } from "vitest";
import { compareReports, formatComparison } from "../../src/bench/compare.js";
import { headOf, parseEngineList, parseStats, workloadOf } from "../../src/bench/engines.js";
import { nativeBenchArgs, parseNativeResult } from "../../src/bench/native.js";
import { ProgressLine, formatDuration, lastProgress, progressFraction } from "../../src/bench/progress.js";
import { asReport, formatTable, median, summarize, type BenchReport, type BenchRow } from "../../src/bench/report.js";
import { SuiteReport, writeSuiteJson } from "../../src/bench/suite.js";
import { engineTable, formatSuiteSummary } from "../../src/bench/tables.js";
import { repoRoot } from "../cli/run-cli.js";

const tmp = mkdtempSync(join(tmpdir(), "x64emu-bench-lib-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

// As printed by `x64emu --stats --accel jit` (src/cli/boot.ts, src/jit/stats.ts).
const JIT_STATS = `stats: 18911579 guest instructions in 1.058 s wall time, 17.87 MIPS (accel jit, clock realtime, TSC 1000 MHz)
stats: jit: 271 units compiled (32 loop regions) in 163.5 ms; 44 WebAssembly modules, 8 of them recompiling 344 units into packs; code cache 275 units, 20.6 KiB of JS; 1382587 dispatches, 2041 by direct link, 1193205 chained in WebAssembly,  54341 by the jump cache, cache hit rate 0.4% of 132089 lookups; 0 invalidations; 989709 instructions in the interpreter; 94.8% of instructions in JIT code
`;

describe("parsing what the engines print", () => {
  it("reads --stats: instructions, run time, MIPS and the JIT's units, compile time, dispatches, share", () => {
    expect(parseStats(JIT_STATS)).toEqual({
      instructions: 18911579,
      runSeconds: 1.058,
      mips: 17.87,
      jit: { units: 271, regions: 32, compileMs: 163.5, dispatches: 1382587, share: 94.8 },
    });
    const interp = parseStats("[INFO] x\nstats: 63976273 guest instructions in 9.315 s wall time, 6.87 MIPS (accel interp, clock realtime, TSC 1000 MHz)\n");
    expect(interp).toEqual({ instructions: 63976273, runSeconds: 9.315, mips: 6.87 });
    expect(parseStats("error: something\n")).toBeNull();
  });

  it("finds the head hash only on its own line", () => {
    const head = "0913864e9e93bb99089411a40302ba534a01270a7f695ebee2fd03c40fd0d29e4453e37c61e5cd37e3cbf67e6275d7ac4041ee74a198bcf57dc7bfbc7484172f";
    expect(headOf(`[run done]\r\nhead: ${head}\r\nobjects: contents=21\n`)).toBe(head);
    expect(headOf(`heads: ${head}\n`)).toBeUndefined();
    expect(headOf(`head: ${head.slice(1)}\n`)).toBeUndefined();
  });

  it("parses engine lists and workloads", () => {
    expect(parseEngineList("jit, qemu,jit")).toEqual(["jit", "qemu"]);
    expect(() => parseEngineList("jit,kvm")).toThrow("unknown engine 'kvm'");
    expect(workloadOf("")).toEqual({ name: "bench", args: [] });
    expect(workloadOf("  bench commits=3  depth=2 ")).toEqual({ name: "bench", args: ["commits=3", "depth=2"] });
    expect(workloadOf("commits=3")).toEqual({ name: "bench", args: ["commits=3"] }); // the guest's default workload
    expect(workloadOf("selftest only=alloc")).toEqual({ name: "selftest", args: ["only=alloc"] });
  });

  it("gives the native bench the guest's bench arguments in its own spelling", () => {
    expect(nativeBenchArgs(["commits=20", "depth=8", "tree_add=40", "gc=5"])).toEqual(["bench", "ncommits=20", "depth=8", "tree_add=40", "gc=5"]);
    expect(() => nativeBenchArgs(["speed=3"])).toThrow("the native bench does not take 'speed=3'");
    const parsed = parseNativeResult('[init done]\nhead: ab\nRESULT {"head":"ab","contents":1,"nodes":2,"commits":3,"heapPeak":4,"initNs":5,"runNs":6}\n');
    expect(parsed).toEqual({ output: "[init done]\nhead: ab\n", head: "ab", contents: 1, nodes: 2, commits: 3, heapPeak: 4, initNs: 5, runNs: 6 });
    expect(parseNativeResult("no result")).toBeNull();
  });
});

const row = (name: string, label: string, wall: number[], extra: Record<string, number[]> = {}): BenchRow => ({
  name,
  label,
  status: "ok",
  runs: wall.map((seconds, i) => ({
    repeat: i + 1,
    ok: true,
    figures: { wallSeconds: seconds, ...Object.fromEntries(Object.entries(extra).map(([figure, values]) => [figure, values[i]])) },
  })),
});

function report(rows: BenchRow[]): BenchReport {
  return asReport({
    format: "x64emu-bench-report",
    version: 1,
    kind: "engines",
    suite: "engines",
    title: "t",
    date: "2024-01-01T00:00:00.000Z",
    settings: { repeats: 3, clock: "realtime" },
    emulator: { version: "0", commit: null, dirty: null },
    machine: { cpu: "c", cores: 2, memoryGiB: 1, os: "linux", node: "v20", v8: "11", qemu: null },
    figures: { wallSeconds: { label: "wall time", unit: "s", better: "lower" }, mips: { label: "guest MIPS", unit: "MIPS", better: "higher" }, instructions: { label: "guest instructions", unit: "", better: "lower" } },
    rows,
    errors: [],
  });
}

describe("the engines table", () => {
  it("has medians with ranges, speedup over the interpreter, ratios to QEMU and native, and QEMU's estimated MIPS", () => {
    const table = engineTable(
      report([
        row("jit", "JIT", [2, 3, 4], { instructions: [1e8, 1e8, 1e8], mips: [50, 40, 30] }),
        row("interp", "interpreter", [30, 33, 36], { instructions: [1e8, 1e8, 1e8], mips: [3, 3, 3] }),
        row("qemu", "QEMU TCG", [1, 1, 1]),
        row("native", "native (gcc -O2)", [0.25, 0.25, 0.3]),
        { name: "check", label: "check (JIT+interp)", status: "skipped", reason: "r", runs: [] },
      ]),
    );
    expect(table.header).toEqual(["engine", "wall s: median (min–max)", "runs", "guest instr", "MIPS", "speedup vs interp", "time / QEMU", "time / native"]);
    expect(table.rows).toEqual([
      ["JIT", "3.00 (2.00–4.00)", "3", "100,000,000", "40.0", "11.0x", "3.00x", "12.0x"],
      ["interpreter", "33.00 (30.00–36.00)", "3", "100,000,000", "3.00", "1.00x", "33.0x", "132.0x"],
      ["QEMU TCG", "1.00", "3", "-", "~100", "33.0x", "1.00x", "4.00x"],
      ["native (gcc -O2)", "0.250 (0.250–0.300)", "3", "-", "-", "132.0x", "0.25x", "1.00x"],
      ["check (JIT+interp)", "skipped", "0", "-", "-", "-", "-", "-"],
    ]);
  });

  it("pads text tables and summarizes figures over successful runs only", () => {
    expect(formatTable(["a", "bb"], [["xyz", "1"], ["q", "22"]])).toEqual(["a    bb", "xyz   1", "q    22"]);
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
    const r = row("jit", "JIT", [1, 5, 2]);
    r.runs[1].ok = false;
    expect(summarize(r, "wallSeconds")).toEqual({ median: 1.5, min: 1, max: 2, count: 2 });
    expect(summarize(r, "mips")).toBeNull();
  });
});

describe("the progress line", () => {
  it("prints plain lines when not on a terminal", () => {
    let out = "";
    const line = new ProgressLine({ write: (text) => void (out += text), live: false, label: (task, repeat) => `${task} run ${repeat}/2` });
    line.setPlan([{ task: "jit", repeat: 1 }, { task: "jit", repeat: 2 }]);
    line.start("jit", 1);
    line.output("commits:  10/20");
    line.finish("jit", 1, { repeat: 1, ok: true, figures: { wallSeconds: 1 } }, "1.00 s");
    line.stop();
    expect(out).toBe("[1/2] jit run 1/2...\n[1/2] jit run 1/2: 1.00 s\n");
  });

  it("rewrites one line on a terminal and estimates the time left from the guest's progress and past runs", () => {
    let out = "";
    const line = new ProgressLine({ write: (text) => void (out += text), live: true, columns: 200, label: (task, repeat) => `${task} ${repeat}` });
    line.setPlan([{ task: "a", repeat: 1 }, { task: "b", repeat: 1 }, { task: "a", repeat: 2 }, { task: "b", repeat: 2 }]);
    line.start("a", 1);
    expect(line.estimateLeft()).toBeUndefined(); // nothing known yet
    line.finish("a", 1, { repeat: 1, ok: true, figures: { wallSeconds: 10 } }, "");
    line.start("b", 1);
    line.output("[init done]\n\rcommits:   10/40\rcommits:   20/40");
    // b is half done after ~4 s: 4 s left of it, then a (10 s) and b again (8 s)
    expect(line.estimateLeft(performance.now() + 4000)).toBeCloseTo(4 + 10 + 8, 0);
    line.refresh();
    line.finish("b", 1, { repeat: 1, ok: true, figures: { wallSeconds: 8 } }, "");
    line.drop("b"); // b will not run again
    line.start("a", 2);
    expect(line.estimateLeft(performance.now())).toBeCloseTo(10, 0);
    line.stop();
    expect(out).toMatch(/\r\x1b\[2K\[2\/4\] b 1 · commits: 20\/40 · /);
    expect(out.endsWith("\r\x1b[2K")).toBe(true); // stop() erases the line
    expect(out).not.toContain("\n");
  });

  it("formats durations and finds the guest's progress", () => {
    expect(formatDuration(3.21)).toBe("3.2s");
    expect(formatDuration(65)).toBe("1m05s");
    expect(formatDuration(7300)).toBe("2h01m");
    expect(lastProgress("a\nb\r\rcommits:  430/1000")).toBe("commits:  430/1000");
    expect(progressFraction("commits:  430/1000")).toBeCloseTo(0.43);
    expect(progressFraction("PASS selftest.alloc")).toBeUndefined();
  });
});

describe("the suites' JSON", () => {
  it("SuiteReport collects samples per case; BENCH_JSON_DIR decides where it goes; compare reads two", () => {
    const make = (values: number[]) => new SuiteReport("demo", "demo suite", { knob: 1 }, { opsPerSecond: { label: "calls", unit: "ops/s", better: "higher" } }).add("case a", "opsPerSecond", values).report;
    const older = make([100, 110, 120]);
    const newer = make([200, 210, 220]);
    expect(older.rows[0].runs.map((r) => r.figures.opsPerSecond)).toEqual([100, 110, 120]);
    expect(() => new SuiteReport("demo", "d").add("x", "undeclared", [1])).toThrow("figure 'undeclared' is not declared");
    const saved = process.env.BENCH_JSON_DIR;
    try {
      delete process.env.BENCH_JSON_DIR;
      expect(writeSuiteJson(older)).toBeUndefined();
      process.env.BENCH_JSON_DIR = join(tmp, "suites");
      const path = writeSuiteJson(older)!;
      expect(path).toBe(join(tmp, "suites", "demo.json"));
      expect(asReport(JSON.parse(readFileSync(path, "utf8")))).toEqual(older);
    } finally {
      if (saved === undefined) delete process.env.BENCH_JSON_DIR;
      else process.env.BENCH_JSON_DIR = saved;
    }
    const [comparison] = compareReports(older, newer);
    expect(comparison.ratio).toBeCloseTo(210 / 110);
    expect(comparison.flag).toBe("better");
    expect(formatComparison(older, newer, "o", "n").join("\n")).toMatch(/case a\s+calls \(ops\/s\)\s+110 \(100–120\)\s+210 \(200–220\)\s+1\.909\s+\*\* better/);
    expect(formatSuiteSummary([newer])).toEqual([
      "suite  case    figure  median (min–max)  unit   samples",
      "demo   case a  calls      210 (200–220)  ops/s        3",
    ]);
  });

  it("npm run bench runs the chosen suites with a summary table and one report each", () => {
    const dir = join(tmp, "run");
    const run = spawnSync(process.execPath, ["--import", "tsx", "perf/suites.ts", "int64"], {
      cwd: repoRoot,
      encoding: "utf8",
      timeout: 120_000,
      env: { ...process.env, BENCH_JSON_DIR: dir, BENCH_MAX_TIME: "0.05" },
    });
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^\[1\/1\] suite int64: \d+ s$/m);
    const summary = run.stdout.split("\n").filter((line) => line.startsWith("int64 "));
    expect(summary).toHaveLength(6);
    expect(summary[0]).toMatch(/^int64\s+register arithmetic: bigint\s+kernel calls\s+\d+ \(\d+–\d+\)\s+ops\/s\s+\d+$/);
    const saved = asReport(JSON.parse(readFileSync(join(dir, "int64.json"), "utf8")));
    expect(saved.kind).toBe("suite");
    expect(saved.settings.BENCH_MAX_TIME).toBe(0.05);
    expect(saved.rows.map((r) => r.name)).toContain("hash (BLAKE2b G): pairs");
    expect(readFileSync(join(dir, "int64.log"), "utf8")).toContain("pairs/bigint");
    // an unknown suite is a malformed command line
    const bad = spawnSync(process.execPath, ["--import", "tsx", "perf/suites.ts", "nope"], { cwd: repoRoot, encoding: "utf8", env: { ...process.env, BENCH_JSON_DIR: dir } });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe("error: unknown suite 'nope' (suites: decoder, interpreter, memory, jit, int64, v86)\n");
  }, 120_000);
});
