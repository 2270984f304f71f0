// Memory-access cost: the MMU's TLB fast path against PhysicalMemory and a raw DataView, side by
// side in one process (benchmark.js), reported as ns per access and as a ratio to the raw DataView.
//
//   npm run bench:memory
//
// Every contender does the same loop: ACCESSES 32-bit accesses per call over a WORKING_SET-byte
// window (a few dozen pages, so the MMU runs on TLB hits), at dword-aligned addresses
// base + ((i * STRIDE) & mask). Paging is 4-level with 2 MiB pages (the guest's own layout: an
// identity map plus a high-half alias), so the TLB holds 4 KiB splinters of the large pages. The
// "miss" rows invalidate the page (INVLPG) or the whole TLB before every access, timing a 4-level
// walk plus that bookkeeping.

import Benchmark from "benchmark";
import { PhysicalMemory } from "../src/machine/memory.js";
import { ACCESS_WRITE, Mmu } from "../src/machine/paging.js";
import { SuiteReport, suiteMaxTime } from "../src/bench/suite.js";

const RAM_BYTES = 64 << 20;
const WORKING_SET = 128 * 1024; // 32 pages
const ACCESSES = 4096;
const STRIDE = 4 * 37; // dword aligned, walks the window in a scattered order
const MASK = WORKING_SET - 4;
const DATA = 0x400000; // physical base of the window
const HIGH_HALF = -(2 ** 47); // 0xffff8000_00000000, PML4 entry 256
// The high-half rows use another window: HIGH_HALF + DATA has the same low 32 bits as DATA, so it
// would sit at the same TLB indices (the TLB is direct-mapped on bits 23:12).
const HIGH_DATA = HIGH_HALF + DATA + 0x100000;

const memory = new PhysicalMemory(RAM_BYTES);
const rawView = new DataView(new ArrayBuffer(RAM_BYTES));
const rawInt32 = new Int32Array(rawView.buffer);

// 4-level identity map of the first 1 GiB with 2 MiB pages, also mapped at the bottom of the high half.
const PML4 = 0x10000;
const PDPT = 0x11000;
const PD = 0x12000;
memory.write32(PML4, PDPT | 3);
memory.write32(PML4 + 256 * 8, PDPT | 3);
memory.write32(PDPT, PD | 3);
for (let i = 0; i < 512; i++) {
  memory.write32(PD + i * 8, (i * 0x200000) | 0x83);
  memory.write32(PD + i * 8 + 4, 0);
}
const paged = new Mmu(memory);
paged.setControl((1 << 31) | (1 << 16) | 1, PML4, 1 << 5, (1 << 8) | (1 << 10) | (1 << 11));
const identity = new Mmu(memory); // paging off: linear = physical, still through the TLB

for (let i = 0; i < WORKING_SET; i += 4) {
  const value = (i * 2654435761) | 0;
  memory.write32(DATA + i, value);
  memory.write32(DATA + 0x100000 + i, value);
  rawView.setInt32(DATA + i, value, true);
}

// Warm the TLBs before any loop runs: a loop function whose first call fills the TLB records
// frequent slow-path calls and V8 inlines the whole miss path into it, which costs the hit path
// about a nanosecond. In the emulator misses are rare next to hits, so the slow path stays a call.
for (const [mmu, base] of [[identity, DATA], [paged, DATA], [paged, HIGH_DATA]] as const) {
  for (let page = 0; page < WORKING_SET; page += 0x1000) mmu.translate(base + page, ACCESS_WRITE);
}
const walksBefore = paged.walks;

let sink = 0;

// Each loop takes its target as a parameter, as the CPU does (cpu.mmu, cpu.memory): a module-level
// constant would let V8 fold the object's fields into the machine code, which real callers never
// get. Every row has its own loop function (no shared type feedback between rows).
function readRaw(view: DataView, base: number): number {
  let sum = 0;
  for (let i = 0; i < ACCESSES; i++) sum += view.getUint32(base + ((i * STRIDE) & MASK), true);
  return sum;
}
function readInt32(array: Int32Array, base: number): number {
  let sum = 0;
  for (let i = 0; i < ACCESSES; i++) sum += array[(base + ((i * STRIDE) & MASK)) >> 2]! >>> 0;
  return sum;
}
function readPhysical(target: PhysicalMemory, base: number): number {
  let sum = 0;
  for (let i = 0; i < ACCESSES; i++) sum += target.read32(base + ((i * STRIDE) & MASK));
  return sum;
}
function readPagingOff(target: Mmu, base: number): number {
  let sum = 0;
  for (let i = 0; i < ACCESSES; i++) sum += target.read32(base + ((i * STRIDE) & MASK));
  return sum;
}
function readPaged(target: Mmu, base: number): number {
  let sum = 0;
  for (let i = 0; i < ACCESSES; i++) sum += target.read32(base + ((i * STRIDE) & MASK));
  return sum;
}
function readHighHalf(target: Mmu, base: number): number {
  let sum = 0;
  for (let i = 0; i < ACCESSES; i++) sum += target.read32(base + ((i * STRIDE) & MASK));
  return sum;
}
function writeRaw(view: DataView, base: number): void {
  for (let i = 0; i < ACCESSES; i++) view.setUint32(base + ((i * STRIDE) & MASK), i, true);
}
function writePhysical(target: PhysicalMemory, base: number): void {
  for (let i = 0; i < ACCESSES; i++) target.write32(base + ((i * STRIDE) & MASK), i);
}
function writePagingOff(target: Mmu, base: number): void {
  for (let i = 0; i < ACCESSES; i++) target.write32(base + ((i * STRIDE) & MASK), i);
}
function writePaged(target: Mmu, base: number): void {
  for (let i = 0; i < ACCESSES; i++) target.write32(base + ((i * STRIDE) & MASK), i);
}
function writeHighHalf(target: Mmu, base: number): void {
  for (let i = 0; i < ACCESSES; i++) target.write32(base + ((i * STRIDE) & MASK), i);
}
function readAfterInvlpg(target: Mmu, base: number): number {
  let sum = 0;
  for (let i = 0; i < ACCESSES; i++) {
    const linear = base + ((i * STRIDE) & MASK);
    target.invalidatePage(linear);
    sum += target.read32(linear);
  }
  return sum;
}
function readAfterFlush(target: Mmu, base: number): number {
  let sum = 0;
  for (let i = 0; i < ACCESSES; i++) {
    target.flush();
    sum += target.read32(base + ((i * STRIDE) & MASK));
  }
  return sum;
}

const contenders: [string, () => void][] = [
  ["read: raw DataView.getUint32", () => void (sink += readRaw(rawView, DATA))],
  ["read: raw Int32Array[i >> 2]", () => void (sink += readInt32(rawInt32, DATA))],
  ["read: PhysicalMemory.read32", () => void (sink += readPhysical(memory, DATA))],
  ["read: Mmu.read32, paging off", () => void (sink += readPagingOff(identity, DATA))],
  ["read: Mmu.read32, 4-level, TLB hit", () => void (sink += readPaged(paged, DATA))],
  ["read: Mmu.read32, 4-level, high half", () => void (sink += readHighHalf(paged, HIGH_DATA))],
  ["write: raw DataView.setUint32", () => writeRaw(rawView, DATA)],
  ["write: PhysicalMemory.write32", () => writePhysical(memory, DATA)],
  ["write: Mmu.write32, paging off", () => writePagingOff(identity, DATA)],
  ["write: Mmu.write32, 4-level, TLB hit", () => writePaged(paged, DATA)],
  ["write: Mmu.write32, 4-level, high half", () => writeHighHalf(paged, HIGH_DATA)],
  ["miss: INVLPG + Mmu.read32 (4-level walk)", () => void (sink += readAfterInvlpg(paged, DATA))],
  ["miss: flush() + Mmu.read32 (4-level walk)", () => void (sink += readAfterFlush(paged, DATA))],
];

interface Row {
  name: string;
  hz: number;
  rme: number;
}

const rows: Row[] = [];
// BENCH_JSON_DIR: every sample as JSON (src/bench/suite.ts), for `x64emu bench compare`.
const json = new SuiteReport("memory", `memory: ${ACCESSES} dword accesses per call over ${WORKING_SET / 1024} KiB`, { accesses: ACCESSES, workingSet: WORKING_SET }, {
  nsPerAccess: { label: "time per access", unit: "ns", better: "lower" },
});
const maxTime = suiteMaxTime();
const suite = new Benchmark.Suite("memory");
for (const [name, fn] of contenders) suite.add(name, fn, maxTime === undefined ? {} : { maxTime });
suite.on("cycle", (event: Benchmark.Event) => {
  const bench = event.target as Benchmark.Target & { stats: Benchmark.Stats; error?: Error };
  if (bench.error) throw bench.error;
  rows.push({ name: bench.name ?? "?", hz: bench.hz ?? 0, rme: bench.stats.rme });
  json.add(bench.name ?? "?", "nsPerAccess", bench.stats.sample.map((seconds) => (seconds * 1e9) / ACCESSES));
  process.stderr.write(".");
});

console.log(
  `memory benchmark: ${ACCESSES} dword accesses per call over a ${WORKING_SET / 1024} KiB window; ` +
    `4-level paging with 2 MiB pages`,
);
suite.run({ async: false });
process.stderr.write("\n");

const nsPerAccess = (row: Row): number => 1e9 / (row.hz * ACCESSES);
const readReference = rows.find((r) => r.name === "read: raw DataView.getUint32")!;
const writeReference = rows.find((r) => r.name === "write: raw DataView.setUint32")!;
const nameWidth = Math.max(...rows.map((r) => r.name.length));
console.log(`${"contender".padEnd(nameWidth)}  ${"ns/access".padStart(9)}  ${"±%".padStart(5)}  ${"vs raw DataView".padStart(15)}`);
for (const row of rows) {
  const reference = row.name.startsWith("write") ? writeReference : readReference;
  console.log(
    `${row.name.padEnd(nameWidth)}  ${nsPerAccess(row).toFixed(2).padStart(9)}  ${row.rme.toFixed(1).padStart(5)}  ` +
      `${(nsPerAccess(row) / nsPerAccess(reference)).toFixed(2).padStart(14)}x`,
  );
}
console.log(`4-level page walks during the run (all in the "miss" rows): ${paged.walks - walksBefore}`);
if (sink === 0.5) console.log("(unreachable)");
json.write();
