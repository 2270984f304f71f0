// v86 (the npm package, a dev dependency) as a child process: perf/support/v86-run.ts bundled by
// esbuild into plain ESM under build/v86-run/ (v86 itself stays external, loaded from
// node_modules), so a run starts like `node dist/x64emu.mjs`: Node, then the emulator, no tsx.
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildSync } from "esbuild";

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));

/** The installed v86's version ("0.5.462+g5f9a90f"), or null when the package is not installed. */
export function v86Version(): string | null {
  try {
    const main = createRequire(import.meta.url).resolve("v86");
    const manifest = createRequire(import.meta.url)(join(dirname(main), "../package.json")) as { version?: string };
    return manifest.version ?? "unknown";
  } catch {
    return null;
  }
}

/**
 * Bundles the v86 runner (perf/support/v86-run.ts) into build/v86-run/v86-run.mjs and returns the
 * command and leading arguments that start it: `node build/v86-run/v86-run.mjs IMAGE --append ARGS [--no-jit]`.
 */
export function v86RunnerCommand(): [string, string[]] {
  const outfile = join(repoRoot, "build/v86-run/v86-run.mjs");
  buildSync({
    entryPoints: [join(repoRoot, "perf/support/v86-run.ts")],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    outfile,
    logLevel: "warning",
  });
  return [process.execPath, [outfile]];
}
