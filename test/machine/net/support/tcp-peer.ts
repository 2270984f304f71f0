// A scripted guest TCP endpoint for the NAT's tests: it sees the frames the NAT delivers (a moment
// later, as a guest that runs after the device wrote its RX buffers), keeps the byte stream, and
// acknowledges by a policy the test controls (window size, whether to ACK at all). It sends data
// within the window the NAT offers, in segments of at most its MSS.
import type { UserNetBackend } from "../../../../src/machine/net/slirp.js";
import { type IpAddress, ipv6Equals, isIpv6 } from "../../../../src/machine/net/wire/bytes.js";
import { ACK, FIN, PSH, RST, SYN } from "../../../../src/machine/net/wire/tcp.js";
import type { FakeDevice } from "./fake-device.js";
import { decode, type Decoded, GATEWAY, GUEST6, GUEST_IP, tcp6Frame, tcpFrame } from "./frames.js";

export interface PeerOptions {
  /** the guest's port */
  port: number;
  /** the remote as the guest addresses it (IPv4 or IPv6; 10.0.2.2 by default) */
  remote?: IpAddress;
  /** the guest's own address (10.0.2.15, or its SLAAC address over IPv6, by default) */
  local?: IpAddress;
  remotePort: number;
  window?: number;
  mss?: number;
  iss?: number;
}

type TcpView = NonNullable<Decoded["tcp"]>;

export class GuestPeer {
  readonly port: number;
  readonly remote: IpAddress;
  readonly local: IpAddress;
  readonly remotePort: number;
  /** the window the guest offers (the test may change it) */
  window: number;
  /** acknowledge what arrives (false: a guest that stopped acknowledging) */
  autoAck = true;
  readonly mss: number;
  sndNxt: number;
  sndUna: number;
  rcvNxt = 0;
  /** the NAT's offered window and the right edge it allows */
  natWindow = 0;
  established = false;
  finReceived = false;
  resetReceived = false;
  readonly received: Buffer[] = [];
  receivedBytes = 0;
  /** every segment from the NAT for this connection, with the time it arrived */
  readonly segments: Array<{ tcp: TcpView; at: number; ttl: number; tos: number; flagsOffset: number }> = [];
  /** data segments from the NAT past the right edge of any window this guest offered (window probes of 1 byte aside) */
  windowViolations = 0;
  private maxEdge: number | null = null;
  private cursor = 0;
  private readonly listeners = new Set<() => void>();
  private scheduled = false;

  constructor(private readonly nat: UserNetBackend, private readonly device: FakeDevice, options: PeerOptions) {
    this.port = options.port;
    this.remote = options.remote ?? GATEWAY;
    this.local = options.local ?? (isIpv6(this.remote) ? GUEST6 : GUEST_IP);
    this.remotePort = options.remotePort;
    this.window = options.window ?? 64240;
    // what fits the 1500-byte MTU: the NAT answers a larger IPv6 packet with "packet too big"
    this.mss = options.mss ?? (isIpv6(this.remote) ? 1440 : 1460);
    this.sndNxt = this.sndUna = options.iss ?? 1000;
    device.listeners.add(() => this.schedule());
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.process();
    });
  }

  private mine(tcp: TcpView | undefined, decoded: Decoded): tcp is TcpView {
    if (tcp === undefined || tcp.destinationPort !== this.port || tcp.sourcePort !== this.remotePort) return false;
    const remote = this.remote;
    return isIpv6(remote) ? decoded.ip6 !== undefined && ipv6Equals(decoded.ip6.source, remote) : decoded.ip?.source === remote;
  }

  private process(): void {
    let needAck = false;
    for (; this.cursor < this.device.frames.length; this.cursor++) {
      const decoded = decode(this.device.frames[this.cursor]);
      if (!this.mine(decoded.tcp, decoded)) continue;
      const tcp = decoded.tcp!;
      this.segments.push({ tcp, at: performance.now(), ttl: decoded.ip?.ttl ?? decoded.ip6!.hopLimit, tos: decoded.ip?.tos ?? decoded.ip6!.trafficClass, flagsOffset: decoded.ip?.flagsOffset ?? 0 });
      if (tcp.flags & RST) {
        this.resetReceived = true;
        continue;
      }
      if (tcp.flags & SYN) {
        if (!this.established) {
          this.rcvNxt = (tcp.seq + 1) >>> 0;
          this.established = true;
          needAck = true;
        }
      }
      if (tcp.flags & ACK && ((tcp.ack - this.sndUna) | 0) > 0) this.sndUna = tcp.ack;
      if (tcp.flags & ACK) this.natWindow = tcp.window;
      if (tcp.payload.length > 1 && this.maxEdge !== null && ((tcp.seq + tcp.payload.length - this.maxEdge) | 0) > 0) this.windowViolations++;
      if (tcp.payload.length > 0) {
        if (tcp.seq === this.rcvNxt && this.autoAck) {
          const room = this.window - this.unread();
          const take = Math.max(0, Math.min(room, tcp.payload.length));
          if (take > 0) {
            this.received.push(Buffer.from(tcp.payload.subarray(0, take)));
            this.receivedBytes += take;
            if (!this.appReads) this.unreadBytes += take;
            this.rcvNxt = (this.rcvNxt + take) >>> 0;
          }
        }
        needAck = true;
      }
      if (tcp.flags & FIN && ((tcp.seq + tcp.payload.length) >>> 0) === this.rcvNxt && this.autoAck) {
        this.rcvNxt = (this.rcvNxt + 1) >>> 0;
        this.finReceived = true;
        needAck = true;
      }
    }
    if (needAck && this.autoAck) this.ack();
    for (const listener of [...this.listeners]) listener();
  }

  /** the guest's application reads at once (false: received bytes fill the window until drain()) */
  appReads = true;
  /** bytes received that the application has not consumed */
  unreadBytes = 0;
  private unread(): number {
    return this.unreadBytes;
  }

  /** the application reads `count` bytes (all by default): the window opens and the guest says so */
  drain(count = this.unreadBytes): void {
    this.unreadBytes -= Math.min(count, this.unreadBytes);
    this.ack();
  }

  offeredWindow(): number {
    return Math.max(0, Math.min(65535, this.window - this.unreadBytes));
  }

  segment(flags: number, payload: Uint8Array = new Uint8Array(0), seq = this.sndNxt, mss?: number): void {
    if (this.established) {
      const edge = (this.rcvNxt + this.offeredWindow()) >>> 0;
      if (this.maxEdge === null || ((edge - this.maxEdge) | 0) > 0) this.maxEdge = edge;
    }
    const fields = { sourcePort: this.port, destinationPort: this.remotePort, seq, ack: flags & ACK ? this.rcvNxt : 0, flags, window: this.offeredWindow(), mss };
    const remote = this.remote;
    const local = this.local;
    const frame = isIpv6(remote) ? tcp6Frame(remote, fields, payload, { source: isIpv6(local) ? local : GUEST6 }) : tcpFrame(remote, fields, payload, { source: isIpv6(local) ? GUEST_IP : local });
    this.nat.receiveFromGuest(frame);
  }

  ack(): void {
    this.segment(ACK);
  }

  /** resolves when `condition` holds (checked after each batch of frames), or rejects after `timeoutMs` */
  until(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
    if (condition()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!condition()) return;
        clearTimeout(timer);
        this.listeners.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.listeners.delete(check);
        reject(new Error(`timed out waiting for ${what}`));
      }, timeoutMs);
      this.listeners.add(check);
    });
  }

  async connect(): Promise<void> {
    this.segment(SYN, undefined, this.sndNxt, this.mss);
    this.sndNxt = (this.sndNxt + 1) >>> 0;
    await this.until(() => this.established || this.resetReceived, "SYN-ACK");
  }

  /** Sends `data` in MSS segments within the NAT's window, waiting for ACKs when it is full. */
  async send(data: Uint8Array, timeoutMs = 10_000): Promise<void> {
    let offset = 0;
    const deadline = Date.now() + timeoutMs;
    while (offset < data.length) {
      const inFlight = (this.sndNxt - this.sndUna) | 0;
      const room = this.natWindow - inFlight;
      if (room <= 0) {
        await this.until(() => this.natWindow - ((this.sndNxt - this.sndUna) | 0) > 0, "the NAT's window", Math.max(1, deadline - Date.now()));
        continue;
      }
      const length = Math.min(room, this.mss, data.length - offset);
      this.segment(ACK | PSH, data.subarray(offset, offset + length));
      this.sndNxt = (this.sndNxt + length) >>> 0;
      offset += length;
      if (offset % (16 * this.mss) === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    await this.until(() => this.sndUna === this.sndNxt, "the ACK of all data", Math.max(1, deadline - Date.now()));
  }

  fin(): void {
    this.segment(FIN | ACK);
    this.sndNxt = (this.sndNxt + 1) >>> 0;
  }

  reset(): void {
    this.segment(RST | ACK);
  }

  data(): Buffer {
    return Buffer.concat(this.received);
  }
}
