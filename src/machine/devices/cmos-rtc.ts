// The CMOS RTC (MC146818) at 0x70 (index; bit 7 is the NMI mask, ignored) and 0x71 (data), 128
// bytes. As QEMU's hw/rtc/mc146818rtc.c: the clock registers (0x00-0x09, century at 0x32) are
// computed from a base time plus guest time, in BCD or binary per status B bit 2 and in 12- or
// 24-hour form per bit 1; status A's UIP bit is set in the last 244 µs of every second; C reports
// (and clears on read) the periodic, alarm and update-ended flags; D reads 0x80 (valid RAM/time).
// Writing the clock registers sets the time. The rest of the bytes are the CMOS image QEMU 7.2 q35
// shows a -kernel guest (equipment, boot order, the memory sizes for -m, read back by
// test/fixtures/guest/probe.c).
import type { AccessSize } from "../memory.js";
import type { PortDevice } from "../io-bus.js";

const REG_A = 0x0a, REG_B = 0x0b, REG_C = 0x0c, REG_D = 0x0d;
const REG_A_UIP = 0x80;
const REG_B_SET = 0x80, REG_B_PIE = 0x40, REG_B_AIE = 0x20, REG_B_UIE = 0x10, REG_B_DM = 0x04, REG_B_24H = 0x02;
const REG_C_IRQF = 0x80, REG_C_PF = 0x40, REG_C_AF = 0x20, REG_C_UF = 0x10;
const CENTURY = 0x32;
const UIP_HOLD_NS = Math.floor((8 * 1e9) / 32768);
const NS_PER_SECOND = 1e9;

export const RTC_IRQ = 8;

/** The CMOS bytes QEMU fills for the memory size (pc_cmos_init), for a machine with `ramBytes` below 4 GiB. */
export function memorySizeBytes(ramBytes: number): Array<[number, number]> {
  const KiB = 1024, MiB = 1024 * 1024;
  const base = Math.min(ramBytes / KiB, 640);
  let extended = ramBytes > MiB ? Math.floor((ramBytes - MiB) / KiB) : 0;
  if (extended > 65535) extended = 65535;
  let above16 = ramBytes > 16 * MiB ? Math.floor((ramBytes - 16 * MiB) / (64 * KiB)) : 0;
  if (above16 > 65535) above16 = 65535;
  const above4g = 0;
  return [
    [0x15, base & 0xff], [0x16, (base >> 8) & 0xff],
    [0x17, extended & 0xff], [0x18, extended >> 8],
    [0x30, extended & 0xff], [0x31, extended >> 8],
    [0x34, above16 & 0xff], [0x35, above16 >> 8],
    [0x5b, above4g & 0xff], [0x5c, (above4g >> 8) & 0xff], [0x5d, (above4g >> 16) & 0xff],
  ];
}

function toBcd(value: number): number {
  return ((Math.floor(value / 10) % 10) << 4) | (value % 10);
}

function fromBcd(value: number): number {
  return (value >> 4) * 10 + (value & 0x0f);
}

export class CmosRtc implements PortDevice {
  readonly data = new Uint8Array(128);
  index = 0;
  /** Unix time (seconds) of guest time 0 */
  private baseSeconds: number;
  /** guest ns of the last C read, for the flags it reports */
  private lastFlagsCheck = 0;
  irqLevel = false;
  onIrq: (level: boolean) => void = () => {};
  /** called when the next interrupting event may have moved (A, B or C changed) */
  onDeadlineChange: () => void = () => {};

  constructor(private readonly now: () => number, baseTime: Date, ramBytes: number) {
    this.baseSeconds = Math.floor(baseTime.getTime() / 1000);
    const data = this.data;
    data[REG_A] = 0x26;
    data[REG_B] = REG_B_24H;
    data[REG_D] = 0x80;
    data[0x14] = 0x06; // equipment: FPU, PS/2 mouse
    data[0x37] = 0x20;
    data[0x38] = 0x30; // boot order (QEMU's defaults)
    data[0x3d] = 0x12;
    for (const [at, value] of memorySizeBytes(ramBytes)) data[at] = value;
    this.formatClock(this.now());
  }

  // ---- time ------------------------------------------------------------------------------------

  /** The RTC's Unix time (whole seconds) at guest time `now`. */
  private secondsAt(now: number): number {
    return this.baseSeconds + Math.floor(now / NS_PER_SECOND);
  }

  private running(): boolean {
    return (this.data[REG_B]! & REG_B_SET) === 0 && (this.data[REG_A]! & 0x70) <= 0x20;
  }

  private updateInProgress(now: number): boolean {
    if (!this.running()) return false;
    return now % NS_PER_SECOND >= NS_PER_SECOND - UIP_HOLD_NS;
  }

  private encode(value: number): number {
    return this.data[REG_B]! & REG_B_DM ? value : toBcd(value);
  }

  private decode(value: number): number {
    return this.data[REG_B]! & REG_B_DM ? value : fromBcd(value);
  }

  /** Writes the clock registers for guest time `now`. */
  private formatClock(now: number): void {
    const date = new Date(this.secondsAt(now) * 1000);
    const data = this.data;
    data[0] = this.encode(date.getUTCSeconds());
    data[2] = this.encode(date.getUTCMinutes());
    const hours = date.getUTCHours();
    if (data[REG_B]! & REG_B_24H) {
      data[4] = this.encode(hours);
    } else {
      const twelve = hours % 12 === 0 ? 12 : hours % 12;
      data[4] = this.encode(twelve) | (hours >= 12 ? 0x80 : 0);
    }
    data[6] = this.encode(date.getUTCDay() + 1);
    data[7] = this.encode(date.getUTCDate());
    data[8] = this.encode(date.getUTCMonth() + 1);
    const year = date.getUTCFullYear();
    data[9] = this.encode(year % 100);
    data[CENTURY] = this.encode(Math.floor(year / 100));
  }

  /** Takes the time the guest wrote into the clock registers as the current time. */
  private setTimeFromRegisters(now: number): void {
    const data = this.data;
    const seconds = this.decode(data[0]!);
    const minutes = this.decode(data[2]!);
    let hours: number;
    if (data[REG_B]! & REG_B_24H) hours = this.decode(data[4]!);
    else {
      hours = this.decode(data[4]! & 0x7f) % 12;
      if (data[4]! & 0x80) hours += 12;
    }
    const day = this.decode(data[7]!);
    const month = this.decode(data[8]!) - 1;
    const year = this.decode(data[9]!) + this.decode(data[CENTURY]!) * 100;
    const unix = Date.UTC(year, month, day, hours, minutes, seconds) / 1000;
    if (Number.isFinite(unix)) this.baseSeconds = unix - Math.floor(now / NS_PER_SECOND);
  }

  /** The periodic interrupt's period in ns (rate select in A), or 0; it runs only with PIE (as in QEMU). */
  private periodNs(): number {
    if (!(this.data[REG_B]! & REG_B_PIE)) return 0;
    const rate = this.data[REG_A]! & 0x0f;
    if (rate === 0) return 0;
    const shift = rate <= 2 ? rate + 6 : rate - 1;
    return NS_PER_SECOND / (32768 >> shift);
  }

  /** Sets C's flags for the events between the last check and `now`; raises IRQ 8 if enabled. */
  private updateFlags(now: number): void {
    const last = this.lastFlagsCheck;
    if (now <= last) return;
    let flags = 0;
    if (this.running() && Math.floor(now / NS_PER_SECOND) > Math.floor(last / NS_PER_SECOND)) flags |= REG_C_UF;
    const period = this.periodNs();
    if (period > 0 && Math.floor(now / period) > Math.floor(last / period)) flags |= REG_C_PF;
    this.lastFlagsCheck = now;
    if (flags === 0) return;
    this.data[REG_C]! |= flags;
    this.updateIrq();
  }

  private updateIrq(): void {
    const b = this.data[REG_B]!, c = this.data[REG_C]!;
    const enabled = (c & REG_C_PF && b & REG_B_PIE) || (c & REG_C_UF && b & REG_B_UIE) || (c & REG_C_AF && b & REG_B_AIE);
    if (enabled) this.data[REG_C] = c | REG_C_IRQF;
    const level = !!enabled;
    if (level !== this.irqLevel) {
      this.irqLevel = level;
      this.onIrq(level);
    }
    this.onDeadlineChange();
  }

  /** The next periodic or update-ended event the guest enabled an interrupt for (guest ns), or Infinity. */
  nextDeadline(): number {
    const b = this.data[REG_B]!;
    if (this.irqLevel) return Infinity; // the guest has not read C yet
    let next = Infinity;
    const now = this.lastFlagsCheck;
    if (b & REG_B_UIE && this.running()) next = (Math.floor(now / NS_PER_SECOND) + 1) * NS_PER_SECOND;
    const period = this.periodNs();
    if (period > 0) next = Math.min(next, (Math.floor(now / period) + 1) * period);
    return Math.ceil(next);
  }

  service(now: number): void {
    this.updateFlags(now);
  }

  // ---- ports -----------------------------------------------------------------------------------

  in(port: number, size: AccessSize): number {
    let value = 0;
    for (let i = 0; i < size; i++) value |= this.inByte(port + i) << (8 * i);
    return value >>> 0;
  }

  out(port: number, size: AccessSize, value: number): void {
    for (let i = 0; i < size; i++) this.outByte(port + i, (value >>> (8 * i)) & 0xff);
  }

  private inByte(port: number): number {
    if ((port & 1) === 0) return 0xff; // the index register reads as 0xff (QEMU)
    const index = this.index;
    const now = this.now();
    switch (index) {
      case 0: case 2: case 4: case 6: case 7: case 8: case 9: case CENTURY:
        if (this.running()) this.formatClock(now);
        return this.data[index]!;
      case REG_A:
        return (this.data[REG_A]! & ~REG_A_UIP) | (this.updateInProgress(now) ? REG_A_UIP : 0);
      case REG_C: {
        this.updateFlags(now);
        const value = this.data[REG_C]!;
        this.data[REG_C] = 0;
        this.updateIrq();
        return value;
      }
      default:
        return this.data[index]!;
    }
  }

  private outByte(port: number, value: number): void {
    if ((port & 1) === 0) {
      this.index = value & 0x7f;
      return;
    }
    const index = this.index;
    const now = this.now();
    switch (index) {
      case 0: case 2: case 4: case 6: case 7: case 8: case 9: case CENTURY:
        if (this.running()) this.formatClock(now);
        this.data[index] = value;
        if (this.running()) this.setTimeFromRegisters(now);
        return;
      case REG_A:
        this.updateFlags(now);
        this.data[REG_A] = (value & ~REG_A_UIP) | (this.data[REG_A]! & REG_A_UIP);
        this.onDeadlineChange();
        return;
      case REG_B: {
        this.updateFlags(now);
        const wasRunning = this.running();
        if (wasRunning) this.formatClock(now);
        // The format bits change how the registers read: keep the time, re-encode it.
        const oldB = this.data[REG_B]!;
        if (value & REG_B_SET) value &= ~REG_B_UIE;
        this.data[REG_B] = value;
        if (wasRunning && (oldB ^ value) & (REG_B_DM | REG_B_24H)) this.formatClock(now);
        if (!wasRunning && this.running()) this.setTimeFromRegisters(now);
        this.updateIrq();
        return;
      }
      case REG_C:
      case REG_D:
        return; // read-only
      default:
        this.data[index] = value;
    }
  }
}
