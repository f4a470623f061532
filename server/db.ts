/**
 * The server's state: one SQLite file (better-sqlite3, WAL, synchronous=FULL so an acknowledged
 * write survives a kill). Each part of the server owns its tables and creates them with its own
 * `migrate(db)` (CREATE TABLE IF NOT EXISTS); openDb runs them all in one transaction.
 */
import Database from "better-sqlite3";

export type Db = Database.Database;

export function openDb(path: string, migrations: readonly ((db: Db) => void)[]): Db {
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL");
  db.pragma("foreign_keys = ON");
  db.pragma("busy_timeout = 5000");
  db.transaction(() => { for (const m of migrations) m(db); })();
  return db;
}

/** Milliseconds since the epoch (what every *_at column holds). */
export const now = (): number => Date.now();
