// Host-side helpers for the NAT's tests: servers on 127.0.0.1 (or ::1) with free ports, a NAT with a fake
// device, and cleanup of everything a test opened.
import { createHash } from "node:crypto";
import net from "node:net";
import { afterEach } from "vitest";
import { UserNetBackend, type UserNetOptions } from "../../../../src/machine/net/slirp.js";
import { FakeDevice } from "./fake-device.js";

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
export const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

/** Deterministic bytes (a test's payload). */
export function pattern(length: number, seed = 1): Buffer {
  const bytes = Buffer.alloc(length);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    bytes[i] = state & 0xff;
  }
  return bytes;
}

export interface TestServer {
  port: number;
  sockets: net.Socket[];
  /** resolves with the next accepted socket */
  accepted(): Promise<net.Socket>;
  close(): void;
}

export async function tcpServer(onConnection: (socket: net.Socket) => void = () => undefined, host = "127.0.0.1"): Promise<TestServer> {
  const sockets: net.Socket[] = [];
  const waiting: Array<(socket: net.Socket) => void> = [];
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    socket.on("error", () => undefined);
    sockets.push(socket);
    onConnection(socket);
    waiting.shift()?.(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, host, () => resolve()));
  return {
    port: (server.address() as net.AddressInfo).port,
    sockets,
    accepted: () => (sockets.length > waiting.length ? Promise.resolve(sockets[waiting.length]) : new Promise((resolve) => waiting.push(resolve))),
    close: () => {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}

/** A port nothing listens on (a moment ago). */
export async function closedTcpPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export function natWithDevice(options: UserNetOptions = {}): { nat: UserNetBackend; device: FakeDevice } {
  const device = new FakeDevice();
  const nat = new UserNetBackend({ wake: device.wake, ...options });
  nat.attach(device);
  return { nat, device };
}

/** What a test opened, to be closed after it (in reverse order): call once at a test file's top level. */
export function closedAfterEach(): Array<() => void> {
  const cleanups: Array<() => void> = [];
  afterEach(() => {
    while (cleanups.length) cleanups.pop()!();
  });
  return cleanups;
}
