// Parsers for CLI option values. Each throws a UsageError naming the flag.

import { UsageError } from "./errors.js";

/**
 * "48 89 e5", "4889e5", "48 89e5", "0x48 0x89 0xe5": whitespace (or commas) anywhere between bytes, two hex
 * digits per byte, an optional 0x before each group.
 */
export function parseHexBytes(text: string, flag = "--hex"): Uint8Array {
  const digits = text
    .split(/[\s,]+/)
    .map((group) => group.replace(/^0x/i, ""))
    .join("");
  if (digits.length === 0) throw new UsageError(`${flag}: no bytes given`);
  const bad = /[^0-9a-fA-F]/.exec(digits);
  if (bad) throw new UsageError(`${flag}: invalid hex character ${JSON.stringify(bad[0])}`);
  if (digits.length % 2 !== 0) {
    throw new UsageError(`${flag}: odd number of hex digits (${digits.length}); write each byte as two digits`);
  }
  const bytes = new Uint8Array(digits.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(digits.slice(2 * i, 2 * i + 2), 16);
  return bytes;
}

/** An address: 0x-prefixed hex ("0x401000") or decimal ("4198400"), 0 ≤ value < 2^64. */
export function parseAddress(text: string, flag: string): bigint {
  const trimmed = text.trim();
  let value: bigint;
  if (/^0x[0-9a-f]+$/i.test(trimmed)) value = BigInt(trimmed);
  else if (/^[0-9]+$/.test(trimmed)) value = BigInt(trimmed);
  else throw new UsageError(`${flag}: expected an address like 0x401000 or 4198400, got ${JSON.stringify(text)}`);
  if (value >= 1n << 64n) throw new UsageError(`${flag}: address ${text} does not fit in 64 bits`);
  return value;
}

/** A positive integer count (decimal or 0x hex). */
export function parseCount(text: string, flag: string): number {
  const trimmed = text.trim();
  const value = /^0x[0-9a-f]+$/i.test(trimmed) || /^[0-9]+$/.test(trimmed) ? Number(trimmed) : NaN;
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new UsageError(`${flag}: expected a positive integer, got ${JSON.stringify(text)}`);
  }
  return value;
}

export type Bits = 64 | 32;

export function parseMode(text: string, flag = "--mode"): Bits {
  const trimmed = text.trim();
  if (trimmed === "64") return 64;
  if (trimmed === "32") return 32;
  throw new UsageError(`${flag}: expected 64 or 32, got ${JSON.stringify(text)}`);
}
