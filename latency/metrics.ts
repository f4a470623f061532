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
