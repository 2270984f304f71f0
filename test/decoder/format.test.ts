// Our formatIntel text must equal iced-x86's Intel formatter text (configured by createIcedFormatter in
// iced-oracle.ts, close to `objdump -d -M intel`) after the normalization below, on the generated
// corpus and on the binary sweeps, for every instruction both decoders agree on (iced valid, ours Ok,
// equal canonical forms, in our domain). docs/decoder-testing.md lists the options and the rules.

import type * as iced from "iced-x86";
import { describe, expect, it } from "vitest";
import { CaseGenerator, type Mode, WINDOW, caseWindow, newCaseBatch, parseCount, parseSeed, systemTextSections } from "./generate.js";
import {
  type DecodedLike,
  type DecoderUnderTest,
  DiffCollector,
  IcedBatchDecoder,
  type IcedError,
  compareWithIced,
  createIcedFormatter,
  icedSweep,
  loadDecoderUnderTest,
} from "./iced-oracle.js";

// ---------------------------------------------------------------------------------------------------------------
// Normalization: a short, closed list of rules, applied in order to both texts before comparing.

interface NormalizationRule {
  name: string;
  /** why the difference is not worth failing on */
  reason: string;
  apply(text: string): string;
  /** a before/after pair, checked by this file's unit tests */
  example: readonly [before: string, after: string];
  /** a text the rule must leave alone */
  untouched: string;
}

export const NORMALIZATION_RULES: readonly NormalizationRule[] = [
  {
    name: "whitespace",
    reason:
      "iced pads the mnemonic (and its prefixes) to column 7 like objdump; how much space separates mnemonic and operands is layout, not content",
    apply: (text) => text.replace(/\s+/g, " ").trim(),
    example: ["mov    DWORD PTR [rax],0x1 ", "mov DWORD PTR [rax],0x1"],
    untouched: "rep stosq QWORD PTR [rdi]",
  },
  {
    name: "imul-three-operands",
    reason:
      "iced prints `imul r,r/m,imm` as `imul r,imm` when r/m is the same register; objdump always prints the three operands; both are accepted",
    apply: (text) => text.replace(/^imul (\w+),(0x[0-9a-f]+)$/, "imul $1,$1,$2"),
    example: ["imul eax,0x41c64e6d", "imul eax,eax,0x41c64e6d"],
    untouched: "imul eax,DWORD PTR [rax]",
  },
];

export function normalizeIntel(text: string): string {
  let result = text;
  for (const rule of NORMALIZATION_RULES) result = rule.apply(result);
  return result;
}

// ---------------------------------------------------------------------------------------------------------------

const { name: decoderName, decoder } = await loadDecoderUnderTest();
const FORMAT_CASES = parseCount(process.env.FORMAT_CASES, 50_000);
const SEED = parseSeed(process.env.FUZZ_SEED);
const BATCH = 8192;

/** Formats with both and records a "format" disagreement when the normalized texts differ. */
class FormatChecker {
  readonly collector = new DiffCollector(20, 20);
  /** absorbs decode disagreements (fuzz.test.ts and binaries.test.ts report those) */
  private readonly decodeCollector = new DiffCollector(0, 0);
  private readonly formatter = createIcedFormatter();
  compared = 0;

  check<I extends DecodedLike>(
    ours: DecoderUnderTest<I>,
    code: Uint8Array,
    offset: number,
    ip: bigint,
    mode: Mode,
    ins: iced.Instruction,
    error: IcedError,
    origin: () => string,
  ): void {
    const decoded = compareWithIced(ours, code, offset, ip, mode, ins, error, this.decodeCollector, origin);
    if (decoded === null) return;
    this.compared++;
    this.collector.cases++;
    const expected = this.formatter.format(ins);
    let actual: string;
    try {
      actual = ours.formatIntel(decoded, ip);
    } catch (e) {
      actual = `(formatIntel threw: ${e instanceof Error ? e.message : String(e)})`;
    }
    const want = normalizeIntel(expected);
    const got = normalizeIntel(actual);
    if (want === got) {
      this.collector.agree("formatEqual");
      return;
    }
    this.collector.disagree({
      key: "format",
      mode,
      ip,
      bytes: code.slice(offset, offset + WINDOW),
      origin: origin(),
      detail: `iced: ${JSON.stringify(expected)} → ${JSON.stringify(want)}\nours: ${JSON.stringify(actual)} → ${JSON.stringify(got)}`,
    });
  }

  free(): void {
    this.formatter.free();
  }
}

describe("Intel text normalization rules", () => {
  for (const rule of NORMALIZATION_RULES) {
    it(`${rule.name}: ${rule.example[0]} → ${rule.example[1]}`, () => {
      expect(rule.apply(rule.example[0])).toBe(rule.example[1]);
      expect(rule.apply(rule.untouched)).toBe(rule.untouched);
      // idempotent
      expect(rule.apply(rule.example[1])).toBe(rule.example[1]);
    });
  }
  it("applies the rules in order", () => {
    expect(normalizeIntel("imul   r8d,0x5")).toBe("imul r8d,r8d,0x5");
  });
});

describe(`formatIntel vs iced-x86's Intel formatter (${decoderName})`, () => {
  it(`matches on ${FORMAT_CASES} generated cases (seed 0x${SEED.toString(16)})`, () => {
    const checker = new FormatChecker();
    try {
      for (const mode of [64, 32] as const) {
        const generator = new CaseGenerator(SEED, mode);
        const batch = newCaseBatch(mode, BATCH);
        const total = mode === 64 ? Math.ceil(FORMAT_CASES / 2) : Math.floor(FORMAT_CASES / 2);
        for (let done = 0; done < total; ) {
          const n = Math.min(BATCH, total - done);
          generator.fill(batch, n, false);
          const oracle = new IcedBatchDecoder(mode, batch.bytes.subarray(0, n * WINDOW));
          try {
            for (let i = 0; i < n; i++) {
              const ip = batch.ips[i]!;
              const error = oracle.decodeAt(i * WINDOW, ip);
              checker.check(decoder, caseWindow(batch, i), 0, ip, mode, oracle.ins, error, () =>
                `seed 0x${SEED.toString(16)} mode ${mode} biased case #${done + i}`,
              );
            }
          } finally {
            oracle.free();
          }
          done += n;
        }
      }
      console.log(checker.collector.summary("formatIntel on generated cases"));
      const failure = checker.collector.failureMessage("formatIntel on generated cases");
      if (failure !== null) expect.fail(failure);
    } finally {
      checker.free();
    }
  });

  for (const section of systemTextSections()) {
    it(`matches on ${section.path} .text`, () => {
      const checker = new FormatChecker();
      try {
        icedSweep(section.bytes, section.addr, 64, (offset, ins, error) => {
          checker.check(decoder, section.bytes, offset, section.addr + BigInt(offset), 64, ins, error, () =>
            `${section.name}+0x${offset.toString(16)}`,
          );
        });
        console.log(checker.collector.summary(`formatIntel on ${section.path} .text`));
        const failure = checker.collector.failureMessage(`formatIntel on ${section.path} .text`);
        if (failure !== null) expect.fail(failure);
      } finally {
        checker.free();
      }
    });
  }
});
