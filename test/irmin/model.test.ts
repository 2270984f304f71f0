// The reference model (test/irmin/model.ts) against docs/irmin-store.md, and the native build
// against the model: bench head hashes, and random store scripts compared line by line.

import { describe, expect, it } from "vitest";
import {
  KIND_CONTENTS,
  KIND_NODE,
  benchModel,
  blake2b512,
  emptyNode,
  encodeCommit,
  encodeContents,
  encodeNode,
  hexOf,
  uleb128,
} from "./model.js";
import { hasGcc, runNative, runNativeBench } from "./native.js";
import { generateScript, runModelScript } from "./script.js";

const hash = (byte: number): string => Buffer.alloc(64, byte).toString("hex");

describe("serialization (docs/irmin-store.md)", () => {
  it("writes lengths as minimal unsigned LEB128", () => {
    expect(uleb128(0).toString("hex")).toBe("00");
    expect(uleb128(127).toString("hex")).toBe("7f");
    expect(uleb128(128).toString("hex")).toBe("8001");
    expect(uleb128(300).toString("hex")).toBe("ac02");
    expect(uleb128(2n ** 64n - 1n).toString("hex")).toBe("ffffffffffffffffff01");
  });

  it("encodes contents as 01 | length | bytes", () => {
    expect(encodeContents(Buffer.from("init")).toString("hex")).toBe("0104696e6974");
    expect(encodeContents(Buffer.alloc(0)).toString("hex")).toBe("0100");
  });

  it("encodes nodes as 02 | count | entries in bytewise step order", () => {
    const encoded = encodeNode([
      { step: Buffer.from("2"), kind: KIND_CONTENTS, hash: hash(0x22) },
      { step: Buffer.from("10"), kind: KIND_NODE, hash: hash(0x10) },
    ]);
    expect(encoded.toString("hex")).toBe(`0202` + `0202${Buffer.from("10").toString("hex")}${hash(0x10)}` + `010132${hash(0x22)}`);
    expect(encodeNode([]).toString("hex")).toBe("0200");
  });

  it("encodes commits as 03 | node | parents (sorted) | date (i64 LE) | author | message", () => {
    const encoded = encodeCommit({ node: hash(1), parents: [hash(3), hash(2), hash(3)], date: -2n, author: "a", message: "" });
    expect(encoded.toString("hex")).toBe(`03${hash(1)}02${hash(2)}${hash(3)}feffffffffffffff016100`);
  });

  it("hashes the empty tree to BLAKE2b-512(02 00)", () => {
    expect(hexOf(blake2b512(encodeNode([])))).toBe(hexOf(blake2b512(Buffer.from([2, 0]))));
    expect(emptyNode().entries.size).toBe(0);
  });
});

describe("bench model", () => {
  it("counts one blob, depth+1 nodes and one commit per commit", () => {
    const expected = benchModel({ ncommits: 3, depth: 2, treeAdd: 5 });
    expect(expected).toMatchObject({ contents: 4, nodes: 3 * 4, commits: 4 });
    expect(expected.head).toMatch(/^[0-9a-f]{128}$/);
  });
});

const BENCH_SETS = [
  { ncommits: 5, depth: 3, treeAdd: 4 },
  { ncommits: 10, depth: 8, treeAdd: 20 },
  { ncommits: 20, depth: 16, treeAdd: 150 },
  { ncommits: 4, depth: 0, treeAdd: 3 },
  { ncommits: 7, depth: 6, treeAdd: 3 }, // tree_add < depth: deeper levels start new directories
];

describe.runIf(hasGcc)("native bench head hash = model", () => {
  for (const parameters of BENCH_SETS) {
    const label = `ncommits=${parameters.ncommits} depth=${parameters.depth} tree_add=${parameters.treeAdd}`;
    it(label, () => {
      const expected = benchModel(parameters);
      const native = runNativeBench({ ...parameters, display: 3, gc: 4 });
      expect(native.head).toBe(expected.head);
      expect({ contents: native.contents, nodes: native.nodes, commits: native.commits }).toEqual({
        contents: expected.contents,
        nodes: expected.nodes,
        commits: expected.commits,
      });
    });
  }
});

describe.runIf(hasGcc)("native store = model on random scripts", () => {
  const SEEDS = 150;
  const LENGTH = 300;
  const scripts = Array.from({ length: SEEDS }, (_, index) => generateScript(index + 1, LENGTH));
  const modelOutputs = scripts.map((lines) => runModelScript(lines));

  it(`agrees on ${SEEDS} scripts of ${LENGTH} operations (trees, commits, branches, merges, history)`, () => {
    // One native process per script keeps failures attributable to a seed.
    for (const [index, lines] of scripts.entries()) {
      const model = modelOutputs[index];
      const run = runNative(["script"], `${lines.join("\n")}\n`);
      expect(run.status, `seed ${index + 1}: ${run.stderr}`).toBe(0);
      const native = run.stdout.trimEnd().split("\n");
      const firstDifference = native.findIndex((line, i) => line !== model[i]);
      expect(
        { seed: index + 1, firstDifference, native: native[firstDifference], model: model[firstDifference] },
      ).toEqual({ seed: index + 1, firstDifference: -1, native: undefined, model: undefined });
      expect(native.length).toBe(model.length);
    }
  });

  it("covers merges, conflicts and criss-cross histories", () => {
    const outputs = modelOutputs.flat();
    const count = (prefix: string): number => outputs.filter((line) => line.startsWith(prefix)).length;
    expect(count("merged ")).toBeGreaterThan(500);
    expect(count("conflict merge conflict at")).toBeGreaterThan(100);
    expect(outputs.filter((line) => /^lcas \S+ \S+/.test(line)).length).toBeGreaterThan(0);
  });
});
