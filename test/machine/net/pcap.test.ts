// The capture (QEMU's -object filter-dump): every frame between device and NAT, both directions,
// in a pcap file that tshark reads without a malformed packet or a bad checksum.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { PcapWriter } from "../../../src/machine/net/pcap.js";
import { hostHas } from "../../support/host-tools.js";
import {
  arpRequest, decode, dhcpFrame, DNS, DNS6, echo6, GATEWAY, GUEST6, GUEST_IP, GUEST_LL, HOST6, icmpEcho, ip6, neighborSolicitation,
  routerSolicitation, tcpFrame, udp6Frame, udpFrame,
} from "./support/frames.js";
import { natWithDevice, pattern, sha256, tcpServer } from "./support/host.js";
import { GuestPeer } from "./support/tcp-peer.js";
import dgram from "node:dgram";

const hasTshark = hostHas("tshark", ["--version"]);
const workDir = mkdtempSync(join(tmpdir(), "nat-pcap-"));
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

function tshark(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile("tshark", args, { encoding: "utf8", maxBuffer: 64 << 20 }, (error, stdout, stderr) => (error ? reject(new Error(stderr)) : resolve(stdout)));
  });
}

/** A TCP connection to an echo server: the data comes back intact, then the FIN. */
async function echoThrough(peer: GuestPeer, data: Buffer): Promise<void> {
  await peer.connect();
  await peer.send(data);
  peer.fin();
  await peer.until(() => peer.finReceived && peer.receivedBytes === data.length, "the echo and the FIN");
  expect(sha256(peer.data())).toBe(sha256(data));
}

/** Every frame the NAT counted is in the capture, and tshark finds none malformed and no bad checksum (IPv4, TCP, UDP, ICMP, ICMPv6). */
async function expectCleanCapture(file: string, stats: Record<string, number>): Promise<void> {
  const packets = (await tshark(["-r", file])).split("\n").filter((line) => line.trim() !== "");
  expect(packets.length).toBe(stats["frames-from-guest"] + stats["frames-to-guest"]);
  const problems = await tshark([
    "-r", file, "-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE",
    "-Y", "_ws.malformed || _ws.expert.severity == error || ip.checksum.status == \"Bad\" || tcp.checksum.status == \"Bad\" || udp.checksum.status == \"Bad\" || icmp.checksum.status == \"Bad\" || icmpv6.checksum.status == \"Bad\"",
  ]);
  expect(problems.trim()).toBe("");
}

describe("the pcap writer", () => {
  it("writes the libpcap header (Ethernet, snap length 65535) and one record per frame", () => {
    const file = join(workDir, "unit.pcap");
    const writer = new PcapWriter(file);
    writer.write(Uint8Array.of(1, 2, 3), 1_700_000_000_123.456);
    writer.close();
    const bytes = readFileSync(file);
    expect(bytes.readUInt32LE(0)).toBe(0xa1b2c3d4);
    expect([bytes.readUInt16LE(4), bytes.readUInt16LE(6), bytes.readUInt32LE(16), bytes.readUInt32LE(20)]).toEqual([2, 4, 65535, 1]);
    expect([bytes.readUInt32LE(24), bytes.readUInt32LE(28), bytes.readUInt32LE(32), bytes.readUInt32LE(36)]).toEqual([1_700_000_000, 123_456, 3, 3]);
    expect(bytes.length).toBe(24 + 16 + 3);
  });

  it("names the file when it cannot open it", () => {
    expect(() => new PcapWriter(join(workDir, "missing-dir", "x.pcap"))).toThrow(/cannot open the capture file .*missing-dir/);
  });
});

describe.runIf(hasTshark)("a capture of real traffic, read by tshark", () => {
  it("has every frame both ways, none malformed, no bad checksum", async () => {
    const file = join(workDir, "traffic.pcap");
    const host = await tcpServer((socket) => {
      socket.on("data", (chunk) => socket.write(chunk));
      socket.on("end", () => socket.end());
    });
    const echo = dgram.createSocket("udp4");
    echo.on("message", (message, remote) => echo.send(Buffer.alloc(3000, message[0]), remote.port, remote.address));
    await new Promise<void>((resolve) => echo.bind(0, "127.0.0.1", () => resolve()));
    const { nat, device } = natWithDevice({ pcap: file });
    try {
      nat.receiveFromGuest(dhcpFrame(1, 1));
      nat.receiveFromGuest(dhcpFrame(3, 2, { requested: GUEST_IP, server: GATEWAY }));
      nat.receiveFromGuest(arpRequest(GATEWAY));
      nat.receiveFromGuest(arpRequest(DNS));
      nat.receiveFromGuest(icmpEcho(GATEWAY, 1, 1, pattern(56)));
      nat.receiveFromGuest(udpFrame(40000, GATEWAY, echo.address().port, Uint8Array.of(7)));
      nat.receiveFromGuest(tcpFrame(GATEWAY, { sourcePort: 40001, destinationPort: 4, seq: 1, ack: 1, flags: 0x10, window: 100 }));
      await device.waitFor((frame) => decode(frame).ip?.flagsOffset === 370);
      await echoThrough(new GuestPeer(nat, device, { port: 40002, remotePort: host.port }), pattern(200_000, 3));
    } finally {
      nat.close();
      host.close();
      echo.close();
    }
    await expectCleanCapture(file, nat.stats());
    const dhcp = await tshark(["-r", file, "-Y", "dhcp.option.dhcp == 5", "-T", "fields", "-e", "dhcp.ip.your"]);
    expect(dhcp.trim()).toBe("10.0.2.15");
  }, 60_000);

  it("has the IPv6 frames too (NDP, ICMPv6, DHCPv6, DNS, UDP, TCP), none malformed, no bad checksum", async () => {
    const file = join(workDir, "traffic6.pcap");
    const host = await tcpServer((socket) => {
      socket.on("data", (chunk) => socket.write(chunk));
      socket.on("end", () => socket.end());
    }, "::1");
    const echo = dgram.createSocket("udp6");
    echo.on("message", (message, remote) => echo.send(Buffer.alloc(3000, message[0]), remote.port, remote.address));
    await new Promise<void>((resolve) => echo.bind(0, "::1", () => resolve()));
    const { nat, device } = natWithDevice({ pcap: file });
    try {
      nat.receiveFromGuest(routerSolicitation(GUEST_LL));
      nat.receiveFromGuest(neighborSolicitation(HOST6, GUEST6));
      nat.receiveFromGuest(neighborSolicitation(ip6("fec0::3"), new Uint8Array(16)));
      nat.receiveFromGuest(echo6(HOST6, 1, 1, pattern(56)));
      nat.receiveFromGuest(echo6(HOST6, 1, 2, pattern(1500)));
      nat.receiveFromGuest(udp6Frame(546, ip6("ff02::1:2"), 547, Uint8Array.of(11, 1, 2, 3, 0, 6, 0, 4, 0, 23, 0, 59), { source: GUEST_LL }));
      nat.receiveFromGuest(udp6Frame(40003, DNS6, 53, Uint8Array.from([0, 7, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 9, ...Buffer.from("localhost"), 0, 0, 28, 0, 1])));
      nat.receiveFromGuest(udp6Frame(40000, HOST6, echo.address().port, Uint8Array.of(7)));
      nat.receiveFromGuest(udp6Frame(40001, HOST6, echo.address().port, Uint8Array.of(8), { hopLimit: 1 }));
      await device.waitFor((frame) => decode(frame).udp?.destinationPort === 40000);
      await device.waitFor((frame) => decode(frame).udp?.destinationPort === 40003);
      await echoThrough(new GuestPeer(nat, device, { port: 40002, remote: HOST6, remotePort: host.port }), pattern(100_000, 5));
    } finally {
      nat.close();
      host.close();
      echo.close();
    }
    await expectCleanCapture(file, nat.stats());
    const kinds = await tshark(["-r", file, "-Y", "ipv6", "-T", "fields", "-e", "icmpv6.type", "-e", "dhcpv6.msgtype", "-e", "dns.flags.response"]);
    const lines = kinds.split("\n");
    for (const type of ["133", "134", "135", "136", "128", "129", "2", "3"]) expect(lines.some((line) => line.split("\t")[0].split(",")[0] === type), `ICMPv6 type ${type}`).toBe(true);
    expect(lines.some((line) => line.split("\t")[1] === "7"), "a DHCPv6 reply").toBe(true);
    expect(lines.some((line) => line.split("\t")[2] === "True" || line.split("\t")[2] === "1"), "a DNS response").toBe(true);
  }, 60_000);
});
