// The multiboot loader against what QEMU 7.2 -kernel does (observed with the probe kernel,
// test/fixtures/guest/probe.c, and QEMU's hw/i386/multiboot.c): header search, the a.out kludge
// and its checks, ELF32 loading, the ELF64 refusal, the information structure, memory map,
// command line and boot loader name, and the CPU state at entry.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CS, DS, SS } from "../../src/machine/cpu.js";
import {
  INFO_ADDRESS, MMAP_ADDRESS, MultibootError, e820Map, findMultibootHeader, parseMultibootKernel,
} from "../../src/machine/multiboot.js";
import { PcMachine } from "../../src/machine/pc.js";
import { guestKernels } from "./support/guest-kernels.js";

const MAGIC = 0x1badb002;

/** A flat a.out-kludge image: header at `headerOffset`, loaded at `loadAddr`, `code` after the header. */
function kludgeImage(options: {
  headerOffset?: number; loadAddr?: number; headerAddr?: number; loadEnd?: number; bssEnd?: number; entry?: number; code?: number[]; flags?: number; size?: number;
} = {}): Uint8Array {
  const headerOffset = options.headerOffset ?? 0;
  const loadAddr = options.loadAddr ?? 0x100000;
  const code = options.code ?? [0xf4];
  const size = options.size ?? headerOffset + 32 + code.length;
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  const flags = options.flags ?? 0x00010000;
  view.setUint32(headerOffset, MAGIC, true);
  view.setUint32(headerOffset + 4, flags, true);
  view.setUint32(headerOffset + 8, (-(MAGIC + flags)) >>> 0, true);
  view.setUint32(headerOffset + 12, options.headerAddr ?? loadAddr + headerOffset, true);
  view.setUint32(headerOffset + 16, loadAddr, true);
  view.setUint32(headerOffset + 20, options.loadEnd ?? 0, true);
  view.setUint32(headerOffset + 24, options.bssEnd ?? 0, true);
  view.setUint32(headerOffset + 28, options.entry ?? loadAddr + headerOffset + 32, true);
  bytes.set(code, headerOffset + 32);
  return bytes;
}

const work = mkdtempSync(join(tmpdir(), "x64emu-multiboot-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Assembles `source` (GNU as, Intel syntax) and links it at 1 MiB as an ELF of `bits`. */
function elf(bits: 32 | 64, source: string, ldArgs: string[] = []): Uint8Array {
  const name = `k${Math.random().toString(36).slice(2)}`;
  writeFileSync(join(work, `${name}.s`), `.intel_syntax noprefix\n${source}\n`);
  execFileSync("as", [bits === 32 ? "--32" : "--64", "-o", join(work, `${name}.o`), join(work, `${name}.s`)]);
  execFileSync("ld", ["-m", bits === 32 ? "elf_i386" : "elf_x86_64", "-z", "noexecstack", "-Ttext", "0x100000", "-e", "_start", ...ldArgs, "-o", join(work, `${name}.elf`), join(work, `${name}.o`)]);
  return new Uint8Array(readFileSync(join(work, `${name}.elf`)));
}

const HEADER_ELF = `.section .text
.align 4
.long 0x1BADB002, 0, -0x1BADB002
.global _start
_start: hlt`;

describe("multiboot header search", () => {
  it("finds the first 4-aligned header with a valid checksum below offset 8144", () => {
    expect(findMultibootHeader(kludgeImage())).toEqual({ offset: 0, flags: 0x10000 });
    const late = kludgeImage({ headerOffset: 8140, size: 8200 });
    expect(findMultibootHeader(late)?.offset).toBe(8140);
    expect(findMultibootHeader(kludgeImage({ headerOffset: 8144, size: 8200 }))).toBeNull();
    const badChecksum = kludgeImage();
    badChecksum[8]! ^= 1;
    expect(findMultibootHeader(badChecksum)).toBeNull();
    const unaligned = new Uint8Array(64);
    unaligned.set(kludgeImage().subarray(0, 12), 2);
    expect(findMultibootHeader(unaligned)).toBeNull();
  });

  it("refuses an empty file and a file without a header", () => {
    expect(() => parseMultibootKernel(new Uint8Array(0))).toThrow(/^empty file$/);
    expect(() => parseMultibootKernel(new Uint8Array(100))).toThrow(/not a multiboot kernel: no multiboot header/);
  });
});

describe("a.out kludge", () => {
  it("loads the file from header_addr - load_addr before the header, zero-fills to bss_end, enters at entry_addr", () => {
    const image = kludgeImage({ headerOffset: 16, loadAddr: 0x200000, bssEnd: 0x203000, code: [0x90, 0xf4] });
    const kernel = parseMultibootKernel(image);
    expect(kernel.format).toBe("a.out kludge");
    expect(kernel.loadAddress).toBe(0x200000);
    expect(kernel.kernelSize).toBe(0x3000);
    expect(kernel.entry).toBe(0x200030);
    expect(kernel.segments[0]!.bytes.length).toBe(image.length);
  });

  it("loads only up to load_end_addr", () => {
    const image = kludgeImage({ loadEnd: 0x100022, code: [1, 2, 3, 4] });
    expect(parseMultibootKernel(image).segments[0]!.bytes.length).toBe(0x22);
  });

  it("applies QEMU's checks of the kludge addresses", () => {
    expect(() => parseMultibootKernel(kludgeImage({ headerAddr: 0xfffff }))).toThrow(/invalid load_addr address/);
    expect(() => parseMultibootKernel(kludgeImage({ headerAddr: 0x100010 }))).toThrow(/invalid header_addr address/);
    expect(() => parseMultibootKernel(kludgeImage({ loadEnd: 0x10 }))).toThrow(/invalid load_end_addr address/);
    expect(() => parseMultibootKernel(kludgeImage({ bssEnd: 0x100001 }))).toThrow(/invalid bss_end_addr address/);
    expect(() => parseMultibootKernel(kludgeImage({ loadEnd: 0x100000 + 4096 }))).toThrow(/truncated image: .* 4096 bytes .* file has 33 bytes/);
    expect(() => parseMultibootKernel(kludgeImage().subarray(0, 20))).toThrow(/truncated multiboot header/);
  });

  it("loads an ELF64 kernel that has the kludge (the unikernel's format)", () => {
    const image = elf(64, `.section .text
.align 4
header:
.long 0x1BADB002, 0x00010000, -(0x1BADB002 + 0x00010000)
.long header, 0x100000, 0, 0, _start
.code32
.global _start
_start: hlt`, ["--oformat", "binary"]);
    const kernel = parseMultibootKernel(image);
    expect(kernel.entry).toBe(0x100020);
  });
});

describe("ELF kernels without the kludge", () => {
  it("loads an ELF32 by its PT_LOAD physical addresses", () => {
    const kernel = parseMultibootKernel(elf(32, HEADER_ELF, ["-N"]));
    expect(kernel.format).toBe("elf32");
    expect(kernel.loadAddress).toBe(0x100000);
    expect(kernel.entry).toBe(0x10000c);
  });

  it("translates the entry when the segment's physical and virtual addresses differ", () => {
    const image = elf(32, HEADER_ELF, ["-Ttext", "0xc0100000", "--section-start", ".text=0xc0100000"]);
    // Rewrite p_paddr of the first PT_LOAD to 1 MiB (what AT() in a linker script does).
    const view = new DataView(image.buffer);
    const phoff = view.getUint32(28, true);
    const phentsize = view.getUint16(42, true);
    const phnum = view.getUint16(44, true);
    for (let i = 0; i < phnum; i++) {
      const at = phoff + i * phentsize;
      if (view.getUint32(at, true) === 1 && view.getUint32(at + 8, true) >>> 0 <= 0xc0100000 && (view.getUint32(at + 24, true) & 1)) {
        view.setUint32(at + 12, view.getUint32(at + 8, true) - 0xc0000000, true);
      }
    }
    const kernel = parseMultibootKernel(image);
    expect(kernel.entry).toBe(0x10000c);
  });

  it("refuses an x86-64 ELF without the kludge, as QEMU does", () => {
    expect(() => parseMultibootKernel(elf(64, HEADER_ELF))).toThrow(
      /cannot load an x86-64 ELF without the multiboot a\.out kludge .*"Cannot load x86-64 image, give a 32bit one\."/,
    );
  });

  it("refuses a header without the kludge in a file that is not ELF", () => {
    const image = kludgeImage({ flags: 0 });
    expect(() => parseMultibootKernel(image)).toThrow(/must be an ELF32 kernel, but it is not: not an ELF file/);
  });

  it("refuses an ELF32 whose segments lie beyond the file", () => {
    const image = elf(32, HEADER_ELF);
    expect(() => parseMultibootKernel(image.subarray(0, 0x1004))).toThrow(MultibootError);
  });
});

describe("the multiboot information QEMU 7.2 builds (-m 512)", () => {
  const machine = new PcMachine({ memoryMiB: 512, clock: "virtual" });
  const kernel = parseMultibootKernel(readFileSync(guestKernels().probeElf));
  const info = machine.boot(kernel, "probe.elf", "hello world");
  const view = machine.memory.view;
  const u32 = (address: number) => view.getUint32(address, true);
  const cString = (address: number) => {
    let end = address;
    while (machine.memory.ram[end] !== 0) end++;
    return Buffer.from(machine.memory.ram.subarray(address, end)).toString("latin1");
  };

  it("puts the information at 0x9500 with flags 0x24f, mem_lower 639, mem_upper 523136, boot_device 0x8000ffff", () => {
    expect(info.infoAddress).toBe(0x9500);
    expect(u32(INFO_ADDRESS)).toBe(0x24f);
    expect(u32(INFO_ADDRESS + 4)).toBe(639);
    expect(u32(INFO_ADDRESS + 8)).toBe(523136);
    expect(u32(INFO_ADDRESS + 12)).toBe(0x8000ffff);
    expect(u32(INFO_ADDRESS + 20)).toBe(0); // mods_count
    expect(u32(INFO_ADDRESS + 44)).toBe(0xd8); // mmap_length: 9 entries of 24 bytes
    expect(u32(INFO_ADDRESS + 48)).toBe(0x9000);
  });

  it("writes the command line (path, space, arguments) at the page after the kernel, then \"qemu\"", () => {
    // The probe's image ends (bss included) at 0x109fb4: the next page is 0x10a000.
    expect(u32(INFO_ADDRESS + 16)).toBe(0x10a000);
    expect(u32(INFO_ADDRESS + 24)).toBe(0x10a000); // mods_addr
    expect(cString(0x10a000)).toBe("probe.elf hello world");
    expect(u32(INFO_ADDRESS + 64)).toBe(0x10a016);
    expect(cString(0x10a016)).toBe("qemu");
  });

  it("copies SeaBIOS's e820 map as 24-byte entries at 0x9000", () => {
    const entries = [];
    for (let at = MMAP_ADDRESS; at < MMAP_ADDRESS + 0xd8; at += 24) {
      expect(u32(at)).toBe(20);
      entries.push([u32(at + 8) * 2 ** 32 + u32(at + 4), u32(at + 16) * 2 ** 32 + u32(at + 12), u32(at + 20)]);
    }
    expect(entries).toEqual([
      [0x0, 0x9fc00, 1],
      [0x9fc00, 0x400, 2],
      [0xf0000, 0x10000, 2],
      [0x100000, 0x1fee0000, 1],
      [0x1ffe0000, 0x20000, 2],
      [0xb0000000, 0x10000000, 2],
      [0xfed1c000, 0x4000, 2],
      [0xfffc0000, 0x40000, 2],
      [0xfd00000000, 0x300000000, 2],
    ]);
    expect(e820Map(64 * 1024 * 1024)[3]).toEqual({ base: 0x100000, length: 0x3ee0000, type: 1 });
  });

  it("enters in 32-bit protected mode as the option ROM leaves the CPU", () => {
    const cpu = machine.cpu;
    const reg = (i: number) => cpu.regs[i * 2]! >>> 0;
    expect([0, 3, 1, 2, 6, 7, 5, 4].map(reg)).toEqual([0x2badb002, 0x9500, 0x10000c, 0x00070511, 0, 0x1000, 0, 0x6f08]);
    expect(cpu.rip).toBe(0x10000c);
    expect(cpu.getFlags()).toBe(0x06);
    expect(cpu.cr0 >>> 0).toBe(0x11);
    expect(cpu.mode).toBe(32);
    expect([cpu.segSelector[CS], cpu.segSelector[DS], cpu.segSelector[SS]]).toEqual([0x08, 0x10, 0x10]);
    expect([cpu.gdtrBase, cpu.gdtrLimit, cpu.idtrBase, cpu.idtrLimit]).toEqual([0xc02b8, 0x27, 0, 0x3ff]);
    expect(Array.from(machine.memory.ram.subarray(0xc02c0, 0xc02c8))).toEqual([0xff, 0xff, 0, 0, 0, 0x9a, 0xcf, 0]);
  });

  it("refuses a kernel that does not fit in RAM or overlaps the information", () => {
    const small = new PcMachine({ memoryMiB: 2, clock: "virtual" });
    expect(() => small.boot(parseMultibootKernel(kludgeImage({ loadAddr: 0x1f0000, bssEnd: 0x210000 })), "k", "")).toThrow(/beyond the 2 MiB of guest RAM/);
    expect(() => small.boot(parseMultibootKernel(kludgeImage({ loadAddr: 0x8000, bssEnd: 0xa000 })), "k", "")).toThrow(/overlaps the multiboot memory map/);
  });
});
