// The guest's network stack on real QEMU 7.2 with user networking (DESIGN.md §8: the reference
// command plus `-netdev user -device virtio-net-pci`): DHCP from slirp, ping to the NAT, and
// bulk TCP both ways through the NAT to a server on this host's loopback, with every packet
// captured by QEMU's filter-dump and checked by tshark.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { rmSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readPcap, tsharkProblems } from "../support/capture.js";
import { hostHas } from "../support/host-tools.js";
import { buildGuestImage, hasQemu, repoRoot } from "./support/boot.js";

const hasTshark = hasQemu && hostHas("tshark", ["--version"]);

interface QemuRun {
  status: number | null;
  serial: string;
  pcap: string;
}

/** Boots `image` with a user-mode NIC; the capture of every frame goes to `pcap`. Bounded by `timeoutMs`. */
function bootWithNic(image: string, append: string, pcap: string, timeoutMs = 120_000): Promise<QemuRun> {
  const args = [
    "-accel", "tcg", "-machine", "q35", "-m", "512", "-nodefaults", "-display", "none", "-serial", "stdio", "-no-reboot",
    "-kernel", image, "-append", append, "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
    "-netdev", "user,id=n0", "-device", "virtio-net-pci,netdev=n0", "-object", `filter-dump,id=f0,netdev=n0,file=${pcap}`,
  ];
  return new Promise((resolve) => {
    const child = spawn("qemu-system-x86_64", args, { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] });
    let serial = "";
    child.stdout.on("data", (chunk) => (serial += chunk));
    const killer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", (status) => {
      clearTimeout(killer);
      resolve({ status, serial, pcap });
    });
  });
}

/** netbench's byte pattern (src/workload/netbench.c). */
function pattern(length: number): Buffer {
  const bytes = Buffer.alloc(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 7 + Math.floor(i / 251)) & 255;
  return bytes;
}

/** A loopback server on a free port, serving one connection with `serve`. */
async function oneShotServer(serve: (socket: net.Socket) => void): Promise<{ port: number; done: Promise<void>; close: () => void }> {
  const server = net.createServer();
  let finished!: () => void;
  const done = new Promise<void>((resolve) => (finished = resolve));
  server.on("connection", (socket) => {
    serve(socket);
    socket.on("close", () => finished());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { port: (server.address() as net.AddressInfo).port, done, close: () => server.close() };
}

describe.runIf(hasQemu && hasTshark)("the guest network on QEMU user networking", () => {
  let workDir = "";
  let image = "";

  beforeAll(async () => {
    ({ workDir, image } = await buildGuestImage("x64emu-network-"));
  }, 180_000);

  afterAll(() => {
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  it("takes a DHCP lease from slirp, logs it, and pings the NAT with no loss", async () => {
    const run = await bootWithNic(image, "ping host=10.0.2.2 count=3 interval_ms=100", join(workDir, "ping.pcap"));
    expect(run.status, run.serial).toBe(1);
    expect(run.serial).toMatch(/\[INFO\] net: eth0 10\.0\.2\.15\/24 gw 10\.0\.2\.2 dns 10\.0\.2\.3 \(dhcp from 10\.0\.2\.2, lease 86400 s/);
    expect(run.serial).toMatch(/^64 bytes from 10\.0\.2\.2: icmp_seq=1 ttl=255 time=/m);
    expect(run.serial).toContain("3 packets transmitted, 3 received, 0% packet loss");
    expect(await tsharkProblems(run.pcap)).toEqual([]);
  }, 180_000);

  for (const [dir, mib] of [["send", 64], ["recv", 64]] as const) {
    it(`netbench dir=${dir}: ${mib} MiB through the NAT arrive intact (digests equal), every packet well formed`, async () => {
      const bytes = mib * 1024 * 1024;
      const expected = pattern(bytes);
      const hostDigest = createHash("blake2b512").update(expected).digest("hex");
      let received = 0;
      const receivedHash = createHash("blake2b512");
      const server = await oneShotServer((socket) => {
        if (dir === "send") {
          socket.on("data", (chunk) => {
            received += chunk.length;
            receivedHash.update(chunk);
          });
          socket.on("end", () => socket.end());
        } else {
          socket.end(expected);
        }
      });
      try {
        const run = await bootWithNic(image, `netbench port=${server.port} bytes=${bytes} dir=${dir}`, join(workDir, `netbench-${dir}.pcap`));
        expect(run.status, run.serial).toBe(1);
        const line = /netbench: (sent|received) (\d+) bytes .* blake2b-512 ([0-9a-f]{128})/.exec(run.serial);
        expect(line, run.serial).not.toBeNull();
        expect(Number(line![2])).toBe(bytes);
        expect(line![3]).toBe(hostDigest);
        if (dir === "send") {
          await server.done;
          expect(received).toBe(bytes);
          expect(receivedHash.digest("hex")).toBe(hostDigest);
        }
        expect(await tsharkProblems(run.pcap)).toEqual([]);
        expect(readPcap(run.pcap).length).toBeGreaterThan(bytes / 1500);
      } finally {
        server.close();
      }
    }, 300_000);
  }
});
