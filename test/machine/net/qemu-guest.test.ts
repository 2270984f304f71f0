// The real guest (the unikernel of src/libos + src/workload, built here) with QEMU 7.2 as its
// machine and NIC:
//  - on QEMU's own user networking with filter-dump: every frame the guest sent is replayed into our
//    NAT, and the NAT's answers to each must be the frames libslirp answered with, byte for byte
//    (DHCP offer and ack, ARP reply, ICMP echo replies: IP identification and checksums included);
//  - with our NAT as the backend of QEMU's virtio-net (a socket netdev carries the frames between
//    QEMU and this process): ping, netbench 16 MiB each way with the BLAKE2b-512 digests equal on
//    both ends, and the HTTP server reached through our hostfwd by curl; tshark passes our capture.
import { execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import dgram from "node:dgram";
import net from "node:net";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UserNetBackend, type UserNetOptions } from "../../../src/machine/net/slirp.js";
import { readPcap, tsharkProblems } from "../../support/capture.js";
import { hostHas } from "../../support/host-tools.js";
import { FakeDevice } from "./support/fake-device.js";
import { GUEST_MAC } from "./support/frames.js";

const hasQemu = hostHas("qemu-system-x86_64");
const hasTools = hasQemu && hostHas("tshark", ["--version"]) && hostHas("curl", ["--version"]);
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const repoRoot = new URL("../../..", import.meta.url).pathname;
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

describe.runIf(hasQemu)("replaying a real guest's frames from QEMU 7.2", () => {
  let workDir = "";
  let image = "";

  beforeAll(() => {
    workDir = mkdtempSync(join(tmpdir(), "nat-guest-"));
    image = join(workDir, "kernel.elf");
    return new Promise<void>((resolve, reject) => {
      execFile("bash", ["scripts/build-guest.sh", relative(repoRoot, image)], { cwd: repoRoot, encoding: "utf8" }, (error, stdout, stderr) =>
        error ? reject(new Error(`build-guest failed:\n${stdout}${stderr}`)) : resolve());
    });
  }, 180_000);

  afterAll(() => {
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  it("answers ping's DHCP, ARP and ICMP exactly as libslirp did", async () => {
    const pcap = join(workDir, "ping.pcap");
    const status = await new Promise<number | null>((resolve) => {
      const child = spawn("qemu-system-x86_64", [
        "-accel", "tcg", "-machine", "q35", "-m", "512", "-nodefaults", "-display", "none", "-serial", `file:${join(workDir, "serial")}`, "-no-reboot",
        "-kernel", image, "-append", "ping host=10.0.2.2 count=3 interval_ms=50", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
        "-netdev", "user,id=n0", "-device", "virtio-net-pci,netdev=n0", "-object", `filter-dump,id=f0,netdev=n0,file=${pcap}`,
      ], { stdio: "ignore" });
      const killer = setTimeout(() => child.kill("SIGKILL"), 60_000);
      child.on("close", (code) => {
        clearTimeout(killer);
        resolve(code);
      });
    });
    expect(status, readFileSync(join(workDir, "serial"), "utf8")).toBe(1);
    const frames = readPcap(pcap);
    const fromGuest = (frame: Uint8Array) => hex(frame.subarray(6, 12)) === hex(GUEST_MAC);
    expect(frames.filter(fromGuest).length).toBeGreaterThanOrEqual(6);

    const device = new FakeDevice();
    const nat = new UserNetBackend({ wake: device.wake });
    nat.attach(device);
    try {
      let exchanges = 0;
      let exchanges6 = 0;
      for (let i = 0; i < frames.length; i++) {
        if (!fromGuest(frames[i])) continue;
        const expected: string[] = [];
        for (let j = i + 1; j < frames.length && !fromGuest(frames[j]); j++) expected.push(hex(frames[j]));
        const from = device.frames.length;
        nat.receiveFromGuest(frames[i]);
        expect(device.frames.slice(from).map(hex), `the answer to guest frame ${i}`).toEqual(expected);
        if (expected.length > 0 && frames[i][12] === 0x86 && frames[i][13] === 0xdd) exchanges6++;
        else if (expected.length > 0) exchanges++;
      }
      expect(exchanges).toBe(6); // OFFER, ACK, ARP reply, three echo replies
      // and whatever NDP a guest with IPv6 does on the way (its RS, the NS of its DAD...): answered as QEMU did
      console.log(`ping on QEMU: ${exchanges} IPv4 and ${exchanges6} IPv6 exchanges answered as libslirp did`);
    } finally {
      nat.close();
    }
  }, 120_000);
  /** Boots `append` on QEMU whose virtio-net's backend is our NAT (through a socket netdev); bounded by `timeoutMs`. */
  async function bootThroughNat(append: string, options: UserNetOptions, during?: (nat: UserNetBackend, serial: () => string) => Promise<void>, timeoutMs = 120_000) {
    const link = dgram.createSocket("udp4");
    await new Promise<void>((resolve) => link.bind(0, "127.0.0.1", () => resolve()));
    const probe = dgram.createSocket("udp4");
    await new Promise<void>((resolve) => probe.bind(0, "127.0.0.1", () => resolve()));
    const qemuPort = probe.address().port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const nat = new UserNetBackend(options);
    await nat.ready;
    nat.attach({ mac: GUEST_MAC, deliver: (frame) => (link.send(frame, qemuPort, "127.0.0.1"), true) });
    link.on("message", (message) => nat.receiveFromGuest(new Uint8Array(message.buffer, message.byteOffset, message.length)));
    const serialFile = join(workDir, `serial-${Date.now()}`);
    const serial = () => {
      try {
        return readFileSync(serialFile, "utf8");
      } catch {
        return "";
      }
    };
    const child = spawn("qemu-system-x86_64", [
      "-accel", "tcg", "-machine", "q35", "-m", "512", "-nodefaults", "-display", "none", "-serial", `file:${serialFile}`, "-no-reboot",
      "-kernel", image, "-append", append, "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
      "-netdev", `socket,id=n0,udp=127.0.0.1:${link.address().port},localaddr=127.0.0.1:${qemuPort}`, "-device", "virtio-net-pci,netdev=n0",
    ], { stdio: "ignore" });
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    const killer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    try {
      if (during) await during(nat, serial);
      const status = await exited;
      return { status, serial: serial(), stats: nat.stats() };
    } finally {
      clearTimeout(killer);
      child.kill("SIGKILL");
      nat.close();
      link.close();
    }
  }

  it.runIf(hasTools)("carries the real guest's ping, netbench both ways and HTTP through hostfwd", async () => {
    const ping = await bootThroughNat("ping host=10.0.2.2 count=3 interval_ms=50", {});
    expect(ping.status, ping.serial).toBe(1);
    expect(ping.serial).toMatch(/net: eth0 10\.0\.2\.15\/24 gw 10\.0\.2\.2 dns 10\.0\.2\.3 \(dhcp from 10\.0\.2\.2, lease 86400 s/);
    expect(ping.serial).toContain("3 packets transmitted, 3 received, 0% packet loss");
    expect(ping.serial).toMatch(/icmp_seq=1 ttl=255/);

    const bytes = 16 << 20;
    const data = Buffer.alloc(bytes);
    for (let i = 0; i < bytes; i++) data[i] = (i * 7 + Math.floor(i / 251)) & 255; // netbench's pattern
    const digest = createHash("blake2b512").update(data).digest("hex");
    for (const dir of ["send", "recv"] as const) {
      const received = createHash("blake2b512");
      let receivedBytes = 0;
      let hostDone!: () => void;
      const hostFinished = new Promise<void>((resolve) => (hostDone = resolve));
      const server = net.createServer((socket) => {
        socket.on("error", () => undefined);
        socket.on("close", () => hostDone());
        if (dir === "send") {
          socket.on("data", (chunk) => {
            receivedBytes += chunk.length;
            received.update(chunk);
          });
          socket.on("end", () => socket.end());
        } else socket.end(data);
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
      const pcap = join(workDir, `netbench-${dir}.pcap`);
      try {
        const run = await bootThroughNat(`netbench port=${(server.address() as net.AddressInfo).port} bytes=${bytes} dir=${dir}`, { pcap });
        expect(run.status, run.serial).toBe(1);
        expect(run.serial).toContain(`blake2b-512 ${digest}`);
        expect(run.stats["internal-error"]).toBeUndefined();
        if (dir === "send") {
          await Promise.race([hostFinished, sleep(5000)]);
          expect(receivedBytes).toBe(bytes);
          expect(received.digest("hex")).toBe(digest);
        }
expect(await tsharkProblems(pcap)).toEqual([]);
      } finally {
        server.close();
      }
    }

    const curl = (args: string[]) => new Promise<string>((resolve, reject) =>
      execFile("curl", ["-sS", "--max-time", "20", ...args], { encoding: "utf8" }, (error, stdout, stderr) => (error ? reject(new Error(stderr)) : resolve(stdout))));
    let responses: string[] = [];
    const serve = await bootThroughNat("serve requests=2", { hostForwards: ["tcp:127.0.0.1:0-:80"] }, async (nat, serial) => {
      for (let i = 0; i < 600 && !serial().includes("serve: listening on 10.0.2.15:80"); i++) await sleep(50);
      const port = nat.forwardedPorts()[0].port;
      responses = [
        await curl(["-X", "PUT", "--data-binary", "hello through our NAT", "-H", "X-Date: 1700000000", `http://127.0.0.1:${port}/tree/greeting`]),
        await curl([`http://127.0.0.1:${port}/tree/greeting`]),
      ];
    });
    expect(serve.status, serve.serial).toBe(1);
    expect(responses[0]).toMatch(/^\{"commit":"[0-9a-f]{128}"\}$/);
    expect(responses[1]).toBe("hello through our NAT");
    expect(serve.stats["tcp.connections-forwarded"]).toBe(2);
  }, 300_000);
});
