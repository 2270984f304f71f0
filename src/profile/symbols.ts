// The guest image's functions, for --profile: address → function from the ELF symbol table
// (.symtab; src/machine/elf.ts reads it), and address → file:line from the DWARF line table when
// the image was built with -g (scripts/build-guest.sh --debug; src/profile/dwarf-line.ts).
import { SHF_ALLOC, SHF_EXECINSTR, STB_GLOBAL, STB_WEAK, STT_FUNC, STT_NOTYPE, type ElfFile } from "../machine/elf.js";
import { readLineTable, type LineTable, type SourceLine } from "./dwarf-line.js";

export class SymbolError extends Error {
  override name = "SymbolError";
}

export interface GuestFunction {
  /** its index in GuestSymbols.functions */
  id: number;
  /** the symbol's name; a static name that several functions share gets its file or address added */
  name: string;
  /** the symbol's address (as the CPU's RIP holds it: canonical, signed above 2^47) */
  start: number;
  /** end (exclusive): start + st_size, or the next symbol for a symbol without a size */
  end: number;
  /** from the line table: the file of the function's first instruction ("" without -g) */
  file: string;
  /** from the line table: the 1-based line of its first instruction (0 without -g) */
  line: number;
}

/** How well a symbol names an address it shares with others: sized functions first, globals next. */
function rank(symbol: { type: number; size: number; bind: number }): number {
  return (symbol.type === STT_FUNC ? 4 : 0) + (symbol.size > 0 ? 2 : 0) + (symbol.bind === STB_GLOBAL ? 1 : symbol.bind === STB_WEAK ? 0.5 : 0);
}

export class GuestSymbols {
  /** by start address */
  readonly functions: GuestFunction[];
  private readonly starts: Float64Array;
  /** executable sections, [start, end) pairs */
  private readonly code: number[];

  private constructor(functions: GuestFunction[], code: number[], readonly lines: LineTable | null) {
    this.functions = functions;
    this.starts = Float64Array.from(functions, (f) => f.start);
    this.code = code;
  }

  /**
   * The functions of `elf`: FUNC symbols, and untyped labels (assembly) in executable sections.
   * Throws SymbolError when there are none (a stripped image), DwarfError for a malformed line table.
   */
  static fromElf(elf: ElfFile): GuestSymbols {
    const address = (value: bigint): number => Number(BigInt.asIntN(64, value));
    const code: number[] = [];
    const sectionEnd = new Map<number, number>();
    for (const section of elf.sections) {
      if ((section.flags & SHF_EXECINSTR) !== 0n && (section.flags & SHF_ALLOC) !== 0n && section.size > 0) {
        code.push(address(section.addr), address(section.addr) + section.size);
        sectionEnd.set(section.index, address(section.addr) + section.size);
      }
    }
    const candidates = elf.symbols.filter(
      (s) => s.table === "symtab" && s.name !== "" && (s.type === STT_FUNC || s.type === STT_NOTYPE) && sectionEnd.has(s.sectionIndex),
    );
    if (candidates.length === 0) throw new SymbolError("no function symbols (the image has no .symtab, or it was stripped)");
    // one symbol per address: the best-ranked, then the first by name
    const byStart = new Map<number, (typeof candidates)[number]>();
    for (const symbol of candidates) {
      const at = address(symbol.value);
      const held = byStart.get(at);
      if (held === undefined || rank(symbol) > rank(held) || (rank(symbol) === rank(held) && symbol.name < held.name)) byStart.set(at, symbol);
    }
    const chosen = [...byStart.entries()].sort((a, b) => a[0] - b[0]);
    const lines = readLineTable(elf);
    const functions: GuestFunction[] = chosen.map(([start, symbol], i) => {
      const limit = sectionEnd.get(symbol.sectionIndex)!;
      const next = i + 1 < chosen.length ? chosen[i + 1]![0] : limit;
      const end = symbol.size > 0 ? start + symbol.size : Math.min(next, limit);
      const source = lines?.lookup(start);
      return { id: i, name: symbol.name, start, end: Math.max(end, start + 1), file: source?.file ?? "", line: source?.line ?? 0 };
    });
    // static functions of the same name in different files: tell them apart
    const named = new Map<string, GuestFunction[]>();
    for (const f of functions) named.set(f.name, [...(named.get(f.name) ?? []), f]);
    for (const same of named.values()) {
      if (same.length < 2) continue;
      for (const f of same) f.name = f.file !== "" ? `${f.name} (${f.file})` : `${f.name}@0x${f.start.toString(16)}`;
    }
    return new GuestSymbols(functions, code, lines);
  }

  /** The function holding `address`, or null. */
  find(address: number): GuestFunction | null {
    const starts = this.starts;
    let low = 0, high = starts.length - 1, found = -1;
    while (low <= high) {
      const mid = (low + high) >> 1;
      if (starts[mid]! <= address) {
        found = mid;
        low = mid + 1;
      } else high = mid - 1;
    }
    // a sized function may hold an untyped label (assembly): look back a few for one that covers it
    for (let i = found; i >= 0 && i > found - 8; i--) {
      const f = this.functions[i]!;
      if (address < f.end) return f;
    }
    return null;
  }

  /** The source line of `address` (an image built with -g), or null. */
  lineAt(address: number): SourceLine | null {
    const line = this.lines?.lookup(address) ?? null;
    return line !== null && line.line > 0 ? line : null;
  }

  /** Whether `address` lies in an executable section: a return address must. */
  isCode(address: number): boolean {
    const code = this.code;
    for (let k = 0; k < code.length; k += 2) if (address >= code[k]! && address < code[k + 1]!) return true;
    return false;
  }
}
