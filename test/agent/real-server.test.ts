/**
 * The agent against the real server (server/app.ts listen, in-process, on port 0): enrolment with
 * an admin-made token, a small campaign on the demo space measured and stored, a deployment of a
 * random-weights model with a tokenizer, translation, and revocation (401: the agent stops).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Agent } from "../../agent/agent.js";
import { UnauthorizedError } from "../../agent/client.js";
import { Bpe } from "../../data/bpe.js";
import { DEMO_SPACE } from "../../runtime/spaces.js";
import { hashToken } from "../../server/auth.js";
import { listen } from "../../server/app.js";
import { supernetWithTokenizer } from "../model-files.js";

async function poll<T>(f: () => Promise<T | undefined>, ms: number, what: string): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}; agent log:\n${logs.slice(-10).join("\n")}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const dir = mkdtempSync(join(tmpdir(), "hat-agent-real-"));
const ADMIN = "hat_admin_agent-test";
const logs: string[] = [];

describe("agent + the real server", () => {
  let srv: Awaited<ReturnType<typeof listen>>;
  let agent: Agent;
  let done: Promise<void>;
  afterAll(async () => {
    agent?.stop();
    await done?.catch(() => {});
    await srv?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const api = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const r = await fetch(srv.url + path, { method, headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
    const j = await r.json();
    if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(j)}`);
    return j as T;
  };

  it("enrols, measures a campaign, deploys a model, translates, and stops on revocation", async () => {
    srv = await listen({ dataDir: join(dir, "server"), adminTokenHash: hashToken(ADMIN), port: 0, leaseSeconds: 10, maxWaitSeconds: 2, log: () => {} });
    const { token } = await api<{ token: string }>("POST", "/v1/enrolment-tokens", { device_class: "test-box" });
    agent = new Agent({ server: srv.url, enrolmentToken: token, name: "t", stateDir: join(dir, "agent"), port: 0, waitS: 1, log: (l) => logs.push(l), backoff: { baseMs: 20, capMs: 200 } });
    const info = await agent.start();
    expect(info.device_class).toBe("test-box");
    done = agent.run();

    const protocol = { runs: 2, warmup: 1, vocab: 64, src_len: 4, tgt_len: 3, beam: 2 };
    const job = await api<{ id: string }>("POST", "/v1/jobs/campaign", { device_class: "test-box", space: "demo", samples: 6, protocol, seed: 1 });
    type Job = { state: string; result: { rows: number; agents: Record<string, number> } | null; error: string | null; artifacts: Record<string, string> };
    const j = await poll(async () => { const x = await api<Job>("GET", `/v1/jobs/${job.id}`); return ["done", "failed", "cancelled"].includes(x.state) ? x : undefined; }, 60_000, "the campaign");
    expect(j.state, j.error ?? "").toBe("done");
    expect(j.result!.rows).toBe(6);
    expect(j.result!.agents[info.agent_id]).toBe(6);

    const bpe = Bpe.train(["the cat sat on the mat", "a dog runs in the park", "hello world"], { vocabSize: 60, byteFallback: false, minFrequency: 1 });
    const bytes = supernetWithTokenizer(DEMO_SPACE, bpe, 7);
    const art = srv.ctx.artifacts.put(bytes, "model", "test.hatm");
    const dep = await api<{ id: string }>("POST", "/v1/deployments", { device_class: "test-box", model: { sha256: art.sha256 }, protocol });
    type Dep = { agents: { agent_id: string; state: string; measured_ms?: number; speed?: number; error?: string }[] };
    const states = await poll(async () => { const x = await api<Dep>("GET", `/v1/deployments/${dep.id}`); return x.agents.length && x.agents.every((a) => a.state !== "pending") ? x.agents : undefined; }, 60_000, "the deployment");
    expect(states[0].state, states[0].error).toBe("active");
    expect(states[0].measured_ms).toBeGreaterThan(0);
    expect(states[0].speed).toBeGreaterThan(0); // measured steadily (runtime/steady.ts)
    const t = await fetch(`${info.translate_url}/translate`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ lines: ["hello world", "the cat"] }) });
    expect(t.status).toBe(200);
    expect(await t.json()).toMatchObject({ deployment_id: dep.id, model_sha256: art.sha256 });

    await api("POST", `/v1/agents/${info.agent_id}/revoke`, {});
    await expect(done).rejects.toBeInstanceOf(UnauthorizedError);
  });
});
