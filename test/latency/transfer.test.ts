/**
 * latency/transfer.ts: the seeded draw, a transfer that must recover a known transform of the
 * prior, spikes among the few rows, the predictor file it writes, bad input; and HAT's Xeon -> Pi
 * (skipped without ../shared).
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readTrainingRows, type LatencyRow } from "../../latency/dataset.js";
import { encodeRow, HAT_LATENCY_SPACE } from "../../latency/features.js";
import { fitPredictor } from "../../latency/fit.js";
import { Predictor } from "../../latency/predictor.js";
import { drawRows, fitFewShot, partColumns, TransferError } from "../../latency/transfer.js";
import { DEMO_SPACE } from "../../runtime/spaces.js";
import { hasShared, sharedData } from "../helpers.js";
import { syntheticRows } from "./synthetic.js";

const quiet = { maxEpochs: 0, space: HAT_LATENCY_SPACE, device: "device A" }; // the linear fit: fast, and exact to reason about

/** Rows of a second device: encoder 3x the prior's + 1 ms, decoder 0.5x + 2 ms + a cost the prior does not weigh (layers x embed x FFN / 2e5). */
function deviceB(rows: readonly LatencyRow[], prior: Predictor, noise = 0): LatencyRow[] {
  const p = prior.predictRowsParts(rows);
  const dff = rows.map((r) => r.features[5] * r.features[4] * r.features[6]);
  let s = 7;
  const rnd = () => ((s = (s * 16807) % 2147483647) / 2147483647 - 0.5) * 2 * noise;
  return rows.map((r, i) => ({ ...r, encoder_ms: 3 * p.encoder![i] + 1 + rnd(), decoder_ms: 0.5 * p.decoder![i] + 2 + dff[i] / 2e5 + rnd() }));
}

describe("drawRows", () => {
  it("is seeded, distinct, in range, and the draw of k starts the draw of any larger k", () => {
    const a = drawRows(500, 20, 3), b = drawRows(500, 20, 3), c = drawRows(500, 20, 4), big = drawRows(500, 60, 3);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(new Set(a).size).toBe(20);
    expect(a.every((i) => Number.isInteger(i) && i >= 0 && i < 500)).toBe(true);
    expect(big.slice(0, 20)).toEqual(a);
    expect(drawRows(5, 5, 1).sort()).toEqual([0, 1, 2, 3, 4]);
    expect(() => drawRows(5, 6, 1)).toThrow(RangeError);
    expect(() => drawRows(5, 0, 1)).toThrow(RangeError);
  });
});

describe("fitFewShot", async () => {
  const rowsA = syntheticRows(600, 11, 0.003);
  const { predictor: prior } = await fitPredictor(rowsA, quiet);
  const rowsB = deviceB(syntheticRows(400, 12, 0.003), prior, 0.05);

  it("recovers per-part scales of a known transform from 20 rows, where a scale-and-offset of the total cannot", () => {
    const { predictor, report } = fitFewShot(rowsB, prior, { trainRows: 20, seed: 5 });
    const t = report.transfer!;
    expect(t.outputs).toEqual(["encoder", "decoder"]);
    expect(t.scale[0]).toBeGreaterThan(2.7);
    expect(t.scale[0]).toBeLessThan(3.3);
    expect(report.train_rows).toBe(20);
    expect(report.test_rows).toBe(380);
    // the decoder's extra cost is a part term (dec_sum_embed_x_ffn): the correction picks it up
    expect(t.test.rmse_ms).toBeLessThan(0.2);
    expect(t.test.kendall_tau).toBeGreaterThan(0.99);
    expect(report.scale_offset!.test.rmse_ms).toBeGreaterThan(3 * t.test.rmse_ms);
    expect(t.test.kendall_tau).toBeGreaterThan(report.scale_offset!.test.kendall_tau);
    expect(t.test.rmse_ms).toBeLessThan(report.plain.test.rmse_ms);
    // an ordinary predictor file, saying where it came from
    const again = Predictor.fromJSON(JSON.parse(JSON.stringify(predictor.toJSON())));
    const test = rowsB.filter((_, i) => !report.drawn.includes(i));
    const direct = again.predictRows(test);
    const measured = test.map((r) => r.encoder_ms + r.decoder_ms);
    const rmse = Math.sqrt(measured.reduce((s, m, i) => s + (m - direct[i]) ** 2, 0) / measured.length);
    expect(rmse).toBeCloseTo(t.test.rmse_ms, 6);
    expect(again.space).toEqual(HAT_LATENCY_SPACE);
    const fit = again.fit as { kind: string; transfer: { train_rows: number; seed: number; prior: { device: string } } };
    expect(fit.kind).toBe("transfer");
    expect(fit.transfer.train_rows).toBe(20);
    expect(fit.transfer.seed).toBe(5);
    expect(fit.transfer.prior.device).toBe("device A");
    expect(again.predictParts([]).total.length).toBe(0);
  });

  it("an MLP prior: the file's MLP is the prior's, its output rescaled per part, and the file predicts what the fit did", () => {
    // the linear prior plus an MLP of nonzero weights: a prior whose residual network matters
    const parts = prior.toParts();
    const K = parts.sizes[0];
    let s = 3;
    const rnd = (n: number, scale: number) => Float32Array.from({ length: n }, () => ((s = (s * 16807) % 2147483647) / 2147483647 - 0.5) * scale);
    const mlpPrior = new Predictor({
      ...parts, model: "mlp", sizes: [K, 8, 2], weights: [{ w: rnd(K * 8, 0.6), b: rnd(8, 0.2) }, { w: rnd(16, 0.6), b: rnd(2, 0.2) }],
      target: { kind: "split", mean: [0.1, -0.2], std: [0.5, 2] },
    });
    const rows = deviceB(syntheticRows(400, 13, 0.003), mlpPrior, 0.05);
    const { predictor, report } = fitFewShot(rows, mlpPrior, { trainRows: 20, seed: 2 }); // throws if the file disagrees with the fit
    expect(predictor.model).toBe("mlp");
    expect(predictor.sizes).toEqual([K, 8, 2]);
    expect(report.transfer!.scale[0]).toBeCloseTo(3, 0);
    expect(report.transfer!.test.kendall_tau).toBeGreaterThan(0.99);
    // the floor is this device's (half its smallest latency per part among the rows fitted), not the prior's
    const kept = report.drawn.map((i) => rows[i]);
    expect(predictor.floor.ms[0]).toBeLessThanOrEqual(0.5 * Math.min(...kept.map((r) => r.encoder_ms)) + 1e-9);
    expect(predictor.floor.ms[0]).toBeGreaterThan(0);
  });

  it("the same seed draws the same rows and fits the same; another seed draws others", () => {
    const a = fitFewShot(rowsB, prior, { trainRows: 20, seed: 5 }).report, b = fitFewShot(rowsB, prior, { trainRows: 20, seed: 5 }).report;
    const c = fitFewShot(rowsB, prior, { trainRows: 20, seed: 6 }).report;
    expect(a.drawn).toEqual(b.drawn);
    expect(a.transfer!.test).toEqual(b.transfer!.test);
    expect(c.drawn).not.toEqual(a.drawn);
  });

  it("leaves out spikes among the drawn rows (a 10x encoder, a 2x decoder) and still recovers the transform", () => {
    const drawn = drawRows(rowsB.length, 20, 5);
    const spiked = rowsB.map((r) => ({ ...r }));
    spiked[drawn[2]].encoder_ms *= 10;
    spiked[drawn[7]].decoder_ms *= 2;
    const clean = fitFewShot(rowsB, prior, { trainRows: 20, seed: 5 }).report;
    const r = fitFewShot(spiked, prior, { trainRows: 20, seed: 5 }).report;
    expect(r.train_dropped).toBeGreaterThanOrEqual(2);
    expect(r.transfer!.test.rmse_ms).toBeLessThan(1.5 * clean.transfer!.test.rmse_ms + 0.05);
  });

  it("without a prior: the plain fit on the N rows, in an ordinary predictor file", () => {
    const { predictor, report } = fitFewShot(rowsB, undefined, { trainRows: 20, seed: 5, space: HAT_LATENCY_SPACE });
    expect(report.model).toBe("plain");
    expect(report.transfer).toBeUndefined();
    const again = Predictor.fromJSON(JSON.parse(JSON.stringify(predictor.toJSON())));
    expect((again.fit as { kind: string }).kind).toBe("few-rows");
    expect(again.predictRows(rowsB.slice(0, 3))[0]).toBeCloseTo(predictor.predictRows(rowsB.slice(0, 3))[0], 9);
  });

  it("refuses bad input with a TransferError naming the field", () => {
    const cases: [() => unknown, RegExp][] = [
      [() => fitFewShot(rowsB, prior, { trainRows: 3 }), /--train-rows must be an integer >= 5, got 3/],
      [() => fitFewShot(rowsB, prior, { trainRows: 2.5 }), /--train-rows must be an integer/],
      [() => fitFewShot(rowsB.slice(0, 25), prior, { trainRows: 20 }), /25 rows: --train-rows 20 leaves 5 to evaluate on, and at least 10 are needed \(measure 5 more/],
      [() => fitFewShot(rowsB, prior, { trainRows: 20, space: DEMO_SPACE }), /--space: the prior was fitted for another space/],
      [() => fitFewShot(rowsB, prior, { trainRows: 20, features: "hat" }), /--features: the prior reads the 'sums' features, not 'hat'/],
    ];
    for (const [f, re] of cases) {
      expect(f).toThrow(TransferError);
      expect(f).toThrow(re);
    }
  });

  it("a 'layers' prior needs rows with their architecture", async () => {
    const { predictor: layersPrior } = await fitPredictor(rowsA, { ...quiet, features: "layers" });
    const noArch = rowsB.map(({ arch: _, ...r }) => r);
    expect(() => fitFewShot(noArch, layersPrior, { trainRows: 20 })).toThrow(/'layers' features, which need each row's architecture/);
    expect(fitFewShot(rowsB, layersPrior, { trainRows: 20 }).report.transfer!.test.kendall_tau).toBeGreaterThan(0.95);
  });

  it("part terms: the encoder's read no decoder choice and the reverse; HAT's 10 fall back to all features", () => {
    const spec = { kind: "sums" as const, maxEncoderLayers: 6, maxDecoderLayers: 6 };
    const row = rowsA[0];
    const x = encodeRow(row, spec);
    const changed = encodeRow({ ...row, features: row.features.map((v, k) => (k >= 4 ? v * 2 : v)) }, spec); // every decoder feature doubled
    for (const k of partColumns(spec, "encoder")) expect(changed[k], `feature ${k}`).toBe(x[k]);
    expect(partColumns({ ...spec, kind: "hat" }, "decoder")).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });
});

describe.skipIf(!hasShared)("HAT's datasets: En-De Xeon -> En-De Raspberry Pi, 20 rows", () => {
  it("within reach of the full-data fit (tau >= 0.95) and far better than the prior's scale-and-offset", async () => {
    const dir = join(sharedData, "hat-latency");
    const xeon = readTrainingRows([join(dir, "wmt14ende_cpu_xeon_all.csv")]), pi = readTrainingRows([join(dir, "wmt14ende_cpu_raspberrypi_all.csv")]);
    const { predictor: prior } = await fitPredictor(xeon, { maxEpochs: 0, space: HAT_LATENCY_SPACE });
    for (const seed of [1, 2, 3]) {
      const r = fitFewShot(pi, prior, { trainRows: 20, seed }).report;
      expect(r.test_rows).toBeGreaterThan(1750); // 2000 - 20 drawn - the outlier rule's ~190
      expect(r.transfer!.test.kendall_tau, `seed ${seed}`).toBeGreaterThan(0.95);
      expect(r.transfer!.test.rmse_ms, `seed ${seed}`).toBeLessThan(0.5 * r.scale_offset!.test.rmse_ms);
      expect(r.transfer!.test.rmse_ms, `seed ${seed}`).toBeLessThan(120); // the full fit: 53.6 ms
    }
  }, 60_000);
});
