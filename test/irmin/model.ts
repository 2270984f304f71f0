// The host-side reference model of the Irmin-style store (docs/irmin-store.md): the same
// serialization and hashing as src/libos/irmin, written independently from the document, with
// node:crypto's BLAKE2b-512. It computes the bench's expected head hash for any
// (ncommits, depth, tree_add) and mirrors the store semantics (tree add/remove, commits,
// history, LCAs, three-way merge) for differential tests against the native build.

import { createHash } from "node:crypto";

export const KIND_CONTENTS = 1;
export const KIND_NODE = 2;
export const KIND_COMMIT = 3;

/** A hash as 128 lowercase hex digits (bytewise order = string order). */
export type Hex = string;

export function blake2b512(data: Uint8Array): Buffer {
  return createHash("blake2b512").update(data).digest();
}

/** Unsigned LEB128, minimal: 7 bits per byte, least significant group first. */
export function uleb128(value: number | bigint): Buffer {
  let rest = BigInt(value);
  if (rest < 0n) throw new RangeError("uleb128 of a negative number");
  const bytes: number[] = [];
  do {
    let byte = Number(rest & 0x7fn);
    rest >>= 7n;
    if (rest !== 0n) byte |= 0x80;
    bytes.push(byte);
  } while (rest !== 0n);
  return Buffer.from(bytes);
}

/** A signed 64-bit integer as 8 little-endian bytes (two's complement). */
export function int64le(value: bigint): Buffer {
  const buffer = Buffer.alloc(8);
  buffer.writeBigInt64LE(value);
  return buffer;
}

function lengthPrefixed(bytes: Buffer): Buffer[] {
  return [uleb128(bytes.length), bytes];
}

export function encodeContents(value: Buffer): Buffer {
  return Buffer.concat([Buffer.from([KIND_CONTENTS]), ...lengthPrefixed(value)]);
}

export interface NodeEntry {
  step: Buffer;
  kind: typeof KIND_CONTENTS | typeof KIND_NODE;
  hash: Hex;
}

export function encodeNode(entries: readonly NodeEntry[]): Buffer {
  const sorted = [...entries].sort((a, b) => Buffer.compare(a.step, b.step));
  const parts: Buffer[] = [Buffer.from([KIND_NODE]), uleb128(sorted.length)];
  for (const entry of sorted) {
    parts.push(Buffer.from([entry.kind]), ...lengthPrefixed(entry.step), Buffer.from(entry.hash, "hex"));
  }
  return Buffer.concat(parts);
}

export interface Info {
  date: bigint;
  author: string;
  message: string;
}

export interface CommitValue extends Info {
  node: Hex;
  parents: Hex[]; // sorted, distinct
}

export function encodeCommit(commit: CommitValue): Buffer {
  const parents = [...new Set(commit.parents)].sort();
  return Buffer.concat([
    Buffer.from([KIND_COMMIT]),
    Buffer.from(commit.node, "hex"),
    uleb128(parents.length),
    ...parents.map((parent) => Buffer.from(parent, "hex")),
    int64le(commit.date),
    ...lengthPrefixed(Buffer.from(commit.author, "utf8")),
    ...lengthPrefixed(Buffer.from(commit.message, "utf8")),
  ]);
}

export const hexOf = (bytes: Buffer): Hex => bytes.toString("hex");

// ---- Trees: plain mutable values (a fresh copy per checkout) ----

export type Tree = ContentsValue | NodeValue;
export interface ContentsValue {
  kind: "contents";
  value: Buffer;
}
export interface NodeValue {
  kind: "node";
  /** step (as a latin1 string: one char per byte, so string order = byte order) -> child */
  entries: Map<string, Tree>;
}

export type Path = readonly string[]; // latin1 steps

export const emptyNode = (): NodeValue => ({ kind: "node", entries: new Map() });
const contents = (value: Buffer | string): ContentsValue => ({
  kind: "contents",
  value: typeof value === "string" ? Buffer.from(value, "latin1") : value,
});

export function parsePath(text: string): Path {
  let body = text;
  if (body.startsWith("/")) body = body.slice(1);
  if (body.endsWith("/")) body = body.slice(0, -1);
  if (body === "") return [];
  const steps = body.split("/");
  if (steps.some((step) => step === "")) throw new Error(`path "${text}" has an empty step`);
  return steps;
}

export function copyTree<T extends Tree>(tree: T): T {
  if (tree.kind === "contents") return { kind: "contents", value: tree.value } as T;
  const entries = new Map<string, Tree>();
  for (const [step, child] of tree.entries) entries.set(step, copyTree(child));
  return { kind: "node", entries } as T;
}

/** Binds path to value; a prefix holding contents becomes a node. */
export function addTree(root: NodeValue, path: Path, value: Tree): NodeValue {
  if (value.kind === "node" && value.entries.size === 0) return removePath(root, path);
  if (path.length === 0) {
    if (value.kind !== "node") throw new Error("cannot add contents at the root");
    return value;
  }
  let node = root;
  for (const step of path.slice(0, -1)) {
    const child = node.entries.get(step);
    if (child?.kind === "node") {
      node = child;
    } else {
      const created = emptyNode();
      node.entries.set(step, created);
      node = created;
    }
  }
  node.entries.set(path[path.length - 1], value);
  return root;
}

export function add(root: NodeValue, path: Path, value: Buffer | string): NodeValue {
  return addTree(root, path, contents(value));
}

/** Removes the binding at path and the nodes it leaves empty (never the root). */
export function removePath(root: NodeValue, path: Path): NodeValue {
  if (path.length === 0) return emptyNode();
  const removeBelow = (node: NodeValue, depth: number): void => {
    const child = node.entries.get(path[depth]);
    if (child === undefined) return;
    if (depth === path.length - 1) {
      node.entries.delete(path[depth]);
      return;
    }
    if (child.kind !== "node") return;
    removeBelow(child, depth + 1);
    if (child.entries.size === 0) node.entries.delete(path[depth]);
  };
  removeBelow(root, 0);
  return root;
}

export function lookup(root: NodeValue, path: Path): Tree | undefined {
  let current: Tree = root;
  for (const step of path) {
    if (current.kind !== "node") return undefined;
    const child: Tree | undefined = current.entries.get(step);
    if (child === undefined) return undefined;
    current = child;
  }
  return current;
}

export function sortedSteps(node: NodeValue): string[] {
  return [...node.entries.keys()].sort((a, b) => Buffer.compare(Buffer.from(a, "latin1"), Buffer.from(b, "latin1")));
}

// ---- Hashing ----

const contentsHashCache = new Map<string, Hex>();

export function contentsHash(value: Buffer): Hex {
  const key = value.toString("latin1");
  let hash = contentsHashCache.get(key);
  if (hash === undefined) {
    hash = hexOf(blake2b512(encodeContents(value)));
    if (contentsHashCache.size < 100_000) contentsHashCache.set(key, hash);
  }
  return hash;
}

function nodeEntries(node: NodeValue, childHash: (child: Tree) => Hex): NodeEntry[] {
  return [...node.entries].map(([step, child]) => ({
    step: Buffer.from(step, "latin1"),
    kind: child.kind === "node" ? KIND_NODE : KIND_CONTENTS,
    hash: childHash(child),
  }));
}

export function treeHash(tree: Tree): Hex {
  if (tree.kind === "contents") return contentsHash(tree.value);
  return hexOf(blake2b512(encodeNode(nodeEntries(tree, treeHash))));
}

// ---- The store ----

type StoredObject =
  | { kind: typeof KIND_CONTENTS; value: Buffer }
  | { kind: typeof KIND_NODE; entries: NodeEntry[] }
  | ({ kind: typeof KIND_COMMIT } & CommitValue);

export const BENCH_INFO: Info = { date: 0n, author: "author", message: "commit message" };

export class MergeConflict extends Error {}

const MERGE_MAX_RECURSION = 16;

export class Store {
  readonly objects = new Map<Hex, StoredObject>();
  readonly branches = new Map<string, Hex>();

  counts(): { contents: number; nodes: number; commits: number } {
    const counts = { contents: 0, nodes: 0, commits: 0 };
    for (const object of this.objects.values()) {
      if (object.kind === KIND_CONTENTS) counts.contents++;
      else if (object.kind === KIND_NODE) counts.nodes++;
      else counts.commits++;
    }
    return counts;
  }

  /** Writes the objects of a tree (those not stored yet) and returns its hash. */
  writeTree(tree: Tree): Hex {
    if (tree.kind === "contents") {
      const hash = contentsHash(tree.value);
      if (!this.objects.has(hash)) this.objects.set(hash, { kind: KIND_CONTENTS, value: tree.value });
      return hash;
    }
    const entries = nodeEntries(tree, (child) => this.writeTree(child));
    return this.writeNode(entries);
  }

  writeNode(entries: NodeEntry[]): Hex {
    const sorted = [...entries].sort((a, b) => Buffer.compare(a.step, b.step));
    const hash = hexOf(blake2b512(encodeNode(sorted)));
    if (!this.objects.has(hash)) this.objects.set(hash, { kind: KIND_NODE, entries: sorted });
    return hash;
  }

  emptyNodeHash(): Hex {
    return this.writeNode([]);
  }

  writeCommit(node: Hex, parents: Hex[], info: Info): Hex {
    const value: CommitValue = { node, parents: [...new Set(parents)].sort(), ...info };
    const hash = hexOf(blake2b512(encodeCommit(value)));
    if (!this.objects.has(hash)) this.objects.set(hash, { kind: KIND_COMMIT, ...value });
    return hash;
  }

  commit(hash: Hex): CommitValue {
    const object = this.objects.get(hash);
    if (object?.kind !== KIND_COMMIT) throw new Error(`model: ${hash.slice(0, 16)} is not a commit`);
    return object;
  }

  node(hash: Hex): NodeEntry[] {
    const object = this.objects.get(hash);
    if (object?.kind !== KIND_NODE) throw new Error(`model: ${hash.slice(0, 16)} is not a node`);
    return object.entries;
  }

  /** A fresh mutable tree of a stored node. */
  checkoutNode(hash: Hex): NodeValue {
    const node = emptyNode();
    for (const entry of this.node(hash)) {
      const step = entry.step.toString("latin1");
      if (entry.kind === KIND_NODE) {
        node.entries.set(step, this.checkoutNode(entry.hash));
      } else {
        const object = this.objects.get(entry.hash);
        if (object?.kind !== KIND_CONTENTS) throw new Error("model: dangling contents");
        node.entries.set(step, contents(object.value));
      }
    }
    return node;
  }

  getTree(branch: string): NodeValue {
    const head = this.branches.get(branch);
    return head === undefined ? emptyNode() : this.checkoutNode(this.commit(head).node);
  }

  /** set_tree with allow_empty = false: returns the new head (the old one when nothing changed). */
  setTree(branch: string, path: Path, tree: NodeValue, info: Info): Hex {
    const head = this.branches.get(branch);
    let root = tree;
    if (path.length > 0) root = addTree(this.getTree(branch), path, copyTree(tree));
    const node = this.writeTree(root);
    if (head !== undefined && this.commit(head).node === node) return head;
    const commit = this.writeCommit(node, head === undefined ? [] : [head], info);
    this.branches.set(branch, commit);
    return commit;
  }

  /** head and its ancestors, breadth first, parents in hash order: [hash, distance]. */
  history(head: Hex): [Hex, number][] {
    const seen = new Set<Hex>([head]);
    const queue: [Hex, number][] = [[head, 0]];
    for (let front = 0; front < queue.length; front++) {
      const [hash, distance] = queue[front];
      for (const parent of this.commit(hash).parents) {
        if (!seen.has(parent)) {
          seen.add(parent);
          queue.push([parent, distance + 1]);
        }
      }
    }
    return queue;
  }

  ancestors(heads: readonly Hex[]): Set<Hex> {
    const found = new Set<Hex>();
    const stack = [...heads];
    while (stack.length > 0) {
      const hash = stack.pop()!;
      if (found.has(hash)) continue;
      found.add(hash);
      stack.push(...this.commit(hash).parents);
    }
    return found;
  }

  /** Common ancestors not strictly below another common ancestor, in hash order. */
  lcas(a: readonly Hex[], b: readonly Hex[]): Hex[] {
    const ofA = this.ancestors(a);
    const common = [...this.ancestors(b)].filter((hash) => ofA.has(hash));
    const below = new Set<Hex>();
    for (const hash of common) for (const strict of this.ancestors(this.commit(hash).parents)) below.add(strict);
    return common.filter((hash) => !below.has(hash)).sort();
  }

  // Three-way merge (docs/irmin-store.md, "Merge").

  private kindOf(hash: Hex | undefined): number {
    return hash === undefined ? 0 : this.objects.get(hash)!.kind;
  }

  private mergeValue(path: string[], base: Hex | undefined, ours: Hex | undefined, theirs: Hex | undefined): Hex | undefined {
    if (ours === theirs || base === theirs) return ours;
    if (base === ours) return theirs;
    const oursKind = this.kindOf(ours);
    const theirsKind = this.kindOf(theirs);
    if (oursKind !== KIND_CONTENTS && theirsKind !== KIND_CONTENTS) {
      const nodeBase = this.kindOf(base) === KIND_NODE ? base! : this.emptyNodeHash();
      const nodeOurs = ours ?? this.emptyNodeHash();
      const nodeTheirs = theirs ?? this.emptyNodeHash();
      const merged = this.mergeNode(path, nodeBase, nodeOurs, nodeTheirs);
      return this.node(merged).length === 0 ? undefined : merged;
    }
    const where = path.length === 0 ? "/" : path.join("/");
    let why: string;
    if (oursKind === KIND_CONTENTS && theirsKind === KIND_CONTENTS)
      why = base === undefined ? "both sides added different contents" : "both sides changed the contents differently";
    else if (ours === undefined || theirs === undefined) why = "one side removed it, the other changed it";
    else why = "contents on one side, a node on the other";
    throw new MergeConflict(`merge conflict at ${where}: ${why}`);
  }

  private mergeNode(path: string[], base: Hex, ours: Hex, theirs: Hex): Hex {
    const versions = [base, ours, theirs].map(
      (hash) => new Map(this.node(hash).map((entry) => [entry.step.toString("latin1"), entry.hash])),
    );
    const steps = [...new Set(versions.flatMap((version) => [...version.keys()]))].sort((a, b) =>
      Buffer.compare(Buffer.from(a, "latin1"), Buffer.from(b, "latin1")),
    );
    const merged: NodeEntry[] = [];
    for (const step of steps) {
      const value = this.mergeValue([...path, step], versions[0].get(step), versions[1].get(step), versions[2].get(step));
      if (value !== undefined) {
        merged.push({
          step: Buffer.from(step, "latin1"),
          kind: this.kindOf(value) === KIND_NODE ? KIND_NODE : KIND_CONTENTS,
          hash: value,
        });
      }
    }
    return this.writeNode(merged);
  }

  mergeNodes(base: Hex, ours: Hex, theirs: Hex): Hex {
    return this.mergeValue([], base, ours, theirs) ?? this.emptyNodeHash();
  }

  private mergeSets(a: Hex[], aNode: Hex, b: Hex[], bNode: Hex, recursion: number): Hex {
    if (recursion > MERGE_MAX_RECURSION)
      throw new MergeConflict(
        `merge conflict: the histories criss-cross more than ${MERGE_MAX_RECURSION} levels deep (too many lowest ` +
          "common ancestors); merge intermediate commits first",
      );
    const lcas = this.lcas(a, b);
    let base: Hex;
    if (lcas.length === 0) {
      base = this.emptyNodeHash();
    } else {
      base = this.commit(lcas[0]).node;
      const set = [lcas[0]];
      try {
        for (const lca of lcas.slice(1)) {
          base = this.mergeSets(set, base, [lca], this.commit(lca).node, recursion + 1);
          set.push(lca);
        }
      } catch (error) {
        if (error instanceof MergeConflict && recursion === 0)
          throw new MergeConflict(`the ${lcas.length} lowest common ancestors do not merge cleanly: ${error.message}`);
        throw error;
      }
    }
    return this.mergeNodes(base, aNode, bNode);
  }

  mergeCommits(a: Hex, b: Hex, info: Info): Hex {
    if (a === b) return a;
    const lcas = this.lcas([a], [b]);
    if (lcas.length === 1 && lcas[0] === a) return b;
    if (lcas.length === 1 && lcas[0] === b) return a;
    const node = this.mergeSets([a], this.commit(a).node, [b], this.commit(b).node, 0);
    return this.writeCommit(node, [a, b], info);
  }

  mergeIntoBranch(branch: string, commit: Hex, info: Info): Hex {
    const head = this.branches.get(branch);
    const merged = head === undefined ? commit : this.mergeCommits(head, commit, info);
    this.branches.set(branch, merged);
    return merged;
  }
}

// ---- The bench (DESIGN.md section 4) ----

export interface BenchParameters {
  ncommits: number;
  depth: number;
  treeAdd: number;
}

export interface BenchExpectation {
  head: Hex;
  contents: number;
  nodes: number;
  commits: number;
}

/** path(d, k) = "0", "1", ..., "d-1", "k". */
export function benchPath(depth: number, k: number): string[] {
  return [...Array.from({ length: depth }, (_, d) => String(d)), String(k)];
}

export function benchModel({ ncommits, depth, treeAdd }: BenchParameters): BenchExpectation {
  const store = new Store();
  let tree = emptyNode();
  for (let d = 1; d <= depth; d++) {
    for (let k = 1; k <= treeAdd; k++) tree = add(tree, benchPath(d, k), "init");
  }
  store.setTree("main", [], tree, BENCH_INFO);
  const paths = Array.from({ length: treeAdd + 1 }, (_, k) => benchPath(depth, k));
  for (let i = 1; i <= ncommits; i++) {
    tree = store.getTree("main");
    for (let k = 1; k <= treeAdd; k++) tree = add(tree, paths[k], String(i));
    store.setTree("main", [], tree, BENCH_INFO);
  }
  return { head: store.branches.get("main")!, ...store.counts() };
}
