// Our NAT against replies recorded from real QEMU 7.2 + libslirp 4.7 (fixtures/slirp-4.7-replies.json,
// recorded by support/record-slirp-fixture.ts): DHCP offers, acks and naks, ARP replies, ICMP echo
// replies (fragmented or not), ICMP errors, TCP resets, restrict=on. Every reply must be the same
// bytes, IP identification and checksums included (both NATs count ids from 0, one counter).
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { UserNetBackend } from "../../../src/machine/net/slirp.js";
import { FakeDevice } from "./support/fake-device.js";
import { referenceScenarios } from "./support/reference-script.js";

interface RecordedStep {
  name: string;
  sent: string[];
  replies: string[];
}

const fixture = JSON.parse(readFileSync(new URL("./fixtures/slirp-4.7-replies.json", import.meta.url), "utf8")) as {
  scenarios: Array<{ name: string; steps: RecordedStep[] }>;
};
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

describe("replies byte-identical to libslirp 4.7's (recorded fixture)", () => {
  for (const scenario of referenceScenarios) {
    const recorded = fixture.scenarios.find((entry) => entry.name === scenario.name)!;

    it(`${scenario.name}: ${scenario.steps.length} steps`, () => {
      const device = new FakeDevice();
      const nat = new UserNetBackend({ restrict: scenario.restrict, wake: device.wake });
      nat.attach(device);
      try {
        expect(recorded.steps.map((step) => step.name)).toEqual(scenario.steps.map((step) => step.name));
        scenario.steps.forEach((step, index) => {
          // the script and the fixture must be about the same frames
          expect(step.frames.map(hex), step.name).toEqual(recorded.steps[index].sent);
          const from = device.frames.length;
          for (const frame of step.frames) nat.receiveFromGuest(frame);
          expect(device.frames.slice(from).map(hex), step.name).toEqual(recorded.steps[index].replies);
        });
        expect(nat.stats()["internal-error"]).toBeUndefined();
      } finally {
        nat.close();
      }
    });
  }
});
