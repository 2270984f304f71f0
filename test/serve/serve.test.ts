// The HTTP server over the store (src/workload/serve, docs/serve.md), in its native build
// with ASan and UBSan: the C unit tests and the fuzzer (test/serve/serve_tests.c,
// serve_fuzz.c), then every route end to end through serve_connection, with commit hashes
// checked against the host-side model of the store (test/irmin/model.ts).
//
// SERVE_FUZZ_CASES (default 10000) and SERVE_FUZZ_SEED (default 1) set the fuzz run.

import { describe, expect, it } from "vitest";
import { add, emptyNode, type Info, removePath, sortedSteps, Store, treeHash } from "../irmin/model.js";
import { info, modelInfo, scriptedSequence } from "./scripted.js";
import {
  encodeStep,
  hasGcc,
  type HttpRequest,
  type HttpResponse,
  jsonOf,
  runServeNative,
  serve,
  serveConnections,
} from "./serve_native.js";

const CLOCK = 1700000000;

interface UnitResult {
  name: string;
  ok: boolean;
  line: string;
}

function unitResults(): { results: UnitResult[]; summary: string; status: number | null } {
  const run = runServeNative(["unit"]);
  const stdout = run.stdout.toString("utf8");
  const results: UnitResult[] = [];
  let summary = "";
  for (const line of stdout.split("\n")) {
    const match = /^(ok|not ok) \d+ ([^:]+)/.exec(line);
    if (match) results.push({ name: match[2], ok: match[1] === "ok", line });
    if (line.startsWith("summary ")) summary = line;
  }
  if (summary === "") throw new Error(`serve unit stopped early (status ${run.status}):\n${stdout}${run.stderr}`);
  return { results, summary, status: run.status };
}

const put = (target: string, body: string | Buffer, headers: Record<string, string> = {}): HttpRequest => ({
  method: "PUT",
  target,
  body,
  headers,
});
const get = (target: string): HttpRequest => ({ method: "GET", target });
const del = (target: string, headers: Record<string, string> = {}): HttpRequest => ({ method: "DELETE", target, headers });
const merge = (from: string, into: string, headers: Record<string, string> = {}): HttpRequest => ({
  method: "POST",
  target: `/merge?from=${from}&into=${into}`,
  headers,
});

function commitOf(response: HttpResponse): string {
  const body = jsonOf(response) as { commit: string };
  expect(body.commit).toMatch(/^[0-9a-f]{128}$/);
  return body.commit;
}

describe.runIf(hasGcc)("serve: C unit tests (native, ASan+UBSan)", () => {
  const { results, summary, status } = hasGcc ? unitResults() : { results: [], summary: "", status: null };

  it("runs them all", () => {
    expect(results.length).toBeGreaterThanOrEqual(25);
    expect(summary).toBe(`summary passed=${results.length} failed=0`);
    expect(status).toBe(0);
  });

  for (const result of results) {
    it(result.name, () => {
      expect(result.ok, result.line).toBe(true);
    });
  }
});

describe.runIf(hasGcc)("serve: fuzz (native, ASan+UBSan)", () => {
  const cases = Number(process.env.SERVE_FUZZ_CASES ?? 10000);
  const seed = Number(process.env.SERVE_FUZZ_SEED ?? 1);

  it(`survives ${cases} random and mutated conversations (seed ${seed})`, () => {
    const run = runServeNative(["fuzz", String(cases), String(seed)]);
    const stdout = run.stdout.toString("utf8");
    expect(run.stderr).toBe("");
    expect(stdout).toMatch(new RegExp(`fuzz cases=${cases} seed=${seed} .* failures=0\n$`));
    expect(run.status).toBe(0);
    // the cases reach the interesting statuses, not only parse errors
    for (const status of [200, 201, 400, 404, 405, 408, 409, 413, 431])
      expect(stdout).toMatch(new RegExp(` ${status}:\\d+`));
  });
});

describe.runIf(hasGcc)("serve: /tree", () => {
  it("stores, reads, lists and deletes contents", () => {
    const [put1, put2, same, changed, file, dir, root, missing, below, deleted, gone, again] = serve(
      [
        put("/tree/dir/file", "hello", info(1, "a", "m1")),
        put("/tree/dir/other", "x", info(2, "a", "m2")),
        put("/tree/dir/file", "hello", info(3, "a", "m3")), // same contents: no commit
        put("/tree/dir/other", "y", info(4, "a", "m4")),
        get("/tree/dir/file"),
        get("/tree/dir"),
        get("/tree/"),
        get("/tree/nothing"),
        get("/tree/dir/file/below"),
        del("/tree/dir/other", info(5, "a", "m5")),
        get("/tree/dir/other"),
        del("/tree/dir/other"),
      ],
      { clock: CLOCK },
    );
    expect(put1.status).toBe(201);
    expect(put2.status).toBe(201);
    expect(same.status).toBe(200);
    expect(commitOf(same)).toBe(commitOf(put2));
    expect(changed.status).toBe(201);
    expect(file.status).toBe(200);
    expect(file.headers["content-type"]).toBe("application/octet-stream");
    expect(file.body.toString()).toBe("hello");
    expect(jsonOf(dir)).toEqual({
      entries: [
        { step: "file", kind: "contents" },
        { step: "other", kind: "contents" },
      ],
    });
    expect(jsonOf(root)).toEqual({ entries: [{ step: "dir", kind: "node" }] });
    expect(missing.status).toBe(404);
    expect(jsonOf(missing)).toEqual({ error: "no such path" });
    expect(below.status).toBe(404);
    expect(deleted.status).toBe(200);
    expect(commitOf(deleted)).not.toBe(commitOf(changed));
    expect(gone.status).toBe(404);
    expect(again.status).toBe(404);
  });

  it("lists the empty store's root, and follows Irmin's add and remove", () => {
    const responses = serve([
      get("/tree/"),
      get("/tree"),
      put("/tree/a", "contents"),
      put("/tree/a/b", "now a is a node"),
      get("/tree/a"),
      put("/tree/a", "a node replaced by contents"),
      get("/tree/a"),
      put("/tree/x/y/z", "deep"),
      del("/tree/x/y/z"),
      get("/tree/"), // x and x/y were left empty and went away
      del("/tree/a"),
      get("/tree/"),
      get("/head"),
    ]);
    expect(responses.map((response) => response.status)).toEqual([200, 200, 201, 201, 200, 201, 200, 201, 200, 200, 200, 200, 200]);
    expect(jsonOf(responses[0])).toEqual({ entries: [] });
    expect(jsonOf(responses[1])).toEqual({ entries: [] });
    expect(jsonOf(responses[4])).toEqual({ entries: [{ step: "b", kind: "contents" }] });
    expect(responses[6].body.toString()).toBe("a node replaced by contents");
    expect(jsonOf(responses[9])).toEqual({ entries: [{ step: "a", kind: "contents" }] });
    expect(jsonOf(responses[11])).toEqual({ entries: [] });
    // the head's tree is now the empty node
    expect(jsonOf(responses[12]).tree).toBe(treeHash(emptyNode()));
  });

  it("lists entries in the store's order (bytewise, shorter first)", () => {
    const names = ["2", "10", "1", "b", "B", "a", "ab", "\xff", "\x00"];
    const responses = serve([...names.map((name) => put(`/tree/${encodeStep(name)}`, name)), get("/tree/")]);
    const steps = (jsonOf(responses[names.length]).entries as { step: string }[]).map((entry) => entry.step);
    const tree = names.reduce((node, name) => add(node, [name], name), emptyNode());
    expect(steps).toEqual(sortedSteps(tree));
    expect(steps).toEqual(["\x00", "1", "10", "2", "B", "a", "ab", "b", "\xff"]);
  });

  it("takes any byte but '/' in a step, percent-decoded, and escapes it in JSON", () => {
    const steps = ["a b", "%", "/", "\x00", '"', "\\", "\x7f", "\xff", "\xc3\xa9", "\r\n", "?#&=+"];
    const requests = steps.flatMap((step, index) => [put(`/tree/dir/${encodeStep(step)}`, `value ${index}`), get(`/tree/dir/${encodeStep(step)}`)]);
    const responses = serve([...requests, get("/tree/dir"), get("/tree/dir/a%20b/")]);
    steps.forEach((_, index) => {
      expect(responses[2 * index].status).toBe(201);
      expect(responses[2 * index + 1].body.toString()).toBe(`value ${index}`);
    });
    const listing = responses[steps.length * 2];
    const text = listing.body.toString("latin1");
    expect(text).toContain('"step":"\\u0000"');
    expect(text).toContain('"step":"\\""');
    expect(text).toContain('"step":"\\\\"');
    expect(text).toContain('"step":"\\u007f"');
    expect(text).toContain('"step":"\\u00ff"');
    expect(text).toContain('"step":"\\u00c3\\u00a9"'); // bytes, not text: UTF-8 is two characters
    expect(text).toContain('"step":"\\r\\n"');
    expect(text).toMatch(/^[\x20-\x7e]*$/);
    const listed = (jsonOf(listing).entries as { step: string }[]).map((entry) => entry.step);
    expect([...listed].sort()).toEqual([...steps].sort());
    expect(responses[steps.length * 2 + 1].status).toBe(400); // a trailing '/' is an empty step
  });

  it("rejects empty steps, bad escapes and paths deeper than max_depth", () => {
    const responses = serve(
      [get("/tree//a"), put("/tree/a/", "x"), get("/tree/a%2"), get("/tree/%G0"), put("/tree/1/2/3", "ok"), put("/tree/1/2/3/4", "deep"), put("/tree/", "root")],
      { max_depth: 3 },
    );
    expect(responses.map((response) => response.status)).toEqual([400, 400, 400, 400, 201, 400, 405]);
    expect(jsonOf(responses[0])).toEqual({ error: "the path has an empty step" });
    expect(jsonOf(responses[2])).toEqual({ error: "malformed percent-escape in the path" });
    expect(jsonOf(responses[5])).toEqual({ error: "the path has more steps than max_depth allows" });
    expect(responses[6].headers.allow).toBe("GET, HEAD");
  });

  it("takes bodies with Content-Length or chunked, and 413 over max_body", () => {
    const body = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 256));
    const responses = serve(
      [{ method: "PUT", target: "/tree/c", body, chunked: 77 }, get("/tree/c"), put("/tree/big", Buffer.alloc(1001)), get("/tree/c")],
      { max_body: 1000 },
    );
    expect(responses.map((response) => response.status)).toEqual([201, 200, 413]); // 413 closes
    expect(responses[1].body.equals(body)).toBe(true);
    expect(responses[2].headers.connection).toBe("close");
  });
});

describe.runIf(hasGcc)("serve: HEAD, methods, unknown routes", () => {
  it("answers HEAD on every GET route with GET's headers and no body", () => {
    const targets = ["/tree/d/f", "/tree/d", "/tree/", "/head", "/history", "/history?limit=1", "/branches", "/branch/main/head", "/tree/none", "/x"];
    const requests = targets.flatMap((target): HttpRequest[] => [get(target), { method: "HEAD", target }]);
    const responses = serve([put("/tree/d/f", "contents"), ...requests], { clock: CLOCK });
    targets.forEach((target, index) => {
      const [full, head] = [responses[1 + 2 * index], responses[2 + 2 * index]];
      expect(head.rawHead, target).toBe(full.rawHead);
      expect(head.body.length).toBe(0);
      expect(Number(full.headers["content-length"])).toBe(full.body.length);
      expect(full.headers.date).toBe("Tue, 14 Nov 2023 22:13:20 GMT");
    });
  });

  it("405 with Allow for an unknown method on a route, 404 for an unknown route", () => {
    const cases: [string, string, number, string | undefined][] = [
      ["PATCH", "/tree/a", 405, "GET, HEAD, PUT, DELETE"],
      ["POST", "/tree/a", 405, "GET, HEAD, PUT, DELETE"],
      ["DELETE", "/tree/", 405, "GET, HEAD"],
      ["PUT", "/head", 405, "GET, HEAD"],
      ["POST", "/history", 405, "GET, HEAD"],
      ["DELETE", "/branches", 405, "GET, HEAD"],
      ["POST", "/stats", 405, "GET, HEAD"],
      ["GET", "/merge", 405, "POST"],
      ["HEAD", "/merge", 405, "POST"],
      ["GET", "/", 404, undefined],
      ["GET", "/tree2", 404, undefined],
      ["GET", "/branch/dev", 404, undefined],
      ["GET", "/branch/dev/stats", 404, undefined],
    ];
    const responses = serve(cases.map(([method, target]) => ({ method, target })));
    cases.forEach(([method, target, status, allow], index) => {
      const response = responses[index];
      expect(response.status, `${method} ${target}`).toBe(status);
      expect(response.headers.allow).toBe(allow);
      if (method !== "HEAD") expect(jsonOf(response).error).toMatch(status === 405 ? "method not allowed" : "no such route");
    });
  });
});

describe.runIf(hasGcc)("serve: /head and /history", () => {
  it("gives the head, and the history head first with each commit's info", () => {
    const responses = serve(
      [
        get("/head"),
        get("/history"),
        put("/tree/a", "1", info(100, "alice", "first")),
        put("/tree/b", "2", info(-5, "bob", "second: \"quoted\"\\")),
        put("/tree/c", "3"), // defaults: author http, message "PUT /tree/c", the clock
        get("/head"),
        get("/history"),
        get("/history?limit=2"),
        get("/history?limit=0"),
        get("/history?limit=x"),
        get("/history?limit=1&limit=2"),
      ],
      { clock: CLOCK },
    );
    expect(responses[0].status).toBe(404);
    expect(jsonOf(responses[0])).toEqual({ error: "the branch has no commits yet" });
    expect(jsonOf(responses[1])).toEqual([]);
    const commits = [2, 3, 4].map((index) => commitOf(responses[index]));

    const store = new Store();
    const expected: string[] = [];
    for (const [path, value, commitInfo] of [
      ["a", "1", modelInfo(100, "alice", "first")],
      ["b", "2", modelInfo(-5, "bob", 'second: "quoted"\\')],
      ["c", "3", modelInfo(CLOCK, "http", "PUT /tree/c")],
    ] as const) {
      expected.push(store.setTree("main", [], add(store.getTree("main"), [path], value), commitInfo));
    }
    expect(commits).toEqual(expected);
    expect(jsonOf(responses[5])).toEqual({ commit: expected[2], tree: store.commit(expected[2]).node });
    expect(jsonOf(responses[6])).toEqual([
      { commit: expected[2], parents: [expected[1]], date: CLOCK, author: "http", message: "PUT /tree/c" },
      { commit: expected[1], parents: [expected[0]], date: -5, author: "bob", message: 'second: "quoted"\\' },
      { commit: expected[0], parents: [], date: 100, author: "alice", message: "first" },
    ]);
    expect(jsonOf(responses[7]).map((entry: { commit: string }) => entry.commit)).toEqual([expected[2], expected[1]]);
    expect(jsonOf(responses[8])).toEqual([]);
    expect(responses[9].status).toBe(400);
    expect(responses[10].status).toBe(400);
  });
});

describe.runIf(hasGcc)("serve: branches and merges", () => {
  it("creates a branch from main's head by its first write; reads of a missing branch are 404", () => {
    const responses = serve([
      put("/tree/shared", "base", info(1, "a", "base")),
      get("/branch/dev/tree/shared"),
      get("/branch/dev/head"),
      get("/branch/dev/history"),
      put("/branch/dev/tree/mine", "dev", info(2, "a", "dev work")),
      get("/branch/dev/tree/shared"),
      get("/branch/dev/history"),
      get("/tree/mine"),
      del("/branch/feature%2Fx/tree/shared", info(3, "a", "delete on a new branch")),
      del("/branch/never/tree/absent"),
      get("/branches"),
      get("/branch/bad%20name/head"),
      put("/branch/bad%20name/tree/a", "x"),
      get("/branch/never/head"),
    ]);
    const base = commitOf(responses[0]);
    expect(responses[1].status).toBe(404);
    expect(jsonOf(responses[1])).toEqual({ error: 'there is no branch "dev"' });
    expect(responses[2].status).toBe(404);
    expect(responses[3].status).toBe(404);
    const dev = commitOf(responses[4]);
    expect(responses[5].body.toString()).toBe("base");
    expect(jsonOf(responses[6]).map((entry: { commit: string; parents: string[] }) => [entry.commit, entry.parents])).toEqual([
      [dev, [base]],
      [base, []],
    ]);
    expect(responses[7].status).toBe(404); // main does not see dev's work
    const feature = commitOf(responses[8]);
    expect(responses[9].status).toBe(404); // a DELETE that removes nothing creates nothing
    expect(jsonOf(responses[10])).toEqual([
      { name: "dev", commit: dev },
      { name: "feature/x", commit: feature },
      { name: "main", commit: base },
    ]);
    expect(responses[11].status).toBe(400);
    expect(responses[12].status).toBe(400);
    expect(responses[13].status).toBe(404);

    const store = new Store();
    store.setTree("main", [], add(store.getTree("main"), ["shared"], "base"), modelInfo(1, "a", "base"));
    store.branches.set("dev", base);
    expect(store.setTree("dev", [], add(store.getTree("dev"), ["mine"], "dev"), modelInfo(2, "a", "dev work"))).toBe(dev);
    store.branches.set("feature/x", base);
    expect(store.setTree("feature/x", [], removePath(store.getTree("feature/x"), ["shared"]), modelInfo(3, "a", "delete on a new branch"))).toBe(feature);
  });

  it("merges cleanly (three-way, two parents) and fast-forwards", () => {
    const m = (date: number) => info(date, "merger", "merge it");
    const responses = serve([
      put("/tree/a", "1", info(1, "x", "a")),
      put("/tree/b", "1", info(2, "x", "b")),
      put("/branch/dev/tree/c", "dev", info(3, "x", "c on dev")),
      put("/branch/dev/tree/a", "2", info(4, "x", "a on dev")),
      put("/tree/d", "main", info(5, "x", "d on main")),
      merge("dev", "main", m(6)),
      get("/tree/"),
      get("/head"),
      merge("main", "dev", m(7)), // dev is behind main now: fast-forward
      merge("dev", "main", m(8)), // nothing to do
      merge("main", "fresh", m(9)), // into a branch that does not exist: main's head
    ]);
    expect(responses.map((response) => response.status)).toEqual([201, 201, 201, 201, 201, 200, 200, 200, 200, 200, 200]);
    const store = new Store();
    const set = (branch: string, path: string, value: string, commitInfo: Info) =>
      store.setTree(branch, [], add(store.getTree(branch), [path], value), commitInfo);
    set("main", "a", "1", modelInfo(1, "x", "a"));
    const base = set("main", "b", "1", modelInfo(2, "x", "b"));
    store.branches.set("dev", base);
    set("dev", "c", "dev", modelInfo(3, "x", "c on dev"));
    const devHead = set("dev", "a", "2", modelInfo(4, "x", "a on dev"));
    const mainHead = set("main", "d", "main", modelInfo(5, "x", "d on main"));
    const merged = store.mergeCommits(mainHead, devHead, modelInfo(6, "merger", "merge it"));
    expect(commitOf(responses[5])).toBe(merged);
    expect(store.commit(merged).parents).toEqual([mainHead, devHead].sort());
    expect(jsonOf(responses[6]).entries.map((entry: { step: string }) => entry.step)).toEqual(["a", "b", "c", "d"]);
    expect(jsonOf(responses[7]).commit).toBe(merged);
    expect(commitOf(responses[8])).toBe(merged);
    expect(commitOf(responses[9])).toBe(merged);
    expect(commitOf(responses[10])).toBe(merged);
  });

  it("409 naming every conflicting path, and the branch does not move", () => {
    const responses = serve([
      put("/tree/same", "0"),
      put("/tree/dir/f", "0"),
      put("/tree/gone", "0"),
      put("/tree/kind", "0"),
      // dev and main both change or add things differently
      put("/branch/dev/tree/added%2Fboth", "dev"),
      put("/branch/dev/tree/dir/f", "dev"),
      del("/branch/dev/tree/gone"),
      put("/branch/dev/tree/kind/sub", "dev"),
      put("/branch/dev/tree/same", "1"),
      put("/tree/added%2Fboth", "main"),
      put("/tree/dir/f", "main"),
      put("/tree/gone", "changed"),
      put("/tree/kind", "changed"),
      put("/tree/same", "1"), // the same change on both sides is no conflict
      get("/head"),
      merge("dev", "main"),
      get("/head"),
      merge("main", "dev"),
    ]);
    const headBefore = jsonOf(responses[14]).commit;
    const conflict = responses[15];
    expect(conflict.status).toBe(409);
    const body = jsonOf(conflict);
    expect(body.error).toBe("merge conflict");
    expect(body.conflicts).toEqual(["added%2Fboth", "dir/f", "gone", "kind"]);
    expect(body.message).toBe("merge conflict at added/both: both sides added different contents");
    expect(jsonOf(responses[16]).commit).toBe(headBefore);
    expect(responses[17].status).toBe(409);
    expect(jsonOf(responses[17]).conflicts).toEqual(["added%2Fboth", "dir/f", "gone", "kind"]);
  });

  it("checks its parameters", () => {
    const responses = serve([
      put("/tree/a", "1"),
      merge("nope", "main"),
      { method: "POST", target: "/merge?from=main" },
      { method: "POST", target: "/merge?into=main" },
      { method: "POST", target: "/merge" },
      merge("main", "bad%20name"),
      merge("ma%zzin", "main"),
      { method: "POST", target: "/merge?from=main&from=main&into=x" },
      merge("main", "main"),
    ]);
    expect(responses.map((response) => response.status)).toEqual([201, 404, 400, 400, 400, 400, 400, 400, 200]);
    expect(jsonOf(responses[1])).toEqual({ error: 'there is no branch "nope"' });
    expect(commitOf(responses[8])).toBe(commitOf(responses[0]));
  });
});

describe.runIf(hasGcc)("serve: /stats", () => {
  it("counts objects, connections and requests", () => {
    const results = serveConnections([
      [put("/tree/a/b", "1"), put("/tree/a/c", "2")],
      [get("/nope")],
      [get("/stats")],
    ]);
    const stats = jsonOf(results[2].responses[0]);
    const store = new Store();
    store.setTree("main", [], add(store.getTree("main"), ["a", "b"], "1"), modelInfo(0, "http", ""));
    store.setTree("main", [], add(store.getTree("main"), ["a", "c"], "2"), modelInfo(0, "http", ""));
    expect(stats.objects).toEqual(store.counts());
    expect(stats).toMatchObject({
      branches: 1,
      steps: 3,
      heap_in_use: 0,
      connections: { open: 1, served: 2, refused: 0 },
      requests: 3,
      responses: { "2xx": 2, "3xx": 0, "4xx": 1, "5xx": 0 },
      tcp: null,
    });
    expect(stats.store_heap_bytes).toBeGreaterThan(0);
  });
});

// ---- the acceptance point: the head after a scripted sequence (scripted.ts) equals the model's ----

describe.runIf(hasGcc)("serve: the head after scripted PUTs equals the model's", () => {
  for (const [seed, count, deletes, split] of [
    [1, 300, false, 0],
    [2, 300, true, 0],
    [3, 120, true, 7],
  ] as const) {
    it(`seed ${seed}: ${count} ${deletes ? "PUTs and DELETEs" : "PUTs"}${split ? `, read ${split} bytes at a time` : ""}`, () => {
      const { operations, store } = scriptedSequence(seed, count, deletes);
      const responses = serve([...operations.map((operation) => operation.request), get("/head"), get("/history"), get("/stats")], split ? { split, random: seed } : {});
      expect(responses.length).toBe(operations.length + 3);
      operations.forEach((operation, index) => {
        const response = responses[index];
        expect(response.status, `operation ${index}: ${operation.request.method} ${operation.request.target}`).toBe(operation.expectedStatus);
        if (operation.expectedCommit !== undefined) expect(commitOf(response)).toBe(operation.expectedCommit);
      });
      const head = store.branches.get("main")!;
      expect(jsonOf(responses[operations.length])).toEqual({ commit: head, tree: store.commit(head).node });
      expect(jsonOf(responses[operations.length + 1]).map((entry: { commit: string }) => entry.commit)).toEqual(store.history(head).map(([hash]) => hash));
      expect(jsonOf(responses[operations.length + 2]).objects).toEqual(store.counts());
    });
  }
});
