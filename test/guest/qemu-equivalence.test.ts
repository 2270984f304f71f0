// The same guest image on real QEMU 7.2 (-machine q35, DESIGN.md §3's reference command) and on
// this emulator (--accel interp) prints the same serial output, once the lines that carry timings
// ("time:", docs/guest.md) are set aside, and exits with the same status. In CI QEMU is installed by
// .ci/run, so a missing QEMU fails there instead of skipping.
import { execFile, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
const hasQemu = spawnSync("qemu-system-x86_64", ["--version"], { stdio: "ignore" }).status === 0;
if (!hasQemu && process.env.CI) throw new Error("qemu-system-x86_64 is missing: .ci/run must install Debian's qemu-system-x86");

interface Run {
  status: number | null;
  stdout: string;
}

function run(command: string, args: string[], timeoutMs: number): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(command, args, { cwd: repoRoot, timeout: timeoutMs, encoding: "utf8", maxBuffer: 16 << 20 }, (error, stdout) => {
      resolve({ status: error ? (typeof error.code === "number" ? error.code : null) : 0, stdout });
    });
    child.stdin?.end();
  });
}

/**
 * The reference command, with the serial port written to a file instead of stdio: on a loaded
 * machine QEMU drops serial bytes it cannot write to a pipe at once (it gives up after a number of
 * retries), and a file never refuses a write. What the guest sees is the same UART either way.
 */
async function bootQemu(image: string, append: string, serialFile: string): Promise<Run> {
  const result = await run("qemu-system-x86_64", [
    "-accel", "tcg", "-machine", "q35", "-m", "512", "-nodefaults", "-display", "none", "-serial", `file:${serialFile}`,
    "-no-reboot", "-kernel", image, "-append", append, "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
  ], 60_000);
  return { status: result.status, stdout: readFileSync(serialFile, "utf8") };
}

function bootEmulator(image: string, append: string): Promise<Run> {
  return run(process.execPath, ["--import", "tsx", "src/cli.ts", image, "--accel", "interp", "--append", append, "--clock", "virtual"], 240_000);
}

/** Serial output with the timing-bearing lines removed (the only normalization). */
function normalized(output: string): string[] {
  return output.split("\n").filter((line) => !line.includes("time:"));
}

describe.runIf(hasQemu)("the guest image on QEMU and on this emulator", () => {
  let workDir = "";
  let image = "";

  beforeAll(() => {
    workDir = mkdtempSync(join(tmpdir(), "x64emu-equivalence-"));
    // A relative path: QEMU puts the kernel's file name, as given, in front of the command line.
    image = relative(repoRoot, join(workDir, "kernel.elf"));
    const build = spawnSync("bash", ["scripts/build-guest.sh", image], { cwd: repoRoot, encoding: "utf8" });
    if (build.status !== 0) throw new Error(`build-guest failed:\n${build.stdout}${build.stderr}`);
  }, 180_000);

  afterAll(() => {
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  for (const append of ["selftest", "fault kind=gp", "selftest colour=blue"]) {
    it(`'${append}': identical serial output (timing lines aside) and exit status`, async () => {
      const serialFile = join(workDir, `serial-${append.replace(/\W+/g, "_")}.txt`);
      const [qemu, emulator] = await Promise.all([bootQemu(image, append, serialFile), bootEmulator(image, append)]);
      expect(normalized(emulator.stdout)).toEqual(normalized(qemu.stdout));
      expect(emulator.status).toBe(qemu.status);
      expect(qemu.stdout.length).toBeGreaterThan(0);
    }, 300_000);
  }
});
