// --accel check over the guest's selftest and the store bench at full (or given) parameters: every
// compiled unit runs in lockstep with the interpreter; the run must end with the guest's own exit
// status, never with status 6 (a divergence, whose report is printed). The default test suite checks
// the whole selftest and the small bench (test/jit/check-mode.test.ts); this is the long run.
// Lockstep ran at about 3 M guest instructions/s when this was measured (every unit call snapshots
// the CPU, logs its stores, undoes them and re-runs them in the interpreter): selftest in ~35 s,
// the full bench (5.5 G instructions) in ~27 minutes.
//
// Run: npx tsx perf/check.bench.ts [key=value ...]   (npm run bench:check)
//   key=value: commits= or ncommits=, depth=, tree_add= (default 1000, 16, 150)
//   CHECK_WORKLOADS  comma list of selftest,bench (default both)
import { spawnSync } from "node:child_process";
import { performance } from "node:perf_hooks";

const parameters: Record<string, number> = { commits: 1000, depth: 16, tree_add: 150 };
for (const word of process.argv.slice(2)) {
  const match = /^(n?commits|depth|tree_add)=(\d+)$/.exec(word);
  if (!match) {
    console.error(`error: unknown argument ${word} (expected commits=/ncommits=/depth=/tree_add=)`);
    process.exit(2);
  }
  parameters[match[1] === "ncommits" ? "commits" : match[1]] = Number(match[2]);
}
const workloads = (process.env.CHECK_WORKLOADS ?? "selftest,bench").split(",").filter((w) => w !== "");
for (const w of workloads) {
  if (w !== "selftest" && w !== "bench") {
    console.error(`error: CHECK_WORKLOADS: unknown workload ${w} (expected selftest, bench)`);
    process.exit(2);
  }
}

const build = spawnSync("bash", ["scripts/build-guest.sh"], { stdio: "inherit" });
if (build.status !== 0) process.exit(1);

let failed = false;
for (const workload of workloads) {
  const append = workload === "bench" ? `bench ncommits=${parameters.commits} depth=${parameters.depth} tree_add=${parameters.tree_add}` : "selftest";
  console.log(`--accel check: ${append} ...`);
  const started = performance.now();
  const run = spawnSync(process.execPath, ["--import", "tsx", "src/cli.ts", "build/kernel.elf", "--accel", "check", "--clock", "virtual", "--stats", "--append", append], {
    encoding: "utf8", maxBuffer: 256 << 20,
  });
  const seconds = (performance.now() - started) / 1000;
  const stats = /stats: (\d+) guest instructions/.exec(run.stderr)?.[1];
  if (run.status === 6) {
    failed = true;
    console.log(`DIVERGENCE after ${seconds.toFixed(1)} s:\n${run.stderr}`);
  } else if (run.status !== 1) {
    failed = true;
    console.log(`unexpected exit status ${run.status} after ${seconds.toFixed(1)} s:\n${run.stderr.split("\n").slice(-5).join("\n")}`);
  } else {
    console.log(`  0 divergences over ${stats} guest instructions, ${seconds.toFixed(1)} s (${(Number(stats) / seconds / 1e6).toFixed(2)} M instructions/s in lockstep)`);
  }
}
process.exit(failed ? 1 : 0);
