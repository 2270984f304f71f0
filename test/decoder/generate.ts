// Test corpora for the decoder's differential tests: seeded random instruction windows (biased towards
// valid encodings, or uniform) and the .text sections of real binaries on this machine.
//
// Everything random here comes from `Rng` (xoshiro128**, seeded through splitmix32), never from
// Math.random, so a seed and a case count reproduce a run byte for byte.

import { existsSync, readFileSync } from "node:fs";
import { parseElf } from "../../src/machine/elf.js";

export type Mode = 64 | 32;

/** Bytes per generated case: the architectural maximum instruction length. */
export const WINDOW = 15;

/** The seed used when FUZZ_SEED is not set (CI runs this one). */
export const DEFAULT_SEED = 0x5eed_2024;

/** Parses FUZZ_SEED-style text ("12345", "0x5eed2024") into a 32-bit seed; undefined/empty → the default. */
export function parseSeed(text: string | undefined): number {
  if (text === undefined || text.trim() === "") return DEFAULT_SEED;
  const value = Number(text.trim().replace(/_/g, ""));
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`FUZZ_SEED must be a non-negative integer, got '${text}'`);
  return value >>> 0;
}

/** Parses FUZZ_CASES-style text ("200000", "10_000_000", "1e7"); undefined/empty → fallback. */
export function parseCount(text: string | undefined, fallback: number): number {
  if (text === undefined || text.trim() === "") return fallback;
  const value = Number(text.trim().replace(/_/g, ""));
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`FUZZ_CASES must be a non-negative integer, got '${text}'`);
  return value;
}

/** xoshiro128** with a splitmix32-expanded 32-bit seed: fast, good enough, fully deterministic. */
export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number) {
    let x = seed >>> 0;
    const next = (): number => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** Uniform 32-bit unsigned integer. */
  u32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  byte(): number {
    return this.u32() >>> 24;
  }

  /** Uniform integer in [0, n) for n <= 2^32 (multiply-shift; the bias is negligible here). */
  below(n: number): number {
    return Math.floor((this.u32() / 0x1_0000_0000) * n);
  }

  /** true with probability p. */
  chance(p: number): boolean {
    return this.u32() < p * 0x1_0000_0000;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)]!;
  }

  u64(): bigint {
    return (BigInt(this.u32()) << 32n) | BigInt(this.u32());
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** Which part of the opcode space a generated case aims at (the first opcode byte(s) after the prefixes). */
export const CASE_KINDS = [
  "onebyte", // 1-byte opcode map, any byte
  "0f", // 0F xx
  "0f38", // 0F 38 xx
  "0f3a", // 0F 3A xx
  "x87", // D8-DF
  "3dnow", // 0F 0F modrm ... suffix
  "vex3", // C4
  "vex2", // C5
  "evex", // 62
  "xop", // 8F
  "uniform", // 15 uniformly random bytes, no structure at all
] as const;
export type CaseKind = (typeof CASE_KINDS)[number];

/** Relative weights of the biased generator's kinds (everything except "uniform"), in percent. */
export const BIASED_WEIGHTS: ReadonlyArray<readonly [CaseKind, number]> = [
  ["onebyte", 40],
  ["0f", 25],
  ["0f38", 8],
  ["0f3a", 6],
  ["x87", 5],
  ["3dnow", 3],
  ["vex3", 4],
  ["vex2", 3],
  ["evex", 4],
  ["xop", 2],
];
const WEIGHT_TOTAL = BIASED_WEIGHTS.reduce((sum, [, w]) => sum + w, 0);

/** Legacy prefixes with weights: operand size and the SSE mandatory prefixes are the most frequent. */
const LEGACY_PREFIXES: ReadonlyArray<readonly [number, number]> = [
  [0x66, 20],
  [0xf3, 14],
  [0xf2, 14],
  [0x67, 10],
  [0xf0, 10],
  [0x2e, 6],
  [0x36, 5],
  [0x3e, 6],
  [0x26, 5],
  [0x64, 5],
  [0x65, 5],
];
const PREFIX_TOTAL = LEGACY_PREFIXES.reduce((sum, [, w]) => sum + w, 0);

/** Valid 3DNow! suffix (imm8-position opcode) bytes. */
const D3NOW_SUFFIXES = [
  0x0c, 0x0d, 0x1c, 0x1d, 0x8a, 0x8e, 0x90, 0x94, 0x96, 0x97, 0x9a, 0x9e, 0xa0, 0xa4, 0xa6, 0xa7, 0xaa, 0xae, 0xb0, 0xb4,
  0xb6, 0xb7, 0xbb, 0xbf,
];

/** Expands "10-17 28 2a-2f" into the listed byte values. */
function byteRanges(text: string): number[] {
  const out: number[] = [];
  for (const part of text.trim().split(/\s+/)) {
    const [from, to] = part.split("-").map((h) => parseInt(h, 16));
    for (let b = from!; b <= (to ?? from!); b++) out.push(b);
  }
  return out;
}

/**
 * Opcode bytes where the maps are populated (SSSE3/SSE4 in 0F 38 / 0F 3A, AVX/AVX2/FMA/AVX-512 in the
 * VEX/EVEX maps 1-3). Most cases of those kinds pick from these; the rest take any byte.
 */
const POPULATED_0F38 = byteRanges("00-0b 10 14-17 1c-1e 20-25 28-2b 30-35 37-41 80-82 c8-cd cf db-df f0-f1 f5-f6 f8-f9");
const POPULATED_0F3A = byteRanges("08-0f 14-17 20-22 40-42 44 60-63 cc ce-cf df");
const POPULATED_VEX_MAP = [
  [],
  byteRanges("10-17 28-2f 50-7f ae c2 c4-c6 d0-ff"),
  byteRanges("00-0f 13 16-1e 20-25 28-2f 30-47 58-5a 78-79 8c 8e 90-9f a6-af b6-bf cf db-df f2-f7"),
  byteRanges("00-0f 14-19 1d 20-23 38-39 3e-3f 40-42 44 46 48-4c 60-63 ce-cf df f0"),
];

/** Populated XOP maps 8, 9 and 0A (AMD; indexed by map - 8). */
const POPULATED_XOP_MAP = [
  byteRanges("85-87 8e-8f 95-97 9e-9f a2-a3 a6 b6 c0-c3 cc-cf ec-ef"),
  byteRanges("01-02 12 80-83 90-9b c1-c3 c6-c7 cb d1-d3 d6-d7 db e1-e3"),
  byteRanges("10 12"),
];

/** The default instruction pointer of generated cases (most cases use it; some get a random one). */
export const DEFAULT_IP = 0x401000n;

/**
 * A batch of generated cases: case i is bytes[i*15 .. i*15+15), decoded at ips[i] in the batch's mode,
 * produced as kinds[i] (an index into CASE_KINDS).
 */
export interface CaseBatch {
  readonly mode: Mode;
  readonly capacity: number;
  count: number;
  readonly bytes: Uint8Array;
  readonly ips: BigUint64Array;
  readonly kinds: Uint8Array;
}

export function newCaseBatch(mode: Mode, capacity: number): CaseBatch {
  return {
    mode,
    capacity,
    count: 0,
    bytes: new Uint8Array(capacity * WINDOW),
    ips: new BigUint64Array(capacity),
    kinds: new Uint8Array(capacity),
  };
}

/** Returns case i's 15-byte window (a view, not a copy). */
export function caseWindow(batch: CaseBatch, i: number): Uint8Array {
  return batch.bytes.subarray(i * WINDOW, i * WINDOW + WINDOW);
}

/**
 * Deterministic generator of instruction windows for one CPU mode. Two generators built with the same
 * (seed, mode) produce the same sequence of cases, whatever batch sizes they are asked for.
 */
export class CaseGenerator {
  private readonly rng: Rng;
  private readonly scratch = new Uint8Array(WINDOW);
  /** How many cases of each kind this generator has produced (index = CASE_KINDS index). */
  readonly kindCounts = new Array<number>(CASE_KINDS.length).fill(0);

  constructor(
    readonly seed: number,
    readonly mode: Mode,
  ) {
    // Independent streams per mode from one seed.
    this.rng = new Rng((seed ^ (mode === 64 ? 0x6464_6464 : 0x3232_3232)) >>> 0);
  }

  /** Fills batch with `count` cases: biased ones, or uniform-random ones when `uniform`. */
  fill(batch: CaseBatch, count: number, uniform: boolean): void {
    if (batch.mode !== this.mode) throw new Error(`batch is for mode ${batch.mode}, generator for ${this.mode}`);
    if (count > batch.capacity) throw new Error(`count ${count} exceeds batch capacity ${batch.capacity}`);
    for (let i = 0; i < count; i++) {
      const kind = uniform ? CASE_KINDS.indexOf("uniform") : this.biasedCase(this.scratch);
      if (uniform) for (let j = 0; j < WINDOW; j++) this.scratch[j] = this.rng.byte();
      batch.bytes.set(this.scratch, i * WINDOW);
      batch.ips[i] = this.nextIp();
      batch.kinds[i] = kind;
      this.kindCounts[kind]!++;
    }
    batch.count = count;
  }

  /** 80 % the default IP; otherwise random (sometimes just below the top of the address space, to wrap branches). */
  private nextIp(): bigint {
    const rng = this.rng;
    if (rng.chance(0.8)) return DEFAULT_IP;
    const bits = this.mode === 64 ? 64 : 32;
    if (rng.chance(0.25)) return BigInt.asUintN(bits, -BigInt(1 + rng.below(256)));
    if (rng.chance(0.25)) return BigInt(rng.below(256));
    return this.mode === 64 ? rng.u64() : BigInt(rng.u32());
  }

  /** A VEX/EVEX byte whose pp field (bits 1:0) is 01 (the 66 forms, the most populated) more often. */
  private vexPp(byte: number): number {
    return this.rng.chance(0.5) ? (byte & ~3) | 1 : byte;
  }

  /** A VEX/EVEX opcode byte: mostly from the populated part of the map. */
  private vexOpcode(map: number): number {
    const populated = POPULATED_VEX_MAP[map];
    return populated !== undefined && populated.length > 0 && this.rng.chance(0.75) ? this.rng.pick(populated) : this.rng.byte();
  }

  /** Writes one biased case into out (15 bytes) and returns its kind index. */
  private biasedCase(out: Uint8Array): number {
    const rng = this.rng;
    const is64 = this.mode === 64;
    let pos = 0;
    const put = (b: number): void => {
      if (pos < WINDOW) out[pos++] = b & 0xff;
    };

    let roll = rng.below(WEIGHT_TOTAL);
    let kindName: CaseKind = "onebyte";
    for (const [name, weight] of BIASED_WEIGHTS) {
      if (roll < weight) {
        kindName = name;
        break;
      }
      roll -= weight;
    }
    const vectorEscape = kindName === "vex3" || kindName === "vex2" || kindName === "evex" || kindName === "xop";

    // Legacy prefixes: 0-3 (VEX/EVEX/XOP rarely get any: 66/F2/F3/F0/REX before them are #UD).
    const prefixRoll = rng.below(100);
    let prefixCount = prefixRoll < 50 ? 0 : prefixRoll < 78 ? 1 : prefixRoll < 92 ? 2 : 3;
    if (vectorEscape && rng.chance(0.7)) prefixCount = 0;
    // Occasionally a REX before the legacy prefixes (a REX not immediately before the opcode is ignored).
    if (is64 && prefixCount > 0 && rng.chance(0.04)) put(0x40 | rng.below(16));
    let previous = -1;
    for (let i = 0; i < prefixCount; i++) {
      let prefix: number;
      if (previous >= 0 && rng.chance(0.15)) prefix = previous;
      else {
        let r = rng.below(PREFIX_TOTAL);
        prefix = LEGACY_PREFIXES[0]![0];
        for (const [p, w] of LEGACY_PREFIXES) {
          if (r < w) {
            prefix = p;
            break;
          }
          r -= w;
        }
      }
      put(prefix);
      previous = prefix;
    }

    // 0F 38 / 0F 3A hold mostly 66-prefixed SSSE3/SSE4 forms (and F2 crc32): add the mandatory prefix often.
    if ((kindName === "0f38" || kindName === "0f3a") && rng.chance(0.55)) put(rng.chance(0.85) ? 0x66 : 0xf2);

    // REX: often in 64-bit mode (sometimes two of them); in 32-bit mode 40-4F are INC/DEC, rarely generated.
    if (is64) {
      if (rng.chance(vectorEscape ? 0.08 : 0.45)) {
        put(0x40 | rng.below(16));
        if (rng.chance(0.03)) put(0x40 | rng.below(16));
      }
    } else if (rng.chance(0.05)) put(0x40 | rng.below(16));

    // In 32-bit mode C4/C5/62 are LES/LDS/BOUND unless ModRM.mod == 11, i.e. the two top bits of the next
    // byte are set; bias towards the VEX/EVEX reading but keep some of the legacy one.
    const topBits = (b: number): number => (!is64 && rng.chance(0.85) ? b | 0xc0 : b);
    switch (kindName) {
      case "onebyte":
        put(rng.byte());
        break;
      case "0f":
        put(0x0f);
        put(rng.byte());
        break;
      case "0f38":
        put(0x0f);
        put(0x38);
        put(rng.chance(0.7) ? rng.pick(POPULATED_0F38) : rng.byte());
        break;
      case "0f3a":
        put(0x0f);
        put(0x3a);
        put(rng.chance(0.7) ? rng.pick(POPULATED_0F3A) : rng.byte());
        break;
      case "x87":
        put(0xd8 + rng.below(8));
        break;
      case "3dnow": {
        put(0x0f);
        put(0x0f);
        if (rng.chance(0.5)) {
          // Register form, so the suffix byte sits right after ModRM: make it a valid one.
          put(0xc0 | rng.below(64));
          put(rng.pick(D3NOW_SUFFIXES));
        }
        break;
      }
      case "vex3": {
        put(0xc4);
        const map = rng.chance(0.85) ? 1 + rng.below(3) : rng.below(32);
        put(topBits((rng.below(8) << 5) | map));
        put(this.vexPp(rng.byte())); // W vvvv L pp
        put(this.vexOpcode(map));
        break;
      }
      case "vex2":
        put(0xc5);
        put(this.vexPp(topBits(rng.byte()))); // R vvvv L pp
        put(this.vexOpcode(1)); // map 0F
        break;
      case "evex": {
        put(0x62);
        // P0 = R X B R' 0 0 m m m (AVX-512 maps 1-3, AVX512-FP16 maps 5-6)
        const map = rng.chance(0.85) ? rng.pick([1, 1, 2, 2, 3, 5, 6]) : rng.below(8);
        const reserved = rng.chance(0.9) ? 0 : rng.below(2) << 3;
        put(topBits((rng.below(16) << 4) | reserved | map));
        // P1 = W vvvv 1 pp (bit 2 must be 1)
        const p1 = this.vexPp(rng.byte());
        put(rng.chance(0.9) ? p1 | 0x04 : p1);
        // P2 = z L'L b V' aaa: often without zeroing/broadcast/rounding (z and b are #UD on many forms)
        const p2 = rng.byte();
        put(rng.chance(0.5) ? p2 & 0x6f : p2);
        put(this.vexOpcode(map));
        break;
      }
      case "xop": {
        put(0x8f);
        const map = rng.chance(0.85) ? 8 + rng.below(3) : rng.below(32);
        put((rng.below(8) << 5) | map);
        const wvvvvlpp = rng.byte();
        put(rng.chance(0.8) ? wvvvvlpp & ~3 : wvvvvlpp); // W vvvv L pp (pp must be 00)
        const populated = POPULATED_XOP_MAP[map - 8];
        put(populated !== undefined && rng.chance(0.75) ? rng.pick(populated) : rng.byte()); // opcode
        break;
      }
      default:
        throw new Error(`unexpected kind ${kindName}`);
    }
    // ModRM, SIB, displacement, immediates: uniformly random bytes cover every mod/reg/rm, SIB and size.
    while (pos < WINDOW) out[pos++] = rng.byte();
    return CASE_KINDS.indexOf(kindName);
  }
}

/** One code section of a file on this machine. */
export interface CodeSection {
  /** short label: "bash", "libc.so.6" */
  name: string;
  path: string;
  /** virtual address of the section's first byte */
  addr: bigint;
  bytes: Uint8Array;
}

/** Binaries whose .text the sweeps use (those present are taken; at least 5 must be). */
export const SWEEP_BINARIES = ["/usr/bin/ls", "/usr/bin/bash", "/usr/bin/cp", "/usr/bin/tar", "/usr/bin/grep", "/usr/bin/sed"];
export const SWEEP_LIBRARY = "/usr/lib/x86_64-linux-gnu/libc.so.6";

/** Reads the .text section of an ELF64 file (via the project's own ELF reader). */
export function readTextSection(path: string): CodeSection {
  const elf = parseElf(new Uint8Array(readFileSync(path)));
  const text = elf.findSection(".text");
  if (text === undefined) throw new Error(`${path}: no .text section`);
  return { name: path.slice(path.lastIndexOf("/") + 1), path, addr: text.addr, bytes: elf.sectionData(text) };
}

/** The .text sections of the sweep binaries present on this machine, plus libc's. */
export function systemTextSections(): CodeSection[] {
  const paths = SWEEP_BINARIES.filter((p) => existsSync(p));
  if (existsSync(SWEEP_LIBRARY)) paths.push(SWEEP_LIBRARY);
  return paths.map(readTextSection);
}
