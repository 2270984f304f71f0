// The scripted sequences behind the acceptance point "the head after scripted PUTs equals the
// model's" (docs/serve.md, Tests): random PUTs (and DELETEs) of byte paths and byte values, all
// with fixed X-Date, X-Author and X-Message, together with what test/irmin/model.ts says each
// answer must be. The native tests (serve.test.ts) and the QEMU tests
// (test/guest/serve-qemu.test.ts) drive the server with the same sequences.

import { add, type Info, lookup, removePath, Store } from "../irmin/model.js";
import { encodeStep, type HttpRequest } from "./serve_native.js";

export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The commit-info headers of a write. */
export const info = (date: number, author: string, message: string): Record<string, string> => ({
  "X-Date": String(date),
  "X-Author": author,
  "X-Message": message,
});
export const modelInfo = (date: number, author: string, message: string): Info => ({ date: BigInt(date), author, message });

export interface Operation {
  request: HttpRequest;
  expectedStatus: number;
  expectedCommit?: string;
}

/** A random sequence of PUTs (and DELETEs) with fixed commit info, and what the model says. */
export function scriptedSequence(seed: number, count: number, deletes: boolean): { operations: Operation[]; store: Store } {
  const random = mulberry32(seed);
  const int = (n: number) => Math.floor(random() * n);
  const pool = ["a", "b", "1", "10", "2", "dir", "\x00", "/", "%", "\xff", "\xc3\xa9", "a b"];
  const step = () => (random() < 0.7 ? pool[int(pool.length)] : Buffer.from(Array.from({ length: 1 + int(4) }, () => int(256))).toString("latin1"));
  const store = new Store();
  const operations: Operation[] = [];
  const written: { path: string[]; value: Buffer }[] = []; // earlier PUTs, to revisit
  let head: string | undefined;
  for (let i = 0; i < count; i++) {
    const earlier = written.length > 0 && random() < 0.5 ? written[int(written.length)] : undefined;
    let path = earlier?.path ?? Array.from({ length: 1 + int(4) }, step);
    const date = int(2 ** 40) - 2 ** 39;
    const headers = info(date, `author ${int(3)}`, `message ${i}: ${random() < 0.5 ? "x" : "\"y\" \\ z"}`);
    const commitInfo = modelInfo(date, headers["X-Author"], headers["X-Message"]);
    if (deletes && random() < 0.3) {
      if (earlier !== undefined && random() < 0.5) path = path.slice(0, 1 + int(path.length)); // maybe a subtree
      const target = `/tree/${path.map(encodeStep).join("/")}`;
      const tree = store.getTree("main");
      const request: HttpRequest = { method: "DELETE", target, headers };
      if (lookup(tree, path) === undefined) {
        operations.push({ request, expectedStatus: 404 });
      } else {
        head = store.setTree("main", [], removePath(tree, path), commitInfo);
        operations.push({ request, expectedStatus: 200, expectedCommit: head });
      }
      continue;
    }
    const target = `/tree/${path.map(encodeStep).join("/")}`;
    const value =
      earlier !== undefined && random() < 0.5
        ? earlier.value // often unchanged: no commit
        : Buffer.from(Array.from({ length: int(3) === 0 ? 0 : int(40) }, () => int(256)));
    written.push({ path, value });
    const previous = head;
    head = store.setTree("main", [], add(store.getTree("main"), path, value), commitInfo);
    operations.push({ request: { method: "PUT", target, body: value, headers }, expectedStatus: head === previous ? 200 : 201, expectedCommit: head });
  }
  return { operations, store };
}
