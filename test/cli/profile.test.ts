// Guest profiling: --profile / --profile-interval / --profile-top on the store bench, the .cpuprofile
// it writes read back with checks of the format written here (and a real V8 profile from
// `node --cpu-prof` through the same reader), file:line from a -g build against addr2line, the
// frame-pointer stacks (a known caller → callee pair; a walk over bad frames never throws or
// touches the guest), sampling that leaves the guest's execution exactly as it was, and the
// error cases (one "error: ..." line each).
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseElf } from "../../src/machine/elf.js";
import { parseMultibootKernel } from "../../src/machine/multiboot.js";
import { PcMachine } from "../../src/machine/pc.js";
import { parseCpuProfile, type CpuProfile, type ProfileNode } from "../../src/profile/cpuprofile.js";
import { readLineTable } from "../../src/profile/dwarf-line.js";
import { formatTopTable } from "../../src/profile/report.js";
import { GuestSampler, MAX_STACK_DEPTH } from "../../src/profile/sampler.js";
import { GuestSymbols } from "../../src/profile/symbols.js";
import { canBuildGuest, guestImage, repoRoot } from "../jit/support/guest-image.js";
import { hostHas } from "../support/host-tools.js";
import { runCli, runInProcess } from "./run-cli.js";

const BENCH = "bench commits=20 depth=8 tree_add=40";
const tmp = mkdtempSync(join(tmpdir(), "x64emu-profile-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The -g image: built incrementally in a directory of its own that later runs reuse. */
function debugImage(): string {
  const key = createHash("sha256").update(repoRoot).digest("hex").slice(0, 12);
  const image = join(tmpdir(), `x64emu-profile-tests-${key}`, "kernel-debug.elf");
  const result = spawnSync("bash", ["scripts/build-guest.sh", "--debug", image], { cwd: repoRoot, encoding: "utf8" });
  if (result.status !== 0) throw new Error(`build-guest --debug failed (status ${result.status}):\n${result.stdout}${result.stderr}`);
  return image;
}

/** Parent of every node, and the function names from the root to each node. */
function tree(profile: CpuProfile) {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const path = (id: number): string[] => {
    const names: string[] = [];
    for (let at: number | undefined = id; at !== undefined && parent.has(at); at = parent.get(at)) names.unshift(byId.get(at)!.callFrame.functionName);
    return names;
  };
  return { byId, parent, path };
}

/** The table's rows: self, share (%), total (%), compiled (% or "-"), function. */
function tableRows(text: string) {
  return text
    .split("\n")
    .map((line) => /^\s*(\d+)\s+([\d.]+)%\s+([\d.]+)%\s+(?:([\d.]+%|-)\s+)?(\S+)(?:\s+(\S+))?$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ self: Number(m[1]), share: Number(m[2]), total: Number(m[3]), compiled: m[4], name: m[5]!, location: m[6] }));
}

describe.skipIf(!canBuildGuest)("--profile on the store bench (JIT)", () => {
  let image = "";
  let debug = "";
  const file = join(tmp, "bench.cpuprofile");
  const debugFile = join(tmp, "bench-debug.cpuprofile");
  let run = { status: 0 as number | null, stdout: "", stderr: "" };
  let profile: CpuProfile;

  beforeAll(async () => {
    image = guestImage();
    debug = debugImage();
    run = await runInProcess([image, "--accel", "jit", "--append", BENCH, "--profile", file, "--profile-interval", "10000", "--profile-top", "12", "--stats"]);
    profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  }, 180_000);

  it("runs the guest as usual and prints the top table at exit", () => {
    expect(run.status, run.stderr).toBe(1); // the bench's success status
    expect(run.stdout).toContain("[run done]");
    expect(run.stderr).toMatch(/^profile: \d+ samples, 1 every 10000 of \d+ guest instructions on average \(accel jit, clock realtime, image /m);
    expect(run.stderr).toContain(`samples written to ${file}`);
    const rows = tableRows(run.stderr);
    expect(rows).toHaveLength(12);
    // BLAKE2b's compression function is where the bench spends most instructions, in compiled code
    expect(rows[0]!.name).toBe("blake2b_compress");
    expect(rows[0]!.share).toBeGreaterThan(30);
    expect(Number.parseFloat(rows[0]!.compiled!)).toBeGreaterThan(80);
    // and the tree code is among the top entries
    const names = rows.map((row) => row.name);
    expect(names.filter((name) => /^(tnode_|tentry_|irmin_tree_|descend_creating|irmin_step_compare)/.test(name)).length, names.join(" ")).toBeGreaterThanOrEqual(2);
    expect(names).toContain("blake2b_update");
  });

  it("the compiled share before the samples estimates the JIT's share of all instructions (--stats)", () => {
    const compiled = profile.x64emu!.compiled;
    expect(compiled.every((share) => share >= 0 && share <= 1)).toBe(true);
    const sampled = (100 * compiled.reduce((a, b) => a + b, 0)) / compiled.length;
    const stats = Number(/([\d.]+)% of instructions in JIT code/.exec(run.stderr)![1]);
    expect(Math.abs(sampled - stats), `sampled ${sampled}%, --stats ${stats}%`).toBeLessThan(4);
  });

  it("writes a .cpuprofile whose structure holds (ids, parent/child links, samples, time deltas)", () => {
    expect(profile.samples.length).toBeGreaterThan(500);
    const ids = profile.nodes.map((node) => node.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.every((id) => Number.isInteger(id) && id > 0)).toBe(true);
    const { byId, parent } = tree(profile);
    // one root, named as V8 names it; every child exists and has exactly one parent
    const roots = profile.nodes.filter((node) => !parent.has(node.id));
    expect(roots.map((node) => node.callFrame.functionName)).toEqual(["(root)"]);
    const parents = new Map<number, number>();
    for (const node of profile.nodes) {
      for (const child of node.children ?? []) {
        expect(byId.has(child)).toBe(true);
        expect(parents.has(child)).toBe(false);
        parents.set(child, node.id);
      }
      for (const key of ["functionName", "scriptId", "url", "lineNumber", "columnNumber"]) expect(node.callFrame).toHaveProperty(key);
      expect(typeof node.callFrame.scriptId).toBe("string");
    }
    expect(parents.size).toBe(profile.nodes.length - 1);
    // samples name existing nodes; hit counts are the samples per node; one delta per sample
    const hits = new Map<number, number>();
    for (const sample of profile.samples) {
      expect(byId.has(sample)).toBe(true);
      hits.set(sample, (hits.get(sample) ?? 0) + 1);
    }
    for (const node of profile.nodes) expect(node.hitCount).toBe(hits.get(node.id) ?? 0);
    expect(profile.timeDeltas).toHaveLength(profile.samples.length);
    expect(profile.timeDeltas.every((delta) => Number.isInteger(delta) && delta >= 0)).toBe(true);
    const sum = profile.timeDeltas.reduce((a, b) => a + b, 0);
    expect(profile.startTime + sum).toBeLessThanOrEqual(profile.endTime);
    // the time axis is guest instructions at 1 ns each: ~10 µs per sample at this interval
    expect(sum / profile.samples.length).toBeGreaterThan(5);
    expect(sum / profile.samples.length).toBeLessThan(20);
    // the guest's own record: one compiled flag per sample, and about one sample per interval
    const guest = profile.x64emu!;
    expect(guest.compiled).toHaveLength(profile.samples.length);
    expect(guest.interval).toBe(10000);
    expect(Math.abs(profile.samples.length - guest.instructions / guest.interval)).toBeLessThan(0.05 * profile.samples.length);
    // and our reader agrees
    expect(() => parseCpuProfile(readFileSync(file, "utf8"))).not.toThrow();
  });

  it("`profile FILE` prints the table from the file; the shares add up to 100%", async () => {
    const result = await runInProcess(["profile", file, "--top", "1000"]);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stderr).toBe("");
    const rows = tableRows(result.stdout);
    expect(rows.length).toBeGreaterThan(20);
    const withSelf = rows.filter((row) => row.self > 0);
    expect(withSelf.reduce((sum, row) => sum + row.self, 0)).toBe(profile.samples.length);
    const shares = withSelf.reduce((sum, row) => sum + row.share, 0);
    expect(Math.abs(shares - 100)).toBeLessThanOrEqual(0.05 * withSelf.length + 1e-9);
    expect(result.stdout).toContain("the rows above hold 100.0% of the samples");
    // the file's top entries are the ones printed at exit
    const top = await runInProcess(["profile", file, "--top", "12"]);
    expect(tableRows(top.stdout)).toEqual(tableRows(run.stderr));
  });

  it("the frame-pointer stacks reach the bench's fiber and contain known caller → callee pairs", () => {
    const { byId, parent, path } = tree(profile);
    const edge = (caller: string, callee: string) =>
      profile.nodes.some((node) => node.callFrame.functionName === callee && byId.get(parent.get(node.id)!)?.callFrame.functionName === caller);
    expect(edge("blake2b_update", "blake2b_compress")).toBe(true);
    expect(edge("blake2b_final", "blake2b_compress")).toBe(true);
    expect(edge("irmin_bench_run", "irmin_tree_add")).toBe(true);
    // nearly every sample's stack goes back to the workload's entry, through the fiber it runs in
    const paths = profile.samples.map(path);
    const inBench = paths.filter((names) => names.includes("irmin_bench_run") && names.includes("bench_fiber"));
    expect(inBench.length / paths.length).toBeGreaterThan(0.9);
    expect(Math.max(...paths.map((names) => names.length))).toBeLessThanOrEqual(MAX_STACK_DEPTH);
  });

  it("with a -g image, frames carry file:line (as addr2line reads them) and line ticks", async () => {
    const result = await runInProcess([debug, "--accel", "jit", "--append", BENCH, "--profile", debugFile, "--profile-interval", "10000"]);
    expect(result.status, result.stderr).toBe(1);
    const withLines = parseCpuProfile(readFileSync(debugFile, "utf8"));
    const compress = withLines.nodes.find((node) => node.callFrame.functionName === "blake2b_compress")!;
    expect(compress.callFrame.url).toBe("src/libos/irmin/blake2b.c");
    const symbol = parseElf(readFileSync(debug)).findSymbol("blake2b_compress")!;
    if (hostHas("addr2line")) {
      const oracle = execFileSync("addr2line", ["-e", debug, `0x${symbol.value.toString(16)}`], { encoding: "utf8" }).trim();
      expect(oracle.replace(/^\.\//, "").replace(/ \(discriminator \d+\)$/, "")).toBe(`${compress.callFrame.url}:${compress.callFrame.lineNumber + 1}`);
    }
    const source = readFileSync(join(repoRoot, "src/libos/irmin/blake2b.c"), "utf8").split("\n");
    expect(source[compress.callFrame.lineNumber - 1]).toMatch(/blake2b_compress\(/); // the '{' after the signature
    // DevTools' line-level view: the samples by source line of blake2b.c (its body, and the
    // helpers inlined into it from the same file); nearly every sample has one
    const nodes = withLines.nodes.filter((node) => node.callFrame.functionName === "blake2b_compress");
    const ticks = nodes.flatMap((node) => node.positionTicks ?? []);
    for (const { line, ticks: count } of ticks) {
      expect(line).toBeGreaterThanOrEqual(1);
      expect(line).toBeLessThanOrEqual(source.length);
      expect(count).toBeGreaterThan(0);
    }
    const hits = nodes.reduce((sum, node) => sum + node.hitCount, 0);
    const ticked = ticks.reduce((sum, tick) => sum + tick.ticks, 0);
    expect(ticked).toBeLessThanOrEqual(hits);
    expect(ticked).toBeGreaterThan(0.9 * hits);
    expect(ticks.some(({ line }) => line > compress.callFrame.lineNumber + 1)).toBe(true);
    const table = await runInProcess(["profile", debugFile, "--top", "5"]);
    expect(table.stdout).toMatch(/ blake2b_compress {2}src\/libos\/irmin\/blake2b\.c:\d+\n/);
  }, 120_000);

  it("under the interpreter, --profile-top alone: the table without the JIT column, and no file", async () => {
    const result = await runInProcess([image, "--accel", "interp", "--append", "bench commits=1 depth=1 tree_add=1", "--profile-top", "5", "--profile-interval", "2000"]);
    expect(result.status, result.stderr).toBe(1);
    expect(result.stderr).toMatch(/^profile: \d+ samples, 1 every 2000 of \d+ guest instructions on average \(accel interp, clock realtime, image /m);
    expect(result.stderr).toMatch(/^self {2}share {2}total {2}function$/m);
    expect(result.stderr).not.toContain("compiled");
    expect(result.stderr).not.toContain("written to");
    expect(tableRows(result.stderr)).toHaveLength(5);
  });

  it("the -g image holds the default image's code: only .debug_* sections differ", () => {
    const plain = parseElf(readFileSync(image)), withDebug = parseElf(readFileSync(debug));
    expect(plain.sections.some((s) => s.name.startsWith(".debug"))).toBe(false);
    expect(withDebug.sections.some((s) => s.name === ".debug_line")).toBe(true);
    for (const name of [".multiboot", ".text", ".rodata", ".data"]) {
      expect(Buffer.from(withDebug.sectionData(withDebug.findSection(name)!)).equals(Buffer.from(plain.sectionData(plain.findSection(name)!))), name).toBe(true);
    }
  });

  it("the -g build is reproducible: a build from scratch elsewhere gives the same bytes", () => {
    const fresh = join(tmp, "fresh", "kernel-debug.elf");
    const result = spawnSync("bash", ["scripts/build-guest.sh", "--debug", fresh], { cwd: repoRoot, encoding: "utf8" });
    expect(result.status, result.stderr).toBe(0);
    expect(readFileSync(fresh).equals(readFileSync(debug))).toBe(true);
  }, 120_000);

  it.skipIf(!hostHas("addr2line"))("the DWARF line table agrees with addr2line", () => {
    const elf = parseElf(readFileSync(debug));
    const lines = readLineTable(elf)!;
    expect(lines.size).toBeGreaterThan(1000);
    const text = elf.findSection(".text")!;
    const start = Number(text.addr);
    const addresses = Array.from({ length: 200 }, (_, i) => start + Math.floor((i * text.size) / 200));
    const oracle = execFileSync("addr2line", ["-e", debug, ...addresses.map((a) => `0x${a.toString(16)}`)], { encoding: "utf8" }).trim().split("\n");
    let compared = 0;
    addresses.forEach((address, i) => {
      const expected = oracle[i]!.replace(/ \(discriminator \d+\)$/, "");
      const ours = lines.lookup(address);
      if (expected.startsWith("??")) {
        expect(ours === null || ours.line === 0, `0x${address.toString(16)}`).toBe(true);
        return;
      }
      compared++;
      expect(`${ours?.file}:${ours?.line}`, `0x${address.toString(16)}`).toBe(expected.replace(/^\.\//, ""));
    });
    expect(compared).toBeGreaterThan(150);
  });
});

describe.skipIf(!canBuildGuest)("sampling leaves the guest as it was", () => {
  it("--clock virtual: the same state after the same instructions, with and without a sampler", () => {
    const bytes = readFileSync(guestImage());
    const symbols = GuestSymbols.fromElf(parseElf(bytes));
    const runFor = (sampled: boolean) => {
      let serial = "";
      const machine = new PcMachine({ clock: "virtual", accel: "jit", rtcBase: new Date("2024-01-01T00:00:00Z"), onSerialOutput: (chunk) => void (serial += Buffer.from(chunk).toString("latin1")) });
      machine.boot(parseMultibootKernel(bytes), "kernel.elf", BENCH);
      const sampler = sampled ? new GuestSampler(machine, 997, (a) => symbols.isCode(a)) : null;
      machine.sampler = sampler;
      const stop = machine.runSync({ maxInstructions: 33_000_000 });
      return { stop, serial, rip: machine.cpu.rip, regs: Array.from(machine.cpu.regs), flags: machine.cpu.getFlags(), samples: sampler?.finish().times.length ?? 0 };
    };
    const plain = runFor(false), sampled = runFor(true);
    expect(plain.stop.kind).toBe("instruction-limit");
    expect(sampled.samples).toBeGreaterThan(30_000);
    expect({ ...sampled, samples: 0 }).toEqual({ ...plain, samples: 0 });
  }, 120_000);

  it("a walk over bad frames stops where it must, never throws and writes nothing", () => {
    const machine = new PcMachine({ memoryMiB: 2, clock: "virtual" });
    const cpu = machine.cpu, memory = machine.memory;
    cpu.mode = 64;
    const code = (address: number) => address >= 0x100000 && address < 0x101000;
    const sampler = new GuestSampler(machine, 1, code);
    const set64 = (at: number, value: number) => memory.write64(at, value % 2 ** 32, Math.floor(value / 2 ** 32));
    const setReg = (index: number, value: number) => {
      cpu.regs[2 * index] = value % 2 ** 32 | 0;
      cpu.regs[2 * index + 1] = Math.floor(value / 2 ** 32) | 0;
    };
    const RSP = 4, RBP = 5;
    const walk = (rip: number, rsp: number, rbp: number, rbpHigh = 0): number[] => {
      cpu.rip = rip;
      setReg(RSP, rsp);
      setReg(RBP, rbp);
      if (rbpHigh !== 0) cpu.regs[2 * RBP + 1] = rbpHigh;
      const before = sampler.finish();
      const count = before.times.length;
      sampler.sample();
      const after = sampler.finish();
      expect(after.times.length).toBe(count + 1);
      return after.frames.slice(after.offsets[count], after.offsets[count + 1]);
    };
    memory.write8(0x100010, 0x90); // nop at the sampled RIP
    memory.write8(0x100020, 0x55); // push rbp: a function's first instruction
    set64(0x7f00, 0x100400); // [RSP] there: the return address
    // a good chain of three frames, ending at RBP 0
    set64(0x8000, 0x8100); set64(0x8008, 0x100100);
    set64(0x8100, 0x8200); set64(0x8108, 0x100200);
    set64(0x8200, 0); set64(0x8208, 0x100300);
    // a cycle
    set64(0x9000, 0x9100); set64(0x9008, 0x100100);
    set64(0x9100, 0x9000); set64(0x9108, 0x100200);
    // a return address outside the code
    set64(0xa000, 0xa100); set64(0xa008, 0x300000);
    // a chain longer than the bound
    for (let k = 0; k < 200; k++) {
      set64(0x20000 + 16 * k, 0x20000 + 16 * (k + 1));
      set64(0x20008 + 16 * k, 0x100500 + k);
    }
    const ramBefore = createHash("sha256").update(memory.ram).digest("hex");
    const retired = cpu.retired;

    expect(walk(0x100010, 0x7f00, 0x8000)).toEqual([0x100010, 0x1000ff, 0x1001ff, 0x1002ff]);
    // at push rbp the caller is found at [RSP], and RBP is still the caller's
    expect(walk(0x100020, 0x7f00, 0x8000)).toEqual([0x100020, 0x1003ff, 0x1000ff, 0x1001ff, 0x1002ff]);
    // the chain must go up the stack
    expect(walk(0x100010, 0x8f00, 0x9000)).toEqual([0x100010, 0x1000ff, 0x1001ff]);
    expect(walk(0x100010, 0x9f00, 0xa000)).toEqual([0x100010]);
    // bad frame pointers: zero, misaligned, below RSP, beyond RAM, non-canonical, negative
    expect(walk(0x100010, 0x7f00, 0)).toEqual([0x100010]);
    expect(walk(0x100010, 0x7f00, 0x8004)).toEqual([0x100010]);
    expect(walk(0x100010, 0x8100, 0x8000)).toEqual([0x100010]);
    expect(walk(0x100010, 0x7f00, 0x7fff000)).toEqual([0x100010]);
    expect(walk(0x100010, 0x7f00, 0x8000, 0x12345678)).toEqual([0x100010]);
    expect(walk(0x100010, 0x7f00, 0x8000, -1)).toEqual([0x100010]);
    expect(walk(0x100010, 0x1ff00, 0x20000)).toHaveLength(MAX_STACK_DEPTH);
    // a RIP where nothing is mapped: the RIP, then the chain as usual
    expect(walk(0x7ffffff000, 0x7f00, 0x8000)).toEqual([0x7ffffff000, 0x1000ff, 0x1001ff, 0x1002ff]);
    // in 32-bit mode: the RIP alone
    cpu.mode = 32;
    expect(walk(0x100010, 0x7f00, 0x8000)).toEqual([0x100010]);

    expect(createHash("sha256").update(memory.ram).digest("hex")).toBe(ramBefore);
    expect(cpu.retired).toBe(retired);
  });

  it("sample gaps average the interval, each within interval/2 .. 3·interval/2", () => {
    const machine = new PcMachine({ memoryMiB: 2, clock: "virtual" });
    const sampler = new GuestSampler(machine, 1000, () => false);
    let previous = 0;
    const gaps: number[] = [];
    for (let k = 0; k < 20_000; k++) {
      const next = sampler.nextSample;
      gaps.push(next - previous);
      previous = next;
      machine.cpu.retired = next;
      sampler.sample();
    }
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(500);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(1500);
    const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
    expect(Math.abs(mean - 1000)).toBeLessThan(10);
  });
});

describe("`profile` on other profiles and the table's columns", () => {
  it("reads a V8 profile written by node --cpu-prof (no JIT column)", async () => {
    const dir = join(tmp, "node-prof");
    execFileSync(process.execPath, ["--cpu-prof", `--cpu-prof-dir=${dir}`, "-e", "let s = 0; for (let i = 0; i < 3e7; i++) s += i % 7; console.log(s)"], { stdio: "ignore" });
    const written = join(dir, readdirSync(dir)[0]!);
    const result = await runInProcess(["profile", written, "--top", "5"]);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^profile .*: \d+ samples over [\d.]+ s\nself +share +total +function\n/);
    expect(tableRows(result.stdout).length).toBeGreaterThan(0);
  });

  it("shows the JIT column for jit and check profiles only", () => {
    const profile = (accel: string): CpuProfile => ({
      nodes: [
        { id: 1, callFrame: { functionName: "(root)", scriptId: "0", url: "", lineNumber: -1, columnNumber: -1 }, hitCount: 0, children: [2] },
        { id: 2, callFrame: { functionName: "main", scriptId: "0", url: "", lineNumber: -1, columnNumber: -1 }, hitCount: 2, children: [3] },
        { id: 3, callFrame: { functionName: "leaf", scriptId: "1", url: "a.c", lineNumber: 9, columnNumber: 0 }, hitCount: 1 },
      ] satisfies ProfileNode[],
      startTime: 0, endTime: 30, samples: [2, 3, 2], timeDeltas: [10, 10, 10],
      x64emu: { version: 1, image: "k.elf", accel, clock: "virtual", interval: 10, instructions: 30, compiled: [1, 1, 0] },
    });
    expect(formatTopTable(profile("jit"), 10)).toBe(
      "profile: 3 samples, 1 every 10 of 30 guest instructions on average (accel jit, clock virtual, image k.elf)\n" +
        "self  share   total  compiled  function\n" +
        "   2  66.7%  100.0%     50.0%  main\n" +
        "   1  33.3%   33.3%    100.0%  leaf  a.c:10\n" +
        "(2 of 2 functions; 2 with self samples; the rows above hold 100.0% of the samples)\n" +
        "compiled: the share of the instructions before a function's samples that ran as compiled JIT code (66.7% over all samples)\n",
    );
    expect(formatTopTable(profile("interp"), 1)).toBe(
      "profile: 3 samples, 1 every 10 of 30 guest instructions on average (accel interp, clock virtual, image k.elf)\n" +
        "self  share   total  function\n" +
        "   2  66.7%  100.0%  main\n" +
        "(1 of 2 functions; 2 with self samples; the rows above hold 66.7% of the samples)\n",
    );
  });
});

describe("bad input: one error line", () => {
  const write = (name: string, content: string) => {
    const path = join(tmp, name);
    writeFileSync(path, content);
    return path;
  };
  const node = (id: number, children?: number[]) => ({ id, callFrame: { functionName: `f${id}`, scriptId: "0", url: "", lineNumber: -1, columnNumber: -1 }, hitCount: 0, ...(children ? { children } : {}) });
  const profileText = (fields: Record<string, unknown>) => JSON.stringify({ nodes: [node(1, [2]), node(2)], startTime: 0, endTime: 10, samples: [2], timeDeltas: [1], ...fields });
  const cases: Array<[string, () => string[], RegExp, number]> = [
    ["a missing profile", () => ["profile", join(tmp, "missing.cpuprofile")], /^error: .*missing\.cpuprofile: no such file$/, 1],
    ["a directory", () => ["profile", tmp], /^error: .*: is a directory$/, 1],
    ["not JSON", () => ["profile", write("text.cpuprofile", "hello")], /^error: .*text\.cpuprofile: not JSON \(/, 1],
    ["JSON without nodes", () => ["profile", write("empty.cpuprofile", "{}")], /^error: .*empty\.cpuprofile: not a \.cpuprofile: no 'nodes' array$/, 1],
    ["a child that does not exist", () => ["profile", write("child.cpuprofile", profileText({ nodes: [node(1, [2, 7]), node(2)] }))], /^error: .*: node 1: child 7 does not exist$/, 1],
    ["a node with two parents", () => ["profile", write("parents.cpuprofile", profileText({ nodes: [node(1, [2, 3]), node(2, [3]), node(3)] }))], /^error: .*: node 3 has two parents \(1 and 2\)$/, 1],
    ["a cycle", () => ["profile", write("cycle.cpuprofile", profileText({ nodes: [node(1, [2]), node(2, [3]), node(3, [2])] }))], /^error: .*: node 2 has two parents|not reachable/, 1],
    ["a sample naming no node", () => ["profile", write("sample.cpuprofile", profileText({ samples: [9] }))], /^error: .*: sample 0 names node 9, which does not exist$/, 1],
    ["fewer time deltas than samples", () => ["profile", write("deltas.cpuprofile", profileText({ timeDeltas: [] }))], /^error: .*: 1 samples but 0 timeDeltas$/, 1],
    ["a duplicate node id", () => ["profile", write("dup.cpuprofile", profileText({ nodes: [node(1, [2]), node(2), node(2)] }))], /^error: .*: node 2: duplicate id 2$/, 1],
    ["x64emu shares of the wrong length", () => ["profile", write("flags.cpuprofile", profileText({ x64emu: { interval: 10, compiled: [] } }))], /^error: .*: 'x64emu\.compiled' has 0 entries for 1 samples$/, 1],
    ["an x64emu share above 1", () => ["profile", write("share.cpuprofile", profileText({ x64emu: { interval: 10, compiled: [1.5] } }))], /^error: .*: 'x64emu\.compiled' must hold numbers from 0 to 1$/, 1],
    ["profile without a file", () => ["profile"], /^error: missing required argument 'file'$/, 2],
    ["profile --top 0", () => ["profile", write("ok.cpuprofile", profileText({})), "--top", "0"], /^error: --top: expected a positive integer, got "0"$/, 2],
    ["--profile-interval 0", () => ["--profile", join(tmp, "x.cpuprofile"), "--profile-interval", "0"], /^error: --profile-interval: expected a positive integer, got "0"$/, 2],
    ["--profile-interval alone", () => ["--profile-interval", "1000"], /^error: --profile-interval: give --profile FILE or --profile-top N too$/, 2],
    ["--profile-top x", () => ["--profile-top", "x"], /^error: --profile-top: expected a positive integer, got "x"$/, 2],
    ["--profile into a missing directory", () => ["--profile", join(tmp, "no", "such", "dir.cpuprofile")], /^error: --profile: cannot write into .*no\/such: no such file$/, 1],
    ["--profile naming a directory", () => ["--profile", tmp], /^error: --profile: .*: is a directory$/, 1],
  ];
  for (const [name, args, message, status] of cases) {
    it(name, async () => {
      const result = await runInProcess(args());
      expect(result.status, result.stderr).toBe(status);
      expect(result.stdout).toBe("");
      const lines = result.stderr.split("\n");
      expect(lines, result.stderr).toHaveLength(2);
      expect(lines[0]).toMatch(message);
    });
  }

  it.skipIf(!canBuildGuest || !hostHas("objcopy", ["--version"]))("--profile with an image without symbols, before the guest runs (child process)", async () => {
    const stripped = join(tmp, "stripped.elf");
    execFileSync("objcopy", ["--strip-all", guestImage(), stripped]);
    const result = await runCli([stripped, "--profile", join(tmp, "never.cpuprofile")]);
    expect(result.status).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toBe(`error: ${stripped}: --profile needs the image's ELF symbols: no function symbols (the image has no .symtab, or it was stripped)\n`);
  });

  it("a malformed profile (child process: the real status, nothing but the line)", async () => {
    const result = await runCli(["profile", write("broken.cpuprofile", '{"nodes": [')]);
    expect(result.status).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toMatch(/^error: .*broken\.cpuprofile: not JSON \([^\n]*\)\n$/);
  });
});
