// Human-readable CPU state for fatal errors (triple fault, unsupported instruction at the top
// level): one line naming the cause, RIP and the instruction there, then a register dump.
import { decode, formatIntel } from "../decoder/index.js";
import { CS, DS, ES, FS, GS, SS, TWO_32, type Cpu } from "./cpu.js";

const GPR_NAMES = ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"];

/** A signed canonical address (or any integral number) as its unsigned 64-bit value. */
export function toUnsigned64(value: number): bigint {
  const hi = Math.floor(value / TWO_32);
  return BigInt.asUintN(64, (BigInt(hi) << 32n) | BigInt(value - hi * TWO_32));
}

function hex64(value: number): string {
  return toUnsigned64(value).toString(16).padStart(16, "0");
}

function pairHex(lo: number, hi: number): string {
  return (hi >>> 0).toString(16).padStart(8, "0") + (lo >>> 0).toString(16).padStart(8, "0");
}

/** The instruction at RIP, disassembled, or a note why it cannot be read. */
export function instructionAtRip(cpu: Cpu): string {
  const bytes = new Uint8Array(15);
  let count = 0;
  try {
    for (; count < 15; count++) bytes[count] = cpu.mmu.fetch8(cpu.next(cpu.rip, count));
  } catch {
    // stop at the first unreadable byte
  }
  if (count === 0) return "(instruction bytes not readable)";
  const ins = decode(bytes.subarray(0, count), 0, cpu.mode);
  const hex = Array.from(bytes.subarray(0, Math.max(1, Math.min(ins.length, count))), (b) => b.toString(16).padStart(2, "0")).join(" ");
  return `${formatIntel(ins, toUnsigned64(cpu.rip))} [${hex}]`;
}

/** "CAUSE at RIP 0x...: INSTRUCTION" — the one line a fatal guest error prints. */
export function describeFatal(cpu: Cpu, cause: string): string {
  return `${cause} at rip 0x${hex64(cpu.rip)} (${cpu.mode}-bit mode): ${instructionAtRip(cpu)}`;
}

/** A multi-line register dump: GPRs, RIP, RFLAGS, segments, control registers. */
export function registerDump(cpu: Cpu): string {
  const lines: string[] = [];
  for (let row = 0; row < 16; row += 4) {
    lines.push(GPR_NAMES.slice(row, row + 4).map((name, i) => `${name.padStart(3)}=${pairHex(cpu.regs[(row + i) * 2], cpu.regs[(row + i) * 2 + 1])}`).join(" "));
  }
  lines.push(`rip=${hex64(cpu.rip)} rflags=${cpu.getFlags().toString(16).padStart(8, "0")} cpl=${cpu.cpl} retired=${cpu.retired}`);
  const segments = [["es", ES], ["cs", CS], ["ss", SS], ["ds", DS], ["fs", FS], ["gs", GS]] as const;
  lines.push(segments.map(([name, s]) => `${name}=${cpu.segSelector[s].toString(16).padStart(4, "0")}`).join(" ") + ` fs.base=${hex64(cpu.segBase[FS])} gs.base=${hex64(cpu.segBase[GS])}`);
  lines.push(`cr0=${(cpu.cr0 >>> 0).toString(16).padStart(8, "0")} cr2=${hex64(cpu.cr2)} cr3=${hex64(cpu.cr3)} cr4=${(cpu.cr4 >>> 0).toString(16).padStart(8, "0")} efer=${cpu.efer.toString(16)}`);
  lines.push(`gdt=${hex64(cpu.gdtrBase)}/${cpu.gdtrLimit.toString(16)} idt=${hex64(cpu.idtrBase)}/${cpu.idtrLimit.toString(16)} tr=${cpu.trSelector.toString(16)}`);
  return lines.join("\n");
}
