/**
 * latency/fit.ts and latency/predictor.ts: the MLP beats linear regression where the latency is
 * not linear in the features, the file round-trips to identical predictions, malformed files and
 * architectures outside the space are refused.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { ArchError } from "../../runtime/arch-error.js";
import { largestArch, sampleArch, smallestArch } from "../../runtime/arch-sample.js";
import { DEMO_SPACE, HAT_WMT_SPACE } from "../../runtime/spaces.js";
import { mulberry32 } from "../../runtime/rng.js";
import { fitPredictor, splitIndices, type FitReport } from "../../latency/fit.js";
import { HAT_LATENCY_SPACE } from "../../latency/features.js";
import { Predictor, PredictorError } from "../../latency/predictor.js";
import { verifyPredictor } from "../../latency/verify.js";
import { protocolOf } from "../../runtime/protocol.js";
import { archKey } from "../../runtime/arch-features.js";
import { syntheticLatency, syntheticRows } from "./synthetic.js";

const dir = mkdtempSync(join(tmpdir(), "hat-predictor-"));
const quiet = { log: () => {}, maxEpochs: 300, patience: 60 };

describe("latency predictor", () => {
  let hat: { predictor: Predictor; report: FitReport };
  beforeAll(async () => {
    hat = await fitPredictor(syntheticRows(500, 1), { ...quiet, features: "hat", hidden: [32, 32], space: HAT_LATENCY_SPACE, device: "synthetic" });
  });

  it("split: seeded 8:1:1, disjoint, covering every row", () => {
    const [tr, va, te] = splitIndices(500, 3);
    expect([tr.length, va.length, te.length]).toEqual([400, 50, 50]);
    expect(new Set([...tr, ...va, ...te]).size).toBe(500);
    expect(splitIndices(500, 3)).toEqual([tr, va, te]);
    expect(splitIndices(500, 4)[2]).not.toEqual(te);
  });

  it("on HAT's 10 features, the MLP beats linear regression on a latency with products", () => {
    const r = hat.report;
    expect(r.features).toBe("hat");
    expect([r.train, r.val, r.test]).toEqual([400, 50, 50]);
    expect(r.test_metrics.rmse_ms).toBeLessThan(0.7 * r.linear_metrics.rmse_ms);
    expect(r.beats_linear).toBe(true);
    expect(r.test_metrics.kendall_tau).toBeGreaterThan(0.95);
    expect(hat.predictor.testSet.measured).toHaveLength(50);
    // predict() on architectures agrees with the function it learnt
    const archs = Array.from({ length: 50 }, ((r) => () => sampleArch(HAT_WMT_SPACE, r))(mulberry32(9)));
    const p = hat.predictor.predict(archs);
    const truth = archs.map((a) => { const l = syntheticLatency(a); return l.encoder + l.decoder; });
    const mape = truth.reduce((s, t, i) => s + Math.abs(p[i] - t) / t, 0) / truth.length;
    expect(mape).toBeLessThan(0.03);
  });

  it("saves and loads: identical predictions; device, space and normalisation kept", async () => {
    const file = join(dir, "p.json");
    writeFileSync(file, JSON.stringify(hat.predictor.toJSON()));
    const back = await Predictor.load(file);
    const archs = Array.from({ length: 1000 }, ((r) => () => sampleArch(HAT_LATENCY_SPACE, r))(mulberry32(5)));
    expect(back.predict(archs)).toEqual(hat.predictor.predict(archs));
    expect(back.device).toBe("synthetic");
    expect(back.space).toEqual(HAT_LATENCY_SPACE);
    expect(back.features.mean).toEqual(hat.predictor.features.mean);
    expect(back.testSet).toEqual(hat.predictor.testSet);
    expect(Predictor.fromJSON(JSON.parse(JSON.stringify(back.toJSON()))).predict(archs)).toEqual(back.predict(archs));
  });

  it("refuses architectures outside its space, and features outside the training range without a space", async () => {
    expect(() => hat.predictor.predict([largestArch(HAT_WMT_SPACE), smallestArch(DEMO_SPACE)])).toThrow(ArchError);
    expect(() => hat.predictor.predict([smallestArch(DEMO_SPACE)])).toThrow(/architecture 0: encoderEmbedDim: 64|architecture 0: encoderEmbedDim: 96/);
    const { space: _, ...noSpace } = hat.predictor.toJSON() as Record<string, unknown>;
    const p = Predictor.fromJSON(noSpace);
    expect(p.space).toBeUndefined();
    expect(() => p.predict([syntheticRows(1, 1)[0].arch!])).not.toThrow(); // a training row: inside the range
    expect(() => p.predict([smallestArch(DEMO_SPACE)])).toThrow(/outside the range the predictor was trained on/);
    const ok = syntheticRows(1, 1)[0].arch!;
    for (const bad of [{ ...ok, decoderFfnDims: [...ok.decoderFfnDims, 1024] }, { ...ok, encoderEmbedDim: Number.NaN }, { ...ok, decoderSelfHeads: undefined }, {}]) {
      expect(() => p.predict([ok, bad as never])).toThrow(ArchError);
    }
    expect(() => p.predict([ok, { ...ok, encoderEmbedDim: Number.NaN }])).toThrow(/architecture 1: encoder_embed_dim: NaN is outside/);
  });

  it("malformed files are refused with a PredictorError naming the problem", async () => {
    const good = hat.predictor.toJSON() as Record<string, any>;
    const text = JSON.stringify(good);
    const file = join(dir, "bad.json");
    writeFileSync(file, text.slice(0, text.length / 2));
    await expect(Predictor.load(file)).rejects.toThrow(/malformed JSON.*truncated/);
    await expect(Predictor.load(join(dir, "missing.json"))).rejects.toThrow(PredictorError);
    const cases: [(o: Record<string, any>) => void, RegExp][] = [
      [(o) => { o.format = "x"; }, /not a latency predictor/],
      [(o) => { o.version = 9; }, /version 9 is not supported/],
      [(o) => { delete o.device; }, /device/],
      [(o) => { o.features.kind = "pixels"; }, /features.kind/],
      [(o) => { o.features.mean = o.features.mean.slice(1); }, /features.mean: 9 values, expected 10/],
      [(o) => { o.features.std[2] = 0; }, /features.std\[2\]: 0 is not positive/],
      [(o) => { o.features.mean[0] = "x"; }, /features.mean\[0\]/],
      [(o) => { o.target.kind = "both"; }, /target.kind/],
      [(o) => { o.mlp.sizes = [10, 32, 32, 3]; }, /needs 2/],
      [(o) => { o.mlp.layers[1].w = o.mlp.layers[1].w.slice(8); }, /mlp.layers\[1\].w: \d+ bytes, expected 4096/],
      [(o) => { o.mlp.layers[0].b = "!!"; }, /not base64/],
      [(o) => { o.linear.w = [[1]]; }, /linear.w/],
      [(o) => { o.space = { qkvDim: 5 }; }, /space:/],
      [(o) => { o.testSet.predicted = [1]; }, /testSet.predicted: 1 values/],
      [(o) => { o.mlp.layers[0].b = Buffer.from(new Float32Array([NaN, ...new Array(31).fill(0)]).buffer).toString("base64"); }, /not finite/],
    ];
    for (const [mutate, re] of cases) {
      const o = JSON.parse(text);
      mutate(o);
      expect(() => Predictor.fromJSON(o), re.source).toThrow(PredictorError);
      expect(() => Predictor.fromJSON(o)).toThrow(re);
    }
  });

  it("epoch 0 is the linear fit exactly, constant features (HAT's encoder layer count) included", async () => {
    const rows = syntheticRows(200, 8); // every arch has 6 encoder layers: a constant feature
    for (const features of ["hat", "sums", "layers"] as const) {
      const { report } = await fitPredictor(rows, { ...quiet, maxEpochs: 0, features });
      expect(report.best_epoch).toBe(0);
      expect(report.test_metrics.rmse_ms, features).toBeCloseTo(report.linear_metrics.rmse_ms, 9);
    }
  });

  it("the richer encodings fit too; too few rows and mixed devices are refused", async () => {
    const rows = syntheticRows(200, 4);
    const sums = await fitPredictor(rows, { ...quiet, maxEpochs: 50, features: "sums", target: "total", hidden: [16] });
    expect(sums.report.test_metrics.mape).toBeLessThan(5);
    const layers = await fitPredictor(rows, { ...quiet, maxEpochs: 50, features: "layers", hidden: [16] });
    expect(layers.predictor.featureNames).toHaveLength(58);
    expect(layers.report.test_metrics.mape).toBeLessThan(5);
    await expect(fitPredictor(rows.slice(0, 10), quiet)).rejects.toThrow(/10 rows: a predictor needs .* at least 50 rows; measure 40 more/);
    const mixed = rows.map((r, i) => ({ ...r, device: { cpu: i % 2 ? "A" : "B", cores: 1, arch: "x64", platform: "linux" } }));
    await expect(fitPredictor(mixed, quiet)).rejects.toThrow(/different devices/);
  });

  it("a predictor fit on an int8 campaign carries its quant (its file too); f32 and int8 rows are not fit together", async () => {
    const protocol = protocolOf({ runs: 3, warmup: 1, vocab: 64, src_len: 4, tgt_len: 3, beam: 2, quant: "int8" });
    const rows = syntheticRows(100, 9).map((r) => ({ ...r, protocol }));
    const { predictor } = await fitPredictor(rows, { ...quiet, maxEpochs: 0 });
    expect(predictor.protocol!.quant).toBe("int8");
    expect(Predictor.fromJSON(JSON.parse(JSON.stringify(predictor))).protocol).toEqual(protocol);
    const mixed = rows.map((r, i) => (i % 2 ? r : { ...r, protocol: { ...protocol, quant: "f32" as const } }));
    await expect(fitPredictor(mixed, quiet)).rejects.toThrow(/different protocols: .*1 thread, (f32|int8).* and .*1 thread, (int8|f32)/);
  });

  it("verify: fresh architectures outside the training data, measured with the predictor's protocol", async () => {
    const protocol = protocolOf({ runs: 3, warmup: 1, vocab: 64, src_len: 4, tgt_len: 3, beam: 2 });
    const rows = syntheticRows(200, 6).map((r) => ({ ...r, protocol }));
    const { predictor } = await fitPredictor(rows, { ...quiet, maxEpochs: 30, space: HAT_LATENCY_SPACE });
    const exclude = new Set(rows.map((r) => archKey(r.arch!)));
    const seen: unknown[] = [];
    const r = await verifyPredictor(predictor, {
      samples: 20, exclude,
      measure: (a, p) => { seen.push(p); const l = syntheticLatency(a); return { encoder_ms: l.encoder, decoder_ms: l.decoder, encoder_std_ms: 0, decoder_std_ms: 0 }; },
    });
    expect(r.archs).toHaveLength(20);
    expect(r.archs.some((a) => exclude.has(archKey(a)))).toBe(false);
    expect(seen.slice(1).every((p) => JSON.stringify(p) === JSON.stringify(protocol))).toBe(true); // after the warm-up
    expect(r.metrics.n).toBe(20);
    expect(r.metrics.mape).toBeLessThan(5);
    // a predictor of HAT's data (no protocol) cannot be verified here
    await expect(verifyPredictor(hat.predictor, { samples: 2, measure: () => { throw new Error("unreachable"); } })).rejects.toThrow(/no protocol/);
  });
});
