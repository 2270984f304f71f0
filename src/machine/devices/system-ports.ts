// Small fixed-function ports of a PC that guests poke: the POST diagnostic port 0x80 (writes
// ignored, reads 0xFF, as QEMU's ioport80) and the fast A20/reset port 0x92 (QEMU's port92: bit 1
// is A20, a rising bit 0 resets the machine; SeaBIOS leaves 0x02). A20 masking itself is not
// modelled: the address line is always enabled.
import type { AccessSize } from "../memory.js";
import type { PortDevice } from "../io-bus.js";

export class PostPort implements PortDevice {
  /** the last code written (for debugging) */
  lastCode = 0;

  in(): number {
    return 0xff;
  }

  out(_port: number, _size: AccessSize, value: number): void {
    this.lastCode = value & 0xff;
  }
}

export class FastA20Port implements PortDevice {
  value = 0x02;
  onReset: () => void = () => {};

  in(): number {
    return this.value;
  }

  out(_port: number, _size: AccessSize, value: number): void {
    const old = this.value;
    this.value = value & 0xff;
    if (value & 1 && !(old & 1)) this.onReset();
  }
}
