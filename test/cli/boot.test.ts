// Booting from the command line: the default action's bad inputs (each one "error: ..." line and a
// nonzero status), guest faults and timeouts, the exit status from isa-debug-exit, serial input
// from stdin, --stats, and --clock virtual determinism; the ticks kernel (PIT + PIC timer
// interrupts, TSC calibration, RTC, UART interrupt) against real QEMU when it is installed.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { guestKernels, qemuAvailable, runOurs, runQemu } from "../machine/support/guest-kernels.js";
import { repoRoot } from "./run-cli.js";

const tsxLoader = createRequire(import.meta.url).resolve("tsx");
const cliPath = join(repoRoot, "src/cli.ts");

/** Runs the CLI as a child process in `cwd` with `input` on stdin. */
function spawnCli(args: string[], options: { cwd?: string; input?: string } = {}) {
  const result = spawnSync(process.execPath, ["--import", tsxLoader, cliPath, ...args], {
    cwd: options.cwd ?? repoRoot,
    input: options.input ?? "",
    encoding: "latin1",
    timeout: 120_000,
    env: { ...process.env, X64EMU_DEBUG: "" },
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

const tmp = mkdtempSync(join(tmpdir(), "x64emu-boot-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A 32-bit multiboot ELF from Intel-syntax `body` (entered in protected mode), built with as/ld. */
function kernel(name: string, body: string): string {
  const source = join(tmp, `${name}.s`);
  writeFileSync(source, `.intel_syntax noprefix
.code32
.section .text
.align 4
.long 0x1BADB002, 0, -0x1BADB002
.global _start
_start:
${body}
`);
  execFileSync("as", ["--32", "-o", join(tmp, `${name}.o`), source]);
  execFileSync("ld", ["-m", "elf_i386", "-z", "noexecstack", "-N", "-Ttext", "0x100000", "-e", "_start", "-o", join(tmp, `${name}.elf`), join(tmp, `${name}.o`)]);
  return join(tmp, `${name}.elf`);
}

const images: Record<string, string> = {};

beforeAll(() => {
  images.empty = join(tmp, "empty.elf");
  writeFileSync(images.empty, "");
  images.random = join(tmp, "random.bin");
  execFileSync("sh", ["-c", `head -c 16384 /dev/urandom > '${images.random}'`]);
  // An x86-64 ELF without any multiboot header, and one with a header but no a.out kludge.
  writeFileSync(join(tmp, "plain64.s"), ".globl _start\n_start: hlt\n");
  execFileSync("as", ["--64", "-o", join(tmp, "plain64.o"), join(tmp, "plain64.s")]);
  execFileSync("ld", ["-m", "elf_x86_64", "-z", "noexecstack", "-o", join(tmp, "plain64.elf"), join(tmp, "plain64.o")]);
  images.elf64 = join(tmp, "plain64.elf");
  writeFileSync(join(tmp, "mb64.s"), ".align 4\n.long 0x1BADB002, 0, -0x1BADB002\n.globl _start\n_start: hlt\n");
  execFileSync("as", ["--64", "-o", join(tmp, "mb64.o"), join(tmp, "mb64.s")]);
  execFileSync("ld", ["-m", "elf_x86_64", "-z", "noexecstack", "-Ttext", "0x100000", "-o", join(tmp, "mb64.elf"), join(tmp, "mb64.o")]);
  images.elf64header = join(tmp, "mb64.elf");
  // A flat a.out-kludge image cut short: the header asks for bytes the file no longer has.
  writeFileSync(join(tmp, "kludge.s"), `.intel_syntax noprefix
.code32
header: .long 0x1BADB002, 0x00010000, -(0x1BADB002 + 0x00010000)
.long header, header, end, 0, start
start: hlt
.fill 4096, 1, 0x90
end:
`);
  execFileSync("as", ["--32", "-o", join(tmp, "kludge.o"), join(tmp, "kludge.s")]);
  execFileSync("ld", ["-m", "elf_i386", "-z", "noexecstack", "-Ttext", "0x100000", "--oformat", "binary", "-o", join(tmp, "kludge.bin"), join(tmp, "kludge.o")]);
  images.truncated = join(tmp, "truncated.bin");
  execFileSync("sh", ["-c", `head -c 1000 '${join(tmp, "kludge.bin")}' > '${images.truncated}'`]);
  images.tripleFault = kernel("triple", "  lidt [idt]\n  int3\nidt: .word 0\n.long 0");
  images.spin = kernel("spin", "1: jmp 1b");
  images.cliHlt = kernel("clihlt", "  cli\n  hlt");
  images.reset = kernel("reset", "  mov al, 0xfe\n  out 0x64, al\n  hlt");
});

describe("boot: bad inputs end with one error line", () => {
  const cases: Array<[string, () => string[], RegExp, number]> = [
    ["a missing file", () => [join(tmp, "missing.elf")], /^error: .*missing\.elf: no such file$/, 1],
    ["an empty file", () => [images.empty!], /^error: .*empty\.elf: empty file$/, 1],
    ["random bytes", () => [images.random!], /^error: .*random\.bin: not a multiboot kernel: no multiboot header \(magic 0x1badb002 with a valid checksum\) in the first 8192 bytes$/, 1],
    ["an ELF64 with no multiboot header", () => [images.elf64!], /^error: .*plain64\.elf: not a multiboot kernel: no multiboot header/, 1],
    ["an ELF64 with a multiboot header but no a.out kludge", () => [images.elf64header!], /^error: .*mb64\.elf: cannot load an x86-64 ELF without the multiboot a\.out kludge .*Cannot load x86-64 image, give a 32bit one\./, 1],
    ["a truncated image", () => [images.truncated!], /^error: .*truncated\.bin: truncated image: the multiboot header loads 4129 bytes from file offset 0x0 but the file has 1000 bytes$/, 1],
    ["a directory", () => [tmp], /^error: .*: is a directory$/, 1],
    ["-m 0", () => [images.spin!, "-m", "0"], /^error: -m\/--memory: expected a positive integer/, 2],
    ["-m beyond q35's low RAM", () => [images.spin!, "-m", "4096"], /^error: -m\/--memory: guest RAM must be 2\.\.2815 MiB/, 2],
    ["a bad --clock", () => [images.spin!, "--clock", "fast"], /^error: option '--clock <kind>' argument 'fast' is invalid/, 2],
    ["a bad --timeout", () => [images.spin!, "--timeout", "soon"], /^error: --timeout: expected a positive number of seconds/, 2],
    ["a bad --rtc-base", () => [images.spin!, "--rtc-base", "yesterday"], /^error: --rtc-base: expected utc or an ISO date/, 2],
    ["--jit-threshold 0", () => [images.spin!, "--jit-threshold", "0"], /^error: --jit-threshold: expected a positive whole number, got '0'$/, 2],
  ];
  for (const [name, args, message, status] of cases) {
    it(name, async () => {
      const result = await runOurs(args()[0]!, args().slice(1));
      expect(result.status, result.stderr).toBe(status);
      expect(result.serial.length).toBe(0);
      const lines = result.stderr.split("\n");
      expect(lines, result.stderr).toHaveLength(2);
      expect(lines[0]).toMatch(message);
    });
  }

  it("the default image, when it is missing, names the build command (child process)", () => {
    const result = spawnCli([], { cwd: tmp });
    expect(result.status).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toBe("error: build/kernel.elf: no such file (build the default guest image with `npm run build:guest`, or name an image)\n");
  });

  it("a random-bytes image (child process: nothing else on stderr, no stack trace)", () => {
    const result = spawnCli([images.random!]);
    expect(result.status).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr.split("\n")).toHaveLength(2);
  });
});

describe("boot: guest failures", () => {
  it("a triple fault: one line with RIP and the instruction, then the register dump; status 4", async () => {
    const result = await runOurs(images.tripleFault!, ["--clock", "virtual"]);
    expect(result.status).toBe(4);
    const lines = result.stderr.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^error: triple fault: .* at rip 0x0000000000100013 \(32-bit mode\): int3 \[cc\]$/);
    expect(lines[1]).toMatch(/^rax=000000002badb002 rcx=/);
    expect(lines.some((line) => /^rip=0000000000100013 rflags=/.test(line))).toBe(true);
  });

  it("--timeout: a guest that never stops is stopped with one line and status 124", async () => {
    const result = await runOurs(images.spin!, ["--timeout", "0.3"]);
    expect(result.status).toBe(124);
    expect(result.stderr).toMatch(/^error: timeout: the guest was still running after 0\.3 s \(\d+ instructions retired\)\n$/);
  });

  it("HLT with interrupts disabled: status 4, the HLT's address and a register dump", async () => {
    const result = await runOurs(images.cliHlt!, []);
    expect(result.status).toBe(4);
    expect(result.stderr.split("\n")[0]).toBe("error: guest halted with interrupts disabled (hlt at rip 0x10000d)");
  });

  it("a reset request ends the run with status 0, as qemu -no-reboot", async () => {
    const result = await runOurs(images.reset!, []);
    expect(result.status).toBe(0);
    expect(result.stderr).toBe("x64emu: the guest reset the machine (keyboard controller, port 0x64); stopping as qemu -no-reboot does\n");
    if (qemuAvailable) expect(runQemu(images.reset!).status).toBe(0);
  });
});

const TICKS_VIRTUAL = `ticks kernel
pic imr=fe
ticks=10
isr in handler=01
isr after=00
t tsc over 10 ticks us=100002
t tsc mhz=999
pit ch2 status=b0
t rtc=2024-02-29 23:59:58
rtc b=02
uart irqs=1
bye
`;

describe("boot: the ticks kernel (PIT, PIC, TSC, RTC, UART interrupt)", () => {
  const virtualArgs = ["--clock", "virtual", "--rtc-base", "2024-02-29T23:59:58Z", "--stats"];

  it("runs to isa-debug-exit (status 67) with exact output under --clock virtual", async () => {
    const result = await runOurs(guestKernels().ticksElf, virtualArgs);
    expect(result.status, result.stderr).toBe(67);
    expect(result.serial.toString("latin1")).toBe(TICKS_VIRTUAL);
    expect(result.stderr).toMatch(/^stats: \d+ guest instructions in [0-9.]+ s wall time, [0-9.]+ MIPS \(accel jit, clock virtual, TSC 1000 MHz\)\nstats: jit: \d+ units compiled .*% of instructions in JIT code\n$/);
  });

  it("--clock virtual is deterministic: the same output and instruction count twice (the RTC starts at 2024-01-01)", async () => {
    const args = ["--clock", "virtual", "--stats"];
    const first = await runOurs(guestKernels().ticksElf, args);
    const second = await runOurs(guestKernels().ticksElf, args);
    expect(first.serial.toString("latin1")).toContain("t rtc=2024-01-01 00:00:00\n");
    const count = (stderr: string) => /stats: (\d+) guest instructions/.exec(stderr)?.[1];
    expect(Buffer.compare(first.serial, second.serial)).toBe(0);
    expect(count(first.stderr)).toBeDefined();
    expect(count(first.stderr)).toBe(count(second.stderr));
  });

  // QEMU is the oracle here: without it there is nothing to compare with. Only outside CI can it be
  // missing (.ci/run installs qemu-system-x86; in CI hostHas() fails the run instead of skipping).
  it.skipIf(!qemuAvailable)("prints what QEMU prints (timing-bearing lines normalized)", async () => {
    const image = guestKernels().ticksElf;
    const qemu = runQemu(image);
    const ours = await runOurs(image);
    expect(qemu.status, qemu.stderr).toBe(67);
    expect(ours.status, ours.stderr).toBe(67);
    const normalize = (text: string) => text.replace(/^(t [^=]*=).*$/gm, "$1#");
    expect(normalize(ours.serial.toString("latin1"))).toBe(normalize(qemu.serial.toString("latin1")));
    // Realtime: the TSC runs at 1 GHz and ten 100 Hz ticks take about 100 ms.
    const text = ours.serial.toString("latin1");
    expect(Number(/t tsc mhz=(\d+)/.exec(text)?.[1])).toBeGreaterThan(900);
    expect(Number(/t tsc over 10 ticks us=(\d+)/.exec(text)?.[1])).toBeGreaterThanOrEqual(99_000);
    // The RTC follows the host clock (UTC).
    const rtc = /t rtc=(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)/.exec(text)!;
    const guestTime = Date.UTC(+rtc[1]!, +rtc[2]! - 1, +rtc[3]!, +rtc[4]!, +rtc[5]!, +rtc[6]!);
    expect(Math.abs(guestTime - Date.now())).toBeLessThan(60_000);
  });
});

describe("boot: serial input from stdin (child process)", () => {
  const echo = () => {
    const dir = guestKernels().dir;
    const object = join(dir, "echo.o");
    execFileSync("as", ["--32", "-o", object, join(repoRoot, "test/fixtures/guest/echo.S")]);
    execFileSync("ld", ["-m", "elf_i386", "-z", "noexecstack", "--no-warn-rwx-segments", "-T", join(repoRoot, "test/fixtures/guest/probe.ld"), "-o", join(dir, "echo.elf"), object]);
    return join(dir, "echo.elf");
  };

  it("feeds stdin to the UART (receive interrupts, HLT between bytes) until the guest exits", () => {
    const image = echo();
    const result = spawnCli([image], { input: "hello\nagain\nq" });
    expect(result.stderr).toBe("");
    expect(result.status).toBe(99);
    expect(result.stdout).toBe("ready\nhello\nagain\n\nbye\n");
    if (qemuAvailable) {
      const qemu = spawnSync("qemu-system-x86_64", ["-accel", "tcg", "-machine", "q35", "-m", "512", "-nodefaults", "-display", "none", "-serial", "stdio", "-no-reboot", "-kernel", image, "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"], { input: "hello\nagain\nq", encoding: "latin1", timeout: 60_000 });
      expect(qemu.status).toBe(99);
      expect(qemu.stdout).toBe(result.stdout);
    }
  });

  it("stops a guest that waits for input after stdin ends", () => {
    const result = spawnCli([echo()], { input: "abc" });
    expect(result.status).toBe(4);
    expect(result.stdout).toBe("ready\nabc");
    expect(result.stderr.split("\n")[0]).toMatch(/^error: guest halted waiting for an interrupt that cannot come/);
  });
});

describe("boot: --help", () => {
  it("documents the boot options and the engines", async () => {
    const { main } = await import("../../src/cli.js");
    let out = "";
    const status = await main(["--help"], { stdout: (text) => void (out += text), stderr: () => {} });
    expect(status).toBe(0);
    for (const option of ["--accel <engine>", "-m, --memory <MiB>", "--append <args>", "--clock <kind>", "--timeout <seconds>", "--stats", "--rtc-base <when>", "--jit-dump <dir>", "--jit-threshold <n>"]) {
      expect(out).toContain(option);
    }
    expect(out).toMatch(/jit \(compiles hot\s+guest\s+code\s+to\s+JavaScript\)/);
    expect(out).toMatch(/check\s+\(JIT\s+and\s+interpreter\s+in\s+lockstep/);
    expect(out).toMatch(/TSC runs at\s+1000\s+MHz/);
  });
});

