// The emulator side of the oracle: runUserMode from src/machine/user-mode.ts (the interpreter), or
// the same run through the JIT engine (jit-runner.ts) in one of its configurations.
//
// ORACLE_EMULATOR=native swaps the emulator for a second run of the native harness: a self-check of
// the harness's determinism and of the comparison (it must report zero differences).

import { runUserMode, type UserModeOptions, type UserModeResult } from "../../src/machine/user-mode.js";
import { runJitUserMode, type JitRunConfig, type JitRunMode } from "./jit-runner.js";
import { CODE_ADDRESS, SCRATCH_ADDRESS, cloneState, initialScratch, type MachineState } from "./layout.js";
import type { OracleCase } from "./generate.js";
import { runNative, type NativeResult } from "./native.js";

/** The emulator's result in the shape the comparison takes. */
export interface Outcome {
  state: MachineState;
  exception: { vector: number; errorCode: number | null } | null;
  /** the page-fault address, when the side reports one */
  faultAddress?: bigint;
  /** the scratch region after the run */
  memory: Uint8Array;
  /** set when the side could not run the case at all (emulator threw, harness crashed or timed out) */
  failure?: string;
}

/** Instructions the emulator may retire per case (self-loops run up to 300 iterations). */
export const MAX_INSTRUCTIONS = 100_000;

export interface EmulatorUnderTest {
  name: string;
  run(cases: readonly OracleCase[]): Outcome[];
}

/** Which engine runs the emulator's side: the interpreter (runUserMode) or a JIT configuration. */
export type EngineName = "interp" | `jit-${JitRunMode}` | "jit-helpers";
export const ENGINES: readonly EngineName[] = ["interp", "jit-blocks", "jit-single", "jit-slices", "jit-helpers"];

/**
 * jit-blocks, jit-single: the two configurations of the default suite (jit-runner.ts); jit-slices:
 * blocks and regions run in batches of 1-8 instructions (budget exits); jit-helpers: blocks and
 * regions with every instruction through the shared semantics (JitOptions.helperOnly).
 */
export function jitConfigOf(engine: EngineName, instance?: string): JitRunConfig | null {
  if (engine === "interp") return null;
  if (engine === "jit-helpers") return { mode: "blocks", helperOnly: true, instance };
  return { mode: engine.slice(4) as JitRunMode, instance };
}

/**
 * The emulator under test (or the native harness again, for the self-check). `instance`: JIT
 * configurations with different instance names run on separate machines (separate statistics).
 */
export async function loadEmulator(engine: EngineName = "interp", instance?: string): Promise<EmulatorUnderTest | string> {
  if (process.env.ORACLE_EMULATOR === "native") return { name: "native harness (self-check)", run: (cases) => runNative(cases).map((r, i) => nativeOutcome(cases[i], r)) };
  const config = jitConfigOf(engine, instance);
  if (config === null) return { name: "runUserMode", run: (cases) => cases.map((c) => emulatorOutcome(c)) };
  const name = config.mode === "single"
    ? "the JIT (threshold 1, one instruction per compiled unit)"
    : `the JIT (threshold 1, blocks and loop regions${config.mode === "slices" ? ", batches of 1-8 instructions" : ""}${config.helperOnly ? ", every instruction through the shared semantics" : ""})`;
  return { name, run: (cases) => cases.map((c) => emulatorOutcome(c, config)) };
}

export function emulatorOutcome(c: OracleCase, jit: JitRunConfig | null = null): Outcome {
  const memory = initialScratch(c.scratchSeed, c.patches);
  try {
    const run: (options: UserModeOptions) => UserModeResult = jit === null ? runUserMode : (options) => runJitUserMode(options, jit);
    const result = run({
      code: c.code.slice(),
      codeAddress: CODE_ADDRESS,
      regions: [{ address: SCRATCH_ADDRESS, bytes: memory }],
      state: cloneState(c.state),
      maxInstructions: MAX_INSTRUCTIONS,
    });
    const address = result.exception?.address;
    let rip = result.state.rip;
    if (jit !== null && result.exception !== null && (result.exception.vector === 3 || result.exception.vector === 1)) {
      // delivered traps push the next instruction's address; runUserMode reports the trapping one
      const trapping = c.instructions.find((ins) => BigInt(CODE_ADDRESS + ins.offset + ins.length) === rip);
      if (trapping) rip = BigInt(CODE_ADDRESS + trapping.offset);
    }
    return {
      state: { gpr: result.state.gpr, rip, rflags: result.state.rflags >>> 0, xmm: result.state.xmm, mxcsr: result.state.mxcsr >>> 0 },
      exception: result.exception ? { vector: result.exception.vector, errorCode: result.exception.errorCode } : null,
      faultAddress: address === undefined ? undefined : BigInt.asUintN(64, BigInt(address)),
      memory,
    };
  } catch (error) {
    const message = error instanceof Error ? error.message.split("\n")[0] : String(error);
    return { state: cloneState(c.state), exception: null, memory, failure: `emulator threw: ${message}` };
  }
}

/** The native result in the emulator's conventions: traps (#BP, #DB) report the trapping instruction's address. */
export function nativeOutcome(c: OracleCase, r: NativeResult): Outcome {
  const memory = initialScratch(c.scratchSeed, c.patches);
  for (const change of r.changes) memory.set(change.bytes, change.offset);
  const state = cloneState(r.state);
  if (r.exception && (r.exception.vector === 3 || r.exception.vector === 1)) {
    const trapping = c.instructions.find((ins) => BigInt(CODE_ADDRESS + ins.offset + ins.length) === state.rip);
    if (trapping) state.rip = BigInt(CODE_ADDRESS + trapping.offset);
  }
  let failure: string | undefined;
  if (r.outcome === "timeout") failure = "native run timed out (generator bug: the case does not terminate)";
  if (r.outcome === "crash") failure = `native harness crashed: ${new TextDecoder().decode(r.changes[0]?.bytes ?? new Uint8Array())}`;
  return {
    state,
    exception: r.exception,
    faultAddress: r.exception?.vector === 14 ? r.faultAddress : undefined,
    memory: failure ? initialScratch(c.scratchSeed, c.patches) : memory,
    failure,
  };
}
