// REP MOVS and REP STOS (the guest's memcpy and memset) in page-sized chunks straight on guest RAM,
// for compiled code. Each chunk is one run of whole elements that lies in one page of the source
// and one of the destination, both reachable through the TLB's fast tags (RAM, access allowed, not
// a code page). The registers advance per chunk exactly as the element-by-element loop leaves them,
// and whatever the fast path cannot take (a page that is not plain RAM or not accessible, an element
// straddling pages, overlapping copies, DF=1, segment bases, 32-bit addresses) is left to the
// interpreter's semantics, which go on from the registers as they stand: the instruction is
// restartable at every element. A page merely missing from the TLB (the first memset over a fresh
// allocation touches every page for the first time) is walked here, source before destination as
// the element loop accesses them, so a walk sets the same accessed/dirty bits the loop would; a
// walk that faults leaves the element to the interpreter, which raises the fault itself. It stops at
// the same points as the interpreter's loop (src/machine/interp/semantics/string.ts): after the
// element that brings the count to a nonzero multiple of 65536.
import { P_REP, P_REPNE, type Instruction } from "../decoder/decode.js";
import { DF } from "../decoder/flags.js";
import { M_X, M_Y } from "../decoder/operand-spec.js";
import type { Cpu } from "../machine/cpu.js";
import { ACCESS_READ, ACCESS_WRITE, type Access, type Mmu } from "../machine/paging.js";
import { MOVS_STOS_ROW, REP_CHUNK_MASK } from "../machine/interp/semantics/string.js";

const TWO_32 = 4294967296;

/** MOVS (1) or STOS (2) with REP, or 0. */
function fastStringKind(ins: Instruction): number {
  const kind = MOVS_STOS_ROW[ins.row.id];
  if (kind === 0 || (ins.prefixes & (P_REP | P_REPNE)) === 0 || ins.addrSize !== 8 || ins.mode !== 64) return 0;
  // 64-bit mode ignores ES/CS/SS/DS overrides; FS/GS sources take the slow path
  return kind === 1 && ins.segment >= 4 ? 0 : kind;
}

/**
 * The same fast path for the interpreter's REP MOVS/STOS while the JIT drives it (code run fewer
 * times than the JIT's threshold, such as one memset over a whole fresh heap): runs what it can
 * and reports whether it stopped at a chunk boundary (the instruction must then end there);
 * otherwise the element loop goes on from the registers as they stand (a zero count retires).
 */
export function interpreterStringFastPath(cpu: Cpu, ins: Instruction): boolean {
  const kind = fastStringKind(ins);
  return kind !== 0 && runFastString(cpu, ins, kind);
}

/** The element size of a string instruction. */
function elementSize(ins: Instruction): number {
  return ins.row.operands[0].size === 1 ? 1 : ins.opSize;
}

/** A canonical 64-bit register value as a number, or NaN. */
function address(cpu: Cpu, reg: number): number {
  const hi = cpu.regs[2 * reg + 1];
  return (hi << 16) >> 16 === hi ? hi * TWO_32 + (cpu.regs[2 * reg] >>> 0) : NaN;
}

function advance(cpu: Cpu, reg: number, by: number): void {
  const sum = (cpu.regs[2 * reg] >>> 0) + by;
  cpu.regs[2 * reg] = sum | 0;
  cpu.regs[2 * reg + 1] = (cpu.regs[2 * reg + 1] + Math.floor(sum / TWO_32)) | 0;
}

/**
 * Whether the page of `linear` has a fast tag for `access` (reads: readTag, writes: writeTag),
 * walking the page tables once on a miss. A walk that faults installs nothing and reports false.
 */
function fastPage(mmu: Mmu, linear: number, pageBase: number, index: number, access: Access): boolean {
  const tags = access === ACCESS_WRITE ? mmu.writeTag : mmu.readTag;
  if (tags[index] === pageBase) return true;
  try {
    mmu.translate(linear, access);
  } catch {
    return false;
  }
  return tags[index] === pageBase;
}

/**
 * Runs as much of the REP MOVS/STOS `ins` (kind from fastStringKind) as the fast path allows, up
 * to the next chunk boundary. True when it stopped at that boundary with elements left (the
 * instruction must end there); false when the count reached zero or the rest is the interpreter's.
 */
function runFastString(cpu: Cpu, ins: Instruction, kind: number): boolean {
  if ((cpu.flags & DF) !== 0) return false;
  const size = elementSize(ins);
  const mmu = cpu.mmu;
  const memory = cpu.memory;
  const ram = memory.ram;
  for (;;) {
    const countLo = cpu.regs[2] >>> 0, countHi = cpu.regs[3];
    if (countLo === 0 && countHi === 0) return false;
    const destination = address(cpu, 7);
    if (Number.isNaN(destination)) return false;
    const dOffset = destination % 4096 < 0 ? destination % 4096 + 4096 : destination % 4096;
    const dIndex = (destination >>> 12) & 4095;
    // not past the count, nor past the next chunk boundary below it
    let elements = Math.min(Math.floor((4096 - dOffset) / size), (countLo & REP_CHUNK_MASK) || REP_CHUNK_MASK + 1);
    if (countHi === 0 && countLo < elements) elements = countLo;
    if (kind === 1) {
      const source = address(cpu, 6);
      if (Number.isNaN(source)) return false;
      const sOffset = source % 4096 < 0 ? source % 4096 + 4096 : source % 4096;
      const sIndex = (source >>> 12) & 4095;
      if (!fastPage(mmu, source, source - sOffset, sIndex, ACCESS_READ)) return false;
      if (!fastPage(mmu, destination, destination - dOffset, dIndex, ACCESS_WRITE)) return false;
      // the destination's walk may have evicted the source (same TLB slot)
      if (mmu.readTag[sIndex] !== source - sOffset) return false;
      const dPhysical = mmu.fastBase[dIndex] + dOffset;
      elements = Math.min(elements, Math.floor((4096 - sOffset) / size));
      if (elements === 0) return false;
      const sPhysical = mmu.fastBase[sIndex] + sOffset;
      const bytes = elements * size;
      // a forward copy onto its own not-yet-read source repeats a pattern: element by element only
      if (dPhysical > sPhysical && dPhysical < sPhysical + bytes) return false;
      ram.copyWithin(dPhysical, sPhysical, sPhysical + bytes);
      advance(cpu, 6, bytes);
    } else {
      if (elements === 0) return false;
      if (!fastPage(mmu, destination, destination - dOffset, dIndex, ACCESS_WRITE)) return false;
      const dPhysical = mmu.fastBase[dIndex] + dOffset;
      const bytes = elements * size;
      if (size === 1) ram.fill(cpu.regs[0] & 0xff, dPhysical, dPhysical + bytes);
      else {
        const view = memory.view;
        const lo = cpu.regs[0], hi = cpu.regs[1];
        for (let at = dPhysical, end = dPhysical + bytes; at < end; at += size) {
          if (size === 2) view.setUint16(at, lo & 0xffff, true);
          else {
            view.setInt32(at, lo, true);
            if (size === 8) view.setInt32(at + 4, hi, true);
          }
        }
      }
    }
    advance(cpu, 7, elements * size);
    const remaining = countLo - elements;
    cpu.regs[2] = remaining | 0;
    cpu.regs[3] = (countHi + (remaining < 0 ? -1 : 0)) | 0;
    if ((remaining & REP_CHUNK_MASK) === 0 && (cpu.regs[2] | cpu.regs[3]) !== 0) return true;
  }
}
