/**
 * Work for agents: the long poll, profiling leases, rows and heartbeats.
 *
 * A campaign's architectures are leased in batches (config.leaseBatch) to agents of its device
 * class, oldest campaign first. A lease lives `lease_s` after its last heartbeat or rows; then it
 * expires and its architectures without a stored row go back to `pending` for the
 * next agent that asks. An agent asking for work while it holds an active lease has restarted:
 * that lease ends the same way first. Rows are stored once per (campaign, index), whoever sends
 * them (a late row of an expired lease counts if the index is still missing, even one given up); a rows request is
 * idempotent by its key. Every change that could unblock a waiter calls `notify`.
 *
 * Lease lengths grow with the work (leaseSecondsFor): lease_s = max(config.leaseSeconds,
 * min(MAX_LEASE_S, LEASE_SAFETY x rounds x (warmup + runs) x F / R)), F the floating-point
 * operations of one run of the batch's largest architecture with the campaign's protocol
 * (runtime/flops.ts) and R the device's speed: the median FLOP/s of the campaign's latest rows
 * (at least LEASE_RATE_ROWS of them), else config.leaseAssumedGflops (default LEASE_ASSUMED_GFLOPS,
 * about a Raspberry Pi's; this VM runs ~15). So an agent that heartbeats only between
 * architectures (agents before steady measurements did) still keeps its lease through the
 * largest one; LEASE_SAFETY covers the steady re-measurements (runtime/steady.ts: up to 3
 * measurements). Agents now also heartbeat between runs (agent/profiler.ts). The length is
 * stored with the lease; heartbeats and rows extend it by that length and say it.
 */
import { Hono } from "hono";
import { z } from "zod";
import {
  HeartbeatResponse, RowsRequest, RowsResponse, Work,
  type ProfileWork,
} from "../../runtime/fleet-protocol.js";
import type { ServerConfig } from "../context.js";
import { now, type Db } from "../db.js";
import { ApiError, badRequest, jsonBody, notFound, query } from "../http.js";
import { validateArch } from "../../runtime/arch.js";
import { protocolFlops } from "../../runtime/flops.js";
import type { Protocol } from "../../runtime/protocol.js";
import { describe } from "../openapi.js";
import { agentOf, type AgentCaller, type FleetCore } from "./core.js";
import type { Deployments } from "./deployments.js";
import { campaignProtocol, newId, type CampaignRow, type LeaseRow } from "./store.js";

export const WorkQuery = z.object({
  /** Seconds to wait for work (capped at the server's maxWaitSeconds; default that cap). */
  wait_s: z.coerce.number().min(0).max(3600).optional(),
});

/** Lone leases (after its first expiry) an architecture may go through without a row before it is given up. */
export const MAX_LEASES = 3;

/** How often a waiting long poll looks again when nothing notified it (leases expire by time). */
export const POLL_MS = 200;

/** A device's assumed speed (GFLOP/s) before its campaign's rows measure it: slow, as a Raspberry Pi's wasm runtime. */
export const LEASE_ASSUMED_GFLOPS = 2;
/** The lease covers this many times the estimated measurement (steady re-measurements: up to 3). */
export const LEASE_SAFETY = 3;
/** The longest lease sizing gives (a dead agent's architectures wait at most this long; config.leaseSeconds may be longer). */
export const MAX_LEASE_S = 3600;
/** Rows of a campaign needed before their measured speed replaces the assumed one. */
export const LEASE_RATE_ROWS = 3;

/**
 * The lease length (s) for measuring `archs` with `protocol` at `flopsPerS` (see the file's
 * header): at least `floorS`, at most max(floorS, MAX_LEASE_S).
 */
export function leaseSecondsFor(archs: readonly unknown[], protocol: Protocol, flopsPerS: number, floorS: number): number {
  let largest = 0;
  for (const a of archs) {
    try {
      const f = protocolFlops(validateArch(a), protocol);
      largest = Math.max(largest, f.encoder + f.decoder);
    } catch {
      // an invalid architecture: the agent skips it
    }
  }
  const estimate = (protocol.rounds * (protocol.warmup + protocol.runs) * largest) / flopsPerS;
  return Math.max(floorS, Math.min(MAX_LEASE_S, Math.ceil(LEASE_SAFETY * estimate)));
}

/**
 * The campaign's latest rows (the device's measured speed), newest first. Walks the index
 * latency_rows_time backwards: a lease costs the same at the campaign's last row as at its
 * first (before the index it sorted every row of the campaign, each joined with its architecture).
 */
export const RECENT_ROWS_SQL = `SELECT r.encoder_ms + r.decoder_ms AS ms, a.arch AS arch FROM latency_rows r
  JOIN campaign_archs a ON a.job_id = r.job_id AND a.idx = r.idx WHERE r.job_id = ? ORDER BY r.measured_at DESC, r.rowid DESC LIMIT 21`;

/**
 * The first pending suspect of a campaign (an architecture back from an expired lease), found
 * from the campaign's expired leases (few), not by probing every pending architecture for an
 * expired lease (before: O(pending) per lease, ~14 ms at 50,000 pending).
 */
export const SUSPECT_SQL = `SELECT a.idx AS idx, a.arch AS arch FROM leases l
  JOIN lease_archs la ON la.lease_id = l.id
  JOIN campaign_archs a ON a.job_id = la.job_id AND a.idx = la.idx
  WHERE l.job_id = ? AND l.state = 'expired' AND a.state = 'pending' ORDER BY a.idx LIMIT 1`;

export class LeaseBook {
  constructor(private readonly db: Db, private readonly config: ServerConfig, private readonly notify: (what?: "any" | "rows") => void) {}

  /** A lease's length, ms (a lease from before leases were sized: config.leaseSeconds). */
  private leaseMsOf(lease: Pick<LeaseRow, "lease_ms">): number {
    return lease.lease_ms ?? this.config.leaseSeconds * 1000;
  }

  /** The device's measured speed (FLOP/s): the median over the campaign's latest rows, if enough. */
  private measuredRate(jobId: string, protocol: Protocol): number | undefined {
    const rows = this.db.prepare(RECENT_ROWS_SQL).all(jobId) as { ms: number; arch: string }[];
    const rates: number[] = [];
    for (const r of rows) {
      try {
        const f = protocolFlops(validateArch(JSON.parse(r.arch)), protocol);
        if (r.ms > 0) rates.push((f.encoder + f.decoder) / (r.ms / 1000));
      } catch {
        // not an architecture: no rate
      }
    }
    if (rates.length < LEASE_RATE_ROWS) return undefined;
    rates.sort((a, b) => a - b);
    return rates[rates.length >> 1];
  }

  /**
   * Ends a lease: its architectures without a row go back to pending. An architecture that came
   * back from an expired lease is a suspect: it is leased alone from then on (see `lease`), so a
   * lease that expires again names the culprit exactly; after MAX_LEASES such lone leases without
   * a row (it fails to measure, or kills its agents) it is given up ('failed'), so one bad
   * architecture cannot keep a campaign from finishing — and its batch-mates are not blamed.
   */
  private end(leaseId: string, state: "expired" | "cancelled"): void {
    const alone = (this.db.prepare(`SELECT COUNT(*) AS n FROM lease_archs WHERE lease_id = ?`).get(leaseId) as { n: number }).n === 1;
    this.db.prepare(`UPDATE campaign_archs SET lease_id = NULL, state = CASE
        WHEN ? AND (SELECT COUNT(*) FROM lease_archs la JOIN leases l ON l.id = la.lease_id
                    WHERE la.job_id = campaign_archs.job_id AND la.idx = campaign_archs.idx AND l.state = 'expired'
                      AND (SELECT COUNT(*) FROM lease_archs x WHERE x.lease_id = l.id) = 1) + 1 >= ? THEN 'failed'
        ELSE 'pending' END
      WHERE lease_id = ? AND state = 'leased'`).run(state === "expired" && alone ? 1 : 0, MAX_LEASES, leaseId);
    this.db.prepare(`UPDATE leases SET state = ? WHERE id = ? AND state = 'active'`).run(state, leaseId);
  }

  /** Expires every active lease past its time; returns how many. */
  expireStale(t = now()): number {
    const stale = this.db.prepare(`SELECT id FROM leases WHERE state = 'active' AND expires_at < ?`).all(t) as { id: string }[];
    if (stale.length === 0) return 0;
    this.db.transaction(() => { for (const l of stale) this.end(l.id, "expired"); }).immediate();
    this.notify();
    return stale.length;
  }

  /** Ends the agent's active leases (it restarted, or was revoked): their rest is reassigned. */
  releaseAgent(agentId: string): number {
    const held = this.db.prepare(`SELECT id FROM leases WHERE agent_id = ? AND state = 'active'`).all(agentId) as { id: string }[];
    if (held.length === 0) return 0;
    this.db.transaction(() => { for (const l of held) this.end(l.id, "expired"); }).immediate();
    this.notify();
    return held.length;
  }

  /** A new lease of up to leaseBatch pending architectures of the class's oldest running campaign, if any. */
  lease(agent: AgentCaller): ProfileWork | undefined {
    return this.db.transaction((): ProfileWork | undefined => {
      const campaign = this.db.prepare(`SELECT * FROM campaigns c WHERE c.device_class = ? AND c.state = 'running'
        AND EXISTS (SELECT 1 FROM campaign_archs a WHERE a.job_id = c.job_id AND a.state = 'pending')
        ORDER BY c.created_at, c.rowid LIMIT 1`).get(agent.deviceClass) as CampaignRow | undefined;
      if (!campaign) return undefined;
      // a suspect (back from an expired lease) goes alone, so its next failure blames only it
      const suspect = this.db.prepare(SUSPECT_SQL).all(campaign.job_id) as { idx: number; arch: string }[];
      const archs = suspect.length ? suspect : this.db.prepare(`SELECT idx, arch FROM campaign_archs WHERE job_id = ? AND state = 'pending' ORDER BY idx LIMIT ?`)
        .all(campaign.job_id, this.config.leaseBatch) as { idx: number; arch: string }[];
      const id = newId("ls"), t = now();
      const protocol = campaignProtocol(campaign);
      const parsed = archs.map((a) => ({ index: a.idx, arch: JSON.parse(a.arch) as unknown }));
      const rate = this.measuredRate(campaign.job_id, protocol) ?? this.config.leaseAssumedGflops * 1e9;
      const leaseS = leaseSecondsFor(parsed.map((a) => a.arch), protocol, rate, this.config.leaseSeconds);
      this.db.prepare(`INSERT INTO leases (id, job_id, agent_id, created_at, expires_at, state, lease_ms) VALUES (?, ?, ?, ?, ?, 'active', ?)`)
        .run(id, campaign.job_id, agent.agentId, t, t + leaseS * 1000, leaseS * 1000);
      const give = this.db.prepare(`INSERT INTO lease_archs (lease_id, job_id, idx) VALUES (?, ?, ?)`);
      const mark = this.db.prepare(`UPDATE campaign_archs SET state = 'leased', lease_id = ? WHERE job_id = ? AND idx = ?`);
      for (const a of archs) {
        give.run(id, campaign.job_id, a.idx);
        mark.run(id, campaign.job_id, a.idx);
      }
      return {
        kind: "profile", lease_id: id, campaign_id: campaign.job_id, protocol, archs: parsed, lease_s: leaseS,
      };
    }).immediate();
  }

  /** The lease, checked to be the caller's: 404 unknown, 403 another agent's. */
  private owned(leaseId: string, agentId: string): LeaseRow {
    const lease = this.db.prepare(`SELECT * FROM leases WHERE id = ?`).get(leaseId) as LeaseRow | undefined;
    if (!lease) throw notFound(`lease ${leaseId}`);
    if (lease.agent_id !== agentId) throw new ApiError(403, "forbidden", `lease ${leaseId} belongs to another agent`);
    return lease;
  }

  /** Indexes of the lease still without a row. */
  private missing(leaseId: string): number {
    return (this.db.prepare(`SELECT COUNT(*) AS n FROM lease_archs la WHERE la.lease_id = ?
      AND NOT EXISTS (SELECT 1 FROM latency_rows r WHERE r.job_id = la.job_id AND r.idx = la.idx)`).get(leaseId) as { n: number }).n;
  }

  heartbeat(leaseId: string, agentId: string): z.infer<typeof HeartbeatResponse> {
    this.expireStale();
    const lease = this.owned(leaseId, agentId);
    const ms = this.leaseMsOf(lease);
    if (lease.state !== "active") return { lease_active: false, lease_s: ms / 1000 };
    this.db.prepare(`UPDATE leases SET expires_at = ? WHERE id = ? AND state = 'active'`).run(now() + ms, leaseId);
    return { lease_active: true, lease_s: ms / 1000 };
  }

  /** Stores a chunk of rows (see the file's header). */
  rows(leaseId: string, agentId: string, req: RowsRequest): RowsResponse {
    this.expireStale();
    const reply = this.db.transaction((): RowsResponse & { fresh: boolean } => {
      const lease = this.owned(leaseId, agentId);
      const prior = this.db.prepare(`SELECT reply FROM fleet_idempotency WHERE agent_id = ? AND key = ?`).get(agentId, req.idempotency_key) as { reply: string } | undefined;
      if (prior) return { ...(JSON.parse(prior.reply) as RowsResponse), fresh: false };

      const held = new Set((this.db.prepare(`SELECT idx FROM lease_archs WHERE lease_id = ?`).all(leaseId) as { idx: number }[]).map((r) => r.idx));
      req.rows.forEach((r, i) => {
        if (!held.has(r.index)) throw badRequest(`rows[${i}].index: ${r.index} is not an architecture of lease ${leaseId} (it holds ${[...held].sort((a, b) => a - b).join(", ")})`);
        if (!(r.encoder_ms > 0)) throw badRequest(`rows[${i}].encoder_ms: a latency must be positive, got ${r.encoder_ms}`);
        if (!(r.decoder_ms > 0)) throw badRequest(`rows[${i}].decoder_ms: a latency must be positive, got ${r.decoder_ms}`);
      });

      const campaign = this.db.prepare(`SELECT state FROM campaigns WHERE job_id = ?`).get(lease.job_id) as { state: CampaignRow["state"] } | undefined;
      let stored = 0, duplicates = 0;
      if (campaign?.state === "running") {
        const t = now();
        const insert = this.db.prepare(`INSERT OR IGNORE INTO latency_rows (job_id, idx, agent_id, lease_id, encoder_ms, decoder_ms, encoder_std_ms, decoder_std_ms, runs, build, load1, seq, measured_at, speed, ref_ms)
          VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
        const done = this.db.prepare(`UPDATE campaign_archs SET state = 'done' WHERE job_id = ? AND idx = ?`);
        for (const r of req.rows) {
          const info = insert.run(lease.job_id, r.index, agentId, leaseId, r.encoder_ms, r.decoder_ms, r.encoder_std_ms, r.decoder_std_ms, r.runs, r.build, r.load1 ?? null, r.seq ?? null, t, r.speed ?? null, r.ref_ms ?? null);
          if (info.changes > 0) {
            stored++;
            done.run(lease.job_id, r.index);
          } else duplicates++;
        }
        // this lease and any other active lease holding these indexes may now be complete
        const touched = this.db.prepare(`SELECT DISTINCT la.lease_id FROM lease_archs la JOIN leases l ON l.id = la.lease_id
          WHERE la.job_id = ? AND l.state = 'active' AND la.idx IN (${req.rows.map(() => "?").join(",")})`)
          .all(lease.job_id, ...req.rows.map((r) => r.index)) as { lease_id: string }[];
        for (const { lease_id } of touched) {
          if (this.missing(lease_id) === 0) this.db.prepare(`UPDATE leases SET state = 'done' WHERE id = ?`).run(lease_id);
        }
        this.db.prepare(`UPDATE leases SET expires_at = ? WHERE id = ? AND state = 'active'`).run(t + this.leaseMsOf(lease), leaseId);
      }
      const state = (this.db.prepare(`SELECT state FROM leases WHERE id = ?`).get(leaseId) as { state: LeaseRow["state"] }).state;
      const out: RowsResponse = { stored, duplicates, lease_active: state === "active" };
      this.db.prepare(`INSERT INTO fleet_idempotency (agent_id, key, lease_id, reply, created_at) VALUES (?, ?, ?, ?, ?)`)
        .run(agentId, req.idempotency_key, leaseId, JSON.stringify(out), now());
      return { ...out, fresh: true };
    }).immediate();
    const { fresh, ...out } = reply;
    if (fresh && out.stored > 0) this.notify("rows"); // the campaign's watcher; no long poll gets work from it
    return out;
  }

  /** A campaign cancelled or failed: its active leases are cancelled (agents learn it on their next rows or heartbeat). */
  endCampaign(jobId: string, state: "cancelled" | "failed"): void {
    this.db.transaction(() => {
      const active = this.db.prepare(`SELECT id FROM leases WHERE job_id = ? AND state = 'active'`).all(jobId) as { id: string }[];
      for (const l of active) this.end(l.id, "cancelled");
      this.db.prepare(`UPDATE campaigns SET state = ? WHERE job_id = ? AND state = 'running'`).run(state, jobId);
    }).immediate();
    this.notify();
  }
}

export function workApp(fleet: FleetCore, leases: LeaseBook, deployments: Deployments): Hono {
  const { ctx } = fleet;
  const app = new Hono();

  describe({ method: "get", path: "/v1/agent/work", summary: "long poll for work: a deployment first, else a profiling lease; 204 when none came within wait_s", auth: "agent",
    query: WorkQuery, ok: { status: 200, description: "ProfileWork or DeployWork (or 204: no work)", schema: Work } });
  app.get("/agent/work", ctx.agent, fleet.seen, async (c) => {
    const q = query(c, WorkQuery);
    const agent = agentOf(c);
    const waitS = Math.min(q.wait_s ?? ctx.config.maxWaitSeconds, ctx.config.maxWaitSeconds);
    const deadline = Date.now() + waitS * 1000;
    const signal = c.req.raw.signal;
    const released = leases.releaseAgent(agent.agentId);
    if (released) ctx.log(`fleet: agent ${agent.agentId} asked for work while holding ${released} lease(s) (it restarted): their rest goes back to the queue`);
    for (;;) {
      if (signal.aborted || fleet.closed) return c.body(null, 204);
      if (fleet.isRevoked(agent.agentId)) throw new ApiError(401, "unauthorized", "the token is not valid (unknown or revoked)");
      leases.expireStale();
      const work = deployments.pendingFor(agent) ?? leases.lease(agent);
      if (work) return c.json(work);
      const left = deadline - Date.now();
      if (left <= 0) return c.body(null, 204);
      await fleet.sleep(Math.min(left, POLL_MS), signal, { for: "work" });
    }
  });

  describe({ method: "post", path: "/v1/agent/leases/{id}/rows", summary: "report measured rows of a lease (idempotent by key; an index is stored once)", auth: "agent",
    body: RowsRequest, ok: { status: 200, description: "rows stored and duplicates; whether the lease is still active", schema: RowsResponse } });
  app.post("/agent/leases/:id/rows", ctx.agent, fleet.seen, async (c) => {
    const body = await jsonBody(c, RowsRequest);
    return c.json(leases.rows(c.req.param("id"), agentOf(c).agentId, body));
  });

  describe({ method: "post", path: "/v1/agent/leases/{id}/heartbeat", summary: "extend a lease while measuring", auth: "agent",
    ok: { status: 200, description: "whether the lease is still active, and its length", schema: HeartbeatResponse } });
  app.post("/agent/leases/:id/heartbeat", ctx.agent, fleet.seen, (c) => c.json(leases.heartbeat(c.req.param("id"), agentOf(c).agentId)));

  return app;
}
