// The JIT's costs and gains, measured with benchmark.js, side by side in one process (compare ratios:
// the machine is shared and noisy). Three sections:
//
//   translate  translation speed on real guest code: every basic block of build/kernel.elf's 64-bit
//              .text (function entries, branch and call targets, fall-throughs of conditional
//              branches and calls, the instruction after one left to the interpreter) is decoded
//              (decodeBlock), translated (translateUnit), given its source map (finishSource) and
//              compiled (new Function + the factory call), as JitEngine.compile does. Reported:
//              blocks/s and guest instructions/s per stage, on an even sample of JIT_BENCH_BLOCKS
//              blocks. Under tsx, Node's source-map support is on (process.sourceMapsEnabled): Node
//              then decodes and keeps the inline map of every unit compiled. The bench turns it off
//              (as under plain node) except in one row that measures it. V8 compiles the unit function itself lazily, at its first call
//              (not counted in the JIT's compileMs); the last row forces that compile
//              (%PrepareFunctionForOptimization) to show what the first call pays.
//   dispatch   the dispatcher: guests made of tiny blocks (call/ret, a chain of jmps) against the same
//              kind of code in one loop region or one long block; ns per dispatch and dispatches/s
//              from the engine's statistics, and the marginal cost of a dispatch (the jmp chain with
//              loop regions off minus the same chain compiled as one region).
//   kernels    guest kernels under the interpreter and the JIT: register arithmetic, memcpy (qword and
//              byte loops), FNV-1a (the loops perf/interpreter.bench.ts runs once, repeated forever) and
//              BLAKE2b (the store's C, gcc -O2 -ffreestanding, perf/support/blake2b-kernel.c). MIPS
//              (each sample retires exactly JIT_BENCH_INSTRUCTIONS instructions on a PcMachine,
//              --clock virtual) and the JIT/interpreter speedup.
//
// Every figure is a median over JIT_BENCH_ROUNDS interleaved rounds (each round measures every stage
// or engine once, so load changes hit all alike) of benchmark.js's median sample.
//
// Run: npm run bench:jit   (npx tsx perf/jit.bench.ts)
//   JIT_BENCH_SECTIONS      comma list of translate,dispatch,kernels (default all three)
//   JIT_BENCH_MAX_TIME      seconds benchmark.js spends on one measurement (default 1; at least 5 samples)
//   JIT_BENCH_INSTRUCTIONS  guest instructions per sample in dispatch and kernels (default 1000000)
//   JIT_BENCH_BLOCKS        blocks translated per pass in translate, an even sample (default 500; "all")
//   JIT_BENCH_ROUNDS        interleaved rounds: every stage / engine is measured once per round (default 3)
//   JIT_BENCH_IMAGE         the kernel whose .text is translated (default build/kernel.elf, built if missing)
import { existsSync, readFileSync } from "node:fs";
import v8 from "node:v8";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import Benchmark from "benchmark";
import { DecodeStatus, Instruction, decodeInto } from "../src/decoder/decode.js";
import { M_J } from "../src/decoder/operand-spec.js";
import { DEFAULT_THRESHOLD } from "../src/jit/engine.js";
import { decodeBlock, relativeTarget, type GuestBlock } from "../src/jit/discover.js";
import { INSTRUCTION_KIND, KIND_BRANCH, KIND_INTERPRETED } from "../src/jit/instruction-kinds.js";
import { finishSource } from "../src/jit/source-map.js";
import { translateUnit, type TranslatedUnit } from "../src/jit/translate.js";
import { PT_LOAD, STT_FUNC, parseElf } from "../src/machine/elf.js";
import type { PcMachine } from "../src/machine/pc.js";
import { SuiteReport } from "../src/bench/suite.js";
import { KERNEL_SOURCES, asmGuest, blake2bGuest, guestMachine, repoRoot, runInstructions, type Engine, type GuestImage } from "./support/guests.js";

const SECTIONS = new Set((process.env.JIT_BENCH_SECTIONS ?? "translate,dispatch,kernels").split(",").map((s) => s.trim()));
const MAX_TIME = Number(process.env.JIT_BENCH_MAX_TIME ?? 1);
const PER_SAMPLE = Number(process.env.JIT_BENCH_INSTRUCTIONS ?? 1_000_000);
const BLOCK_SAMPLE = process.env.JIT_BENCH_BLOCKS === "all" ? Infinity : Number(process.env.JIT_BENCH_BLOCKS ?? 500);
const ROUNDS = Number(process.env.JIT_BENCH_ROUNDS ?? 3);
const IMAGE = process.env.JIT_BENCH_IMAGE ?? join(repoRoot, "build/kernel.elf");
for (const section of SECTIONS) {
  if (!["translate", "dispatch", "kernels"].includes(section)) {
    console.error(`error: JIT_BENCH_SECTIONS: unknown section '${section}' (translate, dispatch, kernels)`);
    process.exit(2);
  }
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

interface Measured {
  /** seconds per call of the measured function: the median sample */
  seconds: number;
  rme: number;
  samples: number;
}

/** benchmark.js on `fn`: the median of its samples (each sample is the mean time of one cycle). */
function measure(name: string, fn: () => void, maxTime = MAX_TIME): Measured {
  const bench = new Benchmark(name, fn, { minSamples: 5, maxTime, initCount: 1 });
  bench.run();
  const error = (bench as unknown as { error?: Error }).error;
  if (error) throw error;
  process.stderr.write(".");
  return { seconds: median(bench.stats.sample), rme: bench.stats.rme, samples: bench.stats.sample.length };
}

const json: Record<string, unknown> = { bench: "jit" };
// BENCH_JSON_DIR: every round's figure as JSON (src/bench/suite.ts), for `x64emu bench compare`.
const suiteReport = new SuiteReport("jit", "JIT: translation, dispatch, guest kernels", { sections: [...SECTIONS].join(","), maxTime: MAX_TIME, instructionsPerSample: PER_SAMPLE, blocks: BLOCK_SAMPLE, rounds: ROUNDS }, {
  usPerBlock: { label: "time per block", unit: "us", better: "lower" },
  mips: { label: "guest MIPS", unit: "MIPS", better: "higher" },
});

type Factory = (env: unknown) => unknown;
// V8 compiles a function's bytecode lazily, at its first call: new Function parses the factory and
// only pre-parses the unit function inside it. %PrepareFunctionForOptimization compiles it (and
// allocates its feedback vector) without running it: what the unit's first call would pay.
v8.setFlagsFromString("--allow-natives-syntax");
const compileNow = new Function("f", "%PrepareFunctionForOptimization(f);") as (f: unknown) => void;
const fixed = (value: number, digits: number, width: number) => value.toFixed(digits).padStart(width);

// ---- 1a: translation speed ---------------------------------------------------------------------

/** The kernel's loadable bytes in a RAM image (identity-mapped, as the guest runs) and its 64-bit blocks. */
function kernelBlocks(path: string): { ram: Uint8Array; blocks: GuestBlock[]; starts: number; empty: number; from: number; end: number } {
  const elf = parseElf(new Uint8Array(readFileSync(path)));
  let top = 0;
  for (const segment of elf.segments) if (segment.type === PT_LOAD) top = Math.max(top, Number(segment.paddr) + segment.memsz);
  const ram = new Uint8Array(Math.ceil(top / 4096) * 4096 + 4096);
  for (const segment of elf.segments) if (segment.type === PT_LOAD) ram.set(elf.segmentData(segment), Number(segment.paddr));
  const text = elf.findSection(".text");
  if (text === undefined) throw new Error(`${path}: no .text`);
  const end = Number(text.addr) + text.size;
  // The multiboot entry (.text.boot up to long_mode_entry) is 32-bit code: start after it.
  const from = Number(elf.findSymbol("long_mode_entry")?.value ?? text.addr);
  const starts = new Set<number>();
  for (const symbol of elf.symbols) {
    const at = Number(symbol.value);
    if (symbol.type === STT_FUNC && at >= from && at < end) starts.add(at);
  }
  const ins = new Instruction();
  for (let at = from; at < end;) {
    decodeInto(ins, ram, at, 64);
    if (ins.status === DecodeStatus.Invalid || ins.status === DecodeStatus.Truncated) {
      at++;
      continue;
    }
    const next = at + ins.length;
    const kind = ins.status === DecodeStatus.Ok ? INSTRUCTION_KIND[ins.row.id] : KIND_INTERPRETED;
    if (kind === KIND_INTERPRETED) {
      starts.add(next);
    } else if (kind === KIND_BRANCH) {
      const mnemonic = ins.row.mnemonics[0];
      if (ins.row.operands[0]?.method === M_J) {
        const target = relativeTarget(ins, next);
        if (target !== null && target >= from && target < end) starts.add(target);
      }
      // fall-throughs of conditional branches, and return addresses
      if (mnemonic !== "jmp" && mnemonic !== "ret") starts.add(next);
    }
    at = next;
  }
  const blocks: GuestBlock[] = [];
  let empty = 0;
  for (const start of [...starts].sort((a, b) => a - b)) {
    if (start >= end) continue;
    const block = decodeBlock(ram, start, start, 64);
    if (block.instructions.length === 0) empty++;
    else blocks.push(block);
  }
  return { ram, blocks, starts: starts.size, empty, from, end };
}

function translationSection(): void {
  if (!existsSync(IMAGE)) {
    if (IMAGE !== join(repoRoot, "build/kernel.elf")) throw new Error(`${IMAGE}: no such file`);
    execFileSync("bash", ["scripts/build-guest.sh"], { cwd: repoRoot, stdio: "ignore" });
  }
  const kernel = kernelBlocks(IMAGE);
  const { ram, starts, empty, from, end } = kernel;
  const all = kernel.blocks;
  const blocks = all.length <= BLOCK_SAMPLE ? all : Array.from({ length: BLOCK_SAMPLE }, (_, i) => all[Math.floor((i * all.length) / BLOCK_SAMPLE)]);
  const instructions = blocks.reduce((sum, block) => sum + block.instructions.length, 0);
  const rips = blocks.map((block) => block.rip), physicals = blocks.map((block) => block.physical);
  const count = blocks.length;
  const translated: TranslatedUnit[] = blocks.map((block) => translateUnit([block], 64));
  let bodyBytes = 0, mappedBytes = 0, templated = 0, helpers = 0;
  translated.forEach((unit, k) => {
    bodyBytes += unit.body.length;
    mappedBytes += finishSource(`unit_${k}`, unit).source.length;
    templated += unit.templated;
    helpers += unit.helpers;
  });
  console.log(
    `\n1a. translation: ${IMAGE} .text 0x${from.toString(16)}..0x${end.toString(16)} (64-bit part): ${starts} block starts, ` +
      `${all.length} blocks (${empty} more start with an instruction left to the interpreter); each pass translates ` +
      `${count === all.length ? "all of them" : `an even sample of ${count}`}: ${instructions} guest instructions ` +
      `(${(instructions / count).toFixed(1)} per block; ${templated} by template, ${helpers} through the shared semantics)`,
  );
  console.log(
    `    generated JS: ${(bodyBytes / count / 1024).toFixed(1)} KiB per block without the source map, ` +
      `${(mappedBytes / count / 1024).toFixed(1)} KiB with it (${(bodyBytes / instructions).toFixed(0)} / ${(mappedBytes / instructions).toFixed(0)} bytes per guest instruction)`,
  );

  // Every source compiled must be new: V8 caches the compilation of an identical new Function
  // source, so a repeated body would measure a cache lookup. The engine's names are unique too.
  let serial = 0;
  const env = {}; // the factory only reads E's fields into constants
  // Node's source-map support (on under tsx) off, except in the row that measures it: with it on,
  // Node keeps every map, and the growing heap would slow the stages measured after it.
  const sourceMapsWereEnabled = process.sourceMapsEnabled;
  process.setSourceMapsEnabled(false);
  const rssBefore = process.memoryUsage().rss;
  const stages: [string, () => void][] = [
    ["decode (decodeBlock)", () => {
      for (let k = 0; k < count; k++) decodeBlock(ram, rips[k], physicals[k], 64);
    }],
    ["decode + translate (translateUnit)", () => {
      for (let k = 0; k < count; k++) translateUnit([decodeBlock(ram, rips[k], physicals[k], 64)], 64);
    }],
    ["... + new Function + factory, no source map", () => {
      for (let k = 0; k < count; k++) {
        const unit = translateUnit([decodeBlock(ram, rips[k], physicals[k], 64)], 64);
        (new Function("E", `${unit.body}\n//# sourceURL=jit/unit_${(serial++).toString(36)}.js`) as Factory)(env);
      }
    }],
    ["... + finishSource + new Function + factory (JitEngine.compile)", () => {
      for (let k = 0; k < count; k++) {
        const unit = translateUnit([decodeBlock(ram, rips[k], physicals[k], 64)], 64);
        (new Function("E", finishSource(`unit_${(serial++).toString(36)}`, unit).source) as Factory)(env);
      }
    }],
    ["... the same with Node's source-map support on (as under tsx)", () => {
      process.setSourceMapsEnabled(true);
      try {
        for (let k = 0; k < count; k++) {
          const unit = translateUnit([decodeBlock(ram, rips[k], physicals[k], 64)], 64);
          (new Function("E", finishSource(`unit_${(serial++).toString(36)}`, unit).source) as Factory)(env);
        }
      } finally {
        process.setSourceMapsEnabled(false);
      }
    }],
    ["... + V8 bytecode compile of the unit (its first call pays it)", () => {
      for (let k = 0; k < count; k++) {
        const unit = translateUnit([decodeBlock(ram, rips[k], physicals[k], 64)], 64);
        compileNow((new Function("E", finishSource(`unit_${(serial++).toString(36)}`, unit).source) as Factory)(env));
      }
    }],
  ];
  // Rounds: every stage once per round, so a change of load on the machine hits every stage alike;
  // each stage's figure is the median over the rounds of benchmark.js's median sample.
  const perRound: Measured[][] = stages.map(() => []);
  for (let round = 0; round < ROUNDS; round++) {
    stages.forEach(([stage, fn], s) => perRound[s].push(measure(stage, fn, MAX_TIME)));
  }
  process.stderr.write("\n");
  const rows = stages.map(([stage], s) => {
    const seconds = median(perRound[s].map((m) => m.seconds));
    const spread = perRound[s].map((m) => m.seconds);
    return {
      stage, blocksPerSecond: count / seconds, instructionsPerSecond: instructions / seconds, usPerBlock: (seconds / count) * 1e6,
      rangePercent: ((Math.max(...spread) - Math.min(...spread)) / seconds) * 100, samples: perRound[s].reduce((sum, m) => sum + m.samples, 0),
    };
  });
  const width = Math.max(...rows.map((r) => r.stage.length));
  console.log(`    ${"stage (one pass over the blocks)".padEnd(width)}  ${"blocks/s".padStart(9)}  ${"instr/s".padStart(9)}  ${"us/block".padStart(8)}  ${"range%".padStart(6)}  samples`);
  for (const r of rows) {
    console.log(`    ${r.stage.padEnd(width)}  ${fixed(r.blocksPerSecond, 0, 9)}  ${fixed(r.instructionsPerSecond, 0, 9)}  ${fixed(r.usPerBlock, 1, 8)}  ${fixed(r.rangePercent, 0, 6)}  ${String(r.samples).padStart(7)}`);
  }
  console.log(`    (median of ${ROUNDS} rounds; range% = spread of the rounds' medians)`);
  process.setSourceMapsEnabled(sourceMapsWereEnabled);
  const [decode, translate, plain, mapped, mappedNodeOn, compiled] = rows.map((r) => r.usPerBlock);
  console.log(
    `    per block: decode ${decode.toFixed(1)} us, translate ${(translate - decode).toFixed(1)} us, new Function + factory ${(plain - translate).toFixed(1)} us, ` +
      `source map ${(mapped - plain).toFixed(1)} us (finishSource, and new Function on the longer source), ` +
      `Node's copy of the map when its source-map support is on (tsx) ${(mappedNodeOn - mapped).toFixed(1)} us, ` +
      `first-call bytecode compile ${(compiled - mapped).toFixed(1)} us`,
  );
  console.log(`    (process RSS ${(rssBefore / 1048576).toFixed(0)} MiB before the passes, ${(process.memoryUsage().rss / 1048576).toFixed(0)} MiB after: Node keeps every map of the tsx row)`);
  json.translate = { blocks: count, instructions, bodyBytes, mappedBytes, rows };
  stages.forEach(([stage], s) => suiteReport.add(`translate: ${stage}`, "usPerBlock", perRound[s].map((m) => (m.seconds / count) * 1e6)));
}

// ---- 1b / 1c: guests on a PcMachine --------------------------------------------------------------

interface GuestRun {
  /** median over the rounds of benchmark.js's median sample */
  mips: number;
  /** each round's MIPS (benchmark.js's median sample) */
  roundMips: number[];
  /** spread of the rounds' medians, % of the median */
  rangePercent: number;
  samples: number;
  /** over every sample, warm-up included (JIT only) */
  dispatchesPerInstruction?: number;
  linkShare?: number;
  interpreterShare?: number;
  unitsCompiled?: number;
  regionsCompiled?: number;
}

/**
 * `image` on each of `engines` side by side: one machine per engine, warmed up (its hot code
 * compiled), then ROUNDS rounds in which every engine is measured once (benchmark.js, samples of
 * PER_SAMPLE instructions), so load changes on the machine hit every engine alike.
 */
function runGuest(image: GuestImage, engines: Engine[]): GuestRun[] {
  const machines: PcMachine[] = engines.map((engine) => {
    const machine = guestMachine(image, engine);
    runInstructions(machine, 2 * PER_SAMPLE);
    const problem = image.check?.(machine);
    if (problem) throw new Error(`${image.name} on ${engine.name}: ${problem}`);
    return machine;
  });
  const before = machines.map((machine) => ({ stats: machine.jit?.stats(), retired: machine.cpu.retired }));
  const rounds: Measured[][] = engines.map(() => []);
  for (let round = 0; round < ROUNDS; round++) {
    engines.forEach((engine, e) => rounds[e].push(measure(`${image.name} ${engine.name}`, () => runInstructions(machines[e], PER_SAMPLE), MAX_TIME)));
  }
  return engines.map((_, e) => {
    const machine = machines[e];
    const seconds = median(rounds[e].map((m) => m.seconds));
    const spread = rounds[e].map((m) => m.seconds);
    const run: GuestRun = {
      mips: PER_SAMPLE / seconds / 1e6,
      roundMips: rounds[e].map((m) => PER_SAMPLE / m.seconds / 1e6),
      rangePercent: ((Math.max(...spread) - Math.min(...spread)) / seconds) * 100,
      samples: rounds[e].reduce((sum, m) => sum + m.samples, 0),
    };
    const start = before[e].stats, after = machine.jit?.stats();
    if (start !== undefined && after !== undefined) {
      const retired = machine.cpu.retired - before[e].retired;
      const dispatches = after.dispatches - start.dispatches;
      run.dispatchesPerInstruction = dispatches / retired;
      run.linkShare = dispatches > 0 ? (after.linkHits - start.linkHits) / dispatches : 0;
      run.interpreterShare = (after.interpreterSteps - start.interpreterSteps) / retired;
      run.unitsCompiled = after.unitsCompiled;
      run.regionsCompiled = after.regionsCompiled;
    }
    return run;
  });
}

const INTERP: Engine = { name: "interp", accel: "interp" };
const JIT: Engine = { name: "jit", accel: "jit" };

function dispatchSection(): void {
  const adds = (n: number) => Array.from({ length: n }, () => "  add rax, 1").join("\n");
  const jmpChain = "1:\n  jmp 2f\n2:\n  jmp 3f\n3:\n  jmp 1b";
  const guests: { name: string; code: string; jit: Engine }[] = [
    { name: "call f / f: ret / jmp back: 3 one-instruction blocks", code: "1:\n  call 2f\n  jmp 1b\n2:\n  ret", jit: JIT },
    { name: "jmp chain, 3 one-jmp blocks (regions off)", code: jmpChain, jit: { name: "jit, regions off", accel: "jit", jit: { regions: false } } },
    { name: "the same jmp chain as one loop region", code: jmpChain, jit: JIT },
    { name: "one 3-instruction block looping to itself", code: `1:\n${adds(2)}\n  jmp 1b`, jit: JIT },
    { name: "one 64-instruction block looping to itself", code: `1:\n${adds(63)}\n  jmp 1b`, jit: JIT },
    { name: "64 instructions as a 2-block loop region", code: `1:\n${adds(31)}\n  jmp 2f\n2:\n${adds(31)}\n  jmp 1b`, jit: JIT },
  ];
  console.log(`\n1b. dispatch: each sample retires ${PER_SAMPLE} instructions; dispatches from JitEngine.stats()`);
  const rows: (GuestRun & { name: string; interpMips: number })[] = [];
  for (const guest of guests) {
    const image = asmGuest(guest.name, guest.code);
    const [interp, jit] = runGuest(image, [INTERP, guest.jit]);
    rows.push({ name: guest.name, interpMips: interp.mips, ...jit });
    suiteReport.add(`dispatch: ${guest.name}: interp`, "mips", interp.roundMips).add(`dispatch: ${guest.name}: jit`, "mips", jit.roundMips);
  }
  process.stderr.write("\n");
  const width = Math.max(...rows.map((r) => r.name.length));
  console.log(`    ${"guest".padEnd(width)}  ${"interp".padStart(7)}  ${"jit".padStart(7)}  ${"disp/instr".padStart(10)}  ${"Mdisp/s".padStart(7)}  ${"ns/disp".padStart(7)}  ${"ns/instr".padStart(8)}  ${"linked".padStart(6)}  range%`);
  for (const r of rows) {
    const dpi = r.dispatchesPerInstruction!;
    const dispatchesPerSecond = r.mips * 1e6 * dpi;
    console.log(
      `    ${r.name.padEnd(width)}  ${fixed(r.interpMips, 1, 7)}  ${fixed(r.mips, 1, 7)}  ${fixed(dpi, 4, 10)}  ${fixed(dispatchesPerSecond / 1e6, 2, 7)}  ` +
        `${dpi > 0.001 ? fixed(1e9 / dispatchesPerSecond, 0, 7) : "-".padStart(7)}  ${fixed(1000 / r.mips, 1, 8)}  ${fixed(100 * r.linkShare!, 0, 5)}%  ${fixed(r.rangePercent, 0, 6)}`,
    );
  }
  console.log(`    (MIPS columns: interp, jit, medians of ${ROUNDS} interleaved rounds; ns/disp = wall time per dispatch, block work included; linked = dispatches through a direct link; range% = spread of the jit rounds)`);
  const off = rows[1], region = rows[2];
  const marginal = (1000 / off.mips - 1000 / region.mips) / (off.dispatchesPerInstruction! - region.dispatchesPerInstruction!);
  console.log(`    marginal cost of a dispatch (jmp chain: blocks - region): ${marginal.toFixed(0)} ns, i.e. ${(1e3 / marginal).toFixed(1)} M dispatches/s at most`);
  json.dispatch = { rows, marginalNsPerDispatch: marginal };
}

function kernelsSection(): void {
  const images: GuestImage[] = Object.entries(KERNEL_SOURCES).map(([name, code]) => asmGuest(name, code));
  images.push(blake2bGuest());
  console.log(`\n1c. guest kernels, interpreter vs JIT (default threshold ${DEFAULT_THRESHOLD}, loop regions on): MIPS, median over ${ROUNDS} interleaved rounds of the median sample of ${PER_SAMPLE} instructions`);
  const rows: { name: string; interp: GuestRun; jit: GuestRun }[] = [];
  for (const image of images) {
    const [interp, jit] = runGuest(image, [INTERP, JIT]);
    rows.push({ name: image.name, interp, jit });
    suiteReport.add(`kernel: ${image.name}: interp`, "mips", interp.roundMips).add(`kernel: ${image.name}: jit`, "mips", jit.roundMips);
  }
  process.stderr.write("\n");
  const width = Math.max(...rows.map((r) => r.name.length));
  console.log(`    ${"kernel".padEnd(width)}  ${"interp".padStart(7)}  ${"range%".padStart(6)}  ${"jit".padStart(7)}  ${"range%".padStart(6)}  ${"speedup".padStart(7)}  ${"disp/instr".padStart(10)}  units (regions)`);
  for (const r of rows) {
    console.log(
      `    ${r.name.padEnd(width)}  ${fixed(r.interp.mips, 2, 7)}  ${fixed(r.interp.rangePercent, 0, 6)}  ${fixed(r.jit.mips, 2, 7)}  ${fixed(r.jit.rangePercent, 0, 6)}  ` +
        `${fixed(r.jit.mips / r.interp.mips, 1, 6)}x  ${fixed(r.jit.dispatchesPerInstruction!, 4, 10)}  ${r.jit.unitsCompiled} (${r.jit.regionsCompiled})`,
    );
  }
  json.kernels = rows;
}

if (SECTIONS.has("translate")) translationSection();
if (SECTIONS.has("dispatch")) dispatchSection();
if (SECTIONS.has("kernels")) kernelsSection();
console.log(`\nJSON ${JSON.stringify(json)}`);
suiteReport.write();
