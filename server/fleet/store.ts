/**
 * The fleet's tables (migrateFleet) and the few row shapes the other fleet files share.
 *
 *   enrolment_tokens   one-time tokens (sha256 only), optionally bound to a device class
 *   agents             enrolled agents: class, hardware, their token's sha256, last poll, revocation
 *   campaigns          one per `campaign` job: class, space, protocol, rounds, size, state
 *   campaign_archs     the campaign's architectures by index: pending | leased | done (+ holder)
 *   leases             a batch of a campaign leased to an agent: active | done | expired | cancelled
 *   lease_archs        which indexes each lease was given (a late row is checked against these)
 *   latency_rows       one row per (campaign, index), ever: INSERT OR IGNORE, whoever sends it
 *   fleet_idempotency  (agent, key) -> the reply of a rows request (a retry gets it back)
 *   deployments        a model pushed to a device class; deployment_agents: each agent's outcome
 *   agent_downloads    which agent downloaded which model (an agent reports `active` only for a model it fetched)
 *
 * Every *_at column is milliseconds since the epoch (server/db.ts now()).
 */
import { randomBytes } from "node:crypto";
import { readProtocol, type Protocol } from "../../runtime/protocol.js";
import type { Db } from "../db.js";

export function migrateFleet(db: Db): void {
  db.exec(`
    CREATE TABLE IF NOT EXISTS enrolment_tokens (
      token_hash TEXT PRIMARY KEY, device_class TEXT, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,
      used_at INTEGER, agent_id TEXT, request_hash TEXT);
    CREATE TABLE IF NOT EXISTS agents (
      id TEXT PRIMARY KEY, name TEXT NOT NULL, device_class TEXT NOT NULL, hardware TEXT NOT NULL,
      token_hash TEXT NOT NULL UNIQUE, translate_url TEXT, created_at INTEGER NOT NULL,
      last_seen_at INTEGER, revoked_at INTEGER);
    CREATE INDEX IF NOT EXISTS agents_class ON agents (device_class);
    CREATE TABLE IF NOT EXISTS campaigns (
      job_id TEXT PRIMARY KEY, device_class TEXT NOT NULL, space TEXT NOT NULL, protocol TEXT NOT NULL,
      rounds INTEGER NOT NULL, size INTEGER NOT NULL, state TEXT NOT NULL, created_at INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS campaign_archs (
      job_id TEXT NOT NULL, idx INTEGER NOT NULL, arch TEXT NOT NULL, state TEXT NOT NULL, lease_id TEXT,
      PRIMARY KEY (job_id, idx));
    CREATE INDEX IF NOT EXISTS campaign_archs_state ON campaign_archs (job_id, state, idx);
    CREATE INDEX IF NOT EXISTS campaign_archs_lease ON campaign_archs (lease_id);
    CREATE TABLE IF NOT EXISTS leases (
      id TEXT PRIMARY KEY, job_id TEXT NOT NULL, agent_id TEXT NOT NULL, created_at INTEGER NOT NULL,
      expires_at INTEGER NOT NULL, state TEXT NOT NULL, lease_ms INTEGER);
    CREATE INDEX IF NOT EXISTS leases_state ON leases (state, expires_at);
    CREATE INDEX IF NOT EXISTS leases_job ON leases (job_id);
    CREATE INDEX IF NOT EXISTS leases_job_state ON leases (job_id, state);
    CREATE INDEX IF NOT EXISTS leases_agent ON leases (agent_id, state);
    CREATE TABLE IF NOT EXISTS lease_archs (
      lease_id TEXT NOT NULL, job_id TEXT NOT NULL, idx INTEGER NOT NULL, PRIMARY KEY (lease_id, idx));
    CREATE INDEX IF NOT EXISTS lease_archs_idx ON lease_archs (job_id, idx);
    CREATE TABLE IF NOT EXISTS latency_rows (
      job_id TEXT NOT NULL, idx INTEGER NOT NULL, agent_id TEXT NOT NULL, lease_id TEXT NOT NULL,
      encoder_ms REAL NOT NULL, decoder_ms REAL NOT NULL, encoder_std_ms REAL NOT NULL, decoder_std_ms REAL NOT NULL,
      runs INTEGER NOT NULL, build TEXT NOT NULL, load1 REAL, seq INTEGER, measured_at INTEGER NOT NULL,
      speed REAL, ref_ms REAL, PRIMARY KEY (job_id, idx));
    CREATE INDEX IF NOT EXISTS latency_rows_time ON latency_rows (job_id, measured_at);
    CREATE TABLE IF NOT EXISTS fleet_idempotency (
      agent_id TEXT NOT NULL, key TEXT NOT NULL, lease_id TEXT NOT NULL, reply TEXT NOT NULL, created_at INTEGER NOT NULL,
      PRIMARY KEY (agent_id, key));
    CREATE TABLE IF NOT EXISTS deployments (
      id TEXT PRIMARY KEY, device_class TEXT NOT NULL, model_sha256 TEXT NOT NULL, model_bytes INTEGER NOT NULL,
      model_kind TEXT NOT NULL, arch TEXT, protocol TEXT NOT NULL, source_job TEXT, created_at INTEGER NOT NULL);
    CREATE INDEX IF NOT EXISTS deployments_class ON deployments (device_class, created_at);
    CREATE TABLE IF NOT EXISTS deployment_agents (
      deployment_id TEXT NOT NULL, agent_id TEXT NOT NULL, state TEXT NOT NULL, measured_ms REAL, encoder_ms REAL,
      decoder_ms REAL, protocol TEXT, error TEXT, updated_at INTEGER NOT NULL, speed REAL, ref_ms REAL,
      PRIMARY KEY (deployment_id, agent_id));
    CREATE TABLE IF NOT EXISTS agent_downloads (
      agent_id TEXT NOT NULL, sha256 TEXT NOT NULL, at INTEGER NOT NULL, PRIMARY KEY (agent_id, sha256)) WITHOUT ROWID;
  `);
  // a data directory from before enrolment retries were idempotent
  const cols = (db.prepare(`PRAGMA table_info(enrolment_tokens)`).all() as { name: string }[]).map((c) => c.name);
  if (!cols.includes("request_hash")) db.exec(`ALTER TABLE enrolment_tokens ADD COLUMN request_hash TEXT`);
  // a data directory from before agents reported the protocol they measured a deployment with
  const dcols = (db.prepare(`PRAGMA table_info(deployment_agents)`).all() as { name: string }[]).map((c) => c.name);
  if (!dcols.includes("protocol")) db.exec(`ALTER TABLE deployment_agents ADD COLUMN protocol TEXT`);
  // a data directory from before deployments had a latency constraint to meet
  const pcols = (db.prepare(`PRAGMA table_info(deployments)`).all() as { name: string }[]).map((c) => c.name);
  if (!pcols.includes("constraint_ms")) db.exec(`ALTER TABLE deployments ADD COLUMN constraint_ms REAL`);
  // a data directory from before measurements carried the machine's speed (runtime/steady.ts)
  addColumns(db, "latency_rows", ["speed REAL", "ref_ms REAL"]);
  addColumns(db, "deployment_agents", ["speed REAL", "ref_ms REAL"]);
  // a data directory from before leases were sized from their work (work.ts): their length, ms
  addColumns(db, "leases", ["lease_ms INTEGER"]);
}

/** Add the columns ("name TYPE") a table lacks. */
function addColumns(db: Db, table: string, columns: readonly string[]): void {
  const have = new Set((db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((c) => c.name));
  for (const c of columns) if (!have.has(c.split(" ")[0])) db.exec(`ALTER TABLE ${table} ADD COLUMN ${c}`);
}

/** A stored campaign's protocol (one stored before the protocol had its rounds takes the campaign's). */
export function campaignProtocol(c: Pick<CampaignRow, "protocol" | "rounds">): Protocol {
  return readProtocol(JSON.parse(c.protocol), { rounds: c.rounds });
}

/** A fresh id with a readable prefix: ag_, ls_, dp_ and 16 hex digits. */
export const newId = (prefix: string): string => `${prefix}_${randomBytes(8).toString("hex")}`;

export interface AgentRow {
  id: string;
  name: string;
  device_class: string;
  hardware: string; // JSON (fleet-protocol Hardware)
  token_hash: string;
  translate_url: string | null;
  created_at: number;
  last_seen_at: number | null;
  revoked_at: number | null;
}

export interface CampaignRow {
  job_id: string;
  device_class: string;
  space: string; // JSON Space
  protocol: string; // JSON Protocol
  rounds: number;
  size: number; // architectures in the campaign (campaignArchs may give fewer than `samples`)
  state: "running" | "done" | "cancelled" | "failed";
  created_at: number;
}

export interface LeaseRow {
  id: string;
  job_id: string;
  agent_id: string;
  created_at: number;
  expires_at: number;
  state: "active" | "done" | "expired" | "cancelled";
  /** The lease's length (ms after the last heartbeat or rows); null: a lease from before, config.leaseSeconds. */
  lease_ms: number | null;
}

export interface StoredRow {
  job_id: string;
  idx: number;
  agent_id: string;
  lease_id: string;
  encoder_ms: number;
  decoder_ms: number;
  encoder_std_ms: number;
  decoder_std_ms: number;
  runs: number;
  build: string;
  load1: number | null;
  seq: number | null;
  measured_at: number;
  speed: number | null;
  ref_ms: number | null;
}

export interface DeploymentRow {
  id: string;
  device_class: string;
  model_sha256: string;
  model_bytes: number;
  model_kind: string;
  arch: string | null; // JSON Arch (a subtransformer), null for a supertransformer
  protocol: string; // JSON Protocol
  source_job: string | null;
  /** The latency the model must meet on the class (a search job's latency_ms, or given); null: none. */
  constraint_ms: number | null;
  created_at: number;
}

export interface DeploymentAgentRow {
  deployment_id: string;
  agent_id: string;
  state: "pending" | "active" | "failed";
  measured_ms: number | null;
  encoder_ms: number | null;
  decoder_ms: number | null;
  protocol: string | null; // JSON Protocol, as the agent measured
  error: string | null;
  updated_at: number;
  speed: number | null;
  ref_ms: number | null;
}
