// The guest unikernel (build/kernel.elf's sources) for the JIT's whole-system tests, built with
// scripts/build-guest.sh as test/guest does, and booted on a PcMachine under --clock virtual with
// any engine.
//
// The test files run in parallel processes and all need the same image: they share one incremental
// build directory in the system's temp directory (keyed by the checkout's path; the script rebuilds
// whatever changed, so a second build is a fraction of a second), serialized by a lock directory,
// and each process copies the result into a private temp directory before using it.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { PcMachine, type MachineOptions, type StopReason } from "../../../src/machine/pc.js";
import { parseMultibootKernel } from "../../../src/machine/multiboot.js";
import { afterAll } from "vitest";
import { hostHas } from "../../support/host-tools.js";

export const repoRoot = fileURLToPath(new URL("../../..", import.meta.url));

/** gcc and binutils are there to build the guest */
export const canBuildGuest: boolean = hostHas("gcc") && hostHas("ld") && hostHas("objdump");

/** The kernel's file name on its command line (the same for every engine, so outputs compare). */
export const KERNEL_NAME = "kernel.elf";
/** The CLI's RTC base under --clock virtual. */
export const VIRTUAL_RTC_BASE = new Date("2024-01-01T00:00:00Z");
/** isa-debug-exit value 0: the workload succeeded (docs/guest.md) */
export const STATUS_OK = 1;

let built: string | null = null;
const cleanups: (() => void)[] = [];
// registered while the importing test file is collected: runs after its last test
afterAll(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
  built = null;
});

/** A lock older than this belongs to a process that died: take it over. */
const STALE_LOCK_MS = 5 * 60_000;

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function withLock<T>(lock: string, body: () => T): T {
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      try {
        if (Date.now() - statSync(lock).mtimeMs > STALE_LOCK_MS) rmSync(lock, { recursive: true, force: true });
      } catch {
        // released meanwhile
      }
      sleepMs(100);
    }
  }
  try {
    return body();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/** Builds the guest image (once per test process); returns the path of this process's copy. */
export function guestImage(): string {
  if (built !== null) return built;
  const key = createHash("sha256").update(repoRoot).digest("hex").slice(0, 12);
  const shared = join(tmpdir(), `x64emu-jit-tests-guest-${key}`);
  const mine = mkdtempSync(join(tmpdir(), "x64emu-jit-guest-"));
  // (vitest's workers do not run process "exit" handlers)
  cleanups.push(() => rmSync(mine, { recursive: true, force: true }));
  const image = join(mine, "kernel.elf");
  withLock(`${shared}.lock`, () => {
    const result = spawnSync("bash", ["scripts/build-guest.sh", join(shared, "kernel.elf")], { cwd: repoRoot, encoding: "utf8" });
    if (result.status !== 0) throw new Error(`build-guest failed (status ${result.status}):\n${result.stdout}${result.stderr}`);
    copyFileSync(join(shared, "kernel.elf"), image);
  });
  built = image;
  return image;
}

export interface GuestRun {
  machine: PcMachine;
  stop: StopReason;
  serial: Buffer;
}

/** A machine with the guest booted with `append`, not yet run. */
export function bootGuest(append: string, options: MachineOptions, onSerial?: (chunk: Buffer) => void): PcMachine {
  const machine = new PcMachine({ clock: "virtual", rtcBase: VIRTUAL_RTC_BASE, ...options, onSerialOutput: (bytes) => onSerial?.(Buffer.from(bytes)) });
  machine.boot(parseMultibootKernel(readFileSync(guestImage())), KERNEL_NAME, append);
  return machine;
}

/** Boots the guest with `append` and runs it to the end (runSync). */
export function runGuest(append: string, options: MachineOptions, maxInstructions?: number): GuestRun {
  const chunks: Buffer[] = [];
  const machine = bootGuest(append, options, (chunk) => chunks.push(chunk));
  const stop = machine.runSync({ maxInstructions });
  return { machine, stop, serial: Buffer.concat(chunks) };
}

export function describeStop(stop: StopReason): string {
  switch (stop.kind) {
    case "exit": return `exit status ${stop.status}`;
    case "divergence": return `divergence:\n${stop.report}`;
    case "internal-error": return `internal error: ${stop.message}`;
    case "triple-fault": case "halted": return `${stop.kind}: ${stop.message}`;
    default: return stop.kind;
  }
}
