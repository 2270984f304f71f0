// The `serve` workload (docs/serve.md) on real QEMU 7.2 with user networking (DESIGN.md §8), and
// then the same set on this emulator under --accel jit with its own virtio-net-pci and NAT (one
// command line for both, the program name aside; SERVE_MACHINE=qemu|emulator runs one): the
// guest image boots with `-netdev user,hostfwd=tcp:127.0.0.1:PORT-:80`, and real clients talk to
// it through the NAT: curl for every route, a raw keep-alive client for the scripted sequences
// whose commits must equal test/irmin/model.ts, ab for load, Node http agents for a PUT soak,
// 8 MiB bodies both ways, and hostile clients next to well-behaved ones. Every boot captures its
// frames with filter-dump (tshark must find nothing malformed and no bad checksum) and ends with
// the guest's own exit: each boot runs with `requests=T`, the test tops the count up to exactly T
// on its last connection, and the counters line the guest prints must match /stats.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { add, type Hex, removePath, Store } from "../irmin/model.js";
import { info, modelInfo, scriptedSequence } from "../serve/scripted.js";

/** The machine the current suite boots: QEMU, then this emulator (JIT, its own virtio-net-pci and NAT). */
type Machine = "qemu" | "emulator";
let MACHINE: Machine = "qemu";
/** SERVE_MACHINE=qemu or =emulator runs the set on one machine only. */
const MACHINES: Machine[] = process.env.SERVE_MACHINE === "emulator" ? ["emulator"] : process.env.SERVE_MACHINE === "qemu" ? ["qemu"] : ["qemu", "emulator"];
import { encodeRequest, encodeStep, type HttpRequest, type HttpResponse, parseResponses } from "../serve/serve_native.js";
import { readPcap, tsharkMatching, tsharkProblems } from "../support/capture.js";
import { hostHas } from "../support/host-tools.js";
import { hasQemu, repoRoot } from "./support/boot.js";
import { pacedForwarder } from "./support/paced-forwarder.js";

const hasTools = hasQemu && hostHas("tshark", ["--version"]) && hostHas("curl", ["--version"]) && hostHas("ab", ["-V"]);

const LISTENING = "serve: listening on 10.0.2.15:80";
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

/** Rejects after `ms` (every wait in this file is bounded). */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// ---- the guest ----

let workDir = "";
let image = "";
const running = new Set<ChildProcess>(); // the QEMU processes this file started and that still run

interface ServeGuest {
  name: string;
  port: number;
  child: ChildProcess;
  exit: Promise<number | null>;
  serialFile: string;
  pcap: string;
  /** the guest's requests=: finish() tops the count up to it */
  limit: number;
  stderr: () => string;
}

const serialOf = (guest: ServeGuest): string => {
  try {
    return readFileSync(guest.serialFile, "latin1");
  } catch {
    return "";
  }
};

/** A port that was free on 127.0.0.1 a moment ago (QEMU binds it; startServe retries if it is taken). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Boots `serve <args> requests=<limit>` and waits for its "listening" line. */
async function startServe(name: string, args: string, limit: number): Promise<ServeGuest> {
  for (let attempt = 1; attempt <= 5; attempt++) {
    const port = await freePort();
    const serialFile = join(workDir, `${name}.serial`);
    const pcap = join(workDir, `${name}.pcap`);
    rmSync(serialFile, { force: true });
    rmSync(pcap, { force: true });
    // the same command line for both machines, the program name aside (ours writes COM1 to stdout)
    // prettier-ignore
    const common = [
      "-machine", "q35", "-m", "512", "-nodefaults", "-display", "none",
      "-no-reboot", "-kernel", image, "-append", `serve ${args} requests=${limit}`, "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
      "-netdev", `user,id=n0,hostfwd=tcp:127.0.0.1:${port}-:80`, "-device", "virtio-net-pci,netdev=n0",
      "-object", `filter-dump,id=f0,netdev=n0,file=${pcap}`,
    ];
    const child = MACHINE === "qemu"
      ? spawn("qemu-system-x86_64", ["-accel", "tcg", "-serial", `file:${serialFile}`, ...common], { cwd: repoRoot, stdio: ["ignore", "ignore", "pipe"] })
      : spawn(process.execPath, ["--import", "tsx", "src/cli.ts", "-accel", "kvm", "-serial", "stdio", ...common], { cwd: repoRoot, stdio: ["ignore", openSync(serialFile, "w"), "pipe"] });
    running.add(child);
    let stderr = "";
    child.stderr!.on("data", (chunk) => (stderr += chunk));
    let exited = false;
    const exit = new Promise<number | null>((resolve) =>
      child.on("exit", (code) => {
        exited = true;
        running.delete(child);
        resolve(code);
      }),
    );
    const guest: ServeGuest = { name, port, child, exit, serialFile, pcap, limit, stderr: () => stderr };
    const deadline = Date.now() + 60_000;
    while (!exited && Date.now() < deadline && !serialOf(guest).includes(LISTENING)) await sleep(50);
    if (serialOf(guest).includes(LISTENING) && !exited) return guest;
    stop(guest);
    await within(exit, 10_000, "QEMU exit");
    if (/host ?forward|hostfwd|in use/i.test(stderr) && attempt < 5) continue; // the port was taken meanwhile
    throw new Error(`${name}: the guest did not start listening\nstderr: ${stderr}\nserial:\n${serialOf(guest)}`);
  }
  throw new Error("unreachable");
}

/** Kills this QEMU (only the process this file started); a crash report on the serial line goes to the log. */
function stop(guest: ServeGuest): void {
  if (running.has(guest.child)) guest.child.kill("SIGKILL");
  const serial = serialOf(guest);
  const fatal = serial.search(/\[(PANIC|FATAL)\]/);
  if (fatal >= 0) console.error(`serve-qemu ${guest.name}: the guest crashed:\n${serial.slice(fatal)}`);
}

interface Stats {
  objects: { contents: number; nodes: number; commits: number };
  requests: number;
  responses: Record<"2xx" | "3xx" | "4xx" | "5xx", number>;
  connections: { open: number; served: number; refused: number };
  tcp: Record<string, number>;
}

/**
 * Ends a boot the way the guest ends by itself: once nothing else is open, /stats says how many
 * responses were written; pipelined GETs bring the count to exactly `requests=`, the last one
 * with Connection: close. The guest must then exit 0 with a counters line equal to /stats (plus
 * what was sent after it), print no error, and leave a capture tshark finds nothing wrong with.
 */
async function finish(guest: ServeGuest): Promise<{ stats: Stats; serial: string }> {
  const connection = await HttpConnection.open(guest.port);
  let stats: Stats | undefined;
  for (let attempt = 0; attempt < 100; attempt++) {
    const [response] = await connection.send([{ method: "GET", target: "/stats" }]);
    stats = JSON.parse(response.body.toString("latin1")) as Stats;
    if (stats.connections.open === 1) break;
    await sleep(100); // a closing connection still drains (close_gently)
  }
  expect(stats!.connections.open, "connections still open before the end").toBe(1);
  const s = stats!;
  const filler = guest.limit - (s.requests + 1);
  expect(filler, `requests=${guest.limit} is too small for this test`).toBeGreaterThan(0);
  for (let sent = 0; sent < filler; ) {
    const batch = Math.min(500, filler - sent);
    // GETs with a body, not HEADs: with hundreds of HEADs pipelined, tshark's HTTP dissector
    // loses track of which answers have no body ("HTTP response 100/100") and calls the next
    // heads malformed
    const requests: HttpRequest[] = Array.from({ length: batch }, (_, i) => ({
      method: "GET",
      target: "/history?limit=0",
      headers: (sent + i === filler - 1 ? { Connection: "close" } : {}) as Record<string, string>,
    }));
    const responses = await connection.send(requests);
    expect(responses.map((response) => `${response.status} ${response.body}`)).toEqual(requests.map(() => "200 []"));
    sent += batch;
  }
  await within(connection.closed, 10_000, "the server's close after Connection: close");
  const status = await within(guest.exit, 30_000, `${guest.name}: the guest's exit after requests=${guest.limit}`);
  const serial = serialOf(guest);
  expect(status, serial).toBe(1); // isa-debug-exit: (0 << 1) | 1
  expect(serial).toContain("[INFO] boot: workload 'serve' exited with 0");
  expect(serial).not.toMatch(/\[(PANIC|FATAL|ERROR|WARN)\]/);
  const counters = /^serve: (\d+) requests served \(2xx (\d+), 3xx (\d+), 4xx (\d+), 5xx (\d+)\), (\d+) connections served, (\d+) refused$/m.exec(serial);
  expect(counters, serial).not.toBeNull();
  expect(counters!.slice(1).map(Number)).toEqual([
    guest.limit,
    s.responses["2xx"] + 1 + filler,
    s.responses["3xx"],
    s.responses["4xx"],
    s.responses["5xx"],
    s.connections.served + 1,
    s.connections.refused,
  ]);
  expect(s.tcp.bad_checksums).toBe(0);
  expect(s.tcp.malformed).toBe(0);
  expect(await tsharkProblems(guest.pcap)).toEqual([]);
  const frames = readPcap(guest.pcap).length;
  console.log(
    `serve-qemu ${guest.name}: ${guest.limit} requests, 2xx ${counters![2]}, 4xx ${counters![4]}, ${counters![6]} connections; ` +
      `${frames} frames captured, tshark: no problems; tcp retransmissions ${s.tcp.retransmissions}, resets in ${s.tcp.resets_in} out ${s.tcp.resets_out}`,
  );
  expect(frames).toBeGreaterThan(0);
  return { stats: s, serial };
}

// ---- clients ----

/**
 * Opens connections one at a time, 20 ms apart. QEMU's hostfwd socket listens with a backlog of 1
 * (`ss -ltn` shows it), so a burst of connects overflows the host kernel's accept queue before
 * slirp accepts them; with SYN cookies some of those connections are then reset by the host
 * kernel (TcpExtSyncookiesFailed, TcpOutRsts) and never reach the guest. That is the host's
 * doing, not the guest's, so the clients here do not burst. (ab does; it has not been hit with
 * small requests, which slirp accepts quickly.)
 */
let connectTurn: Promise<unknown> = Promise.resolve();
function connectOne(port: number, allowHalfOpen = false): Promise<net.Socket> {
  const connected = connectTurn.then(
    () =>
      new Promise<net.Socket>((resolve, reject) => {
        const socket = net.connect({ port, host: "127.0.0.1", allowHalfOpen });
        socket.on("error", () => {}); // each user adds its own handler
        socket.once("error", reject);
        socket.once("connect", () => {
          socket.off("error", reject);
          resolve(socket);
        });
      }),
  );
  connectTurn = connected.then(
    () => sleep(20),
    () => sleep(20),
  );
  return within(connected, 20_000, "connect");
}

function parseHead(rawHead: string): { status: number; headers: Record<string, string> } {
  const [statusLine, ...lines] = rawHead.slice(0, -4).split("\r\n");
  const match = /^HTTP\/1\.1 (\d{3}) [^\r\n]+$/.exec(statusLine);
  if (!match) throw new Error(`malformed status line: ${JSON.stringify(statusLine)}`);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon <= 0) throw new Error(`malformed header line: ${JSON.stringify(line)}`);
    const name = line.slice(0, colon).toLowerCase();
    if (name in headers) throw new Error(`repeated header ${name}`);
    headers[name] = line.slice(colon + 1).trim();
  }
  return { status: Number(match[1]), headers };
}

/** One keep-alive connection: requests are pipelined and answered in order. */
class HttpConnection {
  private chunks: Buffer[] = [];
  private length = 0;
  private waiting: { headOnly: boolean; resolve: (response: HttpResponse) => void; reject: (error: Error) => void }[] = [];
  private head: { rawHead: string; status: number; headers: Record<string, string>; bodyLength: number } | undefined;
  isClosed = false;
  readonly closed: Promise<void>;

  private constructor(private readonly socket: net.Socket) {
    this.closed = new Promise((resolve) =>
      socket.on("close", () => {
        this.isClosed = true;
        const rest = Buffer.concat(this.chunks).toString("latin1");
        for (const waiter of this.waiting.splice(0)) waiter.reject(new Error(`the connection closed before the response (unparsed: ${JSON.stringify(rest.slice(0, 200))})`));
        resolve();
      }),
    );
    socket.on("error", () => {}); // "close" follows
    socket.on("data", (chunk: Buffer) => {
      this.chunks.push(chunk);
      this.length += chunk.length;
      try {
        this.parse();
      } catch (error) {
        for (const waiter of this.waiting.splice(0)) waiter.reject(error as Error);
        socket.destroy();
      }
    });
  }

  static async open(port: number): Promise<HttpConnection> {
    return new HttpConnection(await connectOne(port));
  }

  private take(count: number): Buffer {
    const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
    const taken = all.subarray(0, count);
    this.chunks = all.length > count ? [all.subarray(count)] : [];
    this.length = all.length - count;
    return taken;
  }

  private parse(): void {
    for (;;) {
      if (this.head === undefined) {
        const all = Buffer.concat(this.chunks);
        this.chunks = [all];
        const end = all.indexOf("\r\n\r\n", 0, "latin1");
        if (end < 0) return;
        const rawHead = this.take(end + 4).toString("latin1");
        const { status, headers } = parseHead(rawHead);
        if (status === 100) continue;
        const waiter = this.waiting[0];
        if (waiter === undefined) throw new Error(`an unexpected response: ${rawHead}`);
        const contentLength = Number(headers["content-length"]);
        if (!Number.isSafeInteger(contentLength)) throw new Error(`no Content-Length: ${rawHead}`);
        this.head = { rawHead, status, headers, bodyLength: waiter.headOnly ? 0 : contentLength };
      }
      if (this.length < this.head.bodyLength) return;
      const body = Buffer.from(this.take(this.head.bodyLength));
      const { rawHead, status, headers } = this.head;
      this.head = undefined;
      this.waiting.shift()!.resolve({ status, headers, rawHead, body });
    }
  }

  /** Sends the requests in one write and waits for all their responses. */
  send(requests: readonly (HttpRequest | Buffer)[], timeoutMs = 30_000): Promise<HttpResponse[]> {
    if (this.isClosed) return Promise.reject(new Error("the connection is closed"));
    const answers = requests.map(
      (request) =>
        new Promise<HttpResponse>((resolve, reject) =>
          this.waiting.push({ headOnly: !Buffer.isBuffer(request) && request.method === "HEAD", resolve, reject }),
        ),
    );
    this.socket.write(Buffer.concat(requests.map((request) => (Buffer.isBuffer(request) ? request : encodeRequest(request)))));
    const all = Promise.all(answers);
    all.catch(() => {});
    return within(all, timeoutMs, `${requests.length} responses`).catch((error) => {
      this.socket.destroy();
      throw error;
    });
  }

  close(): Promise<void> {
    this.socket.end();
    return within(this.closed, 10_000, "close");
  }
}

/** What a raw client got: every byte until the server closed (or `waitMs` passed), and when. */
interface Exchange {
  data: Buffer;
  /** ms from the connect to the server's FIN (or the reset); undefined when it never came */
  closedAfterMs?: number;
  reset: boolean;
}

/** Connects, sends `bytes` (then half-closes if `halfClose`), and reads until the server closes. */
async function exchange(port: number, bytes: Buffer, options: { halfClose?: boolean; waitMs?: number } = {}): Promise<Exchange> {
  const waitMs = options.waitMs ?? 10_000;
  const socket = await connectOne(port, true);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const start = Date.now();
    let result: Exchange | undefined;
    const done = (closed: boolean, reset: boolean) => {
      if (result !== undefined) return;
      result = { data: Buffer.concat(chunks), closedAfterMs: closed ? Date.now() - start : undefined, reset };
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => done(false, false), waitMs);
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("end", () => done(true, false));
    socket.on("error", () => done(true, true));
    if (bytes.length > 0) socket.write(bytes);
    if (options.halfClose) socket.end();
  });
}

interface CurlResult extends HttpResponse {
  /** seconds, from curl's --write-out */
  time: number;
  /** the server sent "100 Continue" before this response */
  continued: boolean;
}

/** curl through the hostfwd port: -i (or -I for HEAD) parsed; with `out` the body goes to that file. */
function curl(port: number, method: string, target: string, options: { body?: string; headers?: Record<string, string>; out?: string } = {}): Promise<CurlResult> {
  const args = ["-sS", "--max-time", "60", "-w", "\n%{time_total}"];
  if (options.out !== undefined) args.push("-o", options.out, "-D", "-");
  else args.push(method === "HEAD" ? "-I" : "-i");
  if (method !== "GET" && method !== "HEAD") args.push("-X", method);
  if (options.body !== undefined) args.push("--data-binary", `@${options.body}`, "-H", "Content-Type: application/octet-stream");
  for (const [name, value] of Object.entries(options.headers ?? {})) args.push("-H", `${name}: ${value}`);
  args.push(`http://127.0.0.1:${port}${target}`);
  return new Promise((resolve, reject) => {
    execFile("curl", args, { encoding: "buffer", maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      if (error) return reject(new Error(`curl ${args.join(" ")}: ${stderr.toString()}`));
      const tail = stdout.lastIndexOf("\n");
      const time = Number(stdout.subarray(tail + 1).toString());
      // a 100 Continue head (curl prints it too) is skipped by parseResponses
      const responses = parseResponses(stdout.subarray(0, tail), [method === "HEAD" || options.out !== undefined]);
      const continued = stdout.subarray(0, tail).toString("latin1").startsWith("HTTP/1.1 100 Continue\r\n");
      resolve({ ...responses[responses.length - 1], time, continued });
    });
  });
}

/** JSON text as the server writes it: ASCII only, bytes above 0x7e as \u00XX (docs/serve.md). */
function serverJson(value: unknown): string {
  return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

const DATE = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT$/;

/** Status, exactly the headers the server sends (plus `extra`), and the body byte for byte. */
function expectAnswer(
  response: HttpResponse,
  status: number,
  body: string | Buffer,
  options: { type?: string; extra?: Record<string, string>; headOnly?: boolean } = {},
): void {
  const what = response.rawHead;
  expect(response.status, what).toBe(status);
  const extra = options.extra ?? {};
  expect(Object.keys(response.headers).sort(), what).toEqual(["content-length", "content-type", "date", "server", ...Object.keys(extra).map((name) => name.toLowerCase())].sort());
  expect(response.headers.server).toBe("irmin-serve");
  expect(response.headers.date).toMatch(DATE);
  expect(response.headers["content-type"]).toBe(options.type ?? "application/json");
  for (const [name, value] of Object.entries(extra)) expect(response.headers[name.toLowerCase()], what).toBe(value);
  const expected = typeof body === "string" ? Buffer.from(body, "latin1") : body;
  expect(Number(response.headers["content-length"]), what).toBe(expected.length);
  if (options.headOnly) expect(response.body.length).toBe(0);
  else expect(response.body.toString("latin1"), what).toBe(expected.toString("latin1"));
}

const commitJson = (commit: Hex) => serverJson({ commit });
const errorJson = (error: string) => serverJson({ error });

// ---- the tests ----

for (const machine of MACHINES) {
/**
 * The port ab connects to: on QEMU a paced forwarder in front of hostfwd (support/paced-forwarder.ts:
 * libslirp's listen backlog of 1 drops a burst of SYNs on a loaded machine, and the retries take
 * seconds), on this emulator its hostfwd port itself, whose accept queue takes the burst.
 */
const loadClientPort = async (hostfwdPort: number): Promise<number> => {
  if (machine !== "qemu") return hostfwdPort;
  const forwarder = await pacedForwarder(hostfwdPort);
  onTestFinished(() => forwarder.close());
  return forwarder.port;
};
describe.runIf(hasTools)(`serve on ${machine === "qemu" ? "QEMU" : "this emulator (--accel jit, its virtio-net-pci and NAT)"}: user networking (hostfwd), real clients`, () => {
  // suites in a file run one after the other: this one's guests boot on `machine`
  beforeAll(() => {
    MACHINE = machine;
  });
  beforeAll(() => {
    workDir = mkdtempSync(join(tmpdir(), "x64emu-serve-qemu-"));
    image = join(workDir, "kernel.elf");
    if (process.env.SERVE_QEMU_KERNEL) {
      image = process.env.SERVE_QEMU_KERNEL; // an image built elsewhere (e.g. with a candidate fix)
      return;
    }
    return new Promise<void>((resolve, reject) => {
      execFile("bash", ["scripts/build-guest.sh", image], { cwd: repoRoot, encoding: "utf8" }, (error, stdout, stderr) =>
        error ? reject(new Error(`build-guest failed:\n${stdout}${stderr}`)) : resolve());
    });
  }, 180_000);

  afterAll(async () => {
    for (const child of running) child.kill("SIGKILL"); // only the QEMUs this file started, if a test failed
    await sleep(100);
    if (workDir && !process.env.SERVE_QEMU_KEEP) rmSync(workDir, { recursive: true, force: true });
    else if (workDir) console.log(`serve-qemu: captures and serial logs kept in ${workDir}`);
  });

  it("answers every route through curl exactly: trees, HEAD, DELETE, branches, merges (409 naming the path), history", async () => {
    const guest = await startServe("routes", "idle=2", 200);
    try {
      const port = guest.port;
      const file = (name: string, bytes: string | Buffer) => {
        const path = join(workDir, name);
        writeFileSync(path, bytes);
        return path;
      };
      const store = new Store();
      const history = (head: Hex) =>
        store.history(head).map(([hash]) => {
          const commit = store.commit(hash);
          return { commit: hash, parents: commit.parents, date: Number(commit.date), author: commit.author, message: commit.message };
        });
      const json = { type: "application/json" };
      const octets = { type: "application/octet-stream" };

      // an empty store
      expectAnswer(await curl(port, "GET", "/head"), 404, errorJson("the branch has no commits yet"));
      expectAnswer(await curl(port, "GET", "/tree/"), 200, '{"entries":[]}');
      expectAnswer(await curl(port, "GET", "/history"), 200, "[]");
      expectAnswer(await curl(port, "GET", "/branches"), 200, "[]");

      // PUT and GET: contents, byte steps, node listings, HEAD
      const put1 = info(1700000000, "alice", "edit");
      const m1 = store.setTree("main", [], add(store.getTree("main"), ["docs", "readme"], "hello"), modelInfo(1700000000, "alice", "edit"));
      expectAnswer(await curl(port, "PUT", "/tree/docs/readme", { body: file("hello", "hello"), headers: put1 }), 201, commitJson(m1), json);
      const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      const oddStep = "a b/c\x00\xff";
      const m2 = store.setTree("main", [], add(store.getTree("main"), ["docs", oddStep], bytes), modelInfo(1700000001, "bob", "bytes"));
      const oddTarget = `/tree/docs/${encodeStep(oddStep)}`;
      expect(oddTarget).toBe("/tree/docs/a%20b%2Fc%00%FF");
      expectAnswer(await curl(port, "PUT", oddTarget, { body: file("bytes", bytes), headers: info(1700000001, "bob", "bytes") }), 201, commitJson(m2));
      expectAnswer(await curl(port, "GET", "/tree/docs/readme"), 200, "hello", octets);
      expectAnswer(await curl(port, "GET", oddTarget), 200, bytes, octets);
      const docs = '{"entries":[{"step":"a b/c\\u0000\\u00ff","kind":"contents"},{"step":"readme","kind":"contents"}]}';
      expectAnswer(await curl(port, "GET", "/tree/docs"), 200, docs);
      expectAnswer(await curl(port, "GET", "/tree/"), 200, '{"entries":[{"step":"docs","kind":"node"}]}');
      expectAnswer(await curl(port, "HEAD", "/tree/docs/readme"), 200, "hello", { ...octets, headOnly: true });
      expectAnswer(await curl(port, "HEAD", "/tree/docs"), 200, docs, { headOnly: true });
      expectAnswer(await curl(port, "GET", "/tree/docs/nothing"), 404, errorJson("no such path"));
      expectAnswer(await curl(port, "HEAD", "/tree/nothing"), 404, errorJson("no such path"), { headOnly: true });
      expectAnswer(await curl(port, "GET", "/tree/docs/readme/below"), 404, errorJson("no such path"));
      expectAnswer(await curl(port, "GET", "/tree//docs"), 400, errorJson("the path has an empty step"));
      expectAnswer(await curl(port, "GET", "/tree/%zz"), 400, errorJson("malformed percent-escape in the path"));
      // the same bytes again: no commit, 200 with the head
      expectAnswer(await curl(port, "PUT", "/tree/docs/readme", { body: file("hello", "hello"), headers: info(1700000002, "alice", "again") }), 200, commitJson(m2));

      // DELETE
      const m3 = store.setTree("main", [], removePath(store.getTree("main"), ["docs", oddStep]), modelInfo(1700000003, "carol", "remove"));
      expectAnswer(await curl(port, "DELETE", oddTarget, { headers: info(1700000003, "carol", "remove") }), 200, commitJson(m3));
      expectAnswer(await curl(port, "GET", oddTarget), 404, errorJson("no such path"));
      expectAnswer(await curl(port, "DELETE", oddTarget), 404, errorJson("no such path"));

      // methods and routes
      expectAnswer(await curl(port, "PUT", "/tree/", { body: file("hello", "hello") }), 405, errorJson("method not allowed"), { extra: { Allow: "GET, HEAD" } });
      expectAnswer(await curl(port, "PATCH", "/tree/docs"), 405, errorJson("method not allowed"), { extra: { Allow: "GET, HEAD, PUT, DELETE" } });
      expectAnswer(await curl(port, "GET", "/merge"), 405, errorJson("method not allowed"), { extra: { Allow: "POST" } });
      expectAnswer(await curl(port, "GET", "/nope"), 404, errorJson("no such route"));

      // branches: the first write to dev creates it at main's head
      expectAnswer(await curl(port, "GET", "/branches"), 200, serverJson([{ name: "main", commit: m3 }]));
      expectAnswer(await curl(port, "GET", "/branch/dev/tree/docs/readme"), 404, errorJson('there is no branch "dev"'));
      store.branches.set("dev", m3);
      const d1 = store.setTree("dev", [], add(store.getTree("dev"), ["docs", "readme"], "dev"), modelInfo(1700000010, "dave", "dev edit"));
      expectAnswer(await curl(port, "PUT", "/branch/dev/tree/docs/readme", { body: file("dev", "dev"), headers: info(1700000010, "dave", "dev edit") }), 201, commitJson(d1));
      expectAnswer(await curl(port, "GET", "/branch/dev/tree/docs/readme"), 200, "dev", octets);
      expectAnswer(await curl(port, "GET", "/tree/docs/readme"), 200, "hello", octets); // main does not see it
      expectAnswer(await curl(port, "GET", "/branches"), 200, serverJson([{ name: "dev", commit: d1 }, { name: "main", commit: m3 }]));
      expectAnswer(await curl(port, "GET", "/branch/dev/history"), 200, serverJson(history(d1)));
      expect(history(d1).map((entry) => entry.commit)).toEqual([d1, m3, m2, m1]);
      expectAnswer(
        await curl(port, "GET", "/branch/bad%20name/head"),
        400,
        errorJson("branch name \"bad name\" has the character 0x20; use letters, digits, '-', '_', '.', '/'"),
      );

      // a conflicting merge: 409 naming the path, and no branch moves
      const m4 = store.setTree("main", [], add(store.getTree("main"), ["docs", "readme"], "main"), modelInfo(1700000011, "erin", "main edit"));
      expectAnswer(await curl(port, "PUT", "/tree/docs/readme", { body: file("main", "main"), headers: info(1700000011, "erin", "main edit") }), 201, commitJson(m4));
      const conflict = serverJson({
        error: "merge conflict",
        message: "merge conflict at docs/readme: both sides changed the contents differently",
        conflicts: ["docs/readme"],
      });
      expectAnswer(await curl(port, "POST", "/merge?from=dev&into=main", { headers: info(1700000012, "merger", "merge dev") }), 409, conflict);
      expectAnswer(await curl(port, "GET", "/head"), 200, serverJson({ commit: m4, tree: store.commit(m4).node }));
      expectAnswer(await curl(port, "GET", "/branch/dev/head"), 200, serverJson({ commit: d1, tree: store.commit(d1).node }));

      // a clean three-way merge (two parents), then a fast-forward
      store.branches.set("feature", m4);
      const f1 = store.setTree("feature", [], add(store.getTree("feature"), ["notes", "todo"], "x"), modelInfo(1700000020, "frank", "feature"));
      expectAnswer(await curl(port, "PUT", "/branch/feature/tree/notes/todo", { body: file("x", "x"), headers: info(1700000020, "frank", "feature") }), 201, commitJson(f1));
      const m5 = store.setTree("main", [], add(store.getTree("main"), ["docs", "other"], "y"), modelInfo(1700000021, "erin", "main again"));
      expectAnswer(await curl(port, "PUT", "/tree/docs/other", { body: file("y", "y"), headers: info(1700000021, "erin", "main again") }), 201, commitJson(m5));
      const merged = store.mergeCommits(m5, f1, modelInfo(1700000022, "merger", "merge feature"));
      expect(store.commit(merged).parents).toEqual([m5, f1].sort());
      store.branches.set("main", merged);
      expectAnswer(await curl(port, "POST", "/merge?from=feature&into=main", { headers: info(1700000022, "merger", "merge feature") }), 200, commitJson(merged));
      expectAnswer(await curl(port, "POST", "/merge?from=main&into=feature"), 200, commitJson(merged)); // fast-forward
      expectAnswer(await curl(port, "POST", "/merge?from=nope&into=main"), 404, errorJson('there is no branch "nope"'));
      expectAnswer(await curl(port, "POST", "/merge?from=main"), 400, errorJson("merge needs ?from=<branch>&into=<branch>"));
      expectAnswer(await curl(port, "GET", "/tree/"), 200, '{"entries":[{"step":"docs","kind":"node"},{"step":"notes","kind":"node"}]}');

      // history and head
      expectAnswer(await curl(port, "GET", "/history"), 200, serverJson(history(merged)));
      expect(history(merged).length).toBe(7); // merged, m5 and f1 (hash order), m4, m3, m2, m1
      expectAnswer(await curl(port, "GET", "/history?limit=2"), 200, serverJson(history(merged).slice(0, 2)));
      expectAnswer(await curl(port, "GET", "/history?limit=0"), 200, "[]");
      expectAnswer(await curl(port, "GET", "/history?limit=x"), 400, errorJson("limit must be a non-negative decimal integer"));
      expectAnswer(await curl(port, "HEAD", "/history"), 200, serverJson(history(merged)), { headOnly: true });
      expectAnswer(await curl(port, "GET", "/head"), 200, serverJson({ commit: merged, tree: store.commit(merged).node }));
      expectAnswer(await curl(port, "GET", "/branches"), 200, serverJson([
        { name: "dev", commit: d1 },
        { name: "feature", commit: merged },
        { name: "main", commit: merged },
      ]));

      const { stats } = await finish(guest);
      expect(stats.objects).toEqual(store.counts());
    } finally {
      stop(guest);
    }
  }, 120_000);

  for (const [seed, count, deletes] of [
    [1, 300, false],
    [2, 200, true],
  ] as const) {
    it(`seed ${seed}: the head after ${count} scripted ${deletes ? "PUTs and DELETEs" : "PUTs"} (byte paths, fixed X-Date/X-Author/X-Message) equals the model's`, async () => {
      const { operations, store } = scriptedSequence(seed, count, deletes);
      const guest = await startServe(`model-${seed}`, "idle=10", count + 100);
      try {
        const connection = await HttpConnection.open(guest.port);
        // pipelined in batches on one keep-alive connection: answered in order, so the model holds
        for (let first = 0; first < operations.length; first += 16) {
          const batch = operations.slice(first, first + 16);
          const responses = await connection.send(batch.map((operation) => operation.request));
          batch.forEach((operation, i) => {
            const response = responses[i];
            const what = `operation ${first + i}: ${operation.request.method} ${operation.request.target}`;
            expect(response.status, what).toBe(operation.expectedStatus);
            if (operation.expectedCommit !== undefined) expectAnswer(response, operation.expectedStatus, commitJson(operation.expectedCommit));
          });
        }
        const head = store.branches.get("main")!;
        const [headResponse, historyResponse] = await connection.send([
          { method: "GET", target: "/head" },
          { method: "GET", target: "/history" },
        ]);
        expectAnswer(headResponse, 200, serverJson({ commit: head, tree: store.commit(head).node }));
        const history = JSON.parse(historyResponse.body.toString("latin1")) as { commit: string }[];
        expect(history.map((entry) => entry.commit)).toEqual(store.history(head).map(([hash]) => hash));
        await connection.close();
        console.log(`serve-qemu model seed ${seed}: ${operations.length} operations, ${history.length} commits, head ${head.slice(0, 16)}… equals the model's`);
        const { stats } = await finish(guest);
        expect(stats.objects).toEqual(store.counts());
      } finally {
        stop(guest);
      }
    }, 120_000);
  }

  it("serves ab -k -c 32 small GETs and PUTs with 0 failed and 0 non-2xx (requests/s logged, not asserted)", async () => {
    const gets = 10000;
    const puts = 4000;
    const guest = await startServe("load", "idle=10", gets + puts + 1000);
    try {
      const connection = await HttpConnection.open(guest.port);
      const small = "0123456789abcdef".repeat(8); // 128 bytes
      const [stored] = await connection.send([{ method: "PUT", target: "/tree/load/small", body: small, headers: info(1700000000, "load", "small") }]);
      expect(stored.status).toBe(201);
      await connection.close();
      const bodyFile = join(workDir, "ab-put-body");
      writeFileSync(bodyFile, Buffer.from(Array.from({ length: 100 }, (_, i) => (i * 37) & 255)));

      const ab = (args: string[]) =>
        new Promise<{ text: string; field: (name: string) => number | undefined }>((resolve, reject) =>
          execFile("ab", args, { encoding: "utf8", timeout: 90_000, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
            if (error) return reject(new Error(`ab ${args.join(" ")} failed (${error.message}):\n${stdout}${stderr}`));
            const field = (name: string) => {
              const match = new RegExp(`^${name}:\\s+([\\d.]+)`, "m").exec(stdout);
              return match ? Number(match[1]) : undefined;
            };
            resolve({ text: stdout, field });
          }),
        );
      const statsNow = async () => {
        const c = await HttpConnection.open(guest.port);
        const [response] = await c.send([{ method: "GET", target: "/stats", headers: { Connection: "close" } }]);
        await within(c.closed, 10_000, "close");
        return JSON.parse(response.body.toString("latin1")) as Stats;
      };
      const url = `http://127.0.0.1:${await loadClientPort(guest.port)}`;
      const runs: [string, number, string[]][] = [
        ["GET", gets, ["-k", "-c", "32", "-s", "30", "-n", String(gets), `${url}/tree/load/small`]],
        ["PUT", puts, ["-k", "-c", "32", "-s", "30", "-n", String(puts), "-u", bodyFile, "-T", "application/octet-stream",
          "-H", "X-Date: 1700000001", "-H", "X-Author: ab", "-H", "X-Message: load", `${url}/tree/load/put`]],
      ];
      for (const [method, n, args] of runs) {
        const before = await statsNow();
        const result = await ab(args);
        const after = await statsNow();
        expect(result.field("Complete requests"), result.text).toBe(n);
        expect(result.field("Failed requests"), result.text).toBe(0);
        expect(result.field("Non-2xx responses") ?? 0, result.text).toBe(0);
        expect(result.field("Keep-Alive requests"), result.text).toBe(n);
        // the guest saw exactly n requests, all 2xx (the +1 is the first /stats itself)
        expect(after.requests - before.requests).toBe(n + 1);
        expect(after.responses["2xx"] - before.responses["2xx"]).toBe(n + 1);
        console.log(`serve-qemu load: ab -k -c 32 -n ${n} ${method}: ${result.field("Requests per second")} requests/s, 0 failed, 0 non-2xx (${result.field("Time taken for tests")} s)`);
      }
      // the PUTs all wrote the same bytes: one commit, then "no change" answers
      const c = await HttpConnection.open(guest.port);
      const [history, put] = await c.send([{ method: "GET", target: "/history" }, { method: "GET", target: "/tree/load/put" }]);
      expect((JSON.parse(history.body.toString("latin1")) as unknown[]).length).toBe(2);
      expect(put.body.equals(readFileSync(bodyFile))).toBe(true);
      await c.close();
      await finish(guest);
    } finally {
      stop(guest);
    }
  }, 150_000);

  // 64 connections (ab -k -c 64) in four equal rounds; the machine's resident memory is read
  // from /proc after boot and after each round. A leak per request or per connection (frames,
  // sockets, NAT state, fibers) would grow it with every round; buffers, caches and the JIT's code
  // settle in the first. Bounded: each round must finish within ab's 60-s limit.
  it("serves 64 concurrent keep-alive connections in four rounds with 0 errors, its RSS not growing with requests", async () => {
    const perRound = 5000;
    const rounds = 4;
    const guest = await startServe("load64", "idle=10", rounds * perRound + 1000);
    try {
      const setup = await HttpConnection.open(guest.port);
      const [stored] = await setup.send([{ method: "PUT", target: "/tree/load64", body: "x".repeat(64), headers: info(1700000000, "load64", "small") }]);
      expect(stored.status).toBe(201);
      await setup.close();
      const rssMiB = () => {
        const status = readFileSync(`/proc/${guest.child.pid}/status`, "utf8");
        return Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)![1]) / 1024;
      };
      const rss = [rssMiB()];
      const rates: number[] = [];
      const port = await loadClientPort(guest.port);
      for (let round = 0; round < rounds; round++) {
        const stdout = await new Promise<string>((resolve, reject) =>
          execFile("ab", ["-k", "-c", "64", "-s", "30", "-t", "60", "-n", String(perRound), `http://127.0.0.1:${port}/tree/load64`],
            { encoding: "utf8", timeout: 90_000 }, (error, out, err) => (error ? reject(new Error(`ab failed (${error.message}):\n${out}${err}`)) : resolve(out))),
        );
        const field = (name: string) => Number(new RegExp(`^${name}:\\s+([\\d.]+)`, "m").exec(stdout)?.[1]);
        expect(field("Complete requests"), stdout).toBe(perRound);
        expect(field("Failed requests"), stdout).toBe(0);
        expect(/^Non-2xx responses/m.test(stdout), stdout).toBe(false);
        rates.push(field("Requests per second"));
        rss.push(rssMiB());
      }
      console.log(`serve-qemu load64: ${rounds} x ${perRound} GETs over 64 connections, 0 failed; requests/s ${rates.join(", ")}; ` +
        `RSS after boot ${rss[0].toFixed(1)} MiB, after each round ${rss.slice(1).map((v) => v.toFixed(1)).join(", ")} MiB`);
      // The first round warms up (QEMU's RSS grew 15 MiB there in one run, the JIT's code cache
      // grows) and V8's heap grows by a few MiB between major collections, so one round's growth
      // is noisy; but a leak grows every round. So: the smaller growth of the last two rounds is
      // under 2 KiB per request, which a leaked frame or socket per request would exceed. Asserted
      // for this emulator, the subject here; QEMU's is logged for comparison.
      const lastGrowth = Math.min(rss[rounds] - rss[rounds - 1], rss[rounds - 1] - rss[rounds - 2]);
      if (MACHINE === "emulator") expect(lastGrowth).toBeLessThan((2 * perRound) / 1024);
      await finish(guest);
    } finally {
      stop(guest);
    }
  }, 240_000);

  it("loses nothing in a PUT soak: 4 keep-alive clients x 50 distinct keys, every value read back, one commit per PUT", async () => {
    const clients = 4;
    const keys = 50;
    const guest = await startServe("soak", "idle=10", 1000);
    try {
      const random = (() => {
        let state = 12345;
        return (n: number) => {
          state = (Math.imul(state, 1103515245) + 12345) >>> 0;
          return state % n;
        };
      })();
      const values = new Map<string, Buffer>();
      const targetOf = (client: number, key: number) => `/tree/soak/c${client}/${encodeStep(`key ${key}\xff%/`)}`;
      for (let client = 0; client < clients; client++)
        for (let key = 0; key < keys; key++) {
          const length = [0, 1, 100, 1460, 3000][random(5)] + random(50);
          values.set(targetOf(client, key), Buffer.from(Array.from({ length }, () => random(256))));
        }
      const agents = Array.from({ length: clients }, () => new http.Agent({ keepAlive: true, maxSockets: 1 }));
      const request = (agent: http.Agent, method: string, target: string, body?: Buffer, headers: Record<string, string> = {}) =>
        within(
          new Promise<{ status: number; body: Buffer }>((resolve, reject) => {
            const outgoing = http.request(
              { host: "127.0.0.1", port: guest.port, method, path: target, agent, headers: { ...headers, ...(body ? { "Content-Length": String(body.length) } : {}) } },
              (response) => {
                const chunks: Buffer[] = [];
                response.on("data", (chunk: Buffer) => chunks.push(chunk));
                response.on("end", () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks) }));
                response.on("error", reject);
              },
            );
            outgoing.on("error", reject);
            outgoing.end(body);
          }),
          30_000,
          `${method} ${target}`,
        );
      const start = Date.now();
      const statuses = await Promise.all(
        agents.map(async (agent, client) => {
          await sleep(client * 50); // the agents' connections one after the other (see connectOne)
          const seen: number[] = [];
          for (let key = 0; key < keys; key++) {
            const target = targetOf(client, key);
            const response = await request(agent, "PUT", target, values.get(target)!, info(1700000000 + key, `client ${client}`, `soak ${client} ${key}`));
            seen.push(response.status);
          }
          return seen;
        }),
      );
      const seconds = (Date.now() - start) / 1000;
      for (const agent of agents) agent.destroy();
      expect(statuses.flat()).toEqual(Array(clients * keys).fill(201));
      console.log(`serve-qemu soak: ${clients} clients x ${keys} PUTs in ${seconds.toFixed(2)} s (${((clients * keys) / seconds).toFixed(0)} PUTs/s)`);

      const reader = new http.Agent({ keepAlive: true, maxSockets: 1 });
      let matched = 0;
      for (const [target, value] of values) {
        const response = await request(reader, "GET", target);
        expect(response.status, target).toBe(200);
        expect(response.body.equals(value), target).toBe(true);
        matched++;
      }
      const history = JSON.parse((await request(reader, "GET", "/history")).body.toString("latin1")) as { commit: string; parents: string[]; message: string }[];
      reader.destroy();
      expect(matched).toBe(clients * keys);
      // exactly one commit per PUT, in one line of descent
      expect(history.length).toBe(clients * keys);
      expect(history.map((entry) => entry.message).sort()).toEqual(
        Array.from({ length: clients * keys }, (_, i) => `soak ${Math.floor(i / keys)} ${i % keys}`).sort(),
      );
      history.forEach((entry, i) => expect(entry.parents).toEqual(i + 1 < history.length ? [history[i + 1].commit] : []));
      // each client's PUTs committed in the order it sent them
      for (let client = 0; client < clients; client++) {
        const mine = history.filter((entry) => entry.message.startsWith(`soak ${client} `)).map((entry) => Number(entry.message.split(" ")[2]));
        expect(mine).toEqual(Array.from({ length: keys }, (_, key) => keys - 1 - key));
      }
      console.log(`serve-qemu soak: ${matched}/${clients * keys} values read back byte for byte, /history holds ${history.length} commits`);
      await finish(guest);
    } finally {
      stop(guest);
    }
  }, 120_000);

  it("takes 8 MiB bodies (Content-Length with 100-continue, and chunked) and gives them back with identical checksums", async () => {
    const size = 8 << 20;
    const guest = await startServe("bulk", `idle=2 max_body=${16 << 20}`, 100);
    try {
      const first = randomBytes(size);
      const second = randomBytes(size);
      const store = new Store();
      const firstFile = join(workDir, "bulk-1");
      writeFileSync(firstFile, first);
      const c1 = store.setTree("main", [], add(store.getTree("main"), ["bulk", "curl"], first), modelInfo(1700000000, "bulk", "curl"));
      const put = await curl(guest.port, "PUT", "/tree/bulk/curl", { body: firstFile, headers: info(1700000000, "bulk", "curl") });
      expectAnswer(put, 201, commitJson(c1));
      expect(put.continued, "curl sends Expect: 100-continue for a body this large").toBe(true);
      const outFile = join(workDir, "bulk-1.out");
      const got = await curl(guest.port, "GET", "/tree/bulk/curl", { out: outFile });
      expect(got.status).toBe(200);
      expect(got.headers["content-length"]).toBe(String(size));
      const back = readFileSync(outFile);
      expect(back.length).toBe(size);
      expect(sha256(back)).toBe(sha256(first));
      const mb = (bytes: number, seconds: number) => (bytes / 1e6 / seconds).toFixed(1);
      console.log(`serve-qemu bulk: curl PUT 8 MiB in ${put.time.toFixed(2)} s (${mb(size, put.time)} MB/s), GET in ${got.time.toFixed(2)} s (${mb(size, got.time)} MB/s), sha256 equal`);

      // chunked, in 64 KiB writes from Node's http client (no Content-Length)
      const c2 = store.setTree("main", [], add(store.getTree("main"), ["bulk", "chunked"], second), modelInfo(1700000001, "bulk", "chunked"));
      const start = Date.now();
      const chunked = await within(
        new Promise<{ status: number; body: string; encoding?: string }>((resolve, reject) => {
          const outgoing = http.request(
            { host: "127.0.0.1", port: guest.port, method: "PUT", path: "/tree/bulk/chunked", headers: info(1700000001, "bulk", "chunked") },
            (response) => {
              let body = "";
              response.on("data", (chunk) => (body += chunk));
              response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
            },
          );
          outgoing.on("error", reject);
          // no Content-Length: Node sends Transfer-Encoding: chunked, one chunk per write
          for (let offset = 0; offset < size; offset += 65536) outgoing.write(second.subarray(offset, offset + 65536));
          outgoing.end();
        }),
        60_000,
        "chunked PUT",
      );
      const chunkedSeconds = (Date.now() - start) / 1000;
      expect(chunked.status).toBe(201);
      expect(chunked.body).toBe(commitJson(c2));
      const connection = await HttpConnection.open(guest.port);
      const [readBack, listing] = await connection.send([
        { method: "GET", target: "/tree/bulk/chunked" },
        { method: "GET", target: "/tree/bulk" },
      ]);
      expectAnswer(readBack, 200, second, { type: "application/octet-stream" });
      expectAnswer(listing, 200, '{"entries":[{"step":"chunked","kind":"contents"},{"step":"curl","kind":"contents"}]}');
      await connection.close();
      console.log(`serve-qemu bulk: chunked PUT 8 MiB in ${chunkedSeconds.toFixed(2)} s (${mb(size, chunkedSeconds)} MB/s), read back equal`);
      await finish(guest);
    } finally {
      stop(guest);
    }
  }, 120_000);

  it("answers bad clients (garbage, 431, bad Content-Length, truncated chunked, silence) while good clients and a slow reader are unaffected", async () => {
    const guest = await startServe("bad", "idle=2", 30000);
    const port = guest.port;
    try {
      const big = randomBytes(8 << 20);
      const setup = await HttpConnection.open(port);
      const stored = await setup.send([
        { method: "PUT", target: "/tree/good", body: "good value" },
        { method: "PUT", target: "/tree/big", body: big },
      ], 60_000);
      expect(stored.map((response) => response.status)).toEqual([201, 201]);
      await setup.close();

      let badDone = false;
      const deadline = Date.now() + 60_000;
      // a keep-alive client reading /tree/good in a loop
      const keepAlive = (async () => {
        const connection = await HttpConnection.open(port);
        let ok = 0;
        for (let i = 0; i < 20000 && !badDone && Date.now() < deadline; i++) {
          const [response] = await connection.send([{ method: "GET", target: "/tree/good" }], 10_000);
          expectAnswer(response, 200, "good value", { type: "application/octet-stream" });
          ok++;
          if (i % 10 === 9) await sleep(5);
        }
        await connection.close();
        return ok;
      })();
      // a client with a new connection for every request
      const fresh = (async () => {
        let ok = 0;
        for (let i = 0; i < 1000 && !badDone && Date.now() < deadline; i++) {
          const result = await exchange(port, encodeRequest({ method: "GET", target: "/tree/good", headers: { Connection: "close" } }));
          const [response] = parseResponses(result.data, [false]);
          expectAnswer(response, 200, "good value", { type: "application/octet-stream", extra: { Connection: "close" } });
          expect(result.closedAfterMs).toBeDefined();
          ok++;
          await sleep(20);
        }
        return ok;
      })();
      // a slow but steady reader: 8 MiB at 1 MiB/s takes 4 times idle=2
      const slow = within(
        connectOne(port).then((socket) => new Promise<{ body: Buffer; seconds: number }>((resolve, reject) => {
          const chunks: Buffer[] = [];
          let length = 0;
          const start = Date.now();
          socket.write(encodeRequest({ method: "GET", target: "/tree/big", headers: { Connection: "close" } }));
          socket.on("data", (chunk: Buffer) => {
            chunks.push(chunk);
            length += chunk.length;
            socket.pause();
            setTimeout(() => socket.resume(), (chunk.length / (1 << 20)) * 1000);
          });
          socket.on("end", () => resolve({ body: Buffer.concat(chunks, length), seconds: (Date.now() - start) / 1000 }));
          socket.on("error", reject);
        })),
        40_000,
        "the slow reader",
      );

      const expectError = (result: Exchange, status: number, error: string, what: string) => {
        const responses = parseResponses(result.data, [false]);
        expect(responses.length, what).toBe(1);
        expectAnswer(responses[0], status, errorJson(error), { extra: { Connection: "close" } });
        expect(result.closedAfterMs, `${what}: the server closes`).toBeDefined();
        expect(result.reset, `${what}: closed without a reset`).toBe(false);
      };
      const head = (lines: string[]) => Buffer.from(`${lines.join("\r\n")}\r\n\r\n`, "latin1");
      const exact = (() => {
        const prefix = "GET /tree/good HTTP/1.1\r\nHost: x\r\nX-Pad: ";
        const suffix = "\r\n\r\n";
        return Buffer.from(prefix + "p".repeat(8192 - prefix.length - suffix.length) + suffix, "latin1");
      })();
      expect(exact.length).toBe(8192);
      const truncatedChunked = Buffer.from("PUT /tree/bad HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc", "latin1");
      const badClients = Promise.all([
        exchange(port, Buffer.concat([Buffer.from([0x00, 0x01, 0xff, 0xfe, 0x80]), Buffer.from(" garbage \x7f\r\n\r\n", "latin1")])).then((r) =>
          expectError(r, 400, "malformed request line", "garbage")),
        exchange(port, Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 131 + 7) % 256).filter((byte) => byte !== 10 && byte !== 13))).then((r) => {
          expectError(r, 408, "timed out in the middle of a request", "garbage without a line end");
          expect(r.closedAfterMs!).toBeGreaterThanOrEqual(1900);
        }),
        exchange(port, head(["GET /tree/good HTTP/1.1", "Host: x", `X-Pad: ${"a".repeat(9000)}`])).then((r) =>
          expectError(r, 431, "the request head is larger than 8192 bytes", "a 9 KiB head")),
        exchange(port, exact, { halfClose: true }).then((r) => {
          const responses = parseResponses(r.data, [false]);
          expect(responses.length).toBe(1);
          expectAnswer(responses[0], 200, "good value", { type: "application/octet-stream" }); // exactly 8192 bytes is served
        }),
        ...[
          ["-1", "Content-Length is not a decimal number"],
          ["12x", "Content-Length is not a decimal number"],
          ["99999999999999999999999", "Content-Length is too large"],
        ].map(([value, error]) =>
          exchange(port, head(["PUT /tree/bad HTTP/1.1", "Host: x", `Content-Length: ${value}`])).then((r) => expectError(r, 400, error, `Content-Length: ${value}`)),
        ),
        exchange(port, head(["PUT /tree/bad HTTP/1.1", "Host: x", "Content-Length: 5", "Content-Length: 6"])).then((r) =>
          expectError(r, 400, "conflicting Content-Length values", "two Content-Lengths")),
        exchange(port, head(["PUT /tree/bad HTTP/1.1", "Host: x", "Content-Length: 3", "Transfer-Encoding: chunked"])).then((r) =>
          expectError(r, 400, "both Content-Length and Transfer-Encoding", "Content-Length and chunked")),
        exchange(port, head(["PUT /tree/bad HTTP/1.1", "Host: x", "Content-Length: 20000000"])).then((r) =>
          expectError(r, 413, "the request body is larger than max_body", "a body over max_body")),
        exchange(port, truncatedChunked, { halfClose: true }).then((r) =>
          expectError(r, 400, "the connection closed in the middle of a request", "a truncated chunked body, then FIN")),
        exchange(port, Buffer.concat([head(["PUT /tree/bad HTTP/1.1", "Host: x", "Content-Length: 100"]), Buffer.from("abc")])).then((r) => {
          expectError(r, 408, "timed out in the middle of a request", "a body that stops");
          expect(r.closedAfterMs!).toBeGreaterThanOrEqual(1900);
        }),
        // a truncated chunked body, then the client is gone at once (its FIN and maybe a reset)
        connectOne(port).then((socket) => new Promise<void>((resolve) => socket.end(truncatedChunked, () => {
          socket.destroy();
          resolve();
        }))),
        // silence: closed after idle=2 s, nothing sent
        exchange(port, Buffer.alloc(0)).then((r) => {
          expect(r.data.length).toBe(0);
          expect(r.closedAfterMs, "the silent client is closed").toBeDefined();
          expect(r.closedAfterMs!).toBeGreaterThanOrEqual(1900);
          expect(r.closedAfterMs!).toBeLessThan(6000);
        }),
      ]);
      // the good clients go on until the bad ones and the slow reader are done
      const [bad, slowRead] = await Promise.all([badClients, slow]).finally(() => (badDone = true));
      expect(bad.length).toBe(14);
      const [keepAliveOk, freshOk] = await Promise.all([keepAlive, fresh]);
      expect(keepAliveOk).toBeGreaterThan(50);
      expect(freshOk).toBeGreaterThan(5);
      const [slowResponse] = parseResponses(slowRead.body, [false]);
      expect(slowResponse.status).toBe(200);
      expect(slowResponse.body.length).toBe(big.length);
      expect(sha256(slowResponse.body)).toBe(sha256(big));
      expect(slowRead.seconds).toBeGreaterThan(4); // it was slower than idle=2 for the whole response
      console.log(
        `serve-qemu bad clients: 14 bad clients answered or closed; meanwhile ${keepAliveOk} keep-alive GETs and ${freshOk} one-shot GETs all 200, ` +
          `and a reader at 1 MiB/s got all 8 MiB in ${slowRead.seconds.toFixed(1)} s (idle=2)`,
      );

      // nothing the bad clients sent was stored
      const check = await HttpConnection.open(port);
      const [absent] = await check.send([{ method: "GET", target: "/tree/bad" }]);
      expectAnswer(absent, 404, errorJson("no such path"));
      await check.close();

      // a client that stops reading is dropped once nothing goes out for idle= seconds
      const stalled = await connectOne(port);
      stalled.pause();
      stalled.write(encodeRequest({ method: "GET", target: "/tree/big" }));
      const stalledAt = Date.now();
      let open = -1;
      for (let i = 0; i < 100 && open !== 1; i++) {
        await sleep(200);
        const probe = await HttpConnection.open(port);
        const [response] = await probe.send([{ method: "GET", target: "/stats", headers: { Connection: "close" } }]);
        await within(probe.closed, 10_000, "close");
        open = (JSON.parse(response.body.toString("latin1")) as Stats).connections.open;
      }
      const droppedAfter = (Date.now() - stalledAt) / 1000;
      stalled.destroy();
      expect(open, "the stalled reader's connection is closed by the server").toBe(1);
      expect(droppedAfter).toBeGreaterThan(1.9);
      console.log(`serve-qemu bad clients: a reader that stopped reading 8 MiB was dropped after ${droppedAfter.toFixed(1)} s (idle=2)`);

      const { stats } = await finish(guest);
      // 400 x 7, 408 x 2, 413, 431, the 404 of /tree/bad, and a 400 for the client that left if it could be written
      expect(stats.responses["4xx"]).toBeGreaterThanOrEqual(12);
      expect(stats.responses["4xx"]).toBeLessThanOrEqual(13);
      expect(stats.responses["5xx"]).toBe(0);
    } finally {
      stop(guest);
    }
  }, 150_000);

  // Many connections with full windows fill the driver's 256-entry TX ring. The driver used to
  // run its whole poll from inside virtio_transmit when the ring was full, delivering received
  // frames from inside the transmit path: their ACKs made TCP transmit again, recursing until the
  // fiber's stack overflowed (#DF), or the nested poll ran the outer RX loop through 65536 stale
  // used-ring slots (TCP "dropped" and "challenge_acks" in the tens of thousands). Now transmit
  // only reclaims the TX ring; this is the regression test.
  it("serves 32 concurrent keep-alive clients 8 x 1 MiB each (the TX ring fills)", async () => {
    const clients = 32;
    const rounds = 8;
    const guest = await startServe("tx-ring", "idle=10", clients * rounds + 100);
    try {
      const value = randomBytes(1 << 20);
      const setup = await HttpConnection.open(guest.port);
      const [stored] = await setup.send([{ method: "PUT", target: "/tree/m", body: value }]);
      expect(stored.status).toBe(201);
      await setup.close();
      const connections = await Promise.all(Array.from({ length: clients }, () => HttpConnection.open(guest.port)));
      const start = Date.now();
      // like ab -k: each client asks again as soon as its answer is complete
      const results = await Promise.all(
        connections.map(async (connection) => {
          const responses: HttpResponse[] = [];
          for (let round = 0; round < rounds; round++) responses.push(...(await connection.send([{ method: "GET", target: "/tree/m" }], 60_000)));
          return responses;
        }),
      );
      const seconds = (Date.now() - start) / 1000;
      for (const responses of results)
        for (const response of responses) {
          expect(response.status).toBe(200);
          expect(response.body.equals(value)).toBe(true);
        }
      await Promise.all(connections.map((connection) => connection.close()));
      console.log(`serve-qemu tx-ring: ${clients * rounds} x 1 MiB to ${clients} clients in ${seconds.toFixed(1)} s (${((clients * rounds * 1.048576) / seconds).toFixed(1)} MB/s)`);
      const { stats, serial } = await finish(guest);
      console.log(`serve-qemu tx-ring: tcp ${JSON.stringify(stats.tcp)}\n${serial.split("\n").filter((line) => line.startsWith("netstat")).join("\n")}`);
      // The link neither loses nor duplicates, so the stack drops a segment only when the peer
      // sent it twice: the NAT's (or slirp's) retransmission after its 1-s RTO. That happens on a
      // loaded host: the guest's fibers are cooperative, and storing the 1-MiB PUT (hashing it)
      // took 1.7 s in one capture, during which the delayed ACK for the body's last two segments
      // could not go out; the retransmission then carried data the guest already had. Any other
      // drop, or a challenge ACK, is a frame delivered twice (the re-entrant poll re-reading
      // stale RX slots).
      const retransmittedToGuest = stats.tcp.dropped === 0 ? 0 : (await tsharkMatching(guest.pcap, "tcp.analysis.retransmission && tcp.dstport == 80")).length;
      if (stats.tcp.dropped > 0) console.log(`serve-qemu tx-ring: ${stats.tcp.dropped} segments dropped, ${retransmittedToGuest} retransmitted to the guest`);
      expect(stats.tcp.dropped).toBeLessThanOrEqual(retransmittedToGuest);
      expect(stats.tcp.challenge_acks).toBe(0);
    } finally {
      stop(guest);
    }
  }, 150_000);
});
}
