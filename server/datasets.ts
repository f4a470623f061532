/**
 * /v1/datasets: parallel text for training and search. A dataset is a name and its splits (train,
 * valid, optional test), each side of each split one text artifact (a sentence a line), so jobs
 * hand plain files to the `hat` CLI. Uploaded as JSON (up to the body limit), read from files on the
 * server's disk (a real corpus: `files` with absolute paths; only the admin can ask, and only under
 * the directories the operator allowed with `hat serve --corpus-root`), or the built-in demo task
 * (data/demo-task.ts).
 *
 * A `files` path is checked by its real path (symbolic links resolved) against those roots; only a
 * regular file is read, never /proc, /sys or /dev (whose files say 0 bytes and stream without end),
 * and the read counts bytes as it streams: past the cap it stops with a 413.
 */
import { randomBytes } from "node:crypto";
import { constants, realpathSync, statSync } from "node:fs";
import { open } from "node:fs/promises";
import { isAbsolute, resolve, sep } from "node:path";
import { InputError } from "../runtime/errors.js";
import { Hono } from "hono";
import { z } from "zod";
import { demoTask } from "../data/demo-task.js";
import type { ServerContext } from "./context.js";
import { now, type Db } from "./db.js";
import { ApiError, badRequest, check, jsonBody, notFound } from "./http.js";
import { describe } from "./openapi.js";

/** A side of a split read from the server's disk: at most this (a JS string holds ~512 MiB). */
export const MAX_CORPUS_FILE_BYTES = 400 * 1024 * 1024;
/** Kernel file systems: never corpora, whatever the roots say. */
const SPECIAL = ["/proc", "/sys", "/dev"];
const under = (p: string, root: string) => p === root || p.startsWith(root.endsWith(sep) ? root : root + sep);

/** The operator's --corpus-root directories as real paths; an InputError for one that is missing, not a directory, or a kernel file system. */
export function corpusRoots(dirs: readonly string[]): string[] {
  return dirs.map((d) => {
    let real: string;
    try {
      real = realpathSync(resolve(d));
    } catch (e) {
      throw new InputError(`--corpus-root ${d}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    if (!statSync(real).isDirectory()) throw new InputError(`--corpus-root ${d}: not a directory`);
    if (SPECIAL.some((k) => under(real, k))) throw new InputError(`--corpus-root ${d}: ${real} is a kernel file system, not a place for corpora`);
    return real;
  });
}

export const SPLITS = ["train", "valid", "test"] as const;
export type SplitName = (typeof SPLITS)[number];

export interface SplitInfo {
  src_sha256: string;
  tgt_sha256: string;
  lines: number;
}

export interface Dataset {
  id: string;
  name: string;
  splits: { train: SplitInfo; valid: SplitInfo; test?: SplitInfo };
  created_at: number;
}

export function migrateDatasets(db: Db): void {
  db.exec(`CREATE TABLE IF NOT EXISTS datasets (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, splits TEXT NOT NULL, created_at INTEGER NOT NULL)`);
}

const text = z.string().min(1, "must not be empty");
const split = z.strictObject({ src: text, tgt: text });
const name = z.string().trim().min(1).max(200);

const BuiltinBody = z.strictObject({ name, builtin: z.literal("demo"), seed: z.number().int().min(0).max(2 ** 31 - 1).optional() });
const UploadBody = z.strictObject({ name, splits: z.strictObject({ train: split, valid: split, test: split.optional() }) });
const path = z.string().min(1).max(4096).refine((p) => isAbsolute(p), "must be an absolute path on the server");
const filePair = z.strictObject({ src: path, tgt: path });
const FilesBody = z.strictObject({ name, files: z.strictObject({ train: filePair, valid: filePair, test: filePair.optional() }) });
/** The body (for the document); requests are checked against the one alternative they mean, for errors that name the field. */
export const DatasetBody = z.union([BuiltinBody, UploadBody, FilesBody]);

const SplitSchema = z.object({ src_sha256: z.string(), tgt_sha256: z.string(), lines: z.number() });
const DatasetSchema = z.object({
  id: z.string(), name: z.string(), created_at: z.number(),
  splits: z.object({ train: SplitSchema, valid: SplitSchema, test: SplitSchema.optional() }),
});

/** A text's lines: one trailing newline is not an empty last sentence; CRLF is read as LF. */
function linesOf(t: string): string[] {
  return t.replace(/\r\n/g, "\n").replace(/\n$/, "").split("\n");
}

/**
 * A corpus file of a `files` dataset: its real path under one of `roots`, a regular file, read by
 * streaming with the bytes counted (a file's stat size is not trusted). A 400 (413 past the cap)
 * naming the field `at` otherwise.
 */
export async function readCorpusFile(file: string, at: string, roots: readonly string[], maxBytes: number): Promise<string> {
  if (roots.length === 0) {
    throw badRequest(`${at}: this server reads no dataset files from its disk; its operator allows directories with hat serve --corpus-root DIR (or upload the texts as "splits")`, "corpus_root_required");
  }
  let real: string;
  try {
    real = realpathSync(file);
  } catch (e) {
    throw badRequest(`${at}: cannot read ${file} on the server (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, "invalid_body");
  }
  const named = real === file ? file : `${file} (${real})`;
  if (SPECIAL.some((k) => under(real, k)) || !roots.some((r) => under(real, r))) {
    throw badRequest(`${at}: ${named} is not under a corpus root of this server (${roots.join(", ")}; hat serve --corpus-root)`, "path_not_allowed");
  }
  let fh;
  try {
    // O_NONBLOCK: a fifo swapped in after the check must not hang the open; O_NOFOLLOW: nor a link
    fh = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (e) {
    throw badRequest(`${at}: cannot read ${named} on the server (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, "invalid_body");
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw badRequest(`${at}: ${named} is not a regular file`, "invalid_body");
    const tooLarge = () => new ApiError(413, "file_too_large", `${at}: ${named} has more than ${maxBytes} bytes (the most a side of a split read from the server's disk may have)`);
    if (st.size > maxBytes) throw tooLarge(); // at once when its size says so; the count below when it does not
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const buf = Buffer.allocUnsafe(1 << 20);
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      total += bytesRead;
      if (total > maxBytes) throw tooLarge();
      chunks.push(bytesRead === buf.length ? buf : buf.subarray(0, bytesRead));
    }
    return Buffer.concat(chunks, total).toString("utf8");
  } catch (e) {
    if (e instanceof ApiError) throw e;
    throw badRequest(`${at}: cannot read ${named} on the server (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, "invalid_body");
  } finally {
    await fh.close();
  }
}

/** The parallel lines of each split, checked (equal counts, no empty side) before anything is stored. */
async function splitsOf(ctx: ServerContext, body: z.infer<typeof DatasetBody>): Promise<Partial<Record<SplitName, { src: string[]; tgt: string[] }>>> {
  if ("builtin" in body) {
    const t = demoTask({ seed: body.seed ?? 1 });
    return { train: t.train, valid: t.valid, test: t.test };
  }
  const field = "files" in body ? "files" : "splits";
  const read = (file: string, at: string) => readCorpusFile(file, at, ctx.config.corpusRoots, ctx.config.maxCorpusFileBytes);
  const out: Partial<Record<SplitName, { src: string[]; tgt: string[] }>> = {};
  for (const s of SPLITS) {
    const p = "files" in body ? body.files[s] && { src: await read(body.files[s]!.src, `files.${s}.src`), tgt: await read(body.files[s]!.tgt, `files.${s}.tgt`) } : body.splits[s];
    if (!p) continue;
    const src = linesOf(p.src), tgt = linesOf(p.tgt);
    if (src.length !== tgt.length) throw badRequest(`${field}.${s}: src has ${src.length} lines, tgt has ${tgt.length} (a sentence a line, the same count on both sides)`, "invalid_body");
    if (src.every((l) => l.trim() === "")) throw badRequest(`${field}.${s}: no sentences`, "invalid_body");
    out[s] = { src, tgt };
  }
  return out;
}

const rowToDataset = (r: { id: string; name: string; splits: string; created_at: number }): Dataset =>
  ({ id: r.id, name: r.name, splits: JSON.parse(r.splits), created_at: r.created_at });

export function getDataset(ctx: ServerContext, id: string): Dataset | undefined {
  const r = ctx.db.prepare(`SELECT * FROM datasets WHERE id = ?`).get(id) as Parameters<typeof rowToDataset>[0] | undefined;
  return r && rowToDataset(r);
}

export interface SplitFiles {
  src: string;
  tgt: string;
  lines: number;
}

/**
 * The files of a dataset's splits (absolute paths: jobs run the CLI in their own directory). A 400
 * naming `field` when the id is unknown or a file went missing: job kinds call it in `prepare`.
 */
export function datasetFiles(ctx: ServerContext, id: string, field = "dataset"): { train: SplitFiles; valid: SplitFiles; test?: SplitFiles } {
  const d = typeof id === "string" ? getDataset(ctx, id) : undefined;
  if (!d) throw badRequest(`${field}: no dataset ${JSON.stringify(id)}`, "unknown_dataset");
  const files = (s: SplitInfo, split: string): SplitFiles => {
    for (const sha of [s.src_sha256, s.tgt_sha256]) {
      if (!ctx.artifacts.has(sha)) throw badRequest(`${field}: the ${split} text ${sha} of dataset ${id} is missing from the artifact store`, "missing_artifact");
    }
    return { src: resolve(ctx.artifacts.path(s.src_sha256)), tgt: resolve(ctx.artifacts.path(s.tgt_sha256)), lines: s.lines };
  };
  return {
    train: files(d.splits.train, "train"), valid: files(d.splits.valid, "valid"),
    ...(d.splits.test ? { test: files(d.splits.test, "test") } : {}),
  };
}

export function datasetsApp(ctx: ServerContext): Hono {
  const app = new Hono();
  app.use("*", ctx.admin);

  describe({
    method: "post", path: "/v1/datasets", auth: "admin", body: DatasetBody,
    summary: "add a dataset: parallel texts (a sentence a line) uploaded, or read from absolute paths on the server under its --corpus-root directories (files), or the built-in demo task",
    ok: { status: 201, description: "the dataset with each split's sha256s and line count", schema: DatasetSchema },
  });
  app.post("/", async (c) => {
    const raw = await jsonBody(c, z.unknown());
    const has = (k: string) => typeof raw === "object" && raw !== null && k in raw;
    const body: z.infer<typeof DatasetBody> = has("builtin") ? check(BuiltinBody, raw) : has("files") ? check(FilesBody, raw) : check(UploadBody, raw);
    const parts = await splitsOf(ctx, body); // every check before the first write: a rejected upload stores nothing
    const splits: Record<string, SplitInfo> = {};
    for (const [s, p] of Object.entries(parts)) {
      const put = (lines: string[], side: string) =>
        ctx.artifacts.put(Buffer.from(lines.join("\n") + "\n", "utf8"), "text", `${body.name}.${s}.${side}`).sha256;
      splits[s] = { src_sha256: put(p.src, "src"), tgt_sha256: put(p.tgt, "tgt"), lines: p.src.length };
    }
    const d: Dataset = { id: `ds_${randomBytes(6).toString("hex")}`, name: body.name, splits: splits as Dataset["splits"], created_at: now() };
    ctx.db.prepare(`INSERT INTO datasets (id, name, splits, created_at) VALUES (?, ?, ?, ?)`).run(d.id, d.name, JSON.stringify(d.splits), d.created_at);
    ctx.log(`dataset ${d.id} (${d.name}): ${Object.entries(splits).map(([s, i]) => `${s} ${i.lines}`).join(", ")} lines`);
    return c.json(d, 201);
  });

  describe({ method: "get", path: "/v1/datasets", auth: "admin", summary: "the datasets, newest first", ok: { status: 200, description: "{ datasets: [...] }" } });
  app.get("/", (c) => {
    const rows = ctx.db.prepare(`SELECT * FROM datasets ORDER BY created_at DESC, rowid DESC`).all() as Parameters<typeof rowToDataset>[0][];
    return c.json({ datasets: rows.map(rowToDataset) });
  });

  describe({ method: "get", path: "/v1/datasets/{id}", auth: "admin", summary: "one dataset", ok: { status: 200, description: "the dataset", schema: DatasetSchema } });
  app.get("/:id", (c) => {
    const d = getDataset(ctx, c.req.param("id"));
    if (!d) throw notFound(`dataset ${c.req.param("id")}`);
    return c.json(d);
  });
  return app;
}
