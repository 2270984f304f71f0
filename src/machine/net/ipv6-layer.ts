// The NAT's IPv6 layer, as libslirp 4.7's ip6_input.c, ip6_output.c, ip6_icmp.c, udp6.c and
// dhcpv6.c: checks on input (a payload over the 1500-byte MTU gets "packet too big", hop limit 0
// "time exceeded"; extension headers, fragments included, are not taken: the datagram is dropped),
// ICMPv6 echo answered for the NAT's addresses, NDP (ndp.ts), stateless DHCPv6, and the dispatch of
// UDP and TCP to the proxies that serve both families. Output: hop limit 255, traffic class and flow
// label 0 for everything (slirp's ip6_output), the Ethernet source 52:56 + the source address's last
// four bytes, the guest's MAC from the neighbor table (or a solicitation first). No fragmentation:
// slirp sends a datagram larger than the MTU as one frame. Measured facts: docs/nat.md.
import {
  ALL_NODES6, DNS6, HOST6, isNatAddress6, LINK_LOCAL_HOST6, natMac6, type NatCounters, type Unreachable,
} from "./context.js";
import type { DnsResolver } from "./dns-resolver.js";
import { DEFAULT_RA_INTERVAL, NeighborDiscovery } from "./ndp.js";
import type { TcpProxy } from "./tcp-proxy.js";
import type { UdpProxy } from "./udp-proxy.js";
import { BROADCAST_MAC, type IpAddress, type Ipv6Address, ipv6Equals, isLoopbackIpv6, isMulticastIpv6, isUnspecifiedIpv6, parseIpv6, put32 } from "./wire/bytes.js";
import { buildDhcpv6Reply, DHCPV6_SERVER_PORT, parseInformationRequest } from "./wire/dhcpv6.js";
import {
  ICMPV6_ECHO_REPLY, ICMPV6_ECHO_REQUEST, ICMPV6_ERROR_HEADER, ICMPV6_TIME_EXCEEDED, ICMPV6_TOO_BIG, ICMPV6_UNREACHABLE, NDP_REDIRECT,
  NDP_ROUTER_SOLICITATION, parseIcmpv6, UNREACHABLE6_ADDRESS, UNREACHABLE6_NO_ROUTE, UNREACHABLE6_PORT, writeIcmpv6Checksum,
} from "./wire/icmpv6.js";
import { PROTOCOL_TCP, PROTOCOL_UDP } from "./wire/ipv4.js";
import {
  IPV6_HEADER, IPV6_PAYLOAD, type Ipv6Header, ipv6Payload, newIpv6Frame, parseIpv6 as parseIpv6Header, PROTOCOL_ICMPV6,
  walkExtensionHeaders,
} from "./wire/ipv6.js";
import { parseTcp, SYN } from "./wire/tcp.js";
import { parseUdp, UDP_HEADER, writeUdpHeader } from "./wire/udp.js";

const MTU = 1500;
/** slirp's ip6_output: every datagram it sends */
const HOP_LIMIT = 255;
/** an ICMPv6 error quotes at most what fits the MTU: 1500 - 40 - 8 bytes */
const ERROR_QUOTE_MAX = MTU - IPV6_HEADER - ICMPV6_ERROR_HEADER;
const TFTP_PORT = 69;
/** ff02::1:2, all DHCP relay agents and servers */
const ALL_DHCP6 = parseIpv6("ff02::1:2")!;
/** slirp's dhcpv6.c sets the reply's source port without htons: 547 goes out as 0x2302 */
const DHCPV6_REPLY_PORT = ((DHCPV6_SERVER_PORT & 0xff) << 8) | (DHCPV6_SERVER_PORT >> 8);
/** slirp's boot file URL: tftp:// and the host address in full, then the boot file name, which QEMU without bootfile= leaves NULL */
const BOOT_FILE_URL = `tftp://[${Array.from({ length: 8 }, (_, i) => ((HOST6[2 * i] << 8) | HOST6[2 * i + 1]).toString(16).padStart(4, "0")).join(":")}]/(null)`;

const UNREACHABLE_CODES: Record<Unreachable, number> = { net: UNREACHABLE6_NO_ROUTE, host: UNREACHABLE6_ADDRESS, port: UNREACHABLE6_PORT };

/** What the IPv6 layer needs from the NAT core. */
export interface Ipv6Links {
  readonly counters: NatCounters;
  readonly restricted: boolean;
  readonly tcp: TcpProxy;
  readonly udp: UdpProxy;
  readonly dns: DnsResolver;
  /** fills in the destination MAC (NDP: `resolve`) and delivers, or holds the frame and solicits the address */
  route(frame: Uint8Array, destination: Ipv6Address): void;
  /** frames held for `address` can go */
  learnt(address: Ipv6Address): void;
  /** slirp's TFTP without tftp=: answers a read request with an error */
  tftp(server: IpAddress, guest: IpAddress, guestPort: number, payload: Uint8Array): void;
  setTimer(callback: () => void, ms: number): NodeJS.Timeout;
  run(action: () => void): void;
}

export interface Ipv6Options {
  /** the unsolicited router advertisements' interval (slirp: 200–600 s; tests shorten it) */
  raInterval?: { minMs: number; maxMs: number };
  /** whether the host has an IPv6 DNS server (RAs then carry RDNSS for fec0::3) */
  hasIpv6DnsServer: () => boolean;
}

export class Ipv6Layer {
  readonly ndp: NeighborDiscovery;

  constructor(private readonly links: Ipv6Links, options: Ipv6Options) {
    this.ndp = new NeighborDiscovery({
      counters: links.counters,
      sendIcmpv6: (source, destination, length, fill) => this.sendIcmpv6(source, destination, length, fill),
      hasIpv6DnsServer: options.hasIpv6DnsServer,
      learnt: (address) => links.learnt(address),
      setTimer: (callback, ms) => links.setTimer(callback, ms),
      run: (action) => links.run(action),
    }, options.raInterval ?? DEFAULT_RA_INTERVAL);
  }

  close(): void {
    this.ndp.close();
  }

  // ---- output ----------------------------------------------------------------------------------

  /** A datagram to the guest: `fill(frame, offset)` writes the payload (its checksum included). */
  send(protocol: number, source: Ipv6Address, destination: Ipv6Address, payloadLength: number, fill: (frame: Uint8Array, offset: number) => void): void {
    if (payloadLength > 0xffff) return this.links.counters.drop("out-too-big");
    const frame = newIpv6Frame(BROADCAST_MAC, natMac6(source), { nextHeader: protocol, hopLimit: HOP_LIMIT, source, destination }, payloadLength);
    fill(frame, IPV6_PAYLOAD);
    this.links.route(frame, destination);
  }

  private sendIcmpv6(source: Ipv6Address, destination: Ipv6Address, length: number, fill: (frame: Uint8Array, offset: number) => void): void {
    this.send(PROTOCOL_ICMPV6, source, destination, length, (frame, offset) => {
      fill(frame, offset);
      writeIcmpv6Checksum(frame, offset, length, source, destination);
    });
  }

  private sendUdp(source: Ipv6Address, sourcePort: number, destination: Ipv6Address, destinationPort: number, payload: Uint8Array): void {
    this.send(PROTOCOL_UDP, source, destination, UDP_HEADER + payload.length, (frame, offset) => {
      frame.set(payload, offset + UDP_HEADER);
      writeUdpHeader(frame, offset, source, sourcePort, destination, destinationPort, payload.length);
    });
  }

  /**
   * slirp's icmp6_forward_error: about `original` (an IPv6 packet as received, header first),
   * quoting as much of it as fits the MTU (trailing link padding included, as slirp quotes its
   * buffer), from fe80::2 unless forwarded from a host; never to a multicast or unspecified source.
   */
  sendError(original: Uint8Array, type: number, code: number, source: Ipv6Address = LINK_LOCAL_HOST6): void {
    if (original.length < IPV6_HEADER) return;
    const to = original.slice(8, 24);
    if (isMulticastIpv6(to) || isUnspecifiedIpv6(to)) return;
    const quoted = Math.min(original.length, ERROR_QUOTE_MAX);
    const from = source.slice();
    this.sendIcmpv6(from, to, ICMPV6_ERROR_HEADER + quoted, (frame, offset) => {
      frame[offset] = type;
      frame[offset + 1] = code;
      put32(frame, offset + 4, type === ICMPV6_TOO_BIG ? MTU : 0);
      frame.set(original.subarray(0, quoted), offset + ICMPV6_ERROR_HEADER);
    });
    this.links.counters.add("icmp6.errors-sent");
  }

  sendUnreachable(original: Uint8Array, reason: Unreachable, source?: Ipv6Address): void {
    this.sendError(original, ICMPV6_UNREACHABLE, UNREACHABLE_CODES[reason], source);
  }

  // ---- input -----------------------------------------------------------------------------------

  /** An IPv6 frame from the guest: `packet` is its Ethernet payload. */
  input(frame: Uint8Array, packet: Uint8Array): void {
    const counters = this.links.counters;
    const header = parseIpv6Header(packet);
    if (typeof header === "string") return counters.drop(header);
    // hardening beyond slirp's: no multicast or loopback sources, no loopback or unspecified destinations
    if (isMulticastIpv6(header.source) || isLoopbackIpv6(header.source)) return counters.drop("ip6-source");
    if (isLoopbackIpv6(header.destination) || isUnspecifiedIpv6(header.destination)) return counters.drop("ip6-destination");
    if (IPV6_HEADER + header.payloadLength > MTU) {
      // slirp checks this before the length: even a truncated packet gets its error
      this.sendError(packet, ICMPV6_TOO_BIG, 0);
      return counters.drop("ip6-too-big");
    }
    const payload = ipv6Payload(packet, header);
    if (payload === null) return counters.drop("ip6-length");
    if (header.hopLimit === 0) {
      this.sendError(packet, ICMPV6_TIME_EXCEEDED, 0);
      return counters.drop("ip6-hop-limit");
    }
    counters.add("ip6.from-guest");
    switch (header.nextHeader) {
      case PROTOCOL_ICMPV6:
        return this.icmpInput(frame, header, payload);
      case PROTOCOL_UDP:
        return this.udpInput(packet, header, payload);
      case PROTOCOL_TCP:
        return this.tcpInput(packet, header, payload);
      default: {
        // slirp takes no extension header (hop-by-hop, fragment, ...): the datagram is dropped
        const upper = walkExtensionHeaders(payload, header.nextHeader);
        return counters.drop(typeof upper === "string" ? upper : upper.extensionHeaders > 0 ? "ip6-extension-headers" : "ip6-next-header");
      }
    }
  }

  private icmpInput(frame: Uint8Array, header: Ipv6Header, payload: Uint8Array): void {
    const counters = this.links.counters;
    const message = parseIcmpv6(payload, header.source, header.destination);
    if (typeof message === "string") return counters.drop(message);
    if (message.type >= NDP_ROUTER_SOLICITATION && message.type <= NDP_REDIRECT) {
      return this.ndp.input(frame.subarray(6, 12), header, message);
    }
    // only NDP may come from "::" (duplicate address detection, a router solicitation before an address)
    if (isUnspecifiedIpv6(header.source)) return counters.drop("ip6-source");
    this.ndp.noteGuest(header.source);
    if (message.type !== ICMPV6_ECHO_REQUEST) return counters.drop("icmp6-type");
    if (!isNatAddress6(header.destination)) return counters.drop("icmp6-echo-elsewhere"); // slirp: "external icmpv6 not supported yet"
    // slirp's icmp6_send_echoreply: the same message back as a reply, from the address asked
    const bytes = message.bytes;
    const source = header.destination.slice();
    const destination = header.source.slice();
    this.sendIcmpv6(source, destination, bytes.length, (out, offset) => {
      out.set(bytes, offset);
      out[offset] = ICMPV6_ECHO_REPLY;
    });
    counters.add("icmp6.echo-replies");
  }

  private udpInput(packet: Uint8Array, header: Ipv6Header, payload: Uint8Array): void {
    const counters = this.links.counters;
    if (this.links.restricted) return counters.drop("restricted-udp"); // slirp's udp6_input: DHCPv6 and DNS included
    if (isUnspecifiedIpv6(header.source)) return counters.drop("ip6-source");
    const udp = parseUdp(payload, header.source, header.destination);
    if (typeof udp === "string") return counters.drop(udp);
    this.ndp.noteGuest(header.source);
    const source = header.source.slice();
    const destination = header.destination.slice();
    if (udp.destinationPort === DHCPV6_SERVER_PORT && (ipv6Equals(destination, HOST6) || ipv6Equals(destination, ALL_DHCP6))) {
      return this.dhcpInput(source, udp.sourcePort, udp.payload);
    }
    if (udp.destinationPort === TFTP_PORT && ipv6Equals(destination, HOST6)) return this.links.tftp(HOST6, source, udp.sourcePort, udp.payload);
    // multicast only to all nodes, which goes to the host as 255.255.255.255 does (hardening: slirp sends the rest on)
    if (isMulticastIpv6(destination) && !ipv6Equals(destination, ALL_NODES6)) return counters.drop("ip6-destination");
    // what slirp keeps of the datagram for ICMP errors: trimmed by the bytes past the UDP length
    const datagram = packet.subarray(0, packet.length - (payload.length - UDP_HEADER - udp.payload.length));
    if (header.hopLimit <= 1) {
      this.sendError(datagram, ICMPV6_TIME_EXCEEDED, 0);
      return counters.drop("udp-ttl");
    }
    if (ipv6Equals(destination, DNS6) && udp.destinationPort === 53) {
      // answered on the host, as for 10.0.2.3 (slirp relays to the host's IPv6 DNS server, or refuses without one)
      const guestPort = udp.sourcePort;
      const accepted = this.links.dns.handle(udp.payload, (response) => this.links.run(() => this.sendUdp(DNS6, 53, source, guestPort, response)));
      if (accepted !== true) counters.drop(accepted === false ? "dns" : accepted);
      else counters.add("dns.queries");
      return;
    }
    this.links.udp.fromGuest(datagram, source, udp.sourcePort, destination, udp.destinationPort, udp.payload, 0, header.hopLimit);
  }

  private dhcpInput(client: Ipv6Address, clientPort: number, payload: Uint8Array): void {
    const request = parseInformationRequest(payload);
    if (typeof request === "string") return this.links.counters.drop(request);
    this.sendUdp(HOST6, DHCPV6_REPLY_PORT, client, clientPort, buildDhcpv6Reply(request, DNS6, BOOT_FILE_URL));
    this.links.counters.add("dhcp6.replies");
  }

  private tcpInput(packet: Uint8Array, header: Ipv6Header, payload: Uint8Array): void {
    const counters = this.links.counters;
    if (isUnspecifiedIpv6(header.source) || isMulticastIpv6(header.destination)) return counters.drop("tcp-address");
    const segment = parseTcp(payload, header.source, header.destination);
    if (typeof segment === "string") return counters.drop(segment);
    this.ndp.noteGuest(header.source);
    counters.add("tcp.segments-from-guest");
    // An ICMPv6 error about a SYN (the only segment quoted) quotes its payload length byte-swapped:
    // slirp's ip6_input converts the field to host order (little-endian) before tcp_input saves
    // the header it later restores. Measured on QEMU 7.2: "6000000018000640" for a 24-byte SYN.
    let quoted = packet;
    if (segment.flags & SYN) {
      quoted = packet.slice(0, Math.min(packet.length, MTU));
      quoted[4] = packet[5];
      quoted[5] = packet[4];
    }
    this.links.tcp.fromGuest(quoted, header.source.slice(), header.destination.slice(), segment);
  }
}

