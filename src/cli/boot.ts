// The default action: boot a multiboot kernel image on the PC model, like
//   qemu-system-x86_64 -machine q35 -m 512 -nodefaults -display none -serial stdio -no-reboot \
//     -kernel IMAGE -append ARGS -device isa-debug-exit,iobase=0xf4,iosize=0x04
// The guest's serial output goes to stdout byte for byte, stdin feeds its serial input, and the exit
// status is the guest's isa-debug-exit status ((v << 1) | 1). Everything else that ends the run is
// one "error: ..." line on stderr (a guest fault adds a register dump) and a status of its own.

import { fstatSync, mkdirSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { Option, type Command } from "commander";
import { TSC_HZ } from "../machine/clock.js";
import { MAX_RAM_MIB, MultibootError, parseMultibootKernel } from "../machine/multiboot.js";
import { DEFAULT_MEMORY_MIB, PcMachine, type StopReason } from "../machine/pc.js";
import { CliError, UsageError, oneLine, readRegularFile } from "./errors.js";
import { parseCount } from "./values.js";
import { checkFixedOptions, parseNetworkOptions } from "./qemu-options.js";
import { UserNetBackend } from "../machine/net/slirp.js";
import { formatJitStats } from "../jit/stats.js";
import type { Unit } from "../jit/code-cache.js";
import { writeUnitFiles } from "../jit/dump.js";
import { BootProfiler, DEFAULT_PROFILE_INTERVAL } from "./profile.js";

export const DEFAULT_IMAGE = "build/kernel.elf";
/** The RTC's time at boot under --clock virtual unless --rtc-base says otherwise: runs stay reproducible. */
export const VIRTUAL_RTC_BASE = "2024-01-01T00:00:00Z";

/** Exit statuses of a boot besides the guest's own (isa-debug-exit statuses are odd). */
export const EXIT_GUEST_FAULT = 4; // triple fault, or halted for good
export const EXIT_TIMEOUT = 124; // --timeout expired (as timeout(1))
export const EXIT_INTERNAL = 70;
export const EXIT_DIVERGENCE = 6; // --accel check found the JIT and the interpreter disagreeing

export interface BootOptions {
  accel: "interp" | "jit" | "check";
  memory?: string;
  append?: string;
  clock: "realtime" | "virtual";
  timeout?: string;
  stats?: boolean;
  rtcBase?: string;
  jitDump?: string;
  jitSourceMaps?: boolean;
  jitThreshold?: string;
  jitBackend?: string;
  profile?: string;
  profileInterval?: string;
  profileTop?: string;
  // QEMU's options (src/cli/qemu-options.ts)
  machine?: string;
  display?: string;
  serial?: string;
  nodefaults?: boolean;
  reboot?: boolean;
  netdev?: string[];
  device?: string[];
  nic?: string[];
  object?: string[];
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/** What booting writes to and reads from. */
export interface BootIo {
  stderr(text: string): void;
  /** the guest's serial output */
  serial(bytes: Uint8Array): void;
  /** host input for the guest's serial port, if any */
  stdin?: NodeJS.ReadableStream | null;
}

/** Adds the boot arguments and options to the root command and makes booting its action. */
export function registerBootAction(program: Command, io: BootIo, setExitCode: (code: number) => void): void {
  program
    .argument("[image]", `multiboot kernel image to boot (default ${DEFAULT_IMAGE}, built by npm run build:guest)`)
    .addOption(
      new Option("--accel <engine>", "execution engine: jit (compiles hot guest code to JavaScript), interp (interpreter only), check (JIT and interpreter in lockstep, stopping at the first difference)")
        .choices(["interp", "jit", "check"])
        .default("jit"),
    )
    .option("-m, --memory <MiB>", `guest RAM in MiB (default ${DEFAULT_MEMORY_MIB}, at most ${MAX_RAM_MIB})`)
    .option("--append <args>", 'kernel command line after the image path, e.g. "bench commits=100"')
    .addOption(
      new Option("--clock <kind>", `guest time: realtime (host time) or virtual (1 ns per instruction: reproducible runs); the TSC runs at ${TSC_HZ / 1e6} MHz`)
        .choices(["realtime", "virtual"])
        .default("realtime"),
    )
    .option("--timeout <seconds>", "stop the guest after this much wall time (exit status 124)")
    .option("--rtc-base <when>", `RTC time at boot: utc (the host clock; the default with --clock realtime) or an ISO date such as 2024-01-01T00:00:00Z (default with --clock virtual: ${VIRTUAL_RTC_BASE})`)
    .option("--stats", "print guest instructions, wall time and MIPS (and the JIT's statistics, and each user-mode netdev's counters) on stderr at exit")
    .option("--jit-dump <dir>", "write every compiled unit's JavaScript and source map to <dir> (for Chrome DevTools or node --enable-source-maps)")
    .option("--jit-source-maps", "give every compiled unit an inline source map to the guest disassembly, so stack traces, profiles and DevTools show guest instructions (on with --jit-dump or X64EMU_DEBUG=1; off by default: it slows compilation)")
    .option("--jit-threshold <n>", "executions of a guest entry point before the JIT compiles it (default 256)")
    .addOption(
      new Option("--jit-backend <backend>", "what the JIT compiles units to: wasm (WebAssembly for the 64-bit code it covers, JavaScript for the rest) or js (JavaScript only)")
        .choices(["wasm", "js"])
        .default("wasm"),
    )
    .option("--profile <file>", "sample the guest's RIP and frame-pointer call stack and write a .cpuprofile (Chrome DevTools, speedscope; `profile FILE` prints its table) with the image's functions as frames")
    .option("--profile-interval <n>", `guest instructions between samples, on average (default ${DEFAULT_PROFILE_INTERVAL})`)
    .option("--profile-top <n>", "print the n functions with the most samples (self, share, total, share run as JIT code) on stderr at exit")
    .option("--netdev <spec>", "a network backend, as QEMU: user,id=ID[,hostfwd=tcp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT]...[,restrict=on|off]; ours: [,hostfwd6=tcp:[[HOSTADDR6]]:HOSTPORT-[[GUESTADDR6]]:GUESTPORT]...", collect)
    .option("--device <spec>", "a device, as QEMU: virtio-net-pci,netdev=ID[,mac=52:54:00:12:34:56], or isa-debug-exit,iobase=0xf4,iosize=0x04 (always present)", collect)
    .option("--nic <spec>", "a NIC and its backend in one, as QEMU: user[,model=virtio-net-pci][,hostfwd=...][,mac=...]", collect)
    .option("--object <spec>", "a packet capture, as QEMU: filter-dump,id=ID,netdev=ID,file=F.pcap", collect)
    .option("--machine <type>", "the machine type: q35 (the only one)")
    .option("--display <kind>", "none (the only one)")
    .option("--serial <where>", "stdio (the only one: the guest's COM1 is stdout/stdin)")
    .option("--nodefaults", "accepted: the machine has no default devices")
    .option("--no-reboot", "accepted: a guest reset ends the run (status 0), as qemu -no-reboot")
    .addHelpText("after", "\nQEMU's spellings work too: -accel tcg|kvm (= --accel interp|jit), -kernel IMAGE, -machine q35, -nodefaults,\n-display none, -serial stdio, -no-reboot, -netdev, -device, -nic, -object, -append, -m.")
    .addHelpText(
      "after",
      "\nExit status: the guest's isa-debug-exit status ((value << 1) | 1); 0 when the guest resets the machine\n" +
        "(as qemu -no-reboot); 1 for a bad image, 2 for a bad command line, 4 for a triple fault or a CPU\n" +
        "halted for good, 124 when --timeout expires, 70 for an internal error.",
    )
    .action(async (image: string | undefined, options: BootOptions) => {
      setExitCode(await runBoot(image, options, io));
    });
}

function parseTimeout(text: string): number {
  const value = Number(text.trim());
  if (!/^\s*[0-9]*\.?[0-9]+\s*$/.test(text) || !Number.isFinite(value) || value <= 0) {
    throw new UsageError(`--timeout: expected a positive number of seconds, got ${JSON.stringify(text)}`);
  }
  return value;
}

function parseRtcBase(text: string): Date {
  if (text === "utc") return new Date();
  const date = new Date(text);
  if (Number.isNaN(date.getTime())) throw new UsageError(`--rtc-base: expected utc or an ISO date like 2024-01-01T00:00:00Z, got ${JSON.stringify(text)}`);
  return date;
}

/** Boots `image` and runs it to the end; resolves to the exit status. */
export async function runBoot(image: string | undefined, options: BootOptions, io: BootIo): Promise<number> {
  let memoryMiB = DEFAULT_MEMORY_MIB;
  if (options.memory !== undefined) {
    memoryMiB = parseCount(options.memory, "-m/--memory");
    if (memoryMiB < 2 || memoryMiB > MAX_RAM_MIB) {
      throw new UsageError(`-m/--memory: guest RAM must be 2..${MAX_RAM_MIB} MiB (q35 keeps it below 4 GiB), got ${memoryMiB}`);
    }
  }
  checkFixedOptions(options);
  const network = parseNetworkOptions(options.netdev ?? [], options.device ?? [], options.nic ?? [], options.object ?? []);

  const timeoutSeconds = options.timeout !== undefined ? parseTimeout(options.timeout) : undefined;
  const rtcBase = parseRtcBase(options.rtcBase ?? (options.clock === "virtual" ? VIRTUAL_RTC_BASE : "utc"));

  const profiler = BootProfiler.fromOptions(options);
  const jitOptions = {
    threshold: options.jitThreshold !== undefined ? parseJitThreshold(options.jitThreshold) : undefined,
    onCompile: options.jitDump !== undefined ? jitDumper(options.jitDump) : undefined,
    sourceMaps: options.jitSourceMaps === true || options.jitDump !== undefined || process.env.X64EMU_DEBUG === "1",
    backend: options.jitBackend === "js" ? ("js" as const) : ("wasm" as const),
  };

  const path = image ?? DEFAULT_IMAGE;
  let bytes: Uint8Array;
  try {
    bytes = readRegularFile(path);
  } catch (error) {
    if (image === undefined && error instanceof CliError && /no such file/.test(error.message)) {
      throw new CliError(`${DEFAULT_IMAGE}: no such file (build the default guest image with \`npm run build:guest\`, or name an image)`);
    }
    throw error;
  }
  // the NICs' user-mode backends: their host listeners are bound (and a busy port reported)
  // before the guest starts
  let machine: PcMachine | null = null;
  const backends: UserNetBackend[] = [];
  try {
    for (const nic of network.nics) {
      const netdev = network.netdevs.find((n) => n.id === nic.netdev)!;
      const dump = network.dumps.find((d) => d.netdev === nic.netdev);
      const backend = new UserNetBackend({ hostForwards: netdev.hostForwards, restrict: netdev.restrict, pcap: dump?.file, wake: () => machine?.wake() });
      backends.push(backend);
      await backend.ready;
    }
  } catch (error) {
    for (const backend of backends) backend.close();
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  try {
    machine = new PcMachine({
      memoryMiB, clock: options.clock, rtcBase, onSerialOutput: (chunk) => io.serial(chunk),
      accel: options.accel,
      jit: jitOptions,
      nics: network.nics.map((nic, i) => ({ backend: backends[i], mac: nic.mac })),
      log: (line) => io.stderr(`${line}\n`),
    });
    machine.boot(parseMultibootKernel(bytes), path, options.append ?? "");
    profiler?.attach(machine, bytes, path);
  } catch (error) {
    for (const backend of backends) backend.close();
    if (error instanceof MultibootError) throw new CliError(`${path}: ${error.message}`);
    throw error;
  }

  const detachInput = attachInput(machine, io.stdin ?? null);
  const started = performance.now();
  let reason: StopReason;
  try {
    reason = await machine.run({ timeoutSeconds });
  } finally {
    detachInput();
    for (const backend of backends) backend.close();
  }
  const wallSeconds = (performance.now() - started) / 1000;
  if (options.stats) {
    const instructions = machine.cpu.retired;
    const mips = instructions / wallSeconds / 1e6;
    io.stderr(
      `stats: ${instructions} guest instructions in ${wallSeconds.toFixed(3)} s wall time, ${mips.toFixed(2)} MIPS ` +
        `(accel ${options.accel}, clock ${options.clock}, TSC ${TSC_HZ / 1e6} MHz)\n`,
    );
    if (machine.jit !== null) io.stderr(formatJitStats(machine.jit.stats(), instructions));
    network.nics.forEach((nic, i) => {
      const counters = Object.entries(backends[i].stats()).filter(([name, value]) => value !== 0 && !name.startsWith("now."));
      io.stderr(`stats: netdev ${nic.netdev}: ${counters.map(([name, value]) => `${name} ${value}`).join(", ")}\n`);
    });
  }
  const status = report(reason, machine, io);
  profiler?.finish(machine, (text) => io.stderr(text));
  return status;
}

function parseJitThreshold(text: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < 1) throw new UsageError(`--jit-threshold: expected a positive whole number, got '${text}'`);
  return value;
}

/** --jit-dump: writes each unit's source (and source map) into `dir`, which is created if needed. */
function jitDumper(dir: string): (unit: Unit) => void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (error) {
    throw new CliError(`--jit-dump: cannot create directory '${dir}': ${(error as Error).message}`);
  }
  return (unit) => writeUnitFiles(dir, unit);
}

function report(reason: StopReason, machine: PcMachine, io: BootIo): number {
  switch (reason.kind) {
    case "exit":
      return reason.status;
    case "reset":
      io.stderr(`x64emu: the guest reset the machine (${reason.source}); stopping as qemu -no-reboot does\n`);
      return 0;
    case "triple-fault":
    case "halted":
      io.stderr(`error: ${oneLine(reason.message)}\n${reason.dump}\n`);
      return EXIT_GUEST_FAULT;
    case "timeout":
      io.stderr(`error: timeout: the guest was still running after ${reason.seconds} s (${machine.cpu.retired} instructions retired)\n`);
      return EXIT_TIMEOUT;
    case "instruction-limit":
      io.stderr(`error: the guest was still running after ${reason.limit} instructions\n`);
      return EXIT_TIMEOUT;
    case "divergence":
      io.stderr(`error: ${reason.report}\n`);
      return EXIT_DIVERGENCE;
    case "internal-error":
      io.stderr(`error: internal error: ${oneLine(reason.message)} (set X64EMU_DEBUG=1 for details)\n`);
      if (process.env.X64EMU_DEBUG && reason.error instanceof Error && reason.error.stack) io.stderr(reason.error.stack + "\n");
      return EXIT_INTERNAL;
  }
}

/** Feeds `stream` to the guest's UART; returns the function that stops it. */
function attachInput(machine: PcMachine, stream: NodeJS.ReadableStream | null): () => void {
  if (stream === null) return () => {};
  machine.inputOpen = true;
  const onData = (chunk: Buffer | string) => machine.receiveInput(typeof chunk === "string" ? Buffer.from(chunk) : chunk);
  const onEnd = () => machine.closeInput();
  stream.on("data", onData);
  stream.on("end", onEnd);
  stream.on("error", onEnd);
  return () => {
    stream.off("data", onData);
    stream.off("end", onEnd);
    stream.off("error", onEnd);
    stream.pause();
    (stream as { destroy?: () => void }).destroy?.();
  };
}

/** process.stdin when file descriptor 0 is something to read (pipe, file, terminal), else null. */
export function processStdin(): NodeJS.ReadableStream | null {
  try {
    const stats = fstatSync(0);
    if (stats.isFIFO() || stats.isSocket() || stats.isFile() || stats.isCharacterDevice()) return process.stdin;
  } catch {
    // no standard input at all
  }
  return null;
}
