// The NAT's IPv6 wire formats (src/machine/net/wire/): IPv6 addresses, the header and its
// extension headers, ICMPv6 and NDP, UDP and TCP over the IPv6 pseudo header, stateless DHCPv6.
// Every parser refuses what is short or inconsistent by returning a reason, never by throwing.
import { describe, expect, it } from "vitest";
import { formatIpv6, inIpv6Prefix, parseAddress, parseIpv6 } from "../../../src/machine/net/wire/bytes.js";
import { buildDhcpv6Reply, parseInformationRequest } from "../../../src/machine/net/wire/dhcpv6.js";
import { ndpTarget, parseIcmpv6, parseNdpOptions } from "../../../src/machine/net/wire/icmpv6.js";
import { ipv6Payload, multicastMac, parseIpv6 as parseHeader, solicitedNodeAddress, walkExtensionHeaders } from "../../../src/machine/net/wire/ipv6.js";
import { parseTcp } from "../../../src/machine/net/wire/tcp.js";
import { parseUdp } from "../../../src/machine/net/wire/udp.js";
import { pattern } from "./support/host.js";
import { echo6, GUEST6, HOST6, hex, ip6, neighborSolicitation, routerSolicitation, tcp6Frame, udp6Frame } from "./support/frames.js";

describe("IPv6 addresses", () => {
  it("parses RFC 4291 text and formats RFC 5952 text", () => {
    expect(hex(parseIpv6("fec0::2")!)).toBe("fec00000000000000000000000000002");
    expect(hex(parseIpv6("::")!)).toBe("0".repeat(32));
    expect(hex(parseIpv6("::ffff:10.0.2.15")!)).toBe("00000000000000000000ffff0a00020f");
    expect(hex(parseIpv6("1:2:3:4:5:6:7:8")!)).toBe("00010002000300040005000600070008");
    for (const bad of ["", ":", "1::2::3", "12345::", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", "fec0::g", "[::1]", "fe80::1%eth0", "1.2.3.4::", "::1.2.3", "1:2:3:4:5:6:7::8"]) {
      expect(parseIpv6(bad), bad).toBeNull();
    }
    for (const [text, canonical] of [["fec0:0:0:0:0:0:0:2", "fec0::2"], ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"], ["0:0:0:0:0:0:0:1", "::1"], ["1:0:2:0:3:0:4:0", "1:0:2:0:3:0:4:0"], ["FE80::A", "fe80::a"]]) {
      expect(formatIpv6(parseIpv6(text)!)).toBe(canonical);
    }
    expect(parseAddress("10.0.2.2")).toBe(0x0a000202);
    expect(inIpv6Prefix(ip6("fec0::1234"), ip6("fec0::"), 64)).toBe(true);
    expect(inIpv6Prefix(ip6("fec0:0:0:1::"), ip6("fec0::"), 64)).toBe(false);
    expect(inIpv6Prefix(ip6("ff02::1:ff12:3456"), ip6("ff02::1:ff00:0"), 104)).toBe(true);
    expect(hex(solicitedNodeAddress(GUEST6))).toBe("ff0200000000000000000001ff123456");
    expect(hex(multicastMac(ip6("ff02::1")))).toBe("333300000001");
  });
});

describe("IPv6 header and extension headers", () => {
  it("reads the fixed header and refuses short packets, other versions and payloads past the end", () => {
    const packet = echo6(HOST6, 1, 2, [3, 4], { trafficClass: 0xab, flowLabel: 0x12345, hopLimit: 7 }).subarray(14);
    const header = parseHeader(packet);
    expect(header).toMatchObject({ trafficClass: 0xab, flowLabel: 0x12345, payloadLength: 10, nextHeader: 58, hopLimit: 7 });
    if (typeof header === "string") throw new Error(header);
    expect(hex(header.source)).toBe(hex(GUEST6));
    expect(ipv6Payload(packet, header)!.length).toBe(10);
    expect(ipv6Payload(packet.subarray(0, 49), header)).toBeNull();
    expect(parseHeader(packet.subarray(0, 39))).toBe("ip6-short");
    const v4 = packet.slice();
    v4[0] = 0x45;
    expect(parseHeader(v4)).toBe("ip6-version");
  });

  it("walks hop-by-hop, routing, fragment, destination options and authentication headers with their lengths checked", () => {
    const chain = Uint8Array.from([
      43, 0, 1, 4, 0, 0, 0, 0, // hop-by-hop (8), next routing
      44, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // routing (16), next fragment
      51, 0, 0, 0, 0, 0, 0, 1, // fragment (8), next AH
      60, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // AH ((1 + 2) * 4 = 12), next destination options
      6, 0, 1, 4, 0, 0, 0, 0, // destination options (8), next TCP
      0xaa, 0xbb,
    ]);
    expect(walkExtensionHeaders(chain, 0)).toEqual({ protocol: 6, offset: 52, extensionHeaders: 5, fragment: true });
    expect(walkExtensionHeaders(chain, 6)).toEqual({ protocol: 6, offset: 0, extensionHeaders: 0, fragment: false });
    for (let cut = 0; cut < 52; cut++) {
      const result = walkExtensionHeaders(chain.subarray(0, cut), 0);
      expect(result === "ip6-extension" || (typeof result !== "string" && result.offset <= cut), `cut at ${cut}`).toBe(true);
    }
    // a chain of hop-by-hop headers pointing at each other stops at the cap
    const loop = new Uint8Array(8 * 40);
    expect(walkExtensionHeaders(loop, 0)).toBe("ip6-extension");
  });
});

describe("ICMPv6, NDP, UDP and TCP over IPv6", () => {
  it("checks the ICMPv6 checksum over the pseudo header and reads NS targets and NDP options", () => {
    const frame = neighborSolicitation(HOST6, GUEST6);
    const packet = frame.subarray(14);
    const header = parseHeader(packet);
    if (typeof header === "string") throw new Error(header);
    const message = parseIcmpv6(packet.subarray(40), header.source, header.destination);
    if (typeof message === "string") throw new Error(message);
    expect(message.type).toBe(135);
    expect(hex(ndpTarget(message)!)).toBe(hex(HOST6));
    expect(parseNdpOptions(message.bytes, 24)).toEqual([{ type: 1, data: Uint8Array.from([0x52, 0x54, 0, 0x12, 0x34, 0x56]) }]);
    expect(parseIcmpv6(packet.subarray(40), HOST6, header.destination)).toBe("icmp6-checksum");
    expect(parseIcmpv6(packet.subarray(40, 43), header.source, header.destination)).toBe("icmp6-short");
    expect(ndpTarget({ type: 135, code: 0, bytes: message.bytes.subarray(0, 23) })).toBeNull();
    expect(parseNdpOptions(Uint8Array.of(1, 0, 0, 0, 0, 0, 0, 0), 0)).toBe("ndp-option");
    expect(parseNdpOptions(Uint8Array.of(1, 2, 0, 0, 0, 0, 0, 0), 0)).toBe("ndp-option");
    expect(parseNdpOptions(Uint8Array.of(1), 0)).toBe("ndp-option");
    const rs = routerSolicitation(new Uint8Array(16));
    expect(rs.length).toBe(14 + 40 + 8);
  });

  it("checks UDP over IPv6 always (a zero checksum too) and TCP over the IPv6 pseudo header", () => {
    const udp = udp6Frame(1, HOST6, 2, Uint8Array.of(9, 9)).subarray(54);
    expect(parseUdp(udp, GUEST6, HOST6)).toMatchObject({ sourcePort: 1, destinationPort: 2 });
    expect(parseUdp(udp, GUEST6, ip6("fec0::3"))).toBe("udp-checksum");
    const zero = udp.slice();
    zero.set([0, 0], 6);
    expect(parseUdp(zero, GUEST6, HOST6)).toBe("udp-checksum");
    const tcp = tcp6Frame(HOST6, { sourcePort: 5, destinationPort: 6, seq: 7, ack: 0, flags: 2, window: 100, mss: 1440 }).subarray(54);
    expect(parseTcp(tcp, GUEST6, HOST6)).toMatchObject({ sourcePort: 5, mss: 1440 });
    expect(parseTcp(tcp, GUEST6, ip6("fec0::3"))).toBe("tcp-checksum");
  });

  it("never throws on truncated or random input", () => {
    const frames = [echo6(HOST6, 1, 1, [1, 2, 3]), neighborSolicitation(HOST6), routerSolicitation(), udp6Frame(1, HOST6, 547, Uint8Array.of(11, 1, 2, 3, 0, 6, 0, 2, 0, 23)), tcp6Frame(HOST6, { sourcePort: 1, destinationPort: 2, seq: 3, ack: 4, flags: 2, window: 5, mss: 1440 })];
    const inputs: Uint8Array[] = [];
    for (const frame of frames) for (let cut = 0; cut <= frame.length; cut++) inputs.push(frame.subarray(14, cut));
    for (let seed = 1; seed < 300; seed++) inputs.push(pattern(seed % 97, seed));
    for (const packet of inputs) {
      expect(() => {
        const header = parseHeader(packet);
        const body = packet.subarray(Math.min(40, packet.length));
        walkExtensionHeaders(body, packet[6] ?? 0);
        const source = typeof header === "string" ? GUEST6 : header.source;
        const destination = typeof header === "string" ? HOST6 : header.destination;
        const message = parseIcmpv6(body, source, destination);
        if (typeof message !== "string") ndpTarget(message);
        parseNdpOptions(body, Math.min(24, body.length));
        parseUdp(body, source, destination);
        parseTcp(body, source, destination);
        parseInformationRequest(body);
      }).not.toThrow();
    }
  });
});

describe("stateless DHCPv6", () => {
  it("reads an Information-request as slirp does and writes the Reply with the options asked for", () => {
    const request = parseInformationRequest(Uint8Array.from([11, 0xab, 0xcd, 0xef, 0, 1, 0, 2, 7, 8, 0, 6, 0, 4, 0, 23, 0, 59, 0, 9, 0, 0]));
    expect(request).toMatchObject({ xid: 0xabcdef, wantDns: true, wantBootFileUrl: true });
    if (typeof request === "string") throw new Error(request);
    expect(hex(request.clientId!)).toBe("0708");
    const reply = buildDhcpv6Reply(request, ip6("fec0::3"), "tftp://x/");
    expect(hex(reply)).toBe("07abcdef" + "000100020708" + "00170010fec00000000000000000000000000003" + "003b0009" + hex(new TextEncoder().encode("tftp://x/")));
    expect(hex(buildDhcpv6Reply({ xid: 1, clientId: null, wantDns: false, wantBootFileUrl: false }, ip6("fec0::3"), ""))).toBe("07000001");
    expect(parseInformationRequest(Uint8Array.of(11, 1, 2))).toBe("dhcp6-short");
    expect(parseInformationRequest(Uint8Array.of(1, 1, 2, 3))).toBe("dhcp6-type");
    expect(parseInformationRequest(Uint8Array.of(11, 1, 2, 3, 0, 6, 0, 9, 0, 23))).toBe("dhcp6-options");
    expect(parseInformationRequest(Uint8Array.of(11, 1, 2, 3, 0, 6, 0, 3, 0, 23, 0))).toBe("dhcp6-options");
    expect(parseInformationRequest(Uint8Array.of(11, 1, 2, 3, 0, 5, 0, 1, 0))).toBe("dhcp6-ia");
    const longId = new Uint8Array(4 + 4 + 257);
    longId.set([11, 1, 2, 3, 0, 1, 257 >> 8, 257 & 0xff]);
    expect(parseInformationRequest(longId)).toBe("dhcp6-client-id");
    // slirp reads options only while more than 4 bytes remain: a 4-byte option at the end is not read
    expect(parseInformationRequest(Uint8Array.of(11, 1, 2, 3, 0, 5, 0, 0))).toMatchObject({ xid: 0x010203 });
  });
});
