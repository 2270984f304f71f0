// Mutated copies of a multiboot kernel image for the fuzzed-image test. Most mutations land in the
// bytes the guest really runs (instruction addresses seen in a profiling run of the unmutated
// image), the rest in its data, anywhere in the loaded bytes, in truncations, and in the headers
// the loader reads: the multiboot header (flags and the a.out-kludge address fields, with the
// checksum fixed up so the fields themselves are tested) and the ELF headers (mostly rewritten as
// the ELF32 kernel's an ELF32 linker would make, kludge flag cleared, then damaged: the loader's
// ELF32 path meets them field by field).
import { readFileSync } from "node:fs";
import { parseElf } from "../../../src/machine/elf.js";
import { MULTIBOOT_MAGIC, parseMultibootKernel } from "../../../src/machine/multiboot.js";
import { PcMachine } from "../../../src/machine/pc.js";
import { Rng, caseSeed, hex } from "./fuzz-env.js";

/** Where things are in the unmutated image (file offsets). */
export interface ImageLayout {
  bytes: Uint8Array;
  /** the multiboot header */
  header: number;
  /** the physical address the loaded bytes start at */
  loadAddress: number;
  /** the bytes the loader copies into RAM, [start, end) */
  loaded: { start: number; end: number };
  /** .text, [start, end) */
  text: { start: number; end: number };
  /** file offsets of instructions the guest executed in the profiling run, ascending */
  executed: number[];
}

const AOUT_KLUDGE = 0x10000;
/** the a.out-kludge fields after magic, flags and checksum, in header order */
const KLUDGE_FIELDS = ["header_addr", "load_addr", "load_end_addr", "bss_end_addr", "entry_addr"] as const;

/**
 * Reads the image's layout and profiles it: boots `append` under the JIT with the virtual clock (so
 * the profile, and with it every case of a seed, is the same in every run) and records the address
 * of every instruction the interpreter stepped or a compiled unit contains.
 */
export function imageLayout(path: string, append: string, maxInstructions: number): ImageLayout {
  const bytes = new Uint8Array(readFileSync(path));
  const kernel = parseMultibootKernel(bytes);
  const segment = kernel.segments[0]!;
  const loadedStart = segment.bytes.byteOffset - bytes.byteOffset;
  const loaded = { start: loadedStart, end: loadedStart + segment.bytes.length };
  const textSection = parseElf(bytes).findSection(".text");
  if (textSection === undefined) throw new Error(`${path}: no .text section`);
  const text = { start: textSection.offset, end: textSection.offset + textSection.size };

  const seen = new Set<number>();
  const machine = new PcMachine({
    clock: "virtual",
    rtcBase: new Date("2024-01-01T00:00:00Z"),
    accel: "jit",
    jit: { onCompile: (unit) => unit.rips.forEach((rip) => seen.add(rip)) },
  });
  machine.boot(kernel, "kernel.elf", append);
  const interpreter = machine.interpreter;
  const step = interpreter.step.bind(interpreter);
  interpreter.step = () => {
    seen.add(machine.cpu.rip);
    return step();
  };
  machine.runSync({ maxInstructions });
  const executed = [...seen]
    .map((address) => address - kernel.loadAddress + loaded.start)
    .filter((offset) => offset >= loaded.start && offset < loaded.end)
    .sort((a, b) => a - b);
  return { bytes, header: kernel.header.offset, loadAddress: kernel.loadAddress, loaded, text, executed };
}

export interface MutatedImage {
  index: number;
  kind: string;
  /** kind and where: enough to see what was done at a glance */
  name: string;
  bytes: Uint8Array;
}

/** Mutation kinds and their weights (percent). */
const KINDS: ReadonlyArray<readonly [string, number]> = [
  ["bit-flip", 24], // one bit of an executed instruction
  ["bit-flips", 10], // a few bits anywhere in the loaded bytes, half of them in executed code
  ["zero-run", 10],
  ["random-run", 10],
  ["data", 6], // bits of .rodata/.data
  ["truncate", 10],
  ["multiboot-field", 18],
  ["header-bytes", 12], // ELF header, program headers, multiboot header
];
const WEIGHT_TOTAL = KINDS.reduce((sum, [, weight]) => sum + weight, 0);

/** Mutated image `index` of run `seed`: a pure function of (layout, seed, index). */
export function mutateImage(layout: ImageLayout, seed: number, index: number): MutatedImage {
  const rng = new Rng(caseSeed(seed, index));
  let roll = rng.below(WEIGHT_TOTAL);
  let kind = KINDS[0]![0];
  for (const [name, weight] of KINDS) {
    if (roll < weight) {
      kind = name;
      break;
    }
    roll -= weight;
  }
  const bytes = layout.bytes.slice();
  const view = new DataView(bytes.buffer);
  const { loaded, executed, header } = layout;
  /** a byte of an executed instruction (its first few bytes: opcode, ModRM, displacement) */
  const codeByte = () => executed[rng.below(executed.length)]! + rng.below(4);
  const loadedByte = () => loaded.start + rng.below(loaded.end - loaded.start);
  const flip = (offset: number) => {
    const bit = rng.below(8);
    bytes[offset]! ^= 1 << bit;
    return bit;
  };
  const fixChecksum = () => view.setUint32(header + 8, (-(MULTIBOOT_MAGIC + view.getUint32(header + 4, true)) >>> 0) >>> 0, true);
  let what: string;

  switch (kind) {
    case "bit-flip": {
      const at = codeByte();
      what = `code ${hex(at)} bit ${flip(at)}`;
      break;
    }
    case "bit-flips": {
      const count = 2 + rng.below(15);
      const offsets: number[] = [];
      for (let i = 0; i < count; i++) {
        const at = rng.chance(0.5) ? codeByte() : loadedByte();
        flip(at);
        offsets.push(at);
      }
      what = `${count} bits at ${offsets.slice(0, 4).map(hex).join(",")}${count > 4 ? ",…" : ""}`;
      break;
    }
    case "zero-run":
    case "random-run": {
      const at = rng.chance(0.7) ? codeByte() : loadedByte();
      const length = Math.min(1 + rng.below(rng.chance(0.5) ? 8 : 256), bytes.length - at);
      for (let i = 0; i < length; i++) bytes[at + i] = kind === "zero-run" ? 0 : rng.byte();
      what = `${length} bytes at ${hex(at)}`;
      break;
    }
    case "data": {
      const start = layout.text.end;
      const at = start + rng.below(loaded.end - start);
      what = `${hex(at)} bit ${flip(at)}`;
      break;
    }
    case "truncate": {
      // inside the headers, inside the loaded bytes (the loader must refuse both), or after them
      // (only the section headers and symbols go: the image still boots)
      const r = rng.below(3);
      const length = r === 0 ? rng.below(header + 48) : r === 1 ? loaded.start + rng.below(loaded.end - loaded.start) : loaded.end + rng.below(bytes.length - loaded.end);
      what = `to ${length} bytes`;
      return { index, kind, name: `#${index} ${kind} ${what}`, bytes: bytes.slice(0, length) };
    }
    case "multiboot-field": {
      const field = rng.below(KLUDGE_FIELDS.length + 1);
      const at = header + 4 + (field === 0 ? 0 : 8 + 4 * (field - 1));
      const old = view.getUint32(at, true);
      const value = field === 0 ? old ^ (1 << rng.below(32)) : interestingAddress(rng, old, layout);
      view.setUint32(at, value >>> 0, true);
      // Mostly a consistent header, so the loader's checks on the field are what is tested.
      const fixed = rng.chance(0.9);
      if (fixed) fixChecksum();
      what = `${field === 0 ? "flags" : KLUDGE_FIELDS[field - 1]} ${hex(old)}→${hex(value >>> 0)}${fixed ? "" : " (checksum left stale)"}`;
      break;
    }
    case "header-bytes": {
      // The kludge makes the loader ignore the ELF headers; without it they must describe an ELF32
      // kernel. Most cases rewrite them as one (the same segment and entry, no section table) and
      // damage that, so the ELF32 loader meets them field by field.
      const asElf32 = rng.chance(0.7);
      if (asElf32) bytes.set(asElf32Image(layout));
      const count = 1 + rng.below(4);
      const offsets: number[] = [];
      for (let i = 0; i < count; i++) {
        // the ELF header and its program header (ELF32: 0..0x54; ELF64: 0..0x78), or the multiboot header
        const at = rng.chance(0.8) ? rng.below(asElf32 ? ELF32_HEADERS : 0x78) : header + rng.below(32);
        bytes[at] = rng.chance(0.5) ? rng.byte() : bytes[at]! ^ (1 << rng.below(8));
        offsets.push(at);
      }
      what = `${asElf32 ? "as ELF32, " : ""}${count} bytes at ${offsets.map(hex).join(",")}`;
      break;
    }
    default:
      throw new Error(`unknown mutation kind ${kind}`);
  }
  return { index, kind, name: `#${index} ${kind} ${what}`, bytes };
}

/** the ELF32 header and its one program header */
const ELF32_HEADERS = 52 + 32;

/**
 * Rewrites the start of the file as the ELF32 (EM_386) kernel an ELF32 linker would make of the
 * same load: one PT_LOAD of the loaded bytes at their address, `entry`, no section table.
 */
function writeElf32Headers(bytes: Uint8Array, layout: ImageLayout, entry: number): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const memorySize = view.getUint32(layout.header + 24, true) - layout.loadAddress; // bss_end_addr
  bytes.fill(0, 0, 0x78);
  bytes.set([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1], 0); // magic, ELFCLASS32, little-endian, version 1
  view.setUint16(16, 2, true); // ET_EXEC
  view.setUint16(18, 3, true); // EM_386
  view.setUint32(20, 1, true);
  view.setUint32(24, entry, true);
  view.setUint32(28, 52, true); // e_phoff
  view.setUint16(40, 52, true); // e_ehsize
  view.setUint16(42, 32, true); // e_phentsize
  view.setUint16(44, 1, true); // e_phnum
  view.setUint16(46, 40, true); // e_shentsize
  const ph = 52;
  view.setUint32(ph, 1, true); // PT_LOAD
  view.setUint32(ph + 4, layout.loaded.start, true);
  view.setUint32(ph + 8, layout.loadAddress, true);
  view.setUint32(ph + 12, layout.loadAddress, true);
  view.setUint32(ph + 16, layout.loaded.end - layout.loaded.start, true);
  view.setUint32(ph + 20, memorySize, true);
  view.setUint32(ph + 24, 7, true); // RWX
  view.setUint32(ph + 28, 0x1000, true);
}

/** The unmutated image as an ELF32 kernel without the kludge: the base of most header-bytes cases. */
export function asElf32Image(layout: ImageLayout): Uint8Array {
  const bytes = layout.bytes.slice();
  const view = new DataView(bytes.buffer);
  view.setUint32(layout.header + 4, view.getUint32(layout.header + 4, true) & ~AOUT_KLUDGE, true);
  view.setUint32(layout.header + 8, (-(MULTIBOOT_MAGIC + view.getUint32(layout.header + 4, true)) >>> 0) >>> 0, true);
  writeElf32Headers(bytes, layout, view.getUint32(layout.header + 28, true));
  return bytes;
}

/** A 32-bit address near the field's value, on a region boundary the loader cares about, or random. */
function interestingAddress(rng: Rng, old: number, layout: ImageLayout): number {
  switch (rng.below(6)) {
    case 0:
      return old + rng.pick([-4096, -16, -4, -1, 1, 4, 16, 4096, 0x10000]);
    case 1:
      return rng.pick([0, 1, 0x7fffffff, 0x80000000, 0xfffff000, 0xffffffff]);
    case 2:
      // the multiboot map, the VGA hole, the BIOS, the ROM's GDT, the top of 512 MiB, past RAM
      return rng.pick([0x9000, 0x9500, 0xa0000, 0xf0000, 0xc02b8, 0x1ffe0000, 0x20000000, 0x40000000]) + rng.below(16) * 4;
    case 3:
      // inside the kernel: an executed instruction (an entry there starts mid-function)
      return layout.loadAddress + layout.executed[rng.below(layout.executed.length)]! - layout.loaded.start;
    case 4:
      return layout.loadAddress + rng.below(0x100000);
    default:
      return rng.u32();
  }
}
