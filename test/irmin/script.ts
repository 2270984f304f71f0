// Store scripts for differential tests: a seeded random generator, and an interpreter that runs
// a script on the reference model and prints exactly what `native script` prints
// (the operations are listed above script_step in test/irmin/native_main.c).

import {
  type Hex,
  type Info,
  type NodeValue,
  MergeConflict,
  Store,
  add,
  addTree,
  copyTree,
  emptyNode,
  lookup,
  parsePath,
  removePath,
  sortedSteps,
  treeHash,
} from "./model.js";
import { xorshift32 } from "../support/random.js";

const SCRIPT_INFO: Info = { date: 0n, author: "author", message: "commit message" };
const MERGE_INFO: Info = { date: 1n, author: "merger", message: "merge" };

/** xorshift32 scaled to [0, 1): small, seedable, good enough to pick operations. */
export function random(seed: number): () => number {
  const next = xorshift32(seed);
  return () => next() / 0x1_0000_0000;
}

const STEPS = ["a", "b", "c", "1", "10", "2"];
const VALUES = ["x", "y", "z", "~", "init", "42"];
const TREES = ["T", "U", "V"];
const BRANCHES = ["main", "dev", "feat"];

export function generateScript(seed: number, length: number): string[] {
  const next = random(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)];
  const path = (maxDepth = 3): string => {
    const depth = 1 + Math.floor(next() * maxDepth);
    return Array.from({ length: depth }, () => pick(STEPS)).join("/");
  };
  const anyPath = (): string => (next() < 0.1 ? "/" : path());
  const branches = new Set<string>();
  const lines = TREES.map((tree) => `empty ${tree}`);
  while (lines.length < length) {
    const roll = next();
    const tree = pick(TREES);
    const existing = [...branches];
    if (roll < 0.3) lines.push(`add ${tree} ${path()} ${pick(VALUES)}`);
    else if (roll < 0.38) lines.push(`remove ${tree} ${anyPath()}`);
    else if (roll < 0.46) {
      const branch = pick(BRANCHES);
      lines.push(`commit ${tree} ${branch}`);
      branches.add(branch);
    } else if (roll < 0.5) lines.push(`checkout ${tree} ${pick(BRANCHES)}`);
    else if (roll < 0.58 && existing.length > 0) {
      const branch = pick(BRANCHES);
      lines.push(`merge ${branch} ${pick(existing)}`);
      branches.add(branch);
    } else if (roll < 0.6 && existing.length > 0) {
      const branch = pick(BRANCHES);
      lines.push(`branch ${branch} ${pick(existing)}`);
      branches.add(branch);
    } else if (roll < 0.63) {
      const branch = pick(BRANCHES);
      lines.push(`set_tree ${branch} ${path(2)} ${tree}`);
      branches.add(branch);
    } else if (roll < 0.66) lines.push(`add_tree ${tree} ${anyPath()} ${pick(TREES)}`);
    else if (roll < 0.68) lines.push(`find_tree ${tree} ${anyPath()} ${pick(TREES)}`);
    else if (roll < 0.7) lines.push(`copy ${tree} ${pick(TREES)}`);
    else if (roll < 0.72) lines.push(`clear ${tree}`);
    else if (roll < 0.76) lines.push(`find ${tree} ${path()}`);
    else if (roll < 0.79) lines.push(`mem ${tree} ${path()}`);
    else if (roll < 0.81) lines.push(`mem_tree ${tree} ${anyPath()}`);
    else if (roll < 0.84) lines.push(`list ${tree} ${anyPath()}`);
    else if (roll < 0.86) lines.push(`fold ${tree}`);
    else if (roll < 0.92) lines.push(`hash ${tree}`);
    else if (roll < 0.94) lines.push(`head ${pick(BRANCHES)}`);
    else if (roll < 0.96 && existing.length > 0) lines.push(`history ${pick(existing)}`);
    else if (roll < 0.98 && existing.length > 0) lines.push(`lcas ${pick(existing)} ${pick(existing)}`);
    else lines.push("stats");
  }
  return lines;
}

const valueText = (value: Buffer): string => (value.length === 0 ? "~" : value.toString("latin1"));
const valueOf = (token: string): Buffer => Buffer.from(token === "~" ? "" : token, "latin1");

/** Runs a script on the model; returns the lines `native script` prints. */
export function runModelScript(lines: readonly string[]): string[] {
  const store = new Store();
  const trees = new Map<string, NodeValue>();
  const out: string[] = [];
  const tree = (name: string): NodeValue => {
    const found = trees.get(name);
    if (found === undefined) throw new Error(`model script: unknown tree ${name}`);
    return found;
  };
  const head = (branch: string): Hex => {
    const found = store.branches.get(branch);
    if (found === undefined) throw new Error(`model script: no branch ${branch}`);
    return found;
  };
  for (const line of lines) {
    const [op, ...args] = line.trim().split(/\s+/);
    switch (op) {
      case "empty":
        trees.set(args[0], emptyNode());
        break;
      case "copy":
        trees.set(args[0], copyTree(tree(args[1])));
        break;
      case "add":
        trees.set(args[0], add(tree(args[0]), parsePath(args[1]), valueOf(args[2])));
        break;
      case "remove":
        trees.set(args[0], removePath(tree(args[0]), parsePath(args[1])));
        break;
      case "add_tree":
        trees.set(args[0], addTree(tree(args[0]), parsePath(args[1]), copyTree(tree(args[2]))));
        break;
      case "find": {
        const found = lookup(tree(args[0]), parsePath(args[1]));
        out.push(found?.kind === "contents" ? `found ${valueText(found.value)}` : "none");
        break;
      }
      case "mem":
        out.push(`mem ${lookup(tree(args[0]), parsePath(args[1]))?.kind === "contents"}`);
        break;
      case "mem_tree":
        out.push(`mem_tree ${lookup(tree(args[0]), parsePath(args[1])) !== undefined}`);
        break;
      case "find_tree": {
        const found = lookup(tree(args[0]), parsePath(args[1]));
        if (found?.kind === "node") {
          trees.set(args[2], copyTree(found));
          out.push("find_tree ok");
        } else {
          out.push("find_tree none");
        }
        break;
      }
      case "list": {
        const found = lookup(tree(args[0]), parsePath(args[1]));
        if (found?.kind !== "node") {
          out.push("list none");
        } else {
          const entries = sortedSteps(found).map((step) => `${step}:${found.entries.get(step)!.kind === "node" ? "n" : "c"}`);
          out.push(entries.length === 0 ? "list" : `list ${entries.join(",")}`);
        }
        break;
      }
      case "fold": {
        const items: string[] = [];
        const walk = (node: NodeValue, path: string[]): void => {
          items.push(path.length === 0 ? "/" : `${path.join("/")}/`);
          for (const step of sortedSteps(node)) {
            const child = node.entries.get(step)!;
            if (child.kind === "node") walk(child, [...path, step]);
            else items.push(`${[...path, step].join("/")}=${valueText(child.value)}`);
          }
        };
        walk(tree(args[0]), []);
        out.push(`fold ${items.join(" ")}`);
        break;
      }
      case "hash":
        out.push(`hash ${treeHash(tree(args[0]))}`);
        break;
      case "clear":
        break;
      case "checkout":
        trees.set(args[0], store.getTree(args[1]));
        break;
      case "commit":
        out.push(`commit ${store.setTree(args[1], [], tree(args[0]), SCRIPT_INFO)}`);
        break;
      case "set_tree":
        out.push(`commit ${store.setTree(args[0], parsePath(args[1]), tree(args[2]), SCRIPT_INFO)}`);
        break;
      case "head":
        out.push(`head ${store.branches.get(args[0]) ?? "none"}`);
        break;
      case "branch":
        store.branches.set(args[0], head(args[1]));
        break;
      case "merge":
        try {
          out.push(`merged ${store.mergeIntoBranch(args[0], head(args[1]), MERGE_INFO)}`);
        } catch (error) {
          if (!(error instanceof MergeConflict)) throw error;
          out.push(`conflict ${error.message}`);
        }
        break;
      case "lcas": {
        const found = store.lcas([head(args[0])], [head(args[1])]);
        out.push(["lcas", ...found.map((hash) => hash.slice(0, 16))].join(" "));
        break;
      }
      case "history":
        out.push(["history", ...store.history(head(args[0])).map(([hash, distance]) => `${hash.slice(0, 16)}@${distance}`)].join(" "));
        break;
      case "stats": {
        const counts = store.counts();
        out.push(`stats contents=${counts.contents} nodes=${counts.nodes} commits=${counts.commits}`);
        break;
      }
      default:
        throw new Error(`model script: unknown operation ${op}`);
    }
  }
  return out;
}
