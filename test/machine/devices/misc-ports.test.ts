// isa-debug-exit, the POST and fast-A20 ports and the i8042 controller.
import { describe, expect, it } from "vitest";
import { DebugExit, debugExitStatus } from "../../../src/machine/devices/debug-exit.js";
import { I8042 } from "../../../src/machine/devices/i8042.js";
import { FastA20Port, PostPort } from "../../../src/machine/devices/system-ports.js";
import { PortBus } from "../../../src/machine/io-bus.js";

describe("isa-debug-exit", () => {
  it("turns a write of v (any size, any of its 4 ports) into exit status (v << 1) | 1, as the process sees it", () => {
    expect(debugExitStatus(0)).toBe(1);
    expect(debugExitStatus(0x10)).toBe(33);
    expect(debugExitStatus(0x21)).toBe(67);
    expect(debugExitStatus(0x80)).toBe(1);
    expect(debugExitStatus(0xffffffff)).toBe(0xff);
    const device = new DebugExit();
    const values: number[] = [];
    device.onExit = (value) => void values.push(value);
    const ports = new PortBus();
    ports.register(0xf4, 4, device);
    ports.out(0xf4, 1, 3);
    ports.out(0xf6, 2, 0x1234);
    ports.out(0xf4, 4, 0xdeadbeef);
    expect(values).toEqual([3, 0x1234, 0xdeadbeef]);
    expect(ports.in(0xf4, 4)).toBe(0);
  });
});

describe("system ports", () => {
  it("0x80 swallows POST codes and reads 0xff; 0x92 reads 0x02 and resets on a rising bit 0", () => {
    const ports = new PortBus();
    const post = new PostPort();
    const a20 = new FastA20Port();
    let resets = 0;
    a20.onReset = () => void resets++;
    ports.register(0x80, 1, post);
    ports.register(0x92, 1, a20);
    ports.out(0x80, 1, 0x42);
    expect(ports.in(0x80, 1)).toBe(0xff);
    expect(ports.in(0x92, 1)).toBe(0x02);
    ports.out(0x92, 1, 0x02);
    expect(resets).toBe(0);
    ports.out(0x92, 1, 0x03);
    expect(resets).toBe(1);
  });
});

describe("i8042", () => {
  function controller() {
    const kbd = new I8042();
    const ports = new PortBus();
    ports.register(0x60, 1, kbd);
    ports.register(0x64, 1, kbd);
    const irqs: Array<[number, boolean]> = [];
    kbd.onIrq = (irq, level) => void irqs.push([irq, level]);
    let resets = 0;
    kbd.onReset = () => void resets++;
    return { ports, irqs, resets: () => resets };
  }

  it("reads as QEMU leaves it after SeaBIOS: status 0x1c, data 0xfa, command byte 0x61, output port 0xcf", () => {
    const { ports, irqs } = controller();
    expect(ports.in(0x64, 1)).toBe(0x1c);
    expect(ports.in(0x60, 1)).toBe(0xfa);
    ports.out(0x64, 1, 0x20);
    expect(ports.in(0x64, 1)).toBe(0x1d);
    expect(irqs).toEqual([[1, true]]);
    expect(ports.in(0x60, 1)).toBe(0x61);
    expect(ports.in(0x64, 1)).toBe(0x1c);
    expect(irqs).toEqual([[1, true], [1, false]]);
    ports.out(0x64, 1, 0xd0);
    expect(ports.in(0x60, 1)).toBe(0xcf);
    ports.out(0x64, 1, 0xaa);
    expect(ports.in(0x60, 1)).toBe(0x55);
    ports.out(0x64, 1, 0xab);
    expect(ports.in(0x60, 1)).toBe(0x00);
  });

  it("answers keyboard commands (reset: 0xfa 0xaa) and resets the machine on 0xfe or output-port bit 0", () => {
    const { ports, resets } = controller();
    ports.out(0x60, 1, 0xff);
    expect(ports.in(0x60, 1)).toBe(0xfa);
    expect(ports.in(0x60, 1)).toBe(0xaa);
    ports.out(0x64, 1, 0xff); // odd pulse command: no-op
    expect(resets()).toBe(0);
    ports.out(0x64, 1, 0xfe);
    expect(resets()).toBe(1);
    ports.out(0x64, 1, 0xd1);
    ports.out(0x60, 1, 0xce);
    expect(resets()).toBe(2);
  });
});
