// TCP ended in the NAT, as slirp does: each guest connection is a TCP endpoint here whose other
// side is a host socket (node:net), over IPv4 or IPv6 alike (connections are keyed by address and
// port; the family decides only the MSS and the IP layer). A guest SYN opens a host connection
// first; the SYN-ACK (MSS 1460, or 1440 over IPv6, as its only option, window <= 65535, no
// scaling) goes out only once it connected, and a refused connection is answered RST|ACK with seq
// 0. Host forwarding runs the other way: an accepted host connection opens a connection into the
// guest (SYN from 10.0.2.2 or fec0::2).
//
// Towards the guest: data in segments of the guest's MSS within its window, FIN in a segment of
// its own once the host ended its side, retransmission from an RTO of 1 s (RFC 6298 estimation,
// doubled per retry, at most 12 s, 12 retries and the connection is reset), fast retransmit after
// three duplicate ACKs, window probes while the guest's window is closed. Flow control both ways:
// the host socket is paused while the NAT holds 128 KiB for the guest, and the window offered to
// the guest shrinks with the bytes the host socket has not taken (128 KiB of buffer, 65535 at most).
// A guest FIN ends the host socket's writing side; a guest RST destroys the host socket with a
// reset; a host reset or error resets the guest's connection.
import net from "node:net";
import { ByteQueue } from "./byte-queue.js";
import { addressKey, clientAsSeenByGuest, type NatCore, translateOutbound } from "./context.js";
import { type IpAddress, isIpv6 } from "./wire/bytes.js";
import { IPV4_HEADER, PROTOCOL_TCP } from "./wire/ipv4.js";
import { IPV6_HEADER } from "./wire/ipv6.js";
import { ACK, FIN, PSH, RST, SYN, type TcpFields, tcpHeaderLength, type TcpSegment, URG, writeTcpHeader } from "./wire/tcp.js";

/** the MSS the NAT announces: slirp's tcp_mss, the MTU (1500) less the TCP and IP headers */
export const NAT_MSS = 1500 - 20 - IPV4_HEADER;
export const NAT_MSS6 = 1500 - 20 - IPV6_HEADER;
const DEFAULT_MSS = 536;
const MIN_MSS = 32;
const MAX_WINDOW = 65535;
const TTL = 64;
const RESET_TTL = 255;
const PERSIST_MAX_MS = 60_000;
/** slirp sends delayed ACKs from tcp_fasttimo, run once 2 ms have passed (TIMEOUT_FAST) */
const FAST_TIMER_MS = 2;

/** The TCP timers (tests shorten them). */
export interface TcpTimings {
  /** the retransmission timeout before any RTT sample (RFC 6298: 1 s) */
  rtoInitialMs: number;
  rtoMinMs: number;
  /** slirp's TCPTV_REXMTMAX */
  rtoMaxMs: number;
  /** slirp's TCP_MAXRXTSHIFT: after this many retransmissions the connection is reset */
  maxRetries: number;
  /** slirp's TCPTV_KEEP_INIT: a connection not established within 75 s is dropped */
  handshakeTimeoutMs: number;
  /** 2 MSL, with slirp's MSL of 5 s */
  timeWaitMs: number;
}

export const DEFAULT_TCP_TIMINGS: TcpTimings = {
  rtoInitialMs: 1000,
  rtoMinMs: 1000,
  rtoMaxMs: 12_000,
  maxRetries: 12,
  handshakeTimeoutMs: 75_000,
  timeWaitMs: 10_000,
};
/** bytes of the guest's SYN kept for an ICMP error: enough for slirp's quotes (548 over IPv4, 1452 over IPv6) */
const QUOTE_BYTES = 1500;
/** slirp's ISS: 64001 for the first connection, +64000 for each next one */
const ISS_FIRST = 64001;
const ISS_STEP = 64000;

type State =
  | "connecting" // guest SYN received, host connect in progress
  | "syn-sent" // hostfwd: our SYN sent to the guest
  | "syn-received" // guest SYN answered with SYN-ACK
  | "established"
  | "close-wait" // guest FIN received
  | "fin-wait-1" // our FIN sent
  | "fin-wait-2" // our FIN acknowledged
  | "closing" // both FINs sent, ours not acknowledged
  | "last-ack" // guest FIN, then ours: waiting for its ACK
  | "time-wait";

/** slirp's tcptos table: (guest port, remote port) → TOS (the guest's own TOS is not kept: slirp's checksum overlay zeroes it) */
const TOS_TABLE: ReadonlyArray<readonly [number, number, number]> = [
  [0, 20, 0x08], [21, 21, 0x10], [0, 23, 0x10], [0, 80, 0x08], [0, 513, 0x10], [0, 544, 0x10],
  [0, 543, 0x10], [0, 6667, 0x08], [0, 6668, 0x08], [0, 7070, 0x10], [0, 113, 0x10],
];

export function tcpTos(guestPort: number, remotePort: number): number {
  for (const [lport, fport, tos] of TOS_TABLE) {
    if ((fport && remotePort === fport) || (lport && guestPort === lport)) return tos;
  }
  return 0;
}

const seqDiff = (a: number, b: number): number => (a - b) | 0;
const seqAdd = (a: number, n: number): number => (a + n) >>> 0;

class Connection {
  state: State;
  socket: net.Socket | null = null;
  iss = 0;
  sndUna = 0;
  sndNxt = 0;
  sndMax = 0;
  sndWnd = 0;
  sndWl1 = 0;
  sndWl2 = 0;
  sndMss = DEFAULT_MSS;
  irs = 0;
  rcvNxt = 0;
  /** the right edge of the window last offered (never moved left) */
  rcvEdge = 0;
  lastWindow = 0;
  readonly sendBuffer = new ByteQueue();
  /** the host ended its side: a FIN follows the data */
  hostEnded = false;
  /** a FIN went out at least once */
  finSent = false;
  hostPaused = false;
  rto: number;
  retries = 0;
  srtt = -1;
  rttvar = 0;
  rttSeq: number | null = null;
  rttStart = 0;
  dupAcks = 0;
  retransmitTimer: NodeJS.Timeout | null = null;
  persistTimer: NodeJS.Timeout | null = null;
  persistMs: number;
  probeOutstanding = false;
  /** the guest's data is acknowledged by the next segment out, or by the fast timer (slirp's TF_DELACK) */
  delayedAck = false;
  /** after a timeout only the first unacknowledged segment goes out until an ACK arrives (as slirp's cwnd of one segment) */
  recovering = false;
  deadline: NodeJS.Timeout | null = null;
  /** the guest's SYN, quoted by an ICMP error when the host connect fails */
  syn: Uint8Array | null = null;
  removed = false;

  /** the MSS this side announces and the most it sends (by the family) */
  readonly natMss: number;

  constructor(
    readonly key: string,
    readonly guestAddress: IpAddress,
    readonly guestPort: number,
    /** the remote endpoint as the guest sees it */
    readonly remoteAddress: IpAddress,
    readonly remotePort: number,
    readonly tos: number,
    state: State,
    initialRto: number,
  ) {
    this.state = state;
    this.rto = this.persistMs = initialRto;
    this.natMss = isIpv6(guestAddress) ? NAT_MSS6 : NAT_MSS;
  }
}

export class TcpProxy {
  private readonly connections = new Map<string, Connection>();
  /** connections owing the guest a delayed ACK, and the timer that sends them (slirp's tcp_fasttimo) */
  private readonly delayedAcks = new Set<Connection>();
  private fastTimer: NodeJS.Timeout | null = null;
  private nextIss = ISS_FIRST;

  private readonly timings: TcpTimings;

  constructor(private readonly core: NatCore, timings: Partial<TcpTimings> = {}) {
    this.timings = { ...DEFAULT_TCP_TIMINGS, ...timings };
  }

  get size(): number {
    return this.connections.size;
  }

  /** bytes held for the guest, over all connections */
  bufferedBytes(): number {
    let total = 0;
    for (const connection of this.connections.values()) total += connection.sendBuffer.length;
    return total;
  }

  private static key(guestAddress: IpAddress, guestPort: number, remoteAddress: IpAddress, remotePort: number): string {
    return `${addressKey(guestAddress)}:${guestPort}>${addressKey(remoteAddress)}:${remotePort}`;
  }

  private takeIss(): number {
    const iss = this.nextIss;
    this.nextIss = seqAdd(this.nextIss, ISS_STEP);
    return iss;
  }

  // ---- output ----------------------------------------------------------------------------------

  /** The window offered to the guest: the NAT's buffer less what the host socket has not taken, 65535 at most. */
  private offerWindow(connection: Connection): number {
    const buffered = connection.socket ? connection.socket.writableLength : 0;
    let window = Math.max(0, Math.min(MAX_WINDOW, this.core.limits.tcpBuffer - buffered));
    // silly-window avoidance, as slirp's tcp_output: a window below a segment and a quarter of the buffer is offered as 0
    if (window < this.core.limits.tcpBuffer / 4 && window < connection.sndMss) window = 0;
    const promised = seqDiff(connection.rcvEdge, connection.rcvNxt);
    if (promised > window) window = Math.min(MAX_WINDOW, promised);
    connection.rcvEdge = seqAdd(connection.rcvNxt, window);
    connection.lastWindow = window;
    return window;
  }

  /** One segment to the guest; `dataOffset`/`dataLength` select bytes of the send buffer. */
  private emit(connection: Connection, flags: number, seq: number, dataOffset = 0, dataLength = 0, mss?: number): void {
    const fields: TcpFields = {
      sourcePort: connection.remotePort,
      destinationPort: connection.guestPort,
      seq,
      ack: flags & ACK ? connection.rcvNxt : 0,
      flags,
      window: this.offerWindow(connection),
      mss,
    };
    if (flags & ACK) connection.delayedAck = false;
    const headerLength = tcpHeaderLength(fields);
    const source = connection.remoteAddress;
    const destination = connection.guestAddress;
    this.core.sendIp({ tos: connection.tos, ttl: TTL, protocol: PROTOCOL_TCP, source, destination }, headerLength + dataLength, (frame, offset) => {
      if (dataLength > 0) connection.sendBuffer.copyTo(dataOffset, dataLength, frame, offset + headerLength);
      writeTcpHeader(frame, offset, source, destination, fields, dataLength);
    });
    this.core.counters.add("tcp.segments-to-guest");
  }

  /** slirp's tcp_respond without a connection: RST (seq = their ack) or RST|ACK (seq 0), TTL 255, window 0, TOS 0. */
  private respondReset(source: IpAddress, destination: IpAddress, segment: TcpSegment): void {
    const flags = segment.flags & ACK ? RST : RST | ACK;
    const fields: TcpFields = {
      sourcePort: segment.destinationPort,
      destinationPort: segment.sourcePort,
      seq: segment.flags & ACK ? segment.ack : 0,
      ack: segment.flags & ACK ? 0 : seqAdd(segment.seq, segment.payload.length + (segment.flags & SYN ? 1 : 0)),
      flags,
      window: 0,
    };
    this.core.sendIp({ tos: 0, ttl: RESET_TTL, protocol: PROTOCOL_TCP, source: destination, destination: source }, 20, (frame, offset) =>
      writeTcpHeader(frame, offset, destination, source, fields, 0),
    );
    this.core.counters.add("tcp.resets-sent");
  }

  /** Sends what the window allows, then the FIN once the host ended and every byte went out. */
  private output(connection: Connection): number {
    let emitted = 0;
    const state = connection.state;
    if (state !== "established" && state !== "close-wait" && state !== "fin-wait-1" && state !== "closing" && state !== "last-ack") return 0;
    for (let guard = 0; guard < 4096; guard++) {
      const sent = seqDiff(connection.sndNxt, connection.sndUna);
      const buffered = connection.sendBuffer.length;
      if (sent < buffered) {
        const usable = seqDiff(seqAdd(connection.sndUna, connection.sndWnd), connection.sndNxt);
        if (usable <= 0) {
          if (connection.sndWnd === 0 && sent === 0) this.armPersist(connection);
          break;
        }
        const length = Math.min(buffered - sent, usable, connection.sndMss);
        const flags = ACK | (sent + length === buffered ? PSH : 0);
        const fresh = seqDiff(connection.sndNxt, connection.sndMax) >= 0;
        if (fresh && connection.rttSeq === null) {
          connection.rttSeq = connection.sndNxt;
          connection.rttStart = performance.now();
        }
        this.emit(connection, flags, connection.sndNxt, sent, length);
        emitted++;
        connection.sndNxt = seqAdd(connection.sndNxt, length);
        if (seqDiff(connection.sndNxt, connection.sndMax) > 0) connection.sndMax = connection.sndNxt;
        this.armRetransmit(connection);
        if (connection.recovering) break;
        continue;
      }
      if (connection.hostEnded && sent === buffered) {
        this.emit(connection, FIN | ACK, connection.sndNxt);
        emitted++;
        connection.sndNxt = seqAdd(connection.sndNxt, 1);
        if (seqDiff(connection.sndNxt, connection.sndMax) > 0) connection.sndMax = connection.sndNxt;
        if (!connection.finSent) {
          connection.finSent = true;
          if (connection.state === "established") connection.state = "fin-wait-1";
          else if (connection.state === "close-wait") connection.state = "last-ack";
        }
        this.armRetransmit(connection);
      }
      break;
    }
    return emitted;
  }

  /**
   * As slirp: in-order data that also acknowledges something (a reply to what the NAT sent) is
   * acknowledged late — by the next segment towards the guest, typically the host's next request,
   * or after FAST_TIMER_MS — while data that acknowledges nothing new is acknowledged at once
   * (slirp's header prediction, "better to not delay acks at all", RFC 2581). A request/response
   * exchange thus costs the guest two frames, not three.
   */
  private ackLater(connection: Connection): void {
    connection.delayedAck = true;
    this.delayedAcks.add(connection);
    // The timer only schedules: the ACKs go out after this turn of the event loop has read the
    // host sockets (setImmediate runs after the poll phase), so that host data that arrived
    // meanwhile — while a busy guest held the loop — carries them instead, as it would in slirp's
    // own thread.
    if (this.fastTimer === null) this.fastTimer = this.core.setTimer(() => setImmediate(() => this.core.run(() => this.onFastTimer())), FAST_TIMER_MS);
  }

  private onFastTimer(): void {
    this.fastTimer = null;
    const owing = [...this.delayedAcks];
    this.delayedAcks.clear();
    for (const connection of owing) if (connection.delayedAck && !connection.removed) this.ackNow(connection);
  }

  private ackNow(connection: Connection): void {
    const state = connection.state;
    if (connection.finSent && (state === "fin-wait-1" || state === "closing" || state === "last-ack")) {
      // as BSD's tcp_output in slirp: while our FIN is unacknowledged every ACK carries it again
      this.emit(connection, FIN | ACK, seqAdd(connection.sndMax, -1));
      return;
    }
    this.emit(connection, ACK, connection.sndNxt);
  }

  // ---- timers ----------------------------------------------------------------------------------

  private armRetransmit(connection: Connection): void {
    if (connection.retransmitTimer) return;
    connection.retransmitTimer = this.core.setTimer(() => this.core.run(() => this.onRetransmit(connection)), connection.rto);
  }

  private stopRetransmit(connection: Connection): void {
    if (connection.retransmitTimer) clearTimeout(connection.retransmitTimer);
    connection.retransmitTimer = null;
  }

  private onRetransmit(connection: Connection): void {
    connection.retransmitTimer = null;
    if (connection.removed) return;
    connection.retries++;
    if (connection.retries > this.timings.maxRetries) {
      this.core.counters.add("tcp.retransmit-limit");
      this.abort(connection, true);
      return;
    }
    connection.rto = Math.min(connection.rto * 2, this.timings.rtoMaxMs);
    connection.rttSeq = null; // Karn: no RTT sample from a retransmitted segment
    connection.dupAcks = 0;
    this.core.counters.add("tcp.retransmits");
    if (connection.state === "syn-sent") {
      this.emit(connection, SYN, connection.iss, 0, 0, connection.natMss);
      this.armRetransmit(connection);
      return;
    }
    if (connection.state === "syn-received") {
      this.emit(connection, SYN | ACK, connection.iss, 0, 0, connection.natMss);
      this.armRetransmit(connection);
      return;
    }
    if (seqDiff(connection.sndMax, connection.sndUna) <= 0) return;
    connection.sndNxt = connection.sndUna; // go back: resend from the first unacknowledged byte, one segment
    connection.recovering = true;
    if (this.output(connection) === 0) {
      // the window shrank to nothing: probe instead
      this.armPersist(connection);
    }
  }

  private armPersist(connection: Connection): void {
    if (connection.persistTimer || connection.retransmitTimer) return;
    connection.persistTimer = this.core.setTimer(() => this.core.run(() => this.onPersist(connection)), connection.persistMs);
  }

  private onPersist(connection: Connection): void {
    connection.persistTimer = null;
    if (connection.removed) return;
    if (connection.sndWnd !== 0 || connection.sendBuffer.length <= seqDiff(connection.sndNxt, connection.sndUna)) {
      connection.persistMs = connection.rto;
      this.output(connection);
      return;
    }
    // a one-byte window probe beyond the closed window (the guest answers with its window)
    const offset = seqDiff(connection.sndNxt, connection.sndUna);
    this.emit(connection, ACK, connection.sndNxt, offset, 1);
    connection.probeOutstanding = true;
    this.core.counters.add("tcp.window-probes");
    connection.persistMs = Math.min(connection.persistMs * 2, PERSIST_MAX_MS);
    this.armPersist(connection);
  }

  private setDeadline(connection: Connection, ms: number, action: () => void): void {
    if (connection.deadline) clearTimeout(connection.deadline);
    connection.deadline = this.core.setTimer(() => this.core.run(() => {
      connection.deadline = null;
      if (!connection.removed) action();
    }), ms);
  }

  // ---- lifetime --------------------------------------------------------------------------------

  private remove(connection: Connection): void {
    if (connection.removed) return;
    connection.removed = true;
    this.stopRetransmit(connection);
    if (connection.persistTimer) clearTimeout(connection.persistTimer);
    if (connection.deadline) clearTimeout(connection.deadline);
    connection.persistTimer = connection.deadline = null;
    if (this.connections.get(connection.key) === connection) this.connections.delete(connection.key);
    connection.sendBuffer.clear();
    const socket = connection.socket;
    connection.socket = null;
    if (socket && !socket.destroyed) socket.destroy();
  }

  /** Ends a connection abnormally: a reset to the guest (when it knows the connection) and a reset to the host. */
  private abort(connection: Connection, resetGuest: boolean): void {
    if (resetGuest && connection.state !== "connecting" && connection.state !== "syn-sent" && connection.state !== "time-wait") {
      this.emit(connection, RST | ACK, connection.sndNxt);
    }
    const socket = connection.socket;
    connection.socket = null;
    if (socket && !socket.destroyed) socket.resetAndDestroy();
    this.remove(connection);
  }

  private enterTimeWait(connection: Connection): void {
    connection.state = "time-wait";
    this.stopRetransmit(connection);
    const socket = connection.socket;
    connection.socket = null;
    if (socket && !socket.destroyed) socket.destroy();
    this.setDeadline(connection, this.timings.timeWaitMs, () => this.remove(connection));
  }

  // ---- host sockets ----------------------------------------------------------------------------

  private attachSocket(connection: Connection, socket: net.Socket): void {
    connection.socket = socket;
    socket.on("data", (chunk: Buffer) => this.core.run(() => this.onHostData(connection, chunk)));
    socket.on("end", () => this.core.run(() => this.onHostEnd(connection)));
    socket.on("drain", () => this.core.run(() => this.onHostDrain(connection)));
    socket.on("close", () => this.core.run(() => this.onHostClose(connection)));
  }

  private onHostData(connection: Connection, chunk: Buffer): void {
    if (connection.removed || connection.hostEnded) return;
    connection.sendBuffer.push(chunk);
    this.core.counters.add("tcp.bytes-from-host", chunk.length);
    if (connection.sendBuffer.length >= this.core.limits.tcpBuffer && !connection.hostPaused) {
      connection.hostPaused = true;
      connection.socket?.pause();
      this.core.counters.add("tcp.host-paused");
    }
    this.output(connection);
  }

  private onHostEnd(connection: Connection): void {
    if (connection.removed) return;
    connection.hostEnded = true;
    this.output(connection);
  }

  private onHostDrain(connection: Connection): void {
    if (connection.removed) return;
    // the host took what it held back: offer the window again if it had closed
    if (connection.lastWindow < 2 * connection.sndMss && (connection.state === "established" || connection.state === "fin-wait-1" || connection.state === "fin-wait-2")) {
      this.ackNow(connection);
    }
  }

  private onHostClose(connection: Connection): void {
    if (connection.removed || connection.socket === null) return;
    // closed without an error after both sides ended: nothing to do until the guest finishes
    if (connection.socket.destroyed && !connection.hostEnded) {
      // the host socket went away without an end (destroyed by an error handled elsewhere)
      this.abort(connection, true);
    }
  }

  private onHostError(connection: Connection, error: NodeJS.ErrnoException): void {
    if (connection.removed) return;
    this.core.counters.add("tcp.host-error." + (error.code ?? "unknown"));
    if (connection.state === "connecting") {
      this.connectFailed(connection, error);
      return;
    }
    this.abort(connection, true);
  }

  private connectFailed(connection: Connection, error: NodeJS.ErrnoException): void {
    const code = error.code;
    if (code === "EHOSTUNREACH" || code === "ENETUNREACH" || code === "EACCES" || code === "EPERM" || code === "EADDRNOTAVAIL" || code === "EINVAL") {
      if (connection.syn) this.core.sendUnreachable(connection.syn, code === "EHOSTUNREACH" ? "host" : "net");
    } else {
      // refused (and anything else): slirp's tcp_drop of a connection whose SYN it never answered: RST|ACK, seq 0
      this.emit(connection, RST | ACK, 0);
      this.core.counters.add("tcp.refused");
    }
    this.remove(connection);
  }

  // ---- from the guest --------------------------------------------------------------------------

  /** A segment from the guest; `datagram` is its IP datagram (quoted by ICMP errors). */
  fromGuest(datagram: Uint8Array, source: IpAddress, destination: IpAddress, segment: TcpSegment): void {
    const key = TcpProxy.key(source, segment.sourcePort, destination, segment.destinationPort);
    let connection = this.connections.get(key);
    if (connection && connection.state === "time-wait" && (segment.flags & (SYN | ACK | RST)) === SYN) {
      this.remove(connection); // a new connection on the same ports
      connection = undefined;
    }
    if (!connection) {
      this.listen(key, datagram, source, destination, segment);
      return;
    }
    this.input(connection, segment);
  }

  /** A segment for no connection: a SYN opens one, anything else is answered with a reset. */
  private listen(key: string, datagram: Uint8Array, source: IpAddress, destination: IpAddress, segment: TcpSegment): void {
    // (slirp answers even a stray RST with a reset: its dropwithreset lacks BSD's RST check)
    if (this.core.restricted || (segment.flags & (SYN | FIN | RST | URG | ACK)) !== SYN) {
      this.respondReset(source, destination, segment);
      return;
    }
    if (this.connections.size >= this.core.limits.tcpConnections) {
      this.core.counters.drop("tcp-connection-limit");
      this.respondReset(source, destination, segment);
      return;
    }
    const target = translateOutbound(destination, segment.destinationPort, () => this.core.dnsServers());
    if ("unreachable" in target) {
      this.core.sendUnreachable(datagram, "net");
      this.core.counters.add("tcp.unreachable");
      return;
    }
    const connection = new Connection(key, source, segment.sourcePort, destination, segment.destinationPort, tcpTos(segment.sourcePort, segment.destinationPort), "connecting", this.timings.rtoInitialMs);
    connection.irs = segment.seq;
    connection.rcvNxt = seqAdd(segment.seq, 1);
    connection.rcvEdge = connection.rcvNxt;
    connection.sndMss = Math.max(MIN_MSS, Math.min(connection.natMss, segment.mss ?? DEFAULT_MSS));
    connection.sndWnd = segment.window;
    connection.syn = datagram.slice(0, QUOTE_BYTES);
    this.connections.set(key, connection);
    this.core.counters.add("tcp.connections-opened");
    let socket: net.Socket;
    try {
      socket = net.connect({ host: target.host, port: target.port, allowHalfOpen: true });
    } catch (error) {
      this.connectFailed(connection, error as NodeJS.ErrnoException);
      return;
    }
    this.attachSocket(connection, socket);
    socket.on("error", (error: NodeJS.ErrnoException) => this.core.run(() => this.onHostError(connection, error)));
    socket.once("connect", () => this.core.run(() => this.onConnected(connection)));
    this.setDeadline(connection, this.timings.handshakeTimeoutMs, () => {
      this.core.counters.add("tcp.handshake-timeout");
      if (connection.state === "connecting") this.emit(connection, RST | ACK, 0);
      this.abort(connection, connection.state !== "connecting");
    });
  }

  private onConnected(connection: Connection): void {
    if (connection.removed || connection.state !== "connecting") return;
    connection.socket?.setNoDelay(true);
    connection.state = "syn-received";
    connection.iss = this.takeIss();
    connection.sndUna = connection.iss;
    connection.sndNxt = seqAdd(connection.iss, 1);
    connection.sndMax = connection.sndNxt;
    connection.rttSeq = connection.iss;
    connection.rttStart = performance.now();
    this.emit(connection, SYN | ACK, connection.iss, 0, 0, connection.natMss);
    this.armRetransmit(connection);
  }

  /** Host forwarding: an accepted host connection becomes a connection into the guest. */
  openToGuest(socket: net.Socket, guestAddress: IpAddress, guestPort: number, clientAddress: IpAddress, clientPort: number): boolean {
    // a client on the host's loopback (or any) appears as 10.0.2.2 or fec0::2 (slirp's sotranslate_accept)
    const remoteAddress = clientAsSeenByGuest(clientAddress);
    const key = TcpProxy.key(guestAddress, guestPort, remoteAddress, clientPort);
    // Linux reuses a loopback client port still in TIME_WAIT (tcp_tw_reuse=2) within seconds, so
    // a new client may have the 4-tuple of a connection the NAT still holds in TIME_WAIT: the new
    // one replaces it, as in slirp, whose newest socket is found first.
    const previous = this.connections.get(key);
    if (previous !== undefined && previous.state === "time-wait") {
      this.remove(previous);
      this.core.counters.add("tcp.time-wait-replaced");
    }
    if (this.connections.has(key) || this.connections.size >= this.core.limits.tcpConnections) return false;
    const connection = new Connection(key, guestAddress, guestPort, remoteAddress, clientPort, tcpTos(guestPort, clientPort), "syn-sent", this.timings.rtoInitialMs);
    this.connections.set(key, connection);
    this.core.counters.add("tcp.connections-forwarded");
    socket.pause();
    connection.hostPaused = true;
    socket.setNoDelay(true);
    this.attachSocket(connection, socket);
    socket.on("error", (error: NodeJS.ErrnoException) => this.core.run(() => this.onHostError(connection, error)));
    connection.iss = this.takeIss();
    connection.sndUna = connection.iss;
    connection.sndNxt = seqAdd(connection.iss, 1);
    connection.sndMax = connection.sndNxt;
    connection.rttSeq = connection.iss;
    connection.rttStart = performance.now();
    this.emit(connection, SYN, connection.iss, 0, 0, connection.natMss);
    this.armRetransmit(connection);
    this.setDeadline(connection, this.timings.handshakeTimeoutMs, () => {
      this.core.counters.add("tcp.handshake-timeout");
      this.abort(connection, false);
    });
    return true;
  }

  private established(connection: Connection, segment: TcpSegment): void {
    connection.state = "established";
    if (connection.deadline) clearTimeout(connection.deadline);
    connection.deadline = null;
    connection.sndWnd = segment.window;
    connection.sndWl1 = segment.seq;
    connection.sndWl2 = segment.ack;
    if (connection.hostPaused && connection.sendBuffer.length < this.core.limits.tcpBuffer) {
      connection.hostPaused = false;
      connection.socket?.resume();
    }
  }

  private input(connection: Connection, segment: TcpSegment): void {
    const flags = segment.flags;
    if (connection.state === "connecting") {
      this.core.counters.drop("tcp-while-connecting"); // slirp drops everything, retransmitted SYNs included
      return;
    }
    if (connection.state === "syn-sent") {
      this.inputSynSent(connection, segment);
      return;
    }
    if (connection.state === "time-wait") {
      if (flags & FIN && !(flags & RST)) {
        this.ackNow(connection);
        this.setDeadline(connection, this.timings.timeWaitMs, () => this.remove(connection));
      }
      return;
    }
    // a retransmitted SYN while our SYN-ACK is unanswered: answer it again
    if (flags & SYN && connection.state === "syn-received" && segment.seq === connection.irs && !(flags & ACK)) {
      this.emit(connection, SYN | ACK, connection.iss, 0, 0, connection.natMss);
      return;
    }
    // sequence check (RFC 9293 3.10.7.4)
    const length = segment.payload.length + (flags & SYN ? 1 : 0) + (flags & FIN ? 1 : 0);
    const window = Math.max(0, seqDiff(connection.rcvEdge, connection.rcvNxt));
    const start = seqDiff(segment.seq, connection.rcvNxt);
    const end = start + length - 1;
    const acceptable =
      start === 0 ||
      (length === 0 ? window > 0 && start >= 0 && start < window : window > 0 && ((start >= 0 && start < window) || (end >= 0 && end < window)));
    if (!acceptable) {
      if (!(flags & RST)) this.ackNow(connection);
      this.core.counters.add("tcp.unacceptable");
      return;
    }
    if (flags & RST) {
      this.core.counters.add("tcp.resets-from-guest");
      this.abort(connection, false);
      return;
    }
    if (flags & SYN) {
      this.ackNow(connection); // challenge ACK (RFC 5961)
      return;
    }
    if (!(flags & ACK)) return;
    // before processAck moves SND.UNA: does this segment acknowledge anything new?
    const acknowledgesNew = seqDiff(segment.ack, connection.sndUna) > 0;
    if (!this.processAck(connection, segment)) return;
    // the state may have changed (established, closed) in processAck
    if (connection.removed) return;
    let needAck = false;
    let delayAck = false;
    const state = connection.state as State;
    const receiving = state === "established" || state === "fin-wait-1" || state === "fin-wait-2";
    let finAccepted = false;
    if (receiving && (segment.payload.length > 0 || flags & FIN)) {
      if (start > 0) {
        // out of order: the NAT keeps no holes; a duplicate ACK asks for the missing bytes
        this.ackNow(connection);
        this.core.counters.add("tcp.out-of-order");
        return;
      }
      let data = segment.payload.subarray(-start);
      const room = Math.max(0, seqDiff(connection.rcvEdge, connection.rcvNxt));
      const complete = data.length <= room;
      if (!complete) data = data.subarray(0, room);
      if (data.length > 0) {
        connection.socket?.write(Buffer.from(data));
        connection.rcvNxt = seqAdd(connection.rcvNxt, data.length);
        this.core.counters.add("tcp.bytes-to-host", data.length);
        needAck = true;
        delayAck = acknowledgesNew && complete && state === "established" && !(flags & FIN);
      } else if (segment.payload.length > 0) {
        needAck = true; // duplicate data: ACK again
      }
      finAccepted = complete && (flags & FIN) !== 0;
    }
    if (finAccepted) {
      connection.rcvNxt = seqAdd(connection.rcvNxt, 1);
      needAck = true;
      const socket = connection.socket;
      if (socket && !socket.destroyed) socket.end();
      if (state === "established") connection.state = "close-wait";
      else if (state === "fin-wait-1") connection.state = "closing";
      else if (state === "fin-wait-2") {
        this.ackNow(connection);
        this.enterTimeWait(connection);
        return;
      }
    } else if ((state === "close-wait" || state === "closing" || state === "last-ack") && flags & FIN) {
      needAck = true; // a retransmitted FIN
    }
    const sent = this.output(connection);
    if (needAck && sent === 0) {
      if (delayAck && !finAccepted) this.ackLater(connection);
      else this.ackNow(connection);
    }
  }

  /** The ACK field of a segment; false when the segment is to be dropped. */
  private processAck(connection: Connection, segment: TcpSegment): boolean {
    const ack = segment.ack;
    if (connection.state === "syn-received") {
      if (seqDiff(ack, connection.sndUna) <= 0 || seqDiff(ack, connection.sndMax) > 0) {
        this.respondReset(connection.guestAddress, connection.remoteAddress, segment);
        return false;
      }
      this.sampleRtt(connection, ack);
      connection.sndUna = ack;
      connection.retries = 0;
      this.stopRetransmit(connection);
      this.established(connection, segment);
      this.output(connection);
      return true;
    }
    const limit = connection.probeOutstanding ? seqAdd(connection.sndNxt, 1) : connection.sndMax;
    if (seqDiff(ack, limit) > 0 && seqDiff(ack, connection.sndMax) > 0) {
      this.ackNow(connection); // acknowledges something never sent
      return false;
    }
    const acked = seqDiff(ack, connection.sndUna);
    if (acked > 0) {
      this.sampleRtt(connection, ack);
      const dataAcked = Math.min(acked, connection.sendBuffer.length);
      connection.sendBuffer.consume(dataAcked);
      connection.sndUna = ack;
      if (seqDiff(connection.sndNxt, ack) < 0) connection.sndNxt = ack;
      if (seqDiff(connection.sndMax, ack) < 0) connection.sndMax = ack;
      connection.retries = 0;
      connection.dupAcks = 0;
      connection.probeOutstanding = false;
      connection.recovering = false;
      connection.persistMs = connection.rto;
      this.stopRetransmit(connection);
      if (seqDiff(connection.sndMax, connection.sndUna) > 0) this.armRetransmit(connection);
      if (connection.hostPaused && !connection.hostEnded && connection.sendBuffer.length < this.core.limits.tcpBuffer / 2) {
        connection.hostPaused = false;
        connection.socket?.resume();
      }
      const finAcked = connection.finSent && acked > dataAcked;
      if (finAcked) {
        if (connection.state === "fin-wait-1") connection.state = "fin-wait-2";
        else if (connection.state === "closing") {
          this.updateWindow(connection, segment);
          this.enterTimeWait(connection);
          return false;
        } else if (connection.state === "last-ack") {
          this.remove(connection);
          return false;
        }
      }
    } else if (acked === 0 && segment.payload.length === 0 && !(segment.flags & FIN) && segment.window === connection.sndWnd && seqDiff(connection.sndMax, connection.sndUna) > 0) {
      connection.dupAcks++;
      if (connection.dupAcks === 3) {
        // fast retransmit of the first unacknowledged segment
        const length = Math.min(connection.sendBuffer.length, connection.sndMss);
        if (length > 0) {
          this.emit(connection, ACK, connection.sndUna, 0, length);
          connection.rttSeq = null;
          this.core.counters.add("tcp.fast-retransmits");
        }
      }
    }
    this.updateWindow(connection, segment);
    return true;
  }

  private updateWindow(connection: Connection, segment: TcpSegment): void {
    if (seqDiff(connection.sndWl1, segment.seq) < 0 || (connection.sndWl1 === segment.seq && seqDiff(connection.sndWl2, segment.ack) <= 0)) {
      connection.sndWnd = segment.window;
      connection.sndWl1 = segment.seq;
      connection.sndWl2 = segment.ack;
      if (segment.window > 0 && connection.persistTimer) {
        clearTimeout(connection.persistTimer);
        connection.persistTimer = null;
      }
    }
  }

  private sampleRtt(connection: Connection, ack: number): void {
    if (connection.rttSeq === null || seqDiff(ack, connection.rttSeq) <= 0) return;
    const sample = performance.now() - connection.rttStart;
    connection.rttSeq = null;
    if (connection.srtt < 0) {
      connection.srtt = sample;
      connection.rttvar = sample / 2;
    } else {
      connection.rttvar = 0.75 * connection.rttvar + 0.25 * Math.abs(connection.srtt - sample);
      connection.srtt = 0.875 * connection.srtt + 0.125 * sample;
    }
    connection.rto = Math.min(this.timings.rtoMaxMs, Math.max(this.timings.rtoMinMs, connection.srtt + Math.max(10, 4 * connection.rttvar)));
  }

  private inputSynSent(connection: Connection, segment: TcpSegment): void {
    const flags = segment.flags;
    const ackOk = (flags & ACK) !== 0 && seqDiff(segment.ack, connection.iss) > 0 && seqDiff(segment.ack, connection.sndMax) <= 0;
    if (flags & ACK && !ackOk) {
      if (!(flags & RST)) this.respondReset(connection.guestAddress, connection.remoteAddress, segment);
      return;
    }
    if (flags & RST) {
      if (ackOk) {
        // the guest refused the forwarded connection: the host client sees a reset
        this.core.counters.add("tcp.forward-refused");
        this.abort(connection, false);
      }
      return;
    }
    if (!(flags & SYN) || !ackOk) return; // no simultaneous open
    connection.irs = segment.seq;
    connection.rcvNxt = seqAdd(segment.seq, 1);
    connection.rcvEdge = connection.rcvNxt;
    connection.sndMss = Math.max(MIN_MSS, Math.min(connection.natMss, segment.mss ?? DEFAULT_MSS));
    this.sampleRtt(connection, segment.ack);
    connection.sndUna = segment.ack;
    connection.retries = 0;
    this.stopRetransmit(connection);
    this.established(connection, segment);
    this.ackNow(connection);
    this.output(connection);
  }

  close(): void {
    for (const connection of [...this.connections.values()]) {
      const socket = connection.socket;
      connection.socket = null;
      if (socket && !socket.destroyed) socket.destroy();
      this.remove(connection);
    }
    if (this.fastTimer) clearTimeout(this.fastTimer);
    this.fastTimer = null;
    this.delayedAcks.clear();
  }
}
