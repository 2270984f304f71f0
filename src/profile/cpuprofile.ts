// The .cpuprofile format (V8's Profiler.Profile, what `node --cpu-prof` writes and Chrome DevTools
// and speedscope open): a call tree of nodes, each a call frame reached by one path from the root,
// the node each sample hit, and the time between samples. buildCpuProfile turns a recording of the
// guest sampler into one, with guest functions as frames; parseCpuProfile reads one back (ours or
// anyone's) and checks its structure.
import { NS_PER_INSTRUCTION } from "../machine/clock.js";
import type { GuestFunction, GuestSymbols } from "./symbols.js";
import type { SampleRecording } from "./sampler.js";

export class ProfileFormatError extends Error {
  override name = "ProfileFormatError";
}

export interface CallFrame {
  functionName: string;
  scriptId: string;
  url: string;
  /** 0-based; -1 when unknown */
  lineNumber: number;
  /** 0-based; -1 when unknown */
  columnNumber: number;
}

export interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  /** samples whose leaf is this node */
  hitCount: number;
  children?: number[];
  /** samples of this node by 1-based source line (DevTools' line-level view) */
  positionTicks?: { line: number; ticks: number }[];
}

/** What x64emu adds to the format (DevTools and speedscope ignore it). */
export interface GuestProfileInfo {
  version: 1;
  image: string;
  accel: string;
  clock: string;
  /** guest instructions between samples, on average */
  interval: number;
  /** guest instructions retired while sampling */
  instructions: number;
  /**
   * per sample: the share (0..1) of the instructions just before it (src/profile/sampler.ts,
   * WINDOW) that ran as compiled JIT code; 0 under the interpreter
   */
  compiled: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  /** microseconds */
  startTime: number;
  endTime: number;
  samples: number[];
  /** microseconds: the first from startTime, the others from the sample before */
  timeDeltas: number[];
  x64emu?: GuestProfileInfo;
}

export interface ProfileMeta {
  image: string;
  accel: string;
  clock: string;
}

/** Builds the profile of a recording, the frames named by `symbols`. */
export function buildCpuProfile(recording: SampleRecording, symbols: GuestSymbols, meta: ProfileMeta): CpuProfile {
  const unknownFrame: CallFrame = { functionName: "(unknown)", scriptId: "0", url: "", lineNumber: -1, columnNumber: -1 };
  const scriptIds = new Map<string, string>();
  const frameOf = new Map<number, CallFrame>();
  const callFrame = (f: GuestFunction | null): CallFrame => {
    if (f === null) return unknownFrame;
    let frame = frameOf.get(f.id);
    if (frame === undefined) {
      let scriptId = "0";
      if (f.file !== "") {
        scriptId = scriptIds.get(f.file) ?? String(scriptIds.size + 1);
        scriptIds.set(f.file, scriptId);
      }
      frame = { functionName: f.name, scriptId, url: f.file, lineNumber: f.line > 0 ? f.line - 1 : -1, columnNumber: f.line > 0 ? 0 : -1 };
      frameOf.set(f.id, frame);
    }
    return frame;
  };
  const functionAt = new Map<number, GuestFunction | null>();
  const find = (address: number): GuestFunction | null => {
    let f = functionAt.get(address);
    if (f === undefined) {
      f = symbols.find(address);
      functionAt.set(address, f);
    }
    return f;
  };

  interface TreeNode extends ProfileNode {
    byFunction: Map<number, TreeNode>;
    lines: Map<number, number>;
  }
  const nodes: TreeNode[] = [];
  const newNode = (frame: CallFrame): TreeNode => {
    const node: TreeNode = { id: nodes.length + 1, callFrame: frame, hitCount: 0, byFunction: new Map(), lines: new Map() };
    nodes.push(node);
    return node;
  };
  const root = newNode({ functionName: "(root)", scriptId: "0", url: "", lineNumber: -1, columnNumber: -1 });

  const samples: number[] = [];
  const { offsets, frames } = recording;
  for (let i = 0; i + 1 < offsets.length; i++) {
    let node = root;
    let leafFunction: GuestFunction | null = null;
    for (let k = offsets[i + 1]! - 1; k >= offsets[i]!; k--) {
      const f = find(frames[k]!);
      const key = f === null ? -1 : f.id;
      let child = node.byFunction.get(key);
      if (child === undefined) {
        child = newNode(callFrame(f));
        node.byFunction.set(key, child);
      }
      node = child;
      leafFunction = f;
    }
    node.hitCount++;
    samples.push(node.id);
    if (leafFunction !== null && offsets[i + 1]! > offsets[i]!) {
      const source = symbols.lineAt(frames[offsets[i]!]!);
      if (source !== null && source.file === leafFunction.file) node.lines.set(source.line, (node.lines.get(source.line) ?? 0) + 1);
    }
  }

  // Time is guest instructions at 1 ns each (the virtual clock's scale), whatever the clock: a
  // viewer's durations are then the instruction shares the samples measure, with neither JIT
  // compile pauses nor halts in them (docs/profile.md). Microseconds, each time rounded once, so
  // the deltas add up to the rounded times.
  const micros = (instructions: number): number => Math.round((instructions * NS_PER_INSTRUCTION) / 1000);
  const startTime = micros(recording.start);
  const timeDeltas: number[] = [];
  let previous = startTime;
  for (const retired of recording.times) {
    const time = Math.max(previous, micros(retired));
    timeDeltas.push(time - previous);
    previous = time;
  }
  const endTime = Math.max(previous, micros(recording.end));

  return {
    nodes: nodes.map(({ byFunction, lines, ...node }) => {
      const out: ProfileNode = { id: node.id, callFrame: node.callFrame, hitCount: node.hitCount };
      if (byFunction.size > 0) out.children = [...byFunction.values()].map((child) => child.id);
      if (lines.size > 0) out.positionTicks = [...lines.entries()].sort((a, b) => a[0] - b[0]).map(([line, ticks]) => ({ line, ticks }));
      return out;
    }),
    startTime,
    endTime,
    samples,
    timeDeltas,
    x64emu: {
      version: 1,
      image: meta.image,
      accel: meta.accel,
      clock: meta.clock,
      interval: recording.interval,
      instructions: recording.instructions,
      compiled: recording.compiled.slice(0, samples.length),
    },
  };
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);
const isWhole = (value: unknown): value is number => typeof value === "number" && Number.isSafeInteger(value);

/**
 * Reads a .cpuprofile and checks what a viewer relies on: unique positive node ids, call frames,
 * children that exist and have one parent, one root that reaches every node, samples naming
 * nodes, one time delta per sample. Throws ProfileFormatError naming the first problem.
 */
export function parseCpuProfile(text: string): CpuProfile {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ProfileFormatError(`not JSON (${(error as Error).message})`);
  }
  if (!isObject(value)) throw new ProfileFormatError("not a .cpuprofile (expected a JSON object with nodes, samples and timeDeltas)");
  const { nodes, samples, timeDeltas, startTime, endTime } = value;
  if (!Array.isArray(nodes) || nodes.length === 0) throw new ProfileFormatError("not a .cpuprofile: no 'nodes' array");
  if (!Array.isArray(samples)) throw new ProfileFormatError("not a .cpuprofile: no 'samples' array");
  if (!Array.isArray(timeDeltas)) throw new ProfileFormatError("not a .cpuprofile: no 'timeDeltas' array");
  if (typeof startTime !== "number" || typeof endTime !== "number") throw new ProfileFormatError("not a .cpuprofile: 'startTime' and 'endTime' must be numbers");
  if (timeDeltas.length !== samples.length) throw new ProfileFormatError(`${samples.length} samples but ${timeDeltas.length} timeDeltas`);

  const byId = new Map<number, ProfileNode>();
  nodes.forEach((node: unknown, index) => {
    const where = `node ${index}`;
    if (!isObject(node)) throw new ProfileFormatError(`${where} is not an object`);
    if (!isWhole(node.id) || node.id < 1) throw new ProfileFormatError(`${where}: 'id' must be a positive integer`);
    if (byId.has(node.id)) throw new ProfileFormatError(`${where}: duplicate id ${node.id}`);
    const frame = node.callFrame;
    if (!isObject(frame)) throw new ProfileFormatError(`node ${node.id}: no 'callFrame'`);
    if (typeof frame.functionName !== "string" || typeof frame.url !== "string") throw new ProfileFormatError(`node ${node.id}: callFrame needs string 'functionName' and 'url'`);
    if (typeof frame.lineNumber !== "number" || typeof frame.columnNumber !== "number") throw new ProfileFormatError(`node ${node.id}: callFrame needs numeric 'lineNumber' and 'columnNumber'`);
    if (typeof frame.scriptId !== "string" && typeof frame.scriptId !== "number") throw new ProfileFormatError(`node ${node.id}: callFrame needs a 'scriptId'`);
    if (node.hitCount !== undefined && (!isWhole(node.hitCount) || node.hitCount < 0)) throw new ProfileFormatError(`node ${node.id}: 'hitCount' must be a whole number`);
    if (node.children !== undefined && (!Array.isArray(node.children) || !node.children.every(isWhole))) throw new ProfileFormatError(`node ${node.id}: 'children' must be an array of node ids`);
    byId.set(node.id, {
      id: node.id,
      callFrame: { functionName: frame.functionName, scriptId: String(frame.scriptId), url: frame.url, lineNumber: frame.lineNumber, columnNumber: frame.columnNumber },
      hitCount: (node.hitCount as number | undefined) ?? 0,
      children: node.children as number[] | undefined,
      positionTicks: Array.isArray(node.positionTicks) ? (node.positionTicks as { line: number; ticks: number }[]) : undefined,
    });
  });
  const parent = new Map<number, number>();
  for (const node of byId.values()) {
    for (const child of node.children ?? []) {
      if (!byId.has(child)) throw new ProfileFormatError(`node ${node.id}: child ${child} does not exist`);
      if (child === node.id) throw new ProfileFormatError(`node ${node.id} is its own child`);
      if (parent.has(child)) throw new ProfileFormatError(`node ${child} has two parents (${parent.get(child)} and ${node.id})`);
      parent.set(child, node.id);
    }
  }
  const roots = [...byId.keys()].filter((id) => !parent.has(id));
  if (roots.length !== 1) throw new ProfileFormatError(roots.length === 0 ? "no root node (every node is someone's child)" : `${roots.length} root nodes (${roots.slice(0, 3).join(", ")}...): expected one`);
  const seen = new Set<number>();
  const stack = [roots[0]!];
  while (stack.length > 0) {
    const id = stack.pop()!;
    seen.add(id);
    for (const child of byId.get(id)!.children ?? []) stack.push(child);
  }
  if (seen.size !== byId.size) throw new ProfileFormatError(`${byId.size - seen.size} nodes are not reachable from the root (a cycle)`);
  samples.forEach((sample: unknown, i) => {
    if (!isWhole(sample) || !byId.has(sample)) throw new ProfileFormatError(`sample ${i} names node ${JSON.stringify(sample)}, which does not exist`);
  });
  timeDeltas.forEach((delta: unknown, i) => {
    if (typeof delta !== "number" || !Number.isFinite(delta)) throw new ProfileFormatError(`timeDeltas[${i}] is not a number`);
  });

  const profile: CpuProfile = { nodes: [...byId.values()], startTime, endTime, samples: samples as number[], timeDeltas: timeDeltas as number[] };
  const guest = value.x64emu;
  if (guest !== undefined) {
    if (!isObject(guest) || !Array.isArray(guest.compiled) || !isWhole(guest.interval)) throw new ProfileFormatError("malformed 'x64emu' section");
    if (guest.compiled.length !== samples.length) throw new ProfileFormatError(`'x64emu.compiled' has ${guest.compiled.length} entries for ${samples.length} samples`);
    if (!guest.compiled.every((share) => typeof share === "number" && share >= 0 && share <= 1)) throw new ProfileFormatError("'x64emu.compiled' must hold numbers from 0 to 1");
    profile.x64emu = {
      version: 1,
      image: String(guest.image ?? ""),
      accel: String(guest.accel ?? ""),
      clock: String(guest.clock ?? ""),
      interval: guest.interval,
      instructions: isWhole(guest.instructions) ? guest.instructions : 0,
      compiled: guest.compiled as number[],
    };
  }
  return profile;
}
