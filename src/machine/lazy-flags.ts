// Lazy arithmetic flags: the common ALU instructions record their operation, size, operands and
// result; CF/PF/AF/ZF/SF/OF are computed only when something reads them. Values of up to 32 bits
// live in the *Lo fields (unsigned); 64-bit values use both halves as int32 pairs.
import { startAsDoubles } from "../util/representation.js";
import { AF, CF, OF, PF, SF, ZF } from "../decoder/flags.js";

export const LAZY_NONE = 0; // the arithmetic flags in Cpu.flags are up to date
export const LAZY_ADD = 1;
export const LAZY_ADC = 2; // carry-in in carryIn
export const LAZY_SUB = 3;
export const LAZY_SBB = 4; // borrow-in in carryIn
export const LAZY_LOGIC = 5; // CF = OF = 0, AF = 0
export const LAZY_INC = 6; // CF preserved from Cpu.flags
export const LAZY_DEC = 7; // CF preserved from Cpu.flags

/** PARITY[b] is PF for a result whose low byte is b (set when the number of one bits is even). */
export const PARITY = new Uint8Array(256);
for (let b = 0; b < 256; b++) {
  let bits = 0;
  for (let v = b; v; v >>= 1) bits += v & 1;
  PARITY[b] = bits % 2 === 0 ? 1 : 0;
}

/** The lazy-flags record. One per CPU; the fields are plain numbers so nothing allocates. */
export class LazyFlags {
  op = LAZY_NONE;
  /** operand size in bytes */
  size = 4;
  aLo = 0;
  aHi = 0;
  bLo = 0;
  bHi = 0;
  rLo = 0;
  rHi = 0;
  carryIn = 0;

  constructor() {
    startAsDoubles(this, ["aLo", "aHi", "bLo", "bHi", "rLo", "rHi"]);
  }

  /** Records an operation on values of up to 32 bits (already masked to the size). */
  set(op: number, size: number, a: number, b: number, r: number): void {
    this.op = op;
    this.size = size;
    this.aLo = a;
    this.bLo = b;
    this.rLo = r;
    this.aHi = 0;
    this.bHi = 0;
    this.rHi = 0;
  }

  /** Records a 64-bit operation. */
  set64(op: number, aLo: number, aHi: number, bLo: number, bHi: number, rLo: number, rHi: number): void {
    this.op = op;
    this.size = 8;
    this.aLo = aLo;
    this.aHi = aHi;
    this.bLo = bLo;
    this.bHi = bHi;
    this.rLo = rLo;
    this.rHi = rHi;
  }

  /** The six arithmetic flags implied by the record, merged into `flags` (CF taken from it for INC/DEC). */
  materialize(flags: number): number {
    return (flags & ~(CF | PF | AF | ZF | SF | OF)) | this.cf(flags) | this.pf() | this.af() | this.zf() | this.sf() | this.of();
  }

  /** CF as the bit CF (0 or 1). `flags` supplies the preserved CF of INC/DEC. */
  cf(flags: number): number {
    switch (this.op) {
      case LAZY_ADD: return this.unsignedLess(this.rLo, this.rHi, this.aLo, this.aHi) ? CF : 0;
      case LAZY_ADC: return (this.carryIn ? !this.unsignedLess(this.aLo, this.aHi, this.rLo, this.rHi) : this.unsignedLess(this.rLo, this.rHi, this.aLo, this.aHi)) ? CF : 0;
      case LAZY_SUB: return this.unsignedLess(this.aLo, this.aHi, this.bLo, this.bHi) ? CF : 0;
      case LAZY_SBB: return (this.carryIn ? !this.unsignedLess(this.bLo, this.bHi, this.aLo, this.aHi) : this.unsignedLess(this.aLo, this.aHi, this.bLo, this.bHi)) ? CF : 0;
      case LAZY_LOGIC: return 0;
      default: return flags & CF;
    }
  }

  zf(): number {
    return (this.rLo | this.rHi) === 0 ? ZF : 0;
  }

  sf(): number {
    return this.signBit(this.rLo, this.rHi) ? SF : 0;
  }

  pf(): number {
    return PARITY[this.rLo & 0xff] ? PF : 0;
  }

  af(): number {
    switch (this.op) {
      case LAZY_LOGIC: return 0;
      case LAZY_INC: return (this.rLo & 0xf) === 0 ? AF : 0;
      case LAZY_DEC: return (this.rLo & 0xf) === 0xf ? AF : 0;
      default: return (this.aLo ^ this.bLo ^ this.rLo) & 0x10 ? AF : 0;
    }
  }

  of(): number {
    switch (this.op) {
      case LAZY_ADD: case LAZY_ADC:
        return this.signBit((this.aLo ^ this.rLo) & (this.bLo ^ this.rLo), (this.aHi ^ this.rHi) & (this.bHi ^ this.rHi)) ? OF : 0;
      case LAZY_SUB: case LAZY_SBB:
        return this.signBit((this.aLo ^ this.bLo) & (this.aLo ^ this.rLo), (this.aHi ^ this.bHi) & (this.aHi ^ this.rHi)) ? OF : 0;
      case LAZY_INC: // the result is the most negative value
        return this.isSignMin(this.rLo, this.rHi) ? OF : 0;
      case LAZY_DEC: // the operand was the most negative value
        return this.isSignMin(this.aLo, this.aHi) ? OF : 0;
      default: return 0;
    }
  }

  private signBit(lo: number, hi: number): boolean {
    switch (this.size) {
      case 1: return (lo & 0x80) !== 0;
      case 2: return (lo & 0x8000) !== 0;
      case 4: return (lo & 0x80000000) !== 0;
      default: return hi < 0;
    }
  }

  private isSignMin(lo: number, hi: number): boolean {
    switch (this.size) {
      case 1: return lo === 0x80;
      case 2: return lo === 0x8000;
      case 4: return lo >>> 0 === 0x80000000;
      default: return lo === 0 && hi >>> 0 === 0x80000000;
    }
  }

  /** Unsigned a < b over the record's size (pairs for 64-bit). */
  private unsignedLess(aLo: number, aHi: number, bLo: number, bHi: number): boolean {
    if (this.size === 8 && aHi !== bHi) return aHi >>> 0 < bHi >>> 0;
    return aLo >>> 0 < bLo >>> 0;
  }
}
