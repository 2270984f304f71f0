// BOOTP/DHCP messages (RFC 951, RFC 2131/2132) as libslirp 4.7's bootp.c reads and writes them.
import { get32, type Ipv4Address, put32 } from "./bytes.js";

export const BOOTP_SERVER_PORT = 67;
export const BOOTP_CLIENT_PORT = 68;
export const BOOTP_FIXED = 236; // op .. file, before the options
/** slirp's reply: the fixed part plus 312 bytes of options (a 590-byte frame) */
export const DHCP_OPTIONS_LENGTH = 312;
export const BOOTP_REPLY_LENGTH = BOOTP_FIXED + DHCP_OPTIONS_LENGTH;

export const DHCPDISCOVER = 1;
export const DHCPOFFER = 2;
export const DHCPREQUEST = 3;
export const DHCPDECLINE = 4;
export const DHCPACK = 5;
export const DHCPNAK = 6;
export const DHCPRELEASE = 7;

const MAGIC_COOKIE = 0x63825363;
const OPTION_PAD = 0;
const OPTION_END = 255;
const OPTION_SUBNET_MASK = 1;
const OPTION_ROUTER = 3;
const OPTION_DNS = 6;
const OPTION_REQUESTED_ADDRESS = 50;
const OPTION_LEASE_TIME = 51;
const OPTION_MESSAGE_TYPE = 53;
const OPTION_SERVER_ID = 54;
const OPTION_MESSAGE = 56;

export interface BootpRequest {
  xid: number;
  ciaddr: Ipv4Address;
  /** the first 6 bytes of chaddr (slirp copies no more) */
  clientMac: Uint8Array;
  /** option 53; 0 for a plain BOOTP request (no cookie, or no option 53) */
  messageType: number;
  /** option 50, or ciaddr for a REQUEST without it (slirp's rule); 0 when neither */
  requestedAddress: Ipv4Address;
}

export type DhcpError = "dhcp-short" | "dhcp-op" | "dhcp-options";

/** Parses a client's message (the UDP payload). Option lists that run past the end are malformed. */
export function parseBootpRequest(bytes: Uint8Array): BootpRequest | DhcpError {
  if (bytes.length < BOOTP_FIXED) return "dhcp-short";
  if (bytes[0] !== 1) return "dhcp-op";
  const request: BootpRequest = {
    xid: get32(bytes, 4),
    ciaddr: get32(bytes, 12),
    clientMac: bytes.slice(28, 34),
    messageType: 0,
    requestedAddress: 0,
  };
  if (bytes.length >= BOOTP_FIXED + 4 && get32(bytes, BOOTP_FIXED) === MAGIC_COOKIE) {
    let at = BOOTP_FIXED + 4;
    while (at < bytes.length) {
      const tag = bytes[at];
      if (tag === OPTION_PAD) {
        at++;
        continue;
      }
      if (tag === OPTION_END) break;
      if (at + 1 >= bytes.length) return "dhcp-options";
      const length = bytes[at + 1];
      const value = at + 2;
      if (value + length > bytes.length) return "dhcp-options";
      if (tag === OPTION_MESSAGE_TYPE && length >= 1) request.messageType = bytes[value];
      if (tag === OPTION_REQUESTED_ADDRESS && length >= 4) request.requestedAddress = get32(bytes, value);
      at = value + length;
    }
  }
  if (request.messageType === DHCPREQUEST && request.requestedAddress === 0 && request.ciaddr !== 0) {
    request.requestedAddress = request.ciaddr;
  }
  return request;
}

export interface BootpReplyFields {
  xid: number;
  clientMac: Uint8Array;
  yiaddr: Ipv4Address;
  server: Ipv4Address;
  /** DHCPOFFER, DHCPACK or DHCPNAK */
  messageType: number;
  netmask: Ipv4Address;
  /** router and DNS options; absent under restrict=on */
  router?: Ipv4Address;
  dns?: Ipv4Address;
  leaseSeconds: number;
}

/** slirp's reply: 548 bytes (236 fixed + 312 of options), zeros after the end option. */
export function buildBootpReply(fields: BootpReplyFields): Uint8Array {
  const bytes = new Uint8Array(BOOTP_REPLY_LENGTH);
  bytes[0] = 2; // BOOTREPLY
  bytes[1] = 1; // Ethernet
  bytes[2] = 6;
  put32(bytes, 4, fields.xid);
  put32(bytes, 16, fields.yiaddr);
  put32(bytes, 20, fields.server);
  bytes.set(fields.clientMac.subarray(0, 6), 28);
  put32(bytes, BOOTP_FIXED, MAGIC_COOKIE);
  let at = BOOTP_FIXED + 4;
  const option = (tag: number, value: Uint8Array) => {
    bytes[at] = tag;
    bytes[at + 1] = value.length;
    bytes.set(value, at + 2);
    at += 2 + value.length;
  };
  const address = (value: number) => {
    const out = new Uint8Array(4);
    put32(out, 0, value);
    return out;
  };
  option(OPTION_MESSAGE_TYPE, Uint8Array.of(fields.messageType));
  if (fields.messageType === DHCPNAK) {
    option(OPTION_MESSAGE, new TextEncoder().encode("requested address not available"));
  } else {
    option(OPTION_SERVER_ID, address(fields.server));
    option(OPTION_SUBNET_MASK, address(fields.netmask));
    if (fields.router !== undefined) option(OPTION_ROUTER, address(fields.router));
    if (fields.dns !== undefined) option(OPTION_DNS, address(fields.dns));
    option(OPTION_LEASE_TIME, address(fields.leaseSeconds));
  }
  bytes[at] = OPTION_END;
  return bytes;
}
