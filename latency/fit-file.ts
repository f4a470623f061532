/**
 * Fitting a predictor from latency dataset files to a predictor file, what `hat predictor fit` and
 * the server's predictor job run, with the JSON summary both report.
 */
import { writeFileSync } from "node:fs";
import { readTrainingRows } from "./dataset.js";
import { fitPredictor, type FitOptions, type FitReport } from "./fit.js";
import type { Predictor } from "./predictor.js";

export interface FitFileOptions extends FitOptions {
  /** Latency datasets (CSV) to fit on. */
  data: readonly string[];
  /** The predictor file written (JSON). */
  out: string;
}

export interface FitFileResult {
  predictor: Predictor;
  report: FitReport;
  /** snake_case, `hat predictor fit --json`'s line and the predictor job's result. */
  summary: Record<string, unknown>;
}

export async function fitPredictorFile(o: FitFileOptions): Promise<FitFileResult> {
  const { data, out, ...fit } = o;
  const { predictor, report } = await fitPredictor(readTrainingRows(data), fit);
  writeFileSync(out, JSON.stringify(predictor.toJSON()) + "\n");
  o.log?.(`wrote ${out}`);
  return { predictor, report, summary: fitSummary(report, out) };
}

export function fitSummary(report: FitReport, out: string): Record<string, unknown> {
  const t = report.test_metrics, l = report.linear_metrics;
  return {
    model: report.model,
    test_rmse_ms: t.rmse_ms, test_rmse_ci_ms: report.test_rmse_ci_ms, test_mape: t.mape, test_kendall_tau: t.kendall_tau, test_rows: report.test,
    mlp_rmse_ms: report.mlp_metrics.rmse_ms, mlp_rmse_ci_ms: report.mlp_rmse_ci_ms, mlp_mape: report.mlp_metrics.mape, mlp_kendall_tau: report.mlp_metrics.kendall_tau,
    linear_rmse_ms: l.rmse_ms, linear_rmse_ci_ms: report.linear_rmse_ci_ms, linear_mape: l.mape, linear_kendall_tau: l.kendall_tau,
    linear_hat10_rmse_ms: report.linear_hat10_metrics.rmse_ms,
    beats_linear: report.beats_linear, vs_linear: report.vs_linear, vs_linear_ratio: report.vs_linear_ratio, vs_linear_ratio_ci: report.vs_linear_ratio_ci,
    model_choice: report.model_choice,
    monotonicity_violations: report.monotonicity ? report.monotonicity.fraction : null, monotonicity: report.monotonicity,
    mlp_monotonicity_violations: report.mlp_monotonicity_violations,
    floor_ms: report.floor_ms, min_rows: report.min_rows, warnings: report.warnings,
    ...(report.test_metrics_all ? { all_test_rmse_ms: report.test_metrics_all.rmse_ms, all_test_mape: report.test_metrics_all.mape, all_test_kendall_tau: report.test_metrics_all.kendall_tau, all_linear_rmse_ms: report.linear_metrics_all!.rmse_ms } : {}),
    ...(report.test_metrics_clean ? { clean_test_rmse_ms: report.test_metrics_clean.rmse_ms, clean_test_mape: report.test_metrics_clean.mape, clean_test_kendall_tau: report.test_metrics_clean.kendall_tau, clean_linear_rmse_ms: report.linear_metrics_clean!.rmse_ms, n_clean_test: report.test_metrics_clean.n } : {}),
    n_rows: report.rows, n_train: report.train, n_val: report.val, n_test: report.test, outliers_dropped: report.outliers_dropped,
    features: report.features, target: report.target, hidden: report.hidden, epochs: report.epochs, best_epoch: report.best_epoch,
    val_rmse_ms: report.val_rmse_ms, seconds: report.seconds, device: report.device, out,
  };
}
