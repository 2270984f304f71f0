// Differential fuzzing of src/decoder against iced-x86 on generated 15-byte windows, in 64-bit and 32-bit
// mode. Rules: docs/decoder-testing.md. Knobs: FUZZ_CASES (total cases, default 200000), FUZZ_SEED,
// FUZZ_REPORT (file receiving every disagreement as a JSON line), DECODER_UNDER_TEST=iced (self-check).

import { closeSync, openSync, writeSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  CASE_KINDS,
  CaseGenerator,
  DEFAULT_IP,
  type Mode,
  WINDOW,
  caseWindow,
  newCaseBatch,
  parseCount,
  parseSeed,
} from "./generate.js";
import {
  DiffCollector,
  type Disagreement,
  IcedBatchDecoder,
  compareWithIced,
  hex,
  loadDecoderUnderTest,
  toJson,
} from "./iced-oracle.js";

const { name: decoderName, decoder } = await loadDecoderUnderTest();

const DEFAULT_CASES = 200_000;
const TOTAL = parseCount(process.env.FUZZ_CASES, DEFAULT_CASES);
const SEED = parseSeed(process.env.FUZZ_SEED);
/** Share of the cases taken by the biased generator; the rest are uniformly random bytes. */
const BIASED_SHARE = 0.75;
const BATCH = 8192;
const MODES: Mode[] = [64, 32];
const PROGRESS_EVERY = 1_000_000;
const REPORT_LIMIT = 100_000;

/**
 * Hand-picked encodings worth checking on every run whatever the seed: prefix interplay, REX corner
 * cases, addressing forms, branch sizes, string/far/moffs operands, mandatory-prefix SSE forms and
 * instructions just outside the domain. Each is decoded in both modes (from a 15-byte window padded
 * with 0xCC).
 */
const EDGE_CASES: readonly string[] = [
  "90", "6690", "f390", "f34890", "4890", "4990", "4190", "87c0", "4887c0", "6687c0",
  "40b4ff", "b4ff", "4088e0", "88e0", "4488c0", "400fb6c4", "0fb6c4", "66400fb6c4",
  "8b0425f0ffffff", "678b0425f0ffffff", "8b05f0ffffff", "678b05f0ffffff", "8b040c", "8b04640000", "8b0465f0ffffff",
  "8b4500", "8b4424fc", "678b4000", "678b06f0ff", "678b42f0", "678b00", "2e8b00", "3e8b4500", "648b00", "658b00",
  "a1f0ffffff", "67a1f0ff", "48a1f0ffffffffffffff", "67a1f0ffffff", "a0f0ffffffffffffff", "66a3f0ffffffffffffff",
  "a4", "67a4", "2ea4", "f3a4", "f2a4", "f3a6", "f2ae", "f348ab", "66ad", "6e", "f36e", "ac", "26ac", "0ff7c1", "660ff7c1",
  "e800000000", "66e80000", "66e800000000", "eb80", "66ebfe", "e9fbffffff", "0f8400000000", "660f840000", "e3fe", "67e3fe",
  "e2fe", "67e2fe", "c3", "66c3", "c20800", "cb", "48cb", "ca0800", "eaefcdab78563412", "66ea78563412", "ff2d00000000",
  "48ff2d00000000", "ff1500000000", "ff20", "66ff20", "ff18", "48ff18",
  "6aff", "666aff", "68ffffffff", "6668ffff", "83c0ff", "4883c0ff", "6683c0ff", "c81000ff", "48c7c0ffffffff",
  "48b8efcdab8967452301", "6bc0ff", "666bc0ff", "69c078563412", "d1e0", "d3e0", "c1e005", "c0e0ff",
  "f00100", "f0f00100", "f00000", "f00fb108", "f00fc108", "f0870a", "f08700", "f00fc70e", "f0480fc70e", "f00fc7c8",
  "f30100", "660f58c1", "f20f58c1", "f30f58c1", "0f58c1", "66f20f58c1", "f2660f58c1", "f3660f58c1", "0f10c1", "660f6fc1",
  "f30f6fc1", "660fd6c1", "f30f7ec1", "660f7ec0", "66480f7ec0", "660f3a0fc101", "660f3800c1", "0f0b", "0fff00", "0fb900",
  "f30fbcc0", "f30fbdc0", "f30fb8c0", "0f38f000", "0f38f100", "660f38f000", "f20f38f0c0", "0f1800", "0f1900", "0f1f00", "0f1f4000",
  "660f1f440000", "0f0d08", "f30f1efa", "0f05", "0f07", "0f34", "0f35", "0f01f8", "0f01f9", "0f31", "0f33", "0fa2", "0f30",
  "0f32", "0fae38", "0faef8", "0faee8", "0faef0", "0fae10", "0fae18", "0fae00", "0fae08", "480fae00", "0fc708", "480fc708",
  "0f20c0", "0f22c0", "440f20c0", "f00f20c0", "0f21c0", "0f23f8", "0f00d0", "0f0118", "0f0110", "0f01d0", "0f01c8",
  "8cd8", "8ed8", "8ec8", "668cd8", "488cd8", "8c38", "0fa0", "0fa1", "0fa8", "660fa8", "1e", "06", "16", "0e",
  "9c", "9d", "669c", "cf", "48cf", "66cf", "cc", "cd80", "ce", "f1", "d4", "d5", "d6", "60", "61", "62c0", "6300", "4863c0",
  "63c0", "c4c1", "c5f858c1", "c4e27d18c0", "62f17c4858c1", "8fe8789ac1", "8f00", "0f0fc00c", "d9c0", "dd00", "dfe0",
  "9b", "0f77", "0f6fc1", "0f70c001", "0f2ac0", "f30fe6c1", "0f0e",
];

describe(`decoder vs iced-x86 on generated instructions (${decoderName})`, () => {
  it("agrees on the hand-picked edge cases", () => {
    const collector = new DiffCollector(40, 40);
    for (const mode of MODES) {
      for (const text of EDGE_CASES) {
        const window = new Uint8Array(WINDOW).fill(0xcc);
        const bytes = hexBytes(text);
        window.set(bytes);
        const iced = new IcedBatchDecoder(mode, window);
        try {
          const error = iced.decodeAt(0, DEFAULT_IP);
          compareWithIced(decoder, window, 0, DEFAULT_IP, mode, iced.ins, error, collector, () => `edge case ${text}`);
        } finally {
          iced.free();
        }
      }
    }
    console.log(collector.summary("edge cases"));
    const failure = collector.failureMessage("edge cases");
    if (failure !== null) expect.fail(failure);
  });

  it(`agrees on ${TOTAL} generated cases (seed 0x${SEED.toString(16)})`, () => {
    const report = openReport();
    const collector = new DiffCollector(20, 3, report?.write);
    const started = performance.now();
    const kindCounts = new Array<number>(CASE_KINDS.length).fill(0);
    let done = 0;
    let nextProgress = PROGRESS_EVERY;
    try {
      const biasedTotal = Math.round(TOTAL * BIASED_SHARE);
      const plan: Array<{ mode: Mode; uniform: boolean; count: number }> = [
        { mode: 64, uniform: false, count: Math.ceil(biasedTotal / 2) },
        { mode: 32, uniform: false, count: Math.floor(biasedTotal / 2) },
        { mode: 64, uniform: true, count: Math.ceil((TOTAL - biasedTotal) / 2) },
        { mode: 32, uniform: true, count: Math.floor((TOTAL - biasedTotal) / 2) },
      ];
      const generators = new Map<Mode, CaseGenerator>(MODES.map((m) => [m, new CaseGenerator(SEED, m)]));
      const batches = new Map(MODES.map((m) => [m, newCaseBatch(m, BATCH)]));
      for (const { mode, uniform, count } of plan) {
        const generator = generators.get(mode)!;
        const batch = batches.get(mode)!;
        let caseIndex = 0;
        while (caseIndex < count) {
          const n = Math.min(BATCH, count - caseIndex);
          generator.fill(batch, n, uniform);
          const iced = new IcedBatchDecoder(mode, batch.bytes.subarray(0, n * WINDOW));
          try {
            for (let i = 0; i < n; i++) {
              const ip = batch.ips[i]!;
              const error = iced.decodeAt(i * WINDOW, ip);
              const index = caseIndex + i;
              const kind = batch.kinds[i]!;
              compareWithIced(decoder, caseWindow(batch, i), 0, ip, mode, iced.ins, error, collector, () =>
                `seed 0x${SEED.toString(16)} mode ${mode} ${uniform ? "uniform" : "biased"} case #${index}, kind ${CASE_KINDS[kind]}`,
              );
            }
          } finally {
            iced.free();
          }
          caseIndex += n;
          done += n;
          if (done >= nextProgress) {
            nextProgress += PROGRESS_EVERY;
            const rate = done / ((performance.now() - started) / 1000);
            console.log(`fuzz: ${done}/${TOTAL} cases, ${collector.disagreementCount} disagreements, ${Math.round(rate)} cases/s`);
          }
        }
      }
      for (const generator of generators.values()) generator.kindCounts.forEach((n, k) => (kindCounts[k]! += n));
    } finally {
      report?.close();
    }
    const seconds = (performance.now() - started) / 1000;
    const distribution = CASE_KINDS.map((k, i) => `${k} ${kindCounts[i]}`).join(", ");
    console.log(
      `${collector.summary(`fuzz (seed 0x${SEED.toString(16)})`)}\n` +
        `  generator kinds: ${distribution}\n` +
        `  ${seconds.toFixed(1)} s, ${Math.round(done / seconds)} cases/s`,
    );
    const failure = collector.failureMessage(`fuzz (seed 0x${SEED.toString(16)}, FUZZ_CASES=${TOTAL})`);
    if (failure !== null) expect.fail(failure);
  });
});

function hexBytes(text: string): Uint8Array {
  const clean = text.replace(/\s+/g, "");
  const bytes = new Uint8Array(clean.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return bytes;
}

/** FUZZ_REPORT=path: every disagreement as one JSON line (capped at REPORT_LIMIT lines). */
function openReport(): { write: (d: Disagreement) => void; close: () => void } | undefined {
  const path = process.env.FUZZ_REPORT;
  if (path === undefined || path === "") return undefined;
  const fd = openSync(path, "w");
  let lines = 0;
  return {
    write: (d) => {
      if (lines++ >= REPORT_LIMIT) return;
      writeSync(fd, `${toJson({ ...d, bytes: hex(d.bytes) })}\n`);
    },
    close: () => closeSync(fd),
  };
}
