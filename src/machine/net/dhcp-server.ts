// The DHCP server, as libslirp 4.7's bootp.c: 16 addresses from 10.0.2.15, handed out by MAC and
// never taken back; OFFER for a DISCOVER, ACK for a REQUEST, NAK for a REQUEST of an address it
// cannot give; replies always broadcast. Only the decision is here; the NAT core sends the frame.
import { macEquals, type Ipv4Address } from "./wire/bytes.js";
import { type BootpReplyFields, type BootpRequest, DHCPACK, DHCPDISCOVER, DHCPNAK, DHCPOFFER, DHCPREQUEST } from "./wire/dhcp.js";

export const LEASE_SECONDS = 24 * 3600;
export const LEASE_COUNT = 16;

interface Lease {
  allocated: boolean;
  mac: Uint8Array;
}

export interface DhcpServerConfig {
  server: Ipv4Address;
  netmask: Ipv4Address;
  firstAddress: Ipv4Address;
  dns: Ipv4Address;
  /** restrict=on: no router and no DNS option */
  restricted: boolean;
}

export interface DhcpDecision {
  reply: BootpReplyFields;
  /** the address leased to the client's MAC (OFFER and ACK), for the ARP table */
  leased?: Ipv4Address;
}

export class DhcpServer {
  private readonly leases: Lease[] = Array.from({ length: LEASE_COUNT }, () => ({ allocated: false, mac: new Uint8Array(6) }));

  constructor(private readonly config: DhcpServerConfig) {}

  /** slirp's get_new_addr: the first entry that is free or already this MAC's. */
  private newAddress(mac: Uint8Array): Ipv4Address | null {
    for (let i = 0; i < LEASE_COUNT; i++) {
      const lease = this.leases[i];
      if (!lease.allocated || macEquals(lease.mac, mac)) {
        lease.allocated = true;
        return (this.config.firstAddress + i) >>> 0;
      }
    }
    return null;
  }

  /** slirp's request_addr: the requested address when it is in the pool and free or this MAC's. */
  private requestedAddress(address: Ipv4Address, mac: Uint8Array): boolean {
    const index = (address - this.config.firstAddress) >>> 0;
    if (index >= LEASE_COUNT) return false;
    const lease = this.leases[index];
    if (lease.allocated && !macEquals(lease.mac, mac)) return false;
    lease.allocated = true;
    return true;
  }

  /** slirp's find_addr: the address this MAC was given before. */
  private addressOf(mac: Uint8Array): Ipv4Address | null {
    for (let i = 0; i < LEASE_COUNT; i++) {
      if (macEquals(this.leases[i].mac, mac)) {
        this.leases[i].allocated = true;
        return (this.config.firstAddress + i) >>> 0;
      }
    }
    return null;
  }

  private remember(address: Ipv4Address, mac: Uint8Array): void {
    this.leases[(address - this.config.firstAddress) >>> 0].mac.set(mac.subarray(0, 6));
  }

  /** The address leased to `mac`, if any. */
  leaseOf(mac: Uint8Array): Ipv4Address | null {
    for (let i = 0; i < LEASE_COUNT; i++) {
      if (this.leases[i].allocated && macEquals(this.leases[i].mac, mac)) return (this.config.firstAddress + i) >>> 0;
    }
    return null;
  }

  /** The reply to a client's message, or null when slirp sends none (other message types, pool exhausted). */
  handle(request: BootpRequest): DhcpDecision | null {
    const type = request.messageType === 0 ? DHCPREQUEST : request.messageType; // plain BOOTP is answered as a REQUEST
    if (type !== DHCPDISCOVER && type !== DHCPREQUEST) return null;
    const mac = request.clientMac;
    let address: Ipv4Address | null = null;
    let nak = false;
    if (type === DHCPDISCOVER) {
      if (request.requestedAddress !== 0 && this.requestedAddress(request.requestedAddress, mac)) address = request.requestedAddress;
      if (address === null) address = this.newAddress(mac);
      if (address === null) return null;
      this.remember(address, mac);
    } else if (request.requestedAddress !== 0) {
      if (this.requestedAddress(request.requestedAddress, mac)) {
        address = request.requestedAddress;
        this.remember(address, mac);
      } else {
        nak = true;
      }
    } else {
      address = this.addressOf(mac);
      if (address === null) {
        // never assigned: answered as if it had been (slirp's "windows fix")
        address = this.newAddress(mac);
        if (address === null) return null;
        this.remember(address, mac);
      }
    }
    const common = { xid: request.xid, clientMac: mac, server: this.config.server, netmask: this.config.netmask, leaseSeconds: LEASE_SECONDS };
    if (nak) return { reply: { ...common, yiaddr: 0xffffffff, messageType: DHCPNAK } };
    const reply: BootpReplyFields = {
      ...common,
      yiaddr: address!,
      messageType: type === DHCPDISCOVER ? DHCPOFFER : DHCPACK,
      router: this.config.restricted ? undefined : this.config.server,
      dns: this.config.restricted ? undefined : this.config.dns,
    };
    return { reply, leased: address! };
  }
}
