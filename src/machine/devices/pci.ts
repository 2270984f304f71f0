// PCI configuration mechanism #1 (address at 0xCF8, data at 0xCFC-0xCFF) and bus 0 of QEMU 7.2's
// q35 machine with -nodefaults, plus the ICH9 reset control register at 0xCF9 that overlays it.
//
// Every function's 256 configuration bytes, write masks and write-1-to-clear masks were read back
// from real QEMU by test/fixtures/guest/probe.c (which writes all-ones and all-zeros to every
// register and reads back); test/machine/devices/q35-probe.test.ts compares the probe's output on
// QEMU and on this model byte for byte. Writes apply QEMU's rule byte by byte:
//   config = (config & ~wmask) | (value & wmask); config &= ~(value & w1cmask)
// so BAR sizing (write all-ones, read the size mask back) behaves as on QEMU. Only configuration
// space is modelled: the AHCI and SMBus registers behind their BARs are not, so moving a BAR maps
// nothing. Registers whose writes have side effects QEMU models and this does not (host bridge
// PCIEXBAR 0x60-0x67, PAM/SMRAM 0x90-0x9F; LPC PMBASE/ACPI_CNTL 0x40-0x47, GEN_PMCON 0xA0-0xAF,
// RCBA 0xF0) are read-only here.
import type { AccessSize } from "../memory.js";
import type { PortDevice } from "../io-bus.js";

export class PciFunction {
  readonly config = new Uint8Array(256);
  readonly wmask = new Uint8Array(256);
  readonly w1cmask = new Uint8Array(256);

  constructor(readonly device: number, readonly fn: number) {}

  read(register: number, size: number): number {
    let value = 0;
    const length = Math.min(size, 256 - register);
    for (let i = 0; i < length; i++) value |= this.config[register + i]! << (8 * i);
    return value >>> 0;
  }

  write(register: number, size: number, value: number): void {
    const length = Math.min(size, 256 - register);
    for (let i = 0; i < length; i++) {
      const at = register + i;
      const byte = (value >>> (8 * i)) & 0xff;
      const wmask = this.wmask[at]!;
      let next = (this.config[at]! & ~wmask) | (byte & wmask);
      next &= ~(byte & this.w1cmask[at]!);
      this.config[at] = next;
    }
  }

  /** Sets `bytes` (hex, space separated) at `offset`. */
  setBytes(offset: number, hex: string): void {
    const bytes = hex.split(" ").map((b) => parseInt(b, 16));
    this.config.set(bytes, offset);
  }

  /** Sets the write mask of the dword at `offset`. */
  setWmask32(offset: number, mask: number): void {
    for (let i = 0; i < 4; i++) this.wmask[offset + i] = (mask >>> (8 * i)) & 0xff;
  }

  /** Marks [start, end) fully writable. */
  setWritable(start: number, end: number): void {
    this.wmask.fill(0xff, start, end);
  }
}

interface FunctionSpec {
  device: number;
  fn: number;
  /** nonzero 16-byte rows of configuration space: [offset, bytes] */
  rows: Array<[number, string]>;
  /** dwords whose write mask is neither 0 nor all-ones: [offset, mask] */
  masks: Array<[number, number]>;
  /** fully writable ranges [start, end) */
  writable: Array<[number, number]>;
}

const HEADER_MASKS: Array<[number, number]> = [[0x04, 0x00000507], [0x0c, 0x000000ff], [0x3c, 0x000000ff]];

/** QEMU 7.2 q35 -nodefaults bus 0 as a -kernel guest finds it (SeaBIOS has assigned BARs and IRQs). */
const Q35_FUNCTIONS: FunctionSpec[] = [
  {
    // 00:00.0 host bridge (MCH) 8086:29c0
    device: 0, fn: 0,
    rows: [
      [0x00, "86 80 c0 29 03 01 00 00 00 00 00 06 00 00 00 00"],
      [0x20, "00 00 00 00 00 00 00 00 00 00 00 00 f4 1a 00 11"],
      [0x50, "10 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"],
      [0x60, "01 00 00 b0 00 00 00 00 00 00 00 00 00 00 00 00"],
      [0x90, "10 11 11 11 11 11 33 00 00 00 00 00 00 0a 38 00"],
    ],
    masks: [...HEADER_MASKS, [0x50, 0xffff0010]],
    writable: [[0x40, 0x50], [0x54, 0x60], [0x68, 0x90], [0xa0, 0x100]],
  },
  {
    // 00:1f.0 ISA/LPC bridge (ICH9) 8086:2918
    device: 31, fn: 0,
    rows: [
      [0x00, "86 80 18 29 03 01 00 00 02 00 01 06 00 00 80 00"],
      [0x20, "00 00 00 00 00 00 00 00 00 00 00 00 f4 1a 00 11"],
      [0x40, "01 06 00 00 80 00 00 00 00 00 00 00 00 00 00 00"],
      [0x60, "0a 0a 0b 0b 00 00 00 00 0a 0a 0b 0b 00 00 00 00"],
      [0x80, "00 00 01 00 00 00 00 00 00 00 00 00 00 00 00 00"],
      [0xa0, "10 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"],
      [0xf0, "01 c0 d1 fe 00 00 00 00 00 00 00 00 00 00 00 00"],
    ],
    masks: HEADER_MASKS,
    writable: [[0x48, 0xa0], [0xb0, 0xf0], [0xf4, 0x100]],
  },
  {
    // 00:1f.2 SATA AHCI controller (ICH9) 8086:2922, class 01.06.01; BAR4 I/O 0xc040 (32 bytes),
    // BAR5 MMIO 0xfebff000 (4 KiB); capabilities MSI (0x80) and SATA (0xa8); INTA, line 10
    device: 31, fn: 2,
    rows: [
      [0x00, "86 80 22 29 07 01 10 00 02 01 06 01 00 00 80 00"],
      [0x20, "41 c0 00 00 00 f0 bf fe 00 00 00 00 f4 1a 00 11"],
      [0x30, "00 00 00 00 80 00 00 00 00 00 00 00 0a 01 00 00"],
      [0x80, "05 a8 80 00 00 00 00 00 00 00 00 00 00 00 00 00"],
      [0x90, "40 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"],
      [0xa0, "00 00 00 00 00 00 00 00 12 00 10 00 48 00 00 00"],
    ],
    masks: [...HEADER_MASKS, [0x20, 0xffffffe0], [0x24, 0xfffff000], [0x80, 0x00010000], [0x84, 0xfffffffc]],
    writable: [[0x40, 0x80], [0x88, 0xa8], [0xb0, 0x100]],
  },
  {
    // 00:1f.3 SMBus controller (ICH9) 8086:2930; BAR4 I/O 0x700 (64 bytes); INTA, line 10
    device: 31, fn: 3,
    rows: [
      [0x00, "86 80 30 29 03 01 00 00 02 00 05 0c 00 00 80 00"],
      [0x20, "01 07 00 00 00 00 00 00 00 00 00 00 f4 1a 00 11"],
      [0x30, "00 00 00 00 00 00 00 00 00 00 00 00 0a 01 00 00"],
      [0x40, "01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"],
    ],
    masks: [...HEADER_MASKS, [0x20, 0xffffffc0], [0x40, 0xfffffff7]],
    writable: [[0x44, 0x100]],
  },
];

/** The status register's write-1-to-clear bits (QEMU's pci_init_w1cmask): parity, aborts, SERR. */
const STATUS_W1C = 0xf900;

/**
 * The q35 functions. With `nic` (a virtio-net-pci at 00:01.0, added by the caller), SeaBIOS gives
 * the NIC I/O 0xc040 and MMIO 0xfebc0000 and moves the AHCI BARs: BAR4 to I/O 0xc060, BAR5 to
 * 0xfebc1000 (measured on QEMU 7.2).
 */
export function q35Functions(options: { nic?: boolean } = {}): PciFunction[] {
  return Q35_FUNCTIONS.map((spec) => {
    const fn = new PciFunction(spec.device, spec.fn);
    for (const [offset, hex] of spec.rows) fn.setBytes(offset, hex);
    if (options.nic && spec.device === 31 && spec.fn === 2) fn.setBytes(0x20, "61 c0 00 00 00 10 bc fe");
    for (const [start, end] of spec.writable) fn.setWritable(start, end);
    for (const [offset, mask] of spec.masks) fn.setWmask32(offset, mask);
    fn.w1cmask[0x06] = STATUS_W1C & 0xff;
    fn.w1cmask[0x07] = STATUS_W1C >> 8;
    return fn;
  });
}

/**
 * Ports 0xCF8-0xCFF: the configuration address register (dword writes only; reads of any size and
 * offset return its low bits, as QEMU's), the reset control register at 0xCF9 (byte; bit 2 resets
 * the machine) and the data window.
 */
export class PciHost implements PortDevice {
  /** the address register as last written (SeaBIOS leaves 0x80000060) */
  configAddress = 0x80000060;
  /** the ICH9 reset control register (bits 1 and 3 stick) */
  resetControl = 0;
  /** called when the guest writes a reset request to 0xCF9 */
  onReset: () => void = () => {};
  private readonly functions = new Map<number, PciFunction>();

  constructor(functions: PciFunction[]) {
    for (const fn of functions) this.functions.set((fn.device << 3) | fn.fn, fn);
  }

  /** The function at bus 0 device/function, if present. */
  find(device: number, fn: number): PciFunction | undefined {
    return this.functions.get((device << 3) | fn);
  }

  in(port: number, size: AccessSize): number {
    if (port === 0xcf9 && size === 1) return this.resetControl;
    if (port < 0xcfc) return this.configAddress;
    const address = this.configAddress;
    if ((address & 0x80000000) === 0) return 0xffffffff;
    const target = this.target(address);
    if (target === undefined) return 0xffffffff;
    return target.read((address | (port & 3)) & 0xff, size);
  }

  out(port: number, size: AccessSize, value: number): void {
    if (port === 0xcf9 && size === 1) {
      this.resetControl = value & 0x0a;
      if (value & 0x04) this.onReset();
      return;
    }
    if (port < 0xcfc) {
      if (port === 0xcf8 && size === 4) this.configAddress = value >>> 0;
      return;
    }
    const address = this.configAddress;
    if ((address & 0x80000000) === 0) return;
    this.target(address)?.write((address | (port & 3)) & 0xff, size, value);
  }

  private target(address: number): PciFunction | undefined {
    if (((address >>> 16) & 0xff) !== 0) return undefined;
    return this.functions.get((address >>> 8) & 0xff);
  }
}
