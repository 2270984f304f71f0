// A minimal long-mode kernel that runs one random instruction stream, and the streams.
//
// The kernel (assembled once with test/jit/support/asm-guest.ts) switches to long mode, loads a TSS
// and an IDT whose 256 gates all use IST1 (so a stream that wrecks RSP still gets its events
// handled), enables SSE, and jumps to the stream at STREAM. Every vector's stub logs the event
// (vector, error code when the CPU pushed one, the RIP) and the frame and registers at it into
// RESULTS, then resumes the stream (assembleStreamKernel says where); the stream's end (reached
// through `stream_end`, logged as vector 0x100) or its MAX_EVENTS-th event end the run through
// isa-debug-exit. The handlers send the PIC no EOI: a timer interrupt a stream lets in stays in
// service, as it would with a guest that forgot its EOI.
//
// A stream is a prologue that sets every general register (mostly pointers into a random-filled
// scratch area, so memory operands land in mapped memory, or starts of the stream's pieces, so
// indirect branches stay in it), RFLAGS and the 16 XMM registers, then pieces from four sources:
// any row the hardware oracle's encoder builds (with random operands, including the privileged
// rows and the ones the oracle cannot compare with the host: SYSCALL, INT n, IRET, far transfers,
// segment loads...), hand-written control, system and string instructions in odd forms, the
// decoder fuzzer's prefix- and opcode-biased windows cut to the length the decoder gives them
// (many decode to something odd or invalid), and uniformly random bytes.
import { DecodeStatus, OPCODE_TABLE, decode, formatIntel, type OpcodeRow } from "../../../src/decoder/index.js";
import type { PcMachine, StopReason } from "../../../src/machine/pc.js";
import { CaseGenerator, WINDOW, caseWindow, newCaseBatch } from "../../decoder/generate.js";
import { singleCaseOf } from "../../oracle/generate.js";
import { classifyRow } from "../../oracle/rows.js";
import { IDT, RESULTS, STACK_TOP, assembleLongModeGuest, setGate, symbol, type AssembledGuest } from "../../jit/support/asm-guest.js";
import { Rng, caseSeed, hex } from "./fuzz-env.js";

/** where the stream is loaded (mapped, away from the kernel, its tables and stacks) */
export const STREAM = 0x180000;
/** random-filled memory most registers point into */
export const SCRATCH = 0x400000;
export const SCRATCH_SIZE = 0x10000;
/** the stack every vector's handler runs on (IST1) */
export const IST_STACK = 0x3f0000;
/** the TSS ENTER_LONG_MODE's GDT describes (selector 0x30) */
const TSS = 0x6000;
/** the vector recorded when the stream ran off its end */
export const VECTOR_STREAM_END = 0x100;
/** the isa-debug-exit value the handlers write (exit status (0x42 << 1) | 1) */
export const HANDLER_EXIT_VALUE = 0x42;
/** only the first 8 MiB are mapped: what a stream can change */
const MAPPED = 8 << 20;

/**
 * RESULTS: the last event's vector, error code (when pushed), the event count, its frame (RIP CS
 * RFLAGS RSP SS) and the registers at it (RAX..R15; RSP from the frame), then the log: per event,
 * vector | ERROR_CODE_PUSHED | error code << 32, and the RIP it interrupted. Then what loadStream
 * writes: where the stream ends, where it last resumed, and where its pieces start (0-terminated).
 */
const R_VECTOR = 0, R_ERROR = 8, R_COUNT = 16, R_FRAME = 24, R_REGS = 64, R_LOG = 192;
const R_STREAM_END = 0x800, R_RESUMED = 0x808, R_PIECES = 0x1000;
/** events a stream may take before the handler ends the run instead of resuming it */
export const MAX_EVENTS = 64;
/** the bit the error-code stubs add to the vector they push */
const ERROR_CODE_PUSHED = 0x1000;
/** vectors for which the CPU pushes an error code (INT n to them does not) */
const ERROR_CODE_VECTORS = new Set([8, 10, 11, 12, 13, 14, 17, 21, 29, 30]);
const STUB_SIZE = 64;
/** CS as this kernel sets it (the 64-bit code segment) */
const KERNEL_CS = 0x18;

const REGISTERS = ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"];

/**
 * The kernel: setup, the 256 stubs (STUB_SIZE bytes apart from `stubs`) and the common handler,
 * which logs the event and resumes the stream with every register as it was: one byte past the RIP
 * it interrupted when that is in the stream (a fault's RIP is its instruction: skipping a byte
 * resynchronizes somewhere in it), else at the first piece after where it last resumed (a branch
 * out of the stream comes back to it). The stream's end or the MAX_EVENTS-th event end the run.
 */
export function assembleStreamKernel(): AssembledGuest {
  const stubs: string[] = [];
  for (let vector = 0; vector < 256; vector++) {
    stubs.push(`  .balign ${STUB_SIZE}`, `vector_${vector}:`);
    if (ERROR_CODE_VECTORS.has(vector)) {
      // An error code sits on top of the frame, unless INT n raised the vector: then CS is the
      // second qword, not the third.
      stubs.push(
        `  cmp qword ptr [rsp + 16], ${KERNEL_CS}`,
        `  jne 1f`,
        `  pop qword ptr [${RESULTS + R_ERROR}]`,
        `  push ${vector | ERROR_CODE_PUSHED}`,
        `  jmp common`,
        `1:`,
      );
    }
    stubs.push(`  push ${vector}`, "  jmp common");
  }
  const at = (offset: number) => RESULTS + offset;
  const saves = REGISTERS.map((name, i) => (name === "rsp" ? "" : `  mov [${at(R_REGS + 8 * i)}], ${name}`)).join("\n");
  const restores = REGISTERS.map((name, i) => (name === "rsp" ? "" : `  mov ${name}, [${at(R_REGS + 8 * i)}]`)).join("\n");
  const frame = [0, 1, 2, 3, 4].map((i) => `  mov rbx, [rsp + ${8 * i}]\n  mov [${at(R_FRAME + 8 * i)}], rbx`).join("\n");
  return assembleLongModeGuest(`
  lidt [idtr]
  mov qword ptr [${TSS + 0x24}], ${IST_STACK}
  mov ax, 0x30
  ltr ax
  mov rax, cr4
  or rax, 0x600          # OSFXSR, OSXMMEXCPT: SSE instructions run
  mov cr4, rax
  mov rax, cr0
  and rax, ~0xc          # EM, TS off
  or rax, 0x2            # MP
  mov cr0, rax
  mov rsp, ${STACK_TOP}
  mov rax, ${STREAM}
  jmp rax
stream_end:
  mov rsp, ${IST_STACK - 5 * 8}   # the stream's RSP may point anywhere; an empty frame
  push ${VECTOR_STREAM_END}
  jmp common
common:
${saves}
  pop rax
  mov [${at(R_VECTOR)}], rax
${frame}
  mov rcx, [${at(R_COUNT)}]
  mov rdx, [${at(R_ERROR)}]
  mov qword ptr [${at(R_ERROR)}], 0
  shl rdx, 32
  or rdx, rax
  shl rcx, 4
  mov [${at(R_LOG)} + rcx], rdx
  mov rdx, [rsp]
  mov [${at(R_LOG + 8)} + rcx], rdx
  inc qword ptr [${at(R_COUNT)}]
  cmp rax, ${VECTOR_STREAM_END}
  je finish
  cmp qword ptr [${at(R_COUNT)}], ${MAX_EVENTS}
  jae finish
  # where to resume: rdx is the interrupted RIP
  cmp rdx, ${STREAM}
  jb outside
  cmp rdx, [${at(R_STREAM_END)}]
  jae outside
  inc rdx
  mov [${at(R_RESUMED)}], rdx
  jmp resume
outside:
  mov rbx, [${at(R_RESUMED)}]
  mov rcx, ${at(R_PIECES)}
next_piece:
  mov rdx, [rcx]
  test rdx, rdx
  jz past_the_last
  add rcx, 8
  cmp rdx, rbx
  jbe next_piece
  mov [${at(R_RESUMED)}], rdx
  jmp resume
past_the_last:
  lea rdx, [rip + stream_end]
resume:
  mov [rsp], rdx
${restores}
  iretq
finish:
  mov al, ${HANDLER_EXIT_VALUE}
  out 0xf4, al
  hlt
idtr:
  .word ${256 * 16 - 1}
  .quad ${IDT}
  .balign ${STUB_SIZE}
stubs:
${stubs.join("\n")}
`);
}

export interface Stream {
  index: number;
  /** the prologue, the instructions and the jump to stream_end */
  bytes: Uint8Array;
  /** the prologue: registers, RFLAGS, XMM */
  prologue: Uint8Array;
  /** the instructions (each source's piece: one instruction, or a few bytes) */
  pieces: Uint8Array[];
  /** the scratch area's contents */
  scratch: Uint8Array;
  /** the stack's contents around STACK_TOP */
  stack: Uint8Array;
}

/** The jump from the end of a stream to the kernel's stream_end (its address filled in by loadStream). */
const EPILOGUE = [0xff, 0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];

/** The stream with only `pieces` (a subset of its own, for minimizing a failing stream). */
export function withPieces(stream: Stream, pieces: Uint8Array[]): Stream {
  const bytes = Uint8Array.from([...stream.prologue, ...pieces.flatMap((piece) => [...piece]), ...EPILOGUE]);
  return { ...stream, bytes, pieces };
}

/** Stream `index` of run `seed`: a pure function of the two. */
export function generateStream(seed: number, index: number): Stream {
  const rng = new Rng(caseSeed(seed, index));

  // ---- the instructions
  const pieces: Uint8Array[] = [];
  const decoderWindows = new CaseGenerator(caseSeed(seed ^ 0xdec0de, index), 64);
  const batch = newCaseBatch(64, 1);
  const count = 8 + rng.below(48);
  for (let i = 0; i < count; i++) {
    const roll = rng.below(100);
    const made = roll < 40 ? singleCaseOf(rng.pick(encodableRows()), rng.u32(), i) : null;
    if (made !== null) {
      pieces.push(made.code);
    } else if (roll >= 40 && roll < 52) {
      pieces.push(Uint8Array.from(rng.pick(SYSTEM_INSTRUCTIONS)(rng)));
    } else if (roll < 88) {
      decoderWindows.fill(batch, 1, false);
      const window = caseWindow(batch, 0);
      const ins = decode(window, 0, 64);
      const length = ins.status === DecodeStatus.Truncated ? WINDOW : Math.max(1, ins.length);
      pieces.push(window.slice(0, length));
    } else {
      pieces.push(Uint8Array.from({ length: 1 + rng.below(15) }, () => rng.byte()));
    }
  }
  // where the pieces start: branch targets that stay in the stream
  const starts: number[] = [];
  let at = STREAM + PROLOGUE_LENGTH;
  for (const piece of pieces) {
    starts.push(at);
    at += piece.length;
  }
  const value = () => registerValue(rng, starts);

  // ---- the prologue: registers, RFLAGS, XMM
  const out: number[] = [];
  const u64 = (v: bigint) => {
    for (let k = 0n; k < 64n; k += 8n) out.push(Number((BigInt.asUintN(64, v) >> k) & 0xffn));
  };
  for (let r = 0; r < 16; r++) {
    if (r === 4) continue;
    out.push(0x48 | (r >> 3), 0xb8 + (r & 7)); // mov r64, imm64
    u64(value());
  }
  out.push(0x48, 0xbc); // mov rsp, imm64: the stack, a little below its top
  u64(BigInt(STACK_TOP - 8 * rng.below(64)));
  // push imm32; popfq: arithmetic flags and DF at random (IF stays clear, reserved bit 1 set)
  out.push(0x68, ...le32((rng.u32() & 0x8d5) | 0x2), 0x9d);
  for (let x = 0; x < 16; x++) {
    // movdqu xmmX, [SCRATCH + 16x]
    out.push(0xf3);
    if (x >= 8) out.push(0x44);
    out.push(0x0f, 0x6f, 0x04 | ((x & 7) << 3), 0x25, ...le32(SCRATCH + 16 * x));
  }
  if (out.length !== PROLOGUE_LENGTH) throw new Error(`the stream prologue is ${out.length} bytes, not ${PROLOGUE_LENGTH}`);
  const prologue = Uint8Array.from(out);

  // ---- memory: the scratch area at random, the stack around its top full of values like the
  // registers' (so RET and POP land in the stream or the scratch area as often as not)
  const scratch = new Uint8Array(SCRATCH_SIZE);
  const scratchView = new DataView(scratch.buffer);
  for (let i = 0; i < scratch.length; i += 4) scratchView.setUint32(i, rng.u32(), true);
  const stack = new Uint8Array(STACK_SIZE);
  const stackView = new DataView(stack.buffer);
  for (let i = 0; i < stack.length; i += 8) stackView.setBigUint64(i, BigInt.asUintN(64, value()), true);
  return withPieces({ index, bytes: new Uint8Array(0), prologue, pieces, scratch, stack }, pieces);
}

/** mov r64, imm64 ×15 (10 bytes each), mov rsp (10), push imm32; popfq (6), movdqu ×16 (9 or 10 bytes) */
const PROLOGUE_LENGTH = 15 * 10 + 10 + 6 + 8 * 9 + 8 * 10;
/** the stack bytes a stream starts with, centred on STACK_TOP */
const STACK_SIZE = 0x2000;

/**
 * Control transfers, system and string instructions, whose odd forms a booted machine meets rarely
 * among uniformly picked rows: each builds one instruction with random registers and operands.
 */
const SYSTEM_INSTRUCTIONS: ReadonlyArray<(rng: Rng) => number[]> = [
  (rng) => [0x40 | rng.below(16), 0xff, 0xc0 | ((rng.chance(0.5) ? 2 : 4) << 3) | rng.below(8)], // call/jmp r64
  (rng) => [0xff, ((rng.chance(0.5) ? 2 : 4) << 3) | rng.pick([0, 1, 2, 3, 6, 7])], // call/jmp [r64]
  (rng) => [rng.pick([0x50, 0x51, 0x53, 0x56]), 0xc3], // push reg; ret
  (rng) => [0xc2, rng.byte(), rng.chance(0.8) ? 0 : rng.byte()], // ret imm16
  (rng) => (rng.chance(0.5) ? [0x48, rng.pick([0xcb, 0xcf])] : [rng.pick([0xca, 0xcb, 0xcf])]), // retf, iret(q)
  (rng) => [rng.pick([0xcc, 0xce, 0xf1])], // int3, into (#UD in 64-bit mode), int1
  (rng) => [0xcd, rng.byte()], // int n
  () => [0x0f, 0x0b], // ud2
  (rng) => [rng.pick([0xf4, 0xfa, 0xfb, 0x9c, 0x9d, 0xc9, 0x9b])], // hlt, cli, sti, pushf, popf, leave, fwait
  (rng) => [0xc8, rng.byte(), rng.byte(), rng.byte()], // enter
  (rng) => [0x0f, rng.pick([0x05, 0x07, 0x34, 0x35, 0xa2, 0x31, 0x32, 0x30, 0x09, 0x08, 0x06, 0xa0, 0xa1, 0xa8, 0xa9])], // syscall ... pop gs
  (rng) => [0x0f, 0x01, rng.pick([0xf8, 0xf9, 0xd0, 0xd1, 0xc8, 0xc9, 0xca, 0xcb, 0xd5, 0xd6])], // swapgs, rdtscp, xgetbv...
  (rng) => [0x0f, rng.below(2), rng.byte()], // group 6/7: sldt, ltr, verr, lgdt, lidt, invlpg, smsw, lmsw...
  (rng) => [0x40 | rng.below(16), 0x0f, 0x20 + rng.below(4), 0xc0 | rng.byte() & 0x3f], // mov to/from CR/DR
  (rng) => [0x8e, 0xc0 | rng.byte() & 0x3f], // mov sreg, r16
  (rng) => [rng.pick([0x8c, 0x8e]), rng.byte() & 0xbf, 0, 0, 0, 0], // mov sreg to/from memory
  (rng) => [rng.pick([0xe4, 0xe5, 0xe6, 0xe7]), rng.pick([0x20, 0x21, 0x40, 0x43, 0x60, 0x64, 0x70, 0x71, 0x80, 0x92, 0xa0, 0xa1, 0xcf, 0xf4, rng.byte()])], // in/out imm8
  (rng) => [0x66, 0xba, rng.byte(), rng.pick([0x00, 0x03, 0x0c, 0xff])].concat(rng.pick([0xec, 0xed, 0xee, 0xef])), // mov dx, port; in/out dx
  (rng) => [...(rng.chance(0.3) ? [0x67] : []), ...(rng.chance(0.6) ? [rng.pick([0xf3, 0xf2])] : []), ...(rng.chance(0.5) ? [0x48] : []), rng.pick([0x6c, 0x6d, 0x6e, 0x6f, 0xa4, 0xa5, 0xa6, 0xa7, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf])], // string ops
  (rng) => [0xb9, rng.below(64), 0, 0, 0, rng.chance(0.5) ? 0xfd : 0xfc], // mov ecx, small; std/cld
  (rng) => [0x0f, 0xae, rng.byte()], // fxsave, fxrstor, ldmxcsr, stmxcsr, fences, clflush
  (rng) => [...(rng.chance(0.5) ? [0xf0] : []), ...(rng.chance(0.5) ? [0x48] : []), 0x0f, 0xc7, rng.byte()], // cmpxchg8b/16b, rdrand...
  (rng) => [0xf0, ...(rng.chance(0.5) ? [0x48] : []), rng.byte(), rng.byte(), rng.byte()], // LOCK before anything
  (rng) => [rng.pick([0x9a, 0xea]), rng.byte(), rng.byte(), rng.byte(), rng.byte(), rng.byte(), rng.byte()], // far call/jmp ptr (#UD in 64-bit mode)
  (rng) => [0x40 | rng.below(16), 0xff, ((rng.chance(0.5) ? 3 : 5) << 3) | rng.pick([0, 1, 2, 3, 6, 7])], // call/jmp far [r64]
  (rng) => [rng.pick([0x0f, 0x48]), rng.pick([0xa1, 0xa9, 0x17, 0x1f, 0x07])], // pop fs/gs, pop ss/ds/es (#UD)
  (rng) => [0x0f, 0x01, rng.pick([0x14, 0x1c]), 0x25, ...le32(SCRATCH + rng.below(SCRATCH_SIZE - 16))], // lgdt/lidt [scratch]: random tables
  () => [0xfb, 0xf4], // sti; hlt: the PIT's interrupt arrives (through whatever IDT there is)
];

const le32 = (value: number) => [value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, value >>> 24];

let rows: OpcodeRow[] | null = null;
/**
 * Every row the oracle's encoder knows how to build in 64-bit mode: the ones it compares with the
 * host, the privileged ones, and the ones it leaves out because the host would run them differently
 * (SYSCALL, INT n, CPUID, IRET, far transfers, segment loads...), which a booted machine must take
 * too. (Which of those the host CPU supports only moves rows between the last two groups: the list,
 * and so every stream of a seed, is the same on every host.)
 */
function encodableRows(): OpcodeRow[] {
  rows ??= OPCODE_TABLE.filter((row) => classifyRow(row).kind !== "outside");
  return rows;
}

/**
 * A register's (or a stack slot's) initial value: mostly a pointer into the scratch area, or the
 * start of one of the stream's pieces (an indirect branch or RET stays in the stream), else a small
 * or edge value.
 */
function registerValue(rng: Rng, starts: number[]): bigint {
  const roll = rng.below(100);
  if (roll < 45) return BigInt(SCRATCH + rng.below(SCRATCH_SIZE));
  if (roll < 55 && starts.length > 0) return BigInt(rng.pick(starts));
  if (roll < 75) return BigInt(rng.below(256));
  if (roll < 85) return rng.pick([0n, -1n, 0x7fff_ffff_ffff_ffffn, -0x8000_0000_0000_0000n, 0xffff_ffffn, 0x1_0000_0000n, 0x8000_0000n]);
  return rng.u64();
}

/** Puts `stream` and its scratch area into a machine holding `kernel` (not yet run). */
export function loadStream(machine: PcMachine, kernel: AssembledGuest, stream: Stream): void {
  for (let vector = 0; vector < 256; vector++) setGate(machine, vector, symbol(kernel, `vector_${vector}`));
  for (let vector = 0; vector < 256; vector++) machine.memory.view.setUint8(IDT + vector * 16 + 4, 1); // IST1
  const bytes = stream.bytes.slice();
  new DataView(bytes.buffer).setBigUint64(bytes.length - 8, BigInt(symbol(kernel, "stream_end")), true);
  machine.memory.loadBytes(STREAM, bytes);
  const view = machine.memory.view;
  view.setBigUint64(RESULTS + R_STREAM_END, BigInt(STREAM + bytes.length), true);
  view.setBigUint64(RESULTS + R_RESUMED, BigInt(STREAM + stream.prologue.length), true);
  let start = STREAM + stream.prologue.length;
  stream.pieces.forEach((piece, i) => {
    view.setBigUint64(RESULTS + R_PIECES + 8 * i, BigInt(start), true);
    start += piece.length;
  });
  machine.memory.loadBytes(SCRATCH, stream.scratch);
  machine.memory.loadBytes(STACK_TOP - stream.stack.length / 2, stream.stack);
}

/** Everything a run can differ in, for comparing engines: how it stopped, the CPU, RESULTS and memory. */
export interface StreamOutcome {
  stop: string;
  /** what the handlers recorded: the events, the last frame and the registers at it */
  recorded: string;
  registers: string;
  retired: number;
  control: string;
  xmm: string;
  /** the mapped memory (a view of the machine's RAM) */
  memory: Uint8Array;
}

export function describeStop(stop: StopReason): string {
  switch (stop.kind) {
    case "exit": return `exit status ${stop.status}`;
    case "instruction-limit": return `instruction limit ${stop.limit}`;
    case "timeout": return `wall-clock timeout after ${stop.seconds} s`;
    case "reset": return `reset (${stop.source})`;
    case "divergence": return `divergence: ${stop.report}`;
    case "internal-error": return `internal error: ${stop.message}`;
    case "triple-fault": case "halted": return `${stop.kind}: ${stop.message}\n${stop.dump}`;
  }
}

export function streamOutcome(machine: PcMachine, stop: StopReason): StreamOutcome {
  const cpu = machine.cpu;
  const view = machine.memory.view;
  const q = (at: number) => view.getBigUint64(at, true);
  const count = Math.min(Number(q(RESULTS + R_COUNT)), MAX_EVENTS);
  const events: string[] = [];
  for (let i = 0; i < count; i++) {
    const entry = q(RESULTS + R_LOG + 16 * i);
    const vector = Number(entry & 0xfffn);
    const error = (Number(entry & 0xffffn) & ERROR_CODE_PUSHED) !== 0 ? ` (error code ${hex(Number(entry >> 32n))})` : "";
    events.push(`${vector === VECTOR_STREAM_END ? "end of stream" : `vector ${vector}${error}`} at ${q(RESULTS + R_LOG + 16 * i + 8).toString(16)}`);
  }
  const frame = ["rip", "cs", "rflags", "rsp", "ss"].map((name, i) => `${name}=${q(RESULTS + R_FRAME + 8 * i).toString(16)}`).join(" ");
  const saved = REGISTERS.map((name, i) => `${name}=${q(RESULTS + R_REGS + 8 * i).toString(16)}`).join(" ");
  const registers: string[] = [];
  for (let r = 0; r < 16; r++) registers.push(`${REGISTERS[r]}=${((BigInt(cpu.regs[2 * r + 1]! >>> 0) << 32n) | BigInt(cpu.regs[2 * r]! >>> 0)).toString(16)}`);
  registers.push(`rip=${cpu.rip.toString(16)}`, `rflags=${cpu.getFlags().toString(16)}`);
  return {
    stop: describeStop(stop),
    recorded: `events: ${events.join(", ") || "none"}; last frame ${frame}; registers ${saved}`,
    registers: registers.join(" "),
    retired: cpu.retired,
    control: `cr0=${hex(cpu.cr0)} cr2=${hex(cpu.cr2)} cr3=${hex(cpu.cr3)} cr4=${hex(cpu.cr4)} efer=${hex(cpu.efer)} mxcsr=${hex(cpu.mxcsr)}`,
    xmm: Buffer.from(cpu.xmmBytes).toString("hex"),
    memory: machine.memory.ram.subarray(0, MAPPED),
  };
}

/** How two runs of a stream differ: each differing field, and the first differing byte of memory. */
export function differences(a: StreamOutcome, b: StreamOutcome, names: [string, string]): string[] {
  const out: string[] = [];
  for (const field of ["stop", "recorded", "registers", "retired", "control", "xmm"] as const) {
    if (a[field] !== b[field]) out.push(`${field}:\n    ${names[0]}: ${a[field]}\n    ${names[1]}: ${b[field]}`);
  }
  if (Buffer.compare(a.memory, b.memory) !== 0) {
    let at = 0;
    while (a.memory[at] === b.memory[at]) at++;
    let count = 0;
    for (let i = at; i < a.memory.length; i++) if (a.memory[i] !== b.memory[i]) count++;
    const bytes = (m: Uint8Array) => Buffer.from(m.subarray(at, at + 16)).toString("hex");
    out.push(`memory: ${count} bytes differ, the first at ${hex(at)}:\n    ${names[0]}: ${bytes(a.memory)}\n    ${names[1]}: ${bytes(b.memory)}`);
  }
  return out;
}

/** The stream's body as objdump-style lines (address, bytes, instruction), for a failure report. */
export function listing(stream: Stream, maxLines = 80): string {
  const lines: string[] = [];
  let at = stream.prologue.length;
  const end = stream.bytes.length - EPILOGUE.length;
  while (at < end && lines.length < maxLines) {
    const ins = decode(stream.bytes, at, 64);
    const length = ins.status === DecodeStatus.Truncated || ins.length === 0 ? 1 : ins.length;
    const bytes = Array.from(stream.bytes.subarray(at, at + length), (b) => b.toString(16).padStart(2, "0")).join(" ");
    const text = ins.status === DecodeStatus.Ok || ins.status === DecodeStatus.Unsupported ? formatIntel(ins, BigInt(STREAM + at)) : "(bad)";
    lines.push(`  ${(STREAM + at).toString(16)}: ${bytes.padEnd(45)} ${text}`);
    at += length;
  }
  return lines.join("\n");
}

/** The stream's bytes as hex (the kernel's address for stream_end left as zeros). */
export function streamHex(stream: Stream): string {
  return Array.from(stream.bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}


