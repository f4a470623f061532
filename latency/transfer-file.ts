/**
 * The few-shot fit from files to a predictor file (./transfer.ts), what `hat predictor fit
 * --train-rows N [--prior OLD.json] [--full]` and the server's predictor job (with `train_rows`,
 * `prior`) run, with the JSON summary both report.
 */
import { writeFileSync } from "node:fs";
import type { Space } from "../runtime/types.js";
import { deviceLabel, readTrainingRows, totalMs, type DeviceInfo } from "./dataset.js";
import type { FeatureKind } from "./features.js";
import { fitPredictor, fitSplit, outlierMask, type OutlierMode } from "./fit.js";
import { formatMetrics, metrics, type Metrics } from "./metrics.js";
import { Predictor } from "./predictor.js";
import { fitFewShot, type FewShotReport } from "./transfer.js";

export interface FewShotFileOptions {
  /** Latency datasets (CSV) of the new device: N rows are drawn to fit, the rest evaluate. */
  data: readonly string[];
  /** The predictor file written (JSON). */
  out: string;
  /** How many rows to draw and fit on. */
  trainRows: number;
  /** A predictor file of another device (or task) to transfer; absent: the plain fit on N rows. */
  prior?: string;
  /** Seed of the draw (default 1). */
  seed?: number;
  outliers?: OutlierMode;
  space?: Space;
  features?: FeatureKind | "auto";
  device?: DeviceInfo | string;
  /** Also the ordinary fit on every row (seed 1), every model compared on its test split. */
  full?: boolean;
  /** The full fit's training (./fit.ts). */
  maxEpochs?: number;
  patience?: number;
  backend?: string;
  log?: (line: string) => void;
}

export interface FewShotFileResult {
  predictor: Predictor;
  report: FewShotReport;
  /** snake_case: `hat predictor fit --train-rows --json`'s line and the predictor job's result. */
  summary: Record<string, unknown>;
  /** Human-readable lines of the comparison. */
  lines: string[];
}

const m3 = (m: Metrics | undefined, p: string) => (m ? { [`${p}_rmse_ms`]: m.rmse_ms, [`${p}_mape`]: m.mape, [`${p}_kendall_tau`]: m.kendall_tau } : {});

export async function fewShotFile(o: FewShotFileOptions): Promise<FewShotFileResult> {
  const log = o.log ?? (() => {});
  const outliers = o.outliers ?? "drop", seed = o.seed ?? 1;
  const prior = o.prior === undefined ? undefined : await Predictor.load(o.prior);
  const rows = readTrainingRows(o.data);

  // the full-data fit first, when asked: its test split is where every model is compared
  let full: { predictor: Predictor; test: Metrics; testIdx: number[] } | undefined;
  if (o.full) {
    log("the full-data fit (every row, seed 1):");
    const f = await fitPredictor(rows, {
      features: o.features ?? prior?.features.kind ?? "auto", space: o.space ?? prior?.space, device: o.device, seed: 1, outliers, backend: o.backend,
      maxEpochs: o.maxEpochs, patience: o.patience, log: (s) => log(`  ${s}`),
    });
    full = { predictor: f.predictor, test: f.report.test_metrics, testIdx: fitSplit(rows, 1)[2] };
  }
  const { predictor, report } = fitFewShot(rows, prior, {
    trainRows: o.trainRows, seed, outliers, space: o.space, features: o.features, device: o.device, priorLabel: o.prior,
    extraEval: full && { name: "the full fit's test split", idx: full.testIdx }, log,
  });
  writeFileSync(o.out, JSON.stringify(predictor.toJSON()) + "\n");
  log(`wrote ${o.out}`);

  const main = report.model === "transfer" ? report.transfer! : report.plain;
  const s: Record<string, unknown> = {
    method: report.model, model: predictor.model, ...m3(main.test, "test"), train_rows: report.train_rows, train_dropped: report.train_dropped, test_rows: report.test_rows,
    outliers_dropped: report.outliers_dropped, seed, ...(main.test_all ? m3(main.test_all, "all_test") : {}),
    ...(prior ? { prior: o.prior, prior_device: deviceLabel(prior.device), ...m3(report.scale_offset!.test, "scale_offset_test"), scale: report.transfer!.scale, offset: report.transfer!.offset, lambda: report.transfer!.lambda } : {}),
    ...m3(report.plain.test, "plain_test"),
  };
  const lines = [`${report.model === "transfer" ? `transfer of ${o.prior}` : "plain fit"} on ${report.train_rows} rows (${report.train_dropped} left out as spikes), tested on ${report.test_rows}: ${formatMetrics(main.test)}`];
  if (prior) {
    const t = report.transfer!.test, so = report.scale_offset!.test;
    s.vs_scale_offset = t.rmse_ms < so.rmse_ms && t.kendall_tau >= so.kendall_tau ? "better" : t.rmse_ms > so.rmse_ms && t.kendall_tau < so.kendall_tau ? "worse" : "mixed";
    lines.push(`scale-and-offset of the prior, same rows:  ${formatMetrics(so)}`, `plain fit on the same ${report.train_rows} rows:         ${formatMetrics(report.plain.test)}`);
  }
  if (full) {
    const drawn = new Set(report.drawn), flagged = outlierMask(rows, outliers).flagged;
    const idx = full.testIdx.filter((i) => !drawn.has(i) && !flagged[i]);
    const fm = metrics(idx.map((i) => totalMs(rows[i])), full.predictor.predictRows(idx.map((i) => rows[i])));
    const same = main.extra!;
    Object.assign(s, {
      ...m3(full.test, "full_test"), full_test_rows: full.test.n, same_rows: idx.length,
      ...m3(fm, "same_rows_full"), ...m3(same, "same_rows"),
      ...(prior ? m3(report.scale_offset!.extra, "same_rows_scale_offset") : {}), ...m3(report.plain.extra, "same_rows_plain"),
      target_met: same.kendall_tau >= 0.97 * fm.kendall_tau && same.rmse_ms <= 1.5 * fm.rmse_ms,
    });
    lines.push(`full-data fit: ${formatMetrics(full.test)}; on its ${idx.length} test rows not drawn: full ${fm.kendall_tau.toFixed(3)} tau / ${fm.rmse_ms.toFixed(1)} ms, this fit ${same.kendall_tau.toFixed(3)} / ${same.rmse_ms.toFixed(1)} ms: target (tau within 3 %, RMSE within 1.5x) ${s.target_met ? "met" : "NOT met"}`);
  }
  s.out = o.out;
  return { predictor, report, summary: s, lines };
}
