/**
 * The server's disk and database going wrong: a damaged state.db is refused at start with a clear
 * message; a missing or empty one beside stored artifacts is a warning line; an upload that hits
 * a disk error is a 500 `storage_error` (507 when full) naming the cause, not a bare `internal`.
 */
import { closeSync, existsSync, mkdtempSync, openSync, rmSync, statSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { createServer, type HatServer } from "../../server/app.js";
import { hashToken } from "../../server/auth.js";
import { DamagedDbError } from "../../server/db.js";
import { storageError } from "../../server/http.js";
import { InputError } from "../../runtime/errors.js";

const ADMIN = "t";
const root = mkdtempSync(join(tmpdir(), "hat-integrity-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let n = 0;
function start(dir: string, lines: string[] = []): HatServer {
  return createServer({ dataDir: dir, adminTokenHash: hashToken(ADMIN), log: (l) => lines.push(l) });
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function upload(s: HatServer, name = "d"): Promise<{ status: number; body: any }> {
  const lines = Array.from({ length: 400 }, (_, i) => `sentence ${i} of ${name} with some words in it`).join("\n");
  const res = await s.app.request("/v1/datasets", {
    method: "POST", headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
    body: JSON.stringify({ name, splits: { train: { src: lines, tgt: lines + " x" }, valid: { src: "a", tgt: "b" } } }),
  });
  return { status: res.status, body: await res.json() };
}

/** A data directory with a few datasets in state.db, closed. */
async function filled(): Promise<string> {
  const dir = join(root, `d${n++}`);
  const s = start(dir);
  for (let i = 0; i < 30; i++) expect((await upload(s, `ds${i}`)).status).toBe(201);
  await s.close();
  return dir;
}

function overwrite(file: string, at: number, bytes: Buffer): void {
  const fd = openSync(file, "r+");
  writeSync(fd, bytes, 0, bytes.length, at);
  closeSync(fd);
}

describe("state.db at start", () => {
  it("a damaged page: refused with a message naming the file, and nothing is started", async () => {
    const dir = await filled();
    const db = join(dir, "state.db");
    expect(statSync(db).size).toBeGreaterThan(4 * 4096);
    const d = new Database(db);
    const page = (d.prepare(`SELECT rootpage FROM sqlite_master WHERE name = 'datasets'`).get() as { rootpage: number }).rootpage;
    const size = d.pragma("page_size", { simple: true }) as number;
    d.close();
    overwrite(db, (page - 1) * size, Buffer.alloc(64, 0xa5)); // the datasets table's page: GET /v1/datasets answered 500 only when asked
    let e: unknown;
    try {
      start(dir);
    } catch (err) {
      e = err;
    }
    expect(e).toBeInstanceOf(DamagedDbError);
    expect(e).toBeInstanceOf(InputError); // hat serve: one line, exit code 2
    expect((e as Error).message).toMatch(/state\.db is damaged \((quick_check|SQLITE_CORRUPT)/);
    expect((e as Error).message).toMatch(/Restore it from a backup/);
    expect(existsSync(join(dir, "server.lock"))).toBe(false); // the lock is given back
  });

  it("a header that is not SQLite's: refused the same way", async () => {
    const dir = await filled();
    overwrite(join(dir, "state.db"), 0, Buffer.from("this is not a database at all"));
    expect(() => start(dir)).toThrow(/state\.db is damaged \(SQLITE_NOTADB/);
  });

  it("a missing or empty state.db beside stored artifacts is a warning line, not a silent fresh start", async () => {
    const dir = await filled();
    for (const f of ["state.db", "state.db-wal", "state.db-shm"]) rmSync(join(dir, f), { force: true });
    const lines: string[] = [];
    const s = start(dir, lines);
    await s.close();
    expect(lines.filter((l) => /^warning: .*state\.db is missing but .*artifacts holds artifacts/.test(l))).toHaveLength(1);
    for (const f of ["state.db", "state.db-wal", "state.db-shm"]) rmSync(join(dir, f), { force: true });
    writeFileSync(join(dir, "state.db"), "");
    const again: string[] = [];
    await start(dir, again).close();
    expect(again.some((l) => /^warning: .*state\.db is empty/.test(l))).toBe(true);
    // a first start (no artifacts) and a normal restart say nothing
    const fresh: string[] = [];
    await start(join(root, "fresh"), fresh).close();
    await start(join(root, "fresh"), fresh).close();
    expect(fresh.filter((l) => /warning/.test(l))).toEqual([]);
  });
});

describe("a disk error under an upload", () => {
  it("is a 500 storage_error naming the cause (507 when the disk is full), and the server stays up", async () => {
    const dir = join(root, "disk");
    const lines: string[] = [];
    const s = start(dir, lines);
    // as root chmod stops nothing: the artifacts directory is replaced by a file, so storing fails (ENOTDIR, as EACCES/EROFS would)
    rmSync(join(dir, "artifacts"), { recursive: true, force: true });
    writeFileSync(join(dir, "artifacts"), "not a directory");
    const r = await upload(s);
    expect(r.status).toBe(500);
    expect(r.body.error.code).toBe("storage_error");
    expect(r.body.error.message).toMatch(/the server cannot read or write its data directory \(ENOTDIR: /);
    expect(lines.some((l) => /^storage error on POST \/v1\/datasets/.test(l))).toBe(true);
    expect((await s.app.request("/v1/health")).status).toBe(200);
    await s.close();

    const full = Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
    expect(storageError(full)).toMatchObject({ status: 507, code: "insufficient_storage", message: expect.stringMatching(/disk is full \(ENOSPC/) });
    expect(storageError(Object.assign(new Error("attempt to write a readonly database"), { code: "SQLITE_READONLY" }))).toMatchObject({ status: 500, code: "storage_error" });
    expect(storageError(Object.assign(new Error("disk I/O error"), { code: "SQLITE_IOERR_WRITE" }))).toMatchObject({ status: 500 });
    expect(storageError(new Error("a bug"))).toBeUndefined();
  });
});
