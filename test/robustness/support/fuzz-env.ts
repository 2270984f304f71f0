// Case counts and seeds of the robustness fuzzers, from the environment: a fixed default seed and a
// small default count keep `npm test` fast and reproducible; the variables scale a run up.
export { Rng } from "../../decoder/generate.js";

/** A non-negative whole number from `name` ("300", "10_000", "1e4"), or `fallback` when unset. */
export function envCount(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text.trim() === "") return fallback;
  const value = Number(text.trim().replace(/_/g, ""));
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${name} must be a non-negative whole number, got '${text}'`);
  return value;
}

/** A 32-bit seed from `name` ("12345", "0x5eed"), or `fallback` when unset. */
export function envSeed(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text.trim() === "") return fallback;
  const value = Number(text.trim().replace(/_/g, ""));
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${name} must be a non-negative integer, got '${text}'`);
  return value >>> 0;
}

/** The per-case seed: case `index` of run `seed` is the same case however many cases the run has. */
export function caseSeed(seed: number, index: number): number {
  let h = Math.imul(seed ^ 0x9e37_79b9, 0x85eb_ca6b) ^ index;
  h = Math.imul(h ^ (h >>> 16), 0x7feb_352d);
  h = Math.imul(h ^ (h >>> 15), 0x846c_a68b);
  return (h ^ (h >>> 16)) >>> 0;
}

export const hex = (value: number): string => "0x" + value.toString(16);
