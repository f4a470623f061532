/**
 * What the fleet load test (bench/fleet-load.ts, docs/scaling.md) found: per-request costs that
 * grew with the campaign. A lease hand-out must not sort the campaign's rows (the device's
 * measured speed) nor probe every pending architecture (the suspects), the campaign's watcher
 * must not recount its rows on every stored chunk, a stored chunk must not wake every long poll
 * (the herd at a campaign's end), and an agent's request must not pay a second commit (an fsync)
 * only to say it was seen.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Hardware, ProfileWork } from "../../runtime/fleet-protocol.js";
import { createServer, type HatServer } from "../../server/app.js";
import { hashToken } from "../../server/auth.js";
import { WATCH_MIN_MS } from "../../server/fleet/campaign.js";
import { SEEN_EVERY_MS } from "../../server/fleet/core.js";
import { POLL_MS, RECENT_ROWS_SQL, SUSPECT_SQL } from "../../server/fleet/work.js";

const ADMIN = "admin";
const HW: Hardware = {
  cpu: "Test CPU", cores: 2, arch: "x64", platform: "linux", memory_bytes: 1 << 30,
  wasm_simd: true, wasm_relaxed_simd: false, node: "20.20.0", agent_version: "0.1.0",
};

let dir = "";
let s: HatServer;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "hat-fleet-scale-"));
  s = createServer({ dataDir: dir, adminTokenHash: hashToken(ADMIN), maxWaitSeconds: 1, leaseBatch: 5, log: () => {} });
});

afterAll(async () => {
  await s.close();
  rmSync(dir, { recursive: true, force: true });
});

async function call<T = any>(method: string, path: string, o: { token?: string; body?: unknown } = {}): Promise<{ status: number; body: T }> {
  const headers: Record<string, string> = {};
  if (o.token) headers.authorization = `Bearer ${o.token}`;
  if (o.body !== undefined) headers["content-type"] = "application/json";
  const res = await s.app.request(path, { method, headers, body: o.body === undefined ? undefined : JSON.stringify(o.body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

const plan = (sql: string) => (s.ctx.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all("job") as { detail: string }[]).map((r) => r.detail);

describe("per-lease costs do not grow with the campaign", () => {
  it("the latest rows come from an index, not a sort of every row of the campaign", () => {
    const p = plan(RECENT_ROWS_SQL);
    expect(p.join("; ")).not.toMatch(/TEMP B-TREE/);
    expect(p[0]).toMatch(/latency_rows_time/);
  });

  it("suspects are found from the campaign's expired leases, not by probing every pending architecture", () => {
    const p = plan(SUSPECT_SQL);
    expect(p[0]).not.toMatch(/campaign_archs/); // the outer loop: the leases (few), not the pending architectures (many)
    expect(p[0]).toMatch(/SEARCH l USING INDEX leases_job_state/);
    expect(p.join("; ")).not.toMatch(/\bSCAN\b/);
  });
});

describe("the campaign's watcher", () => {
  it(`recounts at most every ${WATCH_MIN_MS} ms, however many chunks arrive`, async () => {
    const t = await call("POST", "/v1/enrolment-tokens", { token: ADMIN, body: { device_class: "scale" } });
    const a = await call("POST", "/v1/agent/enrol", { body: { enrolment_token: t.body.token, name: "a", hardware: HW } });
    const token = a.body.token as string;
    const job = await call("POST", "/v1/jobs/campaign", { token: ADMIN, body: { device_class: "scale", space: "wmt14", samples: 100 } });
    expect(job.status).toBe(201);

    const db = s.ctx.db, prepare = db.prepare.bind(db);
    let recounts = 0;
    db.prepare = ((sql: string) => {
      if (sql.includes("COUNT(DISTINCT agent_id)")) recounts++;
      return prepare(sql);
    }) as typeof db.prepare;
    const t0 = Date.now();
    let sent = 0;
    try {
      for (;;) {
        const w = await call<ProfileWork>("GET", "/v1/agent/work?wait_s=1", { token });
        if (w.status !== 200) break;
        for (const { index } of w.body.archs) {
          const r = await call("POST", `/v1/agent/leases/${w.body.lease_id}/rows`, {
            token, body: { idempotency_key: `chunk-${index}-xxxx`, rows: [{ index, encoder_ms: 1, decoder_ms: 2, encoder_std_ms: 0, decoder_std_ms: 0, runs: 1, build: "t" }] },
          });
          expect(r.body.stored).toBe(1);
          sent++;
        }
      }
      const ms = Date.now() - t0;
      for (let i = 0; i < 100 && s.runner.get(job.body.id)?.state === "running"; i++) await new Promise((r) => setTimeout(r, 50));
      expect(s.runner.get(job.body.id)?.state).toBe("done");
      expect(sent).toBe(100);
      // before: one recount per stored chunk (100); now one per WATCH_MIN_MS at most
      expect(recounts).toBeLessThanOrEqual(Math.ceil(ms / WATCH_MIN_MS) + 4);
      expect(recounts).toBeLessThan(50);
    } finally {
      db.prepare = prepare;
    }
  });
});

describe("an agent seen", () => {
  it("is written at most every seenEveryMs (not one more commit per request), and still written when stale", async () => {
    const t = await call("POST", "/v1/enrolment-tokens", { token: ADMIN, body: { device_class: "seen" } });
    const a = await call("POST", "/v1/agent/enrol", { body: { enrolment_token: t.body.token, name: "s", hardware: HW } });
    const id = a.body.agent_id as string, token = a.body.token as string;
    const every = s.fleet.core.seenEveryMs;
    expect(every).toBeGreaterThan(0);
    expect(every).toBeLessThanOrEqual(SEEN_EVERY_MS);
    const seen = () => (s.ctx.db.prepare(`SELECT last_seen_at AS t FROM agents WHERE id = ?`).get(id) as { t: number }).t;
    const set = (v: number) => s.ctx.db.prepare(`UPDATE agents SET last_seen_at = ? WHERE id = ?`).run(v, id);
    const changes = () => (s.ctx.db.prepare(`SELECT total_changes() AS n`).get() as { n: number }).n;

    const recent = Date.now() - Math.floor(every / 2);
    set(recent);
    const before = changes();
    expect((await call("GET", "/v1/agent/work?wait_s=0", { token })).status).toBe(204);
    expect((await call("GET", "/v1/agent/work?wait_s=0", { token })).status).toBe(204);
    expect(seen()).toBe(recent); // seen recently: not written again
    expect(changes()).toBe(before); // the two polls wrote nothing at all

    const stale = Date.now() - every - 1000;
    set(stale);
    expect((await call("GET", "/v1/agent/work?wait_s=0", { token })).status).toBe(204);
    expect(seen()).toBeGreaterThan(stale);
    expect(Date.now() - seen()).toBeLessThan(5000);
    const listed = await call("GET", `/v1/agents/${id}`, { token: ADMIN });
    expect(listed.body.online).toBe(true);
  });
});

describe("long polls and stored rows", () => {
  it("a stored chunk does not wake the agents that long-poll (they look again every POLL_MS, or on new work)", async () => {
    const enrol = async (cls: string, name: string) => {
      const t = await call("POST", "/v1/enrolment-tokens", { token: ADMIN, body: { device_class: cls } });
      return (await call("POST", "/v1/agent/enrol", { body: { enrolment_token: t.body.token, name, hardware: HW } })).body.token as string;
    };
    const idle = await Promise.all(Array.from({ length: 20 }, (_, i) => enrol("herd-idle", `idle-${i}`)));
    const busy = await enrol("herd-busy", "busy");
    const job = await call("POST", "/v1/jobs/campaign", { token: ADMIN, body: { device_class: "herd-busy", space: "wmt14", samples: 60 } });
    expect(job.status).toBe(201);
    for (let i = 0; i < 100 && !s.ctx.db.prepare(`SELECT 1 FROM campaigns WHERE job_id = ?`).get(job.body.id); i++) await new Promise((r) => setTimeout(r, 20));

    const db = s.ctx.db, prepare = db.prepare.bind(db);
    let looks = 0; // a long poll (or the busy agent) looking for a lease
    db.prepare = ((sql: string) => {
      if (sql.includes("FROM campaigns c WHERE c.device_class = ?")) looks++;
      return prepare(sql);
    }) as typeof db.prepare;
    let stop = false;
    const polls = idle.map(async (token) => { while (!stop) await call("GET", "/v1/agent/work?wait_s=1", { token }); });
    try {
      await new Promise((r) => setTimeout(r, 50)); // the polls are waiting
      const t0 = Date.now();
      let chunks = 0, leases = 0;
      for (;;) {
        const w = await call<ProfileWork>("GET", "/v1/agent/work?wait_s=0", { token: busy });
        if (w.status !== 200) break;
        leases++;
        for (const { index } of w.body.archs) {
          await call("POST", `/v1/agent/leases/${w.body.lease_id}/rows`, {
            token: busy, body: { idempotency_key: `herd-${index}-xxxx`, rows: [{ index, encoder_ms: 1, decoder_ms: 2, encoder_std_ms: 0, decoder_std_ms: 0, runs: 1, build: "t" }] },
          });
          chunks++;
        }
      }
      const ms = Date.now() - t0;
      expect(chunks).toBe(60);
      // before: every chunk woke the 20 polls (>= 1200 looks); now each looks every POLL_MS (and once per new poll)
      const bound = 20 * (Math.ceil(ms / POLL_MS) + Math.ceil(ms / 1000) + 2) + leases + 2;
      expect(looks).toBeLessThanOrEqual(bound);
      expect(looks).toBeLessThan(20 * 60 / 2);
    } finally {
      stop = true;
      db.prepare = prepare;
      await Promise.all(polls);
    }
  });
});
