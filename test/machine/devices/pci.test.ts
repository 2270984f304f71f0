// PCI configuration mechanism #1 and the q35 bus 0 model: enumeration, partial and unaligned
// accesses, the enable bit, absent devices and buses, write masks (BAR sizing), and the reset
// control register at 0xcf9. The full configuration spaces are compared with QEMU by the probe.
import { describe, expect, it } from "vitest";
import { PciHost, q35Functions } from "../../../src/machine/devices/pci.js";
import { PortBus } from "../../../src/machine/io-bus.js";

function host() {
  const pci = new PciHost(q35Functions());
  const resets: number[] = [];
  pci.onReset = () => void resets.push(1);
  const ports = new PortBus();
  ports.register(0xcf8, 8, pci);
  const address = (device: number, fn: number, register: number) => (0x80000000 | (device << 11) | (fn << 8) | register) >>> 0;
  const read = (device: number, fn: number, register: number) => {
    ports.out(0xcf8, 4, address(device, fn, register));
    return ports.in(0xcfc, 4);
  };
  const write = (device: number, fn: number, register: number, value: number) => {
    ports.out(0xcf8, 4, address(device, fn, register));
    ports.out(0xcfc, 4, value);
  };
  return { pci, ports, read, write, address, resets };
}

describe("PCI configuration space (q35 bus 0)", () => {
  it("enumerates 00:00.0, 00:1f.0, 00:1f.2 and 00:1f.3 with QEMU's IDs, classes and subsystem", () => {
    const { read } = host();
    const present: string[] = [];
    for (let device = 0; device < 32; device++) {
      for (let fn = 0; fn < 8; fn++) {
        const id = read(device, fn, 0);
        if ((id & 0xffff) !== 0xffff) present.push(`${device.toString(16)}.${fn} ${id.toString(16)} ${read(device, fn, 8).toString(16)} ${read(device, fn, 0x2c).toString(16)}`);
      }
    }
    expect(present).toEqual([
      "0.0 29c08086 6000000 11001af4",
      "1f.0 29188086 6010002 11001af4",
      "1f.2 29228086 1060102 11001af4",
      "1f.3 29308086 c050002 11001af4",
    ]);
    expect(read(31, 0, 0x0c) >>> 16 & 0xff).toBe(0x80); // multifunction
    expect(read(31, 2, 0x3c) & 0xffff).toBe(0x010a); // INTA, line 10
  });

  it("AHCI: BAR4 I/O 0xc040 (32 bytes), BAR5 MMIO 0xfebff000 (4 KiB), MSI and SATA capabilities", () => {
    const { read, write } = host();
    expect(read(31, 2, 0x20)).toBe(0xc041);
    expect(read(31, 2, 0x24)).toBe(0xfebff000);
    write(31, 2, 0x20, 0xffffffff);
    expect(read(31, 2, 0x20)).toBe(0xffffffe1);
    write(31, 2, 0x24, 0xffffffff);
    expect(read(31, 2, 0x24)).toBe(0xfffff000);
    write(31, 2, 0x20, 0xc041);
    write(31, 2, 0x24, 0xfebff000);
    expect(read(31, 2, 0x20)).toBe(0xc041);
    expect(read(31, 2, 0x34) & 0xff).toBe(0x80);
    expect(read(31, 2, 0x80)).toBe(0x0080a805); // MSI, next 0xa8
    expect(read(31, 2, 0xa8)).toBe(0x00100012); // SATA capability
    write(31, 2, 0xa8, 0);
    expect(read(31, 2, 0xa8)).toBe(0x00100012); // read-only
  });

  it("SMBus BAR4 sizes to 64 bytes of I/O; the command register keeps its writable bits", () => {
    const { read, write } = host();
    write(31, 3, 0x20, 0xffffffff);
    expect(read(31, 3, 0x20)).toBe(0xffffffc1);
    write(31, 3, 0x04, 0xffffffff);
    expect(read(31, 3, 0x04) & 0xffff).toBe(0x0507);
  });

  it("partial reads through 0xcfc-0xcff, unaligned register numbers, the address port's low bits", () => {
    const { ports, address } = host();
    ports.out(0xcf8, 4, address(31, 2, 0x08));
    expect([0xcfc, 0xcfd, 0xcfe, 0xcff].map((p) => ports.in(p, 1))).toEqual([0x02, 0x01, 0x06, 0x01]);
    expect(ports.in(0xcfe, 2)).toBe(0x0106);
    expect(ports.in(0xcf8, 1)).toBe(0x08);
    expect(ports.in(0xcfa, 1)).toBe(0x08);
    expect(ports.in(0xcf8, 2)).toBe(0xfa08);
    ports.out(0xcf8, 1, 0x12); // ignored
    expect(ports.in(0xcf8, 4)).toBe(0x8000fa08);
    ports.out(0xcf8, 4, address(31, 2, 0x0b));
    expect(ports.in(0xcfc, 4)).toBe(0x80000001);
  });

  it("reads all-ones with the enable bit clear, for absent functions and for other buses", () => {
    const { ports, read, address } = host();
    ports.out(0xcf8, 4, address(31, 2, 0) & 0x7fffffff);
    expect(ports.in(0xcfc, 4)).toBe(0xffffffff);
    expect(read(1, 0, 0)).toBe(0xffffffff);
    ports.out(0xcf8, 4, 0x80010000);
    expect(ports.in(0xcfc, 4)).toBe(0xffffffff);
    expect(ports.in(0xcfc, 1)).toBe(0xff);
  });

  it("byte and word writes through the data port apply the write mask", () => {
    const { ports, read, address } = host();
    ports.out(0xcf8, 4, address(31, 3, 0x3c));
    ports.out(0xcfc, 1, 0x5a);
    expect(read(31, 3, 0x3c)).toBe(0x0000015a);
    ports.out(0xcf8, 4, address(31, 3, 0x3c));
    ports.out(0xcfd, 2, 0xffff); // interrupt pin and min_gnt are read-only
    expect(read(31, 3, 0x3c)).toBe(0x0000015a);
  });

  it("0xcf9: reset control (bits 1 and 3 stick; bit 2 resets)", () => {
    const { ports, resets } = host();
    expect(ports.in(0xcf9, 1)).toBe(0);
    ports.out(0xcf9, 1, 0x0a);
    expect(ports.in(0xcf9, 1)).toBe(0x0a);
    expect(resets).toEqual([]);
    ports.out(0xcf9, 1, 0x06);
    expect(resets).toEqual([1]);
  });
});
