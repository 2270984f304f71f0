// Interpreter speed in guest MIPS on the 64-bit guest loops of perf/support/guests.ts (register
// arithmetic, memcpy by qwords and by bytes, a hash), measured with benchmark.js: each sample runs the
// loop from its start to HLT.
// Run: npx tsx perf/interpreter.bench.ts   (or npm run bench:interpreter)
import Benchmark from "benchmark";
import { assemble } from "../test/machine/support/assemble.js";
import { ENTER_LONG_MODE } from "../test/machine/support/long-mode.js";
import { protectedModeMachine, runUntilHalt } from "../test/machine/support/test-machine.js";
import { LOOP_BODIES } from "./support/guests.js";
import { SuiteReport, suiteMaxTime } from "../src/bench/suite.js";

const ORIGIN = 0x100000;
const LONG_MODE = `${ENTER_LONG_MODE}
.code64
long_mode:
  mov rsp, 0x380000
`;

/** The JIT bench's kernels, each run once from its start to a HLT. */
const LOOPS: Record<string, string> = Object.fromEntries(Object.entries(LOOP_BODIES).map(([name, body]) => [name, `${body}\n    hlt`]));

const results: string[] = [];
// BENCH_JSON_DIR: every sample as JSON (src/bench/suite.ts), for `x64emu bench compare`.
const json = new SuiteReport("interpreter", "interpreter: guest loops in 64-bit mode", {}, { mips: { label: "guest MIPS", unit: "MIPS", better: "higher" } });
const maxTime = suiteMaxTime();
for (const [name, loop] of Object.entries(LOOPS)) {
  const machine = protectedModeMachine(16);
  const image = assemble(`${LONG_MODE}\nloop_start:\n${loop}`, ORIGIN, 32);
  machine.memory.loadBytes(ORIGIN, image);
  machine.cpu.rip = ORIGIN;
  // Run once to the end (through the switch to long mode), then restart at the loop for each sample;
  // the loop is the image's tail.
  runUntilHalt(machine, 50_000_000);
  const startRip = ORIGIN + image.length - assemble(loop, 0, 64).length;
  let instructions = 0;
  const bench = new Benchmark(name, () => {
    machine.cpu.halted = false;
    machine.cpu.rip = startRip;
    const before = machine.cpu.retired;
    runUntilHalt(machine, 50_000_000);
    instructions = machine.cpu.retired - before;
  }, { minSamples: 5, ...(maxTime === undefined ? {} : { maxTime }) });
  bench.run();
  json.add(name, "mips", bench.stats.sample.map((seconds) => instructions / seconds / 1e6));
  const mips = (bench.hz * instructions) / 1e6;
  results.push(`${name.padEnd(22)} ${mips.toFixed(1).padStart(6)} MIPS  (${instructions} instructions per run, ±${bench.stats.rme.toFixed(1)}%)`);
}
console.log("interpreter, guest loops in 64-bit mode:");
console.log(results.join("\n"));
json.write();
