// `disasm` end to end. Cases marked `spawn` run the CLI as a child process, exactly as a user runs
// it (`node --import tsx src/cli.ts ...`); the rest call the same main() in-process, which keeps
// this file fast. CLI_TEST_SPAWN_ALL=1 runs every case as a child process.

import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseListing } from "./objdump-listing.js";
import { runCli, runInProcess, type CliResult } from "./run-cli.js";
import { hostHas } from "../support/host-tools.js";

const spawnAll = process.env.CLI_TEST_SPAWN_ALL === "1";
/** runs in-process unless CLI_TEST_SPAWN_ALL=1 */
const run = (args: string[]): Promise<CliResult> => (spawnAll ? runCli(args) : runInProcess(args));

const hasGcc = hostHas("gcc");
const tmp = mkdtempSync(join(tmpdir(), "disasm-test-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Instruction texts of a listing (continuation lines merged away). */
const texts = (result: CliResult): string[] => parseListing(result.stdout).map((i) => i.text);

/** The CLI succeeded quietly. */
function expectOk(result: CliResult): void {
  expect(result.stderr, result.stderr).toBe("");
  expect(result.status).toBe(0);
}

describe.concurrent("disasm --hex", () => {
  it("lays out lines like objdump -d", async () => {
    const result = await runCli(["disasm", "--hex", "48 89 e5", "--start", "0x401000"]); // spawned
    expectOk(result);
    expect(result.stdout).toBe("  401000:\t48 89 e5             \tmov rbp,rsp\n");
  });

  it("decodes push/mov/ret, with or without spaces between bytes", async () => {
    const spaced = await run(["disasm", "--hex", "55 48 89 e5 c3"]);
    const packed = await run(["disasm", "--hex", "554889e5c3"]);
    expectOk(spaced);
    expect(packed.stdout).toBe(spaced.stdout);
    expect(texts(spaced)).toEqual(["push rbp", "mov rbp,rsp", "ret"]);
    expect(parseListing(spaced.stdout).map((i) => i.address)).toEqual([0n, 1n, 4n]);
    expect(spaced.stdout.split("\n")[0]).toBe("   0:\t55                   \tpush rbp");
  });

  it("shows a RIP-relative lea with its displacement or absolute target", async () => {
    const result = await run(["disasm", "--hex", "48 8d 05 10 00 00 00", "--start", "0x401000"]);
    expectOk(result);
    const [lea] = texts(result);
    expect(lea).toMatch(/^lea\s+rax,/);
    expect(lea).toMatch(/rip\s*\+\s*0x10\b|0x40101b\b/i);
  });

  it("shows a call's absolute target", async () => {
    const result = await run(["disasm", "--hex", "e8 00 01 00 00", "--start", "0x401000"]);
    expectOk(result);
    expect(texts(result)).toHaveLength(1);
    expect(texts(result)[0]).toMatch(/^call\s+(0x)?0*401105h?\b/i);
    const backwards = await run(["disasm", "--hex", "e8 fb ff ff ff", "--start", "0x401000"]);
    expect(texts(backwards)[0]).toMatch(/^call\s+(0x)?0*401000h?\b/i);
  });

  it("continues instructions longer than 7 bytes on a second line", async () => {
    const result = await run(["disasm", "--hex", "48 b8 88 77 66 55 44 33 22 11 c3"]);
    expectOk(result);
    const lines = result.stdout.split("\n");
    expect(lines[0]).toMatch(/^ {3}0:\t48 b8 88 77 66 55 44 \t(movabs|mov)\s+rax,0x1122334455667788$/);
    expect(lines[1]).toBe("   7:\t33 22 11 ");
    expect(lines[2]).toBe("   a:\tc3                   \tret");
  });

  it("decodes 32-bit code with --mode 32", async () => {
    const result = await run(["disasm", "--mode", "32", "--hex", "55 89 e5 48 8b 45 08 c3"]);
    expectOk(result);
    const [push, mov, dec, load, ret] = texts(result);
    expect([push, mov, dec, ret]).toEqual(["push ebp", "mov ebp,esp", "dec eax", "ret"]);
    expect(load).toMatch(/^mov\s+eax,.*\[ebp\s*\+\s*0x8\]/);
    // the same bytes in 64-bit mode: 48 is a REX.W prefix
    const long = await run(["disasm", "--hex", "55 89 e5 48 8b 45 08 c3"]);
    expect(texts(long).slice(0, 2)).toEqual(["push rbp", "mov ebp,esp"]);
    expect(texts(long)[2]).toMatch(/^mov\s+rax,.*\[rbp\s*\+\s*0x8\]/);
  });

  it("stops after --count instructions", async () => {
    const result = await run(["disasm", "--hex", "90 90 90 90 90 c3", "--count", "2"]);
    expectOk(result);
    expect(texts(result)).toEqual(["nop", "nop"]);
  });

  it("prints (bad) for invalid and truncated instructions", async () => {
    const invalid = await run(["disasm", "--hex", "06 c3"]); // push es: invalid in 64-bit mode
    expectOk(invalid);
    expect(texts(invalid)).toEqual(["(bad)", "ret"]);
    const truncated = await run(["disasm", "--hex", "c3 48 8d 05"]);
    expectOk(truncated);
    expect(truncated.stdout.split("\n")[1]).toBe("   1:\t48 8d 05             \t(bad)");
  });
});

describe.skipIf(!hasGcc)("disasm on a gcc-built ELF object", { concurrent: true }, () => {
  let object = "";
  beforeAll(() => {
    const source = join(tmp, "tiny.c");
    writeFileSync(
      source,
      `int add(int a, int b) { return a + b; }
long fact(long n) { long r = 1; while (n > 1) r *= n--; return r; }
int last(const int *p) { return p[3]; }
`,
    );
    object = join(tmp, "tiny.o");
    const compile = spawnSync("gcc", ["-O2", "-fno-asynchronous-unwind-tables", "-c", source, "-o", object], { encoding: "utf8" });
    expect(compile.stderr).toBe("");
  });

  it("disassembles one symbol with --symbol, up to its size", async () => {
    const result = await runCli(["disasm", object, "--symbol", "add"]); // spawned
    expectOk(result);
    expect(result.stdout).toMatch(/^Disassembly of section \.text:$/m);
    expect(result.stdout).toMatch(/^0000000000000000 <add>:$/m);
    const instructions = parseListing(result.stdout);
    expect(instructions[0]!.address).toBe(0n);
    expect(instructions.map((i) => i.text.split(/\s+/)[0])).toEqual(["lea", "ret"]);
    expect(instructions[0]!.text).toMatch(/^lea\s+eax,\[rdi\s*\+\s*rsi(\*1)?\]$/);
  });

  it("starts at the symbol's address for a symbol further in", async () => {
    const all = parseListing((await run(["disasm", object])).stdout);
    const result = await run(["disasm", object, "--symbol", "last"]);
    expectOk(result);
    const instructions = parseListing(result.stdout);
    expect(instructions[0]!.address).toBeGreaterThan(0n);
    expect(instructions.at(-1)!.text).toBe("ret");
    expect(instructions[0]!.text).toMatch(/^mov\s+eax,.*\[rdi\s*\+\s*0xc\]/);
    // the same instructions appear in the whole-section listing
    const inSection = all.filter((i) => i.address >= instructions[0]!.address).slice(0, instructions.length);
    expect(inSection.map((i) => [i.address, i.bytes])).toEqual(instructions.map((i) => [i.address, i.bytes]));
    // --start inside the section labels the first line like objdump
    const fromStart = await run(["disasm", object, "--start", "0x" + instructions[0]!.address.toString(16), "--count", "1"]);
    expectOk(fromStart);
    expect(fromStart.stdout).toMatch(/<last>:/);
    expect(parseListing(fromStart.stdout)).toHaveLength(1);
  });

  it("uses the ELF class as the default mode (skipped without 32-bit multilib)", async (context) => {
    const object32 = join(tmp, "tiny32.o");
    const compile = spawnSync("gcc", ["-m32", "-O2", "-c", join(tmp, "tiny.c"), "-o", object32]);
    // without 32-bit multilib, the hand-built ELF32 case below still covers 32-bit files
    if (compile.status !== 0) context.skip();
    const result = await run(["disasm", object32, "--symbol", "add"]);
    expectOk(result);
    expect(result.stdout).toMatch(/file format elf32-i386/);
    expect(texts(result).at(-1)).toBe("ret");
    expect(texts(result).join("\n")).toMatch(/\[esp\s*\+\s*0x(4|8)\]/);
  });
});

describe.concurrent("disasm on a hand-built ELF32", () => {
  it("decodes it as 32-bit code and labels its symbols", async () => {
    // The minimal ELF32 of test/machine/elf.test.ts, rebuilt here from bytes: .text = push ebp; mov ebp,esp; dec eax; ret
    const path = join(tmp, "hand32.elf");
    writeFileSync(path, buildTinyElf32([0x55, 0x89, 0xe5, 0x48, 0xc3], "entry"));
    const result = await run(["disasm", path]);
    expectOk(result);
    expect(result.stdout).toMatch(/file format elf32-i386/);
    expect(result.stdout).toMatch(/^08049000 <entry>:$/m);
    expect(result.stdout).toMatch(/^ 8049000:\t55 {19}\tpush ebp$/m);
    expect(texts(result)).toEqual(["push ebp", "mov ebp,esp", "dec eax", "ret"]);
  });
});

describe.concurrent("disasm errors: one line on stderr, nonzero exit, no stack trace", () => {
  let notElf = "";
  let truncatedElf = "";
  beforeAll(() => {
    notElf = join(tmp, "notes.txt");
    writeFileSync(notElf, "just some text\n");
    truncatedElf = join(tmp, "truncated.elf");
    writeFileSync(truncatedElf, readFileSync("/usr/bin/ls").subarray(0, 2000));
  });

  // [name, arguments, the expected stderr line, "spawn" for the cases that also run as a child process
  // (one per kind of failure: file system, ELF, value parsing, commander, unknown command, boot)]
  const cases: Array<[string, () => string[], RegExp, "spawn"?]> = [
    ["missing file", () => ["disasm", "/nope/missing.elf"], /^error: \/nope\/missing\.elf: no such file$/, "spawn"],
    ["a directory", () => ["disasm", tmpdir()], /^error: .*: is a directory$/],
    ["a device", () => ["disasm", "/dev/zero"], /^error: \/dev\/zero: not a regular file$/],
    ["a file that is not ELF", () => ["disasm", notElf], /^error: .*notes\.txt: not an ELF file/, "spawn"],
    ["a truncated ELF", () => ["disasm", truncatedElf], /^error: .*truncated\.elf: .*out of range/],
    ["a missing section", () => ["disasm", "/usr/bin/ls", "--section", ".nope"], /^error: \/usr\/bin\/ls: no section named \.nope$/],
    ["a missing symbol", () => ["disasm", "/usr/bin/ls", "--symbol", "no_such_symbol"], /^error: .*no symbol named no_such_symbol$/],
    ["an undefined symbol", () => ["disasm", "/usr/bin/ls", "--symbol", "getenv"], /^error: .*getenv is not defined/],
    ["a NOBITS section", () => ["disasm", "/usr/bin/ls", "--section", ".bss"], /^error: .*\.bss has no bytes/],
    ["--start outside the section", () => ["disasm", "/usr/bin/ls", "--start", "0x1"], /^error: --start 0x1: outside section \.text/],
    ["odd hex digit count", () => ["disasm", "--hex", "48 8"], /^error: --hex: odd number of hex digits/, "spawn"],
    ["non-hex characters", () => ["disasm", "--hex", "48 zz"], /^error: --hex: invalid hex character "z"$/],
    ["empty hex", () => ["disasm", "--hex", ""], /^error: --hex: no bytes given$/],
    ["blank hex", () => ["disasm", "--hex", "   "], /^error: --hex: no bytes given$/],
    ["missing --hex value", () => ["disasm", "--hex"], /^error: option '--hex <bytes>' argument missing$/, "spawn"],
    ["bad --mode", () => ["disasm", "--mode", "16", "--hex", "90"], /^error: --mode: expected 64 or 32/],
    ["zero --count", () => ["disasm", "--count", "0", "--hex", "90"], /^error: --count: expected a positive integer/, "spawn"],
    ["non-numeric --count", () => ["disasm", "--count", "lots", "--hex", "90"], /^error: --count: expected a positive integer/],
    ["bad --start", () => ["disasm", "--start", "0xzz", "--hex", "90"], /^error: --start: expected an address/],
    ["too large --start", () => ["disasm", "--start", "0x10000000000000000", "--hex", "90"], /^error: --start: .*64 bits/],
    ["FILE and --hex", () => ["disasm", "/usr/bin/ls", "--hex", "90"], /^error: give either FILE or --hex/],
    ["nothing to disassemble", () => ["disasm"], /^error: nothing to disassemble/],
    ["--section with --symbol", () => ["disasm", "/usr/bin/ls", "--section", ".text", "--symbol", "x"], /^error: give either --section or --symbol/],
    ["--section with --hex", () => ["disasm", "--hex", "90", "--section", ".text"], /^error: --section and --symbol apply to ELF files/],
    ["unknown flag", () => ["disasm", "--hexx", "90"], /^error: unknown option '--hexx'/, "spawn"],
    ["extra argument", () => ["disasm", "/usr/bin/ls", "/usr/bin/ls"], /^error: too many arguments/],
    ["unknown subcommand", () => ["disasmm", "--hex", "90"], /^error: unknown command 'disasmm'/, "spawn"],
    ["unknown subcommand alone", () => ["frobnicate"], /^error: unknown command 'frobnicate'/],
    ["help for an unknown command", () => ["help", "nope"], /^error: unknown command 'nope'/],
    ["unknown root flag", () => ["--bogus"], /^error: unknown option '--bogus'$/],
    ["bad --accel", () => ["--accel", "warp"], /^error: option '--accel <engine>' argument 'warp' is invalid/],
    ["booting an image that does not exist", () => ["/nonexistent/kernel.elf"], /^error: .*\/nonexistent\/kernel\.elf/, "spawn"],
  ];

  for (const [name, args, message, spawn] of cases) {
    it(name + (spawn ? " (child process)" : ""), async () => {
      const result = await (spawn ? runCli : run)(args());
      expect(result.status, `exit status; stderr: ${result.stderr}`).not.toBe(0);
      expect(result.status).not.toBeNull();
      expect(result.stdout).toBe("");
      const lines = result.stderr.split("\n");
      expect(lines, result.stderr).toHaveLength(2); // one line and its newline
      expect(lines[1]).toBe("");
      expect(result.stderr).not.toMatch(/^\s+at /m);
      expect(lines[0]).toMatch(message);
    });
  }

  it("--help, help COMMAND and --version are not errors", async () => {
    for (const args of [["disasm", "--help"], ["help", "disasm"]]) {
      const result = await run(args);
      expect(result.status).toBe(0);
      expect(result.stdout).toMatch(/--hex <bytes>/);
      expect(result.stderr).toBe("");
    }
    const version = await run(["--version"]);
    expect(version.status).toBe(0);
    expect(version.stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });
});

/** A minimal ELF32 i386 executable: one PT_LOAD, .text, .symtab with one global function, string tables. */
function buildTinyElf32(code: number[], symbolName: string): Uint8Array {
  const base = 0x08049000;
  const u16 = (v: number) => [v & 0xff, (v >> 8) & 0xff];
  const u32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
  const shstr = [0, ...Buffer.from(".text\0.symtab\0.strtab\0.shstrtab\0")];
  const str = [0, ...Buffer.from(symbolName + "\0")];
  const symtab = [...new Array(16).fill(0), ...u32(1), ...u32(base), ...u32(code.length), 0x12, 0, ...u16(1)];
  const textOff = 52 + 32;
  const symOff = textOff + code.length;
  const strOff = symOff + symtab.length;
  const shstrOff = strOff + str.length;
  const shOff = shstrOff + shstr.length;
  const section = (...fields: number[]) => fields.flatMap(u32);
  return Uint8Array.from([
    0x7f, 0x45, 0x4c, 0x46, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ...u16(2), ...u16(3), ...u32(1), ...u32(base), ...u32(52), ...u32(shOff), ...u32(0),
    ...u16(52), ...u16(32), ...u16(1), ...u16(40), ...u16(5), ...u16(4),
    ...u32(1), ...u32(textOff), ...u32(base), ...u32(base), ...u32(code.length), ...u32(code.length), ...u32(5), ...u32(0x1000),
    ...code,
    ...symtab,
    ...str,
    ...shstr,
    ...section(0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
    ...section(1, 1, 6, base, textOff, code.length, 0, 0, 16, 0),
    ...section(7, 2, 0, 0, symOff, symtab.length, 3, 1, 4, 16),
    ...section(15, 3, 0, 0, strOff, str.length, 0, 0, 1, 0),
    ...section(23, 3, 0, 0, shstrOff, shstr.length, 0, 0, 1, 0),
  ]);
}
