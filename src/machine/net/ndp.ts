// Neighbor Discovery on the NAT's side, as libslirp 4.7's ip6_icmp.c and ndp_table.c: router
// advertisements for fec0::/64 (in reply to a router solicitation and on a random 200–600 s timer),
// neighbor advertisements for the NAT's own addresses (fec0::2, fec0::3, fe80::2, fe80::3), the
// neighbor table of the guest's addresses (16 entries replaced in turn, learnt from the guest's
// RS, NS and NA), and the neighbor solicitation sent for an address the table lacks. Measured
// facts: docs/nat.md.
import {
  ALL_NODES6, DNS6, HOST6, isNatAddress6, isVirtual, LINK_LOCAL_HOST6, natMac6, type NatCounters, PREFIX6, PREFIX6_LENGTH,
} from "./context.js";
import { BROADCAST_MAC, inIpv6Prefix, type Ipv6Address, ipv6Equals, isMulticastIpv6, isUnspecifiedIpv6 } from "./wire/bytes.js";
import {
  type Icmpv6Message, NA_OVERRIDE, NA_ROUTER, NA_SOLICITED, NDP_LINK_OPTION_LENGTH, NDP_NA_LENGTH, NDP_NEIGHBOR_ADVERTISEMENT,
  NDP_NEIGHBOR_SOLICITATION, NDP_NS_LENGTH, NDP_OPTION_SOURCE_LINK, NDP_OPTION_TARGET_LINK, NDP_PREFIX_OPTION_LENGTH,
  NDP_RA_LENGTH, NDP_RDNSS_OPTION_LENGTH, NDP_REDIRECT, NDP_ROUTER_ADVERTISEMENT, NDP_ROUTER_SOLICITATION, NDP_RS_LENGTH,
  ndpTarget, writeLinkLayerOption, writeNeighborMessage, writePrefixOption, writeRdnssOption, writeRouterAdvertisement,
} from "./wire/icmpv6.js";
import { type Ipv6Header, multicastMac, solicitedNodeAddress } from "./wire/ipv6.js";

/** slirp's NDP_TABLE_SIZE */
const TABLE_SIZE = 16;
/** NDP messages are only believed with hop limit 255 (RFC 4861 6.1; slirp checks it) */
const NDP_HOP_LIMIT = 255;
/** slirp's router configuration (ip6_icmp.h, RFC 4861 6.2.1): MaxRtrAdvInterval 600 s, MinRtrAdvInterval a third */
const MAX_RTR_ADV_INTERVAL_MS = 600_000;
export const DEFAULT_RA_INTERVAL = { minMs: MAX_RTR_ADV_INTERVAL_MS / 3, maxMs: MAX_RTR_ADV_INTERVAL_MS };
const RA_CUR_HOP_LIMIT = 64;
/** AdvDefaultLifetime: 3 × MaxRtrAdvInterval, in seconds */
const RA_ROUTER_LIFETIME = (3 * MAX_RTR_ADV_INTERVAL_MS) / 1000;
const PREFIX_VALID_LIFETIME = 86_400;
const PREFIX_PREFERRED_LIFETIME = 14_400;
/** slirp writes 2 × MaxRtrAdvInterval, in milliseconds, into a field of seconds: 1200000 s (copied as it is) */
const RDNSS_LIFETIME = 2 * MAX_RTR_ADV_INTERVAL_MS;
const SOLICITED_NODE_PREFIX = Uint8Array.of(0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff, 0, 0, 0);

/** What NDP needs from the NAT. */
export interface NdpHost {
  readonly counters: NatCounters;
  /** sends an ICMPv6 message from `source` to `destination`; `fill` writes it, the checksum is added after */
  sendIcmpv6(source: Ipv6Address, destination: Ipv6Address, length: number, fill: (frame: Uint8Array, offset: number) => void): void;
  /** the host has an IPv6 DNS server: RAs carry an RDNSS option for fec0::3 (slirp's get_dns6_addr) */
  hasIpv6DnsServer(): boolean;
  /** an address got a MAC: frames waiting for it can go */
  learnt(address: Ipv6Address): void;
  setTimer(callback: () => void, ms: number): NodeJS.Timeout;
  run(action: () => void): void;
}

export class NeighborDiscovery {
  private readonly table: Array<{ address: Ipv6Address; mac: Uint8Array }> = [];
  private victim = 0;
  /** the first address in fec0::/64 the guest showed (hostfwd6's default guest address) */
  private guest: Ipv6Address | null = null;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(private readonly host: NdpHost, private readonly interval = DEFAULT_RA_INTERVAL) {
    this.schedule();
  }

  get size(): number {
    return this.table.length;
  }

  guestAddress(): Ipv6Address | null {
    return this.guest;
  }

  /** The guest used `address` (as a source, or as the target of its duplicate address detection). */
  noteGuest(address: Ipv6Address): void {
    if (this.guest !== null || !isVirtual(address) || isNatAddress6(address) || ipv6Equals(address, PREFIX6)) return;
    this.guest = address.slice();
  }

  /** The MAC for `address`: multicast by RFC 2464, "::" broadcast (as slirp 4.7), else from the table; null when unknown. */
  lookup(address: Ipv6Address): Uint8Array | null {
    if (isMulticastIpv6(address)) return multicastMac(address);
    if (isUnspecifiedIpv6(address)) return BROADCAST_MAC;
    return this.table.find((entry) => ipv6Equals(entry.address, address))?.mac ?? null;
  }

  /** slirp's ndp_table_add: multicast and "::" are not noted; a known address gets the new MAC. */
  private add(address: Ipv6Address, mac: Uint8Array): void {
    if (isMulticastIpv6(address) || isUnspecifiedIpv6(address)) return;
    const entry = this.table.find((item) => ipv6Equals(item.address, address));
    if (entry) entry.mac = mac.slice(0, 6);
    else if (this.table.length < TABLE_SIZE) this.table.push({ address: address.slice(), mac: mac.slice(0, 6) });
    else {
      this.table[this.victim] = { address: address.slice(), mac: mac.slice(0, 6) };
      this.victim = (this.victim + 1) % TABLE_SIZE;
    }
    this.noteGuest(address);
    this.host.learnt(address);
  }

  /**
   * An NDP message from the guest (ICMPv6 types 133–137, checksum checked). Every one must come
   * with hop limit 255 and code 0, as slirp checks; slirp learns the Ethernet source of the frame,
   * not the link-layer option.
   */
  input(ethernetSource: Uint8Array, ip: Ipv6Header, message: Icmpv6Message): void {
    const counters = this.host.counters;
    const valid = ip.hopLimit === NDP_HOP_LIMIT && message.code === 0;
    switch (message.type) {
      case NDP_ROUTER_SOLICITATION:
        if (!valid || message.bytes.length < NDP_RS_LENGTH) return counters.drop("ndp-rs");
        this.add(ip.source, ethernetSource);
        this.advertiseRouter();
        return;
      case NDP_NEIGHBOR_SOLICITATION: {
        const target = ndpTarget(message);
        // from "::" (duplicate address detection) only to the solicited-node group
        if (!valid || target === null || isMulticastIpv6(target) || (isUnspecifiedIpv6(ip.source) && !inIpv6Prefix(ip.destination, SOLICITED_NODE_PREFIX, 104))) {
          return counters.drop("ndp-ns");
        }
        if (!isNatAddress6(target)) {
          if (isUnspecifiedIpv6(ip.source)) this.noteGuest(target); // the guest claims this address
          counters.add("ndp.ns-not-ours");
          return;
        }
        this.add(ip.source, ethernetSource);
        this.advertiseNeighbor(ip.source, target);
        return;
      }
      case NDP_NEIGHBOR_ADVERTISEMENT: {
        const target = ndpTarget(message);
        const solicited = (message.bytes[4] & NA_SOLICITED) !== 0;
        if (!valid || target === null || isMulticastIpv6(target) || (isMulticastIpv6(ip.destination) && solicited)) return counters.drop("ndp-na");
        this.add(ip.source, ethernetSource);
        return;
      }
      case NDP_ROUTER_ADVERTISEMENT:
      case NDP_REDIRECT:
        // slirp only warns ("guest sent NDP RA, but shouldn't")
        return counters.drop("ndp-from-guest");
      default:
        return counters.drop("icmp6-type");
    }
  }

  /** The router advertisement (to ff02::1 from fe80::2): prefix fec0::/64, and RDNSS fec0::3 when the host has an IPv6 DNS server. */
  advertiseRouter(): void {
    const rdnss = this.host.hasIpv6DnsServer();
    const length = NDP_RA_LENGTH + NDP_LINK_OPTION_LENGTH + NDP_PREFIX_OPTION_LENGTH + (rdnss ? NDP_RDNSS_OPTION_LENGTH : 0);
    this.host.sendIcmpv6(LINK_LOCAL_HOST6, ALL_NODES6, length, (frame, offset) => {
      writeRouterAdvertisement(frame, offset, {
        curHopLimit: RA_CUR_HOP_LIMIT, managed: false, otherConfig: false, routerLifetime: RA_ROUTER_LIFETIME, reachableTime: 0, retransTimer: 0,
      });
      let at = offset + NDP_RA_LENGTH;
      writeLinkLayerOption(frame, at, NDP_OPTION_SOURCE_LINK, natMac6(LINK_LOCAL_HOST6));
      at += NDP_LINK_OPTION_LENGTH;
      writePrefixOption(frame, at, {
        prefix: PREFIX6, prefixLength: PREFIX6_LENGTH, onLink: true, autonomous: true,
        validLifetime: PREFIX_VALID_LIFETIME, preferredLifetime: PREFIX_PREFERRED_LIFETIME,
      });
      at += NDP_PREFIX_OPTION_LENGTH;
      if (rdnss) writeRdnssOption(frame, at, RDNSS_LIFETIME, DNS6);
    });
    this.host.counters.add("ndp.router-advertisements");
  }

  /** The answer to a solicitation for one of the NAT's addresses: from it, to the asker or (DAD) to all nodes. */
  private advertiseNeighbor(asker: Ipv6Address, target: Ipv6Address): void {
    const destination = isUnspecifiedIpv6(asker) ? ALL_NODES6 : asker.slice();
    const flags = NA_ROUTER | (isMulticastIpv6(destination) ? 0 : NA_SOLICITED) | NA_OVERRIDE;
    const source = target.slice();
    this.host.sendIcmpv6(source, destination, NDP_NA_LENGTH + NDP_LINK_OPTION_LENGTH, (frame, offset) => {
      writeNeighborMessage(frame, offset, NDP_NEIGHBOR_ADVERTISEMENT, flags, source);
      writeLinkLayerOption(frame, offset + NDP_NA_LENGTH, NDP_OPTION_TARGET_LINK, natMac6(source));
    });
    this.host.counters.add("ndp.neighbor-advertisements");
  }

  /** Asks for the MAC of `address` (slirp's ndp_send_ns: from fec0::2 to the solicited-node group). */
  solicit(address: Ipv6Address): void {
    const target = address.slice();
    this.host.sendIcmpv6(HOST6, solicitedNodeAddress(target), NDP_NS_LENGTH + NDP_LINK_OPTION_LENGTH, (frame, offset) => {
      writeNeighborMessage(frame, offset, NDP_NEIGHBOR_SOLICITATION, 0, target);
      writeLinkLayerOption(frame, offset + NDP_NS_LENGTH, NDP_OPTION_SOURCE_LINK, natMac6(HOST6));
    });
    this.host.counters.add("ndp.neighbor-solicitations");
  }

  /** slirp's ra_timer: an unsolicited RA every MinRtrAdvInterval..MaxRtrAdvInterval (random), the first one interval after start. */
  private schedule(): void {
    if (this.closed) return;
    const { minMs, maxMs } = this.interval;
    const delay = minMs + Math.floor(Math.random() * Math.max(1, maxMs - minMs));
    this.timer = this.host.setTimer(() => this.host.run(() => {
      this.timer = null;
      if (this.closed) return;
      this.schedule();
      this.advertiseRouter();
    }), delay);
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
