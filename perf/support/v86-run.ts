// Boots a multiboot kernel on v86 (the npm package, a dev dependency) in this Node process, the
// guest's COM1 output on stdout, and exits when the guest writes to port 0xf4. For perf/v86.bench.ts
// and test/perf-guests/loops32.test.ts, which start it as a child process (bundled to plain ESM
// by v86RunnerCommand below, so its start-up is Node's and v86's, not tsx's).
//
//   node v86-run.mjs IMAGE [--append ARGS] [--no-jit] [-m MiB] [--timeout S]
//
// What differs from QEMU and this emulator (both found in v86's sources, src/cpu.js):
// - v86 loads a multiboot kernel without a BIOS: its multiboot information (at 0x7c00) has flags
//   0x44 (command line, memory map) and the command line is ARGS alone, with no image path first;
// - it has no isa-debug-exit: its multiboot loader makes a write to port 0xf4 log "Test exited
//   with code 0xNN" and throw the string "HALT" out of the emulator's loop (uncaught, since the
//   loop runs from setImmediate). The first is taken for the exit code, the second for the end;
//   the exit status is then QEMU's, (code << 1) | 1;
// - in Node's ESM mode v86 cannot find its WebAssembly file by itself: `wasm_path` names it;
// - `disable_jit: true` turns its x86-to-WebAssembly JIT off (its interpreter alone).
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { V86 } from "v86";

function usage(message: string): never {
  process.stderr.write(`error: ${message}\nusage: v86-run IMAGE [--append ARGS] [--no-jit] [-m MiB] [--timeout S]\n`);
  process.exit(2);
}

let image: string | undefined;
let append = "";
let jit = true;
let memoryMiB = 64;
let timeoutSeconds = 0;
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  const arg = args[i];
  const value = () => args[++i] ?? usage(`${arg} needs a value`);
  if (arg === "--append") append = value();
  else if (arg === "--no-jit") jit = false;
  else if (arg === "-m") memoryMiB = Number(value());
  else if (arg === "--timeout") timeoutSeconds = Number(value());
  else if (arg.startsWith("-")) usage(`unknown option ${arg}`);
  else if (image === undefined) image = arg;
  else usage(`unexpected argument ${arg}`);
}
if (image === undefined) usage("no image");
if (!Number.isInteger(memoryMiB) || memoryMiB < 2) usage("-m takes a whole number of MiB, at least 2");
if (!Number.isFinite(timeoutSeconds) || timeoutSeconds < 0) usage("--timeout takes seconds");

/** v86.wasm inside the installed package (its package.json has no exports map: resolve the main file). */
const wasmPath = join(dirname(createRequire(import.meta.url).resolve("v86")), "v86.wasm");

let exitCode: number | undefined;
const log = console.log;
console.log = (...items: unknown[]) => {
  const match = typeof items[0] === "string" ? /^Test exited with code 0x([0-9a-f]+)$/i.exec(items[0]) : null;
  if (match !== null) exitCode = parseInt(match[1], 16);
  else log(...items);
};

const output: number[] = [];
/** Writes the guest's output, then exits with `status` (the emulator's loop has stopped: nothing else runs). */
function finish(status: number): void {
  process.stdout.write(Buffer.from(output), () => process.exit(status));
}

process.on("uncaughtException", (error: unknown) => {
  if (error === "HALT" && exitCode !== undefined) {
    finish(((exitCode << 1) | 1) & 0xff);
    return;
  }
  process.stderr.write(`error: v86: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(70);
});
if (timeoutSeconds > 0) {
  setTimeout(() => {
    process.stderr.write(`error: v86: timeout after ${timeoutSeconds} s\n`);
    finish(124);
  }, timeoutSeconds * 1000).unref();
}

const kernel = readFileSync(image);
const emulator = new V86({
  wasm_path: wasmPath,
  memory_size: memoryMiB * 1024 * 1024,
  multiboot: { buffer: kernel.buffer.slice(kernel.byteOffset, kernel.byteOffset + kernel.byteLength) },
  cmdline: append,
  disable_jit: !jit,
  autostart: true,
});
emulator.add_listener("serial0-output-byte", (byte: number) => void output.push(byte));
