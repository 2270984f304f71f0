// Inside a loop region the lazy-flags record is written only on the paths that need it: exits, and
// jumps to a block that may read the flags (or fault, or exit) before rewriting them all. A back
// edge to a block that starts with a full flags writer (ADD, CMP …) stores nothing. Each loop here
// runs across several 4096-instruction batches (so budget exits hand the loop to the interpreter
// mid-way), and every engine must leave the interpreter's registers and RFLAGS:
//   A: the loop's first block starts with ADC, which reads CF from the back edge's CMP (through a
//      DEC, which keeps CF): the back edge must store the record;
//   B: it starts with INC (keeps CF) and then ADC: the same;
//   C: it starts with ADD (all flags rewritten): nothing on the back edge, the record on the exit;
//   D: it starts with a load before its ADD: the load faults in the last pass, and the #PF
//      handler must see the RFLAGS of the previous pass's compare.
import { describe } from "vitest";
import { VEC_PF } from "../../src/machine/cpu-exception.js";
import { IDT, STACK_TOP, assembleLongModeGuest, setGate, symbol } from "./support/asm-guest.js";
import { itMatchesTheInterpreter } from "./support/engine-compare.js";

const OUT = 0x500000;
const TABLE = 0x600000;
const PASSES = 3000;
const UNMAPPED = 0x900000; // beyond the identity map of the first 8 MiB

/** Stores RAX, RBX, RDX, R9, R11 and RFLAGS at RDI (48 bytes) and advances RDI. */
const RECORD = `
  pushfq
  pop rsi
  mov [rdi], rax
  mov [rdi + 8], rbx
  mov [rdi + 16], rdx
  mov [rdi + 24], r9
  mov [rdi + 32], r11
  mov [rdi + 40], rsi
  add rdi, 48`;

const GUEST = assembleLongModeGuest(`
  lidt [idtr]
  mov rsp, ${STACK_TOP}
  mov rdi, ${OUT}
  # A: ADC first
  mov ecx, ${PASSES}
  xor eax, eax
  xor ebx, ebx
  mov rdx, 0x9e3779b97f4a7c15
  clc
a_top:
  adc rax, rdx
  rol rdx, 7
  test eax, 0x100
  jz a_skip
  add rbx, rax
a_skip:
  cmp rax, rbx
  dec ecx
  jnz a_top
${RECORD}
  # B: INC, then ADC
  mov ecx, ${PASSES}
  xor r8d, r8d
  mov r9, 0x0123456789abcdef
  xor r11d, r11d
b_top:
  inc r8
  adc r9, r8
  mov r10, r9
  and r10, 3
  jnz b_skip
  add r11, r9
b_skip:
  cmp r9, r11
  dec ecx
  jnz b_top
${RECORD}
  # C: ADD first
  mov ecx, ${PASSES}
  mov rax, 0x7fffffff00000000
  mov rdx, 0x00000001fffffff3
  xor ebx, ebx
c_top:
  add rax, rdx
  jno c_skip
  xor rbx, rax
c_skip:
  ror rdx, 3
  cmp rbx, rax
  dec ecx
  jnz c_top
${RECORD}
  # D: a load before the ADD; the table's last entry points off the map
  mov ecx, ${PASSES}
  mov r13, ${TABLE}
  xor eax, eax
  mov rbx, 0x5555
d_top:
  mov r12, [r13]
  mov r12, [r12]
  add rax, r12
  jc d_skip
  sub rbx, rax
d_skip:
  add r13, 8
  cmp rax, rbx
  dec ecx
  jnz d_top
  mov al, 0
  out 0xf4, al
  hlt
idtr:
  .word 0xfff
  .quad ${IDT}
  .p2align 6
handler:
  # the #PF frame: error code, RIP, CS, RFLAGS, RSP, SS; then the registers as above
  mov rsi, [rsp + 24]
  mov [rdi], rax
  mov [rdi + 8], rbx
  mov [rdi + 16], rsi
  mov [rdi + 24], rcx
  mov rsi, cr2
  mov [rdi + 32], rsi
  mov al, 0
  out 0xf4, al
  hlt`);

describe("the flags record on the edges of a loop region", () => {
  itMatchesTheInterpreter(
    GUEST,
    OUT,
    4 * 48,
    "registers and RFLAGS after each loop (and in the #PF handler)",
    // with loop regions: a back edge that stores no flags record, `if(budget check){n+=…;b=…;continue;}`
    (engine) => (engine.jit?.regions === false ? [] : [/<=budget\)\{n\+=\d+;b=\d+;continue;\}/, /for\(;;\)switch\(b\)/]),
    (offset) => `loop ${"ABCD"[Math.floor(offset / 48)]}, word ${Math.floor((offset % 48) / 8)}`,
    (machine) => {
      setGate(machine, VEC_PF, symbol(GUEST, "handler"));
      // D's table: PASSES - 1 pointers to mapped qwords, then one into the unmapped range
      for (let k = 0; k < PASSES; k++) {
        const target = k === PASSES - 1 ? UNMAPPED : OUT + 0x10000 + 8 * (k % 512);
        machine.memory.view.setBigUint64(TABLE + 8 * k, BigInt(target), true);
      }
      for (let k = 0; k < 512; k++) machine.memory.view.setBigUint64(OUT + 0x10000 + 8 * k, BigInt(k) * 0x1234567n + 0xfffffffffff00000n * BigInt(k & 1), true);
    },
  );
});
