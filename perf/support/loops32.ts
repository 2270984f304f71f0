// Builds the loops32 guest (perf/support/loops32/: a 32-bit multiboot kernel with a register loop
// and a memory loop, for perf/v86.bench.ts and test/perf-guests/loops32.test.ts) with gcc -m32 and
// ld -m elf_i386. Needs no 32-bit multilib: the code is freestanding (no libc headers but gcc's own
// stdint.h, no libgcc). Reproducible: relative paths in the objects, no build id, no .comment; the
// image goes to build/loops32/loops32-<hash>.elf, named after the flags and the sources, so an
// unchanged guest is built once and a changed one gets a new file.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
export const LOOPS32_SOURCE_DIR = join(repoRoot, "perf/support/loops32");
const SOURCES = ["entry.S", "loops32.c", "loops32.ld"];

/** The two loops the guest runs: `reg N` / `mem N` on its command line. */
export type Loops32Workload = "reg" | "mem";
export const LOOPS32_WORKLOADS: readonly Loops32Workload[] = ["reg", "mem"];

export const LOOPS32_CFLAGS = [
  "-m32", "-march=i686", "-mtune=generic", "-std=gnu11", "-O2", "-ffreestanding", "-nostdlib", "-fno-pic", "-fno-pie",
  "-mgeneral-regs-only", "-mno-sse", "-mno-mmx", "-mno-80387", "-fno-stack-protector", "-fcf-protection=none",
  "-fno-asynchronous-unwind-tables", "-fno-unwind-tables", "-fno-ident", "-fno-common",
  "-Wall", "-Wextra", "-Werror", "-Wmissing-prototypes",
];
const LDFLAGS = ["-m", "elf_i386", "-nostdlib", "-static", "--build-id=none", "-z", "noexecstack", "--no-warn-rwx-segments"];

/** Builds the guest unless the same sources and flags were built before; returns the image's path. */
export function buildLoops32(buildDir: string = join(repoRoot, "build/loops32")): string {
  const digest = createHash("sha256").update(LOOPS32_CFLAGS.join(" ")).update(LDFLAGS.join(" "));
  for (const name of SOURCES) digest.update(name).update(readFileSync(join(LOOPS32_SOURCE_DIR, name)));
  const image = join(buildDir, `loops32-${digest.digest("hex").slice(0, 16)}.elf`);
  if (existsSync(image)) return image;
  mkdirSync(buildDir, { recursive: true });
  // A private directory, renamed into place at the end: concurrent builders never see a half-written image.
  const work = mkdtempSync(join(buildDir, "tmp-"));
  try {
    const run = (command: string, args: string[]) => {
      try {
        execFileSync(command, args, { cwd: LOOPS32_SOURCE_DIR, stdio: ["ignore", "pipe", "pipe"] });
      } catch (error) {
        const detail = (error as { stderr?: Buffer }).stderr?.toString() ?? (error as Error).message;
        throw new Error(`loops32 guest: ${command} ${args.join(" ")} failed:\n${detail}`);
      }
    };
    const prefixMap = `-ffile-prefix-map=${LOOPS32_SOURCE_DIR}/=`;
    run("gcc", [...LOOPS32_CFLAGS, prefixMap, "-c", "entry.S", "-o", join(work, "entry.o")]);
    run("gcc", [...LOOPS32_CFLAGS, prefixMap, "-c", "loops32.c", "-o", join(work, "loops32.o")]);
    run("ld", [...LDFLAGS, "-T", "loops32.ld", "-o", join(work, "loops32.elf"), join(work, "entry.o"), join(work, "loops32.o")]);
    renameSync(join(work, "loops32.elf"), image);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return image;
}

/** The guest's line for `workload` and `iterations` (null if it printed none). */
export function loops32Result(output: string, workload: Loops32Workload, iterations: number): string | null {
  const match = new RegExp(`^loops32 ${workload} n=${iterations} checksum=([0-9a-f]{16})\\s*$`, "m").exec(output);
  return match === null ? null : match[1];
}
