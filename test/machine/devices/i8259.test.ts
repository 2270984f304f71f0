// The i8259A pair: initialization, masks, IRR/ISR reads, EOI, priorities, the cascade, spurious
// interrupts, poll mode and the ELCR, against the 8259A datasheet and QEMU's hw/intc/i8259.c.
import { describe, expect, it } from "vitest";
import { PicPair } from "../../../src/machine/devices/i8259.js";
import { PortBus } from "../../../src/machine/io-bus.js";

/** A PIC pair initialized the usual way: vectors 0x20/0x28, 8086 mode, everything unmasked. */
function initializedPic(): { pic: PicPair; ports: PortBus } {
  const pic = new PicPair();
  const ports = new PortBus();
  pic.register(ports);
  for (const [command, data, base, cascade] of [[0x20, 0x21, 0x20, 0x04], [0xa0, 0xa1, 0x28, 0x02]] as const) {
    ports.out(command, 1, 0x11);
    ports.out(data, 1, base);
    ports.out(data, 1, cascade);
    ports.out(data, 1, 0x01);
    ports.out(data, 1, 0x00);
  }
  return { pic, ports };
}

describe("i8259 PIC", () => {
  it("starts in the state SeaBIOS leaves (vectors 0x08/0x70, masks 0xb8/0x8e, IRQ 4 in IRR, ELCR 0x0c00)", () => {
    const pic = new PicPair();
    pic.resetToBiosState();
    const ports = new PortBus();
    pic.register(ports);
    expect(ports.in(0x21, 1)).toBe(0xb8);
    expect(ports.in(0xa1, 1)).toBe(0x8e);
    expect(ports.in(0x20, 1)).toBe(0x10);
    expect(ports.in(0x4d0, 1)).toBe(0x00);
    expect(ports.in(0x4d1, 1)).toBe(0x0c);
    expect(pic.hasPending()).toBe(false); // IRQ 4 is masked
    pic.pulseIrq(0);
    expect(pic.hasPending()).toBe(true);
    expect(pic.acknowledge()).toBe(0x08);
  });

  it("latches an edge in IRR, moves it to ISR on acknowledge and clears it on EOI", () => {
    const { pic, ports } = initializedPic();
    expect(pic.hasPending()).toBe(false);
    pic.setIrq(0, true);
    expect(ports.in(0x20, 1)).toBe(0x01); // IRR (OCW3 default)
    expect(pic.hasPending()).toBe(true);
    expect(pic.acknowledge()).toBe(0x20);
    expect(pic.hasPending()).toBe(false);
    expect(ports.in(0x20, 1)).toBe(0x00);
    ports.out(0x20, 1, 0x0b); // OCW3: read ISR
    expect(ports.in(0x20, 1)).toBe(0x01);
    // A level held high is not a new edge.
    pic.setIrq(0, true);
    expect(pic.hasPending()).toBe(false);
    ports.out(0x20, 1, 0x20); // non-specific EOI
    expect(ports.in(0x20, 1)).toBe(0x00);
    pic.setIrq(0, false);
    pic.setIrq(0, true);
    expect(pic.hasPending()).toBe(true);
  });

  it("masks with OCW1 and keeps masked requests in IRR", () => {
    const { pic, ports } = initializedPic();
    ports.out(0x21, 1, 0x02);
    pic.pulseIrq(1);
    expect(pic.hasPending()).toBe(false);
    expect(ports.in(0x20, 1)).toBe(0x02);
    ports.out(0x21, 1, 0x00);
    expect(pic.hasPending()).toBe(true);
    expect(pic.acknowledge()).toBe(0x21);
  });

  it("serves IRQ 0 before IRQ 3 and blocks lower priorities while one is in service", () => {
    const { pic, ports } = initializedPic();
    pic.pulseIrq(3);
    pic.pulseIrq(0);
    expect(pic.acknowledge()).toBe(0x20);
    expect(pic.hasPending()).toBe(false); // IRQ 3 waits for IRQ 0's EOI
    ports.out(0x20, 1, 0x60); // specific EOI for IRQ 0
    expect(pic.hasPending()).toBe(true);
    expect(pic.acknowledge()).toBe(0x23);
    // A higher priority interrupts a lower one in service.
    pic.pulseIrq(1);
    expect(pic.hasPending()).toBe(true);
    expect(pic.acknowledge()).toBe(0x21);
    ports.out(0x20, 1, 0x0b);
    expect(ports.in(0x20, 1)).toBe(0x0a);
    ports.out(0x20, 1, 0x20); // non-specific EOI ends the highest priority one (IRQ 1)
    expect(ports.in(0x20, 1)).toBe(0x08);
  });

  it("cascades the slave through IRQ 2 and returns the slave's vector", () => {
    const { pic, ports } = initializedPic();
    pic.setIrq(12, true);
    expect(ports.in(0xa0, 1)).toBe(0x10);
    expect(ports.in(0x20, 1)).toBe(0x04);
    expect(pic.hasPending()).toBe(true);
    expect(pic.acknowledge()).toBe(0x2c);
    ports.out(0xa0, 1, 0x0b);
    expect(ports.in(0xa0, 1)).toBe(0x10);
    ports.out(0x20, 1, 0x0b);
    expect(ports.in(0x20, 1)).toBe(0x04);
  });

  it("answers a spurious acknowledge with IRQ 7's vector", () => {
    const { pic } = initializedPic();
    expect(pic.acknowledge()).toBe(0x27);
  });

  it("rotates priorities with OCW2 set-priority and rotate-on-EOI", () => {
    const { pic, ports } = initializedPic();
    ports.out(0x20, 1, 0xc0 | 3); // IRQ 3 lowest: IRQ 4 highest
    pic.pulseIrq(0);
    pic.pulseIrq(5);
    expect(pic.acknowledge()).toBe(0x25);
    ports.out(0x20, 1, 0xa0); // rotate on non-specific EOI: IRQ 5 becomes lowest
    expect(pic.acknowledge()).toBe(0x20);
  });

  it("answers a poll (OCW3 bit 2) with 0x80 | IRQ and acknowledges it", () => {
    const { pic, ports } = initializedPic();
    pic.pulseIrq(6);
    ports.out(0x20, 1, 0x0c);
    expect(ports.in(0x20, 1)).toBe(0x86);
    expect(pic.hasPending()).toBe(false);
    ports.out(0x20, 1, 0x0c);
    expect(ports.in(0x20, 1)).toBe(0x00);
  });

  it("auto-EOI (ICW4 bit 1) leaves nothing in service", () => {
    const pic = new PicPair();
    const ports = new PortBus();
    pic.register(ports);
    ports.out(0x20, 1, 0x11);
    ports.out(0x21, 1, 0x40);
    ports.out(0x21, 1, 0x04);
    ports.out(0x21, 1, 0x03);
    ports.out(0x21, 1, 0x00);
    pic.pulseIrq(1);
    expect(pic.acknowledge()).toBe(0x41);
    ports.out(0x20, 1, 0x0b);
    expect(ports.in(0x20, 1)).toBe(0x00);
  });

  it("ELCR: writable bits 0xf8/0xde; a level-triggered IRQ stays requested while its line is high", () => {
    const { pic, ports } = initializedPic();
    ports.out(0x4d0, 1, 0xff);
    ports.out(0x4d1, 1, 0xff);
    expect(ports.in(0x4d0, 1)).toBe(0xf8);
    expect(ports.in(0x4d1, 1)).toBe(0xde);
    ports.out(0x4d0, 2, 0x0c08);
    expect(ports.in(0x4d0, 2)).toBe(0x0c08);
    pic.setIrq(3, true);
    expect(pic.acknowledge()).toBe(0x23);
    ports.out(0x20, 1, 0x20);
    expect(pic.hasPending()).toBe(true); // still high: requested again
    pic.setIrq(3, false);
    expect(pic.hasPending()).toBe(false);
    // On the slave the level reaches the master as an edge on IRQ 2, which the master latches.
    pic.setIrq(10, true);
    expect(pic.acknowledge()).toBe(0x2a);
    ports.out(0xa0, 1, 0x20);
    ports.out(0x20, 1, 0x20);
    expect(ports.in(0xa0, 1)).toBe(0x04);
    pic.setIrq(10, false);
    expect(ports.in(0xa0, 1)).toBe(0x00);
  });

  it("ICW1 resets IRR (edge inputs), ISR and the mask", () => {
    const { pic, ports } = initializedPic();
    ports.out(0x21, 1, 0xff);
    pic.pulseIrq(3);
    ports.out(0x20, 1, 0x11);
    ports.out(0x21, 1, 0x20);
    ports.out(0x21, 1, 0x04);
    ports.out(0x21, 1, 0x01);
    expect(ports.in(0x21, 1)).toBe(0x00);
    expect(ports.in(0x20, 1)).toBe(0x00);
  });
});

describe("whether a halted CPU can still be woken", () => {
  it("an IRQ whose handler never sent EOI blocks its own line and every lower-priority one", () => {
    const pic = new PicPair();
    pic.resetToBiosState(); // master mask 0xb8: IRQ 0, 1, 2, 6 unmasked
    expect(pic.wouldDeliver(0)).toBe(true);
    expect(pic.wouldDeliver(3)).toBe(false); // masked
    pic.pulseIrq(0);
    expect(pic.acknowledge()).toBe(0x08); // IRQ 0 in service, no EOI
    expect(pic.wouldDeliver(0)).toBe(false);
    expect(pic.wouldDeliver(1)).toBe(false);
    expect(pic.wouldDeliver(10)).toBe(false); // the slave cascades through IRQ 2, behind IRQ 0
    pic.master.write(0, 0x20); // non-specific EOI
    expect(pic.wouldDeliver(0)).toBe(true);
    expect(pic.wouldDeliver(10)).toBe(false); // masked on the slave (0x8e has bit 2 set)
  });
});
