// IPv6 headers (RFC 8200): the fixed header, the extension headers walked with every length
// checked, and building (no extension headers, as slirp's ip6_output).
import { get16, get32, type Ipv6Address, put16, put32 } from "./bytes.js";
import { ETHERNET_HEADER, ETHERTYPE_IPV6, newEthernetFrame } from "./ethernet.js";

export const IPV6_HEADER = 40;
export const IPV6_PAYLOAD = ETHERNET_HEADER + IPV6_HEADER;
export const PROTOCOL_ICMPV6 = 58;
export const NEXT_HOP_BY_HOP = 0;
export const NEXT_ROUTING = 43;
export const NEXT_FRAGMENT = 44;
export const NEXT_AUTH = 51;
export const NEXT_DESTINATION = 60;
/** extension headers walked before giving up (a chain is at most a handful long in practice) */
const MAX_EXTENSION_HEADERS = 16;

export interface Ipv6Header {
  trafficClass: number;
  flowLabel: number;
  /** as the header says: check `ipv6Payload` before trusting it */
  payloadLength: number;
  nextHeader: number;
  hopLimit: number;
  /** views into the packet */
  source: Ipv6Address;
  destination: Ipv6Address;
}

export type Ipv6Error = "ip6-short" | "ip6-version";

/** The fixed header at the start of `bytes` (an Ethernet payload); the payload length is not checked here. */
export function parseIpv6(bytes: Uint8Array): Ipv6Header | Ipv6Error {
  if (bytes.length < IPV6_HEADER) return "ip6-short";
  if (bytes[0] >> 4 !== 6) return "ip6-version";
  const first = get32(bytes, 0);
  return {
    trafficClass: (first >>> 20) & 0xff,
    flowLabel: first & 0xfffff,
    payloadLength: get16(bytes, 4),
    nextHeader: bytes[6],
    hopLimit: bytes[7],
    source: bytes.subarray(8, 24),
    destination: bytes.subarray(24, 40),
  };
}

/** The payload as the header's length gives it (link padding removed); null when the packet is shorter. */
export function ipv6Payload(bytes: Uint8Array, header: Ipv6Header): Uint8Array | null {
  const end = IPV6_HEADER + header.payloadLength;
  return end <= bytes.length ? bytes.subarray(IPV6_HEADER, end) : null;
}

export interface UpperLayer {
  /** the protocol after the extension headers (59 for "no next header"; ESP, 50, is not walked past) */
  protocol: number;
  /** its offset in the payload */
  offset: number;
  /** how many extension headers came before it */
  extensionHeaders: number;
  /** a fragment header was among them */
  fragment: boolean;
}

/**
 * Walks the extension headers of `payload` (hop-by-hop, routing, fragment, destination options,
 * authentication) to the upper-layer protocol; every length is checked against the payload.
 * "ip6-extension" when a header runs past the end or the chain is too long.
 */
export function walkExtensionHeaders(payload: Uint8Array, nextHeader: number): UpperLayer | "ip6-extension" {
  let protocol = nextHeader;
  let offset = 0;
  let count = 0;
  let fragment = false;
  for (;;) {
    let length: number;
    switch (protocol) {
      case NEXT_HOP_BY_HOP:
      case NEXT_ROUTING:
      case NEXT_DESTINATION:
        if (offset + 2 > payload.length) return "ip6-extension";
        length = (payload[offset + 1] + 1) * 8;
        break;
      case NEXT_FRAGMENT:
        length = 8;
        fragment = true;
        break;
      case NEXT_AUTH:
        if (offset + 2 > payload.length) return "ip6-extension";
        length = (payload[offset + 1] + 2) * 4;
        break;
      default:
        return { protocol, offset, extensionHeaders: count, fragment };
    }
    if (offset + length > payload.length || ++count > MAX_EXTENSION_HEADERS) return "ip6-extension";
    protocol = payload[offset];
    offset += length;
  }
}

export interface Ipv6Fields {
  nextHeader: number;
  hopLimit: number;
  source: Ipv6Address;
  destination: Ipv6Address;
  trafficClass?: number;
  flowLabel?: number;
}

/** Writes the 40-byte header at `offset` for a payload of `payloadLength` bytes. */
export function writeIpv6Header(bytes: Uint8Array, offset: number, fields: Ipv6Fields, payloadLength: number): void {
  put32(bytes, offset, ((6 << 28) | ((fields.trafficClass ?? 0) << 20) | (fields.flowLabel ?? 0)) >>> 0);
  put16(bytes, offset + 4, payloadLength);
  bytes[offset + 6] = fields.nextHeader;
  bytes[offset + 7] = fields.hopLimit;
  bytes.set(fields.source.subarray(0, 16), offset + 8);
  bytes.set(fields.destination.subarray(0, 16), offset + 24);
}

/** An Ethernet frame carrying an IPv6 header; the payload starts at IPV6_PAYLOAD and is the caller's to fill. */
export function newIpv6Frame(destinationMac: Uint8Array, sourceMac: Uint8Array, fields: Ipv6Fields, payloadLength: number): Uint8Array {
  const frame = newEthernetFrame(destinationMac, sourceMac, ETHERTYPE_IPV6, IPV6_HEADER + payloadLength);
  writeIpv6Header(frame, ETHERNET_HEADER, fields, payloadLength);
  return frame;
}

/** The solicited-node multicast address of `address` (ff02::1:ffXX:XXXX, RFC 4291 2.7.1). */
export function solicitedNodeAddress(address: Ipv6Address): Ipv6Address {
  const result = Uint8Array.of(0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff, 0, 0, 0);
  result.set(address.subarray(13, 16), 13);
  return result;
}

/** The Ethernet address of a multicast IPv6 address: 33:33 and its last four bytes (RFC 2464 7). */
export function multicastMac(address: Ipv6Address): Uint8Array {
  return Uint8Array.of(0x33, 0x33, address[12], address[13], address[14], address[15]);
}
