// The backend's life: frames handed back re-entrantly by the device, and close() releasing every
// host socket, listener, timer and file it opened.
import dgram from "node:dgram";
import net from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { UserNetBackend } from "../../../src/machine/net/slirp.js";
import { buildArpFrame } from "../../../src/machine/net/wire/arp.js";
import { get16 } from "../../../src/machine/net/wire/bytes.js";
import type { NetDevicePort } from "../../../src/machine/net/backend.js";
import { arpRequest, decode, dhcpFrame, DNS, GATEWAY, GUEST_IP, GUEST_MAC, icmpEcho, NAT_MAC, tcpFrame, udpFrame } from "./support/frames.js";
import { sleep, tcpServer } from "./support/host.js";

/** Node's count of live handles by kind (sockets, servers, timers, file requests). */
function resources(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const name of process.getActiveResourcesInfo()) counts.set(name, (counts.get(name) ?? 0) + 1);
  return counts;
}

describe("the backend's lifecycle", () => {
  it("processes frames the device hands back from inside deliver() after the current one, in order", () => {
    const delivered: Uint8Array[] = [];
    let nat: UserNetBackend;
    const device: NetDevicePort = {
      mac: GUEST_MAC,
      deliver(frame) {
        delivered.push(frame.slice());
        // a device whose guest answers at once: the NAT's ARP request, and every echo reply with the next request
        if (get16(frame, 12) === 0x0806 && frame[21] === 1) nat.receiveFromGuest(buildArpFrame(NAT_MAC, GUEST_MAC, 2, GUEST_MAC, GUEST_IP, NAT_MAC, GATEWAY));
        const icmp = decode(frame).icmp;
        if (icmp && icmp.type === 0 && get16(icmp.bytes, 6) < 5) nat.receiveFromGuest(icmpEcho(GATEWAY, 1, get16(icmp.bytes, 6) + 1, Uint8Array.of(1)));
        return true;
      },
    };
    nat = new UserNetBackend();
    nat.attach(device);
    nat.receiveFromGuest(arpRequest(GATEWAY));
    nat.receiveFromGuest(icmpEcho(GATEWAY, 1, 1, Uint8Array.of(1)));
    const sequences = delivered.map((frame) => decode(frame).icmp).filter((icmp) => icmp !== undefined).map((icmp) => get16(icmp!.bytes, 6));
    expect(sequences).toEqual([1, 2, 3, 4, 5]);
    expect(nat.stats()["internal-error"]).toBeUndefined();
    nat.close();
  });

  it("closes every host socket, listener, timer and file on close()", async () => {
    const dir = mkdtempSync(join(tmpdir(), "nat-life-"));
    const before = resources();
    const host = await tcpServer((socket) => socket.write("x".repeat(100)));
    const udpEcho = dgram.createSocket("udp4");
    udpEcho.on("message", (message, remote) => udpEcho.send(message, remote.port, remote.address));
    await new Promise<void>((resolve) => udpEcho.bind(0, "127.0.0.1", () => resolve()));
    const device = { mac: GUEST_MAC, frames: [] as Uint8Array[], deliver(frame: Uint8Array) { this.frames.push(frame); return true; } };
    const nat = new UserNetBackend({ hostForwards: ["tcp:127.0.0.1:0-:80", "udp:127.0.0.1:0-:53"], pcap: join(dir, "x.pcap") });
    nat.attach(device);
    await nat.ready;
    nat.receiveFromGuest(dhcpFrame(1, 1));
    nat.receiveFromGuest(dhcpFrame(3, 2, { requested: GUEST_IP }));
    nat.receiveFromGuest(arpRequest(GATEWAY));
    // a TCP connection the guest never finishes (retransmission timer running), a UDP flow, a hostfwd connection in SYN-SENT
    nat.receiveFromGuest(tcpFrame(GATEWAY, { sourcePort: 40000, destinationPort: host.port, seq: 1, ack: 0, flags: 2, window: 1000, mss: 1460 }));
    nat.receiveFromGuest(udpFrame(40001, GATEWAY, udpEcho.address().port, Uint8Array.of(1)));
    nat.receiveFromGuest(udpFrame(40002, DNS, 53, Uint8Array.of(0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1)));
    const client = net.connect(nat.forwardedPorts()[0].port, "127.0.0.1");
    client.on("error", () => undefined);
    await sleep(100);
    expect(nat.stats()["now.tcp-connections"], JSON.stringify(nat.stats())).toBe(2);
    expect(nat.stats()["now.udp-flows"]).toBe(1);
    nat.close();
    client.destroy();
    host.close();
    udpEcho.close();
    await sleep(100);
    const after = resources();
    for (const kind of new Set([...before.keys(), ...after.keys()])) {
      expect(after.get(kind) ?? 0, kind).toBeLessThanOrEqual(before.get(kind) ?? 0);
    }
    const frames = device.frames.length;
    await sleep(1200); // a retransmission would be due now
    expect(device.frames.length).toBe(frames);
    rmSync(dir, { recursive: true, force: true });
  });
});
