import type { Instruction } from "../../../decoder/decode.js";
import type { Cpu } from "../../cpu.js";

/**
 * An instruction's semantics: runs `ins` on `cpu`. On entry cpu.rip is still the instruction's own
 * address, cpu.nextRip the following instruction's (branches change it) and cpu.ea the linear
 * address of its memory operand, if it has one. A fault is a thrown CpuException; the interpreter
 * then discards cpu.nextRip, so the instruction has not retired.
 */
export type Semantic = (cpu: Cpu, ins: Instruction) => void;

/** Semantics by mnemonic (the decoder table's names). */
export type SemanticTable = Record<string, Semantic>;
