// Runs the CLI as a user would (a child process: `node --import tsx src/cli.ts ...`).

import { execFile, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

export const repoRoot = fileURLToPath(new URL("../..", import.meta.url));

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

const nodeArgs = (args: string[]): string[] => ["--import", "tsx", "src/cli.ts", ...args];

/** Runs the CLI asynchronously (so independent cases can run concurrently). */
export function runCli(args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      nodeArgs(args),
      { cwd: repoRoot, maxBuffer: 256 * 1024 * 1024, encoding: "utf8", env: { ...process.env, X64EMU_DEBUG: "" } },
      (error, stdout, stderr) => {
        const status = error ? (typeof error.code === "number" ? error.code : null) : 0;
        resolve({ status, stdout, stderr });
      },
    );
  });
}

export function runCliSync(args: string[]): CliResult {
  const result = spawnSync(process.execPath, nodeArgs(args), {
    cwd: repoRoot,
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
    env: { ...process.env, X64EMU_DEBUG: "" },
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** True when `command args...` runs and exits 0. */
export function commandWorks(command: string, args: string[], input?: string): boolean {
  const result = spawnSync(command, args, { encoding: "utf8", input });
  return result.status === 0;
}

/**
 * Runs the CLI's main() inside the test process with captured output: the same messages and exit
 * codes as a child process, without paying a Node + tsx start per case. The process-level contract
 * (real exit status, nothing else on stderr) is checked by the spawned cases.
 */
export async function runInProcess(args: string[]): Promise<CliResult> {
  const { main } = await import("../../src/cli.js");
  let stdout = "";
  let stderr = "";
  const status = await main(args, {
    stdout: (text) => void (stdout += text),
    stderr: (text) => void (stderr += text),
  });
  return { status, stdout, stderr };
}
