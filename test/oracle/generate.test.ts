// The oracle's generator and comparison on their own (no CPU involved): every eligible row can be
// generated and decodes back to itself, cases are deterministic, sequences never consume an
// undefined flag, and the comparison masks exactly what it documents.

import { describe, expect, it } from "vitest";
import { decode, DecodeStatus, OPCODE_TABLE } from "../../src/decoder/index.js";
import { approximationAcceptable, compareOutcomes } from "./compare.js";
import type { Outcome } from "./emulator.js";
import { Coverage, DEFAULT_SEED, generateCase, instructionFlags, singleCaseOf, type OracleCase } from "./generate.js";
import { CODE_ADDRESS, cloneState, initialScratch } from "./layout.js";
import { rowInventory } from "./rows.js";

const inventory = rowInventory();

describe("oracle generator", () => {
  it("can generate every eligible and privileged row, and each decodes back to its row", () => {
    const failed: string[] = [];
    for (const row of [...inventory.eligible, ...inventory.privileged]) {
      let made: OracleCase | null = null;
      for (let attempt = 0; attempt < 20 && !made; attempt++) made = singleCaseOf(row, 99, row.id * 100 + attempt);
      if (!made) {
        failed.push(row.source);
        continue;
      }
      const ins = decode(made.code, 0, 64);
      if (ins.status !== DecodeStatus.Ok || ins.row !== row) failed.push(`${row.source}: decodes as ${ins.row.source}`);
    }
    expect(failed).toEqual([]);
  });

  it("classifies every row: eligible, privileged, skipped (with a reason) or outside the machine", () => {
    const total = inventory.eligible.length + inventory.privileged.length + inventory.skipped.length + inventory.outside.length;
    expect(total).toBe(OPCODE_TABLE.length);
    expect(inventory.skipped.every(({ reason }) => reason.length > 10)).toBe(true);
    // The instructions the oracle exists for are in.
    const names = new Set(inventory.eligible.map((row) => row.mnemonics.join("/")));
    for (const name of ["adc", "div", "cmpxchg16b", "movsb", "pushf/pushfd/pushfq", "int3", "ud2", "fxsave", "addps", "rcpps", "shld"]) expect(names.has(name)).toBe(true);
  });

  it("generates the same case for the same seed and index", () => {
    for (const index of [0, 1, 1234, 99_999]) {
      const a = generateCase(DEFAULT_SEED, index), b = generateCase(DEFAULT_SEED, index);
      expect(Buffer.from(a.code).equals(Buffer.from(b.code))).toBe(true);
      expect(Array.from(a.state.gpr)).toEqual(Array.from(b.state.gpr));
      expect(a.patches).toEqual(b.patches);
    }
  });

  it("covers every eligible row within the first 20,000 cases of the default seed; sequences read only defined flags", () => {
    const coverage = new Coverage();
    for (let index = 0; index < 20_000; index++) {
      const c = generateCase(DEFAULT_SEED, index);
      coverage.add(c);
      if (c.kind === "invalid") {
        expect(decode(c.code, 0, 64).status).toBe(DecodeStatus.Invalid);
        continue;
      }
      for (const ins of c.instructions) {
        const decoded = decode(c.code, ins.offset, 64);
        expect(decoded.status).toBe(DecodeStatus.Ok);
        if (ins.filler) continue;
        expect(decoded.row).toBe(ins.row);
        const effect = instructionFlags(decoded, Number(c.state.gpr[1] & 0xffn));
        expect(effect.read & ins.undefinedBefore).toBe(0);
      }
    }
    const report = coverage.report();
    expect(report.uncovered.map((row) => row.source)).toEqual([]);
    expect(coverage.kinds.sequence).toBeGreaterThan(3000);
  });
});

describe("oracle comparison", () => {
  function outcomeOf(c: OracleCase): Outcome {
    return { state: { ...cloneState(c.state), rip: BigInt(CODE_ADDRESS + c.code.length) }, exception: null, memory: initialScratch(c.scratchSeed, c.patches) };
  }
  const findCase = (predicate: (c: OracleCase) => boolean) => {
    for (let index = 0; ; index++) {
      const c = generateCase(DEFAULT_SEED, index);
      if (predicate(c)) return c;
    }
  };

  it("masks only the flags the instruction leaves undefined, and RF", () => {
    const c = findCase((c) => c.kind === "single" && c.group.startsWith("and Ev,Gv"));
    const native = outcomeOf(c);
    const emulator = outcomeOf(c);
    emulator.state.rflags ^= 0x10 | 0x1_0000; // AF (undefined after AND) and RF
    expect(compareOutcomes(c, native, emulator)).toEqual([]);
    emulator.state.rflags ^= 0x1; // CF is defined
    expect(compareOutcomes(c, native, emulator).map((d) => d.field)).toEqual(["rflags"]);
  });

  it("compares every register, the exception and memory", () => {
    const c = findCase((c) => c.kind === "single");
    const native = outcomeOf(c);
    const emulator = outcomeOf(c);
    emulator.state.gpr[9] ^= 1n;
    emulator.state.xmm[31] ^= 1n << 63n;
    emulator.state.mxcsr ^= 0x20;
    emulator.memory[0x1fff] ^= 0xff;
    emulator.exception = { vector: 14, errorCode: 6 };
    expect(compareOutcomes(c, native, emulator).map((d) => d.field)).toEqual(["exception", "r9", "xmm15", "mxcsr", "memory"]);
  });

  it("uses the flags undefined in front of the faulting instruction when the host faults", () => {
    const c = findCase((c) => c.kind === "sequence" && c.instructions.length >= 2 && c.instructions[1].undefinedBefore !== 0 && c.instructions[1].undefinedBefore !== c.undefinedAtEnd);
    const native = outcomeOf(c);
    native.exception = { vector: 14, errorCode: 4 };
    native.state.rip = BigInt(CODE_ADDRESS + c.instructions[1].offset);
    const emulator = { ...native, state: cloneState(native.state) };
    emulator.state.rflags ^= c.instructions[1].undefinedBefore;
    expect(compareOutcomes(c, native, emulator)).toEqual([]);
  });

  it("accepts RCP/RSQRT results within the SDM's bound and nothing else", () => {
    const bits = (x: number) => new Uint32Array(new Float32Array([x]).buffer)[0];
    expect(approximationAcceptable("rcp", bits(3), bits(1 / 3), bits(0.33331))).toBe(true);
    expect(approximationAcceptable("rcp", bits(3), bits(1 / 3), bits(0.3332))).toBe(false);
    expect(approximationAcceptable("rsqrt", bits(4), bits(0.5), bits(0.50005))).toBe(true);
    expect(approximationAcceptable("rcp", bits(0), 0x7f80_0000, 0x7f80_0001)).toBe(false);
    expect(approximationAcceptable("rcp", bits(-0), 0xff80_0000, 0xff80_0000)).toBe(true);
    expect(approximationAcceptable("rsqrt", bits(-1), 0xffc0_0000, bits(1))).toBe(false);
  });
});
