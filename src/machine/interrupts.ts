// Delivery of exceptions and interrupts through the IDT (64-bit and 32-bit gates), the double-fault
// rules of SDM vol. 3 §6.15 (table 6-5), and IRET.
import { IF, TF } from "../decoder/flags.js";
import { CS, SS, TWO_32, type Cpu } from "./cpu.js";
import { CpuException, VEC_DF, VEC_GP, VEC_NP, VEC_PF } from "./cpu-exception.js";
import { descriptorAttributes, loadCodeSegment, loadSegmentRegister, readDescriptor } from "./interp/semantics/segments.js";

const NT = 1 << 14;
const RF = 1 << 16;
const VM = 1 << 17;

/** The machine stops: an exception could not be delivered even as a double fault. */
export class TripleFault extends Error {
  constructor(readonly reason: string) {
    super(`triple fault: ${reason}`);
  }
}

export const EXCEPTION_NAMES = [
  "#DE divide error", "#DB debug", "NMI", "#BP breakpoint", "#OF overflow", "#BR bound range", "#UD invalid opcode",
  "#NM device not available", "#DF double fault", "coprocessor segment overrun", "#TS invalid TSS", "#NP segment not present",
  "#SS stack fault", "#GP general protection", "#PF page fault", "reserved", "#MF x87 error", "#AC alignment check",
  "#MC machine check", "#XM SIMD exception", "#VE virtualization", "#CP control protection",
];

/**
 * INT n / INT3 / INTO / INT1, raised by the instruction's semantics: unlike a fault, it is delivered
 * with the following instruction as return address (and INT n checks the gate's DPL).
 */
export class SoftwareInterrupt extends CpuException {
  /** `fromInstruction`: INT n/INT3/INTO, whose gate DPL is checked; false for traps like single-step #DB */
  constructor(vector: number, readonly returnRip: number, readonly fromInstruction = true) {
    super(vector, null, `INT ${vector}`);
  }
}

const isContributory = (vector: number) => vector === 0 || (vector >= 10 && vector <= 13);

/** What kind of event is being delivered: it decides the pushed RIP and the gate DPL check. */
export const EVENT_EXCEPTION = 0;
export const EVENT_SOFTWARE = 1; // INT n, INT3, INTO: DPL-checked, return address after the instruction
export const EVENT_EXTERNAL = 2;

/**
 * Delivers an exception raised by the instruction at cpu.rip (faults: the pushed RIP is that
 * instruction's), applying the double- and triple-fault rules when delivery itself faults.
 */
export function deliverException(cpu: Cpu, exception: CpuException): void {
  if (exception.vector === VEC_PF) cpu.cr2 = cpu.mmu.faultAddress;
  try {
    if (exception instanceof SoftwareInterrupt) {
      deliver(cpu, exception.vector, null, exception.fromInstruction ? EVENT_SOFTWARE : EVENT_EXCEPTION, exception.returnRip);
    }
    else deliver(cpu, exception.vector, exception.errorCode, EVENT_EXCEPTION, cpu.rip);
  } catch (second) {
    if (!(second instanceof CpuException)) throw second;
    const first = exception.vector;
    if (first === VEC_DF) throw new TripleFault(`${describe(second)} while delivering a double fault`);
    const escalates = (isContributory(first) && isContributory(second.vector))
      || (first === VEC_PF && (second.vector === VEC_PF || isContributory(second.vector)));
    if (!escalates) return deliverException(cpu, second);
    if (second.vector === VEC_PF) cpu.cr2 = cpu.mmu.faultAddress;
    try {
      deliver(cpu, VEC_DF, 0, EVENT_EXCEPTION, cpu.rip);
    } catch (third) {
      if (!(third instanceof CpuException)) throw third;
      throw new TripleFault(`${describe(third)} while delivering a double fault (after ${describe(exception)} then ${describe(second)})`);
    }
  }
}

export function describe(exception: CpuException): string {
  const name = EXCEPTION_NAMES[exception.vector] ?? `vector ${exception.vector}`;
  return exception.errorCode === null ? name : `${name} (error code 0x${exception.errorCode.toString(16)})`;
}

/**
 * Transfers control through IDT entry `vector`. `returnRip` is what the handler's IRET returns to.
 * Throws a CpuException (e.g. #GP for a bad gate, #PF on the stack) if delivery itself faults.
 */
export function deliver(cpu: Cpu, vector: number, errorCode: number | null, kind: number, returnRip: number): void {
  const long = (cpu.efer & (1 << 10)) !== 0;
  const entrySize = long ? 16 : 8;
  const idtError = vector * 8 + 2 + (kind === EVENT_EXTERNAL ? 1 : 0);
  if (vector * entrySize + entrySize - 1 > cpu.idtrLimit) throw new CpuException(VEC_GP, idtError, `IDT entry ${vector} beyond the IDT limit`);
  const entry = cpu.idtrBase + vector * entrySize;
  const word0 = cpu.systemRead(entry, 4);
  const word1 = cpu.systemRead(entry + 4, 4);
  const type = (word1 >>> 8) & 0x1f;
  const dpl = (word1 >>> 13) & 3;
  const present = (word1 & 0x8000) !== 0;
  let offset = ((word1 & 0xffff0000) | (word0 & 0xffff)) >>> 0;
  const selector = word0 >>> 16;
  const isInterruptGate = (type & 0xf) === 0xe;
  const isTrapGate = (type & 0xf) === 0xf;
  if (!isInterruptGate && !isTrapGate) throw new CpuException(VEC_GP, idtError, `IDT entry ${vector} is not an interrupt or trap gate`);
  if (kind === EVENT_SOFTWARE && dpl < cpu.cpl) throw new CpuException(VEC_GP, idtError, `INT ${vector} from CPL ${cpu.cpl} to a DPL ${dpl} gate`);
  if (!present) throw new CpuException(VEC_NP, idtError, `IDT entry ${vector} not present`);
  let ist = 0;
  if (long) {
    const word2 = cpu.systemRead(entry + 8, 4);
    offset = (word2 | 0) * TWO_32 + offset;
    ist = word1 & 7;
  }
  const target = readDescriptor(cpu, selector);
  const targetAttributes = descriptorAttributes(target);
  const targetDpl = (targetAttributes >> 5) & 3;
  if ((targetAttributes & 0x18) !== 0x18 || targetDpl > cpu.cpl) throw new CpuException(VEC_GP, selector & 0xfffc, `IDT entry ${vector}: bad code segment`);

  const flags = cpu.getFlags();
  const oldCs = cpu.segSelector[CS];
  const oldSs = cpu.segSelector[SS];
  const oldRspLo = cpu.regs[8], oldRspHi = cpu.regs[9];
  const oldCpl = cpu.cpl;
  const privilegeChange = targetDpl < oldCpl;
  // The handler's stack is written at the handler's privilege.
  cpu.mmu.cpl = targetDpl;
  try {
    pushFrame();
  } catch (fault) {
    cpu.mmu.cpl = oldCpl;
    throw fault;
  }
  loadCodeSegment(cpu, selector, targetDpl);
  cpu.setFlags(0, TF | NT | RF | VM | (isInterruptGate ? IF : 0));
  cpu.rip = long ? offset : offset >>> 0;
  cpu.halted = false;

  function pushFrame(): void {

  if (long) {
    // 64-bit: new stack from the IST or the TSS's RSPn on a privilege change, aligned to 16 bytes.
    if (ist !== 0 || privilegeChange) {
      const tssOffset = ist !== 0 ? 0x24 + (ist - 1) * 8 : 4 + targetDpl * 8;
      const rspLo = cpu.systemRead(cpu.trBase + tssOffset, 4);
      const rspHi = cpu.systemRead(cpu.trBase + tssOffset + 4, 4);
      cpu.setReg64(4, rspLo | 0, rspHi | 0);
    }
    if (privilegeChange) {
      cpu.segSelector[SS] = targetDpl;
      cpu.segBase[SS] = 0;
      cpu.segAttributes[SS] = 0;
    }
    cpu.regs[8] &= ~0xf;
    const savedMode = cpu.mode;
    cpu.mode = 64;
    try {
      cpu.push(8, oldSs, 0);
      cpu.push(8, oldRspLo, oldRspHi);
      cpu.push(8, flags, 0);
      cpu.push(8, oldCs, 0);
      cpu.push(8, splitLo(returnRip), splitHi(returnRip));
      if (errorCode !== null) cpu.push(8, errorCode, 0);
    } catch (fault) {
      cpu.mode = savedMode;
      cpu.regs[8] = oldRspLo;
      cpu.regs[9] = oldRspHi;
      throw fault;
    }
  } else {
    if (privilegeChange) {
      const esp = cpu.systemRead(cpu.trBase + 4 + targetDpl * 8, 4);
      const ss = cpu.systemRead(cpu.trBase + 8 + targetDpl * 8, 2);
      const savedCpl = cpu.cpl;
      cpu.cpl = targetDpl;
      loadSegmentRegister(cpu, SS, ss);
      cpu.cpl = savedCpl;
      cpu.writeReg(4, 4, false, esp, 0);
      cpu.push(4, oldSs, 0);
      cpu.push(4, oldRspLo, 0);
    }
    cpu.push(4, flags, 0);
    cpu.push(4, oldCs, 0);
    cpu.push(4, returnRip >>> 0, 0);
    if (errorCode !== null) cpu.push(4, errorCode, 0);
  }
  }
}

export function splitLo(value: number): number {
  return (value - Math.floor(value / TWO_32) * TWO_32) | 0;
}

export function splitHi(value: number): number {
  return Math.floor(value / TWO_32) | 0;
}

/** IRET/IRETD/IRETQ: returns from an interrupt handler, to the same or an outer privilege level. */
export function interruptReturn(cpu: Cpu, size: number): void {
  const ripLo = cpu.peek(size, 0), ripHi = size === 8 ? cpu.hi : 0;
  const cs = cpu.peek(size, size) & 0xffff;
  const flags = cpu.peek(size, 2 * size);
  const rpl = cs & 3;
  if (rpl < cpu.cpl) throw new CpuException(VEC_GP, cs & 0xfffc, "IRET to an inner privilege level");
  const returnsToOuter = rpl > cpu.cpl;
  const popsStack = cpu.mode === 64 || returnsToOuter;
  let rspLo = 0, rspHi = 0, ss = 0;
  if (popsStack) {
    rspLo = cpu.peek(size, 3 * size);
    rspHi = size === 8 ? cpu.hi : 0;
    ss = cpu.peek(size, 4 * size) & 0xffff;
  }
  const oldCpl = cpu.cpl;
  let writable = 0x3f7fd5; // CF PF AF ZF SF TF IF DF OF IOPL NT RF AC VIF VIP ID
  if (oldCpl > 0) writable &= ~(3 << 12);
  if (oldCpl > ((cpu.getFlags() >> 12) & 3)) writable &= ~IF;
  if (size === 2) writable &= 0xffff;
  loadCodeSegment(cpu, cs, rpl);
  cpu.setFlags(flags, writable);
  cpu.rip = cpu.mode === 64 ? ripHi * TWO_32 + (ripLo >>> 0) : ripLo >>> 0;
  if (popsStack) {
    if (cpu.mode === 64 && (ss & 0xfffc) === 0 && rpl !== 3) {
      cpu.segSelector[SS] = ss;
      cpu.segBase[SS] = 0;
      cpu.segAttributes[SS] = 0;
    } else {
      loadSegmentRegister(cpu, SS, ss);
    }
    if (size === 8) cpu.setReg64(4, rspLo, rspHi);
    else cpu.writeReg(4, 4, false, rspLo, 0);
  } else {
    cpu.adjustStack(3 * size);
  }
}
