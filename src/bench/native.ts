// The store bench's native Linux build: src/libos/irmin/*.c with the driver in test/irmin (gcc -O2
// -Wall -Wextra -Werror), cached by source hash under build/irmin/. The `native` engine of
// `x64emu bench` runs it; test/irmin/native.ts (the vitest suite, perf/store-native.bench.ts)
// builds it through here too. It needs the repository's sources, so it works from a checkout only.

import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { buildCached } from "./cached-build.js";

export const GCC_FLAGS = ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Werror"];

/** The store's C sources and the native driver's, under the repository `root`. */
export function nativeStoreSources(root: string): { compile: string[]; all: string[] } {
  const storeDir = join(root, "src/libos/irmin");
  const driverDir = join(root, "test/irmin");
  const store = readdirSync(storeDir)
    .filter((name) => name.endsWith(".c") || name.endsWith(".h"))
    .sort()
    .map((name) => join(storeDir, name));
  const driver = ["native_main.c", "native_env.c", "native_tests.c", "native_env.h"].map((name) => join(driverDir, name));
  const all = [...store, ...driver];
  return { compile: all.filter((file) => file.endsWith(".c")), all };
}

/** Why the native store bench cannot be built from `root`, or null when it can. */
export function nativeStoreProblem(root: string | null): string | null {
  if (root === null || !existsSync(join(root, "test/irmin/native_main.c")) || !existsSync(join(root, "src/libos/irmin"))) {
    return "the native build needs the repository's sources (src/libos/irmin, test/irmin)";
  }
  if (spawnSync("gcc", ["--version"]).status !== 0) return "gcc is not installed";
  return null;
}

const built = new Map<string, string>();

/** Builds the native driver once per source version (build/irmin/native-<hash>) and returns its path. */
export function buildNativeStore(root: string): string {
  const cached = built.get(root);
  if (cached !== undefined && existsSync(cached)) return cached;
  const { compile, all } = nativeStoreSources(root);
  const binary = buildCached({ what: "irmin native build", buildDir: join(root, "build/irmin"), prefix: "native", flags: GCC_FLAGS, compile, all });
  built.set(root, binary);
  return binary;
}

/**
 * The native driver's arguments for the guest's `bench` arguments (`commits=` is the guest's
 * spelling of the driver's `ncommits=`). Throws on a word the driver does not take.
 */
export function nativeBenchArgs(benchArgs: readonly string[]): string[] {
  return [
    "bench",
    ...benchArgs.map((word) => {
      const match = /^(n?commits|depth|tree_add|display|gc|clear)=(.*)$/.exec(word);
      if (match === null) throw new Error(`the native bench does not take '${word}' (keys: commits, depth, tree_add, display, gc, clear)`);
      return match[1] === "commits" ? `ncommits=${match[2]}` : word;
    }),
  ];
}

export interface NativeBenchResult {
  /** the driver's output before its RESULT line: byte for byte what the guest prints */
  output: string;
  head: string;
  contents: number;
  nodes: number;
  commits: number;
  heapPeak: number;
  initNs: number;
  runNs: number;
}

/** Splits the driver's stdout at its `RESULT {json}` line; null when there is none. */
export function parseNativeResult(stdout: string): NativeBenchResult | null {
  const marker = stdout.lastIndexOf("RESULT ");
  if (marker < 0) return null;
  const result = JSON.parse(stdout.slice(marker + "RESULT ".length)) as Omit<NativeBenchResult, "output">;
  return { output: stdout.slice(0, marker), ...result };
}
