// The same guest image on real QEMU 7.2 (-machine q35, DESIGN.md §3's reference command) and on
// this emulator (--accel interp) prints the same serial output, once the lines that carry timings
// ("time:", docs/guest.md) are set aside, and exits with the same status.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bootEmulator, bootQemu, hasQemu, normalized, repoRoot } from "./support/boot.js";

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
