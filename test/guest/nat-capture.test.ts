// The NAT's own packets — the DHCP OFFER and ACK, the ARP reply for 10.0.2.2, the ICMP echo replies
// — in this emulator's capture are the bytes of QEMU 7.2's filter-dump capture of the same guest
// (`ping`), booted from the same command line on both, the program name aside (and --stats on
// ours). IPv4 identification and checksums aside, as the issue allows, and the DHCP transaction id,
// which the guest draws at random each boot (checked instead to echo the guest's own).
import { spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readPcap } from "../support/capture.js";
import { buildGuestImage, hasQemu, repoRoot } from "./support/boot.js";

const NAT_MAC = "52550a000202"; // 52:55:0a:00:02:02, slirp's MAC for 10.0.2.2
const NAT6_MAC = "525600000002"; // 52:56:00:00:00:02, slirp's MAC for fe80::2
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

/** Boots `ping` on `machine` with a capture; resolves with its frames and the exit status. */
async function capturePing(machine: "qemu" | "emulator", image: string, pcap: string): Promise<{ status: number | null; frames: Uint8Array[]; serial: string; stderr: string }> {
  // prettier-ignore
  const common = [
    "-machine", "q35", "-m", "512", "-nodefaults", "-display", "none", "-serial", "stdio", "-no-reboot",
    "-kernel", image, "-append", "ping host=10.0.2.2 count=3 interval_ms=50", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
    "-netdev", "user,id=n0", "-device", "virtio-net-pci,netdev=n0", "-object", `filter-dump,id=f0,netdev=n0,file=${pcap}`,
  ];
  const child = machine === "qemu"
    ? spawn("qemu-system-x86_64", ["-accel", "tcg", ...common], { cwd: repoRoot, stdio: ["ignore", "pipe", "ignore"] })
    : spawn(process.execPath, ["--import", "tsx", "src/cli.ts", "-accel", "kvm", "--stats", ...common], { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] });
  let serial = "", stderr = "";
  child.stdout!.on("data", (chunk) => (serial += chunk));
  child.stderr?.on("data", (chunk) => (stderr += chunk));
  const killer = setTimeout(() => child.kill("SIGKILL"), 90_000);
  const status = await new Promise<number | null>((resolve) => child.on("close", resolve));
  clearTimeout(killer);
  return { status, frames: readPcap(pcap), serial, stderr };
}

/**
 * The NAT's frames in order, with the fields that may differ between two boots set to zero: IPv4
 * identification and header checksum, the UDP and ICMP checksums, and a DHCP reply's transaction
 * id (after checking that it is the one of the guest's latest DHCP request before it).
 */
function natFrames(frames: Uint8Array[]): string[] {
  const out: string[] = [];
  let guestXid = "";
  for (const original of frames) {
    const frame = new Uint8Array(original);
    const fromNat = hex(frame.subarray(6, 12)) === NAT_MAC;
    const ethertype = (frame[12] << 8) | frame[13];
    if (ethertype === 0x0800) {
      const ihl = (frame[14] & 15) * 4;
      const protocol = frame[23];
      const l4 = 14 + ihl;
      const udpPorts = protocol === 17 ? `${(frame[l4] << 8) | frame[l4 + 1]}>${(frame[l4 + 2] << 8) | frame[l4 + 3]}` : "";
      const dhcp = udpPorts === "68>67" || udpPorts === "67>68";
      if (!fromNat) {
        if (dhcp) guestXid = hex(frame.subarray(l4 + 8 + 4, l4 + 8 + 8));
        continue;
      }
      frame.fill(0, 18, 20); // identification
      frame.fill(0, 24, 26); // header checksum
      if (protocol === 17) frame.fill(0, l4 + 6, l4 + 8);
      if (protocol === 1) frame.fill(0, l4 + 2, l4 + 4);
      if (dhcp) {
        expect(hex(frame.subarray(l4 + 8 + 4, l4 + 8 + 8)), "a DHCP reply echoes the guest's transaction id").toBe(guestXid);
        frame.fill(0, l4 + 8 + 4, l4 + 8 + 8);
      }
    } else if (!fromNat) continue;
    out.push(hex(frame));
  }
  return out;
}

describe.runIf(hasQemu)("the NAT's packets in a capture of the same guest", () => {
  let workDir = "";
  let image = "";
  beforeAll(async () => {
    ({ workDir, image } = await buildGuestImage("x64emu-nat-capture-"));
  }, 180_000);
  afterAll(() => {
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  it("DHCP, ARP and ICMP from this emulator's NAT are QEMU's bytes (identification, checksums and the DHCP xid aside)", async () => {
    const qemu = await capturePing("qemu", image, join(workDir, "qemu.pcap"));
    const ours = await capturePing("emulator", image, join(workDir, "ours.pcap"));
    expect(qemu.status, qemu.serial).toBe(1);
    expect(ours.status, ours.serial).toBe(1);
    const theirs = natFrames(qemu.frames);
    // OFFER, ACK, the ARP reply, three echo replies
    expect(theirs.length).toBe(6);
    expect(natFrames(ours.frames)).toEqual(theirs);
    // --stats (ours only) counts what the capture holds: those six frames and the router
    // advertisement that answers the guest's IPv6 router solicitation (test/guest/ipv6.test.ts
    // compares the IPv6 frames), none dropped
    const fromNat = ours.frames.filter((frame) => [NAT_MAC, NAT6_MAC].includes(hex(frame.subarray(6, 12)))).length;
    expect(fromNat).toBe(7);
    const counters = /^stats: netdev n0: (.*)$/m.exec(ours.stderr)?.[1] ?? "";
    expect(counters, ours.stderr).toMatch(new RegExp(`(^|, )frames-to-guest ${fromNat}(,|$)`));
    expect(counters).not.toMatch(/drop\./);
  }, 240_000);
});
