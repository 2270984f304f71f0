// The NAT's IPv6 side on its own (the byte-for-byte comparison with QEMU is qemu-oracle-ipv6.test.ts):
// TCP and UDP over IPv6 through the same proxies as IPv4, the router advertisement timer, RDNSS,
// the neighbor table and the frames held for a solicitation, what the guest's IPv6 address is
// taken to be, and the checks that go beyond slirp's.
import { spawn } from "node:child_process";
import dgram from "node:dgram";
import { describe, expect, it } from "vitest";
import { DNS6 as NAT_DNS6 } from "../../../src/machine/net/context.js";
import { formatIpv6, type Ipv6Address } from "../../../src/machine/net/wire/bytes.js";
import { FIN } from "../../../src/machine/net/wire/tcp.js";
import {
  arpRequest, decode, echo6, GATEWAY, GUEST6, GUEST_LL, HOST6, hex, ip6, neighborAdvertisement, neighborSolicitation, routerSolicitation, tcp6Frame,
  udp6Frame,
} from "./support/frames.js";
import { closedAfterEach, natWithDevice, pattern, sha256, sleep, tcpServer } from "./support/host.js";
import { GuestPeer } from "./support/tcp-peer.js";

const cleanups = closedAfterEach();

function setup(options: Parameters<typeof natWithDevice>[0] = {}) {
  const { nat, device } = natWithDevice(options);
  cleanups.push(() => nat.close());
  return { nat, device };
}

const isType = (type: number) => (frame: Uint8Array) => decode(frame).icmp6?.type === type;
const count = (frames: Uint8Array[], type: number) => frames.filter(isType(type)).length;
/** a guest on the link: it asks for the router's MAC from its SLAAC address, so the NAT learns its own */
const guestOnLink = (nat: { receiveFromGuest(frame: Uint8Array): void }, address: Ipv6Address = GUEST6) => nat.receiveFromGuest(neighborSolicitation(HOST6, address));

describe("TCP and UDP over IPv6", () => {
  it("carries 1 MiB each way through fec0::2 to a server on ::1, in segments of at most 1440 bytes, hop limit 255", async () => {
    const download = pattern(1 << 20, 17);
    const upload = pattern(1 << 20, 19);
    const uploaded: Buffer[] = [];
    const host = await tcpServer((socket) => {
      socket.on("data", (chunk) => uploaded.push(chunk));
      socket.end(download);
    }, "::1");
    cleanups.push(() => host.close());
    const { nat, device } = setup();
    guestOnLink(nat);
    const peer = new GuestPeer(nat, device, { port: 45000, remote: HOST6, remotePort: host.port, mss: 1440 });
    await peer.connect();
    expect(peer.established).toBe(true);
    await peer.send(upload);
    peer.fin();
    await peer.until(() => peer.finReceived, "the host's FIN", 20_000);
    expect(sha256(peer.data())).toBe(sha256(download));
    for (let i = 0; i < 100 && sha256(Buffer.concat(uploaded)) !== sha256(upload); i++) await sleep(10);
    expect(sha256(Buffer.concat(uploaded))).toBe(sha256(upload));
    expect(peer.segments.every((segment) => segment.tcp.payload.length <= 1440 && segment.ttl === 255 && segment.tos === 0)).toBe(true);
    expect(peer.segments.some((segment) => segment.tcp.payload.length === 1440)).toBe(true);
    expect(peer.segments.find((segment) => segment.tcp.flags & FIN)!.tcp.payload.length).toBe(0);
    expect(nat.stats()["internal-error"]).toBeUndefined();
  }, 30_000);

  it("retransmits unacknowledged IPv6 data from the RTO, as over IPv4", async () => {
    const host = await tcpServer((socket) => socket.write(pattern(1000)), "::1");
    cleanups.push(() => host.close());
    const { nat, device } = setup({ tcpTimings: { rtoInitialMs: 100, rtoMinMs: 100 } });
    guestOnLink(nat);
    const peer = new GuestPeer(nat, device, { port: 45001, remote: HOST6, remotePort: host.port });
    await peer.connect();
    peer.autoAck = false;
    const data = () => peer.segments.filter((segment) => segment.tcp.payload.length > 0);
    await peer.until(() => data().length >= 2, "a retransmission", 3000);
    expect(hex(data()[1].tcp.payload)).toBe(hex(data()[0].tcp.payload));
    expect(nat.stats()["tcp.retransmits"]).toBeGreaterThanOrEqual(1);
  });

  it("keeps IPv4 and IPv6 flows apart: the same guest and host ports, two connections", async () => {
    const host4 = await tcpServer((socket) => socket.end("four"));
    const host6 = await tcpServer((socket) => socket.end("six"), "::1");
    cleanups.push(() => host4.close(), () => host6.close());
    const { nat, device } = setup();
    guestOnLink(nat);
    nat.receiveFromGuest(arpRequest(GATEWAY));
    const four = new GuestPeer(nat, device, { port: 45002, remotePort: host4.port });
    const six = new GuestPeer(nat, device, { port: 45002, remote: HOST6, remotePort: host6.port });
    await Promise.all([four.connect(), six.connect()]);
    await four.until(() => four.finReceived, "FIN over IPv4");
    await six.until(() => six.finReceived, "FIN over IPv6");
    expect([four.data().toString(), six.data().toString()]).toEqual(["four", "six"]);
  });

  it("sends UDP from a fec0:: address to ::1 and the reply back from it; a 0 checksum is dropped over IPv6", async () => {
    const echo = dgram.createSocket("udp6");
    echo.on("message", (message, remote) => echo.send(message, remote.port, remote.address));
    await new Promise<void>((resolve) => echo.bind(0, "::1", () => resolve()));
    cleanups.push(() => echo.close());
    const { nat, device } = setup();
    guestOnLink(nat);
    const target = ip6("fec0::42");
    nat.receiveFromGuest(udp6Frame(41000, target, echo.address().port, Uint8Array.of(1, 2, 3)));
    const reply = decode((await device.waitFor((frame) => decode(frame).udp?.destinationPort === 41000))!);
    expect(formatIpv6(reply.ip6!.source)).toBe("fec0::42");
    expect(hex(reply.udp!.payload)).toBe("010203");
    const unchecked = udp6Frame(41001, target, echo.address().port, Uint8Array.of(4));
    unchecked.set([0, 0], 60);
    nat.receiveFromGuest(unchecked);
    expect(nat.stats()["drop.udp-checksum"]).toBe(1);
  });
});

describe("where the host cannot follow", () => {
  it("answers UDP and TCP to a link-local address (fe80::2) with no route from fe80::2, as slirp answers TCP there", async () => {
    const { nat, device } = setup();
    guestOnLink(nat);
    nat.receiveFromGuest(udp6Frame(40000, ip6("fe80::2"), 9999, Uint8Array.of(1)));
    nat.receiveFromGuest(tcp6Frame(ip6("fe80::2"), { sourcePort: 40001, destinationPort: 9999, seq: 1, ack: 0, flags: 0x02, window: 100 }));
    for (let i = 0; i < 100 && count(device.frames, 1) < 2; i++) await sleep(20);
    const errors = device.frames.filter(isType(1)).map(decode);
    expect(errors.map((error) => [formatIpv6(error.ip6!.source), error.icmp6!.code, error.icmp6!.bytes[8 + 6]])).toEqual(
      expect.arrayContaining([["fe80::2", 0, 17], ["fe80::2", 0, 6]]),
    );
  });
});

describe("NDP", () => {
  it("advertises the router unsolicited on its timer (200–600 s by default; here 40–60 ms) and stops at close()", async () => {
    const { nat, device } = setup({ raInterval: { minMs: 40, maxMs: 60 } });
    await sleep(300);
    const sent = count(device.frames, 134);
    expect(sent).toBeGreaterThanOrEqual(3);
    expect(sent).toBeLessThanOrEqual(8);
    nat.close();
    await sleep(150);
    expect(count(device.frames, 134)).toBe(sent);
  });

  it("does not keep the process alive: a NAT that is never closed lets Node exit", async () => {
    const script = `import { UserNetBackend } from ${JSON.stringify(new URL("../../../src/machine/net/slirp.ts", import.meta.url).pathname)};
      const nat = new UserNetBackend({}); nat.attach({ mac: new Uint8Array(6), deliver: () => true });`;
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { stdio: "ignore" });
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        resolve(null);
      }, 15_000);
      child.on("exit", (status) => {
        clearTimeout(timer);
        resolve(status);
      });
    });
    expect(code).toBe(0);
  }, 20_000);

  it("adds RDNSS for fec0::3 (lifetime 1200000, as slirp writes it) when the host has an IPv6 DNS server", () => {
    const without = setup({ dnsServers: () => ["10.0.0.1"] });
    without.nat.receiveFromGuest(routerSolicitation());
    expect(without.device.frames.find(isType(134))!.length).toBe(110);
    const withServer = setup({ dnsServers: () => ["10.0.0.1", "[2001:db8::53]:53"] });
    withServer.nat.receiveFromGuest(routerSolicitation());
    const ra = withServer.device.frames.find(isType(134))!;
    expect(ra.length).toBe(134);
    expect(hex(ra.subarray(110))).toBe("1903" + "0000" + "00124f80" + hex(NAT_DNS6));
  });

  it("holds a reply for an unknown guest address 1 s, each held frame asking once, then drops it", async () => {
    const { nat, device } = setup();
    const unknown = ip6("fec0::99");
    nat.receiveFromGuest(echo6(HOST6, 1, 1, [1], { source: unknown }));
    nat.receiveFromGuest(echo6(HOST6, 1, 2, [2], { source: unknown }));
    expect(count(device.frames, 135)).toBe(2);
    expect(nat.stats()["now.arp-waiting"]).toBe(2);
    await sleep(1300);
    expect(nat.stats()["now.arp-waiting"]).toBe(0);
    expect(nat.stats()["drop.arp-unresolved"]).toBe(2);
    nat.receiveFromGuest(neighborAdvertisement(unknown));
    expect(count(device.frames, 129)).toBe(0);
  });

  it("keeps 16 neighbors, replacing the oldest entry by the 17th", () => {
    const { nat, device } = setup();
    const address = (i: number) => ip6(`fec0::100:${i.toString(16)}`);
    for (let i = 0; i < 17; i++) nat.receiveFromGuest(neighborSolicitation(HOST6, address(i)));
    expect(nat.stats()["now.ndp-entries"]).toBe(16);
    const before = count(device.frames, 135);
    nat.receiveFromGuest(echo6(HOST6, 1, 1, [1], { source: address(1) }));
    expect(count(device.frames, 135)).toBe(before);
    nat.receiveFromGuest(echo6(HOST6, 1, 2, [1], { source: address(0) }));
    expect(count(device.frames, 135)).toBe(before + 1);
  });

  it("takes the guest's IPv6 address (hostfwd6's default) from the first fec0:: address it uses or claims by DAD, never a link-local one or the NAT's", () => {
    const { nat } = setup();
    expect(nat.guestAddress(6)).toBeNull();
    nat.receiveFromGuest(routerSolicitation(GUEST_LL));
    nat.receiveFromGuest(neighborSolicitation(HOST6, new Uint8Array(16))); // DAD for the NAT's own address: not the guest's
    expect(nat.guestAddress(6)).toBeNull();
    nat.receiveFromGuest(neighborSolicitation(ip6("fec0::5054:ff:fe12:3456"), new Uint8Array(16)));
    nat.receiveFromGuest(echo6(HOST6, 1, 1, [1], { source: ip6("fec0::7") }));
    expect(formatIpv6(nat.guestAddress(6) as Ipv6Address)).toBe("fec0::5054:ff:fe12:3456");
  });
});

describe("checks beyond slirp's", () => {
  it("drops loopback and multicast sources, loopback destinations, UDP and echo from ::, multicast UDP but to ff02::1, and counts them", () => {
    const { nat, device } = setup();
    guestOnLink(nat);
    const from = device.frames.length;
    nat.receiveFromGuest(echo6(HOST6, 1, 1, [1], { source: ip6("::1") }));
    nat.receiveFromGuest(echo6(HOST6, 1, 2, [1], { source: ip6("ff02::1") }));
    nat.receiveFromGuest(udp6Frame(1000, ip6("::1"), 9, Uint8Array.of(1)));
    nat.receiveFromGuest(echo6(HOST6, 1, 3, [1], { source: new Uint8Array(16) }));
    nat.receiveFromGuest(udp6Frame(1000, HOST6, 9, Uint8Array.of(1), { source: new Uint8Array(16) }));
    nat.receiveFromGuest(udp6Frame(5353, ip6("ff02::fb"), 5353, Uint8Array.of(1)));
    expect(device.frames.length).toBe(from);
    const stats = nat.stats();
    expect(stats["drop.ip6-source"]).toBe(4);
    expect(stats["drop.ip6-destination"]).toBe(2);
    expect(stats["now.udp-flows"]).toBe(0);
  });

  it("drops what slirp drops: extension headers, fragments, unknown next headers, a payload longer than the frame", () => {
    const { nat } = setup();
    guestOnLink(nat);
    const plain = echo6(HOST6, 1, 1, [1, 2]);
    const withHeader = (nextHeader: number, header: number[]) => {
      const frame = new Uint8Array(plain.length + header.length);
      frame.set(plain.subarray(0, 54));
      frame.set(header, 54);
      frame.set(plain.subarray(54), 54 + header.length);
      frame[20] = nextHeader;
      frame[19] += header.length;
      return frame;
    };
    nat.receiveFromGuest(withHeader(0, [58, 0, 1, 4, 0, 0, 0, 0]));
    nat.receiveFromGuest(withHeader(44, [58, 0, 0, 0, 0, 0, 0, 1]));
    nat.receiveFromGuest(withHeader(60, [58, 9, 1, 4, 0, 0, 0, 0])); // claims 80 bytes
    nat.receiveFromGuest(withHeader(132, [58, 0, 0, 0, 0, 0, 0, 0]));
    const truncated = plain.slice(0, plain.length - 1);
    nat.receiveFromGuest(truncated);
    const stats = nat.stats();
    expect(stats["drop.ip6-extension-headers"]).toBe(2);
    expect(stats["drop.ip6-extension"]).toBe(1);
    expect(stats["drop.ip6-next-header"]).toBe(1);
    expect(stats["drop.ip6-length"]).toBe(1);
    expect(stats["icmp6.echo-replies"]).toBeUndefined();
  });
});
