/**
 * The queue mode end to end on 127.0.0.1 (docs/scaling.md): a redis-server of the test's own,
 * `hat serve --queue`, and `hat worker` processes. A training whose worker is SIGKILLed
 * mid-training completes on the other worker, resumed from the last uploaded checkpoint; a
 * predictor and a search run through workers, the search's closed loop measuring on an agent
 * through the server (a campaign: it runs on the server); Redis killed and restarted — with its
 * append-only file a waiting run is still there, without any data the server puts it back; a
 * revoked worker token stops its worker; a run whose every attempt fails fails its job with each
 * attempt's reason. Skips with a message without redis-server.
 */
import { type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { demoTask } from "../../data/demo-task.js";
import { sampleArch } from "../../runtime/arch-sample.js";
import { mulberry32 } from "../../runtime/rng.js";
import { BUILTIN_SPACES } from "../../runtime/spaces.js";
import { HatClient } from "../../server/client.js";
import type { JobRecord } from "../../server/jobs/types.js";
import { freePort, hasRedis, hat, kill, noRedisMessage, startRedis, until, type Proc } from "./harness.js";

if (!hasRedis) console.warn(noRedisMessage);

const dir = mkdtempSync(join(tmpdir(), "hat-queue-"));
const ADMIN = "hat_admin_queue-test-token";
const CLASS = "queue-box";
const procs = new Set<ChildProcess>();
let redis: ChildProcess, redisPort = 0, port = 0;
let api: HatClient, server: Proc;
const redisUrl = () => `redis://127.0.0.1:${redisPort}`;
const task = demoTask({ seed: 3, train: 300, valid: 30, test: 10 });
const lines = (xs: string[]) => xs.join("\n") + "\n";
let dataset = "";

function track(p: Proc): Proc {
  procs.add(p.child);
  p.child.once("exit", () => procs.delete(p.child));
  return p;
}

async function newWorkerToken(name: string): Promise<{ id: string; token: string }> {
  return api.post<{ id: string; token: string }>("/v1/workers", { name });
}

/** A `hat worker` (fast lock and stalled checks: a dead worker's run moves on within seconds). */
async function startWorker(name: string, token: string, kinds: string): Promise<Proc> {
  const w = track(hat(["worker", "--server", api.url, "--token", token, "--queue", redisUrl(), "--kinds", kinds, "--name", name,
    "--dir", join(dir, `worker-${name}`), "--lock-s", "3", "--stalled-s", "1", "--checkpoint-upload-s", "0.3", "--json"]));
  await w.firstLine;
  return w;
}

/** The job's events as text, one line each (what SSE serves). */
async function eventText(id: string): Promise<string> {
  const r = await fetch(`${api.url}/v1/jobs/${id}/events`, { headers: { authorization: `Bearer ${ADMIN}`, accept: "text/event-stream" }, signal: AbortSignal.timeout(30_000) });
  return (await r.text()).split("\n").filter((l) => l.startsWith("data:")).join("\n");
}

describe.skipIf(!hasRedis)("the queue mode: hat serve --queue, hat worker, Redis", () => {
  beforeAll(async () => {
    redisPort = await freePort();
    redis = await startRedis(redisPort, join(dir, "redis"));
    port = await freePort();
    api = new HatClient(`http://127.0.0.1:${port}`, ADMIN);
    server = track(hat(["serve", "--data", join(dir, "server"), "--port", String(port), "--admin-token", ADMIN, "--lease-s", "3", "--lease-batch", "3",
      "--queue", redisUrl(), "--queue-attempts", "2", "--queue-backoff-s", "0.2", "--json"]));
    await server.firstLine;
    const ds = await api.post<{ id: string }>("/v1/datasets", {
      name: "queue", splits: { train: { src: lines(task.train.src), tgt: lines(task.train.tgt) }, valid: { src: lines(task.valid.src), tgt: lines(task.valid.tgt) }, test: { src: lines(task.test.src), tgt: lines(task.test.tgt) } },
    });
    dataset = ds.id;
  });

  afterAll(async () => {
    await Promise.all([...procs].map((p) => kill(p)));
    if (redis) await kill(redis);
    rmSync(dir, { recursive: true, force: true });
  });

  let trainJob: JobRecord;
  const workers: Record<string, Proc> = {};

  it("trains on a worker; SIGKILLed mid-training, the job resumes on the other worker from its last uploaded checkpoint", async () => {
    const a = await newWorkerToken("a"), b = await newWorkerToken("b");
    workers.a = await startWorker("a", a.token, "train,finetune,export,quantize,predictor,search");
    const job = await api.job("train", { dataset, space: "demo", steps: 40, vocab_size: 300, max_tokens: 512, threads: 1, checkpoint_seconds: 1, seed: 2 });
    const db = new Database(join(dir, "server", "state.db"), { readonly: true, fileMustExist: true });
    const run = () => db.prepare(`SELECT * FROM queue_runs WHERE job_id = ?`).get(job.id) as { id: string; attempt: number; checkpoints: string; state: string } | undefined;
    // worker a has it and has uploaded a checkpoint: b starts now (so a, not b, took the run), then a dies
    await until("a checkpoint uploaded by worker a", () => { const r = run(); return r && Object.keys(JSON.parse(r.checkpoints)).length > 0 && r; }, 180_000);
    workers.b = await startWorker("b", b.token, "train,finetune,export,quantize,predictor,search");
    await until("a second checkpoint", () => { const r = run(); return r && Object.values(JSON.parse(r.checkpoints) as Record<string, { at: number }>).some((c) => Date.now() - c.at < 3000) && r; }, 60_000);
    const killedAt = Date.now();
    await kill(workers.a.child);
    await until("attempt 2", () => (run()?.attempt ?? 0) >= 2, 60_000, 50);
    const handedOnS = (Date.now() - killedAt) / 1000;
    const events: string[] = [];
    trainJob = await api.follow(job.id, (e) => events.push(JSON.stringify(e.data)), { timeoutMs: 300_000 });
    expect(trainJob.state, trainJob.error ?? "").toBe("done");
    const text = events.join("\n");
    expect(text).toMatch(/attempt 1 on worker a/);
    expect(text).toMatch(/attempt 2 on worker b \(attempt 1 on worker a stalled\), resuming from supernet\.hatm\.ckpt/);
    expect(text).toMatch(/resumed from .*supernet\.hatm\.ckpt at update [1-9]/); // the trainer on worker b, from a's checkpoint
    expect(text).toMatch(/run .* done on worker b \(attempt 2\)/);
    expect((trainJob.result as { steps: number }).steps).toBe(40);
    expect(trainJob.artifacts.model).toMatch(/^[0-9a-f]{64}$/);
    expect(run()!.state).toBe("done");
    // the result is taken once: the same run's result again (a retried upload, a late attempt) is a duplicate, and a late attempt's events are refused
    const seq = (await eventText(job.id)).split("\n").length;
    const again = await api.post<{ duplicate?: boolean }>(`/v1/queue/runs/${run()!.id}/result`, { attempt: 1, code: 0, result: { steps: 1 }, stderr_tail: "" });
    expect(again).toEqual({ duplicate: true });
    const late = await fetch(`${api.url}/v1/queue/runs/${run()!.id}/events`, { method: "POST", headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" }, body: JSON.stringify({ attempt: 1, events: [{ type: "line", stream: "log", line: "late" }] }) });
    expect(late.status).toBe(409);
    expect(((await late.json()) as { error: { code: string } }).error.code).toBe("run_done");
    expect((await eventText(job.id)).split("\n").length).toBe(seq);
    expect(((await api.get<JobRecord>(`/v1/jobs/${job.id}`)).result as { steps: number }).steps).toBe(40);
    db.close();
    console.log(`queue: run handed to worker b ${handedOnS.toFixed(1)} s after worker a was SIGKILLed (lock 3 s, stalled check every 1 s)`);
    expect(handedOnS).toBeLessThan(30);
  });

  it("Redis killed and restarted: a waiting run survives in its append-only file; with Redis's data gone, the server puts it back", async () => {
    await kill(workers.b.child, "SIGTERM"); // a graceful stop: nothing of its own was running
    expect(await workers.b.exited).toBe(0);
    const arch = sampleArch(BUILTIN_SPACES.demo, mulberry32(5));
    const queued = async (id: string, kind: string) => until(`${id} on the queue`, async () => ((await api.get<JobRecord>(`/v1/jobs/${id}`)).message ?? "").includes(`queued on hat:${kind}`) || undefined, 30_000);
    // 1. acknowledged by Redis (appendfsync always), then Redis SIGKILLed and started again on its files
    const exp = await api.job("export", { supernet: trainJob.id, arch });
    await queued(exp.id, "export");
    await kill(redis);
    redis = await startRedis(redisPort, join(dir, "redis"));
    const c = await newWorkerToken("c");
    workers.c = await startWorker("c", c.token, "export");
    const exported = await api.follow(exp.id, () => {}, { timeoutMs: 120_000 });
    expect(exported.state, exported.error ?? "").toBe("done");
    expect(await eventText(exp.id)).not.toMatch(/had lost run/);
    // 2. Redis's data gone (a new, empty directory): the run is in the server's SQLite, which puts it back
    const q = await api.job("quantize", { model: exp.id, bits: 8 });
    await queued(q.id, "quantize");
    await kill(redis);
    redis = await startRedis(redisPort, join(dir, "redis-empty"));
    const d = await newWorkerToken("d");
    workers.d = await startWorker("d", d.token, "quantize");
    const quantized = await api.follow(q.id, () => {}, { timeoutMs: 120_000 });
    expect(quantized.state, quantized.error ?? "").toBe("done");
    expect(await eventText(q.id)).toMatch(/the queue had lost run job_\w+-c1 .*put back on hat:quantize/);
    expect((quantized.result as { bits: number }).bits).toBe(8);
    // worker c came through both restarts
    expect(workers.c.child.exitCode).toBeNull();
  });

  it("a revoked worker token stops its worker (exit 2, a clear message); a revoked token does not start one", async () => {
    const e = await newWorkerToken("e");
    const w = await startWorker("e", e.token, "train");
    const t0 = Date.now();
    await api.call("DELETE", `/v1/workers/${e.id}`);
    expect(await w.exited).toBe(2);
    console.log(`queue: a revoked worker stopped ${((Date.now() - t0) / 1000).toFixed(1)} s after the DELETE`);
    expect(w.out.join("\n")).toMatch(/refused the worker token \(401: the worker token is not valid \(unknown or revoked\)\)/);
    const again = track(hat(["worker", "--server", api.url, "--token", e.token, "--queue", redisUrl(), "--dir", join(dir, "worker-e2")]));
    expect(await again.exited).toBe(2);
    expect(again.out.join("\n")).toMatch(/refused the worker token/);
    const listed = await api.get<{ workers: { id: string; revoked_at: number | null }[] }>("/v1/workers");
    expect(listed.workers.find((x) => x.id === e.id)?.revoked_at).toBeGreaterThan(0);
  });

  it("a run whose every attempt fails fails its job with the reason of each attempt", async () => {
    // a dataset whose stored train text is damaged after it was checked (same size, other bytes): every attempt's download fails its sha256
    const t2 = demoTask({ seed: 11, train: 50, valid: 10 });
    const ds = await api.post<{ id: string; splits: { train: { src_sha256: string } } }>("/v1/datasets", { name: "damaged", splits: { train: { src: lines(t2.train.src), tgt: lines(t2.train.tgt) }, valid: { src: lines(t2.valid.src), tgt: lines(t2.valid.tgt) } } });
    const sha = ds.splits.train.src_sha256;
    const file = join(dir, "server", "artifacts", sha.slice(0, 2), sha);
    const bytes = readFileSync(file);
    bytes[0] ^= 1;
    writeFileSync(file, bytes);
    expect(statSync(file).size).toBe(bytes.length);
    const f = await newWorkerToken("f");
    workers.f = await startWorker("f", f.token, "train,predictor,search");
    const failed = await api.follow((await api.job("train", { dataset: ds.id, space: "demo", steps: 2, vocab_size: 300, max_tokens: 256, threads: 1 })).id, () => {}, { timeoutMs: 120_000 });
    expect(failed.state).toBe("failed");
    expect(failed.error).toMatch(/failed after 2 attempt\(s\) on the queue/);
    expect(failed.error).toMatch(new RegExp(`attempt 1 \\(worker f\\): .*input ${sha}: the server sent bytes whose sha256 is [0-9a-f]{64}`));
    expect(failed.error).toMatch(new RegExp(`attempt 2 \\(worker f\\): .*input ${sha}`));
  });

  it("the server SIGKILLed mid-run and restarted: the run goes on on its worker, and the server re-attaches to it", async () => {
    const job = await api.job("train", { dataset, space: "demo", steps: 40, vocab_size: 300, max_tokens: 512, threads: 1, checkpoint_seconds: 1, seed: 4 });
    await until("the run on worker f, a few steps in", async () => /step ([3-9]|\d\d)\/40/.test((await api.get<JobRecord>(`/v1/jobs/${job.id}`)).message ?? ""), 120_000);
    await kill(server.child);
    await new Promise((r) => setTimeout(r, 1500)); // the worker's events wait meanwhile
    server = track(hat(["serve", "--data", join(dir, "server"), "--port", String(port), "--admin-token", ADMIN, "--lease-s", "3", "--lease-batch", "3",
      "--queue", redisUrl(), "--queue-attempts", "2", "--queue-backoff-s", "0.2", "--json"]));
    await server.firstLine;
    const done = await api.follow(job.id, () => {}, { timeoutMs: 240_000 });
    expect(done.state, done.error ?? "").toBe("done");
    expect(done.attempts).toBe(2); // the server ran the kind twice ...
    const text = await eventText(job.id);
    expect(text).toMatch(/re-attached to run job_\w+-c1 on the queue hat:train \(it runs on worker f\)/);
    expect(text).not.toMatch(/attempt 2 on worker/); // ... the worker only once
    expect((done.result as { steps: number }).steps).toBe(40);
  });

  it("a campaign (on the server, measured by an agent), a predictor and a search (on a worker, its closed loop measured on the agent through the server)", async () => {
    const { token } = await api.post<{ token: string }>("/v1/enrolment-tokens", { device_class: CLASS });
    const agent = track(hat(["agent", "--server", api.url, "--token", token, "--name", "q1", "--state", join(dir, "agent"), "--port", "0", "--wait-s", "2", "--json"]));
    await agent.firstLine;
    const protocol = { runs: 30, warmup: 1, vocab: 300, src_len: 30, tgt_len: 30, beam: 4 };
    const campaign = await api.follow((await api.job("campaign", { device_class: CLASS, space: "demo", samples: 59, protocol })).id, () => {}, { timeoutMs: 300_000 });
    expect(campaign.state, campaign.error ?? "").toBe("done");
    const predictor = await api.follow((await api.job("predictor", { campaign: campaign.id })).id, () => {}, { timeoutMs: 240_000 });
    expect(predictor.state, predictor.error ?? "").toBe("done");
    expect(await eventText(predictor.id)).toMatch(/attempt 1 on worker f/);
    const search = await api.job("search", {
      supernet: trainJob.id, predictor: predictor.id, latency_ms: 1000, dataset, generations: 1, population: 6, parents: 2, mutations: 2, crossovers: 2,
      random_baseline: false, bleu: true, bleu_max: 5, valid_max: 5, verify: 2, verify_rounds: 1,
    });
    const done = await api.follow(search.id, () => {}, { timeoutMs: 300_000 });
    expect(done.state, done.error ?? "").toBe("done");
    const text = await eventText(search.id);
    expect(text).toMatch(/attempt 1 on worker f/);
    expect(text).toMatch(/verify round 1: campaign job_\w+ measures [12] candidate/);
    const r = done.result as { verdict: string; candidates: { measured_ms: number | null }[]; bleu?: number };
    expect(r.verdict).toBe("meets");
    for (const c of r.candidates) expect(c.measured_ms).toBeGreaterThan(0);
    expect(typeof r.bleu).toBe("number");
    for (const role of ["model", "arch", "record", "report"]) expect(done.artifacts[role]).toMatch(/^[0-9a-f]{64}$/);
  });

  it("a job cancelled while its run trains on a worker: the worker stops that run (no retry) and takes the next", async () => {
    const job = await api.job("train", { dataset, space: "demo", steps: 400, vocab_size: 300, max_tokens: 512, threads: 1, seed: 6 });
    await until("a few steps on worker f", async () => /step ([3-9]|\d\d+)\/400/.test((await api.get<JobRecord>(`/v1/jobs/${job.id}`)).message ?? ""), 120_000);
    await api.post(`/v1/jobs/${job.id}/cancel`);
    await until("worker f to stop the run", () => workers.f.out.some((l) => new RegExp(`run ${job.id}-c1: attempt 1 stopped by the server: .*is cancelled`).test(l)), 30_000);
    expect((await api.get<JobRecord>(`/v1/jobs/${job.id}`)).state).toBe("cancelled");
    const next = await api.follow((await api.job("train", { dataset, space: "demo", steps: 2, vocab_size: 300, max_tokens: 256, threads: 1 })).id, () => {}, { timeoutMs: 120_000 });
    expect(next.state, next.error ?? "").toBe("done");
    expect(await eventText(next.id)).toMatch(/attempt 1 on worker f/);
    expect(workers.f.out.join("\n")).not.toMatch(new RegExp(`run ${job.id}-c1 \\(train of ${job.id}\\): attempt 2`));
  });
});
