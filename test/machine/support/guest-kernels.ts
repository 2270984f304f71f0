// Builds the test guest kernels of test/fixtures/guest (once per test process, in a temp dir) and
// runs an image on real QEMU or on our machine (the CLI's main() in-process, or the machine built
// directly, e.g. with a NIC), capturing the serial output as bytes.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseMultibootKernel } from "../../../src/machine/multiboot.js";
import type { NetBackend } from "../../../src/machine/net/backend.js";
import { PcMachine } from "../../../src/machine/pc.js";
import { hostHas } from "../../support/host-tools.js";

export const fixtureDir = fileURLToPath(new URL("../../fixtures/guest/", import.meta.url));

export interface GuestKernels {
  dir: string;
  /** the probe as an ELF32 (no a.out kludge) */
  probeElf: string;
  /** the probe as a flat binary with the a.out kludge */
  probeKludge: string;
  /** the timer/RTC/UART test kernel (ELF32) */
  ticksElf: string;
}

const quiet = { stdio: ["ignore", "pipe", "pipe"] as ["ignore", "pipe", "pipe"] };

let built: GuestKernels | null = null;

/** Builds (once) the fixture kernels with gcc -m32, as --32 and ld -m elf_i386. */
export function guestKernels(): GuestKernels {
  if (built !== null) return built;
  const dir = mkdtempSync(join(tmpdir(), "x64emu-guest-"));
  process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  const source = (name: string) => join(fixtureDir, name);
  const out = (name: string) => join(dir, name);
  const ldScript = source("probe.ld");
  execFileSync("gcc", [
    "-m32", "-march=i686", "-ffreestanding", "-nostdlib", "-fno-pic", "-fno-pie", "-fno-stack-protector",
    "-mgeneral-regs-only", "-fno-asynchronous-unwind-tables", "-O2", "-Wall", "-c", source("probe.c"), "-o", out("probe.o"),
  ], quiet);
  execFileSync("as", ["--32", "-o", out("probe-entry.o"), source("probe-entry.S")], quiet);
  execFileSync("as", ["--32", "--defsym", "KLUDGE=1", "-o", out("probe-entry-kludge.o"), source("probe-entry.S")], quiet);
  execFileSync("as", ["--32", "-o", out("ticks.o"), source("ticks.S")], quiet);
  const ld = (args: string[]) => execFileSync("ld", ["-m", "elf_i386", "--no-warn-rwx-segments", "-z", "noexecstack", "-T", ldScript, ...args], quiet);
  ld(["-o", out("probe.elf"), out("probe-entry.o"), out("probe.o")]);
  ld(["--oformat", "binary", "-o", out("probe.bin"), out("probe-entry-kludge.o"), out("probe.o")]);
  ld(["-o", out("ticks.elf"), out("ticks.o")]);
  built = { dir, probeElf: out("probe.elf"), probeKludge: out("probe.bin"), ticksElf: out("ticks.elf") };
  return built;
}

export const QEMU = "qemu-system-x86_64";

/** Whether qemu-system-x86_64 runs here. */
export const qemuAvailable: boolean = hostHas(QEMU);

export interface GuestRun {
  status: number | null;
  serial: Buffer;
  stderr: string;
}

/** QEMU's arguments for a user-mode NIC (DESIGN.md §8). */
export const QEMU_NIC_ARGS = ["-netdev", "user,id=n0", "-device", "virtio-net-pci,netdev=n0"];

/** Boots `image` on QEMU with the reference command line (DESIGN.md §3), plus `extraArgs`. */
export function runQemu(image: string, options: { append?: string; memoryMiB?: number; extraArgs?: string[] } = {}): GuestRun {
  const args = [
    "-accel", "tcg", "-machine", "q35", "-m", String(options.memoryMiB ?? 512), "-nodefaults", "-display", "none",
    "-serial", "stdio", "-no-reboot", "-kernel", image,
    ...(options.append !== undefined ? ["-append", options.append] : []),
    "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
    ...(options.extraArgs ?? []),
  ];
  const result = spawnSync(QEMU, args, { timeout: 120_000, maxBuffer: 64 * 1024 * 1024, stdio: ["ignore", "pipe", "pipe"] });
  return { status: result.status, serial: result.stdout, stderr: result.stderr.toString("utf8") };
}

/** Boots `image` on our machine through the CLI (in-process); `args` are extra CLI arguments. */
export async function runOurs(image: string, args: string[] = []): Promise<GuestRun> {
  const { main } = await import("../../../src/cli.js");
  const chunks: Buffer[] = [];
  let stderr = "";
  const status = await main([image, ...args], {
    stdout: (text) => void chunks.push(Buffer.from(text)),
    stderr: (text) => void (stderr += text),
    serial: (bytes) => void chunks.push(Buffer.from(bytes)),
  });
  return { status, serial: Buffer.concat(chunks), stderr };
}

export interface MachineRun extends GuestRun {
  /** the device messages the machine logged (MachineOptions.log) */
  log: string[];
}

/**
 * Boots `image` on our machine built directly (not through the CLI), with a NIC on `backend` when
 * given; virtual clock, so runs are repeatable.
 */
export async function runOursMachine(
  image: string,
  options: { append?: string; memoryMiB?: number; backend?: NetBackend; accel?: "interp" | "jit"; timeoutSeconds?: number } = {},
): Promise<MachineRun> {
  const chunks: Buffer[] = [];
  const log: string[] = [];
  const machine = new PcMachine({
    memoryMiB: options.memoryMiB,
    clock: "virtual",
    accel: options.accel,
    nics: options.backend ? [{ backend: options.backend }] : [],
    onSerialOutput: (bytes) => void chunks.push(Buffer.from(bytes)),
    log: (line) => void log.push(line),
  });
  machine.boot(parseMultibootKernel(readFileSync(image)), image, options.append ?? "");
  const reason = await machine.run({ timeoutSeconds: options.timeoutSeconds ?? 120 });
  const status = reason.kind === "exit" ? reason.status : null;
  const stderr = reason.kind === "exit" ? "" : `${reason.kind}: ${"message" in reason ? reason.message : ""}`;
  return { status, serial: Buffer.concat(chunks), stderr, log };
}
