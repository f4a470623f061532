/**
 * The baseline every latency predictor must beat (docs/method.md §5: plain linear regression
 * on the same features is already within 5-11 %): ordinary least squares with an intercept,
 * solved from the normal equations on standardised features with a tiny ridge (so constant
 * features, such as HAT's fixed encoder layer count, do not make the system singular).
 */

export interface LinearModel {
  /** Feature means and scales the weights apply to: y = b + sum_k w_k (x_k - mean_k) / scale_k. */
  mean: number[];
  scale: number[];
  w: number[];
  b: number;
}

/** Solve A x = y for symmetric positive definite A [n, n] (row-major) by Cholesky; A is overwritten. */
function choleskySolve(A: Float64Array, y: Float64Array, n: number): Float64Array {
  for (let j = 0; j < n; j++) {
    let d = A[j * n + j];
    for (let k = 0; k < j; k++) d -= A[j * n + k] ** 2;
    if (!(d > 0)) throw new RangeError("least squares: the normal equations are not positive definite");
    const ljj = Math.sqrt(d);
    A[j * n + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      let s = A[i * n + j];
      for (let k = 0; k < j; k++) s -= A[i * n + k] * A[j * n + k];
      A[i * n + j] = s / ljj;
    }
  }
  const z = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = y[i];
    for (let k = 0; k < i; k++) s -= A[i * n + k] * z[k];
    z[i] = s / A[i * n + i];
  }
  for (let i = n - 1; i >= 0; i--) {
    let s = z[i];
    for (let k = i + 1; k < n; k++) s -= A[k * n + i] * z[k];
    z[i] = s / A[i * n + i];
  }
  return z;
}

/**
 * Least squares fit of y on the rows of X (each a feature vector), optionally weighted.
 * `ridge` is relative to the number of rows (standardised features: 1e-8 changes nothing measurable).
 */
export function fitLinear(X: readonly (readonly number[])[], y: readonly number[], weights?: readonly number[], ridge = 1e-8): LinearModel {
  const n = X.length;
  if (n === 0 || n !== y.length) throw new RangeError(`fitLinear: ${n} rows and ${y.length} targets`);
  const d = X[0].length;
  const wt = (i: number) => (weights ? weights[i] : 1);
  let W = 0;
  for (let i = 0; i < n; i++) W += wt(i);
  if (!(W > 0)) throw new RangeError("fitLinear: no rows with positive weight");
  const mean = new Array<number>(d).fill(0), scale = new Array<number>(d).fill(0);
  for (let i = 0; i < n; i++) for (let k = 0; k < d; k++) mean[k] += (wt(i) * X[i][k]) / W;
  for (let i = 0; i < n; i++) for (let k = 0; k < d; k++) scale[k] += (wt(i) * (X[i][k] - mean[k]) ** 2) / W;
  // constant features: scale 1 (their variance is 0, or 1e-32 from rounding in the mean)
  for (let k = 0; k < d; k++) scale[k] = Math.sqrt(scale[k]) > 1e-9 * Math.max(1, Math.abs(mean[k])) ? Math.sqrt(scale[k]) : 1;
  let ym = 0;
  for (let i = 0; i < n; i++) ym += (wt(i) * y[i]) / W;
  const A = new Float64Array(d * d), r = new Float64Array(d), z = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    const w = wt(i);
    if (w === 0) continue;
    for (let k = 0; k < d; k++) z[k] = (X[i][k] - mean[k]) / scale[k];
    for (let a = 0; a < d; a++) {
      r[a] += w * z[a] * (y[i] - ym);
      for (let b = 0; b <= a; b++) A[a * d + b] += w * z[a] * z[b];
    }
  }
  for (let a = 0; a < d; a++) {
    for (let b = 0; b < a; b++) A[b * d + a] = A[a * d + b];
    A[a * d + a] += ridge * W + 1e-12;
  }
  const sol = choleskySolve(A, r, d);
  return { mean, scale, w: Array.from(sol), b: ym };
}

export function predictLinear(m: LinearModel, x: readonly number[]): number {
  let s = m.b;
  for (let k = 0; k < m.w.length; k++) s += (m.w[k] * (x[k] - m.mean[k])) / m.scale[k];
  return s;
}

/**
 * The numerical rank of the centred feature matrix X (rows: feature vectors): how many
 * coefficients least squares can actually determine from such rows (constant features and
 * features that are combinations of others, e.g. `6 x embed` where every arch has 6 encoder
 * layers, add none). Pivoted Cholesky of the correlation matrix; a pivot under `tol` of the
 * largest diagonal entry ends it.
 */
export function featureRank(X: readonly (readonly number[])[], tol = 1e-8): number {
  const n = X.length;
  if (n < 2) return 0;
  const d = X[0].length;
  const mean = new Array<number>(d).fill(0), sd = new Array<number>(d).fill(0);
  for (const x of X) for (let k = 0; k < d; k++) mean[k] += x[k] / n;
  for (const x of X) for (let k = 0; k < d; k++) sd[k] += (x[k] - mean[k]) ** 2;
  const cols = [...Array(d).keys()].filter((k) => Math.sqrt(sd[k] / n) > 1e-9 * Math.max(1, Math.abs(mean[k])));
  const m = cols.length;
  const A = new Float64Array(m * m);
  for (const x of X) {
    for (let a = 0; a < m; a++) {
      const za = (x[cols[a]] - mean[cols[a]]) / Math.sqrt(sd[cols[a]]);
      for (let b = 0; b <= a; b++) A[a * m + b] += za * ((x[cols[b]] - mean[cols[b]]) / Math.sqrt(sd[cols[b]]));
    }
  }
  for (let a = 0; a < m; a++) for (let b = 0; b < a; b++) A[b * m + a] = A[a * m + b];
  // pivoted Cholesky: the rank is the number of pivots above tol
  const diag = Float64Array.from({ length: m }, (_, i) => A[i * m + i]);
  const L = new Float64Array(m * m), used = new Uint8Array(m);
  let rank = 0;
  for (; rank < m; rank++) {
    let p = -1;
    for (let i = 0; i < m; i++) if (!used[i] && (p < 0 || diag[i] > diag[p])) p = i;
    if (p < 0 || diag[p] <= tol) break; // the correlation matrix: diagonal 1, so tol is relative
    used[p] = 1;
    const lpp = Math.sqrt(diag[p]);
    for (let i = 0; i < m; i++) {
      if (used[i]) continue;
      let s = A[i * m + p];
      for (let k = 0; k < rank; k++) s -= L[i * m + k] * L[p * m + k];
      L[i * m + rank] = s / lpp;
      diag[i] -= L[i * m + rank] ** 2;
    }
    L[p * m + rank] = lpp; // row p's earlier entries were set while it was not yet a pivot
  }
  return rank;
}
