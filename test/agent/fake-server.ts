/**
 * A stand-in for the server's agent routes (runtime/fleet-protocol.ts), for the agent's tests:
 * enrolment, a work queue with long polls, rows with idempotency keys, heartbeats, deployment
 * reports and artifact downloads, with knobs to fail requests, reply badly or refuse a token.
 */
import { serve, type ServerType } from "@hono/node-server";
import { Hono } from "hono";
import { EnrolRequest, RowsRequest, type MeasuredRow, type RowsResponse } from "../../runtime/fleet-protocol.js";

export interface FakeServer {
  url: string;
  port: number;
  app: Hono;
  enrolTokens: Set<string>;
  enrolments: EnrolRequest[];
  /** Agent tokens the server accepts. */
  tokens: Set<string>;
  /** Work replies: a Work object, or any JSON (a bad reply) */
  queue: unknown[];
  rowPosts: { lease: string; key: string; indexes: number[]; status: number }[];
  rows: Map<number, MeasuredRow>;
  heartbeats: string[];
  /** Every rows post and heartbeat: the lease and when (Date.now()). */
  contacts: { lease: string; at: number; what: "rows" | "heartbeat" }[];
  reports: { id: string; body: Record<string, unknown> }[];
  artifacts: Map<string, Uint8Array>;
  /** Fail the next N rows posts with 503. */
  failRows: number;
  /** Leases the server says are over. */
  endedLeases: Set<string>;
  /** After this many stored rows of a lease, answer lease_active false. */
  leaseRowLimit: Map<string, number>;
  polls: number;
  push(work: unknown): void;
  close(): Promise<void>;
}

export async function fakeServer(port = 0): Promise<FakeServer> {
  const waiters: (() => void)[] = [];
  const keyReplies = new Map<string, RowsResponse>();
  const s = {
    enrolTokens: new Set<string>(), enrolments: [], tokens: new Set<string>(), queue: [], rowPosts: [], rows: new Map(),
    heartbeats: [], contacts: [], reports: [], artifacts: new Map(), failRows: 0, endedLeases: new Set<string>(), leaseRowLimit: new Map(), polls: 0,
    push(work: unknown) {
      s.queue.push(work);
      waiters.splice(0).forEach((w) => w());
    },
  } as unknown as FakeServer;
  const app = new Hono();
  const authed = (h: string | undefined) => !!h && s.tokens.has(h.replace(/^Bearer /, ""));
  const unauthorized = { error: { code: "unauthorized", message: "unknown or revoked token" } };
  let n = 0;

  app.post("/v1/agent/enrol", async (c) => {
    const r = EnrolRequest.safeParse(await c.req.json());
    if (!r.success) return c.json({ error: { code: "invalid_body", message: r.error.issues[0].message } }, 400);
    if (!s.enrolTokens.delete(r.data.enrolment_token)) return c.json({ error: { code: "unauthorized", message: "unknown or used enrolment token" } }, 401);
    s.enrolments.push(r.data);
    const token = `agent-token-${++n}`;
    s.tokens.add(token);
    return c.json({ agent_id: `agent-${n}`, token, device_class: r.data.device_class ?? "test-class" }, 201);
  });

  app.get("/v1/agent/work", async (c) => {
    if (!authed(c.req.header("authorization"))) return c.json(unauthorized, 401);
    s.polls++;
    const wait = Number(c.req.query("wait_s") ?? 0);
    if (!s.queue.length) await new Promise<void>((resolve) => { waiters.push(resolve); setTimeout(resolve, wait * 1000); });
    if (!s.queue.length) return c.body(null, 204);
    return c.json(s.queue.shift() as object);
  });

  app.post("/v1/agent/leases/:id/rows", async (c) => {
    if (!authed(c.req.header("authorization"))) return c.json(unauthorized, 401);
    const lease = c.req.param("id");
    const r = RowsRequest.safeParse(await c.req.json());
    if (!r.success) return c.json({ error: { code: "invalid_body", message: r.error.issues[0].message } }, 400);
    const post = { lease, key: r.data.idempotency_key, indexes: r.data.rows.map((x) => x.index), status: 200 };
    s.contacts.push({ lease, at: Date.now(), what: "rows" });
    s.rowPosts.push(post);
    if (s.failRows > 0) {
      s.failRows--;
      post.status = 503;
      return c.json({ error: { code: "unavailable", message: "try later" } }, 503);
    }
    const seen = keyReplies.get(post.key);
    if (seen) return c.json({ ...seen, stored: 0 });
    let stored = 0, duplicates = 0;
    for (const row of r.data.rows) {
      if (s.rows.has(row.index)) duplicates++;
      else { s.rows.set(row.index, row); stored++; }
    }
    const limit = s.leaseRowLimit.get(lease);
    const count = s.rowPosts.filter((p) => p.lease === lease && p.status === 200).length;
    const reply = { stored, duplicates, lease_active: !s.endedLeases.has(lease) && !(limit !== undefined && count >= limit) };
    keyReplies.set(post.key, reply);
    return c.json(reply);
  });

  app.post("/v1/agent/leases/:id/heartbeat", (c) => {
    if (!authed(c.req.header("authorization"))) return c.json(unauthorized, 401);
    s.heartbeats.push(c.req.param("id"));
    s.contacts.push({ lease: c.req.param("id"), at: Date.now(), what: "heartbeat" });
    return c.json({ lease_active: !s.endedLeases.has(c.req.param("id")), lease_s: 60 });
  });

  app.post("/v1/agent/deployments/:id", async (c) => {
    if (!authed(c.req.header("authorization"))) return c.json(unauthorized, 401);
    s.reports.push({ id: c.req.param("id"), body: await c.req.json() });
    return c.json({ ok: true });
  });

  app.get("/v1/artifacts/:sha", (c) => {
    if (!authed(c.req.header("authorization"))) return c.json(unauthorized, 401);
    const b = s.artifacts.get(c.req.param("sha"));
    if (!b) return c.json({ error: { code: "not_found", message: "no such artifact" } }, 404);
    return new Response(new Uint8Array(b), { headers: { "content-type": "application/octet-stream" } });
  });

  const { server, port: p } = await new Promise<{ server: ServerType; port: number }>((resolve) => {
    const server = serve({ fetch: app.fetch, hostname: "127.0.0.1", port }, (info) => resolve({ server, port: info.port }));
  });
  return Object.assign(s, {
    app, port: p, url: `http://127.0.0.1:${p}`,
    close: () => new Promise<void>((resolve) => {
      waiters.splice(0).forEach((w) => w());
      server.close(() => resolve());
      (server as { closeAllConnections?: () => void }).closeAllConnections?.();
    }),
  });
}

/** Wait until `cond()` holds (polling), or fail after `ms`. */
export async function until(cond: () => boolean, ms = 20_000, what = "condition"): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
