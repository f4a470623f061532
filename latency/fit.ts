/**
 * Fitting a latency predictor (docs/method.md §5) with TensorFlow.js, and the report that
 * comes with it:
 *   - a seeded 8:1:1 split of the rows (train, validation, test), made before outliers are
 *     dropped, so a test row is a test row whatever the outlier rule says;
 *   - outliers (./outliers.ts) left out of training and validation, and reported on apart;
 *   - feature and target normalisation (mean, std) fitted on the training rows;
 *   - least squares on the training rows first (per output), then HAT's MLP fitted to what it
 *     leaves: ReLU hidden layers, MSE on the normalised residuals, Adam, mini-batches of 128,
 *     output layer initialised to zero (epoch 0 is the linear fit exactly); the epoch with the
 *     lowest validation RMSE is kept, the learning rate halves after patience/4 epochs without a
 *     better one and training stops after `patience` (early stopping).
 *     Why the linear skip: latency is nearly linear in the right features, and an MLP alone spends
 *     thousands of epochs rediscovering that before it learns the rest (on HAT's Pi data: 110-120
 *     ms test RMSE after 2,000 epochs alone; about 70 ms within 100 epochs on the residual);
 *   - on the test rows: RMSE, MAPE and Kendall's tau of the MLP and of a least-squares linear
 *     regression on the same features and training rows, fitted in the same run.
 */
import * as tf from "@tensorflow/tfjs";
import { archKey } from "../runtime/arch-features.js";
import { mulberry32 } from "../runtime/rng.js";
import type { Space } from "../runtime/types.js";
import { selectBackend } from "../train/backend.js";
import { protocolLine, sameProtocol, type Protocol } from "../runtime/protocol.js";
import { deviceLabel, LatencyDataError, sameDevice, totalMs, type DeviceInfo, type LatencyRow } from "./dataset.js";
import { encodeRow, featureCount, featureSpec, rowOutsideSpace, type FeatureKind } from "./features.js";
import { fitLinear, predictLinear } from "./linear.js";
import { formatMetrics, metrics, type Metrics } from "./metrics.js";
import { findOutliers } from "./outliers.js";
import { Predictor, type TargetKind } from "./predictor.js";

export interface FitOptions {
  /** Default (and "auto"): "sums", HAT's 10 features and the per-stack sums computed from them. */
  features?: FeatureKind | "auto";
  /** "split": predict encoder and decoder latency (two outputs) and sum them; "total": one output. */
  target?: TargetKind;
  /** Hidden layer widths (HAT: [400, 400, 400, 400]; default [64, 64], see docs/latency.md). */
  hidden?: number[];
  seed?: number;
  lr?: number;
  batch?: number;
  maxEpochs?: number;
  /** Epochs without a better validation RMSE before stopping. */
  patience?: number;
  /** Stop after this many seconds of training (the best epoch so far is kept). */
  maxSeconds?: number;
  /** "drop" (default): leave the outlier rule's rows out of training and validation (test metrics
   *  on the rest, and on every test row apart); "warmup": only its warm-up prefix; "keep": none. */
  outliers?: OutlierMode;
  space?: Space;
  /** Device name when the rows do not say (HAT's files do not). */
  device?: DeviceInfo | string;
  /** tfjs backend (default: selectBackend's choice). */
  backend?: string;
  log?: (line: string) => void;
}

export interface FitReport {
  rows: number;
  train: number;
  val: number;
  test: number;
  outliers_dropped: number;
  outlier_summary: string;
  features: FeatureKind;
  target: TargetKind;
  hidden: number[];
  seed: number;
  device: string;
  /** The MLP on the test rows (outliers left out when dropped). */
  test_metrics: Metrics;
  /** Linear regression on the same features and training rows, same test rows (the MLP's linear part). */
  linear_metrics: Metrics;
  /** Plain linear regression on HAT's 10 features, same rows. */
  linear_hat10_metrics: Metrics;
  /** Both on every test row, outliers included (when some were dropped). */
  test_metrics_all?: Metrics;
  linear_metrics_all?: Metrics;
  /** With --outliers keep or warmup: both on the test rows the full rule keeps (when it flags some). */
  test_metrics_clean?: Metrics;
  linear_metrics_clean?: Metrics;
  val_rmse_ms: number;
  epochs: number;
  best_epoch: number;
  seconds: number;
  backend: string;
  /** Test RMSE more than 1 % below linear regression's. */
  beats_linear: boolean;
  /** better / tie (within 1 %) / worse than linear regression, by test RMSE. */
  vs_linear: "better" | "tie" | "worse";
}

/** RMSEs within 1 % of each other are a tie: differences that small are noise at these sample sizes. */
const TIE = 0.01;

/** Every row must agree on one value of `get` (or none have it); returns it. */
function common<T>(rows: readonly LatencyRow[], get: (r: LatencyRow) => T | undefined, same: (a: T, b: T) => boolean, what: string, show: (v: T) => string): T | undefined {
  let first: T | undefined;
  for (const r of rows) {
    const v = get(r);
    if (v === undefined) continue;
    if (first === undefined) first = v;
    else if (!same(first, v)) throw new LatencyDataError(`rows measured with different ${what}: ${show(first)} and ${show(v)} (fit one predictor per ${what})`);
  }
  return first;
}

export type OutlierMode = "drop" | "warmup" | "keep";
export const OUTLIER_MODES: readonly OutlierMode[] = ["drop", "warmup", "keep"];

/** Which rows the outlier mode leaves out, and a line saying so. */
export function outlierMask(rows: readonly LatencyRow[], mode: OutlierMode): { flagged: boolean[]; summary: string } {
  if (mode === "keep") return { flagged: rows.map(() => false), summary: "outliers: kept (--outliers keep)" };
  const r = findOutliers(rows);
  if (mode === "drop") return { flagged: r.flagged, summary: r.summary };
  return {
    flagged: rows.map((_, i) => i < r.warmupPrefix),
    summary: r.warmupPrefix > 0 ? `outliers: the warm-up period only, the first ${r.warmupPrefix} rows (--outliers warmup; ${r.spikes} later spikes kept)` : "outliers: no warm-up period found (--outliers warmup)",
  };
}

/** The seeded 8:1:1 split: [train, val, test] row indices. */
export function splitIndices(n: number, seed: number): [number[], number[], number[]] {
  const rng = mulberry32(seed);
  const perm = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [perm[i], perm[j]] = [perm[j], perm[i]];
  }
  const nTest = Math.max(1, Math.round(n / 10)), nVal = Math.max(1, Math.round(n / 10));
  return [perm.slice(nTest + nVal), perm.slice(nTest, nTest + nVal), perm.slice(0, nTest)];
}

function meanStd(cols: number, get: (i: number, k: number) => number, idx: readonly number[]): { mean: number[]; std: number[] } {
  const mean = new Array<number>(cols).fill(0), std = new Array<number>(cols).fill(0);
  for (const i of idx) for (let k = 0; k < cols; k++) mean[k] += get(i, k) / idx.length;
  for (const i of idx) for (let k = 0; k < cols; k++) std[k] += (get(i, k) - mean[k]) ** 2 / idx.length;
  // a constant feature (HAT's encoder layer count) has std 0, or 1e-16 from rounding in the mean: scale 1
  return { mean, std: std.map((s, k) => (Math.sqrt(s) > 1e-9 * Math.max(1, Math.abs(mean[k])) ? Math.sqrt(s) : 1)) };
}

/** Seeded initial weights: He-uniform for ReLU layers; the output layer zero (the MLP starts as the linear fit). */
function initialWeights(sizes: number[], seed: number): { w: Float32Array; b: Float32Array }[] {
  const rng = mulberry32(seed ^ 0x1a7e);
  return sizes.slice(0, -1).map((nIn, l) => {
    const nOut = sizes[l + 1], last = l + 2 === sizes.length;
    const limit = last ? 0 : Math.sqrt(6 / nIn);
    const w = new Float32Array(nIn * nOut);
    for (let i = 0; i < w.length; i++) w[i] = (rng() * 2 - 1) * limit;
    return { w, b: new Float32Array(nOut) };
  });
}

/** Fit a predictor on `rows` (in measurement order: the outlier rule's warm-up test needs it). */
export async function fitPredictor(rows: readonly LatencyRow[], o: FitOptions = {}): Promise<{ predictor: Predictor; report: FitReport }> {
  const log = o.log ?? (() => {});
  const t0 = performance.now();
  const seed = o.seed ?? 1, hidden = o.hidden ?? [64, 64], target = o.target ?? "split";
  const lr = o.lr ?? 1e-3, batch = o.batch ?? 128, maxEpochs = o.maxEpochs ?? 1000, patience = o.patience ?? 100;
  if (hidden.length === 0 || hidden.some((h) => !Number.isInteger(h) || h < 1)) throw new RangeError(`hidden sizes must be positive integers, got [${hidden}]`);

  const n = rows.length;
  if (n < 20) throw new LatencyDataError(`${n} rows: a predictor needs at least 20 (8:1:1 split)`);
  const archsSeen = rows.filter((r) => r.arch).map((r) => r.arch!);
  if (new Set(archsSeen.map(archKey)).size !== archsSeen.length) {
    throw new LatencyDataError("the same architecture appears in several rows: read campaign files with latestPerArch (readTrainingRows does)");
  }
  const kind: FeatureKind = o.features === undefined || o.features === "auto" ? "sums" : o.features;
  if (o.space) {
    const bad = rows.findIndex((r) => rowOutsideSpace(r, o.space!) !== undefined);
    if (bad >= 0) throw new LatencyDataError(`row ${bad + 1} is not in the given space: ${rowOutsideSpace(rows[bad], o.space)}`);
  }
  const device = common<DeviceInfo>(rows, (r) => r.device, sameDevice, "devices", deviceLabel) ?? o.device ?? "unknown device";
  const protocol = common<Protocol>(rows, (r) => r.protocol, sameProtocol, "protocols", protocolLine);
  const spec = featureSpec(kind, o.space, archsSeen);
  const K = featureCount(spec), O = target === "total" ? 1 : 2;
  const X = rows.map((r) => encodeRow(r, spec));
  const Y = rows.map((r) => (O === 1 ? [totalMs(r)] : [r.encoder_ms, r.decoder_ms]));
  const total = rows.map(totalMs);

  // split, then outliers
  const [trainAll, valAll, testAll] = splitIndices(n, seed);
  const { flagged, summary } = outlierMask(rows, o.outliers ?? "drop");
  const trainIdx = trainAll.filter((i) => !flagged[i]), valIdx = valAll.filter((i) => !flagged[i]), testIdx = testAll.filter((i) => !flagged[i]);
  if (trainIdx.length < 8 || valIdx.length < 1 || testIdx.length < 1) throw new LatencyDataError(`too few rows left after outliers: ${trainIdx.length} train, ${valIdx.length} validation, ${testIdx.length} test`);
  const dropped = flagged.filter(Boolean).length;
  log(`rows: ${n} (${trainIdx.length} train, ${valIdx.length} validation, ${testIdx.length} test); ${summary}`);
  log(`features: ${kind} (${K}); target: ${target === "split" ? "encoder and decoder latency, summed" : "total latency"}; MLP ${[K, ...hidden, O].join("-")}; device: ${deviceLabel(device)}`);

  // normalisation on the training rows; the linear part; the MLP's targets: what it leaves
  const fNorm = meanStd(K, (i, k) => X[i][k], trainIdx);
  const fMin = Array.from({ length: K }, (_, k) => Math.min(...trainIdx.map((i) => X[i][k])));
  const fMax = Array.from({ length: K }, (_, k) => Math.max(...trainIdx.map((i) => X[i][k])));
  const Z = X.map((x) => x.map((v, k) => (v - fNorm.mean[k]) / fNorm.std[k]));
  const linear = { w: [] as number[][], b: [] as number[] };
  for (let k = 0; k < O; k++) {
    const m = fitLinear(trainIdx.map((i) => Z[i]), trainIdx.map((i) => Y[i][k]));
    linear.w.push(m.w.map((w, j) => w / m.scale[j]));
    linear.b.push(m.b - m.w.reduce((s, w, j) => s + (w * m.mean[j]) / m.scale[j], 0));
  }
  const linOut = (i: number, k: number) => linear.b[k] + linear.w[k].reduce((s, w, j) => s + w * Z[i][j], 0);
  const R = rows.map((_, i) => Y[i].map((y, k) => y - linOut(i, k)));
  const yNorm = meanStd(O, (i, k) => R[i][k], trainIdx);
  const xs = (idx: number[]) => {
    const a = new Float32Array(idx.length * K);
    idx.forEach((i, r) => { for (let k = 0; k < K; k++) a[r * K + k] = Z[i][k]; });
    return a;
  };
  const ys = (idx: number[]) => {
    const a = new Float32Array(idx.length * O);
    idx.forEach((i, r) => { for (let k = 0; k < O; k++) a[r * O + k] = (R[i][k] - yNorm.mean[k]) / yNorm.std[k]; });
    return a;
  };
  /** Total ms of row i given the MLP's normalised outputs y[r*O ..]. */
  const toMs = (y: Float32Array, r: number, i: number) => {
    let s = 0;
    for (let k = 0; k < O; k++) s += linOut(i, k) + y[r * O + k] * yNorm.std[k] + yNorm.mean[k];
    return s;
  };

  // train with tfjs
  const choice = await selectBackend(o.backend, log);
  const sizes = [K, ...hidden, O];
  const init = initialWeights(sizes, seed);
  const vars = init.map(({ w, b }, l) => ({
    w: tf.variable(tf.tensor2d(w, [sizes[l], sizes[l + 1]])),
    b: tf.variable(tf.tensor1d(b)),
  }));
  const varList = vars.flatMap(({ w, b }) => [w, b]);
  const forward = (x: tf.Tensor2D): tf.Tensor2D => {
    let h = x;
    vars.forEach(({ w, b }, l) => {
      h = tf.add(tf.matMul(h, w), b);
      if (l + 1 < vars.length) h = tf.relu(h);
    });
    return h;
  };
  const xTrain = tf.tensor2d(xs(trainIdx), [trainIdx.length, K]), yTrain = tf.tensor2d(ys(trainIdx), [trainIdx.length, O]);
  const xVal = tf.tensor2d(xs(valIdx), [valIdx.length, K]) as tf.Tensor2D;
  const opt = tf.train.adam(lr);
  const rng = mulberry32(seed ^ 0x5eed);
  const order = Array.from({ length: trainIdx.length }, (_, i) => i);
  const valRmse = (): number => {
    const t = tf.tidy(() => forward(xVal));
    const p = t.dataSync() as Float32Array;
    t.dispose();
    let s = 0;
    valIdx.forEach((i, r) => { s += (toMs(p, r, i) - total[i]) ** 2; });
    return Math.sqrt(s / valIdx.length);
  };
  let best = valRmse(), bestEpoch = 0, epoch = 0, rate = lr; // epoch 0: the linear part alone
  const plateau = Math.max(1, Math.floor(patience / 4));
  let bestWeights = init;
  const tTrain = performance.now();
  try {
    for (epoch = 1; epoch <= maxEpochs; epoch++) {
      for (let i = order.length - 1; i > 0; i--) {
        const j = Math.floor(rng() * (i + 1));
        [order[i], order[j]] = [order[j], order[i]];
      }
      for (let s = 0; s < order.length; s += batch) {
        const idx = tf.tensor1d(order.slice(s, s + batch), "int32");
        opt.minimize(() => tf.losses.meanSquaredError(tf.gather(yTrain, idx), forward(tf.gather(xTrain, idx) as tf.Tensor2D)) as tf.Scalar, false, varList);
        idx.dispose();
      }
      const v = valRmse();
      if (v < best) {
        best = v;
        bestEpoch = epoch;
        bestWeights = vars.map(({ w, b }) => ({ w: Float32Array.from(w.dataSync()), b: Float32Array.from(b.dataSync()) }));
      }
      if (epoch % 100 === 0) log(`epoch ${epoch}: validation RMSE ${v.toFixed(3)} ms (best ${best.toFixed(3)} at epoch ${bestEpoch}), learning rate ${rate.toExponential(1)}`);
      if (epoch - bestEpoch >= patience) break;
      // reduce on plateau: halve the learning rate after patience/4 epochs without a better epoch
      if (epoch > bestEpoch && (epoch - bestEpoch) % plateau === 0 && rate > lr / 1000) {
        rate /= 2;
        (opt as unknown as { learningRate: number }).learningRate = rate;
      }
      if (o.maxSeconds !== undefined && (performance.now() - tTrain) / 1000 > o.maxSeconds) {
        log(`stopping at the time budget (${o.maxSeconds} s)`);
        break;
      }
    }
  } finally {
    for (const { w, b } of vars) { w.dispose(); b.dispose(); }
    tf.dispose([xTrain, yTrain, xVal]);
    opt.dispose();
  }
  epoch = Math.min(epoch, maxEpochs);

  // the predictor (JS forward pass) and the test metrics
  const predictor = new Predictor({
    device, space: o.space, protocol,
    features: { ...spec, mean: fNorm.mean, std: fNorm.std, min: fMin, max: fMax },
    linear, target: { kind: target, mean: yNorm.mean, std: yNorm.std },
    sizes, weights: bestWeights,
    testSet: { measured: [], predicted: [] },
  });
  const predictIdx = (idx: number[]) => Array.from(predictor.predictRows(idx.map((i) => rows[i])));
  // baselines: the linear part alone (same features, same training rows), and least squares on HAT's 10
  const linearIdx = (idx: number[]) => idx.map((i) => Y[i].reduce((s, _, k) => s + linOut(i, k), 0));
  const hat10 = fitLinear(trainIdx.map((i) => rows[i].features), trainIdx.map((i) => total[i]));
  const hat10Idx = (idx: number[]) => idx.map((i) => predictLinear(hat10, rows[i].features));
  const measured = testIdx.map((i) => total[i]);
  const predicted = predictIdx(testIdx);
  const testMetrics = metrics(measured, predicted), linearMetrics = metrics(measured, linearIdx(testIdx));
  const hat10Metrics = metrics(measured, hat10Idx(testIdx));
  const report: FitReport = {
    rows: n, train: trainIdx.length, val: valIdx.length, test: testIdx.length,
    outliers_dropped: dropped, outlier_summary: summary,
    features: kind, target, hidden, seed, device: deviceLabel(device),
    test_metrics: testMetrics, linear_metrics: linearMetrics, linear_hat10_metrics: hat10Metrics,
    val_rmse_ms: best, epochs: epoch, best_epoch: bestEpoch, seconds: (performance.now() - t0) / 1000, backend: choice.name,
    beats_linear: testMetrics.rmse_ms < (1 - TIE) * linearMetrics.rmse_ms,
    vs_linear: testMetrics.rmse_ms < (1 - TIE) * linearMetrics.rmse_ms ? "better" : testMetrics.rmse_ms <= (1 + TIE) * linearMetrics.rmse_ms ? "tie" : "worse",
  };
  if (dropped > 0) {
    const m = testAll.map((i) => total[i]);
    report.test_metrics_all = metrics(m, predictIdx(testAll));
    report.linear_metrics_all = metrics(m, linearIdx(testAll));
  }
  if ((o.outliers ?? "drop") !== "drop") {
    const rule = findOutliers(rows).flagged;
    const clean = testAll.filter((i) => !rule[i]);
    if (clean.length < testIdx.length && clean.length > 0) {
      const m = clean.map((i) => total[i]);
      report.test_metrics_clean = metrics(m, predictIdx(clean));
      report.linear_metrics_clean = metrics(m, linearIdx(clean));
    }
  }
  log(`trained ${epoch} epochs in ${((performance.now() - tTrain) / 1000).toFixed(1)} s; best validation RMSE ${best.toFixed(3)} ms at epoch ${bestEpoch}`);
  log(`test  MLP    ${formatMetrics(testMetrics)}`);
  log(`test  linear ${formatMetrics(linearMetrics)}${kind === "hat" ? "" : ` (same features); on HAT's 10 features: ${formatMetrics(hat10Metrics)}`}`);
  if (report.test_metrics_all) {
    log(`all test rows, outliers included: MLP ${formatMetrics(report.test_metrics_all)}; linear ${formatMetrics(report.linear_metrics_all!)}`);
  }
  if (report.test_metrics_clean) {
    log(`test rows the outlier rule keeps: MLP ${formatMetrics(report.test_metrics_clean)}; linear ${formatMetrics(report.linear_metrics_clean!)}`);
  }
  if (!report.beats_linear) {
    log(`the MLP does NOT beat linear regression on the test split: ${report.vs_linear === "tie" ? "a tie (within 1 %)" : "worse"}, RMSE ${testMetrics.rmse_ms.toFixed(3)} vs ${linearMetrics.rmse_ms.toFixed(3)} ms`);
  }
  const fitted = new Predictor({
    device, space: o.space, protocol,
    features: { ...spec, mean: fNorm.mean, std: fNorm.std, min: fMin, max: fMax },
    linear, target: { kind: target, mean: yNorm.mean, std: yNorm.std },
    sizes, weights: bestWeights,
    fit: { ...report, lr, batch, max_epochs: maxEpochs, patience },
    testSet: { measured, predicted },
  });
  return { predictor: fitted, report };
}
