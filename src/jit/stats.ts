// The JIT's part of --stats.
import type { JitStats } from "./engine.js";

export function formatJitStats(s: JitStats, instructions: number): string {
  const lookups = s.cacheHits + s.cacheMisses;
  const share = instructions > 0 ? (100 * s.jitInstructions) / instructions : 0;
  return (
    `stats: jit: ${s.unitsCompiled} units compiled (${s.regionsCompiled} loop regions) in ${s.compileMs.toFixed(1)} ms; ` +
    (s.wasmModules > 0 ? `${s.wasmModules} WebAssembly modules, ${s.packsCompiled} of them recompiling ${s.unitsPacked} units into packs; ` : "") +
    `code cache ${s.cacheUnits} units, ${(s.cacheSourceBytes / 1024).toFixed(1)} KiB of JS; ` +
    `${s.dispatches} dispatches, ${s.linkHits} by direct link, ${s.chainedDispatches > 0 ? `${s.chainedDispatches} chained in WebAssembly, ` : ""} ${s.jumpCacheHits} by the jump cache, cache hit rate ${lookups > 0 ? ((100 * s.cacheHits) / lookups).toFixed(1) : "0.0"}% of ${lookups} lookups; ` +
    `${s.invalidations} invalidations; ${s.interpreterSteps} instructions in the interpreter; ` +
    `${share.toFixed(1)}% of instructions in JIT code\n`
  );
}
