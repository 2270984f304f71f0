// Errors the CLI reports as one line on stderr ("error: ...") with a nonzero exit code.

import { readFileSync, statSync } from "node:fs";

/** A failure the user caused (bad file, missing section...): exit code 1. */
export class CliError extends Error {
  override name = "CliError";
  constructor(
    message: string,
    readonly exitCode: number = 1,
  ) {
    super(message);
  }
}

/** A malformed command line (bad flag value, conflicting flags): exit code 2, like commander's own. */
export class UsageError extends CliError {
  override name = "UsageError";
  constructor(message: string) {
    super(message, 2);
  }
}

/** Collapses any message to a single line without a leading "error:" (the caller adds one). */
export function oneLine(message: string): string {
  return message
    .replace(/^\s*error:\s*/i, "")
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line.length > 0)
    .join(" ");
}

/**
 * The bytes of a regular file, or a CliError naming the problem. Devices and FIFOs are refused up front
 * (reading /dev/zero would never end).
 */
export function readRegularFile(path: string): Buffer {
  try {
    const stats = statSync(path);
    if (stats.isDirectory()) throw new CliError(`${path}: is a directory`);
    if (!stats.isFile()) throw new CliError(`${path}: not a regular file`);
    return readFileSync(path);
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw new CliError(describeFsError(path, error));
  }
}

/** A file-system error as "PATH: no such file"-style text instead of Node's "ENOENT: ..., open 'PATH'". */
export function describeFsError(path: string, error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case "ENOENT":
      return `${path}: no such file`;
    case "EACCES":
    case "EPERM":
      return `${path}: permission denied`;
    case "EISDIR":
      return `${path}: is a directory`;
    case "ENOTDIR":
      return `${path}: not a directory (a path component is a file)`;
    case "ELOOP":
      return `${path}: too many levels of symbolic links`;
    default:
      return `${path}: cannot read (${error instanceof Error ? oneLine(error.message) : String(error)})`;
  }
}
