// Robustness: 10^5 malformed and hostile frames, IPv4 and IPv6 (fixed seed; NAT_FUZZ_FRAMES for
// more, NAT_FUZZ_SEED for another sequence) fed to the NAT while well-behaved TCP connections
// through it, one over each family, keep carrying data intact. Nothing may throw (the internal-error counter stays 0), every flow and
// buffer stays within its cap, and the heap does not grow without bound.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { get32, put16 } from "../../../src/machine/net/wire/bytes.js";
import { internetChecksum } from "../../../src/machine/net/wire/checksum.js";
import { buildArpFrame } from "../../../src/machine/net/wire/arp.js";
import { ACK, FIN, PSH, RST, SYN, URG } from "../../../src/machine/net/wire/tcp.js";
import {
  arpRequest, BROADCAST, DNS, DNS6, dhcpFrame, echo6, GATEWAY, GUEST6, GUEST_IP, GUEST_LL, GUEST_MAC, HOST6, icmp6Frame, icmpEcho, ip, ip6,
  neighborAdvertisement, NAT_MAC, tcp6Frame, tcpFrame, udp6Frame, udpFrame,
} from "./support/frames.js";
import { natWithDevice, pattern, sha256, sleep, tcpServer, type TestServer } from "./support/host.js";
import { GuestPeer } from "./support/tcp-peer.js";
import dgram from "node:dgram";

const FRAMES = Number(process.env.NAT_FUZZ_FRAMES ?? 100_000);
const SEED = Number(process.env.NAT_FUZZ_SEED ?? 0x5eed);
const PEER_PORT = 33333;
const VICTIM_PORT = 33334;
const PEER6_PORT = 33335;

/** xorshift32: the same frames on every run for a seed */
class Random {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0 || 1;
  }
  next(): number {
    let x = this.state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x >>> 0;
    return this.state;
  }
  int(bound: number): number {
    return this.next() % bound;
  }
  chance(percent: number): boolean {
    return this.int(100) < percent;
  }
  bytes(length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) out[i] = this.next() & 0xff;
    return out;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
}

function fixIpChecksum(frame: Uint8Array): void {
  if (frame.length < 34 || frame[12] !== 8 || frame[13] !== 0) return;
  const headerLength = (frame[14] & 15) * 4;
  if (headerLength < 20 || 14 + headerLength > frame.length) return;
  put16(frame, 24, 0);
  put16(frame, 24, internetChecksum(frame, 14, 14 + headerLength));
}

interface FuzzTargets {
  echoPort: number;
  echo6Port: number;
  udpEchoPort: number;
  closedPort: number;
  victimSeq: () => number;
}

/** One frame: a valid template of some kind, usually broken somehow. */
function generate(random: Random, targets: FuzzTargets): Uint8Array {
  let frame: Uint8Array;
  const kind = random.int(15);
  switch (kind) {
    case 0:
      frame = random.bytes(random.int(1600));
      break;
    case 1: {
      const target = random.pick([GATEWAY, DNS, GUEST_IP, ip("10.0.2.99"), random.next()]);
      frame = random.chance(50)
        ? arpRequest(target, random.chance(80) ? GUEST_IP : random.next())
        : buildArpFrame(random.pick([NAT_MAC, BROADCAST]), GUEST_MAC, random.int(4), GUEST_MAC, random.next(), random.bytes(6), random.next(), random.int(80));
      break;
    }
    case 2: {
      const extra = Array.from(random.bytes(random.int(40)));
      frame = dhcpFrame(random.pick([0, 1, 3, 3, 4, 7, 8, 200]), random.next(), {
        requested: random.chance(50) ? random.pick([GUEST_IP, ip("10.0.2.20"), ip("10.0.2.40"), random.next()]) : undefined,
        mac: random.chance(30) ? random.bytes(6) : GUEST_MAC,
        extra,
      });
      if (random.chance(30)) {
        // an option list that runs past the end of the message
        const cut = 42 + 240 + random.int(20);
        frame = frame.slice(0, cut);
        put16(frame, 16, cut - 14);
        put16(frame, 38, cut - 34);
        put16(frame, 40, 0); // no UDP checksum: the DHCP parser sees it
        fixIpChecksum(frame);
      }
      break;
    }
    case 3:
      frame = icmpEcho(random.pick([GATEWAY, DNS, ip("10.0.2.7"), random.next()]), random.int(65536), random.int(65536), random.bytes(random.int(1500)), {
        tos: random.int(256), flagsOffset: random.pick([0, 0x4000, 0x2000, random.int(65536)]), ttl: random.int(256),
      });
      break;
    case 4: {
      // DNS: a real query or junk
      const payload = random.chance(50)
        ? Uint8Array.from([random.int(256), random.int(256), 1, 0, 0, random.int(3), 0, 0, 0, 0, 0, 0, 3, 0x66, 0x6f, 0x6f, 0, 0, random.pick([1, 28, 12, 15, 255]), 0, random.pick([1, 3])])
        : random.bytes(random.int(600));
      frame = udpFrame(1024 + random.int(60000), DNS, random.chance(90) ? 53 : random.int(65536), payload, { ttl: random.int(3) === 0 ? random.int(3) : 64 });
      break;
    }
    case 5:
      frame = udpFrame(20000 + random.int(100), random.pick([GATEWAY, GATEWAY, 0xffffffff, ip("10.0.2.255"), ip("224.0.0.1")]), random.pick([targets.udpEchoPort, targets.closedPort]), random.bytes(random.int(1400)), {
        source: random.chance(95) ? GUEST_IP : random.pick([0, ip("127.0.0.1"), 0xffffffff]),
      });
      break;
    case 6: {
      // the victim connection: any flags, sequence numbers near and far, options
      const flags = random.int(64);
      const seq = random.chance(70) ? (targets.victimSeq() + random.int(200000) - 100000) >>> 0 : random.next();
      frame = tcpFrame(GATEWAY, { sourcePort: VICTIM_PORT, destinationPort: targets.echoPort, seq, ack: random.next(), flags, window: random.int(65536), mss: random.chance(20) ? random.int(65536) : undefined }, random.bytes(random.int(random.chance(10) ? 1460 : 40)));
      break;
    }
    case 7: {
      // other connections: resets, stray segments, SYNs to a closed port and to the echo server
      const flags = random.pick([SYN, SYN, ACK, RST, FIN | ACK, PSH | ACK, URG | SYN, SYN | ACK, random.int(256)]);
      const port = flags === SYN ? random.pick([targets.closedPort, targets.echoPort]) : random.int(65536);
      frame = tcpFrame(random.pick([GATEWAY, DNS, ip("10.0.2.9")]), { sourcePort: 40000 + random.int(2000), destinationPort: port, seq: random.next(), ack: random.next(), flags, window: random.int(65536) }, random.bytes(random.int(100)));
      break;
    }
    case 8: {
      // fragments: overlapping, oversized, past the end, many ids
      const offset = random.pick([0, 1, 8, 64, 185, 8189, random.int(8192)]);
      const more = random.chance(60);
      frame = icmpEcho(GATEWAY, 1, 1, random.bytes(random.pick([0, 8, 16, 1472, random.int(1480)])), { id: random.int(8), flagsOffset: (more ? 0x2000 : 0) | offset });
      break;
    }
    case 9: {
      // header lengths: IHL, total length, options
      frame = udpFrame(20100, GATEWAY, targets.udpEchoPort, random.bytes(random.int(64)));
      frame[14] = 0x40 | random.int(16);
      if (random.chance(50)) put16(frame, 16, random.int(65536));
      fixIpChecksum(frame);
      break;
    }
    case 10: {
      // a TCP header with a bad data offset or option list, checksum valid
      frame = tcpFrame(GATEWAY, { sourcePort: 40000 + random.int(2000), destinationPort: targets.closedPort, seq: random.next(), ack: 0, flags: SYN, window: 1000, mss: 1460 });
      const tcp = 34;
      if (random.chance(50)) frame[tcp + 12] = random.int(16) << 4;
      else frame.set(random.bytes(4), tcp + 20);
      put16(frame, tcp + 16, 0);
      const length = frame.length - tcp;
      const sum = (GUEST_IP >>> 16) + (GUEST_IP & 0xffff) + (GATEWAY >>> 16) + (GATEWAY & 0xffff) + 6 + length;
      put16(frame, tcp + 16, internetChecksum(frame, tcp, frame.length, sum));
      break;
    }
    case 12: {
      // ICMPv6: NDP of every type with any hop limit, code and length, echo, errors, from anywhere
      const sources = [GUEST6, GUEST_LL, new Uint8Array(16), ip6("::1"), ip6("ff02::1"), random.bytes(16), ip6(`fec0::${random.int(64).toString(16)}`)];
      const destinations = [HOST6, DNS6, ip6("fe80::2"), ip6("ff02::1"), ip6("ff02::2"), ip6("ff02::1:ff00:2"), ip6("fec0::99"), random.bytes(16)];
      const targets = [HOST6, DNS6, ip6("fe80::3"), GUEST6, ip6("ff02::1"), random.bytes(16)];
      const type = random.pick([128, 129, 133, 134, 135, 136, 137, 1, 2, 3, 4, random.int(256)]);
      const body = type === 135 || type === 136 || type === 137
        ? [random.int(256), 0, 0, 0, ...random.pick(targets), ...random.bytes(random.int(3) * 8)]
        : Array.from(random.bytes(random.int(type === 128 ? 1500 : 64)));
      frame = icmp6Frame(type, random.chance(90) ? 0 : random.int(256), body, {
        source: random.pick(sources), destination: random.pick(destinations), hopLimit: random.pick([255, 255, 64, 1, 0]), sourceMac: random.chance(80) ? GUEST_MAC : random.bytes(6),
      });
      break;
    }
    case 13: {
      // UDP and TCP over IPv6: to the NAT's addresses, DNS, DHCPv6, TFTP, multicast; stray segments
      // (every destination stays on the host's loopback: fec0::/64 and ff02::1 go to ::1)
      const destination = random.pick([HOST6, HOST6, DNS6, ip6("fec0::7"), ip6("ff02::1"), ip6("ff02::1:2"), ip6("ff02::fb")]);
      if (random.chance(50)) {
        const port = random.pick([53, 547, 69, targets.echo6Port, targets.closedPort, random.int(65536)]);
        const payload = port === 547 ? Uint8Array.from([random.pick([11, 11, 1, 3]), 1, 2, 3, ...random.bytes(random.int(40))]) : random.bytes(random.int(1200));
        frame = udp6Frame(random.pick([546, 20000 + random.int(100)]), destination, port, payload, { source: random.chance(90) ? GUEST6 : GUEST_LL, hopLimit: random.pick([64, 64, 1, 2]) });
      } else {
        const flags = random.pick([SYN, ACK, RST, FIN | ACK, PSH | ACK, random.int(64)]);
        frame = tcp6Frame(destination, { sourcePort: 42000 + random.int(200), destinationPort: random.pick([targets.echo6Port, targets.closedPort, 53]), seq: random.next(), ack: random.next(), flags, window: random.int(65536) }, random.bytes(random.int(100)));
      }
      break;
    }
    case 14: {
      // IPv6 headers: version, payload length, extension header chains, the next header field
      frame = echo6(HOST6, 1, 1, random.bytes(random.int(64)));
      const choice = random.int(4);
      if (choice === 0) frame[14] = random.int(256);
      else if (choice === 1) put16(frame, 18, random.pick([0, 1, 7, 8, frame.length - 54, 1461, 65535, random.int(65536)]));
      else if (choice === 2) frame[20] = random.pick([0, 43, 44, 50, 51, 59, 60, 135, random.int(256)]);
      else {
        const chain = random.bytes(8 * (1 + random.int(6)));
        for (let at = 0; at < chain.length; at += 8) chain[at] = random.pick([0, 43, 44, 51, 60, 58, 6, 17]);
        const longer = new Uint8Array(frame.length + chain.length);
        longer.set(frame.subarray(0, 54));
        longer.set(chain, 54);
        longer.set(frame.subarray(54), 54 + chain.length);
        longer[20] = random.pick([0, 43, 44, 51, 60]);
        put16(longer, 18, longer.length - 54);
        frame = longer;
      }
      break;
    }
    default: {
      // other ethertypes and protocols
      frame = udpFrame(20200, GATEWAY, 9, random.bytes(20));
      if (random.chance(50)) put16(frame, 12, random.pick([0x86dd, 0x8100, 0x88cc, random.int(65536)]));
      else frame[23] = random.int(256);
      fixIpChecksum(frame);
    }
  }
  // usually broken further: bytes flipped (then, half of the time, a valid IP checksum again), cut, or extended
  const damage = random.int(10);
  if (damage < 4 && frame.length > 0) {
    for (let flips = 1 + random.int(4); flips > 0; flips--) frame[random.int(frame.length)] ^= 1 << random.int(8);
    if (random.chance(50)) fixIpChecksum(frame);
  } else if (damage < 6) {
    frame = frame.slice(0, random.int(frame.length + 1));
  } else if (damage < 7) {
    const longer = new Uint8Array(frame.length + random.int(200));
    longer.set(frame);
    longer.set(random.bytes(longer.length - frame.length), frame.length);
    frame = longer;
  }
  return frame;
}

describe("the NAT under 10^5 malformed frames", () => {
  let echo: TestServer;
  let echo6: TestServer;
  let udpEcho: dgram.Socket;
  let closedPort = 0;

  beforeAll(async () => {
    echo = await tcpServer((socket) => socket.on("data", (chunk) => socket.write(chunk)));
    echo6 = await tcpServer((socket) => socket.on("data", (chunk) => socket.write(chunk)), "::1");
    udpEcho = dgram.createSocket("udp4");
    udpEcho.on("message", (message, remote) => udpEcho.send(message, remote.port, remote.address));
    await new Promise<void>((resolve) => udpEcho.bind(0, "127.0.0.1", () => resolve()));
    const closed = await tcpServer();
    closedPort = closed.port;
    closed.close();
  });

  afterAll(() => {
    echo.close();
    echo6.close();
    udpEcho.close();
  });

  it(`keeps a TCP connection working and memory bounded through ${FRAMES} frames (seed ${SEED})`, async () => {
    const limits = { tcpConnections: 64, udpFlows: 64, reassemblyDatagrams: 16, reassemblyFragments: 64, dnsLookups: 16 };
    const { nat, device } = natWithDevice({ limits, dnsServers: () => [] });
    // keep only what the well-behaved connections read
    device.keep = (frame) =>
      (frame.length >= 38 && frame[12] === 8 && frame[23] === 6 && [PEER_PORT, VICTIM_PORT].includes((frame[36] << 8) | frame[37])) ||
      (frame.length >= 74 && frame[12] === 0x86 && frame[20] === 6 && ((frame[56] << 8) | frame[57]) === PEER6_PORT);
    try {
      nat.receiveFromGuest(arpRequest(GATEWAY));
      // the guest answers the NAT's ARP requests for its address (the fuzz pushes its entry out now and then)
      device.keep = ((keepTcp) => (frame: Uint8Array) => {
        if (frame.length >= 42 && frame[12] === 8 && frame[13] === 6 && frame[21] === 1 && get32(frame, 38) === GUEST_IP) {
          setImmediate(() => nat.receiveFromGuest(buildArpFrame(NAT_MAC, GUEST_MAC, 2, GUEST_MAC, GUEST_IP, NAT_MAC, GATEWAY)));
        }
        // and the NAT's neighbor solicitations for its IPv6 address (the fuzz pushes it out of the neighbor table too)
        if (frame.length >= 78 && frame[12] === 0x86 && frame[20] === 58 && frame[54] === 135 && Buffer.from(frame.subarray(62, 78)).equals(Buffer.from(GUEST6))) {
          setImmediate(() => nat.receiveFromGuest(neighborAdvertisement(GUEST6)));
        }
        return keepTcp(frame);
      })(device.keep);
      const peer = new GuestPeer(nat, device, { port: PEER_PORT, remotePort: echo.port });
      await peer.connect();
      expect(peer.established).toBe(true);
      nat.receiveFromGuest(neighborAdvertisement(GUEST6));
      const peer6 = new GuestPeer(nat, device, { port: PEER6_PORT, remote: HOST6, remotePort: echo6.port });
      await peer6.connect();
      expect(peer6.established).toBe(true);
      const victim = new GuestPeer(nat, device, { port: VICTIM_PORT, remotePort: echo.port });
      await victim.connect();
      const random = new Random(SEED);
      const targets: FuzzTargets = { echoPort: echo.port, echo6Port: echo6.port, udpEchoPort: udpEcho.address().port, closedPort, victimSeq: () => victim.sndNxt };
      const sent: Buffer[] = [];
      const sent6: Buffer[] = [];
      const heapBefore = process.memoryUsage().heapUsed;
      let heapPeak = heapBefore;
      const batch = 2000;
      for (let done = 0; done < FRAMES; done += batch) {
        for (let i = 0; i < batch && done + i < FRAMES; i++) nat.receiveFromGuest(generate(random, targets));
        // the well-behaved connection: a chunk through the echo server, every batch
        const chunk = pattern(4096, done + 1);
        sent.push(chunk);
        const chunk6 = pattern(2048, done + 7);
        sent6.push(chunk6);
        try {
          await Promise.all([peer.send(chunk, 10_000), peer6.send(chunk6, 10_000)]);
        } catch (error) {
          const last = [...peer.segments.slice(-5), ...peer6.segments.slice(-5)].map((segment) => `${segment.tcp.flags.toString(16)} seq=${segment.tcp.seq} ack=${segment.tcp.ack} win=${segment.tcp.window} len=${segment.tcp.payload.length}`);
          throw new Error(`${(error as Error).message} after ${done} frames: peer sndUna=${peer.sndUna} sndNxt=${peer.sndNxt} rcvNxt=${peer.rcvNxt} natWindow=${peer.natWindow}; peer6 sndUna=${peer6.sndUna} sndNxt=${peer6.sndNxt} natWindow=${peer6.natWindow}\n${last.join("\n")}\n${JSON.stringify(nat.stats())}`);
        }
        const stats = nat.stats();
        expect(stats["now.tcp-connections"]).toBeLessThanOrEqual(limits.tcpConnections);
        expect(stats["now.udp-flows"]).toBeLessThanOrEqual(limits.udpFlows);
        expect(stats["now.reassembly"]).toBeLessThanOrEqual(limits.reassemblyDatagrams);
        expect(stats["now.delivery-queue"]).toBe(0);
        expect(stats["now.arp-waiting"]).toBeLessThanOrEqual(64);
        expect(stats["now.ndp-entries"]).toBeLessThanOrEqual(16);
        expect(stats["now.tcp-buffered"]).toBeLessThanOrEqual(limits.tcpConnections * 192 * 1024);
        heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed);
        await sleep(0);
      }
      const expected = Buffer.concat(sent);
      await peer.until(() => peer.receivedBytes >= expected.length, "the echoed data", 20_000);
      expect(sha256(peer.data())).toBe(sha256(expected));
      const expected6 = Buffer.concat(sent6);
      await peer6.until(() => peer6.receivedBytes >= expected6.length, "the echoed IPv6 data", 20_000);
      expect(sha256(peer6.data())).toBe(sha256(expected6));
      const stats = nat.stats();
      expect(stats["internal-error"]).toBeUndefined();
      expect(heapPeak - heapBefore).toBeLessThan(256 * 1024 * 1024);
      const drops = Object.entries(stats).filter(([name]) => name.startsWith("drop.")).reduce((sum, [, count]) => sum + count, 0);
      expect(drops).toBeGreaterThan(FRAMES / 2);
      console.log(`nat fuzz: ${FRAMES} frames (seed ${SEED}), ${drops} dropped and counted, ${device.delivered} frames to the guest, heap +${((heapPeak - heapBefore) / 1048576).toFixed(1)} MiB at most\n` +
        Object.entries(stats).map(([name, count]) => `  ${name} ${count}`).join("\n"));
    } finally {
      nat.close();
    }
  }, 300_000);
});
