// A little-endian ELF reader (ELF32 and ELF64): header, section headers, program headers and
// symbols (.symtab and .dynsym). Used by `disasm` today and by the multiboot kernel loader later.
//
// Every structural problem in the input raises an ElfError with a one-line message; bounds are
// checked before every read, so a malformed file never surfaces as a RangeError from DataView.

export class ElfError extends Error {
  override name = "ElfError";
}

// e_type
export const ET_REL = 1;
export const ET_EXEC = 2;
export const ET_DYN = 3;
export const ET_CORE = 4;

// e_machine
export const EM_386 = 3;
export const EM_X86_64 = 62;

// sh_type
export const SHT_NULL = 0;
export const SHT_PROGBITS = 1;
export const SHT_SYMTAB = 2;
export const SHT_STRTAB = 3;
export const SHT_RELA = 4;
export const SHT_NOBITS = 8;
export const SHT_REL = 9;
export const SHT_DYNSYM = 11;
export const SHT_SYMTAB_SHNDX = 18;

// sh_flags
export const SHF_WRITE = 0x1n;
export const SHF_ALLOC = 0x2n;
export const SHF_EXECINSTR = 0x4n;

// p_type / p_flags
export const PT_NULL = 0;
export const PT_LOAD = 1;
export const PT_DYNAMIC = 2;
export const PT_INTERP = 3;
export const PT_NOTE = 4;
export const PT_PHDR = 6;
export const PF_X = 1;
export const PF_W = 2;
export const PF_R = 4;

// st_info type (low nibble) and binding (high nibble)
export const STT_NOTYPE = 0;
export const STT_OBJECT = 1;
export const STT_FUNC = 2;
export const STT_SECTION = 3;
export const STT_FILE = 4;
export const STB_LOCAL = 0;
export const STB_GLOBAL = 1;
export const STB_WEAK = 2;

// special section indices
export const SHN_UNDEF = 0;
export const SHN_LORESERVE = 0xff00;
export const SHN_ABS = 0xfff1;
export const SHN_COMMON = 0xfff2;
export const SHN_XINDEX = 0xffff;

export interface ElfSection {
  /** index in the section header table */
  index: number;
  name: string;
  type: number;
  flags: bigint;
  addr: bigint;
  /** file offset of the section's bytes */
  offset: number;
  size: number;
  link: number;
  info: number;
  addralign: bigint;
  entsize: number;
}

export interface ElfSegment {
  type: number;
  /** PF_R | PF_W | PF_X */
  flags: number;
  offset: number;
  vaddr: bigint;
  paddr: bigint;
  filesz: number;
  memsz: number;
  align: bigint;
}

export interface ElfSymbol {
  name: string;
  value: bigint;
  size: number;
  /** STT_* (st_info & 0xf) */
  type: number;
  /** STB_* (st_info >> 4) */
  bind: number;
  /** st_other (visibility) */
  other: number;
  /** section header index, or SHN_UNDEF / SHN_ABS / SHN_COMMON (extended indices are resolved) */
  sectionIndex: number;
  /** which table the symbol came from */
  table: "symtab" | "dynsym";
}

export interface ElfFile {
  class: 32 | 64;
  machine: number;
  entry: bigint;
  type: number;
  /** e_flags */
  flags: number;
  sections: ElfSection[];
  segments: ElfSegment[];
  /** .symtab symbols then .dynsym symbols, each without its table's null entry 0 */
  symbols: ElfSymbol[];
  /** the whole file */
  bytes: Uint8Array;
  /** the section's file bytes (a view, not a copy); NOBITS sections (.bss) have none: empty */
  sectionData(section: ElfSection): Uint8Array;
  /** the segment's file bytes (filesz of them; the loader zero-fills up to memsz) */
  segmentData(segment: ElfSegment): Uint8Array;
  findSection(name: string): ElfSection | undefined;
  /** a symbol by name: .symtab before .dynsym, defined symbols before undefined ones */
  findSymbol(name: string): ElfSymbol | undefined;
}

const ELF_MAGIC = [0x7f, 0x45, 0x4c, 0x46];
const EI_CLASS = 4;
const EI_DATA = 5;
const ELFCLASS32 = 1;
const ELFCLASS64 = 2;
const ELFDATA2LSB = 1;
const ELFDATA2MSB = 2;
const PN_XNUM = 0xffff;

/** Bounds-checked little-endian reads over the file. */
class Reader {
  private readonly view: DataView;
  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  get length(): number {
    return this.bytes.length;
  }
  check(offset: number, size: number, what: string): void {
    if (!Number.isSafeInteger(offset) || offset < 0 || size < 0 || offset + size > this.bytes.length) {
      throw new ElfError(
        `${what} out of range (offset ${hex(offset)}, size ${size}, file size ${this.bytes.length})`,
      );
    }
  }
  u8(offset: number, what: string): number {
    this.check(offset, 1, what);
    return this.view.getUint8(offset);
  }
  u16(offset: number, what: string): number {
    this.check(offset, 2, what);
    return this.view.getUint16(offset, true);
  }
  u32(offset: number, what: string): number {
    this.check(offset, 4, what);
    return this.view.getUint32(offset, true);
  }
  u64(offset: number, what: string): bigint {
    this.check(offset, 8, what);
    return this.view.getBigUint64(offset, true);
  }
}

function hex(value: number | bigint): string {
  return "0x" + value.toString(16);
}

/** A 64-bit file quantity (offset or size) as a JS number, rejected if it cannot be one. */
function toNumber(value: bigint, what: string): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new ElfError(`${what} too large (${hex(value)})`);
  return Number(value);
}

/** Field layout of the two classes; `word` fields are 4 bytes in ELF32 and 8 in ELF64. */
interface Layout {
  ehsize: number;
  shentsize: number;
  phentsize: number;
  symentsize: number;
}
const LAYOUT32: Layout = { ehsize: 52, shentsize: 40, phentsize: 32, symentsize: 16 };
const LAYOUT64: Layout = { ehsize: 64, shentsize: 64, phentsize: 56, symentsize: 24 };

export function parseElf(bytes: Uint8Array): ElfFile {
  const r = new Reader(bytes);
  if (bytes.length < 16 || ELF_MAGIC.some((b, i) => bytes[i] !== b)) {
    throw new ElfError(bytes.length === 0 ? "not an ELF file (empty)" : "not an ELF file (bad magic)");
  }
  const elfClass = bytes[EI_CLASS];
  if (elfClass !== ELFCLASS32 && elfClass !== ELFCLASS64) {
    throw new ElfError(`unknown ELF class ${elfClass}`);
  }
  const data = bytes[EI_DATA];
  if (data === ELFDATA2MSB) throw new ElfError("big-endian ELF files are not supported");
  if (data !== ELFDATA2LSB) throw new ElfError(`unknown ELF data encoding ${data}`);
  const is64 = elfClass === ELFCLASS64;
  const layout = is64 ? LAYOUT64 : LAYOUT32;
  if (bytes.length < layout.ehsize) {
    throw new ElfError(`truncated ELF header (${bytes.length} bytes, need ${layout.ehsize})`);
  }

  /** an address/offset/size field: 4 bytes in ELF32, 8 in ELF64 */
  const word = (offset: number, what: string): bigint => (is64 ? r.u64(offset, what) : BigInt(r.u32(offset, what)));
  const wordSize = is64 ? 8 : 4;

  const type = r.u16(16, "e_type");
  const machine = r.u16(18, "e_machine");
  let p = 24;
  const entry = word(p, "e_entry");
  p += wordSize;
  const phoff = toNumber(word(p, "e_phoff"), "program header offset");
  p += wordSize;
  const shoff = toNumber(word(p, "e_shoff"), "section header offset");
  p += wordSize;
  const flags = r.u32(p, "e_flags");
  const phentsize = r.u16(p + 6, "e_phentsize");
  let phnum = r.u16(p + 8, "e_phnum");
  const shentsize = r.u16(p + 10, "e_shentsize");
  let shnum = r.u16(p + 12, "e_shnum");
  let shstrndx = r.u16(p + 14, "e_shstrndx");

  // --- section headers (read first: extended numbering keeps the real counts in section 0) ---
  const readSectionHeader = (index: number): Omit<ElfSection, "name"> & { nameOffset: number } => {
    const at = shoff + index * shentsize;
    const what = `section header ${index}`;
    r.check(at, layout.shentsize, what);
    if (is64) {
      return {
        index,
        nameOffset: r.u32(at, what),
        type: r.u32(at + 4, what),
        flags: r.u64(at + 8, what),
        addr: r.u64(at + 16, what),
        offset: toNumber(r.u64(at + 24, what), `${what} offset`),
        size: toNumber(r.u64(at + 32, what), `${what} size`),
        link: r.u32(at + 40, what),
        info: r.u32(at + 44, what),
        addralign: r.u64(at + 48, what),
        entsize: toNumber(r.u64(at + 56, what), `${what} entsize`),
      };
    }
    return {
      index,
      nameOffset: r.u32(at, what),
      type: r.u32(at + 4, what),
      flags: BigInt(r.u32(at + 8, what)),
      addr: BigInt(r.u32(at + 12, what)),
      offset: r.u32(at + 16, what),
      size: r.u32(at + 20, what),
      link: r.u32(at + 24, what),
      info: r.u32(at + 28, what),
      addralign: BigInt(r.u32(at + 32, what)),
      entsize: r.u32(at + 36, what),
    };
  };

  const hasSectionTable = shoff !== 0;
  if (hasSectionTable && shentsize < layout.shentsize) {
    throw new ElfError(`bad section header entry size ${shentsize} (need at least ${layout.shentsize})`);
  }
  if (hasSectionTable && (shnum === 0 || shstrndx === SHN_XINDEX || phnum === PN_XNUM)) {
    const first = readSectionHeader(0);
    if (shnum === 0) shnum = first.size;
    if (shstrndx === SHN_XINDEX) shstrndx = first.link;
    if (phnum === PN_XNUM) phnum = first.info;
  }
  if (!hasSectionTable) shnum = 0;
  if (shnum > 0) {
    const tableSize = shnum * shentsize;
    if (shoff + tableSize > bytes.length) {
      throw new ElfError(
        `section header table out of range (offset ${hex(shoff)}, ${shnum} entries, file size ${bytes.length})`,
      );
    }
  }
  const rawSections = Array.from({ length: shnum }, (_, i) => readSectionHeader(i));
  for (const s of rawSections) {
    if (s.type !== SHT_NOBITS && s.type !== SHT_NULL && s.offset + s.size > bytes.length) {
      throw new ElfError(
        `section ${s.index} data out of range (offset ${hex(s.offset)}, size ${s.size}, file size ${bytes.length})`,
      );
    }
  }

  const sectionBytes = (s: { type: number; offset: number; size: number }): Uint8Array =>
    s.type === SHT_NOBITS || s.type === SHT_NULL ? new Uint8Array(0) : bytes.subarray(s.offset, s.offset + s.size);

  /** a NUL-terminated string at `offset` inside a string table section */
  const readString = (table: Uint8Array, offset: number, what: string): string => {
    if (offset >= table.length) {
      if (offset === 0) return ""; // an empty string table: every name is ""
      throw new ElfError(`bad string offset ${offset} for ${what} (string table size ${table.length})`);
    }
    const end = table.indexOf(0, offset);
    if (end < 0) throw new ElfError(`unterminated string at offset ${offset} for ${what}`);
    return decodeName(table.subarray(offset, end));
  };

  let sectionNames: Uint8Array | undefined;
  if (shnum > 0 && shstrndx !== SHN_UNDEF) {
    if (shstrndx >= shnum) throw new ElfError(`section name table index ${shstrndx} out of range (${shnum} sections)`);
    sectionNames = sectionBytes(rawSections[shstrndx]!);
  }
  const sections: ElfSection[] = rawSections.map(({ nameOffset, ...rest }) => ({
    ...rest,
    name: sectionNames ? readString(sectionNames, nameOffset, `section ${rest.index} name`) : "",
  }));

  // --- program headers ---
  const segments: ElfSegment[] = [];
  if (phoff !== 0 && phnum > 0) {
    if (phentsize < layout.phentsize) {
      throw new ElfError(`bad program header entry size ${phentsize} (need at least ${layout.phentsize})`);
    }
    if (phoff + phnum * phentsize > bytes.length) {
      throw new ElfError(
        `program header table out of range (offset ${hex(phoff)}, ${phnum} entries, file size ${bytes.length})`,
      );
    }
    for (let i = 0; i < phnum; i++) {
      const at = phoff + i * phentsize;
      const what = `program header ${i}`;
      const segment: ElfSegment = is64
        ? {
            type: r.u32(at, what),
            flags: r.u32(at + 4, what),
            offset: toNumber(r.u64(at + 8, what), `${what} offset`),
            vaddr: r.u64(at + 16, what),
            paddr: r.u64(at + 24, what),
            filesz: toNumber(r.u64(at + 32, what), `${what} filesz`),
            memsz: toNumber(r.u64(at + 40, what), `${what} memsz`),
            align: r.u64(at + 48, what),
          }
        : {
            type: r.u32(at, what),
            offset: r.u32(at + 4, what),
            vaddr: BigInt(r.u32(at + 8, what)),
            paddr: BigInt(r.u32(at + 12, what)),
            filesz: r.u32(at + 16, what),
            memsz: r.u32(at + 20, what),
            flags: r.u32(at + 24, what),
            align: BigInt(r.u32(at + 28, what)),
          };
      if (segment.type !== PT_NULL && segment.offset + segment.filesz > bytes.length) {
        throw new ElfError(
          `segment ${i} data out of range (offset ${hex(segment.offset)}, size ${segment.filesz}, file size ${bytes.length})`,
        );
      }
      if (segment.type === PT_LOAD && segment.filesz > segment.memsz) {
        throw new ElfError(`segment ${i} has filesz ${segment.filesz} > memsz ${segment.memsz}`);
      }
      segments.push(segment);
    }
  }

  // --- symbols ---
  const symbols: ElfSymbol[] = [];
  const readSymbols = (table: ElfSection, kind: "symtab" | "dynsym"): void => {
    const entsize = table.entsize >= layout.symentsize ? table.entsize : layout.symentsize;
    if (table.link >= sections.length) {
      throw new ElfError(`symbol table ${table.name || table.index} links to missing string table ${table.link}`);
    }
    const strings = sectionBytes(sections[table.link]!);
    const extendedIndex = sections.find((s) => s.type === SHT_SYMTAB_SHNDX && s.link === table.index);
    const extended = extendedIndex ? sectionBytes(extendedIndex) : undefined;
    const count = Math.floor(table.size / entsize);
    for (let i = 1; i < count; i++) {
      const at = table.offset + i * entsize;
      const what = `symbol ${i} of ${table.name || "section " + table.index}`;
      let nameOffset: number, value: bigint, size: number, info: number, other: number, shndx: number;
      if (is64) {
        nameOffset = r.u32(at, what);
        info = r.u8(at + 4, what);
        other = r.u8(at + 5, what);
        shndx = r.u16(at + 6, what);
        value = r.u64(at + 8, what);
        size = toNumber(r.u64(at + 16, what), `${what} size`);
      } else {
        nameOffset = r.u32(at, what);
        value = BigInt(r.u32(at + 4, what));
        size = r.u32(at + 8, what);
        info = r.u8(at + 12, what);
        other = r.u8(at + 13, what);
        shndx = r.u16(at + 14, what);
      }
      if (shndx === SHN_XINDEX && extended && (i + 1) * 4 <= extended.length) {
        shndx = new DataView(extended.buffer, extended.byteOffset + i * 4, 4).getUint32(0, true);
      }
      symbols.push({
        name: readString(strings, nameOffset, what),
        value,
        size,
        type: info & 0xf,
        bind: info >> 4,
        other,
        sectionIndex: shndx,
        table: kind,
      });
    }
  };
  for (const s of sections) if (s.type === SHT_SYMTAB) readSymbols(s, "symtab");
  for (const s of sections) if (s.type === SHT_DYNSYM) readSymbols(s, "dynsym");

  return {
    class: is64 ? 64 : 32,
    machine,
    entry,
    type,
    flags,
    sections,
    segments,
    symbols,
    bytes,
    sectionData(section) {
      if (section.type !== SHT_NOBITS && section.type !== SHT_NULL && section.offset + section.size > bytes.length) {
        throw new ElfError(`section ${section.name || section.index} data out of range`);
      }
      return sectionBytes(section);
    },
    segmentData(segment) {
      r.check(segment.offset, segment.filesz, "segment data");
      return bytes.subarray(segment.offset, segment.offset + segment.filesz);
    },
    findSection(name) {
      return sections.find((s) => s.name === name);
    },
    findSymbol(name) {
      const matches = symbols.filter((s) => s.name === name);
      return matches.find((s) => s.sectionIndex !== SHN_UNDEF) ?? matches[0];
    },
  };
}

const utf8 = new TextDecoder("utf-8");
function decodeName(bytes: Uint8Array): string {
  return utf8.decode(bytes);
}

/** "elf64-x86-64"-style name of the file's format, as objdump prints it. */
export function elfFormatName(elf: Pick<ElfFile, "class" | "machine">): string {
  if (elf.machine === EM_X86_64) return elf.class === 64 ? "elf64-x86-64" : "elf32-x86-64";
  if (elf.machine === EM_386) return "elf32-i386";
  return `elf${elf.class}-little (machine ${elf.machine})`;
}
