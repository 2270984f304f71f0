// The store bench (DESIGN.md section 4) at native speed: the Linux build of src/libos/irmin runs
// the full default bench (ncommits=1000 depth=16 tree_add=150) several times; this prints the
// median wall time of the run phase and the head hash, checked against the TypeScript model.
// It is the native column of the later interpreter / JIT / QEMU-TCG / native comparison.
//
// Run: npx tsx perf/store-native.bench.ts [--repeats N] [--skip-model] [key=value ...]
//      (or npm run bench:store). key=value overrides bench parameters, e.g. ncommits=200.

import { performance } from "node:perf_hooks";
import { benchModel } from "../test/irmin/model.js";
import { buildNative, runNativeBench, type NativeBenchParameters } from "../test/irmin/native.js";

const parameters: NativeBenchParameters = { ncommits: 1000, depth: 16, treeAdd: 150, display: 10, gc: 100, clear: true };
let repeats = 5;
let checkModel = true;
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  const arg = args[i];
  if (arg === "--repeats") repeats = Number(args[++i]);
  else if (arg === "--skip-model") checkModel = false;
  else {
    const match = /^(ncommits|commits|depth|tree_add|display|gc|clear)=(.+)$/.exec(arg);
    if (!match) {
      console.error(`error: unknown argument ${arg} (expected --repeats N, --skip-model or key=value)`);
      process.exit(2);
    }
    const [, key, value] = match;
    if (key === "clear") parameters.clear = value === "true";
    else if (key === "tree_add") parameters.treeAdd = Number(value);
    else if (key === "commits") parameters.ncommits = Number(value);
    else (parameters as unknown as Record<string, number>)[key] = Number(value);
  }
}
if (!Number.isInteger(repeats) || repeats < 1) {
  console.error("error: --repeats takes a positive integer");
  process.exit(2);
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

console.log(`native build: ${buildNative()}`);
console.log(
  `bench ncommits=${parameters.ncommits} depth=${parameters.depth} tree_add=${parameters.treeAdd} ` +
    `display=${parameters.display} gc=${parameters.gc} clear=${parameters.clear}, ${repeats} repeats`,
);
const runs: { wallMs: number; initMs: number; runMs: number; head: string; heapPeak: number }[] = [];
for (let i = 0; i < repeats; i++) {
  const start = performance.now();
  const result = runNativeBench(parameters);
  const wallMs = performance.now() - start;
  runs.push({ wallMs, initMs: result.initNs / 1e6, runMs: result.runNs / 1e6, head: result.head, heapPeak: result.heapPeak });
  console.log(
    `  run ${i + 1}: process ${wallMs.toFixed(1)} ms, init ${(result.initNs / 1e6).toFixed(2)} ms, ` +
      `run ${(result.runNs / 1e6).toFixed(1)} ms, objects contents=${result.contents} nodes=${result.nodes} commits=${result.commits}`,
  );
}
const heads = new Set(runs.map((run) => run.head));
if (heads.size !== 1) {
  console.error(`error: the native runs disagree on the head hash: ${[...heads].join(", ")}`);
  process.exit(1);
}
const head = runs[0].head;
console.log(`head: ${head}`);
console.log(`heap peak (store): ${(runs[0].heapPeak / 1048576).toFixed(1)} MiB`);
console.log(
  `median: process ${median(runs.map((run) => run.wallMs)).toFixed(1)} ms, ` +
    `run phase ${median(runs.map((run) => run.runMs)).toFixed(1)} ms, init ${median(runs.map((run) => run.initMs)).toFixed(2)} ms`,
);
if (checkModel) {
  const start = performance.now();
  const expected = benchModel(parameters);
  const modelMs = performance.now() - start;
  const agrees = expected.head === head;
  console.log(`model head: ${agrees ? "agrees" : `DIFFERS: ${expected.head}`} (model took ${(modelMs / 1000).toFixed(1)} s)`);
  if (!agrees) process.exit(1);
}
console.log(
  `JSON ${JSON.stringify({
    bench: "store-native",
    parameters,
    head,
    medianProcessMs: median(runs.map((run) => run.wallMs)),
    medianRunMs: median(runs.map((run) => run.runMs)),
    medianInitMs: median(runs.map((run) => run.initMs)),
    heapPeakBytes: runs[0].heapPeak,
  })}`,
);
