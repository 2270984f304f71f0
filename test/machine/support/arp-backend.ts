// A NetBackend for tests that answers ARP requests for 10.0.2.2 and 10.0.2.3 the way QEMU's
// user-mode network (libslirp 4.7) does (64-byte reply, sender MAC 52:55 + the IP, zero padding)
// and, with `echo`, ICMP echo requests to them (TTL 255, TOS and DF copied, as slirp), and records
// every frame the guest transmits. Replies are delivered synchronously, from inside
// receiveFromGuest, as slirp's are; a reply the guest cannot take yet is kept and retried when the
// device says the guest can receive.
import type { NetBackend, NetDevicePort } from "../../../src/machine/net/backend.js";

export class ArpBackend implements NetBackend {
  port: NetDevicePort | null = null;
  readonly sent: Uint8Array[] = [];
  readonly pending: Uint8Array[] = [];
  canReceiveCalls = 0;
  closed = false;

  constructor(private readonly options: { echo?: boolean } = {}) {}

  attach(port: NetDevicePort): void {
    this.port = port;
  }

  receiveFromGuest(frame: Uint8Array): void {
    this.sent.push(frame.slice());
    const reply = arpReply(frame) ?? (this.options.echo ? echoReply(frame) : null);
    if (reply !== null) this.send(reply);
  }

  /** Hands `frame` to the guest now, or keeps it for later. */
  send(frame: Uint8Array): void {
    if (this.pending.length > 0 || !this.port!.deliver(frame)) this.pending.push(frame);
  }

  guestCanReceive(): void {
    this.canReceiveCalls++;
    while (this.pending.length > 0 && this.port!.deliver(this.pending[0]!)) this.pending.shift();
  }

  close(): void {
    this.closed = true;
  }
}

/** slirp's reply to an ARP request for 10.0.2.2/10.0.2.3, or null. */
export function arpReply(frame: Uint8Array): Uint8Array | null {
  if (frame.length < 42 || frame[12] !== 0x08 || frame[13] !== 0x06) return null;
  if (frame[20] !== 0 || frame[21] !== 1) return null;
  const target = frame.subarray(38, 42);
  if (target[0] !== 10 || target[1] !== 0 || target[2] !== 2 || (target[3] !== 2 && target[3] !== 3)) return null;
  const reply = new Uint8Array(64);
  const nat = Uint8Array.of(0x52, 0x55, ...target);
  reply.set(frame.subarray(6, 12), 0);
  reply.set(nat, 6);
  reply.set([0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02], 12);
  reply.set(nat, 22);
  reply.set(target, 28);
  reply.set(frame.subarray(22, 32), 32);
  return reply;
}

function checksum(bytes: Uint8Array, start: number, end: number): number {
  let sum = 0;
  for (let i = start; i + 1 < end; i += 2) sum += (bytes[i]! << 8) | bytes[i + 1]!;
  if ((end - start) & 1) sum += bytes[end - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** slirp's answer to an ICMP echo request for 10.0.2.2/10.0.2.3 (IPv4 without options), or null. */
export function echoReply(frame: Uint8Array): Uint8Array | null {
  if (frame.length < 42 || frame[12] !== 0x08 || frame[13] !== 0x00) return null;
  const ihl = (frame[14]! & 0x0f) * 4;
  const total = (frame[16]! << 8) | frame[17]!;
  if (frame[14]! >> 4 !== 4 || ihl !== 20 || total < 28 || 14 + total > frame.length) return null;
  if (frame[23] !== 1 || frame[34] !== 8) return null;
  const dst = frame.subarray(30, 34);
  if (dst[0] !== 10 || dst[1] !== 0 || dst[2] !== 2 || (dst[3] !== 2 && dst[3] !== 3)) return null;
  const reply = frame.slice(0, 14 + total);
  reply.set(frame.subarray(6, 12), 0);
  reply.set([0x52, 0x55, ...dst], 6);
  reply.set(frame.subarray(30, 34), 26);
  reply.set(frame.subarray(26, 30), 30);
  reply[22] = 255; // TTL
  reply[24] = reply[25] = 0;
  const ipSum = checksum(reply, 14, 34);
  reply[24] = ipSum >> 8;
  reply[25] = ipSum & 0xff;
  reply[34] = 0; // echo reply
  reply[36] = reply[37] = 0;
  const icmpSum = checksum(reply, 34, 14 + total);
  reply[36] = icmpSum >> 8;
  reply[37] = icmpSum & 0xff;
  return reply;
}
