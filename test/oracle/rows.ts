// Which rows of the decoder's OPCODE_TABLE the hardware oracle runs, and why the others are left out.
// Every row that decodes as Ok in 64-bit mode is either eligible (generated and compared), privileged
// (#GP(0) at CPL 3: generated only with ORACLE_PRIVILEGED=1) or skipped with a reason.

import { readFileSync } from "node:fs";
import { OPCODE_TABLE, type OpcodeRow } from "../../src/decoder/index.js";
import { A_I64, A_UNSUPPORTED } from "../../src/decoder/opcode-rows.js";
import { M_C, M_D, M_S } from "../../src/decoder/operand-spec.js";

export type RowClass =
  | { kind: "eligible" }
  | { kind: "privileged"; reason: string }
  | { kind: "skipped"; reason: string }
  | { kind: "outside"; reason: string };

const PRIVILEGED = "privileged: #GP(0) at CPL 3 (generated with ORACLE_PRIVILEGED=1)";
const PRIVILEGED_MNEMONICS = new Set([
  "hlt", "cli", "sti", "in", "out", "insb", "insw", "outsb", "outsw", "lgdt", "lidt", "lldt", "ltr", "lmsw", "clts",
  "invd", "wbinvd", "invlpg", "wrmsr", "rdmsr", "swapgs", "sysret", "sysretq",
]);

const SKIPPED_MNEMONICS: Record<string, string> = {
  syscall: "enters the host kernel",
  int: "INT n enters the host kernel (int 0x80) or takes #GP through the host's IDT gate privileges",
  int1: "INT1 (ICEBP) raises #DB through the host kernel's debug-exception path",
  cpuid: "host-specific results",
  rdtsc: "nondeterministic",
  rdtscp: "nondeterministic (and IA32_TSC_AUX is host-specific)",
  sgdt: "UMIP: the host kernel emulates it with spoofed values",
  sidt: "UMIP: the host kernel emulates it with spoofed values",
  sldt: "UMIP: the host kernel emulates it with spoofed values",
  str: "UMIP: the host kernel emulates it with spoofed values",
  smsw: "UMIP: the host kernel emulates it with spoofed values",
  lar: "reads the host's GDT/LDT",
  lsl: "reads the host's GDT/LDT",
  verr: "reads the host's GDT/LDT",
  verw: "reads the host's GDT/LDT",
  lss: "loads a segment selector (the host's GDT differs from the emulator's)",
  lfs: "loads a segment selector (the host's GDT differs from the emulator's)",
  lgs: "loads a segment selector (the host's GDT differs from the emulator's)",
  retf: "far return: segment selectors and descriptor tables",
  iret: "IRET: segment selectors and descriptor tables",
};

/** Instructions beyond baseline x86-64, with the /proc/cpuinfo flag the host needs for them. */
const HOST_FEATURES: Record<string, string> = { lzcnt: "abm", tzcnt: "bmi1", movbe: "movbe", popcnt: "popcnt", cmpxchg16b: "cx16" };

let hostFlags: Set<string> | undefined;
/** The host CPU's feature flags (empty off Linux: then every feature counts as present). */
function hostHas(flag: string): boolean {
  if (!hostFlags) {
    hostFlags = new Set();
    try {
      const line = readFileSync("/proc/cpuinfo", "utf8").split("\n").find((l) => l.startsWith("flags"));
      for (const word of line?.split(":")[1]?.trim().split(/\s+/) ?? []) hostFlags.add(word);
    } catch {
      // not Linux: the native half does not run anyway
    }
  }
  return hostFlags.size === 0 || hostFlags.has(flag);
}

function mnemonicKey(row: OpcodeRow): string {
  return row.mnemonics.find((name) => name !== "") ?? "";
}

export function classifyRow(row: OpcodeRow): RowClass {
  if (row.attributes & A_UNSUPPORTED) return { kind: "outside", reason: "outside the machine's instruction set (raises #UD in the emulator)" };
  if (row.attributes & A_I64) return { kind: "outside", reason: "invalid in 64-bit mode" };
  const name = mnemonicKey(row);
  if (PRIVILEGED_MNEMONICS.has(name)) return { kind: "privileged", reason: PRIVILEGED };
  if (row.operands.some((o) => o.method === M_C || o.method === M_D)) return { kind: "privileged", reason: PRIVILEGED };
  if (SKIPPED_MNEMONICS[name]) return { kind: "skipped", reason: SKIPPED_MNEMONICS[name] };
  const feature = HOST_FEATURES[name];
  if (feature && !hostHas(feature)) return { kind: "skipped", reason: `the host CPU lacks ${feature} (it would run a different instruction or raise #UD)` };
  if (row.operands.some((o) => o.method === M_S)) return { kind: "skipped", reason: "segment register: the host's selectors differ from the emulator's" };
  if (row.operands.some((o) => o.notation === "FS" || o.notation === "GS")) return { kind: "skipped", reason: "segment register: the host's selectors differ from the emulator's" };
  if ((name === "call" || name === "jmp") && row.operands[0]?.notation === "Mp") return { kind: "skipped", reason: "far transfer: segment selectors and descriptor tables" };
  if (name === "reservednop" && row.map === 1 && row.opcode === 0x0d) {
    return { kind: "skipped", reason: "0F 0D with a register operand: decoded as a reserved NOP (as iced-x86 does), but AMD hosts raise #UD" };
  }
  return { kind: "eligible" };
}

export interface RowInventory {
  eligible: OpcodeRow[];
  privileged: OpcodeRow[];
  skipped: Array<{ row: OpcodeRow; reason: string }>;
  outside: Array<{ row: OpcodeRow; reason: string }>;
}

export function rowInventory(): RowInventory {
  const inventory: RowInventory = { eligible: [], privileged: [], skipped: [], outside: [] };
  for (const row of OPCODE_TABLE) {
    const cls = classifyRow(row);
    if (cls.kind === "eligible") inventory.eligible.push(row);
    else if (cls.kind === "privileged") inventory.privileged.push(row);
    else if (cls.kind === "skipped") inventory.skipped.push({ row, reason: cls.reason });
    else inventory.outside.push({ row, reason: cls.reason });
  }
  return inventory;
}
