// The guest network stack's speed, measured from the host side by side in one run (DESIGN.md §6):
// the `serve` workload's requests per second for small GETs and PUTs over keep-alive connections
// (ab -k) at several concurrencies, and `netbench` bulk TCP MiB/s each way. Today on QEMU TCG
// with user networking (the reference machine of DESIGN.md §8); the emulator's columns come with
// its own NIC (issue 13). Nothing here is asserted: it prints a table.
//
// Run: npx tsx perf/net.bench.ts [--seconds S] [--concurrency 1,8,32,64] [--bulk-mib N]   (npm run bench:net)
import { execFile, execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

let seconds = 5;
let concurrencies = [1, 8, 32, 64];
let bulkMiB = 64;
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--seconds") seconds = Number(args[++i]);
  else if (args[i] === "--concurrency") concurrencies = args[++i].split(",").map(Number);
  else if (args[i] === "--bulk-mib") bulkMiB = Number(args[++i]);
  else {
    console.error(`error: unknown argument ${args[i]} (expected --seconds S, --concurrency LIST, --bulk-mib N)`);
    process.exit(2);
  }
}
if (!(seconds > 0) || concurrencies.some((c) => !Number.isInteger(c) || c < 1) || !(bulkMiB > 0)) {
  console.error("error: --seconds > 0, --concurrency positive integers, --bulk-mib > 0");
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

function qemu(append: string, hostfwd: string): { child: ChildProcess; serial: () => string; exited: Promise<number | null> } {
  const netdev = `user,id=n0${hostfwd}`;
  const child = spawn("qemu-system-x86_64", [
    "-accel", "tcg", "-machine", "q35", "-m", "512", "-nodefaults", "-display", "none", "-serial", "stdio", "-no-reboot",
    "-kernel", image, "-append", append, "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
    "-netdev", netdev, "-device", "virtio-net-pci,netdev=n0",
  ], { stdio: ["ignore", "pipe", "inherit"] });
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
  value: string;
  notes: string;
}
const rows: Row[] = [];

async function httpRates(): Promise<void> {
  const port = await freePort();
  const vm = qemu(`serve max_conns=256`, `,hostfwd=tcp:127.0.0.1:${port}-:80`);
  try {
    await waitFor(() => vm.serial().includes("serve: listening on"), 60_000, "the server to listen");
    const url = `http://127.0.0.1:${port}`;
    // one small value to GET
    const put = await fetch(`${url}/tree/bench/key`, { method: "PUT", body: "x".repeat(64) });
    if (put.status !== 201) throw new Error(`PUT setup: ${put.status}`);
    const body = join(work, "body.txt");
    writeFileSync(body, "y".repeat(64));
    for (const c of concurrencies) {
      const get = await ab(["-q", "-k", "-c", String(c), "-t", String(seconds), "-n", "10000000", `${url}/tree/bench/key`]);
      rows.push({ what: `GET 64 B, ${c} connection${c > 1 ? "s" : ""}`, value: `${get.rps.toFixed(0)} req/s`, notes: `${get.complete} done, ${get.failed} failed, ${get.non2xx} non-2xx` });
      const putRate = await ab(["-q", "-k", "-c", String(c), "-t", String(seconds), "-n", "10000000", "-u", body, "-T", "application/octet-stream", `${url}/tree/bench/put`]);
      // ab repeats one body to one path: after the first, each PUT finds the tree unchanged and
      // commits nothing (docs/serve.md), so this is the request path plus a store lookup
      rows.push({ what: `PUT 64 B (same value), ${c} connection${c > 1 ? "s" : ""}`, value: `${putRate.rps.toFixed(0)} req/s`, notes: `${putRate.complete} done, ${putRate.failed} failed, ${putRate.non2xx} non-2xx` });
    }
  } finally {
    vm.child.kill("SIGKILL");
    await vm.exited;
  }
}

async function bulk(dir: "send" | "recv"): Promise<void> {
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
  const vm = qemu(`netbench port=${port} bytes=${bytes} dir=${dir}`, "");
  const status = await vm.exited;
  server.close();
  const line = /netbench: \w+ (\d+) bytes in ([\d.]+) s, ([\d.]+) MiB\/s/.exec(vm.serial());
  if (status !== 1 || !line) throw new Error(`netbench ${dir} failed (status ${status}):\n${vm.serial()}`);
  rows.push({ what: `bulk TCP, guest ${dir === "send" ? "sends" : "receives"} ${bulkMiB} MiB`, value: `${line[3]} MiB/s`, notes: `guest-measured, ${line[2]} s${dir === "send" ? `; host got ${received} bytes` : ""}` });
}

try {
  await httpRates();
  await bulk("send");
  await bulk("recv");
  const width = Math.max(...rows.map((r) => r.what.length));
  console.log(`\nguest network on QEMU TCG + user networking (${new Date().toISOString()}, ${seconds} s per ab run)`);
  for (const row of rows) console.log(`${row.what.padEnd(width)}  ${row.value.padStart(14)}  ${row.notes}`);
} catch (error) {
  console.error(`error: ${(error as Error).message}`);
  process.exitCode = 1;
} finally {
  rmSync(work, { recursive: true, force: true });
}
