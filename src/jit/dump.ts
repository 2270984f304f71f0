// --jit-dump: each compiled JavaScript unit as <name>.js next to its source map <name>.js.map;
// each WebAssembly unit as its module <name>.wasm next to <name>.txt (its guest disassembly).
//
// <name>.js is the script exactly as new Function compiled it — "(function anonymous(E\n) {\n",
// the body, "\n})" — so the map's line numbers (which count those two header lines) hold for the
// file too; its last line is `//# sourceMappingURL=<name>.js.map` instead of the inline data URL.
// The guest disassembly is inside the map (sourcesContent of guest/<name>.asm).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Unit } from "./code-cache.js";
import { sourceForFile } from "./source-map.js";

export function writeUnitFiles(dir: string, unit: Unit): void {
  if (unit.wasmModule) {
    // a WebAssembly unit: its module (wasm-objdump and wasm2wat read it) and its guest listing
    writeFileSync(join(dir, `${unit.name}.wasm`), unit.wasmModule);
    writeFileSync(join(dir, `${unit.name}.txt`), unit.source);
    return;
  }
  const map = (unit as Unit & { readonly map?: string }).map;
  if (map === undefined || map === "") {
    // a unit without a map: the source as compiled, inline comments and all
    writeFileSync(join(dir, `${unit.name}.js`), unit.source);
    return;
  }
  const mapFile = `${unit.name}.js.map`;
  writeFileSync(join(dir, `${unit.name}.js`), sourceForFile(unit.source, mapFile));
  writeFileSync(join(dir, mapFile), map);
}
