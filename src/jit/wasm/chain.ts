// The caller loop: the one exported WebAssembly function JS calls to run a unit. After the unit
// returns it goes on to the unit at the RIP the exit left, without going back to JS, when the entry
// cache (filled by the dispatcher with every WebAssembly unit it runs) has one there that can run
// right now:
//   - the unit did not fault and no slow-path helper ran (those may have changed what JS must look
//     at: a device's interrupt line, the code cache, a fault to deliver);
//   - the entry was made in the MMU's current generation for that RIP (a dropped unit's entry is
//     cleared at once); if its unit reads the flags it is entered with, a unit of this call has left a flags
//     record (the caller materialises it, as LazyFlags would; the CPU's own flags are JS's to give);
//   - its entry block fits in what is left of the budget.
// Otherwise it returns the exit to JS, which dispatches as for any unit. Interrupts cannot become
// pending without JS seeing it: they come from devices at batch ends, from instructions the JIT
// leaves to the interpreter, or from a slow-path access (MMIO), which ends the chain.
import { LAZY_ADD, LAZY_DEC, LAZY_INC, LAZY_LOGIC, LAZY_SUB } from "../../machine/lazy-flags.js";
import { FunctionBody, I32, I64, OP, callIndirect, encodeCallerModule } from "./encoding.js";
import {
  BREAK_CHAIN, CHAINED, CURRENT_GENERATION, ENTRY_CACHE_BYTES, ENTRY_CACHE_ENTRIES, ENTRY_COUNT_MASK, ENTRY_FLAGS, ENTRY_GENERATION_SHIFT, ENTRY_META,
  ENTRY_NEEDS_FLAGS, ENTRY_SLOT, EXIT_RETIRED, EXIT_RIP, FLAGS_A, FLAGS_B, FLAGS_OP, FLAGS_R, FLAGS_SIZE, FLAGS_WORD, LAST_SLOT,
} from "./state-layout.js";
import { UNIT_TYPE } from "./translate-wasm.js";

/** call(slot, budget, readTags, writeTags, fastBase) → the last unit's exit (or -1 after a fault) */
export const CALLER_TYPE = { params: [I32, ...UNIT_TYPE.params], results: [I32] };

export interface ChainLayout {
  /** the exit area (state-layout.ts) */
  state: number;
  entryCache: number;
  memoryPages: number;
}

/**
 * ENTRY_FLAGS ← the six arithmetic flags of the record a unit of this call left (as LazyFlags
 * materialises it, for the operations WebAssembly units record: a flags word, ADD, SUB, LOGIC, INC
 * and DEC, whose kept CF is in FLAGS_WORD); leaves the caller loop (depth 2 from here: inside an
 * `if` in the loop) when no unit of this call has left one.
 */
function emitMaterialize(f: FunctionBody, s: number, l: { op: number; sign: number; a: number; b: number; r: number; word: number }): void {
  f.i32(0).mem(OP.i32Load, 2, s + FLAGS_OP).set(l.op);
  f.get(l.op).i32(0).op(OP.i32LtS);
  f.br(OP.brIf, 2);
  f.get(l.op).op(OP.i32Eqz);
  f.open(OP.if);
  f.i32(0).i32(0).mem(OP.i32Load, 2, s + FLAGS_WORD).mem(OP.i32Store, 2, s + ENTRY_FLAGS);
  f.op(OP.else);
  // the sign bit's position: 8·size − 1
  f.i32(0).mem(OP.i32Load, 2, s + FLAGS_SIZE).i32(8).op(OP.i32Mul).i32(1).op(OP.i32Sub).op(OP.i64ExtendI32U).set(l.sign);
  f.i32(0).mem(OP.i64Load, 3, s + FLAGS_A).set(l.a);
  f.i32(0).mem(OP.i64Load, 3, s + FLAGS_B).set(l.b);
  f.i32(0).mem(OP.i64Load, 3, s + FLAGS_R).set(l.r);
  const isOp = (value: number) => f.get(l.op).i32(value).op(OP.i32Eq);
  // CF (select(x, y, c) is c ? x : y): SUB a < b, ADD r < a, INC/DEC kept (FLAGS_WORD), LOGIC 0
  f.get(l.a).get(l.b).op(OP.i64LtU);
  f.get(l.r).get(l.a).op(OP.i64LtU);
  isOp(LAZY_SUB);
  f.op(OP.select).set(l.word);
  f.i32(0).mem(OP.i32Load, 2, s + FLAGS_WORD).i32(1).op(OP.i32And);
  f.get(l.word);
  isOp(LAZY_INC);
  isOp(LAZY_DEC);
  f.op(OP.i32Or);
  f.op(OP.select).set(l.word);
  f.i32(0);
  f.get(l.word);
  isOp(LAZY_LOGIC);
  f.op(OP.select).set(l.word);
  // PF, ZF, SF
  f.get(l.r).i64(0xffn).op(OP.i64And).op(OP.i64Popcnt).op(OP.i32WrapI64).i32(1).op(OP.i32And).i32(1).op(OP.i32Xor).i32(2).op(OP.i32Shl);
  f.get(l.r).op(OP.i64Eqz).i32(6).op(OP.i32Shl).op(OP.i32Or);
  f.get(l.r).get(l.sign).op(OP.i64ShrU).op(OP.i32WrapI64).i32(1).op(OP.i32And).i32(7).op(OP.i32Shl).op(OP.i32Or);
  f.get(l.word).op(OP.i32Or).set(l.word);
  // AF and OF, none for LOGIC
  isOp(LAZY_LOGIC);
  f.op(OP.i32Eqz);
  f.open(OP.if);
  f.get(l.a).get(l.b).op(OP.i64Xor).get(l.r).op(OP.i64Xor).op(OP.i32WrapI64).i32(0x10).op(OP.i32And);
  // OF: ADD, INC: (a^r)&(b^r); SUB, DEC: (a^b)&(a^r); its sign bit
  f.get(l.a).get(l.r).op(OP.i64Xor).get(l.b).get(l.r).op(OP.i64Xor).op(OP.i64And);
  f.get(l.a).get(l.b).op(OP.i64Xor).get(l.a).get(l.r).op(OP.i64Xor).op(OP.i64And);
  isOp(LAZY_ADD);
  isOp(LAZY_INC);
  f.op(OP.i32Or);
  f.op(OP.select);
  f.get(l.sign).op(OP.i64ShrU).op(OP.i32WrapI64).i32(1).op(OP.i32And).i32(11).op(OP.i32Shl);
  f.op(OP.i32Or).get(l.word).op(OP.i32Or).set(l.word);
  f.op(OP.end);
  f.i32(0).get(l.word).mem(OP.i32Store, 2, s + ENTRY_FLAGS);
  f.op(OP.end);
}

export function encodeCaller(layout: ChainLayout): Uint8Array {
  const f = new FunctionBody(5);
  const SLOT = 0, BUDGET = 1, READ_TAGS = 2, WRITE_TAGS = 3, FAST_BASE = 4;
  const total = f.local(I32), exit = f.local(I32), low = f.local(I32), entry = f.local(I32), next = f.local(I32), info = f.local(I32);
  const op = f.local(I32), sign = f.local(I64), a = f.local(I64), b = f.local(I64), r = f.local(I64), word = f.local(I32);
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
  // the entry cache at the exit's RIP (entryIndex in state-layout.ts): one 16-byte record
  f.i32(0).mem(OP.i32Load, 2, s + EXIT_RIP).set(low);
  f.get(low).get(low).i32(16).op(OP.i32ShrU).op(OP.i32Xor).i32(ENTRY_CACHE_ENTRIES - 1).op(OP.i32And);
  f.i32(ENTRY_CACHE_BYTES).op(OP.i32Mul).i32(layout.entryCache).op(OP.i32Add).set(entry);
  f.get(entry).mem(OP.i64Load, 3, 0).i32(0).mem(OP.i64Load, 3, s + EXIT_RIP).op(OP.i64Ne);
  leaveIf();
  f.get(entry).mem(OP.i32Load, 2, ENTRY_SLOT).set(next);
  f.get(next).op(OP.i32Eqz);
  leaveIf();
  f.get(entry).mem(OP.i32Load, 2, ENTRY_META).set(info);
  f.get(info).i32(ENTRY_GENERATION_SHIFT).op(OP.i32ShrU).i32(0).mem(OP.i32Load, 2, s + CURRENT_GENERATION).op(OP.i32Ne);
  leaveIf();
  f.get(info).i32(ENTRY_COUNT_MASK).op(OP.i32And).get(BUDGET).get(total).op(OP.i32Sub).op(OP.i32GtS);
  leaveIf();
  f.get(info).i32(ENTRY_NEEDS_FLAGS).op(OP.i32And);
  f.open(OP.if);
  emitMaterialize(f, s, { op, sign, a, b, r, word });
  f.op(OP.end);
  f.get(next).i32(1).op(OP.i32Sub).set(next);
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
