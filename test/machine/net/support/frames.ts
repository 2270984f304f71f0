// Frames a guest would send, built with the NAT's own wire helpers (which have their own tests),
// and small readers for the frames that come back.
import { DNS6 as NAT_DNS6, HOST6 as NAT_HOST6 } from "../../../../src/machine/net/context.js";
import { get16, get32, type Ipv6Address, isMulticastIpv6, parseIpv4 as parseAddress, parseIpv6, put16, put32 } from "../../../../src/machine/net/wire/bytes.js";
import { internetChecksum } from "../../../../src/machine/net/wire/checksum.js";
import { ETHERNET_HEADER, ETHERTYPE_IPV4, ETHERTYPE_IPV6 } from "../../../../src/machine/net/wire/ethernet.js";
import { writeIcmpv6Checksum } from "../../../../src/machine/net/wire/icmpv6.js";
import { IPV6_PAYLOAD, multicastMac, newIpv6Frame, PROTOCOL_ICMPV6 } from "../../../../src/machine/net/wire/ipv6.js";
import { buildArpFrame } from "../../../../src/machine/net/wire/arp.js";
import { IPV4_PAYLOAD, newIpv4Frame, PROTOCOL_ICMP, PROTOCOL_TCP, PROTOCOL_UDP } from "../../../../src/machine/net/wire/ipv4.js";
import { writeUdpHeader } from "../../../../src/machine/net/wire/udp.js";
import { type TcpFields, tcpHeaderLength, writeTcpHeader } from "../../../../src/machine/net/wire/tcp.js";

export const GUEST_MAC = Uint8Array.from([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);
export const NAT_MAC = Uint8Array.from([0x52, 0x55, 0x0a, 0x00, 0x02, 0x02]);
export const BROADCAST = Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
export const ip = (text: string): number => parseAddress(text)!;
export const GUEST_IP = ip("10.0.2.15");
export const GATEWAY = ip("10.0.2.2");
export const DNS = ip("10.0.2.3");

export const ip6 = (text: string): Ipv6Address => parseIpv6(text)!;
/** the guest's link-local and SLAAC addresses for QEMU's default MAC 52:54:00:12:34:56 */
export const GUEST_LL = ip6("fe80::5054:ff:fe12:3456");
export const GUEST6 = ip6("fec0::5054:ff:fe12:3456");
export const HOST6 = NAT_HOST6;
export const DNS6 = NAT_DNS6;
/** the MAC the NAT uses for fec0::2 and fe80::2 */
export const NAT_MAC6 = Uint8Array.from([0x52, 0x56, 0, 0, 0, 2]);

export interface IpOptions {
  tos?: number;
  id?: number;
  flagsOffset?: number;
  ttl?: number;
  source?: number;
  destination?: number;
  destinationMac?: Uint8Array;
  sourceMac?: Uint8Array;
}

export function ipv4Frame(protocol: number, payloadLength: number, options: IpOptions = {}): Uint8Array {
  return newIpv4Frame(options.destinationMac ?? NAT_MAC, options.sourceMac ?? GUEST_MAC, {
    tos: options.tos ?? 0,
    id: options.id ?? 1,
    flagsOffset: options.flagsOffset ?? 0x4000,
    ttl: options.ttl ?? 64,
    protocol,
    source: options.source ?? GUEST_IP,
    destination: options.destination ?? GATEWAY,
  }, payloadLength);
}

export function arpRequest(targetIp: number, senderIp = GUEST_IP, senderMac = GUEST_MAC): Uint8Array {
  return buildArpFrame(BROADCAST, senderMac, 1, senderMac, senderIp, new Uint8Array(6), targetIp);
}

export function icmpEcho(destination: number, identifier: number, sequence: number, data: Uint8Array, options: IpOptions = {}): Uint8Array {
  const frame = ipv4Frame(PROTOCOL_ICMP, 8 + data.length, { destination, ...options });
  const at = IPV4_PAYLOAD;
  frame[at] = 8;
  put16(frame, at + 4, identifier);
  put16(frame, at + 6, sequence);
  frame.set(data, at + 8);
  put16(frame, at + 2, internetChecksum(frame, at, frame.length));
  return frame;
}

export function udpFrame(sourcePort: number, destination: number, destinationPort: number, payload: Uint8Array, options: IpOptions = {}): Uint8Array {
  const source = options.source ?? GUEST_IP;
  const frame = ipv4Frame(PROTOCOL_UDP, 8 + payload.length, { destination, ...options, flagsOffset: options.flagsOffset ?? 0 });
  frame.set(payload, IPV4_PAYLOAD + 8);
  writeUdpHeader(frame, IPV4_PAYLOAD, source, sourcePort, destination, destinationPort, payload.length);
  return frame;
}

export function tcpFrame(destination: number, fields: TcpFields, payload: Uint8Array = new Uint8Array(0), options: IpOptions = {}): Uint8Array {
  const source = options.source ?? GUEST_IP;
  const headerLength = tcpHeaderLength(fields);
  const frame = ipv4Frame(PROTOCOL_TCP, headerLength + payload.length, { destination, ...options });
  frame.set(payload, IPV4_PAYLOAD + headerLength);
  writeTcpHeader(frame, IPV4_PAYLOAD, source, destination, fields, payload.length);
  return frame;
}

/** A DHCP client message as the guest's net/dhcp.c writes it (options 53, [50, 54,] 55, end). */
export function dhcpFrame(messageType: number, xid: number, options: { requested?: number; server?: number; ciaddr?: number; mac?: Uint8Array; extra?: number[] } = {}): Uint8Array {
  const mac = options.mac ?? GUEST_MAC;
  const bootp = new Uint8Array(300);
  bootp[0] = 1;
  bootp[1] = 1;
  bootp[2] = 6;
  put32(bootp, 4, xid);
  if (options.ciaddr) put32(bootp, 12, options.ciaddr);
  bootp.set(mac, 28);
  put32(bootp, 236, 0x63825363);
  const list = [53, 1, messageType];
  if (options.requested !== undefined) list.push(50, 4, ...bytes4(options.requested));
  if (options.server !== undefined) list.push(54, 4, ...bytes4(options.server));
  list.push(55, 3, 1, 3, 6, ...(options.extra ?? []), 255);
  bootp.set(list, 240);
  return udpFrame(68, 0xffffffff, 67, bootp, { source: options.ciaddr ?? 0, destinationMac: BROADCAST, sourceMac: mac, tos: 0 });
}

function bytes4(value: number): number[] {
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255];
}

export interface Ip6Options {
  source?: Ipv6Address;
  destination?: Ipv6Address;
  hopLimit?: number;
  trafficClass?: number;
  flowLabel?: number;
  sourceMac?: Uint8Array;
  /** default: 33:33 + the group for multicast, else the NAT's 52:56:00:00:00:02 */
  destinationMac?: Uint8Array;
}

export function ipv6Frame(nextHeader: number, payloadLength: number, options: Ip6Options = {}): Uint8Array {
  const destination = options.destination ?? HOST6;
  const destinationMac = options.destinationMac ?? (isMulticastIpv6(destination) ? multicastMac(destination) : NAT_MAC6);
  return newIpv6Frame(destinationMac, options.sourceMac ?? GUEST_MAC, {
    nextHeader, hopLimit: options.hopLimit ?? 64, source: options.source ?? GUEST6, destination,
    trafficClass: options.trafficClass ?? 0, flowLabel: options.flowLabel ?? 0,
  }, payloadLength);
}

/** An ICMPv6 message: `body` follows type, code and checksum. */
export function icmp6Frame(type: number, code: number, body: ArrayLike<number>, options: Ip6Options = {}): Uint8Array {
  const frame = ipv6Frame(PROTOCOL_ICMPV6, 4 + body.length, options);
  frame[IPV6_PAYLOAD] = type;
  frame[IPV6_PAYLOAD + 1] = code;
  frame.set(body, IPV6_PAYLOAD + 4);
  writeIcmpv6Checksum(frame, IPV6_PAYLOAD, 4 + body.length, options.source ?? GUEST6, options.destination ?? HOST6);
  return frame;
}

const linkOption = (type: number, mac: Uint8Array) => [type, 1, ...mac];

/** A router solicitation to ff02::2 (hop limit 255), with the source link-layer option unless from "::". */
export function routerSolicitation(source: Ipv6Address = GUEST_LL, options: Ip6Options = {}): Uint8Array {
  const unspecified = source.every((byte) => byte === 0);
  return icmp6Frame(133, 0, [0, 0, 0, 0, ...(unspecified ? [] : linkOption(1, options.sourceMac ?? GUEST_MAC))], { hopLimit: 255, source, destination: ip6("ff02::2"), ...options });
}

/** A neighbor solicitation for `target`: to its solicited-node group, with the source link-layer option unless from "::" (DAD). */
export function neighborSolicitation(target: Ipv6Address, source: Ipv6Address = GUEST_LL, options: Ip6Options = {}): Uint8Array {
  const group = ip6("ff02::1:ff00:0");
  group.set(target.subarray(13), 13);
  const unspecified = source.every((byte) => byte === 0);
  return icmp6Frame(135, 0, [0, 0, 0, 0, ...target, ...(unspecified ? [] : linkOption(1, options.sourceMac ?? GUEST_MAC))], { hopLimit: 255, source, destination: group, ...options });
}

/** A solicited neighbor advertisement of `address` to `destination`, with the target link-layer option. */
export function neighborAdvertisement(address: Ipv6Address, destination: Ipv6Address = HOST6, options: Ip6Options = {}): Uint8Array {
  return icmp6Frame(136, 0, [0x60, 0, 0, 0, ...address, ...linkOption(2, options.sourceMac ?? GUEST_MAC)], { hopLimit: 255, source: address, destination, ...options });
}

export function echo6(destination: Ipv6Address, identifier: number, sequence: number, data: ArrayLike<number>, options: Ip6Options = {}): Uint8Array {
  return icmp6Frame(128, 0, [identifier >> 8, identifier & 0xff, sequence >> 8, sequence & 0xff, ...Array.from(data)], { destination, ...options });
}

export function udp6Frame(sourcePort: number, destination: Ipv6Address, destinationPort: number, payload: Uint8Array, options: Ip6Options = {}): Uint8Array {
  const frame = ipv6Frame(17, 8 + payload.length, { destination, ...options });
  frame.set(payload, IPV6_PAYLOAD + 8);
  writeUdpHeader(frame, IPV6_PAYLOAD, options.source ?? GUEST6, sourcePort, destination, destinationPort, payload.length);
  return frame;
}

export function tcp6Frame(destination: Ipv6Address, fields: TcpFields, payload: Uint8Array = new Uint8Array(0), options: Ip6Options = {}): Uint8Array {
  const headerLength = tcpHeaderLength(fields);
  const frame = ipv6Frame(6, headerLength + payload.length, { destination, ...options });
  frame.set(payload, IPV6_PAYLOAD + headerLength);
  writeTcpHeader(frame, IPV6_PAYLOAD, options.source ?? GUEST6, destination, fields, payload.length);
  return frame;
}

/** Fields of a frame the NAT sent, for assertions. */
export interface Decoded {
  ethernetType: number;
  ip?: { tos: number; id: number; flagsOffset: number; ttl: number; protocol: number; source: number; destination: number; totalLength: number };
  ip6?: { trafficClass: number; flowLabel: number; payloadLength: number; nextHeader: number; hopLimit: number; source: Ipv6Address; destination: Ipv6Address };
  icmp6?: { type: number; code: number; bytes: Uint8Array };
  tcp?: { sourcePort: number; destinationPort: number; seq: number; ack: number; flags: number; window: number; options: Uint8Array; payload: Uint8Array };
  udp?: { sourcePort: number; destinationPort: number; payload: Uint8Array };
  icmp?: { type: number; code: number; bytes: Uint8Array };
}

/** The transport header and payload at the start of `l4` (an IP payload). */
function decodeTransport(result: Decoded, protocol: number, l4: Uint8Array): void {
  if (protocol === PROTOCOL_TCP) {
    const offset = (l4[12] >> 4) * 4;
    result.tcp = {
      sourcePort: get16(l4, 0), destinationPort: get16(l4, 2), seq: get32(l4, 4), ack: get32(l4, 8), flags: l4[13], window: get16(l4, 14),
      options: l4.slice(20, offset), payload: l4.slice(offset),
    };
  } else if (protocol === PROTOCOL_UDP) {
    result.udp = { sourcePort: get16(l4, 0), destinationPort: get16(l4, 2), payload: l4.slice(8, get16(l4, 4)) };
  }
}

export function decode(frame: Uint8Array): Decoded {
  const result: Decoded = { ethernetType: get16(frame, 12) };
  if (result.ethernetType === ETHERTYPE_IPV6 && frame.length >= IPV6_PAYLOAD) {
    const at = ETHERNET_HEADER;
    const first = get32(frame, at);
    result.ip6 = {
      trafficClass: (first >>> 20) & 0xff, flowLabel: first & 0xfffff, payloadLength: get16(frame, at + 4), nextHeader: frame[at + 6],
      hopLimit: frame[at + 7], source: frame.slice(at + 8, at + 24), destination: frame.slice(at + 24, at + 40),
    };
    const l4 = frame.subarray(IPV6_PAYLOAD, IPV6_PAYLOAD + result.ip6.payloadLength);
    if (result.ip6.nextHeader === PROTOCOL_ICMPV6) result.icmp6 = { type: l4[0], code: l4[1], bytes: l4.slice() };
    else decodeTransport(result, result.ip6.nextHeader, l4);
    return result;
  }
  if (result.ethernetType !== ETHERTYPE_IPV4) return result;
  const at = ETHERNET_HEADER;
  const headerLength = (frame[at] & 15) * 4;
  const totalLength = get16(frame, at + 2);
  result.ip = {
    tos: frame[at + 1], id: get16(frame, at + 4), flagsOffset: get16(frame, at + 6), ttl: frame[at + 8], protocol: frame[at + 9],
    source: get32(frame, at + 12), destination: get32(frame, at + 16), totalLength,
  };
  const l4 = frame.subarray(at + headerLength, at + totalLength);
  if (result.ip.protocol === PROTOCOL_ICMP) result.icmp = { type: l4[0], code: l4[1], bytes: l4.slice() };
  else decodeTransport(result, result.ip.protocol, l4);
  return result;
}

export const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");
