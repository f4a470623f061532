/**
 * `hat predictor fit --train-rows N [--prior OLD.json] [--full]` in-process: the --json fields, the
 * predictor file (loads, says its prior and rows, usable by predict), and bad input refused with
 * exit code 2.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { hat } from "./hat.js";
import { largestArch } from "../../runtime/arch-sample.js";
import { HAT_WMT_SPACE } from "../../runtime/spaces.js";
import { formatDataset, type LatencyRow } from "../../latency/dataset.js";
import { Predictor } from "../../latency/predictor.js";
import { syntheticRows } from "../latency/synthetic.js";

const dir = mkdtempSync(join(tmpdir(), "hat-fewshot-cli-"));
const strip = (rows: LatencyRow[]) => rows.map(({ arch: _, ...r }) => r); // HAT's layout
const oldCsv = join(dir, "old.csv"), newCsv = join(dir, "new.csv"), smallCsv = join(dir, "small.csv"), prior = join(dir, "old.json");
writeFileSync(oldCsv, formatDataset(strip(syntheticRows(300, 2))));
// the new device: encoder 2x, decoder 0.6x + 3 ms of the same synthetic latency
const transform = (rows: LatencyRow[]) => rows.map((r) => ({ ...r, encoder_ms: 2 * r.encoder_ms, decoder_ms: 0.6 * r.decoder_ms + 3 }));
writeFileSync(newCsv, formatDataset(strip(transform(syntheticRows(200, 3)))));
writeFileSync(smallCsv, formatDataset(strip(transform(syntheticRows(25, 4)))));
const archFile = join(dir, "arch.json");
writeFileSync(archFile, JSON.stringify(largestArch(HAT_WMT_SPACE)));
const last = (out: string) => JSON.parse(out.trim().split("\n").pop()!);
const quick = ["--epochs", "0"];

describe("hat predictor fit --train-rows", () => {
  it("--prior: the transfer beside the scale-and-offset and the plain fit; --full: the full-data fit and the target on the same rows", async () => {
    const p = await hat("predictor", "fit", "--data", oldCsv, "--out", prior, "--space", "hat-latency", "--device", "old device", ...quick);
    expect(p.code, p.err).toBe(0);
    const out = join(dir, "new.json");
    const f = await hat("predictor", "fit", "--data", newCsv, "--prior", prior, "--train-rows", "20", "--seed", "4", "--out", out, "--full", ...quick, "--json");
    expect(f.code, f.err).toBe(0);
    const j = last(f.out);
    expect(j).toMatchObject({ method: "transfer", model: "linear", train_rows: 20, test_rows: 180, seed: 4, prior, prior_device: "old device" });
    for (const k of ["test_rmse_ms", "test_kendall_tau", "test_mape", "scale_offset_test_rmse_ms", "scale_offset_test_kendall_tau", "plain_test_rmse_ms", "full_test_rmse_ms", "full_test_kendall_tau", "same_rows_rmse_ms", "same_rows_full_kendall_tau"]) {
      expect(Number.isFinite(j[k]), k).toBe(true);
    }
    expect(j.scale[0]).toBeCloseTo(2, 1);
    expect(j.test_kendall_tau).toBeGreaterThan(0.98);
    expect(j.test_rmse_ms).toBeLessThan(j.scale_offset_test_rmse_ms);
    expect(typeof j.target_met).toBe("boolean");
    expect(j.same_rows).toBeLessThanOrEqual(20); // the full fit's seed-1 test split (20 of 200), minus the drawn rows

    const loaded = await Predictor.load(out);
    const fit = loaded.fit as { kind: string; transfer: { prior: { file: string; device: string }; train_rows: number } };
    expect(fit.kind).toBe("transfer");
    expect(fit.transfer).toMatchObject({ train_rows: 20, prior: { file: prior, device: "old device" } });
    expect(loaded.testSet.measured).toHaveLength(180);
    const pr = await hat("predictor", "predict", "--model", out, "--arch", archFile, "--json");
    expect(pr.code, pr.err).toBe(0);
    expect(last(pr.out).total_ms).toBeGreaterThan(0);
    // eval on the new data agrees with the fit's own numbers on every row (the 20 drawn included, so not equal)
    const e = await hat("predictor", "eval", "--model", out, "--data", newCsv, "--json");
    expect(e.code, e.err).toBe(0);
    expect(last(e.out).kendall_tau).toBeGreaterThan(0.98);
  });

  it("without --prior: the plain fit on N rows", async () => {
    const f = await hat("predictor", "fit", "--data", newCsv, "--train-rows", "20", "--out", join(dir, "plain.json"), "--space", "hat-latency", "--json");
    expect(f.code, f.err).toBe(0);
    const j = last(f.out);
    expect(j).toMatchObject({ method: "plain", model: "linear", train_rows: 20, test_rows: 180 });
    expect(j.prior).toBeUndefined();
    expect(j.test_kendall_tau).toBeGreaterThan(0.8);
  });

  it("bad input exits with code 2 and one clear line", async () => {
    const x = join(dir, "x.json");
    const layersPrior = join(dir, "layers.json");
    const csvArch = join(dir, "arch.csv");
    writeFileSync(csvArch, formatDataset(syntheticRows(300, 5))); // the layers features (58) need ~200 rows
    expect((await hat("predictor", "fit", "--data", csvArch, "--out", layersPrior, "--space", "hat-latency", "--features", "layers", ...quick)).code).toBe(0);
    const cases: [string[], RegExp][] = [
      [["--data", newCsv, "--prior", prior, "--out", x], /--prior needs --train-rows N/],
      [["--data", newCsv, "--prior", prior, "--train-rows", "x", "--out", x], /--train-rows must be an integer, got 'x'/],
      [["--data", newCsv, "--prior", prior, "--train-rows", "0", "--out", x], /--train-rows must be >= 5, got 0/],
      [["--data", newCsv, "--prior", prior, "--train-rows", "20"], /--out is required/],
      [["--data", smallCsv, "--prior", prior, "--train-rows", "20", "--out", x], /25 rows: --train-rows 20 leaves 5 to evaluate on/],
      [["--data", newCsv, "--prior", prior, "--train-rows", "20", "--out", x, "--space", "demo"], /--space: the prior was fitted for another space/],
      [["--data", newCsv, "--prior", prior, "--train-rows", "20", "--out", x, "--features", "hat"], /--features: the prior reads the 'sums' features, not 'hat'/],
      [["--data", newCsv, "--prior", layersPrior, "--train-rows", "20", "--out", x], /'layers' features, which need each row's architecture/],
      [["--data", newCsv, "--prior", join(dir, "none.json"), "--train-rows", "20", "--out", x], /cannot read/],
      [["--data", newCsv, "--prior", newCsv, "--train-rows", "20", "--out", x], /not a predictor file/],
    ];
    for (const [argv, re] of cases) {
      const r = await hat("predictor", "fit", ...argv);
      expect(r.code, `${argv.join(" ")}: ${r.err}`).toBe(2);
      expect(r.err).toMatch(re);
    }
    expect(() => readFileSync(x)).toThrow(); // nothing written
  });
});
