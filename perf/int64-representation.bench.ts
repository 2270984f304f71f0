// How should the CPU hold 64-bit guest values? DESIGN.md §2 asks to measure before choosing. This
// benchmark runs the register work of the three guest loops of perf/interpreter.bench.ts (register
// arithmetic, a memcpy, a hash) in both candidate representations, side by side:
//   - BigInt: registers in a BigUint64Array, arithmetic with BigInt.asUintN(64, ...);
//   - int32 pairs: registers as lo/hi halves in an Int32Array, carries by hand.
// and reports ops/s, the ratio, and whether the loop allocates (young-generation GCs during a run).
// Run: npx tsx perf/int64-representation.bench.ts   (or npm run bench:int64)
import Benchmark from "benchmark";
import { PerformanceObserver } from "node:perf_hooks";
import { SuiteReport, suiteMaxTime } from "../src/bench/suite.js";

const N = 100_000;
const MEMORY = new DataView(new ArrayBuffer(N * 8 + 64));

// ---- register arithmetic: rax += rbx; rcx ^= rax; rdx = rol(rdx, 3); rbx *= K; zf = rax == 0 ----
function arithmeticBigInt(): number {
  const r = new BigUint64Array(16);
  r[0] = 1n; r[3] = 0x9e3779b97f4a7c15n; r[2] = 5n;
  let zf = 0;
  for (let i = 0; i < N; i++) {
    const a = BigInt.asUintN(64, r[0] + r[3]);
    r[0] = a;
    zf = a === 0n ? 1 : 0;
    r[1] ^= a;
    const d = r[2];
    r[2] = BigInt.asUintN(64, (d << 3n) | (d >> 61n));
    r[3] = BigInt.asUintN(64, r[3] * 0x5851f42d4c957f2dn);
  }
  return Number(r[0] & 0xffn) + zf;
}

function mul64Low(aLo: number, aHi: number, bLo: number, bHi: number, out: Int32Array): void {
  const a0 = aLo & 0xffff, a1 = aLo >>> 16, b0 = bLo & 0xffff, b1 = bLo >>> 16;
  const p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0;
  const middle = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  out[0] = (middle << 16) | (p00 & 0xffff);
  out[1] = (a1 * b1 + (p01 >>> 16) + (p10 >>> 16) + (middle >>> 16) + Math.imul(aLo, bHi) + Math.imul(aHi, bLo)) | 0;
}

function arithmeticPairs(): number {
  const r = new Int32Array(32);
  const product = new Int32Array(2);
  r[0] = 1; r[6] = 0x7f4a7c15; r[7] = 0x9e3779b9 | 0; r[4] = 5;
  let zf = 0;
  for (let i = 0; i < N; i++) {
    const sum = (r[0] >>> 0) + (r[6] >>> 0);
    const lo = sum | 0, hi = (r[1] + r[7] + (sum >= 4294967296 ? 1 : 0)) | 0;
    r[0] = lo; r[1] = hi;
    zf = (lo | hi) === 0 ? 1 : 0;
    r[2] ^= lo; r[3] ^= hi;
    const dl = r[4], dh = r[5];
    r[4] = (dl << 3) | (dh >>> 29); r[5] = (dh << 3) | (dl >>> 29);
    mul64Low(r[6], r[7], 0x4c957f2d, 0x5851f42d, product);
    r[6] = product[0]; r[7] = product[1];
  }
  return (r[0] & 0xff) + zf;
}

// ---- memcpy: load a qword, store it, advance two pointers ---------------------------------------
function memcpyBigInt(): number {
  let source = 0n, destination = 32n;
  let last = 0n;
  for (let i = 0; i < N / 2; i++) {
    last = MEMORY.getBigUint64(Number(source), true);
    MEMORY.setBigUint64(Number(destination), last, true);
    source = BigInt.asUintN(64, source + 8n);
    destination = BigInt.asUintN(64, destination + 8n);
  }
  return Number(last & 0xffn);
}

function memcpyPairs(): number {
  let sourceLo = 0, destinationLo = 32;
  let last = 0;
  for (let i = 0; i < N / 2; i++) {
    const lo = MEMORY.getInt32(sourceLo, true), hi = MEMORY.getInt32(sourceLo + 4, true);
    MEMORY.setInt32(destinationLo, lo, true);
    MEMORY.setInt32(destinationLo + 4, hi, true);
    sourceLo = (sourceLo + 8) | 0;
    destinationLo = (destinationLo + 8) | 0;
    last = lo;
  }
  return last & 0xff;
}

// ---- hash: one BLAKE2b G-function quarter per iteration (add, xor, rotate by 32/24/16/63) -------
function hashBigInt(): number {
  let a = 0x6a09e667f3bcc908n, b = 0xbb67ae8584caa73bn, c = 0x3c6ef372fe94f82bn, d = 0xa54ff53a5f1d36f1n;
  const rotr = (x: bigint, n: bigint) => BigInt.asUintN(64, (x >> n) | (x << (64n - n)));
  for (let i = 0; i < N / 4; i++) {
    a = BigInt.asUintN(64, a + b + BigInt(i)); d = rotr(d ^ a, 32n);
    c = BigInt.asUintN(64, c + d); b = rotr(b ^ c, 24n);
    a = BigInt.asUintN(64, a + b); d = rotr(d ^ a, 16n);
    c = BigInt.asUintN(64, c + d); b = rotr(b ^ c, 63n);
  }
  return Number((a ^ b ^ c ^ d) & 0xffn);
}

function hashPairs(): number {
  let al = 0xf3bcc908 | 0, ah = 0x6a09e667, bl = 0x84caa73b | 0, bh = 0xbb67ae85 | 0;
  let cl = 0xfe94f82b | 0, ch = 0x3c6ef372, dl = 0x5f1d36f1, dh = 0xa54ff53a | 0;
  let t = 0, s = 0;
  for (let i = 0; i < N / 4; i++) {
    s = (al >>> 0) + (bl >>> 0) + i; ah = (ah + bh + (s >= 4294967296 ? 1 : 0)) | 0; al = s | 0;
    dl ^= al; dh ^= ah; t = dl; dl = dh; dh = t; // rotr 32
    s = (cl >>> 0) + (dl >>> 0); ch = (ch + dh + (s >= 4294967296 ? 1 : 0)) | 0; cl = s | 0;
    bl ^= cl; bh ^= ch; t = (bl >>> 24) | (bh << 8); bh = (bh >>> 24) | (bl << 8); bl = t; // rotr 24
    s = (al >>> 0) + (bl >>> 0); ah = (ah + bh + (s >= 4294967296 ? 1 : 0)) | 0; al = s | 0;
    dl ^= al; dh ^= ah; t = (dl >>> 16) | (dh << 16); dh = (dh >>> 16) | (dl << 16); dl = t; // rotr 16
    s = (cl >>> 0) + (dl >>> 0); ch = (ch + dh + (s >= 4294967296 ? 1 : 0)) | 0; cl = s | 0;
    bl ^= cl; bh ^= ch; t = (bl << 1) | (bh >>> 31); bh = (bh << 1) | (bl >>> 31); bl = t; // rotr 63 = rotl 1
  }
  return (al ^ bl ^ cl ^ dl) & 0xff;
}

// ---- run ---------------------------------------------------------------------------------------

/** Garbage collections during `runs` calls: more than zero means the loop allocates. */
async function collectionsDuring(fn: () => number, runs: number): Promise<number> {
  let count = 0;
  const observer = new PerformanceObserver((list) => { count += list.getEntries().length; });
  observer.observe({ entryTypes: ["gc"] });
  for (let i = 0; i < runs; i++) sink += fn();
  await new Promise((resolve) => setTimeout(resolve, 50));
  observer.disconnect();
  return count;
}

const kernels: Array<[string, () => number, () => number]> = [
  ["register arithmetic", arithmeticBigInt, arithmeticPairs],
  ["memcpy (qword loop)", memcpyBigInt, memcpyPairs],
  ["hash (BLAKE2b G)", hashBigInt, hashPairs],
];

let sink = 0;
console.log(`64-bit representation: ${N} iterations per kernel call, ops/s = kernel calls per second\n`);
const rows: string[] = [];
// BENCH_JSON_DIR: every sample as JSON (src/bench/suite.ts), for `x64emu bench compare`.
const json = new SuiteReport("int64", `64-bit representation: ${N} iterations per kernel call`, { iterations: N }, {
  opsPerSecond: { label: "kernel calls", unit: "ops/s", better: "higher" },
});
const maxTime = suiteMaxTime();
const options = maxTime === undefined ? {} : { maxTime };
for (const [name, bigint, pairs] of kernels) {
  if (bigint() !== pairs()) throw new Error(`${name}: the two representations disagree`);
  const results: Record<string, number> = {};
  new Benchmark.Suite()
    .add("bigint", () => { sink += bigint(); }, options)
    .add("pairs", () => { sink += pairs(); }, options)
    .on("cycle", (event: Benchmark.Event) => {
      const b = event.target as unknown as Benchmark;
      results[b.name!] = b.hz!;
      json.add(`${name}: ${b.name}`, "opsPerSecond", b.stats.sample.map((seconds) => 1 / seconds));
    })
    .run({ async: false });
  const gcBigInt = await collectionsDuring(bigint, 50);
  const gcPairs = await collectionsDuring(pairs, 50);
  rows.push(
    `${name.padEnd(22)} bigint ${results.bigint.toFixed(0).padStart(7)}/s   pairs ${results.pairs.toFixed(0).padStart(7)}/s` +
    `   pairs/bigint ${(results.pairs / results.bigint).toFixed(2)}x   GCs in 50 calls: bigint ${gcBigInt}, pairs ${gcPairs}`,
  );
}
console.log(rows.join("\n"));
if (sink === 0.5) console.log(sink);
json.write();
