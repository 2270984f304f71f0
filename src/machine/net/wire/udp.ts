// UDP (RFC 768) with the IPv4 pseudo-header checksum.
import { get16, type Ipv4Address, put16 } from "./bytes.js";
import { finishChecksum, pseudoHeaderSum, sum16 } from "./checksum.js";
import { PROTOCOL_UDP } from "./ipv4.js";

export const UDP_HEADER = 8;

export interface UdpDatagram {
  sourcePort: number;
  destinationPort: number;
  payload: Uint8Array;
}

export type UdpError = "udp-short" | "udp-length" | "udp-checksum";

/** `bytes` is the IP payload; the UDP length may be shorter (the rest is ignored, as slirp trims it), never longer. */
export function parseUdp(bytes: Uint8Array, source: Ipv4Address, destination: Ipv4Address): UdpDatagram | UdpError {
  if (bytes.length < UDP_HEADER) return "udp-short";
  const length = get16(bytes, 4);
  if (length < UDP_HEADER || length > bytes.length) return "udp-length";
  const checksum = get16(bytes, 6);
  if (checksum !== 0) {
    const sum = sum16(bytes, 0, length, pseudoHeaderSum(source, destination, PROTOCOL_UDP, length));
    if (finishChecksum(sum) !== 0) return "udp-checksum";
  }
  return { sourcePort: get16(bytes, 0), destinationPort: get16(bytes, 2), payload: bytes.subarray(UDP_HEADER, length) };
}

/** Writes the header and checksum of a datagram whose payload is already at `offset + 8`. */
export function writeUdpHeader(bytes: Uint8Array, offset: number, source: Ipv4Address, sourcePort: number, destination: Ipv4Address, destinationPort: number, payloadLength: number): void {
  const length = UDP_HEADER + payloadLength;
  put16(bytes, offset, sourcePort);
  put16(bytes, offset + 2, destinationPort);
  put16(bytes, offset + 4, length);
  put16(bytes, offset + 6, 0);
  const checksum = finishChecksum(sum16(bytes, offset, offset + length, pseudoHeaderSum(source, destination, PROTOCOL_UDP, length)));
  put16(bytes, offset + 6, checksum === 0 ? 0xffff : checksum);
}
