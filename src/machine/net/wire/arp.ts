// ARP for IPv4 over Ethernet (RFC 826): only hardware type 1, protocol 0x0800, lengths 6 and 4.
import { get16, get32, type Ipv4Address, put16, put32 } from "./bytes.js";
import { ETHERNET_HEADER, ETHERTYPE_ARP, ETHERTYPE_IPV4, newEthernetFrame } from "./ethernet.js";

export const ARP_LENGTH = 28;
export const ARP_REQUEST = 1;
export const ARP_REPLY = 2;

export interface ArpPacket {
  operation: number;
  senderMac: Uint8Array;
  senderIp: Ipv4Address;
  targetMac: Uint8Array;
  targetIp: Ipv4Address;
}

export type ArpError = "arp-short" | "arp-format";

export function parseArp(payload: Uint8Array): ArpPacket | ArpError {
  if (payload.length < ARP_LENGTH) return "arp-short";
  if (get16(payload, 0) !== 1 || get16(payload, 2) !== ETHERTYPE_IPV4 || payload[4] !== 6 || payload[5] !== 4) return "arp-format";
  return {
    operation: get16(payload, 6),
    senderMac: payload.subarray(8, 14),
    senderIp: get32(payload, 14),
    targetMac: payload.subarray(18, 24),
    targetIp: get32(payload, 24),
  };
}

/**
 * An ARP frame. `minimumFrame` pads it with zeros (slirp pads its replies to 64 bytes, its
 * requests are 42).
 */
export function buildArpFrame(
  ethernetDestination: Uint8Array, ethernetSource: Uint8Array, operation: number,
  senderMac: Uint8Array, senderIp: Ipv4Address, targetMac: Uint8Array, targetIp: Ipv4Address, minimumFrame = 0,
): Uint8Array {
  const payloadLength = Math.max(ARP_LENGTH, minimumFrame - ETHERNET_HEADER);
  const frame = newEthernetFrame(ethernetDestination, ethernetSource, ETHERTYPE_ARP, payloadLength);
  const at = ETHERNET_HEADER;
  put16(frame, at, 1);
  put16(frame, at + 2, ETHERTYPE_IPV4);
  frame[at + 4] = 6;
  frame[at + 5] = 4;
  put16(frame, at + 6, operation);
  frame.set(senderMac.subarray(0, 6), at + 8);
  put32(frame, at + 14, senderIp);
  frame.set(targetMac.subarray(0, 6), at + 18);
  put32(frame, at + 24, targetIp);
  return frame;
}
