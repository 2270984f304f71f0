// What the NAT's protocol modules (DHCP, UDP, TCP, DNS, host forwarding) share: the addresses of the
// virtual network (IPv4 and IPv6), the limits that keep memory bounded, the counters, and the
// output path to the guest (IP ids, ARP/NDP resolution, fragmentation, delivery) that the NAT core
// provides. The modules that serve both families take an IpAddress (a number for IPv4, 16 bytes
// for IPv6) and ask the helpers here what differs.
import {
  formatAddress, inIpv6Prefix, type IpAddress, type Ipv4Address, type Ipv6Address, ipv6Equals, isIpv6, isLoopbackIpv6,
  isUnspecifiedIpv6, parseIpv6,
} from "./wire/bytes.js";

/** slirp's default network: 10.0.2.0/24, the host (gateway) .2, the DNS .3, DHCP from .15 */
export const NETWORK = 0x0a000200;
export const NETMASK = 0xffffff00;
export const HOST_ADDRESS = 0x0a000202;
export const DNS_ADDRESS = 0x0a000203;
export const DHCP_START = 0x0a00020f;
export const LOOPBACK = 0x7f000001;

/** slirp's IPv6 defaults (QEMU's ipv6-prefix, ipv6-host, ipv6-dns): fec0::/64, the host fec0::2, the DNS fec0::3 */
export const PREFIX6: Ipv6Address = parseIpv6("fec0::")!;
export const PREFIX6_LENGTH = 64;
export const HOST6: Ipv6Address = parseIpv6("fec0::2")!;
export const DNS6: Ipv6Address = parseIpv6("fec0::3")!;
/** the NAT's link-local address: the router's address in RAs and the source of its ICMPv6 errors */
export const LINK_LOCAL_HOST6: Ipv6Address = parseIpv6("fe80::2")!;
export const LINK_LOCAL_DNS6: Ipv6Address = parseIpv6("fe80::3")!;
export const ALL_NODES6: Ipv6Address = parseIpv6("ff02::1")!;
export const LOOPBACK6: Ipv6Address = parseIpv6("::1")!;

export function inNetwork(address: Ipv4Address): boolean {
  return ((address & NETMASK) >>> 0) === NETWORK;
}

/** The MAC the NAT uses for a virtual address: 52:55 followed by the address (slirp's special_ethaddr). */
export function natMac(address: Ipv4Address): Uint8Array {
  return Uint8Array.of(0x52, 0x55, address >>> 24, (address >>> 16) & 0xff, (address >>> 8) & 0xff, address & 0xff);
}

/** The MAC the NAT uses for an IPv6 address it sends from: 52:56 followed by its last 4 bytes (slirp's in6_compute_ethaddr). */
export function natMac6(address: Ipv6Address): Uint8Array {
  return Uint8Array.of(0x52, 0x56, address[12], address[13], address[14], address[15]);
}

/** True for the addresses the NAT itself answers on IPv6: fec0::2, fec0::3, fe80::2, fe80::3 (slirp's in6_equal_host). */
export function isNatAddress6(address: Ipv6Address): boolean {
  return ipv6Equals(address, HOST6) || ipv6Equals(address, DNS6) || ipv6Equals(address, LINK_LOCAL_HOST6) || ipv6Equals(address, LINK_LOCAL_DNS6);
}

/** A virtual address (10.0.2.0/24, fec0::/64): replies from the host appear to come from it. */
export function isVirtual(address: IpAddress): boolean {
  return isIpv6(address) ? inIpv6Prefix(address, PREFIX6, PREFIX6_LENGTH) : inNetwork(address);
}

/** How a host client appears to the guest (slirp's sotranslate_accept): one on loopback, or unknown, as the host address. */
export function clientAsSeenByGuest(client: IpAddress): IpAddress {
  if (isIpv6(client)) return isLoopbackIpv6(client) || isUnspecifiedIpv6(client) ? HOST6 : client;
  return client >>> 24 === 127 || client === 0 ? HOST_ADDRESS : client;
}

/** A map key for an address of either family. */
export function addressKey(address: IpAddress): string {
  return isIpv6(address) ? Buffer.from(address.buffer, address.byteOffset, 16).toString("hex") : String(address);
}

/** The largest IP payload a datagram to `address` can carry. */
export function maxIpPayload(address: IpAddress): number {
  return isIpv6(address) ? 0xffff : 0xffff - 20;
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

/**
 * A datagram of either family. For IPv6, TOS and TTL are not used: slirp's ip6_output sends
 * everything with hop limit 255 and traffic class and flow label 0.
 */
export interface OutboundIp {
  tos: number;
  ttl: number;
  protocol: number;
  source: IpAddress;
  destination: IpAddress;
}

/** Why a datagram cannot be delivered: ICMP's net/host/port unreachable, ICMPv6's no route/address/port unreachable. */
export type Unreachable = "net" | "host" | "port";

/** The NAT core as its protocol modules see it. */
export interface NatCore {
  readonly limits: NatLimits;
  readonly counters: NatCounters;
  readonly restricted: boolean;
  /**
   * Sends a datagram to the guest (the family is the addresses'): `fill(frame, offset)` writes the
   * payload (transport header and checksum included) at frame[offset, offset + payloadLength).
   */
  sendIp(fields: OutboundIp, payloadLength: number, fill: (frame: Uint8Array, offset: number) => void): void;
  /**
   * A destination-unreachable error about `original` (the bytes of a datagram from the guest,
   * header first; a copy of its first 1500 bytes is enough), from `source` when it is forwarded
   * from the host, else from the NAT (10.0.2.2, fe80::2): slirp's icmp_forward_error and
   * icmp6_forward_error.
   */
  sendUnreachable(original: Uint8Array, reason: Unreachable, source?: IpAddress): void;
  /**
   * The guest's address as far as the NAT knows it, or null: for IPv4 its DHCP lease or first
   * packet; for IPv6 the first address in fec0::/64 it used.
   */
  guestAddress(family?: 4 | 6): IpAddress | null;
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
export type HostTarget = { host: string; address: IpAddress; port: number } | { unreachable: true };

/** "a.b.c.d" or "a.b.c.d:port" (node:dns getServers' forms for IPv4) → address and port; null otherwise. */
export function parseServer(entry: string): { host: string; address: Ipv4Address; port: number } | null {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?::(\d{1,5}))?$/.exec(entry);
  if (!match) return null;
  const parts = match.slice(1, 5).map(Number);
  const port = match[5] === undefined ? 53 : Number(match[5]);
  if (parts.some((part) => part > 255) || port < 1 || port > 65535) return null;
  return { host: parts.join("."), address: ((parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]) >>> 0, port };
}

/** "2001:db8::1", "fe80::1%eth0" or "[2001:db8::1]:5353" (node:dns getServers' forms for IPv6) → address and port; null otherwise. */
export function parseServer6(entry: string): { host: string; address: Ipv6Address; port: number } | null {
  const match = /^\[([^\]]+)\]:(\d{1,5})$/.exec(entry);
  const host = match ? match[1] : entry;
  const port = match ? Number(match[2]) : 53;
  const address = parseIpv6(host.replace(/%.*$/, ""));
  if (!address || port < 1 || port > 65535) return null;
  return { host, address, port };
}

/** slirp's sotranslate_out: the host address a datagram or connection to `destination` goes to. */
export function translateOutbound(destination: IpAddress, port: number, dnsServers: () => string[]): HostTarget {
  if (isIpv6(destination)) {
    if (ipv6Equals(destination, DNS6)) {
      // the host's first IPv6 DNS server (slirp's get_dns6_addr); none: unreachable
      if (port !== 53) return { unreachable: true };
      for (const entry of dnsServers()) {
        const server = parseServer6(entry);
        if (server) return server;
      }
      return { unreachable: true };
    }
    if (isVirtual(destination) || ipv6Equals(destination, ALL_NODES6)) return { host: "::1", address: LOOPBACK6, port };
    return { host: formatAddress(destination), address: destination, port };
  }
  if (destination === DNS_ADDRESS) {
    if (port !== 53) return { unreachable: true };
    for (const entry of dnsServers()) {
      const server = parseServer(entry);
      if (server) return server;
    }
    return { unreachable: true };
  }
  if (destination === HOST_ADDRESS || destination === 0xffffffff) return { host: "127.0.0.1", address: LOOPBACK, port };
  return { host: formatAddress(destination), address: destination, port };
}
