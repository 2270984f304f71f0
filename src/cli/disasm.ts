// `disasm`: disassemble hex bytes or an ELF section/symbol in objdump -d's layout.

import type { Command } from "commander";
import { decode, formatIntel, DecodeStatus, type CpuMode } from "../decoder/index.js";
import {
  parseElf,
  ElfError,
  elfFormatName,
  EM_386,
  EM_X86_64,
  ET_REL,
  SHN_LORESERVE,
  SHN_UNDEF,
  SHT_NOBITS,
  STB_GLOBAL,
  STB_WEAK,
  STT_FILE,
  STT_FUNC,
  STT_SECTION,
  type ElfFile,
  type ElfSection,
  type ElfSymbol,
} from "../machine/elf.js";
import { CliError, UsageError, readRegularFile } from "./errors.js";
import { addressColumn, formatInstructionLines, formatLabel, type AddressColumn } from "./objdump-format.js";
import { parseAddress, parseCount, parseHexBytes, parseMode } from "./values.js";

/** Raw commander option values (strings; validated by runDisasm). */
export interface DisasmOptions {
  hex?: string;
  section?: string;
  symbol?: string;
  mode?: string;
  start?: string;
  count?: string;
}

export function registerDisasmCommand(program: Command, write: (text: string) => void): void {
  program
    .command("disasm")
    .description("disassemble x86 code (hex bytes or an ELF file) in objdump -d's layout, Intel syntax")
    .argument("[file]", "an ELF file (32- or 64-bit x86)")
    .option("--hex <bytes>", 'machine code as hex, e.g. "48 89 e5" or "4889e5"')
    .option("--section <name>", "section to disassemble (default .text)")
    .option("--symbol <name>", "disassemble this symbol's bytes (its st_size, or up to the next symbol)")
    .option("--mode <bits>", "64 or 32 (default: 64 for --hex, the ELF class for files)")
    .option("--start <addr>", "address (0x hex or decimal): of the first --hex byte (default 0); for files, where to start inside the section")
    .option("--count <n>", "stop after n instructions")
    .action((file: string | undefined, options: DisasmOptions) => {
      const lines = runDisasm(file, options);
      if (lines.length > 0) write(lines.join("\n") + "\n");
    });
}

/** Validates the options and returns the listing's lines. Throws CliError/UsageError. */
export function runDisasm(file: string | undefined, options: DisasmOptions): string[] {
  const mode = options.mode !== undefined ? parseMode(options.mode) : undefined;
  const count = options.count !== undefined ? parseCount(options.count, "--count") : Infinity;
  const start = options.start !== undefined ? parseAddress(options.start, "--start") : undefined;

  if (options.hex !== undefined) {
    if (file !== undefined) throw new UsageError("give either FILE or --hex, not both");
    if (options.section !== undefined || options.symbol !== undefined) {
      throw new UsageError("--section and --symbol apply to ELF files, not to --hex");
    }
    const code = parseHexBytes(options.hex);
    const cpuMode = mode ?? 64;
    const address = start ?? 0n;
    if (cpuMode === 32 && address + BigInt(code.length) > 1n << 32n) {
      throw new UsageError(`--start ${options.start}: 32-bit code must lie below 4 GiB`);
    }
    const digits = cpuMode === 64 ? 16 : 8;
    return disassembleRegion({
      code,
      address,
      from: 0,
      to: code.length,
      mode: cpuMode,
      column: addressColumn(address, address + BigInt(code.length), digits),
      labels: new Map(),
      maxInstructions: count,
    });
  }

  if (file === undefined) throw new UsageError("nothing to disassemble: give an ELF FILE or --hex BYTES");
  if (options.section !== undefined && options.symbol !== undefined) {
    throw new UsageError("give either --section or --symbol, not both");
  }
  const elf = loadElf(file);
  const request: ElfDisasmRequest = {
    mode: mode ?? elf.class,
    sectionName: options.section,
    symbolName: options.symbol,
    start,
    startText: options.start,
    maxInstructions: count,
  };
  const { header, region } = elfRegion(file, elf, request);
  return region ? header.concat(disassembleRegion(region)) : header;
}

function loadElf(path: string): ElfFile {
  const bytes = readRegularFile(path);
  let elf: ElfFile;
  try {
    elf = parseElf(bytes);
  } catch (error) {
    if (error instanceof ElfError) throw new CliError(`${path}: ${error.message}`);
    throw error;
  }
  if (elf.machine !== EM_X86_64 && elf.machine !== EM_386) {
    throw new CliError(`${path}: not an x86 ELF file (e_machine ${elf.machine})`);
  }
  return elf;
}

interface ElfDisasmRequest {
  mode: CpuMode;
  sectionName: string | undefined;
  symbolName: string | undefined;
  start: bigint | undefined;
  startText: string | undefined;
  maxInstructions: number;
}

/** Resolves the section/symbol/--start request to a region, plus objdump's header lines for it. */
function elfRegion(path: string, elf: ElfFile, request: ElfDisasmRequest): { header: string[]; region?: Region } {
  const relocatable = elf.type === ET_REL;
  let section: ElfSection;
  /** offsets inside the section */
  let from: number, to: number;

  if (request.symbolName !== undefined) {
    const symbol = elf.findSymbol(request.symbolName);
    if (!symbol) throw new CliError(`${path}: no symbol named ${request.symbolName}`);
    if (symbol.sectionIndex === SHN_UNDEF || symbol.sectionIndex >= SHN_LORESERVE || symbol.sectionIndex >= elf.sections.length) {
      throw new CliError(`${path}: symbol ${request.symbolName} is not defined in a section of this file`);
    }
    section = elf.sections[symbol.sectionIndex]!;
    checkHasData(path, section);
    const address = relocatable ? section.addr + symbol.value : symbol.value;
    from = Number(address - section.addr);
    if (address < section.addr || from > section.size) {
      throw new CliError(`${path}: symbol ${request.symbolName} lies outside its section ${section.name}`);
    }
    to = symbol.size > 0 ? Math.min(section.size, from + symbol.size) : nextSymbolOffset(elf, section, from, relocatable);
  } else {
    const name = request.sectionName ?? ".text";
    const found = elf.findSection(name);
    if (!found) throw new CliError(`${path}: no section named ${name}`);
    section = found;
    checkHasData(path, section);
    from = 0;
    to = section.size;
  }

  if (request.start !== undefined) {
    const regionStart = section.addr + BigInt(from);
    const regionEnd = section.addr + BigInt(to);
    if (request.start < regionStart || request.start >= regionEnd) {
      const what = request.symbolName !== undefined ? `symbol ${request.symbolName}` : `section ${section.name}`;
      throw new UsageError(
        `--start ${request.startText}: outside ${what} (0x${regionStart.toString(16)}-0x${regionEnd.toString(16)})`,
      );
    }
    from = Number(request.start - section.addr);
  }

  const code = elf.sectionData(section);
  const digits = elf.class === 64 ? 16 : 8;
  const symbolsHere = sectionSymbols(elf, section, relocatable);
  const labels = new Map<number, string>();
  for (const [offset, symbol] of symbolsHere) labels.set(offset, symbol.name);

  const header = ["", `${path}:     file format ${elfFormatName(elf)}`, "", "", `Disassembly of section ${section.name}:`, ""];
  if (from >= to) return { header };
  header.push(formatLabel(section.addr + BigInt(from), firstLabel(symbolsHere, section, from), digits));
  return {
    header,
    region: {
      code,
      address: section.addr,
      from,
      to,
      mode: request.mode,
      column: addressColumn(section.addr, section.addr + BigInt(section.size), digits),
      labels,
      labelDigits: digits,
      maxInstructions: request.maxInstructions,
    },
  };
}

function checkHasData(path: string, section: ElfSection): void {
  if (section.type === SHT_NOBITS) throw new CliError(`${path}: section ${section.name} has no bytes in the file (NOBITS)`);
}

/**
 * The symbols that start inside the section, by offset, one per offset: the one objdump would
 * most likely name (functions before other symbols, global before weak before local, .symtab
 * before .dynsym). Section and file symbols and unnamed ones are skipped.
 */
function sectionSymbols(elf: ElfFile, section: ElfSection, relocatable: boolean): Map<number, ElfSymbol> {
  const rank = (s: ElfSymbol): number =>
    (s.type === STT_FUNC ? 0 : 8) + (s.bind === STB_GLOBAL ? 0 : s.bind === STB_WEAK ? 2 : 4) + (s.table === "symtab" ? 0 : 1);
  const byOffset = new Map<number, ElfSymbol>();
  for (const symbol of elf.symbols) {
    if (symbol.sectionIndex !== section.index || symbol.name === "") continue;
    if (symbol.type === STT_SECTION || symbol.type === STT_FILE) continue;
    const address = relocatable ? section.addr + symbol.value : symbol.value;
    if (address < section.addr || address >= section.addr + BigInt(section.size)) continue;
    const offset = Number(address - section.addr);
    const current = byOffset.get(offset);
    if (!current || rank(symbol) < rank(current)) byOffset.set(offset, symbol);
  }
  return new Map([...byOffset].sort((a, b) => a[0] - b[0]));
}

function nextSymbolOffset(elf: ElfFile, section: ElfSection, from: number, relocatable: boolean): number {
  let next = section.size;
  for (const offset of sectionSymbols(elf, section, relocatable).keys()) {
    if (offset > from && offset < next) next = offset;
  }
  return next;
}

/** objdump's name for the first line: the symbol there, else "nearest+0x10", else "<section>" / "<section+0x10>". */
function firstLabel(symbols: Map<number, ElfSymbol>, section: ElfSection, from: number): string {
  let best: [number, ElfSymbol] | undefined;
  for (const entry of symbols) if (entry[0] <= from) best = entry;
  if (best) return best[0] === from ? best[1].name : `${best[1].name}+0x${(from - best[0]).toString(16)}`;
  return from === 0 ? section.name : `${section.name}+0x${from.toString(16)}`;
}

export interface Region {
  /** the bytes; code[0] is at `address` */
  code: Uint8Array;
  address: bigint;
  /** disassemble code[from, to) */
  from: number;
  to: number;
  mode: CpuMode;
  column: AddressColumn;
  /**
   * Symbol starts by offset. Decoding restarts at each (an instruction never runs across one, as in
   * objdump) and a label line is printed before each, except at `from` (the caller labels that).
   */
  labels: Map<number, string>;
  labelDigits?: 16 | 8;
  maxInstructions: number;
}

/** Decodes a region instruction by instruction and formats objdump-style lines. */
export function disassembleRegion(region: Region): string[] {
  const { code, from, to, mode, column, labels } = region;
  const addressMask = mode === 64 ? (1n << 64n) - 1n : (1n << 32n) - 1n;
  const boundaries = [...labels.keys()].filter((offset) => offset > from && offset < to).sort((a, b) => a - b);
  const lines: string[] = [];
  let boundaryIndex = 0;
  let offset = from;
  let count = 0;
  while (offset < to && count < region.maxInstructions) {
    while (boundaryIndex < boundaries.length && boundaries[boundaryIndex]! <= offset) boundaryIndex++;
    const limit = boundaryIndex < boundaries.length ? boundaries[boundaryIndex]! : to;
    if (offset !== from && labels.has(offset)) {
      lines.push("", formatLabel(region.address + BigInt(offset), labels.get(offset)!, region.labelDigits ?? 16));
    }
    const address = (region.address + BigInt(offset)) & addressMask;
    const window = code.subarray(0, limit);
    const instruction = decode(window, offset, mode);
    const remaining = limit - offset;
    let length: number;
    let text: string;
    switch (instruction.status) {
      case DecodeStatus.Ok:
      case DecodeStatus.Unsupported:
        length = clampLength(instruction.length, remaining);
        text = formatIntel(instruction, address);
        break;
      case DecodeStatus.Truncated:
        length = remaining;
        text = "(bad)";
        break;
      default: // Invalid
        length = clampLength(instruction.length, remaining);
        text = "(bad)";
        break;
    }
    lines.push(...formatInstructionLines(address, code.subarray(offset, offset + length), text, column));
    offset += length;
    count++;
  }
  return lines;
}

function clampLength(length: number, remaining: number): number {
  if (!Number.isInteger(length) || length < 1) return 1;
  return Math.min(length, remaining);
}
