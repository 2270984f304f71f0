// Reference RFLAGS arithmetic for the JIT tests' expectations (Intel SDM vol. 1 §3.4.3, appendix A;
// vol. 2 ADD/SUB/CMP): the six status flags after a 64-bit ADD or SUB, in BigInt.
export const CF = 1n << 0n;
export const PF = 1n << 2n;
export const AF = 1n << 4n;
export const ZF = 1n << 6n;
export const SF = 1n << 7n;
export const OF = 1n << 11n;
/** bit 1 of RFLAGS always reads as 1 */
export const RESERVED = 1n << 1n;
export const STATUS_FLAGS = CF | PF | AF | ZF | SF | OF;

const MASK64 = (1n << 64n) - 1n;
const SIGN64 = 1n << 63n;

function common(a: bigint, b: bigint, r: bigint): bigint {
  let flags = 0n;
  if (r === 0n) flags |= ZF;
  if (r & SIGN64) flags |= SF;
  let ones = 0;
  for (let bit = 0n; bit < 8n; bit++) if ((r >> bit) & 1n) ones++;
  if (ones % 2 === 0) flags |= PF;
  if ((a ^ b ^ r) & 0x10n) flags |= AF;
  return flags;
}

/** The status flags of the 64-bit SUB/CMP a - b. */
export function subFlags(a: bigint, b: bigint): bigint {
  a &= MASK64;
  b &= MASK64;
  const r = (a - b) & MASK64;
  let flags = common(a, b, r);
  if (a < b) flags |= CF;
  if ((a ^ b) & (a ^ r) & SIGN64) flags |= OF;
  return flags;
}

/** The status flags of the 64-bit ADD a + b. */
export function addFlags(a: bigint, b: bigint): bigint {
  a &= MASK64;
  b &= MASK64;
  const r = (a + b) & MASK64;
  let flags = common(a, b, r);
  if (a + b > MASK64) flags |= CF;
  if (~(a ^ b) & (a ^ r) & SIGN64) flags |= OF;
  return flags;
}

export function u64(value: bigint): bigint {
  return value & MASK64;
}
