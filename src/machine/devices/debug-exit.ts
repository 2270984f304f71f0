// QEMU's isa-debug-exit (-device isa-debug-exit,iobase=0xf4,iosize=0x04): a write of v (any size,
// any of the four ports) ends the run with exit status (v << 1) | 1, as the host process sees it
// (the low 8 bits). Reads return 0.
import type { AccessSize } from "../memory.js";
import type { PortDevice } from "../io-bus.js";

export const DEBUG_EXIT_PORT = 0xf4;
export const DEBUG_EXIT_SIZE = 4;

/** The process exit status QEMU ends with when the guest writes `value`. */
export function debugExitStatus(value: number): number {
  return ((value << 1) | 1) & 0xff;
}

export class DebugExit implements PortDevice {
  onExit: (value: number) => void = () => {};

  in(): number {
    return 0;
  }

  out(_port: number, _size: AccessSize, value: number): void {
    this.onExit(value >>> 0);
  }
}
