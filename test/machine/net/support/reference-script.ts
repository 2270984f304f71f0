// The exchanges recorded from real QEMU 7.2 + libslirp 4.7 into fixtures/slirp-4.7-replies.json
// (by record-slirp-fixture.ts) and replayed against our NAT by reference.test.ts: frames that need
// no host socket (DHCP, ARP, ICMP echo and errors, TCP resets), so the replies are the same bytes
// on any host. Each step's frames go in together; the replies are what came back.
import { put16 } from "../../../../src/machine/net/wire/bytes.js";
import { internetChecksum } from "../../../../src/machine/net/wire/checksum.js";
import { buildArpFrame } from "../../../../src/machine/net/wire/arp.js";
import { arpRequest, BROADCAST, DNS, dhcpFrame, GATEWAY, GUEST_MAC, icmpEcho, ip, NAT_MAC, tcpFrame, udpFrame } from "./frames.js";

export interface ReferenceStep {
  name: string;
  frames: Uint8Array[];
}

export interface ReferenceScenario {
  name: string;
  /** appended to QEMU's `-netdev user,id=u0` */
  netdev: string;
  restrict: boolean;
  steps: ReferenceStep[];
}

const OTHER_MAC = Uint8Array.from([0x52, 0x54, 0x00, 0xab, 0xcd, 0xef]);

/** An echo request split into fragments of `chunk` bytes of IP payload. */
function fragmentedEcho(destination: number, id: number, dataLength: number, chunk: number): Uint8Array[] {
  const whole = icmpEcho(destination, 0x4242, 7, Uint8Array.from({ length: dataLength }, (_, i) => i & 0xff), { id, flagsOffset: 0 });
  const payload = whole.subarray(34);
  const frames: Uint8Array[] = [];
  for (let offset = 0; offset < payload.length; offset += chunk) {
    const length = Math.min(chunk, payload.length - offset);
    const frame = new Uint8Array(34 + length);
    frame.set(whole.subarray(0, 34));
    frame.set(payload.subarray(offset, offset + length), 34);
    put16(frame, 16, 20 + length);
    put16(frame, 20, (offset + length < payload.length ? 0x2000 : 0) | (offset / 8));
    put16(frame, 24, 0);
    put16(frame, 24, internetChecksum(frame, 14, 34));
    frames.push(frame);
  }
  return frames;
}

/** An echo request whose IP header carries 4 bytes of options (NOPs and an end). */
function echoWithOptions(): Uint8Array {
  const plain = icmpEcho(GATEWAY, 9, 9, Uint8Array.of(1, 2, 3, 4), { tos: 0x10 });
  const frame = new Uint8Array(plain.length + 4);
  frame.set(plain.subarray(0, 34));
  frame.set([1, 1, 1, 0], 34);
  frame.set(plain.subarray(34), 38);
  frame[14] = 0x46;
  put16(frame, 16, plain.length - 14 + 4);
  put16(frame, 24, 0);
  put16(frame, 24, internetChecksum(frame, 14, 38));
  return frame;
}

export const referenceScenarios: ReferenceScenario[] = [
  {
    name: "default",
    netdev: "",
    restrict: false,
    steps: [
      { name: "ARP for the gateway (the harness's readiness probe)", frames: [arpRequest(GATEWAY)] },
      { name: "DHCP DISCOVER", frames: [dhcpFrame(1, 0x11223344)] },
      { name: "DHCP REQUEST of the offered address", frames: [dhcpFrame(3, 0x11223345, { requested: ip("10.0.2.15"), server: GATEWAY })] },
      { name: "DHCP REQUEST of an address outside the pool: NAK", frames: [dhcpFrame(3, 0x11223346, { requested: ip("10.0.2.99"), server: GATEWAY })] },
      { name: "DHCP DISCOVER from a second MAC", frames: [dhcpFrame(1, 0x55667788, { mac: OTHER_MAC })] },
      { name: "DHCP REQUEST of the first client's address from the second MAC: NAK", frames: [dhcpFrame(3, 0x55667789, { mac: OTHER_MAC, requested: ip("10.0.2.15") })] },
      { name: "DHCP REQUEST with ciaddr only (renewal)", frames: [dhcpFrame(3, 0x1122334a, { ciaddr: ip("10.0.2.15") })] },
      { name: "DHCP RELEASE and INFORM: no reply", frames: [dhcpFrame(7, 1), dhcpFrame(8, 2)] },
      { name: "ARP for the DNS address", frames: [arpRequest(DNS)] },
      { name: "ARP for other addresses: no reply", frames: [arpRequest(ip("10.0.2.4")), arpRequest(ip("10.0.2.15")), arpRequest(ip("8.8.8.8"))] },
      { name: "gratuitous ARP and an ARP reply: no reply", frames: [arpRequest(ip("10.0.2.15"), ip("10.0.2.15")), buildArpFrame(NAT_MAC, GUEST_MAC, 2, GUEST_MAC, ip("10.0.2.15"), NAT_MAC, GATEWAY)] },
      { name: "ICMP echo to the gateway with DF and TOS 0x28", frames: [icmpEcho(GATEWAY, 0x1234, 1, Uint8Array.from({ length: 56 }, (_, i) => i), { tos: 0x28, id: 77, ttl: 3 })] },
      { name: "ICMP echo to the DNS address without DF", frames: [icmpEcho(DNS, 0x1234, 2, Uint8Array.of(1, 2, 3), { flagsOffset: 0, id: 78 })] },
      { name: "ICMP echo with IP options: the reply has none", frames: [echoWithOptions()] },
      { name: "ICMP echo in two fragments", frames: fragmentedEcho(GATEWAY, 500, 1000, 512) },
      { name: "ICMP echo of 3000 bytes in three fragments: the reply is fragmented", frames: fragmentedEcho(GATEWAY, 501, 3000, 1480) },
      { name: "UDP to the DNS address, not port 53, with DF: network unreachable quoting 548 bytes", frames: [udpFrame(40010, DNS, 1234, new Uint8Array(600).fill(0x61), { tos: 0x04, flagsOffset: 0x4000 })] },
      { name: "TCP SYN to the DNS address port 80: network unreachable", frames: [tcpFrame(DNS, { sourcePort: 50004, destinationPort: 80, seq: 1000, ack: 0, flags: 2, window: 64240, mss: 1460 }, undefined, { tos: 0x08 })] },
      { name: "TCP ACK for no connection: RST", frames: [tcpFrame(GATEWAY, { sourcePort: 50002, destinationPort: 4444, seq: 777, ack: 888, flags: 0x10, window: 1000 }, undefined, { tos: 0x10 })] },
      { name: "TCP FIN with data for no connection: RST|ACK", frames: [tcpFrame(GATEWAY, { sourcePort: 50003, destinationPort: 4444, seq: 777, ack: 0, flags: 0x01, window: 1000 }, Uint8Array.of(1, 2, 3))] },
      { name: "TCP RST for no connection: nothing", frames: [tcpFrame(GATEWAY, { sourcePort: 50003, destinationPort: 4444, seq: 777, ack: 0, flags: 0x04, window: 0 })] },
      { name: "TFTP read request (TFTP is off): error 2, access violation", frames: [udpFrame(40030, GATEWAY, 69, Uint8Array.from([0, 1, ...new TextEncoder().encode("pxelinux.0"), 0, ...new TextEncoder().encode("octet"), 0]))] },
      { name: "TFTP write request and a short datagram: nothing", frames: [udpFrame(40031, GATEWAY, 69, Uint8Array.from([0, 2, 0x61, 0, 0x62, 0])), udpFrame(40032, GATEWAY, 69, Uint8Array.of(0))] },
      { name: "UDP with TTL 1: time exceeded", frames: [udpFrame(40020, GATEWAY, 9, Uint8Array.of(1), { ttl: 1, tos: 0x10 })] },
    ],
  },
  {
    name: "restrict=on",
    netdev: ",restrict=on",
    restrict: true,
    steps: [
      { name: "ARP for the gateway (the harness's readiness probe)", frames: [arpRequest(GATEWAY)] },
      { name: "DHCP DISCOVER: no router, no DNS option", frames: [dhcpFrame(1, 0x01020304)] },
      { name: "DHCP REQUEST", frames: [dhcpFrame(3, 0x01020305, { requested: ip("10.0.2.15") })] },
      { name: "TCP SYN: RST|ACK", frames: [tcpFrame(GATEWAY, { sourcePort: 50000, destinationPort: 8080, seq: 1000, ack: 0, flags: 2, window: 64240, mss: 1460 }, undefined, { tos: 0x10 })] },
      { name: "UDP, DNS included: dropped", frames: [udpFrame(40000, GATEWAY, 9, Uint8Array.of(1, 2, 3)), udpFrame(40001, DNS, 53, new Uint8Array(20))] },
      { name: "ICMP echo to the gateway: answered", frames: [icmpEcho(GATEWAY, 1, 1, new Uint8Array(4))] },
    ],
  },
];

export { BROADCAST };
