/**
 * Enrolment and the fleet's roster. The admin makes one-time enrolment tokens (optionally bound
 * to a device class, always with an expiry); an agent trades one for its own bearer token at
 * POST /v1/agent/enrol. Tokens are kept as sha256 only. Revoking an agent ends its token (401
 * from then on) and hands its active leases' architectures back to the queue.
 */
import { Hono } from "hono";
import { z } from "zod";
import { DeviceClass, EnrolRequest, EnrolResponse, Hardware, HelloRequest } from "../../runtime/fleet-protocol.js";
import { hashToken, newToken } from "../auth.js";
import { now } from "../db.js";
import { ApiError, badRequest, jsonBody, notFound, query } from "../http.js";
import { describe } from "../openapi.js";
import { agentOf, type FleetCore } from "./core.js";
import type { LeaseBook } from "./work.js";
import { newId, type AgentRow } from "./store.js";

export const EnrolmentTokenRequest = z.object({
  device_class: DeviceClass.optional(),
  /** Seconds the token stays valid (default one day, at most a year). */
  ttl_s: z.number().int().min(1).max(365 * 86400).optional(),
}).strict();

export const EnrolmentTokenResponse = z.object({
  token: z.string(),
  device_class: DeviceClass.nullable(),
  expires_at: z.number().int(),
});

const DEFAULT_TTL_S = 86400;

export const AgentsQuery = z.object({ device_class: DeviceClass.optional() });

/** An agent as GET /v1/agents shows it. */
export const AgentView = z.object({
  id: z.string(),
  name: z.string(),
  device_class: z.string(),
  hardware: Hardware,
  translate_url: z.string().nullable(),
  created_at: z.number(),
  last_seen_at: z.number().nullable(),
  online: z.boolean(),
  revoked: z.boolean(),
  revoked_at: z.number().nullable(),
  /** The newest deployment this agent reported active, if any. */
  deployment: z.object({ id: z.string(), model_sha256: z.string(), measured_ms: z.number().nullable() }).nullable(),
  /** The profiling lease it holds now, if any. */
  lease: z.object({ id: z.string(), campaign_id: z.string(), expires_at: z.number() }).nullable(),
});
export type AgentView = z.infer<typeof AgentView>;

export function agentsApp(fleet: FleetCore, leases: LeaseBook): Hono {
  const { ctx } = fleet;
  const { db, config } = ctx;
  const app = new Hono();

  /** Seen within two long polls and a lease: an agent busy measuring heartbeats at least that often. */
  const onlineWindowMs = () => (2 * config.maxWaitSeconds + config.leaseSeconds) * 1000;

  const view = (a: AgentRow): AgentView => {
    const dep = db.prepare(`SELECT d.id, d.model_sha256, da.measured_ms FROM deployment_agents da JOIN deployments d ON d.id = da.deployment_id
      WHERE da.agent_id = ? AND da.state = 'active' ORDER BY d.created_at DESC, d.rowid DESC LIMIT 1`).get(a.id) as AgentView["deployment"] | undefined;
    const lease = db.prepare(`SELECT id, job_id AS campaign_id, expires_at FROM leases WHERE agent_id = ? AND state = 'active' ORDER BY created_at DESC LIMIT 1`)
      .get(a.id) as AgentView["lease"] | undefined;
    return {
      id: a.id, name: a.name, device_class: a.device_class, hardware: JSON.parse(a.hardware) as Hardware,
      translate_url: a.translate_url, created_at: a.created_at, last_seen_at: a.last_seen_at,
      online: a.revoked_at === null && a.last_seen_at !== null && now() - a.last_seen_at <= onlineWindowMs(),
      revoked: a.revoked_at !== null, revoked_at: a.revoked_at,
      deployment: dep ?? null, lease: lease ?? null,
    };
  };

  describe({ method: "post", path: "/v1/enrolment-tokens", summary: "a one-time enrolment token for an agent (optionally bound to a device class)", auth: "admin",
    body: EnrolmentTokenRequest, ok: { status: 201, description: "the token, shown once", schema: EnrolmentTokenResponse } });
  app.post("/enrolment-tokens", ctx.admin, async (c) => {
    const body = await jsonBody(c, EnrolmentTokenRequest);
    const token = newToken("enrol");
    const t = now(), expires_at = t + 1000 * (body.ttl_s ?? DEFAULT_TTL_S);
    db.prepare(`INSERT INTO enrolment_tokens (token_hash, device_class, created_at, expires_at) VALUES (?, ?, ?, ?)`)
      .run(hashToken(token), body.device_class ?? null, t, expires_at);
    return c.json({ token, device_class: body.device_class ?? null, expires_at }, 201);
  });

  describe({ method: "post", path: "/v1/agent/enrol", summary: "trade a one-time enrolment token for the agent's own token", auth: "none",
    body: EnrolRequest, ok: { status: 200, description: "the agent's id, token (shown once) and device class", schema: EnrolResponse } });
  app.post("/agent/enrol", async (c) => {
    const body = await jsonBody(c, EnrolRequest);
    const tokenHash = hashToken(body.enrolment_token);
    const reply = db.transaction((): EnrolResponse => {
      const t = now();
      const et = db.prepare(`SELECT * FROM enrolment_tokens WHERE token_hash = ?`).get(tokenHash) as
        { device_class: string | null; expires_at: number; used_at: number | null; agent_id: string | null; request_hash: string | null } | undefined;
      if (!et) throw new ApiError(401, "unauthorized", "enrolment_token: unknown enrolment token (ask the admin for one: POST /v1/enrolment-tokens)");
      const retry = et.used_at !== null && body.request_id && et.request_hash === hashToken(body.request_id) && et.agent_id;
      if (retry && et.expires_at <= t) {
        // honoured only within the token's lifetime: a leaked token and request id must not mint agent tokens (and revoke the agent's) forever
        throw new ApiError(401, "unauthorized", `enrolment_token: this enrolment token expired at ${new Date(et.expires_at).toISOString()}; a retry of the enrolment it made is honoured only until then (ask the admin for a new token)`);
      }
      if (retry && et.agent_id) {
        // a retry of the enrolment that used this token (its reply was lost): the same agent, a fresh token
        const a = db.prepare(`SELECT device_class, revoked_at FROM agents WHERE id = ?`).get(et.agent_id) as { device_class: string; revoked_at: number | null } | undefined;
        if (a && a.revoked_at === null) {
          const token = newToken("agent");
          db.prepare(`UPDATE agents SET token_hash = ?, last_seen_at = ? WHERE id = ?`).run(hashToken(token), t, et.agent_id);
          return { agent_id: et.agent_id, token, device_class: a.device_class };
        }
      }
      if (et.used_at !== null) throw new ApiError(401, "unauthorized", `enrolment_token: this enrolment token was already used (at ${new Date(et.used_at).toISOString()}); each token enrols one agent`);
      if (et.expires_at <= t) throw new ApiError(401, "unauthorized", `enrolment_token: this enrolment token expired at ${new Date(et.expires_at).toISOString()}`);
      const deviceClass = et.device_class ?? body.device_class;
      if (!deviceClass) throw badRequest("device_class: the enrolment token names no device class, so the agent must send one");
      const id = newId("ag"), token = newToken("agent");
      db.prepare(`UPDATE enrolment_tokens SET used_at = ?, agent_id = ?, request_hash = ? WHERE token_hash = ?`).run(t, id, body.request_id ? hashToken(body.request_id) : null, tokenHash);
      db.prepare(`INSERT INTO agents (id, name, device_class, hardware, token_hash, translate_url, created_at, last_seen_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
        .run(id, body.name, deviceClass, JSON.stringify(body.hardware), hashToken(token), body.translate_url ?? null, t, t);
      return { agent_id: id, token, device_class: deviceClass };
    }).immediate();
    ctx.log(`fleet: agent ${reply.agent_id} (${body.name}) enrolled in class ${reply.device_class}`);
    fleet.notify();
    return c.json(reply);
  });

  describe({ method: "get", path: "/v1/agents", summary: "the fleet: every agent with its class, hardware, online state, deployment and lease", auth: "admin",
    query: AgentsQuery, ok: { status: 200, description: "{ agents: [...] }", schema: z.object({ agents: z.array(AgentView) }) } });
  app.get("/agents", ctx.admin, (c) => {
    const q = query(c, AgentsQuery);
    const rows = (q.device_class
      ? db.prepare(`SELECT * FROM agents WHERE device_class = ? ORDER BY created_at, rowid`).all(q.device_class)
      : db.prepare(`SELECT * FROM agents ORDER BY created_at, rowid`).all()) as AgentRow[];
    return c.json({ agents: rows.map(view) });
  });

  describe({ method: "get", path: "/v1/agents/{id}", summary: "one agent", auth: "admin", ok: { status: 200, description: "the agent", schema: AgentView } });
  app.get("/agents/:id", ctx.admin, (c) => {
    const a = db.prepare(`SELECT * FROM agents WHERE id = ?`).get(c.req.param("id")) as AgentRow | undefined;
    if (!a) throw notFound(`agent ${c.req.param("id")}`);
    return c.json(view(a));
  });

  describe({ method: "post", path: "/v1/agents/{id}/revoke", summary: "end an agent's token (401 from then on); its leases go back to the queue", auth: "admin",
    ok: { status: 200, description: "the agent, revoked", schema: AgentView } });
  app.post("/agents/:id/revoke", ctx.admin, (c) => {
    const id = c.req.param("id");
    const a = db.transaction(() => {
      const row = db.prepare(`SELECT * FROM agents WHERE id = ?`).get(id) as AgentRow | undefined;
      if (!row) throw notFound(`agent ${id}`);
      if (row.revoked_at === null) {
        db.prepare(`UPDATE agents SET revoked_at = ? WHERE id = ?`).run(now(), id);
        leases.releaseAgent(id);
      }
      return db.prepare(`SELECT * FROM agents WHERE id = ?`).get(id) as AgentRow;
    }).immediate();
    ctx.log(`fleet: agent ${id} (${a.name}) revoked`);
    fleet.notify();
    return c.json(view(a));
  });

  describe({ method: "post", path: "/v1/agent/hello", summary: "a restarted agent's current hardware and translate URL", auth: "agent",
    body: HelloRequest, ok: { status: 200, description: "the agent as the server now sees it", schema: AgentView } });
  app.post("/agent/hello", ctx.agent, fleet.seen, async (c) => {
    const body = await jsonBody(c, HelloRequest);
    const id = agentOf(c).agentId;
    db.prepare(`UPDATE agents SET hardware = ?, translate_url = COALESCE(?, translate_url) WHERE id = ?`).run(JSON.stringify(body.hardware), body.translate_url ?? null, id);
    return c.json(view(db.prepare(`SELECT * FROM agents WHERE id = ?`).get(id) as AgentRow));
  });

  return app;
}
