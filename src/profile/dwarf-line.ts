// DWARF line tables (.debug_line, versions 2 to 5; 32- and 64-bit DWARF): address → source file and
// line, for --profile's frames when the guest image is built with -g (scripts/build-guest.sh
// --debug). Only the line-number program is read — no .debug_info — which is all an address's
// file:line needs. Every read is bounds-checked: a malformed table raises a DwarfError with a
// one-line message, never a RangeError.
import type { ElfFile } from "../machine/elf.js";

export class DwarfError extends Error {
  override name = "DwarfError";
}

export interface SourceLine {
  /** the file's path as the table spells it, joined to its directory ("src/libos/irmin/blake2b.c") */
  file: string;
  /** 1-based; 0 when the compiler gave the address no line */
  line: number;
}

// standard opcodes
const DW_LNS_copy = 1;
const DW_LNS_advance_pc = 2;
const DW_LNS_advance_line = 3;
const DW_LNS_set_file = 4;
const DW_LNS_set_column = 5;
const DW_LNS_negate_stmt = 6;
const DW_LNS_set_basic_block = 7;
const DW_LNS_const_add_pc = 8;
const DW_LNS_fixed_advance_pc = 9;
// extended opcodes
const DW_LNE_end_sequence = 1;
const DW_LNE_set_address = 2;
const DW_LNE_define_file = 3;
// DWARF 5 entry formats: content types and forms
const DW_LNCT_path = 1;
const DW_LNCT_directory_index = 2;
const DW_FORM_block2 = 0x03;
const DW_FORM_block4 = 0x04;
const DW_FORM_data2 = 0x05;
const DW_FORM_data4 = 0x06;
const DW_FORM_data8 = 0x07;
const DW_FORM_string = 0x08;
const DW_FORM_block = 0x09;
const DW_FORM_block1 = 0x0a;
const DW_FORM_data1 = 0x0b;
const DW_FORM_sdata = 0x0d;
const DW_FORM_strp = 0x0e;
const DW_FORM_udata = 0x0f;
const DW_FORM_data16 = 0x1e;
const DW_FORM_line_strp = 0x1f;
const DW_FORM_strx = 0x1a;
const DW_FORM_strx1 = 0x25;
const DW_FORM_strx2 = 0x26;
const DW_FORM_strx3 = 0x27;
const DW_FORM_strx4 = 0x28;

const utf8 = new TextDecoder("utf-8");

/** Bounds-checked little-endian reads with a cursor. */
class Cursor {
  private readonly view: DataView;
  constructor(
    readonly bytes: Uint8Array,
    public at: number,
    public end: number,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  need(size: number): void {
    if (this.at + size > this.end) throw new DwarfError(`.debug_line: truncated at offset 0x${this.at.toString(16)}`);
  }
  u8(): number {
    this.need(1);
    return this.bytes[this.at++]!;
  }
  u16(): number {
    this.need(2);
    const value = this.view.getUint16(this.at, true);
    this.at += 2;
    return value;
  }
  u32(): number {
    this.need(4);
    const value = this.view.getUint32(this.at, true);
    this.at += 4;
    return value;
  }
  u64(): number {
    this.need(8);
    const lo = this.view.getUint32(this.at, true), hi = this.view.getUint32(this.at + 4, true);
    this.at += 8;
    if (hi >= 0x200000) throw new DwarfError(`.debug_line: 64-bit value too large at offset 0x${(this.at - 8).toString(16)}`);
    return hi * 2 ** 32 + lo;
  }
  /** an address of `size` bytes (4 or 8) */
  address(size: number): number {
    if (size === 4) return this.u32();
    if (size === 8) return this.u64();
    throw new DwarfError(`.debug_line: unsupported address size ${size}`);
  }
  uleb(): number {
    let value = 0, scale = 1;
    for (let i = 0; i < 10; i++) {
      const byte = this.u8();
      value += (byte & 0x7f) * scale;
      scale *= 128;
      if ((byte & 0x80) === 0) return value;
    }
    throw new DwarfError(`.debug_line: LEB128 too long at offset 0x${this.at.toString(16)}`);
  }
  sleb(): number {
    let value = 0, scale = 1, byte = 0;
    for (let i = 0; i < 10; i++) {
      byte = this.u8();
      value += (byte & 0x7f) * scale;
      scale *= 128;
      if ((byte & 0x80) === 0) return byte & 0x40 ? value - scale : value;
    }
    throw new DwarfError(`.debug_line: LEB128 too long at offset 0x${this.at.toString(16)}`);
  }
  cstring(): string {
    const stop = this.bytes.indexOf(0, this.at);
    if (stop < 0 || stop >= this.end) throw new DwarfError(`.debug_line: unterminated string at offset 0x${this.at.toString(16)}`);
    const text = utf8.decode(this.bytes.subarray(this.at, stop));
    this.at = stop + 1;
    return text;
  }
  skip(size: number): void {
    this.need(size);
    this.at += size;
  }
}

/** A NUL-terminated string at `offset` in a string section. */
function stringAt(section: Uint8Array | undefined, offset: number, name: string): string {
  if (section === undefined) throw new DwarfError(`.debug_line: refers to ${name}, which the file does not have`);
  if (offset >= section.length) throw new DwarfError(`.debug_line: string offset 0x${offset.toString(16)} outside ${name}`);
  const stop = section.indexOf(0, offset);
  if (stop < 0) throw new DwarfError(`.debug_line: unterminated string in ${name}`);
  return utf8.decode(section.subarray(offset, stop));
}

/** Rows of every sequence: address → (file, line); `line` -1 marks a sequence's end. */
export class LineTable {
  private readonly addresses: Float64Array;
  private readonly lines: Int32Array;
  private readonly fileIds: Int32Array;

  constructor(
    rows: { address: number; line: number; file: number }[],
    private readonly files: string[],
  ) {
    // by address; at equal addresses a sequence's end comes first, so a row starting there wins
    rows.sort((a, b) => a.address - b.address || (a.line === -1 ? 0 : 1) - (b.line === -1 ? 0 : 1));
    this.addresses = Float64Array.from(rows, (row) => row.address);
    this.lines = Int32Array.from(rows, (row) => row.line);
    this.fileIds = Int32Array.from(rows, (row) => row.file);
  }

  get size(): number {
    return this.addresses.length;
  }

  /** The source line holding `address`, or null where no sequence covers it. */
  lookup(address: number): SourceLine | null {
    const addresses = this.addresses;
    let low = 0, high = addresses.length - 1, found = -1;
    while (low <= high) {
      const mid = (low + high) >> 1;
      if (addresses[mid]! <= address) {
        found = mid;
        low = mid + 1;
      } else high = mid - 1;
    }
    if (found < 0 || this.lines[found] === -1) return null;
    return { file: this.files[this.fileIds[found]!]!, line: this.lines[found]! };
  }
}

/** The image's line table, or null when it has no .debug_line (not built with -g). */
export function readLineTable(elf: ElfFile): LineTable | null {
  const section = elf.findSection(".debug_line");
  if (section === undefined || section.size === 0) return null;
  const data = elf.sectionData(section);
  const lineStr = elf.findSection(".debug_line_str");
  const str = elf.findSection(".debug_str");
  return parseDebugLine(data, lineStr ? elf.sectionData(lineStr) : undefined, str ? elf.sectionData(str) : undefined);
}

/** Runs every line-number program in a .debug_line section. */
export function parseDebugLine(data: Uint8Array, debugLineStr?: Uint8Array, debugStr?: Uint8Array): LineTable {
  const rows: { address: number; line: number; file: number }[] = [];
  const files: string[] = [];
  const fileIds = new Map<string, number>();
  const intern = (path: string): number => {
    let id = fileIds.get(path);
    if (id === undefined) {
      id = files.length;
      files.push(path);
      fileIds.set(path, id);
    }
    return id;
  };

  let offset = 0;
  while (offset < data.length) {
    const header = new Cursor(data, offset, data.length);
    let unitLength = header.u32();
    let offsetSize = 4;
    if (unitLength === 0xffffffff) {
      unitLength = header.u64();
      offsetSize = 8;
    } else if (unitLength >= 0xfffffff0) {
      throw new DwarfError(`.debug_line: reserved unit length 0x${unitLength.toString(16)} at offset 0x${offset.toString(16)}`);
    }
    const unitEnd = header.at + unitLength;
    if (unitEnd > data.length) throw new DwarfError(`.debug_line: unit at offset 0x${offset.toString(16)} runs past the section (length ${unitLength})`);
    const c = new Cursor(data, header.at, unitEnd);
    const version = c.u16();
    if (version < 2 || version > 5) throw new DwarfError(`.debug_line: unsupported version ${version} at offset 0x${offset.toString(16)}`);
    let addressSize = 8;
    if (version >= 5) {
      addressSize = c.u8();
      c.u8(); // segment selector size
    }
    const headerLength = offsetSize === 8 ? c.u64() : c.u32();
    const programStart = c.at + headerLength;
    if (programStart > unitEnd) throw new DwarfError(`.debug_line: header of the unit at offset 0x${offset.toString(16)} runs past it`);
    const minimumInstructionLength = c.u8();
    const maximumOpsPerInstruction = version >= 4 ? c.u8() : 1;
    if (maximumOpsPerInstruction !== 1) throw new DwarfError(`.debug_line: VLIW line tables (${maximumOpsPerInstruction} ops per instruction) are not supported`);
    const defaultIsStmt = c.u8();
    void defaultIsStmt;
    const lineBase = (c.u8() << 24) >> 24;
    const lineRange = c.u8();
    const opcodeBase = c.u8();
    if (lineRange === 0) throw new DwarfError(`.debug_line: line_range 0 in the unit at offset 0x${offset.toString(16)}`);
    const standardLengths: number[] = [0];
    for (let i = 1; i < opcodeBase; i++) standardLengths.push(c.u8());

    // directories and files: the unit's file numbers → interned paths
    const directories: string[] = [];
    const unitFiles: number[] = [];
    const join = (directory: string | undefined, name: string): string => {
      if (name.startsWith("/") || directory === undefined || directory === "" || directory === ".") return name;
      return directory.endsWith("/") ? directory + name : `${directory}/${name}`;
    };
    if (version >= 5) {
      const readForm = (form: number): string | number => {
        switch (form) {
          case DW_FORM_string: return c.cstring();
          case DW_FORM_line_strp: return stringAt(debugLineStr, offsetSize === 8 ? c.u64() : c.u32(), ".debug_line_str");
          case DW_FORM_strp: return stringAt(debugStr, offsetSize === 8 ? c.u64() : c.u32(), ".debug_str");
          case DW_FORM_udata: return c.uleb();
          case DW_FORM_sdata: return c.sleb();
          case DW_FORM_data1: return c.u8();
          case DW_FORM_data2: return c.u16();
          case DW_FORM_data4: return c.u32();
          case DW_FORM_data8: c.skip(8); return 0;
          case DW_FORM_data16: c.skip(16); return 0;
          case DW_FORM_block: c.skip(c.uleb()); return 0;
          case DW_FORM_block1: c.skip(c.u8()); return 0;
          case DW_FORM_block2: c.skip(c.u16()); return 0;
          case DW_FORM_block4: c.skip(c.u32()); return 0;
          case DW_FORM_strx: case DW_FORM_strx1: case DW_FORM_strx2: case DW_FORM_strx3: case DW_FORM_strx4:
            throw new DwarfError(".debug_line: string index forms (DW_FORM_strx*, split DWARF) are not supported");
          default:
            throw new DwarfError(`.debug_line: unknown form 0x${form.toString(16)} in an entry format`);
        }
      };
      const readEntries = (): { path: string; directory: number }[] => {
        const formatCount = c.u8();
        const format: [number, number][] = [];
        for (let i = 0; i < formatCount; i++) format.push([c.uleb(), c.uleb()]);
        const count = c.uleb();
        if (count > unitEnd - c.at) throw new DwarfError(`.debug_line: ${count} entries cannot fit in the unit at offset 0x${offset.toString(16)}`);
        const entries: { path: string; directory: number }[] = [];
        for (let i = 0; i < count; i++) {
          let path = "", directory = 0;
          for (const [type, form] of format) {
            const value = readForm(form);
            if (type === DW_LNCT_path) path = String(value);
            else if (type === DW_LNCT_directory_index) directory = Number(value);
          }
          entries.push({ path, directory });
        }
        return entries;
      };
      for (const entry of readEntries()) directories.push(entry.path);
      for (const entry of readEntries()) unitFiles.push(intern(join(directories[entry.directory], entry.path)));
    } else {
      directories.push("."); // index 0: the compilation directory
      for (;;) {
        const name = c.cstring();
        if (name === "") break;
        directories.push(name);
      }
      unitFiles.push(intern("")); // file numbers start at 1 before DWARF 5
      for (;;) {
        const name = c.cstring();
        if (name === "") break;
        const directory = c.uleb();
        c.uleb(); // modification time
        c.uleb(); // length
        unitFiles.push(intern(join(directories[directory], name)));
      }
    }

    // the line-number program
    const p = new Cursor(data, programStart, unitEnd);
    const fileOf = (index: number): number => {
      const id = unitFiles[index];
      if (id === undefined) throw new DwarfError(`.debug_line: file number ${index} not in the file table of the unit at offset 0x${offset.toString(16)}`);
      return id;
    };
    const start = () => ({ address: 0, file: 1, line: 1 }); // file 1 in every version, DWARF 5 included
    let state = start();
    const emit = (line: number) => rows.push({ address: state.address, line, file: fileOf(state.file) });
    while (p.at < unitEnd) {
      const opcode = p.u8();
      if (opcode >= opcodeBase) {
        const adjusted = opcode - opcodeBase;
        state.address += Math.floor(adjusted / lineRange) * minimumInstructionLength;
        state.line += lineBase + (adjusted % lineRange);
        emit(state.line);
        continue;
      }
      switch (opcode) {
        case 0: {
          const length = p.uleb();
          if (length === 0) throw new DwarfError(`.debug_line: empty extended opcode at offset 0x${(p.at - 1).toString(16)}`);
          const next = p.at + length;
          if (next > unitEnd) throw new DwarfError(`.debug_line: extended opcode runs past its unit at offset 0x${p.at.toString(16)}`);
          const sub = p.u8();
          if (sub === DW_LNE_end_sequence) {
            emit(-1);
            state = start();
          } else if (sub === DW_LNE_set_address) {
            state.address = p.address(version >= 5 ? addressSize : length - 1);
          } else if (sub === DW_LNE_define_file) {
            const name = p.cstring();
            const directory = p.uleb();
            unitFiles.push(intern(join(directories[directory], name)));
          }
          p.at = next;
          break;
        }
        case DW_LNS_copy:
          emit(state.line);
          break;
        case DW_LNS_advance_pc:
          state.address += p.uleb() * minimumInstructionLength;
          break;
        case DW_LNS_advance_line:
          state.line += p.sleb();
          break;
        case DW_LNS_set_file:
          state.file = p.uleb();
          break;
        case DW_LNS_set_column:
          p.uleb();
          break;
        case DW_LNS_negate_stmt:
        case DW_LNS_set_basic_block:
          break;
        case DW_LNS_const_add_pc:
          state.address += Math.floor((255 - opcodeBase) / lineRange) * minimumInstructionLength;
          break;
        case DW_LNS_fixed_advance_pc:
          state.address += p.u16();
          break;
        default:
          // a standard opcode this reader does not use (prologue_end, epilogue_begin, set_isa,
          // or newer): skip its ULEB128 arguments
          for (let i = 0; i < standardLengths[opcode]!; i++) p.uleb();
      }
    }
    offset = unitEnd;
  }
  return new LineTable(rows, files);
}
