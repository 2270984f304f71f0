// A child process (child-pool.ts) that runs CLI boots one after another, so a fuzzing run pays
// Node's and tsx's start-up once per worker instead of once per image. Each job's arguments go to
// the CLI's main(): the command line minus the process around it (same messages, same statuses).
import { performance } from "node:perf_hooks";
import { main } from "../../../src/cli.js";
import { serveJobs } from "./job-server.js";

export interface BootJob {
  id: number;
  /** the CLI's arguments */
  args: string[];
  deadlineMs?: number;
}

export interface BootResult {
  status: number;
  stderr: string;
  /** the end of the guest's serial output */
  serialTail: string;
  ms: number;
}

const SERIAL_TAIL = 2048;

serveJobs<BootJob>(async (job): Promise<BootResult> => {
  let stderr = "";
  let serial = "";
  const keepTail = (text: string) => void (serial = (serial + text).slice(-SERIAL_TAIL));
  const started = performance.now();
  const status = await main(job.args, {
    stdout: keepTail,
    stderr: (text) => void (stderr += text),
    serial: (bytes) => keepTail(Buffer.from(bytes).toString("latin1")),
    stdin: null,
  });
  return { status, stderr, serialTail: serial, ms: performance.now() - started };
});
