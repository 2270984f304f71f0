// The HTTP server's native build: compiles src/workload/serve/*.c with the store
// (src/libos/irmin/*.c), the store's Linux environment (test/irmin/native_env.c) and the driver
// in test/serve, with gcc -fsanitize=address,undefined -Werror and the kernel's warning flags,
// cached by source hash under build/serve/. Also a small HTTP/1.1 client over the driver's
// `stream` command: requests are encoded here, run through serve_connection, and the responses
// parsed back.

import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { buildCached } from "../../src/bench/cached-build.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, "../..");
const BUILD_DIR = join(ROOT, "build/serve");

export const hasGcc = spawnSync("gcc", ["--version"]).status === 0;

export const SERVE_GCC_FLAGS = [
  "-std=gnu11",
  "-O1",
  "-g",
  "-fsanitize=address,undefined",
  "-fno-sanitize-recover=all",
  "-fno-omit-frame-pointer",
  "-Wall",
  "-Wextra",
  "-Wshadow",
  "-Wstrict-prototypes",
  "-Wmissing-prototypes",
  "-Werror",
  "-I",
  join(ROOT, "src/libos"),
  "-I",
  join(ROOT, "src/workload"),
];

function filesIn(dir: string): string[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith(".c") || name.endsWith(".h"))
    .sort()
    .map((name) => join(dir, name));
}

function sources(): { compile: string[]; all: string[] } {
  const all = [
    ...filesIn(join(ROOT, "src/workload/serve")),
    ...filesIn(join(ROOT, "src/libos/irmin")),
    join(ROOT, "src/libos/base/err.h"),
    join(ROOT, "test/irmin/native_env.c"),
    join(ROOT, "test/irmin/native_env.h"),
    ...filesIn(HERE),
  ];
  return { compile: all.filter((file) => file.endsWith(".c")), all };
}

let cachedBinary: string | undefined;

/** Builds the driver once per source version and returns its path. */
export function buildServeNative(): string {
  if (cachedBinary && existsSync(cachedBinary)) return cachedBinary;
  const { compile, all } = sources();
  cachedBinary = buildCached({ what: "serve native build", buildDir: BUILD_DIR, prefix: "serve", flags: SERVE_GCC_FLAGS, compile, all });
  return cachedBinary;
}

export interface NativeRun {
  stdout: Buffer;
  stderr: string;
  status: number | null;
}

export function runServeNative(args: readonly string[], input?: Buffer): NativeRun {
  const result = spawnSync(buildServeNative(), args, {
    input,
    maxBuffer: 512 * 1024 * 1024,
    env: { ...process.env, ASAN_OPTIONS: "detect_leaks=1:abort_on_error=0", UBSAN_OPTIONS: "print_stacktrace=1" },
  });
  if (result.error) throw new Error(`serve native ${args.join(" ")}: ${result.error.message}`);
  return { stdout: result.stdout, stderr: result.stderr.toString("utf8"), status: result.status };
}

// ---- a small HTTP/1.1 client ----

export interface HttpRequest {
  method: string;
  target: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
  /** "1.1" (the default; a Host header is added) or "1.0". */
  version?: "1.0" | "1.1";
  /** Send the body chunked, in pieces of this many bytes. */
  chunked?: number;
}

export function encodeRequest(request: HttpRequest): Buffer {
  const version = request.version ?? "1.1";
  const headers: Record<string, string> = { ...(version === "1.1" ? { Host: "test" } : {}), ...request.headers };
  const body = typeof request.body === "string" ? Buffer.from(request.body, "latin1") : request.body;
  const parts: Buffer[] = [];
  if (body !== undefined && request.chunked !== undefined) {
    headers["Transfer-Encoding"] = "chunked";
    for (let offset = 0; offset < body.length; offset += request.chunked) {
      const piece = body.subarray(offset, offset + request.chunked);
      parts.push(Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from("\r\n"));
    }
    parts.push(Buffer.from("0\r\n\r\n"));
  } else if (body !== undefined) {
    headers["Content-Length"] = String(body.length);
    parts.push(body);
  }
  const head =
    `${request.method} ${request.target} HTTP/${version}\r\n` +
    Object.entries(headers)
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join("") +
    "\r\n";
  return Buffer.concat([Buffer.from(head, "latin1"), ...parts]);
}

export interface HttpResponse {
  status: number;
  /** Header names in lower case. */
  headers: Record<string, string>;
  rawHead: string;
  body: Buffer;
}

/** The body parsed as JSON (strings carry bytes as U+0000..U+00FF; see docs/serve.md). */
export function jsonOf(response: HttpResponse): any {
  if (response.headers["content-type"] !== "application/json")
    throw new Error(`not a JSON response: ${response.rawHead}`);
  return JSON.parse(response.body.toString("latin1"));
}

/** Splits a connection's output into responses; `headOnly[i]` marks responses without a body. */
export function parseResponses(output: Buffer, headOnly: readonly boolean[]): HttpResponse[] {
  const responses: HttpResponse[] = [];
  let position = 0;
  while (position < output.length) {
    const end = output.indexOf("\r\n\r\n", position, "latin1");
    if (end < 0) throw new Error(`a response head does not end: ${output.subarray(position).toString("latin1")}`);
    const rawHead = output.subarray(position, end + 4).toString("latin1");
    position = end + 4;
    const [statusLine, ...lines] = rawHead.slice(0, -4).split("\r\n");
    const match = /^HTTP\/1\.1 (\d{3}) [^\r\n]+$/.exec(statusLine);
    if (!match) throw new Error(`malformed status line: ${statusLine}`);
    const status = Number(match[1]);
    if (status === 100) continue;
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(":");
      headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
    }
    const length = Number(headers["content-length"]);
    if (!Number.isInteger(length)) throw new Error(`no Content-Length: ${rawHead}`);
    const bodyLength = headOnly[responses.length] ? 0 : length;
    if (position + bodyLength > output.length) throw new Error(`a body is shorter than its Content-Length: ${rawHead}`);
    responses.push({ status, headers, rawHead, body: output.subarray(position, position + bodyLength) });
    position += bodyLength;
  }
  return responses;
}

export interface ConnectionResult {
  rc: number;
  output: Buffer;
  responses: HttpResponse[];
}

export interface StreamOptions {
  split?: number;
  random?: number;
  end?: "eof" | "timeout" | "reset" | "cancel";
  clock?: number;
  max_body?: number;
  max_depth?: number;
  max_response?: number;
  max_store?: number;
  max_conns?: number;
}

/**
 * Runs one server over several connections, one after the other, each the given requests
 * pipelined (raw Buffers are sent as they are and are never HEAD). Throws unless the driver
 * exits cleanly and the store's allocations are back to zero after the server is freed.
 */
export function serveConnections(connections: readonly (readonly (HttpRequest | Buffer)[])[], options: StreamOptions = {}): ConnectionResult[] {
  const frames: Buffer[] = [];
  for (const requests of connections) {
    const bytes = Buffer.concat(requests.map((request) => (Buffer.isBuffer(request) ? request : encodeRequest(request))));
    const header = Buffer.alloc(4);
    header.writeUInt32LE(bytes.length);
    frames.push(header, bytes);
  }
  const args = ["stream", ...Object.entries(options).map(([key, value]) => `${key}=${value}`)];
  const run = runServeNative(args, Buffer.concat(frames));
  if (run.status !== 0) throw new Error(`serve native stream failed (${run.status}):\n${run.stderr}`);
  const results: ConnectionResult[] = [];
  let position = 0;
  for (const requests of connections) {
    const lineEnd = run.stdout.indexOf("\n", position);
    const line = run.stdout.subarray(position, lineEnd).toString("latin1");
    const match = /^CONN \d+ rc=(-?\d+) bytes=(\d+)$/.exec(line);
    if (!match) throw new Error(`unexpected driver output: ${line}`);
    const output = run.stdout.subarray(lineEnd + 1, lineEnd + 1 + Number(match[2]));
    position = lineEnd + 1 + output.length + 1;
    const headOnly = requests.map((request) => !Buffer.isBuffer(request) && request.method === "HEAD");
    results.push({ rc: Number(match[1]), output, responses: parseResponses(output, headOnly) });
  }
  const end = run.stdout.subarray(position).toString("latin1");
  if (end !== "END store_bytes_after_free=0\n") throw new Error(`the store was not freed completely: ${end}`);
  return results;
}

/** One connection: the responses to the requests, in order. */
export function serve(requests: readonly (HttpRequest | Buffer)[], options: StreamOptions = {}): HttpResponse[] {
  return serveConnections([requests], options)[0].responses;
}

/** Percent-encodes every byte outside [A-Za-z0-9-._~]. */
export function encodeStep(step: Buffer | string): string {
  const bytes = typeof step === "string" ? Buffer.from(step, "latin1") : step;
  let text = "";
  for (const byte of bytes) {
    const char = String.fromCharCode(byte);
    text += /[A-Za-z0-9\-._~]/.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return text;
}

// `tsx test/serve/serve_native.ts`: build and print the binary's path.
if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  console.log(buildServeNative());
}
