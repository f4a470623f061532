/** server/fleet/store.ts migrateFleet on a data directory from before rows, deployments and leases carried speed and lease length. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { openDb } from "../../server/db.js";
import { migrateFleet } from "../../server/fleet/store.js";

const dir = mkdtempSync(join(tmpdir(), "hat-fleet-migrate-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it("adds speed, ref_ms and lease_ms to an older database, keeping its rows", () => {
  const path = join(dir, "state.db");
  const old = openDb(path, []);
  old.exec(`CREATE TABLE latency_rows (
      job_id TEXT NOT NULL, idx INTEGER NOT NULL, agent_id TEXT NOT NULL, lease_id TEXT NOT NULL,
      encoder_ms REAL NOT NULL, decoder_ms REAL NOT NULL, encoder_std_ms REAL NOT NULL, decoder_std_ms REAL NOT NULL,
      runs INTEGER NOT NULL, build TEXT NOT NULL, load1 REAL, seq INTEGER, measured_at INTEGER NOT NULL, PRIMARY KEY (job_id, idx));
    CREATE TABLE leases (id TEXT PRIMARY KEY, job_id TEXT NOT NULL, agent_id TEXT NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, state TEXT NOT NULL);
    CREATE TABLE deployment_agents (deployment_id TEXT NOT NULL, agent_id TEXT NOT NULL, state TEXT NOT NULL, measured_ms REAL, encoder_ms REAL,
      decoder_ms REAL, protocol TEXT, error TEXT, updated_at INTEGER NOT NULL, PRIMARY KEY (deployment_id, agent_id));
    INSERT INTO latency_rows VALUES ('j', 0, 'a', 'l', 1, 2, 0.1, 0.2, 8, 'hat.wasm', NULL, 0, 5);
    INSERT INTO leases VALUES ('l', 'j', 'a', 1, 2, 'active');`);
  old.close();
  const db = openDb(path, [migrateFleet]);
  const cols = (t: string) => (db.prepare(`PRAGMA table_info(${t})`).all() as { name: string }[]).map((c) => c.name);
  expect(cols("latency_rows")).toEqual(expect.arrayContaining(["speed", "ref_ms"]));
  expect(cols("deployment_agents")).toEqual(expect.arrayContaining(["speed", "ref_ms"]));
  expect(cols("leases")).toContain("lease_ms");
  expect(db.prepare(`SELECT encoder_ms, speed, ref_ms FROM latency_rows`).get()).toEqual({ encoder_ms: 1, speed: null, ref_ms: null });
  expect(db.prepare(`SELECT lease_ms FROM leases`).get()).toEqual({ lease_ms: null });
  db.close();
  openDb(path, [migrateFleet]).close(); // again: nothing to add
});
