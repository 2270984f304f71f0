// The i8254 programmable interval timer at 0x40-0x43 (1.193182 MHz, three channels; channel 0 drives
// IRQ 0) and port 0x61 (channel 2's gate and output, as PC speaker control). The counting rules
// follow QEMU's hw/timer/i8254.c and i8254_common.c — modes 0-5 (6 and 7 are stored as written and
// count like 2 and 0, as there), lo/hi/lohi access, the latch command, the read-back command (status
// and count), the gate — so that a guest calibrating its TSC or programming a tick sees what it sees
// on QEMU. Time comes from the machine's clock in nanoseconds; a channel's count is derived from the
// time it was loaded, nothing ticks.
import { nsToTicks, ticksToNs } from "../clock.js";
import type { AccessSize } from "../memory.js";
import type { PortDevice } from "../io-bus.js";

export const PIT_HZ = 1_193_182;

const RW_LSB = 1;
const RW_MSB = 2;
const RW_WORD0 = 3;
const RW_WORD1 = 4;

export class PitChannel {
  /** the reload value, 1..0x10000 */
  count = 0x10000;
  latchedCount = 0;
  /** 0, or the RW state the latched count is read in */
  countLatched = 0;
  statusLatched = false;
  status = 0;
  readState = 0;
  writeState = 0;
  writeLatch = 0;
  rwMode = 0;
  mode = 3;
  bcd = 0;
  gate = true;
  /** guest ns when the count was loaded (or the gate restarted it) */
  loadTime = 0;
  /** channel 0: guest ns of the next output transition, or -1 */
  nextTransition = -1;

  /** Ticks since loading. */
  private elapsed(now: number): number {
    return nsToTicks(Math.max(0, now - this.loadTime), PIT_HZ);
  }

  /** The value the counter shows at `now`. */
  currentCount(now: number): number {
    const d = this.elapsed(now);
    switch (this.mode) {
      case 0: case 1: case 4: case 5:
        return (this.count - d) & 0xffff;
      case 3:
        return this.count - ((2 * d) % this.count);
      default:
        return this.count - (d % this.count);
    }
  }

  /** The OUT pin at `now`. */
  output(now: number): boolean {
    const d = this.elapsed(now);
    switch (this.mode) {
      default:
      case 0: return d >= this.count;
      case 1: return d < this.count;
      case 2: return d % this.count === 0 && d !== 0;
      case 3: return d % this.count < (this.count + 1) >> 1;
      case 4: case 5: return d === this.count;
    }
  }

  /** Guest ns of the next change of OUT after `now`, or -1 if it never changes again. */
  nextTransitionTime(now: number): number {
    const d = this.elapsed(now);
    let next: number;
    switch (this.mode) {
      default:
      case 0: case 1:
        if (d < this.count) next = this.count;
        else return -1;
        break;
      case 2: {
        const base = Math.floor(d / this.count) * this.count;
        next = d - base === 0 && d !== 0 ? base + this.count : base + this.count + 1;
        break;
      }
      case 3: {
        const base = Math.floor(d / this.count) * this.count;
        const half = (this.count + 1) >> 1;
        next = d - base < half ? base + half : base + this.count;
        break;
      }
      case 4: case 5:
        if (d < this.count) next = this.count;
        else if (d === this.count) next = this.count + 1;
        else return -1;
        break;
    }
    let time = this.loadTime + ticksToNs(next, PIT_HZ);
    if (time <= now) time = now + 1;
    return time;
  }

  latchCount(now: number): void {
    if (!this.countLatched) {
      this.latchedCount = this.currentCount(now);
      this.countLatched = this.rwMode;
    }
  }
}

export class Pit implements PortDevice {
  readonly channels = [new PitChannel(), new PitChannel(), new PitChannel()];
  /** called with channel 0's OUT level at each transition (IRQ 0) */
  onIrq: (level: boolean) => void = () => {};
  /** called when channel 0's next transition moved (the machine re-reads nextDeadline()) */
  onDeadlineChange: () => void = () => {};

  constructor(private readonly now: () => number) {
    this.channels[2]!.gate = false;
    for (const channel of this.channels) channel.loadTime = now();
    this.updateIrq(now());
  }

  /**
   * The state SeaBIOS leaves (read back from QEMU 7.2): channel 0 in mode 2, lo/hi access, count
   * 0x10000 (18.2 Hz); channels 1 and 2 untouched since reset (mode 3, count 0x10000, channel 2's
   * gate low).
   */
  resetToBiosState(): void {
    this.out(0x43, 1, 0x34);
    this.out(0x40, 1, 0);
    this.out(0x40, 1, 0);
  }

  /** Guest ns of the next IRQ 0 transition (Infinity if none). */
  nextDeadline(): number {
    const next = this.channels[0]!.nextTransition;
    return next < 0 ? Infinity : next;
  }

  /** Runs channel 0's transitions up to `now`. */
  service(now: number): void {
    const channel = this.channels[0]!;
    let iterations = 0;
    while (channel.nextTransition >= 0 && channel.nextTransition <= now) {
      if (++iterations > 64) {
        // Far behind (the host stalled, or a very fast rate): one more edge, then catch up.
        this.onIrq(true);
        this.onIrq(false);
        this.updateIrq(now);
        break;
      }
      this.updateIrq(channel.nextTransition);
    }
  }

  /** QEMU's pit_irq_timer_update for channel 0. */
  private updateIrq(time: number): void {
    const channel = this.channels[0]!;
    channel.nextTransition = channel.nextTransitionTime(time);
    this.onIrq(channel.output(time));
    this.onDeadlineChange();
  }

  private loadCount(index: number, value: number): void {
    const channel = this.channels[index]!;
    channel.loadTime = this.now();
    channel.count = value === 0 ? 0x10000 : value;
    if (index === 0) this.updateIrq(channel.loadTime);
  }

  /** Channel 2's gate (port 0x61 bit 0). */
  setGate(index: number, gate: boolean): void {
    const channel = this.channels[index]!;
    // Modes 1, 2, 3, 5 restart on a rising edge; modes 0 and 4 keep counting (as QEMU does).
    if (!channel.gate && gate && channel.mode !== 0 && channel.mode !== 4) {
      channel.loadTime = this.now();
      if (index === 0) this.updateIrq(channel.loadTime);
    }
    channel.gate = gate;
  }

  in(port: number, size: AccessSize): number {
    let value = 0;
    for (let i = 0; i < size; i++) value |= this.inByte(port + i) << (8 * i);
    return value >>> 0;
  }

  out(port: number, size: AccessSize, value: number): void {
    for (let i = 0; i < size; i++) this.outByte(port + i, (value >>> (8 * i)) & 0xff);
  }

  private inByte(port: number): number {
    const index = port & 3;
    if (index === 3) return 0; // the mode register is write-only
    const channel = this.channels[index]!;
    if (channel.statusLatched) {
      channel.statusLatched = false;
      return channel.status;
    }
    if (channel.countLatched) {
      switch (channel.countLatched) {
        case RW_MSB:
          channel.countLatched = 0;
          return (channel.latchedCount >> 8) & 0xff;
        case RW_WORD0:
          channel.countLatched = RW_MSB;
          return channel.latchedCount & 0xff;
        default:
          channel.countLatched = 0;
          return channel.latchedCount & 0xff;
      }
    }
    const count = channel.currentCount(this.now());
    switch (channel.readState) {
      case RW_MSB:
        return (count >> 8) & 0xff;
      case RW_WORD0:
        channel.readState = RW_WORD1;
        return count & 0xff;
      case RW_WORD1:
        channel.readState = RW_WORD0;
        return (count >> 8) & 0xff;
      default:
        return count & 0xff;
    }
  }

  private outByte(port: number, value: number): void {
    const index = port & 3;
    if (index === 3) {
      const select = value >> 6;
      if (select === 3) {
        // Read-back: bit 5 clear latches the counts, bit 4 clear the status of the selected channels.
        const now = this.now();
        for (let i = 0; i < 3; i++) {
          if (!(value & (2 << i))) continue;
          const channel = this.channels[i]!;
          if (!(value & 0x20)) channel.latchCount(now);
          if (!(value & 0x10) && !channel.statusLatched) {
            // Null count is not modelled (QEMU reports 0 too); bit 7 is OUT.
            channel.status = ((channel.output(now) ? 1 : 0) << 7) | (channel.rwMode << 4) | (channel.mode << 1) | channel.bcd;
            channel.statusLatched = true;
          }
        }
        return;
      }
      const channel = this.channels[select]!;
      const access = (value >> 4) & 3;
      if (access === 0) {
        channel.latchCount(this.now());
      } else {
        channel.rwMode = access;
        channel.readState = access;
        channel.writeState = access;
        channel.mode = (value >> 1) & 7;
        channel.bcd = value & 1;
      }
      return;
    }
    const channel = this.channels[index]!;
    switch (channel.writeState) {
      case RW_MSB:
        this.loadCount(index, value << 8);
        break;
      case RW_WORD0:
        channel.writeLatch = value;
        channel.writeState = RW_WORD1;
        break;
      case RW_WORD1:
        this.loadCount(index, channel.writeLatch | (value << 8));
        channel.writeState = RW_WORD0;
        break;
      default:
        this.loadCount(index, value);
        break;
    }
  }
}

/**
 * Port 0x61 (QEMU's pcspk): bit 0 is channel 2's gate, bit 1 the speaker data enable; reads add
 * bit 4 (a refresh clock that toggles on every read) and bit 5 (channel 2's OUT).
 */
export class SpeakerPort implements PortDevice {
  dataOn = 0;
  private refresh = 0;

  constructor(private readonly pit: Pit, private readonly now: () => number) {}

  in(): number {
    this.refresh ^= 0x10;
    const channel = this.pit.channels[2]!;
    return (channel.gate ? 1 : 0) | (this.dataOn << 1) | this.refresh | ((channel.output(this.now()) ? 1 : 0) << 5);
  }

  out(_port: number, _size: AccessSize, value: number): void {
    this.pit.setGate(2, (value & 1) !== 0);
    this.dataOn = (value >> 1) & 1;
  }
}
