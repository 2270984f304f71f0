// IPv6 against real QEMU 7.2 + libslirp 4.7, frame for frame (support/oracle.ts): router and
// neighbor discovery, ICMPv6 echo and errors, the NAT's own solicitation for an unknown guest
// address, UDP and TCP through fec0::2 to servers on the host's ::1, stateless DHCPv6, TFTP,
// restrict=on. Every frame must be the same bytes (TCP sequence numbers relative to the ISS, as in
// qemu-oracle.test.ts). DNS to fec0::3 is the one exchange that differs on purpose: see its test.
import dgram from "node:dgram";
import { getServers } from "node:dns";
import { describe, expect, it } from "vitest";
import { parseServer6 } from "../../../src/machine/net/context.js";
import { get16 } from "../../../src/machine/net/wire/bytes.js";
import {
  decode, DNS, DNS6, echo6, GUEST6, GUEST_LL, HOST6, icmp6Frame, ip6, neighborAdvertisement, neighborSolicitation, routerSolicitation,
  tcp6Frame, udp6Frame, udpFrame,
} from "./support/frames.js";
import { compareWithQemu, oracleServersFor, runOnOurs, runOnQemu, type Script } from "./support/oracle.js";
import { hasQemu } from "./support/qemu-slirp.js";

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");
const UNSPECIFIED = new Uint8Array(16);
const OTHER_MAC = Uint8Array.from([0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc]);
const isIcmp6 = (type: number) => (frame: Uint8Array) => decode(frame).icmp6?.type === type;
const dnsQuery = (id: number, name: string) =>
  Uint8Array.from([id >> 8, id & 255, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, ...name.split(".").flatMap((label) => [label.length, ...Buffer.from(label)]), 0, 0, 1, 0, 1]);
const hostHasIpv6Dns = getServers().some((entry) => parseServer6(entry) !== null);

async function hasIpv6Loopback(): Promise<boolean> {
  const socket = dgram.createSocket("udp6");
  const bound = await new Promise<boolean>((resolve) => {
    socket.once("error", () => resolve(false));
    socket.bind(0, "::1", () => resolve(true));
  });
  socket.close();
  return bound;
}

describe.runIf(hasQemu && (await hasIpv6Loopback()))("IPv6: the same frames as QEMU 7.2's libslirp", () => {
  const servers = oracleServersFor("::1");

  it("NDP: an RA for a valid RS (none for hop limit 64 or code 1), an NA for each of fec0::2, fec0::3, fe80::2, fe80::3 asked from a unicast source and by DAD, nothing for other targets", async () => {
    const frames = await compareWithQemu(async (link) => {
      link.send(routerSolicitation(GUEST_LL));
      await link.next(isIcmp6(134), "RA");
      link.send(routerSolicitation(UNSPECIFIED));
      await link.next(isIcmp6(134), "RA for an RS from ::");
      link.send(routerSolicitation(GUEST_LL, { hopLimit: 64 }));
      link.send(icmp6Frame(133, 1, [0, 0, 0, 0], { hopLimit: 255, source: GUEST_LL, destination: ip6("ff02::2") }));
      for (const target of ["fec0::2", "fec0::3", "fe80::2", "fe80::3"]) {
        link.send(neighborSolicitation(ip6(target), GUEST_LL));
        await link.next(isIcmp6(136), `NA for ${target}`);
        link.send(neighborSolicitation(ip6(target), UNSPECIFIED));
        await link.next(isIcmp6(136), `NA for ${target} to all nodes`);
      }
      link.send(neighborSolicitation(ip6("fec0::4"), GUEST_LL));
      link.send(neighborSolicitation(ip6("fe80::1"), UNSPECIFIED));
      link.send(neighborSolicitation(HOST6, GUEST6, { hopLimit: 64 }));
      await link.quiet(300);
    });
    expect(frames.length).toBe(10);
    // the RA: from fe80::2 / 52:56:00:00:00:02 to ff02::1 / 33:33:00:00:00:01, hop limit 255, prefix fec0::/64
    expect(frames[0].slice(0, 24)).toBe("333300000001" + "525600000002");
    expect(frames[0]).toContain("0304" + "40c0" + "00015180" + "00003840" + "00000000" + "fec00000000000000000000000000000");
    expect(frames[0].length / 2).toBe(hostHasIpv6Dns ? 134 : 110);
  });

  it("ICMPv6 echo: answered for the NAT's four addresses (hop limit 255, traffic class and flow label 0); time exceeded for hop limit 0, packet too big past 1500 bytes; nothing elsewhere, for a bad checksum or an extension header", async () => {
    const frames = await compareWithQemu(async (link) => {
      link.send(routerSolicitation(GUEST_LL));
      await link.next(isIcmp6(134), "RA");
      for (const [index, target] of ["fec0::2", "fec0::3", "fe80::2", "fe80::3"].entries()) {
        link.send(echo6(ip6(target), 0x1234, index, [0x61, 0x62, 0x63], { source: GUEST_LL, trafficClass: 0x28, flowLabel: 0x12345 }));
        await link.next(isIcmp6(129), `echo reply from ${target}`);
      }
      link.send(echo6(ip6("fec0::99"), 1, 1, [1], { source: GUEST_LL }));
      link.send(echo6(HOST6, 1, 2, [1], { source: GUEST_LL, hopLimit: 0 }));
      await link.next(isIcmp6(3), "time exceeded");
      link.send(echo6(HOST6, 1, 3, new Uint8Array(1460).fill(0x5a), { source: GUEST_LL }));
      await link.next(isIcmp6(2), "packet too big");
      link.send(echo6(HOST6, 1, 4, new Uint8Array(1500 - 48).fill(1), { source: GUEST_LL }));
      await link.next((frame) => frame.length === 1514, "a 1500-byte echo reply");
      const corrupt = echo6(HOST6, 1, 5, [1, 2], { source: GUEST_LL });
      corrupt[corrupt.length - 1] ^= 1;
      link.send(corrupt);
      // a hop-by-hop options header (PadN) before the ICMPv6 message
      const plain = echo6(HOST6, 1, 6, [1, 2], { source: GUEST_LL });
      const withOptions = new Uint8Array(plain.length + 8);
      withOptions.set(plain.subarray(0, 54));
      withOptions.set([58, 0, 1, 4, 0, 0, 0, 0], 54);
      withOptions.set(plain.subarray(54), 62);
      withOptions[20] = 0; // next header: hop-by-hop
      withOptions[19] += 8; // payload length
      link.send(withOptions);
      await link.quiet(300);
    });
    expect(frames.length).toBe(8);
  });

  it("NDP: a reply for an address missing from the neighbor table waits for the NAT's NS (from fec0::2 to the solicited-node group) and goes to the Ethernet source of the NA", async () => {
    const unknown = ip6("fec0::1234:5678");
    await compareWithQemu(async (link) => {
      link.send(echo6(HOST6, 7, 1, [1, 2, 3, 4], { source: unknown, sourceMac: OTHER_MAC }));
      await link.next(isIcmp6(135), "NS from the NAT");
      await link.quiet(200);
      link.send(neighborAdvertisement(unknown, HOST6, { sourceMac: Uint8Array.from([0x52, 0x54, 0, 0xaa, 0xbb, 0xcd]) }));
      await link.next(isIcmp6(129), "the held echo reply");
    });
  });

  it("UDP through fec0::2 to ::1: the reply, port unreachable from ::1, time exceeded for hop limit 1, no route to fec0::3 but port 53, any fec0:: address to ::1, a 4000-byte reply in one frame, TFTP refused, a zero checksum dropped", async () => {
    const frames = await compareWithQemu(async (link) => {
      link.send(routerSolicitation(GUEST6));
      await link.next(isIcmp6(134), "RA");
      link.send(udp6Frame(40001, HOST6, servers.echoPort, Uint8Array.of(0x41, 0x42, 0x43)));
      await link.next((frame) => decode(frame).udp?.destinationPort === 40001, "echo reply");
      link.send(udp6Frame(40002, HOST6, servers.closedPort, Uint8Array.of(0x41, 0x42, 0x43)));
      await link.next(isIcmp6(1), "port unreachable");
      link.send(udp6Frame(40003, HOST6, servers.echoPort, Uint8Array.of(1), { hopLimit: 1 }));
      await link.next(isIcmp6(3), "time exceeded");
      link.send(udp6Frame(40004, DNS6, 54, Uint8Array.of(1)));
      await link.next((frame) => isIcmp6(1)(frame) && decode(frame).icmp6!.code === 0, "no route");
      link.send(udp6Frame(40005, ip6("fec0::99"), servers.echoPort, Uint8Array.of(2)));
      await link.next((frame) => decode(frame).udp?.destinationPort === 40005, "reply from fec0::99");
      link.send(udp6Frame(40006, ip6("ff02::1"), servers.echoPort, Uint8Array.of(3)));
      await link.next((frame) => decode(frame).udp?.destinationPort === 40006, "reply to the all-nodes datagram, from ::1");
      link.send(udp6Frame(40007, HOST6, servers.echoPort, Uint8Array.of(0xbb)));
      await link.next((frame) => decode(frame).udp?.destinationPort === 40007, "the 4000-byte reply");
      link.send(udp6Frame(40008, HOST6, 69, Uint8Array.from([0, 1, ...Buffer.from("file"), 0, ...Buffer.from("octet"), 0])));
      await link.next((frame) => decode(frame).udp?.sourcePort === 69, "TFTP error");
      const unchecked = udp6Frame(40009, HOST6, servers.echoPort, Uint8Array.of(4));
      unchecked.set([0, 0], 60);
      link.send(unchecked);
      await link.quiet(300);
    });
    expect(frames.length).toBe(9);
    expect(frames.some((frame) => frame.length / 2 === 4062)).toBe(true);
  });

  it("DHCPv6: an Information-request gets the client id, the DNS server and the boot file URL asked for, from fec0::2 port 8962 (slirp's missing htons); malformed requests and other messages get nothing", async () => {
    const request = (body: number[]) => udp6Frame(546, ip6("ff02::1:2"), 547, Uint8Array.from(body), { source: GUEST_LL });
    const frames = await compareWithQemu(async (link) => {
      link.send(routerSolicitation(GUEST_LL));
      await link.next(isIcmp6(134), "RA");
      link.send(request([11, 0xab, 0xcd, 0xef, 0, 1, 0, 4, 1, 2, 3, 4, 0, 6, 0, 4, 0, 23, 0, 59, 0, 8, 0, 2, 0, 0]));
      await link.next((frame) => decode(frame).udp?.destinationPort === 546, "reply");
      link.send(udp6Frame(546, HOST6, 547, Uint8Array.of(11, 1, 2, 3), { source: GUEST_LL }));
      await link.next((frame) => decode(frame).udp?.destinationPort === 546, "reply without options");
      link.send(request([11, 1, 2, 3, 0, 6, 0, 2, 0, 23, 9, 9, 9]));
      await link.next((frame) => decode(frame).udp?.destinationPort === 546, "reply ignoring a 3-byte tail");
      link.send(request([11, 1, 2, 3, 0, 6, 0, 9, 0, 23]));
      link.send(request([11, 1, 2, 3, 0, 6, 0, 3, 0, 23, 0]));
      link.send(request([11, 1, 2, 3, 0, 5, 0, 1, 0])); // an IA address option (one of 4 bytes would not be read: "while more than 4 remain")
      link.send(request([11, 1, 2]));
      link.send(request([1, 1, 2, 3, 0, 1, 0, 4, 1, 2, 3, 4]));
      await link.quiet(300);
    });
    expect(frames.length).toBe(4);
    expect(frames[1]).toContain("2302" + "0222");
    expect(frames[1]).toContain(hex(Buffer.from("tftp://[fec0:0000:0000:0000:0000:0000:0000:0002]/(null)")));
  });

  it("TCP through fec0::2 to ::1: SYN-ACK after the host connect with MSS 1440, data and FIN in separate segments, the guest's data and FIN acknowledged; RST|ACK for a refused port, RST for a stray ACK; any fec0:: address reaches ::1", async () => {
    const frames = await compareWithQemu(async (link) => {
      link.send(routerSolicitation(GUEST6));
      await link.next(isIcmp6(134), "RA");
      const base = { sourcePort: 50000, destinationPort: servers.helloPort, window: 64240 };
      link.send(tcp6Frame(HOST6, { ...base, seq: 1000, ack: 0, flags: 0x02, mss: 1440 }));
      const synAck = decode(await link.next((frame) => (decode(frame).tcp?.flags ?? 0) === 0x12, "SYN-ACK")).tcp!;
      link.send(tcp6Frame(HOST6, { ...base, seq: 1001, ack: synAck.seq + 1, flags: 0x10 }));
      await link.next((frame) => ((decode(frame).tcp?.flags ?? 0) & 0x01) !== 0, "FIN");
      link.send(tcp6Frame(HOST6, { ...base, seq: 1001, ack: synAck.seq + 1, flags: 0x18 }, new TextEncoder().encode("hi")));
      await link.quiet(300);
      link.send(tcp6Frame(HOST6, { ...base, seq: 1003, ack: synAck.seq + 1 + 19 + 1, flags: 0x11 }));
      await link.next((frame) => decode(frame).tcp?.ack === 1004, "ACK of the guest's FIN");
      link.send(tcp6Frame(HOST6, { sourcePort: 50001, destinationPort: servers.refusedPort, seq: 5000, ack: 0, flags: 0x02, window: 64240, mss: 1440 }));
      await link.next((frame) => ((decode(frame).tcp?.flags ?? 0) & 0x04) !== 0, "RST|ACK");
      link.send(tcp6Frame(HOST6, { sourcePort: 50002, destinationPort: servers.refusedPort, seq: 5000, ack: 77, flags: 0x10, window: 64240 }));
      await link.next((frame) => decode(frame).tcp?.flags === 0x04, "RST");
      link.send(tcp6Frame(ip6("fec0::77"), { sourcePort: 50003, destinationPort: servers.helloPort, seq: 1, ack: 0, flags: 0x02, window: 64240, mss: 1440 }));
      await link.next((frame) => decode(frame).tcp?.flags === 0x12, "SYN-ACK from fec0::77");
      if (!hostHasIpv6Dns) {
        // no IPv6 DNS server on the host: TCP to fec0::3:53 has nowhere to go (ICMPv6 no route from fe80::2)
        link.send(tcp6Frame(DNS6, { sourcePort: 50004, destinationPort: 53, seq: 1, ack: 0, flags: 0x02, window: 64240, mss: 1440 }));
        await link.next(isIcmp6(1), "no route");
      }
    });
    const synAck = frames.find((frame) => frame.includes("020405a0"));
    expect(synAck, "MSS 1440").toBeDefined();
    expect(frames.length).toBeGreaterThanOrEqual(9);
  });

  it("restrict=on: RAs, NAs and echo replies as before; UDP (DNS and DHCPv6 included) dropped; a SYN reset with window 0", async () => {
    const frames = await compareWithQemu(async (link) => {
      link.send(routerSolicitation(GUEST_LL));
      await link.next(isIcmp6(134), "RA");
      link.send(neighborSolicitation(HOST6, GUEST6));
      await link.next(isIcmp6(136), "NA");
      link.send(echo6(HOST6, 1, 1, [1]));
      await link.next(isIcmp6(129), "echo reply");
      link.send(udp6Frame(546, ip6("ff02::1:2"), 547, Uint8Array.of(11, 1, 2, 3), { source: GUEST_LL }));
      link.send(udp6Frame(40001, HOST6, servers.echoPort, Uint8Array.of(1)));
      link.send(udp6Frame(40002, DNS6, 53, dnsQuery(1, "localhost")));
      link.send(udp6Frame(40003, HOST6, servers.echoPort, Uint8Array.of(1), { hopLimit: 1 }));
      link.send(tcp6Frame(HOST6, { sourcePort: 50000, destinationPort: servers.helloPort, seq: 1000, ack: 0, flags: 0x02, window: 64240, mss: 1440 }));
      await link.next((frame) => ((decode(frame).tcp?.flags ?? 0) & 0x04) !== 0, "RST|ACK");
      await link.quiet(300);
    }, ",restrict=on", { restrict: true });
    expect(frames.length).toBe(4);
  });

  it("DNS to fec0::3: slirp relays to the host's IPv6 DNS server (ICMPv6 no route without one); ours answers on the host, the same answer as 10.0.2.3 gives", async () => {
    const query = dnsQuery(0x4242, "localhost");
    const script: Script = async (link) => {
      link.send(routerSolicitation(GUEST6));
      await link.next(isIcmp6(134), "RA");
      link.send(udp6Frame(40013, DNS6, 53, query));
      if (link.ours) {
        await link.next((frame) => decode(frame).udp?.destinationPort === 40013, "DNS answer over IPv6");
        link.send(udpFrame(40014, DNS, 53, query));
        await link.next((frame) => decode(frame).udp?.destinationPort === 40014, "DNS answer over IPv4");
      } else if (!hostHasIpv6Dns) {
        await link.next(isIcmp6(1), "no route");
      } else {
        await link.quiet(2000);
      }
    };
    const theirs = await runOnQemu(script);
    const ours = await runOnOurs(script);
    const ra = (frames: Uint8Array[]) => frames.filter(isIcmp6(134)).map(hex);
    expect(ra(ours)).toEqual(ra(theirs));
    if (!hostHasIpv6Dns) {
      const error = decode(theirs.find(isIcmp6(1))!);
      expect([error.icmp6!.code, hex(error.icmp6!.bytes.slice(8))]).toEqual([0, hex(udp6Frame(40013, DNS6, 53, query).subarray(14))]);
    }
    const answer6 = decode(ours.find((frame) => decode(frame).udp?.destinationPort === 40013)!);
    const answer4 = decode(ours.find((frame) => decode(frame).udp?.destinationPort === 40014)!);
    expect(hex(answer6.ip6!.source)).toBe(hex(DNS6));
    expect(answer6.udp!.sourcePort).toBe(53);
    expect(get16(answer6.udp!.payload, 0)).toBe(0x4242);
    expect(hex(answer6.udp!.payload)).toBe(hex(answer4.udp!.payload));
  });
});
