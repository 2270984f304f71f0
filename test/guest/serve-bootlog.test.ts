// The `serve` workload's boot log — PCI scan, the virtio-net line, the DHCP lease, "listening" —
// is the same on real QEMU 7.2 with -netdev user and on this emulator with its own virtio-net-pci
// and NAT, from the same command line (the program name aside), apart from the timing lines
// ("time:", docs/guest.md). One request through hostfwd then ends each run (requests=1).
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hasQemu, normalized, repoRoot } from "./support/boot.js";

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Boots serve requests=1 on `machine`, sends one GET when it listens; resolves with the serial output and status. */
async function serveOnce(machine: "qemu" | "emulator", image: string): Promise<{ status: number | null; serial: string }> {
  const port = await freePort();
  // prettier-ignore
  const common = [
    "-machine", "q35", "-m", "512", "-nodefaults", "-display", "none", "-serial", "stdio", "-no-reboot",
    "-kernel", image, "-append", "serve requests=1", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
    "-netdev", `user,id=n0,hostfwd=tcp:127.0.0.1:${port}-:80`, "-device", "virtio-net-pci,netdev=n0",
  ];
  const child = machine === "qemu"
    ? spawn("qemu-system-x86_64", ["-accel", "tcg", ...common], { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] })
    : spawn(process.execPath, ["--import", "tsx", "src/cli.ts", "-accel", "kvm", ...common], { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] });
  let serial = "";
  child.stdout!.on("data", (chunk) => (serial += chunk));
  const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
  const killer = setTimeout(() => child.kill("SIGKILL"), 90_000);
  try {
    const deadline = Date.now() + 60_000;
    while (!serial.includes("serve: listening on") && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
    const response = await fetch(`http://127.0.0.1:${port}/head`);
    expect(response.status).toBe(404); // an empty store
    await response.text();
    return { status: await exited, serial };
  } finally {
    clearTimeout(killer);
    if (child.exitCode === null) child.kill("SIGKILL");
  }
}

describe.runIf(hasQemu)("the serve workload's boot log", () => {
  let workDir = "";
  let image = "";
  beforeAll(() => {
    workDir = mkdtempSync(join(tmpdir(), "x64emu-serve-bootlog-"));
    image = relative(repoRoot, join(workDir, "kernel.elf"));
    execFileSync("bash", ["scripts/build-guest.sh", image], { cwd: repoRoot, stdio: "ignore" });
  }, 180_000);
  afterAll(() => {
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  it("is the same on QEMU and on this emulator (DHCP lease included), timing lines aside", async () => {
    const qemu = await serveOnce("qemu", image);
    const ours = await serveOnce("emulator", image);
    expect(qemu.status, qemu.serial).toBe(1);
    expect(ours.status, ours.serial).toBe(1);
    // up to the listening line: after it come traffic counters, which depend on packet timing
    const bootLog = (serial: string) => {
      const lines = normalized(serial);
      return lines.slice(0, lines.findIndex((line) => line.startsWith("serve: listening on")) + 1);
    };
    expect(bootLog(ours.serial)).toEqual(bootLog(qemu.serial));
    expect(bootLog(qemu.serial).join("\n")).toMatch(/\[INFO\] net: eth0 10\.0\.2\.15\/24 gw 10\.0\.2\.2 dns 10\.0\.2\.3 \(dhcp from 10\.0\.2\.2/);
    expect(ours.serial).toMatch(/serve: 1 requests served/);
  }, 240_000);
});
