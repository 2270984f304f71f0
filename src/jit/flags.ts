// Flags in generated code. An ALU instruction whose flags someone may need becomes the "pending
// producer": its operands and result stay in JS locals, conditions right after it are evaluated
// from those locals (cmp+jcc becomes a comparison), and the lazy-flags record (lazy-flags.ts) is
// written only where the full flags must exist: before an instruction run through the shared
// semantics, at block exits, or, for a fault, in the catch handler.
import { LAZY_ADC, LAZY_ADD, LAZY_DEC, LAZY_INC, LAZY_LOGIC, LAZY_SBB, LAZY_SUB } from "../machine/lazy-flags.js";

export interface Producer {
  /** LAZY_* operation */
  readonly op: number;
  readonly size: number;
  /** JS expressions (locals or constants) for the record's fields */
  readonly a: string;
  readonly aHi: string;
  readonly b: string;
  readonly bHi: string;
  readonly r: string;
  readonly rHi: string;
  /** carry/borrow in (ADC/SBB) */
  readonly carry: string;
  /**
   * For instructions that set the flags outright (shifts, IMUL): an expression for the six
   * arithmetic flag bits; the record is then "no lazy operation" plus these bits in cpu.flags.
   */
  readonly direct?: string;
  /** statements that must run before the record is written (INC/DEC: CF into cpu.flags) */
  readonly prefix?: string;
}

/** The six arithmetic flags in RFLAGS. */
export const ARITH_MASK = 0x8d5;

/** A producer whose flags are given outright by `bits` (an expression of CF|PF|AF|ZF|SF|OF bits). */
export function directProducer(size: number, bits: string): Producer {
  return { op: 0, size, a: "0", aHi: "0", b: "0", bHi: "0", r: "0", rHi: "0", carry: "0", direct: bits };
}

/** Statements that write the producer's lazy-flags record. */
export function recordStore(p: Producer): string {
  if (p.direct !== undefined) return `L.op=0;cpu.flags=(cpu.flags&${~ARITH_MASK})|(${p.direct});`;
  let s = `${p.prefix ?? ""}L.op=${p.op};L.size=${p.size};L.aLo=${p.a};L.aHi=${p.aHi};L.bLo=${p.b};L.bHi=${p.bHi};L.rLo=${p.r};L.rHi=${p.rHi};`;
  if (p.op === LAZY_ADC || p.op === LAZY_SBB) s += `L.carryIn=${p.carry};`;
  return s;
}

const SIGN_BIT = [0, 0x80, 0x8000, 0, 0x80000000 | 0];

/** Sign of a value of `size` bytes as a boolean expression (size 8: the high half). */
function sign(lo: string, hi: string, size: number): string {
  if (size === 8) return `(${hi}<0)`;
  if (size === 4) return `(${lo}<0)`;
  return `((${lo}&${SIGN_BIT[size]})!==0)`;
}

function isZero(lo: string, hi: string, size: number): string {
  return size === 8 ? `((${lo}|${hi})===0)` : `(${lo}===0)`;
}

/** Signed value of a 1/2/4-byte operand (values of size 1 and 2 are kept unsigned, size 4 as int32). */
function signed(v: string, size: number): string {
  if (size === 1) return `((${v}<<24)>>24)`;
  if (size === 2) return `((${v}<<16)>>16)`;
  return `(${v}|0)`;
}

function unsigned(v: string, size: number): string {
  return size === 4 ? `(${v}>>>0)` : v;
}

/** a < b unsigned over the producer's size. */
function below(aLo: string, aHi: string, bLo: string, bHi: string, size: number): string {
  if (size === 8) return `((${aHi}>>>0)<(${bHi}>>>0)||(${aHi}===${bHi}&&(${aLo}>>>0)<(${bLo}>>>0)))`;
  return `(${unsigned(aLo, size)}<${unsigned(bLo, size)})`;
}

function lessSigned(aLo: string, aHi: string, bLo: string, bHi: string, size: number): string {
  if (size === 8) return `(${aHi}<${bHi}||(${aHi}===${bHi}&&(${aLo}>>>0)<(${bLo}>>>0)))`;
  return `(${signed(aLo, size)}<${signed(bLo, size)})`;
}

function parity(lo: string): string {
  return `(P[${lo}&255]===1)`;
}

/**
 * Condition `cc` (the low nibble of Jcc/SETcc/CMOVcc) computed from the pending producer, or null
 * when it needs the flags record (the carry of INC/DEC, ADC/SBB).
 */
export function fusedCondition(p: Producer, cc: number): string | null {
  if (p.direct !== undefined) return directCondition(p.direct, cc);
  const { size, a, aHi, b, bHi, r, rHi } = p;
  let c: string | null = null;
  const zero = isZero(r, rHi, size);
  const neg = sign(r, rHi, size);
  switch (p.op) {
    case LAZY_SUB: {
      const overflow = size === 8 ? `(((${aHi}^${bHi})&(${aHi}^${rHi}))<0)` : sign(`((${a}^${b})&(${a}^${r}))`, "", size);
      switch (cc >> 1) {
        case 0: c = overflow; break;
        case 1: c = below(a, aHi, b, bHi, size); break;
        case 2: c = zero; break;
        case 3: c = `(${below(a, aHi, b, bHi, size)}||${zero})`; break;
        case 4: c = neg; break;
        case 5: c = parity(r); break;
        case 6: c = lessSigned(a, aHi, b, bHi, size); break;
        case 7: c = `(${lessSigned(a, aHi, b, bHi, size)}||${zero})`; break;
      }
      break;
    }
    case LAZY_ADD: {
      const overflow = size === 8 ? `(((${aHi}^${rHi})&(${bHi}^${rHi}))<0)` : sign(`((${a}^${r})&(${b}^${r}))`, "", size);
      const carry = below(r, rHi, a, aHi, size);
      switch (cc >> 1) {
        case 0: c = overflow; break;
        case 1: c = carry; break;
        case 2: c = zero; break;
        case 3: c = `(${carry}||${zero})`; break;
        case 4: c = neg; break;
        case 5: c = parity(r); break;
        case 6: c = `(${neg}!==${overflow})`; break;
        case 7: c = `(${zero}||${neg}!==${overflow})`; break;
      }
      break;
    }
    case LAZY_LOGIC:
      switch (cc >> 1) {
        case 0: c = "false"; break;
        case 1: c = "false"; break;
        case 2: c = zero; break;
        case 3: c = zero; break;
        case 4: c = neg; break;
        case 5: c = parity(r); break;
        case 6: c = neg; break;
        case 7: c = `(${zero}||${neg})`; break;
      }
      break;
    case LAZY_INC: case LAZY_DEC: {
      const min = size === 8 ? `(${r}===0&&${rHi}===-2147483648)` : `(${unsigned(r, size)}===${SIGN_BIT[size] >>> 0})`;
      const minA = size === 8 ? `(${a}===0&&${aHi}===-2147483648)` : `(${unsigned(a, size)}===${SIGN_BIT[size] >>> 0})`;
      const overflow = p.op === LAZY_INC ? min : minA;
      switch (cc >> 1) {
        case 0: c = overflow; break;
        case 2: c = zero; break;
        case 4: c = neg; break;
        case 5: c = parity(r); break;
        case 6: c = `(${neg}!==${overflow})`; break;
        case 7: c = `(${zero}||${neg}!==${overflow})`; break;
        case 1: c = `(${p.carry}!==0)`; break; // CF comes from before the INC/DEC
        default: c = `(${p.carry}!==0||${zero})`; break;
      }
      break;
    }
    default:
      return null;
  }
  if (c === null) return null;
  return cc & 1 ? `!${c}` : c;
}

/** Condition cc from flag bits given outright. */
function directCondition(bits: string, cc: number): string {
  const f = `(${bits})`;
  const flag = (mask: number) => `((${f}&${mask})!==0)`;
  const sNotO = `(((${f}>>7)^(${f}>>11))&1)!==0`;
  let c: string;
  switch (cc >> 1) {
    case 0: c = flag(0x800); break;
    case 1: c = flag(1); break;
    case 2: c = flag(0x40); break;
    case 3: c = flag(0x41); break;
    case 4: c = flag(0x80); break;
    case 5: c = flag(4); break;
    case 6: c = `(${sNotO})`; break;
    default: c = `(${flag(0x40)}||${sNotO})`; break;
  }
  return cc & 1 ? `!${c}` : c;
}

export { LAZY_ADC, LAZY_ADD, LAZY_DEC, LAZY_INC, LAZY_LOGIC, LAZY_SBB, LAZY_SUB };
