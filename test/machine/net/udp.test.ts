// UDP through the NAT (node:dgram on 127.0.0.1), DNS at 10.0.2.3 answered on the host, ICMP
// echo and errors, the delivery queue and the wake hook.
import dgram from "node:dgram";
import { describe, expect, it } from "vitest";
import type { HostResolver } from "../../../src/machine/net/dns-resolver.js";
import { get16, get32 } from "../../../src/machine/net/wire/bytes.js";
import { encodeDnsName, TYPE_A, TYPE_AAAA, TYPE_PTR } from "../../../src/machine/net/wire/dns.js";
import { arpRequest, decode, DNS, GATEWAY, GUEST_IP, icmpEcho, ip, udpFrame } from "./support/frames.js";
import { closedAfterEach, natWithDevice, sleep } from "./support/host.js";

const cleanups = closedAfterEach();

function setup(options: Parameters<typeof natWithDevice>[0] = {}) {
  const { nat, device } = natWithDevice(options);
  cleanups.push(() => nat.close());
  nat.receiveFromGuest(arpRequest(GATEWAY));
  return { nat, device };
}

async function udpServer(handler: (message: Buffer, remote: dgram.RemoteInfo, socket: dgram.Socket) => void): Promise<{ port: number; socket: dgram.Socket }> {
  const socket = dgram.createSocket("udp4");
  socket.on("message", (message, remote) => handler(message, remote, socket));
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", () => resolve()));
  cleanups.push(() => socket.close());
  return { port: socket.address().port, socket };
}

function dnsQuery(id: number, name: string, type: number): Uint8Array {
  return Uint8Array.from([id >> 8, id & 255, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, ...encodeDnsName(name)!, type >> 8, type & 255, 0, 1]);
}

describe("UDP", () => {
  it("carries datagrams to a host server on 127.0.0.1 (as 10.0.2.2) and its replies back, from 10.0.2.2, TTL 64", async () => {
    const seen: Array<{ data: string; port: number }> = [];
    const echo = await udpServer((message, remote, socket) => {
      seen.push({ data: message.toString(), port: remote.port });
      socket.send(Buffer.concat([Buffer.from("echo:"), message]), remote.port, remote.address);
    });
    const { nat, device } = setup();
    nat.receiveFromGuest(udpFrame(40000, GATEWAY, echo.port, new TextEncoder().encode("one")));
    nat.receiveFromGuest(udpFrame(40000, GATEWAY, echo.port, new TextEncoder().encode("two")));
    const isReply = (frame: Uint8Array) => decode(frame).udp?.destinationPort === 40000;
    const first = decode((await device.waitFor(isReply))!);
    const second = decode((await device.waitFor(isReply, 3000, device.frames.indexOf((await device.waitFor(isReply))!) + 1))!);
    expect(new TextDecoder().decode(first.udp!.payload)).toBe("echo:one");
    expect(new TextDecoder().decode(second.udp!.payload)).toBe("echo:two");
    expect(first.ip).toMatchObject({ source: GATEWAY, destination: GUEST_IP, ttl: 64, tos: 0 });
    expect(first.udp!.sourcePort).toBe(echo.port);
    expect(seen.map((entry) => entry.data)).toEqual(["one", "two"]);
    expect(seen[0].port).toBe(seen[1].port); // one host socket per flow
    expect(nat.stats()["now.udp-flows"]).toBe(1);
  });

  it("answers a datagram to a closed host port with port unreachable (from 127.0.0.1, as slirp), quoting it", async () => {
    const closed = await udpServer(() => undefined);
    const port = closed.port;
    closed.socket.close();
    cleanups.pop();
    const { nat, device } = setup();
    const datagram = udpFrame(40001, GATEWAY, port, Uint8Array.of(1, 2, 3), { tos: 0x08 });
    nat.receiveFromGuest(datagram);
    const error = decode((await device.waitFor((frame) => decode(frame).icmp !== undefined))!);
    expect(error.icmp).toMatchObject({ type: 3, code: 3 });
    expect(error.ip).toMatchObject({ source: ip("127.0.0.1"), ttl: 255, tos: 0xc8 });
    expect(Buffer.from(error.icmp!.bytes.subarray(8)).equals(Buffer.from(datagram.subarray(14)))).toBe(true);
  });

  it("fragments a reply larger than the MTU", async () => {
    const big = await udpServer((_message, remote, socket) => socket.send(Buffer.alloc(5000, 0x5a), remote.port, remote.address));
    const { nat, device } = setup();
    nat.receiveFromGuest(udpFrame(40002, GATEWAY, big.port, Uint8Array.of(0)));
    const last = await device.waitFor((frame) => decode(frame).ip?.protocol === 17 && (decode(frame).ip!.flagsOffset & 0x3fff) !== 0 && !(decode(frame).ip!.flagsOffset & 0x2000));
    expect(last).not.toBeNull();
    const fragments = device.frames.filter((frame) => decode(frame).ip?.protocol === 17);
    expect(fragments.map((frame) => frame.length)).toEqual([1514, 1514, 1514, 34 + 5008 - 3 * 1480]);
    expect(new Set(fragments.map((frame) => get16(frame, 18))).size).toBe(1);
  });

  it("answers time exceeded for TTL 1 and drops non-DHCP datagrams from 0.0.0.0", () => {
    const { nat, device } = setup();
    const from = device.frames.length;
    nat.receiveFromGuest(udpFrame(40003, GATEWAY, 9, Uint8Array.of(1), { ttl: 1 }));
    expect(decode(device.frames[from]).icmp).toMatchObject({ type: 11, code: 0 });
    nat.receiveFromGuest(udpFrame(40003, GATEWAY, 9, Uint8Array.of(1), { source: 0 }));
    expect(device.frames.length).toBe(from + 1);
    expect(nat.stats()["drop.ip-source"]).toBe(1);
  });

  it("expires idle flows (240 s) and evicts the oldest beyond the cap", async () => {
    const sink = await udpServer(() => undefined);
    const { nat } = setup({ limits: { udpFlows: 3 } });
    for (let port = 40010; port < 40015; port++) nat.receiveFromGuest(udpFrame(port, GATEWAY, sink.port, Uint8Array.of(1)));
    expect(nat.stats()["now.udp-flows"]).toBe(3);
    expect(nat.stats()["udp.flows-evicted"]).toBe(2);
    // the sweep with a clock 241 s ahead
    (nat as unknown as { udp: { sweep(now: number): void } }).udp.sweep(Date.now() + 241_000);
    expect(nat.stats()["now.udp-flows"]).toBe(0);
  });

  it("restrict=on drops the guest's UDP, DNS included", () => {
    const { nat, device } = setup({ restrict: true });
    const from = device.frames.length;
    nat.receiveFromGuest(udpFrame(40020, GATEWAY, 9, Uint8Array.of(1)));
    nat.receiveFromGuest(udpFrame(40021, DNS, 53, dnsQuery(1, "localhost", TYPE_A)));
    expect(device.frames.length).toBe(from);
    expect(nat.stats()["drop.restricted-udp"]).toBe(2);
  });
});

describe("DNS at 10.0.2.3", () => {
  const dnsReply = async (device: ReturnType<typeof setup>["device"], port: number) => {
    const frame = await device.waitFor((candidate) => decode(candidate).udp?.destinationPort === port && decode(candidate).udp?.sourcePort === 53);
    expect(frame).not.toBeNull();
    return decode(frame!);
  };

  it("resolves names on the host (getaddrinfo: localhost from /etc/hosts) and answers from 10.0.2.3:53", async () => {
    const { nat, device } = setup();
    nat.receiveFromGuest(udpFrame(40030, DNS, 53, dnsQuery(0x4242, "localhost", TYPE_A)));
    const reply = await dnsReply(device, 40030);
    expect(reply.ip).toMatchObject({ source: DNS, ttl: 64 });
    const payload = reply.udp!.payload;
    expect(get16(payload, 0)).toBe(0x4242);
    expect(payload[3] & 0x0f).toBe(0); // NOERROR
    expect(get16(payload, 6)).toBeGreaterThanOrEqual(1);
    expect(Array.from(payload.subarray(payload.length - 4))).toEqual([127, 0, 0, 1]);
  });

  it("answers A, AAAA, PTR and NXDOMAIN from the host resolver, and relays other types to the host's DNS server", async () => {
    const resolver: HostResolver = {
      lookup: async (name, family) => {
        if (name === "v4only.test" && family === 4) return ["192.0.2.7", "192.0.2.8"];
        if (name === "v6.test" && family === 6) return ["2001:db8::1"];
        if (name === "v4only.test" || name === "v6.test") throw Object.assign(new Error("no data"), { code: "ENODATA" });
        throw Object.assign(new Error("not found"), { code: "ENOTFOUND" });
      },
      reverse: async (address) => {
        if (address === "192.0.2.7") return "seven.test";
        throw Object.assign(new Error("not found"), { code: "ENOTFOUND" });
      },
    };
    const relayed: Buffer[] = [];
    const upstream = await udpServer((message, remote, socket) => {
      relayed.push(message);
      const reply = Buffer.from(message);
      reply[2] |= 0x80;
      socket.send(reply, remote.port, remote.address);
    });
    const { nat, device } = setup({ resolver, dnsServers: () => [`127.0.0.1:${upstream.port}`] });
    const ask = async (port: number, name: string, type: number) => {
      nat.receiveFromGuest(udpFrame(port, DNS, 53, dnsQuery(port, name, type)));
      return (await dnsReply(device, port)).udp!.payload;
    };
    const a = await ask(40040, "v4only.test", TYPE_A);
    expect(get16(a, 6)).toBe(2);
    expect(get32(a, a.length - 4)).toBe(ip("192.0.2.8"));
    const aaaaNone = await ask(40041, "v4only.test", TYPE_AAAA);
    expect([aaaaNone[3] & 15, get16(aaaaNone, 6)]).toEqual([0, 0]); // the name exists: NOERROR, no answer
    const aaaa = await ask(40042, "v6.test", TYPE_AAAA);
    expect(Array.from(aaaa.subarray(aaaa.length - 16))).toEqual([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    const missing = await ask(40043, "missing.test", TYPE_A);
    expect(missing[3] & 15).toBe(3); // NXDOMAIN
    const ptr = await ask(40044, "7.2.0.192.in-addr.arpa", TYPE_PTR);
    expect(Buffer.from(ptr.subarray(ptr.length - 12)).equals(Buffer.from(encodeDnsName("seven.test")!))).toBe(true);
    const mx = await ask(40045, "mail.test", 15);
    expect(relayed.length).toBe(1);
    expect(mx[2] & 0x80).toBe(0x80);
  });

  it("drops malformed queries and counts them", () => {
    const { nat, device } = setup();
    const from = device.frames.length;
    nat.receiveFromGuest(udpFrame(40050, DNS, 53, Uint8Array.of(1, 2, 3)));
    const compressed = dnsQuery(1, "a.b", TYPE_A);
    compressed[12] = 0xc0;
    nat.receiveFromGuest(udpFrame(40051, DNS, 53, compressed));
    expect(device.frames.length).toBe(from);
    expect(nat.stats()["drop.dns-short"]).toBe(1);
    expect(nat.stats()["drop.dns-name"]).toBe(1);
  });
});

describe("ICMP and delivery", () => {
  it("answers echo requests to 10.0.2.2 and 10.0.2.3 only", () => {
    const { nat, device } = setup();
    const from = device.frames.length;
    nat.receiveFromGuest(icmpEcho(GATEWAY, 1, 1, Uint8Array.of(9, 9)));
    nat.receiveFromGuest(icmpEcho(DNS, 1, 2, Uint8Array.of(9, 9)));
    nat.receiveFromGuest(icmpEcho(ip("10.0.2.4"), 1, 3, Uint8Array.of(9, 9)));
    nat.receiveFromGuest(icmpEcho(ip("192.0.2.1"), 1, 4, Uint8Array.of(9, 9)));
    const replies = device.frames.slice(from).map(decode);
    expect(replies.map((reply) => [reply.ip!.source, reply.icmp!.type, reply.ip!.ttl])).toEqual([[GATEWAY, 0, 255], [DNS, 0, 255]]);
  });

  it("wakes the guest once per batch of delivered frames", () => {
    const { nat, device } = setup();
    const wakes = device.wakes;
    const from = device.frames.length;
    nat.receiveFromGuest(icmpEcho(GATEWAY, 1, 1, new Uint8Array(4000), { flagsOffset: 0 })); // the reply is three fragments
    expect(device.frames.length - from).toBe(3);
    expect(device.wakes).toBe(wakes + 1);
    nat.receiveFromGuest(icmpEcho(GATEWAY, 1, 2, new Uint8Array(8)));
    expect(device.wakes).toBe(wakes + 2);
    nat.receiveFromGuest(udpFrame(40060, GATEWAY, 9, Uint8Array.of(1), { ttl: 0 }));
    expect(device.wakes).toBe(wakes + 3);
    nat.receiveFromGuest(icmpEcho(ip("192.0.2.1"), 1, 3, new Uint8Array(8)));
    expect(device.wakes).toBe(wakes + 3); // nothing delivered, no wake
  });

  it("keeps frames the device refuses (no receive buffer) and delivers them in order when it can, waking the guest", () => {
    const { nat, device } = setup();
    device.accepting = false;
    for (let sequence = 1; sequence <= 5; sequence++) nat.receiveFromGuest(icmpEcho(GATEWAY, 7, sequence, Uint8Array.of(sequence)));
    expect(nat.stats()["now.delivery-queue"]).toBe(5);
    const wakes = device.wakes;
    device.accepting = true;
    const from = device.frames.length;
    nat.guestCanReceive();
    expect(device.frames.slice(from).map((frame) => get16(frame, 14 + 20 + 6))).toEqual([1, 2, 3, 4, 5]);
    expect(device.wakes).toBe(wakes + 1);
    expect(nat.stats()["now.delivery-queue"]).toBe(0);
  });

  it("bounds the delivery queue", () => {
    const { nat, device } = setup({ limits: { deliveryQueueFrames: 3 } });
    device.accepting = false;
    for (let sequence = 1; sequence <= 5; sequence++) nat.receiveFromGuest(icmpEcho(GATEWAY, 7, sequence, Uint8Array.of(sequence)));
    expect(nat.stats()["now.delivery-queue"]).toBe(3);
    expect(nat.stats()["drop.delivery-queue-full"]).toBe(2);
  });

  it("delivers nothing after close() and closes quietly twice", async () => {
    const { nat, device } = setup();
    nat.close();
    nat.close();
    const from = device.frames.length;
    nat.receiveFromGuest(icmpEcho(GATEWAY, 1, 1, Uint8Array.of(1)));
    nat.guestCanReceive();
    await sleep(10);
    expect(device.frames.length).toBe(from);
  });
});
