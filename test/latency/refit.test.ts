import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { archKey } from "../../runtime/arch-features.js";
import { writeDataset, type LatencyRow } from "../../latency/dataset.js";
import { fitPredictor } from "../../latency/fit.js";
import { Predictor } from "../../latency/predictor.js";
import { refitPredictor } from "../../latency/refit.js";
import { syntheticRows } from "./synthetic.js";

const dir = mkdtempSync(join(tmpdir(), "hat-refit-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("refitPredictor", () => {
  it("fits again with the fit's own settings on the data plus the new rows; a new row of an architecture replaces the old one", async () => {
    const rows = syntheticRows(150, 3, 0.003), data = join(dir, "campaign.csv");
    writeDataset(data, rows);
    const { predictor } = await fitPredictor(rows, { features: "hat", target: "total", seed: 7, maxEpochs: 30, device: "synthetic box" });
    // the loop measured three candidates: two new architectures, one already in the data, 30 % slower than its old row
    const extra = syntheticRows(2, 99, 0.003);
    const again: LatencyRow = { ...rows[5], encoder_ms: rows[5].encoder_ms * 1.3, decoder_ms: rows[5].decoder_ms * 1.3 };
    const out = join(dir, "refit.json");
    const r = await refitPredictor({ predictor, data: [data], rows: [...extra, again], out });
    expect(r.rows).toBe(152); // 150 + 2 new; the re-measured one replaced its row
    expect(r.report.features).toBe("hat");
    expect(r.report.target).toBe("total");
    expect(r.report.seed).toBe(7);
    expect(r.predictor.device).toBe("synthetic box");
    const loaded = await Predictor.load(out);
    expect(Array.from(loaded.predict([again.arch!]))).toEqual(Array.from(r.predictor.predict([again.arch!])));
    expect(new Set([...rows, ...extra].map((x) => archKey(x.arch!))).size).toBe(152);
  });
});
