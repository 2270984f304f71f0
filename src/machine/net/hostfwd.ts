// Host forwarding (QEMU's hostfwd=): the NAT listens on the host and carries each connection (TCP)
// or datagram (UDP) into the guest, from 10.0.2.2 when the client is on the host's loopback.
// An empty guest address means the guest's own address as the NAT knows it (from its DHCP lease
// or its first packet); until then a TCP connection is accepted and closed at once and a datagram
// dropped. (slirp 4.7 takes the first DHCP address, 10.0.2.15, instead: docs/nat.md.)
import dgram from "node:dgram";
import net from "node:net";
import { type NatCore } from "./context.js";
import { type Ipv4Address, parseIpv4 } from "./wire/bytes.js";
import type { TcpProxy } from "./tcp-proxy.js";
import type { UdpProxy } from "./udp-proxy.js";

export interface HostForward {
  protocol: "tcp" | "udp";
  /** the host address to listen on ("0.0.0.0" for all) */
  hostAddress: string;
  /** 0 lets the host choose (see UserNetBackend.forwardedPorts) */
  hostPort: number;
  /** "" for the guest's own address */
  guestAddress: string;
  guestPort: number;
}

/** `[tcp|udp]:[hostaddr]:hostport-[guestaddr]:guestport` (QEMU's syntax); throws an Error naming what is wrong. */
export function parseHostForward(spec: string): HostForward {
  const match = /^(?:(tcp|udp)?:)?([^:-]*):(\d+)-([^:]*):(\d+)$/.exec(spec);
  if (!match) throw new Error(`hostfwd=${spec}: expected [tcp|udp]:[hostaddr]:hostport-[guestaddr]:guestport`);
  const [, protocol = "tcp", hostAddress, hostPort, guestAddress, guestPort] = match;
  if (hostAddress !== "" && parseIpv4(hostAddress) === null) throw new Error(`hostfwd=${spec}: '${hostAddress}' is not an IPv4 address`);
  if (guestAddress !== "" && parseIpv4(guestAddress) === null) throw new Error(`hostfwd=${spec}: '${guestAddress}' is not an IPv4 address`);
  const ports = [Number(hostPort), Number(guestPort)];
  if (ports[0] > 65535 || ports[1] < 1 || ports[1] > 65535) throw new Error(`hostfwd=${spec}: ports are 1..65535`);
  return { protocol: protocol as "tcp" | "udp", hostAddress: hostAddress || "0.0.0.0", hostPort: ports[0], guestAddress, guestPort: ports[1] };
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

  private guestFor(rule: HostForward): Ipv4Address | null {
    return rule.guestAddress ? parseIpv4(rule.guestAddress) : this.core.guestAddress();
  }

  private listenTcp(rule: HostForward, index: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true });
      server.on("connection", (socket) => this.core.run(() => {
        const guest = this.guestFor(rule);
        const client = parseIpv4(socket.remoteAddress?.replace(/^::ffff:/, "") ?? "") ?? 0;
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
        reject(new Error(`hostfwd tcp:${rule.hostAddress}:${rule.hostPort}: cannot listen (${error.code ?? error.message})`)),
      );
      server.listen({ host: rule.hostAddress, port: rule.hostPort }, () => {
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
      const socket = dgram.createSocket("udp4");
      socket.once("error", (error: NodeJS.ErrnoException) =>
        reject(new Error(`hostfwd udp:${rule.hostAddress}:${rule.hostPort}: cannot bind (${error.code ?? error.message})`)),
      );
      socket.bind(rule.hostPort, rule.hostAddress, () => {
        socket.on("error", () => this.core.counters.add("hostfwd.listener-error"));
        socket.on("message", (message, remote) => this.core.run(() => {
          const guest = this.guestFor(rule);
          const client = parseIpv4(remote.address);
          if (this.closed || guest === null || client === null) {
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

