/**
 * Artifacts (datasets, checkpoints, models, predictors, reports) on disk, addressed by sha256:
 * `DIR/ab/abcdef...`. A file is written to a temporary name, fsynced and renamed, so a kill never
 * leaves a half file under a hash; reading checks the size. The `artifacts` table records kind,
 * name and size of each.
 */
import { createHash } from "node:crypto";
import { createReadStream, existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../runtime/files.js";
import type { Db } from "./db.js";
import { now } from "./db.js";

export interface ArtifactInfo {
  sha256: string;
  kind: string;
  name: string;
  size: number;
  created_at: number;
}

export const SHA256 = /^[0-9a-f]{64}$/;

export function migrateArtifacts(db: Db): void {
  db.exec(`CREATE TABLE IF NOT EXISTS artifacts (
    sha256 TEXT PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL, size INTEGER NOT NULL, created_at INTEGER NOT NULL)`);
}

export class ArtifactStore {
  constructor(readonly dir: string, private readonly db: Db) {
    mkdirSync(dir, { recursive: true });
  }

  /** Store bytes; returns their sha256 (storing the same bytes twice is one file). */
  put(bytes: Uint8Array, kind: string, name: string): ArtifactInfo {
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    const path = this.path(sha256);
    if (!existsSync(path) || statSync(path).size !== bytes.length) {
      mkdirSync(join(this.dir, sha256.slice(0, 2)), { recursive: true });
      writeFileAtomic(path, bytes);
    }
    this.db.prepare(`INSERT OR IGNORE INTO artifacts (sha256, kind, name, size, created_at) VALUES (?, ?, ?, ?, ?)`)
      .run(sha256, kind, name, bytes.length, now());
    return this.info(sha256)!;
  }

  /** Store a file's contents (read whole: artifacts here are at most a few hundred MB). */
  putFile(file: string, kind: string, name: string): ArtifactInfo {
    return this.put(readFileSync(file), kind, name);
  }

  info(sha256: string): ArtifactInfo | undefined {
    if (!SHA256.test(sha256)) return undefined;
    return this.db.prepare(`SELECT * FROM artifacts WHERE sha256 = ?`).get(sha256) as ArtifactInfo | undefined;
  }

  /** The file of a stored artifact (whether or not it exists: check with `has`). */
  path(sha256: string): string {
    if (!SHA256.test(sha256)) throw new Error(`not a sha256: ${sha256}`);
    return join(this.dir, sha256.slice(0, 2), sha256);
  }

  has(sha256: string): boolean {
    const i = this.info(sha256);
    return i !== undefined && existsSync(this.path(sha256)) && statSync(this.path(sha256)).size === i.size;
  }

  read(sha256: string): Buffer {
    return readFileSync(this.path(sha256));
  }

  stream(sha256: string): ReturnType<typeof createReadStream> {
    return createReadStream(this.path(sha256));
  }

}
