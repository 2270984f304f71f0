// Booting damaged kernel images: whatever a user hands the CLI, a run ends with a documented exit
// status (a guest exit, 0 reset, 1 bad image, 4 triple fault or halted, 124 timeout), never 70, never
// a JavaScript stack trace, and never runs on past its --timeout.
//
// A fixed seed makes FUZZ_IMAGES mutated copies of the guest image (support/image-mutations.ts: bit
// flips in the code the guest runs, zeroed and random runs, data bits, truncations, multiboot and
// ELF header fields), and each boots the small bench with a short --timeout under the interpreter
// and under the JIT. The boots run in child processes (support/boot-pool.ts) with a hard deadline a
// margin past the timeout: a boot stuck in one synchronous step cannot stop itself, and the deadline
// turns that into a reported hang instead of a stuck test. A handful of the images that boot and end
// differently from the unmutated one then run under --accel check --clock virtual: the JIT and the
// interpreter must agree all the way to whatever end those reach.
//
// Knobs: FUZZ_IMAGES (default 64; thousands for a long run), FUZZ_IMAGE_SEED (default 0x1a6e5eed).
// A failure names each bad case (#index, mutation, offsets), keeps its image under the system's temp
// directory and prints the command that reproduces it.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { canBuildGuest, guestImage } from "../jit/support/guest-image.js";
import { runBoots, type BootOutcome } from "./support/boot-pool.js";
import { envCount, envSeed, hex } from "./support/fuzz-env.js";
import { asElf32Image, imageLayout, mutateImage, type MutatedImage } from "./support/image-mutations.js";
import { EXIT_BAD_IMAGE, EXIT_TIMEOUT, histogram, outcomeProblems } from "./support/outcomes.js";

const COUNT = envCount("FUZZ_IMAGES", 64);
const SEED = envSeed("FUZZ_IMAGE_SEED", 0x1a6e_5eed);
/** about half a million instructions on the unmutated image: a quarter of a second under the interpreter */
const WORKLOAD = "bench ncommits=2 depth=2 tree_add=2";
const TIMEOUT_SECONDS = 1.5;
/** past --timeout, how long a boot may take to stop before it counts as a hang (generous: 2 cores, other test files) */
const MARGIN_MS = 10_000;
const WORKERS = 2;
/** images rerun under --accel check, and their --timeout (lockstep runs at about 2 M instructions/s) */
const CHECK_IMAGES = 4;
const CHECK_TIMEOUT_SECONDS = 4;
/** job ids of the unmutated image, and of it rewritten as an ELF32 kernel (the base of most header cases) */
const BASELINE = -1;
const BASELINE_ELF32 = -2;
/** the unmutated images must run the bench to its end: a --timeout no loaded machine reaches */
const BASELINE_TIMEOUT_SECONDS = 60;

interface Run {
  args: string[];
  outcome: BootOutcome;
}

const tmp = mkdtempSync(join(tmpdir(), "x64emu-fuzzed-images-"));
let keepFailures = false;
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let basePath = "";
let images: MutatedImage[] = [];
const paths = new Map<number, string>();
const interpRuns = new Map<number, Run>();

function bootArgs(path: string, accel: string, timeoutSeconds: number, extra: string[] = []): string[] {
  return [path, "--accel", accel, "--append", WORKLOAD, "--timeout", String(timeoutSeconds), ...extra];
}

/** Boots the images `ids` with `argsOf(path)` (the unmutated ones with a long --timeout); returns the runs by id. */
async function bootAll(ids: number[], argsOf: (path: string, timeoutSeconds: number) => string[], timeoutSeconds: number): Promise<Map<number, Run>> {
  const jobs = ids.map((id) => {
    const seconds = id < 0 ? BASELINE_TIMEOUT_SECONDS : timeoutSeconds;
    return { id, args: argsOf(paths.get(id)!, seconds), deadlineMs: seconds * 1000 + MARGIN_MS };
  });
  const outcomes = await runBoots(jobs, { workers: WORKERS, deadlineMs: timeoutSeconds * 1000 + MARGIN_MS });
  const runs = new Map<number, Run>();
  for (const job of jobs) runs.set(job.id, { args: job.args, outcome: outcomes.get(job.id)! });
  return runs;
}

/** The failing runs, each with what is wrong, where its image is kept, and the command that repeats it. */
function failures(runs: Map<number, Run>): string[] {
  const out: string[] = [];
  for (const [id, run] of runs) {
    const problems = outcomeProblems(run.outcome);
    if (problems.length === 0) continue;
    keepFailures = true;
    const kept = keptCopy(id);
    const args = run.args.map((arg) => (arg === paths.get(id) ? kept : arg));
    const stderr = run.outcome.stderr.trim().split("\n").slice(0, 3).join("\n    ");
    out.push(
      `${imageName(id)} (FUZZ_IMAGE_SEED=${hex(SEED)}): ${problems.join("; ")}\n` +
        `  reproduce: npx tsx src/cli.ts ${args.map((arg) => (/[\s"]/.test(arg) ? JSON.stringify(arg) : arg)).join(" ")}\n` +
        `  stderr: ${stderr}\n` +
        `  serial output ends: ${JSON.stringify(run.outcome.serialTail.slice(-240))}`,
    );
  }
  return out;
}

/** A failing image outlives the test: copied where the reproduce command finds it. */
function keptCopy(id: number): string {
  const dir = join(tmpdir(), `x64emu-fuzzed-image-failures-${hex(SEED)}`);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, id === BASELINE ? "unmutated.elf" : id === BASELINE_ELF32 ? "unmutated-elf32.elf" : `image-${id}.elf`);
  copyFileSync(paths.get(id)!, path);
  return path;
}

function expectBaselinesSucceeded(runs: Map<number, Run>): void {
  for (const id of [BASELINE, BASELINE_ELF32]) {
    const { status, serialTail } = runs.get(id)!.outcome;
    expect(status, `${imageName(id)} runs the bench to its end; its output ends:\n${serialTail}`).toBe(1);
  }
}

const imageName = (id: number) => (id === BASELINE ? "the unmutated image" : id === BASELINE_ELF32 ? "the unmutated image as ELF32" : images[id]!.name);
const ids = () => [BASELINE, BASELINE_ELF32, ...images.map((image) => image.index)];
/** per test: every boot at its deadline, spread over the workers, plus slack */
const testTimeout = (count: number, seconds: number) => Math.ceil((count * (seconds * 1000 + 2000)) / WORKERS) + 2 * BASELINE_TIMEOUT_SECONDS * 1000;

// without gcc/binutils there is no image to mutate: skipped on a developer machine only (hostHas throws in CI)
describe.skipIf(!canBuildGuest)(`${COUNT} mutated guest images (seed ${hex(SEED)}), booted with --timeout ${TIMEOUT_SECONDS}`, () => {
  beforeAll(() => {
    basePath = guestImage();
    const layout = imageLayout(basePath, WORKLOAD, 100_000_000);
    images = Array.from({ length: COUNT }, (_, index) => mutateImage(layout, SEED, index));
    paths.set(BASELINE, basePath);
    paths.set(BASELINE_ELF32, join(tmp, "unmutated-elf32.elf"));
    writeFileSync(paths.get(BASELINE_ELF32)!, asElf32Image(layout));
    for (const image of images) {
      const path = join(tmp, `image-${image.index}.elf`);
      writeFileSync(path, image.bytes);
      paths.set(image.index, path);
    }
  }, 120_000);

  it("under the interpreter, each ends with a documented exit status, in time, without a stack trace", async () => {
    const runs = await bootAll(ids(), (path, seconds) => bootArgs(path, "interp", seconds), TIMEOUT_SECONDS);
    for (const [id, run] of runs) interpRuns.set(id, run);
    console.log(`--accel interp, ${COUNT} images: ${histogram(images.map((image) => runs.get(image.index)!.outcome))}`);
    expectBaselinesSucceeded(runs);
    expect(failures(runs).join("\n")).toBe("");
  }, testTimeout(COUNT, TIMEOUT_SECONDS));

  it("under the JIT, each ends with a documented exit status, in time, without a stack trace", async () => {
    const runs = await bootAll(ids(), (path, seconds) => bootArgs(path, "jit", seconds), TIMEOUT_SECONDS);
    console.log(`--accel jit, ${COUNT} images: ${histogram(images.map((image) => runs.get(image.index)!.outcome))}`);
    expectBaselinesSucceeded(runs);
    expect(failures(runs).join("\n")).toBe("");
  }, testTimeout(COUNT, TIMEOUT_SECONDS));

  it("under --accel check, images that boot and end differently from the unmutated one show no JIT/interpreter divergence", async () => {
    // Images the loader accepted whose interpreter run ended otherwise than the bench's success:
    // those that ended first (their mutation is reached early), then those still running at the timeout.
    const accepted = images.filter((image) => {
      const outcome = interpRuns.get(image.index)?.outcome;
      // status 1 is a bad image or the bench's success
      return outcome !== undefined && !outcome.hung && !outcome.crashed && outcome.status !== EXIT_BAD_IMAGE;
    });
    const ended = accepted.filter((image) => interpRuns.get(image.index)!.outcome.status !== EXIT_TIMEOUT);
    const chosen = [...ended, ...accepted.filter((image) => !ended.includes(image))].slice(0, CHECK_IMAGES);
    const runs = await bootAll(
      chosen.map((image) => image.index),
      (path, seconds) => bootArgs(path, "check", seconds, ["--clock", "virtual"]),
      CHECK_TIMEOUT_SECONDS,
    );
    console.log(`--accel check, ${chosen.map((image) => `#${image.index}`).join(" ")}: ${histogram([...runs.values()].map((run) => run.outcome))}`);
    expect(failures(runs).join("\n")).toBe("");
  }, testTimeout(CHECK_IMAGES, CHECK_TIMEOUT_SECONDS));
});

afterAll(() => {
  if (keepFailures) console.log(`failing images kept in ${join(tmpdir(), `x64emu-fuzzed-image-failures-${hex(SEED)}`)}`);
});
