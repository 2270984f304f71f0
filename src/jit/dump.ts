// --jit-dump: each compiled unit as a .js file next to its source map.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Unit } from "./code-cache.js";

export function writeUnitFiles(dir: string, unit: Unit): void {
  writeFileSync(join(dir, `${unit.name}.js`), unit.source);
}
