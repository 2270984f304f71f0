// Differential test of src/decoder against iced-x86 on real code: a linear sweep over the .text section
// of binaries under /usr/bin and of libc. iced sets the instruction boundaries (after an invalid
// instruction the sweep moves one byte on); our decoder is compared at every boundary with the rules
// of docs/decoder-testing.md. Zero disagreements allowed.

import { describe, expect, it } from "vitest";
import { type CodeSection, SWEEP_LIBRARY, systemTextSections } from "./generate.js";
import { DiffCollector, compareWithIced, icedSweep, loadDecoderUnderTest } from "./iced-oracle.js";

const { name: decoderName, decoder } = await loadDecoderUnderTest();
const sections: CodeSection[] = systemTextSections();

describe(`decoder vs iced-x86 on system binaries (${decoderName})`, () => {
  it("finds at least 5 binaries and libc", () => {
    expect(sections.filter((s) => s.path !== SWEEP_LIBRARY).length).toBeGreaterThanOrEqual(5);
    expect(sections.some((s) => s.path === SWEEP_LIBRARY)).toBe(true);
  });

  for (const section of sections) {
    it(`agrees on every instruction of ${section.path} .text (${section.bytes.length} bytes)`, () => {
      const collector = new DiffCollector(20, 3);
      const started = performance.now();
      icedSweep(section.bytes, section.addr, 64, (offset, ins, error) => {
        const ip = section.addr + BigInt(offset);
        compareWithIced(decoder, section.bytes, offset, ip, 64, ins, error, collector, () =>
          `${section.name}+0x${offset.toString(16)} (.text at 0x${section.addr.toString(16)})`,
        );
      });
      const seconds = (performance.now() - started) / 1000;
      console.log(`${collector.summary(`${section.path} .text`)}\n  ${seconds.toFixed(2)} s`);
      const failure = collector.failureMessage(`${section.path} .text`);
      if (failure !== null) expect.fail(failure);
    });
  }
});
