// Stateless DHCPv6 (RFC 8415's Information-request and Reply) as libslirp 4.7's dhcpv6.c reads and
// writes it: only Information-request is answered, with the client id echoed, the DNS server
// (option 23) and the boot file URL (option 59) when the option request option asks for them.
import { get16, get32, type Ipv6Address, put16 } from "./bytes.js";

export const DHCPV6_CLIENT_PORT = 546;
export const DHCPV6_SERVER_PORT = 547;
export const DHCPV6_REPLY = 7;
export const DHCPV6_INFORMATION_REQUEST = 11;
const OPTION_CLIENT_ID = 1;
const OPTION_IA_ADDRESS = 5;
const OPTION_REQUEST = 6;
const OPTION_DNS_SERVERS = 23;
const OPTION_BOOT_FILE_URL = 59;
/** slirp refuses longer client ids */
const MAX_CLIENT_ID = 256;

export interface InformationRequest {
  /** the 24-bit transaction id */
  xid: number;
  clientId: Uint8Array | null;
  wantDns: boolean;
  wantBootFileUrl: boolean;
}

export type Dhcpv6Error = "dhcp6-short" | "dhcp6-type" | "dhcp6-options" | "dhcp6-ia" | "dhcp6-client-id";

/**
 * `payload` is the UDP payload. Options are read while more than 4 bytes remain (a shorter tail
 * is ignored, as slirp does); one running past the end, an IA address option, a client id over 256
 * bytes or an option request of odd length makes the message ignored.
 */
export function parseInformationRequest(payload: Uint8Array): InformationRequest | Dhcpv6Error {
  if (payload.length < 4) return "dhcp6-short";
  if (payload[0] !== DHCPV6_INFORMATION_REQUEST) return "dhcp6-type";
  const request: InformationRequest = { xid: get32(payload, 0) & 0xffffff, clientId: null, wantDns: false, wantBootFileUrl: false };
  let at = 4;
  while (payload.length - at > 4) {
    const option = get16(payload, at);
    const length = get16(payload, at + 2);
    if (at + 4 + length > payload.length) return "dhcp6-options";
    const data = payload.subarray(at + 4, at + 4 + length);
    if (option === OPTION_IA_ADDRESS) return "dhcp6-ia"; // RFC 3315: requests with an IA are discarded
    if (option === OPTION_CLIENT_ID) {
      if (length > MAX_CLIENT_ID) return "dhcp6-client-id";
      request.clientId = data;
    } else if (option === OPTION_REQUEST) {
      if (length & 1) return "dhcp6-options";
      for (let i = 0; i < length; i += 2) {
        const wanted = get16(data, i);
        if (wanted === OPTION_DNS_SERVERS) request.wantDns = true;
        else if (wanted === OPTION_BOOT_FILE_URL) request.wantBootFileUrl = true;
      }
    }
    at += 4 + length;
  }
  return request;
}

/** The Reply: type, xid, then the client id, DNS server and boot file URL options asked for, in that order. */
export function buildDhcpv6Reply(request: InformationRequest, dnsServer: Ipv6Address, bootFileUrl: string): Uint8Array {
  const url = new TextEncoder().encode(bootFileUrl);
  const parts: number[] = [DHCPV6_REPLY, (request.xid >>> 16) & 0xff, (request.xid >>> 8) & 0xff, request.xid & 0xff];
  const option = (code: number, data: ArrayLike<number>) => {
    const header = new Uint8Array(4);
    put16(header, 0, code);
    put16(header, 2, data.length);
    parts.push(...header, ...Array.from(data));
  };
  if (request.clientId) option(OPTION_CLIENT_ID, request.clientId);
  if (request.wantDns) option(OPTION_DNS_SERVERS, dnsServer);
  if (request.wantBootFileUrl) option(OPTION_BOOT_FILE_URL, url);
  return Uint8Array.from(parts);
}
