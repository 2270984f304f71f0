// The i8254 PIT (and port 0x61) on a hand-driven clock: counting, access modes, latches,
// read-back, output and IRQ 0 timing per mode, the gate. Expected values follow QEMU's
// hw/timer/i8254.c, which the probe kernel also checks against real QEMU.
import { describe, expect, it } from "vitest";
import { ticksToNs } from "../../../src/machine/clock.js";
import { PIT_HZ, Pit, SpeakerPort } from "../../../src/machine/devices/i8254.js";
import { PortBus } from "../../../src/machine/io-bus.js";

function pit(): { pit: Pit; ports: PortBus; clock: { ns: number }; irq: boolean[] } {
  const clock = { ns: 0 };
  const timer = new Pit(() => clock.ns);
  const irq: boolean[] = [];
  timer.onIrq = (level) => void irq.push(level);
  const ports = new PortBus();
  ports.register(0x40, 4, timer);
  ports.register(0x61, 1, new SpeakerPort(timer, () => clock.ns));
  return { pit: timer, ports, clock, irq };
}

const tickNs = (ticks: number) => ticksToNs(ticks, PIT_HZ);

describe("i8254 PIT", () => {
  it("counts down at 1.193182 MHz from a lo/hi count (mode 2) and reads lo then hi", () => {
    const { ports, clock } = pit();
    ports.out(0x43, 1, 0x34);
    ports.out(0x40, 1, 0x10);
    ports.out(0x40, 1, 0x27); // 10000
    clock.ns = tickNs(1234) + 1;
    const lo = ports.in(0x40, 1);
    const hi = ports.in(0x40, 1);
    expect(lo | (hi << 8)).toBe(10000 - 1234);
    clock.ns = tickNs(10000 + 5) + 1;
    expect(ports.in(0x40, 1) | (ports.in(0x40, 1) << 8)).toBe(10000 - 5);
  });

  it("latches the count (command 0x00) until both bytes are read", () => {
    const { ports, clock } = pit();
    ports.out(0x43, 1, 0x30);
    ports.out(0x40, 1, 0x00);
    ports.out(0x40, 1, 0x10); // 0x1000, mode 0
    clock.ns = tickNs(0x100) + 1;
    ports.out(0x43, 1, 0x00);
    clock.ns = tickNs(0x800) + 1;
    expect(ports.in(0x40, 1)).toBe(0x00);
    expect(ports.in(0x40, 1)).toBe(0x0f);
    expect(ports.in(0x40, 1) | (ports.in(0x40, 1) << 8)).toBe(0x800);
  });

  it("supports lobyte-only and hibyte-only access", () => {
    const { ports, clock } = pit();
    ports.out(0x43, 1, 0x90); // channel 2, lobyte, mode 0
    ports.out(0x42, 1, 200);
    clock.ns = tickNs(50) + 1;
    expect(ports.in(0x42, 1)).toBe(150);
    expect(ports.in(0x42, 1)).toBe(150);
    ports.out(0x43, 1, 0xa0); // hibyte
    ports.out(0x42, 1, 0x02); // 0x200
    clock.ns += tickNs(0x10) + 1;
    expect(ports.in(0x42, 1)).toBe(0x01);
  });

  it("read-back reports status (OUT, access, mode, BCD) and latches counts", () => {
    const { ports, clock } = pit();
    ports.out(0x43, 1, 0xb0); // ch2 lohi mode 0
    ports.out(0x42, 1, 100);
    ports.out(0x42, 1, 0);
    ports.out(0x43, 1, 0xe8); // read-back status of ch2
    expect(ports.in(0x42, 1)).toBe(0x30);
    clock.ns = tickNs(100) + 1;
    ports.out(0x43, 1, 0xe8);
    expect(ports.in(0x42, 1)).toBe(0xb0); // OUT went high at terminal count
    ports.out(0x43, 1, 0x95); // ch2 lobyte mode 2 BCD
    ports.out(0x43, 1, 0xe8);
    expect(ports.in(0x42, 1) & 0x3f).toBe(0x15);
    // Status and count latched together: status first.
    ports.out(0x43, 1, 0xb4);
    ports.out(0x42, 1, 0x00);
    ports.out(0x42, 1, 0x01); // 256, mode 2
    clock.ns += tickNs(6) + 1;
    ports.out(0x43, 1, 0xc8);
    expect(ports.in(0x42, 1) & 0x3f).toBe(0x34);
    expect(ports.in(0x42, 1) | (ports.in(0x42, 1) << 8)).toBe(250);
    expect(ports.in(0x43, 1)).toBe(0);
  });

  it("raises IRQ 0 every period in mode 2 (rate generator)", () => {
    const { pit: timer, ports, clock, irq } = pit();
    ports.out(0x43, 1, 0x34);
    ports.out(0x40, 1, 11932 & 0xff);
    ports.out(0x40, 1, 11932 >> 8); // 100 Hz
    irq.length = 0;
    // QEMU schedules mode 2 at count + 1 ticks, which its double rounding (ticks -> ns -> ticks)
    // reads back as count: OUT is high there, low one period later, and so on.
    expect(timer.nextDeadline()).toBe(tickNs(11933));
    let rises = 0;
    for (let step = 0; step < 1005; step++) {
      clock.ns += 1_000_000;
      timer.service(clock.ns);
    }
    for (let i = 1; i < irq.length; i++) if (irq[i] && !irq[i - 1]) rises++;
    if (irq[0]) rises++;
    expect(rises).toBe(100); // 1.005 s: rises at 10.001 ms + k * 10.0002 ms
  });

  it("mode 3 (square wave) toggles OUT at half periods; count 0 means 65536", () => {
    const { pit: timer, ports } = pit();
    ports.out(0x43, 1, 0x36);
    ports.out(0x40, 1, 0);
    ports.out(0x40, 1, 0);
    expect(timer.channels[0]!.count).toBe(0x10000);
    expect(timer.nextDeadline()).toBe(tickNs(0x8000));
  });

  it("mode 0 (interrupt on terminal count) raises OUT once", () => {
    const { pit: timer, ports, clock, irq } = pit();
    ports.out(0x43, 1, 0x30);
    ports.out(0x40, 1, 100);
    ports.out(0x40, 1, 0);
    irq.length = 0;
    expect(timer.nextDeadline()).toBe(tickNs(100));
    // At the rounded-down nanosecond the counter has not reached 0 yet; one ns later it has (QEMU's rounding fix).
    clock.ns = tickNs(100);
    timer.service(clock.ns);
    expect(timer.nextDeadline()).toBe(clock.ns + 1);
    clock.ns += 1;
    timer.service(clock.ns);
    expect(irq).toEqual([false, true]);
    expect(timer.nextDeadline()).toBe(Infinity);
  });

  it("port 0x61: gate (bit 0), speaker data (bit 1), refresh toggling (bit 4), channel 2 OUT (bit 5)", () => {
    const { ports, clock } = pit();
    expect(ports.in(0x61, 1) & 0x0f).toBe(0);
    ports.out(0x61, 1, 0x03);
    const a = ports.in(0x61, 1);
    const b = ports.in(0x61, 1);
    expect(a & 0x0f).toBe(0x03);
    expect((a ^ b) & 0x10).toBe(0x10);
    ports.out(0x43, 1, 0xb0);
    ports.out(0x42, 1, 0xa9);
    ports.out(0x42, 1, 0x04); // 1193: 1 ms
    expect(ports.in(0x61, 1) & 0x20).toBe(0);
    clock.ns = 1_000_000;
    expect(ports.in(0x61, 1) & 0x20).toBe(0x20);
  });

  it("a rising gate restarts channel 2 in mode 2 but not in mode 0 (as QEMU)", () => {
    const { pit: timer, ports, clock } = pit();
    ports.out(0x43, 1, 0xb4);
    ports.out(0x42, 1, 0x00);
    ports.out(0x42, 1, 0x10);
    clock.ns = tickNs(0x100) + 1;
    ports.out(0x61, 1, 0x01);
    expect(timer.channels[2]!.loadTime).toBe(clock.ns);
    ports.out(0x61, 1, 0x00);
    ports.out(0x43, 1, 0xb0);
    ports.out(0x42, 1, 0x00);
    ports.out(0x42, 1, 0x10);
    const loaded = timer.channels[2]!.loadTime;
    clock.ns += 1000;
    ports.out(0x61, 1, 0x01);
    expect(timer.channels[2]!.loadTime).toBe(loaded);
  });
});
