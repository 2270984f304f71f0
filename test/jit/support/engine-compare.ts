// The shape of the JIT's template tests: one guest that stores its results in a table, run under
// every engine; each engine must leave the interpreter's bytes, and the template under test must be
// in the code the JIT compiled (unless the engine sends every instruction through the shared
// semantics).
import { expect, it } from "vitest";
import type { PcMachine } from "../../../src/machine/pc.js";
import { type AssembledGuest, ENGINES, type EngineConfig, guestMachine } from "./asm-guest.js";

export interface TableRun {
  out: Uint8Array;
  stop: string;
  /** the source of every unit compiled during the run */
  sources: string;
}

export function runTable(guest: AssembledGuest, engine: number, out: number, bytes: number, setup?: (machine: PcMachine) => void): TableRun {
  const { machine, units } = guestMachine(guest, ENGINES[engine]);
  setup?.(machine);
  const stop = machine.runSync({ maxInstructions: 5_000_000 });
  return {
    out: machine.memory.ram.slice(out, out + bytes),
    stop: stop.kind === "exit" ? `exit ${stop.status}` : stop.kind,
    sources: units.map((unit) => unit.source).join("\n"),
  };
}

/**
 * Defines the tests (inside a describe): the interpreter runs `guest` to its exit, and every other
 * engine leaves the same `bytes` at `out`, with each of `templates` found in its compiled code.
 * `record` names the case a byte offset belongs to, for the failure message; `setup` prepares each
 * machine before it runs (data, IDT gates).
 */
export function itMatchesTheInterpreter(guest: AssembledGuest, out: number, bytes: number, what: string, templates: RegExp[] | ((engine: EngineConfig) => RegExp[]), record: (offset: number) => string, setup?: (machine: PcMachine) => void): void {
  const reference = runTable(guest, 0, out, bytes, setup);
  it("the interpreter runs the guest to its end", () => {
    expect(reference.stop).toBe("exit 1");
  });
  for (let e = 1; e < ENGINES.length; e++) {
    it(`${ENGINES[e].name}: ${what} as under the interpreter`, () => {
      const result = runTable(guest, e, out, bytes, setup);
      expect(result.stop).toBe("exit 1");
      const expected = typeof templates === "function" ? templates(ENGINES[e]) : templates;
      // the templates are JavaScript source; WebAssembly units are held to the interpreter's bytes alone
      if (!ENGINES[e].jit?.helperOnly && ENGINES[e].jit?.backend !== "wasm") for (const template of expected) expect(result.sources, "the template is in the compiled code").toMatch(template);
      const firstDifference = result.out.findIndex((byte, k) => byte !== reference.out[k]);
      expect(firstDifference, firstDifference < 0 ? "" : record(firstDifference)).toBe(-1);
    });
  }
}

/**
 * Guest code around `op`: RFLAGS set from RCX's low bits first (a known state, which a shift by a
 * count of 0 must keep), then rAX and RFLAGS stored at RDI (16 bytes) and RDI advanced.
 */
export function flagsProbe(op: string): string {
  return `
  mov rdx, rcx
  and edx, 0xd5
  push rdx
  popfq
  ${op}
  pushfq
  pop rdx
  mov [rdi], rax
  mov [rdi + 8], rdx
  add rdi, 16`;
}

/**
 * Guest code that runs `body` once for every ordered pair of `values` — the first at [r8 + r9*8],
 * the second at [r8 + r10*8] — then exits through isa-debug-exit. A loop, so that the JIT compiles
 * the body after its first passes.
 */
export function forEveryPair(values: string[], body: string): string {
  return `
  lea r8, [rip + values]
  xor r9d, r9d
outer:
  xor r10d, r10d
inner:
${body}
  inc r10
  cmp r10, ${values.length}
  jne inner
  inc r9
  cmp r9, ${values.length}
  jne outer
  mov al, 0
  out 0xf4, al
  hlt
values:
${values.map((v) => `  .quad ${v}`).join("\n")}`;
}
