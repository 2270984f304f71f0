// Boot-to-exit time of a multiboot image on our emulator and on qemu-system-x86_64 -accel tcg, side by
// side in one run: each engine boots the image N times as a child process (process start, boot,
// guest run, exit), medians and their ratio are reported, with our guest instruction count and MIPS
// (from --stats). Ours starts as users start it, through the built entry point dist/x64emu.mjs
// (rebuilt first). Compare ratios, not absolute seconds: machines are noisy.
//
// Run: npm run bench:boot
//   BOOT_BENCH_IMAGE   image (default build/kernel.elf with "selftest", else the probe test kernel)
//   BOOT_BENCH_APPEND  kernel command line (default "selftest" for build/kernel.elf)
//   BOOT_BENCH_RUNS    runs per engine (default 5)
//   BOOT_BENCH_ACCEL   our --accel (default jit)
//   BOOT_BENCH_CLOCK   our --clock (default realtime)
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { guestKernels, qemuAvailable } from "../test/machine/support/guest-kernels.js";
import { builtCli } from "./support/built-cli.js";

const repoRoot = fileURLToPath(new URL("..", import.meta.url));
const defaultImage = join(repoRoot, "build/kernel.elf");

let image = process.env.BOOT_BENCH_IMAGE;
let append = process.env.BOOT_BENCH_APPEND;
if (image === undefined) {
  if (existsSync(defaultImage)) {
    image = defaultImage;
    append ??= "selftest";
  } else {
    console.log(`${defaultImage} is not built (npm run build:guest): using the probe test kernel`);
    image = guestKernels().probeElf;
  }
}
append ??= "";
const runs = Number(process.env.BOOT_BENCH_RUNS ?? 5);
const accel = process.env.BOOT_BENCH_ACCEL ?? "jit";
const [cliCommand, cliArgs] = builtCli();
const clock = process.env.BOOT_BENCH_CLOCK ?? "realtime";

interface Sample {
  seconds: number;
  status: number | null;
  instructions?: number;
  guestSeconds?: number;
}

function timed(command: string, args: string[]): Sample & { stderr: string } {
  const start = performance.now();
  const result = spawnSync(command, args, { cwd: repoRoot, encoding: "latin1", maxBuffer: 256 * 1024 * 1024, stdio: ["ignore", "pipe", "pipe"] });
  return { seconds: (performance.now() - start) / 1000, status: result.status, stderr: result.stderr };
}

function ours(): Sample {
  const sample = timed(cliCommand, [...cliArgs, image!, "--append", append!, "--accel", accel, "--clock", clock, "--stats"]);
  const stats = /stats: (\d+) guest instructions in ([0-9.]+) s/.exec(sample.stderr);
  return { ...sample, instructions: stats ? Number(stats[1]) : undefined, guestSeconds: stats ? Number(stats[2]) : undefined };
}

function qemu(): Sample {
  return timed("qemu-system-x86_64", [
    "-accel", "tcg", "-machine", "q35", "-m", "512", "-nodefaults", "-display", "none", "-serial", "stdio", "-no-reboot",
    "-kernel", image!, "-append", append!, "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
  ]);
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

console.log(`image ${image}  append ${JSON.stringify(append)}  runs ${runs}  ours: --accel ${accel} --clock ${clock}`);
const ourSamples: Sample[] = [];
const qemuSamples: Sample[] = [];
// Interleaved, so load changes on the machine hit both engines alike.
for (let i = 0; i < runs; i++) {
  ourSamples.push(ours());
  if (qemuAvailable) qemuSamples.push(qemu());
}
const statuses = new Set(ourSamples.map((s) => s.status));
const ourMedian = median(ourSamples.map((s) => s.seconds));
const runMedian = median(ourSamples.map((s) => s.guestSeconds ?? NaN));
const instructions = ourSamples[0]!.instructions;
console.log(`ours:  median ${ourMedian.toFixed(3)} s per boot (machine run ${runMedian.toFixed(3)} s), exit status ${[...statuses].join("/")}` +
  (instructions !== undefined ? `, ${instructions} guest instructions, ${(instructions / runMedian / 1e6).toFixed(2)} MIPS` : ""));
if (qemuSamples.length > 0) {
  const qemuMedian = median(qemuSamples.map((s) => s.seconds));
  console.log(`qemu:  median ${qemuMedian.toFixed(3)} s per boot (tcg), exit status ${[...new Set(qemuSamples.map((s) => s.status))].join("/")}`);
  console.log(`ratio: ours / qemu-tcg = ${(ourMedian / qemuMedian).toFixed(2)}x`);
} else {
  console.log("qemu-system-x86_64 is not installed: no comparison");
}
