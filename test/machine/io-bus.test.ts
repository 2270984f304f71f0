import { describe, expect, it } from "vitest";
import type { AccessSize } from "../../src/machine/memory.js";
import { type PortDevice, PortBus } from "../../src/machine/io-bus.js";

class LoggingPorts implements PortDevice {
  readonly log: string[] = [];
  constructor(private readonly answer = 0x12345678) {}
  in(port: number, size: AccessSize): number {
    this.log.push(`in${size} ${port.toString(16)}`);
    return this.answer + port;
  }
  out(port: number, size: AccessSize, value: number): void {
    this.log.push(`out${size} ${port.toString(16)}=${value.toString(16)}`);
  }
}

describe("PortBus", () => {
  it("dispatches to the owner with the absolute port and masks values to the size", () => {
    const bus = new PortBus();
    const uart = new LoggingPorts(0xabcd00);
    bus.register(0x3f8, 8, uart);
    expect(bus.in(0x3fd, 1)).toBe(0xfd); // (0xabcd00 + 0x3fd) & 0xff
    expect(bus.in(0x3f8, 2)).toBe((0xabcd00 + 0x3f8) & 0xffff);
    expect(bus.in(0x3f8, 4)).toBe(0xabcd00 + 0x3f8);
    bus.out(0x3f8, 1, 0x141);
    bus.out(0x3fa, 2, -1);
    bus.out(0x3fc, 4, -1);
    expect(uart.log).toEqual(["in1 3fd", "in2 3f8", "in4 3f8", "out1 3f8=41", "out2 3fa=ffff", "out4 3fc=ffffffff"]);
    expect(bus.isClaimed(0x3ff)).toBe(true);
    expect(bus.isClaimed(0x400)).toBe(false);
  });

  it("reads all-ones from unclaimed ports, drops writes, and counts both", () => {
    const bus = new PortBus();
    expect(bus.in(0x80, 1)).toBe(0xff);
    expect(bus.in(0x1234, 2)).toBe(0xffff);
    expect(bus.in(0xcfc, 4)).toBe(0xffffffff);
    bus.out(0x80, 1, 0x55);
    bus.out(0x80, 1, 0x56);
    expect(bus.unclaimedAccesses()).toEqual([
      { port: 0x80, reads: 1, writes: 2 },
      ...[0xcfc, 0xcfd, 0xcfe, 0xcff].map((port) => ({ port, reads: 1, writes: 0 })),
      { port: 0x1234, reads: 1, writes: 0 },
      { port: 0x1235, reads: 1, writes: 0 },
    ]);
  });

  it("splits an access straddling registrations into bytes", () => {
    const bus = new PortBus();
    const low = new LoggingPorts(0);
    const high = new LoggingPorts(0);
    bus.register(0x70, 2, low); // 0x70, 0x71
    bus.register(0x72, 1, high);
    // 0x70, 0x71 (low), 0x72 (high), 0x73 unclaimed
    expect(bus.in(0x70, 4)).toBe(0xff727170);
    bus.out(0x71, 2, 0xbbaa);
    expect(low.log).toEqual(["in1 70", "in1 71", "out1 71=aa"]);
    expect(high.log).toEqual(["in1 72", "out1 72=bb"]);
  });

  it("wraps at the top of the port space", () => {
    const bus = new PortBus();
    const device = new LoggingPorts(0);
    bus.register(0, 1, device);
    expect(bus.in(0xffff, 2)).toBe(0x00ff);
    expect(device.log).toEqual(["in1 0"]);
  });

  it("rejects overlapping and invalid registrations; unregister frees the ports", () => {
    const bus = new PortBus();
    const device = new LoggingPorts();
    bus.register(0xc040, 32, device);
    expect(() => bus.register(0xc05f, 1, device)).toThrow(/overlap/);
    expect(() => bus.register(0xc000, 0x41, device)).toThrow(/overlap/);
    expect(() => bus.register(0xfff0, 0x11, device)).toThrow(RangeError);
    expect(() => bus.register(0x10, 0, device)).toThrow(RangeError);
    bus.register(0xc060, 1, device); // adjacent
    expect(() => bus.unregister(0xc041)).toThrow(/no port registration/);
    bus.unregister(0xc040);
    expect(bus.in(0xc040, 1)).toBe(0xff);
    bus.register(0xc000, 0x41, device);
    expect(bus.in(0xc040, 1)).toBe((0x12345678 + 0xc040) & 0xff);
  });
});
