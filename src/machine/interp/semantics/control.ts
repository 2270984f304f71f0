// Control transfer: JMP, Jcc, CALL, RET, LOOP/JrCXZ, far transfers, software interrupts, IRET,
// SYSCALL/SYSRET, HLT and the UD instructions.
import type { Instruction } from "../../../decoder/decode.js";
import { M_A, M_E, M_J } from "../../../decoder/operand-spec.js";
import { CS, EFER_SCE, SS, TWO_32, type Cpu } from "../../cpu.js";
import { CpuException, VEC_BP, VEC_DB, VEC_GP, VEC_OF, VEC_UD, invalidOpcode } from "../../cpu-exception.js";
import { SoftwareInterrupt, interruptReturn, splitHi, splitLo } from "../../interrupts.js";
import { readOperand } from "../operand-access.js";
import { loadCodeSegment, preciseFarTransfer } from "./segments.js";
import type { SemanticTable } from "./types.js";

const RF_FLAG_MASK = 1 << 16;

/** A branch target from a 64-bit pair: #GP(0) unless canonical. */
function targetFromPair(lo: number, hi: number): number {
  if ((hi << 16) >> 16 !== hi) throw new CpuException(VEC_GP, 0, "branch to a non-canonical address");
  return hi * TWO_32 + (lo >>> 0);
}

/** nextRip + displacement, wrapped to the operand size (16/32) or checked for canonicity (64). */
function relativeTarget(cpu: Cpu, ins: Instruction): number {
  const target = cpu.nextRip + ins.imm;
  if (ins.opSize === 8) {
    const hi = Math.floor(target / TWO_32);
    return targetFromPair(target - hi * TWO_32, hi);
  }
  return ins.opSize === 2 ? ((target % 65536) + 65536) % 65536 : ((target % TWO_32) + TWO_32) % TWO_32;
}

/** The target of an indirect near branch (register or memory operand). */
function indirectTarget(cpu: Cpu, ins: Instruction): number {
  const lo = readOperand(cpu, ins, 0);
  if (ins.opSize === 8) return targetFromPair(lo, cpu.hi);
  return ins.opSize === 2 ? lo & 0xffff : lo >>> 0;
}

function jmp(cpu: Cpu, ins: Instruction): void {
  const method = ins.row.operands[0].method;
  if (method === M_J) cpu.nextRip = relativeTarget(cpu, ins);
  else if (method === M_E) cpu.nextRip = indirectTarget(cpu, ins);
  else farJump(cpu, ins, false);
}

function jcc(cpu: Cpu, ins: Instruction): void {
  if (cpu.condition(ins.row.opcode & 0xf)) cpu.nextRip = relativeTarget(cpu, ins);
}

function call(cpu: Cpu, ins: Instruction): void {
  const method = ins.row.operands[0].method;
  if (method !== M_J && method !== M_E) return farJump(cpu, ins, true);
  const target = method === M_J ? relativeTarget(cpu, ins) : indirectTarget(cpu, ins);
  const size = ins.opSize;
  cpu.push(size, size === 8 ? splitLo(cpu.nextRip) : cpu.nextRip, size === 8 ? splitHi(cpu.nextRip) : 0);
  cpu.nextRip = target;
}

function ret(cpu: Cpu, ins: Instruction): void {
  const size = ins.opSize;
  const lo = cpu.peek(size, 0);
  const target = size === 8 ? targetFromPair(lo, cpu.hi) : size === 2 ? lo & 0xffff : lo >>> 0;
  cpu.adjustStack(size + (ins.row.operands.length > 0 ? ins.imm & 0xffff : 0));
  cpu.nextRip = target;
}

/** LOOP/LOOPE/LOOPNE/JrCXZ: the count register is CX, ECX or RCX by address size. */
function counterBranch(kind: "loop" | "loope" | "loopne" | "jcxz") {
  return (cpu: Cpu, ins: Instruction): void => {
    const addrSize = ins.addrSize;
    let zero: boolean;
    if (kind === "jcxz") {
      zero = addrSize === 2 ? cpu.regWords[4] === 0 : addrSize === 4 ? cpu.regs[2] === 0 : (cpu.regs[2] | cpu.regs[3]) === 0;
      if (zero) cpu.nextRip = relativeTarget(cpu, ins);
      return;
    }
    if (addrSize === 2) {
      cpu.regWords[4] = cpu.regWords[4] - 1;
      zero = cpu.regWords[4] === 0;
    } else if (addrSize === 4) {
      cpu.writeReg(1, 4, false, cpu.regs[2] - 1, 0);
      zero = cpu.regs[2] === 0;
    } else {
      const lo = cpu.regs[2];
      cpu.setReg64(1, lo - 1, lo === 0 ? cpu.regs[3] - 1 : cpu.regs[3]);
      zero = (cpu.regs[2] | cpu.regs[3]) === 0;
    }
    const taken = !zero && (kind === "loop" || (kind === "loope" ? cpu.zf() : !cpu.zf()));
    if (taken) cpu.nextRip = relativeTarget(cpu, ins);
  };
}

/** Far JMP/CALL through a pointer (immediate Ap in 32-bit mode, or memory Mp). */
function farJump(cpu: Cpu, ins: Instruction, isCall: boolean): void {
  preciseFarTransfer(cpu, () => farJumpUnchecked(cpu, ins, isCall));
}

function farJumpUnchecked(cpu: Cpu, ins: Instruction, isCall: boolean): void {
  let offset: number, selector: number;
  if (ins.row.operands[0].method === M_A) {
    offset = ins.imm >>> 0;
    selector = ins.imm2 & 0xffff;
  } else {
    const size = ins.opSize;
    const lo = cpu.read(cpu.ea, size);
    offset = size === 8 ? targetFromPair(lo, cpu.hi) : size === 2 ? lo & 0xffff : lo >>> 0;
    selector = cpu.read(cpu.next(cpu.ea, size), 2);
  }
  const oldCs = cpu.segSelector[CS];
  const returnRip = cpu.nextRip;
  const size = ins.opSize;
  const rpl = selector & 3;
  if (rpl > cpu.cpl) throw new CpuException(VEC_GP, selector & 0xfffc, "far transfer to an outer privilege level (call gates are not supported)");
  // Push the return address before switching, in the old mode's stack width.
  if (isCall) {
    cpu.push(size, oldCs, 0);
    cpu.push(size, size === 8 ? splitLo(returnRip) : returnRip, size === 8 ? splitHi(returnRip) : 0);
  }
  loadCodeSegment(cpu, selector, cpu.cpl);
  cpu.nextRip = offset;
}

function retf(cpu: Cpu, ins: Instruction): void {
  preciseFarTransfer(cpu, () => farReturn(cpu, ins));
}

function farReturn(cpu: Cpu, ins: Instruction): void {
  const size = ins.opSize;
  const lo = cpu.peek(size, 0);
  const hi = cpu.hi;
  const selector = cpu.peek(size, size) & 0xffff;
  if ((selector & 3) !== cpu.cpl) throw new CpuException(VEC_GP, selector & 0xfffc, "RETF to another privilege level is not supported");
  const target = size === 8 ? targetFromPair(lo, hi) : size === 2 ? lo & 0xffff : lo >>> 0;
  cpu.adjustStack(2 * size + (ins.row.operands.length > 0 ? ins.imm & 0xffff : 0));
  loadCodeSegment(cpu, selector, cpu.cpl);
  cpu.nextRip = target;
}

/** INT n, INT3, INTO, INT1: a trap, delivered with the address of the next instruction as return address. */
function softwareInterrupt(vectorOf: (cpu: Cpu, ins: Instruction) => number | null, checksGatePrivilege = true) {
  return (cpu: Cpu, ins: Instruction): void => {
    const vector = vectorOf(cpu, ins);
    if (vector === null) return;
    throw new SoftwareInterrupt(vector, cpu.nextRip, checksGatePrivilege);
  };
}

function iret(cpu: Cpu, ins: Instruction): void {
  preciseFarTransfer(cpu, () => interruptReturn(cpu, ins.opSize));
  cpu.nextRip = cpu.rip;
}

/** SYSCALL: CS/SS from STAR[47:32], RIP from LSTAR, RFLAGS masked by SFMASK, RCX/R11 keep the return state. */
function syscall(cpu: Cpu): void {
  if (cpu.mode !== 64 || !(cpu.efer & EFER_SCE)) throw invalidOpcode();
  const returnRip = cpu.nextRip;
  cpu.setReg64(1, splitLo(returnRip), splitHi(returnRip));
  const flags = cpu.getFlags();
  cpu.setReg64(11, flags & ~RF_FLAG_MASK, 0);
  const selector = cpu.starHi & 0xffff;
  setFlatSegment(cpu, CS, selector & 0xfffc, 0x9b | (1 << 13) | (1 << 15), 0);
  setFlatSegment(cpu, SS, (selector + 8) & 0xfffc, 0x93 | (1 << 14) | (1 << 15), 0);
  cpu.setFlags(0, cpu.sfmask | RF_FLAG_MASK);
  cpu.nextRip = cpu.lstar;
}

/** SYSRET: back to CPL 3 with CS/SS from STAR[63:48]; RIP from RCX, RFLAGS from R11. */
function sysret(cpu: Cpu, ins: Instruction): void {
  if (cpu.mode !== 64 || !(cpu.efer & EFER_SCE)) throw invalidOpcode();
  if (cpu.cpl !== 0) throw new CpuException(VEC_GP, 0, "SYSRET at CPL > 0");
  const base = (cpu.starHi >>> 16) & 0xffff;
  const to64 = ins.opSize === 8;
  const target = to64 ? targetFromPair(cpu.regs[2], cpu.regs[3]) : cpu.regs[2] >>> 0;
  setFlatSegment(cpu, CS, ((to64 ? base + 16 : base) & 0xfffc) | 3, 0xfb | (to64 ? 1 << 13 : 1 << 14) | (1 << 15), 3);
  setFlatSegment(cpu, SS, ((base + 8) & 0xfffc) | 3, 0xf3 | (1 << 14) | (1 << 15), 3);
  cpu.setFlags(cpu.regs[22] & 0x3c7fd7, 0x3fffff);
  cpu.nextRip = target;
}

/** SYSCALL/SYSRET load fixed flat descriptors rather than reading the GDT. */
function setFlatSegment(cpu: Cpu, segment: number, selector: number, attributes: number, cpl: number): void {
  cpu.segSelector[segment] = selector;
  cpu.segBase[segment] = 0;
  cpu.segLimit[segment] = 0xffffffff;
  cpu.segAttributes[segment] = attributes;
  if (segment === CS) {
    cpu.cpl = cpl;
    cpu.updateMode();
  }
}

function hlt(cpu: Cpu): void {
  if (cpu.cpl !== 0) throw new CpuException(VEC_GP, 0, "HLT at CPL > 0");
  cpu.halted = true;
}

function undefinedInstruction(): void {
  throw new CpuException(VEC_UD, null, "UD instruction");
}

export const CONTROL: SemanticTable = {
  jmp, call, ret, retf, iret, iretd: iret, iretq: iret,
  loop: counterBranch("loop"), loope: counterBranch("loope"), loopne: counterBranch("loopne"),
  jcxz: counterBranch("jcxz"), jecxz: counterBranch("jcxz"), jrcxz: counterBranch("jcxz"),
  int: softwareInterrupt((_cpu, ins) => ins.imm & 0xff),
  int3: softwareInterrupt(() => VEC_BP),
  int1: softwareInterrupt(() => VEC_DB, false),
  into: softwareInterrupt((cpu) => (cpu.of() ? VEC_OF : null)),
  syscall, sysret, sysretq: sysret, hlt,
  ud0: undefinedInstruction, ud1: undefinedInstruction, ud2: undefinedInstruction,
};
for (const suffix of ["o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p", "np", "l", "ge", "le", "g"]) CONTROL[`j${suffix}`] = jcc;
