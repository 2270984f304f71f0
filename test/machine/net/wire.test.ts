// The NAT's wire formats (src/machine/net/wire/): every parser refuses what is too short or
// inconsistent, and every builder writes what the parsers read back.
import { describe, expect, it } from "vitest";
import { ByteQueue } from "../../../src/machine/net/byte-queue.js";
import { buildArpFrame, parseArp } from "../../../src/machine/net/wire/arp.js";
import { formatIpv4, parseIpv4 as parseAddress, put16 } from "../../../src/machine/net/wire/bytes.js";
import { internetChecksum } from "../../../src/machine/net/wire/checksum.js";
import { buildBootpReply, DHCPACK, parseBootpRequest } from "../../../src/machine/net/wire/dhcp.js";
import { buildDnsResponse, encodeDnsName, parseDnsQuery, TYPE_A } from "../../../src/machine/net/wire/dns.js";
import { parseEthernet } from "../../../src/machine/net/wire/ethernet.js";
import { parseIcmp } from "../../../src/machine/net/wire/icmp.js";
import { parseIpv4 } from "../../../src/machine/net/wire/ipv4.js";
import { parseTcp } from "../../../src/machine/net/wire/tcp.js";
import { parseUdp } from "../../../src/machine/net/wire/udp.js";
import { Reassembler } from "../../../src/machine/net/ip-reassembly.js";
import { arpRequest, BROADCAST, dhcpFrame, GATEWAY, GUEST_IP, GUEST_MAC, icmpEcho, ip, tcpFrame, udpFrame } from "./support/frames.js";

const ipOf = (frame: Uint8Array) => frame.subarray(14);

describe("addresses and checksums", () => {
  it("parses and formats dotted quads", () => {
    expect(parseAddress("10.0.2.15")).toBe(0x0a00020f);
    expect(parseAddress("255.255.255.255")).toBe(0xffffffff);
    for (const bad of ["10.0.2", "10.0.2.256", "a.b.c.d", "1.2.3.4.5", ""]) expect(parseAddress(bad)).toBeNull();
    expect(formatIpv4(0xc0a80101)).toBe("192.168.1.1");
  });

  it("computes the Internet checksum (RFC 1071's example) and verifies to 0", () => {
    const bytes = Uint8Array.from([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]);
    expect(internetChecksum(bytes, 0, 8)).toBe(~0xddf2 & 0xffff);
    const odd = Uint8Array.from([1, 2, 3, 0, 0]);
    put16(odd, 3, internetChecksum(odd, 0, 3));
    // an odd-length region is padded with a zero byte
    expect(internetChecksum(Uint8Array.from([1, 2, 3]), 0, 3)).toBe(~(0x0102 + 0x0300) & 0xffff);
  });
});

describe("Ethernet and ARP", () => {
  it("refuses frames shorter than the header", () => {
    expect(parseEthernet(new Uint8Array(13))).toBeNull();
    expect(parseEthernet(new Uint8Array(14))?.payload.length).toBe(0);
  });

  it("reads back an ARP request and refuses other hardware/protocol types and short packets", () => {
    const frame = arpRequest(GATEWAY);
    const arp = parseArp(frame.subarray(14));
    expect(arp).toMatchObject({ operation: 1, senderIp: GUEST_IP, targetIp: GATEWAY });
    expect(parseArp(frame.subarray(14, 14 + 27))).toBe("arp-short");
    const wrongType = frame.slice();
    wrongType[14 + 1] = 6;
    expect(parseArp(wrongType.subarray(14))).toBe("arp-format");
    const wrongLength = frame.slice();
    wrongLength[14 + 4] = 8;
    expect(parseArp(wrongLength.subarray(14))).toBe("arp-format");
  });

  it("pads frames to the minimum asked for", () => {
    expect(buildArpFrame(BROADCAST, GUEST_MAC, 2, GUEST_MAC, 1, GUEST_MAC, 2, 64).length).toBe(64);
    expect(buildArpFrame(BROADCAST, GUEST_MAC, 1, GUEST_MAC, 1, GUEST_MAC, 2).length).toBe(42);
  });
});

describe("IPv4", () => {
  const good = ipOf(icmpEcho(GATEWAY, 1, 1, new Uint8Array(8)));

  it("reads a header and strips link padding", () => {
    const padded = new Uint8Array(good.length + 10);
    padded.set(good);
    const packet = parseIpv4(padded);
    expect(typeof packet).toBe("object");
    if (typeof packet === "string") return;
    expect(packet.payload.length).toBe(16);
    expect(packet.destination).toBe(GATEWAY);
  });

  it("refuses short, wrong-version, bad-IHL, bad-checksum and bad-length packets", () => {
    expect(parseIpv4(good.subarray(0, 19))).toBe("ip-short");
    const v6 = good.slice();
    v6[0] = 0x65;
    expect(parseIpv4(v6)).toBe("ip-version");
    const ihl4 = good.slice();
    ihl4[0] = 0x44;
    expect(parseIpv4(ihl4)).toBe("ip-header-length");
    const ihl15 = good.slice();
    ihl15[0] = 0x4f;
    expect(parseIpv4(ihl15)).toBe("ip-header-length");
    const checksum = good.slice();
    checksum[10] ^= 1;
    expect(parseIpv4(checksum)).toBe("ip-checksum");
    const long = good.slice();
    put16(long, 2, good.length + 1);
    put16(long, 10, 0);
    put16(long, 10, internetChecksum(long, 0, 20));
    expect(parseIpv4(long)).toBe("ip-total-length");
    const short = good.slice();
    put16(short, 2, 19);
    put16(short, 10, 0);
    put16(short, 10, internetChecksum(short, 0, 20));
    expect(parseIpv4(short)).toBe("ip-total-length");
  });
});

describe("ICMP, UDP and TCP", () => {
  it("checks ICMP lengths and checksums", () => {
    const packet = ipOf(icmpEcho(GATEWAY, 1, 1, new Uint8Array(4)));
    expect(parseIcmp(packet.subarray(20, 27))).toBe("icmp-short");
    const bad = packet.slice(20);
    bad[9] ^= 0xff;
    expect(parseIcmp(bad)).toBe("icmp-checksum");
    expect(parseIcmp(packet.subarray(20))).toMatchObject({ type: 8, code: 0 });
  });

  it("checks UDP lengths and the pseudo-header checksum; a zero checksum is not checked", () => {
    const frame = udpFrame(1000, GATEWAY, 2000, Uint8Array.of(1, 2, 3));
    const payload = frame.subarray(34);
    expect(parseUdp(payload, GUEST_IP, GATEWAY)).toMatchObject({ sourcePort: 1000, destinationPort: 2000 });
    expect(parseUdp(payload, GUEST_IP, ip("10.0.2.3"))).toBe("udp-checksum"); // the pseudo header counts
    expect(parseUdp(payload.subarray(0, 7), GUEST_IP, GATEWAY)).toBe("udp-short");
    const tooLong = payload.slice();
    put16(tooLong, 4, 12);
    expect(parseUdp(tooLong, GUEST_IP, GATEWAY)).toBe("udp-length");
    const tooShort = payload.slice();
    put16(tooShort, 4, 7);
    expect(parseUdp(tooShort, GUEST_IP, GATEWAY)).toBe("udp-length");
    const unchecked = payload.slice();
    put16(unchecked, 6, 0);
    unchecked[8] ^= 0xff;
    expect(parseUdp(unchecked, GUEST_IP, GATEWAY)).toMatchObject({ payload: Uint8Array.of(0xfe, 2, 3) });
  });

  it("reads TCP options and refuses malformed ones, bad offsets and SYN with FIN or RST", () => {
    const syn = ipOf(tcpFrame(GATEWAY, { sourcePort: 1, destinationPort: 2, seq: 5, ack: 0, flags: 2, window: 100, mss: 1400 })).subarray(20);
    expect(parseTcp(syn, GUEST_IP, GATEWAY)).toMatchObject({ mss: 1400, flags: 2, seq: 5 });
    const withOptions = (options: number[], flags = 2) => {
      const length = 20 + options.length;
      const bytes = new Uint8Array(length);
      put16(bytes, 0, 1);
      put16(bytes, 2, 2);
      bytes[12] = (length / 4) << 4;
      bytes[13] = flags;
      bytes.set(options, 20);
      // a correct checksum, so that only the options are at fault
      const sum = (GUEST_IP >>> 16) + (GUEST_IP & 0xffff) + (GATEWAY >>> 16) + (GATEWAY & 0xffff) + 6 + length;
      put16(bytes, 16, internetChecksum(bytes, 0, length, sum));
      return parseTcp(bytes, GUEST_IP, GATEWAY);
    };
    expect(withOptions([2, 4, 5, 0xb4, 1, 3, 3, 7, 1, 4, 2, 0])).toMatchObject({ mss: 1460, windowScale: 7, sackPermitted: true });
    expect(withOptions([2, 3, 5, 0xb4])).toBe("tcp-options"); // MSS of length 3
    expect(withOptions([1, 1, 1, 2])).toBe("tcp-options"); // kind without length
    expect(withOptions([8, 1, 0, 0])).toBe("tcp-options"); // length below 2
    expect(withOptions([5, 10, 0, 0])).toBe("tcp-options"); // runs past the header
    expect(withOptions([0, 9, 9, 9])).toMatchObject({ flags: 2 }); // end of list: the rest is padding
    expect(withOptions([1, 1, 1, 1], 0x03)).toBe("tcp-flags");
    expect(withOptions([1, 1, 1, 1], 0x06)).toBe("tcp-flags");
    const badOffset = syn.slice();
    badOffset[12] = 0x40;
    expect(parseTcp(badOffset, GUEST_IP, GATEWAY)).toBe("tcp-offset");
    badOffset[12] = 0xf0;
    expect(parseTcp(badOffset, GUEST_IP, GATEWAY)).toBe("tcp-offset");
    expect(parseTcp(syn.subarray(0, 19), GUEST_IP, GATEWAY)).toBe("tcp-short");
    const badSum = syn.slice();
    badSum[4] ^= 1;
    expect(parseTcp(badSum, GUEST_IP, GATEWAY)).toBe("tcp-checksum");
  });
});

describe("DHCP", () => {
  it("reads the message type, the requested address and ciaddr as slirp does", () => {
    const discover = dhcpFrame(1, 0xabcdef01);
    expect(parseBootpRequest(discover.subarray(42))).toMatchObject({ messageType: 1, xid: 0xabcdef01, requestedAddress: 0 });
    const request = dhcpFrame(3, 7, { requested: ip("10.0.2.15") });
    expect(parseBootpRequest(request.subarray(42))).toMatchObject({ messageType: 3, requestedAddress: ip("10.0.2.15") });
    const renew = dhcpFrame(3, 8, { ciaddr: ip("10.0.2.16") });
    expect(parseBootpRequest(renew.subarray(42))).toMatchObject({ messageType: 3, requestedAddress: ip("10.0.2.16") });
  });

  it("refuses short messages, replies, and option lists that run past the end", () => {
    const discover = dhcpFrame(1, 1).subarray(42);
    expect(parseBootpRequest(discover.subarray(0, 235))).toBe("dhcp-short");
    const reply = discover.slice();
    reply[0] = 2;
    expect(parseBootpRequest(reply)).toBe("dhcp-op");
    const overrun = discover.slice(0, 243);
    overrun[240] = 53;
    overrun[241] = 9; // 9 bytes announced, 1 there
    expect(parseBootpRequest(overrun)).toBe("dhcp-options");
    const noLength = discover.slice(0, 241);
    noLength[240] = 50;
    expect(parseBootpRequest(noLength)).toBe("dhcp-options");
  });

  it("writes slirp's 548-byte reply layout", () => {
    const reply = buildBootpReply({ xid: 1, clientMac: GUEST_MAC, yiaddr: ip("10.0.2.15"), server: GATEWAY, messageType: DHCPACK, netmask: 0xffffff00, leaseSeconds: 86400 });
    expect(reply.length).toBe(548);
    expect(Array.from(reply.subarray(236, 240))).toEqual([0x63, 0x82, 0x53, 0x63]);
    expect(Array.from(reply.subarray(240, 240 + 22))).toEqual([53, 1, 5, 54, 4, 10, 0, 2, 2, 1, 4, 255, 255, 255, 0, 51, 4, 0, 1, 0x51, 0x80, 255]);
  });
});

describe("DNS", () => {
  const query = (name: string, type = TYPE_A) => {
    const bytes = [0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, ...encodeDnsName(name)!, type >> 8, type & 255, 0, 1];
    return Uint8Array.from(bytes);
  };

  it("reads one question and answers it with a pointer to the question's name", () => {
    const parsed = parseDnsQuery(query("Example.COM"));
    expect(parsed).toMatchObject({ id: 0x1234, name: "example.com", type: 1, class: 1, recursionDesired: true });
    if (typeof parsed === "string") return;
    const response = buildDnsResponse(parsed, 0, [{ type: 1, ttl: 60, data: Uint8Array.of(127, 0, 0, 1) }]);
    expect(response[2] & 0x80).toBe(0x80);
    expect(response.length).toBe(query("Example.COM").length + 16);
    expect(Array.from(response.subarray(-16, -14))).toEqual([0xc0, 12]);
  });

  it("refuses responses, compressed or overlong names and truncated questions", () => {
    const response = query("a.b");
    response[2] |= 0x80;
    expect(parseDnsQuery(response)).toBe("dns-response");
    const pointer = query("a.b");
    pointer[12] = 0xc0;
    expect(parseDnsQuery(pointer)).toBe("dns-name");
    expect(parseDnsQuery(query("a.b").subarray(0, 15))).toBe("dns-name");
    expect(parseDnsQuery(query("a.b").subarray(0, 18))).toBe("dns-short");
    expect(parseDnsQuery(new Uint8Array(11))).toBe("dns-short");
    const long = Uint8Array.from([0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, ...Array.from({ length: 5 }, () => [63, ...new Array(63).fill(97)]).flat(), 0, 0, 1, 0, 1]);
    expect(parseDnsQuery(long)).toBe("dns-name");
    expect(encodeDnsName("a".repeat(64) + ".b")).toBeNull();
  });
});

describe("the byte queue behind TCP's send buffer", () => {
  it("reads any range across chunks and drops from the front", () => {
    const queue = new ByteQueue();
    queue.push(Uint8Array.of(1, 2, 3));
    queue.push(Uint8Array.of(4, 5));
    queue.push(Uint8Array.of(6, 7, 8, 9));
    const target = new Uint8Array(5);
    queue.copyTo(2, 5, target, 0);
    expect(Array.from(target)).toEqual([3, 4, 5, 6, 7]);
    queue.consume(4);
    expect(queue.length).toBe(5);
    queue.copyTo(0, 5, target, 0);
    expect(Array.from(target)).toEqual([5, 6, 7, 8, 9]);
    expect(() => queue.copyTo(1, 5, target, 0)).toThrow(RangeError);
  });
});

describe("IPv4 reassembly", () => {
  const fragment = (id: number, offsetBytes: number, more: boolean, data: Uint8Array) => {
    const frame = icmpEcho(GATEWAY, 1, 1, new Uint8Array(0), { id, flagsOffset: (more ? 0x2000 : 0) | (offsetBytes / 8) });
    // replace the payload: build the IP packet by hand from the header
    const header = frame.slice(14, 34);
    const bytes = new Uint8Array(20 + data.length);
    bytes.set(header);
    bytes.set(data, 20);
    put16(bytes, 2, bytes.length);
    put16(bytes, 10, 0);
    put16(bytes, 10, internetChecksum(bytes, 0, 20));
    const packet = parseIpv4(bytes);
    if (typeof packet === "string") throw new Error(packet);
    return packet;
  };

  it("reassembles in any order and refuses overlaps, bad lengths, oversize and too many fragments", () => {
    const reassembler = new Reassembler(4, 8);
    const data = Uint8Array.from({ length: 40 }, (_, i) => i);
    expect(reassembler.add(fragment(1, 24, false, data.subarray(24)), 0)).toEqual({ pending: true });
    expect(reassembler.add(fragment(1, 0, true, data.subarray(0, 16)), 0)).toEqual({ pending: true });
    const done = reassembler.add(fragment(1, 16, true, data.subarray(16, 24)), 0);
    expect("complete" in done && Array.from(done.complete.subarray(20))).toEqual(Array.from(data));
    expect(reassembler.size).toBe(0);

    reassembler.add(fragment(2, 0, true, data.subarray(0, 16)), 0);
    expect(reassembler.add(fragment(2, 8, true, data.subarray(0, 8)), 0)).toEqual({ dropped: "frag-overlap" });
    expect(reassembler.add(fragment(3, 0, true, data.subarray(0, 10)), 0)).toEqual({ dropped: "frag-length" });
    expect(reassembler.add(fragment(4, 65528, false, data.subarray(0, 16)), 0)).toEqual({ dropped: "frag-oversize" });
    reassembler.add(fragment(5, 16, false, data.subarray(0, 8)), 0);
    expect(reassembler.add(fragment(5, 24, true, data.subarray(0, 8)), 0)).toEqual({ dropped: "frag-past-end" });
    for (let i = 0; i < 8; i++) reassembler.add(fragment(6, i * 8, true, data.subarray(0, 8)), 0);
    expect(reassembler.add(fragment(6, 64, true, data.subarray(0, 8)), 0)).toEqual({ dropped: "frag-count" });
    for (let id = 10; id < 20; id++) reassembler.add(fragment(id, 0, true, data.subarray(0, 8)), 0);
    expect(reassembler.size).toBe(4);
    reassembler.expire(31_000);
    expect(reassembler.size).toBe(0);
  });
});
