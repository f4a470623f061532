/**
 * server/jobs in-process (app.request): the runner's mechanics with quick fake kinds (exclusive
 * queue order, progress coalescing, failures, cancel, SSE with Last-Event-ID, a restart resuming
 * a job), real `hat` children (a failing one, one killed by cancel, and train -> predictor ->
 * search on a tiny dataset), and rejected requests storing nothing.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeModel } from "../../runtime/format.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { demoTask } from "../../data/demo-task.js";
import { formatDataset } from "../../latency/dataset.js";
import { DEFAULT_PROTOCOL } from "../../runtime/protocol.js";
import { DEMO_SPACE } from "../../runtime/spaces.js";
import { createServer, type HatServer } from "../../server/app.js";
import { hashToken } from "../../server/auth.js";
import { hatCommandLine } from "../../cli/self.js";
import { runChild } from "../../server/jobs/child.js";
import { runJob } from "../../server/jobs/kinds/common.js";
import type { JobRecord } from "../../server/jobs/types.js";
import { syntheticRows } from "../latency/synthetic.js";

const ADMIN = "t";
let root = "";
const servers: HatServer[] = [];

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "hat-jobs-"));
});

afterAll(async () => {
  for (const s of servers) await s.close().catch(() => {});
  rmSync(root, { recursive: true, force: true });
});

let n = 0;
function server(dir = join(root, `s${n++}`)): HatServer {
  const s = createServer({ dataDir: dir, adminTokenHash: hashToken(ADMIN), log: () => {} });
  servers.push(s);
  return s;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Reply = { status: number; body: any };
async function call(s: HatServer, method: string, path: string, o: { token?: string | null; body?: unknown; raw?: string; type?: string } = {}): Promise<Reply> {
  const headers: Record<string, string> = {};
  if (o.token !== null) headers.authorization = `Bearer ${o.token ?? ADMIN}`;
  if (o.body !== undefined || o.raw !== undefined) headers["content-type"] = o.type ?? "application/json";
  const res = await s.app.request(path, { method, headers, body: o.raw ?? (o.body === undefined ? undefined : JSON.stringify(o.body)) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

const sleep = (ms: number, signal?: AbortSignal) => new Promise<void>((resolve, reject) => {
  const onAbort = () => { clearTimeout(t); reject(new Error("aborted")); };
  const t = setTimeout(() => { signal?.removeEventListener("abort", onAbort); resolve(); }, ms);
  signal?.addEventListener("abort", onAbort, { once: true });
});

/** Wait until `f()` is true (polling), failing after `ms`: no test hangs. */
async function until(f: () => boolean, ms = 10_000, what = "a condition"): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** settled() with a timeout. */
function settled(s: HatServer, id: string, ms = 30_000): Promise<JobRecord> {
  return Promise.race([s.runner.settled(id), sleep(ms).then(() => { throw new Error(`job ${id} did not settle in ${ms} ms`); })]);
}

// ---- fake kinds: "fake" (exclusive) and "free" (not), driven by their params

const gates = new Map<string, () => void>();
const open = (name: string) => { gates.get(name)?.(); gates.delete(name); };
const FakeParams = z.strictObject({
  name: z.string(), ms: z.number().optional(), fail: z.string().optional(), lines: z.number().optional(),
  gate: z.boolean().optional(), progress_ms: z.number().optional(), child: z.enum(["bad", "serve", "pid-dir", "spec-dir"]).optional(),
});

function fakeKinds(s: HatServer, trace: string[]): void {
  for (const [kind, exclusive] of [["fake", true], ["free", false]] as const) {
    s.runner.register<z.infer<typeof FakeParams>>({
      kind, exclusive, summary: "a test kind", params: FakeParams,
      async run(p, ctl) {
        trace.push(`start ${p.name}${ctl.resumed ? " resumed" : ""}`);
        for (let i = 0; i < (p.lines ?? 0); i++) ctl.log(`line ${i}`);
        if (p.child === "bad") await runJob(ctl, { kind: "predictor", options: { data: [join(ctl.dir, "missing.csv")], out: "p.json" } });
        if (p.child === "pid-dir") {
          // the job directory turns unwritable under the child's feet (as root, chmod stops nothing: child.pid
          // becomes a directory, so removing it fails as EACCES/EROFS would); this must not end the server
          const r = await runChild(["sh", "-c", "rm -f child.pid && mkdir -p child.pid/x"], {
            cwd: ctl.dir, signal: ctl.signal, onLine: (_stream, line) => ctl.log(line),
          });
          return { code: r.code, tail: r.stderrTail };
        }
        if (p.child === "spec-dir") {
          mkdirSync(join(ctl.dir, "spec.json", "x"), { recursive: true }); // spec.json cannot be written
          await runJob(ctl, { kind: "predictor", options: { data: [join(ctl.dir, "missing.csv")], out: "p.json" } });
        }
        if (p.child === "serve") {
          const r = await runChild([...hatCommandLine(), "serve", "--data", join(ctl.dir, "d"), "--port", "0"], {
            cwd: ctl.dir, signal: ctl.signal, onLine: (_stream, line, progress) => { if (!progress) ctl.log(line); },
          });
          trace.push(`child ${p.name} exited ${r.code}`);
          throw new Error("the child ended");
        }
        if (p.gate) {
          await new Promise<void>((resolve, reject) => {
            gates.set(p.name, resolve);
            ctl.signal.addEventListener("abort", () => reject(new Error("aborted")), { once: true });
          });
        }
        if (p.progress_ms) {
          for (let i = 0, t0 = Date.now(); Date.now() - t0 < p.progress_ms; i++) {
            ctl.progress(Math.min(1, (Date.now() - t0) / p.progress_ms), `step ${i}`);
            await sleep(2, ctl.signal);
          }
        }
        await sleep(p.ms ?? 0, ctl.signal);
        trace.push(`end ${p.name}`);
        if (p.fail) throw new Error(p.fail);
        return { name: p.name, resumed: ctl.resumed };
      },
    });
  }
}

const post = async (s: HatServer, kind: string, body: unknown): Promise<JobRecord> => {
  const r = await call(s, "POST", `/v1/jobs/${kind}`, { body });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body;
};

/** The events of an SSE body until it ends (or `stopWhen` says so: then the reader is cancelled). */
async function readSse(res: Response, stopWhen?: (evs: { id: number; event: string; data: any }[]) => boolean, ms = 20_000) {
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  let buf = "";
  const evs: { id: number; event: string; data: any }[] = [];
  const end = Date.now() + ms;
  for (;;) {
    const r = await Promise.race([reader.read(), sleep(Math.max(1, end - Date.now())).then(() => "timeout" as const)]);
    if (r === "timeout") throw new Error("the event stream did not end in time");
    if (r.done) break;
    buf += dec.decode(r.value, { stream: true });
    let i;
    while ((i = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const f: Record<string, string> = {};
      for (const line of block.split("\n")) {
        const m = /^(\w+): ?(.*)$/.exec(line);
        if (m) f[m[1]] = m[2];
      }
      if (f.data !== undefined) evs.push({ id: Number(f.id), event: f.event, data: JSON.parse(f.data) });
    }
    if (stopWhen?.(evs)) {
      await reader.cancel();
      break;
    }
  }
  return evs;
}

describe("the job runner", () => {
  it("runs exclusive kinds one at a time in order, the others at once", async () => {
    const s = server(), trace: string[] = [];
    fakeKinds(s, trace);
    const a = await post(s, "fake", { name: "A", ms: 300 });
    const b = await post(s, "fake", { name: "B", ms: 30 });
    const c = await post(s, "free", { name: "C", ms: 30 });
    expect([a.state, b.state, c.state]).toEqual(["running", "queued", "running"]);
    const done = await Promise.all([a, b, c].map((j) => settled(s, j.id)));
    expect(done.map((j) => j.state)).toEqual(["done", "done", "done"]);
    expect(trace.indexOf("start B")).toBeGreaterThan(trace.indexOf("end A"));
    expect(trace.indexOf("end C")).toBeLessThan(trace.indexOf("end A"));
    expect(done[0]).toMatchObject({ result: { name: "A", resumed: false }, attempts: 1, error: null });
    expect(done[0].started_at).toBeGreaterThanOrEqual(done[0].created_at);
    expect(done[0].finished_at).toBeGreaterThanOrEqual(done[0].started_at!);
    const list = await call(s, "GET", "/v1/jobs?kind=fake&state=done");
    expect(list.body.jobs.map((j: JobRecord) => j.id)).toEqual([b.id, a.id]); // newest first
    expect(existsSync(join(s.runner.dir, a.id))).toBe(false); // a done job's directory is removed
  });

  it("coalesces progress to about one stored event a second", async () => {
    const s = server(), trace: string[] = [];
    fakeKinds(s, trace);
    const j = await post(s, "free", { name: "P", progress_ms: 1500 });
    const done = await settled(s, j.id);
    const progress = s.runner.events(j.id).filter((e) => e.type === "progress");
    expect(progress.length).toBeGreaterThanOrEqual(1);
    expect(progress.length).toBeLessThanOrEqual(4);
    expect(done.progress).toBeGreaterThan(0.9);
    expect(done.message).toMatch(/^step \d+$/);
  });

  it("fails a job with the reason: a thrown error, or a child's exit code and last stderr lines", async () => {
    const s = server(), trace: string[] = [];
    fakeKinds(s, trace);
    const a = await settled(s, (await post(s, "free", { name: "F", fail: "the disk is full" })).id);
    expect(a).toMatchObject({ state: "failed", error: "the disk is full", result: null });
    const b = await settled(s, (await post(s, "free", { name: "G", child: "bad" })).id);
    expect(b.state).toBe("failed");
    expect(b.error).toMatch(/^hat predictor fit exited with code 2:/);
    expect(b.error).toMatch(/missing\.csv/);
    const last = s.runner.events(b.id).at(-1)!;
    expect(last).toMatchObject({ type: "state", data: { state: "failed" } });
  });

  it("a job directory that cannot be written fails the job with the reason; the server stays up", async () => {
    const s = server(), trace: string[] = [];
    fakeKinds(s, trace);
    // removing child.pid fails after the child exited (in an event handler: an uncaught throw there ended the server)
    const a = await settled(s, (await post(s, "free", { name: "P", child: "pid-dir" })).id);
    expect(a.state, a.error ?? "").toBe("done");
    expect(a.result).toMatchObject({ code: 0 });
    expect(s.runner.events(a.id).map((e) => String(e.data.line))).toContainEqual(expect.stringMatching(/cannot remove child\.pid in the job directory .*: check that the server's data directory is writable/));
    // spec.json cannot be written: the job fails saying so
    const b = await settled(s, (await post(s, "free", { name: "S", child: "spec-dir" })).id);
    expect(b.state).toBe("failed");
    expect(b.error).toMatch(/^cannot write spec\.json in the job directory .*(EISDIR|illegal operation)/);
    // the jobs directory itself is gone and a file stands in its place: the job's directory cannot be made
    rmSync(s.runner.dir, { recursive: true, force: true });
    writeFileSync(s.runner.dir, "not a directory");
    const c = await settled(s, (await post(s, "free", { name: "D" })).id);
    expect(c.state).toBe("failed");
    expect(c.error).toMatch(/^cannot create the directory in the job directory .*ENOTDIR/);
    expect((await call(s, "GET", "/v1/health", { token: null })).status).toBe(200);
    rmSync(s.runner.dir, { force: true });
  });

  it("a database that fails under a running job's output stops that job, not the server", async () => {
    const lines: string[] = [];
    const s = createServer({ dataDir: join(root, `s${n++}`), adminTokenHash: hashToken(ADMIN), log: (l) => lines.push(l) });
    servers.push(s);
    const trace: string[] = [];
    s.runner.register<z.infer<typeof FakeParams>>({
      kind: "chat", exclusive: false, summary: "a test kind", params: FakeParams,
      run: async (_p, ctl) => {
        // the child's lines are recorded from stream handlers, where a throw would be uncaught
        const r = await runChild(["sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10; do echo step $i/10; sleep 0.1; done"], { cwd: ctl.dir, signal: ctl.signal, onLine: (_st, line) => ctl.log(line) });
        trace.push(`exited ${r.code}`);
      },
    });
    const job = await post(s, "chat", { name: "C" });
    await until(() => s.runner.events(job.id).some((e) => /step 2\/10/.test(String(e.data.line))), 10_000, "the child's output");
    // the database goes away under it (as a read-only or failing disk would make every write throw)
    const insert = s.ctx.db.prepare.bind(s.ctx.db);
    let broken = true;
    (s.ctx.db as { prepare: unknown }).prepare = (sql: string) => {
      if (broken && /^\s*(INSERT|UPDATE)/i.test(sql)) throw Object.assign(new Error("attempt to write a readonly database"), { code: "SQLITE_READONLY" });
      return insert(sql);
    };
    await until(() => trace.some((t) => t.startsWith("exited")), 10_000, "the child to end");
    await until(() => lines.some((l) => /could not record its end/.test(l)), 5000, "the end to be logged");
    broken = false;
    expect(lines.some((l) => new RegExp(`job ${job.id}: cannot record the job's events \\(attempt to write a readonly database\\): the job is stopped`).test(l)), lines.join("\n")).toBe(true);
    expect((await call(s, "GET", "/v1/health", { token: null })).status).toBe(200);
  });

  it("cancels queued and running jobs (killing a child), 409 once finished", async () => {
    const s = server(), trace: string[] = [];
    fakeKinds(s, trace);
    const run = await post(s, "fake", { name: "R", child: "serve" });
    const queued = await post(s, "fake", { name: "Q", ms: 10 });
    await until(() => s.runner.events(run.id).some((e) => /listening on/.test(String(e.data.line))), 20_000, "the child server");
    const q = await call(s, "POST", `/v1/jobs/${queued.id}/cancel`);
    expect(q.body.state).toBe("cancelled");
    const r = await call(s, "POST", `/v1/jobs/${run.id}/cancel`);
    expect(r.status).toBe(200);
    expect(r.body.state).toBe("cancelled");
    expect((await settled(s, run.id)).state).toBe("cancelled");
    await until(() => trace.includes("child R exited 0"), 10_000, "the child to exit"); // SIGTERM: it closed cleanly
    expect(trace).not.toContain("start Q");
    expect((await call(s, "POST", `/v1/jobs/${run.id}/cancel`)).status).toBe(409);
    expect((await call(s, "POST", "/v1/jobs/job_nope/cancel")).status).toBe(404);
    expect(s.runner.get(run.id)!.state).toBe("cancelled"); // the child's end did not overwrite it
    expect(s.runner.events(run.id).at(-1)).toMatchObject({ type: "state", data: { state: "cancelled" } });
  });

  it("streams events as SSE: stored, then live, ends with the final state; Last-Event-ID replays; no listener leaks", async () => {
    const s = server(), trace: string[] = [];
    fakeKinds(s, trace);
    const j = await post(s, "fake", { name: "S", lines: 3, gate: true });
    const res = await s.app.request(`/v1/jobs/${j.id}/events`, { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/text\/event-stream/);
    const reading = readSse(res);
    await until(() => gates.has("S"), 5000, "the job to wait");
    open("S");
    const evs = await reading;
    expect(evs.map((e) => e.id)).toEqual(evs.map((_, i) => i + 1));
    expect(evs[0]).toMatchObject({ event: "state", data: { state: "queued" } });
    expect(evs.filter((e) => e.event === "log").map((e) => e.data.line)).toEqual(["line 0", "line 1", "line 2"]);
    expect(evs.at(-1)).toMatchObject({ event: "state", data: { state: "done" } });

    const replay = await readSse(await s.app.request(`/v1/jobs/${j.id}/events`, { headers: { authorization: `Bearer ${ADMIN}`, "last-event-id": "3" } }));
    expect(replay.map((e) => e.id)).toEqual(evs.slice(3).map((e) => e.id));
    const after = await readSse(await s.app.request(`/v1/jobs/${j.id}/events?after=${evs.length - 1}`, { headers: { authorization: `Bearer ${ADMIN}` } }));
    expect(after.map((e) => e.event)).toEqual(["state"]);
    expect((await call(s, "GET", `/v1/jobs/${j.id}/events`, { token: null })).status).toBe(401);
    expect((await call(s, "GET", "/v1/jobs/job_nope/events")).status).toBe(404);
    const bad = await s.app.request(`/v1/jobs/${j.id}/events`, { headers: { authorization: `Bearer ${ADMIN}`, "last-event-id": "x" } });
    expect(bad.status).toBe(400);
    // an id past the job's last event (or no safe integer) would hold a stream open waiting for nothing: 400 at once
    for (const [header, q] of [["100000000000000000000000", ""], ["1e23", ""], [String(evs.length + 1), ""], [undefined, "?after=1e23"], [undefined, `?after=${evs.length + 5}`], [undefined, "?after=1.5"]] as const) {
      const r = await s.app.request(`/v1/jobs/${j.id}/events${q}`, { headers: { authorization: `Bearer ${ADMIN}`, ...(header ? { "last-event-id": header } : {}) } });
      expect(r.status, `${header} ${q}`).toBe(400);
      expect((await r.json()).error.message).toMatch(/Last-Event-ID|after/);
    }

    // a client that goes away while the job runs leaves no listener behind
    const k = await post(s, "fake", { name: "T", gate: true });
    const live = await s.app.request(`/v1/jobs/${k.id}/events`, { headers: { authorization: `Bearer ${ADMIN}` } });
    await readSse(live, (e) => e.some((x) => x.data.state === "running"));
    await until(() => s.runner.listenerCount() === 0, 5000, "the listener to go");
    open("T");
    expect((await settled(s, k.id)).state).toBe("done");
    expect(s.runner.listenerCount()).toBe(0);
  });

  it("stop() kills a job's child and leaves the job running for the next start", async () => {
    const dir = join(root, "stop");
    const trace: string[] = [];
    const s1 = server(dir);
    fakeKinds(s1, trace);
    const j = await post(s1, "fake", { name: "K", child: "serve" });
    await until(() => s1.runner.events(j.id).some((e) => /listening on/.test(String(e.data.line))), 20_000, "the child server");
    await s1.close(); // returns once the child has exited
    expect(trace).toContain("child K exited 0");
    const s2 = server(dir); // the fake kind is not registered here: the job just waits
    expect(s2.runner.get(j.id)).toMatchObject({ state: "running", attempts: 1, error: null });
    await s2.close();
  });

  it("resumes a running job after a restart and keeps its events", async () => {
    const dir = join(root, "restart");
    const trace: string[] = [];
    const s1 = server(dir);
    fakeKinds(s1, trace);
    const x = await post(s1, "fake", { name: "X", gate: true, lines: 2 });
    const y = await post(s1, "fake", { name: "Y", ms: 10 });
    await until(() => gates.has("X"), 5000, "X to run");
    await s1.close();
    gates.delete("X");
    trace.length = 0;

    const s2 = server(dir);
    expect(s2.runner.get(x.id)!.state).toBe("running"); // stop() left it so
    expect(s2.runner.get(y.id)!.state).toBe("queued");
    fakeKinds(s2, trace); // registering the kind starts its waiting jobs
    await until(() => gates.has("X"), 5000, "X to resume");
    expect(trace).toEqual(["start X resumed"]);
    open("X");
    const done = await settled(s2, x.id);
    expect(done).toMatchObject({ state: "done", attempts: 2, result: { name: "X", resumed: true } });
    expect((await settled(s2, y.id)).state).toBe("done");
    expect(trace.indexOf("start Y")).toBeGreaterThan(trace.indexOf("end X"));
    const evs = s2.runner.events(x.id);
    expect(evs.map((e) => e.seq)).toEqual(evs.map((_, i) => i + 1));
    expect(evs.filter((e) => e.type === "log" && e.data.line === "line 0")).toHaveLength(2); // one per run
    expect(evs.some((e) => /server restarted/.test(String(e.data.line)))).toBe(true);
    expect(evs.filter((e) => e.type === "state").map((e) => e.data.state)).toEqual(["queued", "running", "running", "done"]);
  });
});

describe("/v1/jobs: the train, predictor and search kinds", () => {
  let s: HatServer;
  let ds = "";

  beforeAll(async () => {
    s = server();
    const t = demoTask({ seed: 1, train: 200, valid: 20, test: 20 });
    const split = (x: { src: string[]; tgt: string[] }) => ({ src: x.src.join("\n"), tgt: x.tgt.join("\n") });
    const r = await call(s, "POST", "/v1/datasets", { body: { name: "tiny", splits: { train: split(t.train), valid: split(t.valid), test: split(t.test) } } });
    expect(r.status).toBe(201);
    ds = r.body.id;
  });

  const count = () => (s.ctx.db.prepare(`SELECT COUNT(*) AS n FROM jobs`).get() as { n: number }).n;

  it("rejects bad requests with the field named, storing nothing", async () => {
    const before = count();
    const z64 = "0".repeat(64);
    const bad: [string, unknown, number, RegExp][] = [
      ["train", { dataset: 1, space: "demo", steps: 2 }, 400, /dataset/],
      ["train", { dataset: ds, space: "demo", steps: 2, minutes: 1 }, 400, /minutes: give exactly one/],
      ["train", { dataset: ds, space: "demo" }, 400, /minutes/],
      ["train", { dataset: ds, space: "mars", steps: 2 }, 400, /^space: a space name \("demo", .*"wmt14.*\) or a space object/],
      ["train", { dataset: ds, space: { encoderEmbedChoices: "x" }, steps: 2 }, 400, /^space: /],
      // issue 15, 4: spaces within SPACE_LIMITS, the field named
      ["train", { dataset: ds, space: { ...DEMO_SPACE, encoderEmbedChoices: [1e6] }, steps: 2 }, 400, /^space: encoderEmbedChoices\[0\]: 1000000 is above the maximum 4096/],
      ["campaign", { device_class: "pi", space: { ...DEMO_SPACE, qkvDim: 2 ** 31 }, samples: 2 }, 400, /qkvDim: 2147483648 is above the maximum 4096/],
      ["train", { dataset: "ds_nope", space: "demo", steps: 2 }, 400, /^dataset: no dataset/],
      ["train", { dataset: ds, space: "demo", steps: 2.5 }, 400, /steps/],
      ["train", { dataset: ds, space: "demo", steps: 2, colour: "red" }, 400, /colour/],
      ["predictor", {}, 400, /campaign/],
      ["predictor", { data: ["abc"] }, 400, /data\[0\]/],
      ["predictor", { data: [z64] }, 400, /^data\[0\]: no artifact/],
      ["predictor", { campaign: "job_nope" }, 400, /^campaign: no job/],
      ["predictor", { data: [z64], features: "all" }, 400, /features/],
      ["search", { supernet: "job_nope", predictor: "job_nope", latency_ms: 10, dataset: ds }, 400, /^supernet: no job/],
      ["search", { supernet: "a", predictor: "b", latency_ms: -1, dataset: ds }, 400, /latency_ms/],
      ["search", { supernet: "a", predictor: "b", latency_ms: 5, dataset: ds, finetune_steps: 1, finetune_minutes: 1 }, 400, /finetune_minutes/],
      ["nope", {}, 404, /no job kind 'nope' \(known: .*train.*predictor.*search/],
    ];
    for (const [kind, body, status, message] of bad) {
      const r = await call(s, "POST", `/v1/jobs/${kind}`, { body });
      expect(r.status, `${kind} ${JSON.stringify(body)}: ${JSON.stringify(r.body)}`).toBe(status);
      expect(r.body.error.message).toMatch(message);
    }
    expect((await call(s, "POST", "/v1/jobs/train", { raw: "{oops" })).body.error.code).toBe("invalid_json");
    expect((await call(s, "POST", "/v1/jobs/train", { raw: "{}", type: "text/plain" })).status).toBe(415);
    expect((await call(s, "POST", "/v1/jobs/train", { token: null, body: { dataset: ds, space: "demo", steps: 2 } })).status).toBe(401);
    expect((await call(s, "POST", "/v1/jobs/train", { token: "nope", body: { dataset: ds, space: "demo", steps: 2 } })).status).toBe(401);
    expect((await call(s, "GET", "/v1/jobs?state=bogus")).body.error.message).toMatch(/state/);
    expect((await call(s, "GET", "/v1/jobs/job_nope")).status).toBe(404);
    expect((await call(s, "GET", "/v1/jobs", { token: null })).status).toBe(401);
    expect(count()).toBe(before);
  });

  it("a predictor job with prior and train_rows: the few-shot transfer of another predictor job's predictor", async () => {
    const rowsA = syntheticRows(80, 1, 0.003, DEMO_SPACE);
    const csvA = s.ctx.artifacts.put(Buffer.from(formatDataset(rowsA)), "dataset", "old.csv");
    const old = await settled(s, (await post(s, "predictor", { data: [csvA.sha256], seed: 1 })).id, 60_000);
    expect(old.state, old.error ?? "").toBe("done");
    // the new device: encoder 2x, decoder 0.6x + 3 ms
    const rowsB = syntheticRows(60, 2, 0.003, DEMO_SPACE).map((r) => ({ ...r, encoder_ms: 2 * r.encoder_ms, decoder_ms: 0.6 * r.decoder_ms + 3 }));
    const csvB = s.ctx.artifacts.put(Buffer.from(formatDataset(rowsB)), "dataset", "new.csv");
    const before = count();
    for (const [body, message] of [
      [{ data: [csvB.sha256], prior: old.id }, /train_rows: prior needs train_rows/],
      [{ data: [csvB.sha256], prior: "job_nope", train_rows: 20 }, /^prior: no job/],
      [{ data: [csvB.sha256], train_rows: 2 }, /train_rows/],
    ] as const) {
      const r = await call(s, "POST", "/v1/jobs/predictor", { body });
      expect(r.status, JSON.stringify(r.body)).toBe(400);
      expect(r.body.error.message).toMatch(message);
    }
    expect(count()).toBe(before);
    const fit = await settled(s, (await post(s, "predictor", { data: [csvB.sha256], prior: old.id, train_rows: 20, seed: 3 })).id, 60_000);
    expect(fit.state, fit.error ?? "").toBe("done");
    expect(fit.result).toMatchObject({ method: "transfer", train_rows: 20, test_rows: 40, seed: 3, prior_job: old.id, predictor_sha256: fit.artifacts.predictor });
    const result = fit.result as Record<string, number>;
    expect(result.test_kendall_tau).toBeGreaterThan(0.9);
    const file = JSON.parse(s.ctx.artifacts.read(fit.artifacts.predictor).toString("utf8"));
    expect(file.fit.kind).toBe("transfer");
    expect(file.fit.transfer.train_rows).toBe(20);
  });

  it("trains, fits a predictor and searches through the hat CLI", async () => {
    const train = await post(s, "train", { dataset: ds, space: "demo", steps: 2, vocab_size: 300, max_tokens: 256, threads: 1, seed: 1 });
    const t = await settled(s, train.id, 60_000);
    expect(t.state, t.error ?? "").toBe("done");
    expect(t.result).toMatchObject({ steps: 2, model_sha256: t.artifacts.model });
    expect((t.result as Record<string, unknown>).out).toBeUndefined();
    expect(s.ctx.artifacts.has(t.artifacts.model)).toBe(true);
    expect(s.runner.events(train.id).some((e) => e.type === "log" && /tokenizer/.test(String(e.data.line)))).toBe(true);

    const csv = s.ctx.artifacts.put(Buffer.from(formatDataset(syntheticRows(80, 1, 0.003, DEMO_SPACE))), "dataset", "lat.csv");
    const fit = await settled(s, (await post(s, "predictor", { data: [csv.sha256], seed: 1 })).id, 60_000);
    expect(fit.state, fit.error ?? "").toBe("done");
    expect(fit.result).toMatchObject({ n_rows: 80, predictor_sha256: fit.artifacts.predictor });

    // the train job says its vocabulary; a campaign for its supernet measures at it and over its space
    expect(t.result).toMatchObject({ vocab: 300 });
    const served = await call(s, "POST", "/v1/jobs/campaign", { body: { device_class: "pi", supernet: t.id, samples: 3 } });
    expect(served.status, JSON.stringify(served.body)).toBe(201);
    expect(s.ctx.jobs.get(served.body.id)!.params).toMatchObject({ space: "demo", protocol: { vocab: 300, src_len: 30, beam: 5 } });
    await call(s, "POST", `/v1/jobs/${served.body.id}/cancel`);
    const vocabs = await call(s, "POST", "/v1/jobs/campaign", { body: { device_class: "pi", supernet: t.id, samples: 3, protocol: { vocab: 32768 } } });
    expect(vocabs.status).toBe(400);
    expect(vocabs.body.error.message).toMatch(/^protocol\.vocab: 32768 differs from the vocabulary of the supernet .* \(300\)/);
    const huge = await call(s, "POST", "/v1/jobs/campaign", { body: { device_class: "pi", supernet: "x".repeat(100_000), samples: 3 } });
    expect(huge.status).toBe(400);
    expect(JSON.stringify(huge.body).length).toBeLessThan(1000); // the id is bounded, not echoed back whole
    const nothing = await call(s, "POST", "/v1/jobs/campaign", { body: { device_class: "pi", samples: 3 } });
    expect(nothing.body.error.message).toMatch(/^space: give a space, or a supernet/);
    // a predictor of latencies measured at another vocabulary (the default 32768) is refused for this supernet, naming both
    const at32k = s.ctx.artifacts.put(Buffer.from(formatDataset(syntheticRows(80, 1, 0.003, DEMO_SPACE).map((r) => ({ ...r, protocol: DEFAULT_PROTOCOL })))), "dataset", "lat32k.csv");
    const fit32k = await settled(s, (await post(s, "predictor", { data: [at32k.sha256], seed: 1 })).id, 60_000);
    expect(fit32k.state, fit32k.error ?? "").toBe("done");
    const mismatch = await call(s, "POST", "/v1/jobs/search", { body: { supernet: t.id, predictor: fit32k.id, latency_ms: 20, dataset: ds } });
    expect(mismatch.status).toBe(400);
    expect(mismatch.body.error).toMatchObject({ code: "protocol_mismatch" });
    expect(mismatch.body.error.message).toMatch(/measured at vocabulary 32768, but the supernet .* has vocabulary 300/);

    // a predictor of int8 latencies (a campaign with "quant": "int8") for a search of an f32 deployment, and a bad quant
    const int8File = { ...JSON.parse(s.ctx.artifacts.read(fit32k.artifacts.predictor).toString("utf8")), protocol: { ...DEFAULT_PROTOCOL, vocab: 300, quant: "int8" } };
    const int8Sha = s.ctx.artifacts.put(Buffer.from(JSON.stringify(int8File)), "predictor", "int8.json").sha256;
    s.ctx.db.prepare(`INSERT INTO jobs (id, kind, state, params, result, artifacts, attempts, created_at, started_at, finished_at) VALUES ('job_int8fit', 'predictor', 'done', '{"data":[]}', '{}', ?, 1, ?, ?, ?)`)
      .run(JSON.stringify({ predictor: int8Sha }), Date.now(), Date.now(), Date.now());
    const quantMismatch = await call(s, "POST", "/v1/jobs/search", { body: { supernet: t.id, predictor: "job_int8fit", latency_ms: 20, dataset: ds } });
    expect(quantMismatch.status).toBe(400);
    expect(quantMismatch.body.error).toMatchObject({ code: "protocol_mismatch" });
    expect(quantMismatch.body.error.message).toMatch(/^quant: f32, but the predictor job_int8fit learnt latencies of int8 products/);
    const badQuant = await call(s, "POST", "/v1/jobs/search", { body: { supernet: t.id, predictor: "job_int8fit", latency_ms: 20, dataset: ds, quant: "int4" } });
    expect(badQuant.status).toBe(400);
    expect(badQuant.body.error.message).toMatch(/quant/);
    // a search on 2 threads with a predictor that learnt one-thread latencies (it says none: 1)
    const threadsMismatch = await call(s, "POST", "/v1/jobs/search", { body: { supernet: t.id, predictor: "job_int8fit", latency_ms: 20, dataset: ds, quant: "int8", threads: 2 } });
    expect(threadsMismatch.status).toBe(400);
    expect(threadsMismatch.body.error).toMatchObject({ code: "protocol_mismatch" });
    expect(threadsMismatch.body.error.message).toMatch(/^threads: 2, but the predictor job_int8fit learnt latencies on 1 thread/);

    // a reference to the wrong kind of job names the field
    const wrong = await call(s, "POST", "/v1/jobs/search", { body: { supernet: fit.id, predictor: fit.id, latency_ms: 20, dataset: ds } });
    expect(wrong.status).toBe(400);
    expect(wrong.body.error.message).toMatch(/^supernet: .* a predictor job, not a train job/);

    const search = await post(s, "search", {
      supernet: t.id, predictor: fit.id, latency_ms: 20, dataset: ds, generations: 2, population: 6, parents: 2,
      mutations: 2, crossovers: 2, finetune_steps: 2, max_tokens: 256, bleu_max: 5, valid_max: 20,
    });
    const r = await settled(s, search.id, 90_000);
    expect(r.state, r.error ?? "").toBe("done");
    expect(Object.keys(r.artifacts).sort()).toEqual(["arch", "model", "record", "report"]);
    expect(r.result).toMatchObject({ model_kind: "finetuned", model_sha256: r.artifacts.model, report_sha256: r.artifacts.report });
    const result = r.result as Record<string, unknown>;
    expect(typeof result.bleu).toBe("number");
    expect(result.random).toBeDefined();
    expect(s.ctx.artifacts.read(r.artifacts.report).toString("utf8")).toMatch(/<html/i);

    // one SubTransformer of the supernet: exported, and fine-tuned from its inherited weights
    const arch = JSON.parse(s.ctx.artifacts.read(r.artifacts.arch).toString("utf8"));
    const bad = await call(s, "POST", "/v1/jobs/export", { body: { supernet: t.id, arch: { ...arch, encoderLayers: 0 } } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/^arch: /);
    const exp = await settled(s, (await post(s, "export", { supernet: t.id, arch })).id, 60_000);
    expect(exp.state, exp.error ?? "").toBe("done");
    const exported = decodeModel(s.ctx.artifacts.read(exp.artifacts.model));
    expect(exported.header.kind).toBe("subtransformer");
    expect(exported.header.arch).toEqual(arch);
    expect(exported.header.tokenizer).toBeDefined();
    // ... quantized (issue 14, 1): a smaller model, its tokenizer kept, deployable like any job's model
    const badQ = await call(s, "POST", "/v1/jobs/quantize", { body: { model: exp.id, bits: 3 } });
    expect(badQ.status).toBe(400);
    expect(JSON.stringify(badQ.body.error)).toMatch(/bits/);
    const q = await settled(s, (await post(s, "quantize", { model: exp.id, bits: 4 })).id, 60_000);
    expect(q.state, q.error ?? "").toBe("done");
    const quantized = decodeModel(s.ctx.artifacts.read(q.artifacts.model));
    expect(quantized.header.tensors.filter((e) => e.quant?.method === "kmeans" && e.quant.bits === 4).length).toBeGreaterThan(5);
    expect(quantized.header.tokenizer).toEqual(exported.header.tokenizer);
    expect(q.result).toMatchObject({ method: "kmeans", bits: 4, model_sha256: q.artifacts.model });
    expect((q.result as { bytes: number }).bytes).toBeLessThan(exported.bytes.length / 4);
    // ... and quantized with its centroids fine-tuned on the dataset (docs/method.md §13)
    for (const [body, re] of [
      [{ model: exp.id, bits: 4, dataset: ds }, /dataset goes with finetune_steps/],
      [{ model: exp.id, bits: 4, finetune_steps: 2 }, /dataset goes with finetune_steps/],
      [{ model: exp.id, bits: 8, method: "linear", dataset: ds, finetune_steps: 2 }, /method kmeans/],
      [{ model: exp.id, bits: 4, lr: 0.001 }, /are fine-tuning's/],
      [{ model: exp.id, bits: 4, distill: true }, /are fine-tuning's/],
      [{ model: exp.id, bits: 4, dataset: ds, finetune_steps: 2, arch }, /^arch: job .* made a compact SubTransformer/],
      [{ model: t.id, bits: 4, dataset: ds, finetune_steps: 2, arch: { ...arch, encoderLayers: 0 } }, /^arch: /],
      [{ model: exp.id, bits: 4, dataset: "ds_nope", finetune_steps: 2 }, /^dataset: no dataset/],
    ] as const) {
      const r = await call(s, "POST", "/v1/jobs/quantize", { body });
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error.message).toMatch(re);
    }
    const qf = await settled(s, (await post(s, "quantize", { model: t.id, arch, bits: 4, dataset: ds, finetune_steps: 2, max_tokens: 256, threads: 1, distill: true })).id, 60_000);
    expect(qf.state, qf.error ?? "").toBe("done");
    expect(qf.result).toMatchObject({ method: "kmeans", bits: 4, finetuned: { steps: 2 }, model_sha256: qf.artifacts.model });
    const qfm = decodeModel(s.ctx.artifacts.read(qf.artifacts.model));
    expect(qfm.header).toMatchObject({ kind: "subtransformer", arch, meta: { quantized: { finetuned: { steps: 2, distill: { topK: 5, weight: 0.5 } } } } });
    expect(qfm.header.tensors.filter((e) => e.quant?.method === "kmeans" && e.quant.bits === 4).length).toBeGreaterThan(5);
    const ft = await settled(s, (await post(s, "finetune", { supernet: t.id, arch, dataset: ds, steps: 2, max_tokens: 256, threads: 1 })).id, 60_000);
    expect(ft.state, ft.error ?? "").toBe("done");
    expect(ft.result).toMatchObject({ steps: 2, mode: "finetune", model_sha256: ft.artifacts.model });
    expect(decodeModel(s.ctx.artifacts.read(ft.artifacts.model)).header.arch).toEqual(arch);
  });
});
