/**
 * The dashboard (server/ui) in-process: GET / serves one self-contained page without a token and
 * with none in it, under a policy that runs only its own script; a search report artifact is
 * text/html, sandboxed; GET /v1/campaigns/{id}/rows shows a running campaign's rows; a campaign's
 * progress events carry their numbers. test/browser/dashboard.test.ts drives the page in Chromium.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Hardware, ProfileWork } from "../../runtime/fleet-protocol.js";
import { createServer, type HatServer } from "../../server/app.js";
import { hashToken, newToken } from "../../server/auth.js";
import { DASHBOARD_SCRIPT } from "../../server/ui/script.js";

const ADMIN = newToken("admin");
const HW: Hardware = {
  cpu: "Test CPU", cores: 2, arch: "x64", platform: "linux", memory_bytes: 1 << 30,
  wasm_simd: true, wasm_relaxed_simd: false, node: "20.20.0", agent_version: "0.1.0",
};
let dir = "";
let s: HatServer;
const logs: string[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "hat-dash-"));
  s = createServer({ dataDir: dir, adminTokenHash: hashToken(ADMIN), maxWaitSeconds: 1, log: (l) => logs.push(l) });
});

afterAll(async () => {
  await s.close();
  rmSync(dir, { recursive: true, force: true });
});

async function call(method: string, path: string, o: { token?: string; body?: unknown } = {}): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = {};
  if (o.token) headers.authorization = `Bearer ${o.token}`;
  if (o.body !== undefined) headers["content-type"] = "application/json";
  const res = await s.app.request(path, { method, headers, body: o.body === undefined ? undefined : JSON.stringify(o.body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

describe("GET /", () => {
  it("serves the page without a token; no token in it; nothing fetched from elsewhere", async () => {
    const res = await s.app.request("/");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    const html = await res.text();
    expect(html.startsWith("<!doctype html>")).toBe(true);
    expect(html).toContain('<input id="token" name="token" type="password"');
    expect(html).not.toContain(ADMIN);
    expect(html).not.toMatch(/hat_(admin|agent|enrol)_/);
    expect(html).not.toMatch(/Bearer [A-Za-z0-9]/); // only the "Bearer " + token concatenation
    // one inline script and one inline style; no file, font, image or CDN fetched
    expect(html.match(/<script/g)).toHaveLength(1);
    expect(html).not.toMatch(/<script[^>]*\bsrc=|<link|<img|@import|\burl\(/i);
    expect(html.replaceAll("http://www.w3.org/2000/svg", "")).not.toMatch(/https?:\/\//);
    // the token travels only in the header: no URL the script builds carries it
    expect(DASHBOARD_SCRIPT).not.toMatch(/[?&]token=|location\.(search|hash)\s*=\s*[^;]*token/i);
    expect(DASHBOARD_SCRIPT).toContain("sessionStorage.setItem(KEY, t)");
  });

  it("runs only its own script: the policy names the inline script's sha256, and the script parses", async () => {
    const res = await s.app.request("/");
    const csp = res.headers.get("content-security-policy") ?? "";
    const html = await res.text();
    const inline = /<script>([\s\S]*)<\/script>/.exec(html)![1];
    expect(inline).toBe(DASHBOARD_SCRIPT);
    expect(csp).toContain(`script-src 'sha256-${createHash("sha256").update(inline).digest("base64")}'`);
    expect(csp).toMatch(/default-src 'none'/);
    expect(csp).toMatch(/connect-src 'self'/);
    expect(csp).toMatch(/frame-ancestors 'none'/);
    expect(res.headers.get("referrer-policy")).toBe("no-referrer");
    expect(DASHBOARD_SCRIPT).not.toContain("</"); // would end the script element early
    expect(() => new Function(DASHBOARD_SCRIPT)).not.toThrow(); // a syntax error would leave a blank page
  });

  it("the API stays behind the token; /favicon.ico is an empty 204", async () => {
    expect((await call("GET", "/v1/jobs")).status).toBe(401);
    expect((await call("GET", "/v1/agents")).status).toBe(401);
    expect((await s.app.request("/favicon.ico")).status).toBe(204);
    expect((await s.app.request("/nope")).status).toBe(404);
  });
});

describe("artifacts as the dashboard shows them", () => {
  it("a report is text/html under a sandboxing policy (no script); anything else stays a download", async () => {
    const report = s.ctx.artifacts.put(Buffer.from("<!doctype html><title>r</title><p>report</p>"), "report", "report.html");
    const r = await s.app.request(`/v1/artifacts/${report.sha256}`, { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(r.headers.get("content-security-policy")).toMatch(/^sandbox; default-src 'none'/);
    expect(r.headers.get("content-disposition")).toBe('inline; filename="report.html"');
    expect(r.headers.get("x-content-type-options")).toBe("nosniff");
    expect(await r.text()).toContain("<p>report</p>");
    const model = s.ctx.artifacts.put(Buffer.from("bytes"), "model", "m.hatm");
    const m = await s.app.request(`/v1/artifacts/${model.sha256}`, { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(m.headers.get("content-type")).toBe("application/octet-stream");
    expect(m.headers.get("content-disposition")).toBe('attachment; filename="m.hatm"');
    expect((await s.app.request(`/v1/artifacts/${report.sha256}`)).status).toBe(401); // still behind the token
  });
});

describe("a campaign as the dashboard follows it", () => {
  it("GET /v1/campaigns/{id}/rows: the rows so far; progress events carry {done, total, agents}", async () => {
    const t = await call("POST", "/v1/enrolment-tokens", { token: ADMIN, body: { device_class: "dash" } });
    const a = await call("POST", "/v1/agent/enrol", { body: { enrolment_token: t.body.token, name: "pi-1", hardware: HW } });
    expect(a.status).toBe(200);
    const job = await call("POST", "/v1/jobs/campaign", { token: ADMIN, body: { device_class: "dash", space: "demo", samples: 3, protocol: { runs: 8, warmup: 1 } } });
    expect(job.status).toBe(201);
    const id = job.body.id as string;

    expect((await call("GET", `/v1/campaigns/${id}/rows`)).status).toBe(401);
    expect((await call("GET", `/v1/campaigns/${id}/rows`, { token: a.body.token })).status).toBe(403);
    expect((await call("GET", "/v1/campaigns/job_nope/rows", { token: ADMIN })).status).toBe(404);
    const empty = await call("GET", `/v1/campaigns/${id}/rows`, { token: ADMIN });
    expect(empty.body).toEqual({ campaign: id, device_class: "dash", size: 3, rows: [] });

    const w = await call("GET", "/v1/agent/work?wait_s=1", { token: a.body.token });
    expect(w.status).toBe(200);
    const work = w.body as ProfileWork;
    const rows = work.archs.slice(0, 2).map((x) => ({ index: x.index, encoder_ms: 1 + x.index, decoder_ms: 2, encoder_std_ms: 0.01, decoder_std_ms: 0.02, runs: 8, build: "hat.wasm", speed: 1.1 }));
    expect((await call("POST", `/v1/agent/leases/${work.lease_id}/rows`, { token: a.body.token, body: { idempotency_key: "dash-rows-1", rows } })).status).toBe(200);
    const some = await call("GET", `/v1/campaigns/${id}/rows`, { token: ADMIN });
    expect(some.body.rows).toHaveLength(2);
    expect(some.body.rows[0]).toMatchObject({ idx: rows[0].index, agent_id: a.body.agent_id, encoder_ms: rows[0].encoder_ms, decoder_ms: 2, total_ms: rows[0].encoder_ms + 2, speed: 1.1 });

    // the campaign's progress is numbers, not only its message
    const until = Date.now() + 10_000;
    let data: Record<string, unknown> | undefined;
    while (Date.now() < until) {
      data = s.runner.events(id).filter((e) => e.type === "progress").map((e) => e.data.data as Record<string, unknown> | undefined).find((d) => d?.done === 2);
      if (data) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(data).toEqual({ done: 2, total: 3, agents: 1 });
    await call("POST", `/v1/jobs/${id}/cancel`, { token: ADMIN });
    expect(logs.join("\n")).not.toContain(ADMIN); // the server never logs the token
  });
});
