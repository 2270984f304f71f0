// The CMOS RTC: clock registers from a base time plus guest time in BCD/binary and 12/24-hour
// form, the century, UIP, register C flags and IRQ 8, setting the time, and the memory-size bytes
// QEMU fills for -m (values read back from QEMU 7.2 by the probe kernel).
import { describe, expect, it } from "vitest";
import { CmosRtc, memorySizeBytes } from "../../../src/machine/devices/cmos-rtc.js";
import { PortBus } from "../../../src/machine/io-bus.js";

const MiB = 1024 * 1024;

function rtc(base = "2024-02-29T23:59:58Z", ramBytes = 512 * MiB) {
  const clock = { ns: 0 };
  const device = new CmosRtc(() => clock.ns, new Date(base), ramBytes);
  const irq = { level: false };
  device.onIrq = (level) => void (irq.level = level);
  const ports = new PortBus();
  ports.register(0x70, 2, device);
  const read = (index: number) => {
    ports.out(0x70, 1, index);
    return ports.in(0x71, 1);
  };
  const write = (index: number, value: number) => {
    ports.out(0x70, 1, index);
    ports.out(0x71, 1, value);
  };
  return { device, ports, clock, irq, read, write };
}

describe("CMOS RTC", () => {
  it("reads the time in BCD, 24-hour, with the century; day of week 1 = Sunday", () => {
    const { read } = rtc();
    expect([0, 2, 4, 6, 7, 8, 9, 0x32].map(read)).toEqual([0x58, 0x59, 0x23, 0x05, 0x29, 0x02, 0x24, 0x20]);
  });

  it("advances with guest time (into a leap day's next day)", () => {
    const { read, clock } = rtc();
    clock.ns = 2.5e9;
    expect([0, 2, 4, 7, 8].map(read)).toEqual([0x00, 0x00, 0x00, 0x01, 0x03]);
  });

  it("binary (B bit 2) and 12-hour (B bit 1 clear, bit 7 of the hour is PM) formats", () => {
    const { read, write } = rtc();
    write(0x0b, 0x06);
    expect([0, 4, 9, 0x32].map(read)).toEqual([58, 23, 24, 20]);
    write(0x0b, 0x00);
    expect(read(4)).toBe(0x80 | 0x11);
    write(0x0b, 0x02);
  });

  it("status registers as SeaBIOS leaves them; the index port reads 0xff and ignores the NMI bit", () => {
    const { read, ports } = rtc();
    expect([0x0a, 0x0b, 0x0c, 0x0d].map(read)).toEqual([0x26, 0x02, 0x00, 0x80]);
    expect(ports.in(0x70, 1)).toBe(0xff);
    ports.out(0x70, 1, 0x80 | 0x0b);
    expect(ports.in(0x71, 1)).toBe(0x02);
  });

  it("UIP is set during the last 244 µs of each second", () => {
    const { read, clock } = rtc();
    clock.ns = 0.5e9;
    expect(read(0x0a) & 0x80).toBe(0);
    clock.ns = 1e9 - 100_000;
    expect(read(0x0a) & 0x80).toBe(0x80);
  });

  it("register C: update-ended flag once a second passes; periodic interrupts on IRQ 8 with PIE", () => {
    const { read, write, clock, irq, device } = rtc();
    clock.ns = 1.2e9;
    expect(read(0x0c)).toBe(0x10);
    expect(read(0x0c)).toBe(0x00);
    write(0x0a, 0x26); // 1024 Hz
    write(0x0b, 0x42); // PIE
    const deadline = device.nextDeadline();
    expect(deadline).toBeGreaterThan(clock.ns);
    expect(deadline - clock.ns).toBeLessThanOrEqual(976_563);
    clock.ns = deadline;
    device.service(clock.ns);
    expect(irq.level).toBe(true);
    expect(read(0x0c) & 0xc0).toBe(0xc0);
    expect(irq.level).toBe(false);
  });

  it("setting the clock registers sets the time", () => {
    const { read, write, clock } = rtc();
    write(0x0b, 0x82); // SET
    write(0x09, 0x99);
    write(0x32, 0x19);
    write(0x0b, 0x02);
    clock.ns = 1e9;
    expect([9, 0x32].map(read)).toEqual([0x99, 0x19]);
  });

  it("fills the memory-size bytes as QEMU does for -m 512, 64 and 2815", () => {
    const sizes = (mib: number) => Object.fromEntries(memorySizeBytes(mib * MiB));
    // -m 512: base 640 KiB, extended 0xffff (saturated), 496 MiB above 16 MiB in 64 KiB units
    expect(sizes(512)).toEqual({ 0x15: 0x80, 0x16: 0x02, 0x17: 0xff, 0x18: 0xff, 0x30: 0xff, 0x31: 0xff, 0x34: 0x00, 0x35: 0x1f, 0x5b: 0, 0x5c: 0, 0x5d: 0 });
    expect(sizes(64)).toMatchObject({ 0x17: 0x00, 0x18: 0xfc, 0x30: 0x00, 0x31: 0xfc, 0x34: 0x00, 0x35: 0x03 });
    expect(sizes(2815)).toMatchObject({ 0x34: 0xf0, 0x35: 0xae });
    const { read } = rtc("2024-01-01T00:00:00Z", 512 * MiB);
    expect([0x10, 0x14, 0x15, 0x16, 0x17, 0x18, 0x30, 0x31, 0x34, 0x35, 0x37, 0x38, 0x3d].map(read)).toEqual([
      0x00, 0x06, 0x80, 0x02, 0xff, 0xff, 0xff, 0xff, 0x00, 0x1f, 0x20, 0x30, 0x12,
    ]);
  });
});
