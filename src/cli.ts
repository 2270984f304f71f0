// The command line: `tsx src/cli.ts [IMAGE] --accel interp|jit -m MiB --append ARGS` boots a kernel,
// `tsx src/cli.ts disasm ...` disassembles. Every failure ends with one
// "error: ..." line on stderr and a nonzero exit code, never a stack trace (X64EMU_DEBUG=1 adds it).

import { existsSync, readFileSync, realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Command, CommanderError } from "commander";
import { processStdin, registerBootAction } from "./cli/boot.js";
import { registerBenchCommand } from "./cli/bench.js";
import { registerDisasmCommand } from "./cli/disasm.js";
import { registerProfileCommand } from "./cli/profile.js";
import { CliError, UsageError, oneLine } from "./cli/errors.js";
import { normalizeQemuArgs } from "./cli/qemu-options.js";

export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  /** a booted guest's serial output (default: decoded as UTF-8 into stdout) */
  serial?(bytes: Uint8Array): void;
  /** input for a booted guest's serial port (default: none) */
  stdin?: NodeJS.ReadableStream | null;
}

const processIo: CliIo = {
  stdout: (text) => void process.stdout.write(text),
  stderr: (text) => void process.stderr.write(text),
  serial: (bytes) => void process.stdout.write(bytes),
  get stdin() {
    return processStdin();
  },
};

export function buildProgram(io: CliIo, setExitCode: (code: number) => void = () => {}): Command {
  const program = new Command();
  program
    .name("x64emu")
    .description("An x86_64 PC emulator with a JIT (boots a multiboot kernel like qemu-system-x86_64 -kernel)")
    // Set before adding subcommands: they inherit these settings.
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout(text),
      // Commander writes help to its error stream only when it fails (e.g. `help nope`); stderr is
      // reserved for our single "error: ..." line, so that help goes to stdout.
      writeErr: (text) => io.stdout(text),
      // Commander's error messages are re-thrown as CommanderError and printed by main() as one line.
      outputError: () => {},
    })
    .version(packageVersion(), "-V, --version")
    // The root command has its own action (boot), so commander would not add `help` by itself.
    .helpCommand("help [command]", "display help for a command")
    .showSuggestionAfterError(true)
    // Root options (-m, --accel...) are recognised only before a subcommand, so `disasm --mode`
    // and friends never collide with them.
    .enablePositionalOptions();

  registerDisasmCommand(program, (text) => io.stdout(text));
  registerProfileCommand(program, (text) => io.stdout(text));
  registerBenchCommand(program, io, setExitCode);
  const decoder = new TextDecoder();
  registerBootAction(
    program,
    {
      stderr: (text) => io.stderr(text),
      serial: io.serial ? (bytes) => io.serial!(bytes) : (bytes) => io.stdout(decoder.decode(bytes, { stream: true })),
      get stdin() {
        return io.stdin ?? null;
      },
    },
    setExitCode,
  );
  return program;
}

function packageVersion(): string {
  try {
    const text = readFileSync(new URL("../package.json", import.meta.url), "utf8");
    return String((JSON.parse(text) as { version?: unknown }).version ?? "unknown");
  } catch {
    return "unknown";
  }
}

/** Runs the CLI on `argv` (arguments after the script name); resolves to the exit code. */
export async function main(argv: string[], io: CliIo = processIo): Promise<number> {
  try {
    let exitCode = 0;
    const program = buildProgram(io, (code) => {
      exitCode = code;
    });
    const args = argv[0] === "disasm" || argv[0] === "help" ? argv : normalizeQemuArgs(argv);
    rejectUnknownCommand(program, args);
    await program.parseAsync(args, { from: "user" });
    return exitCode;
  } catch (error) {
    return reportError(error, io);
  }
}

/**
 * `cli.ts disasmm --hex 90` would otherwise reach the boot action, whose [image] argument swallows
 * the typo, and fail on "--hex" instead. A first word that names no subcommand and no file, and does
 * not look like a path, is reported as the unknown command it most likely is.
 */
function rejectUnknownCommand(program: Command, argv: string[]): void {
  const names = program.commands.flatMap((command) => [command.name(), ...command.aliases()]);
  if (argv[0] === "help") {
    const topic = argv[1];
    if (topic !== undefined && !topic.startsWith("-") && !names.includes(topic)) {
      throw new UsageError(`unknown command '${topic}' (commands: ${names.join(", ")})`);
    }
    return;
  }
  const first = argv[0];
  if (first === undefined || first.startsWith("-") || /[/.]/.test(first)) return;
  if (names.includes(first) || existsSync(first)) return;
  throw new UsageError(`unknown command '${first}' (commands: ${names.join(", ")}; an image must be an existing file)`);
}

function reportError(error: unknown, io: CliIo): number {
  if (error instanceof CommanderError) {
    // --help and --version end this way too, with exit code 0 and their output already written.
    if (error.exitCode === 0) return 0;
    io.stderr(`error: ${oneLine(error.message)}\n`);
    return 2;
  }
  if (error instanceof CliError) {
    io.stderr(`error: ${oneLine(error.message)}\n`);
    return error.exitCode;
  }
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  io.stderr(`error: internal error: ${oneLine(message)} (set X64EMU_DEBUG=1 for details)\n`);
  if (process.env.X64EMU_DEBUG && error instanceof Error && error.stack) io.stderr(error.stack + "\n");
  return 70; // EX_SOFTWARE
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  // A reader that goes away (`... | head`) is not an error.
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(0);
    process.stderr.write(`error: writing output: ${oneLine(error.message)}\n`);
    process.exit(1);
  });
  const fail = (error: unknown): void => {
    process.stderr.write(`error: internal error: ${oneLine(error instanceof Error ? error.message : String(error))}\n`);
    process.exit(70);
  };
  process.on("uncaughtException", fail);
  process.on("unhandledRejection", fail);
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  }, fail);
}
