/**
 * The latency and evolution studies (search/study-latency.ts, search/study-evolution.ts, `hat study
 * latency | evolution`): the baseline families and their members at the constraints, every model
 * measured and fine-tuned with the same protocol and budget, Table 4's ratios from the rows, the
 * evolution against random search at equal evaluations; the JSON, the HTML and the refusals. On
 * a random tiny SuperTransformer with a real tokenizer and a linear predictor file.
 */
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { validateArch } from "../../runtime/arch.js";
import { archKey } from "../../runtime/arch-features.js";
import { largestArch } from "../../runtime/arch-sample.js";
import { atEqualLatency, type LatencyStudy, type ModelRole, type StudyModel } from "../../search/study-latency.js";
import { dimensionFamily, layerFamily, membersAt } from "../../search/study-models.js";
import { hat } from "../cli/hat.js";
import { studyFixture } from "./study-fixture.js";
import { FlopsLatency } from "./synthetic.js";

const fx = studyFixture("hat-study-latency-");
const { space, supernet, files, small } = fx, V = fx.vocab, lat = fx.predictor, pred = fx.predictorFile;
afterAll(() => rmSync(fx.dir, { recursive: true, force: true }));

describe("the baseline families", () => {
  it("scales by layers at the largest widths, by dimension at the largest layer counts; every member valid", () => {
    const big = largestArch(space);
    const layers = layerFamily(space);
    expect(layers.length).toBe(space.encoderLayerChoices.length * space.decoderLayerChoices.length);
    for (const a of layers) {
      expect(validateArch(JSON.parse(JSON.stringify(a)), space)).toEqual(a);
      expect([a.encoderEmbedDim, a.decoderEmbedDim, Math.min(...a.encoderFfnDims), Math.min(...a.decoderFfnDims)]).toEqual([big.encoderEmbedDim, big.decoderEmbedDim, 48, 44]);
    }
    const dims = dimensionFamily(space);
    expect(dims.length).toBe(2 * 2 * 2); // two levels of embed, FFN and heads
    expect(archKey(dims[0])).toBe(archKey(big));
    for (const a of dims) {
      expect(validateArch(JSON.parse(JSON.stringify(a)), space)).toEqual(a);
      expect([a.encoderLayers, a.decoderLayers]).toEqual([3, 3]);
    }
    expect(dims.some((a) => a.encoderEmbedDim === 24 && a.decoderEmbedDim === 28 && a.encoderFfnDims[0] === 20)).toBe(true);
  });

  it("picks, per constraint, the largest member predicted to meet it, else the fastest", () => {
    const f = new FlopsLatency(1, V);
    const fam = dimensionFamily(space), ms = f.predict(fam);
    const sorted = [...ms].sort((a, b) => a - b);
    const at = membersAt(fam, f, [sorted[0] / 2, (sorted[2] + sorted[3]) / 2, sorted[sorted.length - 1] * 2]);
    expect(Array.from(f.predict(at), (x) => Number(x.toFixed(9)))).toEqual([sorted[0], sorted[2], sorted[sorted.length - 1]].map((x) => Number(x.toFixed(9))));
  });
});

describe("atEqualLatency", () => {
  it("names, per searched model, each family's best model no slower (by BLEU, else fine-tuned loss), or none", () => {
    const m = (roles: ModelRole[], usualMs: number, bleu: number | undefined, loss = 1): StudyModel => ({
      arch: largestArch(space), params: 1, flops: 1, predictedMs: usualMs, measuredMs: usualMs * 1.1, usualMs, inheritedLoss: loss, finetunedLoss: loss, bleu, steps: 1, seconds: 1, roles, searchedAtMs: [],
    });
    const models = [m(["searched"], 2, 30), m(["searched"], 1, 25), m(["layers"], 1.5, 28), m(["layers"], 1.9, 27), m(["dimension"], 2.1, 40), m(["dimension", "largest"], 0.5, 20)];
    const s = { models } as LatencyStudy;
    const e = atEqualLatency(s);
    expect(e.map((x) => x.searched.usualMs)).toEqual([1, 2]); // by latency
    expect(e[0].layers).toBeNull(); // both layer models are slower than 1 ms
    expect(e[0].dimension?.usualMs).toBe(0.5);
    expect(e[1].layers?.usualMs).toBe(1.5); // BLEU 28 beats 27, both no slower than 2 ms
    expect(e[1].dimension?.usualMs).toBe(0.5); // the 40-BLEU model is slower (2.1 ms)
    // without BLEU, the lower fine-tuned loss wins
    const byLoss = atEqualLatency({ models: [m(["searched"], 2, undefined, 1), m(["layers"], 1, undefined, 1.2), m(["layers"], 1.5, undefined, 1.1)] } as LatencyStudy);
    expect(byLoss[0].layers?.usualMs).toBe(1.5);
  });
});

describe("hat study latency", () => {
  it("searches at the constraint, measures and fine-tunes every model alike, and compares at equal latency", async () => {
    // one constraint here (each model costs a fine-tuning, ~1 s); three, and the study "all", in test/slow/study.slow.ts
    const limits = [Number((0.8 * lat.predict([largestArch(space)])[0]).toFixed(3))];
    const report = join(fx.dir, "latency.html"), record = join(fx.dir, "latency.json");
    const r = await hat("study", "latency", "--supernet", supernet, "--predictor", pred, ...files, ...small, "--latency-ms", limits.join(","),
      "--finetune-steps", "1", "--lr", "0.002", "--bleu-max", "4", "--measure-runs", "2", "--report", report, "--record", record, "--json");
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.constraints_ms).toEqual(limits);
    expect(j.finetune).toEqual({ steps: 1, lr: 0.002 }); // the budget and the recipe given, the same for every model
    const roles = new Set(j.models.flatMap((m: { roles: string[] }) => m.roles));
    expect([...roles].sort()).toEqual(["dimension", "largest", "layers", "searched"]);
    for (const m of j.models) {
      expect(m.steps).toBe(1);
      expect(m.measured_ms).toBeGreaterThan(0);
      expect(m.usual_ms).toBeLessThanOrEqual(m.measured_ms + 1e-12);
      expect(m.bleu).toBeGreaterThanOrEqual(0);
      expect(m.predicted_ms).toBeCloseTo(lat.predict([m.arch])[0], 6);
      for (const c of m.searched_at_ms) expect(m.predicted_ms).toBeLessThanOrEqual(c + 1e-9);
    }
    // the largest, and a searched model at every constraint
    expect(archKey(j.models.find((m: { roles: string[] }) => m.roles.includes("largest")).arch)).toBe(archKey(largestArch(space)));
    expect(j.models.flatMap((m: { searched_at_ms: number[] }) => m.searched_at_ms).sort()).toEqual([...limits].sort());
    // Table 4's ratios are the rows'
    for (const t of j.table4) {
      const s = j.models[t.searched], big = j.models[t.largest];
      expect(t.speedup).toBeCloseTo(big.usual_ms / s.usual_ms, 9);
      expect(t.params_ratio).toBeCloseTo(big.params / s.params, 9);
      expect(t.bleu_delta).toBeCloseTo(s.bleu - big.bleu, 9);
    }
    // at equal latency: each baseline named runs no slower than its searched model
    expect(j.equal_latency.length).toBe(j.table4.length);
    for (const e of j.equal_latency) for (const b of [e.layers, e.dimension]) if (b !== null) expect(j.models[b].usual_ms).toBeLessThanOrEqual(j.models[e.searched].usual_ms);
    const html = readFileSync(report, "utf8");
    expect((html.match(/<svg/g) ?? []).length).toBe(2); // BLEU and loss against measured latency
    expect(html).toContain("Table 4");
    expect(JSON.parse(readFileSync(record, "utf8")).latency.constraints_ms).toEqual(limits);
  }, 60_000);

  it("refuses a study without the predictor it needs, a bad constraint list and a bad study", async () => {
    const noPred = await hat("study", "latency", "--supernet", supernet, ...files, "--finetune-steps", "1");
    expect(noPred.code).toBe(2);
    expect(noPred.err).toMatch(/needs the device's latency predictor/);
    const bad = await hat("study", "latency", "--supernet", supernet, "--predictor", pred, ...files, "--finetune-steps", "1", "--latency-ms", "3,,x");
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--latency-ms must be a comma-separated list/);
    expect((await hat("study", "nope")).err).toMatch(/known: proxy, latency, evolution, all/);
  });
});

describe("hat study evolution", () => {
  it("runs evolution and random search at equal evaluations per seed, best-so-far curves, wins counted", async () => {
    const report = join(fx.dir, "evo.html");
    const r = await hat("study", "evolution", "--supernet", supernet, "--predictor", pred, ...files, ...small, "--seeds", "1,2", "--report", report, "--json");
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.runs.map((x: { seed: number }) => x.seed)).toEqual([1, 2]);
    let wins = 0;
    for (const run of j.runs) {
      expect(run.random_evaluations).toBe(run.evaluations);
      for (const c of [run.evolution_curve, run.random_curve]) {
        for (let i = 1; i < c.best_loss.length; i++) expect(c.best_loss[i]).toBeLessThanOrEqual(c.best_loss[i - 1]);
        expect(c.evaluations[c.evaluations.length - 1]).toBe(run.evaluations);
      }
      expect(run.evolution_best).toBe(run.evolution_curve.best_loss.at(-1));
      if (run.evolution_best < run.random_best - 1e-9) wins++;
    }
    expect(j.wins).toBe(wins);
    expect(j.wins + j.ties + j.losses).toBe(2);
    // the default constraint: inside the range the space reaches
    expect(j.constraint_ms).toBeGreaterThan(0);
    expect(j.constraint_ms).toBeLessThan(lat.predict([largestArch(space)])[0]);
    expect(readFileSync(report, "utf8")).toMatch(/Fig 9[\s\S]*<svg/);
  }, 30_000);
});
