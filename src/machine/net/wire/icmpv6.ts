// ICMPv6 (RFC 4443) and Neighbor Discovery (RFC 4861): the messages the NAT reads and writes —
// echo, the error messages, router solicitation/advertisement, neighbor solicitation/advertisement
// — and the NDP options (link-layer address, prefix information, RDNSS of RFC 8106). The checksum
// covers the IPv6 pseudo header.
import { type IpAddress, type Ipv6Address, put16, put32 } from "./bytes.js";
import { finishChecksum, pseudoHeaderSum, sum16 } from "./checksum.js";
import { PROTOCOL_ICMPV6 } from "./ipv6.js";

export const ICMPV6_HEADER = 4;
/** type, code, checksum and the 4-byte field every error has (unused, MTU or pointer) */
export const ICMPV6_ERROR_HEADER = 8;
export const ICMPV6_UNREACHABLE = 1;
export const ICMPV6_TOO_BIG = 2;
export const ICMPV6_TIME_EXCEEDED = 3;
export const ICMPV6_PARAMETER_PROBLEM = 4;
export const ICMPV6_ECHO_REQUEST = 128;
export const ICMPV6_ECHO_REPLY = 129;
export const NDP_ROUTER_SOLICITATION = 133;
export const NDP_ROUTER_ADVERTISEMENT = 134;
export const NDP_NEIGHBOR_SOLICITATION = 135;
export const NDP_NEIGHBOR_ADVERTISEMENT = 136;
export const NDP_REDIRECT = 137;
/** destination unreachable codes */
export const UNREACHABLE6_NO_ROUTE = 0;
export const UNREACHABLE6_ADDRESS = 3;
export const UNREACHABLE6_PORT = 4;

/** the fixed part of each NDP message, header included (slirp's ICMP6_NDP_*_MINLEN) */
export const NDP_RS_LENGTH = 8;
export const NDP_RA_LENGTH = 16;
export const NDP_NS_LENGTH = 24;
export const NDP_NA_LENGTH = 24;

export const NDP_OPTION_SOURCE_LINK = 1;
export const NDP_OPTION_TARGET_LINK = 2;
export const NDP_OPTION_PREFIX = 3;
export const NDP_OPTION_RDNSS = 25;
export const NDP_LINK_OPTION_LENGTH = 8;
export const NDP_PREFIX_OPTION_LENGTH = 32;
export const NDP_RDNSS_OPTION_LENGTH = 24;

/** neighbor advertisement flags (the first byte after the checksum) */
export const NA_ROUTER = 0x80;
export const NA_SOLICITED = 0x40;
export const NA_OVERRIDE = 0x20;

export interface Icmpv6Message {
  type: number;
  code: number;
  /** the whole message, header included */
  bytes: Uint8Array;
}

export type Icmpv6Error = "icmp6-short" | "icmp6-checksum";

/** `payload` is the IPv6 payload; the checksum covers the pseudo header of `source` and `destination`. */
export function parseIcmpv6(payload: Uint8Array, source: Ipv6Address, destination: Ipv6Address): Icmpv6Message | Icmpv6Error {
  if (payload.length < ICMPV6_HEADER) return "icmp6-short";
  if (icmpv6Checksum(payload, 0, payload.length, source, destination) !== 0) return "icmp6-checksum";
  return { type: payload[0], code: payload[1], bytes: payload };
}

/** The checksum over bytes[start, end) and the pseudo header: 0 when a message with its checksum is intact. */
export function icmpv6Checksum(bytes: Uint8Array, start: number, end: number, source: IpAddress, destination: IpAddress): number {
  return finishChecksum(sum16(bytes, start, end, pseudoHeaderSum(source, destination, PROTOCOL_ICMPV6, end - start)));
}

/** Fills in the checksum of the message at bytes[offset, offset + length). */
export function writeIcmpv6Checksum(bytes: Uint8Array, offset: number, length: number, source: Ipv6Address, destination: Ipv6Address): void {
  put16(bytes, offset + 2, 0);
  put16(bytes, offset + 2, icmpv6Checksum(bytes, offset, offset + length, source, destination));
}

/** The target address of a neighbor solicitation or advertisement; null when the message is too short for one. */
export function ndpTarget(message: Icmpv6Message): Ipv6Address | null {
  return message.bytes.length >= NDP_NS_LENGTH ? message.bytes.subarray(8, 24) : null;
}

export interface NdpOption {
  type: number;
  /** the option's bytes after type and length */
  data: Uint8Array;
}

/**
 * The options from `offset` on (RFC 4861 4.6): a length of 0 or one past the end makes the whole
 * list malformed.
 */
export function parseNdpOptions(bytes: Uint8Array, offset: number): NdpOption[] | "ndp-option" {
  const options: NdpOption[] = [];
  let at = offset;
  while (at < bytes.length) {
    if (at + 2 > bytes.length) return "ndp-option";
    const length = bytes[at + 1] * 8;
    if (length === 0 || at + length > bytes.length) return "ndp-option";
    options.push({ type: bytes[at], data: bytes.subarray(at + 2, at + length) });
    at += length;
  }
  return options;
}

/** A source or target link-layer address option (8 bytes) at `offset`. */
export function writeLinkLayerOption(bytes: Uint8Array, offset: number, type: number, mac: Uint8Array): void {
  bytes[offset] = type;
  bytes[offset + 1] = NDP_LINK_OPTION_LENGTH / 8;
  bytes.set(mac.subarray(0, 6), offset + 2);
}

export interface PrefixInformation {
  prefix: Ipv6Address;
  prefixLength: number;
  onLink: boolean;
  autonomous: boolean;
  validLifetime: number;
  preferredLifetime: number;
}

/** A prefix information option (32 bytes) at `offset`. */
export function writePrefixOption(bytes: Uint8Array, offset: number, info: PrefixInformation): void {
  bytes[offset] = NDP_OPTION_PREFIX;
  bytes[offset + 1] = NDP_PREFIX_OPTION_LENGTH / 8;
  bytes[offset + 2] = info.prefixLength;
  bytes[offset + 3] = (info.onLink ? 0x80 : 0) | (info.autonomous ? 0x40 : 0);
  put32(bytes, offset + 4, info.validLifetime);
  put32(bytes, offset + 8, info.preferredLifetime);
  put32(bytes, offset + 12, 0);
  bytes.set(info.prefix.subarray(0, 16), offset + 16);
}

/** A recursive DNS server option with one address (24 bytes) at `offset`. */
export function writeRdnssOption(bytes: Uint8Array, offset: number, lifetime: number, server: Ipv6Address): void {
  bytes[offset] = NDP_OPTION_RDNSS;
  bytes[offset + 1] = NDP_RDNSS_OPTION_LENGTH / 8;
  put16(bytes, offset + 2, 0);
  put32(bytes, offset + 4, lifetime);
  bytes.set(server.subarray(0, 16), offset + 8);
}

export interface RouterAdvertisement {
  curHopLimit: number;
  managed: boolean;
  otherConfig: boolean;
  routerLifetime: number;
  reachableTime: number;
  retransTimer: number;
}

/** The fixed part of a router advertisement (16 bytes, checksum left 0) at `offset`. */
export function writeRouterAdvertisement(bytes: Uint8Array, offset: number, ra: RouterAdvertisement): void {
  bytes[offset] = NDP_ROUTER_ADVERTISEMENT;
  bytes[offset + 1] = 0;
  put16(bytes, offset + 2, 0);
  bytes[offset + 4] = ra.curHopLimit;
  bytes[offset + 5] = (ra.managed ? 0x80 : 0) | (ra.otherConfig ? 0x40 : 0);
  put16(bytes, offset + 6, ra.routerLifetime);
  put32(bytes, offset + 8, ra.reachableTime);
  put32(bytes, offset + 12, ra.retransTimer);
}

/** The fixed part of a neighbor solicitation or advertisement (24 bytes, checksum left 0) at `offset`. */
export function writeNeighborMessage(bytes: Uint8Array, offset: number, type: number, flags: number, target: Ipv6Address): void {
  bytes[offset] = type;
  bytes[offset + 1] = 0;
  put16(bytes, offset + 2, 0);
  put32(bytes, offset + 4, (flags << 24) >>> 0);
  bytes.set(target.subarray(0, 16), offset + 8);
}
