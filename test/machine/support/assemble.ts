// Assembles test snippets with GNU as (binutils), so machine tests can be written in assembly.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * Assembles Intel-syntax `source` for a flat binary loaded at `origin` (`.code32` or `.code64`
 * directives switch modes inside; `bits` picks the starting mode) and returns its bytes.
 */
export function assemble(source: string, origin: number, bits: 32 | 64 = 64): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), "x64asm-"));
  try {
    const text = `.intel_syntax noprefix\n.code${bits}\n${source}\n`;
    writeFileSync(join(dir, "a.s"), text);
    execFileSync("as", ["--64", "-o", join(dir, "a.o"), join(dir, "a.s")], { stdio: ["ignore", "pipe", "pipe"] });
    execFileSync("ld", ["-m", "elf_x86_64", "-Ttext", `0x${origin.toString(16)}`, "--oformat", "binary", "-e", "0", "-o", join(dir, "a.bin"), join(dir, "a.o")], { stdio: ["ignore", "pipe", "pipe"] });
    return new Uint8Array(readFileSync(join(dir, "a.bin")));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
