// Differential test against real QEMU 7.2 + libslirp 4.7 (support/qemu-slirp.ts: QEMU's user
// netdev reached at the frame level through a hub and a UDP socket netdev): the same guest script
// runs against QEMU's NAT and ours, both talking to the same host servers on 127.0.0.1, and every
// frame the two NATs send must be the same bytes. Only TCP sequence numbers are compared relative
// to each connection's ISS (slirp's ISS depends on its clock), and the host's ephemeral ports of
// forwarded connections are masked.
import dgram from "node:dgram";
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UserNetBackend } from "../../../src/machine/net/slirp.js";
import { get16 } from "../../../src/machine/net/wire/bytes.js";
import { buildArpFrame } from "../../../src/machine/net/wire/arp.js";
import { FakeDevice } from "./support/fake-device.js";
import { arpRequest, decode, GATEWAY, ip, NAT_MAC, tcpFrame, udpFrame } from "./support/frames.js";
import { hasQemu, startQemuSlirp } from "./support/qemu-slirp.js";
import { unpad } from "./support/unpad.js";

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** What a script sees of a NAT: send frames, wait for the next frame that matches. */
interface Link {
  send(frame: Uint8Array): void;
  next(match: (frame: Uint8Array) => boolean, what: string, timeoutMs?: number): Promise<Uint8Array>;
  /** lets time pass (for frames that may or may not come) */
  quiet(ms: number): Promise<void>;
}

type Script = (link: Link) => Promise<void>;

async function runOnQemu(script: Script, netdev: string): Promise<Uint8Array[]> {
  const qemu = await startQemuSlirp(netdev);
  const received: Uint8Array[] = [];
  let cursor = 0;
  try {
    await script({
      send: (frame) => qemu.send(frame),
      next: async (match, what, timeoutMs = 3000) => {
        const frame = await qemu.waitFor((candidate) => match(unpad(candidate)), timeoutMs, cursor);
        if (!frame) throw new Error(`qemu: no ${what}`);
        cursor = qemu.frames.indexOf(frame) + 1;
        return unpad(frame);
      },
      quiet: (ms) => sleep(ms),
    });
    await sleep(200);
    received.push(...qemu.frames.map(unpad));
  } finally {
    await qemu.close();
  }
  return received;
}

async function runOnOurs(script: Script, hostForwards: string[]): Promise<Uint8Array[]> {
  const device = new FakeDevice();
  const nat = new UserNetBackend({ hostForwards, wake: device.wake });
  nat.attach(device);
  await nat.ready;
  let cursor = 0;
  try {
    // the QEMU harness's readiness probe, so that both NATs saw the same frames
    nat.receiveFromGuest(arpRequest(GATEWAY));
    device.frames.length = 0;
    await script({
      send: (frame) => nat.receiveFromGuest(frame),
      next: async (match, what, timeoutMs = 3000) => {
        const frame = await device.waitFor(match, timeoutMs, cursor);
        if (!frame) throw new Error(`ours: no ${what}`);
        cursor = device.frames.indexOf(frame) + 1;
        return frame;
      },
      quiet: (ms) => sleep(ms),
    });
    await sleep(200);
    expect(nat.stats()["internal-error"]).toBeUndefined();
    return [...device.frames];
  } finally {
    nat.close();
  }
}

/**
 * A frame as text for comparison: hex, except that TCP sequence numbers of the NAT's side become
 * offsets from the connection's ISS (learned from its SYN) and the checksums that cover them are
 * dropped; forwarded connections' client ports (picked by the host) are masked.
 */
function normalize(frames: Uint8Array[]): string[] {
  const iss = new Map<string, number>();
  return frames.map((frame) => {
    const decoded = decode(frame);
    if (!decoded.tcp || !decoded.ip) return Buffer.from(frame).toString("hex");
    const tcp = decoded.tcp;
    const masked = frame.slice();
    const key = `${tcp.sourcePort}>${tcp.destinationPort}`;
    if (tcp.flags & 0x02) iss.set(key, tcp.seq);
    const base = iss.get(key) ?? 0;
    const l4 = 14 + (frame[14] & 15) * 4;
    masked.set([0, 0, 0, 0], l4 + 4);
    masked.set([0, 0], l4 + 16);
    const forwarded = tcp.sourcePort !== 8080 && decoded.ip.source === GATEWAY && tcp.destinationPort === 8080;
    if (forwarded) masked.set([0, 0], l4);
    return `${Buffer.from(masked).toString("hex")} seq+${(tcp.seq - base) >>> 0}`;
  });
}

describe.runIf(hasQemu)("the same frames as QEMU 7.2's libslirp, through host sockets", () => {
  const closers: Array<() => void> = [];
  let echoPort = 0;
  let closedPort = 0;
  let helloPort = 0;
  let refusedPort = 0;

  beforeAll(async () => {
    const echo = dgram.createSocket("udp4");
    echo.on("message", (message, remote) => echo.send(message[0] === 0xbb ? Buffer.alloc(4000, 0x62) : Buffer.concat([Buffer.from("re:"), message]), remote.port, remote.address));
    await new Promise<void>((resolve) => echo.bind(0, "127.0.0.1", () => resolve()));
    echoPort = echo.address().port;
    closers.push(() => echo.close());
    const closed = dgram.createSocket("udp4");
    await new Promise<void>((resolve) => closed.bind(0, "127.0.0.1", () => resolve()));
    closedPort = closed.address().port;
    closed.close();
    const hello = net.createServer({ allowHalfOpen: true }, (socket) => {
      socket.on("data", () => undefined);
      socket.on("error", () => undefined);
      socket.end("hello from the host");
    });
    await new Promise<void>((resolve) => hello.listen(0, "127.0.0.1", () => resolve()));
    helloPort = (hello.address() as net.AddressInfo).port;
    closers.push(() => hello.close());
    const refused = net.createServer();
    await new Promise<void>((resolve) => refused.listen(0, "127.0.0.1", () => resolve()));
    refusedPort = (refused.address() as net.AddressInfo).port;
    refused.close();
  });

  afterAll(() => {
    for (const close of closers) close();
  });

  async function compare(script: Script, netdev = "", hostForwards: string[] = []): Promise<string[]> {
    const theirs = normalize(await runOnQemu(script, netdev));
    const ours = normalize(await runOnOurs(script, hostForwards));
    expect(ours).toEqual(theirs);
    return ours;
  }

  it("UDP: echo through 10.0.2.2, TOS kept only without checksum, port unreachable from 127.0.0.1, a fragmented 4000-byte reply", async () => {
    const frames = await compare(async (link) => {
      link.send(udpFrame(40001, GATEWAY, echoPort, Uint8Array.of(0x41, 0x42, 0x43), { tos: 0x08 }));
      await link.next((frame) => decode(frame).udp?.destinationPort === 40001, "echo reply");
      const unchecked = udpFrame(40002, GATEWAY, echoPort, Uint8Array.of(1, 2), { tos: 0x28 });
      unchecked.set([0, 0], 40);
      link.send(unchecked);
      await link.next((frame) => decode(frame).udp?.destinationPort === 40002, "reply to the unchecked datagram");
      link.send(udpFrame(40003, GATEWAY, closedPort, Uint8Array.of(0x41, 0x42, 0x43), { tos: 0x08, id: 90 }));
      await link.next((frame) => decode(frame).icmp?.type === 3, "port unreachable");
      link.send(udpFrame(40004, GATEWAY, echoPort, Uint8Array.of(0xbb), { tos: 0x28 }));
      await link.next((frame) => decode(frame).ip?.flagsOffset === 370, "the last fragment");
    });
    expect(frames.length).toBe(6);
  });

  it("TCP: SYN-ACK after the host connect, data, FIN in its own segment, the guest's FIN acknowledged; a refused port gets RST|ACK seq 0", async () => {
    const frames = await compare(async (link) => {
      const base = { sourcePort: 50000, destinationPort: helloPort, window: 64240 };
      link.send(tcpFrame(GATEWAY, { ...base, seq: 1000, ack: 0, flags: 0x02, mss: 1460 }));
      const synAck = decode(await link.next((frame) => (decode(frame).tcp?.flags ?? 0) === 0x12, "SYN-ACK")).tcp!;
      link.send(tcpFrame(GATEWAY, { ...base, seq: 1001, ack: synAck.seq + 1, flags: 0x10 }));
      await link.next((frame) => (decode(frame).tcp?.flags ?? 0) & 0x01 ? true : false, "FIN");
      link.send(tcpFrame(GATEWAY, { ...base, seq: 1001, ack: synAck.seq + 1, flags: 0x18 }, new TextEncoder().encode("hi")));
      await link.quiet(300);
      link.send(tcpFrame(GATEWAY, { ...base, seq: 1003, ack: synAck.seq + 1 + 19 + 1, flags: 0x11 }));
      await link.next((frame) => decode(frame).tcp?.ack === 1004, "ACK of the guest's FIN");
      link.send(tcpFrame(GATEWAY, { sourcePort: 50001, destinationPort: refusedPort, seq: 5000, ack: 0, flags: 0x02, window: 64240, mss: 1460 }));
      await link.next((frame) => (decode(frame).tcp?.flags ?? 0) & 0x04 ? true : false, "RST");
    });
    expect(frames.length).toBeGreaterThanOrEqual(6);
  });

  it("ARP: a datagram for a guest address whose MAC is unknown waits for an ARP reply", async () => {
    const otherMac = Uint8Array.from([0x52, 0x54, 0x00, 0x12, 0x34, 0x57]);
    const other = ip("10.0.2.16");
    await compare(async (link) => {
      link.send(udpFrame(40000, GATEWAY, echoPort, Uint8Array.of(1, 2, 3), { source: other, sourceMac: otherMac }));
      await link.next((frame) => get16(frame, 12) === 0x0806, "ARP request");
      link.send(buildArpFrame(NAT_MAC, otherMac, 2, otherMac, other, NAT_MAC, GATEWAY));
      await link.next((frame) => decode(frame).udp !== undefined, "the held reply");
    });
  });

  it("hostfwd: the SYN into the guest, the handshake, data both ways and the close", async () => {
    // both NATs listen on a port of their own; the guest side is the same
    const port = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, "127.0.0.1", () => {
        const chosen = (probe.address() as net.AddressInfo).port;
        probe.close(() => resolve(chosen));
      });
    });
    const script: Script = async (link) => {
      // the guest shows its address first (our NAT learns it; slirp assumes 10.0.2.15)
      link.send(arpRequest(GATEWAY));
      await link.next((frame) => get16(frame, 12) === 0x0806, "ARP reply");
      const client = net.connect(port, "127.0.0.1");
      client.on("error", () => undefined);
      let received = "";
      client.on("data", (chunk) => (received += chunk));
      try {
        const syn = decode(await link.next((frame) => decode(frame).tcp?.flags === 0x02, "SYN")).tcp!;
        const base = { sourcePort: 8080, destinationPort: syn.sourcePort, window: 64240 };
        link.send(tcpFrame(GATEWAY, { ...base, seq: 7000, ack: syn.seq + 1, flags: 0x12, mss: 1460 }));
        await link.next((frame) => decode(frame).tcp?.flags === 0x10, "ACK of the SYN-ACK");
        client.write("ping");
        await link.next((frame) => (decode(frame).tcp?.payload.length ?? 0) > 0, "the client's data");
        link.send(tcpFrame(GATEWAY, { ...base, seq: 7001, ack: syn.seq + 1 + 4, flags: 0x18 }, new TextEncoder().encode("pong")));
        await link.next((frame) => decode(frame).tcp?.ack === 7005, "ACK of the guest's data");
        for (let i = 0; i < 50 && received !== "pong"; i++) await sleep(20);
        expect(received).toBe("pong");
        client.end();
        await link.next((frame) => ((decode(frame).tcp?.flags ?? 0) & 0x01) !== 0, "FIN from the client");
        link.send(tcpFrame(GATEWAY, { ...base, seq: 7005, ack: syn.seq + 1 + 4 + 1, flags: 0x11 }));
        await link.quiet(300);
      } finally {
        client.destroy();
      }
    };
    const theirs = normalize(await runOnQemu(script, `,hostfwd=tcp:127.0.0.1:${port}-:8080`));
    const ours = normalize(await runOnOurs(script, [`tcp:127.0.0.1:${port}-:8080`]));
    expect(ours).toEqual(theirs);
  });
});

