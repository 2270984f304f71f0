// Compares the host CPU's outcome of a case with the emulator's: exception (vector, error code, and
// the fault address when the emulator reports one), RIP, all GPRs, RFLAGS, XMM0-15, MXCSR and the
// scratch memory. Masked: RFLAGS.RF (never visible to the program), the flags the instruction(s) leave
// undefined, and the documented undefined results the generator attached to the case (docs/oracle.md).
// Failures become a worklist grouped by instruction form.

import { decode, DecodeStatus, operandsOf } from "../../src/decoder/index.js";
import { P_REP, P_REPNE } from "../../src/decoder/decode.js";
import { CODE_ADDRESS, FLAG_RF, GPR_NAMES, SCRATCH_SIZE, hex, hex64 } from "./layout.js";
import { disassemble, type OracleCase, type ResultMask } from "./generate.js";
import type { Outcome } from "./emulator.js";

export interface Difference {
  field: string;
  native: string;
  emulator: string;
}

const flagNames: Array<[number, string]> = [
  [0x1, "CF"], [0x4, "PF"], [0x10, "AF"], [0x40, "ZF"], [0x80, "SF"], [0x100, "TF"], [0x200, "IF"], [0x400, "DF"], [0x800, "OF"],
  [0x3000, "IOPL"], [0x4000, "NT"], [0x1_0000, "RF"], [0x2_0000, "VM"], [0x4_0000, "AC"], [0x8_0000, "VIF"], [0x10_0000, "VIP"], [0x20_0000, "ID"],
];
export const flagList = (bits: number) => flagNames.filter(([bit]) => bits & bit).map(([, n]) => n).join(" ") || "none";

const describeException = (e: Outcome["exception"]) => (e ? `#${e.vector}${e.errorCode === null ? "" : `(0x${e.errorCode.toString(16)})`}` : "none");

/** The flags undefined where the native run stopped: at its end, or in front of the faulting instruction. */
export function undefinedFlagsAt(c: OracleCase, native: Outcome): number {
  if (!native.exception) return c.undefinedAtEnd;
  const offset = Number(native.state.rip - BigInt(CODE_ADDRESS));
  const ins = c.instructions.find((i) => i.offset === offset);
  return ins ? ins.undefinedBefore : c.undefinedAtEnd;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
const asFloat = (bits: number) => ((u32[0] = bits >>> 0), f32[0]);

/**
 * RCP/RSQRT lanes: the SDM bounds the relative error by 1.5*2^-12 (vol. 2B, RCPPS/RSQRTPS). NaN,
 * infinite and zero results must be identical; a tiny result may be flushed to zero on one side and not
 * the other only in the range the SDM leaves to the implementation.
 */
export function approximationAcceptable(fn: "rcp" | "rsqrt", sourceBits: number, nativeBits: number, emulatorBits: number): boolean {
  if (nativeBits === emulatorBits) return true;
  let x = asFloat(sourceBits);
  if ((sourceBits & 0x7f80_0000) === 0) x = (sourceBits & 0x8000_0000) ? -0 : 0; // denormal inputs count as zero
  const native = asFloat(nativeBits), emulated = asFloat(emulatorBits);
  if (!Number.isFinite(native) || !Number.isFinite(emulated) || Number.isNaN(x)) return false;
  const exact = fn === "rcp" ? 1 / x : 1 / Math.sqrt(x);
  if (!Number.isFinite(exact) || Number.isNaN(exact)) return false;
  // RCPPS: |x| <= 1.11111111110100000000000b*2^125 never gives a tiny (flushed) result, |x| >=
  // 1.00000000000110000000001b*2^126 always does; in between it depends on the implementation.
  const ambiguousTiny = fn === "rcp" && Math.abs(x) > (2 - 2 ** -10 + 2 ** -12) * 2 ** 125 && Math.abs(x) < (1 + 2 ** -12 + 2 ** -13 + 2 ** -23) * 2 ** 126;
  if (native === 0 || emulated === 0) {
    if (!ambiguousTiny) return false;
    const other = native === 0 ? emulated : native;
    return other === 0 || Math.abs(other - exact) <= 1.5 * 2 ** -12 * Math.abs(exact);
  }
  if (Math.sign(emulated) !== Math.sign(exact)) return false;
  return Math.abs(emulated - exact) <= 1.5 * 2 ** -12 * Math.abs(exact);
}

/**
 * Which byte of a 512-byte FXSAVE/FXRSTOR access lands in CR2 depends on the order the processor
 * accesses the area in (AMD reports the highest byte), which of CMPS's two memory operands faults
 * first when both would is the order it reads them in (AMD reads ES:rDI first), and MASKMOVDQU's
 * byte-masked store reports the first byte in the faulting page on AMD but the start of the faulting
 * 8-byte half on Intel; every other access reports the first byte of its part in the faulting page.
 */
function faultAddressIsImplementationSpecific(c: OracleCase, native: Outcome): boolean {
  return /^(fx(save|rstor)|cmps|maskmovdqu)/.test(faultingMnemonic(c, native) ?? "");
}

const ARITHMETIC_FLAGS = 0x8d5; // CF PF AF ZF SF OF
const LOW_32 = 0xffff_ffffn;

/** The decoded REP string instruction a single-instruction case runs, or null. */
function repString(c: OracleCase) {
  if (c.instructions.length !== 1) return null;
  const ins = decode(c.code, c.instructions[0].offset, 64);
  const mnemonic = c.instructions[0].row.mnemonics[0] ?? "";
  if (ins.status !== DecodeStatus.Ok || (ins.prefixes & (P_REP | P_REPNE)) === 0) return null;
  return /^(movs|cmps|stos|lods|scas)/.test(mnemonic) ? { ins, compares: /^(cmps|scas)/.test(mnemonic) } : null;
}

/**
 * The arithmetic flags at a fault in the middle of a REP CMPS/SCAS (after at least one iteration)
 * are implementation-specific: AMD (and the emulator) leave those of the last completed iteration,
 * Intel leaves those the instruction started with. The instruction restarts correctly either way
 * (REPE/REPNE test ZF after an iteration, never before the first).
 */
function repCompareFaultFlags(c: OracleCase, native: Outcome): number {
  const rep = repString(c);
  if (rep === null || !rep.compares || native.exception === null) return 0;
  const countMask = rep.ins.addrSize === 8 ? ~0n : rep.ins.addrSize === 4 ? LOW_32 : 0xffffn;
  return (native.state.gpr[1] & countMask) !== (c.state.gpr[1] & countMask) ? ARITHMETIC_FLAGS : 0;
}

/**
 * A REP string instruction with a 32-bit address size and ECX = 0 runs no iteration: AMD (and the
 * emulator) leave RCX, RSI and RDI as they were, Intel zero-extends them (writes ECX/ESI/EDI). Either
 * is accepted for their upper halves; the low halves are compared as always.
 */
function zeroCountUpperHalfAccepted(c: OracleCase, native: Outcome, emulator: Outcome, reg: number): boolean {
  if (reg !== 1 && reg !== 6 && reg !== 7) return false;
  const rep = repString(c);
  if (rep === null || rep.ins.addrSize !== 4 || (c.state.gpr[1] & LOW_32) !== 0n) return false;
  const initial = c.state.gpr[reg], n = native.state.gpr[reg], e = emulator.state.gpr[reg];
  if ((n & LOW_32) !== (e & LOW_32)) return false;
  const zeroExtended = (value: bigint) => value === (initial & LOW_32);
  return (n === initial || zeroExtended(n)) && (e === initial || zeroExtended(e));
}

/** Whether a faulting FXSAVE's area content is implementation-specific (see compareOutcomes). */
function isFaultingFxsave(c: OracleCase, native: Outcome): boolean {
  return native.exception?.vector === 14 && /^fxsave/.test(faultingMnemonic(c, native) ?? "");
}

function faultingMnemonic(c: OracleCase, native: Outcome): string | undefined {
  const offset = Number(native.state.rip - BigInt(CODE_ADDRESS));
  return c.instructions.find((i) => i.offset === offset)?.row.mnemonics[0];
}

export function compareOutcomes(c: OracleCase, native: Outcome, emulator: Outcome): Difference[] {
  const differences: Difference[] = [];
  if (native.failure) return [{ field: "native", native: native.failure, emulator: "-" }];
  if (emulator.failure) return [{ field: "emulator", native: "-", emulator: emulator.failure }];

  const nativeException = describeException(native.exception), emulatorException = describeException(emulator.exception);
  if (nativeException !== emulatorException) differences.push({ field: "exception", native: nativeException, emulator: emulatorException });
  if (native.exception?.vector === 14 && emulator.exception?.vector === 14 && native.faultAddress !== undefined && emulator.faultAddress !== undefined
    && native.faultAddress !== emulator.faultAddress && !faultAddressIsImplementationSpecific(c, native)) {
    differences.push({ field: "fault address", native: hex64(native.faultAddress), emulator: hex64(emulator.faultAddress) });
  }
  if (native.state.rip !== emulator.state.rip) differences.push({ field: "rip", native: hex64(native.state.rip), emulator: hex64(emulator.state.rip) });

  const completed = !native.exception;
  const masks: ResultMask[] = completed ? c.masks : [];
  for (let i = 0; i < 16; i++) {
    let care = 0xffff_ffff_ffff_ffffn;
    for (const m of masks) if (m.kind === "gpr" && m.reg === i) care &= ~m.bits;
    if ((native.state.gpr[i] & care) !== (emulator.state.gpr[i] & care) && !zeroCountUpperHalfAccepted(c, native, emulator, i)) {
      differences.push({ field: GPR_NAMES[i], native: hex64(native.state.gpr[i]), emulator: hex64(emulator.state.gpr[i]) });
    }
  }

  let flagMask = FLAG_RF | undefinedFlagsAt(c, native) | repCompareFaultFlags(c, native);
  for (const m of masks) if (m.kind === "flags") flagMask |= m.bits;
  const flagDiff = ((native.state.rflags ^ emulator.state.rflags) & ~flagMask) >>> 0;
  if (flagDiff) {
    differences.push({
      field: "rflags",
      native: `0x${native.state.rflags.toString(16)}`,
      emulator: `0x${emulator.state.rflags.toString(16)} (differ: ${flagList(flagDiff)}; masked: ${flagList(flagMask)})`,
    });
  }

  for (let i = 0; i < 16; i++) {
    const approx = masks.find((m): m is Extract<ResultMask, { kind: "approx" }> => m.kind === "approx" && m.xmm === i);
    let equal: boolean;
    if (approx) {
      equal = true;
      for (let lane = 0; lane < 4; lane++) {
        const pick = (state: Outcome["state"]) => Number((state.xmm[2 * i + (lane >> 1)] >> BigInt((lane & 1) * 32)) & 0xffff_ffffn);
        const n = pick(native.state), e = pick(emulator.state);
        if (approx.lanes & (1 << lane) ? !approximationAcceptable(approx.fn, approx.source[lane], n, e) : n !== e) equal = false;
      }
    } else {
      equal = native.state.xmm[2 * i] === emulator.state.xmm[2 * i] && native.state.xmm[2 * i + 1] === emulator.state.xmm[2 * i + 1];
    }
    if (!equal) {
      const show = (state: Outcome["state"]) => `${state.xmm[2 * i + 1].toString(16).padStart(16, "0")}_${state.xmm[2 * i].toString(16).padStart(16, "0")}`;
      differences.push({ field: `xmm${i}`, native: show(native.state), emulator: show(emulator.state) + (approx ? " (beyond the approximation bound)" : "") });
    }
  }
  if (native.state.mxcsr !== emulator.state.mxcsr) {
    differences.push({ field: "mxcsr", native: `0x${native.state.mxcsr.toString(16)}`, emulator: `0x${emulator.state.mxcsr.toString(16)}` });
  }

  if (Buffer.from(native.memory.buffer, native.memory.byteOffset, SCRATCH_SIZE).equals(emulator.memory)) return differences;
  // A 512-byte FXSAVE that page-faults may or may not have stored its first part (this AMD host
  // does, the emulator checks both pages first and stores nothing): the area's content is
  // implementation-specific then; the fault itself is still compared.
  if (isFaultingFxsave(c, native)) return differences;
  const ignored = new Uint8Array(SCRATCH_SIZE);
  for (const m of masks) if (m.kind === "memory") ignored.fill(1, Math.max(0, m.offset), Math.min(SCRATCH_SIZE, m.offset + m.length));
  const nativeRuns: string[] = [], emulatorRuns: string[] = [];
  let differing = 0;
  for (let i = 0; i < SCRATCH_SIZE; i++) {
    if (native.memory[i] === emulator.memory[i] || ignored[i]) continue;
    differing++;
    if (nativeRuns.length < 3) {
      let end = i + 1;
      while (end < SCRATCH_SIZE && end < i + 16 && native.memory[end] !== emulator.memory[end] && !ignored[end]) end++;
      nativeRuns.push(`+0x${i.toString(16)}: ${hex(native.memory.subarray(i, end))}`);
      emulatorRuns.push(`+0x${i.toString(16)}: ${hex(emulator.memory.subarray(i, end))}`);
      differing += end - i - 1;
      i = end - 1;
    }
  }
  if (differing) {
    const more = nativeRuns.length === 3 ? "; ..." : "";
    differences.push({ field: "memory", native: `${differing} bytes differ: ${nativeRuns.join("; ")}${more}`, emulator: emulatorRuns.join("; ") + more });
  }
  return differences;
}

// ---------------------------------------------------------------------------------------------------
// The worklist

export interface Failure {
  c: OracleCase;
  native: Outcome;
  emulator: Outcome;
  differences: Difference[];
}

const STATE_WIDTH = 4;

/** The XMM registers the case's instructions name. */
function referencedXmm(c: OracleCase): number[] {
  const found = new Set<number>();
  for (const ins of c.instructions) {
    const decoded = decode(c.code, ins.offset, 64);
    if (decoded.status !== DecodeStatus.Ok) continue;
    for (const operand of operandsOf(decoded, BigInt(CODE_ADDRESS + ins.offset))) {
      if (operand.kind === "reg" && operand.reg.startsWith("xmm")) found.add(Number(operand.reg.slice(3)));
    }
  }
  return [...found];
}

function formatGprs(gpr: BigUint64Array, only?: Set<number>): string[] {
  const items: string[] = [];
  for (let i = 0; i < 16; i++) if (!only || only.has(i)) items.push(`${GPR_NAMES[i].padStart(3)}=${hex64(gpr[i])}`);
  const lines: string[] = [];
  for (let i = 0; i < items.length; i += STATE_WIDTH) lines.push(items.slice(i, i + STATE_WIDTH).join(" "));
  return lines;
}

const xmmText = (xmm: BigUint64Array, i: number) => `xmm${i}=${xmm[2 * i + 1].toString(16).padStart(16, "0")}_${xmm[2 * i].toString(16).padStart(16, "0")}`;

/** One failure, fully: bytes, disassembly, initial state, both final states, the differences. */
export function describeFailure(f: Failure, reproArgs: string): string {
  const { c, native, emulator } = f;
  const lines: string[] = [];
  lines.push(`  case ${c.index} (reproduce: npx tsx test/oracle/repro.ts ${c.index} ${reproArgs})`);
  for (const line of disassemble(c)) lines.push(`    ${line}`);
  lines.push(`    differs: ${f.differences.map((d) => `${d.field} (native ${d.native}, emulator ${d.emulator})`).join("; ")}`);
  lines.push(`    initial: rflags=0x${c.state.rflags.toString(16)} [${flagList(c.state.rflags)}] mxcsr=0x${c.state.mxcsr.toString(16)} scratch seed=0x${c.scratchSeed.toString(16)} patches=${c.patches.length}`);
  for (const line of formatGprs(c.state.gpr)) lines.push(`      ${line}`);
  const differingXmm = [...Array(16).keys()].filter((i) => f.differences.some((d) => d.field === `xmm${i}`));
  const xmmShown = [...new Set([...referencedXmm(c), ...differingXmm])].sort((a, b) => a - b);
  for (const i of xmmShown) lines.push(`      ${xmmText(c.state.xmm, i)}`);
  for (const [label, outcome] of [["native", native], ["emulator", emulator]] as const) {
    if (outcome.failure) {
      lines.push(`    ${label}: ${outcome.failure}`);
      continue;
    }
    const changed = new Set<number>();
    for (let i = 0; i < 16; i++) if (outcome.state.gpr[i] !== c.state.gpr[i] || native.state.gpr[i] !== emulator.state.gpr[i]) changed.add(i);
    lines.push(`    ${label}: rip=${hex64(outcome.state.rip)} exception=${describeException(outcome.exception)}${outcome.faultAddress !== undefined ? ` cr2=${hex64(outcome.faultAddress)}` : ""} rflags=0x${outcome.state.rflags.toString(16)} mxcsr=0x${outcome.state.mxcsr.toString(16)}${changed.size ? " changed:" : ""}`);
    for (const line of formatGprs(outcome.state.gpr, changed)) lines.push(`      ${line}`);
    for (const i of differingXmm) lines.push(`      ${xmmText(outcome.state.xmm, i)}`);
  }
  if (c.masks.length) lines.push(`    masked: ${[...new Set(c.masks.map((m) => m.why))].join("; ")}`);
  return lines.join("\n");
}

/** A failure's kind across forms: which fields differ, exceptions spelled out ("exception #14(0x6)→#14(0x4), gpr"). */
export function symptomOf(differences: readonly Difference[]): string {
  const parts = new Set<string>();
  for (const d of differences) {
    if (d.field === "exception") parts.add(`exception ${d.native}→${d.emulator}`);
    else if (d.field === "native" || d.field === "emulator") parts.add(`${d.field} failed: ${(d.field === "native" ? d.native : d.emulator).replace(/:.*/, "")}`);
    else if ((GPR_NAMES as readonly string[]).includes(d.field)) parts.add("gpr");
    else if (d.field.startsWith("xmm")) parts.add("xmm");
    else parts.add(d.field);
  }
  return [...parts].join(", ");
}

/** Groups failures by form: the count per form and its first example, most frequent first. */
export function worklist(failures: readonly Failure[], countsByForm: ReadonlyMap<string, number>, total: number, reproArgs: string, maxGroups = 40, symptoms?: ReadonlyMap<string, { cases: number; forms: Set<string> }>): string {
  const examples = new Map<string, Failure[]>();
  for (const f of failures) {
    const list = examples.get(f.c.group) ?? [];
    list.push(f);
    examples.set(f.c.group, list);
  }
  const sorted = [...countsByForm].sort((a, b) => b[1] - a[1]);
  const failing = sorted.reduce((sum, [, n]) => sum + n, 0);
  const lines = [`hardware oracle: ${failing} of ${total} cases differ, in ${sorted.length} forms (${reproArgs})`];
  if (symptoms && symptoms.size) {
    lines.push(``, `by symptom (cases, forms):`);
    for (const [symptom, { cases, forms }] of [...symptoms].sort((a, b) => b[1].cases - a[1].cases).slice(0, 25)) {
      lines.push(`  ${String(cases).padStart(7)} ${String(forms.size).padStart(5)}  ${symptom}`);
    }
  }
  for (const [group, count] of sorted.slice(0, maxGroups)) {
    const kept = examples.get(group) ?? [];
    const fields = new Map<string, number>();
    for (const f of kept) for (const d of f.differences) fields.set(d.field, (fields.get(d.field) ?? 0) + 1);
    lines.push(``, `[${group}] ${count} case${count === 1 ? "" : "s"}; fields (first ${kept.length}): ${[...fields].map(([k, n]) => `${k}×${n}`).join(", ")}`);
    if (kept[0]) lines.push(describeFailure(kept[0], reproArgs));
  }
  if (sorted.length > maxGroups) lines.push(``, `... and ${sorted.length - maxGroups} more forms: ${sorted.slice(maxGroups).map(([g, n]) => `${g} (${n})`).join(", ")}`);
  return lines.join("\n");
}
