// The caller loop: the one exported WebAssembly function JS calls to run a unit. After the unit
// returns it follows the unit's exit to the next unit without going back to JS when the link cache
// says where that exit led last time and the next unit can run right now:
//   - the unit did not fault and no slow-path helper ran (those may have changed what JS must look
//     at: a device's interrupt line, the code cache, a fault to deliver);
//   - the link was made in the MMU's current generation, the next unit is still valid, starts at
//     the RIP the exit left and does not read the flags it is entered with (those are materialised
//     by JS);
//   - its entry block fits in what is left of the budget.
// Otherwise it returns the exit to JS, which dispatches as for any unit. Interrupts cannot become
// pending without JS seeing it: they come from devices at batch ends, from instructions the JIT
// leaves to the interpreter, or from a slow-path access (MMIO), which ends the chain.
import { FunctionBody, I32, OP, callIndirect, encodeCallerModule } from "./encoding.js";
import {
  BREAK_CHAIN, CHAINED, CHAIN_SLOTS, CURRENT_GENERATION, EXIT_RETIRED, EXIT_RIP, LAST_SLOT, LINK_ENTRIES, LINK_ENTRY_BYTES, LINK_KEY_EXITS,
  SLOT_ENTRY_BYTES, SLOT_NEEDS_ENTRY_FLAGS, SLOT_VALID,
} from "./state-layout.js";
import { UNIT_TYPE } from "./translate-wasm.js";

/** call(slot, budget, readTags, writeTags, fastBase) → the last unit's exit (or -1 after a fault) */
export const CALLER_TYPE = { params: [I32, ...UNIT_TYPE.params], results: [I32] };

export interface ChainLayout {
  /** the exit area (state-layout.ts) */
  state: number;
  slotTable: number;
  linkTable: number;
  memoryPages: number;
}

export function encodeCaller(layout: ChainLayout): Uint8Array {
  const f = new FunctionBody(5);
  const SLOT = 0, BUDGET = 1, READ_TAGS = 2, WRITE_TAGS = 3, FAST_BASE = 4;
  const total = f.local(I32), exit = f.local(I32), key = f.local(I32), entry = f.local(I32), next = f.local(I32), info = f.local(I32);
  const s = layout.state;
  f.i32(0).set(total);
  f.open(OP.block); // $out
  f.open(OP.loop); // $next
  // run the unit in SLOT with what is left of the budget
  f.get(BUDGET).get(total).op(OP.i32Sub).get(READ_TAGS).get(WRITE_TAGS).get(FAST_BASE).get(SLOT);
  callIndirect(f, 0);
  f.set(exit);
  f.get(total).i32(0).mem(OP.i32Load, 2, s + EXIT_RETIRED).op(OP.i32Add).set(total);
  const leaveIf = () => f.br(OP.brIf, 1); // to the end of $out, from inside $next
  f.get(exit).i32(0).op(OP.i32LtS);
  leaveIf();
  f.i32(0).mem(OP.i32Load, 2, s + BREAK_CHAIN);
  leaveIf();
  f.get(SLOT).i32(CHAIN_SLOTS).op(OP.i32GeU);
  leaveIf();
  f.get(exit).i32(LINK_KEY_EXITS).op(OP.i32GeU);
  leaveIf();
  // the link cache entry of (SLOT, exit)
  f.get(SLOT).i32(LINK_KEY_EXITS).op(OP.i32Mul).get(exit).op(OP.i32Add).set(key);
  f.get(key).i32(LINK_ENTRIES - 1).op(OP.i32And).i32(LINK_ENTRY_BYTES).op(OP.i32Mul).i32(layout.linkTable).op(OP.i32Add).set(entry);
  f.get(entry).mem(OP.i32Load, 2, 0).get(key).i32(1).op(OP.i32Add).op(OP.i32Ne);
  leaveIf();
  f.get(entry).mem(OP.i32Load, 2, 8).i32(0).mem(OP.i32Load, 2, s + CURRENT_GENERATION).op(OP.i32Ne);
  leaveIf();
  f.get(entry).mem(OP.i32Load, 2, 4).set(next);
  f.get(next).i32(SLOT_ENTRY_BYTES).op(OP.i32Mul).i32(layout.slotTable).op(OP.i32Add).set(info);
  // valid, and not reading the flags it is entered with
  f.get(info).mem(OP.i32Load, 2, 12).i32(SLOT_VALID | SLOT_NEEDS_ENTRY_FLAGS).op(OP.i32And).i32(SLOT_VALID).op(OP.i32Ne);
  leaveIf();
  f.get(info).mem(OP.i64Load, 3, 0).i32(0).mem(OP.i64Load, 3, s + EXIT_RIP).op(OP.i64Ne);
  leaveIf();
  f.get(info).mem(OP.i32Load, 2, 8).get(BUDGET).get(total).op(OP.i32Sub).op(OP.i32GtS);
  leaveIf();
  f.get(next).set(SLOT);
  f.i32(0).i32(0).mem(OP.i32Load, 2, s + CHAINED).i32(1).op(OP.i32Add).mem(OP.i32Store, 2, s + CHAINED);
  f.br(OP.br, 0); // $next
  f.op(OP.end); // $next
  f.op(OP.end); // $out
  f.i32(0).get(total).mem(OP.i32Store, 2, s + EXIT_RETIRED);
  f.i32(0).get(SLOT).mem(OP.i32Store, 2, s + LAST_SLOT);
  f.get(exit);
  return encodeCallerModule(UNIT_TYPE, CALLER_TYPE, layout.memoryPages, f);
}
