// Issue 14's v86 comparison: 32-bit guest loops of our own (perf/support/loops32/: a register loop,
// xorshift64, and a memory loop, FNV-1a over a 64 KiB buffer, built with gcc -m32, paging off) on
// v86 with its JIT and with its JIT off (the npm package, a dev dependency), this emulator's JIT and
// interpreter (the built entry point dist/x64emu.mjs, rebuilt first), and QEMU TCG when installed,
// side by side in one run (DESIGN.md §6).
//
// Every engine is a child process, timed from spawn to the guest's checksum line on its stdout (not
// to its exit: after a short run v86's process takes up to 0.7 s more to exit, while V8 finishes
// compiling in the background), and runs each loop twice: a small and a large iteration count. The
// compute time per iteration, (t_large − t_small) / (N_large − N_small), leaves out what both runs
// share: the process's start, the emulator's set-up, the guest's boot and the JIT's warm-up,
// provided the small count is past the warm-up. v86's is the longest: its JIT runs code only once
// V8 has compiled the code generator inside v86.wasm (lazily, at its first use) and the generated
// module, 0.3–1 s here; 10^6 iterations still fell inside it, 8·10^6 (--small) do not. --large
// (128·10^6) keeps the difference to a second or more on the fast engines. The interpreters get
// smaller counts so a round stays short: ours --small-interp and --large-interp, v86's (ten times
// faster) --large-interp and --small; so every count runs on two engines or more. Runs are
// interleaved (each round: each loop, each engine, its two runs; the order of the two alternates
// between rounds) and the table gives medians over --repeats rounds. Every run must print a
// checksum, and every engine the same checksum for the same loop and count (otherwise the script
// fails, exit status 1); test/perf-guests/loops32.test.ts checks the checksums themselves against a
// BigInt reference.
//
// Run: npm run bench:v86 [-- --repeats N] [--small N] [--large N] [--small-interp N] [--large-interp N]
//                         [--engines v86-jit,v86-interp,jit,jit-js,interp,qemu] [--loops reg,mem] [--json FILE]
//   defaults: --repeats 3 --small 8000000 --large 128000000 --small-interp 100000 --large-interp
//   1000000, the engines v86-jit,v86-interp,jit,interp,qemu (QEMU only when installed, v86 only when
//   the package is; jit-js, our JIT with --jit-backend js, on request: about 20 s a run at the
//   default counts), both loops: 2–3 minutes here.
//   BENCH_JSON_DIR  write the report there too (v86.json), as the other perf/ suites do; compare two
//                   runs with `x64emu bench compare OLD/v86.json NEW/v86.json`
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { QEMU_COMMAND, qemuInstalled } from "../src/bench/engines.js";
import { ProgressLine } from "../src/bench/progress.js";
import { contextLines, formatSummary, formatTable, imageInfo, median, shortNumber, summarize, type BenchRun } from "../src/bench/report.js";
import { SuiteReport } from "../src/bench/suite.js";
import { builtCli } from "./support/built-cli.js";
import { buildLoops32, loops32Result, LOOPS32_WORKLOADS, type Loops32Workload } from "./support/loops32.js";
import { v86RunnerCommand, v86Version } from "./support/v86.js";

const ENGINES = ["v86-jit", "v86-interp", "jit", "jit-js", "interp", "qemu"] as const;
type Engine = (typeof ENGINES)[number];
const DEFAULT_ENGINES: readonly Engine[] = ["v86-jit", "v86-interp", "jit", "interp", "qemu"];
const LABELS: Record<Engine, string> = {
  "v86-jit": "v86 JIT",
  "v86-interp": "v86 interpreter (JIT off)",
  jit: "our JIT",
  "jit-js": "our JIT, JS units only",
  interp: "our interpreter",
  qemu: "QEMU TCG",
};
/**
 * The two counts of an engine: our interpreter --small-interp and --large-interp; v86's, about ten
 * times faster, --large-interp and --small; the rest --small and --large. So each count is run by
 * two engines or more, and the checksums link every engine to every other.
 */
function countsOf(engine: Engine): [number, number] {
  if (engine === "interp") return [smallInterp, largeInterp];
  if (engine === "v86-interp") return [largeInterp, small];
  return [small, large];
}
/** Guest RAM on every engine (v86's default is 64 MiB too). */
const MEMORY_MIB = 64;
/** isa-debug-exit with 0: QEMU's and our status (0 << 1) | 1; the v86 runner gives the same. */
const GUEST_OK = 1;

function fail(message: string): never {
  console.error(`error: ${message}`);
  process.exit(2);
}

// ---- the command line -----------------------------------------------------------------------------

let repeats = 3;
let small = 8_000_000;
let large = 128_000_000;
let smallInterp = 100_000;
let largeInterp = 1_000_000;
let jsonFile: string | undefined;
let engines: Engine[] | undefined;
let loops: Loops32Workload[] = [...LOOPS32_WORKLOADS];
const count = (option: string, text: string | undefined): number => {
  const value = Number(text);
  if (text === undefined || !/^\d+$/.test(text) || !Number.isSafeInteger(value) || value > 0xffffffff) fail(`${option} takes an iteration count (a whole number below 2^32)`);
  return value;
};
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  const option = args[i];
  const value = () => args[++i];
  if (option === "--repeats") repeats = count(option, value());
  else if (option === "--small") small = count(option, value());
  else if (option === "--large") large = count(option, value());
  else if (option === "--small-interp") smallInterp = count(option, value());
  else if (option === "--large-interp") largeInterp = count(option, value());
  else if (option === "--json") jsonFile = value() ?? fail("--json takes a file name");
  else if (option === "--engines" || option === "--loops") {
    const names = (value() ?? "").split(",").map((name) => name.trim()).filter((name) => name !== "");
    const allowed: readonly string[] = option === "--engines" ? ENGINES : LOOPS32_WORKLOADS;
    const bad = names.find((name) => !allowed.includes(name));
    if (names.length === 0 || bad !== undefined) fail(`${option}: expected a comma list of ${allowed.join(",")}${bad ? ` (not '${bad}')` : ""}`);
    if (option === "--engines") engines = [...new Set(names)] as Engine[];
    else loops = [...new Set(names)] as Loops32Workload[];
  } else fail(`unknown argument ${option} (see the comment at the top of perf/v86.bench.ts)`);
}
if (repeats < 1) fail("--repeats takes a positive number");
if (large <= small) fail(`--large (${large}) must exceed --small (${small})`);
if (largeInterp <= smallInterp || small <= largeInterp) fail(`expected --small-interp (${smallInterp}) < --large-interp (${largeInterp}) < --small (${small})`);

// ---- what can run -----------------------------------------------------------------------------------

const errors: string[] = [];
const skipped = new Map<Engine, string>();
const installedV86 = v86Version();
const installedQemu = qemuInstalled();
if (engines === undefined) {
  engines = DEFAULT_ENGINES.filter((engine) => (engine.startsWith("v86") ? installedV86 !== null : engine === "qemu" ? installedQemu : true));
  if (installedV86 === null) console.error("note: v86 is not installed (npm install): its rows are left out");
  if (!installedQemu) console.error(`note: ${QEMU_COMMAND} is not installed: its row is left out`);
}
for (const engine of engines) {
  if (engine.startsWith("v86") && installedV86 === null) skipped.set(engine, "the v86 package is not installed (npm install)");
  if (engine === "qemu" && !installedQemu) skipped.set(engine, `${QEMU_COMMAND} is not installed`);
}
for (const [engine, reason] of skipped) errors.push(`${engine}: skipped: ${reason}`);

const image = buildLoops32();
const ours = engines.some((engine) => engine === "jit" || engine === "jit-js" || engine === "interp") ? builtCli() : undefined;
const v86 = engines.some((engine) => engine.startsWith("v86") && !skipped.has(engine)) ? v86RunnerCommand() : undefined;

/** The command that runs `loop` for `iterations` on `engine`. */
function command(engine: Engine, loop: Loops32Workload, iterations: number): [string, string[]] {
  const append = `${loop} ${iterations}`;
  switch (engine) {
    case "jit":
    case "interp":
      return [ours![0], [...ours![1], image, "--accel", engine, "-m", String(MEMORY_MIB), "--stats", "--append", append]];
    case "jit-js":
      return [ours![0], [...ours![1], image, "--accel", "jit", "--jit-backend", "js", "-m", String(MEMORY_MIB), "--stats", "--append", append]];
    case "v86-jit":
    case "v86-interp":
      return [v86![0], [...v86![1], image, "-m", String(MEMORY_MIB), "--append", append, ...(engine === "v86-interp" ? ["--no-jit"] : [])]];
    case "qemu":
      return [QEMU_COMMAND, ["-accel", "tcg", "-machine", "q35", "-m", String(MEMORY_MIB), "-nodefaults", "-display", "none", "-serial", "stdio",
        "-no-reboot", "-kernel", image, "-append", append, "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]];
  }
}

// ---- running ------------------------------------------------------------------------------------------

interface Run {
  /** from spawn to the guest's checksum line on stdout: the start, the boot and the loop */
  seconds: number;
  /** from spawn to exit */
  wallSeconds: number;
  checksum: string;
  /** guest instructions (our engines' --stats) */
  instructions?: number;
}

/** Runs one engine on one loop and count; the run, or why it failed. */
function runOnce(engine: Engine, loop: Loops32Workload, iterations: number, onOutput: (text: string) => void): Promise<Run | string> {
  const [program, programArgs] = command(engine, loop, iterations);
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn(program, programArgs, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let resultAt: number | undefined;
    child.stdout.setEncoding("latin1").on("data", (text: string) => {
      stdout += text;
      if (resultAt === undefined && loops32Result(stdout, loop, iterations) !== null) resultAt = performance.now();
      onOutput(text);
    });
    child.stderr.setEncoding("latin1").on("data", (text: string) => void (stderr += text));
    child.on("error", (error) => resolve(`cannot start ${program}: ${error.message}`));
    child.on("close", (status, signal) => {
      const wallSeconds = (performance.now() - started) / 1000;
      const checksum = loops32Result(stdout, loop, iterations);
      const why = (stderr.split("\n").find((line) => /error/i.test(line)) ?? stdout.split("\n").find((line) => /error/i.test(line)) ?? "").trim();
      if (signal !== null) resolve(`killed by ${signal}`);
      else if (status !== GUEST_OK) resolve(`exit status ${status}${why ? `: ${why}` : ""}`);
      else if (checksum === null) resolve(`no 'loops32 ${loop} n=${iterations} checksum=…' line in the output${why ? ` (${why})` : ""}`);
      else {
        const stats = /^stats: (\d+) guest instructions/m.exec(stderr);
        resolve({ seconds: (resultAt! - started) / 1000, wallSeconds, checksum, ...(stats !== null ? { instructions: Number(stats[1]) } : {}) });
      }
    });
  });
}

interface Pair {
  repeat: number;
  small: Run;
  large: Run;
  nsPerIteration: number;
  instructionsPerIteration?: number;
}

const runnable = engines.filter((engine) => !skipped.has(engine));
const smallOf = (engine: Engine) => countsOf(engine)[0];
const largeOf = (engine: Engine) => countsOf(engine)[1];
const pairs = new Map<string, Pair[]>(); // `${loop} ${engine}` -> one per round
const failed = new Set<string>(); // `${loop} ${engine}` that failed once
/** checksums by loop and count: "reg 100000" -> checksum -> engines */
const checksums = new Map<string, Map<string, Set<Engine>>>();
const noteChecksum = (engine: Engine, loop: Loops32Workload, iterations: number, checksum: string) => {
  const key = `${loop} ${iterations}`;
  const byValue = checksums.get(key) ?? new Map<string, Set<Engine>>();
  checksums.set(key, byValue);
  const list = byValue.get(checksum) ?? new Set<Engine>();
  byValue.set(checksum, list);
  list.add(engine);
};

const progress = new ProgressLine({
  write: (text) => void process.stderr.write(text),
  live: process.stderr.isTTY === true,
  columns: process.stderr.columns,
  label: (task, repeat) => `${task}, round ${repeat}/${repeats}`,
});
const task = (loop: Loops32Workload, engine: Engine, iterations: number) => `${loop} ${LABELS[engine]} n=${iterations}`;
const plan: { task: string; repeat: number }[] = [];
for (let repeat = 1; repeat <= repeats; repeat++) {
  for (const loop of loops) for (const engine of runnable) for (const iterations of [smallOf(engine), largeOf(engine)]) plan.push({ task: task(loop, engine, iterations), repeat });
}
progress.setPlan(plan);
progress.note(`image ${image}; v86 ${installedV86 ?? "not installed"}; iterations ${small} and ${large} (our interpreter ${smallInterp} and ${largeInterp}, v86's ${largeInterp} and ${small}); ${repeats} round(s)`);

for (let repeat = 1; repeat <= repeats; repeat++) {
  for (const loop of loops) {
    for (const engine of runnable) {
      const key = `${loop} ${engine}`;
      if (failed.has(key)) continue;
      const counts = repeat % 2 === 1 ? [smallOf(engine), largeOf(engine)] : [largeOf(engine), smallOf(engine)];
      const runs = new Map<number, Run>();
      for (const iterations of counts) {
        const name = task(loop, engine, iterations);
        progress.start(name, repeat);
        const result = await runOnce(engine, loop, iterations, (text) => progress.output(text));
        const run: BenchRun = typeof result === "string"
          ? { repeat, ok: false, figures: {}, error: result }
          : { repeat, ok: true, figures: { wallSeconds: result.wallSeconds } };
        progress.finish(name, repeat, run, typeof result === "string" ? `failed: ${result}` : `${result.seconds.toFixed(2)} s, checksum ${result.checksum}`);
        if (typeof result === "string") {
          failed.add(key);
          errors.push(`${loop} on ${engine}, n=${iterations}, round ${repeat}: ${result}`);
          progress.drop(name);
          break;
        }
        noteChecksum(engine, loop, iterations, result.checksum);
        runs.set(iterations, result);
      }
      if (failed.has(key)) {
        for (const iterations of [smallOf(engine), largeOf(engine)]) progress.drop(task(loop, engine, iterations));
        continue;
      }
      const smallRun = runs.get(smallOf(engine))!;
      const largeRun = runs.get(largeOf(engine))!;
      const span = largeOf(engine) - smallOf(engine);
      const pair: Pair = { repeat, small: smallRun, large: largeRun, nsPerIteration: ((largeRun.seconds - smallRun.seconds) * 1e9) / span };
      if (smallRun.instructions !== undefined && largeRun.instructions !== undefined) pair.instructionsPerIteration = (largeRun.instructions - smallRun.instructions) / span;
      pairs.set(key, [...(pairs.get(key) ?? []), pair]);
    }
  }
}
progress.stop();

for (const [key, byValue] of checksums) {
  if (byValue.size > 1) {
    errors.push(`checksums differ for ${key}: ${[...byValue].map(([value, list]) => `${value} on ${[...list].join(", ")}`).join("; ")}`);
  }
}

// ---- the report -----------------------------------------------------------------------------------------

const suite = new SuiteReport("v86", "32-bit guest loops (loops32): compute time per iteration, side by side with v86 and QEMU", {
  small,
  large,
  smallInterp,
  largeInterp,
  repeats,
  engines: runnable.join(","),
  loops: loops.join(","),
  memoryMiB: MEMORY_MIB,
  v86: installedV86,
}, {
  nsPerIteration: { label: "compute time per iteration", unit: "ns", better: "lower" },
  vsV86Jit: { label: "time / v86 JIT's", unit: "x", better: "lower" },
  vsV86Interp: { label: "time / v86 interpreter's", unit: "x", better: "lower" },
  vsQemu: { label: "time / QEMU's", unit: "x", better: "lower" },
  mips: { label: "guest MIPS (our instruction count)", unit: "MIPS", better: "higher" },
  smallSeconds: { label: "time to the result, small count", unit: "s", better: "lower" },
  largeSeconds: { label: "time to the result, large count", unit: "s", better: "lower" },
  smallWallSeconds: { label: "wall time, small count", unit: "s", better: "lower" },
  largeWallSeconds: { label: "wall time, large count", unit: "s", better: "lower" },
  instructionsPerIteration: { label: "guest instructions per iteration (--stats)", unit: "", better: "lower" },
});
const report = suite.report;
report.image = imageInfo(image);
/** Guest instructions per iteration of a loop: the median over our engines' --stats differences. */
const instructionsPerIteration = new Map<Loops32Workload, number>();
for (const loop of loops) {
  const values = (["jit", "jit-js", "interp"] as Engine[]).flatMap((engine) => (pairs.get(`${loop} ${engine}`) ?? []).map((pair) => pair.instructionsPerIteration).filter((value): value is number => value !== undefined));
  if (values.length > 0) instructionsPerIteration.set(loop, median(values));
}
for (const loop of loops) {
  for (const engine of engines) {
    const name = `${loop} ${engine}`;
    const list = pairs.get(name) ?? [];
    if (list.length === 0) {
      report.rows.push({ name, label: `${loop}: ${LABELS[engine]}`, status: skipped.has(engine) ? "skipped" : "failed", reason: skipped.get(engine) ?? "a run failed", runs: [] });
      continue;
    }
    /** this engine's estimate over another's in the same round (undefined when that one has none for the round) */
    const versus = (other: Engine) => list.map((pair) => {
      const peer = (pairs.get(`${loop} ${other}`) ?? []).find((candidate) => candidate.repeat === pair.repeat);
      return peer === undefined ? Number.NaN : pair.nsPerIteration / peer.nsPerIteration;
    });
    suite.add(name, "nsPerIteration", list.map((pair) => pair.nsPerIteration));
    const row = report.rows.find((candidate) => candidate.name === name)!;
    row.label = `${loop}: ${LABELS[engine]}`;
    const add = (figure: string, values: number[]) => {
      if (values.some((value) => Number.isFinite(value))) suite.add(name, figure, values);
    };
    add("vsV86Jit", versus("v86-jit"));
    add("vsV86Interp", versus("v86-interp"));
    add("vsQemu", versus("qemu"));
    const perIteration = instructionsPerIteration.get(loop);
    if (perIteration !== undefined) add("mips", list.map((pair) => (perIteration / pair.nsPerIteration) * 1000));
    add("smallSeconds", list.map((pair) => pair.small.seconds));
    add("largeSeconds", list.map((pair) => pair.large.seconds));
    add("smallWallSeconds", list.map((pair) => pair.small.wallSeconds));
    add("largeWallSeconds", list.map((pair) => pair.large.wallSeconds));
    add("instructionsPerIteration", list.map((pair) => pair.instructionsPerIteration ?? Number.NaN));
    // A figure missing in a round (NaN) is dropped from that run, so medians skip it.
    for (const run of row.runs) for (const [figure, value] of Object.entries(run.figures)) if (!Number.isFinite(value)) delete run.figures[figure];
  }
}
report.errors.push(...errors);

const cell = (loop: Loops32Workload, engine: Engine, figure: string, format: (value: number) => string = shortNumber) => {
  const row = report.rows.find((candidate) => candidate.name === `${loop} ${engine}`);
  const summary = row === undefined ? null : summarize(row, figure);
  return summary === null ? "-" : formatSummary(summary, format);
};
const ratio = (value: number) => `${value >= 10 ? value.toFixed(1) : value.toFixed(2)}x`;
const header = ["engine"];
for (const loop of loops) header.push(`${loop} ns/iter: median (min–max)`, `${loop} MIPS`, `${loop} / v86 JIT`, `${loop} / v86 interp`, `${loop} / QEMU`);
const table = engines.map((engine) => [
  LABELS[engine],
  ...loops.flatMap((loop) => [cell(loop, engine, "nsPerIteration"), cell(loop, engine, "mips"), cell(loop, engine, "vsV86Jit", ratio), cell(loop, engine, "vsV86Interp", ratio), cell(loop, engine, "vsQemu", ratio)]),
]);
// Columns nobody has (no v86 or no QEMU run) are left out.
const keep = header.map((_, i) => i === 0 || table.some((row) => row[i] !== "-"));
console.log(`${report.title}; ${repeats} round(s), interleaved`);
console.log(contextLines(report).join("\n"));
console.log(`v86 ${installedV86 ?? "not installed"}; iterations ${small} and ${large} (our interpreter: ${smallInterp} and ${largeInterp}, v86's: ${largeInterp} and ${small}); guest RAM ${MEMORY_MIB} MiB on every engine`);
console.log("");
console.log(formatTable(header.filter((_, i) => keep[i]), table.map((row) => row.filter((_, i) => keep[i]))).join("\n"));
console.log("");
console.log("ns/iter: (time to the result at the large count − at the small count) / (difference of the counts), the time to the");
console.log("result being from spawning the engine to its checksum line on stdout: each engine's start and the guest's boot cancel");
console.log("out, its exit is not counted; ratios: of the same round's estimates, median over the rounds. MIPS: guest instructions");
console.log(`per iteration from our --stats (${loops.map((loop) => `${loop} ${instructionsPerIteration.has(loop) ? instructionsPerIteration.get(loop)!.toFixed(2) : "?"}`).join(", ")}) over ns/iter.`);
const boot = engines.map((engine) => `${LABELS[engine]} ${loops.map((loop) => cell(loop, engine, "smallSeconds", (value) => value.toFixed(2))).join(" / ")}`);
console.log(`time to the result at the small count, s (${loops.join(" / ")}; start-up and boot included): ${boot.join("; ")}`);
for (const [key, byValue] of checksums) {
  if (byValue.size === 1) {
    const [[value, list]] = [...byValue];
    console.log(`${key}: checksum ${value} on ${[...list].join(", ")}`);
  }
}
suite.write();
if (jsonFile !== undefined) writeFileSync(jsonFile, JSON.stringify(report, null, 2) + "\n");
for (const error of errors) console.error(`error: ${error}`);
if (errors.length > 0) process.exitCode = 1;
