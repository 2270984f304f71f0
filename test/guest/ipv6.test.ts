// IPv6 end to end, the same guest image on real QEMU 7.2 (libslirp 4.7) and on this emulator
// (--accel jit, its own virtio-net-pci and NAT), from the same command line, the program name
// aside: the addresses the guest configures (SLAAC from slirp's router advertisement), an echo to
// fec0::2, a guest-to-host TCP connection over IPv6 (netbench to fec0::2, which both NATs connect
// to the host's ::1), and the HTTP routes of `serve` reached over IPv6. The NAT's IPv6 frames in
// our capture must be the bytes of QEMU's capture, and tshark must find nothing malformed in either.
//
// QEMU 7.2's hostfwd has no IPv6 form (docs/nat.md), so for `serve` the host reaches the guest on
// QEMU through our NAT plugged into QEMU's NIC (support/external-nat.ts, `hostfwd6`); on this
// emulator through `-netdev user,hostfwd6=...`. The guest runs on QEMU's CPU and device in one
// case and on ours in the other, and must answer the same.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { rmSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseHostForward6 } from "../../src/machine/net/hostfwd.js";
import { readPcap, tsharkMatching, tsharkProblems } from "../support/capture.js";
import { hostHas } from "../support/host-tools.js";
import { buildGuestImage, hasQemu, repoRoot } from "./support/boot.js";
import { startExternalNat } from "./support/external-nat.js";

const hasTools = hasQemu && hostHas("tshark", ["--version"]) && hostHas("curl", ["--version"]);
type Machine = "qemu" | "emulator";

/** slirp's MAC for its IPv6 addresses (52:56 + the low 32 bits of fe80::2 / fec0::2 / fec0::3) */
const NAT6_MAC = "525600000002";
const GUEST_GLOBAL = "fec0::5054:ff:fe12:3456";
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

let workDir = "";
let image = "";
const running = new Set<ChildProcess>();

interface GuestRun {
  status: number | null;
  serial: string;
  stderr: string;
  pcap: string;
}

/** Boots `append` on `machine` with a user-mode NIC (netdev options `netdev`, or `nicArgs` instead) and a capture. */
function boot(machine: Machine, append: string, pcap: string, options: { netdev?: string; nicArgs?: string[]; onSerial?: (text: string) => void } = {}): Promise<GuestRun> {
  const nic = options.nicArgs ?? ["-netdev", `user,id=n0${options.netdev ?? ""}`, "-device", "virtio-net-pci,netdev=n0"];
  // prettier-ignore
  const common = [
    "-machine", "q35", "-m", "512", "-nodefaults", "-display", "none", "-serial", "stdio", "-no-reboot",
    "-kernel", image, "-append", append, "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
    ...nic, "-object", `filter-dump,id=f0,netdev=n0,file=${pcap}`,
  ];
  const child = machine === "qemu"
    ? spawn("qemu-system-x86_64", ["-accel", "tcg", ...common], { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] })
    : spawn(process.execPath, ["--import", "tsx", "src/cli.ts", "-accel", "kvm", ...common], { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] });
  running.add(child);
  let serial = "", stderr = "";
  child.stdout!.on("data", (chunk) => {
    serial += chunk;
    options.onSerial?.(serial);
  });
  child.stderr!.on("data", (chunk) => (stderr += chunk));
  const killer = setTimeout(() => child.kill("SIGKILL"), 120_000);
  return new Promise((resolve) => child.on("close", (status) => {
    clearTimeout(killer);
    running.delete(child);
    resolve({ status, serial, stderr, pcap });
  }));
}

/** The IPv6 frames the NAT sent, as hex, in order. */
function natIpv6Frames(pcap: string): string[] {
  return readPcap(pcap)
    .filter((frame) => hex(frame.subarray(6, 12)) === NAT6_MAC && ((frame[12] << 8) | frame[13]) === 0x86dd)
    .map(hex);
}

/** The lines two machines must print alike: addresses, ping replies (times aside), listening lines, results. */
function comparable(serial: string): string[] {
  return serial.split("\n")
    .filter((line) => /^\[INFO\] net: |^PING |^\d+ bytes from |packets transmitted|^serve: listening|^netbench: /.test(line))
    .map((line) => line.replace(/ time=[\d.]+ ms/, "").replace(/, time \d+ms/, "").replace(/ in [\d.]+ s, [\d.]+ MiB\/s/, ""));
}

describe.runIf(hasTools)("IPv6 on QEMU and on this emulator, same image", () => {
  beforeAll(async () => {
    ({ workDir, image } = await buildGuestImage("x64emu-ipv6-"));
  }, 180_000);

  afterAll(() => {
    for (const child of running) child.kill("SIGKILL");
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  it("ping fec0::2: the same addresses and replies on both, the NAT's RA, NA and echo replies QEMU's bytes, nothing malformed", async () => {
    const append = "ping host=fec0::2 count=3 interval_ms=50";
    const qemu = await boot("qemu", append, join(workDir, "ping-qemu.pcap"));
    const ours = await boot("emulator", append, join(workDir, "ping-ours.pcap"));
    expect(qemu.status, qemu.serial).toBe(1);
    expect(ours.status, ours.serial + ours.stderr).toBe(1);
    expect(qemu.serial).toContain(`[INFO] net: eth0 ${GUEST_GLOBAL}/64 (slaac from fe80::2)`);
    expect(qemu.serial).toContain("[INFO] net: eth0 fe80::5054:ff:fe12:3456/64 (link-local)");
    expect(qemu.serial).toMatch(/^64 bytes from fec0::2: icmp_seq=3 /m);
    expect(qemu.serial).toContain("3 packets transmitted, 3 received, 0% packet loss");
    expect(comparable(ours.serial)).toEqual(comparable(qemu.serial));

    // the router advertisement, the neighbor advertisements and the echo replies, byte for byte
    const theirs = natIpv6Frames(qemu.pcap);
    const types = theirs.map((frame) => parseInt(frame.slice(54 * 2, 54 * 2 + 2), 16));
    expect(types).toContain(134); // RA
    expect(types.filter((type) => type === 129).length).toBe(3); // echo replies
    expect(natIpv6Frames(ours.pcap)).toEqual(theirs);

    for (const pcap of [qemu.pcap, ours.pcap]) {
      expect((await tsharkMatching(pcap, "icmpv6")).length, pcap).toBeGreaterThanOrEqual(8);
      expect(await tsharkProblems(pcap), pcap).toEqual([]);
    }
  }, 300_000);

  for (const dir of ["send", "recv"] as const) {
    it(`netbench dir=${dir} to fec0::2: TCP over IPv6 reaches the host's ::1, the bytes intact on both machines`, async () => {
      const bytes = 1 << 20;
      const expected = Buffer.alloc(bytes);
      for (let i = 0; i < bytes; i++) expected[i] = (i * 7 + Math.floor(i / 251)) & 255;
      const digest = createHash("blake2b512").update(expected).digest("hex");
      const received: Array<{ family: string; digest: string; length: number }> = [];
      const server = net.createServer((socket) => {
        const hash = createHash("blake2b512");
        let length = 0;
        const family = socket.remoteFamily ?? "";
        if (dir === "recv") socket.end(expected);
        socket.on("data", (chunk) => {
          length += chunk.length;
          hash.update(chunk);
        });
        socket.on("end", () => {
          if (dir === "send") socket.end();
        });
        socket.on("close", () => received.push({ family, digest: hash.digest("hex"), length }));
        socket.on("error", () => {});
      });
      await new Promise<void>((resolve) => server.listen(0, "::1", resolve));
      const port = (server.address() as net.AddressInfo).port;
      try {
        const append = `netbench host=fec0::2 port=${port} bytes=${bytes} dir=${dir}`;
        const runs: GuestRun[] = [];
        for (const machine of ["qemu", "emulator"] as const) {
          const run = await boot(machine, append, join(workDir, `netbench-${dir}-${machine}.pcap`));
          expect(run.status, run.serial + run.stderr).toBe(1);
          const line = /netbench: (?:sent|received) (\d+) bytes .* blake2b-512 ([0-9a-f]{128})/.exec(run.serial);
          expect(line, run.serial).not.toBeNull();
          expect(Number(line![1])).toBe(bytes);
          expect(line![2]).toBe(digest);
          expect((await tsharkMatching(run.pcap, "ipv6 && tcp")).length, run.pcap).toBeGreaterThan(100);
          expect(await tsharkProblems(run.pcap), run.pcap).toEqual([]);
          runs.push(run);
        }
        expect(comparable(runs[1].serial)).toEqual(comparable(runs[0].serial));
        // both connections came from the IPv6 loopback, and the host saw the bytes too
        expect(received.map((r) => r.family)).toEqual(["IPv6", "IPv6"]);
        if (dir === "send") expect(received.map((r) => [r.length, r.digest])).toEqual([[bytes, digest], [bytes, digest]]);
      } finally {
        server.close();
      }
    }, 300_000);
  }

  it("serve over IPv6: the routes answer the same through hostfwd6 on this emulator and through our NAT on QEMU", async () => {
    const exchanges = [
      ["-X", "PUT", "--data-binary", "hello", "-H", "X-Date: 1700000000", "-H", "X-Author: alice", "-H", "X-Message: edit", "/tree/docs/readme"],
      ["/tree/docs/readme"],
      ["/tree/docs"],
      ["-X", "PUT", "--data-binary", "dev", "-H", "X-Date: 1700000001", "/branch/dev/tree/docs/readme"],
      ["-X", "PUT", "--data-binary", "main", "-H", "X-Date: 1700000002", "/tree/docs/readme"],
      ["-X", "POST", "/merge?from=dev&into=main"],
      ["-I", "/tree/docs/readme"],
      ["/no/such/route"],
    ];
    const answers: Record<Machine, string[]> = { qemu: [], emulator: [] };
    for (const machine of ["qemu", "emulator"] as const) {
      const port = await freeTcpPort6();
      const rule = `tcp:[::1]:${port}-:80`;
      const nat = machine === "qemu" ? await startExternalNat({ hostForwards: [parseHostForward6(rule)] }) : null;
      let listening!: () => void;
      const ready = new Promise<void>((resolve) => (listening = resolve));
      const run = boot(machine, `serve requests=${exchanges.length}`, join(workDir, `serve-${machine}.pcap`), {
        ...(nat ? { nicArgs: nat.qemuArgs } : { netdev: `,hostfwd6=${rule}` }),
        onSerial: (text) => {
          if (text.includes(`serve: listening on [${GUEST_GLOBAL}]:80`)) listening();
        },
      });
      try {
        await Promise.race([ready, run.then((r) => Promise.reject(new Error(`serve ended early:\n${r.serial}${r.stderr}`)))]);
        for (const exchange of exchanges) {
          const path = exchange[exchange.length - 1];
          const args = ["-g", "-s", "-6", "--max-time", "30", "-i", "-H", "Connection: close", ...exchange.slice(0, -1), `http://[::1]:${port}${path}`];
          // asynchronously: on QEMU the NAT answering curl runs in this process's event loop
          const output = await curl(args);
          // the Date header is the guest's wall clock
          answers[machine].push(output.replace(/^Date: .*\r\n/im, ""));
        }
        const result = await run;
        expect(result.status, result.serial + result.stderr).toBe(1);
        expect(result.serial).toContain(`serve: ${exchanges.length} requests served`);
        expect((await tsharkMatching(result.pcap, "ipv6 && tcp.port == 80")).length, result.pcap).toBeGreaterThan(20);
        expect(await tsharkProblems(result.pcap), result.pcap).toEqual([]);
      } finally {
        await nat?.close();
      }
    }
    expect(answers.qemu[1]).toMatch(/^HTTP\/1\.1 200 [^]*\r\n\r\nhello$/);
    expect(answers.qemu[5]).toContain("merge conflict");
    expect(answers.emulator).toEqual(answers.qemu);
  }, 300_000);
});

function curl(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile("curl", args, { encoding: "utf8" }, (error, stdout, stderr) => (error ? reject(new Error(`curl ${args.join(" ")}: ${error.message} ${stderr}`)) : resolve(stdout)));
  });
}

/** A TCP port free on the IPv6 loopback. */
function freeTcpPort6(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "::1", () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}
