// The oracle's driver: generates cases in batches, runs each batch on the host (one harness process
// per batch) and on the emulator (or several, over the same cases: the JIT configurations),
// compares, and keeps the failures (up to a cap) and the coverage. Memory stays flat for any case
// count.

import { Coverage, DEFAULT_SEED, generateCase, type OracleCase } from "./generate.js";
import { compareOutcomes, symptomOf, type Failure } from "./compare.js";
import { nativeOutcome, type EmulatorUnderTest } from "./emulator.js";
import { runNative } from "./native.js";

export interface OracleRunOptions {
  seed: number;
  cases: number;
  /** the first case index (default 0) */
  first?: number;
  batch?: number;
  privileged?: boolean;
  /** failures kept in full (the rest are only counted per form) */
  keepFailures?: number;
  /** replaces each generated case (null drops it): e.g. loopCaseOf */
  transform?: (c: OracleCase) => OracleCase | null;
  onBatch?: (done: number, failures: number) => void;
}

export interface OracleRunResult {
  total: number;
  failures: Failure[];
  failureCount: number;
  /** failing cases per form, including those not kept */
  failuresByForm: Map<string, number>;
  /** failing cases and forms per symptom (see symptomOf) */
  failuresBySymptom: Map<string, { cases: number; forms: Set<string> }>;
  coverage: Coverage;
  nativeSeconds: number;
  emulatorSeconds: number;
  generateSeconds: number;
}

export function parseNumber(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined || text.trim() === "") return fallback;
  const value = Number(text.trim().replace(/_/g, ""));
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${name} must be a non-negative integer, got '${text}'`);
  return value;
}

export const seedFromEnv = () => parseNumber("ORACLE_SEED", process.env.ORACLE_SEED, DEFAULT_SEED) >>> 0;
export const seedText = (seed: number) => `0x${seed.toString(16)}`;
/** The repro script's arguments that regenerate a run's cases. */
export const reproArgs = (seed: number, privileged: boolean, engine = "interp") =>
  `--seed ${seedText(seed)}${privileged ? " --privileged" : ""}${engine !== "interp" ? ` --engine ${engine}` : ""}`;
export const privilegedFromEnv = () => process.env.ORACLE_PRIVILEGED === "1";

export function generateBatch(seed: number, first: number, count: number, privileged: boolean): OracleCase[] {
  const cases: OracleCase[] = [];
  for (let i = 0; i < count; i++) cases.push(generateCase(seed, first + i, { privileged }));
  return cases;
}

export function runOracle(emulator: EmulatorUnderTest, options: OracleRunOptions): OracleRunResult {
  return runOracleOnEach([emulator], options)[0];
}

/**
 * Runs every batch on the host once and on each emulator (the JIT configurations share the cases
 * and the host's results); one result per emulator.
 */
export function runOracleOnEach(emulators: readonly EmulatorUnderTest[], options: OracleRunOptions): OracleRunResult[] {
  return runOracleSuites([{ emulators, transform: options.transform }], options)[0];
}

/** Emulators that run one version of the generated cases (`transform` makes it, e.g. loopCaseOf). */
export interface OracleSuite {
  emulators: readonly EmulatorUnderTest[];
  transform?: (c: OracleCase) => OracleCase | null;
}

/**
 * Generates every batch once and runs each suite's version of it on the host once and on each of
 * the suite's emulators; results[suite][emulator].
 */
export function runOracleSuites(suites: readonly OracleSuite[], options: OracleRunOptions): OracleRunResult[][] {
  const batch = options.batch ?? 5000;
  const keep = options.keepFailures ?? 2000;
  const first = options.first ?? 0;
  const results: OracleRunResult[][] = suites.map((suite) => suite.emulators.map(() => ({
    total: 0, failures: [], failureCount: 0, failuresByForm: new Map(), failuresBySymptom: new Map(), coverage: new Coverage(),
    nativeSeconds: 0, emulatorSeconds: 0, generateSeconds: 0,
  })));
  for (let start = 0; start < options.cases; start += batch) {
    const count = Math.min(batch, options.cases - start);
    let t = performance.now();
    const generated = generateBatch(options.seed, first + start, count, options.privileged ?? false);
    const generateSeconds = (performance.now() - t) / 1000;
    suites.forEach((suite, s) => {
      const cases = suite.transform ? generated.map(suite.transform).filter((c): c is OracleCase => c !== null) : generated;
      t = performance.now();
      const native = runNative(cases);
      const nativeSeconds = (performance.now() - t) / 1000;
      const nativeResults = cases.map((c, i) => nativeOutcome(c, native[i]));
      suite.emulators.forEach((emulator, e) => {
        const result = results[s][e];
        result.generateSeconds += generateSeconds;
        result.nativeSeconds += nativeSeconds;
        t = performance.now();
        const emulated = emulator.run(cases);
        result.emulatorSeconds += (performance.now() - t) / 1000;
        for (let i = 0; i < cases.length; i++) {
          const c = cases[i];
          result.coverage.add(c);
          const nativeResult = nativeResults[i];
          const differences = compareOutcomes(c, nativeResult, emulated[i]);
          if (differences.length === 0) continue;
          result.failureCount++;
          result.failuresByForm.set(c.group, (result.failuresByForm.get(c.group) ?? 0) + 1);
          const symptom = symptomOf(differences);
          const entry = result.failuresBySymptom.get(symptom) ?? { cases: 0, forms: new Set<string>() };
          entry.cases++;
          entry.forms.add(c.group);
          result.failuresBySymptom.set(symptom, entry);
          // Keep the first few of every form, up to the cap.
          if (result.failures.length < keep && (result.failuresByForm.get(c.group) ?? 0) <= 3) {
            result.failures.push({ c, native: nativeResult, emulator: emulated[i], differences });
          }
        }
        result.total += cases.length;
      });
    });
    options.onBatch?.(results[0][0].total, results.flat().reduce((sum, r) => sum + r.failureCount, 0));
  }
  return results;
}
