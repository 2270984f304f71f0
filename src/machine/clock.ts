// Guest time. Every device that keeps time (PIT, RTC, UART timeouts) and the TSC read one clock, in
// nanoseconds since the machine started:
//
// - realtime: host monotonic time (performance.now), so guest timings are honest;
// - virtual: the guest's retired-instruction count times NS_PER_INSTRUCTION, plus the time skipped
//   while the CPU sat in HLT waiting for the next timer event. The same image, arguments and engine
//   then always produce the same output and instruction count.
//
// The TSC runs at TSC_HZ (1 GHz: one tick per nanosecond) in both modes; CPUID does not report the
// frequency, so guests calibrate it against the PIT as on real hardware.
import { performance } from "node:perf_hooks";
import type { Cpu } from "./cpu.js";

export type ClockKind = "realtime" | "virtual";

export const TSC_HZ = 1_000_000_000;
/** virtual clock: guest nanoseconds per retired instruction */
export const NS_PER_INSTRUCTION = 1;

export class Clock {
  /** host time (ms, performance.now) the realtime clock counts from */
  private readonly startMs: number;
  /** virtual clock: nanoseconds added while halted */
  private skipped = 0;

  constructor(readonly kind: ClockKind, private readonly cpu: Cpu) {
    this.startMs = performance.now();
    this.now = kind === "virtual" ? () => this.virtualNow() : () => this.realtimeNow();
  }

  /** Guest nanoseconds since the machine started (an integer). */
  now: () => number;

  private virtualNow(): number {
    return this.cpu.retired * NS_PER_INSTRUCTION + this.skipped;
  }

  private realtimeNow(): number {
    return Math.floor((performance.now() - this.startMs) * 1e6);
  }

  /**
   * Virtual clock: moves time forward to `ns` (the CPU is halted and the next event is then).
   * Realtime clock: nothing to do, host time moves by itself.
   */
  skipTo(ns: number): void {
    if (this.kind !== "virtual") return;
    const now = this.virtualNow();
    if (ns > now) this.skipped += ns - now;
  }

  /** The TSC value for the current time (TSC_HZ = 1 GHz: nanoseconds). */
  tsc(): number {
    return this.now();
  }

  /** Attaches the clock to the CPU's RDTSC. */
  attach(): void {
    this.cpu.tscSource = () => this.now();
  }
}

// Exact tick arithmetic for devices whose input clock is not a divisor of 1 GHz (the PIT's
// 1.193182 MHz): splitting at whole seconds keeps every product below 2^53.

/** floor(ns * hz / 1e9) for ns >= 0. */
export function nsToTicks(ns: number, hz: number): number {
  const seconds = Math.floor(ns / 1e9);
  const rest = ns - seconds * 1e9;
  return seconds * hz + Math.floor((rest * hz) / 1e9);
}

/** floor(ticks * 1e9 / hz) for ticks >= 0. */
export function ticksToNs(ticks: number, hz: number): number {
  const seconds = Math.floor(ticks / hz);
  const rest = ticks - seconds * hz;
  return seconds * 1e9 + Math.floor((rest * 1e9) / hz);
}
