// The store's C unit tests (test/irmin/native_tests.c), one vitest case each, and the bench's
// output format, all through the native Linux build.

import { describe, expect, it } from "vitest";
import { hasGcc, runNative, runNativeBench } from "./native.js";

interface UnitResult {
  name: string;
  ok: boolean;
  line: string;
}

function unitResults(): { results: UnitResult[]; summary: string; status: number | null } {
  const run = runNative(["unit"]);
  const results: UnitResult[] = [];
  let summary = "";
  for (const line of run.stdout.split("\n")) {
    const match = /^(ok|not ok) \d+ ([^:]+)/.exec(line);
    if (match) results.push({ name: match[2], ok: match[1] === "ok", line });
    if (line.startsWith("summary ")) summary = line;
  }
  if (summary === "") throw new Error(`native unit stopped early (status ${run.status}):\n${run.stdout}${run.stderr}`);
  return { results, summary, status: run.status };
}

describe.runIf(hasGcc)("store unit tests (native build)", () => {
  // Collected even when skipped, so only run the binary when it can be built.
  const { results, summary, status } = hasGcc ? unitResults() : { results: [], summary: "", status: null };

  it("runs them all", () => {
    expect(results.length).toBeGreaterThanOrEqual(30);
    expect(summary).toBe(`summary passed=${results.length} failed=0`);
    expect(status).toBe(0);
  });

  for (const result of results) {
    it(result.name, () => {
      expect(result.ok, result.line).toBe(true);
    });
  }
});

describe.runIf(hasGcc)("bench output (native build)", () => {
  it("prints the seed's progress lines, gc points, the head and object counts", () => {
    const bench = runNativeBench({ ncommits: 12, depth: 4, treeAdd: 6, display: 4, gc: 5 });
    const heap = "store heap \\d+ bytes, heap in use \\d+ bytes";
    expect(bench.output).toMatch(
      new RegExp(
        "^\\[init done\\]\n" +
          "\rcommits:    4/12\n" +
          `\\[gc\\] commit 5: ${heap}\n` +
          "\rcommits:    8/12\n" +
          `\\[gc\\] commit 10: ${heap}\n` +
          "\rcommits:   12/12\n" +
          "\\[run done\\]\n" +
          `head: ${bench.head}\n` +
          "objects: contents=13 nodes=65 commits=13\n" +
          "time: init=\\d+ ms run=\\d+ ms\n$",
      ),
    );
  });

  it("gives the same head with and without clearing caches", () => {
    const cleared = runNativeBench({ ncommits: 6, depth: 5, treeAdd: 7, clear: true });
    const kept = runNativeBench({ ncommits: 6, depth: 5, treeAdd: 7, clear: false });
    expect(kept.head).toBe(cleared.head);
  });

  it("reports bad parameters", () => {
    const run = runNative(["bench", "gc=0"]);
    expect(run.status).toBe(1);
    expect(run.stdout).toContain("error: bench: gc must be at least 1");
    const unknown = runNative(["bench", "colour=blue"]);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain("colour=blue: unknown key");
  });
});
