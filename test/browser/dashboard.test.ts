/**
 * The dashboard in headless Chromium against a real server on 127.0.0.1 (server/app.ts listen):
 * sign in with the admin token, see a job and an agent, follow a campaign live over SSE (its rows
 * and progress as they arrive), a search's candidates and its report in a sandboxed frame; the
 * token only ever travels as the Authorization header (never in a URL), stays in sessionStorage,
 * and never reaches the server's log. Skips with a message where there is no Chromium (Debian:
 * apt-get install chromium; .ci/run installs it when root). Driven over the DevTools pipe (./cdp.ts).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { smallestArch } from "../../runtime/arch-sample.js";
import type { DeployWork, Hardware, ProfileWork } from "../../runtime/fleet-protocol.js";
import { encodeModel } from "../../runtime/format.js";
import { DEMO_SPACE } from "../../runtime/spaces.js";
import { listen } from "../../server/app.js";
import { hashToken, newToken } from "../../server/auth.js";
import { Browser, findChromium, type Page } from "./cdp.js";

const chromium = findChromium();
if (!chromium) console.warn("dashboard browser test skipped: no `chromium` on this machine (Debian: apt-get install chromium; or set $CHROMIUM)");

const ADMIN = newToken("admin");
const HW: Hardware = {
  cpu: "Cortex-A72 (test)", cores: 4, arch: "arm64", platform: "linux", memory_bytes: 4 << 30,
  wasm_simd: true, wasm_relaxed_simd: false, node: "20.20.0", agent_version: "0.1.0",
};

describe.skipIf(!chromium)("the dashboard in Chromium", () => {
  let dir = "";
  let server: Awaited<ReturnType<typeof listen>>;
  let browser: Browser;
  let page: Page;
  const logs: string[] = [];
  let agent: { agent_id: string; token: string };
  let campaign = "";
  let work: ProfileWork;

  const api = async (method: string, path: string, body?: unknown, token = ADMIN): Promise<any> => {
    const res = await fetch(server.url + path, {
      method, headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : undefined;
  };
  const row = (index: number) => ({ index, encoder_ms: 2 + index, decoder_ms: 5 + index, encoder_std_ms: 0.01, decoder_std_ms: 0.02, runs: 8, build: "hat.wasm" });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "hat-dash-browser-"));
    server = await listen({ dataDir: dir, adminTokenHash: hashToken(ADMIN), host: "127.0.0.1", port: 0, maxWaitSeconds: 1, log: (l) => logs.push(l) });
    const enrol = await api("POST", "/v1/enrolment-tokens", { device_class: "pi4" });
    agent = await (await fetch(`${server.url}/v1/agent/enrol`, {
      method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ enrolment_token: enrol.token, name: "pi-kitchen", hardware: HW }),
    })).json() as { agent_id: string; token: string };
    campaign = (await api("POST", "/v1/jobs/campaign", { device_class: "pi4", space: "demo", samples: 3, protocol: { runs: 8, warmup: 1 } })).id;
    work = await api("GET", "/v1/agent/work?wait_s=1", undefined, agent.token);
    await api("POST", `/v1/agent/leases/${work.lease_id}/rows`, { idempotency_key: "browser-rows-1", rows: work.archs.slice(0, 2).map((a) => row(a.index)) }, agent.token);
    // the campaign's watcher counts rows on its own schedule: wait until its progress says 2 of 3
    for (const until = Date.now() + 10_000; Date.now() < until && ((await api("GET", `/v1/jobs/${campaign}`)).progress ?? 0) < 0.6;) await new Promise((r) => setTimeout(r, 50));
    browser = await Browser.launch(chromium!);
    page = await browser.newPage();
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("signs in with the admin token and lists the jobs", async () => {
    await page.goto(`${server.url}/`);
    await page.waitFor(`!document.getElementById("signin-view").hidden`);
    // a wrong token is refused on the page, and not kept
    await page.type("#token", "hat_admin_wrong-wrong-wrong");
    await page.click("#signin button[type=submit]");
    await page.waitFor(`document.getElementById("signin-error").textContent.includes("does not know")`);
    expect(await page.eval(`sessionStorage.getItem("hat.admin-token")`)).toBeNull();
    await page.eval(`document.getElementById("token").value = ""`);
    await page.type("#token", ADMIN);
    await page.click("#signin button[type=submit]");
    const text = await page.waitFor<string>(`document.querySelector('[data-job-id="${campaign}"]')?.textContent`);
    expect(text).toContain("campaign");
    expect(text).toContain("running");
    expect(text).toContain("67 %"); // 2 of 3 rows
    expect(await page.eval(`document.getElementById("token").value`)).toBe(""); // not left in the form
  });

  it("shows the agent with its hardware, state and last heartbeat", async () => {
    await page.eval(`location.hash = "#agents"`);
    const text = await page.waitFor<string>(`document.querySelector('[data-agent-id="${agent.agent_id}"]')?.textContent`);
    expect(text).toContain("pi-kitchen");
    expect(text).toContain("pi4");
    expect(text).toContain("Cortex-A72 (test)");
    expect(text).toContain("4 cores");
    expect(text).toContain("online");
    expect(text).toMatch(/\d+ s ago/);
    expect(text).toContain(campaign); // its lease
  });

  it("follows a campaign live: rows and progress arrive over SSE, then the final state", async () => {
    await page.eval(`location.hash = "#job/${campaign}"`);
    await page.waitFor(`document.getElementById("fraction")?.textContent === "67 %"`);
    await page.waitFor(`document.querySelector("#campaign")?.textContent.includes("2 / 3")`);
    expect(await page.eval(`document.querySelectorAll("#latency-histogram rect").length`)).toBeGreaterThan(0);
    // the last row arrives while the page is open: the stream brings the progress and the end
    await api("POST", `/v1/agent/leases/${work.lease_id}/rows`, { idempotency_key: "browser-rows-2", rows: [row(work.archs[2].index)] }, agent.token);
    await page.waitFor(`document.getElementById("fraction")?.textContent === "100 %"`);
    await page.waitFor(`document.querySelector("#view .badge")?.textContent === "done"`);
    await page.waitFor(`document.querySelector("#campaign")?.textContent.includes("3 / 3")`, 10_000);
    expect(await page.eval(`document.getElementById("log").textContent`)).toMatch(/artifact dataset/);
  });

  it("shows a search's candidates, predicted against measured, and its report in a sandboxed frame", async () => {
    // a finished search job as the runner stores one (running a real search here would take minutes)
    const report = server.ctx.artifacts.put(Buffer.from("<!doctype html><html><body><h1 id=r>Search report</h1><p>winner</p></body></html>"), "report", "report.html");
    const result = {
      arch: { encoderLayers: 2 }, predicted_ms: 9.5, valid_loss: 3.21, evaluations: 120, search_seconds: 42, measured_ms: 9.9, over_constraint: false,
      verdict: "meets", constraint_ms: 10, verified_on: "the agents of class pi4",
      candidates: [
        { round: 1, valid_loss: 3.1, predicted_ms: 9.8, measured_ms: 11.2, usual_ms: 10.98, meets: false, speed: 1.02, winner: false },
        { round: 2, valid_loss: 3.21, predicted_ms: 9.5, measured_ms: 9.9, usual_ms: 10, meets: true, speed: 0.99, winner: true },
      ],
      report_sha256: report.sha256,
    };
    const id = "job_searchdash01";
    server.ctx.db.prepare(`INSERT INTO jobs (id, kind, state, params, result, artifacts, attempts, created_at, started_at, finished_at)
      VALUES (?, 'search', 'done', ?, ?, ?, 1, ?, ?, ?)`).run(id, JSON.stringify({ latency_ms: 10 }), JSON.stringify(result), JSON.stringify({ report: report.sha256 }), Date.now(), Date.now(), Date.now());
    server.ctx.db.prepare(`INSERT INTO job_events (job_id, seq, at, type, data) VALUES (?, 1, ?, 'state', '{"state":"done"}')`).run(id, Date.now());
    await page.eval(`location.hash = "#job/${id}"`);
    const table = await page.waitFor<string>(`document.getElementById("candidates")?.textContent`);
    expect(table).toContain("11.2 ms");
    expect(table).toContain("11.0 ms"); // 10.98 ms at the usual speed
    expect(table).toContain("winner");
    expect(await page.eval(`document.querySelectorAll("#candidates-chart circle").length`)).toBe(2);
    expect(await page.eval(`document.getElementById("result").textContent`)).toContain("meets");
    // Show report (clicked again if the job view re-rendered under the first click)
    let src = "";
    for (let attempt = 0; attempt < 5 && !src; attempt++) {
      await page.waitFor(`document.querySelector("#view button.primary")`);
      await page.click("#view button.primary");
      src = await page.waitFor<string>(`document.getElementById("report")?.src`, 3000).catch(() => "");
    }
    expect(src).toMatch(/^blob:/);
    expect(await page.eval(`document.getElementById("report").getAttribute("sandbox")`)).toBe("");
    expect(await page.eval(`document.getElementById("report").contentDocument === null`)).toBe(true); // an opaque origin: out of the page's reach
    // the frame shows the report: a sandboxed frame has an opaque origin, so Chromium runs it as a
    // frame target of its own (out of process); its DOM is read there (the page itself cannot reach into it)
    let html = "";
    for (let i = 0; i < 50 && !html.includes("Search report"); i++) {
      const frame = ((await browser.send("Target.getTargets")).targetInfos as { type: string; url: string; targetId: string }[])
        .find((t) => t.type === "iframe" && t.url === src);
      if (frame) {
        const { sessionId } = await browser.send("Target.attachToTarget", { targetId: frame.targetId, flatten: true });
        const { root } = await browser.send("DOM.getDocument", { depth: -1 }, sessionId);
        html = (await browser.send("DOM.getOuterHTML", { nodeId: root.nodeId }, sessionId)).outerHTML;
        await browser.send("Target.detachFromTarget", { sessionId });
      }
      if (!html.includes("Search report")) await new Promise((res) => setTimeout(res, 100));
    }
    expect(html).toContain('<h1 id="r">Search report</h1>');
  });

  it("shows a deployment: each agent's measured latency against the constraint", async () => {
    const model = encodeModel({ kind: "subtransformer", arch: smallestArch(DEMO_SPACE), space: DEMO_SPACE, positionDims: { encoder: 64, decoder: 64 }, vocab: { size: 300, pad: 0, bos: 1, eos: 2, unk: 3 }, tokenizer: { fake: true } },
      new Map([["x", { shape: [2], data: new Float32Array([1, 2]) }]]));
    const sha = server.ctx.artifacts.put(model, "model", "m.hatm").sha256;
    const dep = await api("POST", "/v1/deployments", { device_class: "pi4", model: { sha256: sha }, constraint_ms: 10, protocol: { runs: 5 } });
    const w = await api("GET", "/v1/agent/work?wait_s=1", undefined, agent.token) as DeployWork;
    expect(w.kind).toBe("deploy");
    await (await fetch(server.url + w.model_url, { headers: { authorization: `Bearer ${agent.token}` } })).arrayBuffer();
    await api("POST", `/v1/agent/deployments/${dep.id}`, { state: "active", measured_ms: 12.5, encoder_ms: 2.5, decoder_ms: 10, speed: 1.1 }, agent.token);
    await page.eval(`location.hash = "#deployments"`);
    const card = await page.waitFor<string>(`document.querySelector('[data-deployment-id="${dep.id}"]')?.textContent`);
    expect(card).toContain("constraint 10.0 ms");
    expect(card).toContain("misses"); // 12.5 ms / 1.1 = 11.4 ms at the usual speed > 10 ms
    const agentRow = await page.eval<string>(`document.querySelector('[data-deployment-id="${dep.id}"] tr[data-agent-id="${agent.agent_id}"]').textContent`);
    expect(agentRow).toContain("12.5 ms");
    expect(agentRow).toContain("11.4 ms");
    expect(agentRow).toContain("1.10");
    // the constraint's mark on the bar
    expect(await page.eval(`!!document.querySelector('[data-deployment-id="${dep.id}"] .bar.over .limit')`)).toBe(true);
  });

  it("the token travels only as the Authorization header, stays in this tab, and never reaches the log", async () => {
    expect(page.errors).toEqual([]);
    const api = page.requests.filter((r) => new URL(r.url).pathname.startsWith("/v1/"));
    expect(api.length).toBeGreaterThan(3);
    for (const r of page.requests) expect(r.url).not.toContain(ADMIN);
    const auth = (r: { headers: Record<string, string> }) => Object.entries(r.headers).find(([k]) => k.toLowerCase() === "authorization")?.[1];
    expect(api.filter((r) => auth(r) !== `Bearer ${ADMIN}` && auth(r) !== "Bearer hat_admin_wrong-wrong-wrong").map((r) => r.url)).toEqual([]);
    expect(await page.eval(`sessionStorage.getItem("hat.admin-token")`)).toBe(ADMIN);
    expect(await page.eval(`localStorage.length`)).toBe(0);
    expect(await page.eval(`location.href`)).not.toContain(ADMIN);
    expect(logs.join("\n")).not.toContain(ADMIN);
    // signing out forgets it
    await page.click("#signout");
    await page.waitFor(`!document.getElementById("signin-view").hidden`);
    expect(await page.eval(`sessionStorage.getItem("hat.admin-token")`)).toBeNull();
  });
});
