// Runs a piece of 64-bit user code (CPL 3, flat segments, 4-level paging that maps only the code
// and the given memory regions) on the interpreter and reports the final state or the first
// exception, without an IDT. The hardware oracle runs the same code natively and compares.
import { CS, EFER_SCE, CR0_PE, CR0_PG, CR0_WP, CR4_OSFXSR, CR4_OSXMMEXCPT, CR4_PAE, Cpu, DS, EFER_LMA, EFER_LME, EFER_NXE, ES, FS, GS, SEG_L, SS, TWO_32 } from "./cpu.js";
import { REP_UNFINISHED } from "./cpu-exception.js";
import { PortBus } from "./io-bus.js";
import { Interpreter } from "./interp/interpreter.js";
import { PhysicalMemory } from "./memory.js";

export interface UserModeState {
  /** 16 entries in encoding order: rax rcx rdx rbx rsp rbp rsi rdi r8..r15 */
  gpr: BigUint64Array;
  rip: bigint;
  /** architectural RFLAGS bits */
  rflags: number;
  /** 32 entries: xmm i = [2i] low qword, [2i+1] high qword */
  xmm: BigUint64Array;
  mxcsr: number;
}

export interface UserModeResult {
  /** the final state; after an exception, the state at the faulting instruction */
  state: UserModeState;
  /** address: the faulting linear address of a #PF (what CR2 would receive) */
  exception: { vector: number; errorCode: number | null; address?: number } | null;
  retired: number;
}

/** Copied into guest memory before the run and back out after it. */
export interface UserModeMemoryRegion {
  address: number;
  bytes: Uint8Array;
}

export interface UserModeOptions {
  code: Uint8Array;
  codeAddress: number;
  regions: UserModeMemoryRegion[];
  /** initial state; rip is ignored (execution starts at codeAddress) */
  state: UserModeState;
  maxInstructions: number;
}

const PAGE = 4096;
const PTE_P = 1, PTE_RW = 2, PTE_US = 4;
const PTE_NX_HI = 0x80000000 | 0;

/** A range of linear addresses to map: user pages unless `user` is false (supervisor). */
export interface MappedRange {
  address: number;
  length: number;
  executable: boolean;
  user?: boolean;
}

/**
 * 4-level page tables built in a machine's RAM from physical page 1 up: each page of each range gets
 * a fresh frame. map() starts over (zeroing what the previous map used).
 */
export class UserAddressSpace {
  private nextFree: number;
  /** the page-map level 4 table of the last map() */
  pml4 = 0;

  constructor(private readonly memory: PhysicalMemory) {
    this.nextFree = memory.ram.length;
  }

  /** Maps every page of every range; returns linear page number → physical frame. */
  map(ranges: readonly MappedRange[]): Map<number, number> {
    this.memory.ram.fill(0, 0, this.nextFree);
    this.nextFree = PAGE; // physical page 0 stays unused
    const pml4 = this.allocate();
    this.pml4 = pml4;
    const physicalOf = new Map<number, number>();
    for (const range of ranges) {
      const first = Math.floor(range.address / PAGE);
      const last = Math.floor((range.address + Math.max(range.length, 1) - 1) / PAGE);
      for (let page = first; page <= last; page++) {
        if (physicalOf.has(page)) continue;
        const frame = this.allocate();
        physicalOf.set(page, frame);
        const linear = page * PAGE;
        const table3 = this.walk(pml4, (linear / 2 ** 39) & 511);
        const table2 = this.walk(table3, (linear / 2 ** 30) & 511);
        const table1 = this.walk(table2, (linear / 2 ** 21) & 511);
        const entry = table1 + ((linear / PAGE) & 511) * 8;
        this.memory.view.setUint32(entry, frame | PTE_P | PTE_RW | (range.user === false ? 0 : PTE_US), true);
        this.memory.view.setUint32(entry + 4, range.executable ? 0 : PTE_NX_HI, true);
      }
    }
    return physicalOf;
  }

  private allocate(): number {
    const frame = this.nextFree;
    this.nextFree += PAGE;
    if (this.nextFree > this.memory.ram.length) throw new Error("user-mode machine: out of physical memory");
    return frame;
  }

  /** The next-level table behind entry `index` of `table`, created if absent. */
  private walk(table: number, index: number): number {
    const entry = table + index * 8;
    const existing = this.memory.view.getUint32(entry, true);
    if (existing & PTE_P) return existing & ~0xfff;
    const next = this.allocate();
    this.memory.view.setUint32(entry, next | PTE_P | PTE_RW | PTE_US, true);
    return next;
  }
}

/** CPL 3 in 64-bit mode with paging through `pml4`, flat user segments, CR/EFER as Linux leaves them. */
export function enterUserMode(cpu: Cpu, pml4: number): void {
  cpu.cr3 = pml4;
  cpu.cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT;
  cpu.efer = EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE;
  cpu.cr0 = CR0_PE | CR0_PG | CR0_WP | 0x10;
  cpu.cr2 = 0;
  for (const segment of [ES, SS, DS, FS, GS]) {
    cpu.segSelector[segment] = 0x2b;
    cpu.segBase[segment] = 0;
    cpu.segLimit[segment] = 0xffffffff;
    cpu.segAttributes[segment] = 0xf3 | (1 << 14) | (1 << 15);
  }
  cpu.segSelector[CS] = 0x33;
  cpu.segBase[CS] = 0;
  cpu.segLimit[CS] = 0xffffffff;
  cpu.segAttributes[CS] = 0xfb | SEG_L | (1 << 15);
  cpu.cpl = 3;
  cpu.updateMode();
  cpu.mmu.flush();
}

/** Sets the registers, XMM, MXCSR and RFLAGS from `state`; RIP to `rip`; counts from zero. */
export function loadUserState(cpu: Cpu, state: UserModeState, rip: number): void {
  for (let reg = 0; reg < 16; reg++) {
    const value = state.gpr[reg];
    cpu.setReg64(reg, Number(value & 0xffffffffn) | 0, Number(value >> 32n) | 0);
  }
  for (let i = 0; i < 32; i++) {
    cpu.xmm[2 * i] = Number(state.xmm[i] & 0xffffffffn) | 0;
    cpu.xmm[2 * i + 1] = Number(state.xmm[i] >> 32n) | 0;
  }
  cpu.mxcsr = state.mxcsr;
  cpu.lazy.op = 0;
  cpu.flags = (state.rflags & 0x3f7fd5) | 2;
  cpu.refreshAlignmentChecks();
  cpu.rip = rip;
  cpu.retired = 0;
  cpu.halted = false;
  cpu.interruptShadow = false;
}

/** The CPU's registers, RIP, RFLAGS, XMM and MXCSR as a UserModeState. */
export function readUserState(cpu: Cpu): UserModeState {
  const gpr = new BigUint64Array(16);
  for (let reg = 0; reg < 16; reg++) gpr[reg] = (BigInt(cpu.regs[2 * reg + 1] >>> 0) << 32n) | BigInt(cpu.regs[2 * reg] >>> 0);
  const xmm = new BigUint64Array(32);
  for (let i = 0; i < 32; i++) xmm[i] = (BigInt(cpu.xmm[2 * i + 1] >>> 0) << 32n) | BigInt(cpu.xmm[2 * i] >>> 0);
  const rip = BigInt.asUintN(64, BigInt(Math.floor(cpu.rip / TWO_32)) << 32n | BigInt(cpu.rip % TWO_32 >>> 0));
  return { gpr, rip, rflags: cpu.getFlags(), xmm, mxcsr: cpu.mxcsr };
}

/** A small machine for user-mode runs, built once and reused (the run resets what it uses). */
class UserMachine {
  readonly memory = new PhysicalMemory(32 * 1024 * 1024);
  readonly cpu = new Cpu(this.memory, new PortBus());
  readonly interpreter = new Interpreter(this.cpu);
  readonly space = new UserAddressSpace(this.memory);
}

let machine: UserMachine | null = null;

/** Copies between `bytes` and guest memory at linear `address` through the page map. */
export function copyLinear(bytes: Uint8Array, address: number, physicalOf: Map<number, number>, memory: PhysicalMemory, toGuest: boolean): void {
  for (let i = 0; i < bytes.length; i++) {
    const linear = address + i;
    const physical = physicalOf.get(Math.floor(linear / PAGE))! + (linear % PAGE);
    if (toGuest) memory.ram[physical] = bytes[i];
    else bytes[i] = memory.ram[physical];
  }
}

export function runUserMode(options: UserModeOptions): UserModeResult {
  machine ??= new UserMachine();
  const { cpu, interpreter, memory } = machine;
  const physicalOf = machine.space.map([
    { address: options.codeAddress, length: options.code.length, executable: true },
    ...options.regions.map((region) => ({ address: region.address, length: region.bytes.length, executable: false })),
  ]);
  enterUserMode(cpu, machine.space.pml4);
  interpreter.invalidateAll();
  copyLinear(options.code, options.codeAddress, physicalOf, memory, true);
  for (const region of options.regions) copyLinear(region.bytes, region.address, physicalOf, memory, true);
  loadUserState(cpu, options.state, options.codeAddress);

  const end = options.codeAddress + options.code.length;
  let exception: UserModeResult["exception"] = null;
  while (cpu.rip !== end && cpu.retired < options.maxInstructions) {
    const fault = interpreter.execute();
    if (fault === REP_UNFINISHED) continue; // a long REP string instruction goes on
    if (fault !== null) {
      exception = { vector: fault.vector, errorCode: fault.errorCode };
      if (fault.vector === 14) exception.address = cpu.mmu.faultAddress;
      break;
    }
  }

  for (const region of options.regions) copyLinear(region.bytes, region.address, physicalOf, memory, false);
  return {
    state: readUserState(cpu),
    exception,
    retired: cpu.retired,
  };
}
