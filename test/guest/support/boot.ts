// Booting a guest image on real QEMU 7.2 (DESIGN.md §3's reference command) and on this emulator,
// for the tests that compare them.
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
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
