// A loopback TCP forwarder for load clients that open many connections at once (ab -c 32): it
// accepts them all at once and opens the connections to the machine's hostfwd port one at a time,
// each after the previous one has carried its first bytes back. QEMU's libslirp listens with a
// backlog of 1 (docs/nat.md): a burst of connects while QEMU is short of CPU — the test suite
// runs two files at a time on two cores — overflows its accept queue, Linux drops the SYNs and the
// clients retry after 1, 2, 4, 8 s, long enough for the server's idle timeout to close connections
// the client still counts on. Paced, every client connection still becomes exactly one guest
// connection carrying exactly its bytes; only the order in which they are opened changes.
import net from "node:net";

/** How long an upstream connection may take to answer before the next one is opened anyway. */
const RELEASE_AFTER_MS = 2_000;

export interface PacedForwarder {
  port: number;
  close(): Promise<void>;
}

export async function pacedForwarder(upstreamPort: number): Promise<PacedForwarder> {
  const waiting: net.Socket[] = [];
  const open = new Set<net.Socket>();
  let opening = false;

  const next = (): void => {
    if (opening) return;
    const client = waiting.shift();
    if (client === undefined) return;
    if (client.destroyed) return next();
    opening = true;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      clearTimeout(timer);
      opening = false;
      next();
    };
    const timer = setTimeout(release, RELEASE_AFTER_MS);
    const upstream = net.connect({ host: "127.0.0.1", port: upstreamPort });
    open.add(upstream);
    upstream.once("connect", () => {
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
    });
    upstream.once("data", release);
    upstream.on("error", () => client.destroy());
    upstream.on("close", () => {
      open.delete(upstream);
      client.destroy();
      release();
    });
    client.on("error", () => upstream.destroy());
    client.on("close", () => {
      upstream.destroy();
      release();
    });
  };

  const server = net.createServer((client) => {
    client.pause(); // its first request waits in the socket until the upstream connection is open
    open.add(client);
    client.on("close", () => open.delete(client));
    waiting.push(client);
    next();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: "127.0.0.1", port: 0, backlog: 511 }, resolve);
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of open) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
