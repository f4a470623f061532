/**
 * The server's state: one SQLite file (better-sqlite3, WAL, synchronous=FULL so an acknowledged
 * write survives a kill). Each part of the server owns its tables and creates them with its own
 * `migrate(db)` (CREATE TABLE IF NOT EXISTS); openDb runs them all in one transaction, after an
 * integrity check: a damaged file is refused at start (a clear message), not found by the first
 * route that reads the damaged page.
 */
import Database from "better-sqlite3";
import { InputError } from "../runtime/errors.js";

export type Db = Database.Database;

export class DamagedDbError extends InputError {
  constructor(path: string, why: string) {
    super(`${path} is damaged (${why}): the server does not start on it. Restore it from a backup, or move it away ` +
      `(the artifacts/ beside it stay, but jobs, datasets and agents are forgotten) and start again`);
    this.name = "DamagedDbError";
  }
}

export function openDb(path: string, migrations: readonly ((db: Db) => void)[]): Db {
  let db: Db | undefined;
  try {
    db = new Database(path);
    // quick_check: every page and index entry well-formed (O(size), no cross-check of index contents)
    const rows = db.pragma("quick_check(5)") as { quick_check: string }[];
    const verdict = rows.map((r) => r.quick_check);
    if (verdict.length !== 1 || verdict[0] !== "ok") throw new DamagedDbError(path, `quick_check: ${verdict.join("; ").slice(0, 500)}`);
    db.pragma("journal_mode = WAL");
  } catch (e) {
    db?.close();
    if (e instanceof DamagedDbError) throw e;
    const code = (e as { code?: string }).code ?? "";
    if (/^SQLITE_(NOTADB|CORRUPT)/.test(code)) throw new DamagedDbError(path, `${code}: ${(e as Error).message}`);
    throw e;
  }
  db.pragma("synchronous = FULL");
  db.pragma("foreign_keys = ON");
  db.pragma("busy_timeout = 5000");
  db.transaction(() => { for (const m of migrations) m(db); })();
  return db;
}

/** Milliseconds since the epoch (what every *_at column holds). */
export const now = (): number => Date.now();
