// The guest unikernel (src/libos, src/workload; docs/guest.md): it builds, reproducibly, with no
// instruction the emulator lacks, and boots on real QEMU (-machine q35) with the reference
// command: the selftest passes every check, the fault reports and command-line errors say what
// happened and exit with the documented statuses. The QEMU boots are skipped only when
// qemu-system-x86_64 is not installed.

import { execFile, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hostHas } from "../support/host-tools.js";

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
const buildScript = join(repoRoot, "scripts/build-guest.sh");

const has = (tool: string): boolean => hostHas(tool);
const canBuild = has("gcc") && has("ld") && has("objdump");
const hasQemu = has("qemu-system-x86_64");

// Exit statuses (docs/guest.md): QEMU's isa-debug-exit exits with (value << 1) | 1.
const STATUS_OK = 1;
const STATUS_USAGE = 5;
const STATUS_PANIC = 253;
const STATUS_TRAP = 255;

function build(output: string): void {
  const result = spawnSync("bash", [buildScript, output], { cwd: repoRoot, encoding: "utf8" });
  if (result.status !== 0) throw new Error(`build-guest failed (status ${result.status}):\n${result.stdout}${result.stderr}`);
}

interface Boot {
  status: number | null;
  output: string;
  lines: string[];
}

/**
 * Boots `image` on QEMU with the reference command (DESIGN.md §3), the serial port going to a file:
 * on a loaded machine QEMU drops serial bytes it cannot write to a pipe at once, a file never
 * refuses a write, and the guest sees the same UART either way.
 */
function bootQemu(image: string, append: string, timeoutMs = 60_000): Promise<Boot> {
  const serialFile = join(mkdtempSync(join(tmpdir(), "x64emu-serial-")), "serial.txt");
  const args = [
    "-accel", "tcg", "-machine", "q35", "-m", "512", "-nodefaults", "-display", "none", "-serial", `file:${serialFile}`,
    "-no-reboot", "-kernel", image, "-append", append, "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
  ];
  return new Promise((resolve) => {
    const child = execFile("qemu-system-x86_64", args, { timeout: timeoutMs, encoding: "utf8", maxBuffer: 16 << 20 }, (error, _stdout, stderr) => {
      const status = error ? (typeof error.code === "number" ? error.code : null) : 0;
      let serial = "";
      try {
        serial = readFileSync(serialFile, "utf8");
      } catch {
        // QEMU did not start: the status and stderr say why
      }
      rmSync(dirname(serialFile), { recursive: true, force: true });
      const output = serial + (stderr ? `\n[qemu stderr] ${stderr}` : "");
      resolve({ status, output, lines: serial.split("\n").filter((line) => line.length > 0) });
    });
    child.stdin?.end();
  });
}

describe.runIf(canBuild)("guest image", () => {
  let workDir = "";
  let image = "";

  beforeAll(() => {
    workDir = mkdtempSync(join(tmpdir(), "x64emu-guest-"));
    image = join(workDir, "a", "kernel.elf");
    build(image);
  }, 120_000);

  afterAll(() => {
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  it("is reproducible: two builds from scratch give the same bytes", () => {
    const second = join(workDir, "b", "kernel.elf");
    build(second);
    const a = readFileSync(image);
    const b = readFileSync(second);
    expect(b.length).toBe(a.length);
    expect(b.equals(a)).toBe(true);
  }, 120_000);

  it("is one loadable segment at 1 MiB with the multiboot a.out-kludge header", () => {
    const elf = readFileSync(image);
    expect(elf.readUInt32LE(0)).toBe(0x464c457f); // \x7fELF
    expect(elf[4]).toBe(2); // ELF64
    const phoff = Number(elf.readBigUInt64LE(0x20));
    const phentsize = elf.readUInt16LE(0x36);
    const phnum = elf.readUInt16LE(0x38);
    const loads = [];
    for (let i = 0; i < phnum; i++) {
      const at = phoff + i * phentsize;
      if (elf.readUInt32LE(at) === 1) loads.push({ offset: Number(elf.readBigUInt64LE(at + 8)), vaddr: Number(elf.readBigUInt64LE(at + 16)) });
    }
    expect(loads).toHaveLength(1);
    expect(loads[0].vaddr).toBe(0x100000);
    // QEMU looks for the header in the first 8 KiB, 4-byte aligned
    let header = -1;
    for (let at = 0; at + 32 <= Math.min(elf.length, 8192); at += 4) {
      if (elf.readUInt32LE(at) === 0x1badb002) {
        header = at;
        break;
      }
    }
    expect(header).toBeGreaterThanOrEqual(0);
    const flags = elf.readUInt32LE(header + 4);
    expect((elf.readUInt32LE(header) + flags + elf.readUInt32LE(header + 8)) >>> 0).toBe(0);
    expect(flags & 0x10000).toBe(0x10000); // a.out kludge: QEMU refuses ELF64 without it
    expect(elf.readUInt32LE(header + 16)).toBe(0x100000); // load_addr
  });

  it("the instruction-set check rejects x87, POPCNT and VEX code", () => {
    const source = join(workDir, "bad.c");
    const object = join(workDir, "bad.o");
    writeFileSync(
      source,
      "long double mul(long double a, long double b) { return a * b; }\n" +
        "int bits(unsigned x) { return __builtin_popcount(x); }\n" +
        "double sum(const double *v) { double s = 0; for (int i = 0; i < 64; i++) s += v[i]; return s; }\n",
    );
    expect(spawnSync("gcc", ["-O3", "-mavx2", "-mpopcnt", "-c", source, "-o", object]).status).toBe(0);
    const check = spawnSync("bash", [buildScript, "--check-isa", object], { cwd: repoRoot, encoding: "utf8" });
    expect(check.status).toBe(1);
    expect(check.stderr).toContain("instructions the emulator does not implement");
    expect(check.stderr).toMatch(/fldt/);
    expect(check.stderr).toMatch(/popcnt/);
    expect(check.stderr).toMatch(/vaddsd/);
    expect(spawnSync("bash", [buildScript, "--check-isa", image], { cwd: repoRoot }).status).toBe(0);
  });

  describe.runIf(hasQemu)("on QEMU (-machine q35)", () => {
    it("selftest: every check passes and the exit status is 1", async () => {
      const boot = await bootQemu(image, "selftest");
      const results = boot.lines.filter((line) => /^(PASS|FAIL) /.test(line));
      const failures = results.filter((line) => line.startsWith("FAIL"));
      expect(failures, boot.output).toEqual([]);
      expect(results.length, boot.output).toBeGreaterThanOrEqual(40);
      expect(boot.lines, boot.output).toContain(`selftest: ${results.length} passed, 0 failed`);
      // every workload line is a check, a "time:" line or the summary
      const start = boot.lines.indexOf("[INFO] boot: running workload 'selftest'");
      const end = boot.lines.findIndex((line) => line.startsWith("selftest: "));
      expect(start, boot.output).toBeGreaterThanOrEqual(0);
      const stray = boot.lines.slice(start + 1, end).filter((line) => !/^(PASS |time: )/.test(line));
      expect(stray, boot.output).toEqual([]);
      expect(boot.status, boot.output).toBe(STATUS_OK);
    });

    it("boot log: the multiboot info QEMU gives with -m 512, and the q35 PCI functions", async () => {
      const boot = await bootQemu(image, "selftest only=format");
      expect(boot.lines).toContain("[INFO] boot: multiboot: flags 0x24f, mem_lower 639 KiB, mem_upper 523136 KiB, loader 'qemu'");
      expect(boot.lines).toContain(`[INFO] boot: cmdline: '${image} selftest only=format'`);
      expect(boot.lines).toContain("[INFO] boot: memory 0x0000100000-0x001ffe0000 available");
      expect(boot.lines).toContain("[INFO] pci: 00:00.0 8086:29c0 class 06.00.00 host bridge");
      expect(boot.lines).toContain("[INFO] pci: 00:1f.2 8086:2922 class 01.06.01 SATA controller (AHCI)");
      expect(boot.lines.filter((line) => line.startsWith("[INFO] time: ")).length).toBeGreaterThanOrEqual(3);
      expect(boot.status, boot.output).toBe(STATUS_OK);
    });

    it("a CPU fault prints the vector, error code, registers and a hint, then exits with 255", async () => {
      const nullRead = await bootQemu(image, "fault kind=null log=warn");
      expect(nullRead.status, nullRead.output).toBe(STATUS_TRAP);
      expect(nullRead.output).toMatch(/\[FATAL\] trap: #PF page fault \(vector 14\), error code 0, at RIP 0x[0-9a-f]+/);
      expect(nullRead.output).toContain("hint: CR2 is in page 0: a NULL pointer dereference");
      expect(nullRead.output).toMatch(/RAX [0-9a-f]{16} {2}RBX [0-9a-f]{16}/);
      expect(nullRead.output).toMatch(/CR2 0{16}/);
      expect(nullRead.output).toContain("fiber: 'main'");

      const overflow = await bootQemu(image, "fault kind=stack log=warn");
      expect(overflow.status, overflow.output).toBe(STATUS_TRAP);
      expect(overflow.output).toContain("#DF double fault (vector 8)");
      expect(overflow.output).toContain("guard page below the stack of fiber 'deep-recursion'");

      const invalid = await bootQemu(image, "fault kind=ud log=warn");
      expect(invalid.status, invalid.output).toBe(STATUS_TRAP);
      expect(invalid.output).toMatch(/#UD invalid opcode \(vector 6\)[^\n]*\n(.*\n)*\s+code: npx tsx src\/cli.ts disasm --start 0x[0-9a-f]+ --hex "0f 0b/);
    });

    it("a panic names the problem and exits with 253", async () => {
      const doubleFree = await bootQemu(image, "fault kind=doublefree log=warn");
      expect(doubleFree.status, doubleFree.output).toBe(STATUS_PANIC);
      expect(doubleFree.output).toMatch(/\[PANIC\] kfree\(0x[0-9a-f]+\): the memory is already free/);

      const deadlock = await bootQemu(image, "fault kind=deadlock log=warn");
      expect(deadlock.status, deadlock.output).toBe(STATUS_PANIC);
      expect(deadlock.output).toContain("[PANIC] sched: deadlock");
      expect(deadlock.output).toContain("fiber 'main' (id 0) waits for a promise");
    });

    it("command-line errors exit with 5 and say what is accepted; a small bench runs and exits with 1", async () => {
      const unknownKey = await bootQemu(image, "selftest colour=blue");
      expect(unknownKey.status, unknownKey.output).toBe(STATUS_USAGE);
      expect(unknownKey.lines).toContain("cmdline: error: unknown argument 'colour=blue' for workload 'selftest' (it accepts: log only)");

      const unknownWorkload = await bootQemu(image, "frobnicate");
      expect(unknownWorkload.status, unknownWorkload.output).toBe(STATUS_USAGE);
      expect(unknownWorkload.lines).toContain("cmdline: error: unknown workload 'frobnicate' (available: bench, fault, netbench, ping, serve, selftest)");

      const badLog = await bootQemu(image, "selftest log=loud");
      expect(badLog.status, badLog.output).toBe(STATUS_USAGE);
      expect(badLog.output).toContain("cmdline: error: log=loud: bad log level 'loud'");

      const benchKey = await bootQemu(image, "bench colour=blue");
      expect(benchKey.status, benchKey.output).toBe(STATUS_USAGE);
      expect(benchKey.lines).toContain(
        "cmdline: error: unknown argument 'colour=blue' for workload 'bench' (it accepts: log ncommits commits depth tree_add display clear gc)",
      );
      const benchValue = await bootQemu(image, "bench gc=0");
      expect(benchValue.status, benchValue.output).toBe(STATUS_USAGE);
      expect(benchValue.lines).toContain("cmdline: error: bench: gc=0: expected an integer from 1 to 1000000000");

      // bench is the default workload (full results: test/guest/bench.test.ts)
      const bench = await bootQemu(image, "commits=2 depth=2 tree_add=2");
      expect(bench.status, bench.output).toBe(STATUS_OK);
      expect(bench.output).toContain("[INFO] boot: running workload 'bench'");
      expect(bench.output).toContain("[run done]");
    });
  });
});
