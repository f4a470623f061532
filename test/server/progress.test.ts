/**
 * Structured progress (server/jobs/progress.ts): progress events carry numbers beside their
 * message, from a kind (JobControl.progress) and from the job child over IPC; what a child sends
 * is filtered; a time-budgeted training run's first update is `step 1/?` with an unknown total,
 * never `step 1/0` read as 100 %; a validation's row survives the coalescing.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { demoTask } from "../../data/demo-task.js";
import { createServer, type HatServer } from "../../server/app.js";
import { hashToken } from "../../server/auth.js";
import { linePosition, MAX_PROGRESS_FIELDS, positionFraction, progressData, trainProgressData } from "../../server/jobs/progress.js";
import { progressLine, type Progress } from "../../train/pipeline.js";

const ADMIN = "progress-admin";
let dir = "";
let s: HatServer;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "hat-progress-"));
  s = createServer({ dataDir: dir, adminTokenHash: hashToken(ADMIN), log: () => {} });
});

afterAll(async () => {
  await s.close();
  rmSync(dir, { recursive: true, force: true });
});

const first: Progress = { step: 1, totalSteps: 0, loss: 7.5, lr: 1e-7, tokensPerSec: 900, elapsedSec: 0.4, etaSec: 0 };

describe("progress numbers", () => {
  it("a total of 0 is unknown: `step 1/?` and no fraction, not `step 1/0` and 100 %", () => {
    expect(progressLine(first)).toMatch(/ step 1\/\? loss 7\.500 /);
    expect(progressLine({ ...first, step: 5, totalSteps: 40 })).toMatch(/ step 5\/40 /);
    // the runner's scraping of a child's own output: "step 1/0" used to read as 1/max(1, 0) = 100 %
    expect(linePosition("[....] step 1/0 loss 7.5")).toEqual({ done: 1, total: 0, fraction: undefined });
    expect(linePosition("update 3/12 loss 4")).toEqual({ done: 3, total: 12, fraction: 0.25 });
    expect(linePosition("no position here")).toBeUndefined();
    expect(positionFraction(12, 10)).toBe(1);
    expect(positionFraction(3, 0)).toBeUndefined();
  });

  it("a training update as numbers; total_steps and the time left null while unknown", () => {
    expect(trainProgressData(first)).toEqual({ step: 1, total_steps: null, loss: 7.5, lr: 1e-7, tokens_per_sec: 900, elapsed_s: 0.4, eta_s: null });
    expect(trainProgressData({ ...first, step: 20, totalSteps: 100, etaSec: 30, validLoss: 6.1 })).toMatchObject({ total_steps: 100, eta_s: 30, valid_loss: 6.1 });
  });

  it("keeps only named finite numbers (or null), at most MAX_PROGRESS_FIELDS", () => {
    expect(progressData({ done: 3, total: null, bad: NaN, inf: Infinity, s: "x", o: {}, "no-dash": 1, Upper: 1 })).toEqual({ done: 3, total: null });
    expect(progressData("x")).toBeUndefined();
    expect(progressData([1, 2])).toBeUndefined();
    expect(progressData({ s: "text" })).toBeUndefined();
    const many = Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`f${i}`, i]));
    expect(Object.keys(progressData(many)!)).toHaveLength(MAX_PROGRESS_FIELDS);
  });
});

describe("progress events", () => {
  it("a kind's progress numbers are stored with the event; a validation's row is not coalesced away", async () => {
    s.runner.register({
      kind: "numbers", exclusive: false, summary: "test", params: z.strictObject({}),
      async run(_p, ctl) {
        ctl.progress(0.1, "step 1/10", { step: 1, total_steps: 10, loss: 5, bogus: Number.NaN } as never);
        ctl.progress(0.2, "step 2/10", { step: 2, total_steps: 10, loss: 4.5, valid_loss: 4.8 });
        ctl.progress(0.3, "step 3/10", { step: 3, total_steps: 10, loss: 4.2 }); // within the second: the validation row stays
        ctl.progress(0.4, "step 4/10", { step: 4, total_steps: 10, loss: 4.0 });
        return {};
      },
    });
    const job = s.runner.create("numbers", {});
    const done = await s.runner.settled(job.id);
    expect(done.state).toBe("done");
    const rows = s.runner.events(job.id).filter((e) => e.type === "progress").map((e) => e.data);
    expect(rows[0]).toEqual({ fraction: 0.1, message: "step 1/10", data: { step: 1, total_steps: 10, loss: 5 } });
    expect(rows.map((r) => (r.data as { step: number }).step)).toEqual([1, 2, 4]);
    expect(rows[1].data).toEqual({ step: 2, total_steps: 10, loss: 4.5, valid_loss: 4.8 });
  });

  it("a training job with a time budget: numbers from the child over IPC and SSE, the total unknown at first, never 100 % at the start", async () => {
    const t = demoTask({ seed: 1, train: 120, valid: 10, test: 10 });
    const split = (x: { src: string[]; tgt: string[] }) => ({ src: x.src.join("\n"), tgt: x.tgt.join("\n") });
    const res = await s.app.request("/v1/datasets", {
      method: "POST", headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "tiny", splits: { train: split(t.train), valid: split(t.valid) } }),
    });
    expect(res.status).toBe(201);
    const ds = (await res.json()) as { id: string };
    const job = s.runner.create("train", { dataset: ds.id, space: "demo", minutes: 0.04, vocab_size: 300, max_tokens: 128, threads: 1, seed: 1 });
    const done = await Promise.race([s.runner.settled(job.id), new Promise<never>((_, rej) => setTimeout(() => rej(new Error("train did not finish")), 60_000))]);
    expect(done.state, done.error ?? "").toBe("done");

    const sse = await s.app.request(`/v1/jobs/${job.id}/events`, { headers: { authorization: `Bearer ${ADMIN}` } });
    const text = await sse.text();
    const progress = text.split("\n\n").filter((b) => b.includes("event: progress"))
      .map((b) => JSON.parse(/^data: (.*)$/m.exec(b)![1]) as { fraction: number | null; message: string; data?: Record<string, number | null> });
    expect(progress.length).toBeGreaterThanOrEqual(2);
    for (const p of progress) {
      expect(p.message).not.toMatch(/step \d+\/0\b/);
      expect(p.data).toMatchObject({ step: expect.any(Number), loss: expect.any(Number), lr: expect.any(Number), tokens_per_sec: expect.any(Number) });
    }
    // the first update: the total is not known yet, so neither is the fraction
    expect(progress[0].data).toMatchObject({ step: 1, total_steps: null, eta_s: null });
    expect(progress[0].fraction).toBeNull();
    expect(progress[0].message).toMatch(/step 1\/\?/);
    const known = progress.filter((p) => p.data!.total_steps !== null);
    expect(known.length).toBeGreaterThan(0);
    for (const p of known) expect(p.fraction).toBeCloseTo(Math.min(1, p.data!.step! / p.data!.total_steps!), 6);
    expect(done.progress).toBeLessThanOrEqual(1);
  });
});
