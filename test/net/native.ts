// The network stack's native test program: compiles the portable stack (src/libos/net: stack.c,
// arp.c, ipv4.c, icmp.c, udp.c, dhcp.c, ip_addr.c, ip_output.c, ..., tcp/, wire/) with the C tests
// in test/net under gcc with ASan and UBSan, cached by source hash under build/net/, and runs its
// groups (TCP: wire, script, link, fuzz; the other layers: stack, dhcp, frames; addresses: addr;
// IPv6, ICMPv6, NDP, SLAAC: ipv6).
//
// `tsx test/net/native.ts [GROUP [FILTER]]` builds it and runs a group (default: all), printing
// the program's output; NET_LINK_SEEDS, NET_FUZZ_SEGMENTS and NET_FUZZ_FRAMES make the long runs
// longer.

import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { buildCached } from "../../src/bench/cached-build.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, "../..");
const LIBOS = join(ROOT, "src/libos");
const BUILD_DIR = join(ROOT, "build/net");

export const hasGcc = spawnSync("gcc", ["--version"]).status === 0;

export const GCC_FLAGS = [
  "-std=gnu11",
  "-O1",
  "-g",
  "-fsanitize=address,undefined",
  "-fno-sanitize-recover=all",
  "-Wall",
  "-Wextra",
  "-Werror",
  "-I",
  LIBOS,
];

// The stack's portable files (the rest of src/libos/net is drivers, glue and fiber sockets).
const PORTABLE_STACK = ["stack.c", "arp.c", "ipv4.c", "icmp.c", "udp.c", "dhcp.c", "ipv6.c", "icmpv6.c", "ip_addr.c", "ip_output.c", "ndp.c", "slaac.c"];
const PORTABLE_HEADERS = ["net_env.h", "stack.h", "stack_internal.h", "dhcp.h", "ip_addr.h"];

function filesIn(dir: string, extensions: string[]): string[] {
  return readdirSync(dir)
    .filter((name) => extensions.some((extension) => name.endsWith(extension)))
    .sort()
    .map((name) => join(dir, name));
}

function sources(): { compile: string[]; all: string[] } {
  const compile = [
    ...PORTABLE_STACK.map((name) => join(LIBOS, "net", name)),
    join(LIBOS, "base/err.c"),
    ...filesIn(join(LIBOS, "net/tcp"), [".c"]),
    ...filesIn(join(LIBOS, "net/wire"), [".c"]),
    ...filesIn(HERE, [".c"]),
  ];
  const headers = [
    ...filesIn(join(LIBOS, "net/tcp"), [".h"]),
    ...filesIn(join(LIBOS, "net/wire"), [".h"]),
    ...PORTABLE_HEADERS.map((name) => join(LIBOS, "net", name)),
    ...filesIn(join(LIBOS, "base"), [".h"]),
    ...filesIn(HERE, [".h"]),
  ];
  return { compile, all: [...compile, ...headers] };
}

let cachedBinary: string | undefined;

/** Builds the test program once per source version and returns its path. */
export function buildNetTests(): string {
  if (cachedBinary && existsSync(cachedBinary)) return cachedBinary;
  const { compile, all } = sources();
  cachedBinary = buildCached({
    what: "net native build", buildDir: BUILD_DIR, prefix: "net-tests", flags: GCC_FLAGS, compile, all, linkArgs: ["-lm"],
    flagsKey: GCC_FLAGS.map((flag) => (flag === LIBOS ? "src/libos" : flag)).join(" "),
    nameOf: (file) => relative(ROOT, file),
  });
  return cachedBinary;
}

export interface NetTestResult {
  name: string;
  ok: boolean;
  line: string;
}

export interface NetGroupRun {
  group: string;
  results: NetTestResult[];
  notes: string[];
  summary: string;
  status: number | null;
  stdout: string;
  stderr: string;
  milliseconds: number;
}

/** Runs one group (or "all") and parses its "ok N group/name" lines. */
export function runNetGroup(group: string, filter?: string, env: NodeJS.ProcessEnv = {}): Promise<NetGroupRun> {
  const binary = buildNetTests();
  const started = Date.now();
  return new Promise((resolvePromise, reject) => {
    const child = spawn(binary, filter === undefined ? [group] : [group, filter], {
      env: { ...process.env, ASAN_OPTIONS: "detect_leaks=1:abort_on_error=0", ...env },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (status) => {
      const results: NetTestResult[] = [];
      const notes: string[] = [];
      let summary = "";
      for (const line of stdout.split("\n")) {
        const match = /^(ok|not ok) \d+ ([^: ]+)/.exec(line);
        if (match) results.push({ name: match[2], ok: match[1] === "ok", line });
        if (line.startsWith("# ")) notes.push(line.slice(2));
        if (line.startsWith("summary ")) summary = line;
      }
      resolvePromise({ group, results, notes, summary, status, stdout, stderr, milliseconds: Date.now() - started });
    });
  });
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const run = await runNetGroup(process.argv[2] ?? "all", process.argv[3]);
  process.stdout.write(run.stdout);
  process.stderr.write(run.stderr);
  console.log(`(${run.milliseconds} ms, ${buildNetTests()})`);
  process.exitCode = run.status ?? 1;
}

/**
 * Runs the native groups (in parallel, while vitest collects) and defines their cases inside the
 * current describe: per group, "runs cleanly" (also fails on a sanitizer report, a leak or a
 * crash, with the program's output, and when fewer than the expected tests ran), then one case
 * per C test.
 */
export async function describeNetGroups(title: string, groups: Record<string, number>): Promise<void> {
  const runs: NetGroupRun[] = hasGcc ? await Promise.all(Object.keys(groups).map((group) => runNetGroup(group))) : [];
  describe.runIf(hasGcc)(title, () => {
    for (const run of runs) {
      describe(run.group, () => {
        it("runs cleanly", () => {
          const output = `${run.stdout}\n${run.stderr}`.slice(-20000);
          expect(run.summary, output).toBe(`summary passed=${run.results.length} failed=0`);
          expect(run.status, output).toBe(0);
          expect(run.stderr, output).not.toMatch(/Sanitizer|runtime error/);
          expect(run.results.length).toBeGreaterThanOrEqual(groups[run.group]);
        });
        for (const result of run.results) {
          it(result.name.slice(run.group.length + 1), () => {
            expect(result.ok, result.line).toBe(true);
          });
        }
      });
    }
  });
}
