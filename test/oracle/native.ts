// The native side of the hardware oracle: builds harness.c with gcc (cached by source hash under
// build/oracle/), streams cases to it in the binary protocol of docs/oracle.md and parses the results.
// A harness process that dies mid-batch is restarted after the case it was running, which is reported
// as a "crash".

import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { MAX_CODE_LENGTH, type MachineState, type Patch, CODE_ADDRESS, newState } from "./layout.js";

const HERE = dirname(fileURLToPath(import.meta.url));
export const HARNESS_SOURCE = join(HERE, "harness.c");
const BUILD_DIR = resolve(HERE, "../../build/oracle");

const IN_MAGIC = 0x4943524f;
const OUT_MAGIC = 0x4f43524f;
const IN_HEADER = 416;
const OUT_HEADER = 448;

/** What the harness needs to run one case. */
export interface NativeCase {
  id: number;
  code: Uint8Array;
  state: MachineState;
  scratchSeed: number;
  patches: readonly Patch[];
}

export type NativeOutcome = "done" | "exception" | "timeout" | "crash";

export interface NativeResult {
  id: number;
  outcome: NativeOutcome;
  /** the host signal (0 when the code ran to its end) and its si_code */
  signal: number;
  siCode: number;
  /** the exception as the CPU raised it: trapno and, for vectors that push one, the error code */
  exception: { vector: number; errorCode: number | null } | null;
  /** CR2 for page faults (the host's REG_CR2) */
  faultAddress: bigint;
  /** final state; on an exception the state at the faulting instruction (for #BP: after the INT3) */
  state: MachineState;
  /** changed scratch bytes */
  changes: Patch[];
}

let cachedBinary: string | undefined;

/** Compiles harness.c (once per source version) and returns the executable's path. */
export function buildHarness(): string {
  if (cachedBinary && existsSync(cachedBinary)) return cachedBinary;
  const source = readFileSync(HARNESS_SOURCE);
  const digest = createHash("sha256").update(source).digest("hex").slice(0, 16);
  const binary = join(BUILD_DIR, `harness-${digest}`);
  if (!existsSync(binary)) {
    mkdirSync(BUILD_DIR, { recursive: true });
    const temporary = `${binary}.${process.pid}.tmp`;
    const gcc = spawnSync("gcc", ["-O1", "-Wall", "-Wextra", "-Werror", "-o", temporary, HARNESS_SOURCE], { encoding: "utf8" });
    if (gcc.error) throw new Error(`oracle: cannot run gcc (${gcc.error.message}); the hardware oracle needs gcc`);
    if (gcc.status !== 0) throw new Error(`oracle: gcc failed to build ${HARNESS_SOURCE}:\n${gcc.stderr}`);
    renameSync(temporary, binary);
  }
  cachedBinary = binary;
  return binary;
}

/** Serializes cases into the harness's input stream. */
export function encodeCases(cases: readonly NativeCase[]): Buffer {
  let size = 0;
  for (const c of cases) {
    size += IN_HEADER + c.code.length;
    for (const patch of c.patches) size += 4 + patch.bytes.length;
  }
  const buffer = Buffer.alloc(size);
  let pos = 0;
  for (const c of cases) {
    if (c.code.length > MAX_CODE_LENGTH) throw new Error(`oracle: case ${c.id}: code too long`);
    buffer.writeUInt32LE(IN_MAGIC, pos);
    buffer.writeUInt32LE(c.id >>> 0, pos + 4);
    buffer.writeUInt32LE(c.scratchSeed >>> 0, pos + 8);
    buffer.writeUInt16LE(c.code.length, pos + 12);
    buffer.writeUInt16LE(c.patches.length, pos + 14);
    for (let i = 0; i < 16; i++) buffer.writeBigUInt64LE(c.state.gpr[i], pos + 16 + i * 8);
    buffer.writeBigUInt64LE(BigInt(c.state.rflags >>> 0), pos + 144);
    for (let i = 0; i < 32; i++) buffer.writeBigUInt64LE(c.state.xmm[i], pos + 152 + i * 8);
    buffer.writeUInt32LE(c.state.mxcsr >>> 0, pos + 408);
    buffer.writeUInt32LE(0, pos + 412);
    buffer.set(c.code, pos + IN_HEADER);
    pos += IN_HEADER + c.code.length;
    for (const patch of c.patches) {
      buffer.writeUInt16LE(patch.offset, pos);
      buffer.writeUInt16LE(patch.bytes.length, pos + 2);
      buffer.set(patch.bytes, pos + 4);
      pos += 4 + patch.bytes.length;
    }
  }
  return buffer;
}

/** Parses result records; stops at the first incomplete one. Returns the results and the bytes consumed. */
export function decodeResults(output: Buffer): NativeResult[] {
  const results: NativeResult[] = [];
  let pos = 0;
  while (pos + OUT_HEADER <= output.length) {
    if (output.readUInt32LE(pos) !== OUT_MAGIC) throw new Error(`oracle: bad result magic at byte ${pos}`);
    const runs = output.readUInt32LE(pos + 28);
    let end = pos + OUT_HEADER;
    const changes: Patch[] = [];
    let complete = true;
    for (let i = 0; i < runs; i++) {
      if (end + 4 > output.length) { complete = false; break; }
      const offset = output.readUInt16LE(end), length = output.readUInt16LE(end + 2);
      if (end + 4 + length > output.length) { complete = false; break; }
      changes.push({ offset, bytes: new Uint8Array(output.subarray(end + 4, end + 4 + length)) });
      end += 4 + length;
    }
    if (!complete) break;
    const outcomeCode = output.readUInt32LE(pos + 8);
    const vector = output.readUInt32LE(pos + 20);
    const errorCode = output.readUInt32LE(pos + 24);
    const state = newState();
    for (let i = 0; i < 16; i++) state.gpr[i] = output.readBigUInt64LE(pos + 40 + i * 8);
    state.rip = output.readBigUInt64LE(pos + 168);
    state.rflags = Number(output.readBigUInt64LE(pos + 176) & 0xffff_ffffn);
    for (let i = 0; i < 32; i++) state.xmm[i] = output.readBigUInt64LE(pos + 184 + i * 8);
    state.mxcsr = output.readUInt32LE(pos + 440);
    results.push({
      id: output.readUInt32LE(pos + 4),
      outcome: outcomeCode === 0 ? "done" : outcomeCode === 1 ? "exception" : "timeout",
      signal: output.readUInt32LE(pos + 12),
      siCode: output.readInt32LE(pos + 16),
      exception: outcomeCode === 1 ? { vector, errorCode: errorCode === 0xffff_ffff ? null : errorCode } : null,
      faultAddress: output.readBigUInt64LE(pos + 32),
      state,
      changes,
    });
    pos = end;
  }
  return results;
}

/** A result standing for a case the harness died on. */
function crashResult(c: NativeCase, detail: string): NativeResult {
  return {
    id: c.id, outcome: "crash", signal: 0, siCode: 0, exception: null, faultAddress: 0n,
    state: { ...newState(), rip: BigInt(CODE_ADDRESS) }, changes: [{ offset: 0, bytes: new TextEncoder().encode(detail) }],
  };
}

/**
 * Runs cases natively, in order, in as few harness processes as possible. The result list lines up
 * with `cases`. A case that kills the harness gets a "crash" result and the rest run in a new process.
 */
export function runNative(cases: readonly NativeCase[], options: { timeoutMs?: number } = {}): NativeResult[] {
  const binary = buildHarness();
  const results: NativeResult[] = [];
  let next = 0;
  while (next < cases.length) {
    const pending = cases.slice(next);
    const child = spawnSync(binary, [], {
      input: encodeCases(pending),
      maxBuffer: 1 << 30,
      timeout: options.timeoutMs ?? 600_000,
    });
    if (child.error && (child.error as NodeJS.ErrnoException).code !== "ETIMEDOUT") throw new Error(`oracle: cannot run ${binary}: ${child.error.message}`);
    const got = decodeResults(child.stdout ?? Buffer.alloc(0));
    for (let i = 0; i < got.length; i++) {
      if (got[i].id !== pending[i].id >>> 0) throw new Error(`oracle: harness answered case ${got[i].id} for case ${pending[i].id}`);
    }
    results.push(...got);
    next += got.length;
    if (next < cases.length) {
      if (child.status === 2 || child.status === 3) throw new Error(`oracle: harness rejected its input: ${child.stderr?.toString()}`);
      const why = child.signal ? `harness killed by ${child.signal}` : `harness exited with status ${child.status}`;
      results.push(crashResult(cases[next], `${why}: ${child.stderr?.toString().trim() ?? ""}`));
      next++;
    }
  }
  return results;
}
