/**
 * A latency predictor for a new device (or a new task's vocabulary) from a predictor of another
 * device plus a few measured rows (docs/method.md §5: HAT measures ~2,000 architectures per
 * device; this needs ~20 once one device has its 2,000). docs/latency.md ("A new device with few
 * measurements") has the measured pairs and how the choices below were made.
 *
 * What transfers between devices is the prior's ranking of architectures by work, part by part:
 * the encoder runs once per sentence and the decoder once per output token, and a new device (or
 * a new vocabulary, which changes only the decoder's output projection) rescales the two by
 * different factors. What does not transfer is how a device weighs one kind of work against
 * another (HAT's TITAN Xp decoder follows its layer count, the Pi's its matrix products: a
 * rescale of the TITAN Xp's decoder misses the Pi's by 500 ms RMSE). So, for each output o of the
 * prior (encoder and decoder latency; the total for a "total" prior), fitted on the N rows:
 *
 *     y_o = b_o + a_o prior_o(x) + sum_{k in T_o} beta_ok z_k       (z: the prior's normalised features)
 *
 * T_o: the part's cost terms (PART_TERMS, a few of the "sums" features; all features for HAT's 10).
 * a_o and b_o are unpenalised (per-part scale and offset), beta is ridge-penalised with strength
 * lambda_o chosen by leave-one-out cross-validation (the lowest LOO error; lambda = infinity is the
 * per-part scale-and-offset exactly, and ties go to the stronger shrinkage). A non-positive a_o
 * (the prior ranks this part the wrong way round) refits that part without the prior.
 *
 * Spikes among the N rows (20 rows are too few for ./outliers.ts, which needs 60): rows twice as
 * slow as the prior's part rescaled by the median ratio are left out first; then each drawn row
 * is tested against the fit (its LOO prediction if in the fit), the fit redone without the rows
 * that fail, until nothing changes (spikeThreshold).
 *
 * The result is an ordinary predictor (./predictor.ts): the prior's features, normalisation and
 * MLP, with its linear part and output scale rewritten, since a_o (lin_o + mlp_o std_o + mean_o)
 * + b_o + beta_o . z is again lin' + mlp_o std' + mean'. Its `fit.transfer` says from which prior
 * and with how many rows.
 *
 * Also here, for comparison in the same run: the plain scale-and-offset of the prior's total
 * (y = a prior(x) + b, least squares on the rows the transfer keeps), and a plain fit on the N rows
 * without a prior (ridge on the same part terms, standardised on the N rows, lambda by the same
 * LOO rule, the same spike test against its own fit).
 */
import { mulberry32 } from "../runtime/rng.js";
import type { Space } from "../runtime/types.js";
import { InputError } from "../runtime/errors.js";
import { protocolLine, sameProtocol, type Protocol } from "../runtime/protocol.js";
import { commonValue, deviceLabel, LatencyDataError, sameDevice, totalMs, type DeviceInfo, type LatencyRow } from "./dataset.js";
import { encodeRow, featureCount, featureNames, featureSpec, rowOutsideSpace, type FeatureKind, type FeatureSpec } from "./features.js";
import { outlierMask, type OutlierMode } from "./fit.js";
import { metrics, type Metrics } from "./metrics.js";
import { FLOOR_FRACTION, Predictor, type PredictorParts } from "./predictor.js";

export class TransferError extends InputError {
  override name = "TransferError";
}

/** Rows a few-shot fit needs at least (the LOO choice of lambda needs a few more than its 2-3 unpenalised terms). */
export const MIN_TRAIN_ROWS = 5;
/** Rows left to evaluate on at least. */
export const MIN_TEST_ROWS = 10;
/** The ridge strengths tried, relative to the number of rows (features standardised); Infinity: no feature terms. */
export const LAMBDAS = [Infinity, 1e4, 3e3, 1e3, 300, 100, 30, 10, 3, 1, 0.3, 0.1, 0.03, 0.01, 3e-3, 1e-3, 3e-4, 1e-4];
/** A row more than this much slower than the rescaled prior (encoder or decoder) is a spike (./outliers.ts's threshold). */
const SPIKE = 0.5;
/** Against the prior merely rescaled, only a row twice as slow is surely a spike: devices weigh architectures differently (HAT's Pi over its TITAN Xp: decoder ratios 34-89 over 20 rows). */
const GROSS = 1;

/**
 * The seeded draw: the first k indices of a seeded Fisher-Yates permutation of 0..n-1, so the
 * draw of k is the start of the draw of any larger k with the same seed.
 */
export function drawRows(n: number, k: number, seed: number): number[] {
  if (!Number.isInteger(k) || k < 1 || k > n) throw new RangeError(`drawRows: cannot draw ${k} of ${n}`);
  const rng = mulberry32(seed ^ 0x7a4e);
  const perm = Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(rng() * (n - i));
    [perm[i], perm[j]] = [perm[j], perm[i]];
  }
  return perm.slice(0, k);
}

// ---------------------------------------------------------------------------------------------
// Ridge regression with unpenalised columns, and its leave-one-out choice of lambda

/** Solve A x = b (A [d, d] row-major, copied) by Gaussian elimination with partial pivoting. */
function solve(A0: Float64Array, b0: Float64Array, d: number): Float64Array {
  const A = Float64Array.from(A0), b = Float64Array.from(b0);
  for (let c = 0; c < d; c++) {
    let p = c;
    for (let r = c + 1; r < d; r++) if (Math.abs(A[r * d + c]) > Math.abs(A[p * d + c])) p = r;
    if (p !== c) {
      for (let k = 0; k < d; k++) [A[c * d + k], A[p * d + k]] = [A[p * d + k], A[c * d + k]];
      [b[c], b[p]] = [b[p], b[c]];
    }
    const piv = A[c * d + c];
    if (Math.abs(piv) < 1e-300) throw new RangeError("ridge: singular system");
    for (let r = c + 1; r < d; r++) {
      const f = A[r * d + c] / piv;
      if (f === 0) continue;
      for (let k = c; k < d; k++) A[r * d + k] -= f * A[c * d + k];
      b[r] -= f * b[c];
    }
  }
  const x = new Float64Array(d);
  for (let r = d - 1; r >= 0; r--) {
    let s = b[r];
    for (let k = r + 1; k < d; k++) s -= A[r * d + k] * x[k];
    x[r] = s / A[r * d + r];
  }
  return x;
}

/**
 * Minimise sum_i (y_i - X_i . w)^2 + lambda n sum_{k >= free} w_k^2 over the rows `idx`: columns
 * 0..free-1 unpenalised (intercept, prior prediction), the rest penalised (lambda Infinity: they are
 * left out, w_k = 0). A tiny ridge (1e-9 of the column's scale) on the free columns keeps a
 * constant column from making the system singular.
 */
function ridge(X: readonly Float64Array[], y: readonly number[], idx: readonly number[], free: number, lambda: number): Float64Array {
  const D = X[0].length, d = Number.isFinite(lambda) ? D : free;
  const A = new Float64Array(d * d), b = new Float64Array(d);
  for (const i of idx) {
    const x = X[i];
    for (let a = 0; a < d; a++) {
      b[a] += x[a] * y[i];
      for (let c = 0; c < d; c++) A[a * d + c] += x[a] * x[c];
    }
  }
  const n = idx.length;
  for (let a = 0; a < d; a++) A[a * d + a] += a < free ? 1e-9 * (A[a * d + a] + 1e-12) : lambda * n;
  const w = solve(A, b, d), out = new Float64Array(D);
  out.set(w);
  return out;
}

const dot = (x: Float64Array, w: Float64Array) => {
  let s = 0;
  for (let k = 0; k < x.length; k++) s += x[k] * w[k];
  return s;
};

export interface RidgeChoice {
  lambda: number;
  w: Float64Array;
  /** LOO mean squared error of each lambda tried (same order as the lambdas). */
  loo_mse: number[];
  /** The chosen lambda's leave-one-out prediction of each row of idx (same order). */
  loo: number[];
}

/** The LOO choice of lambda (the lowest LOO mean squared error; ties go to the larger lambda, the stronger shrinkage), then the fit on all rows. */
export function ridgeLoo(X: readonly Float64Array[], y: readonly number[], idx: readonly number[], free: number, lambdas: readonly number[] = LAMBDAS): RidgeChoice {
  const n = idx.length;
  const stats = lambdas.map((lam) => {
    const loo: number[] = [];
    for (let h = 0; h < n; h++) {
      const rest = idx.filter((_, j) => j !== h);
      loo.push(dot(X[idx[h]], ridge(X, y, rest, free, lam)));
    }
    const mse = loo.reduce((s, v, h) => s + (y[idx[h]] - v) ** 2, 0) / n;
    return { lam, mse, loo };
  });
  const best = stats.reduce((b, s) => (s.mse < b.mse ? s : b));
  return { lambda: best.lam, w: ridge(X, y, idx, free, best.lam), loo_mse: stats.map((s) => s.mse), loo: best.loo };
}

/**
 * The spike test of a few-row fit: row i's relative excess over its prediction (its leave-one-out
 * prediction when it is in the fit) above max(3 %, 3 robust sigma of the fitted rows' LOO
 * excesses), at most 50 % (./outliers.ts's spike threshold). Noise only slows a measurement down,
 * so only the upper side counts (one-sided 3 sigma: ~0.1 % of good rows). On a quiet device (HAT's
 * Pi: ~1 % run to run) this also catches the warm-up rows that are ~10 % slow. (5 sigma and a 5 %
 * floor left one of them in 3 of 30 Pi draws, with test RMSE 440-490 ms.)
 */
function spikeThreshold(excess: readonly number[]): number {
  const m = median([...excess]);
  const sigma = 1.4826 * median(excess.map((e) => Math.abs(e - m)));
  return Math.min(SPIKE, Math.max(0.03, 3 * sigma));
}

// ---------------------------------------------------------------------------------------------
// Which features each part's correction may use

/**
 * The terms of a part's cost that a device may weigh differently from another (docs/method.md §5:
 * latency is a sum over layers of matrix products and per-layer overheads), all among the "sums"
 * features (./features.ts): the encoder's FFN work (layers x embed x FFN), projections and
 * normalisations (layers x embed), attention heads and layer count; the decoder's output
 * projection (its embed dim: embed x vocabulary per token), per-layer overhead, layers x embed,
 * projections (layers x embed^2), FFN work, cross-attention keys and values (layers x attended x
 * encoder embed), encoder layers attended, and heads. The encoder's terms never read the
 * decoder's choices and the reverse. On HAT's four files least squares on the prior's prediction
 * and these terms is within 1 % of least squares on all 22 features.
 */
export const PART_TERMS = {
  encoder: ["enc_sum_embed_x_ffn", "enc_sum_embed", "enc_sum_heads", "encoder_layer_num"],
  decoder: ["decoder_embed_dim", "decoder_layer_num", "dec_sum_embed", "dec_sum_embed_sq", "dec_sum_embed_x_ffn", "dec_sum_ende_x_enc_embed", "dec_sum_ende_layers", "dec_sum_self_heads", "dec_sum_cross_heads"],
} as const;

/** Feature indices of the terms of `part` in the encoding `spec` (all features when it lacks them: HAT's 10). */
export function partColumns(spec: FeatureSpec, part: "encoder" | "decoder" | "total"): number[] {
  const names = featureNames(spec);
  const want: readonly string[] = part === "total" ? [...PART_TERMS.encoder, ...PART_TERMS.decoder] : PART_TERMS[part];
  const idx = want.map((n) => names.indexOf(n));
  return idx.every((i) => i >= 0) ? idx : names.map((_, i) => i);
}

// ---------------------------------------------------------------------------------------------
// The few-shot fit

export interface FewShotOptions {
  /** How many rows of `rows` to draw and fit on. */
  trainRows: number;
  /** Seed of the draw (default 1). */
  seed?: number;
  /** The outlier rule for the evaluation rows (default "drop", as `hat predictor fit`). */
  outliers?: OutlierMode;
  /** The space the rows must be in: must be the prior's when there is one. */
  space?: Space;
  /** Feature encoding: must be the prior's when there is one; without a prior default "sums". */
  features?: FeatureKind | "auto";
  /** Device name when the rows do not say. */
  device?: DeviceInfo | string;
  /** What to call the prior in the output file (its path). */
  priorLabel?: string;
  /** Rows to evaluate on as well, beside every row not drawn (e.g. a full fit's test split). */
  extraEval?: { name: string; idx: readonly number[] };
  log?: (line: string) => void;
}

export interface ModelReport {
  test: Metrics;
  /** On every row not drawn, outliers included (only when the outlier rule dropped some). */
  test_all?: Metrics;
  /** On options.extraEval's rows (minus those drawn). */
  extra?: Metrics;
}

export interface FewShotReport {
  train_rows: number;
  /** Drawn rows the fit left out as spikes against the rescaled prior. */
  train_dropped: number;
  test_rows: number;
  outliers_dropped: number;
  seed: number;
  /** The transfer (with a prior), else the plain fit. */
  model: "transfer" | "plain";
  transfer?: ModelReport & { scale: number[]; offset: number[]; lambda: (number | null)[]; outputs: string[] };
  scale_offset?: ModelReport & { scale: number; offset: number };
  plain: ModelReport & { lambda: (number | null)[]; train_dropped: number };
  drawn: number[];
}


function canon(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canon);
  if (v && typeof v === "object") return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canon((v as Record<string, unknown>)[k])]));
  return v;
}
export const sameSpace = (a: Space, b: Space): boolean => JSON.stringify(canon(a)) === JSON.stringify(canon(b));

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b), m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

function lambdaOut(l: number): number | null {
  return Number.isFinite(l) ? l : null; // JSON: null for infinity (no feature terms)
}

/**
 * Draw `trainRows` rows (seeded), fit on them (a transfer of `prior` when given, else a plain
 * ridge fit), evaluate on every other row the outlier rule keeps. With a prior, the plain
 * scale-and-offset and the plain fit are fitted on the same rows and reported beside it.
 */
export function fitFewShot(rows: readonly LatencyRow[], prior: Predictor | undefined, o: FewShotOptions): { predictor: Predictor; report: FewShotReport } {
  const log = o.log ?? (() => {});
  const n = rows.length, N = o.trainRows, seed = o.seed ?? 1;
  if (!Number.isInteger(N) || N < MIN_TRAIN_ROWS) throw new TransferError(`--train-rows must be an integer >= ${MIN_TRAIN_ROWS}, got ${N}`);
  if (n < N + MIN_TEST_ROWS) throw new TransferError(`the data has ${n} rows: --train-rows ${N} leaves ${Math.max(0, n - N)} to evaluate on, and at least ${MIN_TEST_ROWS} are needed (measure ${N + MIN_TEST_ROWS - n} more, or lower --train-rows)`);
  let spec: FeatureSpec;
  let space = o.space;
  if (prior) {
    if (o.space && prior.space && !sameSpace(o.space, prior.space)) throw new TransferError("--space: the prior was fitted for another space than the one given (a transfer keeps the prior's space)");
    if (o.space && !prior.space) throw new TransferError("--space: the prior has no space (it checks feature ranges instead); leave --space out");
    space = prior.space;
    spec = { kind: prior.features.kind, maxEncoderLayers: prior.features.maxEncoderLayers, maxDecoderLayers: prior.features.maxDecoderLayers };
    if (o.features !== undefined && o.features !== "auto" && o.features !== spec.kind) throw new TransferError(`--features: the prior reads the '${spec.kind}' features, not '${o.features}' (a transfer keeps the prior's encoding)`);
    if (spec.kind === "layers" && rows.some((r) => !r.arch)) throw new TransferError("the prior reads the 'layers' features, which need each row's architecture (an `arch` column); these rows have only HAT's 10 features");
  } else {
    const kind: FeatureKind = o.features === undefined || o.features === "auto" ? "sums" : o.features;
    spec = featureSpec(kind, space, rows.filter((r) => r.arch).map((r) => r.arch!));
  }
  if (space) {
    const bad = rows.findIndex((r) => rowOutsideSpace(r, space!) !== undefined);
    if (bad >= 0) throw new TransferError(`row ${bad + 1} is outside the ${prior ? "prior's" : "given"} space: ${rowOutsideSpace(rows[bad], space)}`);
  }
  const device = commonValue<DeviceInfo>(rows, (r) => r.device, sameDevice, "devices", deviceLabel) ?? o.device ?? "unknown device";
  const protocol = commonValue<Protocol>(rows, (r) => r.protocol, sameProtocol, "protocols", protocolLine);
  if (prior && protocol && prior.protocol && !sameProtocol(protocol, prior.protocol)) log(`note: the prior was measured with another protocol (${protocolLine(prior.protocol)}); these rows: ${protocolLine(protocol)}`);

  const drawn = drawRows(n, N, seed);
  const isDrawn = new Uint8Array(n);
  for (const i of drawn) isDrawn[i] = 1;
  const { flagged, summary } = outlierMask(rows, o.outliers ?? "drop");
  const evalAll = rows.map((_, i) => i).filter((i) => !isDrawn[i]);
  const evalIdx = evalAll.filter((i) => !flagged[i]);
  if (evalIdx.length < MIN_TEST_ROWS) throw new TransferError(`only ${evalIdx.length} rows left to evaluate on after the draw and the outlier rule; need ${MIN_TEST_ROWS}`);
  const extraIdx = o.extraEval?.idx.filter((i) => !isDrawn[i] && !flagged[i]);
  log(`rows: ${n}; drawn ${N} (seed ${seed}) to fit, ${evalIdx.length} to evaluate on; ${summary}`);

  const total = rows.map(totalMs);
  const K = featureCount(spec);
  const X = rows.map((r) => encodeRow(r, spec));
  const evaluate = (pred: ArrayLike<number>): ModelReport => {
    const pick = (idx: readonly number[]) => metrics(idx.map((i) => total[i]), idx.map((i) => pred[i]));
    return {
      test: pick(evalIdx),
      ...(evalAll.length > evalIdx.length ? { test_all: pick(evalAll) } : {}),
      ...(extraIdx && extraIdx.length > 1 ? { extra: pick(extraIdx) } : {}),
    };
  };

  // --- the plain fit: ridge on the features standardised over the drawn rows, per part
  const fm = new Array<number>(K).fill(0), fs = new Array<number>(K).fill(0);
  for (const i of drawn) for (let k = 0; k < K; k++) fm[k] += X[i][k] / N;
  for (const i of drawn) for (let k = 0; k < K; k++) fs[k] += (X[i][k] - fm[k]) ** 2 / N;
  for (let k = 0; k < K; k++) fs[k] = Math.sqrt(fs[k]) > 1e-9 * Math.max(1, Math.abs(fm[k])) ? Math.sqrt(fs[k]) : 1;
  const parts = [rows.map((r) => r.encoder_ms), rows.map((r) => r.decoder_ms)];
  const plainCols = [partColumns(spec, "encoder"), partColumns(spec, "decoder")];
  const Zp = X.map((x) => Float64Array.from([1, ...x.map((v, k) => (v - fm[k]) / fs[k])]));
  const plainOn = (keep: readonly number[]) => parts.map((y, o) => {
    const cols = plainCols[o];
    const f = ridgeLoo(Zp.map((z) => Float64Array.from([1, ...cols.map((k) => z[1 + k])])), y, keep, 1, LAMBDAS.filter(Number.isFinite));
    const w = new Float64Array(1 + K); // back to all K features (zeros off the part's terms)
    w[0] = f.w[0];
    cols.forEach((k, j) => { w[1 + k] = f.w[1 + j]; });
    return { ...f, w };
  });
  // the same spike rule against its own fit
  const { keep: plainKeep, fits: plainFits } = robust(drawn, drawn, parts, plainOn, (fs, o, i, j) => (j >= 0 ? fs[o].loo[j] : dot(Zp[i], fs[o].w)));
  const plainFloor = parts.map((y) => FLOOR_FRACTION * Math.min(...plainKeep.map((i) => y[i])));
  const plainPred = rows.map((_, i) => plainFits.reduce((s, f, o) => s + Math.max(dot(Zp[i], f.w), plainFloor[o]), 0));
  const plainPredictor = (): Predictor => new Predictor({
    device, space, protocol,
    features: { ...spec, mean: fm, std: fs, min: minMax(X, drawn, K, Math.min), max: minMax(X, drawn, K, Math.max) },
    linear: { w: plainFits.map((f) => Array.from(f.w.subarray(1))), b: plainFits.map((f) => f.w[0]) },
    target: { kind: "split", mean: [0, 0], std: [1, 1] }, model: "linear", floor: { fraction: FLOOR_FRACTION, ms: plainFloor },
    sizes: [K, 2], weights: [],
    testSet: { measured: [], predicted: [] },
  });
  const plain = { ...evaluate(plainPred), lambda: plainFits.map((f) => lambdaOut(f.lambda)), train_dropped: N - plainKeep.length };

  const report: FewShotReport = {
    train_rows: N, train_dropped: prior ? 0 : N - plainKeep.length, test_rows: evalIdx.length, outliers_dropped: evalAll.length - evalIdx.length, seed,
    model: prior ? "transfer" : "plain", plain, drawn,
  };
  if (!prior) {
    const predictor = plainPredictor();
    return { predictor: withFit(predictor, report, evalIdx, total, plainPred, undefined), report };
  }

  // --- the transfer
  // the prior's own predictions, without its floor (a floor of the prior's device, not this one's)
  const pp = new Predictor({ ...prior.toParts(), floor: undefined }).predictRowsParts(rows);
  const split = pp.encoder !== undefined;
  if (!split) log("note: the prior predicts the total only, so the transfer rescales and corrects the total (a split prior, --target split, transfers each part apart: better on HAT's Xeon -> Pi)");
  if (partColumns(spec, "encoder").length === K) log(`note: the prior reads the '${spec.kind}' features, which lack the part cost terms (layers x embed x FFN ...): its correction can only use those (a 'sums' prior transfers far better: on HAT's Xeon -> Pi, RMSE ~70 ms against ~300-370 ms)`);
  const priorOut = split ? [pp.encoder!, pp.decoder!] : [pp.total];
  const ys = split ? parts : [total];
  // spikes: first against the robust per-part rescale of the prior (the median ratio: gross
  // spikes, such as HAT's Pi's 10x warm-up encoders), then against the fit itself, refitted
  // without them until the set stops changing (./outliers.ts's way)
  const start = drawn.filter((i) => ys.every((y, o) => {
    const a = median(drawn.map((j) => y[j] / Math.max(priorOut[o][j], 1e-12)));
    return y[i] <= (1 + GROSS) * a * priorOut[o][i];
  }));
  const fmean = prior.features.mean, fstd = prior.features.std;
  const Z = X.map((x) => x.map((v, k) => (v - fmean[k]) / fstd[k]));
  const outNames = split ? (["encoder", "decoder"] as const) : (["total"] as const);
  const fitOn = (keep: readonly number[]) => ys.map((y, o) => {
    const cols = partColumns(spec, outNames[o]);
    const design = (withPrior: boolean) => rows.map((_, i) => Float64Array.from([1, withPrior ? priorOut[o][i] : 0, ...cols.map((k) => Z[i][k])]));
    let f = ridgeLoo(design(true), y, keep, 2);
    let dropped = false;
    if (!(f.w[1] > 0)) {
      // the prior's part ranks this device's the wrong way round: leave it out (a plain ridge fit of this part)
      dropped = true;
      f = ridgeLoo(design(false), y, keep, 2, LAMBDAS.filter(Number.isFinite));
    }
    const w = new Float64Array(2 + K); // back to all K features (zeros off the part's terms)
    w[0] = f.w[0];
    w[1] = f.w[1];
    cols.forEach((k, j) => { w[2 + k] = f.w[2 + j]; });
    return { ...f, w, dropped };
  });
  const partPred = (f: { w: Float64Array }, o: number, i: number) => f.w[0] + f.w[1] * priorOut[o][i] + Z[i].reduce((t, z, k) => t + z * f.w[2 + k], 0);
  const { keep, fits } = robust(drawn, start, ys, fitOn, (fs, o, i, j) => (j >= 0 ? fs[o].loo[j] : partPred(fs[o], o, i)));
  if (keep.length < MIN_TRAIN_ROWS) throw new TransferError(`only ${keep.length} of the ${N} drawn rows are within 50 % of the rescaled prior: the prior does not describe this device (fit without --prior)`);
  report.train_dropped = N - keep.length;
  if (report.train_dropped > 0) log(`left out ${report.train_dropped} of the ${N} drawn rows as spikes (slower than the fit beyond the spike threshold)`);
  fits.forEach((f, o) => { if (f.dropped) log(`the prior's ${outNames[o]} latency got a non-positive scale: that part is fitted without it`); });
  // the floor, as ./fit.ts sets it: FLOOR_FRACTION of the smallest latency of each output in the rows fitted
  const floor = ys.map((y) => FLOOR_FRACTION * Math.min(...keep.map((i) => y[i])));
  const transferPred = rows.map((_, i) => fits.reduce((s, f, o) => s + Math.max(partPred(f, o, i), floor[o]), 0));

  // the plain scale-and-offset of the prior's total, on the same rows
  const so = ridge(rows.map((_, i) => Float64Array.from([1, pp.total[i]])), total, keep, 2, Infinity);
  const soPred = rows.map((_, i) => so[0] + so[1] * pp.total[i]);
  report.scale_offset = { ...evaluate(soPred), scale: so[1], offset: so[0] };
  report.transfer = {
    ...evaluate(transferPred), outputs: split ? ["encoder", "decoder"] : ["total"],
    scale: fits.map((f) => f.w[1]), offset: fits.map((f) => f.w[0]), lambda: fits.map((f) => lambdaOut(f.lambda)),
  };
  const predictor = transferredPredictor(prior, fits.map((f) => f.w), floor, device, protocol);
  const check = predictor.predictRows(evalIdx.slice(0, 5).map((i) => rows[i]));
  evalIdx.slice(0, 5).forEach((i, j) => {
    if (Math.abs(check[j] - transferPred[i]) > 1e-6 * Math.max(1, Math.abs(transferPred[i]))) throw new Error(`transfer: the predictor file disagrees with the fit (${check[j]} vs ${transferPred[i]})`);
  });
  return { predictor: withFit(predictor, report, evalIdx, total, transferPred, { label: o.priorLabel, prior }), report };
}

/**
 * Fit on `start`; keep the rows of `all` that pass the spike test against that fit (per part: the
 * row's relative excess over its prediction, the leave-one-out prediction for rows in the fit),
 * refit; until the kept set stops changing (at most 10 rounds).
 */
function robust<F>(all: readonly number[], start: readonly number[], ys: readonly (readonly number[])[], fit: (keep: readonly number[]) => F, pred: (f: F, o: number, i: number, inFit: number) => number): { keep: number[]; fits: F } {
  let keep = [...start];
  let f = fit(keep);
  for (let round = 0; round < 10; round++) {
    const pos = new Map(keep.map((i, j) => [i, j]));
    const excess = ys.map((y, o) => all.map((i) => y[i] / Math.max(pred(f, o, i, pos.get(i) ?? -1), 1e-12) - 1));
    const thr = excess.map((e) => spikeThreshold(all.map((i, j) => [i, e[j]] as const).filter(([i]) => pos.has(i)).map(([, v]) => v)));
    const next = all.filter((_, j) => excess.every((e, o) => e[j] <= thr[o]));
    if (next.length < MIN_TRAIN_ROWS || (next.length === keep.length && next.every((v, j) => v === keep[j]))) break;
    keep = next;
    f = fit(keep);
  }
  return { keep, fits: f };
}

function minMax(X: number[][], idx: readonly number[], K: number, f: (...v: number[]) => number): number[] {
  return Array.from({ length: K }, (_, k) => f(...idx.map((i) => X[i][k])));
}

/**
 * The prior with output o rewritten to a_o * prior_o + b_o + beta_o . z (w = [b_o, a_o, beta_o...]):
 * linear' = a_o linear_o + beta_o, b' = a_o b_o(prior) + b_o, the MLP's output scale and mean times
 * a_o. A non-positive a_o (the prior's part says nothing about this device's) drops the MLP's
 * share of that output.
 */
function transferredPredictor(prior: Predictor, ws: Float64Array[], floor: number[], device: DeviceInfo | string, protocol: Protocol | undefined): Predictor {
  const parts = prior.toParts();
  const O = ws.length, K = parts.sizes[0];
  const mlp = parts.model !== "linear" && parts.weights.length > 0;
  const last = parts.weights.length - 1;
  const lw = mlp ? parts.weights[last].w.slice() : new Float32Array(0), lb = mlp ? parts.weights[last].b.slice() : new Float32Array(0);
  const nIn = mlp ? parts.sizes[last] : 0;
  const linear = { w: [] as number[][], b: [] as number[] }, tmean: number[] = [], tstd: number[] = [];
  for (let o = 0; o < O; o++) {
    const [b, a] = [ws[o][0], ws[o][1]];
    const pl = parts.linear ?? { w: Array.from({ length: O }, () => new Array<number>(K).fill(0)), b: new Array<number>(O).fill(0) };
    linear.w.push(pl.w[o].map((w, k) => a * w + ws[o][2 + k]));
    linear.b.push(a * pl.b[o] + b);
    if (a > 0) {
      tmean.push(a * parts.target.mean[o]);
      tstd.push(a * parts.target.std[o]);
    } else {
      for (let j = 0; j < nIn; j++) lw[j * O + o] = 0;
      if (mlp) lb[o] = 0;
      tmean.push(0);
      tstd.push(1);
    }
  }
  const weights = mlp ? parts.weights.map((l, i) => (i === last ? { w: lw, b: lb } : l)) : [];
  return new Predictor({
    ...parts, device, protocol, linear, target: { kind: parts.target.kind, mean: tmean, std: tstd }, weights,
    floor: { fraction: FLOOR_FRACTION, ms: floor }, fit: undefined, testSet: { measured: [], predicted: [] },
  });
}

function withFit(p: Predictor, report: FewShotReport, evalIdx: number[], total: number[], pred: number[], prior: { label?: string; prior: Predictor } | undefined): Predictor {
  const parts = p.toParts();
  const m = report.model === "transfer" ? report.transfer! : report.plain;
  const fit: Record<string, unknown> = {
    kind: report.model === "transfer" ? "transfer" : "few-rows",
    rows: report.train_rows + report.test_rows + report.outliers_dropped, train: report.train_rows - report.train_dropped, test: report.test_rows,
    features: parts.features.kind, target: parts.target.kind, seed: report.seed,
    test_metrics: m.test,
    transfer: {
      prior: prior ? { file: prior.label ?? null, device: deviceLabel(prior.prior.device), fit_test_metrics: prior.prior.fit?.test_metrics ?? null } : null,
      train_rows: report.train_rows, train_dropped: report.train_dropped, seed: report.seed, drawn: report.drawn,
      ...(report.transfer ? { scale: report.transfer.scale, offset: report.transfer.offset, lambda: report.transfer.lambda, outputs: report.transfer.outputs } : { lambda: report.plain.lambda }),
      ...(report.scale_offset ? { scale_offset_test_metrics: report.scale_offset.test } : {}),
      plain_test_metrics: report.plain.test,
    },
  };
  return new Predictor({ ...parts, fit, testSet: { measured: evalIdx.map((i) => total[i]), predicted: evalIdx.map((i) => pred[i]) } } satisfies PredictorParts);
}
