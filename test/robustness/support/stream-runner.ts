// A child process (child-pool.ts) that runs random instruction streams on the stream kernel under
// the interpreter and the JIT and compares the two runs; asked for a report, it also minimizes a
// failing stream. Streams run here rather than in the test process because a run can get stuck in
// one synchronous loop, which only killing the process ends.
import { guestMachine, type AssembledGuest, type EngineConfig } from "../../jit/support/asm-guest.js";
import { hex } from "./fuzz-env.js";
import { serveJobs } from "./job-server.js";
import { assembleStreamKernel, differences, generateStream, listing, loadStream, streamOutcome, withPieces, type Stream, type StreamOutcome } from "./stream-kernel.js";

export const MAX_INSTRUCTIONS = 5000;
/** a guard, not a limit: a few thousand instructions take milliseconds */
const WALL_SECONDS = 3;
const INTERP: EngineConfig = { name: "interp", accel: "interp" };
/** threshold 1: streams mostly run once, and every block should run as compiled code */
const JIT: EngineConfig = { name: "jit", accel: "jit", jit: { threshold: 1 } };
/** stop kinds a booted guest may end with (the run's own instruction limit included) */
const DOCUMENTED = new Set(["exit", "reset", "halted", "triple-fault", "instruction-limit"]);

export interface StreamJob {
  id: number;
  seed: number;
  index: number;
  /** minimize the stream if it fails, and describe it */
  report?: boolean;
}

export interface StreamResult {
  /** stop kinds: interpreter, JIT */
  kinds: [string, string];
  /** a stop no booted guest should reach (internal error, the wall-clock guard...) */
  undocumented: boolean;
  /** how the two runs differ */
  differences: string[];
  /** with `report`: the failure minimized and described */
  report?: string;
}

interface Runs {
  interp: StreamOutcome;
  jit: StreamOutcome;
  kinds: [string, string];
}

let kernel: AssembledGuest | null = null;

async function runStream(stream: Stream, engine: EngineConfig): Promise<{ outcome: StreamOutcome; kind: string }> {
  kernel ??= assembleStreamKernel();
  const { machine } = guestMachine(kernel, engine);
  loadStream(machine, kernel, stream);
  const stop = await machine.run({ maxInstructions: MAX_INSTRUCTIONS, timeoutSeconds: WALL_SECONDS });
  return { outcome: streamOutcome(machine, stop), kind: stop.kind };
}

async function runBoth(stream: Stream): Promise<Runs> {
  const interp = await runStream(stream, INTERP);
  const jit = await runStream(stream, JIT);
  return { interp: interp.outcome, jit: jit.outcome, kinds: [interp.kind, jit.kind] };
}

const undocumented = (runs: Runs) => runs.kinds.some((kind) => !DOCUMENTED.has(kind));
const disagree = (runs: Runs) => differences(runs.interp, runs.jit, ["interp", "jit"]).length > 0;

/**
 * Removes pieces of a failing stream while `fails` still holds (halves, then quarters... then single
 * pieces), so a report shows the few instructions that matter. Bounded by `attempts` runs.
 */
async function minimize(stream: Stream, fails: (runs: Runs) => boolean, attempts = 150): Promise<Stream> {
  let current = stream;
  let chunk = Math.ceil(current.pieces.length / 2);
  while (chunk >= 1 && attempts > 0) {
    let removed = false;
    for (let start = 0; start < current.pieces.length && attempts > 0; start += chunk) {
      const candidate = withPieces(current, [...current.pieces.slice(0, start), ...current.pieces.slice(start + chunk)]);
      attempts--;
      if (fails(await runBoth(candidate))) {
        current = candidate;
        removed = true;
        start -= chunk;
      }
    }
    if (!removed) chunk = Math.floor(chunk / 2);
  }
  return current;
}

/** The failure minimized: its instructions, how the runs end and differ, and the bytes to rerun it. */
async function report(stream: Stream, seed: number, fails: (runs: Runs) => boolean): Promise<string> {
  const small = await minimize(stream, fails);
  const runs = await runBoth(small);
  const stop = (outcome: StreamOutcome) => outcome.stop.split("\n")[0];
  return (
    `  minimized to ${small.pieces.length} of ${stream.pieces.length} pieces${fails(runs) ? "" : " (which no longer fail: flaky?)"}:\n${listing(small)}\n` +
    `  stop: interp ${stop(runs.interp)}; jit ${stop(runs.jit)}\n` +
    differences(runs.interp, runs.jit, ["interp", "jit"]).map((text) => `  ${text}\n`).join("") +
    `  minimized stream (prologue, instructions, jmp [rip] to stream_end; memory as generateStream(${hex(seed)}, ${stream.index}) has it): ${Buffer.from(small.bytes).toString("hex")}`
  );
}

serveJobs<StreamJob>(async (job): Promise<StreamResult> => {
  const stream = generateStream(job.seed, job.index);
  const runs = await runBoth(stream);
  const result: StreamResult = { kinds: runs.kinds, undocumented: undocumented(runs), differences: differences(runs.interp, runs.jit, ["interp", "jit"]) };
  if (job.report && (result.undocumented || result.differences.length > 0)) {
    result.report = await report(stream, job.seed, result.undocumented ? undocumented : disagree);
  }
  return result;
});
