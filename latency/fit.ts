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
 * And what keeps a predictor from being silly (docs/latency.md "Sanity"):
 *   - enough rows (minimumRows): per coefficient least squares can determine (the rank of the
 *     features over the space, plus the intercept) ROWS_PER_COEFFICIENT training rows, and
 *     MIN_HOLDOUT validation and test rows each, after outliers; below that, a LatencyDataError
 *     saying how many more rows to measure;
 *   - the simplest model that is as good: the MLP is kept only when it beats the linear part on
 *     the validation rows by more than TIE with the whole paired-bootstrap interval below 1
 *     (./metrics.ts compareRmse); otherwise the predictor is the linear part alone;
 *   - a floor: predictions are at least FLOOR_FRACTION of the smallest training latency, per
 *     output (./predictor.ts);
 *   - intervals: the test RMSEs come with 95 % bootstrap intervals over the test rows, and the
 *     verdict against linear regression says "better" only when the paired interval does;
 *   - orderings: seeded pairs a <= b of the space (./monotonicity.ts) where the predictor has a
 *     slower than b, reported, with a warning when there are any.
 */
import * as tf from "@tensorflow/tfjs";
import { archKey } from "../runtime/arch-features.js";
import { mulberry32 } from "../runtime/rng.js";
import type { Space } from "../runtime/types.js";
import { selectBackend } from "../train/backend.js";
import { protocolLine, sameProtocol, type Protocol } from "../runtime/protocol.js";
import { commonValue, deviceLabel, LatencyDataError, sameDevice, totalMs, type DeviceInfo, type LatencyRow } from "./dataset.js";
import { encodeArch, encodeRow, featureCount, featureSpec, rowOutsideSpace, type FeatureKind } from "./features.js";
import { featureRank, fitLinear, predictLinear } from "./linear.js";
import { compareRmse, formatMetrics, metrics, MIN_COMPARE_ROWS, rmseInterval, TIE, type Comparison, type Metrics, type Verdict } from "./metrics.js";
import { monotonicityCheck, type MonotonicityReport } from "./monotonicity.js";
import { findOutliers } from "./outliers.js";
import { FLOOR_FRACTION, Predictor, type ModelKind, type PredictorParts, type TargetKind } from "./predictor.js";
import { sampleArch, smallestArch, largestArch } from "../runtime/arch-sample.js";

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
  /** The predictor kept (`model`) on the test rows (outliers left out when dropped). */
  test_metrics: Metrics;
  /** 95 % bootstrap interval of test_metrics.rmse_ms over the test rows (seeded). */
  test_rmse_ci_ms: [number, number];
  /** Which model the predictor holds: the MLP only when it beat the linear part on the validation rows (model_choice). */
  model: ModelKind;
  /** The MLP against the linear part on the validation rows (ratio: MLP RMSE / linear RMSE). */
  model_choice: Comparison & { mlp_rmse_ms: number; linear_rmse_ms: number };
  /** The MLP on the test rows (whether kept or not), and its interval. */
  mlp_metrics: Metrics;
  mlp_rmse_ci_ms: [number, number];
  linear_rmse_ci_ms: [number, number];
  /** The MLP against linear regression on the test rows, paired bootstrap. */
  vs_linear_ratio: number;
  vs_linear_ratio_ci: [number, number];
  /** The rule of minimumRows, as applied. */
  min_rows: MinimumRows;
  /** Predictions' lower bound per output (ms): FLOOR_FRACTION of the smallest training value. */
  floor_ms: number[];
  /** Impossible orderings of the kept predictor on seeded pairs of the space (null without a space). */
  monotonicity: MonotonicityReport | null;
  /** The same for the MLP (when the MLP is not the one kept, for the record). */
  mlp_monotonicity_violations: number | null;
  /** Things to look at: impossible orderings, a small test split. */
  warnings: string[];
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
  /** The MLP's test RMSE more than 1 % below linear regression's, the paired interval below 1 (vs_linear "better"). */
  beats_linear: boolean;
  /** The MLP against linear regression by test RMSE: better / worse when more than 1 % apart and
   *  the paired-bootstrap interval of the ratio excludes 1 (and at least MIN_COMPARE_ROWS test rows); else tie. */
  vs_linear: Verdict;
}

/** Training rows per coefficient least squares determines (docs/latency.md "Sanity": with n = 3p
 *  rows, OLS's expected out-of-sample MSE is sigma^2 (1 + p / (n - p - 1)), about 1.5 sigma^2: within
 *  ~25 % of the noise floor in RMSE; at 2p it is ~2 sigma^2). */
export const ROWS_PER_COEFFICIENT = 3;
/** Validation and test rows, each, at least (after outliers): fewer cannot rank two models (metrics.ts MIN_COMPARE_ROWS). */
export const MIN_HOLDOUT = MIN_COMPARE_ROWS;

export interface MinimumRows {
  features: number;
  /** Coefficients least squares can determine: the rank of the features (over the space when given, else the rows) plus the intercept. */
  coefficients: number;
  min_train: number;
  min_holdout: number;
  /** Rows a dataset needs at least (before outliers): min_train + 2 min_holdout. */
  min_rows: number;
}

/** How many rows a fit with these features needs (docs/latency.md "Sanity"). */
export function minimumRows(X: readonly (readonly number[])[]): MinimumRows {
  const coefficients = featureRank(X) + 1;
  const minTrain = ROWS_PER_COEFFICIENT * coefficients;
  return { features: X[0]?.length ?? 0, coefficients, min_train: minTrain, min_holdout: MIN_HOLDOUT, min_rows: minTrain + 2 * MIN_HOLDOUT };
}

/**
 * The rows a predictor of `space` needs (fitPredictor's rule, before outliers), for a campaign to
 * measure enough: the features' rank is taken over a seeded sample of the space, as the fit does.
 */
export function minimumRowsForSpace(space: Space, features: FeatureKind = "sums", seed = 1): MinimumRows {
  const spec = featureSpec(features, space);
  return minimumRows(spaceSample(space, spec, featureCount(spec), seed));
}

/** Holdout (validation, test) rows of a split of n rows: a tenth, at least MIN_HOLDOUT. */
function holdoutSize(n: number): number {
  return Math.max(MIN_HOLDOUT, Math.round(n / 10));
}

/** The smallest n' >= n whose split leaves, at keep rate q, min_train training rows and min_holdout in each holdout. */
function rowsNeeded(n: number, q: number, m: MinimumRows): number {
  for (let k = n; k < 10_000_000; k++) {
    const h = Math.max(holdoutSize(k), Math.ceil(m.min_holdout / q)); // splitIndices extends the holdouts to min_holdout usable rows
    if ((k - 2 * h) * q >= m.min_train) return k;
  }
  return Infinity;
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

/**
 * The seeded 8:1:1 split: [train, val, test] row indices; validation and test get at least
 * MIN_HOLDOUT rows each (n < 95). With `unusable` (the outlier rule's rows), each holdout is
 * extended along the same permutation until it holds MIN_HOLDOUT usable rows, so that a campaign
 * that lost rows to spikes on a busy machine still has a test split (the permutation, so the
 * order of the rows, does not change; only where the holdouts end).
 */
/**
 * The split fitPredictor makes of `rows`: holdouts sized by the full outlier rule whatever the
 * outlier mode, so the test rows are the same in every mode (and for whoever compares on them).
 */
export function fitSplit(rows: readonly LatencyRow[], seed: number): [number[], number[], number[]] {
  return splitIndices(rows.length, seed, findOutliers(rows).flagged);
}

export function splitIndices(n: number, seed: number, unusable?: readonly boolean[]): [number[], number[], number[]] {
  const rng = mulberry32(seed);
  const perm = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [perm[i], perm[j]] = [perm[j], perm[i]];
  }
  let nTest = Math.min(holdoutSize(n), Math.floor(n / 3)), nVal = nTest;
  if (unusable) {
    const usable = (from: number, len: number) => perm.slice(from, from + len).filter((i) => !unusable[i]).length;
    while (usable(0, nTest) < MIN_HOLDOUT && nTest < Math.floor(n / 3)) nTest++;
    while (usable(nTest, nVal) < MIN_HOLDOUT && nTest + nVal < Math.floor((2 * n) / 3)) nVal++;
  }
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
  if (n === 0) throw new LatencyDataError("no rows to fit");
  const archsSeen = rows.filter((r) => r.arch).map((r) => r.arch!);
  if (new Set(archsSeen.map(archKey)).size !== archsSeen.length) {
    throw new LatencyDataError("the same architecture appears in several rows: read campaign files with latestPerArch (readTrainingRows does)");
  }
  const kind: FeatureKind = o.features === undefined || o.features === "auto" ? "sums" : o.features;
  if (o.space) {
    const bad = rows.findIndex((r) => rowOutsideSpace(r, o.space!) !== undefined);
    if (bad >= 0) throw new LatencyDataError(`row ${bad + 1} is not in the given space: ${rowOutsideSpace(rows[bad], o.space)}`);
  }
  const device = commonValue<DeviceInfo>(rows, (r) => r.device, sameDevice, "devices", deviceLabel) ?? o.device ?? "unknown device";
  const protocol = commonValue<Protocol>(rows, (r) => r.protocol, sameProtocol, "protocols", protocolLine);
  const spec = featureSpec(kind, o.space, archsSeen);
  const K = featureCount(spec), O = target === "total" ? 1 : 2;
  const X = rows.map((r) => encodeRow(r, spec));

  // enough rows? The coefficients least squares can determine: over the space when given (a
  // seeded sample of it, its extremes included), else over the rows at hand
  const spaceX = o.space ? spaceSample(o.space, spec, K, seed) : X;
  const need = minimumRows(spaceX);
  const rule = `${need.min_train} training rows (${ROWS_PER_COEFFICIENT} per coefficient; ${need.coefficients} coefficients: the ${K} ${kind} features are of rank ${need.coefficients - 1} ${o.space ? "over the space" : "over these rows"}, and the intercept) and ${need.min_holdout} validation and ${need.min_holdout} test rows, after outliers`;
  if (n < need.min_rows) throw new LatencyDataError(`${n} rows: a predictor needs ${rule}: at least ${need.min_rows} rows; measure ${need.min_rows - n} more (or use fewer features: --features hat)`);
  const Y = rows.map((r) => (O === 1 ? [totalMs(r)] : [r.encoder_ms, r.decoder_ms]));
  const total = rows.map(totalMs);

  // split, then outliers
  const [trainAll, valAll, testAll] = fitSplit(rows, seed);
  const { flagged, summary } = outlierMask(rows, o.outliers ?? "drop");
  const trainIdx = trainAll.filter((i) => !flagged[i]), valIdx = valAll.filter((i) => !flagged[i]), testIdx = testAll.filter((i) => !flagged[i]);
  const dropped = flagged.filter(Boolean).length;
  if (trainIdx.length < need.min_train || valIdx.length < need.min_holdout || testIdx.length < need.min_holdout) {
    const more = rowsNeeded(n, (n - dropped) / n, need) - n;
    throw new LatencyDataError(`too few rows left after outliers (${dropped} dropped): ${trainIdx.length} train, ${valIdx.length} validation, ${testIdx.length} test; a predictor needs ${rule}; measure about ${Number.isFinite(more) ? Math.max(1, more) : "many"} more`);
  }
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
  const backendChoice = await selectBackend(o.backend, log);
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

  // the floor: a fraction of the smallest training value of each output
  const floorMs = Array.from({ length: O }, (_, k) => FLOOR_FRACTION * Math.min(...trainIdx.map((i) => Y[i][k])));
  const parts = (model: ModelKind): PredictorParts => ({
    device, space: o.space, protocol, model,
    features: { ...spec, mean: fNorm.mean, std: fNorm.std, min: fMin, max: fMax },
    linear, target: { kind: target, mean: yNorm.mean, std: yNorm.std },
    floor: { fraction: FLOOR_FRACTION, ms: floorMs },
    sizes: model === "mlp" ? sizes : [K, O], weights: model === "mlp" ? bestWeights : [],
    testSet: { measured: [], predicted: [] },
  });
  // the MLP and the linear part alone (same features, same training rows, same floor), as predictors
  const mlp = new Predictor(parts("mlp")), lin = new Predictor(parts("linear"));
  const on = (p: Predictor, idx: number[]) => Array.from(p.predictRows(idx.map((i) => rows[i])));
  // the simplest model that is as good: the MLP only when it beats the linear part on validation
  const valMeasured = valIdx.map((i) => total[i]);
  const vMlp = on(mlp, valIdx), vLin = on(lin, valIdx);
  const choice = compareRmse(valMeasured, vMlp, vLin, seed);
  const model: ModelKind = choice.verdict === "better" ? "mlp" : "linear";
  const kept = model === "mlp" ? mlp : lin;
  // least squares on HAT's 10, for reference
  const hat10 = fitLinear(trainIdx.map((i) => rows[i].features), trainIdx.map((i) => total[i]));
  const hat10Idx = (idx: number[]) => idx.map((i) => predictLinear(hat10, rows[i].features));
  const measured = testIdx.map((i) => total[i]);
  const pKept = on(kept, testIdx), pMlp = on(mlp, testIdx), pLin = on(lin, testIdx);
  const testMetrics = metrics(measured, pKept), mlpMetrics = metrics(measured, pMlp), linearMetrics = metrics(measured, pLin);
  const hat10Metrics = metrics(measured, hat10Idx(testIdx));
  const vs = compareRmse(measured, pMlp, pLin, seed);
  const mono = o.space ? monotonicityCheck((a) => kept.predict(a), o.space, { seed }) : null;
  const monoMlp = o.space ? (model === "mlp" ? mono! : monotonicityCheck((a) => mlp.predict(a), o.space, { seed })) : null;
  const warnings: string[] = [];
  if (mono && mono.violations > 0) {
    warnings.push(`impossible orderings: in ${mono.violations} of ${mono.pairs} sampled pairs (${(100 * mono.fraction).toFixed(1)} %) a SubTransformer no larger than another in any dimension is predicted slower (by up to ${mono.worst_excess_ms.toPrecision(3)} ms, beyond ${100 * mono.tolerance} %)`);
  }
  if (mono?.smallest_slower_than_largest) warnings.push(`the space's smallest SubTransformer is predicted slower (${mono.smallest_ms.toPrecision(4)} ms) than its largest (${mono.largest_ms.toPrecision(4)} ms)`);
  if (!o.space) warnings.push("no space given (--space): the ordering check was not run");
  const report: FitReport = {
    rows: n, train: trainIdx.length, val: valIdx.length, test: testIdx.length,
    outliers_dropped: dropped, outlier_summary: summary,
    features: kind, target, hidden, seed, device: deviceLabel(device),
    test_metrics: testMetrics, test_rmse_ci_ms: rmseInterval(measured, pKept, seed),
    model, model_choice: { ...choice, mlp_rmse_ms: metrics(valMeasured, vMlp).rmse_ms, linear_rmse_ms: metrics(valMeasured, vLin).rmse_ms },
    mlp_metrics: mlpMetrics, mlp_rmse_ci_ms: rmseInterval(measured, pMlp, seed), linear_rmse_ci_ms: rmseInterval(measured, pLin, seed),
    vs_linear_ratio: vs.ratio, vs_linear_ratio_ci: vs.ratio_ci,
    min_rows: need, floor_ms: floorMs, monotonicity: mono, mlp_monotonicity_violations: monoMlp ? monoMlp.fraction : null, warnings,
    linear_metrics: linearMetrics, linear_hat10_metrics: hat10Metrics,
    val_rmse_ms: best, epochs: epoch, best_epoch: bestEpoch, seconds: (performance.now() - t0) / 1000, backend: backendChoice.name,
    beats_linear: vs.verdict === "better",
    vs_linear: vs.verdict,
  };
  if (dropped > 0) {
    const m = testAll.map((i) => total[i]);
    report.test_metrics_all = metrics(m, on(kept, testAll));
    report.linear_metrics_all = metrics(m, on(lin, testAll));
  }
  if ((o.outliers ?? "drop") !== "drop") {
    const rule = findOutliers(rows).flagged;
    const clean = testAll.filter((i) => !rule[i]);
    if (clean.length < testIdx.length && clean.length > 0) {
      const m = clean.map((i) => total[i]);
      report.test_metrics_clean = metrics(m, on(kept, clean));
      report.linear_metrics_clean = metrics(m, on(lin, clean));
    }
  }
  const ci = (c: [number, number]) => `[${c[0].toFixed(3)}, ${c[1].toFixed(3)}]`;
  log(`trained ${epoch} epochs in ${((performance.now() - tTrain) / 1000).toFixed(1)} s; best validation RMSE ${best.toFixed(3)} ms at epoch ${bestEpoch}`);
  log(`validation (${valIdx.length} rows): MLP ${report.model_choice.mlp_rmse_ms.toFixed(3)} ms, linear ${report.model_choice.linear_rmse_ms.toFixed(3)} ms, ratio ${choice.ratio.toFixed(3)} (95 % interval ${ci(choice.ratio_ci)}): the predictor is ${model === "mlp" ? "the MLP (it beats the linear part)" : "the linear part alone (the MLP does not beat it by more than the interval)"}`);
  log(`test  MLP    ${formatMetrics(mlpMetrics)}; RMSE 95 % interval ${ci(report.mlp_rmse_ci_ms)} ms`);
  log(`test  linear ${formatMetrics(linearMetrics)}; RMSE 95 % interval ${ci(report.linear_rmse_ci_ms)} ms${kind === "hat" ? "" : ` (same features); on HAT's 10 features: ${formatMetrics(hat10Metrics)}`}`);
  if (report.test_metrics_all) {
    log(`all test rows, outliers included: kept (${model}) ${formatMetrics(report.test_metrics_all)}; linear ${formatMetrics(report.linear_metrics_all!)}`);
  }
  if (report.test_metrics_clean) {
    log(`test rows the outlier rule keeps: kept (${model}) ${formatMetrics(report.test_metrics_clean)}; linear ${formatMetrics(report.linear_metrics_clean!)}`);
  }
  log(`MLP vs linear on the test rows: ${vs.verdict} (RMSE ratio ${vs.ratio.toFixed(3)}, 95 % interval ${ci(vs.ratio_ci)}${testIdx.length < MIN_COMPARE_ROWS ? `; under ${MIN_COMPARE_ROWS} test rows: never "better"` : ""})`);
  if (mono) log(`orderings: ${mono.violations} of ${mono.pairs} pairs a <= b predicted with a slower (beyond ${100 * mono.tolerance} %); smallest ${mono.smallest_ms.toFixed(3)} ms, largest ${mono.largest_ms.toFixed(3)} ms; floor ${floorMs.map((f) => f.toFixed(3)).join(" + ")} ms`);
  for (const w of warnings) log(`WARNING: ${w}`);
  const fitted = new Predictor({
    ...parts(model),
    fit: { ...report, lr, batch, max_epochs: maxEpochs, patience },
    testSet: { measured, predicted: pKept },
  });
  return { predictor: fitted, report };
}

/** Feature vectors of a seeded sample of the space (its smallest and largest first): what the predictor will be asked about. */
function spaceSample(space: Space, spec: ReturnType<typeof featureSpec>, K: number, seed: number): number[][] {
  const rng = mulberry32(seed ^ 0x5a3e);
  const archs = [smallestArch(space), largestArch(space), ...Array.from({ length: 4 * K + 200 }, () => sampleArch(space, rng))];
  return archs.map((a) => {
    const x = new Float64Array(K);
    encodeArch(a, spec, x, 0);
    return Array.from(x);
  });
}
