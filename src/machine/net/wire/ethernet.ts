// Ethernet II frames (no FCS, no 802.1Q tags: a tagged frame's type is 0x8100 and is not ours).
import { get16, put16 } from "./bytes.js";

export const ETHERNET_HEADER = 14;
export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_IPV6 = 0x86dd;

export interface EthernetFrame {
  destination: Uint8Array;
  source: Uint8Array;
  etherType: number;
  payload: Uint8Array;
}

/** Views into `frame` (no copies); null when it is shorter than the header. */
export function parseEthernet(frame: Uint8Array): EthernetFrame | null {
  if (frame.length < ETHERNET_HEADER) return null;
  return {
    destination: frame.subarray(0, 6),
    source: frame.subarray(6, 12),
    etherType: get16(frame, 12),
    payload: frame.subarray(ETHERNET_HEADER),
  };
}

/** A frame of `ETHERNET_HEADER + payloadLength` bytes with its header written; the caller fills the payload. */
export function newEthernetFrame(destination: Uint8Array, source: Uint8Array, etherType: number, payloadLength: number): Uint8Array {
  const frame = new Uint8Array(ETHERNET_HEADER + payloadLength);
  frame.set(destination.subarray(0, 6), 0);
  frame.set(source.subarray(0, 6), 6);
  put16(frame, 12, etherType);
  return frame;
}
