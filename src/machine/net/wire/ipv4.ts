// IPv4 headers (RFC 791): parsing with every length checked, and building (no options, as slirp).
import { get16, get32, type Ipv4Address, put16, put32 } from "./bytes.js";
import { internetChecksum } from "./checksum.js";
import { ETHERNET_HEADER, ETHERTYPE_IPV4, newEthernetFrame } from "./ethernet.js";

export const IPV4_HEADER = 20;
export const PROTOCOL_ICMP = 1;
export const PROTOCOL_TCP = 6;
export const PROTOCOL_UDP = 17;
export const FLAG_DF = 0x4000;
export const FLAG_MF = 0x2000;
export const OFFSET_MASK = 0x1fff;

export interface Ipv4Packet {
  /** the header, options included */
  header: Uint8Array;
  headerLength: number;
  tos: number;
  totalLength: number;
  id: number;
  /** the flags and fragment offset word (DF 0x4000, MF 0x2000, offset in 8-byte units) */
  flagsOffset: number;
  ttl: number;
  protocol: number;
  source: Ipv4Address;
  destination: Ipv4Address;
  /** bytes after the header up to the total length (link padding removed) */
  payload: Uint8Array;
}

export type Ipv4Error = "ip-short" | "ip-version" | "ip-header-length" | "ip-checksum" | "ip-total-length";

/** Parses the header at the start of `bytes` (an Ethernet payload); anything past the total length is padding. */
export function parseIpv4(bytes: Uint8Array): Ipv4Packet | Ipv4Error {
  if (bytes.length < IPV4_HEADER) return "ip-short";
  if (bytes[0] >> 4 !== 4) return "ip-version";
  const headerLength = (bytes[0] & 0x0f) * 4;
  if (headerLength < IPV4_HEADER || headerLength > bytes.length) return "ip-header-length";
  if (internetChecksum(bytes, 0, headerLength) !== 0) return "ip-checksum";
  const totalLength = get16(bytes, 2);
  if (totalLength < headerLength || totalLength > bytes.length) return "ip-total-length";
  return {
    header: bytes.subarray(0, headerLength),
    headerLength,
    tos: bytes[1],
    totalLength,
    id: get16(bytes, 4),
    flagsOffset: get16(bytes, 6),
    ttl: bytes[8],
    protocol: bytes[9],
    source: get32(bytes, 12),
    destination: get32(bytes, 16),
    payload: bytes.subarray(headerLength, totalLength),
  };
}

export function isFragment(packet: Ipv4Packet): boolean {
  return (packet.flagsOffset & (FLAG_MF | OFFSET_MASK)) !== 0;
}

export interface Ipv4Fields {
  tos: number;
  id: number;
  /** DF (0x4000) and MF (0x2000) bits and the offset in 8-byte units */
  flagsOffset: number;
  ttl: number;
  protocol: number;
  source: Ipv4Address;
  destination: Ipv4Address;
}

/** Writes a 20-byte header (checksum included) at `offset` for a payload of `payloadLength` bytes. */
export function writeIpv4Header(bytes: Uint8Array, offset: number, fields: Ipv4Fields, payloadLength: number): void {
  bytes[offset] = 0x45;
  bytes[offset + 1] = fields.tos & 0xff;
  put16(bytes, offset + 2, IPV4_HEADER + payloadLength);
  put16(bytes, offset + 4, fields.id & 0xffff);
  put16(bytes, offset + 6, fields.flagsOffset & 0xffff);
  bytes[offset + 8] = fields.ttl & 0xff;
  bytes[offset + 9] = fields.protocol & 0xff;
  put16(bytes, offset + 10, 0);
  put32(bytes, offset + 12, fields.source);
  put32(bytes, offset + 16, fields.destination);
  put16(bytes, offset + 10, internetChecksum(bytes, offset, offset + IPV4_HEADER));
}

/** An Ethernet frame carrying an IPv4 header; the payload starts at IPV4_PAYLOAD and is the caller's to fill. */
export function newIpv4Frame(destinationMac: Uint8Array, sourceMac: Uint8Array, fields: Ipv4Fields, payloadLength: number): Uint8Array {
  const frame = newEthernetFrame(destinationMac, sourceMac, ETHERTYPE_IPV4, IPV4_HEADER + payloadLength);
  writeIpv4Header(frame, ETHERNET_HEADER, fields, payloadLength);
  return frame;
}

export const IPV4_PAYLOAD = ETHERNET_HEADER + IPV4_HEADER;
