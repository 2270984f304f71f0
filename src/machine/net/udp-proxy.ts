// UDP through host sockets (node:dgram), for both families. A flow is one guest endpoint talking to
// one remote endpoint, with a host socket connected to the remote's host address, so that the host
// kernel's ICMP errors come back as errors on that socket (slirp reads them with IP_RECVERR and
// IPV6_RECVERR, which Node does not expose) and are forwarded to the guest as slirp forwards them:
// port unreachable from the address that reported it (127.0.0.1 or ::1 for the host's own ports).
// Replies come from the address the guest sent to when that is a virtual address (10.0.2.x,
// fec0::/64), else from where they came. Idle flows expire after 240 s (10 s for DNS once it
// answered), as slirp's SO_EXPIRE(FAST).
import dgram from "node:dgram";
import { addressKey, clientAsSeenByGuest, isVirtual, maxIpPayload, type NatCore, translateOutbound } from "./context.js";
import { type IpAddress, isIpv6 } from "./wire/bytes.js";
import { PROTOCOL_UDP } from "./wire/ipv4.js";
import { UDP_HEADER, writeUdpHeader } from "./wire/udp.js";

export const UDP_EXPIRE_MS = 240_000;
export const UDP_EXPIRE_DNS_MS = 10_000;
const REPLY_TTL = 64;
/** bytes of the guest's datagram kept for ICMP errors: enough for slirp's quotes (548 over IPv4, 1452 over IPv6) */
const QUOTE_BYTES = 1500;

interface Flow {
  key: string;
  guestAddress: IpAddress;
  guestPort: number;
  /** the remote endpoint as the guest sees it */
  remoteAddress: IpAddress;
  remotePort: number;
  /** where datagrams go on the host */
  hostAddress: IpAddress;
  hostText: string;
  hostPort: number;
  tos: number;
  expires: number;
  /** the flow's own connected socket, or the hostfwd listener it shares */
  socket: dgram.Socket;
  ownsSocket: boolean;
  connected: boolean;
  pending: Uint8Array[];
  ttl: number;
  /** the last datagram from the guest (quoted by ICMP errors, as slirp's so_m) */
  last: Uint8Array | null;
}

export class UdpProxy {
  private readonly flows = new Map<string, Flow>();
  private sweeper: NodeJS.Timeout | null = null;

  constructor(private readonly core: NatCore) {}

  get size(): number {
    return this.flows.size;
  }

  private static key(guestAddress: IpAddress, guestPort: number, remoteAddress: IpAddress, remotePort: number): string {
    return `${addressKey(guestAddress)}:${guestPort}>${addressKey(remoteAddress)}:${remotePort}`;
  }

  /**
   * A datagram from the guest (DHCP, DNS and restrict=on already handled by the core); `datagram`
   * is the IP datagram as received (quoted by ICMP errors), `ttl` its TTL or hop limit.
   */
  fromGuest(datagram: Uint8Array, source: IpAddress, sourcePort: number, destination: IpAddress, destinationPort: number, payload: Uint8Array, tos: number, ttl: number): void {
    const key = UdpProxy.key(source, sourcePort, destination, destinationPort);
    let flow = this.flows.get(key);
    if (!flow) {
      const target = translateOutbound(destination, destinationPort, () => this.core.dnsServers());
      if ("unreachable" in target) {
        this.core.sendUnreachable(datagram, "net");
        this.core.counters.add("udp.unreachable");
        return;
      }
      const opened = this.open(key, source, sourcePort, destination, destinationPort, target.address, target.host, target.port, tos);
      if (!opened) return;
      flow = opened;
    }
    this.touch(flow);
    flow.last = datagram.slice(0, QUOTE_BYTES);
    const copy = payload.slice();
    if (!flow.connected) {
      if (flow.pending.length >= this.core.limits.udpPendingDatagrams) {
        this.core.counters.drop("udp-pending");
        return;
      }
      flow.pending.push(copy);
      flow.ttl = ttl;
      return;
    }
    this.send(flow, copy, ttl);
  }

  private open(
    key: string, guestAddress: IpAddress, guestPort: number, remoteAddress: IpAddress, remotePort: number,
    hostAddress: IpAddress, hostText: string, hostPort: number, tos: number,
  ): Flow | null {
    this.makeRoom();
    const socket = dgram.createSocket(isIpv6(hostAddress) ? "udp6" : "udp4");
    const flow: Flow = {
      key, guestAddress, guestPort, remoteAddress, remotePort, hostAddress, hostText, hostPort, tos,
      expires: 0, socket, ownsSocket: true, connected: false, pending: [], ttl: -1, last: null,
    };
    this.flows.set(key, flow);
    this.core.counters.add("udp.flows-opened");
    socket.on("error", (error: NodeJS.ErrnoException) => this.core.run(() => this.onError(flow, error)));
    socket.on("message", (message) => this.core.run(() => this.toGuest(flow, message)));
    try {
      socket.connect(hostPort, hostText, () =>
        this.core.run(() => {
          if (this.flows.get(key) !== flow) return;
          flow.connected = true;
          const pending = flow.pending;
          flow.pending = [];
          for (const payload of pending) this.send(flow, payload, flow.ttl);
        }),
      );
    } catch {
      this.remove(flow);
      return null;
    }
    this.startSweeper();
    return flow;
  }

  /** A datagram from a hostfwd listener for the guest (the flow shares the listener's socket). */
  fromHostForward(listener: dgram.Socket, clientAddress: IpAddress, clientText: string, clientPort: number, guestAddress: IpAddress, guestPort: number, payload: Uint8Array): void {
    // the guest sees a client on the host's loopback as 10.0.2.2 or fec0::2 (slirp's sotranslate_accept)
    const remoteAddress = clientAsSeenByGuest(clientAddress);
    const key = UdpProxy.key(guestAddress, guestPort, remoteAddress, clientPort);
    let flow = this.flows.get(key);
    if (!flow) {
      this.makeRoom();
      flow = {
        key, guestAddress, guestPort, remoteAddress, remotePort: clientPort, hostAddress: clientAddress, hostText: clientText,
        hostPort: clientPort, tos: 0, expires: 0, socket: listener, ownsSocket: false, connected: true, pending: [], ttl: -1, last: null,
      };
      this.flows.set(key, flow);
      this.core.counters.add("udp.flows-opened");
      this.startSweeper();
    }
    this.touch(flow);
    this.toGuest(flow, payload);
  }

  private send(flow: Flow, payload: Uint8Array, ttl: number): void {
    if (ttl - 1 !== flow.ttl && flow.ownsSocket) {
      try {
        flow.socket.setTTL(Math.max(1, ttl - 1));
        flow.ttl = ttl - 1;
      } catch {
        // not bound yet or closed: the default TTL stays
      }
    }
    const callback = (error: Error | null) => {
      if (error) this.core.run(() => this.onError(flow, error as NodeJS.ErrnoException, true));
    };
    try {
      if (flow.ownsSocket) flow.socket.send(payload, callback);
      else flow.socket.send(payload, flow.hostPort, flow.hostText, callback);
      this.core.counters.add("udp.to-host");
    } catch {
      // the host refused the datagram outright (a link-local address without a zone, say): as a failed sendto in slirp
      this.core.counters.drop("udp-send");
      if (flow.last) this.core.sendUnreachable(flow.last, "net");
    }
  }

  private toGuest(flow: Flow, message: Uint8Array): void {
    if (this.core.closed || this.flows.get(flow.key) !== flow) return;
    this.touch(flow);
    if (flow.remotePort === 53) flow.expires = Date.now() + UDP_EXPIRE_DNS_MS;
    const source = isVirtual(flow.remoteAddress) ? flow.remoteAddress : flow.hostAddress;
    const length = UDP_HEADER + message.length;
    if (length > maxIpPayload(flow.guestAddress)) {
      this.core.counters.drop("udp-too-big");
      return;
    }
    this.core.sendIp({ tos: flow.tos, ttl: REPLY_TTL, protocol: PROTOCOL_UDP, source, destination: flow.guestAddress }, length, (frame, offset) => {
      frame.set(message, offset + UDP_HEADER);
      writeUdpHeader(frame, offset, source, flow.remotePort, flow.guestAddress, flow.guestPort, message.length);
    });
    this.core.counters.add("udp.to-guest");
  }

  private onError(flow: Flow, error: NodeJS.ErrnoException, fromSend = false): void {
    if (this.flows.get(flow.key) !== flow) return;
    if (!flow.connected) fromSend = true; // the connect failed: nothing was sent, as a failed sendto in slirp
    this.core.counters.add("udp.error." + (error.code ?? "unknown"));
    if (!flow.last) return;
    let reason: "net" | "host" | "port" = "net";
    if (!fromSend) {
      if (error.code === "ECONNREFUSED") reason = "port";
      else if (error.code === "EHOSTUNREACH") reason = "host";
      else if (error.code !== "ENETUNREACH") return;
    }
    // a received error names the host that reported it (slirp: the offender of IP_RECVERR); a failed send is slirp's own
    this.core.sendUnreachable(flow.last, reason, fromSend ? undefined : flow.hostAddress);
  }

  private touch(flow: Flow): void {
    flow.expires = Date.now() + UDP_EXPIRE_MS;
    // most recently used last: Map order is the eviction order
    this.flows.delete(flow.key);
    this.flows.set(flow.key, flow);
  }

  private makeRoom(): void {
    while (this.flows.size >= this.core.limits.udpFlows) {
      const oldest = this.flows.values().next().value as Flow;
      this.remove(oldest);
      this.core.counters.add("udp.flows-evicted");
    }
  }

  private remove(flow: Flow): void {
    if (this.flows.get(flow.key) === flow) this.flows.delete(flow.key);
    if (flow.ownsSocket) {
      try {
        flow.socket.close();
      } catch {
        // already closed
      }
    }
  }

  /** Drops the flows that belong to a hostfwd listener being closed. */
  removeListenerFlows(listener: dgram.Socket): void {
    for (const flow of [...this.flows.values()]) if (flow.socket === listener) this.remove(flow);
  }

  private startSweeper(): void {
    if (this.sweeper) return;
    this.sweeper = setInterval(() => this.core.run(() => this.sweep()), 1000);
    this.sweeper.unref();
  }

  sweep(now = Date.now()): void {
    for (const flow of [...this.flows.values()]) {
      if (flow.expires <= now) {
        this.remove(flow);
        this.core.counters.add("udp.flows-expired");
      }
    }
    if (this.flows.size === 0 && this.sweeper) {
      clearInterval(this.sweeper);
      this.sweeper = null;
    }
  }

  close(): void {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = null;
    for (const flow of [...this.flows.values()]) this.remove(flow);
  }
}
