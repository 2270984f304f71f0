// The user-mode network backend (QEMU's `-netdev user`): a NAT like libslirp 4.7 between the guest's
// NIC and the host's sockets. The guest sees the network 10.0.2.0/24 with the gateway 10.0.2.2
// (the host's 127.0.0.1), a DNS server at 10.0.2.3 and a DHCP server leasing from 10.0.2.15, and
// the IPv6 prefix fec0::/64 with the router fec0::2 (the host's ::1) and the DNS fec0::3;
// ARP, NDP, ICMP echo, UDP and TCP behave, byte for byte where a guest can tell, as libslirp 4.7
// in QEMU 7.2 (measured facts in docs/nat.md). This file is the core: frames in, dispatch by
// protocol, the output path (IP ids from one counter, ARP or NDP resolution of the guest's MAC,
// fragmentation, delivery with a bounded queue), ICMP errors. Protocol state lives in
// dhcp-server.ts, udp-proxy.ts, dns-resolver.ts, tcp-proxy.ts, hostfwd.ts, ipv6-layer.ts and
// ndp.ts; wire formats in wire/.
//
// Bad input is the normal case: every frame is parsed with its lengths checked, a malformed one is
// dropped and counted (stats()), and nothing throws across the NetBackend boundary or out of a
// host socket's callbacks.
import { getServers } from "node:dns";
import type { HostWake, NetBackend, NetDevicePort } from "./backend.js";
import {
  addressKey, DEFAULT_LIMITS, DHCP_START, DNS_ADDRESS, HOST_ADDRESS, inNetwork, type NatCore, NatCounters, type NatLimits,
  natMac, NETMASK, NETWORK, type OutboundIp, type OutboundIpv4, parseServer6, type Unreachable,
} from "./context.js";
import { DhcpServer } from "./dhcp-server.js";
import { DnsResolver, type HostResolver, systemResolver } from "./dns-resolver.js";
import { type HostForward, HostForwarder, parseHostForward } from "./hostfwd.js";
import { Reassembler } from "./ip-reassembly.js";
import { Ipv6Layer } from "./ipv6-layer.js";
import { PcapWriter } from "./pcap.js";
import { TcpProxy, type TcpTimings } from "./tcp-proxy.js";
import { UdpProxy } from "./udp-proxy.js";
import { ARP_REPLY, ARP_REQUEST, buildArpFrame, parseArp } from "./wire/arp.js";
import {
  BROADCAST_MAC, get16, get32, type IpAddress, type Ipv4Address, type Ipv6Address, isIpv6, isLoopback, isMulticastOrReserved, put16,
} from "./wire/bytes.js";
import { internetChecksum } from "./wire/checksum.js";
import { BOOTP_CLIENT_PORT, BOOTP_SERVER_PORT, buildBootpReply, parseBootpRequest } from "./wire/dhcp.js";
import { ETHERNET_HEADER, ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6, parseEthernet } from "./wire/ethernet.js";
import {
  ICMP_ECHO_REPLY, ICMP_ECHO_REQUEST, ICMP_HEADER, ICMP_TIME_EXCEEDED, ICMP_UNREACHABLE, isIcmpError, parseIcmp, UNREACHABLE_HOST,
  UNREACHABLE_NET, UNREACHABLE_PORT,
} from "./wire/icmp.js";
import {
  FLAG_DF, FLAG_MF, IPV4_HEADER, IPV4_PAYLOAD, type Ipv4Packet, isFragment, newIpv4Frame, PROTOCOL_ICMP, PROTOCOL_TCP,
  PROTOCOL_UDP, parseIpv4 as parseIpv4Packet,
} from "./wire/ipv4.js";
import { parseTcp } from "./wire/tcp.js";
import { parseUdp, UDP_HEADER, writeUdpHeader } from "./wire/udp.js";

export type { HostForward } from "./hostfwd.js";
export { parseHostForward, parseHostForward6 } from "./hostfwd.js";
export { DEFAULT_TCP_TIMINGS, type TcpTimings } from "./tcp-proxy.js";
export { DEFAULT_LIMITS, type NatLimits } from "./context.js";

/** The link MTU slirp uses (if_mtu): larger datagrams to the guest are fragmented. */
export const MTU = 1500;
const MAX_FRAME = ETHERNET_HEADER + 65535;
/** slirp's ARP table: 16 entries, replaced in order */
const ARP_TABLE_SIZE = 16;
/** a datagram waits for the guest's MAC (ARP or NDP) at most 1 s (slirp: then it is dropped) */
const ARP_WAIT_MS = 1000;
const ARP_WAIT_FRAMES = 64;
const UNREACHABLE_CODES: Record<Unreachable, number> = { net: UNREACHABLE_NET, host: UNREACHABLE_HOST, port: UNREACHABLE_PORT };
/** slirp's ICMP_MAXDATALEN: an ICMP error quotes at most 548 bytes of the datagram */
const ICMP_QUOTE_MAX = 576 - 28;
const DHCP_TOS = 0x10;
const TFTP_PORT = 69;
/** frames a device may hand back re-entrantly during one delivery */
const DEFERRED_FRAMES = 256;
const DEFAULT_TTL = 64;
const MAX_TTL = 255;

export interface UserNetOptions {
  /** hostfwd rules, as QEMU's strings ("tcp:127.0.0.1:8080-:80") or parsed (hostfwd6 rules: parseHostForward6) */
  hostForwards?: Array<string | HostForward>;
  /** restrict=on: the guest reaches nothing but DHCP, the NAT's ICMP echo and the forwarded ports */
  restrict?: boolean;
  /** a pcap file receiving every frame between device and NAT (QEMU's filter-dump) */
  pcap?: string;
  /** called after the NAT delivered frames, so that a halted guest wakes up */
  wake?: HostWake | (() => void);
  /** caps on flows and buffers (defaults: DEFAULT_LIMITS) */
  limits?: Partial<NatLimits>;
  /** the host's DNS servers, for queries the NAT relays (default: node:dns getServers) */
  dnsServers?: () => string[];
  /** how A/AAAA/PTR questions to 10.0.2.3 are answered (default: the host's getaddrinfo/getnameinfo) */
  resolver?: HostResolver;
  /** TCP timers (defaults: DEFAULT_TCP_TIMINGS; tests shorten them) */
  tcpTimings?: Partial<TcpTimings>;
  /** the interval of unsolicited router advertisements (default slirp's: random, 200–600 s) */
  raInterval?: { minMs: number; maxMs: number };
}

interface WaitingFrame {
  frame: Uint8Array;
  destination: IpAddress;
  key: string;
  expires: number;
}

export class UserNetBackend implements NetBackend, NatCore {
  readonly limits: NatLimits;
  readonly counters = new NatCounters();
  readonly restricted: boolean;
  /** resolves once every hostfwd listener is bound; rejects naming the rule that could not be */
  readonly ready: Promise<void>;
  private port: NetDevicePort | null = null;
  private depth = 0;
  /** frames were delivered during the current event: wake() once it is done */
  private wakePending = false;
  private deferred: Uint8Array[] = [];
  private isClosed = false;
  private ipId = 0;
  private readonly arpTable: Array<{ ip: Ipv4Address; mac: Uint8Array }> = [];
  private arpVictim = 0;
  private waiting: WaitingFrame[] = [];
  private waitingTimer: NodeJS.Timeout | null = null;
  private knownGuest: Ipv4Address | null = null;
  private readonly queue: Uint8Array[] = [];
  private queueHead = 0;
  private queueBytes = 0;
  private readonly wakeHook: (() => void) | null;
  private readonly pcap: PcapWriter | null;
  private readonly dhcp: DhcpServer;
  private readonly dns: DnsResolver;
  private readonly reassembler: Reassembler;
  private readonly udp: UdpProxy;
  private readonly tcp: TcpProxy;
  private readonly forwarder: HostForwarder;
  private readonly ipv6: Ipv6Layer;
  private readonly servers: () => string[];

  constructor(options: UserNetOptions = {}) {
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.restricted = options.restrict ?? false;
    const wake = options.wake;
    this.wakeHook = typeof wake === "function" ? wake : wake ? () => wake.wake() : null;
    this.servers = options.dnsServers ?? (() => getServers());
    const rules = (options.hostForwards ?? []).map((rule) => (typeof rule === "string" ? parseHostForward(rule) : rule));
    this.pcap = options.pcap ? new PcapWriter(options.pcap) : null;
    this.dhcp = new DhcpServer({ server: HOST_ADDRESS, netmask: NETMASK, firstAddress: DHCP_START, dns: DNS_ADDRESS, restricted: this.restricted });
    this.dns = new DnsResolver(this.limits.dnsLookups, this.servers, options.resolver ?? systemResolver);
    this.reassembler = new Reassembler(this.limits.reassemblyDatagrams, this.limits.reassemblyFragments);
    this.udp = new UdpProxy(this);
    this.tcp = new TcpProxy(this, options.tcpTimings);
    this.ipv6 = new Ipv6Layer({
      counters: this.counters,
      restricted: this.restricted,
      tcp: this.tcp,
      udp: this.udp,
      dns: this.dns,
      route: (frame, destination) => this.route(frame, destination),
      learnt: (address) => this.neighborLearnt(address),
      tftp: (server, guest, guestPort, payload) => this.tftpInput(server, guest, guestPort, payload),
      setTimer: (callback, ms) => this.setTimer(callback, ms),
      run: (action) => this.run(action),
    }, { raInterval: options.raInterval, hasIpv6DnsServer: () => this.dnsServers().some((entry) => parseServer6(entry) !== null) });
    this.forwarder = new HostForwarder(this, this.tcp, this.udp, rules);
    this.ready = this.forwarder.ready;
  }

  // ---- NetBackend ------------------------------------------------------------------------------

  attach(port: NetDevicePort): void {
    this.port = port;
  }

  receiveFromGuest(frame: Uint8Array): void {
    if (this.depth > 0) {
      // the device handed a frame back from inside a delivery: it is processed once the NAT is done
      if (this.deferred.length < DEFERRED_FRAMES && frame.length <= MAX_FRAME) this.deferred.push(frame.slice());
      else this.counters.drop("deferred-full");
      return;
    }
    this.run(() => this.input(frame));
  }

  guestCanReceive(): void {
    this.run(() => this.flushQueue());
  }

  run(action: () => void): void {
    this.depth++;
    try {
      action();
    } catch (error) {
      this.counters.add("internal-error");
      if (process.env.NAT_DEBUG) console.error("nat: internal error", error);
    } finally {
      this.depth--;
    }
    if (this.depth !== 0) return;
    if (this.deferred.length > 0) {
      const frames = this.deferred;
      this.deferred = [];
      for (const frame of frames) this.run(() => this.input(frame));
    }
    if (this.wakePending) {
      this.wakePending = false;
      this.wakeGuest();
    }
  }

  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.run(() => {
      this.forwarder.close();
      this.tcp.close();
      this.udp.close();
      this.dns.close();
      this.ipv6.close();
      this.reassembler.clear();
      if (this.waitingTimer) clearTimeout(this.waitingTimer);
      this.waiting = [];
      this.queue.length = 0;
      this.queueHead = 0;
      this.queueBytes = 0;
      this.pcap?.close();
    });
  }

  // ---- introspection ---------------------------------------------------------------------------

  /** frame, byte and drop counters ("drop.<reason>"), and the current number of flows */
  stats(): Record<string, number> {
    return {
      ...this.counters.snapshot(),
      "now.tcp-connections": this.tcp.size,
      "now.tcp-buffered": this.tcp.bufferedBytes(),
      "now.udp-flows": this.udp.size,
      "now.reassembly": this.reassembler.size,
      "now.delivery-queue": this.queue.length - this.queueHead,
      "now.arp-waiting": this.waiting.length,
      "now.ndp-entries": this.ipv6.ndp.size,
    };
  }

  /** The host ports the hostfwd rules listen on (after `ready`). */
  forwardedPorts(): Array<{ rule: HostForward; port: number }> {
    return this.forwarder.bound();
  }

  // ---- NatCore ---------------------------------------------------------------------------------

  get closed(): boolean {
    return this.isClosed;
  }

  guestAddress(family: 4 | 6 = 4): IpAddress | null {
    return family === 6 ? this.ipv6.ndp.guestAddress() : this.knownGuest;
  }

  dnsServers(): string[] {
    try {
      return this.servers();
    } catch {
      return [];
    }
  }

  setTimer(callback: () => void, ms: number): NodeJS.Timeout {
    const timer = setTimeout(callback, ms);
    timer.unref();
    return timer;
  }

  sendIp(fields: OutboundIp, payloadLength: number, fill: (frame: Uint8Array, offset: number) => void): void {
    const { source, destination } = fields;
    if (isIpv6(source) && isIpv6(destination)) this.ipv6.send(fields.protocol, source, destination, payloadLength, fill);
    else if (!isIpv6(source) && !isIpv6(destination)) this.sendIpv4({ ...fields, source, destination }, payloadLength, fill);
    else this.counters.add("internal-error"); // a module mixed the families
  }

  sendUnreachable(original: Uint8Array, reason: Unreachable, source?: IpAddress): void {
    if (original.length > 0 && original[0] >> 4 === 6) {
      this.ipv6.sendUnreachable(original, reason, source !== undefined && isIpv6(source) ? source : undefined);
    } else {
      this.sendIcmpError(original, ICMP_UNREACHABLE, UNREACHABLE_CODES[reason], source !== undefined && !isIpv6(source) ? source : HOST_ADDRESS);
    }
  }

  private sendIpv4(fields: OutboundIpv4, payloadLength: number, fill: (frame: Uint8Array, offset: number) => void): void {
    if (this.isClosed) return;
    const total = IPV4_HEADER + payloadLength;
    if (total > 0xffff) {
      this.counters.drop("out-too-big");
      return;
    }
    const id = this.ipId;
    this.ipId = (this.ipId + 1) & 0xffff;
    const header = {
      tos: fields.tos, id, flagsOffset: fields.dontFragment ? FLAG_DF : 0, ttl: fields.ttl, protocol: fields.protocol,
      source: fields.source, destination: fields.destination,
    };
    const frame = newIpv4Frame(BROADCAST_MAC, natMac(HOST_ADDRESS), header, payloadLength);
    fill(frame, IPV4_PAYLOAD);
    if (total <= MTU) {
      this.route(frame, fields.destination);
      return;
    }
    if (fields.dontFragment) {
      this.counters.drop("out-df-too-big");
      return;
    }
    // slirp's ip_output: fragments of (MTU - 20) & ~7 bytes, the same id, MF on all but the last
    const chunk = (MTU - IPV4_HEADER) & ~7;
    for (let offset = 0; offset < payloadLength; offset += chunk) {
      const length = Math.min(chunk, payloadLength - offset);
      const more = offset + length < payloadLength;
      const fragment = newIpv4Frame(BROADCAST_MAC, natMac(HOST_ADDRESS), { ...header, flagsOffset: (more ? FLAG_MF : 0) | (offset >> 3) }, length);
      fragment.set(frame.subarray(IPV4_PAYLOAD + offset, IPV4_PAYLOAD + offset + length), IPV4_PAYLOAD);
      this.route(fragment, fields.destination);
    }
  }

  /** slirp's icmp_forward_error for IPv4. */
  private sendIcmpError(original: Uint8Array, type: number, code: number, source: Ipv4Address): void {
    if (original.length < IPV4_HEADER) return;
    const headerLength = (original[0] & 0x0f) * 4;
    if (headerLength < IPV4_HEADER || headerLength > original.length) return;
    const flagsOffset = get16(original, 6);
    if (flagsOffset & 0x1fff) return; // only about first fragments
    const originalSource = get32(original, 12);
    if ((originalSource & 0x0fffffff) === 0) return; // slirp: not to "source-only" addresses
    if (isMulticastOrReserved(originalSource)) return;
    if (original[9] === PROTOCOL_ICMP && original.length > headerLength && isIcmpError(original[headerLength])) return;
    const quoted = Math.min(get16(original, 2), ICMP_QUOTE_MAX, original.length);
    if (quoted < headerLength) return;
    this.sendIpv4(
      { tos: (original[1] & 0x1e) | 0xc0, ttl: MAX_TTL, protocol: PROTOCOL_ICMP, source, destination: originalSource, dontFragment: (flagsOffset & FLAG_DF) !== 0 },
      ICMP_HEADER + quoted,
      (frame, offset) => {
        frame[offset] = type;
        frame[offset + 1] = code;
        frame.set(original.subarray(0, quoted), offset + ICMP_HEADER);
        put16(frame, offset + 2, internetChecksum(frame, offset, offset + ICMP_HEADER + quoted));
      },
    );
    this.counters.add("icmp.errors-sent");
  }

  // ---- input -----------------------------------------------------------------------------------

  private input(frame: Uint8Array): void {
    if (this.isClosed) return;
    this.counters.add("frames-from-guest");
    this.counters.add("bytes-from-guest", frame.length);
    this.pcap?.write(frame);
    if (frame.length > MAX_FRAME) return this.counters.drop("frame-too-long");
    const ethernet = parseEthernet(frame);
    if (!ethernet) return this.counters.drop("ethernet-short");
    switch (ethernet.etherType) {
      case ETHERTYPE_ARP:
        return this.arpInput(frame, ethernet.payload);
      case ETHERTYPE_IPV4:
        return this.ipInput(ethernet.payload);
      case ETHERTYPE_IPV6:
        return this.ipv6.input(frame, ethernet.payload);
      default:
        return this.counters.drop("ethertype");
    }
  }

  private arpInput(frame: Uint8Array, payload: Uint8Array): void {
    const arp = parseArp(payload);
    if (typeof arp === "string") return this.counters.drop(arp);
    this.learnGuest(arp.senderIp);
    if (arp.operation === ARP_REQUEST) {
      if (arp.targetIp === arp.senderIp) {
        this.arpAdd(arp.senderIp, arp.senderMac); // gratuitous
        return;
      }
      if (arp.targetIp !== HOST_ADDRESS && arp.targetIp !== DNS_ADDRESS) {
        this.counters.add("arp.not-ours");
        return;
      }
      this.arpAdd(arp.senderIp, arp.senderMac);
      // slirp's reply: to the requester's Ethernet source, 52:55 + the address, padded to 64 bytes
      const mac = natMac(arp.targetIp);
      this.deliver(buildArpFrame(frame.subarray(6, 12), mac, ARP_REPLY, mac, arp.targetIp, arp.senderMac, arp.senderIp, 64));
      this.counters.add("arp.replies");
    } else if (arp.operation === ARP_REPLY) {
      this.arpAdd(arp.senderIp, arp.senderMac);
    } else {
      this.counters.drop("arp-operation");
    }
  }

  private ipInput(bytes: Uint8Array): void {
    const parsed = parseIpv4Packet(bytes);
    if (typeof parsed === "string") return this.counters.drop(parsed);
    let packet: Ipv4Packet = parsed;
    const datagram = bytes.subarray(0, packet.totalLength);
    if (packet.source === 0 ? packet.protocol !== PROTOCOL_UDP : isMulticastOrReserved(packet.source) || isLoopback(packet.source)) {
      return this.counters.drop("ip-source");
    }
    const destination = packet.destination;
    if (destination === 0 || isLoopback(destination) || (isMulticastOrReserved(destination) && destination !== 0xffffffff) || destination === (NETWORK | ~NETMASK) >>> 0) {
      return this.counters.drop("ip-destination");
    }
    this.learnGuest(packet.source);
    if (packet.ttl === 0) {
      this.sendIcmpError(datagram, ICMP_TIME_EXCEEDED, 0, HOST_ADDRESS);
      return this.counters.drop("ip-ttl");
    }
    let whole = datagram;
    if (isFragment(packet)) {
      const result = this.reassembler.add(packet, Date.now());
      if ("dropped" in result) return this.counters.drop(result.dropped);
      if ("pending" in result) return;
      const reassembled = parseIpv4Packet(result.complete);
      if (typeof reassembled === "string") return this.counters.drop("frag-" + reassembled);
      packet = reassembled;
      whole = result.complete;
      this.counters.add("ip.reassembled");
    }
    switch (packet.protocol) {
      case PROTOCOL_TCP:
        return this.tcpInput(packet, whole);
      case PROTOCOL_UDP:
        return this.udpInput(packet, whole);
      case PROTOCOL_ICMP:
        return this.icmpInput(packet);
      default:
        return this.counters.drop("ip-protocol");
    }
  }

  private tcpInput(packet: Ipv4Packet, datagram: Uint8Array): void {
    if (packet.source === 0 || packet.destination === 0xffffffff) return this.counters.drop("tcp-address");
    const segment = parseTcp(packet.payload, packet.source, packet.destination);
    if (typeof segment === "string") return this.counters.drop(segment);
    this.counters.add("tcp.segments-from-guest");
    this.tcp.fromGuest(datagram, packet.source, packet.destination, segment);
  }

  private udpInput(packet: Ipv4Packet, datagram: Uint8Array): void {
    const udp = parseUdp(packet.payload, packet.source, packet.destination);
    if (typeof udp === "string") return this.counters.drop(udp);
    if (udp.destinationPort === BOOTP_SERVER_PORT && (packet.destination === HOST_ADDRESS || packet.destination === 0xffffffff)) {
      return this.dhcpInput(udp.payload);
    }
    if (packet.source === 0) return this.counters.drop("ip-source");
    if (udp.destinationPort === TFTP_PORT && packet.destination === HOST_ADDRESS) return this.tftpInput(HOST_ADDRESS, packet.source, udp.sourcePort, udp.payload);
    if (this.restricted) return this.counters.drop("restricted-udp");
    if (packet.ttl <= 1) {
      this.sendIcmpError(datagram, ICMP_TIME_EXCEEDED, 0, HOST_ADDRESS);
      return this.counters.drop("udp-ttl");
    }
    // slirp keeps the guest's TOS only when the checksum was 0 (its checksum overlay zeroes the field)
    const tos = get16(packet.payload, 6) === 0 ? packet.tos : 0;
    if (packet.destination === DNS_ADDRESS && udp.destinationPort === 53) {
      const guest = packet.source;
      const guestPort = udp.sourcePort;
      const accepted = this.dns.handle(udp.payload, (response) => this.run(() => this.sendUdp(DNS_ADDRESS, 53, guest, guestPort, response, tos)));
      if (accepted !== true) this.counters.drop(accepted === false ? "dns" : accepted);
      else this.counters.add("dns.queries");
      return;
    }
    this.udp.fromGuest(datagram, packet.source, udp.sourcePort, packet.destination, udp.destinationPort, udp.payload, tos, packet.ttl);
  }

  private sendUdp(source: IpAddress, sourcePort: number, destination: IpAddress, destinationPort: number, payload: Uint8Array, tos: number): void {
    this.sendIp({ tos, ttl: DEFAULT_TTL, protocol: PROTOCOL_UDP, source, destination }, UDP_HEADER + payload.length, (frame, offset) => {
      frame.set(payload, offset + UDP_HEADER);
      writeUdpHeader(frame, offset, source, sourcePort, destination, destinationPort, payload.length);
    });
  }

  /** TFTP, which QEMU serves only with tftp=: slirp answers a read request with "access violation" (from 10.0.2.2 or fec0::2). */
  private tftpInput(server: IpAddress, source: IpAddress, sourcePort: number, payload: Uint8Array): void {
    if (payload.length < 2 || get16(payload, 0) !== 1) return this.counters.drop("tftp");
    const message = new TextEncoder().encode("Access violation");
    const reply = new Uint8Array(4 + message.length + 1);
    put16(reply, 0, 5); // ERROR
    put16(reply, 2, 2); // access violation
    reply.set(message, 4);
    this.sendUdp(server, TFTP_PORT, source, sourcePort, reply, 0x10);
    this.counters.add("tftp.refused");
  }

  private dhcpInput(payload: Uint8Array): void {
    const request = parseBootpRequest(payload);
    if (typeof request === "string") return this.counters.drop(request);
    const decision = this.dhcp.handle(request);
    if (!decision) {
      this.counters.add("dhcp.ignored");
      return;
    }
    if (decision.leased !== undefined) {
      this.arpAdd(decision.leased, request.clientMac);
      if (decision.reply.messageType === 5) this.knownGuest = decision.leased; // ACK
    }
    const reply = buildBootpReply(decision.reply);
    this.sendIpv4({ tos: DHCP_TOS, ttl: DEFAULT_TTL, protocol: PROTOCOL_UDP, source: HOST_ADDRESS, destination: 0xffffffff }, UDP_HEADER + reply.length, (frame, offset) => {
      frame.set(reply, offset + UDP_HEADER);
      writeUdpHeader(frame, offset, HOST_ADDRESS, BOOTP_SERVER_PORT, 0xffffffff, BOOTP_CLIENT_PORT, reply.length);
    });
    this.counters.add("dhcp.replies");
  }

  private icmpInput(packet: Ipv4Packet): void {
    const message = parseIcmp(packet.payload);
    if (typeof message === "string") return this.counters.drop(message);
    if (message.type !== ICMP_ECHO_REQUEST) return this.counters.drop("icmp-type");
    if (packet.destination !== HOST_ADDRESS && packet.destination !== DNS_ADDRESS) {
      // slirp pings other hosts through ICMP sockets, which Node does not have
      return this.counters.drop(this.restricted ? "restricted-icmp" : "icmp-echo-elsewhere");
    }
    // slirp's icmp_reflect: the same message as an echo reply, TTL 255, TOS and DF kept, options dropped
    const bytes = message.bytes;
    this.sendIpv4(
      { tos: packet.tos, ttl: MAX_TTL, protocol: PROTOCOL_ICMP, source: packet.destination, destination: packet.source, dontFragment: (packet.flagsOffset & FLAG_DF) !== 0 },
      bytes.length,
      (frame, offset) => {
        frame.set(bytes, offset);
        frame[offset] = ICMP_ECHO_REPLY;
        put16(frame, offset + 2, 0);
        put16(frame, offset + 2, internetChecksum(frame, offset, offset + bytes.length));
      },
    );
    this.counters.add("icmp.echo-replies");
  }

  /** The guest's address, from the first packet that shows it (a DHCP ACK overrides it). */
  private learnGuest(address: Ipv4Address): void {
    if (this.knownGuest !== null || !inNetwork(address)) return;
    const host = address & 0xff;
    if (host === 0 || host === 255 || address === HOST_ADDRESS || address === DNS_ADDRESS) return;
    this.knownGuest = address;
  }

  // ---- output ----------------------------------------------------------------------------------

  private arpAdd(ip: Ipv4Address, mac: Uint8Array): void {
    // (slirp also notes addresses outside the network, which a guest spraying ARP could use to push the real entries out)
    if (!inNetwork(ip) || ip === NETWORK || ip === ((NETWORK | ~NETMASK) >>> 0) || ip === HOST_ADDRESS || ip === DNS_ADDRESS) return;
    const entry = this.arpTable.find((item) => item.ip === ip);
    if (entry) entry.mac = mac.slice(0, 6);
    else if (this.arpTable.length < ARP_TABLE_SIZE) this.arpTable.push({ ip, mac: mac.slice(0, 6) });
    else {
      this.arpTable[this.arpVictim] = { ip, mac: mac.slice(0, 6) };
      this.arpVictim = (this.arpVictim + 1) % ARP_TABLE_SIZE;
    }
    if (this.waiting.some((item) => item.destination === ip)) this.flushWaiting();
  }

  /** NDP learnt an address: frames held for it can go. */
  private neighborLearnt(address: Ipv6Address): void {
    const key = addressKey(address);
    if (this.waiting.some((item) => item.key === key)) this.flushWaiting();
  }

  /** The guest's MAC for a destination (ARP or NDP table; broadcast and multicast by rule), or null. */
  private resolve(destination: IpAddress): Uint8Array | null {
    return isIpv6(destination) ? this.ipv6.ndp.lookup(destination) : this.arpLookup(destination);
  }

  private arpLookup(ip: Ipv4Address): Uint8Array | null {
    if (ip === 0 || ip === 0xffffffff || ip === ((NETWORK | ~NETMASK) >>> 0)) return BROADCAST_MAC;
    return this.arpTable.find((item) => item.ip === ip)?.mac ?? null;
  }

  /**
   * Fills in the guest's MAC and delivers; without it, asks (an ARP request, or an NDP neighbor
   * solicitation) and holds the frame up to 1 s (slirp's if_encap): each held frame asks once.
   */
  private route(frame: Uint8Array, destination: IpAddress): void {
    const mac = this.resolve(destination);
    if (mac) {
      frame.set(mac, 0);
      this.deliver(frame);
      return;
    }
    if (this.waiting.length >= ARP_WAIT_FRAMES) {
      this.counters.drop("arp-wait-full");
      return;
    }
    this.waiting.push({ frame, destination, key: addressKey(destination), expires: Date.now() + ARP_WAIT_MS });
    if (isIpv6(destination)) {
      this.ipv6.ndp.solicit(destination);
    } else {
      const host = natMac(HOST_ADDRESS);
      this.deliver(buildArpFrame(BROADCAST_MAC, host, ARP_REQUEST, host, HOST_ADDRESS, new Uint8Array(6), destination));
      this.counters.add("arp.requests");
    }
    if (!this.waitingTimer) {
      this.waitingTimer = this.setTimer(() => this.run(() => {
        this.waitingTimer = null;
        this.flushWaiting();
      }), ARP_WAIT_MS);
    }
  }

  private flushWaiting(): void {
    const now = Date.now();
    const still: WaitingFrame[] = [];
    for (const item of this.waiting) {
      const mac = this.resolve(item.destination);
      if (mac) {
        item.frame.set(mac, 0);
        this.deliver(item.frame);
      } else if (item.expires > now) {
        still.push(item);
      } else {
        this.counters.drop("arp-unresolved");
      }
    }
    this.waiting = still;
    if (still.length > 0 && !this.waitingTimer) {
      const next = Math.max(1, Math.min(...still.map((item) => item.expires)) - now);
      this.waitingTimer = this.setTimer(() => this.run(() => {
        this.waitingTimer = null;
        this.flushWaiting();
      }), next);
    }
  }

  private deliver(frame: Uint8Array): void {
    if (this.isClosed) return;
    const port = this.port;
    if (!port) return this.counters.drop("not-attached");
    if (this.queue.length === this.queueHead && port.deliver(frame)) {
      this.delivered(frame);
      return;
    }
    if (this.queue.length - this.queueHead >= this.limits.deliveryQueueFrames || this.queueBytes + frame.length > this.limits.deliveryQueueBytes) {
      return this.counters.drop("delivery-queue-full");
    }
    this.queue.push(frame);
    this.queueBytes += frame.length;
  }

  private delivered(frame: Uint8Array): void {
    this.wakePending = true;
    this.counters.add("frames-to-guest");
    this.counters.add("bytes-to-guest", frame.length);
    this.pcap?.write(frame);
  }

  private flushQueue(): void {
    const port = this.port;
    if (!port || this.isClosed) return;
    while (this.queueHead < this.queue.length) {
      const frame = this.queue[this.queueHead];
      if (!port.deliver(frame)) break;
      this.queueHead++;
      this.queueBytes -= frame.length;
      this.delivered(frame);
    }
    if (this.queueHead === this.queue.length) {
      this.queue.length = 0;
      this.queueHead = 0;
    } else if (this.queueHead > 1024) {
      this.queue.splice(0, this.queueHead);
      this.queueHead = 0;
    }
  }

  private wakeGuest(): void {
    if (!this.wakeHook) return;
    try {
      this.wakeHook();
    } catch {
      this.counters.add("wake-error");
    }
  }
}

