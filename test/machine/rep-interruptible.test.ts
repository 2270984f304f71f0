// REP string instructions are interruptible between iterations (SDM vol. 1 §7.3.9.2, vol. 2B REP):
// a long one does not stall the machine. One execution stops after at most 65536 iterations
// (src/machine/interp/semantics/string.ts); the machine then ends its batch, so a pending interrupt
// is taken with RIP still on the instruction and rCX/rSI/rDI advanced, and the IRET resumes it.
// The instruction still retires once, so --clock virtual counts it as one instruction under every
// engine. The CLI case is the defect that was found: a mutated kernel whose `rep stos` got a count
// of ~925 million ignored --timeout.
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ENGINES, RESULTS, STACK_TOP, assembleLongModeGuest, generalRegisters, guestMachine, qword, setGate, symbol } from "../jit/support/asm-guest.js";
import { repoRoot } from "../cli/run-cli.js";
import { fixtureDir } from "./support/guest-kernels.js";

const IRQ1_VECTOR = 0x09; // the PIC as SeaBIOS leaves it: master base 0x08

/** A guest that fills `count` bytes (or compares, or copies) with one REP instruction, with IRQ 1 counted by a handler. */
function repGuest(repInstruction: string, setup: string) {
  return assembleLongModeGuest(`
    lidt [idtr]
    mov rsp, ${STACK_TOP}
    mov al, 0xfd          # only IRQ 1 (the keyboard line) unmasked
    out 0x21, al
    mov al, 0xff
    out 0xa1, al
    xor r12, r12          # interrupts seen
    ${setup}
    sti
  rep_instruction:
    ${repInstruction}
    cli
    mov [${RESULTS + 0x40}], rcx
    mov [${RESULTS + 0x48}], rdi
    mov [${RESULTS + 0x50}], rsi
    mov [${RESULTS + 0x58}], r12
    hlt
  irq1:
    inc r12
    mov rax, [rsp]
    mov [${RESULTS}], rax         # the interrupted RIP
    mov [${RESULTS + 8}], rcx     # the count at the interruption
    mov [${RESULTS + 0x10}], rdi
    mov al, 0x20
    out 0x20, al
    mov eax, [${RESULTS + 0x60}]  # AL is the fill byte the REP goes on with
    iretq
  idtr:
    .word 0xfff
    .quad 0x10000
  `);
}

describe("a REP string instruction with a long count", () => {
  for (const engine of ENGINES) {
    it(`${engine.name}: is interrupted between iterations, resumes after IRETQ, and retires once`, () => {
      const count = 3_000_000;
      const guest = repGuest("rep stosb", `
        mov dword ptr [${RESULTS + 0x60}], 0x5a
        mov eax, 0x5a
        mov ecx, ${count}
        mov edi, 0x400000`);
      const { machine } = guestMachine(guest, engine);
      setGate(machine, IRQ1_VECTOR, symbol(guest, "irq1"));
      // Raise IRQ 1 while the instruction is in progress: at its third stop between iterations.
      let stops = 0;
      const endBatch = machine.interpreter.onRepUnfinished;
      machine.interpreter.onRepUnfinished = () => {
        stops++;
        if (stops === 3) {
          machine.pic.setIrq(1, true);
          machine.pic.setIrq(1, false);
        }
        endBatch();
      };
      const reason = machine.runSync({ maxInstructions: 10_000 });
      expect(reason.kind).toBe("halted");
      const rep = symbol(guest, "rep_instruction");
      expect(qword(machine, RESULTS + 0x58)).toBe(1n); // one interrupt
      expect(qword(machine, RESULTS)).toBe(BigInt(rep)); // taken with RIP on the REP
      const countThen = qword(machine, RESULTS + 8);
      expect(countThen % 65536n).toBe(0n); // at a chunk boundary
      expect(countThen > 0n && countThen < BigInt(count)).toBe(true);
      expect(qword(machine, RESULTS + 0x10)).toBe(0x400000n + BigInt(count) - countThen); // RDI advanced as far
      expect(qword(machine, RESULTS + 0x40)).toBe(0n); // completed
      expect(qword(machine, RESULTS + 0x48)).toBe(BigInt(0x400000 + count));
      const filled = machine.memory.ram.subarray(0x400000, 0x400000 + count);
      expect(filled.every((byte) => byte === 0x5a)).toBe(true);
      expect(machine.memory.ram[0x400000 + count]).toBe(0);
      expect(stops).toBeGreaterThanOrEqual(Math.floor(count / 65536));
      // The REP retires once, as with a short count; the handler adds its 9 instructions.
      const short = guestMachine(repGuest("rep stosb", `
        mov dword ptr [${RESULTS + 0x60}], 0x5a
        mov eax, 0x5a
        mov ecx, 100
        mov edi, 0x400000`), engine).machine;
      expect(short.runSync({ maxInstructions: 10_000 }).kind).toBe("halted");
      expect(machine.cpu.retired).toBe(short.cpu.retired + 9);
    });
  }

  it("leaves every engine in the same state after a long REPE CMPS that stops on a difference", () => {
    const results = ENGINES.map((engine) => {
      const guest = repGuest("repe cmpsq", `
        mov rdi, 0x600000
        mov rsi, 0x400000
        mov ecx, 100000
        mov byte ptr [0x600000 + 8 * 75001 + 3], 1`);
      const { machine } = guestMachine(guest, engine);
      setGate(machine, IRQ1_VECTOR, symbol(guest, "irq1"));
      const reason = machine.runSync({ maxInstructions: 10_000 });
      return { engine: engine.name, kind: reason.kind, registers: generalRegisters(machine), flags: machine.cpu.getFlags(), retired: machine.cpu.retired };
    });
    for (const result of results) {
      expect(result.kind).toBe("halted");
      expect({ ...result, engine: "" }).toEqual({ ...results[0], engine: "" });
    }
    // stopped after the differing qword: 75002 compared, the rest left in RCX
    expect(results[0].registers[1]).toBe(100000n - 75002n);
  });
});

describe("--timeout with a REP STOS of ~925 million dwords (a mutated kernel's BSS clear)", () => {
  const dir = mkdtempSync(join(tmpdir(), "x64emu-rep-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const image = join(dir, "rep.elf");
  writeFileSync(join(dir, "rep.S"), `
    .intel_syntax noprefix
    .code32
    .set MB_MAGIC, 0x1BADB002
    .set MB_FLAGS, 0x00000003
    .section .multiboot, "a"
    .align 4
    .long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)
    .section .text
    .global _start
    _start:
      mov edi, 0x200000
      xor eax, eax
      mov ecx, 925000000
      cld
      rep stosd
      mov dx, 0xf4
      out dx, al
  `);
  execFileSync("as", ["--32", "-o", join(dir, "rep.o"), join(dir, "rep.S")]);
  execFileSync("ld", ["-m", "elf_i386", "-z", "noexecstack", "--no-warn-rwx-segments", "-T", join(fixtureDir, "probe.ld"), "-o", image, join(dir, "rep.o")]);

  for (const accel of ["interp", "jit"]) {
    it(`${accel}: stops at the timeout with status 124`, async () => {
      const started = Date.now();
      const child = spawn(process.execPath, ["--import", "tsx", "src/cli.ts", image, "--accel", accel, "--timeout", "1"], { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] });
      let stderr = "";
      child.stderr.on("data", (chunk) => (stderr += chunk));
      const killer = setTimeout(() => child.kill("SIGKILL"), 30_000);
      const status = await new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
      clearTimeout(killer);
      expect(status).toBe(124);
      expect(stderr).toMatch(/^error: timeout: the guest was still running after 1 s/);
      expect(Date.now() - started).toBeLessThan(15_000); // Node + tsx start, 1 s of guest, exit
    });
  }
});
