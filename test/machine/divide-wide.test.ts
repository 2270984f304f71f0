// divideWide (src/machine/interp/semantics/arithmetic.ts), the DIV/IDIV the interpreter and the
// JIT's template share, divides as plain numbers when rDX is rAX's zero or sign extension and both
// operands are at most 2^52, and with BigInt otherwise. The number path must give exactly what
// 128-by-64-bit division gives (computed here with BigInt, as the SDM defines DIV/IDIV): the float
// quotient can land one off near an integer, and the path corrects it. Seeded; DIVIDE_FUZZ_CASES
// runs more.
import { describe, expect, it } from "vitest";
import { CpuException, VEC_DE } from "../../src/machine/cpu-exception.js";
import { divideWide } from "../../src/machine/interp/semantics/arithmetic.js";

const CASES = Number(process.env.DIVIDE_FUZZ_CASES ?? 200_000);

/** What DIV/IDIV of `size` bytes leaves: [quotient, remainder] as unsigned words, or "#DE". */
function reference(signed: boolean, size: number, dividend: bigint, divisor: bigint): [bigint, bigint] | "#DE" {
  const bits = size * 8;
  let a = BigInt.asUintN(2 * bits, dividend), b = BigInt.asUintN(bits, divisor);
  if (b === 0n) return "#DE";
  if (signed) {
    a = BigInt.asIntN(2 * bits, a);
    b = BigInt.asIntN(bits, b);
  }
  const q = a / b, r = a % b;
  const fits = signed ? q === BigInt.asIntN(bits, q) : q === BigInt.asUintN(bits, q);
  return fits ? [BigInt.asUintN(bits, q), BigInt.asUintN(bits, r)] : "#DE";
}

function words(value: bigint): [number, number] {
  return [Number(BigInt.asIntN(32, value)), Number(BigInt.asIntN(32, value >> 32n))];
}

// xorshift64*, fixed seed
let state = 0x2545f4914f6cdd1dn;
function random64(): bigint {
  state ^= state >> 12n;
  state ^= BigInt.asUintN(64, state << 25n);
  state ^= state >> 27n;
  return BigInt.asUintN(64, state * 0x2545f4914f6cdd1dn);
}

/** Values that hit the paths: small, around 2^31/2^32, around 2^52/2^53, negative, random magnitudes. */
function operand(): bigint {
  const r = random64();
  switch (Number(r & 7n)) {
    case 0: return r >> 60n; // tiny
    case 1: return (1n << 52n) + (r >> 62n) - 2n; // around 2^52
    case 2: return (1n << 53n) + (r >> 62n) - 2n;
    case 3: return BigInt.asUintN(64, -(r >> 40n)); // small negative
    case 4: return r >> BigInt(Number((r >> 3n) & 63n)); // any magnitude
    case 5: return BigInt.asUintN(64, -(r >> BigInt(Number((r >> 3n) & 63n))));
    case 6: return (1n << 31n) + (r >> 62n) - 2n;
    default: return r;
  }
}

describe("divideWide: DIV/IDIV of 32 and 64 bits against 128-bit BigInt division", () => {
  it(`${CASES} seeded cases, rDX zero, the sign extension or arbitrary`, () => {
    const out = new Int32Array(4);
    let numberPath = 0;
    for (let k = 0; k < CASES; k++) {
      const size = k & 1 ? 8 : 4;
      const signed = (k & 2) !== 0;
      const mask = size === 8 ? (1n << 64n) - 1n : (1n << 32n) - 1n;
      const low = operand() & mask, divisor = operand() & mask;
      const negative = (low >> BigInt(size * 8 - 1)) & 1n;
      const upper = [0n, negative ? mask : 0n, operand() & mask][(k >> 2) % 3];
      const expected = reference(signed, size, (upper << BigInt(size * 8)) | low, divisor);
      const [aLo, aHi] = words(low), [dLo, dHi] = words(upper), [bLo, bHi] = words(divisor);
      let got: [bigint, bigint] | "#DE";
      try {
        divideWide(signed, size, aLo, aHi, dLo, dHi, bLo, bHi, out);
        const q = (BigInt(out[1] >>> 0) << 32n) | BigInt(out[0] >>> 0), r = (BigInt(out[3] >>> 0) << 32n) | BigInt(out[2] >>> 0);
        got = [q, r];
      } catch (error) {
        if (!(error instanceof CpuException) || error.vector !== VEC_DE) throw error;
        got = "#DE";
      }
      if (upper === 0n || upper === (negative ? mask : 0n)) numberPath++;
      expect(got, `${signed ? "idiv" : "div"} ${size * 8}: ${upper.toString(16)}:${low.toString(16)} / ${divisor.toString(16)}`).toEqual(expected);
    }
    expect(numberPath).toBeGreaterThan(CASES / 2);
  });
});
