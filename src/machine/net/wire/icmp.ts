// ICMP (RFC 792): echo request/reply and the destination-unreachable / time-exceeded errors.
import { get16 } from "./bytes.js";
import { internetChecksum } from "./checksum.js";

export const ICMP_HEADER = 8;
export const ICMP_ECHO_REPLY = 0;
export const ICMP_UNREACHABLE = 3;
export const ICMP_ECHO_REQUEST = 8;
export const ICMP_TIME_EXCEEDED = 11;
export const UNREACHABLE_NET = 0;
export const UNREACHABLE_HOST = 1;
export const UNREACHABLE_PORT = 3;

export interface IcmpMessage {
  type: number;
  code: number;
  /** the whole message, header included */
  bytes: Uint8Array;
}

export type IcmpError = "icmp-short" | "icmp-checksum";

export function parseIcmp(payload: Uint8Array): IcmpMessage | IcmpError {
  if (payload.length < ICMP_HEADER) return "icmp-short";
  if (internetChecksum(payload, 0, payload.length) !== 0) return "icmp-checksum";
  return { type: payload[0], code: payload[1], bytes: payload };
}

export function icmpIdentifier(message: IcmpMessage): number {
  return get16(message.bytes, 4);
}

/** True for the types that report errors (an error is never sent about one of them). */
export function isIcmpError(type: number): boolean {
  // slirp's icmp_flush table: everything but echo (0, 8) and timestamp/info/mask (13-18), unknown types included
  return type > 18 || !(type === 0 || type === 8 || (type >= 13 && type <= 18));
}
