import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  EM_386,
  EM_X86_64,
  ET_EXEC,
  ET_REL,
  ElfError,
  PF_R,
  PF_X,
  PT_LOAD,
  SHF_ALLOC,
  SHF_EXECINSTR,
  SHT_PROGBITS,
  SHT_STRTAB,
  SHT_SYMTAB,
  STB_GLOBAL,
  STT_FUNC,
  parseElf,
} from "../../src/machine/elf.js";
import { hostHas } from "../support/host-tools.js";
import { xorshift32 } from "../support/random.js";

const LS = "/usr/bin/ls";
const hasGcc = hostHas("gcc");
const hasReadelf = hostHas("readelf");

const tmp = mkdtempSync(join(tmpdir(), "elf-test-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const TINY_C = `
int counter;
int add(int a, int b) { return a + b; }
long fact(long n) { long r = 1; while (n > 1) r *= n--; return r; }
int bump(void) { return ++counter; }
`;

function compile(extraFlags: string[], name: string): string | undefined {
  const source = join(tmp, "tiny.c");
  writeFileSync(source, TINY_C);
  const object = join(tmp, name);
  const result = spawnSync("gcc", ["-O2", "-c", ...extraFlags, source, "-o", object], { encoding: "utf8" });
  return result.status === 0 ? object : undefined;
}

// ---------------------------------------------------------------------------------------------
// A hand-built ELF32 executable: header, one PT_LOAD, sections null/.text/.symtab/.strtab/.shstrtab.

const TEXT_ADDR = 0x08049000;
const TEXT = [0x55, 0x89, 0xe5, 0x8b, 0x45, 0x08, 0xc3]; // push ebp; mov ebp,esp; mov eax,[ebp+8]; ret

function strtab(names: string[]): { bytes: number[]; offsets: Map<string, number> } {
  const bytes = [0];
  const offsets = new Map<string, number>();
  for (const name of names) {
    offsets.set(name, bytes.length);
    bytes.push(...Buffer.from(name, "utf8"), 0);
  }
  return { bytes, offsets };
}

function buildElf32(): Uint8Array {
  const shstr = strtab([".text", ".symtab", ".strtab", ".shstrtab"]);
  const str = strtab(["_start", "helper"]);
  const u16 = (v: number) => [v & 0xff, (v >> 8) & 0xff];
  const u32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
  const symbol = (name: number, value: number, size: number, info: number, shndx: number) => [
    ...u32(name), ...u32(value), ...u32(size), info, 0, ...u16(shndx),
  ];
  const symtab = [
    ...symbol(0, 0, 0, 0, 0),
    ...symbol(str.offsets.get("helper")!, TEXT_ADDR + 3, 4, STT_FUNC, 1), // locals first (sh_info = 2)
    ...symbol(str.offsets.get("_start")!, TEXT_ADDR, 3, (STB_GLOBAL << 4) | STT_FUNC, 1),
  ];
  // layout: header (52) | phdr (32) | .text | .symtab | .strtab | .shstrtab | section headers
  const textOff = 52 + 32;
  const symOff = textOff + TEXT.length + 1; // +1: unaligned on purpose
  const strOff = symOff + symtab.length;
  const shstrOff = strOff + str.bytes.length;
  const shOff = shstrOff + shstr.bytes.length;
  const header = [
    0x7f, 0x45, 0x4c, 0x46, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ...u16(ET_EXEC), ...u16(EM_386), ...u32(1), ...u32(TEXT_ADDR), ...u32(52), ...u32(shOff), ...u32(0),
    ...u16(52), ...u16(32), ...u16(1), ...u16(40), ...u16(5), ...u16(4),
  ];
  const phdr = [
    ...u32(PT_LOAD), ...u32(textOff), ...u32(TEXT_ADDR), ...u32(TEXT_ADDR), ...u32(TEXT.length), ...u32(0x1000),
    ...u32(PF_R | PF_X), ...u32(0x1000),
  ];
  const section = (name: number, type: number, flags: number, addr: number, off: number, size: number, link: number, info: number, align: number, entsize: number) => [
    ...u32(name), ...u32(type), ...u32(flags), ...u32(addr), ...u32(off), ...u32(size), ...u32(link), ...u32(info), ...u32(align), ...u32(entsize),
  ];
  const sections = [
    ...section(0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
    ...section(shstr.offsets.get(".text")!, SHT_PROGBITS, 6, TEXT_ADDR, textOff, TEXT.length, 0, 0, 16, 0),
    ...section(shstr.offsets.get(".symtab")!, SHT_SYMTAB, 0, 0, symOff, symtab.length, 3, 2, 4, 16),
    ...section(shstr.offsets.get(".strtab")!, SHT_STRTAB, 0, 0, strOff, str.bytes.length, 0, 0, 1, 0),
    ...section(shstr.offsets.get(".shstrtab")!, SHT_STRTAB, 0, 0, shstrOff, shstr.bytes.length, 0, 0, 1, 0),
  ];
  const bytes = [...header, ...phdr, ...TEXT, 0, ...symtab, ...str.bytes, ...shstr.bytes, ...sections];
  expect(header.length).toBe(52);
  expect(shOff + 5 * 40).toBe(bytes.length);
  return Uint8Array.from(bytes);
}

/** deterministic "random" bytes */
const random = xorshift32;

// ---------------------------------------------------------------------------------------------

describe("parseElf on real 64-bit files", () => {
  it("reads /usr/bin/ls", () => {
    const elf = parseElf(readFileSync(LS));
    expect(elf.class).toBe(64);
    expect(elf.machine).toBe(EM_X86_64);
    const text = elf.findSection(".text");
    expect(text).toBeDefined();
    expect(text!.flags & SHF_EXECINSTR).toBe(SHF_EXECINSTR);
    expect(text!.flags & SHF_ALLOC).toBe(SHF_ALLOC);
    expect(elf.sectionData(text!).length).toBe(text!.size);
    expect(text!.size).toBeGreaterThan(1000);
    // the entry point lies inside .text
    expect(elf.entry >= text!.addr && elf.entry < text!.addr + BigInt(text!.size)).toBe(true);
    expect(elf.segments.some((s) => s.type === PT_LOAD && (s.flags & PF_X) !== 0)).toBe(true);
    expect(elf.findSection(".dynsym")).toBeDefined();
    expect(elf.symbols.some((s) => s.table === "dynsym")).toBe(true);
    expect(elf.findSection(".nope")).toBeUndefined();
    expect(elf.findSymbol("no such symbol")).toBeUndefined();
  });

  it.skipIf(!hasReadelf)("agrees with readelf -SW on every section of /usr/bin/ls", () => {
    const elf = parseElf(readFileSync(LS));
    const listing = execFileSync("readelf", ["-SW", LS], { encoding: "utf8" });
    const rows = [...listing.matchAll(/^\s*\[\s*(\d+)\]\s+(\S+)\s+(\S+)\s+([0-9a-f]{16})\s+([0-9a-f]+)\s+([0-9a-f]+)\s/gm)];
    const named = rows.filter((row) => row[1] !== "0");
    expect(named.length).toBe(elf.sections.length - 1);
    for (const [, index, name, type, addr, offset, size] of named) {
      const section = elf.sections[Number(index)]!;
      expect({ name: section.name, addr: section.addr, size: section.size }).toEqual({
        name,
        addr: BigInt("0x" + addr),
        size: parseInt(size!, 16),
      });
      if (type !== "NOBITS") expect(section.offset).toBe(parseInt(offset!, 16));
    }
  });

  it.skipIf(!hasReadelf)("agrees with readelf --dyn-syms on /usr/bin/ls's dynamic symbols", () => {
    const elf = parseElf(readFileSync(LS));
    const listing = execFileSync("readelf", ["--dyn-syms", "-W", LS], { encoding: "utf8" });
    const rows = listing
      .split("\n")
      .map((line) => /^ *(\d+): ([0-9a-f]+) +(\d+) +\w+ +\w+ +\w+ +\w+ ?(\S*)/.exec(line))
      .filter((row) => row !== null && row[1] !== "0")
      .map((row) => ({ name: row![4]!.replace(/@.*$/, ""), value: BigInt("0x" + row![2]), size: Number(row![3]) }));
    expect(rows.length).toBeGreaterThan(50);
    const ours = elf.symbols
      .filter((s) => s.table === "dynsym")
      .map((s) => ({ name: s.name, value: s.value, size: s.size }));
    expect(ours).toEqual(rows);
  });

  it.skipIf(!hasGcc)("reads a gcc-built ELF64 relocatable object with its symbols", () => {
    const object = compile([], "tiny64.o");
    expect(object).toBeDefined();
    const elf = parseElf(readFileSync(object!));
    expect(elf.class).toBe(64);
    expect(elf.type).toBe(ET_REL);
    expect(elf.machine).toBe(EM_X86_64);
    expect(elf.segments).toEqual([]);
    const text = elf.findSection(".text")!;
    expect(text).toBeDefined();
    for (const name of ["add", "fact", "bump"]) {
      const symbol = elf.findSymbol(name)!;
      expect(symbol, name).toBeDefined();
      expect(symbol.type).toBe(STT_FUNC);
      expect(symbol.bind).toBe(STB_GLOBAL);
      expect(symbol.table).toBe("symtab");
      expect(symbol.size).toBeGreaterThan(0);
      expect(elf.sections[symbol.sectionIndex]).toBe(text);
      expect(Number(symbol.value) + symbol.size).toBeLessThanOrEqual(text.size);
    }
    const add = elf.findSymbol("add")!;
    const code = elf.sectionData(text).subarray(Number(add.value), Number(add.value) + add.size);
    expect(code[code.length - 1]).toBe(0xc3); // ret
    expect(elf.findSymbol("counter")!.size).toBe(4);
  });
});

describe("parseElf on 32-bit files", () => {
  it("reads a hand-built ELF32 executable field by field", () => {
    const bytes = buildElf32();
    const elf = parseElf(bytes);
    expect(elf.class).toBe(32);
    expect(elf.type).toBe(ET_EXEC);
    expect(elf.machine).toBe(EM_386);
    expect(elf.entry).toBe(BigInt(TEXT_ADDR));
    expect(elf.segments).toEqual([
      {
        type: PT_LOAD,
        flags: PF_R | PF_X,
        offset: 84,
        vaddr: BigInt(TEXT_ADDR),
        paddr: BigInt(TEXT_ADDR),
        filesz: TEXT.length,
        memsz: 0x1000,
        align: 0x1000n,
      },
    ]);
    expect(elf.sections.map((s) => s.name)).toEqual(["", ".text", ".symtab", ".strtab", ".shstrtab"]);
    const text = elf.findSection(".text")!;
    expect(text).toMatchObject({ index: 1, type: SHT_PROGBITS, flags: 6n, addr: BigInt(TEXT_ADDR), offset: 84, size: 7 });
    expect([...elf.sectionData(text)]).toEqual(TEXT);
    expect([...elf.segmentData(elf.segments[0]!)]).toEqual(TEXT);
    expect(elf.symbols).toEqual([
      { name: "helper", value: BigInt(TEXT_ADDR + 3), size: 4, type: STT_FUNC, bind: 0, other: 0, sectionIndex: 1, table: "symtab" },
      { name: "_start", value: BigInt(TEXT_ADDR), size: 3, type: STT_FUNC, bind: STB_GLOBAL, other: 0, sectionIndex: 1, table: "symtab" },
    ]);
    expect(elf.findSymbol("helper")!.value).toBe(BigInt(TEXT_ADDR + 3));
  });

  it.skipIf(!hasReadelf)("the hand-built ELF32 is one readelf accepts", () => {
    const path = join(tmp, "hand32.elf");
    writeFileSync(path, buildElf32());
    const result = spawnSync("readelf", ["-a", "-W", path], { encoding: "utf8" });
    expect(result.stderr).toBe("");
    expect(result.stdout).toMatch(/Class:\s+ELF32/);
    expect(result.stdout).toMatch(/helper/);
  });

  const object32 = hasGcc ? compile(["-m32"], "tiny32.o") : undefined;
  it.skipIf(!object32)("reads a gcc -m32 object (when gcc can build 32-bit code)", () => {
    const elf = parseElf(readFileSync(object32!));
    expect(elf.class).toBe(32);
    expect(elf.machine).toBe(EM_386);
    const fact = elf.findSymbol("fact")!;
    expect(fact.type).toBe(STT_FUNC);
    expect(elf.sections[fact.sectionIndex]!.name).toBe(".text");
  });
});

describe("parseElf rejects malformed input with an ElfError", () => {
  const expectElfError = (bytes: Uint8Array, message?: RegExp): void => {
    let caught: unknown;
    try {
      parseElf(bytes);
    } catch (error) {
      caught = error;
    }
    expect(caught, "expected an ElfError").toBeInstanceOf(ElfError);
    const text = (caught as Error).message;
    expect(text).not.toMatch(/\n/);
    if (message) expect(text).toMatch(message);
  };

  it("empty input", () => expectElfError(new Uint8Array(0), /not an ELF file/));

  it("random bytes", () => {
    const next = random(12345);
    for (let n = 0; n < 50; n++) {
      const bytes = Uint8Array.from({ length: 1 + (next() % 512) }, () => next() & 0xff);
      expectElfError(bytes, /not an ELF file/);
    }
  });

  it("text that is not ELF", () => expectElfError(new TextEncoder().encode("#!/bin/sh\necho hi\n"), /bad magic/));

  it("unsupported class and byte order", () => {
    const bytes = buildElf32();
    expectElfError(Uint8Array.from([...bytes.subarray(0, 4), 3, ...bytes.subarray(5)]), /class/);
    expectElfError(Uint8Array.from([...bytes.subarray(0, 5), 2, ...bytes.subarray(6)]), /big-endian/);
  });

  it("truncated copies of /usr/bin/ls and of the ELF32", () => {
    const ls = readFileSync(LS);
    for (const length of [4, 15, 16, 20, 63, 64, 200, 4096, ls.length >> 1, ls.length - 1]) {
      expectElfError(ls.subarray(0, length));
    }
    expectElfError(ls.subarray(0, 40), /truncated ELF header/);
    const elf32 = buildElf32();
    for (let length = 0; length < elf32.length; length++) expectElfError(elf32.subarray(0, length));
  });

  it("section header table out of range", () => {
    const bytes = buildElf32();
    new DataView(bytes.buffer).setUint32(32, 0x7ffffff0, true); // e_shoff
    expectElfError(bytes, /section header table out of range/);
  });

  it("section name table index out of range", () => {
    const bytes = buildElf32();
    new DataView(bytes.buffer).setUint16(50, 9, true); // e_shstrndx
    expectElfError(bytes, /section name table index/);
  });

  it("bad string offset in a section name and in a symbol name", () => {
    const bytes = buildElf32();
    const view = new DataView(bytes.buffer);
    const shoff = view.getUint32(32, true);
    const broken = bytes.slice();
    new DataView(broken.buffer).setUint32(shoff + 40, 0x10000, true); // .text's sh_name
    expectElfError(broken, /bad string offset/);
    const symOff = view.getUint32(shoff + 2 * 40 + 16, true);
    const broken2 = bytes.slice();
    new DataView(broken2.buffer).setUint32(symOff + 16, 0x10000, true); // symbol 1's st_name
    expectElfError(broken2, /bad string offset/);
  });

  it("section data and segments outside the file", () => {
    const bytes = buildElf32();
    const shoff = new DataView(bytes.buffer).getUint32(32, true);
    const broken = bytes.slice();
    new DataView(broken.buffer).setUint32(shoff + 40 + 20, 0x100000, true); // .text's sh_size
    expectElfError(broken, /section 1 data out of range/);
    const broken2 = bytes.slice();
    new DataView(broken2.buffer).setUint32(52 + 16, 0x100000, true); // p_filesz
    expectElfError(broken2, /segment 0/);
  });

  it("random corruption of a valid file never escapes as another error type", () => {
    const original = buildElf32();
    const next = random(777);
    for (let n = 0; n < 2000; n++) {
      const bytes = original.slice();
      const flips = 1 + (next() % 4);
      for (let k = 0; k < flips; k++) bytes[next() % bytes.length] = next() & 0xff;
      try {
        parseElf(bytes);
      } catch (error) {
        if (!(error instanceof ElfError)) throw new Error(`corruption ${n}: ${String(error)}`);
        expect((error as Error).message).not.toMatch(/\n/);
      }
    }
  });
});
