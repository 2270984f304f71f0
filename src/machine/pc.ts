// The PC: RAM, the port bus and the q35 devices a -kernel guest sees on QEMU 7.2 (-nodefaults), the
// CPU and its interpreter, the multiboot loader, and the run loop.
//
// The run loop executes instructions in batches. Between batches it services device time (PIT,
// UART character timeout, RTC interrupts) and host input; a batch never runs past the next timer
// deadline in virtual time, so interrupts arrive at exactly the same instruction in every run. HLT
// with IF=1 waits for the next event: the realtime clock sleeps the host until then, the virtual
// clock jumps to it. The run ends on isa-debug-exit, a reset request, a triple fault, HLT with
// IF=0 (nothing can wake the CPU), the instruction limit or the caller's timeout.
import { performance } from "node:perf_hooks";
import { IF } from "../decoder/flags.js";
import { Clock, NS_PER_INSTRUCTION, TSC_HZ, type ClockKind } from "./clock.js";
import { describeFatal, registerDump } from "./cpu-dump.js";
import { Cpu } from "./cpu.js";
import { CmosRtc, RTC_IRQ } from "./devices/cmos-rtc.js";
import { DEBUG_EXIT_PORT, DEBUG_EXIT_SIZE, DebugExit, debugExitStatus } from "./devices/debug-exit.js";
import { I8042 } from "./devices/i8042.js";
import { Pit, SpeakerPort } from "./devices/i8254.js";
import { PicPair } from "./devices/i8259.js";
import { PciHost, q35Functions, type PciFunction } from "./devices/pci.js";
import { FastA20Port, PostPort } from "./devices/system-ports.js";
import { COM1_BASE, COM1_IRQ, Uart16550 } from "./devices/uart16550.js";
import { VirtioNetPci } from "./devices/virtio-net-pci.js";
import { JitEngine, type JitOptions } from "../jit/engine.js";
import { JitDivergence } from "../jit/lockstep.js";
import { MAX_BLOCK_INSTRUCTIONS } from "../jit/discover.js";
import { Interpreter } from "./interp/interpreter.js";
import { TripleFault } from "./interrupts.js";
import { PortBus } from "./io-bus.js";
import { PhysicalMemory } from "./memory.js";
import { MAX_RAM_MIB, ROM_GDT_ADDRESS, ROM_GDT_ADDRESS_WITH_NIC, loadMultiboot, setMultibootEntryState, type BootInfo, type MultibootKernel } from "./multiboot.js";
import type { NetBackend } from "./net/backend.js";

export const DEFAULT_MEMORY_MIB = 512;
/** instructions per batch between device-time checks */
const BATCH = 4096;
/**
 * The same with the virtual clock, where a device deadline cuts the batch exactly anyway: a batch
 * end then only lets host events in, and the JIT must leave the last instructions before it to the
 * interpreter (the end is exact), so fewer ends are cheaper.
 */
const VIRTUAL_BATCH = 65536;
/** wall time one slice of run() executes before yielding to the host event loop */
const SLICE_MS = 20;
/** how long after host I/O a halted guest's next event is awaited by spinning (see run()) */
const HALT_POLL_MS = 50;

export type StopReason =
  | { kind: "exit"; value: number; status: number }
  | { kind: "reset"; source: string }
  | { kind: "triple-fault"; message: string; dump: string }
  | { kind: "halted"; message: string; dump: string }
  | { kind: "timeout"; seconds: number }
  | { kind: "instruction-limit"; limit: number }
  | { kind: "internal-error"; message: string; error: unknown }
  | { kind: "divergence"; report: string };

/** A network card: QEMU's `-netdev ...,id=n0 -device virtio-net-pci,netdev=n0[,mac=...]`. */
export interface NicOptions {
  /** what the card is plugged into (user-mode NAT, ...); attached when the machine is built */
  backend: NetBackend;
  /** default 52:54:00:12:34:56, as QEMU's first NIC */
  mac?: Uint8Array;
}

export interface MachineOptions {
  /** guest RAM in MiB (1..2815; default 512) */
  memoryMiB?: number;
  clock?: ClockKind;
  /** serial output, in order, flushed between batches and when the run ends */
  onSerialOutput?: (bytes: Uint8Array) => void;
  /** the RTC's time at boot (default: the host's clock) */
  rtcBase?: Date;
  /** execution engine: the interpreter alone (default), or the JIT with the interpreter as fallback */
  accel?: "interp" | "jit" | "check";
  /** JIT tuning (threshold, regions, …) */
  jit?: JitOptions;
  /**
   * Network cards: none (default, as -nodefaults) or one, a virtio-net-pci at 00:01.0 (a second
   * card would move every BAR SeaBIOS assigns; not modelled).
   */
  nics?: NicOptions[];
  /** device messages (a virtqueue the guest broke, MSI-X without an APIC, ...), one line each; default stderr */
  log?: (line: string) => void;
}

export interface RunOptions {
  /** wall-clock limit in seconds */
  timeoutSeconds?: number;
  /** stop after this many retired instructions */
  maxInstructions?: number;
}

/**
 * Something that looks at the CPU every so many retired instructions (--profile,
 * src/profile/sampler.ts). The run loop ends a batch `windowLength` instructions before
 * `nextSample` and calls `startWindow()` as the next batch starts, ends a batch where `nextSample`
 * falls, and calls `sample()` once cpu.retired has reached it (a compiled unit may overrun a batch
 * end by up to one block, see BatchLimit.batchSlack). `sample()` moves `nextSample` forward; neither
 * call may change guest state.
 */
export interface BatchSampler {
  nextSample: number;
  windowLength: number;
  startWindow(): void;
  sample(): void;
}

/** Host input still to come: when the guest waits for it, run() waits for `receiveInput`. */
export interface InputState {
  open: boolean;
}

export class PcMachine {
  readonly memory: PhysicalMemory;
  readonly ports = new PortBus();
  readonly cpu: Cpu;
  readonly interpreter: Interpreter;
  /** the JIT, with --accel jit */
  readonly jit: JitEngine | null;
  readonly clock: Clock;
  readonly pic = new PicPair();
  readonly pit: Pit;
  readonly speaker: SpeakerPort;
  readonly uart: Uart16550;
  readonly rtc: CmosRtc;
  readonly pci: PciHost;
  /** the network cards (virtio-net-pci), as MachineOptions.nics asked */
  readonly nics: VirtioNetPci[] = [];
  readonly debugExit = new DebugExit();
  readonly keyboard = new I8042();
  readonly postPort = new PostPort();
  readonly fastA20 = new FastA20Port();
  readonly tscHz = TSC_HZ;
  bootInfo: BootInfo | null = null;
  /** whether host input may still arrive (set by whoever feeds receiveInput) */
  inputOpen = false;
  /** --profile's sampler, or null (then the run loop does no more than test for null per batch) */
  sampler: BatchSampler | null = null;

  private stopReason: StopReason | null = null;
  /** guest ns of the earliest device deadline */
  private nextDeadline = Infinity;
  /** the current batch stops when cpu.retired reaches this (devices move it; the JIT reads it) */
  batchEnd = 0;
  /** see BatchLimit: how far compiled code may run past batchEnd (realtime clock, no instruction limit) */
  batchSlack = 0;
  private readonly onSerialOutput: (bytes: Uint8Array) => void;
  private output = new Uint8Array(4096);
  private outputLength = 0;
  private inputWaiter: (() => void) | null = null;
  /** when host I/O last woke (or would have woken) the run loop: halt polling follows it */
  private lastHostIoMs = -Infinity;

  constructor(options: MachineOptions = {}) {
    const memoryMiB = options.memoryMiB ?? DEFAULT_MEMORY_MIB;
    if (!Number.isInteger(memoryMiB) || memoryMiB < 2 || memoryMiB > MAX_RAM_MIB) {
      throw new RangeError(`guest RAM must be 2..${MAX_RAM_MIB} MiB (q35 keeps that much below 4 GiB), got ${memoryMiB}`);
    }
    this.memory = new PhysicalMemory(memoryMiB * 1024 * 1024);
    this.cpu = new Cpu(this.memory, this.ports);
    this.interpreter = new Interpreter(this.cpu);
    this.interpreter.interruptController = this.pic;
    this.interpreter.onRepUnfinished = () => { this.batchEnd = 0; };
    this.jit = options.accel === "jit" || options.accel === "check"
      ? new JitEngine(this.cpu, this.interpreter, { ...options.jit, check: options.accel === "check" })
      : null;
    this.clock = new Clock(options.clock ?? "realtime", this.cpu);
    this.clock.attach();
    const now = this.clock.now;
    this.onSerialOutput = options.onSerialOutput ?? (() => {});

    const pic = this.pic;
    pic.resetToBiosState();
    pic.register(this.ports);

    this.pit = new Pit(now);
    this.pit.onIrq = (level) => pic.setIrq(0, level);
    this.pit.resetToBiosState();
    this.ports.register(0x40, 4, this.pit);
    this.speaker = new SpeakerPort(this.pit, now);
    this.ports.register(0x61, 1, this.speaker);

    this.uart = new Uart16550(now);
    this.uart.onIrq = (level) => pic.setIrq(COM1_IRQ, level);
    this.uart.onTransmit = (byte) => this.serialByte(byte);
    this.uart.onDeadlineChange = () => this.deadlinesChanged();
    this.ports.register(COM1_BASE, 8, this.uart);

    this.rtc = new CmosRtc(now, options.rtcBase ?? new Date(), this.memory.ramSize);
    this.rtc.onIrq = (level) => pic.setIrq(RTC_IRQ, level);
    this.rtc.onDeadlineChange = () => this.deadlinesChanged();
    this.ports.register(0x70, 2, this.rtc);

    const nicOptions = options.nics ?? [];
    if (nicOptions.length > 1) throw new RangeError(`at most one NIC is modelled (virtio-net-pci at 00:01.0), got ${nicOptions.length}`);
    const functions = q35Functions({ nic: nicOptions.length > 0 });
    for (const nic of nicOptions) {
      this.nics.push(new VirtioNetPci({ memory: this.memory, ports: this.ports, mac: nic.mac, log: options.log }));
    }
    this.pci = new PciHost([...functions, ...this.nics]);
    // ICH9 routes INTA of slot 1 to PIRQF, whose routing register is the LPC bridge's 0x69.
    for (const nic of this.nics) nic.onIntx = pirqRouter(pic, this.pci.find(31, 0)!, 0x69);
    this.pci.onReset = () => this.stop({ kind: "reset", source: "reset control register, port 0xcf9" });
    this.ports.register(0xcf8, 8, this.pci);

    this.debugExit.onExit = (value) => this.stop({ kind: "exit", value, status: debugExitStatus(value) });
    this.ports.register(DEBUG_EXIT_PORT, DEBUG_EXIT_SIZE, this.debugExit);

    this.keyboard.onIrq = (irq, level) => pic.setIrq(irq, level);
    this.keyboard.onReset = () => this.stop({ kind: "reset", source: "keyboard controller, port 0x64" });
    this.ports.register(0x60, 1, this.keyboard);
    this.ports.register(0x64, 1, this.keyboard);
    this.ports.register(0x80, 1, this.postPort);
    this.fastA20.onReset = () => this.stop({ kind: "reset", source: "fast reset, port 0x92" });
    this.ports.register(0x92, 1, this.fastA20);
    this.pit.onDeadlineChange = () => this.deadlinesChanged();
    this.deadlinesChanged();
    nicOptions.forEach((nic, i) => this.nics[i]!.attachBackend(nic.backend));
  }

  /** Loads a parsed multiboot kernel and sets the CPU at its entry, as QEMU's -kernel does. */
  boot(kernel: MultibootKernel, kernelPath: string, args: string): BootInfo {
    const gdtAddress = this.nics.length > 0 ? ROM_GDT_ADDRESS_WITH_NIC : ROM_GDT_ADDRESS;
    const info = loadMultiboot(this.memory, kernel, kernelPath, args, gdtAddress);
    setMultibootEntryState(this.cpu, kernel, info, gdtAddress);
    this.bootInfo = info;
    return info;
  }

  /** Ends the run at the end of the current instruction. */
  stop(reason: StopReason): void {
    if (this.stopReason === null) this.stopReason = reason;
    this.batchEnd = 0;
  }

  /** A run stopped by its instruction limit or timeout can go on. */
  private clearResumableStop(): void {
    const kind = this.stopReason?.kind;
    if (kind === "instruction-limit" || kind === "timeout") this.stopReason = null;
  }

  /** Host bytes for the UART's receiver. */
  receiveInput(bytes: ArrayLike<number>): void {
    this.uart.receive(bytes);
    this.wakeInputWaiter();
  }

  /** No more host input will come. */
  closeInput(): void {
    this.inputOpen = false;
    this.wakeInputWaiter();
  }

  /**
   * Host I/O (a network backend) has something for the guest: a run loop that sleeps because the
   * guest halted wakes up now (HostWake, src/machine/net/backend.ts).
   */
  wake(): void {
    this.wakeInputWaiter();
  }

  private wakeInputWaiter(): void {
    this.lastHostIoMs = performance.now();
    const waiter = this.inputWaiter;
    this.inputWaiter = null;
    waiter?.();
  }

  // ---- serial output -----------------------------------------------------------------------------

  private serialByte(byte: number): void {
    if (this.outputLength === this.output.length) {
      const bigger = new Uint8Array(this.output.length * 2);
      bigger.set(this.output);
      this.output = bigger;
    }
    this.output[this.outputLength++] = byte;
  }

  /** Hands buffered serial output to the sink. */
  flushOutput(): void {
    if (this.outputLength === 0) return;
    const chunk = this.output.slice(0, this.outputLength);
    this.outputLength = 0;
    this.onSerialOutput(chunk);
  }

  // ---- time ------------------------------------------------------------------------------------

  /** A device's deadline may have moved: recompute, and cut the batch there (virtual time). */
  private deadlinesChanged(): void {
    const next = Math.min(this.pit.nextDeadline(), this.uart.nextDeadline(), this.rtc.nextDeadline());
    this.nextDeadline = next;
    if (this.clock.kind === "virtual" && next !== Infinity) {
      const instructions = Math.ceil((next - this.clock.now()) / NS_PER_INSTRUCTION);
      const end = this.cpu.retired + Math.max(instructions, 0);
      if (end < this.batchEnd) this.batchEnd = end;
    }
  }

  private serviceDevices(now: number): void {
    this.pit.service(now);
    this.uart.service(now);
    this.rtc.service(now);
    this.deadlinesChanged();
  }

  // ---- running -----------------------------------------------------------------------------------

  /**
   * Runs until the guest stops (or `options` stop it). Yields to the host event loop every
   * SLICE_MS of execution so host input and timers get through.
   */
  async run(options: RunOptions = {}): Promise<StopReason> {
    this.clearResumableStop();
    const started = performance.now();
    const timeoutMs = options.timeoutSeconds !== undefined ? options.timeoutSeconds * 1000 : Infinity;
    const limit = options.maxInstructions ?? Infinity;
    for (;;) {
      const waitNs = this.runSlice(performance.now() + SLICE_MS, limit);
      this.flushOutput();
      if (this.stopReason !== null) return this.stopReason;
      const elapsed = performance.now() - started;
      if (elapsed >= timeoutMs) {
        this.stop({ kind: "timeout", seconds: options.timeoutSeconds! });
        return this.stopReason!;
      }
      if (waitNs === 0) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        continue;
      }
      // Halted: sleep until the next timer event, host input, or the timeout.
      const remaining = timeoutMs - elapsed;
      const waitMs = Math.min(waitNs / 1e6, remaining);
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.inputWaiter = null;
          resolve();
        };
        // Halt polling, as KVM's halt_poll_ns: within HALT_POLL_MS of host I/O (a NIC's backend,
        // stdin), an event due within 2 ms is awaited by spinning through the event loop, which
        // keeps the next request's latency low (waking a sleeping process costs more than a small
        // request's work here). Otherwise sleep in the event loop, which host I/O wakes at once;
        // Node's timers have millisecond steps, so sleep until just before the event — a guest
        // ticking at 1 kHz would otherwise keep a host core busy while it idles.
        let timer: ReturnType<typeof setTimeout> | undefined;
        if (waitMs < 2 && performance.now() - this.lastHostIoMs < HALT_POLL_MS) setImmediate(done);
        else if (waitMs !== Infinity) timer = setTimeout(done, Math.max(1, Math.floor(waitMs) - 1));
        // a NIC's backend wakes us (wake()); this timer only keeps the process alive meanwhile,
        // since the backend's own timers do not
        else if (this.nics.length > 0) timer = setTimeout(done, 1000);
        this.inputWaiter = done;
      });
    }
  }

  /**
   * Runs until the guest stops or the instruction limit, without waiting for the host (virtual
   * clock; a guest waiting for input that is not there stops as halted). For tests.
   */
  runSync(options: { maxInstructions?: number } = {}): StopReason {
    const limit = options.maxInstructions ?? Infinity;
    this.clearResumableStop();
    this.inputOpen = false;
    for (;;) {
      const waitNs = this.runSlice(Infinity, limit);
      this.flushOutput();
      if (this.stopReason !== null) return this.stopReason;
      if (waitNs === Infinity) {
        this.stop(this.haltedForever("guest halted waiting for host input, and there is none"));
        return this.stopReason!;
      }
      if (waitNs !== 0) this.clock.skipTo(this.clock.now() + waitNs);
    }
  }

  /**
   * Executes batches until `sliceEndMs` (host time), a stop, or a halt that must wait for the host.
   * Returns 0, or the guest ns to wait (Infinity: until host input) when halted.
   */
  private runSlice(sliceEndMs: number, limit: number): number {
    const cpu = this.cpu;
    const interpreter = this.interpreter;
    const jit = this.jit;
    const clock = this.clock;
    const virtual = clock.kind === "virtual";
    const sampler = this.sampler;
    for (;;) {
      if (this.stopReason !== null) return 0;
      if (cpu.retired >= limit) {
        this.stop({ kind: "instruction-limit", limit });
        return 0;
      }
      const now = clock.now();
      if (now >= this.nextDeadline) this.serviceDevices(now);
      if (this.uart.hasQueuedInput()) this.uart.pumpInput();
      if (cpu.halted) {
        if ((cpu.getFlags() & IF) === 0) {
          this.stop(this.haltedForever("guest halted with interrupts disabled"));
          return 0;
        }
        if (!this.pic.pending) {
          const next = this.nextDeadline;
          if (!this.canWake()) {
            this.stop(this.haltedForever("guest halted waiting for an interrupt that cannot come (no timer or device the PIC would deliver — masked, or behind an IRQ still in service without EOI — and no host input)"));
            return 0;
          }
          if (virtual && next !== Infinity) {
            clock.skipTo(next);
            // never loop here for good: the caller's timeout gets its turn
            if (performance.now() >= sliceEndMs) return 0;
            continue;
          }
          return next === Infinity ? Infinity : Math.max(1, next - now);
        }
      }
      // A batch: up to BATCH (VIRTUAL_BATCH) instructions, and (virtual time) not past the next deadline.
      let count = virtual ? VIRTUAL_BATCH : BATCH;
      if (virtual && this.nextDeadline !== Infinity) {
        count = Math.min(count, Math.max(1, Math.ceil((this.nextDeadline - now) / NS_PER_INSTRUCTION)));
      }
      if (limit !== Infinity) count = Math.min(count, limit - cpu.retired);
      if (sampler !== null) {
        const untilSample = sampler.nextSample - cpu.retired;
        if (untilSample > sampler.windowLength) count = Math.min(count, untilSample - sampler.windowLength);
        else {
          count = Math.min(count, Math.max(1, untilSample));
          sampler.startWindow();
        }
      }
      this.batchEnd = cpu.retired + count;
      this.batchSlack = virtual || limit !== Infinity ? 0 : MAX_BLOCK_INSTRUCTIONS;
      // Interrupt deliveries and faults do not retire: bound the steps too.
      let steps = count + 64;
      try {
        // A halted CPU with an interrupt pending: step() delivers it.
        if (cpu.halted) interpreter.step();
        if (jit !== null) jit.run(this, steps);
        else interpreter.run(this, steps);
      } catch (error) {
        if (error instanceof JitDivergence) {
          this.stop({ kind: "divergence", report: error.report });
        } else if (error instanceof TripleFault) {
          this.stop({ kind: "triple-fault", message: describeFatal(cpu, error.message), dump: registerDump(cpu) });
        } else {
          const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
          this.stop({ kind: "internal-error", message: describeFatal(cpu, message), error });
        }
        return 0;
      }
      if (sampler !== null && cpu.retired >= sampler.nextSample) sampler.sample();
      if (performance.now() >= sliceEndMs) return 0;
    }
  }

  /**
   * Whether an interrupt can still reach a halted CPU: a device event on an IRQ the PIC lets
   * through (not masked, not blocked by an in-service IRQ whose handler never sent EOI), or host input.
   */
  private canWake(): boolean {
    // asked at every halt: no closures here (tsx wraps each in a naming helper that costs more than the check)
    const pic = this.pic;
    if (this.pit.nextDeadline() !== Infinity && pic.wouldDeliver(0)) return true;
    if (this.rtc.nextDeadline() !== Infinity && pic.wouldDeliver(RTC_IRQ)) return true;
    // The UART interrupts only for what IER enables; host input matters only if it does.
    const uartEvents = this.uart.nextDeadline() !== Infinity || this.inputOpen || this.uart.hasQueuedInput();
    if (uartEvents && this.uart.ier !== 0 && pic.wouldDeliver(COM1_IRQ)) return true;
    // a NIC: host traffic may come at any time, on the line the firmware routed it to
    for (let i = 0; i < this.nics.length; i++) if (pic.wouldDeliver(this.nics[i].interruptLine())) return true;
    return false;
  }

  private haltedForever(cause: string): StopReason {
    const cpu = this.cpu;
    // HLT has retired: RIP is past it. Name the HLT when that is what precedes RIP.
    let message: string;
    try {
      const hltAt = cpu.next(cpu.rip, -1);
      message = cpu.mmu.fetch8(hltAt) === 0xf4
        ? `${cause} (hlt at rip 0x${hltAt.toString(16)})`
        : describeFatal(cpu, cause);
    } catch {
      message = describeFatal(cpu, cause);
    }
    return { kind: "halted", message, dump: registerDump(cpu) };
  }
}

/**
 * A PCI interrupt pin through the ICH9 PIRQ router: the LPC bridge's routing register `register`
 * picks the PIC input (low 4 bits) unless its bit 7 disables the route, as QEMU's lpc_ich9.c. The
 * input driven high is the one lowered, even if the guest re-routes in between.
 */
function pirqRouter(pic: PicPair, lpc: PciFunction, register: number): (level: boolean) => void {
  let driven = -1;
  return (level) => {
    if (!level) {
      if (driven >= 0) pic.setIrq(driven, false);
      driven = -1;
      return;
    }
    const route = lpc.config[register]!;
    if (route & 0x80) return;
    driven = route & 0x0f;
    pic.setIrq(driven, true);
  };
}
