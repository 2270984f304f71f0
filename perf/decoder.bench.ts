// Decoder throughput: our decode() against iced-x86 (Rust compiled to WASM) on the same real code.
//
//   npm run bench:decoder                      # /usr/bin/bash .text
//   DECODER_BENCH_FILE=/usr/lib/x86_64-linux-gnu/libc.so.6 npm run bench:decoder
//
// The instruction boundaries of the section are found once (iced linear sweep). Then, side by side in one
// process, benchmark.js times one full pass over the section for each contender and reports
// instructions/s and the ratio to iced's fastest JS-callable path (one Decoder, Decoder.decodeOut into a
// reused Instruction: no allocation, one WASM call per instruction plus the position/ip setters once).
// Our decode() runs at iced's boundaries, so a decoder bug cannot change the amount of work measured.

import { readFileSync } from "node:fs";
import Benchmark from "benchmark";
import * as iced from "iced-x86";
import * as ours from "../src/decoder/index.js";
import { parseElf } from "../src/machine/elf.js";
import { SuiteReport, suiteMaxTime } from "../src/bench/suite.js";

const FILE = process.env.DECODER_BENCH_FILE ?? "/usr/bin/bash";
const MODE = 64 as const;

function loadText(path: string): { addr: bigint; bytes: Uint8Array } {
  const elf = parseElf(new Uint8Array(readFileSync(path)));
  const text = elf.findSection(".text");
  if (text === undefined) throw new Error(`${path}: no .text section`);
  return { addr: text.addr, bytes: elf.sectionData(text) };
}

const { addr, bytes } = loadText(FILE);

// Boundaries, once: iced's linear sweep (after an invalid instruction, one byte on).
const boundaryList: number[] = [];
{
  const decoder = new iced.Decoder(MODE, bytes, iced.DecoderOptions.None);
  const instruction = new iced.Instruction();
  decoder.ip = addr;
  while (decoder.canDecode) {
    const at = decoder.position;
    decoder.decodeOut(instruction);
    boundaryList.push(at);
    if (instruction.isInvalid) {
      decoder.position = at + 1;
      decoder.ip = addr + BigInt(at + 1);
    }
  }
  instruction.free();
  decoder.free();
}
const boundaries = Int32Array.from(boundaryList);
const count = boundaries.length;

// Sanity: how many of the boundaries our decoder decodes to the same length (reported, not required).
let sameLength = 0;
for (let i = 0; i < count; i++) {
  const end = i + 1 < count ? boundaries[i + 1]! : bytes.length;
  if (ours.decode(bytes, boundaries[i]!, MODE).length === end - boundaries[i]!) sameLength++;
}

let sink = 0;

const oursDecode = (): void => {
  for (let i = 0; i < count; i++) sink += ours.decode(bytes, boundaries[i]!, MODE).length;
};

// decodeInto(ins, code, offset, mode): our allocation-free entry point, when the module has one.
type DecodeInto = (ins: ours.Instruction, code: Uint8Array, offset: number, mode: 64 | 32) => void;
const decodeInto = (ours as unknown as { decodeInto?: DecodeInto }).decodeInto;
const oursDecodeInto = (): void => {
  const ins = new ours.Instruction();
  for (let i = 0; i < count; i++) {
    decodeInto!(ins, bytes, boundaries[i]!, MODE);
    sink += ins.length;
  }
};

// iced: one Decoder per pass (constructing it copies the section into WASM memory: included, it is
// part of decoding a buffer), decodeOut into one reused Instruction.
const icedDecodeOut = (): void => {
  const decoder = new iced.Decoder(MODE, bytes, iced.DecoderOptions.None);
  const instruction = new iced.Instruction();
  decoder.ip = addr;
  for (let i = 0; i < count; i++) {
    decoder.decodeOut(instruction);
    if (instruction.isInvalid) {
      const next = boundaries[i]! + 1;
      decoder.position = next;
      decoder.ip = addr + BigInt(next);
    }
    sink += instruction.length;
  }
  instruction.free();
  decoder.free();
};

// iced: decode() allocating a WASM Instruction each time, then free() (the API most callers use).
const icedDecodeFree = (): void => {
  const decoder = new iced.Decoder(MODE, bytes, iced.DecoderOptions.None);
  decoder.ip = addr;
  for (let i = 0; i < count; i++) {
    const instruction = decoder.decode();
    if (instruction.isInvalid) {
      const next = boundaries[i]! + 1;
      decoder.position = next;
      decoder.ip = addr + BigInt(next);
    }
    sink += instruction.length;
    instruction.free();
  }
  decoder.free();
};

interface Row {
  name: string;
  hz: number;
  rme: number;
  samples: number;
}

const rows: Row[] = [];
// BENCH_JSON_DIR: every sample as JSON (src/bench/suite.ts), for `x64emu bench compare`.
const json = new SuiteReport("decoder", `decoder: ${FILE} .text, ${count} instructions`, { file: FILE, instructions: count }, {
  minstrPerSecond: { label: "decoded", unit: "Minstr/s", better: "higher" },
});
const maxTime = suiteMaxTime();
const options = maxTime === undefined ? {} : { maxTime };
const suite = new Benchmark.Suite("decoder");
suite.add("ours: decode()", oursDecode, options);
if (decodeInto !== undefined) suite.add("ours: decodeInto() (reused Instruction)", oursDecodeInto, options);
suite.add("iced: Decoder.decodeOut() (reused Instruction)", icedDecodeOut, options);
suite.add("iced: Decoder.decode() + free()", icedDecodeFree, options);
suite.on("cycle", (event: Benchmark.Event) => {
  const bench = event.target as Benchmark.Target & { stats: Benchmark.Stats; error?: Error };
  if (bench.error) throw bench.error;
  rows.push({ name: bench.name ?? "?", hz: bench.hz ?? 0, rme: bench.stats.rme, samples: bench.stats.sample.length });
  json.add(bench.name ?? "?", "minstrPerSecond", bench.stats.sample.map((seconds) => count / seconds / 1e6));
  process.stderr.write(".");
});

console.log(
  `decoder benchmark: ${FILE} .text, ${bytes.length} bytes, ${count} instructions (iced boundaries); ` +
    `ours decodes ${sameLength}/${count} of them to iced's length`,
);
suite.run({ async: false });
process.stderr.write("\n");

const reference = rows.find((r) => r.name.startsWith("iced: Decoder.decodeOut"))!;
const nameWidth = Math.max(...rows.map((r) => r.name.length));
console.log(`${"contender".padEnd(nameWidth)}  ${"Minstr/s".padStart(9)}  ${"±%".padStart(5)}  ${"samples".padStart(7)}  ${"vs iced decodeOut".padStart(17)}`);
for (const row of rows) {
  const perSecond = row.hz * count;
  console.log(
    `${row.name.padEnd(nameWidth)}  ${(perSecond / 1e6).toFixed(2).padStart(9)}  ${row.rme.toFixed(1).padStart(5)}  ` +
      `${String(row.samples).padStart(7)}  ${(row.hz / reference.hz).toFixed(2).padStart(16)}x`,
  );
}
if (sink === 0) console.log("(empty section)");
json.write();
