// Byte helpers shared by the wire formats: big-endian reads and writes on Uint8Array (no DataView
// allocation per field), IPv4 addresses as unsigned 32-bit numbers, MAC addresses as 6 bytes.

export type Ipv4Address = number; // unsigned 32-bit, network order read as a big-endian number

export function get16(bytes: Uint8Array, offset: number): number {
  return (bytes[offset] << 8) | bytes[offset + 1];
}

export function get32(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset] << 24) | (bytes[offset + 1] << 16) | (bytes[offset + 2] << 8) | bytes[offset + 3]) >>> 0;
}

export function put16(bytes: Uint8Array, offset: number, value: number): void {
  bytes[offset] = (value >>> 8) & 0xff;
  bytes[offset + 1] = value & 0xff;
}

export function put32(bytes: Uint8Array, offset: number, value: number): void {
  bytes[offset] = (value >>> 24) & 0xff;
  bytes[offset + 1] = (value >>> 16) & 0xff;
  bytes[offset + 2] = (value >>> 8) & 0xff;
  bytes[offset + 3] = value & 0xff;
}

/** "10.0.2.15" → 0x0a00020f; null when the text is not a dotted quad. */
export function parseIpv4(text: string): Ipv4Address | null {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!match) return null;
  let value = 0;
  for (let i = 1; i <= 4; i++) {
    const part = Number(match[i]);
    if (part > 255) return null;
    value = value * 256 + part;
  }
  return value >>> 0;
}

export function formatIpv4(address: Ipv4Address): string {
  return `${address >>> 24}.${(address >>> 16) & 0xff}.${(address >>> 8) & 0xff}.${address & 0xff}`;
}

export function formatMac(mac: Uint8Array): string {
  return Array.from(mac.subarray(0, 6), (byte) => byte.toString(16).padStart(2, "0")).join(":");
}

export function macEquals(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < 6; i++) if (a[i] !== b[i]) return false;
  return true;
}

export const BROADCAST_MAC: Uint8Array = Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);

/** True for 127.0.0.0/8. */
export function isLoopback(address: Ipv4Address): boolean {
  return address >>> 24 === 127;
}

/** True for 224.0.0.0/4 (multicast) and 240.0.0.0/4 (reserved, including 255.255.255.255). */
export function isMulticastOrReserved(address: Ipv4Address): boolean {
  return address >>> 28 >= 0xe;
}

// ---- IPv6 addresses ----------------------------------------------------------------------------

/** 16 bytes in network order (a view or a copy; never written through by the parsers). */
export type Ipv6Address = Uint8Array;

/** An address of either family: IPv4 as a number, IPv6 as 16 bytes. */
export type IpAddress = Ipv4Address | Ipv6Address;

export function isIpv6(address: IpAddress): address is Ipv6Address {
  return typeof address !== "number";
}

/**
 * RFC 4291 text ("fec0::2", "::ffff:10.0.2.15") → 16 bytes; null for anything else (zone ids,
 * brackets, more than one "::", groups over 4 digits).
 */
export function parseIpv6(text: string): Ipv6Address | null {
  if (text.length === 0 || text.length > 45 || !/^[0-9a-fA-F:.]+$/.test(text)) return null;
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const groups = (part: string): string[] => (part === "" ? [] : part.split(":"));
  const head = groups(halves[0]);
  const rest = halves.length === 2 ? groups(halves[1]) : [];
  const last = halves.length === 2 ? rest : head;
  // the last group may be a dotted quad, two words
  const words = (list: string[]): number[] | null => {
    const out: number[] = [];
    for (let i = 0; i < list.length; i++) {
      const group = list[i];
      if (group.includes(".")) {
        const quad = list === last && i === list.length - 1 ? parseIpv4(group) : null;
        if (quad === null) return null;
        out.push(quad >>> 16, quad & 0xffff);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(group)) {
        out.push(parseInt(group, 16));
      } else {
        return null;
      }
    }
    return out;
  };
  const front = words(head);
  const back = words(rest);
  if (front === null || back === null) return null;
  const given = front.length + back.length;
  if (halves.length === 2 ? given > 7 : given !== 8) return null;
  const all = [...front, ...Array<number>(8 - given).fill(0), ...back];
  const bytes = new Uint8Array(16);
  all.forEach((word, i) => put16(bytes, 2 * i, word));
  return bytes;
}

/** RFC 5952 text: lower case, the longest run of two or more zero groups as "::". */
export function formatIpv6(address: Ipv6Address): string {
  const words = Array.from({ length: 8 }, (_, i) => get16(address, 2 * i));
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hexWords = words.map((word) => word.toString(16));
  if (bestStart < 0) return hexWords.join(":");
  return `${hexWords.slice(0, bestStart).join(":")}::${hexWords.slice(bestStart + bestLength).join(":")}`;
}

export function ipv6Equals(a: Ipv6Address, b: Ipv6Address): boolean {
  for (let i = 0; i < 16; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** True when the first `length` bits of `address` are those of `prefix`. */
export function inIpv6Prefix(address: Ipv6Address, prefix: Ipv6Address, length: number): boolean {
  const whole = length >> 3;
  for (let i = 0; i < whole; i++) if (address[i] !== prefix[i]) return false;
  const bits = length & 7;
  if (bits === 0) return true;
  const mask = (0xff << (8 - bits)) & 0xff;
  return (address[whole] & mask) === (prefix[whole] & mask);
}

export function isUnspecifiedIpv6(address: Ipv6Address): boolean {
  for (let i = 0; i < 16; i++) if (address[i] !== 0) return false;
  return true;
}

export function isLoopbackIpv6(address: Ipv6Address): boolean {
  for (let i = 0; i < 15; i++) if (address[i] !== 0) return false;
  return address[15] === 1;
}

export function isMulticastIpv6(address: Ipv6Address): boolean {
  return address[0] === 0xff;
}

/** An address of either family as text (dotted quad or RFC 5952). */
export function formatAddress(address: IpAddress): string {
  return isIpv6(address) ? formatIpv6(address) : formatIpv4(address);
}

/** IPv4 or IPv6 text → an address; null for anything else. */
export function parseAddress(text: string): IpAddress | null {
  return text.includes(":") ? parseIpv6(text) : parseIpv4(text);
}
