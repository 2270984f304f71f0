// Host tools the tests use as oracles or builders (gcc, binutils, QEMU). Outside CI a missing tool
// skips the tests that need it; in CI (.ci/run installs them all) a missing tool is an error, so a
// broken install fails the run instead of silently testing less.
import { spawnSync } from "node:child_process";

export function hostHas(tool: string, args: string[] = ["--version"]): boolean {
  const present = spawnSync(tool, args, { stdio: "ignore" }).status === 0;
  if (!present && process.env.CI) throw new Error(`${tool} is missing: .ci/run must install it`);
  return present;
}
