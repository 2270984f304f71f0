// The guest network stack's speed, measured from the host side by side in one run (DESIGN.md §6):
// the `serve` workload's requests per second for small GETs and PUTs over keep-alive connections
// (ab -k) at several concurrencies, and `netbench` bulk TCP MiB/s each way, on QEMU TCG with user
// networking (the reference machine of DESIGN.md §8) and on this emulator (--accel jit, its own
// virtio-net-pci and NAT) with the same command line, side by side in one run, with the ratio.
// Nothing here is asserted: it prints a table.
//
// Run: npx tsx perf/net.bench.ts [--seconds S] [--concurrency 1,8,32,64] [--bulk-mib N] [--machines qemu,emulator]   (npm run bench:net)
import { execFile, execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { builtCli } from "./support/built-cli.js";

let seconds = 5;
let concurrencies = [1, 8, 32, 64];
let bulkMiB = 64;
let machines = ["qemu", "emulator"];
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--seconds") seconds = Number(args[++i]);
  else if (args[i] === "--concurrency") concurrencies = args[++i].split(",").map(Number);
  else if (args[i] === "--bulk-mib") bulkMiB = Number(args[++i]);
  else if (args[i] === "--machines") machines = args[++i].split(",");
  else {
    console.error(`error: unknown argument ${args[i]} (expected --seconds S, --concurrency LIST, --bulk-mib N, --machines LIST)`);
    process.exit(2);
  }
}
if (!(seconds > 0) || concurrencies.some((c) => !Number.isInteger(c) || c < 1) || !(bulkMiB > 0) || machines.some((m) => m !== "qemu" && m !== "emulator")) {
  console.error("error: --seconds > 0, --concurrency positive integers, --bulk-mib > 0, --machines from qemu,emulator");
  process.exit(2);
}
for (const tool of ["qemu-system-x86_64", "ab"]) {
  try {
    execFileSync(tool, tool === "ab" ? ["-V"] : ["--version"], { stdio: "ignore" });
  } catch {
    console.error(`error: ${tool} is not installed (Debian: qemu-system-x86, apache2-utils)`);
    process.exit(1);
  }
}

const root = new URL("..", import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), "x64emu-net-bench-"));
const image = join(work, "kernel.elf");
execFileSync("bash", ["scripts/build-guest.sh", image], { cwd: root, stdio: ["ignore", "ignore", "inherit"] });

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

// this emulator as users start it: the built entry point, rebuilt from the sources
const [cliCommand, cliArgs] = builtCli();

/** Boots `append` on `machine` with one command line, the program name aside. */
function boot(machine: string, append: string, hostfwd: string): { child: ChildProcess; serial: () => string; exited: Promise<number | null> } {
  const netdev = `user,id=n0${hostfwd}`;
  const common = [
    "-machine", "q35", "-m", "512", "-nodefaults", "-display", "none", "-serial", "stdio", "-no-reboot",
    "-kernel", image, "-append", append, "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
    "-netdev", netdev, "-device", "virtio-net-pci,netdev=n0",
  ];
  const child = machine === "qemu"
    ? spawn("qemu-system-x86_64", ["-accel", "tcg", ...common], { stdio: ["ignore", "pipe", "inherit"] })
    : spawn(cliCommand, [...cliArgs, "-accel", "kvm", ...common], { cwd: root, stdio: ["ignore", "pipe", "inherit"] });
  let text = "";
  child.stdout!.on("data", (chunk) => (text += chunk));
  const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
  return { child, serial: () => text, exited };
}

async function waitFor(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function ab(argsList: string[]): Promise<{ rps: number; failed: number; non2xx: number; complete: number }> {
  return new Promise((resolve, reject) => {
    execFile("ab", argsList, { encoding: "utf8", maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      if (error && !stdout) return reject(new Error(`ab failed: ${stderr}`));
      const number = (pattern: RegExp) => Number(pattern.exec(stdout)?.[1] ?? NaN);
      resolve({
        rps: number(/Requests per second:\s+([\d.]+)/),
        failed: number(/Failed requests:\s+(\d+)/),
        non2xx: Number(/Non-2xx responses:\s+(\d+)/.exec(stdout)?.[1] ?? 0),
        complete: number(/Complete requests:\s+(\d+)/),
      });
    });
  });
}

interface Row {
  what: string;
  /** by machine: the figure (requests/s or MiB/s) */
  values: Map<string, number>;
  unit: string;
  notes: string[];
}
const rows: Row[] = [];
function record(what: string, machine: string, value: number, unit: string, note: string): void {
  let row = rows.find((r) => r.what === what);
  if (!row) rows.push((row = { what, values: new Map(), unit, notes: [] }));
  row.values.set(machine, value);
  row.notes.push(`${machine}: ${note}`);
}

async function httpRates(machine: string): Promise<void> {
  const port = await freePort();
  const vm = boot(machine, `serve max_conns=256`, `,hostfwd=tcp:127.0.0.1:${port}-:80`);
  try {
    await waitFor(() => vm.serial().includes("serve: listening on"), 60_000, "the server to listen");
    const url = `http://127.0.0.1:${port}`;
    // one small value to GET
    const put = await fetch(`${url}/tree/bench/key`, { method: "PUT", body: "x".repeat(64) });
    if (put.status !== 201) throw new Error(`PUT setup: ${put.status}`);
    const body = join(work, "body.txt");
    writeFileSync(body, "y".repeat(64));
    // Steady state, as a server is measured: one unrecorded run of each request first, on both
    // machines alike (TCG translates the same paths the JIT compiles; the JIT's first seconds are
    // mostly its warm-up).
    await ab(["-q", "-k", "-c", "32", "-t", String(seconds), "-n", "10000000", `${url}/tree/bench/key`]);
    await ab(["-q", "-k", "-c", "32", "-t", String(seconds), "-n", "10000000", "-u", body, "-T", "application/octet-stream", `${url}/tree/bench/put`]);
    for (const c of concurrencies) {
      const get = await ab(["-q", "-k", "-c", String(c), "-t", String(seconds), "-n", "10000000", `${url}/tree/bench/key`]);
      record(`GET 64 B, ${c} connection${c > 1 ? "s" : ""}`, machine, get.rps, "req/s", `${get.complete} done, ${get.failed} failed, ${get.non2xx} non-2xx`);
      const putRate = await ab(["-q", "-k", "-c", String(c), "-t", String(seconds), "-n", "10000000", "-u", body, "-T", "application/octet-stream", `${url}/tree/bench/put`]);
      // ab repeats one body to one path: after the first, each PUT finds the tree unchanged and
      // commits nothing (docs/serve.md), so this is the request path plus a store lookup
      record(`PUT 64 B (same value), ${c} connection${c > 1 ? "s" : ""}`, machine, putRate.rps, "req/s", `${putRate.complete} done, ${putRate.failed} failed, ${putRate.non2xx} non-2xx`);
    }
  } finally {
    vm.child.kill("SIGKILL");
    await vm.exited;
  }
}

async function bulk(machine: string, dir: "send" | "recv"): Promise<void> {
  const bytes = bulkMiB * 1024 * 1024;
  const server = net.createServer();
  let received = 0;
  server.on("connection", (socket) => {
    if (dir === "send") {
      socket.on("data", (chunk) => (received += chunk.length));
      socket.on("end", () => socket.end());
    } else {
      const data = Buffer.alloc(bytes);
      for (let i = 0; i < bytes; i++) data[i] = (i * 7 + Math.floor(i / 251)) & 255;
      socket.end(data);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  const vm = boot(machine, `netbench port=${port} bytes=${bytes} dir=${dir}`, "");
  const status = await vm.exited;
  server.close();
  const line = /netbench: \w+ (\d+) bytes in ([\d.]+) s, ([\d.]+) MiB\/s/.exec(vm.serial());
  if (status !== 1 || !line) throw new Error(`netbench ${dir} failed (status ${status}):\n${vm.serial()}`);
  record(`bulk TCP, guest ${dir === "send" ? "sends" : "receives"} ${bulkMiB} MiB`, machine, Number(line[3]), "MiB/s", `guest-measured, ${line[2]} s${dir === "send" ? `, host got ${received} bytes` : ""}`);
}

try {
  for (const machine of machines) {
    await httpRates(machine);
    await bulk(machine, "send");
    await bulk(machine, "recv");
  }
  const width = Math.max(...rows.map((r) => r.what.length));
  console.log(`\nthe guest's network, QEMU TCG vs this emulator (--accel jit), user networking (${new Date().toISOString()}, ${seconds} s per ab run)`);
  console.log(`${"".padEnd(width)}  ${machines.map((m) => m.padStart(16)).join("")}${machines.length === 2 ? "   emulator/qemu" : ""}`);
  for (const row of rows) {
    const cells = machines.map((m) => (row.values.has(m) ? `${row.values.get(m)!.toFixed(row.unit === "req/s" ? 0 : 2)} ${row.unit}` : "-").padStart(16)).join("");
    const ratio = machines.length === 2 && row.values.has("qemu") && row.values.has("emulator") ? `   ${(row.values.get("emulator")! / row.values.get("qemu")!).toFixed(3)}` : "";
    console.log(`${row.what.padEnd(width)}  ${cells}${ratio}`);
  }
  for (const row of rows) if (row.notes.some((n) => /[1-9]\d* failed|[1-9]\d* non-2xx/.test(n))) console.log(`  ${row.what}: ${row.notes.join("; ")}`);
} catch (error) {
  console.error(`error: ${(error as Error).message}`);
  process.exitCode = 1;
} finally {
  rmSync(work, { recursive: true, force: true });
}
