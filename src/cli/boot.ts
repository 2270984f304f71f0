// The default action: boot a kernel image (QEMU-like flags). The machine lands in a later issue;
// for now the flags are validated and the command reports that booting is not implemented.

import { statSync } from "node:fs";
import { Option, type Command } from "commander";
import { CliError, describeFsError } from "./errors.js";
import { parseCount } from "./values.js";

export const DEFAULT_IMAGE = "build/kernel.elf";

export interface BootOptions {
  accel: "interp" | "jit" | "check";
  memory?: string;
  append?: string;
}

/** Adds the boot arguments and options to the root command and makes booting its action. */
export function registerBootAction(program: Command): void {
  program
    .argument("[image]", `multiboot kernel image to boot (default ${DEFAULT_IMAGE})`)
    .addOption(
      new Option("--accel <engine>", "execution engine: interp (interpreter), jit, check (both in lockstep)")
        .choices(["interp", "jit", "check"])
        .default("jit"),
    )
    .option("-m, --memory <MiB>", "guest RAM in MiB (default 512)")
    .option("--append <args>", 'kernel command line, e.g. "bench commits=100"')
    .action((image: string | undefined, options: BootOptions) => {
      runBoot(image, options);
    });
}

export function runBoot(image: string | undefined, options: BootOptions): void {
  if (options.memory !== undefined) parseCount(options.memory, "-m/--memory");
  if (image !== undefined) {
    try {
      statSync(image);
    } catch (error) {
      throw new CliError(describeFsError(image, error));
    }
  }
  throw new CliError("booting images is not implemented yet (try the disasm subcommand)");
}
