// Records fixtures/slirp-4.7-replies.json from real QEMU 7.2 + libslirp 4.7 (qemu-slirp.ts):
//   npx tsx test/machine/net/support/record-slirp-fixture.ts
// For each scenario of reference-script.ts, a fresh QEMU; for each step, its frames and every frame
// slirp sent within 400 ms, with the hub's padding to 60 bytes removed (a virtio-net NIC gets
// unpadded frames: QEMU pads only for peers that ask for it).
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { startQemuSlirp } from "./qemu-slirp.js";
import { referenceScenarios } from "./reference-script.js";
import { unpad } from "./unpad.js";

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

const output: unknown[] = [];
for (const scenario of referenceScenarios) {
  const qemu = await startQemuSlirp(scenario.netdev);
  const steps = [];
  for (const step of scenario.steps) {
    const from = qemu.frames.length;
    for (const frame of step.frames) qemu.send(frame);
    await sleep(400);
    steps.push({ name: step.name, sent: step.frames.map(hex), replies: qemu.frames.slice(from).map((frame) => hex(unpad(frame))) });
  }
  await qemu.close();
  output.push({ name: scenario.name, steps });
}
const file = fileURLToPath(new URL("../fixtures/slirp-4.7-replies.json", import.meta.url));
writeFileSync(file, JSON.stringify({ recorded: "qemu-system-x86_64 7.2 (Debian 1:7.2+dfsg-7+deb12u18) with libslirp 4.7.0, -machine none, user netdev on a hub with a UDP socket netdev", scenarios: output }, null, 1) + "\n");
console.log(`wrote ${file}`);
