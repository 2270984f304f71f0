// The translator: guest blocks (one, or the blocks of a loop) → the source of one JS function.
//
//   function unit(budget) {            // budget: instructions this call may retire
//     let r0 = R[0], h0 = R[1], …      // the guest registers the unit touches, in locals
//     try { for (;;) switch (b) {       // one case per block; a region's blocks jump by `continue`
//       case 0: …; if (n + 9 <= budget) { n += 4; b = 1; continue; } <write back>; return 0;
//     } } catch (e) { <flags record of the faulting point>; <write back>; cpu.rip = RIP[i]; … }
//   }
//
// Flags liveness is decided first, backwards over each block, from a dry run of every emitter (what
// it reads, whether it rewrites all six flags, whether it may fault); the real emission follows.
import type { Instruction } from "../decoder/decode.js";
import type { GuestBlock, GuestInstruction } from "./discover.js";
import { EMITTERS } from "./emitters.js";
import { INSTRUCTION_KIND, KIND_BRANCH, KIND_PORT_IO } from "./instruction-kinds.js";
import { UnitWriter, hex, type ExitInfo } from "./unit-writer.js";

export interface TranslatedUnit {
  /** the body for new Function("E", body) */
  readonly body: string;
  readonly exits: ExitInfo[];
  /** by global instruction index: the instruction, its linear address, instructions before it in its block */
  readonly instructions: Instruction[];
  readonly rips: Float64Array;
  readonly before: Int32Array;
  /** generated-source line (0-based, in the body) where each instruction's code starts */
  readonly lines: Int32Array;
  /** instructions translated by templates / run through the shared semantics */
  readonly templated: number;
  readonly helpers: number;
}

/**
 * Liveness of the flags after each instruction of `block` (0 dead, 1 faults only, 2 needed), and
 * at its entry (`liveIn`: 0 when the block rewrites all of them before anything reads them or can
 * fault or exit). The block's end counts as needed: any transfer may leave the unit.
 */
function flagLiveness(block: GuestBlock, mode: 64 | 32, helperOnly: boolean): { out: Int8Array; liveIn: number } {
  const out = new Int8Array(block.instructions.length);
  const probe = new UnitWriter(mode, false, new Map(), []);
  let live = 2; // at the block's end the next block may read them
  for (let k = block.instructions.length - 1; k >= 0; k--) {
    const gi = block.instructions[k];
    probe.begin(gi, k, k, live);
    probe.pending = null;
    probe.patches = [];
    const emitter = helperOnly ? undefined : EMITTERS[gi.ins.mnemonic] ?? EMITTERS[gi.ins.row.mnemonics[0]];
    const templated = emitter !== undefined && emitter(probe);
    // a store may modify the code that follows: the unit then exits right after this instruction
    // (J.stale), and the next block reads the flags it leaves
    const after = probe.stores ? 2 : live;
    out[k] = after;
    if (!templated) live = 2; // the shared semantics may read anything
    else if (probe.didReadFlags) live = 2;
    else if (probe.didWriteAllFlags) live = probe.didFault ? 1 : 0;
    else live = Math.max(after, probe.didFault ? 1 : 0);
  }
  return { out, liveIn: live };
}

/** Instructions whose semantics read cpu.retired (through the virtual clock). */
/** Instructions that read the retired count (port I/O reads it too: devices see the virtual clock). */
export const READS_RETIRED = new Set(["rdtsc", "rdtscp"]);

export interface TranslateOptions {
  /** run every instruction through the shared semantics (tests: the helper path alone) */
  helperOnly?: boolean;
}

export function translateUnit(blocks: GuestBlock[], mode: 64 | 32, options: TranslateOptions = {}): TranslatedUnit {
  // a region: several blocks, or one block that jumps back to its own start
  const region = blocks.length > 1 || blocks[0].successors.includes(blocks[0].rip);
  const regionBlocks = new Map<number, number>();
  if (region) blocks.forEach((block, i) => regionBlocks.set(block.rip, i));
  const counts = blocks.map((block) => block.instructions.length);
  const liveness = blocks.map((block) => flagLiveness(block, mode, options.helperOnly === true));
  const w = new UnitWriter(mode, !region, regionBlocks, counts, Int8Array.from(liveness, (l) => l.liveIn));
  const instructions: Instruction[] = [];
  const rips: number[] = [];
  const before: number[] = [];
  const lines: number[] = [];
  let templated = 0, helpers = 0;

  blocks.forEach((block, blockNumber) => {
    const flagsOut = liveness[blockNumber].out;
    if (region) w.emit(`case ${blockNumber}:{`);
    w.pending = null;
    w.patches = [];
    block.instructions.forEach((gi: GuestInstruction, k) => {
      const index = instructions.length;
      instructions.push(gi.ins);
      rips.push(gi.rip);
      before.push(k);
      lines.push(w.lines.length);
      w.begin(gi, index, k, flagsOut[k]);
      w.emit(`// ${hex(gi.rip)}`);
      const emitter = options.helperOnly ? undefined : EMITTERS[gi.ins.mnemonic] ?? EMITTERS[gi.ins.row.mnemonics[0]];
      const isBranch = INSTRUCTION_KIND[gi.ins.row.id] === KIND_BRANCH;
      if (emitter !== undefined && emitter(w)) {
        templated++;
      } else {
        helpers++;
        // through the interpreter's semantics, with the registers and flags in the CPU
        w.flushFlags();
        // a fault leaves the registers as the semantics left them (REP string instructions make progress)
        // (the time-stamp counter reads the retired count, which the unit otherwise adds at its exit)
        const clock = READS_RETIRED.has(gi.ins.mnemonic) || INSTRUCTION_KIND[gi.ins.row.id] === KIND_PORT_IO;
        const call = clock ? `cpu.retired+=n+${k};e=X(${index});cpu.retired-=n+${k};` : `e=X(${index});`;
        w.emit(`i=${index};${w.writeBackHere()}${call}if(e!==null){/*RL*/throw e;}/*RL*/`);
        w.synchronized();
        if (isBranch) {
          w.exit("cpu.rip", null, k + 1);
          return;
        }
        w.stores = true; // the semantics may have written guest code
      }
      if (w.stores && !isBranch) {
        w.emit(`if(J.stale){`);
        w.storeFlagsOnThisPath();
        w.exit(String(gi.nextRip), gi.nextRip, k + 1);
        w.emit(`}`);
      }
    });
    if (!block.endsWithBranch) w.goto(block.endRip, block.instructions.length);
    if (region) w.emit(`}`);
  });

  const writeBack = w.writeBack();
  const reload = w.reloadRegisters();
  const body = w.lines.map((line) => line.replaceAll("/*WB*/", writeBack).replaceAll("/*RL*/", reload));
  const faultCases = [...w.faultFlags].map(([index, store]) => `case ${index}:${store}break;`).join("");
  const loads = w.precise ? w.entryLoads : w.usedRegs;
  const registers = [...w.usedRegs].sort((a, b) => a - b).map((r) => (loads.has(r) ? `r${r}=R[${2 * r}],h${r}=R[${2 * r + 1}]` : `r${r},h${r}`));
  const head = [
    `"use strict";`,
    `const cpu=E.cpu,R=E.regs,XM=E.xmm,L=E.lazy,M=E.mmu,V=E.view,U8=E.ram,H=E.helpers,X=E.exec,J=E.jit,CE=E.CpuException,P=E.parity,RIP=E.rips,BEFORE=E.before;`,
    `return function unit(budget){`,
    `const RT=M.readTag,WT=M.writeTag,FB=M.fastBase;`,
    registers.length > 0 ? `let ${registers.join(",")};` : ``,
    `let i=0,n=0,b=0;${w.declarations()}`,
    `try{`,
    region ? `for(;;)switch(b){` : ``,
  ];
  const tail = [
    region ? `}` : ``,
    `}catch(e){`,
    `if(!(e instanceof CE))throw e;`,
    faultCases !== "" ? `switch(i){${faultCases}}` : ``,
    `${w.faultWriteBack()}cpu.retired+=n+BEFORE[i];cpu.rip=RIP[i];J.fault=e;return -1;`,
    `}`,
    `};`,
  ];
  const bodyLines = [...head, ...body, ...tail];
  const offset = head.length;
  return {
    body: bodyLines.join("\n"),
    exits: w.exits,
    instructions,
    rips: Float64Array.from(rips),
    before: Int32Array.from(before),
    lines: Int32Array.from(lines, (line) => line + offset),
    templated,
    helpers,
  };
}
