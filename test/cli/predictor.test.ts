/**
 * `hat predictor fit | eval | predict` and `hat profile-campaign` in-process: --json fields, the
 * predictor file, and bad input refused with exit code 2.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { hat } from "./hat.js";
import { minimumRowsForSpace } from "../../latency/fit.js";
import { validateSpace } from "../../runtime/arch.js";
import { largestArch, smallestArch } from "../../runtime/arch-sample.js";
import { HAT_WMT_SPACE, DEMO_SPACE } from "../../runtime/spaces.js";
import { formatDataset, readDataset } from "../../latency/dataset.js";
import { randomSuperTransformer } from "../../runtime/model.js";
import { TINY_SPACE } from "../helpers.js";
import { syntheticRows } from "../latency/synthetic.js";

const dir = mkdtempSync(join(tmpdir(), "hat-predictor-cli-"));
const data = join(dir, "lat.csv"), model = join(dir, "p.json");
writeFileSync(data, formatDataset(syntheticRows(300, 2).map(({ arch: _, ...r }) => r))); // HAT's layout: no arch column
const archFile = join(dir, "arch.json");
writeFileSync(archFile, JSON.stringify(largestArch(HAT_WMT_SPACE)));
const last = (out: string) => JSON.parse(out.trim().split("\n").pop()!);
const fitArgs = ["--epochs", "40", "--patience", "20", "--hidden", "16,16"];

describe("hat predictor", () => {
  it("fit --json: the test metrics beside linear regression; eval --json; predict", async () => {
    const f = await hat("predictor", "fit", "--data", data, "--out", model, "--space", "hat-latency", "--device", "synthetic", ...fitArgs, "--json");
    expect(f.code, f.err).toBe(0);
    const j = last(f.out);
    for (const k of ["test_rmse_ms", "test_mape", "test_kendall_tau", "linear_rmse_ms"]) expect(typeof j[k], k).toBe("number");
    expect(j).toMatchObject({ n_train: 240, n_val: 30, n_test: 30, features: "sums", target: "split" });
    expect(typeof j.beats_linear).toBe("boolean");
    expect(f.err).toMatch(/test {2}linear/);
    expect(JSON.parse(readFileSync(model, "utf8")).device).toBe("synthetic");
    // issue 12: the test split's size and RMSE interval, the model kept, the orderings
    expect(j.test_rows).toBe(30);
    expect(j.test_rmse_ci_ms).toHaveLength(2);
    expect(j.test_rmse_ci_ms[0]).toBeLessThanOrEqual(j.test_rmse_ms);
    expect(j.test_rmse_ci_ms[1]).toBeGreaterThanOrEqual(j.test_rmse_ms);
    expect(["linear", "mlp"]).toContain(j.model);
    expect(JSON.parse(readFileSync(model, "utf8")).model).toBe(j.model);
    expect(typeof j.monotonicity_violations).toBe("number");
    expect(j.monotonicity.pairs).toBe(2000);
    expect(Array.isArray(j.warnings)).toBe(true);
    const text = await hat("predictor", "fit", "--data", data, "--out", join(dir, "p2.json"), "--space", "hat-latency", "--device", "synthetic", ...fitArgs);
    expect(text.code, text.err).toBe(0);
    expect(text.out).toMatch(/^test \(30 rows\), kept: RMSE .* 95 % interval \[\d+\.\d+, \d+\.\d+\] ms$/m);
    expect(text.out).toMatch(/^orderings: \d+ of 2000 sampled pairs/m);

    const e = await hat("predictor", "eval", "--model", model, "--data", data, "--json");
    expect(e.code, e.err).toBe(0);
    const m = last(e.out);
    expect(m.n).toBe(300);
    for (const k of ["rmse_ms", "mape", "kendall_tau"]) expect(Number.isFinite(m[k]), k).toBe(true);
    expect(m.kendall_tau).toBeGreaterThan(0.9);

    const p = await hat("predictor", "predict", "--model", model, "--arch", archFile);
    expect(p.code, p.err).toBe(0);
    expect(p.out).toMatch(/^\d+\.\d+ ms \(encoder \d+\.\d+, decoder \d+\.\d+\) predicted for synthetic/);
    const pj = last((await hat("predictor", "predict", "--model", model, "--arch", archFile, "--json")).out);
    expect(pj.total_ms).toBeCloseTo(pj.encoder_ms + pj.decoder_ms, 9);
  });

  it("bad input exits with code 2 and one clear line", async () => {
    const write = (name: string, text: string) => { const p = join(dir, name); writeFileSync(p, text); return p; };
    const csv = readFileSync(data, "utf8");
    const lines = csv.split("\n");
    const nan = write("nan.csv", [lines[0], lines[1].replace(/^[^,]+/, "NaN"), ...lines.slice(2)].join("\n"));
    const cols = write("cols.csv", lines.map((l) => l.split(",").slice(0, 13).join(",")).join("\n"));
    const truncated = write("trunc.json", readFileSync(model, "utf8").slice(0, 500));
    const outside = write("demo-arch.json", JSON.stringify(smallestArch(DEMO_SPACE)));
    const cases: [string[], RegExp][] = [
      [["predictor", "fit", "--data", nan, "--out", join(dir, "x.json")], /nan.csv:2: column encoder_embed_dim: 'NaN' is not a finite number/],
      [["predictor", "fit", "--data", cols, "--out", join(dir, "x.json")], /missing column latency_std_decoder/],
      [["predictor", "fit", "--data", join(dir, "none.csv"), "--out", join(dir, "x.json")], /cannot read/],
      [["predictor", "fit", "--data", data, "--out", join(dir, "x.json"), "--features", "layers"], /need each row's architecture/],
      [["predictor", "fit", "--data", data, "--out", join(dir, "x.json"), "--space", "demo"], /not in the given space/],
      [["predictor", "fit", "--data", data], /--out is required/],
      [["predictor", "fit", "--out", join(dir, "x.json")], /--data is required/],
      [["predictor", "fit", "--data", data, "--out", join(dir, "x.json"), "--hidden", "8,x"], /--hidden/],
      [["predictor", "eval", "--model", truncated, "--data", data], /malformed JSON.*truncated/],
      [["predictor", "predict", "--model", model, "--arch", outside], /encoderEmbedDim: \d+ is not one of/],
      [["predictor", "frobnicate"], /unknown subcommand/],
      [["predictor", "fit", "--data", write("few.csv", lines.slice(0, 41).join("\n") + "\n"), "--out", join(dir, "x.json"), "--space", "hat-latency"], /40 rows: a predictor needs .* at least 74 rows; measure 34 more/],
    ];
    for (const [argv, re] of cases) {
      const r = await hat(...argv);
      expect(r.code, `${argv.join(" ")}: ${r.err}`).toBe(2);
      expect(r.err).toMatch(re);
    }
  });
});

describe("hat profile-campaign", () => {
  it("--json: a small campaign in the wasm runtime; running it again measures nothing", async () => {
    const spaceFile = join(dir, "space.json");
    writeFileSync(spaceFile, JSON.stringify(validateSpace({ ...TINY_SPACE, endeLayerChoices: [1, 2] })));
    const out = join(dir, "campaign.csv");
    const args = ["profile-campaign", "--space", spaceFile, "--samples", "5", "--out", out, "--runs", "2", "--warmup", "0", "--vocab", "64", "--src-len", "4", "--tgt-len", "3", "--beam", "2", "--json"];
    const r = await hat(...args);
    expect(r.code, r.err).toBe(0);
    const j = last(r.out);
    expect(j).toMatchObject({ measured: 5, target: 5, complete: true });
    const need = minimumRowsForSpace(validateSpace({ ...TINY_SPACE, endeLayerChoices: [1, 2] })).min_rows;
    expect(r.err).toContain(`warning: a predictor of this space needs at least ${need} rows`);
    expect(j.remeasured).toBeGreaterThanOrEqual(3); // the process's first 3, and any with an abnormal spread
    expect(j.newRows).toBe(5 + j.remeasured);
    expect(readFileSync(out, "utf8").trim().split("\n")).toHaveLength(6);
    const again = await hat(...args);
    expect(last(again.out)).toMatchObject({ measured: 5, newRows: 0, complete: true });
    const bad = await hat("profile-campaign", "--space", spaceFile, "--samples", "0", "--out", out);
    expect(bad.code).toBe(2);
    const mixed = await hat(...args.map((a) => (a === "2" ? "3" : a)));
    expect(mixed.code).toBe(2);
    expect(mixed.err).toMatch(/use the same options or another --out/);
    // --samples auto: what the fit needs plus a fifth; the fit of it goes through
    const autoOut = join(dir, "auto.csv");
    const auto = await hat(...args.map((a) => (a === "5" ? "auto" : a === out ? autoOut : a)));
    expect(auto.code, auto.err).toBe(0);
    expect(last(auto.out)).toMatchObject({ target: Math.ceil(need * 1.2), complete: true });
    expect(auto.err).not.toContain("warning");
    const fit = await hat("predictor", "fit", "--data", autoOut, "--space", spaceFile, "--out", join(dir, "auto.json"), "--json");
    expect(fit.code, fit.err).toBe(0);
  });

  it("--supernet: the campaign measures at the SuperTransformer's vocabulary, over its space; another --vocab is refused", async () => {
    const space = validateSpace({ ...TINY_SPACE, endeLayerChoices: [1, 2] });
    const model = join(dir, "super-v50.hatm");
    writeFileSync(model, randomSuperTransformer(space, 50, 1));
    const out = join(dir, "served.csv");
    const args = ["profile-campaign", "--supernet", model, "--samples", "3", "--out", out, "--runs", "2", "--warmup", "0", "--src-len", "4", "--tgt-len", "3", "--beam", "2", "--no-remeasure", "--json"];
    const r = await hat(...args);
    expect(r.code, r.err).toBe(0);
    const rows = readDataset(out).rows;
    expect(rows).toHaveLength(3);
    expect(rows.every((row) => row.protocol?.vocab === 50)).toBe(true);
    const other = await hat(...args, "--vocab", "32768");
    expect(other.code).toBe(2);
    expect(other.err).toMatch(/--vocab 32768 differs from the vocabulary of --supernet .*super-v50\.hatm \(50\)/);
    const narrow = await hat(...args, "--space", "demo");
    expect(narrow.code).toBe(2);
    expect(narrow.err).toMatch(/space differs/);
  });
});
