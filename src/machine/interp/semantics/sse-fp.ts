// SSE/SSE2 floating point, one element at a time on the staging lanes (sse-lanes.ts): element i of
// A (first source) and B (second source) gives element i of R. Every function is bit-exact with the
// hardware under MXCSR (rounding control, FTZ, DAZ) and ORs the exception flags it raises into
// fpEnv.flags.
//
// Fast path: operands that are normal numbers or zeros and results well inside the normal range are
// computed with JS double arithmetic, which rounds to nearest. Directed rounding and the precision
// flag need the sign of the rounding error, which error-free transformations give exactly:
//   add/sub: TwoSum (Knuth) — the error of a+b is itself a double;
//   mul:     TwoProduct (Dekker, Veltkamp splitting) — a*b = p + e exactly;
//   div:     the residual a - q*b, exact via TwoProduct (its sign, times b's, is the error's sign);
//   sqrt:    the residual a - q*q, likewise.
// A binary32 operation is computed in double (exact for mul; for the others q is the double nearest
// the exact result x) and `finalize32` rounds (q, sign(x - q)) to single by RC, handling the
// double-rounding case (q exactly halfway between two floats) from the error's sign. Once the
// sticky PE flag is set and RC is round-to-nearest (the steady state of most programs), the error
// is not needed at all: the double result rounded by a Float32Array store is the answer (double
// rounding is innocuous for +, -, *, /, sqrt of binary32 operands since 53 >= 2*24 + 2).
// Everything else (NaN, infinity, denormal operands, overflow, underflow, operands outside the
// range where the transformations are exact) goes to softfloat.ts, the exact BigInt reference.
import { A, B, F32, F64, I32, R } from "./sse-lanes.js";
import {
  BINARY32, BINARY64, FLAG_DE, FLAG_IE, FLAG_PE, RC_DOWN, RC_NEAREST, RC_UP, RC_ZERO, bits32, bits64, fpEnv, highWord,
  lowWord, softAdd, softConvert, softDiv, softMul, softSqrt,
} from "./softfloat.js";

const TWO_M125 = 2 ** -125;
const TWO_127 = 2 ** 127;
const TWO_M1021 = 2 ** -1021;
const TWO_M960 = 2 ** -960;
const TWO_995 = 2 ** 995;
const TWO_1023 = 2 ** 1023;
const TWO_1020 = 2 ** 1020;
const TWO_32 = 4294967296;
const TWO_31 = 2147483648;
const TWO_63 = 2 ** 63;

/** PE is already set and RC is round-to-nearest: the rounding error's sign is not needed. */
let fastNearest = false;

/** Loads the environment from MXCSR and clears the per-instruction flags. */
export function beginFp(mxcsr: number): void {
  fpEnv.rc = (mxcsr >> 13) & 3;
  fpEnv.daz = (mxcsr & 0x40) !== 0;
  fpEnv.ftz = (mxcsr & 0x8000) !== 0;
  fpEnv.underflowMasked = (mxcsr & 0x800) !== 0;
  fpEnv.flags = 0;
  fastNearest = (mxcsr & 0x6020) === 0x20;
}

// ---- classification on bit patterns --------------------------------------------------------------

/** A normal number or a zero (not a denormal, infinity or NaN). */
function ordinary32(bits: number): boolean {
  const exponent = (bits >>> 23) & 0xff;
  return (exponent !== 0 && exponent !== 0xff) || (bits & 0x7fffffff) === 0;
}

function ordinary64(lo: number, hi: number): boolean {
  const exponent = (hi >>> 20) & 0x7ff;
  return (exponent !== 0 && exponent !== 0x7ff) || ((hi & 0x7fffffff) | lo) === 0;
}

function isNaN32(bits: number): boolean {
  return (bits & 0x7fffffff) > 0x7f800000;
}

function isSNaN32(bits: number): boolean {
  return isNaN32(bits) && (bits & 0x00400000) === 0;
}

function isNaN64(lo: number, hi: number): boolean {
  const magnitude = hi & 0x7fffffff;
  return magnitude > 0x7ff00000 || (magnitude === 0x7ff00000 && lo !== 0);
}

function isSNaN64(lo: number, hi: number): boolean {
  return isNaN64(lo, hi) && (hi & 0x00080000) === 0;
}

function isDenormal32(bits: number): boolean {
  return (bits & 0x7f800000) === 0 && (bits & 0x007fffff) !== 0;
}

function isDenormal64(lo: number, hi: number): boolean {
  return (hi & 0x7ff00000) === 0 && ((hi & 0x000fffff) | lo) !== 0;
}

// ---- rounding a double (with the sign of its error) to the destination format -------------------

const scratch = new ArrayBuffer(8);
const scratchF32 = new Float32Array(scratch);
const scratchI32 = new Int32Array(scratch);
const scratchF64 = new Float64Array(scratch);

/** The float next to nonzero finite `value` in direction `direction` (+1 up, -1 down). */
function neighbor32(value: number, direction: number): number {
  scratchF32[0] = value;
  scratchI32[0] += (value > 0) === (direction > 0) ? 1 : -1;
  return scratchF32[0];
}

function neighbor64(value: number, direction: number): number {
  scratchF64[0] = value;
  if ((value > 0) === (direction > 0)) {
    const lo = (scratchI32[0] + 1) | 0;
    scratchI32[0] = lo;
    if (lo === 0) scratchI32[1]++;
  } else {
    if (scratchI32[0] === 0) scratchI32[1]--;
    scratchI32[0] = (scratchI32[0] - 1) | 0;
  }
  return scratchF64[0];
}

/**
 * Rounds the exact result x, given as q (a double: x itself, or the double nearest x) and `error`
 * (any number with the sign of x - q), to single precision into F32[index]. Requires q = 0 with no
 * error, or 2^-125 <= |q| < 2^127 (no overflow or underflow possible).
 */
function finalize32(index: number, q: number, error: number): void {
  F32[index] = q;
  const r = F32[index];
  if (r === q) {
    if (error === 0) return;
    fpEnv.flags |= FLAG_PE;
    if (fpEnv.rc !== RC_NEAREST) directed32(index, r, error > 0 ? 1 : -1);
    return;
  }
  fpEnv.flags |= FLAG_PE;
  const direction = q > r ? 1 : -1;
  if (fpEnv.rc === RC_NEAREST) {
    // q halfway between two floats: the error decides (no error: the Float32Array store's tie to even).
    if (error !== 0) {
      const other = neighbor32(r, direction);
      if (q === (r + other) / 2 && (error > 0) === (direction > 0)) F32[index] = other;
    }
    return;
  }
  directed32(index, r, direction);
}

/** Directed rounding of an x lying strictly between float r and its neighbor in `direction`. */
function directed32(index: number, r: number, direction: number): void {
  const other = neighbor32(r, direction);
  const lower = direction > 0 ? r : other;
  const upper = direction > 0 ? other : r;
  const rc = fpEnv.rc;
  F32[index] = rc === RC_DOWN ? lower : rc === RC_UP ? upper : r > 0 ? lower : upper;
}

/**
 * Rounds x = q + (something with the sign of `error`, less than half an ulp of q) to F64[index].
 * Requires q = 0 with no error, or 2^-1021 <= |q| < 2^1023.
 */
function finalize64(index: number, q: number, error: number): void {
  F64[index] = q;
  if (error === 0) return;
  fpEnv.flags |= FLAG_PE;
  const rc = fpEnv.rc;
  if (rc === RC_NEAREST) return;
  const direction = error > 0 ? 1 : -1;
  const other = neighbor64(q, direction);
  const lower = direction > 0 ? q : other;
  const upper = direction > 0 ? other : q;
  F64[index] = rc === RC_DOWN ? lower : rc === RC_UP ? upper : q > 0 ? lower : upper;
}

// ---- error-free transformations ---------------------------------------------------------------

const SPLITTER = 134217729; // 2^27 + 1

/** The exact error of the rounded product p = fl(x*y): x*y - p (|x|, |y| < 2^995, no underflow). */
function productError(x: number, y: number, p: number): number {
  let t = SPLITTER * x;
  const xHi = t - (t - x);
  const xLo = x - xHi;
  t = SPLITTER * y;
  const yHi = t - (t - y);
  const yLo = y - yHi;
  return xHi * yHi - p + xHi * yLo + xLo * yHi + xLo * yLo;
}

/** The sign of a - (q*y) as -1/0/1, exactly (q*y close to a). */
function residualSign(a: number, q: number, y: number): number {
  const p = q * y;
  const e = productError(q, y, p);
  const d = a - p; // exact: p is within a few ulps of a (Sterbenz)
  return d > e ? 1 : d < e ? -1 : 0;
}

// ---- binary32 arithmetic -----------------------------------------------------------------------

/** Sign of an exact zero sum a + b (a, b with their signs, b already negated for subtraction). */
function zeroSumNegative(a: number, aNegative: boolean, b: number, bNegative: boolean): boolean {
  const bothZero = a === 0 && b === 0;
  return fpEnv.rc === RC_DOWN ? !bothZero || aNegative || bNegative : bothZero && aNegative && bNegative;
}

export function addSub32(i: number, subtract: boolean): void {
  const aBits = I32[A + i], bBits = I32[B + i];
  if (ordinary32(aBits) && ordinary32(bBits)) {
    const a = F32[A + i];
    const b = subtract ? -F32[B + i] : F32[B + i];
    const q = a + b;
    const magnitude = Math.abs(q);
    if (magnitude >= TWO_M125 && magnitude < TWO_127) {
      if (fastNearest) {
        F32[R + i] = q;
      } else {
        const bVirtual = q - a;
        finalize32(R + i, q, a - (q - bVirtual) + (b - bVirtual));
      }
      return;
    }
    if (q === 0) {
      I32[R + i] = zeroSumNegative(a, aBits < 0, b, (bBits < 0) !== subtract) ? 0x80000000 | 0 : 0;
      return;
    }
  }
  I32[R + i] = lowWord(softAdd(BINARY32, bits32(aBits), bits32(bBits), subtract));
}

export function mul32(i: number): void {
  const aBits = I32[A + i], bBits = I32[B + i];
  if (ordinary32(aBits) && ordinary32(bBits)) {
    const q = F32[A + i] * F32[B + i]; // exact in double
    const magnitude = Math.abs(q);
    if (magnitude >= TWO_M125 && magnitude < TWO_127) {
      if (fastNearest) F32[R + i] = q;
      else finalize32(R + i, q, 0);
      return;
    }
    if (q === 0) {
      F32[R + i] = q; // a zero operand: exact, sign by the signs
      return;
    }
  }
  I32[R + i] = lowWord(softMul(BINARY32, bits32(aBits), bits32(bBits)));
}

export function div32(i: number): void {
  const aBits = I32[A + i], bBits = I32[B + i];
  if (ordinary32(aBits) && ordinary32(bBits) && (bBits & 0x7fffffff) !== 0) {
    const a = F32[A + i], b = F32[B + i];
    const q = a / b;
    const magnitude = Math.abs(q);
    if (magnitude >= TWO_M125 && magnitude < TWO_127) {
      if (fastNearest) F32[R + i] = q;
      else finalize32(R + i, q, b > 0 ? residualSign(a, q, b) : -residualSign(a, q, b));
      return;
    }
    if (a === 0) {
      F32[R + i] = q;
      return;
    }
  }
  I32[R + i] = lowWord(softDiv(BINARY32, bits32(aBits), bits32(bBits)));
}

/** R[i] = sqrt(B[i]) */
export function sqrt32(i: number): void {
  const bBits = I32[B + i];
  if (ordinary32(bBits) && bBits >= 0) {
    const b = F32[B + i];
    if (b === 0) {
      I32[R + i] = bBits;
      return;
    }
    const q = Math.sqrt(b);
    if (fastNearest) F32[R + i] = q;
    else finalize32(R + i, q, residualSign(b, q, q));
    return;
  }
  I32[R + i] = lowWord(softSqrt(BINARY32, bits32(bBits)));
}

// ---- binary64 arithmetic -----------------------------------------------------------------------

export function addSub64(i: number, subtract: boolean): void {
  const aLo = I32[A + 2 * i], aHi = I32[A + 2 * i + 1], bLo = I32[B + 2 * i], bHi = I32[B + 2 * i + 1];
  if (ordinary64(aLo, aHi) && ordinary64(bLo, bHi)) {
    const a = F64[A / 2 + i];
    const b = subtract ? -F64[B / 2 + i] : F64[B / 2 + i];
    const q = a + b;
    const magnitude = Math.abs(q);
    if (magnitude >= TWO_M1021 && magnitude < TWO_1023) {
      if (fastNearest) {
        F64[R / 2 + i] = q;
      } else {
        const bVirtual = q - a;
        finalize64(R / 2 + i, q, a - (q - bVirtual) + (b - bVirtual));
      }
      return;
    }
    if (q === 0) {
      I32[R + 2 * i] = 0;
      I32[R + 2 * i + 1] = zeroSumNegative(a, aHi < 0, b, (bHi < 0) !== subtract) ? 0x80000000 | 0 : 0;
      return;
    }
  }
  store64(i, softAdd(BINARY64, bits64(aLo, aHi), bits64(bLo, bHi), subtract));
}

export function mul64(i: number): void {
  const aLo = I32[A + 2 * i], aHi = I32[A + 2 * i + 1], bLo = I32[B + 2 * i], bHi = I32[B + 2 * i + 1];
  if (ordinary64(aLo, aHi) && ordinary64(bLo, bHi)) {
    const a = F64[A / 2 + i], b = F64[B / 2 + i];
    const q = a * b;
    const magnitude = Math.abs(q);
    if (fastNearest ? magnitude >= TWO_M1021 && magnitude < TWO_1023
      : magnitude >= TWO_M960 && magnitude < TWO_1023 && Math.abs(a) < TWO_995 && Math.abs(b) < TWO_995) {
      if (fastNearest) F64[R / 2 + i] = q;
      else finalize64(R / 2 + i, q, productError(a, b, q));
      return;
    }
    if (a === 0 || b === 0) {
      F64[R / 2 + i] = q;
      return;
    }
  }
  store64(i, softMul(BINARY64, bits64(aLo, aHi), bits64(bLo, bHi)));
}

export function div64(i: number): void {
  const aLo = I32[A + 2 * i], aHi = I32[A + 2 * i + 1], bLo = I32[B + 2 * i], bHi = I32[B + 2 * i + 1];
  if (ordinary64(aLo, aHi) && ordinary64(bLo, bHi) && ((bHi & 0x7fffffff) | bLo) !== 0) {
    const a = F64[A / 2 + i], b = F64[B / 2 + i];
    const q = a / b;
    const magnitude = Math.abs(q);
    if (fastNearest ? magnitude >= TWO_M1021 && magnitude < TWO_1023
      : magnitude >= TWO_M960 && magnitude < TWO_995 && Math.abs(a) >= TWO_M960 && Math.abs(a) < TWO_1020 && Math.abs(b) < TWO_995) {
      if (fastNearest) F64[R / 2 + i] = q;
      else finalize64(R / 2 + i, q, b > 0 ? residualSign(a, q, b) : -residualSign(a, q, b));
      return;
    }
    if (a === 0) {
      F64[R / 2 + i] = q;
      return;
    }
  }
  store64(i, softDiv(BINARY64, bits64(aLo, aHi), bits64(bLo, bHi)));
}

export function sqrt64(i: number): void {
  const bLo = I32[B + 2 * i], bHi = I32[B + 2 * i + 1];
  if (ordinary64(bLo, bHi) && bHi >= 0) {
    const b = F64[B / 2 + i];
    if (b === 0) {
      I32[R + 2 * i] = bLo;
      I32[R + 2 * i + 1] = bHi;
      return;
    }
    if (fastNearest || (b >= TWO_M960 && b < TWO_1020)) {
      const q = Math.sqrt(b); // q*q must not overflow in the residual
      if (fastNearest) F64[R / 2 + i] = q;
      else finalize64(R / 2 + i, q, residualSign(b, q, q));
      return;
    }
  }
  store64(i, softSqrt(BINARY64, bits64(bLo, bHi)));
}

function store64(i: number, bits: bigint): void {
  I32[R + 2 * i] = lowWord(bits);
  I32[R + 2 * i + 1] = highWord(bits);
}

// ---- MIN/MAX -----------------------------------------------------------------------------------
// Either operand a NaN (even a QNaN: IE), or both zeros of any sign: the second operand. A denormal
// operand raises DE, or with DAZ counts (and is returned) as a zero of its sign.

export function minMax32(i: number, max: boolean): void {
  let aBits = I32[A + i], bBits = I32[B + i];
  if (fpEnv.daz) {
    if (isDenormal32(aBits)) aBits &= 0x80000000;
    if (isDenormal32(bBits)) bBits &= 0x80000000;
  }
  if (isNaN32(aBits) || isNaN32(bBits)) {
    fpEnv.flags |= FLAG_IE;
    I32[R + i] = bBits;
    return;
  }
  if (isDenormal32(aBits) || isDenormal32(bBits)) fpEnv.flags |= FLAG_DE;
  const a = (aBits & 0x7fffffff) === 0 ? 0 : F32[A + i];
  const b = (bBits & 0x7fffffff) === 0 ? 0 : F32[B + i];
  I32[R + i] = (max ? a > b : a < b) ? aBits : bBits;
}

export function minMax64(i: number, max: boolean): void {
  let aLo = I32[A + 2 * i], bLo = I32[B + 2 * i];
  let aHi = I32[A + 2 * i + 1], bHi = I32[B + 2 * i + 1];
  let aZeroed = false, bZeroed = false;
  if (fpEnv.daz) {
    if (isDenormal64(aLo, aHi)) { aLo = 0; aHi &= 0x80000000; aZeroed = true; }
    if (isDenormal64(bLo, bHi)) { bLo = 0; bHi &= 0x80000000; bZeroed = true; }
  }
  if (isNaN64(aLo, aHi) || isNaN64(bLo, bHi)) {
    fpEnv.flags |= FLAG_IE;
    I32[R + 2 * i] = bLo;
    I32[R + 2 * i + 1] = bHi;
    return;
  }
  if (isDenormal64(aLo, aHi) || isDenormal64(bLo, bHi)) fpEnv.flags |= FLAG_DE;
  const a = aZeroed ? 0 : F64[A / 2 + i];
  const b = bZeroed ? 0 : F64[B / 2 + i];
  if (max ? a > b : a < b) {
    I32[R + 2 * i] = aLo;
    I32[R + 2 * i + 1] = aHi;
  } else {
    I32[R + 2 * i] = bLo;
    I32[R + 2 * i + 1] = bHi;
  }
}

// ---- comparisons -------------------------------------------------------------------------------

/** Result of the last compare: 0 unordered, 1 less, 2 equal, 3 greater. */
export const UNORDERED = 0, LESS = 1, EQUAL = 2, GREATER = 3;

/**
 * Compares A[i] with B[i] (binary32). `signaling`: a QNaN operand raises IE too (COMISS, and the
 * LT/LE/NLT/NLE predicates); an SNaN always does.
 */
export function compare32(i: number, signaling: boolean): number {
  const aBits = I32[A + i], bBits = I32[B + i];
  if (isNaN32(aBits) || isNaN32(bBits)) {
    if (signaling || isSNaN32(aBits) || isSNaN32(bBits)) fpEnv.flags |= FLAG_IE;
    return UNORDERED;
  }
  let a = F32[A + i], b = F32[B + i];
  if (isDenormal32(aBits)) {
    if (fpEnv.daz) a = 0; else fpEnv.flags |= FLAG_DE;
  }
  if (isDenormal32(bBits)) {
    if (fpEnv.daz) b = 0; else fpEnv.flags |= FLAG_DE;
  }
  return a < b ? LESS : a > b ? GREATER : EQUAL;
}

export function compare64(i: number, signaling: boolean): number {
  const aLo = I32[A + 2 * i], aHi = I32[A + 2 * i + 1], bLo = I32[B + 2 * i], bHi = I32[B + 2 * i + 1];
  if (isNaN64(aLo, aHi) || isNaN64(bLo, bHi)) {
    if (signaling || isSNaN64(aLo, aHi) || isSNaN64(bLo, bHi)) fpEnv.flags |= FLAG_IE;
    return UNORDERED;
  }
  let a = F64[A / 2 + i], b = F64[B / 2 + i];
  if (isDenormal64(aLo, aHi)) {
    if (fpEnv.daz) a = 0; else fpEnv.flags |= FLAG_DE;
  }
  if (isDenormal64(bLo, bHi)) {
    if (fpEnv.daz) b = 0; else fpEnv.flags |= FLAG_DE;
  }
  return a < b ? LESS : a > b ? GREATER : EQUAL;
}

/** CMPPS/CMPSS predicate imm8[2:0] applied to a compare result (all ones when true). */
export function predicate(relation: number, imm: number): number {
  let result: boolean;
  switch (imm & 3) {
    case 0: result = relation === EQUAL; break;
    case 1: result = relation === LESS; break;
    case 2: result = relation === LESS || relation === EQUAL; break;
    default: result = relation === UNORDERED; break;
  }
  return (imm & 4 ? !result : result) ? -1 : 0;
}

/** Predicates 1, 2, 5, 6 (LT, LE, NLT, NLE) signal on QNaN operands. */
export function predicateSignals(imm: number): boolean {
  const low = imm & 3;
  return low === 1 || low === 2;
}

// ---- conversions between the float formats -----------------------------------------------------

/** R.f64[i] = B.f32[j] */
export function float32To64(i: number, j: number): void {
  const bits = I32[B + j];
  if (ordinary32(bits)) {
    F64[R / 2 + i] = F32[B + j];
    return;
  }
  store64(i, softConvert(BINARY32, BINARY64, bits32(bits)));
}

/** R.f32[i] = B.f64[j] */
export function float64To32(i: number, j: number): void {
  const lo = I32[B + 2 * j], hi = I32[B + 2 * j + 1];
  if (ordinary64(lo, hi)) {
    const value = F64[B / 2 + j];
    const magnitude = Math.abs(value);
    if (value === 0 || (magnitude >= TWO_M125 && magnitude < TWO_127)) {
      if (fastNearest) F32[R + i] = value;
      else finalize32(R + i, value, 0);
      return;
    }
  }
  I32[R + i] = lowWord(softConvert(BINARY64, BINARY32, bits64(lo, hi)));
}

// ---- integer <-> float -------------------------------------------------------------------------

/** R.f32[i] = a signed integer given as value (exact, |value| < 2^53) or hi*2^32 + (lo unsigned). */
export function int32ToFloat32(i: number, value: number): void {
  if (fastNearest) F32[R + i] = value;
  else finalize32(R + i, value, 0);
}

export function int64ToFloat32(i: number, lo: number, hi: number): void {
  const high = hi * TWO_32, low = lo >>> 0;
  const q = high + low;
  const lowVirtual = q - high;
  finalize32(R + i, q, high - (q - lowVirtual) + (low - lowVirtual));
}

export function int64ToFloat64(i: number, lo: number, hi: number): void {
  const high = hi * TWO_32, low = lo >>> 0;
  const q = high + low;
  const lowVirtual = q - high;
  finalize64(R / 2 + i, q, high - (q - lowVirtual) + (low - lowVirtual));
}

/** The value of a binary32 bit pattern for integer conversion (NaN for NaN; DAZ applied). */
export function float32Value(index: number): number {
  const bits = I32[index];
  if (isNaN32(bits)) return NaN;
  if (fpEnv.daz && isDenormal32(bits)) return 0;
  return F32[index];
}

/** The value of the binary64 at dword index `index` for integer conversion. */
export function float64Value(index: number): number {
  const lo = I32[index], hi = I32[index + 1];
  if (isNaN64(lo, hi)) return NaN;
  if (fpEnv.daz && isDenormal64(lo, hi)) return 0;
  return F64[index >> 1];
}

/** Rounds to an integral value by RC (or toward zero), raising nothing. */
function roundIntegral(value: number, truncate: boolean): number {
  const rc = truncate ? RC_ZERO : fpEnv.rc;
  switch (rc) {
    case RC_ZERO: return Math.trunc(value);
    case RC_DOWN: return Math.floor(value);
    case RC_UP: return Math.ceil(value);
  }
  const floor = Math.floor(value);
  const fraction = value - floor; // exact
  if (fraction > 0.5) return floor + 1;
  if (fraction < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/** Converts to int32 (the integer indefinite 0x80000000 with IE when NaN or out of range). */
export function toInt32(value: number, truncate: boolean): number {
  const rounded = roundIntegral(value, truncate);
  if (!(rounded >= -TWO_31 && rounded < TWO_31)) {
    fpEnv.flags |= FLAG_IE;
    return 0x80000000 | 0;
  }
  if (rounded !== value) fpEnv.flags |= FLAG_PE;
  return rounded | 0;
}

/** Converts to int64: returns the low half, `int64High` gets the high half. */
export let int64High = 0;
export function toInt64(value: number, truncate: boolean): number {
  const rounded = roundIntegral(value, truncate);
  if (!(rounded >= -TWO_63 && rounded < TWO_63)) {
    fpEnv.flags |= FLAG_IE;
    int64High = 0x80000000 | 0;
    return 0;
  }
  if (rounded !== value) fpEnv.flags |= FLAG_PE;
  const high = Math.floor(rounded / TWO_32);
  int64High = high | 0;
  return (rounded - high * TWO_32) | 0;
}

// ---- RCP and RSQRT -----------------------------------------------------------------------------
// Approximations whose exact bits differ between Intel and AMD parts (and between generations).
// This machine returns the exact reciprocal (or reciprocal square root) rounded to nearest to 12
// fraction bits: relative error <= 2^-13, within the SDM's bound of 1.5 * 2^-12. Special values as
// the SDM specifies: +-0 and denormals give +-infinity, +-infinity gives +-0, tiny results are
// flushed to zero, negative nonzero RSQRT operands give the default NaN, NaNs are quieted. No
// exception flags are raised. Differential tests must not compare these bit-exactly.

function approximate12(value: number): number {
  // Round the binary32 nearest `value` to 12 fraction bits (in the integer domain: exact).
  scratchF32[0] = value;
  const bits = scratchI32[0];
  const rounded = (bits + 0x400) & ~0x7ff;
  return rounded;
}

/** The RCP/RSQRT result bits for binary32 bits `bits`. */
export function reciprocal32(bits: number, squareRoot: boolean): number {
  if (isNaN32(bits)) return bits | 0x00400000;
  const negative = bits < 0;
  const magnitudeBits = bits & 0x7fffffff;
  if (magnitudeBits === 0x7f800000) return squareRoot && negative ? (0xffc00000 | 0) : bits & 0x80000000;
  if ((magnitudeBits & 0x7f800000) === 0) return (bits & 0x80000000) | 0x7f800000; // zero or denormal
  if (squareRoot && negative) return 0xffc00000 | 0;
  scratchI32[0] = magnitudeBits;
  const magnitude = scratchF32[0];
  const approximation = squareRoot ? 1 / Math.sqrt(magnitude) : 1 / magnitude;
  if (approximation < 2 ** -126) return bits & 0x80000000; // tiny results are flushed to zero
  return approximate12(approximation) | (bits & 0x80000000);
}
