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
