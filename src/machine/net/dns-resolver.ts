// The DNS server at 10.0.2.3:53 and [fec0::3]:53, answered on the host with node:dns. slirp relays
// the guest's query to the host's resolver; here A and AAAA go through the host's getaddrinfo (so
// /etc/hosts and nsswitch count, as for any host program), PTR through getnameinfo, and every other
// type is relayed as it is to the host's first IPv4 DNS server. The answer comes back from the
// address asked.
import dgram from "node:dgram";
import { promises as dnsPromises } from "node:dns";
import { isIPv4, isIPv6 } from "node:net";
import { parseServer } from "./context.js";
import { parseIpv6 } from "./wire/bytes.js";
import {
  buildDnsResponse, CLASS_IN, type DnsAnswer, type DnsQuery, encodeDnsName, parseDnsQuery, RCODE_FORMERR,
  RCODE_NOERROR, RCODE_NOTIMP, RCODE_NXDOMAIN, RCODE_SERVFAIL, TYPE_A, TYPE_AAAA, TYPE_PTR,
} from "./wire/dns.js";

const ANSWER_TTL = 60;
const MAX_ANSWERS = 16;
const RELAY_TIMEOUT_MS = 5000;

/** How names are looked up (tests may substitute one). */
export interface HostResolver {
  /** addresses of `name` for family 4 or 6; rejects with an error whose code is ENOTFOUND/ENODATA when there are none */
  lookup(name: string, family: 4 | 6): Promise<string[]>;
  /** the host name of an address */
  reverse(address: string): Promise<string>;
}

export const systemResolver: HostResolver = {
  async lookup(name, family) {
    const results = await dnsPromises.lookup(name, { family, all: true, verbatim: true });
    return results.filter((entry) => entry.family === family).map((entry) => entry.address);
  },
  async reverse(address) {
    return (await dnsPromises.lookupService(address, 0)).hostname;
  },
};

function addressBytes(address: string): Uint8Array | null {
  if (isIPv4(address)) return Uint8Array.from(address.split(".").map(Number));
  return isIPv6(address) ? parseIpv6(address.replace(/%.*$/, "")) : null;
}

/** "4.3.2.1.in-addr.arpa" → "1.2.3.4"; null for other names. */
function reverseName(name: string): string | null {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.in-addr\.arpa$/.exec(name);
  if (!match) return null;
  const parts = match.slice(1, 5).reverse();
  if (parts.some((part) => Number(part) > 255)) return null;
  return parts.join(".");
}

function isNotFound(error: unknown): boolean {
  const code = (error as { code?: string }).code;
  return code === "ENOTFOUND" || code === "ENODATA" || code === "EAI_NONAME" || code === "EAI_NODATA";
}

export class DnsResolver {
  private inFlight = 0;
  private readonly relays = new Set<() => void>();
  private closed = false;

  constructor(
    private readonly maxInFlight: number,
    private readonly servers: () => string[],
    private readonly resolver: HostResolver = systemResolver,
  ) {}

  /**
   * Answers `query` (a UDP payload) through `reply`, later. Returns false (dropped) for malformed
   * queries and when too many lookups are in flight.
   */
  handle(query: Uint8Array, reply: (response: Uint8Array) => void): boolean | string {
    if (this.closed) return "dns-closed";
    const parsed = parseDnsQuery(query);
    if (typeof parsed === "string") return parsed;
    if (this.inFlight >= this.maxInFlight) return "dns-busy";
    this.inFlight++;
    const copy = query.slice();
    this.answer(parsed, copy)
      .then((response) => {
        if (response && !this.closed) reply(response);
      })
      .catch(() => {
        if (!this.closed) reply(buildDnsResponse(parsed, RCODE_SERVFAIL, []));
      })
      .finally(() => this.inFlight--);
    return true;
  }

  private async answer(query: DnsQuery, raw: Uint8Array): Promise<Uint8Array | null> {
    if (query.opcode !== 0) return buildDnsResponse(query, RCODE_NOTIMP, []);
    if (query.questionCount !== 1) return buildDnsResponse(query, RCODE_FORMERR, []);
    if (query.class !== CLASS_IN) return buildDnsResponse(query, RCODE_NOTIMP, []);
    if ((query.type === TYPE_A || query.type === TYPE_AAAA) && query.name === "") {
      return buildDnsResponse(query, RCODE_NOERROR, []); // the root has no address
    }
    if (query.type === TYPE_A || query.type === TYPE_AAAA) {
      const family = query.type === TYPE_A ? 4 : 6;
      try {
        const addresses = await this.resolver.lookup(query.name, family);
        const answers: DnsAnswer[] = [];
        for (const address of addresses.slice(0, MAX_ANSWERS)) {
          const data = addressBytes(address);
          if (data && data.length === (family === 4 ? 4 : 16)) answers.push({ type: query.type, ttl: ANSWER_TTL, data });
        }
        return buildDnsResponse(query, RCODE_NOERROR, answers);
      } catch (error) {
        if (!isNotFound(error)) return buildDnsResponse(query, RCODE_SERVFAIL, []);
        // no address of this family: the name may still exist (NOERROR, no answers) or not (NXDOMAIN)
        try {
          await this.resolver.lookup(query.name, family === 4 ? 6 : 4);
          return buildDnsResponse(query, RCODE_NOERROR, []);
        } catch {
          return buildDnsResponse(query, RCODE_NXDOMAIN, []);
        }
      }
    }
    if (query.type === TYPE_PTR) {
      const address = reverseName(query.name);
      if (address !== null) {
        try {
          const name = encodeDnsName(await this.resolver.reverse(address));
          return buildDnsResponse(query, RCODE_NOERROR, name ? [{ type: TYPE_PTR, ttl: ANSWER_TTL, data: name }] : []);
        } catch (error) {
          return buildDnsResponse(query, isNotFound(error) ? RCODE_NXDOMAIN : RCODE_SERVFAIL, []);
        }
      }
    }
    return this.relay(query, raw);
  }

  /** Other questions go to the host's first DNS server as they are. */
  private relay(query: DnsQuery, raw: Uint8Array): Promise<Uint8Array | null> {
    const server = this.servers().map(parseServer).find((entry) => entry !== null);
    if (!server) return Promise.resolve(buildDnsResponse(query, RCODE_SERVFAIL, []));
    return new Promise((resolve) => {
      const socket = dgram.createSocket("udp4");
      let done = false;
      const finish = (response: Uint8Array | null) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.relays.delete(abort);
        try {
          socket.close();
        } catch {
          // already closed
        }
        resolve(response);
      };
      const abort = () => finish(null);
      this.relays.add(abort);
      const timer = setTimeout(() => finish(buildDnsResponse(query, RCODE_SERVFAIL, [])), RELAY_TIMEOUT_MS);
      timer.unref();
      socket.on("error", () => finish(buildDnsResponse(query, RCODE_SERVFAIL, [])));
      socket.on("message", (message) => {
        if (message.length >= 2 && message.readUInt16BE(0) === query.id) finish(new Uint8Array(message));
      });
      socket.send(raw, server.port, server.host);
    });
  }

  close(): void {
    this.closed = true;
    for (const abort of [...this.relays]) abort();
  }
}
