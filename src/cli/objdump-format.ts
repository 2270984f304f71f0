// objdump -d's line layout, so our listings diff cleanly against binutils':
//
//   "  401000:\t48 89 e5             \tmov rbp,rsp"
//   "  401004:\t48 b8 88 77 66 55 44 \tmovabs rax,0x1122334455667788"
//   "  40100b:\t33 22 11 "                         <- continuation: the rest of a long instruction
//
// Address column (binutils objdump.c, disassemble_section / disassemble_bytes): the address is
// printed with the target's full vma width (16 hex digits for 64-bit files and modes, 8 for 32-bit),
// then leading zero digits are dropped in groups of four, as many groups as the section's END
// address allows (so a small section prints "   0:" and one ending near 0x401000 prints
// "  401000:"), and the remaining leading zeros become spaces. Bytes column: at most 7 bytes per
// line, each "xx ", padded to 7 slots; a tab; the instruction text. Continuation lines carry the
// address and the remaining bytes (each still followed by a space) and no text.

export const BYTES_PER_LINE = 7;

export interface AddressColumn {
  /** hex digits of the target's vma (16 or 8) */
  digits: 16 | 8;
  /** leading digits dropped from every address */
  skip: number;
}

/** The column layout objdump uses for a section starting at `vma` and ending at `end` (exclusive). */
export function addressColumn(vma: bigint, end: bigint, digits: 16 | 8): AddressColumn {
  const mask = (1n << BigInt(digits * 4)) - 1n;
  const text = (end & mask).toString(16).padStart(digits, "0");
  let skip = 0;
  while (skip < text.length && text[skip] === "0") skip++;
  // objdump: "Don't discard zeros on overflow."
  if (skip === text.length && vma !== 0n) skip = 0;
  if (skip !== 0) skip = (skip - 1) & ~3;
  return { digits, skip };
}

/** "  401000" for the address column (no colon). */
export function formatAddress(address: bigint, column: AddressColumn): string {
  const mask = (1n << BigInt(column.digits * 4)) - 1n;
  const full = (address & mask).toString(16).padStart(column.digits, "0");
  // Keep digits that would be lost (an address past the section end): never truncate a value.
  const firstNonZero = full.search(/[^0]/);
  const skip = firstNonZero >= 0 ? Math.min(column.skip, firstNonZero) : column.skip;
  const kept = full.slice(Math.min(skip, full.length - 1));
  const leadingZeros = /^0*/.exec(kept.slice(0, -1))![0].length;
  return " ".repeat(leadingZeros) + kept.slice(leadingZeros);
}

function byteHex(byte: number): string {
  return byte.toString(16).padStart(2, "0");
}

/** The output lines (without newlines) for one instruction: its first line and any continuation lines. */
export function formatInstructionLines(
  address: bigint,
  bytes: Uint8Array,
  text: string,
  column: AddressColumn,
): string[] {
  const lines: string[] = [];
  const first = Array.from(bytes.subarray(0, BYTES_PER_LINE), (b) => byteHex(b) + " ").join("");
  lines.push(`${formatAddress(address, column)}:\t${first.padEnd(BYTES_PER_LINE * 3, " ")}\t${text}`);
  for (let at = BYTES_PER_LINE; at < bytes.length; at += BYTES_PER_LINE) {
    const rest = Array.from(bytes.subarray(at, at + BYTES_PER_LINE), (b) => byteHex(b) + " ").join("");
    lines.push(`${formatAddress(address + BigInt(at), column)}:\t${rest}`);
  }
  return lines;
}

/** "0000000000401000 <main>:" — objdump's symbol label line (full-width address). */
export function formatLabel(address: bigint, name: string, digits: 16 | 8): string {
  const mask = (1n << BigInt(digits * 4)) - 1n;
  return `${(address & mask).toString(16).padStart(digits, "0")} <${name}>:`;
}
