// Finding the guest code a compiled unit covers: basic blocks decoded straight from guest RAM (a
// block never leaves its 4 KiB page, so a unit depends on its pages only), and, for hot loops, the
// region of blocks in the entry's page that lead back to the entry.
import { DecodeStatus, Instruction, MAX_INSTRUCTION_LENGTH, decodeInto, type CpuMode } from "../decoder/decode.js";
import { M_J } from "../decoder/operand-spec.js";
import { TWO_32 } from "../machine/cpu.js";
import { INSTRUCTION_KIND, KIND_BRANCH, KIND_INTERPRETED, KIND_PORT_IO } from "./instruction-kinds.js";

/** Longest basic block, in instructions (keeps generated functions well under V8's limits). */
export const MAX_BLOCK_INSTRUCTIONS = 64;
/** Largest region: blocks and instructions. */
export const MAX_REGION_BLOCKS = 24;
export const MAX_REGION_INSTRUCTIONS = 600;

export interface GuestInstruction {
  readonly ins: Instruction;
  /** linear address */
  readonly rip: number;
  /** linear address of the next instruction */
  readonly nextRip: number;
}

export interface GuestBlock {
  readonly rip: number;
  readonly physical: number;
  readonly instructions: GuestInstruction[];
  /** linear address after the last instruction */
  readonly endRip: number;
  /** whether the block ends with a control transfer (else it falls through to endRip) */
  readonly endsWithBranch: boolean;
  /** static successors within reach of a region (relative jump targets and fall-throughs; not call targets) */
  readonly successors: number[];
}

/**
 * The target of a relative branch of `ins` at `nextRip`, wrapped like the interpreter does, or
 * null when it is not canonical (the branch faults: left to the interpreter).
 */
export function relativeTarget(ins: Instruction, nextRip: number): number | null {
  const target = nextRip + ins.imm;
  if (ins.opSize === 8) {
    return target >= -(2 ** 47) && target < 2 ** 47 ? target : null;
  }
  return ins.opSize === 2 ? ((target % 65536) + 65536) % 65536 : ((target % TWO_32) + TWO_32) % TWO_32;
}

/**
 * Decodes the basic block at linear `rip` = physical `physical` (plain RAM) in `mode`. Returns an
 * empty block when its first instruction is one the JIT leaves to the interpreter (or cannot be
 * decoded within the page). Port I/O ends the block before it unless `portIo` (instruction-kinds.ts).
 */
export function decodeBlock(ram: Uint8Array, rip: number, physical: number, mode: CpuMode, intoNextPage = false, portIo = true): GuestBlock {
  const pageStart = physical - (physical % 4096);
  const page = ram.subarray(pageStart, pageStart + 4096);
  const instructions: GuestInstruction[] = [];
  let offset = physical - pageStart;
  let at = rip;
  let endsWithBranch = false;
  const successors: number[] = [];
  while (instructions.length < MAX_BLOCK_INSTRUCTIONS && offset < 4096) {
    const ins = new Instruction();
    decodeInto(ins, page, offset, mode);
    // An instruction crossing into the next page is taken when the caller vouches that the next
    // linear page maps to the next physical page (`intoNextPage`): its tail is read from there, and
    // the block ends with it.
    if (ins.status === DecodeStatus.Truncated && intoNextPage && offset > 4096 - MAX_INSTRUCTION_LENGTH &&
        pageStart + 4096 + MAX_INSTRUCTION_LENGTH <= ram.length) {
      decodeInto(ins, ram, pageStart + offset, mode);
    }
    // Invalid, unsupported, or crossing into the next page: the interpreter takes it from here.
    if (ins.status !== DecodeStatus.Ok) break;
    const kind = INSTRUCTION_KIND[ins.row.id];
    if (kind === KIND_INTERPRETED || (kind === KIND_PORT_IO && !portIo)) break;
    const next = mode === 64 ? at + ins.length : (at + ins.length) % TWO_32;
    instructions.push({ ins, rip: at, nextRip: next });
    offset += ins.length;
    at = next;
    if (kind === KIND_BRANCH) {
      endsWithBranch = true;
      const mnemonic = ins.row.mnemonics[0];
      const relative = ins.row.operands[0]?.method === M_J;
      if (relative && mnemonic !== "call") {
        const target = relativeTarget(ins, next);
        if (target !== null) successors.push(target);
      }
      // conditional branches (and LOOP/JrCXZ) also fall through
      if (relative && mnemonic !== "call" && mnemonic !== "jmp") successors.push(next);
      break;
    }
  }
  if (!endsWithBranch && instructions.length > 0) successors.push(at);
  return { rip, physical, instructions, endRip: at, endsWithBranch, successors };
}

/**
 * The blocks of the loop through `entry`: the blocks reachable from it by static successors inside
 * its 4 KiB linear page from which `entry` is reachable again. Returns [entry] when there is no
 * such loop. The entry comes first.
 */
export function discoverRegion(entry: GuestBlock, decode: (rip: number, physical: number) => GuestBlock): GuestBlock[] {
  const pageBase = entry.rip - (entry.rip % 4096);
  const physicalBase = entry.physical - (entry.physical % 4096);
  const blocks = new Map<number, GuestBlock>([[entry.rip, entry]]);
  const queue = [entry];
  while (queue.length > 0) {
    const block = queue.shift()!;
    for (const target of block.successors) {
      if (blocks.has(target) || target < pageBase || target >= pageBase + 4096) continue;
      if (blocks.size >= MAX_REGION_BLOCKS * 2) continue;
      const next = decode(target, physicalBase + (target - pageBase));
      if (next.instructions.length === 0) continue;
      blocks.set(target, next);
      queue.push(next);
    }
  }
  // Keep the blocks from which the entry can be reached again (backwards closure).
  const reachesEntry = new Set<number>();
  let changed = true;
  while (changed) {
    changed = false;
    for (const block of blocks.values()) {
      if (reachesEntry.has(block.rip)) continue;
      if (block.successors.some((s) => s === entry.rip || reachesEntry.has(s))) {
        reachesEntry.add(block.rip);
        changed = true;
      }
    }
  }
  if (!reachesEntry.has(entry.rip)) return [entry];
  const region = [entry];
  let total = entry.instructions.length;
  for (const block of blocks.values()) {
    if (block === entry || !reachesEntry.has(block.rip)) continue;
    if (region.length >= MAX_REGION_BLOCKS || total + block.instructions.length > MAX_REGION_INSTRUCTIONS) break;
    region.push(block);
    total += block.instructions.length;
  }
  return region;
}
