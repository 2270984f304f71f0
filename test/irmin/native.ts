// The store's native build: compiles src/libos/irmin/*.c with the driver in test/irmin (gcc -O2
// -Wall -Wextra -Werror, cached by source hash under build/irmin/; the build itself is
// src/bench/native.ts, shared with `x64emu bench`'s native engine) and runs its commands.
// Used by the vitest suite and by perf/store-native.bench.ts.

import { spawnSync } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { GCC_FLAGS, buildNativeStore, nativeBenchArgs, parseNativeResult, type NativeBenchResult } from "../../src/bench/native.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, "../..");
export const STORE_SOURCE_DIR = join(ROOT, "src/libos/irmin");

export const hasGcc = spawnSync("gcc", ["--version"]).status === 0;

export { GCC_FLAGS, type NativeBenchResult };

/** Builds the native driver once per source version and returns its path (src/bench/native.ts). */
export function buildNative(): string {
  return buildNativeStore(ROOT);
}

export interface NativeRun {
  stdout: string;
  stderr: string;
  status: number | null;
}

export function runNative(args: readonly string[], input?: string | Buffer): NativeRun {
  const result = spawnSync(buildNative(), args, {
    input,
    encoding: "latin1",
    maxBuffer: 256 * 1024 * 1024,
  });
  if (result.error) throw new Error(`irmin native ${args.join(" ")}: ${result.error.message}`);
  return { stdout: result.stdout, stderr: result.stderr, status: result.status };
}

export interface NativeBenchParameters {
  ncommits: number;
  depth: number;
  treeAdd: number;
  display?: number;
  gc?: number;
  clear?: boolean;
}

export function runNativeBench(parameters: NativeBenchParameters): NativeBenchResult {
  const args = nativeBenchArgs([
    `ncommits=${parameters.ncommits}`,
    `depth=${parameters.depth}`,
    `tree_add=${parameters.treeAdd}`,
    ...(parameters.display !== undefined ? [`display=${parameters.display}`] : []),
    ...(parameters.gc !== undefined ? [`gc=${parameters.gc}`] : []),
    ...(parameters.clear !== undefined ? [`clear=${parameters.clear}`] : []),
  ]);
  const run = runNative(args);
  if (run.status !== 0) throw new Error(`irmin native ${args.join(" ")} failed (${run.status}):\n${run.stdout}${run.stderr}`);
  const result = parseNativeResult(run.stdout);
  if (result === null) throw new Error(`irmin native bench printed no RESULT line:\n${run.stdout}`);
  return result;
}

// `tsx test/irmin/native.ts` (npm run build:store-native): build and print the binary's path.
if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  console.log(buildNative());
}
