// The store's native build: compiles src/libos/irmin/*.c with the driver in test/irmin (gcc -O2
// -Wall -Wextra -Werror, cached by source hash under build/irmin/) and runs its commands.
// Used by the vitest suite and by perf/store-native.bench.ts.

import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, "../..");
export const STORE_SOURCE_DIR = join(ROOT, "src/libos/irmin");
const BUILD_DIR = join(ROOT, "build/irmin");

export const hasGcc = spawnSync("gcc", ["--version"]).status === 0;

export const GCC_FLAGS = ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Werror"];

function sources(): { compile: string[]; all: string[] } {
  const store = readdirSync(STORE_SOURCE_DIR)
    .filter((name) => name.endsWith(".c") || name.endsWith(".h"))
    .sort()
    .map((name) => join(STORE_SOURCE_DIR, name));
  const driver = ["native_main.c", "native_env.c", "native_tests.c", "native_env.h"].map((name) => join(HERE, name));
  const all = [...store, ...driver];
  return { compile: all.filter((file) => file.endsWith(".c")), all };
}

let cachedBinary: string | undefined;

/** Builds the native driver once per source version and returns its path. */
export function buildNative(): string {
  if (cachedBinary && existsSync(cachedBinary)) return cachedBinary;
  const { compile, all } = sources();
  const digest = createHash("sha256");
  digest.update(GCC_FLAGS.join(" "));
  for (const file of all) digest.update(file).update(readFileSync(file));
  const binary = join(BUILD_DIR, `native-${digest.digest("hex").slice(0, 16)}`);
  if (!existsSync(binary)) {
    mkdirSync(BUILD_DIR, { recursive: true });
    const temporary = `${binary}.${process.pid}.tmp`;
    const gcc = spawnSync("gcc", [...GCC_FLAGS, "-o", temporary, ...compile], { encoding: "utf8" });
    if (gcc.error) throw new Error(`irmin native build: cannot run gcc (${gcc.error.message})`);
    if (gcc.status !== 0) throw new Error(`irmin native build: gcc failed:\n${gcc.stderr}`);
    renameSync(temporary, binary);
  }
  cachedBinary = binary;
  return binary;
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

export interface NativeBenchResult {
  output: string;
  head: string;
  contents: number;
  nodes: number;
  commits: number;
  heapPeak: number;
  initNs: number;
  runNs: number;
}

export function runNativeBench(parameters: NativeBenchParameters): NativeBenchResult {
  const args = [
    "bench",
    `ncommits=${parameters.ncommits}`,
    `depth=${parameters.depth}`,
    `tree_add=${parameters.treeAdd}`,
    ...(parameters.display !== undefined ? [`display=${parameters.display}`] : []),
    ...(parameters.gc !== undefined ? [`gc=${parameters.gc}`] : []),
    ...(parameters.clear !== undefined ? [`clear=${parameters.clear}`] : []),
  ];
  const run = runNative(args);
  if (run.status !== 0) throw new Error(`irmin native ${args.join(" ")} failed (${run.status}):\n${run.stdout}${run.stderr}`);
  const marker = run.stdout.lastIndexOf("RESULT ");
  if (marker < 0) throw new Error(`irmin native bench printed no RESULT line:\n${run.stdout}`);
  const result = JSON.parse(run.stdout.slice(marker + "RESULT ".length)) as Omit<NativeBenchResult, "output">;
  return { output: run.stdout.slice(0, marker), ...result };
}

// `tsx test/irmin/native.ts` (npm run build:store-native): build and print the binary's path.
if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  console.log(buildNative());
}
