// Host forwarding (hostfwd=): host connections carried into the guest, before and after the NAT
// knows the guest's address; UDP forwarding; restrict=on; rule parsing and listen errors.
import dgram from "node:dgram";
import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { parseHostForward, type UserNetBackend } from "../../../src/machine/net/slirp.js";
import { get16 } from "../../../src/machine/net/wire/bytes.js";
import { ACK, RST, SYN } from "../../../src/machine/net/wire/tcp.js";
import type { FakeDevice } from "./support/fake-device.js";
import { arpRequest, decode, dhcpFrame, GATEWAY, GUEST_IP, GUEST_MAC, hex, ip, tcpFrame, udpFrame } from "./support/frames.js";
import { natWithDevice, sleep } from "./support/host.js";

const cleanups: Array<() => void> = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

async function setup(rules: string[], options: Parameters<typeof natWithDevice>[0] = {}) {
  const { nat, device } = natWithDevice({ hostForwards: rules, ...options });
  cleanups.push(() => nat.close());
  await nat.ready;
  return { nat, device, port: (index = 0) => nat.forwardedPorts()[index].port };
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1", () => resolve(socket));
    socket.on("error", reject);
    cleanups.push(() => socket.destroy());
  });
}

function lease(nat: UserNetBackend) {
  nat.receiveFromGuest(dhcpFrame(1, 1));
  nat.receiveFromGuest(dhcpFrame(3, 2, { requested: GUEST_IP, server: GATEWAY }));
}

/** The guest side of a forwarded connection: answers the SYN, then acknowledges and collects data. */
async function acceptInGuest(nat: UserNetBackend, device: FakeDevice, guestPort: number, from = 0) {
  const synFrame = await device.waitFor((frame) => decode(frame).tcp?.flags === SYN && decode(frame).tcp?.destinationPort === guestPort, 3000, from);
  expect(synFrame).not.toBeNull();
  const syn = decode(synFrame!);
  const reply = (flags: number, seq: number, ack: number, payload?: Uint8Array) =>
    nat.receiveFromGuest(tcpFrame(syn.ip!.source, { sourcePort: guestPort, destinationPort: syn.tcp!.sourcePort, seq, ack, flags, window: 64240, mss: flags & SYN ? 1460 : undefined }, payload, { source: syn.ip!.destination }));
  return { syn, reply };
}

describe("hostfwd (TCP)", () => {
  it("accepts and closes host connections while the guest's address is unknown", async () => {
    const { nat, device, port } = await setup(["tcp:127.0.0.1:0-:80"]);
    const socket = await connect(port());
    const closed = await new Promise<boolean>((resolve) => {
      socket.on("close", () => resolve(true));
      socket.resume();
      setTimeout(() => resolve(false), 2000);
    });
    expect(closed).toBe(true);
    expect(device.frames.length).toBe(0);
    expect(nat.stats()["hostfwd.guest-unknown"]).toBe(1);
  });

  it("opens the connection into the guest once it has a DHCP lease: SYN from 10.0.2.2 with MSS 1460, data both ways, FIN both ways", async () => {
    const { nat, device, port } = await setup(["tcp:127.0.0.1:0-:80"]);
    lease(nat);
    const from = device.frames.length;
    const client = await connect(port());
    const { syn, reply } = await acceptInGuest(nat, device, 80, from);
    expect(syn.ip).toMatchObject({ source: GATEWAY, destination: GUEST_IP, ttl: 64, flagsOffset: 0 });
    expect(syn.tcp!.sourcePort).toBe(client.localPort);
    expect(hex(syn.tcp!.options)).toBe("020405b4");
    expect(syn.tcp!.window).toBe(65535);
    const iss = syn.tcp!.seq;
    reply(SYN | ACK, 9000, iss + 1);
    const ackFrame = await device.waitFor((frame) => decode(frame).tcp?.flags === ACK && decode(frame).tcp?.ack === 9001, 2000, from);
    expect(ackFrame).not.toBeNull();
    const received: Buffer[] = [];
    client.on("data", (chunk) => received.push(chunk));
    client.write("GET / HTTP/1.0\r\n\r\n");
    const request = await device.waitFor((frame) => (decode(frame).tcp?.payload.length ?? 0) > 0, 2000, from);
    expect(new TextDecoder().decode(decode(request!).tcp!.payload)).toBe("GET / HTTP/1.0\r\n\r\n");
    reply(ACK, 9001, iss + 1 + 18, new TextEncoder().encode("HTTP/1.0 200 OK\r\n\r\nhi"));
    reply(ACK | 0x01, 9001 + 21, iss + 1 + 18);
    const ended = await new Promise<boolean>((resolve) => {
      client.on("end", () => resolve(true));
      setTimeout(() => resolve(false), 2000);
    });
    expect(ended).toBe(true);
    expect(Buffer.concat(received).toString()).toBe("HTTP/1.0 200 OK\r\n\r\nhi");
    client.end();
    const fin = await device.waitFor((frame) => ((decode(frame).tcp?.flags ?? 0) & 0x01) !== 0, 2000, from);
    expect(fin).not.toBeNull();
    reply(ACK, 9001 + 22, decode(fin!).tcp!.seq + 1);
    await sleep(20);
    expect(nat.stats()["now.tcp-connections"]).toBe(0);
    expect(nat.stats()["internal-error"]).toBeUndefined();
  });

  // ab -c 64 against hostfwd met "Connection reset by peer" now and then: Linux hands a loopback
  // client a port still in TIME_WAIT (tcp_tw_reuse=2) after a second, and the NAT, holding its
  // own side of the old connection in TIME_WAIT for 10 s, refused the new one.
  it("forwards a new client whose port is that of a connection the NAT still holds in TIME_WAIT", async () => {
    const { nat, device, port } = await setup(["tcp:127.0.0.1:0-:80"]);
    lease(nat);
    const from = device.frames.length;
    const first = await connect(port());
    const clientPort = first.localPort!;
    const { syn, reply } = await acceptInGuest(nat, device, 80, from);
    const iss = syn.tcp!.seq;
    reply(SYN | ACK, 9000, iss + 1);
    expect(await device.waitFor((frame) => decode(frame).tcp?.ack === 9001, 2000, from)).not.toBeNull();
    first.end(); // the host closes first: the NAT's FIN, the guest's FIN, the NAT in TIME_WAIT
    const fin = await device.waitFor((frame) => ((decode(frame).tcp?.flags ?? 0) & 0x01) !== 0, 2000, from);
    expect(fin).not.toBeNull();
    reply(ACK | 0x01, 9001, decode(fin!).tcp!.seq + 1);
    expect(await device.waitFor((frame) => decode(frame).tcp?.ack === 9002, 2000, from)).not.toBeNull();
    expect(nat.stats()["now.tcp-connections"]).toBe(1);
    // What Linux does after a second (the test's own client port is stuck in its TIME_WAIT, and
    // Node cannot bind it again): a newly accepted host socket whose peer has that same port.
    const server = net.createServer((accepted) => cleanups.push(() => accepted.destroy()));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => server.close());
    const socket = net.connect((server.address() as net.AddressInfo).port, "127.0.0.1");
    cleanups.push(() => socket.destroy());
    await new Promise((resolve) => socket.once("connect", resolve));
    const again = device.frames.length;
    const tcp = (nat as unknown as { tcp: { openToGuest(s: net.Socket, g: number, gp: number, c: number, cp: number): boolean } }).tcp;
    expect(tcp.openToGuest(socket, GUEST_IP, 80, ip("127.0.0.1"), clientPort), "the new connection is taken").toBe(true);
    const secondSyn = await device.waitFor((frame) => decode(frame).tcp?.flags === SYN, 2000, again);
    expect(secondSyn, "a SYN into the guest for the new client").not.toBeNull();
    expect(decode(secondSyn!).tcp!.sourcePort).toBe(clientPort);
    expect(nat.stats()["tcp.time-wait-replaced"]).toBe(1);
  });

  it("learns the address of a statically configured guest from its first packet", async () => {
    const { nat, device, port } = await setup(["tcp:127.0.0.1:0-:22"]);
    nat.receiveFromGuest(arpRequest(GATEWAY, ip("10.0.2.20")));
    const from = device.frames.length;
    await connect(port());
    const { syn } = await acceptInGuest(nat, device, 22, from);
    expect(syn.ip!.destination).toBe(ip("10.0.2.20"));
  });

  it("with an explicit guest address, connects at once (asking the guest's MAC by ARP first)", async () => {
    const { nat, device, port } = await setup(["tcp:127.0.0.1:0-10.0.2.15:7"]);
    await connect(port());
    const arp = await device.waitFor((frame) => get16(frame, 12) === 0x0806);
    expect(hex(arp!)).toBe("ffffffffffff52550a00020208060001080006040001" + "52550a0002020a000202" + "000000000000" + "0a00020f");
    nat.receiveFromGuest(arpRequest(GATEWAY)); // the guest shows up
    const { syn } = await acceptInGuest(nat, device, 7);
    expect(syn.ip!.destination).toBe(GUEST_IP);
    expect(Array.from(device.frames[device.frames.length - 1].subarray(0, 6))).toEqual(Array.from(GUEST_MAC));
  });

  it("resets the host client when the guest refuses (RST)", async () => {
    const { nat, device, port } = await setup(["tcp:127.0.0.1:0-:81"]);
    lease(nat);
    const client = await connect(port());
    const error = new Promise<string>((resolve) => {
      client.on("error", (failure: NodeJS.ErrnoException) => resolve(failure.code ?? ""));
      client.on("close", () => resolve("closed"));
    });
    const { syn, reply } = await acceptInGuest(nat, device, 81);
    reply(RST | ACK, 0, syn.tcp!.seq + 1);
    expect(["ECONNRESET", "closed"]).toContain(await error);
    expect(nat.stats()["now.tcp-connections"]).toBe(0);
  });

  it("still forwards under restrict=on", async () => {
    const { nat, device, port } = await setup(["tcp:127.0.0.1:0-:80"], { restrict: true });
    lease(nat);
    const from = device.frames.length;
    await connect(port());
    const { syn } = await acceptInGuest(nat, device, 80, from);
    expect(syn.ip!.destination).toBe(GUEST_IP);
  });
});

describe("hostfwd (UDP)", () => {
  it("carries a host datagram into the guest from 10.0.2.2 and the guest's reply back", async () => {
    const { nat, device, port } = await setup(["udp:127.0.0.1:0-:5353"]);
    lease(nat);
    const client = dgram.createSocket("udp4");
    cleanups.push(() => client.close());
    await new Promise<void>((resolve) => client.bind(0, "127.0.0.1", () => resolve()));
    const reply = new Promise<Buffer>((resolve) => client.on("message", (message) => resolve(message)));
    client.send("question", port(), "127.0.0.1");
    const inbound = decode((await device.waitFor((frame) => decode(frame).udp?.destinationPort === 5353))!);
    expect(inbound.ip).toMatchObject({ source: GATEWAY, destination: GUEST_IP });
    expect(inbound.udp!.sourcePort).toBe(client.address().port);
    expect(new TextDecoder().decode(inbound.udp!.payload)).toBe("question");
    nat.receiveFromGuest(udpFrame(5353, GATEWAY, client.address().port, new TextEncoder().encode("answer")));
    expect((await reply).toString()).toBe("answer");
  });
});

describe("hostfwd rules", () => {
  it("parses QEMU's syntax and refuses the rest with a message", () => {
    expect(parseHostForward("tcp:127.0.0.1:8080-:80")).toEqual({ protocol: "tcp", hostAddress: "127.0.0.1", hostPort: 8080, guestAddress: "", guestPort: 80 });
    expect(parseHostForward("::2222-10.0.2.15:22")).toEqual({ protocol: "tcp", hostAddress: "0.0.0.0", hostPort: 2222, guestAddress: "10.0.2.15", guestPort: 22 });
    expect(parseHostForward("udp::5000-:5000").protocol).toBe("udp");
    for (const bad of ["tcp:127.0.0.1:80", "sctp::1-:2", "tcp:localhost:1-:2", "tcp::70000-:80", "tcp::1-:0"]) {
      expect(() => parseHostForward(bad)).toThrow(/hostfwd=/);
    }
  });

  it("rejects `ready` naming the rule when the host port is taken", async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", () => resolve()));
    cleanups.push(() => taken.close());
    const busy = (taken.address() as net.AddressInfo).port;
    const { nat } = natWithDevice({ hostForwards: [`tcp:127.0.0.1:${busy}-:80`] });
    cleanups.push(() => nat.close());
    await expect(nat.ready).rejects.toThrow(new RegExp(`hostfwd tcp:127.0.0.1:${busy}: cannot listen \\(EADDRINUSE\\)`));
  });
});
