// Differential test against real QEMU 7.2 + libslirp 4.7 (support/qemu-slirp.ts: QEMU's user
// netdev reached at the frame level through a hub and a UDP socket netdev; support/oracle.ts runs
// the scripts): the same guest script runs against QEMU's NAT and ours, both talking to the same
// host servers on 127.0.0.1, and every frame the two NATs send must be the same bytes. Only TCP sequence numbers are compared relative
// to each connection's ISS (slirp's ISS depends on its clock), and the host's ephemeral ports of
// forwarded connections are masked.
import net from "node:net";
import { describe, expect, it } from "vitest";
import { get16 } from "../../../src/machine/net/wire/bytes.js";
import { buildArpFrame } from "../../../src/machine/net/wire/arp.js";
import { arpRequest, decode, GATEWAY, ip, NAT_MAC, tcpFrame, udpFrame } from "./support/frames.js";
import { compareWithQemu, normalize, oracleServersFor, runOnOurs, runOnQemu, type Script, sleep } from "./support/oracle.js";
import { hasQemu } from "./support/qemu-slirp.js";

describe.runIf(hasQemu)("the same frames as QEMU 7.2's libslirp, through host sockets", () => {
  const servers = oracleServersFor("127.0.0.1");

  it("UDP: echo through 10.0.2.2, TOS kept only without checksum, port unreachable from 127.0.0.1, a fragmented 4000-byte reply", async () => {
    const frames = await compareWithQemu(async (link) => {
      link.send(udpFrame(40001, GATEWAY, servers.echoPort, Uint8Array.of(0x41, 0x42, 0x43), { tos: 0x08 }));
      await link.next((frame) => decode(frame).udp?.destinationPort === 40001, "echo reply");
      const unchecked = udpFrame(40002, GATEWAY, servers.echoPort, Uint8Array.of(1, 2), { tos: 0x28 });
      unchecked.set([0, 0], 40);
      link.send(unchecked);
      await link.next((frame) => decode(frame).udp?.destinationPort === 40002, "reply to the unchecked datagram");
      link.send(udpFrame(40003, GATEWAY, servers.closedPort, Uint8Array.of(0x41, 0x42, 0x43), { tos: 0x08, id: 90 }));
      await link.next((frame) => decode(frame).icmp?.type === 3, "port unreachable");
      link.send(udpFrame(40004, GATEWAY, servers.echoPort, Uint8Array.of(0xbb), { tos: 0x28 }));
      await link.next((frame) => decode(frame).ip?.flagsOffset === 370, "the last fragment");
    });
    expect(frames.length).toBe(6);
  });

  it("TCP: SYN-ACK after the host connect, data, FIN in its own segment, the guest's FIN acknowledged; a refused port gets RST|ACK seq 0", async () => {
    const frames = await compareWithQemu(async (link) => {
      const base = { sourcePort: 50000, destinationPort: servers.helloPort, window: 64240 };
      link.send(tcpFrame(GATEWAY, { ...base, seq: 1000, ack: 0, flags: 0x02, mss: 1460 }));
      const synAck = decode(await link.next((frame) => (decode(frame).tcp?.flags ?? 0) === 0x12, "SYN-ACK")).tcp!;
      link.send(tcpFrame(GATEWAY, { ...base, seq: 1001, ack: synAck.seq + 1, flags: 0x10 }));
      await link.next((frame) => (decode(frame).tcp?.flags ?? 0) & 0x01 ? true : false, "FIN");
      link.send(tcpFrame(GATEWAY, { ...base, seq: 1001, ack: synAck.seq + 1, flags: 0x18 }, new TextEncoder().encode("hi")));
      await link.quiet(300);
      link.send(tcpFrame(GATEWAY, { ...base, seq: 1003, ack: synAck.seq + 1 + 19 + 1, flags: 0x11 }));
      await link.next((frame) => decode(frame).tcp?.ack === 1004, "ACK of the guest's FIN");
      link.send(tcpFrame(GATEWAY, { sourcePort: 50001, destinationPort: servers.refusedPort, seq: 5000, ack: 0, flags: 0x02, window: 64240, mss: 1460 }));
      await link.next((frame) => (decode(frame).tcp?.flags ?? 0) & 0x04 ? true : false, "RST");
    });
    expect(frames.length).toBeGreaterThanOrEqual(6);
  });

  it("ARP: a datagram for a guest address whose MAC is unknown waits for an ARP reply", async () => {
    const otherMac = Uint8Array.from([0x52, 0x54, 0x00, 0x12, 0x34, 0x57]);
    const other = ip("10.0.2.16");
    await compareWithQemu(async (link) => {
      link.send(udpFrame(40000, GATEWAY, servers.echoPort, Uint8Array.of(1, 2, 3), { source: other, sourceMac: otherMac }));
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
    const ours = normalize(await runOnOurs(script, { hostForwards: [`tcp:127.0.0.1:${port}-:8080`] }));
    expect(ours).toEqual(theirs);
  });
});

