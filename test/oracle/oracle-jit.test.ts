// The hardware oracle through the JIT: the same generated cases, seed and comparison as
// oracle.test.ts, with the emulator's side run by the JIT engine (jit-runner.ts) instead of the
// interpreter, in two configurations over the same cases (generated and run on the host once):
//   jit-blocks  the engine's own blocks and loop regions, threshold 1 (every block compiled on its
//               first execution);
//   jit-single  one instruction per compiled unit.
// Then the loop versions of the sequence cases among them (loops.ts: `seq ; loop seq`, 2-24 passes),
// which compile to loop regions, on jit-blocks and on the interpreter (the reference: a loop case
// failing there too is not the JIT's).
//
// Knobs: ORACLE_JIT_CASES (default: ORACLE_CASES when that is set, else the first 30000 cases of
// the seed; 0 skips), ORACLE_SEED, ORACLE_PRIVILEGED=1, ORACLE_REPORT=path (the worklists go to
// path.jit-blocks, path.jit-single, path.loops-interp, path.loops-jit-blocks). Skipped with
// ORACLE_EMULATOR=native. Other configurations: repro.ts --engine.

import { writeFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { OPCODE_TABLE } from "../../src/decoder/index.js";
import { worklist } from "./compare.js";
import { jitConfigOf, loadEmulator, type EmulatorUnderTest, type EngineName } from "./emulator.js";
import type { OracleCase } from "./generate.js";
import { jitCoverageText, jitReport } from "./jit-runner.js";
import { loopCaseOf } from "./loops.js";
import { rowInventory } from "./rows.js";
import { parseNumber, privilegedFromEnv, reproArgs, runOracleSuites, seedFromEnv, type OracleRunResult, type OracleSuite } from "./run.js";
import { hostHas } from "../support/host-tools.js";

/** Cases run through the JIT by default: each configuration costs ~0.5 ms a case, mostly compiling. */
const DEFAULT_JIT_CASES = 30_000;
const TOTAL = parseNumber("ORACLE_JIT_CASES", process.env.ORACLE_JIT_CASES, parseNumber("ORACLE_CASES", process.env.ORACLE_CASES, DEFAULT_JIT_CASES));
const SEED = seedFromEnv();
const PRIVILEGED = privilegedFromEnv();
const REPORT = process.env.ORACLE_REPORT;

const hasGcc = hostHas("gcc");
const onX64Linux = process.platform === "linux" && process.arch === "x64";
const enabled = hasGcc && onX64Linux && TOTAL > 0 && process.env.ORACLE_EMULATOR !== "native";

interface Suite {
  /** "" for the generated cases, "loops" for their loop versions */
  label: string;
  engines: EngineName[];
  transform?: (c: OracleCase) => OracleCase | null;
}

const SUITES: Suite[] = [
  { label: "", engines: ["jit-blocks", "jit-single"] },
  { label: "loops", engines: ["interp", "jit-blocks"], transform: loopCaseOf },
];

describe.runIf(enabled)("hardware oracle through the JIT", () => {
  const results = new Map<string, { result: OracleRunResult; name: string }>();

  beforeAll(async () => {
    const suites: OracleSuite[] = [];
    for (const suite of SUITES) {
      const emulators: EmulatorUnderTest[] = [];
      for (const engine of suite.engines) {
        const emulator = await loadEmulator(engine, suite.label);
        if (typeof emulator === "string") throw new Error(`hardware oracle: ${emulator}`);
        emulators.push(emulator);
      }
      suites.push({ emulators, transform: suite.transform });
    }
    const all = runOracleSuites(suites, { seed: SEED, cases: TOTAL, privileged: PRIVILEGED, batch: 5000 });
    SUITES.forEach((suite, s) => suite.engines.forEach((engine, e) => results.set(`${suite.label}/${engine}`, { result: all[s][e], name: suites[s].emulators[e].name })));
  }, Math.max(180_000, TOTAL * 6));

  for (const suite of SUITES) {
    for (const engine of suite.engines) {
      const what = suite.label === "" ? `${TOTAL} generated cases` : `the ${suite.label} made from ${TOTAL} generated cases`;
      it(`${engine}: matches the host CPU on ${what}`, () => {
        const { result, name } = results.get(`${suite.label}/${engine}`)!;
        const args = reproArgs(SEED, PRIVILEGED, engine) + (suite.label === "loops" ? " --loop" : "");
        const lines = [
          `hardware oracle${suite.label ? ` (${suite.label})` : ""}: ${result.total} cases against ${name} (${args}), ${result.failureCount} differ;` +
            ` generate ${result.generateSeconds.toFixed(1)} s (shared), host ${result.nativeSeconds.toFixed(1)} s (shared), emulator ${result.emulatorSeconds.toFixed(1)} s`,
        ];
        const config = jitConfigOf(engine, suite.label);
        const report = config === null ? null : jitReport(config);
        if (report !== null && suite.label === "") {
          const eligible = new Set(rowInventory().eligible.map((row) => row.id));
          const reached = [...result.coverage.rowCases.keys()].filter((id) => eligible.has(id));
          lines.push(jitCoverageText(report, reached, (id) => OPCODE_TABLE[id].mnemonics[0]));
        } else if (report !== null) {
          const share = report.caseInstructions > 0 ? (100 * report.jitCaseInstructions) / report.caseInstructions : 0;
          lines.push(`JIT: ${report.stats.unitsCompiled} units compiled (${report.stats.regionsCompiled} loop regions); ` +
            `${report.jitCaseInstructions} of ${report.caseInstructions} case instructions retired in compiled code (${share.toFixed(1)} %)`);
        }
        console.log(lines.join("\n"));
        const file = `${REPORT}.${suite.label ? `${suite.label}-` : ""}${engine}`;
        if (REPORT) writeFileSync(file, worklist(result.failures, result.failuresByForm, result.total, args, Infinity, result.failuresBySymptom) + "\n");
        if (result.failureCount > 0) throw new Error(worklist(result.failures, result.failuresByForm, result.total, args, 40, result.failuresBySymptom));
        expect(result.total).toBeGreaterThan(0);
        if (report !== null) {
          // the JIT did run them: most of the cases' instructions retired in compiled code
          expect(report.jitCaseInstructions).toBeGreaterThan(report.caseInstructions / 2);
          if (suite.label === "loops" && engine === "jit-blocks") expect(report.stats.regionsCompiled).toBeGreaterThan(result.total / 4);
        }
      });
    }
  }
});
