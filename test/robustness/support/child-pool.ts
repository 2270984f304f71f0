// Runs jobs in a few child processes with a watchdog. Work that can get stuck in a synchronous
// JavaScript loop (a boot, a random instruction stream) cannot be interrupted inside its own
// process, so every job has a hard deadline: past it, its child is killed (SIGKILL, by its pid: only
// processes this module started), the job is recorded as hung, and a fresh child takes the jobs
// still to run.
//
// A child is a script that calls serveJobs() (job-server.ts): it reads one JSON job per line on
// stdin and answers on stdout with JSON lines, {"ready":true} once loaded, then {"start":id} and
// {"end":id, ...result} for each job.
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { createRequire } from "node:module";
import { createInterface } from "node:readline";
import { repoRoot } from "../../cli/run-cli.js";

export interface Job {
  id: number;
  /** this job's deadline, when not the pool's */
  deadlineMs?: number;
}

export interface JobOutcome<R> {
  id: number;
  /** the child's answer; null when the job hung or its child died */
  result: R | null;
  /** killed at the deadline */
  hung: boolean;
  /** the child died during this job: its exit code (null: killed by a signal, named in `stderr`) */
  crashed: boolean;
  exitCode?: number | null;
  /** the child's own stderr while the job ran (warnings, an escaped exception), and why it ended */
  stderr: string;
  /** wall time of the job (to its end, or to the kill) */
  ms: number;
}

const tsxLoader = createRequire(import.meta.url).resolve("tsx");
/** how long a child may take to load before it is considered broken */
const STARTUP_MS = 60_000;

/** Runs `jobs` on `workers` children running `script`; each job must end within `deadlineMs` of its start. */
export async function runInChildren<J extends Job, R>(script: string, jobs: J[], options: { workers: number; deadlineMs: number }): Promise<Map<number, JobOutcome<R>>> {
  const queue = jobs.slice();
  const outcomes = new Map<number, JobOutcome<R>>();
  const worker = async () => {
    while (queue.length > 0) await runChild(script, queue, outcomes, options.deadlineMs);
  };
  await Promise.all(Array.from({ length: Math.min(options.workers, jobs.length) }, worker));
  return outcomes;
}

/** One child: takes jobs from `queue` until it is empty, a job hangs or the child dies. */
function runChild<J extends Job, R>(script: string, queue: J[], outcomes: Map<number, JobOutcome<R>>, deadlineMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child: ChildProcessWithoutNullStreams = spawn(process.execPath, ["--import", tsxLoader, script], {
      cwd: repoRoot,
      env: { ...process.env, X64EMU_DEBUG: "" },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let current: { job: J; started: number } | null = null;
    let stderr = "";
    let ready = false;
    let timer: ReturnType<typeof setTimeout> | undefined = setTimeout(() => kill("the child did not start"), STARTUP_MS);

    const record = (outcome: Omit<JobOutcome<R>, "id" | "ms">) => {
      if (current === null) return;
      outcomes.set(current.job.id, { id: current.job.id, ms: performance.now() - current.started, ...outcome });
      current = null;
    };
    const kill = (why: string) => {
      record({ result: null, hung: true, crashed: false, stderr: stderr + `[${why}]\n` });
      child.kill("SIGKILL");
    };
    const next = () => {
      const job = queue.shift();
      if (job === undefined) {
        child.stdin.end();
        return;
      }
      current = { job, started: performance.now() };
      stderr = "";
      child.stdin.write(JSON.stringify(job) + "\n");
    };

    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (text: string) => void (stderr += text));
    child.stdin.on("error", () => {}); // a child that died: its exit reports it
    createInterface({ input: child.stdout }).on("line", (line) => {
      const message = JSON.parse(line) as { ready?: true; start?: number; end?: number };
      if (message.ready) {
        ready = true;
        clearTimeout(timer);
        next();
      } else if (message.start !== undefined && current !== null) {
        current.started = performance.now();
        const deadline = current.job.deadlineMs ?? deadlineMs;
        timer = setTimeout(() => kill(`killed: still running ${deadline} ms after it started`), deadline);
      } else if (message.end !== undefined && current !== null) {
        clearTimeout(timer);
        record({ result: message as R, hung: false, crashed: false, stderr });
        next();
      }
    });
    // "close", not "exit": the child's last lines have been read by then
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (!ready) {
        reject(new Error(`the child ${script} failed to start (${signal ?? `code ${code}`}):\n${stderr}`));
        return;
      }
      record({ result: null, hung: false, crashed: true, exitCode: code, stderr: stderr + `[the child exited with ${signal ?? `code ${code}`}]\n` });
      resolve();
    });
  });
}
