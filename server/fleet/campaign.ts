/**
 * The `campaign` job kind: measure `samples` architectures of a space on the agents of a device
 * class. It runs on the agents, not on the server's CPU (exclusive: false): run() only puts the
 * architectures in the database (campaignArchs, one transaction), then watches rows arrive
 * (work.ts leases them out), reports progress and lease reassignments, and when every index has
 * a row stores the dataset (rows.ts) as the `dataset` artifact.
 *
 * A restarted server calls run() again with `resumed`: the campaign and its rows are in the
 * database, so it re-attaches (leases of the dead process expire as usual). Cancelling ends the
 * campaign's leases; a server shutting down (fleet closed) leaves them for the next start.
 */
import { z } from "zod";
import { DeviceClass } from "../../runtime/fleet-protocol.js";
import { DEFAULT_PROTOCOL, FleetProtocolRequest, Protocol, protocolOf } from "../../runtime/protocol.js";
import { campaignArchs } from "../../latency/campaign.js";
import { validateArch, validateSpace } from "../../runtime/arch.js";
import { ArchError } from "../../runtime/arch-error.js";
import { BUILTIN_SPACE_NAMES, BUILTIN_SPACES } from "../../runtime/spaces.js";
import type { Space, ValidArch } from "../../runtime/types.js";
import { archKey } from "../../runtime/arch-features.js";
import { checkSpaceCovered } from "../../search/predictor-file.js";
import type { ServerContext } from "../context.js";
import { doneJob, supernetVocab } from "../jobs/kinds/common.js";
import { now } from "../db.js";
import { badRequest, check } from "../http.js";
import type { JobControl, JobKind } from "../jobs/types.js";
import type { FleetCore } from "./core.js";
import { campaignDataset } from "./rows.js";
import type { CampaignRow } from "./store.js";
import { MAX_LEASES, type LeaseBook } from "./work.js";

/** The most architectures a campaign's `archs` may list. */
export const MAX_CAMPAIGN_ARCHS = 1000;

export const CampaignParams = z.object({
  device_class: DeviceClass,
  /** A done train job: the SuperTransformer these latencies are for. The protocol's vocabulary is its model's, and the space its space when none is given. */
  supernet: z.string().min(1).max(100).optional(),
  space: z.union([z.enum(BUILTIN_SPACE_NAMES), z.record(z.string(), z.unknown())],
    { error: `a space name (${BUILTIN_SPACE_NAMES.map((n) => `"${n}"`).join(", ").replace(/, ([^,]*)$/, " or $1")}) or a space object` }).optional(),
  /** How many architectures of the space to sample (give this or `archs`). */
  samples: z.number().int().min(1).max(100_000).optional(),
  /** These architectures, in this order, instead of a sample (the search's closed loop measures its candidates so); each must be in the space. */
  archs: z.array(z.unknown()).min(1).max(MAX_CAMPAIGN_ARCHS).optional(),
  /** Defaults: HAT's protocol (runtime/protocol.ts DEFAULT_PROTOCOL); the build is each agent's own. */
  protocol: FleetProtocolRequest.optional(),
  /** protocol.rounds, also accepted here: measure each architecture this many times (at different moments), keeping the fastest. */
  rounds: z.number().int().min(1).max(20).optional(),
  seed: z.number().int().min(0).max(2 ** 32 - 1).optional(),
}).strict().refine((p) => (p.samples === undefined) !== (p.archs === undefined), { message: "give samples (a sample of the space) or archs (these architectures), one of them", path: ["samples"] });
export type CampaignParams = z.infer<typeof CampaignParams>;

export interface CampaignResult {
  rows: number;
  agents: Record<string, number>;
  leases: number;
  expired_leases: number;
  dataset: string; // sha256
  /** Architectures given up after MAX_LEASES leases without a row (not in the dataset). */
  failed_indexes: number[];
}

/** The SuperTransformer of a done train job: its space (the job's param) and its vocabulary. */
function servedModel(ctx: ServerContext, jobId: string): { space: NonNullable<CampaignParams["space"]>; vocab: number } {
  const supernet = doneJob(ctx, jobId, "supernet", "train", "model");
  return { space: (supernet.job.params as { space: NonNullable<CampaignParams["space"]> }).space, vocab: supernetVocab(supernet) };
}

function resolveSpace(space: NonNullable<CampaignParams["space"]>): Space {
  if (typeof space === "string") return BUILTIN_SPACES[space];
  try {
    return validateSpace(space);
  } catch (e) {
    if (e instanceof ArchError) throw badRequest(`space: ${e.message}`);
    throw e;
  }
}

/** A campaign's `archs`: each a valid architecture of the space, none twice; a 400 naming the first that is not. */
function listedArchs(archs: readonly unknown[], space: Space): ValidArch[] {
  const seen = new Set<string>();
  return archs.map((a, i) => {
    let v: ValidArch;
    try {
      v = validateArch(a, space);
    } catch (e) {
      if (e instanceof ArchError) throw badRequest(`archs[${i}]: ${e.message}`);
      throw e;
    }
    const k = archKey(v);
    if (seen.has(k)) throw badRequest(`archs[${i}]: the same architecture as an earlier one: measure it once (protocol.rounds measures it several times)`);
    seen.add(k);
    return v;
  });
}

/** How often the campaign looks at its rows when nothing woke it. */
const WATCH_MS = 500;
/**
 * How often at most, however often rows arrive: each look counts the campaign's rows (O(rows)),
 * and every stored chunk wakes the watcher, so without this floor a campaign of R rows spent
 * O(R^2) on counting (at 1000 agents, more than on storing).
 */
export const WATCH_MIN_MS = 200;

/** Sleeps `ms` (not woken by notify), or until `signal` aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (ms <= 0 || signal.aborted) return resolve();
    const done = () => {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

export function campaignKind(fleet: FleetCore, leases: LeaseBook): JobKind<CampaignParams> {
  return {
    kind: "campaign",
    summary: "measure a space's architectures on the agents of a device class; artifact `dataset` (HAT's latency CSV)",
    params: CampaignParams,
    exclusive: false,
    prepare(p) {
      const served = p.supernet !== undefined ? servedModel(fleet.ctx, p.supernet) : undefined;
      if (p.space === undefined && !served) throw badRequest("space: give a space, or a supernet (a done train job) to take it from");
      const space = p.space ?? served!.space;
      const resolved = resolveSpace(space);
      if (served) {
        if (p.protocol?.vocab !== undefined && p.protocol.vocab !== served.vocab) {
          throw badRequest(`protocol.vocab: ${p.protocol.vocab} differs from the vocabulary of the supernet ${p.supernet} (${served.vocab}): its latencies would be another model's`);
        }
        try {
          checkSpaceCovered(resolveSpace(served.space), resolved, "this campaign");
        } catch (e) {
          throw badRequest(`space: ${(e as Error).message}: a predictor fitted on it could not serve the supernet ${p.supernet}`);
        }
      }
      if (p.rounds !== undefined && p.protocol?.rounds !== undefined && p.rounds !== p.protocol.rounds) {
        throw badRequest(`rounds: ${p.rounds} differs from protocol.rounds ${p.protocol.rounds} (give one)`);
      }
      const protocol = check(Protocol, { ...DEFAULT_PROTOCOL, rounds: p.rounds ?? DEFAULT_PROTOCOL.rounds, vocab: served?.vocab ?? DEFAULT_PROTOCOL.vocab, ...p.protocol }, "protocol");
      const archs = p.archs ? listedArchs(p.archs, resolved) : undefined;
      return { ...p, space, protocol, rounds: protocol.rounds, seed: p.seed ?? 1, ...(archs ? { archs } : {}) };
    },
    run: (p, ctl) => runCampaign(fleet, leases, p, ctl),
  };
}

async function runCampaign(fleet: FleetCore, leases: LeaseBook, p: CampaignParams, ctl: JobControl): Promise<CampaignResult> {
  const { db } = fleet.ctx;
  const jobId = ctl.job.id;
  const get = () => db.prepare(`SELECT * FROM campaigns WHERE job_id = ?`).get(jobId) as CampaignRow | undefined;
  let campaign = get();
  if (!campaign) {
    const space = resolveSpace(p.space!); // prepare() filled it in
    const protocol = protocolOf({ rounds: p.rounds ?? DEFAULT_PROTOCOL.rounds, ...p.protocol });
    const archs = p.archs ? (p.archs as ValidArch[]) : campaignArchs(space, p.samples!, p.seed ?? 1); // prepare() checked listed ones
    db.transaction(() => {
      db.prepare(`INSERT INTO campaigns (job_id, device_class, space, protocol, rounds, size, state, created_at) VALUES (?, ?, ?, ?, ?, ?, 'running', ?)`)
        .run(jobId, p.device_class, JSON.stringify(space), JSON.stringify(protocol), protocol.rounds, archs.length, now());
      const add = db.prepare(`INSERT INTO campaign_archs (job_id, idx, arch, state) VALUES (?, ?, ?, 'pending')`);
      archs.forEach((a, i) => add.run(jobId, i, JSON.stringify(a)));
    }).immediate();
    campaign = get()!;
    ctl.log(`campaign: ${archs.length} architectures${p.samples !== undefined && archs.length < p.samples ? ` (the space has only ${archs.length} distinct ones reachable, of ${p.samples} asked)` : ""}${p.archs ? " (as listed)" : ""} for device class ${p.device_class}, leased ${fleet.ctx.config.leaseBatch} at a time`);
    fleet.notify();
  } else {
    const have = count(fleet, jobId).rows;
    ctl.log(`campaign: ${ctl.resumed ? "resumed" : "re-attached"}: ${have}/${campaign.size} rows already in the database`);
  }
  if (campaign.state === "cancelled" || campaign.state === "failed") throw new Error(`the campaign was ${campaign.state}`);
  try {
    if (campaign.state === "running") await watch(fleet, leases, campaign, ctl);
  } catch (e) {
    // the runner marks a cancelled job before it aborts; any other abort is the server stopping
    const stopping = fleet.closed || (ctl.signal.aborted && fleet.ctx.jobs.get(jobId)?.state !== "cancelled");
    if (!stopping) {
      leases.endCampaign(jobId, ctl.signal.aborted ? "cancelled" : "failed");
      ctl.log(`campaign: ${ctl.signal.aborted ? "cancelled" : "failed"}; its leases ended`);
    }
    throw e;
  }

  if (campaign.size > 0 && count(fleet, jobId).rows === 0) { // every architecture given up: no dataset to make
    leases.endCampaign(jobId, "failed");
    throw new Error(`campaign: all ${campaign.size} architectures failed (each given up after ${MAX_LEASES} leases without a row): no latency dataset`);
  }
  db.transaction(() => {
    db.prepare(`UPDATE leases SET state = 'done' WHERE job_id = ? AND state = 'active'`).run(jobId);
    db.prepare(`UPDATE campaigns SET state = 'done' WHERE job_id = ?`).run(jobId);
  }).immediate();
  const ds = campaignDataset(db, jobId);
  const art = ctl.artifact("dataset", new TextEncoder().encode(ds.csv), "latency-csv", `campaign-${jobId}.csv`);
  const c = count(fleet, jobId);
  ctl.log(`campaign: complete: ${ds.rows.length} rows from ${Object.keys(ds.agents).length} agent(s), ${c.leases} leases (${c.expired} expired); dataset ${art.sha256}`);
  return { rows: ds.rows.length, agents: ds.agents, leases: c.leases, expired_leases: c.expired, failed_indexes: failedIndexes(fleet, jobId), dataset: art.sha256 };
}

/** Waits until every index has a row: progress when the count changes, a line per lease that ended without news. */
async function watch(fleet: FleetCore, leases: LeaseBook, campaign: CampaignRow, ctl: JobControl): Promise<void> {
  const jobId = campaign.job_id, size = campaign.size;
  const seen = new Set(expiredLeases(fleet, jobId).map((l) => l.id));
  let last = -1;
  let warnedIdle = false;
  const t0 = Date.now();
  for (let lookedAt = 0; ; ) {
    const wait = lookedAt + WATCH_MIN_MS - Date.now();
    if (wait > 0) await pause(wait, ctl.signal);
    lookedAt = Date.now();
    if (ctl.signal.aborted || fleet.closed) throw new Error(fleet.closed ? "the server is stopping: the campaign resumes on the next start" : "cancelled");
    leases.expireStale();
    for (const l of expiredLeases(fleet, jobId)) {
      if (seen.has(l.id)) continue;
      seen.add(l.id);
      ctl.log(`campaign: lease ${l.id} of agent ${l.agent_id} (${l.name ?? "?"}) ended without news: ${l.unmeasured} of its ${l.given} architectures go to the next agent`);
    }
    const c = count(fleet, jobId);
    if (c.rows !== last) {
      last = c.rows;
      ctl.progress(c.rows / size, `${c.rows}/${size} architectures measured on ${c.agents} agent${c.agents === 1 ? "" : "s"}`, { done: c.rows, total: size, agents: c.agents });
    }
    if (c.rows + c.failed >= size) {
      if (c.failed) ctl.log(`campaign: ${c.failed} architecture(s) given up after ${MAX_LEASES} leases each without a row (indexes ${failedIndexes(fleet, jobId).join(", ")})`);
      return;
    }
    if (!warnedIdle && Date.now() - t0 > 2 * fleet.ctx.config.maxWaitSeconds * 1000 && c.leases === 0) {
      warnedIdle = true;
      const n = (fleet.ctx.db.prepare(`SELECT COUNT(*) AS n FROM agents WHERE device_class = ? AND revoked_at IS NULL`).get(campaign.device_class) as { n: number }).n;
      ctl.log(`campaign: no agent of class ${campaign.device_class} has taken work yet (${n} enrolled); waiting`);
    }
    await fleet.sleep(WATCH_MS, ctl.signal);
  }
}

function count(fleet: FleetCore, jobId: string): { rows: number; agents: number; leases: number; expired: number; failed: number } {
  const { db } = fleet.ctx;
  const r = db.prepare(`SELECT COUNT(*) AS rows, COUNT(DISTINCT agent_id) AS agents FROM latency_rows WHERE job_id = ?`).get(jobId) as { rows: number; agents: number };
  const l = db.prepare(`SELECT COUNT(*) AS leases, COALESCE(SUM(state = 'expired'), 0) AS expired FROM leases WHERE job_id = ?`).get(jobId) as { leases: number; expired: number };
  const f = db.prepare(`SELECT COUNT(*) AS failed FROM campaign_archs a WHERE a.job_id = ? AND a.state = 'failed'
    AND NOT EXISTS (SELECT 1 FROM latency_rows r WHERE r.job_id = a.job_id AND r.idx = a.idx)`).get(jobId) as { failed: number };
  return { ...r, ...l, ...f };
}

/** Indexes given up without a row. */
function failedIndexes(fleet: FleetCore, jobId: string): number[] {
  return (fleet.ctx.db.prepare(`SELECT idx FROM campaign_archs a WHERE a.job_id = ? AND a.state = 'failed'
    AND NOT EXISTS (SELECT 1 FROM latency_rows r WHERE r.job_id = a.job_id AND r.idx = a.idx) ORDER BY idx`).all(jobId) as { idx: number }[]).map((r) => r.idx);
}

function expiredLeases(fleet: FleetCore, jobId: string): { id: string; agent_id: string; name: string | null; given: number; unmeasured: number }[] {
  return fleet.ctx.db.prepare(`SELECT l.id, l.agent_id, g.name,
      (SELECT COUNT(*) FROM lease_archs la WHERE la.lease_id = l.id) AS given,
      (SELECT COUNT(*) FROM lease_archs la WHERE la.lease_id = l.id AND NOT EXISTS
        (SELECT 1 FROM latency_rows r WHERE r.job_id = la.job_id AND r.idx = la.idx AND r.lease_id = l.id)) AS unmeasured
    FROM leases l LEFT JOIN agents g ON g.id = l.agent_id WHERE l.job_id = ? AND l.state = 'expired' ORDER BY l.created_at`).all(jobId) as
    { id: string; agent_id: string; name: string | null; given: number; unmeasured: number }[];
}
