// Booting a guest image on real QEMU 7.2 (DESIGN.md §3's reference command) and on this emulator,
// for the tests that compare them.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { hostHas } from "../../support/host-tools.js";

export const repoRoot = fileURLToPath(new URL("../../..", import.meta.url));
export const hasQemu = hostHas("qemu-system-x86_64");

export interface Run {
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
 * Builds the guest image into a new temporary folder (the caller removes `workDir`). `image` is
 * relative to the repository: QEMU puts the kernel's file name, as given, in front of the command
 * line, so both machines see the same one.
 */
export function buildGuestImage(prefix: string): Promise<{ workDir: string; image: string }> {
  const workDir = mkdtempSync(join(tmpdir(), prefix));
  const image = relative(repoRoot, join(workDir, "kernel.elf"));
  return new Promise((resolve, reject) => {
    execFile("bash", ["scripts/build-guest.sh", image], { cwd: repoRoot, encoding: "utf8" }, (error, stdout, stderr) =>
      error ? reject(new Error(`build-guest failed:\n${stdout}${stderr}`)) : resolve({ workDir, image }));
  });
}

/**
 * The reference command, with the serial port written to a file instead of stdio: on a loaded
 * machine QEMU drops serial bytes it cannot write to a pipe at once (it gives up after a number of
 * retries), and a file never refuses a write. What the guest sees is the same UART either way.
 */
export async function bootQemu(image: string, append: string, serialFile: string): Promise<Run> {
  const result = await run("qemu-system-x86_64", [
    "-accel", "tcg", "-machine", "q35", "-m", "512", "-nodefaults", "-display", "none", "-serial", `file:${serialFile}`,
    "-no-reboot", "-kernel", image, "-append", append, "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
  ], 60_000);
  let stdout = "";
  try {
    stdout = readFileSync(serialFile, "utf8");
  } catch {
    // QEMU did not start: the status says so
  }
  return { status: result.status, stdout };
}

/** This emulator's interpreter under the virtual clock (reproducible runs). */
export function bootEmulator(image: string, append: string, timeoutMs = 240_000): Promise<Run> {
  return run(process.execPath, ["--import", "tsx", "src/cli.ts", image, "--accel", "interp", "--append", append, "--clock", "virtual"], timeoutMs);
}

/** Serial output with the timing-bearing lines ("time:", docs/guest.md) set aside: the only normalization. */
export function normalized(output: string): string[] {
  return output.split("\n").filter((line) => !line.includes("time:"));
}
