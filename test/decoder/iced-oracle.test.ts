// The oracle's own contract, checked against iced-x86 alone (no dependency on src/decoder): the canonical
// form of representative encodings, the domain classification, and the generator's determinism.

import * as iced from "iced-x86";
import { describe, expect, it } from "vitest";
import type { CanonInstruction } from "../../src/decoder/canonical.js";
import { CASE_KINDS, CaseGenerator, DEFAULT_IP, type Mode, Rng, WINDOW, newCaseBatch } from "./generate.js";
import { IcedBatchDecoder, IcedError, icedCanonical, icedIsInOurDomain, toJson } from "./iced-oracle.js";

function icedView(hexText: string, mode: Mode, ip = DEFAULT_IP): { canon: CanonInstruction; inDomain: boolean; error: IcedError } {
  const bytes = Uint8Array.from(hexText.match(/../g)!.map((h) => parseInt(h, 16)));
  const oracle = new IcedBatchDecoder(mode, bytes);
  try {
    const error = oracle.decodeAt(0, ip);
    return { canon: icedCanonical(oracle.ins, mode), inDomain: icedIsInOurDomain(oracle.ins), error };
  } finally {
    oracle.free();
  }
}

const mem = (seg: string, base: string | null, index: string | null, scale: number, disp: bigint) =>
  ({ kind: "mem", seg, base, index, scale, disp }) as const;

describe("icedCanonical", () => {
  const cases: Array<[string, Mode, string, CanonInstruction["operands"]]> = [
    ["8b40fc", 32, "mov", [{ kind: "reg", reg: "eax" }, mem("ds", "eax", null, 1, 0xfffffffcn)]],
    ["8b40fc", 64, "mov", [{ kind: "reg", reg: "eax" }, mem("ds", "rax", null, 1, 0xfffffffffffffffcn)]],
    ["678b40fc", 64, "mov", [{ kind: "reg", reg: "eax" }, mem("ds", "eax", null, 1, 0xfffffffcn)]],
    ["678b40fc", 32, "mov", [{ kind: "reg", reg: "eax" }, mem("ds", "bx", "si", 1, 0xfffcn)]],
    ["678b42f0", 32, "mov", [{ kind: "reg", reg: "eax" }, mem("ss", "bp", "si", 1, 0xfff0n)]],
    ["8b05f0ffffff", 64, "mov", [{ kind: "reg", reg: "eax" }, mem("ds", "rip", null, 1, 0x400ff6n)]],
    ["678b05f0ffffff", 64, "mov", [{ kind: "reg", reg: "eax" }, mem("ds", "eip", null, 1, 0x400ff7n)]],
    // SIB without index: the scale bits mean nothing, canonical scale is 1
    ["8b046500000000", 64, "mov", [{ kind: "reg", reg: "eax" }, mem("ds", null, null, 1, 0n)]],
    ["8b0424", 64, "mov", [{ kind: "reg", reg: "eax" }, mem("ss", "rsp", null, 1, 0n)]],
    // iced reports a segment prefix even where 64-bit mode ignores it
    ["2e8b00", 64, "mov", [{ kind: "reg", reg: "eax" }, mem("cs", "rax", null, 1, 0n)]],
    ["a4", 64, "movsb", [mem("es", "rdi", null, 1, 0n), mem("ds", "rsi", null, 1, 0n)]],
    ["67a4", 32, "movsb", [mem("es", "di", null, 1, 0n), mem("ds", "si", null, 1, 0n)]],
    ["2e0ff7c1", 64, "maskmovq", [mem("cs", "rdi", null, 1, 0n), { kind: "reg", reg: "mm0" }, { kind: "reg", reg: "mm1" }]],
    ["6aff", 64, "push", [{ kind: "imm", value: 0xffffffffffffffffn, bits: 64 }]],
    ["666aff", 64, "push", [{ kind: "imm", value: 0xffffn, bits: 16 }]],
    ["6bc0ff", 64, "imul", [{ kind: "reg", reg: "eax" }, { kind: "reg", reg: "eax" }, { kind: "imm", value: 0xffffffffn, bits: 32 }]],
    ["c81000ff", 64, "enter", [{ kind: "imm", value: 0x10n, bits: 16 }, { kind: "imm", value: 0xffn, bits: 8 }]],
    ["e800000000", 64, "call", [{ kind: "branch", target: 0x401005n }]],
    ["66e80000", 32, "call", [{ kind: "branch", target: 0x1004n }]],
    ["ea78563412cdab", 32, "jmp", [{ kind: "far", selector: 0xabcd, offset: 0x12345678 }]],
    ["66ea7856cdab", 32, "jmp", [{ kind: "far", selector: 0xabcd, offset: 0x5678 }]],
    ["4088e0", 64, "mov", [{ kind: "reg", reg: "al" }, { kind: "reg", reg: "spl" }]],
    ["4488c0", 64, "mov", [{ kind: "reg", reg: "al" }, { kind: "reg", reg: "r8l" }]],
  ];
  for (const [hexText, mode, mnemonic, operands] of cases) {
    it(`${hexText} in mode ${mode}`, () => {
      const { canon, error } = icedView(hexText, mode);
      expect(error).toBe(IcedError.None);
      expect(canon.length).toBe(hexText.length / 2);
      expect(canon.mnemonic).toBe(mnemonic);
      expect(toJson(canon.operands)).toBe(toJson(operands));
    });
  }

  it("branch targets wrap to the code size", () => {
    expect(icedView("e800000000", 32, 0xfffffffen).canon.operands).toEqual([{ kind: "branch", target: 3n }]);
    expect(icedView("eb80", 64, 0n).canon.operands).toEqual([{ kind: "branch", target: 0xffffffffffffff82n }]);
  });

  it("flags use iced's RflagsBits layout", () => {
    const add = icedView("01c0", 64).canon.flags;
    expect(add).toEqual({ read: 0, undefined: 0, modified: 0x3f });
    const adc = icedView("11c0", 64).canon.flags;
    expect(adc.read).toBe(iced.RflagsBits.CF);
    const shl = icedView("d3e0", 64).canon.flags;
    expect(shl.undefined).toBe(iced.RflagsBits.OF | iced.RflagsBits.AF);
  });

  it("invalid instructions have mnemonic 'invalid' and no operands", () => {
    const { canon, error } = icedView("0f04cccccccccccc", 64);
    expect(error).toBe(IcedError.InvalidInstruction);
    expect(canon).toEqual({ length: canon.length, mnemonic: "invalid", operands: [], flags: { read: 0, undefined: 0, modified: 0 } });
  });

  it("a 16-byte instruction in a 15-byte window is invalid, not truncated", () => {
    expect(icedView(`${"66".repeat(15)}90`.slice(0, 30), 64).error).toBe(IcedError.InvalidInstruction);
    expect(icedView("48b80102", 64).error).toBe(IcedError.NoMoreBytes);
  });
});

describe("icedIsInOurDomain", () => {
  const inDomain = [
    "01c0", "0f05", "0fa2", "0f31", "0f01f9", "0f32", "f30fbcc0", "f30fb8c0", "f30fbdc0", "0f38f000", "480fc708",
    "0fc708", "0fae00", "0fae38", "f390", "0f1f00", "0f1900", "660f58c1", "0f58c1", "f20f2cc0", "0f0b", "f30f1efa",
    "0f01f8", "0f20c0", "cd80", "0faef8", "0fae10", "0f1800", "660fd6c1",
  ];
  const outOfDomain = [
    "d9c0", "9b", "0f77", "0f6fc1", "0f70c001", "0f2ac0", "0f2a00", "660f3800c1", "f20f7cc1", "c5f858c1", "0f34", "0faa",
    "0f33", "0f01d0", "0f0d08", "0fc7f0", "0f0fc00c", "8fe8789ac1", "62f17c4858c1", "660f3a0fc101", "0f01c8",
  ];
  for (const h of inDomain) it(`${h} is in`, () => expect(icedView(h, 64).inDomain).toBe(true));
  for (const h of outOfDomain) it(`${h} is out`, () => expect(icedView(h, 64).inDomain).toBe(false));
});

describe("generator", () => {
  it("is deterministic for a seed, whatever the batch size", () => {
    const a = new CaseGenerator(42, 64);
    const b = new CaseGenerator(42, 64);
    const big = newCaseBatch(64, 1000);
    a.fill(big, 1000, false);
    const small = newCaseBatch(64, 100);
    for (let k = 0; k < 10; k++) {
      b.fill(small, 100, false);
      expect(small.bytes).toEqual(big.bytes.subarray(k * 100 * WINDOW, (k + 1) * 100 * WINDOW));
      expect(small.ips).toEqual(big.ips.subarray(k * 100, (k + 1) * 100));
    }
  });

  it("gives different streams for different seeds and modes", () => {
    const batches = [new CaseGenerator(1, 64), new CaseGenerator(2, 64), new CaseGenerator(1, 32)].map((g) => {
      const batch = newCaseBatch(g.mode, 10);
      g.fill(batch, 10, false);
      return Buffer.from(batch.bytes).toString("hex");
    });
    expect(new Set(batches).size).toBe(3);
  });

  it("covers every kind, and the Rng is uniform enough", () => {
    const g = new CaseGenerator(7, 32);
    const batch = newCaseBatch(32, 20_000);
    g.fill(batch, 20_000, false);
    for (const kind of CASE_KINDS) if (kind !== "uniform") expect(g.kindCounts[CASE_KINDS.indexOf(kind)]).toBeGreaterThan(100);
    const rng = new Rng(3);
    const buckets = new Array<number>(16).fill(0);
    for (let i = 0; i < 160_000; i++) buckets[rng.below(16)]!++;
    for (const n of buckets) expect(Math.abs(n - 10_000)).toBeLessThan(500);
  });
});
