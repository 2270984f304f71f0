// virtio-net-pci driven directly from TypeScript: rings written into guest RAM, registers poked
// through the port bus (legacy, BAR0) and MMIO (modern, BAR4; MSI-X, BAR1), a fake backend on the
// other side. What QEMU 7.2 shows of the same device (configuration space, register values, the
// probe's ring and error scenarios) is compared by test/machine/devices/q35-probe.test.ts; this
// file checks the behaviour case by case, malformed rings above all: each one breaks the device,
// logs one line, throws nothing and takes bounded work, and a reset recovers it.
import { describe, expect, it } from "vitest";
import {
  HOST_FEATURES_LO,
  STATUS_ACKNOWLEDGE,
  STATUS_DRIVER,
  STATUS_DRIVER_OK,
  STATUS_FEATURES_OK,
  STATUS_NEEDS_RESET,
  VIRTIO_F_NOTIFY_ON_EMPTY,
  VIRTIO_F_VERSION_1,
  VIRTIO_NET_F_CTRL_MAC_ADDR,
  VIRTIO_NET_F_CTRL_RX,
  VIRTIO_NET_F_CTRL_VLAN,
  VIRTIO_NET_F_CTRL_VQ,
  VIRTIO_NET_F_MAC,
  VIRTIO_NET_F_MRG_RXBUF,
  VIRTIO_NET_F_STATUS,
  VIRTIO_RING_F_EVENT_IDX,
  VIRTIO_RING_F_INDIRECT_DESC,
  VirtioNetPci,
} from "../../../src/machine/devices/virtio-net-pci.js";
import { PortBus } from "../../../src/machine/io-bus.js";
import { PhysicalMemory } from "../../../src/machine/memory.js";
import type { NetBackend, NetDevicePort } from "../../../src/machine/net/backend.js";

const RAM = 16 << 20;
const IO = 0xc040;
const MODERN = 0xfebfc000;
const MSIX = 0xfebc0000;
const NEXT = 1;
const WRITE = 2;
const INDIRECT = 4;
const BUFFERS = 0x400000;
const buffer = (i: number) => BUFFERS + 0x800 * i;

class FakeBackend implements NetBackend {
  port!: NetDevicePort;
  readonly sent: Uint8Array[] = [];
  canReceive = 0;
  onFrame: ((frame: Uint8Array) => void) | null = null;
  attach(port: NetDevicePort): void {
    this.port = port;
  }
  receiveFromGuest(frame: Uint8Array): void {
    this.sent.push(frame.slice());
    this.onFrame?.(frame);
  }
  guestCanReceive(): void {
    this.canReceive++;
  }
  close(): void {}
}

/** A split ring in guest RAM, laid out as the legacy interface wants it (and usable by the modern one). */
class Ring {
  constructor(readonly memory: PhysicalMemory, readonly base: number, readonly size: number) {}
  get desc(): number {
    return this.base;
  }
  get avail(): number {
    return this.base + 16 * this.size;
  }
  get used(): number {
    return Math.ceil((this.avail + 4 + 2 * this.size) / 4096) * 4096;
  }
  clear(): void {
    this.memory.ram.fill(0, this.base, this.used + 4096 + 8 * this.size);
  }
  setDesc(i: number, addr: number, len: number, flags = 0, next = 0, at = this.desc): void {
    const d = at + 16 * i;
    const view = this.memory.view;
    view.setUint32(d, addr % 0x100000000, true);
    view.setUint32(d + 4, Math.floor(addr / 0x100000000), true);
    view.setUint32(d + 8, len, true);
    view.setUint16(d + 12, flags, true);
    view.setUint16(d + 14, next, true);
  }
  post(head: number): void {
    const view = this.memory.view;
    const idx = view.getUint16(this.avail + 2, true);
    view.setUint16(this.avail + 4 + 2 * (idx % this.size), head, true);
    view.setUint16(this.avail + 2, (idx + 1) & 0xffff, true);
  }
  setAvailIdx(idx: number): void {
    this.memory.view.setUint16(this.avail + 2, idx & 0xffff, true);
  }
  setAvailFlags(flags: number): void {
    this.memory.view.setUint16(this.avail, flags, true);
  }
  setUsedEvent(value: number): void {
    this.memory.view.setUint16(this.avail + 4 + 2 * this.size, value, true);
  }
  get usedIdx(): number {
    return this.memory.view.getUint16(this.used + 2, true);
  }
  get usedFlags(): number {
    return this.memory.view.getUint16(this.used, true);
  }
  get availEvent(): number {
    return this.memory.view.getUint16(this.used + 4 + 8 * this.size, true);
  }
  usedElem(i: number): { id: number; len: number } {
    const at = this.used + 4 + 8 * (i % this.size);
    return { id: this.memory.view.getUint32(at, true), len: this.memory.view.getUint32(at + 4, true) };
  }
}

function setup() {
  const memory = new PhysicalMemory(RAM);
  const ports = new PortBus();
  const backend = new FakeBackend();
  const log: string[] = [];
  const nic = new VirtioNetPci({ memory, ports, backend, log: (line) => void log.push(line) });
  const irqEdges: boolean[] = [];
  nic.onIntx = (level) => void irqEdges.push(level);
  const h = {
    memory, ports, backend, log, nic, irqEdges,
    cfg: (reg: number, size = 4) => nic.read(reg, size),
    setCfg: (reg: number, value: number, size = 4) => nic.write(reg, size, value),
    in8: (off: number) => ports.in(IO + off, 1),
    in16: (off: number) => ports.in(IO + off, 2),
    in32: (off: number) => ports.in(IO + off, 4),
    out8: (off: number, v: number) => ports.out(IO + off, 1, v),
    out16: (off: number, v: number) => ports.out(IO + off, 2, v),
    out32: (off: number, v: number) => ports.out(IO + off, 4, v),
    m8: (off: number) => memory.read8(MODERN + off),
    m16: (off: number) => memory.read16(MODERN + off),
    m32: (off: number) => memory.read32(MODERN + off),
    w8: (off: number, v: number) => memory.write8(MODERN + off, v),
    w16: (off: number, v: number) => memory.write16(MODERN + off, v),
    w32: (off: number, v: number) => memory.write32(MODERN + off, v),
    rings: [0, 1, 2].map((q) => new Ring(memory, 0x100000 + 0x10000 * q, [256, 256, 64][q]!)),
  };
  return h;
}
type Harness = ReturnType<typeof setup>;

/** The legacy bring-up the guest driver (src/libos/net/virtio_net.c) does. */
function legacyUp(h: Harness, features = VIRTIO_NET_F_MAC | VIRTIO_NET_F_STATUS, driverOk = true): Ring[] {
  h.setCfg(4, h.cfg(4, 2) | 0x5, 4);
  h.out8(18, 0);
  h.out8(18, STATUS_ACKNOWLEDGE);
  h.out8(18, STATUS_ACKNOWLEDGE | STATUS_DRIVER);
  h.out32(4, features);
  for (const ring of h.rings) {
    ring.clear();
    h.out16(14, h.rings.indexOf(ring));
    expect(h.in16(12)).toBe(ring.size);
    h.out32(8, ring.base / 4096);
  }
  if (driverOk) h.out8(18, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_DRIVER_OK);
  return h.rings;
}

/** The modern bring-up (virtio 1.x §3.1.1) through the common configuration in BAR4. */
function modernUp(h: Harness, featuresLo = VIRTIO_NET_F_MAC | VIRTIO_NET_F_STATUS, featuresHi = VIRTIO_F_VERSION_1, sizes?: number[]): Ring[] {
  h.setCfg(4, h.cfg(4, 2) | 0x6, 4);
  h.w8(0x14, 0);
  h.w8(0x14, STATUS_ACKNOWLEDGE);
  h.w8(0x14, STATUS_ACKNOWLEDGE | STATUS_DRIVER);
  h.w32(0x08, 0);
  h.w32(0x0c, featuresLo);
  h.w32(0x08, 1);
  h.w32(0x0c, featuresHi);
  h.w8(0x14, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
  expect(h.m8(0x14) & STATUS_FEATURES_OK).toBe(STATUS_FEATURES_OK);
  const rings: Ring[] = [];
  for (let q = 0; q < 3; q++) {
    h.w16(0x16, q);
    if (sizes) h.w16(0x18, sizes[q]!);
    const ring = new Ring(h.memory, 0x100000 + 0x10000 * q, h.m16(0x18));
    ring.clear();
    h.w32(0x20, ring.desc);
    h.w32(0x24, 0);
    h.w32(0x28, ring.avail);
    h.w32(0x2c, 0);
    h.w32(0x30, ring.used);
    h.w32(0x34, 0);
    h.w16(0x1c, 1);
    rings.push(ring);
  }
  h.w8(0x14, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
  return rings;
}

const GUEST_MAC = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];

function frameBytes(length: number, dst = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff], seed = 1): Uint8Array {
  const frame = new Uint8Array(length);
  frame.set(dst, 0);
  frame.set(GUEST_MAC, 6);
  frame[12] = 0x88;
  frame[13] = 0xb5;
  for (let i = 14; i < length; i++) frame[i] = (i * 7 + seed) & 0xff;
  return frame;
}

/** Posts a transmit chain (header + frame in one buffer, descriptor `id`) and notifies (legacy). */
function transmit(h: Harness, tx: Ring, frame: Uint8Array, id = 0, hdrLen = 10, notify = () => h.out16(16, 1)): void {
  h.memory.ram.fill(0, buffer(100 + id), buffer(100 + id) + hdrLen);
  h.memory.loadBytes(buffer(100 + id) + hdrLen, frame);
  tx.setDesc(id, buffer(100 + id), hdrLen + frame.length);
  tx.post(id);
  notify();
}

function postRx(h: Harness, rx: Ring, count: number, size = 2048): void {
  for (let i = 0; i < count; i++) {
    h.memory.ram.fill(0xaa, buffer(i), buffer(i) + size);
    rx.setDesc(i, buffer(i), size, WRITE);
    rx.post(i);
  }
}

describe("virtio-net-pci: PCI configuration space and BARs", () => {
  it("identifies as QEMU's transitional virtio-net at 00:01.0 with its capability chain", () => {
    const h = setup();
    expect(h.cfg(0)).toBe(0x10001af4);
    expect(h.cfg(4)).toBe(0x00100103);
    expect(h.cfg(8)).toBe(0x02000000);
    expect(h.cfg(0x2c)).toBe(0x00011af4);
    expect(h.cfg(0x10)).toBe(0xc041);
    expect(h.cfg(0x14)).toBe(0xfebc0000);
    expect(h.cfg(0x20)).toBe(0xfebfc00c);
    expect(h.cfg(0x24)).toBe(0);
    expect(h.cfg(0x30)).toBe(0xfeb80000);
    expect(h.cfg(0x3c) & 0xffff).toBe(0x010a);
    const chain: string[] = [];
    for (let at = h.cfg(0x34, 1); at !== 0; at = h.cfg(at + 1, 1)) {
      const id = h.cfg(at, 1);
      chain.push(id === 9 ? `${at.toString(16)}:virtio${h.cfg(at + 3, 1)}` : `${at.toString(16)}:${id.toString(16)}`);
    }
    expect(chain).toEqual(["98:11", "84:virtio5", "70:virtio2", "60:virtio4", "50:virtio3", "40:virtio1"]);
    expect(h.cfg(0x98)).toBe(0x00038411); // MSI-X, 4 vectors
    expect(h.cfg(0x80)).toBe(4); // notify_off_multiplier
    expect(h.nic.mappings).toEqual({ io: 0xc040, msix: 0xfebc0000, modern: 0xfebfc000 });
  });

  it("sizes BARs and takes write masks as QEMU (the probe's all-ones/all-zeros writes)", () => {
    const h = setup();
    const probe = (reg: number) => {
      const orig = h.cfg(reg);
      h.setCfg(reg, 0xffffffff);
      const ones = h.cfg(reg);
      h.setCfg(reg, 0);
      const zeros = h.cfg(reg);
      h.setCfg(reg, orig);
      return [ones, zeros, h.cfg(reg)].map((v) => v.toString(16));
    };
    expect(probe(0x04)).toEqual(["100507", "100000", "100103"]);
    expect(probe(0x10)).toEqual(["ffffffe1", "1", "c041"]);
    expect(probe(0x14)).toEqual(["fffff000", "0", "febc0000"]);
    expect(probe(0x20)).toEqual(["ffffc00c", "c", "febfc00c"]);
    expect(probe(0x24)).toEqual(["ffffffff", "0", "0"]);
    expect(probe(0x30)).toEqual(["fffc0001", "0", "feb80000"]);
    expect(probe(0x98)).toEqual(["c0038411", "38411", "38411"]);
    expect(probe(0x88)).toEqual(["ff", "0", "0"]);
    expect(probe(0xfc)).toEqual(["ffffffff", "0", "0"]);
    expect(probe(0x40)).toEqual(["1100009", "1100009", "1100009"]);
    expect(h.nic.mappings).toEqual({ io: 0xc040, msix: 0xfebc0000, modern: 0xfebfc000 });
  });

  it("moves and unmaps BARs as the command register and BAR writes say; RAM hides a BAR placed over it", () => {
    const h = setup();
    h.setCfg(0x10, 0xd001);
    expect(h.nic.mappings.io).toBe(0xd000);
    expect(h.ports.isClaimed(0xc040)).toBe(false);
    expect(h.ports.in(0xd000, 4)).toBe(HOST_FEATURES_LO);
    h.setCfg(4, 0x0102); // I/O decode off
    expect(h.nic.mappings.io).toBe(-1);
    expect(h.ports.isClaimed(0xd000)).toBe(false);
    h.setCfg(4, 0x0103);
    h.setCfg(0x20, 0x0080000c); // over RAM: not decoded
    expect(h.nic.mappings.modern).toBe(-1);
    h.setCfg(0x20, 0xe000000c);
    expect(h.nic.mappings.modern).toBe(0xe0000000);
    expect(h.memory.read32(0xe0000004)).toBe(0x30bf8024);
    expect(h.memory.read32(MODERN + 4)).toBe(0xffffffff); // nothing there any more
    h.setCfg(0x14, 0xe0000000); // overlapping BAR4: left unmapped, said once
    expect(h.nic.mappings.msix).toBe(-1);
    expect(h.log).toEqual([expect.stringMatching(/^virtio-net: BAR1 not mapped at 0xe0000000/)]);
  });
});

describe("virtio-net-pci: the legacy interface", () => {
  it("brings up as the guest driver does: features, queue sizes and PFNs, MAC and link in the device config", () => {
    const h = setup();
    legacyUp(h);
    expect(h.in32(0)).toBe(0x79bf8064);
    expect(h.in32(4)).toBe(VIRTIO_NET_F_MAC | VIRTIO_NET_F_STATUS);
    expect(h.in8(18)).toBe(7);
    const sizes = [0, 1, 2, 3].map((q) => (h.out16(14, q), h.in16(12)));
    expect(sizes).toEqual([256, 256, 64, 0]);
    h.out16(14, 1);
    expect(h.in32(8)).toBe(h.rings[1]!.base / 4096);
    expect([20, 21, 22, 23, 24, 25].map((o) => h.in8(o))).toEqual(GUEST_MAC);
    expect(h.in16(26)).toBe(1); // VIRTIO_NET_S_LINK_UP
    expect(h.in8(28)).toBe(0xff); // beyond the 8 config bytes
    expect(h.cfg(4) & 4).toBe(4); // bus mastering on
    expect(Array.from(h.backend.port.mac)).toEqual(GUEST_MAC);
  });

  it("reads the registers at every size as QEMU: unaligned accesses are invalid, unknown offsets all-ones", () => {
    const h = setup();
    expect(h.in8(0)).toBe(0x64);
    expect(h.in8(1)).toBe(0xff);
    expect(h.in16(1)).toBe(0);
    expect(h.in16(2)).toBe(0xffff);
    expect(h.in32(2)).toBe(0); // unaligned
    expect(h.in32(12)).toBe(0x100);
    expect(h.in32(16)).toBe(0xffffffff);
    expect(h.in16(18)).toBe(0);
    expect(h.in32(20)).toBe(0x12005452);
    h.out16(5, 0x20); // unaligned: ignored
    expect(h.in32(4)).toBe(0);
  });

  it("transmits: the header is skipped, the frame goes to the backend, the chain returns with used length 0", () => {
    const h = setup();
    const [, tx] = legacyUp(h);
    const frame = frameBytes(60);
    transmit(h, tx!, frame);
    expect(h.backend.sent).toEqual([frame]);
    expect(tx!.usedIdx).toBe(1);
    expect(tx!.usedElem(0)).toEqual({ id: 0, len: 0 });
    expect(tx!.usedFlags).toBe(0);
    // a frame over two descriptors, the header alone in the first
    h.memory.ram.fill(0, buffer(110), buffer(110) + 10);
    h.memory.loadBytes(buffer(111), frame.subarray(0, 20));
    h.memory.loadBytes(buffer(112), frame.subarray(20));
    tx!.setDesc(5, buffer(110), 10, NEXT, 6);
    tx!.setDesc(6, buffer(111), 20, NEXT, 7);
    tx!.setDesc(7, buffer(112), 40);
    tx!.post(5);
    h.out16(16, 1);
    expect(h.backend.sent[1]).toEqual(frame);
    expect(tx!.usedElem(1)).toEqual({ id: 5, len: 0 });
    expect(h.nic.stats.txFrames).toBe(2);
  });

  it("receives: a zeroed header then the frame; no buffer means not now; a notify on the receive queue asks the backend again", () => {
    const h = setup();
    const [rx] = legacyUp(h);
    const frame = frameBytes(74, GUEST_MAC);
    expect(h.backend.port.deliver(frame)).toBe(false); // nothing posted
    expect(rx!.usedFlags).toBe(0); // the driver is asked to notify
    postRx(h, rx!, 2);
    const asked = h.backend.canReceive;
    h.out16(16, 0);
    expect(h.backend.canReceive).toBe(asked + 1);
    expect(h.backend.port.deliver(frame)).toBe(true);
    expect(rx!.usedIdx).toBe(1);
    expect(rx!.usedElem(0)).toEqual({ id: 0, len: 10 + 74 });
    expect(Array.from(h.memory.readBytes(buffer(0), 10))).toEqual(new Array(10).fill(0));
    expect(h.memory.readBytes(buffer(0) + 10, 74)).toEqual(frame);
    expect(h.memory.read8(buffer(0) + 84)).toBe(0xaa); // nothing past the frame
    expect(rx!.usedFlags).toBe(1); // buffers left: QEMU asks the driver not to notify
    expect(h.nic.stats.rxFrames).toBe(1);
  });

  it("drops a frame larger than the posted buffer (never truncates it); the buffer stays posted", () => {
    const h = setup();
    const [rx] = legacyUp(h);
    postRx(h, rx!, 1, 64);
    expect(h.backend.port.deliver(frameBytes(100, GUEST_MAC))).toBe(true);
    expect(rx!.usedIdx).toBe(0);
    expect(h.nic.stats.rxDropped).toBe(1);
    expect(h.nic.broken).toBe(false);
    expect(h.backend.port.deliver(frameBytes(54, GUEST_MAC))).toBe(true);
    expect(rx!.usedElem(0)).toEqual({ id: 0, len: 64 });
    expect(h.log).toEqual([]);
  });

  it("raises INTx with ISR bit 0, lowers it on the ISR read; INTx-disable masks the line, not the status bit", () => {
    const h = setup();
    const [, tx] = legacyUp(h);
    transmit(h, tx!, frameBytes(60));
    expect(h.nic.intxLevel).toBe(true);
    expect(h.irqEdges).toEqual([true]);
    expect(h.cfg(4) >>> 16).toBe(0x18); // interrupt status
    h.setCfg(4, h.cfg(4, 2) | 0x400, 2);
    expect(h.nic.intxLevel).toBe(false);
    expect(h.cfg(4) >>> 16).toBe(0x18);
    h.setCfg(4, h.cfg(4, 2) & ~0x400, 2);
    expect(h.nic.intxLevel).toBe(true);
    expect(h.in8(19)).toBe(1);
    expect(h.nic.intxLevel).toBe(false);
    expect(h.cfg(4) >>> 16).toBe(0x10);
    expect(h.in8(19)).toBe(0);
    expect(h.irqEdges).toEqual([true, false, true, false]);
  });

  it("moves the device config to offset 24 while MSI-X is enabled, with the vector registers at 20 and 22", () => {
    const h = setup();
    h.setCfg(0x98, h.cfg(0x98) | 0x80000000);
    expect(h.nic.msixEnabled).toBe(true);
    expect(h.in16(20)).toBe(0xffff);
    expect([24, 25, 26, 27, 28, 29].map((o) => h.in8(o))).toEqual(GUEST_MAC);
    h.out16(20, 3);
    expect(h.in16(20)).toBe(3);
    h.out16(20, 4); // no such vector
    expect(h.in16(20)).toBe(0xffff);
    h.out16(14, 0);
    h.out16(22, 2);
    expect(h.in16(22)).toBe(2);
    expect(h.m16(0x1a)).toBe(2);
    h.out8(18, 0);
    expect(h.in16(22)).toBe(0xffff);
  });
});

describe("virtio-net-pci: reset rules", () => {
  it("writing status 0 resets features, queues, ISR, the line and the MAC; a queue PFN of 0 does too", () => {
    const h = setup();
    const [, tx] = legacyUp(h);
    h.out8(20, 0x02); // legacy drivers may set the MAC through the config space
    expect(h.backend.port.mac[0]).toBe(0x02);
    transmit(h, tx!, frameBytes(60));
    expect(h.nic.intxLevel).toBe(true);
    h.out16(14, 2);
    h.out8(18, 0);
    expect(h.in8(18)).toBe(0);
    expect(h.in32(4)).toBe(0);
    expect(h.in16(14)).toBe(0);
    expect(h.nic.intxLevel).toBe(false);
    expect(h.in8(19)).toBe(0);
    expect([0, 1, 2].map((q) => (h.out16(14, q), h.in32(8)))).toEqual([0, 0, 0]);
    expect(h.backend.port.mac[0]).toBe(0x52);
    legacyUp(h);
    h.out16(14, 1);
    h.out32(8, 0);
    expect(h.in8(18)).toBe(0);
    expect(h.in32(4)).toBe(0);
  });

  it("is disabled until bus mastering is written on or the device is reset, as SeaBIOS leaves it; bus mastering off stops it again", () => {
    const h = setup();
    // no reset, no command write: ACKNOWLEDGE|DRIVER switches bus mastering on, but the rings stay off
    h.out8(18, 1);
    h.out8(18, 3);
    expect(h.cfg(4) & 4).toBe(4);
    const tx = h.rings[1]!;
    tx.clear();
    h.out16(14, 1);
    h.out32(8, tx.base / 4096);
    h.out8(18, 7);
    transmit(h, tx, frameBytes(60));
    expect(tx.usedIdx).toBe(0);
    expect(h.backend.sent).toEqual([]);
    h.setCfg(4, h.cfg(4, 2) | 4, 2);
    h.out16(16, 1);
    expect(tx.usedIdx).toBe(1);
    // bus mastering off: DRIVER_OK dropped, nothing processed
    h.setCfg(4, h.cfg(4, 2) & ~4, 2);
    expect(h.in8(18)).toBe(3);
    h.out8(18, 7);
    transmit(h, tx, frameBytes(60), 1);
    expect(tx.usedIdx).toBe(1);
    expect(h.backend.sent.length).toBe(1);
    expect(h.backend.port.deliver(frameBytes(60))).toBe(false);
  });
});

describe("virtio-net-pci: feature negotiation", () => {
  it("legacy: masked by what the device offers; BAD_FEATURE means 'assume nothing' (MAC only)", () => {
    const h = setup();
    h.out32(4, 0xffffffff);
    expect(h.in32(4)).toBe(VIRTIO_NET_F_MAC);
    h.out32(4, 0x3fffffff);
    expect(h.in32(4)).toBe(HOST_FEATURES_LO & 0x3fffffff);
  });

  it("modern: device features without the legacy-only bits, VERSION_1 and RING_RESET above; FEATURES_OK locks the choice", () => {
    const h = setup();
    const df = (sel: number) => (h.w32(0, sel), h.m32(4));
    expect([df(0), df(1), df(2)]).toEqual([0x30bf8024, 0x101, 0]);
    h.w32(0x08, 0);
    h.w32(0x0c, 0xffffffff);
    expect(h.m32(0x0c)).toBe(0xffffffff); // the register reads back what was written
    expect(h.in32(4)).toBe(HOST_FEATURES_LO); // the device took what it offers
    h.w32(0x0c, VIRTIO_NET_F_MAC);
    h.w32(0x08, 1);
    h.w32(0x0c, VIRTIO_F_VERSION_1);
    h.w8(0x14, STATUS_FEATURES_OK);
    h.w32(0x08, 0);
    h.w32(0x0c, VIRTIO_NET_F_MAC | VIRTIO_NET_F_MRG_RXBUF);
    expect(h.in32(4)).toBe(VIRTIO_NET_F_MAC);
  });
});

describe("virtio-net-pci: the modern interface", () => {
  it("brings up through BAR4 and moves frames both ways with a 12-byte header", () => {
    const h = setup();
    const [rx, tx] = modernUp(h);
    expect(h.m16(0x12)).toBe(3); // num_queues
    expect(h.m8(0x14)).toBe(0x0f);
    expect(Array.from({ length: 6 }, (_, i) => h.m8(0x2000 + i))).toEqual(GUEST_MAC);
    expect(h.m16(0x2006)).toBe(1);
    expect(h.m32(0x2008)).toBe(0xffffffff);
    const frame = frameBytes(60);
    transmit(h, tx!, frame, 0, 12, () => h.w16(0x3000 + 4 * 1, 1));
    expect(h.backend.sent).toEqual([frame]);
    expect(tx!.usedElem(0)).toEqual({ id: 0, len: 0 });
    expect(h.nic.intxLevel).toBe(true);
    expect(h.m8(0x1000)).toBe(1); // the ISR region reads and clears
    expect(h.nic.intxLevel).toBe(false);
    expect(h.m8(0x1000)).toBe(0);
    postRx(h, rx!, 4);
    h.w16(0x3000, 0);
    expect(h.backend.port.deliver(frameBytes(70, GUEST_MAC))).toBe(true);
    expect(rx!.usedElem(0)).toEqual({ id: 0, len: 12 + 70 });
    expect(Array.from(h.memory.readBytes(buffer(0), 10))).toEqual(new Array(10).fill(0));
    expect(h.memory.readBytes(buffer(0) + 12, 70)).toEqual(frameBytes(70, GUEST_MAC));
  });

  it("takes queue sizes up to 1024 (any value, as QEMU), never 0 for an existing queue, none for a missing one", () => {
    const h = setup();
    h.w16(0x16, 0);
    h.w16(0x18, 1000);
    expect(h.m16(0x18)).toBe(1000);
    h.w16(0x18, 1025);
    expect(h.m16(0x18)).toBe(1000);
    h.w16(0x18, 0);
    expect(h.m16(0x18)).toBe(1000);
    h.w16(0x16, 3);
    h.w16(0x18, 16);
    expect(h.m16(0x18)).toBe(0);
    h.w16(0x16, 1024);
    expect(h.m16(0x16)).toBe(3);
    // a ring of 128 entries works end to end
    const h2 = setup();
    const [, tx] = modernUp(h2, VIRTIO_NET_F_MAC, VIRTIO_F_VERSION_1, [128, 128, 16]);
    expect(tx!.size).toBe(128);
    transmit(h2, tx!, frameBytes(60), 0, 12, () => h2.w16(0x3004, 0));
    expect(tx!.usedIdx).toBe(1);
  });

  it("splits unaligned MMIO reads as QEMU's TCG does and reads unknown registers as 0", () => {
    const h = setup();
    expect(h.m16(3)).toBe(0x2400);
    expect(h.m16(5)).toBe(0x0080);
    expect(h.m32(1)).toBe(0x24000000);
    expect(h.m32(0x38)).toBe(0);
    expect(h.m32(0x3004)).toBe(0);
    expect(h.memory.read32(MSIX + 0x0c)).toBe(1); // entry 0 masked
    expect(h.memory.read8(MSIX + 0x0c)).toBe(0); // the table takes dword accesses only
    expect(h.memory.read32(MSIX + 0x40)).toBe(0);
  });

  it("reaches BAR4 through the PCI configuration access capability", () => {
    const h = setup();
    h.setCfg(0x8c, 0x2000);
    h.setCfg(0x90, 4);
    expect(h.cfg(0x94)).toBe(0x12005452);
    h.setCfg(0x8c, 0x14);
    h.setCfg(0x90, 1);
    h.setCfg(0x94, 1);
    expect(h.in8(18)).toBe(1);
  });

  it("resets one queue (RING_RESET) and re-enables it", () => {
    const h = setup();
    const [, tx] = modernUp(h);
    transmit(h, tx!, frameBytes(60), 0, 12, () => h.w16(0x3004, 0));
    h.w16(0x16, 1);
    h.w16(0x3a, 1);
    expect(h.m16(0x1c)).toBe(0);
    expect(h.in32(8)).toBe(0); // (legacy view of the selected queue's ring)
    tx!.clear();
    h.w16(0x1c, 1);
    transmit(h, tx!, frameBytes(60), 0, 12, () => h.w16(0x3004, 0));
    expect(tx!.usedIdx).toBe(1);
    expect(h.backend.sent.length).toBe(2);
  });
});

describe("virtio-net-pci: interrupt suppression", () => {
  it("VRING_AVAIL_F_NO_INTERRUPT suppresses the interrupt (and the ISR bit); NOTIFY_ON_EMPTY overrides it when the ring drains", () => {
    const h = setup();
    const [, tx] = legacyUp(h);
    tx!.setAvailFlags(1);
    transmit(h, tx!, frameBytes(60));
    expect(tx!.usedIdx).toBe(1);
    expect(h.nic.intxLevel).toBe(false);
    expect(h.in8(19)).toBe(0);
    const h2 = setup();
    const [, tx2] = legacyUp(h2, VIRTIO_NET_F_MAC | VIRTIO_F_NOTIFY_ON_EMPTY);
    tx2!.setAvailFlags(1);
    transmit(h2, tx2!, frameBytes(60));
    expect(h2.nic.intxLevel).toBe(true);
  });

  it("EVENT_IDX: interrupts only when the used index passes used_event; avail_event follows the device", () => {
    const h = setup();
    const [rx, tx] = legacyUp(h, VIRTIO_NET_F_MAC | VIRTIO_RING_F_EVENT_IDX);
    tx!.setUsedEvent(2); // interrupt when the used index goes past 2 (the third completion)
    const interrupted: number[] = [];
    for (let i = 0; i < 4; i++) {
      transmit(h, tx!, frameBytes(60), i);
      expect(tx!.availEvent).toBe(i + 1);
      interrupted.push(h.in8(19));
    }
    // the first completion always interrupts (nothing signalled yet), then only the one past used_event
    expect(interrupted).toEqual([1, 0, 1, 0]);
    // receive side: each chain taken moves avail_event past it (QEMU's virtqueue_pop)
    postRx(h, rx!, 3);
    rx!.setUsedEvent(0);
    expect(h.backend.port.deliver(frameBytes(60, GUEST_MAC))).toBe(true);
    expect(rx!.availEvent).toBe(1);
    expect(h.nic.intxLevel).toBe(true);
  });
});

describe("virtio-net-pci: indirect descriptors and merged receive buffers", () => {
  it("transmits and receives through indirect tables", () => {
    const h = setup();
    const [rx, tx] = legacyUp(h, VIRTIO_NET_F_MAC | VIRTIO_RING_F_INDIRECT_DESC);
    const frame = frameBytes(60);
    const table = 0x300000;
    h.memory.ram.fill(0, buffer(120), buffer(120) + 10);
    h.memory.loadBytes(buffer(121), frame);
    tx!.setDesc(0, buffer(120), 10, NEXT, 1, table);
    tx!.setDesc(1, buffer(121), 60, 0, 0, table);
    tx!.setDesc(9, table, 32, INDIRECT);
    tx!.post(9);
    h.out16(16, 1);
    expect(h.backend.sent).toEqual([frame]);
    expect(tx!.usedElem(0)).toEqual({ id: 9, len: 0 });
    const rxTable = 0x301000;
    rx!.setDesc(0, buffer(0), 10, WRITE | NEXT, 1, rxTable);
    rx!.setDesc(1, buffer(1), 100, WRITE, 0, rxTable);
    rx!.setDesc(4, rxTable, 32, INDIRECT);
    rx!.post(4);
    const incoming = frameBytes(80, GUEST_MAC);
    expect(h.backend.port.deliver(incoming)).toBe(true);
    expect(rx!.usedElem(0)).toEqual({ id: 4, len: 90 });
    expect(h.memory.readBytes(buffer(1), 80)).toEqual(incoming);
  });

  it("MRG_RXBUF: a 12-byte header whose num_buffers counts the buffers one frame took", () => {
    const h = setup();
    const [rx] = legacyUp(h, VIRTIO_NET_F_MAC | VIRTIO_NET_F_MRG_RXBUF);
    for (const id of [0, 1]) (rx!.setDesc(id, buffer(id), 32, WRITE), rx!.post(id));
    expect(h.backend.port.deliver(frameBytes(64, GUEST_MAC))).toBe(false); // 76 bytes do not fit 64
    expect(rx!.usedIdx).toBe(0);
    for (const id of [2, 3]) (rx!.setDesc(id, buffer(id), 32, WRITE), rx!.post(id));
    const frame = frameBytes(64, GUEST_MAC);
    expect(h.backend.port.deliver(frame)).toBe(true);
    expect(rx!.usedIdx).toBe(3);
    expect([0, 1, 2].map((i) => rx!.usedElem(i))).toEqual([{ id: 0, len: 32 }, { id: 1, len: 32 }, { id: 2, len: 12 }]);
    expect(h.memory.read16(buffer(0) + 10)).toBe(3);
    const received = new Uint8Array([...h.memory.readBytes(buffer(0) + 12, 20), ...h.memory.readBytes(buffer(1), 32), ...h.memory.readBytes(buffer(2), 12)]);
    expect(received).toEqual(frame);
  });
});

describe("virtio-net-pci: the control queue", () => {
  function ctrl(h: Harness, cq: Ring, bytes: number[]): number {
    const at = 0x380000;
    h.memory.loadBytes(at, bytes);
    h.memory.write8(at + 0x100, 0xee);
    cq.setDesc(0, at, bytes.length, NEXT, 1);
    cq.setDesc(1, at + 0x100, 1, WRITE);
    cq.post(0);
    h.out16(16, 2);
    return h.memory.read8(at + 0x100);
  }

  it("applies RX modes, MAC address and table, VLANs; answers ERR where QEMU does", () => {
    const h = setup();
    const [rx, , cq] = legacyUp(h, VIRTIO_NET_F_MAC | VIRTIO_NET_F_CTRL_VQ | VIRTIO_NET_F_CTRL_RX | VIRTIO_NET_F_CTRL_VLAN | VIRTIO_NET_F_CTRL_MAC_ADDR);
    postRx(h, rx!, 8);
    const other = [0x52, 0x54, 0, 0, 0, 9];
    expect(h.backend.port.deliver(frameBytes(60, other))).toBe(true);
    expect(rx!.usedIdx).toBe(1); // promiscuous by default
    expect(ctrl(h, cq!, [0, 0, 0])).toBe(0); // PROMISC off
    expect(cq!.usedElem(0)).toEqual({ id: 0, len: 1 });
    expect(h.backend.port.deliver(frameBytes(60, other))).toBe(true);
    expect(rx!.usedIdx).toBe(1);
    expect(h.nic.stats.rxFiltered).toBe(1);
    expect(h.backend.port.deliver(frameBytes(60, GUEST_MAC))).toBe(true);
    expect(h.backend.port.deliver(frameBytes(60))).toBe(true); // broadcast
    expect(rx!.usedIdx).toBe(3);
    expect(ctrl(h, cq!, [0, 5, 1])).toBe(0); // NOBCAST
    h.backend.port.deliver(frameBytes(60));
    expect(rx!.usedIdx).toBe(3);
    expect(ctrl(h, cq!, [1, 1, ...other])).toBe(0); // MAC_ADDR_SET
    expect(Array.from(h.backend.port.mac)).toEqual(other);
    expect(h.in8(25)).toBe(9);
    h.backend.port.deliver(frameBytes(60, other));
    expect(rx!.usedIdx).toBe(4);
    const multicast = [0x01, 0x00, 0x5e, 0, 0, 1];
    h.backend.port.deliver(frameBytes(60, multicast));
    expect(rx!.usedIdx).toBe(4);
    expect(ctrl(h, cq!, [1, 0, 0, 0, 0, 0, 1, 0, 0, 0, ...multicast])).toBe(0); // MAC_TABLE_SET
    h.backend.port.deliver(frameBytes(60, multicast));
    expect(rx!.usedIdx).toBe(5);
    expect(ctrl(h, cq!, [1, 0, 0, 0, 0, 0, 2, 0, 0, 0, ...multicast])).toBe(1); // lengths disagree
    // VLAN 5 (CTRL_VLAN negotiated: every VLAN filtered until added)
    const tagged = frameBytes(64, other);
    tagged.set([0x81, 0x00, 0x00, 0x05], 12);
    h.backend.port.deliver(tagged);
    expect(rx!.usedIdx).toBe(5);
    expect(ctrl(h, cq!, [2, 0, 5, 0])).toBe(0);
    h.backend.port.deliver(tagged);
    expect(rx!.usedIdx).toBe(6);
    expect(ctrl(h, cq!, [3, 0])).toBe(1); // ANNOUNCE: nothing announced
    expect(ctrl(h, cq!, [4, 0, 1, 0])).toBe(1); // MQ: not offered
    expect(ctrl(h, cq!, [5, 0, 0, 0, 0, 0, 0, 0, 0, 0])).toBe(1); // GUEST_OFFLOADS
    expect(ctrl(h, cq!, [0, 9, 1])).toBe(1); // unknown RX command
    expect(h.nic.broken).toBe(false);
    expect(h.log).toEqual([]);
  });
});

describe("virtio-net-pci: empty frames and MSI-X", () => {
  it("returns a transmit chain holding only a header with used length 0 and sends nothing", () => {
    const h = setup();
    const [, tx] = legacyUp(h);
    tx!.setDesc(0, buffer(100), 10);
    tx!.post(0);
    h.out16(16, 1);
    expect(tx!.usedElem(0)).toEqual({ id: 0, len: 0 });
    expect(h.backend.sent).toEqual([]);
    expect(h.nic.stats.txDropped).toBe(1);
    expect(h.nic.broken).toBe(false);
  });

  it("presents MSI-X like QEMU: messages to RAM are written, one aimed at the (absent) local APIC is logged once", () => {
    const h = setup();
    const [, tx] = legacyUp(h, VIRTIO_NET_F_MAC, false);
    h.setCfg(0x98, h.cfg(0x98) | 0x80000000);
    h.out16(14, 1);
    h.out16(22, 1); // transmit queue on vector 1
    h.memory.write32(MSIX + 0x10, 0x200000); // vector 1 → RAM (as QEMU would write it)
    h.memory.write32(MSIX + 0x18, 0x4041);
    h.out8(18, 7);
    expect(h.log).toEqual([expect.stringMatching(/enabled MSI-X: this machine has no local APIC/)]);
    transmit(h, tx!, frameBytes(60));
    expect(h.memory.read32(MSIX + 0x800)).toBe(2); // masked: pending
    expect(h.nic.intxLevel).toBe(false);
    h.memory.write32(MSIX + 0x1c, 0); // unmask: the pending message goes out
    expect(h.memory.read32(MSIX + 0x800)).toBe(0);
    expect(h.memory.read32(0x200000)).toBe(0x4041);
    h.memory.write32(MSIX + 0x10, 0xfee00000);
    transmit(h, tx!, frameBytes(60), 1);
    transmit(h, tx!, frameBytes(60), 2);
    expect(h.log.length).toBe(1);
  });
});

// ---- malformed rings ----------------------------------------------------------------------------

interface MalformedCase {
  name: string;
  /** QEMU's message (or ours where QEMU has none) */
  message: RegExp;
  modern?: boolean;
  run: (h: Harness, rings: Ring[]) => void;
}

const txNotify = (h: Harness) => h.out16(16, 1);

const MALFORMED: MalformedCase[] = [
  { name: "a head index out of range", message: /^Guest says index 256 is available/, run: (h, [, tx]) => (tx!.post(256), txNotify(h)) },
  { name: "a next index out of range", message: /^Desc next is 300/, run: (h, [, tx]) => (tx!.setDesc(0, buffer(100), 70, NEXT, 300), tx!.post(0), txNotify(h)) },
  {
    name: "a descriptor loop", message: /^Looped descriptor/,
    run: (h, [, tx]) => (tx!.setDesc(0, buffer(100), 70, NEXT, 1), tx!.setDesc(1, buffer(100), 70, NEXT, 0), tx!.post(0), txNotify(h)),
  },
  {
    name: "a chain longer than the queue (an indirect table of 2000 chained descriptors)", message: /too many write descriptors/,
    run: (h, [, tx]) => {
      for (let i = 0; i < 2000; i++) tx!.setDesc(i, buffer(100), 70, NEXT, i + 1, 0x200000);
      tx!.setDesc(0, 0x200000, 16 * 2001, INDIRECT);
      tx!.post(0);
      txNotify(h);
    },
  },
  {
    name: "a loop inside an indirect table", message: /^Looped descriptor/,
    run: (h, [, tx]) => {
      for (let i = 0; i < 4; i++) tx!.setDesc(i, buffer(100), 70, NEXT, (i + 1) % 4, 0x200000);
      tx!.setDesc(0, 0x200000, 64, INDIRECT);
      tx!.post(0);
      txNotify(h);
    },
  },
  { name: "an indirect table whose length is not a multiple of 16", message: /^Invalid size for indirect buffer table/, run: (h, [, tx]) => (tx!.setDesc(0, 0x200000, 24, INDIRECT), tx!.post(0), txNotify(h)) },
  { name: "an empty indirect table", message: /^Invalid size for indirect buffer table/, run: (h, [, tx]) => (tx!.setDesc(0, 0x200000, 0, INDIRECT), tx!.post(0), txNotify(h)) },
  {
    name: "an indirect descriptor inside an indirect table", message: /^Indirect descriptor inside an indirect table/,
    run: (h, [, tx]) => (tx!.setDesc(0, 0x201000, 16, INDIRECT, 0, 0x200000), tx!.setDesc(0, 0x200000, 16, INDIRECT), tx!.post(0), txNotify(h)),
  },
  { name: "an indirect table outside RAM", message: /^Cannot map indirect buffer/, run: (h, [, tx]) => (tx!.setDesc(0, RAM - 16, 32, INDIRECT), tx!.post(0), txNotify(h)) },
  { name: "a buffer outside RAM", message: /bogus descriptor/, run: (h, [, tx]) => (tx!.setDesc(0, 0xfebfc000, 70), tx!.post(0), txNotify(h)) },
  { name: "a buffer straddling the end of RAM", message: /bogus descriptor/, run: (h, [, tx]) => (tx!.setDesc(0, RAM - 10, 70), tx!.post(0), txNotify(h)) },
  { name: "a buffer above 4 GiB", message: /bogus descriptor/, run: (h, [, tx]) => (tx!.setDesc(0, 0x100000000 + buffer(100), 70), tx!.post(0), txNotify(h)) },
  { name: "a zero-length buffer", message: /^virtio: zero sized buffers are not allowed/, run: (h, [, tx]) => (tx!.setDesc(0, buffer(100), 0), tx!.post(0), txNotify(h)) },
  { name: "an avail index more than the queue size ahead", message: /^Guest moved used index from 0 to 300/, run: (h, [, tx]) => (tx!.setDesc(0, buffer(100), 70), tx!.setAvailIdx(300), txNotify(h)) },
  { name: "a transmit chain with no readable buffer", message: /^virtio-net header not in first element/, run: (h, [, tx]) => (tx!.setDesc(0, buffer(100), 70, WRITE), tx!.post(0), txNotify(h)) },
  {
    name: "a readable buffer after a writable one", message: /^Incorrect order for descriptors/,
    run: (h, [, tx]) => (tx!.setDesc(0, buffer(100), 70, WRITE | NEXT, 1), tx!.setDesc(1, buffer(101), 70), tx!.post(0), txNotify(h)),
  },
  {
    name: "a receive chain with no writable buffer", message: /^virtio-net receive queue contains no in buffers/,
    run: (h, [rx]) => (rx!.setDesc(0, buffer(0), 2048), rx!.post(0), h.backend.port.deliver(frameBytes(60))),
  },
  {
    name: "a receive head out of range (merged buffers counting bytes)", message: /^Guest says index 1000 is available/,
    run: (h, [rx]) => {
      h.out8(18, 0);
      legacyUp(h, VIRTIO_NET_F_MAC | VIRTIO_NET_F_MRG_RXBUF);
      rx!.post(1000);
      h.backend.port.deliver(frameBytes(60));
    },
  },
  { name: "rings outside RAM (legacy PFN)", message: /^Cannot map desc/, run: (h) => (h.out16(14, 1), h.out32(8, RAM / 4096)) },
  { name: "a used ring past the end of RAM (legacy PFN)", message: /^Cannot map used/, run: (h) => (h.out16(14, 1), h.out32(8, (RAM - 4096) / 4096)) },
  {
    name: "a used ring outside RAM (modern)", message: /^Cannot map used/, modern: true,
    run: (h) => (h.w16(0x16, 1), h.w32(0x30, RAM - 8), h.w16(0x1c, 1)),
  },
  { name: "queue_enable written with 0 (modern)", message: /^wrong value for queue_enable 0/, modern: true, run: (h) => (h.w16(0x16, 0), h.w16(0x1c, 0)) },
  {
    name: "a control command without its headers", message: /^virtio-net ctrl missing headers/,
    run: (h, [, , cq]) => (cq!.setDesc(0, buffer(100), 1), cq!.post(0), h.out16(16, 2)),
  },
  { name: "a head out of range (modern: DEVICE_NEEDS_RESET)", message: /^Guest says index 256 is available/, modern: true, run: (h, [, tx]) => (tx!.post(256), h.w16(0x3004, 0)) },
];

describe("virtio-net-pci: malformed rings break the device (logged once, no throw, bounded work); a reset recovers it", () => {
  for (const c of MALFORMED) {
    it(c.name, () => {
      const h = setup();
      const rings = c.modern
        ? modernUp(h, VIRTIO_NET_F_MAC | VIRTIO_NET_F_CTRL_VQ | VIRTIO_NET_F_MRG_RXBUF, VIRTIO_F_VERSION_1)
        : legacyUp(h, VIRTIO_NET_F_MAC | VIRTIO_NET_F_CTRL_VQ | VIRTIO_RING_F_INDIRECT_DESC);
      postRx(h, rings[0]!, 0);
      const started = performance.now();
      expect(() => c.run(h, rings)).not.toThrow();
      expect(performance.now() - started).toBeLessThan(500);
      expect(h.nic.broken).toBe(true);
      expect(h.nic.stats.errors).toBe(1);
      expect(h.log.length).toBe(1);
      expect(h.log[0]!.replace(/^virtio-net: /, "")).toMatch(c.message);
      expect(h.log[0]).toMatch(/\(device broken until reset\)$/);
      if (c.modern) {
        expect(h.m8(0x14) & STATUS_NEEDS_RESET).toBe(STATUS_NEEDS_RESET);
        expect(h.m8(0x15)).toBe(1); // config generation
        expect(h.m8(0x1000)).toBe(3); // ISR: queue + configuration change
      } else {
        expect(h.in8(18) & STATUS_NEEDS_RESET).toBe(0);
      }
      // broken: nothing more happens, nothing more is logged
      const tx = rings[1]!;
      const usedBefore = tx.usedIdx;
      tx.setDesc(3, buffer(100), 70);
      tx.post(3);
      txNotify(h);
      if (c.modern) h.w16(0x3004, 0);
      expect(tx.usedIdx).toBe(usedBefore);
      expect(h.backend.port.deliver(frameBytes(60))).toBe(false);
      expect(h.log.length).toBe(1);
      // a reset recovers it
      const sent = h.backend.sent.length;
      const [, tx2] = c.modern ? modernUp(h) : legacyUp(h);
      expect(h.nic.broken).toBe(false);
      transmit(h, tx2!, frameBytes(60), 0, c.modern ? 12 : 10, c.modern ? () => h.w16(0x3004, 0) : undefined);
      expect(tx2!.usedIdx).toBe(1);
      expect(h.backend.sent.length).toBe(sent + 1);
    });
  }

  it("a guest that breaks and resets the device in a loop cannot flood the log", () => {
    const h = setup();
    for (let i = 0; i < 100; i++) {
      const [, tx] = legacyUp(h);
      tx!.post(999);
      txNotify(h);
    }
    expect(h.nic.stats.errors).toBe(100);
    expect(h.log.length).toBe(21);
    expect(h.log[20]).toBe("virtio-net: further messages suppressed");
  });
});
