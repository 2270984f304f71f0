// TCP segments (RFC 9293): header, options, checksum (over the IPv4 or IPv6 pseudo header).
import { get16, get32, type IpAddress, put16, put32 } from "./bytes.js";
import { finishChecksum, pseudoHeaderSum, sum16 } from "./checksum.js";
import { PROTOCOL_TCP } from "./ipv4.js";

export const TCP_HEADER = 20;
export const FIN = 0x01;
export const SYN = 0x02;
export const RST = 0x04;
export const PSH = 0x08;
export const ACK = 0x10;
export const URG = 0x20;

export interface TcpSegment {
  sourcePort: number;
  destinationPort: number;
  seq: number;
  ack: number;
  /** FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10, URG 0x20 (ECE/CWR and the NS bit are ignored) */
  flags: number;
  window: number;
  urgent: number;
  /** the MSS option, when present */
  mss?: number;
  /** the window-scale option's shift, when present (slirp never scales: it is only noted) */
  windowScale?: number;
  sackPermitted: boolean;
  payload: Uint8Array;
}

export type TcpError = "tcp-short" | "tcp-offset" | "tcp-checksum" | "tcp-options" | "tcp-flags";

export function parseTcp(bytes: Uint8Array, source: IpAddress, destination: IpAddress): TcpSegment | TcpError {
  if (bytes.length < TCP_HEADER) return "tcp-short";
  const headerLength = (bytes[12] >> 4) * 4;
  if (headerLength < TCP_HEADER || headerLength > bytes.length) return "tcp-offset";
  const sum = sum16(bytes, 0, bytes.length, pseudoHeaderSum(source, destination, PROTOCOL_TCP, bytes.length));
  if (finishChecksum(sum) !== 0) return "tcp-checksum";
  const flags = bytes[13] & 0x3f;
  if ((flags & SYN) && (flags & (FIN | RST))) return "tcp-flags";
  const segment: TcpSegment = {
    sourcePort: get16(bytes, 0),
    destinationPort: get16(bytes, 2),
    seq: get32(bytes, 4),
    ack: get32(bytes, 8),
    flags,
    window: get16(bytes, 14),
    urgent: get16(bytes, 18),
    sackPermitted: false,
    payload: bytes.subarray(headerLength),
  };
  // options: every length checked; a malformed list drops the segment
  let at = TCP_HEADER;
  while (at < headerLength) {
    const kind = bytes[at];
    if (kind === 0) break;
    if (kind === 1) {
      at++;
      continue;
    }
    if (at + 1 >= headerLength) return "tcp-options";
    const length = bytes[at + 1];
    if (length < 2 || at + length > headerLength) return "tcp-options";
    switch (kind) {
      case 2:
        if (length !== 4) return "tcp-options";
        segment.mss = get16(bytes, at + 2);
        break;
      case 3:
        if (length !== 3) return "tcp-options";
        segment.windowScale = bytes[at + 2];
        break;
      case 4:
        if (length !== 2) return "tcp-options";
        segment.sackPermitted = true;
        break;
      case 8:
        if (length !== 10) return "tcp-options";
        break;
      default:
        break; // unknown options are skipped by their length
    }
    at += length;
  }
  return segment;
}

export interface TcpFields {
  sourcePort: number;
  destinationPort: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
  /** an MSS option (SYN segments); the only option the NAT sends, as slirp */
  mss?: number;
}

export function tcpHeaderLength(fields: TcpFields): number {
  return fields.mss === undefined ? TCP_HEADER : TCP_HEADER + 4;
}

/** Writes the header (and MSS option) at `offset`; the payload must already be in place after it. */
export function writeTcpHeader(bytes: Uint8Array, offset: number, source: IpAddress, destination: IpAddress, fields: TcpFields, payloadLength: number): void {
  const headerLength = tcpHeaderLength(fields);
  put16(bytes, offset, fields.sourcePort);
  put16(bytes, offset + 2, fields.destinationPort);
  put32(bytes, offset + 4, fields.seq >>> 0);
  put32(bytes, offset + 8, fields.ack >>> 0);
  bytes[offset + 12] = (headerLength / 4) << 4;
  bytes[offset + 13] = fields.flags;
  put16(bytes, offset + 14, fields.window);
  put16(bytes, offset + 16, 0);
  put16(bytes, offset + 18, 0);
  if (fields.mss !== undefined) {
    bytes[offset + 20] = 2;
    bytes[offset + 21] = 4;
    put16(bytes, offset + 22, fields.mss);
  }
  const length = headerLength + payloadLength;
  put16(bytes, offset + 16, finishChecksum(sum16(bytes, offset, offset + length, pseudoHeaderSum(source, destination, PROTOCOL_TCP, length))));
}
