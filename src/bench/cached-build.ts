// A C program built with gcc once per source version: the binary is named after a hash of the flags
// and of every source and header, so an unchanged tree reuses it and a change rebuilds it. Used by
// the store bench's native build (native.ts, the `native` engine of `x64emu bench`) and by the
// native test drivers (test/serve, test/net).

import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync } from "node:fs";
import { join } from "node:path";

export interface CachedBuild {
  /** what it is, for error messages: "irmin native build" */
  what: string;
  /** where binaries go, created if missing */
  buildDir: string;
  /** the binary's name before "-<hash>" */
  prefix: string;
  flags: readonly string[];
  /** the .c files given to gcc */
  compile: readonly string[];
  /** every file whose content goes into the hash (sources and headers) */
  all: readonly string[];
  /** after the sources (libraries: "-lm") */
  linkArgs?: readonly string[];
  /** the flags as hashed (default: flags joined by spaces) */
  flagsKey?: string;
  /** a file's name as hashed (default: its path as given) */
  nameOf?: (file: string) => string;
}

/** Builds `build` unless a binary of the same sources and flags exists; returns the binary's path. */
export function buildCached(build: CachedBuild): string {
  const digest = createHash("sha256");
  digest.update(build.flagsKey ?? build.flags.join(" "));
  for (const file of build.all) digest.update(build.nameOf?.(file) ?? file).update(readFileSync(file));
  const binary = join(build.buildDir, `${build.prefix}-${digest.digest("hex").slice(0, 16)}`);
  if (!existsSync(binary)) {
    mkdirSync(build.buildDir, { recursive: true });
    const temporary = `${binary}.${process.pid}.tmp`;
    const gcc = spawnSync("gcc", [...build.flags, "-o", temporary, ...build.compile, ...(build.linkArgs ?? [])], { encoding: "utf8" });
    if (gcc.error) throw new Error(`${build.what}: cannot run gcc (${gcc.error.message})`);
    if (gcc.status !== 0) throw new Error(`${build.what}: gcc failed:\n${gcc.stderr}`);
    renameSync(temporary, binary);
  }
  return binary;
}
