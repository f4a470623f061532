/**
 * /v1/datasets in-process (app.request): the built-in demo task, uploads (line counts, one
 * trailing newline), rejected uploads storing nothing, access, and datasetFiles for job kinds.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { isAbsolute, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer, type HatServer } from "../../server/app.js";
import { hashToken } from "../../server/auth.js";
import { datasetFiles } from "../../server/datasets.js";
import { ApiError } from "../../server/http.js";

const ADMIN = "t";
let dir = "";
let s: HatServer;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "hat-datasets-"));
  s = createServer({ dataDir: dir, adminTokenHash: hashToken(ADMIN), log: () => {} });
});

afterAll(async () => {
  await s.close();
  rmSync(dir, { recursive: true, force: true });
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function call(method: string, path: string, o: { token?: string | null; body?: unknown; raw?: string; type?: string } = {}): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = {};
  if (o.token !== null) headers.authorization = `Bearer ${o.token ?? ADMIN}`;
  if (o.body !== undefined || o.raw !== undefined) headers["content-type"] = o.type ?? "application/json";
  const res = await s.app.request(path, { method, headers, body: o.raw ?? (o.body === undefined ? undefined : JSON.stringify(o.body)) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

const count = (table: string) => (s.ctx.db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
const sha = (t: string) => createHash("sha256").update(t).digest("hex");

describe("/v1/datasets", () => {
  it("stores the built-in demo task, lists it and returns it by id", async () => {
    const r = await call("POST", "/v1/datasets", { body: { name: "demo", builtin: "demo", seed: 2 } });
    expect(r.status).toBe(201);
    expect(r.body.id).toMatch(/^ds_[0-9a-f]{12}$/);
    expect(r.body.splits.train.lines).toBe(20000);
    expect(r.body.splits.valid.lines).toBe(500);
    expect(r.body.splits.test.lines).toBe(500);
    expect(s.ctx.artifacts.has(r.body.splits.train.src_sha256)).toBe(true);
    const one = await call("GET", `/v1/datasets/${r.body.id}`);
    expect(one.body).toEqual(r.body);
    const all = await call("GET", "/v1/datasets");
    expect(all.body.datasets.map((d: { id: string }) => d.id)).toContain(r.body.id);
    const files = datasetFiles(s.ctx, r.body.id);
    expect(isAbsolute(files.train.src)).toBe(true);
    expect(readFileSync(files.valid.tgt, "utf8").split("\n").length).toBe(501); // 500 lines, a final newline
  });

  it("stores an upload: one trailing newline is not a sentence, CRLF is read as LF", async () => {
    const r = await call("POST", "/v1/datasets", {
      body: { name: "tiny", splits: { train: { src: "a b\nc d\n", tgt: "x y\r\nz w" }, valid: { src: "e", tgt: "f" } } },
    });
    expect(r.status).toBe(201);
    expect(r.body.splits.train).toEqual({ src_sha256: sha("a b\nc d\n"), tgt_sha256: sha("x y\nz w\n"), lines: 2 });
    expect(r.body.splits.valid.lines).toBe(1);
    expect(r.body.splits.test).toBeUndefined();
    expect(datasetFiles(s.ctx, r.body.id).test).toBeUndefined();
    expect(readFileSync(datasetFiles(s.ctx, r.body.id).train.tgt, "utf8")).toBe("x y\nz w\n");
  });

  it("rejects bad uploads with the field named and stores nothing", async () => {
    const before = { datasets: count("datasets"), artifacts: count("artifacts") };
    const bad: [unknown, RegExp][] = [
      [{ name: "x", splits: { train: { src: "a\nb", tgt: "c" }, valid: { src: "e", tgt: "f" } } }, /splits\.train: src has 2 lines, tgt has 1/],
      [{ name: "x", splits: { train: { src: "a", tgt: "c" }, valid: { src: "e\nf\n", tgt: "g" }, test: { src: "h", tgt: "i" } } }, /splits\.valid/],
      [{ name: "x", splits: { train: { src: "a", tgt: "c" } } }, /splits\.valid/],
      [{ name: "x", splits: { train: { src: "", tgt: "c" }, valid: { src: "e", tgt: "f" } } }, /splits\.train\.src/],
      [{ name: "x", splits: { train: { src: "\n", tgt: "\n" }, valid: { src: "e", tgt: "f" } } }, /splits\.train: no sentences/],
      [{ name: "x", splits: { train: { src: 3, tgt: "c" }, valid: { src: "e", tgt: "f" } } }, /splits\.train\.src/],
      [{ name: "x", builtin: "wmt14" }, /builtin|splits/],
      [{ builtin: "demo" }, /name/],
      [{ name: "x", builtin: "demo", seed: -1 }, /seed/],
    ];
    for (const [body, message] of bad) {
      const r = await call("POST", "/v1/datasets", { body });
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error.message).toMatch(message);
    }
    expect((await call("POST", "/v1/datasets", { raw: "{not json" })).body.error.code).toBe("invalid_json");
    expect((await call("POST", "/v1/datasets", { raw: "{}", type: "text/plain" })).status).toBe(415);
    expect((await call("POST", "/v1/datasets", { token: null, body: { name: "x", builtin: "demo" } })).status).toBe(401);
    expect((await call("POST", "/v1/datasets", { token: "wrong", body: { name: "x", builtin: "demo" } })).status).toBe(401);
    expect({ datasets: count("datasets"), artifacts: count("artifacts") }).toEqual(before);
  });

  it("answers 404 for an unknown id and 401 without a token", async () => {
    expect((await call("GET", "/v1/datasets/ds_nope")).status).toBe(404);
    expect((await call("GET", "/v1/datasets", { token: null })).status).toBe(401);
  });

  it("datasetFiles names the field when the id is unknown", () => {
    let e: unknown;
    try {
      datasetFiles(s.ctx, "ds_nope", "params.data");
    } catch (err) {
      e = err;
    }
    expect(e).toBeInstanceOf(ApiError);
    expect((e as ApiError).status).toBe(400);
    expect((e as ApiError).message).toMatch(/^params\.data: /);
  });

  it("is in the OpenAPI document", async () => {
    const doc = (await call("GET", "/openapi.json", { token: null })).body;
    expect(doc.paths["/v1/datasets"].post.requestBody).toBeDefined();
    expect(doc.paths["/v1/datasets/{id}"].get).toBeDefined();
  });
});

describe("datasets from files on the server", () => {
  it("reads absolute paths (a real corpus), refusing relative or unreadable ones with the field", async () => {
    const w = (n: string, t: string) => { const p = join(dir, n); writeFileSync(p, t); return p; };
    const files = {
      train: { src: w("tr.en", "a b\nc d\n"), tgt: w("tr.de", "x y\nz w\n") },
      valid: { src: w("va.en", "a\n"), tgt: w("va.de", "x\n") },
    };
    const ok = await call("POST", "/v1/datasets", { body: { name: "files", files } });
    expect(ok.status).toBe(201);
    expect(ok.body.splits.train.lines).toBe(2);
    expect(readFileSync(datasetFiles(s.ctx, ok.body.id).train.tgt, "utf8")).toBe("x y\nz w\n");
    const before = (await call("GET", "/v1/datasets")).body.datasets.length;
    const rel = await call("POST", "/v1/datasets", { body: { name: "r", files: { ...files, valid: { src: "va.en", tgt: files.valid.tgt } } } });
    expect(rel.status).toBe(400);
    expect(rel.body.error.message).toMatch(/files\.valid\.src: must be an absolute path/);
    const gone = await call("POST", "/v1/datasets", { body: { name: "g", files: { ...files, train: { src: join(dir, "nope.en"), tgt: files.train.tgt } } } });
    expect(gone.status).toBe(400);
    expect(gone.body.error.message).toMatch(/files\.train\.src: cannot read .*nope\.en.*ENOENT/);
    const uneven = await call("POST", "/v1/datasets", { body: { name: "u", files: { ...files, valid: { src: files.train.src, tgt: files.valid.tgt } } } });
    expect(uneven.body.error.message).toMatch(/files\.valid: src has 2 lines, tgt has 1/);
    expect((await call("GET", "/v1/datasets")).body.datasets.length).toBe(before);
  });
});
