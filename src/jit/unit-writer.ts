// The source writer for one compiled unit: JS locals for guest registers, temporaries, memory
// accesses with the inline TLB fast path, the pending flags producer, exits and the bookkeeping a
// precise fault needs. Emitters (emitters.ts) describe instructions in terms of it. Everything it
// writes into the source is a number it formatted or a fixed piece of text: never guest bytes.
import { BASE_RIP, P_REX, type Instruction } from "../decoder/decode.js";
import { M_E, M_FIXED_REG, M_G, M_I, M_M, M_ONE, M_R, M_Z } from "../decoder/operand-spec.js";
import { SS } from "../machine/cpu.js";
import { immediateParts, isGeneralOperand, isMemoryOperand, operandSize } from "./operand-forms.js";
import { memorySegment } from "../machine/interp/operand-access.js";
import type { GuestInstruction } from "./discover.js";
import { LAZY_DEC, LAZY_INC, recordStore, type Producer } from "./flags.js";

export interface Value {
  /** low half (sizes 1, 2: unsigned; size 4: int32) */
  lo: string;
  /** high half for size 8, else "0" */
  hi: string;
}

export interface ExitInfo {
  /** the static target's linear address, or null for computed targets (returns, indirect branches) */
  target: number | null;
}

const TWO_32 = 4294967296;

export function hex(value: number): string {
  return value < 0 ? `-0x${(-value).toString(16)}` : `0x${value.toString(16)}`;
}

/** A number as a JS literal that is safe after any operator (negative ones in parentheses: a - -1). */
export function literal(value: number): string {
  return value < 0 || Object.is(value, -0) ? `(${value})` : String(value);
}

export class UnitWriter {
  readonly lines: string[] = [];
  private readonly temps = new Set<string>(["x", "xl", "xh", "o", "k", "p", "e"]);
  private tempCounter = 0;
  readonly usedRegs = new Set<number>();
  readonly writtenRegs = new Set<number>();
  readonly exits: ExitInfo[] = [];
  /** deferred flags-record stores by global instruction index, for the catch handler */
  readonly faultFlags = new Map<number, string>();
  /** the pending flags producer whose record is not written yet */
  pending: Producer | null = null;

  // the instruction being emitted
  gi!: GuestInstruction;
  ins!: Instruction;
  /** global instruction index in the unit */
  index = 0;
  /** instructions of the current block before this one */
  inBlock = 0;
  /** liveness of the flags after this instruction: 0 dead, 1 only faults may need them, 2 needed */
  flagsOut = 2;
  /** the instruction may store to memory: check for self-modification after it */
  stores = false;

  constructor(
    readonly mode: 64 | 32,
    /** a single-block unit: registers loaded and written back only as needed */
    readonly precise: boolean,
    /** the linear address of a region block → its number, for transfers that stay inside */
    private readonly regionBlocks: Map<number, number>,
    /** instruction counts by region block number */
    private readonly blockCounts: number[],
    /** by region block number: whether the flags may be needed at its entry (flagLiveness's liveIn) */
    private readonly blockFlagsLiveIn: Int8Array = new Int8Array(blockCounts.length).fill(2),
  ) {}

  emit(code: string): void {
    this.lines.push(code);
  }

  /**
   * A local for the current instruction. Locals are reused by later instructions once nothing
   * pending refers to them: an unoptimized JS frame initializes every local on each call, so a
   * unit with hundreds of them pays for it on every dispatch.
   */
  temp(): string {
    const name = this.freeTemps.pop() ?? `t${this.tempCounter++}`;
    this.temps.add(name);
    this.instructionTemps.push(name);
    return name;
  }

  private readonly freeTemps: string[] = [];
  /** temps handed out since the last release, still possibly referenced */
  private instructionTemps: string[] = [];

  /** Frees the temps no pending flags state refers to (at the start of each instruction). */
  private releaseTemps(): void {
    const referenced = new Set<string>();
    const note = (text: string) => {
      for (const match of text.matchAll(/\bt\d+\b/g)) referenced.add(match[0]);
    };
    if (this.pending !== null) {
      const p = this.pending;
      note(`${p.a} ${p.aHi} ${p.b} ${p.bHi} ${p.r} ${p.rHi} ${p.carry} ${p.direct ?? ""} ${p.prefix ?? ""}`);
    }
    for (const patch of this.patches) note(patch);
    const kept: string[] = [];
    for (const name of this.instructionTemps) {
      if (referenced.has(name)) kept.push(name);
      else this.freeTemps.push(name);
    }
    this.instructionTemps = kept;
  }

  /** A new local holding `expr`. */
  let(expr: string): string {
    const name = this.temp();
    this.emit(`${name}=${expr};`);
    return name;
  }

  declarations(): string {
    return `let ${[...this.temps].join(",")};`;
  }

  // ---- registers -----------------------------------------------------------------------------

  /** Reads register `reg`'s low half (a register read before the unit writes it is loaded on entry). */
  lo(reg: number): string {
    this.noteRead(reg);
    return `r${reg}`;
  }

  hi(reg: number): string {
    this.noteRead(reg);
    return `h${reg}`;
  }

  // Register bookkeeping. In a single-block unit ("precise"), only registers read before they are
  // written are loaded on entry, and each exit writes back the registers written before it. A
  // region's blocks run in any order: there every register used is loaded and every register
  // written is written back.
  /** registers whose locals hold the guest value at this point of the emission */
  private readonly valid = new Set<number>();
  /** registers written since the last synchronization with the CPU */
  private readonly dirty = new Set<number>();
  /** registers loaded on entry */
  readonly entryLoads = new Set<number>();

  private noteRead(reg: number): void {
    this.usedRegs.add(reg);
    if (!this.valid.has(reg)) {
      this.valid.add(reg);
      this.entryLoads.add(reg);
    }
  }

  /** A full (32/64-bit) write: the old value is not needed. */
  private fullWrite(reg: number): void {
    this.usedRegs.add(reg);
    this.writtenRegs.add(reg);
    this.valid.add(reg);
    this.dirty.add(reg);
  }

  /** Write-back statements for an exit here. */
  writeBackHere(): string {
    if (!this.precise) return "/*WB*/";
    let s = "";
    for (const r of [...this.dirty].sort((a, b) => a - b)) s += `R[${2 * r}]=r${r};R[${2 * r + 1}]=h${r};`;
    return s;
  }

  /** After an instruction run through the interpreter: the registers are reloaded from the CPU. */
  synchronized(): void {
    for (let r = 0; r < 16; r++) this.valid.add(r);
    this.dirty.clear();
  }

  /** The catch handler's write-back: registers a fault may find modified (guarded where a local may still be unset). */
  faultWriteBack(): string {
    let s = "";
    for (const r of [...this.writtenRegs].sort((a, b) => a - b)) {
      const store = `R[${2 * r}]=r${r};R[${2 * r + 1}]=h${r};`;
      s += this.precise && !this.entryLoads.has(r) ? `if(r${r}!==undefined){${store}}` : store;
    }
    return s;
  }

  /** Reads a general register at `size`; byte registers 4..7 without REX are AH..BH. */
  readReg(reg: number, size: number, hasRex: boolean): Value {
    switch (size) {
      case 1:
        if (reg < 4 || hasRex) return { lo: `(${this.lo(reg)}&255)`, hi: "0" };
        return { lo: `((${this.lo(reg - 4)}>>8)&255)`, hi: "0" };
      case 2: return { lo: `(${this.lo(reg)}&65535)`, hi: "0" };
      case 4: return { lo: this.lo(reg), hi: "0" };
      default: return { lo: this.lo(reg), hi: this.hi(reg) };
    }
  }

  /** Writes a general register: 32-bit writes zero the high half, 8/16-bit writes keep the rest. */
  writeReg(reg: number, size: number, hasRex: boolean, value: Value): void {
    switch (size) {
      case 1:
        if (reg < 4 || hasRex) {
          this.written(reg);
          this.emit(`r${reg}=(r${reg}&-256)|(${value.lo}&255);`);
        } else {
          this.written(reg - 4);
          this.emit(`r${reg - 4}=(r${reg - 4}&-65281)|((${value.lo}&255)<<8);`);
        }
        return;
      case 2:
        this.written(reg);
        this.emit(`r${reg}=(r${reg}&-65536)|(${value.lo}&65535);`);
        return;
      case 4:
        this.fullWrite(reg);
        this.emit(`r${reg}=${value.lo}|0;h${reg}=0;`);
        return;
      default:
        this.fullWrite(reg);
        // through a temporary when the value reads the register it replaces
        if (value.hi.includes(`r${reg}`)) {
          const t = this.let(value.hi);
          this.emit(`r${reg}=${value.lo};h${reg}=${t};`);
        } else this.emit(`r${reg}=${value.lo};h${reg}=${value.hi};`);
    }
  }

  /** A partial write (8/16 bits, or RSP adjusted from its old value): reads and writes. */
  private written(reg: number): void {
    this.noteRead(reg);
    this.writtenRegs.add(reg);
    this.dirty.add(reg);
  }

  writeBack(): string {
    let s = "";
    for (const r of [...this.writtenRegs].sort((a, b) => a - b)) s += `R[${2 * r}]=r${r};R[${2 * r + 1}]=h${r};`;
    return s;
  }

  reloadRegisters(): string {
    let s = "";
    for (const r of [...this.usedRegs].sort((a, b) => a - b)) s += `r${r}=R[${2 * r}];h${r}=R[${2 * r + 1}];`;
    return s;
  }

  // ---- operands ------------------------------------------------------------------------------

  operandSize(index: number): number {
    return operandSize(this.ins, index);
  }

  /** Whether operand `index` is the ModRM memory operand. */
  isMemory(index: number): boolean {
    return isMemoryOperand(this.ins, index);
  }

  /** Whether the emitter can read/write operand `index` (general registers, immediates, ModRM memory). */
  operandSupported(index: number): boolean {
    return isGeneralOperand(this.ins, index);
  }

  /** Operand `index` as an expression (memory operands must have been loaded with load()). */
  read(index: number, memory?: Value): Value {
    const ins = this.ins;
    const spec = ins.row.operands[index];
    const size = this.operandSize(index);
    const hasRex = (ins.prefixes & P_REX) !== 0;
    switch (spec.method) {
      case M_E: case M_R: case M_M:
        if (ins.mod === 3) return this.readReg(ins.rm, size, hasRex);
        if (memory === undefined) throw new Error("JIT emitter: memory operand read before load");
        return memory;
      case M_G: return this.readReg(ins.reg, size, hasRex);
      case M_Z: return this.readReg(ins.rm, size, hasRex);
      case M_FIXED_REG: return this.readReg(spec.fixed, size, false);
      case M_ONE: return { lo: "1", hi: "0" };
      case M_I: return this.immediate(index, size);
    }
    throw new Error(`JIT emitter: operand ${spec.notation} is not a general operand`);
  }

  /** Writes a register operand (memory destinations go through store()). */
  writeRegisterOperand(index: number, value: Value): void {
    const ins = this.ins;
    const spec = ins.row.operands[index];
    const size = this.operandSize(index);
    const hasRex = (ins.prefixes & P_REX) !== 0;
    switch (spec.method) {
      case M_E: case M_R: case M_G: case M_Z: case M_FIXED_REG: {
        const reg = spec.method === M_G ? ins.reg : spec.method === M_FIXED_REG ? spec.fixed : ins.rm;
        this.writeReg(reg, size, hasRex, value);
        return;
      }
    }
    throw new Error(`JIT emitter: operand ${spec.notation} is not a register`);
  }

  /** An immediate operand at `size` (sign-extended where the notation says so), as constants. */
  immediate(index: number, size: number): Value {
    const { lo, hi } = immediateParts(this.ins, index, size);
    return { lo: literal(lo), hi: literal(hi) };
  }

  // ---- memory --------------------------------------------------------------------------------

  /**
   * Whether the instruction's ModRM memory operand can be addressed inline: 64-bit mode with a
   * 64- or 32-bit address and no FS/GS base, or 32-bit mode with 32-bit addresses.
   */
  addressSupported(): boolean {
    const ins = this.ins;
    if (ins.addrSize === 2) return false;
    if (ins.segment >= 4) return false;
    if (ins.base === BASE_RIP) {
      const target = this.ripRelative();
      return target >= -(2 ** 47) && target < 2 ** 47;
    }
    return true;
  }

  /** The offset of a RIP-relative operand (EIP-relative with a 32-bit address size: wraps at 4 GiB). */
  ripRelative(): number {
    const target = this.gi.nextRip + this.ins.disp;
    return this.ins.addrSize === 4 ? ((target % TWO_32) + TWO_32) % TWO_32 : target;
  }

  /** Computes the linear address of the ModRM memory operand into x (number) and xl (its low 32 bits, int32). */
  address(): void {
    const ins = this.ins;
    // the segment as the interpreter picks it (64-bit mode ignores ES/CS/SS/DS overrides): it decides #SS vs #GP
    const segment = memorySegment(ins);
    if (ins.base === BASE_RIP) {
      const target = this.ripRelative();
      const targetHi = Math.floor(target / TWO_32);
      this.emit(`x=${target};xl=${(target - targetHi * TWO_32) | 0};`);
      return;
    }
    if (this.mode === 32 || ins.addrSize === 4) {
      // 32-bit offsets wrap at 4 GiB
      let sum = String(ins.disp | 0);
      if (ins.base >= 0) sum += `+${this.lo(ins.base)}`;
      if (ins.index >= 0) sum += `+(${this.lo(ins.index)}<<${ins.scale})`;
      if (this.mode === 32) {
        // the segment base (flat in practice) is added by the CPU's own linear()
        this.emit(`xl=(${sum})|0;x=H.linear(${segment},xl);xl=x|0;`);
      } else this.emit(`xl=(${sum})|0;x=xl>>>0;`);
      return;
    }
    const dispLo = ins.disp >>> 0;
    const dispHi = ins.disp >> 31;
    if (ins.index < 0 && ins.base >= 0 && ins.disp === 0) {
      this.emit(`xl=${this.lo(ins.base)};xh=${this.hi(ins.base)};`);
    } else {
      let lo = dispLo === 0 ? "" : `+${dispLo}`;
      let hi = dispHi === 0 ? "" : `+${dispHi}`;
      if (ins.base >= 0) { lo += `+(${this.lo(ins.base)}>>>0)`; hi += `+${this.hi(ins.base)}`; }
      if (ins.index >= 0) {
        const s = ins.scale;
        const il = this.lo(ins.index), ih = this.hi(ins.index);
        lo += s === 0 ? `+(${il}>>>0)` : `+((${il}<<${s})>>>0)`;
        hi += s === 0 ? `+${ih}` : `+((${ih}<<${s})|(${il}>>>${32 - s}))`;
      }
      if (lo === "") lo = "0";
      this.emit(`x=${lo};xh=(0${hi}+(x>4294967295?(x>8589934591?2:1):0))|0;xl=x|0;`);
    }
    this.emit(`if(((xh<<16)>>16)!==xh)H.nonCanonical(${segment});x=xh*4294967296+(xl>>>0);`);
  }

  /** Loads `size` bytes at x into fresh locals. `forWrite`: a read-modify-write (checks write access, leaves p). */
  load(size: number, forWrite: boolean): Value {
    const lo = this.temp();
    const hi = size === 8 ? this.temp() : "0";
    const tag = forWrite ? "WT" : "RT";
    this.emit(`o=xl&4095;k=(xl>>>12)&4095;`);
    if (forWrite) {
      this.emit(`p=(WT[k]===x-o&&o<=${4096 - size})?FB[k]+o:-1;`);
      this.emit(`if(p>=0){${this.fastRead(size, "p", lo, hi)}}else{${this.slowRead(size, lo, hi, true)}}`);
    } else {
      this.emit(`if(${tag}[k]===x-o&&o<=${4096 - size}){p=FB[k]+o;${this.fastRead(size, "p", lo, hi)}}else{${this.slowRead(size, lo, hi, false)}}`);
    }
    return { lo, hi };
  }

  private fastRead(size: number, at: string, lo: string, hi: string): string {
    switch (size) {
      case 1: return `${lo}=U8[${at}];`;
      case 2: return `${lo}=V.getUint16(${at},true);`;
      case 4: return `${lo}=V.getInt32(${at},true);`;
      default: return `${lo}=V.getInt32(${at},true);${hi}=V.getInt32(${at}+4,true);`;
    }
  }

  private slowRead(size: number, lo: string, hi: string, forWrite: boolean): string {
    const f = forWrite ? "H.readForWrite" : "H.read";
    switch (size) {
      case 1: case 2: return `${lo}=${f}(x,${size});`;
      case 4: return `${lo}=${f}(x,4)|0;`;
      default: return `${lo}=${f}(x,8)|0;${hi}=M.hi|0;`;
    }
  }

  /** Stores at x (after load(…, true) when `afterLoad`, which reuses its translation p). */
  store(size: number, value: Value, afterLoad: boolean): void {
    this.stores = true;
    const slow = `H.write(x,${size},${value.lo},${size === 8 ? value.hi : 0});`;
    if (afterLoad) {
      this.emit(`if(p>=0){${this.fastWrite(size, "p", value)}}else ${slow}`);
      return;
    }
    this.emit(`o=xl&4095;k=(xl>>>12)&4095;`);
    this.emit(`if(WT[k]===x-o&&o<=${4096 - size}){p=FB[k]+o;${this.fastWrite(size, "p", value)}}else ${slow}`);
  }

  private fastWrite(size: number, at: string, value: Value): string {
    switch (size) {
      case 1: return `U8[${at}]=${value.lo};`;
      case 2: return `V.setUint16(${at},${value.lo},true);`;
      case 4: return `V.setInt32(${at},${value.lo},true);`;
      default: return `V.setInt32(${at},${value.lo},true);V.setInt32(${at}+4,${value.hi},true);`;
    }
  }

  // ---- the stack (64-bit mode) ---------------------------------------------------------------

  /** Pushes a value of `size` (8 or 2) bytes: writes memory, then RSP. */
  push(size: number, value: Value): void {
    const nl = this.temp(), nh = this.temp();
    const rsp = this.lo(4), rspHi = this.hi(4);
    this.emit(`${nl}=(${rsp}-${size})|0;${nh}=(${rsp}>>>0)<${size}?(${rspHi}-1)|0:${rspHi};`);
    this.emit(`if(((${nh}<<16)>>16)!==${nh})H.nonCanonical(${SS});x=${nh}*4294967296+(${nl}>>>0);xl=${nl};`);
    this.store(size, value, false);
    this.written(4);
    this.emit(`${rsp}=${nl};${rspHi}=${nh};`);
  }

  /** Reads `size` bytes at RSP (+ offset) without moving it. */
  peek(size: number): Value {
    const rsp = this.lo(4), rspHi = this.hi(4);
    this.emit(`if(((${rspHi}<<16)>>16)!==${rspHi})H.nonCanonical(${SS});x=${rspHi}*4294967296+(${rsp}>>>0);xl=${rsp};`);
    return this.load(size, false);
  }

  /** RSP += delta (64-bit). */
  adjustStack(delta: number): void {
    const rsp = this.lo(4), rspHi = this.hi(4);
    this.written(4);
    this.emit(`x=(${rsp}>>>0)+${delta};${rsp}=x|0;${rspHi}=(${rspHi}+(x>4294967295?1:0))|0;`);
  }

  // ---- flags ---------------------------------------------------------------------------------

  // What the current instruction did, for the liveness pass's dry run (translate.ts).
  didReadFlags = false;
  didWriteAllFlags = false;
  didFault = false;

  /** Starts an instruction. */
  begin(gi: GuestInstruction, index: number, inBlock: number, flagsOut: number): void {
    this.releaseTemps();
    this.gi = gi;
    this.ins = gi.ins;
    this.index = index;
    this.inBlock = inBlock;
    this.flagsOut = flagsOut;
    this.stores = false;
    this.didReadFlags = false;
    this.didWriteAllFlags = false;
    this.didFault = false;
  }

  /** The instruction reads the flags (a condition, a carry, or the whole record). */
  readFlags(): void {
    this.didReadFlags = true;
  }

  /**
   * Updates of some flags on top of the pending state (rotates change CF and OF only): statements
   * applied, in order, after the pending record is written and materialized.
   */
  patches: string[] = [];

  /** Makes `p` the pending producer (when anyone may need the flags). */
  produce(p: Producer): void {
    if (p.op !== LAZY_INC && p.op !== LAZY_DEC) this.didWriteAllFlags = true;
    this.pending = this.flagsOut === 0 ? null : p;
    this.patches = [];
  }

  /** Sets the flags in `mask` to `bits` on top of the current flags (a partial writer such as a rotate). */
  patch(mask: number, bits: string): void {
    this.didReadFlags = true; // the other flags pass through
    this.patches.push(`cpu.flags=(cpu.flags&${~mask})|(${bits});`);
  }

  /** Whether the pending state is one producer alone (its conditions can be computed from its locals). */
  get fusable(): Producer | null {
    return this.patches.length === 0 ? this.pending : null;
  }

  private pendingStore(): string {
    let s = this.pending !== null ? recordStore(this.pending) : "";
    if (this.patches.length > 0) s += `H.materialize();${this.patches.join("")}`;
    return s;
  }

  /** Writes the pending producer's record: the full flags are needed from here on. */
  flushFlags(): void {
    this.didReadFlags = true;
    const store = this.pendingStore();
    if (store !== "") this.emit(store);
    this.pending = null;
    this.patches = [];
  }

  /** Writes the pending producer's record on one path only (an exit inside a condition): it stays pending. */
  storeFlagsOnThisPath(): void {
    const store = this.pendingStore();
    if (store !== "") this.emit(store);
  }

  /** Notes that the current instruction may fault: the catch handler writes the pending record. */
  mayFault(): void {
    this.didFault = true;
    this.emit(`i=${this.index};`);
    const store = this.pendingStore();
    if (store !== "") this.faultFlags.set(this.index, store);
  }

  // ---- control -------------------------------------------------------------------------------

  /** Leaves the unit: registers written back, instructions counted, RIP set. */
  exit(ripExpr: string, staticTarget: number | null, count: number): void {
    const index = this.exits.length;
    this.exits.push({ target: staticTarget });
    this.emit(`${this.writeBackHere()}cpu.retired+=n+${count};cpu.rip=${ripExpr};return ${index};`);
  }

  /**
   * Continues at a static target: inside the region when it is a region block and the budget
   * allows, else exits. The pending flags record is written only on the paths that need it: the
   * exit, and a region block that may need the flags before it rewrites them all (a loop whose
   * body starts with a compare or an add does not store the record on its back edge). The
   * producer stays pending for a second goto from the same point (a jcc's other path).
   */
  goto(target: number, count: number): void {
    this.didReadFlags = true;
    const store = this.pendingStore();
    const block = this.regionBlocks.get(target);
    if (block !== undefined) {
      const keep = this.blockFlagsLiveIn[block] !== 0 ? store : "";
      this.emit(`if(n+${count + this.blockCounts[block]}<=budget){${keep}n+=${count};b=${block};continue;}`);
    }
    if (store !== "") this.emit(store);
    this.exit(String(target), target, count);
  }
}
