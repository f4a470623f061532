/**
 * `hat predictor fit --train-rows N [--prior OLD.json]`: a predictor from N rows of a dataset,
 * transferred from a predictor of another device when --prior is given (latency/transfer.ts),
 * evaluated on every other row; `--full` also fits on every row, the ordinary way, to compare with.
 */
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { outlierMask, fitPredictor, OUTLIER_MODES, splitIndices, type OutlierMode } from "../latency/fit.js";
import { deviceLabel, readTrainingRows, totalMs } from "../latency/dataset.js";
import { FEATURE_KINDS, HAT_LATENCY_SPACE, type FeatureKind } from "../latency/features.js";
import { formatMetrics, metrics, type Metrics } from "../latency/metrics.js";
import { Predictor } from "../latency/predictor.js";
import { fitFewShot, MIN_TRAIN_ROWS } from "../latency/transfer.js";
import { intFlag, requireFlag, spaceArg } from "./args.js";
import { UsageError, type Io } from "./io.js";

export const FEWSHOT_HELP = `       hat predictor fit --data NEW.csv --train-rows N [--prior OLD.json] [--seed 1] --out FILE [--full] [--json]
fit --train-rows N: draw N rows of the data (seeded by --seed), fit on them and evaluate on every
other row the outlier rule keeps. With --prior (a predictor of another device, or of another
task's vocabulary): a transfer of it (per-part scale and offset plus a shrunk correction, docs/latency.md),
reported beside the plain scale-and-offset of the prior and a plain fit on the N rows; without:
the plain fit. --full: also the ordinary fit on every row (its seed-1 test split), with every model
compared on that split's rows (minus the drawn ones) and the target (tau within 3 %, RMSE within
1.5x of the full fit's) checked.`;

const m3 = (m: Metrics | undefined, p: string) => (m ? { [`${p}_rmse_ms`]: m.rmse_ms, [`${p}_mape`]: m.mape, [`${p}_kendall_tau`]: m.kendall_tau } : {});

export async function fewShotFit(argv: string[], io: Io): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      data: { type: "string", multiple: true }, out: { type: "string" }, prior: { type: "string" }, "train-rows": { type: "string" },
      seed: { type: "string" }, space: { type: "string" }, features: { type: "string" }, outliers: { type: "string" }, device: { type: "string" },
      full: { type: "boolean" }, epochs: { type: "string" }, patience: { type: "string" }, backend: { type: "string" },
      json: { type: "boolean" }, help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) { io.out(FEWSHOT_HELP); return; }
  const data = values.data;
  if (!data || data.length === 0) throw new UsageError("--data is required (one or more CSV files)");
  const out = requireFlag(values, "out");
  if (values["train-rows"] === undefined) throw new UsageError("--prior needs --train-rows N (how many rows of --data to fit on)");
  const trainRows = intFlag(values, "train-rows", 0, MIN_TRAIN_ROWS);
  const features = values.features;
  if (features !== undefined && ![...FEATURE_KINDS, "auto"].includes(features)) throw new UsageError(`--features must be one of ${FEATURE_KINDS.join(", ")}, got '${features}'`);
  const outliers = (values.outliers ?? "drop") as OutlierMode;
  if (!OUTLIER_MODES.includes(outliers)) throw new UsageError(`--outliers must be one of ${OUTLIER_MODES.join(", ")}, got '${values.outliers}'`);
  const seed = intFlag(values, "seed", 1, 0);
  const space = values.space === undefined ? undefined : values.space === "hat-latency" ? HAT_LATENCY_SPACE : spaceArg(values.space); // as cli/predictor.ts latencySpaceArg
  const prior = values.prior === undefined ? undefined : await Predictor.load(values.prior);
  const rows = readTrainingRows(data);

  // the full-data fit first, when asked: its test split is where every model is compared
  let full: { predictor: Predictor; test: Metrics; testIdx: number[] } | undefined;
  if (values.full) {
    const kind = (features ?? (prior ? prior.features.kind : "auto")) as FeatureKind | "auto";
    io.err("the full-data fit (every row, seed 1):");
    const f = await fitPredictor(rows, {
      features: kind, space: space ?? prior?.space, device: values.device, seed: 1, outliers, backend: values.backend,
      maxEpochs: intFlag(values, "epochs", 1000, 0), patience: intFlag(values, "patience", 100), log: (s) => io.err(`  ${s}`),
    });
    full = { predictor: f.predictor, test: f.report.test_metrics, testIdx: splitIndices(rows.length, 1)[2] };
  }
  const { predictor, report } = fitFewShot(rows, prior, {
    trainRows, seed, outliers, space, features: features as FeatureKind | "auto" | undefined, device: values.device, priorLabel: values.prior,
    extraEval: full && { name: "the full fit's test split", idx: full.testIdx }, log: (s) => io.err(s),
  });
  writeFileSync(out, JSON.stringify(predictor.toJSON()) + "\n");
  io.err(`wrote ${out}`);

  const main = report.model === "transfer" ? report.transfer! : report.plain;
  const res: Record<string, unknown> = {
    model: report.model, ...m3(main.test, "test"), train_rows: report.train_rows, train_dropped: report.train_dropped, test_rows: report.test_rows,
    outliers_dropped: report.outliers_dropped, seed, ...(main.test_all ? m3(main.test_all, "all_test") : {}),
    ...(prior ? { prior: values.prior, prior_device: deviceLabel(prior.device), ...m3(report.scale_offset!.test, "scale_offset_test"), scale: report.transfer!.scale, offset: report.transfer!.offset, lambda: report.transfer!.lambda } : {}),
    ...m3(report.plain.test, "plain_test"),
  };
  if (prior) {
    const t = report.transfer!.test, so = report.scale_offset!.test;
    res.vs_scale_offset = t.rmse_ms < so.rmse_ms && t.kendall_tau >= so.kendall_tau ? "better" : t.rmse_ms > so.rmse_ms && t.kendall_tau < so.kendall_tau ? "worse" : "mixed";
  }
  if (full) {
    const drawn = new Set(report.drawn), flagged = outlierMask(rows, outliers).flagged;
    const idx = full.testIdx.filter((i) => !drawn.has(i) && !flagged[i]);
    const fp = full.predictor.predictRows(idx.map((i) => rows[i]));
    const fm = metrics(idx.map((i) => totalMs(rows[i])), fp);
    const same = main.extra!;
    Object.assign(res, {
      ...m3(full.test, "full_test"), full_test_rows: full.test.n, same_rows: idx.length,
      ...m3(fm, "same_rows_full"), ...m3(same, "same_rows"),
      ...(prior ? m3(report.scale_offset!.extra, "same_rows_scale_offset") : {}), ...m3(report.plain.extra, "same_rows_plain"),
      target_met: same.kendall_tau >= 0.97 * fm.kendall_tau && same.rmse_ms <= 1.5 * fm.rmse_ms,
    });
  }
  if (values.json) { io.out(JSON.stringify({ ...res, out })); return; }
  io.out(`${report.model === "transfer" ? `transfer of ${values.prior}` : "plain fit"} on ${report.train_rows} rows (${report.train_dropped} left out as spikes), tested on ${report.test_rows}: ${formatMetrics(main.test)}`);
  if (prior) io.out(`scale-and-offset of the prior, same rows:  ${formatMetrics(report.scale_offset!.test)}`);
  if (prior) io.out(`plain fit on the same ${report.train_rows} rows:         ${formatMetrics(report.plain.test)}`);
  if (full) io.out(`full-data fit: ${formatMetrics(full.test)}; on its test rows not drawn: full ${(res.same_rows_full_kendall_tau as number).toFixed(3)} tau / ${(res.same_rows_full_rmse_ms as number).toFixed(1)} ms, this fit ${main.extra!.kendall_tau.toFixed(3)} / ${main.extra!.rmse_ms.toFixed(1)} ms: target ${res.target_met ? "met" : "NOT met"}`);
}
