// The JIT's command-line options (README "Boot"): --jit-dump DIR writes every compiled unit to DIR
// (JavaScript with its source map; with the default WebAssembly backend, WebAssembly modules too);
// --jit-threshold rejects anything but a positive whole number with one `error:` line and exit
// status 2; --stats with --accel jit adds the JIT's line.
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Script } from "node:vm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, runInProcess, type CliResult } from "../cli/run-cli.js";
import { STATUS_OK, canBuildGuest, guestImage } from "./support/guest-image.js";

const SMALL_BENCH = "bench ncommits=5 depth=3 tree_add=4";
const EXIT_USAGE = 2;

describe.runIf(canBuildGuest)("JIT command-line options", () => {
  let dumpDir = "";
  let run: CliResult;
  let files: string[] = [];

  beforeAll(async () => {
    dumpDir = join(mkdtempSync(join(tmpdir(), "x64emu-jit-dump-")), "units");
    // a low threshold: many units to dump; JavaScript units only, whose source and maps these check
    run = await runInProcess([guestImage(), "--accel", "jit", "--jit-backend", "js", "--jit-threshold", "16", "--clock", "virtual", "--append", SMALL_BENCH, "--stats", "--jit-dump", dumpDir]);
    files = readdirSync(dumpDir).sort();
  }, 120_000);

  afterAll(() => {
    if (dumpDir) rmSync(join(dumpDir, ".."), { recursive: true, force: true });
  });

  const jsFiles = () => files.filter((name) => name.endsWith(".js"));
  const unitsCompiled = () => {
    const line = run.stderr.split("\n").find((l) => l.startsWith("stats: jit: "));
    const match = line === undefined ? null : /^stats: jit: (\d+) units compiled/.exec(line);
    return match === null ? -1 : Number(match[1]);
  };

  it("the run itself: the guest's exit status, its output", () => {
    expect(run.status, run.stderr).toBe(STATUS_OK);
    expect(run.stdout).toContain("[run done]\n");
  });

  it("--stats with --accel jit: the instruction line, then one line starting with 'stats: jit:'", () => {
    const lines = run.stderr.split("\n").filter((line) => line.length > 0);
    expect(lines[0]).toMatch(/^stats: \d+ guest instructions in [\d.]+ s wall time, [\d.]+ MIPS \(accel jit, clock virtual, TSC 1000 MHz\)$/);
    const jitLines = lines.filter((line) => line.startsWith("stats: jit:"));
    expect(jitLines).toHaveLength(1);
    expect(jitLines[0]).toMatch(/^stats: jit: \d+ units compiled \(\d+ loop regions\) in [\d.]+ ms; .*% of instructions in JIT code$/);
    expect(unitsCompiled()).toBeGreaterThan(100);
  });

  it("--jit-dump creates DIR and writes one .js file per compiled unit, each a script V8 compiles", () => {
    expect(jsFiles().length).toBe(unitsCompiled());
    for (const name of jsFiles()) {
      expect(name).toMatch(/^[A-Za-z0-9_.-]+\.js$/);
      const text = readFileSync(join(dumpDir, name), "utf8");
      expect(text).toContain("function unit(budget)");
      expect(() => new Script(text, { filename: name }), name).not.toThrow();
    }
  });

  it("--jit-dump writes each unit's source map (<name>.js.map, version 3, mapping to the guest disassembly)", () => {
    for (const name of jsFiles()) {
      expect(files).toContain(`${name}.map`);
      const map = JSON.parse(readFileSync(join(dumpDir, `${name}.map`), "utf8")) as { version: number; file?: string; sources: string[]; sourcesContent?: string[]; mappings: string };
      expect(map.version).toBe(3);
      expect(map.mappings.length).toBeGreaterThan(0);
      expect(map.sources.length).toBe(1);
      expect(map.sourcesContent?.[0]).toMatch(/^0x[0-9a-f]+: \S/);
    }
  });

  it("--jit-dump: at least one .js file carries a `//# sourceURL=` comment", () => {
    const withSourceUrl = jsFiles().filter((name) => readFileSync(join(dumpDir, name), "utf8").includes("//# sourceURL="));
    expect(jsFiles().length).toBeGreaterThan(0);
    expect(withSourceUrl.length, `of ${jsFiles().length} dumped .js files, none contains '//# sourceURL='`).toBeGreaterThan(0);
  });

  it("--jit-dump with the WebAssembly backend: each unit as a valid WebAssembly module with its guest listing, or as JavaScript", async () => {
    const dir = join(dumpDir, "..", "wasm-units");
    const result = await runInProcess([guestImage(), "--accel", "jit", "--jit-threshold", "16", "--clock", "virtual", "--append", SMALL_BENCH, "--stats", "--jit-dump", dir]);
    expect(result.status, result.stderr).toBe(STATUS_OK);
    const names = readdirSync(dir);
    const modules = names.filter((name) => name.endsWith(".wasm"));
    const scripts = names.filter((name) => name.endsWith(".js"));
    const units = /^stats: jit: (\d+) units compiled/m.exec(result.stderr);
    expect(modules.length + scripts.length).toBe(Number(units?.[1]));
    expect(modules.length).toBeGreaterThan(scripts.length);
    for (const name of modules) {
      expect(WebAssembly.validate(readFileSync(join(dir, name))), name).toBe(true);
      expect(readFileSync(join(dir, name.replace(/\.wasm$/, ".txt")), "utf8")).toMatch(/\n\/\/ [0-9a-f]+: \S/);
    }
  }, 120_000);

  describe("--jit-threshold with a value that is not a positive whole number", () => {
    for (const value of ["0", "-1", "abc"]) {
      it(`'${value}': one error line, exit status 2, the guest never starts`, async () => {
        const result = await runCli([guestImage(), "--accel", "jit", "--clock", "virtual", "--append", SMALL_BENCH, "--jit-threshold", value]);
        expect(result.status).toBe(EXIT_USAGE);
        // exactly one line, naming the option and the value
        expect(result.stderr).toMatch(/^error: --jit-threshold: [^\n]*\n$/);
        expect(result.stderr).toContain(`'${value}'`);
        expect(result.stdout).toBe("");
      });
    }
  });
});
