// --profile's sampler: every `interval` retired guest instructions on average, the guest's RIP and
// its frame-pointer call stack, and the share of the instructions just before it that ran as
// compiled JIT code.
//
// The run loop (PcMachine.runSlice) ends a batch where the next sample falls and calls sample()
// there, so nothing runs per instruction and a JIT unit is never interrupted: with the realtime
// clock a unit may finish its block past the sample point (BatchLimit.batchSlack), which moves the
// sample by at most one block. Each gap is drawn uniformly from interval/2..3·interval/2 by a
// fixed-seed generator: the mean is `interval`, runs under --clock virtual stay reproducible, and a
// loop whose period divides the interval is not always caught at the same instruction.
//
// Compiled or interpreted: the run loop also ends a batch WINDOW instructions before each sample
// and calls startWindow() there; the sample records which part of the instructions retired since
// ran inside compiled units (the engine's jitInstructions counter). Whether a compiled unit holds
// the instruction at RIP would be cheaper to ask but wrong where it matters: samples land where a
// unit returns to the dispatcher, and in a loop whose compiled body exits at an instruction the JIT
// leaves to the interpreter (one that crosses a page, say), every sample lands on that one
// interpreted instruction (docs/profile.md).
//
// Stacks come from the frame-pointer chain (the guest is built with -fno-omit-frame-pointer):
// [RBP] is the caller's RBP, [RBP+8] the return address. Memory is read through the page tables
// without side effects (Mmu.probe: no accessed bits, no TLB fill, no fault) and only where it is
// RAM; the walk stops at an unmapped, misaligned or non-canonical frame, a frame that does not
// lie above the previous one, a return address outside the image's code, or `maxDepth`.
import type { BatchSampler, PcMachine } from "../machine/pc.js";

const TWO_32 = 4294967296;
/** default bound of a walked stack, frames (the leaf included) */
export const MAX_STACK_DEPTH = 64;
/** instructions before each sample whose compiled share the sample records */
export const WINDOW = 1024;

/** What a run of the sampler recorded: stacks leaf first, addresses as the CPU holds them. */
export interface SampleRecording {
  /** guest instructions between samples, on average */
  interval: number;
  /** retired-instruction counts at the start, at each sample, at the end */
  start: number;
  times: number[];
  end: number;
  /** sample i's frames are frames[offsets[i] .. offsets[i + 1]): RIP, then each return address minus 1 (the call) */
  offsets: number[];
  frames: number[];
  /** per sample, the share (0..1) of the WINDOW instructions before it that ran as compiled JIT code */
  compiled: number[];
  /** instructions retired while sampling */
  instructions: number;
}

export class GuestSampler implements BatchSampler {
  nextSample: number;
  readonly windowLength = WINDOW;
  private readonly times: number[] = [];
  private readonly offsets: number[] = [0];
  private readonly frames: number[] = [];
  private readonly compiled: number[] = [];
  /** where the current window started (retired instructions, the JIT's jitInstructions), and whether it is open */
  private windowRetired: number;
  private windowCompiled: number;
  private windowOpen = false;
  private random = 0x2545f491;
  private readonly startRetired: number;
  /** one-entry translation cache for a walk: linear page (NaN: none) → physical page (-1: not RAM) */
  private cachedPage = NaN;
  private cachedPhysical = -1;

  constructor(
    private readonly machine: PcMachine,
    readonly interval: number,
    /** whether an address lies in the image's code (a return address must) */
    private readonly isCode: (address: number) => boolean,
    readonly maxDepth = MAX_STACK_DEPTH,
  ) {
    if (!Number.isSafeInteger(interval) || interval < 1) throw new RangeError(`sample interval must be a positive integer, got ${interval}`);
    this.startRetired = machine.cpu.retired;
    this.windowRetired = machine.cpu.retired;
    this.windowCompiled = machine.jit?.jitInstructions ?? 0;
    this.nextSample = machine.cpu.retired + this.gap();
  }

  /** The last batches before the next sample start: count from here. */
  startWindow(): void {
    if (this.windowOpen) return;
    this.windowOpen = true;
    this.windowRetired = this.machine.cpu.retired;
    this.windowCompiled = this.machine.jit?.jitInstructions ?? 0;
  }

  /** The gap to the next sample: uniform in interval/2 .. 3·interval/2 (xorshift32, fixed seed). */
  private gap(): number {
    let x = this.random;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.random = x;
    return Math.max(1, Math.floor(this.interval / 2 + ((x >>> 0) / TWO_32) * this.interval));
  }

  sample(): void {
    const machine = this.machine, cpu = machine.cpu;
    this.times.push(cpu.retired);
    const jit = machine.jit;
    const retired = cpu.retired - this.windowRetired;
    const share = jit === null || retired <= 0 ? 0 : (jit.jitInstructions - this.windowCompiled) / retired;
    this.compiled.push(Math.round(Math.min(1, Math.max(0, share)) * 1000) / 1000);
    // the next window: from here, unless the run loop starts it later (it does, WINDOW before the sample)
    this.windowOpen = false;
    this.windowRetired = cpu.retired;
    this.windowCompiled = jit?.jitInstructions ?? 0;
    const before = this.frames.length;
    try {
      this.walk();
    } catch {
      // a walk never throws (probe does not fault); if something did, keep the frames so far
      if (this.frames.length === before) this.frames.push(cpu.rip);
    }
    this.offsets.push(this.frames.length);
    let next = this.nextSample + this.gap();
    while (next <= cpu.retired) next += this.gap();
    this.nextSample = next;
  }

  /** Stops sampling: the recording so far. */
  finish(): SampleRecording {
    const end = this.machine.cpu.retired;
    return {
      interval: this.interval,
      start: this.startRetired,
      times: this.times,
      end,
      offsets: this.offsets,
      frames: this.frames,
      compiled: this.compiled,
      instructions: end - this.startRetired,
    };
  }

  private walk(): void {
    const cpu = this.machine.cpu, frames = this.frames, isCode = this.isCode;
    const rip = cpu.rip;
    frames.push(rip);
    if (cpu.mode !== 64) return;
    this.cachedPage = NaN;
    const regs = cpu.regs;
    const rsp = regs[9]! * TWO_32 + (regs[8]! >>> 0);
    let rbp = regs[11]! * TWO_32 + (regs[10]! >>> 0);
    let depth = 1;
    // In a prologue or at RET, RBP is still (or again) the caller's: the return address is at RSP.
    const opcode = this.byte(rip);
    let returnAddress = NaN;
    if (opcode === 0x55 || opcode === 0xc3) returnAddress = this.read64(rsp); // at push rbp (entry), at ret
    else if (opcode === 0x48 && this.byte(rip + 1) === 0x89 && this.byte(rip + 2) === 0xe5 && this.byte(rip - 1) === 0x55) returnAddress = this.read64(rsp + 8); // at mov rbp,rsp after push rbp
    if (isCode(returnAddress)) {
      frames.push(returnAddress - 1);
      depth++;
    }
    let floor = rsp;
    while (depth < this.maxDepth) {
      if (!(rbp >= floor) || rbp % 8 !== 0) break;
      const callerRbp = this.read64(rbp);
      returnAddress = this.read64(rbp + 8);
      if (!isCode(returnAddress)) break;
      frames.push(returnAddress - 1);
      depth++;
      if (!(callerRbp > rbp)) break;
      floor = rbp + 16;
      rbp = callerRbp;
    }
  }

  /** The physical address of linear `address` (mapped RAM only), or -1. */
  private physical(address: number): number {
    const page = Math.floor(address / 4096);
    let base: number;
    if (page === this.cachedPage) base = this.cachedPhysical;
    else {
      const memory = this.machine.memory;
      const physical = this.machine.cpu.mmu.probe(page * 4096);
      base = physical >= 0 && physical + 4096 <= memory.ramSize && memory.isRam(physical) ? physical : -1;
      this.cachedPage = page;
      this.cachedPhysical = base;
    }
    return base < 0 ? -1 : base + (address - page * 4096);
  }

  private byte(address: number): number {
    if (!Number.isSafeInteger(address)) return -1;
    const physical = this.physical(address);
    return physical < 0 ? -1 : this.machine.memory.ram[physical]!;
  }

  /** The canonical 64-bit value at an 8-aligned `address` (a signed number above 2^47), or NaN. */
  private read64(address: number): number {
    if (!Number.isSafeInteger(address) || address % 8 !== 0) return NaN;
    const physical = this.physical(address);
    if (physical < 0) return NaN;
    const view = this.machine.memory.view;
    const lo = view.getUint32(physical, true), hi = view.getInt32(physical + 4, true);
    if ((hi << 16) >> 16 !== hi) return NaN; // not canonical
    return hi * TWO_32 + lo;
  }
}
