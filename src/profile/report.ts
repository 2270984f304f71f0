// The flat profile: functions by self samples (`x64emu profile FILE`, `--profile-top N`). Works on
// any .cpuprofile; the JIT column needs x64emu's per-sample record of compiled code.
import type { CpuProfile, ProfileNode } from "./cpuprofile.js";

export interface FunctionSummary {
  name: string;
  /** "file:line" of the function (1-based), or "" */
  location: string;
  /** samples whose leaf is this function */
  self: number;
  /** samples with this function anywhere on the stack */
  total: number;
  /** the self samples weighted by the share of compiled code before each (null: not recorded) */
  compiled: number | null;
}

export interface ProfileSummary {
  samples: number;
  functions: FunctionSummary[];
}

/** A call frame's identity: what DevTools' bottom-up view merges by. */
function frameKey(node: ProfileNode): string {
  const f = node.callFrame;
  return `${f.functionName}\u0000${f.url}\u0000${f.lineNumber}\u0000${f.columnNumber}`;
}

/** Per-function self and total samples, most self samples first. */
export function summarizeProfile(profile: CpuProfile): ProfileSummary {
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const compiledFlags = profile.x64emu?.compiled ?? null;
  const rows = new Map<string, FunctionSummary>();
  const rowOf = (node: ProfileNode): FunctionSummary => {
    const key = frameKey(node);
    let row = rows.get(key);
    if (row === undefined) {
      const f = node.callFrame;
      row = { name: f.functionName || "(anonymous)", location: f.url !== "" && f.lineNumber >= 0 ? `${f.url}:${f.lineNumber + 1}` : f.url, self: 0, total: 0, compiled: compiledFlags !== null ? 0 : null };
      rows.set(key, row);
    }
    return row;
  };
  // the distinct functions on each node's path from the root (the root itself excluded)
  const pathRows = new Map<number, FunctionSummary[]>();
  const onPath = (id: number): FunctionSummary[] => {
    let cached = pathRows.get(id);
    if (cached === undefined) {
      const up = parent.get(id);
      const above = up === undefined ? [] : onPath(up);
      const node = byId.get(id)!;
      const own = up === undefined ? null : rowOf(node);
      cached = own === null || above.includes(own) ? above : [...above, own];
      pathRows.set(id, cached);
    }
    return cached;
  };
  // deep trees: fill the cache from the root down so the recursion stays shallow
  const order: number[] = [];
  const roots = profile.nodes.filter((node) => !parent.has(node.id));
  const stack = roots.map((node) => node.id);
  while (stack.length > 0) {
    const id = stack.pop()!;
    order.push(id);
    for (const child of byId.get(id)!.children ?? []) stack.push(child);
  }
  for (const id of order) onPath(id);

  const samples = profile.samples;
  for (let i = 0; i < samples.length; i++) {
    const node = byId.get(samples[i]!)!;
    if (!parent.has(node.id)) continue; // a sample of the root itself: no function
    const row = rowOf(node);
    row.self++;
    if (compiledFlags !== null) row.compiled! += compiledFlags[i]!;
    for (const r of onPath(node.id)) r.total++;
  }
  const functions = [...rows.values()].filter((row) => row.total > 0).sort((a, b) => b.self - a.self || b.total - a.total || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { samples: samples.length, functions };
}

const percent = (part: number, whole: number): string => (whole === 0 ? "-" : `${((100 * part) / whole).toFixed(1)}%`);

/** The top `count` functions by self samples, as a table (lines end with "\n"). */
export function formatTopTable(profile: CpuProfile, count: number, source?: string): string {
  const summary = summarizeProfile(profile);
  const guest = profile.x64emu;
  const lines: string[] = [];
  if (guest !== undefined) {
    lines.push(`profile${source ? ` ${source}` : ""}: ${summary.samples} samples, 1 every ${guest.interval} of ${guest.instructions} guest instructions on average (accel ${guest.accel}, clock ${guest.clock}, image ${guest.image})`);
  } else {
    lines.push(`profile${source ? ` ${source}` : ""}: ${summary.samples} samples over ${((profile.endTime - profile.startTime) / 1e6).toFixed(3)} s`);
  }
  if (summary.samples === 0) {
    lines.push("no samples (the run was shorter than one sample interval)");
    return lines.join("\n") + "\n";
  }
  // the JIT column: x64emu's record, for engines that compile
  const jitColumn = guest !== undefined && (guest.accel === "jit" || guest.accel === "check");
  const shown = summary.functions.slice(0, count);
  const header = ["self", "share", "total", ...(jitColumn ? ["compiled"] : []), "function"];
  const rows = shown.map((row) => [
    String(row.self),
    percent(row.self, summary.samples),
    percent(row.total, summary.samples),
    ...(jitColumn ? [row.self === 0 ? "-" : percent(row.compiled!, row.self)] : []),
    row.location !== "" ? `${row.name}  ${row.location}` : row.name,
  ]);
  const widths = header.map((title, k) => Math.max(title.length, ...rows.map((row) => row[k]!.length)));
  const format = (cells: string[]): string => cells.map((cell, k) => (k === cells.length - 1 ? cell : cell.padStart(widths[k]!))).join("  ").trimEnd();
  lines.push(format(header));
  for (const row of rows) lines.push(format(row));
  const selfShown = shown.reduce((sum, row) => sum + row.self, 0);
  const withSelf = summary.functions.filter((row) => row.self > 0).length;
  lines.push(`(${shown.length} of ${summary.functions.length} functions; ${withSelf} with self samples; the rows above hold ${percent(selfShown, summary.samples)} of the samples)`);
  if (jitColumn) {
    const compiled = guest.compiled.reduce((sum, share) => sum + share, 0);
    lines.push(`compiled: the share of the instructions before a function's samples that ran as compiled JIT code (${percent(compiled, summary.samples)} over all samples)`);
  }
  return lines.join("\n") + "\n";
}
