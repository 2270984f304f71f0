// The Internet checksum (RFC 1071) and the pseudo-header sums of IPv4 (RFC 9293) and IPv6 (RFC 8200
// 8.1) that TCP, UDP and ICMPv6 use.
import { type IpAddress, isIpv6 } from "./bytes.js";

/** The 16-bit one's-complement sum of bytes[start, end), added to `initial` (not folded, not complemented). */
export function sum16(bytes: Uint8Array, start: number, end: number, initial = 0): number {
  let sum = initial;
  let i = start;
  for (; i + 1 < end; i += 2) sum += (bytes[i] << 8) | bytes[i + 1];
  if (i < end) sum += bytes[i] << 8;
  return sum;
}

/** Folds a sum to 16 bits and complements it: the value to store in a checksum field. */
export function finishChecksum(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return ~sum & 0xffff;
}

/** The checksum of bytes[start, end) plus `initial`; 0 when a region that contains its own checksum is intact. */
export function internetChecksum(bytes: Uint8Array, start: number, end: number, initial = 0): number {
  return finishChecksum(sum16(bytes, start, end, initial));
}

function addressSum(address: IpAddress): number {
  return isIpv6(address) ? sum16(address, 0, 16) : (address >>> 16) + (address & 0xffff);
}

/**
 * The sum of the pseudo header: IPv4's (source, destination, zero, protocol, 16-bit length) or
 * IPv6's (source, destination, 32-bit length, zeros, next header), by the addresses' family. The
 * two come to the same words but for the length's upper half, which IPv4 lengths never have.
 */
export function pseudoHeaderSum(source: IpAddress, destination: IpAddress, protocol: number, length: number): number {
  return addressSum(source) + addressSum(destination) + protocol + (length >>> 16) + (length & 0xffff);
}
