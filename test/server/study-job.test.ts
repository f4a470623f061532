/**
 * The study job (server/jobs/kinds/study.ts) in-process: its params refused with the field named
 * (storing nothing), and a real run in the job child (train -> predictor -> study evolution on a
 * tiny dataset) whose result is the study's JSON and whose record and report are artifacts.
 * The studies' numbers are tested in test/search/study*.test.ts.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { demoTask } from "../../data/demo-task.js";
import { formatDataset } from "../../latency/dataset.js";
import { DEMO_SPACE } from "../../runtime/spaces.js";
import { createServer, type HatServer } from "../../server/app.js";
import { hashToken } from "../../server/auth.js";
import type { JobRecord } from "../../server/jobs/types.js";
import { syntheticRows } from "../latency/synthetic.js";

const ADMIN = "t";
let root = "";
let s: HatServer;
let ds = "";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await s.app.request(path, { method, headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

async function done(kind: string, body: unknown, ms = 60_000): Promise<JobRecord> {
  const r = await call("POST", `/v1/jobs/${kind}`, body);
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  const job = await Promise.race([s.runner.settled(r.body.id), new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`${kind} did not settle`)), ms))]);
  expect(job.state, job.error ?? "").toBe("done");
  return job;
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "hat-study-job-"));
  s = createServer({ dataDir: join(root, "s"), adminTokenHash: hashToken(ADMIN), log: () => {} });
  const t = demoTask({ seed: 1, train: 200, valid: 20, test: 20 });
  const split = (x: { src: string[]; tgt: string[] }) => ({ src: x.src.join("\n"), tgt: x.tgt.join("\n") });
  const r = await call("POST", "/v1/datasets", { name: "tiny", splits: { train: split(t.train), valid: split(t.valid), test: split(t.test) } });
  expect(r.status).toBe(201);
  ds = r.body.id;
});

afterAll(async () => {
  await s.close().catch(() => {});
  rmSync(root, { recursive: true, force: true });
});

describe("/v1/jobs/study", () => {
  it("refuses bad params with the field named, storing nothing", async () => {
    const count = () => (s.ctx.db.prepare(`SELECT COUNT(*) AS n FROM jobs`).get() as { n: number }).n;
    const before = count();
    const bad: [unknown, RegExp][] = [
      [{ study: "ablation", supernet: "a", dataset: ds, finetune_steps: 1 }, /^study: /],
      [{ study: "proxy", supernet: "a", dataset: ds }, /^finetune_steps: give finetune_steps or finetune_minutes/],
      [{ study: "latency", supernet: "a", dataset: ds, finetune_steps: 1 }, /^predictor: the latency and evolution studies need/],
      [{ study: "evolution", supernet: "a", predictor: "b", dataset: ds, latency_ms: [] }, /^latency_ms: /],
      [{ study: "evolution", supernet: "a", predictor: "b", dataset: ds, seeds: [1.5] }, /^seeds\[0\]: /],
      [{ study: "proxy", supernet: "job_nope", dataset: ds, finetune_steps: 1 }, /^supernet: no job/],
    ];
    for (const [body, re] of bad) {
      const r = await call("POST", "/v1/jobs/study", body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error.message).toMatch(re);
    }
    expect(count()).toBe(before);
  });

  it("runs a study in the job child: its JSON as the result, record and report as artifacts", async () => {
    const train = await done("train", { dataset: ds, space: "demo", steps: 2, vocab_size: 300, max_tokens: 256, threads: 1, seed: 1 });
    const csv = s.ctx.artifacts.put(Buffer.from(formatDataset(syntheticRows(80, 1, 0.003, DEMO_SPACE))), "dataset", "lat.csv");
    const fit = await done("predictor", { data: [csv.sha256], seed: 1 });
    // a train job is no predictor
    const wrong = await call("POST", "/v1/jobs/study", { study: "evolution", supernet: train.id, predictor: train.id, dataset: ds });
    expect(wrong.body.error.message).toMatch(/^predictor: .* a train job, not a predictor job/);
    const job = await done("study", {
      study: "evolution", supernet: train.id, predictor: fit.id, dataset: ds, seeds: [1, 2],
      generations: 2, population: 6, parents: 2, mutations: 2, crossovers: 2, valid_max: 10,
    });
    expect(Object.keys(job.artifacts).sort()).toEqual(["record", "report"]);
    const result = job.result as { evolution: { runs: { seed: number; evaluations: number; random_evaluations: number }[]; wins: number; ties: number; losses: number }; record_sha256: string };
    expect(result.record_sha256).toBe(job.artifacts.record);
    expect(result.evolution.runs.map((r) => r.seed)).toEqual([1, 2]);
    for (const r of result.evolution.runs) expect(r.random_evaluations).toBe(r.evaluations);
    expect(result.evolution.wins + result.evolution.ties + result.evolution.losses).toBe(2);
    const record = JSON.parse(s.ctx.artifacts.read(job.artifacts.record).toString("utf8"));
    expect(record.evolution.runs).toEqual(result.evolution.runs);
    expect(s.ctx.artifacts.read(job.artifacts.report).toString("utf8")).toMatch(/Fig 9[\s\S]*<svg/);
  }, 120_000);
});
