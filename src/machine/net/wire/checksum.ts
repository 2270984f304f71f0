// The Internet checksum (RFC 1071) and the IPv4 pseudo-header sum TCP and UDP use.

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

/** The sum of the IPv4 pseudo header (source, destination, zero, protocol, length). */
export function pseudoHeaderSum(source: number, destination: number, protocol: number, length: number): number {
  return (source >>> 16) + (source & 0xffff) + (destination >>> 16) + (destination & 0xffff) + protocol + length;
}
