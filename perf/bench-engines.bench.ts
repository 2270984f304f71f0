// The store bench (DESIGN.md §4) side by side on every engine: this emulator's JIT and interpreter
// (started as users start them, through the built entry point dist/x64emu.mjs, rebuilt first), QEMU
// TCG on the same image, and the native Linux build of the same C. Reports wall times (median of
// --repeats runs; the runs are interleaved, engine after engine, so load changes hit every engine
// alike), guest MIPS (this emulator's --stats count), the ratios JIT/interpreter, JIT/QEMU and
// JIT/native, and checks that every engine prints the same head hash.
//
// Run: npx tsx perf/bench-engines.bench.ts [--repeats N] [key=value ...]   (npm run bench:engines)
//      Defaults to the full bench (commits=1000 depth=16 tree_add=150; about 12 minutes on the
//      interpreter); key=value (commits= or ncommits=, depth=, tree_add=) sets smaller parameters.
//   BENCH_PARAMS   the same as key=value arguments, e.g. BENCH_PARAMS="ncommits=100 depth=8 tree_add=20"
//                  (arguments win over it)
//   BENCH_ENGINES  comma list of jit,interp,qemu,native (default all; QEMU only if installed), e.g.
//                  BENCH_ENGINES=jit,qemu,native to skip the interpreter
//   BENCH_CLOCK    our --clock: realtime (the default, as users run it) or virtual (the instruction
//                  count exact and reproducible; batch ends exact, which costs the JIT some speed)
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { runNativeBench } from "../test/irmin/native.js";
import { builtCli } from "./support/built-cli.js";

const parameters = { commits: 1000, depth: 16, tree_add: 150 } as Record<string, number>;
let repeats = 1;
function parameter(text: string): boolean {
  const match = /^(n?commits|depth|tree_add)=(\d+)$/.exec(text);
  if (!match) return false;
  parameters[match[1] === "ncommits" ? "commits" : match[1]] = Number(match[2]);
  return true;
}
for (const word of (process.env.BENCH_PARAMS ?? "").split(/\s+/).filter((w) => w !== "")) {
  if (!parameter(word)) {
    console.error(`error: BENCH_PARAMS: unknown parameter ${word} (expected commits=/ncommits=/depth=/tree_add=)`);
    process.exit(2);
  }
}
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--repeats") repeats = Number(args[++i]);
  else if (!parameter(args[i])) {
    console.error(`error: unknown argument ${args[i]} (expected --repeats N or commits=/ncommits=/depth=/tree_add=)`);
    process.exit(2);
  }
}
if (!Number.isInteger(repeats) || repeats < 1) {
  console.error("error: --repeats takes a positive integer");
  process.exit(2);
}
const ENGINE_NAMES = ["jit", "interp", "qemu", "native"] as const;
type EngineName = (typeof ENGINE_NAMES)[number];
const selected = new Set<EngineName>();
for (const name of (process.env.BENCH_ENGINES ?? ENGINE_NAMES.join(",")).split(",").map((s) => s.trim()).filter((s) => s !== "")) {
  if (!(ENGINE_NAMES as readonly string[]).includes(name)) {
    console.error(`error: BENCH_ENGINES: unknown engine ${name} (expected a comma list of ${ENGINE_NAMES.join(",")})`);
    process.exit(2);
  }
  selected.add(name as EngineName);
}
const append = `bench commits=${parameters.commits} depth=${parameters.depth} tree_add=${parameters.tree_add}`;

const clock = process.env.BENCH_CLOCK ?? "realtime";
if (clock !== "realtime" && clock !== "virtual") {
  console.error(`error: BENCH_CLOCK: expected realtime or virtual, got ${clock}`);
  process.exit(2);
}
const image = "build/kernel.elf";
execFileSync("bash", ["scripts/build-guest.sh", image], { stdio: "ignore" });
const [cliCommand, cliArgs] = builtCli();

const headOf = (output: string) => /[0-9a-f]{128}/.exec(output)?.[0] ?? "(no head hash)";
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

interface Run { seconds: number; head: string; instructions?: number; runSeconds?: number; notes: string[] }
interface Engine { key: EngineName; name: string; run: () => Run }

// This emulator through its built entry point.
function ours(accel: "jit" | "interp"): Run {
  const start = performance.now();
  const run = spawnSync(cliCommand, [...cliArgs, image, "--accel", accel, "--clock", clock, "--stats", "--append", append], { encoding: "utf8", maxBuffer: 64 << 20 });
  const seconds = (performance.now() - start) / 1000;
  const lines = run.stderr.split("\n").filter((line) => line.startsWith("stats:"));
  const stats = /^stats: (\d+) guest instructions in ([0-9.]+) s/.exec(lines[0] ?? "");
  if (run.status !== 1) lines.push(`exit status ${run.status}${run.stderr.includes("error:") ? `: ${run.stderr.trim().split("\n").find((l) => l.startsWith("error:"))}` : ""}`);
  return { seconds, head: headOf(run.stdout), instructions: stats ? Number(stats[1]) : undefined, runSeconds: stats ? Number(stats[2]) : undefined, notes: lines.length > 0 ? lines : [run.stderr.trim()] };
}

const qemuInstalled = spawnSync("qemu-system-x86_64", ["--version"]).status === 0;
const engines: Engine[] = [];
if (selected.has("jit")) engines.push({ key: "jit", name: "JIT", run: () => ours("jit") });
if (selected.has("interp")) engines.push({ key: "interp", name: "interpreter", run: () => ours("interp") });
// QEMU TCG, the reference command with the serial port in a file.
if (selected.has("qemu") && qemuInstalled) {
  engines.push({
    key: "qemu", name: "QEMU TCG", run: () => {
      const dir = mkdtempSync(join(tmpdir(), "x64emu-bench-"));
      try {
        const serial = join(dir, "serial.txt");
        const start = performance.now();
        spawnSync("qemu-system-x86_64", ["-accel", "tcg", "-machine", "q35", "-m", "512", "-nodefaults", "-display", "none", "-serial", `file:${serial}`, "-no-reboot", "-kernel", image, "-append", append, "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]);
        const seconds = (performance.now() - start) / 1000;
        return { seconds, head: headOf(existsSync(serial) ? readFileSync(serial, "utf8") : ""), notes: [] };
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  });
}
// The native Linux build of the same store code.
if (selected.has("native")) {
  engines.push({
    key: "native", name: "native (gcc -O2)", run: () => {
      const start = performance.now();
      const result = runNativeBench({ ncommits: parameters.commits, depth: parameters.depth, treeAdd: parameters.tree_add, display: 10, gc: 100, clear: true });
      return { seconds: (performance.now() - start) / 1000, head: result.head, notes: [] };
    },
  });
}
if (engines.length === 0) {
  console.error(`error: no engine to run (BENCH_ENGINES=${process.env.BENCH_ENGINES ?? ""}${selected.has("qemu") && !qemuInstalled ? "; qemu-system-x86_64 is not installed" : ""})`);
  process.exit(2);
}

const runs = new Map<EngineName, Run[]>(engines.map((e) => [e.key, []]));
for (let r = 0; r < repeats; r++) {
  for (const engine of engines) {
    process.stderr.write(`${engine.name} run ${r + 1}/${repeats}...\n`);
    runs.get(engine.key)!.push(engine.run());
  }
}

interface Column { key: EngineName; name: string; seconds: number; runSeconds?: number; instructions?: number; head: string; notes: string[] }
const columns: Column[] = engines.map((engine) => {
  const list = runs.get(engine.key)!;
  const seconds = median(list.map((run) => run.seconds));
  const middle = list.find((run) => run.seconds === seconds)!;
  const runSeconds = list.every((run) => run.runSeconds !== undefined) ? median(list.map((run) => run.runSeconds!)) : undefined;
  return { key: engine.key, name: engine.name, seconds, runSeconds, instructions: middle.instructions, head: middle.head, notes: middle.notes };
});
const column = (key: EngineName) => columns.find((c) => c.key === key);
const instructions = column("jit")?.instructions ?? column("interp")?.instructions;
const native = column("native")?.seconds;

console.log(`store bench '${append}', median of ${repeats} run(s), wall time including start-up (ours: dist/x64emu.mjs, --clock ${clock})` +
  (instructions !== undefined ? `; ${instructions} guest instructions` : "") + ":");
for (const c of columns) {
  // MIPS: our engines over the machine's run (--stats); QEMU over its whole process with our count (approximate)
  const mips = c.instructions !== undefined && c.runSeconds !== undefined ? (c.instructions / c.runSeconds / 1e6).toFixed(2)
    : c.key === "qemu" && instructions !== undefined ? `~${(instructions / c.seconds / 1e6).toFixed(0)}` : "-";
  console.log(
    `${c.name.padEnd(18)} ${c.seconds.toFixed(2).padStart(8)} s` +
      `${c.runSeconds !== undefined ? ` (run ${c.runSeconds.toFixed(2)} s)` : "".padEnd(15)}` +
      `${mips.padStart(9)} MIPS` +
      `${native !== undefined ? `${(c.seconds / native).toFixed(1).padStart(9)}x native` : ""}   head ${c.head.slice(0, 16)}…`,
  );
}
const ratio = (a: Column | undefined, b: Column | undefined, text: (x: number) => string) => {
  if (a === undefined || b === undefined) return;
  console.log(text(b.seconds / a.seconds));
};
const jit = column("jit");
ratio(jit, column("interp"), (x) => `JIT speedup over the interpreter: ${x.toFixed(2)}x (wall time)` +
  (jit?.runSeconds !== undefined && column("interp")?.runSeconds !== undefined ? `, ${(column("interp")!.runSeconds! / jit.runSeconds).toFixed(2)}x (machine run)` : ""));
ratio(jit, column("qemu"), (x) => `JIT vs QEMU TCG: the JIT takes ${(1 / x).toFixed(2)}x QEMU's wall time`);
ratio(jit, column("native"), (x) => `JIT vs native: the JIT takes ${(1 / x).toFixed(1)}x the native wall time`);
if (selected.has("qemu") && !qemuInstalled) console.log("qemu-system-x86_64 is not installed: no QEMU column");
for (const c of columns) for (const note of c.notes) console.log(`${c.name}: ${note}`);
const heads = new Set(columns.map((c) => c.head));
console.log(heads.size === 1 ? `head hashes agree on every engine (${columns.map((c) => c.name).join(", ")})` : `HEAD HASHES DIFFER: ${columns.map((c) => `${c.name} ${c.head}`).join(" / ")}`);
if (heads.size !== 1) process.exitCode = 1;
