/**
 * `npm run screenshots [-- OUT_DIR]`: the dashboard's pages as PNGs (docs/dashboard/ by default),
 * taken on a real run so a reader sees them without running anything: a server on 127.0.0.1, a
 * real agent (`hat agent`, a child process), and `hat demo --server ...` driving the whole
 * pipeline through the API with small settings (about 7 minutes on 2 cores), while headless
 * Chromium (./cdp.ts) signs in and photographs each page — the training job live, then every
 * page once the demo has ended. Not part of the test suite. Needs `chromium` ($CHROMIUM).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { appendFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { hatCommandLine } from "../../cli/self.js";
import { listen } from "../../server/app.js";
import { hashToken, newToken } from "../../server/auth.js";
import { Browser, findChromium, type Page } from "./cdp.js";

const out = resolve(process.argv[2] ?? "docs/dashboard");
const chromium = findChromium();
if (!chromium) {
  process.stderr.write("screenshots: no chromium on this machine (Debian: apt-get install chromium; or set $CHROMIUM)\n");
  process.exit(2);
}
mkdirSync(out, { recursive: true });
const work = mkdtempSync(join(tmpdir(), "hat-screens-"));
const logFile = join(work, "run.log");
/** A line of the run's log (a child's output after the run's directory is gone is dropped). */
const note = (s: string) => { try { appendFileSync(logFile, s); } catch { /* removed at the end */ } };
const say = (s: string) => process.stdout.write(`[${new Date().toISOString().slice(11, 19)}] ${s}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const token = newToken("admin");
const server = await listen({ dataDir: join(work, "server"), adminTokenHash: hashToken(token), host: "127.0.0.1", port: 0, log: (l) => note(`server ${l}\n`) });
const api = async <T>(path: string, init: RequestInit = {}): Promise<T> => {
  const res = await fetch(server.url + path, { ...init, headers: { authorization: `Bearer ${token}`, "content-type": "application/json", ...(init.headers ?? {}) } });
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status} ${await res.text()}`);
  return res.json() as Promise<T>;
};
const children: ChildProcess[] = [];
let browser: Browser | undefined;
let ok = false;

try {
  const deviceClass = `local-${process.arch}`;
  const enrol = await api<{ token: string }>("/v1/enrolment-tokens", { method: "POST", body: JSON.stringify({ device_class: deviceClass }) });
  const [cmd, ...args] = hatCommandLine();
  const agent = spawn(cmd, [...args, "agent", "--server", server.url, "--token", enrol.token, "--class", deviceClass, "--name", "edge-box-1", "--state", join(work, "agent"), "--port", "0", "--json"],
    { stdio: ["ignore", "pipe", "pipe"] });
  children.push(agent);
  agent.stderr!.on("data", (d: Buffer) => note(`agent ${d}`));
  const info = await new Promise<{ agent_id: string; translate_url: string }>((res, rej) => {
    const t = setTimeout(() => rej(new Error(`the agent did not enrol in 60 s (${logFile})`)), 60_000);
    createInterface({ input: agent.stdout! }).once("line", (l) => { clearTimeout(t); res(JSON.parse(l)); });
  });
  say(`server ${server.url}, agent ${info.agent_id} (log ${logFile})`);

  const demo = spawn(cmd, [...args, "demo", "--server", server.url, "--admin-token", token, "--device-class", deviceClass, "--translate-url", info.translate_url,
    "--out", join(work, "demo"), "--minutes", "1", "--samples", "100", "--runs", "8", "--rounds", "2", "--generations", "8", "--valid-max", "40", "--finetune-minutes", "0.25"],
  { stdio: ["ignore", "pipe", "pipe"] });
  children.push(demo);
  demo.stdout!.on("data", (d: Buffer) => { note(`demo ${d}`); process.stdout.write(d); });
  demo.stderr!.on("data", (d: Buffer) => note(`demo ${d}`));
  const demoDone = new Promise<number>((r) => demo.once("exit", (code) => r(code ?? 1)));

  browser = await Browser.launch(chromium);
  const page: Page = await browser.newPage({ width: 1280, height: 860 });
  await page.goto(`${server.url}/`);
  await page.waitFor(`!document.getElementById("signin-view").hidden`);
  await page.screenshot(join(out, "signin.png"));
  await page.type("#token", token);
  await page.click("#signin button[type=submit]");
  await page.waitFor(`document.querySelector("#jobs tbody tr")`);

  // the training job, live: its curves once it has some points
  type Job = { id: string; kind: string; state: string; progress: number | null };
  let train: Job | undefined;
  for (const end = Date.now() + 120_000; Date.now() < end && !train; await sleep(500)) {
    train = (await api<{ jobs: Job[] }>("/v1/jobs?kind=train")).jobs[0];
  }
  if (!train) throw new Error("the demo started no train job");
  for (const end = Date.now() + 120_000; Date.now() < end; await sleep(1000)) {
    const j = await api<Job>(`/v1/jobs/${train.id}`);
    if (j.state !== "running" && j.state !== "queued") break;
    if ((j.progress ?? 0) > 0.45) break;
  }
  await page.screenshot(join(out, "jobs-live.png"));
  await page.eval(`location.hash = "#job/${train.id}"`);
  await page.waitFor(`document.querySelectorAll("#loss-chart path").length > 0`, 60_000);
  await sleep(1500);
  await page.screenshot(join(out, "train-live.png"));
  say("live pages taken; waiting for the demo to end");

  const code = await demoDone;
  if (code !== 0) throw new Error(`hat demo exited with code ${code} (${logFile})`);
  const jobs = (await api<{ jobs: Job[] }>("/v1/jobs")).jobs;
  const last = (kind: string) => jobs.find((j) => j.kind === kind && j.state === "done");

  const shoot = async (hash: string, ready: string, file: string) => {
    await page.eval(`location.hash = ${JSON.stringify(hash)}`);
    await page.waitFor(ready, 30_000);
    await sleep(800);
    await page.screenshot(join(out, file));
    say(`wrote ${join(out, file)}`);
  };
  await shoot("#jobs", `document.querySelectorAll("#jobs tbody tr").length >= 4`, "jobs.png");
  await shoot(`#job/${last("train")!.id}`, `document.querySelectorAll("#loss-chart path").length > 0 && document.querySelector("#view .badge").textContent === "done"`, "train.png");
  const campaign = jobs.find((j) => j.kind === "campaign" && j.state === "done" && ((j as unknown as { params: { samples?: number } }).params.samples ?? 0) > 0) ?? last("campaign")!;
  await shoot(`#job/${campaign.id}`, `document.querySelectorAll("#latency-histogram rect").length > 0`, "campaign.png");
  const search = last("search")!;
  await shoot(`#job/${search.id}`, `document.getElementById("result")`, "search.png");
  await page.click("#view button.primary"); // Show report
  await page.waitFor(`document.getElementById("report")?.src.startsWith("blob:")`);
  await sleep(1500);
  await page.screenshot(join(out, "search-report.png"));
  say(`wrote ${join(out, "search-report.png")}`);
  await shoot("#agents", `document.querySelector("#agents tbody tr[data-agent-id]")`, "agents.png");
  await shoot("#deployments", `document.querySelector("[data-deployment-id]")`, "deployments.png");
  if (page.errors.length) say(`page errors: ${page.errors.join(" | ")}`);
  ok = true;
} finally {
  await browser?.close();
  await Promise.all(children.filter((c) => c.exitCode === null && c.signalCode === null).map((c) => new Promise<void>((r) => {
    const t = setTimeout(() => { c.kill("SIGKILL"); r(); }, 10_000);
    c.once("exit", () => { clearTimeout(t); r(); });
    c.kill("SIGTERM");
  })));
  await server.close();
  if (ok) rmSync(work, { recursive: true, force: true });
  else say(`failed: the run's files are kept in ${work}`);
}
