/**
 * /v1/datasets in-process (app.request): the built-in demo task, uploads (line counts, one
 * trailing newline), rejected uploads storing nothing, access, and datasetFiles for job kinds.
 */
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { isAbsolute, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer, type HatServer } from "../../server/app.js";
import { hashToken } from "../../server/auth.js";
import { corpusRoots, datasetFiles } from "../../server/datasets.js";
import { ApiError } from "../../server/http.js";

const ADMIN = "t";
let dir = "";
let s: HatServer;

let corpus = "";

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "hat-datasets-"));
  corpus = join(dir, "corpus");
  mkdirSync(corpus);
  s = createServer({ dataDir: dir, adminTokenHash: hashToken(ADMIN), log: () => {}, corpusRoots: [corpus] });
});

afterAll(async () => {
  await s.close();
  rmSync(dir, { recursive: true, force: true });
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function call(method: string, path: string, o: { token?: string | null; body?: unknown; raw?: string; type?: string; server?: HatServer } = {}): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = {};
  if (o.token !== null) headers.authorization = `Bearer ${o.token ?? ADMIN}`;
  if (o.body !== undefined || o.raw !== undefined) headers["content-type"] = o.type ?? "application/json";
  const res = await (o.server ?? s).app.request(path, { method, headers, body: o.raw ?? (o.body === undefined ? undefined : JSON.stringify(o.body)) });
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
    const w = (n: string, t: string) => { const p = join(corpus, n); writeFileSync(p, t); return p; };
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
    const gone = await call("POST", "/v1/datasets", { body: { name: "g", files: { ...files, train: { src: join(corpus, "nope.en"), tgt: files.train.tgt } } } });
    expect(gone.status).toBe(400);
    expect(gone.body.error.message).toMatch(/files\.train\.src: cannot read .*nope\.en.*ENOENT/);
    const uneven = await call("POST", "/v1/datasets", { body: { name: "u", files: { ...files, valid: { src: files.train.src, tgt: files.valid.tgt } } } });
    expect(uneven.body.error.message).toMatch(/files\.valid: src has 2 lines, tgt has 1/);
    expect((await call("GET", "/v1/datasets")).body.datasets.length).toBe(before);
  });
});

describe("datasets from files: only under the operator's --corpus-root directories", () => {
  const pair = (src: string, tgt: string) => ({ train: { src, tgt }, valid: { src, tgt } });
  const ok = () => { const p = join(corpus, "ok.txt"); writeFileSync(p, "a b\n"); return p; };
  const others: HatServer[] = [];
  afterAll(async () => { for (const o of others) await o.close(); });
  const other = (o: Partial<Parameters<typeof createServer>[0]>) => {
    const d = mkdtempSync(join(dir, "other-"));
    const srv = createServer({ dataDir: d, adminTokenHash: hashToken(ADMIN), log: () => {}, ...o });
    others.push(srv);
    return srv;
  };

  it("without --corpus-root a files dataset is refused with a message naming it", async () => {
    const bare = other({});
    const r = await call("POST", "/v1/datasets", { server: bare, body: { name: "f", files: pair(ok(), ok()) } });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe("corpus_root_required");
    expect(r.body.error.message).toMatch(/files\.train\.src: .*--corpus-root/);
    // uploads and the demo are what such a server takes
    expect((await call("POST", "/v1/datasets", { server: bare, body: { name: "u", splits: { train: { src: "a", tgt: "b" }, valid: { src: "c", tgt: "d" } } } })).status).toBe(201);
  });

  it("refuses files outside the roots, links leading out of them, /proc, devices and fifos", async () => {
    const before = count("datasets");
    const outside = join(dir, "outside.txt");
    writeFileSync(outside, "x\n");
    symlinkSync("/etc/passwd", join(corpus, "passwd-link"));
    symlinkSync("/proc/self/environ", join(corpus, "environ-link"));
    symlinkSync("/dev/zero", join(corpus, "zero-link"));
    symlinkSync(outside, join(corpus, "outside-link"));
    execFileSync("mkfifo", [join(corpus, "fifo")]);
    mkdirSync(join(corpus, "a-dir"), { recursive: true });
    const cases: [string, RegExp][] = [
      [outside, /is not under a corpus root/],
      [join(corpus, "passwd-link"), /passwd-link \(\/etc\/passwd\) is not under a corpus root/],
      [join(corpus, "environ-link"), /\/proc\/\d+\/environ\) is not under a corpus root/],
      [join(corpus, "zero-link"), /\(\/dev\/zero\) is not under a corpus root/],
      [join(corpus, "outside-link"), /is not under a corpus root/],
      [join(corpus, "..", "outside.txt"), /is not under a corpus root/],
      [join(corpus, "fifo"), /fifo is not a regular file/],
      [join(corpus, "a-dir"), /a-dir is not a regular file/],
      ["/proc/self/pagemap", /is not under a corpus root/],
    ];
    for (const [file, message] of cases) {
      const t0 = Date.now();
      const r = await call("POST", "/v1/datasets", { body: { name: "bad", files: pair(ok(), file) } });
      expect(r.status, file).toBe(400);
      expect(r.body.error.message, file).toMatch(/^files\.train\.tgt: /);
      expect(r.body.error.message, file).toMatch(message);
      expect(Date.now() - t0, file).toBeLessThan(2000); // a fifo never hangs the read
    }
    expect(count("datasets")).toBe(before);
  });

  it("a root of / still never reads /proc, /sys or /dev (a file that says 0 bytes and streams without end)", async () => {
    const all = other({ corpusRoots: ["/"] });
    for (const file of ["/proc/self/pagemap", "/proc/self/environ", "/dev/zero", "/dev/null"]) {
      const t0 = Date.now();
      const r = await call("POST", "/v1/datasets", { server: all, body: { name: "p", files: pair(ok(), file) } });
      expect(r.status, file).toBe(400);
      expect(r.body.error.code, file).toBe("path_not_allowed");
      expect(Date.now() - t0, file).toBeLessThan(2000);
    }
    expect(() => corpusRoots(["/proc"])).toThrow(/kernel file system/);
    expect(() => corpusRoots([join(dir, "no-such-dir")])).toThrow(/--corpus-root .*ENOENT/);
    expect(() => corpusRoots([ok()])).toThrow(/not a directory/);
  });

  it("counts the bytes while reading: past the cap a 413, whatever the file's size said", async () => {
    const small = other({ corpusRoots: [corpus], maxCorpusFileBytes: 1000 });
    const big = join(corpus, "big.txt");
    writeFileSync(big, "word word word\n".repeat(200)); // 3000 bytes
    const r = await call("POST", "/v1/datasets", { server: small, body: { name: "big", files: pair(big, big) } });
    expect(r.status).toBe(413);
    expect(r.body.error).toMatchObject({ code: "file_too_large" });
    expect(r.body.error.message).toMatch(/files\.train\.src: .*big\.txt has more than 1000 bytes/);
    const fits = join(corpus, "fits.txt");
    writeFileSync(fits, "a b\n".repeat(100));
    expect((await call("POST", "/v1/datasets", { server: small, body: { name: "fits", files: pair(fits, fits) } })).status).toBe(201);
  });
});
