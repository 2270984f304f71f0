// BLAKE2b of the store (src/libos/irmin/blake2b.c) against RFC 7693 and node:crypto.

import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { hasGcc, runNative } from "./native.js";
import { random } from "./script.js";

/** RFC 7693 appendix A: BLAKE2b-512("abc"). */
const RFC_ABC =
  "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1" +
  "7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923";

const nodeBlake2b = (data: Uint8Array): string => createHash("blake2b512").update(data).digest("hex");

/** Frames for `native hash`: [u32 LE length][bytes] each. */
function frames(inputs: readonly Buffer[]): Buffer {
  return Buffer.concat(
    inputs.flatMap((input) => {
      const header = Buffer.alloc(4);
      header.writeUInt32LE(input.length);
      return [header, input];
    }),
  );
}

function randomInputs(seed: number): Buffer[] {
  const next = random(seed);
  const lengths: number[] = [];
  for (let length = 0; length <= 520; length++) lengths.push(length); // every length over four blocks
  for (const block of [1, 2, 3, 7, 8, 16, 64]) lengths.push(128 * block - 1, 128 * block, 128 * block + 1);
  for (let i = 0; i < 40; i++) lengths.push(Math.floor(next() * 70_000));
  lengths.push(1 << 20);
  return lengths.map((length) => {
    const bytes = Buffer.alloc(length);
    for (let i = 0; i < length; i++) bytes[i] = Math.floor(next() * 256);
    return bytes;
  });
}

describe("BLAKE2b-512 reference (node:crypto)", () => {
  it('agrees with RFC 7693 appendix A on "abc"', () => {
    expect(nodeBlake2b(Buffer.from("abc"))).toBe(RFC_ABC);
  });
});

describe.runIf(hasGcc)("BLAKE2b in the store (native build)", () => {
  it("passes the RFC 7693 vectors (appendix A and the appendix E self-test, keyed and unkeyed)", () => {
    const run = runNative(["selftest"]);
    expect(run.stdout).toBe("selftest ok\n");
    expect(run.status).toBe(0);
  });

  it('hashes "abc" to the RFC 7693 digest', () => {
    const run = runNative(["hash"], frames([Buffer.from("abc")]));
    expect(run.stdout.trim()).toBe(RFC_ABC);
  });

  it("equals node:crypto's blake2b512 on random inputs of many lengths, in one piece and in chunks", () => {
    const inputs = randomInputs(0x5eed);
    const run = runNative(["hash"], frames(inputs));
    expect(run.status).toBe(0);
    const digests = run.stdout.trimEnd().split("\n");
    expect(digests).toHaveLength(inputs.length);
    const mismatches = inputs
      .map((input, index) => ({ length: input.length, native: digests[index], node: nodeBlake2b(input) }))
      .filter((row) => row.native !== row.node);
    expect(mismatches).toEqual([]);
  });
});
