// UDP (RFC 768) with the IPv4 or IPv6 pseudo-header checksum.
import { get16, type IpAddress, isIpv6, put16 } from "./bytes.js";
import { finishChecksum, pseudoHeaderSum, sum16 } from "./checksum.js";
import { PROTOCOL_UDP } from "./ipv4.js";

export const UDP_HEADER = 8;

export interface UdpDatagram {
  sourcePort: number;
  destinationPort: number;
  payload: Uint8Array;
}

export type UdpError = "udp-short" | "udp-length" | "udp-checksum";

/**
 * `bytes` is the IP payload; the UDP length may be shorter (the rest is ignored, as slirp trims it),
 * never longer. A zero checksum means "none" over IPv4 only. Over IPv6 (RFC 8200 8.1) it is always
 * checked, and over the whole payload with the payload length in the pseudo header, as slirp's
 * udp6_input checks it before it trims to the UDP length (the same check when the lengths agree).
 */
export function parseUdp(bytes: Uint8Array, source: IpAddress, destination: IpAddress): UdpDatagram | UdpError {
  if (bytes.length < UDP_HEADER) return "udp-short";
  const length = get16(bytes, 4);
  if (length < UDP_HEADER || length > bytes.length) return "udp-length";
  const checksum = get16(bytes, 6);
  if (isIpv6(source)) {
    if (finishChecksum(sum16(bytes, 0, bytes.length, pseudoHeaderSum(source, destination, PROTOCOL_UDP, bytes.length))) !== 0) return "udp-checksum";
  } else if (checksum !== 0) {
    const sum = sum16(bytes, 0, length, pseudoHeaderSum(source, destination, PROTOCOL_UDP, length));
    if (finishChecksum(sum) !== 0) return "udp-checksum";
  }
  return { sourcePort: get16(bytes, 0), destinationPort: get16(bytes, 2), payload: bytes.subarray(UDP_HEADER, length) };
}

/** Writes the header and checksum of a datagram whose payload is already at `offset + 8`. */
export function writeUdpHeader(bytes: Uint8Array, offset: number, source: IpAddress, sourcePort: number, destination: IpAddress, destinationPort: number, payloadLength: number): void {
  const length = UDP_HEADER + payloadLength;
  put16(bytes, offset, sourcePort);
  put16(bytes, offset + 2, destinationPort);
  put16(bytes, offset + 4, length);
  put16(bytes, offset + 6, 0);
  const checksum = finishChecksum(sum16(bytes, offset, offset + length, pseudoHeaderSum(source, destination, PROTOCOL_UDP, length)));
  put16(bytes, offset + 6, checksum === 0 ? 0xffff : checksum);
}
