// Source maps of compiled units (src/jit/source-map.ts) and --jit-dump's files (src/jit/dump.ts):
// every generated line of an instruction's code maps to that instruction's line of the guest
// listing, counted in the script new Function really compiles (two header lines before the body),
// as Node's --enable-source-maps and SourceMapConsumer read stack traces of the running code.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SourceMapConsumer, type RawSourceMap } from "source-map";
import { afterAll, describe, expect, it } from "vitest";
import { formatIntel } from "../../src/decoder/format.js";
import type { Unit } from "../../src/jit/code-cache.js";
import { decodeBlock } from "../../src/jit/discover.js";
import { writeUnitFiles } from "../../src/jit/dump.js";
import {
  NEW_FUNCTION_HEADER_LINES, finishSource, guestListing, guestSourceName, sourceForFile, stripSourceComments,
} from "../../src/jit/source-map.js";
import { translateUnit, type TranslatedUnit } from "../../src/jit/translate.js";

// 0x1000: add rax,rbx / mov rcx,[rbx] / add rax,1 / mov rdx,[rbx] / ret
const CODE = [0x48, 0x01, 0xd8, 0x48, 0x8b, 0x0b, 0x48, 0x83, 0xc0, 0x01, 0x48, 0x8b, 0x13, 0xc3];
const LISTING = [
  "0x1000: add rax,rbx",
  "0x1003: mov rcx,QWORD PTR [rbx]",
  "0x1006: add rax,0x1",
  "0x100a: mov rdx,QWORD PTR [rbx]",
  "0x100d: ret",
];

function translated(code = CODE, rip = 0x1000, mode: 64 | 32 = 64): TranslatedUnit {
  const ram = new Uint8Array(0x3000);
  ram.set(code, 0x1000);
  const block = decodeBlock(ram, rip, 0x1000, mode);
  expect(block.instructions.length).toBeGreaterThan(0);
  return translateUnit([block], mode);
}

function inlineMap(source: string): string {
  const match = /\n\/\/# sourceMappingURL=data:application\/json;charset=utf-8;base64,([A-Za-z0-9+/=]+)$/.exec(source);
  expect(match).not.toBeNull();
  return Buffer.from(match![1], "base64").toString("utf8");
}

/**
 * JavaScript (no TypeScript: it also runs in a child node) building the env of a unit whose memory
 * reads all miss the TLB: the `throwOn`-th call of H.read throws a plain Error, which the unit's
 * catch rethrows with the stack of the faulting instruction's code.
 */
const THROWING_ENV = `
  let calls = 0;
  class CpuException extends Error {}
  const tags = new Float64Array(4096).fill(-1);
  return {
    cpu: { retired: 0, rip: 0 }, regs: new Int32Array(32), lazy: {},
    mmu: { readTag: tags, writeTag: tags, fastBase: new Float64Array(4096), hi: 0 },
    view: new DataView(new ArrayBuffer(16)), ram: new Uint8Array(16),
    helpers: {
      read() { if (++calls === throwOn) throw new Error("read #" + calls); return 0; },
      nonCanonical() {}, badTarget() {},
    },
    exec: () => null, jit: {}, CpuException, parity: new Uint8Array(256), rips: [], before: [],
  };
`;
const throwingEnv = new Function("throwOn", THROWING_ENV) as (throwOn: number) => unknown;

/** Which H.read call faults → the instruction whose code it is in (1-based guest line). */
const FAULTS = [
  { throwOn: 1, guestLine: 2 }, // mov rcx,[rbx]
  { throwOn: 2, guestLine: 4 }, // mov rdx,[rbx]
  { throwOn: 3, guestLine: 5 }, // ret
];

const work = mkdtempSync(join(tmpdir(), "x64emu-source-map-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("finishSource", () => {
  it("counts the header lines new Function puts before the body", () => {
    const text = new Function("E", "BODY").toString();
    expect(text.slice(0, text.indexOf("BODY")).split("\n").length - 1).toBe(NEW_FUNCTION_HEADER_LINES);
  });

  it("ends the source with the sourceURL and an inline copy of the map", () => {
    const t = translated();
    const { source, map } = finishSource("unit_a_1000", t);
    expect(source.startsWith(`${t.body}\n//# sourceURL=jit/unit_a_1000.js\n//# sourceMappingURL=data:application/json;charset=utf-8;base64,`)).toBe(true);
    expect(inlineMap(source)).toBe(map);
    expect(stripSourceComments(source)).toBe(t.body);
  });

  it("embeds the guest listing, and keeps it out of the executable code", async () => {
    const t = translated();
    const { source, map } = finishSource("unit_b_1000", t);
    const raw = JSON.parse(map) as RawSourceMap;
    expect(raw.version).toBe(3);
    expect(raw.file).toBe("unit_b_1000.js");
    expect(raw.sources).toEqual([guestSourceName("unit_b_1000")]);
    expect(raw.sourcesContent).toEqual([LISTING.join("\n")]);
    await SourceMapConsumer.with(raw, null, (consumer) => {
      expect(consumer.sourceContentFor("guest/unit_b_1000.asm")).toBe(LISTING.join("\n"));
    });
    const code = stripSourceComments(source);
    for (const line of LISTING) expect(code).not.toContain(line);
    for (const text of ["add rax", "rax,", "QWORD PTR", "[rbx]"]) expect(code).not.toContain(text);
  });

  it("maps every line of each instruction's code to the instruction's guest line", async () => {
    const t = translated();
    expect(t.lines.length).toBe(LISTING.length);
    const { map } = finishSource("unit_c_1000", t);
    const bodyLines = t.body.split("\n");
    await SourceMapConsumer.with(map, null, (consumer) => {
      const listing = consumer.sourceContentFor("guest/unit_c_1000.asm")!.split("\n");
      for (let line = 0; line < bodyLines.length; line++) {
        let k = -1; // the instruction whose code holds this line
        while (k + 1 < t.lines.length && t.lines[k + 1] <= line) k++;
        const position = consumer.originalPositionFor({ line: line + NEW_FUNCTION_HEADER_LINES + 1, column: 0, bias: SourceMapConsumer.LEAST_UPPER_BOUND });
        if (k < 0) {
          expect(position.source, `body line ${line} (before the first instruction)`).toBeNull();
          continue;
        }
        expect(position.source).toBe("guest/unit_c_1000.asm");
        expect(position.line, `body line ${line}: ${bodyLines[line]}`).toBe(k + 1);
        expect(position.column).toBe(0);
        expect(listing[position.line! - 1]).toBe(LISTING[k]);
      }
      // each instruction's first line is its `// 0x<address>` comment
      t.lines.forEach((start, k) => expect(bodyLines[start]).toBe(`// 0x${t.rips[k].toString(16)}`));
    });
  });

  it("maps the line of a stack frame in the running unit to the faulting instruction", async () => {
    const t = translated();
    for (const { throwOn, guestLine } of FAULTS) {
      const name = `unit_d${throwOn}_1000`;
      const { source, map } = finishSource(name, t);
      const factory = new Function("E", source) as (env: unknown) => (budget: number) => number;
      const fn = factory(throwingEnv(throwOn));
      let stack = "";
      try {
        fn(1000);
      } catch (error) {
        stack = String((error as Error).stack);
      }
      expect(stack).toContain(`read #${throwOn}`);
      const frame = new RegExp(`jit/${name}\\.js:(\\d+):(\\d+)`).exec(stack);
      expect(frame, stack).not.toBeNull();
      const line = Number(frame![1]), column = Number(frame![2]) - 1;
      // the frame's line counts the two header lines: body line = line - 3
      expect(t.body.split("\n")[line - NEW_FUNCTION_HEADER_LINES - 1]).toContain("H.read(");
      await SourceMapConsumer.with(map, null, (consumer) => {
        const position = consumer.originalPositionFor({ line, column });
        expect(position.source).toBe(`guest/${name}.asm`);
        expect(position.line).toBe(guestLine);
      });
    }
  });

  it("shows guest addresses in node --enable-source-maps stack traces", () => {
    const t = translated();
    const runner = join(work, "runner.mjs");
    writeFileSync(runner, [
      `import { readFileSync } from "node:fs";`,
      `const { source, throwOn } = JSON.parse(readFileSync(process.argv[2], "utf8"));`,
      `const env = new Function("throwOn", ${JSON.stringify(THROWING_ENV)})(throwOn);`,
      `try { new Function("E", source)(env)(1000); console.log("no fault"); } catch (e) { console.log(e.stack); }`,
    ].join("\n"));
    for (const { throwOn, guestLine } of FAULTS) {
      const name = `unit_e${throwOn}_1000`;
      const input = join(work, `${name}.json`);
      writeFileSync(input, JSON.stringify({ source: finishSource(name, t).source, throwOn }));
      const run = spawnSync(process.execPath, ["--enable-source-maps", runner, input], { encoding: "utf8" });
      expect(run.status, run.stderr).toBe(0);
      const frame = /\n\s+at unit \((.*):(\d+):(\d+)\)/.exec(run.stdout);
      expect(frame, run.stdout).not.toBeNull();
      expect(frame![1].endsWith(`guest/${name}.asm`), frame![0]).toBe(true);
      expect(Number(frame![2]), `${frame![0]} should be ${LISTING[guestLine - 1]}`).toBe(guestLine);
      expect(Number(frame![3])).toBe(1);
    }
  });

  it("lists high-half and 32-bit addresses unsigned", () => {
    const high = translated(CODE, -0x7ffff000);
    expect(guestListing(high.instructions, high.rips).split("\n")[0]).toBe("0xffffffff80001000: add rax,rbx");
    const low = translated([0x01, 0xd8, 0x40, 0xc3], 0x1000, 32);
    expect(guestListing(low.instructions, low.rips)).toBe(["0x1000: add eax,ebx", "0x1002: inc eax", "0x1003: ret"].join("\n"));
    low.instructions.forEach((ins, k) => expect(guestListing([ins], low.rips.subarray(k, k + 1))).toBe(`0x${low.rips[k].toString(16)}: ${formatIntel(ins, BigInt(low.rips[k]))}`));
  });

  it("refuses names that could break out of the comment", () => {
    const t = translated();
    expect(() => finishSource("unit\nthrow 1", t)).toThrow(/unsafe/);
    expect(() => finishSource("../x", t)).toThrow(/unsafe/);
  });
});

describe("writeUnitFiles", () => {
  it("writes the script as compiled, pointing at <name>.js.map, and the map", async () => {
    const t = translated();
    const name = "unit_f_1000";
    const { source, map } = finishSource(name, t);
    const dir = mkdtempSync(join(work, "dump-"));
    writeUnitFiles(dir, { name, source, map } as unknown as Unit);
    const file = readFileSync(join(dir, `${name}.js`), "utf8");
    expect(readFileSync(join(dir, `${name}.js.map`), "utf8")).toBe(map);
    expect(file).toBe(sourceForFile(source, `${name}.js.map`));
    expect(file.endsWith(`\n})\n//# sourceURL=jit/${name}.js\n//# sourceMappingURL=${name}.js.map\n`)).toBe(true);
    expect(file).not.toContain("data:");
    // the file is the script new Function compiles: the same text before the comments
    const compiled = new Function("E", source).toString();
    expect(`(${compiled})`.startsWith(file.slice(0, file.indexOf("\n})\n")))).toBe(true);
    // so the map's lines hold for the file
    const fileLines = file.split("\n");
    await SourceMapConsumer.with(map, null, (consumer) => {
      t.lines.forEach((start, k) => {
        const line = start + NEW_FUNCTION_HEADER_LINES + 1;
        expect(fileLines[line - 1]).toBe(`// 0x${t.rips[k].toString(16)}`);
        expect(consumer.originalPositionFor({ line, column: 0 }).line).toBe(k + 1);
      });
    });
  });

  it("writes just the source of a unit without a map", () => {
    const dir = mkdtempSync(join(work, "dump-"));
    writeUnitFiles(dir, { name: "unit_g_1000", source: "return 1;" } as unknown as Unit);
    expect(readFileSync(join(dir, "unit_g_1000.js"), "utf8")).toBe("return 1;");
  });
});
