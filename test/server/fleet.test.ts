/**
 * server/fleet in-process (app.request): enrolment and access, a campaign measured by two fake
 * agents (idempotent rows, duplicates, an agent going silent and its lease reassigned, the
 * dataset), the long poll, deployments, and malformed requests.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseDataset } from "../../latency/dataset.js";
import { largestArch, smallestArch } from "../../runtime/arch-sample.js";
import { DEMO_SPACE } from "../../runtime/spaces.js";
import type { DeployWork, Hardware, ProfileWork } from "../../runtime/fleet-protocol.js";
import { encodeModel } from "../../runtime/format.js";
import { DEPLOYMENT_PROTOCOL } from "../../runtime/protocol.js";
import { kmeansQuantize } from "../../runtime/quant.js";
import { createServer, type HatServer } from "../../server/app.js";
import { hashToken } from "../../server/auth.js";
import { LEASE_ASSUMED_GFLOPS, LEASE_SAFETY, leaseSecondsFor, MAX_LEASE_S } from "../../server/fleet/work.js";
import { validateArch } from "../../runtime/arch.js";
import { protocolFlops } from "../../runtime/flops.js";
import { campaignDataset } from "../../server/fleet/rows.js";

const ADMIN = "admin";
const HW: Hardware = {
  cpu: "Test CPU, 2 cores", cores: 2, arch: "x64", platform: "linux", memory_bytes: 1 << 30,
  wasm_simd: true, wasm_relaxed_simd: false, node: "20.20.0", agent_version: "0.1.0",
};

let dir = "";
let s: HatServer;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "hat-fleet-"));
  // leases at their 1 s floor (the expiry tests), whatever their work: a device assumed very fast
  s = createServer({ dataDir: dir, adminTokenHash: hashToken(ADMIN), leaseSeconds: 1, leaseAssumedGflops: 1e6, maxWaitSeconds: 2, leaseBatch: 3, log: () => {} });
});

afterAll(async () => {
  await s.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Reply<T = any> { status: number; body: T; ms: number }

async function call<T = any>(method: string, path: string, o: { token?: string; body?: unknown; raw?: string } = {}): Promise<Reply<T>> {
  const headers: Record<string, string> = {};
  if (o.token) headers.authorization = `Bearer ${o.token}`;
  if (o.body !== undefined || o.raw !== undefined) headers["content-type"] = "application/json";
  const t0 = Date.now();
  const res = await s.app.request(path, { method, headers, body: o.raw ?? (o.body === undefined ? undefined : JSON.stringify(o.body)) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, ms: Date.now() - t0 };
}

async function enrol(name: string, deviceClass: string): Promise<{ agent_id: string; token: string }> {
  const t = await call("POST", "/v1/enrolment-tokens", { token: ADMIN, body: { device_class: deviceClass } });
  expect(t.status).toBe(201);
  const r = await call("POST", "/v1/agent/enrol", { body: { enrolment_token: t.body.token, name, hardware: HW } });
  expect(r.status).toBe(200);
  expect(r.body.device_class).toBe(deviceClass);
  return r.body;
}

/** An agent downloads a deployed model (it may report `active` only for a model it fetched). */
async function fetchModel(token: string, sha: string): Promise<number> {
  const r = await s.app.request(`/v1/artifacts/${sha}`, { headers: { authorization: `Bearer ${token}` } });
  await r.arrayBuffer();
  return r.status;
}

const row = (index: number, ms = 1 + index / 10) => ({ index, encoder_ms: ms, decoder_ms: 2 * ms, encoder_std_ms: 0.01, decoder_std_ms: 0.02, runs: 8, build: "hat.wasm", seq: index, load1: 0.5 });
const count = (sql: string, ...args: unknown[]) => (s.ctx.db.prepare(sql).get(...args) as { n: number }).n;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("enrolment and access", () => {
  it("trades a one-time token for an agent token; a reused, expired or unknown token is 401", async () => {
    const t = await call("POST", "/v1/enrolment-tokens", { token: ADMIN, body: {} });
    expect(t.status).toBe(201);
    expect(t.body.device_class).toBeNull();
    const body = { enrolment_token: t.body.token, name: "x", hardware: HW };
    // the token names no class and neither does the body: 400, and the token is not used up
    const noClass = await call("POST", "/v1/agent/enrol", { body });
    expect(noClass.status).toBe(400);
    expect(noClass.body.error.message).toMatch(/device_class/);
    const ok = await call("POST", "/v1/agent/enrol", { body: { ...body, device_class: "box" } });
    expect(ok.status).toBe(200);
    expect(ok.body.token).toMatch(/^hat_agent_/);
    const again = await call("POST", "/v1/agent/enrol", { body: { ...body, device_class: "box" } });
    expect(again.status).toBe(401);
    expect(again.body.error.message).toMatch(/already used/);
    expect((await call("POST", "/v1/agent/enrol", { body: { ...body, enrolment_token: "nope" } })).status).toBe(401);

    const e = await call("POST", "/v1/enrolment-tokens", { token: ADMIN, body: { device_class: "box", ttl_s: 60 } });
    s.ctx.db.prepare(`UPDATE enrolment_tokens SET expires_at = 1 WHERE token_hash = ?`).run(hashToken(e.body.token));
    const expired = await call("POST", "/v1/agent/enrol", { body: { ...body, enrolment_token: e.body.token } });
    expect(expired.status).toBe(401);
    expect(expired.body.error.message).toMatch(/expired/);
  });

  it("a retried enrolment (its reply lost) gets the same agent with a fresh token; another request id is 401", async () => {
    const t = await call("POST", "/v1/enrolment-tokens", { token: ADMIN, body: { device_class: "retry" } });
    const body = { enrolment_token: t.body.token, name: "r", hardware: HW, request_id: "req-0123456789" };
    const first = await call("POST", "/v1/agent/enrol", { body });
    const again = await call("POST", "/v1/agent/enrol", { body });
    expect(again.status).toBe(200);
    expect(again.body.agent_id).toBe(first.body.agent_id);
    expect(again.body.token).not.toBe(first.body.token);
    expect((await call("GET", "/v1/agent/work?wait_s=0", { token: first.body.token })).status).toBe(401); // replaced
    expect((await call("GET", "/v1/agent/work?wait_s=0", { token: again.body.token })).status).toBe(204);
    expect((await call("POST", "/v1/agent/enrol", { body: { ...body, request_id: "someone-else-1" } })).status).toBe(401);
    expect((await call("POST", "/v1/agent/enrol", { body: { ...body, request_id: undefined } })).status).toBe(401);
    expect(count(`SELECT COUNT(*) AS n FROM agents WHERE device_class = 'retry'`)).toBe(1);
  });

  it("a retried enrolment is honoured only within the token's lifetime (no fresh agent token, the agent's own stays valid)", async () => {
    const t = await call("POST", "/v1/enrolment-tokens", { token: ADMIN, body: { device_class: "retry-ttl", ttl_s: 60 } });
    const body = { enrolment_token: t.body.token, name: "rt", hardware: HW, request_id: "req-ttl-0123456789" };
    const first = await call("POST", "/v1/agent/enrol", { body });
    expect(first.status).toBe(200);
    s.ctx.db.prepare(`UPDATE enrolment_tokens SET expires_at = ? WHERE token_hash = ?`).run(Date.now() - 1, hashToken(t.body.token));
    const late = await call("POST", "/v1/agent/enrol", { body });
    expect(late.status).toBe(401);
    expect(late.body.error.message).toMatch(/expired .*retry .* honoured only until then/);
    expect((await call("GET", "/v1/agent/work?wait_s=0", { token: first.body.token })).status).toBe(204); // not revoked by the late retry
  });

  it("a translate URL is http(s) only: javascript:, file: and data: URLs are 400 at enrolment and hello", async () => {
    const a = await enrol("url", "url-class");
    for (const url of ["javascript:alert(1)", "file:///etc/passwd", "data:text/html,<b>x</b>", "ftp://h/x"]) {
      const h = await call("POST", "/v1/agent/hello", { token: a.token, body: { hardware: HW, translate_url: url } });
      expect(h.status, url).toBe(400);
      expect(h.body.error.message).toMatch(/translate_url: .*http/);
      const t = await call("POST", "/v1/enrolment-tokens", { token: ADMIN, body: { device_class: "url-class" } });
      const e = await call("POST", "/v1/agent/enrol", { body: { enrolment_token: t.body.token, name: "u", hardware: HW, translate_url: url } });
      expect(e.status, url).toBe(400);
      expect(e.body.error.message).toMatch(/translate_url/);
    }
    expect((await call("POST", "/v1/agent/hello", { token: a.token, body: { hardware: HW, translate_url: "https://pi.local:9000" } })).status).toBe(200);
    expect(count(`SELECT COUNT(*) AS n FROM agents WHERE translate_url LIKE 'javascript:%' OR translate_url LIKE 'file:%'`)).toBe(0);
  });

  it("hello: a restarted agent updates its hardware and translate URL; not for the admin token", async () => {
    const a = await enrol("hello", "hello-class");
    const hello = { hardware: { ...HW, cores: 8 }, translate_url: "http://10.0.0.7:9999" };
    const r = await call("POST", "/v1/agent/hello", { token: a.token, body: hello });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ id: a.agent_id, translate_url: "http://10.0.0.7:9999", hardware: { cores: 8 } });
    expect((await call("POST", "/v1/agent/hello", { token: ADMIN, body: hello })).status).toBe(403);
    expect((await call("POST", "/v1/agent/hello", { token: a.token, body: { ...hello, translate_url: "not a url" } })).status).toBe(400);
  });

  it("the token's class wins over the body's", async () => {
    const t = await call("POST", "/v1/enrolment-tokens", { token: ADMIN, body: { device_class: "pinned" } });
    const r = await call("POST", "/v1/agent/enrol", { body: { enrolment_token: t.body.token, name: "y", hardware: HW, device_class: "other" } });
    expect(r.body.device_class).toBe("pinned");
  });

  it("no token 401, agent token on an admin route 403, revoked agent 401", async () => {
    const a = await enrol("rev", "rev-class");
    expect((await call("GET", "/v1/agents")).status).toBe(401);
    expect((await call("GET", "/v1/agents", { token: a.token })).status).toBe(403);
    expect((await call("POST", "/v1/enrolment-tokens", { token: a.token, body: {} })).status).toBe(403);
    expect((await call("GET", "/v1/agent/work", { token: ADMIN })).status).toBe(403);
    expect((await call("GET", "/v1/agent/work?wait_s=0", { token: a.token })).status).toBe(204);
    const listed = await call("GET", "/v1/agents?device_class=rev-class", { token: ADMIN });
    expect(listed.body.agents).toHaveLength(1);
    expect(listed.body.agents[0]).toMatchObject({ id: a.agent_id, online: true, revoked: false, hardware: HW });
    const r = await call("POST", `/v1/agents/${a.agent_id}/revoke`, { token: ADMIN });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ revoked: true, online: false });
    expect((await call("GET", "/v1/agent/work?wait_s=0", { token: a.token })).status).toBe(401);
    expect((await call("POST", "/v1/agents/ag_nope/revoke", { token: ADMIN })).status).toBe(404);
  });
});

describe("an architecture no agent can measure", () => {
  it("is given up after three lone leases without a row, and the campaign completes without it", async () => {
    const A = await enrol("flaky", "flaky-class");
    const job = s.ctx.jobs.create("campaign", { device_class: "flaky-class", space: "demo", samples: 4, protocol: { runs: 8, warmup: 1 } });
    const leased: number[][] = [];
    for (let i = 0; i < 6 && s.ctx.jobs.get(job.id)!.state === "running"; i++) {
      const w = await call<ProfileWork>("GET", "/v1/agent/work?wait_s=2", { token: A.token });
      if (w.status !== 200) break;
      leased.push(w.body.archs.map((x) => x.index));
      const rows = w.body.archs.filter((x) => x.index !== 0).map((x) => row(x.index)); // index 0 always "fails"
      if (rows.length) expect((await call("POST", `/v1/agent/leases/${w.body.lease_id}/rows`, { token: A.token, body: { idempotency_key: `flaky-${i}-key`, rows } })).status).toBe(200);
    }
    const done = await s.ctx.jobs.settled(job.id);
    expect(done.state).toBe("done");
    // first in a batch with 1-3, then alone three times (its batch-mates are not blamed)
    expect(leased.filter((l) => l.includes(0))).toEqual([[0, 1, 2], [0], [0], [0]]);
    expect(done.result).toMatchObject({ rows: 3, failed_indexes: [0] });
  });
});

describe("a campaign whose architectures all fail (issue 15, 4)", () => {
  it("ends failed with a message, not done with 0 rows", async () => {
    const A = await enrol("broken", "broken-class");
    const job = s.ctx.jobs.create("campaign", { device_class: "broken-class", space: "demo", samples: 2, protocol: { runs: 8, warmup: 1 } });
    for (let i = 0; i < 12 && s.ctx.jobs.get(job.id)!.state === "running"; i++) {
      const w = await call<ProfileWork>("GET", "/v1/agent/work?wait_s=2", { token: A.token });
      if (w.status !== 200) break; // leases taken, no row ever posted
    }
    const done = await s.ctx.jobs.settled(job.id);
    expect(done.state).toBe("failed");
    expect(JSON.stringify(done)).toMatch(/all 2 architectures failed/);
  });
});

describe("a campaign on two agents", () => {
  it("leases batches, stores each index once, reassigns a silent agent's lease and completes with the dataset", async () => {
    const A = await enrol("a", "camp"), B = await enrol("b", "camp");
    const job = s.ctx.jobs.create("campaign", { device_class: "camp", space: "demo", samples: 7, protocol: { runs: 8, warmup: 1 } });
    expect(job.params).toMatchObject({ rounds: 1, seed: 1, protocol: { runs: 8, warmup: 1, beam: 5 } });

    const wa = await call<ProfileWork>("GET", "/v1/agent/work?wait_s=2", { token: A.token });
    expect(wa.status).toBe(200);
    expect(wa.body).toMatchObject({ kind: "profile", campaign_id: job.id, protocol: { rounds: 1 }, lease_s: 1 });
    expect(wa.body.archs.map((x) => x.index)).toEqual([0, 1, 2]);
    const wb = await call<ProfileWork>("GET", "/v1/agent/work?wait_s=2", { token: B.token });
    expect(wb.body.archs.map((x) => x.index)).toEqual([3, 4, 5]);
    const rowsA = `/v1/agent/leases/${wa.body.lease_id}/rows`, rowsB = `/v1/agent/leases/${wb.body.lease_id}/rows`;

    // rows, a replay of the same chunk, a duplicate index under a new key
    const first = await call("POST", rowsA, { token: A.token, body: { idempotency_key: "a-chunk-1", rows: [row(0)] } });
    expect(first.body).toEqual({ stored: 1, duplicates: 0, lease_active: true });
    const replay = await call("POST", rowsA, { token: A.token, body: { idempotency_key: "a-chunk-1", rows: [row(0, 99)] } });
    expect(replay.body).toEqual(first.body);
    const dup = await call("POST", rowsA, { token: A.token, body: { idempotency_key: "a-chunk-2", rows: [row(0, 98)] } });
    expect(dup.body).toEqual({ stored: 0, duplicates: 1, lease_active: true });
    expect(count(`SELECT COUNT(*) AS n FROM latency_rows WHERE job_id = ?`, job.id)).toBe(1);
    expect((s.ctx.db.prepare(`SELECT encoder_ms FROM latency_rows WHERE job_id = ? AND idx = 0`).get(job.id) as { encoder_ms: number }).encoder_ms).toBe(1);

    // out of lease, someone else's lease, unknown lease: refused, nothing stored
    const out = await call("POST", rowsA, { token: A.token, body: { idempotency_key: "a-chunk-3", rows: [row(1), row(5)] } });
    expect(out.status).toBe(400);
    expect(out.body.error.message).toMatch(/rows\[1\]\.index: 5/);
    expect((await call("POST", rowsB, { token: A.token, body: { idempotency_key: "a-chunk-4", rows: [row(3)] } })).status).toBe(403);
    expect((await call("POST", "/v1/agent/leases/ls_nope/rows", { token: A.token, body: { idempotency_key: "a-chunk-5", rows: [row(3)] } })).status).toBe(404);
    expect((await call("POST", `/v1/agent/leases/${wb.body.lease_id}/heartbeat`, { token: A.token, body: {} })).status).toBe(403);
    expect(count(`SELECT COUNT(*) AS n FROM latency_rows WHERE job_id = ?`, job.id)).toBe(1);
    expect(count(`SELECT COUNT(*) AS n FROM fleet_idempotency WHERE key IN ('a-chunk-3', 'a-chunk-4', 'a-chunk-5')`)).toBe(0);

    // A keeps its lease alive with a heartbeat; B goes silent and its lease expires
    await sleep(600);
    expect((await call("POST", `/v1/agent/leases/${wa.body.lease_id}/heartbeat`, { token: A.token, body: {} })).body).toEqual({ lease_active: true, lease_s: 1 });
    await sleep(600);
    const done = await call("POST", rowsA, { token: A.token, body: { idempotency_key: "a-chunk-6", rows: [row(1), row(2)] } });
    expect(done.body).toEqual({ stored: 2, duplicates: 0, lease_active: false }); // all its archs stored: the lease is done
    const beat = await call("POST", `/v1/agent/leases/${wb.body.lease_id}/heartbeat`, { token: B.token, body: {} });
    expect(beat.body).toEqual({ lease_active: false, lease_s: 1 });

    // A gets B's unmeasured archs, one at a time: back from an expired lease they are suspects,
    // leased alone so that a failure blames only the one that failed
    const wa2 = await call<ProfileWork>("GET", "/v1/agent/work?wait_s=2", { token: A.token });
    expect(wa2.body.archs.map((x) => x.index)).toEqual([3]);
    // B's late row of an index nobody stored yet is kept; then A's copy of it is a duplicate
    const late = await call("POST", rowsB, { token: B.token, body: { idempotency_key: "b-chunk-1", rows: [row(3)] } });
    expect(late.body).toEqual({ stored: 1, duplicates: 0, lease_active: false });
    const dupA = await call("POST", `/v1/agent/leases/${wa2.body.lease_id}/rows`, { token: A.token, body: { idempotency_key: "a-chunk-7", rows: [row(3)] } });
    expect(dupA.body).toEqual({ stored: 0, duplicates: 1, lease_active: false });
    for (const index of [4, 5]) {
      const w = await call<ProfileWork>("GET", "/v1/agent/work?wait_s=2", { token: A.token });
      expect(w.body.archs.map((x) => x.index)).toEqual([index]);
      expect((await call("POST", `/v1/agent/leases/${w.body.lease_id}/rows`, { token: A.token, body: { idempotency_key: `a-chunk-${index + 4}`, rows: [row(index)] } })).body.stored).toBe(1);
    }

    // B comes back (a restart): the last architecture
    const wb2 = await call<ProfileWork>("GET", "/v1/agent/work?wait_s=2", { token: B.token });
    expect(wb2.body.archs.map((x) => x.index)).toEqual([6]);
    expect((await call("POST", `/v1/agent/leases/${wb2.body.lease_id}/rows`, { token: B.token, body: { idempotency_key: "b-chunk-2", rows: [row(6)] } })).body.stored).toBe(1);

    const settled = await s.ctx.jobs.settled(job.id);
    expect(settled.state, settled.error ?? "").toBe("done");
    expect(settled.result).toMatchObject({ rows: 7, agents: { [A.agent_id]: 5, [B.agent_id]: 2 }, leases: 6, expired_leases: 1, failed_indexes: [] });
    const csv = s.ctx.artifacts.read(settled.artifacts.dataset).toString("utf8");
    const ds = parseDataset(csv, "campaign.csv");
    expect(ds.rows.map((r) => r.sample)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(ds.rows[0]).toMatchObject({ encoder_ms: 1, decoder_ms: 2, seq: 0, protocol: { runs: 8, warmup: 1, vocab: 32768, build: "hat.wasm" } });
    expect(ds.rows[0].device).toEqual({ cpu: "Test CPU 2 cores", cores: 2, arch: "x64", platform: "linux" });
    expect(ds.rows.every((r) => r.arch !== undefined)).toBe(true);
    // nothing left to lease
    expect((await call("GET", "/v1/agent/work?wait_s=0", { token: A.token })).status).toBe(204);
  });

  it("a cancelled campaign ends its leases", async () => {
    const A = await enrol("c", "cancel-class");
    const job = s.ctx.jobs.create("campaign", { device_class: "cancel-class", space: "demo", samples: 4 });
    const w = await call<ProfileWork>("GET", "/v1/agent/work?wait_s=2", { token: A.token });
    expect(w.status).toBe(200);
    s.ctx.jobs.cancel(job.id);
    expect((await s.ctx.jobs.settled(job.id)).state).toBe("cancelled");
    await sleep(50);
    expect((await call("POST", `/v1/agent/leases/${w.body.lease_id}/heartbeat`, { token: A.token, body: {} })).body.lease_active).toBe(false);
    const r = await call("POST", `/v1/agent/leases/${w.body.lease_id}/rows`, { token: A.token, body: { idempotency_key: "c-chunk-1", rows: [row(w.body.archs[0].index)] } });
    expect(r.body).toEqual({ stored: 0, duplicates: 0, lease_active: false });
  });

  it("refuses bad campaign params with a 400 naming the field", () => {
    expect(() => s.ctx.jobs.create("campaign", { device_class: "x", space: "nope", samples: 3 })).toThrow(/space/);
    expect(() => s.ctx.jobs.create("campaign", { device_class: "x", space: { qkvDim: 1 }, samples: 3 })).toThrow(/space/);
    expect(() => s.ctx.jobs.create("campaign", { device_class: "x", space: "demo", samples: 0 })).toThrow(/samples/);
    expect(() => s.ctx.jobs.create("campaign", { device_class: "x", space: "demo", samples: 3, protocol: { runs: -1 } })).toThrow(/protocol\.runs/);
    // a campaign of listed architectures: each in the space, none twice, and not with samples too
    const a = smallestArch(DEMO_SPACE);
    expect(() => s.ctx.jobs.create("campaign", { device_class: "x", space: "demo" })).toThrow(/samples .* or archs/);
    expect(() => s.ctx.jobs.create("campaign", { device_class: "x", space: "demo", samples: 3, archs: [a] })).toThrow(/samples .* or archs/);
    expect(() => s.ctx.jobs.create("campaign", { device_class: "x", space: "demo", archs: [a, { ...a, encoderEmbedDim: 999 }] })).toThrow(/archs\[1\]: .*encoderEmbedDim/);
    expect(() => s.ctx.jobs.create("campaign", { device_class: "x", space: "demo", archs: [a, "nope"] })).toThrow(/archs\[1\]/);
    expect(() => s.ctx.jobs.create("campaign", { device_class: "x", space: "demo", archs: [a, { ...a }] })).toThrow(/archs\[1\]: the same architecture/);
    expect(() => s.ctx.jobs.create("campaign", { device_class: "x", space: "demo", archs: Array.from({ length: 1001 }, () => a) })).toThrow(/archs/);
  });

  it("a campaign of listed architectures leases exactly those, in order", async () => {
    const archs = [largestArch(DEMO_SPACE), smallestArch(DEMO_SPACE)];
    const job = s.ctx.jobs.create("campaign", { device_class: "listed-class", space: "demo", archs, protocol: { runs: 2 } });
    const A = await enrol("listed-a", "listed-class");
    const w = await call<ProfileWork>("GET", "/v1/agent/work?wait_s=2", { token: A.token });
    expect(w.body.kind).toBe("profile");
    expect(w.body.archs.map((x) => [x.index, x.arch])).toEqual([[0, archs[0]], [1, archs[1]]]);
    s.ctx.jobs.cancel(job.id);
    await s.ctx.jobs.settled(job.id);
  });

  it("a campaign's rounds are its protocol's (given either way, not two different ones); the build is each agent's", async () => {
    const job = s.ctx.jobs.create("campaign", { device_class: "rounds-class", space: "demo", samples: 2, protocol: { runs: 8, rounds: 3 } });
    expect(job.params).toMatchObject({ rounds: 3, protocol: { runs: 8, rounds: 3, trim: 0.1, keep: "fastest", threads: 1 } });
    expect((job.params as { protocol: object }).protocol).not.toHaveProperty("build");
    expect(() => s.ctx.jobs.create("campaign", { device_class: "x", space: "demo", samples: 3, rounds: 2, protocol: { rounds: 3 } })).toThrow(/rounds: 2 differs from protocol\.rounds 3/);
    expect(() => s.ctx.jobs.create("campaign", { device_class: "x", space: "demo", samples: 3, protocol: { build: "hat.wasm" } })).toThrow(/protocol/);
    s.ctx.jobs.cancel(job.id);
    await s.ctx.jobs.settled(job.id);
  });
});

describe("the protocol's quant (int8 campaigns and deployments)", () => {
  it("a campaign at int8: its leases say so, and its rows and dataset record it", async () => {
    const archs = [smallestArch(DEMO_SPACE)];
    const job = s.ctx.jobs.create("campaign", { device_class: "int8-class", space: "demo", archs, protocol: { runs: 8, quant: "int8" } });
    expect(job.params).toMatchObject({ protocol: { runs: 8, quant: "int8" } });
    expect(() => s.ctx.jobs.create("campaign", { device_class: "x", space: "demo", samples: 3, protocol: { quant: "int4" } })).toThrow(/protocol\.quant/);
    const A = await enrol("int8-a", "int8-class");
    const w = await call<ProfileWork>("GET", "/v1/agent/work?wait_s=2", { token: A.token });
    expect(w.body.kind).toBe("profile");
    expect(w.body.protocol.quant).toBe("int8");
    expect((await call("POST", `/v1/agent/leases/${w.body.lease_id}/rows`, { token: A.token, body: { idempotency_key: "int8-chunk-1", rows: [row(0)] } })).status).toBe(200);
    const ds = parseDataset(campaignDataset(s.ctx.db, job.id).csv, "int8.csv");
    expect(ds.columns).toContain("quant");
    expect(ds.rows.map((r) => r.protocol!.quant)).toEqual(["int8"]);
    await s.ctx.jobs.settled(job.id);
  });

  /** A done job as the store keeps it (its artifacts stored), without running it. */
  const doneJob = (id: string, kind: string, params: object, artifacts: Record<string, string>) => {
    s.ctx.db.prepare(`INSERT INTO jobs (id, kind, state, params, result, artifacts, attempts, created_at, started_at, finished_at) VALUES (?, ?, 'done', ?, '{}', ?, 1, ?, ?, ?)`)
      .run(id, kind, JSON.stringify(params), JSON.stringify(artifacts), Date.now(), Date.now(), Date.now());
    return id;
  };
  const arch = smallestArch(DEMO_SPACE);
  const model = encodeModel({ kind: "subtransformer", arch, space: DEMO_SPACE, positionDims: { encoder: 64, decoder: 64 }, vocab: { size: 300, pad: 0, bos: 1, eos: 2, unk: 3 }, tokenizer: { fake: true } },
    new Map([["x", { shape: [2], data: new Float32Array([1, 2]) }]]));

  it("a deployment of a search's model runs and measures the products its predictor learnt; another quant is refused naming both", async () => {
    const A = await enrol("int8-dep", "int8-dep");
    const sha = s.ctx.artifacts.put(model, "model", "m.hatm").sha256;
    // a predictor fitted on an int8 campaign (only its protocol is read here), and the search that used it
    const pred = s.ctx.artifacts.put(Buffer.from(JSON.stringify({ protocol: { ...DEPLOYMENT_PROTOCOL, vocab: 300, rounds: 1, quant: "int8" } })), "predictor", "p.json").sha256;
    doneJob("job_int8pred", "predictor", { data: [] }, { predictor: pred });
    doneJob("job_int8search", "search", { predictor: "job_int8pred", latency_ms: 5, quant: "int8" }, { model: sha });
    const f32 = await call("POST", "/v1/deployments", { token: ADMIN, body: { device_class: "int8-dep", model: { job: "job_int8search" }, protocol: { quant: "f32" } } });
    expect(f32.status).toBe(400);
    expect(f32.body.error).toMatchObject({ code: "protocol_mismatch", message: expect.stringMatching(/^protocol\.quant: f32 differs from the quant int8 the search's predictor learnt/) });
    const d = await call("POST", "/v1/deployments", { token: ADMIN, body: { device_class: "int8-dep", model: { job: "job_int8search" } } });
    expect(d.status, JSON.stringify(d.body)).toBe(201);
    expect(d.body.protocol).toMatchObject({ quant: "int8", vocab: 300, rounds: 1 });
    const w = await call<DeployWork>("GET", "/v1/agent/work?wait_s=0", { token: A.token });
    expect(w.body.protocol.quant).toBe("int8"); // the agent loads the model with int8 products and measures them
    const list = await call("GET", "/v1/deployments", { token: ADMIN });
    expect(list.body.deployments.find((x: { id: string }) => x.id === d.body.id).protocol.quant).toBe("int8");
    // a model deployed by itself: f32 unless the request says; a bad quant names the field
    const plain = await call("POST", "/v1/deployments", { token: ADMIN, body: { device_class: "int8-plain", model: { sha256: sha } } });
    expect(plain.body.protocol.quant).toBe("f32");
    const asked = await call("POST", "/v1/deployments", { token: ADMIN, body: { device_class: "int8-plain", model: { sha256: sha }, protocol: { quant: "int8" } } });
    expect(asked.body.protocol.quant).toBe("int8");
    const bad = await call("POST", "/v1/deployments", { token: ADMIN, body: { device_class: "int8-plain", model: { sha256: sha }, protocol: { quant: "int4" } } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/protocol\.quant/);
  });

  it("a quantized file is deployed as its form or with int8 products; another form is refused naming both", async () => {
    const kmeans = kmeansQuantize({ shape: [4, 4], data: Float32Array.from({ length: 16 }, (_, i) => i / 16) }, { bits: 4 });
    const q = encodeModel({ kind: "subtransformer", arch, space: DEMO_SPACE, positionDims: { encoder: 64, decoder: 64 }, vocab: { size: 300, pad: 0, bos: 1, eos: 2, unk: 3 }, tokenizer: { fake: true } },
      new Map([["w", kmeans]]));
    const sha = s.ctx.artifacts.put(q, "model", "q.hatm").sha256;
    const plain = await call("POST", "/v1/deployments", { token: ADMIN, body: { device_class: "q-dep", model: { sha256: sha } } });
    expect(plain.status, JSON.stringify(plain.body)).toBe(201);
    expect(plain.body.protocol.quant).toBe("kmeans4");
    const int8 = await call("POST", "/v1/deployments", { token: ADMIN, body: { device_class: "q-dep", model: { sha256: sha }, protocol: { quant: "int8" } } });
    expect(int8.status).toBe(201);
    for (const quant of ["f32", "kmeans8", "linear8"]) {
      const r = await call("POST", "/v1/deployments", { token: ADMIN, body: { device_class: "q-dep", model: { sha256: sha }, protocol: { quant } } });
      expect(r.status).toBe(400);
      expect(r.body.error).toMatchObject({ code: "protocol_mismatch", message: expect.stringMatching(new RegExp(`^protocol\\.quant: ${quant}, but the model's matrices are stored as kmeans4`)) });
    }
  });

  it("threads as quant: a campaign's leases and rows say them, a deployment of a search's model takes its predictor's, another count is refused", async () => {
    const job = s.ctx.jobs.create("campaign", { device_class: "thr-class", space: "demo", archs: [arch], protocol: { runs: 8, threads: 2 } });
    expect(() => s.ctx.jobs.create("campaign", { device_class: "x", space: "demo", samples: 3, protocol: { threads: 17 } })).toThrow(/protocol\.threads/);
    const A = await enrol("thr-a", "thr-class");
    const w = await call<ProfileWork>("GET", "/v1/agent/work?wait_s=2", { token: A.token });
    expect(w.body.protocol.threads).toBe(2);
    expect((await call("POST", `/v1/agent/leases/${w.body.lease_id}/rows`, { token: A.token, body: { idempotency_key: "thr-chunk-1", rows: [row(0)] } })).status).toBe(200);
    expect(parseDataset(campaignDataset(s.ctx.db, job.id).csv, "thr.csv").rows.map((r) => r.protocol!.threads)).toEqual([2]);
    await s.ctx.jobs.settled(job.id);
    const sha = s.ctx.artifacts.put(model, "model", "m.hatm").sha256;
    const pred = s.ctx.artifacts.put(Buffer.from(JSON.stringify({ protocol: { ...DEPLOYMENT_PROTOCOL, vocab: 300, rounds: 1, threads: 2 } })), "predictor", "p2.json").sha256;
    doneJob("job_thrpred", "predictor", { data: [] }, { predictor: pred });
    doneJob("job_thrsearch", "search", { predictor: "job_thrpred", latency_ms: 5, threads: 2 }, { model: sha });
    const one = await call("POST", "/v1/deployments", { token: ADMIN, body: { device_class: "thr-dep", model: { job: "job_thrsearch" }, protocol: { threads: 1 } } });
    expect(one.status).toBe(400);
    expect(one.body.error).toMatchObject({ code: "protocol_mismatch", message: expect.stringMatching(/threads/) });
    const d = await call("POST", "/v1/deployments", { token: ADMIN, body: { device_class: "thr-dep", model: { job: "job_thrsearch" } } });
    expect(d.status, JSON.stringify(d.body)).toBe(201);
    expect(d.body.protocol).toMatchObject({ threads: 2 });
  });

  it("a deployment stored before the protocol had its quant reads as f32", async () => {
    const sha = s.ctx.artifacts.put(model, "model", "m.hatm").sha256;
    const d = await call("POST", "/v1/deployments", { token: ADMIN, body: { device_class: "int8-old", model: { sha256: sha } } });
    const { quant: _q, ...old } = d.body.protocol;
    s.ctx.db.prepare(`UPDATE deployments SET protocol = ? WHERE id = ?`).run(JSON.stringify(old), d.body.id);
    const g = await call("GET", `/v1/deployments/${d.body.id}`, { token: ADMIN });
    expect(g.body.protocol).toEqual({ ...old, quant: "f32" });
  });
});

describe("lease lengths", () => {
  it("grow with the work (runs x rounds x the largest architecture's operations over the device's speed), then with the speed its rows measure", async () => {
    const d2 = mkdtempSync(join(tmpdir(), "hat-fleet-lease-"));
    const s2 = createServer({ dataDir: d2, adminTokenHash: hashToken(ADMIN), leaseSeconds: 4, leaseBatch: 2, maxWaitSeconds: 1, log: () => {} });
    const req = async (method: string, path: string, token: string, body?: unknown) => {
      const res = await s2.app.request(path, { method, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
      return { status: res.status, body: res.status === 204 ? undefined : await res.json() as any };
    };
    try {
      const t = await req("POST", "/v1/enrolment-tokens", ADMIN, { device_class: "ls" });
      const A = (await req("POST", "/v1/agent/enrol", "", { enrolment_token: t.body.token, name: "l", hardware: HW })).body as { token: string };
      const protocol = { runs: 100, warmup: 5, vocab: 1000, rounds: 2 };
      const job = s2.ctx.jobs.create("campaign", { device_class: "ls", space: "demo", samples: 9, protocol });
      const w = (await req("GET", "/v1/agent/work?wait_s=1", A.token)).body as ProfileWork;
      // the batch: the demo space's smallest and largest; one run of the largest at vocab 1000 (runtime/flops.ts)
      const flops = (a: unknown) => { const f = protocolFlops(validateArch(a), w.protocol); return f.encoder + f.decoder; };
      const F = Math.max(...w.archs.map((a) => flops(a.arch)));
      expect(F).toBeCloseTo(67.7e6, -5);
      const expected = Math.ceil(LEASE_SAFETY * 2 * 105 * F / (LEASE_ASSUMED_GFLOPS * 1e9)); // 3 x 2 x 105 x 67.7e6 / 2e9 = 21.3 -> 22
      expect(w.lease_s).toBe(expected);
      expect(w.lease_s).toBeGreaterThan(4);
      expect(leaseSecondsFor(w.archs.map((a) => a.arch), w.protocol, LEASE_ASSUMED_GFLOPS * 1e9, 4)).toBe(expected);
      const lease = s2.ctx.db.prepare(`SELECT created_at, expires_at, lease_ms FROM leases WHERE id = ?`).get(w.lease_id) as { created_at: number; expires_at: number; lease_ms: number };
      expect(lease.lease_ms).toBe(expected * 1000);
      expect(lease.expires_at - lease.created_at).toBe(expected * 1000);
      expect((await req("POST", `/v1/agent/leases/${w.lease_id}/heartbeat`, A.token, {})).body).toEqual({ lease_active: true, lease_s: expected });
      // a tiny protocol: the floor
      expect(leaseSecondsFor(w.archs.map((a) => a.arch), { ...w.protocol, runs: 1, warmup: 0, rounds: 1 }, LEASE_ASSUMED_GFLOPS * 1e9, 4)).toBe(4);
      expect(leaseSecondsFor(w.archs.map((a) => a.arch), { ...w.protocol, runs: 10000, rounds: 20 }, 1e6, 4)).toBe(MAX_LEASE_S);

      // rows measured at 1 ms per 67.7 MFLOP-ish (a device ~30x faster than assumed): the next leases are sized from them
      const rowOf = (index: number, arch: unknown) => ({ ...row(index, 0), encoder_ms: flops(arch) / 1e8 / 3, decoder_ms: 2 * flops(arch) / 1e8 / 3 }); // total = F / 1e11 s: 100 GFLOP/s
      const rows = w.archs.map((a) => ({ ...rowOf(a.index, a.arch), speed: 1.25, ref_ms: 0.8 }));
      expect((await req("POST", `/v1/agent/leases/${w.lease_id}/rows`, A.token, { idempotency_key: "ls-chunk-1", rows })).body.stored).toBe(2);
      // the rows' speed is stored and in the campaign's dataset (a CSV column)
      const ds = campaignDataset(s2.ctx.db, job.id);
      expect(ds.rows.map((r) => [r.speed, r.ref_ms])).toEqual([[1.25, 0.8], [1.25, 0.8]]);
      expect(parseDataset(ds.csv).rows[0]).toMatchObject({ speed: 1.25, ref_ms: 0.8 });
      expect((await req("POST", `/v1/agent/leases/${w.lease_id}/rows`, A.token, { idempotency_key: "ls-chunk-x", rows: [{ ...rows[0], speed: 0 }] })).status).toBe(400);
      const w2 = (await req("GET", "/v1/agent/work?wait_s=1", A.token)).body as ProfileWork; // 2 rows: still assumed
      expect(w2.lease_s).toBe(leaseSecondsFor(w2.archs.map((a) => a.arch), w2.protocol, LEASE_ASSUMED_GFLOPS * 1e9, 4));
      await req("POST", `/v1/agent/leases/${w2.lease_id}/rows`, A.token, { idempotency_key: "ls-chunk-2", rows: w2.archs.map((a) => rowOf(a.index, a.arch)) });
      const w3 = (await req("GET", "/v1/agent/work?wait_s=1", A.token)).body as ProfileWork;
      expect(w3.lease_s).toBe(leaseSecondsFor(w3.archs.map((a) => a.arch), w3.protocol, 1e11, 4));
      expect(w3.lease_s).toBe(4); // 3 x 2 x 105 x <=67.7e6 / 1e11 = 0.43 s: the floor
      s2.ctx.jobs.cancel(job.id);
      await s2.ctx.jobs.settled(job.id);
    } finally {
      await s2.close();
      rmSync(d2, { recursive: true, force: true });
    }
  });
});

describe("a server restart mid-campaign", () => {
  it("keeps the rows, resumes the job, and an agent that restarted gets its unmeasured archs again", async () => {
    const d2 = mkdtempSync(join(tmpdir(), "hat-fleet-restart-"));
    const opts = { dataDir: d2, adminTokenHash: hashToken(ADMIN), leaseSeconds: 30, maxWaitSeconds: 1, log: () => {} };
    let s2 = createServer(opts);
    const req = async (srv: HatServer, method: string, path: string, token: string, body?: unknown) => {
      const res = await srv.app.request(path, { method, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
      return { status: res.status, body: res.status === 204 ? undefined : await res.json() as any };
    };
    try {
      const t = await req(s2, "POST", "/v1/enrolment-tokens", ADMIN, { device_class: "rs" });
      const A = (await req(s2, "POST", "/v1/agent/enrol", "", { enrolment_token: t.body.token, name: "r", hardware: HW })).body as { token: string };
      const job = s2.ctx.jobs.create("campaign", { device_class: "rs", space: "demo", samples: 3 });
      const w = await req(s2, "GET", "/v1/agent/work?wait_s=1", A.token);
      expect(w.body.archs).toHaveLength(3);
      expect((await req(s2, "POST", `/v1/agent/leases/${w.body.lease_id}/rows`, A.token, { idempotency_key: "r-chunk-1", rows: [row(0)] })).body.stored).toBe(1);
      await s2.close();

      s2 = createServer(opts);
      // the rows of the lease still count after the restart; the agent then restarts too and asks for work
      expect((await req(s2, "POST", `/v1/agent/leases/${w.body.lease_id}/rows`, A.token, { idempotency_key: "r-chunk-2", rows: [row(1)] })).body).toEqual({ stored: 1, duplicates: 0, lease_active: true });
      const w2 = await req(s2, "GET", "/v1/agent/work?wait_s=1", A.token);
      expect(w2.body.archs.map((a: { index: number }) => a.index)).toEqual([2]);
      expect((await req(s2, "POST", `/v1/agent/leases/${w.body.lease_id}/heartbeat`, A.token, {})).body.lease_active).toBe(false);
      expect((await req(s2, "POST", `/v1/agent/leases/${w2.body.lease_id}/rows`, A.token, { idempotency_key: "r-chunk-3", rows: [row(2)] })).body.stored).toBe(1);
      const done = await s2.ctx.jobs.settled(job.id);
      expect(done.state, done.error ?? "").toBe("done");
      expect(done.attempts).toBe(2);
      expect(done.result).toMatchObject({ rows: 3, leases: 2, expired_leases: 1 });
    } finally {
      await s2.close();
      rmSync(d2, { recursive: true, force: true });
    }
  });
});

describe("the long poll", () => {
  it("answers 204 after wait_s, and at once when work appears", async () => {
    const A = await enrol("poll", "poll-class");
    const idle = await call("GET", "/v1/agent/work?wait_s=1", { token: A.token });
    expect(idle.status).toBe(204);
    expect(idle.ms).toBeGreaterThanOrEqual(950);
    const capped = await call("GET", "/v1/agent/work?wait_s=60", { token: A.token }); // capped at maxWaitSeconds (2)
    expect(capped.status).toBe(204);
    expect(capped.ms).toBeLessThan(3500);

    const pending = call<ProfileWork>("GET", "/v1/agent/work?wait_s=2", { token: A.token });
    await sleep(300);
    const job = s.ctx.jobs.create("campaign", { device_class: "poll-class", space: "demo", samples: 2 });
    const got = await pending;
    expect(got.status).toBe(200);
    expect(got.body.campaign_id).toBe(job.id);
    expect(got.ms).toBeLessThan(1500);
    s.ctx.jobs.cancel(job.id);
    await s.ctx.jobs.settled(job.id);
  });

  it("stops waiting when the client goes away", async () => {
    const A = await enrol("gone", "gone-class");
    const ac = new AbortController();
    const t0 = Date.now();
    const res = Promise.resolve(s.app.request("/v1/agent/work?wait_s=2", { headers: { authorization: `Bearer ${A.token}` }, signal: ac.signal }));
    setTimeout(() => ac.abort(), 200);
    const r = await res.catch(() => undefined);
    if (r) expect(r.status).toBe(204);
    expect(Date.now() - t0).toBeLessThan(1500);
  });
});

describe("deployments", () => {
  const arch = smallestArch(DEMO_SPACE);
  const model = encodeModel({ kind: "subtransformer", arch, space: DEMO_SPACE, positionDims: { encoder: 64, decoder: 64 }, vocab: { size: 300, pad: 0, bos: 1, eos: 2, unk: 3 }, tokenizer: { fake: true } },
    new Map([["x", { shape: [2], data: new Float32Array([1, 2]) }]]));

  it("pending -> DeployWork -> reported active -> shown per agent", async () => {
    const A = await enrol("d1", "dep-class"), B = await enrol("d2", "dep-class");
    const sha = s.ctx.artifacts.put(model, "model", "m.hatm").sha256;
    const d = await call("POST", "/v1/deployments", { token: ADMIN, body: { device_class: "dep-class", model: { sha256: sha }, protocol: { runs: 5 } } });
    expect(d.status).toBe(201);
    expect(d.body).toMatchObject({ device_class: "dep-class", model_sha256: sha, model_kind: "subtransformer", arch, current: true, protocol: { runs: 5, vocab: 300 } });
    expect(d.body.agents.map((a: { state: string }) => a.state)).toEqual(["pending", "pending"]);

    const w = await call<DeployWork>("GET", "/v1/agent/work?wait_s=0", { token: A.token });
    expect(w.body).toEqual({ kind: "deploy", deployment_id: d.body.id, model_sha256: sha, model_bytes: model.length, model_url: `/v1/artifacts/${sha}`, protocol: d.body.protocol });
    const dl = await s.app.request(w.body.model_url, { headers: { authorization: `Bearer ${A.token}` } });
    expect(dl.status).toBe(200);
    expect(new Uint8Array(await dl.arrayBuffer())).toEqual(model);
    expect((await call("POST", `/v1/agent/deployments/${d.body.id}`, { token: A.token, body: { state: "active", measured_ms: 12.5, encoder_ms: 2.5, decoder_ms: 10 } })).status).toBe(200);
    expect((await call("POST", `/v1/agent/deployments/${d.body.id}`, { token: B.token, body: { state: "failed", error: "out of memory" } })).status).toBe(200);
    expect((await call("GET", "/v1/agent/work?wait_s=0", { token: A.token })).status).toBe(204); // reported: no more deploy work

    const g = await call("GET", `/v1/deployments/${d.body.id}`, { token: ADMIN });
    expect(g.body.agents).toEqual([
      expect.objectContaining({ agent_id: A.agent_id, state: "active", measured_ms: 12.5, encoder_ms: 2.5, decoder_ms: 10 }),
      expect.objectContaining({ agent_id: B.agent_id, state: "failed", error: "out of memory" }),
    ]);
    expect(g.body.counts).toEqual({ pending: 0, active: 1, failed: 1, superseded: 0 });
    const agents = await call("GET", "/v1/agents?device_class=dep-class", { token: ADMIN });
    expect(agents.body.agents[0].deployment).toEqual({ id: d.body.id, model_sha256: sha, measured_ms: 12.5 });
    const list = await call("GET", "/v1/deployments", { token: ADMIN });
    expect(list.body.deployments.map((x: { id: string }) => x.id)).toContain(d.body.id);
  });

  it("keeps the protocol an agent reports it measured with; an older agent's report without one is accepted", async () => {
    const A = await enrol("dp1", "dep-proto"), B = await enrol("dp2", "dep-proto");
    const sha = s.ctx.artifacts.put(model, "model", "m.hatm").sha256;
    const d = await call("POST", "/v1/deployments", { token: ADMIN, body: { device_class: "dep-proto", model: { sha256: sha }, protocol: { runs: 5 } } });
    expect(d.body.protocol).toEqual({ ...DEPLOYMENT_PROTOCOL, runs: 5, vocab: 300 });
    expect((await call("POST", "/v1/deployments", { token: ADMIN, body: { device_class: "dep-proto", model: { sha256: sha }, protocol: { build: "hat.wasm" } } })).status).toBe(400);
    const measured = { ...d.body.protocol, build: "hat-relaxed.wasm" };
    expect(await fetchModel(A.token, sha)).toBe(200);
    expect(await fetchModel(B.token, sha)).toBe(200);
    expect((await call("POST", `/v1/agent/deployments/${d.body.id}`, { token: A.token, body: { state: "active", measured_ms: 3, encoder_ms: 1, decoder_ms: 2, protocol: measured, speed: 1.08, ref_ms: 0.74 } })).status).toBe(200);
    expect((await call("POST", `/v1/agent/deployments/${d.body.id}`, { token: B.token, body: { state: "active", measured_ms: 4, encoder_ms: 1, decoder_ms: 3 } })).status).toBe(200);
    expect((await call("POST", `/v1/agent/deployments/${d.body.id}`, { token: B.token, body: { state: "active", measured_ms: 4, protocol: { runs: 5 } } })).status).toBe(400);
    const g = await call("GET", `/v1/deployments/${d.body.id}`, { token: ADMIN });
    expect(g.body.agents).toEqual([
      expect.objectContaining({ agent_id: A.agent_id, protocol: measured, speed: 1.08, ref_ms: 0.74 }),
      expect.objectContaining({ agent_id: B.agent_id, protocol: null, speed: null, ref_ms: null }), // an agent that does not say
    ]);
    expect((await call("POST", `/v1/agent/deployments/${d.body.id}`, { token: B.token, body: { state: "active", measured_ms: 4, speed: -1 } })).status).toBe(400);
  });

  it("says whether each agent's measurement meets the deployment's constraint, and whether all do", async () => {
    const A = await enrol("dc1", "dep-limit"), B = await enrol("dc2", "dep-limit");
    const sha = s.ctx.artifacts.put(model, "model", "m.hatm").sha256;
    const none = await call("POST", "/v1/deployments", { token: ADMIN, body: { device_class: "dep-limit", model: { sha256: sha } } });
    expect(none.body).toMatchObject({ constraint_ms: null, meets_constraint: null });
    const d = await call("POST", "/v1/deployments", { token: ADMIN, body: { device_class: "dep-limit", model: { sha256: sha }, constraint_ms: 3.5 } });
    expect(d.body).toMatchObject({ constraint_ms: 3.5, meets_constraint: null }); // nobody measured yet
    for (const t of [A.token, B.token]) expect(await fetchModel(t, sha)).toBe(200);
    await call("POST", `/v1/agent/deployments/${d.body.id}`, { token: A.token, body: { state: "active", measured_ms: 3, encoder_ms: 1, decoder_ms: 2 } });
    let g = await call("GET", `/v1/deployments/${d.body.id}`, { token: ADMIN });
    expect(g.body.meets_constraint).toBe(true);
    await call("POST", `/v1/agent/deployments/${d.body.id}`, { token: B.token, body: { state: "active", measured_ms: 4, encoder_ms: 1, decoder_ms: 3 } });
    g = await call("GET", `/v1/deployments/${d.body.id}`, { token: ADMIN });
    expect(g.body.agents.map((a: { meets_constraint: boolean | null }) => a.meets_constraint)).toEqual([true, false]);
    expect(g.body.meets_constraint).toBe(false); // one agent of the class misses it
    // measured in a slow minute (the reference ran 1.25x its usual time): judged at the agent's usual speed
    await call("POST", `/v1/agent/deployments/${d.body.id}`, { token: B.token, body: { state: "active", measured_ms: 4, encoder_ms: 1, decoder_ms: 3, speed: 1.25, ref_ms: 1 } });
    g = await call("GET", `/v1/deployments/${d.body.id}`, { token: ADMIN });
    expect(g.body.agents[1]).toMatchObject({ measured_ms: 4, speed: 1.25, usual_ms: 3.2, meets_constraint: true });
    expect(g.body.agents[0]).toMatchObject({ measured_ms: 3, speed: null, usual_ms: 3 });
    expect(g.body.meets_constraint).toBe(true);
    // a factor below 1 (its baseline taken in slower minutes) never scales a latency up
    await call("POST", `/v1/agent/deployments/${d.body.id}`, { token: A.token, body: { state: "active", measured_ms: 3, encoder_ms: 1, decoder_ms: 2, speed: 0.7, ref_ms: 1 } });
    g = await call("GET", `/v1/deployments/${d.body.id}`, { token: ADMIN });
    expect(g.body.agents[0]).toMatchObject({ measured_ms: 3, speed: 0.7, usual_ms: 3, meets_constraint: true });
    expect((await call("POST", "/v1/deployments", { token: ADMIN, body: { device_class: "dep-limit", model: { sha256: sha }, constraint_ms: -1 } })).status).toBe(400);
  });

  it("an agent reports active only for a model it downloaded (else 409, recorded failed), with a latency in a sane range", async () => {
    const A = await enrol("f1", "dep-fetch");
    const sha = s.ctx.artifacts.put(model, "model", "m.hatm").sha256;
    const d = await call("POST", "/v1/deployments", { token: ADMIN, body: { device_class: "dep-fetch", model: { sha256: sha } } });
    const path = `/v1/agent/deployments/${d.body.id}`;
    const never = await call("POST", path, { token: A.token, body: { state: "active", measured_ms: 3, encoder_ms: 1, decoder_ms: 2 } });
    expect(never.status).toBe(409);
    expect(never.body.error).toMatchObject({ code: "model_not_fetched" });
    expect(never.body.error.message).toMatch(/never downloaded the model/);
    expect((await call("GET", `/v1/deployments/${d.body.id}`, { token: ADMIN })).body.agents[0]).toMatchObject({ state: "failed", error: expect.stringMatching(/never downloaded/) });
    expect((await call("GET", "/v1/agent/work?wait_s=0", { token: A.token })).status).toBe(204); // not handed out again and again
    expect((await call("POST", path, { token: A.token, body: { state: "failed", error: "no memory" } })).status).toBe(200); // failing needs no model
    expect(await fetchModel(A.token, sha)).toBe(200);
    for (const [field, v] of [["measured_ms", 1e300], ["measured_ms", 1e-6], ["encoder_ms", 1e-6], ["decoder_ms", 1e300]] as const) {
      const r = await call("POST", path, { token: A.token, body: { state: "active", measured_ms: 3, encoder_ms: 1, decoder_ms: 2, [field]: v } });
      expect(r.status, `${field} ${v}`).toBe(400);
      expect(r.body.error.message).toMatch(new RegExp(`${field}: must be at (least|most)`));
    }
    expect((await call("POST", path, { token: A.token, body: { state: "active", measured_ms: 3, encoder_ms: 1, decoder_ms: 2 } })).status).toBe(200);
    const g = await call("GET", `/v1/deployments/${d.body.id}`, { token: ADMIN });
    expect(g.body.agents[0]).toMatchObject({ state: "active", measured_ms: 3 });
    // the same model deployed again: the agent keeps it (no second download) and may report it active
    const again = await call("POST", "/v1/deployments", { token: ADMIN, body: { device_class: "dep-fetch", model: { sha256: sha }, constraint_ms: 10 } });
    s.ctx.db.prepare(`DELETE FROM agent_downloads WHERE agent_id = ?`).run(A.agent_id); // as on a data directory from before downloads were recorded
    expect((await call("POST", `/v1/agent/deployments/${again.body.id}`, { token: A.token, body: { state: "active", measured_ms: 3 } })).status).toBe(200);
  });

  it("an agent downloads only models deployed to its class; the admin any artifact", async () => {
    const A = await enrol("g1", "dep-guard"), O = await enrol("g2", "dep-guard-other");
    const sha = s.ctx.artifacts.put(model, "model", "m.hatm").sha256;
    const text = s.ctx.artifacts.put(new TextEncoder().encode("secret corpus line\n"), "text", "c.txt").sha256;
    expect(await fetchModel(A.token, text)).toBe(403);
    const before = await s.app.request(`/v1/artifacts/${sha}`, { headers: { authorization: `Bearer ${A.token}` } });
    expect(before.status).toBe(403); // not deployed to its class (yet)
    expect((await before.json()).error.message).toMatch(/only the models deployed to their class \(dep-guard\)/);
    await call("POST", "/v1/deployments", { token: ADMIN, body: { device_class: "dep-guard", model: { sha256: sha } } });
    expect(await fetchModel(A.token, sha)).toBe(200);
    expect(await fetchModel(O.token, sha)).toBe(403); // deployed to another class
    expect(await fetchModel(A.token, text)).toBe(403);
    expect(await fetchModel(ADMIN, text)).toBe(200);
  });

  it("deploying to a class with no agent says so in the 201 (a warning); with agents, no warning", async () => {
    const sha = s.ctx.artifacts.put(model, "model", "m.hatm").sha256;
    const lonely = await call("POST", "/v1/deployments", { token: ADMIN, body: { device_class: "nobody-here", model: { sha256: sha } } });
    expect(lonely.status).toBe(201);
    expect(lonely.body.warning).toMatch(/no agent of class nobody-here is enrolled/);
    expect(lonely.body.agents).toEqual([]);
    await enrol("n1", "somebody-here");
    const ok = await call("POST", "/v1/deployments", { token: ADMIN, body: { device_class: "somebody-here", model: { sha256: sha } } });
    expect(ok.status).toBe(201);
    expect(ok.body.warning).toBeUndefined();
  });

  it("refuses what is not a model, unknown jobs and artifacts, reports for another class", async () => {
    const before = count(`SELECT COUNT(*) AS n FROM deployments`);
    const notModel = s.ctx.artifacts.put(new TextEncoder().encode("hello"), "text", "x.txt").sha256;
    const noTokenizer = s.ctx.artifacts.put(encodeModel({ kind: "subtransformer", arch, positionDims: { encoder: 64, decoder: 64 }, vocab: { size: 300, pad: 0, bos: 1, eos: 2, unk: 3 } },
      new Map([["x", { shape: [2], data: new Float32Array([1, 2]) }]])), "model", "n.hatm").sha256;
    const bad = [
      { device_class: "dep-class", model: { sha256: noTokenizer } },
      { device_class: "dep-class", model: { sha256: notModel } },
      { device_class: "dep-class", model: { sha256: "0".repeat(64) } },
      { device_class: "dep-class", model: { sha256: "00" } },
      { device_class: "dep-class", model: { job: "job_nope" } },
      { device_class: "dep-class", model: {} },
      { device_class: "dep-class", model: { job: "j", sha256: notModel } },
      { device_class: "NOT OK", model: { sha256: notModel } },
      { device_class: "dep-class", model: { sha256: notModel }, extra: 1 },
    ];
    for (const body of bad) {
      const r = await call("POST", "/v1/deployments", { token: ADMIN, body });
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error.message).toMatch(/model|device_class|extra/);
    }
    expect((await call("POST", "/v1/deployments", { token: ADMIN, body: bad[1] })).body.error.message).toMatch(/not a hat-edge model/);
    expect((await call("POST", "/v1/deployments", { token: ADMIN, body: bad[0] })).body.error.message).toMatch(/tokenizer/);
    expect(count(`SELECT COUNT(*) AS n FROM deployments`)).toBe(before);
    const other = await enrol("o", "other-class");
    const dep = (s.ctx.db.prepare(`SELECT id FROM deployments LIMIT 1`).get() as { id: string }).id;
    expect((await call("POST", `/v1/agent/deployments/${dep}`, { token: other.token, body: { state: "active", measured_ms: 1 } })).status).toBe(403);
    expect((await call("POST", `/v1/agent/deployments/dp_nope`, { token: other.token, body: { state: "active" } })).status).toBe(404);
    expect((await call("GET", `/v1/deployments/dp_nope`, { token: ADMIN })).status).toBe(404);
  });
});

describe("malformed requests", () => {
  it("are 4xx with the field named, never 5xx", async () => {
    const A = await enrol("m", "mal-class");
    const cases: [string, string, { token?: string; body?: unknown; raw?: string }, number, RegExp?][] = [
      ["POST", "/v1/agent/enrol", { raw: "{not json" }, 400, /JSON/],
      ["POST", "/v1/agent/enrol", { body: { enrolment_token: 5, name: "x", hardware: HW } }, 400, /enrolment_token/],
      ["POST", "/v1/agent/enrol", { body: { enrolment_token: "t", name: "x", hardware: { ...HW, cores: "two" } } }, 400, /hardware\.cores/],
      ["POST", "/v1/enrolment-tokens", { token: ADMIN, body: { ttl_s: -5 } }, 400, /ttl_s/],
      ["POST", "/v1/enrolment-tokens", { token: ADMIN, body: { device_class: "Bad Class" } }, 400, /device_class/],
      ["GET", "/v1/agent/work?wait_s=abc", { token: A.token }, 400, /wait_s/],
      ["POST", "/v1/agent/leases/ls_nope/rows", { token: A.token, body: { idempotency_key: "short", rows: [] } }, 400, /idempotency_key|rows/],
      ["POST", "/v1/agent/leases/ls_nope/rows", { token: A.token, body: { idempotency_key: "long-enough", rows: [{ ...row(0), encoder_ms: -1 }] } }, 400, /rows\[0\]\.encoder_ms/],
      ["POST", "/v1/agent/leases/ls_nope/rows", { token: A.token, raw: "[]" }, 400],
      ["POST", "/v1/agent/leases/ls_nope/rows", { token: A.token, body: { idempotency_key: "long-enough", rows: [{ ...row(0), encoder_ms: 1e300 }] } }, 400, /rows\[0\]\.encoder_ms: must be at most/],
      ["POST", "/v1/agent/leases/ls_nope/rows", { token: A.token, body: { idempotency_key: "long-enough", rows: [{ ...row(0), decoder_ms: 1e-6 }] } }, 400, /rows\[0\]\.decoder_ms: must be at least/],
      ["POST", "/v1/agent/leases/ls_nope/rows", { token: A.token, body: { idempotency_key: "long-enough", rows: [{ ...row(0), encoder_std_ms: 1e300 }] } }, 400, /encoder_std_ms/],
      ["POST", "/v1/agent/leases/ls_nope/heartbeat", { token: A.token, body: {} }, 404],
      ["POST", "/v1/agent/deployments/dp_nope", { token: A.token, body: { state: "sideways" } }, 400, /state/],
      ["POST", "/v1/agents/ag_nope/revoke", { token: ADMIN }, 404],
      ["GET", "/v1/agents/ag_nope", { token: ADMIN }, 404],
    ];
    for (const [method, path, o, status, msg] of cases) {
      const r = await call(method, path, o);
      expect(r.status, `${method} ${path} ${JSON.stringify(o)}: ${JSON.stringify(r.body)}`).toBe(status);
      if (msg) expect(r.body.error.message).toMatch(msg);
    }
  });

  it("describes its routes in the OpenAPI document", async () => {
    const doc = await call("GET", "/openapi.json");
    for (const p of ["/v1/agent/enrol", "/v1/agent/work", "/v1/agent/leases/{id}/rows", "/v1/deployments/{id}", "/v1/enrolment-tokens", "/v1/agents/{id}/revoke"]) {
      expect(doc.body.paths[p], p).toBeDefined();
    }
  });
});
