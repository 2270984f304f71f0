// `npm run bench`: the microbenchmark suites of perf/ one after the other (each in its own process,
// as `npm run bench:<suite>` starts it), with a progress line, then one summary table of every
// suite's cases. Each suite writes its report as JSON (src/bench/suite.ts) into one directory, in
// the shape of `x64emu bench --json`, so `x64emu bench compare OLD/decoder.json NEW/decoder.json`
// compares two runs; each suite's own output goes to <suite>.log beside it.
//
// Run: npm run bench [-- SUITE...]      (SUITE: decoder, interpreter, memory, jit, int64, v86; default all)
//   BENCH_JSON_DIR   where the reports and logs go (default build/bench/<date>-<time>)
//   BENCH_MAX_TIME   seconds benchmark.js spends per case in the decoder, interpreter, memory and int64
//                    suites (default benchmark.js's 5); the jit suite has its own JIT_BENCH_* knobs, and
//                    v86 (perf/v86.bench.ts, 32-bit loops against v86 and QEMU; about 3 minutes) its
//                    defaults
import { spawn } from "node:child_process";
import { createWriteStream, existsSync, mkdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { ProgressLine } from "../src/bench/progress.js";
import { asReport, contextLines, type BenchReport } from "../src/bench/report.js";
import { formatSuiteSummary } from "../src/bench/tables.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const SUITES: Record<string, string> = {
  decoder: "perf/decoder.bench.ts",
  interpreter: "perf/interpreter.bench.ts",
  memory: "perf/memory.bench.ts",
  jit: "perf/jit.bench.ts",
  int64: "perf/int64-representation.bench.ts",
  v86: "perf/v86.bench.ts",
};

const chosen = process.argv.slice(2);
for (const name of chosen) {
  if (SUITES[name] === undefined) {
    console.error(`error: unknown suite '${name}' (suites: ${Object.keys(SUITES).join(", ")})`);
    process.exit(2);
  }
}
const suites = chosen.length > 0 ? chosen : Object.keys(SUITES);
const stamp = new Date().toISOString().slice(0, 19).replace(/:/g, "").replace("T", "-");
const dir = resolve(process.env.BENCH_JSON_DIR || join(root, "build/bench", stamp));
mkdirSync(dir, { recursive: true });

const progress = new ProgressLine({ write: (text) => void process.stdout.write(text), live: process.stdout.isTTY === true, columns: process.stdout.columns, label: (suite) => `suite ${suite}` });
progress.setPlan(suites.map((task) => ({ task, repeat: 1 })));
progress.note(`reports and logs: ${dir}`);

/** Runs one suite under tsx, its output to <suite>.log and to the progress line; resolves to its exit status. */
function runSuite(suite: string): Promise<{ status: number | null; seconds: number }> {
  return new Promise((done) => {
    const started = performance.now();
    const log = createWriteStream(join(dir, `${suite}.log`));
    const child = spawn(process.execPath, ["--import", "tsx", SUITES[suite]], { cwd: root, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, BENCH_JSON_DIR: dir } });
    for (const stream of [child.stdout, child.stderr]) {
      stream.on("data", (chunk: Buffer) => {
        log.write(chunk);
        progress.output(chunk.toString("utf8"));
      });
    }
    child.on("close", (status) => log.end(() => done({ status, seconds: (performance.now() - started) / 1000 })));
  });
}

const reports: BenchReport[] = [];
const errors: string[] = [];
for (const suite of suites) {
  progress.start(suite, 1);
  const { status, seconds } = await runSuite(suite);
  const path = join(dir, `${suite}.json`);
  const ok = status === 0 && existsSync(path);
  progress.finish(suite, 1, { repeat: 1, ok, figures: { wallSeconds: seconds } }, ok ? `${seconds.toFixed(0)} s` : `failed (exit status ${status}; see ${suite}.log)`);
  if (!ok) {
    errors.push(`suite ${suite} failed: exit status ${status}${existsSync(path) ? "" : ", no report"} (${join(dir, `${suite}.log`)})`);
    continue;
  }
  reports.push(asReport(JSON.parse(readFileSync(path, "utf8"))));
}
progress.stop();

if (reports.length > 0) {
  console.log(`perf suites ${reports.map((r) => r.suite).join(", ")}; ${new Date().toISOString()}`);
  console.log(contextLines(reports[0]).join("\n"));
  console.log("");
  console.log(formatSuiteSummary(reports).join("\n"));
  console.log(`\nmedian (min–max) over benchmark.js's samples (jit: over its interleaved rounds); reports in ${dir}`);
}
for (const error of errors) console.error(`error: ${error}`);
if (errors.length > 0) process.exitCode = 1;
