// Edge-biased random values for the oracle's cases: integers of every width, floating-point lanes
// (zeros, infinities, NaNs, denormals, integer-conversion limits), MXCSR and RFLAGS images.

import { Rng } from "../decoder/generate.js";
import { ARITHMETIC_FLAGS, FLAG_DF, FLAG_ID } from "./layout.js";

const mask = (bits: number) => (1n << BigInt(bits)) - 1n;

/** Interesting values of a `bits`-wide integer (as unsigned). */
function edgeInteger(rng: Rng, bits: number): bigint {
  const all = mask(bits);
  const sign = 1n << BigInt(bits - 1);
  switch (rng.below(12)) {
    case 0: return 0n;
    case 1: return 1n;
    case 2: return all; // -1
    case 3: return sign - 1n; // max signed
    case 4: return sign; // min signed
    case 5: return BigInt(rng.below(17)); // small
    case 6: return (all + 1n - BigInt(1 + rng.below(16))) & all; // small negative
    case 7: return 1n << BigInt(rng.below(bits)); // one bit
    case 8: return all ^ (1n << BigInt(rng.below(bits))); // all but one bit
    case 9: { // a narrower edge, zero- or sign-extended
      const narrow = [8, 16, 32].filter((w) => w < bits);
      if (narrow.length === 0) return BigInt(rng.u32()) & all;
      const w = rng.pick(narrow);
      const values = [mask(w - 1), 1n << BigInt(w - 1), mask(w)];
      const v = rng.pick(values);
      return rng.chance(0.5) ? v : BigInt.asUintN(bits, BigInt.asIntN(w, v));
    }
    default: return rng.u64() & all;
  }
}

/** A 64-bit register value whose low 8/16/32/64 bits hold an edge value and whose upper bits are zeros, ones or noise. */
export function gprValue(rng: Rng): bigint {
  const bits = rng.pick([8, 16, 32, 32, 64, 64, 64]);
  const low = edgeInteger(rng, bits);
  if (bits === 64) return low;
  const upperMode = rng.below(5);
  const upper = upperMode < 2 ? 0n : upperMode === 2 ? mask(64 - bits) : rng.u64() & mask(64 - bits);
  return (upper << BigInt(bits)) | low;
}

/** An edge value for an operand of `bytes` bytes (unsigned, exactly that wide). */
export function operandValue(rng: Rng, bytes: number): bigint {
  return edgeInteger(rng, bytes * 8);
}

/** A value whose low `bytes` bytes are `low` and whose upper bytes are noise (or zeros/ones). */
export function withUpperNoise(rng: Rng, low: bigint, bytes: number): bigint {
  if (bytes >= 8) return BigInt.asUintN(64, low);
  const bits = BigInt(bytes * 8);
  const mode = rng.below(3);
  const upper = mode === 0 ? 0n : mode === 1 ? mask(64 - bytes * 8) : rng.u64() & mask(64 - bytes * 8);
  return (upper << bits) | (low & mask(bytes * 8));
}

/** Shift and rotate counts worth trying (masked to 5 or 6 bits by the CPU). */
export const SHIFT_COUNTS = [0, 1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 0xff];
export function shiftCount(rng: Rng): number {
  return rng.chance(0.8) ? rng.pick(SHIFT_COUNTS) : rng.byte();
}

const f32Bits = new Float32Array(1);
const f32View = new Uint32Array(f32Bits.buffer);
const f64Bits = new Float64Array(1);
const f64View = new BigUint64Array(f64Bits.buffer);
const fromF32 = (value: number) => ((f32Bits[0] = value), f32View[0]);
const fromF64 = (value: number) => ((f64Bits[0] = value), f64View[0]);

const F32_SPECIALS = [
  0x0000_0000, 0x8000_0000, 0x7f80_0000, 0xff80_0000, 0x7fc0_0000, 0xffc0_0000, 0x7fc1_2345, 0x7f80_0001, 0x7fa0_0000, 0xff80_0001,
  0x0000_0001, 0x007f_ffff, 0x8000_0001, 0x807f_ffff, 0x0080_0000, 0x8080_0000, 0x7f7f_ffff, 0xff7f_ffff,
  fromF32(1), fromF32(-1), fromF32(0.5), fromF32(1.5), fromF32(2.5), fromF32(-1.5), fromF32(-2.5), fromF32(3),
  fromF32(2 ** 31), fromF32(-(2 ** 31)), fromF32(2 ** 63), fromF32(-(2 ** 63)), fromF32(2 ** 32), fromF32(2 ** 64), 0x4eff_ffff, 0xceff_ffff,
  fromF32(1e-38), fromF32(3.4e38), fromF32(0.1), fromF32(-0.1),
];

const F64_SPECIALS: bigint[] = [
  0n, 0x8000_0000_0000_0000n, 0x7ff0_0000_0000_0000n, 0xfff0_0000_0000_0000n, 0x7ff8_0000_0000_0000n, 0xfff8_0000_0000_0000n,
  0x7ff8_0000_1234_5678n, 0x7ff0_0000_0000_0001n, 0x7ff4_0000_0000_0000n, 0xfff0_0000_0000_0001n,
  1n, 0x000f_ffff_ffff_ffffn, 0x8000_0000_0000_0001n, 0x0010_0000_0000_0000n, 0x7fef_ffff_ffff_ffffn, 0xffef_ffff_ffff_ffffn,
  fromF64(1), fromF64(-1), fromF64(0.5), fromF64(1.5), fromF64(2.5), fromF64(-1.5), fromF64(-2.5), fromF64(3),
  fromF64(2 ** 31), fromF64(2 ** 31 - 1), fromF64(-(2 ** 31)), fromF64(-(2 ** 31) - 1), fromF64(2147483647.5), fromF64(-2147483648.5),
  fromF64(2 ** 63), fromF64(-(2 ** 63)), fromF64(2 ** 64), fromF64(9223372036854774784), fromF64(-9223372036854774784),
  fromF64(1e-40), fromF64(1e-45), fromF64(3.4028235677973366e38), fromF64(3.5e38), fromF64(1.1754942e-38), fromF64(0.1),
];

/** A float32 bit pattern: specials, or normals with exponents clustered so operations interact. */
export function f32Value(rng: Rng): number {
  const r = rng.below(10);
  if (r < 4) return rng.pick(F32_SPECIALS) >>> 0;
  const sign = rng.chance(0.5) ? 0x8000_0000 : 0;
  if (r < 8) return (sign | ((127 - 24 + rng.below(49)) << 23) | (rng.u32() & 0x7f_ffff)) >>> 0;
  if (r < 9) return (sign | (rng.chance(0.5) ? rng.below(3) + 1 : 252 + rng.below(3)) << 23 | (rng.u32() & 0x7f_ffff)) >>> 0;
  return rng.u32();
}

export function f64Value(rng: Rng): bigint {
  const r = rng.below(10);
  if (r < 4) return rng.pick(F64_SPECIALS);
  const sign = rng.chance(0.5) ? 1n << 63n : 0n;
  const mantissa = rng.u64() & 0xf_ffff_ffff_ffffn;
  if (r < 8) return sign | (BigInt(1023 - 53 + rng.below(107)) << 52n) | mantissa;
  if (r < 9) {
    // near the double's denormal and overflow edges, and near float32's (cvtsd2ss, cvtpd2ps)
    const exponent = rng.pick([1, 2, 3, 2044, 2045, 2046, 1023 + 126, 1023 + 127, 1023 + 128, 1023 - 125, 1023 - 126, 1023 - 127, 1023 - 140, 1023 - 149, 1023 - 150]);
    return sign | (BigInt(exponent) << 52n) | mantissa;
  }
  return rng.u64();
}

export type LaneFlavor = "f32" | "f64" | "int";

/** 128 bits as [low, high] with lanes of the given flavor. */
export function xmmValue(rng: Rng, flavor: LaneFlavor): [bigint, bigint] {
  if (flavor === "f32") {
    const lane = () => BigInt(f32Value(rng));
    return [lane() | (lane() << 32n), lane() | (lane() << 32n)];
  }
  if (flavor === "f64") return [f64Value(rng), f64Value(rng)];
  const r = rng.below(6);
  if (r === 0) return [rng.u64(), rng.u64()];
  const laneBits = [8, 16, 32, 64][rng.below(4)];
  const quad = () => {
    let q = 0n;
    for (let at = 0; at < 64; at += laneBits) q |= edgeInteger(rng, laneBits) << BigInt(at);
    return q;
  };
  return [quad(), quad()];
}

/** MXCSR with all exceptions masked, a random rounding mode, sometimes FTZ/DAZ and sticky flags. */
export function mxcsrValue(rng: Rng): number {
  let value = 0x1f80 | (rng.below(4) << 13);
  if (rng.chance(0.2)) value |= 0x8000; // FTZ
  if (rng.chance(0.2)) value |= 0x40; // DAZ
  if (rng.chance(0.3)) value |= rng.below(64); // sticky exception flags
  return value;
}

/** Initial RFLAGS: the reserved bit and IF (always set at CPL 3 on the host), random arithmetic flags and DF. */
export function rflagsValue(rng: Rng): number {
  let value = 0x202 | (rng.u32() & ARITHMETIC_FLAGS);
  if (rng.chance(0.25)) value |= FLAG_DF;
  if (rng.chance(0.05)) value |= FLAG_ID;
  return value;
}

/**
 * A 64-bit image for POPF: any bits except TF and AC (single-stepping and alignment checking would
 * change how the host runs the rest of the case), including bits POPF must ignore at CPL 3.
 */
export function popfImage(rng: Rng): bigint {
  const low = (rng.u32() & ~0x4_0100) >>> 0;
  return (rng.chance(0.5) ? 0n : rng.u64() & 0xffff_ffff_0000_0000n) | BigInt(low);
}
