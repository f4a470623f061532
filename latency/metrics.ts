/**
 * How well predicted latencies match measured ones: RMSE (ms), mean absolute percentage error
 * (percent) and Kendall's rank correlation (tau-b: ties in either list handled), the measures a
 * hardware-aware search cares about (the search only needs the ranking and the constraint).
 */

function checkPair(measured: ArrayLike<number>, predicted: ArrayLike<number>): number {
  const n = measured.length;
  if (n !== predicted.length) throw new RangeError(`measured has ${n} values, predicted ${predicted.length}`);
  if (n === 0) throw new RangeError("no values to compare");
  return n;
}

/** Root mean squared error, in the values' unit. */
export function rmse(measured: ArrayLike<number>, predicted: ArrayLike<number>): number {
  const n = checkPair(measured, predicted);
  let s = 0;
  for (let i = 0; i < n; i++) s += (predicted[i] - measured[i]) ** 2;
  return Math.sqrt(s / n);
}

/** Mean absolute percentage error, in percent (1.5 means 1.5 %). Measured values must be non-zero. */
export function mape(measured: ArrayLike<number>, predicted: ArrayLike<number>): number {
  const n = checkPair(measured, predicted);
  let s = 0;
  for (let i = 0; i < n; i++) {
    if (measured[i] === 0) throw new RangeError(`measured[${i}] is 0: percentage error undefined`);
    s += Math.abs((predicted[i] - measured[i]) / measured[i]);
  }
  return (100 * s) / n;
}

/**
 * Kendall's tau-b: (concordant - discordant) / sqrt((n0 - ties_x) (n0 - ties_y)), n0 = n(n-1)/2.
 * O(n^2): fine for test splits (200-2000 values). 0 when either list is constant.
 */
export function kendallTau(x: ArrayLike<number>, y: ArrayLike<number>): number {
  const n = checkPair(x, y);
  let s = 0, tx = 0, ty = 0, pairs = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const dx = Math.sign(x[j] - x[i]), dy = Math.sign(y[j] - y[i]);
      pairs++;
      if (dx === 0) tx++;
      if (dy === 0) ty++;
      s += dx * dy;
    }
  }
  const den = Math.sqrt((pairs - tx) * (pairs - ty));
  return den === 0 ? 0 : s / den;
}

export interface Metrics {
  rmse_ms: number;
  /** percent */
  mape: number;
  kendall_tau: number;
  n: number;
}

export function metrics(measured: ArrayLike<number>, predicted: ArrayLike<number>): Metrics {
  return { rmse_ms: rmse(measured, predicted), mape: mape(measured, predicted), kendall_tau: kendallTau(measured, predicted), n: measured.length };
}

/** "RMSE 12.3 ms, MAPE 1.23 %, tau 0.912 (n 200)" */
export function formatMetrics(m: Metrics): string {
  return `RMSE ${m.rmse_ms.toFixed(m.rmse_ms < 10 ? 3 : 1)} ms, MAPE ${m.mape.toFixed(2)} %, tau ${m.kendall_tau.toFixed(3)} (n ${m.n})`;
}

/** Resamples of the bootstrap intervals below (seeded: the same rows give the same interval). */
export const BOOTSTRAP_RESAMPLES = 2000;

/**
 * A test split smaller than this says nothing about which of two predictors is better: the
 * comparison below never says "better" (or "worse") on fewer rows, whatever the interval says
 * (with 3 rows, a model better on each of the 3 is "better" in every resample).
 */
export const MIN_COMPARE_ROWS = 10;

/** RMSEs within 1 % of each other are a tie, whatever the interval. */
export const TIE = 0.01;

/** Row indices of `B` seeded bootstrap resamples of n rows (drawn with replacement). */
function resamples(n: number, seed: number, B: number, each: (idx: Uint32Array) => void): void {
  let s = (seed ^ 0x9e3779b9) >>> 0;
  const rng = () => {
    // mulberry32, inlined: this file imports nothing
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const idx = new Uint32Array(n);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < n; i++) idx[i] = Math.floor(rng() * n);
    each(idx);
  }
}

function percentile(sorted: Float64Array, q: number): number {
  const pos = q * (sorted.length - 1), lo = Math.floor(pos), hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/**
 * A 95 % percentile-bootstrap interval of the RMSE over the rows (resampled with replacement,
 * seeded): how much the RMSE of a test split of this size could move with other rows.
 */
export function rmseInterval(measured: ArrayLike<number>, predicted: ArrayLike<number>, seed = 1, B = BOOTSTRAP_RESAMPLES): [number, number] {
  const n = checkPair(measured, predicted);
  const sq = Float64Array.from({ length: n }, (_, i) => (predicted[i] - measured[i]) ** 2);
  const out = new Float64Array(B);
  let b = 0;
  resamples(n, seed, B, (idx) => {
    let s = 0;
    for (let i = 0; i < n; i++) s += sq[idx[i]];
    out[b++] = Math.sqrt(s / n);
  });
  out.sort();
  return [percentile(out, 0.025), percentile(out, 0.975)];
}

export type Verdict = "better" | "tie" | "worse";

export interface Comparison {
  /** RMSE of a / RMSE of b on all rows. */
  ratio: number;
  /** 95 % paired-bootstrap interval of the ratio (the same resampled rows for both). */
  ratio_ci: [number, number];
  n: number;
  /** better: a's RMSE more than TIE below b's and the whole interval below 1; worse: the mirror; else tie.
   *  Under MIN_COMPARE_ROWS rows: always tie. */
  verdict: Verdict;
}

/** Is predictor a better than predictor b on these rows, by RMSE, beyond what the rows' sampling explains? */
export function compareRmse(measured: ArrayLike<number>, a: ArrayLike<number>, b: ArrayLike<number>, seed = 1, B = BOOTSTRAP_RESAMPLES): Comparison {
  const n = checkPair(measured, a);
  checkPair(measured, b);
  const sa = Float64Array.from({ length: n }, (_, i) => (a[i] - measured[i]) ** 2);
  const sb = Float64Array.from({ length: n }, (_, i) => (b[i] - measured[i]) ** 2);
  const ratioOf = (idx?: Uint32Array) => {
    let x = 0, y = 0;
    for (let i = 0; i < n; i++) { const j = idx ? idx[i] : i; x += sa[j]; y += sb[j]; }
    return y === 0 ? (x === 0 ? 1 : Infinity) : Math.sqrt(x / y);
  };
  const ratio = ratioOf();
  const out = new Float64Array(B);
  let k = 0;
  resamples(n, seed, B, (idx) => { out[k++] = ratioOf(idx); });
  out.sort();
  const ci: [number, number] = [percentile(out, 0.025), percentile(out, 0.975)];
  let verdict: Verdict = "tie";
  if (n >= MIN_COMPARE_ROWS) {
    if (ratio < 1 - TIE && ci[1] < 1) verdict = "better";
    else if (ratio > 1 + TIE && ci[0] > 1) verdict = "worse";
  }
  return { ratio, ratio_ci: ci, n, verdict };
}
