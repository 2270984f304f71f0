// Host forwarding (QEMU's hostfwd=): the NAT listens on the host and carries each connection (TCP)
// or datagram (UDP) into the guest, from 10.0.2.2 when the client is on the host's loopback.
// An empty guest address means the guest's own address as the NAT knows it (from its DHCP lease
// or its first packet); until then a TCP connection is accepted and closed at once and a datagram
// dropped. (slirp 4.7 takes the first DHCP address, 10.0.2.15, instead: docs/nat.md.)
//
// hostfwd6= is ours (QEMU 7.2 has no IPv6 forwarding): the same machinery listening on an IPv6
// host address and connecting into the guest over IPv6, from fec0::2 for a loopback client, to the
// guest address given or else the first address in fec0::/64 the guest used.
import dgram from "node:dgram";
import net from "node:net";
import { type NatCore } from "./context.js";
import { type IpAddress, parseAddress, parseIpv4, parseIpv6 } from "./wire/bytes.js";
import type { TcpProxy } from "./tcp-proxy.js";
import type { UdpProxy } from "./udp-proxy.js";

export interface HostForward {
  protocol: "tcp" | "udp";
  /** the host address to listen on ("0.0.0.0", or "::" for hostfwd6, for all) */
  hostAddress: string;
  /** 0 lets the host choose (see UserNetBackend.forwardedPorts) */
  hostPort: number;
  /** "" for the guest's own address */
  guestAddress: string;
  guestPort: number;
  /** a hostfwd6 rule: IPv6 on both sides */
  ipv6?: boolean;
}

/**
 * `[tcp|udp]:[hostaddr]:hostport-[guestaddr]:guestport`, read as QEMU 7.2's slirp_hostfwd reads
 * it, step by step, with its reasons: an error "Invalid host forwarding rule 'SPEC' (Bad host
 * address)" and the like. Addresses are dotted quads and ports decimal (QEMU's inet_aton and
 * strtol also take "10.0.2" or "0x50"; those are refused here with the same reasons).
 */
export function parseHostForward(spec: string): HostForward {
  return parseRule(spec, false);
}

/**
 * Our IPv6 extension, `hostfwd6=[tcp|udp]:[[hostaddr]]:hostport-[[guestaddr]]:guestport`: the
 * same grammar with IPv6 addresses in brackets ("tcp:[::1]:8080-[fec0::15]:80",
 * "tcp:[::1]:8080-:80"); an empty host address is "::", an empty guest address the guest's own.
 */
export function parseHostForward6(spec: string): HostForward {
  return parseRule(spec, true);
}

function parseRule(spec: string, ipv6: boolean): HostForward {
  const fail = (reason: string) => new Error(`Invalid ${ipv6 ? "IPv6 " : ""}host forwarding rule '${spec}' (${reason})`);
  let rest = spec;
  /** the text up to `separator` (QEMU's get_str_sep), or the error `missing` */
  const upTo = (separator: string, missing: string): string => {
    const at = rest.indexOf(separator);
    if (at < 0) throw fail(missing);
    const part = rest.slice(0, at);
    rest = rest.slice(at + 1);
    return part;
  };
  /** an address field and its ':' ("[...]" for IPv6), checked; "" when empty */
  const address = (missing: string, bad: string): string => {
    if (ipv6 && rest.startsWith("[")) {
      const close = rest.indexOf("]");
      if (close < 0 || rest[close + 1] !== ":") throw fail(missing);
      const text = rest.slice(1, close);
      rest = rest.slice(close + 2);
      if (parseIpv6(text) === null) throw fail(bad);
      return text;
    }
    const text = upTo(":", missing);
    if (text !== "" && (ipv6 || parseIpv4(text) === null)) throw fail(bad);
    return text;
  };
  const port = (text: string, minimum: number, bad: string): number => {
    if (!/^\d{1,5}$/.test(text) || Number(text) < minimum || Number(text) > 65535) throw fail(bad);
    return Number(text);
  };
  const protocol = upTo(":", "No : separators");
  if (protocol !== "" && protocol !== "tcp" && protocol !== "udp") throw fail("Bad protocol name");
  const hostAddress = address("Missing : separator", "Bad host address");
  const hostPort = port(upTo("-", "Bad host port separator"), 0, "Bad host port");
  const guestAddress = address("Missing guest address", "Bad guest address");
  const guestPort = port(rest, 1, "Bad guest port");
  const rule: HostForward = {
    protocol: protocol === "udp" ? "udp" : "tcp",
    hostAddress: hostAddress || (ipv6 ? "::" : "0.0.0.0"),
    hostPort,
    guestAddress,
    guestPort,
  };
  if (ipv6) rule.ipv6 = true;
  return rule;
}

/** How a rule is written back (messages): QEMU's form, or ours with brackets. */
export function formatHostForward(rule: HostForward): string {
  return rule.ipv6 ? `hostfwd6 ${rule.protocol}:[${rule.hostAddress}]:${rule.hostPort}` : `hostfwd ${rule.protocol}:${rule.hostAddress}:${rule.hostPort}`;
}

/** A socket's peer address as an address of either family (IPv4-mapped and zone ids taken off). */
function peerAddress(text: string | undefined, ipv6: boolean): IpAddress {
  const parsed = parseAddress((text ?? "").replace(/^::ffff:(?=\d+\.)/, "").replace(/%.*$/, ""));
  return parsed ?? (ipv6 ? new Uint8Array(16) : 0);
}

interface Listener {
  rule: HostForward;
  port: number;
  close(): void;
}

export class HostForwarder {
  /** by rule, in the order of the rules */
  private readonly listeners: Array<Listener | undefined> = [];
  readonly ready: Promise<void>;
  private closed = false;

  constructor(private readonly core: NatCore, private readonly tcp: TcpProxy, private readonly udp: UdpProxy, rules: HostForward[]) {
    this.ready = Promise.all(rules.map((rule, index) => (rule.protocol === "tcp" ? this.listenTcp(rule, index) : this.listenUdp(rule, index)))).then(() => undefined);
    this.ready.catch(() => undefined); // the caller awaits it; an unawaited failure must not crash the process
  }

  /** The ports actually bound, in the order of the rules (a rule with host port 0 gets one from the host). */
  bound(): Array<{ rule: HostForward; port: number }> {
    return this.listeners.filter((listener): listener is Listener => listener !== undefined).map(({ rule, port }) => ({ rule, port }));
  }

  private guestFor(rule: HostForward): IpAddress | null {
    if (rule.guestAddress) return parseAddress(rule.guestAddress);
    return this.core.guestAddress(rule.ipv6 ? 6 : 4);
  }

  private listenTcp(rule: HostForward, index: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true });
      server.on("connection", (socket) => this.core.run(() => {
        const guest = this.guestFor(rule);
        const client = peerAddress(socket.remoteAddress, rule.ipv6 === true);
        if (this.closed || guest === null) {
          // slirp: "we can only reject the connection request by accepting it and then immediately closing it"
          this.core.counters.add("hostfwd.guest-unknown");
          socket.destroy();
          return;
        }
        if (!this.tcp.openToGuest(socket, guest, rule.guestPort, client, socket.remotePort ?? 0)) {
          this.core.counters.add("hostfwd.refused");
          socket.destroy();
        }
      }));
      server.once("error", (error: NodeJS.ErrnoException) =>
        reject(new Error(`${formatHostForward(rule)}: cannot listen (${error.code ?? error.message})`)),
      );
      // hostfwd6 listens on IPv6 only (as libslirp's SLIRP_HOSTFWD_V6ONLY), so that it can share a port number with a hostfwd rule
      server.listen({ host: rule.hostAddress, port: rule.hostPort, ipv6Only: rule.ipv6 === true }, () => {
        server.on("error", () => this.core.counters.add("hostfwd.listener-error"));
        const port = (server.address() as net.AddressInfo).port;
        this.listeners[index] = { rule, port, close: () => server.close() };
        if (this.closed) server.close();
        resolve();
      });
    });
  }

  private listenUdp(rule: HostForward, index: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = rule.ipv6 ? dgram.createSocket({ type: "udp6", ipv6Only: true }) : dgram.createSocket("udp4");
      socket.once("error", (error: NodeJS.ErrnoException) =>
        reject(new Error(`${formatHostForward(rule)}: cannot bind (${error.code ?? error.message})`)),
      );
      socket.bind(rule.hostPort, rule.hostAddress, () => {
        socket.on("error", () => this.core.counters.add("hostfwd.listener-error"));
        socket.on("message", (message, remote) => this.core.run(() => {
          const guest = this.guestFor(rule);
          const client = peerAddress(remote.address, rule.ipv6 === true);
          if (this.closed || guest === null) {
            this.core.counters.add("hostfwd.guest-unknown");
            return;
          }
          this.udp.fromHostForward(socket, client, remote.address, remote.port, guest, rule.guestPort, message);
        }));
        this.listeners[index] = {
          rule,
          port: socket.address().port,
          close: () => {
            this.udp.removeListenerFlows(socket);
            try {
              socket.close();
            } catch {
              // already closed
            }
          },
        };
        if (this.closed) socket.close();
        resolve();
      });
    });
  }

  close(): void {
    this.closed = true;
    for (const listener of this.listeners) listener?.close();
  }
}

