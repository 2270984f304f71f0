// Source maps for compiled units: every generated line of an instruction's code maps to that
// instruction's line in a virtual "guest source" (`guest/<name>.asm`, one `<address>: <disassembly>`
// line per instruction, embedded in the map's sourcesContent), so DevTools and
// `node --enable-source-maps` show guest addresses and disassembly instead of generated JavaScript.
//
// Line numbering. `new Function("E", body)` compiles the script
//   (function anonymous(E
//   ) {
//   <body>
//   })
// (ECMA-262 CreateDynamicFunction: prefix + " anonymous(" + params + "\n) {" + "\n" + body + "\n}";
// V8 adds the parentheses). Stack traces, the inspector (Debugger.getScriptSource) and source map
// lookups (Node's and DevTools') all count lines in that script, so body line L (0-based) is script
// line L + 2 (0-based), i.e. line L + 3 in the 1-based lines of a source map.
//
// V8 honours `//# sourceURL=` and `//# sourceMappingURL=` comments inside new Function code (they
// are reported to the inspector with the script); Node resolves an inline `data:` map for such code
// when source maps are enabled (--enable-source-maps, or process.setSourceMapsEnabled(true) before
// the unit is compiled: Node reads the map when the code is compiled, not when an error is thrown).
// A relative map URL (`x.js.map`) is not resolved for new Function code, hence the inline map.
//
// Only numbers and fixed text reach executable code: the disassembly is in the map's JSON, which
// the source carries base64-encoded inside a comment.
import { SourceMapGenerator } from "source-map";
import type { Instruction } from "../decoder/decode.js";
import { formatIntel } from "../decoder/format.js";

/** Lines new Function puts before the body: "(function anonymous(E" and ") {". */
export const NEW_FUNCTION_HEADER_LINES = 2;

/** What finishSource needs of a TranslatedUnit (src/jit/translate.ts). */
export interface MappableUnit {
  /** the body for new Function("E", body), lines separated by "\n" */
  readonly body: string;
  readonly instructions: readonly Instruction[];
  /** linear address of each instruction */
  readonly rips: Float64Array;
  /** 0-based line in `body` where each instruction's code starts (ascending) */
  readonly lines: Int32Array;
}

export interface FinishedSource {
  /** the body followed by `//# sourceURL=jit/<name>.js` and an inline `//# sourceMappingURL=data:…` */
  readonly source: string;
  /** the source map, JSON (what --jit-dump writes as <name>.js.map) */
  readonly map: string;
}

/** Unit names become file names and comment text: nothing that could end a comment line or a path segment. */
const SAFE_NAME = /^[A-Za-z0-9_.-]+$/;

const SOURCE_URL_PREFIX = "//# sourceURL=";
const SOURCE_MAPPING_URL_PREFIX = "//# sourceMappingURL=";

/** The guest source's path in the map (relative to the map: resolved next to the unit's .js). */
export function guestSourceName(name: string): string {
  return `guest/${name}.asm`;
}

/**
 * The source for `new Function("E", source)` (with a sourceURL and an inline source map) and the map
 * as JSON. Generated line lines[k] .. lines[k+1]-1 (the last instruction: to the end of the body)
 * map to column 0 of line k+1 of the guest source; the lines before the first instruction are left
 * unmapped.
 */
export function finishSource(name: string, translated: MappableUnit): FinishedSource {
  if (!SAFE_NAME.test(name)) throw new Error(`finishSource: unsafe unit name ${JSON.stringify(name)}`);
  const { body, instructions, rips, lines } = translated;
  const count = instructions.length;
  if (rips.length !== count || lines.length !== count) {
    throw new Error(`finishSource: ${count} instructions, ${rips.length} addresses, ${lines.length} lines`);
  }
  let bodyLines = 1;
  for (let at = body.indexOf("\n"); at !== -1; at = body.indexOf("\n", at + 1)) bodyLines++;

  const guest = guestSourceName(name);
  const generator = new SourceMapGenerator({ file: `${name}.js` });
  for (let k = 0; k < count; k++) {
    const start = lines[k];
    const end = k + 1 < count ? lines[k + 1] : bodyLines;
    if (start < 0 || start >= bodyLines || end < start || end > bodyLines) {
      throw new Error(`finishSource: instruction ${k} at body lines [${start}, ${end}) of ${bodyLines}`);
    }
    for (let line = start; line < end; line++) {
      generator.addMapping({
        generated: { line: line + NEW_FUNCTION_HEADER_LINES + 1, column: 0 },
        original: { line: k + 1, column: 0 },
        source: guest,
      });
    }
  }
  generator.setSourceContent(guest, guestListing(instructions, rips));
  const map = generator.toString();
  const inline = `data:application/json;charset=utf-8;base64,${Buffer.from(map, "utf8").toString("base64")}`;
  const source = `${body}\n${SOURCE_URL_PREFIX}jit/${name}.js\n${SOURCE_MAPPING_URL_PREFIX}${inline}`;
  return { source, map };
}

/**
 * The source for `new Function("E", source)` without a map (the default: building the map and
 * having Node parse an inline one cost about a fifth of a unit's compile time): the body and its
 * sourceURL, so stack frames still name the unit.
 */
export function unmappedSource(name: string, body: string): string {
  if (!SAFE_NAME.test(name)) throw new Error(`unmappedSource: unsafe unit name ${JSON.stringify(name)}`);
  return `${body}\n${SOURCE_URL_PREFIX}jit/${name}.js`;
}

/** The guest source: line k+1 is `<address>: <disassembly>` of instruction k (addresses unsigned, 0x-prefixed, aligned). */
export function guestListing(instructions: readonly Instruction[], rips: Float64Array): string {
  if (rips.length !== instructions.length) throw new Error(`guestListing: ${instructions.length} instructions, ${rips.length} addresses`);
  const addresses = Array.from(rips, (rip) => BigInt.asUintN(64, BigInt(rip)));
  const width = addresses.reduce((most, address) => Math.max(most, address.toString(16).length), 1);
  return instructions
    .map((ins, k) => `0x${addresses[k].toString(16).padStart(width, "0")}: ${formatIntel(ins, addresses[k])}`)
    .join("\n");
}

/**
 * The file copy of a unit's source for --jit-dump: the script exactly as new Function compiles it
 * (so its lines are the lines the map describes), with the inline map (and sourceURL) replaced by
 * `//# sourceMappingURL=<mapFile>`.
 */
export function sourceForFile(source: string, mapFile: string): string {
  if (!SAFE_NAME.test(mapFile)) throw new Error(`sourceForFile: unsafe map file name ${JSON.stringify(mapFile)}`);
  const name = mapFile.replace(/\.js\.map$/, "");
  // the same sourceURL as the unit in memory, so a dumped file and a live unit are one script to DevTools
  return `(function anonymous(E\n) {\n${stripSourceComments(source)}\n})\n${SOURCE_URL_PREFIX}jit/${name}.js\n${SOURCE_MAPPING_URL_PREFIX}${mapFile}\n`;
}

/** `source` without its trailing sourceURL / sourceMappingURL comment lines. */
export function stripSourceComments(source: string): string {
  let end = source.length;
  for (;;) {
    const start = source.lastIndexOf("\n", end - 1);
    const line = source.slice(start + 1, end);
    if (!line.startsWith(SOURCE_URL_PREFIX) && !line.startsWith(SOURCE_MAPPING_URL_PREFIX)) break;
    if (start === -1) return "";
    end = start;
  }
  return source.slice(0, end);
}
