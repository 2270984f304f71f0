// iced-x86 as the decoder's oracle: its view of an instruction in the canonical form of
// src/decoder/canonical.ts, the "is this instruction in our emulator's domain" classification, fast batch
// decoding, and the comparison rules shared by the fuzz, binary-sweep and format tests.
//
// iced-x86 is Rust compiled to WASM: every Instruction/Decoder/Formatter owns WASM memory and must be
// free()d. This module reuses one Instruction (Decoder.decodeOut) and one Decoder per batch, so a
// run allocates a handful of WASM objects whatever the number of cases.

import * as iced from "iced-x86";
import type { CanonInstruction, CanonOperand } from "../../src/decoder/canonical.js";
import { DEFAULT_IP, type Mode, WINDOW } from "./generate.js";

export type { Mode } from "./generate.js";

// ---------------------------------------------------------------------------------------------------------------
// Names

/** iced Register enum value → lower-case name; Register.None → null. */
const REGISTER_NAMES: (string | null)[] = [];
for (const [name, value] of Object.entries(iced.Register)) {
  if (typeof value === "number") REGISTER_NAMES[value] = value === iced.Register.None ? null : name.toLowerCase();
}
/** iced Mnemonic enum value → lower-case name ("invalid" for Mnemonic.INVALID). */
const MNEMONIC_NAMES: string[] = [];
for (const [name, value] of Object.entries(iced.Mnemonic)) {
  if (typeof value === "number") MNEMONIC_NAMES[value] = name.toLowerCase();
}

export function registerName(reg: iced.Register): string | null {
  const name = REGISTER_NAMES[reg];
  if (name === undefined) throw new Error(`unknown iced register ${reg}`);
  return name;
}

export function mnemonicName(mnemonic: iced.Mnemonic): string {
  const name = MNEMONIC_NAMES[mnemonic];
  if (name === undefined) throw new Error(`unknown iced mnemonic ${mnemonic}`);
  return name;
}

const R = iced.Register;
const isGpr16 = (r: number): boolean => r >= R.AX && r <= R.R15W;
const isGpr32 = (r: number): boolean => (r >= R.EAX && r <= R.R15D) || r === R.EIP;
const isMmOrSt = (r: number): boolean => (r >= R.MM0 && r <= R.MM7) || (r >= R.ST0 && r <= R.ST7);

// ---------------------------------------------------------------------------------------------------------------
// Canonical form

const K = iced.OpKind;
const NO_FLAGS = { read: 0, undefined: 0, modified: 0 } as const;

function mask(value: bigint, bits: number): bigint {
  return BigInt.asUintN(bits, value);
}

/**
 * The address size of ins's `Memory` operand: from the base or index register (16/32/64-bit GPR,
 * eip/rip), else from the displacement size (absolute [disp16]/[disp32]/[disp64] and moffs forms).
 */
function memoryAddressBits(ins: iced.Instruction, base: number, index: number, mode: Mode): 16 | 32 | 64 {
  const reg = base !== R.None ? base : index;
  if (reg !== R.None) return isGpr16(reg) ? 16 : isGpr32(reg) ? 32 : 64;
  switch (ins.memoryDisplSize) {
    case 2:
      return 16;
    case 4:
      return 32;
    case 8:
      return 64;
    default:
      return mode;
  }
}

function stringOperand(seg: string, base: string): CanonOperand {
  return { kind: "mem", seg, base, index: null, scale: 1, disp: 0n };
}

function operandOf(ins: iced.Instruction, k: number, mode: Mode): CanonOperand {
  const kind = ins.opKind(k);
  switch (kind) {
    case K.Register:
      return { kind: "reg", reg: registerName(ins.opRegister(k))! };
    case K.NearBranch16:
      return { kind: "branch", target: mask(ins.nearBranchTarget, 16) };
    case K.NearBranch32:
      return { kind: "branch", target: mask(ins.nearBranchTarget, 32) };
    case K.NearBranch64:
      return { kind: "branch", target: mask(ins.nearBranchTarget, 64) };
    case K.FarBranch16:
      return { kind: "far", selector: ins.farBranchSelector, offset: ins.farBranch16 };
    case K.FarBranch32:
      return { kind: "far", selector: ins.farBranchSelector, offset: ins.farBranch32 };
    case K.Immediate8:
    case K.Immediate8_2nd:
      return { kind: "imm", value: mask(ins.immediate(k), 8), bits: 8 };
    case K.Immediate16:
    case K.Immediate8to16:
      return { kind: "imm", value: mask(ins.immediate(k), 16), bits: 16 };
    case K.Immediate32:
    case K.Immediate8to32:
      return { kind: "imm", value: mask(ins.immediate(k), 32), bits: 32 };
    case K.Immediate64:
    case K.Immediate8to64:
    case K.Immediate32to64:
      return { kind: "imm", value: mask(ins.immediate(k), 64), bits: 64 };
    // String sources ([rsi], overridable segment) and maskmov's [rdi] (overridable segment).
    case K.MemorySegSI:
      return stringOperand(registerName(ins.memorySegment)!, "si");
    case K.MemorySegESI:
      return stringOperand(registerName(ins.memorySegment)!, "esi");
    case K.MemorySegRSI:
      return stringOperand(registerName(ins.memorySegment)!, "rsi");
    case K.MemorySegDI:
      return stringOperand(registerName(ins.memorySegment)!, "di");
    case K.MemorySegEDI:
      return stringOperand(registerName(ins.memorySegment)!, "edi");
    case K.MemorySegRDI:
      return stringOperand(registerName(ins.memorySegment)!, "rdi");
    // String destinations: always es:[rdi].
    case K.MemoryESDI:
      return stringOperand("es", "di");
    case K.MemoryESEDI:
      return stringOperand("es", "edi");
    case K.MemoryESRDI:
      return stringOperand("es", "rdi");
    case K.Memory: {
      const base = ins.memoryBase;
      const index = ins.memoryIndex;
      const bits = memoryAddressBits(ins, base, index, mode);
      return {
        kind: "mem",
        seg: registerName(ins.memorySegment)!,
        base: registerName(base),
        index: registerName(index),
        // A SIB byte without index (index field 100b) still has scale bits; iced reports them. They mean
        // nothing, so the canonical form says 1.
        scale: index === R.None ? 1 : ins.memoryIndexScale,
        // iced already returns the displacement zero-extended from the address size (16/32-bit
        // addressing) or as a 64-bit two's complement value (64-bit); masking here is a no-op kept as
        // the definition.
        disp: mask(ins.memoryDisplacementU64, bits),
      };
    }
    default:
      throw new Error(`unexpected iced OpKind ${iced.OpKind[kind]} in ${iced.Code[ins.code]}`);
  }
}

/** iced's view of a decoded instruction in the canonical comparison form. */
export function icedCanonical(ins: iced.Instruction, mode: Mode): CanonInstruction {
  if (ins.isInvalid) return { length: ins.length, mnemonic: "invalid", operands: [], flags: { ...NO_FLAGS } };
  const operands: CanonOperand[] = [];
  const count = ins.opCount;
  for (let k = 0; k < count; k++) operands.push(operandOf(ins, k, mode));
  return {
    length: ins.length,
    mnemonic: mnemonicName(ins.mnemonic),
    operands,
    flags: { read: ins.rflagsRead, undefined: ins.rflagsUndefined, modified: ins.rflagsModified },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Domain: which valid instructions our emulator executes

const F = iced.CpuidFeature;
/**
 * CPUID features whose instructions the emulator executes (an instruction is in the domain when all of
 * its iced cpuidFeatures() are listed here, with the exceptions in icedIsInOurDomain). Left out on
 * purpose: FPU/FPU287/FPU387 (x87), MMX, D3NOW(EXT), SSE3 and later, AVX*, AES, PCLMULQDQ, SHA, VMX,
 * SVM, SMX, SEP (sysenter/sysexit), SMM (rsm), RDPMC, RDRAND/RDSEED, XSAVE*, FSGSBASE, MONITOR,
 * PREFETCHW, CET_IBT/CET_SS (endbr64...), INVPCID, CLFLUSHOPT, CLWB, MPX, RTM/HLE, and the *_ONLY
 * features (INTEL8086_ONLY, INTEL286_ONLY, INTEL386_ONLY, INTEL386_A0_ONLY, INTEL486_A_ONLY: instructions
 * of one old CPU, which iced only decodes with special DecoderOptions).
 */
export const DOMAIN_FEATURES: ReadonlySet<iced.CpuidFeature> = new Set([
  F.INTEL8086,
  F.INTEL186,
  F.INTEL286,
  F.INTEL386,
  F.INTEL486,
  F.X64,
  F.CPUID,
  F.CMOV,
  F.CX8,
  F.CMPXCHG16B,
  F.MOVBE,
  F.POPCNT,
  F.LZCNT,
  F.FXSR,
  F.MSR,
  F.TSC,
  F.RDTSCP,
  F.SYSCALL,
  F.SSE,
  F.SSE2,
  F.CLFSH,
  F.PAUSE,
  F.MULTIBYTENOP,
]);

/** iced Code value → whether its encoding form names an MMX register operand (mm or mm/m64). */
const MMX_FORM = new Map<number, boolean>();
function isMmxForm(code: iced.Code): boolean {
  let result = MMX_FORM.get(code);
  if (result === undefined) {
    // iced's Code names spell operands: Cvtpi2ps_xmm_mmm64 (mm/m64), Pshufw_mm_mmm64_imm8, Movq2dq_xmm_mm.
    result = /_mm(?:m|_|$)/.test(iced.Code[code] ?? "");
    MMX_FORM.set(code, result);
  }
  return result;
}

/**
 * true when the (valid) instruction is one our emulator executes, i.e. our decoder must say Ok, not
 * Unsupported: legacy encoding and every CPUID feature in DOMAIN_FEATURES, with these exceptions:
 *  - BMI1 is accepted only for tzcnt (F3 0F BC; the other BMI1 instructions are VEX-encoded);
 *  - CET_IBT is accepted only for endbr64/endbr32: without CET they are hint NOPs (F3 0F 1E FA/FB), and
 *    distribution binaries are full of them;
 *  - wait/fwait (9B) is out although iced files it under INTEL8086: it belongs to x87 (it waits for
 *    pending x87 exceptions) and the emulator has no x87;
 *  - SSE/SSE2 encodings that take an MMX register (pshufw, cvtpi2ps xmm,mm/m64, cvtps2pi mm,xmm,
 *    paddq mm..., movq2dq, maskmovq, movntq — also their memory forms) are out: no MMX register file.
 */
export function icedIsInOurDomain(ins: iced.Instruction): boolean {
  if (ins.isInvalid) return false;
  if (ins.encoding !== iced.EncodingKind.Legacy) return false;
  const mnemonic = ins.mnemonic;
  if (mnemonic === iced.Mnemonic.Wait) return false;
  for (const feature of ins.cpuidFeatures()) {
    if (feature === F.BMI1) {
      if (mnemonic !== iced.Mnemonic.Tzcnt) return false;
    } else if (feature === F.CET_IBT) {
      if (mnemonic !== iced.Mnemonic.Endbr64 && mnemonic !== iced.Mnemonic.Endbr32) return false;
    } else if (!DOMAIN_FEATURES.has(feature)) return false;
  }
  if (isMmxForm(ins.code)) return false;
  const count = ins.opCount;
  for (let k = 0; k < count; k++) {
    if (ins.opKind(k) === K.Register && isMmOrSt(ins.opRegister(k))) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------------------------
// Batch decoding

/** iced's per-instruction decoder error: None, InvalidInstruction or NoMoreBytes. */
export const IcedError = iced.DecoderError;
export type IcedError = iced.DecoderError;

/**
 * Decodes many instructions with one WASM Decoder and one reused Instruction. The Decoder copies its
 * input into WASM memory at construction, so a new buffer (a new batch) needs a new IcedBatchDecoder;
 * constructing one costs a few microseconds plus the copy.
 */
export class IcedBatchDecoder {
  private readonly decoder: iced.Decoder;
  /** The instruction the last decodeAt() wrote; valid until the next decodeAt(). */
  readonly ins = new iced.Instruction();

  constructor(
    readonly mode: Mode,
    bytes: Uint8Array,
  ) {
    this.decoder = new iced.Decoder(mode, bytes, iced.DecoderOptions.None);
  }

  /** Decodes at `position` of the buffer with instruction pointer ip; returns iced's error for it. */
  decodeAt(position: number, ip: bigint): IcedError {
    this.decoder.position = position;
    this.decoder.ip = ip;
    this.decoder.decodeOut(this.ins);
    return this.decoder.lastError;
  }

  free(): void {
    this.ins.free();
    this.decoder.free();
  }
}

/**
 * Linear sweep with iced: calls visit(offset, ins, error) for every instruction of `bytes` (mapped at
 * addr). After an invalid instruction the sweep resumes one byte later.
 */
export function icedSweep(
  bytes: Uint8Array,
  addr: bigint,
  mode: Mode,
  visit: (offset: number, ins: iced.Instruction, error: IcedError) => void,
): void {
  const batch = new IcedBatchDecoder(mode, bytes);
  try {
    let offset = 0;
    while (offset < bytes.length) {
      const error = batch.decodeAt(offset, addr + BigInt(offset));
      visit(offset, batch.ins, error);
      offset += error === IcedError.None ? batch.ins.length : 1;
    }
  } finally {
    batch.free();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The iced Formatter configuration our formatIntel reproduces (docs/decoder-testing.md explains each choice)

export function createIcedFormatter(): iced.Formatter {
  const f = new iced.Formatter(iced.FormatterSyntax.Intel);
  f.uppercaseHex = false;
  f.hexPrefix = "0x";
  f.hexSuffix = "";
  f.addLeadingZeroToHexNumbers = false;
  f.smallHexNumbersInDecimal = false;
  f.leadingZeros = false;
  f.branchLeadingZeros = false;
  f.displacementLeadingZeros = false;
  f.signedImmediateOperands = false;
  f.signedMemoryDisplacements = true;
  f.showZeroDisplacements = true;
  f.alwaysShowScale = true;
  f.ripRelativeAddresses = true;
  f.memorySizeOptions = iced.MemorySizeOptions.Always;
  f.uppercaseKeywords = true;
  f.showBranchSize = false;
  f.spaceAfterOperandSeparator = false;
  f.firstOperandCharIndex = 7;
  f.tabSize = 0;
  return f;
}

/** A lazily created formatter for failure messages (lives as long as the process). */
let detailFormatter: iced.Formatter | null = null;

// ---------------------------------------------------------------------------------------------------------------
// The decoder under test

/** The status values of src/decoder/index.ts's DecodeStatus. */
export const Status = { Ok: 0, Invalid: 1, Unsupported: 2, Truncated: 3 } as const;
const STATUS_NAMES = ["Ok", "Invalid", "Unsupported", "Truncated"];

export interface DecodedLike {
  readonly length: number;
  readonly status: number;
}

/** The part of src/decoder/index.ts the tests use. */
export interface DecoderUnderTest<I extends DecodedLike = DecodedLike> {
  decode(code: Uint8Array, offset: number, mode: Mode): I;
  canonicalOf(ins: I, ip: bigint, mode: Mode): CanonInstruction;
  formatIntel(ins: I, ip: bigint): string;
}

interface IcedReferenceInstruction extends DecodedLike {
  readonly bytes: Uint8Array;
  readonly mode: Mode;
}

function withIcedInstruction<T>(
  bytes: Uint8Array,
  mode: Mode,
  ip: bigint,
  use: (i: iced.Instruction, error: IcedError) => T,
): T {
  const decoder = new iced.Decoder(mode, bytes, iced.DecoderOptions.None);
  decoder.ip = ip;
  const instruction = decoder.decode();
  try {
    return use(instruction, decoder.lastError);
  } finally {
    instruction.free();
    decoder.free();
  }
}

/**
 * iced-x86 itself behind the DecoderUnderTest interface (Unsupported = outside icedIsInOurDomain). With
 * DECODER_UNDER_TEST=iced the tests run against it: a self-check of the harness, the generator and the
 * canonicalizer, which must report zero disagreements. Slow (one WASM Decoder per call); fine for that.
 */
export const icedReferenceDecoder: DecoderUnderTest<IcedReferenceInstruction> = {
  decode(code, offset, mode) {
    const bytes = code.slice(offset, offset + WINDOW);
    return withIcedInstruction(bytes, mode, DEFAULT_IP, (i, error) => {
      const status =
        error === IcedError.NoMoreBytes
          ? Status.Truncated
          : i.isInvalid
            ? Status.Invalid
            : icedIsInOurDomain(i)
              ? Status.Ok
              : Status.Unsupported;
      return { bytes, mode, length: i.length, status };
    });
  },
  canonicalOf(ins, ip, mode) {
    return withIcedInstruction(ins.bytes, mode, ip, (i) => icedCanonical(i, mode));
  },
  formatIntel(ins, ip) {
    detailFormatter ??= createIcedFormatter();
    const formatter = detailFormatter;
    return withIcedInstruction(ins.bytes, ins.mode, ip, (i) => formatter.format(i));
  },
};

/** Our decoder (src/decoder/index.ts), or iced itself when DECODER_UNDER_TEST=iced (harness self-check). */
export async function loadDecoderUnderTest(): Promise<{ name: string; decoder: DecoderUnderTest<DecodedLike> }> {
  if (process.env.DECODER_UNDER_TEST === "iced") {
    return { name: "iced-x86 (harness self-check)", decoder: icedReferenceDecoder as unknown as DecoderUnderTest };
  }
  const ours = await import("../../src/decoder/index.js");
  return { name: "src/decoder", decoder: ours as unknown as DecoderUnderTest };
}

// ---------------------------------------------------------------------------------------------------------------
// Comparison

/** Agreements and informational outcomes (counted, never a failure). */
export const AGREEMENTS = {
  okCompared: "ok: both valid, ours Ok, all fields equal",
  unsupportedLength: "unsupported: iced valid, ours Unsupported, lengths equal",
  invalidAgreed: "invalid: both invalid",
  truncatedAgreed: "truncated: iced NoMoreBytes, ours Truncated",
  unsupportedIcedInvalid: "info: ours Unsupported, iced invalid (validity inside unsupported spaces not classified)",
  formatEqual: "format: normalized Intel texts equal",
} as const;

/** Disagreement categories (each one is a failure). */
export const DISAGREEMENTS = {
  length: "length differs (both valid, ours Ok)",
  mnemonic: "mnemonic differs (both valid, ours Ok)",
  operands: "operands differ (both valid, ours Ok)",
  flags: "flags differ (both valid, ours Ok)",
  unsupportedLength: "length differs (iced valid, ours Unsupported)",
  oursInvalid: "iced valid, ours Invalid",
  oursOkIcedInvalid: "iced invalid, ours Ok",
  oursTruncated: "ours Truncated, iced not NoMoreBytes",
  icedTruncated: "iced NoMoreBytes, ours not Truncated",
  inDomainUnsupported: "in our domain (by iced's CPUID features) but ours Unsupported",
  outOfDomainOk: "outside our domain (by iced's CPUID features) but ours Ok",
  oursThrew: "our decoder threw",
  badStatus: "our decoder returned an unknown status",
  format: "formatIntel text differs (after normalization)",
} as const;
export type DisagreementKey = keyof typeof DISAGREEMENTS;

export function hex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

/** JSON with bigints written as 0x-hex strings. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === "bigint" ? `0x${v.toString(16)}` : v));
}

/** The first differing field of two canonical instructions, or null when equal. */
export function canonDiff(a: CanonInstruction, b: CanonInstruction): "length" | "mnemonic" | "operands" | "flags" | null {
  if (a.length !== b.length) return "length";
  if (a.mnemonic !== b.mnemonic) return "mnemonic";
  if (a.operands.length !== b.operands.length) return "operands";
  for (let k = 0; k < a.operands.length; k++) if (!operandEqual(a.operands[k]!, b.operands[k]!)) return "operands";
  if (a.flags.read !== b.flags.read || a.flags.undefined !== b.flags.undefined || a.flags.modified !== b.flags.modified) {
    return "flags";
  }
  return null;
}

function operandEqual(a: CanonOperand, b: CanonOperand): boolean {
  switch (a.kind) {
    case "reg":
      return b.kind === "reg" && a.reg === b.reg;
    case "mem":
      return (
        b.kind === "mem" &&
        a.seg === b.seg &&
        a.base === b.base &&
        a.index === b.index &&
        a.scale === b.scale &&
        a.disp === b.disp
      );
    case "imm":
      return b.kind === "imm" && a.value === b.value && a.bits === b.bits;
    case "branch":
      return b.kind === "branch" && a.target === b.target;
    case "far":
      return b.kind === "far" && a.selector === b.selector && a.offset === b.offset;
    default:
      return false;
  }
}

/** One disagreement, described well enough to reproduce it. */
export interface Disagreement {
  key: DisagreementKey;
  mode: Mode;
  ip: bigint;
  /** the bytes handed to both decoders (the 15-byte window, or up to 15 bytes of a section) */
  bytes: Uint8Array;
  /** where it came from: "fuzz biased 0f38 #123", "bash+0x1234" */
  origin: string;
  detail: string;
}

export function describeDisagreement(d: Disagreement): string {
  return (
    `[${d.key}] ${DISAGREEMENTS[d.key]} — mode=${d.mode} ip=0x${d.ip.toString(16)} bytes=${hex(d.bytes)} (${d.origin})\n` +
    `    repro: npx tsx test/decoder/repro.ts ${hex(d.bytes)} ${d.mode} 0x${d.ip.toString(16)}\n` +
    d.detail
      .split("\n")
      .map((line) => `    ${line}`)
      .join("\n")
  );
}

/**
 * Counts outcomes and keeps a bounded set of disagreement samples: the first `firstN` overall plus the
 * first `perKey` of each category, so memory stays flat however many cases run.
 */
export class DiffCollector {
  readonly agreements = new Map<string, number>();
  readonly disagreements = new Map<DisagreementKey, number>();
  readonly samples: Disagreement[] = [];
  private readonly perKeySamples = new Map<DisagreementKey, number>();
  cases = 0;

  constructor(
    readonly firstN = 20,
    readonly perKey = 3,
    /** optional sink for every disagreement (e.g. a file writer) */
    readonly sink?: (d: Disagreement) => void,
  ) {}

  agree(key: keyof typeof AGREEMENTS): void {
    const label = AGREEMENTS[key];
    this.agreements.set(label, (this.agreements.get(label) ?? 0) + 1);
  }

  disagree(d: Disagreement): void {
    this.disagreements.set(d.key, (this.disagreements.get(d.key) ?? 0) + 1);
    this.sink?.(d);
    const ofKey = this.perKeySamples.get(d.key) ?? 0;
    if (this.samples.length < this.firstN || ofKey < this.perKey) {
      this.samples.push(d);
      this.perKeySamples.set(d.key, ofKey + 1);
    }
  }

  get disagreementCount(): number {
    let n = 0;
    for (const v of this.disagreements.values()) n += v;
    return n;
  }

  summary(title: string): string {
    const lines = [`${title}: ${this.cases} cases`];
    for (const [label, n] of this.agreements) lines.push(`  ${String(n).padStart(10)}  ${label}`);
    for (const [key, n] of this.disagreements) lines.push(`  ${String(n).padStart(10)}  DISAGREE ${DISAGREEMENTS[key]}`);
    return lines.join("\n");
  }

  /** null when there were no disagreements; else totals and the kept samples (a worklist). */
  failureMessage(title: string): string | null {
    if (this.disagreementCount === 0) return null;
    const shown = this.samples.map(describeDisagreement).join("\n");
    return (
      `${this.disagreementCount} disagreement(s) with iced-x86\n${this.summary(title)}\n\n` +
      `first ${this.samples.length} (the first ${this.firstN} overall plus up to ${this.perKey} per category):\n${shown}`
    );
  }
}

function statusName(status: number): string {
  return STATUS_NAMES[status] ?? `status ${status}`;
}

function safely<T>(f: () => T): T | string {
  try {
    return f();
  } catch (e) {
    return `threw: ${e instanceof Error ? e.message : String(e)}`;
  }
}

function icedText(ins: iced.Instruction): string {
  detailFormatter ??= createIcedFormatter();
  return detailFormatter.format(ins);
}

/**
 * Compares our decoder with iced on one instruction: `code`/`offset` is what ours decodes, `ins` and
 * `error` are iced's result for the same bytes at `ip`. Records the outcome in `collector`. Returns our
 * decoded instruction when both said Ok/valid and everything matched (callers may format it), else null.
 */
export function compareWithIced<I extends DecodedLike>(
  ours: DecoderUnderTest<I>,
  code: Uint8Array,
  offset: number,
  ip: bigint,
  mode: Mode,
  ins: iced.Instruction,
  error: IcedError,
  collector: DiffCollector,
  origin: () => string,
): I | null {
  collector.cases++;
  const disagree = (key: DisagreementKey, detail: string): null => {
    collector.disagree({ key, mode, ip, bytes: code.slice(offset, offset + WINDOW), origin: origin(), detail });
    return null;
  };
  const icedView = (): string =>
    error === IcedError.None
      ? `iced: ${icedText(ins)}  ${toJson(icedCanonical(ins, mode))}  (in domain: ${icedIsInOurDomain(ins)}; code ${iced.Code[ins.code]})`
      : `iced: ${iced.DecoderError[error]} (length ${ins.length})`;

  let decoded: I;
  try {
    decoded = ours.decode(code, offset, mode);
  } catch (e) {
    return disagree("oursThrew", `${icedView()}\nours: threw ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  }
  const status = decoded.status;
  const oursView = (): string => {
    const base = `ours: ${statusName(status)} length ${decoded.length}`;
    if (status !== Status.Ok) return base;
    const canon = safely(() => toJson(ours.canonicalOf(decoded, ip, mode)));
    const text = safely(() => ours.formatIntel(decoded, ip));
    return `ours (Ok, length ${decoded.length}): ${text}  ${canon}`;
  };

  if (status === Status.Truncated) {
    if (error === IcedError.NoMoreBytes) {
      collector.agree("truncatedAgreed");
      return null;
    }
    return disagree("oursTruncated", `${icedView()}\n${oursView()}`);
  }
  if (error === IcedError.NoMoreBytes) return disagree("icedTruncated", `${icedView()}\n${oursView()}`);

  if (error === IcedError.InvalidInstruction) {
    switch (status) {
      case Status.Invalid:
        collector.agree("invalidAgreed");
        return null;
      case Status.Unsupported:
        collector.agree("unsupportedIcedInvalid");
        return null;
      case Status.Ok:
        return disagree("oursOkIcedInvalid", `${icedView()}\n${oursView()}`);
      default:
        return disagree("badStatus", `${icedView()}\n${oursView()}`);
    }
  }

  // iced says valid.
  const inDomain = icedIsInOurDomain(ins);
  switch (status) {
    case Status.Invalid:
      return disagree("oursInvalid", `${icedView()}\n${oursView()}`);
    case Status.Unsupported:
      if (inDomain) return disagree("inDomainUnsupported", `${icedView()}\n${oursView()}`);
      if (decoded.length !== ins.length) return disagree("unsupportedLength", `${icedView()}\n${oursView()}`);
      collector.agree("unsupportedLength");
      return null;
    case Status.Ok: {
      let canon: CanonInstruction;
      try {
        canon = ours.canonicalOf(decoded, ip, mode);
      } catch (e) {
        return disagree("oursThrew", `${icedView()}\nours: canonicalOf threw ${e instanceof Error ? e.message : String(e)}`);
      }
      const expected = icedCanonical(ins, mode);
      const diff = decoded.length !== ins.length ? "length" : canonDiff(expected, canon);
      if (diff !== null) {
        return disagree(diff, `${icedView()}\n${oursView()}`);
      }
      if (!inDomain) return disagree("outOfDomainOk", `${icedView()}\n${oursView()}`);
      collector.agree("okCompared");
      return decoded;
    }
    default:
      return disagree("badStatus", `${icedView()}\n${oursView()}`);
  }
}
