// Small guests for perf/jit.bench.ts, run on a real PcMachine (--clock virtual, 16 MiB) under either
// engine, so a sample goes through the same run loop as a booted kernel (batches of 4096
// instructions, device deadlines, the JIT's dispatcher).
//
// Every guest starts in the state a multiboot loader leaves (32-bit protected mode, flat segments,
// paging off) at ORIGIN, switches to long mode (ENTER_LONG_MODE: the first 8 MiB identity-mapped
// with 2 MiB pages, page tables at 0x200000) and then loops forever: a sample is
// `runSync({ maxInstructions: retired + N })`, so every sample retires exactly N instructions and the
// code cache survives from one sample to the next.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { JitOptions } from "../../src/jit/engine.js";
import { enterFlatProtectedMode } from "../../src/machine/multiboot.js";
import { PT_LOAD, parseElf } from "../../src/machine/elf.js";
import { PcMachine } from "../../src/machine/pc.js";
import { assemble } from "../../test/machine/support/assemble.js";
import { ENABLE_SSE, ENTER_LONG_MODE } from "../../test/machine/support/long-mode.js";

export const repoRoot = fileURLToPath(new URL("../..", import.meta.url));

export const ORIGIN = 0x100000;
/** where the C kernels are linked (above the stub, below the page tables at 0x200000) */
const C_ORIGIN = 0x110000;
const PAGE_TABLES = 0x200000;
const STACK_TOP = 0x380000;

export interface GuestImage {
  name: string;
  /** bytes to place in guest RAM (physical = linear) */
  segments: { address: number; bytes: Uint8Array }[];
  /** after the machine has run a while: null when the guest computed what it should, else the problem */
  check?: (machine: PcMachine) => string | null;
}

export interface Engine {
  name: string;
  accel: "interp" | "jit";
  jit?: JitOptions;
}

/** A machine holding `image`, at its first instruction (the 32-bit entry of the long-mode stub). */
export function guestMachine(image: GuestImage, engine: Engine): PcMachine {
  const machine = new PcMachine({
    memoryMiB: 16,
    clock: "virtual",
    rtcBase: new Date("2024-01-01T00:00:00Z"),
    accel: engine.accel,
    jit: engine.accel === "jit" ? engine.jit : undefined,
  });
  const cpu = machine.cpu;
  enterFlatProtectedMode(cpu);
  for (const { address, bytes } of image.segments) machine.memory.loadBytes(address, bytes);
  cpu.rip = ORIGIN;
  return machine;
}

/** Runs exactly `count` more instructions; anything but reaching the count is an error. */
export function runInstructions(machine: PcMachine, count: number): void {
  const stop = machine.runSync({ maxInstructions: machine.cpu.retired + count });
  if (stop.kind !== "instruction-limit") {
    const detail = "message" in stop ? `: ${stop.message}` : "";
    throw new Error(`guest stopped early (${stop.kind}${detail}) at rip 0x${machine.cpu.rip.toString(16)}`);
  }
}

/** A guest whose 64-bit code is `code` (it starts at label `long_mode`, with RSP set); `code` must never end. */
export function asmGuest(name: string, code: string): GuestImage {
  const bytes = assemble(`${ENTER_LONG_MODE}\n.code64\nlong_mode:\n  mov rsp, ${STACK_TOP}\n${code}\n`, ORIGIN, 32);
  return { name, segments: [{ address: ORIGIN, bytes }] };
}

// ---- the guest kernels: 64-bit loops (perf/interpreter.bench.ts runs each once to a HLT; the JIT
// bench repeats each forever) -----------------------------------------------------------------------

export const LOOP_BODIES: Record<string, string> = {
  "register arithmetic": `
    mov ecx, 200000
    mov rax, 1
    mov rbx, 0x9e3779b97f4a7c15
  1:
    add rax, rbx
    xor rdx, rax
    rol rdx, 3
    imul rbx, rbx, 0x2d
    dec ecx
    jnz 1b`,
  "memcpy (qword loop)": `
    mov r8d, 8
  2:
    mov rsi, 0x400000
    mov rdi, 0x500000
    mov ecx, 8192
  1:
    mov rax, [rsi]
    mov [rdi], rax
    add rsi, 8
    add rdi, 8
    dec ecx
    jnz 1b
    dec r8d
    jnz 2b`,
  "memcpy (byte loop)": `
    mov r8d, 2
  2:
    mov rsi, 0x400000
    mov rdi, 0x500000
    mov ecx, 32768
  1:
    mov al, [rsi]
    mov [rdi], al
    inc rsi
    inc rdi
    dec ecx
    jnz 1b
    dec r8d
    jnz 2b`,
  "hash (FNV-1a)": `
    mov r8d, 4
  2:
    mov rsi, 0x400000
    mov ecx, 32768
    mov rax, 0xcbf29ce484222325
    mov r9, 0x100000001b3
  1:
    movzx edx, byte ptr [rsi]
    xor rax, rdx
    imul rax, r9
    inc rsi
    dec ecx
    jnz 1b
    dec r8d
    jnz 2b`,
};

/** `loop_start:` ... `jmp loop_start` around a loop body. */
const forever = (body: string) => `loop_start:\n${body}\n  jmp loop_start\n`;

export const KERNEL_SOURCES: Record<string, string> = Object.fromEntries(Object.entries(LOOP_BODIES).map(([name, body]) => [name, forever(body)]));

// ---- BLAKE2b: the store's C, compiled freestanding -------------------------------------------------

/** gcc flags of scripts/build-guest.sh that matter for the code (x86-64 + SSE2, no red zone). */
const GUEST_CFLAGS = [
  "-std=gnu11", "-O2", "-ffreestanding", "-fno-pic", "-fno-pie", "-mno-red-zone", "-nostdlib", "-fno-stack-protector",
  "-march=x86-64", "-mtune=generic", "-msse", "-msse2", "-mno-sse3", "-mno-ssse3", "-mno-sse4", "-mno-avx", "-mno-avx2",
  "-mno-mmx", "-mno-80387", "-mno-3dnow", "-fcf-protection=none", "-fno-asynchronous-unwind-tables", "-fno-unwind-tables",
  "-fno-omit-frame-pointer", "-mno-omit-leaf-frame-pointer", "-fno-common", "-fno-ident",
];

const DATA_BYTES = 4096;

/**
 * src/libos/irmin/blake2b.c and perf/support/blake2b-kernel.c, built with gcc -O2 -ffreestanding
 * (the guest's flags), linked at C_ORIGIN, entered from the long-mode stub by `call`.
 */
export function blake2bGuest(): GuestImage {
  const dir = mkdtempSync(join(tmpdir(), "x64emu-blake2b-"));
  try {
    const quiet = { stdio: ["ignore", "pipe", "pipe"] as ["ignore", "pipe", "pipe"] };
    const include = execFileSync("gcc", ["-print-file-name=include"], { encoding: "utf8" }).trim();
    const common = [...GUEST_CFLAGS, "-nostdinc", "-isystem", include, "-I", join(repoRoot, "src/libos/irmin")];
    const objects: string[] = [];
    for (const [source, extra] of [
      [join(repoRoot, "src/libos/irmin/blake2b.c"), []],
      [join(repoRoot, "perf/support/blake2b-kernel.c"), ["-fno-tree-loop-distribute-patterns"]],
    ] as const) {
      const object = join(dir, `${objects.length}.o`);
      execFileSync("gcc", [...common, ...extra, "-c", source, "-o", object], quiet);
      objects.push(object);
    }
    const elfPath = join(dir, "blake2b.elf");
    execFileSync("ld", ["-m", "elf_x86_64", "-nostdlib", "-static", "--build-id=none", "-N", "-z", "noexecstack",
      "-Ttext", `0x${C_ORIGIN.toString(16)}`, "-e", "bench_entry", "-o", elfPath, ...objects], quiet);
    const elf = parseElf(new Uint8Array(readFileSync(elfPath)));
    const symbol = (name: string): number => {
      const found = elf.findSymbol(name);
      if (found === undefined) throw new Error(`blake2b kernel: no symbol ${name}`);
      return Number(found.value);
    };
    const segments: GuestImage["segments"] = [];
    for (const segment of elf.segments) {
      if (segment.type !== PT_LOAD || segment.memsz === 0) continue;
      const address = Number(segment.paddr);
      if (address < C_ORIGIN || address + segment.memsz > PAGE_TABLES) {
        throw new Error(`blake2b kernel: segment at 0x${address.toString(16)} (+0x${segment.memsz.toString(16)}) outside 0x${C_ORIGIN.toString(16)}..0x${PAGE_TABLES.toString(16)}`);
      }
      const bytes = new Uint8Array(segment.memsz); // .bss zero-filled
      bytes.set(elf.segmentData(segment));
      segments.push({ address, bytes });
    }
    const stub = assemble(`${ENTER_LONG_MODE}\n.code64\nlong_mode:\n  mov rsp, ${STACK_TOP}\n${ENABLE_SSE}\n  mov rax, ${symbol("bench_entry")}\n  call rax\n  hlt\n`, ORIGIN, 32);
    if (ORIGIN + stub.length > C_ORIGIN) throw new Error("blake2b kernel: the stub overlaps the C code");
    segments.unshift({ address: ORIGIN, bytes: stub });

    const data = new Uint8Array(DATA_BYTES);
    for (let i = 0; i < DATA_BYTES; i++) data[i] = (i * 7 + 1) & 0xff;
    const expected = createHash("blake2b512").update(data).digest("hex");
    const digestAt = symbol("first_digest"), hashesAt = symbol("hashes");
    return {
      name: "BLAKE2b (C, 4 KiB)",
      segments,
      check(machine) {
        const got = Buffer.from(machine.memory.ram.subarray(digestAt, digestAt + 64)).toString("hex");
        if (got !== expected) return `first digest ${got}, node:crypto blake2b512 says ${expected}`;
        if (machine.memory.view.getBigUint64(hashesAt, true) === 0n) return "no hash completed";
        return null;
      },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
