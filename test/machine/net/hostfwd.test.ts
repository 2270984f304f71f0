// Host forwarding (hostfwd=): host connections carried into the guest, before and after the NAT
// knows the guest's address; UDP forwarding; restrict=on; rule parsing and listen errors; our IPv6
// extension hostfwd6= from the host's ::1 into the guest over IPv6.
import dgram from "node:dgram";
import net from "node:net";
import { describe, expect, it } from "vitest";
import { type HostForward, parseHostForward, parseHostForward6, type UserNetBackend } from "../../../src/machine/net/slirp.js";
import { get16 } from "../../../src/machine/net/wire/bytes.js";
import { ACK, RST, SYN } from "../../../src/machine/net/wire/tcp.js";
import type { FakeDevice } from "./support/fake-device.js";
import {
  arpRequest, decode, type Decoded, dhcpFrame, GATEWAY, GUEST6, GUEST_IP, GUEST_LL, GUEST_MAC, HOST6, hex, ip, ip6, neighborAdvertisement,
  neighborSolicitation, routerSolicitation, tcp6Frame, tcpFrame, udp6Frame, udpFrame,
} from "./support/frames.js";
import { closedAfterEach, natWithDevice, sleep } from "./support/host.js";

const cleanups = closedAfterEach();

async function setup(rules: Array<string | HostForward>, options: Parameters<typeof natWithDevice>[0] = {}) {
  const { nat, device } = natWithDevice({ hostForwards: rules, ...options });
  cleanups.push(() => nat.close());
  await nat.ready;
  return { nat, device, port: (index = 0) => nat.forwardedPorts()[index].port };
}

function connect(port: number, host = "127.0.0.1"): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, host, () => resolve(socket));
    socket.on("error", reject);
    cleanups.push(() => socket.destroy());
  });
}

function lease(nat: UserNetBackend) {
  nat.receiveFromGuest(dhcpFrame(1, 1));
  nat.receiveFromGuest(dhcpFrame(3, 2, { requested: GUEST_IP, server: GATEWAY }));
}

type Reply = (flags: number, seq: number, ack: number, payload?: Uint8Array) => void;

/** The guest side of a forwarded connection: answers the SYN, then acknowledges and collects data. */
async function acceptInGuest(nat: UserNetBackend, device: FakeDevice, guestPort: number, from = 0) {
  const synFrame = await device.waitFor((frame) => decode(frame).tcp?.flags === SYN && decode(frame).tcp?.destinationPort === guestPort, 3000, from);
  expect(synFrame).not.toBeNull();
  const syn = decode(synFrame!);
  const reply = (flags: number, seq: number, ack: number, payload?: Uint8Array) =>
    nat.receiveFromGuest(tcpFrame(syn.ip!.source, { sourcePort: guestPort, destinationPort: syn.tcp!.sourcePort, seq, ack, flags, window: 64240, mss: flags & SYN ? 1460 : undefined }, payload, { source: syn.ip!.destination }));
  return { syn, reply };
}

/**
 * A forwarded HTTP/1.0 exchange once the SYN reached the guest (either family): the guest's
 * SYN-ACK, the client's request, the guest's response and FIN, the client's FIN; nothing left.
 */
async function httpThroughForward(nat: UserNetBackend, device: FakeDevice, client: net.Socket, syn: Decoded, reply: Reply, from: number) {
  const iss = syn.tcp!.seq;
  reply(SYN | ACK, 9000, iss + 1);
  expect(await device.waitFor((frame) => decode(frame).tcp?.flags === ACK && decode(frame).tcp?.ack === 9001, 2000, from), "ACK of the SYN-ACK").not.toBeNull();
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
    await httpThroughForward(nat, device, client, syn, reply, from);
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
  it("parses QEMU's syntax and refuses the rest with QEMU 7.2's reasons", () => {
    expect(parseHostForward("tcp:127.0.0.1:8080-:80")).toEqual({ protocol: "tcp", hostAddress: "127.0.0.1", hostPort: 8080, guestAddress: "", guestPort: 80 });
    expect(parseHostForward("::2222-10.0.2.15:22")).toEqual({ protocol: "tcp", hostAddress: "0.0.0.0", hostPort: 2222, guestAddress: "10.0.2.15", guestPort: 22 });
    expect(parseHostForward("udp::5000-:5000").protocol).toBe("udp");
    // each as qemu-system-x86_64 7.2 words it (measured: "-netdev user,id=u0,hostfwd=RULE: Invalid host forwarding rule 'RULE' (REASON)")
    const reasons: Array<[string, string]> = [
      ["tcp:[::1]:18080-[fec0::15]:80", "Bad host address"],
      ["tcp:[::1]:18080-:80", "Bad host address"],
      ["tcp6::18080-:80", "Bad protocol name"],
      ["tcp::18080-[fec0::15]:80", "Bad guest address"],
      ["tcp::18083-fec0::15:80", "Bad guest address"],
      ["tcp:::18080-:80", "Bad host port"],
      ["tcp:127.0.0.1:80", "Bad host port separator"],
      ["sctp::1-:2", "Bad protocol name"],
      ["tcp:localhost:18081-:2", "Bad host address"],
      ["tcp::70000-:80", "Bad host port"],
      ["tcp::x-:80", "Bad host port"],
      ["tcp::18082-:0", "Bad guest port"],
      ["tcp::18084-10.0.2.15", "Missing guest address"],
      [":2222-:22", "Bad host address"],
      ["tcp", "No : separators"],
      ["tcp:127.0.0.1", "Missing : separator"],
    ];
    for (const [rule, reason] of reasons) {
      expect(() => parseHostForward(rule), rule).toThrow(`Invalid host forwarding rule '${rule}' (${reason})`);
    }
  });

  it("parses our hostfwd6 form: IPv6 addresses in brackets, an empty host address for ::, an empty guest address for the guest's own", () => {
    expect(parseHostForward6("tcp:[::1]:8080-[fec0::15]:80")).toEqual({ protocol: "tcp", hostAddress: "::1", hostPort: 8080, guestAddress: "fec0::15", guestPort: 80, ipv6: true });
    expect(parseHostForward6("tcp:[::1]:8080-:80")).toMatchObject({ hostAddress: "::1", guestAddress: "", ipv6: true });
    expect(parseHostForward6("udp::5353-:53")).toMatchObject({ protocol: "udp", hostAddress: "::", guestAddress: "" });
    const reasons: Array<[string, string]> = [
      ["tcp:::1:8080-:80", "Bad host port"],
      ["tcp:127.0.0.1:8080-:80", "Bad host address"],
      ["tcp:[::1:8080-:80", "Missing : separator"],
      ["tcp:[::1]8080-:80", "Missing : separator"],
      ["tcp:[fec0::zz]:8080-:80", "Bad host address"],
      ["tcp:[::1]:8080-10.0.2.15:80", "Bad guest address"],
      ["tcp:[::1]:8080-[fec0::15]", "Missing guest address"],
      ["tcp6:[::1]:8080-:80", "Bad protocol name"],
      ["tcp:[::1]:8080-:0", "Bad guest port"],
    ];
    for (const [rule, reason] of reasons) {
      expect(() => parseHostForward6(rule), rule).toThrow(`Invalid IPv6 host forwarding rule '${rule}' (${reason})`);
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

describe("hostfwd6 (ours): the host's ::1 into the guest over IPv6", () => {
  /** the guest side of a forwarded IPv6 connection: the SYN, and a way to answer it */
  async function acceptInGuest6(nat: UserNetBackend, device: FakeDevice, guestPort: number, from = 0) {
    const synFrame = await device.waitFor((frame) => decode(frame).tcp?.flags === SYN && decode(frame).tcp?.destinationPort === guestPort, 3000, from);
    expect(synFrame, "a SYN into the guest").not.toBeNull();
    const syn = decode(synFrame!);
    const reply: Reply = (flags, seq, ack, payload) =>
      nat.receiveFromGuest(tcp6Frame(syn.ip6!.source, { sourcePort: guestPort, destinationPort: syn.tcp!.sourcePort, seq, ack, flags, window: 64240, mss: flags & SYN ? 1440 : undefined }, payload, { source: syn.ip6!.destination }));
    return { syn, reply };
  }

  it("accepts and closes host connections until the guest has used an address in fec0::/64", async () => {
    const { nat, device, port } = await setup([parseHostForward6("tcp:[::1]:0-:80")]);
    nat.receiveFromGuest(routerSolicitation(GUEST_LL)); // a link-local address is not one to connect to
    const from = device.frames.length;
    const socket = await connect(port(), "::1");
    const closed = await new Promise<boolean>((resolve) => {
      socket.on("close", () => resolve(true));
      socket.resume();
      setTimeout(() => resolve(false), 2000);
    });
    expect(closed).toBe(true);
    expect(device.frames.length).toBe(from);
    expect(nat.stats()["hostfwd.guest-unknown"]).toBe(1);
  });

  it("carries a [::1] client into the guest's SLAAC address: SYN from fec0::2 with MSS 1440 and hop limit 255, data both ways, FIN both ways", async () => {
    const { nat, device, port } = await setup([parseHostForward6("tcp:[::1]:0-:80"), "tcp:127.0.0.1:0-:80"]);
    expect(nat.forwardedPorts()[0].rule.ipv6).toBe(true);
    // the guest's duplicate address detection for its SLAAC address, then its NS for the router
    nat.receiveFromGuest(neighborSolicitation(GUEST6, new Uint8Array(16)));
    nat.receiveFromGuest(neighborSolicitation(HOST6, GUEST6));
    const from = device.frames.length;
    const client = await connect(port(), "::1");
    const { syn, reply } = await acceptInGuest6(nat, device, 80, from);
    expect(hex(syn.ip6!.source)).toBe(hex(HOST6));
    expect(hex(syn.ip6!.destination)).toBe(hex(GUEST6));
    expect(syn.ip6!.hopLimit).toBe(255);
    expect(syn.tcp!.sourcePort).toBe(client.localPort);
    expect(hex(syn.tcp!.options)).toBe("020405a0");
    await httpThroughForward(nat, device, client, syn, reply, from);
  });

  it("with an explicit guest address, solicits its MAC first (NS from fec0::2), then sends the SYN to the MAC the NA came from", async () => {
    const target = ip6("fec0::15");
    const { nat, device, port } = await setup([parseHostForward6("tcp:[::1]:0-[fec0::15]:7")]);
    await connect(port(), "::1");
    const ns = await device.waitFor((frame) => decode(frame).icmp6?.type === 135);
    expect(ns, "NS for fec0::15").not.toBeNull();
    expect(hex(ns!.subarray(0, 6))).toBe("3333ff000015");
    expect(hex(decode(ns!).icmp6!.bytes.subarray(8, 24))).toBe(hex(target));
    const mac = Uint8Array.from([0x52, 0x54, 0, 1, 2, 3]);
    nat.receiveFromGuest(neighborAdvertisement(target, HOST6, { sourceMac: mac }));
    const { syn } = await acceptInGuest6(nat, device, 7);
    expect(hex(syn.ip6!.destination)).toBe(hex(target));
    expect(hex(device.frames[device.frames.length - 1].subarray(0, 6))).toBe(hex(mac));
  });

  it("carries UDP from [::1] into the guest from fec0::2 and the reply back, and shares its port number with a hostfwd rule", async () => {
    const { nat, device, port } = await setup([parseHostForward6("udp:[::1]:0-:5353")]);
    const shared = await setup([`udp:127.0.0.1:${port()}-:5353`]);
    expect(shared.port()).toBe(port());
    nat.receiveFromGuest(neighborSolicitation(HOST6, GUEST6)); // the guest shows its address and MAC
    const client = dgram.createSocket("udp6");
    cleanups.push(() => client.close());
    await new Promise<void>((resolve) => client.bind(0, "::1", () => resolve()));
    const reply = new Promise<Buffer>((resolve) => client.on("message", (message) => resolve(message)));
    client.send("question", port(), "::1");
    const inbound = decode((await device.waitFor((frame) => decode(frame).udp?.destinationPort === 5353 && decode(frame).ip6 !== undefined))!);
    expect(hex(inbound.ip6!.source)).toBe(hex(HOST6));
    expect(hex(inbound.ip6!.destination)).toBe(hex(GUEST6));
    expect(new TextDecoder().decode(inbound.udp!.payload)).toBe("question");
    nat.receiveFromGuest(udp6Frame(5353, HOST6, client.address().port, new TextEncoder().encode("answer")));
    expect((await reply).toString()).toBe("answer");
  });
});
