// Interpreter speed in guest MIPS on three 64-bit guest loops (register arithmetic, memcpy, a
// hash), measured with benchmark.js: each sample runs the loop from its start to HLT.
// Run: npx tsx perf/interpreter.bench.ts   (or npm run bench:interpreter)
import Benchmark from "benchmark";
import { assemble } from "../test/machine/support/assemble.js";
import { ENTER_LONG_MODE } from "../test/machine/support/long-mode.js";
import { protectedModeMachine, runUntilHalt } from "../test/machine/support/test-machine.js";

const ORIGIN = 0x100000;
const LONG_MODE = `${ENTER_LONG_MODE}
.code64
long_mode:
  mov rsp, 0x380000
`;

const LOOPS: Record<string, string> = {
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
    jnz 1b
    hlt`,
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
    jnz 2b
    hlt`,
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
    jnz 2b
    hlt`,
};

const results: string[] = [];
for (const [name, loop] of Object.entries(LOOPS)) {
  const machine = protectedModeMachine(16);
  const image = assemble(`${LONG_MODE}\nloop_start:\n${loop}`, ORIGIN, 32);
  machine.memory.loadBytes(ORIGIN, image);
  machine.cpu.rip = ORIGIN;
  // Run once to the end (through the switch to long mode), then restart at the loop for each sample;
  // the loop is the image's tail.
  runUntilHalt(machine, 50_000_000);
  const startRip = ORIGIN + image.length - assemble(loop, 0, 64).length;
  let instructions = 0;
  const bench = new Benchmark(name, () => {
    machine.cpu.halted = false;
    machine.cpu.rip = startRip;
    const before = machine.cpu.retired;
    runUntilHalt(machine, 50_000_000);
    instructions = machine.cpu.retired - before;
  }, { minSamples: 5 });
  bench.run();
  const mips = (bench.hz * instructions) / 1e6;
  results.push(`${name.padEnd(22)} ${mips.toFixed(1).padStart(6)} MIPS  (${instructions} instructions per run, ±${bench.stats.rme.toFixed(1)}%)`);
}
console.log("interpreter, guest loops in 64-bit mode:");
console.log(results.join("\n"));
