// IPv4 reassembly with hard caps: a few datagrams at once, a few fragments each, 65535 bytes at
// most, 30 s to complete (slirp's IPFRAGTTL). Unlike slirp, which trims overlapping fragments, an
// overlap drops the whole datagram (RFC 5722's rule, applied to IPv4), as the guest's stack does.
import { FLAG_MF, type Ipv4Packet, OFFSET_MASK } from "./wire/ipv4.js";
import { put16 } from "./wire/bytes.js";
import { internetChecksum } from "./wire/checksum.js";

export const REASSEMBLY_TIMEOUT_MS = 30_000;
const MAX_PAYLOAD = 65535 - 20;

interface Fragment {
  offset: number;
  data: Uint8Array;
}

interface Pending {
  key: string;
  /** the first fragment's header (offset 0), once seen */
  header: Uint8Array | null;
  fragments: Fragment[];
  /** the payload length, once the last fragment (MF clear) is seen */
  totalLength: number;
  bytes: number;
  expires: number;
}

export type ReassemblyResult = { complete: Uint8Array } | { pending: true } | { dropped: string };

export class Reassembler {
  private readonly pending = new Map<string, Pending>();

  constructor(private readonly maxDatagrams: number, private readonly maxFragments: number) {}

  get size(): number {
    return this.pending.size;
  }

  /** Adds a fragment; a complete datagram comes back as the bytes of a whole IPv4 packet (MF and offset clear). */
  add(packet: Ipv4Packet, now: number): ReassemblyResult {
    this.expire(now);
    const offset = (packet.flagsOffset & OFFSET_MASK) * 8;
    const more = (packet.flagsOffset & FLAG_MF) !== 0;
    const data = packet.payload;
    if (more && (data.length === 0 || data.length % 8 !== 0)) return { dropped: "frag-length" };
    if (offset + data.length > MAX_PAYLOAD) return { dropped: "frag-oversize" };
    const key = `${packet.source}:${packet.destination}:${packet.protocol}:${packet.id}`;
    let entry = this.pending.get(key);
    if (!entry) {
      if (this.pending.size >= this.maxDatagrams) {
        // the oldest datagram makes room (a flood of first fragments cannot lock reassembly out)
        const oldest = this.pending.keys().next().value as string;
        this.pending.delete(oldest);
      }
      entry = { key, header: null, fragments: [], totalLength: -1, bytes: 0, expires: now + REASSEMBLY_TIMEOUT_MS };
      this.pending.set(key, entry);
    }
    const drop = (reason: string): ReassemblyResult => {
      this.pending.delete(key);
      return { dropped: reason };
    };
    if (!more) {
      const end = offset + data.length;
      if (entry.totalLength >= 0 && entry.totalLength !== end) return drop("frag-overlap");
      for (const fragment of entry.fragments) if (fragment.offset + fragment.data.length > end) return drop("frag-past-end");
      entry.totalLength = end;
    } else if (entry.totalLength >= 0 && offset + data.length > entry.totalLength) {
      return drop("frag-past-end");
    }
    for (const fragment of entry.fragments) {
      if (offset < fragment.offset + fragment.data.length && fragment.offset < offset + data.length) return drop("frag-overlap");
    }
    if (entry.fragments.length >= this.maxFragments) return drop("frag-count");
    entry.fragments.push({ offset, data: data.slice() });
    entry.bytes += data.length;
    if (offset === 0) entry.header = packet.header.slice();
    if (entry.header === null || entry.totalLength < 0 || entry.bytes !== entry.totalLength) return { pending: true };
    // complete: no overlaps and the byte count equals the length, so the fragments tile it exactly
    this.pending.delete(key);
    const header = entry.header;
    if (header.length + entry.totalLength > 0xffff) return { dropped: "frag-oversize" };
    const whole = new Uint8Array(header.length + entry.totalLength);
    whole.set(header, 0);
    for (const fragment of entry.fragments) whole.set(fragment.data, header.length + fragment.offset);
    put16(whole, 2, whole.length);
    put16(whole, 6, 0); // MF and offset cleared
    put16(whole, 10, 0);
    put16(whole, 10, internetChecksum(whole, 0, header.length));
    return { complete: whole };
  }

  expire(now: number): void {
    for (const [key, entry] of this.pending) {
      if (entry.expires <= now) this.pending.delete(key);
    }
  }

  clear(): void {
    this.pending.clear();
  }
}
