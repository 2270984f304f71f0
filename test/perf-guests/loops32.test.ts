// The loops32 guest of perf/v86.bench.ts (perf/support/loops32/): built with gcc -m32 from C, booted
// as a 32-bit multiboot kernel on our interpreter and JIT (the CLI's main() in-process), on QEMU and
// on v86 with and without its JIT when they are installed; every engine's checksum must equal the
// one computed here with BigInts, independently of the guest's C.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildLoops32, loops32Result, type Loops32Workload } from "../../perf/support/loops32.js";
import { v86RunnerCommand, v86Version } from "../../perf/support/v86.js";
import { runInProcess } from "../cli/run-cli.js";
import { hostHas } from "../support/host-tools.js";

const MASK64 = (1n << 64n) - 1n;

/** xorshift64 (13, 7, 17) from Marsaglia's seed; the 64-bit sum of the states after each step. */
function referenceReg(iterations: number): bigint {
  let state = 88172645463325252n;
  let sum = 0n;
  for (let i = 0; i < iterations; i++) {
    state ^= (state << 13n) & MASK64;
    state ^= state >> 7n;
    state ^= (state << 17n) & MASK64;
    sum = (sum + state) & MASK64;
  }
  return sum;
}

/** The guest's 64 KiB buffer: byte i is the low byte of the (i+1)-th xorshift32 (13, 17, 5) state from 2463534242. */
function referenceBuffer(): Uint8Array {
  const bytes = new Uint8Array(65536);
  let state = 2463534242;
  for (let i = 0; i < bytes.length; i++) {
    state = (state ^ (state << 13)) >>> 0;
    state = (state ^ (state >>> 17)) >>> 0;
    state = (state ^ (state << 5)) >>> 0;
    bytes[i] = state & 0xff;
  }
  return bytes;
}

/** FNV-1a 64 over the buffer, byte i mod 65536 at iteration i. */
function referenceMem(iterations: number): bigint {
  const bytes = referenceBuffer();
  let hash = 0xcbf29ce484222325n;
  for (let i = 0; i < iterations; i++) {
    hash ^= BigInt(bytes[i & 0xffff]);
    hash = (hash * 0x100000001b3n) & MASK64;
  }
  return hash;
}

const reference = (workload: Loops32Workload, iterations: number) =>
  (workload === "reg" ? referenceReg(iterations) : referenceMem(iterations)).toString(16).padStart(16, "0");

const hasTools = hostHas("gcc") && hostHas("ld", ["--version"]);
const hasQemu = hostHas("qemu-system-x86_64");
const hasV86 = v86Version() !== null;

describe("the BigInt reference", () => {
  it("knows xorshift64's first state from Marsaglia's seed and FNV-1a's published value", () => {
    // Marsaglia's xorshift64 (13, 7, 17) from 88172645463325252: the first output is 8748534153485358512.
    expect(referenceReg(1)).toBe(8748534153485358512n);
    // FNV-1a 64 of the single byte "a" is 0xaf63dc4c8601ec8c (the FNV reference test vectors).
    let hash = 0xcbf29ce484222325n;
    hash = ((hash ^ 0x61n) * 0x100000001b3n) & MASK64;
    expect(hash).toBe(0xaf63dc4c8601ec8cn);
    expect(referenceMem(0)).toBe(0xcbf29ce484222325n);
  });
});

describe.skipIf(!hasTools)("loops32, the 32-bit guest of perf/v86.bench.ts", () => {
  let dir: string;
  let image: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "x64emu-loops32-"));
    image = buildLoops32(join(dir, "a"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("builds a reproducible ELF32 multiboot kernel of 32-bit code", () => {
    const bytes = readFileSync(image);
    expect([...bytes.subarray(0, 4)]).toEqual([0x7f, 0x45, 0x4c, 0x46]);
    expect(bytes[4]).toBe(1); // ELFCLASS32
    expect(bytes.readUInt16LE(18)).toBe(3); // EM_386
    const again = buildLoops32(join(dir, "b"));
    expect(readFileSync(again).equals(bytes)).toBe(true);
    // The loops use the 32-bit forms the bench is about: double shifts for the 64-bit state, MUL r32 for FNV's product.
    const listing = spawnSync("objdump", ["-d", "-M", "intel", "--no-show-raw-insn", image], { encoding: "utf8" }).stdout;
    expect(listing).toMatch(/\bshld\b/);
    expect(listing).toMatch(/\bshrd\b/);
    expect(listing).toMatch(/\bmul\s+e[a-z]{2}\b/);
    expect(listing).toMatch(/\badc\b/);
  });

  const cases: [Loops32Workload, number][] = [["reg", 0], ["reg", 1], ["reg", 3000], ["mem", 0], ["mem", 70000]];
  for (const accel of ["interp", "jit"] as const) {
    it(`prints the reference checksums on our ${accel === "jit" ? "JIT" : "interpreter"}`, async () => {
      for (const [workload, iterations] of cases) {
        const result = await runInProcess([image, "--accel", accel, "-m", "64", "--stats", "--append", `${workload} ${iterations}`]);
        expect(result.status, result.stderr).toBe(1); // isa-debug-exit with 0
        expect(loops32Result(result.stdout, workload, iterations)).toBe(reference(workload, iterations));
      }
    });
  }

  it("runs the loops as JIT code under --accel jit: more iterations add no interpreted instructions", async () => {
    for (const workload of ["reg", "mem"] as const) {
      const stats = async (iterations: number) => {
        const result = await runInProcess([image, "--accel", "jit", "-m", "64", "--clock", "virtual", "--stats", "--append", `${workload} ${iterations}`]);
        expect(loops32Result(result.stdout, workload, iterations)).toBe(reference(workload, iterations));
        const total = /^stats: (\d+) guest instructions/m.exec(result.stderr);
        const interpreted = /(\d+) instructions in the interpreter/.exec(result.stderr);
        expect(total, result.stderr).not.toBeNull();
        expect(interpreted, result.stderr).not.toBeNull();
        return { total: Number(total![1]), interpreted: Number(interpreted![1]) };
      };
      const fewer = await stats(20000);
      const more = await stats(60000);
      const added = more.total - fewer.total;
      expect(added).toBeGreaterThan(40000 * 15); // the loop bodies: 23 (reg) and 18 (mem) instructions
      expect(more.interpreted - fewer.interpreted).toBeLessThan(added / 100);
    }
  });

  it("reports a bad command line on COM1 and exits with status 3", async () => {
    const result = await runInProcess([image, "--accel", "interp", "-m", "64", "--append", "fast 10"]);
    expect(result.stdout).toContain("loops32: error: expected 'reg N' or 'mem N'");
    expect(result.status).toBe(3);
    const overflow = await runInProcess([image, "--accel", "interp", "-m", "64", "--append", "reg 4294967296"]);
    expect(overflow.stdout).toContain("does not fit in 32 bits");
  });

  it.skipIf(!hasQemu)("prints the same checksums on QEMU", () => {
    for (const [workload, iterations] of [["reg", 3000], ["mem", 70000]] as const) {
      const run = spawnSync("qemu-system-x86_64", ["-accel", "tcg", "-machine", "q35", "-m", "64", "-nodefaults", "-display", "none",
        "-serial", "stdio", "-no-reboot", "-kernel", image, "-append", `${workload} ${iterations}`, "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"],
      { encoding: "utf8", timeout: 60_000 });
      expect(run.status, run.stderr).toBe(1);
      expect(loops32Result(run.stdout, workload, iterations)).toBe(reference(workload, iterations));
    }
  });

  it.skipIf(!hasV86)("prints the same checksums on v86, with its JIT and without", () => {
    const [node, leading] = v86RunnerCommand();
    for (const jit of [true, false]) {
      for (const [workload, iterations] of [["reg", 3000], ["mem", 70000]] as const) {
        const run = spawnSync(node, [...leading, image, "-m", "64", "--timeout", "60", "--append", `${workload} ${iterations}`, ...(jit ? [] : ["--no-jit"])], { encoding: "utf8" });
        expect(run.status, run.stderr).toBe(1); // the code written to port 0xf4 (0), as QEMU's status
        expect(loops32Result(run.stdout, workload, iterations)).toBe(reference(workload, iterations));
      }
    }
  });
});
