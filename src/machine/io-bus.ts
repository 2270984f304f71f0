// The x86 I/O port space (IN/OUT/INS/OUTS): 65536 byte-wide ports. Devices claim ranges of ports;
// an access whose bytes all belong to one registration goes to that device in one call with the
// absolute port number; an access straddling registrations (or partly unclaimed) is split into
// bytes. As on a PC, unclaimed ports read all-ones and writes to them are dropped; both are
// counted per port for a debug report (`unclaimedAccesses()`).

import type { AccessSize } from "./memory.js";

export interface PortDevice {
  /** `port` is the absolute port number; only the low `size` bytes of the result are used. */
  in(port: number, size: AccessSize): number;
  /** `value` is already masked to `size` bytes (unsigned). */
  out(port: number, size: AccessSize, value: number): void;
}

export const PORT_COUNT = 0x10000;

interface PortRegion {
  readonly first: number;
  readonly count: number;
  readonly device: PortDevice;
}

export interface UnclaimedPort {
  port: number;
  reads: number;
  writes: number;
}

function hex(value: number): string {
  return "0x" + value.toString(16);
}

function maskToSize(value: number, size: number): number {
  return size === 1 ? value & 0xff : size === 2 ? value & 0xffff : value >>> 0;
}

export class PortBus {
  /** per port: index into `regions`, or -1 */
  private readonly owner = new Int32Array(PORT_COUNT).fill(-1);
  private readonly regions: (PortRegion | null)[] = [];
  private readonly unclaimed = new Map<number, UnclaimedPort>();

  /** Claims ports [port, port + count) for `device`. Throws when any of them is already claimed. */
  register(port: number, count: number, device: PortDevice): void {
    if (!Number.isInteger(port) || !Number.isInteger(count) || port < 0 || count <= 0 || port + count > PORT_COUNT) {
      throw new RangeError(`invalid port range: ${hex(port)}, count ${count}`);
    }
    for (let p = port; p < port + count; p++) {
      const other = this.owner[p]!;
      if (other >= 0) {
        const region = this.regions[other]!;
        throw new Error(
          `ports [${hex(port)}, ${hex(port + count - 1)}] overlap the registration at ` +
            `[${hex(region.first)}, ${hex(region.first + region.count - 1)}]`,
        );
      }
    }
    const id = this.regions.length;
    this.regions.push({ first: port, count, device });
    this.owner.fill(id, port, port + count);
  }

  /** Releases the registration starting at `port` (e.g. when a guest moves a PCI I/O BAR). */
  unregister(port: number): void {
    const id = port >= 0 && port < PORT_COUNT ? this.owner[port]! : -1;
    const region = id >= 0 ? this.regions[id] : null;
    if (region == null || region.first !== port) throw new Error(`no port registration starting at ${hex(port)}`);
    this.owner.fill(-1, region.first, region.first + region.count);
    this.regions[id] = null;
  }

  /** Whether `port` is claimed. */
  isClaimed(port: number): boolean {
    return this.owner[port & 0xffff]! >= 0;
  }

  in(port: number, size: AccessSize): number {
    port &= 0xffff;
    const id = this.owner[port]!;
    if (id >= 0 && (size === 1 || this.owner[(port + size - 1) & 0xffff] === id) && port + size <= PORT_COUNT) {
      return maskToSize(this.regions[id]!.device.in(port, size), size);
    }
    if (size === 1) return this.inUnclaimed(port);
    let value = 0;
    for (let i = 0; i < size; i++) {
      const p = (port + i) & 0xffff;
      const owner = this.owner[p]!;
      const byte = owner >= 0 ? this.regions[owner]!.device.in(p, 1) & 0xff : this.inUnclaimed(p);
      value |= byte << (8 * i);
    }
    return value >>> 0;
  }

  out(port: number, size: AccessSize, value: number): void {
    port &= 0xffff;
    const id = this.owner[port]!;
    if (id >= 0 && (size === 1 || this.owner[(port + size - 1) & 0xffff] === id) && port + size <= PORT_COUNT) {
      this.regions[id]!.device.out(port, size, maskToSize(value, size));
      return;
    }
    for (let i = 0; i < size; i++) {
      const p = (port + i) & 0xffff;
      const owner = this.owner[p]!;
      const byte = (value >>> (8 * i)) & 0xff;
      if (owner >= 0) this.regions[owner]!.device.out(p, 1, byte);
      else this.count(p).writes++;
    }
  }

  /** Unclaimed ports the guest touched, by port, with access counts (bytes). */
  unclaimedAccesses(): UnclaimedPort[] {
    return [...this.unclaimed.values()].sort((a, b) => a.port - b.port).map((entry) => ({ ...entry }));
  }

  private inUnclaimed(port: number): number {
    this.count(port).reads++;
    return 0xff;
  }

  private count(port: number): UnclaimedPort {
    let entry = this.unclaimed.get(port);
    if (entry === undefined) {
      entry = { port, reads: 0, writes: 0 };
      this.unclaimed.set(port, entry);
    }
    return entry;
  }
}
