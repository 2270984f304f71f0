// Multiboot 1 loading exactly as QEMU 7.2's -kernel does it (hw/i386/multiboot.c plus the
// multiboot option ROM and SeaBIOS's e820 map), so a guest finds the same bytes in the same places:
//
// - the header (magic 0x1BADB002, flags, checksum) is searched in the first 8192 bytes, 4-aligned,
//   at offsets below 8192 - 48;
// - with flag bit 16 (the a.out kludge) the header's header_addr/load_addr/load_end_addr/
//   bss_end_addr/entry_addr place the file's bytes, whatever the file format (an ELF64 kernel
//   loads this way); without it the file must be an ELF32 (EM_386), loaded by its PT_LOAD segments'
//   physical addresses. QEMU refuses an x86-64 ELF without the kludge ("Cannot load x86-64 image,
//   give a 32bit one."), and so do we;
// - after the kernel, at the next page boundary: the command line ("<kernel path as given>
//   <args>", so "path " when there are no args), then the boot loader name "qemu";
// - the memory map (e820, 24-byte entries) at 0x9000, the multiboot information at 0x9500:
//   flags 0x24F (mem, boot_device, cmdline, mods with count 0, mmap, boot_loader_name),
//   mem_lower 639, mem_upper from the e820 RAM entry at 1 MiB, boot_device 0x8000FFFF;
// - the CPU enters at the entry address in 32-bit protected mode, paging off, IF=0, with
//   EAX=0x2BADB002, EBX=0x9500 and the rest of the registers, the GDT and the segments as the option
//   ROM leaves them (test/fixtures/guest/probe.c read them back from QEMU).
import { CR0_ET, CR0_PE, CS, DS, ES, FS, GS, SS, SEG_DB, type Cpu } from "./cpu.js";
import { EM_386, EM_X86_64, ElfError, PF_X, PT_LOAD, parseElf } from "./elf.js";
import type { PhysicalMemory } from "./memory.js";

export class MultibootError extends Error {
  override name = "MultibootError";
}

export const MULTIBOOT_MAGIC = 0x1badb002;
export const MULTIBOOT_BOOTLOADER_MAGIC = 0x2badb002;
const HEADER_SEARCH_LIMIT = 8192 - 48;
const FLAG_AOUT_KLUDGE = 0x00010000;

/** Where QEMU's option ROM puts the e820 memory map and the multiboot information structure. */
export const MMAP_ADDRESS = 0x9000;
export const INFO_ADDRESS = 0x9500;
export const INFO_SIZE = 88;
export const INFO_FLAGS = 0x24f;
export const BOOT_DEVICE = 0x8000ffff;
export const MEM_LOWER_KIB = 639;
export const BOOT_LOADER_NAME = "qemu";

/** The option ROM's GDT (null, flat 32-bit code, flat 32-bit data, 16-bit code, 16-bit data). */
export const ROM_GDT_ADDRESS = 0xc02b8;
/**
 * Where that GDT is with a virtio-net-pci NIC: SeaBIOS places the NIC's option ROM first and the
 * multiboot ROM 4 KiB further (measured on QEMU 7.2 with -device virtio-net-pci).
 */
export const ROM_GDT_ADDRESS_WITH_NIC = 0xc12b8;
const ROM_GDT = [
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  0xff, 0xff, 0x00, 0x00, 0x00, 0x9a, 0xcf, 0x00,
  0xff, 0xff, 0x00, 0x00, 0x00, 0x93, 0xcf, 0x00,
  0xff, 0xff, 0x00, 0x00, 0x00, 0x9e, 0x00, 0x00,
  0xff, 0xff, 0x00, 0x00, 0x00, 0x92, 0x00, 0x00,
];

/** The largest -m QEMU's q35 keeps entirely below 4 GiB (from 0xB0000000 it splits RAM at 2 GiB). */
export const MAX_RAM_MIB = 2815;

const PAGE = 4096;
const pageAlign = (value: number) => Math.ceil(value / PAGE) * PAGE;

export interface MultibootHeader {
  /** file offset of the magic */
  offset: number;
  flags: number;
}

export interface LoadSegment {
  /** physical address */
  address: number;
  /** the file's bytes for it (zero-filled up to memorySize) */
  bytes: Uint8Array;
  memorySize: number;
}

export interface MultibootKernel {
  format: "elf32" | "a.out kludge";
  header: MultibootHeader;
  entry: number;
  /** lowest physical address the image covers */
  loadAddress: number;
  /** bytes from loadAddress the image covers, bss included (QEMU's mb_kernel_size) */
  kernelSize: number;
  segments: LoadSegment[];
}

export interface E820Entry {
  base: number;
  length: number;
  /** 1 RAM, 2 reserved */
  type: number;
}

export interface BootInfo {
  infoAddress: number;
  mmapAddress: number;
  mmapLength: number;
  cmdlineAddress: number;
  bootLoaderNameAddress: number;
  modsAddress: number;
  memLower: number;
  memUpper: number;
  cmdline: string;
  /** first address past the kernel, command line and boot loader name */
  end: number;
}

function hex(value: number): string {
  return "0x" + value.toString(16);
}

/** The multiboot header: the first 4-aligned offset below 8144 with the magic and a valid checksum. */
export function findMultibootHeader(bytes: Uint8Array): MultibootHeader | null {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let offset = 0; offset < HEADER_SEARCH_LIMIT && offset + 12 <= bytes.length; offset += 4) {
    if (view.getUint32(offset, true) !== MULTIBOOT_MAGIC) continue;
    const flags = view.getUint32(offset + 4, true);
    const checksum = view.getUint32(offset + 8, true);
    if (((MULTIBOOT_MAGIC + flags + checksum) >>> 0) === 0) return { offset, flags };
  }
  return null;
}

/** Parses a kernel image as QEMU's multiboot loader would, or throws a MultibootError saying why not. */
export function parseMultibootKernel(bytes: Uint8Array): MultibootKernel {
  if (bytes.length === 0) throw new MultibootError("empty file");
  const header = findMultibootHeader(bytes);
  if (header === null) {
    throw new MultibootError(
      "not a multiboot kernel: no multiboot header (magic 0x1badb002 with a valid checksum) in the first 8192 bytes",
    );
  }
  return header.flags & FLAG_AOUT_KLUDGE ? parseKludge(bytes, header) : parseElf32(bytes, header);
}

function parseKludge(bytes: Uint8Array, header: MultibootHeader): MultibootKernel {
  const at = header.offset;
  if (at + 32 > bytes.length) {
    throw new MultibootError(`truncated multiboot header: the a.out kludge fields end at byte ${at + 32}, the file has ${bytes.length}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerAddr = view.getUint32(at + 12, true);
  const loadAddr = view.getUint32(at + 16, true);
  const loadEndAddr = view.getUint32(at + 20, true);
  const bssEndAddr = view.getUint32(at + 24, true);
  const entry = view.getUint32(at + 28, true);
  // QEMU's checks, in its order (its messages in quotes).
  if (headerAddr < loadAddr) throw new MultibootError(`invalid multiboot header: header_addr ${hex(headerAddr)} is below load_addr ${hex(loadAddr)} ("invalid load_addr address")`);
  if (headerAddr - loadAddr > at) throw new MultibootError(`invalid multiboot header: header_addr - load_addr (${hex(headerAddr - loadAddr)}) exceeds the header's file offset ${hex(at)} ("invalid header_addr address")`);
  const textOffset = at - (headerAddr - loadAddr);
  let loadSize: number;
  if (loadEndAddr !== 0) {
    if (loadEndAddr < loadAddr) throw new MultibootError(`invalid multiboot header: load_end_addr ${hex(loadEndAddr)} is below load_addr ${hex(loadAddr)} ("invalid load_end_addr address")`);
    loadSize = loadEndAddr - loadAddr;
  } else {
    loadSize = bytes.length - textOffset;
  }
  if (loadSize > 0xffffffff - loadAddr) throw new MultibootError("invalid multiboot header: the kernel does not fit in the 32-bit address space");
  let kernelSize = loadSize;
  if (bssEndAddr !== 0) {
    if (bssEndAddr < loadAddr + loadSize) throw new MultibootError(`invalid multiboot header: bss_end_addr ${hex(bssEndAddr)} is below load_end_addr ${hex(loadAddr + loadSize)} ("invalid bss_end_addr address")`);
    kernelSize = bssEndAddr - loadAddr;
  }
  if (textOffset + loadSize > bytes.length) {
    throw new MultibootError(
      `truncated image: the multiboot header loads ${loadSize} bytes from file offset ${hex(textOffset)} but the file has ${bytes.length} bytes`,
    );
  }
  return {
    format: "a.out kludge",
    header,
    entry,
    loadAddress: loadAddr,
    kernelSize,
    segments: [{ address: loadAddr, bytes: bytes.subarray(textOffset, textOffset + loadSize), memorySize: kernelSize }],
  };
}

function parseElf32(bytes: Uint8Array, header: MultibootHeader): MultibootKernel {
  if (bytes.length >= 20 && (bytes[18]! | (bytes[19]! << 8)) === EM_X86_64) {
    throw new MultibootError(
      "cannot load an x86-64 ELF without the multiboot a.out kludge (header flag bit 16); QEMU refuses it too: \"Cannot load x86-64 image, give a 32bit one.\"",
    );
  }
  let elf;
  try {
    elf = parseElf(bytes);
  } catch (error) {
    const reason = error instanceof ElfError ? error.message : String(error);
    throw new MultibootError(`the multiboot header has no a.out kludge (flag bit 16), so this must be an ELF32 kernel, but it is not: ${reason}`);
  }
  if (elf.class !== 32) throw new MultibootError("the multiboot header has no a.out kludge (flag bit 16) and this ELF64 file cannot be loaded as an ELF32 kernel");
  if (elf.machine !== EM_386) throw new MultibootError(`not an i386 ELF (e_machine ${elf.machine}); a multiboot ELF kernel without the a.out kludge must be EM_386`);
  let entry = Number(elf.entry) >>> 0;
  let low = Infinity, high = 0;
  const segments: LoadSegment[] = [];
  for (const segment of elf.segments) {
    if (segment.type !== PT_LOAD) continue;
    const address = Number(segment.paddr);
    const vaddr = Number(segment.vaddr);
    if (segment.filesz > segment.memsz) throw new MultibootError(`ELF segment at ${hex(address)}: file size ${segment.filesz} exceeds its memory size ${segment.memsz}`);
    if (segment.offset + segment.filesz > bytes.length) {
      throw new MultibootError(`truncated image: an ELF segment needs file bytes up to ${segment.offset + segment.filesz}, the file has ${bytes.length}`);
    }
    // The entry is a virtual address: when the code segment's paddr differs, translate it (QEMU does).
    const fileEntry = Number(elf.entry) >>> 0;
    if (vaddr !== address && fileEntry >= vaddr && fileEntry < vaddr + segment.filesz && segment.flags & PF_X) {
      entry = (fileEntry - vaddr + address) >>> 0;
    }
    if (segment.memsz > 0) segments.push({ address, bytes: elf.segmentData(segment), memorySize: segment.memsz });
    low = Math.min(low, address);
    high = Math.max(high, address + segment.memsz);
  }
  if (segments.length === 0) throw new MultibootError("the ELF file has no loadable (PT_LOAD) segments");
  if (high > 2 ** 32) throw new MultibootError(`an ELF segment ends at ${hex(high)}, beyond 4 GiB`);
  return { format: "elf32", header, entry, loadAddress: low, kernelSize: high - low, segments };
}

/**
 * SeaBIOS's e820 map for QEMU q35 with `ramBytes` of RAM (all below 4 GiB), as the multiboot ROM
 * copies it: low RAM, the EBDA, the BIOS, RAM from 1 MiB to 128 KiB below the top (SeaBIOS
 * reserves the last 128 KiB), MMCONFIG, the ICH9 RCBA, the BIOS flash, and the AMD HyperTransport
 * hole QEMU reserves for its default (AMD-vendor) CPU.
 */
export function e820Map(ramBytes: number): E820Entry[] {
  return [
    { base: 0, length: 0x9fc00, type: 1 },
    { base: 0x9fc00, length: 0x400, type: 2 },
    { base: 0xf0000, length: 0x10000, type: 2 },
    { base: 0x100000, length: ramBytes - 0x100000 - 0x20000, type: 1 },
    { base: ramBytes - 0x20000, length: 0x20000, type: 2 },
    { base: 0xb0000000, length: 0x10000000, type: 2 },
    { base: 0xfed1c000, length: 0x4000, type: 2 },
    { base: 0xfffc0000, length: 0x40000, type: 2 },
    { base: 0xfd00000000, length: 0x300000000, type: 2 },
  ];
}

const utf8 = new TextEncoder();

/**
 * Copies the kernel into RAM and writes the command line, the boot loader name, the memory map and
 * the multiboot information as QEMU does. `kernelPath` is the image path as the user gave it.
 */
export function loadMultiboot(
  memory: PhysicalMemory,
  kernel: MultibootKernel,
  kernelPath: string,
  args: string,
  gdtAddress: number = ROM_GDT_ADDRESS,
): BootInfo {
  const ramBytes = memory.ramSize;
  const path = utf8.encode(kernelPath);
  const argBytes = utf8.encode(args);
  const name = utf8.encode(BOOT_LOADER_NAME);
  const buffer = kernel.loadAddress + pageAlign(kernel.kernelSize);
  const cmdlineLength = path.length + 1 + argBytes.length + 1;
  const end = buffer + cmdlineLength + name.length + 1;
  if (kernel.loadAddress < INFO_ADDRESS + INFO_SIZE && kernel.loadAddress + kernel.kernelSize > MMAP_ADDRESS) {
    throw new MultibootError(
      `the kernel [${hex(kernel.loadAddress)}, ${hex(kernel.loadAddress + kernel.kernelSize)}) overlaps the multiboot memory map and information at [${hex(MMAP_ADDRESS)}, ${hex(INFO_ADDRESS + INFO_SIZE)})`,
    );
  }
  if (end > ramBytes) {
    throw new MultibootError(
      `the kernel and its command line occupy [${hex(kernel.loadAddress)}, ${hex(end)}), beyond the ${ramBytes / 1048576} MiB of guest RAM`,
    );
  }
  for (const segment of kernel.segments) {
    memory.loadBytes(segment.address, segment.bytes);
    if (segment.memorySize > segment.bytes.length) memory.ram.fill(0, segment.address + segment.bytes.length, segment.address + segment.memorySize);
  }
  const cmdlineAddress = buffer;
  const cmdline = new Uint8Array(cmdlineLength);
  cmdline.set(path, 0);
  cmdline[path.length] = 0x20;
  cmdline.set(argBytes, path.length + 1);
  memory.loadBytes(cmdlineAddress, cmdline);
  const bootLoaderNameAddress = cmdlineAddress + cmdlineLength;
  memory.loadBytes(bootLoaderNameAddress, [...name, 0]);

  const map = e820Map(ramBytes);
  const view = memory.view;
  map.forEach((entry, i) => {
    const at = MMAP_ADDRESS + i * 24;
    view.setUint32(at, 20, true);
    view.setUint32(at + 4, entry.base % 2 ** 32, true);
    view.setUint32(at + 8, Math.floor(entry.base / 2 ** 32), true);
    view.setUint32(at + 12, entry.length % 2 ** 32, true);
    view.setUint32(at + 16, Math.floor(entry.length / 2 ** 32), true);
    view.setUint32(at + 20, entry.type, true);
  });
  const mmapLength = map.length * 24;
  const memUpper = Math.floor(map[3]!.length / 1024);
  const info = INFO_ADDRESS;
  memory.ram.fill(0, info, info + INFO_SIZE);
  view.setUint32(info + 0, INFO_FLAGS, true);
  view.setUint32(info + 4, MEM_LOWER_KIB, true);
  view.setUint32(info + 8, memUpper, true);
  view.setUint32(info + 12, BOOT_DEVICE, true);
  view.setUint32(info + 16, cmdlineAddress, true);
  view.setUint32(info + 20, 0, true); // mods_count
  view.setUint32(info + 24, buffer, true); // mods_addr
  view.setUint32(info + 44, mmapLength, true);
  view.setUint32(info + 48, MMAP_ADDRESS, true);
  view.setUint32(info + 64, bootLoaderNameAddress, true);
  memory.loadBytes(gdtAddress, ROM_GDT);
  return {
    infoAddress: info,
    mmapAddress: MMAP_ADDRESS,
    mmapLength,
    cmdlineAddress,
    bootLoaderNameAddress,
    modsAddress: buffer,
    memLower: MEM_LOWER_KIB,
    memUpper,
    cmdline: `${kernelPath} ${args}`,
    end,
  };
}

/**
 * The CPU state at the kernel's entry, as QEMU's multiboot option ROM leaves it: 32-bit protected
 * mode with the ROM's GDT (CS 0x08, data 0x10, flat 4 GiB), paging off, IF=0, EFLAGS 0x06,
 * EAX=0x2BADB002, EBX=the information, ECX=the entry, EDX=0x0511 (fw_cfg's data port) with
 * mem_upper's high half above it, EDI=0x1000, ESP=0x6F08 (SeaBIOS's stack), IDTR 0/0x3FF.
 */
/**
 * 32-bit protected mode, paging off, CPL 0, flat 4 GiB segments with the option ROM's selectors
 * (code 0x08, data 0x10): the state a multiboot loader hands over, and where test guests start.
 */
export function enterFlatProtectedMode(cpu: Cpu): void {
  cpu.cr0 = CR0_PE | CR0_ET;
  cpu.cpl = 0;
  const granular = 1 << 15;
  for (const segment of [ES, SS, DS, FS, GS]) {
    cpu.segSelector[segment] = 0x10;
    cpu.segBase[segment] = 0;
    cpu.segLimit[segment] = 0xffffffff;
    cpu.segAttributes[segment] = 0x93 | SEG_DB | granular;
  }
  cpu.segSelector[CS] = 0x08;
  cpu.segBase[CS] = 0;
  cpu.segLimit[CS] = 0xffffffff;
  cpu.segAttributes[CS] = 0x9a | SEG_DB | granular;
  cpu.updateMode();
}

export function setMultibootEntryState(cpu: Cpu, kernel: MultibootKernel, info: BootInfo, gdtAddress: number = ROM_GDT_ADDRESS): void {
  cpu.regs.fill(0);
  const set32 = (reg: number, value: number) => cpu.writeReg(reg, 4, false, value | 0, 0);
  set32(0, MULTIBOOT_BOOTLOADER_MAGIC);
  set32(3, info.infoAddress);
  set32(1, kernel.entry);
  set32(2, ((info.memUpper >>> 16) << 16) | 0x0511);
  set32(7, 0x1000);
  set32(4, 0x6f08);
  cpu.rip = kernel.entry >>> 0;
  cpu.setFlags(0x06, 0xffffffff);
  cpu.cr2 = 0;
  cpu.cr3 = 0;
  cpu.cr4 = 0;
  cpu.efer = 0;
  enterFlatProtectedMode(cpu);
  cpu.gdtrBase = gdtAddress;
  cpu.gdtrLimit = ROM_GDT.length - 1;
  cpu.idtrBase = 0;
  cpu.idtrLimit = 0x3ff;
  cpu.halted = false;
  cpu.interruptShadow = false;
}
