// UDP through host sockets (node:dgram). A flow is one guest endpoint talking to one remote
// endpoint, with a host socket connected to the remote's host address, so that the host kernel's
// ICMP errors come back as errors on that socket (slirp reads them with IP_RECVERR, which Node
// does not expose) and are forwarded to the guest as slirp forwards them: port unreachable from
// the address that reported it (127.0.0.1 for the host's own ports), TTL 255. Replies come from the
// address the guest sent to when that is a virtual address (10.0.2.x), else from where they came.
// Idle flows expire after 240 s (10 s for DNS once it answered), as slirp's SO_EXPIRE(FAST).
import dgram from "node:dgram";
import { HOST_ADDRESS, inNetwork, type NatCore, translateOutbound } from "./context.js";
import type { Ipv4Address } from "./wire/bytes.js";
import { ICMP_UNREACHABLE, UNREACHABLE_HOST, UNREACHABLE_NET, UNREACHABLE_PORT } from "./wire/icmp.js";
import { PROTOCOL_UDP } from "./wire/ipv4.js";
import { UDP_HEADER, writeUdpHeader } from "./wire/udp.js";

export const UDP_EXPIRE_MS = 240_000;
export const UDP_EXPIRE_DNS_MS = 10_000;
const REPLY_TTL = 64;
const QUOTE_BYTES = 576;

interface Flow {
  key: string;
  guestAddress: Ipv4Address;
  guestPort: number;
  /** the remote endpoint as the guest sees it */
  remoteAddress: Ipv4Address;
  remotePort: number;
  /** where datagrams go on the host */
  hostAddress: Ipv4Address;
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

  private static key(guestAddress: number, guestPort: number, remoteAddress: number, remotePort: number): string {
    return `${guestAddress}:${guestPort}>${remoteAddress}:${remotePort}`;
  }

  /** A datagram from the guest (DHCP, DNS and restrict=on already handled by the core). */
  fromGuest(datagram: Uint8Array, source: Ipv4Address, sourcePort: number, destination: Ipv4Address, destinationPort: number, payload: Uint8Array, tos: number, ttl: number): void {
    const key = UdpProxy.key(source, sourcePort, destination, destinationPort);
    let flow = this.flows.get(key);
    if (!flow) {
      const target = translateOutbound(destination, destinationPort, () => this.core.dnsServers());
      if ("unreachable" in target) {
        this.core.sendIcmpError(datagram, ICMP_UNREACHABLE, UNREACHABLE_NET, HOST_ADDRESS);
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
    key: string, guestAddress: number, guestPort: number, remoteAddress: number, remotePort: number,
    hostAddress: number, hostText: string, hostPort: number, tos: number,
  ): Flow | null {
    this.makeRoom();
    const socket = dgram.createSocket("udp4");
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
  fromHostForward(listener: dgram.Socket, clientAddress: Ipv4Address, clientText: string, clientPort: number, guestAddress: Ipv4Address, guestPort: number, payload: Uint8Array): void {
    // the guest sees the client as 10.0.2.2 when it is on the host's loopback (slirp's sotranslate_accept)
    const remoteAddress = clientAddress >>> 24 === 127 || clientAddress === 0 ? HOST_ADDRESS : clientAddress;
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
      this.core.counters.drop("udp-send");
    }
  }

  private toGuest(flow: Flow, message: Uint8Array): void {
    if (this.core.closed || this.flows.get(flow.key) !== flow) return;
    this.touch(flow);
    if (flow.remotePort === 53) flow.expires = Date.now() + UDP_EXPIRE_DNS_MS;
    const source = inNetwork(flow.remoteAddress) ? flow.remoteAddress : flow.hostAddress;
    const length = UDP_HEADER + message.length;
    if (length > 65535 - 20) {
      this.core.counters.drop("udp-too-big");
      return;
    }
    this.core.sendIpv4({ tos: flow.tos, ttl: REPLY_TTL, protocol: PROTOCOL_UDP, source, destination: flow.guestAddress }, length, (frame, offset) => {
      frame.set(message, offset + UDP_HEADER);
      writeUdpHeader(frame, offset, source, flow.remotePort, flow.guestAddress, flow.guestPort, message.length);
    });
    this.core.counters.add("udp.to-guest");
  }

  private onError(flow: Flow, error: NodeJS.ErrnoException, fromSend = false): void {
    if (this.flows.get(flow.key) !== flow) return;
    this.core.counters.add("udp.error." + (error.code ?? "unknown"));
    if (!flow.last) return;
    let code = UNREACHABLE_NET;
    if (!fromSend) {
      if (error.code === "ECONNREFUSED") code = UNREACHABLE_PORT;
      else if (error.code === "EHOSTUNREACH") code = UNREACHABLE_HOST;
      else if (error.code !== "ENETUNREACH") return;
    }
    // a received error names the host that reported it (slirp: the offender of IP_RECVERR); a failed send is slirp's own
    this.core.sendIcmpError(flow.last, ICMP_UNREACHABLE, code, fromSend ? HOST_ADDRESS : flow.hostAddress);
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
