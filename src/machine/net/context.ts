// What the NAT's protocol modules (DHCP, UDP, TCP, DNS, host forwarding) share: the addresses of the
// virtual network, the limits that keep memory bounded, the counters, and the output path to the
// guest (IP ids, ARP resolution, fragmentation, delivery) that the NAT core provides.
import type { Ipv4Address } from "./wire/bytes.js";

/** slirp's default network: 10.0.2.0/24, the host (gateway) .2, the DNS .3, DHCP from .15 */
export const NETWORK = 0x0a000200;
export const NETMASK = 0xffffff00;
export const HOST_ADDRESS = 0x0a000202;
export const DNS_ADDRESS = 0x0a000203;
export const DHCP_START = 0x0a00020f;
export const LOOPBACK = 0x7f000001;

export function inNetwork(address: Ipv4Address): boolean {
  return ((address & NETMASK) >>> 0) === NETWORK;
}

/** The MAC the NAT uses for a virtual address: 52:55 followed by the address (slirp's special_ethaddr). */
export function natMac(address: Ipv4Address): Uint8Array {
  return Uint8Array.of(0x52, 0x55, address >>> 24, (address >>> 16) & 0xff, (address >>> 8) & 0xff, address & 0xff);
}

/** Caps on everything a guest (or a host peer) can make the NAT hold. */
export interface NatLimits {
  /** TCP connections at once (new SYNs are refused, new host connections closed, beyond it) */
  tcpConnections: number;
  /** UDP flows at once (the least recently used is dropped for a new one) */
  udpFlows: number;
  /** bytes the NAT holds per TCP connection in each direction (slirp's so_snd/so_rcv: 128 KiB) */
  tcpBuffer: number;
  /** frames waiting for the guest to post receive buffers */
  deliveryQueueFrames: number;
  deliveryQueueBytes: number;
  /** datagrams being reassembled at once, fragments each */
  reassemblyDatagrams: number;
  reassemblyFragments: number;
  /** DNS lookups in flight */
  dnsLookups: number;
  /** datagrams a UDP flow holds while its host socket connects */
  udpPendingDatagrams: number;
}

export const DEFAULT_LIMITS: NatLimits = {
  tcpConnections: 1024,
  udpFlows: 512,
  tcpBuffer: 128 * 1024,
  deliveryQueueFrames: 4096,
  deliveryQueueBytes: 8 * 1024 * 1024,
  reassemblyDatagrams: 16,
  reassemblyFragments: 64,
  dnsLookups: 64,
  udpPendingDatagrams: 16,
};

/** Counters: frames, bytes and drops by reason (a malformed frame is dropped and counted, never thrown). */
export class NatCounters {
  readonly values = new Map<string, number>();

  add(name: string, amount = 1): void {
    this.values.set(name, (this.values.get(name) ?? 0) + amount);
  }

  get(name: string): number {
    return this.values.get(name) ?? 0;
  }

  /** counts a dropped frame under "drop.<reason>" */
  drop(reason: string): void {
    this.add("drop." + reason);
  }

  snapshot(): Record<string, number> {
    return Object.fromEntries([...this.values.entries()].sort(([a], [b]) => (a < b ? -1 : 1)));
  }
}

/** The IPv4 header fields of a datagram the NAT sends (no options; id, version and checksum are the core's). */
export interface OutboundIpv4 {
  tos: number;
  ttl: number;
  protocol: number;
  source: Ipv4Address;
  destination: Ipv4Address;
  /** keep DF (slirp keeps only the DF bit of what it reflects; its own datagrams have none) */
  dontFragment?: boolean;
}

/** The NAT core as its protocol modules see it. */
export interface NatCore {
  readonly limits: NatLimits;
  readonly counters: NatCounters;
  readonly restricted: boolean;
  /**
   * Sends an IPv4 datagram to the guest: `fill(frame, offset)` writes the payload (transport header
   * and checksum included) at frame[offset, offset + payloadLength).
   */
  sendIpv4(fields: OutboundIpv4, payloadLength: number, fill: (frame: Uint8Array, offset: number) => void): void;
  /**
   * An ICMP error about `original` (the bytes of a datagram from the guest, header first; a copy
   * of its first 576 bytes is enough), as slirp's icmp_forward_error.
   */
  sendIcmpError(original: Uint8Array, type: number, code: number, source: Ipv4Address): void;
  /** the guest's address as far as the NAT knows it (DHCP lease or first packet), or null */
  guestAddress(): Ipv4Address | null;
  /** the host's DNS servers (for queries the NAT does not answer itself) */
  dnsServers(): string[];
  /**
   * Runs a host event (socket, timer) in the NAT: an exception is counted instead of escaping, and
   * frames the device hands back meanwhile (re-entrantly) are processed after it.
   */
  run(action: () => void): void;
  /** timers: Node's, unref'd so that they never keep the process alive on their own */
  setTimer(callback: () => void, ms: number): NodeJS.Timeout;
  readonly closed: boolean;
}

/** Runs `action`; an exception (a bug) is counted instead of escaping into Node's event loop or the device. */
export function guarded(counters: NatCounters, action: () => void): void {
  try {
    action();
  } catch (error) {
    counters.add("internal-error");
    if (process.env.NAT_DEBUG) console.error("nat: internal error", error);
  }
}

/** Where a datagram or connection to a virtual address goes on the host (slirp's sotranslate_out). */
export type HostTarget = { host: string; address: Ipv4Address; port: number } | { unreachable: true };

/** "a.b.c.d" or "a.b.c.d:port" (node:dns getServers' forms for IPv4) → address and port; null otherwise. */
export function parseServer(entry: string): { host: string; address: Ipv4Address; port: number } | null {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?::(\d{1,5}))?$/.exec(entry);
  if (!match) return null;
  const parts = match.slice(1, 5).map(Number);
  const port = match[5] === undefined ? 53 : Number(match[5]);
  if (parts.some((part) => part > 255) || port < 1 || port > 65535) return null;
  return { host: parts.join("."), address: ((parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]) >>> 0, port };
}

export function translateOutbound(destination: Ipv4Address, port: number, dnsServers: () => string[]): HostTarget {
  if (destination === DNS_ADDRESS) {
    if (port !== 53) return { unreachable: true };
    for (const entry of dnsServers()) {
      const server = parseServer(entry);
      if (server) return server;
    }
    return { unreachable: true };
  }
  if (destination === HOST_ADDRESS || destination === 0xffffffff) return { host: "127.0.0.1", address: LOOPBACK, port };
  const text = `${destination >>> 24}.${(destination >>> 16) & 255}.${(destination >>> 8) & 255}.${destination & 255}`;
  return { host: text, address: destination, port };
}
