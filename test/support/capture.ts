// Packet captures in the tests: the frames of a classic pcap file (what QEMU's filter-dump and
// our pcap tap write) and tshark's verdict on one, so that every network test checks captures
// with the same filter.
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";

/** The frames of a classic little-endian microsecond pcap file. */
export function readPcap(file: string): Uint8Array[] {
  const bytes = readFileSync(file);
  if (bytes.length < 24 || bytes.readUInt32LE(0) !== 0xa1b2c3d4) throw new Error(`${file}: not a little-endian microsecond pcap`);
  const frames: Uint8Array[] = [];
  for (let at = 24; at + 16 <= bytes.length; ) {
    const length = bytes.readUInt32LE(at + 8);
    frames.push(new Uint8Array(bytes.subarray(at + 16, at + 16 + length)));
    at += 16 + length;
  }
  return frames;
}

/** Malformed packets and bad checksums, IPv4 and IPv6 and what they carry. */
export const CAPTURE_PROBLEMS =
  "_ws.malformed || ip.checksum.status == \"Bad\" || tcp.checksum.status == \"Bad\" || udp.checksum.status == \"Bad\" || icmp.checksum.status == \"Bad\" || icmpv6.checksum.status == \"Bad\"";

/** The summary lines of the frames in `pcap` matching a tshark display filter (checksums verified). */
export function tsharkMatching(pcap: string, filter: string): Promise<string[]> {
  const args = ["-r", pcap, "-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE", "-Y", filter];
  return new Promise((resolve, reject) => {
    execFile("tshark", args, { encoding: "utf8", maxBuffer: 256 << 20, timeout: 120_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`tshark failed: ${stderr}`));
      else resolve(stdout.split("\n").filter((line) => line.trim() !== ""));
    });
  });
}

/** tshark's problems with a capture (CAPTURE_PROBLEMS): a well-formed capture gives []. */
export function tsharkProblems(pcap: string): Promise<string[]> {
  return tsharkMatching(pcap, CAPTURE_PROBLEMS);
}
