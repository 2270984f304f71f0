// The 16550A UART: transmit, line status, divisor latch, FIFO control and IIR's FIFO bits, the
// THRE/receive/timeout interrupts, host input flow control, loopback and the modem status register,
// following QEMU's hw/char/serial.c (the probe kernel checks the same against real QEMU).
import { describe, expect, it } from "vitest";
import { Uart16550 } from "../../../src/machine/devices/uart16550.js";
import { PortBus } from "../../../src/machine/io-bus.js";

function uart(): { uart: Uart16550; ports: PortBus; sent: number[]; irq: { level: boolean }; clock: { ns: number } } {
  const clock = { ns: 0 };
  const device = new Uart16550(() => clock.ns);
  const sent: number[] = [];
  const irq = { level: false };
  device.onTransmit = (byte) => void sent.push(byte);
  device.onIrq = (level) => void (irq.level = level);
  const ports = new PortBus();
  ports.register(0x3f8, 8, device);
  return { uart: device, ports, sent, irq, clock };
}

describe("16550A UART", () => {
  it("resets like QEMU's: IER 0, IIR 1, LCR 0, MCR 8 (OUT2), LSR 0x60, MSR 0xb0, divisor 12", () => {
    const { ports } = uart();
    expect([1, 2, 3, 4, 5, 6, 7].map((r) => ports.in(0x3f8 + r, 1))).toEqual([0x00, 0x01, 0x00, 0x08, 0x60, 0xb0, 0x00]);
    ports.out(0x3fb, 1, 0x80);
    expect([ports.in(0x3f8, 1), ports.in(0x3f9, 1)]).toEqual([0x0c, 0x00]);
  });

  it("sends every THR byte at once and keeps THRE/TEMT set", () => {
    const { ports, sent } = uart();
    for (const byte of [0x48, 0x00, 0xff, 0x0a]) ports.out(0x3f8, 1, byte);
    expect(sent).toEqual([0x48, 0x00, 0xff, 0x0a]);
    expect(ports.in(0x3fd, 1)).toBe(0x60);
  });

  it("DLAB switches ports 0/1 to the divisor latch (byte and word writes)", () => {
    const { ports, sent } = uart();
    ports.out(0x3fb, 1, 0x83);
    ports.out(0x3f8, 1, 0x01);
    ports.out(0x3f9, 1, 0x02);
    expect(ports.in(0x3f8, 1) | (ports.in(0x3f9, 1) << 8)).toBe(0x0201);
    ports.out(0x3f8, 2, 0x0003);
    expect(ports.in(0x3f8, 1)).toBe(0x03);
    expect(sent).toEqual([]);
    ports.out(0x3fb, 1, 0x03);
    expect(ports.in(0x3fb, 1)).toBe(0x03);
  });

  it("IIR shows 0xc0 while FCR enables the FIFOs; IER keeps 4 bits; SCR stores a byte", () => {
    const { ports } = uart();
    ports.out(0x3fa, 1, 0x07);
    expect(ports.in(0x3fa, 1)).toBe(0xc1);
    ports.out(0x3fa, 1, 0x00);
    expect(ports.in(0x3fa, 1)).toBe(0x01);
    ports.out(0x3f9, 1, 0xff);
    expect(ports.in(0x3f9, 1)).toBe(0x0f);
    ports.out(0x3ff, 1, 0x5a);
    expect(ports.in(0x3ff, 1)).toBe(0x5a);
  });

  it("THRE interrupt: raised when IER enables it, cleared by reading IIR, raised again by the next byte", () => {
    const { ports, irq } = uart();
    ports.out(0x3f9, 1, 0x02);
    expect(irq.level).toBe(true);
    expect(ports.in(0x3fa, 1)).toBe(0x02);
    expect(irq.level).toBe(false);
    expect(ports.in(0x3fa, 1)).toBe(0x01);
    ports.out(0x3f8, 1, 0x41);
    expect(irq.level).toBe(true);
    ports.out(0x3f9, 1, 0x00);
    expect(irq.level).toBe(false);
  });

  it("receives host input one byte at a time without FIFO, with DR and the receive interrupt", () => {
    const { uart: device, ports, irq } = uart();
    ports.out(0x3f9, 1, 0x01);
    device.receive([0x61, 0x62]);
    expect(ports.in(0x3fd, 1) & 0x01).toBe(1);
    expect(irq.level).toBe(true);
    expect(ports.in(0x3fa, 1)).toBe(0x04);
    expect(ports.in(0x3f8, 1)).toBe(0x61);
    expect(ports.in(0x3fd, 1) & 0x01).toBe(0);
    // The next byte waits on the host side until the machine pumps input (no overrun).
    expect(device.hasQueuedInput()).toBe(true);
    device.pumpInput();
    expect(ports.in(0x3f8, 1)).toBe(0x62);
    expect(ports.in(0x3fd, 1) & 0x03).toBe(0);
  });

  it("with the FIFO: interrupts at the trigger level, and with a character timeout below it", () => {
    const { uart: device, ports, irq, clock } = uart();
    ports.out(0x3fa, 1, 0x47); // FIFO on, trigger 4
    ports.out(0x3f9, 1, 0x01);
    device.receive([1, 2, 3]);
    expect(irq.level).toBe(false);
    const deadline = device.nextDeadline();
    expect(deadline).toBe(1041660 * 4); // four characters at 9600 baud, 8N1 (QEMU: (1e9 / 9600) * 10 ns each)
    clock.ns = deadline;
    device.service(clock.ns);
    expect(irq.level).toBe(true);
    expect(ports.in(0x3fa, 1)).toBe(0xcc); // character timeout
    expect([ports.in(0x3f8, 1), ports.in(0x3f8, 1), ports.in(0x3f8, 1)]).toEqual([1, 2, 3]);
    expect(irq.level).toBe(false);
    device.receive([4, 5, 6, 7, 8]);
    expect(irq.level).toBe(true);
    expect(ports.in(0x3fa, 1)).toBe(0xc4); // received data available
  });

  it("loopback routes THR to RBR and MCR outputs to MSR inputs; nothing leaves", () => {
    const { ports, sent } = uart();
    ports.out(0x3fc, 1, 0x1f);
    expect(ports.in(0x3fe, 1)).toBe(0xf0);
    ports.out(0x3f8, 1, 0x51);
    expect(ports.in(0x3fd, 1)).toBe(0x61);
    expect(ports.in(0x3f8, 1)).toBe(0x51);
    ports.out(0x3fc, 1, 0x10);
    expect(ports.in(0x3fe, 1)).toBe(0x00);
    ports.out(0x3fc, 1, 0x08);
    expect(ports.in(0x3fe, 1)).toBe(0xb0);
    expect(sent).toEqual([]);
  });
});
