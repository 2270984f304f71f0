// The differential harness of the QEMU oracle tests: one guest script (frames to send, frames to
// wait for) runs against real QEMU 7.2's libslirp (support/qemu-slirp.ts) and against our NAT, and
// the frames each NAT sent are normalized for comparison.
import dgram from "node:dgram";
import net from "node:net";
import { afterAll, beforeAll, expect } from "vitest";
import { UserNetBackend, type UserNetOptions } from "../../../../src/machine/net/slirp.js";
import { FakeDevice } from "./fake-device.js";
import { arpRequest, decode, GATEWAY } from "./frames.js";
import { startQemuSlirp } from "./qemu-slirp.js";
import { unpad } from "./unpad.js";

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** What a script sees of a NAT: send frames, wait for the next frame that matches. */
export interface Link {
  send(frame: Uint8Array): void;
  next(match: (frame: Uint8Array) => boolean, what: string, timeoutMs?: number): Promise<Uint8Array>;
  /** lets time pass (for frames that may or may not come) */
  quiet(ms: number): Promise<void>;
  /** which NAT the script runs against (for the few steps that differ on purpose) */
  readonly ours: boolean;
}

export type Script = (link: Link) => Promise<void>;

/** Runs `script` against QEMU's slirp (`netdev` appended to its `-netdev user`); every frame slirp sent. */
export async function runOnQemu(script: Script, netdev = ""): Promise<Uint8Array[]> {
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
      ours: false,
    });
    await sleep(200);
    received.push(...qemu.frames.map(unpad));
  } finally {
    await qemu.close();
  }
  return received;
}

/** Runs `script` against our NAT; every frame it delivered. */
export async function runOnOurs(script: Script, options: UserNetOptions = {}): Promise<Uint8Array[]> {
  const device = new FakeDevice();
  const nat = new UserNetBackend({ ...options, wake: device.wake });
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
      ours: true,
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
 * dropped; forwarded connections' client ports (picked by the host) are masked. IPv4 and IPv6.
 */
export function normalize(frames: Uint8Array[], forwardedPort = 8080): string[] {
  const iss = new Map<string, number>();
  return frames.map((frame) => {
    const decoded = decode(frame);
    if (!decoded.tcp || (!decoded.ip && !decoded.ip6)) return Buffer.from(frame).toString("hex");
    const tcp = decoded.tcp;
    const masked = frame.slice();
    const key = `${tcp.sourcePort}>${tcp.destinationPort}`;
    if (tcp.flags & 0x02) iss.set(key, tcp.seq);
    const base = iss.get(key) ?? 0;
    const l4 = decoded.ip ? 14 + (frame[14] & 15) * 4 : 54;
    masked.set([0, 0, 0, 0], l4 + 4);
    masked.set([0, 0], l4 + 16);
    const forwarded = tcp.sourcePort !== forwardedPort && decoded.ip?.source === GATEWAY && tcp.destinationPort === forwardedPort;
    if (forwarded) masked.set([0, 0], l4);
    return `${Buffer.from(masked).toString("hex")} seq+${(tcp.seq - base) >>> 0}`;
  });
}

/** Runs `script` on both NATs and expects the same frames; returns ours, normalized. */
export async function compareWithQemu(script: Script, netdev = "", options: UserNetOptions = {}): Promise<string[]> {
  const theirs = normalize(await runOnQemu(script, netdev));
  const ours = normalize(await runOnOurs(script, options));
  expect(ours).toEqual(theirs);
  return ours;
}

/** The host side of the oracle scripts, on 127.0.0.1 or ::1: both NATs talk to the same servers. */
export interface OracleServers {
  /** UDP: answers "re:" + the datagram, or 4000 bytes of 0x62 to a datagram starting with 0xbb */
  echoPort: number;
  /** UDP: nothing listens */
  closedPort: number;
  /** TCP: sends "hello from the host" and ends */
  helloPort: number;
  /** TCP: nothing listens */
  refusedPort: number;
  close(): void;
}

export async function startOracleServers(host: "127.0.0.1" | "::1"): Promise<OracleServers> {
  const type = host === "::1" ? "udp6" : "udp4";
  const echo = dgram.createSocket(type);
  echo.on("message", (message, remote) => echo.send(message[0] === 0xbb ? Buffer.alloc(4000, 0x62) : Buffer.concat([Buffer.from("re:"), message]), remote.port, remote.address));
  await new Promise<void>((resolve) => echo.bind(0, host, () => resolve()));
  const closed = dgram.createSocket(type);
  await new Promise<void>((resolve) => closed.bind(0, host, () => resolve()));
  const closedPort = closed.address().port;
  closed.close();
  const hello = net.createServer({ allowHalfOpen: true }, (socket) => {
    socket.on("data", () => undefined);
    socket.on("error", () => undefined);
    socket.end("hello from the host");
  });
  await new Promise<void>((resolve) => hello.listen(0, host, () => resolve()));
  const refused = net.createServer();
  await new Promise<void>((resolve) => refused.listen(0, host, () => resolve()));
  const refusedPort = (refused.address() as net.AddressInfo).port;
  refused.close();
  return {
    echoPort: echo.address().port,
    closedPort,
    helloPort: (hello.address() as net.AddressInfo).port,
    refusedPort,
    close: () => {
      echo.close();
      hello.close();
    },
  };
}

/** The servers for a describe block: started before its tests (the ports are filled in then), closed after them. */
export function oracleServersFor(host: "127.0.0.1" | "::1"): OracleServers {
  const servers: OracleServers = { echoPort: 0, closedPort: 0, helloPort: 0, refusedPort: 0, close: () => undefined };
  beforeAll(async () => {
    Object.assign(servers, await startOracleServers(host));
  });
  afterAll(() => servers.close());
  return servers;
}
