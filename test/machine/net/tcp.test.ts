// TCP through the NAT, with a scripted guest endpoint (support/tcp-peer.ts) and real host sockets on
// 127.0.0.1: the handshake only after the host connect, refusals, data both ways with flow control,
// FIN and RST mapping, retransmission and its limit, window probes.
import type net from "node:net";
import { describe, expect, it } from "vitest";
import type { UserNetBackend } from "../../../src/machine/net/slirp.js";
import { tcpTos } from "../../../src/machine/net/tcp-proxy.js";
import { ACK, FIN, PSH, RST, SYN } from "../../../src/machine/net/wire/tcp.js";
import { arpRequest, GATEWAY, hex } from "./support/frames.js";
import { closedAfterEach, closedTcpPort, natWithDevice, pattern, sha256, sleep, tcpServer, type TestServer } from "./support/host.js";
import { GuestPeer } from "./support/tcp-peer.js";

const cleanups = closedAfterEach();

function setup(options: Parameters<typeof natWithDevice>[0] = {}) {
  const { nat, device } = natWithDevice(options);
  cleanups.push(() => nat.close());
  nat.receiveFromGuest(arpRequest(GATEWAY)); // the guest's MAC, as any guest shows it first
  return { nat, device };
}

async function server(onConnection?: (socket: net.Socket) => void): Promise<TestServer> {
  const created = await tcpServer(onConnection);
  cleanups.push(() => created.close());
  return created;
}

function noInternalErrors(nat: UserNetBackend) {
  expect(nat.stats()["internal-error"]).toBeUndefined();
}

let nextPort = 41000;
const guestPort = () => nextPort++;

describe("TCP connections from the guest", () => {
  it("answers a SYN only once the host connection is up: SYN-ACK with MSS 1460 as the only option, window 65535; a retransmitted SYN meanwhile is dropped", async () => {
    const { nat, device } = setup();
    const host = await server();
    const peer = new GuestPeer(nat, device, { port: guestPort(), remotePort: host.port });
    const before = device.frames.length;
    peer.segment(SYN, undefined, peer.sndNxt, 1460);
    peer.segment(SYN, undefined, peer.sndNxt, 1460); // the guest retransmits before the host answered
    expect(device.frames.length).toBe(before); // nothing until the host connect completes
    peer.sndNxt++;
    await peer.until(() => peer.established, "SYN-ACK");
    await host.accepted();
    await sleep(50);
    const synAcks = peer.segments.filter((segment) => segment.tcp.flags & SYN);
    expect(synAcks.length).toBe(1);
    const synAck = synAcks[0];
    expect(synAck.tcp.flags).toBe(SYN | ACK);
    expect(hex(synAck.tcp.options)).toBe("020405b4");
    expect(synAck.tcp.window).toBe(65535);
    expect(synAck.tcp.ack).toBe(1001);
    expect(synAck.ttl).toBe(64);
    expect(synAck.flagsOffset).toBe(0);
    noInternalErrors(nat);
  });

  it("answers a refused port with RST|ACK, seq 0, acknowledging the SYN", async () => {
    const { nat, device } = setup();
    const peer = new GuestPeer(nat, device, { port: guestPort(), remotePort: await closedTcpPort() });
    await peer.connect();
    expect(peer.resetReceived).toBe(true);
    const reset = peer.segments[0];
    expect(reset.tcp.flags).toBe(RST | ACK);
    expect(reset.tcp.seq).toBe(0);
    expect(reset.tcp.ack).toBe(1001);
    expect(nat.stats()["now.tcp-connections"]).toBe(0);
  });

  it("resets segments for no connection (RST seq = their ACK, or RST|ACK acknowledging them)", () => {
    const { nat, device } = setup();
    const peer = new GuestPeer(nat, device, { port: guestPort(), remotePort: 9 });
    const from = device.frames.length;
    peer.segment(ACK, undefined, 5000);
    peer.segment(PSH, Uint8Array.of(1, 2, 3), 6000);
    expect(device.frames.length).toBe(from + 2);
  });

  it("carries 1 MiB each way intact, the host's FIN in a segment of its own after the data", async () => {
    const download = pattern(1 << 20, 7);
    const upload = pattern(1 << 20, 9);
    const uploaded: Buffer[] = [];
    let hostSawEnd = false;
    const host = await server((socket) => {
      socket.on("data", (chunk) => uploaded.push(chunk));
      socket.on("end", () => (hostSawEnd = true));
      socket.end(download);
    });
    const { nat, device } = setup();
    const peer = new GuestPeer(nat, device, { port: guestPort(), remotePort: host.port });
    await peer.connect();
    await peer.send(upload);
    peer.fin();
    await peer.until(() => peer.finReceived, "the host's FIN", 20_000);
    expect(sha256(peer.data())).toBe(sha256(download));
    for (let i = 0; i < 100 && !hostSawEnd; i++) await sleep(10);
    expect(hostSawEnd).toBe(true);
    expect(sha256(Buffer.concat(uploaded))).toBe(sha256(upload));
    const fin = peer.segments.find((segment) => segment.tcp.flags & FIN)!;
    expect(fin.tcp.payload.length).toBe(0);
    expect(peer.segments.every((segment) => segment.tcp.payload.length <= 1460 && segment.tcp.window <= 65535)).toBe(true);
    noInternalErrors(nat);
  }, 30_000);

  it("respects a small guest window, pausing the host socket once 128 KiB wait for the guest", async () => {
    const total = 400 * 1024;
    const download = pattern(total, 3);
    const host = await server((socket) => {
      // write in pieces so that the host sees back-pressure
      let offset = 0;
      const more = () => {
        while (offset < total) {
          const ok = socket.write(download.subarray(offset, offset + 16384));
          offset += 16384;
          if (!ok) {
            socket.once("drain", more);
            return;
          }
        }
        socket.end();
      };
      more();
    });
    const { nat, device } = setup();
    const peer = new GuestPeer(nat, device, { port: guestPort(), remotePort: host.port, window: 3000 });
    peer.appReads = false;
    await peer.connect();
    let maxHeld = 0;
    while (!peer.finReceived) {
      await peer.until(() => peer.unreadBytes > 0 || peer.finReceived, "data", 5000);
      maxHeld = Math.max(maxHeld, nat.stats()["now.tcp-buffered"]);
      peer.drain();
      await sleep(1);
    }
    expect(sha256(peer.data())).toBe(sha256(download));
    // never more in flight than the guest's window
    expect(peer.windowViolations).toBe(0);
    expect(peer.segments.filter((segment) => segment.tcp.payload.length > 0).every((segment) => segment.tcp.payload.length <= 3000)).toBe(true);
    expect(nat.stats()["tcp.host-paused"]).toBeGreaterThanOrEqual(1);
    expect(maxHeld).toBeLessThanOrEqual(128 * 1024 + 64 * 1024);
    noInternalErrors(nat);
  }, 30_000);

  it("closes its window to a guest whose host peer does not read, and opens it again when the host reads", async () => {
    let hostSocket: net.Socket | null = null;
    const host = await server((socket) => {
      socket.pause();
      hostSocket = socket;
    });
    const { nat, device } = setup();
    const peer = new GuestPeer(nat, device, { port: guestPort(), remotePort: host.port });
    await peer.connect();
    await host.accepted();
    const data = pattern(48 << 20, 5);
    const sending = peer.send(data, 60_000);
    sending.catch(() => undefined);
    // the loopback socket buffers fill up, then the NAT's 128 KiB, then the window is 0
    await peer.until(() => peer.natWindow === 0 && peer.sndUna === peer.sndNxt, "a closed window", 30_000);
    const stalledAt = peer.sndUna;
    await sleep(300);
    expect(peer.sndUna).toBe(stalledAt);
    expect(nat.stats()["now.tcp-connections"]).toBe(1);
    // the host reads: the NAT offers the window again and everything arrives
    const received: Buffer[] = [];
    hostSocket!.on("data", (chunk: Buffer) => received.push(chunk));
    hostSocket!.resume();
    await sending;
    for (let i = 0; i < 500 && Buffer.concat(received).length < data.length; i++) await sleep(10);
    expect(sha256(Buffer.concat(received))).toBe(sha256(data));
    noInternalErrors(nat);
  }, 90_000);
});

describe("TCP endings", () => {
  it("maps the guest's FIN to the host socket's end, and the host's end to a FIN, data still flowing the other way", async () => {
    let hostSocket: net.Socket | null = null;
    let hostEnded = false;
    const host = await server((socket) => {
      hostSocket = socket;
      socket.on("end", () => (hostEnded = true));
    });
    const { nat, device } = setup();
    const peer = new GuestPeer(nat, device, { port: guestPort(), remotePort: host.port });
    await peer.connect();
    await host.accepted();
    peer.fin();
    for (let i = 0; i < 200 && !hostEnded; i++) await sleep(5);
    expect(hostEnded).toBe(true);
    hostSocket!.write("after your FIN");
    await peer.until(() => peer.receivedBytes === 14, "data after the guest's FIN");
    hostSocket!.end();
    await peer.until(() => peer.finReceived, "the host's FIN");
    await sleep(50);
    expect(nat.stats()["now.tcp-connections"]).toBe(0); // LAST-ACK ended by the guest's ACK
    noInternalErrors(nat);
  });

  it("maps a guest RST to a reset of the host socket", async () => {
    let hostError = "";
    const host = await server((socket) => socket.on("error", (error: NodeJS.ErrnoException) => (hostError = error.code ?? "")));
    const { nat, device } = setup();
    const peer = new GuestPeer(nat, device, { port: guestPort(), remotePort: host.port });
    await peer.connect();
    const socket = await host.accepted();
    peer.reset();
    let closed = false;
    socket.on("close", () => (closed = true));
    socket.write("x"); // a write after the reset surfaces it
    for (let i = 0; i < 200 && !closed; i++) await sleep(5);
    expect(closed).toBe(true);
    expect(hostError).toBe("ECONNRESET");
    expect(nat.stats()["now.tcp-connections"]).toBe(0);
  });

  it("maps a host reset to a RST to the guest", async () => {
    const host = await server();
    const { nat, device } = setup();
    const peer = new GuestPeer(nat, device, { port: guestPort(), remotePort: host.port });
    await peer.connect();
    const socket = await host.accepted();
    socket.resetAndDestroy();
    await peer.until(() => peer.resetReceived, "RST");
    expect(nat.stats()["now.tcp-connections"]).toBe(0);
  });
});

describe("TCP retransmission", () => {
  it("retransmits unacknowledged data after 1 s, then 2 s later, and stops once acknowledged", async () => {
    const host = await server((socket) => socket.write(pattern(1000)));
    const { nat, device } = setup();
    const peer = new GuestPeer(nat, device, { port: guestPort(), remotePort: host.port });
    await peer.connect();
    peer.autoAck = false;
    const dataSegments = () => peer.segments.filter((segment) => segment.tcp.payload.length > 0);
    await peer.until(() => dataSegments().length >= 3, "two retransmissions", 6000);
    const [first, second, third] = dataSegments();
    expect(second.tcp.seq).toBe(first.tcp.seq);
    expect(hex(second.tcp.payload)).toBe(hex(first.tcp.payload));
    expect(second.at - first.at).toBeGreaterThan(900);
    expect(second.at - first.at).toBeLessThan(1500);
    expect(third.at - second.at).toBeGreaterThan(1800);
    expect(third.at - second.at).toBeLessThan(2600);
    peer.autoAck = true;
    peer.rcvNxt = (first.tcp.seq + 1000) >>> 0;
    peer.ack();
    const count = dataSegments().length;
    await sleep(4500);
    expect(dataSegments().length).toBe(count);
    expect(nat.stats()["tcp.retransmits"]).toBe(2);
  }, 15_000);

  it("resets the connection (both sides) after the retry limit", async () => {
    let hostClosed = false;
    const host = await server((socket) => {
      socket.write("never acknowledged");
      socket.on("close", () => (hostClosed = true));
    });
    const { nat, device } = setup({ tcpTimings: { rtoInitialMs: 40, rtoMinMs: 40, rtoMaxMs: 80, maxRetries: 3 } });
    const peer = new GuestPeer(nat, device, { port: guestPort(), remotePort: host.port });
    await peer.connect();
    peer.autoAck = false;
    await peer.until(() => peer.resetReceived, "RST after the retries", 3000);
    expect(peer.segments.filter((segment) => segment.tcp.payload.length > 0).length).toBe(4); // the first send and 3 retransmissions
    for (let i = 0; i < 100 && !hostClosed; i++) await sleep(10);
    expect(hostClosed).toBe(true);
    expect(nat.stats()["now.tcp-connections"]).toBe(0);
  });

  it("probes a closed guest window and sends as soon as it opens", async () => {
    const host = await server((socket) => socket.end(pattern(5000, 11)));
    const { nat, device } = setup({ tcpTimings: { rtoInitialMs: 50, rtoMinMs: 50, rtoMaxMs: 200 } });
    const peer = new GuestPeer(nat, device, { port: guestPort(), remotePort: host.port, window: 0 });
    await peer.connect();
    await peer.until(() => (nat.stats()["tcp.window-probes"] ?? 0) >= 2, "window probes", 3000);
    expect(peer.receivedBytes).toBe(0);
    peer.window = 65535;
    peer.ack();
    await peer.until(() => peer.finReceived, "all data and the FIN", 5000);
    expect(sha256(peer.data())).toBe(sha256(pattern(5000, 11)));
  });
});

describe("TCP details", () => {
  it("takes slirp's TOS from its port table", () => {
    expect(tcpTos(40000, 80)).toBe(0x08);
    expect(tcpTos(40000, 22)).toBe(0);
    expect(tcpTos(21, 40000)).toBe(0x10);
    expect(tcpTos(40000, 23)).toBe(0x10);
  });

  it("refuses new connections beyond the connection cap", async () => {
    const host = await server();
    const { nat, device } = setup({ limits: { tcpConnections: 2 } });
    const peers = [0, 1, 2].map(() => new GuestPeer(nat, device, { port: guestPort(), remotePort: host.port }));
    await peers[0].connect();
    await peers[1].connect();
    await peers[2].connect();
    expect(peers[2].resetReceived).toBe(true);
    expect(nat.stats()["drop.tcp-connection-limit"]).toBe(1);
  });
});
