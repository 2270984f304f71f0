// The emulator as users start it: the bundled entry point dist/x64emu.mjs (npm ci builds it; the
// package's x64emu bin), rebuilt here from the current sources so a bench never measures stale code.
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));

/** Builds dist/x64emu.mjs (npm run build:cli) and returns the command and leading arguments that start it. */
export function builtCli(): [string, string[]] {
  execFileSync("npm", ["run", "--silent", "build:cli"], { cwd: repoRoot, stdio: ["ignore", "ignore", "inherit"] });
  return [process.execPath, [join(repoRoot, "dist/x64emu.mjs")]];
}
