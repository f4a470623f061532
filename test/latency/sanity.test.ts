/**
 * Predictors that refuse to be silly (issue 12, item 3): a minimum of rows, a floor on
 * predictions, RMSE intervals and a verdict against linear regression that needs them, the
 * simplest model that is as good, and impossible orderings checked on sampled pairs.
 */
import { describe, expect, it } from "vitest";
import { largestArch, sampleArch, smallestArch } from "../../runtime/arch-sample.js";
import { mulberry32 } from "../../runtime/rng.js";
import { DEMO_SPACE } from "../../runtime/spaces.js";
import type { Arch } from "../../runtime/types.js";
import { LatencyDataError } from "../../latency/dataset.js";
import { HAT_LATENCY_SPACE } from "../../latency/features.js";
import { fitPredictor, minimumRows, minimumRowsForSpace, splitIndices } from "../../latency/fit.js";
import { featureRank } from "../../latency/linear.js";
import { compareRmse, rmseInterval } from "../../latency/metrics.js";
import { archAtMost, archBelow, monotonicityCheck } from "../../latency/monotonicity.js";
import { Predictor } from "../../latency/predictor.js";
import { syntheticRows } from "./synthetic.js";
import { checkFeasible, InfeasibleConstraintError, LatencyTable } from "../../search/constraint.js";
import { GeneLayout } from "../../search/genome.js";

const quiet = { log: () => {}, maxEpochs: 300, patience: 60 };
const total = (a: Arch) => a.encoderEmbedDim + a.decoderEmbedDim + [...a.encoderFfnDims, ...a.decoderFfnDims].reduce((s, x) => s + x / 8, 0)
  + [...a.encoderHeads, ...a.decoderSelfHeads, ...a.decoderCrossHeads, ...a.decoderEndeLayers].reduce((s, x) => s + x, 0);

describe("the defects of issue 12 (these fitted before the fix)", () => {
  it("a 20-row noisy campaign (2-row test split 'better than linear', predictions down to -42 ms) is refused, saying how many more rows to measure", async () => {
    // before: resolved with test 2 rows, vs_linear "better", 2,970 of 20,000 archs of the space predicted negative
    const rows = syntheticRows(20, 4, 0.3, DEMO_SPACE);
    const fit = fitPredictor(rows, { ...quiet, space: DEMO_SPACE, seed: 4 });
    await expect(fit).rejects.toThrow(LatencyDataError);
    await expect(fitPredictor(rows, { ...quiet, space: DEMO_SPACE, seed: 4 })).rejects.toThrow(/^20 rows: a predictor needs 36 training rows \(3 per coefficient; 12 coefficients: the 22 sums features are of rank 11 over the space, and the intercept\) and 10 validation and 10 test rows, after outliers: at least 56 rows; measure 36 more/);
  });

  it("a 30-row campaign of the hat-latency space (3-row test split reported 'better') is refused", async () => {
    await expect(fitPredictor(syntheticRows(30, 1, 0.02, HAT_LATENCY_SPACE), { ...quiet, space: HAT_LATENCY_SPACE, seed: 1 })).rejects.toThrow(/^30 rows: .* at least 74 rows; measure 44 more/);
  });

  it("a 3-row comparison never says 'better', even when one model wins on every row", () => {
    const measured = [10, 20, 30], a = [10.1, 20.1, 30.1], b = [12, 22, 32];
    const c = compareRmse(measured, a, b);
    expect(c.ratio).toBeLessThan(0.1);
    expect(c.ratio_ci[1]).toBeLessThan(1); // the interval alone would say so
    expect(c.verdict).toBe("tie");
    const ten = Array.from({ length: 10 }, (_, i) => 10 + i);
    expect(compareRmse(ten, ten.map((x) => x + 0.1), ten.map((x, i) => x + (i % 2 ? 2 : -2))).verdict).toBe("better");
    expect(compareRmse(ten, ten.map((x, i) => x + (i % 2 ? 2 : -2)), ten.map((x) => x + 0.1)).verdict).toBe("worse");
  });

  it("predictions are never negative: a linear part that extrapolates below zero is clamped at the floor; version 1 files at 0", async () => {
    const { predictor } = await fitPredictor(syntheticRows(120, 3, 0.05, DEMO_SPACE), { ...quiet, space: DEMO_SPACE, seed: 3 });
    const j = predictor.toJSON() as Record<string, any>;
    expect(j.version).toBe(2);
    expect(j.floor.fraction).toBe(0.5);
    expect(j.floor.ms).toHaveLength(2);
    expect(j.floor.ms.every((x: number) => x > 0)).toBe(true);
    const archs = [smallestArch(DEMO_SPACE), largestArch(DEMO_SPACE)];
    const sunk: Record<string, any> = { ...j, linear: { ...j.linear, b: j.linear.b.map(() => -1000) } };
    const p = Predictor.fromJSON(sunk).predictParts(archs);
    expect(Array.from(p.encoder!)).toEqual([j.floor.ms[0], j.floor.ms[0]]);
    expect(Array.from(p.decoder!)).toEqual([j.floor.ms[1], j.floor.ms[1]]);
    // an older file (version 1: no floor, an MLP): loads, and predicts 0 rather than -2000 ms
    const v1: Record<string, any> = { ...sunk, version: 1, mlp: sunk.mlp ?? { sizes: [22, 2], activation: "relu", layers: [{ w: Buffer.from(new Float32Array(44).buffer).toString("base64"), b: Buffer.from(new Float32Array(2).buffer).toString("base64") }] } };
    delete v1.floor;
    delete v1.model;
    const old = Predictor.fromJSON(v1);
    expect(old.model).toBe("mlp");
    expect(Array.from(old.predict(archs))).toEqual([0, 0]);
    // and a 0.001 ms constraint is no longer feasible (it was: the space reached negative latencies)
    const table = new LatencyTable([{ name: "d", model: Predictor.fromJSON(sunk), maxMs: 0.001 }]);
    expect(() => checkFeasible(new GeneLayout(DEMO_SPACE), table, { seed: 1 })).toThrow(InfeasibleConstraintError);
  });
});

describe("enough rows", () => {
  it("the rank of the features: constant and dependent columns add nothing", () => {
    const r = mulberry32(1);
    const X = Array.from({ length: 50 }, () => { const a = r(), b = r(); return [a, b, 7, 2 * a - b, a * b]; });
    expect(featureRank(X)).toBe(3);
    expect(featureRank(X.slice(0, 3))).toBe(2); // 3 rows span 2 dimensions once centred
    expect(minimumRows(X)).toMatchObject({ coefficients: 4, min_train: 12, min_holdout: 10, min_rows: 32 });
  });

  it("validation and test get at least 10 rows each; at the minimum a fit goes through, with predictions above the floor everywhere", async () => {
    const [tr, va, te] = splitIndices(56, 1);
    expect([tr.length, va.length, te.length]).toEqual([36, 10, 10]);
    const { predictor, report } = await fitPredictor(syntheticRows(56, 4, 0.3, DEMO_SPACE), { ...quiet, space: DEMO_SPACE, seed: 4 });
    expect(report.test).toBe(10);
    expect(report.min_rows).toMatchObject({ coefficients: 12, min_train: 36, min_rows: 56 });
    expect(minimumRowsForSpace(DEMO_SPACE, "sums", 4)).toEqual(report.min_rows); // what a campaign is told to measure
    const r = mulberry32(77);
    const p = predictor.predict(Array.from({ length: 20000 }, () => sampleArch(DEMO_SPACE, r)));
    expect(Math.min(...p)).toBeGreaterThanOrEqual(report.floor_ms[0] + report.floor_ms[1]);
    expect(report.floor_ms[0] + report.floor_ms[1]).toBeGreaterThan(0);
  });

  it("outliers in a holdout: it is extended to 10 usable rows; too few rows left: refused, with how many more to measure", async () => {
    const rows = syntheticRows(80, 2, 0.003, DEMO_SPACE);
    const [, , test] = splitIndices(80, 1);
    const spike = (i: number) => { rows[i] = { ...rows[i], encoder_ms: rows[i].encoder_ms * 4, decoder_ms: rows[i].decoder_ms * 4 }; };
    for (const i of test.slice(0, 4)) spike(i);
    const { report } = await fitPredictor(rows, { ...quiet, space: DEMO_SPACE, seed: 1 });
    expect(report.outliers_dropped).toBe(4);
    expect([report.val, report.test]).toEqual([10, 10]);
    expect(report.train).toBe(56);
    // 64 rows, 9 of them spikes: 55 usable, under the 56 the demo space needs
    const few = syntheticRows(64, 2, 0.003, DEMO_SPACE).map((r, i) => (i % 7 === 5 ? { ...r, encoder_ms: r.encoder_ms * 4, decoder_ms: r.decoder_ms * 4 } : r));
    await expect(fitPredictor(few, { ...quiet, space: DEMO_SPACE, seed: 1 })).rejects.toThrow(/too few rows left after outliers \(9 dropped\): 35 train, 10 validation, 10 test; a predictor needs 36 training rows .*; measure about \d+ more/);
  });
});

describe("intervals and the model kept", () => {
  it("rmseInterval: seeded, holds the RMSE, narrows with more rows", () => {
    const r = mulberry32(3);
    const m = Array.from({ length: 400 }, () => 10 + r()), p = m.map((x) => x + (r() - 0.5));
    const [lo, hi] = rmseInterval(m, p, 1);
    const rm = Math.sqrt(m.reduce((s, x, i) => s + (p[i] - x) ** 2, 0) / m.length);
    expect(lo).toBeLessThan(rm);
    expect(hi).toBeGreaterThan(rm);
    expect(rmseInterval(m, p, 1)).toEqual([lo, hi]);
    const [lo10, hi10] = rmseInterval(m.slice(0, 10), p.slice(0, 10), 1);
    expect(hi10 - lo10).toBeGreaterThan(2 * (hi - lo));
  });

  it("linear data: the predictor kept is the linear part alone (no mlp in its file), and it round-trips", async () => {
    // latency linear in the sums features: nothing for the MLP to add
    const rows = syntheticRows(200, 5, 0.02, HAT_LATENCY_SPACE).map((row) => {
      const a = row.arch!;
      const enc = 1 + a.encoderFfnDims.reduce((s, f) => s + f / 500, 0), dec = 2 + a.decoderFfnDims.reduce((s, f) => s + f / 300, 0) + a.decoderLayers;
      return { ...row, encoder_ms: enc * (1 + 0.02 * Math.sin(row.features[2])), decoder_ms: dec };
    });
    const { predictor, report } = await fitPredictor(rows, { ...quiet, space: HAT_LATENCY_SPACE, seed: 1 });
    expect(report.model).toBe("linear");
    expect(report.model_choice.verdict).not.toBe("better");
    expect(report.test_metrics.rmse_ms).toBeCloseTo(report.linear_metrics.rmse_ms, 9);
    const j = predictor.toJSON() as Record<string, unknown>;
    expect(j.model).toBe("linear");
    expect(j.mlp).toBeUndefined();
    const back = Predictor.fromJSON(JSON.parse(JSON.stringify(j)));
    const r = mulberry32(4);
    const archs = Array.from({ length: 300 }, () => sampleArch(HAT_LATENCY_SPACE, r));
    expect(back.predict(archs)).toEqual(predictor.predict(archs));
    // parts without `model` and without layers (a copy of a linear predictor's parts) are the linear part alone
    const copy = new Predictor({ device: "d", space: back.space, features: back.features, linear: back.linear, target: back.target, floor: back.floor, sizes: [22, 2], weights: [], testSet: { measured: [], predicted: [] } });
    expect(copy.model).toBe("linear");
    expect(Predictor.fromJSON(JSON.parse(JSON.stringify(copy.toJSON()))).predict(archs)).toEqual(predictor.predict(archs));
    expect(() => Predictor.fromJSON({ ...j, mlp: { sizes: [22, 2], activation: "relu", layers: [] } })).toThrow(/mlp: present, but model is "linear"/);
    expect(() => Predictor.fromJSON({ ...j, floor: undefined })).toThrow(/floor: missing/);
    expect(() => Predictor.fromJSON({ ...j, model: "forest" })).toThrow(/model: "forest"/);
  });
});

describe("impossible orderings", () => {
  it("archBelow: an architecture of the space at most the given one in every dimension", () => {
    const r = mulberry32(2);
    for (let i = 0; i < 300; i++) {
      const b = sampleArch(HAT_LATENCY_SPACE, r), a = archBelow(b, HAT_LATENCY_SPACE, r);
      expect(archAtMost(a, b)).toBe(true);
    }
    expect(archAtMost(largestArch(DEMO_SPACE), smallestArch(DEMO_SPACE))).toBe(false);
  });

  it("counts the pairs predicted the wrong way round; the smallest against the largest", () => {
    const up = monotonicityCheck((as) => as.map(total), HAT_LATENCY_SPACE, { pairs: 500 });
    expect(up).toMatchObject({ pairs: 500, violations: 0, fraction: 0, smallest_slower_than_largest: false });
    const down = monotonicityCheck((as) => as.map((a) => 1e4 - total(a)), HAT_LATENCY_SPACE, { pairs: 500 });
    expect(down.fraction).toBeGreaterThan(0.9);
    expect(down.smallest_slower_than_largest).toBe(true);
    expect(monotonicityCheck((as) => as.map((a) => 1e4 - total(a)), HAT_LATENCY_SPACE, { pairs: 500, seed: 1 })).toEqual(down);
  });

  it("the fit reports them and warns (the synthetic latency gets faster with more decoder self-attention heads)", async () => {
    const { report } = await fitPredictor(syntheticRows(120, 1, 0.003, DEMO_SPACE), { ...quiet, space: DEMO_SPACE, seed: 1 });
    expect(report.monotonicity!.pairs).toBe(2000);
    expect(report.monotonicity!.fraction).toBeGreaterThan(0.05);
    expect(report.warnings.join("\n")).toMatch(/impossible orderings: in \d+ of 2000 sampled pairs/);
    const none = await fitPredictor(syntheticRows(120, 1, 0.003, DEMO_SPACE), { ...quiet, seed: 1 });
    expect(none.report.monotonicity).toBeNull();
    expect(none.report.warnings.join("\n")).toMatch(/no space given/);
  });
});
