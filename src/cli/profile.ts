// Guest profiling on the command line:
//   x64emu [IMAGE] --profile FILE [--profile-interval N] [--profile-top N] ...   (boot options)
//   x64emu profile FILE.cpuprofile [--top N]                                       (this subcommand)
// Booting with --profile samples the guest's RIP and frame-pointer stack every N instructions
// (src/profile/sampler.ts), names the frames with the image's symbols (and DWARF lines from a -g
// build), and writes a .cpuprofile for Chrome DevTools or speedscope; --profile-top prints the flat
// table at exit, and `profile` prints it from a file. docs/profile.md has the design.
import { accessSync, constants, statSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import type { Command } from "commander";
import { ElfError, parseElf } from "../machine/elf.js";
import type { PcMachine } from "../machine/pc.js";
import { buildCpuProfile, parseCpuProfile, ProfileFormatError, type CpuProfile } from "../profile/cpuprofile.js";
import { DwarfError } from "../profile/dwarf-line.js";
import { formatTopTable } from "../profile/report.js";
import { GuestSampler } from "../profile/sampler.js";
import { GuestSymbols, SymbolError } from "../profile/symbols.js";
import { CliError, UsageError, describeFsError, oneLine, readRegularFile } from "./errors.js";
import { parseCount } from "./values.js";

/**
 * Guest instructions between samples by default. Measured on `--append "bench commits=100"` under
 * --accel jit (docs/profile.md): about 2% slower than without --profile (1-5% across runs on a
 * shared machine), where 10_000 costs about 10%; 5700 samples on that 3-second run.
 */
export const DEFAULT_PROFILE_INTERVAL = 100_000;
/** rows of `profile` without --top */
export const DEFAULT_TOP = 20;

export function registerProfileCommand(program: Command, write: (text: string) => void): void {
  program
    .command("profile")
    .description("print the flat profile (functions by self samples) of a .cpuprofile written by --profile (or any V8 .cpuprofile)")
    .argument("<file>", "a .cpuprofile file")
    .option("--top <n>", `rows to print (default ${DEFAULT_TOP})`)
    .action((file: string, options: { top?: string }) => {
      const top = options.top !== undefined ? parseCount(options.top, "--top") : DEFAULT_TOP;
      write(formatTopTable(readProfile(file), top, file));
    });
}

/** Reads and checks a .cpuprofile; CliError naming the file and the problem. */
export function readProfile(file: string): CpuProfile {
  const bytes = readRegularFile(file);
  try {
    return parseCpuProfile(bytes.toString("utf8"));
  } catch (error) {
    if (error instanceof ProfileFormatError) throw new CliError(`${file}: ${oneLine(error.message)}`);
    throw error;
  }
}

/** The boot options this module reads (registered in boot.ts). */
export interface ProfileOptions {
  profile?: string;
  profileInterval?: string;
  profileTop?: string;
  accel: string;
  clock: string;
}

/** --profile / --profile-top for one boot: checks the options, samples the run, writes and prints at its end. */
export class BootProfiler {
  private symbols: GuestSymbols | null = null;
  private sampler: GuestSampler | null = null;
  private image = "";

  private constructor(
    readonly file: string | undefined,
    readonly interval: number,
    readonly top: number | undefined,
    private readonly options: ProfileOptions,
  ) {}

  /** null without --profile and --profile-top; UsageError/CliError for bad values or an output that cannot be written. */
  static fromOptions(options: ProfileOptions): BootProfiler | null {
    const interval = options.profileInterval !== undefined ? parseCount(options.profileInterval, "--profile-interval") : DEFAULT_PROFILE_INTERVAL;
    const top = options.profileTop !== undefined ? parseCount(options.profileTop, "--profile-top") : undefined;
    if (options.profile === undefined && top === undefined) {
      if (options.profileInterval !== undefined) throw new UsageError("--profile-interval: give --profile FILE or --profile-top N too");
      return null;
    }
    if (options.profile !== undefined) checkWritable(options.profile);
    return new BootProfiler(options.profile, interval, top, options);
  }

  /**
   * Starts sampling `machine` (booted from `bytes`, read from `image`, not yet run). CliError when
   * the image has no symbols or they are malformed.
   */
  attach(machine: PcMachine, bytes: Uint8Array, image: string): void {
    this.image = image;
    try {
      this.symbols = GuestSymbols.fromElf(parseElf(bytes));
    } catch (error) {
      if (error instanceof ElfError) throw new CliError(`${image}: --profile needs the image's ELF symbols, but it is not a readable ELF file (${oneLine(error.message)})`);
      if (error instanceof SymbolError) throw new CliError(`${image}: --profile needs the image's ELF symbols: ${oneLine(error.message)}`);
      if (error instanceof DwarfError) throw new CliError(`${image}: malformed DWARF line table: ${oneLine(error.message)}`);
      throw error;
    }
    const symbols = this.symbols;
    this.sampler = new GuestSampler(machine, this.interval, (address) => symbols.isCode(address));
    machine.sampler = this.sampler;
  }

  /** After the run: writes the profile and prints the table. CliError if the file cannot be written. */
  finish(machine: PcMachine, stderr: (text: string) => void): CpuProfile {
    machine.sampler = null;
    const recording = this.sampler!.finish();
    const profile = buildCpuProfile(recording, this.symbols!, { image: this.image, accel: this.options.accel, clock: this.options.clock });
    if (this.top !== undefined) stderr(formatTopTable(profile, this.top));
    if (this.file !== undefined) {
      try {
        writeFileSync(this.file, JSON.stringify(profile));
      } catch (error) {
        throw new CliError(`--profile: cannot write ${describeFsError(this.file, error)}`);
      }
      stderr(`profile: ${profile.samples.length} samples written to ${this.file} (Chrome DevTools or speedscope open it; \`x64emu profile ${this.file}\` prints the table)\n`);
    }
    return profile;
  }
}

/** Fails before the guest runs when `file` could not be written at its end. */
function checkWritable(file: string): void {
  try {
    if (statSync(file).isDirectory()) throw new CliError(`--profile: ${file}: is a directory`);
    accessSync(file, constants.W_OK);
  } catch (error) {
    if (error instanceof CliError) throw error;
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw new CliError(`--profile: ${describeFsError(file, error)}`);
  }
  const directory = dirname(file);
  try {
    if (!statSync(directory).isDirectory()) throw new CliError(`--profile: ${directory}: not a directory`);
    accessSync(directory, constants.W_OK);
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw new CliError(`--profile: cannot write into ${describeFsError(directory, error)}`);
  }
}
