// The guest network stack's layers below TCP (src/libos/net: ARP, IPv4 and reassembly, ICMP,
// UDP, the DHCP client) through the native build with ASan and UBSan (test/net/native.ts):
// scripted exchanges with exact expectations on every frame the stack sends (stack_tests.c,
// dhcp_tests.c) and the frame fuzzer (stack_fuzz.c: NET_FUZZ_FRAMES frames, default 100000,
// NET_FUZZ_SEED). Each C test is one vitest case; a group's case "runs cleanly" also fails on a
// sanitizer report, a leak or a crash, with the program's output.

import { describe, expect, it } from "vitest";
import { hasGcc, type NetGroupRun, runNetGroup } from "./native.js";

const GROUPS: Record<string, number> = { stack: 38, dhcp: 8, frames: 4 }; // at least this many tests

// The groups run in parallel while vitest collects the cases.
const runs: NetGroupRun[] = hasGcc ? await Promise.all(Object.keys(GROUPS).map((group) => runNetGroup(group))) : [];

describe.runIf(hasGcc)("network stack below TCP (native build, ASan + UBSan)", () => {
  for (const run of runs) {
    describe(run.group, () => {
      it("runs cleanly", () => {
        const output = `${run.stdout}\n${run.stderr}`.slice(-20000);
        expect(run.summary, output).toBe(`summary passed=${run.results.length} failed=0`);
        expect(run.status, output).toBe(0);
        expect(run.stderr, output).not.toMatch(/Sanitizer|runtime error/);
        expect(run.results.length).toBeGreaterThanOrEqual(GROUPS[run.group]);
      });
      for (const result of run.results) {
        it(result.name.slice(run.group.length + 1), () => {
          expect(result.ok, result.line).toBe(true);
        });
      }
    });
  }
});
