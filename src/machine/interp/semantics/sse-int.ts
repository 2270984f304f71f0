// SSE2 packed-integer operations on the staging lanes (sse-lanes.ts): R = op(A, B) for the
// 128-bit forms "66 0F xx /r  Vx,Wx". Shift counts come from B's low quadword (or an immediate).
import { A, B, I16, I32, I8, R, U16, U32, U8 } from "./sse-lanes.js";

/** A lane operation: fills R from A and B (the shifts by immediate pass the count). */
export type LaneOp = (count: number) => void;

// Lane bases per view.
const A8 = A * 4, B8 = B * 4, R8 = R * 4;
const A16 = A * 2, B16 = B * 2, R16 = R * 2;

function clampSigned8(value: number): number {
  return value > 127 ? 127 : value < -128 ? -128 : value;
}
function clampUnsigned8(value: number): number {
  return value > 255 ? 255 : value < 0 ? 0 : value;
}
function clampSigned16(value: number): number {
  return value > 32767 ? 32767 : value < -32768 ? -32768 : value;
}
function clampUnsigned16(value: number): number {
  return value > 65535 ? 65535 : value < 0 ? 0 : value;
}

// ---- add / subtract ----------------------------------------------------------------------------

function paddb(): void { for (let i = 0; i < 16; i++) U8[R8 + i] = U8[A8 + i] + U8[B8 + i]; }
function paddw(): void { for (let i = 0; i < 8; i++) U16[R16 + i] = U16[A16 + i] + U16[B16 + i]; }
function paddd(): void { for (let i = 0; i < 4; i++) I32[R + i] = (I32[A + i] + I32[B + i]) | 0; }
function paddq(): void {
  for (let q = 0; q < 2; q++) {
    const lo = U32[A + 2 * q] + U32[B + 2 * q];
    I32[R + 2 * q] = lo | 0;
    I32[R + 2 * q + 1] = (I32[A + 2 * q + 1] + I32[B + 2 * q + 1] + (lo > 0xffffffff ? 1 : 0)) | 0;
  }
}
function psubb(): void { for (let i = 0; i < 16; i++) U8[R8 + i] = U8[A8 + i] - U8[B8 + i]; }
function psubw(): void { for (let i = 0; i < 8; i++) U16[R16 + i] = U16[A16 + i] - U16[B16 + i]; }
function psubd(): void { for (let i = 0; i < 4; i++) I32[R + i] = (I32[A + i] - I32[B + i]) | 0; }
function psubq(): void {
  for (let q = 0; q < 2; q++) {
    const aLo = U32[A + 2 * q], bLo = U32[B + 2 * q];
    I32[R + 2 * q] = (aLo - bLo) | 0;
    I32[R + 2 * q + 1] = (I32[A + 2 * q + 1] - I32[B + 2 * q + 1] - (aLo < bLo ? 1 : 0)) | 0;
  }
}
function paddsb(): void { for (let i = 0; i < 16; i++) I8[R8 + i] = clampSigned8(I8[A8 + i] + I8[B8 + i]); }
function paddsw(): void { for (let i = 0; i < 8; i++) I16[R16 + i] = clampSigned16(I16[A16 + i] + I16[B16 + i]); }
function paddusb(): void { for (let i = 0; i < 16; i++) U8[R8 + i] = clampUnsigned8(U8[A8 + i] + U8[B8 + i]); }
function paddusw(): void { for (let i = 0; i < 8; i++) U16[R16 + i] = clampUnsigned16(U16[A16 + i] + U16[B16 + i]); }
function psubsb(): void { for (let i = 0; i < 16; i++) I8[R8 + i] = clampSigned8(I8[A8 + i] - I8[B8 + i]); }
function psubsw(): void { for (let i = 0; i < 8; i++) I16[R16 + i] = clampSigned16(I16[A16 + i] - I16[B16 + i]); }
function psubusb(): void { for (let i = 0; i < 16; i++) U8[R8 + i] = clampUnsigned8(U8[A8 + i] - U8[B8 + i]); }
function psubusw(): void { for (let i = 0; i < 8; i++) U16[R16 + i] = clampUnsigned16(U16[A16 + i] - U16[B16 + i]); }

// ---- multiply ----------------------------------------------------------------------------------

function pmullw(): void { for (let i = 0; i < 8; i++) U16[R16 + i] = Math.imul(I16[A16 + i], I16[B16 + i]); }
function pmulhw(): void { for (let i = 0; i < 8; i++) U16[R16 + i] = (I16[A16 + i] * I16[B16 + i]) >> 16; }
function pmulhuw(): void { for (let i = 0; i < 8; i++) U16[R16 + i] = (U16[A16 + i] * U16[B16 + i]) >>> 16; }
function pmuludq(): void {
  for (let q = 0; q < 2; q++) {
    const a = U32[A + 2 * q], b = U32[B + 2 * q];
    const a0 = a & 0xffff, a1 = a >>> 16, b0 = b & 0xffff, b1 = b >>> 16;
    const middle = a0 * b1 + a1 * b0; // < 2^33
    const middleLow = middle % 65536;
    const low = a0 * b0 + middleLow * 65536; // < 2^33
    I32[R + 2 * q] = low | 0;
    I32[R + 2 * q + 1] = (a1 * b1 + (middle - middleLow) / 65536 + (low >= 4294967296 ? 1 : 0)) | 0;
  }
}
function pmaddwd(): void {
  for (let i = 0; i < 4; i++) {
    I32[R + i] = (I16[A16 + 2 * i] * I16[B16 + 2 * i] + I16[A16 + 2 * i + 1] * I16[B16 + 2 * i + 1]) | 0;
  }
}
function psadbw(): void {
  for (let q = 0; q < 2; q++) {
    let sum = 0;
    for (let i = 0; i < 8; i++) sum += Math.abs(U8[A8 + 8 * q + i] - U8[B8 + 8 * q + i]);
    I32[R + 2 * q] = sum;
    I32[R + 2 * q + 1] = 0;
  }
}
function pavgb(): void { for (let i = 0; i < 16; i++) U8[R8 + i] = (U8[A8 + i] + U8[B8 + i] + 1) >> 1; }
function pavgw(): void { for (let i = 0; i < 8; i++) U16[R16 + i] = (U16[A16 + i] + U16[B16 + i] + 1) >> 1; }

// ---- min / max / compare -------------------------------------------------------------------------

function pminub(): void { for (let i = 0; i < 16; i++) U8[R8 + i] = Math.min(U8[A8 + i], U8[B8 + i]); }
function pmaxub(): void { for (let i = 0; i < 16; i++) U8[R8 + i] = Math.max(U8[A8 + i], U8[B8 + i]); }
function pminsw(): void { for (let i = 0; i < 8; i++) I16[R16 + i] = Math.min(I16[A16 + i], I16[B16 + i]); }
function pmaxsw(): void { for (let i = 0; i < 8; i++) I16[R16 + i] = Math.max(I16[A16 + i], I16[B16 + i]); }
function pcmpeqb(): void { for (let i = 0; i < 16; i++) I8[R8 + i] = I8[A8 + i] === I8[B8 + i] ? -1 : 0; }
function pcmpeqw(): void { for (let i = 0; i < 8; i++) I16[R16 + i] = I16[A16 + i] === I16[B16 + i] ? -1 : 0; }
function pcmpeqd(): void { for (let i = 0; i < 4; i++) I32[R + i] = I32[A + i] === I32[B + i] ? -1 : 0; }
function pcmpgtb(): void { for (let i = 0; i < 16; i++) I8[R8 + i] = I8[A8 + i] > I8[B8 + i] ? -1 : 0; }
function pcmpgtw(): void { for (let i = 0; i < 8; i++) I16[R16 + i] = I16[A16 + i] > I16[B16 + i] ? -1 : 0; }
function pcmpgtd(): void { for (let i = 0; i < 4; i++) I32[R + i] = I32[A + i] > I32[B + i] ? -1 : 0; }

// ---- logic -------------------------------------------------------------------------------------

export function pand(): void { for (let i = 0; i < 4; i++) I32[R + i] = I32[A + i] & I32[B + i]; }
export function pandn(): void { for (let i = 0; i < 4; i++) I32[R + i] = ~I32[A + i] & I32[B + i]; }
export function por(): void { for (let i = 0; i < 4; i++) I32[R + i] = I32[A + i] | I32[B + i]; }
export function pxor(): void { for (let i = 0; i < 4; i++) I32[R + i] = I32[A + i] ^ I32[B + i]; }

// ---- pack / unpack -----------------------------------------------------------------------------

function packsswb(): void {
  for (let i = 0; i < 8; i++) {
    I8[R8 + i] = clampSigned8(I16[A16 + i]);
    I8[R8 + 8 + i] = clampSigned8(I16[B16 + i]);
  }
}
function packuswb(): void {
  for (let i = 0; i < 8; i++) {
    U8[R8 + i] = clampUnsigned8(I16[A16 + i]);
    U8[R8 + 8 + i] = clampUnsigned8(I16[B16 + i]);
  }
}
function packssdw(): void {
  for (let i = 0; i < 4; i++) {
    I16[R16 + i] = clampSigned16(I32[A + i]);
    I16[R16 + 4 + i] = clampSigned16(I32[B + i]);
  }
}
function punpcklbw(): void { for (let i = 0; i < 8; i++) { U8[R8 + 2 * i] = U8[A8 + i]; U8[R8 + 2 * i + 1] = U8[B8 + i]; } }
function punpckhbw(): void { for (let i = 0; i < 8; i++) { U8[R8 + 2 * i] = U8[A8 + 8 + i]; U8[R8 + 2 * i + 1] = U8[B8 + 8 + i]; } }
function punpcklwd(): void { for (let i = 0; i < 4; i++) { U16[R16 + 2 * i] = U16[A16 + i]; U16[R16 + 2 * i + 1] = U16[B16 + i]; } }
function punpckhwd(): void { for (let i = 0; i < 4; i++) { U16[R16 + 2 * i] = U16[A16 + 4 + i]; U16[R16 + 2 * i + 1] = U16[B16 + 4 + i]; } }
export function punpckldq(): void { I32[R] = I32[A]; I32[R + 1] = I32[B]; I32[R + 2] = I32[A + 1]; I32[R + 3] = I32[B + 1]; }
export function punpckhdq(): void { I32[R] = I32[A + 2]; I32[R + 1] = I32[B + 2]; I32[R + 2] = I32[A + 3]; I32[R + 3] = I32[B + 3]; }
export function punpcklqdq(): void { I32[R] = I32[A]; I32[R + 1] = I32[A + 1]; I32[R + 2] = I32[B]; I32[R + 3] = I32[B + 1]; }
export function punpckhqdq(): void { I32[R] = I32[A + 2]; I32[R + 1] = I32[A + 3]; I32[R + 2] = I32[B + 2]; I32[R + 3] = I32[B + 3]; }

// ---- shifts ------------------------------------------------------------------------------------
// The count is B's low quadword (unsigned 64-bit; a nonzero high half means "huge"), or imm8.

/** B's low quadword as a shift count, saturated to 255. */
export function countFromB(): number {
  return I32[B + 1] !== 0 || U32[B] > 255 ? 255 : U32[B];
}

function psrlw(count: number): void { for (let i = 0; i < 8; i++) U16[R16 + i] = count > 15 ? 0 : U16[A16 + i] >>> count; }
function psraw(count: number): void { const c = count > 15 ? 15 : count; for (let i = 0; i < 8; i++) I16[R16 + i] = I16[A16 + i] >> c; }
function psllw(count: number): void { for (let i = 0; i < 8; i++) U16[R16 + i] = count > 15 ? 0 : U16[A16 + i] << count; }
function psrld(count: number): void { for (let i = 0; i < 4; i++) I32[R + i] = count > 31 ? 0 : I32[A + i] >>> count; }
function psrad(count: number): void { const c = count > 31 ? 31 : count; for (let i = 0; i < 4; i++) I32[R + i] = I32[A + i] >> c; }
function pslld(count: number): void { for (let i = 0; i < 4; i++) I32[R + i] = count > 31 ? 0 : I32[A + i] << count; }
function psrlq(count: number): void {
  for (let q = 0; q < 2; q++) {
    const lo = I32[A + 2 * q], hi = I32[A + 2 * q + 1];
    if (count > 63) { I32[R + 2 * q] = 0; I32[R + 2 * q + 1] = 0; }
    else if (count >= 32) { I32[R + 2 * q] = hi >>> (count - 32); I32[R + 2 * q + 1] = 0; }
    else if (count === 0) { I32[R + 2 * q] = lo; I32[R + 2 * q + 1] = hi; }
    else { I32[R + 2 * q] = (lo >>> count) | (hi << (32 - count)); I32[R + 2 * q + 1] = hi >>> count; }
  }
}
function psllq(count: number): void {
  for (let q = 0; q < 2; q++) {
    const lo = I32[A + 2 * q], hi = I32[A + 2 * q + 1];
    if (count > 63) { I32[R + 2 * q] = 0; I32[R + 2 * q + 1] = 0; }
    else if (count >= 32) { I32[R + 2 * q] = 0; I32[R + 2 * q + 1] = lo << (count - 32); }
    else if (count === 0) { I32[R + 2 * q] = lo; I32[R + 2 * q + 1] = hi; }
    else { I32[R + 2 * q] = lo << count; I32[R + 2 * q + 1] = (hi << count) | (lo >>> (32 - count)); }
  }
}
/** Byte shifts of the whole register (PSRLDQ/PSLLDQ imm8; more than 15 clears it). */
export function psrldq(count: number): void { for (let i = 0; i < 16; i++) U8[R8 + i] = i + count < 16 ? U8[A8 + i + count] : 0; }
export function pslldq(count: number): void { for (let i = 0; i < 16; i++) U8[R8 + i] = i >= count ? U8[A8 + i - count] : 0; }

/** The two-operand packed-integer operations by mnemonic (shifts take their count). */
export const LANE_OPS: Record<string, LaneOp> = {
  paddb, paddw, paddd, paddq, psubb, psubw, psubd, psubq, paddsb, paddsw, paddusb, paddusw, psubsb, psubsw, psubusb, psubusw,
  pmullw, pmulhw, pmulhuw, pmuludq, pmaddwd, psadbw, pavgb, pavgw,
  pminub, pmaxub, pminsw, pmaxsw, pcmpeqb, pcmpeqw, pcmpeqd, pcmpgtb, pcmpgtw, pcmpgtd,
  pand, pandn, por, pxor,
  packsswb, packuswb, packssdw, punpcklbw, punpckhbw, punpcklwd, punpckhwd, punpckldq, punpckhdq, punpcklqdq, punpckhqdq,
};

/** The shifts, by mnemonic: they take a count from B (register/m128 form) or from imm8. */
export const SHIFT_OPS: Record<string, LaneOp> = { psrlw, psraw, psllw, psrld, psrad, pslld, psrlq, psllq };
