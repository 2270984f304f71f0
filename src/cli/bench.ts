// `x64emu bench`: one guest workload on several engines side by side (src/bench/engines.ts), with a
// live progress line, a table at the end, and the report as JSON, SVG or HTML;
// `x64emu bench compare OLD.json NEW.json`: two reports figure by figure (src/bench/compare.ts).

import { existsSync, statSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { Option, type Command } from "commander";
import { defaultEngines, parseEngineList, runBench, type EngineName } from "../bench/engines.js";
import { formatComparison } from "../bench/compare.js";
import { engineProgress } from "../bench/progress.js";
import { asReport, type BenchReport } from "../bench/report.js";
import { formatEngineReport } from "../bench/tables.js";
import { CliError, UsageError, describeFsError, oneLine, readRegularFile } from "./errors.js";
import { parseCount } from "./values.js";

export interface BenchIo {
  stdout(text: string): void;
  stderr(text: string): void;
}

/** Raw commander option values (validated by runBenchCommand). */
export interface BenchCommandOptions {
  engines?: string;
  repeats: string;
  append: string;
  image: string;
  clock: "realtime" | "virtual";
  json?: string;
  svg?: string;
  html?: string;
}

const DEFAULT_IMAGE = "build/kernel.elf";

export function registerBenchCommand(program: Command, io: BenchIo, setExitCode: (code: number) => void): void {
  const bench = program
    .command("bench")
    .description("run a guest workload on several engines side by side (JIT, interpreter, QEMU TCG, native) and report wall time, MIPS and ratios")
    .option("--engines <list>", "comma list of jit, interp, check, qemu, native (default jit,interp, and qemu when qemu-system-x86_64 is installed)")
    .option("--repeats <n>", "runs per engine, interleaved engine after engine", "1")
    .option("--append <args>", 'the workload and its arguments (the kernel command line), e.g. "bench commits=100", "selftest"', "bench")
    .option("--image <path>", "multiboot kernel image (built by npm run build:guest)", DEFAULT_IMAGE)
    .addOption(new Option("--clock <kind>", "guest time of this emulator's engines: realtime or virtual").choices(["realtime", "virtual"]).default("realtime"))
    .option("--json <file>", "write every run's raw figures, the machine, the commit and the image's hash as JSON")
    .option("--svg <file>", "write a chart of wall time and MIPS per engine (median, min–max whiskers) as SVG")
    .option("--html <file>", "write the chart, the table and every run as one HTML page")
    .addHelpText(
      "after",
      "\nOur engines run as child processes of the built entry point (dist/x64emu.mjs) with --stats; QEMU with DESIGN.md's\n" +
        "reference command line; native is the Linux build of the store bench (store bench only). Every engine must print the\n" +
        "same head hash (or exit status). Exit status: 0; 1 when an engine was skipped or failed or the results differ; 2 for\n" +
        "a malformed command line. Compare two --json reports with `x64emu bench compare OLD.json NEW.json`.",
    )
    .action(async (options: BenchCommandOptions) => {
      setExitCode(await runBenchCommand(options, io));
    });
  bench
    .command("compare")
    .description("compare two reports written by --json (or by the perf/ suites): new/old per engine and figure, flagged where the min–max ranges do not overlap")
    .argument("<old>", "the older report (JSON)")
    .argument("<new>", "the newer report (JSON)")
    .action((oldPath: string, newPath: string) => {
      const older = loadReport(oldPath);
      const newer = loadReport(newPath);
      io.stdout(formatComparison(older, newer, oldPath, newPath).join("\n") + "\n");
    });
}

function loadReport(path: string): BenchReport {
  const text = readRegularFile(path).toString("utf8");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new CliError(`${path}: not JSON (${oneLine((error as Error).message)})`);
  }
  try {
    return asReport(value);
  } catch (error) {
    throw new CliError(`${path}: ${(error as Error).message}`);
  }
}

/** An output file's directory must exist before a long run starts. */
function checkOutput(path: string | undefined, flag: string): void {
  if (path === undefined) return;
  if (path === "") throw new UsageError(`${flag}: expected a file name`);
  const dir = dirname(resolve(path));
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new CliError(`${flag} ${path}: no such directory ${dir}`);
}

function writeOutput(path: string, text: string): void {
  try {
    writeFileSync(path, text);
  } catch (error) {
    throw new CliError(`cannot write ${describeFsError(path, error)}`);
  }
}

/** Runs the bench; returns the exit status (0, or 1 when an engine was skipped or failed or the results differ). */
export async function runBenchCommand(options: BenchCommandOptions, io: BenchIo): Promise<number> {
  let engines: EngineName[];
  try {
    engines = options.engines === undefined ? defaultEngines() : parseEngineList(options.engines);
  } catch (error) {
    throw new UsageError(`--engines: ${(error as Error).message}`);
  }
  const repeats = parseCount(options.repeats, "--repeats");
  readRegularFile(options.image); // a missing or unreadable image: one error line before anything runs
  checkOutput(options.json, "--json");
  checkOutput(options.svg, "--svg");
  checkOutput(options.html, "--html");

  const { progress, stop } = engineProgress({ write: io.stdout, live: process.stdout.isTTY === true, columns: process.stdout.columns, repeats });
  let report: BenchReport;
  try {
    report = await runBench({ engines, image: options.image, append: options.append, clock: options.clock, repeats }, progress);
  } finally {
    stop();
  }

  io.stdout(formatEngineReport(report).join("\n") + "\n");
  if (options.json !== undefined) writeOutput(options.json, JSON.stringify(report, null, 2) + "\n");
  if (options.svg !== undefined || options.html !== undefined) {
    const { renderChartSvg, renderHtml } = await import("../bench/chart.js");
    if (options.svg !== undefined) writeOutput(options.svg, await renderChartSvg(report));
    if (options.html !== undefined) writeOutput(options.html, await renderHtml(report));
  }
  for (const error of report.errors) io.stderr(`error: ${oneLine(error)}\n`);
  return report.errors.length > 0 ? 1 : 0;
}
