// Self-modifying code under the JIT. x86 has no instruction-cache maintenance: a store to code is
// seen by the next instruction fetched after it (Intel SDM vol. 3 §11.6 "Self-modifying code": a
// write to a code byte that is already prefetched or cached invalidates it; vol. 3 §8.1.3 for the
// cross-modifying rules that do not apply to a single CPU). So every store into a compiled unit's
// code must be visible: to the next call of a function whose immediate or opcode was patched, and
// to an instruction later in the very block that is executing the store.
//
// Each guest runs hot code (the JIT compiles after 2 executions), patches it, runs it again and
// stores what it computed; the test compares with the model of the new code, on the interpreter and
// on every JIT configuration, and requires the JIT to have dropped compiled code (≥ 1
// invalidation) and to have retired exactly as many instructions as the interpreter.
import { describe, expect, it } from "vitest";
import {
  ENGINES, IDT, RESULTS, STACK_TOP, assembleLongModeGuest, guestMachine, qword, symbol, type AssembledGuest, type EngineConfig,
} from "./support/asm-guest.js";
import { u64 } from "./support/flags.js";

interface SmcCase {
  name: string;
  code: string;
  /** RESULTS + 8k must hold expected[k] */
  expected: bigint[];
  /** patched instructions (labels, or linear addresses) that the JIT must have compiled (at some point of the run) */
  compiled: (string | number)[];
  /** the code bytes never change (only the mapping does): no invalidation is needed */
  noInvalidation?: boolean;
}

const EXIT = `
  mov al, 0
  out 0xf4, al
  hlt`;

const sum = (from: number, to: number) => ((to - from + 1) * (from + to)) / 2;

/** Calls linear `target` 20 times and stores the sum of what it returned in result qword `slot`. */
const sumOfCalls = (target: number, slot: number): string => `
  xor r12, r12
  mov r13d, 20
9:
  mov eax, 0x${target.toString(16)}
  call rax
  add r12, rax
  dec r13d
  jnz 9b
  mov [${RESULTS + 8 * slot}], r12`;

const cases: SmcCase[] = [
  {
    name: "patching an immediate, then an opcode, then instruction boundaries of a hot function between calls",
    code: `
  mov rsp, ${STACK_TOP}
  xor r12, r12
  mov r13d, 20
1:
  call work
  add r12, rax
  dec r13d
  jnz 1b
  mov [${RESULTS}], r12
  mov dword ptr [patch_imm + 1], 1000      # mov esi, 7 -> mov esi, 1000
  call work
  mov [${RESULTS + 8}], rax
  mov byte ptr [patch_op], 0x29            # add eax, esi -> sub eax, esi
  call work
  mov [${RESULTS + 16}], rax
  mov dword ptr [patch_imm], 0x90c6ff90    # mov esi, 1000 -> nop; inc esi; nop ... (new boundaries)
  mov byte ptr [patch_imm + 4], 0x90
  xor r12, r12
  mov r13d, 10
2:
  call work
  movsxd rax, eax
  add r12, rax
  dec r13d
  jnz 2b
  mov [${RESULTS + 24}], r12
  ${EXIT}
  .p2align 6
work:
  xor eax, eax
  xor esi, esi
  mov ecx, 50
3:
patch_imm:
  mov esi, 7
patch_op:
  add eax, esi
  dec ecx
  jnz 3b
  ret`,
    expected: [20n * 350n, 50_000n, u64(BigInt(-50_000 >>> 0)), u64(BigInt(-10 * sum(1, 50)))],
    compiled: ["patch_imm", "patch_op"],
  },
  {
    name: "a store patching an instruction later in the block that is executing it",
    code: `
  xor ebx, ebx
  xor r12, r12
  xor r13, r13
  xor r14, r14
loop:
  mov dword ptr [rip + site + 1], ebx
  add r13, 1
  lea r14, [r14 + 2]
site:
  mov eax, 0x12345678
  add r12, rax
  inc ebx
  cmp ebx, 20
  jb loop
  mov [${RESULTS}], r12
  mov [${RESULTS + 8}], r13
  mov [${RESULTS + 16}], r14
  ${EXIT}`,
    expected: [BigInt(sum(0, 19)), 20n, 40n],
    compiled: ["site"],
  },
  {
    // The unit leaves right after a store into its own code (the rest was compiled from the old
    // bytes), so the flags that store's instruction produced must be in the CPU even when the old
    // next instruction would have overwritten them all. (Found by test/robustness's random streams:
    // the JIT's flag liveness counted ADD's flags as dead because TEST followed; the new MOV writes
    // no flags, and SETC read those of the previous iteration's CMP.)
    name: "a store patching the next instruction of its block leaves its own flags (the old next instruction wrote them all)",
    code: `
  xor ebx, ebx
  xor r12, r12
loop:
  mov byte ptr [rip + site], 0xa8          # site: test al, 0
  lea rax, [rip + site]
  mov cl, 0x10
  add byte ptr [rax], cl                   # 0xa8 -> 0xb8: site becomes mov eax, 0x90909000; CF=0
site:
  test al, 0
  nop
  nop
  nop
  setc dl                                  # ADD's CF, not the CMP's below (CF=1)
  movzx edx, dl
  add r12, rdx
  inc ebx
  cmp ebx, 20
  jb loop
  mov [${RESULTS}], r12
  mov [${RESULTS + 8}], rax
  ${EXIT}`,
    expected: [0n, 0x9090_9000n],
    compiled: ["site"],
  },
  {
    name: "the same through a string store (STOSD, run through the shared semantics inside the block)",
    code: `
  xor ebx, ebx
  xor r12, r12
loop:
  lea rdi, [rip + site + 1]
  mov eax, ebx
  imul eax, eax, 3
  stosd
  add r13, 1
site:
  mov edx, 0x12345678
  add r12, rdx
  inc ebx
  cmp ebx, 20
  jb loop
  mov [${RESULTS}], r12
  ${EXIT}`,
    expected: [BigInt(3 * sum(0, 19))],
    compiled: ["site"],
  },
  {
    name: "the same through another linear address of the code's physical page",
    code: `
  # PD entry 4 maps 0x800000 onto physical 0 (ENTER_LONG_MODE's page directory is at 0x202000)
  mov qword ptr [0x202020], 0x87
  xor ebx, ebx
  xor r12, r12
loop:
  mov dword ptr [site + 1 + 0x800000], ebx
  add r13, 1
site:
  mov eax, 0x12345678
  add r12, rax
  inc ebx
  cmp ebx, 20
  jb loop
  mov [${RESULTS}], r12
  ${EXIT}`,
    expected: [BigInt(sum(0, 19))],
    compiled: ["site"],
  },
  {
    name: "a store in one block of a loop region patching another block of the region",
    code: `
  xor ebx, ebx
  xor r12, r12
  xor r13, r13
loop:
  mov dword ptr [rip + site + 1], ebx
  test bl, 1
  jz even
  add r13, 1
even:
site:
  mov eax, 0x12345678
  add r12, rax
  inc ebx
  cmp ebx, 20
  jb loop
  mov [${RESULTS}], r12
  mov [${RESULTS + 8}], r13
  ${EXIT}`,
    expected: [BigInt(sum(0, 19)), 10n],
    compiled: ["site"],
  },
  {
    name: "a store patching an instruction earlier in the executing block takes effect at its next execution",
    code: `
  xor ebx, ebx
  xor r12, r12
loop:
site:
  mov eax, 0
  add r12, rax
  inc ebx
  mov dword ptr [rip + site + 1], ebx
  cmp ebx, 20
  jb loop
  mov [${RESULTS}], r12
  ${EXIT}`,
    // iteration i adds the value stored by iteration i - 1, which is i
    expected: [BigInt(sum(0, 19))],
    compiled: ["site"],
  },
  {
    name: "REP MOVSB copying a new body over a hot function",
    code: `
  mov rsp, ${STACK_TOP}
  xor r12, r12
  mov r13d, 10
1:
  call work
  add r12, rax
  dec r13d
  jnz 1b
  mov [${RESULTS}], r12
  lea rsi, [rip + replacement]
  lea rdi, [rip + work]
  mov ecx, replacement_end - replacement
  rep movsb
  xor r12, r12
  mov r13d, 10
2:
  call work
  add r12, rax
  dec r13d
  jnz 2b
  mov [${RESULTS + 8}], r12
  ${EXIT}
  .p2align 6
work:
  mov eax, 1
  mov ecx, 30
3:
  add eax, eax
  and eax, 0xffff
  dec ecx
  jnz 3b
  ret
  .p2align 6
replacement:
  mov eax, 5
  mov ecx, 30
4:
  lea eax, [rax + rcx*2]
  dec ecx
  jnz 4b
  ret
replacement_end:`,
    // 2^30 mod 2^16 = 0; then 5 + 2·(30 + 29 + … + 1)
    expected: [0n, 10n * BigInt(5 + 2 * sum(1, 30))],
    compiled: ["work"],
  },
  {
    name: "remapping the linear page of hot code onto another physical page (INVLPG, then a CR3 reload)",
    code: `
  mov rsp, ${STACK_TOP}
  # PD entry 4 (0x800000) -> a page table at 0x204000 whose entry 0 maps one of two code pages
  mov qword ptr [0x202020], 0x204003
  lea rax, [rip + page_a]
  or rax, 3
  mov [0x204000], rax
${sumOfCalls(0x800000, 0)}
  lea rax, [rip + page_b]
  or rax, 3
  mov [0x204000], rax
  invlpg [0x800000]
${sumOfCalls(0x800000, 1)}
  lea rax, [rip + page_a]
  or rax, 3
  mov [0x204000], rax
  mov rax, cr3
  mov cr3, rax
${sumOfCalls(0x800000, 2)}
  ${EXIT}
  .p2align 12
page_a:
  mov eax, 1
  ret
  .p2align 12
page_b:
  mov eax, 1000
  ret
  .p2align 12`,
    expected: [20n, 20_000n, 20n],
    compiled: [0x800000],
    noInvalidation: true,
  },
  {
    // An instruction whose tail lies in the next page: compiled units that hold it (while that
    // page maps to the next physical page, src/jit/engine.ts) and the interpreter's page-end cache
    // (src/machine/interp/interpreter.ts, rememberPageEnd) must decode it again when the tail is
    // written, and when the next linear page is mapped to another physical page.
    name: "an instruction crossing a page boundary: its tail in the next page patched, that page remapped, then unmapped (#PF)",
    code: `
  mov rsp, ${STACK_TOP}
  lidt [rip + idtr]
  # #PF -> pf_handler: a 64-bit interrupt gate, CS 0x18
  lea rax, [rip + pf_handler]
  mov word ptr [${IDT + 14 * 16}], ax
  mov word ptr [${IDT + 14 * 16 + 2}], 0x18
  mov word ptr [${IDT + 14 * 16 + 4}], 0x8e00
  shr rax, 16
  mov word ptr [${IDT + 14 * 16 + 6}], ax
  shr rax, 16
  mov dword ptr [${IDT + 14 * 16 + 8}], eax
  mov dword ptr [${IDT + 14 * 16 + 12}], 0
  # PD entry 4 (0x800000) -> a page table at 0x204000: 0x800000 -> head, 0x801000 -> tail_a
  mov qword ptr [0x202020], 0x204003
  lea rax, [rip + head]
  or rax, 3
  mov [0x204000], rax
  lea rax, [rip + tail_a]
  or rax, 3
  mov [0x204008], rax
  # at 0x800ffd: mov eax, imm32, 3 bytes in head and 2 in the next page
${sumOfCalls(0x800ffd, 0)}
  mov byte ptr [rip + tail_a], 2           # the immediate's third byte, in the tail page
${sumOfCalls(0x800ffd, 1)}
  lea rax, [rip + tail_b]
  or rax, 3
  mov [0x204008], rax
  invlpg [0x801000]
${sumOfCalls(0x800ffd, 2)}
  # the tail's page unmapped: fetching the instruction faults on its second page
  mov qword ptr [0x204008], 0
  invlpg [0x801000]
  mov eax, 0x800ffd
  call rax
  ${EXIT}
pf_handler:
  mov rax, cr2
  mov [${RESULTS + 24}], rax
  pop rax
  mov [${RESULTS + 32}], rax
  pop rax
  mov [${RESULTS + 40}], rax
  ${EXIT}
idtr:
  .word 0xfff
  .quad ${IDT}
  .p2align 12
head:
  .fill 0xffd, 1, 0xcc
  .byte 0xb8, 0x01, 0x00
tail_a:
  .byte 0x00, 0x00
  ret
  .p2align 12
tail_b:
  .byte 0x01, 0x00
  ret
  .p2align 12`,
    // then CR2 = the tail's page, error code 0 (not present, supervisor read; no I/D bit without
    // EFER.NXE or CR4.SMEP), and the saved RIP is the instruction's first byte
    expected: [20n, 20n * 0x20001n, 20n * 0x10001n, 0x801000n, 0n, 0x800ffdn],
    // while 0x801000 maps to the page after head, units hold the crossing instruction: the
    // patch of its tail must drop them
    compiled: [0x800ffd],
  },
];

interface Outcome {
  stop: string;
  results: bigint[];
  retired: number;
  invalidations: number;
  compiledBefore: Set<string | number>;
}

function run(guest: AssembledGuest, c: SmcCase, engine: EngineConfig): Outcome {
  const { machine, units } = guestMachine(guest, engine);
  const stop = machine.runSync({ maxInstructions: 1_000_000 });
  const results = c.expected.map((_, k) => qword(machine, RESULTS + 8 * k));
  const compiledBefore = new Set<string | number>();
  for (const label of c.compiled) {
    const address = typeof label === "number" ? label : symbol(guest, label);
    if (units.some((unit) => Array.from(unit.rips).includes(address))) compiledBefore.add(label);
  }
  return {
    stop: stop.kind === "exit" ? `exit ${stop.status}` : `${stop.kind}: ${JSON.stringify(stop)}`,
    results,
    retired: machine.cpu.retired,
    invalidations: machine.jit?.stats().invalidations ?? 0,
    compiledBefore,
  };
}

const hex = (v: bigint) => `0x${v.toString(16)}`;

describe("self-modifying code", () => {
  for (const c of cases) {
    describe(c.name, () => {
      const guest = assembleLongModeGuest(c.code);
      let interpOutcome: Outcome | undefined;
      const interp = () => (interpOutcome ??= run(guest, c, ENGINES[0]));
      for (const engine of ENGINES) {
        it(`${engine.name}: the new code runs`, () => {
          const outcome = engine === ENGINES[0] ? interp() : run(guest, c, engine);
          expect(outcome.stop).toBe("exit 1");
          expect(outcome.results.map(hex)).toEqual(c.expected.map(hex));
          expect(outcome.retired).toBe(interp().retired);
          if (engine.accel !== "interp") {
            expect([...outcome.compiledBefore], "the patched code had been compiled").toEqual(c.compiled);
            if (!c.noInvalidation) expect(outcome.invalidations).toBeGreaterThanOrEqual(1);
          }
        });
      }
    });
  }
});
