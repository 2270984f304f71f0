// The store bench (DESIGN.md §4) side by side on every engine: this emulator's interpreter, QEMU
// TCG on the same image, and the native Linux build of the same C. Reports wall times (median of
// --repeats runs), ratios, the guest instruction count (this emulator, --clock virtual) and checks
// that every engine prints the same head hash.
//
// Run: npx tsx perf/bench-engines.bench.ts [--repeats N] [key=value ...]   (npm run bench:engines)
//      Defaults to the full bench (commits=1000 depth=16 tree_add=150); e.g. commits=100 for a quick look.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { runNativeBench } from "../test/irmin/native.js";

const parameters = { commits: 1000, depth: 16, tree_add: 150 } as Record<string, number>;
let repeats = 1;
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  const match = /^(commits|depth|tree_add)=(\d+)$/.exec(args[i]);
  if (args[i] === "--repeats") repeats = Number(args[++i]);
  else if (match) parameters[match[1]] = Number(match[2]);
  else {
    console.error(`error: unknown argument ${args[i]} (expected --repeats N or commits=/depth=/tree_add=)`);
    process.exit(2);
  }
}
const append = `bench commits=${parameters.commits} depth=${parameters.depth} tree_add=${parameters.tree_add}`;

const image = "build/kernel.elf";
execFileSync("bash", ["scripts/build-guest.sh", image], { stdio: "ignore" });

const headOf = (output: string) => /[0-9a-f]{128}/.exec(output)?.[0] ?? "(no head hash)";
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

interface Column { name: string; seconds: number; head: string; note: string }
const columns: Column[] = [];

// This emulator: interpreter, virtual clock (the instruction count is exact and reproducible).
{
  const times: number[] = [];
  let output = "", stats = "";
  for (let r = 0; r < repeats; r++) {
    const start = performance.now();
    const run = spawnSync(process.execPath, ["--import", "tsx", "src/cli.ts", image, "--accel", "interp", "--clock", "virtual", "--stats", "--append", append], { encoding: "utf8", maxBuffer: 64 << 20 });
    times.push((performance.now() - start) / 1000);
    output = run.stdout;
    stats = run.stderr.split("\n").find((line) => line.startsWith("stats:")) ?? run.stderr.trim();
  }
  columns.push({ name: "interpreter", seconds: median(times), head: headOf(output), note: stats });
}

// QEMU TCG, the reference command with the serial port in a file.
if (spawnSync("qemu-system-x86_64", ["--version"]).status === 0) {
  const dir = mkdtempSync(join(tmpdir(), "x64emu-bench-"));
  const times: number[] = [];
  let output = "";
  for (let r = 0; r < repeats; r++) {
    const serial = join(dir, "serial.txt");
    const start = performance.now();
    spawnSync("qemu-system-x86_64", ["-accel", "tcg", "-machine", "q35", "-m", "512", "-nodefaults", "-display", "none", "-serial", `file:${serial}`, "-no-reboot", "-kernel", image, "-append", append, "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]);
    times.push((performance.now() - start) / 1000);
    output = existsSync(serial) ? readFileSync(serial, "utf8") : "";
  }
  rmSync(dir, { recursive: true, force: true });
  columns.push({ name: "QEMU TCG", seconds: median(times), head: headOf(output), note: "" });
}

// The native Linux build of the same store code.
{
  const times: number[] = [];
  let head = "";
  for (let r = 0; r < repeats; r++) {
    const start = performance.now();
    const result = runNativeBench({ ncommits: parameters.commits, depth: parameters.depth, treeAdd: parameters.tree_add, display: 10, gc: 100, clear: true });
    times.push((performance.now() - start) / 1000);
    head = result.head;
  }
  columns.push({ name: "native (gcc -O2)", seconds: median(times), head, note: "" });
}

const native = columns[columns.length - 1].seconds;
console.log(`store bench '${append}', median of ${repeats} run(s), wall time including start-up:`);
for (const c of columns) {
  console.log(`${c.name.padEnd(18)} ${c.seconds.toFixed(2).padStart(8)} s   ${(c.seconds / native).toFixed(1).padStart(7)}x native   head ${c.head.slice(0, 16)}…  ${c.note}`);
}
const heads = new Set(columns.map((c) => c.head));
console.log(heads.size === 1 ? "head hashes agree on every engine" : `HEAD HASHES DIFFER: ${[...heads].join(" / ")}`);
if (heads.size !== 1) process.exitCode = 1;
