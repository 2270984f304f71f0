// The interpreter: fetch (through the MMU, with a decoded-instruction cache keyed by physical
// address and invalidated when its page is written), decode, compute the memory operand's address,
// run the row's semantics, retire. Faults are precise: registers and RIP stay as they were before
// the faulting instruction, and the exception is delivered through the IDT (or handed to the caller).
import { DecodeStatus, Instruction, MAX_INSTRUCTION_LENGTH, decodeInto } from "../../decoder/decode.js";
import { IF, TF } from "../../decoder/flags.js";
import { M_G, M_O, M_XLAT } from "../../decoder/operand-spec.js";
import { OPCODE_TABLE } from "../../decoder/opcode-rows.js";
import { DS, TWO_32, type Cpu } from "../cpu.js";
import { CpuException, REP_UNFINISHED, VEC_DB, VEC_UD } from "../cpu-exception.js";
import { SoftwareInterrupt, deliverException, deliverExternalInterrupt } from "../interrupts.js";
import { LazyFlags } from "../lazy-flags.js";
import { startAsDoubles } from "../../util/representation.js";
import { fastHandlerFor, type FastHandler } from "./fast-forms.js";
import { modrmAddress, moffsAddress, operandSize, probeWrite, segmentOverride } from "./operand-access.js";
import { SEMANTICS } from "./semantics/index.js";
import { MOVS_STOS_ROW } from "./semantics/string.js";
import type { Semantic } from "./semantics/types.js";

/** How an instruction's memory operand is addressed, precomputed per row. */
const EA_NONE = 0;
const EA_MODRM = 1; // ModRM memory operand, accessed
const EA_MOFFS = 2;
const EA_XLAT = 3;
const EA_NOT_ACCESSED = 4; // LEA, hint NOPs, prefetches: the address is never accessed and never faults

const EA_READ_MODIFY_WRITE = 5; // ModRM memory destination that is read and written: faults report a write
const EA_IN_SEMANTICS = 6; // the semantics compute the address (after a privilege check, or from a bit offset)

/** Privileged instructions with a memory operand: #GP for CPL > 0 comes before any fault of the address. */
const PRIVILEGED_WITH_MEMORY = new Set(["lgdt", "lidt", "lldt", "ltr", "lmsw", "invlpg"]);

const NOT_ACCESSED = new Set(["lea", "nop", "reservednop", "prefetchnta", "prefetcht0", "prefetcht1", "prefetcht2", "ud0", "ud1"]);

const BIT_TESTS = new Set(["bt", "bts", "btr", "btc"]);

/** Instructions that read and then write their first operand (a write-intent access: its faults have W=1). */
const READ_MODIFY_WRITE = new Set([
  "add", "or", "adc", "sbb", "and", "sub", "xor", "inc", "dec", "neg", "not",
  "rol", "ror", "rcl", "rcr", "shl", "sal", "shr", "sar", "shld", "shrd",
  "xchg", "xadd", "cmpxchg", "cmpxchg8b",
]);

const EA_KIND: Uint8Array = Uint8Array.from(OPCODE_TABLE, (row) => {
  if (row.operands.some((o) => o.method === M_O)) return EA_MOFFS;
  if (row.operands.some((o) => o.method === M_XLAT)) return EA_XLAT;
  if (!row.hasModrm) return EA_NONE;
  if (NOT_ACCESSED.has(row.mnemonics[0])) return EA_NOT_ACCESSED;
  if (PRIVILEGED_WITH_MEMORY.has(row.mnemonics[0])) return EA_IN_SEMANTICS;
  // BT* with a register bit offset address memory relative to the operand: only the final address must be valid.
  if (BIT_TESTS.has(row.mnemonics[0]) && row.operands[1].method === M_G) return EA_IN_SEMANTICS;
  if (READ_MODIFY_WRITE.has(row.mnemonics[0]) && row.operands[0]?.method !== M_G) return EA_READ_MODIFY_WRITE;
  return EA_MODRM;
});

/** The source of external interrupts (the PIC, in the PC machine). */
export interface InterruptController {
  /** a maskable interrupt is waiting */
  hasPending(): boolean;
  /** takes the highest-priority pending interrupt and returns its vector */
  acknowledge(): number;
}

/**
 * A decoded instruction that starts in the last MAX_INSTRUCTION_LENGTH - 1 bytes of a page, where
 * the per-page cache cannot hold it: it may end in the next linear page, whose physical page the
 * mapping decides at each fetch.
 */
interface PageEndInstruction {
  ins: Instruction;
  /** how many of its bytes lie in its first page */
  firstLength: number;
  /** the physical page its tail was fetched from, or -1 when it ends in its first page */
  secondPage: number;
}

export class Interpreter {
  /** decoded instructions by physical page number, then offset in the page */
  private readonly pages = new Map<number, Array<Instruction | undefined>>();
  /** page-end instructions by the physical address of their first byte */
  private readonly pageEnds = new Map<number, PageEndInstruction>();
  /** the first-byte addresses of the page-end instructions with bytes in a physical page, by page number */
  private readonly pageEndsByPage = new Map<number, number[]>();
  private readonly fetchBuffer = new Uint8Array(MAX_INSTRUCTION_LENGTH);
  private readonly scratchInstruction = new Instruction();
  private readonly savedFlags = new LazyFlags();
  private savedRflags = 0;
  private lastPageNumber = -1;
  private lastPage: Array<Instruction | undefined> | undefined = undefined;
  /** the linear page (and MMU generation) that maps to lastPage, or -1 (a page base is never -1) */
  private fetchLinearPage = -1;
  private fetchGeneration = 0;
  interruptController: InterruptController | null = null;
  /**
   * Called when a REP string instruction stopped between iterations (REP_UNFINISHED): the machine
   * ends its batch there, so devices, interrupts, the timeout and the host get a turn.
   */
  onRepUnfinished: () => void = () => {};
  /**
   * Set by the JIT engine (never in check mode, whose interpreter is the reference): a fast path
   * tried before the semantics of MOVS and STOS; true means it stopped the instruction at a REP
   * chunk boundary. It changes no outcome, only speed (src/jit/string-fast.ts).
   */
  stringFastPath: ((cpu: Cpu, ins: Instruction) => boolean) | null = null;
  /** length of the last instruction executed (the JIT's cold path follows straight-line code with it) */
  lastLength = 0;
  /** row id of the last instruction executed */
  lastRowId = 0;
  /**
   * Whether cached instructions get pre-decoded handlers (fast-forms.ts). Off only to measure the
   * generic path or to compare the two; changing it applies to instructions decoded afterwards.
   */
  fastForms = true;
  /** decoded-instruction cache statistics */
  cacheHits = 0;
  cacheMisses = 0;

  constructor(readonly cpu: Cpu) {
    startAsDoubles(this, ["fetchLinearPage"]);
    cpu.memory.onCodeWrite = (physical, size) => this.invalidate(physical, size);
  }

  /** Forgets every decoded instruction. */
  invalidateAll(): void {
    for (const page of this.pages.keys()) this.cpu.memory.unmarkCodePage(page);
    for (const page of this.pageEndsByPage.keys()) this.cpu.memory.unmarkCodePage(page);
    this.pages.clear();
    this.pageEnds.clear();
    this.pageEndsByPage.clear();
    this.lastPageNumber = -1;
    this.lastPage = undefined;
    this.fetchLinearPage = -1;
  }

  /**
   * Forgets the decoded instructions a write to [physical, physical + size) overlaps: those starting
   * up to 14 bytes before it (an instruction is at most 15 bytes) through its end. Data that shares
   * a page with code therefore costs a few lookups per write, not a re-decode of the page.
   */
  invalidate(physical: number, size: number): void {
    const end = physical + size;
    if (this.pageEndsByPage.size > 0) this.invalidatePageEnds(physical, end);
    for (let start = Math.max(0, physical - (MAX_INSTRUCTION_LENGTH - 1)); start < end; start++) {
      const pageNumber = Math.floor(start / 4096);
      const page = this.pages.get(pageNumber);
      if (page === undefined) {
        start = pageNumber * 4096 + 4095; // skip to the next page
        continue;
      }
      const ins = page[start - pageNumber * 4096];
      if (ins !== undefined && start + ins.length > physical) page[start - pageNumber * 4096] = undefined;
    }
  }

  /**
   * Executes one instruction, or delivers one pending external interrupt. Exceptions are delivered
   * through the IDT; a TripleFault propagates to the caller.
   */
  step(): void {
    const cpu = this.cpu;
    if (this.interruptController !== null && !cpu.interruptShadow && this.interruptController.hasPending() && cpu.flags & IF) {
      const vector = this.interruptController.acknowledge();
      cpu.halted = false;
      deliverExternalInterrupt(cpu, vector);
      return;
    }
    cpu.interruptShadow = false;
    if (cpu.halted) return;
    // TF set when an instruction starts makes it trap with #DB once it retires (single-step).
    // IF and TF live in cpu.flags as they are: reading them must not materialise the lazy
    // arithmetic flags, which would cost a flag computation after every instruction.
    const singleStep = (cpu.flags & TF) !== 0;
    const fault = this.execute();
    if (fault === REP_UNFINISHED) this.onRepUnfinished();
    else if (fault !== null) deliverException(cpu, fault);
    else if (singleStep) {
      cpu.dr[6] = (cpu.dr[6] || 0xffff0ff0) | 0x4000; // DR6.BS
      deliverException(cpu, new SoftwareInterrupt(VEC_DB, cpu.rip, false));
    }
  }

  /**
   * step() until `cpu.retired` reaches `limit.batchEnd` (read after every instruction: a device or
   * a stop may move it), the CPU halts, or `steps` instructions ran: one loop that takes the common
   * case (no interrupt to deliver, no shadow, no single-step) without the calls of step().
   */
  run(limit: { readonly batchEnd: number }, steps: number): void {
    const cpu = this.cpu;
    const controller = this.interruptController;
    while (cpu.retired < limit.batchEnd && !cpu.halted && steps-- > 0) {
      if (cpu.interruptShadow || (cpu.flags & TF) !== 0 || (controller !== null && (cpu.flags & IF) !== 0 && controller.hasPending())) {
        this.step();
        continue;
      }
      // The common case inline: a cached instruction of the page the last fetch used, run by its
      // pre-decoded handler (what execute() would do, without its calls).
      const rip = cpu.rip;
      const ins = this.cachedInLastPage(rip);
      let fault: CpuException | null;
      if (ins === undefined) fault = this.execute();
      else {
        this.cacheHits++;
        fault = ins.fast !== null ? this.runHandler(ins, rip) : this.executeInstruction(ins);
      }
      if (fault === REP_UNFINISHED) this.onRepUnfinished();
      else if (fault !== null) deliverException(cpu, fault);
    }
  }

  /**
   * Executes one instruction. Returns null when it retired, or the exception it raised (with the
   * CPU state restored to before the instruction) without delivering it.
   */
  execute(): CpuException | null {
    const cpu = this.cpu;
    let ins: Instruction;
    try {
      ins = this.fetch(cpu.rip);
    } catch (error) {
      if (!(error instanceof CpuException)) throw error;
      return error;
    }
    return this.executeInstruction(ins);
  }

  /**
   * Executes the already decoded instruction `ins` at cpu.rip, as execute() does after fetching it
   * (the JIT runs the instructions it does not translate inline through this).
   */
  executeInstruction(ins: Instruction): CpuException | null {
    const cpu = this.cpu;
    const rip = cpu.rip;
    let restoreFlags = false;
    this.lastLength = ins.length;
    this.lastRowId = ins.row.id;
    if (ins.fast !== null) return this.runHandler(ins, rip);
    try {
      if (ins.status !== DecodeStatus.Ok) throw new CpuException(VEC_UD, null, ins.status === DecodeStatus.Invalid ? "invalid instruction" : "unsupported instruction");
      const semantic = SEMANTICS[ins.row.id] as Semantic;
      const next = rip + ins.length;
      cpu.nextRip = cpu.mode === 64 || next < TWO_32 ? next : next - TWO_32;
      switch (EA_KIND[ins.row.id]) {
        case EA_MODRM: case EA_READ_MODIFY_WRITE:
          if (ins.mod !== 3) {
            cpu.ea = modrmAddress(cpu, ins, cpu.nextRip);
            if (EA_KIND[ins.row.id] === EA_READ_MODIFY_WRITE) probeWrite(cpu, cpu.ea, operandSize(ins, 0));
            // A faulting memory access must not leave the flags of a half-done instruction behind.
            this.saveFlags();
            restoreFlags = true;
          }
          break;
        case EA_MOFFS: cpu.ea = moffsAddress(cpu, ins); break;
        case EA_XLAT: {
          const offset = ins.addrSize === 8 ? cpu.regs[6] : ins.addrSize === 4 ? cpu.regs[6] >>> 0 : cpu.regWords[12];
          const sumLo = (offset >>> 0) + cpu.regBytes[0];
          const hi = ins.addrSize === 8 ? (cpu.regs[7] + (sumLo >= TWO_32 ? 1 : 0)) | 0 : 0;
          const lo = ins.addrSize === 2 ? sumLo & 0xffff : sumLo | 0;
          cpu.ea = cpu.linear(segmentOverride(ins, DS), ins.addrSize === 4 ? lo >>> 0 : lo, hi);
          break;
        }
      }
      if (this.stringFastPath !== null && MOVS_STOS_ROW[ins.row.id] !== 0 && this.stringFastPath(cpu, ins)) throw REP_UNFINISHED;
      semantic(cpu, ins);
      cpu.rip = cpu.nextRip;
      cpu.retired++;
      return null;
    } catch (error) {
      if (!(error instanceof CpuException)) throw error;
      if (restoreFlags) this.restoreFlags();
      cpu.rip = rip;
      return error;
    }
  }

  /**
   * Runs `ins` (at cpu.rip = `rip`) by its pre-decoded handler: null when it retired, else the
   * exception it raised, with RIP restored (a handler changes nothing before it faults).
   */
  private runHandler(ins: Instruction, rip: number): CpuException | null {
    const cpu = this.cpu;
    const next = rip + ins.length;
    cpu.nextRip = cpu.mode === 64 || next < TWO_32 ? next : next - TWO_32;
    try {
      (ins.fast as FastHandler)(cpu, ins);
    } catch (error) {
      if (!(error instanceof CpuException)) throw error;
      cpu.rip = rip;
      return error;
    }
    cpu.rip = cpu.nextRip;
    cpu.retired++;
    return null;
  }

  /** The pre-decoded handler for a newly cached instruction (null: the generic path runs it). */
  private selectFast(ins: Instruction): FastHandler | null {
    if (!this.fastForms) return null;
    const kind = EA_KIND[ins.row.id];
    return fastHandlerFor(ins, kind === EA_NOT_ACCESSED, kind === EA_IN_SEMANTICS);
  }

  private saveFlags(): void {
    const lazy = this.cpu.lazy, saved = this.savedFlags;
    saved.op = lazy.op; saved.size = lazy.size; saved.carryIn = lazy.carryIn;
    saved.aLo = lazy.aLo; saved.aHi = lazy.aHi; saved.bLo = lazy.bLo; saved.bHi = lazy.bHi; saved.rLo = lazy.rLo; saved.rHi = lazy.rHi;
    this.savedRflags = this.cpu.flags;
  }

  private restoreFlags(): void {
    const lazy = this.cpu.lazy, saved = this.savedFlags;
    lazy.op = saved.op; lazy.size = saved.size; lazy.carryIn = saved.carryIn;
    lazy.aLo = saved.aLo; lazy.aHi = saved.aHi; lazy.bLo = saved.bLo; lazy.bHi = saved.bHi; lazy.rLo = saved.rLo; lazy.rHi = saved.rHi;
    this.cpu.flags = this.savedRflags;
  }

  /**
   * The cached instruction at linear `rip` for the current mode when `rip` lies in the linear page
   * of the last cached fetch and the MMU generation is the same (no flush, INVLPG or privilege
   * switch since, so the page maps where it did): no translation needed. Else undefined.
   */
  private cachedInLastPage(rip: number): Instruction | undefined {
    const inPage = rip & 0xfff;
    if (rip - inPage !== this.fetchLinearPage || this.cpu.mmu.generation !== this.fetchGeneration) return undefined;
    const cached = this.lastPage![inPage];
    return cached !== undefined && cached.mode === this.cpu.mode ? cached : undefined;
  }

  /** The decoded instruction at linear address `rip` (cached by physical address when it lies in one RAM page). */
  private fetch(rip: number): Instruction {
    const cpu = this.cpu;
    const inLastPage = this.cachedInLastPage(rip);
    if (inLastPage !== undefined) {
      this.cacheHits++;
      return inLastPage;
    }
    const inPage = rip & 0xfff;
    const physical = cpu.mmu.translateFetch(rip);
    const pageNumber = Math.floor(physical / 4096);
    const offset = physical - pageNumber * 4096;
    // Consecutive instructions mostly share a page: skip the map lookup then.
    const page = this.lastPageNumber === pageNumber ? this.lastPage : this.pages.get(pageNumber);
    if (page !== undefined) {
      this.lastPageNumber = pageNumber;
      this.lastPage = page;
    }
    const cached = page?.[offset];
    if (page !== undefined) {
      this.fetchLinearPage = rip - inPage;
      this.fetchGeneration = cpu.mmu.generation;
    }
    if (cached !== undefined && cached.mode === cpu.mode) {
      this.cacheHits++;
      return cached;
    }
    this.cacheMisses++;
    const ram = cpu.memory.ram;
    // Cache only what lies in plain RAM (below any MMIO laid over it) and well inside one page.
    if (offset <= 4096 - MAX_INSTRUCTION_LENGTH && physical + MAX_INSTRUCTION_LENGTH <= cpu.memory.fastEnd) {
      const ins = new Instruction();
      decodeInto(ins, ram, physical, cpu.mode);
      ins.fast = this.selectFast(ins);
      const list = page ?? this.newPage(pageNumber);
      list[offset] = ins;
      this.fetchLinearPage = rip - inPage;
      this.fetchGeneration = cpu.mmu.generation;
      return ins;
    }
    // Near a page end: an instruction decoded here before is still right if its bytes were not
    // written since (invalidate forgets it then) and the next linear page, when it reaches into
    // it, still maps to the same physical page. That page is translated as the first fetch did
    // it, so an instruction whose tail is no longer mapped faults the same way.
    const known = this.pageEnds.get(physical);
    if (known !== undefined && known.ins.mode === cpu.mode &&
        (known.secondPage < 0 || cpu.mmu.translateFetch(cpu.next(rip, known.firstLength)) === known.secondPage)) {
      this.cacheHits++;
      return known.ins;
    }
    // Otherwise fetch byte by byte through the MMU, so the next page is translated (and may
    // fault) only if the instruction really extends into it.
    const buffer = this.fetchBuffer;
    let available = 0;
    const ins = this.scratchInstruction;
    for (;;) {
      buffer[available] = cpu.mmu.fetch8(cpu.next(rip, available));
      available++;
      decodeInto(ins, buffer.subarray(0, available), 0, cpu.mode);
      if (ins.status !== DecodeStatus.Truncated || available === MAX_INSTRUCTION_LENGTH) break;
    }
    const copy = new Instruction();
    Object.assign(copy, ins);
    copy.fast = this.selectFast(copy);
    this.rememberPageEnd(rip, physical, copy);
    return copy;
  }

  /** Forgets the page-end instructions with a byte in [physical, end). */
  private invalidatePageEnds(physical: number, end: number): void {
    for (let pageNumber = Math.floor(physical / 4096); pageNumber * 4096 < end; pageNumber++) {
      const starts = this.pageEndsByPage.get(pageNumber);
      if (starts === undefined) continue;
      for (let i = starts.length - 1; i >= 0; i--) {
        const start = starts[i]!;
        const known = this.pageEnds.get(start);
        const overlaps = known === undefined ||
          (start < end && start + known.firstLength > physical) ||
          (known.secondPage >= 0 && known.secondPage < end && known.secondPage + known.ins.length - known.firstLength > physical);
        if (!overlaps) continue;
        this.pageEnds.delete(start);
        starts.splice(i, 1);
      }
    }
  }

  /**
   * Keeps `ins`, decoded byte by byte at linear `rip` = `physical` near its page's end, for the
   * next fetch there: when its bytes lie in RAM, whose writes are tracked (both of its pages are
   * marked as code pages, so a store into either forgets it).
   */
  private rememberPageEnd(rip: number, physical: number, ins: Instruction): void {
    if (ins.status !== DecodeStatus.Ok) return;
    const memory = this.cpu.memory;
    const firstLength = Math.min(ins.length, 4096 - (physical % 4096));
    if (physical + firstLength > memory.fastEnd) return;
    let secondPage = -1;
    if (ins.length > firstLength) {
      // translated moments ago by the fetch itself: no fault, no change of state
      secondPage = this.cpu.mmu.translateFetch(this.cpu.next(rip, firstLength));
      if (secondPage + ins.length - firstLength > memory.fastEnd || !memory.markCodePage(secondPage / 4096)) return;
    }
    if (!memory.markCodePage(Math.floor(physical / 4096))) return;
    this.pageEnds.set(physical, { ins, firstLength, secondPage });
    for (const page of secondPage >= 0 ? [Math.floor(physical / 4096), secondPage / 4096] : [Math.floor(physical / 4096)]) {
      const starts = this.pageEndsByPage.get(page);
      if (starts === undefined) this.pageEndsByPage.set(page, [physical]);
      else if (!starts.includes(physical)) starts.push(physical);
    }
  }

  private newPage(pageNumber: number): Array<Instruction | undefined> {
    const list = new Array<Instruction | undefined>(4096);
    this.pages.set(pageNumber, list);
    this.lastPageNumber = pageNumber;
    this.lastPage = list;
    this.cpu.memory.markCodePage(pageNumber);
    return list;
  }
}

