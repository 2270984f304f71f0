// `x64emu bench` end to end: the guest's store bench (a short one) on the JIT and the interpreter
// through the built entry point, the table, the head-hash check, --json/--svg/--html (the SVG parsed
// as XML, the page checked by html-validate), QEMU replaced by a fake on PATH to see the reference
// command line, a disagreeing engine and a failing one, QEMU missing from PATH, a workload that
// fails everywhere, the malformed command lines, and `bench compare` on hand-made reports.
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DOMParser, onErrorStopParsing } from "@xmldom/xmldom";
import { HtmlValidate } from "html-validate";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BenchReport } from "../../src/bench/report.js";
import { guestImage } from "../jit/support/guest-image.js";
import { repoRoot, runInProcess } from "./run-cli.js";

const SHORT = "bench commits=2 depth=2 tree_add=2";
const tmp = mkdtempSync(join(tmpdir(), "x64emu-bench-cmd-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let image = "";
/** A directory holding a fake qemu-system-x86_64 (FAKE_QEMU_MODE: differ | fail), and an empty one. */
const fakeBin = join(tmp, "fake-bin");
const emptyBin = join(tmp, "empty-bin");
const fakeArgs = join(tmp, "fake-qemu-args.txt");

beforeAll(() => {
  execFileSync("npm", ["run", "--silent", "build:cli"], { cwd: repoRoot, stdio: "ignore" });
  image = guestImage();
  mkdirSync(fakeBin);
  mkdirSync(emptyBin);
  // 128 hex digits that are not the bench's head hash.
  const otherHead = "ab".repeat(64);
  writeFileSync(
    join(fakeBin, "qemu-system-x86_64"),
    `#!/bin/sh
if [ "$1" = "--version" ]; then echo "QEMU emulator version 9.9.9 (fake)"; exit 0; fi
printf '%s\\n' "$@" > "${fakeArgs}"
if [ "$FAKE_QEMU_MODE" = "fail" ]; then echo "error: fake qemu: the guest broke"; exit 3; fi
echo "[init done]"
echo "head: ${otherHead}"
exit 1
`,
  );
  chmodSync(join(fakeBin, "qemu-system-x86_64"), 0o755);
}, 180_000);

/** `tsx src/cli.ts bench ARGS` as a child process, with `env` added. */
function bench(args: string[], env: Record<string, string> = {}) {
  const result = spawnSync(process.execPath, ["--import", "tsx", "src/cli.ts", "bench", ...args], {
    cwd: repoRoot,
    encoding: "utf8",
    timeout: 120_000,
    env: { ...process.env, X64EMU_DEBUG: "", ...env },
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

const errorLines = (stderr: string) => stderr.split("\n").filter((line) => line !== "");
/** The table's row for `label` (the line that starts with it), split at runs of 2+ spaces. */
const tableRow = (stdout: string, label: string) => stdout.split("\n").find((line) => line.startsWith(`${label}  `))?.split(/\s{2,}/);

describe("x64emu bench on the JIT and the interpreter", () => {
  let run: ReturnType<typeof bench>;
  const json = join(tmp, "report.json");
  const svg = join(tmp, "chart.svg");
  const html = join(tmp, "page.html");
  beforeAll(() => {
    run = bench(["--engines", "jit,interp", "--image", image, "--append", SHORT, "--repeats", "2", "--json", json, "--svg", svg, "--html", html]);
  }, 120_000);

  it("prints a table with both engines and the head hash every engine agreed on, exit status 0", () => {
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    const header = run.stdout.split("\n").find((line) => line.startsWith("engine "))!;
    for (const column of ["wall s: median (min–max)", "guest instr", "MIPS", "speedup vs interp", "JIT units", "compile ms", "dispatches", "in JIT code"]) {
      expect(header).toContain(column);
    }
    // no QEMU or native run: their ratio columns are left out
    expect(header).not.toContain("QEMU");
    const jit = tableRow(run.stdout, "JIT")!;
    const interp = tableRow(run.stdout, "interpreter")!;
    expect(jit[1]).toMatch(/^\d+\.\d+ \(\d+\.\d+–\d+\.\d+\)$|^\d+\.\d+$/);
    expect(jit[2]).toBe("2");
    expect(interp[2]).toBe("2");
    expect(interp[5]).toBe("1.00x"); // the interpreter against itself
    expect(jit[9]).toMatch(/^\d+\.\d%$/); // share of instructions in JIT code
    expect(interp.slice(6)).toEqual(["-", "-", "-", "-"]);
    expect(run.stdout).toMatch(/^head [0-9a-f]{16}… on every engine that ran \(jit, interp\)$/m);
    // plain progress lines (stdout is not a terminal): one as each run starts, one as it ends
    expect(run.stdout).toMatch(/^\[1\/4\] JIT run 1\/2\.\.\.$/m);
    expect(run.stdout).toMatch(/^\[4\/4\] interpreter run 2\/2: \d+\.\d\d s, \d+\.\d MIPS, head [0-9a-f]{16}…$/m);
  });

  it("--json has every run's figures, the machine, the commit and the image's sha256", () => {
    const report = JSON.parse(readFileSync(json, "utf8")) as BenchReport;
    expect(report.format).toBe("x64emu-bench-report");
    expect(report.settings).toMatchObject({ workload: SHORT, clock: "realtime", repeats: 2, engines: "jit,interp" });
    expect(report.image!.sha256).toBe(createHash("sha256").update(readFileSync(image)).digest("hex"));
    const head = spawnSync("git", ["rev-parse", "HEAD"], { cwd: repoRoot, encoding: "utf8" }).stdout.trim();
    expect(report.emulator.commit).toBe(head);
    expect(report.machine.cores).toBeGreaterThan(0);
    expect(report.machine.node).toBe(process.version);
    expect(report.machine.v8).toBe(process.versions.v8);
    expect(report.machine.cpu).not.toBe("");
    expect("qemu" in report.machine).toBe(true);
    expect(report.rows.map((row) => [row.name, row.status, row.runs.length])).toEqual([["jit", "ok", 2], ["interp", "ok", 2]]);
    const heads = new Set(report.rows.flatMap((row) => row.runs.map((r) => r.head)));
    expect(heads.size).toBe(1);
    expect([...heads][0]).toMatch(/^[0-9a-f]{128}$/);
    expect(report.check).toMatchObject({ by: "head", agree: true });
    for (const row of report.rows) {
      for (const r of row.runs) {
        expect(r.ok).toBe(true);
        expect(r.exitStatus).toBe(1);
        expect(r.figures.wallSeconds).toBeGreaterThan(0);
        expect(r.figures.instructions).toBeGreaterThan(0);
        expect(r.figures.mips).toBeGreaterThan(0);
        expect(r.stats![0]).toMatch(/^stats: \d+ guest instructions/);
        // the --stats line and the figures agree
        expect(r.stats![0]).toContain(`stats: ${r.figures.instructions} guest instructions`);
      }
    }
    const jitRun = report.rows[0].runs[0];
    expect(jitRun.figures.jitUnits).toBeGreaterThan(0);
    expect(jitRun.figures.jitDispatches).toBeGreaterThan(0);
    expect(jitRun.figures.jitShare).toBeGreaterThan(0);
    expect(jitRun.stats![1]).toContain(`${jitRun.figures.jitUnits} units compiled`);
    expect(report.rows[1].runs[0].figures.jitUnits).toBeUndefined();
    expect(report.errors).toEqual([]);
  });

  it("--svg is a well-formed SVG document naming both engines", () => {
    const text = readFileSync(svg, "utf8");
    const document = new DOMParser({ onError: onErrorStopParsing }).parseFromString(text, "image/svg+xml");
    const root = document.documentElement!;
    expect(root.tagName).toBe("svg");
    expect(root.getAttribute("xmlns")).toBe("http://www.w3.org/2000/svg");
    const texts = Array.from(document.getElementsByTagName("text")).map((node) => node.textContent);
    expect(texts).toContain("JIT");
    expect(texts).toContain("interpreter");
    expect(texts).toContain("guest MIPS");
    // whiskers: a rule (line path) per engine and panel besides the axes
    expect(text).toContain("wall time per run");
  });

  it("--html is a valid HTML page with the chart and the table", async () => {
    const text = readFileSync(html, "utf8");
    const report = await new HtmlValidate().validateString(text, "page.html");
    expect(report.results.flatMap((result) => result.messages.map((m) => `${m.ruleId}: ${m.message}`))).toEqual([]);
    expect(report.valid).toBe(true);
    expect(text).toContain("<svg");
    expect(text).toMatch(/<td>JIT<\/td>/);
    expect(text).toMatch(/<td>interpreter<\/td>/);
    expect(text).toMatch(/head [0-9a-f]{16}… on every engine that ran/);
  });

  it("bench compare of the report with itself: every ratio 1, nothing flagged", async () => {
    const result = await runInProcess(["bench", "compare", json, json]);
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    const rows = result.stdout.split("\n").filter((line) => /^(JIT|interpreter)\s/.test(line));
    expect(rows.length).toBeGreaterThan(5);
    for (const row of rows) expect(row).toMatch(/\s1\.000$/);
    expect(result.stdout).toMatch(/ figures compared, 0 with ranges that do not overlap$/m);
  });
});

describe("x64emu bench with QEMU replaced by a fake on PATH", () => {
  it("runs QEMU with the reference command line; another head hash is an error (one line, status 1)", () => {
    const run = bench(["--engines", "jit,qemu", "--image", image, "--append", SHORT], { PATH: `${fakeBin}:${process.env.PATH}`, FAKE_QEMU_MODE: "differ" });
    expect(readFileSync(fakeArgs, "utf8").trim().split("\n")).toEqual([
      "-accel", "tcg", "-machine", "q35", "-m", "512", "-nodefaults", "-display", "none", "-serial", "stdio", "-no-reboot",
      "-kernel", image, "-append", SHORT, "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
    ]);
    expect(run.status).toBe(1);
    const errors = errorLines(run.stderr);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^error: results differ: head [0-9a-f]{16}… on jit; head abababababababab… on qemu$/);
    expect(run.stdout).toContain("RESULTS DIFFER");
    // the table is still there, with QEMU's column and its estimated MIPS
    expect(tableRow(run.stdout, "QEMU TCG")![4]).toMatch(/^~/);
    expect(tableRow(run.stdout, "QEMU TCG")![5]).toBe("1.00x");
  });

  it("an engine that fails stops; the others run every repeat; the error says why", () => {
    const json = join(tmp, "failed.json");
    const run = bench(["--engines", "qemu,jit", "--image", image, "--append", SHORT, "--repeats", "2", "--json", json], { PATH: `${fakeBin}:${process.env.PATH}`, FAKE_QEMU_MODE: "fail" });
    expect(run.status).toBe(1);
    expect(errorLines(run.stderr)).toEqual(["error: qemu: run 1 failed: exit status 3: error: fake qemu: the guest broke"]);
    const report = JSON.parse(readFileSync(json, "utf8")) as BenchReport;
    const qemu = report.rows.find((row) => row.name === "qemu")!;
    const jit = report.rows.find((row) => row.name === "jit")!;
    expect(qemu.status).toBe("failed");
    expect(qemu.runs).toHaveLength(1);
    expect(jit.status).toBe("ok");
    expect(jit.runs).toHaveLength(2);
    expect(jit.runs.every((r) => r.ok)).toBe(true);
    expect(run.stdout).toMatch(/^QEMU TCG: failed: exit status 3/m);
    expect(report.machine.qemu).toBe("9.9.9 (fake)");
  });
});

describe("x64emu bench without QEMU on PATH", () => {
  it("--engines jit,qemu: QEMU is skipped with one error line (status 1), the JIT still runs", () => {
    const run = bench(["--engines", "jit,qemu", "--image", image, "--append", SHORT], { PATH: emptyBin });
    expect(run.status).toBe(1);
    expect(errorLines(run.stderr)).toEqual(["error: qemu: skipped: qemu-system-x86_64 is not installed (not found on PATH)"]);
    expect(tableRow(run.stdout, "QEMU TCG")![1]).toBe("skipped");
    expect(tableRow(run.stdout, "JIT")![2]).toBe("1");
    expect(run.stdout).toMatch(/^QEMU TCG: skipped: qemu-system-x86_64 is not installed$/m);
  });

  it("by default QEMU is left out quietly: jit and interp, status 0", () => {
    const run = bench(["--image", image, "--append", SHORT], { PATH: emptyBin });
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    expect(tableRow(run.stdout, "JIT")).toBeDefined();
    expect(tableRow(run.stdout, "interpreter")).toBeDefined();
    expect(run.stdout).not.toContain("QEMU TCG");
  });
});

describe("x64emu bench errors", () => {
  it("a workload that fails: one error line per engine with the guest's message, status 1", () => {
    const run = bench(["--engines", "jit,interp", "--image", image, "--append", "nosuch"]);
    expect(run.status).toBe(1);
    const errors = errorLines(run.stderr);
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatch(/^error: jit: run 1 failed: exit status 5: cmdline: error: unknown workload 'nosuch'/);
    expect(errors[1]).toMatch(/^error: interp: run 1 failed: exit status 5: cmdline: error: unknown workload 'nosuch'/);
  });

  it.each([
    [["--engines", "jit,fast"], /^error: --engines: unknown engine 'fast' \(engines: jit, interp, check, qemu, native\)$/],
    [["--engines", ","], /^error: --engines: expected a comma list of jit,interp,check,qemu,native$/],
    [["--repeats", "0"], /^error: --repeats: expected a positive integer, got "0"$/],
    [["--repeats", "two"], /^error: --repeats: expected a positive integer, got "two"$/],
    [["--clock", "fast"], /^error: option '--clock <kind>' argument 'fast' is invalid/],
    [["--speed"], /^error: unknown option '--speed'/],
    [["extra"], /^error: too many arguments for 'bench'/],
  ])("bench %j: one error line, status 2, nothing run", async (args, message) => {
    const result = await runInProcess(["bench", "--image", image, ...args]);
    expect(result.status).toBe(2);
    expect(errorLines(result.stderr)).toHaveLength(1);
    expect(result.stderr.trim()).toMatch(message);
    expect(result.stdout).toBe("");
  });

  it("a missing image or output directory: one error line, status 1, nothing run", async () => {
    const missing = await runInProcess(["bench", "--image", join(tmp, "nope.elf")]);
    expect(missing).toEqual({ status: 1, stdout: "", stderr: `error: ${join(tmp, "nope.elf")}: no such file\n` });
    const badDir = await runInProcess(["bench", "--image", image, "--json", join(tmp, "no/such/dir/r.json")]);
    expect(badDir.status).toBe(1);
    expect(badDir.stderr).toMatch(/^error: --json .*: no such directory .*\n$/);
    expect(badDir.stdout).toBe("");
  });
});

/** A report with one row per engine and the given wall times (one run each). */
function handMade(wall: Record<string, number[]>, mips: Record<string, number[]> = {}): BenchReport {
  return {
    format: "x64emu-bench-report",
    version: 1,
    kind: "engines",
    suite: "engines",
    title: "store bench 'bench'",
    date: "2024-01-01T00:00:00.000Z",
    settings: { workload: "bench", repeats: 3, clock: "realtime" },
    image: { path: "build/kernel.elf", sha256: "0".repeat(64), bytes: 1 },
    emulator: { version: "0.1.0", commit: "1".repeat(40), dirty: false },
    machine: { cpu: "test cpu", cores: 2, memoryGiB: 1, os: "linux", node: "v20", v8: "11", qemu: null },
    figures: { wallSeconds: { label: "wall time", unit: "s", better: "lower" }, mips: { label: "guest MIPS", unit: "MIPS", better: "higher" } },
    rows: Object.entries(wall).map(([name, values]) => ({
      name,
      label: name,
      status: "ok" as const,
      runs: values.map((value, i) => ({ repeat: i + 1, ok: true, figures: { wallSeconds: value, ...(mips[name] ? { mips: mips[name][i] } : {}) } })),
    })),
    errors: [],
  };
}

describe("x64emu bench compare", () => {
  const write = (name: string, report: unknown) => {
    const path = join(tmp, name);
    writeFileSync(path, JSON.stringify(report));
    return path;
  };

  it("gives new/old of the medians and flags ranges that do not overlap, better or worse by the figure's direction", async () => {
    const older = write("old.json", handMade({ jit: [10, 11, 12], interp: [100, 110, 120], qemu: [4, 5, 6] }, { jit: [500, 510, 520] }));
    const newer = write("new.json", handMade({ jit: [5, 5.5, 6], interp: [105, 111, 130], native: [1, 1, 1] }, { jit: [900, 1000, 1100] }));
    const result = await runInProcess(["bench", "compare", older, newer]);
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    const line = (row: string, figure: string) => result.stdout.split("\n").find((l) => l.startsWith(row) && l.includes(figure))!;
    // jit wall: 5.5 / 11 = 0.5, ranges 5–6 vs 10–12 apart, lower is better
    expect(line("jit", "wall time")).toMatch(/\s11\.0 \(10\.0–12\.0\)\s+5\.50 \(5\.00–6\.00\)\s+0\.500\s+\*\* better \(lower is better; ranges apart\)$/);
    // jit MIPS: 1000 / 510, higher is better
    expect(line("jit", "guest MIPS")).toMatch(/\s1\.961\s+\*\* better \(higher is better; ranges apart\)$/);
    // interp: 111 / 110, ranges overlap: no flag
    expect(line("interp", "wall time")).toMatch(/\s1\.009$/);
    expect(result.stdout).toMatch(/^only in old: qemu$/m);
    expect(result.stdout).toMatch(/^only in new: native$/m);
    expect(result.stdout).toMatch(/^3 figures compared, 2 with ranges that do not overlap$/m);
    // and the other way round: worse
    const back = await runInProcess(["bench", "compare", newer, older]);
    expect(back.stdout.split("\n").find((l) => l.startsWith("jit") && l.includes("wall time"))).toMatch(/\s2\.000\s+\*\* WORSE \(lower is better; ranges apart\)$/);
  });

  it("notes different images, workloads and machines", async () => {
    const a = handMade({ jit: [1] });
    const b = handMade({ jit: [1] });
    b.image!.sha256 = "f".repeat(64);
    b.settings.workload = "bench commits=10";
    b.machine.cpu = "other cpu";
    const result = await runInProcess(["bench", "compare", write("a.json", a), write("b.json", b)]);
    expect(result.stdout).toContain("note: the guest images differ (sha256)");
    expect(result.stdout).toContain("note: different workloads ('bench' / 'bench commits=10')");
    expect(result.stdout).toContain("note: different machines");
  });

  it("refuses what is not a report: one error line, status 1; a missing argument is status 2", async () => {
    const good = write("good.json", handMade({ jit: [1] }));
    const notJson = join(tmp, "not.json");
    writeFileSync(notJson, "{ nope");
    const other = write("other.json", { format: "something else" });
    const broken = write("broken.json", { ...handMade({ jit: [1] }), rows: [{ name: "jit", runs: [{}] }] });
    for (const [path, message] of [
      [notJson, /^error: .*not\.json: not JSON \(/],
      [other, /^error: .*other\.json: not a benchmark report \(no "format": "x64emu-bench-report"\)$/],
      [broken, /^error: .*broken\.json: malformed report \(a run of jit without figures\)$/],
      [join(tmp, "absent.json"), /^error: .*absent\.json: no such file$/],
    ] as const) {
      const result = await runInProcess(["bench", "compare", good, path]);
      expect(result.status).toBe(1);
      expect(errorLines(result.stderr)).toHaveLength(1);
      expect(result.stderr.trim()).toMatch(message);
    }
    const missing = await runInProcess(["bench", "compare", good]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toBe("error: missing required argument 'new'\n");
  });
});

describe("the built entry point", () => {
  it("loads vega and vega-lite from node_modules, and only when a chart is asked for", () => {
    const bundle = readFileSync(join(repoRoot, "dist/x64emu.mjs"), "utf8");
    expect(bundle).toMatch(/import\("vega"\)/);
    expect(bundle).toMatch(/import\("vega-lite"\)/);
    expect(bundle).not.toMatch(/from\s*"vega(-lite)?"/);
    // A module-resolution hook logs every request for vega or vega-lite.
    const log = join(tmp, "resolved.txt");
    writeFileSync(join(tmp, "hooks.mjs"), `import { appendFileSync } from "node:fs";
export async function resolve(specifier, context, next) {
  if (/^vega(-lite)?$/.test(specifier)) appendFileSync(${JSON.stringify(log)}, specifier + "\\n");
  return next(specifier, context);
}
`);
    writeFileSync(join(tmp, "register.mjs"), `import { register } from "node:module";\nregister("./hooks.mjs", import.meta.url);\n`);
    const traced = (args: string[]) => spawnSync(process.execPath, ["--import", join(tmp, "register.mjs"), ...args], { cwd: repoRoot, encoding: "utf8" });
    const help = traced([join(repoRoot, "dist/x64emu.mjs"), "bench", "--help"]);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain("compare <old> <new>");
    expect(() => readFileSync(log, "utf8")).toThrow(); // nothing resolved
    // the hook sees them when they are imported, from the project's node_modules
    const loaded = traced(["--input-type=module", "-e", "const v = await import('vega'); await import('vega-lite'); console.log(import.meta.resolve('vega'), typeof v.View)"]);
    expect(loaded.stdout).toContain(`file://${join(repoRoot, "node_modules/vega/")}`);
    expect(loaded.stdout).toContain("function");
    expect(new Set(readFileSync(log, "utf8").trim().split("\n"))).toEqual(new Set(["vega", "vega-lite"]));
  });
});
