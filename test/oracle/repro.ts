// Reproduces one oracle case: regenerates it from its seed and index, runs it on the host and on the
// emulator and prints both states and their differences.
//
//   npx tsx test/oracle/repro.ts INDEX [--seed 0x0ac1e5ed] [--privileged] [--json] [--engine interp|jit-blocks|jit-single|jit-slices|jit-helpers] [--loop]
//
// --engine picks the emulator's engine: the interpreter (runUserMode, default) or the JIT with
// multi-instruction blocks and regions, or with one instruction per compiled unit (jit-runner.ts);
// jit-slices runs blocks and regions in batches of 1-8 instructions; jit-helpers is the blocks
// configuration with every instruction through the shared semantics.
// --loop runs the case's loop version (loops.ts; sequence cases only).
// ORACLE_EMULATOR=native compares the host with itself (harness self-check).

import { compareOutcomes, describeFailure } from "./compare.js";
import { ENGINES, loadEmulator, nativeOutcome, type EngineName } from "./emulator.js";
import { disassemble, generateCase } from "./generate.js";
import { loopCaseOf } from "./loops.js";
import { GPR_NAMES, hex, hex64 } from "./layout.js";
import { runNative } from "./native.js";
import { parseNumber, reproArgs, seedFromEnv } from "./run.js";

function usage(message: string): never {
  console.error(`error: ${message}\nusage: npx tsx test/oracle/repro.ts INDEX [--seed SEED] [--privileged] [--json] [--engine ${ENGINES.join("|")}] [--loop]`);
  process.exit(2);
}

const args = process.argv.slice(2);
let seed = seedFromEnv();
let privileged = process.env.ORACLE_PRIVILEGED === "1";
let json = false;
let index: number | undefined;
let engine: EngineName = "interp";
let loop = false;
for (let i = 0; i < args.length; i++) {
  const arg = args[i];
  if (arg === "--seed") seed = parseNumber("--seed", args[++i] ?? usage("--seed needs a value"), 0) >>> 0;
  else if (arg === "--privileged") privileged = true;
  else if (arg === "--json") json = true;
  else if (arg === "--loop") loop = true;
  else if (arg === "--engine") {
    const name = args[++i] ?? usage("--engine needs a value");
    if (!(ENGINES as readonly string[]).includes(name)) usage(`unknown engine '${name}'`);
    engine = name as EngineName;
  }
  else if (/^[0-9]/.test(arg)) index = parseNumber("INDEX", arg, 0);
  else usage(`unknown argument '${arg}'`);
}
if (index === undefined) usage("which case? (INDEX)");

const generated = generateCase(seed, index, { privileged });
const c = loop ? loopCaseOf(generated) : generated;
if (c === null) {
  console.error(`error: case ${index} (${generated.kind}, ${generated.group}) has no loop version`);
  process.exit(2);
}
console.log(`case ${index} of seed 0x${seed.toString(16)}: ${c.kind}, ${c.group}`);
for (const line of disassemble(c)) console.log(`  ${line}`);
if (json) {
  console.log(JSON.stringify({
    code: hex(c.code), gpr: Array.from(c.state.gpr, hex64), rflags: c.state.rflags, xmm: Array.from(c.state.xmm, hex64), mxcsr: c.state.mxcsr,
    scratchSeed: c.scratchSeed, patches: c.patches.map((p) => ({ offset: p.offset, bytes: hex(p.bytes) })),
    undefinedAtEnd: c.undefinedAtEnd, masks: c.masks,
  }, (_, v) => (typeof v === "bigint" ? hex64(v) : v), 2));
}
const native = nativeOutcome(c, runNative([c])[0]);
const emulator = await loadEmulator(engine);
if (typeof emulator === "string") {
  console.log(`emulator: ${emulator}`);
  console.log(`native: rip=${hex64(native.state.rip)} exception=${JSON.stringify(native.exception)} rflags=0x${native.state.rflags.toString(16)} mxcsr=0x${native.state.mxcsr.toString(16)}`);
  for (let i = 0; i < 16; i++) console.log(`  ${GPR_NAMES[i].padStart(3)}=${hex64(native.state.gpr[i])}`);
  process.exit(1);
}
const emulated = emulator.run([c])[0];
const differences = compareOutcomes(c, native, emulated);
if (differences.length === 0) {
  console.log(`${emulator.name} matches the host CPU`);
} else {
  console.log(describeFailure({ c, native, emulator: emulated, differences }, reproArgs(seed, privileged, engine) + (loop ? " --loop" : "")));
  process.exit(1);
}
