// The store bench (DESIGN.md §4) side by side on every engine: this emulator's JIT and interpreter
// (started as users start them, through the built entry point dist/x64emu.mjs, rebuilt first), QEMU
// TCG on the same image, and the native Linux build of the same C. Reports wall times (median of
// --repeats runs; the runs are interleaved, engine after engine, so load changes hit every engine
// alike), guest MIPS (this emulator's --stats count), the ratios to the interpreter, QEMU and
// native, the JIT's statistics, and checks that every engine prints the same head hash. The running
// and the report are `x64emu bench`'s (src/bench/engines.ts, src/bench/tables.ts); this script adds
// the full bench's defaults, rebuilds the guest and the CLI first, and takes its knobs from the
// environment.
//
// Run: npx tsx perf/bench-engines.bench.ts [--repeats N] [key=value ...]   (npm run bench:engines)
//      Defaults to the full bench (commits=1000 depth=16 tree_add=150; about 12 minutes on the
//      interpreter); key=value (commits= or ncommits=, depth=, tree_add=) sets smaller parameters.
//   BENCH_PARAMS   the same as key=value arguments, e.g. BENCH_PARAMS="ncommits=100 depth=8 tree_add=20"
//                  (arguments win over it)
//   BENCH_ENGINES  comma list of jit,interp,check,qemu,native (default jit,interp,qemu,native; QEMU only
//                  if installed), e.g. BENCH_ENGINES=jit,qemu,native to skip the interpreter
//   BENCH_CLOCK    our --clock: realtime (the default, as users run it) or virtual (the instruction
//                  count exact and reproducible; batch ends exact, which costs the JIT some speed)
//   BENCH_JSON_DIR write the report as JSON there too (engines.json), as `x64emu bench --json` does
import { execFileSync } from "node:child_process";
import { parseEngineList, qemuInstalled, runBench, type EngineName } from "../src/bench/engines.js";
import { engineProgress } from "../src/bench/progress.js";
import { formatEngineReport } from "../src/bench/tables.js";
import { writeSuiteJson } from "../src/bench/suite.js";
import { builtCli } from "./support/built-cli.js";

function fail(message: string): never {
  console.error(`error: ${message}`);
  process.exit(2);
}

const parameters = { commits: 1000, depth: 16, tree_add: 150 } as Record<string, number>;
let repeats = 1;
function parameter(text: string): boolean {
  const match = /^(n?commits|depth|tree_add)=(\d+)$/.exec(text);
  if (!match) return false;
  parameters[match[1] === "ncommits" ? "commits" : match[1]] = Number(match[2]);
  return true;
}
for (const word of (process.env.BENCH_PARAMS ?? "").split(/\s+/).filter((w) => w !== "")) {
  if (!parameter(word)) fail(`BENCH_PARAMS: unknown parameter ${word} (expected commits=/ncommits=/depth=/tree_add=)`);
}
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--repeats") repeats = Number(args[++i]);
  else if (!parameter(args[i])) fail(`unknown argument ${args[i]} (expected --repeats N or commits=/ncommits=/depth=/tree_add=)`);
}
if (!Number.isInteger(repeats) || repeats < 1) fail("--repeats takes a positive integer");
let engines: EngineName[];
try {
  // By default every engine, QEMU only where it is installed; named in BENCH_ENGINES, a missing QEMU is an error.
  engines = process.env.BENCH_ENGINES !== undefined ? parseEngineList(process.env.BENCH_ENGINES)
    : (["jit", "interp", "qemu", "native"] as EngineName[]).filter((engine) => engine !== "qemu" || qemuInstalled());
} catch (error) {
  fail(`BENCH_ENGINES: ${(error as Error).message}`);
}
const clock = process.env.BENCH_CLOCK ?? "realtime";
if (clock !== "realtime" && clock !== "virtual") fail(`BENCH_CLOCK: expected realtime or virtual, got ${clock}`);
const append = `bench commits=${parameters.commits} depth=${parameters.depth} tree_add=${parameters.tree_add}`;

const image = "build/kernel.elf";
execFileSync("bash", ["scripts/build-guest.sh", image], { stdio: "ignore" });
const entry = builtCli();

const { progress, stop } = engineProgress({ write: (text) => void process.stderr.write(text), live: process.stderr.isTTY === true, columns: process.stderr.columns, repeats });
const report = await runBench({ engines, image, append, clock, repeats, entry }, progress);
stop();
console.log(formatEngineReport(report).join("\n"));
writeSuiteJson(report);
for (const error of report.errors) console.error(`error: ${error}`);
if (report.errors.length > 0) process.exitCode = 1;
