// Exact IEEE-754 binary32/binary64 arithmetic with the SSE rules (Intel SDM vol. 1 §4.8-4.9, §11.5):
// the reference the fast paths in sse-fp.ts fall back to for everything unusual (NaN, infinity,
// denormal operands, results that overflow or underflow, operands outside the range where the
// error-free transformations are exact).
//
// Values are unpacked into BigInt significands, the operation is computed exactly (or, for division
// and square root, to 2p+3 bits plus a sticky bit) and `roundPack` rounds once to the destination
// format under MXCSR's rounding control, flush-to-zero and underflow mask, accumulating the exception
// flags in `fpEnv.flags`. This path allocates (BigInt); it only runs on rare inputs.
//
// The machine-specific choices, each checked against the host CPU by test/machine/sse.test.ts:
// - NaN results: the first source operand's NaN wins (quieted); an SNaN operand raises IE; an
//   invalid operation without NaN operands returns the default QNaN (sign set).
// - Tininess is detected after rounding (with unbounded exponent); with the underflow exception
//   masked UE is set only when the result is also inexact; with FTZ (and UE masked) a tiny result
//   becomes a zero of the same sign and UE and PE are set.
// - DE is set for a denormal operand of an operation that is computed (not when a NaN operand
//   decides the result, not for an invalid operation, not for x/0 with a denormal x; but for
//   infinity*denormal and infinity/denormal); with DAZ denormal operands are zeros and DE is never set.
// (Measured on the AMD EPYC (Zen) test host; not verified on an Intel part.)

export const FLAG_IE = 0x01;
export const FLAG_DE = 0x02;
export const FLAG_ZE = 0x04;
export const FLAG_OE = 0x08;
export const FLAG_UE = 0x10;
export const FLAG_PE = 0x20;

export const RC_NEAREST = 0;
export const RC_DOWN = 1;
export const RC_UP = 2;
export const RC_ZERO = 3;

/** The per-instruction floating-point environment, decoded from MXCSR, and the flags raised so far. */
export const fpEnv = {
  /** rounding control, MXCSR bits 13-14 */
  rc: RC_NEAREST,
  daz: false,
  ftz: false,
  /** MXCSR.UM: the underflow exception is masked */
  underflowMasked: true,
  /** exception flags raised by the current instruction (MXCSR bits 0-5 layout) */
  flags: 0,
};

export interface FloatFormat {
  /** significand precision in bits, the hidden bit included */
  readonly precision: number;
  readonly exponentBits: number;
  readonly bias: number;
  readonly emin: number;
  readonly emax: number;
  readonly totalBits: bigint;
  readonly fractionMask: bigint;
  readonly exponentMask: bigint;
  readonly signBit: bigint;
  readonly quietBit: bigint;
  readonly defaultNaN: bigint;
}

function makeFormat(precision: number, exponentBits: number): FloatFormat {
  const bias = (1 << (exponentBits - 1)) - 1;
  const fractionBits = BigInt(precision - 1);
  const totalBits = BigInt(precision + exponentBits);
  const signBit = 1n << (totalBits - 1n);
  const exponentMask = ((1n << BigInt(exponentBits)) - 1n) << fractionBits;
  return {
    precision, exponentBits, bias, emin: 1 - bias, emax: bias, totalBits,
    fractionMask: (1n << fractionBits) - 1n, exponentMask, signBit, quietBit: 1n << (fractionBits - 1n),
    defaultNaN: signBit | exponentMask | (1n << (fractionBits - 1n)),
  };
}

export const BINARY32 = makeFormat(24, 8);
export const BINARY64 = makeFormat(53, 11);

export const CLASS_ZERO = 0;
export const CLASS_FINITE = 1;
export const CLASS_INFINITY = 2;
export const CLASS_QNAN = 3;
export const CLASS_SNAN = 4;

/** An unpacked operand: |value| = significand * 2^exponent. */
export interface Unpacked {
  kind: number;
  sign: number;
  significand: bigint;
  exponent: number;
  /** a denormal encoding (before DAZ) */
  denormal: boolean;
}

/** Unpacks `bits`, applying DAZ (a denormal becomes a zero of the same sign). Does not raise flags. */
export function unpack(format: FloatFormat, bits: bigint): Unpacked {
  const fractionBits = format.precision - 1;
  const sign = bits & format.signBit ? 1 : 0;
  const biased = Number((bits & format.exponentMask) >> BigInt(fractionBits));
  const fraction = bits & format.fractionMask;
  const maxBiased = (1 << format.exponentBits) - 1;
  if (biased === maxBiased) {
    if (fraction === 0n) return { kind: CLASS_INFINITY, sign, significand: 0n, exponent: 0, denormal: false };
    return { kind: fraction & format.quietBit ? CLASS_QNAN : CLASS_SNAN, sign, significand: fraction, exponent: 0, denormal: false };
  }
  if (biased === 0) {
    if (fraction === 0n) return { kind: CLASS_ZERO, sign, significand: 0n, exponent: 0, denormal: false };
    if (fpEnv.daz) return { kind: CLASS_ZERO, sign, significand: 0n, exponent: 0, denormal: true };
    return { kind: CLASS_FINITE, sign, significand: fraction, exponent: format.emin - fractionBits, denormal: true };
  }
  return {
    kind: CLASS_FINITE, sign, significand: fraction | (1n << BigInt(fractionBits)),
    exponent: biased - format.bias - fractionBits, denormal: false,
  };
}

export function isNaNKind(kind: number): boolean {
  return kind === CLASS_QNAN || kind === CLASS_SNAN;
}

/** Sets DE for denormal operands (DAZ off). */
function denormalCheck(a: Unpacked, b?: Unpacked): void {
  if (fpEnv.daz) return;
  if (a.denormal || (b !== undefined && b.denormal)) fpEnv.flags |= FLAG_DE;
}

/** The NaN result of a two-operand operation with at least one NaN operand. */
function propagateNaN(format: FloatFormat, aBits: bigint, a: Unpacked, bBits: bigint, b: Unpacked): bigint {
  if (a.kind === CLASS_SNAN || b.kind === CLASS_SNAN) fpEnv.flags |= FLAG_IE;
  return (isNaNKind(a.kind) ? aBits : bBits) | format.quietBit;
}

function zero(format: FloatFormat, sign: number): bigint {
  return sign ? format.signBit : 0n;
}

function infinity(format: FloatFormat, sign: number): bigint {
  return (sign ? format.signBit : 0n) | format.exponentMask;
}

function invalid(format: FloatFormat): bigint {
  fpEnv.flags |= FLAG_IE;
  return format.defaultNaN;
}

export function bitLength(value: bigint): number {
  return value === 0n ? 0 : value.toString(2).length;
}

let roundedInexact = false;

/**
 * Rounds significand >> shift to an integer by MXCSR.RC (sticky: nonzero bits below `significand`'s
 * least significant bit, worth less than half of it). Sets roundedInexact.
 */
function roundShift(significand: bigint, shift: number, sticky: boolean, sign: number): bigint {
  if (shift <= 0) {
    roundedInexact = sticky;
    const value = significand << BigInt(-shift);
    if (!sticky) return value;
    const rc = fpEnv.rc;
    return (rc === RC_UP && !sign) || (rc === RC_DOWN && sign) ? value + 1n : value;
  }
  const bigShift = BigInt(shift);
  const quotient = significand >> bigShift;
  const remainder = significand & ((1n << bigShift) - 1n);
  roundedInexact = remainder !== 0n || sticky;
  if (!roundedInexact) return quotient;
  let increment: boolean;
  switch (fpEnv.rc) {
    case RC_NEAREST: {
      const half = 1n << (bigShift - 1n);
      increment = remainder > half || (remainder === half && (sticky || (quotient & 1n) === 1n));
      break;
    }
    case RC_DOWN: increment = sign === 1; break;
    case RC_UP: increment = sign === 0; break;
    default: increment = false;
  }
  return increment ? quotient + 1n : quotient;
}

/**
 * Rounds sign * (significand + sticky) * 2^exponent to `format`: the one rounding step of every
 * operation, with overflow, underflow, FTZ and the precision flag.
 */
export function roundPack(format: FloatFormat, sign: number, significand: bigint, exponent: number, sticky: boolean): bigint {
  const precision = format.precision;
  const length = bitLength(significand);
  if (length === 0 && !sticky) return zero(format, sign);
  // Round to `precision` bits with an unbounded exponent.
  let shift = length - precision;
  let rounded = roundShift(significand, shift, sticky, sign);
  let inexact = roundedInexact;
  if (rounded >> BigInt(precision) !== 0n) {
    rounded >>= 1n;
    shift++;
  }
  const topExponent = exponent + shift + precision - 1;
  if (topExponent > format.emax) {
    fpEnv.flags |= FLAG_OE | FLAG_PE;
    const rc = fpEnv.rc;
    const toInfinity = rc === RC_NEAREST || (rc === RC_UP && !sign) || (rc === RC_DOWN && sign);
    return toInfinity ? infinity(format, sign) : (sign ? format.signBit : 0n) | (format.exponentMask - (1n << BigInt(precision - 1))) | format.fractionMask;
  }
  if (topExponent < format.emin) {
    // Tiny: the delivered result has the denormal quantum 2^(emin - precision + 1).
    const denormalShift = format.emin - precision + 1 - exponent;
    const denormal = roundShift(significand, denormalShift, sticky, sign);
    inexact = roundedInexact;
    if (fpEnv.underflowMasked) {
      if (fpEnv.ftz) {
        fpEnv.flags |= FLAG_UE | FLAG_PE;
        return zero(format, sign);
      }
      if (inexact) fpEnv.flags |= FLAG_UE | FLAG_PE;
    } else {
      fpEnv.flags |= FLAG_UE | (inexact ? FLAG_PE : 0);
    }
    // A denormal that rounded up to 2^emin encodes as the smallest normal by the same formula.
    return (sign ? format.signBit : 0n) | denormal;
  }
  if (inexact) fpEnv.flags |= FLAG_PE;
  return (sign ? format.signBit : 0n) | (BigInt(topExponent + format.bias) << BigInt(precision - 1)) | (rounded & format.fractionMask);
}

// ---- operations ------------------------------------------------------------------------------

export function softAdd(format: FloatFormat, aBits: bigint, bBits: bigint, subtract: boolean): bigint {
  const a = unpack(format, aBits), b = unpack(format, bBits);
  if (isNaNKind(a.kind) || isNaNKind(b.kind)) return propagateNaN(format, aBits, a, bBits, b);
  denormalCheck(a, b);
  const bSign = subtract ? b.sign ^ 1 : b.sign;
  if (a.kind === CLASS_INFINITY || b.kind === CLASS_INFINITY) {
    if (a.kind === CLASS_INFINITY && b.kind === CLASS_INFINITY && a.sign !== bSign) return invalid(format);
    return infinity(format, a.kind === CLASS_INFINITY ? a.sign : bSign);
  }
  if (a.kind === CLASS_ZERO && b.kind === CLASS_ZERO) {
    const sign = fpEnv.rc === RC_DOWN ? a.sign | bSign : a.sign & bSign;
    return zero(format, sign);
  }
  let exponent: number;
  if (a.kind === CLASS_ZERO) exponent = b.exponent;
  else if (b.kind === CLASS_ZERO) exponent = a.exponent;
  else exponent = Math.min(a.exponent, b.exponent);
  const aValue = a.kind === CLASS_ZERO ? 0n : a.significand << BigInt(a.exponent - exponent);
  const bValue = b.kind === CLASS_ZERO ? 0n : b.significand << BigInt(b.exponent - exponent);
  const sum = (a.sign ? -aValue : aValue) + (bSign ? -bValue : bValue);
  if (sum === 0n) return zero(format, fpEnv.rc === RC_DOWN ? 1 : 0);
  return sum < 0n ? roundPack(format, 1, -sum, exponent, false) : roundPack(format, 0, sum, exponent, false);
}

export function softMul(format: FloatFormat, aBits: bigint, bBits: bigint): bigint {
  const a = unpack(format, aBits), b = unpack(format, bBits);
  if (isNaNKind(a.kind) || isNaNKind(b.kind)) return propagateNaN(format, aBits, a, bBits, b);
  const sign = a.sign ^ b.sign;
  if (a.kind === CLASS_INFINITY || b.kind === CLASS_INFINITY) {
    if (a.kind === CLASS_ZERO || b.kind === CLASS_ZERO) return invalid(format);
    denormalCheck(a, b);
    return infinity(format, sign);
  }
  denormalCheck(a, b);
  if (a.kind === CLASS_ZERO || b.kind === CLASS_ZERO) return zero(format, sign);
  return roundPack(format, sign, a.significand * b.significand, a.exponent + b.exponent, false);
}

export function softDiv(format: FloatFormat, aBits: bigint, bBits: bigint): bigint {
  const a = unpack(format, aBits), b = unpack(format, bBits);
  if (isNaNKind(a.kind) || isNaNKind(b.kind)) return propagateNaN(format, aBits, a, bBits, b);
  const sign = a.sign ^ b.sign;
  if (a.kind === CLASS_INFINITY) {
    if (b.kind === CLASS_INFINITY) return invalid(format);
    denormalCheck(b);
    return infinity(format, sign);
  }
  if (b.kind === CLASS_ZERO) {
    if (a.kind === CLASS_ZERO) return invalid(format);
    fpEnv.flags |= FLAG_ZE; // no DE for a denormal dividend
    return infinity(format, sign);
  }
  denormalCheck(a, b);
  if (b.kind === CLASS_INFINITY || a.kind === CLASS_ZERO) return zero(format, sign);
  const extra = 2 * format.precision + 3 + Math.max(0, bitLength(b.significand) - bitLength(a.significand));
  const numerator = a.significand << BigInt(extra);
  const quotient = numerator / b.significand;
  const sticky = quotient * b.significand !== numerator;
  return roundPack(format, sign, quotient, a.exponent - b.exponent - extra, sticky);
}

/** floor(sqrt(n)) for n > 0. */
function integerSqrt(n: bigint): bigint {
  let x = 1n << BigInt((bitLength(n) >> 1) + 1);
  for (;;) {
    const y = (x + n / x) >> 1n;
    if (y >= x) return x;
    x = y;
  }
}

export function softSqrt(format: FloatFormat, aBits: bigint): bigint {
  const a = unpack(format, aBits);
  if (isNaNKind(a.kind)) {
    if (a.kind === CLASS_SNAN) fpEnv.flags |= FLAG_IE;
    return aBits | format.quietBit;
  }
  if (a.kind === CLASS_ZERO) {
    denormalCheck(a);
    return zero(format, a.sign);
  }
  if (a.sign) return invalid(format);
  if (a.kind === CLASS_INFINITY) return aBits;
  denormalCheck(a);
  // significand * 2^exponent with an even exponent and at least 2p+4 bits under the root.
  let shift = Math.max(0, 2 * format.precision + 4 - bitLength(a.significand));
  if ((a.exponent - shift) & 1) shift++;
  const radicand = a.significand << BigInt(shift);
  const root = integerSqrt(radicand);
  return roundPack(format, 0, root, (a.exponent - shift) / 2, root * root !== radicand);
}

/** Converts between the two formats (CVTSS2SD, CVTSD2SS and their packed forms). */
export function softConvert(from: FloatFormat, to: FloatFormat, bits: bigint): bigint {
  const a = unpack(from, bits);
  if (isNaNKind(a.kind)) {
    if (a.kind === CLASS_SNAN) fpEnv.flags |= FLAG_IE;
    // The payload keeps its most significant bits.
    const fromFraction = BigInt(from.precision - 1), toFraction = BigInt(to.precision - 1);
    const fraction = bits & from.fractionMask;
    const payload = toFraction >= fromFraction ? fraction << (toFraction - fromFraction) : fraction >> (fromFraction - toFraction);
    return (a.sign ? to.signBit : 0n) | to.exponentMask | to.quietBit | payload;
  }
  if (a.kind === CLASS_INFINITY) return infinity(to, a.sign);
  denormalCheck(a);
  if (a.kind === CLASS_ZERO) return zero(to, a.sign);
  return roundPack(to, a.sign, a.significand, a.exponent, false);
}

// ---- bit-pattern helpers ------------------------------------------------------------------------

export function bits64(lo: number, hi: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

export function bits32(value: number): bigint {
  return BigInt(value >>> 0);
}

/** The low 32 bits of a BigInt bit pattern as an int32. */
export function lowWord(bits: bigint): number {
  return Number(bits & 0xffffffffn) | 0;
}

/** Bits 63..32 of a BigInt bit pattern as an int32. */
export function highWord(bits: bigint): number {
  return Number((bits >> 32n) & 0xffffffffn) | 0;
}
