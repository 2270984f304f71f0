// Event delivery when the delivery itself fails, under every engine (interpreter, JIT in its
// configurations, check mode). Expectations from the Intel SDM:
//   vol. 2A, INT n/INTO/INT3/INT1 pseudo-code (IA-32e mode): the order of the checks on the IDT
//     entry (limit, type, DPL for INT n only, P), on the gate's code segment (null, table limit,
//     code segment with DPL <= CPL, P, 64-bit), on the stack (IST slot within the TSS limit,
//     canonical RSP) and on the handler address (canonical), with their error codes;
//   vol. 3A §6.13 (error code: EXT = 1 when the fault happened while delivering an external
//     interrupt or an earlier exception, 0 while delivering INT n/INT3/INTO; IDT = bit 1),
//     §6.14 (64-bit frame on a 16-byte aligned stack, IST), §6.15 (table 6-5: benign/contributory/
//     page-fault classes; #DF with error code 0; a fault while delivering #DF is a triple fault;
//     #PF pushes its own error code and loads CR2);
//   vol. 2A IRET pseudo-code: IRETQ to a non-canonical RIP is #GP(0), raised before any state changes.
//
// Every case is a small long-mode guest (test/jit/support/asm-guest.ts) that raises one event — an
// external interrupt (IRQ 0 from the PIT, the PIC reprogrammed to vector 0x20), an exception (ud2,
// divss, a non-canonical load, a store to an unmapped page), INT n/INT3, INT n from CPL 3, an IRETQ —
// after the test has broken something in the IDT, GDT or TSS (or the stack pointer). All 256 IDT
// vectors point at stubs that record the vector, the frame the CPU pushed, RSP and CS at entry and
// CR2, then return to the interrupted code (past the faulting instruction where it must) so the
// event happens HITS times, and finally exit through isa-debug-exit. The record must be the SDM's
// outcome exactly; the registers the guest keeps must be untouched. Under the JIT the later events
// come from compiled code where the JIT compiles the instruction (the #GP, #PF and #XM sources; the
// test checks it); it leaves ud2, INT n and IRETQ to the interpreter, and external interrupts are
// always taken between units.
//
// RF (bit 16) is masked out of the pushed RFLAGS: SDM vol. 3B §17.3.1.1 has every fault-class
// exception push RF=1, which the emulator does not model (it pushes RFLAGS.RF as it is, 0 here).
import { describe, expect, it } from "vitest";
import {
  CODE64, ENGINES, IDT, RESULTS, assembleLongModeGuest, guestMachine, qword, setQword, symbol,
  type AssembledGuest, type EngineConfig,
} from "../jit/support/asm-guest.js";
import type { PcMachine } from "../../src/machine/pc.js";
import { initPics } from "./support/long-mode.js";

// ---- the record the handler stubs write (qwords at RESULTS)
const R_VECTOR = RESULTS;
const R_ERROR = RESULTS + 0x08; // NONE when the vector pushes no error code
const R_RIP = RESULTS + 0x10;
const R_CS = RESULTS + 0x18;
const R_RFLAGS = RESULTS + 0x20;
const R_RSP = RESULTS + 0x28;
const R_SS = RESULTS + 0x30;
const R_ENTRY_RSP = RESULTS + 0x38;
const R_ENTRY_CS = RESULTS + 0x40;
const R_CR2 = RESULTS + 0x48;
const R_HITS = RESULTS + 0x50;
/** how many more times the handler returns to the interrupted code before exiting */
const R_RESUMES = RESULTS + 0x58;
/** what the handler adds to the pushed RIP when it returns (skips a faulting instruction) */
const R_SKIP = RESULTS + 0x60;

const NONE = 0xffff_ffff_ffff_ffffn;
/** events per run when the outcome is resumable: the later ones come from compiled code */
const HITS = 4;

/** RSP when the event happens: not 16-byte aligned, so the frame shows the alignment */
const STACK = 0x37fff8;
const ALIGNED_FRAME_TOP = 0x37fff0;
const USER_STACK = 0x3a0000;
const RSP0 = 0x390000;
const TSS = 0x6000;
const TSS_SELECTOR = 0x30;
/** the identity map covers 0-8 MiB: this is canonical but not mapped */
const UNMAPPED = 0x4000_0000;
const NON_CANONICAL = 0x0000_8000_0000_0000n;
const RF = 1n << 16n;

const VEC_DF = 8, VEC_TS = 10, VEC_NP = 11, VEC_SS = 12, VEC_GP = 13, VEC_PF = 14;
const VECTORS_WITH_ERROR_CODE = [8, 10, 11, 12, 13, 14, 17, 21];
const STUB_SIZE = 32;

const SENTINELS = { rbx: 0x1122_3344_5566_7788n, rbp: 0x0bad_cafe_dead_beefn, r15: 0x7fff_0000_ffff_0001n };

/** IDT error codes (SDM vol. 3A §6.13): index, IDT=1, EXT */
const idtError = (vector: number, ext: number) => vector * 8 + 2 + ext;
/** selector error codes: index and TI, EXT */
const selectorError = (selector: number, ext: number) => (selector & 0xfffc) | ext;

// ---- what raises the event

interface Source {
  name: string;
  vector: number;
  /** EXT for faults during its delivery: 1 for external interrupts and exceptions, 0 for INT n/INT3/INTO */
  ext: number;
  /** guest code run with interrupts off, before the trigger */
  setup?: string;
  /** the code that raises the event: labels `faulting` (the instruction) and `resume` (the next one) */
  trigger: string;
  /** RFLAGS of the interrupted code (the pushed RFLAGS) */
  rflags: bigint;
  /** RFLAGS the guest's CPL-0 prologue loads, when not `rflags` */
  prologueFlags?: bigint;
  /** the error code the event pushes when its own gate is valid (default NONE), and CR2 then */
  error?: number;
  cr2?: number;
  /** the interrupted code's CS, SS and RSP, and the top of the handler's stack, when not CPL 0 on STACK */
  frame?: { cs: bigint; ss: bigint; rsp: number; entryStackTop: number };
  /** an external interrupt: the interrupted code is a one-instruction spin loop */
  external?: boolean;
  /** the JIT compiles the faulting instruction (it leaves ud2, INT n and IRETQ to the interpreter) */
  compiled?: boolean;
}

const FLAGS = 0x8d7n; // OF SF ZF AF PF CF and the reserved bit 1
const FLAGS_IF = FLAGS | 0x200n;

/** IRQ 0 every 16 PIT ticks, the PIC at vectors 0x20/0x28 with only IRQ 0 unmasked */
const PIT_AND_PIC = `
  mov al, 0x34
  out 0x43, al
  mov al, 16
  out 0x40, al
  xor eax, eax
  out 0x40, al${initPics(0xfe)}`;

/** a loop whose `instruction` raises the event every time (the handler returns to `resume`) */
const loop = (instruction: string) => `
again:
  lea r13, [r13 + 1]
faulting:
  ${instruction}
resume:
  jmp again`;

const EXTERNAL: Source = {
  name: "an external interrupt (IRQ 0, vector 0x20)",
  vector: 0x20,
  ext: 1,
  setup: PIT_AND_PIC,
  // interrupts are enabled only around this one instruction: the interrupted RIP is `faulting`
  trigger: `
faulting:
resume:
  jmp faulting`,
  rflags: FLAGS_IF,
  external: true,
  compiled: true,
};

const UD: Source = { name: "#UD (ud2)", vector: 6, ext: 1, trigger: loop("ud2"), rflags: FLAGS };

const INT_N: Source = { name: "INT 0x40", vector: 0x40, ext: 0, trigger: loop("int 0x40"), rflags: FLAGS };

const XM: Source = {
  name: "#XM (divss by zero, unmasked)",
  vector: 19,
  ext: 1,
  setup: `
  mov rax, cr4
  or eax, 0x600
  mov cr4, rax
  push 0x1d80
  ldmxcsr [rsp]
  pop rax
  mov eax, 0x3f800000
  movd xmm0, eax
  xorps xmm1, xmm1`,
  trigger: loop("divss xmm0, xmm1"),
  rflags: FLAGS,
  compiled: true,
};

const INT13: Source = { name: "INT 13", vector: 13, ext: 0, trigger: loop("int 13"), rflags: FLAGS };
const INT3: Source = { name: "INT3", vector: 3, ext: 0, trigger: loop("int3"), rflags: FLAGS };

/** `code` run at CPL 3 (IRETQ to the DPL-3 segments of the GDT), with `rflags` */
const userMode = (code: string, rflags: bigint) => `
  push 0x23
  push ${USER_STACK}
  push ${rflags}
  push 0x2b
  lea rax, [rip + user]
  push rax
  iretq
user:
${code}`;
/** the interrupted code runs at CPL 3: the handler on the TSS's RSP0 stack */
const USER_FRAME = { cs: 0x2bn, ss: 0x23n, rsp: USER_STACK, entryStackTop: RSP0 };

const USER_INT_N: Source = {
  name: "INT 0x40 at CPL 3",
  vector: 0x40,
  ext: 0,
  trigger: userMode(loop("int 0x40"), FLAGS),
  rflags: FLAGS,
  frame: USER_FRAME,
};

const USER_EXTERNAL: Source = {
  ...EXTERNAL,
  name: "an external interrupt at CPL 3",
  trigger: userMode(EXTERNAL.trigger, FLAGS_IF),
  prologueFlags: FLAGS,
  frame: USER_FRAME,
};

const GP: Source = {
  name: "#GP(0) (a load from a non-canonical address)",
  vector: VEC_GP,
  ext: 1,
  setup: "mov rcx, 0x8000000000000000",
  trigger: loop("mov rax, [rcx]"),
  rflags: FLAGS,
  compiled: true,
  error: 0,
};

const PF: Source = {
  name: "#PF (a store to an unmapped page)",
  vector: VEC_PF,
  ext: 1,
  setup: `mov edx, ${UNMAPPED}`,
  trigger: loop("mov [rdx], rax"),
  rflags: FLAGS,
  compiled: true,
  error: 2, // write, not present, supervisor
  cr2: UNMAPPED,
};

/** IRETQ with a frame (SS, RSP, RFLAGS 0x202, CS, RIP non-canonical) on the stack */
const iretq = (name: string, cs: number, ss: number, rsp: number): Source => ({
  name: `IRETQ to a non-canonical RIP ${name}`,
  vector: -1,
  ext: 0,
  trigger: `
again:
  lea r13, [r13 + 1]
  push ${ss}
  push ${rsp}
  push 0x202
  push ${cs}
  mov rax, ${NON_CANONICAL}
  push rax
faulting:
  iretq
resume:
  lea rsp, [rsp + 40]
  jmp again`,
  rflags: FLAGS,
  frame: { cs: 0x18n, ss: 0x10n, rsp: STACK - 40, entryStackTop: (STACK - 40) & ~15 },
});
const IRETQ = iretq("at the same privilege level", 0x18, 0x10, 0x370000);
const IRETQ_TO_USER = iretq("at CPL 3", 0x2b, 0x23, USER_STACK);

/** the handler stack of the IST cases that must succeed */
const IST_STACK = 0x3c0000;
const BAD_RSP = 0x0000_9000_0000_0000; // non-canonical, and so is every address the frame would use

/** the lowest non-canonical RSP: the frame's first slot, RSP - 8, would be canonical, RSP itself is not */
const EDGE_RSP = 0x0000_8000_0000_0000;

/** `source` raised with a non-canonical RSP */
const withBadStack = (source: Source, rsp = BAD_RSP): Source => ({
  ...source,
  name: `${source.name} with a non-canonical RSP${rsp === EDGE_RSP ? " whose RSP - 8 is canonical" : ""}`,
  trigger: `
  mov rsp, ${rsp}
${source.trigger}`,
  frame: { cs: 0x18n, ss: 0x10n, rsp, entryStackTop: IST_STACK },
});

// ---- the guest

/** 256 stubs (one per vector, STUB_SIZE bytes apart) that record the event and return or exit */
const HANDLERS = `
  .p2align 5
stubs:
  .set vec, 0
  .rept 256
  .p2align 5
  mov [${R_ENTRY_RSP}], rsp
  mov qword ptr [${R_VECTOR}], vec
  .if ${VECTORS_WITH_ERROR_CODE.map((v) => `(vec == ${v})`).join(" || ")}
  .else
  push -1
  .endif
  jmp record
  .set vec, vec + 1
  .endr
record:
  mov rax, [rsp]
  mov [${R_ERROR}], rax
  mov rax, [rsp + 8]
  mov [${R_RIP}], rax
  mov rax, [rsp + 16]
  mov [${R_CS}], rax
  mov rax, [rsp + 24]
  mov [${R_RFLAGS}], rax
  mov rax, [rsp + 32]
  mov [${R_RSP}], rax
  mov rax, [rsp + 40]
  mov [${R_SS}], rax
  xor eax, eax
  mov ax, cs
  mov [${R_ENTRY_CS}], rax
  mov rax, cr2
  mov [${R_CR2}], rax
  inc qword ptr [${R_HITS}]
  cmp qword ptr [${R_VECTOR}], ${VEC_DF}
  je finish
  cmp qword ptr [${R_RESUMES}], 0
  je finish
  dec qword ptr [${R_RESUMES}]
  mov rax, [${R_SKIP}]
  add [rsp + 8], rax
  mov al, 0x20
  out 0x20, al
  add rsp, 8
  iretq
finish:
  mov al, 1
  out 0xf4, al
  hlt`;

function guestSource(source: Source): string {
  return `
  lidt [idtr]
  mov rsp, ${STACK}
  mov ax, ${TSS_SELECTOR}
  ltr ax
  ${source.setup ?? ""}
  mov rbx, ${SENTINELS.rbx}
  mov rbp, ${SENTINELS.rbp}
  mov r15, ${SENTINELS.r15}
  xor r13d, r13d
  push ${source.prologueFlags ?? source.rflags}
  popfq
  ${source.trigger}
idtr:
  .word 0xfff
  .quad ${IDT}
${HANDLERS}`;
}

const assembled = new Map<Source, AssembledGuest>();
function guestFor(source: Source): AssembledGuest {
  let guest = assembled.get(source);
  if (guest === undefined) {
    guest = assembleLongModeGuest(guestSource(source));
    assembled.set(source, guest);
  }
  return guest;
}

// ---- breaking things, from the host, before the run

interface Gate {
  offset: bigint;
  selector: number;
  type: number;
  present: boolean;
  dpl: number;
  ist: number;
  /** S=1: a code/data segment descriptor rather than a system descriptor */
  segment: boolean;
}

class Setup {
  constructor(readonly machine: PcMachine, readonly guest: AssembledGuest, readonly source: Source) {}

  stub(vector: number): bigint {
    return BigInt(symbol(this.guest, "stubs") + vector * STUB_SIZE);
  }

  /** Writes IDT entry `vector`: a present DPL-0 64-bit interrupt gate to its stub, with `changes`. */
  gate(vector: number, changes: Partial<Gate> = {}): void {
    const g: Gate = { offset: this.stub(vector), selector: CODE64, type: 0xe, present: true, dpl: 0, ist: 0, segment: false, ...changes };
    const view = this.machine.memory.view;
    const entry = IDT + vector * 16;
    view.setUint16(entry, Number(g.offset & 0xffffn), true);
    view.setUint16(entry + 2, g.selector, true);
    view.setUint8(entry + 4, g.ist);
    view.setUint8(entry + 5, (g.present ? 0x80 : 0) | (g.dpl << 5) | (g.segment ? 0x10 : 0) | g.type);
    view.setUint16(entry + 6, Number((g.offset >> 16n) & 0xffffn), true);
    view.setUint32(entry + 8, Number((g.offset >> 32n) & 0xffff_ffffn), true);
    view.setUint32(entry + 12, 0, true);
  }

  /** the gate of the event under test */
  own(changes: Partial<Gate>): void {
    this.gate(this.source.vector, changes);
  }

  gdt(selector: number, descriptor: bigint): void {
    setQword(this.machine, symbol(this.guest, "gdt") + (selector & ~7), descriptor);
  }

  /** the limit LIDT loads */
  idtLimit(limit: number): void {
    this.machine.memory.view.setUint16(symbol(this.guest, "idtr"), limit, true);
  }

  /** the limit of the TSS descriptor LTR loads */
  tssLimit(limit: number): void {
    this.machine.memory.view.setUint16(symbol(this.guest, "gdt") + TSS_SELECTOR, limit, true);
  }

  tss(offset: number, value: bigint): void {
    setQword(this.machine, TSS + offset, value);
  }
}

const istOffset = (ist: number) => 0x1c + ist * 8;

// ---- expected outcomes

interface Delivered {
  vector: number;
  /** the pushed error code, or NONE */
  error: bigint;
  /** CR2 at handler entry (default 0: untouched); null: not checked */
  cr2?: number | null;
  /** the pushed RIP: the faulting instruction (default) or the next one (INT n delivered); null: not checked (#DF, SDM: undefined) */
  rip?: "faulting" | "resume" | null;
  /** the top of the stack the handler runs on, when not the source's (an IST stack) */
  entryStackTop?: number;
}

type Outcome = Delivered | "triple-fault";

const delivered = (vector: number, error: number | bigint, more: Omit<Delivered, "vector" | "error"> = {}): Delivered =>
  ({ vector, error: BigInt(error), ...more });
const DOUBLE_FAULT = delivered(VEC_DF, 0, { rip: null, cr2: null });

interface Case {
  name: string;
  setup?: (s: Setup) => void;
  outcome: (source: Source) => Outcome;
  /** more to check after the run */
  check?: (machine: PcMachine) => void;
}

function run(source: Source, c: Case, engine: EngineConfig): void {
  const guest = guestFor(source);
  const { machine, units } = guestMachine(guest, engine);
  const s = new Setup(machine, guest, source);
  for (let vector = 0; vector < 256; vector++) s.gate(vector);
  s.tss(4, BigInt(RSP0));
  c.setup?.(s);
  const outcome = c.outcome(source);
  const faulting = symbol(guest, "faulting");
  const resume = symbol(guest, "resume");
  const resumable = outcome !== "triple-fault" && outcome.vector !== VEC_DF;
  setQword(machine, R_RESUMES, resumable ? BigInt(HITS - 1) : 0n);
  const returnsTo = outcome !== "triple-fault" ? outcome.rip ?? "faulting" : "faulting";
  setQword(machine, R_SKIP, BigInt(returnsTo === "faulting" ? resume - faulting : 0));

  const stop = machine.runSync({ maxInstructions: 5_000_000 });
  const read = (address: number) => qword(machine, address);
  if (outcome === "triple-fault") {
    expect(stop.kind).toBe("triple-fault");
    expect(read(R_HITS)).toBe(0n); // no handler ran
    return;
  }
  expect(stop.kind, JSON.stringify(stop)).toBe("exit");
  const frame = source.frame ?? { cs: BigInt(CODE64), ss: 0x10n, rsp: STACK, entryStackTop: ALIGNED_FRAME_TOP };
  const hits = resumable ? HITS : 1;
  const record = {
    vector: Number(read(R_VECTOR)),
    error: read(R_ERROR),
    cs: read(R_CS),
    rflags: read(R_RFLAGS) & ~RF, // (see the header)
    rsp: read(R_RSP),
    ss: read(R_SS),
    entryRsp: read(R_ENTRY_RSP),
    entryCs: read(R_ENTRY_CS),
    hits: read(R_HITS),
  };
  expect(record).toEqual({
    vector: outcome.vector,
    error: outcome.error,
    cs: frame.cs,
    rflags: source.rflags,
    rsp: BigInt(frame.rsp),
    ss: frame.ss,
    entryRsp: BigInt((outcome.entryStackTop ?? frame.entryStackTop) - 40 - (outcome.error === NONE ? 0 : 8)),
    entryCs: BigInt(CODE64),
    hits: BigInt(hits),
  });
  if (outcome.rip !== null) expect(Number(read(R_RIP))).toBe(outcome.rip === "resume" ? resume : faulting);
  if (outcome.cr2 !== null) expect(Number(read(R_CR2))).toBe(outcome.cr2 ?? 0);
  // the interrupted code's registers: untouched, and the loop ran once per event
  const reg = (index: number) => (BigInt(machine.cpu.regs[2 * index + 1] >>> 0) << 32n) | BigInt(machine.cpu.regs[2 * index] >>> 0);
  expect([reg(3), reg(5), reg(15)]).toEqual([SENTINELS.rbx, SENTINELS.rbp, SENTINELS.r15]);
  if (!source.external) expect(reg(13)).toBe(BigInt(hits));
  // under the JIT, the later events came from compiled code
  if (engine.accel !== "interp" && source.compiled && resumable) expect(units.some((unit) => Array.from(unit.rips).includes(faulting)), "faulting instruction compiled").toBe(true);
  c.check?.(machine);
}

// ---- the cases

/** the control: a valid gate delivers the event itself */
const DELIVERED_NORMALLY: Case = {
  name: "(control) a valid gate delivers the event itself",
  // INT n is a trap: delivered, it pushes the address of the next instruction
  outcome: (src) => delivered(src.vector, src.error ?? NONE, { rip: src.ext === 0 ? "resume" : "faulting", cr2: src.cr2 ?? 0 }),
};

/** cases about the event's own gate, its code segment, stack and handler address */
const GATE_CASES: Case[] = [
  DELIVERED_NORMALLY,
  // the gate descriptor
  {
    name: "a call gate (type 0xC) in the IDT raises #GP(vector·8+2+EXT)",
    setup: (s) => s.own({ type: 0xc }),
    outcome: (src) => delivered(VEC_GP, idtError(src.vector, src.ext)),
  },
  {
    name: "a task gate (type 0x5, none in IA-32e mode) raises #GP(vector·8+2+EXT)",
    setup: (s) => s.own({ type: 0x5 }),
    outcome: (src) => delivered(VEC_GP, idtError(src.vector, src.ext)),
  },
  {
    name: "a segment descriptor (S=1) in the IDT raises #GP(vector·8+2+EXT)",
    setup: (s) => s.own({ segment: true, type: 0xe }),
    outcome: (src) => delivered(VEC_GP, idtError(src.vector, src.ext)),
  },
  {
    name: "the gate type is checked before P: a not-present call gate raises #GP, not #NP",
    setup: (s) => s.own({ type: 0xc, present: false }),
    outcome: (src) => delivered(VEC_GP, idtError(src.vector, src.ext)),
  },
  {
    name: "a not-present gate raises #NP(vector·8+2+EXT)",
    setup: (s) => s.own({ present: false }),
    outcome: (src) => delivered(VEC_NP, idtError(src.vector, src.ext)),
  },
  // the gate's code segment
  {
    name: "a gate selecting a data segment raises #GP(selector+EXT)",
    setup: (s) => s.own({ selector: 0x10 }),
    outcome: (src) => delivered(VEC_GP, selectorError(0x10, src.ext)),
  },
  {
    name: "a gate with a null selector raises #GP(EXT)",
    setup: (s) => s.own({ selector: 0 }),
    outcome: (src) => delivered(VEC_GP, src.ext),
  },
  {
    name: "a gate selector beyond the GDT limit raises #GP(selector+EXT)",
    setup: (s) => s.own({ selector: 0x40 }),
    outcome: (src) => delivered(VEC_GP, selectorError(0x40, src.ext)),
  },
  {
    name: "a gate selecting a 32-bit code segment in long mode raises #GP(selector+EXT), not #DF",
    setup: (s) => s.own({ selector: 0x08 }),
    outcome: (src) => delivered(VEC_GP, selectorError(0x08, src.ext)),
  },
  {
    name: "a gate selecting a code segment of DPL 3 > CPL raises #GP(selector+EXT)",
    setup: (s) => s.own({ selector: 0x28 }),
    outcome: (src) => delivered(VEC_GP, selectorError(0x28, src.ext)),
  },
  {
    name: "a gate selecting the TSS descriptor (a system segment) raises #GP(selector+EXT)",
    setup: (s) => s.own({ selector: TSS_SELECTOR }),
    outcome: (src) => delivered(VEC_GP, selectorError(TSS_SELECTOR, src.ext)),
  },
  {
    name: "a gate selecting a not-present 64-bit code segment raises #NP(selector+EXT)",
    setup: (s) => {
      s.gdt(0x20, 0x00af1a000000ffffn); // GDT entry 0x20 (otherwise DPL-3 data): 64-bit code, DPL 0, P=0
      s.own({ selector: 0x20 });
    },
    outcome: (src) => delivered(VEC_NP, selectorError(0x20, src.ext)),
  },
  // the handler address and the stack
  {
    name: "a non-canonical handler address raises #GP(EXT) with nothing pushed beyond the #GP frame",
    setup: (s) => s.own({ offset: NON_CANONICAL }),
    outcome: (src) => delivered(VEC_GP, src.ext),
  },
  {
    name: "an IST slot beyond the TSS limit raises #TS(TSS selector+EXT)",
    setup: (s) => {
      s.tssLimit(istOffset(7) + 6); // IST7 is 0x54..0x5b: one byte short
      s.own({ ist: 7 });
    },
    outcome: (src) => delivered(VEC_TS, selectorError(TSS_SELECTOR, src.ext)),
  },
  {
    name: "a non-canonical IST stack raises #SS(EXT)",
    setup: (s) => {
      s.tss(istOffset(1), NON_CANONICAL);
      s.own({ ist: 1 });
    },
    outcome: (src) => delivered(VEC_SS, src.ext),
  },
  {
    name: "an unmapped IST stack raises #PF (write, not present, supervisor) at the first push, CR2 = IST-8",
    setup: (s) => {
      s.tss(istOffset(1), BigInt(UNMAPPED));
      s.own({ ist: 1 });
    },
    outcome: () => delivered(VEC_PF, 2, { cr2: UNMAPPED - 8 }),
  },
  // what follows the first failure (table 6-5)
  {
    name: "bad gate, then the #GP gate's IST stack unmapped: the #PF is delivered (contributory then #PF is not #DF)",
    setup: (s) => {
      s.own({ type: 0xc });
      s.tss(istOffset(2), BigInt(UNMAPPED));
      s.gate(VEC_GP, { ist: 2 });
    },
    outcome: () => delivered(VEC_PF, 2, { cr2: UNMAPPED - 8 }),
  },
  {
    name: "bad gate, then the #GP gate not present: #NP while delivering #GP is a #DF(0)",
    setup: (s) => {
      s.own({ type: 0xc });
      s.gate(VEC_GP, { present: false });
    },
    outcome: () => DOUBLE_FAULT,
  },
  {
    name: "not-present gate, then the #NP gate not present: #NP while delivering #NP is a #DF(0)",
    setup: (s) => {
      s.own({ present: false });
      s.gate(VEC_NP, { present: false });
    },
    outcome: () => DOUBLE_FAULT,
  },
  {
    name: "bad gate, bad #GP gate, bad #DF gate: a triple fault stops the machine",
    setup: (s) => {
      s.own({ type: 0xc });
      s.gate(VEC_GP, { present: false });
      s.gate(VEC_DF, { selector: 0x10 });
    },
    outcome: () => "triple-fault",
  },
];

/** the #GP, #NP and #DF gates stay inside the limit: so the event's vector must be above 13 (#XM rather than #UD) */
const IDT_LIMIT: Case = {
  name: "a vector beyond the IDT limit raises #GP(vector·8+2+EXT) (the limit is one byte short of the entry)",
  setup: (s) => s.idtLimit(s.source.vector * 16 + 14),
  outcome: (src) => delivered(VEC_GP, idtError(src.vector, src.ext)),
};

const UNMAPPED_RSP0: Case = {
  name: "an unmapped RSP0 stack raises #PF(supervisor write) with CPL, CS, SS and RSP back as at CPL 3 (#PF gate on an IST stack)",
  setup: (s) => {
    s.own({ dpl: 3 });
    s.tss(4, BigInt(UNMAPPED));
    s.tss(istOffset(6), BigInt(IST_STACK));
    s.gate(VEC_PF, { ist: 6 });
  },
  outcome: () => delivered(VEC_PF, 2, { cr2: UNMAPPED - 8, entryStackTop: IST_STACK }),
};

/** [source, cases] */
const SCENARIOS: [Source, Case[]][] = [
  [EXTERNAL, [...GATE_CASES, IDT_LIMIT]],
  [UD, GATE_CASES],
  [INT_N, [...GATE_CASES, IDT_LIMIT]],
  [XM, [DELIVERED_NORMALLY, IDT_LIMIT]],
  [INT13, [{
    name: "INT 13 through a not-present gate raises #NP(13·8+2) with EXT=0, delivered normally (INT n is benign: no #DF)",
    setup: (s) => s.own({ present: false }),
    outcome: () => delivered(VEC_NP, idtError(13, 0)),
  }]],
  [INT3, [DELIVERED_NORMALLY, {
    name: "INT3 through a not-present gate raises #NP(3·8+2) with EXT=0",
    setup: (s) => s.own({ present: false }),
    outcome: () => delivered(VEC_NP, idtError(3, 0)),
  }]],
  [USER_INT_N, [
    { ...DELIVERED_NORMALLY, name: "(control) a DPL-3 gate delivers INT n from CPL 3 on the RSP0 stack", setup: (s) => s.own({ dpl: 3 }) },
    {
      name: "a DPL-0 gate raises #GP(n·8+2) with EXT=0 on the RSP0 stack",
      outcome: () => delivered(VEC_GP, idtError(0x40, 0)),
    },
    {
      name: "the gate DPL is checked before P: a not-present DPL-0 gate raises #GP, not #NP",
      setup: (s) => s.own({ present: false }),
      outcome: () => delivered(VEC_GP, idtError(0x40, 0)),
    },
    {
      name: "a not-present DPL-3 gate raises #NP(n·8+2)",
      setup: (s) => s.own({ dpl: 3, present: false }),
      outcome: () => delivered(VEC_NP, idtError(0x40, 0)),
    },
  ]],
  [GP, [
    DELIVERED_NORMALLY,
    {
      name: "its gate not present: #NP while delivering #GP is a #DF(0)",
      setup: (s) => s.own({ present: false }),
      outcome: () => DOUBLE_FAULT,
    },
    {
      name: "its gate's IST stack unmapped: the #PF is delivered (contributory then #PF is not #DF)",
      setup: (s) => {
        s.tss(istOffset(3), BigInt(UNMAPPED));
        s.own({ ist: 3 });
      },
      outcome: () => delivered(VEC_PF, 2, { cr2: UNMAPPED - 8 }),
    },
    {
      name: "its gate and the #DF gate not present: a triple fault stops the machine",
      setup: (s) => {
        s.own({ present: false });
        s.gate(VEC_DF, { present: false });
      },
      outcome: () => "triple-fault",
    },
  ]],
  [PF, [
    DELIVERED_NORMALLY,
    {
      name: "its gate not present: #NP while delivering #PF is a #DF(0)",
      setup: (s) => s.own({ present: false }),
      outcome: () => DOUBLE_FAULT,
    },
    {
      name: "its gate's IST stack unmapped: #PF while delivering #PF is a #DF(0)",
      setup: (s) => {
        s.tss(istOffset(4), 0x5000_0000n);
        s.own({ ist: 4 });
      },
      outcome: () => DOUBLE_FAULT,
    },
  ]],
  [USER_INT_N, [UNMAPPED_RSP0]],
  [USER_EXTERNAL, [
    { ...DELIVERED_NORMALLY, name: "(control) no DPL check for an external interrupt: the DPL-0 gate delivers it on the RSP0 stack" },
    {
      name: "a not-present gate raises #NP(vector·8+2+EXT) on the RSP0 stack",
      setup: (s) => s.own({ present: false }),
      outcome: (src) => delivered(VEC_NP, idtError(src.vector, 1)),
    },
    UNMAPPED_RSP0,
  ]],
  ...[EXTERNAL, UD, INT_N].map((source): [Source, Case[]] => [withBadStack(source), [
    {
      name: "the #SS gate on an IST stack: #SS(EXT) is delivered there, with the non-canonical RSP in its frame",
      setup: (s) => {
        s.tss(istOffset(5), BigInt(IST_STACK));
        s.gate(VEC_SS, { ist: 5 });
      },
      outcome: (src) => delivered(VEC_SS, src.ext, { entryStackTop: IST_STACK }),
    },
    {
      name: "the #DF gate on an IST stack: #SS while delivering #SS is a #DF(0)",
      setup: (s) => {
        s.tss(istOffset(5), BigInt(IST_STACK));
        s.gate(VEC_DF, { ist: 5 });
      },
      outcome: () => ({ ...DOUBLE_FAULT, entryStackTop: IST_STACK }),
    },
    {
      name: "no IST stack: the #SS and then the #DF cannot be pushed either, a triple fault",
      outcome: () => "triple-fault",
    },
  ]]),
  // INT n pseudo-code: "IF NewRSP contains a non-canonical address THEN #SS(EXT)" — NewRSP is the
  // current RSP when the stack does not switch, checked before anything is pushed
  ...[EXTERNAL, UD, INT_N].map((source): [Source, Case[]] => [withBadStack(source, EDGE_RSP), [{
    name: "#SS(EXT) before anything is pushed (not a #PF at RSP - 8)",
    setup: (s) => {
      s.tss(istOffset(5), BigInt(IST_STACK));
      s.gate(VEC_SS, { ist: 5 });
    },
    outcome: (src) => delivered(VEC_SS, src.ext, { entryStackTop: IST_STACK }),
  }]]),
  ...[IRETQ, IRETQ_TO_USER].map((source): [Source, Case[]] => [source, [{
    name: "raises #GP(0) at the IRETQ with CPL, CS, SS and RSP unchanged: the handler sees the stack as before the IRETQ",
    outcome: () => delivered(VEC_GP, 0),
    check: (machine) => expect(qword(machine, STACK - 40)).toBe(NON_CANONICAL), // the IRETQ frame, intact
  }]]),
];

for (const engine of ENGINES) {
  describe(`event delivery [${engine.name}]`, () => {
    for (const [source, cases] of SCENARIOS) {
      describe(source.name, () => {
        for (const c of cases) it(c.name, () => run(source, c, engine));
      });
    }
  });
}
