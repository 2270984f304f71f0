// The `bench` workload (issue 5, docs/irmin-store.md "The bench") in the guest image, with small
// parameters: the head hash it prints equals the TypeScript model's (test/irmin/model.ts, which
// shares no code with the C), the serial output on real QEMU 7.2 and on this emulator is the same
// once the "time:" lines are set aside (the heap figures at gc points included), and both exit with
// status 1. Without QEMU the emulator half still runs; in CI QEMU is installed by .ci/run, so a
// missing QEMU fails there instead of skipping.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { benchModel, type BenchParameters } from "../irmin/model.js";
import { bootEmulator, bootQemu, hasQemu, normalized, repoRoot } from "./support/boot.js";

const STATUS_OK = 1; // isa-debug-exit value 0 (docs/guest.md)

function benchResult(output: string): { head: string; objects: string } {
  const head = /^head: ([0-9a-f]{128})$/m.exec(output);
  const objects = /^objects: (.*)$/m.exec(output);
  return { head: head?.[1] ?? `(no head line in:\n${output})`, objects: objects?.[1] ?? "(no objects line)" };
}

const cases: { append: string; parameters: BenchParameters }[] = [
  { append: "bench commits=5 depth=3 tree_add=4 display=1 gc=2", parameters: { ncommits: 5, depth: 3, treeAdd: 4 } },
  { append: "bench commits=10 depth=8 tree_add=20 gc=5 clear=false", parameters: { ncommits: 10, depth: 8, treeAdd: 20 } },
];

describe("the bench workload in the guest", () => {
  let workDir = "";
  let image = "";

  beforeAll(() => {
    workDir = mkdtempSync(join(tmpdir(), "x64emu-bench-"));
    // Relative, so that the kernel's file name (first on the command line) is the same on both.
    image = relative(repoRoot, join(workDir, "kernel.elf"));
    const build = spawnSync("bash", ["scripts/build-guest.sh", image], { cwd: repoRoot, encoding: "utf8" });
    if (build.status !== 0) throw new Error(`build-guest failed:\n${build.stdout}${build.stderr}`);
  }, 180_000);

  afterAll(() => {
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  for (const { append, parameters } of cases) {
    it(`'${append}': the model's head hash${hasQemu ? ", the same output on QEMU and on the emulator" : " (QEMU not installed: emulator only)"}, status 1`, async () => {
      const model = benchModel(parameters);
      const serialFile = join(workDir, `serial-${append.replace(/\W+/g, "_")}.txt`);
      const [emulator, qemu] = await Promise.all([
        bootEmulator(image, append),
        hasQemu ? bootQemu(image, append, serialFile) : Promise.resolve(undefined),
      ]);

      const result = benchResult(emulator.stdout);
      expect(result.head).toBe(model.head);
      expect(result.objects).toBe(`contents=${model.contents} nodes=${model.nodes} commits=${model.commits}`);
      expect(emulator.stdout).toContain("[init done]\n");
      expect(emulator.stdout).toContain(`\rcommits: ${String(parameters.ncommits).padStart(4)}/${parameters.ncommits}\n[run done]\n`);
      expect(emulator.stdout).toMatch(/^time: init=\d+ ms run=\d+ ms$/m);
      expect(emulator.status, emulator.stdout).toBe(STATUS_OK);

      if (qemu) {
        expect(benchResult(qemu.stdout).head).toBe(model.head);
        expect(normalized(emulator.stdout)).toEqual(normalized(qemu.stdout));
        expect(qemu.status, qemu.stdout).toBe(STATUS_OK);
      }
    }, 180_000);
  }
});
