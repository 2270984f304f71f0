// JS-source templates for the instructions that dominate guest code (moves, integer ALU, shifts and
// rotates, the stack, branches, conditions). Each emitter first decides whether it can translate its
// instruction (operand forms, mode, flag liveness) and returns false, having written nothing, when
// it cannot: the translator then runs that instruction inline through the interpreter's semantics.
// The templates follow the interpreter's semantics (src/machine/interp/semantics) bit for bit; the
// hardware oracle and --accel check hold both to the same results.
import { M_E, M_FIXED_REG, M_I, M_J, M_V } from "../decoder/operand-spec.js";
import { SS } from "../machine/cpu.js";
import { relativeTarget } from "./discover.js";
import { ARITH_MASK,
  LAZY_ADC, LAZY_ADD, LAZY_DEC, LAZY_INC, LAZY_LOGIC, LAZY_SBB, LAZY_SUB, directProducer, fusedCondition,
} from "./flags.js";
import { literal, type UnitWriter, type Value } from "./unit-writer.js";

export type Emitter = (w: UnitWriter) => boolean;

const MASK = [0, 0xff, 0xffff, 0, -1];

/** Wraps a JS int32 expression to `size` bytes in our value convention. */
function wrap(expr: string, size: number): string {
  return size === 4 ? `(${expr})|0` : `(${expr})&${MASK[size]}`;
}

/** The instruction's operands are all general registers, immediates or (addressable) ModRM memory. */
function plainOperands(w: UnitWriter): boolean {
  const ins = w.ins;
  for (let i = 0; i < ins.row.operands.length; i++) if (!w.operandSupported(i)) return false;
  if (ins.mod !== 3 && ins.row.hasModrm && !w.addressSupported()) return false;
  return true;
}

/** Loads the memory operand (if any) at the start of an instruction: returns it, or undefined. */
function loadMemory(w: UnitWriter, index: number, forWrite: boolean): Value | undefined {
  if (!w.isMemory(index)) return undefined;
  w.address();
  return w.load(w.operandSize(index), forWrite);
}

/**
 * The destination operand 0 of a read-modify-write instruction: loaded with write access when it is
 * memory (a fault point), read when it is a register. `write` stores the result back.
 */
function modifyDestination(w: UnitWriter): { size: number; value: Value; write: (result: Value) => void } {
  const size = w.operandSize(0);
  const memDest = w.isMemory(0);
  if (memDest) w.mayFault();
  const m0 = memDest ? (w.address(), w.load(size, true)) : undefined;
  const value = w.read(0, m0);
  const write = (result: Value) => (memDest ? w.store(size, result, true) : w.writeRegisterOperand(0, result));
  return { size, value, write };
}

/** Condition cc from the pending producer, or from the flags record. */
function condition(w: UnitWriter, cc: number): string {
  w.readFlags();
  if (w.fusable !== null) {
    const fused = fusedCondition(w.fusable, cc);
    if (fused !== null) return fused;
  }
  w.flushFlags();
  return `H.condition(${cc})`;
}

/** The carry flag as 0/1. */
function carryFlag(w: UnitWriter): string {
  const c = condition(w, 2);
  return c === "H.condition(2)" ? "H.carry()" : `(${c}?1:0)`;
}

// ---- moves ---------------------------------------------------------------------------------------

const mov: Emitter = (w) => {
  if (!plainOperands(w)) return false;
  const size = w.operandSize(0);
  const memory = w.ins.mod !== 3 && w.ins.row.hasModrm;
  if (memory) w.mayFault();
  if (w.isMemory(0)) {
    w.address();
    const v = w.read(1);
    w.store(size, v, false);
    return true;
  }
  const src = loadMemory(w, 1, false);
  w.writeRegisterOperand(0, w.read(1, src));
  return true;
};

const movzx: Emitter = (w) => {
  if (!plainOperands(w)) return false;
  if (w.ins.mod !== 3) w.mayFault();
  const src = loadMemory(w, 1, false);
  w.writeRegisterOperand(0, w.read(1, src));
  return true;
};

const movsx: Emitter = (w) => {
  if (!plainOperands(w)) return false;
  if (w.ins.mod !== 3) w.mayFault();
  const src = loadMemory(w, 1, false);
  const from = w.operandSize(1), to = w.operandSize(0);
  const v = w.read(1, src).lo;
  const s = w.let(from === 1 ? `(${v}<<24)>>24` : from === 2 ? `(${v}<<16)>>16` : `${v}|0`);
  w.writeRegisterOperand(0, { lo: to === 2 ? `${s}&65535` : s, hi: `${s}>>31` });
  return true;
};

const lea: Emitter = (w) => {
  const ins = w.ins;
  if (ins.addrSize === 2 || ins.base === 16 /* RIP */ && w.mode !== 64) return false;
  // the offset only: no segment, no canonical check
  if (ins.base === 16) {
    const target = w.ripRelative();
    const hi = Math.floor(target / 4294967296);
    const value = { lo: literal((target - hi * 4294967296) | 0), hi: literal(hi | 0) };
    w.writeRegisterOperand(0, ins.opSize === 2 ? { lo: `${value.lo}&65535`, hi: "0" } : value);
    return true;
  }
  let lo = String(ins.disp | 0);
  if (ins.base >= 0) lo += `+${w.lo(ins.base)}`;
  if (ins.index >= 0) lo += `+(${w.lo(ins.index)}<<${ins.scale})`;
  if (ins.addrSize === 4 || ins.opSize !== 8) {
    const v = w.let(`(${lo})|0`);
    w.writeRegisterOperand(0, { lo: ins.opSize === 2 ? `${v}&65535` : v, hi: "0" });
    return true;
  }
  const dispLo = ins.disp >>> 0, dispHi = ins.disp >> 31;
  let sum = String(dispLo), hi = String(dispHi);
  if (ins.base >= 0) { sum += `+(${w.lo(ins.base)}>>>0)`; hi += `+${w.hi(ins.base)}`; }
  if (ins.index >= 0) {
    const s = ins.scale, il = w.lo(ins.index), ih = w.hi(ins.index);
    sum += s === 0 ? `+(${il}>>>0)` : `+((${il}<<${s})>>>0)`;
    hi += s === 0 ? `+${ih}` : `+((${ih}<<${s})|(${il}>>>${32 - s}))`;
  }
  const t = w.let(sum);
  const th = w.let(`(${hi}+(${t}>4294967295?(${t}>8589934591?2:1):0))|0`);
  w.writeRegisterOperand(0, { lo: `${t}|0`, hi: th });
  return true;
};

const movsxd: Emitter = (w) => {
  if (!plainOperands(w)) return false;
  if (w.ins.mod !== 3) w.mayFault();
  const src = loadMemory(w, 1, false);
  const v = w.let(`${w.read(1, src).lo}|0`);
  const to = w.operandSize(0);
  w.writeRegisterOperand(0, { lo: to === 2 ? `${v}&65535` : v, hi: `${v}>>31` });
  return true;
};

const xchg: Emitter = (w) => {
  if (!plainOperands(w) || w.isMemory(0) || w.isMemory(1)) return false;
  const size = w.operandSize(0);
  const a = w.read(0), b = w.read(1);
  const ta = w.let(a.lo), tah = size === 8 ? w.let(a.hi) : "0";
  const tb = w.let(b.lo), tbh = size === 8 ? w.let(b.hi) : "0";
  w.writeRegisterOperand(0, { lo: tb, hi: tbh });
  w.writeRegisterOperand(1, { lo: ta, hi: tah });
  return true;
};

// ---- integer ALU ---------------------------------------------------------------------------------

const ADD = 0, OR = 1, ADC = 2, SBB = 3, AND = 4, SUB = 5, XOR = 6, CMP = 7, TEST = 8;

function binary(op: number): Emitter {
  return (w) => {
    if (!plainOperands(w)) return false;
    const size = w.operandSize(0);
    const writes = op !== CMP && op !== TEST;
    const memDest = w.isMemory(0);
    if (w.ins.mod !== 3) w.mayFault();
    const m0 = memDest ? (w.address(), w.load(size, writes)) : undefined;
    const m1 = loadMemory(w, 1, false);
    const a = w.read(0, m0), b = w.read(1, m1);
    const needFlags = w.flagsOut !== 0 || op === ADC || op === SBB;
    let carry = "0";
    if (op === ADC || op === SBB) carry = w.let(carryFlag(w));
    // operands into locals when the flags record will refer to them
    const ta = needFlags ? w.let(a.lo) : a.lo;
    const tah = needFlags && size === 8 ? w.let(a.hi) : a.hi;
    const tb = needFlags ? w.let(b.lo) : b.lo;
    const tbh = needFlags && size === 8 ? w.let(b.hi) : b.hi;
    const r = w.temp(), rh = size === 8 ? w.temp() : "0";
    if (size !== 8) {
      switch (op) {
        case ADD: w.emit(`${r}=${wrap(`${ta}+${tb}`, size)};`); break;
        case ADC: w.emit(`${r}=${wrap(`${ta}+${tb}+${carry}`, size)};`); break;
        case SUB: case CMP: w.emit(`${r}=${wrap(`${ta}-${tb}`, size)};`); break;
        case SBB: w.emit(`${r}=${wrap(`${ta}-${tb}-${carry}`, size)};`); break;
        case OR: w.emit(`${r}=${ta}|${tb};`); break;
        case XOR: w.emit(`${r}=${ta}^${tb};`); break;
        default: w.emit(`${r}=${ta}&${tb};`); break;
      }
    } else {
      switch (op) {
        case ADD: case ADC:
          w.emit(`${r}=(${ta}>>>0)+(${tb}>>>0)${op === ADC ? `+${carry}` : ""};${rh}=(${tah}+${tbh}+(${r}>4294967295?1:0))|0;${r}=${r}|0;`);
          break;
        case SUB: case CMP: case SBB:
          w.emit(`${r}=(${ta}>>>0)-(${tb}>>>0)${op === SBB ? `-${carry}` : ""};${rh}=(${tah}-${tbh}-(${r}<0?1:0))|0;${r}=${r}|0;`);
          break;
        case OR: w.emit(`${r}=${ta}|${tb};${rh}=${tah}|${tbh};`); break;
        case XOR: w.emit(`${r}=${ta}^${tb};${rh}=${tah}^${tbh};`); break;
        default: w.emit(`${r}=${ta}&${tb};${rh}=${tah}&${tbh};`); break;
      }
    }
    if (writes) {
      if (memDest) w.store(size, { lo: r, hi: rh }, true);
      else w.writeRegisterOperand(0, { lo: r, hi: rh });
    }
    const kind = op === ADD ? LAZY_ADD : op === ADC ? LAZY_ADC : op === SUB || op === CMP ? LAZY_SUB : op === SBB ? LAZY_SBB : LAZY_LOGIC;
    w.produce({ op: kind, size, a: ta, aHi: size === 8 ? tah : "0", b: tb, bHi: size === 8 ? tbh : "0", r, rHi: rh, carry });
    return true;
  };
}

function incDec(isInc: boolean): Emitter {
  return (w) => {
    if (!plainOperands(w)) return false;
    const { size, value: a, write } = modifyDestination(w);
    // INC/DEC keep CF. Their record takes it from cpu.flags, so writing the record first puts CF
    // there: computed from the previous producer's locals, or from the flags state, which stays
    // untouched until this record is written.
    let carry = "0";
    if (w.flagsOut !== 0) {
      w.readFlags();
      const fused = w.fusable !== null ? fusedCondition(w.fusable, 2) : null;
      if (fused !== null) carry = `(${fused}?1:0)`;
      else {
        w.flushFlags();
        carry = "H.carry()";
      }
    }
    const ta = w.let(a.lo), tah = size === 8 ? w.let(a.hi) : "0";
    const r = w.temp(), rh = size === 8 ? w.temp() : "0";
    const d = isInc ? 1 : -1;
    if (size === 8) w.emit(`${r}=(${ta}>>>0)+${d};${rh}=(${tah}+(${r}>4294967295?1:${r}<0?-1:0))|0;${r}=${r}|0;`);
    else w.emit(`${r}=${wrap(`${ta}+${d}`, size)};`);
    write({ lo: r, hi: rh });
    w.produce({ op: isInc ? LAZY_INC : LAZY_DEC, size, a: ta, aHi: tah, b: "1", bHi: "0", r, rHi: rh, carry, prefix: `cpu.flags=(cpu.flags&-2)|${carry};` });
    return true;
  };
}

const neg: Emitter = (w) => {
  if (!plainOperands(w)) return false;
  const { size, value: b, write } = modifyDestination(w);
  const tb = w.let(b.lo), tbh = size === 8 ? w.let(b.hi) : "0";
  const r = w.temp(), rh = size === 8 ? w.temp() : "0";
  if (size === 8) w.emit(`${r}=-(${tb}>>>0);${rh}=(-${tbh}-(${r}<0?1:0))|0;${r}=${r}|0;`);
  else w.emit(`${r}=${wrap(`-${tb}`, size)};`);
  write({ lo: r, hi: rh });
  w.produce({ op: LAZY_SUB, size, a: "0", aHi: "0", b: tb, bHi: tbh, r, rHi: rh, carry: "0" });
  return true;
};

const not: Emitter = (w) => {
  if (!plainOperands(w)) return false;
  const { size, value: a, write } = modifyDestination(w);
  write({ lo: w.let(size === 8 || size === 4 ? `~${a.lo}` : `(~${a.lo})&${MASK[size]}`), hi: size === 8 ? w.let(`~${a.hi}`) : "0" });
  return true;
};

/** CBW/CWDE/CDQE: sign-extends the lower half of rAX into rAX. */
const signExtendAccumulator: Emitter = (w) => {
  const size = w.ins.opSize;
  const v = w.lo(0);
  if (size === 8) w.writeReg(0, 8, false, { lo: v, hi: `${v}>>31` });
  else if (size === 4) w.writeReg(0, 4, false, { lo: `(${v}<<16)>>16`, hi: "0" });
  else w.writeReg(0, 2, false, { lo: `((${v}<<24)>>24)&65535`, hi: "0" });
  return true;
};

/** CWD/CDQ/CQO: rDX = the sign of rAX. */
const signToDx: Emitter = (w) => {
  const size = w.ins.opSize;
  if (size === 8) w.writeReg(2, 8, false, { lo: `${w.hi(0)}>>31`, hi: `${w.hi(0)}>>31` });
  else if (size === 4) w.writeReg(2, 4, false, { lo: `${w.lo(0)}>>31`, hi: "0" });
  else w.writeReg(2, 2, false, { lo: `((${w.lo(0)}<<16)>>31)&65535`, hi: "0" });
  return true;
};

// ---- shifts and rotates (when nobody reads their flags) -------------------------------------------

const ROL = 0, ROR = 1, SHL = 4, SHR = 5, SAR = 7;

/** The shifted value of a = (lo, hi) by the constant count c (already masked, non-zero). */
function shiftConstant(kind: number, size: number, a: Value, c: number): Value {
  if (size === 8) {
    const { lo, hi } = a;
    switch (kind) {
      case SHL: return c >= 32 ? { lo: "0", hi: `${lo}<<${c - 32}` } : { lo: `${lo}<<${c}`, hi: `(${hi}<<${c})|(${lo}>>>${32 - c})` };
      case SHR: return c >= 32 ? { lo: `(${hi}>>>${c - 32})|0`, hi: "0" } : { lo: `(${lo}>>>${c})|(${hi}<<${32 - c})`, hi: `(${hi}>>>${c})|0` };
      case SAR: return c >= 32 ? { lo: `${hi}>>${c - 32}`, hi: `${hi}>>31` } : { lo: `(${lo}>>>${c})|(${hi}<<${32 - c})`, hi: `${hi}>>${c}` };
      case ROL: case ROR: {
        const left = kind === ROL ? c : 64 - c;
        if (left === 32) return { lo: hi, hi: lo };
        if (left < 32) return { lo: `(${lo}<<${left})|(${hi}>>>${32 - left})`, hi: `(${hi}<<${left})|(${lo}>>>${32 - left})` };
        const l = left - 32;
        return { lo: `(${hi}<<${l})|(${lo}>>>${32 - l})`, hi: `(${lo}<<${l})|(${hi}>>>${32 - l})` };
      }
    }
  }
  const v = a.lo, bits = size * 8;
  switch (kind) {
    case SHL: return { lo: c >= bits ? "0" : wrap(`${v}<<${c}`, size), hi: "0" };
    case SHR: return { lo: c >= bits ? "0" : size === 4 ? `(${v}>>>${c})|0` : `${v}>>>${c}`, hi: "0" };
    case SAR: {
      const s = size === 1 ? `((${v}<<24)>>24)` : size === 2 ? `((${v}<<16)>>16)` : `(${v}|0)`;
      return { lo: wrap(`${s}>>${Math.min(c, 31)}`, size), hi: "0" };
    }
    default: {
      const left = (kind === ROL ? c : bits - (c % bits)) % bits;
      if (left === 0) return { lo: v, hi: "0" };
      return { lo: wrap(`(${v}<<${left})|(${size === 4 ? v : `(${v}&${MASK[size]})`}>>>${bits - left})`, size), hi: "0" };
    }
  }
}

/** Bit `index` of a value held as lo (and hi for 64-bit), as a 0/1 expression. */
function bitOf(v: Value, index: number): string {
  return index >= 32 ? `((${v.hi}>>>${index - 32})&1)` : `((${v.lo}>>>${index})&1)`;
}

/** SF, ZF and PF of a result, as flag bits. */
function resultFlags(r: Value, size: number): string {
  const zero = size === 8 ? `((${r.lo}|${r.hi})===0?64:0)` : `(${r.lo}===0?64:0)`;
  return `${zero}|(${bitOf(r, size * 8 - 1)}<<7)|(P[${r.lo}&255]<<2)`;
}

function shift(kind: number): Emitter {
  return (w) => {
    const ins = w.ins;
    if (!plainOperands(w)) return false;
    const countSpec = ins.row.operands[1];
    if (countSpec.method === M_FIXED_REG && countSpec.fixed === 1) return shiftByCl(w, kind);
    if (countSpec.method !== M_I && countSpec.notation !== "1") return false;
    const memDest = w.isMemory(0);
    const { size, value: a, write } = modifyDestination(w);
    const bits = size * 8;
    const c = (countSpec.method === M_I ? ins.imm : 1) & (size === 8 ? 63 : 31);
    if (c === 0) {
      // nothing changes, flags included; a 32-bit register destination is still zero-extended
      if (!memDest && size === 4) w.writeRegisterOperand(0, a);
      return true;
    }
    const ta = { lo: w.let(a.lo), hi: size === 8 ? w.let(a.hi) : "0" };
    const value = shiftConstant(kind, size, ta, c);
    const r = { lo: w.let(value.lo), hi: size === 8 ? w.let(value.hi) : "0" };
    write(r);
    if (w.flagsOut === 0) {
      w.produce(directProducer(size, "0"));
      return true;
    }
    const msb = bitOf(r, bits - 1);
    switch (kind) {
      case SHL: {
        const cf = c <= bits ? bitOf(ta, bits - c) : "0";
        w.produce(directProducer(size, `${resultFlags(r, size)}|${cf}|((${msb}^${cf})<<11)`));
        break;
      }
      case SHR: {
        const cf = c <= bits ? bitOf(ta, c - 1) : "0";
        w.produce(directProducer(size, `${resultFlags(r, size)}|${cf}|(${bitOf(ta, bits - 1)}<<11)`));
        break;
      }
      case SAR:
        w.produce(directProducer(size, `${resultFlags(r, size)}|${bitOf(ta, Math.min(c - 1, bits - 1))}`));
        break;
      case ROL: {
        const cf = `(${r.lo}&1)`;
        w.patch(CF_OF, `${cf}|((${msb}^${cf})<<11)`);
        break;
      }
      default: {
        w.patch(CF_OF, `${msb}|((${msb}^${bitOf(r, bits - 2)})<<11)`);
      }
    }
    return true;
  };
}

const CF_OF = 0x801;

/** Bit `index` (an expression, 0..63) of a 64-bit value held as lo/hi, as 0/1. */
function bitAt(v: Value, index: string): string {
  return `((${index})>=32?(${v.hi}>>>((${index})-32))&1:(${v.lo}>>>(${index}))&1)`;
}

/**
 * SHL/SHR/SAR of a 32- or 64-bit register by CL. The count is masked to 5 (6) bits; a count of 0
 * changes nothing, flags included, but a 32-bit register is still written (zero-extended). Flags
 * as the shared semantics set them: CF the last bit out, OF (SHL) MSB ^ CF, (SHR) the old MSB, (SAR)
 * clear; AF clear; SF, ZF, PF of the result.
 */
function shiftByCl(w: UnitWriter, kind: number): boolean {
  const ins = w.ins;
  const size = w.operandSize(0);
  if ((size !== 4 && size !== 8) || w.isMemory(0) || (kind !== SHL && kind !== SHR && kind !== SAR)) return false;
  w.flushFlags(); // with a count of 0 the flags stay as they are
  const a = w.read(0);
  const ta: Value = { lo: w.let(a.lo), hi: size === 8 ? w.let(a.hi) : "0" };
  const c = w.let(`${w.read(1).lo}&${size === 8 ? 63 : 31}`);
  const r: Value = { lo: w.temp(), hi: size === 8 ? w.temp() : "0" };
  let cf: string, of: string;
  if (size === 8) {
    const { lo, hi } = ta;
    switch (kind) {
      case SHL:
        w.emit(`if(${c}>=32){${r.hi}=${lo}<<(${c}-32);${r.lo}=0;}else if(${c}!==0){${r.hi}=(${hi}<<${c})|(${lo}>>>(32-${c}));${r.lo}=${lo}<<${c};}else{${r.lo}=${lo};${r.hi}=${hi};}`);
        cf = bitAt(ta, `64-${c}`);
        break;
      case SHR:
        w.emit(`if(${c}>=32){${r.lo}=(${hi}>>>(${c}-32))|0;${r.hi}=0;}else if(${c}!==0){${r.lo}=(${lo}>>>${c})|(${hi}<<(32-${c}));${r.hi}=(${hi}>>>${c})|0;}else{${r.lo}=${lo};${r.hi}=${hi};}`);
        cf = bitAt(ta, `${c}-1`);
        break;
      default:
        w.emit(`if(${c}>=32){${r.lo}=${hi}>>(${c}-32);${r.hi}=${hi}>>31;}else if(${c}!==0){${r.lo}=(${lo}>>>${c})|(${hi}<<(32-${c}));${r.hi}=${hi}>>${c};}else{${r.lo}=${lo};${r.hi}=${hi};}`);
        cf = bitAt(ta, `${c}-1`);
    }
  } else {
    const v = ta.lo;
    w.emit(`${r.lo}=${kind === SHL ? `${v}<<${c}` : kind === SHR ? `(${v}>>>${c})|0` : `${v}>>${c}`};`);
    cf = kind === SHL ? `((${v}>>>(32-${c}))&1)` : `((${v}>>>(${c}-1))&1)`;
  }
  w.writeRegisterOperand(0, r);
  if (w.flagsOut === 0) return true;
  const bits = size * 8;
  switch (kind) {
    case SHL: of = `((${bitOf(r, bits - 1)}^${cf})<<11)`; break;
    case SHR: of = `(${bitOf(ta, bits - 1)}<<11)`; break;
    default: of = "0";
  }
  w.emit(`if(${c}!==0){L.op=0;cpu.flags=(cpu.flags&${~ARITH_MASK})|${resultFlags(r, size)}|${cf}|${of};}`);
  return true;
}

/**
 * SHLD/SHRD of a 32- or 64-bit register by an immediate or CL, through the helper that runs the
 * interpreter's shiftDouble. A count of 0 changes nothing, flags included, but a 32-bit register
 * is still written (zero-extended).
 */
function doubleShift(left: boolean): Emitter {
  return (w) => {
    const ins = w.ins;
    if (!plainOperands(w) || w.isMemory(0)) return false;
    const size = w.operandSize(0);
    if (size !== 4 && size !== 8) return false;
    const countSpec = ins.row.operands[2];
    const byCl = countSpec.method === M_FIXED_REG && countSpec.fixed === 1;
    if (!byCl && countSpec.method !== M_I) return false;
    const mask = size === 8 ? 63 : 31;
    if (byCl) w.flushFlags(); // with a count of 0 the flags stay as they are
    const a = w.read(0), b = w.read(1);
    if (!byCl && (ins.imm & mask) === 0) {
      if (size === 4) w.writeRegisterOperand(0, a);
      return true;
    }
    const count = byCl ? w.let(`${w.read(2).lo}&${mask}`) : String(ins.imm & mask);
    const lo = w.let(`H.shiftDouble(${left ? 1 : 0},${size},${a.lo},${size === 8 ? a.hi : "0"},${b.lo},${size === 8 ? b.hi : "0"},${count})`);
    const hi = size === 8 ? w.let("H.hi") : "0";
    w.writeRegisterOperand(0, { lo, hi });
    if (byCl) {
      if (w.flagsOut !== 0) w.emit(`if(${count}!==0){L.op=0;cpu.flags=(cpu.flags&${~ARITH_MASK})|H.flags;}`);
      return true;
    }
    w.produce(directProducer(size, w.flagsOut !== 0 ? w.let("H.flags") : "0"));
    return true;
  };
}

/**
 * The r/m operand of a one-operand MUL/IMUL/DIV/IDIV of 32 or 64 bits, loaded (null: another form
 * the templates leave to the shared semantics). `faults`: the instruction itself may fault (#DE).
 */
function accumulatorOperand(w: UnitWriter, faults: boolean): { size: number; b: Value } | null {
  const ins = w.ins;
  if (ins.row.operands.length !== 1 || !plainOperands(w)) return null;
  const size = w.operandSize(0);
  if (size !== 4 && size !== 8) return null;
  if (faults || ins.mod !== 3) w.mayFault();
  return { size, b: w.read(0, loadMemory(w, 0, false)) };
}

/** rAX and rDX from a helper call that returns rAX's low half and leaves H.hi, H.rdxLo and H.rdxHi. */
function writeAccumulatorPair(w: UnitWriter, size: number, call: string): void {
  const wide = size === 8;
  const raxLo = w.let(call);
  const raxHi = wide ? w.let("H.hi") : "0";
  const rdxLo = w.let("H.rdxLo");
  const rdxHi = wide ? w.let("H.rdxHi") : "0";
  w.writeReg(0, size, false, { lo: raxLo, hi: raxHi });
  w.writeReg(2, size, false, { lo: rdxLo, hi: rdxHi });
}

/**
 * MUL and IMUL with one operand, 32 and 64 bits: rDX:rAX = rAX * operand, through the helper that
 * runs the interpreter's multiplyWide (no generic path: the registers stay in locals).
 */
function multiplyAccumulator(signed: boolean): Emitter {
  return (w) => {
    const operand = accumulatorOperand(w, false);
    if (operand === null) return false;
    const { size, b } = operand;
    const wide = size === 8;
    writeAccumulatorPair(w, size, `H.multiplyAccumulator(${signed ? 1 : 0},${size},${w.lo(0)},${wide ? w.hi(0) : "0"},${b.lo},${wide ? b.hi : "0"})`);
    w.produce(directProducer(size, w.flagsOut !== 0 ? w.let("H.flags") : "0"));
    return true;
  };
}

const imulOneOperand = multiplyAccumulator(true);

/**
 * DIV and IDIV, 32 and 64 bits: rAX, rDX = rDX:rAX / operand, through the helper that runs the
 * interpreter's divideWide. A fault point (#DE, and the memory operand); the flags, undefined
 * afterwards, are left as they are (the pending producer stays pending), as the interpreter leaves them.
 */
function divideAccumulator(signed: boolean): Emitter {
  return (w) => {
    const operand = accumulatorOperand(w, true);
    if (operand === null) return false;
    const { size, b } = operand;
    const wide = size === 8;
    writeAccumulatorPair(w, size, `H.divide(${signed ? 1 : 0},${size},${w.lo(0)},${wide ? w.hi(0) : "0"},${w.lo(2)},${wide ? w.hi(2) : "0"},${b.lo},${wide ? b.hi : "0"})`);
    return true;
  };
}

/** IMUL with two or three operands (64-bit: inline when nobody reads its flags, else through multiply64). */
const imul: Emitter = (w) => {
  const ins = w.ins;
  if (ins.row.operands.length === 1) return imulOneOperand(w);
  if (ins.row.operands.length < 2 || !plainOperands(w)) return false;
  const size = w.operandSize(0);

  if (ins.mod !== 3) w.mayFault();
  const m1 = loadMemory(w, 1, false);
  const a = w.read(1, m1);
  const b = ins.row.operands.length === 3 ? w.read(2) : w.read(0);
  if (size === 8 && w.flagsOut === 0) {
    // nobody reads the flags: the low 64 bits alone, inline — the low word by Math.imul, the high
    // word from the 32x32 product's high half (16-bit limbs, every partial sum below 2^32) plus
    // the two cross products' low words
    const al = w.let(`${a.lo}|0`), bl = w.let(`${b.lo}|0`);
    const l00 = w.let(`(${al}&65535)*(${bl}&65535)`);
    const m1 = w.let(`(${al}>>>16)*(${bl}&65535)+(${l00}>>>16)`);
    const m2 = w.let(`(${al}&65535)*(${bl}>>>16)+(${m1}&65535)`);
    const hi = w.let(`((${al}>>>16)*(${bl}>>>16)+(${m1}>>>16)+(${m2}>>>16)+Math.imul(${al},${b.hi})+Math.imul(${a.hi},${bl}))|0`);
    const lo = w.let(`Math.imul(${al},${bl})`);
    w.writeRegisterOperand(0, { lo, hi });
    w.produce(directProducer(size, "0"));
    return true;
  }
  if (size === 8) {
    const lo = w.let(`H.multiply64(${a.lo},${a.hi},${b.lo},${b.hi})`);
    const flags = w.let("H.flags");
    w.writeRegisterOperand(0, { lo, hi: "H.hi" });
    w.produce(directProducer(size, flags));
    return true;
  }
  const sa = w.let(size === 2 ? `(${a.lo}<<16)>>16` : `${a.lo}|0`);
  const sb = w.let(size === 2 ? `(${b.lo}<<16)>>16` : `${b.lo}|0`);
  const r = w.let(size === 2 ? `Math.imul(${sa},${sb})&65535` : `Math.imul(${sa},${sb})`);
  w.writeRegisterOperand(0, { lo: r, hi: "0" });
  if (w.flagsOut !== 0) {
    // CF = OF = the product does not fit; SF and PF from the result; ZF and AF clear
    const fits = size === 2 ? `((${r}<<16)>>16)===${sa}*${sb}` : `${r}===${sa}*${sb}`;
    w.produce(directProducer(size, `(${fits}?0:0x801)|(${bitOf({ lo: r, hi: "0" }, size * 8 - 1)}<<7)|(P[${r}&255]<<2)`));
  } else w.produce(directProducer(size, "0"));
  return true;
};

// ---- conditions ----------------------------------------------------------------------------------

const setcc: Emitter = (w) => {
  if (!plainOperands(w)) return false;
  const cc = w.ins.row.opcode & 0xf;
  if (w.isMemory(0)) {
    w.mayFault();
    const c = condition(w, cc);
    const v = w.let(`${c}?1:0`);
    w.address();
    w.store(1, { lo: v, hi: "0" }, false);
    return true;
  }
  w.writeRegisterOperand(0, { lo: `(${condition(w, cc)}?1:0)`, hi: "0" });
  return true;
};

const cmov: Emitter = (w) => {
  if (!plainOperands(w)) return false;
  const ins = w.ins;
  if (ins.mod !== 3) w.mayFault();
  const src = loadMemory(w, 1, false);
  const v = w.read(1, src);
  const size = w.operandSize(0);
  const tv = w.let(v.lo), tvh = size === 8 ? w.let(v.hi) : "0";
  const c = condition(w, ins.row.opcode & 0xf);
  // the destination is written on one path only: its local must hold the guest value on the other
  w.lo(ins.reg);
  w.emit(`if(${c}){`);
  w.writeRegisterOperand(0, { lo: tv, hi: tvh });
  if (size === 4) {
    // a 32-bit destination is zero-extended even when nothing moves
    w.emit(`}else{`);
    w.writeReg(ins.reg, 4, false, { lo: w.lo(ins.reg), hi: "0" });
  }
  w.emit(`}`);
  return true;
};

// ---- the stack (64-bit mode, 64-bit operand size) ------------------------------------------------

function stack64(w: UnitWriter): boolean {
  return w.mode === 64 && w.ins.opSize === 8;
}

const push: Emitter = (w) => {
  if (!stack64(w) || !plainOperands(w)) return false;
  w.mayFault();
  const src = loadMemory(w, 0, false);
  const v = w.read(0, src);
  // an immediate is sign-extended to 64 bits
  const value = src !== undefined ? v : w.ins.row.operands[0].method === M_I
    ? { lo: literal(w.ins.imm | 0), hi: literal(w.ins.imm >> 31) }
    : { lo: w.let(v.lo), hi: w.let(v.hi) };
  w.push(8, value);
  return true;
};

const pop: Emitter = (w) => {
  if (!stack64(w) || !plainOperands(w) || w.isMemory(0)) return false;
  w.mayFault();
  const v = w.peek(8);
  w.adjustStack(8);
  w.writeRegisterOperand(0, v);
  return true;
};

/** LEAVE (64-bit): RSP = RBP, then POP RBP; a fault leaves both as they were. */
const leave: Emitter = (w) => {
  if (!stack64(w)) return false;
  w.mayFault();
  const bl = w.let(w.lo(5)), bh = w.let(w.hi(5));
  w.emit(`if(((${bh}<<16)>>16)!==${bh})H.nonCanonical(${SS});x=${bh}*4294967296+(${bl}>>>0);xl=${bl};`);
  const v = w.load(8, false);
  const nl = w.temp(), nh = w.temp();
  w.emit(`${nl}=(${bl}>>>0)+8;${nh}=(${bh}+(${nl}>4294967295?1:0))|0;${nl}=${nl}|0;`);
  w.writeReg(4, 8, false, { lo: nl, hi: nh });
  w.writeReg(5, 8, false, v);
  return true;
};

// ---- control transfers ---------------------------------------------------------------------------

const jcc: Emitter = (w) => {
  const ins = w.ins;
  const target = relativeTarget(ins, w.gi.nextRip);
  if (target === null) return false;
  const c = condition(w, ins.row.opcode & 0xf);
  const t = w.let(c);
  const count = w.inBlock + 1;
  w.emit(`if(${t}){`);
  w.goto(target, count);
  w.emit(`}`);
  w.goto(w.gi.nextRip, count);
  return true;
};

/** A 64-bit branch target from a pair: #GP(0) unless canonical. */
function targetOf(w: UnitWriter, v: Value): string {
  const lo = w.let(v.lo), hi = w.let(v.hi);
  w.emit(`if(((${hi}<<16)>>16)!==${hi})H.badTarget();`);
  return w.let(`${hi}*4294967296+(${lo}>>>0)`);
}

const jmp: Emitter = (w) => {
  const ins = w.ins;
  const method = ins.row.operands[0].method;
  const count = w.inBlock + 1;
  if (method === M_J) {
    const target = relativeTarget(ins, w.gi.nextRip);
    if (target === null) return false;
    w.goto(target, count);
    return true;
  }
  if (method !== M_E || w.mode !== 64 || ins.opSize !== 8 || !plainOperands(w)) return false;
  // a memory operand can fault, and so can any target (non-canonical: #GP at this instruction)
  w.mayFault();
  const src = loadMemory(w, 0, false);
  const target = targetOf(w, w.read(0, src));
  w.flushFlags();
  w.exit(target, null, count);
  return true;
};

const call: Emitter = (w) => {
  const ins = w.ins;
  const method = ins.row.operands[0].method;
  if (!stack64(w)) return false;
  const count = w.inBlock + 1;
  const next = w.gi.nextRip;
  const nextHi = Math.floor(next / 4294967296);
  const returnAddress = { lo: literal((next - nextHi * 4294967296) | 0), hi: literal(nextHi | 0) };
  if (method === M_J) {
    const target = relativeTarget(ins, next);
    if (target === null) return false;
    w.mayFault();
    w.push(8, returnAddress);
    w.flushFlags();
    w.exit(String(target), target, count);
    return true;
  }
  if (method !== M_E || !plainOperands(w)) return false;
  w.mayFault();
  const src = loadMemory(w, 0, false);
  const target = targetOf(w, w.read(0, src));
  w.push(8, returnAddress);
  w.flushFlags();
  w.exit(target, null, count);
  return true;
};

const ret: Emitter = (w) => {
  const ins = w.ins;
  if (!stack64(w)) return false;
  w.mayFault();
  const v = w.peek(8);
  const target = targetOf(w, v);
  w.adjustStack(8 + (ins.row.operands.length > 0 ? ins.imm & 0xffff : 0));
  w.flushFlags();
  w.exit(target, null, w.inBlock + 1);
  return true;
};

// ---- SSE moves (64-bit mode) -----------------------------------------------------------------------

/** MOVAPS/MOVAPD/MOVDQA (aligned) and MOVUPS/MOVUPD/MOVDQU between XMM registers and memory. */
function move128(aligned: boolean): Emitter {
  return (w) => {
    const ins = w.ins;
    if (w.mode !== 64) return false;
    const toRegister = ins.row.operands[0].method === M_V;
    if (ins.mod !== 3 && !w.addressSupported()) return false;
    const reg = ins.reg << 2;
    if (ins.mod === 3) {
      w.mayFault(); // #UD/#NM while SSE is unavailable
      w.emit(`H.sseCheck();`);
      const rm = ins.rm << 2;
      const [d, s] = toRegister ? [reg, rm] : [rm, reg];
      w.emit(`XM[${d}]=XM[${s}];XM[${d + 1}]=XM[${s + 1}];XM[${d + 2}]=XM[${s + 2}];XM[${d + 3}]=XM[${s + 3}];`);
      return true;
    }
    w.mayFault();
    w.address(); // a non-canonical address faults before the availability check, as in the interpreter
    w.emit(`H.sseCheck();`);
    if (aligned) w.emit(`if((xl&15)!==0)H.misaligned();`);
    if (toRegister) {
      const v = load128(w);
      w.emit(`XM[${reg}]=${v[0]};XM[${reg + 1}]=${v[1]};XM[${reg + 2}]=${v[2]};XM[${reg + 3}]=${v[3]};`);
      return true;
    }
    w.emit(`o=xl&4095;k=(xl>>>12)&4095;`);
    w.stores = true;
    w.emit(`if(WT[k]===x-o&&o<=4080){p=FB[k]+o;V.setInt32(p,XM[${reg}],true);V.setInt32(p+4,XM[${reg + 1}],true);V.setInt32(p+8,XM[${reg + 2}],true);V.setInt32(p+12,XM[${reg + 3}],true);}` +
      `else H.store16(x,${reg});`);
    return true;
  };
}

/** PXOR of an XMM register with an XMM register (the zeroing idiom among others) or aligned memory. */
const pxor: Emitter = (w) => {
  const ins = w.ins;
  if (w.mode !== 64) return false;
  const d = ins.reg << 2;
  if (ins.mod === 3) {
    const s = ins.rm << 2;
    w.mayFault();
    w.emit(`H.sseCheck();XM[${d}]^=XM[${s}];XM[${d + 1}]^=XM[${s + 1}];XM[${d + 2}]^=XM[${s + 2}];XM[${d + 3}]^=XM[${s + 3}];`);
    return true;
  }
  if (!w.addressSupported()) return false;
  w.mayFault();
  w.address(); // the order of the checks as in the interpreter: canonical address, availability, alignment
  w.emit(`H.sseCheck();if((xl&15)!==0)H.misaligned();`);
  const v = load128(w);
  w.emit(`XM[${d}]^=${v[0]};XM[${d + 1}]^=${v[1]};XM[${d + 2}]^=${v[2]};XM[${d + 3}]^=${v[3]};`);
  return true;
};

/** Loads the 16 bytes at x (address computed, checks done) into four fresh int32 locals. */
function load128(w: UnitWriter): string[] {
  const v = [w.temp(), w.temp(), w.temp(), w.temp()];
  w.emit(`o=xl&4095;k=(xl>>>12)&4095;`);
  w.emit(`if(RT[k]===x-o&&o<=4080){p=FB[k]+o;${v[0]}=V.getInt32(p,true);${v[1]}=V.getInt32(p+4,true);${v[2]}=V.getInt32(p+8,true);${v[3]}=V.getInt32(p+12,true);}` +
    `else{${v[0]}=H.read(x,8)|0;${v[1]}=M.hi|0;${v[2]}=H.read(x+8,8)|0;${v[3]}=M.hi|0;}`);
  return v;
}

/** BSWAP of a 32- or 64-bit register (16 bits is undefined: left to the shared semantics). */
const bswap: Emitter = (w) => {
  const size = w.ins.opSize;
  if ((size !== 4 && size !== 8) || !plainOperands(w)) return false;
  const v = w.read(0);
  const swap = (e: string) => `((${e}>>>24)|((${e}>>>8)&0xff00)|((${e}<<8)&0xff0000)|(${e}<<24))`;
  if (size === 4) {
    w.writeRegisterOperand(0, { lo: w.let(swap(v.lo)), hi: "0" });
    return true;
  }
  const lo = w.let(swap(v.hi));
  const hi = w.let(swap(v.lo));
  w.writeRegisterOperand(0, { lo, hi });
  return true;
};

/** MOVD/MOVQ between an XMM register and a general register (66 0F 6E, 66 0F 7E; register forms). */
const moveGeneral: Emitter = (w) => {
  const ins = w.ins;
  if (w.mode !== 64 || ins.mod !== 3 || !plainOperands(w)) return false;
  const first = ins.row.operands[0].method, second = ins.row.operands[1].method;
  const size = ins.row.mnemonics[0] === "movq" || ins.mnemonic === "movq" ? 8 : 4;
  if (first === M_V && second === M_E) {
    const v = w.read(1);
    const d = ins.reg << 2;
    w.mayFault(); // #UD/#NM while SSE is unavailable
    w.emit(`H.sseCheck();XM[${d}]=${v.lo};XM[${d + 1}]=${size === 8 ? v.hi : "0"};XM[${d + 2}]=0;XM[${d + 3}]=0;`);
    return true;
  }
  if (first === M_E && second === M_V) {
    const s = ins.reg << 2;
    w.mayFault();
    w.emit(`H.sseCheck();`);
    w.writeRegisterOperand(0, { lo: w.let(`XM[${s}]`), hi: size === 8 ? w.let(`XM[${s + 1}]`) : "0" });
    return true;
  }
  return false;
};

/** PUNPCKLQDQ xmm, xmm: the destination's high quadword becomes the source's low one. */
const punpcklqdq: Emitter = (w) => {
  const ins = w.ins;
  if (w.mode !== 64 || ins.mod !== 3) return false;
  const d = ins.reg << 2, s = ins.rm << 2;
  w.mayFault();
  w.emit(`H.sseCheck();XM[${d + 2}]=XM[${s}];XM[${d + 3}]=XM[${s + 1}];`);
  return true;
};

const nothing: Emitter = () => true;

/** Emitters by mnemonic (rows not listed, or whose emitter declines, run through the shared semantics). */
export const EMITTERS: Record<string, Emitter> = {
  mov, movzx, movsx, movsxd, lea, xchg,
  add: binary(ADD), or: binary(OR), adc: binary(ADC), sbb: binary(SBB), and: binary(AND),
  sub: binary(SUB), xor: binary(XOR), cmp: binary(CMP), test: binary(TEST),
  inc: incDec(true), dec: incDec(false), neg, not, imul, mul: multiplyAccumulator(false),
  div: divideAccumulator(false), idiv: divideAccumulator(true),
  cbw: signExtendAccumulator, cwde: signExtendAccumulator, cdqe: signExtendAccumulator,
  cwd: signToDx, cdq: signToDx, cqo: signToDx,
  shl: shift(SHL), sal: shift(SHL), shr: shift(SHR), sar: shift(SAR), rol: shift(ROL), ror: shift(ROR),
  push, pop, leave, jmp, call, ret,
  nop: nothing, endbr64: nothing, endbr32: nothing, pause: nothing,
  prefetchnta: nothing, prefetcht0: nothing, prefetcht1: nothing, prefetcht2: nothing,
  lfence: nothing, mfence: nothing, sfence: nothing,
  movaps: move128(true), movapd: move128(true), movdqa: move128(true),
  movups: move128(false), movupd: move128(false), movdqu: move128(false),
  pxor, bswap, movq: moveGeneral, movd: moveGeneral, punpcklqdq, shld: doubleShift(true), shrd: doubleShift(false),
};
for (const cc of ["o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p", "np", "l", "ge", "le", "g"]) {
  EMITTERS[`j${cc}`] = jcc;
  EMITTERS[`set${cc}`] = setcc;
  EMITTERS[`cmov${cc}`] = cmov;
}

