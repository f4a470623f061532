/**
 * Deployments: a model (a job's `model` artifact, or any stored artifact that decodes as a
 * hat-edge model) pushed to every agent of a device class. The newest deployment of a class is
 * the one its agents should run: an agent that has not reported on it gets it as DeployWork
 * before any profiling, and reports `active` (with its measured latency) or `failed`.
 */
import { Hono } from "hono";
import { z } from "zod";
import { DeploymentReport, DeviceClass, type DeployWork } from "../../runtime/fleet-protocol.js";
import { DEPLOYMENT_PROTOCOL, FleetProtocolRequest, Protocol, readProtocol } from "../../runtime/protocol.js";
import { ModelFormatError } from "../../runtime/format.js";
import { readModelFile } from "../../runtime/model-files.js";
import { quantOfFile } from "../../runtime/quant.js";
import { atUsualSpeed } from "../../runtime/steady.js";
import { SHA256 } from "../artifacts.js";
import type { ServerContext } from "../context.js";
import { now } from "../db.js";
import { ApiError, badRequest, check, jsonBody, notFound } from "../http.js";
import { predictorData, predictorProtocol } from "../jobs/kinds/common.js";
import { describe } from "../openapi.js";
import { agentOf, type AgentCaller, type FleetCore } from "./core.js";
import { newId, type DeploymentAgentRow, type DeploymentRow } from "./store.js";

export const DeploymentRequest = z.object({
  device_class: DeviceClass,
  /** Exactly one: a job whose `model` artifact to deploy, or a stored artifact's sha256. */
  model: z.object({
    job: z.string().min(1).max(100).optional(),
    sha256: z.string().regex(SHA256, "a sha256 is 64 lowercase hex digits").optional(),
  }).strict(),
  /**
   * How agents run and measure the deployed model: default DEPLOYMENT_PROTOCOL at the model's
   * vocabulary and the quant of its file's form (runtime/quant.ts quantOfFile: a kmeans4 file
   * measures as kmeans4), with the workload (lengths, beam, quant: the products the agents load the model
   * with) and the statistic (trim, rounds, keep) of the predictor a
   * search job's model was found with; a workload contradicting that predictor's is a 400. The
   * build is each agent's own.
   */
  protocol: FleetProtocolRequest.optional(),
  /** The latency (ms) the model must meet on the class; default: a search job's latency_ms. */
  constraint_ms: z.number().positive().max(1e7).optional(),
}).strict();

export const DeploymentAgentView = z.object({
  agent_id: z.string(),
  name: z.string(),
  /** superseded: a newer deployment of the class came before this agent reported on this one. */
  state: z.enum(["pending", "active", "failed", "superseded"]),
  measured_ms: z.number().nullable(),
  encoder_ms: z.number().nullable(),
  decoder_ms: z.number().nullable(),
  /** The protocol the agent measured with (its build, the model's vocabulary); null from agents that did not say. */
  protocol: Protocol.nullable(),
  /** The machine's speed when measured_ms was measured (runtime/steady.ts: >1 slower than usual); null from agents that did not say. */
  speed: z.number().nullable(),
  /** The reference timing (ms) behind `speed`. */
  ref_ms: z.number().nullable(),
  /** measured_ms at the agent's usual speed (measured_ms / speed; runtime/steady.ts atUsualSpeed): measured_ms when the agent gave no speed. */
  usual_ms: z.number().nullable(),
  /** usual_ms <= the deployment's constraint_ms (a slow minute on the device is not the model's latency); null without either. */
  meets_constraint: z.boolean().nullable(),
  error: z.string().nullable(),
  updated_at: z.number().nullable(),
});

/** A stored deployment's protocol (one stored before the protocol had its rounds: 2, as its agents measured). */
const storedProtocol = (json: string): Protocol => readProtocol(JSON.parse(json), { rounds: DEPLOYMENT_PROTOCOL.rounds });

export const DeploymentView = z.object({
  id: z.string(),
  device_class: z.string(),
  model_sha256: z.string(),
  model_bytes: z.number(),
  model_kind: z.string(),
  arch: z.unknown().nullable(),
  protocol: Protocol,
  source_job: z.string().nullable(),
  constraint_ms: z.number().nullable(),
  /** Every agent that measured it meets constraint_ms (false: one misses it); null: no constraint or no measurement yet. */
  meets_constraint: z.boolean().nullable(),
  created_at: z.number(),
  /** The newest deployment of its class (the one its agents should run). */
  current: z.boolean(),
  counts: z.object({ pending: z.number(), active: z.number(), failed: z.number(), superseded: z.number() }),
  agents: z.array(DeploymentAgentView),
  /** Only in POST's 201: what the deployment will not do yet (no agent of the class has enrolled). */
  warning: z.string().optional(),
});
export type DeploymentView = z.infer<typeof DeploymentView>;

/**
 * The protocol's fields that say what is measured (the vocabulary is the deployed model's own): a
 * deployment may not contradict its search's predictor on them. `quant`: the products the agents
 * load the model with and measure (f32, int8, or a quantized file's form: linear8, kmeans8, kmeans4),
 * those whose latencies the predictor learnt;
 * `threads` likewise (1 until the threaded runtime: docs/latency.md).
 */
const WORKLOAD = ["src_len", "tgt_len", "beam", "quant", "threads"] as const;
/** What a deployment of a search's model takes from its predictor's protocol by default: the workload and the statistic learnt. */
const LEARNT = [...WORKLOAD, "trim", "rounds", "keep"] as const;

export class Deployments {
  constructor(private readonly ctx: ServerContext, private readonly notify: () => void) {}

  private newest(deviceClass: string): DeploymentRow | undefined {
    return this.ctx.db.prepare(`SELECT * FROM deployments WHERE device_class = ? ORDER BY created_at DESC, rowid DESC LIMIT 1`).get(deviceClass) as DeploymentRow | undefined;
  }

  /** The class's newest deployment when this agent has not reported on it yet (recorded as pending). */
  pendingFor(agent: AgentCaller): DeployWork | undefined {
    const db = this.ctx.db;
    const d = this.newest(agent.deviceClass);
    if (!d) return undefined;
    const mine = db.prepare(`SELECT state FROM deployment_agents WHERE deployment_id = ? AND agent_id = ?`).get(d.id, agent.agentId) as { state: string } | undefined;
    if (mine && mine.state !== "pending") return undefined;
    if (!mine) {
      db.prepare(`INSERT OR IGNORE INTO deployment_agents (deployment_id, agent_id, state, updated_at) VALUES (?, ?, 'pending', ?)`).run(d.id, agent.agentId, now());
    }
    return {
      kind: "deploy", deployment_id: d.id, model_sha256: d.model_sha256, model_bytes: d.model_bytes,
      model_url: `/v1/artifacts/${d.model_sha256}`, protocol: storedProtocol(d.protocol),
    };
  }

  /** Checks the request (the model must decode) and stores the deployment. */
  async create(body: z.infer<typeof DeploymentRequest>): Promise<DeploymentView> {
    const { db, artifacts, jobs } = this.ctx;
    const { job: jobId, sha256: given } = body.model;
    if ((jobId === undefined) === (given === undefined)) throw badRequest("model: give exactly one of model.job (a job id) or model.sha256 (a stored artifact)");
    let sha: string;
    if (jobId !== undefined) {
      const job = jobs.get(jobId);
      if (!job) throw badRequest(`model.job: no job ${jobId}`);
      if (job.state !== "done") throw badRequest(`model.job: job ${jobId} (${job.kind}) is ${job.state}, not done`);
      const a = job.artifacts.model;
      if (!a) throw badRequest(`model.job: job ${jobId} (${job.kind}) has no model artifact (its artifacts: ${Object.keys(job.artifacts).join(", ") || "none"})`);
      sha = a;
    } else sha = given!;
    if (!artifacts.has(sha)) throw badRequest(`model.sha256: no stored artifact ${sha}`);
    let header;
    try {
      header = (await readModelFile(artifacts.path(sha))).header;
    } catch (e) {
      if (e instanceof ModelFormatError) throw badRequest(`model: artifact ${sha} is not a hat-edge model (${e.message.replace(/^.*?: /, "")})`);
      throw e;
    }
    if (header.tokenizer === undefined) throw badRequest(`model: ${sha} carries no tokenizer, so agents could not translate with it (deploy a trained model: a train or search job's)`);
    const vocab = Math.min(1_000_000, Math.max(8, header.vocab.size));
    const found = jobId !== undefined ? this.searchOf(jobId) : undefined;
    const learnt = found?.workload;
    if (found?.deviceClass !== undefined && found.deviceClass !== body.device_class && body.constraint_ms === undefined) {
      throw badRequest(`device_class: ${body.device_class}, but the search job ${jobId} predicted (and measured) the latencies of class ${found.deviceClass}: its constraint says nothing about this class (give constraint_ms to check one here)`, "protocol_mismatch");
    }
    for (const k of WORKLOAD) {
      if (learnt && body.protocol?.[k] !== undefined && body.protocol[k] !== learnt[k]) {
        throw badRequest(`protocol.${k}: ${body.protocol[k]} differs from the ${k} ${learnt[k]} the search's predictor learnt: the latency measured would not be the one the constraint was searched for`, "protocol_mismatch");
      }
    }
    // a quantized file (a quantize job's model) is measured as its form (kmeans4, ...) unless told otherwise
    const form = quantOfFile(header.tensors);
    const protocol = check(Protocol, { ...DEPLOYMENT_PROTOCOL, quant: form, ...learnt, vocab, ...body.protocol }, "protocol");
    // a quantized file runs as stored (or with int8 products): another form would be a label, not a measurement
    if (header.tensors.some((e) => e.quant) && protocol.quant !== form && protocol.quant !== "int8") {
      throw badRequest(`protocol.quant: ${protocol.quant}, but the model's matrices are stored as ${form}: the agents would run ${form} weights and report them as ${protocol.quant} (give ${form}, or int8 for int8 products)`, "protocol_mismatch");
    }
    const constraint = body.constraint_ms ?? found?.constraintMs ?? null;
    const id = newId("dp");
    db.prepare(`INSERT INTO deployments (id, device_class, model_sha256, model_bytes, model_kind, arch, protocol, source_job, constraint_ms, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
      .run(id, body.device_class, sha, artifacts.info(sha)!.size, header.kind, header.arch ? JSON.stringify(header.arch) : null, JSON.stringify(protocol), jobId ?? null, constraint, now());
    const agents = (db.prepare(`SELECT COUNT(*) AS n FROM agents WHERE device_class = ? AND revoked_at IS NULL`).get(body.device_class) as { n: number }).n;
    const warning = agents === 0
      ? `no agent of class ${body.device_class} is enrolled: the model runs nowhere until one enrols (POST /v1/enrolment-tokens with this device_class), which then gets it`
      : undefined;
    this.ctx.log(`fleet: deployment ${id}: model ${sha.slice(0, 12)} (${header.kind}) to class ${body.device_class}${warning ? ` (${warning})` : ""}`);
    this.notify();
    return { ...this.view(id)!, ...(warning ? { warning } : {}) };
  }

  /**
   * A search job's constraint, the workload its predictor learnt (vocab excepted: the model says
   * its own) and the device class it was for, when the job is a search; undefined for any other job.
   */
  private searchOf(jobId: string): { constraintMs?: number; workload?: Pick<Protocol, (typeof LEARNT)[number]>; deviceClass?: string } | undefined {
    const job = this.ctx.jobs.get(jobId);
    if (job?.kind !== "search") return undefined;
    const params = job.params as { latency_ms?: number; predictor?: string; device_class?: string };
    const predictorJob = params.predictor !== undefined ? this.ctx.jobs.get(params.predictor) : undefined;
    const deviceClass = params.device_class ?? (predictorJob ? predictorData(this.ctx, predictorJob).deviceClass : undefined);
    const sha = predictorJob?.artifacts.predictor;
    const p = sha && this.ctx.artifacts.has(sha) ? predictorProtocol(this.ctx.artifacts.path(sha)) : undefined;
    const workload = p && { src_len: p.src_len, tgt_len: p.tgt_len, beam: p.beam, quant: p.quant, threads: p.threads, trim: p.trim, rounds: p.rounds, keep: p.keep };
    return { constraintMs: params.latency_ms, workload, deviceClass };
  }

  view(id: string): DeploymentView | undefined {
    const db = this.ctx.db;
    const d = db.prepare(`SELECT * FROM deployments WHERE id = ?`).get(id) as DeploymentRow | undefined;
    if (!d) return undefined;
    const current = this.newest(d.device_class)?.id === d.id;
    const reports = new Map((db.prepare(`SELECT * FROM deployment_agents WHERE deployment_id = ?`).all(id) as DeploymentAgentRow[]).map((r) => [r.agent_id, r]));
    // every agent of the class that is not revoked, and any other agent that reported on it
    const agents = db.prepare(`SELECT id, name, revoked_at FROM agents WHERE device_class = ? OR id IN (SELECT agent_id FROM deployment_agents WHERE deployment_id = ?) ORDER BY created_at, rowid`)
      .all(d.device_class, id) as { id: string; name: string; revoked_at: number | null }[];
    const rows = agents.filter((a) => a.revoked_at === null || reports.has(a.id)).map((a) => {
      const r = reports.get(a.id);
      const state = r && r.state !== "pending" ? r.state : current ? "pending" : "superseded";
      const measured = r?.measured_ms ?? null;
      const usual = measured === null ? null : atUsualSpeed(measured, r?.speed);
      return {
        agent_id: a.id, name: a.name, state, measured_ms: measured, encoder_ms: r?.encoder_ms ?? null,
        decoder_ms: r?.decoder_ms ?? null, protocol: r?.protocol ? readProtocol(JSON.parse(r.protocol)) : null,
        speed: r?.speed ?? null, ref_ms: r?.ref_ms ?? null, usual_ms: usual,
        meets_constraint: usual !== null && d.constraint_ms !== null ? usual <= d.constraint_ms : null,
        error: r?.error ?? null, updated_at: r?.updated_at ?? null,
      } as z.infer<typeof DeploymentAgentView>;
    });
    const verdicts = rows.map((r) => r.meets_constraint).filter((v): v is boolean => v !== null);
    const counts = { pending: 0, active: 0, failed: 0, superseded: 0 };
    for (const r of rows) counts[r.state]++;
    return {
      id: d.id, device_class: d.device_class, model_sha256: d.model_sha256, model_bytes: d.model_bytes, model_kind: d.model_kind,
      arch: d.arch === null ? null : JSON.parse(d.arch), protocol: storedProtocol(d.protocol), source_job: d.source_job,
      constraint_ms: d.constraint_ms, meets_constraint: verdicts.length > 0 ? verdicts.every(Boolean) : null,
      created_at: d.created_at, current, counts, agents: rows,
    };
  }

  list(): DeploymentView[] {
    const ids = this.ctx.db.prepare(`SELECT id FROM deployments ORDER BY created_at DESC, rowid DESC`).all() as { id: string }[];
    return ids.map((r) => this.view(r.id)!);
  }

  /**
   * GET /v1/artifacts/:sha256 by an agent: only a model deployed to its class (403 otherwise); the
   * download is recorded, since an agent reports `active` only for a model it fetched.
   */
  agentDownload(agent: AgentCaller, sha256: string): void {
    const db = this.ctx.db;
    const deployed = db.prepare(`SELECT 1 FROM deployments WHERE device_class = ? AND model_sha256 = ? LIMIT 1`).get(agent.deviceClass, sha256);
    if (!deployed) throw new ApiError(403, "forbidden", `artifact ${sha256}: agents may download only the models deployed to their class (${agent.deviceClass})`);
    db.prepare(`INSERT INTO agent_downloads (agent_id, sha256, at) VALUES (?, ?, ?) ON CONFLICT (agent_id, sha256) DO UPDATE SET at = excluded.at`).run(agent.agentId, sha256, now());
  }

  /** The agent downloaded this model, or reported it active before (a model it keeps from an earlier deployment). */
  private hasModel(agentId: string, sha256: string): boolean {
    return this.ctx.db.prepare(`SELECT 1 FROM agent_downloads WHERE agent_id = ? AND sha256 = ?
      UNION ALL SELECT 1 FROM deployment_agents da JOIN deployments d ON d.id = da.deployment_id
      WHERE da.agent_id = ? AND da.state = 'active' AND d.model_sha256 = ? LIMIT 1`).get(agentId, sha256, agentId, sha256) !== undefined;
  }

  /** An agent's report on a deployment of its class. */
  report(deploymentId: string, agent: AgentCaller, body: DeploymentReport): DeploymentView {
    const db = this.ctx.db;
    const d = db.prepare(`SELECT device_class, model_sha256 FROM deployments WHERE id = ?`).get(deploymentId) as { device_class: string; model_sha256: string } | undefined;
    if (!d) throw notFound(`deployment ${deploymentId}`);
    if (d.device_class !== agent.deviceClass) throw new ApiError(403, "forbidden", `deployment ${deploymentId} is for class ${d.device_class}, this agent is ${agent.deviceClass}`);
    if (body.state === "active" && !this.hasModel(agent.agentId, d.model_sha256)) {
      const message = `state: active, but this agent never downloaded the model ${d.model_sha256} of deployment ${deploymentId} (GET /v1/artifacts/${d.model_sha256})`;
      // recorded as failed, so the deployment is not handed to this agent again and again (an agent that keeps re-reporting is no busy loop)
      db.prepare(`INSERT INTO deployment_agents (deployment_id, agent_id, state, error, updated_at) VALUES (?, ?, 'failed', ?, ?)
        ON CONFLICT (deployment_id, agent_id) DO UPDATE SET state = 'failed', measured_ms = NULL, encoder_ms = NULL, decoder_ms = NULL, protocol = NULL, speed = NULL, ref_ms = NULL, error = excluded.error, updated_at = excluded.updated_at`)
        .run(deploymentId, agent.agentId, message, now());
      throw new ApiError(409, "model_not_fetched", message);
    }
    db.prepare(`INSERT INTO deployment_agents (deployment_id, agent_id, state, measured_ms, encoder_ms, decoder_ms, protocol, error, updated_at, speed, ref_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (deployment_id, agent_id) DO UPDATE SET state = excluded.state, measured_ms = excluded.measured_ms, encoder_ms = excluded.encoder_ms,
      decoder_ms = excluded.decoder_ms, protocol = excluded.protocol, error = excluded.error, updated_at = excluded.updated_at, speed = excluded.speed, ref_ms = excluded.ref_ms`)
      .run(deploymentId, agent.agentId, body.state, body.measured_ms ?? null, body.encoder_ms ?? null, body.decoder_ms ?? null,
        body.protocol ? JSON.stringify(body.protocol) : null,
        body.error ?? (body.state === "failed" ? "failed (the agent gave no reason)" : null), now(), body.speed ?? null, body.ref_ms ?? null);
    this.ctx.log(`fleet: deployment ${deploymentId} on agent ${agent.agentId}: ${body.state}${body.measured_ms !== undefined ? ` (${body.measured_ms.toFixed(2)} ms${body.speed !== undefined ? `, speed ${body.speed.toFixed(2)}` : ""})` : ""}${body.error ? `: ${body.error}` : ""}`);
    return this.view(deploymentId)!;
  }
}

export function deploymentsApp(fleet: FleetCore, deployments: Deployments): Hono {
  const { ctx } = fleet;
  const app = new Hono();

  describe({ method: "post", path: "/v1/deployments", summary: "push a model (a job's model artifact or a stored artifact) to every agent of a device class", auth: "admin",
    body: DeploymentRequest, ok: { status: 201, description: "the deployment", schema: DeploymentView } });
  app.post("/deployments", ctx.admin, async (c) => c.json(await deployments.create(await jsonBody(c, DeploymentRequest)), 201));

  describe({ method: "get", path: "/v1/deployments", summary: "every deployment, newest first, with each agent's state", auth: "admin",
    ok: { status: 200, description: "{ deployments: [...] }", schema: z.object({ deployments: z.array(DeploymentView) }) } });
  app.get("/deployments", ctx.admin, (c) => c.json({ deployments: deployments.list() }));

  describe({ method: "get", path: "/v1/deployments/{id}", summary: "one deployment: per agent pending, active (measured latency) or failed (the error)", auth: "admin",
    ok: { status: 200, description: "the deployment", schema: DeploymentView } });
  app.get("/deployments/:id", ctx.admin, (c) => {
    const v = deployments.view(c.req.param("id"));
    if (!v) throw notFound(`deployment ${c.req.param("id")}`);
    return c.json(v);
  });

  describe({ method: "post", path: "/v1/agent/deployments/{id}", summary: "an agent reports what became of a deployment (active with its latency, or failed)", auth: "agent",
    body: DeploymentReport, ok: { status: 200, description: "{ ok: true }" } });
  app.post("/agent/deployments/:id", ctx.agent, fleet.seen, async (c) => {
    const body = await jsonBody(c, DeploymentReport);
    deployments.report(c.req.param("id"), agentOf(c), body);
    return c.json({ ok: true });
  });

  return app;
}
