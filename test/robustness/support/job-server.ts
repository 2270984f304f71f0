// The child side of child-pool.ts: reads one JSON job per line on stdin, runs them one at a time
// and answers on stdout: {"ready":true} once loaded, then {"start":id} and {"end":id, ...result}.
// Anything that escapes a job ends the process with status 70 and one "error: ..." line, as
// src/cli.ts's own handlers do.
import { createInterface } from "node:readline";
import type { Job } from "./child-pool.js";

export function serveJobs<J extends Job>(run: (job: J) => Promise<object> | object): void {
  const out = (line: object) => process.stdout.write(JSON.stringify(line) + "\n");
  const fail = (error: unknown): void => {
    process.stderr.write(`error: internal error: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(70);
  };
  process.on("uncaughtException", fail);
  process.on("unhandledRejection", fail);
  const serve = async () => {
    out({ ready: true });
    for await (const line of createInterface({ input: process.stdin })) {
      if (line.trim() === "") continue;
      const job = JSON.parse(line) as J;
      out({ start: job.id });
      out({ ...(await run(job)), end: job.id });
    }
  };
  serve().then(() => process.exit(0), fail);
}
