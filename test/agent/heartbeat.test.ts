/**
 * Leases survive an architecture that takes several lease lengths to measure (issue 12: with a
 * 4 s lease and 150 runs, 3 of 3 leases expired: heartbeats went only between architectures while
 * profileArch blocked the event loop). Against the stand-in server: no gap between contacts as
 * long as the lease; against the real server (1 s lease at its floor): no lease expires. Rows
 * carry the machine's speed (runtime/steady.ts).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Agent } from "../../agent/agent.js";
import { largestArch } from "../../runtime/arch-sample.js";
import type { ProfileWork } from "../../runtime/fleet-protocol.js";
import { profileArch } from "../../runtime/profile.js";
import { protocolOf } from "../../runtime/protocol.js";
import { DEMO_SPACE } from "../../runtime/spaces.js";
import { loadWasm } from "../../runtime/wasm-node.js";
import { hashToken } from "../../server/auth.js";
import { listen } from "../../server/app.js";
import { fakeServer, until } from "./fake-server.js";

const dirs: string[] = [];
const tmp = () => { const d = mkdtempSync(join(tmpdir(), "hat-beat-")); dirs.push(d); return d; };
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const arch = largestArch(DEMO_SPACE);
/** A protocol whose one measurement of `arch` takes about `ms` here (calibrated on this machine now). */
function protocolTaking(ms: number) {
  const p = protocolOf({ runs: 20, warmup: 1, vocab: 256, src_len: 16, tgt_len: 16, beam: 4 });
  const perRun = profileArch(arch, p, { wasm: loadWasm() }).total_ms;
  return protocolOf({ ...p, runs: Math.min(10000, Math.ceil(ms / perRun)) });
}

describe("heartbeats while one architecture is measured", () => {
  it("the stand-in server: a lease of 1 s, one measurement of ~3.5 s, no 1 s without a contact", async () => {
    const s = await fakeServer();
    const logs: string[] = [];
    s.enrolTokens.add("tok");
    const a = new Agent({ server: s.url, enrolmentToken: "tok", stateDir: tmp(), host: "127.0.0.1", port: 0, waitS: 1, log: (l) => logs.push(l), backoff: { baseMs: 20, capMs: 150 } });
    try {
      await a.start();
      const done = a.run();
      const protocol = protocolTaking(3500);
      const work: ProfileWork = { kind: "profile", lease_id: "LB", campaign_id: "C", protocol, archs: [{ index: 0, arch }], lease_s: 1 };
      const t0 = Date.now();
      s.push(work);
      await until(() => s.rows.size === 1, 60_000, "the row");
      const t1 = Date.now();
      expect(t1 - t0).toBeGreaterThan(3000); // the warm-up (2 s) and the measurement: several lease lengths
      const at = [t0, ...s.contacts.filter((c) => c.lease === "LB").map((c) => c.at)];
      const gaps = at.slice(1).map((x, i) => x - at[i]);
      expect(Math.max(...gaps), `gaps between contacts: ${gaps.join(", ")} ms`).toBeLessThan(1000);
      expect(s.heartbeats.filter((h) => h === "LB").length).toBeGreaterThanOrEqual(3);
      const row = s.rows.get(0)!;
      expect(row.runs).toBe(protocol.runs);
      expect(row.speed).toBeGreaterThan(0);
      expect(row.ref_ms).toBeGreaterThan(0);
      a.stop();
      await done;
    } finally {
      await a.close();
      await s.close();
    }
  }, 60_000);

  it("the real server: a campaign of 1 s leases (their floor) whose architectures take seconds each completes with no lease expired", async () => {
    const dir = tmp();
    const ADMIN = "hat_admin_beat";
    // a device assumed very fast: the server's lease sizing leaves the 1 s floor alone, so only the heartbeats keep leases alive
    const srv = await listen({ dataDir: join(dir, "server"), adminTokenHash: hashToken(ADMIN), port: 0, leaseSeconds: 1, leaseAssumedGflops: 1e6, maxWaitSeconds: 1, leaseBatch: 2, log: () => {} });
    const logs: string[] = [];
    const api = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
      const r = await fetch(srv.url + path, { method, headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
      const j = await r.json();
      if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(j)}`);
      return j as T;
    };
    let agent: Agent | undefined;
    try {
      const { token } = await api<{ token: string }>("POST", "/v1/enrolment-tokens", { device_class: "beat" });
      agent = new Agent({ server: srv.url, enrolmentToken: token, name: "b", stateDir: join(dir, "agent"), port: 0, waitS: 1, log: (l) => logs.push(l), backoff: { baseMs: 20, capMs: 200 } });
      await agent.start();
      const done = agent.run();
      const p = protocolTaking(2500); // the largest demo architecture; the campaign's 2: its smallest and largest
      const { vocab, src_len, tgt_len, beam, runs, warmup } = p;
      const job = await api<{ id: string }>("POST", "/v1/jobs/campaign", { device_class: "beat", space: "demo", samples: 2, protocol: { vocab, src_len, tgt_len, beam, runs, warmup }, seed: 1 });
      type Job = { state: string; result: { rows: number; expired_leases: number; leases: number } | null; error: string | null };
      let j: Job;
      for (const t0 = Date.now(); ; await new Promise((r) => setTimeout(r, 200))) {
        j = await api<Job>("GET", `/v1/jobs/${job.id}`);
        if (["done", "failed", "cancelled"].includes(j.state)) break;
        if (Date.now() - t0 > 60_000) throw new Error(`campaign not done; agent log:\n${logs.slice(-10).join("\n")}`);
      }
      expect(j.state, j.error ?? "").toBe("done");
      expect(j.result).toMatchObject({ rows: 2, leases: 1, expired_leases: 0 });
      const leases = srv.ctx.db.prepare(`SELECT state, lease_ms FROM leases`).all();
      expect(leases).toEqual([{ state: "done", lease_ms: 1000 }]);
      const rows = srv.ctx.db.prepare(`SELECT speed, ref_ms FROM latency_rows ORDER BY idx`).all() as { speed: number; ref_ms: number }[];
      expect(rows).toHaveLength(2);
      for (const r of rows) { expect(r.speed).toBeGreaterThan(0); expect(r.ref_ms).toBeGreaterThan(0); }
      agent.stop();
      await done;
    } finally {
      await agent?.close();
      await srv.close();
    }
  }, 90_000);
});
