// The built entry point (dist/x64emu.mjs, `npm run build:cli`, run by `npm ci`): the same program as
// `tsx src/cli.ts` in one file, started by plain Node. Rebuilt here so that it is this tree's code;
// every case compares it with the tsx run of the sources.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "./run-cli.js";

const built = join(repoRoot, "dist/x64emu.mjs");

function run(entry: "built" | "tsx", args: string[]) {
  const argv = entry === "built" ? [built, ...args] : ["--import", "tsx", "src/cli.ts", ...args];
  const result = spawnSync(process.execPath, argv, { cwd: repoRoot, encoding: "utf8", timeout: 120_000, env: { ...process.env, X64EMU_DEBUG: "" } });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe("the built entry point", () => {
  let workDir = "";
  let image = "";
  beforeAll(() => {
    execFileSync("npm", ["run", "--silent", "build:cli"], { cwd: repoRoot, stdio: "ignore" });
    workDir = mkdtempSync(join(tmpdir(), "x64emu-built-entry-"));
    image = relative(repoRoot, join(workDir, "kernel.elf"));
    execFileSync("bash", ["scripts/build-guest.sh", image], { cwd: repoRoot, stdio: "ignore" });
  }, 180_000);
  afterAll(() => {
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  it("is built, executable, and prints the same help and version as the sources", () => {
    expect(existsSync(built)).toBe(true);
    const direct = spawnSync(built, ["--version"], { cwd: repoRoot, encoding: "utf8" });
    expect(direct.status).toBe(0);
    for (const args of [["--help"], ["--version"], ["disasm", "--help"]]) {
      const ours = run("built", args);
      expect(ours.status, ours.stderr).toBe(0);
      expect(ours).toEqual(run("tsx", args));
    }
  });

  it("reports a bad command line as the sources do: one error line, status 2", () => {
    const ours = run("built", ["--accel", "fast"]);
    expect(ours.status).toBe(2);
    expect(ours.stderr.trim().split("\n")).toHaveLength(1);
    expect(ours).toEqual(run("tsx", ["--accel", "fast"]));
  });

  it("boots the guest's selftest with the same output and status (--clock virtual)", () => {
    const args = [image, "--clock", "virtual", "--append", "selftest", "--stats"];
    const ours = run("built", args);
    const theirs = run("tsx", args);
    expect(ours.status, ours.stderr).toBe(1);
    expect(ours.stdout).toBe(theirs.stdout);
    // --stats: the same guest instruction count (the wall time differs)
    const count = (stderr: string) => /stats: (\d+) guest instructions/.exec(stderr)?.[1];
    expect(count(ours.stderr)).toBeDefined();
    expect(count(ours.stderr)).toBe(count(theirs.stderr));
  }, 120_000);
});
