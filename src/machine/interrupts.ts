// Delivery of exceptions and interrupts through the IDT (64-bit and 32-bit gates), the double-fault
// rules of SDM vol. 3 §6.15 (table 6-5), and IRET.
import { IF, TF } from "../decoder/flags.js";
import { CS, SEG_DB, SEG_L, SS, TWO_32, type Cpu } from "./cpu.js";
import { CpuException, VEC_DF, VEC_GP, VEC_NP, VEC_PF, VEC_SS, VEC_TS } from "./cpu-exception.js";
import { descriptorAttributes, descriptorBase, descriptorLimit, loadCodeSegment, loadSegmentRegister, readDescriptor, type Descriptor } from "./interp/semantics/segments.js";

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

/** What kind of event is being delivered: it decides the pushed RIP, the gate DPL check and EXT. */
export const EVENT_EXCEPTION = 0;
export const EVENT_SOFTWARE = 1; // INT n, INT3, INTO: DPL-checked, return address after the instruction, EXT=0
export const EVENT_EXTERNAL = 2;

/** The classes of SDM vol. 3 table 6-4, which decide whether a fault during delivery becomes #DF. */
const BENIGN = 0, CONTRIBUTORY = 1, PAGE_FAULT = 2, DOUBLE_FAULT = 3;

function eventClass(vector: number, kind: number): number {
  // INT n and external interrupts are benign whatever their vector (INT 13 is not a #GP).
  if (kind !== EVENT_EXCEPTION) return BENIGN;
  if (vector === VEC_DF) return DOUBLE_FAULT;
  if (vector === VEC_PF) return PAGE_FAULT;
  return isContributory(vector) ? CONTRIBUTORY : BENIGN;
}

/**
 * Delivers an exception raised by the instruction at cpu.rip (faults: the pushed RIP is that
 * instruction's), applying the double- and triple-fault rules when delivery itself faults.
 */
export function deliverException(cpu: Cpu, exception: CpuException): void {
  if (exception instanceof SoftwareInterrupt) {
    deliverEvent(cpu, exception.vector, null, exception.fromInstruction ? EVENT_SOFTWARE : EVENT_EXCEPTION, exception.returnRip, exception);
  } else {
    deliverEvent(cpu, exception.vector, exception.errorCode, EVENT_EXCEPTION, cpu.rip, exception);
  }
}

/** Delivers external interrupt `vector` (acknowledged from the PIC) before the instruction at cpu.rip. */
export function deliverExternalInterrupt(cpu: Cpu, vector: number): void {
  deliverEvent(cpu, vector, null, EVENT_EXTERNAL, cpu.rip, null);
}

/**
 * Delivers one event; a fault during its delivery (SDM vol. 3 §6.15, table 6-5) is delivered in
 * turn with EXT set in its error code, becomes #DF when both are contributory (or a #PF is
 * followed by a #PF or a contributory fault), and a fault while delivering #DF is a triple fault.
 * The CPU state is as before the event whenever its delivery faults.
 */
function deliverEvent(cpu: Cpu, vector: number, errorCode: number | null, kind: number, returnRip: number, cause: CpuException | null): void {
  if (kind === EVENT_EXCEPTION && vector === VEC_PF) cpu.cr2 = cpu.mmu.faultAddress;
  try {
    deliver(cpu, vector, errorCode, kind, returnRip);
    return;
  } catch (error) {
    if (!(error instanceof CpuException)) throw error;
    const first = eventClass(vector, kind);
    const second = withExternalBit(error, kind);
    const what = () => cause !== null ? describe(cause) : `external interrupt ${vector}`;
    if (first === DOUBLE_FAULT) throw new TripleFault(`${describe(second)} while delivering a double fault`);
    const secondClass = eventClass(second.vector, EVENT_EXCEPTION);
    const escalates = (first === CONTRIBUTORY && secondClass === CONTRIBUTORY) || (first === PAGE_FAULT && secondClass !== BENIGN);
    if (!escalates) {
      deliverEvent(cpu, second.vector, second.errorCode, EVENT_EXCEPTION, cpu.rip, second);
      return;
    }
    if (second.vector === VEC_PF) cpu.cr2 = cpu.mmu.faultAddress;
    try {
      deliver(cpu, VEC_DF, 0, EVENT_EXCEPTION, cpu.rip);
    } catch (third) {
      if (!(third instanceof CpuException)) throw third;
      throw new TripleFault(`${describe(withExternalBit(third, EVENT_EXCEPTION))} while delivering a double fault (after ${what()} then ${describe(second)})`);
    }
  }
}

/**
 * A fault raised while delivering an external interrupt or an exception carries EXT (error code
 * bit 0); one raised while delivering INT n/INT3/INTO does not. #PF's error code has no EXT bit.
 */
function withExternalBit(fault: CpuException, kind: number): CpuException {
  if (kind === EVENT_SOFTWARE || fault.errorCode === null) return fault;
  const v = fault.vector;
  if (v !== VEC_TS && v !== VEC_NP && v !== VEC_SS && v !== VEC_GP) return fault;
  if ((fault.errorCode & 1) !== 0) return fault;
  return new CpuException(v, fault.errorCode | 1, fault.message);
}

export function describe(exception: CpuException): string {
  const name = EXCEPTION_NAMES[exception.vector] ?? `vector ${exception.vector}`;
  return exception.errorCode === null ? name : `${name} (error code 0x${exception.errorCode.toString(16)})`;
}

const EFER_LMA = 1 << 10;
const hex = (value: number) => "0x" + value.toString(16);

/**
 * Transfers control through IDT entry `vector` (SDM vol. 2A, INT n pseudo-code: protected mode and
 * IA-32e mode, interrupt and trap gates). `returnRip` is what the handler's IRET returns to. Every
 * check comes before any state changes; a fault (thrown as a CpuException without EXT, which the
 * caller adds) leaves the CPU as it was.
 */
export function deliver(cpu: Cpu, vector: number, errorCode: number | null, kind: number, returnRip: number): void {
  const long = (cpu.efer & EFER_LMA) !== 0;
  const entrySize = long ? 16 : 8;
  const idtError = vector * 8 + 2;
  // ---- the gate
  if (vector * entrySize + entrySize - 1 > cpu.idtrLimit) throw new CpuException(VEC_GP, idtError, `IDT entry ${vector} beyond the IDT limit`);
  const entry = cpu.idtrBase + vector * entrySize;
  const word0 = cpu.systemRead(long ? entry : entry % TWO_32, 4);
  const word1 = cpu.systemRead(long ? entry + 4 : (entry + 4) % TWO_32, 4);
  const type = (word1 >>> 8) & 0x1f; // with the S bit: a gate is a system descriptor (S=0)
  const dpl = (word1 >>> 13) & 3;
  const present = (word1 & 0x8000) !== 0;
  // IA-32e mode has only 64-bit interrupt (0xE) and trap (0xF) gates; protected mode also has the
  // 16-bit ones (0x6, 0x7). Task gates (0x5) are not modelled (docs/cpu.md): #GP as in IA-32e mode.
  const validGate = type === 0xe || type === 0xf || (!long && (type === 0x6 || type === 0x7));
  if (!validGate) throw new CpuException(VEC_GP, idtError, `IDT entry ${vector} is not an interrupt or trap gate (type ${hex(type)})`);
  if (kind === EVENT_SOFTWARE && dpl < cpu.cpl) throw new CpuException(VEC_GP, idtError, `INT ${vector} from CPL ${cpu.cpl} to a DPL ${dpl} gate`);
  if (!present) throw new CpuException(VEC_NP, idtError, `IDT entry ${vector} not present`);
  const isInterruptGate = (type & 1) === 0;
  const gateSize = long ? 8 : (type & 8) !== 0 ? 4 : 2;
  const selector = word0 >>> 16;
  let offset: number;
  let ist = 0;
  if (long) {
    const word2 = cpu.systemRead(entry + 8, 4) | 0;
    offset = word2 * TWO_32 + (((word1 & 0xffff0000) | (word0 & 0xffff)) >>> 0);
    ist = word1 & 7;
  } else {
    offset = gateSize === 4 ? ((word1 & 0xffff0000) | (word0 & 0xffff)) >>> 0 : word0 & 0xffff;
  }

  // ---- the handler's code segment
  if ((selector & 0xfffc) === 0) throw new CpuException(VEC_GP, 0, `IDT entry ${vector}: null code segment selector`);
  const code = readDescriptor(cpu, selector, codeDescriptor);
  const codeAttributes = descriptorAttributes(code);
  const codeDpl = (codeAttributes >> 5) & 3;
  const isCode = (codeAttributes & 0x18) === 0x18;
  const is64BitCode = (codeAttributes & SEG_L) !== 0 && (codeAttributes & SEG_DB) === 0;
  if (!isCode || codeDpl > cpu.cpl || (long && !is64BitCode)) {
    throw new CpuException(VEC_GP, selector & 0xfffc, `IDT entry ${vector}: selector ${hex(selector)} is not a ${long ? "64-bit " : ""}code segment at DPL <= CPL ${cpu.cpl}`);
  }
  if ((codeAttributes & 0x80) === 0) throw new CpuException(VEC_NP, selector & 0xfffc, `IDT entry ${vector}: code segment ${hex(selector)} not present`);
  // 16-bit code segments are not modelled (the decoder has no 16-bit mode).
  if (!long && (codeAttributes & SEG_DB) === 0) throw new CpuException(VEC_GP, selector & 0xfffc, `IDT entry ${vector}: 16-bit code segment ${hex(selector)} is not supported`);
  const conforming = (codeAttributes & 0x4) !== 0;
  const newCpl = conforming ? cpu.cpl : codeDpl;
  const privilegeChange = newCpl < cpu.cpl;

  // ---- the handler's stack
  const trError = cpu.trSelector & 0xfffc;
  let newRsp = 0; // the new stack pointer as a number (64-bit: a signed canonical value)
  let switchStack = false;
  let newSs = 0;
  if (long) {
    if (ist !== 0 || privilegeChange) {
      const tssOffset = ist !== 0 ? (ist << 3) + 28 : (newCpl << 3) + 4;
      if (tssOffset + 7 > cpu.trLimit) throw new CpuException(VEC_TS, trError, `${ist !== 0 ? `IST${ist}` : `RSP${newCpl}`} lies beyond the TSS limit ${hex(cpu.trLimit)}`);
      const lo = cpu.systemRead(cpu.trBase + tssOffset, 4);
      const hi = cpu.systemRead(cpu.trBase + tssOffset + 4, 4) | 0;
      newRsp = hi * TWO_32 + (lo >>> 0);
      switchStack = true;
    } else {
      newRsp = cpu.regs[9] * TWO_32 + (cpu.regs[8] >>> 0);
    }
    // the stack the frame goes on, whether the TSS's or the current one (INT n: "IF NewRSP
    // contains a non-canonical address THEN #SS(EXT)")
    if (!isCanonical(newRsp)) throw new CpuException(VEC_SS, 0, `the ${switchStack ? (ist !== 0 ? `TSS's IST${ist}` : `TSS's RSP${newCpl}`) : "current"} stack pointer is non-canonical`);
    newSs = newCpl; // a null selector with RPL = the new CPL
    if (!isCanonical(offset)) throw new CpuException(VEC_GP, 0, `IDT entry ${vector}: non-canonical handler address ${hex(offset)}`);
  } else {
    if (privilegeChange) {
      const tss32 = (cpu.trAttributes & 8) !== 0;
      const tssOffset = tss32 ? (newCpl << 3) + 4 : (newCpl << 2) + 2;
      if (tssOffset + (tss32 ? 5 : 3) > cpu.trLimit) throw new CpuException(VEC_TS, trError, `the TSS's stack for CPL ${newCpl} lies beyond its limit ${hex(cpu.trLimit)}`);
      const stackPointer = cpu.systemRead((cpu.trBase + tssOffset) % TWO_32, tss32 ? 4 : 2);
      newSs = cpu.systemRead((cpu.trBase + tssOffset + (tss32 ? 4 : 2)) % TWO_32, 2);
      checkStackSegment(cpu, newSs, newCpl);
      newRsp = stackPointer >>> 0;
      switchStack = true;
    }
    if (offset > descriptorLimit(code)) throw new CpuException(VEC_GP, 0, `IDT entry ${vector}: handler offset ${hex(offset)} beyond the code segment limit`);
  }

  // ---- the frame: pushed on the new stack, at the handler's privilege. On a fault everything the
  // pushes and the stack switch changed is put back.
  const flags = cpu.getFlags();
  const oldCs = cpu.segSelector[CS];
  const oldRspLo = cpu.regs[8], oldRspHi = cpu.regs[9];
  const oldCpl = cpu.cpl, oldMode = cpu.mode;
  const oldSs = cpu.segSelector[SS], oldSsBase = cpu.segBase[SS], oldSsLimit = cpu.segLimit[SS], oldSsAttributes = cpu.segAttributes[SS];
  const oldCsBase = cpu.segBase[CS], oldCsLimit = cpu.segLimit[CS], oldCsAttributes = cpu.segAttributes[CS];
  const oldAlignmentChecks = cpu.alignmentChecks;
  cpu.mmu.cpl = newCpl;
  cpu.alignmentChecks = false; // the frame is written by the processor, not by CPL 3 code
  try {
    if (long) {
      if (switchStack) cpu.setRegNumber(4, newRsp);
      cpu.regs[8] &= ~0xf;
      if (privilegeChange) setNullStackSegment(cpu, newSs);
      cpu.mode = 64;
      cpu.push(8, oldSs, 0);
      cpu.push(8, oldRspLo, oldRspHi);
      cpu.push(8, flags, 0);
      cpu.push(8, oldCs, 0);
      cpu.push(8, splitLo(returnRip), splitHi(returnRip));
      if (errorCode !== null) cpu.push(8, errorCode, 0);
    } else {
      if (switchStack) {
        loadStackSegment(cpu, newSs);
        cpu.writeReg(4, 4, false, newRsp, 0);
        if (cpu.stackSize() === 2) cpu.regs[9] = 0;
        cpu.push(gateSize, oldSs, 0);
        cpu.push(gateSize, oldRspLo, 0);
      }
      cpu.push(gateSize, flags, 0);
      cpu.push(gateSize, oldCs, 0);
      cpu.push(gateSize, returnRip >>> 0, 0);
      if (errorCode !== null) cpu.push(gateSize, errorCode, 0);
    }
    // (re-reads the descriptor checked above: it faults only if the frame overwrote the GDT)
    loadCodeSegment(cpu, selector, newCpl);
  } catch (fault) {
    cpu.segSelector[CS] = oldCs;
    cpu.segBase[CS] = oldCsBase;
    cpu.segLimit[CS] = oldCsLimit;
    cpu.segAttributes[CS] = oldCsAttributes;
    cpu.cpl = oldCpl;
    cpu.updateMode();
    cpu.mode = oldMode;
    cpu.alignmentChecks = oldAlignmentChecks;
    cpu.regs[8] = oldRspLo;
    cpu.regs[9] = oldRspHi;
    cpu.segSelector[SS] = oldSs;
    cpu.segBase[SS] = oldSsBase;
    cpu.segLimit[SS] = oldSsLimit;
    cpu.segAttributes[SS] = oldSsAttributes;
    throw fault;
  }
  cpu.setFlags(0, TF | NT | RF | VM | (isInterruptGate ? IF : 0));
  cpu.rip = long ? offset : gateSize === 2 ? offset & 0xffff : offset >>> 0;
  cpu.halted = false;
}

const codeDescriptor: Descriptor = { lo: 0, hi: 0 };
const stackDescriptor: Descriptor = { lo: 0, hi: 0 };

function isCanonical(address: number): boolean {
  return address >= -0x800000000000 && address < 0x800000000000;
}

/** The TSS's stack segment for a privilege change in protected mode: #TS/#SS as INT n checks it. */
function checkStackSegment(cpu: Cpu, selector: number, cpl: number): void {
  if ((selector & 0xfffc) === 0) throw new CpuException(VEC_TS, 0, "the TSS's stack segment selector is null");
  const local = (selector & 4) !== 0;
  if ((selector & ~7) + 7 > (local ? cpu.ldtrLimit : cpu.gdtrLimit) || (selector & 3) !== cpl) {
    throw new CpuException(VEC_TS, selector & 0xfffc, `the TSS's stack segment ${hex(selector)} is outside its table or has RPL != ${cpl}`);
  }
  const attributes = descriptorAttributes(readDescriptor(cpu, selector, stackDescriptor));
  const writableData = (attributes & 0x1a) === 0x12;
  if (((attributes >> 5) & 3) !== cpl || !writableData) throw new CpuException(VEC_TS, selector & 0xfffc, `the TSS's stack segment ${hex(selector)} is not writable data at DPL ${cpl}`);
  if ((attributes & 0x80) === 0) throw new CpuException(VEC_SS, selector & 0xfffc, `the TSS's stack segment ${hex(selector)} is not present`);
}

/** Loads SS from the descriptor checkStackSegment accepted (no MOV SS interrupt shadow). */
function loadStackSegment(cpu: Cpu, selector: number): void {
  const d = readDescriptor(cpu, selector, stackDescriptor);
  cpu.segSelector[SS] = selector;
  cpu.segBase[SS] = descriptorBase(d);
  cpu.segLimit[SS] = descriptorLimit(d);
  cpu.segAttributes[SS] = descriptorAttributes(d);
}

function setNullStackSegment(cpu: Cpu, selector: number): void {
  cpu.segSelector[SS] = selector;
  cpu.segBase[SS] = 0;
  cpu.segLimit[SS] = 0;
  cpu.segAttributes[SS] = 0;
}

export function splitLo(value: number): number {
  return (value - Math.floor(value / TWO_32) * TWO_32) | 0;
}

export function splitHi(value: number): number {
  return Math.floor(value / TWO_32) | 0;
}

/**
 * IRET/IRETD/IRETQ: returns from an interrupt handler, to the same or an outer privilege level. It
 * may fault after loading CS: the caller restores the state (preciseFarTransfer).
 */
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
  if (cpu.mode === 64 && (ripHi << 16) >> 16 !== ripHi) throw new CpuException(VEC_GP, 0, "IRET to a non-canonical address");
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
