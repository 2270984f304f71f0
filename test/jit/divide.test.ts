// DIV and IDIV of 32 and 64 bits in compiled code (a template calling the interpreter's divideWide,
// not the generic path): for every pair of values (dividend's low half, divisor) around the sign,
// width and 2^52 boundaries (where divideWide switches from numbers to BigInt), with rDX zero, the
// sign extension of rAX or 3, a register and a memory divisor: rAX, rDX and RFLAGS (undefined after
// a division: both engines leave them as they were) must be what the interpreter leaves — and where
// the division faults (#DE: a zero divisor, a quotient too large) the #DE handler must see the
// registers untouched.
import { describe } from "vitest";
import { VEC_DE } from "../../src/machine/cpu-exception.js";
import { IDT, STACK_TOP, assembleLongModeGuest, setGate, symbol } from "./support/asm-guest.js";
import { forEveryPair, itMatchesTheInterpreter } from "./support/engine-compare.js";

const OUT = 0x500000;
const SCRATCH = 0x4f0000;
const VALUES = [
  "0x0", "0x1", "0x3", "0x7", "0xfffffffffffffff9", "0xffffffffffffffff", "0x7fffffffffffffff", "0x8000000000000000",
  "0x00000000ffffffff", "0x0000000080000000", "0x000fffffffffffff", "0x0010000000000000", "0x001fffffffffffff",
  "0x0123456789abcdef", "0xfedcba9876543210", "0xcccccccccccccccd",
];
const OPS = ["div rbx", "idiv rbx", "div ebx", "idiv ebx", "div qword ptr [rsi]", "idiv qword ptr [rsi]", "div dword ptr [rsi]", "idiv dword ptr [rsi]"];
const UPPER = ["xor edx, edx", "cqo", "mov edx, 3"];
const RECORD = 32;
const CASES = VALUES.length * VALUES.length * OPS.length * UPPER.length;

// For every (rAX, divisor) pair, operation and rDX: rAX, rDX, RFLAGS and whether #DE came, at rdi.
// The #DE handler marks the record and resumes after the division (its address is in r12).
const GUEST = assembleLongModeGuest(`
  lidt [rip + idtr]
  mov rsp, ${STACK_TOP}
  mov rdi, ${OUT}
  mov rsi, ${SCRATCH}
  jmp start
idtr:
  .word 0xfff
  .quad ${IDT}
handler:
  mov qword ptr [rdi + 24], 0xde
  mov [rsp], r12
  iretq
start:
${forEveryPair(VALUES, OPS.flatMap((op) => UPPER.map((upper) => `
  mov rax, [r8 + r9 * 8]
  mov rbx, [r8 + r10 * 8]
  mov [rsi], rbx
  ${upper}
  mov qword ptr [rdi + 24], 0
  lea r12, [rip + 1f]
  push 0x8d5
  popfq
  ${op}
1:
  pushfq
  pop rcx
  mov [rdi], rax
  mov [rdi + 8], rdx
  mov [rdi + 16], rcx
  add rdi, ${RECORD}`)).join(""))}`);

describe("DIV/IDIV (32/64-bit) in compiled code", () => {
  itMatchesTheInterpreter(
    GUEST,
    OUT,
    CASES * RECORD,
    `rAX, rDX, RFLAGS and #DE for ${CASES} cases`,
    [/H\.divide\(/],
    (offset) => {
      const record = Math.floor(offset / RECORD);
      const upper = record % UPPER.length, op = Math.floor(record / UPPER.length) % OPS.length;
      const pair = Math.floor(record / (UPPER.length * OPS.length));
      return `${OPS[op]} after ${UPPER[upper]}, rAX ${VALUES[Math.floor(pair / VALUES.length)]}, divisor ${VALUES[pair % VALUES.length]}, word ${Math.floor((offset % RECORD) / 8)}`;
    },
    (machine) => setGate(machine, VEC_DE, symbol(GUEST, "handler")),
  );
});
